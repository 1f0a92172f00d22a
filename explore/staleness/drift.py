"""Drift per feature against a reference, per time window, judged by effect size; data invariants per window.

On large data every p-value is ~0, so drift is judged by effect size:

- **PSI** (population stability index), for every feature. Buckets are fixed on the reference:
  numeric features get 10 bins at the reference's quantiles (0, 10 %, …, 100 %; duplicate edges merged,
  bins closed on the right, the first bin also on the left); categorical features get one bucket per
  reference category (the ``max_categories`` most frequent; the rarer ones share an "other" bucket).
  Every feature also has an **unseen** bucket (numeric values outside the reference's [min, max],
  categories absent from the reference) and a **missing** bucket. With ``p``/``q`` the reference/current
  share of rows in each bucket and empty buckets set to ``ε = 1e-4``:
  ``PSI = Σ (q − p) · ln(q / p)``. Rule of thumb: < 0.1 stable, 0.1–0.25 moderate, > 0.25 large shift.
- **KS distance** (numeric): the two-sample Kolmogorov–Smirnov statistic on the non-missing values,
  identical to ``scipy.stats.ks_2samp``; its asymptotic p-value as secondary information.
- **Jensen–Shannon distance** (every feature, headline for categorical ones): over the same buckets,
  base 2 (0 = same, 1 = disjoint), as ``scipy.spatial.distance.jensenshannon``; a chi-square test of
  homogeneity gives the categorical p-value.

Everything is vectorised: each feature's rows are bucketed once and counted per window with one
``bincount``; KS needs no sort of the current data: it counts rows per (window, slot between the
reference's distinct values) and takes one cumulative sum (see ``ks_by_window``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from explore.errors import AnalysisError
from explore.report.display import TableResult

PSI_BINS = 10
PSI_EPS = 1e-4
MAX_CATEGORIES = 50
PSI_MODERATE = 0.1
PSI_LARGE = 0.25
KS_EXACT_EN = 10_000
UNSEEN = "(unseen)"
MISSING = "(missing)"
OTHER = "(other reference categories)"

NO_FEATURES = "Choose at least one feature to compare; received none. The dataset's features are: {known}."
UNKNOWN_FEATURES = (
    "These features are not in the {what} data: {missing}. Its columns include: {known}. "
    "Pick features present in both the reference and the current data."
)
EMPTY_REFERENCE = (
    "The reference data ({name}) has no rows, so there is nothing to compare against. Choose another "
    "reference dataset or window."
)
TOO_FEW_FOR_TRACKING = (
    "Tracking drift against the metric needs at least {need} windows with both a drift value and a metric; "
    "received {n}. Use shorter windows or more data."
)


# ---- the reference profile ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FeatureProfile:
    """How one feature is bucketed, fixed on the reference.

    ``kind``: ``"numeric" | "categorical"``. Numeric: ``edges`` (merged quantile edges, increasing),
    ``distinct`` (the reference's distinct non-missing values and, for each, how many values lie below
    it, with the count of non-missing values appended — its whole CDF, for KS), ``low``/``high`` (finite
    reference range). Categorical: ``categories`` (bucketed categories), ``known`` (every reference
    category). ``ref_counts``: reference rows per bucket; ``buckets``: bucket names (last two are
    unseen and missing). ``null_rate``: reference share of missing values.
    """

    name: str
    kind: str
    buckets: list[str]
    ref_counts: np.ndarray
    n_ref: int
    null_rate: float
    edges: np.ndarray | None = None
    low: float = math.nan
    high: float = math.nan
    categories: list[Any] = field(default_factory=list)
    known: frozenset = frozenset()
    distinct: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n_present(self) -> int:
        """Non-missing reference values (numeric features)."""
        return int(self.distinct[1][-1]) if self.distinct is not None else 0

    @property
    def ref_shares(self) -> np.ndarray:
        return self.ref_counts / max(self.n_ref, 1)


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """The reference data's profile of each feature (``features``: name → ``FeatureProfile``)."""

    name: str
    n_rows: int
    features: dict[str, FeatureProfile]
    n_bins: int = PSI_BINS
    eps: float = PSI_EPS


def is_numeric(values: pd.Series) -> bool:
    """Numeric features get quantile bins and KS; everything else (text, bool, category) is categorical."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype))


def _as_float(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        arr = values.to_numpy(dtype="datetime64[ns]")
        out = arr.astype("int64").astype("float64")
        out[np.isnat(arr)] = np.nan
        return out
    return values.to_numpy(dtype="float64", na_value=np.nan)


def quantile_edges(reference: np.ndarray, n_bins: int = PSI_BINS) -> np.ndarray:
    """Bin edges at the reference's quantiles 0, 1/n_bins, …, 1 of its finite values, duplicates merged."""
    finite = reference[np.isfinite(reference)]
    if finite.size == 0:
        return np.empty(0)
    return np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)))


def numeric_buckets(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bucket index of each value: bins ``0..len(edges)-2`` (a single bin when all edges merged into one),
    then unseen (outside [edges[0], edges[-1]], incl. ±inf) and missing (NaN). Returns int64."""
    n_bins = max(len(edges) - 1, 1)
    unseen, missing = n_bins, n_bins + 1
    out = np.full(values.shape, unseen, dtype="int64")
    nan = np.isnan(values)
    out[nan] = missing
    if edges.size:
        inside = ~nan & (values >= edges[0]) & (values <= edges[-1])
        # Right-closed bins: a value equal to an interior edge belongs to the bin below it.
        out[inside] = np.searchsorted(edges[1:-1], values[inside], side="left")
    return out


def _profile_numeric(name: str, values: pd.Series, n_bins: int) -> FeatureProfile:
    v = _as_float(values)
    u, below = distinct_counts(v[~np.isnan(v)])
    edges = _edges_from_distinct(u, below, n_bins)
    n_b = max(len(edges) - 1, 1)
    # Bucket counts straight from the distinct values (each weighted by its count).
    counts = np.bincount(numeric_buckets(u, edges), weights=np.diff(below), minlength=n_b + 2).astype("int64")
    counts[n_b + 1] = int(np.isnan(v).sum())
    if len(edges) >= 2:
        names = [f"[{_num(edges[0])}, {_num(edges[1])}]"] + [
            f"({_num(edges[i])}, {_num(edges[i + 1])}]" for i in range(1, len(edges) - 1)
        ]
    else:
        names = [f"= {_num(edges[0])}" if edges.size else "(no reference values)"]
    finite = u[np.isfinite(u)]
    return FeatureProfile(
        name=name,
        kind="numeric",
        buckets=[*names, UNSEEN, MISSING],
        ref_counts=counts,
        n_ref=len(v),
        null_rate=float(np.isnan(v).mean()) if len(v) else math.nan,
        edges=edges,
        low=float(finite[0]) if finite.size else math.nan,
        high=float(finite[-1]) if finite.size else math.nan,
        distinct=(u, below),
    )


# Integer-valued features spanning at most this many values are counted, not sorted.
MAX_INT_RANGE = 1_000_000


def distinct_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, #values strictly below each — with the total appended) of non-NaN ``values``.

    Integer-valued data over a small range is counted with ``bincount`` (O(n)); anything else is sorted.
    """
    if values.size == 0:
        return values.astype("float64"), np.zeros(1, dtype="int64")
    lo, hi = float(values.min()), float(values.max())
    if (
        math.isfinite(lo)
        and math.isfinite(hi)
        and hi - lo < MAX_INT_RANGE
        and np.array_equal(values, np.floor(values))
    ):
        counts = np.bincount((values - lo).astype("int64"))
        present = np.flatnonzero(counts)
        below = np.concatenate([[0], np.cumsum(counts[present])]).astype("int64")
        return present.astype("float64") + lo, below
    return _distinct(np.sort(values))


def _order_stat(u: np.ndarray, below: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The k-th smallest value (0-based) of the sample described by (u, below)."""
    return u[np.searchsorted(below[:-1], k, side="right") - 1]


def _edges_from_distinct(u: np.ndarray, below: np.ndarray, n_bins: int) -> np.ndarray:
    """``quantile_edges`` computed from the distinct values (identical to ``np.quantile``'s linear method)."""
    finite = np.isfinite(u)
    if not finite.any():
        return np.empty(0)
    first, last = np.flatnonzero(finite)[[0, -1]]
    uf = u[first : last + 1]
    bf = below[first : last + 2] - below[first]
    return np.unique(quantiles_from_distinct(uf, bf, np.linspace(0.0, 1.0, n_bins + 1)))


def quantiles_from_distinct(u: np.ndarray, below: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``np.quantile`` (linear method) at ``probs`` of the sample described by its distinct values ``u`` and
    the counts ``below`` each (total appended): bit-identical, without the rows."""
    n = int(below[-1])
    virtual = (n - 1) * np.asarray(probs, dtype="float64")
    prev = np.floor(virtual).astype("int64")
    nxt = np.minimum(prev + 1, n - 1)
    gamma = virtual - prev
    a, b = _order_stat(u, below, prev), _order_stat(u, below, nxt)
    diff = b - a
    # numpy's _lerp: a + (b − a)·t, computed from b's side when t ≥ 0.5 (so results match np.quantile).
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def _num(x: float) -> str:
    return f"{x:.4g}"


def _category_buckets(values: pd.Series, categories: Sequence[Any], known: frozenset) -> np.ndarray:
    """Bucket of each value: index in ``categories``, then other (known, not bucketed), unseen, missing."""
    k = len(categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    index = {c: i for i, c in enumerate(categories)}
    lookup = np.empty(len(uniques) + 1, dtype="int64")
    for j, u in enumerate(uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)):
        if u in index:
            lookup[j] = index[u]
        elif u in known:
            lookup[j] = k
        else:
            lookup[j] = k + 1
    lookup[-1] = k + 2  # factorize's -1 (missing) indexes the last slot
    return lookup[codes]


def _profile_categorical(name: str, values: pd.Series, max_categories: int) -> FeatureProfile:
    counts_by_value = values.value_counts(dropna=True, sort=True)
    known = frozenset(counts_by_value.index.tolist())
    categories = counts_by_value.index[:max_categories].tolist()
    b = _category_buckets(values, categories, known)
    counts = np.bincount(b, minlength=len(categories) + 3).astype("int64")
    names = [str(c) for c in categories] + [OTHER, UNSEEN, MISSING]
    return FeatureProfile(
        name=name,
        kind="categorical",
        buckets=names,
        ref_counts=counts,
        n_ref=len(values),
        null_rate=float(values.isna().mean()) if len(values) else math.nan,
        categories=categories,
        known=known,
    )


def reference_profile(
    reference: pd.DataFrame,
    *,
    features: Sequence[str],
    name: str = "reference",
    n_bins: int = PSI_BINS,
    max_categories: int = MAX_CATEGORIES,
) -> ReferenceProfile:
    """Profile ``features`` of the reference data (bucket edges/categories, counts, ranges, null rates).

    Raises ``AnalysisError`` when the reference has no rows or lacks a feature.
    """
    features = list(features)
    if not features:
        raise AnalysisError(NO_FEATURES.format(known=", ".join(map(str, reference.columns[:20]))))
    missing = [f for f in features if f not in reference.columns]
    if missing:
        raise AnalysisError(
            UNKNOWN_FEATURES.format(
                what=f"reference ({name})",
                missing=", ".join(map(repr, missing[:10])),
                known=", ".join(map(str, reference.columns[:20])),
            )
        )
    if len(reference) == 0:
        raise AnalysisError(EMPTY_REFERENCE.format(name=name))
    profiles = {
        f: _profile_numeric(f, reference[f], n_bins)
        if is_numeric(reference[f])
        else _profile_categorical(f, reference[f], max_categories)
        for f in features
    }
    return ReferenceProfile(name=name, n_rows=len(reference), features=profiles, n_bins=n_bins)


def buckets_of(profile: FeatureProfile, values: pd.Series) -> np.ndarray:
    """Bucket index (into ``profile.buckets``) of each value of ``values``."""
    if profile.kind == "numeric":
        if not is_numeric(values):
            values = pd.to_numeric(values, errors="coerce")
        return numeric_buckets(_as_float(values), profile.edges)
    return _category_buckets(values, profile.categories, profile.known)


# ---- the measures ---------------------------------------------------------------------------------


def psi_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray, *, eps: float = PSI_EPS) -> np.ndarray:
    """PSI of each row of ``cur_counts`` (windows × buckets, or one vector) against ``ref_counts``.

    Shares are counts over their row total, empty buckets set to ``eps``. NaN where a row has no rows.
    """
    ref = np.asarray(ref_counts, dtype="float64")
    cur = np.atleast_2d(np.asarray(cur_counts, dtype="float64"))
    p = ref / max(ref.sum(), 1.0)
    p = np.where(p == 0, eps, p)
    tot = cur.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = cur / tot
    q = np.where(q == 0, eps, q)
    out = ((q - p) * np.log(q / p)).sum(axis=1)
    out[tot[:, 0] == 0] = np.nan
    return out if np.ndim(cur_counts) > 1 else out[0]


def js_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    """Jensen–Shannon distance (base 2, in [0, 1]) of each row of ``cur_counts`` against ``ref_counts``."""
    ref = np.asarray(ref_counts, dtype="float64")
    cur = np.atleast_2d(np.asarray(cur_counts, dtype="float64"))
    p = ref / max(ref.sum(), 1.0)
    tot = cur.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = cur / tot
        m = 0.5 * (p + q)
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    out = np.sqrt(np.clip(0.5 * (kl_p + kl_q), 0.0, None))
    out[tot[:, 0] == 0] = np.nan
    return out if np.ndim(cur_counts) > 1 else out[0]


def psi(
    reference: pd.Series | np.ndarray,
    current: pd.Series | np.ndarray,
    *,
    n_bins: int = PSI_BINS,
    eps: float = PSI_EPS,
) -> float:
    """PSI of ``current`` against ``reference`` (the module's definition; numeric or categorical by dtype)."""
    ref = pd.Series(reference)
    prof = (
        _profile_numeric("x", ref, n_bins)
        if is_numeric(ref)
        else _profile_categorical("x", ref, MAX_CATEGORIES)
    )
    cur = np.bincount(buckets_of(prof, pd.Series(current)), minlength=len(prof.buckets))
    return float(psi_from_counts(prof.ref_counts, cur, eps=eps))


def ks_distance_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Two-sample KS statistic sup |F_ref − F_cur| from sorted samples (equals ``scipy.stats.ks_2samp``).

    Evaluated at the current sample's points only — O(m log n): between two consecutive current
    values F_cur is constant and F_ref monotone, so the supremum is reached at the current values
    themselves (right limits) or just before them (left limits).
    """
    n, m = len(ref_sorted), len(cur_sorted)
    if n == 0 or m == 0:
        return math.nan
    right = (
        np.searchsorted(ref_sorted, cur_sorted, side="right") / n
        - np.searchsorted(cur_sorted, cur_sorted, side="right") / m
    )
    left = (
        np.searchsorted(ref_sorted, cur_sorted, side="left") / n
        - np.searchsorted(cur_sorted, cur_sorted, side="left") / m
    )
    return float(max(np.abs(right).max(), np.abs(left).max()))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic two-sided p-value of a KS distance.

    As ``ks_2samp(method="asymp")`` (``kstwo.sf(d, round(n·m/(n+m)))``) while n·m/(n+m) ≤
    ``KS_EXACT_EN``; beyond, the limiting Kolmogorov distribution ``kstwobign.sf(d·√en)`` (the same
    to a relative 1/√en, and ~1000× faster on large windows).
    """
    if not (n and m) or math.isnan(d):
        return math.nan
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    if en <= KS_EXACT_EN:
        p = stats.distributions.kstwo.sf(d, np.round(en))
    else:
        p = stats.distributions.kstwobign.sf(d * math.sqrt(en))
    return float(np.clip(p, 0.0, 1.0))


# KS by counting: windows x slots cells per chunk (int64), and the most slots worth counting.
KS_CHUNK_CELLS = 4_000_000
KS_MAX_SLOTS = 2_000_001


def ks_by_window(
    distinct: tuple[np.ndarray, np.ndarray], values: np.ndarray, codes: np.ndarray, n_windows: int
) -> tuple[np.ndarray, np.ndarray]:
    """KS distance of each window's non-missing ``values`` against a reference, all windows at once.

    ``distinct``: the reference's ``distinct_counts``. Returns (distance per window — NaN for an empty
    window —, non-missing rows per window); equal to ``scipy.stats.ks_2samp``'s statistic.

    No sorting: each current value falls in a *slot* of the reference's distinct values — exactly on
    one (``u[j]``) or strictly between two (the gap before ``u[j]``). F_ref is constant inside a slot
    and F_cur monotone, so sup |F_ref − F_cur| is reached at slot ends: counting rows per (window,
    slot) and one cumulative sum give every window's statistic (in chunks of windows to bound memory).
    """
    u, below = distinct
    n = int(below[-1])
    ok = ~np.isnan(values) & (codes >= 0)
    v, c = values[ok], codes[ok]
    m_w = np.bincount(c, minlength=n_windows)[:n_windows]
    ks = np.full(n_windows, np.nan)
    if v.size == 0 or n == 0:
        return ks, m_w
    n_slots = 2 * u.size + 1
    if n_slots > KS_MAX_SLOTS:
        return _ks_sorted_windows(u, below, v, c, n_windows), m_w
    j, exact = _locate(u, v)
    slot = 2 * j + exact  # gap before u[j] -> 2j, on u[j] -> 2j + 1
    # F_ref at each slot's end: in the gap before u[j], #ref < u[j]; on u[j], #ref <= u[j].
    ref_cdf = np.empty(n_slots)
    ref_cdf[0::2] = below
    ref_cdf[1::2] = below[1:]
    ref_cdf /= n
    per_chunk = max(1, KS_CHUNK_CELLS // n_slots)
    for w0 in range(0, n_windows, per_chunk):
        w1 = min(n_windows, w0 + per_chunk)
        sel = (c >= w0) & (c < w1)
        cnt = np.bincount((c[sel] - w0) * n_slots + slot[sel], minlength=(w1 - w0) * n_slots).reshape(
            w1 - w0, n_slots
        )
        cur_cdf = np.cumsum(cnt, axis=1) / np.maximum(m_w[w0:w1], 1)[:, None]
        d = np.abs(ref_cdf[None, :] - cur_cdf).max(axis=1)
        ks[w0:w1] = np.where(m_w[w0:w1] > 0, d, np.nan)
    return ks, m_w


def _locate(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value: how many distinct reference values ``u`` lie below it, and whether it equals one.

    An integer grid (``u`` from ``distinct_counts``' counting path) is looked up in a table; other
    values are binary-searched.
    """
    lo, hi = u[0], u[-1]
    with np.errstate(over="ignore"):  # values reaching ±1e308: an infinite span takes the binary search
        span = hi - lo
    if np.isfinite(span) and span < MAX_INT_RANGE and np.array_equal(u, np.floor(u)):
        size = int(span) + 1
        present = np.zeros(size, dtype=bool)
        present[(u - lo).astype("int64")] = True
        below_lut = np.concatenate([[0], np.cumsum(present)[:-1]])
        on_grid = (v >= lo) & (v <= hi) & (v == np.floor(v))
        idx = np.where(on_grid, v - lo, 0).astype("int64")
        j = below_lut[idx]
        exact = on_grid & present[idx]
        off = ~on_grid
        if off.any():
            j_off = np.searchsorted(u, v[off], side="left")
            j[off] = j_off
        return j, exact
    j = np.searchsorted(u, v, side="left")
    return j, u[np.minimum(j, u.size - 1)] == v


def _ks_sorted_windows(
    u: np.ndarray, below: np.ndarray, v: np.ndarray, c: np.ndarray, n_windows: int
) -> np.ndarray:
    """KS per window by sorting each window (for references with millions of distinct values)."""
    n = int(below[-1])
    ks = np.full(n_windows, np.nan)
    order = np.lexsort((v, c))
    vs, cs = v[order], c[order]
    bounds = np.searchsorted(cs, np.arange(n_windows + 1))
    for w in range(n_windows):
        seg = vs[bounds[w] : bounds[w + 1]]
        if seg.size == 0:
            continue
        m = seg.size
        j = np.searchsorted(u, seg, side="left")
        jj = np.minimum(j, u.size - 1)
        ref_left = below[j]
        ref_right = np.where(u[jj] == seg, below[jj + 1], ref_left)
        right = np.searchsorted(seg, seg, side="right")
        left = np.searchsorted(seg, seg, side="left")
        ks[w] = max(np.abs(ref_right / n - right / m).max(), np.abs(ref_left / n - left / m).max())
    return ks


def _distinct(ref_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, #values strictly below each, with n appended) of a sorted sample."""
    if ref_sorted.size == 0:
        return ref_sorted, np.zeros(1, dtype="int64")
    first = np.ones(ref_sorted.size, dtype=bool)
    first[1:] = ref_sorted[1:] != ref_sorted[:-1]
    idx = np.flatnonzero(first)
    return ref_sorted[idx], np.append(idx, ref_sorted.size)


def chi2_pvalue(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """p-value of a chi-square test of homogeneity between two bucket count vectors (empty buckets dropped)."""
    table = np.vstack([ref_counts, cur_counts]).astype("float64")
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or table[1].sum() == 0 or table[0].sum() == 0:
        return math.nan
    return float(stats.chi2_contingency(table, correction=False).pvalue)


# ---- features × windows ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Drift of each feature in each window against one reference.

    ``table``: one row per (feature, window): ``feature``, ``kind``, ``window``, ``rows`` (current rows),
    ``psi``, ``ks`` (numeric; NaN for categorical), ``js``, ``distance`` (KS for numeric, JS for
    categorical), ``p_value`` (KS asymptotic / chi-square), ``missing_share``, ``unseen_share``.
    ``counts``: feature → windows × buckets array of current counts (for drill-down charts).
    ``sample``: None when every row was counted; else the rows the engine's drift read
    (``explore.engine.drift.DriftSample``: rows used, total, per window, the selection rule).
    """

    reference: ReferenceProfile
    table: pd.DataFrame
    counts: dict[str, np.ndarray]
    n_windows: int
    sample: Any = None

    def matrix(self, measure: str = "psi") -> pd.DataFrame:
        """Features × windows pivot of one measure (``psi``, ``ks``, ``js``, ``distance``, ``p_value``)."""
        return self.table.pivot(index="feature", columns="window", values=measure).reindex(
            list(self.reference.features)
        )

    def top_features(self, *, measure: str = "psi", n: int = 10) -> pd.DataFrame:
        """Features ranked by their largest drift over windows: feature, kind, max, mean, last, worst_window."""
        t = self.table.dropna(subset=[measure])
        if t.empty:
            return pd.DataFrame(
                columns=[
                    "feature",
                    "kind",
                    f"max_{measure}",
                    f"mean_{measure}",
                    f"last_{measure}",
                    "worst_window",
                ]
            )
        g = t.groupby("feature", sort=False)
        worst = t.loc[g[measure].idxmax(), ["feature", "window"]].set_index("feature")["window"]
        last = t.sort_values("window").groupby("feature", sort=False)[measure].last()
        out = pd.DataFrame(
            {
                "kind": g["kind"].first(),
                f"max_{measure}": g[measure].max(),
                f"mean_{measure}": g[measure].mean(),
                f"last_{measure}": last,
                "worst_window": worst,
            }
        )
        return out.sort_values(f"max_{measure}", ascending=False).head(n).reset_index()


def drift_by_window(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    codes: np.ndarray,
    n_windows: int,
    *,
    features: Sequence[str] | None = None,
) -> DriftResult:
    """PSI, KS/JS distances and p-values of each feature of ``current`` in each window against ``profile``.

    ``codes``: window index per row of ``current`` (``-1``: not in any window). Windows without rows get
    NaN measures (kept in the table). Returns a ``DriftResult``.
    """
    features = list(features) if features is not None else list(profile.features)
    missing = [f for f in features if f not in current.columns]
    if missing:
        raise AnalysisError(
            UNKNOWN_FEATURES.format(
                what="current",
                missing=", ".join(map(repr, missing[:10])),
                known=", ".join(map(str, current.columns[:20])),
            )
        )
    codes = np.asarray(codes, dtype="int64")
    use = codes >= 0
    cw = codes[use]
    rows = np.bincount(cw, minlength=n_windows)[:n_windows]
    frames: list[pd.DataFrame] = []
    counts: dict[str, np.ndarray] = {}
    for f in features:
        prof = profile.features[f]
        if prof.kind == "numeric":
            s = current[f]
            v_num = _as_float(s) if is_numeric(s) else pd.to_numeric(s, errors="coerce").to_numpy("float64")
            b = numeric_buckets(v_num, prof.edges)[use]
        else:
            b = buckets_of(prof, current[f])[use]
        nb = len(prof.buckets)
        c = np.bincount(cw * nb + b, minlength=n_windows * nb)[: n_windows * nb].reshape(n_windows, nb)
        counts[f] = c
        ks_w = np.full(n_windows, np.nan)
        p_w = np.full(n_windows, np.nan)
        if prof.kind == "numeric":
            ks_w, m_w = ks_by_window(prof.distinct, v_num[use], cw, n_windows)
            for w in range(n_windows):
                p_w[w] = ks_pvalue(ks_w[w], prof.n_present, int(m_w[w]))
        else:
            for w in range(n_windows):
                if rows[w]:
                    p_w[w] = chi2_pvalue(prof.ref_counts, c[w])
        frames.append(window_drift_frame(prof, rows, c, ks_w, p_w, eps=profile.eps))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return DriftResult(reference=profile, table=table, counts=counts, n_windows=n_windows)


def window_drift_frame(
    prof: FeatureProfile,
    rows: np.ndarray,
    counts: np.ndarray,
    ks_w: np.ndarray,
    p_w: np.ndarray,
    *,
    eps: float,
) -> pd.DataFrame:
    """One feature's rows of ``DriftResult.table`` from its windows × buckets ``counts`` (wherever counted), its
    KS distances and p-values per window."""
    with np.errstate(invalid="ignore", divide="ignore"):
        missing_share = counts[:, -1] / rows
        unseen_share = counts[:, -2] / (rows - counts[:, -1])
    js_w = js_from_counts(prof.ref_counts, counts)
    return pd.DataFrame(
        {
            "feature": prof.name,
            "kind": prof.kind,
            "window": np.arange(len(rows)),
            "rows": rows,
            "psi": psi_from_counts(prof.ref_counts, counts, eps=eps),
            "ks": ks_w,
            "js": js_w,
            "distance": ks_w if prof.kind == "numeric" else js_w,
            "p_value": p_w,
            "missing_share": missing_share,
            "unseen_share": unseen_share,
        }
    )


@dataclass(frozen=True, eq=False)
class BucketShares(TableResult):
    """Reference vs current share of each bucket of ``feature`` in window ``window``: ``table`` columns
    ``bucket``, ``order``, ``reference``, ``current`` (NaN when the window has no row)."""

    feature: str
    window: int
    table: pd.DataFrame


def bucket_shares(result: DriftResult, feature: str, window: int) -> BucketShares:
    """How ``feature``'s buckets are filled in ``window`` against the reference (see ``BucketShares``)."""
    prof = result.reference.features[feature]
    c = result.counts[feature][window].astype("float64")
    tot = c.sum()
    table = pd.DataFrame(
        {
            "bucket": prof.buckets,
            "order": np.arange(len(prof.buckets)),
            "reference": prof.ref_shares,
            "current": c / tot if tot else np.full(len(c), np.nan),
        }
    )
    return BucketShares(feature, int(window), table)


def drift_metric_tracking(
    result: DriftResult,
    metric: pd.Series,
    *,
    higher_is_better: bool = True,
    measure: str = "psi",
    usable: np.ndarray | None = None,
    min_windows: int = 4,
) -> pd.DataFrame:
    """How well each feature's drift series tracks the performance drop.

    ``metric``: metric value per window (index = window). The drop is ``−metric`` when higher is
    better, else ``metric``. For each feature: ``spearman`` and ``pearson`` correlation (scipy) between
    its drift series and the drop over the windows where both exist (and ``usable``, e.g. not flagged
    for too few rows), ``n_windows`` used; sorted with the best-tracking feature first. A constant
    series gives NaN with a ``note``. Raises ``AnalysisError`` with fewer than ``min_windows`` windows.
    """
    drop = -metric if higher_is_better else metric
    drop = drop.astype("float64")
    m = result.matrix(measure)
    keep = np.ones(result.n_windows, dtype=bool) if usable is None else np.asarray(usable, dtype=bool)
    windows = [
        w for w in range(result.n_windows) if keep[w] and w in drop.index and np.isfinite(drop.get(w, np.nan))
    ]
    if len(windows) < min_windows:
        raise AnalysisError(TOO_FEW_FOR_TRACKING.format(need=min_windows, n=len(windows)))
    rows = []
    for f in m.index:
        x = m.loc[f, windows].to_numpy(dtype="float64")
        y = drop.loc[windows].to_numpy(dtype="float64")
        ok = np.isfinite(x) & np.isfinite(y)
        note = ""
        rho = r = math.nan
        if ok.sum() < min_windows:
            note = f"only {int(ok.sum())} windows with values"
        elif np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            note = "constant series"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", stats.ConstantInputWarning)
                rho = float(stats.spearmanr(x[ok], y[ok]).statistic)
                r = float(stats.pearsonr(x[ok], y[ok]).statistic)
        rows.append({"feature": f, "spearman": rho, "pearson": r, "n_windows": int(ok.sum()), "note": note})
    out = pd.DataFrame(rows)
    return out.sort_values("spearman", ascending=False, na_position="last").reset_index(drop=True)


# ---- data invariants per window -------------------------------------------------------------------


@dataclass(frozen=True)
class InvariantThresholds:
    """When a window breaks an invariant (shares are fractions 0..1).

    ``null_increase``: null rate above the reference's by more than this; ``out_of_range``: share of a
    numeric feature's values outside the reference range; ``unseen``: share of a categorical feature's
    values absent from the reference; ``nonfinite_inputs`` / ``nonfinite_outputs``: counts of ±inf in
    inputs / NaN or ±inf in model outputs above this.
    """

    null_increase: float = 0.05
    out_of_range: float = 0.01
    unseen: float = 0.01
    nonfinite_inputs: int = 0
    nonfinite_outputs: int = 0


@dataclass(frozen=True, eq=False)
class InvariantsResult:
    """Invariant checks per window.

    ``by_feature``: one row per (window, feature): ``rows``, ``null_rate``, ``ref_null_rate``,
    ``null_increase``, ``out_of_range`` (numeric), ``unseen`` (categorical), ``n_nan``, ``n_inf``.
    ``by_window``: one row per window with the worst feature of each check, NaN/inf counts in inputs and
    outputs, ``breaks`` (names of the checks broken) and ``flagged``.
    """

    by_feature: pd.DataFrame
    by_window: pd.DataFrame
    thresholds: InvariantThresholds


def _worst(table: pd.DataFrame, column: str, n_windows: int) -> tuple[np.ndarray, list[str]]:
    vals = np.full(n_windows, np.nan)
    names = [""] * n_windows
    t = table.dropna(subset=[column])
    if t.empty:
        return vals, names
    idx = t.groupby("window")[column].idxmax()
    for w, i in idx.items():
        vals[int(w)] = t.at[i, column]
        names[int(w)] = str(t.at[i, "feature"])
    return vals, names


def data_invariants(
    profile: ReferenceProfile,
    current: pd.DataFrame,
    codes: np.ndarray,
    n_windows: int,
    *,
    outputs: Sequence[np.ndarray] = (),
    output_codes: np.ndarray | None = None,
    thresholds: InvariantThresholds | None = None,
    features: Sequence[str] | None = None,
) -> InvariantsResult:
    """Per-window data invariants of ``current`` against the reference: null rates, values outside the
    reference range, unseen categories, NaN/inf in the inputs, NaN/inf in the model's ``outputs``
    (arrays aligned with ``output_codes``, e.g. predictions and probabilities of the scored rows).

    Returns an ``InvariantsResult`` whose ``by_window.flagged`` marks windows breaking a threshold.
    """
    thresholds = thresholds or InvariantThresholds()
    features = list(features) if features is not None else list(profile.features)
    codes = np.asarray(codes, dtype="int64")
    use = codes >= 0
    cw = codes[use]
    rows = np.bincount(cw, minlength=n_windows)[:n_windows].astype("int64")
    frames = []
    for f in features:
        prof = profile.features[f]
        s = current[f]
        isna = s.isna().to_numpy()[use]
        n_null = np.bincount(cw, weights=isna, minlength=n_windows)[:n_windows]
        n_inf = np.zeros(n_windows)
        n_out = n_unseen = None
        if prof.kind == "numeric":
            v = (_as_float(s) if is_numeric(s) else pd.to_numeric(s, errors="coerce").to_numpy("float64"))[
                use
            ]
            inf = np.isinf(v)
            n_inf = np.bincount(cw, weights=inf, minlength=n_windows)[:n_windows]
            if math.isfinite(prof.low):
                out = ~np.isnan(v) & ((v < prof.low) | (v > prof.high))
                n_out = np.bincount(cw, weights=out, minlength=n_windows)[:n_windows]
        else:
            b = _category_buckets(s, prof.categories, prof.known)[use]
            k = len(prof.categories)
            n_unseen = np.bincount(cw, weights=b == k + 1, minlength=n_windows)[:n_windows]
        frames.append(feature_invariants(prof, rows, n_null, n_inf, n_out, n_unseen))
    nan_out = np.zeros(n_windows, dtype="int64")
    inf_out = np.zeros(n_windows, dtype="int64")
    if outputs and output_codes is not None:
        oc = np.asarray(output_codes, dtype="int64")
        ok = oc >= 0
        for arr in outputs:
            a = np.asarray(arr, dtype="float64")
            a2 = a.reshape(len(a), -1)[ok]
            nan_out += np.bincount(oc[ok], weights=np.isnan(a2).sum(axis=1), minlength=n_windows)[
                :n_windows
            ].astype("int64")
            inf_out += np.bincount(oc[ok], weights=np.isinf(a2).sum(axis=1), minlength=n_windows)[
                :n_windows
            ].astype("int64")
    return invariants_from_counts(frames, rows, nan_out, inf_out, thresholds)


def feature_invariants(
    prof: FeatureProfile,
    rows: np.ndarray,
    n_null: np.ndarray,
    n_inf: np.ndarray,
    n_out: np.ndarray | None,
    n_unseen: np.ndarray | None,
) -> pd.DataFrame:
    """One feature's invariant rows per window from its counts (missing, ±inf, outside the reference range,
    unseen categories), wherever they were counted."""
    n_windows = len(rows)
    present = rows - n_null
    with np.errstate(invalid="ignore", divide="ignore"):
        oor = np.full(n_windows, np.nan) if n_out is None else n_out / present
        unseen = np.full(n_windows, np.nan) if n_unseen is None else n_unseen / present
        null_rate = n_null / rows
    return pd.DataFrame(
        {
            "window": np.arange(n_windows),
            "feature": prof.name,
            "kind": prof.kind,
            "rows": rows,
            "null_rate": null_rate,
            "ref_null_rate": prof.null_rate,
            "null_increase": null_rate - prof.null_rate,
            "out_of_range": oor,
            "unseen": unseen,
            "n_nan": np.asarray(n_null).astype("int64"),
            "n_inf": np.asarray(n_inf).astype("int64"),
        }
    )


def invariants_from_counts(
    frames: list[pd.DataFrame],
    rows: np.ndarray,
    nan_out: np.ndarray,
    inf_out: np.ndarray,
    thresholds: InvariantThresholds,
) -> InvariantsResult:
    """The invariants result from every feature's ``feature_invariants`` and the NaN/inf counts of the outputs."""
    n_windows = len(rows)
    by_feature = pd.concat(frames, ignore_index=True)
    null_inc, null_f = _worst(by_feature, "null_increase", n_windows)
    oor, oor_f = _worst(by_feature, "out_of_range", n_windows)
    uns, uns_f = _worst(by_feature, "unseen", n_windows)
    inf_in = by_feature.groupby("window")["n_inf"].sum().reindex(range(n_windows), fill_value=0).to_numpy()
    nan_in = by_feature.groupby("window")["n_nan"].sum().reindex(range(n_windows), fill_value=0).to_numpy()
    breaks: list[str] = []
    for w in range(n_windows):
        b = []
        if np.isfinite(null_inc[w]) and null_inc[w] > thresholds.null_increase:
            b.append(f"null rate of {null_f[w]}")
        if np.isfinite(oor[w]) and oor[w] > thresholds.out_of_range:
            b.append(f"out of range: {oor_f[w]}")
        if np.isfinite(uns[w]) and uns[w] > thresholds.unseen:
            b.append(f"unseen categories: {uns_f[w]}")
        if inf_in[w] > thresholds.nonfinite_inputs:
            b.append("inf in inputs")
        if nan_out[w] + inf_out[w] > thresholds.nonfinite_outputs:
            b.append("NaN/inf in outputs")
        breaks.append("; ".join(b))
    by_window = pd.DataFrame(
        {
            "window": np.arange(n_windows),
            "rows": rows,
            "max_null_increase": null_inc,
            "null_feature": null_f,
            "max_out_of_range": oor,
            "out_of_range_feature": oor_f,
            "max_unseen": uns,
            "unseen_feature": uns_f,
            "nan_inputs": nan_in,
            "inf_inputs": inf_in,
            "nan_outputs": nan_out,
            "inf_outputs": inf_out,
            "breaks": breaks,
            "flagged": [bool(b) for b in breaks],
        }
    )
    return InvariantsResult(by_feature=by_feature, by_window=by_window, thresholds=thresholds)
