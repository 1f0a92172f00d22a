"""Numerical stability: NaN and infinite values in the model's inputs and outputs, and edge-case probes."""

from __future__ import annotations

import streamlit as st

from explore.checks import charts
from explore.checks.stability import StabilityResult, numerical_stability
from ui.context import PageContext
from ui.safe import md_text

from .common import exports, verdict
from .kept import run_and_keep


def stability_section(ctx: PageContext) -> None:
    ws = ctx.ws
    has_models = bool(ws.models)
    st.subheader("Numerical stability")
    st.caption(
        "NaN and infinite values in every dataset's model inputs and in the model's outputs, plus edge-case probes: "
        "a row with every feature missing, numbers at ±1e9, never-seen categories."
    )
    c1, c2, c3 = st.columns([1, 2, 1])
    model = c1.selectbox("Model", ws.model_names, key="checks_stab_model") if has_models else "current"
    datasets = c2.multiselect(
        "Datasets", ws.dataset_names, default=ws.dataset_names, key="checks_stab_datasets"
    )
    probes = c3.checkbox("Probes", value=has_models, disabled=not has_models, key="checks_stab_probes")
    params = {"model": model, "datasets": datasets, "probes": probes}
    clicked = st.button(
        "Check", type="primary", key="checks_stab_run", icon=":material/troubleshoot:", disabled=not datasets
    )
    res: StabilityResult | None = run_and_keep(
        ws,
        "stability",
        params,
        clicked=clicked,
        label="Checking inputs and outputs",
        run=lambda p: numerical_stability(ws, model=model, datasets=datasets, probes=probes, progress=p),
    )
    if res is None:
        return
    verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(md_text(note))
    st.dataframe(res.outputs, hide_index=True, key="checks_stab_outputs")
    if len(res.inputs):
        st.altair_chart(charts.nan_chart(res), key="checks_stab_chart")
        st.dataframe(
            res.inputs,
            hide_index=True,
            key="checks_stab_inputs",
            column_config={"nan_rate": st.column_config.NumberColumn("missing share", format="%.4f")},
        )
    if len(res.probes):
        st.markdown("**Probes**")
        st.dataframe(res.probes, hide_index=True, key="checks_stab_probes_table")
    exports(
        "stability",
        f"Numerical stability of '{res.model}'",
        res.summary(),
        {"outputs": res.outputs, "inputs": res.inputs, "probes": res.probes},
        res.to_dict(),
        kind="stability",
        tests=["monitor-5"],
        params=params,
        dataset=None,
    )
