"""Serve the real app and drive it in Debian's headless Chromium (Playwright).

Used by the browser tests, by `python -m tests.browser.tour` (README screenshots) and by
`benchmarks/bench_browser.py` (time to first render of each page).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("EXPLORE_CHROMIUM", "/usr/bin/chromium")
# No network here but the package registries: keep Chromium from calling home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
PAGES = {  # url path → page title in the navigation
    "": "Workspace", "slices": "Slices", "importance": "Importance", "staleness": "Staleness",
    "labels": "Labels", "checks": "Checks", "rubric": "Rubric",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(workspace: Path, *, db_url: str, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[str]:
    """Run `explore run WORKSPACE` on 127.0.0.1 and a free port; yield its base URL once healthy."""
    port = free_port()
    full_env = {**os.environ, "EXPLORE_DB_URL": db_url, **(env or {})}
    cmd = [sys.executable, "-m", "explore.cli", "run", str(workspace), "--host", "127.0.0.1", "--port", str(port), "--headless"]
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"explore run exited with {proc.returncode}:\n{log.read()}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the app did not become healthy within {timeout} s")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def browser(*, width: int = 1400, height: int = 2400) -> Iterator[object]:
    """A Playwright page in headless Chromium with a tall viewport (Streamlit's main area scrolls inside)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height}, accept_downloads=True,
        )
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def wait_idle(page, *, timeout: float = 120) -> None:
    """Wait until the script has finished running (Streamlit marks stApp with its script state)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    calm_since = None
    while time.monotonic() < deadline:
        state = page.get_attribute('[data-testid="stApp"]', "data-test-script-state")
        if state == "notRunning":
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since > 0.6:
                return
        else:
            calm_since = None
        time.sleep(0.1)
    raise TimeoutError(f"the app was still running after {timeout} s")


def exceptions(page) -> list[str]:
    """Texts of the Streamlit exception boxes on the page (should be none)."""
    return [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')]


def charts(page) -> tuple[int, int]:
    """(number of Vega charts, number that drew a canvas or SVG)."""
    embeds = page.query_selector_all('[data-testid="stVegaLiteChart"], .vega-embed')
    drawn = [e for e in embeds if e.query_selector("canvas, svg")]
    return len(embeds), len(drawn)


def open_page(page, base_url: str, path: str = "") -> float:
    """Go to a page by URL and wait for it to finish; return the seconds it took."""
    t = time.perf_counter()
    page.goto(f"{base_url}/{path}")
    wait_idle(page)
    return time.perf_counter() - t
