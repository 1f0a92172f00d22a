"""The engine-drawn sample is kept beside the workspace: a later open reads it back instead of drawing it again
(at 100M rows the draw reads every column twice), and a change to the files draws a new one."""

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


@pytest.fixture
def draws(monkeypatch):
    """How many times the sample was drawn from the files."""
    calls = []
    real = engine_sample.draw_sample

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_sample, "draw_sample", counted)
    return calls


def _kept(root):
    return sorted((root / CACHE_FOLDER).glob("sample-*.parquet"))


def test_a_second_open_reads_the_kept_sample(log_workspace, draws):
    first = explore.open(log_workspace)
    assert len(draws) == 1 and len(_kept(log_workspace)) == 1
    again = explore.open(log_workspace)
    assert len(draws) == 1  # read back, not drawn
    pd.testing.assert_frame_equal(again.dataset("log"), first.dataset("log"))
    assert again.samples["log"] == first.samples["log"]
    assert again.samples["log"].total == ROWS and again.samples["log"].rows < ROWS
    # Same dtypes as drawn: the time column stays a timestamp, the label text.
    assert again.dataset("log").dtypes.equals(first.dataset("log").dtypes)
    # The engine's numbers do not depend on where the sample came from.
    with first.log("log") as a, again.log("log") as b:
        assert a.n == b.n == ROWS


def test_changed_files_or_settings_draw_a_new_sample(log_workspace, draws, monkeypatch):
    explore.open(log_workspace)
    part = sorted((log_workspace / "logs").rglob("*.parquet"))[0]
    st = part.stat()
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    explore.open(log_workspace)
    assert len(draws) == 2
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 200)  # another sample size: another sample
    ws = explore.open(log_workspace)
    assert len(draws) == 3 and ws.samples["log"].rows < 300


def test_a_damaged_kept_sample_is_drawn_again(log_workspace, draws):
    first = explore.open(log_workspace)
    (path,) = _kept(log_workspace)
    path.write_bytes(path.read_bytes()[:100])  # truncated
    again = explore.open(log_workspace)
    assert len(draws) == 2
    pd.testing.assert_frame_equal(again.dataset("log"), first.dataset("log"))
    explore.open(log_workspace)
    assert len(draws) == 2  # rewritten whole


def test_an_unwritable_folder_still_opens(log_workspace, draws, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(engine_sample, "_write_kept", refuse)
    ws = explore.open(log_workspace)
    assert ws.samples["log"].total == ROWS and not _kept(log_workspace)


def test_clear_cache_deletes_the_kept_sample(log_workspace, draws):
    ws = explore.open(log_workspace)
    assert _kept(log_workspace)
    assert clear_cache(ws) >= 1
    assert not _kept(log_workspace)
