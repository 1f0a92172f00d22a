"""Shared benchmark helpers: the 1M-row workspace (built once, reused) and a timer."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "benchmarks" / "_work"


def bench_workspace(n_rows: int = 1_000_000) -> Path:
    """workspace.toml of the benchmark workspace with ``n_rows`` rows (built on first use)."""
    from explore.core.sample import build_workspace

    dest = WORK / ("bench" if n_rows == 1_000_000 else f"bench_{n_rows}")
    toml = dest / "workspace.toml"
    if not (dest / "manifest.json").exists():
        t = time.perf_counter()
        print(f"building the {n_rows:,}-row benchmark workspace in {dest} …", flush=True)
        build_workspace(dest, size="bench", n_rows=n_rows)
        print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    return toml


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed(label: str, results: dict[str, float] | None = None) -> Iterator[None]:
    t = time.perf_counter()
    yield
    dt = time.perf_counter() - t
    if results is not None:
        results[label] = dt
    print(f"{label:<55s} {dt:8.3f} s   (peak RSS {peak_rss_mb():,.0f} MiB)", flush=True)


def wall_and_cpu(fn):
    """(``fn()``, its wall seconds, this process's CPU seconds meanwhile — every thread's, e.g. DuckDB's)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def best_of(fn, repeat: int = 3):
    """(the fastest of ``repeat`` wall-clock runs of ``fn()`` in seconds, its last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out
