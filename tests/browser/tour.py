"""Regenerate the screenshots of docs/tour.md: `python -m tests.browser.tour`.

Serves the sample workspace with a fresh, temporary store, drives each page in headless Chromium into a state
worth showing (a slice applied, SHAP drawn, a staleness experiment run, a spot-check session, a comparison, a
rubric review) and saves docs/screens/<page>.png at 1400×2400 (Streamlit's main area scrolls inside, so a
tall viewport is what shows a page). Takes a few minutes; fails if a page shows an exception or an undrawn chart.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

from tests.browser.driver import (
    CHROMIUM,
    browser,
    choose,
    nav,
    open_page,
    open_rubric_test,
    pick,
    problems,
    serve,
    type_number,
    wait_idle,
)

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / "docs" / "screens"
WIDTH, HEIGHT = 1400, 2400


def _shoot(page, name: str, out: Path, *, scroll_to=None) -> Path:
    """Check the page is clean, optionally scroll the main area to ``scroll_to``, and save out/<name>.png."""
    found = problems(page)
    if found:
        raise RuntimeError(f"{name}: {found}")
    if scroll_to is not None:
        scroll_to.first.evaluate("e => e.scrollIntoView({block: 'start'})")
        time.sleep(0.5)  # let the charts that came into view draw
    page.mouse.move(WIDTH - 5, HEIGHT - 5)  # no hover state (chart toolbars, the sidebar's collapse button)
    time.sleep(0.3)
    path = out / f"{name}.png"
    _save_small(page.screenshot(), path)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)
    return path


def _save_small(png: bytes, path: Path) -> None:
    """Save a screenshot with a 256-colour palette: a third of the size, no visible difference for UI shots
    (Pillow comes with Streamlit)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )


def workspace(page, url: str, out: Path) -> None:
    open_page(page, url)
    _shoot(page, "workspace", out)


def slices(page, url: str, out: Path) -> None:
    """The month-to-month contracts, broken down by device: tablets are the planted weak slice."""
    open_page(page, url)
    nav(page, "Slices")
    page.get_by_role("button", name="Add a condition").click()
    popover = page.get_by_test_id("stPopoverBody")
    choose(page, "Column", "contract", within=popover)
    pick(page, "Values", "month-to-month", within=popover)
    popover.get_by_role("button", name="Add to the slice").click()
    wait_idle(page)
    pick(page, "Group the slice by (one or two columns)", "device")
    _shoot(page, "slices", out)


def importance(page, url: str, out: Path) -> None:
    open_page(page, url)
    nav(page, "Importance")
    button = page.get_by_role("button", name=re.compile("^Compute SHAP for"))
    if button.count():  # the estimate was over 3 s (a busy machine): start it as a user would
        button.click()
        wait_idle(page)
    _shoot(page, "importance", out)


def staleness(page, url: str, out: Path) -> None:
    """Performance over time, then a staleness experiment on a modest budget (its result is shot too)."""
    open_page(page, url)
    nav(page, "Staleness")
    _shoot(page, "staleness", out)
    page.get_by_test_id("stExpander").filter(has_text="Budget").locator("summary").click()
    type_number(page, "Rows per fit (random sample)", 3000)
    type_number(page, "Rows evaluated per window", 3000)
    type_number(page, "Largest age (windows; 0 = all)", 6)
    page.get_by_role("button", name="Run the experiment").click()
    wait_idle(page, timeout=600)
    heading = page.get_by_role("heading", name="Staleness experiment", exact=True)
    _shoot(page, "staleness-experiment", out, scroll_to=heading)


def labels(page, url: str, out: Path) -> None:
    """Agreement and labeler trust, then a spot-check session with a few verdicts."""
    open_page(page, url)
    nav(page, "Labels")
    _shoot(page, "labels", out)
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Queue", exact=True).click()
    wait_idle(page)
    name = page.get_by_role("textbox", name="Your name (recorded with every verdict)")
    name.fill("Ana")
    name.press("Enter")
    wait_idle(page)
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Session name").fill("Spot check, week 1")
    form.get_by_role("spinbutton", name="Items").fill("20")
    form.get_by_role("button", name="Start session").click()
    wait_idle(page)
    for verdict in ("Label wrong", "Label wrong", "Label correct"):
        page.get_by_role("button", name=verdict).click()
        wait_idle(page)
    _shoot(page, "labels-review", out)


def checks(page, url: str, out: Path) -> None:
    open_page(page, url)
    nav(page, "Checks")
    page.get_by_role("button", name="Compare").click()
    wait_idle(page)
    _shoot(page, "checks", out)


RUBRIC_CONFIRMATIONS = [  # (test name, status): a team part-way through its first review
    ("Feature expectations are captured in a schema", "automated (1 pt)"),
    ("All features are beneficial", "manual (0.5 pt)"),
    ("Model specs are reviewed and submitted", "manual (0.5 pt)"),
    ("Offline and online metrics correlate", "automated (1 pt)"),
    ("Training is reproducible", "automated (1 pt)"),
    ("Model specs are unit tested", "manual (0.5 pt)"),
    ("Dependency changes result in notification", "manual (0.5 pt)"),
    ("Data invariants hold for inputs", "automated (1 pt)"),
]


def rubric(page, url: str, out: Path) -> None:
    open_page(page, url)
    nav(page, "Rubric")
    who = page.get_by_role("textbox", name="Your name", exact=True)
    who.fill("Rita")
    who.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="New review").click()
    popover = page.get_by_test_id("stPopoverBody")
    popover.get_by_role("textbox", name="Review name").fill("churn v3 — launch review")
    popover.get_by_role("button", name="Start review").click()
    wait_idle(page)
    for name, status in RUBRIC_CONFIRMATIONS:
        form = open_rubric_test(page, name).get_by_test_id("stForm")
        form.get_by_text(status, exact=True).click()
        form.get_by_role("textbox", name="Evidence").fill("See the team wiki.")
        form.get_by_role("button", name="Confirm").click()
        wait_idle(page)
    page.get_by_role("button", name=re.compile(re.escape(RUBRIC_CONFIRMATIONS[-1][0]))).click()  # close it
    wait_idle(page)
    page.get_by_test_id("stMainBlockContainer").evaluate("e => e.scrollIntoView({block: 'start'})")
    _shoot(page, "rubric", out)


TOUR = [workspace, slices, importance, staleness, labels, checks, rubric]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.tour", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=SCREENS, help="folder for the PNG files (default docs/screens)"
    )
    parser.add_argument("pages", nargs="*", help=f"only these pages ({', '.join(f.__name__ for f in TOUR)})")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium`.", file=sys.stderr)
        return 2
    chosen = [f for f in TOUR if not args.pages or f.__name__ in args.pages]
    args.out.mkdir(parents=True, exist_ok=True)

    from explore.core.sample import SAMPLE_DIR, ensure_sample

    ws = ensure_sample(SAMPLE_DIR)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"EXPLORE_USER": "tour", "EXPLORE_UPLOAD_DIR": str(Path(tmp) / "uploads")}
        with (
            serve(
                ws,
                db_url=f"sqlite:///{Path(tmp) / 'store.db'}",
                env=env,
                streamlit_args=["--client.toolbarMode", "minimal"],
            ) as url,
            browser(width=WIDTH, height=HEIGHT) as page,
        ):
            for step in chosen:
                print(f"{step.__name__} …", flush=True)
                step(page, url, args.out)
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
