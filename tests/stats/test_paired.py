"""explore/stats/paired.py: paired tests of two models on the same rows, cross-checked against statsmodels,
scipy, scikit-learn and the O(m·n) definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from explore.errors import AnalysisError
from explore.stats import paired


@pytest.mark.parametrize(
    "table", [[[10, 3], [9, 20]], [[50, 0], [4, 30]], [[5, 12], [12, 5]], [[100, 40], [18, 2]]]
)
def test_mcnemar_exact_agrees_with_statsmodels(table):
    from statsmodels.stats.contingency_tables import mcnemar

    t = np.asarray(table)
    expected = mcnemar(t, exact=True).pvalue
    assert paired.mcnemar_pvalue(t[0, 1], t[1, 0], mid_p=False) == pytest.approx(expected, rel=1e-12)
    # mid-p: the exact p-value minus the probability of the observed table once.
    k, n = min(t[0, 1], t[1, 0]), t[0, 1] + t[1, 0]
    assert paired.mcnemar_pvalue(t[0, 1], t[1, 0]) == pytest.approx(
        min(1, expected) - stats.binom.pmf(k, n, 0.5)
    )
    assert paired.mcnemar_pvalue(0, 0) == 1.0


def _delong_naive(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """DeLong et al. (1988) structural components by the O(m·n) definition: (auc_a, auc_b, var of a − b)."""
    pos, neg = y == 1, y == 0
    comps = []
    for s in (a, b):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)
        comps.append((psi.mean(axis=1), psi.mean(axis=0), psi.mean()))
    (a10, a01, auc_a), (b10, b01, auc_b) = comps
    s10 = np.cov(np.vstack([a10, b10]))
    s01 = np.cov(np.vstack([a01, b01]))
    L = np.array([1, -1])
    var = L @ s10 @ L / pos.sum() + L @ s01 @ L / neg.sum()
    return auc_a, auc_b, var


def test_delong_paired_matches_definition_and_sklearn():
    rng = np.random.default_rng(3)
    y = (rng.random(300) < 0.4).astype(int)
    a = np.round(y * 0.8 + rng.normal(size=300), 1)  # rounding makes ties
    b = y * 0.5 + rng.normal(size=300)
    res = paired.delong_paired(y.astype(bool), a, b)
    auc_a, auc_b, var = _delong_naive(y, a, b)
    assert res.auc_a == pytest.approx(roc_auc_score(y, a)) == pytest.approx(auc_a)
    assert res.auc_b == pytest.approx(roc_auc_score(y, b))
    assert res.se**2 == pytest.approx(var, rel=1e-9)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(abs(auc_a - auc_b) / np.sqrt(var)))
    # Identical scores: no difference, p = 1.
    same = paired.delong_paired(y.astype(bool), a, a)
    assert same.diff == 0 and same.p_value == 1.0


def test_grouped_midrank_equals_rankdata_within_each_group():
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 4, 500)
    values = rng.integers(0, 20, 500).astype(float)
    ranks = paired.grouped_midrank(codes, values)
    for g in range(4):
        m = codes == g
        np.testing.assert_allclose(ranks[m], stats.rankdata(values[m]))
    assert np.isnan(ranks[codes == -1]).all()


def test_confidence_levels_and_critical_values():
    assert paired.z_value(0.95) == pytest.approx(1.959964, rel=1e-6)
    assert paired.check_confidence(0.9) == 0.9 and isinstance(paired.check_confidence(1 - 0.5), float)
    for bad in (0.3, 1.0, True, "0.95"):
        with pytest.raises(AnalysisError, match="between 0.5 and 0.999"):
            paired.check_confidence(bad)


def test_agresti_min_interval_contains_the_paired_difference():
    b, c, n = np.array([12.0, 0.0]), np.array([4.0, 0.0]), np.array([100.0, 50.0])
    lo, hi = paired.agresti_min(b, c, n, paired.z_value(0.95))
    assert (lo < (b - c) / n).all() and ((b - c) / n < hi).all() and (lo >= -1).all() and (hi <= 1).all()
