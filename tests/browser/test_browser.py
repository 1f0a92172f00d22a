"""End-to-end: the real app in a real browser (headless Chromium) on the sample workspace."""

from __future__ import annotations

import pytest

from tests.browser.driver import PAGES, charts, exceptions, open_page, wait_idle
from tests.helpers import make_workspace


def _nav(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
    wait_idle(page)


def _assert_clean(page, where: str) -> None:
    assert exceptions(page) == [], f"{where}: exception box shown"
    n, drawn = charts(page)
    assert drawn == n, f"{where}: {n - drawn} of {n} charts did not draw"


def test_every_page_opens_from_the_navigation(app_url, page):
    open_page(page, app_url)
    for title in PAGES.values():
        _nav(page, title)
        _assert_clean(page, title)
        assert page.get_by_role("heading", name=title).first.is_visible()


@pytest.fixture
def upload_files(tmp_path):
    src = make_workspace(tmp_path / "user").parent
    return src


def test_upload_csv_and_skops_through_the_workspace_page(app_url, page, upload_files):
    open_page(page, app_url)
    page.get_by_text("Upload a model and data files").click()
    inputs = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    inputs.nth(0).set_input_files(str(upload_files / "model.skops"))
    inputs.nth(1).set_input_files(str(upload_files / "validation.csv"))
    wait_idle(page)
    page.get_by_role("button", name="Open the uploaded workspace").click()
    wait_idle(page)
    if page.get_by_role("button", name="Accept the ticked types and open").count():
        for box in page.locator('[data-testid="stCheckbox"]').all():
            box.click()
            wait_idle(page)
        page.get_by_role("button", name="Accept the ticked types and open").click()
        wait_idle(page)
    _assert_clean(page, "uploaded workspace")
    assert "validation-" in page.get_by_test_id("stSidebar").inner_text()  # the upload is what is open
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "binary"


def test_bad_uploads_show_messages(app_url, page, tmp_path):
    open_page(page, app_url)
    page.get_by_text("Upload a model and data files").click()
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes("name,city\nJosé,Besançon\n".encode("latin-1"))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(bad_csv))
    wait_idle(page)
    assert "not valid UTF-8" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    _assert_clean(page, "malformed CSV")

    import pickle

    evil = tmp_path / "model.pkl"
    evil.write_bytes(pickle.dumps({"not": "trusted"}))
    good = make_workspace(tmp_path / "ok").parent / "validation.csv"
    open_page(page, app_url)  # a fresh session: the uploaders start empty
    page.get_by_text("Upload a model and data files").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(0).set_input_files(str(evil))
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(good))
    wait_idle(page)
    page.get_by_role("button", name="Open the uploaded workspace").click()
    wait_idle(page)
    text = " ".join(w.inner_text() for w in page.locator('[data-testid="stAlert"]').all())
    assert "unpickling executes code" in text
    _assert_clean(page, "untrusted pickle")
