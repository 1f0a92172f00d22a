"""Comparison: the candidate against the previous model and a fixed reference, paired, per metric, slice and
dataset, with thresholds."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from explore.checks import charts, choices, compare, tables
from explore.checks.compare import ComparisonResult, Thresholds
from explore.core import roles
from explore.report.csv import csv_bytes
from explore.slices.definition import SliceDefinition
from ui import loaders, state
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .common import exports, index_of, no_model, verdict
from .kept import run_and_keep
from .thresholds import thresholds_base, thresholds_editor, thresholds_file_buttons

NONE = "(none)"  # the choice of no previous / no reference model
CONFIDENCES = [0.8, 0.9, 0.95, 0.99]


def comparison_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Candidate vs previous vs a fixed reference")
    if no_model(ws, "Model comparison"):
        return
    if len(ws.models) < 2:
        say(
            "info",
            compare.NEED_TWO_MODELS.format(detail=f"this workspace has only the model '{ws.model_names[0]}'"),
            icon=":material/info:",
        )
        return
    base = thresholds_base(ws)
    candidate, previous, reference = _models(ctx, base)
    d1, d2 = st.columns(2)
    datasets = d1.multiselect(
        "Datasets", ws.dataset_names, default=roles.evaluation_datasets(ws), key="checks_cmp_datasets"
    )
    options = cached.slice_column_options(ws)
    default_slices = [
        c for c in (base.slices or ws.config.checks.slices) if c in options
    ] or cached.suggested_slice_columns(ws)
    slice_cols = d2.multiselect(
        "Slice columns",
        options,
        default=default_slices,
        key="checks_cmp_slices",
        help="Every group of these columns gets its own cells (numbers in quartile bins).",
    )
    saved = _saved_slices(ctx)
    m1, m2 = st.columns([3, 1])
    metrics = m1.multiselect(
        "Metrics",
        list(compare.PAIRED_METRICS[ws.task]),
        default=list(compare.PAIRED_METRICS[ws.task]),
        key="checks_cmp_metrics",
    )
    confidence = m2.select_slider(
        "Confidence",
        CONFIDENCES,
        value=base.confidence if base.confidence in CONFIDENCES else 0.95,
        key="checks_cmp_confidence",
    )
    edited = thresholds_editor(ws, base)
    th = base
    with shown_errors(stop=False):
        th = compare.thresholds_from_frame(edited, base)
    th = dataclasses.replace(
        th,
        candidate=candidate if candidate != "current" else None,
        previous=None if previous == NONE else previous,
        reference=None if reference == NONE else reference,
        confidence=float(confidence),
        slices=tuple(slice_cols),
        source=base.source,
    )
    thresholds_file_buttons(ws, base, th)

    params = {
        "candidate": candidate,
        "previous": previous,
        "reference": reference,
        "datasets": datasets,
        "slices": slice_cols,
        "saved": [s.name for s in saved],
        "metrics": metrics,
        "confidence": confidence,
        "thresholds": th.to_dict(),
    }
    if previous == NONE and reference == NONE:
        st.info("Pick a previous model, a fixed reference model, or both.", icon=":material/info:")
        return
    clicked = st.button(
        "Compare",
        type="primary",
        key="checks_cmp_run",
        icon=":material/compare_arrows:",
        disabled=not datasets or not metrics,
    )
    res: ComparisonResult | None = run_and_keep(
        ws,
        "comparison",
        params,
        clicked=clicked,
        label="Comparing models",
        run=lambda p: compare.compare_models(
            ws,
            candidate=candidate,
            previous="" if previous == NONE else previous,
            reference="" if reference == NONE else reference,
            datasets=datasets,
            slices=[*slice_cols, *saved],
            metrics=metrics,
            thresholds=th,
            confidence=float(confidence),
            scorer=lambda dataset, model: loaders.scored(dataset, model, ws),
            progress=p,
        ),
    )
    if res is not None:
        _results(res, params)


def _models(ctx: PageContext, base: Thresholds) -> tuple[str, str, str]:
    """Candidate, previous and fixed reference model (NONE when not compared against)."""
    models = ctx.ws.model_names
    c1, c2, c3 = st.columns(3)
    candidate = c1.selectbox(
        "Candidate", models, index=index_of(models, base.candidate or "current"), key="checks_cmp_candidate"
    )
    others = [m for m in models if m != candidate]
    previous = c2.selectbox(
        "Previous model",
        [NONE, *others],
        index=index_of([NONE, *others], choices.default_previous(base.previous, others)),
        key="checks_cmp_previous",
        help="The model in production now: guards against a sudden drop.",
    )
    reference = c3.selectbox(
        "Fixed reference model",
        [NONE, *others],
        index=index_of([NONE, *others], base.reference),
        key="checks_cmp_reference",
        help="An older model kept fixed across releases: catches a slow slide of small allowed drops.",
    )
    return candidate, previous, reference


def _saved_slices(ctx: PageContext) -> list[SliceDefinition]:
    """The saved slices chosen (from the Slices page), and the current slice when ticked."""
    saved: list[SliceDefinition] = []
    with shown_errors(stop=False):
        rows = loaders.store().list_slices(str(ctx.ws.config.path))
        names = [r["name"] for r in rows]
        chosen = st.multiselect(
            "Saved slices", names, key="checks_cmp_saved", help="Slices saved on the Slices page."
        )
        saved = [
            SliceDefinition.from_dict({**r["definition"], "name": r["name"]})
            for r in rows
            if r["name"] in chosen
        ]
    current = state.current_slice()
    if not current.is_everything and st.checkbox(
        f"Also the current slice: {md_text(current.describe())}", key="checks_cmp_current"
    ):
        saved.append(dataclasses.replace(current, name=current.name or current.describe()))
    return saved


def _results(res: ComparisonResult, params: dict[str, Any]) -> None:
    verdict(res.passed, res.summary())
    counts = res.counts
    for col, key in zip(st.columns(5), compare.STATUSES, strict=True):
        col.metric(key, counts[key])
    for note in res.notes:
        st.caption(md_text(note))
    ds = (
        st.radio("Dataset", res.datasets, horizontal=True, key="checks_cmp_view_dataset", format_func=md_text)
        if len(res.datasets) > 1
        else res.datasets[0]
    )
    st.altair_chart(charts.comparison_grid(res, dataset=ds), key="checks_cmp_grid")
    st.caption(
        f"Each cell: the change (candidate − other) of a metric on a slice, tested paired on the same rows at "
        f"{res.confidence:.0%}. Red: worse than allowed for sure; amber: the interval is too wide to tell; green: within the allowance."
    )
    show = st.multiselect(
        "Show cells",
        list(compare.STATUSES),
        default=[compare.STATUS_FAIL, compare.STATUS_UNDERPOWERED],
        key="checks_cmp_show",
    )
    st.dataframe(
        tables.comparison_cells(res, dataset=ds, statuses=show),
        hide_index=True,
        key="checks_cmp_table",
        column_config={
            "n": st.column_config.NumberColumn("rows", format="%d"),
            **{
                c: st.column_config.NumberColumn(c, format="%.4f")
                for c in ("candidate_value", "other_value", "change", "ci_low", "ci_high")
            },
            "p_value": st.column_config.NumberColumn("p", format="%.3g"),
        },
    )
    metric = st.selectbox("Intervals for metric", res.metrics, key="checks_cmp_metric_view")
    st.altair_chart(charts.change_intervals(res, dataset=ds, metric=metric), key="checks_cmp_intervals")
    if res.slices:
        st.markdown("**Gaps between slices** (candidate): each group against the rest of the data")
        st.altair_chart(charts.gap_chart(res, dataset=ds), key="checks_cmp_gaps")
    st.markdown("**Rows where the predictions differ**")
    st.caption(md_text(", ".join(f"{d} vs {r}: {n:,} rows" for (d, r), n in res.n_differing.items())))
    st.dataframe(tables.differing_rows(res, dataset=ds), hide_index=True, key="checks_cmp_diff")
    st.download_button(
        "Download differing rows (CSV)",
        csv_bytes(res.differing),
        file_name="differing_rows.csv",
        mime="text/csv",
        key="checks_cmp_diff_dl",
        icon=":material/download:",
    )
    exports(
        "comparison",
        f"Model comparison: {res.candidate} vs {', '.join(f'{k} {v}' for k, v in res.models.items())}",
        res.summary(),
        {
            "cells": res.cells,
            "gaps": res.gaps,
            "differing rows": res.differing.head(tables.MAX_DIFFERING_ROWS),
        },
        res.to_dict(),
        kind="comparison",
        tests=["infra-4", "monitor-7"],
        params=params,
        dataset=ds,
    )
