"""Staleness charts drawn at a height their legends fit in."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from explore.core.chart_data import legend_height
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
