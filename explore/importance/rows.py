"""Which rows the Importance page explains: the current slice (all rows when there is none, or when it cannot
be applied to the dataset), one row typed by its position, and what the model said about one row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explore.core.workspace import Scored
from explore.errors import AnalysisError, ExploreError
from explore.slices.definition import SliceDefinition

NOT_A_POSITION = (
    "This workspace has no id column, so rows are picked by position: type a whole number from 0 to {last:,}; "
    "received {received!r}."
)


@dataclass(frozen=True, eq=False)
class ExplainRows:
    """The rows a SHAP run samples from.

    ``slice`` is None for all rows: no slice was given, or it cannot be applied to this dataset (``problem``
    says why, e.g. it names a column the dataset lacks). ``mask`` selects the slice's scored rows (None: all);
    ``population`` counts the rows.
    """

    slice: SliceDefinition | None
    mask: np.ndarray | None
    population: int
    problem: str | None = None


def rows_to_explain(scored: Scored, sd: SliceDefinition | None) -> ExplainRows:
    """The rows of ``sd`` in ``scored``, or all rows when ``sd`` is None, empty or cannot be applied."""
    if sd is None or not sd.conditions:
        return ExplainRows(slice=None, mask=None, population=scored.n)
    try:
        mask = sd.mask(scored)
    except ExploreError as exc:  # the slice is fine, this dataset cannot take it: fall back to all rows
        return ExplainRows(slice=None, mask=None, population=scored.n, problem=str(exc))
    return ExplainRows(slice=sd, mask=mask, population=int(mask.sum()))


def parse_position(text: str, n_rows: int) -> int:
    """``text`` read as a row position (thousands separators allowed). Raises AnalysisError when it is not a
    whole number; the range is checked by ``explain.find_row``."""
    try:
        return int(text.strip().replace(",", ""))
    except ValueError:
        raise AnalysisError(NOT_A_POSITION.format(last=n_rows - 1, received=text)) from None


@dataclass(frozen=True)
class RowOutcome:
    """One scored row's true and predicted values as shown (regression: 4 significant digits), and the name
    of its predicted class ("" for regression or a row the model could not score)."""

    truth: str
    predicted: str
    predicted_class: str


def row_outcome(scored: Scored, position: int) -> RowOutcome:
    """What the model said about the scored row at ``position``, next to the truth."""
    if scored.task == "regression":
        return RowOutcome(
            truth=f"{scored.y[position]:.4g}", predicted=f"{scored.pred[position]:.4g}", predicted_class=""
        )
    pred = int(scored.pred[position])
    name = str(scored.classes[pred]) if scored.classes is not None and pred >= 0 else ""
    return RowOutcome(
        truth=str(scored.y_raw[position]),
        predicted=str(scored.classes[pred]) if pred >= 0 else "?",
        predicted_class=name,
    )
