"""Simulated sparse crowds that look like real ones, for tests and benchmarks of consensus and trust.

Real crowds are sparse: dozens of labelers, most with a handful of labels and a few with hundreds
(power-law label counts), 1–7 labels per item, labelers of very different accuracy, and confusions that
depend on the class (a "3" is mistaken for an "8", rarely for a "1"). :func:`simulate_crowd` draws such a
crowd with a known truth, known labeler accuracies and an out-of-sample model's probabilities, and
returns it as :class:`~explore.labels.crowd.Annotations` (what the Labels page computes on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explore.labels.crowd import Annotations


@dataclass(frozen=True, eq=False)
class SimulatedCrowd:
    """A simulated crowd: ``ann`` the annotations, ``truth`` each item's true class (int64),
    ``accuracy`` each labeler's empirical accuracy on the labels they gave (what trust should rank),
    ``design_accuracy`` the accuracy they were drawn with, ``model_proba`` an out-of-sample classifier's
    probabilities (items x classes), ``confusion[j]`` each labeler's true confusion matrix and
    ``difficulty[c]`` what class c adds to every labeler's drawn accuracy (their recall on c is
    ``design_accuracy + difficulty[c]``, clipped to [0.05, 0.99])."""

    ann: Annotations
    truth: np.ndarray
    accuracy: np.ndarray
    design_accuracy: np.ndarray
    model_proba: np.ndarray
    confusion: np.ndarray
    difficulty: np.ndarray


def simulate_crowd(
    n_items: int = 2_000,
    *,
    n_labelers: int = 50,
    n_classes: int = 10,
    labels_per_item: tuple[int, int] = (1, 7),
    accuracy_range: tuple[float, float] = (0.3, 0.95),
    power: float = 1.2,
    model_accuracy: float = 0.7,
    seed: int = 0,
) -> SimulatedCrowd:
    """Draw a sparse crowd (see the module docstring) with a known truth.

    Labeler j's share of the labels is proportional to ``rank^-power`` (a few labelers give most of
    them). Each item gets between ``labels_per_item`` labels (skewed toward few: P(m) ∝ 1/m) from
    distinct labelers. Labeler j has accuracy a_j ~ U(``accuracy_range``), modulated by class
    difficulty; their errors on class c go mostly (70 %) to c's one or two confusable classes, shared
    by the crowd, and the rest uniformly, with a labeler-specific Dirichlet jitter. The model's
    probabilities are a softmax of noisy logits whose top class is right about ``model_accuracy`` of the
    time; they are made out of sample (nothing here uses the labels to make them).
    """
    rng = np.random.default_rng(seed)
    k, nj = n_classes, n_labelers
    priors = rng.dirichlet(np.full(k, 8.0))
    truth = rng.choice(k, size=n_items, p=priors).astype(np.int64)

    # Shared confusable classes: each class's errors go mostly to one or two neighbours.
    confusable = np.zeros((k, k))
    for c in range(k):
        others = np.delete(np.arange(k), c)
        # One or two neighbours (a binary task has one: asking for two raised ValueError).
        near = rng.choice(others, size=min(int(rng.integers(1, 3)), len(others)), replace=False)
        confusable[c, near] = 0.7 / len(near)
        confusable[c, others] += 0.3 / (k - 1)
    difficulty = rng.uniform(-0.1, 0.1, k)
    design = rng.uniform(*accuracy_range, nj)
    conf = np.zeros((nj, k, k))
    for j in range(nj):
        for c in range(k):
            a = float(np.clip(design[j] + difficulty[c], 0.05, 0.99))
            off = rng.dirichlet(confusable[c] * 30 + 1e-3) if k > 1 else np.zeros(k)
            off[c] = 0.0
            off /= off.sum()
            conf[j, c] = (1 - a) * off
            conf[j, c, c] = a

    share = 1.0 / np.arange(1, nj + 1) ** power
    share = rng.permutation(share / share.sum())
    lo, hi = labels_per_item
    sizes = np.arange(lo, hi + 1)
    m = rng.choice(sizes, size=n_items, p=(1 / sizes) / (1 / sizes).sum())
    m = np.minimum(m, nj)
    # Distinct labelers per item, drawn with probability ∝ share (Gumbel top-m trick, vectorised).
    keys = np.log(share)[None, :] + rng.gumbel(size=(n_items, nj))
    order = np.argsort(-keys, axis=1)
    take = np.arange(nj)[None, :] < m[:, None]
    item = np.repeat(np.arange(n_items), m)
    labeler = order[take]
    # What each labeler says: a draw from their row of the truth.
    cum = conf[labeler, truth[item]].cumsum(axis=1)
    said = (rng.random(len(item))[:, None] > cum).sum(axis=1)
    said = np.minimum(said, k - 1).astype(np.int64)
    n_j = np.bincount(labeler, minlength=nj)
    right = np.bincount(labeler, weights=(said == truth[item]).astype(float), minlength=nj)
    accuracy = np.divide(right, n_j, out=np.full(nj, np.nan), where=n_j > 0)

    # An out-of-sample model: the true class's logit is raised by a margin tuned to model_accuracy.
    logits = rng.normal(size=(n_items, k)) * 1.0
    margin = _margin_for(model_accuracy, k)
    logits[np.arange(n_items), truth] += margin
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)

    ids = np.arange(n_items)
    ann = Annotations(
        dataset="simulated",
        source="simulate_crowd",
        id_column=None,
        label_column="label",
        item_ids=ids,
        item_keys=ids.astype(str).astype(object),
        rows=ids,
        labelers=np.array([f"labeler {j:02d}" for j in range(nj)]),
        categories=np.arange(k).astype(object),
        n_model_classes=k,
        item=item.astype(np.int64),
        labeler=labeler.astype(np.int64),
        label=said,
        batch=None,
        dataset_label=np.full(n_items, -1, dtype=np.int64),
    )
    return SimulatedCrowd(ann, truth, accuracy, design, proba, conf, difficulty)


def _margin_for(accuracy: float, k: int) -> float:
    """The logit margin at which argmax of (N(0,1) + margin on the true class) is right ``accuracy`` of
    the time (by a fixed-seed Monte Carlo and bisection)."""
    z = np.random.default_rng(12345).normal(size=(20_000, k))
    lo, hi = -2.0, 8.0
    for _ in range(40):
        mid = (lo + hi) / 2
        acc = float(((z[:, 0] + mid) > z[:, 1:].max(axis=1)).mean())
        lo, hi = (mid, hi) if acc < accuracy else (lo, mid)
    return (lo + hi) / 2
