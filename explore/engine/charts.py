"""Charts of engine results (already aggregated: one mark per group or window)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from explore.core.chart_data import month_ticks, vega_safe
from explore.engine.metrics import EngineTable


def metric_by_group_chart(result: EngineTable, metric: str) -> alt.Chart:
    """One bar per group with its interval: ``result.keys`` one row per group code, ``result.table`` long metrics."""
    keys, table = result.keys, result.table
    one = table[table["metric"] == metric].reset_index(drop=True)
    label = keys.astype(str).agg(" · ".join, axis=1) if keys.shape[1] else pd.Series(["all rows"])
    data = vega_safe(one.assign(group_label=label.iloc[one["group"]].to_numpy()))
    base = alt.Chart(data).encode(y=alt.Y("group_label:N", title=None, sort=None))
    bars = base.mark_bar(opacity=0.7).encode(
        x=alt.X("value:Q", title=metric),
        tooltip=["group_label:N", alt.Tooltip("value:Q", format=".4f"), "support:Q", "note:N"],
    )
    rules = base.mark_rule().encode(x="ci_low:Q", x2="ci_high:Q")
    return (bars + rules).properties(height=alt.Step(18))


def metric_over_time_chart(result: EngineTable, metric: str) -> alt.Chart:
    """The metric per time window with its interval band (``result.keys['window']``: window starts)."""
    every = result.table.assign(window=result.key("window"))
    data = vega_safe(every[every["metric"] == metric].reset_index(drop=True))
    ticks = month_ticks(data["window"])
    base = alt.Chart(data).encode(
        x=alt.X("window:T", title="window", axis=alt.Axis(**ticks) if ticks else alt.Undefined)
    )
    band = base.mark_area(opacity=0.25).encode(y=alt.Y("ci_low:Q", title=metric), y2="ci_high:Q")
    line = base.mark_line(point=True).encode(
        y="value:Q", tooltip=["window:T", alt.Tooltip("value:Q", format=".4f"), "support:Q"]
    )
    return band + line


def drift_heatmap(result: EngineTable, measure: str = "psi") -> alt.Chart:
    """Features × windows heat map of one drift measure (``result.code`` "window": the drift table's column)."""
    data = vega_safe(result.table.assign(window_start=result.key("window")))
    ticks = month_ticks(data["window_start"])
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=alt.X("window_start:T", title="window", axis=alt.Axis(**ticks) if ticks else alt.Undefined),
            y=alt.Y("feature:N", title=None),
            color=alt.Color(f"{measure}:Q", scale=alt.Scale(scheme="orangered")),
            tooltip=["feature:N", "window_start:T", alt.Tooltip(f"{measure}:Q", format=".3f"), "rows:Q"],
        )
    )
