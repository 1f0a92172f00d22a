"""Overview: how far the labelers agree, whom to trust, and the confusion between two of them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.labels import charts, crowd, tables
from explore.labels.crowd import Agreement, Annotations, Consensus
from explore.labels.sources import AnnotationSource
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .common import pct

MAX_NAMED = 10  # flagged labelers named in the warning
CONSENSUS_METHODS = {"regularised": "Regularised Dawid–Skene (default)", "dawid_skene": "Full Dawid–Skene"}


def overview_section(ctx: PageContext, source: AnnotationSource) -> None:
    ann = cached.annotations(ctx.ws, source)
    if not ann.has_overlap:
        st.info(
            crowd.NEEDS_OVERLAP.format(
                what="Agreement between labelers", n_labelers=ann.n_labelers, n_multi=ann.n_multi
            )
            + " The Queue view still ranks items by the model's disagreement with each label.",
            icon=":material/info:",
        )
        return
    with shown_errors():
        ag = cached.agreement(ctx.ws, source)
    method = st.radio(
        "Consensus method",
        list(CONSENSUS_METHODS),
        format_func=CONSENSUS_METHODS.get,
        horizontal=True,
        key="labels_consensus_method",
        help="Regularised Dawid–Skene holds up on sparse crowds (most labelers with a handful of labels): each "
        "labeler's confusion matrix is pulled toward a one-coin model of them, so few labels cannot overfit. "
        "Full Dawid–Skene estimates a free matrix per labeler. With a model view, the Queue uses the "
        "model-assisted consensus (the model's out-of-sample probabilities as each item's prior).",
    )
    cons = cached.consensus(ctx.ws, source, method)
    _agreement(ann, ag, cons)
    _consensus_confidence(cons)
    _labeler_trust(ann, cons)
    _pair_confusion(ann)


def _agreement(ann: Annotations, ag: Agreement, cons: Consensus) -> None:
    c = st.columns(5)
    c[0].metric(
        "Krippendorff's α",
        "–" if pd.isna(ag.alpha) else f"{ag.alpha:.3f}",
        help="Nominal alpha over every item with two or more labels (items may have different numbers of labels). "
        "1 = perfect agreement, 0 = chance; ≥ 0.8 is usually called reliable, < 0.667 doubtful.",
    )
    c[1].metric(
        "Fleiss' κ",
        "–" if pd.isna(ag.fleiss_kappa) else f"{ag.fleiss_kappa:.3f}",
        help=f"On the {ag.fleiss_n_items:,} items with exactly {ag.fleiss_labels} labels "
        f"({ag.fleiss_n_items / ann.n_items:.0%} of items; Fleiss' kappa needs the same number of labels per item). "
        f"{ag.n_complete:,} items were labeled by all {ann.n_labelers} labelers.",
    )
    c[2].metric(
        "Mean per-item agreement",
        pct(ag.mean_item_agreement),
        help="Share of agreeing labeler pairs, averaged over items with 2+ labels.",
    )
    c[3].metric(
        "Majority ties",
        f"{cons.n_ties:,}",
        help="Items where two or more labels got the same top number of votes. Majority vote leaves them "
        "undecided (no majority); the consensus breaks them by labeler quality.",
    )
    # The value fits the narrow column ("157 iterations" was cut to "157 iterat…"); the count is in the help.
    c[4].metric(
        "Consensus",
        "converged" if cons.converged else "not converged",
        help=md_text(
            f"{crowd.consensus_description(cons)}; {'converged' if cons.converged else 'stopped'} after "
            f"{cons.n_iter} iterations, {cons.seconds * 1000:.0f} ms."
        ),
    )
    st.caption(
        f"Fleiss' κ is computed on the {ag.fleiss_n_items:,} items with exactly {ag.fleiss_labels} labels "
        f"({ag.fleiss_n_items / ann.n_items:.0%} of the items); {ag.n_complete:,} items were labeled by all "
        f"{ann.n_labelers} labelers. Krippendorff's α uses all {ag.n_multi:,} items with two or more labels."
    )
    for note in ag.notes:
        st.caption(md_text(note))
    left, right = st.columns(2)
    if len(ag.pairwise):
        left.altair_chart(charts.kappa_heatmap(ag), width="stretch")
    right.altair_chart(charts.agreement_histogram(ag), width="stretch")


def _consensus_confidence(cons: Consensus) -> None:
    conf = crowd.confidence_summary(cons)
    st.caption(
        f"Consensus by {md_text(crowd.consensus_description(cons))}. Each item's consensus label comes with "
        f"its probability of being right (the Queue's *consensus confidence*): {pct(conf['high'])} of items "
        f"at 90 % or more, {pct(conf['medium'])} between 50 and 90 %, {pct(conf['low'])} below 50 % "
        f"(median {pct(conf['median'])})."
    )
    if not cons.converged:
        st.warning(
            f"The consensus stopped after {cons.n_iter} iterations before converging: its confidences are rough.",
            icon=":material/warning:",
        )


def _labeler_trust(ann: Annotations, cons: Consensus) -> None:
    st.subheader("Labeler trust")
    threshold = st.slider(
        "Flag labelers below this accuracy (or recall on a class)",
        0.5,
        1.0,
        crowd.DEFAULT_TRUST_THRESHOLD,
        0.01,
        key="labels_trust_threshold",
    )
    with shown_errors():
        trust = crowd.labeler_trust(ann, cons, threshold=threshold)
    st.dataframe(
        trust.table,
        hide_index=True,
        column_config={
            "accuracy": st.column_config.ProgressColumn(
                "estimated accuracy",
                format="percent",
                min_value=0,
                max_value=1,
                help="Their accuracy as a labeler, each label judged against the other labelers and the model, "
                "shrunk toward the crowd's accuracies: few labels, wide interval.",
            ),
            "accuracy_low": st.column_config.NumberColumn("95 % interval low", format="percent"),
            "accuracy_high": st.column_config.NumberColumn("95 % interval high", format="percent"),
            "right_on_labels": st.column_config.NumberColumn(
                "right on the labels given",
                format="percent",
                help="Expected share of the labels they gave that are right (not shrunk: about those labels).",
            ),
            "agreement_consensus": st.column_config.NumberColumn("agrees with consensus", format="percent"),
            "agreement_others": st.column_config.NumberColumn("agrees with other labelers", format="percent"),
            "weakest_recall": st.column_config.NumberColumn("recall on weakest class", format="percent"),
            "weakest_class": "weakest class",
            "items": "items labeled",
        },
    )
    flagged = tables.flagged_labelers(trust)
    if flagged:
        names = ", ".join(str(n) for n in flagged[:MAX_NAMED]) + (
            f" and {len(flagged) - MAX_NAMED} more" if len(flagged) > MAX_NAMED else ""
        )
        say(
            "warning",
            f"{len(flagged)} labeler(s) below {threshold:.0%}: {names}. Review their labels first, retrain them, or "
            "weigh their labels less (Dawid–Skene already does).",
            icon=":material/flag:",
        )
    st.altair_chart(charts.trust_chart(trust), width="stretch")
    with st.expander("Each labeler's estimated confusion matrix"):
        st.altair_chart(charts.labeler_confusion_grid(trust))


def _pair_confusion(ann: Annotations) -> None:
    st.subheader("Confusion between two labelers")
    names = [str(n) for n in ann.labelers]
    a, b = st.columns(2)
    first = a.selectbox("Labeler", names, index=0, key="labels_pair_a")
    second = b.selectbox("Against", names, index=1 if len(names) > 1 else 0, key="labels_pair_b")
    if first == second:
        st.caption("Pick two different labelers.")
        return
    with shown_errors():
        confusion = crowd.pair_confusion(ann, first, second)
    if confusion.table.empty:
        st.caption(f"{md_text(first)} and {md_text(second)} labeled no item in common.")
    else:
        st.altair_chart(charts.confusion_heatmap(confusion))
