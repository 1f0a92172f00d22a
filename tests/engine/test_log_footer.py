"""Opening a binary log reads its score's range and its labelled rows from the Parquet footers when they settle
whether the score is a probability (explore.engine.log.footer_score_range): the same log as the pass over the
rows gives (row count, probabilities, unavailable metrics), and the rows are read whenever the footers cannot
say (no statistics, the label a hive partition, a range outside [0, 1] that may be the unlabelled rows')."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from explore.core.workspace import ColumnRoles
from explore.engine.log import footer_score_range, open_log
from explore.engine.source import EngineSource, open_source

ROLES = ColumnRoles(label="y", prediction="pred", score="score", task="binary")


def _frame(n: int = 4_000, seed: int = 0, missing: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    y = (rng.random(n) < score).astype("float64")
    y[rng.choice(n, missing, replace=False)] = np.nan
    return pd.DataFrame(
        {"y": pd.array(y, dtype="Int8"), "pred": (score >= 0.5).astype("int8"), "score": score}
    )


def _write(folder, parts: list[pd.DataFrame], **kwargs) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, part in enumerate(parts):
        path = folder / f"part-{i}.parquet"
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path, row_group_size=700, **kwargs)
        files.append(path)
    return files


def _open(folder, files):
    source = EngineSource(path=str(folder / "*.parquet"), engine="duckdb")
    return open_log(open_source(source), ROLES, name="log", classes=[0, 1], parquet_files=files)


def _both(folder, files):
    with_footers, rows_only = _open(folder, files), _open(folder, None)
    for log in (with_footers, rows_only):
        log.con.close()
    return with_footers, rows_only


@pytest.mark.parametrize("missing", [0, 137])
def test_the_footers_give_the_same_log_as_the_rows(tmp_path, missing):
    df = _frame(missing=missing)
    files = _write(tmp_path / "log", [df.iloc[:2500], df.iloc[2500:]])
    got = footer_score_range(files, "score", "y")
    assert got is not None
    lo, hi, labelled = got
    assert labelled == df["y"].notna().sum() == 4_000 - missing
    assert lo == pytest.approx(df["score"].min()) and hi == pytest.approx(df["score"].max())
    with_footers, rows_only = _both(tmp_path / "log", files)
    assert with_footers.memo["count(*)"] == rows_only.memo["count(*)"] == labelled
    assert with_footers.has_proba and rows_only.has_proba
    assert with_footers.unavailable == rows_only.unavailable == {}


def test_without_statistics_the_rows_are_read(tmp_path):
    files = _write(tmp_path / "log", [_frame()], write_statistics=False)
    assert footer_score_range(files, "score", "y") is None
    with_footers, rows_only = _both(tmp_path / "log", files)
    assert with_footers.memo == rows_only.memo and with_footers.has_proba


def test_a_range_outside_0_1_is_read_from_the_labelled_rows(tmp_path):
    """Footers cover the unlabelled rows too: a score of 7 on a row without a label leaves the labelled rows'
    scores probabilities, which only the rows can tell."""
    df = _frame(missing=10)
    df.loc[df["y"].isna().to_numpy().nonzero()[0][0], "score"] = 7.0
    files = _write(tmp_path / "log", [df])
    assert footer_score_range(files, "score", "y") is None
    with_footers, rows_only = _both(tmp_path / "log", files)
    assert with_footers.has_proba and rows_only.has_proba
    assert with_footers.memo["count(*)"] == 3_990


def test_a_score_that_is_not_a_probability_says_so_either_way(tmp_path):
    df = _frame()
    df["score"] = df["score"] * 10
    files = _write(tmp_path / "log", [df])
    with_footers, rows_only = _both(tmp_path / "log", files)
    assert with_footers.unavailable == rows_only.unavailable
    assert set(with_footers.unavailable) == {"log loss", "Brier"}


def test_a_label_that_is_a_hive_partition_is_not_in_the_footers(tmp_path):
    df = _frame()
    files = []
    for value, part in df.groupby("y"):
        files += _write(tmp_path / "log" / f"y={value}", [part.drop(columns="y")])
    assert footer_score_range(files, "score", "y") is None


def test_files_that_are_not_parquet_are_read_as_rows(tmp_path):
    bad = tmp_path / "not.parquet"
    bad.write_text("not parquet")
    assert footer_score_range([bad], "score", "y") is None


def test_a_nan_score_is_left_out_whichever_wrote_the_files(tmp_path):
    """A score column in [0, 1] with a few NaN: a probability with its log loss and Brier, as in memory
    (np.nanmin / np.nanmax). DuckDB answered min / max from pyarrow's statistics (NaN left out) but read the rows of
    its own files (no statistics for a column with NaN), where NaN is above every number: the same rows were a
    probability written by pyarrow and "not a probability in [0, 1]" written by DuckDB."""
    import duckdb
    from sklearn.metrics import brier_score_loss, log_loss

    from explore.engine import overall_metrics

    rng = np.random.default_rng(3)
    n = 3000
    score = rng.random(n)
    y = (rng.random(n) < score).astype("int8")
    score[[5, 99, 2000]] = np.nan
    table = pa.table(
        {"y": y, "pred": (score >= 0.5).astype("int8"), "score": pa.array(score, from_pandas=False)}
    )
    (tmp_path / "arrow").mkdir()
    (tmp_path / "duck").mkdir()
    pq.write_table(table, tmp_path / "arrow" / "log.parquet")
    duckdb.sql(f"COPY (SELECT * FROM '{tmp_path}/arrow/log.parquet') TO '{tmp_path}/duck/log.parquet'")
    assert (
        footer_score_range([tmp_path / "duck" / "log.parquet"], "score", "y") is None
    )  # no statistics there
    finite = ~np.isnan(score)
    for writer in ("arrow", "duck"):
        files = [tmp_path / writer / "log.parquet"]
        for log in _both(tmp_path / writer, files):
            assert log.has_proba and log.unavailable == {}, writer
        log = _open(tmp_path / writer, None)
        table = overall_metrics(log, confidence=0.95).set_index("metric")
        log.con.close()
        assert table.loc["log loss", "value"] == pytest.approx(log_loss(y[finite], score[finite]), rel=1e-9)
        assert table.loc["Brier", "value"] == pytest.approx(
            brier_score_loss(y[finite], score[finite]), rel=1e-9
        )
