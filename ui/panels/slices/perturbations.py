"""Perturbations: CheckList-style tests that change one feature on every row of the slice and check that the
decision stays (invariance) or the score moves one way (directional)."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from explore.report.csv import csv_bytes
from explore.slices import charts, columns, grouping, whatif
from explore.slices.comparison import SliceRows
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

LAST_RESULT = "slices_perturbation"  # session state: the last PerturbationResult of this session
CATEGORICAL_OPTIONS = 100  # values offered to set a categorical feature to


def perturbations_section(ctx: PageContext, focus: SliceRows) -> None:
    sc = ctx.scored
    st.markdown(
        "CheckList-style tests: change one feature on every row of the slice and see what the model does. "
        "**Invariance** — changing it should not change the decision; **directional** — the score should only move one way."
    )
    if ctx.model is None:
        st.info(whatif.NO_MODEL.format(what="A perturbation check"), icon=":material/info:")
        return
    c1, c2, c3 = st.columns(3)
    feat = c1.selectbox("Feature", sc.feature_names, key="slices_pert_feature")
    set_to, shift = _change_widgets(ctx, feat, c2, c3)
    e1, e2, e3 = st.columns(3)
    expectation = e1.radio(
        "Expectation",
        ["invariant", "increase", "decrease"],
        horizontal=True,
        key="slices_pert_expectation",
        help=f"The output tracked: {md_text(whatif.target_description(sc))} (multiclass: probability of the predicted class).",
    )
    tolerance = e2.number_input("Tolerance", 0.0, None, 0.0, format="%g", key="slices_pert_tolerance")
    by = e3.selectbox(
        "Rates per group of",
        [None, *grouping.sliceable_columns(sc)],
        format_func=lambda c: "—" if c is None else grouping.display_name(c),
        key="slices_pert_by",
    )
    if st.button("Run the check", key="slices_pert_run", type="primary"):
        with shown_errors(stop=False), st.spinner("Re-predicting…"):
            params = whatif.PerturbationParams(
                feat, set_to=set_to, shift=shift, expectation=expectation, tolerance=tolerance, by=by
            )
            st.session_state[LAST_RESULT] = whatif.perturbation_check(
                ctx.model, sc, params, slice_def=focus.conditions_only
            )
    res = st.session_state.get(LAST_RESULT)
    if res is not None:
        _result(res)


def _change_widgets(
    ctx: PageContext, feat: str, mode_column: DeltaGenerator, value_column: DeltaGenerator
) -> tuple[Any, float | None]:
    """How ``feat`` is changed: ``(set_to, shift)``, one of them None."""
    values = ctx.scored.frame[feat]
    numeric = columns.is_numeric_column(values)
    mode = mode_column.radio(
        "Change",
        ["set to a value", "shift by"] if numeric else ["set to a value"],
        horizontal=True,
        key="slices_pert_mode",
    )
    if mode == "shift by":
        shift = value_column.number_input(
            "Amount to add", value=columns.typical_shift(values), key="slices_pert_shift"
        )
        return None, shift
    if numeric:
        return value_column.number_input(
            "Value", value=columns.typical_value(values), key="slices_pert_value"
        ), None
    options = columns.frequent_values(values, limit=CATEGORICAL_OPTIONS, dropna=True)
    return value_column.selectbox("Value", options, key="slices_pert_value_cat"), None


def _result(res: whatif.PerturbationResult) -> None:
    sm = res.summary
    st.markdown(
        f"**{md_text(res.change)}** on {sm['n']:,} rows{' (random sample of ' + format(res.n_eligible, ',') + ')' if res.sampled else ''}: "
        f"expectation *{md_text(res.expectation)}* {'passed' if sm['passed'] else 'violated'} on {sm['violation_rate']:.2%} of rows "
        f"[{sm['violation_low']:.2%}, {sm['violation_high']:.2%}]; mean change of {md_text(res.output_meaning)} {sm['mean_change']:+.4f}."
        + (f" Decisions flipped: {sm['flip_rate']:.2%}." if not math.isnan(sm["flip_rate"]) else "")
    )
    st.altair_chart(charts.perturbation_chart(res), key="slices_pert_chart", width="stretch")
    if res.by_group is not None:
        st.dataframe(res.by_group, hide_index=True, key="slices_pert_groups")
    st.markdown("Rows with the largest change")
    st.dataframe(res.examples, hide_index=True, key="slices_pert_examples")
    st.download_button(
        "Download CSV",
        csv_bytes(res.examples),
        file_name="perturbation_rows.csv",
        mime="text/csv",
        key="slices_dl_pert",
    )
