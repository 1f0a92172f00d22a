"""Checks: the tests before a model is served — candidate vs previous vs a fixed reference model, a simpler
baseline, reproducibility, model-spec checks, expectation suites for data, training/serving skew,
compatibility and key examples, numerical stability and serving cost. Guide: docs/checks.md.

Each section is a function in ui/panels/checks/; this page chooses between them."""

from __future__ import annotations

import streamlit as st

from ui import sample_wait
from ui.context import page_context
from ui.panels.checks.baseline import baseline_section
from ui.panels.checks.comparison import comparison_section
from ui.panels.checks.compatibility import compatibility_section
from ui.panels.checks.cost import cost_section
from ui.panels.checks.expectations import expectations_section
from ui.panels.checks.model_spec import model_spec_section
from ui.panels.checks.reproducibility import reproducibility_section
from ui.panels.checks.skew import skew_section
from ui.panels.checks.stability import stability_section

st.title("Checks")
st.caption(
    "The tests before a model is served: is the new model worse than the previous one — or than a fixed older one, "
    "so that small allowed steps cannot add up — on any metric, slice or dataset? Is it better than a simple model? "
    "Is training reproducible, does the data meet its expectations, do training and serving agree, will it run here, "
    "and what does it cost? See docs/checks.md."
)

ctx = page_context()

SECTIONS = {
    "Comparison": comparison_section,  # candidate vs previous vs a fixed reference, with thresholds
    "Baseline": baseline_section,  # against a simpler model fitted on the training data
    "Reproducibility": reproducibility_section,  # refits of the model compared row by row
    "Model spec": model_spec_section,  # a fit runs, the loss decreases, a tiny sample is memorised
    "Expectations": expectations_section,  # expectation suites for data, and banned features
    "Skew & shadow": skew_section,  # training vs serving features; logged predictions vs the model
    "Compatibility": compatibility_section,  # will the model run here; key examples
    "Stability": stability_section,  # NaN/inf in inputs and outputs, edge-case probes
    "Cost": cost_section,  # latency and memory, candidate vs previous
}
section = st.radio(
    "Section", list(SECTIONS), horizontal=True, key="checks_section", label_visibility="collapsed"
)
# A big out-of-core dataset whose sample is drawn in the background: the sections score, refit and compare rows of
# the workspace's datasets; the draw's progress in their place until the rows are there.
pending = sample_wait.pending_dataset(ctx, ctx.ws.dataset_names)
if pending:
    sample_wait.wait_for_rows(
        ctx,
        f"{section} scores and compares rows of the workspace's datasets, from their row-level samples: it "
        "appears here once the sample is drawn.",
        pending,
    )
else:
    SECTIONS[section](ctx)
