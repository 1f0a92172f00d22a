"""SHAP importance (explore/importance/explain.py): additivity per model family, raw-feature grouping, the known traps,
units, sampling, the permutation cross-check, slice vs rest and drop-column importance — cross-checked against
shap, scikit-learn and scipy on small synthetic data."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shap
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, make_scorer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import (
    KBinsDiscretizer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)
from threadpoolctl import threadpool_limits

from explore.core.workspace import Scored, predict_frame
from explore.errors import AnalysisError
from explore.importance import charts, explain
from explore.slices.definition import Condition, SliceDefinition

# ---- synthetic data and a Scored built from it --------------------------------------------------------


def data(n: int = 500, *, seed: int = 0) -> pd.DataFrame:
    """x1, x10 (numeric, names that share a prefix), x2 (numeric with gaps), city (strings with gaps), plan (object)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x10": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "city": pd.array(rng.choice(["Paris", "Lyon", "Nice"], n), dtype="str"),
            "plan": rng.choice(["basic", "premium"], n).astype(object),
        }
    )
    df.loc[rng.random(n) < 0.1, "x2"] = np.nan
    df.loc[rng.random(n) < 0.05, "city"] = None
    z = 1.5 * df["x1"] - df["x10"] + np.nan_to_num(df["x2"]) + (df["city"] == "Nice").to_numpy() * 1.2
    df["label"] = np.where(z + rng.normal(size=n) > 0.3, "yes", "no")
    df["klass"] = np.asarray(["low", "mid", "high"], dtype=object)[
        np.digitize(z + rng.normal(0, 0.4, n), [-0.8, 0.8])
    ]
    df["target"] = 10 * z + rng.normal(0, 1, n)
    return df


FEATURES = ["x1", "x10", "x2", "city", "plan"]


def prep() -> ColumnTransformer:
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                ["x1", "x10", "x2"],
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["city", "plan"],
            ),
        ]
    )


def scored_for(model, df: pd.DataFrame, label: str, task: str, *, positive=None, features=FEATURES) -> Scored:
    frame = df.reset_index(drop=True)
    y_raw = frame[label].to_numpy()
    if task == "regression":
        classes, pos, proba = None, None, None
        y = y_raw.astype("float64")
        pred = np.asarray(model.predict(frame[features]), dtype="float64")
    else:
        classes = np.asarray(model.classes_)
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        y = np.asarray([lookup[v] for v in y_raw])
        pred_raw, proba = predict_frame(model, frame[features])
        pred = np.asarray([lookup[v] for v in pred_raw])
        pos = (classes.tolist().index(positive) if positive is not None else 1) if task == "binary" else None
    return Scored(
        dataset_name="validation",
        model_name="current",
        task=task,
        frame=frame,
        feature_names=list(features),
        y=y,
        y_raw=y_raw,
        pred=pred,
        proba=proba,
        score=None if proba is None or pos is None else proba[:, pos],
        classes=classes,
        positive_index=pos,
        time=None,
        ids=np.arange(len(frame)) + 1000,
        unavailable={},
        n_unlabeled=0,
    )


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """HistGradientBoosting's OpenMP threads thrash on a shared 2-core runner; one thread keeps tests quick."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return data()


def fit(est, df, label="label") -> Pipeline:
    return Pipeline([("prep", prep()), ("model", est)]).fit(df[FEATURES], df[label])


def assert_additive(ex: explain.ShapExplanation) -> None:
    assert ex.additivity.passed, ex.additivity
    np.testing.assert_allclose(ex.base_values + ex.values.sum(axis=1), ex.model_output, atol=1e-8)


# ---- additivity per model family ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("est", "explainer", "units", "space"),
    [
        (
            GradientBoostingClassifier(n_estimators=25, random_state=0),
            explain.TREE,
            explain.LOG_ODDS,
            "decision_function",
        ),
        (
            HistGradientBoostingClassifier(max_iter=25, random_state=0),
            explain.TREE,
            explain.LOG_ODDS,
            "decision_function",
        ),
        (
            RandomForestClassifier(n_estimators=15, max_depth=5, random_state=0),
            explain.TREE,
            explain.PROBABILITY,
            "predict_proba",
        ),
        (LogisticRegression(), explain.LINEAR, explain.LOG_ODDS, "decision_function"),
    ],
    ids=["gb", "hgb-onehot", "rf", "logreg"],
)
def test_additivity_and_units_per_model_family(df, est, explainer, units, space):
    model = fit(est, df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=150))
    assert (ex.explainer, ex.units, ex.additivity.output_space) == (explainer, units, space)
    assert ex.values.shape == (150, len(FEATURES), 1) and ex.output_names == ["yes"]
    assert_additive(ex)
    # the reference is the whole Pipeline's own output on the raw rows
    raw = getattr(model, space)(sc.X.iloc[ex.positions])
    ref = raw[:, list(model.classes_).index("yes")] if raw.ndim == 2 else raw
    np.testing.assert_allclose(ex.model_output[:, 0], ref, atol=1e-10)
    assert ex.grouped and ex.groups["city"] and len(ex.groups["x2"]) == 2  # x2 and its missing indicator


def test_grouping_sums_transformed_columns_by_the_transformers_own_mapping():
    """x1 and x10 share a name prefix; the raw sums must follow the ColumnTransformer's bookkeeping."""
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "x10": rng.choice(["a", "b", "c", "d"], n).astype(object),
            "x1": rng.choice(["p", "q", "r"], n).astype(object),
            "x2": rng.normal(size=n),
        }
    )
    df.loc[rng.random(n) < 0.1, "x2"] = np.nan
    y = np.where((df["x1"] == "p") | (df["x10"] == "d") | (df["x2"].fillna(0) > 1), "yes", "no")
    df["label"] = y
    ct = ColumnTransformer(
        [("oh", OneHotEncoder(), ["x1", "x10"]), ("imp", SimpleImputer(add_indicator=True), ["x2"])],
    )
    model = Pipeline([("prep", ct), ("model", GradientBoostingClassifier(n_estimators=20, random_state=0))])
    model.fit(df[["x10", "x1", "x2"]], df["label"])
    sc = scored_for(model, df, "label", "binary", positive="yes", features=["x10", "x1", "x2"])
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=120))
    direct = shap.TreeExplainer(model[-1]).shap_values(model[0].transform(sc.X.iloc[ex.positions]))
    # transformed layout, known independently: x1 → 3 one-hot columns, x10 → 4, x2 → value + missing indicator
    expected = {"x1": direct[:, 0:3].sum(1), "x10": direct[:, 3:7].sum(1), "x2": direct[:, 7:9].sum(1)}
    for feature, want in expected.items():
        np.testing.assert_allclose(ex.values_for(0)[:, ex.feature_index(feature)], want, atol=1e-12)
    assert [len(ex.groups[f]) for f in ("x10", "x1", "x2")] == [4, 3, 2]
    assert_additive(ex)


@pytest.mark.parametrize(
    "transformer",
    [
        FeatureUnion(
            [
                ("scaled", StandardScaler()),
                ("bins", KBinsDiscretizer(n_bins=3, quantile_method="averaged_inverted_cdf")),
            ]
        ),
        make_pipeline(StandardScaler(), SelectKBest(f_classif, k=2)),
        TargetEncoder(),
    ],
    ids=["feature-union+kbins", "selectkbest", "target-encoder"],
)
def test_mapping_covers_other_per_column_transformers(transformer):
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + 0.5 * X["b"] > 0, "yes", "no")
    model = Pipeline(
        [("t", transformer), ("model", GradientBoostingClassifier(n_estimators=15, random_state=0))]
    )
    model.fit(X, y)
    sc = scored_for(model, X.assign(label=y), "label", "binary", positive="yes", features=["a", "b", "c"])
    plan = explain.plan_explainer(model, sc)
    assert plan.kind == "tree" and plan.transformed
    assert len(plan.sources) == model[0].transform(X.iloc[:5]).shape[1]
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=80))
    assert ex.explainer == explain.TREE
    assert_additive(ex)


def test_mixing_transformer_explains_the_whole_pipeline_model_agnostically(df):
    model = Pipeline(
        [
            ("prep", ColumnTransformer([("num", SimpleImputer(), ["x1", "x10", "x2"])])),
            ("pca", PCA(n_components=2)),
            ("model", LogisticRegression()),
        ]
    ).fit(df[["x1", "x10", "x2"]], df["label"])
    sc = scored_for(model, df, "label", "binary", positive="yes", features=["x1", "x10", "x2"])
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=30))
    assert ex.explainer == explain.EXACT and ex.units == explain.PROBABILITY and not ex.grouped
    assert any("PCA" in note for note in ex.notes)
    assert_additive(ex)


# ---- the known traps -----------------------------------------------------------------------------------


def test_hgb_native_categorical_falls_back_and_passes_additivity(df):
    enc = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), ["city", "plan"])],
        remainder="passthrough",
    )
    model = Pipeline(
        [
            ("prep", enc),
            (
                "model",
                HistGradientBoostingClassifier(max_iter=25, categorical_features=[0, 1], random_state=0),
            ),
        ]
    )
    model.fit(df[FEATURES], df["label"])
    assert model[-1].is_categorical_.any()
    sc = scored_for(model, df, "label", "binary", positive="yes")
    plan = explain.plan_explainer(model, sc)
    assert plan.kind == "agnostic" and "native categorical" in plan.reason
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=40))
    assert ex.explainer in (explain.PERMUTATION, explain.EXACT) and ex.units == explain.PROBABILITY
    assert_additive(ex)
    assert (
        np.abs(ex.values_for(0)[:, ex.feature_index("city")]).mean() > 0.01
    )  # the categorical feature matters


def test_failed_additivity_falls_back_to_model_agnostic(df, monkeypatch):
    """A fast explainer whose values do not add up is not shown: the model-agnostic one is used instead."""
    model = fit(GradientBoostingClassifier(n_estimators=10, random_state=0), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    real = explain._explain_fast

    def broken(*args, **kwargs):
        raw = real(*args, **kwargs)
        raw.values = raw.values * 1.5
        return raw

    monkeypatch.setattr(explain, "_explain_fast", broken)
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=10))
    assert ex.explainer == explain.PERMUTATION and any("failed the additivity check" in n for n in ex.notes)
    assert_additive(ex)


def test_string_columns_in_the_model_agnostic_path(df):
    """KNN is neither a tree nor linear: raw strings (pandas str, object, category, missing) go through the codec."""
    frame = df.assign(tier=pd.Categorical(np.where(df["x1"] > 0, "gold", "silver")))
    features = [*FEATURES, "tier"]
    ct = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["x1", "x10", "x2"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["city", "plan", "tier"],
            ),
        ]
    )
    model = Pipeline([("prep", ct), ("model", KNeighborsClassifier(n_neighbors=15))]).fit(
        frame[features], frame["label"]
    )
    sc = scored_for(model, frame, "label", "binary", positive="yes", features=features)
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=12, background_size=20))
    assert ex.explainer == explain.PERMUTATION and ex.units == explain.PROBABILITY
    assert_additive(ex)
    codec = explain._Codec(sc.X)
    back = codec.decode(codec.encode(sc.X))
    pd.testing.assert_frame_equal(back, sc.X.reset_index(drop=True))


def brute_force_shapley(f, x: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact Shapley values by the definition: every coalition S, v(S) = mean over background of f(x_S, z_rest)."""
    m = len(x)
    subsets = [s for size in range(m + 1) for s in itertools.combinations(range(m), size)]
    stacked = np.concatenate([np.where(np.isin(np.arange(m), s), x, background) for s in subsets])
    means = (
        f(stacked).reshape(len(subsets), len(background)).mean(axis=1)
    )  # one model call for every coalition
    value = dict(zip(subsets, means, strict=True))

    def v(subset: tuple[int, ...]) -> float:
        return float(value[tuple(sorted(subset))])

    phi = np.zeros(m)
    for i in range(m):
        others = [j for j in range(m) if j != i]
        for size in range(m):
            weight = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for subset in itertools.combinations(others, size):
                phi[i] += weight * (v((*subset, i)) - v(subset))
    return phi, v(())


def test_model_agnostic_values_equal_exact_shapley_values(df):
    """With every feature ordering enumerated, the permutation estimator is exact: it must equal the definition."""
    feats = ["x1", "x2", "city", "plan"]
    ct = ColumnTransformer(
        [
            ("num", SimpleImputer(), ["x1", "x2"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
        ]
    )
    model = Pipeline([("prep", ct), ("model", KNeighborsClassifier(n_neighbors=10))]).fit(
        df[feats], df["label"]
    )
    sc = scored_for(model, df, "label", "binary", positive="yes", features=feats)
    rows = np.arange(3)
    ex = explain.explain(sc, model, explain.ExplainParams(background_size=12, n_permutations=24), rows=rows)
    assert ex.explainer == explain.EXACT  # 4! orderings fit in the budget
    bg = sc.X.iloc[np.sort(np.random.default_rng([0, 7]).choice(sc.n, size=12, replace=False))]
    codec = explain._Codec(bg)
    pos = list(model.classes_).index("yes")

    def f(A):
        return model.predict_proba(codec.decode(A))[:, pos]

    for r in rows:
        phi, base = brute_force_shapley(f, codec.encode(sc.X.iloc[[r]])[0], codec.encode(bg))
        np.testing.assert_allclose(ex.values_for(0)[r], phi, atol=1e-12)
        assert ex.base_values[r, 0] == pytest.approx(base, abs=1e-12)


def test_sampled_orderings_are_close_to_exact(df):
    model = fit(LogisticRegression(), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    rows = np.arange(8)
    exact = explain.explain(
        sc, model, explain.ExplainParams(method="agnostic", background_size=20, n_permutations=120), rows=rows
    )
    sampled = explain.explain(
        sc, model, explain.ExplainParams(method="agnostic", background_size=20, n_permutations=10), rows=rows
    )
    assert sampled.explainer == explain.PERMUTATION and exact.explainer == explain.EXACT
    assert np.abs(sampled.values - exact.values).max() < 0.05
    assert_additive(sampled)


def test_deep_forest_offers_approximate_mode(df):
    model = fit(RandomForestClassifier(n_estimators=10, random_state=0), df)  # unlimited depth
    sc = scored_for(model, df, "label", "binary", positive="yes")
    plan = explain.plan_explainer(model, sc)
    assert (
        plan.slow_hint
        and plan.approximate_available
        and plan.default_sample_size == explain.DEFAULT_SAMPLE["agnostic"]
    )
    approx = explain.explain(sc, model, explain.ExplainParams(sample_size=60, approximate=True))
    assert approx.explainer == explain.TREE_APPROX and approx.approximate
    assert any("Approximate (Saabas)" in n for n in approx.notes)
    assert_additive(approx)
    exact = explain.explain(sc, model, explain.ExplainParams(sample_size=60))
    assert exact.explainer == explain.TREE and not exact.approximate
    assert stats.spearmanr(approx.mean_abs(), exact.mean_abs()).statistic > 0.8


def test_approximate_is_refused_for_a_linear_model(df):
    model = fit(LogisticRegression(), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    with pytest.raises(AnalysisError) as err:
        explain.explain(sc, model, explain.ExplainParams(sample_size=10, approximate=True))
    assert str(err.value) == explain.APPROX_NOT_TREE.format(explainer=explain.LINEAR)


# ---- units, classes, regression ------------------------------------------------------------------------


def test_positive_class_first_flips_the_log_odds(df):
    model = fit(GradientBoostingClassifier(n_estimators=20, random_state=0), df)  # classes_ = ['no', 'yes']
    sc = scored_for(model, df, "label", "binary", positive="no")
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=50))
    assert ex.output_names == ["no"] and ex.units == explain.LOG_ODDS
    p_no = model.predict_proba(sc.X.iloc[ex.positions])[:, 0]
    np.testing.assert_allclose(ex.model_output[:, 0], np.log(p_no / (1 - p_no)), atol=1e-8)
    assert_additive(ex)


def test_linear_values_are_coefficient_times_centered_input(df):
    feats = ["x1", "x10"]
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(df[feats], df["label"])
    sc = scored_for(model, df, "label", "binary", positive="yes", features=feats)
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=40))
    z = model[0].transform(sc.X.iloc[ex.positions])
    bg = model[0].transform(
        sc.X.iloc[explain.sample_rows(sc, n=min(explain.LINEAR_BACKGROUND, sc.n), seed=1)]
    )
    np.testing.assert_allclose(ex.values_for(0), model[-1].coef_[0] * (z - bg.mean(axis=0)), atol=1e-10)


@pytest.mark.parametrize(
    ("est", "explainer", "units"),
    [
        (GradientBoostingClassifier(n_estimators=15, random_state=0), explain.TREE, explain.LOGIT),
        (
            RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0),
            explain.TREE,
            explain.PROBABILITY,
        ),
        (LogisticRegression(), explain.LINEAR, explain.LOGIT),
    ],
    ids=["gb", "rf", "logreg"],
)
def test_multiclass_per_class_and_overall_importance(df, est, explainer, units):
    model = fit(est, df, label="klass")
    sc = scored_for(model, df, "klass", "multiclass")
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=90))
    assert (ex.explainer, ex.units) == (explainer, units)
    assert ex.values.shape == (90, len(FEATURES), 3) and ex.output_names == [str(c) for c in model.classes_]
    assert_additive(ex)
    table = explain.importance_table(ex)
    per_class = table[[f"mean_abs_shap[{c}]" for c in ex.output_names]].sum(axis=1)
    np.testing.assert_allclose(table["mean_abs_shap"], per_class, rtol=1e-12)
    assert table["mean_shap"].isna().all()
    charts.importance_bars(ex).to_dict()
    charts.beeswarm(ex, output="high").to_dict()


def test_regression_in_target_units(df):
    model = fit(HistGradientBoostingRegressor(max_iter=30, random_state=0), df, label="target")
    sc = scored_for(model, df, "target", "regression")
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=100))
    assert ex.units == explain.TARGET and ex.explainer == explain.TREE and ex.output_names == ["prediction"]
    assert_additive(ex)
    np.testing.assert_allclose(ex.model_output[:, 0], model.predict(sc.X.iloc[ex.positions]), atol=1e-8)
    positions = explain.sample_rows(sc, n=100, seed=0)
    deciles = np.quantile(sc.y, np.linspace(0, 1, 11)[1:-1])
    counts = np.bincount(np.searchsorted(deciles, sc.y[positions], side="right"), minlength=10)
    assert counts.min() >= 9 and counts.max() <= 11  # ~10 rows per decile of the label


def test_no_model_is_a_clear_error(df):
    model = fit(LogisticRegression(), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    with pytest.raises(AnalysisError) as err:
        explain.explain(sc, None)
    assert str(err.value) == explain.NO_MODEL.format(dataset="validation")


# ---- sampling, rows, waterfall -------------------------------------------------------------------------


def test_sample_is_stratified_deterministic_and_respects_the_mask(df):
    model = fit(LogisticRegression(), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    a = explain.sample_rows(sc, n=100, seed=4)
    assert (
        len(a) == 100 and np.array_equal(a, explain.sample_rows(sc, n=100, seed=4)) and np.all(np.diff(a) > 0)
    )
    share = np.mean(sc.y == 1)
    assert abs(np.mean(sc.y[a] == 1) - share) <= 0.011
    rare = np.zeros(sc.n, dtype=bool)
    rare[np.flatnonzero(sc.y == 0)[:3]] = True
    rare[np.flatnonzero(sc.y == 1)[:200]] = True
    b = explain.sample_rows(sc, n=20, mask=rare, seed=0)
    assert rare[b].all() and (sc.y[b] == 0).sum() >= 1  # the rare class keeps a row
    assert np.array_equal(explain.sample_rows(sc, n=10_000, mask=rare), np.flatnonzero(rare))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(AnalysisError) as err:
            explain.sample_rows(sc, n=bad)
        assert str(err.value) == explain.BAD_SAMPLE.format(received=bad)
    with pytest.raises(AnalysisError):
        explain.sample_rows(sc, n=5, mask=np.zeros(sc.n, dtype=bool))


def test_local_explanation_and_waterfall(df):
    model = fit(GradientBoostingClassifier(n_estimators=20, random_state=0), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    pos = explain.find_row(sc, row_id="1007")  # ids are 1000 + position; typed ids arrive as text
    assert pos == 7 and explain.find_row(sc, position=7) == 7
    assert explain.find_row(sc, row_id=1007) == 7  # the same rule as the pages (explore.core.row_ids)
    with pytest.raises(AnalysisError):
        explain.find_row(sc, row_id="01007")  # reads differently: not this id
    local = explain.explain(sc, model, rows=[pos])
    glob = explain.explain(sc, model, rows=[3, 7, 9])
    np.testing.assert_allclose(local.values[0], glob.values[1], atol=1e-12)  # same row, same values
    steps = explain.waterfall_steps(local, max_features=3)
    table = steps.to_frame()
    assert steps.units == local.units
    assert table["kind"].tolist() == ["base", "feature", "feature", "feature", "rest", "output"]
    assert table.iloc[-2]["end"] == pytest.approx(local.model_output[0, 0], abs=1e-9)
    assert table.iloc[0]["start"] == pytest.approx(local.base_values[0, 0])
    spec = charts.waterfall(steps).to_dict()
    bars = spec["datasets"][spec["layer"][0]["data"]["name"]]
    assert [b["label"] for b in bars] == table["label"].tolist()[1:-1]  # the features and the rest
    assert spec["layer"][0]["encoding"]["x"]["title"] == local.units
    with pytest.raises(AnalysisError) as err:
        explain.find_row(sc, position=sc.n)
    assert str(err.value) == explain.ROW_OUT_OF_RANGE.format(
        position=sc.n, dataset="validation", n=sc.n, last=sc.n - 1
    )
    with pytest.raises(AnalysisError):
        explain.find_row(sc, row_id="nope")
    with pytest.raises(AnalysisError):
        explain.explain(sc, model, rows=[-1])


def test_importance_table_dependence_and_charts(df):
    model = fit(GradientBoostingClassifier(n_estimators=20, random_state=0), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=300))
    table = explain.importance_table(ex)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["rank"].tolist() == list(range(1, len(FEATURES) + 1))
    assert table["mean_abs_shap"].is_monotonic_decreasing
    np.testing.assert_allclose(
        table.set_index("feature").loc[FEATURES, "mean_abs_shap"], np.abs(ex.values[:, :, 0]).mean(0)
    )
    assert table["feature"].iloc[0] == "x1"  # the strongest planted effect
    partner = explain.interaction_partner(ex, "x1")
    assert partner in FEATURES and partner != "x1"
    spec = charts.beeswarm(ex, max_points=400).to_dict()
    n_points = len(next(iter(spec["datasets"].values())))
    assert n_points <= 400
    for f in ("x1", "city"):
        charts.dependence(ex, f, color="plan").to_dict()
        charts.dependence(ex, f, color="x2").to_dict()
    with pytest.raises(AnalysisError):
        ex.feature_index("nope")
    assert ex.to_dict()["additivity"]["passed"] is True


def test_estimate_time_is_positive(df):
    model = fit(GradientBoostingClassifier(n_estimators=10, random_state=0), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    est = explain.estimate_time(sc, model)
    assert (
        est.explainer == explain.TREE
        and est.seconds_per_row >= 0
        and est.seconds(1000) >= est.seconds(10) > 0
    )


# ---- cross-checks and experiments ----------------------------------------------------------------------


def test_permutation_check_matches_sklearn_and_scipy(df):
    model = fit(GradientBoostingClassifier(n_estimators=20, random_state=0), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=200))
    check = explain.permutation_check(sc, model, ex, n_repeats=3, seed=1)
    scorer = make_scorer(
        log_loss, greater_is_better=False, response_method="predict_proba", labels=list(model.classes_)
    )
    ref = permutation_importance(
        model, sc.X.iloc[ex.positions], sc.y_raw[ex.positions], scoring=scorer, n_repeats=3, random_state=1
    )
    by_feature = check.table.set_index("feature").loc[FEATURES]
    np.testing.assert_allclose(by_feature["perm_mean"], ref.importances_mean)
    assert check.spearman == pytest.approx(stats.spearmanr(ex.mean_abs(), ref.importances_mean).statistic)
    assert check.spearman > 0.5 and check.top_overlap >= 0.6 and check.n_rows == 200
    charts.permutation_vs_shap(check).to_dict()


def test_slice_vs_rest_and_feature_ranges(df):
    model = fit(GradientBoostingClassifier(n_estimators=20, random_state=0), df)
    sc = scored_for(model, df, "label", "binary", positive="yes")
    nice = SliceDefinition((Condition("city", "in", values=("Nice",)),))
    mask = (sc.frame["city"] == "Nice").to_numpy(dtype=bool, na_value=False)
    reference = df.assign(x1=df["x1"].clip(-1, 1))  # the slice's x1 tails are outside this "training" range
    cmp = explain.slice_vs_rest(
        sc,
        model,
        nice,
        reference=reference,
        reference_name="train",
        description="city = Nice",
        params=explain.ExplainParams(sample_size=60),
    )
    inside = explain.explain(sc, model, explain.ExplainParams(sample_size=60), slice_def=nice)
    np.testing.assert_allclose(
        cmp.importance.set_index("feature").loc[FEATURES, "slice_mean_abs"], inside.mean_abs()
    )
    assert mask[cmp.slice.positions].all() and not mask[cmp.rest.positions].any()
    ranges = cmp.ranges.set_index("feature")
    x1 = sc.frame.loc[mask, "x1"]
    lo, hi = np.quantile(reference["x1"], [0.01, 0.99])
    assert ranges.loc["x1", "outside_share"] == pytest.approx(((x1 < lo) | (x1 > hi)).mean())
    assert bool(ranges.loc["x1", "flag"])
    assert ranges.loc["city", "slice_top"] == "Nice" and ranges.loc["city", "slice_top_share"] == 1.0
    charts.slice_vs_rest_bars(cmp).to_dict()
    with pytest.raises(AnalysisError) as err:
        explain.slice_vs_rest(sc, model, SliceDefinition(), reference=df)
    assert str(err.value) == explain.EMPTY_REST.format(dataset="validation")


def test_drop_column_importance_finds_the_useless_feature():
    rng = np.random.default_rng(11)
    n = 900
    X = pd.DataFrame(
        {
            "signal": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "city": rng.choice(["a", "b"], n).astype(object),
        }
    )
    y = np.where(2 * X["signal"] + rng.normal(0, 0.5, n) > 0, "yes", "no")
    ct = ColumnTransformer(
        [("num", StandardScaler(), ["signal", "noise"]), ("cat", OneHotEncoder(), ["city"])]
    )
    model = Pipeline([("prep", ct), ("model", LogisticRegression())]).fit(X, y)
    calls = []
    res = explain.drop_column_importance(
        model,
        X,
        y,
        features=["signal", "noise"],
        task="binary",
        folds=4,
        progress=lambda f, m: calls.append(f),
    )
    assert len(calls) == 4 * 3 and calls[-1] == 1.0
    t = res.table.set_index("feature")
    assert res.metric == "roc_auc" and res.higher_is_better
    assert t.loc["signal", "ci_low"] > 0.1  # neutralising the signal costs AUC
    assert t.loc["noise", "ci_low"] <= 0 <= t.loc["noise", "ci_high"]
    # interval: Nadeau–Bengio corrected t over folds
    b = np.asarray(t.loc["signal", "fold_benefits"])
    half = stats.t.ppf(0.975, 3) * math.sqrt((1 / 4 + 1 / 3) * b.var(ddof=1))
    assert t.loc["signal", "ci_high"] - t.loc["signal", "benefit"] == pytest.approx(half)
    back = explain.DropColumnResult.from_dict(res.to_dict())
    assert back.table["benefit"].tolist() == pytest.approx(res.table["benefit"].tolist())
    charts.drop_column_chart(res).to_dict()


def test_drop_column_errors_are_clear():
    X = pd.DataFrame({"a": np.arange(10.0)})
    y = np.array(["y"] * 9 + ["n"])
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    with pytest.raises(AnalysisError) as err:
        explain.drop_column_importance(model, X, y, features=["a"], task="binary", folds=3)
    assert "at least 3 labelled rows of every class" in str(err.value) and "'n': 1" in str(err.value)
    with pytest.raises(AnalysisError) as err:
        explain.drop_column_importance(object(), X, y, features=["a"], task="binary")
    assert "cannot be cloned" in str(err.value)
    with pytest.raises(AnalysisError) as err:
        explain.drop_column_importance(model, X, y, features=["zzz"], task="binary")
    assert "zzz" in str(err.value)
    with pytest.raises(AnalysisError) as err:
        explain.drop_column_importance(model, X, y, features=["a"], task="binary", folds=1)
    assert str(err.value) == explain.BAD_FOLDS.format(received=1)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_gradient_boosting_libraries_use_tree_explainer(df, library):
    """XGBoost/LightGBM are optional: checked when installed (pip install lightgbm xgboost)."""
    lib = pytest.importorskip(library)
    y = (df["label"] == "yes").astype(int)
    est = (
        lib.LGBMClassifier(n_estimators=15, verbose=-1)
        if library == "lightgbm"
        else lib.XGBClassifier(n_estimators=15)
    )
    model = Pipeline([("prep", prep()), ("model", est)]).fit(df[FEATURES], y)
    sc = scored_for(model, df.assign(y=y), "y", "binary", positive=1)
    ex = explain.explain(sc, model, explain.ExplainParams(sample_size=80))
    assert (ex.explainer, ex.units) == (explain.TREE, explain.LOG_ODDS) and not ex.notes
    assert ex.additivity.passed


def test_explain_params_round_trip_through_a_dict_and_ignore_unknown_keys():
    p = explain.ExplainParams(sample_size=120, approximate=True, method="agnostic", n_permutations=24, seed=3)
    assert explain.ExplainParams.from_dict(p.to_dict()) == p
    assert explain.ExplainParams.from_dict({**p.to_dict(), "from_a_newer_version": 1}) == p
    assert explain.ExplainParams.from_dict({}) == explain.ExplainParams()
    assert p.to_dict() == {
        "sample_size": 120,
        "approximate": True,
        "method": "agnostic",
        "background_size": explain.DEFAULT_BACKGROUND,
        "n_permutations": 24,
        "seed": 3,
    }


class _ThreadRecorder(ClassifierMixin, BaseEstimator):
    """A logistic regression with ``n_jobs`` workers that records, at each fit, the BLAS / OpenMP threads it may
    start (threadpoolctl) and its own n_jobs."""

    seen: list[tuple[int, Any]] = []

    def __init__(self, n_jobs: int | None = None):
        self.n_jobs = n_jobs

    def fit(self, X, y):
        from threadpoolctl import threadpool_info

        pools = [p["num_threads"] for p in threadpool_info()]
        type(self).seen.append((max(pools, default=1), self.n_jobs))
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.mark.parametrize("n_jobs", [-1, 2, 64])
def test_drop_column_refits_cap_workers_times_threads_to_the_cores(n_jobs, monkeypatch):
    """The model's own workers (n_jobs, capped at the cores) × the BLAS / OpenMP threads of each refit stay within
    the cores (no oversubscription); the caller's thread limits are restored afterwards; the numbers are the
    uncapped run's."""
    from threadpoolctl import threadpool_info

    cores = 4
    monkeypatch.setattr("joblib.cpu_count", lambda *a, **k: cores)
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = np.where(X["a"] + rng.normal(0, 0.5, 300) > 0, "y", "n")
    model = make_pipeline(StandardScaler(), _ThreadRecorder(n_jobs=n_jobs)).fit(X, y)
    plan = explain.refit_threads(model)
    workers = {-1: cores, 2: 2, 64: cores}[n_jobs]
    assert (plan.cores, plan.workers, plan.inner) == (cores, workers, cores // workers)
    assert plan.capped_n_jobs == ({"_threadrecorder__n_jobs": cores} if n_jobs == 64 else {})

    before = [p["num_threads"] for p in threadpool_info()]
    _ThreadRecorder.seen = []
    with threadpool_limits(limits=cores):  # as if BLAS / OpenMP had started a thread per core
        capped = explain.drop_column_importance(model, X, y, features=["a", "b"], task="binary", folds=3)
        monkeypatch.setattr(explain, "threadpool_limits", lambda limits: threadpool_limits(limits=cores))
        uncapped = explain.drop_column_importance(model, X, y, features=["a", "b"], task="binary", folds=3)
    refits = _ThreadRecorder.seen[: 3 * 3]
    assert len(refits) == 9
    assert all(threads * min(workers, jobs if jobs > 0 else cores) <= cores for threads, jobs in refits)
    assert all(threads == cores // workers for threads, _ in refits)
    assert all(jobs == (cores if n_jobs == 64 else n_jobs) for _, jobs in refits)
    assert [p["num_threads"] for p in threadpool_info()] == before  # limits restored
    pd.testing.assert_frame_equal(
        capped.table.drop(columns="fold_benefits"), uncapped.table.drop(columns="fold_benefits")
    )


def test_drop_column_leaves_a_one_worker_models_threads_alone(monkeypatch):
    """No n_jobs (one worker): BLAS / OpenMP keep their defaults — HistGradientBoosting's OpenMP threads are the
    model's own parallelism, not an oversubscription."""
    calls = []
    monkeypatch.setattr(explain, "threadpool_limits", lambda limits: calls.append(limits))
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = np.where(X["a"] > 0, "y", "n")
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    assert explain.refit_threads(model).workers == 1
    explain.drop_column_importance(model, X, y, features=["a"], task="binary", folds=3)
    assert calls == []


def test_overlapping_drop_column_runs_leave_the_process_thread_limits_as_they_were(monkeypatch):
    """threadpoolctl's limits are the whole process's (every session's BLAS): two runs at once in a shared server
    take turns setting and restoring them, so neither restores the other's limit and the server never stays at
    one thread."""
    import threading

    from threadpoolctl import threadpool_info

    monkeypatch.setattr("joblib.cpu_count", lambda *a, **k: 4)
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = np.where(X["a"] + rng.normal(0, 0.5, 200) > 0, "y", "n")
    model = make_pipeline(StandardScaler(), _ThreadRecorder(n_jobs=2)).fit(X, y)
    before = [p["num_threads"] for p in threadpool_info()]
    errors = []

    def run():
        try:
            explain.drop_column_importance(model, X, y, features=["a", "b"], task="binary", folds=3)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert errors == [] and not any(w.is_alive() for w in workers)
    assert [p["num_threads"] for p in threadpool_info()] == before
    assert not explain._THREAD_LIMITS_LOCK.locked()


def test_an_unknown_row_id_says_which_ids_the_dataset_has(tiny_workspace):
    """Found by the QA round: the id of a training row typed on the Importance page (explaining validation) got
    "Check the id, or pick the row by position", with nothing to check it against."""
    from explore.core.workspace import open_workspace, read_workspace, score
    from explore.errors import AnalysisError
    from explore.importance.explain import find_row

    sc = score(open_workspace(read_workspace(tiny_workspace)), "validation")
    with pytest.raises(AnalysisError) as err:
        find_row(sc, row_id="no such id")
    said = str(err.value)
    assert f"its {sc.n:,} ids: {str(sc.ids[0])!r}" in said and repr(str(sc.ids[-1])) in said
    assert "choose the dataset that holds the row in the sidebar" in said
