"""Slices benchmarks: figures for issue #3, side by side with the peers (run by hand, not by pytest).

    pip install ".[bench]"            # fairlearn, sliceline, psutil
    python benchmarks/bench_slices.py                 # everything
    python benchmarks/bench_slices.py --only report   # report | groups | discovery

1. Slice report after a filter change on 1M rows × 20 features (goal ≤ 0.5 s).
2. ``grouped_metrics`` by 3 columns (~180 groups; accuracy, precision, recall, F1, ROC AUC with
   intervals) vs fairlearn ``MetricFrame`` and vs a plain numpy bincount floor without intervals: same
   numbers, and the speed ratios (goals: ≥ 30× MetricFrame, within 2× of the floor).
3. Weak-slice discovery vs ``sliceline`` on the same binned data with planted weak slices, at 250k rows
   (time, peak memory, planted slices recovered), then ours alone on 1M rows (goal ≤ 10 s, ≪ 2 GiB).
   Each tool runs in a fresh subprocess so that its peak memory is its own.

The 1M-row data set is the bench sample (``explore.core.sample.build_workspace(..., size="bench")``: its
train + validation + production files, 1,000,000 rows) scored once by its model; the scored arrays are
kept in ``benchmarks/_work/`` (gitignored) so reruns skip the scoring.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "benchmarks" / "_work"
BENCH = WORK / "bench"
ALL_ROWS = WORK / "slices_1m"

# Planted weak slices for the discovery comparison: (conditions on binned columns, error rate inside).
BASE_ERROR = 0.12
PLANTED = [
    ({"device": "tablet", "contract": "month-to-month"}, 0.40),
    ({"region": "South", "plan": "premium"}, 0.35),
    ({"payment_method": "mailed_check", "tenure_months": "q0"}, 0.38),
    ({"language": "de"}, 0.22),
    ({"household": "family", "acquisition_channel": "referral"}, 0.36),
]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class RssSampler:
    """Peak resident memory of this process while a block runs, above what it held when the block began
    (sampled every 5 ms with psutil; the data a tool is given is not counted)."""

    def __enter__(self) -> RssSampler:
        import threading

        import psutil

        self._proc = psutil.Process()
        self.start = self._proc.memory_info().rss
        self.peak = self.start
        self._stop = threading.Event()

        def run() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, self._proc.memory_info().rss)
                self._stop.wait(0.005)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def extra_mib(self) -> float:
        return (self.peak - self.start) / 2**20


LAST_CPU = [0.0]  # CPU seconds of the fastest run of the last ``timed`` call


def timed(fn, repeat: int = 1):
    """Best wall time of ``repeat`` runs (and its CPU time in ``LAST_CPU``: the machine may be shared)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        c0, t0 = cpu_seconds(), time.perf_counter()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, LAST_CPU[0] = wall, cpu_seconds() - c0
    return best, out


# ---- data --------------------------------------------------------------------------------------------


def ensure_bench() -> Path:
    if not (BENCH / "workspace.toml").exists():
        from explore.core.sample import build_workspace

        print("Building the 1M-row bench workspace (once)…", flush=True)
        build_workspace(BENCH, size="bench", progress=lambda f, m: print(f"  {f:4.0%} {m}", flush=True))
    return BENCH / "workspace.toml"


def scored_1m():
    """All 1M rows of the bench sample, scored by its model (cached on disk after the first run)."""
    from explore.core.workspace import Scored, open_workspace, read_workspace

    ensure_bench()
    ws = open_workspace(read_workspace(BENCH / "workspace.toml"))
    frame = pd.concat([ws.dataset(n) for n in ("train", "validation", "production")], ignore_index=True)
    cache = ALL_ROWS / "scored.npz"
    if cache.exists():
        z = np.load(cache)
        proba = z["proba"]
    else:
        from explore.core.workspace import predict_frame

        print("Scoring 1,000,000 rows once (cached afterwards)…", flush=True)
        t0 = time.perf_counter()
        _, proba = predict_frame(ws.model(), frame[ws.feature_names])
        print(f"  scored in {time.perf_counter() - t0:.1f} s", flush=True)
        ALL_ROWS.mkdir(parents=True, exist_ok=True)
        np.savez(cache, proba=proba)
    classes = ws.classes
    pos = ws.positive_index
    y = (frame["churned"].to_numpy() == classes[pos]).astype(np.int64)
    y = np.where(y == 1, pos, 1 - pos)
    pred = proba.argmax(axis=1)
    times = pd.to_datetime(frame["snapshot_date"])
    return Scored(
        dataset_name="all",
        model_name="current",
        task="binary",
        frame=frame,
        feature_names=list(ws.feature_names),
        y=y,
        y_raw=classes[y],
        pred=pred,
        proba=proba,
        score=proba[:, pos],
        classes=classes,
        positive_index=pos,
        time=times,
        ids=frame["customer_id"].to_numpy(),
        unavailable={},
        n_unlabeled=0,
    )


# ---- 1. slice report ---------------------------------------------------------------------------------


def bench_report(sc) -> None:
    from explore.slices.definition import Condition, SliceDefinition
    from explore.slices.report import slice_report

    print(f"\n== 1. Slice report after a filter change ({sc.n:,} rows × {len(sc.feature_names)} features)")
    slice_report(sc, SliceDefinition())  # warms the per-dataset caches (overall metrics, score order)
    filters = [
        SliceDefinition((Condition("device", "in", values=("tablet",)),)),
        SliceDefinition(
            (
                Condition("region", "in", values=("South", "East")),
                Condition("tenure_months", "range", lo=0, hi=12),
            )
        ),
        SliceDefinition(
            (
                Condition("contract", "in", values=("month-to-month",)),
                Condition("monthly_charges", "range", lo=70),
            )
        ),
        SliceDefinition((Condition("plan", "not_in", values=("basic",)),)),
    ]
    for sd in filters:
        t, rep = timed(lambda sd=sd: slice_report(sc, sd), repeat=3)
        print(
            f"  {t:6.3f} s wall ({LAST_CPU[0]:.3f} s CPU)  {rep.n_slice:>9,} rows  {sd.describe()}  (goal ≤ 0.5 s)"
        )


# ---- 2. grouped metrics vs MetricFrame vs the floor --------------------------------------------------


def group_codes(sc) -> tuple[np.ndarray, int, pd.DataFrame]:
    from explore.slices.grouping import group_column

    a = group_column(sc, "region")
    b = group_column(sc, "device")
    c = group_column(sc, "monthly_charges", bins=9)
    codes = (a.codes.astype(np.int64) * b.n_groups + b.codes) * c.n_groups + c.codes
    uniq, inv = np.unique(codes, return_inverse=True)
    feats = pd.DataFrame({"region": a.codes, "device": b.codes, "charges": c.codes})
    return inv.astype(np.int64), len(uniq), feats


def floor_metrics(
    y: np.ndarray, pred: np.ndarray, score: np.ndarray, codes: np.ndarray, G: int
) -> pd.DataFrame:
    """The same five numbers per group with plain numpy and no intervals: bincounts and one sort for AUC."""
    tp = np.bincount(codes, weights=(y == 1) & (pred == 1), minlength=G)
    fp = np.bincount(codes, weights=(y == 0) & (pred == 1), minlength=G)
    fn = np.bincount(codes, weights=(y == 1) & (pred == 0), minlength=G)
    n = np.bincount(codes, minlength=G)
    correct = np.bincount(codes, weights=y == pred, minlength=G)
    order = np.argsort(score, kind="stable")
    order = order[np.argsort(codes.astype(np.int16)[order], kind="stable")]
    g = codes[order]
    starts = np.searchsorted(g, np.arange(G))
    rank = np.arange(len(g)) - starts[g] + 1.0  # ranks inside each group (continuous scores: no ties)
    npos = np.bincount(codes, weights=y, minlength=G)
    rank_sum = np.bincount(g, weights=rank * y[order], minlength=G)
    auc = (rank_sum - npos * (npos + 1) / 2) / (npos * (n - npos))
    return pd.DataFrame(
        {
            "accuracy": correct / n,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "F1": 2 * tp / (2 * tp + fp + fn),
            "ROC AUC": auc,
        }
    )


def bench_groups(sc) -> None:
    from explore.stats.metrics import grouped_metrics

    names = ["accuracy", "precision", "recall", "F1", "ROC AUC"]
    codes, G, feats = group_codes(sc)
    print(f"\n== 2. Metrics by 3 columns: {G} groups × {len(names)} metrics on {sc.n:,} rows")
    y1 = (sc.y == sc.positive_index).astype(np.int64)
    p1 = (sc.pred == sc.positive_index).astype(np.int64)
    from explore.stats import metrics as metrics_mod

    def cold():
        metrics_mod._ORDER_CACHE.clear()  # forget the per-dataset score order: pay the sort, like the floor does
        return grouped_metrics(sc, codes, G, metrics=names)

    t_cold, _ = timed(cold, repeat=3)
    c_cold = LAST_CPU[0]
    t_ours, ours = timed(lambda: grouped_metrics(sc, codes, G, metrics=names), repeat=3)
    c_ours = LAST_CPU[0]
    t_floor, floor = timed(lambda: floor_metrics(y1, p1, sc.score, codes, G), repeat=3)
    c_floor = LAST_CPU[0]
    print(f"  CPU seconds: ours first call {c_cold:.3f}, cached {c_ours:.3f}, floor {c_floor:.3f}")
    print(f"  ours, with intervals, first call (sorts the scores):  {t_cold:7.3f} s")
    print(f"  ours, with intervals, score order cached per dataset: {t_ours:7.3f} s")
    print(f"  numpy floor, no intervals (one sort, bincounts):      {t_floor:7.3f} s")
    print(
        f"  ratio ours/floor = {t_cold / t_floor:.2f}× first call, {t_ours / t_floor:.2f}× cached (goal ≤ 2×)"
    )
    wide = ours.pivot(index="group", columns="metric", values="value")[names]
    print(f"  max |ours − floor| = {np.nanmax(np.abs(wide.to_numpy() - floor.to_numpy())):.2e}")
    try:
        from fairlearn.metrics import MetricFrame
        from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
    except ImportError:
        print("  fairlearn is not installed (pip install '.[bench]'): MetricFrame skipped")
        return

    def auc(y_true, y_pred, y_score):
        return roc_auc_score(y_true, y_score)

    metrics = {
        "accuracy": accuracy_score,
        "precision": precision_score,
        "recall": recall_score,
        "F1": f1_score,
        "ROC AUC": auc,
    }
    c0, t0 = cpu_seconds(), time.perf_counter()
    mf = MetricFrame(
        metrics=metrics,
        y_true=y1,
        y_pred=p1,
        sensitive_features=feats,
        sample_params={"ROC AUC": {"y_score": sc.score}},
    )
    t_mf, c_mf = time.perf_counter() - t0, cpu_seconds() - c0
    bg = mf.by_group.reset_index()
    key = (
        feats["region"].to_numpy().astype(np.int64) * 10_000
        + feats["device"].to_numpy() * 100
        + feats["charges"].to_numpy()
    )
    first = pd.Series(codes).groupby(key).first()
    bg_key = (
        bg["region"].astype(np.int64) * 10_000
        + bg["device"].astype(np.int64) * 100
        + bg["charges"].astype(np.int64)
    )
    bg = (
        bg.assign(group=first.reindex(bg_key.to_numpy()).to_numpy())
        .dropna(subset=["group"])
        .set_index("group")
        .sort_index()
    )
    diff = np.nanmax(
        np.abs(wide.loc[bg.index.astype(int), names].to_numpy() - bg[names].to_numpy(dtype="float64"))
    )
    print(f"  fairlearn MetricFrame: {t_mf:7.3f} s wall ({c_mf:.1f} s CPU)")
    print(
        f"  speed-up ours vs MetricFrame = {t_mf / t_cold:.0f}× first call, {t_mf / t_ours:.0f}× cached (goal ≥ 30×)"
    )
    print(f"  max |ours − MetricFrame| = {diff:.2e} over {len(bg)} groups")


# ---- 3. discovery vs sliceline -----------------------------------------------------------------------


def planted_data(
    n: int, seed: int = 0, *, weak: bool = False
) -> tuple[pd.DataFrame, np.ndarray, list[dict[str, str]]]:
    """The bench features (numeric ones in 4 quantile bins "q0".."q3"), n rows, and 0/1 errors with
    the planted slices' error rates (elsewhere ``BASE_ERROR``). ``weak``: each planted slice's excess
    error is a quarter of the planted one (e.g. 0.12 → 0.40 becomes 0.12 → 0.19)."""
    from explore.core.workspace import open_workspace, read_workspace

    ensure_bench()
    ws = open_workspace(read_workspace(BENCH / "workspace.toml"))
    frame = pd.concat([ws.dataset(n_) for n_ in ("train", "validation", "production")], ignore_index=True)
    frame = frame.sample(n=n, random_state=seed, replace=n > len(frame)).reset_index(drop=True)
    X = pd.DataFrame(index=frame.index)
    for c in ws.feature_names:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s.dtype):
            X[c] = pd.qcut(s.rank(method="first"), 4, labels=["q0", "q1", "q2", "q3"]).astype(str)
            X.loc[s.isna(), c] = "missing"
        else:
            X[c] = s.fillna("missing").astype(str)
    rng = np.random.default_rng(seed)
    rate = np.full(n, BASE_ERROR)
    planted = []
    for conds, r in PLANTED:
        if weak:
            r = BASE_ERROR + (r - BASE_ERROR) / 4
        conds = {k: v if v in set(X[k]) else X[k].value_counts().index[-1] for k, v in conds.items()}
        m = np.ones(n, dtype=bool)
        for k, v in conds.items():
            m &= (X[k] == v).to_numpy()
        rate[m] = np.maximum(rate[m], r)
        planted.append(conds)
    errors = (rng.random(n) < rate).astype(np.float64)
    return X, errors, planted


def _as_scored(X: pd.DataFrame, errors: np.ndarray):
    from explore.core.workspace import Scored

    n = len(X)
    y = np.zeros(n, dtype=np.int64)
    pred = errors.astype(np.int64)  # wrong exactly where errors == 1: row_loss is the 0/1 error
    return Scored(
        dataset_name="planted",
        model_name=None,
        task="binary",
        frame=X,
        feature_names=list(X.columns),
        y=y,
        y_raw=np.array(["a", "b"])[y],
        pred=pred,
        proba=None,
        score=None,
        classes=np.array(["a", "b"]),
        positive_index=1,
        time=None,
        ids=np.arange(n),
        unavailable={},
        n_unlabeled=0,
    )


def worker(tool: str, n: int, weak: bool = False) -> None:
    """Run one discovery tool in this (fresh) process and print a JSON line of its figures.

    The tool runs twice: timed (with resident memory sampled), then under ``tracemalloc`` for the peak of
    memory it allocates (numpy and scipy allocations are traced), which does not depend on what the
    process had already freed."""
    import tracemalloc

    X, errors, planted = planted_data(n, weak=weak)
    min_sup = max(50, int(0.001 * n))
    if tool == "ours":
        from explore.slices.report import weak_slices

        sc = _as_scored(X, errors)

        def run():
            return weak_slices(sc, max_conditions=2, min_support=min_sup, fdr=0.05, n_bins=4)

    else:
        from sliceline.slicefinder import Slicefinder

        def run():
            return Slicefinder(alpha=0.95, k=10, max_l=2, min_sup=min_sup, verbose=False).fit(X, errors)

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with RssSampler() as mem:
        res = run()
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    if tool == "ours":
        from explore.slices import grouping

        grouping._GROUPING_CACHE.clear()  # measure the binning's allocations too, as in the timed run
    tracemalloc.start()
    run()
    traced = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    if tool == "ours":
        found = [{c.column: c.values[0] for c in d.conditions if c.op == "in"} for d in res.definitions]
        # At sliceline's list length: our first 10 distinct problems (slices folded under one are not
        # separate entries of the list a person reads).
        top = [found[i] for i in np.flatnonzero(res.slices["parent"].to_numpy() == "")[:10]]
        extra = {"n_tested": res.n_tested, "n_reported": len(res.slices), "n_folded": res.n_folded}
    else:
        found = [
            {c: v for c, v in zip(X.columns, row, strict=True) if v is not None} for row in res.top_slices_
        ]
        top = found[:10]
        extra = {"n_reported": len(found)}
    recovered = sum(any(f == p for f in found) for p in planted)
    in_top = sum(any(f == p for f in top) for p in planted)
    top_precision = sum(any(f == p for p in planted) for f in top) / max(len(top), 1)
    figures = {
        "tool": tool,
        "rows": n,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "extra_mib": mem.extra_mib,
        "traced_mib": traced,
        "peak_mib": peak_rss_mib(),
        "recovered": recovered,
        "planted": len(planted),
        "top10_recall": in_top / len(planted),
        "top10_precision": top_precision,
        "weak": weak,
        **extra,
    }
    print(json.dumps(figures))


def run_worker(tool: str, n: int, weak: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", tool, "--rows", str(n)] + (["--weak"] if weak else []),
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"tool": tool, "rows": n, "error": (out.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(lines[-1])


def bench_discovery(compare_rows: int, big_rows: int, *, weak: bool = False) -> None:
    print(
        f"\n== 3. Weak-slice discovery, ≤ 2 conditions, {len(PLANTED)} planted slices (20 features, binned)"
        + (", weak effects (a quarter of the planted excess error)" if weak else "")
    )
    rows = []
    runs = [("ours", compare_rows), ("sliceline", compare_rows)] + ([("ours", big_rows)] if big_rows else [])
    for tool, n in runs:
        r = run_worker(tool, n, weak)
        rows.append(r)
        if "error" in r:
            print(f"  {tool:9s} {n:>9,} rows: failed: {r['error']}")
            continue
        print(
            f"  {tool:9s} {n:>9,} rows: {r['seconds']:7.2f} s wall ({r['cpu_seconds']:.2f} s CPU), "
            f"allocated peak {r['traced_mib']:6.0f} MiB, RSS growth {r['extra_mib']:5.0f} MiB "
            f"(process peak {r['peak_mib']:.0f} MiB incl. data), "
            f"planted recovered {r['recovered']}/{r['planted']}, reported {r['n_reported']}"
            + (f", tested {r['n_tested']:,}, folded {r['n_folded']}" if "n_tested" in r else "")
            + f"; top 10: planted recall {r['top10_recall']:.2f}, precision {r['top10_precision']:.2f}"
        )
    ours, peer = rows[0], rows[1]
    if "error" not in ours and "error" not in peer:
        print(
            f"  at {compare_rows:,} rows: ours is {peer['seconds'] / ours['seconds']:.0f}× faster, "
            f"allocates {peer['traced_mib'] / max(ours['traced_mib'], 1):.0f}× less memory at its peak"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["report", "groups", "discovery"])
    ap.add_argument("--compare-rows", type=int, default=250_000, help="rows for the sliceline comparison")
    ap.add_argument("--big-rows", type=int, default=1_000_000, help="rows for our discovery alone")
    ap.add_argument("--worker", choices=["ours", "sliceline"], help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument(
        "--weak", action="store_true", help="discovery: also run on data with weak planted effects"
    )
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.rows, args.weak)
        return
    import platform

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, {platform.machine()}"
    )
    if args.only in (None, "report", "groups"):
        sc = scored_1m()
        if args.only in (None, "report"):
            bench_report(sc)
        if args.only in (None, "groups"):
            bench_groups(sc)
    if args.only in (None, "discovery"):
        bench_discovery(args.compare_rows, args.big_rows)
        if args.weak:
            bench_discovery(args.compare_rows, 0, weak=True)


if __name__ == "__main__":
    main()
