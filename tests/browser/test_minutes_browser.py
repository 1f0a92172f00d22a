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
from tests.browser.driver import CHROMIUM, browser
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
        page.dialogs, page.requests, page.errors, page.console = [], [], [], []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        # Vega's warnings too: a page-sized chart in a file warned 'Dropping "fit-x"' and was drawn squeezed.
        page.on(
            "console",
            lambda m: page.console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )

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
    assert page.console == [], (where, page.console)


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
            rid = mts.start_review(store, PAYLOADS[key], PAYLOADS[key], workspace=str(ws.config.path))
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
