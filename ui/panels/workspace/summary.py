"""What is open: the task, the models, the column roles and the datasets."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from explore.core import overview
from explore.core.workspace import Workspace
from ui.boundary import say
from ui.safe import md_code, md_text

from . import cached


def summary_section(ws: Workspace) -> DeltaGenerator:
    """The task, models, warnings and column roles; returns the place of the datasets table, which
    ``datasets_table`` fills once the overall metrics are drawn (they count a big log's classes)."""
    st.subheader(md_code(ws.name))
    st.caption(md_text(ws.config.path))
    cols = st.columns(3)
    cols[0].metric("Task", ws.task)
    cols[1].metric("Datasets", len(ws.dataset_names))
    cols[2].metric("Features", len(ws.feature_names))
    if ws.models:
        st.dataframe(overview.model_table(ws), hide_index=True)
    else:
        st.info(
            "Predictions-only mode: metrics come from the prediction columns in the data; what-ifs and refits need a model file."
        )
    for warning in ws.warnings:
        say("warning", warning)
    # A validation set made of training rows scores 1.000 everywhere and nothing else warns.
    for warning in cached.overlap_warnings(ws):
        say("warning", warning, icon=":material/content_copy:")

    left, right = st.columns([1, 2])
    with left:
        st.markdown("**Column roles**")
        st.dataframe(overview.role_table(ws), hide_index=True)
        with st.expander(f"{len(ws.feature_names)} feature columns"):
            st.markdown(", ".join(md_code(f) for f in ws.feature_names))
    with right:
        st.markdown("**Datasets**")
        return st.empty()


def datasets_table(ws: Workspace, place: DeltaGenerator) -> None:
    """Every dataset's rows, columns and class balance, into ``place``. Drawn after the overall metrics: on a big log
    whose label's values the Parquet footers settled, the class counts are the metrics pass's (no pass of their
    own; ``ui.engine_cached.settle_label_counts``)."""
    place.dataframe(overview.dataset_table(ws), hide_index=True)
