"""explore/checks/tables.py: the tables and headlines the Checks page shows, built from results."""

from __future__ import annotations

import pandas as pd

from explore.checks import tables
from explore.checks.compare import STATUS_FAIL, STATUS_PASS, STATUS_UNDERPOWERED, ComparisonResult, Thresholds
from explore.checks.model_spec import SpecCheck, SpecResult
from explore.checks.reproducibility import PairComparison, ReproResult


def comparison(cells: pd.DataFrame, differing: pd.DataFrame) -> ComparisonResult:
    return ComparisonResult(
        candidate="current",
        models={"previous": "previous"},
        datasets=["validation", "production"],
        slices=[],
        metrics=["accuracy"],
        confidence=0.95,
        thresholds=Thresholds(),
        cells=cells,
        gaps=pd.DataFrame({"status": []}),
        differing=differing,
        n_differing={},
        n_rows={},
    )


def test_comparison_cells_keep_one_dataset_and_the_chosen_statuses_in_table_order():
    cells = pd.DataFrame(
        {
            **{c: ["x"] * 4 for c in tables.COMPARISON_COLUMNS},
            "dataset": ["validation", "validation", "validation", "production"],
            "status": [STATUS_FAIL, STATUS_PASS, STATUS_UNDERPOWERED, STATUS_FAIL],
            "extra": [1, 2, 3, 4],
        }
    )
    res = comparison(cells, pd.DataFrame({"dataset": []}))
    shown = tables.comparison_cells(res, dataset="validation", statuses=(STATUS_FAIL, STATUS_UNDERPOWERED))
    assert list(shown.columns) == tables.COMPARISON_COLUMNS
    assert list(shown["status"]) == [STATUS_FAIL, STATUS_UNDERPOWERED]
    assert tables.comparison_cells(res, dataset="production", statuses=[]).empty


def test_differing_rows_are_one_datasets_first_rows():
    differing = pd.DataFrame({"dataset": ["validation"] * 300 + ["production"] * 5, "row": range(305)})
    res = comparison(pd.DataFrame({"dataset": [], "status": []}), differing)
    shown = tables.differing_rows(res, dataset="validation")
    assert len(shown) == tables.MAX_DIFFERING_ROWS and shown["row"].iloc[-1] == 199
    assert len(tables.differing_rows(res, dataset="production")) == 5


def spec(checks: list[SpecCheck], *, applicable: bool = True, reason: str = "") -> SpecResult:
    return SpecResult(
        model="current",
        estimator="Pipeline(GradientBoostingClassifier)",
        train="train",
        checks=checks,
        curve=pd.DataFrame({"stage": [], "loss": []}),
        curve_source="",
        applicable=applicable,
        reason=reason,
    )


def test_spec_headline_says_pass_fail_or_why_not_applicable():
    ok = spec([SpecCheck("fit runs", "pass", "fitted in 0.1 s")])
    assert (
        tables.spec_headline(ok) == "Pipeline(GradientBoostingClassifier): all checks pass or do not apply."
    )
    bad = spec([SpecCheck("fit runs", "pass", ""), SpecCheck("loss decreases", "fail", "it rises")])
    assert tables.spec_headline(bad) == "Pipeline(GradientBoostingClassifier): a check fails."
    na = spec([], applicable=False, reason="no stages to follow.")
    assert tables.spec_headline(na) == "Pipeline(GradientBoostingClassifier): no stages to follow."
    table = tables.spec_checks_table(bad)
    assert list(table.columns) == ["check", "status", "result"]
    assert table.to_dict(orient="records")[1] == {
        "check": "loss decreases",
        "status": "fail",
        "result": "it rises",
    }


def test_baseline_headline_for_each_outcome():
    assert set(tables.BASELINE_HEADLINES) == {True, False, None}


def test_repro_tables_have_one_row_per_pair_and_per_random_parameter():
    pair = PairComparison(
        name="as configured",
        first="fit 1",
        second="fit 2",
        identical=False,
        agreement=0.99,
        n_changed=3,
        max_abs_diff=0.2,
        metrics=pd.DataFrame(),
        max_slice_diff=0.05,
        max_slice="device = tablet",
        first_differing_step=None,
    )
    res = ReproResult(
        model="current",
        train="train",
        dataset="validation",
        train_rows=100,
        eval_rows=50,
        random={"model__random_state": None, "prep__seed": 3},
        unset=["model__random_state"],
        pairs=[pair],
        fit_seconds={},
    )
    pairs = tables.repro_pairs_table(res)
    assert pairs.to_dict(orient="records") == [
        {
            "pair": "as configured",
            "refits": "fit 1 / fit 2",
            "identical": False,
            "agreement": 0.99,
            "rows changed": 3,
            "largest difference": 0.2,
            "largest slice difference": 0.05,
            "where": "device = tablet",
            "first differing step": "",
        }
    ]
    random = tables.random_parameters_table(res)
    assert random.to_dict(orient="records") == [
        {"parameter": "model__random_state", "value": "None", "unset": True},
        {"parameter": "prep__seed", "value": "3", "unset": False},
    ]
