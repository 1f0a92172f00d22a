"""End-to-end: the real app in a real browser (headless Chromium) on the sample workspace.

One server for the module (conftest.app_url) and one browser page; each test starts a fresh Streamlit session by
loading a URL, then works the way a user does: the navigation, widget labels, buttons. One scenario per page.
"""

from __future__ import annotations

import io
import json
import re
import time

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.browser.driver import (
    HEADINGS,
    PAGES,
    by_key,
    choose,
    metric,
    nav,
    open_page,
    open_rubric_test,
    pick,
    problems,
    type_number,
    wait_charts,
    wait_idle,
)
from tests.helpers import make_workspace

N_VALIDATION = 8_959  # labelled rows of the sample's validation dataset (the sidebar's default)


def _assert_clean(page, where: str) -> None:
    assert problems(page) == [], where


def _download(page, key: str) -> tuple[str, bytes]:
    """Click the download button created with ``key``; return the file's suggested name and its bytes."""
    with page.expect_download() as info:
        by_key(page, key).get_by_role("button").click()
    download = info.value
    with open(download.path(), "rb") as f:
        return download.suggested_filename, f.read()


def _type_text(page, label: str | re.Pattern, text: str) -> None:
    """Type into a text input and commit it with Enter before anything else is clicked (a click that blurs
    the input would send two reruns, and the checks could run between them).

    Typed while a rerun still redraws the page (a download button's click reruns it), the text can be lost: CI
    clicked "Explain this row" on an empty box. So settle first, check the box holds the text after, and type it
    again if it does not."""
    wait_idle(page, rerun=False)
    box = page.get_by_role("textbox", name=label, exact=isinstance(label, str))
    for _ in range(3):
        box.fill(text)
        box.press("Enter")
        wait_idle(page)
        if box.input_value() == text:
            return
    raise AssertionError(f"the text box {label!r} did not keep {text!r}: it holds {box.input_value()!r}")


def _compute_shap_if_asked(page) -> None:
    """SHAP starts by itself when its estimate is under 3 s; on a busy machine the page asks for a click."""
    button = page.get_by_role("button", name=re.compile("^Compute SHAP for"))
    if button.count():
        button.click()
        wait_idle(page)


def test_every_page_opens_from_the_navigation(app_url, page):
    open_page(
        page, app_url, "rubric"
    )  # starts away from the Workspace page: clicking the open page does nothing
    for path, title in PAGES.items():
        nav(page, title)
        _assert_clean(page, title)
        expect(page.get_by_role("heading", name=HEADINGS[title], exact=True).first).to_be_visible()
        assert page.url.split("?")[0].rstrip("/") == f"{app_url}/{path}".rstrip("/")


def test_slices_filter_changes_the_metrics_and_a_datapoint_edit_changes_the_prediction(app_url, page):
    open_page(page, app_url)
    nav(page, "Slices")
    assert metric(page, "Rows in slice") == f"{N_VALIDATION:,}"
    accuracy_all = float(metric(page, "Accuracy in slice"))

    # Filter: contract ∈ {month-to-month}, through the "Add a condition" popover.
    page.get_by_role("button", name="Add a condition").click()
    popover = page.get_by_test_id("stPopoverBody")
    choose(page, "Column", "contract", within=popover)
    pick(page, "Values", "month-to-month", within=popover)
    popover.get_by_role("button", name="Add to the slice").click()
    wait_idle(page)
    n_slice = int(metric(page, "Rows in slice").replace(",", ""))
    assert 0 < n_slice < N_VALIDATION
    assert float(metric(page, "Accuracy in slice")) < accuracy_all - 0.05  # it holds the planted weak slice
    assert "contract ∈ {'month-to-month'}" in page.get_by_test_id("stMainBlockContainer").inner_text()
    assert "slice=" in page.url  # the URL carries the slice (shareable)
    _assert_clean(page, "slice applied")

    # The slice's worst rows: download them, then open the worst one in the datapoint editor.
    page.get_by_test_id("stRadio").get_by_text("Rows & what-if", exact=True).click()
    wait_idle(page)
    name, data = _download(page, "slices_dl_rows")
    rows = pd.read_csv(io.BytesIO(data))
    assert name == "slice_worst_rows.csv"
    assert len(rows) == min(200, n_slice)
    assert set(rows["contract"]) == {"month-to-month"}
    assert rows["loss"].is_monotonic_decreasing
    worst = str(rows["id"].iloc[0])
    _type_text(page, re.compile("open a row by id"), worst)
    by_key(page, "slices_open_row").get_by_role("button").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name=re.compile(f"Datapoint {worst}"))).to_be_visible()
    assert metric(page, "Prediction") == "no"  # the worst rows are confident misses
    p_before = float(metric(page, "P(yes)"))

    def verdict() -> str:
        return (
            page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stCaptionContainer"]')
            .filter(has_text=re.compile("^(Prediction|Unchanged)"))
            .first.inner_text()
        )

    assert verdict().startswith("Unchanged")
    # A brand-new customer who keeps calling support: the live prediction must move to "yes".
    type_number(page, "tenure_months", 1)
    type_number(page, "support_calls", 9)
    text = verdict()
    assert text.startswith("Prediction flips to yes"), text
    p_after = float(re.search(r"→ ([0-9.]+)\)", text).group(1))
    assert p_after > 0.5 > p_before
    assert "after changing tenure_months, support_calls" in text
    _assert_clean(page, "datapoint editor")


def test_importance_draws_shap_for_the_slice_and_one_row(app_url, page):
    from explore.slices.definition import Condition, SliceDefinition

    month_to_month = SliceDefinition((Condition("contract", "in", values=("month-to-month",)),))
    open_page(
        page, app_url, "slices?slice=" + month_to_month.to_query_param()
    )  # a shared link sets the slice
    n_slice = metric(page, "Rows in slice")
    nav(page, "Importance")
    _compute_shap_if_asked(page)
    assert metric(page, "Additivity") == "passed"
    _assert_clean(page, "importance, all rows")
    page.get_by_test_id("stRadio").first.get_by_text(re.compile("^Current slice")).click()
    wait_idle(page)
    _compute_shap_if_asked(page)
    explained = page.get_by_test_id("stMetric").filter(has_text="Rows explained").inner_text()
    assert f"of {n_slice}" in explained
    assert metric(page, "Additivity") == "passed"
    assert wait_charts(page) == (3, 3)  # global bars, beeswarm, dependence
    name, data = _download(page, "importance_download")
    table = pd.read_csv(io.BytesIO(data))
    assert name == "importance_validation_current.csv"
    assert {"contract", "tenure_months", "monthly_charges"} <= set(table["feature"])
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["mean_abs_shap"].is_monotonic_decreasing

    _type_text(page, "Row id (customer_id)", "C0035967")
    by_key(page, "importance_row_go").get_by_role("button").click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"^Row C0035967 \(position"))).to_be_visible(timeout=60_000)
    assert wait_charts(page) == (4, 4)  # and the row's waterfall
    _assert_clean(page, "importance, slice and one row")


def test_staleness_runs_a_small_experiment(app_url, page):
    open_page(page, app_url)
    nav(page, "Staleness")
    _assert_clean(page, "staleness")
    # Small: 3 cutoffs (the default), 300 rows per fit, each model followed for one window.
    page.get_by_test_id("stExpander").filter(has_text="Budget").locator("summary").click()
    type_number(page, "Rows per fit (random sample)", 300)
    type_number(page, "Rows evaluated per window", 500)
    type_number(page, "Largest age (windows; 0 = all)", 1)
    page.get_by_role("button", name="Run the experiment").click()
    wait_idle(page)
    assert re.fullmatch(r"\d of 3", metric(page, "Cutoffs that went stale"))
    assert int(metric(page, "Fits")) >= 3
    # The experiment's sentence (the page also names the in-sample training windows, which mentions staleness).
    sentence = (
        page.get_by_test_id("stAlert")
        .filter(has_text=re.compile("retrained|No training cutoff went stale"))
        .first.inner_text()
    )
    assert "cutoff" in sentence
    _assert_clean(page, "staleness experiment")


def test_labels_verdict_survives_a_reload(app_url, page):
    open_page(page, app_url)
    nav(page, "Labels")
    _assert_clean(page, "labels overview")
    view = page.get_by_test_id("stButtonGroup")
    view.get_by_role("radio", name="Queue", exact=True).click()
    wait_idle(page)
    _type_text(page, "Your name (recorded with every verdict)", "Browser Tester")
    form = page.get_by_test_id("stForm")
    form.get_by_role("textbox", name="Session name").fill("browser spot check")
    form.get_by_role("spinbutton", name="Items").fill("5")
    form.get_by_role("button", name="Start session").click()
    wait_idle(page)
    heading = page.get_by_role("heading", name=re.compile(r"^Item 1 of 5: ")).inner_text()
    item = heading.split(": ", 1)[1]
    page.get_by_role("button", name="Label wrong").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name=re.compile(r"^Item 2 of 5: "))).to_be_visible()

    page.reload()  # a new browser session: only the store remembers the verdict
    wait_idle(page)
    page.get_by_test_id("stButtonGroup").get_by_role("radio", name="Summary", exact=True).click()
    wait_idle(page)
    assert metric(page, "Reviewed") == "1 / 5"
    assert metric(page, "Wrong") == "1"
    _assert_clean(page, "labels summary after a reload")
    name, data = _download(page, "labels_download_csv")
    corrections = pd.read_csv(io.BytesIO(data))
    assert name.startswith("label_review_") and name.endswith(".csv")
    assert corrections[["customer_id", "verdict", "reviewer"]].values.tolist() == [
        [item, "wrong", "Browser Tester"]
    ]
    assert corrections["churned_final"].iloc[0] != corrections["churned_reviewed"].iloc[0]  # corrected


def test_checks_comparison_draws_its_charts(app_url, page):
    open_page(page, app_url)
    nav(page, "Checks")
    page.get_by_role("button", name="Compare").click()
    wait_idle(page)
    verdict = page.get_by_test_id("stAlert").filter(has_text=re.compile(r"(Passes|Fails): ")).inner_text()
    assert re.search(r"\d+ pass", verdict), verdict
    assert wait_charts(page)[0] >= 2  # the comparison grid, the change intervals
    _assert_clean(page, "checks comparison")


def test_rubric_confirmations_change_the_score_and_export(app_url, page):
    open_page(page, app_url)
    nav(page, "Rubric")
    _type_text(page, "Your name", "Rita Reviewer")
    page.get_by_role("button", name="New review").click()
    popover = page.get_by_test_id("stPopoverBody")
    popover.get_by_role("textbox", name="Review name").fill("browser review")
    popover.get_by_role("button", name="Start review").click()
    wait_idle(page)
    main = page.get_by_test_id("stMainBlockContainer")

    def score() -> str:
        metric = main.get_by_test_id("stMetric").filter(has_text="ML Test Score")
        return metric.get_by_test_id("stMetricValue").inner_text().strip()

    def section(title: str) -> str:
        return main.get_by_role("heading", name=re.compile(f"^{title} — ")).inner_text()

    assert (
        score() == "0"
        and main.get_by_text("Review “browser review”", exact=True).count() == 1
        and section("Data").startswith("Data — 0 / 7")
    )
    _assert_clean(page, "new review")
    # The final score is the lowest section score: one automated test in each section takes it from 0 to 1.
    tests = {
        "Data": "Feature expectations are captured in a schema",
        "Model": "Model specs are reviewed and submitted",
        "Infrastructure": "Training is reproducible",
        "Monitoring": "Dependency changes result in notification",
    }
    for i, (title, name) in enumerate(tests.items()):
        form = open_rubric_test(page, name).get_by_test_id("stForm")
        form.get_by_text("automated (1 pt)", exact=True).click()
        form.get_by_role("textbox", name="Evidence").fill(f"nightly CI job {i}")
        form.get_by_role("button", name="Confirm").click()
        wait_idle(page)
        assert section(title).startswith(f"{title} — 1 / 7"), section(title)
        assert score() == ("1" if i == 3 else "0"), (title, score())
    _assert_clean(page, "confirmed review")

    name, data = _download(page, "rubric_export_json")
    assert name == "browser_review.json"
    exported = json.loads(data)
    assert exported["review"]["name"] == "browser review"
    confirmed = [(h["test_id"], h["to"], h["author"]) for h in exported["history"]]
    assert confirmed == [
        (t, "automated", "Rita Reviewer") for t in ("data-1", "model-1", "infra-1", "monitor-1")
    ]
    assert exported["history"][-1]["final_after"] == 1.0


@pytest.fixture
def upload_files(tmp_path):
    src = make_workspace(tmp_path / "user").parent
    return src


def _upload(page, nth: int, path) -> None:
    """Put ``path`` in the ``nth`` file uploader and wait until the uploader lists it.

    A file set while the previous upload's rerun is still drawing can be dropped (CI lost the data file of two
    uploads set back to back: the "Open" button, drawn only once data files are in, never came); so wait for the
    run to settle, check that the name is listed, and set it again if it is not.
    """
    uploader = page.get_by_test_id("stFileUploader").nth(nth)
    for _ in range(3):
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        wait_idle(page)
        try:
            expect(uploader).to_contain_text(path.name, timeout=30_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the uploader never listed {path.name}: {uploader.inner_text()!r}")


def _open_upload(page) -> None:
    """Click "Open the uploaded workspace" once the upload's rerun has drawn it (uploads finish after the input)."""
    button = page.get_by_role("button", name="Open the uploaded workspace")
    button.wait_for(timeout=120_000)
    button.click()


def test_upload_csv_and_skops_through_the_workspace_page(app_url, page, upload_files):
    open_page(page, app_url)
    page.get_by_text("Upload a model and data files").click()
    _upload(page, 0, upload_files / "model.skops")
    _upload(page, 1, upload_files / "validation.csv")
    _open_upload(page)
    wait_idle(page)
    accept = page.get_by_role("button", name="Accept the ticked types and open")
    sidebar = page.get_by_test_id("stSidebar")
    # Under load the trust prompt or the opened workspace can take a while: wait for one of them.
    deadline = time.monotonic() + 120
    while not accept.count() and "validation-" not in sidebar.inner_text():
        assert time.monotonic() < deadline, "neither the trust prompt nor the uploaded workspace appeared"
        page.wait_for_timeout(250)
    if accept.count():
        for box in page.locator('[data-testid="stCheckbox"]').all():
            box.click()
            wait_idle(page)
        accept.click()
        wait_idle(page)
    expect(sidebar).to_contain_text("validation-", timeout=120_000)  # the upload is what is open
    _assert_clean(page, "uploaded workspace")
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "binary"


def test_bad_uploads_show_messages(app_url, page, tmp_path):
    open_page(page, app_url)
    page.get_by_text("Upload a model and data files").click()
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes("name,city\nJosé,Besançon\n".encode("latin-1"))
    _upload(page, 1, bad_csv)
    assert "not valid UTF-8" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    _assert_clean(page, "malformed CSV")

    import pickle

    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps({"not": "trusted"}))
    good = make_workspace(tmp_path / "ok").parent / "validation.csv"
    open_page(page, app_url)  # a fresh session: the uploaders start empty
    page.get_by_text("Upload a model and data files").click()
    _upload(page, 0, evil)
    _upload(page, 1, good)
    _open_upload(page)
    wait_idle(page)
    text = " ".join(w.inner_text() for w in page.locator('[data-testid="stAlert"]').all())
    assert "unpickling executes code" in text
    _assert_clean(page, "untrusted pickle")
