"""The slice report of a log that stays in the engine: ``explore.slices.report.slice_report`` on every row.

The slice, the rest and every row are three groups of one engine grouping; the groups of one or two ``by``
columns are cut as the Slices page cuts them (``engine.grouping.group_column``), the groups with no row in the
slice left out as in memory, each beside the rest of the slice (``engine.metrics.groups_vs_rest``). The result
is the in-memory ``SliceReport`` — same columns, same tests, the same numbers to 1e-9 (tests/engine).

What runs on rows in memory only is refused with the reason: a metric given as a Python callable, explicit bin
edges, a time column as a ``by`` column (windows of time are ``engine.metrics.by_time_window``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from explore.engine.grouping import EngineGrouping, _case, group_column, slice_where
from explore.engine.log import LogTable
from explore.engine.metrics import grouped_metrics, groups_vs_rest, overall_metrics
from explore.errors import AnalysisError
from explore.slices import report as mem
from explore.slices.definition import Condition, SliceDefinition
from explore.slices.grouping import OTHER, display_name
from explore.stats import metrics as metrics_mod

NO_CALLABLE = (
    "The metric {name!r} is a Python function, which runs on rows in memory; dataset '{dataset}' stays in the "
    "engine ({n:,} rows). Name registry metrics instead (e.g. 'accuracy', 'ROC AUC'), or run the function on "
    "the engine's sample: explore.scored(ws, '{dataset}')."
)
NO_EDGES = (
    "Explicit bin edges for {column!r} are for datasets in memory; dataset '{dataset}' stays in the engine. "
    "Give a number of quantile bins (e.g. bins=5)."
)


def _names(log: LogTable, metrics: mem.MetricSpec) -> tuple[list[str] | None, dict[str, str]]:
    """(registry names or None for the task's defaults, display renames); callables refused."""
    if metrics is None:
        return None, {}
    if isinstance(metrics, dict):
        names, rename = [], {}
        for label, spec in metrics.items():
            if callable(spec):
                raise AnalysisError(NO_CALLABLE.format(name=str(label), dataset=log.name, n=log.n))
            names.append(str(spec))
            rename[str(spec)] = str(label)
        return names, rename
    for m in metrics:
        if callable(m):
            raise AnalysisError(
                NO_CALLABLE.format(name=getattr(m, "__name__", "?"), dataset=log.name, n=log.n)
            )
    return [str(m) for m in metrics], {}


def _bins(log: LogTable, bins: object, column: str) -> int:
    b = bins.get(column, mem.DEFAULT_BINS) if isinstance(bins, dict) else bins
    if isinstance(b, bool) or not isinstance(b, int | np.integer):
        raise AnalysisError(NO_EDGES.format(column=column, dataset=log.name))
    return int(b)


def _count(log: LogTable, where: str | None) -> int:
    return int(log.sql(f"SELECT count(*) FROM rows{f' WHERE {where}' if where else ''}").fetchall()[0][0])


def slice_report(
    log: LogTable,
    slice_def: SliceDefinition | None = None,
    *,
    by: Sequence[str] | None = None,
    params: mem.SliceReportParams | None = None,
) -> mem.SliceReport:
    """``explore.slices.report.slice_report`` of every row of ``log``: the slice vs the rest vs every row, and
    by group of up to two ``by`` columns within the slice. Raises ``AnalysisError`` as in memory, and for what
    only runs in memory (callable metrics, explicit bin edges)."""
    p = params or mem.SliceReportParams()
    if not 0 < p.fdr < 1:
        raise AnalysisError(mem.BAD_FDR.format(received=p.fdr))
    slice_def = slice_def or SliceDefinition()
    by = list(by or [])
    if len(by) > 2 or len(set(by)) != len(by):
        raise AnalysisError(mem.BAD_BY.format(received=by))
    names, rename = _names(log, p.metrics)
    rename_back = {v: k for k, v in rename.items()}
    where = slice_where(log, slice_def.conditions)
    n_rows = log.n
    n_slice = _count(log, where) if where else n_rows
    if n_slice == 0:
        raise AnalysisError(mem.EMPTY_SLICE.format(slice=slice_def.describe(), dataset=log.name, n=n_rows))
    z = metrics_mod._z(p.confidence)
    two = EngineGrouping(
        "slice", "slice", f"(CASE WHEN {where} THEN 0 ELSE 1 END)" if where else "0", ["slice", "rest"]
    )
    _, sr = grouped_metrics(log, two, metrics=names, confidence=p.confidence)
    # Every row is the slice when there is no filter (the page's first view): its metrics are every row's, so
    # not a second pass over the files (seconds at 100M rows).
    overall = (
        sr[sr.group == 0].copy()
        if not where
        else overall_metrics(log, metrics=names, confidence=p.confidence)
    )
    for df in (sr, overall):
        if rename:
            df["metric"] = df["metric"].replace(rename)
    part_s, part_r, part_o, comparison = mem.slice_comparison(sr, overall, rename_back, z)
    notes = mem.size_notes(n_slice, n_rows)
    by_group, group_conditions = None, []
    if by:
        by_group, group_conditions, group_notes = _by_group(log, where, by, p, names, rename)
        notes.extend(group_notes)
    return mem.SliceReport(
        slice_def=slice_def,
        metrics=list(part_s["metric"]),
        confidence=p.confidence,
        fdr=p.fdr,
        n_rows=n_rows,
        n_slice=n_slice,
        overall=part_o,
        slice=part_s,
        rest=part_r,
        comparison=comparison,
        by=by,
        by_group=by_group,
        group_conditions=group_conditions,
        notes=notes,
    )


def _by_group(
    log: LogTable,
    where: str | None,
    by: list[str],
    p: mem.SliceReportParams,
    names: list[str] | None,
    rename: dict[str, str],
) -> tuple[pd.DataFrame, list[tuple[Condition, ...]], list[str]]:
    """The in-memory report's ``by_group``: the column(s)' groups present in the slice (in the in-memory order:
    first column's group major), each beside the rest of the slice."""
    gs = [group_column(log, c, bins=_bins(log, p.bins, c), max_groups=p.max_groups) for c in by]
    if len(gs) == 1:
        code, n_pairs = gs[0].code, gs[0].n_groups
        pair_of = [(i,) for i in range(n_pairs)]
    else:
        a, b = gs
        code = f"(CASE WHEN {a.code} < 0 OR {b.code} < 0 THEN -1 ELSE {a.code} * {b.n_groups} + {b.code} END)"
        n_pairs = a.n_groups * b.n_groups
        pair_of = [(i // b.n_groups, i % b.n_groups) for i in range(n_pairs)]
    r = log.sql(
        f"SELECT {code} AS g, count(*) AS n FROM rows{f' WHERE {where}' if where else ''} GROUP BY 1"
    ).fetchall()
    present = sorted(int(g) for g, n in r if g is not None and int(g) >= 0 and int(n) > 0)
    if not present:
        raise AnalysisError(f"No row of the slice has a value in {', '.join(map(display_name, by))}.")
    pairs = [pair_of[i] for i in present]
    grouping = EngineGrouping(
        " × ".join(by),
        "report",
        _case([(f"{code} = {old}", new) for new, old in enumerate(present)], -1),
        [" × ".join(gs[j].labels[pair[j]] for j in range(len(gs))) for pair in pairs],
    )
    _, df = groups_vs_rest(log, grouping, metrics=names, confidence=p.confidence, where=where, fdr=p.fdr)
    df = df.drop(columns=[c for c in df.columns if c not in mem.GROUP_TABLE_COLUMNS])
    for j, g in enumerate(gs):
        df.insert(1 + j, mem.group_label_column(g.column), [g.labels[pairs[k][j]] for k in df["group"]])
    if rename:
        df["metric"] = df["metric"].replace(rename)
    conditions = [tuple(gs[j].conditions[pair[j]] for j in range(len(gs))) for pair in pairs]
    notes = []
    if len(pairs) == 1:
        notes.append("Only one group is present in the slice: there is no rest to compare it with.")
    other = [display_name(g.column) for g in gs if OTHER in g.labels]
    if other:
        notes.append(
            f"{', '.join(other)}: values beyond the {p.max_groups - 1} most frequent are pooled in '{OTHER}'."
        )
    return df.reset_index(drop=True), conditions, notes
