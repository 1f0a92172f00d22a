"""Who is acting: the signed-in user when Streamlit auth is configured, else a name typed once per session.

Sign-in is Streamlit's own (``st.login`` / ``st.user``, OpenID Connect), configured by an ``[auth]`` section
in ``.streamlit/secrets.toml`` (docs/sign-in.md). With it, the name on every verdict and confirmation comes
from the identity — nobody types one — and ``EXPLORE_ALLOWED_USERS`` may restrict who records decisions.
Without it, a name is typed once and used on every page (today's behaviour).

Every page that records a decision (verdicts, confirmations, evidence) asks here, so records on a shared team
server say who really wrote them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from explore.core import settings
from explore.core.access import refusal
from explore.errors import IdentityError
from ui.boundary import say
from ui.safe import md_text

from . import state

ALLOWED_WITHOUT_SIGN_IN = (
    "EXPLORE_ALLOWED_USERS is set, but sign-in is not configured, so nobody can be checked against it and "
    "nothing can be recorded. Add an [auth] section to .streamlit/secrets.toml (docs/sign-in.md), or unset "
    "EXPLORE_ALLOWED_USERS."
)

SIGN_IN_FIRST = (
    "Sign in first (the Sign in button beside your name, or in the sidebar): with sign-in configured, every "
    "record carries the name of the account that made it."
)


def auth_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's OIDC sign-in)."""
    try:
        return "auth" in st.secrets
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return False


def _claims() -> dict[str, Any]:
    return st.user.to_dict() if st.user.get("is_logged_in") else {}


def _display_name(claims: dict[str, Any]) -> str:
    name = " ".join(str(claims.get("name") or claims.get("email") or "").split())
    return name or "signed-in user"


def refused() -> str | None:
    """Why the person at this session may not record decisions, or None when they may (or must type a name)."""
    allowed = settings.allowed_users()
    if not auth_configured():
        return ALLOWED_WITHOUT_SIGN_IN if allowed is not None else None
    claims = _claims()
    return refusal(claims, allowed) if claims else None


def signed_in_name() -> str | None:
    """The signed-in user's name (else e-mail), or None: nobody signed in, auth not configured, or the user is
    not on EXPLORE_ALLOWED_USERS."""
    claims = _claims()
    if not claims or refused() is not None:
        return None
    return _display_name(claims)


def sign_in_required() -> bool:
    """Whether names must come from an identity (sign-in configured, or an allowed list set)."""
    return auth_configured() or settings.allowed_users() is not None


def current_user() -> str:
    """The acting user's name ("" when nobody may record yet). Safe inside callbacks. With sign-in configured
    only the identity counts; a typed name is used only without it."""
    if sign_in_required():
        return signed_in_name() or ""
    return st.session_state.get(state.USER_NAME, "")


def recording_author() -> str | None:
    """The author to record with a decision: the identity with sign-in configured, else the typed name, else
    None (the store then records $EXPLORE_USER or the login name). Raises IdentityError when sign-in is
    configured and nobody (allowed) is signed in — nothing is then recorded under a wrong name."""
    if (why := refused()) is not None:
        raise IdentityError(why)
    if sign_in_required():
        name = signed_in_name()
        if not name:
            raise IdentityError(SIGN_IN_FIRST)
        return name
    return st.session_state.get(state.USER_NAME, "") or None


PROVIDER_UNREACHABLE = (
    "The identity provider is unreachable, so nobody can sign in right now: {url} answered {reason}. "
    "Check that the provider is running and that this server can reach it (server_metadata_url in the [auth] "
    "section of .streamlit/secrets.toml, see docs/sign-in.md), then press Sign in again. Nothing is recorded "
    "until you are signed in."
)
# Seconds to wait for the provider's metadata before saying it is unreachable (Streamlit's own redirect would
# otherwise end on a bare "Authentication error" page).
PROVIDER_TIMEOUT = 5.0


def provider_problem() -> str | None:
    """Why the identity provider of ``[auth] server_metadata_url`` cannot be used now (None when it answers with
    its OpenID configuration, or when no such URL is configured)."""
    import json
    import urllib.error
    import urllib.request

    try:
        url = str(st.secrets["auth"].get("server_metadata_url") or "")
    except (KeyError, StreamlitSecretNotFoundError, FileNotFoundError):
        return None
    if not url:
        return None
    try:
        with urllib.request.urlopen(url, timeout=PROVIDER_TIMEOUT) as response:
            body = json.loads(response.read(1 << 20))
        if not isinstance(body, dict) or "authorization_endpoint" not in body:
            reason = "with something that is not an OpenID configuration"
        else:
            return None
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", None) or exc
        reason = f"nothing ({why})"
    except ValueError:
        reason = "with something that is not JSON"
    return PROVIDER_UNREACHABLE.format(url=url, reason=reason)


def sign_in_button(*, key: str) -> None:
    """A button that starts Streamlit's sign-in (redirect to the identity provider), or says why it cannot when
    the provider does not answer."""
    if st.button("Sign in", key=key, icon=":material/login:", type="primary"):
        problem = provider_problem()
        if problem is not None:
            st.error(md_text(problem), icon=":material/cloud_off:")
            return
        st.login()


def sign_out_button(*, key: str) -> None:
    if st.button("Sign out", key=key, icon=":material/logout:"):
        st.logout()


def sidebar_account() -> None:
    """In the sidebar with sign-in configured: who is signed in and a sign-out button, or a sign-in button."""
    if not auth_configured():
        return
    claims = _claims()
    if claims:
        st.caption(f"Signed in as **{md_text(_display_name(claims))}**")
        sign_out_button(key="identity_sidebar_sign_out")
    else:
        sign_in_button(key="identity_sidebar_sign_in")


def name_input(label: str, *, key: str, help: str | None = None, placeholder: str = "e.g. Ana") -> str:
    """Where a name is needed. With sign-in configured: the signed-in name as a caption, else a sign-in button
    (or why this account may not record). Without it: a text input remembered across pages. Returns the name
    ("" when nobody may record yet)."""
    if (why := refused()) is not None:
        say("error", why, icon=":material/block:")
        if _claims():
            sign_out_button(key=f"{key}_sign_out")
        return ""
    if auth_configured():
        name = signed_in_name()
        if name:
            st.caption(f"Acting as **{md_text(name)}** (signed in).")
            return name
        st.info("Sign in to record decisions: your name comes from your account.", icon=":material/badge:")
        sign_in_button(key=f"{key}_sign_in")
        return ""

    def remember() -> None:
        st.session_state[state.USER_NAME] = " ".join(str(st.session_state[key]).split())

    if key not in st.session_state:  # widget state is dropped on page switches; the name is not
        st.session_state[key] = st.session_state.get(state.USER_NAME, "")
    st.text_input(label, key=key, on_change=remember, help=help, placeholder=placeholder)
    remember()
    return st.session_state[state.USER_NAME]
