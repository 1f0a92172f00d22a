"""How many rows to explain and how long the page's analyses take: the default SHAP sample size for an
explainer's measured cost, and the model's scoring time behind the permutation check's estimate."""

from __future__ import annotations

import time
from typing import Any

from explore.core.workspace import Scored
from explore.importance.explain import DEFAULT_SAMPLE, EXACT, PERMUTATION, ExplainerPlan, TimeEstimate

AGNOSTIC_TARGET_SECONDS = 10.0  # the model-agnostic explainers default to about this much work
AGNOSTIC_MIN_ROWS = 50
PERMUTATION_REPEATS = 5  # explain.permutation_check's default n_repeats


def default_sample_size(plan: ExplainerPlan, estimate: TimeEstimate, population: int) -> int:
    """Rows to explain by default: the plan's default for fast explainers; for the model-agnostic ones (a few
    hundred model calls per row) about ``AGNOSTIC_TARGET_SECONDS`` of work, at least ``AGNOSTIC_MIN_ROWS``;
    never more than the ``population``."""
    n = plan.default_sample_size
    if estimate.explainer in (PERMUTATION, EXACT):
        n = DEFAULT_SAMPLE["agnostic"]
        if estimate.seconds_per_row > 0:
            affordable = (AGNOSTIC_TARGET_SECONDS - estimate.setup_seconds) / estimate.seconds_per_row
            n = int(min(max(affordable, AGNOSTIC_MIN_ROWS), n))
    return min(n, population)


def predict_seconds(scored: Scored, model: Any, n_rows: int) -> float:
    """Seconds ``model`` takes to score the first ``n_rows`` rows of ``scored`` (measured once, wall clock)."""
    rows = scored.X.iloc[: min(n_rows, scored.n)]
    predict = model.predict_proba if hasattr(model, "predict_proba") else model.predict
    t0 = time.perf_counter()
    predict(rows if hasattr(model, "feature_names_in_") else rows.to_numpy())
    return time.perf_counter() - t0


def permutation_seconds(
    predict_seconds: float, n_features: int, *, n_repeats: int = PERMUTATION_REPEATS
) -> float:
    """Estimated seconds of the permutation check: one baseline scoring plus ``n_repeats`` per feature."""
    return predict_seconds * (1 + n_repeats * n_features)
