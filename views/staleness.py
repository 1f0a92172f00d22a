"""Staleness: the model's performance over time, the staleness experiment (how fast does this kind of model
go stale?), drift per feature against a reference, and data invariants per time window."""

from __future__ import annotations

import streamlit as st

from explore.staleness.windows import NO_TIME_COLUMN
from ui import sample_wait
from ui.boundary import say
from ui.context import page_context
from ui.panels.staleness.controls import rows_pending, window_controls
from ui.panels.staleness.drift import drift_section
from ui.panels.staleness.estimation import estimation_section
from ui.panels.staleness.experiment import experiment_section
from ui.panels.staleness.invariants import invariants_section
from ui.panels.staleness.performance import performance_section

st.title("Staleness")
st.caption(
    "How the model's quality moves over time (estimated from the scores where labels are not in yet), how long this kind of model stays good before it needs retraining, "
    "which features drift, and whether the data keeps its invariants. Guide: docs/staleness.md."
)

ctx = page_context()
if not ctx.ws.columns.time:
    say("info", NO_TIME_COLUMN.format(where=f"workspace '{ctx.ws.name}'"), icon=":material/schedule:")
    st.stop()

# Which rows, cut into which windows: every section below analyses the same windows.
spec = window_controls(ctx)

pending = rows_pending(
    ctx, spec
)  # a big log whose sample is being drawn, among the datasets cut into windows
if pending and ctx.out_of_core:  # the sidebar's big log: the engine's sections first, on every row
    performance_section(ctx, spec)
    drift_section(ctx, spec)
    invariants_section(ctx, spec)
    st.subheader("Performance without labels · Staleness experiment")
    sample_wait.wait_for_rows(
        ctx,
        "Both calibrate or refit on rows one by one, from the dataset's row-level sample: they appear here once "
        "it is drawn. Performance over time, drift and invariants above are computed by the engine on every row.",
        dataset=pending,
    )
elif pending:  # several datasets joined in time order: every section cuts the rows, the big log's sample too
    sample_wait.wait_for_rows(
        ctx,
        f"Every section cuts the rows of {', '.join(spec.datasets)} joined in time order, and the rows of "
        f"'{pending}' are its row-level sample: they appear here once it is drawn. Pick '{pending}' in the "
        "sidebar and 'Sidebar dataset' in Data to see its performance, drift and invariants on every row, by the "
        "engine, now.",
        dataset=pending,
    )
else:
    performance_section(ctx, spec)  # the chosen metrics per window, support, label and prediction rates
    estimation_section(ctx, spec)  # estimated from the scores where labels are not in yet, next to realised
    experiment_section(ctx, spec)  # refit at past cutoffs: how long until the model goes stale
    drift_section(ctx, spec)  # each feature in each window against a reference
    invariants_section(ctx, spec)  # nulls, ranges, unseen categories, NaN/inf per window
