"""The one place where an ExploreError becomes what the user sees, callbacks included.

- ``with shown_errors():`` around page code: an ``ExploreError`` shows as ``st.error`` (its message says what
  is wrong, what was received and the fix) and stops the page, or lets it go on with ``stop=False``.
- ``@guarded`` on a widget callback: callbacks run before the page, where ``st.error`` would be lost, so an
  ``ExploreError`` becomes a flash message that the next run of the page shows.
- ``flash(...)`` for a callback's own outcome ("Saved…", "Nothing to save…"), shown once by ``show_flashes()``,
  which the router calls at the top of every page.
- ``say(kind, text)`` for a page's own message that quotes user text (a column, a dataset, a model name).

Every message shown here is text, never Markdown: error messages quote what the user supplied (a column named
``[x](javascript:…)``, a review named ``![x](https://…)``), so the whole message is escaped by
``ui.safe.md_lines`` (line breaks kept) in this one place. Callers pass the plain text; they do not escape it.

Any other exception is a bug and propagates, so it is seen rather than hidden.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import streamlit as st

from explore.errors import ExploreError
from ui.safe import md_lines

FLASHES = "ui_flashes"  # session-state list of (kind, message, icon)
Kind = Literal["success", "info", "warning", "error", "toast"]
_ICONS = {
    "toast": ":material/check:",
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
    "error": ":material/error:",
}
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def shown_errors(*, stop: bool = True) -> Iterator[None]:
    """Show any ExploreError raised inside as ``st.error`` (with its fix) and stop the page (or go on)."""
    try:
        yield
    except ExploreError as exc:
        say("error", str(exc))
        if stop:
            st.stop()


def say(kind: Kind, message: object, *, icon: str | None = None) -> None:
    """Show ``message`` now as a ``kind`` notice (``st.error``, ``st.toast``…), exactly as written: escaped, so
    nothing in it is Markdown or HTML (a link, an image, a ``:red[…]`` directive in a name shows as typed)."""
    getattr(st, kind)(md_lines(message), icon=icon or _ICONS[kind])


def flash(message: str, kind: Kind = "success", *, icon: str | None = None) -> None:
    """Queue ``message`` (plain text, shown escaped) for the next run of the page (for callbacks, which run
    before the page draws)."""
    st.session_state.setdefault(FLASHES, []).append((kind, str(message), icon or _ICONS[kind]))


def show_flashes() -> None:
    """Show and forget the queued flash messages (called once per run, at the top of the page)."""
    for kind, message, icon in st.session_state.pop(FLASHES, []):
        say(kind, message, icon=icon)  # "toast": a brief note in the corner, for frequent saves


def guarded(callback: F) -> F:
    """A widget callback whose ExploreError becomes a flash message instead of a lost exception."""

    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return callback(*args, **kwargs)
        except ExploreError as exc:
            flash(str(exc), "error")
            return None

    return wrapper  # type: ignore[return-value]
