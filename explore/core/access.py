"""Who may record decisions on a shared server: an optional list of allowed e-mail addresses and domains.

``EXPLORE_ALLOWED_USERS`` (see :mod:`explore.core.settings`) holds addresses (``ana@example.org``) and domains
(``example.org`` or ``@example.org``), separated by commas or spaces. With the list set, a signed-in user
records verdicts and confirmations only when their (verified) e-mail address is on it or in one of its domains.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NOT_ALLOWED = (
    "{who} is signed in but is not on the list of reviewers allowed to record decisions on this server "
    "(EXPLORE_ALLOWED_USERS: {allowed}). Sign in with an allowed account, or ask whoever runs the server to add "
    "your address or domain to EXPLORE_ALLOWED_USERS."
)
UNVERIFIED = (
    "The identity provider says the e-mail address {email} is not verified, so it cannot be matched against "
    "EXPLORE_ALLOWED_USERS. Verify the address with the provider, then sign in again."
)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")
_LOCAL = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+$")


@dataclass(frozen=True)
class AllowedUsers:
    """Allowed e-mail addresses and domains, lower-cased."""

    emails: frozenset[str]
    domains: frozenset[str]

    def describe(self) -> str:
        return ", ".join(sorted(self.emails) + [f"@{d}" for d in sorted(self.domains)])

    def permits(self, email: str | None) -> bool:
        """Whether ``email`` is on the list or in one of its domains (exact domain, case-insensitive)."""
        address = str(email or "").strip().lower()
        if "@" not in address:
            return False
        return address in self.emails or address.rsplit("@", 1)[1] in self.domains


def parse_allowed_users(raw: str) -> AllowedUsers:
    """Parse ``"ana@example.org, example.com @example.net"``. Raises ValueError naming the first entry that is
    neither an e-mail address nor a domain."""
    emails: set[str] = set()
    domains: set[str] = set()
    for entry in re.split(r"[,\s]+", raw.strip().lower()):
        if not entry:
            continue
        local, at, domain = entry.rpartition("@")
        if not _DOMAIN.match(domain) or (at and local and not _LOCAL.match(local)):
            raise ValueError(f"{entry!r} is neither an e-mail address nor a domain")
        if local:
            emails.add(entry)
        else:
            domains.add(domain)
    if not emails and not domains:
        raise ValueError("no address or domain")
    return AllowedUsers(frozenset(emails), frozenset(domains))


def refusal(user: Mapping[str, Any], allowed: AllowedUsers | None) -> str | None:
    """Why the signed-in ``user`` (OIDC claims: ``email``, ``email_verified``, ``name``) may not record
    decisions, or None when they may (always, without an allowed list)."""
    if allowed is None:
        return None
    email = str(user.get("email") or "").strip()
    if email and user.get("email_verified") is False:
        return UNVERIFIED.format(email=email)
    if allowed.permits(email):
        return None
    who = email or str(user.get("name") or "This account (no e-mail address given by the provider)")
    return NOT_ALLOWED.format(who=who, allowed=allowed.describe())
