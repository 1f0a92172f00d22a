"""Charts for the Slices page: result object → ``alt.Chart`` (pure functions, no streamlit).

Every chart draws data already aggregated by ``explore.slices.report`` / ``explore.slices.whatif`` and stays under
``MAX_MARKS`` marks; tooltips carry the exact numbers.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from explore.core.chart_data import FIT_X, vega_safe
from explore.slices.report import ConfusionMatrix, Curves, DiscoveryResult, FairnessResult, SliceReport
from explore.slices.whatif import DependenceResult, PerturbationResult, ThresholdSuggestion

MAX_MARKS = 5_000
SET_COLORS = alt.Scale(domain=["overall", "slice", "rest"], range=["#7f7f7f", "#d62728", "#1f77b4"])
CONFUSION_ROW_PX = 24  # a confusion matrix row: room for its count and its class name
WORSE_COLORS = alt.Scale(domain=[True, False], range=["#d62728", "#4c78a8"])


def comparison_chart(report: SliceReport, metrics: list[str] | None = None) -> alt.Chart:
    """Overall / slice / rest for each metric: a point with its confidence-interval whisker, one row per metric."""
    cmp = report.comparison
    if metrics is not None:
        cmp = cmp[cmp["metric"].isin(metrics)]
    rows = []
    for _, r in cmp.iterrows():
        for part in ("overall", "slice", "rest"):
            rows.append(
                {
                    "metric": r["metric"],
                    "set": part,
                    "value": r[part],
                    "low": r[f"{part}_low"],
                    "high": r[f"{part}_high"],
                }
            )
    data = vega_safe(
        pd.DataFrame(rows, columns=["metric", "set", "value", "low", "high"]).dropna(subset=["value"])
    )
    base = alt.Chart(data).encode(
        y=alt.Y("set:N", title=None, sort=["overall", "slice", "rest"]),
        color=alt.Color("set:N", scale=SET_COLORS, legend=alt.Legend(title=None, orient="top")),
        tooltip=[
            alt.Tooltip("metric:N"),
            alt.Tooltip("set:N"),
            alt.Tooltip("value:Q", format=".4f"),
            alt.Tooltip("low:Q", format=".4f", title="CI low"),
            alt.Tooltip("high:Q", format=".4f", title="CI high"),
        ],
    )
    whisk = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", title="value (interval)", scale=alt.Scale(zero=False)), x2="high:Q"
    )
    dots = base.mark_point(filled=True, size=70).encode(x="value:Q")
    return (
        alt.layer(whisk, dots, data=data)
        .properties(height=60, width=420)
        .facet(
            row=alt.Row(
                "metric:N",
                title=None,
                sort=list(dict.fromkeys(data["metric"])),
                header=alt.Header(labelAngle=0, labelAlign="left"),
            )
        )
        .resolve_scale(x="independent")
    )


def group_bars(report: SliceReport, metric: str, *, sort_by: str = "gap") -> alt.Chart:
    """One bar per group for ``metric`` with interval whiskers; significantly worse groups in red; a
    dashed line at the slice's value."""
    if report.by_group is None:
        raise ValueError("the report has no by_group table")
    df = report.by_group[report.by_group["metric"] == metric].copy()
    label_cols = [
        c for c in df.columns if c not in _BY_GROUP_NUMERIC and c not in ("group", "metric", "method", "note")
    ]
    df["label"] = (
        df[label_cols].astype(str).agg(" · ".join, axis=1) if label_cols else df["group"].astype(str)
    )
    df = df.sort_values(sort_by if sort_by in df.columns else "gap", kind="stable")
    data = vega_safe(
        df[["label", "value", "ci_low", "ci_high", "support", "rest", "gap", "q_worse", "worse", "note"]]
    )
    order = data["label"].tolist()
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", sort=order, title=" · ".join(label_cols) if label_cols else "group"),
        tooltip=[
            alt.Tooltip("label:N", title="group"),
            alt.Tooltip("value:Q", format=".4f", title=metric),
            alt.Tooltip("ci_low:Q", format=".4f", title="CI low"),
            alt.Tooltip("ci_high:Q", format=".4f", title="CI high"),
            alt.Tooltip("support:Q", format=","),
            alt.Tooltip("rest:Q", format=".4f", title="rest of slice"),
            alt.Tooltip("gap:Q", format="+.4f"),
            alt.Tooltip("q_worse:Q", format=".3g", title="q (BH)"),
            alt.Tooltip("note:N"),
        ],
    )
    bars = base.mark_bar(opacity=0.8).encode(
        x=alt.X("value:Q", title=metric),
        color=alt.Color("worse:N", scale=WORSE_COLORS, title="significantly worse"),
    )
    whisk = base.mark_rule(color="black").encode(x="ci_low:Q", x2="ci_high:Q")
    ref_val = report.comparison.loc[report.comparison["metric"] == metric, "slice"]
    layers = [bars, whisk]
    if len(ref_val) and pd.notna(ref_val.iloc[0]):
        ref = (
            alt.Chart(pd.DataFrame({"slice": [float(ref_val.iloc[0])]}))
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x="slice:Q", tooltip=[alt.Tooltip("slice:Q", format=".4f", title="whole slice")])
        )
        layers.append(ref)
    return alt.layer(*layers).properties(height=max(120, 22 * len(data)), width="container", autosize=FIT_X)


_BY_GROUP_NUMERIC = {
    "value",
    "ci_low",
    "ci_high",
    "support",
    "n_pos",
    "rest",
    "rest_low",
    "rest_high",
    "gap",
    "p_worse",
    "q_worse",
    "worse",
}


def confusion_heatmap(confusion: ConfusionMatrix, *, title: str = "") -> alt.Chart:
    """Confusion matrix: cells coloured by the share of each true class, labelled with counts. A row (and its
    class name) keeps ``CONFUSION_ROW_PX`` pixels however many classes there are: at a fixed 220 px, Streamlit's
    drawing to size left a 10-class matrix's rows 11 px tall and every other class name hidden."""
    data = vega_safe(confusion.table)
    k = int(max(data["true"].nunique(), data["predicted"].nunique())) if len(data) else 0
    base = alt.Chart(data).encode(
        x=alt.X(
            "predicted:N",
            title="predicted",
            axis=alt.Axis(labelAngle=0 if k <= 4 else -40, labelOverlap=False),
        ),
        y=alt.Y("true:N", title="true", axis=alt.Axis(labelOverlap=False)),
        tooltip=[
            "true:N",
            "predicted:N",
            alt.Tooltip("count:Q", format=","),
            alt.Tooltip("share_of_true:Q", format=".1%"),
        ],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "share_of_true:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share of true"
        )
    )
    text = base.mark_text(baseline="middle").encode(
        text=alt.Text("count:Q", format=","),
        color=alt.condition("datum.share_of_true > 0.5", alt.value("white"), alt.value("black")),
    )
    return alt.layer(cells, text).properties(
        title=title, width=220, height=max(220, CONFUSION_ROW_PX * k + 80)
    )


def roc_chart(c: Curves) -> alt.Chart:
    """ROC curves of each row set (≤ 200 points each), with the chance diagonal."""
    data = vega_safe(c.roc)
    data["set_auc"] = data["set"].map(lambda s: f"{s} (AUC {c.auc[s][0]:.3f})" if s in c.auc else s)
    lines = (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("fpr:Q", title="false positive rate", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("tpr:Q", title="true positive rate", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("set_auc:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                "set:N",
                alt.Tooltip("threshold:Q", format=".4f"),
                alt.Tooltip("fpr:Q", format=".3f"),
                alt.Tooltip("tpr:Q", format=".3f"),
            ],
        )
    )
    diag = (
        alt.Chart(pd.DataFrame({"x": [0, 1], "y": [0, 1]}))
        .mark_line(strokeDash=[3, 3], color="lightgray")
        .encode(x="x:Q", y="y:Q")
    )
    return alt.layer(diag, lines).properties(title=f"ROC (positive: {c.cls})", width=300, height=280)


def pr_chart(c: Curves) -> alt.Chart:
    """Precision–recall curves of each row set (≤ 200 points each)."""
    data = vega_safe(c.pr)
    data["set_ap"] = data["set"].map(lambda s: f"{s} (AP {c.auc[s][1]:.3f})" if s in c.auc else s)
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-before")
        .encode(
            x=alt.X("recall:Q", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("precision:Q", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("set_ap:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                "set:N",
                alt.Tooltip("threshold:Q", format=".4f"),
                alt.Tooltip("recall:Q", format=".3f"),
                alt.Tooltip("precision:Q", format=".3f"),
            ],
        )
        .properties(title=f"Precision–recall (positive: {c.cls})", width=300, height=280)
    )


def discovery_chart(result: DiscoveryResult, *, max_points: int = 2_000) -> alt.Chart:
    """Every tested slice: effect size against support (log scale), significant ones in red.

    At most ``max_points`` slices are drawn (the smallest p-values first)."""
    t = result.tested.copy()
    if len(t) > max_points:
        t = t.nsmallest(max_points, "p_value")
    t["significant"] = (t["q_value"] <= result.fdr) & (t["diff"] > 0)
    data = vega_safe(t[["slice", "support", "effect_size", "diff", "q_value", "significant", "n_conditions"]])
    return (
        alt.Chart(data)
        .mark_circle(opacity=0.6)
        .encode(
            x=alt.X("support:Q", scale=alt.Scale(type="log"), title="rows in slice"),
            y=alt.Y("effect_size:Q", title="effect size (Cohen's d of the loss)"),
            color=alt.Color("significant:N", scale=WORSE_COLORS, title=f"q ≤ {result.fdr:g}"),
            size=alt.Size("n_conditions:O", scale=alt.Scale(range=[30, 70]), title="conditions"),
            tooltip=[
                "slice:N",
                alt.Tooltip("support:Q", format=","),
                alt.Tooltip("effect_size:Q", format=".3f"),
                alt.Tooltip("diff:Q", format="+.4f", title="loss gap"),
                alt.Tooltip("q_value:Q", format=".3g"),
            ],
        )
        .properties(height=300, width="container")
    )


def fairness_chart(result: FairnessResult) -> alt.Chart:
    """Each fairness measure per group, a point with its interval (one panel per measure)."""
    measures = list(result.gaps["measure"])
    rows = []
    for _, r in result.groups.iterrows():
        for m in measures:
            rows.append(
                {
                    "group": r["group"],
                    "measure": m,
                    "value": r[m],
                    "low": r[f"{m}_low"],
                    "high": r[f"{m}_high"],
                    "support": r["support"],
                }
            )
    data = vega_safe(pd.DataFrame(rows)).dropna(subset=["value"])
    base = alt.Chart(data).encode(
        y=alt.Y("group:N", title=result.column),
        tooltip=[
            "group:N",
            "measure:N",
            alt.Tooltip("value:Q", format=".4f"),
            alt.Tooltip("low:Q", format=".4f"),
            alt.Tooltip("high:Q", format=".4f"),
            alt.Tooltip("support:Q", format=","),
        ],
    )
    layer = alt.layer(
        base.mark_rule().encode(x=alt.X("low:Q", title=None, scale=alt.Scale(zero=False)), x2="high:Q"),
        base.mark_point(filled=True, size=60).encode(x="value:Q"),
        data=data,
    )
    return (
        layer.properties(width=220, height=max(80, 20 * result.groups.shape[0]))
        .facet(column=alt.Column("measure:N", title=None))
        .resolve_scale(x="independent")
    )


def dependence_chart(dep: DependenceResult) -> alt.Chart:
    """ICE / partial dependence: the average (thick) and individual lines (thin); categorical features
    as points per category. A rule marks the row's current value for ICE on a numeric feature."""
    data = vega_safe(dep.curves)
    # ICE of one row: that row is the curve to read, drawn like an average.
    single = data["line"].nunique() == 1
    data["kind"] = np.where((data["line"] == "average") | single, "average", "row")
    x = (
        alt.X("value:Q", title=dep.feature)
        if dep.kind == "numeric"
        else alt.X("value:N", title=dep.feature, sort=None, axis=alt.Axis(labelAngle=-30))
    )
    tooltip = [
        alt.Tooltip("line:N", title="row / average"),
        alt.Tooltip("value", title=dep.feature),
        alt.Tooltip("output:Q", format=".4f", title=dep.output_meaning),
    ]
    y = alt.Y("output:Q", title=dep.output_meaning)
    if dep.kind == "numeric":
        marks = (
            alt.Chart(data)
            .mark_line()
            .encode(
                x=x,
                y=y,
                detail="line:N",
                tooltip=tooltip,
                opacity=alt.condition("datum.kind == 'average'", alt.value(1.0), alt.value(0.25)),
                strokeWidth=alt.condition("datum.kind == 'average'", alt.value(3), alt.value(1)),
                color=alt.condition("datum.kind == 'average'", alt.value("#d62728"), alt.value("#4c78a8")),
            )
        )
    else:
        marks = (
            alt.Chart(data)
            .mark_point(filled=True)
            .encode(
                x=x,
                y=y,
                detail="line:N",
                tooltip=tooltip,
                opacity=alt.condition("datum.kind == 'average'", alt.value(1.0), alt.value(0.3)),
                size=alt.condition("datum.kind == 'average'", alt.value(120), alt.value(30)),
                color=alt.condition("datum.kind == 'average'", alt.value("#d62728"), alt.value("#4c78a8")),
            )
        )
    layers = [marks]
    if dep.current is not None and dep.kind == "numeric":
        cur = pd.DataFrame({"value": [float(dep.current)]})
        layers.append(
            alt.Chart(cur)
            .mark_rule(strokeDash=[4, 4], color="gray")
            .encode(x="value:Q", tooltip=[alt.Tooltip("value:Q", title="current value")])
        )
    return alt.layer(*layers).properties(height=280, width="container")


def perturbation_chart(result: PerturbationResult) -> alt.Chart:
    """Violation rate per group (or overall) with Wilson whiskers."""
    if result.by_group is not None and len(result.by_group):
        data = result.by_group.copy()
    else:
        data = pd.DataFrame([{"group": "all rows", **result.summary}])
    data = vega_safe(data[["group", "n", "violation_rate", "violation_low", "violation_high", "mean_change"]])
    base = alt.Chart(data).encode(
        y=alt.Y("group:N", title=None),
        tooltip=[
            "group:N",
            alt.Tooltip("n:Q", format=","),
            alt.Tooltip("violation_rate:Q", format=".2%"),
            alt.Tooltip("violation_low:Q", format=".2%"),
            alt.Tooltip("violation_high:Q", format=".2%"),
            alt.Tooltip("mean_change:Q", format="+.4f"),
        ],
    )
    return alt.layer(
        base.mark_bar(opacity=0.8).encode(
            x=alt.X(
                "violation_rate:Q", title="share of rows violating the expectation", axis=alt.Axis(format="%")
            )
        ),
        base.mark_rule(color="black").encode(x="violation_low:Q", x2="violation_high:Q"),
    ).properties(height=max(80, 22 * len(data)), width="container", autosize=FIT_X)


def threshold_cost_chart(s: ThresholdSuggestion) -> alt.Chart:
    """Expected cost per row against the threshold, with rules at the suggestion and the current value."""
    data = vega_safe(s.curve)
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("threshold:Q"),
            y=alt.Y("cost:Q", title=f"cost per row (FP×{s.cost_fp:g}, FN×{s.cost_fn:g})"),
            tooltip=[alt.Tooltip("threshold:Q", format=".4f"), alt.Tooltip("cost:Q", format=".4f")],
        )
    )
    marks = pd.DataFrame(
        {"threshold": [s.overall["threshold"], s.current], "which": ["suggested", "current"]}
    )
    marks = marks[np.isfinite(marks["threshold"])]
    rules = (
        alt.Chart(marks)
        .mark_rule(strokeDash=[4, 4])
        .encode(
            x="threshold:Q",
            color=alt.Color(
                "which:N",
                scale=alt.Scale(domain=["suggested", "current"], range=["#2ca02c", "#7f7f7f"]),
                title=None,
            ),
            tooltip=["which:N", alt.Tooltip("threshold:Q", format=".4f")],
        )
    )
    return alt.layer(line, rules).properties(height=220, width="container")
