"""Notebook API benchmark (issue 13): a notebook call is as fast as the page, and its chart stays aggregated.

    python benchmarks/bench_notebook.py                          # the 1M-row benchmark workspace
    python benchmarks/bench_notebook.py --workspace path/to/workspace.toml --dataset production

The peer is the page's own path: the domain functions its cached wrappers call on a cache miss
(``score`` then ``slice_report`` / ``performance_over_time`` then the chart builder), timed in the same run,
next to the one-line notebook call doing the same analysis (first call: it scores the dataset itself;
second call: the scored rows are kept, as the page keeps them in ``st.cache_resource``). The chart's data
rows are counted: a notebook must never embed one point per row.
"""

from __future__ import annotations

import argparse
import time

from common import bench_workspace

import explore
from explore import notebook
from explore.slices import charts as slice_charts
from explore.slices.report import slice_report
from explore.staleness import charts as staleness_charts
from explore.staleness import layout, windows
from explore.staleness.experiment import performance_over_time


def _seconds(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _marks(chart) -> int:
    spec = chart.to_dict()
    return sum(len(rows) for rows in spec.get("datasets", {}).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", default=None, help="workspace.toml (default: the 1M-row bench workspace)"
    )
    parser.add_argument(
        "--dataset", default=None, help="dataset to analyse (default: the evaluation dataset)"
    )
    parser.add_argument("--column", default="region", help="column of the slice (its most common value)")
    parser.add_argument("--by", default="plan", help="column the report groups by")
    parser.add_argument(
        "--all",
        action="store_true",
        help="performance over time on every dataset joined (1M rows on the bench)",
    )
    args = parser.parse_args()
    toml = args.workspace or bench_workspace()
    t_open, ws = _seconds(lambda: explore.open(toml))
    from explore.core.roles import evaluation_dataset

    dataset = args.dataset or evaluation_dataset(ws)
    rows = len(ws.dataset(dataset))
    print(f"workspace {toml}: dataset '{dataset}', {rows:,} rows; opened in {t_open:.1f} s")
    value = ws.dataset(dataset)[args.column].mode().iloc[0]
    where = {args.column: value}

    # the page's path: its cached wrappers call exactly these on a miss
    t_score, sc = _seconds(lambda: explore.score(ws, dataset, "current"))
    sd = notebook.as_slice(where)
    t_report, report = _seconds(lambda: slice_report(sc, sd, by=[args.by]))
    t_chart, chart = _seconds(lambda: slice_charts.group_bars(report, report.metrics[0]))
    page_report = t_score + t_report + t_chart

    notebook._SCORED.clear()  # the notebook scores for itself on its first call
    t_nb1, result = _seconds(lambda: explore.slice_report(ws, where, by=args.by, dataset=dataset))
    t_nb1_chart, nb_chart = _seconds(result.chart)
    t_nb2, _ = _seconds(lambda: explore.slice_report(ws, where, by=args.by, dataset=dataset))

    over = tuple(ws.dataset_names) if args.all else (dataset,)
    spec = layout.window_spec(ws, window="month", datasets=over)

    def page_pot():
        timeline = windows.workspace_timeline(ws, spec.datasets, columns=layout.timeline_columns(ws))
        w = layout.spec_windows(timeline, spec, label=ws.columns.label)
        parts = [sc if d == dataset else explore.score(ws, d, "current") for d in over]
        joined = windows.concat_scored(parts, name=spec.name)
        pot = performance_over_time(joined, w, codes=windows.apply_windows(w, joined.time, where=spec.where))
        return staleness_charts.performance_chart(pot, pot.metrics[0])

    t_page_pot, _ = _seconds(page_pot)
    t_nb_pot, pot_chart = _seconds(
        lambda: explore.performance_over_time(ws, window="month", datasets=over).chart()
    )
    pot_rows = sum(len(ws.dataset(d)) for d in over)

    print()
    print(f"{'analysis':<48s} {'page path':>10s} {'notebook':>10s} {'ratio':>7s}")
    print(
        f"{'slice report by ' + args.by + ' (first: scores)':<48s} {page_report:>9.2f}s {t_nb1 + t_nb1_chart:>9.2f}s"
        f" {(t_nb1 + t_nb1_chart) / page_report:>6.2f}x"
    )
    print(
        f"{'  of which scoring (page: score())':<48s} {t_score:>9.2f}s"
        f" {'':>10s}\n{'slice report again (scored rows kept)':<48s} {t_report + t_chart:>9.2f}s {t_nb2:>9.2f}s"
        f" {t_nb2 / (t_report + t_chart):>6.2f}x"
    )
    print(
        f"{f'performance over time by month ({pot_rows:,} rows)':<48s} {t_page_pot:>9.2f}s {t_nb_pot:>9.2f}s"
        f" {t_nb_pot / t_page_pot:>6.2f}x"
    )
    print()
    print(f"chart data rows: slice report {_marks(nb_chart):,} (page {_marks(chart):,}); ", end="")
    print(f"performance over time {_marks(pot_chart):,}; rows analysed {rows:,}")


if __name__ == "__main__":
    main()
