"""explore.slices.whatif with real fitted Pipelines: edits, counterfactuals (that really flip), ICE/PD (vs
scikit-learn's partial_dependence), perturbation checks and thresholds (vs brute force)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.inspection import partial_dependence as sk_partial_dependence

from explore.core.workspace import Scored, _encode, predict_frame
from explore.errors import AnalysisError
from explore.slices import whatif
from explore.slices.definition import Condition, SliceDefinition
from tests.helpers import FEATURES, frame, pipeline


def fitted(task: str, n: int = 500, seed: int = 0) -> tuple[object, Scored]:
    """A Pipeline fitted on synthetic mixed data, and that data scored as a Scored."""
    df = frame(n, task=task, seed=seed)
    model = pipeline(task).fit(df[FEATURES], df["income"])
    raw, proba = predict_frame(model, df[FEATURES])
    if task == "regression":
        y, pred, classes, pos, score = (
            df["income"].to_numpy(dtype=float),
            np.asarray(raw, dtype=float),
            None,
            None,
            None,
        )
    else:
        classes = np.asarray(model.classes_)
        y, pred = _encode(df["income"].to_numpy(), classes), _encode(raw, classes)
        pos = 1 if task == "binary" else None
        score = proba[:, 1] if task == "binary" else None
    sc = Scored(
        dataset_name="data",
        model_name="m",
        task=task,
        frame=df,
        feature_names=list(FEATURES),
        y=y,
        y_raw=df["income"].to_numpy(),
        pred=pred,
        proba=proba,
        score=score,
        classes=classes,
        positive_index=pos,
        time=None,
        ids=df["row_id"].to_numpy(),
        unavailable={},
        n_unlabeled=0,
    )
    return model, sc


@pytest.fixture(scope="module")
def binary() -> tuple[object, Scored]:
    return fitted("binary")


def test_edit_predicts_the_edited_row(binary) -> None:
    model, sc = binary
    res = whatif.edit_and_predict(model, sc, 7, {"age": "70", "city": "Nice", "hours": None})
    row = sc.X.iloc[[7]].copy()
    row["age"], row["city"], row["hours"] = 70.0, "Nice", np.nan
    want = model.predict_proba(row)[0, 1]
    assert res.edited_score == pytest.approx(want)
    assert res.original_score == pytest.approx(sc.score[7])
    assert res.changes["age"] == (sc.X["age"].iloc[7], 70.0)
    assert ("city" in res.changes) == (sc.X["city"].iloc[7] != "Nice")
    assert res.flipped == (res.original != res.edited)
    assert sc.frame["age"].iloc[7] == frame(500)["age"].iloc[7]  # the shared frame is untouched


def test_edit_rejects_text_in_a_numeric_column_and_no_model(binary) -> None:
    model, sc = binary
    with pytest.raises(AnalysisError) as err:
        whatif.edit_and_predict(model, sc, 0, {"age": "old"})
    assert str(err.value) == whatif.BAD_NUMBER.format(value="old", column="age")
    with pytest.raises(AnalysisError, match="predictions-only"):
        whatif.edit_and_predict(None, sc, 0, {"age": 3})
    with pytest.raises(AnalysisError, match="positions 0 to 499"):
        whatif.edit_and_predict(model, sc, 500, {})


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_counterfactual_flips_the_prediction_and_is_the_nearest(binary, norm: str) -> None:
    model, sc = binary
    for pos in (0, 11, 42):
        cf = whatif.nearest_counterfactual(sc, pos, model=model, norm=norm)
        assert cf.found and cf.verified
        both = model.predict(sc.X.iloc[[pos, cf.cf_position]])
        assert both[0] != both[1]
        # Brute force over every row with another predicted class.
        X = sc.X
        sd = {c: X[c].std(ddof=0) for c in ("age", "hours")}
        best = np.inf
        for j in np.flatnonzero(sc.pred != sc.pred[pos]):
            terms = []
            for c in ("age", "hours"):
                a, b = X[c].iloc[pos], X[c].iloc[j]
                terms.append(
                    0.0
                    if pd.isna(a) and pd.isna(b)
                    else 1.0
                    if pd.isna(a) or pd.isna(b)
                    else abs(a - b) / sd[c]
                )
            terms.append(float(X["city"].iloc[pos] != X["city"].iloc[j]))
            dist = sum(terms) if norm == "l1" else np.sqrt(sum(t * t for t in terms))
            best = min(best, dist)
        assert cf.distance == pytest.approx(best, rel=1e-5)
        assert set(cf.differences["feature"]) <= set(FEATURES)


def test_counterfactual_regression_delta_and_targets() -> None:
    model, sc = fitted("regression", n=300)
    cf = whatif.nearest_counterfactual(sc, 3, model=model, delta=5_000)
    assert cf.found and abs(cf.cf_prediction - cf.original_prediction) >= 5_000 and cf.verified
    huge = whatif.nearest_counterfactual(sc, 3, delta=1e12)
    assert not huge.found and "at least" in huge.message
    model_mc, mc = fitted("multiclass", n=300)
    other = [c for c in mc.classes if c != mc.classes[mc.pred[5]]][0]
    cf_mc = whatif.nearest_counterfactual(mc, 5, model=model_mc, target=other)
    assert cf_mc.cf_prediction == other and cf_mc.verified


def test_ice_and_partial_dependence_match_sklearn(binary) -> None:
    model, sc = binary
    grid = [20.0, 30.0, 40.0, 50.0, 60.0]
    ice = whatif.ice_curve(model, sc, 4, "age", grid=grid)
    rows = pd.concat([sc.X.iloc[[4]]] * len(grid), ignore_index=True)
    rows["age"] = grid
    np.testing.assert_allclose(ice.curves["output"], model.predict_proba(rows)[:, 1])
    pdp = whatif.partial_dependence(
        model, sc, "age", whatif.DependenceParams(grid=tuple(grid), n_rows=10_000)
    )
    ref = sk_partial_dependence(
        model, sc.X, ["age"], custom_values={"age": grid}, kind="average", method="brute"
    )
    avg = pdp.curves[pdp.curves["line"] == "average"]["output"].to_numpy()
    np.testing.assert_allclose(avg, ref["average"][0], rtol=1e-9)
    cat = whatif.partial_dependence(model, sc, "city", whatif.DependenceParams(n_rows=200))
    assert cat.kind == "categorical" and set(cat.grid) == {"Paris", "Lyon", "Nice"}


def test_ice_default_grid_spans_the_range_and_includes_the_current_value(binary) -> None:
    model, sc = binary
    ice = whatif.ice_curve(model, sc, 9, "hours")
    vals = ice.curves["value"]
    assert vals.min() == pytest.approx(sc.X["hours"].min()) and vals.max() == pytest.approx(
        sc.X["hours"].max()
    )
    if not pd.isna(sc.X["hours"].iloc[9]):
        assert float(sc.X["hours"].iloc[9]) in set(vals)


def test_perturbation_invariance_and_direction(binary) -> None:
    model, sc = binary
    res = whatif.perturbation_check(model, sc, whatif.PerturbationParams("city", set_to="Nice", by="city"))
    s0 = model.predict(sc.X)
    X1 = sc.X.copy()
    X1["city"] = "Nice"
    s1 = model.predict(X1)
    changed = (sc.X["city"] != "Nice").to_numpy()
    assert res.summary["n"] == changed.sum()
    assert res.summary["flip_rate"] == pytest.approx((s0 != s1)[changed].mean())
    assert set(res.by_group["group"]) == {"Paris", "Lyon"}
    up = whatif.perturbation_check(
        model, sc, whatif.PerturbationParams("age", shift=10, expectation="increase")
    )
    p0, p1 = model.predict_proba(sc.X)[:, 1], model.predict_proba(sc.X.assign(age=sc.X["age"] + 10))[:, 1]
    ok = sc.X["age"].notna().to_numpy()
    assert up.summary["violation_rate"] == pytest.approx(((p1 - p0) < 0)[ok].mean())
    assert up.summary["mean_change"] == pytest.approx((p1 - p0)[ok].mean())
    with pytest.raises(AnalysisError, match="exactly one"):
        whatif.perturbation_check(model, sc, whatif.PerturbationParams("age"))
    with pytest.raises(AnalysisError, match="not numeric"):
        whatif.perturbation_check(model, sc, whatif.PerturbationParams("city", shift=1))


def test_model_outputs_decision_score_follows_the_positive_class(tmp_path) -> None:
    # The datapoint editor's score for a model without predict_proba, positive = the first class: it must
    # match the scored dataset's score (it used to have the opposite sign).
    from sklearn.svm import LinearSVC

    from explore.core.workspace import open_workspace, read_workspace, score
    from tests.helpers import make_workspace

    df = frame(300)
    X = pd.get_dummies(df[["age", "city"]], dtype=float)
    svc = LinearSVC(random_state=0).fit(X, df["income"])
    path = make_workspace(
        tmp_path,
        model=svc,
        datasets={"d": pd.concat([X, df["income"]], axis=1)},
        columns={"label": "income", "positive": "<=50K"},
    )
    ws = open_workspace(read_workspace(path))
    sc = score(ws, "d")
    out = whatif.model_outputs(svc, sc, sc.frame)
    np.testing.assert_allclose(out.score, sc.score)
    np.testing.assert_allclose(out.score, -svc.decision_function(X))


def test_threshold_metrics_and_the_cost_optimal_threshold(binary) -> None:
    _, sc = binary
    tm = whatif.threshold_metrics(sc, 0.3).iloc[0]
    pp = sc.score >= 0.3
    assert tm["precision"] == pytest.approx(skm.precision_score(sc.y, pp))
    assert tm["recall"] == pytest.approx(skm.recall_score(sc.y, pp))
    paris = (sc.frame["city"] == "Paris").to_numpy()
    by_set = whatif.threshold_metrics(
        sc, 0.3, slice_def=SliceDefinition((Condition("city", "in", values=("Paris",)),))
    ).set_index("set")
    assert by_set.index.tolist() == ["slice", "rest", "all rows"]
    for name, rows in (("slice", paris), ("rest", ~paris), ("all rows", np.ones(sc.n, dtype=bool))):
        assert by_set.loc[name, "rows"] == rows.sum()
        assert by_set.loc[name, "recall"] == pytest.approx(skm.recall_score(sc.y[rows], pp[rows]))
    sug = whatif.suggest_threshold(sc, cost_fp=1, cost_fn=4, by="city")
    y = sc.y == 1
    costs = [
        ((sc.score >= t) & ~y).sum() + 4 * ((sc.score < t) & y).sum()
        for t in np.r_[np.unique(sc.score), np.inf]
    ]
    assert sug.overall["cost"] == pytest.approx(min(costs) / sc.n)
    assert len(sug.curve) <= 201 and set(sug.by_group["group"]) == {"Paris", "Lyon", "Nice"}
    with pytest.raises(AnalysisError, match="non-negative"):
        whatif.suggest_threshold(sc, cost_fp=-1)
    _, reg = fitted("regression", n=100)
    with pytest.raises(AnalysisError, match="binary"):
        whatif.threshold_metrics(reg, 0.5)


def test_dependence_params_round_trip_through_a_dict_and_ignore_unknown_keys() -> None:
    p = whatif.DependenceParams(n_rows=50, n_points=7, cls=np.int64(1), seed=4, grid=(np.float64(1.5), 2.5))
    d = p.to_dict()
    assert d == {"n_rows": 50, "n_points": 7, "n_lines": 30, "cls": 1, "seed": 4, "grid": [1.5, 2.5]}
    assert type(d["cls"]) is int and type(d["grid"][0]) is float  # plain Python: JSON- and TOML-safe
    assert whatif.DependenceParams.from_dict({**d, "unknown": 1}) == p
    assert whatif.DependenceParams.from_dict({}) == whatif.DependenceParams()


def test_a_feature_missing_in_every_chosen_row_says_what_to_do(binary) -> None:
    # An all-empty column (a price table's `empty_feature`): the message said only that there was no grid.
    _, sc = binary
    empty = sc.frame.assign(hours=np.nan, city=None)
    sc_empty = dataclasses.replace(sc, frame=empty)
    for feature in ("hours", "city"):
        with pytest.raises(AnalysisError) as info:
            whatif.feature_grid(sc_empty, feature)
        text = str(info.value)
        assert (
            f"'{feature}' has no values in the chosen rows ({len(empty):,} rows, every one missing)" in text
        )
        assert "Choose another feature, or a slice where it has values" in text
