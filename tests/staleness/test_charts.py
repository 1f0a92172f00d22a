"""Staleness charts drawn at a height their legends fit in."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from explore.core.chart_data import FIT_X, legend_height
from explore.core.workspace import Workspace
from explore.notebook import performance_over_time
from explore.staleness.charts import rates_chart


def test_a_ten_class_rate_chart_is_tall_enough_for_its_legends():
    """Ten classes and the label / prediction key did not fit in 280 px: the legend was cut at the seventh class."""
    rng = np.random.default_rng(0)
    n = 900
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = np.array([f"class {k}" for k in "ABCDEFGHIJ"])[
        np.clip(((X["a"] + 2) * 2.5).round(), 0, 9).astype(int)
    ]
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    when = pd.date_range("2024-01-01", periods=n, freq="3h")
    ws = Workspace.from_frames(
        model=model, datasets={"validation": X.assign(label=y, when=when)}, label="label", time="when"
    )
    pot = performance_over_time(ws, window="month").value
    spec = rates_chart(pot).to_dict()
    assert pot.rates["class"].nunique() == 10
    assert spec["height"] >= legend_height(10 + 4)


def test_class_legend_in_model_order_and_month_windows_ticked_on_months():
    """Found on a 12-class model with integer classes over nine months: the legend read 0, 1, 10, 2, … (text order),
    and Vega ticked the month windows on weeks ("Jan 07", "Feb 04"), between the points."""
    from explore.importance.charts import importance_bars
    from explore.notebook import explain
    from explore.staleness.charts import performance_chart, support_chart

    rng = np.random.default_rng(0)
    n = 2400
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = np.clip(((X["a"] + 2.5) * 2.4).round(), 0, 11).astype(int)
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(X, y)
    when = pd.date_range("2024-01-01", periods=n, freq="2h")  # Jan 1 … Jul 15: seven month windows
    ws = Workspace.from_frames(
        model=model, datasets={"validation": X.assign(label=y, when=when)}, label="label", time="when"
    )
    pot = performance_over_time(ws, window="month").value
    order = [str(c) for c in model.classes_]
    assert order[:3] == ["0", "1", "2"] and "10" in order
    rates = rates_chart(pot).to_dict()
    band, line = (layer["encoding"]["color"] for layer in rates["layer"])
    assert line["sort"] == order and band["legend"]["symbolOpacity"] == 1  # not the faint bands' opacity
    assert line["scale"]["scheme"] == "category20"  # 12 classes: no colour twice
    assert rates["autosize"] == FIT_X  # the legend (12 classes and the line key) beside the plot, not cut
    bars = importance_bars(explain(ws, sample_size=100).value).to_dict()
    assert (
        bars["encoding"]["color"]["sort"] == order
        and bars["encoding"]["color"]["scale"]["scheme"] == "category20"
    )
    for chart in (performance_chart(pot, pot.metrics[0]), support_chart(pot), rates_chart(pot)):
        spec = chart.to_dict()
        x = (spec.get("encoding") or spec["layer"][0]["encoding"])["x"]
        assert x["axis"]["tickCount"] == {"interval": "month", "step": 1} and x["axis"]["format"] == "%b %Y"
    # Equal-row windows start anywhere: Vega's own ticks.
    rows = performance_over_time(ws, rows=5).value
    assert "axis" not in performance_chart(rows, rows.metrics[0]).to_dict()["layer"][0]["encoding"]["x"]
