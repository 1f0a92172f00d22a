"""Weak-slice discovery on a log in the engine: counts and loss sums of every 1- and 2-condition slice.

Two queries do the work whatever the number of columns: one ``GROUPING SETS`` query over the single columns
(count, Σd, Σd², Σ metric and the mean of each group's ``min_support`` largest losses, DuckDB's ``max(x, k)``),
one over every pair of columns. The test itself — Welch per slice, the pruning bound, Benjamini–Hochberg,
redundancy — is ``explore.slices.report.discovery_from_sums``, the same code as in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explore.core.progress import Progress, no_progress
from explore.engine.grouping import EngineGrouping, group_column
from explore.engine.log import LogTable
from explore.errors import AnalysisError
from explore.slices import report as report_mod
from explore.slices.grouping import display_name


def loss_sql(log: LogTable, loss: str = "loss") -> tuple[str, str]:
    """SQL of the per-row loss (``explore.slices.report.loss_values``) and its description."""
    if loss == "loss":
        if log.task == "regression":
            return "((_pred - _y) ** 2)", "squared error"
        if log.has_proba:
            p = log.p_true()
            return (
                f"(-ln(CASE WHEN isnan({p}) THEN {p} WHEN {p} < 1e-15 THEN 1e-15 WHEN {p} > 1 THEN 1.0 ELSE {p} END))",
                "log loss",
            )
        return "(CASE WHEN _pred = _y THEN 0.0 ELSE 1.0 END)", "0/1 error"
    if loss == "error":
        if log.task == "regression":
            return "abs(_pred - _y)", "absolute error"
        return "(CASE WHEN _pred = _y THEN 0.0 ELSE 1.0 END)", "0/1 error"
    raise AnalysisError(f"loss must be 'loss' or 'error'; received {loss!r}.")


def weak_slices(
    log: LogTable,
    *,
    columns: Sequence[str],
    max_conditions: int = 2,
    min_support: int | None = None,
    fdr: float = 0.05,
    n_bins: int = 4,
    max_values: int = 20,
    loss: str = "loss",
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> report_mod.DiscoveryResult:
    """``explore.slices.report.weak_slices`` over every row of ``log``, the sums computed by the engine.

    The slices are compared by Welch's t-test on either loss (the result's ``test`` says so): the rank
    test, the in-memory default on a continuous loss, needs every row's rank, which the engine does not
    compute. The in-memory ``weak_slices(..., test="welch")`` gives the same result."""
    if not 0 < fdr < 1:
        raise AnalysisError(report_mod.BAD_FDR.format(received=fdr))
    if max_conditions not in (1, 2):
        raise AnalysisError(report_mod.BAD_MAX_CONDITIONS.format(received=max_conditions))
    total = log.n
    if min_support is None:
        min_support = max(50, int(0.001 * total))
    if not isinstance(min_support, int | np.integer) or min_support < 2:
        raise AnalysisError(report_mod.BAD_MIN_SUPPORT.format(received=min_support))
    report = progress or no_progress
    x, loss_name = loss_sql(log, loss)
    ok = f"isfinite({x})"
    n, centre = log.sql(f"SELECT count(*), avg({x}) FROM rows WHERE {ok}").fetchall()[0]
    n = int(n)
    if n < 2 * min_support:
        raise AnalysisError(
            f"Discovery needs at least {2 * min_support:,} rows with a finite loss (twice the minimum support of "
            f"{min_support:,}); received {n:,}. Lower the minimum support or widen the slice."
        )
    centre = float(centre)
    if log.task == "regression":
        head, metric = "coalesce(CASE WHEN isnan(abs(_pred - _y)) THEN 0 ELSE abs(_pred - _y) END, 0)", "MAE"
    else:
        head, metric = "(CASE WHEN _pred = _y THEN 1.0 ELSE 0.0 END)", "accuracy"
    d = f"({x} - {centre!r})"
    T1, T2, H = log.sql(f"SELECT sum({d}), sum({d} * {d}), sum({head}) FROM rows WHERE {ok}").fetchall()[0]

    groupings: list[EngineGrouping] = []
    skipped: dict[str, str] = {}
    for i, c in enumerate(columns):
        report(0.25 * i / max(len(columns), 1), f"Binning '{display_name(c)}'")
        try:
            g = group_column(log, c, bins=n_bins, max_groups=max_values + 1)
        except AnalysisError as exc:
            skipped[c] = str(exc)
            continue
        present = log.sql(f"SELECT count(DISTINCT {g.code}) FROM rows WHERE {ok}").fetchall()[0][0]
        if present < 2:
            skipped[c] = "has a single value"
            continue
        if g.kind == "categorical" and len(g.labels) > max_values and n > 100:
            unique = log.sql(f'SELECT count(DISTINCT "{c}") FROM rows').fetchall()[0][0]
            if unique / max(total, 1) > report_mod._ID_LIKE_RATIO:
                skipped[c] = "is an identifier (nearly every value distinct)"
                continue
        groupings.append(g)
    if not groupings:
        why = "; ".join(f"'{k}' {v}" for k, v in list(skipped.items())[:5]) or "no columns given"
        raise AnalysisError(
            report_mod.NO_COLUMNS.format(why=why, examples=", ".join(map(repr, list(columns)[:3])))
        )

    # One scan of the files into a compact table of group codes and losses: every grouping set then reads it.
    codes = ", ".join(f"CAST({g.code} AS SMALLINT) AS c{i}" for i, g in enumerate(groupings))
    report(0.25, "Coding the rows' groups")
    log.sql(
        f"CREATE OR REPLACE TEMP TABLE _disc AS SELECT {codes}, {x} AS x, {d} AS d, {head} AS h FROM rows WHERE {ok}"
    )
    base = "_disc"
    aggs = "count(*) AS n, sum(d) AS s1, sum(d * d) AS s2, sum(h) AS hs"
    cols = [f"c{i}" for i in range(len(groupings))]
    report(0.3, "Counting one-condition slices")
    sets = ", ".join(f"({c})" for c in cols)
    r = log.sql(
        f"SELECT {', '.join(cols)}, GROUPING({', '.join(cols)}) AS gid, {aggs}, "
        f"list_sum(max(x, {int(min_support)})) / len(max(x, {int(min_support)})) AS bound "
        f"FROM {base} GROUP BY GROUPING SETS ({sets})"
    ).df()
    K = len(groupings)
    singles = []
    for i, g in enumerate(groupings):
        gid = (1 << K) - 1 - (1 << (K - 1 - i))  # every column but c_i aggregated away
        part = r[r["gid"] == gid]
        idx = part[f"c{i}"].to_numpy(dtype=np.intp)
        arrays = []
        for name in ("n", "s1", "s2", "hs"):
            a = np.zeros(g.n_groups)
            a[idx] = part[name].to_numpy(dtype="float64")
            arrays.append(a)
        bound = np.full(g.n_groups, -np.inf)
        bound[idx] = part["bound"].to_numpy(dtype="float64")
        singles.append((*arrays, bound))
    pairs: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
    if max_conditions == 2 and K > 1:
        report(0.4, "Counting two-condition slices")
        sets = ", ".join(f"(c{i}, c{j})" for i in range(K) for j in range(i + 1, K))
        r2 = log.sql(
            f"SELECT {', '.join(cols)}, GROUPING({', '.join(cols)}) AS gid, {aggs} FROM {base} GROUP BY GROUPING SETS ({sets})"
        ).df()
        for i in range(K):
            for j in range(i + 1, K):
                gid = (1 << K) - 1 - (1 << (K - 1 - i)) - (1 << (K - 1 - j))
                part = r2[r2["gid"] == gid]
                nb = groupings[j].n_groups
                flat = part[f"c{i}"].to_numpy(dtype=np.intp) * nb + part[f"c{j}"].to_numpy(dtype=np.intp)
                arrays = []
                for name in ("n", "s1", "s2", "hs"):
                    a = np.zeros(groupings[i].n_groups * nb)
                    a[flat] = part[name].to_numpy(dtype="float64")
                    arrays.append(a)
                pairs[(i, j)] = tuple(arrays)

    log.sql("DROP TABLE IF EXISTS _disc")

    def pair(i: int, j: int):
        cnt, s1, s2, hs = pairs[(i, j)]
        return cnt, lambda: (s1, s2, hs)

    sums = report_mod.SliceSums(
        conditions=[g.conditions for g in groupings],
        singles=singles,
        pair=pair,
        n=n,
        totals=(float(T1), float(T2), float(H), centre),
        columns=[g.column for g in groupings],
        skipped=skipped,
        loss_name=loss_name,
        metric=metric,
    )
    test = report_mod.DiscoveryTest(int(min_support), max_conditions, fdr, confidence)
    return report_mod.discovery_from_sums(sums, test, report=report)
