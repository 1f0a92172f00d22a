"""The 28 tests, section by section, as a list of one line each (number, name, status, confirmer, proposal);
one test at a time opens below its line with its explanation, current entry and evidence, what the app
computed or `explore check` ran for it, the confirmation form, and its history in this review.

One editor, not 28: drawing 28 forms made every interaction of the page take seconds in the browser."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from explore.report.markdown import autolink
from explore.rubric.board import ReviewBoard, history_table, snapshot_label, when
from explore.rubric.ml_test_score import (
    SECTIONS,
    STATUS_WORDS,
    TEST_IDS,
    Entry,
    Proposal,
    RubricTest,
    tests_in,
)
from ui.safe import md_code, md_lines, md_text

from .confirm import confirm_form, form_key, has_error

ROOT = Path(__file__).resolve().parents[3]  # the app's folder: page paths are relative to it
STATUS_ICONS = {
    "not_done": ":material/radio_button_unchecked:",
    "manual": ":material/pan_tool:",
    "automated": ":material/autorenew:",
}
STATUS_COLORS = {"not_done": "gray", "manual": "orange", "automated": "green"}
PAGE_FILES = {
    "Slices": "views/slices.py",
    "Importance": "views/importance.py",
    "Staleness": "views/staleness.py",
    "Checks": "views/checks.py",
}
RUN_OUTCOMES = {
    "passed": "passed",
    "failed": "failed (the test runs automatically; it found a problem)",
    "error": "could not run",
}


def open_key(review_id: int) -> str:
    """Session-state key of the test whose editor is open in this review (None: none)."""
    return f"rubric_{review_id}_open"


def _toggle(key: str, test_id: str) -> None:
    st.session_state[key] = None if st.session_state.get(key) == test_id else test_id


def checklist_section(board: ReviewBoard) -> None:
    result = board.score
    review_id = board.review.review_id
    key = open_key(review_id)
    # A save that failed keeps (or puts) its test open, so the reason shows beside the form.
    failed = next((t for t in TEST_IDS if has_error(form_key(review_id, t))), None)
    if failed is not None:
        st.session_state[key] = failed
    opened = st.session_state.get(key)
    st.subheader("The 28 tests")
    st.caption("Click a test to see its evidence and confirm it; one test is open at a time.")
    for sec in SECTIONS:
        limiting = sec.key in result.limiting
        head = f"{sec.title} — {result.sections[sec.key]:g} / 7"
        st.markdown(f"### {head}" + ("  :orange-badge[limiting]" if limiting else ""))
        st.caption(sec.paper_title)
        for test in tests_in(sec.key):
            is_open = test.id == opened
            st.button(
                row_label(board, test),
                key=f"{form_key(review_id, test.id)}_open",
                icon=":material/expand_less:" if is_open else STATUS_ICONS[result.statuses[test.id]],
                type="tertiary",
                on_click=_toggle,
                args=(key, test.id),
                help="Close" if is_open else "Open: evidence, confirmation, history",
            )
            if is_open:
                with st.container(border=True, key=f"{form_key(review_id, test.id)}_editor"):
                    open_test_editor(board, test)


def open_test_editor(board: ReviewBoard, test: RubricTest) -> None:
    """The open test: what it asks, its entry and evidence, the confirmation form, its history."""
    st.markdown(test.explanation)
    st.caption(f"How to check: {test.how_to_check}")
    show_entry(board, board.review.entry(test.id))
    show_evidence_from_app(board, test, board.proposals[test.id])
    confirm_form(board, test)
    history = board.history(test.id)
    if history:
        st.dataframe(history_table(history), hide_index=True, width="stretch")


def row_label(board: ReviewBoard, test: RubricTest) -> str:
    """A test's line: number, name, status in colour, confirmer (or carried-over status), proposal."""
    entry = board.review.entry(test.id)
    status = board.score.statuses[test.id]
    tail = ""
    if test.id in board.review.entries:
        tail = f" · {md_text(entry.author)}"
    elif entry is not None:
        tail = f" · carried: {STATUS_WORDS[entry.status]}"
    proposal = board.proposals[test.id]
    hint = (
        f" · :blue[:material/lightbulb: proposes {STATUS_WORDS[proposal.proposed]}]"
        if proposal.proposed
        else ""
    )
    return f"**{test.number}. {test.name}** — :{STATUS_COLORS[status]}[{STATUS_WORDS[status]}]{tail}{hint}"


def show_entry(board: ReviewBoard, entry: Entry | None) -> None:
    if entry is None:
        st.caption("Nobody has confirmed this test in this review.")
        return
    if entry.carried_from:
        st.markdown(
            f"Carried over from “{md_text(entry.carried_from)}”: **{STATUS_WORDS[entry.status]}**, confirmed by "
            f"{md_text(entry.author)} on {when(entry.created_at)} — not re-confirmed here yet."
        )
    else:
        st.markdown(
            f"**{STATUS_WORDS[entry.status].capitalize()}**, confirmed by **{md_text(entry.author)}** on {when(entry.created_at)}."
        )
    if entry.evidence_text:
        st.markdown(md_lines(entry.evidence_text))
    for link in entry.links:
        st.markdown(
            f"- {autolink(link)}" if link.startswith(("http://", "https://")) else f"- {md_code(link)}"
        )
    for sid in entry.snapshot_ids:
        row = board.snapshots.get(sid)
        with st.popover(md_text(snapshot_label(sid, row)), icon=":material/attach_file:"):
            if row is None:
                st.caption("This snapshot is not in the store any more.")
            else:
                st.caption(
                    md_text(
                        f"kind {row['kind']} · model {row['model_fingerprint']} · data {row['data_fingerprint'] or '—'} · "
                        f"by {row['author']} · frozen {when(row['created_at'])}"
                    )
                )
                st.json(row["result"], expanded=1)


def show_evidence_from_app(board: ReviewBoard, test: RubricTest, proposal: Proposal) -> None:
    if proposal.runs:
        last = proposal.last_run
        repeated = (
            ""
            if proposal.run_days >= 2
            else " Only one day of runs so far: automation means runs on a repeated basis."
        )
        st.markdown(
            f":material/autorenew: **`explore check` covered it in {len(proposal.runs)} run(s) on {proposal.run_days} day(s)**; "
            f"last {when(last.finished_at)}: {RUN_OUTCOMES[last.outcome]} ({md_text(', '.join(last.checks))}).{repeated}"
        )
    if proposal.snapshots:
        items = ", ".join(
            md_text(f"#{s.id} {s.title} ({s.source}, {when(s.created_at)})") for s in proposal.snapshots[:5]
        )
        more = f" and {len(proposal.snapshots) - 5} more" if len(proposal.snapshots) > 5 else ""
        st.markdown(f":material/attach_file: **App-computed evidence**: {items}{more}.")
    if proposal.proposed:
        st.markdown(f":material/lightbulb: The app proposes **{STATUS_WORDS[proposal.proposed]}**.")
    for analysis in test.analyses:
        label = f"{analysis.page} page: {analysis.analysis}"
        if not _page_link(PAGE_FILES.get(analysis.page), label):
            st.caption(label)
    if test.analyses and board.runnable.get(test.id):
        st.caption(f"Not runnable on this workspace: {board.runnable[test.id]}.")
    if not test.analyses:
        st.caption("The app cannot compute evidence for this test: confirm it with text and links.")


def _page_link(page: str | None, label: str) -> bool:
    """A link to another page of the app; False when there is none to link to."""
    if not (page and (ROOT / page).exists()):
        return False
    try:
        st.page_link(page, label=label, icon=":material/open_in_new:")
    # Not an ExploreError: Streamlit refuses a page that is not in this app's navigation (a page run on its own).
    except StreamlitAPIException:
        return False
    return True
