"""Across reviews and out of the page: the score history with this review's audit trail, the `explore check`
runs recorded for this workspace (and importing a CI report), and the exports of the review."""

from __future__ import annotations

import streamlit as st

from explore.core.store import Store
from explore.core.workspace import Workspace
from explore.report.minutes import build_minutes, minutes_html
from explore.rubric.board import (
    ReviewBoard,
    audit_table,
    check_report_outcome,
    check_report_workspace,
    export_stem,
)
from explore.rubric.ml_test_score import (
    parse_check_report,
    record_check_report,
    review_to_dict,
    review_to_html,
    review_to_json,
    review_to_markdown,
    score_history,
)
from ui.boundary import flash, shown_errors
from ui.safe import md_text

from . import cached


def history_section(store: Store, board: ReviewBoard) -> None:
    st.subheader("History")
    with shown_errors():
        history_points = score_history(store)
    st.vega_lite_chart(cached.history_spec(history_points, board.review.name), width="stretch")
    st.caption(
        "Final score of every review when it stands now (carried-over tests count once re-confirmed); thin lines: "
        "section scores; dashed: band limits."
    )
    if board.trail:
        with st.expander(f"Audit trail of “{md_text(board.review.name)}”: {len(board.trail)} change(s)"):
            st.dataframe(audit_table(board.trail), hide_index=True, width="stretch")


def check_runs_section(store: Store, board: ReviewBoard, ws: Workspace | None) -> None:
    st.subheader("Automated runs (`explore check`)")
    if board.runs:
        st.vega_lite_chart(cached.check_runs_spec(board.runs), width="stretch")
        st.caption(
            f"{len(board.runs)} run(s) of this workspace; the page proposes “automated” for the tests they covered."
        )
    else:
        st.caption(
            "No `explore check` run is recorded for this workspace. Run it in CI with EXPLORE_DB_URL pointing at this "
            "store, or import the JSON report CI kept as an artifact (see docs/rubric.md)."
        )
    report_file = st.file_uploader(
        "Import a check report (check-report.json)", type=["json"], key="rubric_check_report"
    )
    if report_file is not None and st.button(
        "Record this check run", key="rubric_check_import", icon=":material/upload:"
    ):
        with shown_errors(stop=False):
            report = parse_check_report(report_file.getvalue())
            run_id, added = record_check_report(store, report, workspace=check_report_workspace(report, ws))
            flash(
                f"Recorded check run #{run_id} ({check_report_outcome(report)})."
                if added
                else f"This report is already recorded (run #{run_id}).",
                icon=":material/check:",
            )
            st.rerun()


def export_section(board: ReviewBoard, store: Store, ws: Workspace | None) -> None:
    st.subheader("Export")
    review, nxt = board.review, board.next_points
    with shown_errors():
        cited = board.cited_snapshots()
        data = review_to_dict(review, snapshot_rows=cited, history=board.trail)
        stem = export_stem(review.name)
    cols = st.columns(4)
    cols[0].download_button(
        "Markdown",
        review_to_markdown(data, next_points=nxt),
        file_name=f"{stem}.md",
        mime="text/markdown",
        key="rubric_export_md",
        icon=":material/description:",
        width="stretch",
    )
    cols[1].download_button(
        "HTML",
        review_to_html(data, next_points=nxt),
        file_name=f"{stem}.html",
        mime="text/html",
        key="rubric_export_html",
        icon=":material/html:",
        width="stretch",
    )
    cols[2].download_button(
        "JSON (re-importable)",
        review_to_json(review, snapshot_rows=cited, history=board.trail),
        file_name=f"{stem}.json",
        mime="application/json",
        key="rubric_export_json",
        icon=":material/data_object:",
        width="stretch",
    )
    with cols[3]:
        minutes_button(store, board, ws, stem)


MINUTES_KEY = "rubric_minutes"  # (review id, store marker when built, the HTML bytes)


def minutes_button(store: Store, board: ReviewBoard, ws: Workspace | None, stem: str) -> None:
    """Build the meeting minutes on request (analyses and charts take seconds), then offer them for download
    until anyone writes to the review again (its store marker changes: the minutes would be stale)."""
    review_id = board.review.review_id
    with shown_errors(stop=False):
        marker = store.review_marker(review_id)
        built = st.session_state.get(MINUTES_KEY)
        if built is not None and built[:2] == (review_id, marker):
            st.download_button(
                "Download meeting minutes (HTML)",
                built[2],
                file_name=f"{stem}-minutes.html",
                mime="text/html",
                key="rubric_export_minutes",
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )
            return
        if st.button(
            "Meeting minutes (HTML)",
            key="rubric_minutes_build",
            icon=":material/summarize:",
            width="stretch",
            help="The review with its evidence, the slice report, importance, performance over time and the "
            "spot-check summary, with interactive charts and a PNG of each, in one HTML file that needs no "
            "server (the same file as `explore report`).",
        ):
            with st.spinner("Building the minutes: the analyses and their charts…"):
                doc = minutes_html(build_minutes(ws, store, review=review_id))
            st.session_state[MINUTES_KEY] = (review_id, marker, doc.encode("utf-8"))
            st.rerun()
