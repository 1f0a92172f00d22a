"""The Slices page's cached computations, keyed by the objects themselves (``ui.cache``).

Slices are passed without their name (``SliceRows.conditions_only``): the numbers depend on the rows only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from explore.core.workspace import Scored
from explore.slices import columns, report
from explore.slices.comparison import comparison_sets
from explore.slices.definition import SliceDefinition
from ui.cache import cache_small

CONFIDENCE = 0.95  # of every interval on the page
EDITOR_OPTIONS = 100  # values offered for a categorical feature in the datapoint editor


@cache_small(max_entries=64)
def slice_report(
    scored: Scored, slice_def: SliceDefinition, by: tuple[str, ...], bins: int
) -> report.SliceReport:
    return report.slice_report(scored, slice_def, by=list(by), bins=bins, confidence=CONFIDENCE)


@cache_small(max_entries=64)
def column_info(scored: Scored, column: str) -> columns.ColumnInfo:
    return columns.column_info(scored, column)


@cache_small(max_entries=16)
def worst_rows(scored: Scored, slice_def: SliceDefinition, n: int) -> pd.DataFrame:
    return report.worst_rows(scored, slice_def.mask(scored), n=n)


@cache_small(max_entries=16)
def fairness_gaps(
    scored: Scored,
    slice_def: SliceDefinition,
    column: str,
    threshold: float,
    positive: str | None,
    min_support: int,
) -> report.FairnessResult:
    return report.fairness_gaps(
        scored,
        column,
        threshold=threshold,
        positive=positive,
        slice_def=slice_def,
        min_support=min_support,
        confidence=CONFIDENCE,
    )


@cache_small(max_entries=256)
def editor_options(scored: Scored, feature: str) -> list[Any]:
    """The most frequent values of a categorical feature (missing as None), for the datapoint editor."""
    return columns.frequent_values(scored.frame[feature], limit=EDITOR_OPTIONS)


@cache_small(max_entries=16)
def curves(scored: Scored, slice_def: SliceDefinition, cls: Any) -> report.Curves:
    """ROC/PR curves of the slice, the rest and all rows (those with rows)."""
    return report.curves(scored, comparison_sets(slice_def.mask(scored), non_empty=True), cls=cls)
