"""One test's confirmation form. Saving happens in a callback that checks the entry this person saw
(``{key}_seen``) is still the newest: a concurrent change is refused with who/what/when.

A save's error shows beside its form, whose expander opens to show it (``{key}_error``); its success shows as
a flash message at the top of the page, with the new score.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from explore.errors import ExploreError
from explore.rubric.board import ReviewBoard, form_start, snapshot_label
from explore.rubric.ml_test_score import (
    POINTS,
    STATUS_WORDS,
    STATUSES,
    TESTS_BY_ID,
    Entry,
    RubricError,
    RubricTest,
    confirm_test,
    parse_links,
)
from ui import identity, loaders
from ui.boundary import flash, say

NAME_FIRST = "Enter your name at the top first: every confirmation records who made it."


def form_key(review_id: int, test_id: str) -> str:
    """The prefix of one test's widget and state keys in one review."""
    return f"rubric_{review_id}_{test_id}"


def has_error(key: str) -> bool:
    """Whether the last save of this form failed (its expander opens to show why)."""
    return f"{key}_error" in st.session_state


@contextmanager
def _errors_beside_form(key: str) -> Iterator[None]:
    """An ExploreError in a save is shown beside the form on the next run. Not ui.boundary.guarded: that shows
    it at the top of the page, out of sight of someone confirming the 20th test further down."""
    try:
        yield
    except ExploreError as exc:
        st.session_state[f"{key}_error"] = str(exc)


def _save(
    review: int, test_id: str, key: str, *, status: str, text: str, links: list[str], snapshot_ids: list[int]
) -> None:
    """Write one confirmation (runs in a callback, before the script body). Raises ExploreError when it cannot."""
    who = identity.recording_author()
    if not who:
        raise RubricError(NAME_FIRST)
    new_id = confirm_test(
        loaders.store(),
        review,
        test_id,
        status=status,
        author=who,
        evidence_text=text.strip(),
        links=links,
        snapshot_ids=snapshot_ids,
        expected_entry_id=st.session_state.get(f"{key}_seen"),
    )
    st.session_state[f"{key}_seen"] = new_id
    st.session_state.pop(f"{key}_error", None)
    flash(
        f"{TESTS_BY_ID[test_id].label} confirmed as {STATUS_WORDS[status]} by {who}.", icon=":material/check:"
    )


def _on_confirm(review: int, test_id: str, key: str) -> None:
    ss = st.session_state
    with _errors_beside_form(key):
        _save(
            review,
            test_id,
            key,
            status=ss[f"{key}_status"],
            text=ss.get(f"{key}_text", ""),
            links=parse_links(ss.get(f"{key}_links", "")),
            snapshot_ids=list(ss.get(f"{key}_snaps", [])),
        )


def _on_reconfirm(review: int, test_id: str, key: str, entry: Entry) -> None:
    with _errors_beside_form(key):
        kept = [i for i in entry.snapshot_ids if loaders.store().get_snapshot(i) is not None]
        _save(
            review,
            test_id,
            key,
            status=entry.status,
            text=entry.evidence_text,
            links=list(entry.links),
            snapshot_ids=kept,
        )


def confirm_form(board: ReviewBoard, test: RubricTest) -> None:
    review_id = board.review.review_id
    key = form_key(review_id, test.id)
    start = form_start(board, test.id)
    widgets = [f"{key}_{w}" for w in ("status", "text", "links", "snaps")]
    # When what the form shows changes (a new entry, a new proposal), its widgets start again from it.
    if st.session_state.get(f"{key}_token") != start.token:
        for w in widgets:
            st.session_state.pop(w, None)
        st.session_state[f"{key}_token"] = start.token
    if error := st.session_state.pop(f"{key}_error", None):
        say("error", error, icon=":material/error:")
    with st.form(f"{key}_form", border=True):
        st.radio(
            "Status",
            STATUSES,
            index=STATUSES.index(start.status),
            horizontal=True,
            key=widgets[0],
            format_func=lambda s: f"{STATUS_WORDS[s]} ({POINTS[s]:g} pt)",
        )
        st.text_area(
            "Evidence",
            value=start.evidence_text,
            key=widgets[1],
            height=80,
            placeholder="What was run, what it showed, where the results are shared.",
        )
        st.text_area(
            "Links (one per line)",
            value=start.links_text,
            key=widgets[2],
            height=68,
            placeholder="https://ci.example.com/job/123",
        )
        st.multiselect(
            "Attached app evidence",
            start.snapshot_options,
            default=start.attached,
            key=widgets[3],
            format_func=lambda sid: snapshot_label(sid, board.snapshots.get(sid)),
        )
        st.form_submit_button(
            "Confirm",
            icon=":material/how_to_reg:",
            type="primary",
            on_click=_on_confirm,
            args=(review_id, test.id, key),
        )
    # What this person sees now; a save is checked against it.
    st.session_state[f"{key}_seen"] = start.seen_entry_id
    entry = board.review.entry(test.id)
    if entry is not None and entry.carried_from:
        st.button(
            f"Re-confirm as carried over ({STATUS_WORDS[entry.status]})",
            key=f"{key}_reconfirm",
            icon=":material/done_all:",
            on_click=_on_reconfirm,
            args=(review_id, test.id, key, entry),
        )
