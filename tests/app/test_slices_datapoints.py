"""AppTest for the Slices page's Datapoints view: every row drawn with the chosen axes, colour and facets; the
selected datapoint and its counterfactual ringed; similarity colour; two model versions side by side."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from explore.slices import datapoints as dp
from explore.slices.definition import PREDICTION, SCORE, TIME, Condition, SliceDefinition
from tests.conftest import assert_no_exception, texts, unescaped
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


def _rings(at) -> dict[str, object]:
    """The chart's rings: role ("selected", "counterfactual") → the row id drawn there."""
    pts = _points(at)
    rings = pts[pts["kind"] == "highlight"]
    return dict(zip(rings["role"], rings["id"].astype(str), strict=True))


def _editor(at) -> tuple[str, str]:
    """(the datapoint the editor opened, the counterfactual it found): the ids as the editor shows them."""
    text = "\n".join(m.value for m in at.markdown)
    opened = re.search(r"#### Datapoint `([^`]+)`", text)
    found = re.search(r"Row `([^`]+)` is predicted", text)
    assert opened and found, text[:2000]
    return opened.group(1), found.group(1)


def test_rings_follow_the_editor_on_the_same_run(make_app) -> None:
    """The chart and the editor are one fragment: opening the counterfactual, or changing the distance or the
    rows it is searched among, moves the chart's rings on the run that made the change (not the next one)."""
    at = _open(make_app)
    at.session_state[state.SELECTED_ROW] = {
        "dataset": at.session_state[state.DATASET],
        "position": 5,
        "id": None,
    }
    at.run()
    assert_no_exception(at)
    opened, cf = _editor(at)
    assert _rings(at) == {"selected": opened, "counterfactual": cf}
    said = f"Ringed on the chart: row `{opened}` (selected) and row `{cf}` (its nearest counterfactual)."
    assert said in [c.value for c in at.caption]  # in words too (what a browser test can read)

    at.button(key="slices_cf_open").click().run()  # open the counterfactual: it becomes the selected row
    assert_no_exception(at)
    opened2, cf2 = _editor(at)
    assert opened2 == cf and _rings(at) == {"selected": cf, "counterfactual": cf2}

    for change in (
        lambda: at.radio(key="slices_cf_norm").set_value("l1"),
        lambda: at.checkbox(key="slices_cf_in_slice").check(),
    ):
        change().run()
        assert_no_exception(at)
        opened3, cf3 = _editor(at)
        assert opened3 == cf and _rings(at) == {"selected": cf, "counterfactual": cf3}


def test_the_chart_and_the_editor_rerun_together() -> None:
    """What AppTest cannot show (it always reruns the whole script): in a browser an editor widget reruns only
    its fragment, so the Datapoints view must run the editor inside the chart's fragment, not in one of its
    own — else the rings wait for the next full run."""
    from ui.panels.slices import datapoints as panel
    from ui.panels.slices import rows

    source = inspect.getsource(panel.datapoints_section)
    assert source.lstrip().startswith("@st.fragment")
    assert "editor_body(ctx, focus)" in source and "datapoint_editor(" not in source
    assert not inspect.getsource(rows.editor_body).lstrip().startswith("@st.fragment")


def _texts(at) -> str:
    return "\n".join(
        unescaped(e.value)
        for kind in ("markdown", "caption", "error", "warning", "info")
        for e in at.get(kind)
    )


def _select(at, position: int) -> None:
    at.session_state[state.SELECTED_ROW] = {
        "dataset": at.session_state[state.DATASET],
        "position": position,
        "id": None,
    }
    at.run()
    assert_no_exception(at)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks_string_categories_and_missing_values(make_app, tmp_path: Path, task: str) -> None:
    """Multiclass and regression models on a dataset with string categories and missing values: the view
    draws every row, colours by prediction (three classes / a number), places a string axis on its levels,
    leaves out (and counts) the rows missing an axis value, and rings the selected row and its
    counterfactual."""
    from tests.helpers import make_workspace

    at = make_app(PAGE, workspace=make_workspace(tmp_path, task=task))
    at.radio(key="slices_view").set_value("Datapoints").run()
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]
    n = len(_points(at))
    at.selectbox(key="slices_dp_color").set_value(PREDICTION).run()
    pts = _points(at)
    if task == "multiclass":
        assert set(pts["color"]) <= {"low", "mid", "high"} and len(set(pts["color"])) > 1
    else:
        assert pd.api.types.is_float_dtype(pts["color"]) and pts["color"].nunique() > 10
    at.selectbox(key="slices_dp_x").set_value("city").run()
    assert_no_exception(at)
    pts = _points(at)
    assert set(pts["x_text"]) == {"Paris", "Lyon", "Nice"} and len(pts) == n
    assert ((pts["x"] - pts["x"].round()).abs() <= dp.JITTER).all()  # jittered around its level
    at.selectbox(key="slices_dp_x").set_value("hours").run()  # 10% missing
    assert_no_exception(at)
    missing = n - len(_points(at))
    assert missing > 0 and f"{missing:,} rows have no value on an axis and are not drawn." in _texts(at)
    at.selectbox(key="slices_dp_x").set_value("age").run()
    _select(at, 3)
    opened, cf = _editor(at)
    assert _rings(at) == {"selected": opened, "counterfactual": cf}
    if task == "regression":  # no "share misclassified" for a regression: count and mean loss only
        assert at.radio(key="slices_dp_stat").options == ["rows", "mean loss"]


WHEN = pd.date_range("2024-03-30", periods=4_000, freq="h", tz="Europe/Paris")  # across a DST change


def _odd_workspace(dest: Path) -> Path:
    """A binary workspace whose rows carry a constant column, an all-missing one, one with thousands of
    levels and a time column with UTC offsets (in two time zones)."""
    from tests.helpers import frame, make_workspace

    df = frame(4_000)
    df["flat"] = 7.0
    df["empty"] = np.nan
    df["code"] = [f"c{i}" for i in range(len(df))]
    when = WHEN[: len(df)]
    df["when"] = [
        t.isoformat() if i % 2 else t.tz_convert("America/New_York").isoformat() for i, t in enumerate(when)
    ]
    return make_workspace(dest, datasets={"train": df.iloc[:2_000], "validation": df.iloc[2_000:]})


def test_bad_inputs_draw_something_or_say_why(make_app, tmp_path: Path) -> None:
    """The issue's bad inputs on the page: a constant column is drawn and named constant; an all-missing
    column says there is nothing to place and to choose another; thousands of levels become the most frequent
    plus "(other)"; time zones are placed in UTC; a one-row slice draws its row alone."""
    at = make_app(PAGE, workspace=_odd_workspace(tmp_path))
    at.radio(key="slices_view").set_value("Datapoints").run()
    assert_no_exception(at)
    n = len(_points(at))

    at.selectbox(key="slices_dp_x").set_value("flat").run()
    assert_no_exception(at)
    assert len(_points(at)) == n and "flat is constant" in _texts(at)

    at.selectbox(key="slices_dp_x").set_value("empty").run()
    assert_no_exception(at)
    assert texts(at.error) == [dp.ALL_MISSING.format(column="empty", n=n, role="axis")]  # said, not drawn
    assert not at.get("vega_lite_chart") or not any("kind" in f.columns for f in _frames(at))

    at.selectbox(key="slices_dp_x").set_value("code").run()
    assert_no_exception(at)
    pts = _points(at)
    assert pts["x_text"].nunique() == dp.AXIS_LEVELS and "(other)" in set(pts["x_text"])
    assert "more than 29 levels" in _texts(at)

    at.selectbox(key="slices_dp_x").set_value(TIME).run()
    assert_no_exception(at)
    pts = _points(at)
    shown = set(pd.to_datetime(pts["x_text"]))  # ISO text in UTC, whichever zone a row was written in
    assert shown == set(WHEN[2_000:].tz_convert("UTC").tz_localize(None)) and len(pts) == n

    # The same columns as the colour and a facet: said or cut to the most frequent levels.
    at.selectbox(key="slices_dp_x").set_value("age").run()
    at.selectbox(key="slices_dp_color").set_value("empty").run()
    assert_no_exception(at)
    assert texts(at.error) == [dp.ALL_MISSING.format(column="empty", n=n, role="colour")]
    at.selectbox(key="slices_dp_color").set_value("code").run()
    at.selectbox(key="slices_dp_facet_col").set_value("code").run()
    assert_no_exception(at)
    pts = _points(at)
    assert pts["color"].nunique() == dp.COLOR_LEVELS and "(other)" in set(pts["color"])
    assert pts["facet_col"].nunique() == dp.FACET_LEVELS and "code = (other)" in set(pts["facet_col"])
    at.selectbox(key="slices_dp_facet_col").set_value(None).run()

    one = SliceDefinition((Condition("row_id", "range", lo=3_000, hi=3_000, hi_inclusive=True),))
    at.session_state[state.SLICE] = one.to_json()
    at.run()
    assert_no_exception(at)
    pts = _points(at)
    assert list(pts.loc[pts["kind"] == "point", "id"].astype(str)) == ["3000"]
    assert "One row in view: it is drawn alone." in _texts(at)
