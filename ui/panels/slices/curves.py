"""Curves & threshold: confusion matrices, ROC/PR curves of the slice, the rest and all rows, the metrics at a
decision threshold and the threshold that costs least."""

from __future__ import annotations

import math

import streamlit as st

from explore.core.workspace import Scored
from explore.slices import charts, grouping, report, whatif
from explore.slices.comparison import SliceRows
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached


@st.fragment
def curves_section(ctx: PageContext, focus: SliceRows) -> None:
    # An engine dataset's rows are its sample with equal shares per class: precision, the PR curve and the costs
    # of a threshold depend on the class mix, so they are measured on the sampled rows kept in every row's shares.
    sc, mix_note = cached.population(ctx.ws, ctx.scored)
    if sc.task == "regression":
        st.info(
            "Confusion matrices, ROC/PR curves and thresholds are for classification; this model is a regression."
        )
        return
    cls = None
    if sc.task == "multiclass":
        cls = st.selectbox(
            "Class (one-vs-rest)", sc.classes.tolist(), index=len(sc.classes) - 1, key="slices_curve_class"
        )
    threshold = _threshold_slider(ctx) if sc.task == "binary" and sc.score is not None else None
    if mix_note:
        st.caption(
            md_text(
                "Confusion matrices, curves and threshold costs describe every row's class mix, not the sample's "
                f"equal shares: {mix_note}"
            )
        )
    c1, c2 = st.columns(2)
    with shown_errors(stop=False):
        c1.altair_chart(
            charts.confusion_heatmap(
                report.confusion_matrix(sc, focus.conditions_only, threshold=threshold), title="slice"
            ),
            key="slices_cm_slice",
        )
        c2.altair_chart(
            charts.confusion_heatmap(
                report.confusion_matrix(sc, None, threshold=threshold), title="all rows"
            ),
            key="slices_cm_all",
        )
    has_scores = (sc.task == "binary" and sc.score is not None) or (
        sc.task == "multiclass" and sc.proba is not None
    )
    if not has_scores:
        say("info", f"ROC/PR curves need scores: {sc.unavailable.get('ROC AUC', 'the model gives none')}.")
        return
    with shown_errors(stop=False):
        cur = cached.curves(sc, focus.conditions_only, cls)
        r1, r2 = st.columns(2)
        r1.altair_chart(charts.roc_chart(cur), key="slices_roc")
        r2.altair_chart(charts.pr_chart(cur), key="slices_pr")
        missing = [name for name, auc in cur.auc.items() if math.isnan(auc[0])]
        if missing:
            st.caption(f"No curve for {md_text(', '.join(map(str, missing)))}: a single class there.")
    if threshold is not None:
        with shown_errors(stop=False):
            _at_threshold(sc, focus, threshold)


def _threshold_slider(ctx: PageContext) -> float | None:
    sc = ctx.scored
    threshold = None
    with shown_errors(stop=False):
        lo, hi = whatif.threshold_range(sc)
        default = 0.5 if sc.proba is not None else 0.0
        threshold = st.slider(
            f"Decision threshold (positive = {md_text(sc.classes[sc.positive_index])} when the score ≥ it)",
            float(lo),
            float(hi),
            float(min(max(default, lo), hi)),
            step=(hi - lo) / 200 or 0.01,
            key="slices_threshold",
        )
    return threshold


def _at_threshold(sc: Scored, focus: SliceRows, threshold: float) -> None:
    """The metrics at ``threshold`` in the slice, the rest and all rows; the cheapest threshold for the costs."""
    st.dataframe(
        whatif.threshold_metrics(sc, threshold, slice_def=focus.conditions_only),
        hide_index=True,
        key="slices_threshold_table",
    )
    st.markdown("**Suggested threshold for your costs**")
    k1, k2, k3 = st.columns(3)
    cost_fp = k1.number_input("Cost of a false positive", 0.0, value=1.0, key="slices_cost_fp")
    cost_fn = k2.number_input("Cost of a false negative", 0.0, value=1.0, key="slices_cost_fn")
    by = k3.selectbox(
        "Per group of",
        [None, *grouping.sliceable_columns(sc)],
        format_func=lambda c: "—" if c is None else grouping.display_name(c),
        key="slices_threshold_by",
    )
    sug = whatif.suggest_threshold(
        sc, cost_fp=cost_fp, cost_fn=cost_fn, current=threshold, slice_def=focus.conditions_only, by=by
    )
    st.markdown(
        f"In the slice, the cost per row is lowest at threshold **{sug.overall['threshold']:.4g}** "
        f"({sug.overall['cost']:.4f} per row, vs {sug.overall['cost_at_current']:.4f} at {threshold:.4g})."
    )
    st.altair_chart(charts.threshold_cost_chart(sug), key="slices_cost_chart", width="stretch")
    if sug.by_group is not None:
        st.dataframe(sug.by_group, hide_index=True, key="slices_threshold_groups")
