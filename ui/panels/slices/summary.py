"""Slice vs rest vs all rows: the headline metrics, the comparison table with intervals, its chart, the CSV and
the evidence button."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.report.csv import csv_bytes
from explore.slices import charts, report
from explore.slices.comparison import SliceRows, positives_in, single_true_class
from explore.slices.definition import SliceDefinition
from explore.stats.metrics import BOOTSTRAP_MAX_ROWS
from ui import engine_cached, evidence
from ui.boundary import say, shown_errors
from ui.context import PageContext

from . import cached
from .cached import CONFIDENCE

ONE_ROW = "A one-row slice: metrics are shown, but intervals and rankings need more rows."
COMPARISON_COLUMNS = [
    "metric",
    "overall",
    "slice",
    "slice_low",
    "slice_high",
    "rest",
    "gap",
    "p_worse",
    "slice_support",
    "method",
    "note",
]


def summary_section(ctx: PageContext, sd: SliceDefinition, focus: SliceRows | None) -> None:
    """The slice ``sd`` against the rest and every row. ``focus``: its rows in the scored data; None while an
    out-of-core dataset's sample is drawn (the engine's report needs none; a slice without rows stops the page)."""
    st.subheader("Slice vs rest vs all rows")
    with shown_errors():
        if ctx.out_of_core:  # every row of the dataset, by the engine; not the sample the row-level views use
            rep = engine_cached.slice_report(ctx.ws, ctx.dataset, SliceDefinition(sd.conditions))
            st.caption(
                f"Computed by the engine on all {rep.n_rows:,} rows of the dataset ({rep.n_slice:,} in the slice)."
            )
        else:
            rep = cached.slice_report(ctx.scored, focus.conditions_only, (), report.DEFAULT_BINS)
    if focus is None and rep.n_slice == 0:
        say(
            "warning",
            f"The slice '{sd.describe()}' has no rows in dataset '{ctx.dataset}' ({rep.n_rows:,} labelled rows). "
            "Remove or loosen a condition.",
            icon=":material/filter_alt_off:",
        )
        st.stop()
    _headline(ctx, focus, rep)
    for note in rep.notes:
        say("info", note, icon=":material/info:")
    if focus is not None:
        _small_slice_notes(ctx, focus)
    elif rep.n_slice == 1:
        st.info(ONE_ROW, icon=":material/info:")
    st.dataframe(
        rep.comparison[COMPARISON_COLUMNS],
        hide_index=True,
        key="slices_comparison_table",
        column_config={
            "overall": st.column_config.NumberColumn("all rows", format="%.4f"),
            "slice": st.column_config.NumberColumn(format="%.4f"),
            "slice_low": st.column_config.NumberColumn("slice CI low", format="%.4f"),
            "slice_high": st.column_config.NumberColumn("slice CI high", format="%.4f"),
            "rest": st.column_config.NumberColumn(format="%.4f"),
            "gap": st.column_config.NumberColumn("slice − rest", format="%+.4f"),
            "p_worse": st.column_config.NumberColumn(
                "p (slice worse)", format="%.3g", help="One-sided test that the slice is worse than the rest."
            ),
            "slice_support": st.column_config.NumberColumn("rows", format="%d"),
            "method": st.column_config.TextColumn(
                "interval", help="wilson / delong / normal / bootstrap: see docs/slices.md"
            ),
        },
    )
    st.caption(
        f"{CONFIDENCE:.0%} intervals: Wilson for proportions, DeLong for ROC AUC, normal (Student t) for per-row means, "
        f"logit for PR AUC; bootstrap only for the multiclass macro ROC AUC, on slices of at most {BOOTSTRAP_MAX_ROWS:,} rows "
        "(see the interval column and notes)."
    )
    with st.popover("Chart", icon=":material/bar_chart:"):
        st.altair_chart(charts.comparison_chart(rep), key="slices_comparison_chart")
    d1, d2 = st.columns(2)
    d1.download_button(
        "Download CSV",
        csv_bytes(rep.comparison),
        file_name="slice_vs_rest.csv",
        mime="text/csv",
        key="slices_dl_comparison",
    )
    with d2:
        evidence.attach_button(
            kind="slice_report",
            tests=["model-6"],
            title=f"Slice report: {sd.describe()} ({ctx.dataset})",
            params={"slice": sd.to_dict(), "dataset": ctx.dataset, "model": ctx.model_name},
            result=rep.to_dict(),
            dataset=ctx.dataset,
            key="slices_evidence_report",
        )


def _headline(ctx: PageContext, focus: SliceRows | None, rep: report.SliceReport) -> None:
    """Rows in the slice, then accuracy (classification) or MAE (regression) against the rest (the report's rows:
    every row of an out-of-core dataset, not its sample, which is not needed then)."""
    task = ctx.ws.task
    by_metric = rep.comparison.set_index("metric")
    c1, c2, c3 = st.columns(3)
    # A share, not a change: a delta drew it with an arrow ("↑100.0% of 700"), read as a rise.
    c1.metric(
        "Rows in slice", f"{rep.n_slice:,}", help="Rows of the dataset that meet the slice's conditions."
    )
    c1.caption(f"{rep.n_slice / rep.n_rows:.1%} of {rep.n_rows:,} rows")
    if task != "regression":
        gap = by_metric.loc["accuracy", "gap"]
        c2.metric(
            "Accuracy in slice",
            f"{by_metric.loc['accuracy', 'slice']:.3f}",
            # No rest when the slice is every row: no delta rather than "+nan".
            None if pd.isna(gap) else f"{gap:+.3f} vs rest",
        )
        if task == "binary":
            positives = (
                round(by_metric.loc["base rate", "slice"] * rep.n_slice)
                if ctx.out_of_core
                else positives_in(ctx.scored, focus.mask)
            )
            c3.metric("Positives in slice", f"{positives:,}")
    else:
        gap = by_metric.loc["MAE", "gap"]
        c2.metric(
            "MAE in slice",
            f"{by_metric.loc['MAE', 'slice']:.4g}",
            None if pd.isna(gap) else f"{gap:+.4g} vs rest",
            delta_color="inverse",
        )


def _small_slice_notes(ctx: PageContext, focus: SliceRows) -> None:
    if focus.n_rows == 1:
        st.info(ONE_ROW, icon=":material/info:")
    if ctx.scored.task == "regression":
        return
    only_class = single_true_class(ctx.scored, focus.mask)
    if only_class is not None:
        say(
            "info",
            f"Every row of the slice has the same true class ({only_class}): ROC/PR AUC and recall of the "
            "other class are undefined here (the table says why).",
            icon=":material/info:",
        )
