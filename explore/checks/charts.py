"""Charts (and Markdown tables) for the Checks page: result object → ``alt.Chart`` (pure functions).

Every chart draws numbers the ``explore`` check modules already computed and stays under ``MAX_MARKS``
marks; tooltips carry the exact numbers.
"""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from explore.checks.baseline import BaselineResult
from explore.checks.compare import (
    STATUS_FAIL,
    STATUS_NA,
    STATUS_NO_THRESHOLD,
    STATUS_PASS,
    STATUS_UNDERPOWERED,
    ComparisonResult,
)
from explore.checks.expectations import ValidationResult
from explore.checks.model_spec import SpecResult
from explore.checks.reproducibility import ReproResult
from explore.checks.serving_skew import SkewResult
from explore.checks.stability import CostResult, StabilityResult
from explore.core.chart_data import FIT_X, chart_texts, vega_safe

MAX_MARKS = 5_000
STATUS_SCALE = alt.Scale(
    domain=[STATUS_FAIL, STATUS_UNDERPOWERED, STATUS_PASS, STATUS_NO_THRESHOLD, STATUS_NA],
    range=["#d62728", "#f2a93b", "#2ca02c", "#9e9e9e", "#e0e0e0"],
)
VERDICT_SCALE = alt.Scale(
    domain=["model better", "inconclusive", "as good", "baseline better", "not computable"],
    range=["#2ca02c", "#f2a93b", "#d62728", "#8c1515", "#e0e0e0"],
)


def _empty(message: str) -> alt.Chart:
    return alt.Chart(pd.DataFrame({"text": [message]})).mark_text(size=13, color="#666").encode(text="text:N")


# ---- comparison --------------------------------------------------------------------------------------


def comparison_grid(result: ComparisonResult, *, dataset: str) -> alt.Chart:
    """The evaluation report of one dataset: slices × metrics, one panel per compared model, coloured by status;
    the text is the change (candidate − other)."""
    cells = result.cells[result.cells["dataset"] == dataset].copy()
    if cells.empty:
        return _empty(f"No cells for dataset '{dataset}'.")
    cells = cells.head(MAX_MARKS // 2)
    cells["label"] = cells["change"].map(lambda v: "" if v is None or not math.isfinite(v) else f"{v:+.3f}")
    cells["panel"] = cells["role"] + " (" + cells["other_model"] + ")"
    slices = chart_texts(dict.fromkeys(cells["slice"]))
    metrics = list(dict.fromkeys(cells["metric"]))
    data = vega_safe(
        cells[
            [
                "slice",
                "metric",
                "panel",
                "status",
                "label",
                "n",
                "candidate_value",
                "other_value",
                "change",
                "ci_low",
                "ci_high",
                "p_value",
                "threshold",
                "test",
                "note",
            ]
        ]
    )
    base = alt.Chart(data).encode(
        x=alt.X("metric:N", sort=metrics, title=None, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("slice:N", sort=slices, title=None),
    )
    rect = base.mark_rect(stroke="white").encode(
        color=alt.Color("status:N", scale=STATUS_SCALE, legend=alt.Legend(title="status", orient="bottom")),
        tooltip=[
            alt.Tooltip("slice:N"),
            alt.Tooltip("metric:N"),
            alt.Tooltip("panel:N", title="vs"),
            alt.Tooltip("n:Q", title="rows", format=","),
            alt.Tooltip("candidate_value:Q", title="candidate", format=".4f"),
            alt.Tooltip("other_value:Q", title="other", format=".4f"),
            alt.Tooltip("change:Q", format="+.4f"),
            alt.Tooltip("ci_low:Q", title="CI low", format="+.4f"),
            alt.Tooltip("ci_high:Q", title="CI high", format="+.4f"),
            alt.Tooltip("p_value:Q", title="p", format=".3g"),
            alt.Tooltip("threshold:N", title="allowed worsening"),
            alt.Tooltip("status:N"),
            alt.Tooltip("test:N"),
            alt.Tooltip("note:N"),
        ],
    )
    text = base.mark_text(fontSize=10).encode(text="label:N")
    height = max(120, 22 * len(slices))
    return (
        (rect + text)
        .properties(width=max(70 * len(metrics), 200), height=height)
        .facet(column=alt.Column("panel:N", title=None))
    )


def change_intervals(result: ComparisonResult, *, dataset: str, metric: str) -> alt.Chart:
    """Change of one metric per slice with its interval, and the allowed worsening as a tick per slice."""
    cells = result.cells[(result.cells["dataset"] == dataset) & (result.cells["metric"] == metric)].copy()
    if cells.empty:
        return _empty(f"No {metric} cells for '{dataset}'.")
    from explore.stats.metrics import metric_direction

    sign = 1.0 if metric_direction(metric) is False else -1.0
    cells["limit"] = sign * cells["allowed"]  # the change at which the worsening equals the allowance
    data = vega_safe(
        cells[["slice", "role", "change", "ci_low", "ci_high", "limit", "status", "n", "threshold"]]
    )
    slices = chart_texts(dict.fromkeys(cells["slice"]))
    base = alt.Chart(data).encode(y=alt.Y("slice:N", sort=slices, title=None), yOffset="role:N")
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title=f"change in {metric} (candidate − other)"),
        x2="ci_high:Q",
        color=alt.Color("status:N", scale=STATUS_SCALE, legend=alt.Legend(title="status", orient="right")),
    )
    point = base.mark_point(filled=True, size=40).encode(
        x="change:Q",
        color=alt.Color("status:N", scale=STATUS_SCALE),
        shape=alt.Shape("role:N", title="vs"),
        tooltip=[
            alt.Tooltip("slice:N"),
            alt.Tooltip("role:N"),
            alt.Tooltip("n:Q", format=","),
            alt.Tooltip("change:Q", format="+.4f"),
            alt.Tooltip("ci_low:Q", format="+.4f"),
            alt.Tooltip("ci_high:Q", format="+.4f"),
            alt.Tooltip("threshold:N"),
            alt.Tooltip("status:N"),
        ],
    )
    limit = base.mark_tick(color="#d62728", thickness=2, size=14).encode(x="limit:Q")
    zero = alt.Chart(data).mark_rule(color="#666", strokeDash=[3, 3]).encode(x=alt.datum(0))
    return (zero + rule + point + limit).properties(height=max(160, 26 * len(slices)), autosize=FIT_X)


def gap_chart(result: ComparisonResult, *, dataset: str) -> alt.Chart:
    """Each slice group's gap to the rest of the data (candidate model), with its interval and allowance."""
    gaps = result.gaps[result.gaps["dataset"] == dataset]
    if gaps.empty:
        return _empty("No slice columns were compared.")
    data = vega_safe(
        gaps[
            ["slice", "metric", "gap", "gap_low", "gap_high", "allowed", "status", "n", "value", "rest_value"]
        ]
    )
    slices = chart_texts(dict.fromkeys(gaps["slice"]))
    base = alt.Chart(data).encode(y=alt.Y("slice:N", sort=slices, title=None), yOffset="metric:N")
    rule = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("gap_low:Q", title="gap to the rest of the data (positive = slice worse)"),
        x2="gap_high:Q",
        color=alt.Color("status:N", scale=STATUS_SCALE, legend=alt.Legend(title="status", orient="right")),
    )
    point = base.mark_point(filled=True, size=40).encode(
        x="gap:Q",
        color=alt.Color("status:N", scale=STATUS_SCALE),
        tooltip=[
            alt.Tooltip("slice:N"),
            alt.Tooltip("metric:N"),
            alt.Tooltip("n:Q", format=","),
            alt.Tooltip("value:Q", format=".4f"),
            alt.Tooltip("rest_value:Q", title="rest", format=".4f"),
            alt.Tooltip("gap:Q", format="+.4f"),
            alt.Tooltip("allowed:Q", format=".4f"),
            alt.Tooltip("status:N"),
        ],
    )
    limit = base.mark_tick(color="#d62728", thickness=2, size=14).encode(x="allowed:Q")
    zero = alt.Chart(data).mark_rule(color="#666", strokeDash=[3, 3]).encode(x=alt.datum(0))
    return (zero + rule + point + limit).properties(height=max(160, 26 * len(slices)), autosize=FIT_X)


# ---- baseline, reproducibility, spec ----------------------------------------------------------------------


def baseline_chart(result: BaselineResult) -> alt.Chart:
    """Gain of the model over each baseline (headline metric, all rows) with its interval and the margin."""
    v = result.verdicts
    if v.empty or "gain" not in v:
        return _empty("Nothing to chart.")
    data = vega_safe(
        v[
            [
                "dataset",
                "baseline",
                "metric",
                "gain",
                "gain_low",
                "gain_high",
                "margin",
                "verdict",
                "candidate_value",
                "other_value",
            ]
        ]
    )
    enc_y = alt.Y("baseline:N", title=None)
    rule = (
        alt.Chart(data)
        .mark_rule(strokeWidth=3)
        .encode(
            y=enc_y,
            x=alt.X("gain_low:Q", title=f"gain of the model over the baseline ({result.headline})"),
            x2="gain_high:Q",
            color=alt.Color("verdict:N", scale=VERDICT_SCALE, legend=alt.Legend(orient="bottom", title=None)),
        )
    )
    point = (
        alt.Chart(data)
        .mark_point(filled=True, size=60)
        .encode(
            y=enc_y,
            x="gain:Q",
            color=alt.Color("verdict:N", scale=VERDICT_SCALE),
            tooltip=[
                alt.Tooltip("dataset:N"),
                alt.Tooltip("baseline:N"),
                alt.Tooltip("metric:N"),
                alt.Tooltip("candidate_value:Q", title="model", format=".4f"),
                alt.Tooltip("other_value:Q", title="baseline", format=".4f"),
                alt.Tooltip("gain:Q", format="+.4f"),
                alt.Tooltip("gain_low:Q", format="+.4f"),
                alt.Tooltip("gain_high:Q", format="+.4f"),
                alt.Tooltip("margin:Q", format=".4f"),
                alt.Tooltip("verdict:N"),
            ],
        )
    )
    margin = alt.Chart(data).mark_tick(color="#333", thickness=2, size=18).encode(y=enc_y, x="margin:Q")
    zero = alt.Chart(data).mark_rule(color="#666", strokeDash=[3, 3]).encode(x=alt.datum(0))
    return (
        (rule + point + margin + zero)
        .properties(height=70)
        .facet(row=alt.Row("dataset:N", title=None), data=data)
    )


def repro_chart(result: ReproResult) -> alt.Chart:
    """Share of evaluation rows whose prediction changes between the two refits of each pair."""
    if not result.pairs:
        return _empty(result.reason or "No refits.")
    data = pd.DataFrame(
        [
            {
                "pair": p.name,
                "changed": 1 - p.agreement,
                "rows": p.n_changed,
                "max_abs_diff": p.max_abs_diff,
                "identical": "identical" if p.identical else "differ",
            }
            for p in result.pairs
        ]
    )
    return (
        alt.Chart(vega_safe(data))
        .mark_bar()
        .encode(
            x=alt.X("changed:Q", title="share of predictions that change", axis=alt.Axis(format="%")),
            y=alt.Y("pair:N", title=None, sort=chart_texts(p.name for p in result.pairs)),
            color=alt.Color(
                "identical:N",
                scale=alt.Scale(domain=["identical", "differ"], range=["#2ca02c", "#d62728"]),
                legend=alt.Legend(title=None, orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("pair:N"),
                alt.Tooltip("changed:Q", format=".2%"),
                alt.Tooltip("rows:Q", format=","),
                alt.Tooltip("max_abs_diff:Q", title="largest difference", format=".3g"),
            ],
        )
        .properties(height=30 * len(data) + 20)
    )


def loss_curve_chart(result: SpecResult) -> alt.Chart:
    """Training loss by stage on the spec-check sample."""
    if result.curve.empty:
        return _empty("The estimator exposes no training stages.")
    data = vega_safe(result.curve.astype({"stage": "int64", "loss": "float64"}))
    return (
        alt.Chart(data)
        .mark_line(point=len(data) <= 60)
        .encode(
            x=alt.X("stage:Q", title=f"stage ({result.curve_source})"),
            y=alt.Y("loss:Q", title="training loss", scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("stage:Q"), alt.Tooltip("loss:Q", format=".5g")],
        )
        .properties(height=220)
    )


# ---- data checks ----------------------------------------------------------------------------------------


def violations_chart(result: ValidationResult) -> alt.Chart:
    """Share of non-missing values breaking each failing value-level expectation (range, categories, type…)."""
    v = result.violations.dropna(subset=["unexpected_rate"])
    if v.empty:
        return _empty("No value-level violations.")
    data = vega_safe(v.assign(check=v["column"] + " · " + v["expectation"]).head(200))
    return (
        alt.Chart(data)
        .mark_bar(color="#d62728")
        .encode(
            x=alt.X(
                "unexpected_rate:Q",
                title="share of values breaking the expectation",
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y("check:N", title=None, sort="-x"),
            tooltip=[
                alt.Tooltip("column:N"),
                alt.Tooltip("expectation:N"),
                alt.Tooltip("expected:N"),
                alt.Tooltip("observed:N"),
                alt.Tooltip("unexpected:Q", format=","),
                alt.Tooltip("unexpected_rate:Q", format=".3%"),
            ],
        )
        .properties(height=max(60, 22 * len(data)), autosize=FIT_X)
    )


def skew_chart(result: SkewResult) -> alt.Chart:
    """Mismatch rate per column between training and serving."""
    if result.table.empty or result.n_joined == 0:
        return _empty("Nothing joined.")
    data = vega_safe(result.table)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("mismatch_rate:Q", title="share of joined rows that differ", axis=alt.Axis(format="%")),
            y=alt.Y("column:N", title=None, sort="-x"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=["pass", "fail"], range=["#2ca02c", "#d62728"]),
                legend=None,
            ),
            tooltip=[
                alt.Tooltip("column:N"),
                alt.Tooltip("mismatches:Q", format=","),
                alt.Tooltip("mismatch_rate:Q", format=".3%"),
                alt.Tooltip("max_abs_diff:Q", format=".4g"),
                alt.Tooltip("mean_abs_diff:Q", format=".4g"),
            ],
        )
        .properties(height=max(60, 22 * len(data)), autosize=FIT_X)
    )


def nan_chart(result: StabilityResult) -> alt.Chart:
    """Share of missing values per feature and dataset (features with any)."""
    if result.inputs.empty:
        return _empty("No missing or infinite inputs.")
    data = vega_safe(result.inputs.head(MAX_MARKS))
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("nan_rate:Q", title="share of rows missing", axis=alt.Axis(format="%")),
            y=alt.Y("column:N", title=None),
            yOffset="dataset:N",
            color=alt.Color("dataset:N", legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("dataset:N"),
                alt.Tooltip("column:N"),
                alt.Tooltip("nan:Q", format=","),
                alt.Tooltip("inf:Q", format=","),
                alt.Tooltip("nan_rate:Q", format=".3%"),
            ],
        )
    )


def cost_chart(result: CostResult) -> alt.Chart:
    """Milliseconds per row by batch size, per model (log scale)."""
    data = vega_safe(result.table.assign(batch=result.table["batch_size"].map(lambda b: f"{int(b):,}")))
    order = [f"{int(b):,}" for b in sorted(result.table["batch_size"].unique())]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("batch:N", sort=order, title="rows per call"),
            xOffset="model:N",
            y=alt.Y("ms_per_row:Q", title="ms per row", scale=alt.Scale(type="log")),
            color=alt.Color("model:N", legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("model:N"),
                alt.Tooltip("batch_size:Q", format=","),
                alt.Tooltip("ms_per_row:Q", format=".4g"),
                alt.Tooltip("seconds_per_batch:Q", format=".4g"),
                alt.Tooltip("rows_per_second:Q", format=",.0f"),
                alt.Tooltip("peak_memory_mb:Q", format=".3g"),
            ],
        )
        .properties(height=240)
    )


# ---- exports ------------------------------------------------------------------------------------------------
