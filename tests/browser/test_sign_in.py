"""Sign-in end to end: the real app with `.streamlit/secrets.toml` [auth] pointing at a local OpenID Connect
provider (oidc-provider-mock), in Chromium. A reviewer signs in on the provider's page, comes back signed in,
starts a review and confirms a test: the store records the name from the identity, never a typed one."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.browser.driver import browser, free_port, nav, open_page, open_rubric_test, serve, wait_idle

ANA = {"email": "ana@example.org", "email_verified": True, "name": "Ana Lima"}
EVE = {"email": "eve@evil.org", "email_verified": True, "name": "Eve"}


def _put_user(provider: str, claims: dict) -> None:
    request = urllib.request.Request(
        f"{provider}/users/{claims['email']}",
        data=json.dumps(claims).encode(),
        headers={"Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204


@contextmanager
def oidc_provider() -> Iterator[str]:
    """oidc-provider-mock in its own process (its warnings are not this suite's errors); yield its base URL."""
    if importlib.util.find_spec("oidc_provider_mock") is None:
        pytest.skip("oidc-provider-mock is not installed (the test extra)")
    port = free_port()
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the OIDC provider mock did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def signed_server(tiny_workspace: Path, tmp_path_factory: pytest.TempPathFactory):
    """(app URL, store URL): the app with sign-in through a local OIDC provider, only example.org allowed."""
    folder = tmp_path_factory.mktemp("signin")
    with oidc_provider() as provider:
        _put_user(provider, ANA)
        _put_user(provider, EVE)
        port = free_port()
        secrets = folder / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "a-long-random-string-used-only-by-this-test-0123456789"\n'
            'client_id = "ml-explore"\n'
            'client_secret = "not-a-secret"\n'
            f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        )
        db_url = f"sqlite:///{folder / 'store.db'}"
        with serve(
            tiny_workspace,
            db_url=db_url,
            port=port,
            env={"EXPLORE_ALLOWED_USERS": "example.org", "EXPLORE_USER": "server-account"},
            streamlit_args=["--secrets.files", str(secrets)],
        ) as url:
            yield url, db_url


def _sign_in(page, url: str, email: str) -> None:
    open_page(page, url)
    nav(page, "Rubric")
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/oauth2/authorize"), timeout=30_000)  # the provider's sign-in page
    page.locator('input[name="sub"]').fill(email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/"), timeout=30_000)  # back in the app
    wait_idle(page)


def test_sign_in_then_confirm_records_the_identity(signed_server):
    url, db_url = signed_server
    with browser() as page:
        _sign_in(page, url, ANA["email"])
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Signed in as Ana Lima")).to_be_visible(timeout=30_000)
        nav(page, "Rubric")
        main = page.get_by_test_id("stMainBlockContainer")
        expect(main.get_by_text("Acting as Ana Lima (signed in).")).to_be_visible()
        assert page.get_by_role("textbox", name="Your name").count() == 0  # nobody types a name
        page.get_by_role("button", name="New review").click()
        popover = page.get_by_test_id("stPopoverBody")
        popover.get_by_role("textbox", name="Review name").fill("signed review")
        popover.get_by_role("button", name="Start review").click()
        wait_idle(page)
        editor = open_rubric_test(page, "Feature expectations are captured in a schema")
        form = editor.get_by_test_id("stForm")
        form.get_by_text("manual (0.5 pt)", exact=True).click()
        form.get_by_role("button", name="Confirm").click()
        wait_idle(page)
    with Store(db_url) as store:
        review = store.get_review_by_name("signed review")
        entries = ml_test_score.load_review(store, review["id"]).entries
    assert review["author"] == "Ana Lima"
    assert entries["data-1"].author == "Ana Lima" and entries["data-1"].status == "manual"


def test_an_account_off_the_allowed_list_is_told_why_and_records_nothing(signed_server):
    url, db_url = signed_server
    with browser() as page:
        _sign_in(page, url, EVE["email"])
        nav(page, "Rubric")
        main = page.get_by_test_id("stMainBlockContainer")
        expect(
            main.get_by_text(re.compile("eve@evil.org is signed in but is not on the list"))
        ).to_be_visible()
        expect(main.get_by_role("button", name="Sign out")).to_be_visible()
    with Store(db_url) as store:
        assert store.get_review_by_name("eve") is None


def test_a_provider_that_went_down_is_named_with_the_fix_not_a_bare_error_page(tiny_workspace, tmp_path):
    """The provider answered when the server started, then stopped: pressing Sign in keeps the reviewer in the
    app with a message saying the identity provider is unreachable and what to check."""
    port = free_port()
    with oidc_provider() as provider:
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
            'cookie_secret = "a-long-random-string-used-only-by-this-test-0123456789"\n'
            'client_id = "ml-explore"\n'
            'client_secret = "not-a-secret"\n'
            f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
        )
    # The provider is stopped now (its port is closed).
    with (
        serve(
            tiny_workspace,
            db_url=f"sqlite:///{tmp_path / 'store.db'}",
            port=port,
            streamlit_args=["--secrets.files", str(secrets)],
        ) as url,
        browser() as page,
    ):
        open_page(page, url)
        page.get_by_test_id("stSidebar").get_by_role("button", name="Sign in").click()
        wait_idle(page)
        sidebar = page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text(re.compile("^The identity provider is unreachable"))).to_be_visible(
            timeout=30_000
        )
        text = sidebar.get_by_test_id("stAlertContentError").inner_text()
        assert provider.split("//")[1] in text and "server_metadata_url" in text
        assert page.url.startswith(url)  # still in the app, not on /auth/login
        assert "Authentication error" not in page.inner_text("body")
        assert not page.query_selector('[data-testid="stException"]')
