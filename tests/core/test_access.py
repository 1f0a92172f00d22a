"""explore.core.access: EXPLORE_ALLOWED_USERS parsed and validated, and who it lets record decisions."""

from __future__ import annotations

import pytest

from explore.core import settings
from explore.core.access import NOT_ALLOWED, UNVERIFIED, parse_allowed_users, refusal
from explore.errors import SettingError


def test_addresses_and_domains_in_any_separator_and_case():
    allowed = parse_allowed_users(" Ana@Example.org, example.com\n@Team.Example.net  ")
    assert allowed.emails == {"ana@example.org"}
    assert allowed.domains == {"example.com", "team.example.net"}
    assert allowed.describe() == "ana@example.org, @example.com, @team.example.net"


@pytest.mark.parametrize(
    ("email", "permitted"),
    [
        ("ana@example.org", True),
        ("ANA@EXAMPLE.ORG", True),
        ("bob@example.org", False),  # only Ana of that domain
        ("bob@example.com", True),
        ("bob@sub.example.com", False),  # a domain is exact, not its subdomains
        ("bob@notexample.com", False),
        ("example.com", False),  # not an address
        ("", False),
        (None, False),
    ],
)
def test_permits(email, permitted):
    assert parse_allowed_users("ana@example.org, example.com").permits(email) is permitted


@pytest.mark.parametrize(
    "raw", ["ana@", "no spaces@example.org x@", "localhost", "a@b@c", "http://example.org", ","]
)
def test_bad_entries_are_refused(raw):
    with pytest.raises(ValueError):
        parse_allowed_users(raw)


def test_the_setting_says_what_is_wrong_and_the_fix(monkeypatch):
    monkeypatch.setenv("EXPLORE_ALLOWED_USERS", "example.com, localhost")
    with pytest.raises(SettingError) as caught:
        settings.allowed_users()
    message = str(caught.value)
    assert "EXPLORE_ALLOWED_USERS must be e-mail addresses and domains separated by commas" in message
    assert "'example.com, localhost'" in message and "ana@example.org,example.com" in message
    monkeypatch.setenv("EXPLORE_ALLOWED_USERS", "example.com")
    assert settings.allowed_users().domains == {"example.com"}
    monkeypatch.delenv("EXPLORE_ALLOWED_USERS")
    assert settings.allowed_users() is None


def test_refusal_names_the_account_the_list_and_the_fix():
    allowed = parse_allowed_users("example.com")
    assert refusal({"email": "ana@example.com", "email_verified": True}, allowed) is None
    assert refusal({"email": "eve@evil.org"}, None) is None  # no list: anyone who signs in
    assert refusal({"email": "eve@evil.org"}, allowed) == NOT_ALLOWED.format(
        who="eve@evil.org", allowed="@example.com"
    )
    assert refusal({"email": "ana@example.com", "email_verified": False}, allowed) == UNVERIFIED.format(
        email="ana@example.com"
    )
    assert "no e-mail address" in refusal({"name": None}, allowed)
