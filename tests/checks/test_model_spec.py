"""explore/checks/model_spec.py: a fit runs, the loss decreases over stages, a relaxed copy memorises a tiny sample."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from explore.checks import model_spec
from explore.errors import AnalysisError
from tests.checks.test_compare import table_workspace
from tests.helpers import FEATURES, frame


def pipe(est, task: str = "binary") -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["age", "hours"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["city"],
            ),
        ]
    )
    return Pipeline([("prep", prep), ("model", est)])


def _ws(model, task: str = "binary"):
    from threadpoolctl import threadpool_limits

    df = frame(500, task=task)
    with threadpool_limits(limits=1):  # HGB on 400 rows: OpenMP start-up costs more than it saves
        model.fit(df[FEATURES].iloc[:400], df["income"].iloc[:400])
    return table_workspace(
        {"train": df.iloc[:400], "validation": df.iloc[400:]},
        {"current": model},
        label="income",
        columns={"task": task},
    )


@pytest.mark.parametrize(
    ("est", "source"),
    [
        (GradientBoostingClassifier(n_estimators=30, random_state=0), "staged_predict_proba"),
        (HistGradientBoostingClassifier(max_iter=30, random_state=0), "staged_predict_proba"),
        (LogisticRegression(max_iter=200), "refits with growing max_iter"),
    ],
)
def test_spec_checks_pass_on_gb_hgb_and_logistic_regression(est, source):
    res = model_spec.spec_checks(_ws(pipe(est)), n_rows=150)
    status = {c.name: c.status for c in res.checks}
    assert status == {"a fit runs": "pass", "loss decreases": "pass", "memorises a tiny sample": "pass"}, (
        res.summary()
    )
    assert res.passed is True
    assert res.curve_source == source
    curve = res.curve["loss"].to_numpy()
    assert curve[-1] < curve[0]
    memorise = next(c for c in res.checks if c.name == "memorises a tiny sample")
    assert memorise.numbers["error"] <= memorise.numbers["floor"] + model_spec.MEMORISE_SLACK


def test_estimators_without_stages_are_not_applicable_for_the_loss_curve():
    res = model_spec.spec_checks(_ws(pipe(KNeighborsClassifier(n_neighbors=15))), n_rows=120)
    loss = next(c for c in res.checks if c.name == "loss decreases")
    assert (
        loss.status == model_spec.STATUS_NA and "KNeighborsClassifier exposes no training stages" in loss.text
    )
    memorise = next(c for c in res.checks if c.name == "memorises a tiny sample")
    assert memorise.status == model_spec.STATUS_PASS and memorise.numbers["relaxed"] == {"n_neighbors": 1}
    assert res.passed is True and res.curve.empty


def test_regression_hgb_memorises_and_its_loss_falls():
    res = model_spec.spec_checks(
        _ws(pipe(HistGradientBoostingRegressor(max_iter=25)), task="regression"), n_rows=150
    )
    assert res.passed is True
    memorise = next(c for c in res.checks if c.name == "memorises a tiny sample")
    assert memorise.numbers["r2"] >= 0.99


def test_a_pipeline_that_throws_its_inputs_away_cannot_memorise():
    blind = Pipeline(
        [
            ("prep", ColumnTransformer([("num", SimpleImputer(), ["age", "hours"])])),
            ("drop", FunctionTransformer(np.zeros_like)),
            ("model", GradientBoostingClassifier(n_estimators=10, random_state=0)),
        ]
    )
    res = model_spec.spec_checks(_ws(blind), n_rows=100)
    memorise = next(c for c in res.checks if c.name == "memorises a tiny sample")
    assert memorise.status == model_spec.STATUS_FAIL and "cannot memorise" in memorise.text
    assert res.passed is False


def test_a_ridge_on_one_hot_and_missing_indicators_memorises_its_tiny_sample():
    # Ridge after OneHotEncoder + SimpleImputer(add_indicator=True) (sklearn's diabetes with a text 'sex'): its
    # columns are not independent (one-hot groups sum to the intercept; an indicator with no missing value in
    # the tiny sample is all zeros), so "features + 1" rows could not be fitted exactly and the check failed.
    from sklearn.linear_model import Ridge

    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("num", SimpleImputer(strategy="median", add_indicator=True), ["age", "hours"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                    ]
                ),
            ),
            ("model", Ridge()),
        ]
    )
    df = frame(300, task="regression")
    df["income"] = np.random.default_rng(5).normal(
        size=len(df)
    )  # nothing to learn: only exact fits reach R² 1
    model.fit(df[FEATURES], df["income"])
    ws = table_workspace({"train": df}, {"current": model}, label="income", columns={"task": "regression"})
    res = model_spec.spec_checks(ws, n_rows=100)
    memorise = next(c for c in res.checks if c.name == "memorises a tiny sample")
    assert memorise.status == model_spec.STATUS_PASS, memorise.text
    assert memorise.numbers["r2"] >= 0.99


def test_a_fit_that_fails_is_reported_in_words():
    class Broken(GradientBoostingClassifier):
        def fit(self, X, y, sample_weight=None, monitor=None):
            raise ValueError("the solver exploded")

    model = pipe(GradientBoostingClassifier(n_estimators=5))
    ws = _ws(model)
    ws.models["current"] = pipe(Broken(n_estimators=5))  # a workspace whose model cannot be refitted
    res = model_spec.spec_checks(ws, n_rows=50)
    assert res.checks[0].status == model_spec.STATUS_FAIL and "the solver exploded" in res.checks[0].text
    assert res.passed is False


def test_bad_sample_size_and_predictions_only():
    ws = _ws(pipe(LogisticRegression()))
    with pytest.raises(AnalysisError, match="at least 20 rows"):
        model_spec.spec_checks(ws, n_rows=5)
    df = frame(100).assign(pred=">50K")
    with pytest.raises(AnalysisError, match="predictions-only"):
        model_spec.spec_checks(table_workspace({"train": df}, {}, label="income"))


def test_a_training_file_sorted_by_label_still_gives_a_tiny_sample_of_both_classes():
    # Files exported "ORDER BY label" are common; the sample keeps file order, so its first rows were one class
    # and the memorise check said "nothing to memorise" instead of testing the model.
    df = frame(500).sort_values("income", kind="stable").reset_index(drop=True)
    model = pipe(LogisticRegression(max_iter=200))
    model.fit(df[FEATURES], df["income"])
    ws = table_workspace({"train": df, "validation": df.iloc[::5]}, {"current": model}, label="income")
    res = model_spec.spec_checks(ws, n_rows=150)
    memorise = next(c for c in res.checks if c.name == "memorises a tiny sample")
    assert memorise.status == "pass", memorise.text
    assert memorise.numbers["rows"] >= 4


def test_alternating_order_puts_every_class_in_the_shortest_prefix():
    y = np.array(["b"] * 6 + ["a"] * 3 + ["c"])
    order = model_spec._alternating(y)
    assert sorted(order.tolist()) == list(range(len(y)))
    assert set(y[order[:3]]) == {"a", "b", "c"} and set(y[order[3:5]]) == {"a", "b"}
    assert list(y[order]).count("b") == 6
