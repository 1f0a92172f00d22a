"""explore/checks/baseline.py: the model against a logistic/linear baseline and a dummy, paired."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.metrics import roc_auc_score, root_mean_squared_error
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from explore.checks import baseline
from explore.core.workspace import score
from explore.errors import AnalysisError
from tests.checks.test_compare import table_workspace


def world(n: int, *, kind: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], n)
    if kind == "linear":
        logit = 1.5 * x1 - 1.0 * x2 + (colour == "red") * 0.8
    else:  # a checkerboard: no linear model can separate it
        logit = 4.0 * np.sign(x1) * np.sign(x2)
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "pos", "neg")
    df = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "y": y})
    df.loc[rng.random(n) < 0.05, "x2"] = np.nan
    return df


def gbm(n_estimators: int = 60) -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["x1", "x2"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["colour"]),
        ]
    )
    return Pipeline(
        [
            ("prep", prep),
            ("clf", GradientBoostingClassifier(n_estimators=n_estimators, max_depth=3, random_state=0)),
        ]
    )


def _ws(kind: str, n: int = 4000):
    train, valid = world(n, kind=kind, seed=1), world(n, kind=kind, seed=2)
    model = gbm().fit(train[["x1", "x2", "colour"]], train["y"])
    return table_workspace(
        {"train": train, "validation": valid}, {"current": model}, columns={"positive": "pos"}
    )


def test_a_linear_baseline_as_good_as_the_model_is_reported():
    ws = _ws("linear")
    res = baseline.simple_baseline(ws)
    v = res.verdicts.set_index("baseline")
    assert res.headline == "ROC AUC"
    assert v.loc["logistic", "verdict"] in (baseline.VERDICT_AS_GOOD, baseline.VERDICT_WORSE)
    assert v.loc["majority", "verdict"] == baseline.VERDICT_BETTER
    assert res.passed is False
    assert "as good" in res.summary() or "better than model" in res.summary()
    # The baseline's AUC is the AUC of a logistic pipeline fitted the same way (cross-checked with sklearn).
    sc = score(ws, "validation")
    X = baseline._as_text(sc.X)
    train = ws.dataset("train")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = baseline.baseline_models("binary", X)["logistic"].fit(
            baseline._as_text(train[["x1", "x2", "colour"]]), train["y"]
        )
    auc = roc_auc_score(sc.y_raw == "pos", ref.predict_proba(X)[:, list(ref.classes_).index("pos")])
    assert v.loc["logistic", "other_value"] == pytest.approx(auc)
    assert v.loc["majority", "other_value"] == pytest.approx(0.5)


def test_a_model_that_earns_its_complexity_passes():
    res = baseline.simple_baseline(_ws("checkerboard"))
    assert (res.verdicts["verdict"] == baseline.VERDICT_BETTER).all()
    assert res.passed is True
    assert "beats the logistic baseline" in res.summary()


def test_regression_baseline_and_slices():
    rng = np.random.default_rng(0)
    n = 1500
    df = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "colour": rng.choice(["a", "b"], n)}
    )
    df["y"] = 2 * df["x1"] + rng.normal(size=n)
    model = make_pipeline(
        ColumnTransformer([("num", "passthrough", ["x1", "x2"]), ("cat", OneHotEncoder(), ["colour"])]),
        GradientBoostingRegressor(n_estimators=30, random_state=0),
    ).fit(df.iloc[:1000][["x1", "x2", "colour"]], df.iloc[:1000]["y"])
    ws = table_workspace(
        {"train": df.iloc[:1000], "test": df.iloc[1000:].reset_index(drop=True)},
        {"current": model},
        columns={"task": "regression"},
    )
    res = baseline.simple_baseline(ws, slices=["colour"])
    assert res.headline == "RMSE"
    assert set(res.cells["slice"]) == {"all rows", "colour = a", "colour = b"}
    mean_row = res.verdicts.set_index("baseline").loc["mean"]
    test = ws.dataset("test")
    assert mean_row["other_value"] == pytest.approx(
        root_mean_squared_error(test["y"], np.full(len(test), df.iloc[:1000]["y"].mean()))
    )
    assert mean_row["verdict"] == baseline.VERDICT_BETTER


def test_predictions_only_workspace_compares_the_logged_predictions():
    df = world(3000, kind="linear", seed=3)
    df["pred"] = np.where(df["x1"] > 0, "pos", "neg")
    ws = table_workspace(
        {"train": df.iloc[:2000], "validation": df.iloc[2000:].reset_index(drop=True)},
        {},
        columns={"positive": "pos", "prediction": "pred", "features": ["x1", "x2", "colour"]},
    )
    res = baseline.simple_baseline(ws)
    assert res.candidate == "predictions" and res.headline == "accuracy"
    assert res.passed is False  # a one-feature threshold rule is worse than the logistic baseline


def test_training_dataset_is_required_and_named_clearly():
    df = world(300, kind="linear", seed=4)
    ws = table_workspace(
        {"validation": df},
        {"current": gbm(5).fit(df[["x1", "x2", "colour"]], df["y"])},
        columns={"positive": "pos"},
    )
    with pytest.raises(AnalysisError, match="none of this workspace's datasets is named like one"):
        baseline.simple_baseline(ws)
    with pytest.raises(AnalysisError, match="no dataset named 'nope'"):
        baseline.simple_baseline(ws, train="nope")
    res = baseline.simple_baseline(ws, train="validation", datasets=["validation"])
    assert any("both the training and an evaluation dataset" in n for n in res.notes)


def skewed_engine_workspace(root, monkeypatch, n: int = 6000, sample: int = 2000):
    """A training log and a validation log read by the engine (DuckDB), about 20 % positives, with a row sample of
    ``sample`` rows the engine draws in equal shares per class; and the validation rows themselves."""
    from explore.core.upload import toml_text

    rng = np.random.default_rng(11)
    frames = {}
    for name in ("train", "valid"):
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        p = 1 / (1 + np.exp(-(1.2 * x1 - 0.8 * x2 - 1.8)))
        y = (rng.random(n) < p).astype("int8")
        when = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 120, n)), unit="D")
        frames[name] = pd.DataFrame({"when": when, "x1": x1, "x2": x2, "p": p.round(3), "y": y})
        frames[name]["pred"] = (frames[name]["p"] >= 0.5).astype("int8")
        for month, part in frames[name].groupby(frames[name]["when"].dt.strftime("%Y-%m")):
            (root / name / f"month={month}").mkdir(parents=True)
            part.to_parquet(root / name / f"month={month}" / "part-0.parquet", index=False)
    columns = {"label": "y", "time": "when", "prediction": "pred", "score": "p", "features": ["x1", "x2"]}
    datasets = {d: {"path": d, "engine": "duckdb"} for d in frames}
    (root / "workspace.toml").write_text(toml_text({"columns": columns, "datasets": datasets}))
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", sample)
    return root / "workspace.toml", frames["valid"]


def test_on_an_engine_sample_the_baseline_measures_every_rows_class_mix(tmp_path, monkeypatch):
    """Found on an engine log: the Baseline fitted and compared on the engine's sample, drawn in equal shares per
    class, so it reported the model's accuracy as 0.641 where every row gives 0.70. The sampled rows are now kept
    in every row's class shares (fit and comparison), and the notes say so."""
    from explore.core.workspace import open_workspace, read_workspace

    toml, valid = skewed_engine_workspace(tmp_path, monkeypatch)
    ws = open_workspace(read_workspace(toml))
    drawn = score(ws, "valid", None)
    assert drawn.frame["y"].mean() == pytest.approx(0.5, abs=0.01)  # the engine's sample: equal shares
    res = baseline.simple_baseline(ws, candidate=None, train="train", datasets=["valid"], slices=[])
    assert any(n.startswith("Fitted on train: the engine's sample is stratified by label") for n in res.notes)
    assert any(
        n.startswith("Compared on valid: the engine's sample is stratified by label") for n in res.notes
    )
    cells = res.cells[(res.cells["metric"] == "accuracy") & (res.cells["baseline"] == "logistic")].iloc[0]
    every_row = float((valid["y"] == valid["pred"]).mean())
    se = np.sqrt(every_row * (1 - every_row) / cells["n"])
    assert abs(cells["candidate_value"] - every_row) < 4 * se
    as_drawn = float((drawn.frame["y"] == drawn.frame["pred"]).mean())
    assert abs(as_drawn - every_row) > 8 * se  # what the page reported before
    assert valid["y"].mean() < 0.3  # the kept rows' class shares are every row's (about 20 % positives)
