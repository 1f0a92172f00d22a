"""The Rubric page in a real browser: the meeting minutes' button downloads the file that opens offline, and the
presenter view follows what another reviewer confirms without a reload (the store is polled every 2 s)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from explore.core.store import Store
from explore.rubric import ml_test_score as mts
from tests.browser.driver import CHROMIUM, browser, open_page, serve, wait_idle
from tests.browser.test_minutes_browser import open_offline


@pytest.fixture(scope="module")
def rubric_app(tiny_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app on the tiny workspace with one review in a store the test also writes to (another reviewer)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (see .ci/run)")
    db_url = f"sqlite:///{tmp_path_factory.mktemp('presenter') / 'store.db'}"
    with Store(db_url) as store:
        rid = mts.start_review(store, "meeting review", "v1")
        mts.confirm_test(store, rid, "data-1", status="manual", author="ada")
    with serve(tiny_workspace, db_url=db_url, env={"EXPLORE_USER": "browser-test"}) as url:
        yield url, db_url, rid


def test_minutes_button_downloads_the_minutes_that_open_offline(rubric_app, tmp_path):
    url, _, _ = rubric_app
    with browser() as page:
        open_page(page, url, "rubric")
        page.get_by_role("button", name="Meeting minutes (HTML)").click()
        wait_idle(page, timeout=300)  # built in the page's run: seconds, minutes on a loaded CI box
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Download meeting minutes (HTML)").click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        assert saved.name == "meeting_review-minutes.html"
        refused: list[str] = []
        page.route(  # from here on, nothing but the file itself
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(("file:", "data:"))
                else (refused.append(r.request.url), r.abort())
            ),
        )
        open_offline(page, saved)
        assert "meeting review" in page.inner_text("section#rubric") and refused == []
        assert page.locator("div.vega svg.marks").count() == page.locator("div.vega").count() >= 7


def test_presenter_view_follows_another_reviewer_live(rubric_app):
    url, db_url, rid = rubric_app
    with browser(height=1600) as page:
        open_page(page, url, "rubric")
        page.get_by_text("Presenter view", exact=True).click()
        wait_idle(page)
        main = page.get_by_test_id("stMain")
        assert "0 / 7" in main.inner_text() and "Next points to earn" in main.inner_text()
        assert "No test was confirmed or changed since then." in main.inner_text()
        with Store(db_url) as store:  # another reviewer, elsewhere
            mts.confirm_test(
                store, rid, "monitor-2", status="manual", author="someone else", evidence_text="dashboards"
            )
        t = time.perf_counter()
        # no reload: the page follows the store (the table's cells are drawn on a canvas: attached, not visible)
        page.get_by_text("someone else").first.wait_for(state="attached", timeout=15_000)
        print(f"presenter view showed another reviewer's confirmation after {time.perf_counter() - t:.1f} s")
        assert page.get_by_text("dashboards").count() >= 1 and "Score since" in main.inner_text()
