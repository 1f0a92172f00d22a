"""The staleness experiment's life on a page: can it run, is a result for exactly these fits saved, run it
(cancellable) and keep it.

The fits are costly, the judgement is not: a saved result whose fits match the parameters is re-read with
the chosen metric, criterion, threshold and persistence (``StalenessResult.retarget``) instead of refitted.
Each page run takes one ``RunStep``:

- ``RUN``: the user asked for a run (a cancel left from an earlier run is forgotten first);
- ``CANCELLED``: the last run was cancelled — say so once (nothing was saved), then forget it;
- ``SAVED``: a saved result for these fits exists — say when it was made, then show it;
- ``IDLE``: nothing to show yet (or the parameters cannot run: ``ExperimentPlan.problem`` says why).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from explore.core.workspace import Workspace
from explore.errors import ExploreError
from explore.staleness.experiment import (
    EXPERIMENT_KIND,
    Cancel,
    Progress,
    StalenessParams,
    StalenessResult,
    check_refittable,
    experiment_key,
    load_experiment,
    save_experiment,
    staleness_experiment,
    validate_params,
)
from explore.staleness.windows import TimeWindows


class RunStep(enum.Enum):
    RUN = "run"
    CANCELLED = "cancelled"
    SAVED = "saved"
    IDLE = "idle"


@dataclass(frozen=True, eq=False)
class ExperimentPlan:
    """One experiment as configured: its parameters, the store key of its fits, and what is known before
    running it.

    ``problem``: why these parameters cannot run ("" when they can); ``saved``: the saved result for these
    fits judged by these parameters (None: none saved, saved by an older version, or without this metric);
    ``saved_row``: the store row it came from (``created_at``, ``author``…).
    """

    params: StalenessParams
    key: str
    workspace: str
    context: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    saved: StalenessResult | None = None
    saved_row: dict[str, Any] | None = None


def refit_problem(model: Any, *, name: str) -> str:
    """Why ``model`` cannot be refitted for the experiment ("" when it can): no model, or not clonable."""
    try:
        check_refittable(model, name=name)
    except ExploreError as exc:  # a reason to show instead of the experiment, not a failure of the page
        return str(exc)
    return ""


def plan_experiment(
    store: Any,
    ws: Workspace,
    params: StalenessParams,
    windows: TimeWindows,
    *,
    model_fingerprint: str,
    data_fingerprints: Sequence[str],
    datasets: Sequence[str],
    context: dict[str, Any],
) -> ExperimentPlan:
    """Check ``params`` against ``windows`` and look for a saved result of the same fits in ``store``.

    ``context`` (datasets, window settings, model) is kept with the parameters when the result is saved.
    """
    key = experiment_key(
        params,
        task=ws.task,
        windows=windows,
        model_fingerprint=model_fingerprint,
        data_fingerprints=data_fingerprints,
        datasets=datasets,
    )
    workspace = str(ws.config.path)
    plan = ExperimentPlan(params=params, key=key, workspace=workspace, context=context)
    try:
        validate_params(params, windows)
    except ExploreError as exc:  # said up front, and the run is not offered
        return replace(plan, problem=str(exc))
    saved = load_experiment(store, workspace=workspace, key=key)
    if saved is None:
        return plan
    try:
        # The metric, criterion and threshold only read the saved curves: no refit needed.
        saved = saved.retarget(
            metric=params.metric,
            criterion=params.criterion,
            threshold=params.threshold,
            persistence=params.persistence,
        )
    except ExploreError:  # saved without this metric: offer a new run
        return plan
    return replace(plan, saved=saved, saved_row=store.find_experiment(workspace, EXPERIMENT_KIND, key))


def next_step(plan: ExperimentPlan, *, run_clicked: bool, cancel_requested: bool) -> RunStep:
    """What this page run does with the experiment (see the module docstring)."""
    if run_clicked:
        return RunStep.RUN
    if cancel_requested:
        return RunStep.CANCELLED
    if plan.saved is not None:
        return RunStep.SAVED
    return RunStep.IDLE


def run_and_save(
    plan: ExperimentPlan,
    store: Any,
    ws: Workspace,
    model: Any,
    data: pd.DataFrame,
    windows: TimeWindows,
    *,
    codes: np.ndarray,
    progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> StalenessResult:
    """Run the experiment of ``plan`` on ``data`` (the rows of a timeline, ``codes`` their window in
    ``windows``) and keep the result in ``store``. Raises ``ExperimentCancelled`` when ``should_cancel()``
    says so between fits (nothing is saved then)."""
    result = run_on_workspace(
        ws, model, data, windows, plan.params, codes=codes, progress=progress, should_cancel=should_cancel
    )
    save_experiment(store, result, workspace=plan.workspace, key=plan.key, context=plan.context)
    return result


def run_on_workspace(
    ws: Workspace,
    model: Any,
    data: pd.DataFrame,
    windows: TimeWindows,
    params: StalenessParams,
    *,
    codes: np.ndarray,
    progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> StalenessResult:
    """``staleness_experiment`` with the workspace's features, label, task and classes: what the page and
    ``explore.staleness_experiment`` both run (``data``: timeline rows, ``codes``: their window)."""
    return staleness_experiment(
        model,
        data,
        windows,
        features=ws.feature_names,
        label=ws.columns.label,
        task=ws.task,
        classes=ws.classes,
        positive_index=ws.positive_index,
        params=params,
        progress=progress,
        should_cancel=should_cancel,
        codes=codes,
    )
