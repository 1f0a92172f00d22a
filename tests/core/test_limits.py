"""Limits: a CSV with a line longer than EXPLORE_MAX_LINE_MB is refused before it is read, in bounded memory
(a 1 GB line is the real case; a few MB over a 1 MB limit proves the mechanism); a 10 MB single cell and a
5,000-column file open. (An upload over EXPLORE_MAX_UPLOAD_MB: tests/app/test_workspace_page.py.)"""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import explore
from explore.core.loading import longest_line_within, read_table
from explore.errors import DataError


def _naive(data: bytes, limit: int) -> tuple[bool, int]:
    for number, line in enumerate(data.split(b"\n"), 1):
        if len(line) > limit:
            return False, number
    return True, 0


def test_longest_line_scan_agrees_with_splitting_the_whole_file(tmp_path):
    rng = random.Random(1)
    for _ in range(300):
        data = b"".join(
            rng.choice([b"\n", b"a", b"bb", b"c" * rng.randint(0, 40)]) for _ in range(rng.randint(0, 40))
        )
        path = tmp_path / "f.csv"
        path.write_bytes(data)
        limit = rng.randint(0, 30)
        assert longest_line_within(path, limit, chunk=rng.randint(1, 17)) == _naive(data, limit), (
            data,
            limit,
        )


def _write_long_line(path: Path, n_bytes: int) -> None:
    """A valid header, one normal row, then a row whose quoted cell is ``n_bytes`` long, written in pieces."""
    with path.open("wb") as fh:
        fh.write(b'label,pred,note\nyes,yes,short\nno,no,"')
        piece = b"x" * (1 << 20)
        for _ in range(n_bytes >> 20):
            fh.write(piece)
        fh.write(b'"\n')


def test_a_csv_line_over_the_limit_is_refused_with_bounded_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_MAX_LINE_MB", "1")
    path = tmp_path / "long.csv"
    _write_long_line(path, 12 << 20)  # 12 MB in one line: 12 x the limit
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"line of more than 1 MB \(line 3\).*EXPLORE_MAX_LINE_MB"):
            read_table(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # the scan holds a chunk, never the file


def test_a_10_mb_single_cell_opens(tmp_path):
    path = tmp_path / "cell.csv"
    _write_long_line(path, 10 << 20)
    df = read_table(path)
    assert df.shape == (2, 3) and len(df.loc[1, "note"]) == 10 << 20


def test_a_5000_column_file_opens_and_scores(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(50, 5000)), columns=[f"f{i}" for i in range(5000)])
    df["label"] = np.where(df["f0"] > 0, "yes", "no")
    df["pred"] = np.where(df["f1"] > 0, "yes", "no")
    df.to_csv(tmp_path / "wide.csv", index=False)
    (tmp_path / "workspace.toml").write_text(
        '[columns]\nlabel = "label"\nprediction = "pred"\n[datasets]\nv = "wide.csv"\n', encoding="utf-8"
    )
    ws = explore.open(tmp_path / "workspace.toml")
    assert ws.dataset("v").shape == (50, 5002)
    assert explore.score(ws, "v").n == 50
