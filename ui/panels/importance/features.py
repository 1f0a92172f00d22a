"""How the model uses each feature over the explained rows: global importance (bars, table, CSV), the
distribution of SHAP values (beeswarm), and one feature's dependence plot."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.importance import explain
from explore.report.csv import csv_bytes
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .shared import class_select


def global_section(ctx: PageContext, run: cached.ShapRun, expl: explain.ShapExplanation) -> pd.DataFrame:
    """Mean |SHAP| per feature as bars and a table; returns the table (features ranked)."""
    st.subheader("Global importance")
    table = explain.importance_table(expl)
    g1, g2 = st.columns([3, 2])
    cached.show_spec(cached.bars_spec(ctx, run), key="importance_bars", where=g1)
    with g2:
        st.dataframe(
            table[["rank", "feature", "mean_abs_shap", "share", "n_columns"]],
            hide_index=True,
            key="importance_table",
            column_config={
                "mean_abs_shap": st.column_config.NumberColumn(f"mean |SHAP| ({expl.units})", format="%.4f"),
                "share": st.column_config.NumberColumn("share", format="percent"),
                "n_columns": st.column_config.NumberColumn(
                    "model columns", help="Transformed columns summed into it."
                ),
            },
        )
        st.download_button(
            "Download importance (CSV)",
            csv_bytes(table),
            file_name=f"importance_{ctx.dataset}_{ctx.model_name}.csv",
            mime="text/csv",
            key="importance_download",
            icon=":material/download:",
        )
    st.caption(
        "Mean |SHAP|: the average size of a feature's push on the output across the explained rows"
        + (", summed over classes (bars are stacked by class)." if expl.n_outputs > 1 else ".")
    )
    return table


def distribution_section(ctx: PageContext, run: cached.ShapRun, expl: explain.ShapExplanation) -> int:
    """The beeswarm of one class's SHAP values; returns that class (output index)."""
    st.subheader("How each feature pushes predictions")
    class_idx = class_select(expl, "importance_class")
    cached.show_spec(cached.beeswarm_spec(ctx, run, class_idx), key="importance_beeswarm")
    st.caption(
        "One dot per explained row (up to 4,000 dots in all; beyond, a sample that keeps the rows of largest |SHAP|, "
        "so the axis spans them all): right of zero raises the output, left lowers it. Colour is the "
        "feature's value as a percentile among the rows (red high, blue low; grey for categories and missing values)."
    )
    return class_idx


@st.fragment
def dependence_section(
    ctx: PageContext, run: cached.ShapRun, expl: explain.ShapExplanation, table: pd.DataFrame, class_idx: int
) -> None:
    st.subheader("Dependence")
    d1, d2 = st.columns(2)
    feature = d1.selectbox("Feature", table["feature"].tolist(), key="importance_dep_feature")
    options = ["auto (strongest interaction)", "none", *[f for f in expl.feature_names if f != feature]]
    color_choice = d2.selectbox("Colour by", options, key="importance_dep_color")
    with shown_errors(stop=False):
        if color_choice.startswith("auto"):
            color = cached.interaction(ctx, run, feature, class_idx)
        else:
            color = None if color_choice == "none" else color_choice
        cached.show_spec(
            cached.dependence_spec(ctx, run, feature, color, class_idx), key="importance_dependence"
        )
        st.caption(
            f"SHAP of **{md_text(feature)}** against its value"
            + (f", coloured by **{md_text(color)}**" if color else "")
            + ". A vertical spread at one value means the effect depends on other features (an interaction)."
        )
