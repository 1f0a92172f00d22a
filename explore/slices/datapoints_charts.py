"""The datapoints chart: a :class:`~explore.slices.datapoints.DatapointsResult` → ``alt.Chart`` (no streamlit).

Points carry a click selection (``POINT``, on the row position) and a box selection (``BOX``, on x and y);
heat-map cells a click selection (``CELL``) and the same box. The selected datapoint and its counterfactual
are drawn on top as rings. Nominal axes are drawn at integer positions named by their levels.
"""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd

from explore.core.chart_data import chart_texts, vega_safe
from explore.slices.datapoints import CELL_STATS, AxisMeta, DatapointsResult

POINT = "datapoint"  # selection parameter: the clicked point (field "position")
CELL = "cell"  # selection parameter: the clicked heat-map cell (field "cell")
BOX = "box"  # selection parameter: the box drawn (fields "x", "y")
MARKS = "datapoints"  # the layer the selections live on (a fixed name: the same spec on every rerun)
_TYPES = {"nominal": "N", "quantitative": "Q", "temporal": "T"}  # an AxisMeta's kind as a Vega-Lite type
ROLE_COLORS = alt.Scale(domain=["selected", "counterfactual"], range=["#000000", "#ff7f0e"])


def _axis(meta: AxisMeta, channel: str, zoomed: tuple[float, float] | None) -> alt.X | alt.Y:
    enc = alt.X if channel == "x" else alt.Y
    if meta.kind == "temporal":
        return enc(f"{channel}:T", title=meta.title)
    if meta.kind == "nominal":
        n = len(meta.labels)
        lo, hi = zoomed if zoomed is not None else (-0.5, n - 0.5)
        return enc(
            f"{channel}:Q",
            title=meta.title,
            scale=alt.Scale(domain=[lo, hi], nice=False, zero=False),
            axis=alt.Axis(
                values=list(range(n)),
                labelExpr=f"{json.dumps(chart_texts(meta.labels))}[datum.value]",
                grid=False,
                labelAngle=-30 if channel == "x" else 0,
            ),
        )
    return enc(f"{channel}:Q", title=meta.title, scale=alt.Scale(zero=False))


def _decimals(values: pd.Series, digits: int = 6) -> int:
    """Decimals that keep ``digits`` significant digits of the values' span (what a pixel can tell apart)."""
    finite = values[np.isfinite(values)]
    span = float(finite.max() - finite.min()) if len(finite) else 0.0
    return int(max(0, digits - np.floor(np.log10(span)))) if span > 0 else digits


def _compact(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as the browser needs it: positions rounded to a millionth of their span and statistics to 4
    significant digits (the spec stays under 1 MB at 5,000 marks)."""
    out = frame.copy()
    for a, b in (("x", "x2"), ("y", "y2")):
        cols = [c for c in (a, b) if c in out]
        d = _decimals(pd.concat([out[c] for c in cols]).astype("float64"))
        for c in cols:
            out[c] = out[c].astype("float64").round(d)
    for c in ("share misclassified", "mean loss", "color"):
        if c in out and pd.api.types.is_float_dtype(out[c].dtype):
            out[c] = out[c].map(lambda v: float(f"{v:.4g}") if np.isfinite(v) else v)
    return out


def _tooltip(result: DatapointsResult, frame: pd.DataFrame) -> list[alt.Tooltip]:
    tips = [
        alt.Tooltip("id:N", title="id"),
        alt.Tooltip("label:N", title="label"),
        alt.Tooltip("prediction:N", title="prediction"),
    ]
    if "other_prediction" in frame:
        tips.append(alt.Tooltip("other_prediction:N", title="previous model's prediction"))
    if "x_text" in frame:
        tips += [alt.Tooltip("x_text:N", title=result.x.title), alt.Tooltip("y_text:N", title=result.y.title)]
    if result.color is not None and "color" in frame:
        tips.append(alt.Tooltip(f"color:{_TYPES[result.color.kind]}", title=result.color.title))
    return tips


def _colour(result: DatapointsResult) -> alt.Color | alt.value:
    c = result.color
    if c is None:
        return alt.value("#4c78a8")
    legend = alt.Legend(title=c.title, orient="top")
    if c.kind == "nominal":
        return alt.Color("color:N", legend=legend, scale=alt.Scale(domain=chart_texts(c.labels)))
    # A time column's colour is its epoch milliseconds: read as times (dates in the legend), not as numbers.
    return alt.Color(f"color:{_TYPES[c.kind]}", legend=legend, scale=alt.Scale(scheme="viridis"))


def _facet(chart: alt.LayerChart, result: DatapointsResult, data: pd.DataFrame) -> alt.Chart:
    spec = result.spec
    kwargs = {}
    if spec.facet_row is not None:
        kwargs["row"] = alt.Row("facet_row:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
    if spec.facet_col is not None:
        kwargs["column"] = alt.Column("facet_col:N", title=None)
    return chart.properties(width=220, height=180).facet(data=data, **kwargs)


def _with_rings(marks: pd.DataFrame, rings: pd.DataFrame) -> pd.DataFrame:
    """The marks and the rings in one frame (a layered or faceted chart has one data). No ring: the marks as
    they are — an empty ring frame would turn integer ids into floats ("3000.0" in the tooltip)."""
    return pd.concat([marks, rings], ignore_index=True) if len(rings) else marks


def datapoints_chart(result: DatapointsResult) -> alt.Chart:
    """Every row in view as a dot (or the heat map of their cells), coloured and faceted as ``result.spec``
    says; the selected datapoint and its counterfactual ringed on top."""
    zoom_x = result.region.x if result.region is not None else None
    zoom_y = result.region.y if result.region is not None else None
    x, y = _axis(result.x, "x", zoom_x), _axis(result.y, "y", zoom_y)
    box = alt.selection_interval(name=BOX, encodings=["x", "y"])
    hl = result.highlights.assign(kind="highlight")
    if result.mode == "cells":
        # Only what the marks read: a heat map's cells share one frame with the rings (a facet has one data).
        hl = hl[[c for c in hl.columns if c in ("x", "y", "id", "role", "kind", "facet_row", "facet_col")]]
        cells = result.cells.drop(columns=["errors", "value"]).assign(kind="cell")
        data = vega_safe(_compact(_with_rings(cells, hl)))
        stat = CELL_STATS[result.spec.cell_stat]
        pick = alt.selection_point(name=CELL, fields=["cell"], on="click")
        marks = (
            alt.Chart()
            .transform_filter("datum.kind == 'cell'")
            .mark_rect()
            .encode(
                x=x,
                x2="x2:Q",
                y=y,
                y2="y2:Q",
                color=alt.Color(
                    f"{stat}:Q",
                    title=stat,
                    scale=alt.Scale(scheme="reds" if result.spec.cell_stat != "count" else "blues"),
                    legend=alt.Legend(orient="top"),
                ),
                tooltip=[
                    alt.Tooltip("rows:Q", format=",", title="rows"),
                    alt.Tooltip("share misclassified:Q", format=".3f"),
                    alt.Tooltip("mean loss:Q", format=".4f"),
                ],
            )
            .add_params(pick, box)
            .properties(name=MARKS)
        )
    else:
        points = result.points.assign(kind="point")
        data = vega_safe(_compact(_with_rings(points, hl)))
        pick = alt.selection_point(name=POINT, fields=["position"], on="click")
        marks = (
            alt.Chart()
            .transform_filter("datum.kind == 'point'")
            .mark_circle(size=28 if result.n_rows > 1_000 else 60, opacity=0.75)
            .encode(x=x, y=y, color=_colour(result), tooltip=_tooltip(result, result.points))
            .add_params(pick, box)
            .properties(name=MARKS)
        )
    rings = (
        alt.Chart()
        .transform_filter("datum.kind == 'highlight'")
        .mark_point(size=320, strokeWidth=3, filled=False, shape="circle")
        .encode(
            x=x,
            y=y,
            stroke=alt.Stroke(
                "role:N",
                scale=ROLE_COLORS,
                legend=alt.Legend(title=None, orient="top") if len(result.highlights) else None,
            ),
            tooltip=[alt.Tooltip("role:N", title="marked"), *_tooltip(result, hl)]
            if result.mode == "points"
            else [alt.Tooltip("role:N", title="marked"), alt.Tooltip("id:N", title="id")],
        )
    )
    if result.spec.facet_row is None and result.spec.facet_col is None:
        return alt.layer(marks, rings, data=data).properties(width="container", height=420)
    return _facet(alt.layer(marks, rings), result, data)
