"""The probe of an out-of-core dataset (what opening validates: first rows, label counts and values, predicted
values) is kept beside the workspace per version of its files: a restart reads it back — equal, in the same
dtypes — instead of passing over the label and prediction again; a change of the files probes them again."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import explore
from explore.engine import sample as engine_sample
from explore.engine.sample import kept_probe, probe_paths, probe_rows
from tests.engine.test_metrics import predictions_log
from tests.engine.test_workspace import _partitioned, _toml


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.total == b.total
    assert a.label_counts == b.label_counts
    assert (a.label_counts is None) == (b.label_counts is None)
    if a.label_counts is not None:
        assert [type(k) for k in a.label_counts] == [type(k) for k in b.label_counts]
    for x, y in ((a.label_values, b.label_values), (a.prediction_values, b.prediction_values)):
        assert (x is None) == (y is None)
        if x is not None:
            pd.testing.assert_series_equal(x.reset_index(drop=True), y.reset_index(drop=True))


@pytest.fixture
def log_workspace(tmp_path):
    df = predictions_log("binary", 900)
    df.loc[df.index[:7], "income"] = None  # a few missing labels: a None among the counts
    _partitioned(tmp_path, df)
    _toml(tmp_path, 'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }')
    return tmp_path


def test_a_restart_reads_the_probe_back(log_workspace, monkeypatch):
    calls = []
    real = engine_sample.probe_rows

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_sample, "probe_rows", counted)
    first = explore.open(log_workspace)
    assert calls == [1] and list((log_workspace / ".explore-cache").glob("probe-*-frame.parquet"))
    again = explore.open(log_workspace)
    assert calls == [1]  # read back
    _assert_same(first.samples["log"].probe, again.samples["log"].probe)
    assert again.samples["log"].probe.label_counts[None] == 7
    assert again.task == first.task and list(again.classes) == list(first.classes)
    # The files change: probed again.
    part = next((log_workspace / "logs").glob("month=*/part-0.parquet"))
    os.utime(part, ns=(part.stat().st_mtime_ns + 10**9,) * 2)
    explore.open(log_workspace)
    assert calls == [1, 1]


@pytest.mark.parametrize(
    "labels, sql_type",
    [([0, 1], "TINYINT"), (["cat", "dog", "emu"], "VARCHAR"), (list(np.linspace(0, 1, 80)), "DOUBLE")],
)
def test_the_kept_probe_equals_the_probe(tmp_path, labels, sql_type):
    import duckdb

    rng = np.random.default_rng(0)
    n = 2_000
    y = pd.Series(rng.choice(np.asarray(labels, dtype=object), n), dtype=object)
    y.iloc[:5] = None
    con = duckdb.connect()
    con.register(
        "frame", pd.DataFrame({"y": y, "pred": rng.choice([0, 1], n), "when": pd.Timestamp("2024-01-01")})
    )
    con.execute(f'CREATE VIEW source AS SELECT CAST(y AS {sql_type}) AS y, pred, "when" FROM frame')
    probe = probe_rows(con, "y", "pred")
    kept = kept_probe(tmp_path, "k", lambda: probe)
    assert all(p.exists() for p in probe_paths(tmp_path, "k"))
    back = kept_probe(tmp_path, "k", lambda: pytest.fail("read back, not probed"))
    _assert_same(probe, kept)
    _assert_same(probe, back)


def test_a_damaged_probe_is_probed_again(tmp_path):
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE VIEW source AS SELECT (range % 2)::TINYINT AS y, 1 AS pred FROM range(100)")
    probe = kept_probe(tmp_path, "k", lambda: probe_rows(con, "y", "pred"))
    probe_paths(tmp_path, "k")[1].write_bytes(b"not parquet")
    again = kept_probe(tmp_path, "k", lambda: probe_rows(con, "y", "pred"))
    _assert_same(probe, again)
    _assert_same(probe, kept_probe(tmp_path, "k", lambda: pytest.fail("rewritten, then read back")))
