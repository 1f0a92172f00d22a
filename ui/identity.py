"""Who is acting: the signed-in user when Streamlit auth is configured, else a name typed once per session.

Every page that records a decision (verdicts, confirmations, evidence) asks here, so a name typed on one
page is the name on every page, and records on a shared team server say who really wrote them.
"""

from __future__ import annotations

import streamlit as st

from ui.safe import md_text

from . import state


def signed_in_name() -> str | None:
    """The signed-in user's name or email, or None without auth."""
    if st.user.get("is_logged_in"):
        name = " ".join(str(st.user.get("name") or st.user.get("email") or "").split())
        return name or "signed-in user"
    return None


def current_user() -> str:
    """The acting user's name ("" when nobody signed in or typed a name yet). Safe inside callbacks."""
    return signed_in_name() or st.session_state.get(state.USER_NAME, "")


def name_input(label: str, *, key: str, help: str | None = None, placeholder: str = "e.g. Ana") -> str:
    """The signed-in name (shown as a caption), else a text input remembered across pages; returns the name."""
    name = signed_in_name()
    if name:
        st.caption(f"Acting as **{md_text(name)}** (signed in).")
        return name

    def remember() -> None:
        st.session_state[state.USER_NAME] = " ".join(str(st.session_state[key]).split())

    if key not in st.session_state:  # widget state is dropped on page switches; the name is not
        st.session_state[key] = st.session_state.get(state.USER_NAME, "")
    st.text_input(label, key=key, on_change=remember, help=help, placeholder=placeholder)
    remember()
    return st.session_state[state.USER_NAME]
