"""A binary log's metrics from one pass over its rows (explore.engine.metrics' (group, label, score) cells): the
exact table equals the pandas path; the score-binned one keeps every other metric exact and its ROC AUC within
the maximum error its note states."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from explore.core.workspace import ColumnRoles
from explore.engine import EngineSource, by_columns, by_time_window, grouped_metrics, open_log
from explore.engine import metrics as engine_metrics
from explore.engine.grouping import group_column
from explore.engine.log import quote
from explore.stats import metrics
from tests.engine.test_metrics import assert_same, pair  # noqa: F401  (the fixture)


def _reads(log) -> list[str]:
    """Every query the log runs from now on that reads its rows (the files)."""
    seen: list[str] = []
    run = log.sql

    def sql(query, params=None):
        if re.search(r"\bFROM rows\b", query):
            seen.append(query)
        return run(query, params)

    log.sql = sql
    return seen


def test_a_binary_request_reads_the_rows_once(pair):  # noqa: F811
    scored, log = pair
    if scored.task != "binary":
        pytest.skip("the binary cells path (multiclass/regression: tests/engine/test_onepass.py)")
    city = group_column(log, "city", bins=3)  # the column's cut: its own queries, cached by the pages
    reads = _reads(log)
    try:
        engine_metrics.overall_metrics(log)
        assert len(reads) == 1
        reads.clear()
        engine_metrics.groups_vs_rest(log, city, where="rows.seg >= 1")
        assert len(reads) == 1  # the groups and their rests from the same cells
        reads.clear()
        grouped_metrics(log, by_columns(log, ["city", "seg"]))
        assert len(reads) == 1  # the rows are fewer than CELL_BUDGET: no estimate of the groups needed
    finally:
        del log.sql


def test_groups_left_empty_by_a_filter_equal_the_pandas_path(pair):  # noqa: F811
    scored, log = pair
    g = group_column(log, "city", bins=3)
    keys, eng = grouped_metrics(log, g, where="rows.city = 'Nice'")
    city = scored.frame["city"].to_numpy()
    codes = np.full(scored.n, -1)
    for i, label in enumerate(keys["city"]):
        codes[(city == label) & (city == "Nice")] = i
    mem = metrics.grouped_metrics(scored, codes, len(keys))
    assert (eng.groupby("group")["support"].max() == 0).sum() == len(keys) - 1
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())
    assert set(eng.loc[eng["support"] == 0, "note"]) == {metrics.NOTE_EMPTY}


def _bound(note: str) -> float:
    return float(re.search(r"within ±([0-9.eE+-]+)", note)[1])


@pytest.fixture
def binned(monkeypatch):
    """Every log bigger than a few rows takes the score-binned cells, with few bins."""
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 10)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 0)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 8)


def test_binned_scores_keep_counts_and_losses_exact_and_the_auc_within_its_stated_error(pair, binned):  # noqa: F811
    scored, log = pair
    if scored.task != "binary":
        pytest.skip("binary")
    keys, eng = grouped_metrics(log, by_columns(log, ["city", "seg"]))
    cat = pd.MultiIndex.from_frame(scored.frame[["city", "seg"]])
    codes = pd.MultiIndex.from_frame(keys[["city", "seg"]]).get_indexer(cat)
    mem = metrics.grouped_metrics(scored, codes, len(keys))
    exact = ["accuracy", "precision", "recall", "F1", "log loss", "Brier", "base rate", "positive rate"]
    assert_same(mem[mem["metric"].isin(exact)], eng[eng["metric"].isin(exact)])
    a, b = mem[mem["metric"] == "ROC AUC"], eng[eng["metric"] == "ROC AUC"]
    bounds = b["note"].map(_bound).to_numpy()
    assert (bounds > 0).all() and (bounds < 0.2).all()
    err = np.abs(a["value"].to_numpy() - b["value"].to_numpy())
    assert (err <= bounds + 1e-12).all()
    assert err.max() > 0  # the bins do change the value: the bound is not vacuous here
    assert b["note"].str.contains("histogram approximation").all()
    assert eng.loc[eng["metric"] == "PR AUC", "note"].str.contains("histogram approximation").all()
    line = engine_metrics.binned_auc_note(eng)
    assert line is not None and f"±{bounds.max():.1e}" in line
    assert engine_metrics.binned_auc_note(mem) is None


def test_the_rest_of_each_group_is_within_its_stated_error_too(pair, binned):  # noqa: F811
    from explore.slices.definition import SliceDefinition
    from explore.slices.report import SliceReportParams, slice_report

    scored, log = pair
    if scored.task != "binary":
        pytest.skip("binary")
    keys, eng = engine_metrics.groups_vs_rest(log, group_column(log, "city", bins=3))
    mem = slice_report(scored, SliceDefinition(()), by=["city"], params=SliceReportParams(bins=3)).by_group
    mem = mem[mem["metric"] == "ROC AUC"].set_index("city")
    eng = eng[eng["metric"] == "ROC AUC"]
    eng = eng.assign(city=keys["city"].iloc[eng["group"]].to_numpy())
    eng = eng.set_index("city").loc[mem.index]
    # The rest's bound is not in a note; it is the complement's own: recompute it from the cells.
    keys2, cells = engine_metrics._read_cells(log, group_column(log, "city", bins=3), None, [])
    ctx = engine_metrics.CellsCtx(log, cells, len(keys2), 0.95, complement=True)
    rest_bound = pd.Series(ctx.auc_stats(log.positive_index)["max_error"], index=keys2["city"]).loc[mem.index]
    assert (np.abs(eng["rest"] - mem["rest"]) <= rest_bound + 1e-12).all()
    assert (rest_bound > 0).all()


def test_continuous_scores_take_bins_at_scale_and_the_bound_holds_against_sklearn(tmp_path, monkeypatch):
    """Scores with (nearly) every value distinct: more cells than CELL_BUDGET, so bins; each window's ROC AUC is
    within its stated error of scikit-learn's exact value."""
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 5_000)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 2_000)
    rng = np.random.default_rng(3)
    n = 20_000
    y = rng.random(n) < 0.3
    df = pd.DataFrame(
        {
            "y": y.astype(int),
            "s": 1 / (1 + np.exp(-(rng.normal(0, 1, n) + 1.2 * y))),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, n), unit="D"),
        }
    )
    df["p"] = (df["s"] >= 0.5).astype(int)
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", time="t", task="binary", positive=1)
    log = open_log(EngineSource(tmp_path / "log.parquet"), roles, task="binary", classes=[0, 1], positive=1)
    keys, eng = grouped_metrics(log, by_time_window(log, "month"), metrics=["ROC AUC", "accuracy"])
    auc = eng[eng["metric"] == "ROC AUC"]
    month = df["t"].dt.to_period("M").dt.to_timestamp()
    for g, window in enumerate(keys["window"]):
        rows = (month == window).to_numpy()
        exact = roc_auc_score(df["y"][rows], df["s"][rows])
        row = auc[auc["group"] == g].iloc[0]
        assert abs(row["value"] - exact) <= _bound(row["note"]) + 1e-12
        assert _bound(row["note"]) < 0.01  # ~1,000 bins per window: a fine histogram
    acc = eng[eng["metric"] == "accuracy"]["value"].to_numpy()
    expected = [float((df["y"] == df["p"])[(month == w).to_numpy()].mean()) for w in keys["window"]]
    np.testing.assert_allclose(acc, expected, rtol=1e-12)
    log.con.close()


@pytest.mark.spark
def test_the_binned_cells_run_on_spark_with_duckdbs_numbers(spark, tmp_path, monkeypatch):
    """The binned (group, label, score) query translates to Spark SQL and gives DuckDB's table, notes included."""
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 10)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 0)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 8)
    from tests.engine.conftest import on_duckdb_and_spark
    from tests.engine.test_metrics import predictions_log

    df = predictions_log("binary", 1500)
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(
        label="income", prediction="pred", score="p", time="when", task="binary", positive=">50K"
    )
    (k1, t1), (k2, t2) = on_duckdb_and_spark(
        tmp_path / "log.parquet",
        roles,
        lambda log: grouped_metrics(
            log, by_columns(log, ["city"]), metrics=["ROC AUC", "log loss", "recall"]
        ),
        task="binary",
        classes=["<=50K", ">50K"],
        positive=">50K",
    )
    pd.testing.assert_frame_equal(k1, k2)
    np.testing.assert_allclose(t2["value"], t1["value"], rtol=1e-9)
    assert list(t1["note"]) == list(t2["note"]) and t1["note"].str.contains("histogram").any()


def _window_log(tmp_path, engine: str = "duckdb", master: str | None = None):
    """Timestamps over ~5 days with every hour's first and last microsecond, and a few seconds around midnight
    of a Sunday/Monday, a month's and a year's end."""
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2023-12-29 13:17:00")
    t = list(start + pd.to_timedelta(rng.integers(0, 5 * 86_400_000_000, 3000), unit="us"))
    for h in pd.date_range("2023-12-29 14:00", periods=100, freq="h"):
        t += [h, h - pd.Timedelta(microseconds=1)]
    t += [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2023-12-31 23:59:59.999999"),
        pd.Timestamp("2024-01-01 00:00:01"),
    ]
    n = len(t)
    df = pd.DataFrame({"y": rng.integers(0, 2, n), "s": rng.random(n).round(2), "t": t})
    df["p"] = (df["s"] >= 0.5).astype(int)
    df.loc[::50, "t"] = pd.NaT
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", time="t", task="binary", positive=1)
    kwargs = {"engine": engine, "master": master} if master else {}
    source = EngineSource(tmp_path / "log.parquet", **kwargs)
    return df, open_log(source, roles, task="binary", classes=[0, 1], positive=1)


@pytest.mark.parametrize("unit", ["year", "quarter", "month", "week", "day", "hour"])
def test_windows_found_by_search_are_date_truncs_and_pandas_periods(tmp_path, unit):
    df, log = _window_log(tmp_path)
    windows = by_time_window(log, unit)
    assert "date_trunc" not in windows.exprs[0]  # ≤ MAX_SEARCHED_WINDOWS windows: the searched CASE
    t = f"CAST(rows.{quote('t')} AS TIMESTAMP)"
    got = log.sql(
        f"SELECT count(*) FILTER (WHERE {windows.exprs[0]} IS DISTINCT FROM date_trunc('{unit}', {t})), "
        f"count(*) FILTER (WHERE {windows.where}) FROM rows AS rows WHERE {windows.where}"
    ).fetchall()[0]
    assert got == (0, int(df["t"].notna().sum()))
    keys, eng = grouped_metrics(log, windows, metrics=["accuracy"])
    freq = {"year": "Y", "quarter": "Q", "month": "M", "week": "W-SUN", "day": "D", "hour": "h"}[unit]
    periods = df["t"].dt.to_period(freq).dt.start_time
    expected = (
        df[df["t"].notna()]
        .groupby(periods[df["t"].notna()])
        .apply(lambda d: float((d["y"] == d["p"]).mean()))
    )
    assert list(pd.to_datetime(keys["window"])) == list(expected.index)
    np.testing.assert_allclose(eng["value"].to_numpy(), expected.to_numpy(), rtol=1e-12)
    log.con.close()


def test_more_windows_than_searched_fall_back_to_date_trunc(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_metrics, "MAX_SEARCHED_WINDOWS", 50)
    df, log = _window_log(tmp_path)
    assert "date_trunc('hour'" in by_time_window(log, "hour").exprs[0]  # ~120 hours
    assert "date_trunc" not in by_time_window(log, "day").exprs[0]
    log.con.close()


@pytest.mark.spark
def test_searched_windows_run_on_spark_with_duckdbs_keys(spark, tmp_path):
    from tests.engine.conftest import SPARK_MASTER

    tables = []
    for engine in ("duckdb", "spark"):
        _, log = _window_log(tmp_path, engine, SPARK_MASTER)
        tables.append(grouped_metrics(log, by_time_window(log, "week"), metrics=["accuracy", "ROC AUC"]))
        log.con.close()
    (k1, t1), (k2, t2) = tables
    assert list(pd.to_datetime(k1["window"])) == list(pd.to_datetime(k2["window"]))
    np.testing.assert_allclose(t2["value"], t1["value"], rtol=1e-9)


@pytest.mark.parametrize("collide", [False, True])
def test_keys_grouped_by_their_hash_equal_the_pandas_path(pair, monkeypatch, collide):  # noqa: F811
    """Above HASH_KEYS_ROWS rows the cells are grouped by one hash of the keys; when two keys share a hash (all of
    them, here, by a constant hash) the request groups by the keys themselves: the same numbers either way."""
    scored, log = pair
    if scored.task != "binary":
        pytest.skip("the binary cells path (multiclass/regression: tests/engine/test_onepass.py)")
    monkeypatch.setattr(engine_metrics, "HASH_KEYS_ROWS", 0)
    if collide:
        monkeypatch.setattr(engine_metrics, "_key_hash", lambda exprs: "0")
    reads = _reads(log)
    try:
        keys, eng = grouped_metrics(log, by_columns(log, ["city", "seg"], where="rows.seg >= 1"))
    finally:
        del log.sql
    assert any("hash(" in q for q in reads) != collide
    assert (
        any(" AS k0, rows" in q and "GROUP BY k0, k1" in q for q in reads) == collide
    )  # the keys' own cells
    kept = (scored.frame["seg"] >= 1).to_numpy()
    cat = pd.MultiIndex.from_frame(scored.frame[["city", "seg"]])
    codes = pd.MultiIndex.from_frame(keys[["city", "seg"]]).get_indexer(cat)
    codes[~kept] = -1
    assert (codes[kept] >= 0).all() and len(keys) == 6
    mem = metrics.grouped_metrics(scored, codes, len(keys))
    assert_same(mem, eng, skip_ci=set())


@pytest.mark.spark
def test_keys_grouped_by_their_hash_on_spark_give_duckdbs_numbers(spark, tmp_path, monkeypatch):
    """Spark's hash is its own (Murmur3, 32 bits) but the keys' table and the cells use the same one."""
    monkeypatch.setattr(engine_metrics, "HASH_KEYS_ROWS", 0)
    from tests.engine.conftest import on_duckdb_and_spark
    from tests.engine.test_metrics import predictions_log

    df = predictions_log("binary", 1500)
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(
        label="income", prediction="pred", score="p", time="when", task="binary", positive=">50K"
    )
    (k1, t1), (k2, t2) = on_duckdb_and_spark(
        tmp_path / "log.parquet",
        roles,
        lambda log: grouped_metrics(log, by_columns(log, ["city", "seg"]), metrics=["ROC AUC", "log loss"]),
        task="binary",
        classes=["<=50K", ">50K"],
        positive=">50K",
    )
    pd.testing.assert_frame_equal(k1, k2)
    np.testing.assert_allclose(t2["value"], t1["value"], rtol=1e-9)


def test_hashed_keys_count_the_groups_so_no_sample_is_drawn(pair, monkeypatch):  # noqa: F811
    """Binned cells are sized by the number of groups: the keys' pass counts them exactly (no sample of the rows),
    and the cells are the second and last read; the counts stay those of the keys' own cells."""
    scored, log = pair
    if scored.task != "binary":
        pytest.skip("the binary cells path (multiclass/regression: tests/engine/test_onepass.py)")
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 10)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 0)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 8)
    log.memo.pop("score stats", None)
    engine_metrics._score_stats(log)  # once per log, whatever the request
    tables = []
    for rows in (0, 10**12):  # hashed keys, then the keys themselves
        monkeypatch.setattr(engine_metrics, "HASH_KEYS_ROWS", rows)
        reads = _reads(log)
        try:
            tables.append(
                grouped_metrics(log, by_columns(log, ["city", "seg"]), metrics=["accuracy", "ROC AUC"])
            )
        finally:
            del log.sql
        assert not any("USING SAMPLE" in q for q in reads)
        assert len(reads) == (
            2 if rows == 0 else 1
        )  # the keys' estimate is remembered from the first request
    (k1, t1), (k2, t2) = tables
    pd.testing.assert_frame_equal(k1, k2)
    np.testing.assert_allclose(t1["value"], t2["value"], rtol=1e-12)
    assert t1["note"].str.contains("histogram").any()
    log.memo.pop("score stats", None)
