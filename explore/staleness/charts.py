"""Charts for the Staleness page: pure functions from result objects to ``alt.Chart`` (no streamlit).

Every chart aggregates first (one mark per window, per cutoff × age, per feature × window), so mark
counts stay in the hundreds; the drift heatmap keeps the most drifting features when features ×
windows would exceed ``MAX_CELLS``. The one sentence summarising time to stale lives here too
(presentation, not analysis).
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from explore.core.chart_data import FIT_X, legend_height, month_ticks, vega_safe
from explore.staleness.drift import BucketShares, DriftResult, InvariantsResult
from explore.staleness.estimation import PART_REALISED, PARTS, CalibrationResult, PerformanceEstimate
from explore.staleness.experiment import POINT_METRICS, PerformanceOverTime, StalenessResult

MAX_CELLS = 5_000
WIDTH = "container"


def _x_time(title: str = "window start", starts: pd.Series | None = None) -> alt.X:
    """The windows' start on x; calendar-month windows ticked on months (``month_ticks``)."""
    ticks = month_ticks(starts) if starts is not None else None
    return alt.X("start:T", title=title, axis=alt.Axis(**ticks) if ticks else alt.Undefined)


def performance_chart(pot: PerformanceOverTime, metric: str, *, height: int = 300) -> alt.LayerChart:
    """One metric per window: line with its confidence band; hollow points mark windows with too few rows."""
    d = pot.series(metric)[
        ["window", "label", "start", "value", "ci_low", "ci_high", "support", "too_few", "note"]
    ].copy()
    d["flag"] = np.where(d["too_few"], "too few rows", "ok")
    base = alt.Chart(d).encode(x=_x_time("", d["start"]))
    tooltip = [
        alt.Tooltip("label:N", title="window"),
        alt.Tooltip("value:Q", title=metric, format=".4f"),
        alt.Tooltip("ci_low:Q", title="CI low", format=".4f"),
        alt.Tooltip("ci_high:Q", title="CI high", format=".4f"),
        alt.Tooltip("support:Q", title="rows", format=","),
        alt.Tooltip("note:N"),
    ]
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("ci_low:Q", title=metric, scale=alt.Scale(zero=False)), y2="ci_high:Q"
    )
    line = base.mark_line().encode(y=alt.Y("value:Q", title=metric))
    points = base.mark_point(size=50, filled=True).encode(
        y="value:Q",
        fill=alt.Fill(
            "flag:N", scale=alt.Scale(domain=["ok", "too few rows"], range=["#4c78a8", "white"]), title=""
        ),
        stroke=alt.value("#4c78a8"),
        tooltip=tooltip,
    )
    title = f"{metric} per window ({'slice' if pot.in_slice else 'all rows'})"
    return (band + line + points).properties(height=height, width=WIDTH, title=title)


def support_chart(pot: PerformanceOverTime, *, height: int = 170) -> alt.Chart:
    """Rows per window (labelled rows with the model's outputs); windows with too few rows in red."""
    d = pot.windows[["window", "label", "start"]].merge(
        pot.table.drop_duplicates("window")[["window", "support", "too_few"]], on="window", how="left"
    )
    d["flag"] = np.where(d["too_few"].fillna(True).astype(bool), "too few rows", "ok")
    return (
        alt.Chart(d)
        .mark_bar(opacity=0.7)
        .encode(
            x=_x_time(starts=d["start"]),
            y=alt.Y("support:Q", title="rows"),
            color=alt.Color(
                "flag:N",
                scale=alt.Scale(domain=["ok", "too few rows"], range=["#9ecae9", "#e45756"]),
                title="",
            ),
            tooltip=[
                alt.Tooltip("label:N", title="window"),
                alt.Tooltip("support:Q", title="rows", format=","),
            ],
        )
        .properties(height=height, width=WIDTH, title="Support: labelled rows per window")
    )


def rates_chart(pot: PerformanceOverTime, *, height: int = 280) -> alt.Chart:
    """Label rate vs prediction rate per window (regression: mean label vs mean prediction), with bands.

    Both lines moving together: the label distribution shifted (label shift). Only the prediction
    line moving: the model's outputs shifted (prediction shift / input drift)."""
    return rates_frame_chart(pot.rates, pot.task, height=height)


def rates_frame_chart(rates: pd.DataFrame, task: str, *, height: int = 280) -> alt.Chart:
    """``rates_chart`` of a ``PerformanceOverTime.rates`` frame (the engine's: ``explore.notebook`` builds it)."""
    d = rates.copy()
    title = "mean label vs mean prediction" if task == "regression" else "label rate vs predicted rate"
    y_title = "mean" if task == "regression" else "share of rows"
    # Classes in the model's order (0, 1, 2, …, 10; the rows list them so), not text order (0, 1, 10, 2, …).
    classes = list(pd.unique(d["class"]))
    if len(classes) > 1:
        # Twenty colours past ten classes (category10 repeats: class 0 and class 10 were one blue); opaque legend
        # symbols (the bands' 12 % opacity left class 1 invisible in it).
        scale = alt.Scale(scheme="category20" if len(classes) > 10 else "category10")
        legend = alt.Legend(symbolOpacity=1)
        color = band_color = alt.Color("class:N", title="class", sort=classes, scale=scale, legend=legend)
    else:
        color = band_color = alt.value("#4c78a8")
    base = alt.Chart(d).encode(x=_x_time("", d["start"]))
    band = base.mark_area(opacity=0.12).encode(
        y=alt.Y("ci_low:Q", title=y_title, scale=alt.Scale(zero=False)),
        y2="ci_high:Q",
        color=band_color,
        detail="series:N",
    )
    line = base.mark_line(point=True).encode(
        y="value:Q",
        color=color,
        strokeDash=alt.StrokeDash(
            "series:N", title="", scale=alt.Scale(domain=["label", "prediction"], range=[[1, 0], [5, 3]])
        ),
        tooltip=[
            alt.Tooltip("label:N", title="window"),
            "series:N",
            "class:N",
            alt.Tooltip("value:Q", format=".4f"),
            alt.Tooltip("support:Q", format=","),
        ],
    )
    # The class legend and the label / prediction legend (with their titles) fit beside the plot.
    entries = d["class"].nunique() + 4 if d["class"].nunique() > 1 else 3
    # FIT_X: the height is the plot's, so the legend beside it is not cut (it lost classes 10 and up, and the
    # label / prediction key, when the title and the axis counted in the height).
    return (band + line).properties(
        height=max(height, legend_height(entries)), width=WIDTH, title=title, autosize=FIT_X
    )


def staleness_chart(result: StalenessResult, *, value: str = "loss", height: int = 340) -> alt.LayerChart:
    """Metric (``value="stale"``) or staleness loss (``value="loss"``) against data age: one thin line per
    cutoff, the mean over cutoffs in bold with its min–max band, and the threshold as a rule."""
    if value not in ("stale", "loss"):
        raise ValueError(f"value must be 'stale' or 'loss'; received {value!r}")
    metric = result.params.metric
    unit = result.unit
    c = result.curves.copy()
    c["cutoff_name"] = "cutoff " + c["cutoff_label"].astype(str)
    s = result.summary.copy()
    y_title = f"{metric} lost vs a fresh model" if value == "loss" else f"{metric} of the stale model"
    x = alt.X(
        "age_windows:Q", title=f"data age ({unit}s since the training cutoff)", axis=alt.Axis(tickMinStep=1)
    )
    lines = (
        alt.Chart(c)
        .mark_line(opacity=0.55, strokeWidth=1.2, point=alt.OverlayMarkDef(size=18))
        .encode(
            x=x,
            y=alt.Y(f"{value}:Q", title=y_title, scale=alt.Scale(zero=False)),
            color=alt.Color("cutoff_name:N", title="training cutoff"),
            tooltip=[
                alt.Tooltip("cutoff_label:N", title="cutoff"),
                alt.Tooltip("window_label:N", title="window"),
                alt.Tooltip("age_windows:Q", title=f"age ({unit}s)"),
                alt.Tooltip("stale:Q", format=".4f"),
                alt.Tooltip("fresh:Q", format=".4f"),
                alt.Tooltip("loss:Q", format=".4f"),
                alt.Tooltip("support:Q", title="rows", format=","),
            ],
        )
    )
    lo, hi, mean = (
        ("loss_min", "loss_max", "loss_mean") if value == "loss" else ("stale_min", "stale_max", "stale_mean")
    )
    band = alt.Chart(s).mark_area(opacity=0.15, color="black").encode(x=x, y=f"{lo}:Q", y2=f"{hi}:Q")
    mean_line = (
        alt.Chart(s)
        .mark_line(color="black", strokeWidth=3)
        .encode(
            x=x,
            y=f"{mean}:Q",
            tooltip=[
                alt.Tooltip("age_windows:Q", title=f"age ({unit}s)"),
                alt.Tooltip(f"{mean}:Q", title="mean over cutoffs", format=".4f"),
                alt.Tooltip("n_cutoffs:Q", title="cutoffs"),
            ],
        )
    )
    layers = [band, lines, mean_line]
    show_rule = (value == "loss" and result.params.criterion == "gap") or (
        value == "stale" and result.params.criterion == "metric"
    )
    if show_rule:
        rule = (
            alt.Chart(pd.DataFrame({"y": [result.params.threshold]}))
            .mark_rule(color="#e45756", strokeDash=[6, 4])
            .encode(y="y:Q")
        )
        layers.append(rule)
    if value == "loss":
        layers.append(alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="gray").encode(y="y:Q"))
    title = (
        "Staleness gap: what not retraining costs"
        if value == "loss"
        else "Raw metric vs data age (mixes staleness with hard periods)"
    )
    return alt.layer(*layers).properties(height=height, width=WIDTH, title=title)


def calendar_chart(result: StalenessResult, *, height: int = 320) -> alt.LayerChart:
    """The metric per calendar window: each cutoff's stale model, and the fresh model of every window.

    Dips shared by the fresh line are hard periods (calendar difficulty), not staleness."""
    c = result.curves.copy()
    c["model"] = "trained to " + c["cutoff_label"].astype(str)
    fresh = c.drop_duplicates("window")[
        ["window", "window_start", "window_label", "fresh", "support"]
    ].rename(columns={"fresh": "value"})
    fresh["model"] = "fresh (retrained each window)"
    stale = c.rename(columns={"stale": "value"})[
        ["window", "window_start", "window_label", "value", "support", "model"]
    ]
    d = pd.concat([stale, fresh], ignore_index=True)
    metric = result.params.metric
    return (
        alt.Chart(d)
        .mark_line(point=alt.OverlayMarkDef(size=18))
        .encode(
            x=alt.X("window_start:T", title="window start"),
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
            color=alt.Color("model:N", title="model"),
            strokeWidth=alt.condition(
                alt.datum.model == "fresh (retrained each window)", alt.value(3), alt.value(1.3)
            ),
            tooltip=[
                "model:N",
                alt.Tooltip("window_label:N", title="window"),
                alt.Tooltip("value:Q", title=metric, format=".4f"),
                alt.Tooltip("support:Q", title="rows", format=","),
            ],
        )
        .properties(
            height=height, width=WIDTH, title=f"{metric} per calendar window: stale models vs a fresh one"
        )
    )


def drift_heatmap(
    drift: DriftResult,
    labels: list[str],
    *,
    measure: str = "psi",
    too_few: np.ndarray | None = None,
    max_cells: int = MAX_CELLS,
) -> alt.Chart:
    """Features × windows heatmap of one drift measure (PSI colours saturate at 0.5).

    Windows with too few rows are drawn faded. Only the most drifting features are kept when the
    grid would exceed ``max_cells`` cells (the title says how many)."""
    t = drift.table.copy()
    n_w = max(drift.n_windows, 1)
    features = list(drift.reference.features)
    keep_n = max(1, max_cells // n_w)
    if len(features) > keep_n:
        ranked = t.groupby("feature")[measure].max().sort_values(ascending=False)
        features = ranked.index[:keep_n].tolist()
        t = t[t["feature"].isin(features)]
    t["window_label"] = [labels[w] if w < len(labels) else str(w) for w in t["window"]]
    t["flag"] = (
        "ok"
        if too_few is None
        else np.where(np.asarray(too_few)[t["window"].to_numpy()], "too few rows", "ok")
    )
    order = t.groupby("feature")[measure].max().sort_values(ascending=False).index.tolist()
    domain_max = 0.5 if measure == "psi" else 1.0
    hidden = len(drift.reference.features) - len(features)
    title = f"{measure.upper() if measure != 'distance' else 'KS / JS distance'} per feature and window"
    if hidden:
        title += f" (top {len(features)} features of {len(drift.reference.features)})"
    return (
        alt.Chart(t)
        .mark_rect()
        .encode(
            x=alt.X(
                "window_label:O",
                title="window",
                sort=[labels[w] for w in range(min(len(labels), n_w))],
                axis=alt.Axis(labelAngle=-45, labelOverlap=True),
            ),
            y=alt.Y("feature:N", title="", sort=order),
            color=alt.Color(
                f"{measure}:Q",
                title=measure.upper() if measure == "psi" else measure,
                scale=alt.Scale(scheme="orangered", domain=[0, domain_max], clamp=True),
            ),
            opacity=alt.condition(alt.datum.flag == "ok", alt.value(1.0), alt.value(0.35)),
            tooltip=[
                "feature:N",
                alt.Tooltip("window_label:N", title="window"),
                alt.Tooltip("psi:Q", title="PSI", format=".3f"),
                alt.Tooltip("ks:Q", title="KS", format=".3f"),
                alt.Tooltip("js:Q", title="JS", format=".3f"),
                alt.Tooltip("p_value:Q", title="p-value", format=".2g"),
                alt.Tooltip("rows:Q", format=","),
                alt.Tooltip("missing_share:Q", title="missing", format=".1%"),
                alt.Tooltip("unseen_share:Q", title="unseen", format=".1%"),
                alt.Tooltip("flag:N", title=""),
            ],
        )
        # Streamlit fits axes and title inside the height: ~22 px per feature row plus room for them.
        .properties(width=WIDTH, height=max(200, 22 * len(order) + 130), title=title)
    )


def bucket_chart(buckets: BucketShares, *, window_label: str) -> alt.Chart:
    """Reference vs current share per bucket of one feature (from ``drift.bucket_shares``); ``window_label``
    names the window as the page does."""
    shares, feature = buckets.table, buckets.feature
    d = shares.melt(
        id_vars=["bucket", "order"], value_vars=["reference", "current"], var_name="data", value_name="share"
    )
    d = d[
        (d["share"] > 0)
        | d["bucket"].isin(shares.loc[(shares["reference"] > 0) | (shares["current"] > 0), "bucket"])
    ]
    return (
        alt.Chart(d)
        .mark_bar()
        .encode(
            y=alt.Y("bucket:N", sort=alt.SortField("order"), title=""),
            x=alt.X("share:Q", title="share of rows", axis=alt.Axis(format="%")),
            yOffset="data:N",
            color=alt.Color(
                "data:N",
                title="",
                scale=alt.Scale(domain=["reference", "current"], range=["#9ecae9", "#e45756"]),
            ),
            tooltip=["bucket:N", "data:N", alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(
            width=WIDTH,
            height=max(200, 34 * int(d["bucket"].nunique()) + 100),
            title=f"{feature}: reference vs {window_label}",
        )
    )


def invariants_chart(inv: InvariantsResult, labels: list[str]) -> alt.Chart:
    """Worst null-rate increase, out-of-range and unseen shares per window, with the thresholds as rules."""
    w = inv.by_window
    rows = []
    th = inv.thresholds
    for col, name, limit in (
        ("max_null_increase", "null rate increase", th.null_increase),
        ("max_out_of_range", "out of training range", th.out_of_range),
        ("max_unseen", "unseen categories", th.unseen),
    ):
        rows.append(pd.DataFrame({"window": w["window"], "check": name, "value": w[col], "threshold": limit}))
    d = pd.concat(rows, ignore_index=True)
    d["window_label"] = [labels[i] for i in d["window"]]
    base = alt.Chart(d)
    line = base.mark_line(point=True).encode(
        x=alt.X(
            "window_label:O", title="window", sort=labels, axis=alt.Axis(labelAngle=-45, labelOverlap=True)
        ),
        y=alt.Y(
            "value:Q", title="share (worst feature)", axis=alt.Axis(format="%"), scale=alt.Scale(domainMin=0)
        ),
        color=alt.Color("check:N", title=""),
        tooltip=[
            "check:N",
            alt.Tooltip("window_label:N", title="window"),
            alt.Tooltip("value:Q", format=".2%"),
            alt.Tooltip("threshold:Q", format=".2%"),
        ],
    )
    rule = base.mark_rule(strokeDash=[4, 4]).encode(y="threshold:Q", color="check:N")
    return (line + rule).properties(width=WIDTH, height=300, title="Invariants per window (worst feature)")


def time_to_stale_sentence(result: StalenessResult) -> str:
    """The estimate in words, e.g. "This model loses 2 points of ROC AUC against a freshly retrained model
    within ~3 months of its training data (median over 3 of 3 cutoffs; range 2–4 months)." Points are
    hundredths of the metric; other metrics are said in their own units ("its MAE is 160 worse …")."""
    e = result.estimate
    unit = e.unit
    metric = e.metric

    def ages(v: float) -> str:
        v = float(v)
        return f"{v:.0f} {unit}{'' if v == 1 else 's'}"

    if e.criterion == "gap":
        if metric in POINT_METRICS:
            what, past = (
                f"loses {abs(e.threshold) * 100:.3g} points of {metric} against a freshly retrained model",
                f"lost {abs(e.threshold) * 100:.3g} points of {metric} against a freshly retrained model",
            )
        else:
            what = f"is {abs(e.threshold):.4g} worse in {metric} than a freshly retrained model"
            past = f"was {abs(e.threshold):.4g} worse in {metric} than a freshly retrained model"
        subject = "This model"
    else:
        word, past_word = (
            ("falls below", "fell below") if e.higher_is_better else ("rises above", "rose above")
        )
        what, past = f"{word} {e.threshold:.4g} {metric}", f"{past_word} {e.threshold:.4g} {metric}"
        subject = "This model"
    if e.n_stale == 0:
        followed = (
            ""
            if math.isnan(e.censored_at_windows)
            else f" (followed for up to {ages(e.censored_at_windows)})"
        )
        return f"No training cutoff went stale: the model never {past} within the ages tested{followed}."
    spread = (
        f"range {e.low_windows:.0f}–{ages(e.high_windows)}"
        if e.low_windows != e.high_windows
        else f"every stale cutoff at {ages(e.low_windows)}"
    )
    censored = (
        ""
        if e.n_stale == e.n_cutoffs
        else f"; {e.n_cutoffs - e.n_stale} of {e.n_cutoffs} cutoffs never went stale within the ages tested"
    )
    age_text = "as soon as the next window" if e.median_windows == 0 else f"within ~{ages(e.median_windows)}"
    return (
        f"{subject} {what} {age_text} of its training data "
        f"(median over {e.n_stale} of {e.n_cutoffs} cutoffs; {spread}{censored})." + noise_caution(result)
    )


def noise_caution(result: StalenessResult) -> str:
    """A warning when the gap threshold is smaller than a window's typical 95 % interval half-width."""
    e = result.estimate
    if e.criterion != "gap" or math.isnan(e.noise) or e.threshold >= e.noise:
        return ""
    return (
        f" Caution: a window's {e.metric} is only known to about ±{e.noise:.3g} (95 % interval), more than the "
        f"threshold of {e.threshold:.3g}, so these ages are within noise; use longer windows or a larger threshold."
    )


_PART_COLORS = ["#4c78a8", "#9ecae9", "#f58518", "#54a24b"]


def estimate_chart(est: PerformanceEstimate, metric: str, *, height: int = 300) -> alt.LayerChart:
    """Estimated vs realised ``metric`` per window on one chart: each part of a window (realised on the
    labelled rows, estimated on them, estimated on the unlabelled rows, their combination) a line with its
    interval; estimates dashed. Windows without labels show the estimate alone."""
    d = est.series_all(metric)[
        ["window", "label", "start", "part", "value", "ci_low", "ci_high", "rows", "note"]
    ]
    d = d.assign(kind=np.where(d["part"] == PART_REALISED, "realised", "estimated"))
    parts = [p for p in PARTS if p in set(d["part"])]
    color = alt.Color(
        "part:N",
        title="",
        scale=alt.Scale(domain=list(PARTS), range=_PART_COLORS),
        legend=alt.Legend(orient="bottom"),
    )
    base = alt.Chart(vega_safe(d)).encode(x=_x_time("", d["start"]))
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("ci_low:Q", title=metric, scale=alt.Scale(zero=False)), y2="ci_high:Q", color=color
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("value:Q", title=metric),
        color=color,
        strokeDash=alt.StrokeDash(
            "kind:N", title="", scale=alt.Scale(domain=["realised", "estimated"], range=[[1, 0], [5, 3]])
        ),
        tooltip=[
            alt.Tooltip("label:N", title="window"),
            alt.Tooltip("part:N"),
            alt.Tooltip("value:Q", title=metric, format=".4f"),
            alt.Tooltip("ci_low:Q", title="CI low", format=".4f"),
            alt.Tooltip("ci_high:Q", title="CI high", format=".4f"),
            alt.Tooltip("rows:Q", format=","),
            alt.Tooltip("note:N"),
        ],
    )
    title = f"{metric}: estimated from the scores vs realised ({len(parts)} kinds of figure)"
    return (band + line).properties(height=height, width=WIDTH, title=title)


def reliability_chart(cal: CalibrationResult, *, height: int = 300) -> alt.LayerChart:
    """Reliability curve on the reference: mean predicted probability vs observed frequency per bin, raw
    scores and calibrated (out of fold), against the diagonal of perfect calibration."""
    d = cal.reliability
    diagonal = (
        alt.Chart(pd.DataFrame({"predicted": [0.0, 1.0], "observed": [0.0, 1.0]}))
        .mark_line(color="#999", strokeDash=[4, 4])
        .encode(x="predicted:Q", y="observed:Q")
    )
    curve = (
        alt.Chart(d)
        .mark_line(point=True)
        .encode(
            x=alt.X("predicted:Q", title="mean predicted probability", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("observed:Q", title="observed frequency", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("stage:N", title="", legend=alt.Legend(orient="bottom")),
            tooltip=[
                "stage:N",
                alt.Tooltip("predicted:Q", format=".3f"),
                alt.Tooltip("observed:Q", format=".3f"),
                alt.Tooltip("rows:Q", format=","),
            ],
        )
    )
    title = f"Reliability on the reference ({cal.n_reference:,} rows; ECE {cal.ece_raw:.3f} raw, {cal.ece:.3f} calibrated)"
    return (diagonal + curve).properties(height=height, width=WIDTH, title=title)
