"""One result protocol for every check: ``passed`` (bool | None), ``summary() -> str`` and ``to_dict() -> dict``
made of JSON types (by the one serialiser), on a small result of each type."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import numpy as np
import pandas as pd
import pytest

import explore.checks
from explore.checks import (
    baseline,
    compare,
    compatibility,
    expectations,
    model_spec,
    registry,
    reproducibility,
    serving_skew,
    stability,
)
from explore.core.serialise import jsonable


def _frame(columns: list[str], *rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns)


def _comparison() -> compare.ComparisonResult:
    cell = dict.fromkeys(compare.CELL_COLUMNS, np.nan) | {
        "dataset": "validation",
        "slice": compare.ALL_ROWS,
        "slice_column": "",
        "n": 120,
        "metric": "accuracy",
        "role": "previous",
        "other_model": "previous",
        "test": "McNemar",
        "threshold": "0.01",
        "status": compare.STATUS_PASS,
        "note": "",
    }
    return compare.ComparisonResult(
        candidate="current",
        models={"previous": "previous"},
        datasets=["validation"],
        slices=[],
        metrics=["accuracy"],
        confidence=0.95,
        thresholds=compare.default_thresholds("binary"),
        cells=pd.DataFrame([cell], columns=compare.CELL_COLUMNS),
        gaps=pd.DataFrame(columns=compare.GAP_COLUMNS),
        differing=pd.DataFrame(columns=compare.DIFF_COLUMNS),
        n_differing={("validation", "previous"): 0},
        n_rows={"validation": 120},
    )


def _baseline() -> baseline.BaselineResult:
    verdicts = _frame(
        ["dataset", "baseline", "metric", "verdict", "text"],
        (
            "validation",
            "logistic",
            "accuracy",
            baseline.VERDICT_BETTER,
            "The model beats the logistic baseline.",
        ),
    )
    return baseline.BaselineResult(
        candidate="current",
        train="train",
        train_rows=500,
        datasets=["validation"],
        baselines={"logistic": "LogisticRegression"},
        headline="accuracy",
        cells=pd.DataFrame(columns=compare.CELL_COLUMNS),
        verdicts=verdicts,
        fit_seconds={"logistic": 0.1},
        confidence=0.95,
    )


def _repro() -> reproducibility.ReproResult:
    pair = reproducibility.PairComparison(
        name="as configured",
        first="fit 1",
        second="fit 2",
        identical=True,
        agreement=1.0,
        n_changed=0,
        max_abs_diff=0.0,
        metrics=_frame(["metric", "first", "second", "difference"], ("accuracy", 0.8, 0.8, 0.0)),
        max_slice_diff=0.0,
        max_slice="all rows",
        first_differing_step=None,
    )
    return reproducibility.ReproResult(
        model="current",
        train="train",
        dataset="validation",
        train_rows=500,
        eval_rows=120,
        random={"forest__random_state": 0},
        unset=[],
        pairs=[pair],
        fit_seconds={"fit 1": 0.1},
    )


def _spec() -> model_spec.SpecResult:
    check = model_spec.SpecCheck("fit runs", model_spec.STATUS_PASS, "The model fits 50 rows.")
    return model_spec.SpecResult(
        model="current",
        estimator="Pipeline",
        train="train",
        checks=[check],
        curve=_frame(["stage", "loss"], (1, 0.7), (2, 0.5)),
        curve_source="staged_predict_proba",
    )


def _validation() -> expectations.ValidationResult:
    table = _frame(
        expectations.RESULT_COLUMNS,
        ("age", "range", "[0, 120]", "[3, 99]", 0, 0.0, 1.0, expectations.STATUS_PASS),
        ("city", "allowed", "Lyon, Paris", "Nice", 4, 0.04, 1e-6, expectations.STATUS_FAIL),
    )
    examples = _frame(expectations.EXAMPLE_COLUMNS, ("city", "allowed", 7, 107, "Nice"))
    return expectations.ValidationResult("validation", 100, table, examples, suite_source="expectations.toml")


def _skew() -> serving_skew.SkewResult:
    table = _frame(serving_skew.SKEW_COLUMNS, ("age", 90, 0, 0.0, 0.0, 0.0, 0, 0, "pass"))
    return serving_skew.SkewResult(
        training="train",
        serving="production",
        id_column="id",
        n_joined=90,
        n_only_training=10,
        n_only_serving=0,
        table=table,
        examples=pd.DataFrame(columns=serving_skew.EXAMPLE_COLUMNS),
        max_rate=0.01,
    )


def _shadow() -> serving_skew.ShadowResult:
    return serving_skew.ShadowResult(
        dataset="production",
        model="current",
        logged_column="served_score",
        kind="score",
        n_compared=90,
        n_missing_logged=0,
        mismatches=2,
        max_abs_diff=0.2,
        mean_abs_diff=0.004,
        atol=1e-6,
        max_rate=0.0,
        examples=_frame(serving_skew.SHADOW_EXAMPLE_COLUMNS, (3, 103, 0.4, 0.6, 0.2)),
    )


def _compat() -> compatibility.CompatResult:
    return compatibility.CompatResult(
        model="current",
        path="model.skops",
        kind="skops",
        versions=_frame(compatibility.VERSION_COLUMNS, ("scikit-learn", "1.5.0", "1.5.0", "same")),
        types=_frame(compatibility.TYPE_COLUMNS, ("sklearn.pipeline", "Pipeline", "importable")),
    )


def _key_examples() -> compatibility.KeyExamplesResult:
    table = _frame(compatibility.KEY_COLUMNS, (1, "typical", "yes", "yes", 0.0, "reproduced"))
    return compatibility.KeyExamplesResult(
        model="current",
        source="key_examples.json",
        made_with="scikit-learn 1.5.0",
        n=1,
        table=table,
        tolerance=1e-6,
    )


def _stability_result() -> stability.StabilityResult:
    return stability.StabilityResult(
        model="current",
        inputs=_frame(stability.INPUT_COLUMNS, ("validation", "age", 100, 3, 0, 0.03)),
        outputs=_frame(stability.OUTPUT_COLUMNS, ("validation", 100, 0, 0, 0, 0, "pass")),
        probes=_frame(stability.PROBE_COLUMNS, ("all missing", "finite", "")),
    )


def _cost() -> stability.CostResult:
    table = _frame(
        stability.COST_COLUMNS,
        ("current", 1, 0.001, 1.0, 1000.0, 2.0, 20),
        ("previous", 1, 0.001, 1.0, 1000.0, 2.0, 20),
    )
    ratios = pd.DataFrame(
        {"other": ["previous"], "batch_size": [1], "latency_ratio": [1.1], "memory_ratio": [1.0]}
    )
    return stability.CostResult(
        candidate="current", dataset="validation", table=table, ratios=ratios, max_ratio=2.0
    )


def _banned() -> stability.BannedResult:
    return stability.BannedResult(
        banned=["gender"],
        checked={"current": ["age", "city"]},
        found=pd.DataFrame(columns=stability.BANNED_COLUMNS),
    )


def _overlap():
    from explore.checks import overlap

    table = pd.DataFrame(
        {"dataset": ["validation"], "rows": [200], "duplicates": [50], "share": [0.25], "passed": [False]}
    )
    return overlap.OverlapResult("train", 400, ["age", "city"], 0.05, table, {"production": "engine"})


def _outcome() -> registry.Outcome:
    return registry.Outcome(True, "All finite.", {"n": np.int64(3)}, {"dataset": "validation"})


def _check_result() -> registry.CheckResult:
    return registry.CheckResult(
        "stability", ("monitor-5",), "stability", "Numerical stability", "passed", "All finite.", {"n": 3}
    )


RESULTS = {
    "ComparisonResult": _comparison,
    "BaselineResult": _baseline,
    "ReproResult": _repro,
    "SpecResult": _spec,
    "ValidationResult": _validation,
    "SkewResult": _skew,
    "ShadowResult": _shadow,
    "CompatResult": _compat,
    "KeyExamplesResult": _key_examples,
    "StabilityResult": _stability_result,
    "CostResult": _cost,
    "BannedResult": _banned,
    "OverlapResult": _overlap,
    "Outcome": _outcome,
    "CheckResult": _check_result,
}


def test_every_result_class_of_the_checks_is_covered():
    found = set()
    for info in pkgutil.iter_modules(explore.checks.__path__):
        module = importlib.import_module(f"explore.checks.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and (name.endswith("Result") or name == "Outcome"):
                found.add(name)
    assert found == set(RESULTS)


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_results_share_one_protocol(name):
    result = RESULTS[name]()
    assert type(result).__name__ == name
    assert result.passed is None or isinstance(result.passed, bool)
    summary = result.summary()
    assert isinstance(summary, str) and summary.strip()
    data = result.to_dict()
    assert isinstance(data, dict)
    assert jsonable(data, strict=True) == data  # plain JSON types already
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data.get("passed", result.passed) == result.passed
