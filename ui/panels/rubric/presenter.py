"""The presenter view for the review meeting: large type, read-only, following the store live (the page's
``ui.live.follow`` reruns it within ~2 s of another reviewer's confirmation).

The score per section and overall, what changed since the start of the meeting, the previous review or a
chosen time, and the next points to earn. Widgets only: the logic is ``explore.rubric.presenter``. Names and
notes are user text: Markdown through ``ui.safe``, tables through ``st.dataframe`` (text, never markup).
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from explore.core.store import Store
from explore.core.workspace import Workspace
from explore.rubric.board import ReviewBoard
from explore.rubric.ml_test_score import EFFORTS, SECTION_TITLES, SECTIONS, STATUS_WORDS, TESTS_BY_ID
from explore.rubric.presenter import (
    Changes,
    changes_since,
    changes_since_review,
    changes_table,
    previous_review,
    ranked_next_points,
    verdicts_table,
)
from ui.boundary import shown_errors
from ui.safe import md_text

NEXT_SHOWN = 5
SINCE_MEETING = "the start of this meeting"
SINCE_REVIEW = "the previous review"
SINCE_TIME = "a date and time"
MEETING_KEY = "rubric_presenter_started"  # when this session opened the presenter view (UTC)


def presenter_toggle() -> bool:
    """The switch between the working page and the presenter view (kept for the session)."""
    on = st.toggle(
        "Presenter view",
        key="rubric_presenter",
        help="Large type, read-only, for the screen the meeting looks at: the score, what changed and the next "
        "points. It follows the store: what others confirm appears within ~2 s.",
    )
    if on:
        st.session_state.setdefault(MEETING_KEY, dt.datetime.now(dt.UTC))
    return on


def presenter_section(store: Store, board: ReviewBoard, ws: Workspace | None) -> None:
    review, result = board.review, board.score
    st.markdown(f"## {md_text(review.name)}")
    left, right = st.columns([1, 3], gap="large")
    with left:
        st.markdown(f"# {result.final:g} / 7")
        st.markdown(f"### {result.band.words}")
        st.caption(f"Overall: the lowest section score (band {result.band.interval}).")
    with right:
        cols = st.columns(len(SECTIONS))
        for col, sec in zip(cols, SECTIONS, strict=True):
            limiting = sec.key in result.limiting
            with col:
                st.markdown(f"#### {sec.title}")
                st.markdown(
                    f"# {':orange[' if limiting else ''}{result.sections[sec.key]:g}{']' if limiting else ''}"
                )
                counts = result.counts[sec.key]
                st.caption(
                    f"{counts['automated']} automated · {counts['manual']} manual · {counts['not_done']} not done"
                    + (" · **limiting**" if limiting else "")
                )
    st.divider()
    _changes(store, board, ws)
    st.divider()
    _next_points(board)


def _since_choice(store: Store, review_id: int) -> tuple[str, dt.datetime | None]:
    options = [SINCE_MEETING, SINCE_TIME]
    with shown_errors(stop=False):
        if previous_review(store, review_id) is not None:
            options.insert(1, SINCE_REVIEW)
    choice = st.segmented_control(
        "What changed since", options, default=SINCE_MEETING, key="rubric_presenter_since"
    )
    if choice == SINCE_TIME:
        today = dt.datetime.now(dt.UTC)
        c1, c2 = st.columns(2)
        day = c1.date_input("Day (UTC)", value=today.date(), key="rubric_presenter_day")
        at = c2.time_input("Time (UTC)", value=dt.time(0, 0), key="rubric_presenter_time")
        return SINCE_TIME, dt.datetime.combine(day, at, tzinfo=dt.UTC)
    if choice == SINCE_REVIEW:
        return SINCE_REVIEW, None
    return SINCE_MEETING, st.session_state.get(MEETING_KEY) or dt.datetime.now(dt.UTC)


def _changes(store: Store, board: ReviewBoard, ws: Workspace | None) -> None:
    st.markdown("## What changed")
    mode, since = _since_choice(store, board.review.review_id)
    changes: Changes | None = None
    with shown_errors(stop=False):
        if mode == SINCE_REVIEW:
            changes = changes_since_review(store, board.review.review_id)
        else:
            workspace = str(ws.config.path) if ws is not None else None
            changes = changes_since(store, board.review.review_id, since, workspace=workspace)
    if changes is None:
        return
    point = f"“{md_text(changes.against)}”" if changes.against else f"{since:%Y-%m-%d %H:%M} UTC"
    before, after = changes.before.final, changes.after.final
    moved = f"{before:g} → **{after:g}**" if before != after else f"unchanged at **{after:g}**"
    st.markdown(f"### Score since {point}: {moved}")
    for key, (b, a) in changes.raised_sections.items():
        st.markdown(f"- {SECTION_TITLES[key]}: {b:g} → **{a:g}**")
    if not changes.tests:
        st.caption("No test was confirmed or changed since then.")
    else:
        st.markdown(f"**{len(changes.tests)} test(s) confirmed or changed**")
        st.dataframe(changes_table(changes), hide_index=True, width="stretch")
    if changes.against is None:
        if changes.n_verdicts:
            st.markdown(f"**{changes.n_verdicts} spot-check verdict(s) given since**")
            st.dataframe(verdicts_table(changes), hide_index=True, width="stretch")
        else:
            st.caption("No spot-check verdict given since then.")


def _next_points(board: ReviewBoard) -> None:
    st.markdown("## Next points to earn")
    nxt = board.next_points
    ranked = ranked_next_points(nxt, limit=NEXT_SHOWN)
    if not ranked:
        st.markdown("### Every test is automated: 7 points in every section.")
        return
    st.markdown(f"### Doing the first {len(nxt.plan)} raises the score to {nxt.final_after_plan:g}")
    for i, step in enumerate(ranked, 1):
        t = TESTS_BY_ID[step.test_id]
        st.markdown(
            f"#### {i}. {t.label} — {t.name}\n{STATUS_WORDS[step.from_status]} → "
            f"**{STATUS_WORDS[step.to_status]}**: {EFFORTS[step.effort]}."
        )
