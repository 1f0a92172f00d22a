"""Datapoints view benchmarks (issue #15), run by hand, not by pytest:

    python benchmarks/bench_datapoints.py                # everything
    python benchmarks/bench_datapoints.py --only click   # changes | zoom | click

On the 1M-row bench sample (train + validation + production, scored once by its current and previous models,
cached in benchmarks/_work/):
1. Server compute after a change of axis, colour or facet (goal ≤ 0.5 s each), and the spec the browser gets
   (goal ≤ 1 MB), side by side with the peers: ``np.histogram2d`` (counts only) and a pandas ``groupby`` on
   ``pd.cut`` bins (counts and error share) for the binning; for the spec, a plain Altair scatter of every row
   (what the What-If Tool / Facets Dive sent), measured on 50,000 rows and scaled to 1M.
2. Zoom into a heat-map cell until its rows are drawn as points (goal ≤ 0.5 s).
3. A click to a filled datapoint editor: nearest counterfactual over 1M rows, re-predicted, the ICE curve, the
   edited prediction and the chart with both rings (goal ≤ 1 s) — the first click on a dataset and a repeat
   click, side by side with the previous search (a standardised 1M × 20 copy built on the first click).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True, order=True)
class Took:
    """Wall-clock and CPU seconds of one run (CPU: this process, all threads; the machine may be shared, and CPU
    time is what a busy machine does not inflate)."""

    wall: float
    cpu: float

    def __add__(self, other: Took) -> Took:
        return Took(self.wall + other.wall, self.cpu + other.cpu)

    def __str__(self) -> str:
        return f"{self.wall:5.3f} s ({self.cpu:5.3f} s CPU)"


def clock(fn) -> Took:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return Took(time.perf_counter() - t0, time.process_time() - c0)


class PreviousSearch:
    """The counterfactual search as it was before (kept here to measure against, same run): on the first click
    of a dataset it built a standardised float32 matrix of every numeric feature and int32 codes of every
    categorical one (1M × 20), then scanned it in row-major chunks of 200,000 rows."""

    def __init__(self, sc) -> None:
        self.sc = sc
        self.mats = None

    def matrices(self) -> dict:
        from explore.slices.whatif import _is_numeric

        if self.mats is None:
            sc = self.sc
            X = sc.frame
            feats = [c for c in sc.feature_names if c in X.columns]
            num_cols = [c for c in feats if _is_numeric(X[c])]
            cat_cols = [c for c in feats if c not in num_cols]
            num = np.empty((sc.n, len(num_cols)), dtype=np.float32)
            for j, c in enumerate(num_cols):
                x = pd.to_numeric(X[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                sd = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
                num[:, j] = x / (sd if sd > 0 else 1.0)
            cat = np.empty((sc.n, len(cat_cols)), dtype=np.int32)
            for j, c in enumerate(cat_cols):
                cat[:, j] = pd.factorize(X[c], use_na_sentinel=True)[0]
            self.mats = {"num": num, "cat": cat}
        return self.mats

    def nearest(self, pos: int) -> tuple[int, float]:
        """(row, distance) of the nearest row predicted another class (L2), as the previous search found it."""
        sc, m = self.sc, self.matrices()
        cand = (sc.pred != sc.pred[pos]) & (sc.pred >= 0)
        cand[pos] = False
        best_d, best_i = np.inf, -1
        for start in range(0, sc.n, 200_000):
            stop = min(start + 200_000, sc.n)
            diff = np.abs(m["num"][start:stop] - m["num"][pos])
            missing = np.isnan(diff)
            if missing.any():
                diff[missing] = 1.0
                for j in np.flatnonzero(np.isnan(m["num"][pos])):
                    diff[:, j] = (~np.isnan(m["num"][start:stop, j])).astype(diff.dtype)
            np.multiply(diff, diff, out=diff)
            total = diff.sum(axis=1, dtype=np.float64) + (m["cat"][start:stop] != m["cat"][pos]).sum(axis=1)
            d = np.sqrt(total)
            d[~cand[start:stop]] = np.inf
            j = int(np.argmin(d))
            if d[j] < best_d:
                best_d, best_i = float(d[j]), start + j
        return best_i, best_d


def bench_click(sc, ws) -> None:
    from dataclasses import replace

    from explore.slices import datapoint, whatif
    from explore.slices import datapoints as dp
    from explore.slices.datapoints_charts import datapoints_chart
    from explore.slices.definition import LABEL

    print(
        "\n== 3. A click to a filled datapoint editor (goal ≤ 1 s): nearest counterfactual over 1M rows "
        "re-predicted, both models' predictions, the edited prediction, the ICE curve and the chart with both "
        "rings.\n   The first click on a dataset vs a repeat click, our search vs the previous one (same run):"
    )
    model = ws.model()
    spec = dp.DatapointsSpec("tenure_months", "monthly_charges", LABEL)

    def rest_of_click(data, pos: int, cf_position: int) -> None:
        """Everything a click does besides the search (the same for both searches)."""
        datapoint.datapoint_outcome(data, pos)
        whatif.edit_and_predict(model, data, pos, {})
        whatif.ice_curve(model, data, pos, "tenure_months")
        # The view was drawn (and cached) before the click: the click rings two rows on it, as the page does.
        res = dp.ringed(views[id(data)], data, selected=pos, counterfactual=cf_position)
        datapoints_chart(res).to_dict()

    def ours(data, pos: int):
        cf = whatif.nearest_counterfactual(data, pos, model=model)  # re-predicts both rows
        return cf.cf_position, cf.distance

    def previous(search: PreviousSearch, pos: int):
        row, dist = search.nearest(pos)
        whatif.model_outputs(model, search.sc, search.sc.X.iloc[[pos, row]])  # the same re-prediction
        return row, dist

    views: dict[int, object] = {}  # each dataset copy's view, drawn before its first click

    def draw(data) -> None:
        views[id(data)] = dp.datapoints(data, spec)

    warm = replace(sc)  # process-wide first calls (the model's first predict, imports) are paid here
    draw(warm)
    rest_of_click(warm, 1, ours(warm, 1)[0])
    for pos in (123, 500_000, 999_000):
        # Fresh copies of the dataset for each first click: no per-dataset cache of any search is warm; the chart
        # was drawn on each before the click (as on the page). "prepared": the page's background preparation
        # (started when the chart drew) had finished before the click; later clicks find it done too.
        cold, prepared, prev = replace(sc), replace(sc), PreviousSearch(replace(sc))
        for data in (cold, prepared, prev.sc):
            draw(data)
        t_prep = clock(lambda d=prepared: whatif.prepare_distances(d))
        mine = ours(cold, pos)
        theirs = previous(prev, pos)
        assert mine[0] == theirs[0] and abs(mine[1] - theirs[1]) <= 1e-5 * mine[1], (mine, theirs)
        cold, prev = replace(sc), PreviousSearch(replace(sc))  # cold again: the first click measured
        draw(cold)
        draw(prev.sc)
        first = clock(lambda d=cold, p=pos: ours(d, p))
        first_prep = clock(lambda d=prepared, p=pos: ours(d, p))  # the first search on a prepared dataset
        first_prev = clock(lambda s=prev, p=pos: previous(s, p))
        again = min(clock(lambda d=prepared, p=pos: ours(d, p)) for _ in range(3))
        again_prev = min(clock(lambda s=prev, p=pos: previous(s, p)) for _ in range(3))
        rest = min(clock(lambda d=prepared, p=pos, row=mine[0]: rest_of_click(d, p, row)) for _ in range(2))
        print(
            f"  row {pos:,}: the same counterfactual by both searches, row {mine[0]:,} at distance {mine[1]:.4f}\n"
            f"    search, first click: ours {first} cold, {first_prep} prepared (in the background: {t_prep}); "
            f"previous {first_prev}  (previous / ours cold = {first_prev.cpu / first.cpu:4.1f}x CPU)\n"
            f"    search, again:       ours {again}; previous {again_prev}  "
            f"(previous / ours = {again_prev.cpu / again.cpu:4.1f}x CPU)\n"
            f"    whole click (the search + {rest} for the rest): first {first + rest} cold, "
            f"{first_prep + rest} prepared (previous {first_prev + rest}); again {again + rest} "
            f"(previous {again_prev + rest})",
            flush=True,
        )
    t_build, mats = best_of(lambda: PreviousSearch(sc).matrices(), repeat=1)
    whatif.prepare_distances(sc)
    mb = (mats["num"].nbytes + mats["cat"].nbytes) / 2**20
    print(
        f"  the previous search's standardised copy: {mats['num'].shape[0]:,} × "
        f"{mats['num'].shape[1] + mats['cat'].shape[1]} features, {mb:,.0f} MiB, built in {t_build:.3f} s on "
        "the first click; ours keeps a scale per numeric feature and 1-byte codes per categorical one "
        f"({sum(c.nbytes for c in whatif._CODES_CACHE[sc].values()) / 2**20:,.0f} MiB)"
    )
    t, _ = best_of(lambda: whatif.distances_to(sc, 123))
    print(f"  similarity (distance of all {sc.n:,} rows to the selected one): {t:6.3f} s")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["changes", "zoom", "click"], help="run one section")
    only = ap.parse_args().only
    sc = scored_1m()
    other, ws = previous_1m(sc)
    if only in (None, "changes"):
        bench_changes(sc, other)
    if only in (None, "zoom"):
        bench_zoom(sc)
    if only in (None, "click"):
        bench_click(sc, ws)


if __name__ == "__main__":
    main()
