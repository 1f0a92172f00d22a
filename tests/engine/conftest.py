"""The one Spark session of the test run (local mode, two cores, no UI), shared by every Spark test module.

Why the Spark tests are slow: the JVM starts once per test run already (this fixture is session-scoped; the
tests that check Java / master messages start no JVM), and the tests move little data (a few thousand rows).
Their time is the fixed cost of each of the small queries an analysis runs (tens per analysis, ~0.5–4 s each
on the shared, loaded 2-core machine): planning, whole-stage code generation (Janino compiles every new query),
adaptive re-planning and one task per shuffle partition. On small data generated code and adaptive plans
never pay back, so the test session turns them off and runs one shuffle partition: the same SQL and the same
results (the engine's numbers are asserted equal to the pandas path). Measured back to back on the binary log's
AUC, drift, invariants, KS and overall-metrics analyses of test_spark.py (two pairs of runs, load 16–28): 233 s ->
146 s and 118 s -> 82 s (about a third less). Production sessions keep Spark's defaults
(explore.engine.spark.SESSION_CONF).
"""

from __future__ import annotations

import os

import pytest

SPARK_MASTER = "local[2]"  # one process has one master: every Spark test uses this one
SPARK_TEST_CONF = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
}


@pytest.fixture(scope="session")
def spark():
    """Started once for every Spark test; CI (CI set) fails without PySpark, a developer's machine skips."""
    if not os.environ.get("CI"):
        pytest.importorskip("pyspark")
    from explore.engine.spark import spark_session

    return spark_session(SPARK_MASTER, conf=SPARK_TEST_CONF)


def on_duckdb_and_spark(path, roles, call, **open_kwargs) -> list:
    """``call(log)`` on the Parquet ``path`` opened once by DuckDB and once by Spark (each log closed after): the
    two results, DuckDB's first — what the Spark tests compare."""
    from explore.engine.log import open_log
    from explore.engine.source import EngineSource

    results = []
    for engine in ("duckdb", "spark"):
        log = open_log(EngineSource(path, engine=engine, master=SPARK_MASTER), roles, **open_kwargs)
        try:
            results.append(call(log))
        finally:
            log.con.close()
    return results
