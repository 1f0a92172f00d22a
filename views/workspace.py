"""Workspace (home): what is open — model, task, datasets, column roles, class balance, overall metrics —
and the ways to open something else: a workspace.toml path, or uploaded model and data files.

This page does not use ``page_context()``: it must still draw when no workspace opens (to open another) and
ask before loading a model file it does not trust yet.
"""

from __future__ import annotations

import streamlit as st

from ui.panels.workspace.metrics import background_passes, metrics_section
from ui.panels.workspace.open_other import path_form, sample_button, upload_section
from ui.panels.workspace.opening import opened_workspace
from ui.panels.workspace.summary import datasets_table, summary_section

st.title("Workspace")
st.caption(
    "ml-explore opens your own trained model and datasets: slice them, explain them, watch them go stale, "
    "spot-check labels, run the checks before serving, and score readiness with the ML Test Score."
)

ws = opened_workspace()  # None: why (or what must be trusted first) is shown instead
if ws is not None:
    datasets = summary_section(ws)  # task, models, column roles; the datasets table's place
    metrics_section(ws)  # overall metrics of the chosen model on every dataset
    datasets_table(ws, datasets)  # after the metrics, which count a big log's classes

st.divider()
st.subheader("Open another workspace")
path_form()
upload_section(expanded=ws is None)
sample_button()

if ws is not None:
    background_passes(ws)  # the page drawn: the other pages' first passes
