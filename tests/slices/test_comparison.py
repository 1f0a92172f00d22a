"""explore.slices.comparison: the slice's rows against the rest and all rows, and one metric's group table."""

from __future__ import annotations

import numpy as np
import pytest

from explore.errors import AnalysisError
from explore.slices import comparison
from explore.slices import report as slice_report
from explore.slices.definition import LABEL, Condition, SliceDefinition
from tests.slices.test_report import binary_scored


def test_slice_rows_count_the_slice_and_drop_its_name_for_analyses() -> None:
    sc = binary_scored()
    sd = SliceDefinition((Condition("city", "in", values=("Paris",)),), "paris")
    rows = comparison.slice_rows(sc, sd)
    expected = (sc.frame["city"] == "Paris").to_numpy()
    np.testing.assert_array_equal(rows.mask, expected)
    assert rows.n_rows == int(expected.sum()) and rows.n_total == sc.n
    assert rows.definition is sd
    assert rows.conditions_only == SliceDefinition(sd.conditions)


def test_slice_rows_of_a_condition_that_cannot_apply_raise_an_analysis_error() -> None:
    with pytest.raises(AnalysisError):
        comparison.slice_rows(binary_scored(), SliceDefinition((Condition("nope", "in", values=(1,)),)))


def test_comparison_sets_are_slice_rest_and_all_rows_in_that_order() -> None:
    mask = np.array([True, False, True])
    sets = comparison.comparison_sets(mask)
    assert list(sets) == ["slice", "rest", "all rows"]
    np.testing.assert_array_equal(sets["rest"], ~mask)
    assert sets["all rows"].all() and sets["all rows"].dtype == bool


def test_comparison_sets_can_leave_out_the_empty_rest() -> None:
    everything = np.ones(4, dtype=bool)
    assert list(comparison.comparison_sets(everything)) == ["slice", "rest", "all rows"]
    assert list(comparison.comparison_sets(everything, non_empty=True)) == ["slice", "all rows"]


def test_positives_and_the_single_true_class_of_a_slice() -> None:
    sc = binary_scored()
    mask = sc.frame["city"].eq("Lyon").to_numpy()
    assert comparison.positives_in(sc, mask) == int((sc.y[mask] == 1).sum())
    assert comparison.single_true_class(sc, mask) is None
    only_yes = SliceDefinition((Condition(LABEL, "in", values=("yes",)),)).mask(sc)
    assert comparison.single_true_class(sc, only_yes) == "yes"


@pytest.mark.parametrize(("sort", "ascending"), [("gap", True), ("value", True), ("support", False)])
def test_metric_by_group_keeps_one_metric_sorted(sort: str, ascending: bool) -> None:
    rep = slice_report.slice_report(binary_scored(), by=["city"])
    rows = comparison.metric_by_group(rep.by_group, "accuracy", sort)
    assert set(rows["metric"]) == {"accuracy"}
    assert len(rows) == (rep.by_group["metric"] == "accuracy").sum()
    values = rows[sort].dropna().to_numpy()
    assert (np.diff(values) >= 0).all() if ascending else (np.diff(values) <= 0).all()


def test_group_names_join_the_labels_of_each_group() -> None:
    rep = slice_report.slice_report(binary_scored(), by=["city", "member"])
    rows = comparison.metric_by_group(rep.by_group, "accuracy", "gap")
    names = comparison.group_names(rows, ["city", "member"])
    assert set(names) == {int(g) for g in rows["group"]}
    first = rows.iloc[0]
    assert names[int(first["group"])] == f"{first['city']} · {first['member']}"
