"""Consensus methods that hold up on sparse crowds, and labeler trust with intervals.

Full Dawid–Skene (one free confusion matrix per labeler, :func:`explore.labels.crowd.dawid_skene`)
overfits when most labelers give a handful of labels: a labeler with 5 labels gets a 10 x 10 matrix
estimated from 5 numbers. Here:

- :func:`regularised_dawid_skene` — Dawid–Skene with Dirichlet priors on every row of every labeler's
  confusion matrix, centred on a *one-coin* model of that labeler: they are right with their own
  accuracy a_j (itself shrunk toward the crowd's mean accuracy), and their errors on class c follow the
  crowd's pooled error pattern for c. A labeler with few labels gets (nearly) the one-coin model; one
  with hundreds gets their own matrix. The EM is MAP-EM: every M-step adds the prior's pseudo-counts.
- :func:`model_assisted_consensus` — the same EM with each item's prior taken from a model's
  out-of-sample probabilities, tempered by a weight w: prior_i(c) ∝ p_model,i(c)^w · prior(c)^(1-w).
  w is chosen by evidence (the marginal likelihood of the labels, over a grid), so a weak model gets
  little weight and a good one much — the idea of cleanlab's CROWDLAB, in a likelihood model.
- :func:`trust_intervals` — each labeler's accuracy as a Beta posterior (the expected number of right
  labels, shrunk toward the crowd mean by ``shrink`` pseudo-labels) with an equal-tailed interval and
  the number of labels behind it.

The defaults (``DEFAULT_STRENGTH``, ``DEFAULT_SHRINK``) and the choice of the default method come from
``benchmarks/bench_crowd.py`` (simulated sparse crowds; docs/labels.md gives the figures).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy import stats as sps
from scipy.special import logsumexp

from explore.errors import AnalysisError
from explore.labels.crowd import Annotations, Consensus, majority_vote

# Pseudo-labels of the one-coin prior on each row of a labeler's confusion matrix.
DEFAULT_STRENGTH = 10.0
# Pseudo-labels pulling a labeler's accuracy toward the crowd's mean accuracy.
DEFAULT_SHRINK = 5.0
DEFAULT_MAX_ITER = 1_000
DEFAULT_TOL = 1e-5
MODEL_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)

METHOD_REGULARISED = "regularised Dawid–Skene"
METHOD_MODEL = "model-assisted Dawid–Skene"

BAD_PROBA = (
    "The model's probabilities must be one row per annotated item and one column per model class "
    "({n_items} x {n_classes}); received shape {shape}. Score the annotated items with the workspace model."
)


@dataclass(frozen=True)
class _Fit:
    posterior: np.ndarray  # items x used categories
    prior: np.ndarray
    pi: np.ndarray  # labelers x used x used
    accuracy: np.ndarray  # one-coin accuracy per labeler (shrunk)
    n_iter: int
    converged: bool
    evidence: float  # log marginal likelihood of the labels


def _em(
    ann: Annotations,
    used: np.ndarray,
    item_log_prior: np.ndarray | None,
    *,
    strength: float,
    shrink: float,
    max_iter: int,
    tol: float,
    init: np.ndarray | None = None,
) -> _Fit:
    n, nj, ku = ann.n_items, ann.n_labelers, len(used)
    remap = np.full(ann.n_categories, -1, dtype=np.int64)
    remap[used] = np.arange(ku)
    item, lab, lbl = ann.item, ann.labeler, remap[ann.label]
    r = len(item)
    by_item = sparse.csr_matrix((np.ones(r), (item, np.arange(r))), shape=(n, r))
    by_labeler_label = sparse.csr_matrix((np.ones(r), (lab * ku + lbl, np.arange(r))), shape=(nj * ku, r))
    n_j = np.bincount(lab, minlength=nj).astype(np.float64)
    if init is None:
        t = np.zeros((n, ku))
        np.add.at(t, (item, lbl), 1.0)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = init
    eye = np.eye(ku, dtype=bool)
    converged, n_iter = False, 0
    log_post = np.zeros((n, ku))
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        prior = (t.sum(axis=0) + 1.0) / (n + ku)
        cnt = np.asarray(by_labeler_label @ t[item]).reshape(nj, ku, ku).transpose(0, 2, 1)  # [j, true, said]
        right = np.einsum("jcc->j", cnt)
        a_bar = right.sum() / max(n_j.sum(), 1.0)
        acc = (right + shrink * a_bar) / (n_j + shrink)
        errors = cnt.sum(axis=0)
        errors[eye] = 0.0
        errors += 1e-3
        errors[eye] = 0.0
        pattern = errors / errors.sum(axis=1, keepdims=True) if ku > 1 else np.ones((1, 1))
        target = (1.0 - acc)[:, None, None] * pattern[None]
        target[:, eye] = acc[:, None]
        pi = (cnt + strength * target) / (cnt.sum(axis=2, keepdims=True) + strength)
        log_pi = np.log(np.clip(pi, 1e-300, None))
        log_post = np.asarray(by_item @ log_pi[lab, :, lbl])
        log_post += np.log(prior)[None, :] if item_log_prior is None else item_log_prior
        t_new = np.exp(log_post - logsumexp(log_post, axis=1, keepdims=True))
        delta = float(np.abs(t_new - t).max())
        t = t_new
        if delta < tol:
            converged = True
            break
    evidence = float(logsumexp(log_post, axis=1).sum())
    return _Fit(t, prior, pi, acc, n_iter, converged, evidence)


def _consensus_from(
    ann: Annotations, used: np.ndarray, fit: _Fit, method: str, seconds: float, **extra
) -> Consensus:
    n, k, nj = ann.n_items, ann.n_categories, ann.n_labelers
    majority, tie, share = majority_vote(ann.counts)
    posterior = np.zeros((n, k))
    posterior[:, used] = fit.posterior
    confusion = np.zeros((nj, k, k))
    confusion[np.ix_(np.arange(nj), used, used)] = fit.pi
    priors = np.zeros(k)
    priors[used] = fit.prior
    return Consensus(
        label=used[fit.posterior.argmax(axis=1)].astype(np.int64),
        confidence=fit.posterior.max(axis=1),
        posterior=posterior,
        majority=majority,
        tie=tie,
        majority_share=share,
        priors=priors,
        confusion=confusion,
        n_iter=fit.n_iter,
        converged=fit.converged,
        log_likelihood=fit.evidence,
        seconds=seconds,
        method=method,
        **extra,
    )


def _check(strength: float, shrink: float, max_iter: int) -> None:
    if not (strength >= 0 and shrink >= 0):
        raise AnalysisError(
            f"strength and shrink are pseudo-label counts and must be ≥ 0; received {strength!r} and {shrink!r}."
        )
    if max_iter < 1:
        raise AnalysisError(f"max_iter must be at least 1; received {max_iter!r}.")


def regularised_dawid_skene(
    ann: Annotations,
    *,
    strength: float = DEFAULT_STRENGTH,
    shrink: float = DEFAULT_SHRINK,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> Consensus:
    """Dawid–Skene with one-coin Dirichlet priors (see the module docstring): ``strength`` pseudo-labels
    per confusion row, ``shrink`` pseudo-labels on each labeler's accuracy. Stops when no item's
    posterior moves by more than ``tol``; ``converged`` says whether that happened within ``max_iter``."""
    _check(strength, shrink, max_iter)
    start = time.perf_counter()
    used = np.flatnonzero(ann.counts.sum(axis=0) > 0)
    fit = _em(ann, used, None, strength=strength, shrink=shrink, max_iter=max_iter, tol=tol)
    return _consensus_from(ann, used, fit, METHOD_REGULARISED, time.perf_counter() - start)


def model_assisted_consensus(
    ann: Annotations,
    proba: np.ndarray,
    *,
    weights: tuple[float, ...] = MODEL_WEIGHTS,
    strength: float = DEFAULT_STRENGTH,
    shrink: float = DEFAULT_SHRINK,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> Consensus:
    """Regularised Dawid–Skene whose item priors come from a model's out-of-sample ``proba`` (items x the
    model's classes), tempered by the weight in ``weights`` with the highest evidence (the marginal
    likelihood of the labels). ``model_weight`` on the result is the weight chosen (0: the model did not
    help explain the labels). Categories the model does not know keep their class prior."""
    _check(strength, shrink, max_iter)
    km = ann.n_model_classes
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (ann.n_items, km):
        raise AnalysisError(BAD_PROBA.format(n_items=ann.n_items, n_classes=km, shape=proba.shape))
    start = time.perf_counter()
    used = np.flatnonzero(ann.counts.sum(axis=0) > 0)
    base = _em(ann, used, None, strength=strength, shrink=shrink, max_iter=max_iter, tol=tol)
    log_prior = np.log(base.prior)[None, :]
    # The model's probabilities on the used categories; unknown categories keep their prior mass.
    p = np.empty((ann.n_items, len(used)))
    known = used < km
    extra_mass = float(base.prior[~known].sum())
    p[:, known] = np.clip(proba[:, used[known]], 1e-6, 1.0)
    p[:, known] *= (1.0 - extra_mass) / p[:, known].sum(axis=1, keepdims=True)
    p[:, ~known] = base.prior[~known]
    log_model = np.log(p)
    best, best_w, n_iter = base, 0.0, base.n_iter
    for w in weights:
        if w == 0:
            continue
        lp = w * log_model + (1 - w) * log_prior
        lp = lp - logsumexp(lp, axis=1, keepdims=True)
        fit = _em(
            ann, used, lp, strength=strength, shrink=shrink, max_iter=max_iter, tol=tol, init=best.posterior
        )
        n_iter += fit.n_iter
        if fit.evidence > best.evidence:
            best, best_w = fit, float(w)
    fit = _Fit(best.posterior, best.prior, best.pi, best.accuracy, n_iter, best.converged, best.evidence)
    return _consensus_from(ann, used, fit, METHOD_MODEL, time.perf_counter() - start, model_weight=best_w)


@dataclass(frozen=True)
class TrustIntervals:
    """Per labeler: ``estimate`` (posterior mean accuracy), ``low``/``high`` (equal-tailed interval at
    ``confidence``), ``n_labels`` (labels behind it) and ``expected_right`` (their expected right labels
    under the consensus posterior)."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_labels: np.ndarray
    expected_right: np.ndarray
    crowd_mean: float
    confidence: float


def trust_intervals(
    ann: Annotations, cons: Consensus, *, shrink: float = DEFAULT_SHRINK, confidence: float = 0.95
) -> TrustIntervals:
    """Each labeler's accuracy, shrunk toward the crowd mean by ``shrink`` pseudo-labels, with a Beta
    interval: Beta(right + shrink·m, wrong + shrink·m') where right is the expected number of their labels
    that equal the true class under ``cons.posterior`` and m the crowd's mean accuracy. A labeler with
    3 labels gets a wide interval near the mean; one with 300 a narrow one near their own rate."""
    if not 0 < confidence < 1:
        raise AnalysisError(
            f"confidence must be strictly between 0 and 1 (e.g. 0.95); received {confidence!r}."
        )
    from explore.stats.metrics import clamp_interval

    nj = ann.n_labelers
    n_j = np.bincount(ann.labeler, minlength=nj).astype(np.float64)
    right = np.bincount(ann.labeler, weights=cons.posterior[ann.item, ann.label], minlength=nj)
    m = float(right.sum() / max(n_j.sum(), 1.0))
    m = min(max(m, 1e-3), 1 - 1e-3)
    a = right + shrink * m + 1e-9
    b = np.maximum(n_j - right, 0.0) + shrink * (1 - m) + 1e-9
    est = a / (a + b)
    alpha = 1 - confidence
    low, high = sps.beta.ppf(alpha / 2, a, b), sps.beta.ppf(1 - alpha / 2, a, b)
    low, high = clamp_interval(est, low, high)
    return TrustIntervals(est, low, high, n_j.astype(np.int64), right, m, confidence)
