"""Label results → Altair charts (pure functions; the data behind each chart is already aggregated)."""

from __future__ import annotations

from typing import Literal

import altair as alt
import numpy as np
import pandas as pd

from explore.core.chart_data import chart_texts, vega_safe
from explore.labels.crowd import Agreement, LabelerTrust, PairConfusion, Queue
from explore.labels.review import SessionSummary

MAX_CONFUSION_LABELERS = 12
MAX_KAPPA_TEXT_LABELERS = 12  # beyond, a cell is too narrow for "0.53": the colour and the tooltip carry κ
MAX_TRUST_BARS = 40
SCORE_BINS = 20


def kappa_heatmap(result: Agreement) -> alt.Chart:
    """labeler x labeler Cohen's kappa (blank where a pair shares too few items), with the value printed.

    At most ``MAX_PAIRWISE_LABELERS`` labelers (those with the most labels): ≤ 1,600 cells. The values are printed
    in the cells for at most ``MAX_KAPPA_TEXT_LABELERS`` labelers; with more, printed values overlap in a page's
    column (25 labelers: cells 17 px wide), so the colour and the tooltip show them."""
    kappa = result.kappa_matrix("kappa")
    shared = result.kappa_matrix("shared")
    data = pd.DataFrame(
        {
            "labeler_a": np.repeat(kappa.index.to_numpy(), len(kappa.columns)),
            "labeler_b": np.tile(kappa.columns.to_numpy(), len(kappa.index)),
            "kappa": kappa.to_numpy().ravel(),
            "shared": shared.to_numpy().ravel(),
        }
    )
    data["text"] = data["kappa"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    order = chart_texts(str(v) for v in kappa.index)
    base = alt.Chart(vega_safe(data)).encode(
        x=alt.X("labeler_b:N", sort=order, title=None),
        y=alt.Y("labeler_a:N", sort=order, title=None),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(
            "kappa:Q",
            scale=alt.Scale(scheme="redblue", domain=[-1, 1]),
            title="Cohen's κ",
        ),
        tooltip=[
            alt.Tooltip("labeler_a:N", title="labeler"),
            alt.Tooltip("labeler_b:N", title="with"),
            alt.Tooltip("kappa:Q", format=".3f", title="Cohen's κ"),
            alt.Tooltip("shared:Q", title="shared items"),
        ],
    )
    if len(order) > MAX_KAPPA_TEXT_LABELERS:
        # Every row named: a row is 18 px, room for its label, but Vega's default overlap rule hid every other
        # labeler's name (40 labelers showed 20 names). Columns stay thinned: they are narrower in a page's column.
        rect = rect.encode(y=alt.Y("labeler_a:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)))
        return rect.properties(
            title=alt.TitleParams("Pairwise Cohen's kappa", subtitle="Hover a cell for its value."),
            height=alt.Step(18),
            width=alt.Step(18),
        )
    text = base.mark_text(fontSize=12).encode(
        text="text:N",
        color=alt.condition("abs(datum.kappa) > 0.6", alt.value("white"), alt.value("black")),
    )
    return (rect + text).properties(title="Pairwise Cohen's kappa", height=alt.Step(36), width=alt.Step(60))


def agreement_histogram(result: Agreement) -> alt.Chart:
    """How many items have each level of per-item agreement (share of agreeing labeler pairs)."""
    values = result.per_item[~np.isnan(result.per_item)]
    counts = pd.Series(np.round(values, 3)).value_counts().sort_index()
    data = pd.DataFrame({"agreement": counts.index.to_numpy(), "items": counts.to_numpy()})
    return (
        alt.Chart(data)
        .mark_bar(size=18)
        .encode(
            x=alt.X(
                "agreement:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
                title="Agreeing pairs",
            ),
            y=alt.Y("items:Q", title="Items"),
            tooltip=[alt.Tooltip("agreement:Q", format=".0%"), "items:Q"],
        )
        .properties(title="Per-item agreement", height=220)
    )


def trust_chart(trust: LabelerTrust) -> alt.Chart:
    """Each labeler's estimated accuracy (bar; red when flagged), agreement with the consensus (tick), and
    the threshold (rule). With many labelers, the ``MAX_TRUST_BARS`` least accurate ones."""
    t = trust.table.nsmallest(MAX_TRUST_BARS, "accuracy")
    data = pd.DataFrame(
        {
            "labeler": t["labeler"].astype(str),
            "accuracy": t["accuracy"],
            "low": t["accuracy_low"],
            "high": t["accuracy_high"],
            "agreement": t["agreement_consensus"],
            "items": t["items"],
            "status": np.where(t["flagged"], "flagged", "ok"),
        }
    )
    data = vega_safe(data)
    order = data.sort_values("accuracy")["labeler"].tolist()
    y = alt.Y("labeler:N", sort=order, title=None)
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=y,
            x=alt.X(
                "accuracy:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
                title="Estimated accuracy",
            ),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=["ok", "flagged"], range=["#4c78a8", "#e45756"]),
                title=None,
            ),
            tooltip=[
                "labeler:N",
                alt.Tooltip("accuracy:Q", format=".1%", title="estimated accuracy"),
                alt.Tooltip("low:Q", format=".1%", title="95 % interval, low"),
                alt.Tooltip("high:Q", format=".1%", title="95 % interval, high"),
                alt.Tooltip("agreement:Q", format=".1%", title="agreement with consensus"),
                alt.Tooltip("items:Q", title="labels behind the estimate"),
            ],
        )
    )
    ticks = alt.Chart(data).mark_tick(color="black", thickness=2).encode(y=y, x="agreement:Q")
    whiskers = alt.Chart(data).mark_rule(color="#333").encode(y=y, x="low:Q", x2="high:Q")
    rule = (
        alt.Chart(pd.DataFrame({"threshold": [trust.threshold]}))
        .mark_rule(strokeDash=[4, 4])
        .encode(x="threshold:Q")
    )
    shown = "" if len(t) == len(trust.table) else f" — the {len(t)} least accurate of {len(trust.table)}"
    return (bars + whiskers + ticks + rule).properties(
        title=f"Labeler trust (bar: estimated accuracy, line: its 95 % interval; tick: agreement with consensus){shown}",
        height=alt.Step(28),
    )


def confusion_heatmap(confusion: PairConfusion, *, normalize: bool = False) -> alt.Chart:
    """Two labelers' confusion as a heatmap (rows: the first's labels, columns: the second's); with
    ``normalize`` each row is shown as shares."""
    table, title = confusion.table, f"{confusion.first} (rows) vs {confusion.second} (columns)"
    row_name = table.index.name or "row"
    col_name = table.columns.name or "column"
    long = table.stack().rename("count").reset_index()
    long.columns = ["row", "column", "count"]
    totals = long.groupby("row")["count"].transform("sum")
    long["share"] = np.where(totals > 0, long["count"] / totals.where(totals > 0, 1), 0.0)
    value = "share" if normalize else "count"
    long["text"] = long[value].map(lambda v: f"{v:.0%}" if normalize else f"{int(v)}")
    base = alt.Chart(long).encode(
        x=alt.X("column:N", title=str(col_name)),
        y=alt.Y("row:N", title=str(row_name)),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"), title=value),
        tooltip=["row:N", "column:N", "count:Q", alt.Tooltip("share:Q", format=".1%", title="share of row")],
    )
    text = base.mark_text().encode(text="text:N")
    return (rect + text).properties(title=title, height=alt.Step(34), width=alt.Step(60))


def labeler_confusion_grid(trust: LabelerTrust) -> alt.Chart:
    """Each labeler's estimated confusion matrix (rows: true class, columns: their label, as shares),
    one small heatmap per labeler (the first ``MAX_CONFUSION_LABELERS``)."""
    used = np.flatnonzero(trust.observed.sum(axis=(0, 1)) + trust.observed.sum(axis=(0, 2)) > 0)
    names = trust.table["labeler"].astype(str).tolist()[:MAX_CONFUSION_LABELERS]
    cats = [str(c) for c in trust.categories[used]]
    rows = []
    for j, name in enumerate(names):
        conf = trust.confusion[j][np.ix_(used, used)]
        for a, true in enumerate(cats):
            for b, said in enumerate(cats):
                rows.append({"labeler": name, "true": true, "said": said, "share": conf[a, b]})
    data = pd.DataFrame(rows)
    data["text"] = data["share"].map(lambda v: f"{v:.0%}")
    base = alt.Chart(data).encode(
        x=alt.X("said:N", title="their label"), y=alt.Y("true:N", title="true class")
    )
    layered = base.mark_rect().encode(
        color=alt.Color("share:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="share"),
        tooltip=["labeler:N", "true:N", "said:N", alt.Tooltip("share:Q", format=".1%")],
    ) + base.mark_text().encode(text="text:N")
    return (
        layered.properties(width=alt.Step(44), height=alt.Step(30))
        .facet(facet=alt.Facet("labeler:N", title=None), columns=4)
        .properties(title="Estimated confusion per labeler (Dawid–Skene)")
    )


def queue_histogram(queue: Queue) -> alt.Chart:
    """Distribution of the queue's scores in ``SCORE_BINS`` bins, split by whether the model's prediction
    equals the label under review. (A page shows a filtered queue: ``dataclasses.replace(queue, frame=rows)``.)"""
    frame = queue.frame
    score = frame["score"].to_numpy(dtype=np.float64)
    edges = np.linspace(0, 1, SCORE_BINS + 1)
    idx = np.clip(np.digitize(score, edges[1:-1]), 0, SCORE_BINS - 1)
    model = frame["model_pred"].astype(object).to_numpy()
    label = frame["label"].astype(object).to_numpy()
    known = pd.notna(model)
    group = np.where(
        ~known,
        "no model prediction",
        np.where(model.astype(str) == label.astype(str), "model agrees", "model disagrees"),
    )
    data = (
        pd.DataFrame({"bin": idx, "group": group})
        .value_counts()
        .rename("items")
        .reset_index()
        .assign(start=lambda d: edges[d["bin"]], end=lambda d: edges[d["bin"] + 1])
    )
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "start:Q",
                bin="binned",
                scale=alt.Scale(domain=[0, 1]),
                title="Score (likelihood the label is wrong)",
            ),
            x2="end:Q",
            y=alt.Y("items:Q", stack=True, title="Items"),
            color=alt.Color("group:N", title=None),
            tooltip=[
                alt.Tooltip("start:Q", format=".2f"),
                alt.Tooltip("end:Q", format=".2f"),
                "group:N",
                "items:Q",
            ],
        )
        .properties(title="Queue scores", height=200)
    )


def rate_chart(summary: SessionSummary, *, by: Literal["class", "labeler"]) -> alt.Chart:
    """A random spot-check's error rate per class of the label (``by="class"``) or per labeler, as points with
    their confidence intervals as bars."""
    if by not in ("class", "labeler"):
        raise ValueError(f"by must be 'class' or 'labeler'; received {by!r}")
    table = summary.by_class if by == "class" else summary.by_labeler
    category, rate, title = by, "error_rate", f"Error rate by {by}"
    data = table[[category, rate, "ci_low", "ci_high"]].copy()
    data[category] = data[category].astype(str)
    data = vega_safe(data.dropna(subset=[rate]))
    y = alt.Y(f"{category}:N", title=None, sort=data.sort_values(rate)[category].tolist())
    x_scale = alt.Scale(
        domain=[
            0,
            float(max(0.05, min(1.0, np.nanmax(data["ci_high"].to_numpy(dtype=float), initial=0.05) * 1.1))),
        ]
    )
    err = (
        alt.Chart(data)
        .mark_rule()
        .encode(
            y=y,
            x=alt.X("ci_low:Q", scale=x_scale, axis=alt.Axis(format="%"), title=rate.replace("_", " ")),
            x2="ci_high:Q",
        )
    )
    pts = (
        alt.Chart(data)
        .mark_point(filled=True, size=80)
        .encode(
            y=y,
            x=alt.X(f"{rate}:Q", scale=x_scale),
            tooltip=[
                f"{category}:N",
                alt.Tooltip(f"{rate}:Q", format=".1%"),
                alt.Tooltip("ci_low:Q", format=".1%"),
                alt.Tooltip("ci_high:Q", format=".1%"),
            ],
        )
    )
    return (err + pts).properties(title=title, height=alt.Step(30))


def precision_curve(summary: SessionSummary) -> alt.Chart:
    """Queue sessions: cumulative precision (share wrong so far) against the position in the queue."""
    data = summary.precision_curve
    return (
        alt.Chart(data)
        .mark_line(point=len(data) <= 200)
        .encode(
            x=alt.X("position:Q", title="Position in the queue"),
            y=alt.Y(
                "precision:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
                title="Precision so far",
            ),
            tooltip=["position:Q", "reviewed:Q", "wrong:Q", alt.Tooltip("precision:Q", format=".1%")],
        )
        .properties(title="Queue precision by depth", height=220)
    )
