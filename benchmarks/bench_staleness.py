"""Staleness benchmarks: figures for issue #5, side by side with peers (run by hand, not by pytest).

    pip install ".[bench]"                          # fairlearn (peer for per-window metrics)
    python benchmarks/bench_staleness.py              # everything
    python benchmarks/bench_staleness.py --only perf  # perf | drift | experiment

On the 1M-row bench workspace (train + validation + production joined in time order, 24 calendar months):

1. Performance over time (goal ≤ 2 s): ``performance_over_time`` — 8 metrics per window with
   confidence intervals, plus label/prediction rates — vs fairlearn ``MetricFrame`` grouped by window
   (the same metrics, without intervals). Same numbers checked.
2. Drift matrix, 20 features × 24 windows (goal ≤ 3 s): reference profile + ``drift_by_window`` (PSI,
   KS, JS, p-values) vs the loop a user would write with scipy (``ks_2samp`` per feature and window,
   PSI from ``np.histogram`` on the same edges, chi-square for categories). Same KS checked.
   Data invariants per window are timed too.
3. Staleness experiment with 3 cutoffs (6-month training spans, default budget of 20,000 rows per fit):
   time per fit and in total, against a bare ``clone(model).fit`` on the same rows (the overhead of
   sampling, predicting the windows and computing the metrics).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from common import bench_workspace, best_of, peak_rss_mb, timed

from explore.core.workspace import open_workspace, read_workspace, score
from explore.staleness.drift import data_invariants, drift_by_window, numeric_buckets, reference_profile
from explore.staleness.experiment import StalenessParams, performance_over_time, staleness_experiment
from explore.staleness.windows import apply_windows, concat_scored, time_windows, workspace_timeline


def setup():
    path = bench_workspace()
    with timed("open workspace (not counted)"):
        ws = open_workspace(read_workspace(path))
    with timed("score train + validation + production (not counted)"):
        sc = concat_scored([score(ws, d) for d in ws.dataset_names])
    with timed("join the datasets in time order (not counted)"):
        tl = workspace_timeline(ws, ws.dataset_names, columns=[*ws.feature_names, ws.columns.label])
    return ws, sc, tl


def bench_performance(ws, sc, tl) -> None:
    print("\n== 1. performance over time: 1M rows, 24 monthly windows ==")
    t_win, w = best_of(lambda: time_windows(tl.time, by="month"))
    codes = apply_windows(w, sc.time)
    print(f"windows: {w.n_windows} ({t_win:.3f} s to build)")
    ours, pot = best_of(lambda: performance_over_time(sc, w, codes=codes))
    print(
        f"ours: performance_over_time ({len(pot.metrics)} metrics + CIs + rates) {ours:8.3f} s   goal ≤ 2 s"
    )

    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    pos = sc.positive_index
    y = (sc.y == pos).astype(int)
    yhat = (sc.pred == pos).astype(int)
    p = sc.score
    keep = codes >= 0
    prob = {
        "ROC AUC": roc_auc_score,
        "PR AUC": average_precision_score,
        "Brier": brier_score_loss,
        "log loss": lambda a, b: log_loss(a, b, labels=[0, 1]),
    }
    hard = {"accuracy": accuracy_score, "precision": precision_score, "recall": recall_score, "F1": f1_score}

    def peer():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = MetricFrame(
                metrics=hard, y_true=y[keep], y_pred=yhat[keep], sensitive_features=codes[keep]
            ).by_group
            b = MetricFrame(
                metrics=prob, y_true=y[keep], y_pred=p[keep], sensitive_features=codes[keep]
            ).by_group
        return pd.concat([a, b], axis=1)

    theirs, table = best_of(peer, repeat=1)
    print(f"fairlearn MetricFrame by window (same 8 metrics, no CIs)          {theirs:8.3f} s")
    print(f"ratio: ours is {theirs / ours:.1f}× faster")
    worst = 0.0
    for m in table.columns:
        mine = pot.series(m).set_index("window")["value"]
        worst = max(worst, float(np.nanmax(np.abs(mine.loc[table.index].to_numpy() - table[m].to_numpy()))))
    print(f"largest difference from fairlearn over all metrics and windows: {worst:.2e}")


def _peer_drift(
    ref: pd.DataFrame, cur: pd.DataFrame, codes: np.ndarray, n_w: int, features: list[str], profile
) -> pd.DataFrame:
    """What a user would write: per feature and window, scipy ks_2samp + np.histogram PSI / chi-square."""
    from scipy import stats

    rows = []
    groups = [np.flatnonzero(codes == w) for w in range(n_w)]
    for f in features:
        prof = profile.features[f]
        r = ref[f]
        for w in range(n_w):
            c = cur[f].iloc[groups[w]]
            if prof.kind == "numeric":
                rv, cv = r.dropna().to_numpy("float64"), c.dropna().to_numpy("float64")
                ks = stats.ks_2samp(rv, cv, method="asymp")
                edges = prof.edges
                p = np.bincount(
                    numeric_buckets(r.to_numpy("float64", na_value=np.nan), edges),
                    minlength=len(prof.buckets),
                ) / len(r)
                q = np.bincount(
                    numeric_buckets(c.to_numpy("float64", na_value=np.nan), edges),
                    minlength=len(prof.buckets),
                ) / len(c)
                ks_d, pval = ks.statistic, ks.pvalue
            else:
                vc_r = r.value_counts(dropna=False)
                vc_c = c.value_counts(dropna=False)
                cats = vc_r.index.union(vc_c.index)
                p = vc_r.reindex(cats, fill_value=0).to_numpy() / len(r)
                q = vc_c.reindex(cats, fill_value=0).to_numpy() / len(c)
                table = np.vstack([vc_r.reindex(cats, fill_value=0), vc_c.reindex(cats, fill_value=0)])
                pval = stats.chi2_contingency(table[:, table.sum(0) > 0], correction=False).pvalue
                ks_d = np.nan
            p, q = np.where(p == 0, 1e-4, p), np.where(q == 0, 1e-4, q)
            rows.append(
                {
                    "feature": f,
                    "window": w,
                    "psi": float(((q - p) * np.log(q / p)).sum()),
                    "ks": ks_d,
                    "p": pval,
                }
            )
    return pd.DataFrame(rows)


def bench_drift(ws, sc, tl) -> None:
    print("\n== 2. drift matrix: 20 features × 24 monthly windows on 1M rows, reference = train ==")
    w = time_windows(tl.time, by="month")
    ref = ws.dataset("train")
    features = list(ws.feature_names)
    t_prof, profile = best_of(lambda: reference_profile(ref, features=features, name="train"))
    t_drift, dr = best_of(lambda: drift_by_window(profile, tl.frame, w.codes, w.n_windows))
    print(f"ours: reference profile ({len(features)} features, {len(ref):,} rows)        {t_prof:8.3f} s")
    print(f"ours: drift_by_window (PSI, KS, JS, p-values)                      {t_drift:8.3f} s")
    print(
        f"ours: total                                                         {t_prof + t_drift:8.3f} s   goal ≤ 3 s"
    )
    codes = apply_windows(w, sc.time)
    t_inv, _ = best_of(
        lambda: data_invariants(
            profile, tl.frame, w.codes, w.n_windows, outputs=[sc.proba], output_codes=codes
        )
    )
    print(f"ours: data invariants per window                                    {t_inv:8.3f} s")
    t_peer, peer = best_of(
        lambda: _peer_drift(ref, tl.frame, w.codes, w.n_windows, features, profile), repeat=1
    )
    print(f"peer: scipy ks_2samp + histogram PSI + chi2 loop                    {t_peer:8.3f} s")
    print(f"ratio: ours is {t_peer / (t_prof + t_drift):.1f}× faster")
    mine = dr.table.set_index(["feature", "window"])
    peer = peer.set_index(["feature", "window"])
    num = mine["kind"] == "numeric"
    d_ks = np.nanmax(np.abs(mine.loc[num, "ks"] - peer.loc[mine.index[num], "ks"]))
    print(f"largest KS difference from scipy: {d_ks:.2e}")
    top = dr.top_features(n=5)
    print(
        "top drifting features:",
        ", ".join(f"{f} ({v:.2f})" for f, v in zip(top["feature"], top["max_psi"], strict=True)),
    )


def bench_experiment(ws, sc, tl, max_fit_rows: int) -> None:
    print(f"\n== 3. staleness experiment: 3 cutoffs, 6-month spans, ≤ {max_fit_rows:,} rows per fit ==")
    from sklearn.base import clone

    labelled = tl.frame[ws.columns.label].notna().to_numpy()
    data = tl.frame[labelled].reset_index(drop=True)
    w = time_windows(tl.time[labelled], by="month")
    params = StalenessParams(
        cutoffs=(6, 12, 18), train_windows=6, metric="ROC AUC", max_fit_rows=max_fit_rows
    )
    t = time.perf_counter()
    res = staleness_experiment(
        ws.model(),
        data,
        w,
        features=ws.feature_names,
        label=ws.columns.label,
        task=ws.task,
        classes=ws.classes,
        positive_index=ws.positive_index,
        params=params,
        progress=lambda f, m: print(f"  {time.perf_counter() - t:6.1f} s  {m}", flush=True),
    )
    total = time.perf_counter() - t
    fits = res.fits[res.fits["fitted"]]
    n = len(fits)
    per_fit_incl = total / n
    print(f"fits: {n} (one per cutoff and per evaluation window)")
    print(
        f"time per fit: mean {fits['seconds'].mean():.2f} s (min {fits['seconds'].min():.2f}, max {fits['seconds'].max():.2f});"
        f" with predictions and metrics {per_fit_incl:.2f} s"
    )
    print(f"total: {total:.1f} s   (peak RSS {peak_rss_mb():,.0f} MiB)")
    rows = data.sample(n=min(max_fit_rows, len(data)), random_state=0)
    t0 = time.perf_counter()
    clone(ws.model()).fit(rows[ws.feature_names], rows[ws.columns.label])
    bare = time.perf_counter() - t0
    print(
        f"peer: bare clone(model).fit on {len(rows):,} rows: {bare:.2f} s → experiment overhead per fit ×{per_fit_incl / bare:.2f}"
    )
    print("estimate:", res.estimate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["perf", "drift", "experiment"])
    ap.add_argument("--max-fit-rows", type=int, default=20_000)
    args = ap.parse_args()
    ws, sc, tl = setup()
    if args.only in (None, "perf"):
        bench_performance(ws, sc, tl)
    if args.only in (None, "drift"):
        bench_drift(ws, sc, tl)
    if args.only in (None, "experiment"):
        bench_experiment(ws, sc, tl, args.max_fit_rows)


if __name__ == "__main__":
    main()
