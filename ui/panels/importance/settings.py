"""The Importance page's settings: which rows (all, or the current slice), how many, exact or approximate —
with the explainer chosen and its estimated time. A slow run waits for a click."""

from __future__ import annotations

import streamlit as st

from explore.importance import budget, explain
from explore.importance.rows import rows_to_explain
from ui import state
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .shared import ask_for, asked_for, seconds_text

AUTO_SECONDS = 3.0  # compute without a click when the estimate is below this
ALL_ROWS = "All rows"


def settings_section(ctx: PageContext) -> tuple[cached.ShapRun, explain.ExplainerPlan]:
    """The run the page explains and the explainer's plan; stops the page while a slow run awaits its click."""
    with shown_errors():
        plan = explain.plan_explainer(ctx.model, ctx.scored)
    current = state.current_slice()
    c1, c2, c3 = st.columns([2, 1, 1])
    scopes = [ALL_ROWS] + ([f"Current slice: {current.describe()}"] if current.conditions else [])
    scope = c1.radio(
        "Rows to explain",
        scopes,
        format_func=md_text,  # the slice's conditions quote category values
        key="importance_scope",
        horizontal=True,
        help="The current slice is set on the Slices page. Rows are sampled, stratified by the label.",
    )
    rows = rows_to_explain(ctx.scored, None if scope == ALL_ROWS else current)
    if rows.problem:
        say(
            "warning",
            f"The current slice cannot be applied to dataset '{ctx.dataset}', so all rows are used: {rows.problem}",
            icon=":material/warning:",
        )
    if rows.population == 0:
        say(
            "warning",
            f"The slice has no labelled rows in dataset '{ctx.dataset}'. Widen it on the Slices page.",
            icon=":material/warning:",
        )
        st.stop()
    approximate = False
    if plan.approximate_available:
        approximate = c3.toggle(
            "Approximate (Saabas)",
            key="importance_approximate",
            value=False,
            help="shap's fast tree approximation: additive, but not Shapley values — rankings can differ. "
            "Worth it for deep random forests, where exact TreeSHAP is slow.",
        )
    with shown_errors():
        est = cached.estimate(ctx, approximate)
    requested_n = c2.number_input(
        "Sample size (rows)",
        min_value=1,
        value=budget.default_sample_size(plan, est, rows.population),
        step=100,
        key="importance_sample_size",
        help=f"Rows explained (of {rows.population:,}), stratified by label. SHAP's cost grows linearly with it.",
    )
    sample_size = int(min(max(int(requested_n), 1), rows.population))
    eta = est.seconds(sample_size)
    st.caption(
        f"**Explainer:** {est.explainer} on {plan.estimator}. {plan.reason}  \n"
        f"**Estimated time** for {sample_size:,} rows: ~{seconds_text(eta)} "
        f"(measured on {est.probe_rows} rows)."
        + (f"  \n{plan.slow_hint}" if plan.slow_hint and not approximate else "")
    )

    run = cached.ShapRun(slice=rows.slice, sample_size=sample_size, approximate=approximate)
    asked = ("shap", ctx.key, run)
    if eta > AUTO_SECONDS and not asked_for(asked):
        if st.button(
            f"Compute SHAP for {sample_size:,} rows (~{seconds_text(eta)})",
            key="importance_compute",
            type="primary",
        ):
            ask_for(asked)
        else:
            st.info(
                "SHAP takes a while at this sample size: start it with the button, or lower the sample size.",
                icon=":material/hourglass_top:",
            )
            st.stop()
    ask_for(asked)
    return run, plan
