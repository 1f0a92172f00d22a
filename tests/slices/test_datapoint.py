"""explore.slices.datapoint: finding a typed id, a row's label and prediction, the counterfactual default."""

from __future__ import annotations

import numpy as np
import pytest

from explore.errors import AnalysisError
from explore.slices import datapoint
from tests.slices.test_report import binary_scored
from tests.stats.test_metrics import make_scored


def test_found_row_returns_the_position_found() -> None:
    assert datapoint.found_row(binary_scored(), " C12 ", 12, id_column="customer_id") == 12


def test_found_row_asks_for_an_id_when_none_was_typed() -> None:
    with pytest.raises(AnalysisError) as err:
        datapoint.found_row(binary_scored(), "   ", 3, id_column="customer_id")
    assert str(err.value) == datapoint.NO_ID_TYPED


def test_an_unknown_id_names_the_id_column_and_ids_there_are() -> None:
    """The message shows which ids the dataset has (found by the QA round: an id of the training data typed on
    the validation data got "Check the id", with nothing to check it against)."""
    sc = binary_scored()
    with pytest.raises(AnalysisError) as err:
        datapoint.found_row(sc, " X9 ", None, id_column="customer_id")
    first = ", ".join(repr(str(i)) for i in sc.ids[:3])
    assert str(err.value) == (
        f"No row of dataset 'data' has the id 'X9' in column 'customer_id' (its 2,000 ids: {first} … "
        f"{str(sc.ids[-1])!r}). Type one of its ids, or choose the dataset that holds the row in the sidebar."
    )


def test_an_unknown_position_gives_the_range_of_positions() -> None:
    sc = binary_scored()
    with pytest.raises(AnalysisError) as err:
        datapoint.found_row(sc, "5000", None, id_column=None)
    assert str(err.value) == "No row of dataset 'data' has the id '5000' (ids are row positions 0 to 1,999)."


def test_classification_outcome_is_in_class_values() -> None:
    sc = binary_scored()
    out = datapoint.datapoint_outcome(sc, 7)
    assert out.truth == sc.y_raw[7]
    assert out.prediction == sc.classes[sc.pred[7]]


def test_a_row_without_a_predicted_class_has_no_prediction() -> None:
    y = np.array([0, 1, 1])
    pred = np.array([0, -1, 1])
    sc = make_scored("binary", y, pred, classes=["no", "yes"])
    assert datapoint.datapoint_outcome(sc, 1) == datapoint.DatapointOutcome("yes", None)


def test_regression_outcome_and_counterfactual_default() -> None:
    y = np.array([1.0, 2.0, 3.0])
    pred = np.array([1.5, 2.5, np.nan])
    sc = make_scored("regression", y, pred)
    assert datapoint.datapoint_outcome(sc, 1) == datapoint.DatapointOutcome(2.0, 2.5)
    assert datapoint.counterfactual_min_change(sc) == pytest.approx(0.5 * np.std([1.5, 2.5]))
    flat = make_scored("regression", y, np.array([2.0, 2.0, 2.0]))
    assert datapoint.counterfactual_min_change(flat) == 1.0
