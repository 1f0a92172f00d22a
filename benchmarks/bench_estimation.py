"""Performance estimation without labels (issue 17): ml-explore's CBPE vs NannyML's CBPE on the same windows.

    pip install ".[bench]"                                  # nannyml (peer), in a venv of its own if you like
    python benchmarks/bench_estimation.py                   # 1M rows x 24 monthly windows
    python benchmarks/bench_estimation.py --rows 200000     # quicker

Simulated binary classifier (tests/staleness/simulate.py): the feature's mean drifts over 24 months
(covariate shift only), the model's scores rank well but are miscalibrated. Window 0 keeps its labels (the
reference); windows 1-23 have theirs withheld. Both libraries calibrate on window 0 (isotonic, NannyML's
default; ours also with its automatic choice) and estimate accuracy, precision, recall, F1 and ROC AUC per month.

Printed side by side: time of each (goal: ours ≤ 2 s on 1M rows), per metric the mean |ours − NannyML|, the
share of windows where NannyML's estimate lies inside our interval, and each library's interval coverage of
the realised metric (the labels we withheld).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd
from common import peak_rss_mb

from explore.staleness.estimation import (
    ESTIMATED_METRICS,
    PART_ESTIMATED,
    EstimationParams,
    estimate_performance,
)
from explore.stats.metrics import grouped_metrics
from tests.staleness.simulate import scored_rows, simulate

NANNY_METRICS = {
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "F1": "f1",
    "ROC AUC": "roc_auc",
}


def ours(sc, w, calibration: str):
    ref = w.codes == 0
    lab = scored_rows(sc.y[ref], sc.proba[ref], sc.time[ref].reset_index(drop=True), task="binary")
    unl = scored_rows(
        sc.y[~ref], sc.proba[~ref], sc.time[~ref].reset_index(drop=True), task="binary", labelled=False
    )
    t, c = time.perf_counter(), time.process_time()
    est = estimate_performance(
        lab,
        w,
        EstimationParams(calibration=calibration),
        unlabeled=unl,
        codes=w.codes[ref],
        unlabeled_codes=w.codes[~ref],
        reference=0,
    )
    return est, time.perf_counter() - t, time.process_time() - c


def nanny(sc, w):
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # no telemetry calls from a benchmark
    import nannyml as nml

    df = pd.DataFrame(
        {
            "ts": sc.time.to_numpy(),
            "y_pred_proba": sc.proba[:, 1],
            "y_pred": sc.pred,
            "y_true": sc.y,
        }
    )
    ref, ana = df[w.codes == 0], df[w.codes > 0].drop(columns="y_true")
    t, c = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = nml.CBPE(
            y_pred_proba="y_pred_proba",
            y_pred="y_pred",
            y_true="y_true",
            timestamp_column_name="ts",
            metrics=list(NANNY_METRICS.values()),
            chunk_period="M",
            problem_type="classification_binary",
        )
        est.fit(ref)
        res = est.estimate(ana).filter(period="analysis").to_df()
    return res, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    sc, w, _ = simulate(args.rows, n_windows=24, seed=0)
    print(
        f"{args.rows:,} rows x {w.n_windows} monthly windows; reference = window 0 ({int((w.codes == 0).sum()):,} rows)"
    )
    realised = grouped_metrics(sc, w.codes, w.n_windows, metrics=list(ESTIMATED_METRICS))
    real = realised.pivot(index="group", columns="metric", values="value")

    runs = {}
    for cal in ("isotonic", "auto"):
        est, wall, cpu = ours(sc, w, cal)
        runs[cal] = est
        print(
            f"ml-explore CBPE (calibration {cal:<8s}, {est.calibration.method}) {wall:7.3f} s wall {cpu:7.3f} s CPU"
        )
    try:
        nres, nwall, ncpu = nanny(sc, w)
        print(f"NannyML CBPE (isotonic)                          {nwall:7.3f} s wall {ncpu:7.3f} s CPU")
    except ImportError:
        nres = None
        print("NannyML is not installed: pip install nannyml (the bench extra)")
    print(f"peak RSS {peak_rss_mb():,.0f} MiB\n")

    header = f"{'metric':<10s} {'|ours-NannyML|':>15s} {'NannyML in our CI':>18s} {'our coverage':>13s} {'NannyML coverage':>17s} {'ours auto cov.':>15s}"
    print(header)
    for m in ESTIMATED_METRICS:
        e = runs["isotonic"].series(m, PART_ESTIMATED).set_index("window")
        a = runs["auto"].series(m, PART_ESTIMATED).set_index("window")
        r = real.loc[e.index, m]
        cov = ((e["ci_low"] <= r) & (r <= e["ci_high"])).mean()
        cov_a = ((a["ci_low"] <= r) & (r <= a["ci_high"])).mean()
        if nres is not None:
            key = NANNY_METRICS[m]
            nv = nres[(key, "value")].to_numpy()
            nlo = nres[(key, "lower_confidence_boundary")].to_numpy(dtype="float64")
            nhi = nres[(key, "upper_confidence_boundary")].to_numpy(dtype="float64")
            n = min(len(nv), len(e))
            diff = np.nanmean(np.abs(e["value"].to_numpy()[:n] - nv[:n]))
            inside = np.mean((e["ci_low"].to_numpy()[:n] <= nv[:n]) & (nv[:n] <= e["ci_high"].to_numpy()[:n]))
            rr = r.to_numpy()[:n]
            ncov = np.mean((nlo[:n] <= rr) & (rr <= nhi[:n]))
            print(f"{m:<10s} {diff:15.4f} {inside:18.0%} {cov:13.0%} {ncov:17.0%} {cov_a:15.0%}")
        else:
            print(f"{m:<10s} {'-':>15s} {'-':>18s} {cov:13.0%} {'-':>17s} {cov_a:15.0%}")


if __name__ == "__main__":
    main()
