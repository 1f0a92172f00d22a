"""AppTest for the Slices page's Datapoints view: every row drawn with the chosen axes, colour and facets; the
selected datapoint and its counterfactual ringed; similarity colour; two model versions side by side."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from explore.slices import datapoints as dp
from explore.slices.definition import PREDICTION, SCORE
from tests.conftest import assert_no_exception, texts
from ui import state

PAGE = "views/slices.py"


def _frames(at) -> list:
    """The data frames of the page's Altair charts (decoded from Arrow)."""
    return [
        pa.ipc.open_stream(d.data.data).read_all().to_pandas()
        for chart in at.get("vega_lite_chart")
        for d in chart.proto.datasets
    ]


def _points(at):
    hits = [f for f in _frames(at) if "kind" in f.columns and "position" in f.columns]
    assert hits, "no datapoints chart"
    return hits[0]


def _open(make_app):
    at = make_app(PAGE)
    at.radio(key="slices_view").set_value("Datapoints").run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    return at


def test_every_row_drawn_and_axes_colour_facets_change(make_app) -> None:
    at = _open(make_app)
    pts = _points(at)
    drawn = pts[pts["kind"] == "point"]
    assert drawn["position"].is_unique and len(drawn) > 100
    assert np.array_equal(np.sort(drawn["position"]), np.arange(len(drawn)))  # all rows, no slice
    at.selectbox(key="slices_dp_x").set_value("tenure_months").run()
    at.selectbox(key="slices_dp_color").set_value(PREDICTION).run()
    at.selectbox(key="slices_dp_facet_row").set_value("contract").run()
    assert_no_exception(at)
    pts = _points(at)
    assert set(pts["facet_row"].dropna()) == {
        f"contract = {c}" for c in ("month-to-month", "one-year", "two-year")
    }
    assert set(pts["color"].dropna()) <= {"no", "yes"}
    assert (pts["x_text"].astype(float) == pts["x"]).all()


def test_selected_row_and_counterfactual_are_ringed_and_similarity_colours(make_app) -> None:
    at = _open(make_app)
    at.session_state[state.SELECTED_ROW] = {
        "dataset": at.session_state[state.DATASET],
        "position": 5,
        "id": None,
    }
    at.run()
    assert_no_exception(at)
    pts = _points(at)
    rings = pts[pts["kind"] == "highlight"]
    assert list(rings["role"]) == ["selected", "counterfactual"] and rings["position"].iloc[0] == 5
    assert any("Datapoint" in m.value for m in at.markdown)  # the editor opened below the chart
    at.selectbox(key="slices_dp_color").set_value(dp.SIMILARITY).run()
    assert_no_exception(at)
    pts = _points(at)
    dist = pts[pts["kind"] == "point"].set_index("position")["color"]
    assert dist[5] == 0 and dist.drop(5).min() >= 0


def test_two_models_score_against_score_and_their_disagreements(make_app) -> None:
    at = _open(make_app)
    at.selectbox(key="slices_dp_other").set_value("previous").run()
    at.button(key="slices_dp_two").click().run()
    assert_no_exception(at)
    assert at.selectbox(key="slices_dp_x").value == SCORE
    assert at.selectbox(key="slices_dp_y").value == dp.OTHER_SCORE
    pts = _points(at)
    assert pts["y"].between(0, 1).all() and "other_prediction" in pts.columns
    everyone = len(pts[pts["kind"] == "point"])
    at.checkbox(key="slices_dp_disagree").check().run()
    assert_no_exception(at)
    pts = _points(at)
    drawn = pts[pts["kind"] == "point"]
    assert 0 < len(drawn) < everyone and (drawn["prediction"] != drawn["other_prediction"]).all()
