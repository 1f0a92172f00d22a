"""Pages that follow what other reviewers write: a small fragment polls a cheap store marker and reruns the
page when it changes, so a confirmation or verdict given elsewhere appears within ~2 s without a reload.

The page takes its marker *before* it reads what it shows, so anything written after that read is seen by the
next poll; its own writes rerun the page anyway, which takes the new marker without a second rerun.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import streamlit as st

from explore.errors import StoreError
from ui.boundary import say

POLL_SECONDS = 2.0
UNREACHABLE = (
    "The store is unreachable, so changes other reviewers make do not show here and what you record now "
    "cannot be saved (you will see why, nothing is dropped silently). Trying again every {seconds:g} s. {reason}"
)


def follow(marker: Callable[[], Hashable], *, key: str) -> None:
    """Rerun the whole page whenever ``marker()`` differs from its value at this run (checked every
    POLL_SECONDS); say so when the store cannot be reached. ``key``: session-state key of the value shown."""
    try:
        st.session_state[key] = marker()
    except StoreError:
        st.session_state[key] = None  # unreachable now: the poll says so, and reruns once it is back

    @st.fragment(run_every=POLL_SECONDS)
    def _poll() -> None:
        try:
            now = marker()
        except StoreError as exc:
            say("warning", UNREACHABLE.format(seconds=POLL_SECONDS, reason=exc), icon=":material/cloud_off:")
            return
        if now != st.session_state.get(key):
            st.rerun(scope="app")

    _poll()
