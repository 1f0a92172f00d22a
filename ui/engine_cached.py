"""Cached engine analyses of out-of-core datasets (``explore.engine``), shared by the pages that show them: the
slice report, groups, overall metrics, performance over time, drift and invariants.

The dataset's log (a DuckDB view over its files) is opened once per workspace and dataset and shared
(``_log``: opening it is a pass over the label and score; what it learns on the way — row count, score range,
time range, group estimates — stays in its memo), one analysis at a time (a lock: a connection runs one query at
a time and the analyses use its temp tables). The results are small frames, cached by the workspace (its key
covers every file of the dataset) and the parameters.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from explore.core.workspace import Workspace
from explore.slices.definition import SliceDefinition
from ui.cache import cache_shared, cache_small

if TYPE_CHECKING:
    from explore.engine.grouping import EngineGrouping
    from explore.engine.metrics import EngineTable
    from explore.slices.report import SliceReport
    from explore.staleness.drift import InvariantThresholds

# The engine modules (DuckDB, scipy) are imported by the functions that run them, not with this module: the
# Workspace page imports it first thing, and a workspace without out-of-core datasets never needs them.

CONFIDENCE = 0.95
FDR = 0.05
# What the first overall metrics import: imported in a thread as the app starts, while opening the workspace waits
# on its files (DuckDB releases the GIL), not after it on the page's path; then what the page imports after the
# metrics' pass (the sample's caption: explore.engine.drift, and with it scipy.stats, ~1 s of CPU), meanwhile.
WARM_IMPORTS = ("explore.stats.metrics", "explore.engine.metrics", "explore.engine.drift")
_warmed = threading.Event()


def warm_imports() -> threading.Thread | None:
    """Import ``WARM_IMPORTS`` in a background thread, once per process (None when already started)."""
    if _warmed.is_set():
        return None
    _warmed.set()

    def run() -> None:
        import importlib

        for name in WARM_IMPORTS:
            with contextlib.suppress(Exception):  # the page imports it again and shows any error
                importlib.import_module(name)

    thread = threading.Thread(target=run, name="explore-warm-imports", daemon=True)
    thread.start()
    return thread


@dataclass
class _SharedLog:
    log: Any  # explore.engine.LogTable
    lock: threading.RLock = field(default_factory=threading.RLock)


@cache_shared(max_entries=4)
def _shared_log(ws: Workspace, dataset: str) -> _SharedLog:
    return _SharedLog(ws.log(dataset))


@contextmanager
def _log(ws: Workspace, dataset: str) -> Iterator[Any]:
    """The dataset's log, opened once and shared; held by one analysis at a time."""
    shared = _shared_log(ws, dataset)
    with shared.lock:
        yield shared.log


# What the Slices and Staleness pages show first on an out-of-core dataset: the slice report without a filter and
# the performance per calendar month (the Windows control's first choice; its count of equal-row windows).
FIRST_VIEW_UNIT = "month"
FIRST_VIEW_WINDOWS = 12
# Above this many rows the thread then draws the row-level sample too (a pass over every column: ~20 s of CPU at
# 100M rows) and the pages draw their engine sections without waiting for it, their row-level sections appearing
# once it is drawn (ui.sample_wait); below it the draw is quick and the first page that needs rows draws it.
PREFETCH_SAMPLE_ROWS = 5_000_000
# Seconds per GB of files a draw takes on two cores (the 100M-row log's 13 GB: ~20 s of CPU, both threads busy):
# what the pages' progress says to expect.
DRAW_SECONDS_PER_GB = 0.8
_prepared: set[tuple[str, str]] = set()
_prepared_lock = threading.Lock()
# One dataset's background passes at a time: N big datasets must not start N full passes at once on 2 cores.
_prefetching = threading.Lock()


@dataclass
class SampleDraw:
    """The background draw of one out-of-core dataset's row-level sample: queued behind the first views' passes,
    then under way (``started``), then ``finished`` (drawn, or ``error`` says why not: the page that asks for the
    rows draws again and shows the error with its fix)."""

    total: int
    gigabytes: float
    queued: float = field(default_factory=time.monotonic)
    started: float | None = None
    finished: threading.Event = field(default_factory=threading.Event)
    error: str | None = None

    @property
    def expected_seconds(self) -> float:
        return self.gigabytes * DRAW_SECONDS_PER_GB

    def run(self, draw: Callable[[], object]) -> None:
        self.started = time.monotonic()
        try:
            draw()
        except Exception as exc:  # noqa: BLE001 - said by the page that asks for the rows, with its fix
            self.error = str(exc)
        finally:
            self.finished.set()


_draws: dict[tuple[str, str], SampleDraw] = {}
# The nice value of the thread that draws a big log's sample (and of the DuckDB threads it starts): the draw is a
# pass over every column of every row, and a page the user opens meanwhile should get the cores first.
DRAW_NICE = 10


def give_way() -> None:
    """Lower the calling thread's CPU priority to ``DRAW_NICE`` (Linux: a thread's own nice value, inherited by
    the threads it starts); never raise it (that needs privileges), and do nothing where it is not supported."""
    with contextlib.suppress(OSError, AttributeError):
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, max(os.getpriority(os.PRIO_PROCESS, me), DRAW_NICE))


def _files_gigabytes(ws: Workspace, dataset: str) -> float:
    with contextlib.suppress(OSError):
        return sum(p.stat().st_size for p in ws._engine_files(dataset)) / 1e9
    return 0.0


def sample_draw(ws: Workspace, dataset: str) -> SampleDraw | None:
    """The background draw of ``dataset``'s sample, started (or queued) by ``prepare_first_views``; None when
    the page gets the rows itself: a dataset in memory, one of at most ``PREFETCH_SAMPLE_ROWS`` rows, a sample
    drawn before, or one a previous start kept beside the workspace (read back in a fraction of a second)."""
    if not ws.is_out_of_core(dataset):
        return None
    sample = ws.samples[dataset]
    if sample.total <= PREFETCH_SAMPLE_ROWS or sample.kept:  # quick: the page reads it itself
        return None
    prepare_first_views(ws, dataset)
    draw = _draws.get((ws.key, dataset))
    return None if draw is None or sample.drawn and draw.finished.is_set() else draw


def rows_pending(ws: Workspace, dataset: str) -> bool:
    """True while ``dataset``'s row-level sample is being drawn in the background: the pages then draw what the
    engine computes and say, in place of their row-level sections, that the rows are coming."""
    draw = sample_draw(ws, dataset)
    return draw is not None and not draw.finished.is_set()


def prepare_first_views(ws: Workspace, dataset: str) -> threading.Thread | None:
    """Start computing, in a background thread, what the Slices and Staleness pages first show of ``dataset``
    (each a pass over every row: seconds at 100M rows), so that it is ready — or under way — when the user opens
    them; then, for a dataset of more than ``PREFETCH_SAMPLE_ROWS`` rows, its row-level sample (``sample_draw``
    follows it). Once per workspace version and dataset in this process; the results go to the same caches the
    pages read (a page asking while the thread computes waits for it instead of computing again: Streamlit's
    per-key compute lock, the sample's own lock). Returns the thread, or None when already started."""
    with _prepared_lock:
        if (ws.key, dataset) in _prepared:
            return None
        _prepared.add((ws.key, dataset))
        sample = ws.samples.get(dataset)
        draw = None
        if (
            sample is not None
            and sample.total > PREFETCH_SAMPLE_ROWS
            and not sample.drawn
            and not sample.kept  # read back by the first page that needs it: no pass, no wait
        ):
            draw = _draws[(ws.key, dataset)] = SampleDraw(sample.total, _files_gigabytes(ws, dataset))

    def run() -> None:
        with _prefetching:
            prepare()

    def prepare() -> None:
        with contextlib.suppress(Exception):  # the page computes it again and shows the error with its fix
            slice_report(ws, dataset, SliceDefinition(()))
            if ws.columns.time:
                performance(ws, dataset, FIRST_VIEW_UNIT, FIRST_VIEW_WINDOWS)
                rates(ws, dataset, FIRST_VIEW_UNIT, FIRST_VIEW_WINDOWS)
        if draw is not None:
            give_way()  # the draw opens its own DuckDB connection: its threads, started from this one, too
            draw.run(lambda: ws.dataset(dataset))  # the sample, checked as the workspace's datasets are

    thread = threading.Thread(target=run, name=f"explore-first-views-{dataset}", daemon=True)
    thread.start()
    return thread


def approximation_note(table: pd.DataFrame) -> str | None:
    """The line a page shows under an engine table whose ROC AUC came from score bins (None when exact)."""
    from explore.engine.metrics import binned_auc_note

    return binned_auc_note(table)


@cache_small(max_entries=16)
def overall(ws: Workspace, dataset: str) -> pd.DataFrame:
    """Every metric of the task on all rows of the dataset; kept beside the workspace per version of its files
    (``explore.core.score_cache.engine_overall_cached``), so a restart draws the Workspace page without a pass
    over the files (nor opening the log)."""
    from explore.core.score_cache import engine_overall_cached

    def compute() -> pd.DataFrame:
        with _log(ws, dataset) as log:  # opened (DuckDB, footers) while the warm-up thread may still import
            from explore.engine import metrics as engine_metrics

            return engine_metrics.overall_metrics(log, confidence=CONFIDENCE)

    return engine_overall_cached(ws, dataset, CONFIDENCE, compute)


def settle_label_counts(ws: Workspace, dataset: str, table: pd.DataFrame) -> None:
    """The label counts the open left to the first pass that counts them (a binary label whose values the Parquet
    footers settled: ``explore.engine.sample.Probe``), from the overall metrics' support and positives — read
    back from beside the workspace on a restart as well — so that the dataset table needs no pass of its own. The
    page calls it with ``overall``'s table, not ``overall`` itself: a cached table (a rerun, a workspace reopened
    on the same files) settles the new probe too."""
    sample = ws.samples.get(dataset)
    if sample is None or sample.probe.counts_settled or ws.task != "binary" or ws.positive_index is None:
        return
    from explore.engine.metrics import labelled_and_positives

    got = labelled_and_positives(table)
    if got is not None:
        sample.probe.settle_counts(got[1], got[0], ws.classes[ws.positive_index])


@cache_small(max_entries=32)
def grouping(ws: Workspace, dataset: str, by: tuple[str, ...], bins: int) -> EngineGrouping:
    """One or two columns cut into the Slices page's groups over every row of the dataset: a filter does not change
    the cut, so a filter change reuses it (its queries are passes over the files)."""
    from explore.engine import grouping as engine_grouping

    with _log(ws, dataset) as log:
        gs = [engine_grouping.group_column(log, c, bins=bins) for c in by]
        return gs[0] if len(gs) == 1 else engine_grouping.cross(log, gs[0], gs[1])


@cache_small(max_entries=32)
def slice_report(ws: Workspace, dataset: str, slice_def: SliceDefinition) -> SliceReport:
    """The slice vs the rest vs every row of the dataset (``explore.engine.report``: the in-memory report's numbers)."""
    from explore.engine.report import slice_report as engine_report
    from explore.slices.report import SliceReportParams

    with _log(ws, dataset) as log:
        return engine_report(log, slice_def, params=SliceReportParams(confidence=CONFIDENCE))


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
    with _log(ws, dataset) as log:
        where = engine_grouping.slice_where(log, slice_def.conditions)
        return EngineTable(
            *engine_metrics.groups_vs_rest(log, g, where=where, confidence=CONFIDENCE, fdr=FDR)
        )


@cache_small(max_entries=16)
def performance(ws: Workspace, dataset: str, unit: str, n_windows: int = 12) -> EngineTable:
    """The windows and metrics per calendar window (or ``n_windows`` equal-row windows, unit "rows") of every row."""
    from explore.engine import metrics as engine_metrics
    from explore.engine.metrics import EngineTable

    with _log(ws, dataset) as log:
        return EngineTable(
            *engine_metrics.grouped_metrics(
                log, engine_metrics.by_time_window(log, unit, n_windows=n_windows), confidence=CONFIDENCE
            )
        )


@cache_small(max_entries=8)
def rates(ws: Workspace, dataset: str, unit: str, n_windows: int = 12) -> pd.DataFrame:
    """Label / prediction shares per class (a regressor: mean label and mean prediction) per window of every row —
    the in-memory ``PerformanceOverTime.rates`` frame, over the windows ``performance`` shows (those with rows)."""
    import numpy as np

    from explore.engine import metrics as engine_metrics
    from explore.engine.grouping import window_counts
    from explore.staleness import windows as time_windows
    from explore.staleness.experiment import rates_from_counts

    with _log(ws, dataset) as log:
        grouping = engine_metrics.by_time_window(log, unit, n_windows=n_windows)
        counts = window_counts(log, grouping, None)
        last = (
            log.sql(f"SELECT max({engine_metrics.time_value(log)}) FROM rows").fetchone()[0]
            if unit == "rows" and len(counts)
            else None
        )
    starts = np.sort(pd.to_datetime(counts["start"]).to_numpy(dtype="datetime64[ns]"))
    ends = time_windows.window_ends(starts, unit, last)
    table = pd.DataFrame(
        {
            "window": np.arange(len(starts)),
            "label": [time_windows._label(a, unit, b) for a, b in zip(starts, ends, strict=True)],
            "start": starts,
        }
    )
    index = pd.Series(np.arange(len(starts)), index=starts)
    return rates_from_counts(
        ws.task, ws.classes, ws.positive_index, counts, index, table, time_windows.DEFAULT_MIN_ROWS
    )


def _first_window(log, unit: str, n_windows: int):
    """The log's windows and the SQL condition selecting the first one (the reference)."""
    from explore.engine import metrics as engine_metrics
    from explore.engine.drift import first_window

    windows = engine_metrics.by_time_window(log, unit, n_windows=n_windows)
    if unit != "rows":  # a range on the time column: the reference is read from its own files only
        return windows, first_window(log, unit)
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

    with _log(ws, dataset) as log:
        windows, first = _first_window(log, unit, n_windows)
        profile = engine_drift.reference_profile(
            log, features=list(features), where=first, name="the first window"
        )
        keys, result = engine_drift.data_invariants(
            profile, log, windows, thresholds=thresholds, features=list(features)
        )
        return result.by_window.assign(window=keys["window"].iloc[result.by_window["window"]].to_numpy())


@cache_small(max_entries=16)
def label_std(ws: Workspace, dataset: str) -> float:
    """A regressor's label's standard deviation over every row (the default fairness gap is a share of it)."""
    from explore.engine.grouping import label_std as engine_label_std

    with _log(ws, dataset) as log:
        return engine_label_std(log)


@cache_small(max_entries=8)
def drift(
    ws: Workspace, dataset: str, unit: str, n_windows: int, features: tuple[str, ...], exact: bool = False
) -> tuple[EngineTable, Any]:
    """The windows and drift table (codes in its ``window`` column) of every feature per calendar window against
    the first window, and the row sample it was computed on (``explore.engine.drift.DriftSample``; None: every
    row — a log of at most ``DRIFT_EXACT_ROWS`` rows, or ``exact``)."""
    from explore.engine import drift as engine_drift
    from explore.engine.metrics import EngineTable

    with _log(ws, dataset) as log:
        windows, first = _first_window(log, unit, n_windows)
        keys, result = engine_drift.drift_matrix(
            log, windows, features=list(features), reference_where=first, name="the first window", exact=exact
        )
        return EngineTable(keys, result.table, code="window"), result.sample
