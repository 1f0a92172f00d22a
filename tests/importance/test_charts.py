"""Importance charts drawn at a height their legends fit in."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from explore.core.chart_data import legend_height
from explore.core.workspace import Workspace
from explore.importance.charts import importance_bars
from explore.notebook import explain


def test_a_ten_class_importance_chart_is_tall_enough_for_its_legend():
    """Streamlit draws a chart at its spec's height, legend included: 10 classes in 120 px left the bars a line."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = np.array([f"class {k}" for k in "ABCDEFGHIJ"])[
        np.clip(((X["a"] + 2) * 2.5).round(), 0, 9).astype(int)
    ]
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X, y)
    ws = Workspace.from_frames(model=model, datasets={"validation": X.assign(label=y)}, label="label")
    expl = explain(ws, sample_size=200).value
    assert expl.n_outputs == 10
    spec = importance_bars(expl).to_dict()
    assert spec["height"] >= legend_height(10)
    assert len({r["class"] for r in next(iter(spec["datasets"].values()))}) == 10
