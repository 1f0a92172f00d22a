"""The score of a review, big, with its band in words and a bar per section; and the cheapest next points.

No HTML here: the review name is user text (a stored cross-site scripting hole once), so names go through
``ui.safe.md_text`` and the score is an ``st.metric``.
"""

from __future__ import annotations

import streamlit as st

from explore.rubric.board import ReviewBoard, next_steps_table
from explore.rubric.ml_test_score import EFFORTS, SECTION_TITLES, STATUS_WORDS, TESTS_BY_ID, rubric_score
from ui.safe import md_text

from . import cached


def score_section(board: ReviewBoard) -> None:
    review, result = board.review, board.score
    left, right = st.columns([1, 2], gap="large")
    with left:
        st.metric("ML Test Score (out of 7)", f"{result.final:g}")
        st.caption(f"Review “{md_text(review.name)}”")
        st.markdown(f"#### {result.band.words}")
        st.caption(f"Band {result.band.interval} of the 2017 paper.")
        lim = ", ".join(f"**{SECTION_TITLES[k]}** ({result.sections[k]:g})" for k in result.limiting)
        st.markdown(
            f"Limited by {lim}: the final score is the lowest section score, so only "
            f"{'this section' if len(result.limiting) == 1 else 'these sections'} can raise it."
        )
        if review.carried:
            what_if = rubric_score(review.carried_statuses()).final
            st.info(
                f"{len(review.carried)} test(s) carried over from “{md_text(review.parent_name)}” await re-confirmation; they count "
                f"once someone confirms them here (score if all were re-confirmed as they were: {what_if:g}).",
                icon=":material/history:",
            )
    with right:
        bars, grid = cached.score_chart_specs(tuple(sorted(result.statuses.items())))
        st.vega_lite_chart(bars, width="stretch")
        st.vega_lite_chart(grid, width="stretch")


def next_points_section(board: ReviewBoard) -> None:
    nxt = board.next_points
    st.subheader("Cheapest next points")
    if not nxt.plan:
        st.success("Every test is automated: 7 points in every section.", icon=":material/emoji_events:")
    else:
        if len(nxt.limiting) > 1:
            st.markdown(
                f"{len(nxt.limiting)} sections tie at {nxt.final:g}: one step in **each** raises the score "
                f"to {nxt.final_after_plan:g}."
            )
        else:
            st.markdown(
                f"One step in {SECTION_TITLES[nxt.limiting[0]]} raises the score to {nxt.final_after_plan:g}."
            )
        for step in nxt.plan:
            t = TESTS_BY_ID[step.test_id]
            st.markdown(
                f"- **{t.label} — {t.name}**: {STATUS_WORDS[step.from_status]} → "
                f"{STATUS_WORDS[step.to_status]}. {EFFORTS[step.effort].capitalize()}."
            )
        with st.expander(f"All {len(nxt.steps)} possible steps in the limiting section(s), cheapest first"):
            st.dataframe(next_steps_table(nxt), hide_index=True, width="stretch")

    proposed = [p for p in board.proposals.values() if p.proposed]
    if proposed:
        st.info(
            "The app has evidence for "
            + ", ".join(f"{TESTS_BY_ID[p.test_id].label} ({STATUS_WORDS[p.proposed]})" for p in proposed)
            + ". Open a test below to see it and confirm — the app proposes, the team decides.",
            icon=":material/lightbulb:",
        )
