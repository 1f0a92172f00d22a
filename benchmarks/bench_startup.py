"""Cold start as a new user sees it: a fresh `explore run WORKSPACE` process (`streamlit run app.py`) until the
Workspace page is drawn in headless Chromium (script idle, the overall-metrics table shown).

    python benchmarks/bench_startup.py [--workspaces sample bench] [--rows 1000000] [--repeat 1] [--before DIR]
    python benchmarks/bench_startup.py --workspaces log [--log /work/bench-data/log_100000000] [--log-starts first warm]
        [--log-asked]

For each workspace, twice per repeat: "first" with the cache beside the workspace emptied
(``<workspace>/.explore-cache``: every model loaded, every dataset scored, the metrics computed), "warm" with the
cache the first start wrote (a new server process: nothing in memory; the model files are not loaded). The browser
is already running (a user's browser is); the clock starts when the server process is started. Goals (issue 18):
≤ 3 s on the sample, ≤ 5 s on 1M rows.
Side by side, in the same run: the peer floor, a bare Streamlit app (`streamlit run` of a script that draws one
st.dataframe) timed the same way; with ``--before DIR`` (an earlier commit, e.g.
``git archive <commit> | tar -x -C DIR``) the same starts served by that code, alternating with this one; in a
fresh process, opening each workspace with its models' facts kept vs loading the model files; and, in this
process, scoring each dataset with the model vs reading its predictions back from the cache. Also prints
`python -X importtime` of the app's first imports. The machine's load average is printed before and after:
wall-clock figures of a shared machine are only comparable within one run.

``--workspaces log`` (issue 14): the app on an out-of-core predictions log read by DuckDB — by default the
100M-row log of bench_engine.py (``python benchmarks/bench_engine.py --rows 100000000 --generate-only`` writes it
to /work/bench-data/log_100000000: 24 hive ``month=`` folders, 13 GB; ``--log`` names another such folder). A
workspace.toml pointing at the folder (predictions-only, ``engine = "duckdb"``; nothing copied) is written under
benchmarks/_work/. A real server and headless Chromium: the time until the workspace is open (the Workspace
page's metrics table shown, from the server's start and from the navigation), then the first view of every page
reached through the sidebar navigation (Slices, Staleness, Importance, Labels, Checks, Rubric: seconds from the
click until the script is idle), the server process's CPU seconds per step (wall time is contended on a shared
machine) and its peak RSS (VmHWM of /proc/<pid>/status, and the sampled RSS of the server and its children).
Then Slices → "Rows & what-if": seconds from choosing the view until the worst rows are shown (on a new log's
first start the page shows the sample draw's progress meanwhile and the rows appear by themselves; no goal).
"first": the cache beside the workspace emptied; "warm": a new server with the cache the first start wrote.
``--log-asked``: in the last start, then press the Staleness page's drift and invariants buttons (passes over
every value of every feature that wait for the user on a big log; minutes at 100M rows), so that the peak RSS
covers them. Goals (issue 14): open ≤ 5 s, first view of a page ≤ 5 s, peak RSS ≤ 4 GiB. The floor, in the same run: plain
DuckDB in a fresh process (2 threads) counting the rows from the Parquet footers and one aggregation over
label, prediction and score of every row (the least a page of overall metrics reads).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, bench_workspace

from tests.browser.driver import browser, serve, wait_idle

GOALS = {"sample": 3.0, "bench": 5.0}
LOG = Path("/work/bench-data/log_100000000")
LOG_GOALS = {"open": 5.0, "page": 5.0, "rss_mib": 4096.0}
LOG_PAGES = (
    "Slices",
    "Staleness",
    "Importance",
    "Labels",
    "Checks",
    "Rubric",
)  # the Workspace page opens first
LOG_TIMEOUT = 900  # seconds for one step; longer is reported as a failure


def cold_start(page, workspace: Path, db_url: str, code: Path = ROOT) -> tuple[float, float]:
    """(seconds from starting the server until it answers /_stcore/health, seconds until the Workspace page is
    drawn), both from the start of the server process. ``code``: the checkout whose explore and app.py serve
    (the server runs `python -m explore.cli` from there)."""
    started = time.monotonic()
    with (
        contextlib.chdir(code),
        serve(workspace, db_url=db_url, env={"EXPLORE_USER": "bench"}, timeout=600) as url,
    ):
        healthy = time.monotonic() - started
        nav_start = time.monotonic()
        page.goto(url)
        wait_idle(page, timeout=600)
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
        errors = page.query_selector_all('[data-testid="stException"], [data-testid="stAlertContentError"]')
        if errors:
            raise RuntimeError(f"the Workspace page showed an error: {errors[0].inner_text()[:500]}")
        idle_at = page.evaluate("() => window.__stIdleAt") or 0
        drawn = nav_start - started + idle_at / 1000
    return healthy, drawn


BARE_APP = """import streamlit as st
st.title("bare")
st.dataframe({"a": [1, 2, 3]})
"""


def bare_streamlit(page, folder: Path) -> float:
    """Seconds from starting `streamlit run` on a one-dataframe script until it is drawn (the peer's floor)."""
    from tests.browser.driver import free_port

    script = folder / "bare_app.py"
    script.write_text(BARE_APP)
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    cmd += [
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import urllib.request

        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() - started > 300 or proc.poll() is not None:
                    raise RuntimeError("the bare Streamlit app did not start") from None
                time.sleep(0.1)
        nav_start = time.monotonic()
        page.goto(f"http://127.0.0.1:{port}")
        wait_idle(page, timeout=120)
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
        idle_at = page.evaluate("() => window.__stIdleAt") or 0
        return nav_start - started + idle_at / 1000
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def scoring_vs_cache(toml: Path) -> list[tuple[str, int, float, float]]:
    """(dataset, rows, seconds to score with the model, seconds to read the cached predictions), in process."""
    from explore.core.score_cache import score_cached
    from explore.core.workspace import open_workspace, read_workspace, score

    ws = open_workspace(read_workspace(toml))
    rows = []
    for name in ws.dataset_names:
        t = time.perf_counter()
        sc = score(ws, name)
        scored = time.perf_counter() - t
        score_cached(ws, name)  # written (or already there)
        t = time.perf_counter()
        got = score_cached(ws, name)
        read = time.perf_counter() - t
        assert got.source == "disk"
        rows.append((name, sc.n, scored, read))
    return rows


OPEN_CODE = """
import json, sys, time
t, c = time.perf_counter(), time.process_time()
from explore.core.workspace import open_workspace, read_workspace
ws = open_workspace(read_workspace(sys.argv[1]))
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c,
                  "skops": "skops" in sys.modules, "sklearn": "sklearn" in sys.modules}))
"""


def open_lazy_vs_eager(toml: Path) -> dict[str, dict]:
    """A fresh process importing explore and opening ``toml`` (imports included): with the models' facts kept
    beside the workspace ("facts"), and with them deleted so the model files are loaded ("load", as before)."""
    out = {}
    for kind in ("load", "facts"):
        if kind == "load":
            for f in (toml.parent / ".explore-cache").glob("model-*.json"):
                f.unlink()
        done = subprocess.run(
            [sys.executable, "-c", OPEN_CODE, str(toml)], cwd=ROOT, capture_output=True, text=True, check=True
        )
        out[kind] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def import_profile() -> list[tuple[float, str]]:
    """The slowest cumulative imports of what app.py imports before a page runs (``-X importtime``)."""
    code = (
        "import streamlit, explore.core.settings, explore.core.workspace, ui.identity, ui.loaders, ui.boundary, "
        "ui.safe, ui.panels.workspace.metrics, ui.panels.workspace.summary, ui.panels.workspace.open_other, "
        "ui.panels.workspace.opening"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:  # top-level imports only
            rows.append((int(m.group(2)) / 1e6, m.group(4)))
    heavy = {"shap", "scipy", "sklearn", "duckdb", "altair", "sqlalchemy", "pyarrow", "numba"}
    loaded = set()
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", line)
        if m:
            loaded.add(m.group(1).split(".")[0])
    print(
        "  heavy packages imported by the app's first imports:", ", ".join(sorted(heavy & loaded)) or "none"
    )
    return sorted(rows, reverse=True)[:8]


def log_workspace(log: Path) -> Path:
    """workspace.toml (under benchmarks/_work/) of the predictions log folder ``log`` as an engine dataset."""
    import duckdb

    if not (log / "_done").exists():
        raise SystemExit(
            f"no complete log at {log}: write it once with `python benchmarks/bench_engine.py --rows 100000000 "
            f"--dest {log.parent} --generate-only` (13 GB, several minutes), or pass --log FOLDER"
        )
    con = duckdb.connect()
    names = [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true))",
            [str(log / "**" / "*.parquet")],
        ).fetchall()
    ]
    con.close()
    features = [c for c in names if re.fullmatch(r"f\d+", c)]
    dest = ROOT / "benchmarks" / "_work" / f"app_{log.name}"
    dest.mkdir(parents=True, exist_ok=True)
    toml = dest / "workspace.toml"
    toml.write_text(
        "# Written by benchmarks/bench_startup.py --workspaces log: the log stays where it is.\n"
        '[columns]\nlabel = "label"\ntime = "ts"\nprediction = "pred"\nscore = "score"\ntask = "binary"\n'
        f"features = {json.dumps(features)}\n\n"
        f'[datasets]\nlog = {{ path = "{log.resolve()}", engine = "duckdb", role = "serving" }}\n'
    )
    return toml


class ServerWatch:
    """The app's server process (found among this process's children by its port): CPU seconds, and its peak
    RSS both as the kernel's high-water mark (VmHWM) and as sampled every 50 ms with its children's."""

    def __init__(self, port: int) -> None:
        import threading

        import psutil

        me = psutil.Process()
        deadline = time.monotonic() + 30
        self.proc = None
        while self.proc is None and time.monotonic() < deadline:
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if f"{port}" in " ".join(child.cmdline()):
                        self.proc = child
                        break
            time.sleep(0.05)
        if self.proc is None:
            raise RuntimeError(f"no server process on port {port} among this process's children")
        self.sampled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        import psutil

        while not self._stop.wait(0.05):
            with contextlib.suppress(psutil.Error):
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                self.sampled = max(self.sampled, rss)

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def hwm_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> float:
        """The sampled peak in MiB."""
        self._stop.set()
        self._thread.join()
        return self.sampled / 2**20


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _problem(page) -> str:
    """An exception box's text (a failure of the step), else an error message the page shows ("says: …": e.g.
    Importance in predictions-only mode explains why it has nothing to show), else ""."""
    boxes = page.query_selector_all('[data-testid="stException"]')
    if boxes:
        return "exception: " + boxes[0].inner_text()[:300].replace("\n", " ")
    said = page.query_selector_all('[data-testid="stAlertContentError"]')
    return "says: " + said[0].inner_text()[:120].replace("\n", " ") if said else ""


def log_app(page, workspace: Path, db_url: str, *, asked: bool = False) -> dict:
    """One server on the log's workspace: the workspace opened, then each page's first view by navigation; with
    ``asked``, then the Staleness page's buttons for drift and invariants pressed (each step timed)."""
    out: dict = {"steps": []}
    started = time.monotonic()
    with (
        contextlib.chdir(ROOT),
        serve(workspace, db_url=db_url, env={"EXPLORE_USER": "bench"}, timeout=600) as url,
    ):
        watch = ServerWatch(_port(url))
        out["healthy"] = time.monotonic() - started
        # Which checkout serves: `streamlit run <checkout>/app.py` imports explore from beside that app.py.
        served = next((a for a in watch.proc.cmdline() if a.endswith("app.py")), "?")
        print(f"    serving {served}", flush=True)
        try:
            cpu0 = watch.cpu()
            nav_start = time.monotonic()
            page.goto(url)
            wait_idle(page, timeout=LOG_TIMEOUT)
            page.get_by_test_id("stDataFrame").first.wait_for(timeout=60_000)
            idle_at = (page.evaluate("() => window.__stIdleAt") or 0) / 1000
            out["open_from_start"] = nav_start - started + idle_at
            out["steps"].append(("Workspace", idle_at, watch.cpu() - cpu0, _problem(page)))
            print(
                f"    {'Workspace':<11s} open {out['open_from_start']:7.2f} s from the server's start, "
                f"{idle_at:7.2f} s from the navigation (server CPU {out['steps'][-1][2]:6.2f} s)  RSS so far "
                f"{watch.hwm_mib():,.0f} MiB {out['steps'][-1][3]}",
                flush=True,
            )
            for title in LOG_PAGES:
                cpu0 = watch.cpu()
                t0 = page.evaluate("() => performance.now()")
                page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
                wait_idle(page, timeout=LOG_TIMEOUT)
                t1 = page.evaluate("() => window.__stIdleAt") or page.evaluate("() => performance.now()")
                problem = _problem(page)
                out["steps"].append((title, (t1 - t0) / 1000, watch.cpu() - cpu0, problem))
                print(
                    f"    {title:<11s} first view {(t1 - t0) / 1000:7.2f} s (server CPU {out['steps'][-1][2]:6.2f} s)"
                    f"  RSS so far {watch.hwm_mib():,.0f} MiB {problem}",
                    flush=True,
                )
            # The row-level sections: Slices -> Rows & what-if, until the worst rows are shown (by themselves: the
            # page shows the sample draw's progress meanwhile, and its polling fragment reruns it once drawn).
            page.get_by_test_id("stSidebarNav").get_by_text("Slices", exact=True).click()
            wait_idle(page, timeout=LOG_TIMEOUT)
            cpu0 = watch.cpu()
            t0 = time.monotonic()
            page.get_by_text("Rows & what-if", exact=True).click()
            wait_idle(page, timeout=LOG_TIMEOUT)
            waited = bool(page.query_selector_all('[data-testid="stExpander"]'))  # the draw's st.status
            page.locator(".st-key-slices_rows_table").wait_for(timeout=LOG_TIMEOUT * 1000)
            step = ("rows: worst rows shown", time.monotonic() - t0, watch.cpu() - cpu0, _problem(page))
            out["steps"].append(step)
            print(
                f"    {step[0]} {step[1]:7.2f} s after choosing the view (server CPU {step[2]:6.2f} s; the draw's "
                f"progress {'shown meanwhile' if waited else 'not needed'})  RSS so far {watch.hwm_mib():,.0f} MiB "
                f"{step[3]}",
                flush=True,
            )
            if asked:  # the passes that wait for the user's button, for the app's peak RSS with them
                page.get_by_test_id("stSidebarNav").get_by_text("Staleness", exact=True).click()
                wait_idle(page, timeout=LOG_TIMEOUT)
                for key in ("staleness_engine_drift_run", "staleness_engine_invariants_run"):
                    button = page.locator(f".st-key-{key} button")
                    if not button.count():
                        continue
                    cpu0 = watch.cpu()
                    t0 = page.evaluate("() => performance.now()")
                    button.click()
                    wait_idle(page, timeout=LOG_TIMEOUT)
                    t1 = page.evaluate("() => window.__stIdleAt") or page.evaluate("() => performance.now()")
                    step = (
                        f"asked: {key.split('_')[2]}",
                        (t1 - t0) / 1000,
                        watch.cpu() - cpu0,
                        _problem(page),
                    )
                    out["steps"].append(step)
                    print(
                        f"    {step[0]:<11s} {step[1]:7.2f} s (server CPU {step[2]:6.2f} s)  RSS so far "
                        f"{watch.hwm_mib():,.0f} MiB {step[3]}",
                        flush=True,
                    )
            out["hwm_mib"] = watch.hwm_mib()
            out["server_cpu"] = watch.cpu()
        finally:
            out["sampled_mib"] = watch.stop()
    return out


FLOOR_CODE = """
import json, sys, time
import duckdb
t, c = time.perf_counter(), time.process_time()
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
glob = sys.argv[1].replace("'", "''")
con.execute(f"CREATE VIEW source AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
n = con.execute("SELECT count(*) FROM source").fetchall()[0][0]
opened, opened_cpu = time.perf_counter() - t, time.process_time() - c
t, c = time.perf_counter(), time.process_time()
con.execute("SELECT label, pred, count(*), sum(score), min(score), max(score) FROM source GROUP BY ALL").fetchall()
print(json.dumps({"rows": n, "open": opened, "open_cpu": opened_cpu,
                  "pass": time.perf_counter() - t, "pass_cpu": time.process_time() - c}))
"""


def duckdb_floor(log: Path) -> dict:
    """Plain DuckDB on the same files in a fresh process: the row count, one pass over label, prediction, score."""
    done = subprocess.run(
        [sys.executable, "-c", FLOOR_CODE, str(log / "**" / "*.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_log(log: Path, starts: list[str], asked: bool = False) -> None:
    """The app on the out-of-core log: figures against issue 14's goals, beside plain DuckDB's floor."""
    toml = log_workspace(log)
    print(f"\nThe app on {log} (workspace {toml}), load average {os.getloadavg()}", flush=True)
    floor = duckdb_floor(log)
    print(
        f"  floor: plain DuckDB, {floor['rows']:,} rows counted in {floor['open']:.2f} s (CPU {floor['open_cpu']:.2f} s), "
        f"one pass over label/pred/score {floor['pass']:.2f} s (CPU {floor['pass_cpu']:.2f} s)",
        flush=True,
    )
    runs = {}
    with tempfile.TemporaryDirectory() as tmp, browser() as page:
        for start in starts:
            if start == "first":
                shutil.rmtree(toml.parent / ".explore-cache", ignore_errors=True)
            print(f"  {start} start (load {os.getloadavg()[0]:.1f}):", flush=True)
            db_url = f"sqlite:///{Path(tmp) / f'log-{start}.db'}"
            runs[start] = log_app(page, toml, db_url, asked=asked and start == starts[-1])
    floor_pass = floor["pass"]
    print(f"\nload average after: {os.getloadavg()}")
    print(
        f"The app on the {floor['rows']:,}-row log (seconds; CPU = the server process's CPU seconds of the step; "
        f"ratio = wall / plain DuckDB's one pass, {floor_pass:.2f} s, CPU {floor['pass_cpu']:.2f} s)"
    )
    print(f"{'start':<6s} {'step':<34s} | {'wall':>7s} | {'CPU':>7s} | {'ratio':>6s} | {'goal':>6s} | ")
    for start, got in runs.items():
        rows = [("server healthy", got["healthy"], None, "")]
        rows.append(("workspace open (from the start)", got["open_from_start"], None, ""))
        rows += [
            (t if t.startswith(("asked", "rows")) else f"first view: {t}", s, c, p)
            for t, s, c, p in got["steps"]
        ]
        for name, wall, cpu, problem in rows:
            goal = LOG_GOALS["open"] if name.startswith("workspace") else LOG_GOALS["page"]
            verdict = "met" if wall <= goal and not problem.startswith("exception") else "MISSED"
            # No goal: the user asked for a long pass, or the rows of a new log's sample (a pass over every column).
            if name == "server healthy" or name.startswith(("asked", "rows")):
                goal, verdict = float("nan"), ""
            cpu_s = f"{cpu:7.2f}" if cpu is not None else f"{'':7s}"
            print(
                f"{start:<6s} {name:<34s} | {wall:7.2f} | {cpu_s} | {wall / floor_pass:6.1f} | ≤ {goal:4g} | "
                f"{verdict} {problem}"
            )
        rss = max(got.get("hwm_mib", 0.0), got["sampled_mib"])
        print(
            f"{start:<6s} {'peak RSS of the server (MiB)':<34s} | {rss:7,.0f} | VmHWM {got.get('hwm_mib', float('nan')):,.0f}, "
            f"sampled with children {got['sampled_mib']:,.0f} | ≤ 4096 | {'met' if rss <= 4096 else 'MISSED'}"
        )
        print(f"{start:<6s} {'server CPU seconds in all':<34s} | {got.get('server_cpu', float('nan')):7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspaces", nargs="+", choices=["sample", "bench", "log"], default=["sample", "bench"]
    )
    parser.add_argument(
        "--log", type=Path, default=LOG, help="folder of the out-of-core predictions log (--workspaces log)"
    )
    parser.add_argument(
        "--log-asked",
        action="store_true",
        help="with --workspaces log: in the last start, also press Staleness' drift and invariants buttons "
        "(each a pass over every value of every feature: minutes at 100M rows) — the app's peak RSS with them",
    )
    parser.add_argument(
        "--log-starts",
        nargs="+",
        choices=["first", "warm"],
        default=["first", "warm"],
        help="with --workspaces log",
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the benchmark workspace")
    parser.add_argument("--repeat", type=int, default=1, help="cold/warm pairs per workspace")
    parser.add_argument("--before", type=Path, help="a checkout of an earlier commit, measured alternately")
    args = parser.parse_args()
    codes = {"this": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    if "log" in args.workspaces:
        run_log(args.log, args.log_starts, args.log_asked)
        args.workspaces = [w for w in args.workspaces if w != "log"]
        if not args.workspaces:
            return

    print(f"load average before: {os.getloadavg()}")
    print("import profile (cumulative seconds, top-level):")
    for seconds, name in import_profile():
        print(f"  {seconds:6.3f} s  {name}")

    paths = {}
    if "sample" in args.workspaces:
        from explore.core.sample import SAMPLE_DIR, ensure_sample

        paths["sample"] = ensure_sample(SAMPLE_DIR)
    if "bench" in args.workspaces:
        paths["bench"] = bench_workspace(args.rows)

    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    bares: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, browser() as page:
        for i in range(args.repeat):
            bares.append(bare_streamlit(page, Path(tmp)))
            print(
                f"  peer: bare Streamlit app (one st.dataframe) drawn {bares[-1]:5.2f} s after its start",
                flush=True,
            )
            for name, toml in paths.items():
                for code_name, code in codes.items():
                    shutil.rmtree(toml.parent / ".explore-cache", ignore_errors=True)
                    for start in ("first", "warm"):
                        db_url = f"sqlite:///{Path(tmp) / f'{name}-{code_name}-{i}-{start}.db'}"
                        healthy, drawn = cold_start(page, toml, db_url, code)
                        results.setdefault((name, code_name), {}).setdefault(start, []).append(drawn)
                        print(
                            f"  {name:6s} {code_name:6s} {start:5s} start: server healthy {healthy:5.2f} s, "
                            f"Workspace drawn {drawn:5.2f} s  (load {os.getloadavg()[0]:.1f})",
                            flush=True,
                        )
    bare = min(bares)
    print(f"\nload average after: {os.getloadavg()}")
    print(
        "Cold start: fresh server process -> Workspace page drawn in headless Chromium (seconds, best of runs; "
        "ratio = warm / bare Streamlit)"
    )
    print(
        f"{'workspace':<10s} {'code':<7s} | {'cache empty':>11s} | {'cache warm':>10s} | {'bare Streamlit':>14s} | "
        f"{'ratio':>5s} | goal"
    )
    for (name, code_name), row in results.items():
        warm = min(row["warm"])
        print(
            f"{name:<10s} {code_name:<7s} | {min(row['first']):11.2f} | {warm:10.2f} | {bare:14.2f} | "
            f"{warm / bare:5.2f} | ≤ {GOALS[name]:g} s"
        )
    print(
        "\nOpening the workspace in a fresh process (imports included): model files loaded vs their facts kept"
    )
    for name, toml in paths.items():
        got = open_lazy_vs_eager(toml)
        load, facts = got["load"], got["facts"]
        print(
            f"  {name:6s} load: wall {load['wall']:5.2f} s, CPU {load['cpu']:5.2f} s (skops imported: {load['skops']})"
            f"  facts: wall {facts['wall']:5.2f} s, CPU {facts['cpu']:5.2f} s (skops imported: {facts['skops']})"
        )
    print("\nScoring with the model vs reading the cached predictions (in process, seconds):")
    for name, toml in paths.items():
        for dataset, n, scored, read in scoring_vs_cache(toml):
            print(
                f"  {name:6s} {dataset:<11s} {n:>9,} rows  model {scored:6.2f}  cache {read:6.2f}  ({scored / read:4.1f}x)"
            )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
