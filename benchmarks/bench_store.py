"""Store benchmark: many writers on one store, SQLite and PostgreSQL, at full size (not run by pytest).

    python benchmarks/bench_store.py [--backends sqlite postgresql] [--processes 20] [--threads 20]
                                     [--writes 200] [--reviewers 20] [--confirmations 50]

The test suite (tests/core/test_store.py) runs small versions of both races so that it finishes in
seconds on a loaded CI machine; this script runs them at the size that once took ~10 minutes there.

1. ``--processes`` spawned processes start together on a database file that does not exist yet (so they
   also race to create the schema); each opens its own Store, creates a rubric review and adds
   ``--writes`` rubric entries.
2. ``--threads`` threads share one Store and add ``--writes`` verdicts each.

3. A review meeting: ``--reviewers`` processes confirm ``--confirmations`` rubric tests each on ONE shared
   review, as the Rubric page does (the entry they looked at as the conflict token; on a conflict — another
   reviewer confirmed that test in between — they read again and confirm again, as the page asks them to).

Each race runs on every backend of ``--backends``: SQLite files, and a throwaway PostgreSQL server started by
tests/postgres.py (Debian's postgresql). Prints the wall time, writes per second, and how many writes were lost
or duplicated (both must be 0), and for the meeting how many conflicts were detected and retried.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import peak_rss_mb
from sqlalchemy import select

from explore.core.store import Store, rubric_entries, verdicts
from explore.errors import RubricConflict


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


def _confirm_in_meeting(url: str, review_id: int, worker: int, confirmations: int, start, conflicts) -> None:
    from explore.rubric import ml_test_score

    tests = [t.id for t in ml_test_score.TESTS]
    start.wait()
    with Store(url) as store:
        for i in range(confirmations):
            test_id = tests[(worker + i) % len(tests)]  # neighbours share tests: conflicts happen
            while True:
                seen = ml_test_score.load_review(store, review_id).entries.get(test_id)
                try:
                    ml_test_score.confirm_test(
                        store,
                        review_id,
                        test_id,
                        status="manual",
                        author=f"reviewer {worker}",
                        evidence_text=f"{worker}/{i}",
                        expected_entry_id=None if seen is None else seen.entry_id,
                    )
                    break
                except RubricConflict:
                    with conflicts.get_lock():
                        conflicts.value += 1


def bench_meeting(url: str, reviewers: int, confirmations: int) -> bool:
    from explore.rubric import ml_test_score

    with Store(url) as store:
        review_id = ml_test_score.start_review(store, "meeting", "v1")
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(reviewers)
    conflicts = spawn.Value("i", 0)
    workers = [
        spawn.Process(target=_confirm_in_meeting, args=(url, review_id, w, confirmations, start, conflicts))
        for w in range(reviewers)
    ]
    t = time.perf_counter()
    for process in workers:
        process.start()
    for process in workers:
        process.join()
    seconds = time.perf_counter() - t
    codes = [p.exitcode for p in workers]
    if any(codes):
        print(f"  reviewer exit codes: {codes}")
    with Store(url) as store:
        written = store.read(
            lambda c: (
                c.execute(
                    select(rubric_entries.c.evidence_text).where(rubric_entries.c.review_id == review_id)
                )
                .scalars()
                .all()
            )
        )
    expected = {f"{w}/{i}" for w in range(reviewers) for i in range(confirmations)}
    ok = _report(f"{reviewers} reviewers x {confirmations} confirmations", seconds, expected, written)
    print(f"{'':<42s} {conflicts.value} conflicts detected (read again, confirmed again)", flush=True)
    return ok and not any(codes)


def bench_processes(url: str, n_processes: int, writes: int) -> bool:
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


def bench_threads(url: str, n_threads: int, writes: int) -> bool:
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
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument("--processes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--writes", type=int, default=200, help="writes per process / thread")
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--confirmations", type=int, default=50, help="confirmations per reviewer")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    ok = True
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        for backend in args.backends:
            if backend == "sqlite":
                urls = {race: f"sqlite:///{Path(tmp) / f'{race}.db'}" for race in ("p", "t", "m")}
            else:
                from tests.postgres import PostgresServer, missing_reason

                if (why := missing_reason()) is not None:
                    raise SystemExit(f"cannot run on PostgreSQL: {why}")
                server = PostgresServer()
                stack.callback(server.stop)
                urls = {race: server.url(server.new_database()) for race in ("p", "t", "m")}
            print(f"-- {backend}", flush=True)
            ok = bench_processes(urls["p"], args.processes, args.writes) and ok
            ok = bench_threads(urls["t"], args.threads, args.writes) and ok
            ok = bench_meeting(urls["m"], args.reviewers, args.confirmations) and ok
    print(f"load average after: {os.getloadavg()}")
    print(f"peak RSS: {peak_rss_mb():,.0f} MiB")
    if not ok:
        raise SystemExit("writes were lost or duplicated")


if __name__ == "__main__":
    main()
