"""Groups: the slice broken down by one or two columns, each group's metric with its interval, the groups
significantly worse than the rest of the slice, and loading a group into the filter."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.engine import charts as engine_charts
from explore.report.csv import csv_bytes
from explore.slices import charts, grouping, report
from explore.slices.comparison import SliceRows, group_names, metric_by_group
from explore.slices.definition import SliceDefinition
from explore.staleness.tables import records
from ui import engine_cached, evidence, state
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text, option_text

from . import cached

WORSE_BACKGROUND = "background-color: #fde0dd"


@st.fragment
def groups_section(ctx: PageContext, focus: SliceRows) -> None:
    _groups(ctx, focus.definition, focus)


@st.fragment
def engine_groups_section(ctx: PageContext, sd: SliceDefinition) -> None:
    """The groups of an out-of-core dataset's slice ``sd`` while its sample is drawn: the engine reads every row
    and needs no sample; the columns offered are the dataset's (read at open), the same the sample has."""
    _groups(ctx, sd, None)


def _columns(ctx: PageContext, focus: SliceRows | None) -> tuple[list[str], list[str]]:
    """(the data columns, the columns offered to group by)."""
    if ctx.out_of_core:
        # The engine groups the dataset's own columns (read at open: no sample needed), not the pseudo-columns
        # (true label, prediction, correct, time) nor a date or time column (calendar windows are the Staleness
        # page's): offered, each of those was refused with an error ("There is no column '__label__'").
        frame = ctx.ws.samples[ctx.dataset].probe.frame
        data = [str(c) for c in frame.columns]
        dated = {str(c) for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])}
        return data, [c for c in data if c not in dated and c != ctx.ws.columns.time]
    sc = ctx.scored
    return [str(c) for c in sc.frame.columns], grouping.sliceable_columns(sc)


def _groups(ctx: PageContext, sd: SliceDefinition, focus: SliceRows | None) -> None:
    data, offered = _columns(ctx, focus)
    default_by = [c for c in ctx.ws.config.checks.slices if c in offered][
        :1
    ]  # (an option, or Streamlit raises)
    by = st.multiselect(
        "Group the slice by (one or two columns)",
        offered,
        default=default_by,
        max_selections=2,
        format_func=grouping.display_name,
        key="slices_group_by",
    )
    c1, c2, c3 = st.columns(3)
    bins = c1.number_input(
        "Quantile bins for numeric / time columns", 2, 20, report.DEFAULT_BINS, key="slices_bins"
    )
    if not by:
        st.info("Choose a column to break the slice down by (e.g. region, device, a binned numeric feature).")
        return
    if ctx.out_of_core:
        _engine_groups(ctx, sd, by, int(bins), c2)
        return
    sc = ctx.scored
    with shown_errors(stop=False):
        rep = cached.slice_report(sc, focus.conditions_only, tuple(by), int(bins))
        bg = rep.by_group
        metric = c2.selectbox("Metric", list(dict.fromkeys(bg["metric"])), key="slices_group_metric")
        sort = c3.radio("Sort by", ["gap", "value", "support"], horizontal=True, key="slices_group_sort")
        for note in rep.notes:
            st.caption(md_text(note))
        one = metric_by_group(bg, metric, sort)
        labels = [report.group_label_column(c) for c in by]
        shown = one[
            [*labels, "value", "ci_low", "ci_high", "support", "rest", "gap", "q_worse", "worse", "note"]
        ]
        _group_table(shown, metric, rep.fdr)
        st.altair_chart(
            charts.group_bars(rep, metric, sort_by=sort), key="slices_group_chart", width="stretch"
        )
        g1, g2, g3 = st.columns([2, 1, 1])
        name_of = group_names(one, labels)
        pick = g1.selectbox(
            "Group",
            list(one["group"]),
            format_func=lambda i: option_text(name_of[int(i)]),
            key="slices_group_pick",
        )
        if g2.button("Load into the filter", key="slices_group_load", icon=":material/filter_alt:"):
            state.set_current_slice(rep.group_slice(int(pick)))
            st.rerun()
        g3.download_button(
            "Download CSV",
            csv_bytes(bg),
            file_name="slice_by_group.csv",
            mime="text/csv",
            key="slices_dl_groups",
        )
        evidence.attach_button(
            kind="slice_by_group",
            tests=["model-6"],
            title=f"Slice metrics by {', '.join(labels)}: {focus.definition.describe()} ({ctx.dataset})",
            params={
                "slice": focus.definition.to_dict(),
                "by": by,
                "bins": int(bins),
                "dataset": ctx.dataset,
                "model": ctx.model_name,
            },
            result=rep.to_dict(),
            dataset=ctx.dataset,
            key="slices_evidence_groups",
        )


def _engine_groups(ctx: PageContext, sd: SliceDefinition, by: list[str], bins: int, where) -> None:
    """Groups of an out-of-core dataset: every row of the slice, each metric with its interval, by the engine."""
    with shown_errors(stop=False), st.spinner("Querying every row…"):
        result = engine_cached.groups(ctx.ws, ctx.dataset, SliceDefinition(sd.conditions), tuple(by), bins)
        keys, table = result.keys, result.table
        metric = where.selectbox("Metric", list(dict.fromkeys(table["metric"])), key="slices_group_metric")
        st.caption(
            f"Computed by the engine on all {ctx.ws.samples[ctx.dataset].total:,} rows of the dataset (the slice's "
            "rows among them); 95 % intervals."
        )
        if note := engine_cached.approximation_note(table):
            st.caption(md_text(note))
        sel = table[(table["metric"] == metric) & (table["support"] > 0)]
        one = sel.drop(columns="group").reset_index(drop=True)
        shown = pd.concat([keys.iloc[sel["group"]].reset_index(drop=True), one], axis=1)
        shown = shown[
            [
                *keys.columns,
                "value",
                "ci_low",
                "ci_high",
                "support",
                "rest",
                "gap",
                "q_worse",
                "worse",
                "note",
            ]
        ]
        _group_table(shown, metric, engine_cached.FDR)
        st.altair_chart(
            engine_charts.metric_by_group_chart(result, metric),
            key="slices_group_chart",
            width="stretch",
        )
        evidence.attach_button(
            kind="slice_by_group",
            tests=["model-6"],
            title=f"Slice metrics by {', '.join(by)}: {sd.describe()} ({ctx.dataset}, every row)",
            params={
                "slice": sd.to_dict(),
                "by": by,
                "bins": bins,
                "dataset": ctx.dataset,
                "model": ctx.model_name,
                "engine": "spark"
                if ctx.ws.config.engine_sources[ctx.dataset].engine == "spark"
                else "duckdb",
            },
            result={"by_group": records(shown.assign(metric=metric)), "fdr": engine_cached.FDR},
            dataset=ctx.dataset,
            key="slices_evidence_groups",
        )
        st.download_button(
            "Download CSV",
            csv_bytes(table),
            file_name="slice_by_group.csv",
            mime="text/csv",
            key="slices_dl_groups",
        )


def _group_table(shown: pd.DataFrame, metric: str, fdr: float) -> None:
    """The groups beside the rest of the slice, the significantly worse ones shaded (memory and engine alike)."""
    st.markdown(
        f"**{metric}** in {len(shown)} groups — **{int(shown['worse'].sum())}** significantly worse than the "
        f"rest of the slice (Benjamini–Hochberg, FDR {fdr:g})."
    )
    st.dataframe(
        shown.style.apply(lambda r: [WORSE_BACKGROUND if r["worse"] else "" for _ in r], axis=1),
        hide_index=True,
        key="slices_group_table",
        column_config={
            "value": st.column_config.NumberColumn(metric, format="%.4f"),
            "ci_low": st.column_config.NumberColumn("CI low", format="%.4f"),
            "ci_high": st.column_config.NumberColumn("CI high", format="%.4f"),
            "rest": st.column_config.NumberColumn("rest of slice", format="%.4f"),
            "gap": st.column_config.NumberColumn("gap", format="%+.4f"),
            "q_worse": st.column_config.NumberColumn("q (worse)", format="%.3g"),
        },
    )
