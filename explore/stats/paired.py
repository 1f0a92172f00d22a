"""Paired statistics: two models scored on the same rows, compared row by row.

* ``mcnemar_pvalue(b, c)``: exact McNemar test (mid-p by default) from the discordant counts, with
  ``agresti_min`` the interval for the difference of two paired proportions (accuracy, recall);
* ``delong_paired(y, score_a, score_b)``: paired DeLong test of two ROC AUCs (Sun & Xu's midrank
  algorithm), and ``grouped_delong`` the same for every group of rows at once (vectorised);
* ``grouped_midrank(codes, values)``: midranks within groups;
* ``z_value(confidence)`` and ``check_confidence(confidence)``: the normal critical value and the range a
  comparison's confidence level must lie in.

The Checks' model comparison and simple baseline build on these (``explore/checks/compare.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from explore.errors import AnalysisError

BAD_CONFIDENCE = "The confidence level must be between 0.5 and 0.999 (e.g. 0.95); received {received!r}."


def z_value(confidence: float) -> float:
    """The two-sided normal critical value for ``confidence`` (1.96 at 0.95)."""
    return float(stats.norm.ppf(0.5 + confidence / 2))


def check_confidence(confidence: float) -> float:
    """``confidence`` as a float; ``AnalysisError`` unless it is a number from 0.5 to 0.999."""
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0.5 <= confidence <= 0.999
    ):
        raise AnalysisError(BAD_CONFIDENCE.format(received=confidence))
    return float(confidence)


def mcnemar_pvalue(b: int, c: int, *, mid_p: bool = True) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    ``mid_p`` (default) subtracts the probability of the observed table once from the exact p-value,
    which removes most of the exact test's conservatism (Fagerland, Lydersen & Laake 2013). ``mid_p=False`` is the classic exact test (statsmodels'
    ``mcnemar(exact=True)``). Returns 1.0 when there are no discordant rows.
    """
    b, c = int(b), int(c)
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    exact = min(1.0, 2.0 * float(stats.binom.cdf(k, n, 0.5)))
    if not mid_p:
        return exact
    return float(min(1.0, max(0.0, exact - float(stats.binom.pmf(k, n, 0.5)))))


def agresti_min(b: np.ndarray, c: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Agresti–Min (2005) interval for p_a − p_b of paired proportions: add ½ to each cell of the 2×2 table."""
    b2, c2, n2 = b + 0.5, c + 0.5, n + 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (b2 - c2) / n2
        se = np.sqrt(np.maximum((b2 + c2) - (b2 - c2) ** 2 / n2, 0.0)) / n2
    return np.clip(d - z * se, -1, 1), np.clip(d + z * se, -1, 1)


def grouped_midrank(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Midrank (1-based, ties averaged) of each row's value among the rows of its group (code ≥ 0)."""
    out = np.full(len(values), np.nan)
    keep = np.flatnonzero(codes >= 0)
    if not len(keep):
        return out
    order = keep[np.lexsort((values[keep], codes[keep]))]
    g, v = codes[order], values[order]
    m = len(order)
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_block = new_group | np.r_[True, v[1:] != v[:-1]]
    block_start = np.flatnonzero(new_block)
    block_end = np.r_[block_start[1:], m]
    block_id = np.cumsum(new_block) - 1
    group_start = np.flatnonzero(new_group)[np.cumsum(new_group) - 1]
    mid = (block_start[block_id] + block_end[block_id] - 1) / 2.0 - group_start + 1.0
    out[order] = mid
    return out


@dataclass(frozen=True)
class DeLongResult:
    """Paired DeLong test of two ROC AUCs on the same rows. ``diff`` = auc_a − auc_b, ``se`` its standard error."""

    auc_a: float
    auc_b: float
    var_a: float
    var_b: float
    cov: float
    n_pos: int
    n_neg: int

    @property
    def diff(self) -> float:
        return self.auc_a - self.auc_b

    @property
    def se(self) -> float:
        return math.sqrt(max(self.var_a + self.var_b - 2 * self.cov, 0.0))

    @property
    def p_value(self) -> float:
        if self.se == 0:
            return 1.0 if self.diff == 0 else 0.0
        return float(2 * stats.norm.sf(abs(self.diff) / self.se))


def _placements(
    codes: np.ndarray, G: int, is_pos: np.ndarray, score: np.ndarray, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """DeLong placement values per row, within each group (code ≥ 0): for a positive, the share of the
    group's negatives scored below it (ties count ½); for a negative, the share of positives scored above.

    ``order`` is an argsort of ``score`` (reused across groupings); rows are then stably sorted by group,
    so the work per grouping is one integer sort and a few bincounts over tie blocks.
    """
    n = len(score)
    v10 = np.full(n, np.nan)
    v01 = np.full(n, np.nan)
    if order is None:
        order = np.argsort(score, kind="stable")
    order = order[codes[order] >= 0]
    if not len(order):
        return v10, v01
    g_small = codes[order].astype(np.int16 if G < 2**15 else np.int64)
    order = order[np.argsort(g_small, kind="stable")]
    g, v, pos = codes[order], score[order], is_pos[order]
    m = len(order)
    new = np.empty(m, dtype=bool)
    new[0] = True
    new[1:] = (g[1:] != g[:-1]) | (v[1:] != v[:-1])
    block = np.cumsum(new) - 1
    pos_b = np.bincount(block, weights=pos)
    neg_b = np.bincount(block).astype("float64") - pos_b
    grp_b = g[new]
    n_pos = np.bincount(g, weights=pos, minlength=G)[:G]
    n_neg = np.bincount(g, minlength=G)[:G] - n_pos
    # Exclusive cumulative counts restarted at each group: rows of the group with a lower score.
    cpos, cneg = np.cumsum(pos_b) - pos_b, np.cumsum(neg_b) - neg_b
    first = np.flatnonzero(np.r_[True, grp_b[1:] != grp_b[:-1]])
    start_pos, start_neg = np.zeros(G), np.zeros(G)
    start_pos[grp_b[first]], start_neg[grp_b[first]] = cpos[first], cneg[first]
    pos_less, neg_less = cpos - start_pos[grp_b], cneg - start_neg[grp_b]
    with np.errstate(invalid="ignore", divide="ignore"):
        b10 = (neg_less + 0.5 * neg_b) / n_neg[grp_b]
        b01 = (n_pos[grp_b] - pos_less - pos_b + 0.5 * pos_b) / n_pos[grp_b]
    row10, row01 = b10[block], b01[block]
    v10[order[pos]] = row10[pos]
    v01[order[~pos]] = row01[~pos]
    return v10, v01


def grouped_delong(
    codes: np.ndarray,
    G: int,
    is_pos: np.ndarray,
    score_a: np.ndarray,
    score_b: np.ndarray,
    orders: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> dict[str, np.ndarray]:
    """Per-group paired DeLong: AUCs, variances and covariance from placement values (vectorised)."""
    keep = codes >= 0
    pc, nc = codes[keep & is_pos], codes[keep & ~is_pos]
    n_pos = np.bincount(pc, minlength=G)[:G].astype("float64")
    n_neg = np.bincount(nc, minlength=G)[:G].astype("float64")
    place = {}
    for name, s, order in (("a", score_a, orders[0]), ("b", score_b, orders[1])):
        v10, v01 = _placements(codes, G, is_pos, s, order)
        place[name] = (v10[keep & is_pos], v01[keep & ~is_pos])

    def mean(values: np.ndarray, idx: np.ndarray, n: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(idx, weights=values, minlength=G)[:G] / n

    def cov(x: np.ndarray, y: np.ndarray, idx: np.ndarray, n: np.ndarray) -> np.ndarray:
        mx, my = mean(x, idx, n), mean(y, idx, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.bincount(idx, weights=(x - mx[idx]) * (y - my[idx]), minlength=G)[:G]
            return s / (n - 1)

    (a10, a01), (b10, b01) = place["a"], place["b"]
    auc_a, auc_b = mean(a10, pc, n_pos), mean(b10, pc, n_pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_a = cov(a10, a10, pc, n_pos) / n_pos + cov(a01, a01, nc, n_neg) / n_neg
        var_b = cov(b10, b10, pc, n_pos) / n_pos + cov(b01, b01, nc, n_neg) / n_neg
        cov_ab = cov(a10, b10, pc, n_pos) / n_pos + cov(a01, b01, nc, n_neg) / n_neg
    ok = (n_pos > 1) & (n_neg > 1)
    nan = np.full(G, np.nan)
    both = (n_pos > 0) & (n_neg > 0)
    return {
        "auc_a": np.where(both, auc_a, np.nan),
        "auc_b": np.where(both, auc_b, np.nan),
        "var_a": np.where(ok, var_a, nan),
        "var_b": np.where(ok, var_b, nan),
        "cov": np.where(ok, cov_ab, nan),
        "n_pos": n_pos,
        "n_neg": n_neg,
    }


def delong_paired(y_true: np.ndarray, score_a: np.ndarray, score_b: np.ndarray) -> DeLongResult:
    """Paired DeLong test for two scores of the same rows; ``y_true`` is boolean (True = positive)."""
    y = np.asarray(y_true).astype(bool)
    a = np.asarray(score_a, dtype="float64")
    b = np.asarray(score_b, dtype="float64")
    r = grouped_delong(np.zeros(len(y), dtype=np.int64), 1, y, a, b)
    return DeLongResult(
        auc_a=float(r["auc_a"][0]),
        auc_b=float(r["auc_b"][0]),
        var_a=float(r["var_a"][0]),
        var_b=float(r["var_b"][0]),
        cov=float(r["cov"][0]),
        n_pos=int(r["n_pos"][0]),
        n_neg=int(r["n_neg"][0]),
    )
