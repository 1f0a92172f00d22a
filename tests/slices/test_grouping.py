"""explore.slices.grouping: the groups of a column, as the Slices page shows them and the Checks compare them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.errors import AnalysisError
from explore.slices import grouping
from explore.slices.definition import CORRECT, LABEL, PREDICTION, TIME, SliceDefinition
from explore.slices.report import slice_report
from tests.slices.test_report import binary_scored
from tests.stats.test_metrics import make_scored

# ---- grouping ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column", ["age", "visits", "city", "member", "code", LABEL, PREDICTION, CORRECT, TIME]
)
def test_group_conditions_select_exactly_their_rows(column: str) -> None:
    sc = binary_scored()
    g = grouping.group_column(sc, column, bins=4, max_groups=10)
    assert g.n_groups >= 2
    assert (g.codes >= 0).all(), "every row belongs to a group (missing and other included)"
    for i, cond in enumerate(g.conditions):
        mask = SliceDefinition((cond,)).mask(sc)
        np.testing.assert_array_equal(mask, g.codes == i, err_msg=f"{column} group {g.labels[i]}")
        # A group's condition survives the JSON and URL round trip.
        back = SliceDefinition.from_query_param(SliceDefinition((cond,)).to_query_param())
        np.testing.assert_array_equal(back.mask(sc), mask)


def test_numeric_bins_are_quantiles_with_readable_edges_and_a_missing_group() -> None:
    sc = binary_scored()
    g = grouping.group_column(sc, "age", bins=4)
    assert g.labels[-1] == grouping.MISSING_LABEL
    counts = np.bincount(g.codes)[:-1]
    assert counts.min() > 0.2 * counts.sum()  # quantile bins: roughly equal
    assert all(len(lab) < 24 for lab in g.labels)
    assert g.labels[0].startswith("< ") and g.labels[-2].startswith("≥ ")


def test_bins_of_yyyymmdd_and_epoch_columns_have_distinct_readable_labels() -> None:
    # yyyymmdd integers and epoch milliseconds used to print every edge as '2.02e+07' / '1.7e+12'.
    sc = binary_scored()
    days = pd.Series(pd.date_range("2023-01-01", periods=sc.n, freq="h"))
    frame = sc.frame.assign(day=days.dt.strftime("%Y%m%d").astype(int), t_ms=days.astype("int64") // 10**6)
    sc2 = make_scored("binary", sc.y, sc.pred, proba=sc.proba, frame=frame, classes=["no", "yes"])
    for column in ("day", "t_ms"):
        g = grouping.group_column(sc2, column, bins=5)
        assert len(set(g.labels)) == len(g.labels), g.labels
        assert not any("e+" in lab for lab in g.labels), g.labels
    g = grouping.group_column(sc2, "day", bins=[20230101, 20230201, 20230301])
    assert g.labels == ["[20230101, 20230201)", "[20230201, 20230301]"]


def test_categories_beyond_max_groups_pool_into_other() -> None:
    sc = binary_scored()
    g = grouping.group_column(sc, "code", max_groups=8)
    assert grouping.OTHER in g.labels and len(g.labels) == 8


def test_bad_bins_and_unknown_columns_raise_clear_errors() -> None:
    sc = binary_scored(200)
    with pytest.raises(AnalysisError, match="from 2 to 50"):
        grouping.group_column(sc, "age", bins=1)
    with pytest.raises(AnalysisError, match="increasing"):
        grouping.group_column(sc, "age", bins=[3, 2, 1])
    with pytest.raises(AnalysisError, match="There is no column 'nope'"):
        slice_report(sc, by=["nope"])


# ---- a Series of values (what Checks used to bin its own way: quartiles, months, 20 groups) ------------


def test_values_give_distinct_labels_to_yyyymmdd_values_and_bins():
    # A few yyyymmdd days (grouped by value) and many (quantile bins) used to read '2.02e+07' each.
    g = grouping.group_values(pd.Series([20240101, 20240102, 20240103] * 10), "day")
    assert g.labels == ["20240101", "20240102", "20240103"]
    g = grouping.group_values(pd.Series(np.arange(20240101, 20240161)), "day")
    assert len(set(g.labels)) == len(g.labels) and not any("e+" in lab for lab in g.labels)


def test_values_handle_missing_strings_numbers_and_times():
    g = grouping.group_values(pd.Series(["b", "a", None, "b"]), "s")
    assert g.labels == ["a", "b", "(missing)"] and g.codes.tolist() == [1, 0, 2, 1]
    g = grouping.group_values(pd.Series(np.r_[np.arange(100.0), np.nan]), "x")
    assert (
        len(g.labels) == grouping.DEFAULT_BINS + 1
        and g.labels[-1] == "(missing)"
        and np.bincount(g.codes)[: grouping.DEFAULT_BINS].tolist() == [20] * grouping.DEFAULT_BINS
    )
    g = grouping.group_values(pd.Series(pd.date_range("2024-01-01", periods=90, freq="D")), "t")
    # Quantile bins of time (edges rounded to the day), roughly 90 / 5 days each.
    assert g.kind == "time" and len(g.labels) == grouping.DEFAULT_BINS
    assert np.bincount(g.codes).tolist() == [18, 18, 17, 18, 19]
    assert g.labels[0] == "before 2024-01-19" and g.labels[-1] == "from 2024-03-12"
    g = grouping.group_values(pd.Series([f"c{i % 40}" for i in range(400)]), "c")
    assert len(g.labels) == grouping.MAX_GROUPS and g.labels[-1] == "(other)"


def test_keys_name_a_group_for_reports_and_threshold_overrides():
    g = grouping.group_values(pd.Series(["tablet", "phone", "tablet"]), "device")
    assert g.keys == ["device = phone", "device = tablet"]
    rows = grouping.rows_grouping("all rows", np.array([True, False, True]))
    assert rows.keys == ["all rows"] and rows.codes.tolist() == [0, -1, 0] and rows.kind == "rows"


def test_the_label_and_prediction_pseudo_columns_are_named_for_every_task():
    """Found grouping a house-price regressor's slice by its label: the bins of prices were headed "true class"
    (and the model's output "predicted class"), on the page, in its CSV and in slice descriptions."""
    from explore.slices.definition import Condition
    from explore.slices.grouping import display_name

    assert display_name(LABEL) == "true label" and display_name(PREDICTION) == "prediction"
    assert Condition(LABEL, "range", lo=700, hi=900).describe() == "700 ≤ true label < 900"
    assert all("class" not in display_name(c) for c in (LABEL, PREDICTION))
