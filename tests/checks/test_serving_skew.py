"""explore/checks/serving_skew.py: planted training/serving mismatches and logged-vs-recomputed predictions are found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

from explore.checks import serving_skew
from explore.errors import AnalysisError, ExploreError
from tests.checks.test_compare import table_workspace
from tests.helpers import FEATURES, frame, pipeline

COLUMNS = {"id": "row_id", "time": "when"}


def _ws(task: str = "binary", **frames: pd.DataFrame):
    df = frame(600, task=task)
    model = pipeline(task).fit(df[FEATURES], df["income"])
    data = {"train": df, **frames} if frames else {"train": df, "serving": df.copy()}
    return table_workspace(data, {"current": model}, label="income", columns=COLUMNS)


def test_planted_feature_skew_is_counted_per_column_with_examples():
    df = frame(600)
    serving = df.copy()
    serving.loc[10:39, "hours"] += 2.5  # 30 rows computed differently at serving time
    serving.loc[100:104, "city"] = "Lille"  # 5 rows with another category
    serving.loc[200:202, "age"] = np.nan  # 3 rows missing only at serving
    serving = serving.sample(frac=1.0, random_state=0)  # another row order: rows are joined by id
    ws = _ws(train=df, serving=serving)
    res = serving_skew.feature_skew(ws, training="train", serving="serving")
    t = res.table.set_index("column")
    base_nan = int(df.loc[10:39, "hours"].isna().sum())  # a missing value stays missing (+2.5 on NaN is NaN)
    assert t.loc["hours", "mismatches"] == 30 - base_nan
    assert t.loc["hours", "max_abs_diff"] == pytest.approx(2.5)
    assert t.loc["city", "mismatches"] == 5 and t.loc["age", "mismatches"] == 3
    assert t.loc["age", "missing_only_serving"] == 3 and t.loc["age", "missing_only_training"] == 0
    assert t.loc["hours", "mismatch_rate"] == pytest.approx((30 - base_nan) / 600)
    assert res.passed is False and res.n_joined == 600
    ex = res.examples[res.examples["column"] == "city"]
    assert set(ex["serving"]) == {"Lille"} and set(ex["id"]) <= set(df.loc[100:104, "row_id"])
    # Tolerances: a tiny float difference is not skew.
    close = df.copy()
    close["hours"] = close["hours"] * (1 + 1e-9)
    assert serving_skew.feature_skew(_ws(train=df, serving=close), training="train", serving="serving").passed


def test_datasets_without_shared_ids_and_missing_id_column():
    df = frame(300)
    other = df.assign(row_id=df["row_id"] + 10_000)
    res = serving_skew.feature_skew(_ws(train=df, serving=other), training="train", serving="serving")
    assert res.passed is None and "share no ids" in res.summary()
    no_id = table_workspace({"a": df, "b": df}, {}, label="income", columns={"prediction": "income"})
    with pytest.raises(AnalysisError, match=r"\[columns\] id"):
        serving_skew.feature_skew(no_id, training="a", serving="b")
    dup = pd.concat([df, df.iloc[:2]], ignore_index=True)
    with pytest.raises(AnalysisError, match="duplicated ids"):
        serving_skew.feature_skew(_ws(train=df, serving=df), training="train", serving=dup)


def test_serving_log_with_ids_stored_as_floats_joins_integer_training_ids():
    # A serving log keeps ids as doubles (1001.0): it used to "share no ids" with the integer training ids,
    # so the skew check silently compared nothing.
    df = frame(300)
    serving = df.assign(row_id=df["row_id"].astype(float))
    serving.loc[5:9, "hours"] = 99.0
    res = serving_skew.feature_skew(_ws(train=df, serving=serving), training="train", serving="serving")
    assert res.n_joined == 300
    assert res.table.set_index("column").loc["hours", "mismatches"] == 5 and res.passed is False


def test_uploaded_serving_log_is_read_like_a_dataset(tmp_path):
    df = frame(200)
    data = df.to_csv(index=False).encode()
    log = serving_skew.read_serving_log("serving.csv", data)
    res = serving_skew.feature_skew(
        _ws(train=df, serving=df), training="train", serving=log, serving_name="the upload"
    )
    assert res.passed is True and res.serving == "the upload"
    with pytest.raises(ExploreError, match="The data file 'serving.xlsx' has the extension '.xlsx'"):
        serving_skew.read_serving_log("serving.xlsx", b"PK")


def test_shadow_check_finds_flipped_logged_classes():
    df = frame(600)
    model = pipeline("binary").fit(df[FEATURES], df["income"])
    pred = model.predict(df[FEATURES])
    logged = pred.copy()
    flipped = np.arange(0, 600, 40)  # 15 rows
    logged[flipped] = np.where(logged[flipped] == ">50K", "<=50K", ">50K")
    df = df.assign(served_prediction=logged)
    ws = table_workspace({"serving": df}, {"current": model}, label="income", columns=COLUMNS)
    assert serving_skew.logged_prediction_columns(ws, "serving") == ["served_prediction"]
    res = serving_skew.shadow_check(ws, dataset="serving", logged="served_prediction")
    assert res.kind == "class" and res.mismatches == 15 and res.n_compared == 600
    assert sorted(res.examples["row"]) == list(flipped)
    assert res.passed is False and "15 of 600" in res.summary()


def test_shadow_check_compares_scores_and_regression_values_within_tolerance():
    df = frame(400)
    model = pipeline("binary").fit(df[FEATURES], df["income"])
    p = model.predict_proba(df[FEATURES])[:, list(model.classes_).index(">50K")]
    noisy = p.copy()
    noisy[:7] += 0.01
    df = df.assign(score_logged=noisy)
    df.loc[50, "score_logged"] = np.nan  # not logged for one row
    ws = table_workspace(
        {"serving": df}, {"current": model}, label="income", columns={**COLUMNS, "positive": ">50K"}
    )
    res = serving_skew.shadow_check(ws, dataset="serving", logged="score_logged")
    assert res.kind == "score" and res.mismatches == 7 and res.n_missing_logged == 1
    assert res.max_abs_diff == pytest.approx(0.01, abs=1e-9)

    rdf = frame(300, task="regression")
    reg = GradientBoostingRegressor(n_estimators=10, random_state=0).fit(rdf[["age"]], rdf["income"])
    rdf = rdf.assign(pred_logged=reg.predict(rdf[["age"]]))
    rws = table_workspace(
        {"serving": rdf}, {"current": reg}, label="income", columns={**COLUMNS, "features": ["age"]}
    )
    ok = serving_skew.shadow_check(rws, dataset="serving", logged="pred_logged")
    assert ok.kind == "value" and ok.passed is True


def test_shadow_check_bad_input():
    df = frame(100)
    model = GradientBoostingClassifier(n_estimators=5).fit(df[["age"]], df["income"])
    ws = table_workspace(
        {"serving": df}, {"current": model}, label="income", columns={**COLUMNS, "features": ["age"]}
    )
    with pytest.raises(ExploreError, match="'nope' is not in dataset"):
        serving_skew.shadow_check(ws, dataset="serving", logged="nope")
    with pytest.raises(AnalysisError, match="kind must be one of"):
        serving_skew.shadow_check(ws, dataset="serving", logged="city", kind="guess")
    with pytest.raises(AnalysisError, match="does not hold numbers"):
        serving_skew.shadow_check(ws, dataset="serving", logged="city", kind="score")
