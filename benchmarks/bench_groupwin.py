"""The group-by and the monthly windows of a binary log (issue 14) against a plain-DuckDB floor, in one run.

    python benchmarks/bench_groupwin.py --rows 100000000 [--threads 2] [--memory-limit 6GB] [--repeat 1]

On the log ``benchmarks/bench_engine.py`` writes (``--dest``, default /work/bench-data; it must exist: this
script does not write one), each of the same process's runs:

* ``floor``: plain DuckDB aggregations over the same files — the 3-column group-by with the label and the
  prediction (``f15, f16, f17, label, pred, count(*)``) and the windows' cells without any metric (``month,
  label, pred, score, count(*)``, ``month`` the hive partition column);
* ``streamed cells``: ``grouped_metrics`` as the app calls it (``explore.engine.metrics._stream_cells``: DuckDB
  streams each row's codes, compiled loops — explore.engine.cellcount — count the cells);
* ``DuckDB cells``: the same calls with the streaming path off (``STREAM_ROWS`` above the log's rows): the
  engine before issue 14.

Each configuration opens its own log (its per-log memos — the score sample, the time range — are paid by its
first operation, as in the app). Wall and CPU seconds (this process: DuckDB's threads and numpy) are printed, and
each figure's ratio to the floor of the same run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import ROOT  # noqa: F401  (puts the repository first on sys.path)

METRICS = ["accuracy", "ROC AUC", "log loss", "precision", "recall"]


def _timed(fn) -> tuple[float, float, object]:
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def _log(folder: Path, threads: int, memory: str):
    from explore.core.workspace import ColumnRoles
    from explore.engine import EngineSource, open_log, open_source

    con = open_source(EngineSource(folder, engine="duckdb"))
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = '{memory}'")
    roles = ColumnRoles(label="label", time="ts", prediction="pred", score="score", task="binary", positive=1)
    return open_log(con, roles, task="binary", classes=[0, 1], positive=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dest", default="/work/bench-data")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--repeat", type=int, default=1, help="runs of every configuration, interleaved")
    ap.add_argument(
        "--configs",
        nargs="+",
        choices=["streamed cells", "DuckDB cells"],
        default=["streamed cells", "DuckDB cells"],
        help="the engine configurations beside the floor (DuckDB cells: ≈ 15 s CPU at 100M rows)",
    )
    args = ap.parse_args()
    folder = Path(args.dest) / f"log_{args.rows}"
    if not (folder / "_done").exists():
        raise SystemExit(
            f"No benchmark log in {folder}: write it once with benchmarks/bench_engine.py --rows {args.rows}."
        )

    from explore.engine import by_columns, by_time_window, grouped_metrics
    from explore.engine import metrics as engine_metrics

    streaming = engine_metrics.STREAM_ROWS
    figures: dict[tuple[str, str], list[tuple[float, float]]] = {}

    def record(config: str, op: str, wall: float, cpu: float) -> None:
        figures.setdefault((config, op), []).append((wall, cpu))
        print(f"  {config:<16s} {op:<10s} {wall:7.2f} s   CPU {cpu:7.2f} s", flush=True)

    def floor(log) -> None:
        for op, sql in (
            ("group-by", "SELECT f15, f16, f17, label, pred, count(*) FROM source GROUP BY ALL"),
            ("windows", "SELECT month, label, pred, score, count(*) FROM source GROUP BY ALL"),
        ):
            wall, cpu, _ = _timed(lambda: log.con.execute(sql).fetchall())  # noqa: B023  (called at once)
            record("floor", op, wall, cpu)

    def engine(config: str, log) -> None:
        groups = by_columns(log, ["f15", "f16", "f17"])
        wall, cpu, _ = _timed(lambda: grouped_metrics(log, groups, metrics=METRICS))
        record(config, "group-by", wall, cpu)
        wall, cpu, _ = _timed(lambda: grouped_metrics(log, by_time_window(log, "month"), metrics=METRICS))
        record(config, "windows", wall, cpu)

    for _ in range(args.repeat):
        with _log(folder, args.threads, args.memory_limit) as log:
            floor(log)
        for config, rows in (("streamed cells", streaming), ("DuckDB cells", 10**15)):
            if config not in args.configs:
                continue
            engine_metrics.STREAM_ROWS = rows
            with _log(folder, args.threads, args.memory_limit) as log:
                engine(config, log)
        engine_metrics.STREAM_ROWS = streaming
    print(
        f"\n{args.rows:,} rows, threads {args.threads}; best of {args.repeat} (wall, CPU), ratio to the floor"
    )
    for op in ("group-by", "windows"):
        floor = min(figures[("floor", op)])
        for config in ("floor", *args.configs):
            wall, cpu = min(figures[(config, op)])
            print(
                f"  {op:<10s} {config:<16s} {wall:7.2f} s  CPU {cpu:7.2f} s   "
                f"x{wall / floor[0]:.2f} wall  x{cpu / floor[1]:.2f} CPU"
            )


if __name__ == "__main__":
    main()
