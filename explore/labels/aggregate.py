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
  out-of-sample probabilities, tempered: prior_i(c) ∝ p_model,i(c)^w · prior(c)^v. w and v are chosen
  by evidence (the marginal likelihood of the labels, maximised with its exact gradient), so a weak
  model gets little weight and a good one much — the idea of cleanlab's CROWDLAB, in a likelihood model.
- :func:`trust_intervals` — each labeler's accuracy as a posterior: a one-coin likelihood of their
  labels judged against everyone else's evidence (never against the label itself), under a Beta prior of
  the crowd's accuracies whose mean and strength are fitted by empirical Bayes; an equal-tailed interval
  and the number of labels behind it.

The defaults (``DEFAULT_STRENGTH``, ``DEFAULT_SHRINK``) and the choice of the default method come from
``benchmarks/bench_crowd.py`` (simulated sparse crowds; docs/labels.md gives the figures).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy import stats as sps

from explore.errors import AnalysisError
from explore.labels.crowd import Annotations, Consensus, _label_patterns, fitted_consensus

# Pseudo-labels of the one-coin prior on each row of a labeler's confusion matrix.
DEFAULT_STRENGTH = 10.0
# Pseudo-labels pulling a labeler's accuracy toward the crowd's mean accuracy.
DEFAULT_SHRINK = 5.0
DEFAULT_MAX_ITER = 1_000
DEFAULT_TOL = 1e-5
# The model's weight is searched in [0, MAX_MODEL_WEIGHT] (above 1: the model is under-confident).
MAX_MODEL_WEIGHT = 5.0
MAX_WEIGHT_ROUNDS = 4

METHOD_REGULARISED = "regularised Dawid–Skene"
METHOD_MODEL = "model-assisted Dawid–Skene"

BAD_PROBA = (
    "The model's probabilities must be one row per annotated item and one column per model class "
    "({n_items} x {n_classes}); received shape {shape}. Score the annotated items with the workspace model."
)


def _lse(x: np.ndarray) -> np.ndarray:
    """log-sum-exp over each row (items x classes → items x 1); cheaper than scipy's on large arrays."""
    top = x.max(axis=1, keepdims=True)
    return top + np.log(np.exp(x - top).sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class _Design:
    """The annotations as sparse operators over the used categories, built once per consensus.

    EM runs over *units*: every item (``compress=False``), or — when few labelers make few distinct
    label patterns — one unit per pattern of (labeler, label) pairs, weighted by how many items share it
    (their posteriors are equal when the items have no priors of their own), as ``crowd.dawid_skene``
    does. ``inverse`` maps each item to its unit."""

    used: np.ndarray
    unit: np.ndarray  # per (pattern) annotation: its unit
    lab: np.ndarray
    lbl: np.ndarray  # label codes remapped to 0..len(used)-1
    by_unit: sparse.csr_matrix  # units x annotations
    by_labeler_label: sparse.csr_matrix  # (labeler, said) x annotations, weighted by the unit's items
    n_j: np.ndarray  # labels per labeler (float)
    weight: np.ndarray  # items per unit
    inverse: np.ndarray  # each item's unit

    @classmethod
    def of(cls, ann: Annotations, *, compress: bool = False) -> _Design:
        used = np.flatnonzero(ann.counts.sum(axis=0) > 0)
        ku = len(used)
        remap = np.full(ann.n_categories, -1, dtype=np.int64)
        remap[used] = np.arange(ku)
        inverse, weight, unit, lab, label = _label_patterns(ann, compress=compress)
        lbl = remap[label]
        r, cols = len(unit), np.arange(len(unit))
        return cls(
            used=used,
            unit=unit,
            lab=lab,
            lbl=lbl,
            by_unit=sparse.csr_matrix((np.ones(r), (unit, cols)), shape=(len(weight), r)),
            by_labeler_label=sparse.csr_matrix(
                (weight[unit], (lab * ku + lbl, cols)), shape=(ann.n_labelers * ku, r)
            ),
            n_j=np.bincount(ann.labeler, minlength=ann.n_labelers).astype(np.float64),
            weight=weight,
            inverse=inverse,
        )


@dataclass(frozen=True)
class _Fit:
    posterior: np.ndarray  # items x used categories
    prior: np.ndarray
    pi: np.ndarray  # labelers x used x used
    accuracy: np.ndarray  # one-coin accuracy per labeler (shrunk)
    log_lik: np.ndarray  # items x used: log P(the item's labels | true class) under pi
    n_iter: int
    converged: bool
    evidence: float  # log marginal likelihood of the labels


def _em(
    d: _Design,
    item_log_prior: np.ndarray | None,
    *,
    strength: float,
    shrink: float,
    max_iter: int,
    tol: float,
    init: np.ndarray | None = None,
) -> _Fit:
    """MAP-EM of regularised Dawid–Skene. Every step is a sparse product or a bincount over the
    annotations (no loop over items, labelers or classes); stops when no posterior moves by ``tol``."""
    n_units, nj, ku = d.by_unit.shape[0], len(d.n_j), len(d.used)
    n = float(d.weight.sum())
    if init is None:
        t = np.zeros((n_units, ku))
        np.add.at(t, (d.unit, d.lbl), 1.0)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = init
    eye = np.eye(ku, dtype=bool)
    diag = np.flatnonzero(eye.reshape(-1))
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        prior = (d.weight @ t + 1.0) / (n + ku)
        cnt = (
            np.asarray(d.by_labeler_label @ t[d.unit]).reshape(nj, ku, ku).transpose(0, 2, 1)
        )  # [j, true, said]
        right = cnt.reshape(nj, -1)[:, diag].sum(axis=1)
        a_bar = right.sum() / max(d.n_j.sum(), 1.0)
        acc = (right + shrink * a_bar) / (d.n_j + shrink)
        errors = cnt.sum(axis=0)
        errors[eye] = 0.0
        errors += 1e-3
        errors[eye] = 0.0
        pattern = errors / errors.sum(axis=1, keepdims=True) if ku > 1 else np.ones((1, 1))
        target = (1.0 - acc)[:, None, None] * pattern[None]
        target[:, eye] = acc[:, None]
        pi = (cnt + strength * target) / (cnt.sum(axis=2, keepdims=True) + strength)
        log_pi = np.log(np.clip(pi, 1e-300, None))
        log_lik = np.asarray(d.by_unit @ log_pi[d.lab, :, d.lbl])
        log_post = log_lik + (np.log(prior)[None, :] if item_log_prior is None else item_log_prior)
        t_new = np.exp(log_post - _lse(log_post))
        delta = float(np.abs(t_new - t).max())
        t = t_new
        if delta < tol:
            converged = True
            break
    evidence = float(d.weight @ _lse(log_post)[:, 0])
    return _Fit(t, prior, pi, acc, log_lik, n_iter, converged, evidence)


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
    d = _Design.of(ann, compress=True)
    fit = _em(d, None, strength=strength, shrink=shrink, max_iter=max_iter, tol=tol)
    return _result(ann, d, fit, METHOD_REGULARISED, time.perf_counter() - start)


def _result(
    ann: Annotations,
    d: _Design,
    fit: _Fit,
    method: str,
    seconds: float,
    model_weight: float | None = None,
    prior_weight: float | None = None,
) -> Consensus:
    return fitted_consensus(
        ann,
        d.used,
        fit.posterior[d.inverse],
        fit.prior,
        fit.pi,
        n_iter=fit.n_iter,
        converged=fit.converged,
        log_likelihood=fit.evidence,
        seconds=seconds,
        method=method,
        model_weight=model_weight,
        prior_weight=prior_weight,
    )


def model_log_prior(
    proba: np.ndarray,
    class_prior: np.ndarray,
    used: np.ndarray,
    n_model_classes: int,
    weight: float,
    prior_weight: float | None = None,
) -> np.ndarray:
    """Each item's log prior over the ``used`` categories from a model's ``proba`` (items x model
    classes): w·log p_model(c) + v·log prior(c), normalised per item, with w = ``weight`` and
    v = ``prior_weight`` (None: 1 − w). Categories the model does not know keep their share of
    ``class_prior`` (over ``used``)."""
    v = 1.0 - weight if prior_weight is None else prior_weight
    lp = weight * _log_model(proba, class_prior, used, n_model_classes) + v * np.log(class_prior)[None, :]
    return lp - _lse(lp)


def _log_model(proba: np.ndarray, class_prior: np.ndarray, used: np.ndarray, km: int) -> np.ndarray:
    """log p_model over the used categories (clipped at 1e-6; unknown categories at their class prior)."""
    known = used < km
    extra_mass = float(class_prior[~known].sum())
    p = np.empty((len(proba), len(used)))
    p[:, known] = np.clip(proba[:, used[known]], 1e-6, 1.0)
    p[:, known] *= (1.0 - extra_mass) / p[:, known].sum(axis=1, keepdims=True)
    p[:, ~known] = class_prior[~known]
    return np.log(p)


def _best_weights(
    log_lik: np.ndarray,
    log_model: np.ndarray,
    log_class: np.ndarray,
    max_weight: float,
    start: tuple[float, float],
) -> tuple[float, float]:
    """The weights (w, v) of the item prior w·log p_model + v·log prior that maximise the marginal
    likelihood of the labels given the labelers' confusion matrices: L-BFGS-B with the exact gradient
    (∂/∂w = Σ_i E_posterior[log p_model] − E_prior[log p_model], likewise for v), w in
    [0, ``max_weight``], v in [-1, 2]; each evaluation is one pass over items x classes, no EM inside.
    (0, 1) — the model unused — unless the model improves the evidence significantly (likelihood-ratio
    test at 5 %, two parameters: a gain of at least χ²₂(0.95)/2 ≈ 3.0 nats). A calibrated model that
    already holds the class shares gets v ≈ 0; scores that ignore them v ≈ 1; an under-confident model
    w > 1."""
    from scipy.optimize import minimize

    log_class = np.broadcast_to(log_class, log_model.shape)

    def neg(x: np.ndarray) -> tuple[float, np.ndarray]:
        lp = x[0] * log_model + x[1] * log_class
        lp = lp - _lse(lp)
        prior = np.exp(lp)
        joint = log_lik + lp
        z = _lse(joint)
        post = np.exp(joint - z)
        diff = post - prior
        grad = np.array([(diff * log_model).sum(), (diff * log_class).sum()])
        return -float(z.sum()), -grad

    res = minimize(
        neg,
        np.asarray(start, dtype=float),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.0, max_weight), (-1.0, 2.0)],
    )
    gain = neg(np.array([0.0, 1.0]))[0] - float(res.fun)
    if gain < sps.chi2.ppf(0.95, 2) / 2:
        return 0.0, 1.0
    return float(res.x[0]), float(res.x[1])


def model_assisted_consensus(
    ann: Annotations,
    proba: np.ndarray,
    *,
    max_weight: float = MAX_MODEL_WEIGHT,
    strength: float = DEFAULT_STRENGTH,
    shrink: float = DEFAULT_SHRINK,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float = DEFAULT_TOL,
) -> Consensus:
    """Regularised Dawid–Skene whose item priors come from a model's out-of-sample ``proba`` (items x the
    model's classes): prior_i(c) ∝ p_model,i(c)^w · prior(c)^v, with w in [0, ``max_weight``] and v
    chosen by evidence (the marginal likelihood of the labels, :func:`_best_weights`). Fitting
    alternates: EM without the model; the best (w, v) for its confusion matrices (no EM inside); EM with
    that prior, warm-started; again until w and v move by less than 0.02 (at most
    ``MAX_WEIGHT_ROUNDS`` rounds). ``model_weight`` / ``prior_weight`` on the result are w and v
    (w = 0: the model did not significantly help explain the labels). Categories the model does not
    know keep their class prior."""
    _check(strength, shrink, max_iter)
    km = ann.n_model_classes
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (ann.n_items, km):
        raise AnalysisError(BAD_PROBA.format(n_items=ann.n_items, n_classes=km, shape=proba.shape))
    if not max_weight > 0:
        raise AnalysisError(
            f"max_weight must be positive (e.g. {MAX_MODEL_WEIGHT}); received {max_weight!r}."
        )
    start = time.perf_counter()
    d = _Design.of(ann)
    it = {"strength": strength, "shrink": shrink, "max_iter": max_iter, "tol": tol}
    base = _em(d, None, **it)
    log_model = _log_model(proba, base.prior, d.used, km)
    log_class = np.log(base.prior)[None, :]
    fit, wv, n_iter = base, (0.0, 1.0), base.n_iter
    for _ in range(MAX_WEIGHT_ROUNDS):
        new = _best_weights(
            fit.log_lik, log_model, log_class, max_weight, wv if fit is not base else (1.0, 0.0)
        )
        if (fit is base and new[0] == 0.0) or (
            fit is not base and max(abs(a - b) for a, b in zip(new, wv, strict=True)) < 0.02
        ):
            break
        wv = new
        if wv[0] == 0.0:
            fit = base
            continue
        lp = wv[0] * log_model + wv[1] * log_class
        fit = _em(d, lp - _lse(lp), init=fit.posterior, **it)
        n_iter += fit.n_iter
    if wv[0] == 0.0:
        fit, wv = base, (0.0, 1.0)
    fit = _Fit(
        fit.posterior, fit.prior, fit.pi, fit.accuracy, fit.log_lik, n_iter, fit.converged, fit.evidence
    )
    return _result(
        ann, d, fit, METHOD_MODEL, time.perf_counter() - start, model_weight=wv[0], prior_weight=wv[1]
    )


@dataclass(frozen=True)
class TrustIntervals:
    """Per labeler: ``estimate`` (posterior mean accuracy), ``low``/``high`` (equal-tailed interval at
    ``confidence``), ``n_labels`` (labels behind it), ``expected_right`` (their expected right labels
    under the consensus posterior); ``crowd_mean`` and ``shrink``: the mean and the strength
    (pseudo-labels) of the Beta prior of the crowd's accuracies that every estimate is shrunk toward.

    Two accuracies answer two questions: ``on_labels`` = expected_right / n_labels is the share of the
    labels they *gave* that are right (the posterior's expectation of it — no shrinkage, since it is
    about those labels); ``estimate`` is their accuracy as a labeler (what to expect of their next
    labels), shrunk toward the crowd — a labeler right on 3 of 3 labels is not a 100 % labeler."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_labels: np.ndarray
    expected_right: np.ndarray
    crowd_mean: float
    confidence: float
    shrink: float  # the prior's strength in pseudo-labels (chosen by evidence by default)

    @property
    def on_labels(self) -> np.ndarray:
        """The share of each labeler's given labels that are right (NaN without labels)."""
        n = self.n_labels.astype(np.float64)
        return np.divide(self.expected_right, n, out=np.full(len(n), np.nan), where=n > 0)


# Grid of accuracies (cell midpoints on (0, 1)) on which each labeler's accuracy posterior is computed.
TRUST_GRID = 400
MIN_SHRINK, MAX_SHRINK = 0.1, 1e4


def evidence_shrink(right: np.ndarray, n: np.ndarray, mean: float) -> float:
    """The shrinkage strength s (pseudo-labels) that best explains the labelers' right counts: s maximises
    the beta-binomial marginal likelihood sum_j log B(right_j + s·m, wrong_j + s·(1 − m)) − log B(s·m,
    s·(1 − m)) over s in [0.1, 10⁴] (m the crowd mean; counts may be fractional — expected counts under a
    posterior). Labelers who differ a lot get a small s (little shrinkage); a crowd of equals a large one.
    :func:`trust_intervals` starts its prior fit here."""
    from scipy.optimize import minimize_scalar
    from scipy.special import betaln

    wrong = np.maximum(n - right, 0.0)
    keep = n > 0
    right, wrong = right[keep], wrong[keep]

    def neg(log_s: float) -> float:
        a, b = np.exp(log_s) * mean, np.exp(log_s) * (1 - mean)
        return -float((betaln(right + a, wrong + b) - betaln(a, b)).sum())

    res = minimize_scalar(
        neg, bounds=(np.log(MIN_SHRINK), np.log(MAX_SHRINK)), method="bounded", options={"xatol": 1e-3}
    )
    return float(np.exp(res.x))


def leave_one_out_posterior(ann: Annotations, cons: Consensus) -> np.ndarray:
    """Per label given (annotations x categories): the consensus posterior of the item's true class
    *without that label* — the item's posterior divided by the labeler's own likelihood
    ``cons.confusion[j, c, said]`` and renormalised (EM's posterior is prior × Π_labelers π_j[c, said_j],
    so this is the prior times the other labelers' likelihoods). What the rest of the evidence says
    about an item, to judge one labeler's label against without counting the label itself."""
    post = cons.posterior[ann.item]
    own = cons.confusion[ann.labeler, :, ann.label]
    q = np.divide(post, own, out=np.zeros_like(post), where=own > 0)
    total = q.sum(axis=1, keepdims=True)
    fallback = cons.priors / max(float(cons.priors.sum()), 1e-300)
    return np.where(total > 0, q / np.where(total > 0, total, 1.0), fallback[None, :])


# A labeler's recall on a class is kept within these bounds: nobody is modelled as never (or always) wrong.
MIN_RECALL, MAX_RECALL = 0.01, 0.99


def _soft_confusion(ann: Annotations, cons: Consensus) -> np.ndarray:
    """The crowd's expected (true class, label given) counts under the consensus posterior (k x k)."""
    k = ann.n_categories
    soft = np.zeros((k, k))
    post = cons.posterior[ann.item]
    for s in range(k):
        soft[:, s] = post[ann.label == s].sum(axis=0)
    return soft


def class_difficulty(ann: Annotations, cons: Consensus) -> np.ndarray:
    """What each class adds to a labeler's chance of being right: the crowd's recall on the class (its
    expected right labels over its expected labels, under the consensus posterior) minus the crowd's
    recall averaged over the estimated class shares ``cons.priors`` — so it averages to 0 over items
    drawn like these. 0 for classes nobody's labels are expected on."""
    soft = _soft_confusion(ann, cons)
    mass = soft.sum(axis=1)
    recall = np.divide(np.diag(soft), mass, out=np.zeros(len(mass)), where=mass > 0)
    shares = np.where(mass > 0, cons.priors, 0.0)
    mean = float(shares @ recall / shares.sum()) if shares.sum() > 0 else 0.0
    return np.where(mass > 0, recall - mean, 0.0)


def accuracy_log_likelihood(ann: Annotations, cons: Consensus, grid: np.ndarray) -> np.ndarray:
    """labelers x ``grid``: log P(labeler j's labels | their accuracy is a, everyone else's evidence).

    A *one-coin* model of the labeler with class difficulty: on an item of true class c they are right
    with probability r_c(a) = a + d_c (:func:`class_difficulty`, kept within [``MIN_RECALL``,
    ``MAX_RECALL``]), so a is their accuracy on an item of average difficulty, whichever classes they
    happened to label; when wrong they follow the crowd's error pattern e_c (the expected (true c, said s)
    counts under the consensus posterior, off the diagonal, normalised per c). The true class is unknown:
    its distribution q is the :func:`leave_one_out_posterior` (the model's prior and the other labelers),
    so a label given has L(a) = q(said)·r_said(a) + Σ_{c≠said} q(c)·(1 − r_c(a))·e_c(said). An item
    nobody else labeled is judged by the model's prior only and carries little information; a label is
    never counted as evidence for itself."""
    k = ann.n_categories
    q = leave_one_out_posterior(ann, cons)
    soft = _soft_confusion(ann, cons)
    np.fill_diagonal(soft, 0.0)
    rows = soft.sum(axis=1, keepdims=True)
    uniform = (1.0 - np.eye(k)) / max(k - 1, 1)
    err = np.where(rows > 0, soft / np.where(rows > 0, rows, 1.0), uniform)
    difficulty = class_difficulty(ann, cons)
    # Sorted by labeler, so that each grid block is summed per labeler by one reduceat.
    order = np.argsort(ann.labeler, kind="stable")
    lab, said, q = ann.labeler[order], ann.label[order], q[order]
    right_q = q[np.arange(len(q)), said]
    wrong_q = q * err[:, said].T  # q(c)·e_c(said), zero at c = said
    # Unclipped, L(a) = alpha + beta·a; where a + d_c leaves [MIN_RECALL, MAX_RECALL], a correction.
    alpha = right_q * difficulty[said] + wrong_q @ (1.0 - difficulty)
    beta = right_q - wrong_q.sum(axis=1)
    present = np.flatnonzero(np.bincount(lab, minlength=ann.n_labelers) > 0)
    starts = np.searchsorted(lab, present)
    out = np.zeros((ann.n_labelers, len(grid)))
    block = max(1, 2_000_000 // max(len(lab), 1))
    for g0 in range(0, len(grid), block):
        a = grid[g0 : g0 + block]
        lik = alpha[:, None] + beta[:, None] * a[None, :]
        unclipped = a[:, None] + difficulty[None, :]
        excess = np.clip(unclipped, MIN_RECALL, MAX_RECALL) - unclipped  # blocks x k
        if excess.any():
            lik += right_q[:, None] * excess[:, said].T - wrong_q @ excess.T
        np.log(np.maximum(lik, 1e-300), out=lik)
        if len(present):
            out[present, g0 : g0 + block] = np.add.reduceat(lik, starts, axis=0)
    return out


def _beta_weights(grid: np.ndarray, mean: float, strength: float) -> np.ndarray:
    """Beta(strength·mean, strength·(1 − mean)) on the grid's cells, normalised to sum to 1."""
    a, b = strength * mean + 1e-9, strength * (1 - mean) + 1e-9
    logw = (a - 1) * np.log(grid) + (b - 1) * np.log1p(-grid)
    w = np.exp(logw - logw.max())
    return w / w.sum()


def fit_accuracy_prior(
    log_lik: np.ndarray, grid: np.ndarray, start: tuple[float, float]
) -> tuple[float, float]:
    """Empirical Bayes: the Beta prior (mean m, strength s in [0.1, 10⁴] pseudo-labels) of the crowd's
    accuracies that maximises the marginal likelihood of every labeler's labels,
    Σ_j log ∫ L_j(a) Beta(a; s·m, s·(1 − m)) da (``log_lik``: labelers x grid, from
    :func:`accuracy_log_likelihood`; the integral on the grid). Both the mean and the strength are
    estimated — a crowd of similar labelers gets strong shrinkage, a very mixed one little. L-BFGS-B from
    ``start`` = (m, s)."""
    from scipy.optimize import minimize

    shift = log_lik.max(axis=1, keepdims=True)
    lik = np.exp(log_lik - shift)

    def neg(x: np.ndarray) -> float:
        m, s = 1.0 / (1.0 + np.exp(-x[0])), np.exp(x[1])
        return -float(np.log(lik @ _beta_weights(grid, m, s) + 1e-300).sum())

    m0 = min(max(start[0], 1e-3), 1 - 1e-3)
    s0 = min(max(start[1], MIN_SHRINK), MAX_SHRINK)
    res = minimize(
        neg,
        np.array([np.log(m0 / (1 - m0)), np.log(s0)]),
        method="L-BFGS-B",
        bounds=[(-7.0, 7.0), (np.log(MIN_SHRINK), np.log(MAX_SHRINK))],
    )
    return float(1.0 / (1.0 + np.exp(-res.x[0]))), float(np.exp(res.x[1]))


def trust_intervals(
    ann: Annotations, cons: Consensus, *, shrink: float | None = None, confidence: float = 0.95
) -> TrustIntervals:
    """Each labeler's accuracy as a posterior under a hierarchical Beta prior, with an interval.

    The likelihood of labeler j's accuracy a is :func:`accuracy_log_likelihood` (a one-coin model with
    class difficulty — a is their accuracy on an item drawn with the crowd's class shares; the true class
    from everyone else's evidence, never from the label itself); the prior is
    Beta(s·m, s·(1 − m)), the crowd's distribution of accuracies. ``shrink`` None (default): m and s are
    chosen by evidence (:func:`fit_accuracy_prior`, empirical Bayes); a number fixes s, with m the
    crowd's share of right labels. The estimate is the posterior mean, the interval the equal-tailed
    ``confidence`` interval of the posterior (computed on a grid of ``TRUST_GRID`` cells). A labeler with
    3 labels gets a wide interval near the crowd's mean; one with 300 a narrow one near their own rate."""
    if not 0 < confidence < 1:
        raise AnalysisError(
            f"confidence must be strictly between 0 and 1 (e.g. 0.95); received {confidence!r}."
        )
    if shrink is not None and not shrink >= 0:
        raise AnalysisError(
            f"shrink is a number of pseudo-labels and must be ≥ 0, or None to choose it by evidence; received {shrink!r}."
        )
    from explore.stats.metrics import clamp_interval

    nj = ann.n_labelers
    n_j = np.bincount(ann.labeler, minlength=nj).astype(np.float64)
    right = np.bincount(ann.labeler, weights=cons.posterior[ann.item, ann.label], minlength=nj)
    m = float(right.sum() / max(n_j.sum(), 1.0))
    m = min(max(m, 1e-3), 1 - 1e-3)
    grid = (np.arange(TRUST_GRID) + 0.5) / TRUST_GRID
    log_lik = accuracy_log_likelihood(ann, cons, grid)
    if shrink is None:
        m, shrink = fit_accuracy_prior(log_lik, grid, (m, evidence_shrink(right, n_j, m)))
    post = np.exp(log_lik - log_lik.max(axis=1, keepdims=True)) * _beta_weights(grid, m, shrink)[None, :]
    post /= post.sum(axis=1, keepdims=True)
    est = post @ grid
    # Quantiles of the posterior, uniform within each grid cell.
    edges = np.arange(TRUST_GRID + 1) / TRUST_GRID
    cdf = np.column_stack([np.zeros(nj), post.cumsum(axis=1)])
    alpha = 1 - confidence
    low = np.array([np.interp(alpha / 2, cdf[j], edges) for j in range(nj)])
    high = np.array([np.interp(1 - alpha / 2, cdf[j], edges) for j in range(nj)])
    low, high = clamp_interval(est, low, high)
    return TrustIntervals(est, low, high, n_j.astype(np.int64), right, m, confidence, float(shrink))
