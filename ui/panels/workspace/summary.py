"""What is open: the task, the models, the column roles and the datasets."""

from __future__ import annotations

import streamlit as st

from explore.core import overview
from explore.core.workspace import Workspace
from ui.boundary import say
from ui.safe import md_code, md_text

from . import cached


def summary_section(ws: Workspace) -> None:
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
        st.dataframe(overview.dataset_table(ws), hide_index=True)
