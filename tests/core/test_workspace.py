"""workspace.toml parsing, opening a user's own workspace, scoring, and every bad input's message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.svm import LinearSVC

from explore import errors
from explore.core.workspace import open_workspace, read_workspace, score
from tests.helpers import BAD_INPUT_MESSAGES, FEATURES, bad_input_workspace, frame, make_workspace


def open_(path: Path, **kw):
    return open_workspace(read_workspace(path), **kw)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_user_csv_and_skops_pipeline_open_and_score(tmp_path, task):
    ws = open_(make_workspace(tmp_path, task=task))
    assert ws.task == task
    assert ws.feature_names == FEATURES
    sc = score(ws, "validation")
    df = ws.dataset("validation")
    model = ws.model()
    assert sc.n == len(df)
    if task == "regression":
        np.testing.assert_allclose(sc.pred, model.predict(df[FEATURES]))
        assert sc.proba is None
    else:
        np.testing.assert_array_equal(ws.classes[sc.pred], model.predict(df[FEATURES]))
        np.testing.assert_allclose(sc.proba, model.predict_proba(df[FEATURES]))
        assert accuracy_score(sc.y, sc.pred) == pytest.approx(
            accuracy_score(df["income"], model.predict(df[FEATURES]))
        )
        np.testing.assert_allclose(
            sc.row_loss.mean(),
            log_loss(df["income"], model.predict_proba(df[FEATURES]), labels=model.classes_),
        )
    assert sc.time is not None and sc.time.notna().all()
    np.testing.assert_array_equal(sc.ids, df["row_id"].to_numpy())


def test_binary_positive_class_and_score(tmp_path):
    ws = open_(make_workspace(tmp_path, columns={"label": "income", "positive": ">50K"}))
    assert ws.positive == ">50K"
    sc = score(ws, "validation")
    df = ws.dataset("validation")
    assert roc_auc_score(df["income"] == ">50K", sc.score) == pytest.approx(
        roc_auc_score(
            df["income"] == ">50K",
            ws.model().predict_proba(df[FEATURES])[:, list(ws.model().classes_).index(">50K")],
        )
    )


def test_predictions_only_mode(tmp_path):
    df = frame(200)
    df["p"] = np.linspace(0.01, 0.99, len(df))
    df["pred"] = np.where(df["p"] > 0.5, ">50K", "<=50K")
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"prod": df},
        columns={"label": "income", "prediction": "pred", "score": "p", "positive": ">50K"},
    )
    ws = open_(path)
    assert ws.models == {} and ws.task == "binary"
    sc = score(ws, "prod", None)
    np.testing.assert_allclose(sc.score, df["p"])
    assert (ws.classes[sc.pred] == df["pred"]).all()


def test_a_label_made_of_nul_characters_keeps_its_class(tmp_path):
    """numpy's str arrays drop trailing NULs, so the class list once held "" for the label "\\x00": that
    row's label was coded -1 and the Workspace page crashed in the confusion matrix (found by fuzzing)."""
    from explore.stats.metrics import overall_metrics

    df = pd.DataFrame(
        {"y": ["\x00", "a", "b", "a"], "f": [1.0, 2.0, 3.0, 4.0], "pred": ["a", "a", "b", "\x00"]}
    )
    path = make_workspace(
        tmp_path, model=None, datasets={"v": df}, columns={"label": "y", "prediction": "pred"}
    )
    ws = open_(path)
    assert "\x00" in ws.classes.tolist() and "" not in ws.classes.tolist()
    sc = score(ws, "v", None)
    assert (sc.y >= 0).all() and (ws.classes[sc.y] == df["y"]).all()
    m = overall_metrics(sc)
    assert float(m.loc[m["metric"] == "accuracy", "value"].iloc[0]) == pytest.approx(0.5)


def test_predictions_only_multiclass_scores(tmp_path):
    df = frame(150, task="multiclass")
    rng = np.random.default_rng(1)
    raw = rng.random((len(df), 3))
    raw /= raw.sum(axis=1, keepdims=True)
    for i, c in enumerate(["high", "low", "mid"]):
        df[f"p_{c}"] = raw[:, i]
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"d": df},
        columns={"label": "income", "scores": {c: f"p_{c}" for c in ["high", "low", "mid"]}},
    )
    ws = open_(path)
    sc = score(ws, "d", None)
    assert ws.task == "multiclass" and list(ws.classes) == ["high", "low", "mid"]
    np.testing.assert_allclose(sc.proba, raw)


def test_predictions_only_scores_keyed_by_integer_labels_add_no_phantom_classes(tmp_path):
    # TOML keys are text: scores = {"0" = "p0", …} for integer labels 0/1/2 used to make six classes
    # (0, "0", 1, "1", 2, "2") and macro metrics over phantom classes.
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 240)
    raw = rng.random((240, 3)) + np.eye(3)[y]
    raw /= raw.sum(axis=1, keepdims=True)
    df = pd.DataFrame({"x": rng.normal(size=240), "y": y, **{f"p{k}": raw[:, k] for k in range(3)}})
    df.loc[:4, "y"] = np.nan  # unlabelled rows: the label column is read as floats 0.0 / 1.0 / 2.0
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"d": df},
        columns={"label": "y", "scores": {str(k): f"p{k}" for k in range(3)}},
    )
    ws = open_(path)
    assert list(ws.classes) == [0.0, 1.0, 2.0] and ws.task == "multiclass"
    sc = score(ws, "d", None)
    np.testing.assert_allclose(sc.proba, raw[5:])
    assert (sc.y == y[5:]).all() and (sc.pred == raw[5:].argmax(axis=1)).all()


def test_float_labels_match_a_model_trained_on_text_classes(tmp_path):
    # A model fitted on "0"/"1" text labels; the CSV label column has a gap, so pandas reads 0.0 / 1.0.
    df = frame(300)
    y = (df["income"] == ">50K").astype(int).astype(str)
    model = LogisticRegression().fit(df[["age"]], y)
    df = df.assign(label=(df["income"] == ">50K").astype(float))
    df.loc[:3, "label"] = np.nan
    path = make_workspace(
        tmp_path, model=model, datasets={"d": df}, columns={"label": "label", "features": ["age"]}
    )
    ws = open_(path)
    sc = score(ws, "d")
    assert (sc.y >= 0).all(), "every label is a class of the model"
    assert sc.y.tolist() == df["label"].iloc[4:].astype(int).tolist()


def test_model_without_predict_proba_degrades(tmp_path):
    df = frame(300)
    X = pd.get_dummies(df[["age", "city"]], dtype=float)
    df2 = pd.concat([X, df["income"]], axis=1)
    svc = LinearSVC(random_state=0).fit(X, df["income"])
    path = make_workspace(tmp_path, model=svc, datasets={"d": df2}, columns={"label": "income"})
    ws = open_(path)
    sc = score(ws, "d")
    assert sc.proba is None and sc.score is not None
    assert "log loss" in sc.unavailable and "decision_function" in sc.unavailable["log loss"]


def test_regression_label_inferred_without_model(tmp_path):
    df = frame(100, task="regression")
    df["pred"] = df["income"] * 1.01
    ws = open_(
        make_workspace(
            tmp_path, model=None, datasets={"d": df}, columns={"label": "income", "prediction": "pred"}
        )
    )
    assert ws.task == "regression"


def test_unlabeled_rows_left_out(tmp_path):
    df = frame(200)
    holey = df.copy()
    holey.loc[:9, "income"] = np.nan
    ws = open_(make_workspace(tmp_path, datasets={"train": df, "other": holey}))
    sc = score(ws, "other")
    assert sc.n == 190 and sc.n_unlabeled == 10 and len(sc.time) == 190


def test_model_fitted_without_names_uses_numpy(tmp_path):
    df = frame(200, task="regression")[["age", "hours", "income"]].fillna(0)
    est = LinearRegression().fit(df[["age", "hours"]].to_numpy(), df["income"])
    ws = open_(make_workspace(tmp_path, model=est, datasets={"d": df}, columns={"label": "income"}))
    sc = score(ws, "d")
    np.testing.assert_allclose(sc.pred, est.predict(df[["age", "hours"]].to_numpy()))


# ---- bad input: each gets its message ------------------------------------------------------------------


def test_unknown_key_names_key_and_section(tmp_path):
    path = make_workspace(tmp_path, columns={"label": "income", "lable": "x"})
    with pytest.raises(errors.WorkspaceError, match=r"unknown key 'lable' in section \[columns\]"):
        read_workspace(path)


def test_wrong_type_names_key(tmp_path):
    path = make_workspace(tmp_path, columns={"label": 3})
    with pytest.raises(
        errors.WorkspaceError, match=r"'label' in section \[columns\] must be a string; received 3"
    ):
        read_workspace(path)


def test_unknown_section(tmp_path):
    path = make_workspace(tmp_path, extra_sections={"colums": {"a": "b"}})
    with pytest.raises(errors.WorkspaceError, match=r"unknown section \[colums\]"):
        read_workspace(path)


def test_bad_toml_syntax(tmp_path):
    (tmp_path / "workspace.toml").write_text("[columns\nlabel = 'x'")
    with pytest.raises(errors.WorkspaceError, match="not valid TOML"):
        read_workspace(tmp_path / "workspace.toml")


def test_missing_workspace_file(tmp_path):
    with pytest.raises(errors.WorkspaceError, match="does not exist"):
        read_workspace(tmp_path / "nope.toml")


def test_missing_label_key(tmp_path):
    path = make_workspace(tmp_path, columns={"time": "when"})
    with pytest.raises(errors.WorkspaceError, match="missing the required key 'label'"):
        read_workspace(path)


def test_label_column_missing(tmp_path):
    with pytest.raises(errors.LabelError, match="label column 'target' is not in dataset 'train'"):
        open_(make_workspace(tmp_path, columns={"label": "target"}))


def test_label_all_nan(tmp_path):
    df = frame(100)
    df["income"] = np.nan
    with pytest.raises(errors.LabelError, match="has no values"):
        open_(
            make_workspace(
                tmp_path, model=None, datasets={"d": df}, columns={"label": "income", "prediction": "city"}
            )
        )


def test_single_class_label(tmp_path):
    df = frame(100)
    df["income"] = "<=50K"
    df["pred"] = "<=50K"
    with pytest.raises(errors.LabelError, match="single class"):
        open_(
            make_workspace(
                tmp_path, model=None, datasets={"d": df}, columns={"label": "income", "prediction": "pred"}
            )
        )


def test_positive_class_not_among_labels(tmp_path):
    with pytest.raises(errors.LabelError, match=r"positive class 'yes' is not among the labels"):
        open_(make_workspace(tmp_path, columns={"label": "income", "positive": "yes"}))


def test_model_expects_missing_columns_named(tmp_path):
    df = frame(300)
    path = make_workspace(tmp_path, datasets={"train": df, "valid": df.drop(columns=["hours", "city"])})
    with pytest.raises(errors.ColumnError, match=r"lacks 2 of them: 'hours', 'city'"):
        open_(path)


def test_dtype_the_model_cannot_take(tmp_path):
    df = frame(200)
    X = df[["age", "hours"]].fillna(0)
    est = LogisticRegression().fit(X, df["income"])
    bad = df.copy()
    bad["age"] = "old"
    ws = open_(
        make_workspace(
            tmp_path,
            model=est,
            datasets={"train": df, "bad": bad},
            columns={"label": "income", "features": ["age", "hours"]},
        )
    )
    with pytest.raises(errors.ModelError, match=r"could not predict on dataset 'bad'.*'age'"):
        score(ws, "bad")


def test_unparseable_time(tmp_path):
    df = frame(100)
    df["when"] = "not a date"
    with pytest.raises(errors.TimeColumnError, match=r"could not be parsed as dates: 100 of 100"):
        open_(make_workspace(tmp_path, datasets={"d": df}))


def test_duplicate_ids(tmp_path):
    df = frame(100)
    df.loc[5, "row_id"] = df.loc[6, "row_id"]
    with pytest.raises(errors.DataError, match=r"id column 'row_id' of dataset 'd' has 1 duplicated values"):
        open_(make_workspace(tmp_path, datasets={"d": df}))


def test_several_rows_without_an_id_are_named_as_missing_not_as_0_duplicates(tmp_path):
    # Two empty ids used to read "has 0 duplicated values (e.g. nan)".
    df = frame(100)
    df["row_id"] = df["row_id"].astype(float)
    df.loc[[3, 8], "row_id"] = np.nan
    with pytest.raises(
        errors.DataError, match=r"id column 'row_id' of dataset 'd' is empty on 2 rows \(row positions 3, 8\)"
    ):
        open_(make_workspace(tmp_path, datasets={"d": df}))


def test_a_model_refusing_missing_values_names_the_columns_that_have_them(tmp_path):
    df = frame(200)  # 'hours' is missing on ~10 % of rows
    est = LogisticRegression().fit(df[["age", "hours"]].dropna(), df.dropna()["income"])
    ws = open_(
        make_workspace(
            tmp_path, model=est, datasets={"d": df}, columns={"label": "income", "features": ["age", "hours"]}
        )
    )
    n_missing = int(df["hours"].isna().sum())
    with pytest.raises(
        errors.ModelError,
        match=rf"contains NaN\. The model does not accept missing values.*'hours' \({n_missing} rows\)",
    ) as info:
        score(ws, "d")
    assert ".." not in str(info.value)


def test_task_regression_on_a_classifier_or_text_labels_is_refused_with_the_fix(tmp_path):
    # task = "regression" on a classifier with string classes used to crash scoring with a raw
    # "ValueError: could not convert string to float: '>50K'" on the Workspace page.
    with pytest.raises(errors.LabelError, match=r'task = "regression" but model \'current\' is a classifier'):
        open_(make_workspace(tmp_path / "clf", columns={"label": "income", "task": "regression"}))
    df = frame(200)
    est = LinearRegression().fit(df[["age"]], df["age"] * 2)
    with pytest.raises(
        errors.LabelError,
        match=r"holds text on 200 of 200 rows \(e\.g\. '<=50K', '>50K'|holds text on 200 of 200 rows \(e\.g\. '>50K', '<=50K'",
    ):
        open_(
            make_workspace(
                tmp_path / "reg",
                model=est,
                datasets={"d": df},
                columns={"label": "income", "features": ["age"]},
            )
        )


def test_decision_function_score_points_to_the_positive_class_when_it_is_the_first(tmp_path):
    # An SVC-like model (no predict_proba) with positive = the first class in sorted order: decision_function
    # scores classes_[1], so ROC AUC came out as 1 - AUC (0.03 instead of 0.97) and curves were inverted.
    df = frame(400)
    X = pd.get_dummies(df[["age", "city"]], dtype=float)
    df2 = pd.concat([X, df["income"]], axis=1)
    svc = LinearSVC(random_state=0).fit(X, df["income"])
    ws = open_(
        make_workspace(
            tmp_path, model=svc, datasets={"d": df2}, columns={"label": "income", "positive": "<=50K"}
        )
    )
    sc = score(ws, "d")
    assert ws.positive == "<=50K" and sc.positive_index == 0
    y_pos = df2["income"] == "<=50K"
    np.testing.assert_allclose(sc.score, -svc.decision_function(X))
    assert roc_auc_score(y_pos, sc.score) > 0.5


def test_inf_values(tmp_path):
    df = frame(100)
    bad = df.copy()
    bad.loc[3, "hours"] = np.inf
    with pytest.raises(errors.DataError, match=r"Dataset 'd' contains infinite values in 'hours' \(1 rows\)"):
        open_(make_workspace(tmp_path, datasets={"train": df, "d": bad}))


def test_label_values_the_model_never_saw(tmp_path):
    df = frame(200)
    other = df.copy()
    other.loc[:3, "income"] = "unknown"
    with pytest.raises(errors.LabelError, match="values the model never saw: 'unknown'"):
        open_(make_workspace(tmp_path, datasets={"train": df, "other": other}))


def test_label_values_written_differently_from_the_classes_are_named_with_the_fix(tmp_path):
    # Adult's files: ' <=50K' (read with the space after the comma) and '>50K.' (its test file) beside the
    # model's classes '<=50K' / '>50K'. The message used to say only "relabel the data".
    df = frame(200).assign(income=lambda d: d["income"].map({">50K": ">50K", "<=50K": "<=50K"}))
    other = df.copy()
    other.loc[:3, "income"] = ">50K."
    other.loc[4:6, "income"] = " <=50K"
    with pytest.raises(errors.LabelError) as info:
        open_(make_workspace(tmp_path, datasets={"train": df, "test": other}))
    text = str(info.value)
    assert "never saw: '>50K.', ' <=50K' (in dataset 'test')" in text
    assert "'>50K.' is '>50K' with a trailing '.'; ' <=50K' is '<=50K' with spaces around it" in text
    assert "df['income'] = df['income'].str.strip().str.rstrip('.')" in text


def test_a_class_the_model_never_saw_says_every_such_row_would_count_as_wrong(tmp_path):
    df = frame(200)
    other = df.copy()
    other.loc[:3, "income"] = "unknown"
    with pytest.raises(errors.LabelError) as info:
        open_(make_workspace(tmp_path, datasets={"train": df, "other": other}))
    assert "every such row would count as wrong: leave these rows out of the data file" in str(info.value)
    assert "(in dataset 'other')" in str(info.value) and "looks like" not in str(info.value)


def test_no_model_and_no_predictions(tmp_path):
    path = make_workspace(tmp_path, model=None, columns={"label": "income"})
    with pytest.raises(errors.WorkspaceError, match="neither a \\[model\\] nor prediction columns"):
        read_workspace(path)


def test_dataset_file_missing(tmp_path):
    path = make_workspace(tmp_path)
    (tmp_path / "validation.csv").unlink()
    with pytest.raises(errors.DataError, match="validation.csv' does not exist"):
        open_(path)


class _InHouseWrapper:
    """A model wrapper that does not inherit sklearn's BaseEstimator (no __sklearn_tags__)."""

    def __init__(self, inner):
        self.inner = inner
        self.classes_ = inner.classes_
        self.feature_names_in_ = inner.feature_names_in_

    def predict(self, X):
        return self.inner.predict(X)

    def predict_proba(self, X):
        return self.inner.predict_proba(X)


def test_model_wrapper_without_base_estimator_opens(tmp_path):
    df = frame(300)
    inner = LogisticRegression().fit(df[["age"]], df["income"])
    import joblib

    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"d": df},
        columns={"label": "income", "features": ["age"]},
        extra_sections={},
    )
    joblib.dump(_InHouseWrapper(inner), tmp_path / "m.joblib")
    path.write_text('[model]\npath = "m.joblib"\ntrust_pickle = true\n' + path.read_text())
    ws = open_(path)
    assert ws.task == "binary"
    sc = score(ws, "d")
    np.testing.assert_allclose(sc.proba, inner.predict_proba(df[["age"]]))


# ---- the five bad inputs that raised something other than an ExploreError (issue 19) ------------------


def _bad_input_error(tmp_path: Path, kind: str) -> errors.ExploreError:
    """Open and score every dataset of the bad workspace; return the one ExploreError it must raise."""
    with pytest.raises(errors.ExploreError) as info:
        ws = open_workspace(read_workspace(bad_input_workspace(tmp_path, kind)))
        assert score(ws, "train").n == 300  # the good dataset still scores
        score(ws, "validation")
    for part in BAD_INPUT_MESSAGES[kind]:
        assert part in str(info.value)
    return info.value


def test_numeric_feature_holding_strings_in_one_dataset_names_the_column_and_the_text(tmp_path):
    err = _bad_input_error(tmp_path, "text_in_numeric_feature")
    assert isinstance(err, errors.ModelError) and "'city'" not in str(err)  # city is a real category


def test_feature_with_values_near_1e308_names_the_column_beyond_float32(tmp_path):
    err = _bad_input_error(tmp_path, "feature_near_1e308")
    assert isinstance(err, errors.ModelError) and "'city'" not in str(err)


def test_nans_in_a_feature_of_a_model_without_an_imputer_name_the_column(tmp_path):
    assert isinstance(_bad_input_error(tmp_path, "nan_without_imputer"), errors.ModelError)


def test_predictions_only_score_column_holding_text_is_a_data_error_at_open(tmp_path):
    with pytest.raises(errors.DataError, match="100 of 100 values are text"):
        open_workspace(read_workspace(bad_input_workspace(tmp_path, "text_score")))
    _bad_input_error(tmp_path / "again", "text_score")


def test_predictions_only_score_column_of_numbers_written_as_text_still_scores(tmp_path):
    df = frame(200)
    df["pred"] = ">50K"
    df["score"] = [f"{v:.3f}" for v in np.linspace(0, 1, len(df))]  # "0.125": text that reads as a number
    df.loc[3, "score"] = None
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"v": df},
        columns={"label": "income", "prediction": "pred", "score": "score"},
    )
    sc = score(open_workspace(read_workspace(path)), "v")
    assert sc.score[1] == pytest.approx(1 / 199, abs=1e-3) and np.isnan(sc.score[3])


def test_data_file_that_is_a_symlink_loop_is_a_workspace_error(tmp_path):
    assert isinstance(_bad_input_error(tmp_path, "symlink_loop"), errors.WorkspaceError)


def test_a_dangling_symlink_as_data_file_names_its_target(tmp_path):
    from explore.core.loading import read_table

    link = tmp_path / "data.csv"
    link.symlink_to(tmp_path / "gone.csv")
    with pytest.raises(errors.DataError, match="symbolic link to .*gone.csv"):
        read_table(link)
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(errors.DataError, match="symlink loop"):
        read_table(loop)


# ---- found by tests/core/test_fuzz.py -----------------------------------------------------------------


def test_label_column_with_inf_and_missing_values_opens_without_a_warning(tmp_path):
    df = pd.DataFrame({"label": [None, 0.5, np.inf, 1.5], "pred": [0.4, 0.6, 1.0, 1.4]})
    df.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "workspace.toml").write_text(
        '[columns]\nlabel = "label"\nprediction = "pred"\n[datasets]\nv = "d.csv"\n', encoding="utf-8"
    )
    try:
        ws = open_workspace(read_workspace(tmp_path / "workspace.toml"))
    except errors.ExploreError:
        return  # refused with a message: fine; a RuntimeWarning from np.mod(inf, 1) was the bug
    assert ws.task == "regression"


def test_regression_prediction_column_holding_text_is_a_data_error(tmp_path):
    df = pd.DataFrame({"label": [0.5, 1.5, 2.5], "pred": ["0.4", ":", "2.0"]})
    df.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "workspace.toml").write_text(
        '[columns]\nlabel = "label"\nprediction = "pred"\n[datasets]\nv = "d.csv"\n', encoding="utf-8"
    )
    with pytest.raises(
        errors.DataError, match=r"prediction column 'pred'.*predicted value of a regression.*':'"
    ):
        open_workspace(read_workspace(tmp_path / "workspace.toml"))


_MODEL = {"model": {"path": "m.skops"}, "columns": {"label": "y"}}
_ANNOTATIONS = {"path": "a.csv", "item": "id", "labeler": "who", "label": "y"}


@pytest.mark.parametrize(
    ("data", "key", "section", "received", "fix"),
    [
        (
            {"datasets": {"d": {"path": "d.csv", "master": "local[2]"}}},
            "master",
            "datasets.d",
            "local[2]",
            "Spark",
        ),
        (
            {"datasets": {"d": {"path": "d.pq", "engine": "dusk"}}},
            "engine",
            "datasets.d",
            "dusk",
            "use one of",
        ),
        (
            {"datasets": {"d": {"duckdb": "x.duckdb", "table": "t", "path": "d.csv"}}},
            "path",
            "datasets.d",
            "d.csv",
            "not both",
        ),
        (
            {"datasets": {"d": {"path": "d.pq", "engine": "duckdb", "master": "yarn"}}},
            "master",
            "datasets.d",
            "yarn",
            'engine = "spark"',
        ),
        (
            {"models": {"current": {"path": "p.skops"}}, "datasets": {"d": "d.csv"}},
            "current",
            "models",
            "current",
            "[model]",
        ),
        (
            {"columns": {"label": "y", "task": "ranking"}, "datasets": {"d": "d.csv"}},
            "task",
            "columns",
            "ranking",
            "regression",
        ),
        ({"datasets": {"d": {"path": "d.csv", "role": "test"}}}, "role", "datasets.d", "test", "evaluation"),
        (
            {"datasets": {"d": "d.csv"}, "annotations": {**_ANNOTATIONS, "dataset": "e"}},
            "dataset",
            "annotations",
            "e",
            "d",
        ),
    ],
)
def test_a_value_that_cannot_be_used_names_key_section_value_and_fix(
    tmp_path, data, key, section, received, fix
):
    from explore.core.workspace import parse_workspace

    with pytest.raises(errors.WorkspaceError) as info:
        parse_workspace({**_MODEL, **data}, tmp_path / "workspace.toml")
    message = str(info.value)
    assert message.startswith(
        f"workspace.toml key '{key}' in section [{section}] has the value {received!r}; "
    )
    assert fix in message.split("; ", 1)[1]


@pytest.mark.parametrize("name", ["train.csv", "model.skops", "data.parquet"])
def test_a_data_or_model_file_passed_as_the_workspace_says_what_to_pass(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"age,city\n\xff\x00,Paris\n" if name != "train.csv" else b"age,city\n31,Paris\n")
    with pytest.raises(errors.WorkspaceError) as info:
        read_workspace(path)
    message = str(info.value)
    assert message.startswith(
        f"'{path}' is a {path.suffix} file, not a workspace.toml. Pass the workspace.toml"
    )
    assert "Workspace.from_frames" in message


def test_a_broken_workspace_toml_is_still_a_toml_syntax_message(tmp_path):
    (tmp_path / "workspace.toml").write_bytes(b"[columns]\nlabel = '\xff'\n")
    with pytest.raises(errors.WorkspaceError, match=r"is not valid TOML: not UTF-8 text"):
        read_workspace(tmp_path / "workspace.toml")


def test_a_notebook_shows_a_workspace_and_its_scored_rows_in_one_line(tiny_workspace):
    """Found in a notebook: ``explore.scored(ws)`` printed every array of the dataclass (45,000 characters for
    700 rows) and a workspace printed as ``<… object at 0x…>``."""
    import explore

    ws = explore.open(tiny_workspace)
    text = repr(ws)
    assert text.startswith(f"<Workspace {ws.name!r} ({ws.config.path})") and ws.task in text
    assert all(name in text for name in ws.dataset_names) and "current" in text
    sc = explore.scored(ws)
    text = repr(sc)
    assert len(text) < 200 and f"{sc.n:,} labelled rows" in text and sc.dataset_name in text


def test_a_numeric_feature_named_as_the_time_column_is_refused(tmp_path):
    """Found by the QA round: [columns] time naming an amount (hours worked, 20 to 60) opened the workspace with
    every row in the first minute of 1970 — one time window, no word of why."""
    assert isinstance(_bad_input_error(tmp_path, "amount_as_time"), errors.TimeColumnError)
