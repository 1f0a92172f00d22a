"""Which metrics and outputs the staleness analyses use (explore/staleness/choices.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explore.core.workspace import open_workspace, read_workspace, score
from explore.staleness.choices import (
    MAIN_METRICS,
    current_value,
    default_metric_index,
    default_metrics,
    model_outputs,
    performance_metrics,
)
from explore.stats import metrics
from tests.helpers import frame, make_workspace


def _scored(tmp_path, task: str = "binary", **kw):
    df = frame(400, task=task, seed=3)
    path = make_workspace(
        tmp_path, task=task, datasets={"train": df.iloc[:200], "production": df.iloc[200:]}, **kw
    )
    ws = open_workspace(read_workspace(path))
    return score(ws, "production", ws.model_names[0] if ws.models else None)


def test_performance_metrics_have_a_direction_or_are_per_class(tmp_path):
    sc = _scored(tmp_path)
    options = performance_metrics(sc)
    assert "ROC AUC" in options and "accuracy" in options
    assert "base rate" not in options and "positive rate" not in options  # rates: neither better nor worse
    assert all(metrics.metric_direction(m) is not None or "[class=" in m for m in options)
    assert default_metrics("binary", options) == ["ROC AUC", "accuracy"]


def test_default_metrics_fall_back_to_the_first_option():
    assert default_metrics("binary", ["accuracy", "F1"]) == ["accuracy"]
    assert default_metrics("binary", ["F1", "recall"]) == ["F1"]
    assert default_metrics("regression", []) == []
    assert default_metrics("multiclass", ["F1", "accuracy"]) == ["accuracy", "F1"]


@pytest.mark.parametrize("task", list(MAIN_METRICS))
def test_default_metric_index_points_at_the_main_metric(task):
    options = ["x", MAIN_METRICS[task][0], "y"]
    assert default_metric_index(task, options) == 1
    assert default_metric_index(task, ["x", "y"]) == 0


def test_current_value_is_the_overall_metric_or_nan(tmp_path):
    sc = _scored(tmp_path)
    expected = metrics.overall_metrics(sc, metrics=["accuracy"])["value"].iloc[0]
    assert current_value(sc, "accuracy") == pytest.approx(expected)
    assert math.isnan(current_value(sc, "no such metric"))


def test_current_value_is_nan_when_the_outputs_do_not_allow_the_metric(tmp_path):
    df = frame(400, seed=3)
    df["pred"] = np.where(df["age"] > 45, ">50K", "<=50K")
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"train": df.iloc[:200], "production": df.iloc[200:]},
        columns={"label": "income", "time": "when", "prediction": "pred", "positive": ">50K"},
    )
    sc = score(open_workspace(read_workspace(path)), "production", None)
    assert "ROC AUC" not in performance_metrics(sc)
    assert math.isnan(current_value(sc, "ROC AUC"))
    assert model_outputs(sc) == []  # hard labels only: nothing to check for NaN/inf


def test_model_outputs_are_probabilities_or_regression_predictions(tmp_path):
    sc = _scored(tmp_path / "binary")
    outputs = model_outputs(sc)
    assert any(o is sc.proba for o in outputs) and not any(o is sc.pred for o in outputs)
    reg = _scored(tmp_path / "regression", task="regression")
    assert any(o is reg.pred for o in model_outputs(reg))
