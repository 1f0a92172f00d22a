"""Multiclass and regression logs without a query per statistic: one aggregation per request, finished in numpy.

A binary log's request is one aggregation to (group, label, prediction, score) cells (``explore.engine.metrics``:
``_read_cells``, ``CellsCtx``). The other tasks get the same here, so that overall metrics, a filter's groups and
their rests, a group-by and time windows each cost one pass over the files (a multiclass log with probabilities:
two) instead of a query per statistic:

* **multiclass** — one aggregation to (group, label, prediction) counts with the sums of the per-row log loss and
  Brier term gives the confusion matrices (accuracy, per-class and macro / weighted precision, recall, F1 with the
  delta-method intervals, base and positive rates) and the means with their Student-t intervals; where ROC / PR
  AUC are asked for and the log has probabilities, one ``GROUP BY GROUPING SETS`` (one scan, a hash table per
  set) gives each class's (group, label is the class, its probability) cells: the one-vs-rest ROC AUC (exact rank
  sums with ties, DeLong), average precision and each group's rest — two scans, not one (``_read_multiclass``
  says why). When (groups × 2 × Σ distinct probabilities per class) would pass ``CELL_BUDGET`` every class's
  probability is cut into equal-width bins, as the binary path's score (``ScoreBins``, ``_proba_dims``): each ROC AUC row's
  ``note`` gives its exact maximum error (the macro average: the mean of its classes' bounds). The macro ROC AUC
  never bootstraps (that resamples rows): its interval treats the per-class DeLong variances as independent, and
  says so.
* **regression** — one ``GROUP BY`` of sums per group: n, Σ(x − c) and Σ(x − c)² for |e|, e and e² (MAE, bias,
  RMSE with their Student-t intervals), and for R² the sums of a = y − c_y, a², a³, a⁴, u = e², u², u·a, u·a²
  (its delta-method interval, ``explore.stats.metrics.r2_from_sums``). The centres c only keep the sums of squares
  from cancelling; any value gives the same numbers, so they are the means of the log's first
  ``GROUP_SAMPLE_ROWS`` rows (all of a smaller log; every row on Spark), read once per log. No regression metric needs row-level
  data (no bootstrap, no median), so nothing is approximated.

A group-by of several columns on a log above ``HASH_KEYS_ROWS`` reads the distinct keys first, as the binary path
does (``_hashed_keys``): the aggregations then group by one hash of the keys. Every interval formula is
``explore.stats.metrics``' own, so the numbers equal the pandas path's (tests/engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from explore.engine import metrics as em
from explore.engine.log import LogTable
from explore.stats import metrics as metrics_mod

# False: multiclass and regression requests take the older query-per-statistic path (``EngineCtx``), which
# ``benchmarks/bench_engine.py --paths duckdb-per-statistic`` measures beside this one.
ONE_PASS = True

# The per-row quantities whose means the regression metrics are, by metric.
_REG_KEYS = {"MAE": "abs err", "bias": "err", "RMSE": "sq err"}
# R²: the sums r2_from_sums reads, as products of a = y − c_y and u = e².
_R2_TERMS = {
    "u": "u",
    "a": "a",
    "b": "a * a",
    "uu": "u * u",
    "aa": "a * a",
    "bb": "a * a * a * a",
    "ua": "u * a",
    "ub": "u * a * a",
    "ab": "a * a * a",
}


@dataclass
class _ClassCells:
    """One class's (group, label is the class, probability) cells: the one-vs-rest ranking of that class."""

    g: np.ndarray
    pos: np.ndarray  # bool: the row's label is the class
    s: np.ndarray  # probability (or its bin), NaN where missing / not finite
    n: np.ndarray


class MulticlassCtx(em.CellsCtx):
    """``explore.stats.metrics._Ctx`` over one request's cells of a multiclass log: the (group, label, prediction)
    cells (confusion, log loss and Brier sums) and one set of score cells per class (ROC AUC, average precision)."""

    def __init__(
        self,
        log: LogTable,
        cells: em._Cells,
        scores: list[_ClassCells] | None,
        n_groups: int,
        confidence: float,
        complement: bool = False,
    ) -> None:
        super().__init__(log, cells, n_groups, confidence, complement)
        self.scores = scores

    def _score_blocks(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c = self.scores[k]
        ok = np.isfinite(c.s)
        pos = np.where(c.pos[ok], c.n[ok], 0.0)
        grp_b, s_b, (pos_b, all_b) = em._blocks(c.g[ok], c.s[ok], pos, c.n[ok])
        return grp_b, s_b, pos_b, all_b - pos_b


class RegressionCtx(em.EngineCtx):
    """``explore.stats.metrics._Ctx`` over one request's per-group sums of a regression log."""

    def __init__(
        self,
        log: LogTable,
        sums: dict[str, np.ndarray],
        centres: dict[str, float],
        n_groups: int,
        confidence: float,
        complement: bool = False,
    ) -> None:
        self._setup(log, n_groups, confidence, complement)
        self.sums = sums
        self.centres = centres
        self._set_support(sums["n"])

    def _group(self, name: str) -> np.ndarray:
        a = self.sums[name]
        return a.sum() - a if self.complement else a

    def row_mean(self, key: str, values: Any) -> dict[str, np.ndarray]:
        n, s1, s2 = (self._group(f"{key}:{p}") for p in "csq")
        return metrics_mod.mean_from_sums(n, s1, s2, self.centres[key], self.conf)

    def r2(self) -> metrics_mod._Res:
        return metrics_mod.r2_from_sums(
            self, self._group("r2:n"), {t: self._group(f"r2:{t}") for t in _R2_TERMS}
        )


def grouped(
    log: LogTable,
    grouping: Any,
    resolved: list[tuple[str, metrics_mod.MetricDef, int | None]],
    confidence: float,
    where: str | None,
    complements: tuple[bool, ...],
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """``explore.engine.metrics._grouped`` for a multiclass or regression log: the groups and one long table per
    entry of ``complements`` (False: the groups, True: their rests), from one aggregation of the rows (a
    multiclass log's ROC / PR AUC: a second, its probability cells)."""
    if log.task == "regression":
        keys, sums, centres = _read_regression(log, grouping, where, resolved)
        ctxs = [RegressionCtx(log, sums, centres, len(keys), confidence, c) for c in complements]
    else:
        keys, cells, scores = _read_multiclass(log, grouping, where, resolved)
        ctxs = [MulticlassCtx(log, cells, scores, len(keys), confidence, c) for c in complements]
    frames = []
    for ctx in ctxs:
        frame = metrics_mod.metrics_frame(ctx, resolved, log.unavailable, log.has_proba, log.has_proba)
        frames.append(_binned_notes(ctx, frame) if isinstance(ctx, MulticlassCtx) else frame)
    return keys, frames


# ---- the one aggregation ---------------------------------------------------------------------------------


def _groups(log: LogTable, grouping: Any, where: str | None) -> tuple[pd.DataFrame | None, Any]:
    """(the hashed keys or None, a function giving the number of groups) before the aggregation."""
    hashed = em._hashed_keys(log, grouping, where)
    if hashed is not None:
        return hashed, lambda: max(len(hashed), 1)
    return None, lambda: em._estimate_groups(log, grouping, where)


def _per_group(frame: pd.DataFrame, column: str, G: int) -> np.ndarray:
    """A column of the aggregation summed per group code (0 where a group has no row)."""
    g = em._numeric(frame, "g").astype(np.intp)
    x = np.nan_to_num(em._numeric(frame, column))
    return np.bincount(g, weights=x, minlength=G)[:G].astype("float64")


# ---- multiclass ------------------------------------------------------------------------------------------


def _first_rows(log: LogTable, columns: str) -> str:
    """SQL: ``columns`` of the log's first ``GROUP_SAMPLE_ROWS`` rows (in file order: DuckDB keeps the insertion
    order); on Spark, whose ``LIMIT`` takes any rows (the bins would move between runs), every row, as the binary
    path's estimates there. What they estimate (how many distinct probabilities, where the bins start, the centres
    of sums) needs no random sample, and a ``LIMIT`` stops the scan early: measured at 10M rows, 5 classes,
    DuckDB's system sample (which decodes every row) took 1.6 s CPU for the probabilities' counts."""
    limit = f" LIMIT {em.GROUP_SAMPLE_ROWS}" if isinstance(log.con, duckdb.DuckDBPyConnection) else ""
    return f"(SELECT {columns} FROM rows{limit}) AS r"


def _proba_stats(log: LogTable) -> list[tuple[float, float | None, float | None]]:
    """Per class: (distinct finite probabilities, lowest, highest), from the log's first rows once per log (when
    they are mostly distinct the probabilities are continuous: as many as rows); a probability outside the range
    gets a bin beyond it, in order."""
    if "proba stats" not in log.memo:
        parts = []
        for k in range(log.K):
            fin = f"FILTER (WHERE {em._finite(f'p{k}')})"
            parts += [
                f"count(*) {fin}",
                f"count(DISTINCT p{k}) {fin}",
                f"min(p{k}) {fin}",
                f"max(p{k}) {fin}",
            ]
        cols = ", ".join(f"_p{k} AS p{k}" for k in range(log.K))
        r = log.sql(f"SELECT {', '.join(parts)} FROM {_first_rows(log, cols)}").fetchall()[0]
        n_rows = int(em._over_all_rows(log, "count(*)"))
        limited = isinstance(log.con, duckdb.DuckDBPyConnection) and n_rows > em.GROUP_SAMPLE_ROWS
        out = []
        for k in range(log.K):
            m, distinct, lo, hi = r[4 * k : 4 * k + 4]
            d = float(distinct or 0)
            if limited and d > 0.5 * float(m or 0):
                d = float(n_rows)
            out.append((d, lo, hi))
        log.memo["proba stats"] = out
    return log.memo["proba stats"]


def _proba_dims(log: LogTable, groups: Any) -> tuple[list[str], em.ScoreBins | None]:
    """Each class's cell score: its probability when (groups × 2 × Σ distinct) fits ``CELL_BUDGET`` (or the log
    has fewer rows than that), else every class's probability in ``ScoreBins``. Each class's cells are a hash table
    of their own, so each gets the binary path's ``BINNED_CELLS`` (``CELL_BUDGET`` / K in all past 12 classes):
    measured at 10M rows, 180 groups, 5 classes, the cells query 2.6 s CPU with 138 bins per class against 2.4 s
    with 64 (a fifth of the cells each), for half the ROC AUC's stated maximum error."""
    exact = [f"_p{k}" for k in range(log.K)]
    if int(em._over_all_rows(log, "count(*)")) <= em.CELL_BUDGET:
        return exact, None
    stats = _proba_stats(log)
    if any(lo is None for _, lo, _ in stats):
        return exact, None
    G = groups()
    if G * 2 * sum(d for d, _, _ in stats) <= em.CELL_BUDGET:
        return exact, None
    n_bins = max(min(em.BINNED_CELLS, em.CELL_BUDGET // log.K) // (G * 2), em.MIN_BINS)
    if n_bins >= max(d for d, _, _ in stats):
        return exact, None
    bins = [em.ScoreBins(int(n_bins), float(lo), float(hi)) for _, lo, hi in stats]
    return [b.sql(f"_p{k}") for k, b in enumerate(bins)], bins[0]


def _brier_sql(log: LogTable) -> str:
    """SQL: the multiclass Brier term Σ_k (p_k − [y = k])², as Σ_k p_k² − 2·p_y + [y is a class] — products, not
    DuckDB's ``**`` (measured at 10M rows: the (group, label, prediction) aggregation with the loss sums, 0.77 s
    CPU against 1.76 s)."""
    squares = " + ".join(f"_p{k} * _p{k}" for k in range(log.K))
    return f"({squares} - 2 * coalesce({log.p_true()}, 0) + (CASE WHEN _y >= 0 THEN 1 ELSE 0 END))"


def _read_multiclass(
    log: LogTable, grouping: Any, where: str | None, resolved: list
) -> tuple[pd.DataFrame, em._Cells, list[_ClassCells] | None]:
    """The (group, label, prediction) counts with the loss sums, and (when ROC / PR AUC are asked for and the log
    has probabilities) each class's (group, label is the class, probability) cells: two aggregations, each one
    pass. One ``GROUPING SETS`` pass could hold both, but its aggregates run in every set: the loss sums in the
    K score sets cost more than a second scan (measured at 10M rows, 5 classes, CPU: 3.6 s in one pass against
    1.2 s + 0.8 s in two)."""
    grouping = grouping or em.Grouping((), ())
    K = log.K
    hashed, groups = _groups(log, grouping, where)
    sum_keys = em._sum_keys(resolved) if log.has_proba else []
    inner = [f"(coalesce(_y, -1) + 1) * {K + 1} + coalesce(_pred, -1) + 1 AS yp"]
    aggs = ["count(*) AS n"]
    for i, key in enumerate(sum_keys):
        inner.append(f"{_brier_sql(log) if key == 'brier' else em._row_expr(log, key)} AS x{i}")
        ok = f"FILTER (WHERE {em._finite(f'x{i}')})"
        aggs += [f"count(*) {ok} AS c{i}", f"sum(x{i}) {ok} AS s{i}", f"sum(x{i} * x{i}) {ok} AS q{i}"]
    parts = [em._Part(inner, [["yp"]], aggs)]
    needs_scores = log.has_proba and any(
        m.name in ("ROC AUC", "PR AUC") and m.name not in log.unavailable for _, m, _ in resolved
    )
    bins = None
    if needs_scores:
        dims, bins = _proba_dims(log, groups)
        inner_s = []
        for k, d in enumerate(dims):
            inner_s += [f"(CASE WHEN _y = {k} THEN 1 ELSE 0 END) AS pos{k}", f"{d} AS s{k}"]
        sets = [[f"pos{k}", f"s{k}"] for k in range(K)]
        flags = [f"GROUPING(s{k}) AS w{k}" for k in range(K)] if K > 1 else []
        parts.append(em._Part(inner_s, sets, ["count(*) AS n"], flags))
    keys, frames = em._aggregate(log, grouping, where, hashed, parts)
    main = frames[0]
    m = len(main)
    n = em._numeric(main, "n")
    yp = em._numeric(main, "yp").astype(np.intp)
    y, pr = yp // (K + 1) - 1, yp % (K + 1) - 1
    pred = np.zeros((m, K + 1))
    pred[np.arange(m), np.where(pr >= 0, pr, K)] = n  # the last column: a prediction outside the classes
    cells = em._Cells(
        g=em._numeric(main, "g").astype(np.intp),
        y=y,
        s=np.full(m, np.nan),
        n=n,
        pred=pred,
        sums={
            key: tuple(np.nan_to_num(em._numeric(main, f"{c}{i}")) for c in "csq")  # type: ignore[misc]
            for i, key in enumerate(sum_keys)
        },
        bins=bins,
    )
    scores = None
    if needs_scores:
        frame, scores = frames[1], []
        for k in range(K):
            part = frame[em._numeric(frame, f"w{k}") == 0] if K > 1 else frame
            s = em._numeric(part, f"s{k}")
            scores.append(
                _ClassCells(
                    g=em._numeric(part, "g").astype(np.intp),
                    pos=em._numeric(part, f"pos{k}") == 1,
                    s=np.where(np.isfinite(s), s, np.nan),
                    n=em._numeric(part, "n"),
                )
            )
    return keys, cells, scores


def _binned_notes(ctx: MulticlassCtx, frame: pd.DataFrame) -> pd.DataFrame:
    """Binned probabilities: each ROC AUC row gives its exact maximum error (the macro average: the mean of the
    bounds of the classes it averages), each PR AUC row says it is binned."""
    bins = ctx.cells.bins
    if bins is None:
        return frame
    frame = frame.copy()
    names = [str(c) for c in ctx.log.classes]
    for i in range(len(frame)):
        base, cls = metrics_mod._split(str(frame.at[i, "metric"]))
        if base not in ("ROC AUC", "PR AUC"):
            continue
        g = int(frame.at[i, "group"])
        if base == "PR AUC":
            text = em.NOTE_BINNED_AP.format(bins=bins.n)
        else:
            ks = range(ctx.K) if cls is None else [names.index(cls)]
            bounds = [
                float(ctx.auc_stats(k)["max_error"][g]) for k in ks if np.isfinite(ctx.auc_stats(k)["auc"][g])
            ]
            if not bounds or not np.isfinite(b := float(np.mean(bounds))):
                continue
            text = em.NOTE_BINNED.format(bins=bins.n, bound=b)
        old = frame.at[i, "note"]
        frame.at[i, "note"] = f"{old}; {text}" if old else text
    return frame


# ---- regression ------------------------------------------------------------------------------------------


def _centres(log: LogTable) -> dict[str, float]:
    """The means of |e|, e, e² and y (rows where both are finite) over the log's first rows, once per log: the
    centres of the sums (any value gives the same numbers; a near one keeps the squares from cancelling)."""
    if "regression centres" not in log.memo:
        fe, fu = "FILTER (WHERE isfinite(e))", "FILTER (WHERE isfinite(e * e))"
        ok = "FILTER (WHERE isfinite(y) AND isfinite(e))"
        r = log.sql(
            f"SELECT avg(abs(e)) {fe}, avg(e) {fe}, avg(e * e) {fu}, avg(y) {ok} "
            f"FROM {_first_rows(log, '_y AS y, _pred - _y AS e')}"
        ).fetchall()[0]
        names = ("abs err", "err", "sq err", "y")
        log.memo["regression centres"] = {
            k: 0.0 if v is None else float(v) for k, v in zip(names, r, strict=True)
        }
    return log.memo["regression centres"]


def _read_regression(
    log: LogTable, grouping: Any, where: str | None, resolved: list
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, float]]:
    grouping = grouping or em.Grouping((), ())
    hashed, _ = _groups(log, grouping, where)
    names = {m.name for _, m, _ in resolved}
    keys_needed = [_REG_KEYS[n] for n in ("MAE", "bias", "RMSE") if n in names]
    centres = _centres(log) if keys_needed or "R²" in names else {}
    # Every inner expression from the view's own columns: an alias of the same projection (a lateral alias) would
    # lose to a data column of that name.
    inner: list[str] = []
    aggs = ["count(*) AS n"]
    cols: dict[str, str] = {"n": "n"}
    e = "(_pred - _y)"
    for i, key in enumerate(keys_needed):
        x = {"abs err": f"abs{e}", "err": e, "sq err": f"({e} * {e})"}[key]
        c = repr(centres[key])
        inner.append(f"{x} - {c} AS d{i}")
        ok = f"FILTER (WHERE {em._finite(f'd{i}')})"
        aggs += [f"count(*) {ok} AS c{i}", f"sum(d{i}) {ok} AS s{i}", f"sum(d{i} * d{i}) {ok} AS q{i}"]
        cols.update({f"{key}:c": f"c{i}", f"{key}:s": f"s{i}", f"{key}:q": f"q{i}"})
    if "R²" in names:
        inner += [
            f"_y - {centres['y']!r} AS a",
            "(_pred - _y) * (_pred - _y) AS u",
            "isfinite(_y) AND isfinite(_pred - _y) AS ok",
        ]
        aggs.append("count(*) FILTER (WHERE ok) AS r2n")
        cols["r2:n"] = "r2n"
        named: dict[str, str] = {}  # each distinct product summed once (aa is b)
        for t, expr in _R2_TERMS.items():
            if expr not in named:
                named[expr] = f"r{len(named)}"
                aggs.append(f"sum({expr}) FILTER (WHERE ok) AS {named[expr]}")
            cols[f"r2:{t}"] = named[expr]
    keys, (frame,) = em._aggregate(log, grouping, where, hashed, [em._Part(inner, [[]], aggs)])
    G = len(keys)
    sums = {name: _per_group(frame, col, G) for name, col in cols.items()}
    return keys, sums, centres
