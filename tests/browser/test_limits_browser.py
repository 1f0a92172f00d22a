"""Two browser sessions on one real server (issue 19, limits): while one session opens a workspace whose data
file has 5,000 columns, the other session's page reruns still complete promptly. tests/app/test_limits.py runs
the same with two AppTest sessions, and benchmarks/bench_limits.py prints the figures at larger sizes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from explore.core.upload import toml_text
from tests.browser.driver import CHROMIUM, browsers, by_key, open_page, serve, wait_idle
from tests.pathological import wide_csv

PROMPT_SECONDS = 20.0  # generous: a rerun of the tiny workspace's page takes well under a second alone

STATE = """() => document.querySelector('[data-testid="stApp"]')?.getAttribute("data-test-script-state")"""


def _wide_workspace(dest: Path) -> Path:
    dest.mkdir(parents=True)
    (dest / "wide.csv").write_bytes(wide_csv(n_rows=200, n_columns=5_000))
    sections = {
        "columns": {"label": "label", "prediction": "pred", "score": "score"},
        "datasets": {"wide": "wide.csv"},
    }
    (dest / "workspace.toml").write_text(toml_text(sections), encoding="utf-8")
    return dest / "workspace.toml"


def _rerun_seconds(page) -> float:
    """Rerun the page from the keyboard (Streamlit's R shortcut) and wait until it is idle again: the seconds from
    the key press to the page idle after the rerun.

    The run must start within PROMPT_SECONDS (``wait_idle``'s default 4 s grace was too short on a loaded CI
    machine while the other session parsed its wide file: the run started later, the wait returned on the idle
    page and the test said "R did not rerun"). A press that started nothing after 8 s is pressed once more; the
    seconds still count from the first press, so a lost press cannot hide a slow server."""
    runs = page.evaluate("() => window.__stRuns")
    t = time.perf_counter()
    for grace in (8.0, PROMPT_SECONDS):
        page.evaluate("() => document.activeElement?.blur()")  # the key goes to the page, not an input
        page.keyboard.press("r")
        wait_idle(page, timeout=120, grace=grace)
        if page.evaluate("() => window.__stRuns") > runs:
            break
    seconds = time.perf_counter() - t
    assert page.evaluate("() => window.__stRuns") > runs, (
        f"R did not rerun the page: no run started within {8 + PROMPT_SECONDS:.0f} s of two presses"
    )
    return seconds


def test_another_browser_session_stays_responsive_while_one_opens_a_5000_column_file(
    tiny_workspace: Path, tmp_path: Path
):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (see .ci/run)")
    wide = _wide_workspace(tmp_path / "wide")
    with (
        serve(tiny_workspace, db_url=f"sqlite:///{tmp_path / 'store.db'}", env={"EXPLORE_USER": "b"}) as url,
        browsers(2) as (first, other),
    ):
        open_page(first, url, "")
        open_page(other, url, "slices")
        alone = [_rerun_seconds(other) for _ in range(2)]
        by_key(first, "workspace_path_input").locator("input").fill(str(wide))
        first.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Open").click()
        first.wait_for_function(f"() => ({STATE})() === 'running'", timeout=30_000)
        started = time.perf_counter()
        during = []
        while first.evaluate(STATE) == "running" and time.perf_counter() - started < 300:
            during.append(_rerun_seconds(other))
        wait_idle(first, timeout=300, rerun=False)
        busy = time.perf_counter() - started
        print(
            f"5,000 columns over a real server: the first session worked {busy:.1f} s; the other session's "
            f"reruns took {max(alone):.2f} s alone and at most {max(during, default=0):.2f} s meanwhile "
            f"({len(during)} reruns)"
        )
        assert (
            "5000" in first.get_by_test_id("stMain").inner_text()
        )  # the wide workspace opened: 5000 features
        assert during, "the first session finished before the other one could rerun"
        assert max(during) < PROMPT_SECONDS, during
