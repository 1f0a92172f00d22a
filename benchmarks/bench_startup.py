"""Cold start as a new user sees it: a fresh `explore run WORKSPACE` process (`streamlit run app.py`) until the
Workspace page is drawn in headless Chromium (script idle, the overall-metrics table shown).

    python benchmarks/bench_startup.py [--workspaces sample bench] [--rows 1000000] [--repeat 1] [--before DIR]

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", nargs="+", choices=["sample", "bench"], default=["sample", "bench"])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the benchmark workspace")
    parser.add_argument("--repeat", type=int, default=1, help="cold/warm pairs per workspace")
    parser.add_argument("--before", type=Path, help="a checkout of an earlier commit, measured alternately")
    args = parser.parse_args()
    codes = {"this": ROOT, **({"before": args.before.resolve()} if args.before else {})}

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
