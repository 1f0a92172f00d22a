"""Drift per feature: every feature in every window against a reference, and whose drift follows the
performance drop."""

from __future__ import annotations

import streamlit as st

from explore.engine import charts as engine_charts
from explore.staleness import charts, choices, reference, tables
from explore.staleness.drift import bucket_shares
from explore.staleness.layout import WindowSpec
from ui import engine_cached
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .downloads import csv_download

REFERENCE = "staleness_reference"  # widget key: the reference, read by the invariants section too
# An out-of-core log's drift and invariants read every value of every feature (at 100M rows × 20 features about
# a minute of two cores): above this many values (rows × features) they wait for the user's button instead of
# running when the page opens, so the page's first view is the performance over time only.
ON_LOAD_VALUES = 50_000_000


# The exact drift matrix's wall time per value (rows × features) on two idle cores: 55.7 s at 100M rows × 20
# features (benchmarks/bench_engine.py --only drift, docs/scale.md) — what the "every row" button announces.
EXACT_DRIFT_SECONDS_PER_VALUE = 55.7 / 2e9


def engine_pass_asked(ctx: PageContext, what: str, key: str, params: tuple, reads: str | None = None) -> bool:
    """Whether an engine analysis that reads every feature of every row should run now: small logs at once,
    big ones once the user pressed its button for these ``params`` (kept in session state under ``key``; the
    result is cached, so later views of the same parameters show it at once). ``reads``: what it reads and how
    long that takes, when not every value (about a minute per 100 million rows)."""
    n_rows = ctx.ws.samples[ctx.dataset].total
    n_features = len(params[-1])  # the features are the parameters' last item
    if n_rows * n_features <= ON_LOAD_VALUES or st.session_state.get(key) == params:
        return True
    reads = reads or (
        f"reads every value of {n_features} features in all {n_rows:,} rows of '{ctx.dataset}' (about a minute "
        "per 100 million rows on two cores)"
    )
    st.caption(md_text(f"{what} {reads}, so it runs when you ask."))
    if st.button(
        md_text(f"Compute {what.lower()}"), key=f"{key}_run", type="primary", icon=":material/play_arrow:"
    ):
        st.session_state[key] = params
        return True
    return False


@st.fragment
def drift_section(ctx: PageContext, spec: WindowSpec) -> None:
    st.subheader("Drift per feature")
    st.caption(
        "PSI (10 bins at the reference's quantiles, plus unseen and missing buckets; < 0.1 stable, 0.1–0.25 moderate, "
        "> 0.25 large), KS distance for numeric and Jensen–Shannon distance for categorical features. On large data every "
        "p-value is ~0, so judge by the effect size; p-values are in the table."
    )
    if ctx.out_of_core:
        _engine_drift(ctx, spec)
        return
    ws = ctx.ws
    windows = cached.time_windows(ws, spec)
    c1, c2 = st.columns([2, 1])
    options = reference.reference_options(ws, windows)
    ref = c1.selectbox(
        "Reference",
        options,
        index=options.index(reference.default_reference(ws)),
        key=REFERENCE,
        help="Drift and invariants compare each window with this data (usually the training data).",
    )
    measure = c2.radio(
        "Heatmap",
        ["psi", "distance"],
        horizontal=True,
        key="staleness_measure",
        format_func={"psi": "PSI", "distance": "KS / JS distance"}.get,
    )
    with shown_errors(stop=False), st.spinner("Comparing features with the reference…"):
        dr = cached.drift(ws, spec, ref)
        st.altair_chart(
            charts.drift_heatmap(dr, windows.labels, measure=measure, too_few=windows.too_few),
            width="stretch",
        )
        metric = st.session_state.get("staleness_pot_metric") or choices.MAIN_METRICS[ws.task][0]
        tracking = cached.drift_tracking(ws, spec, ctx.model_name, ref, metric)
        if tracking.reason:
            st.caption(md_text(f"Drift vs {metric}: {tracking.reason}"))
        top = tables.top_drifting(dr, tracking, windows.labels, n=len(ws.feature_names))
        st.markdown(
            "**Top drifting features** (largest PSI over windows; the correlation columns say whose drift follows the performance drop)"
        )
        st.dataframe(top.head(tables.TOP_DRIFTING_SHOWN), hide_index=True)
        with st.expander("Drill down: one feature in one window"):
            d1, d2 = st.columns(2)
            feature = d1.selectbox("Feature", top["feature"].tolist(), key="staleness_drill_feature")
            window = d2.selectbox(
                "Window",
                list(range(windows.n_windows)),
                index=windows.n_windows - 1,
                format_func=lambda i: windows.labels[i],
                key="staleness_drill_window",
            )
            st.altair_chart(
                charts.bucket_chart(bucket_shares(dr, feature, window), window_label=windows.labels[window]),
                width="stretch",
            )
        csv_download(
            st,
            "Drift per feature and window (CSV)",
            tables.drift_table(dr, windows.labels),
            "drift.csv",
            key="staleness_dl_drift",
        )


def _ask_exact(key: str, params: tuple) -> None:
    """The button's callback: the next run of the section computes these parameters' drift on every row."""
    st.session_state[key] = params


def _seconds(s: float) -> str:
    return f"{max(s, 1):.0f} s" if s < 90 else f"{s / 60:.0f} min"


def _engine_drift(ctx: PageContext, spec: WindowSpec) -> None:
    from explore.engine.drift import DRIFT_EXACT_ROWS

    from .performance import engine_unit, engine_windows_text

    unit = engine_unit(spec)
    features = tuple(f for f in ctx.ws.feature_names if f != ctx.ws.columns.time)
    n_rows = ctx.ws.samples[ctx.dataset].total
    params = (ctx.dataset, unit, spec.n_windows, features)
    reads = None
    spark = (
        getattr(ctx.ws.config.engine_sources.get(ctx.dataset), "engine", "") == "spark"
    )  # Spark reads every row
    if n_rows > DRIFT_EXACT_ROWS and not spark:
        reads = (
            f"reads {len(features)} features of all {n_rows:,} rows of '{ctx.dataset}' and measures them on a "
            "uniform sample of the rows (about 10 to 20 s per 100 million rows on two cores)"
        )
    if not engine_pass_asked(ctx, "Drift per feature", "staleness_engine_drift", params, reads):
        return
    exact_key = "staleness_engine_drift_exact"
    exact = st.session_state.get(exact_key) == params
    measure = st.radio("Heatmap", ["psi", "distance"], horizontal=True, key="staleness_heatmap")
    with (
        shown_errors(stop=False),
        st.spinner("Querying a sample of the rows…" if reads and not exact else "Querying every row…"),
    ):
        result, sample = engine_cached.drift(ctx.ws, ctx.dataset, unit, spec.n_windows, features, exact)
        table = result.table
        against = f"against the first {'window' if unit == 'rows' else unit}"
        if sample is None:
            st.caption(
                f"Every row of '{md_text(ctx.dataset)}' by {engine_windows_text(spec, unit)}, {against}, computed by the engine "
                "(histograms and KS from engine counts in one pass; `ks_method` says whether KS is exact or on a grid of "
                "equal cells of the reference range, a lower bound within one cell's share)."
            )
        else:
            st.caption(
                md_text(
                    f"{sample.sentence()} Windows: {engine_windows_text(spec, unit)} of '{ctx.dataset}', {against} "
                    f"(its sampled rows: {sample.reference_rows:,}); rows kept by a hash of their place in the files, "
                    "so the same files give the same sample every time. A p-value here is that of the sample's rows."
                )
            )
            estimate = n_rows * len(features) * EXACT_DRIFT_SECONDS_PER_VALUE
            st.button(
                md_text(f"Compute on every row (≈ {_seconds(estimate)})"),
                key="staleness_engine_drift_exact_run",
                icon=":material/all_inclusive:",
                help="The exact matrix: every value of every feature, bucketed and counted by the engine.",
                on_click=_ask_exact,
                args=(exact_key, params),
            )
        st.altair_chart(engine_charts.drift_heatmap(result, measure), width="stretch")
        with st.expander("Table"):
            st.dataframe(table, hide_index=True)
        csv_download(st, "Drift per feature and window (CSV)", table, "drift.csv", key="staleness_dl_drift")
