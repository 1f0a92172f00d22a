"""The current slice against the rest and all rows: its rows, the three row sets compared, and the per-group
table of one metric (what the Slices page shows above and in its Groups view)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from explore.core.workspace import Scored

from .definition import SliceDefinition

GroupSort = Literal["gap", "value", "support"]


@dataclass(frozen=True)
class SliceRows:
    """A slice evaluated on one scored dataset: ``mask`` (bool, one per scored row) and the counts."""

    definition: SliceDefinition
    mask: np.ndarray

    @property
    def conditions_only(self) -> SliceDefinition:
        """The slice without its name: what analyses of its rows depend on."""
        return SliceDefinition(self.definition.conditions)

    @property
    def n_rows(self) -> int:
        return int(self.mask.sum())

    @property
    def n_total(self) -> int:
        return len(self.mask)


def slice_rows(scored: Scored, definition: SliceDefinition) -> SliceRows:
    """``definition`` evaluated on ``scored``. Raises AnalysisError when a condition cannot be applied."""
    return SliceRows(definition, definition.mask(scored))


def comparison_sets(mask: np.ndarray, *, non_empty: bool = False) -> dict[str, np.ndarray]:
    """``{"slice": mask, "rest": ~mask, "all rows": every row}``; with ``non_empty``, without the empty ones."""
    mask = np.asarray(mask, dtype=bool)
    sets = {"slice": mask, "rest": ~mask, "all rows": np.ones(len(mask), dtype=bool)}
    return {name: rows for name, rows in sets.items() if rows.any()} if non_empty else sets


def positives_in(scored: Scored, mask: np.ndarray) -> int:
    """Binary classification: how many rows of ``mask`` are truly of the positive class."""
    return int((scored.y[mask] == scored.positive_index).sum())


def single_true_class(scored: Scored, mask: np.ndarray) -> Any | None:
    """Classification: the one true class of every row of ``mask`` when they all share it, else None."""
    codes = np.unique(scored.y[mask])
    return scored.classes[codes[0]] if len(codes) == 1 else None


def metric_by_group(by_group: pd.DataFrame, metric: str, sort: GroupSort) -> pd.DataFrame:
    """The rows of a ``SliceReport.by_group`` table for ``metric``, sorted by ``sort``: gap and value
    ascending (worst first for higher-is-better metrics), support descending; ties keep their order."""
    rows = by_group[by_group["metric"] == metric]
    return rows.sort_values(sort, kind="stable", ascending=sort != "support")


def group_names(rows: pd.DataFrame, label_columns: Sequence[str]) -> dict[int, str]:
    """Group index → its text, the labels of ``label_columns`` joined by " · " (e.g. "tablet · one-year")."""
    return {int(r["group"]): " · ".join(str(r[c]) for c in label_columns) for _, r in rows.iterrows()}
