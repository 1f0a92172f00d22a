"""Data invariants per window: null rates, out-of-range values, unseen categories and NaN/inf against the
reference chosen in the drift section."""

from __future__ import annotations

import streamlit as st

from explore.staleness import charts, reference, tables
from explore.staleness.drift import InvariantThresholds
from explore.staleness.layout import WindowSpec
from ui import engine_cached, evidence
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .downloads import csv_download
from .drift import REFERENCE, engine_pass_asked


@st.fragment
def invariants_section(ctx: PageContext, spec: WindowSpec) -> None:
    st.subheader("Data invariants per window")
    st.caption(
        "Against the reference chosen above: null rates, values outside the reference's range, categories it never had, "
        "and NaN/inf in the inputs and in the model's outputs (outputs of labelled rows)."
    )
    c = st.columns(4)
    null_inc = (
        c[0].number_input("Null rate increase over (%)", 0.0, 100.0, 5.0, key="staleness_th_null") / 100
    )
    oor = c[1].number_input("Out of range over (%)", 0.0, 100.0, 1.0, key="staleness_th_range") / 100
    unseen = c[2].number_input("Unseen categories over (%)", 0.0, 100.0, 1.0, key="staleness_th_unseen") / 100
    nonfinite = int(
        c[3].number_input("NaN/inf outputs over (count)", 0, 10_000_000, 0, key="staleness_th_outputs")
    )
    thresholds = InvariantThresholds(
        null_increase=null_inc, out_of_range=oor, unseen=unseen, nonfinite_outputs=nonfinite
    )
    if ctx.out_of_core:
        _engine_invariants(ctx, spec, thresholds)
        return
    ws = ctx.ws
    windows = cached.time_windows(ws, spec)
    ref = reference.resolve_reference(st.session_state.get(REFERENCE), ws, windows)
    with shown_errors(stop=False):
        inv = cached.invariants(
            ws, spec, ctx.model_name, ref, InvariantThresholds(null_inc, oor, unseen, 0, nonfinite)
        )
        table = tables.invariants_table(inv, windows)
        n_flag = int(table["flagged"].sum())
        (st.warning if n_flag else st.success)(
            f"{n_flag} of {len(table)} windows break a threshold."
            if n_flag
            else "Every window keeps the invariants."
        )
        st.altair_chart(charts.invariants_chart(inv, windows.labels), width="stretch")
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                col: st.column_config.NumberColumn(format="percent") for col in tables.INVARIANT_SHARES
            },
        )
        cols = st.columns(2)
        csv_download(cols[0], "Invariants per window (CSV)", table, "invariants.csv", key="staleness_dl_inv")
        csv_download(
            cols[1],
            "Per feature and window (CSV)",
            inv.by_feature,
            "invariants_by_feature.csv",
            key="staleness_dl_inv_f",
        )
        params = {
            "reference": ref,
            "datasets": list(spec.datasets),
            "by": spec.by,
            "thresholds": inv.thresholds.__dict__,
        }
        dataset = ctx.dataset if len(spec.datasets) == 1 else None
        evidence.attach_button(
            kind="data_invariants",
            tests=["monitor-2"],
            title=f"Data invariants per window vs {ref}: {n_flag} of {len(table)} windows flagged",
            params=params,
            result={"windows": tables.records(table)},
            dataset=dataset,
            key="staleness_evidence_invariants",
        )
        n_bad = tables.nonfinite_outputs_windows(table, nonfinite)
        evidence.attach_button(
            kind="numerical_stability",
            tests=["monitor-5"],
            title=f"NaN/inf in inputs and model outputs per window: {n_bad} windows with non-finite outputs",
            params=params,
            result={"windows": tables.records(table[tables.NONFINITE_COLUMNS])},
            dataset=dataset,
            key="staleness_evidence_nonfinite",
        )


def _engine_invariants(ctx: PageContext, spec: WindowSpec, thresholds: InvariantThresholds) -> None:
    from .performance import engine_unit, engine_windows_text

    unit = engine_unit(spec)
    features = tuple(f for f in ctx.ws.feature_names if f != ctx.ws.columns.time)
    if not engine_pass_asked(
        ctx,
        "Data invariants",
        "staleness_engine_invariants",
        (ctx.dataset, unit, spec.n_windows, features),  # once asked, new thresholds recompute at once
    ):
        return
    with shown_errors(stop=False), st.spinner("Querying every row…"):
        by_window = engine_cached.invariants(ctx.ws, ctx.dataset, unit, spec.n_windows, features, thresholds)
        st.caption(
            f"Every row of '{md_text(ctx.dataset)}' by {engine_windows_text(spec, unit)}, against the first {'window' if unit == 'rows' else unit}, counted by the engine: "
            f"{int(by_window['flagged'].sum())} of {len(by_window)} windows break an invariant."
        )
        st.dataframe(by_window, hide_index=True)
        csv_download(st, "Invariants per window (CSV)", by_window, "invariants.csv", key="staleness_dl_inv")
