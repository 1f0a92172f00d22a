"""explore/labels/aggregate.py and simulate.py: consensus on sparse crowds (regularised and model-assisted
Dawid–Skene), labeler trust with intervals, majority vote's tie policy, the default method."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from explore.errors import AnalysisError
from explore.labels import aggregate, crowd
from explore.labels.simulate import simulate_crowd


@pytest.fixture(scope="module")
def sparse_crowd():
    return simulate_crowd(1_500, n_labelers=45, seed=7)


@pytest.fixture(scope="module")
def assisted(sparse_crowd):
    return aggregate.model_assisted_consensus(sparse_crowd.ann, sparse_crowd.model_proba)


def _accuracy(cons: crowd.Consensus, truth: np.ndarray) -> float:
    return float((cons.label == truth).mean())


def test_simulated_crowd_is_sparse_like_real_ones(sparse_crowd):
    ann = sparse_crowd.ann
    per_labeler = np.sort(ann.labels_per_labeler)
    assert ann.n_labelers >= 40 and ann.n_categories == 10
    assert per_labeler[-1] > 10 * np.median(per_labeler)  # a few labelers give most labels
    assert ann.n_labels.min() >= 1 and ann.n_labels.max() <= 7
    assert np.nanmin(sparse_crowd.design_accuracy) >= 0.3 and np.nanmax(sparse_crowd.design_accuracy) <= 0.95
    model_acc = (sparse_crowd.model_proba.argmax(axis=1) == sparse_crowd.truth).mean()
    assert 0.65 < model_acc < 0.75


def test_regularised_and_model_assisted_beat_majority_vote_and_full_dawid_skene(sparse_crowd, assisted):
    ann, truth = sparse_crowd.ann, sparse_crowd.truth
    majority, tie, _ = crowd.majority_vote(ann.counts, ties="random")
    mv = float((majority == truth).mean())
    full = crowd.dawid_skene(ann)
    reg = aggregate.regularised_dawid_skene(ann)
    assert reg.converged and assisted.converged
    assert _accuracy(reg, truth) > mv + 0.02
    assert _accuracy(reg, truth) > _accuracy(full, truth)
    assert _accuracy(assisted, truth) > _accuracy(reg, truth) + 0.03
    assert assisted.model_weight > 0
    # Confidence is a probability, and it means something: confident items are right more often.
    for cons in (reg, assisted):
        assert np.all((cons.confidence >= 0.1 - 1e-9) & (cons.confidence <= 1))
        sure = cons.confidence >= 0.9
        assert (cons.label[sure] == truth[sure]).mean() > (cons.label[~sure] == truth[~sure]).mean()
        used = np.flatnonzero(ann.counts.sum(axis=0))
        np.testing.assert_allclose(cons.confusion[:, used][:, :, used].sum(axis=2), 1.0)


def test_a_useless_model_gets_no_weight(sparse_crowd):
    noise = np.random.default_rng(0).dirichlet(np.ones(10), size=sparse_crowd.ann.n_items)
    cons = aggregate.model_assisted_consensus(sparse_crowd.ann, noise)
    reg = aggregate.regularised_dawid_skene(sparse_crowd.ann)
    assert cons.model_weight == 0.0
    np.testing.assert_array_equal(cons.label, reg.label)
    assert "were not used" in crowd.consensus_description(cons)


def test_trust_intervals_cover_true_accuracy_and_rank_labelers(sparse_crowd, assisted):
    ann = sparse_crowd.ann
    t = aggregate.trust_intervals(ann, assisted)
    truth_acc = sparse_crowd.accuracy
    covered = (t.low <= truth_acc) & (truth_acc <= t.high)
    assert covered.mean() >= 0.85
    assert np.all((t.low <= t.estimate) & (t.estimate <= t.high))
    np.testing.assert_array_equal(t.n_labels, ann.labels_per_labeler)
    assert spearmanr(t.estimate, truth_acc).statistic > 0.85
    # Few labels: wider intervals, estimates pulled toward the crowd mean.
    few, many = t.n_labels <= np.quantile(t.n_labels, 0.25), t.n_labels >= np.quantile(t.n_labels, 0.75)
    assert (t.high - t.low)[few].mean() > 2 * (t.high - t.low)[many].mean()
    dist = np.abs(t.estimate - t.crowd_mean)
    assert dist[few].mean() < dist[many].mean()


def test_labeler_trust_table_has_shrunk_accuracy_with_intervals(sparse_crowd):
    ann = sparse_crowd.ann
    cons = crowd.consensus(ann)
    table = crowd.labeler_trust(ann, cons).table
    assert {"accuracy", "accuracy_low", "accuracy_high", "items"} <= set(table.columns)
    assert (table["accuracy_low"] <= table["accuracy"]).all() and (
        table["accuracy"] <= table["accuracy_high"]
    ).all()
    assert table["items"].tolist() == ann.labels_per_labeler.tolist()


def test_consensus_default_is_chosen_by_whether_a_model_is_given():
    sim = simulate_crowd(300, n_labelers=40, seed=2)
    ann = sim.ann
    assert crowd.consensus(ann).method == aggregate.METHOD_REGULARISED
    assisted = crowd.consensus(ann, proba=sim.model_proba)
    assert assisted.method == aggregate.METHOD_MODEL
    assert f"{assisted.model_weight:.2f}" in crowd.consensus_description(assisted)
    assert "best explain the labels" in crowd.consensus_description(assisted)
    assert crowd.consensus(ann, method="dawid_skene").method == "Dawid–Skene"
    with pytest.raises(AnalysisError, match="out-of-sample probabilities"):
        crowd.consensus(ann, method="model_assisted")
    with pytest.raises(AnalysisError, match="method"):
        crowd.consensus(ann, method="glad")
    with pytest.raises(AnalysisError, match="10"):
        aggregate.model_assisted_consensus(ann, sim.model_proba[:, :3])


def test_default_max_iter_converges_or_says_it_did_not():
    sim = simulate_crowd(700, n_labelers=40, seed=3)
    cons = crowd.consensus(sim.ann)
    assert cons.converged and cons.n_iter < aggregate.DEFAULT_MAX_ITER
    short = crowd.consensus(sim.ann, max_iter=2)
    assert not short.converged and short.n_iter == 2
    assert "before converging" in crowd.consensus_description(short)


def test_majority_vote_tie_policies():
    counts = np.array([[2, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 3], [1, 1, 1]])
    label, tie, _ = crowd.majority_vote(counts)
    assert label.tolist() == [0, -1, -1, 2, -1] and tie.tolist() == [False, True, True, False, True]
    # "prior": the tied category given most often over all items (class 2: 5 labels; then 0 and 1: 4 each).
    label, _, _ = crowd.majority_vote(counts, ties="prior")
    assert label.tolist() == [0, 0, 2, 2, 2]
    # "random": always one of the tied categories, each about equally often.
    many = np.repeat(np.array([[1, 1, 0]]), 4000, axis=0)
    label, _, _ = crowd.majority_vote(many, ties="random", seed=1)
    assert set(label.tolist()) == {0, 1} and abs((label == 0).mean() - 0.5) < 0.03
    with pytest.raises(AnalysisError, match="ties"):
        crowd.majority_vote(counts, ties="first")


def test_model_weights_maximise_the_evidence_over_a_grid(sparse_crowd):
    """The gradient search finds what a brute-force grid over (w, v) would (the evidence at the chosen
    weights is at least the evidence at every grid point, for the same confusion matrices)."""
    ann, proba = sparse_crowd.ann, sparse_crowd.model_proba
    d = aggregate._Design.of(ann)
    base = aggregate._em(d, None, strength=10.0, shrink=5.0, max_iter=1000, tol=1e-5)
    km = ann.n_model_classes

    def evidence(w: float, v: float) -> float:
        lp = aggregate.model_log_prior(proba, base.prior, d.used, km, w, v)
        return float(aggregate._lse(base.log_lik + lp).sum())

    log_model = aggregate._log_model(proba, base.prior, d.used, km)
    w, v = aggregate._best_weights(base.log_lik, log_model, np.log(base.prior)[None, :], 5.0, (1.0, 0.0))
    assert 0 < w < 5 and -1 < v < 2
    grid = [(gw, gv) for gw in np.linspace(0, 5, 41) for gv in np.linspace(-1, 2, 31)]
    assert evidence(w, v) >= max(evidence(gw, gv) for gw, gv in grid) - 1e-3
    # v = None is the one-weight form w·log p + (1 − w)·log prior.
    np.testing.assert_allclose(
        aggregate.model_log_prior(proba, base.prior, d.used, km, 0.7),
        aggregate.model_log_prior(proba, base.prior, d.used, km, 0.7, 0.3),
    )
    with pytest.raises(AnalysisError, match="max_weight"):
        aggregate.model_assisted_consensus(ann, proba, max_weight=0)


def test_shrinkage_by_evidence_is_the_beta_binomial_maximum_likelihood():
    """With whole counts, the strength chosen maximises scipy's beta-binomial likelihood (mean fixed)."""
    from scipy.stats import betabinom

    rng = np.random.default_rng(3)
    n = rng.integers(3, 300, 60).astype(float)
    right = rng.binomial(n.astype(int), rng.beta(8, 3, 60)).astype(float)
    m = right.sum() / n.sum()
    s = aggregate.evidence_shrink(right, n, m)
    grid = np.exp(np.linspace(np.log(0.1), np.log(1e4), 400))
    ll = [betabinom.logpmf(right, n, g * m, g * (1 - m)).sum() for g in grid]
    assert betabinom.logpmf(right, n, s * m, s * (1 - m)).sum() >= max(ll) - 1e-6
    # Labelers all alike (same accuracy): strong shrinkage; very different: weak.
    alike = rng.binomial(n.astype(int), 0.8).astype(float)
    assert aggregate.evidence_shrink(alike, n, alike.sum() / n.sum()) > 10 * s


def _direct_trust(ann, cons, j, m, s, confidence=0.95):
    """Labeler j's accuracy posterior computed directly, item by item: the true class's distribution from
    the class prior and the *other* labelers' confusion rows (regularised DS has no item priors), the
    crowd's recall per class and error pattern by explicit loops, the one-coin likelihood with class
    difficulty, the Beta prior, and scipy's quadrature for the mean and the quantiles."""
    from scipy.integrate import quad
    from scipy.optimize import brentq
    from scipy.stats import beta

    k = ann.n_categories
    soft = np.zeros((k, k))
    for i, lbl in zip(ann.item, ann.label, strict=True):
        soft[:, lbl] += cons.posterior[i]
    recall = np.diag(soft) / soft.sum(axis=1)
    difficulty = recall - cons.priors @ recall / cons.priors.sum()
    np.fill_diagonal(soft, 0)
    err = soft / soft.sum(axis=1, keepdims=True)
    terms = []
    for r in np.flatnonzero(ann.labeler == j):
        i, said = ann.item[r], ann.label[r]
        q = cons.priors.copy()
        for r2 in np.flatnonzero((ann.item == i) & (ann.labeler != j)):
            q = q * cons.confusion[ann.labeler[r2], :, ann.label[r2]]
        terms.append((said, q / q.sum()))

    def dens(a):
        rec = np.clip(a + difficulty, 0.01, 0.99)
        lik = [
            q[said] * rec[said] + sum(q[c] * (1 - rec[c]) * err[c, said] for c in range(k) if c != said)
            for said, q in terms
        ]
        return np.prod(lik) * beta.pdf(a, s * m, s * (1 - m))

    kinks = sorted({float(x) for x in np.concatenate([0.01 - difficulty, 0.99 - difficulty]) if 0 < x < 1})

    def integral(f, hi):
        return quad(f, 0, hi, epsabs=0, epsrel=1e-10, limit=400, points=[x for x in kinks if x < hi] or None)[
            0
        ]

    z = integral(dens, 1)
    mean = integral(lambda a: a * dens(a), 1) / z
    tail = (1 - confidence) / 2
    low = brentq(lambda x: integral(dens, x) / z - tail, 1e-9, 1 - 1e-9)
    high = brentq(lambda x: integral(dens, x) / z - 1 + tail, 1e-9, 1 - 1e-9)
    return mean, low, high, difficulty


def test_trust_is_the_beta_posterior_of_a_one_coin_likelihood_computed_directly():
    """On a tiny crowd: the grid posterior's mean and interval equal a direct, item-by-item computation
    with scipy's quadrature (fixed prior strength, the prior mean the crowd's share of right labels)."""
    sim = simulate_crowd(40, n_labelers=6, seed=11)
    ann = sim.ann
    cons = aggregate.regularised_dawid_skene(ann)
    t = aggregate.trust_intervals(ann, cons, shrink=4.0)
    m = float(cons.posterior[ann.item, ann.label].sum() / ann.n_annotations)
    assert t.crowd_mean == pytest.approx(m) and t.shrink == 4.0
    for j in range(ann.n_labelers):
        mean, low, high, difficulty = _direct_trust(ann, cons, j, m, 4.0)
        assert t.estimate[j] == pytest.approx(mean, abs=2e-4), j
        assert t.low[j] == pytest.approx(low, abs=2e-3) and t.high[j] == pytest.approx(high, abs=2e-3), j
    d = aggregate.class_difficulty(ann, cons)
    np.testing.assert_allclose(d, difficulty, atol=1e-12)
    assert cons.priors @ d == pytest.approx(0.0, abs=1e-12)
    # The label is never evidence for itself: the leave-one-out posterior equals the direct one.
    q = aggregate.leave_one_out_posterior(ann, cons)
    r = int(np.flatnonzero(np.bincount(ann.item)[ann.item] > 1)[0])
    direct = cons.priors.copy()
    for r2 in np.flatnonzero((ann.item == ann.item[r]) & (np.arange(ann.n_annotations) != r)):
        direct = direct * cons.confusion[ann.labeler[r2], :, ann.label[r2]]
    np.testing.assert_allclose(q[r], direct / direct.sum(), atol=1e-12)


def test_trust_log_likelihood_equals_a_label_by_label_sum_also_where_recall_is_clipped():
    """accuracy_log_likelihood (blocks of the grid, linear where no recall is clipped) against a plain
    loop over labels of log(q(said)·r_said + Σ_{c≠said} q(c)·(1 − r_c)·e_c(said)), at accuracies near 0
    and 1 (where a + d_c leaves [0.01, 0.99]) and in between."""
    sim = simulate_crowd(300, n_labelers=15, seed=5)
    ann = sim.ann
    cons = aggregate.model_assisted_consensus(ann, sim.model_proba)
    grid = np.array([0.001, 0.05, 0.5, 0.93, 0.999])
    got = aggregate.accuracy_log_likelihood(ann, cons, grid)
    q = aggregate.leave_one_out_posterior(ann, cons)
    d = aggregate.class_difficulty(ann, cons)
    assert np.abs(d).max() > 0.02  # so a + d_c is clipped at 0.001 and 0.999
    k = ann.n_categories
    soft = np.array([[cons.posterior[ann.item[ann.label == s], c].sum() for s in range(k)] for c in range(k)])
    np.fill_diagonal(soft, 0)
    err = soft / soft.sum(axis=1, keepdims=True)
    want = np.zeros_like(got)
    for g, a in enumerate(grid):
        r = np.clip(a + d, 0.01, 0.99)
        for row in range(ann.n_annotations):
            said = ann.label[row]
            wrong = sum(q[row, c] * (1 - r[c]) * err[c, said] for c in range(k) if c != said)
            want[ann.labeler[row], g] += np.log(q[row, said] * r[said] + wrong)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-9)


def test_trust_prior_mean_and_strength_maximise_the_marginal_likelihood(sparse_crowd, assisted):
    """By default the prior's mean and strength are fitted (empirical Bayes): no point of a brute-force
    (mean, strength) grid has a higher marginal likelihood, computed here by scipy's beta densities."""
    from scipy.stats import beta

    ann = sparse_crowd.ann
    t = aggregate.trust_intervals(ann, assisted)
    grid = (np.arange(aggregate.TRUST_GRID) + 0.5) / aggregate.TRUST_GRID
    ll = aggregate.accuracy_log_likelihood(ann, assisted, grid)
    lik = np.exp(ll - ll.max(axis=1, keepdims=True))

    def marginal(m, s):
        w = beta.pdf(grid, s * m, s * (1 - m))
        return float(np.log(lik @ (w / w.sum())).sum())

    best = marginal(t.crowd_mean, t.shrink)
    brute = max(marginal(m, s) for m in np.linspace(0.4, 0.8, 41) for s in np.geomspace(0.5, 200, 41))
    assert best >= brute - 1e-6
    assert 0.4 < t.crowd_mean < 0.8 and 0.5 < t.shrink < 200
    fixed = aggregate.trust_intervals(ann, assisted, shrink=5.0)
    assert fixed.shrink == 5.0
    with pytest.raises(AnalysisError, match="shrink"):
        aggregate.trust_intervals(ann, assisted, shrink=-1.0)


@pytest.mark.slow
def test_trust_intervals_are_calibrated_and_rank_drawn_accuracies_above_majority_agreement():
    """Six simulated 700-item crowds (seeds not used elsewhere): the 95 % intervals cover each labeler's
    true accuracy (their confusion matrix's diagonal weighted by the class shares) about 95 % of the time,
    and the estimate ranks the accuracies labelers were drawn with better, on average, than majority-vote
    agreement (the peer that beat the old estimate on one crowd in benchmarks/bench_crowd.py)."""
    covered, rho, rho_mv = [], [], []
    for seed in range(500, 506):
        sim = simulate_crowd(700, n_labelers=50, seed=seed)
        a = sim.ann
        cons = aggregate.model_assisted_consensus(a, sim.model_proba)
        t = aggregate.trust_intervals(a, cons)
        shares = np.bincount(sim.truth, minlength=a.n_categories) / len(sim.truth)
        true_acc = np.einsum("jcc,c->j", sim.confusion, shares)
        covered.append((t.low <= true_acc) & (true_acc <= t.high))
        label, _, _ = crowd.majority_vote(a.counts, ties="random")
        agree = np.bincount(a.labeler, weights=(a.label == label[a.item]).astype(float), minlength=50)
        rho.append(spearmanr(t.estimate, sim.design_accuracy).statistic)
        rho_mv.append(spearmanr(agree / a.labels_per_labeler, sim.design_accuracy).statistic)
    coverage = np.concatenate(covered).mean()
    assert 0.90 <= coverage <= 0.99, coverage
    assert np.mean(rho) > np.mean(rho_mv) + 0.05


def test_consensus_queue_ranks_by_the_consensus_confidence(sparse_crowd, assisted):
    """review="consensus" with the default weight: the score is 1 − the model-assisted consensus's
    confidence (the queue score that ranked wrong consensus labels best in benchmarks/bench_crowd.py)."""
    ann, sim = sparse_crowd.ann, sparse_crowd
    probs = crowd.ItemProbabilities(
        proba=sim.model_proba,
        pred=sim.model_proba.argmax(axis=1),
        method="columns",
        model=None,
        description="simulated",
        seconds=0.0,
    )
    q = crowd.rank_queue(ann, assisted, probs, review="consensus").frame
    score = q["score"].to_numpy()
    expected = 1 - assisted.confidence[q["item"].to_numpy()]
    assert spearmanr(score, expected).statistic > 0.99
    top = q["item"].to_numpy()[:50]
    wrong = assisted.label != sim.truth
    # The first 50 hold far more wrong consensus labels than the base rate.
    assert wrong[top].mean() > 3 * wrong.mean()


def test_regularised_em_over_label_patterns_equals_item_by_item():
    """With few labelers, EM runs over distinct label patterns weighted by their items: the same
    posteriors, iterations and evidence as running item by item (as crowd.dawid_skene does)."""
    sim = simulate_crowd(3_000, n_labelers=4, labels_per_item=(1, 4), seed=2)
    it = {"strength": 10.0, "shrink": 5.0, "max_iter": 1000, "tol": 1e-9}
    packed = aggregate._Design.of(sim.ann, compress=True)
    by_item = aggregate._Design.of(sim.ann)
    assert len(packed.weight) < sim.ann.n_items / 2
    a, b = aggregate._em(packed, None, **it), aggregate._em(by_item, None, **it)
    np.testing.assert_allclose(a.posterior[packed.inverse], b.posterior, atol=1e-12)
    assert a.n_iter == b.n_iter and a.evidence == pytest.approx(b.evidence, rel=1e-12)
    np.testing.assert_allclose(a.pi, b.pi, atol=1e-12)
    cons = aggregate.regularised_dawid_skene(sim.ann)
    np.testing.assert_array_equal(cons.label, by_item.used[b.posterior.argmax(axis=1)])


def test_a_binary_crowd_can_be_simulated_and_its_consensus_beats_majority_vote():
    """Found writing a chart test for a binary sparse crowd (spam / ham): simulate_crowd(n_classes=2) raised
    ValueError ("Cannot take a larger sample than population") — it drew up to two confusable neighbours of a
    class that has one. A binary crowd draws its one neighbour; larger tasks draw as before (same seeds)."""
    sim = simulate_crowd(1_000, n_labelers=40, n_classes=2, seed=4)
    assert sim.ann.n_categories == 2 and set(np.unique(sim.truth)) == {0, 1}
    cons = aggregate.regularised_dawid_skene(sim.ann)
    majority, _, _ = crowd.majority_vote(sim.ann.counts, ties="random")
    assert _accuracy(cons, sim.truth) >= float((majority == sim.truth).mean())
    assert simulate_crowd(300, n_labelers=40, seed=2).ann.n_labels.sum() == 815  # a 10-class draw, unchanged
