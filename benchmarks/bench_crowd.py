"""Consensus and labeler trust on simulated sparse crowds (issue 16), side by side with the peers.

    pip install ".[bench]"          # cleanlab (CROWDLAB) and crowd-kit (Dawid–Skene, GLAD, MACE)
    python benchmarks/bench_crowd.py [--items 700,5000,100000] [--seeds 2] [--large-seeds 1] [--slow-peers-up-to 10000]
    python benchmarks/bench_crowd.py --queue-study 700:8,5000:4
    python benchmarks/bench_crowd.py --trust-study 700:20,5000:5

Data: ``explore.labels.simulate.simulate_crowd`` — 10 classes, ≥ 40 labelers with power-law label counts
(a few give hundreds of labels, most a handful), accuracies U(0.3, 0.95) modulated by class difficulty,
class-dependent confusions shared by the crowd, 1–7 labels per item (skewed toward few), and an
out-of-sample model whose top class is right ~70 % of the time.

Per method: consensus accuracy against the planted truth and the number of wrong consensus labels (the
base rate of what a spot check can find); Spearman correlation of each labeler's trust with their true
accuracy — ρ against their empirical accuracy on the labels they gave (ours: ``right_on_labels``, the
expected share of their labels that are right), and ρ (design) against the accuracy they were drawn with
(ours: the shrunk ``accuracy`` estimate; the crossed pairings are printed too); the spot-check queue's precision@50 for wrong consensus labels (items
ranked by the method's own score that its consensus is wrong — ours: ``rank_queue(review="consensus")``,
CROWDLAB: ``consensus_quality_score`` from ``get_label_quality_multiannotator``, others: least confident
first — the share of the first 50 whose consensus is wrong); seconds. The **oracle** is the Bayes
posterior under the simulation's true parameters (true confusion matrices, class shares, and the
model's true likelihood p^margin): its accuracy is the best any consensus can expect and its
precision@50 what a perfectly calibrated queue on the best consensus finds; its ρ (design) is the
**trust oracle**'s (``trust_oracle``: the Bayes posterior mean of each drawn accuracy under the true
parameters). Our model-assisted row also gives the trust prior (mean, strength), the seconds of
``trust_intervals`` alone and its 95 % intervals' coverage of the true / the drawn accuracies, and
precision@50 of other queue scores studied (margin, entropy, + model disagreement, + labeler
disagreement). Peers: majority vote (ties broken at random), crowd-kit ``DawidSkene``,
``GLAD``, ``MACE``, cleanlab ``get_label_quality_multiannotator`` (CROWDLAB, with the same model
probabilities). Ours: Dawid–Skene (full), regularised Dawid–Skene, model-assisted Dawid–Skene.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent)
)  # this checkout's explore, not an installed one

from explore.labels import aggregate, crowd
from explore.labels.simulate import SimulatedCrowd, _margin_for, simulate_crowd

TOP = 50


def _p50(label: np.ndarray, wrong_score: np.ndarray, truth: np.ndarray) -> float:
    """Share of the first TOP items (highest ``wrong_score`` first, ties in item order) whose label is wrong."""
    order = np.argsort(-np.asarray(wrong_score, dtype=float), kind="stable")[:TOP]
    return float((label[order] != truth[order]).mean())


def _row(
    sim: SimulatedCrowd,
    label: np.ndarray,
    trust: np.ndarray | None,
    confidence: np.ndarray | None,
    trust_design: np.ndarray | None = None,
) -> dict:
    """Figures of one method; ``confidence``: higher = more confident in the consensus (queue: least first).
    ``trust`` is ranked against each labeler's accuracy on the labels they gave, ``trust_design`` (default:
    ``trust``) against the accuracy they were drawn with."""
    wrong = label != sim.truth
    p50 = np.nan if confidence is None else _p50(label, -np.asarray(confidence, dtype=float), sim.truth)
    rho = rho_design = np.nan
    if trust is not None:
        ok = np.isfinite(sim.accuracy) & np.isfinite(trust)
        rho = float(spearmanr(trust[ok], sim.accuracy[ok]).statistic)
        td = trust if trust_design is None else trust_design
        rho_design = float(spearmanr(td[ok], sim.design_accuracy[ok]).statistic)
    return {
        "accuracy": float(1 - wrong.mean()),
        "wrong": int(wrong.sum()),
        "trust_spearman": rho,
        "trust_spearman_design": rho_design,
        "precision@50": p50,
    }


def _rho(trust: np.ndarray, target: np.ndarray) -> float:
    """Spearman ρ over the labelers with labels (3 decimals)."""
    ok = np.isfinite(trust) & np.isfinite(target)
    return round(float(spearmanr(trust[ok], target[ok]).statistic), 3)


def oracle_posterior(sim: SimulatedCrowd) -> np.ndarray:
    """The Bayes posterior of each item's class under the simulation's true parameters: the class shares,
    every labeler's true confusion matrix, and the model's likelihood — its logits are N(0, 1) plus a
    margin on the true class, so P(model output | c) ∝ p_c^margin."""
    a = sim.ann
    k = a.n_categories
    shares = np.bincount(sim.truth, minlength=k) / len(sim.truth)
    lp = np.log(np.clip(shares, 1e-300, None))[None, :] + _margin_for(0.7, k) * np.log(sim.model_proba)
    contrib = np.log(np.clip(sim.confusion[a.labeler, :, a.label], 1e-300, None))
    lp = lp + np.column_stack(
        [np.bincount(a.item, weights=contrib[:, c], minlength=a.n_items) for c in range(k)]
    )
    lp -= lp.max(axis=1, keepdims=True)
    p = np.exp(lp)
    return p / p.sum(axis=1, keepdims=True)


def _posterior_trust(sim: SimulatedCrowd, probas: np.ndarray) -> np.ndarray:
    """Expected accuracy of each labeler under a method's posterior (items x classes)."""
    a = sim.ann
    n_j = np.bincount(a.labeler, minlength=a.n_labelers)
    right = np.bincount(a.labeler, weights=probas[a.item, a.label], minlength=a.n_labelers)
    return right / np.maximum(n_j, 1)


def trust_oracle(sim: SimulatedCrowd, grid_size: int = 261) -> np.ndarray:
    """The Bayes posterior mean of each labeler's *drawn* accuracy a_j given every label, under the
    simulation's true parameters: each label judged against the oracle posterior of its item without that
    label, the labeler's true error pattern, the true class difficulty (their recall on class c is
    clip(a_j + d_c, 0.05, 0.99)) and the true prior of drawn accuracies, U(0.3, 0.95). No estimate can
    rank drawn accuracies better in expectation; on one crowd it shows how much of ρ is noise."""
    a = sim.ann
    k = a.n_categories
    post = oracle_posterior(sim)[a.item]
    own = sim.confusion[a.labeler, :, a.label]
    q = np.divide(post, own, out=np.zeros_like(post), where=own > 0)
    q /= q.sum(axis=1, keepdims=True)
    diag = np.einsum("jcc->jc", sim.confusion)
    err = sim.confusion * (1 - np.eye(k))[None]
    err = np.divide(err, 1 - diag[:, :, None], out=np.zeros_like(err), where=(1 - diag[:, :, None]) > 0)
    err_r = err[a.labeler, :, a.label]  # P(say the given label | true c, wrong), per label x class
    rows = np.arange(len(q))
    grid = np.linspace(0.3, 0.95, grid_size)
    log_lik = np.empty((a.n_labelers, grid_size))
    for g, x in enumerate(grid):
        recall = np.clip(x + sim.difficulty, 0.05, 0.99)
        lik = q[rows, a.label] * recall[a.label] + (q * (1 - recall)[None, :] * err_r).sum(axis=1)
        log_lik[:, g] = np.bincount(
            a.labeler, weights=np.log(np.maximum(lik, 1e-300)), minlength=a.n_labelers
        )
    w = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    return (w @ grid) / w.sum(axis=1)


def true_accuracy(sim: SimulatedCrowd) -> np.ndarray:
    """Each labeler's true accuracy: their confusion matrix's diagonal weighted by the class shares (the
    chance that their next label, on an item drawn like these, is right) — what the trust interval
    estimates; the drawn accuracy plus the class difficulties' weighted mean, up to the clip."""
    shares = np.bincount(sim.truth, minlength=sim.ann.n_categories) / len(sim.truth)
    return np.einsum("jcc,c->j", sim.confusion, shares)


def _coverage(t: aggregate.TrustIntervals, target: np.ndarray) -> float:
    return round(float(((t.low <= target) & (target <= t.high)).mean()), 3)


def ours(sim: SimulatedCrowd) -> dict[str, Callable[[], dict]]:
    a = sim.ann

    def oracle() -> dict:
        p = oracle_posterior(sim)
        return _row(sim, p.argmax(axis=1), _posterior_trust(sim, p), p.max(axis=1), trust_oracle(sim))

    def ds() -> dict:
        c = crowd.dawid_skene(a)
        t = aggregate.trust_intervals(a, c)
        return _row(sim, c.label, t.on_labels, c.confidence, t.estimate) | {
            "iterations": c.n_iter,
            "converged": c.converged,
        }

    def rds() -> dict:
        c = aggregate.regularised_dawid_skene(a)
        t = aggregate.trust_intervals(a, c)
        return _row(sim, c.label, t.on_labels, c.confidence, t.estimate) | {
            "iterations": c.n_iter,
            "converged": c.converged,
        }

    def mads() -> dict:
        c = aggregate.model_assisted_consensus(a, sim.model_proba)
        start = time.perf_counter()
        t = aggregate.trust_intervals(a, c)
        trust_seconds = round(time.perf_counter() - start, 2)
        probs = crowd.ItemProbabilities(
            proba=sim.model_proba,
            pred=sim.model_proba.argmax(axis=1),
            method="columns",
            model=None,
            description="simulated out-of-sample model",
            seconds=0.0,
        )
        queue = crowd.rank_queue(a, c, probs, review="consensus").frame
        wrong_score = np.empty(a.n_items)
        wrong_score[queue["item"].to_numpy()] = -queue["rank"].to_numpy()
        row = _row(sim, c.label, t.on_labels, None, t.estimate)
        # The queue scores studied (precision@50 of each on this consensus).
        rows = np.arange(a.n_items)
        srt = np.sort(c.posterior, axis=1)
        p = c.posterior
        model_dis = 1.0 - sim.model_proba[rows, c.label]
        labeler_dis = 1.0 - a.counts[rows, c.label] / a.n_labels
        studied = {
            "margin": -(srt[:, -1] - srt[:, -2]),
            "entropy": -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=1),
            "+model": (1 - c.confidence) + 0.5 * model_dis,
            "+labelers": (1 - c.confidence) + 0.5 * labeler_dis,
        }
        return row | {
            "precision@50": _p50(c.label, wrong_score, sim.truth),
            "iterations": c.n_iter,
            "converged": c.converged,
            "model_weight": round(float(c.model_weight), 3),
            "prior_weight": round(float(c.prior_weight), 3),
            "prior": (round(t.crowd_mean, 3), round(t.shrink, 2)),
            "trust seconds": trust_seconds,
            "coverage": (_coverage(t, true_accuracy(sim)), _coverage(t, sim.design_accuracy)),
            "shrunk ρ": _rho(t.estimate, sim.accuracy),
            "unshrunk ρ (design)": _rho(t.on_labels, sim.design_accuracy),
            "study p@50": {k: _p50(c.label, v, sim.truth) for k, v in studied.items()},
        }

    return {
        "oracle (true parameters)": oracle,
        "ours: Dawid–Skene (full)": ds,
        "ours: regularised Dawid–Skene": rds,
        "ours: model-assisted Dawid–Skene": mads,
    }


def peers(sim: SimulatedCrowd, *, skip_slow: bool) -> dict[str, Callable[[], dict]]:
    a = sim.ann
    long = pd.DataFrame({"task": a.item, "worker": a.labeler, "label": a.label})
    out: dict[str, Callable[[], dict]] = {}

    def mv() -> dict:
        label, _, share = crowd.majority_vote(a.counts, ties="random")
        n_j = np.bincount(a.labeler, minlength=a.n_labelers)
        agree = np.bincount(
            a.labeler, weights=(a.label == label[a.item]).astype(float), minlength=a.n_labelers
        )
        return _row(sim, label, agree / np.maximum(n_j, 1), share)

    out["majority vote (random ties)"] = mv
    try:
        from crowdkit.aggregation import GLAD, MACE, DawidSkene
    except ImportError:
        print("  crowd-kit is not installed: pip install crowd-kit")
    else:

        def probas_of(model) -> np.ndarray:
            pr = model.probas_.reindex(index=np.arange(a.n_items), columns=np.arange(a.n_categories)).fillna(
                0.0
            )
            return pr.to_numpy()

        def ck_ds() -> dict:
            m = DawidSkene(n_iter=100)
            m.fit(long)
            pr = probas_of(m)
            return _row(sim, pr.argmax(axis=1), _posterior_trust(sim, pr), pr.max(axis=1))

        def ck_mace() -> dict:
            m = MACE(n_iter=100, random_state=0)
            m.fit(long)
            pr = probas_of(m)
            return _row(sim, pr.argmax(axis=1), _posterior_trust(sim, pr), pr.max(axis=1))

        def ck_glad() -> dict:
            m = GLAD(n_iter=100, silent=True)
            m.fit(long)
            pr = probas_of(m)
            alphas = m.alphas_.reindex(np.arange(a.n_labelers)).to_numpy(dtype=float)
            return _row(sim, pr.argmax(axis=1), alphas, pr.max(axis=1))

        out["crowd-kit DawidSkene"] = ck_ds
        if not skip_slow:
            out["crowd-kit MACE"] = ck_mace
            out["crowd-kit GLAD"] = ck_glad
    try:
        from cleanlab.multiannotator import get_label_quality_multiannotator
    except ImportError:
        print("  cleanlab is not installed: pip install cleanlab")
    else:

        def crowdlab() -> dict:
            wide = np.full((a.n_items, a.n_labelers), np.nan)
            wide[a.item, a.labeler] = a.label
            frame = pd.DataFrame(wide, columns=[str(j) for j in range(a.n_labelers)])
            frame = frame.loc[:, frame.notna().any()]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = get_label_quality_multiannotator(frame, sim.model_proba, verbose=False)
            lq = res["label_quality"]
            stats = res["annotator_stats"]["annotator_quality"]
            trust = np.full(a.n_labelers, np.nan)
            trust[stats.index.astype(int).to_numpy()] = stats.to_numpy(dtype=float)
            return _row(
                sim,
                lq["consensus_label"].to_numpy(),
                trust,
                lq["consensus_quality_score"].to_numpy(dtype=float),
            )

        out["cleanlab CROWDLAB"] = crowdlab
    return out


def dataset_label_queue(sim: SimulatedCrowd) -> str:
    """The other review the Queue offers: the dataset's label column, here one labeler's label per item
    (the item's first annotation). Ours: ``rank_queue(review="dataset")`` on the model-assisted consensus;
    peer: cleanlab's ``get_label_quality_scores`` on the model's probabilities (lowest quality first)."""
    import dataclasses

    a = sim.ann
    first = np.full(a.n_items, -1, dtype=np.int64)
    first[a.item[::-1]] = a.label[::-1]
    a2 = dataclasses.replace(a, dataset_label=first)
    c = aggregate.model_assisted_consensus(a2, sim.model_proba)
    probs = crowd.ItemProbabilities(
        proba=sim.model_proba,
        pred=sim.model_proba.argmax(axis=1),
        method="columns",
        model=None,
        description="simulated out-of-sample model",
        seconds=0.0,
    )
    top = crowd.rank_queue(a2, c, probs, review="dataset").frame["item"].to_numpy()[:TOP]
    wrong = first != sim.truth
    text = f"ours {wrong[top].mean():.2f}"
    try:
        from cleanlab.rank import get_label_quality_scores
    except ImportError:
        return text
    quality = get_label_quality_scores(first, sim.model_proba)
    return (
        text
        + f", cleanlab get_label_quality_scores {_p50(first, -quality, sim.truth):.2f} ({wrong.sum():,} wrong)"
    )


def queue_study(settings: list[tuple[int, int]]) -> None:
    """Which score ranks wrong consensus labels best? Mean precision@50 over seeded crowds (seeds 200+, not
    the main run's) of the model-assisted consensus's 1 − confidence, alone and plus λ × labeler
    disagreement (1 − the share of labels equal to the consensus), plus λ × model disagreement
    (1 − p_model(consensus)), and times (1 + 0.5 / number of labels)."""
    rows = []
    for n, n_seeds in settings:
        for seed in range(n_seeds):
            sim = simulate_crowd(n, n_labelers=50, seed=200 + seed)
            a, truth = sim.ann, sim.truth
            c = aggregate.model_assisted_consensus(a, sim.model_proba)
            r = np.arange(n)
            base = 1 - c.confidence
            labeler_dis = 1 - a.counts[r, c.label] / a.n_labels
            model_dis = 1 - sim.model_proba[r, c.label]
            scores = {"1 − confidence": base, "× (1 + 0.5 / labels)": base * (1 + 0.5 / a.n_labels)}
            for lam in (0.25, 0.5, 1.0):
                scores[f"+ {lam} × labeler disagreement"] = base + lam * labeler_dis
                scores[f"+ {lam} × model disagreement"] = base + lam * model_dis
            for name, score in scores.items():
                rows.append({"items": n, "score": name, "precision@50": _p50(c.label, score, truth)})
            rows.append(
                {
                    "items": n,
                    "score": "(wrong consensus labels)",
                    "precision@50": int((c.label != truth).sum()),
                }
            )
    df = pd.DataFrame(rows)
    print("\nQueue score study: mean precision@50 of the model-assisted consensus's wrong labels")
    with pd.option_context("display.width", 160):
        print(
            df.pivot_table(index="score", columns="items", values="precision@50", sort=False)
            .round(3)
            .to_string()
        )


def trust_study(settings: list[tuple[int, int]]) -> None:
    """Does our trust rank the labelers' drawn accuracies at least as well as every peer? On seeded crowds
    (seeds 400+: neither the main run's nor those the estimator was developed on, 100–109 and 300–319):
    Spearman ρ with the drawn accuracies of our ``trust_intervals`` estimate on the model-assisted
    consensus, of the estimate it replaced (the expected right labels under the consensus posterior, shrunk
    by ``evidence_shrink``), of majority-vote agreement, crowd-kit DawidSkene and cleanlab CROWDLAB (MACE
    and GLAD are too slow for many seeds), and of the trust oracle; our ρ on the labels given; the 95 %
    intervals' coverage of the true accuracy (pooled over labelers) and of the drawn one."""
    rows, covered, covered_design = [], {}, {}
    for n, n_seeds in settings:
        for seed in range(n_seeds):
            sim = simulate_crowd(n, n_labelers=50, seed=400 + seed)
            a = sim.ann
            row = {"items": n, "seed": seed}
            for name, fn in peers(sim, skip_slow=True).items():
                row[name] = fn()["trust_spearman_design"]
            c = aggregate.model_assisted_consensus(a, sim.model_proba)
            t = aggregate.trust_intervals(a, c)
            n_j = t.n_labels.astype(float)
            m = float(t.expected_right.sum() / n_j.sum())
            s0 = aggregate.evidence_shrink(t.expected_right, n_j, m)
            row["before: shrunk soft counts"] = _rho(
                (t.expected_right + s0 * m) / (n_j + s0), sim.design_accuracy
            )
            row["ours"] = _rho(t.estimate, sim.design_accuracy)
            row["trust oracle"] = _rho(trust_oracle(sim), sim.design_accuracy)
            row["ours ρ on labels given"] = _rho(t.on_labels, sim.accuracy)
            covered.setdefault(n, []).append((t.low <= true_accuracy(sim)) & (true_accuracy(sim) <= t.high))
            covered_design.setdefault(n, []).append(
                (t.low <= sim.design_accuracy) & (sim.design_accuracy <= t.high)
            )
            rows.append(row)
            print(row, flush=True)
    df = pd.DataFrame(rows)
    peer_names = [
        c for c in df.columns if c not in ("items", "seed") and not c.startswith(("ours", "before", "trust"))
    ]
    print("\nTrust study: Spearman ρ with the drawn accuracies")
    with pd.option_context("display.width", 200):
        print(df.groupby("items").mean().drop(columns="seed").round(3).T.to_string())
    for n, part in df.groupby("items"):
        best = part[peer_names].max(axis=1)
        wins = ", ".join(f"{p} {int((part['ours'] >= part[p]).sum())}" for p in peer_names)
        gap = part["ours"] - best
        print(
            f"{n:,} items, {len(part)} crowds — ours ≥ each peer: {wins}; ≥ the best peer: "
            f"{int((gap >= 0).sum())} (worst gap {gap.min():+.3f}); the trust oracle ≥ the best peer: "
            f"{int((part['trust oracle'] >= best).sum())}; ρ's standard deviation across crowds: "
            f"ours {part['ours'].std():.3f}; 95 % interval coverage of the true accuracy "
            f"{np.concatenate(covered[n]).mean():.3f}, of the drawn accuracy {np.concatenate(covered_design[n]).mean():.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", default="700,5000,100000")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--large-seeds", type=int, default=1, help="seeds above 10,000 items")
    parser.add_argument(
        "--slow-peers-up-to",
        type=int,
        default=10_000,
        help="run crowd-kit MACE and GLAD only up to this many items (MACE: ~80 s at 700 items on 2 shared cores)",
    )
    parser.add_argument(
        "--trust-study",
        default="",
        help="items:seeds pairs (e.g. 700:20,5000:5): only the labeler-trust study, on seeds 400+",
    )
    parser.add_argument(
        "--queue-study",
        default="",
        help="items:seeds pairs (e.g. 700:8,5000:4): only the queue score study, on seeds 200+",
    )
    args = parser.parse_args()
    if args.trust_study:
        trust_study([tuple(int(v) for v in part.split(":")) for part in args.trust_study.split(",")])
        return
    if args.queue_study:
        queue_study([tuple(int(v) for v in part.split(":")) for part in args.queue_study.split(",")])
        return
    rows = []
    for n in [int(x) for x in args.items.split(",")]:
        for seed in range(args.seeds if n <= 10_000 else args.large_seeds):
            labelers = 50 if n <= 10_000 else 200
            sim = simulate_crowd(n, n_labelers=labelers, seed=100 + seed)
            a = sim.ann
            print(
                f"\n{n:,} items, {a.n_annotations:,} labels, {a.n_labelers} labelers "
                f"(labels per labeler {a.labels_per_labeler.min()}–{a.labels_per_labeler.max()}), seed {seed}; "
                f"model accuracy {(sim.model_proba.argmax(axis=1) == sim.truth).mean():.3f}"
            )
            print(f"  queue reviewing one labeler's label per item, precision@50: {dataset_label_queue(sim)}")
            methods = {**peers(sim, skip_slow=n > args.slow_peers_up_to), **ours(sim)}
            for name, fn in methods.items():
                start = time.perf_counter()
                res = fn()
                res = {
                    "items": n,
                    "seed": seed,
                    "method": name,
                    **res,
                    "seconds": time.perf_counter() - start,
                }
                rows.append(res)
                extra = "".join(
                    f", {k} {res[k]}"
                    for k in (
                        "iterations",
                        "converged",
                        "model_weight",
                        "prior_weight",
                        "prior",
                        "trust seconds",
                        "coverage",
                        "shrunk ρ",
                        "unshrunk ρ (design)",
                        "study p@50",
                    )
                    if k in res
                )
                print(
                    f"  {name:34s} accuracy {res['accuracy']:.4f} ({res['wrong']:>6,} wrong)  "
                    f"trust ρ {res['trust_spearman']:.3f} (design {res['trust_spearman_design']:.3f})  "
                    f"precision@50 {res['precision@50']:.2f}  {res['seconds']:7.2f} s{extra}",
                    flush=True,
                )
    df = pd.DataFrame(rows)
    print("\nMean over seeds:")
    summary = df.groupby(["items", "method"], sort=False)[
        ["accuracy", "wrong", "trust_spearman", "trust_spearman_design", "precision@50", "seconds"]
    ].mean()
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(summary.round(4).to_string())


if __name__ == "__main__":
    main()
