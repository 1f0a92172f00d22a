"""One datapoint in focus: finding it by the id a user typed, its true label and prediction, and the default
size of a change a regression counterfactual must make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from explore.core.row_ids import ids_hint
from explore.core.workspace import Scored
from explore.errors import AnalysisError

NO_ID_TYPED = "Type an id first."
UNKNOWN_ID = (
    "No row of dataset '{dataset}' has the id {received!r} in column '{column}' ({ids}). Type one of its ids, or "
    "choose the dataset that holds the row in the sidebar."
)
UNKNOWN_POSITION = (
    "No row of dataset '{dataset}' has the id {received!r} (ids are row positions 0 to {last:,})."
)


def found_row(scored: Scored, typed: str, position: int | None, *, id_column: str | None) -> int:
    """``position``, the row found for the id ``typed``; raises AnalysisError saying why when there is none.

    ``id_column``: the workspace's [columns] id (None: ids are row positions).
    """
    received = typed.strip()
    if not received:
        raise AnalysisError(NO_ID_TYPED)
    if position is not None:
        return int(position)
    if id_column:
        raise AnalysisError(
            UNKNOWN_ID.format(
                dataset=scored.dataset_name, received=received, column=id_column, ids=ids_hint(scored.ids)
            )
        )
    raise AnalysisError(
        UNKNOWN_POSITION.format(dataset=scored.dataset_name, received=received, last=scored.n - 1)
    )


@dataclass(frozen=True)
class DatapointOutcome:
    """A row's true label and the model's prediction, as the user's values: class values for classification
    (``prediction`` None when the model gave no class), numbers for regression."""

    truth: Any
    prediction: Any


def datapoint_outcome(scored: Scored, position: int) -> DatapointOutcome:
    """The true label and the prediction of the scored row at ``position``."""
    if scored.task == "regression":
        return DatapointOutcome(scored.y[position], scored.pred[position])
    code = scored.pred[position]
    return DatapointOutcome(scored.y_raw[position], scored.classes[code] if code >= 0 else None)


def counterfactual_min_change(scored: Scored) -> float:
    """Regression: by how much a counterfactual's prediction must differ by default — half the spread of the
    predictions (1.0 when they do not vary)."""
    return float(0.5 * np.nanstd(scored.pred)) or 1.0
