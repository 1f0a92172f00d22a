"""Drift per feature × window in DuckDB: PSI, KS and JS from engine-side histograms, the in-memory definitions.

The reference profile (quantile bin edges, categories) is built from the reference rows' *distinct values and
their counts*, which the engine returns — the same profile ``explore.staleness.drift.reference_profile`` builds
in memory, so bucket edges are bit-identical. Current rows are bucketed by a SQL expression (numeric) or
counted per distinct value (categorical), per window.

KS, two ways. A reference with at most ``KS_MAX_POINTS`` distinct values of a feature: rows per (window, slot)
of those points, found by an ASOF join, and the largest CDF gap at the slot ends — exactly
``scipy.stats.ks_2samp``'s statistic (``ks_method`` "exact"; one join per feature, meant for logs of the size
pandas would hold). Above it (a continuous feature of a big log) the feature is *scanned*: its reference range
is cut into ``KS_GRID`` equal cells and every row gets one small integer that gives both its PSI bucket and its
cell (``_Code``), written for every feature in one pass over the files into a compact temp table (a few passes of
a few features each when the log is too big for one, ``CODE_BYTES``); a ``GROUP BY`` of (window, code) per
feature over that table gives the PSI/JS and the KS histograms of all windows. Both CDFs are exact at the cell ends, so
the KS statistic is the largest gap there: a lower bound of the exact one, by at most the reference share of
one cell (``ks_method`` "grid"). The reference's edges of such features come from one ``quantile_cont`` query
over all of them.

``drift_matrix`` is what the app and the notebook call: above ``DRIFT_EXACT_ROWS`` rows it runs the same queries on a
deterministic uniform sample of the rows (an integer hash of each row's file and place in it, ``row_hash_sql``),
copied once into a temp table, and its result says so (``DriftResult.sample``: a ``DriftSample``); ``exact=True``
reads every row. On that in-memory sample the scanned features' codes are not written to a table: their values are
streamed out as Arrow batches and a compiled loop (``explore.engine.driftcount``) computes the same code and counts
it per (window, code) (``_count_codes``).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from explore.engine.log import LogTable, duckdb_setting, quote
from explore.engine.metrics import Grouping, _define_groups
from explore.errors import AnalysisError
from explore.staleness import drift

KS_MAX_POINTS = 20_000
KS_GRID = 4096


@dataclass(frozen=True)
class _Cells:
    """The KS grid of a scanned feature: ``n`` equal cells of ``width`` from ``lo`` (plus one below, one above)."""

    lo: float
    hi: float
    width: float
    n: int

    def cell_sql(self, x: str) -> str:
        """SQL: the row's cell, 0 below ``lo`` … n + 1 at or above ``hi`` (NaN: n + 1, NULL: NULL)."""
        # The position clamped to [−1, n + ½] before the floor — ±inf and NaN (above everything in DuckDB's and
        # Spark's order) never reach it: Spark's floor of NaN is the BIGINT 0 — then −1 → cell 0, n → cell n + 1.
        return f"(CAST(floor(least(greatest(({x} - {self.lo!r}) / {self.width!r}, -1.0), {self.n + 0.5!r})) AS INTEGER) + 1)"


@dataclass(frozen=True)
class _Code:
    """One small integer per row of a scanned feature that gives both its PSI bucket and its KS cell.

    ``cell + b + above``: the cell, the number of inner bucket edges strictly below the value (its bucket when
    inside the reference range) and 1 above the last edge. The three never decrease as the value grows, so
    their sum tells them apart: the rows of bucket b (and those above the range) hold a run of consecutive codes
    starting at the code of the smallest double in it, ``starts`` (measured by the engine on those doubles, so
    SQL and numpy never disagree on a rounding); NaN gets ``missing``, one more than any other, and NULL no code."""

    cells: _Cells
    edges: np.ndarray

    @property
    def n_b(self) -> int:
        return max(len(self.edges) - 1, 1)

    @property
    def missing(self) -> int:
        """The code of NaN: one above +inf's (NULL has none)."""
        L = len(self.edges)
        return self.cells.n + 2 + (max(L - 2, 0) + 1 if L else 0)

    def sql(self, x: str) -> str:
        # No CASE around it: NULL gives NULL, and NaN — above every edge in DuckDB's and Spark's order, in the
        # last cell — the largest code plus its isnan. Measured at 10M rows × 15 features (the codes table, two
        # alternating runs, load 14–18): 10.9 and 11.6 CPU s with the CASE, 10.4 and 11.4 without — a few percent.
        nan = f"CAST(isnan({x}) AS INTEGER)"
        if not self.edges.size:
            return f"({self.cells.cell_sql(x)} + {nan})"
        inner = _count_above(x, [float(e) for e in self.edges[1:-1]], 0)
        above = f"CAST({x} > {float(self.edges[-1])!r} AS INTEGER)"
        return f"({self.cells.cell_sql(x)} + {inner} + {above} + {nan})"

    def starts(self, log: LogTable) -> np.ndarray:
        """The first code of every bucket, then of the values above the range (one tiny engine query)."""
        if not self.edges.size:
            return np.zeros(0, dtype="int64")
        e = self.edges.astype("float64")
        probe = np.concatenate([e[:1], np.nextafter(e[1:-1], np.inf), np.nextafter(e[-1:], np.inf)])
        log.con.register("_probe", pd.DataFrame({"i": np.arange(len(probe)), "v": probe}))
        try:
            r = log.sql(f"SELECT i, {self.sql('v')} AS k FROM _probe ORDER BY i").fetchnumpy()
        finally:
            log.con.unregister("_probe")
        return np.asarray(r["k"], dtype="int64")

    def literals(self) -> list[str]:
        """The SQL literals of the code's constants: lo, width, n + ½, the inner edges, the last edge."""
        inner = [repr(float(e)) for e in self.edges[1:-1]]
        last = [repr(float(self.edges[-1]))] if self.edges.size else []
        return [repr(self.cells.lo), repr(self.cells.width), repr(self.cells.n + 0.5), *inner, *last]

    def decode(
        self, log: LogTable, g: np.ndarray, k: np.ndarray, n: np.ndarray, G: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows per (group, code; −1 for NULL) -> (rows per group × bucket — the buckets, unseen, missing —, present
        rows per group × cell)."""
        c = self.cells
        buckets = np.zeros((G, self.n_b + 2), dtype="int64")
        per_cell = np.zeros((G, c.n + 2), dtype="int64")
        miss = (k < 0) | (k == self.missing)
        np.add.at(buckets, (g[miss], self.n_b + 1), n[miss])
        g, k, n = g[~miss], k[~miss], n[~miss]
        r = np.searchsorted(self.starts(log), k, side="right") - 1  # −1: below the range
        inside = (r >= 0) & (r < self.n_b)
        np.add.at(buckets, (g, np.where(inside, r, self.n_b)), n)
        np.add.at(per_cell, (g, k - np.maximum(r, 0)), n)
        return buckets, per_cell


# Scanned profiles (their KS points are the cell ends of a grid) -> their codes (grid and bucket edges).
_GRID_PROFILES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UTINYINT",
                  "USMALLINT", "UINTEGER", "UBIGINT", "TIMESTAMP", "DATE", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS")  # fmt: skip


def _is_numeric(sql_type: str) -> bool:
    return sql_type.upper().split("(")[0] in _NUMERIC_TYPES


def _value(log: LogTable, feature: str) -> str:
    """SQL: the feature as a float (timestamps as epoch nanoseconds, as in memory)."""
    t = log.types[feature].upper()
    col = f"rows.{quote(feature)}"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST(epoch_ns(CAST({col} AS TIMESTAMP)) AS DOUBLE)"
    return f"CAST({col} AS DOUBLE)"


def _missing(x: str) -> str:
    return f"({x} IS NULL OR isnan({x}))"


def _check_features(log: LogTable, features: Sequence[str]) -> list[str]:
    features = list(features)
    if not features:
        raise AnalysisError(drift.NO_FEATURES.format(known=", ".join(list(log.types)[:20])))
    missing = [f for f in features if f not in log.types]
    if missing:
        raise AnalysisError(
            drift.UNKNOWN_FEATURES.format(
                what=f"dataset '{log.name}'",
                missing=", ".join(map(repr, missing[:10])),
                known=", ".join(list(log.types)[:20]),
            )
        )
    return features


def first_window(log: LogTable, unit: str = "month") -> str:
    """SQL condition selecting the rows of the log's first calendar window (``by_time_window(log, unit)``'s first
    group), as a range on the time column itself: ``t >= start AND t < start + 1 unit``.

    The same rows as ``date_trunc(unit, t) = start``, but a range on a stored timestamp column is checked against
    the Parquet row groups' min / max statistics, so the reference is read from its own files only — at 10M rows
    17 × faster than the ``date_trunc`` condition, which reads every row of every file."""
    from explore.engine.metrics import CALENDAR_STEP, _calendar_starts, by_time_window, time_value

    if unit == "rows":
        raise AnalysisError(
            "first_window takes a calendar unit (year, quarter, month, week, day, hour); the first of the "
            "equal-row windows is the condition by_time_window(log, 'rows').exprs[0] = its first key."
        )
    windows = by_time_window(log, unit)  # checks the time column and the unit
    starts = _calendar_starts(log, unit)  # from the log's remembered time range: no pass over the rows
    if starts is not None:
        start = pd.Timestamp(starts[0])
    else:  # more windows than are searched (or no timestamp): the first one by a pass over the rows
        first = log.sql(f"SELECT min({windows.exprs[0]}) FROM rows WHERE {windows.where}").fetchall()[0][0]
        if first is None:
            raise AnalysisError(
                f"Dataset '{log.name}' has no timestamp in its time column '{log.columns.time}'."
            )
        start = pd.Timestamp(first)
    end = start + CALENDAR_STEP[unit]
    t = time_value(log)
    return f"({t} >= TIMESTAMP '{start.isoformat(sep=' ')}' AND {t} < TIMESTAMP '{end.isoformat(sep=' ')}')"


def reference_profile(
    log: LogTable,
    *,
    features: Sequence[str],
    where: str | None = None,
    name: str = "reference",
    n_bins: int = drift.PSI_BINS,
    max_categories: int = drift.MAX_CATEGORIES,
) -> drift.ReferenceProfile:
    """The profile of ``features`` over the log's rows matching the SQL condition ``where`` (all rows when None),
    from engine-side distinct-value counts; equal to ``explore.staleness.drift.reference_profile`` in memory."""
    features = _check_features(log, features)
    cond = f"WHERE {where}" if where else ""
    # The reference rows' features, read from the files once: every profile query below reads this table.
    listed = ", ".join(f"rows.{quote(f)}" for f in features)
    log.sql(f"CREATE OR REPLACE TEMP TABLE _ref AS SELECT {listed} FROM rows {cond}")
    cond = ""
    try:
        n_rows = int(log.sql("SELECT count(*) FROM _ref").fetchall()[0][0])
        if n_rows == 0:
            raise AnalysisError(drift.EMPTY_REFERENCE.format(name=name))
        numeric = [f for f in features if _is_numeric(log.types[f])]
        stats = _numeric_stats(log, numeric, cond)
        scanned = [f for f in numeric if stats[f][0] > KS_MAX_POINTS]
        profiles = _scanned_profiles(log, scanned, stats, cond, n_rows, n_bins)
        for f in features:
            if f in profiles:
                continue
            if _is_numeric(log.types[f]):
                profiles[f] = _numeric_profile(log, f, cond, n_rows, n_bins, stats[f])
            else:
                profiles[f] = _categorical_profile(log, f, cond, n_rows, max_categories)
        profiles = {f: profiles[f] for f in features}
    finally:
        log.sql("DROP TABLE IF EXISTS _ref")
    return drift.ReferenceProfile(name=name, n_rows=n_rows, features=profiles, n_bins=n_bins)


def _numeric_stats(log: LogTable, features: list[str], cond: str) -> dict[str, tuple[int, int, float, float]]:
    """Per numeric feature, in one query over the reference: (distinct values — approximate, HyperLogLog —,
    missing, finite min, finite max)."""
    if not features:
        return {}
    aggs = []
    for f in features:
        x = _value(log, f)
        aggs += [
            f"approx_count_distinct({x}) FILTER (WHERE NOT {_missing(x)})",  # decides exact KS or grid
            f"count(*) FILTER (WHERE {_missing(x)})",
            f"min({x}) FILTER (WHERE isfinite({x}))",
            f"max({x}) FILTER (WHERE isfinite({x}))",
        ]
    r = log.sql(f"SELECT {', '.join(aggs)} FROM _ref AS rows {cond}").fetchall()[0]
    return {
        f: (
            int(r[4 * i]),
            int(r[4 * i + 1]),
            math.nan if r[4 * i + 2] is None else float(r[4 * i + 2]),
            math.nan if r[4 * i + 3] is None else float(r[4 * i + 3]),
        )
        for i, f in enumerate(features)
    }


def _bucket_names(edges: np.ndarray) -> list[str]:
    if len(edges) >= 2:
        return [f"[{drift._num(edges[0])}, {drift._num(edges[1])}]"] + [
            f"({drift._num(edges[i])}, {drift._num(edges[i + 1])}]" for i in range(1, len(edges) - 1)
        ]
    return [f"= {drift._num(edges[0])}" if edges.size else "(no reference values)"]


def _numeric_profile(
    log: LogTable, f: str, cond: str, n_rows: int, n_bins: int, stats: tuple[int, int, float, float]
) -> drift.FeatureProfile:
    """A feature with few distinct reference values: its whole CDF, for the exact KS."""
    x = _value(log, f)
    keep = f"NOT {_missing(x)}"
    where = f"{cond} AND {keep}" if cond else f"WHERE {keep}"
    _, n_missing, low, high = stats
    r = log.sql(
        f"SELECT {x} AS v, count(*) AS n FROM _ref AS rows {where} GROUP BY 1 ORDER BY 1"
    ).fetchnumpy()
    u = np.asarray(r["v"], dtype="float64")
    below = np.concatenate([[0], np.cumsum(np.asarray(r["n"], dtype="int64"))])
    edges = drift._edges_from_distinct(u, below, n_bins)
    n_b = max(len(edges) - 1, 1)
    counts = np.zeros(n_b + 2, dtype="int64")
    b = _bucket_sql(x, edges)
    r = log.sql(f"SELECT {b} AS b, count(*) AS n FROM _ref AS rows {where} GROUP BY 1").fetchnumpy()
    np.add.at(counts, np.asarray(r["b"], dtype=np.intp), np.asarray(r["n"], dtype="int64"))
    counts[n_b + 1] = n_missing
    return drift.FeatureProfile(
        name=f,
        kind="numeric",
        buckets=[*_bucket_names(edges), drift.UNSEEN, drift.MISSING],
        ref_counts=counts,
        n_ref=n_rows,
        null_rate=n_missing / n_rows,
        edges=edges,
        low=low,
        high=high,
        distinct=(u, below),
    )


def _scanned_profiles(
    log: LogTable,
    features: list[str],
    stats: dict[str, tuple[int, int, float, float]],
    cond: str,
    n_rows: int,
    n_bins: int,
) -> dict[str, drift.FeatureProfile]:
    """Profiles of features with many distinct reference values, in two queries whatever their number: the
    quantile edges of all of them, then one ``GROUPING SETS`` histogram of every feature's bucket × cell key."""
    if not features:
        return {}
    probs = ", ".join(repr(float(q)) for q in np.linspace(0.0, 1.0, n_bins + 1))
    aggs = [
        f"quantile_cont({_value(log, f)}, [{probs}]) FILTER (WHERE isfinite({_value(log, f)}))"
        for f in features
    ]
    qs = log.sql(f"SELECT {', '.join(aggs)} FROM _ref AS rows {cond}").fetchall()[0]
    edges = {
        f: np.unique(np.asarray(q if q is not None else [], dtype="float64"))
        for f, q in zip(features, qs, strict=True)
    }
    cells = {}
    for f in features:
        lo, hi = stats[f][2], stats[f][3]
        if math.isnan(lo):
            lo = hi = 0.0
        # hi / n − lo / n, not (hi − lo) / n: the same double whenever hi − lo is finite (dividing by a power of
        # two is exact), and finite when the values reach ±1e308 (an infinite width was written into the SQL).
        cells[f] = _Cells(lo, hi, hi / KS_GRID - lo / KS_GRID if hi > lo else 1.0, KS_GRID)
    codes = {f: _Code(cells[f], edges[f]) for f in features}
    hist = _histograms(log, features, codes, f"FROM _ref AS rows {cond}", None, n_rows)
    out = {}
    for f in features:
        e, c = edges[f], cells[f]
        counts, per_cell = (a[0] for a in hist[f])  # rows per bucket, present rows per cell
        with np.errstate(over="ignore"):  # a range near ±1e308: the top cells' starts capped at hi
            inner = np.minimum(c.lo + c.width * np.arange(1, c.n), c.hi)
        points = np.concatenate([[c.lo], inner, [c.hi]])
        below = np.concatenate([np.cumsum(per_cell)[:-1], [per_cell.sum()]])
        n_missing = stats[f][1]
        prof = drift.FeatureProfile(
            name=f,
            kind="numeric",
            buckets=[*_bucket_names(e), drift.UNSEEN, drift.MISSING],
            ref_counts=counts.astype("int64"),
            n_ref=n_rows,
            null_rate=n_missing / n_rows,
            edges=e,
            low=stats[f][2],
            high=stats[f][3],
            distinct=(points, below.astype("int64")),
        )
        _GRID_PROFILES[prof] = codes[f]
        out[f] = prof
    return out


# A pass over the rows writes every feature's code into one temp table of at most this many bytes (4 for the
# group, 2 per feature and row): a 100M-row log is read in a few passes of a few features each, so the engine's
# memory stays bounded whatever the log's size.
CODE_BYTES = 1_500_000_000


def _histograms(
    log: LogTable,
    numeric: list[str],
    codes: dict[str, _Code],
    source: str,
    group: int | None,
    n_rows: int,
    categorical: Sequence[str] = (),
) -> dict[str, object]:
    """Counts over ``source`` (a FROM clause over ``rows``; with ``group``, the view ``grp`` and its G groups): per
    scanned numeric feature (rows per group × bucket, present rows per group × cell), per categorical feature the
    (g, value, n) frame, and ``"_rows"``: rows per group.

    The numeric features' codes are computed once per row into a compact temp table (``_dcodes``: the group and a
    SMALLINT per feature), then each feature's histogram is one ``GROUP BY`` of (group, code) over that table —
    counted in an array indexed by the two (DuckDB's perfect hash, ``_perfect_hash``), over 2-byte columns,
    instead of one ``GROUPING SETS`` over the files, whose expressions and wide keys cost thirty times a scan. The categorical values are counted straight from
    ``source`` in one ``GROUPING SETS`` pass (their strings are read cheaply, dictionary-encoded)."""
    G = group or 1
    g = "g" if group is not None else "0"
    out: dict[str, object] = {}
    if categorical or not numeric:
        names = [f"v{i}" for i in range(len(categorical))]
        cols = "".join(f", rows.{quote(f)} AS {v}" for f, v in zip(categorical, names, strict=True))
        sets = ", ".join(["(g)", *(f"(g, {v})" for v in names)])
        gid = f"GROUPING({', '.join(names)})" if names else "0"
        r = log.sql(
            f"SELECT g{''.join(', ' + v for v in names)}, {gid} AS gid, count(*) AS n "
            f"FROM (SELECT {g} AS g{cols} {source}) GROUP BY GROUPING SETS ({sets})"
        ).df()
        m = len(names)
        part = r[r["gid"] == (1 << m) - 1]
        rows = np.zeros(G, dtype="int64")
        rows[part["g"].to_numpy(dtype=np.intp)] = part["n"].to_numpy(dtype="int64")
        out["_rows"] = rows
        for i, f in enumerate(categorical):
            part = r[r["gid"] == (1 << m) - 1 - (1 << (m - 1 - i))]
            out[f] = part[["g", names[i], "n"]].rename(columns={names[i]: "v"}).reset_index(drop=True)
    if numeric and _IN_MEMORY.get() and isinstance(log.con, duckdb.DuckDBPyConnection):
        dense = _count_codes(log, numeric, codes, f"SELECT CAST({g} AS INTEGER) AS g, {{}} {source}", G)
        if "_rows" not in out:
            out["_rows"] = dense[numeric[0]].sum(axis=1)
        for f in numeric:
            gi, k = np.nonzero(dense[f])
            n = dense[f][gi, k]
            out[f] = codes[f].decode(log, gi, np.where(k == codes[f].missing + 1, -1, k), n, G)
        return out
    per_pass = max(1, (CODE_BYTES // max(n_rows, 1) - 4) // 2)
    for start in range(0, len(numeric), per_pass):
        batch = numeric[start : start + per_pass]
        sel = ", ".join(
            f"CAST({codes[f].sql(_value(log, f))} AS {'SMALLINT' if codes[f].missing < 2**15 - 1 else 'INTEGER'}) AS k{i}"
            for i, f in enumerate(batch)
        )
        log.sql(f"CREATE OR REPLACE TEMP TABLE _dcodes AS SELECT CAST({g} AS INTEGER) AS g, {sel} {source}")
        try:
            if "_rows" not in out:
                r = log.sql("SELECT g, count(*) AS n FROM _dcodes GROUP BY g").fetchnumpy()
                rows = np.zeros(G, dtype="int64")
                rows[np.asarray(r["g"], dtype=np.intp)] = np.asarray(r["n"], dtype="int64")
                out["_rows"] = rows
            with _perfect_hash(log, G, max(codes[f].missing for f in batch) + 1):
                for i, f in enumerate(batch):
                    r = log.sql(
                        f"SELECT g, coalesce(k{i}, -1) AS k, count(*) AS n FROM _dcodes GROUP BY g, k{i}"
                    ).fetchnumpy()
                    out[f] = codes[f].decode(
                        log,
                        np.asarray(r["g"], dtype=np.intp),
                        np.asarray(r["k"], dtype="int64"),
                        np.asarray(r["n"], dtype="int64"),
                        G,
                    )
        finally:
            log.sql("DROP TABLE IF EXISTS _dcodes")
    return out


# Set while the sampled matrix reads its in-memory sample (``drift_matrix``): the scanned features' rows per
# (group, code) are then counted by a compiled loop over the streamed values (``_count_codes``) instead of the
# ``_dcodes`` table and its GROUP BYs. Measured at 100M rows (a 5M-row sample, 15 scanned features): see the block
# "drift of a big log on a deterministic row sample" below.
_IN_MEMORY: contextvars.ContextVar[bool] = contextvars.ContextVar("drift_in_memory", default=False)


@contextlib.contextmanager
def _counting_in_memory(on: bool = True) -> Iterator[None]:
    """The scanned features counted by the compiled loop (``on``) or by SQL (off) while in the block."""
    token = _IN_MEMORY.set(on)
    try:
        yield
    finally:
        _IN_MEMORY.reset(token)


# Rows per Arrow batch streamed to the loop: its memory (8 bytes per value) stays a few tens of MB.
STREAM_ROWS = 1 << 19


def _count_codes(
    log: LogTable, numeric: list[str], codes: dict[str, _Code], query: str, G: int
) -> dict[str, np.ndarray]:
    """Per scanned feature, rows per (group, code) — the SQL code's (``_Code.sql``), NULL in the last column — of
    ``query`` (a SELECT of the group ``g``, its ``{}`` the features' values), counted by ``driftcount.count_codes``
    on Arrow batches streamed from DuckDB: the same numbers as the ``_dcodes`` table's GROUP BYs."""
    from explore.engine import driftcount

    consts = _parsed_constants(log, [codes[f] for f in numeric])
    dense = {f: np.zeros((G, codes[f].missing + 2), dtype=np.int64) for f in numeric}
    values = ", ".join(f"{_value(log, f)} AS x{i}" for i, f in enumerate(numeric))
    no_nulls = np.zeros(0, dtype=np.uint8)
    reader = log.con.sql(query.format(values)).to_arrow_reader(STREAM_ROWS)
    for batch in reader:
        g = batch.column(0).to_numpy(zero_copy_only=True)
        for i, f in enumerate(numeric):
            col = batch.column(i + 1)
            validity, data = col.buffers()[:2]
            x = np.frombuffer(data, dtype=np.float64, count=col.offset + len(col))[col.offset :]
            valid = np.frombuffer(validity, dtype=np.uint8) if col.null_count else no_nulls
            lo, width, top, inner, last, has_edges = consts[i]
            driftcount.count_codes(g, x, valid, col.offset, lo, width, top, inner, last, has_edges, dense[f])
    return dense


def _parsed_constants(log: LogTable, codes: list[_Code]) -> list[tuple]:
    """Per code, the arguments of ``driftcount.count_codes`` after the values — lo, width, n + ½, the inner edges,
    the last edge, any edge — as the doubles DuckDB makes of ``_Code.sql``'s literals (one query for all)."""
    lits = [c.literals() for c in codes]
    flat = [x for ls in lits for x in ls]
    parsed = log.sql(f"SELECT {', '.join(f'0.0::DOUBLE + {x}' for x in flat)}").fetchall()[0]
    out, at = [], 0
    for c, ls in zip(codes, lits, strict=True):
        v = np.asarray(parsed[at : at + len(ls)], dtype="float64")
        at += len(ls)
        if c.edges.size:
            out.append((v[0], v[1], v[2], np.ascontiguousarray(v[3:-1]), float(v[-1]), True))
        else:
            out.append((v[0], v[1], v[2], np.zeros(0), 0.0, False))
    return out


# DuckDB counts rows per (group, code) in an array indexed by the two — no hashing — when their ranges (known from
# the temp table's statistics) need at most this many bits together; its default, 12, is below a 4096-cell grid's
# 14 bits. At 10M rows the 15 GROUP BYs over the codes table took 0.93 and 0.91 CPU s so against 1.84 and 1.75
# hashed (two alternating runs, load 14–18). 2^22 slots of 8-byte counts stay within 32 MB per thread.
PERFECT_HASH_BITS = 22


@contextlib.contextmanager
def _perfect_hash(log: LogTable, groups: int, codes: int) -> Iterator[None]:
    """DuckDB's perfect-hash aggregation for the GROUP BY of (group, code) while in the block, when it fits in
    ``PERFECT_HASH_BITS``; the connection's setting is put back after (other engines: nothing changes)."""
    bits = (max(groups, 1)).bit_length() + (codes + 1).bit_length()  # one more value each: NULL
    if not isinstance(log.con, duckdb.DuckDBPyConnection) or bits > PERFECT_HASH_BITS:
        yield
        return
    with duckdb_setting(log.con, "perfect_ht_threshold", lambda before: max(bits, int(before))):
        yield


def _bucket_sql(x: str, edges: np.ndarray) -> str:
    """SQL of ``numeric_buckets``: right-closed bins, then unseen (outside [min, max], ±inf), then missing."""
    n_b = max(len(edges) - 1, 1)
    if not edges.size:
        return f"(CASE WHEN {_missing(x)} THEN {n_b + 1} ELSE {n_b} END)"
    inner = _count_above(x, [float(e) for e in edges[1:-1]], 0)
    return (
        f"(CASE WHEN {_missing(x)} THEN {n_b + 1} "
        f"WHEN {x} < {float(edges[0])!r} OR {x} > {float(edges[-1])!r} THEN {n_b} ELSE {inner} END)"
    )


def _count_above(x: str, edges: list[float], offset: int) -> str:
    """SQL: how many of the increasing ``edges`` lie strictly below ``x`` (plus ``offset``), as a binary search of
    nested CASEs — a few comparisons per row instead of one per edge."""
    if not edges:
        return str(offset)
    mid = len(edges) // 2
    above = _count_above(x, edges[mid + 1 :], offset + mid + 1)
    below = _count_above(x, edges[:mid], offset)
    return f"(CASE WHEN {x} > {edges[mid]!r} THEN {above} ELSE {below} END)"


def _slot_counts(log: LogTable, x: str, where: str, points: np.ndarray, group: int | None) -> np.ndarray:
    """Rows per (group, slot) of ``points``: slot 2j = strictly between points j−1 and j, 2j+1 = on point j.

    ``group``: the number of groups (rows from the view ``grp``), or None for one group over ``rows``."""
    n_slots = 2 * len(points) + 1
    log.con.register("_points", pd.DataFrame({"p": points, "j": np.arange(len(points), dtype="int64")}))
    src = "grp AS rows" if group is not None else "rows"
    g = "g" if group is not None else "0"
    q = f"""
        SELECT c.g, coalesce(2 * (pt.j + 1) - CASE WHEN pt.p = c.x THEN 1 ELSE 0 END, 0) AS slot, count(*) AS n
        FROM (SELECT {g} AS g, {x} AS x FROM {src} {where}) c
        ASOF LEFT JOIN _points pt ON c.x >= pt.p
        GROUP BY ALL
    """
    r = log.sql(q).fetchnumpy()
    log.con.unregister("_points")
    G = group or 1
    out = np.zeros((G, n_slots), dtype="int64")
    np.add.at(
        out, (np.asarray(r["g"], dtype=np.intp), np.asarray(r["slot"], dtype=np.intp)), np.asarray(r["n"])
    )
    return out


def _categorical_profile(
    log: LogTable, f: str, cond: str, n_rows: int, max_categories: int
) -> drift.FeatureProfile:
    col = f"rows.{quote(f)}"
    vc = log.sql(
        f"SELECT {col} AS v, count(*) AS n FROM _ref AS rows {cond} GROUP BY 1 ORDER BY n DESC, v NULLS LAST"
    ).df()
    present = vc[vc["v"].notna()]
    known = frozenset(present["v"].tolist())
    categories = present["v"].tolist()[:max_categories]
    b = drift._category_buckets(vc["v"], categories, known)
    counts = np.bincount(b, weights=vc["n"].to_numpy(dtype="float64"), minlength=len(categories) + 3).astype(
        "int64"
    )
    return drift.FeatureProfile(
        name=f,
        kind="categorical",
        buckets=[str(c) for c in categories] + [drift.OTHER, drift.UNSEEN, drift.MISSING],
        ref_counts=counts,
        n_ref=n_rows,
        null_rate=float(vc.loc[vc["v"].isna(), "n"].sum()) / n_rows,
        categories=categories,
        known=known,
    )


def drift_by_window(
    profile: drift.ReferenceProfile,
    log: LogTable,
    grouping: Grouping,
    *,
    features: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, drift.DriftResult]:
    """``(keys, result)``: ``explore.staleness.drift.drift_by_window``'s result for the log's windows (or any
    grouping), every count computed by the engine. ``result.table`` has one more column, ``ks_method``.

    Scanned numeric features and every categorical feature are counted in one pass over the files; a numeric
    feature with few distinct reference values adds one ASOF-join query for its exact KS."""
    features = _check_features(log, features if features is not None else list(profile.features))
    keys = _define_groups(log, grouping)
    G = len(keys)
    scanned = [f for f in features if profile.features[f] in _GRID_PROFILES]
    categorical = [f for f in features if profile.features[f].kind == "categorical"]
    hist = _histograms(
        log,
        scanned,
        {f: _GRID_PROFILES[profile.features[f]] for f in scanned},
        "FROM grp AS rows",
        G,
        log.n,
        categorical,
    )
    rows = hist["_rows"]
    frames, counts = [], {}
    for f in features:
        prof = profile.features[f]
        nb = len(prof.buckets)
        c = np.zeros((G, nb), dtype="int64")
        ks_w = np.full(G, np.nan)
        p_w = np.full(G, np.nan)
        method = ""
        if prof.kind == "numeric":
            u, below = prof.distinct
            n = int(below[-1])
            if f in scanned:
                c, per_cell = hist[f]  # rows per bucket, present rows per cell
                m_w = per_cell.sum(axis=1)
                if n:
                    ref_cdf = below[:-1] / n
                    cur_cdf = np.cumsum(per_cell, axis=1)[:, :-1] / np.maximum(m_w, 1)[:, None]
                    d = np.abs(ref_cdf[None, :] - cur_cdf).max(axis=1)
                    ks_w = np.where(m_w > 0, d, np.nan)
                method = "grid"
            else:
                x = _value(log, f)
                r = log.sql(
                    f"SELECT g, {_bucket_sql(x, prof.edges)} AS b, count(*) AS n FROM grp AS rows GROUP BY ALL"
                ).fetchnumpy()
                np.add.at(
                    c,
                    (np.asarray(r["g"], dtype=np.intp), np.asarray(r["b"], dtype=np.intp)),
                    np.asarray(r["n"]),
                )
                slots = _slot_counts(log, x, f"WHERE NOT {_missing(x)}", u, G)
                m_w = slots.sum(axis=1)
                if n and u.size:
                    ref_cdf = np.empty(2 * u.size + 1)
                    ref_cdf[0::2] = below
                    ref_cdf[1::2] = below[
                        1:
                    ]  # exact: nothing of the reference lies strictly between two points
                    ref_cdf /= n
                    cur_cdf = np.cumsum(slots, axis=1) / np.maximum(m_w, 1)[:, None]
                    ks_w = np.where(m_w > 0, np.abs(ref_cdf[None, :] - cur_cdf).max(axis=1), np.nan)
                method = "exact"
            for w in range(G):
                p_w[w] = drift.ks_pvalue(ks_w[w], prof.n_present, int(m_w[w]))
        else:
            vc = hist[f]
            b = drift._category_buckets(vc["v"], prof.categories, prof.known)
            np.add.at(c, (vc["g"].to_numpy(dtype=np.intp), b), vc["n"].to_numpy(dtype="int64"))
            for w in range(G):
                if rows[w]:
                    p_w[w] = drift.chi2_pvalue(prof.ref_counts, c[w])
        counts[f] = c
        frames.append(
            drift.window_drift_frame(prof, rows, c, ks_w, p_w, eps=profile.eps).assign(ks_method=method)
        )
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return keys, drift.DriftResult(reference=profile, table=table, counts=counts, n_windows=G)


def default_outputs(log: LogTable) -> list[str]:
    """The model outputs whose NaN/inf the invariants count: probabilities, else the score, else the prediction."""
    if log.has_proba:
        return [f"_p{k}" for k in range(log.K)]
    if log.has_score:
        return ["_score"]
    return ["_pred"] if log.task == "regression" else []


def data_invariants(
    profile: drift.ReferenceProfile,
    log: LogTable,
    grouping: Grouping,
    *,
    outputs: Sequence[str] | None = None,
    thresholds: drift.InvariantThresholds | None = None,
    features: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, drift.InvariantsResult]:
    """``(keys, result)``: ``explore.staleness.drift.data_invariants`` per window of the log, counted by the engine.

    ``outputs``: columns of the view ``rows`` holding model outputs (default: ``default_outputs``)."""
    thresholds = thresholds or drift.InvariantThresholds()
    features = _check_features(log, features if features is not None else list(profile.features))
    keys = _define_groups(log, grouping)
    G = len(keys)

    def per_group(*aggs: str) -> list[np.ndarray]:
        r = log.sql(f"SELECT g, {', '.join(aggs)} FROM grp AS rows GROUP BY g").fetchnumpy()
        g = np.asarray(r["g"], dtype=np.intp)
        out = []
        for name in list(r)[1:]:
            a = np.zeros(G)
            a[g] = np.asarray(r[name], dtype="float64")
            out.append(a)
        return out

    (rows,) = per_group("count(*)")
    rows = rows.astype("int64")
    frames = []
    for f in features:
        prof = profile.features[f]
        n_out = n_unseen = None
        if prof.kind == "numeric":
            x = _value(log, f)
            aggs = [f"count(*) FILTER (WHERE {_missing(x)})", f"count(*) FILTER (WHERE isinf({x}))"]
            if math.isfinite(prof.low):
                aggs.append(
                    f"count(*) FILTER (WHERE NOT isnan({x}) AND ({x} < {prof.low!r} OR {x} > {prof.high!r}))"
                )
            n_null, n_inf, *rest = per_group(*aggs)
            n_out = rest[0] if rest else None
        else:
            vc = log.sql(f"SELECT g, rows.{quote(f)} AS v, count(*) AS n FROM grp AS rows GROUP BY ALL").df()
            b = drift._category_buckets(vc["v"], prof.categories, prof.known)
            k = len(prof.categories)
            g = vc["g"].to_numpy(dtype=np.intp)
            cnt = vc["n"].to_numpy(dtype="float64")
            n_null = np.bincount(g, weights=cnt * (b == k + 2), minlength=G)[:G]
            n_unseen = np.bincount(g, weights=cnt * (b == k + 1), minlength=G)[:G]
            n_inf = np.zeros(G)
        frames.append(drift.feature_invariants(prof, rows, n_null, n_inf, n_out, n_unseen))
    outs = default_outputs(log) if outputs is None else list(outputs)
    nan_out = np.zeros(G, dtype="int64")
    inf_out = np.zeros(G, dtype="int64")
    if outs:
        nan_sum = " + ".join(f"(({o}) IS NULL OR isnan({o}))::INTEGER" for o in outs)
        inf_sum = " + ".join(f"coalesce(isinf({o}), false)::INTEGER" for o in outs)
        a, b = per_group(f"sum({nan_sum})", f"sum({inf_sum})")
        nan_out, inf_out = a.astype("int64"), b.astype("int64")
    return keys, drift.invariants_from_counts(frames, rows, nan_out, inf_out, thresholds)


# ---- drift of a big log on a deterministic row sample ------------------------------------------------------
#
# An exact drift matrix reads and buckets every value: at 100M rows × 20 features 55.7 s of wall time, 106 CPU s
# on two idle cores, of which decoding the columns from Parquet is only ≈ 13 CPU s (15 doubles, 5 strings) — the rest
# is computing and counting two billion codes, which a sample cuts k-fold (sampling does not skip the decoding).
# Above DRIFT_EXACT_ROWS rows the matrix is computed on a uniform 1-in-k sample of about DRIFT_SAMPLE_ROWS rows, every
# window keeping at least MIN_WINDOW_ROWS of its rows (all of them when it has fewer); ``exact=True`` reads every
# row. Measured at 100M rows (bench_engine --only drift, load 5–10, CPU s): a 10M-row sample 31.1, a 5M-row one
# 19.7–21.2 (of which ≈ 14.6 the one pass copying the sample), the plain scan of the 20 columns 13.1–15.7, every row
# 111; 5M rows keep 208,000 rows in each of 24 monthly windows. Issue 14 (session 7): the sample's scanned features
# counted by a compiled loop (``_count_codes``: the windows' queries 1.6 CPU s instead of 3.9–4.2, the ``_dcodes``
# table's 2.7–3.0 gone) and the copy unordered (``COPY_SETTINGS``: 13.9–14.0 instead of 14.6–15.4): the 5M-row
# sample 17.12–17.65 CPU s in three runs at load 7.6–11 (1.14–1.25 × each run's floor, 14.02–15.05) — see
# docs/scale.md, "Drift at 100M on a row sample", for every run. The exact matrix costs 1.04–1.4 CPU s per million
# rows (10M rows: 10.4, 10.6, 12.2 and 14.1 CPU s in four runs), and 10 s of two cores is 20 CPU s: up to 15M rows
# every row is read within that budget by most of those measurements, above it the sample is cheaper.
DRIFT_EXACT_ROWS = 15_000_000
DRIFT_SAMPLE_ROWS = 5_000_000
MIN_WINDOW_ROWS = 200_000

# The selection: a row is kept when the multiplicative (Fibonacci) hash of its identity — the row's number in its
# Parquet file and the file's position in the dataset's sorted file list (a DuckDB table: its rowid) — falls below
# the window's threshold out of 2^32. Integer arithmetic only (no engine's own hash function), so numpy or any SQL
# engine reproduces the same rows; the identity is fixed by the files, so every run and thread count reads the same
# rows. Consecutive rows' hashes are spread evenly ({n · 2^32 / φ}), so every stretch of a file gives its share.
HASH_SPACE = 1 << 32
_HASH_MULTIPLIER = 2654435769  # ⌊2^32 / φ⌋, odd: Knuth's multiplicative hashing
_FILE_STRIDE = 1_000_003  # a file's offset in the hashed identity
_HASH_COLUMN = "_drift_h"


def row_hash_sql(file: str, row: str) -> str:
    """SQL (BIGINT in [0, 2^32)): the hash of a row's identity — ``file`` its file's index, ``row`` its number in
    the file. Below 2^63 throughout (the identity masked to 31 bits), so no engine overflows."""
    return (
        f"((((CAST({row} AS BIGINT) + CAST({file} AS BIGINT) * {_FILE_STRIDE}) & 2147483647) * {_HASH_MULTIPLIER})"
        f" & {HASH_SPACE - 1})"
    )


def row_hash(file: np.ndarray | int, row: np.ndarray) -> np.ndarray:
    """``row_hash_sql`` in numpy (int64): the same value for the same (file index, row number)."""
    x = (np.asarray(row, dtype="int64") + np.asarray(file, dtype="int64") * _FILE_STRIDE) & 2147483647
    return (x * _HASH_MULTIPLIER) & (HASH_SPACE - 1)


def threshold(fraction: float) -> int:
    """The hash threshold keeping ``fraction`` of the rows (rows with a hash below it)."""
    return min(HASH_SPACE, math.ceil(fraction * HASH_SPACE))


@dataclass(frozen=True)
class DriftSample:
    """The rows a sampled drift matrix read: ``rows`` of the log's ``total``, at ``fraction`` of the rows
    (1-in-``k``); per window of the result, ``window_rows`` read and ``window_shares`` the share of its rows kept
    (``fraction``, or more for a window that would keep fewer than ``min_window_rows``: 1 = read whole).
    ``reference_rows``: the reference's sampled rows (None: another dataset's profile). ``rule``: the selection."""

    rows: int
    total: int
    fraction: float
    window_rows: tuple[int, ...]
    window_shares: tuple[float, ...]
    reference_rows: int | None
    rule: str
    min_window_rows: int = MIN_WINDOW_ROWS

    @property
    def k(self) -> float:
        return 1.0 / self.fraction

    @property
    def smallest_window(self) -> int:
        used = [r for r in self.window_rows if r]
        return min(used) if used else 0

    @property
    def whole_windows(self) -> int:
        """Windows read whole (they had at most ``min_window_rows`` rows)."""
        return sum(1 for s in self.window_shares if s >= 1.0)

    @property
    def raised_windows(self) -> int:
        """Windows that kept a larger share than ``fraction`` (not whole) to keep ``min_window_rows`` rows."""
        return sum(1 for s in self.window_shares if self.fraction < s < 1.0)

    def share(self) -> str:
        """'a uniform 1-in-10 sample' or 'a uniform 12.5 % sample'."""
        k = self.k
        if abs(k - round(k)) < 1e-9:
            return f"a uniform 1-in-{round(k)} sample"
        return f"a uniform {100 * self.fraction:.3g} % sample"

    def sentence(self) -> str:
        """What a page, a notebook result or a report says of the sample."""
        notes = []
        if self.raised_windows:
            n = self.raised_windows
            notes.append(
                f"{n} smaller window{'s' if n != 1 else ''} sampled more, to keep {self.min_window_rows:,} rows"
            )
        if self.whole_windows:
            n = self.whole_windows
            notes.append(
                f"{n} window{'s' if n != 1 else ''} of at most {self.min_window_rows:,} rows read whole"
            )
        more = "".join(f"; {x}" for x in notes)
        return (
            f"Drift estimated on {self.share()} of rows ({_millions(self.rows)} of {_millions(self.total)}; smallest "
            f"window {self.smallest_window:,} rows{more}). PSI, KS and JS are those of the sample and the p-values "
            "use the sample's row counts; the exact matrix reads every row."
        )

    def facts(self) -> dict[str, object]:
        return {
            "drift rows": f"{self.rows:,} of {self.total:,} ({self.share()} of rows; {self.rule})",
            "smallest window (sampled rows)": f"{self.smallest_window:,}",
            **(
                {"reference rows (sampled)": f"{self.reference_rows:,}"}
                if self.reference_rows is not None
                else {}
            ),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "total": self.total,
            "fraction": self.fraction,
            "window_rows": list(self.window_rows),
            "window_shares": list(self.window_shares),
            "reference_rows": self.reference_rows,
            "rule": self.rule,
            "min_window_rows": self.min_window_rows,
        }


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1_000_000 else f"{n:,}"


def _source_body(log: LogTable) -> str | None:
    """The SELECT of the log's ``source`` view (DuckDB), or None when it cannot be sampled by row identity."""
    if not isinstance(log.con, duckdb.DuckDBPyConnection):
        return None
    r = log.sql(
        "SELECT sql FROM duckdb_views() WHERE view_name = 'source' AND schema_name = 'main' AND NOT temporary"
    ).fetchall()
    if not r:
        return None
    sql = r[0][0].strip().rstrip(";")
    body = sql[sql.index(" AS ") + 4 :]
    return body if body.startswith("SELECT * FROM ") else None


def _identity(body: str) -> tuple[str, str, str]:
    """(file index SQL, row number SQL, the rule in words) for a source view's FROM."""
    if "read_parquet(" in body:
        return (
            "file_index",
            "file_row_number",
            "rows kept by a hash of (Parquet file, row number in the file)",
        )
    return "0", "rowid", "rows kept by a hash of the DuckDB table's rowid"


@contextlib.contextmanager
def _source_view(log: LogTable, select: str) -> Iterator[None]:
    """The log's ``source`` view replaced by ``select`` in the block (the view ``rows`` reads it by name); the
    original view and the log's memo (nothing learnt from other rows may stay) are put back after."""
    original = _source_body(log)
    memo = dict(log.memo)
    log.sql(f"CREATE OR REPLACE VIEW source AS {select}")
    try:
        yield
    finally:
        log.sql(f"CREATE OR REPLACE VIEW source AS {original}")
        log.memo.clear()
        log.memo.update(memo)


def check_fraction(fraction: object) -> float | None:
    """``fraction`` of the rows a drift samples, checked: None (automatic) or a number in (0, 1]."""
    if fraction is None:
        return None
    if isinstance(fraction, bool) or not isinstance(fraction, int | float | np.integer | np.floating):
        raise AnalysisError(
            f"sample must be a fraction of the rows, a number in (0, 1]; received {fraction!r} "
            f"({type(fraction).__name__}). Use e.g. sample=0.1 for 1 row in 10, or exact=True for every row."
        )
    f = float(fraction)
    if not (0.0 < f <= 1.0) or math.isnan(f):
        raise AnalysisError(
            f"sample must be a fraction of the rows in (0, 1]; received {fraction!r}. Use e.g. sample=0.1 for 1 "
            "row in 10, sample=1 (or exact=True) for every row."
        )
    return f


def drift_matrix(
    log: LogTable,
    grouping: Grouping,
    *,
    features: Sequence[str],
    reference_where: str | None = None,
    profile: drift.ReferenceProfile | None = None,
    name: str = "reference",
    exact: bool = False,
    fraction: float | None = None,
    exact_rows: int | None = None,
    sample_rows: int | None = None,
    min_window_rows: int | None = None,
) -> tuple[pd.DataFrame, drift.DriftResult]:
    """``(keys, result)``: the drift of ``features`` per group of ``grouping`` (time windows) against a reference
    — ``profile`` (another dataset's, used as it is) or the log's own rows matching ``reference_where``.

    Every row when ``exact``, on Spark, for groupings other than time windows, or when the log has at most
    ``exact_rows`` rows (default ``DRIFT_EXACT_ROWS``). Else a deterministic uniform sample of the rows
    (``row_hash_sql``): ``fraction`` of them (default 1-in-k, k = ⌈rows / ``sample_rows``⌉), each window keeping
    at least ``min_window_rows`` rows (all of a smaller one), copied once into a temp table that the exact
    path's queries then read instead of the files; a reference from the log is profiled on the same sample.
    ``result.sample`` (``DriftSample``) says which rows were read; None when every row was."""
    if (profile is None) == (reference_where is None):
        raise AnalysisError(
            "drift_matrix takes either a reference profile or reference_where (the log's rows)."
        )
    if not isinstance(exact, bool | np.bool_):
        raise AnalysisError(f"exact must be True or False; received {exact!r}.")
    fraction = check_fraction(fraction)
    exact_rows = DRIFT_EXACT_ROWS if exact_rows is None else exact_rows
    sample_rows = DRIFT_SAMPLE_ROWS if sample_rows is None else sample_rows
    min_window_rows = MIN_WINDOW_ROWS if min_window_rows is None else min_window_rows
    features = _check_features(log, features)
    body = None if exact or fraction == 1.0 or grouping.code is None else _source_body(log)
    total = int(log.memo.get("count(*)") or log.n) if body is not None else 0
    if body is None or (fraction is None and total <= exact_rows):
        prof = profile or reference_profile(log, features=features, where=reference_where, name=name)
        return drift_by_window(prof, log, grouping, features=features)
    if fraction is None:
        fraction = 1.0 / math.ceil(total / sample_rows)
    file, row, rule = _identity(body)
    # The compiled loop (``_count_codes``) is loaded in a thread meanwhile: its first load in a process (≈ 0.5 s
    # CPU, numba's import included) overlaps the copy, whose queries release the GIL.
    loading = threading.Thread(target=_load_driftcount, daemon=True)
    loading.start()
    try:
        shares = _copy_sample(
            log, body, grouping, features, row_hash_sql(file, row), fraction, min_window_rows
        )
    finally:
        loading.join()
    try:
        codes = log.sql(f"SELECT DISTINCT {_WINDOW_COLUMN} FROM {_SAMPLE_TABLE} ORDER BY 1").fetchnumpy()
        codes = np.asarray(codes[_WINDOW_COLUMN], dtype=np.intp)
        # The optimiser guesses a handful of rows from the view over the temp table, and would turn the exact KS's
        # ASOF join into a nested loop over every (row, point) pair: 74 CPU s instead of 0.6 at 500k rows.
        with (
            _source_view(log, f"SELECT {_sampled_columns(log)} FROM {_SAMPLE_TABLE}"),
            duckdb_setting(log.con, "asof_loop_join_threshold", lambda _: 0),
            _counting_in_memory(),
        ):
            prof = profile or reference_profile(log, features=features, where=reference_where, name=name)
            keys, result = drift_by_window(prof, log, grouping, features=features)
    finally:
        log.sql(f"DROP TABLE IF EXISTS {_SAMPLE_TABLE}")
    used = result.table.groupby("window")["rows"].first().reindex(range(len(keys)), fill_value=0)
    if all(shares[c] >= 1.0 for c in codes):  # every window read whole: the exact matrix
        return keys, result
    sample = DriftSample(
        rows=int(used.sum()),
        total=total,
        fraction=float(fraction),
        window_rows=tuple(int(x) for x in used),
        window_shares=tuple(float(shares[c]) for c in codes),
        reference_rows=None if profile is not None else prof.n_rows,
        rule=rule,
        min_window_rows=min_window_rows,
    )
    return keys, drift.DriftResult(
        reference=result.reference,
        table=result.table,
        counts=result.counts,
        n_windows=result.n_windows,
        sample=sample,
    )


def _load_driftcount() -> None:
    from explore.engine import driftcount

    driftcount.warm()


_SAMPLE_TABLE = "_drift_rows"
_WINDOW_COLUMN = "_drift_w"


def _needed(log: LogTable, features: Sequence[str]) -> list[str]:
    """The source columns a drift reads: the features, the time column, the label (the view ``rows`` keeps the
    labelled rows)."""
    out = []
    for c in [*features, log.columns.time, log.columns.label]:
        if c and c not in out:
            out.append(c)
    return out


def _copy_sample(
    log: LogTable,
    body: str,
    grouping: Grouping,
    features: Sequence[str],
    hashed: str,
    fraction: float,
    min_window_rows: int,
) -> np.ndarray:
    """Copy the sampled rows' drift columns into the temp table ``_drift_rows`` (one pass over the files), then
    top up every window that kept fewer than ``min_window_rows`` rows: its share raised to ``min_window_rows`` of
    its rows (all of them when it has fewer) — those windows' rows counted, and read again, through a range on the
    time column, so only their own files are read. Returns each window code's share of rows."""
    from explore.engine.metrics import time_value

    cols = ", ".join(f"rows.{quote(c)}" for c in _needed(log, features))
    where = f"({grouping.where}) AND " if grouping.where else ""
    n_codes = len(grouping.levels)
    shares = np.full(n_codes, fraction)
    base = threshold(fraction)
    with (
        _source_view(log, f"SELECT *, {hashed} AS {_HASH_COLUMN} FROM {body[len('SELECT * FROM ') :]}"),
        _copy_settings(log),
    ):
        log.sql(
            f"CREATE OR REPLACE TEMP TABLE {_SAMPLE_TABLE} AS SELECT {cols}, {grouping.code} AS {_WINDOW_COLUMN} "
            f"FROM rows WHERE {where}{_HASH_COLUMN} < {base}"
        )
        try:
            r = log.sql(
                f"SELECT {_WINDOW_COLUMN} AS c, count(*) AS n FROM {_SAMPLE_TABLE} GROUP BY 1"
            ).fetchnumpy()
            kept = np.zeros(n_codes, dtype="int64")
            kept[np.asarray(r["c"], dtype=np.intp)] = np.asarray(r["n"], dtype="int64")
            small = [int(c) for c in np.flatnonzero(kept < min_window_rows)]
            if not small or fraction >= 1.0:
                return shares
            t = time_value(log)
            ranges = []
            for c in small:  # window c: from its start (the first: everything before) to the next one's
                lo = f"{t} >= {grouping.levels[c]}" if c > 0 else "TRUE"
                hi = f"{t} < {grouping.levels[c + 1]}" if c + 1 < n_codes else "TRUE"
                ranges.append(f"({lo} AND {hi})")
            in_small = f"({' OR '.join(ranges)})"
            r = log.sql(
                f"SELECT {grouping.code} AS c, count(*) AS n FROM rows WHERE {where}{in_small} GROUP BY 1"
            ).fetchnumpy()
            limits = {}
            for c, n in zip(
                np.asarray(r["c"], dtype=np.intp), np.asarray(r["n"], dtype="int64"), strict=True
            ):
                share = min(1.0, max(fraction, min_window_rows / max(int(n), 1)))
                shares[c] = share
                limits[int(c)] = threshold(share)
            if limits:
                whens = " ".join(f"WHEN {c} THEN {lim}" for c, lim in limits.items())
                log.sql(
                    f"INSERT INTO {_SAMPLE_TABLE} SELECT {cols}, {grouping.code} FROM rows WHERE {where}{in_small} "
                    f"AND {_HASH_COLUMN} >= {base} AND {_HASH_COLUMN} < (CASE {grouping.code} {whens} ELSE {base} END)"
                )
        except BaseException:
            log.sql(f"DROP TABLE IF EXISTS {_SAMPLE_TABLE}")
            raise
    return shares


# The copy pass's DuckDB settings (put back after). The sample's row order is never read (every query over it
# counts, the reference's quantiles sort), so DuckDB need not keep the files' order: without it the copy skips
# the order-preserving (batch) insert. Measured on the 100M log (the copy alone, 1-in-20, two alternating runs,
# load 5.6-7): 15.36 / 14.59 CPU s ordered, 13.92 / 13.98 unordered (user time 8.44 / 8.59 -> 7.55 / 7.79; the
# rest, ≈ 6.2 s, is the kernel reading the files). A 4 GB ``allocator_flush_threshold`` on top: 13.89 / 14.05, no
# gain, left out; so is one ``read_parquet`` per file (its hash filter pushed into the scan): 10-15 % less on 20M
# rows ordered, but more system time with the order dropped.
COPY_SETTINGS: dict[str, object] = {"preserve_insertion_order": False}


@contextlib.contextmanager
def _copy_settings(log: LogTable) -> Iterator[None]:
    """``COPY_SETTINGS`` on the log's DuckDB connection while in the block (other engines: nothing changes)."""
    if not isinstance(log.con, duckdb.DuckDBPyConnection):
        yield
        return
    with contextlib.ExitStack() as stack:
        for name, value in COPY_SETTINGS.items():
            stack.enter_context(duckdb_setting(log.con, name, lambda _, v=value: v))
        yield


def _sampled_columns(log: LogTable) -> str:
    """The source's columns over ``_drift_rows``: those it holds, NULLs of the column's type for the others (the
    view ``rows`` names them; a drift never reads them)."""
    have = {r[0] for r in log.sql(f"DESCRIBE {_SAMPLE_TABLE}").fetchall()}
    return ", ".join(
        quote(c) if c in have else f"CAST(NULL AS {t}) AS {quote(c)}" for c, t in log.types.items()
    )
