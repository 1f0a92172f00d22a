"""Serving cost: latency per row and per batch and peak memory, candidate and previous model in one run."""

from __future__ import annotations

import streamlit as st

from explore.checks import charts, choices
from explore.checks.stability import CostResult, serving_cost
from ui.context import PageContext
from ui.safe import md_text

from .common import evaluation_default, exports, index_of, no_model, verdict
from .kept import run_and_keep

BATCH_SIZES = [1, 10, 100, 1_000, 10_000, 100_000]


def cost_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Serving cost")
    st.caption(
        "Prediction latency per row and per batch and peak memory, for the candidate and the previous model measured in "
        "the same run (interleaved, so both see the same machine load)."
    )
    if no_model(ws, "Measuring serving cost"):
        return
    c1, c2, c3 = st.columns(3)
    models = c1.multiselect(
        "Models (the first is the candidate)",
        ws.model_names,
        default=choices.default_cost_models(ws.model_names),
        key="checks_cost_models",
    )
    dataset = c2.selectbox(
        "Rows from",
        ws.dataset_names,
        index=index_of(ws.dataset_names, evaluation_default(ws)),
        key="checks_cost_dataset",
    )
    sizes = c3.multiselect("Batch sizes", BATCH_SIZES, default=[1, 100, 10_000], key="checks_cost_sizes")
    params = {"models": models, "dataset": dataset, "sizes": sizes}
    clicked = st.button(
        "Measure",
        type="primary",
        key="checks_cost_run",
        icon=":material/speed:",
        disabled=not models or not sizes,
    )
    res: CostResult | None = run_and_keep(
        ws,
        "cost",
        params,
        clicked=clicked,
        label="Timing predictions",
        run=lambda p: serving_cost(ws, models=models, dataset=dataset, batch_sizes=sizes, progress=p),
    )
    if res is None:
        return
    verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(md_text(note))
    st.altair_chart(charts.cost_chart(res), key="checks_cost_chart")
    st.dataframe(res.table, hide_index=True, key="checks_cost_table")
    if len(res.ratios):
        st.dataframe(res.ratios, hide_index=True, key="checks_cost_ratios")
    exports(
        "cost",
        f"Serving cost of '{res.candidate}'",
        res.summary(),
        {"latency": res.table, "ratios": res.ratios},
        res.to_dict(),
        kind="cost",
        tests=["data-3", "monitor-6"],
        params=params,
        dataset=dataset,
    )
