"""In a real browser: hostile review names, notes and labeler names on the Rubric and Labels pages, and the
exported HTML report, fire no dialog, set no global and inject no element (iframe, object, embed, script,
img with a handler). The payloads are in tests/hostile.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.browser.driver import CHROMIUM, browser, open_page, serve
from tests.hostile import PAYLOADS

SHOWN = ["iframe_srcdoc", "object_data", "embed_data", "img_onerror", "svg_onload", "script", "md_link"]
INJECTED = (
    "iframe[srcdoc], object, embed, img[onerror], svg[onload], a[href^='javascript'], "
    "[data-testid='stMain'] script, meta[http-equiv]"
)


@pytest.fixture(scope="module")
def hostile_app(sample_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """The sample workspace with hostile labeler names, and a store holding one review per payload."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (see .ci/run)")
    folder = tmp_path_factory.mktemp("hostile") / "ws"
    shutil.copytree(sample_workspace.parent, folder)
    annotations = pd.read_csv(folder / "annotations.csv")
    labelers = sorted(annotations["annotator"].unique())
    names = dict(zip(labelers, [PAYLOADS[k] for k in SHOWN], strict=False))
    annotations["annotator"] = annotations["annotator"].map(names).fillna(annotations["annotator"])
    annotations.to_csv(folder / "annotations.csv", index=False)
    db_url = f"sqlite:///{folder / 'store.db'}"
    with Store(db_url) as store:
        for key in SHOWN:
            rid = ml_test_score.start_review(store, PAYLOADS[key], PAYLOADS[key])
            ml_test_score.confirm_test(
                store, rid, "data-1", status="manual", author=PAYLOADS[key], evidence_text=PAYLOADS[key]
            )
        state = ml_test_score.load_review(store, rid)
        report = ml_test_score.review_to_html(
            ml_test_score.review_to_dict(
                state, snapshot_rows={}, history=ml_test_score.audit_trail(store, rid)
            )
        )
    with serve(folder / "workspace.toml", db_url=db_url, env={"EXPLORE_USER": "browser-test"}) as url:
        yield url, report


@pytest.fixture(scope="module")
def watched_page():
    """A Chromium page that records every dialog (alert, confirm, prompt) instead of blocking on it."""
    with browser() as page:
        page.dialogs = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        yield page


def _assert_nothing_ran(page, where: str) -> None:
    page.wait_for_timeout(500)  # a srcdoc or onerror payload would have run by now
    assert page.dialogs == [], (where, page.dialogs)
    assert page.evaluate("() => window.__pwned") is None, where
    assert page.locator(INJECTED).count() == 0, (
        where,
        page.locator(INJECTED).evaluate_all("e => e.map(x => x.outerHTML)"),
    )


def test_rubric_page_shows_hostile_review_names_and_notes_as_text(hostile_app, watched_page):
    url, _ = hostile_app
    open_page(watched_page, url, "rubric")
    _assert_nothing_ran(watched_page, "rubric")
    main = watched_page.get_by_test_id("stMain").inner_text()
    assert PAYLOADS[SHOWN[-1]] in main  # the newest review (shown first): its name as typed, as text


def test_labels_page_shows_hostile_labeler_names_as_text(hostile_app, watched_page):
    url, _ = hostile_app
    open_page(watched_page, url, "labels")
    _assert_nothing_ran(watched_page, "labels")
    assert "srcdoc=" in watched_page.get_by_test_id("stMain").inner_text()


def test_exported_html_report_runs_nothing(hostile_app, watched_page):
    _, report = hostile_app
    watched_page.set_content(report)
    _assert_nothing_ran(watched_page, "exported HTML")
    assert PAYLOADS[SHOWN[-1]] in watched_page.inner_text("body")  # the last review's name, as typed
