"""Discovery: search every slice of one or two conditions for ones significantly worse than the rest (with
false-discovery control), show what was found and load a found slice into the filter."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explore.report.csv import csv_bytes
from explore.slices import charts, grouping, report
from explore.slices.comparison import SliceRows
from explore.slices.discovery_run import DiscoveryRun, DiscoverySettings
from ui import evidence, state
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

LAST_RUN = "slices_discovery"  # session state: the last DiscoveryRun of this session


def _loss_name(ctx: PageContext) -> str:
    """What "loss" is for this model (as explore.slices.report.loss_values names it)."""
    sc = ctx.scored
    if sc.task == "regression":
        return "squared error"
    return "log loss" if sc.proba is not None else "0/1 error"


def sample_caption(ctx: PageContext, what: str, every_row: str) -> None:
    """On an out-of-core dataset: a caption saying ``what`` ran on the engine's sample (N of M rows), and
    ``every_row``, the calls that compute it on every row. Nothing for a dataset in memory."""
    if not ctx.ws.is_out_of_core(ctx.dataset):
        return
    total = ctx.ws.samples[ctx.dataset].probe.total
    st.caption(
        f"{md_text(what)} ran on the engine's sample of this dataset ({ctx.scored.n:,} of its {total:,} rows). For "
        f"every row, run {md_text(every_row)}."
    )


def number_formats(slices) -> tuple[str, str]:
    """The table's number formats (plain, signed): four decimals, or scientific once a loss or metric reaches a
    million — a price model's squared error read 57728020337759.7734."""
    values = slices[["loss", "rest_loss", "metric_slice", "metric_rest"]].abs().to_numpy(dtype="float64")
    big = bool(np.nanmax(values, initial=0.0) >= 1e6)
    return ("%.4e", "%+.4e") if big else ("%.4f", "%+.4f")


def discovery_section(ctx: PageContext, focus: SliceRows) -> None:
    # The task's own loss: a regressor's page said "a rank test on log loss".
    st.markdown(
        "Discovery tests every slice of one or two conditions (categorical values, numeric quantile bins) with enough "
        f"rows: the per-row loss inside vs outside (a rank test on {md_text(_loss_name(ctx))}, Welch's t-test on 0/1 error), "
        "then Benjamini–Hochberg over **all** slices tested. The interval beside each slice is Welch's, on the mean "
        "loss: after a rank test a slice can be significant while that interval still spans 0 (a few huge losses "
        "widen it)."
    )
    settings = _settings(ctx, focus)
    if st.button(
        "Find weak slices",
        key="slices_discover",
        type="primary",
        icon=":material/search:",
        disabled=not settings.columns,
    ):
        _run(ctx, focus, settings)
    run: DiscoveryRun | None = st.session_state.get(LAST_RUN)
    if run is None:
        return
    if run.is_stale(settings):
        st.caption(
            "The settings changed since the last run: press 'Find weak slices' to update the results below."
        )
    _found(ctx, focus, run)


def _settings(ctx: PageContext, focus: SliceRows) -> DiscoverySettings:
    """The search's settings widgets, read into settings."""
    sc = ctx.scored
    c1, c2, c3, c4 = st.columns(4)
    fdr = c1.number_input(
        "False discovery rate", 0.001, 0.5, 0.05, step=0.01, format="%.3f", key="slices_fdr"
    )
    min_support = c2.number_input(
        "Minimum rows per slice",
        10,
        max(10, sc.n // 2),
        min(max(50, sc.n // 1000), max(10, sc.n // 2)),
        key="slices_min_support",
    )
    max_conditions = c3.radio("Conditions", [1, 2], index=1, horizontal=True, key="slices_max_conditions")
    loss = c4.radio(
        "Compare",
        ["loss", "error"],
        horizontal=True,
        key="slices_loss",
        help="loss: log loss with probabilities (squared error for regression); error: 0/1 (absolute error).",
    )
    test = st.radio(
        "Test",
        ["auto", "welch", "rank"],
        format_func={
            "auto": f"auto (rank on {_loss_name(ctx)}, Welch on 0/1)",
            "welch": "mean loss (Welch)",
            "rank": "rank (Mann–Whitney)",
        }.get,
        horizontal=True,
        key="slices_disc_test",
        help="Log loss is heavy-tailed, so on small or weak slices the rank test (are the slice's losses larger?) "
        "finds far more than Welch on the mean. On 0/1 error use Welch: there the rank test reported slices on "
        "data without any in 13 % of runs (auto does this; docs/slices.md has the study).",
    )
    cols = st.multiselect(
        "Columns to search",
        grouping.sliceable_columns(sc),
        default=report.discovery_columns(sc),
        format_func=grouping.display_name,
        key="slices_disc_columns",
    )
    within = st.checkbox(
        "Search inside the current slice only",
        key="slices_disc_within",
        disabled=focus.definition.is_everything,
    )
    return DiscoverySettings(
        data_key=ctx.key,
        within=focus.conditions_only if within else None,
        fdr=float(fdr),
        min_support=int(min_support),
        max_conditions=int(max_conditions),
        loss=loss,
        columns=tuple(cols),
        test=test,
    )


def _run(ctx: PageContext, focus: SliceRows, settings: DiscoverySettings) -> None:
    bar = st.progress(0.0, text="Discovering…")
    with shown_errors(stop=False):
        result = report.weak_slices(
            ctx.scored,
            columns=list(settings.columns),
            max_conditions=settings.max_conditions,
            min_support=settings.min_support,
            fdr=settings.fdr,
            loss=settings.loss,
            test=settings.test,
            slice_def=settings.within,
            progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m),
        )
        st.session_state[LAST_RUN] = DiscoveryRun(settings, result)
    bar.empty()


def _found(ctx: PageContext, focus: SliceRows, run: DiscoveryRun) -> None:
    """What the last search found: the counts, the table, loading a found slice, the chart and downloads."""
    res = run.result
    expected_by_chance = res.n_tested * res.fdr
    st.markdown(
        f"Tested **{res.n_tested:,}** slices ({res.n_pruned:,} ruled out by the bound) on {res.n_rows:,} rows, comparing "
        f"{res.loss} ({'rank test' if res.test == 'rank' else 'Welch'}). **{len(res.slices)}** are significantly worse at FDR {res.fdr:g}, naming "
        f"**{len(res.problems)}** distinct problem(s)"
        + (
            f"; {res.n_folded:,} slice(s) are folded under the problem they belong to (listed right after it, with "
            "'part of' naming it: a worse corner of a weak slice, or a single condition weak only because of a pair of conditions inside it)"
            if res.n_folded
            else ""
        )
        + (
            f" (and {res.n_redundant:,} more two-condition slices are hidden: they are not significantly worse than the "
            "rest of each of their single conditions, so they only add an unrelated condition to a weak slice; the CSV "
            "has them)."
            if res.n_redundant
            else "."
        )
    )
    st.caption(
        f"Why the correction matters: testing {res.n_tested:,} slices at 5% each would flag about {expected_by_chance:,.0f} "
        "by chance alone. Benjamini–Hochberg keeps the expected share of false discoveries among the reported slices at "
        f"or below {res.fdr:g}; the q-value is the smallest FDR at which a slice would be reported. Slices overlap, so "
        "several rows may describe the same weakness."
    )
    # The search ran on the rows the page holds: an out-of-core dataset's sample. Said here, where its row count
    # is (a 2.5M-row log's page said "on 50,000 rows" beside a README promising discovery over every row).
    sample_caption(
        ctx,
        "The search",
        f"explore.discover(ws, dataset={ctx.dataset!r}) in a notebook or `explore check` (both by the engine, "
        "with Welch's test)",
    )
    if res.skipped_columns:
        st.caption(
            "Skipped: "
            + "; ".join(
                f"{md_text(grouping.display_name(k))} ({md_text(v)})" for k, v in res.skipped_columns.items()
            )
        )
    if not len(res.slices):
        st.success("No slice is significantly worse than the rest at this false discovery rate.")
    else:
        SIG, SIGNED = number_formats(res.slices)
        st.dataframe(
            res.slices,
            hide_index=True,
            key="slices_disc_table",
            column_config={
                "parent": st.column_config.TextColumn(
                    "part of", help="The problem this slice is folded under (empty: a distinct problem)."
                ),
                "loss": st.column_config.NumberColumn(format=SIG),
                "rest_loss": st.column_config.NumberColumn("rest loss", format=SIG),
                "diff": st.column_config.NumberColumn("gap", format=SIGNED),
                "ci_low": st.column_config.NumberColumn(format=SIGNED),
                "ci_high": st.column_config.NumberColumn(format=SIGNED),
                "effect_size": st.column_config.NumberColumn("Cohen's d", format="%.3f"),
                "t": st.column_config.NumberColumn(format="%.2f"),
                "df": st.column_config.NumberColumn(format="%.0f"),
                "p_value": st.column_config.NumberColumn("p", format="%.2e"),
                "q_value": st.column_config.NumberColumn("q (BH)", format="%.2e"),
                "metric_slice": st.column_config.NumberColumn("metric in slice", format=SIG),
                "metric_rest": st.column_config.NumberColumn("metric in rest", format=SIG),
            },
        )
        d1, d2 = st.columns([3, 1])
        pick = d1.selectbox(
            "Found slice",
            range(len(res.slices)),
            format_func=lambda i: res.slices["slice"].iloc[i],
            key="slices_disc_pick",
        )
        if d2.button("Load into the filter", key="slices_disc_load", icon=":material/filter_alt:"):
            state.set_current_slice(run.found_slice(int(pick), focus.definition))
            st.rerun()
    st.altair_chart(charts.discovery_chart(res), key="slices_disc_chart", width="stretch")
    e1, e2 = st.columns(2)
    e1.download_button(
        "Download all tested slices (CSV)",
        csv_bytes(res.tested),
        file_name="weak_slices_tested.csv",
        mime="text/csv",
        key="slices_dl_disc",
    )
    with e2:
        evidence.attach_button(
            kind="weak_slices",
            tests=["model-6"],
            title=f"Weak-slice discovery on {ctx.dataset}: {len(res.slices)} found of {res.n_tested:,} tested",
            params={
                "dataset": ctx.dataset,
                "model": ctx.model_name,
                "fdr": res.fdr,
                "min_support": res.min_support,
                "columns": res.columns,
            },
            result=res.to_dict(),
            dataset=ctx.dataset,
            key="slices_evidence_discovery",
        )
