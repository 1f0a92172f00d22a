"""Metrics per group with intervals, computed in DuckDB: the same formulas as ``explore.stats.metrics``.

The engine returns per-group sufficient statistics — counts of the confusion matrix, sums of per-row losses
(centred on their overall mean, as in memory), and for ROC AUC the exact rank sums with ties and the DeLong
placement sums by window functions over (group, score) blocks — and the interval formulas of
``explore.stats.metrics`` finish the job, so a log in DuckDB and the same rows in pandas give the same numbers.
The one difference: the multiclass macro ROC AUC never bootstraps (that would resample rows); its interval is
the normal one, and the ``note`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    """How the rows of a log are cut into groups: SQL expressions, their values per group (``keys``)."""

    exprs: tuple[str, ...]
    names: tuple[str, ...]
    where: str | None = None


def _finite(x: str) -> str:
    return f"isfinite({x})"


_EPS = float(np.finfo(np.float64).eps)


class EngineCtx(metrics_mod._Ctx):
    """``explore.stats.metrics._Ctx`` whose per-group quantities are DuckDB queries over the view ``grp``."""

    rows_in_memory = False

    def __init__(self, log: LogTable, n_groups: int, confidence: float, complement: bool = False) -> None:
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
        support = self._per_group("count(*)", rest=False)[0].astype("int64")
        self.support = support.sum() - support if complement else support

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
        log = self.log
        if key == "log loss":
            p = log.p_true()
            # Clipped to [eps, 1 - eps] (float64 machine epsilon), as explore.stats.metrics and scikit-learn do.
            lo, hi = repr(_EPS), repr(1.0 - _EPS)
            return f"(-ln(CASE WHEN isnan({p}) THEN {p} WHEN {p} < {lo} THEN {lo} WHEN {p} > {hi} THEN {hi} ELSE {p} END))"
        if key == "brier":
            if self.task == "binary":
                k = log.positive_index
                return f"((_p{k} - CASE WHEN _y = {k} THEN 1.0 ELSE 0.0 END) ** 2)"
            return (
                "("
                + " + ".join(
                    f"(_p{k} - CASE WHEN _y = {k} THEN 1.0 ELSE 0.0 END) ** 2" for k in range(self.K)
                )
                + ")"
            )
        return {"abs err": "abs(_pred - _y)", "err": "(_pred - _y)", "sq err": "((_pred - _y) ** 2)"}[key]

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
    table for them, every aggregate computed by DuckDB. ``complement``: each group's rest instead (the rows of
    the other groups), as in memory."""
    if not 0 < confidence < 1:
        raise AnalysisError(metrics_mod.BAD_CONFIDENCE.format(received=confidence))
    keys = _define_groups(log, grouping or Grouping((), ()), where)
    meta = _Meta(log.task, log.classes, log.positive_index)
    names = metrics_mod.default_metrics(meta) if metrics is None else list(metrics)  # type: ignore[arg-type]
    resolved = []
    for name in names:
        metric, cls = metrics_mod._resolve(meta, name)  # type: ignore[arg-type]
        if metric.name == "R²":
            metric = metrics_mod.MetricDef(**{**metric.__dict__, "compute": _m_r2_engine})
        resolved.append((name, metric, cls))
    if where or int(_over_all_rows(log, "count(*)")) <= MATERIALISE_ROWS:
        _materialise_groups(log)
    ctx = EngineCtx(log, len(keys), confidence, complement)
    return keys, metrics_mod.metrics_frame(
        ctx,
        resolved,
        log.unavailable,
        log.has_proba,
        log.has_score if log.task == "binary" else log.has_proba,
    )


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

    keys, inside = grouped_metrics(log, grouping, metrics=metrics, confidence=confidence, where=where)
    names = list(dict.fromkeys(inside["metric"]))
    _, rest = grouped_metrics(
        log, grouping, metrics=names, confidence=confidence, where=where, complement=True
    )
    z = metrics_mod._z(confidence)
    df = inside.copy()
    df["rest"] = rest["value"].to_numpy()
    df["rest_low"] = rest["ci_low"].to_numpy()
    df["rest_high"] = rest["ci_high"].to_numpy()
    df["gap"] = df["value"] - df["rest"]
    hib = np.array([report._hb(metrics_mod.metric_direction(m)) for m in df["metric"]])
    df["p_worse"] = report._p_worse(
        df["value"].to_numpy(), report._se(inside, z), df["rest"].to_numpy(), report._se(rest, z), hib
    )
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


def by_columns(log: LogTable, columns: list[str], where: str | None = None) -> Grouping:
    """Groups: each distinct combination of values of ``columns`` (missing values are a group of their own)."""
    for c in columns:
        if c not in log.types:
            raise AnalysisError(
                f"There is no column '{c}' in dataset '{log.name}'. Group by one of: {', '.join(list(log.types)[:30])}."
            )
    return Grouping(tuple(f"rows.{quote(c)}" for c in columns), tuple(columns), where)


def by_time_window(log: LogTable, unit: str = "month", *, n_windows: int = 12) -> Grouping:
    """Groups: calendar windows of the time column (``date_trunc(unit, time)``), oldest first; or, for
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
        return Grouping((expr,), ("window",), f"{t} IS NOT NULL")
    if unit not in ("year", "quarter", "month", "week", "day", "hour"):
        raise AnalysisError(
            f"Unknown window unit {unit!r}: use year, quarter, month, week, day, hour or rows (equal row counts)."
        )
    return Grouping(
        (f"date_trunc('{unit}', {t})",), ("window",), f"rows.{quote(log.columns.time)} IS NOT NULL"
    )


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
