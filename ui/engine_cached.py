"""Cached engine analyses of out-of-core datasets (``explore.engine``), shared by the pages that show them.

Each call opens the dataset's log (a DuckDB view over its files), runs its queries and closes it: the results
are small frames, cached by the workspace (its key covers every file of the dataset) and the parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from explore.core.workspace import Workspace
from explore.slices.definition import SliceDefinition
from ui.cache import cache_small

if TYPE_CHECKING:
    from explore.engine.grouping import EngineGrouping
    from explore.engine.metrics import EngineTable
    from explore.staleness.drift import InvariantThresholds

# The engine modules (DuckDB, scipy) are imported by the functions that run them, not with this module: the
# Workspace page imports it first thing, and a workspace without out-of-core datasets never needs them.

CONFIDENCE = 0.95
FDR = 0.05


def _log(ws: Workspace, dataset: str):
    return ws.log(dataset)


def approximation_note(table: pd.DataFrame) -> str | None:
    """The line a page shows under an engine table whose ROC AUC came from score bins (None when exact)."""
    from explore.engine.metrics import binned_auc_note

    return binned_auc_note(table)


@cache_small(max_entries=16)
def overall(ws: Workspace, dataset: str) -> pd.DataFrame:
    """Every metric of the task on all rows of the dataset."""
    from explore.engine import metrics as engine_metrics

    log = _log(ws, dataset)
    try:
        return engine_metrics.overall_metrics(log, confidence=CONFIDENCE)
    finally:
        log.con.close()


@cache_small(max_entries=32)
def grouping(ws: Workspace, dataset: str, by: tuple[str, ...], bins: int) -> EngineGrouping:
    """One or two columns cut into the Slices page's groups over every row of the dataset: a filter does not change
    the cut, so a filter change reuses it (its queries are passes over the files)."""
    from explore.engine import grouping as engine_grouping

    log = _log(ws, dataset)
    try:
        gs = [engine_grouping.group_column(log, c, bins=bins) for c in by]
        return gs[0] if len(gs) == 1 else engine_grouping.cross(log, gs[0], gs[1])
    finally:
        log.con.close()


@cache_small(max_entries=32)
def groups(
    ws: Workspace, dataset: str, slice_def: SliceDefinition, by: tuple[str, ...], bins: int
) -> EngineTable:
    """The keys and metrics of the slice's rows grouped by one or two columns, on every row of the dataset, each group
    beside the rest of the slice (``rest``, ``gap``, ``q_worse``, ``worse``): one pass over the files (binary)."""
    from explore.engine import grouping as engine_grouping
    from explore.engine import metrics as engine_metrics
    from explore.engine.metrics import EngineTable

    g = grouping(ws, dataset, by, bins)
    log = _log(ws, dataset)
    try:
        where = engine_grouping.slice_where(log, slice_def.conditions)
        return EngineTable(
            *engine_metrics.groups_vs_rest(log, g, where=where, confidence=CONFIDENCE, fdr=FDR)
        )
    finally:
        log.con.close()


@cache_small(max_entries=16)
def performance(ws: Workspace, dataset: str, unit: str, n_windows: int = 12) -> EngineTable:
    """The windows and metrics per calendar window (or ``n_windows`` equal-row windows, unit "rows") of every row."""
    from explore.engine import metrics as engine_metrics
    from explore.engine.metrics import EngineTable

    log = _log(ws, dataset)
    try:
        return EngineTable(
            *engine_metrics.grouped_metrics(
                log, engine_metrics.by_time_window(log, unit, n_windows=n_windows), confidence=CONFIDENCE
            )
        )
    finally:
        log.con.close()


def _first_window(log, unit: str, n_windows: int):
    """The log's windows and the SQL condition selecting the first one (the reference)."""
    from explore.engine import metrics as engine_metrics

    windows = engine_metrics.by_time_window(log, unit, n_windows=n_windows)
    first = f"{windows.exprs[0]} = (SELECT min({windows.exprs[0]}) FROM rows WHERE {windows.where})"
    return windows, first


@cache_small(max_entries=8)
def invariants(
    ws: Workspace,
    dataset: str,
    unit: str,
    n_windows: int,
    features: tuple[str, ...],
    thresholds: InvariantThresholds,
) -> pd.DataFrame:
    """Invariants per calendar window of every row of the dataset against the first window (``by_window``)."""
    from explore.engine import drift as engine_drift

    log = _log(ws, dataset)
    try:
        windows, first = _first_window(log, unit, n_windows)
        profile = engine_drift.reference_profile(
            log, features=list(features), where=first, name="the first window"
        )
        keys, result = engine_drift.data_invariants(
            profile, log, windows, thresholds=thresholds, features=list(features)
        )
        return result.by_window.assign(window=keys["window"].iloc[result.by_window["window"]].to_numpy())
    finally:
        log.con.close()


@cache_small(max_entries=8)
def drift(ws: Workspace, dataset: str, unit: str, n_windows: int, features: tuple[str, ...]) -> EngineTable:
    """The windows and drift table (codes in its ``window`` column) of every feature per calendar window against the first window."""
    from explore.engine import drift as engine_drift
    from explore.engine.metrics import EngineTable

    log = _log(ws, dataset)
    try:
        windows, first = _first_window(log, unit, n_windows)
        profile = engine_drift.reference_profile(
            log, features=list(features), where=first, name="the first window"
        )
        keys, result = engine_drift.drift_by_window(profile, log, windows, features=list(features))
        return EngineTable(keys, result.table, code="window")
    finally:
        log.con.close()
