"""Foundation benchmark: open, score and summarise a 1M-row × 20-feature workspace.

    python benchmarks/bench_foundation.py [--rows 1000000]

Prints the time to read the files and load the model, to predict every dataset (in batches), and to
compute the home page's overall metrics (with confidence intervals) — and the peak memory.
"""

from __future__ import annotations

import argparse

from common import bench_workspace, peak_rss_mb, timed

from explore.core.workspace import open_workspace, read_workspace, score
from explore.stats.metrics import overall_metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    path = bench_workspace(args.rows)
    with timed("open workspace (read data, load model, validate)"):
        ws = open_workspace(read_workspace(path))
    total = sum(len(ws.dataset(n)) for n in ws.dataset_names)
    print(
        f"  {total:,} rows in {len(ws.dataset_names)} datasets, {len(ws.feature_names)} features, task {ws.task}"
    )
    scored = {}
    for name in ws.dataset_names:
        with timed(f"predict '{name}' ({len(ws.dataset(name)):,} rows)"):
            scored[name] = score(ws, name)
    for name, sc in scored.items():
        with timed(f"overall metrics with CIs '{name}'"):
            overall_metrics(sc)
    print(f"peak RSS: {peak_rss_mb():,.0f} MiB")


if __name__ == "__main__":
    main()
