"""Rows & what-if: the slice's worst rows, opening one (from the table or by id), and the datapoint editor —
live edits, the nearest counterfactual, the row's ICE curve and the slice's partial dependence."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from explore.core.serialise import plain
from explore.errors import ExploreError
from explore.report.csv import csv_bytes
from explore.slices import charts, columns, datapoint, whatif
from explore.slices.comparison import SliceRows
from ui import state
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_code, md_text, option_text

from . import cached

WORST_ROWS = 200


def rows_section(ctx: PageContext, focus: SliceRows) -> None:
    sc = ctx.scored
    rows = cached.worst_rows(sc, focus.conditions_only, WORST_ROWS)
    st.markdown(
        f"The slice's {min(WORST_ROWS, focus.n_rows):,} rows with the largest loss, worst first. Click a row to open it."
    )
    event = st.dataframe(
        rows,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="slices_rows_table",
        column_config={
            "loss": st.column_config.NumberColumn(format="%.4f"),
            "score": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    chosen = getattr(getattr(event, "selection", None), "rows", None) or []
    if chosen:
        position = int(rows.iloc[chosen[0]]["position"])
        if _selected_position(ctx) != position:
            state.select_row(sc, position)
    c1, c2, c3 = st.columns([2, 1, 1])
    typed = c1.text_input(
        "…or open a row by id" + ("" if ctx.ws.columns.id else " (row position)"), key="slices_row_id"
    )
    if c2.button("Open", key="slices_open_row"):
        with shown_errors(stop=False):
            found = state.find_by_id(sc, typed) if typed.strip() else None
            state.select_row(sc, datapoint.found_row(sc, typed, found, id_column=ctx.ws.columns.id))
    c3.download_button(
        "Download CSV",
        csv_bytes(rows),
        file_name="slice_worst_rows.csv",
        mime="text/csv",
        key="slices_dl_rows",
    )
    datapoint_editor(ctx, focus)


def _selected_position(ctx: PageContext) -> int | None:
    """The datapoint in focus on this dataset (by id when the workspace has an id column: other pages may set
    only the id)."""
    return state.selected_position(ctx.scored, by_id=bool(ctx.ws.columns.id))


@st.fragment
def datapoint_editor(ctx: PageContext, focus: SliceRows) -> None:
    """The editor in a fragment of its own: an edit reruns the editor only (the Rows view has no chart of it)."""
    editor_body(ctx, focus)


def editor_body(ctx: PageContext, focus: SliceRows) -> None:
    """The datapoint in focus: its outcome, live edits, nearest counterfactual and ICE curve. The Datapoints
    view runs it inside the chart's fragment, so opening a counterfactual or changing the distance reruns the
    chart too and its rings move on the same run."""
    sc = ctx.scored
    pos = _selected_position(ctx)
    if pos is None:
        st.caption("No datapoint open.")
        return
    st.markdown(f"#### Datapoint {md_code(plain(sc.ids[pos]))} (row {pos:,} of {md_text(ctx.dataset)})")
    outcome = datapoint.datapoint_outcome(sc, pos)
    m1, m2, m3 = st.columns(3)
    m1.metric("True label", f"{outcome.truth}")
    m2.metric(
        "Prediction", f"{outcome.prediction:.4g}" if sc.task == "regression" else f"{outcome.prediction}"
    )
    if sc.task == "binary" and sc.score is not None:
        m3.metric(md_text(whatif.target_description(sc)), f"{sc.score[pos]:.4f}")
    left, right = st.columns(2)
    with left:
        _edited_prediction(ctx, pos)
    with right:
        _counterfactual(ctx, focus, pos)
        _ice(ctx, focus, pos)


def _edited_prediction(ctx: PageContext, pos: int) -> None:
    """A widget per feature, and the prediction of the row as edited."""
    sc = ctx.scored
    st.markdown("**Edit features** (the prediction updates live)")
    edits: dict[str, Any] = {feat: _feature_widget(ctx, feat, pos) for feat in sc.feature_names}
    if ctx.model is None:
        st.info(whatif.NO_MODEL.format(what="Editing a datapoint"), icon=":material/info:")
        return
    with shown_errors(stop=False):
        res = whatif.edit_and_predict(ctx.model, sc, pos, edits)
        if res.changes:
            delta = ""
            if res.original_score is not None and res.edited_score is not None:
                delta = f" ({md_text(res.score_meaning)}: {res.original_score:.4f} → {res.edited_score:.4f})"
            verb = "flips to" if res.flipped else "stays"
            st.success(
                f"Prediction {verb} **{_shown(res.edited)}**{delta} after changing {md_text(', '.join(res.changes))}."
            )
        else:
            st.caption(
                f"Unchanged: prediction {_shown(res.original)}"
                + (
                    f", {md_text(res.score_meaning)} {res.original_score:.4f}"
                    if res.original_score is not None
                    else ""
                )
            )
        if res.proba_edited:
            st.dataframe(
                pd.DataFrame(
                    {
                        "class": list(res.proba_edited),
                        "original": list(res.proba_original.values()),
                        "edited": list(res.proba_edited.values()),
                    }
                ),
                hide_index=True,
                key="slices_edit_proba",
            )


def _feature_widget(ctx: PageContext, feat: str, pos: int) -> Any:
    """The row's value of ``feat``: a number box with a "missing" switch (numeric features), a searchable list
    of every level with "(missing)" (categorical ones), or — past ``columns.MAX_PICKED_LEVELS`` levels — a text
    entry checked against the levels."""
    values = ctx.scored.frame[feat]
    current = columns.cell_value(values, pos)
    key = f"slices_edit_{pos}_{feat}"
    if columns.is_numeric_column(values):
        number = None if current is None else float(current)
        box, switch = st.columns([4, 1], vertical_alignment="bottom")
        missing = switch.checkbox(
            "missing",
            value=current is None,
            key=f"{key}_missing",
            help="Set the value missing (NaN), as a row without it would reach the model.",
        )
        typed = box.number_input(
            md_text(feat), value=number, key=key, placeholder="missing", format="%g", disabled=missing
        )
        return None if missing else typed
    options = list(cached.editor_options(ctx.scored, feat))
    if len(options) > columns.MAX_PICKED_LEVELS + 1:
        typed = st.text_input(
            md_text(feat),
            value="" if current is None else str(current),
            key=key,
            placeholder="missing",
            help=f"{len(options) - 1:,} levels: type one exactly (empty: missing).",
        )
        try:
            return columns.known_level(values, typed, column=feat)
        except ExploreError as exc:
            say("error", exc, icon=":material/error:")
            return current
    if current not in options:
        options.append(current)
    return st.selectbox(
        md_text(feat),
        options,
        index=options.index(current),
        key=key,
        format_func=lambda x: "(missing)" if x is None else option_text(x),
        help=f"All {len(options) - 1:,} levels, most frequent first; type to search.",
    )


def _counterfactual(ctx: PageContext, focus: SliceRows, pos: int) -> None:
    """The nearest row the model decides differently, and how it differs."""
    sc = ctx.scored
    st.markdown("**Nearest counterfactual**")
    k1, k2 = st.columns(2)
    norm = k1.radio("Distance", ["l2", "l1"], horizontal=True, key="slices_cf_norm", format_func=str.upper)
    in_slice = k2.checkbox("Only rows in the slice", key="slices_cf_in_slice")
    delta = None
    if sc.task == "regression":
        delta = st.number_input(
            "Prediction must differ by at least",
            min_value=0.0,
            value=datapoint.counterfactual_min_change(sc),
            key="slices_cf_delta",
        )
    with shown_errors(stop=False):
        cf = cached.counterfactual(
            sc, ctx.ws, ctx.model_name, pos, norm, focus.conditions_only if in_slice else None, delta or None
        )
        if not cf.found:
            say("info", cf.message)
            return
        verified = (
            ""
            if cf.verified is None
            else (
                " Re-predicted: the change holds."
                if cf.verified
                else " Re-predicted: the change does not hold!"
            )
        )
        st.markdown(
            f"Row {md_code(cf.cf_id)} is predicted **{_shown(cf.cf_prediction)}** (this row: {_shown(cf.original_prediction)}), "
            f"distance {cf.distance:.3f} ({cf.norm.upper()}, standardised). {md_text(cf.message)}" + verified
        )
        st.dataframe(
            cf.differences.astype({"original": str, "counterfactual": str}),
            hide_index=True,
            key="slices_cf_table",
        )
        # A callback, not st.rerun(scope="fragment"): that raises when the click is handled in a
        # full-app run; the click reruns the enclosing fragment by itself (the chart's, in the Datapoints view).
        st.button(
            "Open the counterfactual row",
            key="slices_cf_open",
            on_click=state.select_row,
            args=(sc, cf.cf_position),
        )


def _ice(ctx: PageContext, focus: SliceRows, pos: int) -> None:
    """The row's output across one feature, and optionally the partial dependence over the slice."""
    st.markdown("**ICE: this row's output across one feature**")
    if ctx.model is None:
        st.info(whatif.NO_MODEL.format(what="An ICE curve"), icon=":material/info:")
        return
    feat = st.selectbox("Feature", ctx.scored.feature_names, key="slices_ice_feature")
    with shown_errors(stop=False):
        ice = whatif.ice_curve(ctx.model, ctx.scored, pos, feat)
        st.altair_chart(charts.dependence_chart(ice), key="slices_ice_chart", width="stretch")
        if st.checkbox("Add partial dependence over the slice (300 sampled rows)", key="slices_pd_show"):
            pdp = whatif.partial_dependence(ctx.model, ctx.scored, feat, slice_def=focus.conditions_only)
            st.altair_chart(charts.dependence_chart(pdp), key="slices_pd_chart", width="stretch")


def _shown(value: Any) -> str:
    """A prediction as shown: numbers to 4 significant digits, classes as they are."""
    return f"{value:.4g}" if isinstance(value, float) else md_text(value)
