"""Slice definitions: masks, JSON and URL round-trips, and messages for bad slices."""

from __future__ import annotations

import numpy as np
import pytest

from explore.core.workspace import open_workspace, read_workspace, score
from explore.errors import AnalysisError
from explore.slices.definition import CORRECT, LABEL, PREDICTION, TIME, Condition, SliceDefinition
from tests.helpers import make_workspace


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    ws = open_workspace(read_workspace(make_workspace(tmp_path_factory.mktemp("ws"))))
    return score(ws, "validation")


def test_empty_slice_is_everything(scored):
    assert SliceDefinition().mask(scored).all()


def test_categorical_numeric_and_missing(scored):
    df = scored.frame
    s = SliceDefinition((Condition("city", "in", ("Nice",)), Condition("age", "range", lo=30, hi=50)))
    expected = (df["city"] == "Nice") & (df["age"] >= 30) & (df["age"] < 50)
    np.testing.assert_array_equal(s.mask(scored), expected.to_numpy())
    missing = SliceDefinition((Condition("hours", "in", (None,)),))
    np.testing.assert_array_equal(missing.mask(scored), df["hours"].isna().to_numpy())
    not_in = SliceDefinition((Condition("city", "not_in", ("Nice", "Lyon")),))
    np.testing.assert_array_equal(not_in.mask(scored), (df["city"] == "Paris").to_numpy())
    closed = SliceDefinition((Condition("age", "range", lo=None, hi=79, hi_inclusive=True),))
    np.testing.assert_array_equal(closed.mask(scored), (df["age"] <= 79).to_numpy())


def test_pseudo_columns(scored):
    pos = scored.classes[1]
    m = SliceDefinition((Condition(LABEL, "in", (pos,)),)).mask(scored)
    np.testing.assert_array_equal(m, scored.y == 1)
    m = SliceDefinition((Condition(PREDICTION, "in", (pos,)),)).mask(scored)
    np.testing.assert_array_equal(m, scored.pred == 1)
    m = SliceDefinition((Condition(CORRECT, "in", (False,)),)).mask(scored)
    np.testing.assert_array_equal(m, scored.pred != scored.y)
    lo = scored.time.iloc[10].isoformat()
    m = SliceDefinition((Condition(TIME, "range", lo=lo),)).mask(scored)
    np.testing.assert_array_equal(m, (scored.time >= scored.time.iloc[10]).to_numpy())


def test_json_and_url_round_trip(scored):
    s = SliceDefinition(
        (Condition("city", "in", ("Nice", None)), Condition("age", "range", lo=np.float64(30.5), hi=50)),
        name="x",
    )
    back = SliceDefinition.from_json(s.to_json())
    assert back == SliceDefinition(
        (Condition("city", "in", ("Nice", None)), Condition("age", "range", lo=30.5, hi=50)), name="x"
    )
    assert SliceDefinition.from_query_param(s.to_query_param()) == back
    np.testing.assert_array_equal(back.mask(scored), s.mask(scored))
    assert "city ∈ {'Nice', missing}" in s.describe()


def test_bad_slices_have_messages(scored):
    with pytest.raises(AnalysisError, match="not valid JSON"):
        SliceDefinition.from_json("{")
    with pytest.raises(AnalysisError, match="malformed"):
        SliceDefinition.from_dict({"conditions": [{"column": "a", "op": "like"}]})
    with pytest.raises(AnalysisError, match="could not be decoded"):
        SliceDefinition.from_query_param("%%%")
    with pytest.raises(AnalysisError, match="does not have"):
        SliceDefinition((Condition("nope", "in", ("x",)),)).mask(scored)


def test_values_saved_as_text_still_match(scored):
    ids = scored.frame["row_id"]
    m = SliceDefinition((Condition("row_id", "in", (str(ids.iloc[0]),)),)).mask(scored)
    assert m.sum() == 1


def test_number_labels_never_name_two_numbers_alike():
    from explore.slices.definition import number_labels

    assert number_labels([20230400, 20230600]) == ["20230400", "20230600"]  # not '2.02e+07' twice
    assert number_labels([85.105, 85.11, 85.2]) == ["85.105", "85.11", "85.2"]
    assert number_labels([0.0, 1.5, 1e-5]) == ["0", "1.5", "1e-05"]


def test_a_long_value_is_cut_in_the_description_but_kept_in_the_definition():
    from explore.core.chart_data import chart_text

    long = "z" * (10 << 20)
    sd = SliceDefinition((Condition("note", "in", (long, "red")),))
    text = sd.describe()
    assert len(text) < 400 and repr(chart_text(long)) in text and "'red'" in text
    assert SliceDefinition.from_json(sd.to_json()).conditions[0].values[0] == long
