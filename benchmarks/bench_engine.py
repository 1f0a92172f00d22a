"""Out-of-core engine benchmark: a partitioned predictions log, the same analyses by DuckDB, Spark and pandas.

    python benchmarks/bench_engine.py --rows 10000000 [--paths duckdb spark pandas] [--threads 2] [--reuse pandas]
    python benchmarks/bench_engine.py --rows 100000000 --paths duckdb
    python benchmarks/bench_engine.py --task multiclass --rows 10000000 --paths duckdb duckdb-per-statistic \
        --dest /tmp/s5-multi

Writes (once, into ``--dest``, default /work/bench-data — outside the repository; chunks of 1M rows, so memory
stays bounded whatever the size) a predictions log of ``--rows`` rows × 20 features as Parquet, partitioned by month (24
``month=YYYY-MM/`` folders), with drift (f0–f4 shift, f15's mix changes) and two planted weak slices
(f15 = c3 & f16 = d1; f17 = e2 & f0 high: the model's scores are noise there). Each path runs in its own
subprocess so that its peak RSS is its own:

* ``duckdb``: ``explore.engine`` on the Parquet folder (nothing loaded whole);
* ``spark``: the same ``explore.engine`` queries translated to Spark SQL, Spark in local mode with ``--threads``
  cores (``local[N]``; the log's encoded rows cached by the executors; the JVM's start is not timed, its RSS is
  not in the figure: peak RSS is the Python driver's);
* ``pandas``: the in-memory path of the app (``explore.stats`` / ``explore.slices`` / ``explore.staleness``)
  on the same rows read into a DataFrame.

Operations: open, overall metrics, slice report after a filter change (a 1-column group-by under a filter),
group-by over 3 columns (~180 groups, 5 metrics with intervals), performance over 24 monthly windows, drift
matrix (20 features × 24 windows against the first month: the default — a uniform row sample above
explore.engine.drift.DRIFT_EXACT_ROWS rows — and every row, compared: max |ΔPSI|, |ΔKS|, PSI verdicts that differ;
beside them on DuckDB the floor, one plain scan of the 20 columns), weak-slice discovery (≤ 2 conditions) with the
planted slices found or not. Figures are printed side by side with the ratio and peak RSS. Each path's figures
are saved beside the log (``results_<path>.json``); ``--reuse pandas`` prints the saved pandas figures instead of
running the slow in-memory path again (the table says which figures were reused and when they were measured).

``--task multiclass`` / ``--task regression``: another log (``log_<task>_<rows>``: 5 string classes a–e with the
predicted class and a probability column per class rounded to 3 decimals; or a continuous target and prediction),
the four metric operations with every default metric of the task, and a floor: one plain DuckDB aggregation of the
files by (f15, f16, f17, label, prediction) — regression: by (f15, f16, f17) with the error's sums — the least any
metric request over them reads. The path
``duckdb-per-statistic`` is the engine's older path for these tasks (a query per statistic), measured in the
same run as the one-pass path (``duckdb``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, peak_rss_mb

MONTHS = 24
NUM = [f"f{i}" for i in range(15)]
CAT = {"f15": "c", "f16": "d", "f17": "e", "f18": "g", "f19": "h"}
LEVELS = {"f15": 6, "f16": 6, "f17": 5, "f18": 8, "f19": 4}
FEATURES = NUM + list(CAT)
METRICS = ["accuracy", "ROC AUC", "log loss", "precision", "recall"]
CHUNK = 1_000_000
METRIC_OPS = ("overall", "slice", "groupby", "windows")
DEST = Path("/work/bench-data")
PATHS = ["duckdb", "spark", "pandas", "duckdb-per-statistic"]
FLOOR = {
    "multiclass": "floor: plain DuckDB GROUP BY f15-f17, label, pred",
    "regression": "floor: plain DuckDB GROUP BY f15-f17, error sums",
}


TASKS = ("binary", "multiclass", "regression")
CLASSES = ["a", "b", "c", "d", "e"]
# The other tasks' logs: fewer features (the metric operations group by f15–f17 and filter on f16).
TASK_NUM = ["f0", "f1", "f2"]
TASK_CAT = ["f15", "f16", "f17"]


def _write_months(folder: Path, rows: int, seed: int, what: str, chunk) -> Path:
    """Write ``rows`` rows over MONTHS monthly partitions of ``folder`` (once: ``_done`` marks it), in chunks of
    at most CHUNK rows made by ``chunk(rng, n, drift)`` (drift: 0 in the first month, 1 in the last), each given a
    uniform timestamp ``ts`` within its month."""
    import numpy as np
    import pandas as pd

    if (folder / "_done").exists():
        return folder
    t = time.perf_counter()
    print(f"writing a {rows:,}-row {what} log into {folder} …", flush=True)
    rng = np.random.default_rng(seed)
    per_month = np.full(MONTHS, rows // MONTHS)
    per_month[: rows % MONTHS] += 1
    for m in range(MONTHS):
        start = pd.Timestamp("2023-01-01") + pd.DateOffset(months=m)
        end = start + pd.DateOffset(months=1)
        part_dir = folder / f"month={start:%Y-%m}"
        part_dir.mkdir(parents=True, exist_ok=True)
        left, part = int(per_month[m]), 0
        while left > 0:
            n = min(CHUNK, left)
            left -= n
            df = chunk(rng, n, m / (MONTHS - 1))
            df["ts"] = pd.to_datetime(start.value + rng.integers(0, (end - start).value, n))
            df.to_parquet(part_dir / f"part-{part}.parquet", index=False)
            part += 1
    (folder / "_done").write_text("ok")
    print(f"  written in {time.perf_counter() - t:.1f} s", flush=True)
    return folder


def generate(dest: Path, rows: int, seed: int = 0, task: str = "binary") -> Path:
    """The partitioned log (written once per size and task); returns its folder."""
    if task != "binary":
        return generate_task(dest, rows, task, seed)
    import numpy as np
    import pandas as pd

    def chunk(rng, n: int, drift: float):
        df = pd.DataFrame({f: rng.normal(0.5 * drift if i < 5 else 0.0, 1.0, n) for i, f in enumerate(NUM)})
        for f, prefix in CAT.items():
            k = LEVELS[f]
            p = np.ones(k) / k
            if f == "f15":  # the mix of f15 drifts
                p = np.linspace(1 - drift * 0.8, 1 + drift * 0.8, k)
                p /= p.sum()
            df[f] = pd.Categorical.from_codes(rng.choice(k, n, p=p), [f"{prefix}{j}" for j in range(k)])
        logit = df["f0"] - 0.8 * df["f1"] + 0.5 * df["f2"] + (df["f15"] == "c1") * 0.7
        y = rng.random(n) < 1 / (1 + np.exp(-logit.to_numpy()))
        noise = rng.normal(0, 0.6 + 0.6 * drift, n)  # the model degrades over time
        score = 1 / (1 + np.exp(-(logit.to_numpy() + noise)))
        weak = ((df["f15"] == "c3") & (df["f16"] == "d1")) | ((df["f17"] == "e2") & (df["f0"] > 1))
        score[weak.to_numpy()] = rng.random(int(weak.sum()))
        df["label"] = y.astype("int8")
        df["score"] = score.round(4)
        df["pred"] = (df["score"] >= 0.5).astype("int8")
        for f in CAT:
            df[f] = df[f].astype(str)
        return df

    return _write_months(dest / f"log_{rows}", rows, seed, "predictions", chunk)


def generate_task(dest: Path, rows: int, task: str, seed: int = 0) -> Path:
    """A multiclass or regression log: the same months, f0–f2 and f15–f17 (the model degrades over time and is
    noise in f15 = c3 & f16 = d1); multiclass: string labels a–e, ``pred`` and ``p_a`` … ``p_e`` (rounded to 3
    decimals: ≤ 1,001 distinct per class); regression: ``label`` and ``pred`` continuous."""
    import numpy as np
    import pandas as pd

    K = len(CLASSES)

    def chunk(rng, n: int, drift: float):
        df = pd.DataFrame(
            {f: rng.normal(0.5 * drift if i < 2 else 0.0, 1.0, n) for i, f in enumerate(TASK_NUM)}
        )
        for f in TASK_CAT:
            k, prefix = LEVELS[f], CAT[f]
            df[f] = np.asarray([f"{prefix}{j}" for j in range(k)])[rng.integers(0, k, n)]
        weak = ((df["f15"] == "c3") & (df["f16"] == "d1")).to_numpy()
        signal = df["f0"].to_numpy() - 0.8 * df["f1"].to_numpy() + 0.5 * df["f2"].to_numpy()
        noise = 0.6 + 0.6 * drift
        if task == "multiclass":
            logits = np.outer(signal, np.linspace(-1.5, 1.5, K)) + rng.normal(0, 1.0, (n, K))
            p_true = np.exp(logits - logits.max(axis=1, keepdims=True))
            p_true /= p_true.sum(axis=1, keepdims=True)
            y = (rng.random(n)[:, None] > np.cumsum(p_true, axis=1)).sum(axis=1).clip(0, K - 1)
            seen = logits + rng.normal(0, noise, (n, K))
            seen[weak] = rng.normal(0, 1.0, (int(weak.sum()), K))
            p = np.exp(seen - seen.max(axis=1, keepdims=True))
            p = (p / p.sum(axis=1, keepdims=True)).round(3)
            df["label"] = np.asarray(CLASSES)[y]
            df["pred"] = np.asarray(CLASSES)[p.argmax(axis=1)]
            for k, c in enumerate(CLASSES):
                df[f"p_{c}"] = p[:, k]
        else:
            y = 50.0 + 10.0 * signal + rng.normal(0, 5.0, n)
            pred = y + rng.normal(0, 5.0 * noise, n)
            pred[weak] = 50.0 + rng.normal(0, 15.0, int(weak.sum()))
            df["label"], df["pred"] = y, pred
        return df

    return _write_months(dest / f"log_{task}_{rows}", rows, seed, task, chunk)


def task_roles(task: str):
    """The log's column roles and classes for ``task``."""
    from explore.core.workspace import ColumnRoles

    if task == "binary":
        roles = ColumnRoles(
            label="label", time="ts", prediction="pred", score="score", task="binary", positive=1
        )
        return roles, [0, 1]
    if task == "multiclass":
        scores = {c: f"p_{c}" for c in CLASSES}
        return ColumnRoles(label="label", time="ts", prediction="pred", scores=scores, task=task), CLASSES
    return ColumnRoles(label="label", time="ts", prediction="pred", task=task), None


PLANTED = [("f15", "c3", "f16", "d1"), ("f17", "e2", "f0", None)]


def _found(slices: list[str]) -> list[bool]:
    out = []
    for a, av, b, bv in PLANTED:
        out.append(any(a in s and av in s and b in s and (bv is None or bv in s) for s in slices))
    return out


def _cpu_s() -> float:
    """CPU seconds of this process and of its running children (Spark's JVM): unlike the wall clock, not inflated
    when the machine's other jobs take the cores."""
    total = time.process_time()
    me, tick = str(os.getpid()), os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if fields[1] == me:  # ppid; utime and stime are fields 14 and 15 of stat
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class _Times(dict):
    """Operation -> seconds; each figure is also printed to stderr as it lands (a long run shows progress), with
    the CPU seconds the operation used (``cpu``: this process and Spark's JVM)."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: dict[str, float] = {}
        self.restart()

    def restart(self) -> None:
        self._cpu = _cpu_s()

    def __setitem__(self, key: str, value: float) -> None:
        super().__setitem__(key, value)
        self.cpu[key] = _cpu_s() - self._cpu
        print(
            f"  {key:<48s} {value:8.2f} s   CPU {self.cpu[key]:8.2f} s   (peak RSS {peak_rss_mb():,.0f} MiB)",
            file=sys.stderr,
            flush=True,
        )
        self.restart()


def run_duckdb(
    folder: Path,
    threads: int,
    engine: str = "duckdb",
    budget: float = 0.0,
    memory: str = "",
    only: tuple[str, ...] = (),
    duck_memory: str = "6GB",
    task: str = "binary",
    per_statistic: bool = False,
) -> dict:
    """The engine path. On Spark, an operation still running after ``budget`` seconds (0: no limit) has its jobs
    cancelled: the figure is then "more than budget", and the next operation runs (the table says which).
    ``per_statistic``: a multiclass / regression log by the older query-per-statistic path."""
    import threading

    from explore.engine import (
        EngineSource,
        by_columns,
        by_time_window,
        grouped_metrics,
        open_log,
        open_source,
    )
    from explore.engine import drift as engine_drift
    from explore.engine.discovery import weak_slices

    times: dict[str, float] = _Times()
    cancelled: dict[str, float] = {}
    failed: dict[str, str] = {}
    queries: dict[str, int] = {}
    spark = None
    if engine == "spark":
        from explore.engine.spark import spark_session

        conf = {"spark.driver.memory": memory} if memory else None
        spark = spark_session(f"local[{threads}]", conf=conf)  # the JVM's start-up: not an analysis
    times.restart()
    t = time.perf_counter()
    con = open_source(EngineSource(folder, engine=engine, master=f"local[{threads}]"))
    if engine == "duckdb":
        con.execute(f"SET threads = {threads}")
        con.execute(f"SET memory_limit = '{duck_memory}'")  # the machine is shared: DuckDB's own cap
    count = [0]
    if spark is not None:  # queries per operation: on Spark each is at least one job
        execute = con.execute

        def counted(query, params=None):
            count[0] += 1
            return execute(query, params)

        con.execute = counted
    if per_statistic:
        from explore.engine import onepass

        onepass.ONE_PASS = False
    roles, classes = task_roles(task)
    log = open_log(con, roles, task=task, classes=classes, positive=roles.positive)
    metrics = METRICS if task == "binary" else None  # the other tasks: every default metric, as a page shows
    n = log.n
    times["open"] = time.perf_counter() - t
    queries["open"] = count[0]
    found = None

    def run(name, fn, key):
        """Time fn() as the operation name(result); cancel its Spark jobs after the budget. An operation that
        fails otherwise is reported as failed, and the next one runs."""
        nonlocal found
        if only and key not in only and not ("metrics" in only and key in METRIC_OPS):
            return
        count[0] = 0
        done = threading.Event()
        if spark is not None and budget:

            def cancel():  # after the budget, cancel every job until the operation gives up
                if not done.wait(budget):
                    while not done.wait(0.5):
                        spark.sparkContext.cancelAllJobs()

            threading.Thread(target=cancel, daemon=True).start()
        t = time.perf_counter()
        try:
            result = fn()
            label = name(result) if callable(name) else name
        except Exception as exc:  # noqa: BLE001 — a failed operation is reported and the next one runs
            took = time.perf_counter() - t
            label = name(None) if callable(name) else name
            if spark is None or not budget or took < budget:
                failed[label] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                print(
                    f"  {label:<48s} failed after {took:.0f} s: {failed[label]}", file=sys.stderr, flush=True
                )
                times.restart()
                return
            cancelled[label] = took
            times.restart()
            print(
                f"  {label:<48s} > {budget:.0f} s: cancelled ({type(exc).__name__})",
                file=sys.stderr,
                flush=True,
            )
            return
        finally:
            done.set()
        times[label] = time.perf_counter() - t
        queries[label] = count[0]

    if task != "binary":  # drift and discovery do not depend on the task: the binary log measures them
        only = tuple(k for k in METRIC_OPS if not only or k in only or "metrics" in only)
    if task != "binary" and engine == "duckdb":

        def floor():  # the least a metric request reads: one plain aggregation of the files, no explore code
            files = f"read_parquet('{folder}/*/*.parquet')"
            if task == "multiclass":
                return con.execute(
                    f"SELECT f15, f16, f17, label, pred, count(*) FROM {files} GROUP BY ALL"
                ).fetchall()
            return con.execute(
                f"SELECT f15, f16, f17, count(*), sum(pred - label), sum((pred - label) * (pred - label)) "
                f"FROM {files} GROUP BY ALL"
            ).fetchall()

        run(FLOOR[task], floor, "overall")
    run("overall metrics", lambda: grouped_metrics(log, None, metrics=metrics), "overall")
    run(
        "slice report after a filter change",
        lambda: grouped_metrics(log, by_columns(log, ["f15"], where="rows.f16 = 'd2'"), metrics=metrics),
        "slice",
    )
    run(
        lambda r: f"group-by 3 columns ({len(r[0]) if r else 180} groups)",
        lambda: grouped_metrics(log, by_columns(log, ["f15", "f16", "f17"]), metrics=metrics),
        "groupby",
    )
    run(
        lambda r: f"performance over {len(r[0]) if r else MONTHS} monthly windows",
        lambda: grouped_metrics(log, by_time_window(log, "month"), metrics=metrics),
        "windows",
    )

    drifts: dict[str, object] = {}

    def drift(exact: bool):
        def go():
            first = engine_drift.first_window(
                log, "month"
            )  # as the app selects it: a range on the time column
            keys, result = engine_drift.drift_matrix(
                log, by_time_window(log, "month"), features=FEATURES, reference_where=first, exact=exact
            )
            drifts["exact" if exact else "default"] = result
            return keys, result

        return go

    if engine == "duckdb":

        def drift_floor():  # the least a drift reads: one plain scan of its 20 columns, no explore code
            files = f"read_parquet('{folder}/*/*.parquet')"
            aggs = [f"sum({f})" for f in FEATURES[:15]] + [f"max({f})" for f in FEATURES[15:]]
            return con.execute(f"SELECT {', '.join(aggs)} FROM {files}").fetchall()

        run(DRIFT_FLOOR, drift_floor, "drift")
    run(DRIFT_DEFAULT, drift(False), "drift")
    run(DRIFT_EXACT, drift(True), "drift")
    drift_note = _compare_drifts(drifts.get("default"), drifts.get("exact"))

    def discovery():
        nonlocal found
        res = weak_slices(log, columns=FEATURES, loss="error")
        found = _found(list(res.slices["slice"]))
        return res

    run("weak-slice discovery (<= 2 conditions)", discovery, "discovery")
    return {
        "rows": n,
        "times": times,
        "cpu": times.cpu,
        "cancelled": cancelled,
        "failed": failed,
        "budget": budget,
        "queries": queries,
        "found": found,
        "rss": peak_rss_mb(),
        **({"drift": drift_note} if drift_note else {}),
    }


DRIFT_FLOOR = "floor: plain scan of the 20 drift columns"
DRIFT_DEFAULT = f"drift matrix {len(FEATURES)} x {MONTHS}, default (sampled)"
DRIFT_EXACT = f"drift matrix {len(FEATURES)} x {MONTHS}, every row"


def _compare_drifts(default, exact) -> dict | None:
    """The default (sampled above explore.engine.drift.DRIFT_EXACT_ROWS) drift matrix against the exact one: the
    sample's sentence, the largest differences of PSI and KS, and the cells whose PSI verdict (< 0.1 stable,
    0.1–0.25 moderate, > 0.25 large) differs."""
    if default is None:
        return None
    out = {"sample": default.sample.sentence() if default.sample else "every row (no sample)"}
    if exact is None:
        return out
    import numpy as np

    from explore.staleness.drift import PSI_LARGE, PSI_MODERATE

    a, b = default.table, exact.table

    def level(p):
        return np.digitize(p, [PSI_MODERATE, PSI_LARGE])

    def last_window(t):  # the drifting features' PSI in the last window
        last = t["window"].max()
        return {
            f: float(t[(t["feature"] == f) & (t["window"] == last)]["psi"].iloc[0])
            for f in ("f0", "f1", "f2", "f3", "f4", "f15")
        }

    dpsi = np.abs(a["psi"].to_numpy() - b["psi"].to_numpy())
    dks = np.abs(a["ks"].to_numpy() - b["ks"].to_numpy())
    flips = a[level(a["psi"].to_numpy()) != level(b["psi"].to_numpy())]
    return {
        **out,
        "max |dPSI|": float(np.nanmax(dpsi)),
        "max |dKS|": float(np.nanmax(dks)),
        "PSI verdict flips": [
            f"{r.feature} window {r.window}: {r.psi:.4f} vs {float(b.loc[i, 'psi']):.4f}"
            for i, r in flips.iterrows()
        ],
        "last window PSI of the drifting features (sampled)": last_window(a),
        "last window PSI of the drifting features (every row)": last_window(b),
    }


def run_pandas(folder: Path, task: str = "binary") -> dict:
    import numpy as np
    import pandas as pd

    if task != "binary":
        return run_pandas_task(folder, task)

    from explore.slices.grouping import group_column
    from explore.slices.report import weak_slices
    from explore.staleness import drift as drift_mod
    from explore.stats import metrics

    times: dict[str, float] = _Times()
    t = time.perf_counter()
    # the partitions only: not the results_<path>.json figures saved beside them
    df = pd.read_parquet(folder, ignore_prefixes=[".", "_", "results_"]).reset_index(drop=True)
    scored = _scored(df)
    times["open"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics.overall_metrics(scored, metrics=METRICS)
    times["overall metrics"] = time.perf_counter() - t
    t = time.perf_counter()
    sel = (df["f16"] == "d2").to_numpy()
    codes, uniq = pd.factorize(df["f15"], sort=True)
    metrics.grouped_metrics(scored, np.where(sel, codes, -1), len(uniq), metrics=METRICS)
    times["slice report after a filter change"] = time.perf_counter() - t
    t = time.perf_counter()
    idx = pd.MultiIndex.from_frame(df[["f15", "f16", "f17"]].astype(str))
    codes, uniq = pd.factorize(idx, sort=True)
    metrics.grouped_metrics(scored, codes, len(uniq), metrics=METRICS)
    times[f"group-by 3 columns ({len(uniq)} groups)"] = time.perf_counter() - t
    t = time.perf_counter()
    month = df["ts"].dt.to_period("M")
    mcodes, muniq = pd.factorize(month, sort=True)
    metrics.grouped_metrics(scored, mcodes, len(muniq), metrics=METRICS)
    times[f"performance over {len(muniq)} monthly windows"] = time.perf_counter() - t
    t = time.perf_counter()
    profile = drift_mod.reference_profile(df[mcodes == 0], features=FEATURES)
    drift_mod.drift_by_window(profile, df, mcodes, len(muniq), features=FEATURES)
    times[DRIFT_EXACT] = time.perf_counter() - t
    t = time.perf_counter()
    group_column(scored, "f0")  # warm nothing: discovery bins every column itself
    res = weak_slices(scored, columns=FEATURES, loss="error")
    times["weak-slice discovery (<= 2 conditions)"] = time.perf_counter() - t
    return {
        "rows": len(df),
        "times": times,
        "cpu": times.cpu,
        "found": _found(list(res.slices["slice"])),
        "rss": peak_rss_mb(),
    }


def run_pandas_task(folder: Path, task: str) -> dict:
    """The in-memory path on a multiclass / regression log: the four metric operations, every default metric."""
    import numpy as np
    import pandas as pd

    from explore.stats import metrics

    times: dict[str, float] = _Times()
    t = time.perf_counter()
    df = pd.read_parquet(folder, ignore_prefixes=[".", "_", "results_"]).reset_index(drop=True)
    scored = _scored_task(df, task)
    times["open"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics.overall_metrics(scored)
    times["overall metrics"] = time.perf_counter() - t
    t = time.perf_counter()
    sel = (df["f16"] == "d2").to_numpy()
    codes, uniq = pd.factorize(df["f15"], sort=True)
    metrics.grouped_metrics(scored, np.where(sel, codes, -1), len(uniq))
    times["slice report after a filter change"] = time.perf_counter() - t
    t = time.perf_counter()
    idx = pd.MultiIndex.from_frame(df[["f15", "f16", "f17"]].astype(str))
    codes, uniq = pd.factorize(idx, sort=True)
    metrics.grouped_metrics(scored, codes, len(uniq))
    times[f"group-by 3 columns ({len(uniq)} groups)"] = time.perf_counter() - t
    t = time.perf_counter()
    mcodes, muniq = pd.factorize(df["ts"].dt.to_period("M"), sort=True)
    metrics.grouped_metrics(scored, mcodes, len(muniq))
    times[f"performance over {len(muniq)} monthly windows"] = time.perf_counter() - t
    return {"rows": len(df), "times": times, "cpu": times.cpu, "found": None, "rss": peak_rss_mb()}


def _scored_task(df, task: str):
    """The Scored of a multiclass / regression log's prediction columns, as explore.core.workspace.score builds it."""
    import numpy as np

    from explore.core.workspace import Scored

    if task == "multiclass":
        classes = np.asarray(CLASSES, dtype=object)
        lookup = {c: k for k, c in enumerate(CLASSES)}
        y = df["label"].map(lookup).to_numpy("int64")
        pred = df["pred"].map(lookup).to_numpy("int64")
        proba = df[[f"p_{c}" for c in CLASSES]].to_numpy("float64")
    else:
        classes, y, pred, proba = None, df["label"].to_numpy("float64"), df["pred"].to_numpy("float64"), None
    return Scored(
        dataset_name="log",
        model_name=None,
        task=task,
        frame=df,
        feature_names=TASK_NUM + TASK_CAT,
        y=y,
        y_raw=df["label"].to_numpy(),
        pred=pred,
        proba=proba,
        score=None,
        classes=classes,
        positive_index=None,
        time=df["ts"],
        ids=np.arange(len(df)),
        unavailable={},
        n_unlabeled=0,
        source_key="bench",
    )


def _scored(df):
    """The Scored of the log's prediction columns, as explore.core.workspace.score builds it."""
    import numpy as np

    from explore.core.workspace import Scored

    s = df["score"].to_numpy("float64")
    y = df["label"].to_numpy("int64")
    return Scored(
        dataset_name="log",
        model_name=None,
        task="binary",
        frame=df,
        feature_names=FEATURES,
        y=y,
        y_raw=y,
        pred=df["pred"].to_numpy("int64"),
        proba=np.column_stack([1 - s, s]),
        score=s,
        classes=np.array([0, 1]),
        positive_index=1,
        time=df["ts"],
        ids=np.arange(len(df)),
        unavailable={},
        n_unlabeled=0,
        source_key="bench",
    )


def _cell(res: dict, op: str) -> str:
    if op in res["times"]:
        return f"{res['times'][op]:>11.2f}s"
    if op in res.get("failed", {}):
        return f"{'failed':>12s}"
    if op in res.get("cancelled", {}):
        return f"{'> ' + format(res['cancelled'][op], '.0f'):>11s}s"
    return f"{'-':>12s}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument(
        "--task",
        default="binary",
        choices=TASKS,
        help="the log's task (multiclass / regression: the metric operations only, every default metric)",
    )
    ap.add_argument("--paths", nargs="+", default=["duckdb", "spark", "pandas"], choices=PATHS)
    ap.add_argument(
        "--threads", type=int, default=2, help="DuckDB threads / Spark local cores (the machine's)"
    )
    ap.add_argument("--dest", default=str(DEST), help="where the log is written (outside the repository)")
    ap.add_argument("--reuse", nargs="*", default=[], choices=PATHS, help="print saved figures")
    ap.add_argument(
        "--budget",
        type=float,
        default=0.0,
        help="Spark: seconds an operation may take before its jobs are cancelled (0: no limit)",
    )
    ap.add_argument(
        "--spark-memory",
        default="",
        help="Spark: the driver's heap, e.g. 6g (default: explore's local setting)",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        default=[],
        choices=["metrics", *METRIC_OPS, "drift", "discovery"],
        help="engine paths: these operations only (open always runs; metrics: the four metric operations)",
    )
    ap.add_argument("--memory-limit", default="6GB", help="DuckDB's memory_limit (the machine is shared)")
    ap.add_argument("--generate-only", action="store_true", help="write the log and stop")
    ap.add_argument("--run", choices=PATHS, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:  # a child: one path, its figures as JSON on the last line
        folder = Path(args.folder)
        out = (
            run_pandas(folder, args.task)
            if args.run == "pandas"
            else run_duckdb(
                folder,
                args.threads,
                "duckdb" if args.run == "duckdb-per-statistic" else args.run,
                args.budget,
                args.spark_memory,
                tuple(args.only),
                args.memory_limit,
                args.task,
                per_statistic=args.run == "duckdb-per-statistic",
            )
        )
        print(json.dumps(out))
        return
    if args.task != "binary" and "duckdb-per-statistic" in args.paths and "spark" in args.paths:
        ap.error("duckdb-per-statistic and spark: run them separately")
    folder = generate(Path(args.dest), args.rows, task=args.task)
    if args.generate_only:
        return
    results, reused = {}, set()
    for path in dict.fromkeys([*args.paths, *args.reuse]):
        saved = folder / f"results_{path}.json"
        if path in args.reuse:
            if not saved.exists():
                print(f"  no saved {path} figures in {saved}: run --paths {path} once first", flush=True)
                continue
            results[path] = json.loads(saved.read_text())
            reused.add(path)
            continue
        print(f"running the {path} path …", flush=True)
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--run",
                path,
                "--folder",
                str(folder),
                "--threads",
                str(args.threads),
                "--task",
                args.task,
                "--budget",
                str(args.budget),
                *(["--spark-memory", args.spark_memory] if args.spark_memory else []),
                *(["--only", *args.only] if args.only else []),
                "--memory-limit",
                args.memory_limit,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )  # the child's stderr (its figures as they land, or its traceback) goes straight to ours
        if proc.returncode != 0:
            print(f"  {path} failed (exit {proc.returncode})", flush=True)
            continue
        results[path] = json.loads(proc.stdout.strip().splitlines()[-1])
        results[path]["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        results[path]["load"] = os.getloadavg()
        saved.write_text(json.dumps(results[path]))
    for path, res in results.items():
        how = "reused from an earlier run" if path in reused else "this run"
        load = ", ".join(f"{x:.1f}" for x in res.get("load", ()))
        print(f"{path}: {how}, measured {res.get('measured', '?')}, load average at the end {load}")
    ops = list(
        dict.fromkeys(
            op
            for res in results.values()
            for op in [*res["times"], *res.get("cancelled", {}), *res.get("failed", {})]
        )
    )
    what = f"{len(FEATURES)} features" if args.task == "binary" else f"a {args.task} log"
    print(f"\n{args.rows:,} rows, {what}, {MONTHS} monthly Parquet partitions")
    # Ratios: pandas / duckdb and pandas / spark (> 1: that engine is faster than the in-memory path).
    ratios = [p for p in ("duckdb", "spark", "duckdb-per-statistic") if p in results and "pandas" in results]
    header = f"{'operation':<48s}" + "".join(f"{p:>12s}" for p in results)
    header += "".join(f"{'pandas/' + p:>15s}" for p in ratios)
    print(header)
    for op in ops:
        line = f"{op:<48s}" + "".join(_cell(results[p], op) for p in results)
        for p in ratios:
            a, b = results["pandas"]["times"].get(op), results[p]["times"].get(op)
            line += f"{a / b:>14.2f}x" if a and b else f"{'-':>15s}"
        print(line)
    print("CPU seconds (this process and, for Spark, its JVM; not inflated by the machine's other jobs)")
    for op in ops:
        cells = [results[p].get("cpu", {}).get(op) for p in results]
        print(f"  {op:<46s}" + "".join(f"{c:>11.2f}s" if c is not None else f"{'-':>12s}" for c in cells))
    print(f"{'peak RSS (MiB)':<48s}" + "".join(f"{results[p]['rss']:>12,.0f}" for p in results))
    print(
        f"{'planted weak slices found':<48s}" + "".join(f"{str(results[p]['found']):>12s}" for p in results)
    )
    if "spark" in results:
        q = results["spark"].get("queries", {})
        print(f"{'Spark: queries (each one job or more)':<48s}" + " ".join(f"{q.get(op, '-')}" for op in ops))
        if results["spark"].get("cancelled"):
            print(
                f"> N s: Spark's jobs were cancelled after the budget of {results['spark']['budget']:.0f} s "
                "(--budget); the operation did not finish"
            )
    for path, res in results.items():
        for op, why in res.get("failed", {}).items():
            print(f"{path} failed on {op}: {why}")
    for path, res in results.items():
        if res.get("drift"):
            print(f"{path} drift, sampled against every row:")
            for k, v in res["drift"].items():
                print(f"  {k}: {v}")
        cpu = res.get("cpu", {})
        if cpu.get(DRIFT_FLOOR):
            base = cpu[DRIFT_FLOOR]
            print(
                f"  {path} drift CPU s x floor: default {cpu.get(DRIFT_DEFAULT, float('nan')) / base:.2f}x, "
                f"every row {cpu.get(DRIFT_EXACT, float('nan')) / base:.2f}x (floor {base:.2f} CPU s)"
            )
    if ratios:
        print("pandas/X = pandas time / X's time (> 1: the engine is faster than the in-memory path)")
    if "duckdb" in results and "duckdb-per-statistic" in results:
        floor = next((op for op in ops if op.startswith("floor")), None)
        base = results["duckdb"].get("cpu", {}).get(floor) if floor else None
        print(
            "one pass against a query per statistic (CPU seconds; x floor: times the plain DuckDB aggregation)"
        )
        for op in ops:
            a, b = (
                results["duckdb-per-statistic"].get("cpu", {}).get(op),
                results["duckdb"].get("cpu", {}).get(op),
            )
            if a and b and op != floor:
                extra = f"   {a / base:6.1f}x floor -> {b / base:5.1f}x floor" if base else ""
                print(f"  {op:<46s}{a:>9.2f}s -> {b:>7.2f}s  ({a / b:5.1f}x less){extra}")


if __name__ == "__main__":
    main()
