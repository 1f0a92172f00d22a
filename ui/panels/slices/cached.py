"""The Slices page's cached computations, keyed by the objects themselves (``ui.cache``).

Slices are passed without their name (``SliceRows.conditions_only``): the numbers depend on the rows only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from explore.core.workspace import Scored, Workspace
from explore.slices import columns, datapoints, report, whatif
from explore.slices.definition import SliceDefinition
from explore.staleness.estimation import population_scored
from ui.cache import cache_shared, cache_small

CONFIDENCE = 0.95  # of every interval on the page


@cache_small(max_entries=64)
def slice_report(
    scored: Scored, slice_def: SliceDefinition, by: tuple[str, ...], bins: int
) -> report.SliceReport:
    params = report.SliceReportParams(bins=bins, confidence=CONFIDENCE)
    return report.slice_report(scored, slice_def, by=list(by), params=params)


@cache_small(max_entries=64)
def column_info(scored: Scored, column: str) -> columns.ColumnInfo:
    return columns.column_info(scored, column)


@cache_small(max_entries=16)
def worst_rows(scored: Scored, slice_def: SliceDefinition, n: int) -> pd.DataFrame:
    return report.worst_rows(scored, slice_def, n=n)


@cache_shared(max_entries=8)
def population(ws: Workspace, scored: Scored) -> tuple[Scored, str]:
    """The dataset's rows in every row's class shares (an engine sample is drawn with equal shares) and the note
    saying so ("" when they are every row: an in-memory dataset)."""
    return population_scored(ws, scored)


@cache_small(max_entries=16)
def label_std(scored: Scored) -> float:
    """The label's standard deviation on the dataset's rows (a regressor's default fairness gap is a share of it)."""
    return report.label_std(scored)


@cache_small(max_entries=16)
def fairness_gaps(
    scored: Scored, slice_def: SliceDefinition, column: str, params: report.FairnessParams
) -> report.FairnessResult:
    return report.fairness_gaps(scored, column, params, slice_def=slice_def)


@cache_small(max_entries=256)
def editor_options(scored: Scored, feature: str) -> list[Any]:
    """Every level of a categorical feature, most frequent first, then missing (None), for the datapoint editor."""
    return columns.editor_levels(scored.frame[feature])


@cache_small(max_entries=16)
def curves(scored: Scored, slice_def: SliceDefinition, cls: Any) -> report.Curves:
    """ROC/PR curves of the slice, the rest and all rows (those with rows)."""
    return report.curves(scored, slice_def, cls=cls)


@cache_small(max_entries=32)
def datapoints_view(
    scored: Scored,
    slice_def: SliceDefinition,
    spec: datapoints.DatapointsSpec,
    region: datapoints.Region | None,
    other: Scored | None,
    only_disagree: bool,
    selected: int | None,
    counterfactual: int | None,
    norm: str,
) -> datapoints.DatapointsResult:
    """The slice's rows as the datapoints chart draws them (points, or heat-map cells beyond 5,000 rows)."""
    return datapoints.datapoints(
        scored,
        spec,
        slice_def=None if slice_def.is_everything else slice_def,
        region=region,
        other=other,
        only_disagree=only_disagree,
        selected=selected,
        counterfactual=counterfactual,
        norm=norm,
    )


@cache_small(max_entries=32)
def counterfactual(
    scored: Scored,
    ws: Workspace,
    model_name: str | None,
    position: int,
    norm: str,
    slice_def: SliceDefinition | None,
    delta: float | None,
) -> whatif.Counterfactual:
    """The nearest counterfactual of a row (among the slice's rows when ``slice_def`` is given), re-predicted by
    the model when there is one. The datapoint editor and the chart's ring share it: one search per click."""
    model = ws.models.get(model_name) if model_name else None
    return whatif.nearest_counterfactual(
        scored, position, model=model, norm=norm, delta=delta, slice_def=slice_def
    )
