"""explore.slices.columns: what the slice builder and the datapoint editor offer for a column."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from explore.errors import AnalysisError
from explore.slices import columns
from explore.slices.definition import CORRECT, LABEL, TIME, SliceDefinition
from tests.slices.test_report import binary_scored
from tests.stats.test_metrics import binary_data, make_scored


def test_a_numeric_column_with_many_values_is_offered_as_a_range() -> None:
    sc = binary_scored()
    info = columns.column_info(sc, "age")
    age = sc.frame["age"]
    assert info.kind == "numeric"
    assert (info.min, info.max) == (float(age.min()), float(age.max()))
    assert isinstance(info.min, float)
    assert info.missing == int(age.isna().sum()) > 0
    assert info.values == () and not info.truncated


def test_a_numeric_column_with_few_values_is_offered_as_values_most_frequent_first() -> None:
    sc = binary_scored()
    info = columns.column_info(sc, "visits")
    expected = sc.frame["visits"].value_counts()
    assert info.kind == "categorical"
    assert list(info.values) == expected.index.tolist()
    assert list(info.counts) == expected.tolist()
    assert all(type(v) is int for v in info.values), "numpy integers are unwrapped"
    assert info.n_unique == len(expected) and not info.truncated


def test_categories_list_missing_values_as_none_with_their_count() -> None:
    sc = binary_scored()
    info = columns.column_info(sc, "city")
    assert None in info.values
    assert info.counts[info.values.index(None)] == int(sc.frame["city"].isna().sum())
    assert sum(info.counts) == sc.n
    assert info.n_unique == sc.frame["city"].nunique(dropna=False)


def test_booleans_are_two_categories_not_a_range() -> None:
    info = columns.column_info(binary_scored(), "member")
    assert info.kind == "categorical" and set(info.values) == {True, False}


def test_a_column_with_more_values_than_listed_says_so() -> None:
    n = columns.MAX_LISTED_VALUES + 20
    y, pred, proba = binary_data(n)
    frame = pd.DataFrame({"code": [f"c{i}" for i in range(n)]})
    sc = make_scored("binary", y, pred, proba=proba, frame=frame, classes=["no", "yes"])
    info = columns.column_info(sc, "code")
    assert len(info.values) == columns.MAX_LISTED_VALUES and info.n_unique == n and info.truncated


def test_a_time_column_is_offered_as_its_first_and_last_date() -> None:
    sc = binary_scored()
    info = columns.column_info(sc, TIME)
    assert info.kind == "time"
    assert (info.min, info.max) == (sc.time.min().date(), sc.time.max().date())


def test_a_time_column_without_a_parseable_value_has_no_dates() -> None:
    y, pred, proba = binary_data(10)
    frame = pd.DataFrame({"when": pd.Series([pd.NaT] * 10, dtype="datetime64[ns]")})
    sc = make_scored("binary", y, pred, proba=proba, frame=frame, classes=["no", "yes"])
    info = columns.column_info(sc, "when")
    assert info.kind == "time" and info.min is None and info.max is None


@pytest.mark.parametrize("column", [LABEL, CORRECT])
def test_pseudo_columns_are_offered_by_their_values(column: str) -> None:
    sc = binary_scored()
    info = columns.column_info(sc, column)
    assert info.kind == "categorical" and sum(info.counts) == sc.n


def test_an_unknown_column_raises_an_analysis_error() -> None:
    with pytest.raises(AnalysisError, match="no column 'nope'"):
        columns.column_info(binary_scored(), "nope")


def test_frequent_values_keep_missing_unless_dropped() -> None:
    s = pd.Series(["a", "b", None, "a", None, None, "c"])
    assert columns.frequent_values(s, limit=2) == [None, "a"]
    assert columns.frequent_values(s, limit=10, dropna=True)[:1] == ["a"]
    assert None not in columns.frequent_values(s, limit=10, dropna=True)


def test_cell_values_are_python_scalars_of_the_columns_type() -> None:
    frame = pd.DataFrame(
        {
            "n": np.array([3, 4], dtype="int64"),
            "x": [1.5, np.nan],
            "flag": np.array([True, False]),
            "when": pd.to_datetime(["2024-01-02", None]),
            "s": pd.array(["a", pd.NA], dtype="string"),
        }
    )
    assert columns.cell_value(frame["n"], 0) == 3 and type(columns.cell_value(frame["n"], 0)) is int
    assert columns.cell_value(frame["x"], 1) is None
    assert columns.cell_value(frame["flag"], 0) is True
    assert columns.cell_value(frame["when"], 0) == pd.Timestamp("2024-01-02"), "timestamps stay timestamps"
    assert columns.cell_value(frame["when"], 1) is None
    assert columns.cell_value(frame["s"], 0) == "a" and columns.cell_value(frame["s"], 1) is None


def test_a_picked_value_matches_the_cell_it_came_from() -> None:
    """The datapoint editor finds the row's own value among the offered ones (timestamps included)."""
    when = pd.Series(pd.to_datetime(["2024-01-02", "2024-01-02", "2024-03-04"]))
    options = columns.frequent_values(when, limit=100)
    assert columns.cell_value(when, 2) in options


def test_is_numeric_column_leaves_out_booleans_and_text() -> None:
    assert columns.is_numeric_column(pd.Series([1.0, 2.0]))
    assert columns.is_numeric_column(pd.Series([1, 2]))
    assert not columns.is_numeric_column(pd.Series([True, False]))
    assert not columns.is_numeric_column(pd.Series(["a", "b"]))


def test_typical_shift_and_value_ignore_missing_and_text() -> None:
    s = pd.Series([1.0, 3.0, np.nan, 5.0])
    assert columns.typical_shift(s) == pytest.approx(np.std([1.0, 3.0, 5.0]))
    assert columns.typical_value(s) == 3.0
    assert columns.typical_shift(pd.Series([2.0, 2.0])) == 1.0, "a constant column shifts by 1"
    assert columns.typical_value(pd.Series(["1", "x", "3"])) == 2.0


def test_dates_condition_includes_the_whole_last_day() -> None:
    sc = binary_scored()
    cond = columns.dates_condition(TIME, dt.date(2024, 1, 2), dt.date(2024, 1, 3))
    assert (cond.lo, cond.hi) == ("2024-01-02T00:00:00", "2024-01-04T00:00:00")
    mask = SliceDefinition((cond,)).mask(sc)
    days = sc.time.dt.date
    np.testing.assert_array_equal(
        mask, ((days >= dt.date(2024, 1, 2)) & (days <= dt.date(2024, 1, 3))).to_numpy()
    )
