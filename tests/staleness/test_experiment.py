"""Performance over time and the staleness experiment (explore/staleness/experiment.py), on planted synthetic data."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from explore.core.store import Store
from explore.core.workspace import open_workspace, read_workspace, score
from explore.errors import AnalysisError, ExperimentCancelled, ModelError
from explore.slices.definition import Condition, SliceDefinition
from explore.staleness.charts import (
    calendar_chart,
    performance_chart,
    rates_chart,
    staleness_chart,
    support_chart,
    time_to_stale_sentence,
)
from explore.staleness.experiment import (
    BAD_METRIC,
    NO_MODEL,
    TOO_FEW_CUTOFFS,
    StalenessParams,
    StalenessResult,
    check_refittable,
    experiment_key,
    load_experiment,
    performance_over_time,
    save_experiment,
    staleness_experiment,
    staleness_metrics,
)
from explore.staleness.windows import apply_windows, time_windows, windows_for
from tests.helpers import frame, make_workspace

CLASSES = np.array(["neg", "pos"])
CHANGE_MONTH = 12  # 2023-01


def _months(n_per: int, months: int, rng: np.random.Generator) -> tuple[np.ndarray, pd.Series]:
    m = np.repeat(np.arange(months), n_per)
    start = pd.Timestamp("2022-01-01")
    t = pd.Series([start + pd.DateOffset(months=int(k)) for k in m]) + pd.to_timedelta(
        rng.integers(0, 27, len(m)), unit="D"
    )
    return m, t


def planted(kind: str, *, n_per: int = 300, months: int = 24, seed: int = 0) -> pd.DataFrame:
    """Binary data by month. ``concept``: from month 12 the label follows x2 instead of x1 (concept drift).
    ``hard``: months 12–15 have 30 % flipped labels (a hard period, same concept throughout)."""
    rng = np.random.default_rng(seed)
    m, t = _months(n_per, months, rng)
    n = len(m)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    if kind == "concept":
        z = np.where(m < CHANGE_MONTH, 2.5 * x1, 2.5 * x2)
        y = rng.random(n) < 1 / (1 + np.exp(-z))
    else:
        y = rng.random(n) < 1 / (1 + np.exp(-2.5 * x1))
        hard = (m >= 12) & (m < 16)
        y = np.where(hard & (rng.random(n) < 0.3), ~y, y)
    return pd.DataFrame({"t": t, "x1": x1, "x2": x2, "y": np.where(y, "pos", "neg")})


def _model() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression())


def _run(df: pd.DataFrame, params: StalenessParams, **kw) -> StalenessResult:
    w = time_windows(df["t"], by="month", min_rows=50)
    model = _model().fit(df[["x1", "x2"]].iloc[:1000], df["y"].iloc[:1000])
    return staleness_experiment(
        model,
        df,
        w,
        features=["x1", "x2"],
        label="y",
        task="binary",
        classes=CLASSES,
        positive_index=1,
        params=params,
        **kw,
    )


PARAMS = StalenessParams(cutoffs=(4, 6, 8), train_windows=4, metric="ROC AUC", threshold=0.05)


def test_planted_concept_drift_gap_grows_with_age_and_time_to_stale_lands_at_the_change():
    res = _run(planted("concept"), PARAMS)
    s = res.summary.set_index("age_windows")
    # the gap at age 0 is exactly 0: the fresh model of the cutoff's first window is the cutoff's model
    assert (res.curves.loc[res.curves["age_windows"] == 0, "gap"] == 0).all()
    # the loss grows with data age and is large once every cutoff is past the change
    assert stats.spearmanr(s.index, s["loss_mean"]).statistic > 0.8
    assert s.loc[12:, "loss_mean"].min() > 0.2
    assert s.loc[:3, "loss_mean"].abs().max() < 0.02
    # each cutoff goes stale within 3 months after the planted change (the fresh model needs post-change data)
    change = pd.Timestamp("2023-01-01")
    for _, row in res.per_cutoff.iterrows():
        assert row["went_stale"]
        assert change <= row["stale_date"] <= change + pd.DateOffset(months=3)
        assert (
            row["stale_age_windows"]
            == (row["stale_date"].year - row["cutoff_start"].year) * 12
            + row["stale_date"].month
            - row["cutoff_start"].month
        )
    e = res.estimate
    assert e.n_stale == e.n_cutoffs == 3
    assert e.low_windows <= e.median_windows <= e.high_windows
    # cutoffs 4, 6, 8 months before ... the change at month 12: time to stale shrinks by 2 per cutoff
    ages = res.per_cutoff.sort_values("cutoff")["stale_age_windows"].to_numpy()
    assert np.all(np.diff(ages) < 0)
    sentence = time_to_stale_sentence(res)
    assert "loses 5 points of ROC AUC" in sentence and "month" in sentence


def test_hard_period_without_concept_drift_dips_the_raw_curve_but_not_the_gap():
    df = planted("hard")
    res = _run(df, PARAMS)
    c = res.curves
    hard = (c["window"] >= 12) & (c["window"] < 16)
    # every model dips in the hard months ...
    assert c.loc[~hard, "stale"].mean() - c.loc[hard, "stale"].mean() > 0.08
    assert c.loc[hard, "fresh"].mean() < c.loc[~hard, "fresh"].mean() - 0.08
    assert c["loss"].abs().max() < 0.03  # ... but the gap stays near zero
    assert res.estimate.n_stale == 0
    assert "No training cutoff went stale" in time_to_stale_sentence(res)
    # judged on the raw metric instead (same fits, no refitting), the hard period looks like staleness
    raw = res.retarget(criterion="metric", threshold=0.8)
    assert raw.params.criterion == "metric" and raw.fits is res.fits
    assert raw.estimate.n_stale == 3
    assert (raw.per_cutoff["stale_date"] == pd.Timestamp("2023-01-01")).all()


def test_progress_is_reported_per_fit_and_cancel_stops_between_fits():
    df = planted("concept", n_per=120)
    calls: list[tuple[float, str]] = []
    res = _run(df, PARAMS, progress=lambda f, m: calls.append((f, m)))
    n_fits = len(res.fits)
    assert n_fits == 20  # spans ending at months 4..23
    fit_calls = [m for _, m in calls if m.startswith("Fit ")]
    assert len(fit_calls) == n_fits and fit_calls[0].startswith(f"Fit 1 of {n_fits}")
    assert [f for f, _ in calls] == sorted(f for f, _ in calls) and calls[-1][0] == 1.0
    checks = {"n": 0}

    def cancel_after_three() -> bool:
        checks["n"] += 1
        return checks["n"] > 3

    with pytest.raises(ExperimentCancelled, match="cancelled after 3 of 20 fits"):
        _run(df, PARAMS, should_cancel=cancel_after_three)


class _Opaque:
    """A model that predicts but cannot be cloned (no get_params)."""

    def predict(self, X):
        return np.zeros(len(X))


def test_models_that_cannot_be_refit_get_a_clear_message():
    with pytest.raises(ModelError) as exc:
        check_refittable(None)
    assert str(exc.value) == NO_MODEL
    with pytest.raises(ModelError, match="cannot be cloned for refitting") as exc:
        check_refittable(_Opaque(), name="current")
    assert "_Opaque" in str(exc.value) and "Performance over time still works" in str(exc.value)
    df = planted("concept", n_per=60)
    w = time_windows(df["t"], by="month", min_rows=10)
    with pytest.raises(ModelError, match="cannot be cloned"):
        staleness_experiment(
            _Opaque(),
            df,
            w,
            features=["x1", "x2"],
            label="y",
            task="binary",
            classes=CLASSES,
            positive_index=1,
            params=PARAMS,
        )


def test_bad_parameters_give_messages():
    df = planted("concept", n_per=60)
    with pytest.raises(AnalysisError) as exc:
        _run(df, StalenessParams(cutoffs=(4, 6), train_windows=4, metric="ROC AUC"))
    assert str(exc.value) == TOO_FEW_CUTOFFS.format(need=3, n=2)
    with pytest.raises(AnalysisError, match="has only 2 window"):
        _run(df, StalenessParams(cutoffs=(2, 6, 8), train_windows=4, metric="ROC AUC"))
    with pytest.raises(AnalysisError, match="at least one window after it"):
        _run(df, StalenessParams(cutoffs=(4, 6, 24), train_windows=4, metric="ROC AUC"))
    with pytest.raises(AnalysisError) as exc:
        _run(df, StalenessParams(cutoffs=(4, 6, 8), train_windows=4, metric="base rate"))
    assert str(exc.value).startswith(BAD_METRIC.split("{")[0] + "'base rate'")
    with pytest.raises(AnalysisError, match="Unknown metric"):
        _run(df, StalenessParams(cutoffs=(4, 6, 8), train_windows=4, metric="MAE"))
    # A misspelt metric is unknown, not "a rate or a bias" (the message said so for 'auc').
    with pytest.raises(AnalysisError, match=r"^Unknown metric 'auc'\. Choose one of: .*ROC AUC"):
        _run(df, StalenessParams(cutoffs=(4, 6, 8), train_windows=4, metric="auc"))
    with pytest.raises(AnalysisError, match="criterion"):
        _run(df, StalenessParams(cutoffs=(4, 6, 8), train_windows=4, metric="ROC AUC", criterion="vibes"))


def test_results_round_trip_through_json_and_the_store(tmp_path):
    df = planted("concept", n_per=80)
    res = _run(
        df, StalenessParams(cutoffs=(4, 8, 12), train_windows=4, metric="accuracy", threshold=0.05, horizon=6)
    )
    assert res.curves["age_windows"].max() == 6
    back = StalenessResult.from_dict(json.loads(json.dumps(res.to_dict())))
    pd.testing.assert_frame_equal(back.curves, res.curves, check_dtype=False)
    pd.testing.assert_frame_equal(back.per_cutoff, res.per_cutoff, check_dtype=False)
    assert back.params == res.params and back.estimate.n_stale == res.estimate.n_stale
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    w = time_windows(df["t"], by="month", min_rows=50)
    key = experiment_key(
        res.params,
        task="binary",
        windows=w,
        model_fingerprint="abc",
        data_fingerprints=["d1"],
        datasets=["train"],
    )
    assert load_experiment(store, workspace="ws", key=key) is None
    save_experiment(store, res, workspace="ws", key=key, context={"datasets": ["train"]})
    loaded = load_experiment(store, workspace="ws", key=key)
    assert loaded is not None and loaded.estimate.n_stale == res.estimate.n_stale
    assert loaded.estimate.median_windows == res.estimate.median_windows or np.isnan(
        res.estimate.median_windows
    )
    pd.testing.assert_frame_equal(loaded.summary, res.summary, check_dtype=False)
    # the metric and the criterion do not change the fits: same key; retarget reads the saved curves
    judged = StalenessParams(
        cutoffs=(4, 8, 12), train_windows=4, metric="ROC AUC", criterion="metric", threshold=0.7, horizon=6
    )
    assert (
        experiment_key(
            judged,
            task="binary",
            windows=w,
            model_fingerprint="abc",
            data_fingerprints=["d1"],
            datasets=["train"],
        )
        == key
    )
    assert loaded.retarget(metric="ROC AUC").curves["stale"].between(0, 1).all()
    # any change of the fits' parameters, model or data is another experiment
    other = StalenessParams(cutoffs=(4, 8, 12), train_windows=3, metric="accuracy", threshold=0.05, horizon=6)
    assert (
        experiment_key(
            other,
            task="binary",
            windows=w,
            model_fingerprint="abc",
            data_fingerprints=["d1"],
            datasets=["train"],
        )
        != key
    )
    assert (
        experiment_key(
            res.params,
            task="binary",
            windows=w,
            model_fingerprint="xyz",
            data_fingerprints=["d1"],
            datasets=["train"],
        )
        != key
    )
    assert (
        experiment_key(
            res.params,
            task="binary",
            windows=w,
            model_fingerprint="abc",
            data_fingerprints=["d2"],
            datasets=["train"],
        )
        != key
    )


def test_regression_experiment_signs_the_loss_for_lower_is_better_metrics():
    rng = np.random.default_rng(7)
    m, t = _months(150, 16, rng)
    x = rng.normal(size=len(m))
    y = np.where(m < 8, 3 * x, -3 * x) + rng.normal(0, 0.3, len(m))  # the relation flips at month 8
    df = pd.DataFrame({"t": t, "x": x, "y": y})
    w = time_windows(df["t"], by="month", min_rows=20)
    res = staleness_experiment(
        LinearRegression().fit(df[["x"]], df["y"]),
        df,
        w,
        features=["x"],
        label="y",
        task="regression",
        classes=None,
        positive_index=None,
        params=StalenessParams(cutoffs=(3, 4, 5), train_windows=3, metric="MAE", threshold=0.5),
    )
    late = res.curves[res.curves["window"] >= 11]
    assert (late["stale"] > late["fresh"]).all() and (late["loss"] > 1).all()
    np.testing.assert_allclose(res.curves["loss"], res.curves["stale"] - res.curves["fresh"])
    assert res.estimate.n_stale == 3 and not res.estimate.higher_is_better
    assert "MAE" in staleness_metrics("regression") and "bias" not in staleness_metrics("regression")


def test_multiclass_experiment_handles_a_class_missing_from_a_training_span():
    rng = np.random.default_rng(8)
    m, t = _months(200, 12, rng)
    x = rng.normal(size=len(m))
    y = np.where(x < -0.5, "a", np.where(x < 0.5, "b", "c")).astype(object)
    y[(m < 4) & (y == "c")] = "b"  # class 'c' only appears from month 4
    df = pd.DataFrame({"t": t, "x": x, "y": y})
    w = time_windows(df["t"], by="month", min_rows=20)
    model = LogisticRegression().fit(df[["x"]], df["y"])
    res = staleness_experiment(
        model,
        df,
        w,
        features=["x"],
        label="y",
        task="multiclass",
        classes=np.array(["a", "b", "c"]),
        positive_index=None,
        params=StalenessParams(cutoffs=(3, 5, 7), train_windows=3, metric="accuracy", threshold=0.05),
    )
    # the model trained before 'c' existed never predicts it: it is stale from the start, the others are not
    by_cutoff = res.curves.groupby("cutoff")["loss"].mean()
    assert by_cutoff.loc[3] > 0.1 and abs(by_cutoff.loc[7]) < 0.05
    assert "ROC AUC" not in res.metrics  # the multiclass AUCs are measured only when asked for
    log_loss_res = res.retarget(metric="log loss")
    assert np.isfinite(log_loss_res.curves["stale"]).all()
    assert (log_loss_res.curves["loss"] == log_loss_res.curves["stale"] - log_loss_res.curves["fresh"]).all()
    with pytest.raises(AnalysisError, match="was not measured"):
        res.retarget(metric="ROC AUC")


# ---- performance over time -------------------------------------------------------------------------


def _scored(tmp_path, task: str, **kw):
    df = frame(800, task=task, seed=3)
    path = make_workspace(
        tmp_path, task=task, datasets={"train": df.iloc[:400], "production": df.iloc[400:]}, **kw
    )
    ws = open_workspace(read_workspace(path))
    return ws, score(ws, "production", None if not ws.models else "current")


def test_performance_over_time_matches_sklearn_per_window(tmp_path):
    ws, sc = _scored(tmp_path, "binary")
    w = windows_for(sc, by="week", min_rows=30)
    pot = performance_over_time(sc, w, metrics=["ROC AUC", "accuracy"])
    for k in range(w.n_windows):
        rows = w.codes == k
        auc = pot.series("ROC AUC").set_index("window").loc[k]
        assert auc["support"] == rows.sum()
        assert auc["value"] == pytest.approx(roc_auc_score(sc.y[rows], sc.score[rows]), abs=1e-12)
        assert auc["ci_low"] <= auc["value"] <= auc["ci_high"]
        assert bool(auc["too_few"]) == (rows.sum() < 30)
        acc = pot.series("accuracy").set_index("window").loc[k, "value"]
        assert acc == pytest.approx(accuracy_score(sc.y[rows], sc.pred[rows]))
    rates = pot.rates.set_index(["series", "window"])
    pos = sc.positive_index
    for k in range(w.n_windows):
        rows = w.codes == k
        assert rates.loc[("label", k), "value"] == pytest.approx(np.mean(sc.y[rows] == pos))
        assert rates.loc[("prediction", k), "value"] == pytest.approx(np.mean(sc.pred[rows] == pos))
    assert {"start", "label", "too_few", "note"} <= set(pot.table.columns)
    spec = performance_chart(pot, "ROC AUC").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["area", "line", "point"]
    bars = support_chart(pot).to_dict()
    assert bars["mark"]["type"] == "bar" and len(bars["datasets"][bars["data"]["name"]]) == w.n_windows
    assert rates_chart(pot).to_dict()["layer"][1]["mark"]["type"] == "line"


def test_performance_within_a_slice_uses_only_its_rows(tmp_path):
    ws, sc = _scored(tmp_path, "binary")
    w = windows_for(sc, by="month", min_rows=10)
    mask = (sc.frame["city"] == "Paris").to_numpy()
    paris = SliceDefinition((Condition("city", "in", values=("Paris",)),))
    pot = performance_over_time(sc, w, metrics=["accuracy"], slice_def=paris)
    assert pot.in_slice
    for k in range(w.n_windows):
        rows = (w.codes == k) & mask
        row = pot.series("accuracy").set_index("window").loc[k]
        assert row["support"] == rows.sum()
        assert row["value"] == pytest.approx(accuracy_score(sc.y[rows], sc.pred[rows]))


def test_performance_over_time_for_regression_and_multiclass(tmp_path):
    _, sc = _scored(tmp_path / "r", "regression")
    w = windows_for(sc, by="rows", n_windows=4, min_rows=10)
    pot = performance_over_time(sc, w)
    assert "MAE" in pot.metrics and "bias" not in pot.metrics
    for k in range(w.n_windows):
        rows = w.codes == k
        assert pot.series("MAE").set_index("window").loc[k, "value"] == pytest.approx(
            mean_absolute_error(sc.y[rows], sc.pred[rows])
        )
    r = pot.rates.set_index(["series", "window"])
    assert r.loc[("label", 0), "value"] == pytest.approx(sc.y[w.codes == 0].mean())
    assert r.loc[("prediction", 2), "value"] == pytest.approx(sc.pred[w.codes == 2].mean())
    assert r.loc[("label", 0), "ci_low"] < r.loc[("label", 0), "value"] < r.loc[("label", 0), "ci_high"]

    _, mc = _scored(tmp_path / "m", "multiclass")
    wm = windows_for(mc, by="month", min_rows=10)
    potm = performance_over_time(mc, wm)
    shares = potm.rates[potm.rates["series"] == "label"].groupby("window")["value"].sum()
    np.testing.assert_allclose(shares.to_numpy(), 1.0)
    assert set(potm.rates["class"]) == {"low", "mid", "high"}


def test_predictions_only_mode_needs_no_model(tmp_path):
    df = frame(600, seed=4)
    rng = np.random.default_rng(4)
    df["pred_score"] = np.clip(
        0.5 + 0.3 * ((df["income"] == ">50K") - 0.5) + rng.normal(0, 0.2, len(df)), 0, 1
    )
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"production": df},
        columns={"label": "income", "time": "when", "score": "pred_score", "positive": ">50K"},
    )
    ws = open_workspace(read_workspace(path))
    assert not ws.models
    sc = score(ws, "production", None)
    w = windows_for(sc, by="month", min_rows=10)
    pot = performance_over_time(sc, w, metrics=["ROC AUC"])
    for k in range(w.n_windows):
        rows = w.codes == k
        assert pot.series("ROC AUC").loc[k, "value"] == pytest.approx(
            roc_auc_score(sc.y[rows], sc.score[rows])
        )
    with pytest.raises(ModelError, match="predictions-only"):
        check_refittable(ws.models.get("current"))


def test_workspace_experiment_end_to_end_with_charts(tmp_path):
    df = frame(1200, seed=5)  # 6-hourly rows: ~10 monthly windows
    path = make_workspace(tmp_path, datasets={"train": df.iloc[:600], "production": df.iloc[600:]})
    ws = open_workspace(read_workspace(path))
    data = pd.concat([ws.dataset("train"), ws.dataset("production")], ignore_index=True)
    t = pd.concat([ws.times["train"], ws.times["production"]], ignore_index=True)
    w = time_windows(t, by="month", min_rows=50)
    res = staleness_experiment(
        ws.model(),
        data,
        w,
        features=ws.feature_names,
        label="income",
        task=ws.task,
        classes=ws.classes,
        positive_index=ws.positive_index,
        params=StalenessParams(
            cutoffs=(2, 3, 4), train_windows=2, metric="ROC AUC", max_fit_rows=300, max_eval_rows=100
        ),
    )
    assert res.fits["rows"].max() <= 300 and res.curves["support"].max() <= 100
    assert (res.fits["seconds"] >= 0).all() and res.total_seconds > 0
    for value in ("loss", "stale"):
        spec = staleness_chart(res, value=value).to_dict()
        assert len(spec["layer"]) >= 3
    assert calendar_chart(res).to_dict()["mark"]["type"] == "line"
    codes = apply_windows(w, ws.times["production"])
    assert (codes >= 0).all()


def test_rows_without_labels_are_skipped_and_codes_can_come_from_a_larger_frame():
    df = planted("concept", n_per=60)
    labelled = planted("concept", n_per=60)
    df.loc[df.index[::3], "y"] = None  # a third of the rows are not labelled yet
    w_all = time_windows(labelled["t"], by="month", min_rows=20)
    model = _model().fit(labelled[["x1", "x2"]].iloc[:500], labelled["y"].iloc[:500])
    common = dict(
        features=["x1", "x2"],
        label="y",
        task="binary",
        classes=CLASSES,
        positive_index=1,
        params=replace(PARAMS, horizon=2),
    )
    # windows made on the labelled rows only, codes for every row of the frame
    keep = df["y"].notna().to_numpy()
    w = time_windows(df["t"][keep], by="month", min_rows=20)
    res = staleness_experiment(model, df, w, codes=apply_windows(w, df["t"]), **common)
    direct = staleness_experiment(model, df[keep].reset_index(drop=True), w, **common)
    assert len(res.curves) == 9  # 3 cutoffs x ages 0..2
    pd.testing.assert_frame_equal(res.curves, direct.curves)
    assert res.curves["support"].max() <= keep.reshape(24, 60).sum(axis=1).max()
    with pytest.raises(AnalysisError, match="row codes"):
        staleness_experiment(model, df.iloc[:100], w_all, **common)  # codes made on other rows


def test_default_thresholds_follow_the_metric():
    from explore.staleness.experiment import default_threshold

    assert default_threshold("ROC AUC", "gap", 0.85) == 0.02
    assert default_threshold("ROC AUC", "metric", 0.85) == 0.8
    assert default_threshold("MAE", "gap", 3200.0) == 160.0  # 5 % of the current value, in label units
    assert default_threshold("log loss", "metric", 0.40) == 0.44  # 10 % above for lower-is-better metrics
    assert default_threshold("accuracy", "gap", float("nan")) == 0.02


def test_sentences_say_units_and_warn_when_the_threshold_is_within_noise():
    df = planted("concept", n_per=60)  # small windows: a window's AUC is only known to about ±0.1
    res = _run(df, StalenessParams(cutoffs=(4, 6, 8), train_windows=4, metric="ROC AUC", threshold=0.01))
    assert res.estimate.noise > 0.05
    assert "Caution" in time_to_stale_sentence(res) and "within noise" in time_to_stale_sentence(res)
    assert "Caution" not in time_to_stale_sentence(res.retarget(threshold=0.3))
    mae = res.retarget(metric="log loss", threshold=0.1)
    assert "worse in log loss than a freshly retrained model" in time_to_stale_sentence(mae)
    raw = res.retarget(criterion="metric", threshold=0.75)
    sentence = time_to_stale_sentence(raw)
    assert "falls below 0.75 ROC AUC" in sentence or "fell below 0.75 ROC AUC" in sentence
