"""Which metrics and model outputs the staleness analyses use, and what they start from."""

from __future__ import annotations

import math

import numpy as np

from explore.core.workspace import Scored
from explore.errors import ExploreError
from explore.stats import metrics

# The metrics shown first for each task (the first one also judges the experiment and drift tracking).
MAIN_METRICS: dict[str, list[str]] = {
    "binary": ["ROC AUC", "accuracy"],
    "multiclass": ["accuracy", "F1"],
    "regression": ["MAE", "R²"],
}


def performance_metrics(scored: Scored) -> list[str]:
    """Metrics that can be charted over time: those the model's outputs allow, with a better direction
    (or per class)."""
    return [
        m
        for m in metrics.available_metrics(scored)
        if metrics.metric_direction(m) is not None or "[class=" in m
    ]


def default_metrics(task: str, options: list[str]) -> list[str]:
    """The main metrics of ``task`` among ``options``, else the first option (none when there are none)."""
    return [m for m in MAIN_METRICS[task] if m in options] or options[:1]


def default_metric_index(task: str, options: list[str]) -> int:
    """Position in ``options`` of the task's main metric (0 when it is not offered)."""
    main = MAIN_METRICS[task][0]
    return options.index(main) if main in options else 0


def current_value(scored: Scored, metric: str) -> float:
    """The model's value of ``metric`` on every row of ``scored`` (NaN when it cannot be computed there: the
    caller then falls back to a fixed default threshold)."""
    try:
        return float(metrics.overall_metrics(scored, metrics=[metric])["value"].iloc[0])
    except ExploreError:
        return math.nan


def model_outputs(scored: Scored) -> list[np.ndarray]:
    """The model outputs checked for NaN/inf: regression predictions, probabilities and scores (those present)."""
    candidates = (scored.pred if scored.task == "regression" else None, scored.proba, scored.score)
    return [a for a in candidates if a is not None]
