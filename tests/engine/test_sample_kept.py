"""The engine-drawn sample is kept beside the workspace: a later open reads it back instead of drawing it again
(at 100M rows the draw reads every column twice), and a change to the files draws a new one. Opening draws
nothing: the sample is drawn (or read back) the first time rows are asked for."""

from __future__ import annotations

import os

import pandas as pd
import pytest

import explore
from explore.core.model_facts import CACHE_FOLDER
from explore.core.score_cache import clear_cache
from explore.engine import sample as engine_sample
from tests.engine.test_metrics import predictions_log
from tests.engine.test_workspace import _partitioned, _toml

ROWS = 2000


@pytest.fixture
def log_workspace(tmp_path, monkeypatch):
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    _partitioned(tmp_path, predictions_log("binary", ROWS))
    _toml(tmp_path, 'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }')
    return tmp_path


def _kept(root):
    return sorted((root / CACHE_FOLDER).glob("sample-*.parquet"))


def _open_and_draw(root):
    ws = explore.open(root)
    ws.dataset("log")  # the rows: the sample drawn or read back
    return ws


def test_opening_draws_no_sample_until_rows_are_asked_for(log_workspace, draws):
    ws = explore.open(log_workspace)
    assert draws == [] and not _kept(log_workspace)
    assert ws.is_out_of_core("log") and ws.samples["log"].total == ROWS and not ws.samples["log"].drawn
    assert ws.task == "binary" and ws.summary()["datasets"]["log"]["rows"] == ROWS
    assert "up to" in ws.samples["log"].caption()
    assert "log" in ws.times and draws == []  # known to have times, not parsed yet
    times = ws.times["log"]  # the sample's times: drawn now, once
    assert len(draws) == 1 and len(times) == len(ws.dataset("log")) == ws.samples["log"].rows
    assert len(draws) == 1 and len(_kept(log_workspace)) == 1


def test_threads_asking_together_draw_once(log_workspace, draws):
    from concurrent.futures import ThreadPoolExecutor

    ws = explore.open(log_workspace)
    with ThreadPoolExecutor(4) as pool:
        frames = list(pool.map(lambda _: ws.dataset("log"), range(4)))
    assert len(draws) == 1 and all(f is frames[0] for f in frames)


def test_a_second_open_reads_the_kept_sample(log_workspace, draws):
    first = _open_and_draw(log_workspace)
    assert len(draws) == 1 and len(_kept(log_workspace)) == 1
    again = _open_and_draw(log_workspace)
    assert len(draws) == 1  # read back, not drawn
    pd.testing.assert_frame_equal(again.dataset("log"), first.dataset("log"))
    assert again.samples["log"].info == first.samples["log"].info
    assert again.samples["log"].total == ROWS and again.samples["log"].rows < ROWS
    # Same dtypes as drawn: the time column stays a timestamp, the label text.
    assert again.dataset("log").dtypes.equals(first.dataset("log").dtypes)
    # The engine's numbers do not depend on where the sample came from.
    with first.log("log") as a, again.log("log") as b:
        assert a.n == b.n == ROWS


def test_changed_files_or_settings_draw_a_new_sample(log_workspace, draws, monkeypatch):
    _open_and_draw(log_workspace)
    part = sorted((log_workspace / "logs").rglob("*.parquet"))[0]
    st = part.stat()
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    _open_and_draw(log_workspace)
    assert len(draws) == 2
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 200)  # another sample size: another sample
    ws = _open_and_draw(log_workspace)
    assert len(draws) == 3 and ws.samples["log"].rows < 300


def test_a_damaged_kept_sample_is_drawn_again(log_workspace, draws):
    first = _open_and_draw(log_workspace)
    (path,) = _kept(log_workspace)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    again = _open_and_draw(log_workspace)
    assert len(draws) == 2
    pd.testing.assert_frame_equal(again.dataset("log"), first.dataset("log"))
    _open_and_draw(log_workspace)
    assert len(draws) == 2  # rewritten whole


def test_an_unwritable_folder_still_opens(log_workspace, draws, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(engine_sample, "_write_kept", refuse)
    ws = _open_and_draw(log_workspace)
    assert ws.samples["log"].total == ROWS and not _kept(log_workspace)


def test_clear_cache_deletes_the_kept_sample(log_workspace, draws):
    ws = _open_and_draw(log_workspace)
    assert _kept(log_workspace)
    assert clear_cache(ws) >= 1
    assert not _kept(log_workspace)


class _Recorded:
    """A DuckDB connection that records the queries it runs."""

    def __init__(self, con):
        self.con, self.queries = con, []

    def execute(self, sql, *args):
        self.queries.append(sql)
        return self.con.execute(sql, *args)


def _source(df):
    import duckdb

    con = duckdb.connect()
    con.register("frame", df)
    con.execute("CREATE VIEW source AS SELECT * FROM frame")
    return _Recorded(con)


def test_common_classes_share_one_pass_and_a_rare_class_gets_its_own():
    import numpy as np

    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.choice(["a", "b", "rare"], n, p=[0.55, 0.44, 0.01])
    df = pd.DataFrame({"y": y, "pred": np.where(rng.random(n) < 0.001, "odd", y), "x": rng.normal(size=n)})
    con = _source(df)
    sample, info = engine_sample.draw_sample(con, "y", "pred", rows=600)
    passes = [q for q in con.queries if "USING SAMPLE" in q]
    assert len(passes) == 2  # one for a and b together, one for the rare class
    assert sum("WHERE" in q for q in passes) == 1
    counts = sample["y"].value_counts()
    assert counts["rare"] == 200 and counts["a"] >= 200 and counts["b"] >= 200  # equal shares
    assert len(sample) == 600 + (sample["pred"] == "odd").sum()  # the odd predictions come on top
    assert set(sample["pred"]) == set(df["pred"])  # every predicted class
    assert info.rows == len(sample) and info.total == n and info.stratified_by == "y"
    # Reproducible, and each class's rows are rows of the data.
    again, _ = engine_sample.draw_sample(_source(df), "y", "pred", rows=600)
    pd.testing.assert_frame_equal(again, sample)
    assert sample.merge(df, on=["y", "pred", "x"]).shape[0] == len(sample)
    # Within a class the picked rows are spread like the class (not the first ones of the pool).
    a = sample.loc[sample["y"] == "a", "x"]
    assert abs(a.mean() - df.loc[df["y"] == "a", "x"].mean()) < 0.25


def test_the_sample_is_checked_when_drawn(tmp_path, monkeypatch):
    """Opening validates the probe (the first rows): an inf further in the files is found when the sample is
    drawn, with the same message an in-memory dataset gets at open."""
    from explore.errors import DataError

    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    df = predictions_log("binary", ROWS)
    last = (
        pd.to_datetime(df["when"]).dt.strftime("%Y-%m")
        == pd.to_datetime(df["when"]).dt.strftime("%Y-%m").max()
    )
    df["age"] = df["age"].astype("float64")
    df.loc[last, "age"] = float("inf")  # every row of the last month: surely in the sample, not in the probe
    _partitioned(tmp_path, df)
    _toml(tmp_path, 'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }')
    ws = explore.open(tmp_path)
    assert not ws.samples["log"].drawn and len(ws.samples["log"].probe.frame) < ROWS
    with pytest.raises(DataError, match=r"infinite|inf") as got:
        ws.dataset("log")
    assert "'age'" in str(got.value) and "'log'" in str(got.value)


def test_two_tables_of_one_duckdb_file_keep_their_own_sample_and_metrics(tmp_path, monkeypatch):
    """Kept results are keyed by the source (path, table, engine), not only its files' stats: two tables of one
    DuckDB file share the file, and once shared one key — the second dataset then got the first's rows and
    overall metrics, in the same process and after a restart."""
    import duckdb
    import numpy as np

    from explore.core.score_cache import engine_metrics_path

    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    a = predictions_log("binary", 1200)
    b = predictions_log("binary", 1500)
    b["age"] = np.asarray(b["age"], dtype=float) + 1000.0  # tell the second table's rows from the first's
    with duckdb.connect(str(tmp_path / "logs.duckdb")) as con:
        con.register("fa", a)
        con.register("fb", b)
        con.execute("CREATE TABLE a AS SELECT * FROM fa")
        con.execute("CREATE TABLE b AS SELECT * FROM fb")
    _toml(
        tmp_path,
        'first = { duckdb = "logs.duckdb", table = "a", engine = "duckdb" }\n'
        'second = { duckdb = "logs.duckdb", table = "b", engine = "duckdb" }',
    )
    ws = explore.open(tmp_path)
    assert ws.engine_version("first") != ws.engine_version("second")
    assert engine_metrics_path(ws, "first", 0.95) != engine_metrics_path(ws, "second", 0.95)
    assert len(ws.dataset("first")) == 300
    again = explore.open(tmp_path)  # the first's kept sample is not the second's
    assert again.samples["second"].total == 1500
    second = again.dataset("second")
    assert len(second) == 300 and second["age"].min() >= 1000.0
    assert again.dataset("first")["age"].max() < 1000.0


def test_a_source_without_local_files_keeps_nothing(log_workspace):
    """A source whose files are not on this machine (a data lake) cannot tell when they change: no version, so
    neither its sample nor its metrics are kept."""
    from explore.core import workspace as workspace_module
    from explore.engine.source import EngineSource

    remote = EngineSource("s3a://bucket/logs/", engine="spark")
    assert workspace_module._engine_version(remote) is None
    ws = explore.open(log_workspace)
    assert ws.engine_version("log") is not None
