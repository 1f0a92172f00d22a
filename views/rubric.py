"""Rubric: the ML Test Score (2017 scale) for readiness review meetings.

The score big with its band in words, a bar per section (the limiting one highlighted), the cheapest next
points, each of the 28 tests with its status, evidence and confirmer, proposals from evidence the app
computed and from `explore check` runs, history across reviews, and exports (the meeting minutes among them).
The app proposes; people confirm. The presenter view is the meeting's screen: the score, what changed, the next
points, in large type.
"""

from __future__ import annotations

import streamlit as st

from explore.checks.registry import tests_covered
from explore.rubric.board import review_board
from explore.rubric.ml_test_score import SCALE_NOT_2016, SCALE_RULES, SCALE_TITLE
from ui import live, loaders
from ui.boundary import shown_errors
from ui.panels.rubric.checklist import checklist_section
from ui.panels.rubric.history import check_runs_section, export_section, history_section
from ui.panels.rubric.presenter import presenter_section, presenter_toggle
from ui.panels.rubric.reviews import review_bar
from ui.panels.rubric.score import next_points_section, score_section

st.title("ML Test Score")
st.caption(f"{SCALE_TITLE}. {SCALE_RULES} {SCALE_NOT_2016}")

# Reviews live in the store, so the page works without a workspace (no page_context(), which would stop here):
# the workspace, when one opens, narrows evidence and check runs to it.
with shown_errors():
    store = loaders.store()
ws = loaders.current_workspace()

review_id = review_bar(store, ws)  # which review, who confirms, New review, Import
if review_id is None:
    st.info(
        f"No review {'of this workspace ' if ws is not None else ''}yet. Start one with **New review** (e.g. "
        "“churn v3 — 2026-11-22”), or import a review "
        "exported from another store. Each of the 28 tests is then confirmed by the team: not done, manual "
        "(run by hand, results documented and shared: ½ point) or automated (run automatically on a repeated "
        "basis: 1 point).",
        icon=":material/grading:",
    )
    st.stop()

# What another reviewer confirms meanwhile appears within ~2 s (a marker taken before the board is read).
live.follow(lambda: store.review_marker(review_id), key=f"rubric_seen_{review_id}")
with shown_errors():
    board = review_board(store, review_id, workspace=ws, automatable=tests_covered())

if presenter_toggle():  # the meeting's screen: large type, read-only, live
    presenter_section(store, board, ws)
else:
    score_section(board)
    next_points_section(board)
    checklist_section(board)
    history_section(store, board)
    check_runs_section(store, board, ws)
    export_section(board, store, ws)
