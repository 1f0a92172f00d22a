"""Shared by the chart builders: frames made safe for Vega-Lite."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

CHART_TEXT_CHARS = 200
"""The longest text a chart carries (a label, a tooltip, a level in a sort order). A chart draws what fits on an
axis; a longer cell (a 10 MB note) would be sent whole to the browser in the spec, once per mark. Tables and
downloads keep the whole value."""


def chart_text(value: object) -> object:
    """``value`` as a chart shows it: text up to ``CHART_TEXT_CHARS`` characters unchanged; longer text cut to its
    start, an ellipsis, its length and a short fingerprint (two long values that begin alike stay two labels).
    Anything that is not text is returned as it is. The same value always gives the same label, so a sort order
    or a scale's domain built from the labels matches the data."""
    if not isinstance(value, str) or len(value) <= CHART_TEXT_CHARS:
        return value
    digest = hashlib.blake2s(value.encode("utf-8", "surrogatepass"), digest_size=3).hexdigest()
    return f"{value[: CHART_TEXT_CHARS - 40]}… ({len(value):,} characters, #{digest})"


def chart_texts(values: Iterable[object]) -> list[object]:
    """:func:`chart_text` of each value: for the sort orders, domains and axis labels a chart names by value."""
    return [chart_text(v) for v in values]


FIT_X = {"type": "fit-x", "contains": "padding"}
"""A chart's ``autosize`` when its height is counted in rows (a bar or a strip per feature, slice, class): the
width fits the container and the height is the plot's own. Streamlit's default ("fit") counts the title, axes and
legend in the element's height, so a chart sized 22 px a row squeezed five features' bars to a line and dropped
every other label of fifteen."""

LEGEND_ROW_PX = 22
"""A legend entry's height. Streamlit draws a chart at its spec's height with the legend inside it, so a legend
taller than the chart squeezes the plot (a 10-class model's bars became a line) and is cut."""


def legend_height(entries: int) -> int:
    """The height a chart needs for a legend of ``entries`` rows (titles count as rows) beside its plot."""
    return LEGEND_ROW_PX * entries + 40


def vega_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy where infinite values are NaN (Vega cannot take them), object columns are text and text is cut to
    what a chart shows (:func:`chart_text`)."""
    out = df.replace([np.inf, -np.inf], np.nan)
    for c in out.columns:
        dtype = out[c].dtype
        if pd.api.types.is_object_dtype(dtype):
            out[c] = out[c].map(lambda v: None if v is None else chart_text(str(v)))
        elif isinstance(dtype, pd.CategoricalDtype):
            if not pd.api.types.is_numeric_dtype(dtype.categories.dtype):
                out[c] = out[c].cat.rename_categories(chart_texts(str(v) for v in dtype.categories))
        elif pd.api.types.is_string_dtype(dtype):
            out[c] = out[c].map(chart_text, na_action="ignore")
    return out


def month_ticks(starts: Iterable[object]) -> dict[str, object] | None:
    """Axis settings that tick calendar-month windows on month starts ("Jan 2024"; every k-th month past a year),
    or None when the starts are not all month starts (equal-row windows, weeks, days). Over a few months Vega's own
    ticks fall on weeks ("Jan 07", "Feb 04"), between the points, as if windows started there."""
    t = pd.to_datetime(pd.Series(list(starts)), errors="coerce").dropna()
    if len(t) < 2 or not (t == t.dt.to_period("M").dt.start_time).all():
        return None
    months = (t.max().year - t.min().year) * 12 + t.max().month - t.min().month + 1
    return {"tickCount": {"interval": "month", "step": max(1, -(-months // 12))}, "format": "%b %Y"}
