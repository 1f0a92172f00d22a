"""One datapoint: the row selected on any page (or typed here) explained as a waterfall, with its truth, its
prediction and the additivity of its values, and a button to attach the explanation as rubric evidence."""

from __future__ import annotations

import streamlit as st

from explore.core.workspace import Scored
from explore.importance import explain
from explore.importance.readout import local_evidence
from explore.importance.rows import parse_position, row_outcome
from ui import evidence, state
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .shared import class_select


def _select_typed(ctx: PageContext, typed: str) -> None:
    """Put the row typed (its id, or its position when the workspace has no id column) in focus.
    Raises AnalysisError when there is no such row."""
    if ctx.ws.columns.id:
        position = explain.find_row(ctx.scored, row_id=typed.strip())
    else:
        position = explain.find_row(ctx.scored, position=parse_position(typed, ctx.scored.n))
    state.select_row(ctx.scored, position)


def _position_in(scored: Scored, sel: state.SelectedRow, *, by_id: bool) -> int:
    """The selected row's position in ``scored``: by id when the workspace has ids (positions may differ between
    pages that count unlabelled rows), else by position. Raises AnalysisError saying why when it is not there."""
    position = state.selected_position(scored, by_id=by_id)
    if position is not None:
        return position
    # Not found as selected (or selected on a dataset this workspace lacks): find_row finds it, or says why.
    if by_id and sel.id is not None:
        return explain.find_row(scored, row_id=sel.id)
    return explain.find_row(scored, position=-1 if sel.position is None else sel.position)


@st.fragment
def local_section(ctx: PageContext, run: cached.ShapRun) -> None:
    st.subheader("One datapoint")
    id_column = ctx.ws.columns.id
    l1, l2 = st.columns([3, 1])
    typed = l1.text_input(
        "Row " + (f"id ({md_text(id_column)})" if id_column else "position"),
        key="importance_row_input",
        placeholder="e.g. " + (str(ctx.scored.ids[0]) if ctx.scored.n else "0"),
        help="Or select a row on the Slices page: it shows here.",
    )
    if l2.button("Explain this row", key="importance_row_go") and typed.strip():
        with shown_errors(stop=False):
            _select_typed(ctx, typed)
    sel = state.selected_row()
    if sel is None:
        st.caption("No datapoint selected: pick a row on the Slices page, or type one above.")
        return
    with shown_errors(stop=False):
        row_ds = sel.dataset if sel.dataset in ctx.ws.dataset_names else ctx.dataset
        row_sc = ctx.scored_for(row_ds)
        pos = _position_in(row_sc, sel, by_id=bool(id_column))
        local = cached.local_explanation(ctx, row_sc, pos, run.approximate)
        outcome = row_outcome(row_sc, pos)
        names = [str(n) for n in local.output_names]
        default_class = (
            names.index(outcome.predicted_class)
            if local.n_outputs > 1 and outcome.predicted_class in names
            else 0
        )
        k = class_select(local, "importance_local_class", default=default_class)
        st.markdown(
            f"Row **{md_text(row_sc.ids[pos])}** (position {pos:,} of '{md_text(row_ds)}') — true {md_text(ctx.ws.columns.label)}: "
            f"**{md_text(outcome.truth)}**, predicted: **{md_text(outcome.predicted)}**; model output "
            f"{local.model_output[0, k]:.4g} = base {local.base_values[0, k]:.4g} + Σ SHAP "
            f"{local.values[0, :, k].sum():+.4g} ({md_text(local.units)})."
        )
        cached.show_spec(
            cached.waterfall_spec(ctx, row_sc, pos, run.approximate, k), key="importance_waterfall"
        )
        st.caption(
            f"{local.explainer}; additivity {'passed' if local.additivity.passed else 'FAILED'} "
            f"(error {local.additivity.max_abs_error:.1e})."
        )
        steps = explain.waterfall_steps(local, output=k, max_features=cached.WATERFALL_FEATURES)
        evidence.attach_button(
            kind="local_explanation",
            tests=["infra-5"],
            title=f"SHAP explanation of row {row_sc.ids[pos]} ({row_ds})",
            params={"dataset": row_ds, "model": ctx.model_name, "position": pos, "id": str(row_sc.ids[pos])},
            result=local_evidence(local, steps),
            dataset=row_ds,
            key="importance_attach_local",
        )
