"""Which test should weak-slice discovery use by default? A power / false-discovery study (issue 16).

    python benchmarks/bench_discovery_tests.py [--runs 40] [--rows 3000]

For each per-row loss ("error": 0/1, "loss": log loss) and each test ("welch": Welch's t-test on the
mean; "rank": one-sided Mann–Whitney), ``explore.slices.report.weak_slices`` runs on seeded synthetic
binary-classification data (4 categorical columns of 4–6 values, one numeric column in 4 bins; the
model's logit of the true class ~ N(2, 1.5), so log loss is heavy-tailed) in these designs:

- ``null``: no slice is worse. Figure: the share of runs that report any slice (goal ≤ 5 %).
- ``weak one-condition``: a = p (1/6 of rows) is 0.35 logit less confident in the true class.
- ``small two-condition``: a = p AND b = v (~1/24 of rows) is 0.6 logit less confident.
- ``more errors``: c = k (1/5 of rows): 12 % of its rows have their logit flipped (confidently wrong,
  extra errors — a "mean matters" slice where a few rows are very wrong).
- ``weak numeric bin``: the top quartile of x is 0.3 logit less confident.

Figure for the planted designs: recall — the share of runs whose reported list names the planted slice
(exactly, or its one-condition parent a = p for the two-condition slice) among its first 5 distinct
problems. Every (loss, test) pair sees the same datasets. The default test is the one with the higher
mean recall over the planted designs among those whose null rate stays ≤ 5 % (docs/slices.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from explore.core.workspace import Scored
from explore.slices.report import weak_slices

DESIGNS = ("null", "weak one-condition", "small two-condition", "more errors", "weak numeric bin")
TOP = 5


def scored_for(design: str, n: int, seed: int) -> tuple[Scored, list[dict[str, str]]]:
    """Seeded data for one design and the planted slice(s) that count as found (column → value)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.choice(list("pqrstu"), n),
            "b": rng.choice(list("vwxy"), n),
            "c": rng.choice(list("klmno"), n),
            "d": rng.choice(list("efgh"), n),
            "x": rng.normal(size=n),
        }
    )
    logit = rng.normal(2.0, 1.5, n)
    a, b, c = (frame[k].to_numpy() for k in "abc")
    hits: list[dict[str, str]] = []
    if design == "weak one-condition":
        logit[a == "p"] -= 0.35
        hits = [{"a": "p"}]
    elif design == "small two-condition":
        logit[(a == "p") & (b == "v")] -= 0.6
        hits = [{"a": "p", "b": "v"}, {"a": "p"}]
    elif design == "more errors":
        flip = (c == "k") & (rng.random(n) < 0.12)
        logit[flip] = -np.abs(logit[flip])
        hits = [{"c": "k"}]
    elif design == "weak numeric bin":
        logit[frame["x"].to_numpy() >= np.quantile(frame["x"], 0.75)] -= 0.3
        hits = [{"x": "top"}]
    y = rng.integers(0, 2, n)
    p_true = 1 / (1 + np.exp(-logit))
    p1 = np.where(y == 1, p_true, 1 - p_true)
    proba = np.column_stack([1 - p1, p1])
    sc = Scored(
        dataset_name=design,
        model_name=None,
        task="binary",
        frame=frame,
        feature_names=list(frame.columns),
        y=y,
        y_raw=np.array(["n", "y"])[y],
        pred=(p1 >= 0.5).astype(np.int64),
        proba=proba,
        score=p1,
        classes=np.array(["n", "y"]),
        positive_index=1,
        time=None,
        ids=np.arange(n),
        unavailable={},
        n_unlabeled=0,
    )
    return sc, hits


def _named(defn, hit: dict[str, str]) -> bool:
    conds = {c.column: c for c in defn.conditions}
    if set(conds) != set(hit):
        return False
    for col, want in hit.items():
        c = conds[col]
        if want == "top":  # the numeric top quartile: a lower bound, no upper bound
            if c.op == "in" or c.lo is None or not (c.hi is None or c.hi_inclusive):
                return False
        elif c.op != "in" or tuple(c.values) != (want,):
            return False
    return True


def one_run(design: str, n: int, seed: int, loss: str, test: str) -> tuple[int, bool]:
    sc, hits = scored_for(design, n, seed)
    res = weak_slices(sc, min_support=50, fdr=0.05, n_bins=4, loss=loss, test=test)
    top = [d for d, parent in zip(res.definitions, res.slices["parent"], strict=True) if parent == ""][:TOP]
    return len(res.slices), any(_named(d, h) for d in top for h in hits)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for design in DESIGNS:
        for loss in ("error", "loss"):
            for test in ("welch", "rank"):
                reported = found = 0
                for r in range(args.runs):
                    n_rep, hit = one_run(design, args.rows, 7_000 + r, loss, test)
                    reported += n_rep > 0
                    found += hit
                figure = reported / args.runs if design == "null" else found / args.runs
                rows.append({"design": design, "loss": loss, "test": test, "figure": figure})
                what = "runs reporting any slice" if design == "null" else f"recall (top {TOP})"
                print(
                    f"{design:20s} {loss:5s} {test:5s}  {what:24s} {figure:.3f}  "
                    f"({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
    df = pd.DataFrame(rows)
    table = df.pivot_table(index="design", columns=["loss", "test"], values="figure", sort=False)
    print(f"\n{args.runs} runs × {args.rows:,} rows per cell; null: share of runs reporting any slice")
    with pd.option_context("display.width", 160):
        print(table.round(3).to_string())
    planted = df[df["design"] != "null"].groupby(["loss", "test"])["figure"].mean()
    print("\nMean recall over the planted designs:")
    print(planted.round(3).to_string())


if __name__ == "__main__":
    main()
