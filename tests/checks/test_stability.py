"""explore/checks/stability.py: NaN/inf in inputs and outputs, probes, serving cost, banned features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LogisticRegression

from explore.checks import stability
from explore.errors import ExploreError
from tests.checks.test_compare import table_workspace
from tests.helpers import FEATURES, frame, pipeline


class DividingRegressor(RegressorMixin, BaseEstimator):
    """Predicts 1 / (age − 40.5): infinite at age 40.5 (never a whole number of years), NaN when age is missing."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> DividingRegressor:
        self.feature_names_in_ = np.asarray(["age"], dtype=object)
        self.n_features_in_ = 1
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / (X["age"].to_numpy(dtype="float64") - 40.5)


def test_nan_and_inf_outputs_are_counted_per_dataset():
    df = frame(300, task="regression")
    df.loc[:4, "age"] = 40.5  # five rows → inf
    df.loc[10:12, "age"] = np.nan  # three rows → NaN (and three missing inputs)
    clean = frame(200, task="regression", seed=1)
    ws = table_workspace(
        {"bad": df, "clean": clean},
        {"current": DividingRegressor().fit(df)},
        label="income",
        columns={"task": "regression", "features": ["age"]},
    )
    res = stability.numerical_stability(ws)
    out = res.outputs.set_index("dataset")
    assert out.loc["bad", "inf_outputs"] == 5 and out.loc["bad", "nan_outputs"] == 3
    assert out.loc["bad", "status"] == "fail" and out.loc["clean", "status"] == "pass"
    inputs = res.inputs.set_index(["dataset", "column"])
    assert inputs.loc[("bad", "age"), "nan"] == 3
    assert res.passed is False and "non-finite" in res.summary()
    probes = res.probes.set_index("probe")
    assert probes.loc["every feature missing", "status"] == "non-finite"
    assert probes.loc["age = +1e9", "status"] == "finite"


def test_probes_report_a_model_that_refuses_missing_values():
    df = frame(300).dropna()
    model = LogisticRegression().fit(df[["age", "hours"]], df["income"])
    ws = table_workspace(
        {"validation": df}, {"current": model}, label="income", columns={"features": ["age", "hours"]}
    )
    res = stability.numerical_stability(ws)
    assert res.passed is True  # its outputs on the data are finite probabilities summing to 1
    probes = res.probes.set_index("probe")
    assert probes.loc["every feature missing", "status"] == "error"
    assert "NaN" in probes.loc["every feature missing", "detail"]


def test_predictions_only_workspace_checks_the_logged_scores():
    df = frame(200).assign(p=np.linspace(0, 1, 200))
    df.loc[0, "p"] = np.nan
    ws = table_workspace({"v": df}, {}, label="income", columns={"score": "p", "positive": ">50K"})
    res = stability.numerical_stability(ws)
    assert res.outputs.iloc[0]["nan_outputs"] == 1 and res.passed is False
    assert res.probes.empty and any("probes need a model" in n for n in res.notes)


def test_rounded_logged_probabilities_are_not_flagged_as_not_summing_to_1():
    # Multiclass logs keep 5 decimals: 0.33333 × 3 = 0.99999 is rounding, not an invalid output.
    df = frame(90, task="multiclass")
    df["p_low"], df["p_mid"] = 0.33333, 0.33333
    df["p_high"] = 0.33333
    ws = table_workspace(
        {"v": df},
        {},
        label="income",
        columns={"scores": {"low": "p_low", "mid": "p_mid", "high": "p_high"}, "task": "multiclass"},
    )
    res = stability.numerical_stability(ws)
    assert res.outputs.iloc[0]["proba_not_summing_to_1"] == 0 and res.passed is True
    df.loc[0, "p_high"] = 0.5  # a row really not summing to 1 still fails
    ws = table_workspace(
        {"v": df},
        {},
        label="income",
        columns={"scores": {"low": "p_low", "mid": "p_mid", "high": "p_high"}, "task": "multiclass"},
    )
    assert stability.numerical_stability(ws).outputs.iloc[0]["proba_not_summing_to_1"] == 1


def test_logged_score_that_is_not_a_probability_is_only_checked_for_nan_and_inf():
    df = frame(200).assign(logit=np.linspace(-4, 4, 200))
    ws = table_workspace({"v": df}, {}, label="income", columns={"score": "logit", "positive": ">50K"})
    res = stability.numerical_stability(ws)
    assert res.outputs.iloc[0]["proba_outside_0_1"] == 0 and res.passed is True
    assert any("not a probability" in n for n in res.notes)
    df.loc[3, "logit"] = np.inf
    ws = table_workspace({"v": df}, {}, label="income", columns={"score": "logit", "positive": ">50K"})
    assert stability.numerical_stability(ws).outputs.iloc[0]["inf_outputs"] == 1


def test_serving_cost_measures_both_models_in_the_same_run():
    df = frame(400)
    big = pipeline().set_params(model__n_estimators=60).fit(df[FEATURES], df["income"])
    small = pipeline().set_params(model__n_estimators=5).fit(df[FEATURES], df["income"])
    ws = table_workspace({"validation": df}, {"current": big, "previous": small}, label="income")
    res = stability.serving_cost(ws, batch_sizes=(1, 50, 10_000), repeats=2, n_single=5)
    assert list(res.table["model"].unique()) == ["current", "previous"]
    assert sorted(res.table["batch_size"].unique()) == [1, 50, 400]  # capped at the dataset's rows
    assert any("largest batch is 400 rows" in n for n in res.notes)
    assert (res.table["seconds_per_batch"] > 0).all()
    np.testing.assert_allclose(
        res.table["ms_per_row"], 1000 * res.table["seconds_per_batch"] / res.table["batch_size"]
    )
    assert (res.table.dropna(subset=["peak_memory_mb"])["peak_memory_mb"] > 0).all()
    assert len(res.ratios) == 3 and res.ratios["latency_ratio"].gt(0).all()
    assert res.passed in (True, False)
    with pytest.raises(ExploreError, match="no model named .v9."):
        stability.serving_cost(ws, models=["current", "v9"])


def test_banned_features_match_inputs_and_derived_one_hot_names():
    df = frame(200).assign(Gender=np.where(np.arange(200) % 2, "f", "m"))
    model = pipeline().fit(df[FEATURES], df["income"])
    ws = table_workspace(
        {"v": df}, {"current": model}, label="income", checks={"banned_features": ["CITY", "gender"]}
    )
    res = stability.banned_features(ws)
    assert res.passed is False
    assert set(zip(res.found["banned"], res.found["feature"], res.found["how"], strict=True)) == {
        ("CITY", "city", "input feature")
    }
    derived = stability.banned_features(ws, banned=["Paris"])
    assert (
        set(derived.found["how"]) == {"derived feature"}
        and derived.found["feature"].str.contains("Paris").all()
    )
    assert stability.banned_features(ws, banned=["gender"]).passed is True
    none = stability.banned_features(table_workspace({"v": df}, {"current": model}, label="income"))
    assert none.passed is None and "[checks] banned_features" in none.summary()
