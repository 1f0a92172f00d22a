"""Multiclass and regression logs without a query per statistic (explore.engine.onepass): every number equals the
pandas path to 1e-9 — string labels with a class never predicted, unlabelled rows, missing probabilities, NaN
targets, empty groups, a label far from zero — the reads per request are counted, scikit-learn cross-checks the
counts, and binned probabilities stay within the maximum error their notes state."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from explore.core.workspace import open_workspace, read_workspace, score
from explore.engine import EngineSource, by_columns, by_time_window, grouped_metrics, onepass, open_log
from explore.engine import metrics as engine_metrics
from explore.engine.grouping import group_column as engine_group_column
from explore.slices.grouping import group_column
from explore.stats import metrics
from tests.engine.test_metrics import assert_same
from tests.helpers import frame, make_workspace

CLASSES = ["ant", "bee", "cat", "dog"]  # "dog" is labelled but never predicted


def _multiclass(n: int = 2500, *, probabilities: bool = True, clash: bool = True) -> pd.DataFrame:
    df = frame(n, task="binary", seed=3).drop(columns=["income"])
    rng = np.random.default_rng(4)
    y = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])
    raw = rng.random((n, 4)) + np.eye(4)[y] * 0.9
    raw[:, 3] *= 0.3
    p = (raw / raw.sum(axis=1, keepdims=True)).round(2)
    df["label"] = np.asarray(CLASSES, dtype=object)[y]
    df["pred"] = np.asarray(CLASSES, dtype=object)[p[:, :3].argmax(axis=1)]  # "dog" is never predicted
    if probabilities:
        p[rng.random(n) < 0.02, 1] = np.nan  # a few rows without one class's probability
        for k, c in enumerate(CLASSES):
            df[f"p_{c}"] = p[:, k]
    df.loc[rng.random(n) < 0.03, "label"] = None  # unlabelled rows: left out on both paths
    df["seg"] = rng.integers(0, 3, n)
    for name in ("yp", "n", "g", "s0", "pos0", "x0", "w0") if clash else ():
        df[name] = 7  # data columns named like the engine's inner columns
    return df


def _regression(n: int = 2500, *, offset: float = 0.0, clash: bool = True) -> pd.DataFrame:
    df = frame(n, task="binary", seed=5).drop(columns=["income"])
    rng = np.random.default_rng(6)
    y = offset + 3.0 * df["age"].to_numpy() / 10 + rng.normal(0, 1.0, n)
    pred = y + rng.normal(0.3, 1.5, n)
    y[rng.random(n) < 0.03] = np.nan  # NaN targets: counted in the support, left out of every error
    pred[rng.random(n) < 0.01] = np.nan
    df["label"], df["pred"] = y, pred
    df.loc[rng.random(n) < 0.02, "label"] = None
    df["seg"] = rng.integers(0, 3, n)
    for name in ("e", "a", "u", "ok", "n", "g", "d0") if clash else ():
        df[name] = 7.0  # data columns named like the engine's inner columns
    return df


def _pair(tmp_path, df: pd.DataFrame, task: str, columns: dict) -> tuple:
    cols = {"label": "label", "time": "when", "prediction": "pred", "task": task, **columns}
    toml = make_workspace(tmp_path / "ws", task=task, model=None, columns=cols, datasets={"log": df})
    ws = open_workspace(read_workspace(toml))
    scored = score(ws, "log", None)
    parts = tmp_path / "parquet"
    when = pd.to_datetime(df["when"])
    for m, part in df.assign(when=when).groupby(when.dt.strftime("%Y-%m")):
        (parts / f"month={m}").mkdir(parents=True)
        part.to_parquet(parts / f"month={m}" / "part-0.parquet", index=False)
    log = open_log(EngineSource(parts), ws.columns, task=ws.task, classes=ws.classes)
    return scored, log


@pytest.fixture(scope="module")
def multiclass_pair(tmp_path_factory):
    scores = {"scores": {c: f"p_{c}" for c in CLASSES}}
    return _pair(tmp_path_factory.mktemp("mc"), _multiclass(), "multiclass", scores)


@pytest.fixture(scope="module")
def regression_pair(tmp_path_factory):
    return _pair(tmp_path_factory.mktemp("reg"), _regression(), "regression", {})


def _reads(log) -> list[str]:
    """Every query the log runs from now on that scans its rows (the first rows' estimates, ``LIMIT``, aside)."""
    seen: list[str] = []
    run = log.sql

    def sql(query, params=None):
        if re.search(r"\bFROM rows\b", query) and "LIMIT" not in query:
            seen.append(query)
        return run(query, params)

    log.sql = sql
    return seen


def _codes(scored, keys: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return pd.MultiIndex.from_frame(keys[columns]).get_indexer(
        pd.MultiIndex.from_frame(scored.frame[columns])
    )


@pytest.mark.parametrize("which", ["multiclass", "regression"])
def test_every_request_equals_the_pandas_path(which, multiclass_pair, regression_pair):
    scored, log = multiclass_pair if which == "multiclass" else regression_pair
    assert scored.n_unlabeled > 0 and scored.n == log.n
    skip = {
        "ROC AUC"
    }  # the macro ROC AUC's interval: bootstrap in memory, normal in the engine (its note says)
    assert_same(metrics.overall_metrics(scored), engine_metrics.overall_metrics(log), skip_ci=skip)
    keys, eng = grouped_metrics(log, by_columns(log, ["city", "seg"]))
    codes = _codes(scored, keys, ["city", "seg"])
    assert (codes >= 0).all()
    assert_same(metrics.grouped_metrics(scored, codes, len(keys)), eng, skip_ci=skip)
    keys, eng = grouped_metrics(log, by_time_window(log, "month"))
    months = pd.Index(keys["window"]).get_indexer(scored.time.dt.to_period("M").dt.to_timestamp())
    assert_same(metrics.grouped_metrics(scored, months, len(keys)), eng, skip_ci=skip)
    # Each group's rest, under a filter, and groups the filter leaves empty.
    g, mem_g = engine_group_column(log, "city", bins=3), group_column(scored, "city", bins=3)
    mask = (scored.frame["seg"] >= 1).to_numpy() & (scored.frame["city"] != "Nice").to_numpy()
    for complement in (False, True):
        _, eng = grouped_metrics(log, g, where="rows.seg >= 1 AND rows.city <> 'Nice'", complement=complement)
        mem = metrics.grouped_metrics(
            scored, np.where(mask, mem_g.codes, -1), mem_g.n_groups, complement=complement
        )
        assert_same(mem, eng, skip_ci=skip)
    _, inside = grouped_metrics(log, g, where="rows.seg >= 1 AND rows.city <> 'Nice'")
    empty = inside[inside["support"] == 0]
    assert len(empty) and (empty["note"] == metrics.NOTE_EMPTY).all() and empty["value"].isna().all()


def test_a_multiclass_request_reads_the_rows_twice_and_a_regression_one_once(
    multiclass_pair, regression_pair
):
    for (scored, log), expected in ((multiclass_pair, 2), (regression_pair, 1)):
        engine_metrics.overall_metrics(log)  # the first rows' estimates, once per log
        city = engine_group_column(log, "city", bins=3)
        reads = _reads(log)
        try:
            engine_metrics.overall_metrics(log)
            assert len(reads) == expected, reads
            reads.clear()
            engine_metrics.groups_vs_rest(log, city, where="rows.seg >= 1")
            assert len(reads) == expected  # the groups and their rests from the same aggregation
            reads.clear()
            grouped_metrics(log, by_columns(log, ["city", "seg"]))
            assert len(reads) == expected
            reads.clear()
            grouped_metrics(log, None, metrics=["accuracy", "F1"] if scored.task == "multiclass" else ["MAE"])
            assert len(reads) == 1  # no probability cells asked for
        finally:
            del log.sql


def test_the_query_per_statistic_path_gives_the_same_numbers(tmp_path, monkeypatch):
    """(Without data columns named like its view's: the older path's grp view would take a column "g" for the
    group code.)"""
    scores = {"scores": {c: f"p_{c}" for c in CLASSES}}
    pairs = [
        _pair(tmp_path / "mc", _multiclass(clash=False), "multiclass", scores),
        _pair(tmp_path / "reg", _regression(clash=False), "regression", {}),
    ]
    for _, log in pairs:
        keys, new = grouped_metrics(log, by_columns(log, ["seg"]))
        monkeypatch.setattr(onepass, "ONE_PASS", False)
        reads = _reads(log)
        try:
            _, old = grouped_metrics(log, by_columns(log, ["seg"]))
            assert len(reads) > 3  # what the one pass replaces
        finally:
            del log.sql
            monkeypatch.setattr(onepass, "ONE_PASS", True)
        assert_same(old, new)


def test_multiclass_counts_agree_with_scikit_learn(multiclass_pair):
    scored, log = multiclass_pair
    eng = engine_metrics.overall_metrics(log).set_index("metric")["value"]
    y, p = scored.y, scored.pred
    labels = np.arange(len(CLASSES))
    assert eng["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    # "dog" is never predicted: its precision is undefined and left out of the macro average (zero_division=nan).
    assert np.isnan(eng["precision[class=dog]"])
    prec = skm.precision_score(y, p, labels=labels, average=None, zero_division=np.nan)
    assert eng["precision"] == pytest.approx(np.nanmean(prec), abs=1e-12)
    assert eng["recall"] == pytest.approx(skm.balanced_accuracy_score(y, p), abs=1e-12)  # macro recall
    assert eng["recall[class=dog]"] == 0.0
    f1 = skm.f1_score(y, p, labels=labels, average=None, zero_division=np.nan)
    assert eng["F1"] == pytest.approx(np.nanmean(f1), abs=1e-12)
    assert eng["F1 (weighted)"] == pytest.approx(skm.f1_score(y, p, average="weighted"), abs=1e-12)
    # Log loss: the mean −log of the true class's probability (the rounded probabilities do not sum to one, which
    # scikit-learn's log_loss refuses), over the rows that have it.
    p_true = scored.proba[np.arange(len(y)), y]
    ok = np.isfinite(p_true)
    assert eng["log loss"] == pytest.approx(-np.log(np.clip(p_true[ok], 1e-15, 1)).mean(), rel=1e-9)
    for k, c in enumerate(CLASSES):
        fin = np.isfinite(scored.proba[:, k])
        expected = skm.roc_auc_score(y[fin] == k, scored.proba[fin, k])
        assert eng[f"ROC AUC[class={c}]"] == pytest.approx(expected, abs=1e-12)


def test_a_log_with_only_the_predicted_class(tmp_path):
    scored, log = _pair(tmp_path, _multiclass(probabilities=False), "multiclass", {})
    assert not log.has_proba
    reads = _reads(log)
    eng = engine_metrics.overall_metrics(log)
    assert len(reads) == 1
    assert_same(metrics.overall_metrics(scored), eng)
    auc = eng[eng["metric"] == "ROC AUC"]
    assert auc["value"].isna().all() and auc["note"].str.startswith("unavailable").all()


def test_regression_sums_keep_precision_far_from_zero(tmp_path):
    """A label around 10⁶ with errors of about 1: the centred sums keep R², RMSE and their intervals to 1e-9."""
    scored, log = _pair(tmp_path, _regression(offset=1e6), "regression", {})
    keys, eng = grouped_metrics(log, by_columns(log, ["seg"]))
    mem = metrics.grouped_metrics(scored, _codes(scored, keys, ["seg"]), len(keys))
    assert_same(mem, eng)
    r2 = eng[eng["metric"] == "R²"]["value"]
    assert (r2 > 0.5).all()
    ok = np.isfinite(scored.y) & np.isfinite(scored.pred)
    overall = engine_metrics.overall_metrics(log).set_index("metric")["value"]
    assert overall["R²"] == pytest.approx(skm.r2_score(scored.y[ok], scored.pred[ok]), rel=1e-9)
    assert overall["MAE"] == pytest.approx(skm.mean_absolute_error(scored.y[ok], scored.pred[ok]), rel=1e-9)


def test_binned_probabilities_stay_within_their_stated_error(multiclass_pair, monkeypatch):
    scored, log = multiclass_pair
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 200)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 8)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 300)
    keys, eng = grouped_metrics(log, by_columns(log, ["seg"]))
    mem = metrics.grouped_metrics(scored, _codes(scored, keys, ["seg"]), len(keys))
    auc = eng["metric"].str.startswith("ROC AUC")
    assert eng.loc[auc, "note"].str.contains("histogram approximation").all()
    assert engine_metrics.binned_auc_note(eng) is not None
    bound = eng.loc[auc, "note"].str.extract(r"within ±([0-9.eE+-]+)")[0].astype(float).to_numpy()
    err = np.abs(eng.loc[auc, "value"].to_numpy() - mem.loc[auc.to_numpy(), "value"].to_numpy())
    assert (err <= bound + 1e-12).all() and (err > 0).any()
    # Counts, rates and losses are not binned.
    exact = ~eng["metric"].str.contains("AUC")
    assert_same(mem[exact.to_numpy()].reset_index(drop=True), eng[exact].reset_index(drop=True))
    # Each group's rest from the same binned cells: within its own stated error of the exact rest.
    g, mem_g = engine_group_column(log, "city", bins=3), group_column(scored, "city", bins=3)
    _, rest = grouped_metrics(log, g, complement=True)
    exact_rest = metrics.grouped_metrics(
        scored, mem_g.codes.astype(np.int64), mem_g.n_groups, complement=True
    )
    auc = rest["metric"].str.startswith("ROC AUC[")
    bound = rest.loc[auc, "note"].str.extract(r"within ±([0-9.eE+-]+)")[0].astype(float).to_numpy()
    err = np.abs(rest.loc[auc, "value"].to_numpy() - exact_rest.loc[auc.to_numpy(), "value"].to_numpy())
    assert np.isfinite(bound).all() and (err <= bound + 1e-12).all()


@pytest.mark.parametrize("collide", [False, True])
@pytest.mark.parametrize("which", ["multiclass", "regression"])
def test_keys_grouped_by_their_hash_equal_the_pandas_path(
    which, collide, multiclass_pair, regression_pair, monkeypatch
):
    """Above HASH_KEYS_ROWS the aggregations group by one hash of the keys (both of a multiclass request join the
    same keys' table); when two keys share a hash (a constant hash here) they group by the keys themselves."""
    scored, log = multiclass_pair if which == "multiclass" else regression_pair
    monkeypatch.setattr(engine_metrics, "HASH_KEYS_ROWS", 0)
    if collide:
        monkeypatch.setattr(engine_metrics, "_key_hash", lambda exprs: "0")
    reads = _reads(log)
    try:
        keys, eng = grouped_metrics(log, by_columns(log, ["city", "seg"], where="rows.seg >= 1"))
    finally:
        del log.sql
    assert any("hash(" in q for q in reads) != collide
    codes = _codes(scored, keys, ["city", "seg"])
    codes[(scored.frame["seg"] < 1).to_numpy()] = -1
    assert len(keys) == 6
    assert_same(metrics.grouped_metrics(scored, codes, len(keys)), eng, skip_ci={"ROC AUC"})
    assert not {"_keys", "_cells0", "_cells1"} & {r[0] for r in log.sql("SHOW TABLES").fetchall()}


@pytest.mark.spark
def test_hashed_keys_and_binned_probabilities_on_spark_give_duckdbs_numbers(spark, tmp_path, monkeypatch):
    """The same SQL on Spark (its hash is its own, Murmur3, but the keys' table and the cells use the same one)."""
    from explore.core.workspace import ColumnRoles
    from tests.engine.conftest import on_duckdb_and_spark

    monkeypatch.setattr(engine_metrics, "HASH_KEYS_ROWS", 0)
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 200)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 8)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 300)
    _multiclass(800, clash=False).to_parquet(tmp_path / "mc.parquet", index=False)
    _regression(800, clash=False).to_parquet(tmp_path / "reg.parquet", index=False)
    cases = [
        ("mc", "multiclass", ColumnRoles(label="label", prediction="pred", time="when", task="multiclass",
                                        scores={c: f"p_{c}" for c in CLASSES}), CLASSES),
        ("reg", "regression", ColumnRoles(label="label", prediction="pred", time="when", task="regression"), None),
    ]  # fmt: skip
    for name, task, roles, classes in cases:
        (k1, t1), (k2, t2) = on_duckdb_and_spark(
            tmp_path / f"{name}.parquet",
            roles,
            lambda log: grouped_metrics(log, by_columns(log, ["city", "seg"])),
            task=task,
            classes=classes,
        )
        pd.testing.assert_frame_equal(k1, k2)
        assert (t1["note"] == t2["note"]).all()
        np.testing.assert_allclose(t2["value"], t1["value"], rtol=1e-9)
        np.testing.assert_allclose(t2["ci_low"], t1["ci_low"], rtol=1e-9)
