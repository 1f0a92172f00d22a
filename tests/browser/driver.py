"""Serve the real app and drive it in Debian's headless Chromium (Playwright).

Used by the browser tests, by `python -m tests.browser.tour` (README screenshots) and by
`benchmarks/bench_browser.py` (time to first render of each page).
"""

from __future__ import annotations

import contextlib
import os
import re
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
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PAGES = {  # url path → page title in the navigation
    "": "Workspace",
    "slices": "Slices",
    "importance": "Importance",
    "staleness": "Staleness",
    "labels": "Labels",
    "checks": "Checks",
    "rubric": "Rubric",
}
HEADINGS = {**{t: t for t in PAGES.values()}, "Rubric": "ML Test Score"}  # page title → its st.title


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(
    workspace: Path,
    *,
    db_url: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    streamlit_args: list[str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """Run `explore run WORKSPACE` on 127.0.0.1 and ``port`` (default a free one); yield its base URL once
    healthy.

    ``streamlit_args`` are passed on to `streamlit run` (e.g. ``["--client.toolbarMode", "minimal"]``).
    """
    port = port or free_port()
    full_env = {**os.environ, "EXPLORE_DB_URL": db_url, **(env or {})}
    cmd = [
        sys.executable,
        "-m",
        "explore.cli",
        "run",
        str(workspace),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--headless",
        # No file watcher: a source file saved while the server runs would re-import modules mid-session
        # (an exception raised from a reloaded module is then no longer caught as an ExploreError).
        "--server.fileWatcherType",
        "none",
        *(streamlit_args or []),
    ]
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


# Counts the script runs the page has seen: every time stApp's script state turns to "running" (page loads,
# widget changes, fragment reruns). `wait_idle` compares it with the count at its previous return, so it knows
# whether the interaction it follows has started its rerun yet (a busy page can take a second or two to send it).
# It also notes when the script last went idle and when each chart first drew (for time-to-first-render).
_CHART = '[data-testid="stVegaLiteChart"], .vega-embed'
_RUN_COUNTER = """
window.__stRuns = 0;
window.__stSeen = 0;
window.__stIdleAt = null;  // performance.now() of the last change to "notRunning" (ms since navigation)
window.__stFirstDraw = new WeakMap();  // chart element → performance.now() when its canvas/SVG appeared
const __stChart = '__CHART__';
const __stObserver = new MutationObserver((mutations) => {
  for (const m of mutations) {
    if (m.type === "attributes") {
      const state = m.target.getAttribute("data-test-script-state");
      if (state === "running" && m.oldValue !== "running") window.__stRuns++;
      if (state === "notRunning" && m.oldValue !== "notRunning") window.__stIdleAt = performance.now();
      continue;
    }
    for (const n of m.addedNodes) {
      if (n.nodeType !== 1) continue;
      const drawn = n.matches("canvas, svg") ? [n] : n.querySelectorAll("canvas, svg");
      for (const d of drawn) {
        const chart = d.closest(__stChart);
        if (chart && !window.__stFirstDraw.has(chart)) window.__stFirstDraw.set(chart, performance.now());
      }
    }
  }
});
__stObserver.observe(document, {attributes: true, subtree: true, attributeOldValue: true, childList: true,
                                 attributeFilter: ["data-test-script-state"]});
""".replace("__CHART__", _CHART)


@contextmanager
def browser(*, width: int = 1400, height: int = 2400) -> Iterator[object]:
    """A Playwright page in headless Chromium with a tall viewport (Streamlit's main area scrolls inside)."""
    with browsers(1, width=width, height=height) as pages:
        yield pages[0]


@contextmanager
def browsers(n: int, *, width: int = 1400, height: int = 2400) -> Iterator[list[object]]:
    """``n`` pages, each in its own Chromium profile (own cookies: separate people), from one Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, contextlib.ExitStack() as stack:
        pages = []
        for _ in range(n):
            profile = stack.enter_context(tempfile.TemporaryDirectory())
            ctx = p.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": width, "height": height},
                accept_downloads=True,
            )
            stack.callback(ctx.close)
            ctx.add_init_script(_RUN_COUNTER)
            pages.append(ctx.pages[0] if ctx.pages else ctx.new_page())
        yield pages


_STARTED = """(seen) => window.__stRuns > seen
    || document.querySelector('[data-testid="stApp"]')?.getAttribute("data-test-script-state") === "running" """
_SETTLED = """(calm) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = app && app.getAttribute("data-test-script-state") === "notRunning"
    && !document.querySelector('[data-testid="stSkeleton"]');
  if (!idle) { window.__stCalmSince = null; return false; }
  window.__stCalmSince = window.__stCalmSince || performance.now();
  return performance.now() - window.__stCalmSince >= calm;
}"""


def wait_idle(
    page, *, timeout: float = 120, rerun: bool = True, grace: float = 4.0, calm: float = 0.3
) -> None:
    """Wait until the script run that the last interaction (or page load) started has finished, and the page
    has settled.

    With ``rerun=True`` (the default) it first waits up to ``grace`` seconds for a new run to start: a click
    reaches the server a moment after it happens, later still on a busy page. Pass ``rerun=False`` after an
    interaction that does not run the script. Then "notRunning" must hold for ``calm`` seconds (``st.rerun``
    chains runs) with no skeleton left (some widgets, e.g. segmented controls, load their code lazily and show
    a skeleton first). The polling runs inside the page.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    if rerun:
        seen = page.evaluate("() => window.__stSeen")
        with contextlib.suppress(
            PlaywrightTimeout
        ):  # no run started: the interaction did not rerun the script
            page.wait_for_function(_STARTED, arg=seen, timeout=grace * 1000, polling=50)
    page.evaluate("() => { window.__stCalmSince = null; }")
    try:
        page.wait_for_function(_SETTLED, arg=calm * 1000, timeout=timeout * 1000, polling=50)
    except PlaywrightTimeout:
        raise TimeoutError(f"the app was still running after {timeout} s") from None
    page.evaluate("() => { window.__stSeen = window.__stRuns; }")


def exceptions(page) -> list[str]:
    """Texts of the Streamlit exception boxes on the page (should be none)."""
    return [e.inner_text() for e in page.query_selector_all('[data-testid="stException"]')]


def charts(page) -> tuple[int, int]:
    """(number of Vega charts, number that drew a canvas or SVG)."""
    embeds = page.query_selector_all(_CHART)
    drawn = [e for e in embeds if e.query_selector("canvas, svg")]
    return len(embeds), len(drawn)


def wait_charts(page, *, timeout: float = 15) -> tuple[int, int]:
    """Like `charts`, after giving Vega up to ``timeout`` s to draw every chart (it draws after the script ends)."""
    deadline = time.monotonic() + timeout
    n, drawn = charts(page)
    while drawn < n and time.monotonic() < deadline:
        time.sleep(0.1)
        n, drawn = charts(page)
    return n, drawn


def by_key(page, key: str):
    """The widget a page created with ``key=…`` (Streamlit gives a widget's container the class ``st-key-<key>``;
    charts and dataframes get none)."""
    return page.locator(f".st-key-{key}")


def open_rubric_test(page, name: str):
    """Open one of the Rubric page's 28 tests by (part of) its name; return its editor (one is open at a time)."""
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_role("button", name=re.compile(re.escape(name))).click()
    wait_idle(page)
    return main.locator('[class*="st-key-rubric_"][class*="_editor"]')


# When every chart has drawn: the time the last of them first drew (-1 without charts); false until then.
_ALL_DRAWN = """() => {
  const charts = [...document.querySelectorAll('__CHART__')];
  if (!charts.every((c) => c.querySelector("canvas, svg"))) return false;
  return charts.reduce((t, c) => Math.max(t, window.__stFirstDraw.get(c) ?? performance.now()), -1);
}""".replace("__CHART__", _CHART)


def open_page_timed(
    page, base_url: str, path: str = "", *, timeout: float = 120, chart_timeout: float = 30
) -> tuple[float, float]:
    """Go to a page by URL and wait until its script has finished and its charts have drawn. Returns (seconds
    until the script was idle, seconds until every chart had drawn), measured in the page from the start of the
    navigation (without the settle time `wait_idle` adds). A chart still undrawn after ``chart_timeout`` s is
    left for `problems` to report."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{base_url}/{path}")
    wait_idle(page, timeout=timeout)
    try:
        drawn_at = page.wait_for_function(
            _ALL_DRAWN, timeout=chart_timeout * 1000, polling="raf"
        ).json_value()
    except PlaywrightTimeout:
        drawn_at = page.evaluate("() => performance.now()")
    idle_at = page.evaluate("() => window.__stIdleAt") or 0
    return idle_at / 1000, max(idle_at, drawn_at) / 1000


def open_page(page, base_url: str, path: str = "", *, timeout: float = 120) -> float:
    """Go to a page by URL and wait for its first render (script idle, charts drawn); return its seconds."""
    return open_page_timed(page, base_url, path, timeout=timeout)[1]


# ---- interactions (by what users see: navigation titles, widget labels, roles; keys where labels repeat) ----


def nav(page, title: str) -> None:
    """Open a page from the sidebar navigation by its title."""
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page)


def _label(page, text: str):
    return page.get_by_test_id("stWidgetLabel").get_by_text(text, exact=True)


def choose(page, label: str, option: str, *, within=None) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (within a container, e.g. a popover body).

    The option list is virtualised (only the first dozen are in the DOM), so the option is typed to filter it.
    """
    scope = within or page
    scope.get_by_test_id("stSelectbox").filter(has=_label(page, label)).click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def pick(page, label: str, option: str, *, within=None) -> None:
    """Add ``option`` (matched by its start) to the multiselect labelled ``label``, then close the list."""
    box = (within or page).get_by_test_id("stMultiSelect").get_by_role("combobox", name=label, exact=True)
    box.click()
    box.press_sequentially(option)
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()
    wait_idle(page)
    page.keyboard.press("Escape")
    page.get_by_role("listbox").wait_for(state="detached")


def type_number(page, label: str, value: float | int, *, within=None) -> None:
    """Type into the number input labelled ``label`` and commit it (Enter reruns the script)."""
    box = (within or page).get_by_role("spinbutton", name=label, exact=True)
    box.fill(str(value))
    box.press("Enter")
    wait_idle(page)


def metric(page, label: str) -> str:
    """The value shown by the st.metric labelled ``label`` (the first one, if several)."""
    m = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
    )
    return m.first.get_by_test_id("stMetricValue").inner_text()


def problems(page, *, chart_timeout: float = 15) -> list[str]:
    """What is wrong with the page as drawn: exception boxes and charts that did not draw (empty when fine)."""
    out = [f"exception box: {text[:2000]}" for text in exceptions(page)]
    n, drawn = wait_charts(page, timeout=chart_timeout)
    if drawn < n:
        out.append(f"{n - drawn} of {n} charts did not draw")
    return out
