"""The Spark engine (local mode): the engine's queries, translated to Spark SQL, give the pandas path's numbers.

The assertions are the DuckDB engine's own tests (tests/engine/test_metrics.py, test_drift.py), run on a
``LogTable`` whose queries Spark executes; then the translation's edge cases (NULL, NaN, ±inf) against DuckDB,
the sample, a workspace with ``engine = "spark"``, and each bad input's message.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import duckdb
import numpy as np
import pandas as pd
import pytest

from explore import errors
from explore.core.workspace import open_workspace, read_workspace, score
from explore.engine import EngineSource, open_log, open_source
from explore.engine.dialect import to_spark
from tests.engine import test_drift as duck_drift
from tests.engine import test_metrics as duck_metrics
from tests.engine.conftest import SPARK_MASTER
from tests.helpers import make_workspace

pytestmark = pytest.mark.spark


def _write_partitions(df: pd.DataFrame, parts) -> None:
    month = pd.to_datetime(df["when"]).dt.strftime("%Y-%m")
    for m, part in df.assign(when=pd.to_datetime(df["when"])).groupby(month):
        (parts / f"month={m}").mkdir(parents=True)
        part.to_parquet(parts / f"month={m}" / "part-0.parquet", index=False)


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def spark_pair(request, tmp_path_factory, spark):
    """(Scored in memory, LogTable run by Spark over hive-partitioned Parquet) of the same rows."""
    task = request.param
    df = duck_metrics.predictions_log(task)
    root = tmp_path_factory.mktemp(f"spark-{task}")
    cols = {**duck_metrics.COLUMNS[task], "task": task}
    toml = make_workspace(root / "ws", task=task, model=None, columns=cols, datasets={"log": df})
    ws = open_workspace(read_workspace(toml))
    scored = score(ws, "log", None)
    _write_partitions(df, root / "parquet")
    positive = None if ws.positive_index is None else ws.classes[ws.positive_index]
    source = EngineSource(root / "parquet", engine="spark", master=SPARK_MASTER)
    log = open_log(source, ws.columns, task=ws.task, classes=ws.classes, positive=positive)
    yield scored, log
    log.con.close()


def test_overall_metrics_equal_the_pandas_path(spark_pair):
    duck_metrics.test_overall_metrics_equal_the_pandas_path(spark_pair)


def test_group_by_two_columns_and_monthly_windows_equal_the_pandas_path(spark_pair):
    duck_metrics.test_group_by_two_columns_equals_the_pandas_path(spark_pair)
    duck_metrics.test_monthly_windows_equal_the_pandas_path(spark_pair)


def test_slice_groups_and_a_filter_equal_the_pandas_path(spark_pair):
    if spark_pair[0].task != "binary":
        pytest.skip(
            "the grouping queries do not depend on the task (their metrics are tested above): one is enough"
        )
    for column in ("hours", "city"):
        duck_metrics.test_slice_groups_of_a_column_equal_group_column_in_memory(spark_pair, column)
    duck_metrics.test_a_slice_filter_runs_in_the_engine_with_the_rows_of_its_mask(spark_pair)


@pytest.mark.parametrize("batched", [False, True], ids=["per-column", "batched"])
def test_weak_slice_discovery_equals_the_pandas_path(spark_pair, batched, monkeypatch):
    duck_metrics.test_weak_slice_discovery_equals_the_pandas_path(spark_pair, "loss", batched, monkeypatch)


def test_exact_auc_drift_and_invariants_equal_the_pandas_path(spark_pair, monkeypatch):
    if spark_pair[0].task != "binary":
        pytest.skip("the drift and AUC queries do not depend on the task: one is enough")
    duck_metrics.test_auc_is_exact_with_ties_against_sklearn(spark_pair)
    duck_drift.test_drift_matrix_equals_the_pandas_path(spark_pair)
    duck_drift.test_data_invariants_equal_the_pandas_path(spark_pair)
    duck_drift.test_ks_equals_scipy_and_the_grid_is_a_close_lower_bound(spark_pair, monkeypatch)


def test_the_translated_functions_agree_with_duckdb_on_null_nan_and_inf(spark):
    from explore.engine.spark import SparkConnection

    x = [1.5, None, float("nan"), float("inf"), -float("inf"), -2.0, 0.25]
    df = pd.DataFrame({"i": range(len(x)), "x": x, "g": [0, 0, 1, 1, 1, 0, 1]})
    exprs = [
        "isfinite(x)",
        "coalesce(isinf(x), false)::INTEGER",
        "(x IS NULL OR isnan(x))",
        "x ** 2",
        "CASE WHEN x > 0.5 THEN 1.0 ELSE 0.0 END",
        "count(*) FILTER (WHERE isfinite(x)) OVER (PARTITION BY g)",
    ]
    query = f"SELECT i, {', '.join(f'{e} AS e{k}' for k, e in enumerate(exprs))} FROM t ORDER BY i"
    duck = duckdb.connect()
    duck.register("t", df)
    expected = duck.execute(query).df().astype(object)
    con = SparkConnection(spark.newSession())
    con.register("t", df)
    got = con.execute(query).df().astype(object)
    pd.testing.assert_frame_equal(got.where(got.notna(), None), expected.where(expected.notna(), None))
    top = "SELECT g, list_sum(max(v, 2)) / len(max(v, 2)) AS m FROM u GROUP BY g ORDER BY g"
    u = pd.DataFrame({"g": [0, 0, 0, 1], "v": [1.0, 5.0, 3.0, 2.0]})
    duck.register("u", u)
    con.register("u", u)
    assert con.execute(top).fetchall() == duck.execute(top).fetchall() == [(0, 4.0), (1, 2.0)]
    assert "SORT_ARRAY" in to_spark(top)
    # GROUPING over some of the grouping columns (drift's histograms group by g and one key at a time): Spark's
    # grouping_id takes only the whole GROUP BY list, so the bits are summed from grouping() of each column.
    sets = (
        "SELECT g, a, b, GROUPING(a, b) AS gid, count(*) AS n FROM v "
        "GROUP BY GROUPING SETS ((g), (g, a), (g, b)) ORDER BY gid, g, a, b"
    )
    v = pd.DataFrame({"g": [0, 0, 1, 1, 1], "a": [1, 2, 1, 1, 2], "b": ["x", "y", "y", "x", "x"]})
    duck.register("v", v)
    con.register("v", v)
    expected = duck.execute(sets).fetchall()
    assert {r[3] for r in expected} == {1, 2, 3}
    assert con.execute(sets).fetchall() == expected
    # a percent sample (discovery's edge sample above 1M rows): each row kept with that probability, the seed fixed
    w = pd.DataFrame({"i": range(2000)})
    con.register("w", w)
    some = "SELECT i FROM w WHERE i >= 0 USING SAMPLE {p} PERCENT (system, 3) ORDER BY i"
    half = con.execute(some.format(p=50.0)).fetchall()
    assert 800 < len(half) < 1200 and half == con.execute(some.format(p=50.0)).fetchall()
    assert len(con.execute(some.format(p=100.0)).fetchall()) == 2000
    assert con.execute(some.format(p=0.0)).fetchall() == []


def test_the_sample_is_stratified_by_label_with_every_prediction(spark, tmp_path):
    from explore.engine.sample import draw_sample

    rng = np.random.default_rng(0)
    n = 2000
    y = np.where(rng.random(n) < 0.05, "rare", "common")
    pred = np.where(rng.random(n) < 0.01, "odd", y)
    _write_partitions(
        pd.DataFrame({"y": y, "pred": pred, "x": rng.normal(size=n), "when": pd.Timestamp("2024-01-05")}),
        tmp_path / "logs",
    )
    con = open_source(EngineSource(tmp_path / "logs", engine="spark", master=SPARK_MASTER))
    sample, info = draw_sample(con, "y", "pred", rows=100)
    counts = sample["y"].value_counts()
    assert counts["rare"] == 50 and counts["common"] >= 50  # equal shares; the odd predictions come on top
    assert set(sample["pred"]) == set(pred)
    assert info.total == n and info.stratified_by == "y" and info.rows == len(sample)
    again, _ = draw_sample(con, "y", "pred", rows=100)
    assert sorted(again["x"]) == sorted(sample["x"])  # reproducible
    con.close()


def test_a_workspace_with_engine_spark_opens_a_sample_and_a_spark_log(spark, tmp_path):
    from explore.engine import overall_metrics
    from explore.engine.spark import SparkConnection
    from explore.stats import metrics

    df = duck_metrics.predictions_log("binary", n=600)
    _write_partitions(df, tmp_path / "ws" / "logs")
    cols = {**duck_metrics.COLUMNS["binary"], "task": "binary"}
    toml = make_workspace(tmp_path / "mem", task="binary", model=None, columns=cols, datasets={"log": df})
    text = (tmp_path / "mem" / "workspace.toml").read_text()
    ws_toml = tmp_path / "ws" / "workspace.toml"
    ws_toml.write_text(
        text.split("[datasets]")[0]
        + f'[datasets]\nlog = {{ path = "logs", engine = "spark", master = "{SPARK_MASTER}" }}\n'
        + "\n".join(line for line in text.split("[datasets]")[1].splitlines()[1:] if line.startswith("["))
    )
    ws = open_workspace(read_workspace(ws_toml))
    log = ws.log("log")
    assert isinstance(log.con, SparkConnection)
    mem = metrics.overall_metrics(score(open_workspace(read_workspace(toml)), "log", None))
    duck_metrics.assert_same(mem, overall_metrics(log))
    log.con.close()


def test_empty_globs_and_mismatched_partitions_are_named_before_spark_reads(spark, tmp_path):
    with pytest.raises(errors.DataError, match="matches no files"):
        open_source(EngineSource(str(tmp_path / "none" / "*.parquet"), engine="spark", master=SPARK_MASTER))
    (tmp_path / "a").mkdir()
    pd.DataFrame({"y": [0, 1], "ts": pd.to_datetime(["2024-01-01", "2024-01-02"])}).to_parquet(
        tmp_path / "a" / "1.parquet"
    )
    pd.DataFrame({"y": [0, 1], "ts": ["2024-02-01", "2024-02-02"]}).to_parquet(tmp_path / "a" / "2.parquet")
    with pytest.raises(errors.DataError, match="different types .* Timestamps must be stored with one type"):
        open_source(EngineSource(tmp_path / "a", engine="spark", master=SPARK_MASTER))
    with pytest.raises(errors.WorkspaceError, match="one process has one Spark master"):
        open_source(EngineSource(tmp_path / "a", engine="spark", master="local[1]"))


def _without_spark(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (no JVM yet), from the worktree, with ``env``."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_java_missing_and_an_unreachable_master_are_messages_not_py4j_traces(tmp_path):
    pytest.importorskip("pyspark")
    (tmp_path / "logs").mkdir()
    pd.DataFrame({"y": [0, 1]}).to_parquet(tmp_path / "logs" / "a.parquet")
    code = f"""
        import sys
        from explore import errors
        from explore.engine import EngineSource, open_source
        try:
            open_source(EngineSource({str(tmp_path / "logs")!r}, engine="spark", master=sys.argv[1] if len(sys.argv) > 1 else {{master!r}}))
        except errors.ExploreError as exc:
            print("MESSAGE:", exc)
    """
    base = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "PYSPARK_PYTHON")}
    no_java = {**base, "PATH": str(tmp_path)}  # a PATH without java, no JAVA_HOME
    out = _without_spark(code.format(master="local[1]"), no_java)
    assert "MESSAGE: Spark needs a Java runtime" in out.stdout and "openjdk-17-jre-headless" in out.stdout
    assert "Traceback" not in out.stderr and "Py4J" not in out.stderr + out.stdout
    with socket_closed_port() as port:
        out = _without_spark(code.format(master=f"spark://127.0.0.1:{port}"), base)
    assert (
        f"MESSAGE: The Spark master spark://127.0.0.1:{port}" in out.stdout
        and "cannot be reached" in out.stdout
    )
    assert "Traceback" not in out.stderr
    out = _without_spark(code.format(master="sparky://x"), base)
    assert "is not a master URL" in out.stdout


class socket_closed_port:
    """A local TCP port with nothing listening (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        return None


def test_engine_spark_and_its_master_are_read_from_workspace_toml(tmp_path):
    from explore.core.workspace import parse_workspace

    def config(entry: dict):
        data = {"columns": {"label": "y", "prediction": "p"}, "datasets": {"log": entry}}
        return parse_workspace(data, tmp_path / "workspace.toml")

    source = config({"path": "logs", "engine": "spark", "master": "spark://head:7077"}).engine_sources["log"]
    assert (source.engine, source.master, source.path) == ("spark", "spark://head:7077", tmp_path / "logs")
    assert config({"path": "logs", "engine": "spark"}).engine_sources["log"].master == "local[*]"
    lake = config({"path": "s3a://bucket/logs/", "engine": "spark"}).engine_sources["log"]
    assert lake.path == "s3a://bucket/logs/"  # a data-lake path is Spark's to read, as written
    for entry in (
        {"path": "logs", "master": "local[2]"},
        {"path": "logs", "engine": "duckdb", "master": "yarn"},
    ):
        with pytest.raises(errors.WorkspaceError, match="a master URL is for the Spark engine"):
            config(entry)


def test_explore_check_on_a_spark_workspace_passes_and_fails_as_in_memory(spark, tmp_path, monkeypatch):
    """`explore check` on a workspace whose evaluation and serving logs are read by Spark: the engine checks run on
    every row (the same summaries as in memory), the row-level ones on Spark's sample and say so."""
    import json

    from explore.checks import registry
    from tests.engine.test_out_of_core_api import twin_workspaces

    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    serving = duck_metrics.predictions_log("binary", 500)
    serving["age"] = serving["age"] + 60  # out of the training range: the invariants check fails
    datasets = {
        "train": duck_metrics.predictions_log("binary", 400),
        "validation": duck_metrics.predictions_log("binary", 800),
        "production": serving,
    }
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 200)
    twin_workspaces(
        tmp_path, "binary", datasets, {"validation", "production"}, engine="spark", master=SPARK_MASTER
    )
    reports = {}
    for name in ("ooc", "mem"):
        code = registry.main(
            [str(tmp_path / name), "--checks", "weak_slices,fairness,invariants,stability", "--fairness", "city",
             "--out", str(tmp_path / f"out-{name}")]
        )  # fmt: skip
        checks = json.loads((tmp_path / f"out-{name}" / registry.REPORT_JSON).read_text())["checks"]
        reports[name] = (code, {c["name"]: c for c in checks})
    (code_s, spark_run), (code_m, mem_run) = reports["ooc"], reports["mem"]
    assert code_s == code_m == 1
    assert {n: c["status"] for n, c in spark_run.items()} == {n: c["status"] for n, c in mem_run.items()}
    for name in ("weak_slices", "fairness", "invariants"):
        assert spark_run[name]["summary"] == mem_run[name]["summary"], name
    assert spark_run["weak_slices"]["details"]["every_row_by_engine"] == {"validation": 800}
    assert "Ran on a sample drawn by the engine" in spark_run["stability"]["summary"]


def test_drift_of_two_categorical_features_on_spark(spark_pair):
    from explore.engine import by_time_window, drift_by_window, reference_profile

    scored, log = spark_pair
    if scored.task != "binary":
        pytest.skip("one task is enough: the drift queries do not depend on it")
    profile = reference_profile(log, features=["city", "month"])
    drift_by_window(profile, log, by_time_window(log, "month"), features=["city", "month"])


def test_local_mode_settings_fit_the_cores_and_the_memory_of_the_machine():
    from explore.engine.spark import local_conf

    conf = local_conf("local[2]", memory_mb=24 * 1024)
    # 2 × cores shuffle partitions (not Spark's 200), AQE on, the heap capped at 6 GiB
    assert conf["spark.sql.shuffle.partitions"] == "4" and conf["spark.default.parallelism"] == "4"
    assert conf["spark.sql.adaptive.enabled"] == "true"
    assert conf["spark.driver.memory"] == "6144m"
    assert local_conf("local[3]", memory_mb=8000)["spark.driver.memory"] == "2000m"  # a quarter of 8 GB
    assert (
        local_conf("local[1]", memory_mb=2000)["spark.driver.memory"] == "1024m"
    )  # never below Spark's 1 GiB
    unknown = local_conf(
        "local[*]", cores=8, memory_mb=0
    )  # the machine's memory unknown: Spark's default heap
    assert "spark.driver.memory" not in unknown and unknown["spark.sql.shuffle.partitions"] == "16"


def test_scanned_drift_with_missing_infinite_and_unseen_values_on_spark(spark, tmp_path, monkeypatch):
    """The DuckDB test's log (NaN, NULL, ±inf, a window without a present value, new categories) as Parquet read by
    Spark: the same numbers — Spark's floor of NaN is 0, so a grid cell clamps before its floor."""
    import pyarrow.parquet as pq

    from explore.core.workspace import ColumnRoles
    from tests.engine import test_drift_codes as codes

    frame, null_x = codes.missing_infinite_unseen()
    pq.write_table(codes.as_arrow(frame, null_x), tmp_path / "log.parquet")
    source = EngineSource(tmp_path / "log.parquet", engine="spark", master=SPARK_MASTER)
    log = open_log(source, ColumnRoles(**codes.ROLES), task="binary", classes=[0, 1], positive=1)
    try:
        codes.assert_scanned_drift_equals_the_pandas_path(log, frame, null_x, monkeypatch)
    finally:
        log.con.close()


def test_sessions_leave_no_whole_stage_function_to_the_jvm_interpreter(spark):
    # HotSpot does not compile a method of more than 8,000 bytes of bytecode; Spark's default limit for a
    # whole-stage function is 65,535, so drift's and discovery's per-row codes ran interpreted (docs/scale.md).
    from explore.engine.spark import SESSION_CONF

    assert SESSION_CONF["spark.sql.codegen.hugeMethodLimit"] == "8000"
    assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "8000"


def test_grouping_set_counts_are_counted_once_by_every_key_then_rolled_up(spark):
    # Spark repeats each row once per grouping set; the translation counts by every key first, then sums the
    # counts per set. NULL keys stay their own group, GROUPING() still tells them from a rolled-up key.
    from explore.engine.spark import SparkConnection

    t = pd.DataFrame(
        {
            "g": [0, 0, 1, 1, 1, 0, 1, 1],
            "a": ["x", None, "y", "y", None, "x", "x", "y"],
            "b": [1.0, 2.0, None, 2.0, 2.0, float("nan"), 1.0, 1.0],
        }
    )
    duck = duckdb.connect()
    duck.register("t", t)
    con = SparkConnection(spark.newSession())
    con.register("t", t)
    counted = (
        "SELECT g, v0, v1, GROUPING(v0, v1) AS gid, count(*) AS n FROM (SELECT g, a AS v0, b AS v1 FROM t "
        "WHERE g >= 0) GROUP BY GROUPING SETS ((g), (g, v0), (g, v1)) ORDER BY gid, g, v0 NULLS FIRST, v1 NULLS FIRST"
    )
    translated = to_spark(counted)
    assert "_pre" in translated and "SUM(_n)" in translated
    got = con.execute(counted).df().astype(object)
    expected = duck.execute(counted).df().astype(object)
    pd.testing.assert_frame_equal(
        got.where(got.notna(), None), expected.where(expected.notna(), None), check_dtype=False
    )
    assert sorted(expected["gid"].unique()) == [1, 2, 3]
    # another aggregate than count(*) is left to Spark's own grouping sets
    summed = "SELECT v0, sum(b) AS s FROM (SELECT a AS v0, b FROM t) GROUP BY GROUPING SETS ((v0), ())"
    assert "_pre" not in to_spark(summed)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_performance_over_time_rates_and_an_empty_month_through_spark(task, tmp_path, spark):
    """The engine's rates (one GROUP BY) and its empty calendar windows are the same queries on Spark: the
    in-memory result, to 1e-9 (and a regressor's default fairness gap from every row's label SD)."""
    import explore
    from tests.engine.test_out_of_core_api import twin_workspaces

    df = duck_metrics.predictions_log(task, 2000)
    df = df[pd.to_datetime(df["when"]).dt.strftime("%Y-%m") != "2024-03"]
    ooc, mem = twin_workspaces(tmp_path, task, {"log": df}, {"log"}, engine="spark", master=SPARK_MASTER)
    eng, ref = explore.performance_over_time(ooc), explore.performance_over_time(mem)
    pd.testing.assert_frame_equal(eng.value.table, ref.value.table, rtol=1e-9)
    pd.testing.assert_frame_equal(eng.value.rates, ref.value.rates, rtol=1e-9)
    assert "2024-03" in set(eng.value.windows["label"])
    if task == "regression":
        assert (
            explore.fairness(ooc, "city").facts["threshold"]
            == explore.fairness(mem, "city").facts["threshold"]
        )
