"""Skew & shadow: training vs serving features joined on the id, and logged predictions vs the model."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explore.checks import charts, choices
from explore.checks import serving_skew as skew
from explore.checks.serving_skew import ShadowResult, SkewResult
from explore.core.workspace import Workspace
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from .common import exports, index_of, no_model, training_default, verdict
from .kept import run_and_keep


def skew_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Training/serving skew")
    st.caption(
        "The same rows, as logged at serving and as computed for training, joined on the id column and compared column "
        "by column."
    )
    if not ws.columns.id:
        st.info(skew.NO_ID, icon=":material/info:")
    else:
        _feature_skew(ws)

    st.divider()
    st.subheader("Shadow consistency")
    st.caption(
        "Predictions logged by the serving system, compared with the model recomputed on the same rows."
    )
    if no_model(ws, "The shadow check"):
        return
    _shadow(ws)


def _feature_skew(ws: Workspace) -> None:
    c1, c2 = st.columns(2)
    training = c1.selectbox(
        "Training features",
        ws.dataset_names,
        index=index_of(ws.dataset_names, training_default(ws)),
        key="checks_skew_training",
    )
    how = c2.radio(
        "Serving features", ["a dataset", "an uploaded log"], horizontal=True, key="checks_skew_how"
    )
    serving: Any = None  # a dataset's name, or the uploaded log's rows
    serving_name = None
    if how == "a dataset":
        others = [d for d in ws.dataset_names if d != training] or ws.dataset_names
        serving = c2.selectbox("Serving dataset", others, key="checks_skew_serving")
    else:
        up = c2.file_uploader(
            "Serving log (CSV or Parquet)",
            type=["csv", "parquet", "pq", "gz", "tsv"],
            key="checks_skew_upload",
        )
        if up is not None:
            with shown_errors(stop=False):
                serving = skew.read_serving_log(up.name, up.getvalue())
                serving_name = f"the uploaded file '{up.name}'"
    params = {"training": training, "serving": serving if isinstance(serving, str) else serving_name}
    clicked = st.button(
        "Compare features",
        type="primary",
        key="checks_skew_run",
        icon=":material/difference:",
        disabled=serving is None,
    )
    res: SkewResult | None = run_and_keep(
        ws,
        "skew",
        params,
        clicked=clicked,
        label="Comparing training and serving features",
        run=lambda p: skew.feature_skew(
            ws, training=training, serving=serving, serving_name=serving_name, progress=p
        ),
    )
    if res is None:
        return
    verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(md_text(note))
    if res.n_joined:
        st.caption(
            f"Only in training: {res.n_only_training:,} rows; only in serving: {res.n_only_serving:,} rows."
        )
        st.altair_chart(charts.skew_chart(res), key="checks_skew_chart")
        st.dataframe(res.table, hide_index=True, key="checks_skew_table")
        if len(res.examples):
            st.markdown("**Example rows**")
            st.dataframe(res.examples, hide_index=True, key="checks_skew_examples")
    exports(
        "skew",
        f"Training/serving skew: {res.training} vs {res.serving}",
        res.summary(),
        {"columns": res.table, "examples": res.examples},
        res.to_dict(),
        kind="skew",
        tests=["monitor-3"],
        params=params,
        dataset=training,
    )


def _shadow(ws: Workspace) -> None:
    c1, c2, c3 = st.columns(3)
    dataset = c1.selectbox("Dataset with logged predictions", ws.dataset_names, key="checks_shadow_dataset")
    candidates, rest = choices.logged_column_choices(ws, dataset)
    options = candidates + rest
    if not options:
        say(
            "info",
            f"Dataset '{dataset}' has no column besides the features, label, id and time, so it carries no logged "
            "predictions. Add the serving system's logged prediction (or score) as a column to compare.",
            icon=":material/info:",
        )
        return
    logged = c2.selectbox(
        "Logged column",
        options,
        index=0 if candidates else None,
        key="checks_shadow_column",
        placeholder="Choose the column with logged predictions",
        help="Columns named like predictions come first."
        if candidates
        else "No column is named like a prediction.",
    )
    kind = c3.selectbox("It holds", ["auto", "class", "score", "value"], key="checks_shadow_kind")
    model = st.selectbox("Model", ws.model_names, key="checks_shadow_model")
    if not candidates:
        st.caption(
            f"No column of '{md_text(dataset)}' is named like a logged prediction (pred, score, prob, output): choose it above."
        )
    params = {"dataset": dataset, "logged": logged, "kind": kind, "model": model}
    clicked = st.button(
        "Compare with the model",
        type="primary",
        key="checks_shadow_run",
        icon=":material/compare:",
        disabled=logged is None,
    )
    res: ShadowResult | None = run_and_keep(
        ws,
        "shadow",
        params,
        clicked=clicked,
        label="Recomputing predictions",
        run=lambda p: skew.shadow_check(
            ws, dataset=dataset, logged=logged, kind=kind, model=model, progress=p
        ),
    )
    if res is None:
        return
    verdict(res.passed, res.summary())
    if len(res.examples):
        st.dataframe(res.examples, hide_index=True, key="checks_shadow_examples")
    exports(
        "shadow",
        f"Shadow consistency: '{res.logged_column}' vs '{res.model}'",
        res.summary(),
        {"examples": res.examples},
        res.to_dict(),
        kind="shadow",
        tests=["monitor-3"],
        params=params,
        dataset=dataset,
    )
