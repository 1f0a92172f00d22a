"""Slices: where does the model fail? Filter to a slice, compare it with the rest and with all rows,
break it down by groups, look at its curves and worst rows, edit a datapoint, find weak slices
automatically (with false-discovery control), and check fairness gaps and perturbations."""

from __future__ import annotations

import streamlit as st

from ui import sample_wait, state
from ui.boundary import shown_errors
from ui.context import page_context
from ui.panels.slices.builder import focused_rows, slice_builder
from ui.panels.slices.curves import curves_section
from ui.panels.slices.datapoints import datapoints_section
from ui.panels.slices.discovery import discovery_section
from ui.panels.slices.fairness import fairness_section
from ui.panels.slices.groups import engine_groups_section, groups_section
from ui.panels.slices.perturbations import perturbations_section
from ui.panels.slices.rows import rows_section
from ui.panels.slices.summary import summary_section

st.title("Slices")
st.caption(
    "An aggregate score hides where a model fails. Filter the rows to a slice, compare it with the rest, break it "
    "down by groups, open single datapoints, and let discovery find weak slices for you — with intervals and "
    "false-discovery control, so a noisy difference is not taken for a real one."
)

ctx = page_context()
with shown_errors(stop=False):  # a shared ?slice= link that cannot be read: say so, keep the current slice
    state.apply_slice_link()
sd = state.current_slice()

slice_builder(ctx, sd)
pending = sample_wait.rows_pending(ctx)  # a big out-of-core dataset whose sample is being drawn
# The slice's rows; the page stops when the slice cannot be applied or has none (the summary says it meanwhile).
focus = None if pending else focused_rows(ctx, sd)
summary_section(ctx, sd, focus)

st.divider()
SECTIONS = {
    "Groups": groups_section,
    "Curves & threshold": curves_section,
    "Rows & what-if": rows_section,
    "Datapoints": datapoints_section,
    "Discovery": discovery_section,
    "Fairness": fairness_section,
    "Perturbations": perturbations_section,
}
view = st.radio("View", list(SECTIONS), horizontal=True, key="slices_view", label_visibility="collapsed")
if focus is not None:
    SECTIONS[view](ctx, focus)
elif view == "Groups":  # the engine's groups need no sample
    engine_groups_section(ctx, sd)
else:
    sample_wait.wait_for_rows(
        ctx,
        f"{view} works on rows one by one, from the dataset's row-level sample: it appears here once the sample "
        "is drawn. The summary above and Groups are computed by the engine on every row and are ready now.",
    )
