"""Limits benchmark: pathological files through the Workspace page, and what they cost another session (not
run by pytest; tests/app/test_limits.py runs small versions).

    python benchmarks/bench_limits.py [--columns 5000] [--rows 500] [--cell-mb 10 50] [--line-mb 80]

For each file: the peer (``pandas.read_csv`` of the same bytes, alone), the app's upload + open through the
Workspace page (an AppTest session: upload, choose label / prediction / score, open), its peak memory growth,
and a second session's page reruns: alone, and the slowest while the first session works on the file (both
sessions in one process, each script in its own thread, as on a server).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import peak_rss_mb
from streamlit.testing.v1 import AppTest

from explore.core.sample import build_workspace
from tests.pathological import (
    APP,
    big_cell_csv,
    long_line_csv,
    other_session_during,
    upload_and_open,
    wide_csv,
)


def _session() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.run()
    return at


def _pandas_seconds(data: bytes) -> float:
    t = time.perf_counter()
    with contextlib.suppress(ValueError, MemoryError):  # a line pandas refuses: the time it took to say so
        pd.read_csv(io.BytesIO(data))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--columns", type=int, default=5_000)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--cell-mb", type=int, nargs="+", default=[10, 50])
    ap.add_argument(
        "--line-mb", type=int, default=80, help="one line this long (over the 64 MB default limit)"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_limits_"))
    os.environ["EXPLORE_UPLOAD_DIR"] = str(work / "uploads")
    os.environ["EXPLORE_DB_URL"] = f"sqlite:///{work / 'store.db'}"
    os.environ["EXPLORE_WORKSPACE"] = str(build_workspace(work / "tiny", size="tiny"))
    files = {
        f"{args.rows} rows x {args.columns:,} columns": lambda: wide_csv(args.rows, args.columns),
        **{f"one {mb} MB cell": (lambda mb=mb: big_cell_csv(cell_mb=mb)) for mb in args.cell_mb},
        f"one {args.line_mb} MB line (refused)": lambda: long_line_csv(args.line_mb),
    }
    print(
        f"{'file':<32s} {'MB':>6s} {'pandas s':>9s} {'app open s':>11s} {'x pandas':>9s} {'+peak MiB':>10s} "
        f"{'B alone s':>10s} {'B during max s':>15s} {'x alone':>8s}",
        flush=True,
    )
    for name, make in files.items():
        data = make()
        peer = _pandas_seconds(data)
        first = _session()
        before = peak_rss_mb()
        alone_open = upload_and_open(first, "file.csv", data)
        grown = peak_rss_mb() - before
        first = _session()
        seen = other_session_during(
            _session, lambda first=first, data=data: upload_and_open(first, "f.csv", data)
        )
        alone = max(seen.alone)
        print(
            f"{name:<32s} {len(data) / 1e6:6.1f} {peer:9.2f} {alone_open:11.2f} {alone_open / peer:9.1f} "
            f"{grown:10.0f} {alone:10.2f} {seen.slowest:15.2f} {seen.slowest / alone:8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
