"""Importance charts (and the other charts sized in rows) drawn at a height their legends and rows fit in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from explore.core.chart_data import legend_height
from explore.core.workspace import Workspace
from explore.importance.charts import importance_bars
from explore.notebook import explain, scored


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


def test_charts_sized_in_rows_keep_their_height_for_the_plot():
    """Found on a 5-feature regression and a 4-feature multiclass model: Streamlit's default autosize ("fit")
    counts the title, axes and legend in the element's height, so the 120 px of a five-feature importance chart
    left the bars a line with their labels drawn over each other (the sample's fifteen features lost every other
    label). Charts whose height is counted in rows size the plot alone (autosize fit-x), at least 22 px a row."""
    from explore.core.chart_data import FIT_X
    from explore.importance.charts import beeswarm
    from explore.slices.charts import group_bars
    from explore.slices.report import slice_report

    rng = np.random.default_rng(1)
    X = pd.DataFrame({c: rng.normal(size=400) for c in ["a", "b", "c", "d", "e"]})
    X["group"] = rng.choice(["g1", "g2", "g3", "g4", "g5"], 400)
    y = X["a"] + X["b"] > 0
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(X[list("abcde")], y)
    ws = Workspace.from_frames(
        model=model, datasets={"validation": X.assign(label=y)}, label="label", features=list("abcde")
    )
    expl = explain(ws, sample_size=200).value
    report = slice_report(scored(ws), by=["group"])
    for chart, rows in [
        (importance_bars(expl), 5),
        (beeswarm(expl), 5),
        (group_bars(report, report.by_group["metric"].iloc[0]), 5),
    ]:
        spec = chart.to_dict()
        assert spec["autosize"] == FIT_X, spec.get("title")
        assert spec["height"] >= 22 * rows


def test_subsampled_beeswarm_and_dependence_keep_the_largest_shap_values():
    """Found on a random forest of a heavy-tailed price (a few prices 200 × the rest): 2,000 rows × 5 features
    were cut to 800 uniformly sampled rows per feature, which missed the few huge SHAP values — the beeswarm's
    axis ended at 7 million, the dependence plot of the same feature at 70 million."""
    from sklearn.ensemble import RandomForestRegressor

    from explore.importance.charts import beeswarm, dependence

    rng = np.random.default_rng(0)
    X = pd.DataFrame({c: rng.normal(size=1500) for c in "abcde"})
    y = np.exp(X["a"] * 2) + np.where(rng.random(1500) < 0.005, 1e4, 0.0)
    model = RandomForestRegressor(n_estimators=10, max_depth=8, random_state=0).fit(X, y)
    ws = Workspace.from_frames(model=model, datasets={"validation": X.assign(label=y)}, label="label")
    expl = explain(ws, sample_size=1500).value
    top = float(np.abs(expl.values[:, expl.feature_index("a"), 0]).max())
    for chart in (beeswarm(expl, max_points=500), dependence(expl, "a", max_points=300)):
        spec = chart.to_dict()
        rows = [r for d in spec["datasets"].values() for r in d if "shap" in r]
        shap_a = [abs(r["shap"]) for r in rows if r.get("feature", "a") == "a"]
        assert max(shap_a) == pytest.approx(top, rel=1e-4)
        assert len(shap_a) == (100 if "feature" in rows[0] else 300)


def test_beeswarm_draws_category_rows_in_grey_not_as_null_colours():
    """Found on an Adult-like pipeline (OneHotEncoder on education, sex, …): category rows had a null percentile in
    the quantitative colour field, and Vega-Lite's default (invalid values of a continuous scale are filtered) drew
    none of their dots — the top feature's row was empty. They are a layer of their own now, in grey."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from explore.importance.charts import NO_PERCENTILE_COLOR, beeswarm

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"edu": rng.choice(["HS", "BSc", "PhD"], 400), "age": rng.normal(40, 10, 400)})
    y = np.where((X["edu"] == "PhD") | (X["age"] > 50), ">50K", "<=50K")
    model = make_pipeline(
        ColumnTransformer([("cat", OneHotEncoder(), ["edu"])], remainder="passthrough"), LogisticRegression()
    ).fit(X, y)
    ws = Workspace.from_frames(model=model, datasets={"validation": X.assign(label=y)}, label="label")
    spec = beeswarm(explain(ws, sample_size=200).value).to_dict()
    coloured, grey = spec["layer"]
    assert grey["mark"]["color"] == NO_PERCENTILE_COLOR and "color" not in grey.get("encoding", {})
    assert coloured["encoding"]["color"]["field"] == "percentile"
    rows = next(iter(spec["datasets"].values()))
    edu = [r for r in rows if r["feature"] == "edu"]
    assert len(edu) == 200 and all(r["percentile"] is None for r in edu)  # the grey layer's rows
    assert all(r["percentile"] is not None for r in rows if r["feature"] == "age")
