"""Performance estimation without labels (CBPE): the expected confusion matrix against sklearn, the
calibration, the parts of a partly labelled window, the warnings, the messages for bad input, and the
interval's coverage on simulated data with labels withheld."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from explore.core.workspace import open_workspace, read_workspace, score, score_unlabeled
from explore.errors import AnalysisError, LabelError
from explore.staleness import estimation
from explore.staleness.windows import time_windows
from tests.helpers import frame, make_workspace
from tests.staleness.simulate import scored_rows, simulate


def _engine(sc, codes, G):
    rank = sc.score[:, None] if sc.task == "binary" else sc.proba
    return estimation._Engine(codes, sc.pred, rank, G, sc.task, sc.positive_index)


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_known_labels_give_sklearns_metrics(task):
    sc, w, _ = simulate(3000, n_windows=3, task=task, seed=1)
    onehot = np.eye(sc.proba.shape[1])[sc.y]
    got = _engine(sc, w.codes, w.n_windows).metrics(onehot, estimation.ESTIMATED_METRICS)
    avg = "binary" if task == "binary" else "macro"
    for g in range(w.n_windows):
        rows = w.codes == g
        y, p = sc.y[rows], sc.pred[rows]
        auc = (
            skm.roc_auc_score(y, sc.score[rows])
            if task == "binary"
            else skm.roc_auc_score(y, sc.proba[rows], multi_class="ovr", average="macro")
        )
        expected = {
            "accuracy": skm.accuracy_score(y, p),
            "precision": skm.precision_score(y, p, average=avg),
            "recall": skm.recall_score(y, p, average=avg),
            "F1": skm.f1_score(y, p, average=avg),
            "ROC AUC": auc,
        }
        for m, v in expected.items():
            assert got[m][0][g] == pytest.approx(v, abs=1e-9), m
            assert got[m][1][g] >= 0 if m == "ROC AUC" else got[m][1][g] == pytest.approx(0, abs=1e-12)


def test_expected_counts_and_auc_by_brute_force():
    rng = np.random.default_rng(3)
    n = 60
    s = np.round(rng.random(n), 1)  # ties
    c = rng.random(n)  # calibrated probability of the positive class
    sc = scored_rows(
        np.zeros(n, dtype="int64"), np.column_stack([1 - s, s]), pd.Series(np.zeros(n)), task="binary"
    )
    P = np.column_stack([1 - c, c])
    got = _engine(sc, np.zeros(n, dtype="int64"), 1).metrics(P, estimation.ESTIMATED_METRICS)
    pp = sc.pred == 1
    tp, fp, fn = c[pp].sum(), (1 - c[pp]).sum(), c[~pp].sum()
    assert got["accuracy"][0][0] == pytest.approx((tp + (1 - c[~pp]).sum()) / n)
    assert got["precision"][0][0] == pytest.approx(tp / (tp + fp))
    assert got["recall"][0][0] == pytest.approx(tp / (tp + fn))
    assert got["F1"][0][0] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # Expected AUC: pairs i != j weighted c_i (1 - c_j), a tie counting half.
    gt = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
    w = c[:, None] * (1 - c[None, :])
    np.fill_diagonal(w, 0)
    assert got["ROC AUC"][0][0] == pytest.approx((w * gt).sum() / w.sum())
    # The sampling variance of accuracy: independent Bernoulli rows.
    q = np.where(pp, c, 1 - c)
    assert got["accuracy"][1][0] == pytest.approx((q * (1 - q)).sum() / n**2)


def test_calibration_picks_the_better_method_and_improves_log_loss():
    rng = np.random.default_rng(0)
    n = 4000
    s = rng.random(n)
    # A sigmoid distortion: Platt is exact.
    y = (rng.random(n) < 1 / (1 + np.exp(-(3 * np.log(s / (1 - s)) - 1)))).astype("int64")
    res = estimation.calibrate(np.column_stack([1 - s, s]), y, task="binary", positive_index=1)
    assert res.method == "platt"
    assert res.log_loss["platt"] < res.log_loss["raw scores"]
    # A step: isotonic fits it, Platt cannot.
    y2 = (rng.random(n) < np.where(s > 0.5, 0.9, 0.1)).astype("int64")
    res2 = estimation.calibrate(np.column_stack([1 - s, s]), y2, task="binary", positive_index=1)
    assert res2.method == "isotonic"
    assert res2.ece < res2.ece_raw
    assert set(res2.reliability["stage"]) == {"raw scores", "calibrated (isotonic, out of fold)"}
    assert res2.reliability["rows"].sum() == 2 * n
    # A method can be forced (to match another tool's choice); an unknown one is named.
    forced = estimation.calibrate(
        np.column_stack([1 - s, s]), y, task="binary", positive_index=1, method="isotonic"
    )
    assert forced.method == "isotonic" and forced.log_loss == res.log_loss
    with pytest.raises(AnalysisError, match="Calibration is one of auto, isotonic, platt; received 'beta'"):
        estimation.calibrate(np.column_stack([1 - s, s]), y, task="binary", positive_index=1, method="beta")


def test_partial_labels_give_each_part_labelled_as_such():
    sc, w, _ = simulate(6000, n_windows=6, seed=2)
    # Withhold the labels of the second half of window 4 and all of window 5.
    rows4 = np.flatnonzero(w.codes == 4)
    hidden = (w.codes == 5) | np.isin(np.arange(sc.n), rows4[len(rows4) // 2 :])
    lab = scored_rows(
        sc.y[~hidden], sc.proba[~hidden], sc.time[~hidden].reset_index(drop=True), task="binary"
    )
    unl = scored_rows(
        sc.y[hidden], sc.proba[hidden], sc.time[hidden].reset_index(drop=True), task="binary", labelled=False
    )
    est = estimation.estimate_performance(
        lab,
        w,
        unlabeled=unl,
        codes=w.codes[~hidden],
        reference=0,
        params=estimation.EstimationParams(n_boot=5),
    )
    parts = est.table.groupby("window")["part"].apply(set)
    assert parts[0] == {estimation.PART_REALISED, estimation.PART_ESTIMATED_LABELLED}
    assert parts[4] == set(estimation.PARTS)
    assert parts[5] == {estimation.PART_ESTIMATED}
    # The combination: the labelled rows' correct predictions plus the unlabelled rows' expected ones.
    acc = est.table[(est.table["metric"] == "accuracy") & (est.table["window"] == 4)].set_index("part")
    P = est.calibration.calibrator.apply(unl.proba[w.codes[hidden] == 4])
    q = P[np.arange(len(P)), unl.pred[w.codes[hidden] == 4]]
    lab4 = w.codes[~hidden] == 4
    assert acc.loc[estimation.PART_COMBINED, "value"] == pytest.approx(
        ((lab.pred == lab.y)[lab4].sum() + q.sum()) / len(rows4)
    )
    assert acc.loc[estimation.PART_COMBINED, "rows"] == len(rows4)
    lo, hi = acc.loc[estimation.PART_COMBINED, ["ci_low", "ci_high"]]
    assert lo < acc.loc[estimation.PART_COMBINED, "value"] < hi
    assert est.latest_estimate("accuracy")["part"] == estimation.PART_ESTIMATED


def _coverage(task: str, seeds: range) -> dict[str, float]:
    covered: dict[str, list[float]] = {m: [] for m in estimation.ESTIMATED_METRICS}
    for seed in seeds:
        sc, w, _ = simulate(task=task, seed=seed)
        est = estimation.estimate_performance(sc, w, reference=0)
        for m in estimation.ESTIMATED_METRICS:
            real = est.series(m, estimation.PART_REALISED).set_index("window")["value"]
            e = est.series(m, estimation.PART_ESTIMATED_LABELLED).set_index("window")
            covered[m].extend(((e["ci_low"] <= real) & (real <= e["ci_high"])).tolist())
    return {m: float(np.mean(v)) for m, v in covered.items()}


@pytest.mark.slow
@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_interval_covers_the_realised_metric_under_covariate_shift(task):
    """Labels withheld from 24 monthly windows whose features drift: the estimate's 95 % interval covers
    the realised metric in at least 90 % of the windows (5 simulated histories)."""
    coverage = _coverage(task, range(5))
    assert min(coverage.values()) >= 0.9, coverage


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_concept_drift_warning_fires_where_it_is_planted(task):
    sc, w, _ = simulate(task=task, concept_shift_from=16, seed=1)
    est = estimation.estimate_performance(sc, w, reference=0, params=estimation.EstimationParams(n_boot=10))
    flagged = {x.window for x in est.warnings if x.kind == "concept drift"}
    shifted = set(w.labels[16:])
    assert len(flagged & shifted) >= 0.75 * len(shifted)
    assert len(flagged - shifted) <= 1
    clean, w2, _ = simulate(task=task, seed=1)
    quiet = estimation.estimate_performance(
        clean, w2, reference=0, params=estimation.EstimationParams(n_boot=10)
    )
    assert len([x for x in quiet.warnings if x.kind == "concept drift"]) <= 1


def test_scores_leaving_the_reference_range_are_flagged():
    sc, w, _ = simulate(task="binary", seed=1)  # the feature's mean moves from -0.5 to 1.0
    est = estimation.estimate_performance(sc, w, reference=0, params=estimation.EstimationParams(n_boot=0))
    flagged = [x.window for x in est.warnings if x.kind == "score range"]
    assert flagged and w.labels[0] not in flagged and w.labels[-1] in flagged


def test_bad_input_gets_a_message_naming_the_fix():
    sc, w, _ = simulate(2400, n_windows=3, seed=0)
    reg = scored_rows(sc.y, sc.proba, sc.time, task="binary")
    object.__setattr__(reg, "task", "regression")
    with pytest.raises(AnalysisError, match="for classifiers"):
        estimation.estimate_performance(reg, w)
    no_proba = scored_rows(sc.y, sc.proba, sc.time, task="binary")
    object.__setattr__(no_proba, "proba", None)
    with pytest.raises(AnalysisError, match="needs the model's probabilities.*predict_proba"):
        estimation.estimate_performance(no_proba, w)
    with pytest.raises(AnalysisError, match="not probabilities.*range -1.9"):
        estimation.estimate_performance(scored_rows(sc.y, sc.proba * 3 - 2, sc.time, task="binary"), w)
    one_class = scored_rows(np.ones(sc.n, dtype="int64"), sc.proba, sc.time, task="binary")
    with pytest.raises(LabelError, match="one class only.*another reference window"):
        estimation.estimate_performance(one_class, w, reference=0)
    with pytest.raises(AnalysisError, match="window number 0..2"):
        estimation.estimate_performance(sc, w, reference=7)
    with pytest.raises(AnalysisError, match="Estimation covers"):
        estimation.estimate_performance(sc, w, estimation.EstimationParams(metrics=("MAE",)))
    # A window with no rows is kept and named; no rows at all is an error.
    gap = sc.time.where(sc.time.dt.month != 2, sc.time + pd.Timedelta(days=31))
    w_gap = time_windows(gap, by="month", min_rows=20)
    est = estimation.estimate_performance(
        scored_rows(sc.y, sc.proba, gap, task="binary"),
        w_gap,
        reference=0,
        params=estimation.EstimationParams(n_boot=0),
    )
    assert [x.window for x in est.warnings if x.kind == "empty window"] == [w_gap.labels[1]]
    with pytest.raises(AnalysisError, match="no rows in any window"):
        estimation.estimate_performance(sc, w, codes=np.full(sc.n, -1))


def test_unlabelled_rows_are_scored_apart_and_estimated(tmp_path):
    df = frame(1600, seed=5)
    prod = df.iloc[400:].copy()
    prod.loc[prod.index[-500:], "income"] = np.nan  # the last ~4 months: labels not there yet
    path = make_workspace(tmp_path, datasets={"train": df.iloc[:400], "production": prod})
    ws = open_workspace(read_workspace(path))
    sc, unl = score(ws, "production"), score_unlabeled(ws, "production")
    assert (sc.n, sc.n_unlabeled, unl.n, unl.n_unlabeled) == (700, 500, 500, 0)
    assert (unl.y == -1).all() and unl.proba.shape == (500, 2) and unl.time.is_monotonic_increasing
    assert unl.cache_key != sc.cache_key
    assert score_unlabeled(ws, "train").n == 0
    est = estimation.estimate_workspace(
        ws, ["production"], min_rows=20, params=estimation.EstimationParams(n_boot=5)
    )
    windows = est.windows.set_index("label")
    assert windows["unlabelled_rows"].sum() == 500 and windows["labelled_rows"].sum() == 700
    last = est.table[est.table["window"] == est.table["window"].max()]
    assert set(last["part"]) == {estimation.PART_ESTIMATED}
    assert ASSUMPTION_WORDS <= set(est.assumption.lower().split())


ASSUMPTION_WORDS = {"assumes", "no", "concept", "drift:"}


def test_charts_draw_every_part_and_the_reliability_curve():
    from explore.staleness import charts

    sc, w, _ = simulate(6000, n_windows=6, seed=2)
    hidden = w.codes >= 4
    lab = scored_rows(
        sc.y[~hidden], sc.proba[~hidden], sc.time[~hidden].reset_index(drop=True), task="binary"
    )
    unl = scored_rows(
        sc.y[hidden], sc.proba[hidden], sc.time[hidden].reset_index(drop=True), task="binary", labelled=False
    )
    est = estimation.estimate_performance(
        lab,
        w,
        unlabeled=unl,
        codes=w.codes[~hidden],
        reference=0,
        params=estimation.EstimationParams(n_boot=3),
    )
    spec = charts.estimate_chart(est, "F1").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 4 + 4 + 2  # realised + estimated on 4 labelled windows, the estimate alone on 2
    assert {r["part"] for r in rows if r["window"] >= 4} == {estimation.PART_ESTIMATED}
    line = spec["layer"][1]
    assert line["encoding"]["strokeDash"]["field"] == "kind" and line["mark"]["type"] == "line"
    assert spec["layer"][0]["encoding"]["y2"]["field"] == "ci_high"
    rel = charts.reliability_chart(est.calibration).to_dict()
    curve = [v for v in rel["datasets"].values() if v and "stage" in v[0]][0]
    assert {r["stage"] for r in curve} == set(est.calibration.reliability["stage"])
    assert len(curve) <= 2 * estimation.RELIABILITY_BINS


def test_predictions_only_workspace_scores_and_estimates_its_unlabelled_rows(tmp_path):
    df = frame(1200, seed=2)
    rng = np.random.default_rng(2)
    df["p"] = np.clip(0.5 + 0.3 * ((df["income"] == ">50K") - 0.5) + rng.normal(0, 0.2, len(df)), 0, 1)
    df.loc[df.index[-300:], "income"] = np.nan
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"train": df.iloc[:600], "production": df.iloc[600:]},
        columns={"label": "income", "time": "when", "score": "p", "positive": ">50K"},
    )
    ws = open_workspace(read_workspace(path))
    assert score_unlabeled(ws, "train").n == 0  # no unlabelled row: an empty Scored, not an error
    unl = score_unlabeled(ws, "production")
    assert unl.n == 300 and unl.model_name is None and np.allclose(unl.score, df["p"].iloc[-300:])
    est = estimation.estimate_workspace(ws, min_rows=20, params=estimation.EstimationParams(n_boot=3))
    assert est.windows["unlabelled_rows"].sum() == 300


def test_a_reference_slice_calibrates_on_its_rows_like_the_window_it_selects():
    from dataclasses import replace

    from explore.slices.definition import Condition, SliceDefinition

    sc, w, _ = simulate(2400, n_windows=3, seed=0)
    tagged = replace(sc, frame=sc.frame.assign(part=np.where(w.codes == 0, "first", "later")))
    first = SliceDefinition((Condition("part", "in", values=("first",)),))
    params = estimation.EstimationParams(n_boot=0)
    by_slice = estimation.estimate_performance(tagged, w, params, reference=first)
    by_window = estimation.estimate_performance(tagged, w, params, reference=0)
    pd.testing.assert_frame_equal(by_slice.table, by_window.table)
    assert by_slice.reference == first.describe() and by_window.reference == w.labels[0]
    with pytest.raises(AnalysisError, match="window number 0..2 or a SliceDefinition"):
        estimation.estimate_performance(tagged, w, params, reference=w.codes == 0)


def test_an_engine_sample_is_used_in_every_rows_class_shares(tmp_path, monkeypatch):
    """Found on a fraud log through DuckDB (38.5 % positives): the estimate ran on the engine's sample, stratified
    by label to equal shares, so its realised accuracy was the sample's (0.64, against 0.70 on every row) and a
    concept-drift warning fired that every row did not raise. The estimate now keeps each class's sampled rows
    in its share of every row, and says so."""
    from explore.core.upload import toml_text
    from explore.staleness.estimation import estimate_workspace, population_mix

    rng = np.random.default_rng(5)
    n = 6000
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 180, n)), unit="D")
    p = rng.beta(1, 3, n)  # calibrated scores: about 25 % positives
    y = (rng.random(n) < p).astype("int8")
    df = pd.DataFrame({"when": when, "p": p, "y": y, "pred": (p >= 0.5).astype("int8")})
    for month, part in df.groupby(df["when"].dt.strftime("%Y-%m")):
        (tmp_path / "log" / f"month={month}").mkdir(parents=True)
        part.to_parquet(tmp_path / "log" / f"month={month}" / "part-0.parquet", index=False)
    columns = {"label": "y", "time": "when", "prediction": "pred", "score": "p"}
    (tmp_path / "workspace.toml").write_text(
        toml_text({"columns": columns, "datasets": {"log": {"path": "log", "engine": "duckdb"}}})
    )
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 2000)
    ws = open_workspace(read_workspace(tmp_path))
    sc = score(ws, "log")
    assert sc.frame["y"].mean() == pytest.approx(0.5, abs=0.01)  # the sample: equal shares

    keep, note = population_mix(ws, sc)
    assert keep is not None and "stratified by label" in note and f"{int(keep.sum()):,} of its 2,000" in note
    assert sc.frame["y"][keep].mean() == pytest.approx(y.mean(), abs=1 / keep.sum() + 1e-9)

    est = estimate_workspace(ws)
    assert est.rows_note == note
    assert not [w for w in est.warnings if w.kind == "concept drift"]
    realised = est.series("accuracy", estimation.PART_REALISED)
    pooled = np.average(realised["value"], weights=realised["rows"])
    every_row = float((df["y"] == df["pred"]).mean())
    se = np.sqrt(every_row * (1 - every_row) / realised["rows"].sum())
    assert abs(pooled - every_row) < 4 * se
    as_drawn = float((sc.frame["y"] == sc.frame["pred"]).mean())
    assert abs(as_drawn - every_row) > 8 * se  # what the estimate reported before


def test_the_default_reference_leaves_out_the_models_training_rows(tmp_path):
    """Found on a random forest with train and validation data: the default reference (the earliest windows) was
    the training data, where the forest is right every time, so the calibration promised 0.94–0.99 accuracy
    where 0.56–0.87 was realised and every later window was called concept drift. The default reference now
    starts after the training rows, and windows of training rows say why they are not compared."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from tests.helpers import FEATURES

    df = frame(2400, seed=3)  # 6-hourly rows, 2024-01 to 2025-08; the training rows end in 2024-10
    train, valid = df.iloc[:1200], df.iloc[1200:]
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(), ["age", "hours"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
        ]
    )
    forest = Pipeline([("prep", prep), ("rf", RandomForestClassifier(100, random_state=0))])
    forest.fit(train[FEATURES], train["income"])
    ws = open_workspace(
        read_workspace(make_workspace(tmp_path, model=forest, datasets={"train": train, "validation": valid}))
    )
    est = estimation.estimate_workspace(ws)
    assert est.reference.endswith("(rows outside the model's training data)")
    kinds = [w.kind for w in est.warnings]
    assert "training data" in kinds and "concept drift" not in kinds
    acc = est.series("accuracy", estimation.PART_ESTIMATED_LABELLED).set_index("label")["value"]
    real = est.series("accuracy", estimation.PART_REALISED).set_index("label")["value"]
    later = [w for w in real.index if w >= "2024-11"]  # validation only
    assert all(abs(acc[w] - real[w]) < 0.1 for w in later)
    assert real.iloc[0] > 0.99  # the forest on its own training rows
