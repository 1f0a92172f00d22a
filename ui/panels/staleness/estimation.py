"""Performance without labels: the estimate from the model's scores next to the realised metric, the
reliability curve of the calibration, and the warnings that say when not to trust the estimate."""

from __future__ import annotations

import streamlit as st

from explore.staleness import charts
from explore.staleness.estimation import (
    ASSUMPTION,
    ESTIMATED_METRICS,
    MIN_REFERENCE_ROWS,
    NO_REFERENCE,
    NOT_CLASSIFIER,
)
from explore.staleness.layout import WindowSpec
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .downloads import csv_download

DEFAULT_REFERENCE = "the earliest windows with enough labels"
SHOWN_WARNINGS = 6


@st.fragment
def estimation_section(ctx: PageContext, spec: WindowSpec) -> None:
    st.subheader("Performance without labels")
    st.caption(
        "Labels arrive late. Calibrated on a labelled reference, the model's scores give each window's expected "
        "confusion matrix, so accuracy, precision, recall, F1 and ROC AUC can be estimated where labels are "
        "not in yet (confidence-based performance estimation). Rows with a missing label are the unlabelled rows."
    )
    if ctx.ws.task == "regression":
        st.info(NOT_CLASSIFIER.format(task="regressor"), icon=":material/info:")
        return
    st.info(ASSUMPTION, icon=":material/warning:")
    w = cached.time_windows(ctx.ws, spec)
    c1, c2 = st.columns([2, 1])
    options: list[int | None] = [None, *range(w.n_windows)]
    ref = c1.selectbox(
        "Calibrate on",
        options,
        format_func=lambda i: (
            DEFAULT_REFERENCE if i is None else f"window {w.labels[i]} ({w.counts[i]:,} rows)"
        ),
        key="staleness_estimate_reference",
        help="A window whose labels are known and whose data is like the windows to estimate.",
    )
    metric = c2.selectbox("Metric", ESTIMATED_METRICS, key="staleness_estimate_metric")
    if ref is None and (labelled := int((cached.scored_codes(ctx.ws, spec, ctx.model_name) >= 0).sum())) < (
        MIN_REFERENCE_ROWS
    ):  # too few labels in the data for the default reference: the section does not apply (no one erred)
        say("info", NO_REFERENCE.format(min=MIN_REFERENCE_ROWS, best=labelled), icon=":material/info:")
        return
    with shown_errors(stop=False), st.spinner("Calibrating and estimating per window…"):
        est = cached.estimate(ctx.ws, spec, ctx.model_name, ref)
        wt = est.windows
        st.caption(
            f"{int(wt['labelled_rows'].sum()):,} labelled and {int(wt['unlabelled_rows'].sum()):,} unlabelled rows; "
            f"calibrated on {md_text(est.reference)} ({est.calibration.n_reference:,} labelled rows) by "
            f"{est.calibration.method} (held-out log loss {est.calibration.log_loss[est.calibration.method]:.3f}, "
            f"raw scores {est.calibration.log_loss['raw scores']:.3f})."
        )
        if est.rows_note:
            st.caption(md_text(est.rows_note))
        _warnings(est.warnings)
        st.altair_chart(charts.estimate_chart(est, metric), width="stretch")
        st.caption(
            "Solid: realised on the labelled rows. Dashed: estimated from the scores alone — on the labelled rows "
            "(to see how far to trust it), on the unlabelled rows, and combined with the known labels where a "
            "window has both. Bands: 95 % intervals (sampling and calibration uncertainty)."
        )
        st.altair_chart(charts.reliability_chart(est.calibration), width="stretch")
        with st.expander("Table (every metric and part)"):
            st.dataframe(est.table, hide_index=True)
        csv_download(
            st, "Estimates per window (CSV)", est.table, "estimated_performance.csv", key="staleness_dl_est"
        )


def _warnings(found: list) -> None:
    for w in [w for w in found if w.kind == "training data"]:  # why those windows are left out, not a doubt
        say("info", w.message, icon=":material/info:")
    found = [w for w in found if w.kind != "training data"]
    if not found:
        st.success("No sign that the estimate cannot be trusted on these windows.", icon=":material/check:")
        return
    for w in found[:SHOWN_WARNINGS]:
        say("warning", w.message, icon=":material/warning:")
    if len(found) > SHOWN_WARNINGS:
        with st.expander(f"{len(found) - SHOWN_WARNINGS} more warnings"):
            for w in found[SHOWN_WARNINGS:]:
                st.markdown(f"- {md_text(w.message)}")
