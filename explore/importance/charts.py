"""Importance results → Altair charts (pure functions; each chart stays under ~5,000 marks)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from explore.core.chart_data import FIT_X, chart_text, legend_height
from explore.importance.explain import (
    DropColumnResult,
    PermutationCheck,
    ShapExplanation,
    SliceComparison,
    WaterfallSteps,
    importance_table,
)

MAX_POINTS = 4000
NO_PERCENTILE_COLOR = "#9d9d9d"  # a beeswarm dot of a category or a missing value
POSITIVE_COLOR = "#d6604d"  # pushes the output up
NEGATIVE_COLOR = "#4393c3"  # pushes it down


def _value_text(v: object) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return "missing"
    if isinstance(v, float | np.floating):
        return f"{float(v):.4g}"
    return str(chart_text(str(v)))  # a 10 MB cell is cut for the chart (tables keep it whole)


def _units_title(expl: ShapExplanation, what: str = "SHAP") -> str:
    return f"{what} ({expl.units})"


def importance_bars(expl: ShapExplanation, *, top: int = 20) -> alt.Chart:
    """Mean |SHAP| per raw feature, most important on top; multiclass bars are stacked by class (their sum is the
    overall importance)."""
    table = importance_table(expl).head(top)
    order = table["feature"].tolist()
    if expl.n_outputs > 1:
        cols = [f"mean_abs_shap[{n}]" for n in expl.output_names]
        long = table.melt(
            id_vars=["feature", "mean_abs_shap", "share"],
            value_vars=cols,
            var_name="class",
            value_name="class_mean_abs",
        )
        long["class"] = long["class"].str.slice(len("mean_abs_shap["), -1)
        return (
            alt.Chart(long)
            .mark_bar()
            .encode(
                x=alt.X(
                    "class_mean_abs:Q",
                    stack="zero",
                    title=f"mean |SHAP| ({expl.units}), stacked over classes",
                ),
                y=alt.Y("feature:N", sort=order, title=None),
                # The model's class order (0, 1, 2, …, 10), not text order (0, 1, 10, 2, …).
                # Twenty colours past ten classes: category10 gave class 0 and class 10 one blue.
                color=alt.Color(
                    "class:N",
                    title="class",
                    sort=[str(n) for n in expl.output_names],
                    scale=alt.Scale(scheme="category20" if expl.n_outputs > 10 else "category10"),
                ),
                tooltip=[
                    alt.Tooltip("feature:N"),
                    alt.Tooltip("class:N"),
                    alt.Tooltip("class_mean_abs:Q", title="mean |SHAP| for the class", format=".4g"),
                    alt.Tooltip("mean_abs_shap:Q", title="overall (Σ classes)", format=".4g"),
                    alt.Tooltip("share:Q", title="share of total", format=".1%"),
                ],
            )
            # 22 px a feature, the plot's own height (FIT_X), and tall enough for the class legend beside it.
            .properties(
                height=max(120, 22 * len(order), legend_height(expl.n_outputs)),
                title="Global importance",
                autosize=FIT_X,
            )
        )
    return (
        alt.Chart(table)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("mean_abs_shap:Q", title=f"mean |SHAP| ({expl.units})"),
            y=alt.Y("feature:N", sort=order, title=None),
            tooltip=[
                alt.Tooltip("feature:N"),
                alt.Tooltip("mean_abs_shap:Q", title="mean |SHAP|", format=".4g"),
                alt.Tooltip("mean_shap:Q", title="mean SHAP (signed)", format=".4g"),
                alt.Tooltip("share:Q", title="share of total", format=".1%"),
                alt.Tooltip("n_columns:Q", title="model columns summed"),
            ],
        )
        .properties(height=max(120, 22 * len(order)), title="Global importance", autosize=FIT_X)
    )


def _round_sig(x: np.ndarray, digits: int = 4) -> np.ndarray:
    """Round to ``digits`` significant digits (relative to the largest value), keeping chart specs small."""
    x = np.asarray(x, dtype="float64")
    finite = np.abs(x[np.isfinite(x)])
    top = finite.max() if finite.size else 0.0
    decimals = digits - 1 - int(np.floor(np.log10(top))) if top > 0 else digits
    return np.round(x, max(decimals, 0))


def _percentile(values: pd.Series) -> np.ndarray:
    """Within-feature percentile rank of numeric values (0..1), NaN for missing or non-numeric."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float).to_numpy()
    if not pd.api.types.is_numeric_dtype(values.dtype):
        return np.full(len(values), np.nan)
    x = pd.to_numeric(values, errors="coerce")
    return x.rank(pct=True).to_numpy(dtype="float64", na_value=np.nan)


def _jitter(n: int, seed: int) -> np.ndarray:
    return np.round(np.random.default_rng(seed).uniform(-0.38, 0.38, n), 3)


def _rows_with_extremes(n: int, size: int, magnitude: np.ndarray, seed: int) -> np.ndarray:
    """``size`` of ``n`` rows to draw, sorted: about ``size // 20`` rows of largest ``magnitude`` (|SHAP|; with
    one column per feature, each feature's largest) and a random sample of the others. A uniform sample alone
    dropped the few huge values of a heavy-tailed target, so a beeswarm's axis ended at a tenth of the dependence
    plot's for the same feature."""
    if size >= n:
        return np.arange(n)
    mag = np.nan_to_num(np.asarray(magnitude, dtype="float64").reshape(n, -1), nan=-np.inf)
    per_column = max(1, size // (20 * mag.shape[1]))
    extreme = np.unique(np.argsort(-mag, axis=0, kind="stable")[:per_column].ravel())[:size]
    rest = np.setdiff1d(np.arange(n), extreme)
    sampled = np.random.default_rng(seed).choice(rest, size=size - len(extreme), replace=False)
    return np.sort(np.concatenate([extreme, sampled]))


def beeswarm(
    expl: ShapExplanation,
    *,
    output: int | str = 0,
    top: int = 12,
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> alt.Chart:
    """SHAP values of the top features, one point per (row, feature), coloured by the feature's value (its
    percentile within the rows; grey for categories and missing values). Rows are subsampled to ``max_points``
    points, keeping the rows of largest |SHAP| (the axis spans every explained row)."""
    k = expl.output_index(output)
    table = importance_table(expl).head(top)
    features = table["feature"].tolist()
    n_rows = expl.sample_size
    per_feature = max(1, min(n_rows, max_points // max(len(features), 1)))
    cols = [expl.feature_index(f) for f in features]
    rows = _rows_with_extremes(n_rows, per_feature, np.abs(expl.values[:, cols, k]), seed)
    parts = []
    for f in features:
        j = expl.feature_index(f)
        vals = expl.data.iloc[rows, j]
        parts.append(
            pd.DataFrame(
                {
                    "feature": f,
                    "shap": _round_sig(expl.values[rows, j, k], 5),
                    "percentile": np.round(_percentile(vals), 3),
                    "value": [_value_text(v) for v in vals],
                    "id": [_value_text(i) for i in expl.ids[rows]],
                    "jitter": _jitter(len(rows), seed + j),
                }
            )
        )
    data = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["feature", "shap", "percentile", "value", "id", "jitter"])
    )
    output_name = f" — output {expl.output_names[k]}" if expl.n_outputs > 1 else ""
    base = alt.Chart(data).encode(
        x=alt.X("shap:Q", title=_units_title(expl)),
        y=alt.Y("feature:N", sort=features, title=None),
        yOffset=alt.YOffset("jitter:Q", scale=alt.Scale(domain=[-0.5, 0.5]), title=None),
        tooltip=[
            alt.Tooltip("feature:N"),
            alt.Tooltip("value:N", title="value"),
            alt.Tooltip("shap:Q", title="SHAP", format=".4g"),
            alt.Tooltip("id:N", title="row id"),
        ],
    )
    coloured = (
        base.transform_filter("isValid(datum.percentile) && isFinite(datum.percentile)")
        .mark_circle(size=14, opacity=0.65)
        .encode(
            color=alt.Color(
                "percentile:Q",
                title="feature value (percentile)",
                scale=alt.Scale(scheme="redblue", reverse=True, domain=[0, 1]),
            )
        )
    )
    # Categories and missing values in grey, as their own layer: a null in the colour field drew no dot at all
    # (Vega-Lite filters invalid values of a continuous scale), so a pipeline's one-hot categories — Adult's
    # education, its top feature — had empty rows.
    grey = base.transform_filter("!isValid(datum.percentile) || !isFinite(datum.percentile)").mark_circle(
        size=14, opacity=0.65, color=NO_PERCENTILE_COLOR
    )
    return alt.layer(coloured, grey).properties(
        height=max(160, 34 * len(features)), title=f"SHAP value distribution{output_name}", autosize=FIT_X
    )


def dependence(
    expl: ShapExplanation,
    feature: str,
    *,
    color: str | None = None,
    output: int | str = 0,
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> alt.Chart:
    """SHAP of ``feature`` against its value, coloured by ``color`` (another feature) when given."""
    k = expl.output_index(output)
    j = expl.feature_index(feature)
    rows = _rows_with_extremes(expl.sample_size, max_points, np.abs(expl.values[:, j, k]), seed)
    x = expl.data.iloc[rows, j]
    numeric = pd.api.types.is_numeric_dtype(x.dtype) and not pd.api.types.is_bool_dtype(x.dtype)
    data = pd.DataFrame(
        {"shap": _round_sig(expl.values[rows, j, k], 5), "id": [_value_text(i) for i in expl.ids[rows]]}
    )
    if numeric:
        data["x"] = pd.to_numeric(x, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        x_enc = alt.X("x:Q", title=feature, scale=alt.Scale(zero=False))
    else:
        data["x"] = [_value_text(v) for v in x]
        x_enc = alt.X("x:N", title=feature, sort="-y")
    data["value"] = [_value_text(v) for v in x]
    tooltip = [
        alt.Tooltip("value:N", title=feature),
        alt.Tooltip("shap:Q", title="SHAP", format=".4g"),
        alt.Tooltip("id:N", title="row id"),
    ]
    enc: dict = {"x": x_enc, "y": alt.Y("shap:Q", title=f"SHAP of {feature} ({expl.units})")}
    if not numeric:
        data["jitter"] = _jitter(len(data), seed)
        enc["xOffset"] = alt.XOffset("jitter:Q", scale=alt.Scale(domain=[-0.5, 0.5]))
    if color and color != feature:
        c = expl.data.iloc[rows, expl.feature_index(color)]
        c_numeric = pd.api.types.is_numeric_dtype(c.dtype) and not pd.api.types.is_bool_dtype(c.dtype)
        data["color_text"] = [_value_text(v) for v in c]
        if c_numeric:
            data["color"] = pd.to_numeric(c, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            enc["color"] = alt.Color("color:Q", title=color, scale=alt.Scale(scheme="redblue", reverse=True))
        else:
            top = pd.Series(data["color_text"]).value_counts().index[:9]
            data["color"] = np.where(pd.Series(data["color_text"]).isin(top), data["color_text"], "other")
            enc["color"] = alt.Color("color:N", title=color)
        tooltip.append(alt.Tooltip("color_text:N", title=color))
    enc["tooltip"] = tooltip
    rule = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#999", strokeDash=[4, 3]).encode(y="y:Q")
    points = alt.Chart(data).mark_circle(size=22, opacity=0.6).encode(**enc)
    return alt.layer(rule, points).properties(height=340, title=f"Dependence: {feature}")


def waterfall(steps: WaterfallSteps, *, title: str = "Local explanation") -> alt.Chart:
    """A waterfall from ``waterfall_steps``: base value, each contribution as a bar from its running start to end,
    the rest of the features in one bar, and the model's output."""
    units = steps.units
    data = steps.to_frame()
    data["order"] = np.arange(len(data))
    data["direction"] = np.where(
        data["kind"].isin(["base", "output"]),
        "value",
        np.where(data["contribution"] >= 0, "raises", "lowers"),
    )
    data["value_text"] = [
        _value_text(v) if k == "feature" else "" for v, k in zip(data["value"], data["kind"], strict=True)
    ]
    data["label_text"] = [
        f"{lab} = {vt}" if vt else lab for lab, vt in zip(data["label"], data["value_text"], strict=True)
    ]
    data = data.drop(columns=["value"])
    order = data["label_text"].tolist()
    color = alt.Color(
        "direction:N",
        title=None,
        scale=alt.Scale(domain=["raises", "lowers", "value"], range=[POSITIVE_COLOR, NEGATIVE_COLOR, "#555"]),
    )
    bars = (
        alt.Chart(data[data["kind"].isin(["feature", "rest"])])
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title=units, scale=alt.Scale(zero=False)),
            x2="end:Q",
            y=alt.Y("label_text:N", sort=order, title=None),
            color=color,
            tooltip=[
                alt.Tooltip("label:N", title="feature"),
                alt.Tooltip("value_text:N", title="value"),
                alt.Tooltip("contribution:Q", title=f"contribution ({units})", format="+.4g"),
                alt.Tooltip("end:Q", title="running total", format=".4g"),
            ],
        )
    )
    ends = (
        alt.Chart(data[data["kind"].isin(["base", "output"])])
        .mark_tick(thickness=3, size=18)
        .encode(
            x="end:Q",
            y=alt.Y("label_text:N", sort=order),
            color=color,
            tooltip=[alt.Tooltip("label:N"), alt.Tooltip("end:Q", title=units, format=".4g")],
        )
    )
    return alt.layer(bars, ends).properties(height=max(160, 26 * len(data)), title=title, autosize=FIT_X)


def slice_vs_rest_bars(comparison: SliceComparison, *, top: int = 15) -> alt.Chart:
    """Mean |SHAP| per feature inside the slice and in the rest of the rows, side by side."""
    imp = comparison.importance.head(top)
    order = imp["feature"].tolist()
    long = imp.melt(
        id_vars=["feature", "ratio"],
        value_vars=["slice_mean_abs", "rest_mean_abs"],
        var_name="where",
        value_name="mean_abs",
    )
    long["where"] = long["where"].map({"slice_mean_abs": "slice", "rest_mean_abs": "rest"})
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("mean_abs:Q", title=f"mean |SHAP| ({comparison.units})"),
            y=alt.Y("feature:N", sort=order, title=None),
            yOffset=alt.YOffset("where:N", sort=["slice", "rest"]),
            color=alt.Color(
                "where:N",
                title=None,
                sort=["slice", "rest"],
                scale=alt.Scale(domain=["slice", "rest"], range=["#e45756", "#9d9d9d"]),
            ),
            tooltip=[
                alt.Tooltip("feature:N"),
                alt.Tooltip("where:N"),
                alt.Tooltip("mean_abs:Q", title="mean |SHAP|", format=".4g"),
                alt.Tooltip("ratio:Q", title="slice / rest", format=".2f"),
            ],
        )
        .properties(
            height=max(140, 30 * len(order)),
            title=f"Importance: {comparison.description} vs the rest",
            autosize=FIT_X,
        )
    )


def permutation_vs_shap(check: PermutationCheck) -> alt.Chart:
    """Both importances per feature, each scaled to its own maximum, side by side (ordered by SHAP)."""
    t = check.table.copy()
    shap_max = t["shap_mean_abs"].max()
    perm_max = t["perm_mean"].abs().max()
    t["SHAP (mean |SHAP|)"] = t["shap_mean_abs"] / shap_max if shap_max > 0 else 0.0
    t["permutation"] = t["perm_mean"] / perm_max if perm_max > 0 else 0.0
    order = t["feature"].tolist()
    long = t.melt(
        id_vars=["feature", "shap_rank", "perm_rank", "perm_mean", "perm_std"],
        value_vars=["SHAP (mean |SHAP|)", "permutation"],
        var_name="method",
        value_name="relative",
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("relative:Q", title="importance relative to the method's largest"),
            y=alt.Y("feature:N", sort=order, title=None),
            yOffset=alt.YOffset("method:N"),
            color=alt.Color("method:N", title=None),
            tooltip=[
                alt.Tooltip("feature:N"),
                alt.Tooltip("method:N"),
                alt.Tooltip("shap_rank:Q", title="SHAP rank"),
                alt.Tooltip("perm_rank:Q", title="permutation rank"),
                alt.Tooltip("perm_mean:Q", title=f"permutation: {check.scoring}", format=".4g"),
                alt.Tooltip("perm_std:Q", title="± std over repeats", format=".3g"),
            ],
        )
        .properties(height=max(140, 30 * len(order)), title="SHAP vs permutation importance", autosize=FIT_X)
    )


def drop_column_chart(result: DropColumnResult) -> alt.Chart:
    """Benefit of each feature (metric lost when it is neutralised) with its confidence interval; 0 = no benefit."""
    t = result.table.drop(columns=["fold_benefits"], errors="ignore").copy()
    order = t["feature"].tolist()
    t["helps"] = np.where(t["ci_low"] > 0, "helps", np.where(t["ci_high"] < 0, "hurts", "unclear"))
    color = alt.Color(
        "helps:N",
        title=None,
        scale=alt.Scale(domain=["helps", "unclear", "hurts"], range=["#54a24b", "#9d9d9d", "#e45756"]),
    )
    base = alt.Chart(t).encode(y=alt.Y("feature:N", sort=order, title=None))
    ci = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title=f"benefit ({result.metric} change when neutralised)"),
        x2="ci_high:Q",
        color=color,
    )
    point = base.mark_point(filled=True, size=70).encode(
        x="benefit:Q",
        color=color,
        tooltip=[
            alt.Tooltip("feature:N"),
            alt.Tooltip("benefit:Q", format="+.4g"),
            alt.Tooltip("ci_low:Q", title=f"{result.confidence:.0%} CI low", format="+.4g"),
            alt.Tooltip("ci_high:Q", title=f"{result.confidence:.0%} CI high", format="+.4g"),
            alt.Tooltip("baseline:Q", title=f"baseline {result.metric}", format=".4g"),
            alt.Tooltip("neutralised:Q", title=f"{result.metric} without it", format=".4g"),
        ],
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(color="#666", strokeDash=[4, 3]).encode(x="x:Q")
    return alt.layer(zero, ci, point).properties(
        height=max(120, 30 * len(order)), title="Drop-column importance", autosize=FIT_X
    )
