"""Baseline: is the model better than a simple one fitted on the same training data?"""

from __future__ import annotations

import streamlit as st

from explore.checks import charts, tables
from explore.checks.baseline import BaselineResult, simple_baseline
from explore.core import roles
from ui import loaders
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .common import exports, index_of, training_default, verdict
from .kept import run_and_keep


def baseline_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Against a simpler model")
    st.caption(
        "A logistic (or ridge) regression with standard preprocessing and a majority/mean dummy are fitted on the training "
        "dataset, then compared with the model, paired, on the same rows. The model should beat the linear baseline by "
        "more than a small margin; if not, its complexity is not paying for itself."
    )
    c1, c2, c3 = st.columns(3)
    train = c1.selectbox(
        "Fit on",
        ws.dataset_names,
        index=index_of(ws.dataset_names, training_default(ws)),
        key="checks_base_train",
    )
    evals = (
        [d for d in roles.evaluation_datasets(ws) if d != train]
        or [d for d in ws.dataset_names if d != train]
        or [train]
    )
    datasets = c2.multiselect("Compare on", ws.dataset_names, default=evals, key="checks_base_datasets")
    max_rows = c3.number_input(
        "Max training rows", 1_000, 2_000_000, 200_000, step=10_000, key="checks_base_rows"
    )
    options = cached.slice_column_options(ws)
    slice_cols = st.multiselect(
        "Slice columns",
        options,
        default=[c for c in ws.config.checks.slices if c in options],
        key="checks_base_slices",
    )
    params = {"train": train, "datasets": datasets, "max_rows": int(max_rows), "slices": slice_cols}
    clicked = st.button(
        "Fit baselines and compare",
        type="primary",
        key="checks_base_run",
        icon=":material/functions:",
        disabled=not datasets,
    )
    res: BaselineResult | None = run_and_keep(
        ws,
        "baseline",
        params,
        clicked=clicked,
        label="Fitting simple baselines",
        run=lambda p: simple_baseline(
            ws,
            train=train,
            datasets=datasets,
            slices=slice_cols,
            max_train_rows=int(max_rows),
            scorer=lambda dataset, model: loaders.scored(dataset, model, ws),
            progress=p,
        ),
    )
    if res is None:
        return
    verdict(res.passed, tables.BASELINE_HEADLINES[res.passed])
    for text in res.verdicts["text"]:
        st.markdown(f"- {md_text(text)}")
    for note in res.notes:
        st.caption(md_text(note))
    st.altair_chart(charts.baseline_chart(res), key="checks_base_chart")
    st.dataframe(res.verdicts.drop(columns=["text"]), hide_index=True, key="checks_base_verdicts")
    with st.expander("Every metric and slice"):
        st.dataframe(res.cells, hide_index=True, key="checks_base_cells")
    exports(
        "baseline",
        f"Simple baseline vs '{res.candidate}' (fitted on {res.train})",
        res.summary(),
        {"verdicts": res.verdicts, "cells": res.cells},
        res.to_dict(),
        kind="baseline",
        tests=["model-5"],
        params=params,
        dataset=res.datasets[0] if res.datasets else None,
    )
