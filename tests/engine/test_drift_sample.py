"""The drift of a big log on a deterministic row sample (explore.engine.drift.drift_matrix).

The sampled matrix must equal the in-memory drift computed on exactly the rows the rule selects — reproduced here
from the files (DuckDB's file_index and file_row_number) and the rule's numpy twin (``row_hash``) — to 1e-9; be
the same at one and at two threads; switch to every row at the threshold or when asked; and reject a bad fraction
with a message. The thresholds are lowered so that a log of a few tens of thousands of rows is "big"."""

from __future__ import annotations

import glob

import duckdb
import numpy as np
import pandas as pd
import pytest

from explore.core.workspace import ColumnRoles
from explore.engine import EngineSource, by_time_window, open_log
from explore.engine import drift as engine_drift
from explore.errors import AnalysisError
from explore.staleness import drift

FEATURES = ["x", "y", "k", "city"]
ROLES = ColumnRoles(label="label", time="ts", prediction="pred", score="score", task="binary", positive=1)
# Month sizes: one small month (read whole), one mid-sized (its share raised to MIN rows), the others sampled at
# the base fraction. Two files per month, so the file index is part of the rows' identity.
SIZES = {"2024-01": 6000, "2024-02": 6000, "2024-03": 300, "2024-04": 2400, "2024-05": 6000, "2024-06": 6000}
SAMPLE = {"exact_rows": 0, "sample_rows": 5000, "min_window_rows": 1000}  # 26,700 rows -> 1-in-6


@pytest.fixture(scope="module")
def parquet(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift_sample")
    rng = np.random.default_rng(7)
    for i, (month, n) in enumerate(SIZES.items()):
        start = pd.Timestamp(f"{month}-01")
        df = pd.DataFrame(
            {
                "x": rng.normal(0.3 * i, 1.0, n),  # drifts
                "y": rng.normal(0.0, 1.0, n).round(1),  # few distinct values: the exact KS
                "k": rng.integers(0, 50, n).astype("float64"),
                "city": rng.choice(
                    ["Paris", "Lyon", "Nice", "Lille"], n, p=[0.4, 0.3, 0.2 + 0.02 * i, 0.1 - 0.02 * i]
                ),
                "label": rng.integers(0, 2, n),
                "score": rng.random(n),
                "ts": start + pd.to_timedelta(rng.integers(0, 27 * 86400, n), unit="s"),
            }
        )
        df.loc[rng.random(n) < 0.02, "x"] = np.nan
        df["pred"] = (df["score"] >= 0.5).astype("int64")
        (root / f"month={month}").mkdir()
        half = n // 2
        df.iloc[:half].to_parquet(root / f"month={month}" / "part-0.parquet", index=False)
        df.iloc[half:].to_parquet(root / f"month={month}" / "part-1.parquet", index=False)
    return root


def _open(path):
    return open_log(EngineSource(path), ROLES, task="binary", classes=[0, 1], positive=1)


def _sampled(log, **kwargs):
    windows = by_time_window(log, "month")
    first = engine_drift.first_window(log, "month")
    return engine_drift.drift_matrix(
        log, windows, features=FEATURES, reference_where=first, name="first", **{**SAMPLE, **kwargs}
    )


def _selected_rows(path, shares: dict[pd.Timestamp, float]) -> pd.DataFrame:
    """The rows the rule keeps, found without the engine's drift code: every row with its file's index in the
    sorted file list and its number in the file, hashed in numpy, kept below its month's threshold."""
    files = sorted(glob.glob(str(path / "**" / "*.parquet"), recursive=True))
    listed = ", ".join(f"'{f}'" for f in files)
    con = duckdb.connect()
    df = con.execute(
        f"SELECT *, file_index, file_row_number FROM read_parquet([{listed}], hive_partitioning = true)"
    ).df()
    month = df["ts"].dt.to_period("M").dt.to_timestamp()
    h = engine_drift.row_hash(df["file_index"].to_numpy(), df["file_row_number"].to_numpy())
    limit = month.map(lambda m: engine_drift.threshold(shares[m])).to_numpy()
    return df[h < limit].assign(month=month[h < limit]).reset_index(drop=True)


def test_the_sampled_matrix_equals_the_pandas_drift_of_the_selected_rows(parquet):
    with _open(parquet) as log:
        keys, result = _sampled(log)
    s = result.sample
    assert s is not None and s.fraction == pytest.approx(1 / 6) and s.total == sum(SIZES.values())
    shares = dict(zip(pd.to_datetime(keys["window"]), s.window_shares, strict=True))
    # March (300 rows) is read whole; April (2,400) keeps 1,000 of them, more than 1-in-6; the others 1-in-6.
    assert s.window_shares == pytest.approx([1 / 6, 1 / 6, 1.0, 1000 / 2400, 1 / 6, 1 / 6])
    rows = _selected_rows(parquet, shares)
    assert s.rows == len(rows) and s.window_rows == tuple(rows.groupby("month").size())
    assert s.window_rows[2] == 300 and 900 <= s.window_rows[3] <= 1100
    months = np.sort(rows["month"].unique())
    codes = pd.Index(months).get_indexer(rows["month"])
    ref = rows[codes == 0]
    profile = drift.reference_profile(ref, features=FEATURES)
    mem = drift.drift_by_window(profile, rows, codes, len(months), features=FEATURES)
    assert s.reference_rows == len(ref) == result.reference.n_rows
    assert (result.table["ks_method"][result.table["kind"] == "numeric"] == "exact").all()
    for col in ("rows", "psi", "ks", "js", "distance", "p_value", "missing_share", "unseen_share"):
        np.testing.assert_allclose(result.table[col], mem.table[col], rtol=1e-9, atol=1e-12, err_msg=col)
    # The p-values are those of the sample's row counts: the KS test of window 5 with its sampled rows.
    w5 = result.table[(result.table["feature"] == "k") & (result.table["window"] == 5)].iloc[0]
    prof = profile.features["k"]
    assert w5["p_value"] == pytest.approx(
        drift.ks_pvalue(w5["ks"], prof.n_present, int(w5["rows"])), rel=1e-12
    )
    sentence = s.sentence()
    assert "1-in-6 sample" in sentence and f"{s.rows:,} of {s.total:,}" in sentence
    assert (
        "1 window of at most 1,000 rows read whole" in sentence
        and "1 smaller window sampled more" in sentence
    )


def test_the_sample_is_the_same_at_one_and_two_threads_and_the_log_is_left_as_it_was(parquet):
    tables = []
    for threads in (1, 2):
        with _open(parquet) as log:
            log.con.execute(f"SET threads = {threads}")
            windows = by_time_window(log, "month")
            first = engine_drift.first_window(log, "month")
            n, memo = log.n, dict(log.memo)
            settings = "SELECT current_setting('preserve_insertion_order')"
            assert log.sql(settings).fetchall() == [(True,)]
            _, result = engine_drift.drift_matrix(
                log, windows, features=FEATURES, reference_where=first, **SAMPLE
            )
            tables.append(result.table)
            # The log reads every row again, and learnt nothing from the sample; the copy's setting is put back.
            assert log.n == n and log.memo == memo
            assert log.sql(settings).fetchall() == [(True,)]
            assert (
                log.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_drift_rows'").fetchall()[
                    0
                ][0]
                == 0
            )
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_below_the_threshold_or_when_asked_every_row_is_read(parquet):
    with _open(parquet) as log:
        windows = by_time_window(log, "month")
        first = engine_drift.first_window(log, "month")
        profile = engine_drift.reference_profile(log, features=FEATURES, where=first)
        every_keys, every = engine_drift.drift_by_window(profile, log, windows, features=FEATURES)
        for kwargs in ({"exact": True}, {"exact_rows": sum(SIZES.values())}, {"fraction": 1.0}):
            _, result = _sampled(log, **kwargs)
            assert result.sample is None
            pd.testing.assert_frame_equal(result.table, every.table)
        # A threshold just below the log's rows: sampled (the default fraction, rows / sample_rows).
        keys, result = _sampled(log, exact_rows=sum(SIZES.values()) - 1)
        assert result.sample is not None and result.sample.rows < sum(SIZES.values())
        pd.testing.assert_frame_equal(keys, every_keys)  # the same windows, the same keys
        # Every window small enough to be read whole: the exact matrix, said so.
        _, result = _sampled(log, min_window_rows=10_000)
        assert result.sample is None
        pd.testing.assert_frame_equal(result.table, every.table)


def test_a_given_fraction_and_another_datasets_profile(parquet):
    with _open(parquet) as log:
        windows = by_time_window(log, "month")
        first = engine_drift.first_window(log, "month")
        profile = engine_drift.reference_profile(log, features=FEATURES, where=first, name="every row")
        keys, result = engine_drift.drift_matrix(
            log, windows, features=FEATURES, profile=profile, fraction=0.5, exact_rows=0, min_window_rows=0
        )
    s = result.sample
    assert s.share() == "a uniform 1-in-2 sample" and s.reference_rows is None
    assert result.reference is profile  # the reference given is used as it is
    rows = _selected_rows(parquet, dict.fromkeys(pd.to_datetime(keys["window"]), 0.5))
    assert s.rows == len(rows) and abs(s.rows - sum(SIZES.values()) / 2) < 100  # the hash spreads evenly


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fraction": 0.0}, "in (0, 1]; received 0.0"),
        ({"fraction": 1.5}, "in (0, 1]; received 1.5"),
        ({"fraction": "half"}, "a number in (0, 1]; received 'half' (str)"),
        ({"fraction": True}, "received True (bool)"),
        ({"exact": "yes"}, "exact must be True or False; received 'yes'"),
    ],
)
def test_bad_sampling_arguments_get_a_message(parquet, kwargs, message):
    with _open(parquet) as log, pytest.raises(AnalysisError) as err:
        _sampled(log, **kwargs)
    assert message in str(err.value)


def test_the_rule_in_sql_and_in_numpy_agree():
    rows = np.array([0, 1, 2, 3, 2**31 - 1, 2**31, 5_000_000_000], dtype="int64")
    files = np.array([0, 0, 1, 7, 3, 120, 9999], dtype="int64")
    con = duckdb.connect()
    con.register("ids", pd.DataFrame({"f": files, "r": rows}))
    sql = con.execute(f"SELECT {engine_drift.row_hash_sql('f', 'r')} AS h FROM ids").fetchnumpy()["h"]
    np.testing.assert_array_equal(sql, engine_drift.row_hash(files, rows))
    assert (sql >= 0).all() and (sql < engine_drift.HASH_SPACE).all()
    # Consecutive rows spread evenly: every 1,000 consecutive rows of a file keep 100 ± 2 at a tenth.
    h = engine_drift.row_hash(3, np.arange(100_000))
    kept = (h < engine_drift.threshold(0.1)).reshape(100, 1000).sum(axis=1)
    assert kept.min() >= 98 and kept.max() <= 102


@pytest.fixture(scope="module")
def notebook_ws(tmp_path_factory):
    from tests.engine.test_metrics import predictions_log
    from tests.engine.test_out_of_core_api import twin_workspaces

    ooc, _ = twin_workspaces(
        tmp_path_factory.mktemp("nb-drift"), "binary", {"log": predictions_log("binary", 3000)}, {"log"}
    )
    return ooc


def test_the_notebook_states_the_sample_and_reads_every_row_when_asked(notebook_ws, monkeypatch):
    import explore

    feats = ["age", "hours", "city"]
    monkeypatch.setattr(engine_drift, "DRIFT_EXACT_ROWS", 1000)
    monkeypatch.setattr(engine_drift, "DRIFT_SAMPLE_ROWS", 1000)
    monkeypatch.setattr(engine_drift, "MIN_WINDOW_ROWS", 20)
    sampled = explore.drift(notebook_ws, features=feats)
    s = sampled.value.sample
    assert s is not None and s.share() == "a uniform 1-in-3 sample" and s.total == 3000
    assert sampled.facts["sample"] == s.sentence() and "on a uniform row sample" in sampled.title
    assert sampled.facts["rows"] == f"{s.rows:,} of 3,000 (a uniform 1-in-3 sample, engine)"
    assert sampled.facts["reference rows"] == f"{s.reference_rows:,} (the sample, engine)"
    assert int(sampled.to_frame()["rows"].sum()) == s.rows * len(feats)
    exact = explore.drift(notebook_ws, features=feats, exact=True)
    assert exact.value.sample is None and "sample" not in exact.facts
    assert exact.facts["rows"] == "3,000 (every row, engine)"
    half = explore.drift(notebook_ws, features=feats, sample=0.5)
    assert half.value.sample.share() == "a uniform 1-in-2 sample"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sample": 2}, "sample must be a fraction of the rows in (0, 1]; received 2"),
        ({"sample": "10%"}, "received '10%' (str). Use e.g. sample=0.1"),
        ({"exact": 1}, "exact must be True or False; received 1"),
        ({"exact": True, "sample": 0.1}, "exact=True reads every row, sample=0.1 a share of them"),
    ],
)
def test_the_notebooks_bad_sampling_arguments_get_a_message(notebook_ws, kwargs, message):
    import explore

    with pytest.raises(AnalysisError) as err:
        explore.drift(notebook_ws, features=["age"], **kwargs)
    assert message in str(err.value)


def test_spark_reads_every_row_where_duckdb_samples(parquet, spark):
    """Spark stays exact: its rows have no stable identity through the engine's SQL view (the sample rule needs
    the file's index and the row's number in it), so above the threshold it reads every row — and says so
    (``sample`` None) — with DuckDB's exact numbers."""
    from tests.engine.conftest import on_duckdb_and_spark

    def both(log):
        windows = by_time_window(log, "month")
        first = engine_drift.first_window(log, "month")
        sampled = engine_drift.drift_matrix(log, windows, features=FEATURES, reference_where=first, **SAMPLE)[
            1
        ]
        exact = engine_drift.drift_matrix(log, windows, features=FEATURES, reference_where=first, exact=True)[
            1
        ]
        return sampled, exact

    (duck_sampled, duck_exact), (spark_sampled, spark_exact) = on_duckdb_and_spark(
        parquet, ROLES, both, task="binary", classes=[0, 1], positive=1
    )
    assert duck_sampled.sample is not None and spark_sampled.sample is None
    for table in (spark_sampled.table, spark_exact.table):
        for col in ("rows", "psi", "ks", "js", "p_value"):
            np.testing.assert_allclose(table[col], duck_exact.table[col], rtol=1e-9, atol=1e-12, err_msg=col)


def test_a_duckdb_table_is_sampled_by_rowid_and_equal_row_windows_too(parquet, tmp_path):
    """A DuckDB table's rows are kept by the same hash of their rowid (file index 0): the sampled matrix equals
    the in-memory drift of exactly those rows; equal-row windows are sampled the same way."""
    db = tmp_path / "log.duckdb"
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE preds AS SELECT * FROM read_parquet('{parquet}/**/*.parquet') ORDER BY ts")
    every = con.execute("SELECT *, rowid AS r FROM preds").df()
    con.close()
    log = open_log(EngineSource(db, table="preds"), ROLES, task="binary", classes=[0, 1], positive=1)
    with log:
        keys, result = _sampled(log)
        s = result.sample
        assert s is not None and s.rule == "rows kept by a hash of the DuckDB table's rowid"
        month = every["ts"].dt.to_period("M").dt.to_timestamp()
        shares = dict(zip(pd.to_datetime(keys["window"]), s.window_shares, strict=True))
        limit = month.map(lambda m: engine_drift.threshold(shares[m])).to_numpy()
        rows = every[engine_drift.row_hash(0, every["r"].to_numpy()) < limit].reset_index(drop=True)
        months = rows["ts"].dt.to_period("M").dt.to_timestamp()
        codes = pd.Index(np.sort(months.unique())).get_indexer(months)
        profile = drift.reference_profile(rows[codes == 0], features=FEATURES)
        mem = drift.drift_by_window(profile, rows, codes, codes.max() + 1, features=FEATURES)
        for col in ("rows", "psi", "ks", "js", "p_value"):
            np.testing.assert_allclose(result.table[col], mem.table[col], rtol=1e-9, atol=1e-12, err_msg=col)
        windows = by_time_window(log, "rows", n_windows=4)
        first = f"{windows.code} = 0"
        keys, result = engine_drift.drift_matrix(
            log,
            windows,
            features=FEATURES,
            reference_where=first,
            exact_rows=0,
            sample_rows=5000,
            min_window_rows=0,
        )
        assert len(keys) == 4 and result.sample.share() == "a uniform 1-in-6 sample"
        assert result.sample.rows == sum(result.sample.window_rows) < sum(SIZES.values()) / 5


def test_the_compiled_count_of_the_sample_gives_the_sql_counts_matrix(parquet, monkeypatch):
    """The sampled matrix counts its scanned features' codes with a compiled loop over the in-memory sample
    (``_count_codes``); with the SQL way (the ``_dcodes`` table) instead, on the same rows, every count is the same
    and every number equal to 1e-12. ``KS_MAX_POINTS`` lowered: x, y and k are scanned (the grid KS)."""
    import functools

    monkeypatch.setattr(engine_drift, "KS_MAX_POINTS", 40)
    calls = []
    count = engine_drift._count_codes
    monkeypatch.setattr(engine_drift, "_count_codes", lambda *a: calls.append(a[1]) or count(*a))
    with _open(parquet) as log:
        keys, fast = _sampled(log)
    numeric = fast.table[fast.table["kind"] == "numeric"]
    assert set(numeric["feature"]) == {"x", "y", "k"} and (numeric["ks_method"] == "grid").all()
    assert calls == [["x", "y", "k"], ["x", "y", "k"]]  # the reference profile, then the windows
    monkeypatch.setattr(
        engine_drift, "_counting_in_memory", functools.partial(engine_drift._counting_in_memory, False)
    )
    calls.clear()
    with _open(parquet) as log:
        keys_sql, by_sql = _sampled(log)
    assert calls == []
    pd.testing.assert_frame_equal(keys, keys_sql)
    assert fast.sample == by_sql.sample
    for f in FEATURES:
        np.testing.assert_array_equal(fast.counts[f], by_sql.counts[f], err_msg=f)
        np.testing.assert_array_equal(
            fast.reference.features[f].ref_counts, by_sql.reference.features[f].ref_counts, err_msg=f
        )
    for col in ("rows", "psi", "ks", "js", "distance", "p_value", "missing_share", "unseen_share"):
        np.testing.assert_allclose(fast.table[col], by_sql.table[col], rtol=1e-12, atol=1e-12, err_msg=col)
