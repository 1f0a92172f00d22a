"""The current slice vs the rest: importance inside the slice against the other rows, and the slice's feature
values against a reference (training) dataset, flagging features outside the training envelope."""

from __future__ import annotations

import dataclasses

import streamlit as st

from explore.core.roles import reference_dataset
from explore.importance import charts
from explore.importance.readout import outside_training
from ui import state
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .shared import ask_for, asked_for


def slice_section(ctx: PageContext, run: cached.ShapRun) -> None:
    st.subheader("Current slice vs the rest")
    current = state.current_slice()
    if not current.conditions:
        st.caption(
            "No slice is set. Define one on the Slices page to compare its importance and feature ranges here."
        )
        return
    st.caption(
        f"Slice: **{md_text(current.describe())}** — importance inside it vs the other rows, and its feature values vs training."
    )
    refs = ctx.ws.dataset_names
    s1, s2 = st.columns([2, 1])
    reference = s1.selectbox(
        "Compare feature ranges with dataset",
        refs,
        index=refs.index(reference_dataset(ctx.ws)),
        key="importance_reference",
    )
    # The comparison is of the current slice, whichever rows the SHAP run above explains.
    compared = dataclasses.replace(run, slice=current)
    asked = ("compare", ctx.key, compared, reference)
    if not (s2.button("Compare slice with the rest", key="importance_compare") or asked_for(asked)):
        return
    ask_for(asked)
    with shown_errors(stop=False):
        cmp = cached.comparison(ctx, compared, reference)
        st.altair_chart(charts.slice_vs_rest_bars(cmp), key="importance_slice_chart", width="stretch")
        flagged = outside_training(cmp)
        if flagged:
            say(
                "warning",
                f"Outside the training envelope: {', '.join(flagged)} — features the model leans on in this slice, "
                f"with over 5 % of the slice's values outside what '{reference}' holds (its 1st–99th percentile, or "
                "categories seen in under 0.1 % of it). Trust the model less here.",
                icon=":material/warning:",
            )
        st.dataframe(
            cmp.ranges,
            hide_index=True,
            key="importance_ranges",
            column_config={
                "outside_share": st.column_config.NumberColumn("outside training", format="percent"),
                "importance": st.column_config.NumberColumn(
                    f"mean |SHAP| in slice ({cmp.units})", format="%.4f"
                ),
            },
        )
        st.caption(
            f"Explained {cmp.slice.sample_size:,} slice rows and {cmp.rest.sample_size:,} other rows with the same "
            f"explainer. Numeric features: slice 5th/50th/95th percentiles vs {md_text(reference)}'s 1st/50th/99th."
        )
