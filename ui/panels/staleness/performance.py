"""Performance over time: the chosen metrics per window, support, label and prediction rates."""

from __future__ import annotations

import streamlit as st

from explore.core import roles
from explore.engine import charts as engine_charts
from explore.staleness import charts, choices, tables, windows
from explore.staleness.layout import WindowSpec
from ui import engine_cached, evidence, state
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .downloads import csv_download

RATES_CAPTION = (
    "Label and prediction rates together tell label shift (both lines move) from prediction shift "
    "(only the prediction line moves)."
)


@st.fragment
def performance_section(ctx: PageContext, spec: WindowSpec) -> None:
    st.subheader("Performance over time")
    if ctx.out_of_core:
        _engine_performance(ctx, spec)
        return
    sc = cached.scored_all(ctx.ws, spec.datasets, ctx.model_name)
    if sc.model_name is None:
        st.caption("Predictions-only mode: the metrics use the prediction columns of the data.")
    options = choices.performance_metrics(sc)
    chosen = st.multiselect(
        "Metrics",
        options,
        default=choices.default_metrics(sc.task, options),
        key="staleness_metrics",
        max_selections=4,
    )
    current = state.current_slice()
    in_slice = None
    if not current.is_everything and st.checkbox(
        f"Only the current slice: {md_text(current.describe())}", key="staleness_in_slice"
    ):
        in_slice = current
    if not chosen:
        st.info("Choose at least one metric.")
        return
    w = cached.time_windows(ctx.ws, spec)
    note = windows.in_sample_note(
        w.labels, cached.window_datasets(ctx.ws, spec), roles.training_dataset(ctx.ws)
    )
    if note:
        say("info", note, icon=":material/info:")
    with shown_errors(stop=False), st.spinner("Computing metrics per window…"):
        pot = cached.performance(ctx.ws, spec, ctx.model_name, tuple(chosen), in_slice)
        st.session_state["staleness_pot_metric"] = chosen[0]  # the metric drift tracking follows
        for metric in chosen:
            st.altair_chart(charts.performance_chart(pot, metric), width="stretch")
        st.altair_chart(charts.support_chart(pot), width="stretch")
        st.altair_chart(charts.rates_chart(pot), width="stretch")
        st.caption(RATES_CAPTION)
        # The table and its download carry every metric, not only the charted ones.
        pot_all = cached.performance(ctx.ws, spec, ctx.model_name, tuple(options), in_slice)
        table = tables.performance_table(pot_all, cached.window_datasets(ctx.ws, spec))
        with st.expander("Table (every metric)"):
            st.dataframe(table, hide_index=True)
        cols = st.columns(2)
        csv_download(
            cols[0], "Metrics per window (CSV)", table, "performance_over_time.csv", key="staleness_dl_perf"
        )
        csv_download(
            cols[1],
            "Label / prediction rates (CSV)",
            pot.rates,
            "rates_over_time.csv",
            key="staleness_dl_rates",
        )
        evidence.attach_button(
            kind="performance_over_time",
            tests=["monitor-7"],
            title=f"Performance over time ({', '.join(chosen)}, by {spec.by})",
            params={
                "datasets": list(spec.datasets),
                "by": spec.by,
                "metrics": chosen,
                "slice": in_slice.to_json() if in_slice is not None else "",
            },
            result={"rows": tables.records(pot.table[tables.PERFORMANCE_EVIDENCE_COLUMNS])},
            dataset=ctx.dataset if len(spec.datasets) == 1 else None,
            key="staleness_evidence_perf",
        )


def engine_unit(spec: WindowSpec) -> str:
    """The windows of an out-of-core dataset: the page's calendar period, or equal rows (``rows``; the engine
    ranks every row by time once)."""
    return spec.by if spec.by in ("month", "week", "day", "quarter", "rows") else "month"


def engine_windows_text(spec: WindowSpec, unit: str) -> str:
    """How the windows were cut, for the captions: calendar periods or equal row counts."""
    return f"{spec.n_windows} windows of equal row counts" if unit == "rows" else f"calendar {unit}"


def _engine_performance(ctx: PageContext, spec: WindowSpec) -> None:
    unit = engine_unit(spec)
    with shown_errors(stop=False), st.spinner("Querying every row…"):
        result = engine_cached.performance(ctx.ws, ctx.dataset, unit, spec.n_windows)
        table = result.table
        st.caption(
            f"Every row of '{md_text(ctx.dataset)}' by {engine_windows_text(spec, unit)}, computed by the engine; 95 % intervals."
        )
        if note := engine_cached.approximation_note(table):
            st.caption(md_text(note))
        metrics = list(dict.fromkeys(table["metric"]))
        chosen = st.multiselect(
            "Metrics", metrics, default=metrics[:2], key="staleness_metrics", max_selections=4
        )
        for metric in chosen:
            st.altair_chart(engine_charts.metric_over_time_chart(result, metric), width="stretch")
        rates = engine_cached.rates(ctx.ws, ctx.dataset, unit, spec.n_windows)
        st.altair_chart(charts.rates_frame_chart(rates, ctx.ws.task), width="stretch")
        st.caption(RATES_CAPTION)
        wide = table.assign(window=result.key("window")).pivot(
            index="window", columns="metric", values="value"
        )
        with st.expander("Table (every metric)"):
            st.dataframe(wide)
        cols = st.columns(2)
        csv_download(
            cols[0], "Metrics per window (CSV)", table, "performance_over_time.csv", key="staleness_dl_perf"
        )
        csv_download(
            cols[1], "Label / prediction rates (CSV)", rates, "rates_over_time.csv", key="staleness_dl_rates"
        )
