"""explore/importance/budget.py: the default SHAP sample size for an explainer's measured cost, and the
permutation check's time estimate."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from explore.importance import budget, explain


def _estimate(explainer: str, setup: float, per_row: float) -> explain.TimeEstimate:
    return explain.TimeEstimate(
        explainer=explainer, setup_seconds=setup, seconds_per_row=per_row, probe_rows=2
    )


def test_default_sample_size_fast_explainers_take_the_plans_default_capped_by_the_population():
    plan = SimpleNamespace(default_sample_size=2000)
    assert budget.default_sample_size(plan, _estimate(explain.TREE, 0.1, 1e-4), 50_000) == 2000
    assert budget.default_sample_size(plan, _estimate(explain.TREE, 0.1, 1e-4), 383) == 383


def test_default_sample_size_model_agnostic_aims_at_ten_seconds_of_work():
    plan = SimpleNamespace(default_sample_size=2000)
    agnostic = explain.DEFAULT_SAMPLE["agnostic"]
    # 2 s of setup, 0.1 s per row: (10 - 2) / 0.1 = 80 rows
    assert budget.default_sample_size(plan, _estimate(explain.PERMUTATION, 2.0, 0.1), 10_000) == 80
    # very slow rows: never below 50; very fast (or unmeasured) rows: never above the agnostic default
    assert (
        budget.default_sample_size(plan, _estimate(explain.EXACT, 0.0, 5.0), 10_000)
        == budget.AGNOSTIC_MIN_ROWS
    )
    assert budget.default_sample_size(plan, _estimate(explain.PERMUTATION, 0.0, 1e-6), 10_000) == agnostic
    assert budget.default_sample_size(plan, _estimate(explain.PERMUTATION, 0.0, 0.0), 10_000) == agnostic
    assert budget.default_sample_size(plan, _estimate(explain.PERMUTATION, 0.0, 1e-6), 30) == 30


def test_predict_and_permutation_seconds(small_scored):
    sc, model = small_scored()
    assert 0 < budget.predict_seconds(sc, model, 10_000) < 5
    assert budget.permutation_seconds(0.5, 4) == pytest.approx(0.5 * (1 + 5 * 4))
    assert budget.permutation_seconds(0.5, 4, n_repeats=2) == pytest.approx(0.5 * 9)
