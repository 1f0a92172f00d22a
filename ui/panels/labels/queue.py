"""Queue: the model's view of the items (cross-validated behind a button), the ranked queue with its
filters, and the form that starts a review session from it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from explore.labels import charts, crowd, model_view, spot_check, tables
from explore.labels.crowd import Annotations, Queue
from explore.labels.model_view import Choice, ModelView
from explore.labels.sources import AnnotationSource
from ui import identity, loaders
from ui.boundary import flash, guarded, say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .common import SESSION_ID, VIEW, reviewer_name

SHOWN_QUEUE_ROWS = 500
MAX_SESSION_ITEMS = 5000
CHOICE_LABELS = {
    "model": "Model version '{model}' (its probabilities on these items)",
    "cv": "Cross-validated clones of '{model}' (for items it was trained on)",
    "columns": "Prediction columns in the data",
    "none": "No model: labelers only",
}


def queue_section(ctx: PageContext, source: AnnotationSource) -> None:
    ann = cached.annotations(ctx.ws, source)
    view, review_target = _model_view_controls(ctx, ann)
    if view.kind == "cv" and not _cross_validation_ready(ctx, source, view, ann):
        return
    with shown_errors():
        probs = cached.probabilities(ctx.ws, source, view)
    combine, weight, model_score = _ranking_controls(has_model=probs is not None)
    with shown_errors():
        queue = cached.queue(ctx.ws, source, view, review_target, combine, weight, model_score)
    rows, filters = _filtered_rows(queue, ann)
    _queue_table(queue, rows, ann)
    settings = spot_check.queue_settings(queue, review=review_target, view=view, **filters)
    _new_session_form(ctx, ann, rows, settings)


def _describe_choice(choice: Choice) -> str:
    kind, model = choice
    return CHOICE_LABELS[kind].format(model=model)


def _model_view_controls(ctx: PageContext, ann: Annotations) -> tuple[ModelView, str]:
    """Where the model's probabilities come from, and which label is under review."""
    ws = ctx.ws
    choices = model_view.probability_choices(ws)
    c1, c2 = st.columns([3, 2])
    choice = c1.selectbox(
        "Model probabilities from",
        choices,
        index=model_view.default_choice(ws, choices, ann.dataset),
        format_func=_describe_choice,
        key="labels_prob_source",
        help="The model's view must be out-of-sample: scores of a model on items it was trained on are in-sample "
        "and hide label errors. Pick a previous model version that never saw these items, or cross-validated "
        "clones when the items were in the training data.",
    )
    review_target = c2.radio(
        "Label under review",
        ["dataset", "consensus"],
        format_func={
            "dataset": f"Dataset label ('{md_text(ws.columns.label)}')",
            "consensus": "Labelers' consensus",
        }.get,
        key="labels_review_target",
        horizontal=True,
    )
    if model_view.in_sample(ws, choice, ann.dataset):
        say(
            "warning",
            f"The items are in dataset '{ann.dataset}', which the current model was probably trained on: its "
            "probabilities there are in-sample and hide label errors. Prefer cross-validated clones or a previous version.",
            icon=":material/warning:",
        )
    kind, model = choice
    if kind != "cv":
        return ModelView(kind, model), review_target
    d1, d2 = st.columns(2)
    n_splits = d1.number_input("Folds", 2, 10, 5, key="labels_cv_folds")
    max_rows = d2.number_input(
        "Training rows (annotated items first)",
        200,
        1_000_000,
        20_000,
        step=1000,
        key="labels_cv_rows",
    )
    return ModelView(kind, model, n_splits=int(n_splits), max_rows=int(max_rows)), review_target


def _cross_validation_ready(
    ctx: PageContext, source: AnnotationSource, view: ModelView, ann: Annotations
) -> bool:
    """True when the cross-validated probabilities are in the store, or were just computed by the button
    (they take minutes: they run only on request and are kept across sessions)."""
    with shown_errors():
        if cached.probabilities(ctx.ws, source, view) is not None:
            return True
    say(
        "info",
        f"Cross-validation refits {view.n_splits} copies of '{view.model}' on up to {view.max_rows:,} rows of "
        f"'{ann.dataset}'. This can take a while.",
        icon=":material/hourglass:",
    )
    if not st.button("Compute cross-validated probabilities", key="labels_cv_run", type="primary"):
        return False
    bar = st.progress(0.0, text="Starting cross-validation…")
    with shown_errors():
        cached.cross_validate(
            ctx.ws,
            source,
            view,
            progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg),
        )
    bar.empty()
    return True


def _ranking_controls(*, has_model: bool) -> tuple[str, float, str]:
    """How model and labelers combine into the score: (combine, model weight, model term)."""
    e1, e2, e3 = st.columns(3)
    combine = e1.radio(
        "Combine model and labelers",
        ["posterior", "blend"],
        format_func={"posterior": "Posterior (model × Dawid–Skene)", "blend": "Weighted blend"}.get,
        key="labels_combine",
        horizontal=True,
        help="Posterior: the model's probabilities are the prior of the true class and the labelers' estimated "
        "confusion matrices the likelihood; the score is the probability that the label is wrong. Blend: "
        "weight × model disagreement + (1 − weight) × labeler disagreement.",
    )
    weight = e2.slider(
        "Model weight",
        0.0,
        1.0,
        1.0 if combine == "posterior" else 0.5,
        0.05,
        key=f"labels_weight_{combine}",
        disabled=not has_model,
    )
    model_score = e3.radio(
        "Model term",
        ["self_confidence", "margin"],
        format_func={"self_confidence": "1 − p(label)", "margin": "Margin"}.get,
        key="labels_model_score",
        horizontal=True,
        disabled=combine == "posterior",
    )
    return combine, float(weight), model_score


def _filtered_rows(queue: Queue, ann: Annotations) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The queue's rows after the class, labeler and batch filters, and the filters."""
    f1, f2, f3 = st.columns(3)
    classes = f1.multiselect("Class of the label", tables.queue_classes(queue), key="labels_filter_class")
    labelers = f2.multiselect("Labeled by", [str(n) for n in ann.labelers], key="labels_filter_labeler")
    batches = f3.multiselect("Batch", ann.batches, key="labels_filter_batch", disabled=not ann.batches)
    rows = crowd.filter_queue(queue, ann, classes=classes, labelers=labelers, batches=batches)
    return rows, {"classes": classes, "labelers": labelers, "batches": batches}


def _queue_table(queue: Queue, rows: pd.DataFrame, ann: Annotations) -> None:
    for note in queue.notes:
        st.caption(md_text(note))
    st.caption(
        f"{len(rows):,} of {len(queue.frame):,} items after filters. Score: "
        + (
            "estimated probability that the label under review is wrong."
            if queue.combine == "posterior"
            else "blend of model and labeler disagreement."
        )
        + (f" Model view: {queue.probability_source}." if queue.probability_source else "")
        + (f" Consensus: {md_text(queue.consensus_method)}." if queue.consensus_method else "")
    )
    st.dataframe(
        tables.queue_table(rows, ann, limit=SHOWN_QUEUE_ROWS),
        hide_index=True,
        column_config={
            "score": st.column_config.ProgressColumn("score", format="%.3f", min_value=0, max_value=1),
            "consensus_confidence": st.column_config.NumberColumn("consensus confidence", format="percent"),
            "agreement": st.column_config.NumberColumn("labelers agreeing", format="percent"),
            "model_p_label": st.column_config.NumberColumn("model p(label)", format="%.3f"),
            "model_pred": "model prediction",
        },
        height=360,
    )
    if len(rows) > SHOWN_QUEUE_ROWS:
        st.caption(f"Showing the first {SHOWN_QUEUE_ROWS} of {len(rows):,}; download the whole queue below.")
    left, right = st.columns([2, 1])
    left.altair_chart(charts.queue_histogram(replace(queue, frame=rows)), width="stretch")
    right.download_button(
        "Download the queue (CSV)",
        tables.queue_export(rows),
        file_name=f"label_queue_{ann.dataset}.csv",
        mime="text/csv",
        key="labels_queue_download",
        icon=":material/download:",
    )


def _new_session_form(
    ctx: PageContext, ann: Annotations, rows: pd.DataFrame, settings: dict[str, Any]
) -> None:
    st.subheader("Start a review session")
    reviewer = reviewer_name("queue")
    with st.form("labels_new_session", border=True):
        c1, c2, c3, c4 = st.columns([3, 3, 1, 1])
        c1.text_input(
            "Session name", value=f"spot check {pd.Timestamp.now():%Y-%m-%d}", key="labels_new_name"
        )
        c2.radio(
            "Which items",
            ["queue", "random"],
            format_func={
                "queue": "Top of the queue (measures the queue's precision)",
                "random": "Random sample, stratified by class (estimates the error rate)",
            }.get,
            key="labels_new_mode",
        )
        c3.number_input(
            "Items",
            1,
            min(MAX_SESSION_ITEMS, max(len(rows), 1)),
            min(50, max(len(rows), 1)),
            key="labels_new_size",
        )
        c4.number_input("Seed", 0, 1_000_000, 0, key="labels_new_seed", help="Random sample only.")
        st.form_submit_button(
            "Start session",
            type="primary",
            icon=":material/play_arrow:",
            on_click=_start_session,
            args=(ctx, ann, rows, settings),
            disabled=not reviewer or rows.empty,
        )
    if not reviewer:
        st.caption("Type your name above to start a session.")


@guarded
def _start_session(ctx: PageContext, ann: Annotations, rows: pd.DataFrame, settings: dict[str, Any]) -> None:
    """Form callback: create the session in the store and open it in the Review view."""
    name = st.session_state.get("labels_new_name", "")
    started = spot_check.start_session(
        loaders.store(),
        ctx.ws,
        ann,
        rows,
        settings,
        name=name,
        mode=st.session_state.get("labels_new_mode", "queue"),
        size=int(st.session_state.get("labels_new_size", 50)),
        seed=int(st.session_state.get("labels_new_seed", 0)),
        reviewer=identity.current_user(),
    )
    st.session_state[SESSION_ID] = started.id
    st.session_state[VIEW] = "Review"
    flash(f"Session '{name}' started: {started.n_items} items to review.", icon=":material/check:")
