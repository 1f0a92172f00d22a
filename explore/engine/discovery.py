"""Weak-slice discovery on a log in the engine: counts and loss sums of every 1- and 2-condition slice.

One pass over the files does the heavy work whatever the number of columns: every row's group code of every
column (a TINYINT) and its loss — and its metric, unless the loss is 0/1, whose metric (accuracy) is one minus
it — are written once into a compact temp table (``_scodes``; 21 bytes a row for a 0/1 loss). Over it, one
``GROUP BY`` per *block* gives the pair sums: the columns are packed into a few blocks (the product of a block's
group counts at most ``BLOCK_GROUPS``) chosen so that every pair of columns shares a block — 20 columns make about
20 blocks instead of 190 pairs — and each pair's sums, and each column's, are added up from its first block. A
0/1 loss is summed as integer error counts, Σd and Σd² following from them and the counts as in memory; another
loss also needs the mean of each group's ``min_support`` largest losses (DuckDB's ``max(x, k)``), one ``GROUP BY``
per column. (One ``GROUPING SETS`` query straight over the files did the same in two passes but cost several
times more: its per-row expressions fed twenty hash tables at once.) Above ``explore.engine.grouping.BATCH_ROWS``
rows the columns are cut by ``group_columns`` in two passes (numeric edges from a sample; see there), the
many-valued columns' missing groups dropped afterwards where the codes table shows them empty. The test itself —
Welch per slice, the pruning bound, Benjamini–Hochberg, redundancy — is
``explore.slices.report.discovery_from_sums``, the same code as in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from explore.core.progress import Progress, no_progress
from explore.engine.grouping import BATCH_ROWS, EngineGrouping, group_column, group_columns
from explore.engine.log import LogTable
from explore.errors import AnalysisError
from explore.slices import report as report_mod
from explore.slices.grouping import MISSING_LABEL

_ZERO_ONE = "(CASE WHEN _pred = _y THEN 0.0 ELSE 1.0 END)"


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
        return _ZERO_ONE, "0/1 error"
    if loss == "error":
        if log.task == "regression":
            return "abs(_pred - _y)", "absolute error"
        return _ZERO_ONE, "0/1 error"
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
    where: str | None = None,
) -> report_mod.DiscoveryResult:
    """``explore.slices.report.weak_slices`` over every row of ``log`` (those matching the SQL ``where``), the sums
    computed by the engine.

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
    ok = f"isfinite({x})" + (f" AND ({where})" if where else "")
    if log.task == "regression":
        head, metric = "coalesce(CASE WHEN isnan(abs(_pred - _y)) THEN 0 ELSE abs(_pred - _y) END, 0)", "MAE"
    else:
        head, metric = "(CASE WHEN _pred = _y THEN 1.0 ELSE 0.0 END)", "accuracy"

    report(0.0, "Binning the columns")
    if total > BATCH_ROWS:
        groupings, skipped = group_columns(
            log,
            list(columns),
            bins=n_bins,
            max_groups=max_values + 1,
            id_ratio=report_mod._ID_LIKE_RATIO,
            count_missing=False,  # the many-valued columns' missing groups: dropped below when empty
        )
    else:
        groupings, skipped = _group_each(log, columns, n_bins, max_values, total, ok)
    if not groupings:
        _no_columns(skipped, columns)

    K = len(groupings)
    report(0.25, "Coding the rows")
    # Every row's group of every column and its loss (and, unless it follows from the loss, its metric),
    # computed once into a compact temp table: the one- and two-condition sums below are plain GROUP BYs over
    # its small integer columns.
    small = "TINYINT" if max(g.n_groups for g in groupings) < 127 else "SMALLINT"
    # A 0/1 loss is the complement of accuracy (the classifier's metric): the table holds the loss alone, and
    # its sums are integer counts of errors (Σd and Σd² follow from them and the count, as in memory).
    zero_one = x == _ZERO_ONE
    sel = ", ".join(f"CAST({g.code} AS {small}) AS c{i}" for i, g in enumerate(groupings))
    cols = (
        f"CAST({x} AS TINYINT) AS x" if zero_one else f"CAST({x} AS DOUBLE) AS x, CAST({head} AS DOUBLE) AS h"
    )
    log.sql(f"CREATE OR REPLACE TEMP TABLE _scodes AS SELECT {sel}, {cols} FROM rows WHERE {ok}")
    try:
        # The count and the mean loss of the rows with a finite loss, from the table (no second pass).
        n, centre = log.sql("SELECT count(*), avg(CAST(x AS DOUBLE)) FROM _scodes").fetchall()[0]
        n = int(n)
        if n < 2 * min_support:
            raise AnalysisError(
                f"Discovery needs at least {2 * min_support:,} rows with a finite loss (twice the minimum support "
                f"of {min_support:,}); received {n:,}. Lower the minimum support or widen the slice."
            )
        if total > BATCH_ROWS:
            groupings = _drop_empty_missing(log, groupings)
        k = int(min_support)
        if zero_one:
            sx = log.sql("SELECT CAST(sum(x) AS BIGINT) FROM _scodes").fetchall()[0][0]
            centre = float(sx) / n
            aggs, names = "count(*) AS n, CAST(sum(x) AS BIGINT) AS sx", ("n", "sx")
            T1, T2, H = (
                float(v[0]) for v in _from_counts(centre, np.array([n], float), np.array([sx], float))
            )
        else:
            centre = float(centre)
            d = f"(x - {centre!r})"
            aggs, names = (
                f"count(*) AS n, sum({d}) AS s1, sum({d} * {d}) AS s2, sum(h) AS hs",
                ("n", "s1", "s2", "hs"),
            )
            T1, T2, H = (float(v) for v in log.sql(f"SELECT {aggs} FROM _scodes").fetchall()[0][1:])

        def finish(values: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
            """(count, Σd, Σd², Σ metric) from a query's sums."""
            return (values[0], *_from_counts(centre, *values)) if zero_one else tuple(values)

        report(0.3, "Counting one- and two-condition slices")
        sizes = [g.n_groups for g in groupings]
        blocks, margins = {}, {}
        if max_conditions == 2 and K > 1:
            blocks, margins = _block_sums(log, sizes, aggs, names)
        singles = []
        for i, g in enumerate(groupings):
            if zero_one and i in margins:  # the k largest 0/1 losses: min(errors, k) ones among min(n, k)
                cnt, sxi = margins[i]
                with np.errstate(invalid="ignore", divide="ignore"):
                    b = np.where(cnt > 0, np.minimum(sxi, k) / np.minimum(cnt, k), -np.inf)
                singles.append((*finish(margins[i]), b))
                continue
            bound = (
                f"least(sum(x), {k}) / least(count(*), {k}) AS bound"
                if zero_one
                else f"list_sum(max(x, {k})) / len(max(x, {k})) AS bound"
            )
            r = log.sql(f"SELECT c{i} AS c, {aggs}, {bound} FROM _scodes GROUP BY 1").fetchnumpy()
            idx = np.asarray(r["c"], dtype=np.intp)
            arrays = []
            for name in names:
                a = np.zeros(g.n_groups)
                a[idx] = np.asarray(r[name], dtype="float64")
                arrays.append(a)
            b = np.full(g.n_groups, -np.inf)
            b[idx] = np.asarray(r["bound"], dtype="float64")
            singles.append((*finish(arrays), b))
        # A column whose rows all fall in one group says nothing.
        keep = [i for i in range(K) if (singles[i][0] > 0).sum() >= 2]
        for i in range(K):
            if i not in keep:
                skipped[groupings[i].column] = "has a single value"
        groupings = [groupings[i] for i in keep]
        singles = [singles[i] for i in keep]
        if not groupings:
            _no_columns(skipped, columns)
        pairs = {
            (a, b): finish(blocks[(keep[a], keep[b])])
            for a in range(len(keep))
            for b in range(a + 1, len(keep))
            if (keep[a], keep[b]) in blocks
        }
    finally:
        log.sql("DROP TABLE IF EXISTS _scodes")

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


# The largest number of groups of one block (the product of its columns' group counts): small hash tables.
BLOCK_GROUPS = 4096


def _group_each(
    log: LogTable, columns: Sequence[str], n_bins: int, max_values: int, total: int, ok: str
) -> tuple[list[EngineGrouping], dict[str, str]]:
    """Columns cut one by one, exactly as in memory (logs of at most ``BATCH_ROWS`` rows)."""
    groupings: list[EngineGrouping] = []
    skipped: dict[str, str] = {}
    for c in columns:
        try:
            g = group_column(log, c, bins=n_bins, max_groups=max_values + 1)
        except AnalysisError as exc:
            skipped[c] = str(exc)
            continue
        if (
            g.kind == "categorical"
            and len(g.labels) > max_values
            and log.sql(f"SELECT count(*) FROM rows WHERE {ok}").fetchall()[0][0] > 100
        ):
            unique = log.sql(f'SELECT count(DISTINCT "{c}") FROM rows').fetchall()[0][0]
            if unique / max(total, 1) > report_mod._ID_LIKE_RATIO:
                skipped[c] = "is an identifier (nearly every value distinct)"
                continue
        groupings.append(g)
    return groupings, skipped


def _no_columns(skipped: dict[str, str], columns: Sequence[str]) -> None:
    why = "; ".join(f"'{k}' {v}" for k, v in list(skipped.items())[:5]) or "no columns given"
    raise AnalysisError(
        report_mod.NO_COLUMNS.format(why=why, examples=", ".join(map(repr, list(columns)[:3])))
    )


def covering_blocks(sizes: Sequence[int], cap: int = BLOCK_GROUPS) -> list[list[int]]:
    """Blocks of column indices such that every pair of columns is in at least one block, each block's product of
    ``sizes`` at most ``cap`` (a pair whose own product exceeds it gets a block of its own). Greedy: a block
    grows by the column that covers most pairs not yet covered."""
    k = len(sizes)
    todo = {(i, j) for i in range(k) for j in range(i + 1, k)}
    blocks: list[list[int]] = []
    while todo:
        i, j = min(todo)
        block, size = [i, j], sizes[i] * sizes[j]
        while True:
            best, gain = None, 0
            for c in range(k):
                if c in block or size * sizes[c] > cap:
                    continue
                g = sum((min(b, c), max(b, c)) in todo for b in block)
                if g > gain:
                    best, gain = c, g
            if best is None:
                break
            block.append(best)
            size *= sizes[best]
        block.sort()
        todo -= {(a, b) for ai, a in enumerate(block) for b in block[ai + 1 :]}
        blocks.append(block)
    return blocks


def _drop_empty_missing(log: LogTable, groupings: list[EngineGrouping]) -> list[EngineGrouping]:
    """The groupings with a numeric column's missing group (its last code) dropped where no row of ``_scodes``
    has it: one pass over the small code columns (``max``) instead of one over the files counting the missing
    values. An empty group is never tested; dropping it keeps the pair blocks small."""
    last = [
        i
        for i, g in enumerate(groupings)
        if g.kind == "numeric" and g.labels and g.labels[-1] == MISSING_LABEL
    ]
    if not last:
        return groupings
    top = log.sql(f"SELECT {', '.join(f'max(c{i})' for i in last)} FROM _scodes").fetchall()[0]
    out = list(groupings)
    for i, m in zip(last, top, strict=True):
        g = groupings[i]
        if m is None or int(m) < g.n_groups - 1:
            out[i] = replace(g, labels=g.labels[:-1], conditions=g.conditions[:-1])
    return out


def _from_counts(centre: float, cnt: np.ndarray, sx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Σd, Σd², Σ accuracy) of groups of a 0/1 loss from their counts and error counts, d = x − ``centre``:
    (x − c)² = x(1 − 2c) + c², as ``explore.slices.report`` computes them in memory; accuracy = 1 − x."""
    s1 = sx - cnt * centre
    return s1, (s1 + cnt * centre) * (1 - 2 * centre) + cnt * centre**2, cnt - sx


def _block_sums(
    log: LogTable, sizes: Sequence[int], aggs: str, names: Sequence[str]
) -> tuple[dict[tuple[int, int], list[np.ndarray]], dict[int, list[np.ndarray]]]:
    """The sums ``aggs`` (named ``names``) of every pair of groups of every pair of columns, and of every group
    of each column: one ``GROUP BY`` of each covering block's code columns over the table ``_scodes``, each pair
    (and each column's groups) summed from its first block."""
    pairs: dict[tuple[int, int], list[np.ndarray]] = {}
    margins: dict[int, list[np.ndarray]] = {}
    for block in covering_blocks(sizes, BLOCK_GROUPS):
        listed = ", ".join(f"c{c} AS k{c}" for c in block)
        r = log.sql(f"SELECT {listed}, {aggs} FROM _scodes GROUP BY ALL").fetchnumpy()
        digits = {c: np.asarray(r[f"k{c}"], dtype="int64") for c in block}
        values = [np.asarray(r[name], dtype="float64") for name in names]
        for ai, a in enumerate(block):
            if a not in margins:
                margins[a] = [np.bincount(digits[a], weights=v, minlength=sizes[a]) for v in values]
            for b in block[ai + 1 :]:
                if (a, b) in pairs:
                    continue
                flat = digits[a] * sizes[b] + digits[b]
                pairs[(a, b)] = [np.bincount(flat, weights=v, minlength=sizes[a] * sizes[b]) for v in values]
    return pairs, margins
