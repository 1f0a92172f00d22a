"""Several reviewers at once, in real browsers: what one confirms appears on the other's Rubric page within a
few seconds, without a reload (ui.live polls the store), and the score follows."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.browser.driver import browsers, nav, open_page, open_rubric_test, serve, wait_idle

# The poll runs every 2 s (goal: shown within ~2 s); the bound is 4 polls, generous for a loaded CI machine (it
# held at a load average of 26 on 2 cores). The delay is printed; benchmarks/bench_meeting.py live prints p50.
FOLLOW_SECONDS = 8


@pytest.fixture(scope="module")
def meeting(tiny_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    db_url = f"sqlite:///{tmp_path_factory.mktemp('meeting') / 'store.db'}"
    with Store(db_url) as store:
        review_id = ml_test_score.start_review(store, "meeting", "v1")
    with serve(tiny_workspace, db_url=db_url, env={"EXPLORE_USER": "server"}) as url:
        yield url, db_url, review_id


def _section(page, title: str) -> str:
    main = page.get_by_test_id("stMainBlockContainer")
    return main.get_by_role("heading", name=re.compile(f"^{title} — ")).inner_text()


def test_a_confirmation_elsewhere_appears_without_a_reload(meeting):
    url, db_url, review_id = meeting
    with browsers(2) as (alice, bob):
        for page, name in ((alice, "Alice"), (bob, "Bob")):
            open_page(page, url)
            nav(page, "Rubric")
            box = page.get_by_role("textbox", name="Your name")
            box.fill(name)
            box.press("Enter")
            wait_idle(page)
        assert _section(alice, "Data").startswith("Data — 0 / 7")

        # Bob confirms in his browser; Alice does nothing.
        editor = open_rubric_test(bob, "Feature expectations are captured in a schema")
        form = editor.get_by_test_id("stForm")
        form.get_by_text("automated (1 pt)", exact=True).click()
        form.get_by_role("button", name="Confirm").click()
        confirmed = time.monotonic()
        wait_idle(bob)
        assert _section(bob, "Data").startswith("Data — 1 / 7")

        heading = alice.get_by_test_id("stMainBlockContainer").get_by_role(
            "heading", name=re.compile(r"^Data — 1 \/ 7")
        )
        expect(heading).to_be_visible(timeout=FOLLOW_SECONDS * 1000)
        print(f"Alice saw Bob's confirmation {time.monotonic() - confirmed:.1f} s after he clicked")

        # A confirmation from outside any browser (another server, `explore` in a notebook) shows up too.
        with Store(db_url) as store:
            ml_test_score.confirm_test(store, review_id, "monitor-1", status="manual", author="Carol")
        written = time.monotonic()
        for page in (alice, bob):
            expect(
                page.get_by_test_id("stMainBlockContainer").get_by_role(
                    "heading", name=re.compile(r"^Monitoring — 0\.5 \/ 7")
                )
            ).to_be_visible(timeout=FOLLOW_SECONDS * 1000)
        print(
            f"Both pages showed Carol's confirmation {time.monotonic() - written:.1f} s after it was written"
        )
    with Store(db_url) as store:
        entries = ml_test_score.load_review(store, review_id).entries
    assert entries["data-1"].author == "Bob" and entries["monitor-1"].author == "Carol"
