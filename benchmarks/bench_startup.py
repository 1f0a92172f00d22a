"""Cold start as a new user sees it: a fresh `explore run WORKSPACE` process (`streamlit run app.py`) until the
Workspace page is drawn in headless Chromium (script idle, the overall-metrics table shown).

    python benchmarks/bench_startup.py [--workspaces sample bench] [--rows 1000000] [--repeat 1]

For each workspace, twice per repeat: "first" with the prediction cache beside the workspace emptied
(``<workspace>/.explore-cache``: every dataset is scored by the model), "warm" with the cache the first start
wrote (a new server process: nothing in memory). The browser is already running (a user's browser is); the
clock starts when the server process is started. Goals (issue 18): ≤ 3 s on the sample, ≤ 5 s on 1M rows.
Side by side, in the same run: the peer floor, a bare Streamlit app (`streamlit run` of a script that draws one
st.dataframe) timed the same way, and, in this process, scoring each dataset with the model vs reading its
predictions back from the cache. Also prints `python -X importtime` of the app's first imports.
"""

from __future__ import annotations

import argparse
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


def cold_start(page, workspace: Path, db_url: str) -> tuple[float, float]:
    """(seconds from starting the server until it answers /_stcore/health, seconds until the Workspace page is
    drawn), both from the start of the server process."""
    started = time.monotonic()
    with serve(workspace, db_url=db_url, env={"EXPLORE_USER": "bench"}, timeout=600) as url:
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
    args = parser.parse_args()

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

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp, browser() as page:
        bare = min(bare_streamlit(page, Path(tmp)) for _ in range(args.repeat))
        print(
            f"  peer: bare Streamlit app (one st.dataframe) drawn {bare:5.2f} s after its start", flush=True
        )
        for name, toml in paths.items():
            for i in range(args.repeat):
                shutil.rmtree(toml.parent / ".explore-cache", ignore_errors=True)
                for start in ("first", "warm"):
                    db_url = f"sqlite:///{Path(tmp) / f'{name}-{i}-{start}.db'}"
                    healthy, drawn = cold_start(page, toml, db_url)
                    results.setdefault(name, {}).setdefault(start, []).append(drawn)
                    print(
                        f"  {name:6s} {start:5s} start: server healthy {healthy:5.2f} s, Workspace drawn {drawn:5.2f} s",
                        flush=True,
                    )
    print(f"\nload average after: {os.getloadavg()}")
    print(
        "Cold start: fresh server process -> Workspace page drawn in headless Chromium (seconds, best of runs)"
    )
    print(f"{'workspace':<10s} | {'cache empty':>11s} | {'cache warm':>10s} | {'bare Streamlit':>14s} | goal")
    for name, row in results.items():
        print(
            f"{name:<10s} | {min(row['first']):11.2f} | {min(row['warm']):10.2f} | {bare:14.2f} | ≤ {GOALS[name]:g} s"
        )
    print("\nScoring with the model vs reading the cached predictions (in process, seconds):")
    for name, toml in paths.items():
        for dataset, n, scored, read in scoring_vs_cache(toml):
            print(
                f"  {name:6s} {dataset:<11s} {n:>9,} rows  model {scored:6.2f}  cache {read:6.2f}  ({scored / read:4.1f}x)"
            )


if __name__ == "__main__":
    main()
