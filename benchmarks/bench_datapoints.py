"""Datapoints view benchmarks (issue #15), run by hand, not by pytest:

    python benchmarks/bench_datapoints.py

On the 1M-row bench sample (train + validation + production, scored once by its current and previous models,
cached in benchmarks/_work/):
1. Server compute after a change of axis, colour or facet (goal ≤ 0.5 s each), and the spec the browser gets
   (goal ≤ 1 MB), side by side with the peers: ``np.histogram2d`` (counts only) and a pandas ``groupby`` on
   ``pd.cut`` bins (counts and error share) for the binning; for the spec, a plain Altair scatter of every row
   (what the What-If Tool / Facets Dive sent), measured on 50,000 rows and scaled to 1M.
2. Zoom into a heat-map cell until its rows are drawn as points (goal ≤ 0.5 s).
3. A click to a filled datapoint editor: nearest counterfactual over 1M rows, re-predicted, the ICE curve, the
   edited prediction and the chart with both rings (goal ≤ 1 s).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_slices import BENCH, WORK, scored_1m  # noqa: E402
from common import best_of  # noqa: E402

PREVIOUS = WORK / "datapoints_1m" / "previous.npz"


def previous_1m(sc):
    """The same 1M rows scored by the previous model version (cached on disk)."""
    from dataclasses import replace

    from explore.core.workspace import open_workspace, predict_frame, read_workspace

    ws = open_workspace(read_workspace(BENCH / "workspace.toml"))
    if PREVIOUS.exists():
        proba = np.load(PREVIOUS)["proba"]
    else:
        print("Scoring 1,000,000 rows with the previous model once (cached afterwards)…", flush=True)
        _, proba = predict_frame(ws.model("previous"), sc.frame[ws.feature_names])
        PREVIOUS.parent.mkdir(parents=True, exist_ok=True)
        np.savez(PREVIOUS, proba=proba)
    return replace(
        sc,
        model_name="previous",
        proba=proba,
        pred=proba.argmax(axis=1),
        score=proba[:, sc.positive_index],
        source_key="previous",
    ), ws


def spec_bytes(chart) -> int:
    return len(json.dumps(chart.to_dict()))


def bench_changes(sc, other) -> None:
    import altair as alt

    from explore.slices import datapoints as dp
    from explore.slices.datapoints_charts import datapoints_chart
    from explore.slices.definition import CORRECT, LABEL, LOSS, ROW, SCORE, TIME

    print(
        f"\n== 1. A change of axis, colour or facet on {sc.n:,} rows (goal ≤ 0.5 s server compute, spec ≤ 1 MB)"
    )
    steps = [
        ("x = row order, y = score, colour = correct", dp.DatapointsSpec(ROW, SCORE, CORRECT)),
        ("x = tenure_months", dp.DatapointsSpec("tenure_months", SCORE, CORRECT)),
        ("y = monthly_charges", dp.DatapointsSpec("tenure_months", "monthly_charges", CORRECT)),
        (
            "colour = label, cells = share misclassified",
            dp.DatapointsSpec("tenure_months", "monthly_charges", LABEL, cell_stat="error"),
        ),
        (
            "x = region (categorical, jittered)",
            dp.DatapointsSpec("region", "monthly_charges", LABEL, cell_stat="error"),
        ),
        ("x = time, y = loss, cells = mean loss", dp.DatapointsSpec(TIME, LOSS, LABEL, cell_stat="loss")),
        (
            "facet rows by contract",
            dp.DatapointsSpec(TIME, LOSS, LABEL, facet_row="contract", cell_stat="loss"),
        ),
        (
            "facet columns by tenure (binned)",
            dp.DatapointsSpec(TIME, LOSS, LABEL, "contract", "tenure_months", "loss"),
        ),
        ("two models: score vs previous score", dp.DatapointsSpec(SCORE, dp.OTHER_SCORE, LABEL)),
        ("colour = disagreement", dp.DatapointsSpec(SCORE, dp.OTHER_SCORE, dp.DISAGREE)),
    ]
    last = None
    for name, spec in steps:
        t0 = time.perf_counter()
        res = dp.datapoints(sc, spec, other=other)
        first = time.perf_counter() - t0
        t, res = best_of(lambda spec=spec: dp.datapoints(sc, spec, other=other))
        tc, chart = best_of(lambda res=res: datapoints_chart(res))
        size = spec_bytes(chart)
        print(
            f"  {first:6.3f} s first, {t:6.3f} s warm + {tc:5.3f} s chart  {res.mode:6s} {res.n_marks:>5,} marks "
            f"{size / 1e6:5.2f} MB  {name}"
        )
        last = res
    res = dp.datapoints(sc, dp.DatapointsSpec(SCORE, dp.OTHER_SCORE, LABEL), other=other, only_disagree=True)
    print(f"  disagreement filter: {res.n_rows:,} rows where the two versions disagree ({res.mode})")

    print("\n   Binning peers on the same rows and bins (x = tenure_months, y = monthly_charges, 40 × 40):")
    x = sc.frame["tenure_months"].to_numpy(dtype=float)
    y = sc.frame["monthly_charges"].to_numpy(dtype=float)
    err = ~sc.correct
    spec = dp.DatapointsSpec("tenure_months", "monthly_charges", LABEL, cell_stat="error")
    ours, res = best_of(lambda: dp.datapoints(sc, spec))
    hist, (counts, _, _) = best_of(lambda: np.histogram2d(x, y, bins=40))

    def pandas_groupby():
        df = pd.DataFrame({"x": pd.cut(x, 40), "y": pd.cut(y, 40), "err": err})
        return df.groupby(["x", "y"], observed=True)["err"].agg(["size", "mean"])

    pdt, grouped = best_of(pandas_groupby)
    assert res.cells["rows"].sum() == counts.sum() == grouped["size"].sum() == sc.n
    print(f"     ours (count + errors + loss per cell)   {ours:6.3f} s")
    print(f"     np.histogram2d (count only)              {hist:6.3f} s   ours/peer = {ours / hist:5.2f}×")
    print(f"     pandas cut + groupby (count + error)     {pdt:6.3f} s   ours/peer = {ours / pdt:5.2f}×")

    sample = sc.frame[["tenure_months", "monthly_charges"]].iloc[:50_000].assign(score=sc.score[:50_000])
    naive = alt.Chart(sample).mark_circle().encode(x="tenure_months", y="monthly_charges", color="score")
    with alt.data_transformers.disable_max_rows():
        naive_mb = spec_bytes(naive) / 1e6 * sc.n / len(sample)
    ours_mb = spec_bytes(datapoints_chart(res)) / 1e6
    print(
        f"\n   Spec sent to the browser: ours {ours_mb:.2f} MB ({res.n_marks:,} marks) vs every row as a point "
        f"(Facets Dive style) ≈ {naive_mb:,.0f} MB ({sc.n:,} marks; 50,000 rows measured, scaled)"
    )
    return last


def bench_zoom(sc) -> None:
    from explore.slices import datapoints as dp
    from explore.slices.definition import LABEL

    print("\n== 2. Zoom into a heat-map cell until its rows are points (goal ≤ 0.5 s per step)")
    spec = dp.DatapointsSpec("tenure_months", "monthly_charges", LABEL, cell_stat="error")
    res = dp.datapoints(sc, spec)
    region = None
    for step in range(1, 6):
        cell = int(res.cells.sort_values("rows").iloc[len(res.cells) // 2]["cell"])
        region = dp.cell_region(res, cell)
        t, res = best_of(lambda region=region: dp.datapoints(sc, spec, region=region))
        print(
            f"  step {step}: {t:6.3f} s  {res.n_rows:>9,} rows in the cell → {res.mode} ({res.n_marks:,} marks)"
        )
        if res.mode != "cells":
            break


def bench_click(sc, ws) -> None:
    from explore.slices import datapoint, whatif
    from explore.slices import datapoints as dp
    from explore.slices.datapoints_charts import datapoints_chart
    from explore.slices.definition import LABEL

    print("\n== 3. A click to a filled datapoint editor (goal ≤ 1 s)")
    model = ws.model()
    spec = dp.DatapointsSpec("tenure_months", "monthly_charges", LABEL)
    for pos in (123, 500_000, 999_000):

        def click(pos=pos):
            cf = whatif.nearest_counterfactual(sc, pos, model=model)
            out = datapoint.datapoint_outcome(sc, pos)
            edit = whatif.edit_and_predict(model, sc, pos, {})
            ice = whatif.ice_curve(model, sc, pos, "tenure_months")
            res = dp.datapoints(sc, spec, selected=pos, counterfactual=cf.cf_position)
            datapoints_chart(res).to_dict()
            return cf, out, edit, ice

        t0 = time.perf_counter()
        cf, *_ = click()
        first = time.perf_counter() - t0
        t, _ = best_of(click, repeat=2)
        print(
            f"  row {pos:>7,}: {first:6.3f} s first, {t:6.3f} s again  (counterfactual row {cf.cf_position:,}, "
            f"distance {cf.distance:.3f}, verified {cf.verified})"
        )
    t, dist = best_of(lambda: whatif.distances_to(sc, 123))
    print(f"  similarity (distance of all {sc.n:,} rows to the selected one): {t:6.3f} s")


def main() -> None:
    sc = scored_1m()
    other, ws = previous_1m(sc)
    bench_changes(sc, other)
    bench_zoom(sc)
    bench_click(sc, ws)


if __name__ == "__main__":
    main()
