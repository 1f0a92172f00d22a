"""Out-of-core sources: what they read, and a message naming the problem and the fix for each bad input."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from explore import errors
from explore.core.workspace import ColumnRoles
from explore.engine import EngineSource, open_log, open_source, resolve_engine, row_count


def _write(path, df):
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def _df(n=10, **extra):
    return pd.DataFrame({"y": [0, 1] * (n // 2), "p": [0.2, 0.7] * (n // 2), **extra})


def test_a_glob_a_folder_with_hive_partitions_and_a_duckdb_table_read_the_same_rows(tmp_path):
    _write(tmp_path / "logs" / "month=2024-01" / "a.parquet", _df())
    _write(tmp_path / "logs" / "month=2024-02" / "a.parquet", _df())
    folder = open_source(EngineSource(tmp_path / "logs"))
    assert folder.execute("SELECT count(*), count(DISTINCT month) FROM source").fetchone() == (20, 2)
    glob = open_source(EngineSource(str(tmp_path / "logs" / "*" / "*.parquet")))
    assert glob.execute("SELECT count(*) FROM source").fetchone()[0] == 20
    assert row_count(EngineSource(tmp_path / "logs")) == 20
    db = tmp_path / "db.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("frame", _df(8))
        con.execute("CREATE TABLE preds AS SELECT * FROM frame")
    table = open_source(EngineSource(db, table="preds"))
    assert table.execute("SELECT count(*) FROM source").fetchone()[0] == 8
    # the partition columns are recorded for the engine's queries (explore.engine.metrics._partition_columns)
    partitions = "SELECT getvariable('explore_partition_columns')"
    assert folder.execute(partitions).fetchone()[0] == ["month"]
    assert table.execute(partitions).fetchone()[0] is None
    assert open_source(EngineSource(tmp_path / "logs" / "month=2024-01" / "a.parquet")).execute(
        partitions
    ).fetchone()[0] == ["month"]  # a file of a partition folder: DuckDB reads its month too


def test_auto_engine_by_size(tmp_path, monkeypatch):
    _write(tmp_path / "a.parquet", _df(10))
    src = EngineSource(tmp_path / "a.parquet")
    assert resolve_engine(src) == "pandas"
    monkeypatch.setattr("explore.engine.source.AUTO_ENGINE_ROWS", 5)
    assert resolve_engine(src) == "duckdb"
    assert resolve_engine(EngineSource(tmp_path / "a.parquet", engine="pandas")) == "pandas"


def test_a_glob_that_matches_nothing(tmp_path):
    with pytest.raises(errors.DataError, match=r"matches no files.*workspace.toml \[datasets\]"):
        open_source(EngineSource(str(tmp_path / "logs" / "*.parquet")))


def test_a_column_missing_in_some_files(tmp_path):
    _write(tmp_path / "a.parquet", _df(region=["n"] * 10))
    _write(tmp_path / "b.parquet", _df())
    with pytest.raises(
        errors.ColumnError, match=r"'region' is missing in 1 of 2 Parquet files.*b\.parquet.*rewrite"
    ):
        open_source(EngineSource(str(tmp_path / "*.parquet")))


def test_partitions_with_different_schemas(tmp_path):
    _write(tmp_path / "a.parquet", _df())
    _write(tmp_path / "b.parquet", _df().assign(p=lambda d: d["p"].astype(str)))
    with pytest.raises(
        errors.DataError, match=r"'p' has different types.*DOUBLE.*VARCHAR.*one type everywhere"
    ):
        open_source(EngineSource(str(tmp_path / "*.parquet")))


def test_timestamps_of_mixed_types_across_files(tmp_path):
    _write(tmp_path / "a.parquet", _df(t=pd.date_range("2024-01-01", periods=10)))
    _write(tmp_path / "b.parquet", _df(t=pd.date_range("2024-02-01", periods=10).strftime("%Y-%m-%d")))
    with pytest.raises(errors.DataError, match=r"'t' has different types.*TIMESTAMP"):
        open_source(EngineSource(str(tmp_path / "*.parquet")))


def test_a_missing_duckdb_file_or_table(tmp_path):
    with pytest.raises(errors.DataError, match="does not exist"):
        open_source(EngineSource(tmp_path / "none.duckdb", table="preds"))
    db = tmp_path / "db.duckdb"
    duckdb.connect(str(db)).execute("CREATE TABLE other (x INT)").close()
    with pytest.raises(errors.DataError, match=r"no table 'preds'.*other"):
        open_source(EngineSource(db, table="preds"))


def test_a_role_column_missing_from_the_log(tmp_path):
    _write(tmp_path / "a.parquet", _df())
    with pytest.raises(errors.ColumnError, match=r"score column 'proba'.*Its columns: y, p"):
        open_log(EngineSource(tmp_path / "a.parquet"), ColumnRoles(label="y", score="proba"), task="binary")


def test_schemas_are_read_once_per_version_of_the_files(tmp_path, monkeypatch):
    """Opening a workspace opens its files twice (the probe, the log): the second reads no schema; a file changed
    since (its size or modification time) is read again, and a column it lost is said as before."""
    from explore.engine import source as engine_source

    _write(tmp_path / "logs" / "a.parquet", _df())
    _write(tmp_path / "logs" / "b.parquet", _df())
    reads = []
    real = engine_source._read_schemas
    monkeypatch.setattr(engine_source, "_read_schemas", lambda *a: reads.append(1) or real(*a))
    src = EngineSource(tmp_path / "logs")
    open_source(src).close()
    open_source(src).close()
    assert reads == [1]
    _write(tmp_path / "logs" / "b.parquet", _df().drop(columns="p"))
    with pytest.raises(errors.ColumnError, match="The column 'p' is missing in 1 of 2 Parquet files"):
        open_source(src)
    assert reads == [1, 1]
