"""Cross-checks of the SHAP ranking: scikit-learn's permutation importance on the same rows, and the
drop-column experiment (refit without each feature, over cross-validation folds), saved in the store."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.core.roles import training_dataset
from explore.importance import charts, drop_experiment, explain
from explore.importance.budget import permutation_seconds
from explore.importance.readout import improved_by_shuffling
from ui import evidence, loaders
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .shared import ask_for, asked_for, seconds_text

DROP_SECONDS_PER_FIT_HINT = "each refit takes as long as training the model once on the sampled rows"


def permutation_section(ctx: PageContext, run: cached.ShapRun, expl: explain.ShapExplanation) -> None:
    st.subheader("Cross-check: permutation importance")
    st.caption(
        "scikit-learn's permutation importance on the same rows: how much the score worsens when a feature's values "
        "are shuffled. It ranks features model-agnostically; a low rank agreement with SHAP deserves a look."
    )
    eta = permutation_seconds(cached.predict_seconds(ctx, expl.sample_size), len(expl.feature_names))
    asked = ("permutation", ctx.key, run)
    if not (
        st.button(f"Run the permutation cross-check (~{seconds_text(eta)})", key="importance_perm")
        or asked_for(asked)
    ):
        return
    ask_for(asked)
    with shown_errors(stop=False):
        check = cached.permutation(ctx, run)
        p1, p2, p3 = st.columns(3)
        p1.metric(
            "Spearman rank agreement",
            "—" if check.spearman is None else f"{check.spearman:.2f}",
            border=True,
            help=md_text(check.note)
            if check.note
            else f"p-value {check.p_value:.2g} over {len(check.table)} features.",
        )
        p2.metric(f"Top-{check.top_k} overlap", f"{check.top_overlap:.0%}", border=True)
        p3.metric("Scoring", check.scoring, f"{check.n_repeats} shuffles", delta_color="off", border=True)
        st.altair_chart(charts.permutation_vs_shap(check), key="importance_perm_chart", width="stretch")
        if check.note:
            st.caption(md_text(check.note))
        hurting = improved_by_shuffling(check)
        if hurting:
            st.caption(
                f"Shuffling {md_text(', '.join(hurting))} *improves* the {check.scoring.split(' (')[0]} on these rows: the "
                "model's use of them does not hold here (common in a weak slice), which also lowers the agreement."
            )
        st.dataframe(
            check.table[["feature", "shap_rank", "perm_rank", "shap_mean_abs", "perm_mean", "perm_std"]],
            hide_index=True,
            key="importance_perm_table",
        )


def drop_column_intro() -> None:
    st.subheader("Experiment: drop-column importance")
    st.caption(
        "Are all features beneficial? Refit copies of the model with one feature neutralised (replaced by its median or "
        "most frequent value, so the Pipeline still finds the column) and measure the metric lost, over cross-validation "
        "folds with a confidence interval. A feature whose interval sits at or below zero adds nothing."
    )


@st.fragment
def drop_column_section(ctx: PageContext, table: pd.DataFrame) -> None:
    """The drop-column experiment on the top features of ``table`` (the global importance ranking)."""
    ws = ctx.ws
    names = ws.dataset_names
    train_name = training_dataset(ws)
    e1, e2, e3, e4 = st.columns(4)
    train = e1.selectbox(
        "Training dataset",
        names,
        index=names.index(train_name) if train_name in names else 0,
        key="importance_drop_dataset",
    )
    top_k = e2.number_input("Top features", 1, len(table), min(5, len(table)), key="importance_drop_k")
    folds = e3.number_input("Folds", 2, 10, 3, key="importance_drop_folds")
    max_rows = e4.number_input("Rows used (max)", 200, 200_000, 10_000, step=1000, key="importance_drop_rows")
    features = table["feature"].head(int(top_k)).tolist()
    metric = explain.default_metric(ctx.model, ws.task)
    n_fits = int(folds) * (1 + len(features))
    params = drop_experiment.drop_column_params(
        model=ctx.model_name, dataset=train, features=features, folds=folds, metric=metric, max_rows=max_rows
    )
    key = drop_experiment.experiment_key(
        params,
        model_fingerprint=ws.model_fingerprint(ctx.model_name),
        data_fingerprint=ws.data_fingerprint(train),
    )
    st.caption(
        f"Neutralises {md_text(', '.join(features))}; {n_fits} refits ({DROP_SECONDS_PER_FIT_HINT}); metric: {md_text(metric)}."
    )
    store = loaders.store()
    workspace = str(ws.config.path)
    with shown_errors(stop=False):
        saved = drop_experiment.load_experiment(store, workspace=workspace, key=key)
        result = saved[0] if saved else None
        if st.button(f"Run {n_fits} refits", key="importance_drop_run", icon=":material/science:"):
            X, y = drop_experiment.labelled_rows(
                ws.dataset(train), ws.columns.label, ctx.scored.feature_names
            )
            with st.status(f"Refitting {n_fits} copies of the model…", expanded=True) as status:
                bar = st.progress(0.0)
                result = explain.drop_column_importance(
                    ctx.model,
                    X,
                    y,
                    features=features,
                    task=ws.task,
                    dataset=train,
                    folds=int(folds),
                    metric=metric,
                    max_rows=int(max_rows),
                    progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
                )
                status.update(
                    label=f"Done in {seconds_text(result.seconds)}", state="complete", expanded=False
                )
            drop_experiment.save_experiment(store, result, workspace=workspace, key=key, params=params)
        elif saved:
            row = saved[1]
            st.caption(f"Saved result from {row['created_at']:%Y-%m-%d %H:%M} by {md_text(row['author'])}.")
        if result is None:
            return
        st.altair_chart(charts.drop_column_chart(result), key="importance_drop_chart", width="stretch")
        st.dataframe(
            result.table.drop(columns=["fold_benefits"], errors="ignore"),
            hide_index=True,
            key="importance_drop_table",
        )
        st.caption(
            f"{result.folds}-fold CV on {result.n_rows:,} rows of '{md_text(result.dataset)}'. Benefit = {md_text(result.metric)} lost "
            f"when the feature is neutralised; {result.confidence:.0%} intervals use the Nadeau–Bengio corrected t "
            "(folds share training rows, so a plain t interval would be too narrow)."
        )
        evidence.attach_button(
            kind="drop_column_importance",
            tests=["data-2"],
            title=f"Drop-column importance of {len(result.table)} features ({result.metric}, {result.folds} folds)",
            params=params,
            result=result.to_dict(),
            dataset=train,
            key="importance_attach_drop",
        )
