"""The one place where an ExploreError becomes what the user sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from explore.errors import ExploreError


@contextmanager
def shown_errors(*, stop: bool = True) -> Iterator[None]:
    """Show any ExploreError raised inside as ``st.error`` (with its fix) and stop the page (or go on).

    Other exceptions are bugs and propagate.
    """
    try:
        yield
    except ExploreError as exc:
        st.error(str(exc), icon=":material/error:")
        if stop:
            st.stop()
