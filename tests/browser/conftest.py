"""Browser fixtures: the real app served on 127.0.0.1 over the sample workspace, and a Chromium page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.driver import CHROMIUM, browser, serve

# Playwright's assertions retry for 5 s by default: a loaded CI machine drawing a chart or a rerun's result took
# longer than that after wait_idle had returned. 30 s, as Playwright's own actions wait (a passing check still
# returns at once).
expect.set_options(timeout=30_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            # A real browser on a shared 2-core CI machine: a failure runs once more (pytest-rerunfailures; the
            # report marks it R), so a timing stall fails nothing while a real defect still fails both runs.
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


@pytest.fixture(scope="session")
def sample_workspace(full_sample: Path) -> Path:
    """The full sample workspace (built once under a lock, however many pytest workers ask for it)."""
    return full_sample


@pytest.fixture(scope="module")
def app_url(sample_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (see .ci/run)")
    db = tmp_path_factory.mktemp("browser") / "store.db"
    uploads = tmp_path_factory.mktemp("uploads")
    with serve(
        sample_workspace,
        db_url=f"sqlite:///{db}",
        env={"EXPLORE_UPLOAD_DIR": str(uploads), "EXPLORE_USER": "browser-test"},
    ) as url:
        yield url


@pytest.fixture(scope="module")
def page():
    with browser() as p:
        yield p
