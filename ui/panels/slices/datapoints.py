"""Datapoints: every row of the slice on one picture (the What-If Tool's datapoints view). Axes, colour and
facets are chosen here; a click on a point opens it in the datapoint editor below, a click on a heat-map
cell zooms into it, and a box drawn on the chart becomes slice conditions (so every page follows).

The chart and the editor are one fragment: what the editor changes (the row opened, the counterfactual's
distance or rows) reruns the chart as well, so its rings always show the editor's row and counterfactual."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from explore.core.serialise import plain
from explore.errors import ExploreError
from explore.slices import datapoint, whatif
from explore.slices import datapoints as dp
from explore.slices.comparison import SliceRows
from explore.slices.datapoints_charts import BOX, CELL, POINT, datapoints_chart
from explore.slices.definition import LABEL, LOSS, ROW, SCORE
from ui import loaders, state
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_code, md_text

from . import cached
from .rows import editor_body

ZOOM = "slices_dp_zoom"  # dict: the Region zoomed into (a heat-map cell), for this dataset and these axes
HANDLED = "slices_dp_handled"  # str: the chart selection already acted on (each click or box acts once)
NONE = "(none)"
CF_NORM, CF_IN_SLICE, CF_DELTA = "slices_cf_norm", "slices_cf_in_slice", "slices_cf_delta"  # the editor's


@st.fragment
def datapoints_section(ctx: PageContext, focus: SliceRows) -> None:
    sc = ctx.scored
    other_name = _other_model(ctx)
    other = None
    if other_name is not None:
        with shown_errors(stop=False):
            other = loaders.scored(ctx.dataset, other_name, ws=ctx.ws)
    pos = state.selected_position(sc, by_id=bool(ctx.ws.columns.id))
    spec = _spec_widgets(ctx, other is not None, pos is not None)
    only_disagree = other is not None and st.checkbox(
        f"Only rows where '{md_text(ctx.model_name)}' and '{md_text(other_name)}' disagree",
        key="slices_dp_disagree",
    )
    region = _zoom(ctx, spec)
    norm = st.session_state.get(CF_NORM, "l2")
    with shown_errors(stop=False):
        cf = _counterfactual(ctx, focus, pos, norm)
        # The view is cached without the rings (a click changes only those): it depends on the selected row
        # only when coloured by the distance to it.
        similarity = spec.color == dp.SIMILARITY
        result = cached.datapoints_view(
            sc,
            focus.conditions_only,
            spec,
            region,
            other,
            only_disagree,
            pos if similarity else None,
            cf if similarity else None,
            norm if similarity else "l2",
        )
        if not similarity:
            result = dp.ringed(result, sc, selected=pos, counterfactual=cf, other=other)
        _caption(result, other_name)
        if result.mode != "empty":
            event = st.altair_chart(
                datapoints_chart(result),
                on_select="rerun",
                selection_mode=[CELL if result.mode == "cells" else POINT, BOX],
                key="slices_dp_chart",
                width="stretch",
            )
            _act_on(ctx, focus, result, event)
            _rings_caption(result)
            # While the user looks for a row to click: what the counterfactual search needs, built once.
            whatif.prepare_distances_in_background(sc)
    if pos is not None and other is not None:
        _both_models(ctx, other, other_name, pos)
    editor_body(ctx, focus)  # not the editor's own fragment: its widgets rerun this one, chart included


def _other_model(ctx: PageContext) -> str | None:
    """The model version compared with the page's (none by default; "previous" when there is one)."""
    others = [m for m in ctx.ws.model_names if m != ctx.model_name] if ctx.model_name else []
    if not others:
        return None
    options = [NONE, *others]
    default = options.index("previous") if "previous" in options else 0
    pick = st.selectbox(
        "Compare with model version",
        options,
        index=default,
        key="slices_dp_other",
        help="Both models on the same rows: colour by their disagreement, or put one score against the other.",
    )
    return None if pick == NONE else pick


def _spec_widgets(ctx: PageContext, two_models: bool, has_selected: bool) -> dp.DatapointsSpec:
    sc = ctx.scored
    axes = dp.axis_choices(sc, other=two_models)
    colours = dp.colour_choices(sc, other=two_models, selected=has_selected)
    facets = [None, *(c for c in axes if c not in (ROW, SCORE, LOSS, dp.OTHER_SCORE))]
    if two_models and st.button("Score against score (two models)", key="slices_dp_two"):
        st.session_state.update(
            {"slices_dp_x": SCORE, "slices_dp_y": dp.OTHER_SCORE, "slices_dp_color": LABEL}
        )
    # Defaults through the state (not index=): the two-models button above sets the same keys.
    st.session_state.setdefault("slices_dp_x", ROW)
    st.session_state.setdefault("slices_dp_y", SCORE if SCORE in axes else LOSS)
    st.session_state.setdefault("slices_dp_color", LABEL if sc.task != "regression" else LOSS)
    shown = dp.title
    c1, c2, c3, c4, c5 = st.columns(5)
    x = c1.selectbox("X axis", axes, format_func=shown, key="slices_dp_x")
    y = c2.selectbox("Y axis", axes, format_func=shown, key="slices_dp_y")
    colour = c3.selectbox(
        "Colour",
        colours,
        format_func=lambda c: NONE if c is None else shown(c),
        key="slices_dp_color",
        help="'distance to selected' is the distance the counterfactual search uses (L1/L2 as chosen there).",
    )
    row = c4.selectbox(
        "Facet rows", facets, format_func=lambda c: NONE if c is None else shown(c), key="slices_dp_facet_row"
    )
    col = c5.selectbox(
        "Facet columns",
        facets,
        format_func=lambda c: NONE if c is None else shown(c),
        key="slices_dp_facet_col",
    )
    stats = list(dp.CELL_STATS) if sc.task != "regression" else ["count", "loss"]
    stat = st.radio(
        f"Beyond {dp.MAX_POINTS:,} rows, each heat-map cell shows",
        stats,
        format_func=dp.CELL_STATS.get,
        horizontal=True,
        key="slices_dp_stat",
    )
    return dp.DatapointsSpec(x=x, y=y, color=colour, facet_row=row, facet_col=col, cell_stat=stat)


def _zoom(ctx: PageContext, spec: dp.DatapointsSpec) -> dp.Region | None:
    """The zoom into a heat-map cell, while the dataset, axes and facets are those it was chosen on."""
    saved = st.session_state.get(ZOOM)
    where = [ctx.key, spec.x, spec.y, spec.facet_row, spec.facet_col]
    if not saved or saved.get("where") != where:
        st.session_state.pop(ZOOM, None)
        return None
    region = dp.Region(tuple(saved["x"]), tuple(saved["y"]), saved.get("facet_row"), saved.get("facet_col"))
    if st.button("Zoom out to every row", key="slices_dp_unzoom", icon=":material/zoom_out:"):
        st.session_state.pop(ZOOM, None)
        return None
    return region


def _counterfactual(ctx: PageContext, focus: SliceRows, pos: int | None, norm: str) -> int | None:
    """The selected row's nearest counterfactual, as the datapoint editor finds it (same distance and rows)."""
    if pos is None:
        return None
    sc = ctx.scored
    delta = None
    if sc.task == "regression":  # the editor's box, or its default before the editor first ran
        delta = st.session_state.get(CF_DELTA, datapoint.counterfactual_min_change(sc))
    in_slice = bool(st.session_state.get(CF_IN_SLICE))
    try:
        cf = cached.counterfactual(
            sc, ctx.ws, ctx.model_name, pos, norm, focus.conditions_only if in_slice else None, delta or None
        )
    except ExploreError:
        return None  # the editor below says why
    return cf.cf_position if cf.found else None


def _caption(result: dp.DatapointsResult, other_name: str | None) -> None:
    if result.mode == "points":
        what = f"**{result.n_rows:,}** rows, one dot each. Click a dot to open it below; drag a box to filter to it."
    elif result.mode == "cells":
        what = (
            f"**{result.n_rows:,}** rows are too many to draw one by one: the server binned them into "
            f"{len(result.cells):,} cells ({dp.CELL_STATS[result.spec.cell_stat]}). Click a cell to zoom into its "
            "rows; drag a box to filter to it."
        )
    else:
        what = "Nothing to draw."
    if other_name is not None and dp.OTHER_SCORE in (result.spec.x, result.spec.y):
        what += f" The previous model's score is '{md_text(other_name)}''s."
    st.markdown(what)
    for note in result.notes:
        st.caption(md_text(note))


RING_NAMES = {"selected": "selected", "counterfactual": "its nearest counterfactual"}


def _rings_caption(result: dp.DatapointsResult) -> None:
    """Which rows the rings mark, in words (drawn from the same result as the rings, on the same run)."""
    if result.highlights.empty:
        return
    rings = [
        f"row {md_code(i)} ({RING_NAMES[r]})"
        for i, r in zip(result.highlights["id"], result.highlights["role"], strict=True)
    ]
    st.caption("Ringed on the chart: " + " and ".join(rings) + ".")


def _selection_key(selection: Any) -> str:
    return json.dumps({k: selection[k] for k in selection}, sort_keys=True, default=str)


def _act_on(ctx: PageContext, focus: SliceRows, result: dp.DatapointsResult, event: Any) -> None:
    """A click opens the point (or zooms into the cell); a box becomes slice conditions. Each selection acts
    once: the chart keeps reporting it on later reruns."""
    selection = getattr(event, "selection", None) or {}
    key = _selection_key(selection)
    if st.session_state.get(HANDLED) == key:
        return
    st.session_state[HANDLED] = key
    box = dict(selection.get(BOX) or {})
    if box:
        sd = dp.box_slice(result, box, focus.definition)
        state.set_current_slice(sd)
        st.session_state.pop(ZOOM, None)
        st.rerun()
    position = dp.clicked_position(selection.get(POINT))
    if position is not None:
        state.select_row(ctx.scored, position)
        st.rerun()
    cell = dp.clicked_cell(selection.get(CELL))
    if cell is not None:
        region = dp.cell_region(result, cell)
        spec = result.spec
        st.session_state[ZOOM] = {
            "where": [ctx.key, spec.x, spec.y, spec.facet_row, spec.facet_col],
            "x": list(region.x),
            "y": list(region.y),
            "facet_row": region.facet_row,
            "facet_col": region.facet_col,
        }
        st.rerun()


def _both_models(ctx: PageContext, other: Any, other_name: str | None, pos: int) -> None:
    """The selected row's prediction by both model versions."""
    sc = ctx.scored
    mine = datapoint.datapoint_outcome(sc, pos)
    theirs = datapoint.datapoint_outcome(other, pos)
    st.markdown(f"**Row {md_text(plain(sc.ids[pos]))} by both model versions**")
    for col, name, out, s in zip(
        st.columns(2), (ctx.model_name, other_name), (mine, theirs), (sc, other), strict=True
    ):
        col.metric(f"Prediction of '{md_text(name)}'", str(plain(out.prediction)))
        if s.score is not None:
            col.caption(f"{md_text(whatif.target_description(s))}: {s.score[pos]:.4f}")
