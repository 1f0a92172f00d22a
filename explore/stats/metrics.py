"""Model metrics per group of rows, with support counts and confidence intervals, vectorised.

``grouped_metrics(scored, codes, n_groups)`` computes every requested metric for every group at once
(one ``np.bincount`` per count, one sort per score column for ROC/PR AUC), so that ~180 groups over
1M rows take a fraction of a second. ``overall_metrics(scored)`` is the same for all rows (group 0).

Confidence intervals are analytic wherever one exists:

* **wilson** – Wilson score interval for proportions (accuracy, precision, recall, base rate,
  positive-prediction rate). F1 uses the identity F1 = 2J/(1+J) with J = TP/(TP+FP+FN): given
  TP+FP+FN, TP is binomial in J, so the Wilson interval of J maps to an interval for F1.
* **delong** – DeLong's variance of the ROC AUC (placement values), normal interval.
* **normal** – Student-t interval of a per-row mean (log loss, Brier, MAE, bias; RMSE as the square
  root of the interval of the mean squared error); delta method for R² and for macro/weighted
  precision/recall/F1 (multinomial confusion matrix); logit interval for PR AUC (average precision,
  Boyd et al. 2013: logit(AP) ± z / sqrt(n_pos·AP·(1−AP))).
* **bootstrap** – percentile bootstrap, used only for the multiclass macro ROC AUC (the one-vs-rest
  AUCs share rows) and only on groups of at most ``BOOTSTRAP_MAX_ROWS`` rows, smallest first within
  ``BOOTSTRAP_BUDGET`` resampled values; other groups get a normal interval that treats the per-class
  DeLong variances as independent (``note`` says so).

A metric that cannot be computed on a group has ``value`` NaN and a ``note`` saying why (empty group,
one class, no predicted positives, metric unavailable for the model...). Where scikit-learn would
return 0 with an ``UndefinedMetricWarning`` (precision with no predicted positives), we return NaN
and say so: a zero would read as a real, terrible score.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special  # not scipy.stats: ~1 s of CPU to import, on the app's first page's path

from explore.core.workspace import Scored
from explore.errors import AnalysisError

COLUMNS = ["group", "metric", "value", "ci_low", "ci_high", "support", "n_pos", "method", "note"]
BOOTSTRAP_MAX_ROWS = 5_000
BOOTSTRAP_REPLICATES = 200
# Most resampled values (rows × replicates × classes) bootstrapped in one call, smallest groups first.
BOOTSTRAP_BUDGET = 10_000_000
# Average precision of each group's complement costs one pass per group: only up to n·G of this.
COMPLEMENT_AP_BUDGET = 20_000_000
# Per-class rows are added to the default multiclass metrics up to this many classes.
MAX_DEFAULT_CLASSES = 20

NOTE_EMPTY = "empty slice"
NOTE_ONE_CLASS = "one class in slice"
NOTE_NO_PRED_POS = "no predicted positives in slice"
NOTE_NO_POS = "no positive labels in slice"
NOTE_NO_F1 = "no positive labels and no predicted positives in slice"
NOTE_ONE_ROW = "one row: no interval"
NOTE_FEW_FOR_CI = "interval needs at least 2 rows of each class"
NOTE_CONSTANT = "label is constant in slice (R² undefined)"
NOTE_NO_VALID = "no rows with a finite label and prediction"
NOTE_BOOT_SKIPPED = (
    "approximate interval: per-class DeLong variances treated as independent "
    f"(bootstrap only on slices of at most {BOOTSTRAP_MAX_ROWS:,} rows)"
)

NOTE_BOOT_BUDGET = (
    "approximate interval: per-class DeLong variances treated as independent (the bootstrap budget went to "
    "smaller slices)"
)

UNKNOWN_METRIC = (
    "Unknown metric {name!r} for a {task} task. Available metrics: {known}. "
    "Per-class metrics are written like 'recall[class=b]'."
)
BAD_CODES = (
    "Group codes must be integers in [-1, n_groups) with one code per row; received {received}. "
    "Use -1 for rows that belong to no group."
)
BAD_ZERO_DIVISION = (
    "zero_division must be nan (leave undefined precision / recall out), 0 (scikit-learn's default) "
    "or 1; received {received!r}."
)
BAD_CONFIDENCE = "confidence must be strictly between 0 and 1 (e.g. 0.95); received {received!r}."


@dataclass(frozen=True)
class MetricDef:
    """A metric in the registry.

    ``needs``: "pred" (hard predictions), "score" (a ranking score: probability or decision function)
    or "proba" (calibrated probabilities). ``per_class``: also available as ``name[class=c]``.
    ``compute(ctx, cls)`` returns a ``_Res`` with one entry per group (``cls``: class code or None).
    """

    name: str
    tasks: tuple[str, ...]
    needs: str
    higher_is_better: bool | None
    description: str
    compute: Callable[[_Ctx, int | None], _Res]
    per_class: bool = False


@dataclass
class _Res:
    value: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    support: np.ndarray
    n_pos: np.ndarray
    method: str | np.ndarray  # one method, or one per group
    note: np.ndarray  # object array of str ("" when fine)


# ---- interval helpers ------------------------------------------------------------------------------


def _z(confidence: float) -> float:
    return float(special.ndtri(0.5 + confidence / 2))  # scipy.stats.norm.ppf's own function


def clamp_interval(value: Any, lo: Any, hi: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` widened, where needed, so that ``lo <= value <= hi`` holds exactly.

    Rounding (Wilson at 0 or n gives 2.8e-17 / 1 − 1.1e-16), asymmetric bootstrap quantiles and
    shifted centres (Agresti–Min) can leave an interval that excludes its own estimate; every interval
    the project reports passes through here. NaN bounds and NaN estimates are left as they are.
    """
    v = np.asarray(value, dtype="float64")
    lo_a, hi_a = np.asarray(lo, dtype="float64"), np.asarray(hi, dtype="float64")
    ok = np.isfinite(v)
    with np.errstate(invalid="ignore"):
        lo_out = np.where(ok & (lo_a > v), v, lo_a)
        hi_out = np.where(ok & (hi_a < v), v, hi_a)
    return lo_out, hi_out


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``successes / trials`` (arrays); NaN where ``trials`` is 0.

    The bounds hold the estimate exactly: ``lo <= successes / trials <= hi`` (0 at 0, 1 at n)."""
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
        lo, hi = clamp_interval(p, lo, hi)
    bad = n <= 0
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _t_crit(n: np.ndarray, confidence: float) -> np.ndarray:
    df = np.maximum(np.asarray(n, dtype="float64") - 1, 1)
    return special.stdtrit(df, 0.5 + confidence / 2)  # scipy.stats.t.ppf's own function (df >= 1 here)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _notes(g: int) -> np.ndarray:
    return np.full(g, "", dtype=object)


def _set_note(notes: np.ndarray, where: np.ndarray, text: str) -> None:
    where = where & (notes == "")
    notes[where] = text


# ---- the per-call context: per-group counts computed lazily, once ------------------------------------

# Global score orders are cached per Scored object (an argsort of 1M floats is the costliest step).
_ORDER_CACHE: weakref.WeakKeyDictionary[Scored, dict[Any, np.ndarray]] = weakref.WeakKeyDictionary()


def _score_order(scored: Scored, key: Any, values: np.ndarray) -> np.ndarray:
    cache = _ORDER_CACHE.setdefault(scored, {})
    if key not in cache:
        cache[key] = np.argsort(values, kind="stable")
    return cache[key]


@dataclass(frozen=True)
class _SortedView:
    """One score column sorted once: the order and the values / labels / finiteness in that order."""

    order: np.ndarray
    values: np.ndarray
    pos: np.ndarray  # int8: row is of the class scored
    finite: np.ndarray | None


def _sorted_view(scored: Scored, key: Any, values: np.ndarray, is_pos: np.ndarray) -> _SortedView:
    cache = _ORDER_CACHE.setdefault(scored, {})
    vkey = ("view", key)
    if vkey not in cache:
        order = _score_order(scored, key, values)
        v = values[order]
        finite = np.isfinite(v)
        cache[vkey] = _SortedView(order, v, is_pos[order].astype(np.int8), None if finite.all() else finite)
    return cache[vkey]


def _row_values(scored: Scored, key: str, fn: Callable[[], np.ndarray]) -> np.ndarray:
    """A per-row array derived from ``scored`` (log loss, Brier term...), computed once per dataset."""
    cache = _ORDER_CACHE.setdefault(scored, {})
    if ("rows", key) not in cache:
        cache[("rows", key)] = fn()
    return cache[("rows", key)]


class _Ctx:
    """Per-group quantities for one ``grouped_metrics`` call, each computed on first use."""

    rows_in_memory = True

    def __init__(
        self,
        scored: Scored,
        codes: np.ndarray,
        n_groups: int,
        confidence: float,
        complement: bool = False,
        zero_division: float = np.nan,
    ) -> None:
        self.scored = scored
        self.zero_division = zero_division
        self.complement = complement
        self.codes = codes
        self.G = n_groups
        self.conf = confidence
        self.z = _z(confidence)
        self.task = scored.task
        self.K = 0 if scored.classes is None else len(scored.classes)
        self._cache: dict[Any, Any] = {}
        self.all_kept = bool((codes >= 0).all()) if len(codes) else True
        support = np.bincount(codes[codes >= 0], minlength=n_groups)[:n_groups].astype("int64")
        self.support = support.sum() - support if complement else support

    def memo(self, key: Any, fn: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def bincount(self, weights: np.ndarray | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """Per-group sum of ``weights`` (count when None) over rows in a group (and in ``mask``)."""
        if self.all_kept and mask is None:
            c, w = self.codes, weights
        else:
            keep = self.codes >= 0
            if mask is not None:
                keep = keep & mask
            c = self.codes[keep]
            w = None if weights is None else weights[keep]
        per_group = np.bincount(c, weights=w, minlength=self.G)[: self.G].astype("float64")
        if self.complement:
            return (float(w.sum()) if w is not None else float(len(c))) - per_group
        return per_group

    # -- classification
    @property
    def confusion(self) -> np.ndarray:
        """(G, K, K+1) counts: true class × predicted class (last column: a prediction outside the classes)."""

        def build() -> np.ndarray:
            K = self.K
            pred = np.where(self.scored.pred < 0, K, self.scored.pred)
            keep = self.codes >= 0
            flat = (self.codes[keep] * K + self.scored.y[keep]) * (K + 1) + pred[keep]
            counts = np.bincount(flat, minlength=self.G * K * (K + 1))[: self.G * K * (K + 1)]
            C = counts.reshape(self.G, K, K + 1).astype("float64")
            return C.sum(axis=0, keepdims=True) - C if self.complement else C

        return self.memo("confusion", build)

    def class_counts(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(TP, true k, predicted k) per group for class ``k``."""
        C = self.confusion
        return C[:, k, k], C[:, k, :].sum(axis=1), C[:, :, k].sum(axis=1)

    def valid_score(self, values: np.ndarray) -> np.ndarray | None:
        finite = np.isfinite(values)
        return None if finite.all() else finite

    def auc_stats(self, k: int) -> dict[str, np.ndarray]:
        """DeLong AUC, its variance and average precision per group, class ``k`` against the rest."""

        def build() -> dict[str, np.ndarray]:
            s = self.scored
            if self.task == "binary":
                values = s.score
                key = "score"
            else:
                values = s.proba[:, k]
                key = ("proba", k)
            view = _sorted_view(s, key, values, s.y == k)
            if self.complement:
                return _complement_auc(view, self.codes, self.G)
            return _grouped_auc(view, self.codes, self.G)

        return self.memo(("auc", k), build)

    def row_mean(self, key: str, values: Callable[[], np.ndarray]) -> dict[str, np.ndarray]:
        """Per-group mean of a per-row quantity, with a Student-t interval; rows with NaN excluded."""

        def centred() -> tuple[np.ndarray | None, float, np.ndarray, np.ndarray]:
            x = values()
            finite = np.isfinite(x)
            mask = None if finite.all() else finite
            xs = np.where(finite, x, 0.0)
            centre = float(xs[finite].mean()) if finite.any() else 0.0  # centring avoids cancellation
            d = xs - centre
            return mask, centre, d, d * d

        def build() -> dict[str, np.ndarray]:
            mask, centre, d, d2 = _row_values(self.scored, key, centred)
            n = self.bincount(mask=mask)
            return mean_from_sums(
                n, self.bincount(d, mask=mask), self.bincount(d2, mask=mask), centre, self.conf
            )

        return self.memo(("mean", key), build)


def mean_from_sums(
    n: np.ndarray, s1: np.ndarray, s2: np.ndarray, centre: float, confidence: float
) -> dict[str, np.ndarray]:
    """Per-group mean with a Student-t interval from the count and the sums of ``x − centre`` and its square."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_d = s1 / n
        var = np.maximum(s2 - n * mean_d**2, 0) / (n - 1)
        half = _t_crit(n, confidence) * np.sqrt(var / n)
    mean = mean_d + centre
    half = np.where(n > 1, half, np.nan)
    return {"mean": np.where(n > 0, mean, np.nan), "half": half, "n": n}


def _grouped_auc(
    view: _SortedView, codes: np.ndarray, G: int, per_row: bool = False
) -> dict[str, np.ndarray]:
    """ROC AUC with DeLong variance and average precision, per group, from one global score order.

    ``per_row``: also return ``place``, each row's concordance count within its group (positives:
    negatives below + ½ tied; negatives: positives above + ½ tied), indexed like the rows.

    Rows are visited by (group, score); ties form blocks. Every quantity is a block-level sum, so the
    work after the sort is a handful of cumulative sums and bincounts.
    """
    # Gathering small integers is several times faster than gathering int64 codes.
    gs = codes.astype(np.int16 if G < 2**15 else np.int32)[view.order]
    keep = gs >= 0
    if view.finite is not None:
        keep &= view.finite
    base = None if keep.all() else np.flatnonzero(keep)
    if base is not None:
        gs = gs[base]
    # Stable sort by group keeps the score order inside each group (radix sort on small ints).
    perm = np.argsort(gs, kind="stable")
    sel = perm if base is None else base[perm]  # positions in the sorted view, by (group, score)
    g = gs[perm].astype(np.intp)
    v = view.values[sel]
    pos = view.pos[sel]
    m = len(sel)
    out: dict[str, np.ndarray] = {}
    npos = np.bincount(g, weights=pos, minlength=G)[:G] if m else np.zeros(G)
    nall = np.bincount(g, minlength=G)[:G].astype("float64") if m else np.zeros(G)
    nneg = nall - npos
    out.update(npos=npos, nneg=nneg, n=nall)
    if m == 0:
        nan = np.full(G, np.nan)
        out.update(auc=nan, var=nan, ap=nan)
        if per_row:
            out["place"] = np.zeros(len(codes))
        return out
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(g[1:], g[:-1], out=new[1:])
    new[1:] |= v[1:] != v[:-1]
    starts = np.flatnonzero(new)
    if len(starts) == m:  # no tied scores inside a group: every row is its own block
        pos_b = pos.astype(np.float64)
        neg_b = 1.0 - pos_b
        grp_b = g
    else:
        pos_b = np.add.reduceat(pos, starts, dtype=np.float64)
        neg_b = np.diff(np.r_[starts, m]).astype(np.float64) - pos_b
        grp_b = g[starts]
    # Exclusive cumulative sums restarted at each group: "rows of the group with a lower score".
    pos_less = np.cumsum(pos_b)
    pos_less -= pos_b
    neg_less = np.cumsum(neg_b)
    neg_less -= neg_b
    present = nall > 0
    first = np.searchsorted(grp_b, np.flatnonzero(present))
    start_pos = np.zeros(G)
    start_neg = np.zeros(G)
    start_pos[present] = pos_less[first]
    start_neg[present] = neg_less[first]
    pos_less -= start_pos[grp_b]
    neg_less -= start_neg[grp_b]
    npos_b = npos[grp_b]
    # DeLong placements (as counts): a positive beats t negatives, a negative is beaten by u positives.
    t = neg_less + 0.5 * neg_b
    u = npos_b - pos_less - 0.5 * pos_b
    pt = pos_b * t
    nu = neg_b * u
    sum_pt = np.bincount(grp_b, weights=pt, minlength=G)[:G]
    sum_ptt = np.bincount(grp_b, weights=pt * t, minlength=G)[:G]
    sum_nuu = np.bincount(grp_b, weights=nu * u, minlength=G)[:G]
    # Average precision: precision at each distinct threshold (score ≥ block), weighted by recall gained.
    prec = (npos_b - pos_less) / (nall[grp_b] - pos_less - neg_less)
    sum_ap = np.bincount(grp_b, weights=pos_b * prec, minlength=G)[:G]
    if per_row:
        block = np.cumsum(new) - 1
        place = np.zeros(len(codes))
        place[view.order[sel]] = np.where(pos == 1, t[block], u[block])
        out["place"] = place
    out.update(auc_from_sums(npos, nneg, sum_pt, sum_ptt, sum_nuu, sum_ap))
    return out


def auc_from_sums(
    npos: np.ndarray,
    nneg: np.ndarray,
    sum_pt: np.ndarray,
    sum_ptt: np.ndarray,
    sum_nuu: np.ndarray,
    sum_ap: np.ndarray,
) -> dict[str, np.ndarray]:
    """ROC AUC, its DeLong variance and average precision per group from the block sums of
    ``_grouped_auc`` (also what an engine query returns: explore.engine computes the same sums in SQL)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = sum_pt / (npos * nneg)
        s10 = (sum_ptt / nneg**2 - npos * auc**2) / (npos - 1)
        s01 = (sum_nuu / npos**2 - nneg * auc**2) / (nneg - 1)
        var = np.maximum(s10, 0) / npos + np.maximum(s01, 0) / nneg
        ap = sum_ap / npos
    both = (npos > 0) & (nneg > 0)
    return {
        "auc": np.where(both, auc, np.nan),
        "var": np.where((npos > 1) & (nneg > 1), var, np.nan),
        "ap": np.where(npos > 0, ap, np.nan),
    }


def _complement_auc(view: _SortedView, codes: np.ndarray, G: int) -> dict[str, np.ndarray]:
    """ROC AUC of the rows *outside* each group (among rows in some group), by counting pairs.

    Concordant pairs of the complement = all pairs − pairs with the positive in g − pairs with the
    negative in g + pairs with both in g. Variance by Hanley & McNeil (1982): the complement's own
    placement values would need one pass per group. Average precision is computed group by group
    when that is affordable (``n·G`` ≤ ``COMPLEMENT_AP_BUDGET``), else left NaN.
    """
    inside = _grouped_auc(view, codes, G)
    allcodes = np.where(codes >= 0, 0, -1)
    whole = _grouped_auc(view, allcodes, 1, per_row=True)
    is_pos = np.zeros(len(codes), dtype=bool)
    is_pos[view.order] = view.pos == 1
    keep = codes >= 0
    if view.finite is not None:
        finite = np.zeros(len(codes), dtype=bool)
        finite[view.order] = view.finite
        keep &= finite
    c = codes[keep]
    conc_pos = np.bincount(c, weights=np.where(is_pos[keep], whole["place"][keep], 0), minlength=G)[:G]
    conc_neg = np.bincount(c, weights=np.where(~is_pos[keep], whole["place"][keep], 0), minlength=G)[:G]
    Np, Nn = whole["npos"][0], whole["nneg"][0]
    total = np.nan_to_num(whole["auc"][0]) * Np * Nn
    ap = np.full(G, np.nan)
    m = int(keep.sum())
    if m * G <= COMPLEMENT_AP_BUDGET:
        for g in range(G):
            sel = keep & (codes != g)
            if sel.any() and is_pos[sel].any():
                ap[g] = _grouped_auc(view, np.where(sel, 0, -1), 1)["ap"][0]
    return complement_auc_from_pairs(inside, Np, Nn, total, conc_pos, conc_neg, ap)


def complement_auc_from_pairs(
    inside: dict[str, np.ndarray],
    Np: float,
    Nn: float,
    total: float,
    conc_pos: np.ndarray,
    conc_neg: np.ndarray,
    ap: np.ndarray,
) -> dict[str, Any]:
    """The rest of each group's ROC AUC from pair counts (in memory or by an engine): concordant pairs of the
    complement = ``total`` − ``conc_pos`` (positive in g) − ``conc_neg`` (negative in g) + the group's own
    (``inside``: its npos, nneg, auc); variance by Hanley & McNeil (1982)."""
    within = np.nan_to_num(inside["auc"]) * inside["npos"] * inside["nneg"]
    npos, nneg = Np - inside["npos"], Nn - inside["nneg"]
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (total - conc_pos - conc_neg + within) / (npos * nneg)
        q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
        var = (auc * (1 - auc) + (npos - 1) * (q1 - auc * auc) + (nneg - 1) * (q2 - auc * auc)) / (
            npos * nneg
        )
    both = (npos > 0) & (nneg > 0)
    return {
        "npos": npos,
        "nneg": nneg,
        "n": npos + nneg,
        "auc": np.where(both, np.clip(auc, 0, 1), np.nan),
        "var": np.where((npos > 1) & (nneg > 1), np.maximum(var, 0), np.nan),
        "ap": ap,
        "var_method": "hanley-mcneil",
    }


# ---- metric implementations --------------------------------------------------------------------------


def _nan(G: int) -> np.ndarray:
    return np.full(G, np.nan)


def _pos_class(ctx: _Ctx, cls: int | None) -> int:
    return ctx.scored.positive_index if cls is None else cls


def _rate_result(
    ctx: _Ctx, k: np.ndarray, n: np.ndarray, npos: np.ndarray, empty_note: str, *, undefined: bool = False
) -> _Res:
    """A rate k / n with its Wilson interval. ``undefined``: where n is 0 on a non-empty group, the value
    is ``ctx.zero_division`` (precision / recall as scikit-learn), without an interval."""
    lo, hi = wilson_interval(k, n, ctx.conf)
    notes = _notes(ctx.G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    value = _ratio(k, n)
    if undefined and not np.isnan(ctx.zero_division):
        fill = (n == 0) & (ctx.support > 0)
        value = np.where(fill, ctx.zero_division, value)
        _set_note(notes, fill, f"{empty_note}: counted as {ctx.zero_division:g} (zero_division)")
    _set_note(notes, n == 0, empty_note)
    return _Res(value, lo, hi, ctx.support, npos, "wilson", notes)


def _m_accuracy(ctx: _Ctx, cls: int | None) -> _Res:
    C = ctx.confusion
    correct = np.einsum("gkk->g", C[:, :, : ctx.K])
    return _rate_result(ctx, correct, ctx.support.astype("float64"), _npos_or_nan(ctx, cls), NOTE_EMPTY)


def _npos_or_nan(ctx: _Ctx, cls: int | None) -> np.ndarray:
    if ctx.task == "binary" or cls is not None:
        return ctx.class_counts(_pos_class(ctx, cls))[1]
    return _nan(ctx.G)


def _m_precision(ctx: _Ctx, cls: int | None) -> _Res:
    if ctx.task == "multiclass" and cls is None:
        return _macro(ctx, "precision", weighted=False)
    tp, actual, predicted = ctx.class_counts(_pos_class(ctx, cls))
    return _rate_result(ctx, tp, predicted, actual, NOTE_NO_PRED_POS, undefined=True)


def _m_recall(ctx: _Ctx, cls: int | None) -> _Res:
    if ctx.task == "multiclass" and cls is None:
        return _macro(ctx, "recall", weighted=False)
    tp, actual, _ = ctx.class_counts(_pos_class(ctx, cls))
    return _rate_result(ctx, tp, actual, actual, NOTE_NO_POS, undefined=True)


def _m_f1(ctx: _Ctx, cls: int | None) -> _Res:
    if ctx.task == "multiclass" and cls is None:
        return _macro(ctx, "F1", weighted=False)
    tp, actual, predicted = ctx.class_counts(_pos_class(ctx, cls))
    union = actual + predicted - tp  # TP + FN + FP
    lo_j, hi_j = wilson_interval(tp, union, ctx.conf)
    j = _ratio(tp, union)
    notes = _notes(ctx.G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    value = 2 * j / (1 + j)
    if not np.isnan(ctx.zero_division):
        fill = (union == 0) & (ctx.support > 0)
        value = np.where(fill, ctx.zero_division, value)
        _set_note(notes, fill, f"{NOTE_NO_F1}: counted as {ctx.zero_division:g} (zero_division)")
    _set_note(notes, union == 0, NOTE_NO_F1)
    return _Res(value, 2 * lo_j / (1 + lo_j), 2 * hi_j / (1 + hi_j), ctx.support, actual, "wilson", notes)


def _weighted(kind: str) -> Callable[[_Ctx, int | None], _Res]:
    return lambda ctx, cls: _macro(ctx, kind, weighted=True)


def _macro(ctx: _Ctx, kind: str, *, weighted: bool) -> _Res:
    """Macro (or support-weighted) average of per-class precision/recall/F1, delta-method interval.

    Classes are those labelled or predicted in the group (scikit-learn's ``unique_labels``). A class
    whose per-class metric is undefined there (precision: never predicted; recall: never labelled) is
    left out of the average by default (``zero_division=nan``); with ``zero_division`` 0 or 1 it
    counts as that value (scikit-learn's default is 0). The variance uses the multinomial model of the
    confusion matrix: Var f = Σ g²·C − (Σ g·C)²/N, g = ∂f/∂C (a filled-in class is a constant).
    """
    C = ctx.confusion  # (G, K, K+1)
    G, K = ctx.G, ctx.K
    rows = C.sum(axis=2)  # true counts (G, K)
    cols = C[:, :, :K].sum(axis=1)  # predicted counts (G, K)
    diag = np.einsum("gkk->gk", C[:, :, :K])
    if kind == "recall":
        den, num_scale = rows, 1.0
    elif kind == "precision":
        den, num_scale = cols, 1.0
    else:
        den, num_scale = rows + cols, 2.0
    valid = den > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        m_k = np.where(valid, num_scale * diag / np.where(valid, den, 1), 0.0)  # (G, K)
    # Gradient of each per-class metric w.r.t. every cell, (G, K, K, K+1): [g, k, i, j].
    grad_k = np.zeros((G, K, K, K + 1))
    d2 = np.where(valid, den, 1.0) ** 2
    for k in range(K):
        w = np.zeros((K, K + 1))
        if kind in ("recall", "F1"):
            w[k, :] += 1
        if kind in ("precision", "F1"):
            w[:, k] += 1
        gk = -num_scale * diag[:, k, None, None] * w[None] / d2[:, k, None, None]
        gk[:, k, k] += num_scale * den[:, k] / d2[:, k]
        grad_k[:, k] = np.where(valid[:, k, None, None], gk, 0.0)
    fill = ~np.isnan(ctx.zero_division)
    # Classes in the average: defined ones, plus (zero_division 0/1) the undefined ones the group labels or predicts.
    used = valid | ((rows > 0) | (cols > 0)) if fill else valid
    if fill:
        m_k = np.where(valid, m_k, ctx.zero_division)
    n_valid = used.sum(axis=1).astype("float64")
    if weighted:
        wts = np.where(used, rows, 0.0)
        R = wts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = (wts * m_k).sum(axis=1) / R
            grad = np.einsum("gk,gkij->gij", wts, grad_k) / R[:, None, None]
            # d(rows_i)/d(C[i, j]) = 1 for valid classes i.
            row_term = (np.where(used, m_k, 0.0) - value[:, None]) / R[:, None]
            grad += np.where(used, 1.0, 0.0)[:, :, None] * row_term[:, :, None]
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(used, m_k, 0.0).sum(axis=1) / n_valid
            grad = grad_k.sum(axis=1) / n_valid[:, None, None]
    N = C.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (grad**2 * C).sum(axis=(1, 2)) - (grad * C).sum(axis=(1, 2)) ** 2 / N
        half = ctx.z * np.sqrt(np.maximum(var, 0))
    none = n_valid == 0
    value = np.where(none, np.nan, value)
    notes = _notes(G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    word = {"recall": "no labels", "precision": "no predictions", "F1": "no labels or predictions"}[kind]
    _set_note(notes, none, f"{word} of any class in slice")
    partial = (~none) & (valid.sum(axis=1) < K)
    if partial.any():
        how = "undefined" if not fill else f"counted as {ctx.zero_division:g} or absent"
        for gi in np.flatnonzero(partial):
            missing = [str(c) for c, ok in zip(ctx.scored.classes.tolist(), valid[gi], strict=True) if not ok]
            _set_note(
                notes,
                np.arange(G) == gi,
                f"averaged over {int(n_valid[gi])} of {K} classes ({how}: {', '.join(missing[:5])})",
            )
    return _Res(
        value, np.clip(value - half, 0, 1), np.clip(value + half, 0, 1), ctx.support, _nan(G), "normal", notes
    )


def _m_roc_auc(ctx: _Ctx, cls: int | None) -> _Res:
    if ctx.task == "multiclass" and cls is None:
        return _macro_auc(ctx)
    k = _pos_class(ctx, cls)
    st = ctx.auc_stats(k)
    half = ctx.z * np.sqrt(st["var"])
    notes = _notes(ctx.G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    _set_note(notes, st["n"] == 0, "no rows with a finite score")
    _set_note(notes, np.isnan(st["auc"]), NOTE_ONE_CLASS)
    _set_note(notes, np.isnan(st["var"]), NOTE_FEW_FOR_CI)
    auc = st["auc"]
    method = "normal" if ctx.complement else "delong"  # complement: Hanley–McNeil variance
    return _Res(auc, np.clip(auc - half, 0, 1), np.clip(auc + half, 0, 1), st["n"], st["npos"], method, notes)


def _m_pr_auc(ctx: _Ctx, cls: int | None) -> _Res:
    if ctx.task == "multiclass" and cls is None:
        ks = range(ctx.K)
        stats_k = [ctx.auc_stats(k) for k in ks]
        aps = np.vstack([s_["ap"] for s_ in stats_k])
        present = ~np.isnan(aps)
        n_present = present.sum(axis=0)
        with np.errstate(invalid="ignore"):
            ap = np.where(n_present > 0, np.nansum(aps, axis=0) / np.maximum(n_present, 1), np.nan)
        # Boyd logit interval on the pooled positives (approximate for the macro average).
        npos = np.vstack([s_["npos"] for s_ in stats_k]).sum(axis=0)
        n_all = stats_k[0]["n"]
    else:
        k = _pos_class(ctx, cls)
        st = ctx.auc_stats(k)
        ap, npos, n_all = st["ap"], st["npos"], st["n"]
    lo, hi = _logit_interval(ap, npos, ctx.z)
    notes = _notes(ctx.G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    if ctx.complement:
        _set_note(
            notes,
            np.isnan(ap) & (npos > 0),
            "not computed for the rest of each group (too many rows × groups)",
        )
    _set_note(notes, np.isnan(ap), NOTE_NO_POS)
    n_pos_out = npos if (ctx.task == "binary" or cls is not None) else _nan(ctx.G)
    return _Res(ap, lo, hi, n_all, n_pos_out, "normal", notes)


def _logit_interval(p: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """logit(p) ± z/sqrt(n·p·(1−p)), back-transformed; p pulled 0.5/n inside (0, 1) so 0 and 1 get an interval."""
    with np.errstate(invalid="ignore", divide="ignore"):
        eps = 0.5 / np.maximum(n, 1)
        pc = np.clip(p, eps, 1 - eps)
        tau = 1 / np.sqrt(n * pc * (1 - pc))
        centre = special.logit(pc)
        lo = np.minimum(special.expit(centre - z * tau), p)
        hi = np.maximum(special.expit(centre + z * tau), p)
    ok = np.isfinite(p) & (n > 0)
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def _macro_auc(ctx: _Ctx) -> _Res:
    """One-vs-rest macro ROC AUC (classes with both labels present); bootstrap CI on small groups."""
    stats_k = [ctx.auc_stats(k) for k in range(ctx.K)]
    aucs = np.vstack([s_["auc"] for s_ in stats_k])  # (K, G)
    vars_ = np.vstack([s_["var"] for s_ in stats_k])
    present = ~np.isnan(aucs)
    n_present = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n_present > 0, np.nansum(aucs, axis=0) / np.maximum(n_present, 1), np.nan)
        half = ctx.z * np.sqrt(np.nansum(np.where(present, vars_, 0), axis=0)) / n_present
    lo, hi = np.clip(value - half, 0, 1), np.clip(value + half, 0, 1)
    notes = _notes(ctx.G)
    n_rows = stats_k[0]["n"]
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    _set_note(notes, n_present == 0, NOTE_ONE_CLASS)
    # The bootstrap resamples rows: not where the rows stay in an engine (``rows_in_memory`` False).
    small = (n_present > 0) & (n_rows <= BOOTSTRAP_MAX_ROWS) & (not ctx.complement) & ctx.rows_in_memory
    # Smallest groups first, within a total budget of resampled values (keeps many-group tables fast).
    candidates = np.flatnonzero(small)
    candidates = candidates[np.argsort(n_rows[candidates], kind="stable")]
    cost = np.cumsum(n_rows[candidates] * BOOTSTRAP_REPLICATES * ctx.K)
    chosen = candidates[cost <= BOOTSTRAP_BUDGET]
    booted = np.zeros(ctx.G, dtype=bool)
    if len(chosen):
        boot_lo, boot_hi = _bootstrap_macro_auc(ctx, chosen)
        booted[chosen] = np.isfinite(boot_lo[chosen])
        lo = np.where(booted, boot_lo, lo)
        hi = np.where(booted, boot_hi, hi)
    method = np.where(booted, "bootstrap", "normal")
    _set_note(notes, small & ~booted & (n_present > 0), NOTE_BOOT_BUDGET)
    _set_note(notes, (n_present > 0) & ~booted, NOTE_BOOT_SKIPPED)
    partial = (n_present > 0) & (n_present < ctx.K)
    _set_note(notes, partial, "averaged over the classes present in slice")
    return _Res(value, lo, hi, n_rows, _nan(ctx.G), method, notes)


def _bootstrap_macro_auc(ctx: _Ctx, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap of the macro OvR AUC for the given (small) groups."""
    from scipy.stats import rankdata  # the one use of scipy.stats here: imported when a bootstrap runs

    s = ctx.scored
    lo, hi = _nan(ctx.G), _nan(ctx.G)
    rng = np.random.default_rng(0)
    alpha = 1 - ctx.conf
    rows_by_group = _rows_by_group(ctx.codes, ctx.G)
    finite = np.isfinite(s.proba).all(axis=1)
    for gi in groups:
        idx = rows_by_group[gi]
        idx = idx[finite[idx]]
        m = len(idx)
        if m < 2:
            continue
        draws = idx[rng.integers(0, m, size=(BOOTSTRAP_REPLICATES, m))]
        y = s.y[draws]
        per_class = []
        for k in range(ctx.K):
            pos = y == k
            npos = pos.sum(axis=1)
            nneg = m - npos
            ranks = rankdata(s.proba[draws, k], axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                auc = ((ranks * pos).sum(axis=1) - npos * (npos + 1) / 2) / (npos * nneg)
            per_class.append(np.where((npos > 0) & (nneg > 0), auc, np.nan))
        arr = np.vstack(per_class)
        ok = ~np.isnan(arr)
        with np.errstate(invalid="ignore"):
            reps = np.where(ok.any(axis=0), np.nansum(arr, axis=0) / np.maximum(ok.sum(axis=0), 1), np.nan)
        reps = reps[~np.isnan(reps)]
        if len(reps) >= 20:
            lo[gi], hi[gi] = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return lo, hi


def _rows_by_group(codes: np.ndarray, G: int) -> list[np.ndarray]:
    keep = np.flatnonzero(codes >= 0)
    order = keep[np.argsort(codes[keep], kind="stable")]
    bounds = np.searchsorted(codes[order], np.arange(G + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(G)]


def _mean_result(
    ctx: _Ctx,
    key: str,
    values: Callable[[], np.ndarray],
    *,
    lower: float | None = 0.0,
    upper: float | None = None,
) -> _Res:
    st = ctx.row_mean(key, values)
    mean, half, n = st["mean"], st["half"], st["n"]
    lo, hi = mean - half, mean + half
    if lower is not None:
        lo = np.maximum(lo, lower)
    if upper is not None:
        hi = np.minimum(hi, upper)
    notes = _notes(ctx.G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    _set_note(notes, n == 0, NOTE_NO_VALID)
    _set_note(notes, n == 1, NOTE_ONE_ROW)
    return _Res(mean, lo, hi, n, _nan(ctx.G), "normal", notes)


def _m_log_loss(ctx: _Ctx, cls: int | None) -> _Res:
    s = ctx.scored

    def values() -> np.ndarray:
        p = s.proba[np.arange(s.n), s.y]
        # As scikit-learn's log_loss: clip to [eps, 1 - eps] with eps the machine epsilon of the dtype.
        eps = np.finfo(p.dtype if np.issubdtype(p.dtype, np.floating) else np.float64).eps
        return -np.log(np.clip(p, eps, 1 - eps))

    res = _mean_result(ctx, "log loss", values)
    res.n_pos = _npos_or_nan(ctx, None)
    return res


def _m_brier(ctx: _Ctx, cls: int | None) -> _Res:
    s = ctx.scored
    if ctx.task == "binary":

        def values() -> np.ndarray:
            p = s.proba[:, s.positive_index]
            return (p - (s.y == s.positive_index)) ** 2

        res = _mean_result(ctx, "brier", values, upper=1.0)
        res.n_pos = _npos_or_nan(ctx, None)
        return res

    def values_mc() -> np.ndarray:
        onehot = np.zeros_like(s.proba)
        onehot[np.arange(s.n), s.y] = 1.0
        return ((s.proba - onehot) ** 2).sum(axis=1)

    return _mean_result(ctx, "brier", values_mc, upper=2.0)


def _m_base_rate(ctx: _Ctx, cls: int | None) -> _Res:
    _, actual, _ = ctx.class_counts(_pos_class(ctx, cls))
    return _rate_result(ctx, actual, ctx.support.astype("float64"), actual, NOTE_EMPTY)


def _m_positive_rate(ctx: _Ctx, cls: int | None) -> _Res:
    _, actual, predicted = ctx.class_counts(_pos_class(ctx, cls))
    return _rate_result(ctx, predicted, ctx.support.astype("float64"), actual, NOTE_EMPTY)


def _m_mae(ctx: _Ctx, cls: int | None) -> _Res:
    s = ctx.scored
    return _mean_result(ctx, "abs err", lambda: np.abs(s.pred - s.y))


def _m_bias(ctx: _Ctx, cls: int | None) -> _Res:
    s = ctx.scored
    return _mean_result(ctx, "err", lambda: s.pred - s.y, lower=None)


def _m_rmse(ctx: _Ctx, cls: int | None) -> _Res:
    s = ctx.scored
    res = _mean_result(ctx, "sq err", lambda: (s.pred - s.y) ** 2)
    res.value = np.sqrt(res.value)
    res.lo = np.sqrt(np.maximum(res.lo, 0))
    res.hi = np.sqrt(res.hi)
    return res


def _m_r2(ctx: _Ctx, cls: int | None) -> _Res:
    """R² = 1 − mean(e²)/var(y) per group, delta-method interval over the per-row means of (e², y, y²)."""
    s = ctx.scored
    y = s.y
    e = s.pred - s.y
    finite = np.isfinite(y) & np.isfinite(e)
    mask = None if finite.all() else finite
    yc = np.where(
        finite, y - (np.nanmean(y[finite]) if finite.any() else 0.0), 0.0
    )  # centring: R² is shift-invariant
    u = np.where(finite, e * e, 0.0)
    b = yc * yc
    n = ctx.bincount(mask=mask)
    sums = {
        name: ctx.bincount(w, mask=mask)
        for name, w in {
            "u": u,
            "a": yc,
            "b": b,
            "uu": u * u,
            "aa": b,
            "bb": b * b,
            "ua": u * yc,
            "ub": u * b,
            "ab": b * yc,
        }.items()
    }
    return r2_from_sums(ctx, n, sums)


def r2_from_sums(ctx: _Ctx, n: np.ndarray, sums: dict[str, np.ndarray]) -> _Res:
    """R² and its delta-method interval from per-group sums of e², y−ȳ, (y−ȳ)² and their products
    (ȳ: the mean label over all rows); the engine feeds the same sums from SQL."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        U, A, B = sums["u"] / n, sums["a"] / n, sums["b"] / n
        V = B - A * A
        value = 1 - U / V
        cov = {
            "uu": sums["uu"] / n - U * U,
            "aa": sums["aa"] / n - A * A,
            "bb": sums["bb"] / n - B * B,
            "ua": sums["ua"] / n - U * A,
            "ub": sums["ub"] / n - U * B,
            "ab": sums["ab"] / n - A * B,
        }
        gu, ga, gb = -1 / V, -2 * A * U / V**2, U / V**2
        var = (
            gu * gu * cov["uu"]
            + ga * ga * cov["aa"]
            + gb * gb * cov["bb"]
            + 2 * (gu * ga * cov["ua"] + gu * gb * cov["ub"] + ga * gb * cov["ab"])
        ) / (n - 1)
        half = _t_crit(n, ctx.conf) * np.sqrt(np.maximum(var, 0))
    const = (n > 0) & ~(1e-12 * np.maximum(B, 1e-300) < V)
    value = np.where((n > 0) & ~const, value, np.nan)
    half = np.where(n > 2, half, np.nan)
    notes = _notes(ctx.G)
    _set_note(notes, ctx.support == 0, NOTE_EMPTY)
    _set_note(notes, n == 0, NOTE_NO_VALID)
    _set_note(notes, const, NOTE_CONSTANT)
    _set_note(notes, n <= 2, "fewer than 3 rows: no interval")
    return _Res(
        value, np.minimum(value - half, 1), np.minimum(value + half, 1), n, _nan(ctx.G), "normal", notes
    )


_CLS = ("binary", "multiclass")
METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in [
        MetricDef(
            "accuracy",
            _CLS,
            "pred",
            True,
            "share of rows whose predicted class equals the label",
            _m_accuracy,
        ),
        MetricDef(
            "precision",
            _CLS,
            "pred",
            True,
            "TP / predicted positives (multiclass: macro average over classes)",
            _m_precision,
            True,
        ),
        MetricDef(
            "recall",
            _CLS,
            "pred",
            True,
            "TP / actual positives (multiclass: macro average over classes)",
            _m_recall,
            True,
        ),
        MetricDef(
            "F1",
            _CLS,
            "pred",
            True,
            "harmonic mean of precision and recall (multiclass: macro average)",
            _m_f1,
            True,
        ),
        MetricDef(
            "precision (weighted)",
            ("multiclass",),
            "pred",
            True,
            "per-class precision averaged with class-support weights",
            _weighted("precision"),
        ),
        MetricDef(
            "recall (weighted)",
            ("multiclass",),
            "pred",
            True,
            "per-class recall averaged with class-support weights (equals accuracy)",
            _weighted("recall"),
        ),
        MetricDef(
            "F1 (weighted)",
            ("multiclass",),
            "pred",
            True,
            "per-class F1 averaged with class-support weights",
            _weighted("F1"),
        ),
        MetricDef(
            "ROC AUC",
            _CLS,
            "score",
            True,
            "probability that a positive outranks a negative (multiclass: one-vs-rest macro)",
            _m_roc_auc,
            True,
        ),
        MetricDef(
            "PR AUC",
            _CLS,
            "score",
            True,
            "average precision (area under the precision-recall curve; multiclass: macro)",
            _m_pr_auc,
            True,
        ),
        MetricDef(
            "log loss",
            _CLS,
            "proba",
            False,
            "mean negative log-probability of the true class (nats)",
            _m_log_loss,
        ),
        MetricDef(
            "Brier",
            _CLS,
            "proba",
            False,
            "mean squared error of the probabilities (multiclass: summed over classes)",
            _m_brier,
        ),
        MetricDef(
            "base rate",
            _CLS,
            "pred",
            None,
            "share of rows whose label is the positive class",
            _m_base_rate,
            True,
        ),
        MetricDef(
            "positive rate",
            _CLS,
            "pred",
            None,
            "share of rows predicted as the positive class",
            _m_positive_rate,
            True,
        ),
        MetricDef("MAE", ("regression",), "pred", False, "mean absolute error (label units)", _m_mae),
        MetricDef("RMSE", ("regression",), "pred", False, "root mean squared error (label units)", _m_rmse),
        MetricDef(
            "R²", ("regression",), "pred", True, "1 − mean squared error / variance of the label", _m_r2
        ),
        MetricDef(
            "bias",
            ("regression",),
            "pred",
            None,
            "mean error, prediction − label (label units; > 0 over-predicts)",
            _m_bias,
        ),
    ]
}
PER_CLASS_DEFAULT = ("precision", "recall", "F1", "ROC AUC", "base rate")
_PER_CLASS = re.compile(r"^(?P<base>.+)\[class=(?P<cls>.*)\]$")


def default_metrics(scored: Scored) -> list[str]:
    """The metrics computed when none are named: every metric of the task (+ per-class rows, multiclass)."""
    names = [n for n, m in METRICS.items() if scored.task in m.tasks]
    if scored.task == "binary":
        names = [n for n in names if n not in ("base rate", "positive rate")] + ["base rate", "positive rate"]
    if scored.task == "multiclass":
        names = [n for n in names if n not in ("base rate", "positive rate")]
        if len(scored.classes) <= MAX_DEFAULT_CLASSES:
            names += [f"{b}[class={c}]" for c in scored.classes.tolist() for b in PER_CLASS_DEFAULT]
    return names


def available_metrics(scored: Scored) -> list[str]:
    """Metrics of the task that the model's outputs allow (``scored.unavailable`` removed)."""
    return [n for n in default_metrics(scored) if _split(n)[0] not in scored.unavailable]


def _split(name: str) -> tuple[str, str | None]:
    m = _PER_CLASS.match(name)
    return (m["base"], m["cls"]) if m else (name, None)


def _resolve(scored: Scored, name: str) -> tuple[MetricDef, int | None]:
    base, cls_text = _split(name)
    metric = METRICS.get(base)
    known = ", ".join(n for n, m in METRICS.items() if scored.task in m.tasks)
    if metric is None or scored.task not in metric.tasks or (cls_text is not None and not metric.per_class):
        raise AnalysisError(UNKNOWN_METRIC.format(name=name, task=scored.task, known=known))
    if cls_text is None:
        return metric, None
    classes = scored.classes.tolist()
    for i, c in enumerate(classes):
        if str(c) == cls_text:
            return metric, i
    raise AnalysisError(
        f"Unknown class {cls_text!r} in metric {name!r}. The classes are: {', '.join(map(str, classes))}."
    )


def grouped_metrics(
    scored: Scored,
    codes: np.ndarray,
    n_groups: int,
    *,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    complement: bool = False,
    zero_division: float = np.nan,
) -> pd.DataFrame:
    """Every metric for every group, long format: one row per (group, metric).

    ``zero_division``: what precision, recall and F1 are where undefined (no predicted positives, no
    positive labels). NaN (the default) shows no value with the reason, and macro / weighted averages
    leave such classes out (scikit-learn's ``zero_division=np.nan``); 0 is scikit-learn's default
    convention (the class counts as 0 in the averages), 1 its other option. See docs/slices.md.

    ``complement=True`` computes, for each group g, the metrics of the rows that are in *another*
    group (the "rest" of g among rows with a code ≥ 0): what a group is compared with.

    ``codes[i]`` is row i's group in ``0..n_groups-1`` (-1: row excluded). Returns a DataFrame with
    columns ``group`` (int code), ``metric``, ``value``, ``ci_low``, ``ci_high`` (``confidence``
    interval, NaN when none), ``support`` (rows used), ``n_pos`` (rows of the positive class, where
    relevant), ``method`` ("wilson" | "delong" | "normal" | "bootstrap") and ``note`` (why a value or
    interval is missing; "" otherwise). Rates are fractions in [0, 1]; log loss in nats; regression
    errors in label units.
    """
    if not 0 < confidence < 1:
        raise AnalysisError(BAD_CONFIDENCE.format(received=confidence))
    zero_division = _check_zero_division(zero_division)
    codes = np.asarray(codes)
    if codes.shape != (scored.n,) or not np.issubdtype(codes.dtype, np.integer):
        raise AnalysisError(
            BAD_CODES.format(received=f"shape {codes.shape}, dtype {codes.dtype} for {scored.n} rows")
        )
    n_groups = int(n_groups)
    if len(codes) and (codes.max(initial=-1) >= n_groups or codes.min(initial=0) < -1):
        raise AnalysisError(
            BAD_CODES.format(received=f"codes from {codes.min()} to {codes.max()} with n_groups={n_groups}")
        )
    codes = codes.astype(np.int64, copy=False)
    names = default_metrics(scored) if metrics is None else list(metrics)
    resolved = [(name, *_resolve(scored, name)) for name in names]
    ctx = _Ctx(scored, codes, n_groups, confidence, complement=complement, zero_division=zero_division)
    has_score = scored.score is not None if scored.task == "binary" else scored.proba is not None
    return metrics_frame(ctx, resolved, scored.unavailable, scored.proba is not None, has_score)


def metrics_frame(
    ctx: _Ctx,
    resolved: list[tuple[str, MetricDef, int | None]],
    unavailable: dict[str, str],
    has_proba: bool,
    has_score: bool,
) -> pd.DataFrame:
    """The long table of ``grouped_metrics`` from a context (in memory, or explore.engine's queries)."""
    n_groups = ctx.G
    frames = []
    for name, metric, cls in resolved:
        reason = unavailable.get(metric.name)
        needs_missing = (metric.needs == "proba" and not has_proba) or (
            metric.needs == "score" and not has_score
        )
        if reason or needs_missing:
            why = reason or "the model gives no scores"
            res = _Res(
                _nan(n_groups),
                _nan(n_groups),
                _nan(n_groups),
                ctx.support,
                _nan(n_groups),
                "",
                np.full(n_groups, f"unavailable: {why}", dtype=object),
            )
        else:
            # labels near 1e154 overflow e² and e⁴ (inf / NaN values, no warning); the rest keep theirs
            with np.errstate(over="ignore", invalid="ignore"):
                res = metric.compute(ctx, cls)
        lo, hi = clamp_interval(res.value, res.lo, res.hi)
        frames.append(
            pd.DataFrame(
                {
                    "group": np.arange(n_groups),
                    "metric": name,
                    "value": res.value,
                    "ci_low": lo,
                    "ci_high": hi,
                    "support": np.asarray(res.support).astype("int64"),
                    "n_pos": res.n_pos,
                    "method": res.method,
                    "note": res.note,
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    # Group-major order, metrics in the order asked.
    out["_m"] = np.repeat(np.arange(len(frames)), n_groups)
    out = out.sort_values(["group", "_m"], kind="stable").drop(columns="_m").reset_index(drop=True)
    out["note"] = out["note"].astype(str)
    out["method"] = out["method"].astype(str)
    return out[COLUMNS]


def overall_metrics(
    scored: Scored,
    *,
    metrics: list[str] | None = None,
    confidence: float = 0.95,
    zero_division: float = np.nan,
) -> pd.DataFrame:
    """Every metric of the task on all rows: ``grouped_metrics`` with a single group 0."""
    return grouped_metrics(
        scored,
        np.zeros(scored.n, dtype=np.int64),
        1,
        metrics=metrics,
        confidence=confidence,
        zero_division=zero_division,
    )


def _check_zero_division(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = -1.0
    if not (np.isnan(v) or v in (0.0, 1.0)):
        raise AnalysisError(BAD_ZERO_DIVISION.format(received=value))
    return v


def metric_direction(name: str) -> bool | None:
    """True when higher is better, False when lower is better, None when neither (rates, bias)."""
    metric = METRICS.get(_split(name)[0])
    return None if metric is None else metric.higher_is_better
