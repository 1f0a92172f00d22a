"""Model spec: does the estimator fit, lower its training loss, and memorise a tiny sample?"""

from __future__ import annotations

import streamlit as st

from explore.checks import charts, tables
from explore.checks.model_spec import SpecResult, spec_checks
from ui.context import PageContext

from .common import exports, index_of, no_model, training_default, verdict
from .kept import run_and_keep


def model_spec_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Does the model specification behave?")
    st.caption(
        "On small random samples of the training data: a fit runs; the training loss decreases over the estimator's "
        "stages; with regularisation relaxed, a copy memorises a tiny sample."
    )
    if no_model(ws, "Model spec checks"):
        return
    c1, c2, c3 = st.columns(3)
    model = c1.selectbox("Model", ws.model_names, key="checks_spec_model")
    train = c2.selectbox(
        "Sample from",
        ws.dataset_names,
        index=index_of(ws.dataset_names, training_default(ws)),
        key="checks_spec_train",
    )
    n_rows = c3.number_input("Sample rows", 20, 20_000, 200, step=100, key="checks_spec_rows")
    params = {"model": model, "train": train, "n_rows": int(n_rows)}
    clicked = st.button("Run spec checks", type="primary", key="checks_spec_run", icon=":material/science:")
    res: SpecResult | None = run_and_keep(
        ws,
        "spec",
        params,
        clicked=clicked,
        label="Model spec checks",
        run=lambda p: spec_checks(ws, model=model, train=train, n_rows=int(n_rows), progress=p),
    )
    if res is None:
        return
    verdict(res.passed, tables.spec_headline(res))
    table = tables.spec_checks_table(res)
    st.dataframe(table, hide_index=True, key="checks_spec_table")
    st.altair_chart(charts.loss_curve_chart(res), key="checks_spec_curve")
    exports(
        "spec",
        f"Model spec checks of '{res.model}'",
        res.summary(),
        {"checks": table, "loss curve": res.curve},
        res.to_dict(),
        kind="spec",
        tests=["infra-2"],
        params=params,
        dataset=res.train,
    )
