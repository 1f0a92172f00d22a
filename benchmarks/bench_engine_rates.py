"""The engine's performance over time on a benchmark log (benchmarks/bench_engine.py makes them): the metrics per
monthly window (``grouped_metrics``) and what the notebook's ``performance_over_time`` now adds beside them, the
label / prediction shares per window (one GROUP BY, ``explore.engine.grouping.window_counts``), against a plain
DuckDB floor in the same run, the same question asked plainly of the files: ``SELECT date_trunc('month', ts),
count(*), count(label = 1), count(pred = 1) … GROUP BY 1`` (run first and again last: the better of the two).
Prints wall and CPU seconds (this process: DuckDB's threads included) and the CPU ratio to the floor.

    python benchmarks/bench_engine_rates.py --log /work/bench-data/log_10000000 --threads 2
"""

from __future__ import annotations

import argparse

from bench_engine import task_roles
from common import wall_and_cpu

from explore.engine import EngineSource, by_time_window, grouped_metrics, open_log, open_source
from explore.engine.grouping import window_counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True, help="a benchmark log folder (hive month partitions)")
    ap.add_argument("--task", default="binary", choices=["binary", "multiclass", "regression"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="6GB")
    a = ap.parse_args()
    con = open_source(EngineSource(a.log, engine="duckdb"))
    con.execute(f"SET threads = {a.threads}")
    con.execute(f"SET memory_limit = '{a.memory_limit}'")
    roles, classes = task_roles(a.task)
    log = open_log(con, roles, task=a.task, classes=classes, positive=roles.positive)
    windows = by_time_window(log, "month")
    files = f"read_parquet('{a.log}/*/*.parquet', hive_partitioning = true)"

    def floor():
        return con.execute(
            f"SELECT date_trunc('month', ts), count(*), count(CASE WHEN label = 1 THEN 1 END), "
            f"count(CASE WHEN pred = 1 THEN 1 END) FROM {files} GROUP BY 1"
        ).fetchall()

    n_floor, w0, c0 = wall_and_cpu(floor)
    _, w1, c1 = wall_and_cpu(lambda: grouped_metrics(log, windows))
    counts, w2, c2 = wall_and_cpu(lambda: window_counts(log, windows, None))
    _, w3, c3 = wall_and_cpu(floor)
    w0, c0 = min(w0, w3), min(c0, c3)
    assert len(counts) == len(n_floor), (len(counts), len(n_floor))
    print(f"{log.n:,} rows ({a.task}), {len(counts)} monthly windows, DuckDB {a.threads} threads")
    print(f"{'floor: plain GROUP BY date_trunc(month)':<40} wall {w0:7.2f} s   CPU {c0:7.2f} s")
    print(
        f"{'metrics per window (grouped_metrics)':<40} wall {w1:7.2f} s   CPU {c1:7.2f} s   {c1 / c0:5.2f}x floor"
    )
    print(
        f"{'rates per window (one GROUP BY)':<40} wall {w2:7.2f} s   CPU {c2:7.2f} s   {c2 / c0:5.2f}x floor"
    )


if __name__ == "__main__":
    main()
