"""Fairness: gaps between the groups of a column inside the current slice (demographic parity, equal
opportunity, accuracy), against the largest gap the user accepts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.report.csv import csv_bytes
from explore.slices import charts, grouping, report
from explore.slices.comparison import SliceRows
from ui import engine_cached, evidence
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .cached import CONFIDENCE
from .discovery import sample_caption


def fairness_section(ctx: PageContext, focus: SliceRows) -> None:
    sc = ctx.scored
    st.markdown(
        "Gaps between the groups of a column — demographic parity (share predicted positive), equal opportunity "
        "(recall among actual positives) and accuracy — inside the current slice. The ML Test Score asks that the "
        "model be tested for considerations of inclusion."
    )
    # An out-of-core dataset's gaps here come from the page's rows, its sample (README: "fairness gaps … over every
    # row", true of the notebook and `explore check`).
    sample_caption(
        ctx,
        "Fairness",
        f"explore.fairness(ws, column, dataset={ctx.dataset!r}) in a notebook or `explore check --fairness COLUMN`",
    )
    options = grouping.sliceable_columns(sc)
    # [checks] slices first, else a feature (a categorical one first): not the label, whose "gaps" are only the
    # classes' own rates (the first option, and the default, of a workspace without [checks] slices).
    features = [c for c in sc.feature_names if c in options]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(sc.frame[c].dtype)]
    preferred = [c for c in ctx.ws.config.checks.slices if c in options] + categorical + features
    c1, c2, c3, c4 = st.columns(4)
    column = c1.selectbox(
        "Column",
        options,
        index=options.index(preferred[0]) if preferred else 0,
        format_func=grouping.display_name,
        key="slices_fair_column",
    )
    label_std = None
    if sc.task == "regression":  # every row's, as the notebook's default (an engine dataset's sample is not)
        label_std = engine_cached.label_std(ctx.ws, ctx.dataset) if ctx.out_of_core else cached.label_std(sc)
    if label_std is None:
        threshold = c2.number_input(
            "Largest acceptable gap",
            0.0,
            1.0,
            report.DEFAULT_RATE_GAP,
            step=0.01,
            key="slices_fair_threshold",
            help="A difference between two groups' rates (share predicted positive, recall, accuracy), 0 to 1.",
        )
    else:
        # A regressor's gaps are in the label's units: 0.1 would flag every group of a house-price model.
        default = report.regression_gap_default(label_std)
        threshold = c2.number_input(
            "Largest acceptable gap (label units)",
            0.0,
            None,
            default,
            step=float(f"{max(default, 1e-9) / 10:.1g}"),
            format="%g",
            key=f"slices_fair_threshold_regression_{default:g}",
            help=f"Default: {report.REGRESSION_GAP_SHARE:g} × the label's standard deviation on this dataset.",
        )
    min_support = c3.number_input("Minimum rows per group", 1, None, 30, key="slices_fair_min_support")
    positive = None
    if sc.task == "multiclass":
        positive = c4.selectbox(
            "Class", [str(c) for c in sc.classes.tolist()], index=len(sc.classes) - 1, key="slices_fair_class"
        )
    with shown_errors(stop=False):
        params = report.FairnessParams(
            threshold=float(threshold), positive=positive, min_support=int(min_support), confidence=CONFIDENCE
        )
        fr = cached.fairness_gaps(sc, focus.conditions_only, column, params)
        st.caption(md_text(report.fairness_threshold_text(sc.task, float(threshold), label_std)))
        st.dataframe(
            fr.gaps,
            hide_index=True,
            key="slices_fair_gaps",
            column_config={
                "gap": st.column_config.NumberColumn(format="%.4f"),
                "ci_low": st.column_config.NumberColumn(format="%.4f"),
                "ci_high": st.column_config.NumberColumn(format="%.4f"),
            },
        )
        flagged = fr.gaps[fr.gaps["exceeds"]]
        if len(flagged):
            say(
                "warning",
                "Above your threshold: "
                + "; ".join(
                    f"{r.measure} {r.gap:.3f} ({r.high_group} vs {r.low_group})" for r in flagged.itertuples()
                ),
            )
        for note in fr.notes:
            st.caption(md_text(note))
        st.altair_chart(charts.fairness_chart(fr), key="slices_fair_chart")
        st.dataframe(fr.groups, hide_index=True, key="slices_fair_groups")
        f1, f2 = st.columns(2)
        f1.download_button(
            "Download CSV",
            csv_bytes(fr.groups),
            file_name="fairness_groups.csv",
            mime="text/csv",
            key="slices_dl_fair",
        )
        with f2:
            evidence.attach_button(
                kind="fairness_gaps",
                tests=["model-7"],
                title=f"Fairness gaps by {grouping.display_name(column)} ({ctx.dataset})",
                params={
                    "column": column,
                    **params.to_dict(),
                    "slice": focus.definition.to_dict(),
                    "dataset": ctx.dataset,
                    "model": ctx.model_name,
                },
                result=fr.to_dict(),
                dataset=ctx.dataset,
                key="slices_evidence_fairness",
            )
