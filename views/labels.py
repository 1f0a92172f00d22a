"""Labels: do the labelers agree, whom to trust, which labels look wrong — and spot-check sessions whose
verdicts are written to the store the moment they are given."""

from __future__ import annotations

import streamlit as st

from explore.labels import crowd
from ui.boundary import say
from ui.context import page_context
from ui.panels.labels.common import VIEW
from ui.panels.labels.overview import overview_section
from ui.panels.labels.queue import queue_section
from ui.panels.labels.review import review_section
from ui.panels.labels.source import annotation_source, annotations_summary
from ui.panels.labels.summary import summary_section

VIEWS = ["Overview", "Queue", "Review", "Summary"]

st.title("Labels")
st.caption(
    "Garbage labels make garbage models. See how far your labelers agree, which of them to trust, which "
    "labels a model and the labelers say are wrong — and spot-check them in review sessions that never lose "
    "a verdict."
)

ctx = page_context()
if ctx.ws.task == "regression":
    say("info", crowd.ANN_REGRESSION.format(label=ctx.ws.columns.label), icon=":material/info:")
    st.stop()

# The workspace's [annotations] or an uploaded file (the page waits for it), then what they hold.
source = annotation_source(ctx)
annotations_summary(ctx, source)

st.session_state.setdefault(VIEW, "Overview")
view = st.segmented_control("View", VIEWS, required=True, key=VIEW) or "Overview"
if view == "Overview":
    overview_section(ctx, source)  # agreement, labeler trust, confusion between two labelers
elif view == "Queue":
    queue_section(ctx, source)  # the model's view, the ranked queue, start a review session
elif view == "Review":
    review_section(ctx)  # one item at a time; each verdict saved the moment it is given
else:
    summary_section(ctx)  # error rate or queue precision, by class and labeler, downloads
