"""The one Spark session of the test run (local mode, two cores, two shuffle partitions, no UI)."""

from __future__ import annotations

import os

import pytest

SPARK_MASTER = "local[2]"


@pytest.fixture(scope="session")
def spark():
    """Started once for every Spark test; CI (CI set) fails without PySpark, a developer's machine skips."""
    if not os.environ.get("CI"):
        pytest.importorskip("pyspark")
    from explore.engine.spark import spark_session

    return spark_session(SPARK_MASTER, conf={"spark.sql.shuffle.partitions": "2"})
