"""Trust indicators of a SHAP run: the additivity check, rows explained, the explainer, time, the units the
values are in, and how transformed columns were summed back to raw features."""

from __future__ import annotations

import streamlit as st

from explore.importance import explain
from ui.context import PageContext
from ui.safe import md_text

from .shared import seconds_text


def units_sentence(expl: explain.ShapExplanation, label: str) -> str:
    """What one unit of these SHAP values means, in words (``label`` is the workspace's label column)."""
    positive = expl.output_names[0] if expl.output_names else ""
    if expl.units == explain.LOG_ODDS:
        return f"log-odds of {label} = '{positive}' (the model's decision function; + raises the odds)"
    if expl.units == explain.LOGIT:
        return "logits: each class's raw score before the softmax (one set of SHAP values per class)"
    if expl.units == explain.PROBABILITY:
        if expl.n_outputs == 1:
            return f"probability of {label} = '{positive}' (predict_proba)"
        return "probability of each class (predict_proba; one set of SHAP values per class)"
    if expl.units == explain.TARGET:
        return f"units of the target '{label}' (the model's prediction)"
    return "the classifier's decision-function units (a margin, not a probability)"


def trust_section(ctx: PageContext, expl: explain.ShapExplanation, plan: explain.ExplainerPlan) -> None:
    add = expl.additivity
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        "Additivity",
        "passed" if add.passed else "FAILED",
        border=True,
        help=f"base value + Σ SHAP vs the model's own {add.output_space} on the same {add.n_rows:,} rows: largest "
        f"difference {add.max_abs_error:.2e} (tolerance {add.tolerance:.1e}). A failure means the values do not "
        "describe this model.",
    )
    m2.metric(
        "Rows explained",
        f"{expl.sample_size:,}",
        f"of {expl.population:,}",
        delta_color="off",
        border=True,
        help="A random sample stratified by the label (each class keeps its share).",
    )
    m3.metric(
        "Explainer",
        expl.explainer.split(" (")[0],
        "approximate" if expl.approximate or expl.explainer == explain.PERMUTATION else "exact",
        delta_color="off",
        border=True,
        help=plan.reason,
    )
    m4.metric(
        "Time",
        seconds_text(expl.seconds),
        border=True,
        help="Cached: revisiting with the same settings is instant.",
    )
    if not add.passed:
        st.error(
            f"The additivity check failed (largest error {add.max_abs_error:.3g} {md_text(expl.units)}): these SHAP values do not "
            "add up to the model's output. Do not rely on them; please report the model type.",
            icon=":material/error:",
        )
    st.markdown(f"SHAP values are in **{md_text(units_sentence(expl, ctx.ws.columns.label))}**.")
    if expl.grouped:
        n_cols = sum(len(v) for v in expl.groups.values())
        st.caption(
            f"The model's final step sees {n_cols} transformed columns; each raw feature's SHAP value is the sum over the "
            "columns made from it (read from the fitted ColumnTransformer, not from column names). Sums keep additivity "
            "exactly; they are the usual grouped attribution, not the Shapley value of the raw feature as a single player."
        )
    for note in expl.notes:
        st.caption(f":material/info: {md_text(note)}")
