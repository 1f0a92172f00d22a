"""Store benchmark: many writers on one SQLite file, at full size (not run by pytest).

    python benchmarks/bench_store.py [--processes 20] [--threads 20] [--writes 200]

The test suite (tests/core/test_store.py) runs small versions of both races so that it finishes in
seconds on a loaded CI machine; this script runs them at the size that once took ~10 minutes there.

1. ``--processes`` spawned processes start together on a database file that does not exist yet (so they
   also race to create the schema); each opens its own Store, creates a rubric review and adds
   ``--writes`` rubric entries.
2. ``--threads`` threads share one Store and add ``--writes`` verdicts each.

Prints the wall time, writes per second, and how many writes were lost or duplicated (both must be 0).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import peak_rss_mb
from sqlalchemy import select

from explore.core.store import Store, rubric_entries, verdicts


def _write_rubric_entries(url: str, worker: int, writes: int, start) -> None:
    start.wait()
    with Store(url) as store:
        review_id = store.create_review(f"review {worker}", "m")
        for i in range(writes):
            store.add_rubric_entry(review_id, f"model-{i % 7}", "manual", evidence_text=f"{worker}/{i}")


def _report(label: str, seconds: float, expected: set[str], written: list[str]) -> bool:
    counts = Counter(written)
    lost = len(expected - set(counts))
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    unexpected = len(set(counts) - expected)
    print(
        f"{label:<42s} {seconds:8.2f} s  {len(written) / seconds:8.0f} writes/s  "
        f"lost {lost}  duplicated {duplicated}  unexpected {unexpected}",
        flush=True,
    )
    return lost == duplicated == unexpected == 0


def bench_processes(folder: Path, n_processes: int, writes: int) -> bool:
    url = f"sqlite:///{folder / 'processes.db'}"
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(n_processes)
    workers = [
        spawn.Process(target=_write_rubric_entries, args=(url, w, writes, start)) for w in range(n_processes)
    ]
    t = time.perf_counter()
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    seconds = time.perf_counter() - t
    codes = [p.exitcode for p in workers]
    if any(codes):
        print(f"  writer exit codes: {codes}")
    with Store(url) as store:
        written = store.read(lambda c: c.execute(select(rubric_entries.c.evidence_text)).scalars().all())
    expected = {f"{w}/{i}" for w in range(n_processes) for i in range(writes)}
    ok = _report(f"{n_processes} processes x {writes} rubric entries", seconds, expected, written)
    return ok and not any(codes)


def bench_threads(folder: Path, n_threads: int, writes: int) -> bool:
    url = f"sqlite:///{folder / 'threads.db'}"
    with Store(url) as store:
        session_id = store.create_session(
            workspace="w",
            dataset="d",
            name="bench",
            reviewer="bench",
            mode="queue",
            params={},
            items={"ids": []},
        )
        start = threading.Barrier(n_threads)

        def review(worker: int) -> None:
            start.wait()
            for i in range(writes):
                store.add_verdict(session_id, f"{worker}/{i}", "wrong")

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            done = [pool.submit(review, w) for w in range(n_threads)]
        for future in done:
            future.result()
        seconds = time.perf_counter() - t
        written = store.read(lambda c: c.execute(select(verdicts.c.item_id)).scalars().all())
    expected = {f"{w}/{i}" for w in range(n_threads) for i in range(writes)}
    return _report(f"{n_threads} threads x {writes} verdicts", seconds, expected, written)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--writes", type=int, default=200, help="writes per process / thread")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ok = bench_processes(Path(tmp), args.processes, args.writes)
        ok = bench_threads(Path(tmp), args.threads, args.writes) and ok
    print(f"peak RSS: {peak_rss_mb():,.0f} MiB")
    if not ok:
        raise SystemExit("writes were lost or duplicated")


if __name__ == "__main__":
    main()
