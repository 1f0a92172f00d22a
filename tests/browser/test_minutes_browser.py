"""The meeting minutes in a real browser, opened from disk with every network request refused: every chart is
drawn by the inlined libraries, the PNG links download PNGs, and hostile review names, notes, labeler names and
column names (tests/hostile.py) fire no dialog, set no global and inject no element."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explore
from explore.core.store import Store
from explore.report.minutes import build_minutes, minutes_html
from explore.rubric import ml_test_score as mts
from tests.browser.driver import CHROMIUM, browser, open_page, serve, wait_idle
from tests.hostile import PAYLOADS

SHOWN = ["script", "img_onerror", "iframe_srcdoc", "svg_onload", "object_data", "embed_data", "md_link"]
INJECTED = (
    "iframe, object, embed, img, [onerror], [onload], a[href^='javascript'], meta[http-equiv], "
    "section script:not([type='application/json']), section style, section link"
)
DRAWN = "() => [...document.querySelectorAll('div.vega')].every(e => e.dataset.drawn === '1')"


def open_offline(page, path: Path, *, timeout: float = 30) -> float:
    """Open ``path`` from disk with the network refused; seconds until every chart is drawn (in-page clock)."""
    page.goto(f"file://{path}")
    page.wait_for_function(DRAWN, timeout=timeout * 1000, polling=20)
    return page.evaluate("() => performance.now()") / 1000


@pytest.fixture(scope="module")
def watched_page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (see .ci/run)")
    with browser(height=1200) as page:
        page.dialogs, page.requests, page.errors = [], [], []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: page.errors.append(str(e)))

        def refuse(route) -> None:
            url = route.request.url
            if url.startswith(("file:", "data:", "blob:")):
                route.continue_()
            else:
                page.requests.append(url)
                route.abort()

        page.route("**/*", refuse)
        yield page


def _nothing_ran(page, where: str) -> None:
    page.wait_for_timeout(300)
    assert page.dialogs == [], (where, page.dialogs)
    assert page.evaluate("() => window.__pwned") is None, where
    found = page.locator(INJECTED).evaluate_all("e => e.map(x => x.outerHTML.slice(0, 200))")
    assert found == [], (where, found)
    assert page.requests == [], (where, page.requests)
    assert page.errors == [], (where, page.errors)


@pytest.fixture(scope="module")
def hostile_minutes(tiny_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Minutes of the tiny workspace whose labelers, reviews, confirmers and notes are the payloads."""
    folder = tmp_path_factory.mktemp("minutes") / "ws"
    shutil.copytree(tiny_workspace.parent, folder)
    annotations = pd.read_csv(folder / "annotations.csv")
    labelers = sorted(annotations["annotator"].unique())
    annotations["annotator"] = annotations["annotator"].map(
        dict(zip(labelers, [PAYLOADS[k] for k in SHOWN], strict=False))
    )
    annotations.to_csv(folder / "annotations.csv", index=False)
    ws = explore.open(folder / "workspace.toml")
    with Store(f"sqlite:///{folder / 'store.db'}") as store:
        for key in SHOWN:
            rid = mts.start_review(store, PAYLOADS[key], PAYLOADS[key])
            mts.confirm_test(
                store, rid, "data-1", status="manual", author=PAYLOADS[key], evidence_text=PAYLOADS[key]
            )
        session = explore.start_spot_check(
            ws, name=PAYLOADS["script"], reviewer=PAYLOADS["svg_onload"], size=20, mode="random", store=store
        )
        items = explore.spot_check_items(session, store=store)
        for i, (key, label) in enumerate(zip(items["key"].astype(str)[:12], items["label"], strict=False)):
            other = "yes" if label == "no" else "no"
            explore.record_verdict(
                session,
                key,
                "wrong" if i % 3 == 0 else "correct",
                reviewer="x",
                corrected_label=other if i % 3 == 0 else None,
                note=PAYLOADS["img_onerror"],
                store=store,
            )
        minutes = build_minutes(ws, store, by=["region"], shap_rows=60)
    assert all(s.unavailable is None for s in minutes.sections), [s.unavailable for s in minutes.sections]
    out = folder / "minutes.html"
    out.write_text(minutes_html(minutes), encoding="utf-8")
    return out


def test_minutes_draw_offline_and_run_nothing_hostile(hostile_minutes, watched_page):
    seconds = open_offline(watched_page, hostile_minutes)
    _nothing_ran(watched_page, "minutes")
    body = watched_page.inner_text("body")
    assert PAYLOADS["md_link"] in body and PAYLOADS["script"] in body  # review names and labelers, as typed
    n = watched_page.locator("div.vega").count()
    assert n >= 7 and watched_page.locator("div.vega svg.marks").count() == n
    print(f"minutes of the tiny workspace: {n} charts drawn offline in {seconds:.2f} s")

    # a PNG link downloads a PNG
    with watched_page.expect_download() as info:
        watched_page.locator("a.png").first.click()
    download = info.value
    assert download.suggested_filename.startswith("chart-1-") and download.suggested_filename.endswith(".png")
    assert Path(download.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_hostile_column_names_stay_text_in_charts_and_tables(tmp_path, watched_page):
    rng = np.random.default_rng(3)
    n = 500
    columns = {
        PAYLOADS[k]: rng.choice(["a", PAYLOADS[k]], n) for k in ("script", "img_onerror", "iframe_srcdoc")
    }
    ws = explore.Workspace.from_predictions(
        rng.integers(0, 2, n),
        scores=rng.random(n),
        features=pd.DataFrame(columns),
        time=pd.date_range("2024-01-01", periods=n, freq="D"),
    )
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        minutes = build_minutes(ws, store, by=list(columns))
    out = tmp_path / "columns.html"
    out.write_text(minutes_html(minutes, png=False), encoding="utf-8")
    open_offline(watched_page, out)
    _nothing_ran(watched_page, "hostile columns")
    assert PAYLOADS["iframe_srcdoc"] in watched_page.inner_text("section#slices")


def test_minutes_of_the_full_sample_open_in_under_two_seconds(full_sample, tmp_path, watched_page):
    """The sample workspace (12,000 rows); benchmarks/bench_minutes.py measures the 1M-row workspace."""
    ws = explore.open(full_sample)
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        rid = mts.start_review(store, "sample review", "v1")
        mts.confirm_test(store, rid, "data-1", status="manual", author="ada")
        t = time.perf_counter()
        minutes = build_minutes(ws, store, shap_rows=200)
        doc = minutes_html(minutes)
        built = time.perf_counter() - t
    out = tmp_path / "sample.html"
    out.write_text(doc, encoding="utf-8")
    times = [open_offline(watched_page, out) for _ in range(3)]
    _nothing_ran(watched_page, "sample")
    print(
        f"sample minutes: built in {built:.1f} s, {len(doc) / 1e6:.2f} MB, opened in {min(times):.2f} s (best of 3)"
    )
    # A loaded CI machine is slower than a laptop; the figure of record is the benchmark's.
    assert min(times) < 5.0


@pytest.fixture(scope="module")
def rubric_app(tiny_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """The app on the tiny workspace with one review in a store the test also writes to (another reviewer)."""
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
    with browser(height=1200) as offline:
        offline.route(
            "**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()
        )
        open_offline(offline, saved)
        assert "meeting review" in offline.inner_text("section#rubric")
        assert offline.locator("div.vega svg.marks").count() == offline.locator("div.vega").count() >= 7


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
