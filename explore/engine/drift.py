"""Drift per feature × window in DuckDB: PSI, KS and JS from engine-side histograms, the in-memory definitions.

The reference profile (quantile bin edges, categories) is built from the reference rows' *distinct values and
their counts*, which the engine returns — the same profile ``explore.staleness.drift.reference_profile`` builds
in memory, so bucket edges are bit-identical. Current rows are bucketed by a SQL expression (numeric) or
counted per distinct value (categorical), per window. KS counts rows per (window, slot) of a set of points — the
reference's distinct values, found by an ASOF join — and takes the largest CDF gap at the slot ends: exactly
``scipy.stats.ks_2samp``'s statistic. A reference with more than ``KS_MAX_POINTS`` distinct values uses its
``KS_GRID`` quantiles as points instead: both CDFs are then exact at those points, the statistic a lower bound
of the exact one (``ks_method`` says "grid").
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import numpy as np
import pandas as pd

from explore.engine.log import LogTable, quote
from explore.engine.metrics import Grouping, _define_groups
from explore.errors import AnalysisError
from explore.staleness import drift

KS_MAX_POINTS = 1_000_000
KS_GRID = 4096
# Profiles whose KS points are a quantile grid of the reference rather than its distinct values.
_GRID_PROFILES: weakref.WeakSet = weakref.WeakSet()
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
    n_rows = int(log.sql(f"SELECT count(*) FROM rows {cond}").fetchall()[0][0])
    if n_rows == 0:
        raise AnalysisError(drift.EMPTY_REFERENCE.format(name=name))
    profiles = {}
    for f in features:
        if _is_numeric(log.types[f]):
            profiles[f] = _numeric_profile(log, f, cond, n_rows, n_bins)
        else:
            profiles[f] = _categorical_profile(log, f, cond, n_rows, max_categories)
    return drift.ReferenceProfile(name=name, n_rows=n_rows, features=profiles, n_bins=n_bins)


def _numeric_profile(log: LogTable, f: str, cond: str, n_rows: int, n_bins: int) -> drift.FeatureProfile:
    x = _value(log, f)
    keep = f"NOT {_missing(x)}"
    where = f"{cond} AND {keep}" if cond else f"WHERE {keep}"
    n_distinct = int(log.sql(f"SELECT count(DISTINCT {x}) FROM rows {where}").fetchall()[0][0])
    n_missing = int(
        log.sql(f"SELECT count(*) FROM rows {cond + ' AND ' if cond else 'WHERE '}{_missing(x)}").fetchall()[
            0
        ][0]
    )
    if n_distinct <= KS_MAX_POINTS:
        r = log.sql(f"SELECT {x} AS v, count(*) AS n FROM rows {where} GROUP BY 1 ORDER BY 1").fetchnumpy()
        u = np.asarray(r["v"], dtype="float64")
        below = np.concatenate([[0], np.cumsum(np.asarray(r["n"], dtype="int64"))])
        edges = drift._edges_from_distinct(u, below, n_bins)
    else:  # too many distinct values to fetch: the engine's quantiles, and a grid of points for KS
        edges = _quantiles(log, x, where, np.linspace(0.0, 1.0, n_bins + 1))
        u = _quantiles(log, x, where, np.linspace(0.0, 1.0, KS_GRID + 1))
        below = _below_counts(log, x, where, u)
    n_b = max(len(edges) - 1, 1)
    counts = np.zeros(n_b + 2, dtype="int64")
    b = _bucket_sql(x, edges)
    r = log.sql(f"SELECT {b} AS b, count(*) AS n FROM rows {where} GROUP BY 1").fetchnumpy()
    np.add.at(counts, np.asarray(r["b"], dtype=np.intp), np.asarray(r["n"], dtype="int64"))
    counts[n_b + 1] = n_missing
    if len(edges) >= 2:
        names = [f"[{drift._num(edges[0])}, {drift._num(edges[1])}]"] + [
            f"({drift._num(edges[i])}, {drift._num(edges[i + 1])}]" for i in range(1, len(edges) - 1)
        ]
    else:
        names = [f"= {drift._num(edges[0])}" if edges.size else "(no reference values)"]
    lo_hi = log.sql(f"SELECT min({x}), max({x}) FROM rows {where} AND isfinite({x})").fetchall()[0]
    profile = drift.FeatureProfile(
        name=f,
        kind="numeric",
        buckets=[*names, drift.UNSEEN, drift.MISSING],
        ref_counts=counts,
        n_ref=n_rows,
        null_rate=n_missing / n_rows,
        edges=edges,
        low=math.nan if lo_hi[0] is None else float(lo_hi[0]),
        high=math.nan if lo_hi[1] is None else float(lo_hi[1]),
        distinct=(u, below),
    )
    if n_distinct > KS_MAX_POINTS:
        _GRID_PROFILES.add(profile)
    return profile


def _quantiles(log: LogTable, x: str, where: str, qs: np.ndarray) -> np.ndarray:
    listed = ", ".join(repr(float(q)) for q in qs)
    return np.unique(
        np.asarray(log.sql(f"SELECT quantile_cont({x}, [{listed}]) FROM rows {where}").fetchall()[0][0])
    )


def _below_counts(log: LogTable, x: str, where: str, points: np.ndarray) -> np.ndarray:
    """#values strictly below each point, with the total appended (what ``distinct`` holds)."""
    return np.cumsum(_slot_counts(log, x, where, points, group=None)[0])[0::2]


def _bucket_sql(x: str, edges: np.ndarray) -> str:
    """SQL of ``numeric_buckets``: right-closed bins, then unseen (outside [min, max], ±inf), then missing."""
    n_b = max(len(edges) - 1, 1)
    if not edges.size:
        return f"(CASE WHEN {_missing(x)} THEN {n_b + 1} ELSE {n_b} END)"
    inner = " + ".join(f"({x} > {float(e)!r})::INTEGER" for e in edges[1:-1]) or "0"
    return (
        f"(CASE WHEN {_missing(x)} THEN {n_b + 1} "
        f"WHEN {x} < {float(edges[0])!r} OR {x} > {float(edges[-1])!r} THEN {n_b} ELSE {inner} END)"
    )


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
        f"SELECT {col} AS v, count(*) AS n FROM rows {cond} GROUP BY 1 ORDER BY n DESC, v NULLS LAST"
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
    grouping), every count computed by the engine. ``result.table`` has one more column, ``ks_method``."""
    features = _check_features(log, features if features is not None else list(profile.features))
    keys = _define_groups(log, grouping)
    G = len(keys)
    rows = np.zeros(G, dtype="int64")
    r = log.sql("SELECT g, count(*) AS n FROM grp GROUP BY g").fetchnumpy()
    rows[np.asarray(r["g"], dtype=np.intp)] = r["n"]
    frames, counts = [], {}
    for f in features:
        prof = profile.features[f]
        nb = len(prof.buckets)
        c = np.zeros((G, nb), dtype="int64")
        ks_w = np.full(G, np.nan)
        p_w = np.full(G, np.nan)
        method = ""
        if prof.kind == "numeric":
            x = _value(log, f)
            r = log.sql(
                f"SELECT g, {_bucket_sql(x, prof.edges)} AS b, count(*) AS n FROM grp AS rows GROUP BY ALL"
            ).fetchnumpy()
            np.add.at(
                c, (np.asarray(r["g"], dtype=np.intp), np.asarray(r["b"], dtype=np.intp)), np.asarray(r["n"])
            )
            u, below = prof.distinct
            n = int(below[-1])
            slots = _slot_counts(log, x, f"WHERE NOT {_missing(x)}", u, G)
            m_w = slots.sum(axis=1)
            grid = prof in _GRID_PROFILES
            if n and u.size:
                ref_cdf = np.empty(2 * u.size + 1)
                ref_cdf[0::2] = below
                ref_cdf[1::2] = below[1:]  # exact: nothing of the reference lies strictly between two points
                ref_cdf /= n
                cur_cdf = np.cumsum(slots, axis=1) / np.maximum(m_w, 1)[:, None]
                gaps = np.abs(ref_cdf[None, :] - cur_cdf)
                d = (gaps[:, 0::2] if grid else gaps).max(axis=1)  # grid: only where both CDFs are exact
                ks_w = np.where(m_w > 0, d, np.nan)
            method = "grid" if grid else "exact"
            for w in range(G):
                p_w[w] = drift.ks_pvalue(ks_w[w], prof.n_present, int(m_w[w]))
        else:
            col = f"rows.{quote(f)}"
            vc = log.sql(f"SELECT g, {col} AS v, count(*) AS n FROM grp AS rows GROUP BY ALL").df()
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
