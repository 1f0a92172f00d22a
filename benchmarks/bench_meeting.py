"""A review meeting on one server, in real browsers (headless Chromium through Playwright).

    python benchmarks/bench_meeting.py live [--confirmations 8]
    python benchmarks/bench_meeting.py load [--sessions 20] [--reruns 5] [--rows 1000000]

live: two reviewers on the Rubric page of the tiny workspace; one confirms a test, the other (no reload) waits
      until the section score shows it. Prints each delay and the p50 / p95 (goal ~2 s: ui.live polls every 2 s).
load: ``--sessions`` browser sessions (one Chromium, a context each: separate people) open the Workspace page of
      the 1M-row benchmark workspace on one server at once, then rerun it ``--reruns`` times each (Streamlit's
      "R" shortcut), all together. Prints p50 / p95 of the first page and of a rerun (from the key press until the
      script is idle, measured in the page), and the server's resident memory after one session and after all of
      them: the big frames live in st.cache_resource (one copy for every session), so the growth per session is
      small next to the frames' size (printed too).
The load average is printed before and after: on a shared machine the figures are only as good as it is idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
from pathlib import Path

from common import bench_workspace

from tests.browser.driver import (
    _RUN_COUNTER,
    _SETTLED,
    CHROMIUM,
    CHROMIUM_ARGS,
    browsers,
    nav,
    open_page,
    open_rubric_test,
    serve,
    wait_idle,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---- live: how long until another reviewer's confirmation shows ------------------------------------------


def _score_heading(page, section: str) -> str:
    main = page.get_by_test_id("stMainBlockContainer")
    return main.get_by_role("heading", name=re.compile(f"^{section} — ")).inner_text()


def bench_live(confirmations: int) -> list[float]:
    from playwright.sync_api import expect

    from explore.core.sample import build_workspace
    from explore.core.store import Store
    from explore.rubric import ml_test_score

    tests = [t for t in ml_test_score.TESTS if t.section == "data"][:confirmations]
    delays = []
    with tempfile.TemporaryDirectory() as tmp:
        workspace = build_workspace(Path(tmp) / "ws", size="tiny")
        db_url = f"sqlite:///{Path(tmp) / 'store.db'}"
        with Store(db_url) as store:
            ml_test_score.start_review(store, "meeting", "v1")
        with serve(workspace, db_url=db_url, env={"EXPLORE_USER": "server"}) as url, browsers(2) as pages:
            alice, bob = pages
            for page, name in ((alice, "Alice"), (bob, "Bob")):
                open_page(page, url)
                nav(page, "Rubric")
                box = page.get_by_role("textbox", name="Your name")
                box.fill(name)
                box.press("Enter")
                wait_idle(page)
            for n, test in enumerate(tests, start=1):
                editor = open_rubric_test(bob, test.name)
                form = editor.get_by_test_id("stForm")
                form.get_by_text("manual (0.5 pt)", exact=True).click()
                form.get_by_role("button", name="Confirm").click()
                clicked = time.monotonic()
                shown = f"Data — {n * 0.5:g} / 7"
                heading = alice.get_by_test_id("stMainBlockContainer").get_by_role(
                    "heading", name=re.compile("^" + shown.replace(".", r"\.").replace("/", r"\/"))
                )
                expect(heading).to_be_visible(timeout=60_000)
                delays.append(time.monotonic() - clicked)
                wait_idle(bob)
                print(f"  confirmation {n}: shown to the other reviewer after {delays[-1]:.2f} s", flush=True)
    return delays


# ---- load: many sessions on the 1M-row workspace ---------------------------------------------------------


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server_pid(port: int) -> int:
    """The Streamlit server serving ``port`` (`explore run` execs into it, so it is the process we started)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and str(port).encode() in cmd:
            return int(proc.name)
    raise RuntimeError(f"no streamlit process serves port {port}")


# Waits (in the page) until a script run after the ``seen``-th has started and the page has settled; returns
# performance.now() of the moment the script went idle.
_IDLE_AFTER = """async ([seen, calm]) => {
  while (!(window.__stRuns > seen)) await new Promise((r) => setTimeout(r, 20));
  window.__stCalmSince = null;
  const settled = __SETTLED__;
  while (!settled(calm)) await new Promise((r) => setTimeout(r, 20));
  return window.__stIdleAt;
}""".replace("__SETTLED__", _SETTLED)


WAIT_SECONDS = 600  # one page or rerun that takes longer is counted as stuck (printed), not waited for


async def _idle_after(page, seen: int) -> float:
    return await asyncio.wait_for(page.evaluate(_IDLE_AFTER, [seen, 300]), WAIT_SECONDS)


async def _session(browser, url: str, reruns: int, start: asyncio.Event, out: dict, name: str) -> None:
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    ctx = await browser.new_context(viewport={"width": 1400, "height": 1600})
    try:
        await ctx.add_init_script(_RUN_COUNTER)
        page = await ctx.new_page()
        await start.wait()
        await page.goto(url, timeout=WAIT_SECONDS * 1000)
        idle_at = await _idle_after(page, 0)
        await page.get_by_test_id("stDataFrame").first.wait_for(timeout=WAIT_SECONDS * 1000)
        out["first"].append(idle_at / 1000)
        print(f"  {name}: Workspace page in {idle_at / 1000:.2f} s", flush=True)
        for _ in range(reruns):
            seen = await page.evaluate("() => window.__stRuns")
            for attempt in range(3):
                t0 = await page.evaluate("() => performance.now()")
                await page.keyboard.press("r")  # Streamlit's rerun shortcut
                try:  # a key press can get lost on a page busy drawing: pressed again, and counted
                    await page.wait_for_function(f"() => window.__stRuns > {seen}", timeout=15_000)
                    break
                except PlaywrightTimeout:
                    out["pressed_again"] += 1
                    if attempt == 2:
                        raise
            idle_at = await _idle_after(page, seen)
            out["rerun"].append((idle_at - t0) / 1000)
            print(f"  {name}: rerun in {(idle_at - t0) / 1000:.2f} s", flush=True)
        if await page.query_selector('[data-testid="stException"]'):
            out["errors"] += 1
    except (TimeoutError, Exception) as exc:  # noqa: BLE001 - a stuck session is a figure, not a crash
        out["stuck"].append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
        print(f"  {name}: STUCK {type(exc).__name__}", flush=True)
    finally:
        await ctx.close()


async def _load(url: str, port: int, sessions: int, reruns: int) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {"first": [], "rerun": [], "errors": 0, "stuck": [], "pressed_again": 0}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pid = _server_pid(port)
        out["rss_idle"] = _rss_mb(pid)
        # One session first: the workspace is opened and scored (from the disk cache when warm) once.
        go = asyncio.Event()
        go.set()
        t = time.monotonic()
        await _session(
            browser,
            url,
            0,
            go,
            {"first": [], "rerun": [], "errors": 0, "stuck": [], "pressed_again": 0},
            "warm-up",
        )
        out["one_session_s"] = time.monotonic() - t
        out["rss_one"] = _rss_mb(pid)
        start = asyncio.Event()
        tasks = [
            asyncio.create_task(_session(browser, url, reruns, start, out, f"session {i + 1}"))
            for i in range(sessions)
        ]
        await asyncio.sleep(1)
        t = time.monotonic()
        start.set()
        peak = out["rss_one"]
        while not all(task.done() for task in tasks):
            peak = max(peak, _rss_mb(pid))
            await asyncio.sleep(0.5)
        for task in tasks:
            task.result()
        out["all_sessions_s"] = time.monotonic() - t
        out["rss_all"] = _rss_mb(pid)
        out["rss_peak"] = peak
        await browser.close()
    return out


def bench_load(sessions: int, reruns: int, rows: int) -> None:
    workspace = bench_workspace(rows)
    from explore.core.workspace import open_workspace, read_workspace

    ws = open_workspace(read_workspace(workspace))
    frames_mb = sum(ws.dataset(n).memory_usage(deep=True).sum() for n in ws.dataset_names) / 2**20
    del ws
    with tempfile.TemporaryDirectory() as tmp:
        from tests.browser.driver import free_port

        port = free_port()
        db_url = f"sqlite:///{Path(tmp) / 'store.db'}"
        with serve(workspace, db_url=db_url, env={"EXPLORE_USER": "bench"}, timeout=300, port=port) as url:
            out = asyncio.run(_load(url, port, sessions, reruns))
    print(
        f"\n{sessions} sessions on one server, {rows:,}-row workspace ({frames_mb:,.0f} MiB of frames in pandas)"
    )
    print(f"  first session alone: Workspace page in {out['one_session_s']:.1f} s (opens and scores once)")
    print(
        f"  all {sessions} sessions at once: done in {out['all_sessions_s']:.1f} s; exception boxes: {out['errors']}; "
        f"stuck: {len(out['stuck'])}; rerun key pressed again (no run started in 15 s): {out['pressed_again']}"
    )
    for line in out["stuck"]:
        print(f"    {line}")
    if out["first"]:
        print(
            f"  first page per session: p50 {statistics.median(out['first']):.2f} s, "
            f"p95 {percentile(out['first'], 0.95):.2f} s"
        )
    if out["rerun"]:
        print(
            f"  page rerun ({len(out['rerun'])} reruns): p50 {statistics.median(out['rerun']):.2f} s, "
            f"p95 {percentile(out['rerun'], 0.95):.2f} s"
        )
    grow = (out["rss_all"] - out["rss_one"]) / max(sessions, 1)
    print(
        f"  server RSS: {out['rss_idle']:,.0f} MiB idle, {out['rss_one']:,.0f} MiB after one session, "
        f"{out['rss_all']:,.0f} MiB after {sessions} (peak {out['rss_peak']:,.0f}); "
        f"{grow:,.1f} MiB per extra session vs {frames_mb:,.0f} MiB of frames: "
        + ("shared, not copied" if grow < frames_mb / 4 else "COPIED PER SESSION?")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    live = sub.add_parser("live")
    live.add_argument("--confirmations", type=int, default=6)
    load = sub.add_parser("load")
    load.add_argument("--sessions", type=int, default=20)
    load.add_argument("--reruns", type=int, default=5)
    load.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    if args.what == "live":
        delays = bench_live(args.confirmations)
        print(
            f"\nAnother reviewer's confirmation shown without a reload after: p50 {statistics.median(delays):.2f} s, "
            f"p95 {percentile(delays, 0.95):.2f} s, max {max(delays):.2f} s ({len(delays)} confirmations; "
            "poll every 2 s)"
        )
    else:
        bench_load(args.sessions, args.reruns, args.rows)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
