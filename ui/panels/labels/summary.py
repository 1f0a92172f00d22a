"""Summary: what a session found — the error rate (random sessions) or the queue's precision (queue
sessions) with their intervals, by class and by labeler, and the corrections to download."""

from __future__ import annotations

import streamlit as st

from explore.labels import charts, review
from explore.labels.review import Rate
from ui import loaders
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from .common import follow_session, pct, session_picker


def summary_section(ctx: PageContext) -> None:
    sid = session_picker(ctx, "Session", "labels_summary_pick")
    if sid is None:
        return
    follow_session(sid)
    with shown_errors():
        session = review.load_session(loaders.store(), sid)
        summary = review.summarize(session)
    c = st.columns(4)
    c[0].metric("Reviewed", f"{summary.n_reviewed} / {summary.n_items}")
    c[1].metric("Wrong", summary.n_wrong)
    c[2].metric("Correct", summary.n_correct)
    c[3].metric("Unsure", summary.n_unsure)
    if summary.error_rate is not None:
        r = summary.error_rate
        st.metric(
            "Estimated label error rate",
            pct(r.value),
            help=f"{r.method}; {r.wrong} wrong of {r.n} decided verdicts over a population of {summary.population:,} items.",
        )
        st.caption(f"{_interval(r)} ({r.method}).")
    if summary.precision is not None:
        r = summary.precision
        st.metric(
            "Queue precision", pct(r.value), help="Share of reviewed flagged items whose label was wrong."
        )
        st.caption(f"{_interval(r)}; {r.wrong} of {r.n}.")
    for note in summary.notes:
        st.caption(md_text(note))
    if summary.n_reviewed == 0:
        st.info("No verdict yet: open the session in the Review view.", icon=":material/info:")
    _breakdowns(summary)
    st.markdown("**Reviewed items**")
    st.dataframe(summary.corrections, hide_index=True, height=260)
    d1, d2 = st.columns(2)
    d1.download_button(
        "Corrected labels (CSV)",
        review.corrections_csv(session, summary),
        file_name=f"label_review_{session.id}.csv",
        mime="text/csv",
        key="labels_download_csv",
        icon=":material/download:",
    )
    d2.download_button(
        "Summary for the team (Markdown)",
        review.summary_markdown(session, summary).encode("utf-8"),
        file_name=f"label_review_{session.id}.md",
        mime="text/markdown",
        key="labels_download_md",
        icon=":material/description:",
    )


def _interval(r: Rate) -> str:
    return f"{r.confidence:.0%} confidence interval: {pct(r.ci_low)} – {pct(r.ci_high)}"


def _breakdowns(summary: review.SessionSummary) -> None:
    """Rates by class of the label and by labeler, the precision curve, the confusion of labels."""
    rate = "error_rate" if summary.mode == "random" else "precision"
    left, right = st.columns(2)
    with left:
        st.markdown("**By class of the label**")
        st.dataframe(summary.by_class, hide_index=True)
        if summary.mode == "random" and summary.by_class[rate].notna().any():
            st.altair_chart(
                charts.rate_chart(summary, by="class"),
                width="stretch",
            )
    with right:
        st.markdown("**By labeler** (their label vs the verified label)")
        st.dataframe(summary.by_labeler, hide_index=True)
        if (
            summary.mode == "random"
            and len(summary.by_labeler)
            and summary.by_labeler["error_rate"].notna().any()
        ):
            st.altair_chart(
                charts.rate_chart(summary, by="labeler"),
                width="stretch",
            )
    if summary.mode == "queue" and len(summary.precision_curve):
        st.altair_chart(charts.precision_curve(summary), width="stretch")
    if not summary.confusion.empty:
        st.markdown("**Label under review × verified label**")
        st.dataframe(summary.confusion)
