"""Metrics per group with intervals, computed in DuckDB: the same formulas as ``explore.stats.metrics``.

The engine returns per-group sufficient statistics — counts of the confusion matrix, sums of per-row losses
(centred on their overall mean, as in memory), and for ROC AUC the exact rank sums with ties and the DeLong
placement sums by window functions over (group, score) blocks — and the interval formulas of
``explore.stats.metrics`` finish the job, so a log in DuckDB and the same rows in pandas give the same numbers.
A binary log gets all of them from one pass per request: the (group, label, score) cells (``_read_cells``; on a
big DuckDB log counted by compiled loops from per-row codes DuckDB streams, ``_stream_cells``), finished in numpy
(``CellsCtx``); past ``CELL_BUDGET`` cells the score is binned and each ROC AUC row's ``note``
states its exact maximum error. Multiclass and regression logs: no query per statistic either (``explore.engine.onepass``). The one difference: the multiclass macro ROC AUC never bootstraps (that would resample rows); its interval is
the normal one, and the ``note`` says so.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from explore.engine.log import LogTable, quote
from explore.errors import AnalysisError
from explore.stats import metrics as metrics_mod


@dataclass(frozen=True)
class _Meta:
    """What the metric functions read from a ``Scored``: the task and its classes."""

    task: str
    classes: np.ndarray | None
    positive_index: int | None


@dataclass(frozen=True)
class EngineTable:
    """An engine result for the charts: ``keys`` (one row per group or window code) and a long ``table`` whose
    ``code`` column (``group`` for metrics, ``window`` for drift) indexes them."""

    keys: pd.DataFrame
    table: pd.DataFrame
    code: str = "group"

    def key(self, column: str) -> np.ndarray:
        """The ``keys`` column ``column`` for each row of ``table``."""
        return self.keys[column].iloc[self.table[self.code]].to_numpy()

    def to_frame(self) -> pd.DataFrame:
        """``table`` with every key column for each row (a key column named like ``code`` replaces the codes)."""
        return self.table.assign(**{str(c): self.key(c) for c in self.keys.columns})


@dataclass(frozen=True)
class Grouping:
    """How the rows of a log are cut into groups: SQL expressions, their values per group (``keys``).

    ``code`` / ``levels``: when the groups are known in advance (calendar windows), each row's group as an integer
    (0 … len(levels) − 1) and each code's key as a SQL literal — a binary request on a big log then counts its
    cells from streamed rows (``_stream_cells``)."""

    exprs: tuple[str, ...]
    names: tuple[str, ...]
    where: str | None = None
    code: str | None = None
    levels: tuple[str, ...] = ()
    # Calendar windows that are the log's partitions (``_partition_windows``): the same codes from the partition
    # columns, and the condition still needed (None: every row has a timestamp).
    by_partition: tuple[str, str | None] | None = None


def _finite(x: str) -> str:
    return f"isfinite({x})"


_EPS = float(np.finfo(np.float64).eps)


class EngineCtx(metrics_mod._Ctx):
    """``explore.stats.metrics._Ctx`` whose per-group quantities are DuckDB queries over the view ``grp``."""

    rows_in_memory = False

    def __init__(self, log: LogTable, n_groups: int, confidence: float, complement: bool = False) -> None:
        self._setup(log, n_groups, confidence, complement)
        self._set_support(self._per_group("count(*)", rest=False)[0])

    def _setup(self, log: LogTable, n_groups: int, confidence: float, complement: bool) -> None:
        """What every engine context holds: the log, the task and classes, the groups, the interval level."""
        self.log = log
        self.scored = _Meta(log.task, log.classes, log.positive_index)  # type: ignore[assignment]
        self.zero_division = np.nan  # undefined precision / recall left out, as in memory by default
        self.complement = complement  # each group's *rest*: the other rows of the grouping (as in memory)
        self.codes = None  # type: ignore[assignment]
        self.G = n_groups
        self.conf = confidence
        self.z = metrics_mod._z(confidence)
        self.task = log.task
        self.K = log.K
        self._cache: dict[Any, Any] = {}
        self.all_kept = True

    def _set_support(self, rows_per_group: np.ndarray) -> None:
        support = rows_per_group.astype("int64")
        self.support = support.sum() - support if self.complement else support

    def _per_group(self, *aggs: str, where: str | None = None, rest: bool = True) -> list[np.ndarray]:
        """Each aggregate (a count or sum) per group code (0 where a group has no row), as float arrays; for the
        complement (``rest``), the total over every group minus the group's own."""
        cond = f"WHERE {where}" if where else ""
        rows = self.log.sql(f"SELECT g, {', '.join(aggs)} FROM grp {cond} GROUP BY g").fetchnumpy()
        out = []
        g = rows["g"].astype(np.intp)
        for name in list(rows)[1:]:
            a = np.zeros(self.G)
            a[g] = np.asarray(rows[name], dtype="float64")
            out.append(a.sum() - a if self.complement and rest else a)
        return out

    def bincount(self, weights: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        raise AnalysisError(
            "Per-row weights are not available in the engine: this metric needs an engine query."
        )

    @property
    def confusion(self) -> np.ndarray:
        def build() -> np.ndarray:
            K = self.K
            rows = self.log.sql(
                f"SELECT g, _y, CASE WHEN _pred < 0 THEN {K} ELSE _pred END AS p, count(*) AS n "
                "FROM grp WHERE _y >= 0 GROUP BY ALL"
            ).fetchnumpy()
            C = np.zeros((self.G, K, K + 1))
            np.add.at(
                C,
                (rows["g"].astype(np.intp), rows["_y"].astype(np.intp), rows["p"].astype(np.intp)),
                rows["n"],
            )
            return C.sum(axis=0, keepdims=True) - C if self.complement else C

        return self.memo("confusion", build)

    def auc_stats(self, k: int) -> dict[str, np.ndarray]:
        """Exact ROC AUC (rank sums with ties), DeLong placement sums and average precision, per group."""

        def build() -> dict[str, np.ndarray]:
            if self.complement:
                return self._complement_auc(k)
            s = "_score" if self.task == "binary" else f"_p{k}"
            q = f"""
            WITH b AS (
                SELECT g, {s} AS s, sum(CASE WHEN _y = {k} THEN 1 ELSE 0 END)::DOUBLE AS pos_b,
                       count(*)::DOUBLE AS n_b
                FROM grp WHERE {_finite(s)} GROUP BY g, {s}
            ), c AS (
                SELECT g, pos_b, n_b - pos_b AS neg_b,
                       sum(pos_b) OVER w - pos_b AS pos_less,
                       sum(n_b - pos_b) OVER w - (n_b - pos_b) AS neg_less,
                       sum(pos_b) OVER (PARTITION BY g) AS npos,
                       sum(n_b) OVER (PARTITION BY g) AS nall
                FROM b WINDOW w AS (PARTITION BY g ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            )
            SELECT g, any_value(npos) AS npos, any_value(nall) AS nall,
                   sum(pos_b * (neg_less + 0.5 * neg_b)) AS sum_pt,
                   sum(pos_b * (neg_less + 0.5 * neg_b) ** 2) AS sum_ptt,
                   sum(neg_b * (npos - pos_less - 0.5 * pos_b) ** 2) AS sum_nuu,
                   sum(pos_b * (npos - pos_less) / (nall - pos_less - neg_less)) AS sum_ap
            FROM c GROUP BY g
            """
            r = self.log.sql(q).fetchnumpy()
            g = r["g"].astype(np.intp)

            def col(name: str) -> np.ndarray:
                a = np.zeros(self.G)
                a[g] = np.asarray(r[name], dtype="float64")
                return a

            npos, nall = col("npos"), col("nall")
            nneg = nall - npos
            out = {"npos": npos, "nneg": nneg, "n": nall}
            out.update(
                metrics_mod.auc_from_sums(
                    npos, nneg, col("sum_pt"), col("sum_ptt"), col("sum_nuu"), col("sum_ap")
                )
            )
            return out

        return self.memo(("auc", k), build)

    def _complement_auc(self, k: int) -> dict[str, np.ndarray]:
        """ROC AUC of each group's rest by counting pairs, as ``explore.stats.metrics._complement_auc``: all
        concordant pairs − those with the positive in g − those with the negative in g + those with both in g
        (global placements by one window over the score blocks); Hanley–McNeil variance. Average precision of
        the rest is not computed (NaN, with the in-memory path's note)."""
        self.complement = False
        try:
            inside = self.auc_stats(k)
        finally:
            self.complement = True
        s = "_score" if self.task == "binary" else f"_p{k}"
        q = f"""
        WITH b AS (
            SELECT {s} AS s, g, sum(CASE WHEN _y = {k} THEN 1 ELSE 0 END)::DOUBLE AS pos_gb,
                   sum(CASE WHEN _y = {k} THEN 0 ELSE 1 END)::DOUBLE AS neg_gb
            FROM grp WHERE {_finite(s)} GROUP BY {s}, g
        ), t AS (SELECT s, sum(pos_gb) AS pos_b, sum(neg_gb) AS neg_b FROM b GROUP BY s
        ), c AS (
            SELECT s, pos_b, neg_b,
                   sum(neg_b) OVER (ORDER BY s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - neg_b AS neg_less,
                   sum(pos_b) OVER (ORDER BY s ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) - pos_b AS pos_more
            FROM t
        )
        SELECT b.g, sum(b.pos_gb * (c.neg_less + 0.5 * c.neg_b)) AS conc_pos,
               sum(b.neg_gb * (c.pos_more + 0.5 * c.pos_b)) AS conc_neg,
               any_value(tot.total) AS total
        FROM b JOIN c USING (s),
             (SELECT sum(pos_b * (neg_less + 0.5 * neg_b)) AS total FROM c) AS tot
        GROUP BY b.g
        """
        r = self.log.sql(q).fetchnumpy()
        g = r["g"].astype(np.intp)
        conc_pos, conc_neg = np.zeros(self.G), np.zeros(self.G)
        conc_pos[g] = np.asarray(r["conc_pos"], dtype="float64")
        conc_neg[g] = np.asarray(r["conc_neg"], dtype="float64")
        total = float(np.asarray(r["total"], dtype="float64")[0]) if len(g) else 0.0
        Np, Nn = inside["npos"].sum(), inside["nneg"].sum()
        return metrics_mod.complement_auc_from_pairs(
            inside, Np, Nn, total, conc_pos, conc_neg, np.full(self.G, np.nan)
        )

    def _row_expr(self, key: str) -> str:
        return _row_expr(self.log, key)

    def row_mean(self, key: str, values: Any) -> dict[str, np.ndarray]:
        def build() -> dict[str, np.ndarray]:
            x = self._row_expr(key)
            # Centred on the mean over all rows, as in memory (it avoids cancellation in the sum of squares).
            centre = _over_all_rows(self.log, f"avg({x}) FILTER (WHERE {_finite(x)})")
            centre = 0.0 if centre is None else float(centre)
            c = repr(centre)
            n, s1, s2 = self._per_group(
                "count(*)", f"sum({x} - {c})", f"sum(({x} - {c}) ** 2)", where=_finite(x)
            )
            return metrics_mod.mean_from_sums(n, s1, s2, centre, self.conf)

        return self.memo(("mean", key), build)

    def r2(self) -> metrics_mod._Res:
        ok = "isfinite(_y) AND isfinite(_pred - _y)"
        ybar = _over_all_rows(self.log, f"avg(_y) FILTER (WHERE {ok})")
        yc = f"(_y - {repr(float(ybar) if ybar is not None else 0.0)})"
        u, b = "((_pred - _y) ** 2)", f"({yc} ** 2)"
        terms = {
            "u": u, "a": yc, "b": b, "uu": f"{u} * {u}", "aa": b, "bb": f"{b} * {b}",
            "ua": f"{u} * {yc}", "ub": f"{u} * {b}", "ab": f"{b} * {yc}",
        }  # fmt: skip
        n, *sums = self._per_group("count(*)", *(f"sum({t})" for t in terms.values()), where=ok)
        return metrics_mod.r2_from_sums(self, n, dict(zip(terms, sums, strict=True)))


def _row_expr(log: LogTable, key: str) -> str:
    """SQL: the per-row quantity whose mean a metric is (log loss, Brier term, regression errors)."""
    if key == "log loss":
        p = log.p_true()
        # Clipped to [eps, 1 - eps] (float64 machine epsilon), as explore.stats.metrics and scikit-learn do.
        lo, hi = repr(_EPS), repr(1.0 - _EPS)
        return f"(-ln(CASE WHEN isnan({p}) THEN {p} WHEN {p} < {lo} THEN {lo} WHEN {p} > {hi} THEN {hi} ELSE {p} END))"
    if key == "brier":
        if log.task == "binary":
            k = log.positive_index
            return f"((_p{k} - CASE WHEN _y = {k} THEN 1.0 ELSE 0.0 END) ** 2)"
        return (
            "("
            + " + ".join(f"(_p{k} - CASE WHEN _y = {k} THEN 1.0 ELSE 0.0 END) ** 2" for k in range(log.K))
            + ")"
        )
    return {"abs err": "abs(_pred - _y)", "err": "(_pred - _y)", "sq err": "((_pred - _y) ** 2)"}[key]


def _over_all_rows(log: LogTable, agg: str) -> Any:
    """One aggregate over every row of the log, remembered on the log (the rows do not change while it is open):
    the centres of sums need it on every filter change, and it costs a pass over the files."""
    if agg not in log.memo:
        log.memo[agg] = log.sql(f"SELECT {agg} FROM rows").fetchall()[0][0]
    return log.memo[agg]


def _m_r2_engine(ctx: metrics_mod._Ctx, cls: int | None) -> metrics_mod._Res:
    return ctx.r2() if isinstance(ctx, EngineCtx) else metrics_mod._m_r2(ctx, cls)


def _define_groups(log: LogTable, grouping: Any, where: str | None = None) -> pd.DataFrame:
    """Create the view ``grp`` (rows with their group code ``g``) and return the groups' keys in code order.

    ``grouping``: a ``Grouping`` (distinct values of expressions) or an ``engine.grouping.EngineGrouping``
    (a column's bins / categories, as the Slices page cuts it)."""
    from explore.engine.grouping import EngineGrouping

    if isinstance(grouping, EngineGrouping):
        cond = f"g >= 0 AND ({where})" if where else "g >= 0"
        log.sql(
            f"CREATE OR REPLACE TEMP VIEW grp AS SELECT * FROM (SELECT rows.*, {grouping.code} AS g FROM rows AS rows) "
            f"AS rows WHERE {cond}"
        )
        return pd.DataFrame({grouping.column: grouping.labels})
    cols = [f"{e} AS k{i}" for i, e in enumerate(grouping.exprs)]
    conds = [f"({c})" for c in (grouping.where, where) if c]
    where = f"WHERE {' AND '.join(conds)}" if conds else ""
    order = ", ".join(f"k{i} NULLS LAST" for i in range(len(cols))) or "1"
    if cols:
        log.sql(
            f"CREATE OR REPLACE TEMP TABLE _keys AS SELECT *, (row_number() OVER (ORDER BY {order}) - 1)::INTEGER AS g "
            f"FROM (SELECT DISTINCT {', '.join(cols)} FROM rows {where})"
        )
        on = " AND ".join(f"({e}) IS NOT DISTINCT FROM _keys.k{i}" for i, e in enumerate(grouping.exprs))
        log.sql(
            f"CREATE OR REPLACE TEMP VIEW grp AS SELECT rows.*, _keys.g FROM rows JOIN _keys ON {on} {where}"
        )
        keys = log.sql("SELECT * FROM _keys ORDER BY g").df()
        keys = keys.drop(columns="g").set_axis(list(grouping.names), axis=1)
    else:
        log.sql(f"CREATE OR REPLACE TEMP VIEW grp AS SELECT rows.*, 0 AS g FROM rows {where}")
        keys = pd.DataFrame(index=range(1))
    return keys


# ---- binary logs: one pass per request ---------------------------------------------------------------------
#
# A binary request (overall, a group-by, a filter's groups, time windows) reads the rows once: one aggregation
# gives the counts per (group, label, score) cell, with the predictions counted per class and, where a metric's
# per-row quantity is not a function of the label and the score, its sums. Everything else — confusion matrices,
# the exact ROC AUC (rank sums with ties), DeLong placements, average precision, the rest of each group, the
# means with their intervals — is finished in numpy on that small table, by explore.stats.metrics' formulas.

# Cells (group × label × distinct score) computed exactly up to this many (estimated); above it the score is cut
# into equal-width bins so that the table has about BINNED_CELLS cells (at least MIN_BINS bins per group): at 100M
# rows the cost of the pass is its hash table (measured at 10M rows, CPU seconds: 180 groups 0.35, 23k cells 0.8,
# 370k cells 1.6, 3.1M exact cells 3.9).
CELL_BUDGET = 600_000
BINNED_CELLS = 50_000
MIN_BINS = 64
# Rows of the DuckDB system sample that estimates how many groups a grouping of expressions has, and how many
# distinct scores the log has.
GROUP_SAMPLE_ROWS = 200_000
NOTE_BINNED = (
    "histogram approximation: scores cut into {bins:,} bins (pairs tied in a bin count ½); the exact value is within "
    "±{bound:.1e}; interval approximate"
)
NOTE_BINNED_AP = "histogram approximation: scores cut into {bins:,} bins"


@dataclass(frozen=True)
class ScoreBins:
    """Equal-width bins of the score over [lo, hi] (``n`` of them, the highest score alone in one more): the cells'
    score when exact ones are too many."""

    n: int
    lo: float
    hi: float

    def sql(self, s: str) -> str:
        width = (self.hi - self.lo) / self.n if self.hi > self.lo else 1.0
        return f"(CASE WHEN {_finite(s)} THEN CAST(floor(({s} - {self.lo!r}) / {width!r}) AS INTEGER) END)"


@dataclass
class _Cells:
    """The (group, label, prediction, score) table of one request: one row per cell (``pred``: its rows in the
    prediction's column)."""

    g: np.ndarray  # group code
    y: np.ndarray  # label code (-1: not a class)
    s: np.ndarray  # score (or bin), NaN where the score is missing / not finite
    n: np.ndarray  # rows
    pred: (
        np.ndarray
    )  # (cells, K + 1): rows predicted as each class, the last column a prediction outside them
    sums: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # key -> (finite count, sum, sum of squares)
    bins: ScoreBins | None


def _small_sample(log: LogTable) -> str:
    """SQL: DuckDB's system sample of about ``GROUP_SAMPLE_ROWS`` rows of a bigger log ("" for every row: a small
    log, or Spark)."""
    n = int(_over_all_rows(log, "count(*)"))
    if isinstance(log.con, duckdb.DuckDBPyConnection) and n > GROUP_SAMPLE_ROWS:
        return f"USING SAMPLE {100.0 * GROUP_SAMPLE_ROWS / n!r} PERCENT (system, 0)"
    return ""


def _score_stats(
    log: LogTable, sampled: tuple[str, str] | None = None
) -> tuple[float, float | None, float | None]:
    """(distinct finite scores, lowest, highest), estimated once from a small system sample of the rows (DuckDB;
    every row elsewhere): a sample whose scores are mostly distinct means continuous scores (as many as rows); the
    lowest and highest only place the bins (a score outside them gets a bin beyond, in order). ``sampled``: (the
    sample clause, a table of that sample with the score as ``s``) when the caller drew it already."""
    if "score stats" not in log.memo:
        draw, table = sampled or (_small_sample(log), None)
        fin = f"FILTER (WHERE {_finite('s')})"
        # On DuckDB the sample's distinct scores too, for _score_grid: the sample is a pass over the files.
        listed = (
            f", list(DISTINCT s ORDER BY s) {fin}" if isinstance(log.con, duckdb.DuckDBPyConnection) else ""
        )
        m, distinct, lo, hi, *values = log.sql(
            f"SELECT count(*) {fin}, count(DISTINCT s) {fin}, min(s) {fin}, max(s) {fin}{listed} "
            f"FROM {table or f'(SELECT _score AS s FROM rows {draw})'} AS r"
        ).fetchall()[0]
        if values:
            log.memo["sample scores"] = np.asarray(values[0] or [], dtype="float64")
        d = float(distinct or 0)
        if draw and d > 0.5 * float(m or 0):
            d = float(_over_all_rows(log, "count(*)"))
        log.memo["score stats"] = (d, lo, hi)
    return log.memo["score stats"]


def _estimate_groups(log: LogTable, grouping: Any, where: str | None) -> int:
    """How many groups a grouping has: known for a column's bins and overall; for expressions, the distinct keys
    of a small system sample (DuckDB; a distinct count elsewhere), remembered on the log."""
    from explore.engine.grouping import EngineGrouping

    if isinstance(grouping, EngineGrouping):
        return grouping.n_groups
    if not grouping.exprs:
        return 1
    key = ("groups", grouping.exprs, grouping.where, where)
    if key not in log.memo:
        conds = [f"({c})" for c in (grouping.where, where) if c]
        cond = f"WHERE {' AND '.join(conds)}" if conds else ""
        sel = ", ".join(grouping.exprs)
        draw = _small_sample(log)
        q = f"SELECT count(*) FROM (SELECT DISTINCT {sel} FROM (SELECT * FROM rows {draw}) AS rows {cond}) AS d"
        log.memo[key] = max(int(log.sql(q).fetchall()[0][0]), 1)
    return log.memo[key]


def _score_dim(log: LogTable, groups: Callable[[], int]) -> tuple[str | None, ScoreBins | None]:
    """The cells' score: exact when (groups × labels × distinct scores) fits ``CELL_BUDGET`` (or the log has fewer
    rows than that), else ``ScoreBins`` sized to it."""
    if not log.has_score:
        return None, None
    if int(_over_all_rows(log, "count(*)")) <= CELL_BUDGET:
        return "_score", None
    distinct, lo, hi = _score_stats(log)
    labels = max(log.K, 2)
    if lo is None:
        return "_score", None
    G = groups()
    if G * labels * distinct <= CELL_BUDGET:
        return "_score", None
    n_bins = max(BINNED_CELLS // (G * labels), MIN_BINS)
    if n_bins >= distinct:
        return "_score", None
    bins = ScoreBins(int(n_bins), float(lo), float(hi))
    return bins.sql("_score"), bins


def _derivable(log: LogTable, bins: ScoreBins | None) -> bool:
    """Log loss and Brier per row are functions of (label, score): a binary score column in [0, 1], exact cells."""
    return bins is None and log.task == "binary" and log.has_proba and bool(log.columns.score)


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    return np.array(pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan))


@dataclass(frozen=True)
class _Part:
    """One aggregation of a request: ``inner`` per-row expressions computed once (an inner projection), ``sets``
    the columns of each grouping set besides the group (one set: a plain GROUP BY), ``aggs`` its aggregates and
    ``flags`` the ``GROUPING(column)`` outputs that name each row's set."""

    inner: list[str]
    sets: list[list[str]]
    aggs: list[str]
    flags: list[str] = field(default_factory=list)

    def sql(self, key_cols: list[str], names: list[str], conds: list[str], outer: str = "") -> str:
        cond = f"WHERE {' AND '.join(f'({c})' for c in conds)}" if conds else ""
        sel = ", ".join(key_cols + self.inner)
        if len(self.sets) == 1:
            by = ", ".join(names + self.sets[0])
        else:
            by = "GROUPING SETS (" + ", ".join("(" + ", ".join(names + s) + ")" for s in self.sets) + ")"
        dims = list(dict.fromkeys(c for s in self.sets for c in s))
        head = ", ".join(names + dims + self.aggs + self.flags)
        group_by = f"GROUP BY {by}" if by else ""  # nothing to group by: one row, the totals
        return f"SELECT {head} FROM (SELECT {sel} FROM rows AS rows {cond}) AS c {outer} {group_by}"


def _aggregate(
    log: LogTable, grouping: Any, where: str | None, hashed: pd.DataFrame | None, parts: list[_Part]
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """``(keys, frames)``: the groups and, per part, its aggregation of the request's rows with the group code ``g``.

    ``hashed``: the keys of ``_hashed_keys`` (its temp table ``_keys``), or None. The binary cells are one part
    (``_read_cells``), a multiclass request two (``explore.engine.onepass``)."""
    from explore.engine.grouping import EngineGrouping

    if isinstance(grouping, EngineGrouping):
        cond = [where] if where else []
        frames = [log.sql(p.sql([f"{grouping.code} AS g"], ["g"], cond, "WHERE g >= 0")).df() for p in parts]
        return pd.DataFrame({grouping.column: grouping.labels}), frames
    if not grouping.exprs:
        frames = [log.sql(p.sql([], [], [where] if where else [])).df().assign(g=0) for p in parts]
        return pd.DataFrame(index=range(1)), frames
    conds = [c for c in (grouping.where, where) if c]
    if hashed is not None:
        try:
            frames = [
                log.sql(
                    f"SELECT _keys.g AS g, c.* FROM ({p.sql([f'{_key_hash(grouping.exprs)} AS h'], ['h'], conds)}) "
                    "AS c JOIN _keys ON c.h = _keys.h"
                ).df()
                for p in parts
            ]
        finally:
            log.sql("DROP TABLE IF EXISTS _keys")
        return hashed, frames
    ks = [f"k{i}" for i in range(len(grouping.exprs))]
    cols = [f"{e} AS {k}" for e, k in zip(grouping.exprs, ks, strict=True)]
    tables = [f"_cells{i}" for i in range(len(parts))]
    try:
        for table, p in zip(tables, parts, strict=True):
            log.sql(f"CREATE OR REPLACE TEMP TABLE {table} AS {p.sql(cols, ks, conds)}")
        order = ", ".join(f"{k} NULLS LAST" for k in ks)
        seen = " UNION ".join(f"SELECT DISTINCT {', '.join(ks)} FROM {t}" for t in tables)
        log.sql(
            f"CREATE OR REPLACE TEMP TABLE _keys AS SELECT *, (row_number() OVER (ORDER BY {order}) - 1) AS g "
            f"FROM ({seen}) AS d"
        )
        keys = log.sql("SELECT * FROM _keys ORDER BY g").df()
        keys = keys.drop(columns="g").set_axis(list(grouping.names), axis=1)
        frames = []
        for t in tables:
            on = " AND ".join(f"{t}.{k} IS NOT DISTINCT FROM _keys.{k}" for k in ks)
            frames.append(log.sql(f"SELECT _keys.g AS g, {t}.* FROM {t} JOIN _keys ON {on}").df())
    finally:
        for t in [*tables, "_keys"]:
            log.sql(f"DROP TABLE IF EXISTS {t}")
    return keys, frames


def _read_cells(
    log: LogTable, grouping: Any, where: str | None, sum_keys: list[str]
) -> tuple[pd.DataFrame, _Cells]:
    """``(keys, cells)``: the groups and the one aggregation of the request's rows (counted from streamed rows on a big
    DuckDB log when its groups have codes: ``_stream_cells``)."""

    streamed = _stream_cells(log, grouping, where, sum_keys)
    if streamed is not None:
        return streamed
    hashed = _hashed_keys(log, grouping, where)
    if hashed is not None:
        sdim, bins = _score_dim(log, lambda: max(len(hashed), 1))
    else:
        sdim, bins = _score_dim(log, lambda: _estimate_groups(log, grouping, where))
    K = log.K
    # Every per-row expression computed once, in an inner projection; the aggregation reads its columns. The label
    # and the prediction are one small key ``yp`` of the cells rather than a count per class: one aggregate fewer
    # per class (measured at 10M rows, CPU: 180 groups × 138 bins 0.52 s against 0.62 s; 24 windows × 10,001
    # exact scores 0.56 s against 0.76 s). A cell is then a (group, label, prediction, score) cell.
    inner = [f"(coalesce(_y, -1) + 1) * {K + 1} + coalesce(_pred, -1) + 1 AS yp"] + (
        [f"{sdim} AS s"] if sdim else []
    )
    dims = ["yp"] + (["s"] if sdim else [])
    aggs = ["count(*) AS n"]
    sums = [] if _derivable(log, bins) else sum_keys
    for i, key in enumerate(sums):
        inner.append(f"{_row_expr(log, key)} AS x{i}")
        ok = f"FILTER (WHERE {_finite(f'x{i}')})"
        aggs += [f"count(*) {ok} AS c{i}", f"sum(x{i}) {ok} AS s{i}", f"sum(x{i} * x{i}) {ok} AS q{i}"]
    keys, (frame,) = _aggregate(log, grouping, where, hashed, [_Part(inner, [dims], aggs)])
    m = len(frame)
    n = _numeric(frame, "n")
    yp = _numeric(frame, "yp").astype(np.intp)
    y, pr = yp // (K + 1) - 1, yp % (K + 1) - 1
    pred = np.zeros((m, K + 1))
    pred[np.arange(m), np.where(pr >= 0, pr, K)] = n  # the last column: a prediction outside the classes
    cells = _Cells(
        g=_numeric(frame, "g").astype(np.intp),
        y=y,
        s=_numeric(frame, "s") if sdim else np.full(m, np.nan),
        n=n,
        pred=pred,
        sums={
            key: tuple(np.nan_to_num(_numeric(frame, f"{c}{i}")) for c in "csq")  # type: ignore[misc]
            for i, key in enumerate(sums)
        },
        bins=bins,
    )
    if sdim and bins is None:
        cells.s[~np.isfinite(cells.s)] = np.nan
    return keys, cells


# ---- binary logs at scale: the cells counted from streamed rows -----------------------------------------------
#
# Above STREAM_ROWS rows (DuckDB), the cells are not a DuckDB hash aggregation (its hash table was most of the
# request's cost): DuckDB computes, in parallel, each row's integer group code, label and prediction codes and
# score, streamed as Arrow record batches, and compiled loops (explore.engine.cellcount) count the cells into a
# dense (group × label/prediction × score slot) table. benchmarks/bench_groupwin.py, CPU seconds of the
# request (loaded machine, same run), 10M rows: 3 string columns × 138 bins 0.83 against 1.32 for DuckDB's
# cells; 24 windows × 10,001 exact scores 0.76 against 0.96; 100M: 7.55 against 12.03 and 6.39 against 7.75.
STREAM_ROWS = 2_000_000
STREAM_BATCH = 1 << 22
# Slots of the dense table (groups × (K + 1)² label/prediction codes × score slots) up to which it is counted.
DENSE_CELLS = 4_000_000
# Groups of expressions counted by the hash of their keys: up to this many distinct keys in the sample.
MAX_CODED_GROUPS = 20_000
# A score grid: scores that are all multiples of 1 / steps, with at most this many steps per unit and slots.
MAX_GRID_STEPS = 1 << 20
MAX_GRID_SLOTS = 1 << 21


@dataclass(frozen=True)
class ScoreGrid:
    """Scores that are all multiples of ``1 / steps`` (rounded decimals): slot ``i`` holds the score
    ``(first + i) / steps`` exactly, so that exact cells have an integer key. Found from the sample of the rows;
    every streamed row is checked against it (a row off the grid sends the request back to DuckDB's cells)."""

    steps: int
    first: int
    slots: int

    def values(self) -> np.ndarray:
        return (self.first + np.arange(self.slots, dtype="float64")) / self.steps


def _score_grid(log: LogTable) -> ScoreGrid | None:
    """The coarsest grid the sample's finite scores lie on (steps of a power of ten up to 10⁶, or the inverse of
    their smallest gap when it is a whole number), from the floor of the lowest to the ceiling of the highest;
    None when they lie on none. Once per log."""
    if "score grid" not in log.memo:
        _score_stats(log)
        u = log.memo.get("sample scores", np.zeros(0))
        grid = None
        if len(u) >= 2:
            gap = float(np.diff(u).min())
            candidates = {10**d for d in range(7)} | (
                {int(round(1.0 / gap))} if gap > 1.0 / MAX_GRID_STEPS else set()
            )
            for steps in sorted(candidates):
                if not 1 <= steps <= MAX_GRID_STEPS or not (np.rint(u * steps) / steps == u).all():
                    continue
                first = int(np.floor(u[0])) * steps
                slots = int(np.ceil(u[-1])) * steps - first + 1
                if slots <= MAX_GRID_SLOTS:
                    g = ScoreGrid(steps, first, slots)
                    grid = g if (np.diff(g.values()) > 0).all() else None
                break
        log.memo["score grid"] = grid
    return log.memo["score grid"]


@dataclass(frozen=True)
class _Coded:
    """A grouping as integer codes of the rows: ``code`` (SQL giving 0 … ``size`` − 1; with ``hashes``, the hash of
    the row's keys, looked up among ``hashes`` — those of the keys the sample saw, in code order), whether every
    code is a group whatever its rows (``all_kept``), and the keys of the present codes."""

    code: str
    size: int
    conds: list[str]
    all_kept: bool
    keys: Callable[[np.ndarray], pd.DataFrame]
    hashes: np.ndarray | None = None


def _coded(log: LogTable, grouping: Any, where: str | None) -> _Coded | None:
    """The request's groups as integer codes, or None (then DuckDB's cells): a column's bins, overall, calendar
    windows, or the distinct keys of expressions that the sample of the rows saw (at most ``MAX_CODED_GROUPS``;
    each row's keys hashed by DuckDB, a hash the sample did not see sends the request back to DuckDB's cells)."""
    from explore.engine.grouping import EngineGrouping

    if isinstance(grouping, EngineGrouping):
        conds = [where] if where else []
        return _Coded(
            f"({grouping.code})",
            grouping.n_groups,
            conds,
            True,
            lambda present: pd.DataFrame({grouping.column: grouping.labels}),
        )
    conds = [c for c in (grouping.where, where) if c]
    if not grouping.exprs:
        return _Coded("0", 1, conds, True, lambda present: pd.DataFrame(index=range(1)))
    if grouping.code is not None:
        levels = grouping.levels
        code = grouping.code
        if grouping.by_partition is not None:  # the same code for every row, without reading the timestamps
            code, present = grouping.by_partition
            conds = [c for c in (present, where) if c]

        def window_keys(present: np.ndarray) -> pd.DataFrame:
            if not len(present):
                return pd.DataFrame({n: [] for n in grouping.names})
            listed = ", ".join(f"({levels[i]})" for i in present)
            return (
                log.sql(f"SELECT * FROM (VALUES {listed}) AS t(k0)")
                .df()
                .set_axis(list(grouping.names), axis=1)
            )

        return _Coded(f"({code})", len(levels), conds, False, window_keys)
    memo = ("seen keys", grouping.exprs, grouping.where, where)
    if memo not in log.memo or log.memo[memo] == "sample":
        thorough = log.memo.get(memo) == "sample"  # the first rows missed a key: the system sample's keys
        ks = [f"k{i}" for i in range(len(grouping.exprs))]
        cols = ", ".join(f"{e} AS {k}" for e, k in zip(grouping.exprs, ks, strict=True))
        cond = f"WHERE {' AND '.join(f'({c})' for c in conds)}" if conds else ""
        order = ", ".join(f"{k} NULLS LAST" for k in ks)
        log.memo["seen tables"] = log.memo.get("seen tables", -1) + 1  # a new name for each draw
        table = f"_seen{log.memo['seen tables']}"
        draw = _small_sample(log)
        sampled, hashed = f"(SELECT * FROM rows {draw}) AS rows {cond}", _key_hash(list(grouping.exprs))
        first_rows = False
        if "score stats" not in log.memo and log.has_score:
            # The log's first request: one sample pass for the keys and the score's statistics (_score_stats).
            inside = " AND ".join(f"({c})" for c in conds) or "TRUE"
            log.sql(
                f"CREATE OR REPLACE TEMP TABLE _sample AS SELECT {cols}, {hashed} AS h, "
                f"_score AS s, {inside} AS inside FROM (SELECT * FROM rows {draw}) AS rows"
            )
            _score_stats(log, (draw, "_sample"))
            sampled, hashed, cols = "_sample WHERE inside", "h", ", ".join(ks)
        elif draw and not thorough:
            # The first rows within the conditions: the scan stops there (3 string keys at 100M rows: 0.01 s CPU
            # against 0.5 s for the system sample, which reads every row group). A key they missed is found by the
            # stream, which then comes back for the system sample's keys (_stream_cells).
            sampled = f"(SELECT * FROM rows AS rows {cond} LIMIT {GROUP_SAMPLE_ROWS}) AS rows"
            first_rows = True
        log.sql(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT *, (row_number() OVER (ORDER BY {order}) - 1) AS g "
            f"FROM (SELECT DISTINCT {cols}, {hashed} AS h "
            f"FROM {sampled} LIMIT {MAX_CODED_GROUPS + 1}) AS d"
        )
        log.sql("DROP TABLE IF EXISTS _sample")
        h = log.sql(f"SELECT h FROM {table} ORDER BY g").fetchnumpy()["h"]
        h = np.asarray(h, dtype=np.uint64)
        ok = 0 < len(h) <= MAX_CODED_GROUPS and len(np.unique(h)) == len(h)
        log.memo[memo] = (table, h, first_rows) if ok else None
        if ok and not first_rows:  # for _estimate_groups: the groups the sample saw
            # (Not the first rows' count: a log written key by key shows one key there. The stream records the
            # count once every row's key was among them.)
            groups = ("groups", grouping.exprs, grouping.where, where)
            log.memo[groups] = len(h) if thorough else log.memo.get(groups, len(h))
    if log.memo[memo] is None:
        return None
    table, hashes, _ = log.memo[memo]

    def keys(present: np.ndarray) -> pd.DataFrame:
        listed = ", ".join(map(str, present.tolist())) or "NULL"
        ks = ", ".join(f"k{i}" for i in range(len(grouping.exprs)))
        frame = log.sql(f"SELECT {ks} FROM {table} WHERE g IN ({listed}) ORDER BY g").df()
        return frame.set_axis(list(grouping.names), axis=1)

    return _Coded(_key_hash(list(grouping.exprs)), len(hashes), conds, False, keys, hashes)


class _HashCodes:
    """Row hashes -> codes by a table of a slice of their bits where the seen hashes differ; a row whose full hash
    is not the seen one at its slot is not a seen key."""

    def __init__(self, hashes: np.ndarray) -> None:
        bits = max(int(np.ceil(np.log2(len(hashes) + 1))) + 2, 8)
        while True:  # the top bits first (one shift per row), else any slice of them
            mask = np.uint64((1 << bits) - 1)
            for shift in range(64 - bits, -1, -4):
                slots = (hashes >> np.uint64(shift)) & mask
                if len(np.unique(slots)) == len(hashes):
                    self.shift, self.mask = np.uint64(shift), None if shift == 64 - bits else mask
                    self.bits_mask = mask  # the compiled lookup masks in either case
                    self.code = np.full(1 << bits, len(hashes), dtype=np.intp)
                    self.code[slots] = np.arange(len(hashes))
                    self.full = np.zeros(1 << bits, dtype=np.uint64)
                    self.full[slots] = hashes
                    self.full[self.code == len(hashes)] = ~hashes[0]  # an empty slot matches no seen hash
                    return
            bits += 1

    def __call__(self, h: np.ndarray, out: np.ndarray | None = None) -> np.ndarray | None:
        """The codes of the hashes ``h`` (into ``out``), or None when one is not a seen hash (compiled:
        ``explore.engine.cellcount.group_codes``)."""
        from explore.engine import cellcount

        out = np.empty(len(h), dtype=np.intp) if out is None else out
        found = cellcount.group_codes(
            h, out, True, self.shift, self.bits_mask, self.code, self.full, len(self.code)
        )
        return out if found else None


def _load_cellcount() -> None:
    from explore.engine import cellcount

    cellcount.warm()


def _stream_cells(
    log: LogTable, grouping: Any, where: str | None, sum_keys: list[str]
) -> tuple[pd.DataFrame, _Cells] | None:
    """``_read_cells`` for a big binary DuckDB log, counted by ``explore.engine.cellcount``; None when it does not
    apply (a small log, Spark, groups not codable, an exact score off any grid, a dense table too big) or when a
    row had a group value the sample did not see or a score off the grid (then DuckDB's cells count the request;
    keys drawn from the first rows only are drawn again from the system sample first)."""
    if (
        log.task != "binary"
        or not log.has_score
        or not isinstance(log.con, duckdb.DuckDBPyConnection)
        or int(_over_all_rows(log, "count(*)")) <= STREAM_ROWS
    ):
        return None
    # The compiled loops are loaded in a thread meanwhile: their first load in a process (≈ 0.4 s CPU, numba's
    # import included) overlaps the sample and the first batch DuckDB reads, which release the GIL.
    loading = threading.Thread(target=_load_cellcount, daemon=True)
    loading.start()
    coded = _coded(log, grouping, where)
    if coded is None:
        return None
    # Hashed keys (a Grouping's expressions): drawn from the first rows, or from the system sample
    seen_memo = ("seen keys", grouping.exprs, grouping.where, where) if coded.hashes is not None else None
    drawn = log.memo.get(seen_memo) if seen_memo is not None else None
    first_rows = isinstance(drawn, tuple) and bool(drawn[2])

    def sample_keys() -> tuple[pd.DataFrame, _Cells] | None:
        """The first rows' keys cannot decide this request: once more with the system sample's."""
        log.memo[seen_memo] = "sample"
        return _stream_cells(log, grouping, where, sum_keys)

    if coded.all_kept or grouping.code is not None or not grouping.exprs or first_rows:
        # Keys from the first rows: as many groups as they hold, checked by the stream (a row with another key
        # sends the request back for the system sample's keys, and so does giving up before the first batch).
        _, bins = _score_dim(log, lambda: coded.size)
    else:
        _, bins = _score_dim(log, lambda: _estimate_groups(log, grouping, where))
    sums = [] if _derivable(log, bins) else sum_keys
    # The exact score's slot on a grid: the exact cells' key, or, with bins, the key of per-row losses looked up
    # in a table (no per-row loss from DuckDB).
    grid = _score_grid(log) if bins is None or (sums and _derivable(log, None)) else None
    if bins is None and grid is None:
        return sample_keys() if first_rows else None
    K = log.K
    YP = (K + 1) ** 2
    S = (bins.n + 3) if bins is not None else grid.slots + 1  # type: ignore[union-attr]  # the last: no score
    size = coded.size * YP * S
    if size > DENSE_CELLS:
        return sample_keys() if first_rows else None
    # With a grid, a row's cell within its group is r = yp × (slots + 1) + exact slot: the exact cells' own, and
    # through cell_of the binned cells' and the loss tables' index.
    G1 = grid.slots + 1 if grid is not None else 0  # type: ignore[union-attr]
    sel = [
        f"{coded.code} AS g" if coded.hashes is not None else f"{coded.code}::INTEGER AS g",
        f"((coalesce(_y, -1) + 1) * {K + 1} + coalesce(_pred, -1) + 1)::UTINYINT AS yp",
        "coalesce(_score, 'nan'::DOUBLE) AS s",
    ]
    if grid is None:
        sel += [f"coalesce({_row_expr(log, key)}, 'nan'::DOUBLE) AS x{i}" for i, key in enumerate(sums)]
    lookup = _HashCodes(coded.hashes) if coded.hashes is not None else None
    cond = f"WHERE {' AND '.join(f'({c})' for c in coded.conds)}" if coded.conds else ""
    q = f"SELECT {', '.join(sel)} FROM rows AS rows {cond}"
    if coded.all_kept:
        q = f"SELECT * FROM ({q}) AS r WHERE g >= 0"
    width = ((bins.hi - bins.lo) / bins.n if bins.hi > bins.lo else 1.0) if bins is not None else 0.0
    tables: list[tuple[np.ndarray, np.ndarray]] = []
    derive_count = False
    cell_of = None  # with a grid and bins: r -> yp × S + the bin of r's exact slot
    if grid is not None:
        values = np.append(grid.values(), np.nan)  # by exact slot; the last: no finite score
        if bins is not None:
            binned = np.floor((values - bins.lo) / width)
            bin_of = (np.clip(np.nan_to_num(binned), -1, bins.n) + 1).astype(np.intp)
            bin_of[-1] = S - 1
            cell_of = (np.arange(YP)[:, None] * S + bin_of[None, :]).ravel()
        ycode = np.repeat(np.arange(YP) // (K + 1) - 1, len(values))
        for (
            key
        ) in sums:  # per (label/prediction code, exact slot): the loss (0 where undefined), whether defined
            x = _loss_values(key, log.positive_index, ycode, np.tile(values, YP))
            ok = np.isfinite(x)
            tables.append((np.where(ok, x, 0.0), ok.astype("float64")))
        # Defined exactly for a label and a finite score (the losses are clipped): then counted from the cells.
        labelled = (ycode >= 0) & np.isfinite(np.tile(values, YP))
        derive_count = all((t[1].astype(bool) == labelled).all() for t in tables)
    fill = grid.first / grid.steps if grid is not None else 0.0  # the score put in a missing one's place
    counts = np.zeros(size, dtype=np.int64)
    sx = np.zeros((len(sums), 3, coded.size))
    mapped = cell_of is not None
    if cell_of is None:
        cell_of = np.zeros(0, dtype=np.intp)
    zero, no_code, no_full = np.uint64(0), np.zeros(1, dtype=np.intp), np.zeros(1, dtype=np.uint64)
    g = r = np.empty(0, dtype=np.intp)
    retry = False
    reader = log.con.sql(q).to_arrow_reader(STREAM_BATCH)
    try:
        batches = iter(reader)
        first_batch = next(batches, None)  # DuckDB reads while the loops load
        loading.join()
        from explore.engine import cellcount  # numba: imported by this path only

        for batch in itertools.chain([first_batch] if first_batch is not None else [], batches):
            m = batch.num_rows
            if m == 0:
                continue
            if len(g) < m:
                g, r = np.empty(m, dtype=np.intp), np.empty(m, dtype=np.intp)
            codes, cell = g[:m], r[:m]
            raw = batch.column(0).to_numpy()
            if lookup is not None:
                seen = lookup(raw, codes) is not None
            else:
                seen = cellcount.group_codes(raw, codes, False, zero, zero, no_code, no_full, coded.size)
            if not seen:  # keys the sample did not see
                if lookup is not None:
                    if first_rows:  # the first rows' keys: once more with the system sample's
                        retry = True
                        break
                    log.memo[seen_memo] = (
                        None  # remembered: this grouping's next request goes to DuckDB's cells
                    )
                return None
            yp = batch.column(1).to_numpy()
            s = batch.column(2).to_numpy()
            # cell = (label/prediction code, exact slot): the exact cells' and the loss tables' index
            if grid is not None:
                if not cellcount.grid_cells(yp, s, grid.steps, grid.first, grid.slots, G1, fill, cell):
                    log.memo["score grid"] = None  # remembered: the next requests skip the stream
                    return None
            else:  # a score outside the sample's range shares an edge bin (its ties are in the stated error)
                cellcount.bin_cells(yp, s, bins.lo, width, bins.n, S, cell)  # type: ignore[union-attr]
            cellcount.count_cells(codes, cell, counts, YP * S, cell_of, mapped)
            for i in range(len(sums)):
                if grid is not None:  # per-row losses looked up by (label/prediction code, exact slot)
                    loss, defined = tables[i]
                    cellcount.group_sums(codes, cell, loss, sx[i, 1], sx[i, 2], True)
                    if not derive_count:
                        cellcount.group_sums(codes, cell, defined, sx[i, 0], sx[i, 0], False)
                else:  # the per-row losses DuckDB streamed (scores on no grid)
                    x = batch.column(3 + i).to_numpy()
                    okb = np.isfinite(x)
                    xs = np.where(okb, x, 0.0)
                    sx[i, 0] += np.bincount(codes, weights=okb, minlength=coded.size)
                    sx[i, 1] += np.bincount(codes, weights=xs, minlength=coded.size)
                    sx[i, 2] += np.bincount(codes, weights=xs * xs, minlength=coded.size)
    finally:
        reader.close()
    if retry:
        return sample_keys()
    if first_rows:  # every row's key was among the first rows': their count is the groups' (_estimate_groups)
        log.memo[("groups", grouping.exprs, grouping.where, where)] = coded.size
        table, hashes, _ = drawn  # and they are known complete: later requests need no sample's keys
        log.memo[seen_memo] = (table, hashes, False)
    by_code = counts.reshape(coded.size, YP * S).sum(axis=1)
    if tables and derive_count:  # rows with a label and a finite score, per group
        dense = counts.reshape(coded.size, YP, S)
        sx[:, 0] = dense[:, K + 1 :, : S - 1].sum(axis=(1, 2))
    present = np.arange(coded.size) if coded.all_kept else np.flatnonzero(by_code)
    new_code = np.full(coded.size, -1, dtype=np.intp)
    new_code[present] = np.arange(len(present))
    nz = np.flatnonzero(counts)
    gd, rest = np.divmod(nz, YP * S)
    yp, slot = np.divmod(rest, S)
    m = len(nz)
    n = counts[nz].astype("float64")
    pr = yp % (K + 1) - 1
    pred = np.zeros((m, K + 1))
    pred[np.arange(m), np.where(pr >= 0, pr, K)] = n
    score = np.full(S, np.nan)
    score[: S - 1] = np.arange(S - 1, dtype="float64") if bins is not None else grid.values()  # type: ignore[union-attr]
    g_cells = new_code[gd]
    first = np.searchsorted(g_cells, np.arange(len(present)))  # cells are sorted by group: each group's first
    cell_sums = {}
    for i, key in enumerate(sums):
        arrays = []
        for j in range(3):
            a = np.zeros(m)
            has = first < m
            np.add.at(a, first[has], sx[i, j, present][has])
            arrays.append(a)
        cell_sums[key] = tuple(arrays)
    cells = _Cells(
        g=g_cells,
        y=yp // (K + 1) - 1,
        s=score[slot],
        n=n,
        pred=pred,
        sums=cell_sums,
        bins=bins,  # type: ignore[arg-type]
    )
    return coded.keys(present), cells


# A grouping of several expressions on a log of more rows than this: the cells are grouped by one hash of the keys
# (measured at 10M rows, 3 string columns, 180 groups × 138 bins: 1.10 s CPU against 1.55 s for the three
# keys), mapped back to the keys by their distinct values (one cheap pass: 0.20 s) when no two keys share a hash;
# that pass counts the groups exactly, so the request needs no sample to estimate them.
HASH_KEYS_ROWS = 1_000_000


def _key_hash(exprs: tuple[str, ...] | list[str]) -> str:
    return f"hash({', '.join(exprs)})"


def _hashed_keys(log: LogTable, grouping: Any, where: str | None) -> pd.DataFrame | None:
    """The keys of a grouping of several expressions, in the temp table ``_keys`` (with their hash ``h`` and code
    ``g``), for cells grouped by one hash of the keys; None (no table) when the keys are too few or the log too
    small for it to pay, or when two distinct keys share a hash (the caller then groups by the keys themselves).
    Their number is exact, so the request needs no estimate of its groups."""
    from explore.engine.grouping import EngineGrouping

    if isinstance(grouping, EngineGrouping) or len(grouping.exprs) < 2:
        return None
    if int(_over_all_rows(log, "count(*)")) <= HASH_KEYS_ROWS:
        return None
    ks = [f"k{i}" for i in range(len(grouping.exprs))]
    conds = [c for c in (grouping.where, where) if c]
    cond = f"WHERE {' AND '.join(f'({c})' for c in conds)}" if conds else ""
    cols = ", ".join(f"{e} AS {k}" for e, k in zip(grouping.exprs, ks, strict=True))
    order = ", ".join(f"{k} NULLS LAST" for k in ks)
    log.sql(
        f"CREATE OR REPLACE TEMP TABLE _keys AS SELECT *, {_key_hash(ks)} AS h, "
        f"(row_number() OVER (ORDER BY {order}) - 1) AS g FROM (SELECT DISTINCT {cols} FROM rows AS rows {cond}) AS d"
    )
    n_keys, n_hashes = log.sql("SELECT count(*), count(DISTINCT h) FROM _keys").fetchall()[0]
    if n_keys != n_hashes:
        log.sql("DROP TABLE IF EXISTS _keys")
        return None
    keys = log.sql(f"SELECT {', '.join(ks)} FROM _keys ORDER BY g").df()
    log.memo[("groups", grouping.exprs, grouping.where, where)] = max(int(n_keys), 1)  # for _estimate_groups
    return keys.set_axis(list(grouping.names), axis=1)


def _blocks(
    g: np.ndarray, s: np.ndarray, *cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Cells collapsed to blocks of equal (g, s), sorted by group then score: (g, s, each column summed)."""
    order = np.lexsort((s, g))
    g, s = g[order], s[order]
    if len(g) == 0:
        return g, s, [c[order] for c in cols]
    new = np.empty(len(g), dtype=bool)
    new[0] = True
    new[1:] = (g[1:] != g[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new)
    return g[starts], s[starts], [np.add.reduceat(c[order], starts) for c in cols]


def _block_auc(grp_b: np.ndarray, pos_b: np.ndarray, neg_b: np.ndarray, G: int) -> dict[str, np.ndarray]:
    """ROC AUC, DeLong variance and average precision per group from its score blocks (sorted by group, score):
    the block sums of ``explore.stats.metrics._grouped_auc``, finished by ``auc_from_sums``."""
    npos = np.bincount(grp_b, weights=pos_b, minlength=G)[:G]
    nall = np.bincount(grp_b, weights=pos_b + neg_b, minlength=G)[:G]
    nneg = nall - npos
    out = {"npos": npos, "nneg": nneg, "n": nall}
    if len(grp_b) == 0:
        nan = np.full(G, np.nan)
        out.update(auc=nan, var=nan, ap=nan)
        return out
    pos_less = np.cumsum(pos_b) - pos_b
    neg_less = np.cumsum(neg_b) - neg_b
    present = nall > 0
    first = np.searchsorted(grp_b, np.flatnonzero(present))
    start_pos, start_neg = np.zeros(G), np.zeros(G)
    start_pos[present] = pos_less[first]
    start_neg[present] = neg_less[first]
    pos_less -= start_pos[grp_b]
    neg_less -= start_neg[grp_b]
    t = neg_less + 0.5 * neg_b
    u = npos[grp_b] - pos_less - 0.5 * pos_b
    pt, nu = pos_b * t, neg_b * u
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = (npos[grp_b] - pos_less) / (nall[grp_b] - pos_less - neg_less)
    sums = [
        np.bincount(grp_b, weights=w, minlength=G)[:G]
        for w in (pt, pt * t, nu * u, np.where(pos_b > 0, pos_b * prec, 0.0))
    ]
    out.update(metrics_mod.auc_from_sums(npos, nneg, *sums))
    return out


class CellsCtx(EngineCtx):
    """``explore.stats.metrics._Ctx`` over one request's (group, label, score) cells: no query of its own."""

    def __init__(
        self, log: LogTable, cells: _Cells, n_groups: int, confidence: float, complement: bool = False
    ):
        self._setup(log, n_groups, confidence, complement)
        self.cells = cells
        self._set_support(self._sum(cells.n, rest=False))

    def _sum(self, w: np.ndarray, mask: np.ndarray | None = None, rest: bool = True) -> np.ndarray:
        g = self.cells.g if mask is None else self.cells.g[mask]
        w = w if mask is None else w[mask]
        a = np.bincount(g, weights=w, minlength=self.G)[: self.G].astype("float64")
        return a.sum() - a if self.complement and rest else a

    @property
    def confusion(self) -> np.ndarray:
        def build() -> np.ndarray:
            c, K = self.cells, self.K
            keep = c.y >= 0
            flat = ((c.g[keep] * K + c.y[keep])[:, None] * (K + 1) + np.arange(K + 1)).ravel()
            size = self.G * K * (K + 1)
            C = np.bincount(flat, weights=c.pred[keep].ravel(), minlength=size)[:size].reshape(
                self.G, K, K + 1
            )
            return C.sum(axis=0, keepdims=True) - C if self.complement else C

        return self.memo("confusion", build)

    def _score_blocks(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c = self.cells
        ok = np.isfinite(c.s)
        pos = np.where(c.y[ok] == k, c.n[ok], 0.0)
        grp_b, s_b, (pos_b, all_b) = _blocks(c.g[ok], c.s[ok], pos, c.n[ok])
        return grp_b, s_b, pos_b, all_b - pos_b

    def auc_stats(self, k: int) -> dict[str, np.ndarray]:
        def build() -> dict[str, np.ndarray]:
            if self.complement:
                return self._complement_auc(k)
            grp_b, _, pos_b, neg_b = self._score_blocks(k)
            out = _block_auc(grp_b, pos_b, neg_b, self.G)
            if self.cells.bins is not None:
                # Pairs in one bin count ½ whatever their order: each is off by at most ½.
                tied = np.bincount(grp_b, weights=pos_b * neg_b, minlength=self.G)[: self.G]
                with np.errstate(invalid="ignore", divide="ignore"):
                    out["max_error"] = 0.5 * tied / (out["npos"] * out["nneg"])
            return out

        return self.memo(("auc", k), build)

    def _complement_auc(self, k: int) -> dict[str, np.ndarray]:
        """Each group's rest by counting pairs (as ``explore.stats.metrics._complement_auc``), from the global score
        blocks; average precision of the rest from a (group × block) table when it is small enough."""
        self.complement = False
        try:
            inside = self.auc_stats(k)
        finally:
            self.complement = True
        grp_b, s_b, pos_b, neg_b = self._score_blocks(k)
        glob = np.unique(s_b)
        at = np.searchsorted(glob, s_b)
        P = np.bincount(at, weights=pos_b, minlength=len(glob))
        N = np.bincount(at, weights=neg_b, minlength=len(glob))
        neg_less = np.cumsum(N) - N
        pos_more = P.sum() - np.cumsum(P)
        conc_pos = np.bincount(grp_b, weights=pos_b * (neg_less + 0.5 * N)[at], minlength=self.G)[: self.G]
        conc_neg = np.bincount(grp_b, weights=neg_b * (pos_more + 0.5 * P)[at], minlength=self.G)[: self.G]
        total = float((P * (neg_less + 0.5 * N)).sum())
        ap = np.full(self.G, np.nan)
        binned = self.cells.bins is not None
        fits = self.G * len(glob) <= metrics_mod.COMPLEMENT_AP_BUDGET and len(glob)
        if fits or binned:  # each group's own positives and negatives per global block
            own_p, own_n = np.zeros((self.G, len(glob))), np.zeros((self.G, len(glob)))
            np.add.at(own_p, (grp_b, at), pos_b)
            np.add.at(own_n, (grp_b, at), neg_b)
        if fits:
            pos_r, all_r = P[None, :] - own_p, (P + N)[None, :] - own_p - own_n
            # Precision at each threshold (score ≥ block) among the rest, weighted by the recall it gains.
            pos_ge = np.cumsum(pos_r[:, ::-1], axis=1)[:, ::-1]
            all_ge = np.cumsum(all_r[:, ::-1], axis=1)[:, ::-1]
            with np.errstate(invalid="ignore", divide="ignore"):
                prec = np.where(pos_r > 0, pos_r * pos_ge / all_ge, 0.0).sum(axis=1)
                ap = np.where(pos_r.sum(axis=1) > 0, prec / pos_r.sum(axis=1), np.nan)
        out = metrics_mod.complement_auc_from_pairs(inside, P.sum(), N.sum(), total, conc_pos, conc_neg, ap)
        if binned:
            # The rest's pairs in one bin: (P_b − own positives) × (N_b − own negatives).
            tied = ((P[None, :] - own_p) * (N[None, :] - own_n)).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out["max_error"] = 0.5 * tied / (out["npos"] * out["nneg"])
        return out

    def _cell_values(self, key: str) -> np.ndarray:
        """A derivable per-row quantity per cell (binary score in [0, 1]): as explore.stats.metrics computes it."""
        return _loss_values(key, self.log.positive_index, self.cells.y, self.cells.s)

    def row_mean(self, key: str, values: Any) -> dict[str, np.ndarray]:
        def build() -> dict[str, np.ndarray]:
            c = self.cells
            if key in c.sums:
                cnt, sx, sxx = c.sums[key]
            else:
                x = self._cell_values(key)
                ok = np.isfinite(x)
                cnt = np.where(ok, c.n, 0.0)
                xs = np.where(ok, x, 0.0)
                sx, sxx = cnt * xs, cnt * xs * xs
                centre = float(sx.sum() / cnt.sum()) if cnt.sum() else 0.0
                d = xs - centre
                n = self._sum(cnt)
                return metrics_mod.mean_from_sums(
                    n, self._sum(cnt * d), self._sum(cnt * d * d), centre, self.conf
                )
            total = cnt.sum()
            centre = float(sx.sum() / total) if total else 0.0
            n = self._sum(cnt)
            s1 = self._sum(sx) - centre * n
            s2 = self._sum(sxx) - 2 * centre * self._sum(sx) + centre * centre * n
            return metrics_mod.mean_from_sums(n, s1, s2, centre, self.conf)

        return self.memo(("mean", key), build)


def _loss_values(key: str, k: int | None, y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Log loss or the Brier term of rows with label code ``y`` and binary score ``s`` (NaN without a label), as
    explore.stats.metrics computes them."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if key == "log loss":
            p = np.where(y == k, s, 1 - s)
            x = -np.log(np.clip(p, _EPS, 1 - _EPS))
        else:
            x = (s - (y == k)) ** 2
    return np.where(y >= 0, x, np.nan)


def _sum_keys(
    resolved: list[tuple[str, metrics_mod.MetricDef, int | None]], unavailable: dict[str, str] | None = None
) -> list[str]:
    """The per-row quantities (log loss, Brier) whose sums the requested metrics need — none for a metric the log
    cannot have (``unavailable``: a score that is not a probability has no log loss, and no ``_p`` columns)."""
    keys = {"log loss": "log loss", "Brier": "brier"}
    wanted = (m.name for _, m, _ in resolved if m.name in keys and m.name not in (unavailable or {}))
    return list(dict.fromkeys(keys[name] for name in wanted))


def _with_binned_notes(ctx: CellsCtx, frame: pd.DataFrame) -> pd.DataFrame:
    """Binned cells: each ROC AUC row says so with its exact maximum error, each PR AUC row that it is binned."""
    bins = ctx.cells.bins
    if bins is None:
        return frame
    frame = frame.copy()
    for i in range(len(frame)):
        base, cls = metrics_mod._split(str(frame.at[i, "metric"]))
        if base not in ("ROC AUC", "PR AUC"):
            continue
        if base == "PR AUC":
            text = NOTE_BINNED_AP.format(bins=bins.n)
        else:
            k = ctx.log.positive_index if cls is None else [str(c) for c in ctx.log.classes].index(cls)
            bound = ctx.auc_stats(k).get("max_error")
            b = np.nan if bound is None else float(bound[int(frame.at[i, "group"])])
            if not np.isfinite(b):
                continue
            text = NOTE_BINNED.format(bins=bins.n, bound=b)
        old = frame.at[i, "note"]
        frame.at[i, "note"] = f"{old}; {text}" if old else text
    return frame


def binned_auc_note(table: pd.DataFrame) -> str | None:
    """One line for a page or a notebook when a result's ROC AUC came from score bins: the largest maximum error
    over its groups (None when every value is exact)."""
    notes = table["note"].astype(str)
    rows = table[
        notes.str.contains("histogram approximation", regex=False) & table["metric"].str.startswith("ROC AUC")
    ]
    if rows.empty:
        return None
    bounds = rows["note"].str.extract(r"within ±([0-9.eE+-]+)")[0].astype(float)
    n_bins = rows["note"].str.extract(r"into ([0-9,]+) bins")[0].iloc[0]
    return (
        f"ROC AUC from a histogram of the scores ({n_bins} bins per group: too many distinct scores × groups for "
        f"exact rank sums): every value is within ±{bounds.max():.1e} of the exact one; its interval and PR AUC "
        "are approximate."
    )


def _resolved(
    log: LogTable, metrics: list[str] | None
) -> list[tuple[str, metrics_mod.MetricDef, int | None]]:
    meta = _Meta(log.task, log.classes, log.positive_index)
    names = metrics_mod.default_metrics(meta) if metrics is None else list(metrics)  # type: ignore[arg-type]
    resolved = []
    for name in names:
        metric, cls = metrics_mod._resolve(meta, name)  # type: ignore[arg-type]
        if metric.name == "R²":
            metric = metrics_mod.MetricDef(**{**metric.__dict__, "compute": _m_r2_engine})
        resolved.append((name, metric, cls))
    return resolved


def _frame(log: LogTable, ctx: metrics_mod._Ctx, resolved: list) -> pd.DataFrame:
    frame = metrics_mod.metrics_frame(
        ctx,
        resolved,
        log.unavailable,
        log.has_proba,
        log.has_score if log.task == "binary" else log.has_proba,
    )
    return _with_binned_notes(ctx, frame) if isinstance(ctx, CellsCtx) else frame


def _grouped(
    log: LogTable,
    grouping: Any,
    metrics: list[str] | None,
    confidence: float,
    where: str | None,
    complements: tuple[bool, ...],
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The groups and one long table per entry of ``complements`` (False: the groups, True: their rests). A binary
    log reads its rows once for all of them (``_read_cells``), the other tasks once or twice (``explore.engine.onepass``;
    with ``onepass.ONE_PASS`` False, the older query per statistic)."""
    if not 0 < confidence < 1:
        raise AnalysisError(metrics_mod.BAD_CONFIDENCE.format(received=confidence))
    grouping = grouping or Grouping((), ())
    resolved = _resolved(log, metrics)
    if log.task != "binary":  # multiclass / regression: explore.engine.onepass
        from explore.engine import onepass

        if onepass.ONE_PASS:
            return onepass.grouped(log, grouping, resolved, confidence, where, complements)
    if log.task == "binary":
        keys, cells = _read_cells(log, grouping, where, _sum_keys(resolved, log.unavailable))
        return keys, [
            _frame(log, CellsCtx(log, cells, len(keys), confidence, complement), resolved)
            for complement in complements
        ]
    keys = _define_groups(log, grouping, where)
    if where or int(_over_all_rows(log, "count(*)")) <= MATERIALISE_ROWS:
        _materialise_groups(log)
    return keys, [
        _frame(log, EngineCtx(log, len(keys), confidence, complement), resolved) for complement in complements
    ]


def grouped_metrics(
    log: LogTable,
    grouping: Any = None,
    *,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    where: str | None = None,
    complement: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(keys, table)``: the groups (one row per group code) and ``explore.stats.metrics.grouped_metrics``'s long
    table for them, every aggregate computed by the engine. ``complement``: each group's rest instead (the rows of
    the other groups), as in memory.

    A binary log is read once per call: exact (group, label, score) counts when there are at most
    ``CELL_BUDGET`` of them, else scores in ``ScoreBins`` — the ROC AUC rows' ``note`` then gives each value's
    exact maximum error (``binned_auc_note`` sums it up in one line)."""
    keys, (table,) = _grouped(log, grouping, metrics, confidence, where, (complement,))
    return keys, table


# Up to this many rows (~36 bytes each: ~0.7 GiB), a grouping's codes and outputs are read into a temp table once.
MATERIALISE_ROWS = 20_000_000


def _materialise_groups(log: LogTable) -> None:
    """The (filtered) rows' group codes and encoded outputs, read from the files once into a temp table that every
    metric query then reads: a filter change, or a group-by of a log up to ``MATERIALISE_ROWS`` rows, costs two
    passes over the files, not one per metric. (A filter keeps a fraction of the rows; an unfiltered bigger log
    is read once per metric instead, in bounded memory.)"""
    cols = ["g", "_y", "_pred"]
    if log.has_score:
        cols.append("_score")
    if log.has_proba:
        cols += [f"_p{k}" for k in range(log.K)]
    log.sql(f"CREATE OR REPLACE TEMP TABLE _grp AS SELECT {', '.join(cols)} FROM grp")
    log.sql("CREATE OR REPLACE TEMP VIEW grp AS SELECT * FROM _grp")


def groups_vs_rest(
    log: LogTable,
    grouping: Any,
    *,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    where: str | None = None,
    fdr: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(keys, table)``: each group's metrics with the rest of the slice beside them, as the in-memory slice
    report's ``by_group``: ``rest`` / ``rest_low`` / ``rest_high``, ``gap``, ``p_worse`` (one-sided z test on the
    interval-implied errors), ``q_worse`` (Benjamini–Hochberg per metric) and ``worse`` (``q_worse`` ≤ ``fdr``)."""
    from explore.slices import report

    keys, (inside, rest) = _grouped(log, grouping, metrics, confidence, where, (False, True))
    z = metrics_mod._z(confidence)
    df = inside.copy()
    df["rest"] = rest["value"].to_numpy()
    df["rest_low"] = rest["ci_low"].to_numpy()
    df["rest_high"] = rest["ci_high"].to_numpy()
    df["gap"] = df["value"] - df["rest"]
    hib = np.array([report._hb(report.tested_direction(m)) for m in df["metric"]])
    df["p_worse"] = report._p_worse(
        df["value"].to_numpy(), report._se(inside, z), df["rest"].to_numpy(), report._se(rest, z), hib
    )
    report.note_untested(df)
    df["q_worse"] = np.nan
    for _, idx in df.groupby("metric", sort=False).groups.items():
        df.loc[idx, "q_worse"] = report.bh_adjust(df.loc[idx, "p_worse"].to_numpy())
    df["worse"] = (df["q_worse"] <= fdr).fillna(False).astype(bool)
    return keys, df


def overall_metrics(
    log: LogTable, *, metrics: list[str] | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Every metric of the task on all rows of the log (group 0), computed in the engine."""
    return grouped_metrics(log, None, metrics=metrics, confidence=confidence)[1]


def labelled_and_positives(table: pd.DataFrame) -> tuple[int, int] | None:
    """(rows with a label, rows of the positive class) of a binary log, read from its ``overall_metrics`` table
    (the base rate's support and positives: the cells counted them); None when the table does not state them."""
    rows = table[table["metric"].isin(["base rate", "accuracy"])] if "metric" in table else table.iloc[:0]
    for _, row in rows.iterrows():
        support, positives = row.get("support"), row.get("n_pos")
        if pd.notna(support) and pd.notna(positives):
            return int(support), int(positives)
    return None


def by_columns(log: LogTable, columns: list[str], where: str | None = None) -> Grouping:
    """Groups: each distinct combination of values of ``columns`` (missing values are a group of their own)."""
    for c in columns:
        if c not in log.types:
            raise AnalysisError(
                f"There is no column '{c}' in dataset '{log.name}'. Group by one of: {', '.join(list(log.types)[:30])}."
            )
    return Grouping(tuple(f"rows.{quote(c)}" for c in columns), tuple(columns), where)


def by_time_window(log: LogTable, unit: str = "month", *, n_windows: int = 12) -> Grouping:
    """Groups: calendar windows of the time column (``date_trunc(unit, time)``, found by comparing each timestamp
    with the windows' starts when there are at most ``MAX_SEARCHED_WINDOWS``), oldest first; or, for
    ``unit="rows"``, ``n_windows`` windows of equal row counts (``equal_row_windows``). Keys: window starts."""
    if not log.columns.time:
        raise AnalysisError(
            f"Dataset '{log.name}' has no time column: name it in workspace.toml [columns] time to see performance over time."
        )
    t = f"CAST(rows.{quote(log.columns.time)} AS TIMESTAMP)"
    if unit == "rows":
        starts = equal_row_windows(log, n_windows)
        text = np.datetime_as_string(starts, unit="us")
        whens = " ".join(f"WHEN {t} >= TIMESTAMP '{s}' THEN TIMESTAMP '{s}'" for s in reversed(text[1:]))
        first = f"TIMESTAMP '{text[0]}'"
        expr = f"(CASE {whens} ELSE {first} END)" if whens else first
        coded = " ".join(f"WHEN {t} >= TIMESTAMP '{text[i]}' THEN {i}" for i in reversed(range(1, len(text))))
        code = f"(CASE {coded} ELSE 0 END)" if coded else "0"
        levels = tuple(f"TIMESTAMP '{s}'" for s in text)
        return Grouping((expr,), ("window",), f"{t} IS NOT NULL", code, levels)
    if unit not in ("year", "quarter", "month", "week", "day", "hour"):
        raise AnalysisError(
            f"Unknown window unit {unit!r}: use year, quarter, month, week, day, hour or rows (equal row counts)."
        )
    present = f"rows.{quote(log.columns.time)} IS NOT NULL"
    starts = _calendar_starts(log, unit)
    if starts is None:
        return Grouping((f"date_trunc('{unit}', {t})",), ("window",), present)
    tv = time_value(log)
    levels = tuple(f"TIMESTAMP '{s}'" for s in np.datetime_as_string(starts, unit="us"))
    windows = Grouping(
        (_window_search(tv, starts),),
        ("window",),
        present,
        _window_search(tv, starts, codes=True),
        levels,
        _partition_windows(log, starts, present),
    )
    # Their number (at most: a window may hold no row) stands for _estimate_groups' sample of the rows.
    log.memo[("groups", windows.exprs, windows.where, None)] = len(starts)
    return windows


# Calendar windows up to this many are found by comparing the timestamp with their starts (a binary search of
# nested CASEs, depth log2 of it) instead of date_trunc on every row: measured at 10M rows (24 months, the
# windows' cells query), 0.75 s CPU against 0.94 s; beyond it the SQL text grows too long.
MAX_SEARCHED_WINDOWS = 256
_STORED_TIME = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE")


def time_value(log: LogTable) -> str:
    """SQL: the time column as compared with window bounds. A stored timestamp or date as it is — one cast per
    row fewer (24 windows at 10M rows, the cells query 0.68 s CPU against 0.76 s), and a range on it is checked
    against the Parquet row groups' min / max statistics; anything else (text, with a time zone) cast first."""
    col = f"rows.{quote(log.columns.time)}"
    return col if log.types.get(log.columns.time, "").upper() in _STORED_TIME else f"CAST({col} AS TIMESTAMP)"


# One calendar window's length, by unit.
CALENDAR_STEP = {
    "year": pd.DateOffset(years=1),
    "quarter": pd.DateOffset(months=3),
    "month": pd.DateOffset(months=1),
    "week": pd.Timedelta(days=7),
    "day": pd.Timedelta(days=1),
    "hour": pd.Timedelta(hours=1),
}


def _calendar_starts(log: LogTable, unit: str) -> np.ndarray | None:
    """The starts of every ``unit`` window from the log's first timestamp to its last (``date_trunc`` of each
    row is one of them), or None when there are more than ``MAX_SEARCHED_WINDOWS`` or no timestamps. The
    first and last timestamps are read once per log (``log.memo``)."""
    import pandas as pd

    if "time range" not in log.memo:
        t = f"CAST(rows.{quote(log.columns.time)} AS TIMESTAMP)"
        parts = _partition_columns(log)
        if parts:
            # The same pass per partition (CPU at 10M rows: 0.08 s against 0.07 s): the casts to TIMESTAMP are
            # monotone, so the cast of the lowest is the lowest cast.
            tv = time_value(log)
            keys = ", ".join(f"rows.{quote(c)} AS p{i}" for i, c in enumerate(parts))
            log.sql(
                f"CREATE OR REPLACE TEMP TABLE _time_parts AS SELECT {keys}, min({tv}) AS lo, max({tv}) AS hi, "
                f"count(*) - count({tv}) AS missing FROM rows GROUP BY ALL"
            )
            log.memo["time by partition"] = "_time_parts"
            q = "SELECT CAST(min(lo) AS TIMESTAMP), CAST(max(hi) AS TIMESTAMP) FROM _time_parts"
        else:
            q = f"SELECT min({t}), max({t}) FROM rows"
        log.memo["time range"] = tuple(log.sql(q).fetchall()[0])
    lo, hi = log.memo["time range"]
    if lo is None or hi is None:
        return None
    lo, hi = pd.Timestamp(lo), pd.Timestamp(hi)
    first = {
        "year": lambda x: pd.Timestamp(x.year, 1, 1),
        "quarter": lambda x: pd.Timestamp(x.year, 3 * ((x.month - 1) // 3) + 1, 1),
        "month": lambda x: pd.Timestamp(x.year, x.month, 1),
        "week": lambda x: x.normalize() - pd.Timedelta(days=x.weekday()),  # ISO weeks start on Monday
        "day": lambda x: x.normalize(),
        "hour": lambda x: x.floor("h"),
    }[unit](lo)
    step = CALENDAR_STEP[unit]
    starts = [first]
    while starts[-1] + step <= hi:
        if len(starts) >= MAX_SEARCHED_WINDOWS:
            return None
        starts.append(starts[-1] + step)
    return np.asarray(starts, dtype="datetime64[us]")


def _window_search(t: str, starts: np.ndarray, codes: bool = False) -> str:
    """SQL: the start of the window holding ``t`` (every ``t`` at or after ``starts[0]`` and before the next window
    after ``starts[-1]``), by a binary search over ``starts``; ``codes``: the window's index instead."""
    lit = [f"TIMESTAMP '{s}'" for s in np.datetime_as_string(starts, unit="us")]

    def search(a: int, b: int) -> str:
        if b - a == 1:
            return str(a) if codes else lit[a]
        mid = (a + b) // 2
        return f"(CASE WHEN {t} < {lit[mid]} THEN {search(a, mid)} ELSE {search(mid, b)} END)"

    return search(0, len(lit))


def _partition_columns(log: LogTable) -> list[str]:
    """The log's hive partition columns (``key=`` folders, recorded by ``engine.source.open_source``); DuckDB only."""
    if "partitions" not in log.memo:
        cols: list[str] = []
        if isinstance(log.con, duckdb.DuckDBPyConnection):
            cols = log.sql("SELECT getvariable('explore_partition_columns')").fetchall()[0][0] or []
        log.memo["partitions"] = [c for c in cols if c in log.types]
    return log.memo["partitions"]


# Partition values up to which a CASE maps them to windows.
MAX_PARTITION_VALUES = 4096


def _sql_literal(v: Any) -> str | None:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_):
        return str(int(v))
    return None


def _partition_windows(log: LogTable, starts: np.ndarray, present: str) -> tuple[str, str | None] | None:
    """When every partition's rows fall in one window, each row's window code from its partition values (a CASE
    evaluated once per vector: the partition columns are constant in a file) instead of the search over its
    timestamp — the same code for every row with a timestamp, since a partition's lowest and highest timestamps
    (``_calendar_starts``' pass) are in that window; and the condition ``present`` only if some row has none.
    None when a partition spans two windows, a value is missing or not a string / integer, or there are none."""
    table = log.memo.get("time by partition")
    if table is None or len(starts) < 2:  # one window: its code is a constant already
        return None
    memo = ("partition windows", starts.tobytes(), present)
    if memo not in log.memo:
        parts = _partition_columns(log)
        ps = [f"p{i}" for i in range(len(parts))]
        found = log.sql(
            f"SELECT {', '.join(ps)}, {_window_search('lo', starts, codes=True)}, "
            f"{_window_search('hi', starts, codes=True)}, lo IS NULL, missing FROM {table}"
        ).fetchall()
        whens, missing, out = [], 0, None
        for *values, a, b, empty, n_missing in found:
            missing += int(n_missing)
            if empty:  # no timestamp in the partition: its rows fail ``present``
                continue
            literals = [_sql_literal(v) for v in values]
            if a != b or None in literals:
                break
            cond = " AND ".join(f"rows.{quote(c)} = {lit}" for c, lit in zip(parts, literals, strict=True))
            whens.append(f"WHEN {cond} THEN {int(a)}")
        else:
            if 0 < len(whens) <= MAX_PARTITION_VALUES:
                out = (f"(CASE {' '.join(whens)} END)", present if missing else None)
        log.memo[memo] = out
    return log.memo[memo]


def equal_row_windows(log: LogTable, n_windows: int) -> np.ndarray:
    """The starts of ``n_windows`` windows of about equal row counts, as ``explore.staleness.windows.time_windows
    (by="rows")`` places them: the timestamps at ranks i·N // n_windows (``row_number`` over time, one sort in the
    engine), a start that falls inside a run of equal timestamps moved to the next distinct one."""
    from explore.staleness.windows import BAD_N_WINDOWS, MAX_WINDOWS

    if (
        isinstance(n_windows, bool)
        or not isinstance(n_windows, int | np.integer)
        or not 2 <= n_windows <= MAX_WINDOWS
    ):
        raise AnalysisError(BAD_N_WINDOWS.format(max=MAX_WINDOWS, received=n_windows))
    t = f"CAST(rows.{quote(log.columns.time)} AS TIMESTAMP)"
    present = f"FROM rows WHERE {t} IS NOT NULL"
    n = int(log.sql(f"SELECT count(*) {present}").fetchall()[0][0])
    if n == 0:
        raise AnalysisError(f"Dataset '{log.name}' has no timestamp in its time column '{log.columns.time}'.")
    positions = sorted({int(p) for p in (np.arange(n_windows) * n) // n_windows})
    listed = ", ".join(map(str, positions))
    r = log.sql(
        f"SELECT r, t FROM (SELECT {t} AS t, row_number() OVER (ORDER BY {t}) - 1 AS r {present}) "
        f"WHERE r IN ({listed}) ORDER BY r"
    ).fetchall()
    at = {int(pos): np.datetime64(v, "ns") for pos, v in r}
    picked: list[np.datetime64] = []
    for pos in (np.arange(n_windows) * n) // n_windows:
        value = at[int(pos)]
        if picked and value <= picked[-1]:
            nxt = log.sql(
                f"SELECT min({t}) {present} AND {t} > TIMESTAMP '{np.datetime_as_string(picked[-1], unit='us')}'"
            ).fetchall()[0][0]
            if nxt is None:
                break
            value = np.datetime64(nxt, "ns")
        picked.append(value)
    return np.asarray(picked, dtype="datetime64[ns]")
