"""Reproducibility: refit copies of the model and compare them row by row."""

from __future__ import annotations

import streamlit as st

from explore.checks import charts, tables
from explore.checks.reproducibility import ReproResult, reproducibility
from ui.context import PageContext
from ui.safe import md_text

from .common import (
    evaluation_default,
    exports,
    index_of,
    no_model,
    training_default,
    verdict,
)
from .kept import run_and_keep


def reproducibility_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Is training reproducible?")
    st.caption(
        "A copy of the model (same hyper-parameters, unfitted) is refitted twice as configured, twice with every "
        "random_state fixed (when some are unset), and once with another seed; the refits are compared row by row."
    )
    if no_model(ws, "The reproducibility check"):
        return
    c1, c2, c3, c4 = st.columns(4)
    model = c1.selectbox("Model", ws.model_names, key="checks_repro_model")
    train = c2.selectbox(
        "Fit on",
        ws.dataset_names,
        index=index_of(ws.dataset_names, training_default(ws)),
        key="checks_repro_train",
    )
    others = [d for d in ws.dataset_names if d != train] or ws.dataset_names
    dataset = c3.selectbox(
        "Compare on", others, index=index_of(others, evaluation_default(ws)), key="checks_repro_dataset"
    )
    max_rows = c4.number_input(
        "Max training rows",
        200,
        1_000_000,
        20_000,
        step=5_000,
        key="checks_repro_rows",
        help="Each refit uses the same random rows; fewer rows, faster refits.",
    )
    params = {"model": model, "train": train, "dataset": dataset, "max_rows": int(max_rows)}
    clicked = st.button("Refit and compare", type="primary", key="checks_repro_run", icon=":material/replay:")
    res: ReproResult | None = run_and_keep(
        ws,
        "repro",
        params,
        clicked=clicked,
        label="Refitting copies of the model",
        run=lambda p: reproducibility(
            ws, model=model, train=train, dataset=dataset, max_train_rows=int(max_rows), progress=p
        ),
    )
    if res is None:
        return
    verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(md_text(note))
    if not res.pairs:
        return
    pairs = tables.repro_pairs_table(res)
    st.altair_chart(charts.repro_chart(res), key="checks_repro_chart")
    st.dataframe(
        pairs,
        hide_index=True,
        key="checks_repro_pairs",
        column_config={"agreement": st.column_config.NumberColumn(format="%.4f")},
    )
    random = tables.random_parameters_table(res)
    if len(random):
        st.markdown("**Parameters that control randomness**")
        st.dataframe(random, hide_index=True, key="checks_repro_random")
    with st.expander("Metrics of each refit"):
        for p in res.pairs:
            st.markdown(f"*{md_text(p.name)}*: {md_text(p.first)} vs {md_text(p.second)}")
            st.dataframe(p.metrics, hide_index=True, key=f"checks_repro_metrics_{p.name}")
    exports(
        "reproducibility",
        f"Reproducibility of '{res.model}'",
        res.summary(),
        {"pairs": pairs, "random parameters": random},
        res.to_dict(),
        kind="reproducibility",
        tests=["infra-1"],
        params=params,
        dataset=res.dataset,
    )
