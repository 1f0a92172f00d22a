"""The staleness experiment's run lifecycle on a page (explore/staleness/runs.py): plan, saved result,
retarget, run, cancel."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from explore.core.store import Store
from explore.staleness.experiment import (
    NO_MODEL,
    TOO_FEW_CUTOFFS,
    ExperimentCancelled,
    StalenessParams,
    save_experiment,
)
from explore.staleness.runs import (
    ExperimentPlan,
    RunStep,
    next_step,
    plan_experiment,
    refit_problem,
    run_and_save,
)

PARAMS = StalenessParams(
    cutoffs=(2, 3, 4), train_windows=2, metric="ROC AUC", horizon=2, max_fit_rows=300, max_eval_rows=100
)
CONTEXT = {"datasets": ["production"], "by": "month", "n_windows": 12, "min_rows": 20, "model": "current"}


class Unclonable(ClassifierMixin, BaseEstimator):
    def __init__(self, path: str = "x") -> None:
        self._path = path  # not kept under its parameter's name: clone() fails


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'store.db'}")


def _plan(store, monthly, params=PARAMS, *, model_fingerprint="m1", data=("d1",)) -> ExperimentPlan:
    return plan_experiment(
        store,
        monthly.ws,
        params,
        monthly.windows,
        model_fingerprint=model_fingerprint,
        data_fingerprints=list(data),
        datasets=["production"],
        context=CONTEXT,
    )


def _run(plan, store, monthly, **kw):
    return run_and_save(
        plan,
        store,
        monthly.ws,
        monthly.ws.model(),
        monthly.timeline.frame,
        monthly.windows,
        codes=monthly.windows.codes,
        **kw,
    )


def test_refit_problem_says_why_the_model_cannot_be_refitted(monthly):
    assert refit_problem(monthly.ws.model(), name="current") == ""
    assert refit_problem(None, name="current") == NO_MODEL
    assert "cannot be cloned for refitting" in refit_problem(Unclonable(), name="in-house")


def test_parameters_that_cannot_run_are_a_problem_said_up_front(store, monthly):
    plan = _plan(store, monthly, replace(PARAMS, cutoffs=(2, 3)))
    assert plan.problem == TOO_FEW_CUTOFFS.format(need=3, n=2)
    assert plan.saved is None
    assert next_step(plan, run_clicked=False, cancel_requested=False) is RunStep.IDLE


def test_a_run_is_saved_and_the_next_page_run_reads_it_judged_by_the_new_threshold(store, monthly):
    plan = _plan(store, monthly)
    assert plan.problem == "" and plan.saved is None and plan.workspace == str(monthly.ws.config.path)
    assert next_step(plan, run_clicked=True, cancel_requested=False) is RunStep.RUN
    seen = []
    result = _run(plan, store, monthly, progress=lambda f, msg: seen.append(f))
    assert seen and all(0 <= f <= 1 for f in seen)
    assert result.params == PARAMS

    again = _plan(store, monthly, replace(PARAMS, threshold=0.5, criterion="gap"))
    assert again.key == plan.key  # same fits
    assert again.saved is not None and again.saved.params.threshold == 0.5
    assert again.saved.estimate.n_stale == 0  # nothing loses 0.5 of ROC AUC
    assert again.saved_row is not None and again.saved_row["params"]["datasets"] == ["production"]
    assert next_step(again, run_clicked=False, cancel_requested=False) is RunStep.SAVED
    assert next_step(again, run_clicked=True, cancel_requested=False) is RunStep.RUN


def test_saved_fits_without_the_chosen_metric_offer_a_new_run(store, monthly):
    plan = _plan(store, monthly)
    result = _run(plan, store, monthly)
    assert (
        _plan(store, monthly, replace(PARAMS, metric="accuracy")).saved is not None
    )  # measured with the fits
    # a result saved by a run that measured ROC AUC only (as an older version did)
    only_auc = replace(result, all_curves=result.all_curves[result.all_curves["metric"] == "ROC AUC"])
    save_experiment(store, only_auc, workspace=plan.workspace, key=plan.key, context=CONTEXT)
    assert _plan(store, monthly).saved is not None
    again = _plan(store, monthly, replace(PARAMS, metric="accuracy"))
    assert again.key == plan.key and again.problem == ""
    assert again.saved is None and again.saved_row is None
    assert next_step(again, run_clicked=False, cancel_requested=False) is RunStep.IDLE


def test_another_model_or_data_file_is_another_experiment(store, monthly):
    _run(_plan(store, monthly), store, monthly)
    assert _plan(store, monthly).saved is not None
    assert _plan(store, monthly, model_fingerprint="m2").saved is None
    assert _plan(store, monthly, data=("d2",)).saved is None


def test_a_cancelled_run_saves_nothing_and_is_said_once(store, monthly):
    plan = _plan(store, monthly)
    with pytest.raises(ExperimentCancelled, match="nothing was saved"):
        _run(plan, store, monthly, should_cancel=lambda: True)
    assert _plan(store, monthly).saved is None
    assert next_step(plan, run_clicked=False, cancel_requested=True) is RunStep.CANCELLED
    # a new run wins over a cancel left from the last one
    assert next_step(plan, run_clicked=True, cancel_requested=True) is RunStep.RUN
