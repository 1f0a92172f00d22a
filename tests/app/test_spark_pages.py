"""AppTest on a workspace whose dataset is read by Spark (engine = "spark", local master): the Workspace, Slices
and Staleness pages (performance over time, invariants) show the engine's results on every row, computed by
Spark, with the sample stated. One test
walks the three pages (a Spark query costs about a second here: kept few)."""

from __future__ import annotations

import pandas as pd
import pytest

from explore.core.upload import toml_text
from tests.conftest import assert_no_exception, unescaped
from tests.engine.conftest import SPARK_MASTER, spark  # noqa: F401 - the session's one Spark session (a fixture)
from tests.engine.test_metrics import COLUMNS, predictions_log
from tests.engine.test_spark import _write_partitions

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = 600


def _captions(at) -> str:
    return "\n".join(unescaped(str(c.value)) for c in at.caption)


def test_workspace_slices_and_staleness_pages_on_a_spark_workspace(spark, make_app, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 200)
    df = predictions_log("binary", ROWS)
    _write_partitions(df, tmp_path / "logs")
    cols = {**COLUMNS["binary"], "task": "binary", "positive": ">50K"}
    (tmp_path / "workspace.toml").write_text(
        toml_text(
            {
                "columns": cols,
                "datasets": {"log": {"path": "logs", "engine": "spark", "master": SPARK_MASTER}},
            }
        )
    )
    at = make_app("views/workspace.py", workspace=tmp_path / "workspace.toml", timeout=900)
    assert_no_exception(at)
    # the Workspace page draws no sample: it says one will be drawn when a view needs rows
    assert f"a sample of up to 200 of {ROWS:,} rows, drawn by the engine the first time" in _captions(at)
    assert any("accuracy" in d.value.to_string() for d in at.dataframe)

    at.switch_page("views/slices.py").run()
    assert_no_exception(at)
    at.multiselect(key="slices_group_by").set_value(["city"]).run()
    assert_no_exception(at)
    assert f"all {ROWS:,} rows" in _captions(at)
    assert f"of {ROWS:,} rows drawn by the engine, stratified by 'income'" in _captions(
        at
    )  # drawn for the rows
    table = next(d.value for d in at.dataframe if "city" in d.value.columns)
    assert list(table["city"]) == ["Lyon", "Nice", "Paris"] and table["support"].sum() == ROWS

    at.switch_page("views/staleness.py").run()
    assert_no_exception(at)
    text = _captions(at)
    assert "by calendar month, computed by the engine" in text and "counted by the engine" in text
    months = pd.to_datetime(df["when"]).dt.to_period("M").nunique()
    performance = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert len(performance) == months  # one row per calendar month of every row
    invariants = next(d.value for d in at.dataframe if "max_null_increase" in d.value.columns)
    assert len(invariants) == months
    # The drift heat map of this workspace (two text features: city, and the partition key month) is not asserted
    # here: on Spark it fails today, see test_spark.py::test_drift_of_two_categorical_features_on_spark.
