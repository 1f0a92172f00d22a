"""Importance: which features the model leans on — overall, in the current slice, and for one datapoint — as
SHAP values with their units, approximations and an additivity check stated, cross-checked by permutation
importance and (optionally) by refitting the model without each feature."""

from __future__ import annotations

import streamlit as st

from explore.core import roles
from explore.importance import explain
from ui import sample_wait
from ui.boundary import say, shown_errors
from ui.context import page_context
from ui.panels.importance import cached
from ui.panels.importance.cross_checks import drop_column_intro, drop_column_section, permutation_section
from ui.panels.importance.features import dependence_section, distribution_section, global_section
from ui.panels.importance.local import local_section
from ui.panels.importance.settings import settings_section
from ui.panels.importance.slice_vs_rest import slice_section
from ui.panels.importance.trust import trust_section

st.title("Importance")
st.caption(
    "Which features does the model lean on — overall, in the current slice, and for one datapoint? If a feature "
    "it relies on moves outside what it saw in training, its predictions there should not be trusted. SHAP values "
    "below come with their units, the explainer used, its approximations, and an additivity check."
)

ctx = page_context()
if ctx.model_name is None:  # predictions-only workspace: SHAP needs the model itself
    # A notice, not an error: the workspace is fine, this page needs what it does not hold (as on Staleness).
    say("info", explain.NO_MODEL.format(dataset=ctx.dataset), icon=":material/info:")
    st.stop()
# A big out-of-core dataset whose sample is drawn in the background: every section explains rows of it (and of the
# training data, the SHAP background and the refits): the draw's progress in their place until it is there.
pending = sample_wait.pending_dataset(ctx, [d for d in [roles.training_dataset(ctx.ws)] if d])
if pending:
    sample_wait.wait_for_rows(
        ctx,
        "SHAP values, permutation importance and the drop-column experiment explain the model on rows, from the "
        "dataset's row-level sample: they appear here once the sample is drawn.",
        pending,
    )
    st.stop()

# Rows, sample size, explainer (a slow run waits here for its button).
run, plan = settings_section(ctx)
with shown_errors():
    expl = cached.explanation(ctx, run)
trust_section(ctx, expl, plan)

# What the model leans on over the explained rows.
table = global_section(ctx, run, expl)
class_idx = distribution_section(ctx, run, expl)
dependence_section(ctx, run, expl, table, class_idx)

# The current slice against the rest, then one datapoint.
slice_section(ctx, run)
local_section(ctx, run)

# Cross-checks of the SHAP ranking.
permutation_section(ctx, run, expl)
drop_column_intro()
drop_column_section(ctx, table)
