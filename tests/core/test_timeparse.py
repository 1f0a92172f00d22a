"""Time columns of every shape parse to the same instants."""

from __future__ import annotations

import pandas as pd
import pytest

from explore.core.timeparse import parse_time
from explore.errors import TimeColumnError

JAN31 = pd.Timestamp("2024-01-31")


@pytest.mark.parametrize(
    "values, expected",
    [
        (["2024-01-31", None], [JAN31, pd.NaT]),
        (["2024-01-31T00:00:00Z"], [JAN31]),
        (["2024-01-31 02:00+02:00"], [JAN31]),
        ([1706659200], [JAN31]),  # epoch seconds
        ([1706659200000], [JAN31]),  # epoch milliseconds
        ([1706659200000000], [JAN31]),  # epoch microseconds
        ([20240131], [JAN31]),  # yyyymmdd
        (["20240131"], [JAN31]),
        (["1706659200"], [JAN31]),
        (["Jan 31 2024"], [JAN31]),
        ([2024], [pd.Timestamp("2024-01-01")]),
    ],
)
def test_shapes(values, expected):
    out = parse_time(pd.Series(values), column="t", dataset="d")
    assert list(out) == expected or all(
        (a == b) or (pd.isna(a) and pd.isna(b)) for a, b in zip(out, expected, strict=True)
    )


def test_datetime_and_tz_aware():
    naive = pd.Series(pd.date_range("2024-01-31", periods=2, freq="D"))
    assert parse_time(naive, column="t", dataset="d").iloc[0] == JAN31
    aware = pd.Series(pd.date_range("2024-01-31 01:00", periods=2, freq="D", tz="Europe/Paris"))
    assert parse_time(aware, column="t", dataset="d").iloc[0] == JAN31


def test_mixed_formats():
    out = parse_time(pd.Series(["2024-01-31", "2024/02/01 10:00", "Feb 3 2024"]), column="t", dataset="d")
    assert out.notna().all()


def test_unparseable_names_examples():
    with pytest.raises(TimeColumnError, match=r"2 of 3 values failed \(e\.g\. 'soon', 'later'\)"):
        parse_time(pd.Series(["2024-01-01", "soon", "later"]), column="t", dataset="d")


def test_unparseable_examples_are_distinct_values():
    # A DuckDB table's VARCHAR time column with 'yesterday' on every 7th row: the examples read
    # "'yesterday', 'yesterday', 'yesterday'".
    values = pd.Series(["2024-01-01"] * 4 + ["yesterday"] * 3 + ["n/a"] * 3)
    with pytest.raises(TimeColumnError, match=r"6 of 10 values failed \(e\.g\. 'yesterday', 'n/a'\)"):
        parse_time(values, column="t", dataset="d")


def test_all_missing_is_unparseable():
    with pytest.raises(TimeColumnError):
        parse_time(pd.Series([None, None], dtype=object), column="t", dataset="d")


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y %H:%M"])
def test_day_first_dates_are_not_swapped_when_the_first_value_is_ambiguous(fmt):
    # Day-first data whose first value reads either way (02/01/2023): every date keeps its day and month.
    true = pd.Series(pd.date_range("2023-01-01", periods=60, freq="D"))
    out = parse_time(true.dt.strftime(fmt), column="t", dataset="d")
    assert (out == true).all()


def test_month_first_dates_stay_month_first():
    true = pd.Series(pd.date_range("2023-01-01", periods=60, freq="D"))
    out = parse_time(true.dt.strftime("%m/%d/%Y"), column="t", dataset="d")
    assert (out == true).all()


def test_empty_strings_in_a_time_column_are_missing():
    out = parse_time(pd.Series(["2024-01-31", "", "  ", None], dtype=object), column="t", dataset="d")
    assert out.iloc[0] == JAN31 and out.iloc[1:].isna().all()


def test_zoned_times_are_utc_as_docs_staleness_says():
    # docs/staleness.md: "a row stamped 2023-03-01 00:30+01:00 falls in February" (windows are UTC).
    from explore.core.timeparse import parse_time

    zoned = pd.Series(pd.to_datetime(["2023-03-01 00:30"]).tz_localize("Europe/Berlin"))
    text = pd.Series(["2023-03-01 00:30+01:00"])
    for values in (zoned, text):
        out = parse_time(values, column="t", dataset="d")
        assert out.iloc[0] == pd.Timestamp("2023-02-28 23:30") and out.dt.tz is None


@pytest.mark.parametrize("values", [[6.06, 50.2, 99.36], [0, 1, 2, 3], ["12", "7", "30"], [-5.0, 1e7]])
def test_numbers_that_are_no_epoch_year_or_yyyymmdd_are_refused_with_the_fix(values):
    """Found naming an amount column (6 to 99) as the time column: it was read as epoch seconds, every row in the
    first two minutes of 1970 and one window, without a word."""
    with pytest.raises(
        TimeColumnError, match=r"The time column 't' of dataset 'd' holds numbers from .* not times"
    ):
        parse_time(pd.Series(values), column="t", dataset="d")


def test_epoch_seconds_from_1973_on_are_still_times():
    out = parse_time(pd.Series([1e8, 1706659200]), column="t", dataset="d")
    assert out.iloc[0] == pd.Timestamp("1973-03-03 09:46:40") and out.iloc[1] == JAN31
