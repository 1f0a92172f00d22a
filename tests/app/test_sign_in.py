"""Sign-in (st.login / st.user) on the pages that record decisions: with [auth] configured the name comes from
the identity, a sign-in button stands where a name is needed, and EXPLORE_ALLOWED_USERS refuses other accounts.
(The real OIDC round trip in Chromium is tests/browser/test_sign_in.py.)"""

from __future__ import annotations

import pytest

from explore.core.access import NOT_ALLOWED
from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.conftest import APP, _clear_caches, assert_no_exception, texts

PAGE = "views/rubric.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-string-for-the-test-only",
    "client_id": "ml-explore",
    "client_secret": "secret",
    "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration",
}
ANA = {"is_logged_in": True, "email": "ana@example.org", "email_verified": True, "name": "Ana Lima"}


@pytest.fixture
def signed_app(tiny_workspace, db_url, monkeypatch):
    """``signed_app(user, page)``: an AppTest with [auth] configured and ``st.user`` seeded with ``user``."""
    from streamlit.testing.v1 import AppTest

    def factory(user: dict, page: str = PAGE, *, auth: bool = True):
        monkeypatch.setenv("EXPLORE_WORKSPACE", str(tiny_workspace))
        _clear_caches()
        at = AppTest.from_file(str(APP), default_timeout=120)
        if auth:
            at.secrets["auth"] = AUTH
        at.user = user
        at.run()
        at.switch_page(page).run()
        assert_no_exception(at)
        return at

    yield factory
    _clear_caches()


def _buttons(at) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_signed_out_sees_a_sign_in_button_instead_of_a_name_box(signed_app):
    at = signed_app({"is_logged_in": False})
    assert "rubric_confirmer_sign_in" in _buttons(at)
    assert "identity_sidebar_sign_in" in _buttons(at)
    assert not [t for t in at.text_input if t.key == "rubric_confirmer"]  # no typed names with sign-in


def test_the_signed_in_name_is_on_the_review_and_every_confirmation(signed_app, db_url):
    at = signed_app(ANA)
    assert any("Acting as **Ana Lima** (signed in)" in c.value for c in at.caption)
    assert any("Signed in as **Ana Lima**" in c.value for c in at.sidebar.caption)
    at.text_input(key="rubric_new_name").set_value("meeting")
    at.button(key="FormSubmitter:rubric_new_review-Start review").click().run()
    assert_no_exception(at)
    with Store(db_url) as store:
        review = store.get_review_by_name("meeting")
        assert review["author"] == "Ana Lima"
    key = f"rubric_{review['id']}_data-1"
    at.button(key=f"{key}_open").click().run()  # one test's editor opens at a time
    at.radio(key=f"{key}_status").set_value("manual")
    at.button(key=f"FormSubmitter:{key}_form-Confirm").click().run()
    assert_no_exception(at)
    with Store(db_url) as store:
        assert ml_test_score.load_review(store, review["id"]).entries["data-1"].author == "Ana Lima"


def test_the_labels_page_takes_the_reviewer_from_the_identity(signed_app):
    at = signed_app(ANA, "views/labels.py")
    at.segmented_control(key="labels_view").set_value("Queue").run()
    assert_no_exception(at)
    assert any("Acting as **Ana Lima**" in c.value for c in at.caption)
    assert not [t for t in at.text_input if t.key == "labels_reviewer_queue"]


def test_an_account_not_on_the_allowed_list_cannot_record(signed_app, monkeypatch, db_url):
    monkeypatch.setenv("EXPLORE_ALLOWED_USERS", "example.com, ana@example.org")
    at = signed_app({"is_logged_in": True, "email": "eve@evil.org", "name": "Eve"})
    expected = NOT_ALLOWED.format(who="eve@evil.org", allowed="ana@example.org, @example.com")
    assert any(e == expected for e in texts(at.error))
    assert "rubric_confirmer_sign_out" in _buttons(at)
    at.text_input(key="rubric_new_name").set_value("eve's review")
    at.button(key="FormSubmitter:rubric_new_review-Start review").click().run()
    with Store(db_url) as store:
        assert store.list_reviews() == []  # nothing recorded under a refused identity


def test_an_allowed_list_without_sign_in_refuses_to_record(signed_app, monkeypatch):
    monkeypatch.setenv("EXPLORE_ALLOWED_USERS", "example.com")
    at = signed_app({}, auth=False)
    assert any("EXPLORE_ALLOWED_USERS is set, but sign-in is not configured" in e for e in texts(at.error))


def test_without_auth_the_typed_name_stays(signed_app):
    at = signed_app({}, auth=False)
    assert [t for t in at.text_input if t.key == "rubric_confirmer"]
    assert "identity_sidebar_sign_in" not in _buttons(at)


def test_sign_in_with_the_provider_down_says_it_is_unreachable_and_how_to_fix(signed_app):
    """AUTH's server_metadata_url is a closed port: pressing Sign in explains instead of sending the browser to
    Streamlit's bare "Authentication error" page."""
    from ui.identity import PROVIDER_UNREACHABLE

    at = signed_app({"is_logged_in": False})
    at.button(key="rubric_confirmer_sign_in").click().run()
    assert_no_exception(at)
    shown = [e.value.replace("\\", "") for e in at.error]  # the Markdown escapes md_text added
    assert any(
        e.startswith("The identity provider is unreachable")
        and "127.0.0.1:1" in e
        and "server_metadata_url" in e
        for e in shown
    ), shown
    assert PROVIDER_UNREACHABLE.startswith("The identity provider is unreachable, so nobody can sign in")
    assert "rubric_confirmer_sign_in" in _buttons(at)  # still offered: press again once the provider is back
