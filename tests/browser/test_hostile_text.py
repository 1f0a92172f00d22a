"""In a real browser: hostile review names, notes and labeler names on the Rubric and Labels pages, the
exported HTML report, and chart tooltips over hostile feature names and category values fire no dialog, set
no global and inject no element (iframe, object, embed, script, img with a handler). The payloads are in
tests/hostile.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.browser.driver import CHROMIUM, browser, open_page, serve, wait_charts
from tests.helpers import hostile_workspace
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


# Vega-Lite draws titles and axis labels as text on a canvas; tooltips are HTML, built by vega-tooltip, whose
# default sanitiser (Streamlit keeps it: its vega-embed options only set ``disableDefaultStyle``) escapes
# ``&`` and ``<`` in every key and value. This proves it on the charts of a workspace whose names are payloads.
TOOLTIP = """() => {
  const t = document.querySelector('.vg-tooltip');
  if (!t || !t.classList.contains('visible')) return null;
  return {text: t.innerText, elements: [...t.querySelectorAll('*')].map(e => e.tagName.toLowerCase())};
}"""
TOOLTIP_TAGS = {"table", "tbody", "tr", "td", "h2"}  # what vega-tooltip itself writes


def _hover_tooltips(page, chart, *, step_x: int = 40, step_y: int = 10) -> list[dict]:
    """Move the mouse over ``chart`` on a grid; every tooltip that showed (its text and its elements)."""
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    seen = []
    for y in range(int(box["y"]) + 4, int(box["y"] + box["height"]) - 4, step_y):
        for x in range(int(box["x"]) + 10, int(box["x"] + box["width"]) - 10, step_x):
            page.mouse.move(x, y)
            tip = page.evaluate(TOOLTIP)
            if tip and tip not in seen:
                seen.append(tip)
    return seen


@pytest.fixture(scope="module")
def hostile_names_app(tmp_path_factory: pytest.TempPathFactory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (see .ci/run)")
    folder = tmp_path_factory.mktemp("hostile_names")
    toml = hostile_workspace(folder / "ws")
    with serve(toml, db_url=f"sqlite:///{folder / 'store.db'}", env={"EXPLORE_USER": "browser-test"}) as url:
        yield url


def test_chart_tooltips_show_hostile_feature_names_as_text(hostile_names_app, watched_page):
    open_page(watched_page, hostile_names_app, "importance")
    # SHAP runs on first open: on a loaded machine the charts may come after the first idle moment.
    watched_page.wait_for_selector('[data-testid="stVegaLiteChart"] svg', timeout=180_000)
    n, drawn = wait_charts(watched_page, timeout=60)
    assert n and drawn == n, (n, drawn, watched_page.get_by_test_id("stMain").inner_text()[:2000])
    charts = watched_page.locator('[data-testid="stVegaLiteChart"]')
    tips = [tip for i in range(charts.count()) for tip in _hover_tooltips(watched_page, charts.nth(i))]
    _assert_nothing_ran(watched_page, "importance tooltips")
    assert tips, "no tooltip showed while hovering the charts"
    assert all(set(t["elements"]) <= TOOLTIP_TAGS for t in tips), [t["elements"] for t in tips]
    shown = " ".join(t["text"] for t in tips)
    assert PAYLOADS["img_onerror"] in shown  # a feature name, as typed, as the tooltip's text
