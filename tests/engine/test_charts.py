"""The engine's chart builders take an EngineTable and draw its numbers: one mark per group / window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from explore.engine import EngineTable, by_columns, by_time_window, grouped_metrics
from explore.engine import charts as engine_charts
from explore.engine import drift as engine_drift
from tests.engine.test_metrics import pair  # noqa: F401  (the fixture)

FIRST_MONTH = "date_trunc('month', CAST(rows.\"when\" AS TIMESTAMP)) = TIMESTAMP '2024-01-01'"


def _data(chart) -> pd.DataFrame:
    spec = chart.to_dict()
    (rows,) = spec["datasets"].values()
    return pd.DataFrame(rows)


def test_the_group_chart_draws_each_group_of_the_result_with_its_label(pair):  # noqa: F811
    scored, log = pair
    result = EngineTable(*grouped_metrics(log, by_columns(log, ["city", "seg"])))
    metric = str(result.table["metric"].iloc[0])
    data = _data(engine_charts.metric_by_group_chart(result, metric))
    one = result.table[result.table["metric"] == metric]
    assert len(data) == len(one) == len(result.keys)
    # Each bar's label is its group's key values, cross-checked against pandas on the scored rows.
    frame = scored.frame.assign(seg=scored.frame["seg"].astype(str))
    sizes = frame.groupby(["city", "seg"]).size()
    for label, support in zip(data["group_label"], data["support"], strict=True):
        city, seg = label.split(" · ")
        assert sizes[(city, seg)] >= support > 0
    np.testing.assert_allclose(data["value"], one["value"], rtol=1e-12)


def test_the_time_chart_puts_each_window_start_under_its_metric(pair):  # noqa: F811
    _, log = pair
    result = EngineTable(*grouped_metrics(log, by_time_window(log, "month")))
    metric = str(result.table["metric"].iloc[-1])
    data = _data(engine_charts.metric_over_time_chart(result, metric))
    frame = result.to_frame()
    one = frame[frame["metric"] == metric].reset_index(drop=True)
    assert len(data) == len(result.keys)
    assert list(pd.to_datetime(data["window"])) == list(pd.to_datetime(one["window"]))
    np.testing.assert_allclose(data["value"], one["value"], rtol=1e-12)
    # Month windows ticked on months (Vega's own ticks fell on weeks between the points).
    x = engine_charts.metric_over_time_chart(result, metric).to_dict()["layer"][0]["encoding"]["x"]
    assert x["axis"]["tickCount"]["interval"] == "month" and x["axis"]["format"] == "%b %Y"


def test_the_drift_heat_map_has_one_cell_per_feature_and_window(pair):  # noqa: F811
    _, log = pair
    features = ["age", "city"]
    profile = engine_drift.reference_profile(log, features=features, where=FIRST_MONTH)
    keys, drift = engine_drift.drift_by_window(profile, log, by_time_window(log, "month"), features=features)
    result = EngineTable(keys, drift.table, code="window")
    data = _data(engine_charts.drift_heatmap(result, "distance"))
    assert len(data) == len(features) * len(keys)
    starts = pd.to_datetime(data["window_start"])
    assert list(starts) == list(pd.to_datetime(keys["window"].iloc[drift.table["window"]]))
    np.testing.assert_allclose(data["distance"], drift.table["distance"], rtol=1e-12)
    assert result.to_frame()["window"].equals(pd.Series(result.key("window"), name="window"))
