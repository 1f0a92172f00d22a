"""The Slices page's Datapoints view in a real browser: what only a browser shows — a click on a dot opens
that row in the datapoint editor, a box dragged on the chart becomes slice conditions, and a click on a
heat-map cell zooms to its rows as dots."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from explore.slices.definition import Condition, SliceDefinition
from tests.browser.driver import open_page, problems, wait_idle

# A slice of a few hundred rows: drawn as dots, one per row (not as a heat map).
SMALL = SliceDefinition(
    (
        Condition("contract", "in", values=("month-to-month",)),
        Condition("tenure_months", "range", lo=0, hi=4, hi_inclusive=True),
    )
)


def _datapoints_chart(page, caption: str = "one dot each"):
    """The datapoints chart (the tall one: 420 px) once drawn."""
    page.get_by_text(caption).first.wait_for(timeout=120_000)  # a busy machine: scoring, caches
    for chart in page.locator('[data-testid="stVegaLiteChart"]').all():
        chart.locator("canvas, svg").first.wait_for()
        box = chart.bounding_box()
        if box and box["height"] >= 400:
            return chart, box
    raise AssertionError("no datapoints chart on the page")


def _find_mark(page, box, pattern: str = r"^id\s+(\S+)") -> tuple[float, float, str]:
    """Move the mouse over the chart until Vega's tooltip matches ``pattern`` (a dot: its id; a cell: its rows);
    that spot and the match."""
    tip = page.locator("#vg-tooltip-element")
    for fy in [i / 24 for i in range(2, 22)]:
        for fx in [i / 40 for i in range(4, 38)]:
            x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
            page.mouse.move(x, y)
            if tip.count() and "visible" in (tip.get_attribute("class") or ""):
                found = re.search(pattern, tip.inner_text(), re.M)
                if found:
                    return x, y, found.group(1)
    raise AssertionError("nothing under the mouse anywhere on the chart")


def test_click_a_dot_opens_it_and_a_box_becomes_the_slice(app_url, page):
    open_page(page, app_url, "slices?slice=" + SMALL.to_query_param())
    page.get_by_test_id("stRadio").get_by_text("Datapoints", exact=True).click()
    wait_idle(page)
    assert problems(page) == []
    _, box = _datapoints_chart(page)

    x, y, row_id = _find_mark(page, box)
    page.mouse.click(x, y)
    wait_idle(page)
    expect(page.get_by_role("heading", name=re.compile(f"Datapoint {re.escape(row_id)}"))).to_be_visible()
    assert "Nearest counterfactual" in page.get_by_test_id("stMainBlockContainer").inner_text()
    assert problems(page) == []

    _, box = _datapoints_chart(page)
    left, top = box["x"] + 0.3 * box["width"], box["y"] + 0.25 * box["height"]
    page.mouse.move(left, top)
    page.mouse.down()
    page.mouse.move(left + 0.35 * box["width"], top + 0.45 * box["height"], steps=12)
    page.mouse.up()
    wait_idle(page)
    text = page.get_by_test_id("stMainBlockContainer").inner_text()
    assert re.search(r"≤ row order ≤", text) and re.search(r"≤ score ≤", text), text[:1500]
    assert "contract ∈ {'month-to-month'}" in text  # the box narrows the slice, it does not replace it
    assert problems(page) == []


def test_a_heat_map_cell_zooms_to_its_rows_as_dots(app_url, page):
    open_page(page, app_url, "slices")  # every validation row: more than 5,000, so a heat map
    page.get_by_test_id("stRadio").get_by_text("Datapoints", exact=True).click()
    wait_idle(page)
    _, box = _datapoints_chart(page, "the server binned them")
    x, y, rows = _find_mark(page, box, r"^rows\s+([\d,]+)")
    page.mouse.click(x, y)
    wait_idle(page)
    caption = page.get_by_text("one dot each").first
    caption.wait_for(timeout=120_000)
    assert caption.inner_text().startswith(f"{rows} rows"), (rows, caption.inner_text())
    page.get_by_role("button", name="Zoom out to every row").click()
    wait_idle(page)
    _datapoints_chart(page, "the server binned them")
    assert problems(page) == []


def test_opening_the_counterfactual_moves_the_rings_at_once(app_url, page):
    """In a browser an editor button reruns only its fragment: the chart must be in the same one, so the rings
    (named in the caption under the chart) follow the editor on that very rerun."""
    open_page(page, app_url, "slices?slice=" + SMALL.to_query_param())
    page.get_by_test_id("stRadio").get_by_text("Datapoints", exact=True).click()
    wait_idle(page)
    _, box = _datapoints_chart(page)
    x, y, row_id = _find_mark(page, box)
    page.mouse.click(x, y)
    wait_idle(page)
    rings = page.get_by_text(re.compile(r"^Ringed on the chart:"))
    expect(rings).to_contain_text(f"row {row_id} (selected)")
    cf_id = re.search(r"and row (\S+) \(its nearest counterfactual\)", rings.inner_text()).group(1)

    page.get_by_role("button", name="Open the counterfactual row").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name=re.compile(f"Datapoint {re.escape(cf_id)}"))).to_be_visible()
    expect(rings).to_contain_text(f"row {cf_id} (selected)")  # the chart reran with the editor
    assert problems(page) == []
