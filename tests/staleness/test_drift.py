"""Drift per feature (explore/staleness/drift.py): PSI by hand, KS/JS/chi-square against scipy, tracking, invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from explore.errors import AnalysisError
from explore.staleness.charts import bucket_chart
from explore.staleness.drift import (
    MISSING,
    PSI_EPS,
    TOO_FEW_FOR_TRACKING,
    UNSEEN,
    InvariantThresholds,
    bucket_shares,
    chi2_pvalue,
    data_invariants,
    distinct_counts,
    drift_by_window,
    drift_metric_tracking,
    js_from_counts,
    ks_by_window,
    ks_distance_sorted,
    ks_pvalue,
    psi,
    quantile_edges,
    reference_profile,
)


def _hand_psi(p: list[float], q: list[float], eps: float = PSI_EPS) -> float:
    total = 0.0
    for a, b in zip(p, q, strict=True):
        a, b = (a or eps), (b or eps)
        total += (b - a) * math.log(b / a)
    return total


def test_psi_equals_a_hand_computation_on_small_numeric_data():
    ref = np.arange(1, 11, dtype=float)  # deciles: one value per bin
    cur = np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 20], dtype=float)  # 20 is outside the reference range
    # buckets: 10 bins, unseen, missing
    p = [0.1] * 10 + [0.0, 0.0]
    q = [0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0] + [0.1, 0.0]
    assert psi(ref, cur) == pytest.approx(_hand_psi(p, q), rel=1e-12)


def test_psi_equals_a_hand_computation_on_categories_with_unseen_and_missing():
    ref = pd.Series(["a"] * 5 + ["b"] * 3 + ["c"] * 2)
    cur = pd.Series(["a"] * 4 + ["b"] * 2 + ["z"] * 2 + [None] * 2)  # 'z' unseen, 2 missing, 'c' gone
    # buckets in reference frequency order: a, b, c, other, unseen, missing
    p = [0.5, 0.3, 0.2, 0.0, 0.0, 0.0]
    q = [0.4, 0.2, 0.0, 0.0, 0.2, 0.2]
    assert psi(ref, cur) == pytest.approx(_hand_psi(p, q), rel=1e-12)


def test_psi_is_zero_for_identical_distributions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    x[::17] = np.nan
    assert psi(x, x) == 0.0
    assert psi(x, rng.permutation(x)) == 0.0
    c = pd.Series(rng.choice(["u", "v", "w", None], size=1000))
    assert psi(c, c.sample(frac=1.0, random_state=1)) == 0.0


def test_duplicate_quantile_edges_are_merged():
    ref = np.array([0.0] * 60 + [1.0, 2.0, 3.0, 4.0] * 10)
    edges = quantile_edges(ref)
    assert list(edges) == sorted(set(edges))
    assert edges[0] == 0.0 and edges[-1] == 4.0
    prof = reference_profile(pd.DataFrame({"x": ref}), features=["x"]).features["x"]
    assert len(prof.buckets) == len(edges) - 1 + 2
    assert prof.buckets[-2:] == [UNSEEN, MISSING]
    assert prof.ref_counts.sum() == len(ref)
    assert prof.ref_counts[0] == 60  # every zero in the first (closed) bin


def test_constant_reference_has_one_bin_and_everything_else_is_unseen():
    ref = pd.DataFrame({"x": [5.0] * 20})
    prof = reference_profile(ref, features=["x"]).features["x"]
    assert len(prof.buckets) == 3
    cur = pd.DataFrame({"x": [5.0, 6.0, np.nan, 5.0]})
    res = drift_by_window(reference_profile(ref, features=["x"]), cur, np.zeros(4, dtype=int), 1)
    np.testing.assert_array_equal(res.counts["x"][0], [2, 1, 1])


def test_ks_distance_equals_scipy_including_ties():
    rng = np.random.default_rng(2)
    for trial in range(50):
        a = (
            rng.integers(0, 6, rng.integers(1, 80)).astype(float)
            if trial % 2
            else rng.normal(size=rng.integers(1, 80))
        )
        b = (
            rng.integers(0, 7, rng.integers(1, 80)).astype(float)
            if trial % 2
            else rng.normal(0.4, size=rng.integers(1, 80))
        )
        expected = stats.ks_2samp(a, b, method="asymp")
        d = ks_distance_sorted(np.sort(a), np.sort(b))
        assert d == pytest.approx(expected.statistic, abs=1e-12)
        assert ks_pvalue(d, len(a), len(b)) == pytest.approx(expected.pvalue, abs=1e-12)


def test_ks_per_window_equals_scipy_for_every_window():
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": np.round(rng.normal(size=400), 1)})
    cur = pd.DataFrame({"x": np.round(rng.normal(0.3, 1.2, size=900), 1)})
    cur.loc[rng.random(900) < 0.05, "x"] = np.nan
    codes = rng.integers(-1, 5, 900)  # not in time order, some rows outside every window
    res = drift_by_window(reference_profile(ref, features=["x"]), cur, codes, 6)
    t = res.table.set_index("window")
    for w in range(5):
        x = cur["x"][(codes == w)].dropna()
        expected = stats.ks_2samp(ref["x"], x, method="asymp")
        assert t.loc[w, "ks"] == pytest.approx(expected.statistic, abs=1e-12)
        assert t.loc[w, "p_value"] == pytest.approx(expected.pvalue, abs=1e-12)
        assert t.loc[w, "distance"] == t.loc[w, "ks"]
    assert np.isnan(t.loc[5, "ks"]) and t.loc[5, "rows"] == 0  # empty window kept, NaN measures


@pytest.mark.parametrize("path", ["counting", "chunked", "sorting"])
@pytest.mark.parametrize("kind", ["integers", "rounded", "continuous", "infinite"])
def test_ks_by_window_equals_scipy_on_every_path(monkeypatch, path, kind):
    import explore.staleness.drift as drift

    if path == "chunked":
        monkeypatch.setattr(drift, "KS_CHUNK_CELLS", 50)  # a few windows per chunk
    if path == "sorting":
        monkeypatch.setattr(drift, "KS_MAX_SLOTS", 1)  # the fallback for millions of distinct values
    rng = np.random.default_rng(4)
    if kind == "integers":
        ref, values = rng.integers(0, 10, 300).astype(float), rng.integers(-2, 12, 500).astype(float)
        values[::7] = 3.5  # off the integer grid
    elif kind == "rounded":
        ref, values = np.round(rng.normal(size=300), 1), np.round(rng.normal(0.3, 1, 500), 1)
    else:
        ref, values = rng.normal(size=300), rng.normal(0.3, 1, 500)
    if kind == "infinite":
        ref[:5], values[:10], values[10:15] = -np.inf, np.inf, -np.inf
    values[rng.random(500) < 0.1] = np.nan
    codes = rng.integers(-1, 6, 500)
    ks, m = ks_by_window(distinct_counts(ref), values, codes, 7)
    for w in range(6):
        x = values[(codes == w) & ~np.isnan(values)]
        assert ks[w] == pytest.approx(stats.ks_2samp(ref, x).statistic, abs=1e-14)
        assert m[w] == x.size
    assert np.isnan(ks[6]) and m[6] == 0


def test_profile_edges_equal_numpy_quantiles():
    rng = np.random.default_rng(9)
    for x in (
        rng.normal(size=1001),
        rng.integers(0, 5, 999).astype(float),
        np.r_[rng.exponential(size=500), [-np.inf, np.inf]],
    ):
        prof = reference_profile(pd.DataFrame({"x": x}), features=["x"]).features["x"]
        np.testing.assert_array_equal(prof.edges, quantile_edges(x))
        finite = x[np.isfinite(x)]
        assert prof.low == finite.min() and prof.high == finite.max()
        assert prof.n_present == x.size


def test_large_samples_use_the_limiting_distribution_close_to_scipy():
    d, n, m = 0.012, 400_000, 40_000
    en = round(n * m / (n + m))
    assert ks_pvalue(d, n, m) == pytest.approx(stats.kstwo.sf(d, en), rel=0.02)


def test_js_and_chi_square_equal_scipy():
    rng = np.random.default_rng(5)
    ref_counts = rng.integers(0, 50, 8)
    cur_counts = rng.integers(0, 50, 8)
    assert js_from_counts(ref_counts, cur_counts) == pytest.approx(
        jensenshannon(ref_counts, cur_counts, base=2), abs=1e-12
    )
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    assert chi2_pvalue(ref_counts, cur_counts) == pytest.approx(
        stats.chi2_contingency(table, correction=False).pvalue, rel=1e-12
    )


def _windows_frame(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Reference + 6 windows; 'price' shifts steadily, 'color' gains an unseen category, 'noise' is stable."""
    rng = np.random.default_rng(seed)
    n_ref, n_w, per = 3000, 6, 800
    ref = pd.DataFrame(
        {
            "price": rng.normal(50, 10, n_ref),
            "noise": rng.normal(0, 1, n_ref),
            "color": rng.choice(["red", "blue"], n_ref),
        }
    )
    codes = np.repeat(np.arange(n_w), per)
    shift = codes * 4.0
    cur = pd.DataFrame(
        {
            "price": rng.normal(50, 10, n_w * per) + shift,
            "noise": rng.normal(0, 1, n_w * per),
            "color": np.where(
                rng.random(n_w * per) < codes * 0.05, "green", rng.choice(["red", "blue"], n_w * per)
            ),
        }
    )
    return ref, cur, codes


def test_drift_matrix_ranks_the_planted_feature_first():
    ref, cur, codes = _windows_frame()
    prof = reference_profile(ref, features=["price", "noise", "color"])
    res = drift_by_window(prof, cur, codes, 6)
    m = res.matrix("psi")
    assert list(m.index) == ["price", "noise", "color"] and list(m.columns) == list(range(6))
    assert m.loc["price"].is_monotonic_increasing
    assert m.loc["noise"].max() < 0.05
    top = res.top_features()
    assert top["feature"].iloc[0] == "price"
    assert set(top.columns) >= {"feature", "kind", "max_psi", "mean_psi", "last_psi", "worst_window"}
    t = res.table.set_index(["feature", "window"])
    # unseen share of the categorical feature follows the planted share of 'green'
    assert t.loc[("color", 5), "unseen_share"] == pytest.approx(0.25, abs=0.05)
    assert t.loc[("color", 0), "unseen_share"] == 0.0
    assert (
        np.isnan(t.loc[("color", 3), "ks"]) and t.loc[("color", 3), "distance"] == t.loc[("color", 3), "js"]
    )
    buckets = bucket_shares(res, "color", 5)
    shares = buckets.to_frame()
    assert (buckets.feature, buckets.window) == ("color", 5)
    assert shares["reference"].sum() == pytest.approx(1.0) and shares["current"].sum() == pytest.approx(1.0)
    spec = bucket_chart(buckets, window_label="June").to_dict()
    assert spec["title"] == "color: reference vs June"
    drawn = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    for data in ("reference", "current"):  # every bucket either share fills, with its share
        expected = shares[(shares["reference"] > 0) | (shares["current"] > 0)].set_index("bucket")[data]
        got = drawn[drawn["data"] == data].set_index("bucket")["share"]
        pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)


def test_drift_tracks_the_metric_with_scipy_correlations():
    ref, cur, codes = _windows_frame()
    res = drift_by_window(reference_profile(ref, features=["price", "noise", "color"]), cur, codes, 6)
    auc = pd.Series([0.90, 0.88, 0.85, 0.83, 0.80, 0.76])  # falls as price drifts
    tracking = drift_metric_tracking(res, auc, higher_is_better=True)
    assert tracking["feature"].iloc[0] in ("price", "color")
    row = tracking.set_index("feature").loc["price"]
    x = res.matrix("psi").loc["price"].to_numpy()
    assert row["spearman"] == pytest.approx(stats.spearmanr(x, -auc.to_numpy()).statistic)
    assert row["pearson"] == pytest.approx(stats.pearsonr(x, -auc.to_numpy()).statistic)
    assert row["n_windows"] == 6
    # lower-is-better metrics flip the direction
    flipped = drift_metric_tracking(res, -auc, higher_is_better=False).set_index("feature")
    assert flipped.loc["price", "spearman"] == pytest.approx(row["spearman"])


def test_drift_tracking_needs_enough_windows():
    ref, cur, codes = _windows_frame()
    res = drift_by_window(reference_profile(ref, features=["price"]), cur, codes, 6)
    with pytest.raises(AnalysisError) as exc:
        drift_metric_tracking(res, pd.Series([0.9, 0.8, 0.7]), higher_is_better=True)
    assert str(exc.value) == TOO_FEW_FOR_TRACKING.format(need=4, n=3)


def test_reference_problems_give_messages():
    ref = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(AnalysisError, match="not in the reference"):
        reference_profile(ref, features=["a", "b"])
    with pytest.raises(AnalysisError, match="at least one feature"):
        reference_profile(ref, features=[])
    with pytest.raises(AnalysisError, match="has no rows"):
        reference_profile(ref.iloc[:0], features=["a"])


def test_invariants_flag_the_windows_that_break_thresholds():
    rng = np.random.default_rng(6)
    ref = pd.DataFrame(
        {"x": rng.uniform(0, 10, 500), "c": rng.choice(["a", "b"], 500), "y": rng.normal(size=500)}
    )
    n = 400
    codes = np.repeat(np.arange(4), 100)
    cur = pd.DataFrame(
        {"x": rng.uniform(0, 10, n), "c": rng.choice(["a", "b"], n).astype(object), "y": rng.normal(size=n)}
    )
    cur.loc[100:129, "x"] = 25.0  # window 1: 30 % out of range
    cur.loc[200:219, "c"] = None  # window 2: 20 % nulls
    cur.loc[300:304, "c"] = "new"  # window 3: 5 % unseen category
    cur.loc[305, "y"] = np.inf  # window 3: an inf input
    proba = np.full((n, 2), 0.5)
    proba[10, 0] = np.nan  # window 0: a NaN model output
    prof = reference_profile(ref, features=["x", "c", "y"])
    inv = data_invariants(
        prof, cur, codes, 4, outputs=[proba], output_codes=codes, thresholds=InvariantThresholds()
    )
    w = inv.by_window.set_index("window")
    x1 = cur["x"][codes == 1]
    expected_oor = ((x1 < ref["x"].min()) | (x1 > ref["x"].max())).mean()
    assert expected_oor >= 0.30
    assert (
        w.loc[1, "max_out_of_range"] == pytest.approx(expected_oor)
        and w.loc[1, "out_of_range_feature"] == "x"
    )
    assert w.loc[2, "max_null_increase"] == pytest.approx(0.20) and w.loc[2, "null_feature"] == "c"
    assert w.loc[3, "max_unseen"] == pytest.approx(5 / 100) and w.loc[3, "unseen_feature"] == "c"
    assert w.loc[3, "inf_inputs"] == 1 and w.loc[0, "nan_outputs"] == 1
    assert list(w["flagged"]) == [True, True, True, True]
    assert "NaN/inf in outputs" in w.loc[0, "breaks"] and "out of range: x" in w.loc[1, "breaks"]
    # looser thresholds clear the windows
    loose = InvariantThresholds(
        null_increase=0.5, out_of_range=0.5, unseen=0.5, nonfinite_inputs=5, nonfinite_outputs=5
    )
    inv2 = data_invariants(prof, cur, codes, 4, outputs=[proba], output_codes=codes, thresholds=loose)
    assert not inv2.by_window["flagged"].any()
    bf = inv.by_feature.set_index(["window", "feature"])
    assert bf.loc[(2, "c"), "n_nan"] == 20 and bf.loc[(3, "y"), "n_inf"] == 1
    assert np.isnan(bf.loc[(0, "c"), "out_of_range"]) and np.isnan(bf.loc[(0, "x"), "unseen"])


def test_string_numbers_and_booleans_are_handled():
    ref = pd.DataFrame({"flag": [True, False] * 50, "code": ["1", "2"] * 50})
    cur = pd.DataFrame({"flag": [True] * 100, "code": ["1", "3"] * 50})
    res = drift_by_window(reference_profile(ref, features=["flag", "code"]), cur, np.zeros(100, dtype=int), 1)
    t = res.table.set_index("feature")
    assert t.loc["flag", "kind"] == "categorical" and t.loc["flag", "psi"] > 0.25
    assert t.loc["code", "unseen_share"] == pytest.approx(0.5)
