"""The Staleness page's cached computations, keyed by the objects (workspace, ``WindowSpec``, names).

Big read-only objects (timelines, windows, joined scored rows, row codes, reference profiles, drift) live in
``cache_shared``; small results (performance tables, invariants, tracking, fingerprints) in ``cache_small``.
Windows are rebuilt from their ``WindowSpec``, so every result is a function of its arguments alone.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from explore.core.workspace import Scored, Workspace, score_unlabeled
from explore.slices.definition import SliceDefinition
from explore.staleness import choices, layout, reference, tracking, windows
from explore.staleness.drift import (
    DriftResult,
    InvariantsResult,
    InvariantThresholds,
    ReferenceProfile,
    data_invariants,
    drift_by_window,
    reference_profile,
)
from explore.staleness.estimation import (
    PerformanceEstimate,
    estimate_performance,
    outside_training,
    population_mix,
)
from explore.staleness.experiment import PerformanceOverTime, performance_over_time
from explore.staleness.layout import WindowSpec
from ui import loaders
from ui.cache import cache_shared, cache_small


@cache_shared(max_entries=4)
def timeline(ws: Workspace, datasets: tuple[str, ...]) -> windows.Timeline:
    """The features and label of ``datasets`` joined in time order."""
    return windows.workspace_timeline(ws, datasets, columns=layout.timeline_columns(ws))


@cache_shared(max_entries=8)
def time_windows(ws: Workspace, spec: WindowSpec) -> windows.TimeWindows:
    """The windows of ``spec`` over its datasets' timeline."""
    return layout.spec_windows(timeline(ws, spec.datasets), spec, label=ws.columns.label)


@cache_shared(max_entries=4)
def scored_all(ws: Workspace, datasets: tuple[str, ...], model_name: str | None) -> Scored:
    """``datasets`` scored by ``model_name`` (None: the prediction columns), joined in time order."""
    parts = [loaders.scored(d, model_name, ws=ws) for d in datasets]
    return windows.concat_scored(parts, name=layout.ALL_DATASETS if len(datasets) > 1 else datasets[0])


@cache_shared(max_entries=8)
def scored_codes(ws: Workspace, spec: WindowSpec, model_name: str | None) -> np.ndarray:
    """The window of every scored row of ``spec``'s datasets (-1: outside the windows)."""
    sc = scored_all(ws, spec.datasets, model_name)
    return windows.apply_windows(time_windows(ws, spec), sc.time, where=sc.dataset_name)


@cache_shared(max_entries=4)
def timeline_codes(ws: Workspace, spec: WindowSpec) -> np.ndarray:
    """The window of every timeline row of ``spec``'s datasets (-1: outside the windows)."""
    return windows.apply_windows(time_windows(ws, spec), timeline(ws, spec.datasets).time)


@cache_small(max_entries=8)
def window_datasets(ws: Workspace, spec: WindowSpec) -> list[str]:
    """For each window of ``spec``, the datasets its rows come from (``"train+validation"``)."""
    return windows.window_sources(time_windows(ws, spec), timeline(ws, spec.datasets).source)


@cache_small(max_entries=32)
def performance(
    ws: Workspace,
    spec: WindowSpec,
    model_name: str | None,
    metrics: tuple[str, ...],
    in_slice: SliceDefinition | None,
) -> PerformanceOverTime:
    """``metrics`` per window (on the rows of ``in_slice`` only, when given)."""
    sc = scored_all(ws, spec.datasets, model_name)
    return performance_over_time(
        sc,
        time_windows(ws, spec),
        codes=scored_codes(ws, spec, model_name),
        metrics=list(metrics),
        slice_def=in_slice,
    )


@cache_small(max_entries=32)
def current_value(ws: Workspace, datasets: tuple[str, ...], model_name: str | None, metric: str) -> float:
    """The model's value of ``metric`` on the analysed rows (NaN when it cannot be computed there)."""
    return choices.current_value(scored_all(ws, datasets, model_name), metric)


@cache_small(max_entries=16)
def fingerprints(ws: Workspace, datasets: tuple[str, ...], model_name: str | None) -> tuple[str, list[str]]:
    """The model file's fingerprint and each dataset file's (what a saved experiment must match)."""
    return (
        ws.model_fingerprint(model_name) if model_name else "predictions-only",
        [ws.data_fingerprint(d) for d in datasets],
    )


# ---- the reference and what is compared with it ---------------------------------------------------------


@cache_shared(max_entries=6)
def _dataset_profile(ws: Workspace, dataset: str) -> ReferenceProfile:
    return reference_profile(ws.dataset(dataset), features=list(ws.feature_names), name=dataset)


@cache_shared(max_entries=6)
def _window_profile(ws: Workspace, spec: WindowSpec, window: str) -> ReferenceProfile:
    rows = reference.reference_rows(ws, timeline(ws, spec.datasets), time_windows(ws, spec), window)
    return reference_profile(rows, features=list(ws.feature_names), name=window)


def profile(ws: Workspace, spec: WindowSpec, ref: str) -> ReferenceProfile:
    """The profile of the reference ``ref``: a dataset (whatever the windows), or a window of ``spec``."""
    return _dataset_profile(ws, ref) if ref in ws.dataset_names else _window_profile(ws, spec, ref)


@cache_shared(max_entries=6)
def drift(ws: Workspace, spec: WindowSpec, ref: str) -> DriftResult:
    """Drift of every feature in every window of ``spec`` against the reference ``ref``."""
    w = time_windows(ws, spec)
    return drift_by_window(profile(ws, spec, ref), timeline(ws, spec.datasets).frame, w.codes, w.n_windows)


@cache_small(max_entries=16)
def drift_tracking(
    ws: Workspace, spec: WindowSpec, model_name: str | None, ref: str, metric: str
) -> tracking.DriftTracking:
    """How each feature's drift against ``ref`` tracks the drop of ``metric`` (on all rows)."""
    return tracking.track_drift(
        drift(ws, spec, ref),
        scored_all(ws, spec.datasets, model_name),
        time_windows(ws, spec),
        codes=scored_codes(ws, spec, model_name),
        metric=metric,
    )


@cache_small(max_entries=16)
def invariants(
    ws: Workspace, spec: WindowSpec, model_name: str | None, ref: str, thresholds: InvariantThresholds
) -> InvariantsResult:
    """Data invariants of every window of ``spec`` against ``ref``, with the model's outputs per window."""
    w = time_windows(ws, spec)
    sc = scored_all(ws, spec.datasets, model_name)
    return data_invariants(
        profile(ws, spec, ref),
        timeline(ws, spec.datasets).frame,
        w.codes,
        w.n_windows,
        outputs=choices.model_outputs(sc),
        output_codes=scored_codes(ws, spec, model_name),
        thresholds=thresholds,
    )


# ---- performance without labels -------------------------------------------------------------------------


@cache_shared(max_entries=4)
def unlabeled_all(ws: Workspace, datasets: tuple[str, ...], model_name: str | None) -> Scored | None:
    """The rows of ``datasets`` whose label is not known yet, scored and joined in time order (None: no such row)."""
    parts = [p for p in (score_unlabeled(ws, d, model_name) for d in datasets) if p.n]
    if not parts:
        return None
    return windows.concat_scored(parts, name=layout.ALL_DATASETS if len(datasets) > 1 else datasets[0])


@cache_small(max_entries=16)
def estimate(ws: Workspace, spec: WindowSpec, model_name: str | None, ref: int | None) -> PerformanceEstimate:
    """Estimated and realised performance per window of ``spec``, calibrated on window ``ref`` (None: the
    earliest windows with enough labels)."""
    w = time_windows(ws, spec)
    unl = unlabeled_all(ws, spec.datasets, model_name)
    labelled = scored_all(ws, spec.datasets, model_name)
    codes = scored_codes(ws, spec, model_name)
    keep, note = population_mix(ws, labelled)  # an engine sample's classes in every row's shares
    est = estimate_performance(
        labelled,
        w,
        unlabeled=unl,
        codes=codes if keep is None else np.where(keep, codes, -1),
        reference_rows=outside_training(ws, labelled),  # not the rows the model was fitted on
        unlabeled_codes=windows.apply_windows(w, unl.time)
        if unl is not None and unl.time is not None
        else None,
        reference=ref,
    )
    return replace(est, rows_note=note) if note else est
