"""The datapoints view (the What-If Tool's Facets Dive, at 1M rows): every row placed by two axes, coloured and
faceted, drawn as points up to ``MAX_POINTS`` rows and as a server-side binned heat map beyond.

Axes are any data column or a pseudo-column (``LABEL``, ``PREDICTION``, ``CORRECT``, ``TIME``, ``SCORE``,
``LOSS``, ``ROW``) or ``OTHER_SCORE`` (the second model's score). Categorical axes keep their most frequent
levels (then "(other)" and "(missing)", as :func:`explore.slices.grouping.group_column` cuts them) and are
drawn at integer positions with a per-row jitter, as the What-If Tool did. Time axes are epoch milliseconds
(UTC). A box drawn on the chart becomes slice conditions (:func:`box_slice`), so every page follows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from explore.core.serialise import plain
from explore.core.workspace import Scored
from explore.errors import AnalysisError
from explore.slices.definition import (
    CORRECT,
    LABEL,
    LOSS,
    PREDICTION,
    ROW,
    SCORE,
    TIME,
    Condition,
    SliceDefinition,
    numeric_pseudo_values,
    slice_mask,
)
from explore.slices.grouping import MISSING_LABEL, OTHER, column_values, display_name, group_column

MAX_POINTS = 5_000  # marks the browser draws at most
MAX_CELLS = 3_000  # heat-map cells at most (a cell carries more fields than a point: the spec stays < 1 MB)
GRID = 40  # heat-map bins per numeric axis (fewer when facets share the budget)
AXIS_LEVELS = 30  # categorical axes: the 29 most frequent levels, then "(other)" (and "(missing)")
COLOR_LEVELS = 10
FACET_BINS = 4  # numeric facets: quantile bins
FACET_LEVELS = 6
JITTER = 0.35  # categorical axes: rows spread over ±JITTER around their level

OTHER_SCORE = "__other_score__"  # axis: the second model's score on the same rows
DISAGREE = "__disagree__"  # colour: the two models decide differently
SIMILARITY = (
    "__similarity__"  # colour: distance to the selected datapoint (as the counterfactual search measures)
)
AXIS_NAMES = {
    OTHER_SCORE: "previous model's score",
    DISAGREE: "models disagree",
    SIMILARITY: "distance to selected",
}

CellStat = Literal["count", "error", "loss"]
CELL_STATS: dict[str, str] = {"count": "rows", "error": "share misclassified", "loss": "mean loss"}
Kind = Literal["quantitative", "nominal", "temporal"]

ALL_MISSING = "Column '{column}' has no values to place (all {n:,} rows are missing). Choose another {role}."
NO_OTHER = "Choose a second model version first: '{what}' compares two models on the same rows."
OTHER_ROWS = (
    "The second model scored {received:,} rows but the first scored {expected:,}: they must score the same "
    "dataset. Choose the same dataset for both."
)
BAD_STAT = "The heat-map statistic must be one of {known}; received {received!r}."
NO_SELECTED = "Colouring by similarity needs a selected datapoint: click a point (or open a row) first."
REGRESSION_ERROR = "'share misclassified' is for classification; for regression choose 'mean loss'."


def title(column: str | None) -> str:
    """A column's or pseudo-column's name as shown."""
    return "" if column is None else AXIS_NAMES.get(column, display_name(column))


# ---- axes and colours: one value per row ------------------------------------------------------------------


@dataclass(frozen=True)
class AxisMeta:
    """How one axis (or the colour) reads, without its per-row values: ``labels[i]`` names level ``i`` of a
    nominal axis and ``conditions[i]`` selects its rows (so a box over levels becomes a slice)."""

    column: str
    title: str
    kind: Kind
    labels: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _Values:
    meta: AxisMeta
    values: np.ndarray  # float64 per row: numbers, level codes (nominal) or epoch ms (temporal); NaN missing


def _other_score(scored: Scored, other: Scored | None, what: str) -> np.ndarray:
    if other is None:
        raise AnalysisError(NO_OTHER.format(what=what))
    if other.n != scored.n:
        raise AnalysisError(OTHER_ROWS.format(received=other.n, expected=scored.n))
    return numeric_pseudo_values(other, SCORE)


def _values(scored: Scored, column: str, *, other: Scored | None, levels: int, role: str = "axis") -> _Values:
    """``column``'s values over every row, as one float per row, and how to read them."""
    name = title(column)
    if column == OTHER_SCORE:
        return _Values(AxisMeta(column, name, "quantitative"), _other_score(scored, other, name))
    if scored.task != "regression" and column in (LABEL, PREDICTION, CORRECT):
        return _nominal(scored, column, name, levels)  # class codes: no 1M-row Series of class names
    s = column_values(scored, column)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = s.to_numpy(dtype="datetime64[ns]")
        ms = np.where(np.isnat(ns), np.nan, ns.astype("int64") / 1e6)
        if np.isnan(ms).all():
            raise AnalysisError(ALL_MISSING.format(column=name, n=len(ms), role=role))
        return _Values(AxisMeta(column, name, "temporal", note=_constant_note(name, ms)), ms)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        x = np.where(np.isfinite(x), x, np.nan)
        if np.isnan(x).all():
            raise AnalysisError(ALL_MISSING.format(column=name, n=len(x), role=role))
        # At most 10 distinct values (the grouping's rule): levels, jittered, as the What-If Tool drew them.
        if column in scored.frame.columns and group_column(scored, column).kind == "categorical":
            return _nominal(scored, column, name, levels)
        return _Values(AxisMeta(column, name, "quantitative", note=_constant_note(name, x)), x)
    if s.isna().all():
        raise AnalysisError(ALL_MISSING.format(column=name, n=len(s), role=role))
    return _nominal(scored, column, name, levels)


def _nominal(scored: Scored, column: str, name: str, levels: int) -> _Values:
    """A categorical column as level codes (its cached grouping: the most frequent levels, "(other)", missing)."""
    g = group_column(scored, column, max_groups=levels)
    note = ""
    if OTHER in g.labels:
        kept = len(g.labels) - 1 - (MISSING_LABEL in g.labels)
        note = f"{name} has more than {levels - 1} levels: the {kept} most frequent are shown, the rest as {OTHER}."
    elif len(g.labels) == 1:
        note = f"{name} is constant ({g.labels[0]})."
    return _Values(
        AxisMeta(column, name, "nominal", tuple(g.labels), tuple(g.conditions), note),
        g.codes.astype("float64"),
    )


def _constant_note(name: str, x: np.ndarray) -> str:
    finite = x[~np.isnan(x)]
    return f"{name} is constant: every row has the same value." if finite.min() == finite.max() else ""


def disagreement(scored: Scored, other: Scored) -> np.ndarray:
    """Rows where the two models decide differently: another predicted class, or (regression) predictions
    further apart than half the spread of the first model's predictions."""
    _other_score(scored, other, title(DISAGREE))
    if scored.task == "regression":
        delta = 0.5 * float(np.nanstd(scored.pred)) or 1.0
        return np.abs(np.asarray(scored.pred) - np.asarray(other.pred)) >= delta
    return np.asarray(scored.pred) != np.asarray(other.pred)


def _colour(
    scored: Scored, column: str | None, *, other: Scored | None, selected: int | None, norm: str
) -> _Values | None:
    if column is None:
        return None
    if column == DISAGREE:
        d = disagreement(scored, other)  # type: ignore[arg-type]
        return _Values(AxisMeta(column, title(column), "nominal", ("agree", "disagree")), d.astype("float64"))
    if column == SIMILARITY:
        if selected is None:
            raise AnalysisError(NO_SELECTED)
        from explore.slices.whatif import distances_to

        meta = AxisMeta(
            column, f"distance to row {plain(scored.ids[selected])} ({norm.upper()})", "quantitative"
        )
        return _Values(meta, distances_to(scored, selected, norm=norm))
    return _values(scored, column, other=other, levels=COLOR_LEVELS, role="colour")


# ---- the view ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatapointsSpec:
    """What the chart shows: axes, colour (None: one colour), up to two facets, the heat map's statistic."""

    x: str = ROW
    y: str = SCORE
    color: str | None = CORRECT
    facet_row: str | None = None
    facet_col: str | None = None
    cell_stat: CellStat = "count"


@dataclass(frozen=True)
class Region:
    """A zoom: a rectangle in axis units (level codes, epoch ms), optionally one facet cell."""

    x: tuple[float, float]
    y: tuple[float, float]
    facet_row: str | None = None
    facet_col: str | None = None


@dataclass(frozen=True)
class DatapointsResult:
    """The rows in view, drawn as ``points`` (``mode == "points"``) or as heat-map ``cells`` ("cells"); "empty"
    when no row is left.

    ``points``: one row per drawn datapoint — ``position``, ``id``, ``x``/``y`` (jittered for nominal axes),
    ``x_text``/``y_text`` (the values as read), ``label``, ``prediction``, ``color`` (and ``other_prediction``
    with two models), ``facet_row``/``facet_col``, ``role`` ("" or "selected"/"counterfactual").
    ``cells``: ``cell``, ``x``/``x2``, ``y``/``y2`` (bounds), ``rows``, ``errors``, ``share misclassified``,
    ``mean loss``, ``value`` (the chosen statistic), the facets. ``highlights``: the selected datapoint and its
    counterfactual (same columns as ``points``), drawn on top in either mode.
    """

    spec: DatapointsSpec
    mode: Literal["points", "cells", "empty"]
    x: AxisMeta
    y: AxisMeta
    color: AxisMeta | None
    points: pd.DataFrame
    cells: pd.DataFrame
    highlights: pd.DataFrame
    n_rows: int  # rows in view (after the slice, the zoom and the disagreement filter)
    n_total: int  # rows of the dataset
    n_missing: int  # rows in view with no value on an axis (not drawn)
    region: Region | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_marks(self) -> int:
        return len(self.points) + len(self.cells) + len(self.highlights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "x": self.x.title,
            "y": self.y.title,
            "color": None if self.color is None else self.color.title,
            "n_rows": self.n_rows,
            "n_total": self.n_total,
            "n_missing": self.n_missing,
            "n_marks": self.n_marks,
            "notes": list(self.notes),
        }


def _jitter(positions: np.ndarray, salt: int) -> np.ndarray:
    """A deterministic offset in [-JITTER, JITTER) per row (the same row stays put across reruns)."""
    h = (positions.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(2**32)
    return (h.astype("float64") / 2**32 - 0.5) * 2 * JITTER


def _text(values: np.ndarray, meta: AxisMeta) -> list[Any]:
    if meta.kind == "nominal":
        return [meta.labels[int(v)] for v in values]
    if meta.kind == "temporal":
        return [pd.Timestamp(int(v), unit="ms").isoformat() if np.isfinite(v) else None for v in values]
    return [float(f"{v:.6g}") if np.isfinite(v) else None for v in values]  # as read: 6 significant digits


def _class_texts(scored: Scored, codes: np.ndarray) -> list[Any]:
    if scored.task == "regression":
        return [float(v) for v in codes]
    classes = scored.classes.tolist()
    return [plain(classes[c]) if c >= 0 else None for c in codes]


def _facet_codes(scored: Scored, column: str | None) -> tuple[np.ndarray | None, list[str]]:
    if column is None:
        return None, []
    g = group_column(scored, column, bins=FACET_BINS, max_groups=FACET_LEVELS)
    return g.codes, [f"{title(column)} = {label}" for label in g.labels]


def _rows_frame(
    scored: Scored,
    idx: np.ndarray,
    vx: _Values,
    vy: _Values,
    colour: _Values | None,
    facets: list[tuple[np.ndarray | None, list[str]]],
    other: Scored | None,
    role: list[str] | None = None,
) -> pd.DataFrame:
    """One row per datapoint in ``idx`` as the chart draws it."""
    x, y = vx.values[idx], vy.values[idx]
    df = pd.DataFrame(
        {
            "position": idx.astype("int64"),
            "id": [plain(v) for v in scored.ids[idx]],
            "x": x + (_jitter(idx, 1) if vx.meta.kind == "nominal" else 0.0),
            "y": y + (_jitter(idx, 7) if vy.meta.kind == "nominal" else 0.0),
            "x_text": _text(x, vx.meta),
            "y_text": _text(y, vy.meta),
            "label": _class_texts(scored, scored.y[idx]),
            "prediction": _class_texts(scored, scored.pred[idx]),
        }
    )
    if other is not None:
        df["other_prediction"] = _class_texts(other, other.pred[idx])
    if colour is not None:
        c = colour.values[idx]
        df["color"] = _text(c, colour.meta) if colour.meta.kind == "nominal" else c
    for name, (codes, labels) in zip(("facet_row", "facet_col"), facets, strict=True):
        if codes is not None:
            df[name] = [labels[k] if k >= 0 else MISSING_LABEL for k in codes[idx]]
    df["role"] = role if role is not None else ""
    return df


def _edges(values: np.ndarray, meta: AxisMeta, n_bins: int) -> np.ndarray:
    """Bin edges over ``values`` (finite): one bin per level for nominal axes, equal widths otherwise."""
    if meta.kind == "nominal":
        return np.arange(len(meta.labels) + 1, dtype="float64") - 0.5
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:  # a constant column: one bin around the value
        pad = 0.5 if meta.kind == "quantitative" else 43_200_000.0  # half a day for times
        lo, hi = lo - pad, hi + pad
        n_bins = 1
    return np.linspace(lo, hi, n_bins + 1)


def datapoints(
    scored: Scored,
    spec: DatapointsSpec,
    *,
    slice_def: SliceDefinition | None = None,
    region: Region | None = None,
    other: Scored | None = None,
    only_disagree: bool = False,
    selected: int | None = None,
    counterfactual: int | None = None,
    norm: Literal["l1", "l2"] = "l2",
    max_points: int = MAX_POINTS,
) -> DatapointsResult:
    """The slice's rows (all rows by default) placed by ``spec``: points when at most ``max_points`` rows
    are in view, else a heat map of at most ``max_points`` cells (per facet cell, ``spec.cell_stat`` of the
    rows there). ``region`` zooms in; ``only_disagree`` keeps the rows where ``other`` decides differently;
    ``selected`` / ``counterfactual`` (row positions) are highlighted wherever they fall.
    """
    if spec.cell_stat not in CELL_STATS:
        raise AnalysisError(BAD_STAT.format(known=", ".join(CELL_STATS), received=spec.cell_stat))
    if spec.cell_stat == "error" and scored.task == "regression":
        raise AnalysisError(REGRESSION_ERROR)
    vx = _values(scored, spec.x, other=other, levels=AXIS_LEVELS)
    vy = _values(scored, spec.y, other=other, levels=AXIS_LEVELS)
    if spec.color == SIMILARITY and selected is None:
        raise AnalysisError(NO_SELECTED)
    if spec.color == DISAGREE:
        _other_score(scored, other, title(DISAGREE))
    facets = [_facet_codes(scored, spec.facet_row), _facet_codes(scored, spec.facet_col)]
    rows = slice_mask(scored, slice_def)
    notes = [m.note for m in (vx.meta, vy.meta) if m.note]
    if only_disagree:
        rows &= disagreement(scored, other)  # type: ignore[arg-type]
    if region is not None:
        rows &= (vx.values >= region.x[0]) & (vx.values <= region.x[1])
        rows &= (vy.values >= region.y[0]) & (vy.values <= region.y[1])
        for (codes, labels), wanted in zip(facets, (region.facet_row, region.facet_col), strict=True):
            if codes is not None and wanted is not None:
                rows &= codes == (labels.index(wanted) if wanted in labels else -2)
    placed = ~np.isnan(vx.values) & ~np.isnan(vy.values)
    n_missing = int((rows & ~placed).sum())
    if n_missing:
        notes.append(f"{n_missing:,} rows have no value on an axis and are not drawn.")
    rows &= placed
    n_rows = int(rows.sum())
    if n_rows == 1:
        notes.append("One row in view: it is drawn alone.")
    colour = None
    if (
        0 < n_rows <= max_points
    ):  # cells show their statistic: the colour of 1M rows is not computed for nothing
        colour = _colour(scored, spec.color, other=other, selected=selected, norm=norm)
        notes += [colour.meta.note] if colour is not None and colour.meta.note else []
    elif spec.color is not None and n_rows:
        notes.append(
            f"The colour ({title(spec.color)}) is for dots: the cells show {CELL_STATS[spec.cell_stat]}. Click a "
            "cell or narrow the slice to draw the rows as dots."
        )
    highlights = _highlights(scored, vx, vy, colour, facets, other, selected, counterfactual)
    empty = pd.DataFrame()
    base = dict(
        spec=spec,
        x=vx.meta,
        y=vy.meta,
        color=None if colour is None else colour.meta,
        highlights=highlights,
        n_rows=n_rows,
        n_total=scored.n,
        n_missing=n_missing,
        region=region,
    )
    if n_rows == 0:
        notes.append("No row is in view: widen the slice or the zoom.")
        return DatapointsResult(mode="empty", points=empty, cells=empty, notes=tuple(notes), **base)
    idx = np.flatnonzero(rows)
    if n_rows <= max_points:
        points = _rows_frame(scored, idx, vx, vy, colour, facets, other)
        return DatapointsResult(mode="points", points=points, cells=empty, notes=tuple(notes), **base)
    budget = min(max_points, MAX_CELLS) - 2  # room for both rings, whether drawn now or by ringed() later
    cells = _cells(scored, idx, vx, vy, facets, spec.cell_stat, budget, notes)
    return DatapointsResult(mode="cells", points=empty, cells=cells, notes=tuple(notes), **base)


def _highlights(
    scored: Scored,
    vx: _Values,
    vy: _Values,
    colour: _Values | None,
    facets: list[tuple[np.ndarray | None, list[str]]],
    other: Scored | None,
    selected: int | None,
    counterfactual: int | None,
) -> pd.DataFrame:
    """The selected datapoint and its counterfactual as the rings draw them (those with a value on both axes)."""
    marked = [
        (p, r) for p, r in ((selected, "selected"), (counterfactual, "counterfactual")) if p is not None
    ]
    marked = [
        (p, r)
        for p, r in marked
        if 0 <= p < scored.n and not (np.isnan(vx.values[p]) or np.isnan(vy.values[p]))
    ]
    return _rows_frame(
        scored,
        np.array([p for p, _ in marked], dtype="int64"),
        vx,
        vy,
        colour,
        facets,
        other,
        [r for _, r in marked],
    )


def ringed(
    result: DatapointsResult,
    scored: Scored,
    *,
    selected: int | None,
    counterfactual: int | None,
    other: Scored | None = None,
) -> DatapointsResult:
    """``result`` with the selected datapoint and its counterfactual ringed instead of the rings it had: a click
    redraws two rings, not the view (``result`` must be the view of ``scored`` with these axes; a view coloured
    by similarity to the selected row depends on it — compute that one with ``datapoints(..., selected=…)``)."""
    spec = result.spec
    if spec.color == SIMILARITY:
        raise AnalysisError(
            "A view coloured by similarity depends on the selected row: compute it with datapoints(..., selected=…)."
        )
    vx = _values(scored, spec.x, other=other, levels=AXIS_LEVELS)
    vy = _values(scored, spec.y, other=other, levels=AXIS_LEVELS)
    colour = None
    if result.color is not None:  # the dots' colour (a heat map has none): the rings' tooltips show it too
        colour = _colour(scored, spec.color, other=other, selected=None, norm="l2")
    facets = [_facet_codes(scored, spec.facet_row), _facet_codes(scored, spec.facet_col)]
    hl = _highlights(scored, vx, vy, colour, facets, other, selected, counterfactual)
    return replace(result, highlights=hl)


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The equal-width bin of each value (the last bin closed), by arithmetic rather than a search."""
    n = len(edges) - 1
    width = (edges[-1] - edges[0]) / n
    return np.clip(((values - edges[0]) / width).astype(np.int64), 0, n - 1)


def _cells(
    scored: Scored,
    idx: np.ndarray,
    vx: _Values,
    vy: _Values,
    facets: list[tuple[np.ndarray | None, list[str]]],
    stat: CellStat,
    budget: int,
    notes: list[str],
) -> pd.DataFrame:
    """The heat map: rows counted per (facet row, facet column, x bin, y bin), with errors and loss."""
    every = len(idx) == scored.n  # no slice, no zoom: read the columns, do not gather a copy
    x, y = (vx.values, vy.values) if every else (vx.values[idx], vy.values[idx])
    f_codes = []
    f_sizes = []
    for codes, labels in facets:
        if codes is None:
            f_codes.append(np.zeros(len(idx), dtype=np.int64))
            f_sizes.append(1)
        else:
            c = (codes if every else codes[idx]).astype(np.int64)
            f_codes.append(np.where(c < 0, len(labels), c))
            f_sizes.append(len(labels) + 1)
    per_facet = max(budget // (f_sizes[0] * f_sizes[1]), 4)
    nominal = [vx.meta.kind == "nominal", vy.meta.kind == "nominal"]
    if all(nominal):
        nx, ny = len(vx.meta.labels), len(vy.meta.labels)
    elif nominal[0]:
        nx = len(vx.meta.labels)
        ny = max(min(GRID, per_facet // nx), 2)
    elif nominal[1]:
        ny = len(vy.meta.labels)
        nx = max(min(GRID, per_facet // ny), 2)
    else:
        nx = ny = max(min(GRID, int(math.isqrt(per_facet))), 2)
    ex, ey = _edges(x, vx.meta, nx), _edges(y, vy.meta, ny)
    nx, ny = len(ex) - 1, len(ey) - 1
    ix, iy = _bin_index(x, ex), _bin_index(y, ey)
    key = ((f_codes[0] * f_sizes[1] + f_codes[1]) * nx + ix) * ny + iy
    size = f_sizes[0] * f_sizes[1] * nx * ny
    count = np.bincount(key, minlength=size)
    wrong, loss = ~scored.correct, scored.row_loss
    if not every:
        wrong, loss = wrong[idx], loss[idx]
    errors = np.bincount(key, weights=wrong, minlength=size)
    loss = np.bincount(key, weights=np.nan_to_num(loss), minlength=size)
    cell = np.flatnonzero(count)
    if len(cell) > budget:  # many facets × levels: keep the fullest cells, say how many were left out
        keep = np.sort(cell[np.argsort(-count[cell], kind="stable")[:budget]])
        left = count[cell].sum() - count[keep].sum()
        notes.append(
            f"{len(cell) - budget:,} sparsest cells ({left:,} rows) are not drawn; facet or filter less."
        )
        cell = keep
    iy_c = cell % ny
    ix_c = (cell // ny) % nx
    f_c = cell // (nx * ny)
    n = count[cell]
    df = pd.DataFrame(
        {
            "cell": cell.astype("int64"),
            "x": ex[ix_c],
            "x2": ex[ix_c + 1],
            "y": ey[iy_c],
            "y2": ey[iy_c + 1],
            "rows": n.astype("int64"),
            "errors": errors[cell].astype("int64"),
            "share misclassified": errors[cell] / n if scored.task != "regression" else np.nan,
            "mean loss": loss[cell] / n,
        }
    )
    df["value"] = df[{"count": "rows", "error": "share misclassified", "loss": "mean loss"}[stat]]
    for name, (codes, labels), fc in zip(
        ("facet_row", "facet_col"), facets, (f_c // f_sizes[1], f_c % f_sizes[1]), strict=True
    ):
        if codes is not None:
            names = [*labels, MISSING_LABEL]
            df[name] = [names[k] for k in fc]
    return df


# ---- pointing is acting -----------------------------------------------------------------------------------


def cell_region(result: DatapointsResult, cell: int) -> Region:
    """The zoom into one heat-map cell (its bounds and facets)."""
    hit = result.cells[result.cells["cell"] == int(cell)]
    if hit.empty:
        raise AnalysisError(f"There is no cell {cell!r} in the heat map any more; click a cell again.")
    r = hit.iloc[0]
    return Region(
        (float(r["x"]), float(r["x2"])),
        (float(r["y"]), float(r["y2"])),
        r.get("facet_row") if "facet_row" in hit else None,
        r.get("facet_col") if "facet_col" in hit else None,
    )


def _ms(v: Any) -> float:
    """An interval bound as epoch ms: the browser sends numbers for time scales, sometimes ISO text."""
    if isinstance(v, int | float):
        return float(v)
    t = pd.Timestamp(v)
    t = t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t
    return t.value / 1e6


def _axis_condition(meta: AxisMeta, lo: Any, hi: Any) -> Condition | None:
    """The condition selecting ``lo ≤ axis ≤ hi`` (None: the axis is not a column a slice can filter)."""
    if meta.column in (OTHER_SCORE,):
        return None
    if meta.kind == "temporal":
        a, b = sorted((_ms(lo), _ms(hi)))
        return Condition(
            meta.column,
            "range",
            lo=pd.Timestamp(a, unit="ms").isoformat(),
            hi=pd.Timestamp(b, unit="ms").isoformat(),
            hi_inclusive=True,
        )
    a, b = sorted((float(lo), float(hi)))
    if meta.kind == "quantitative":
        return Condition(meta.column, "range", lo=a, hi=b, hi_inclusive=True)
    # Nominal: the levels whose band [k - JITTER, k + JITTER] the box touches.
    chosen = [k for k in range(len(meta.labels)) if b >= k - JITTER and a <= k + JITTER]
    if not chosen or len(chosen) == len(meta.labels):
        return None
    conds = [meta.conditions[k] for k in chosen]
    if meta.labels[chosen[0]] != OTHER and all(c.op == "in" for c in conds):
        return Condition(meta.column, "in", values=tuple(v for c in conds for v in c.values))
    # "(other)" is among them: keep everything but the levels left out.
    left_out = [meta.conditions[k] for k in range(len(meta.labels)) if k not in chosen]
    return Condition(meta.column, "not_in", values=tuple(v for c in left_out for v in c.values))


def box_slice(result: DatapointsResult, box: dict[str, Any], base: SliceDefinition) -> SliceDefinition:
    """``base`` with the conditions of a box drawn on the chart (``{"x": [lo, hi], "y": [lo, hi]}`` in axis
    units, as the browser reports an interval selection): one condition per axis the box narrows (a condition
    on the same column is replaced). Raises AnalysisError when the box selects nothing a slice can say."""
    sd = base
    added = 0
    for meta, key in ((result.x, "x"), (result.y, "y")):
        bounds = box.get(key)
        if not bounds or len(bounds) != 2:
            continue
        cond = _axis_condition(meta, bounds[0], bounds[1])
        if cond is not None:
            sd = sd.with_condition(cond)
            added += 1
    if not added:
        raise AnalysisError(
            f"The box drawn on the chart narrows no column a slice can filter (received {box!r}); draw it across "
            f"fewer levels, or on an axis other than {title(OTHER_SCORE)}."
        )
    return sd


def clicked_position(points: list[dict[str, Any]] | None) -> int | None:
    """The row position of a clicked point (the browser's point selection: ``[{"position": …}]``), or None."""
    for p in points or []:
        pos = p.get("position") if isinstance(p, dict) else None
        if isinstance(pos, int | float) and not (isinstance(pos, float) and math.isnan(pos)):
            return int(pos)
    return None


def clicked_cell(cells: list[dict[str, Any]] | None) -> int | None:
    """The heat-map cell a click chose (``[{"cell": …}]``), or None."""
    for c in cells or []:
        cell = c.get("cell") if isinstance(c, dict) else None
        if isinstance(cell, int | float):
            return int(cell)
    return None


def has_score(scored: Scored) -> bool:
    """Whether the score pseudo-column exists (regression: the prediction; classification: probabilities or a
    score column)."""
    return scored.task == "regression" or scored.score is not None or scored.proba is not None


def axis_choices(scored: Scored, *, other: bool = False) -> list[str]:
    """What an axis can show: row order, score, loss, label, prediction, (time), (the other model's score),
    then every data column."""
    out = [ROW, SCORE, LOSS, LABEL, PREDICTION] if has_score(scored) else [ROW, LOSS, LABEL, PREDICTION]
    if scored.task != "regression":
        out.append(CORRECT)
    if scored.time is not None:
        out.append(TIME)
    if other:
        out.append(OTHER_SCORE)
    return out + [str(c) for c in scored.frame.columns]


def colour_choices(scored: Scored, *, other: bool = False, selected: bool = False) -> list[str | None]:
    """What the colour can show: label, prediction, correct, loss, score, (disagreement), (similarity), every
    data column, or nothing."""
    out: list[str | None] = [LABEL, PREDICTION]
    if scored.task != "regression":
        out.append(CORRECT)
    out += [LOSS, SCORE] if has_score(scored) else [LOSS]
    if other:
        out.append(DISAGREE)
    if selected:
        out.append(SIMILARITY)
    return [*out, *(str(c) for c in scored.frame.columns), None]
