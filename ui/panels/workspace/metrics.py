"""Overall metrics of the chosen model on every dataset, with confidence intervals and support."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.core import overview
from explore.core.score_cache import overall_cached
from explore.core.workspace import Scored, Workspace
from ui import engine_cached, loaders
from ui.boundary import shown_errors
from ui.cache import cache_small
from ui.safe import md_code, md_text


@cache_small(max_entries=16)
def _overall(ws: Workspace, sc: Scored) -> pd.DataFrame:
    """Every metric of the task on the scored rows, cached per (workspace, dataset, model): ``sc`` hashes by
    its ``cache_key``, so a rerun of the page (any widget) does not recompute the intervals; and kept on disk
    beside the predictions (``explore.core.score_cache.overall_cached``), so a restart does not either."""
    return overall_cached(ws, sc.dataset_name, sc.model_name, scored=sc)


def metrics_section(ws: Workspace) -> None:
    st.subheader("Overall metrics")
    model_name = loaders.selected_model(ws)
    st.caption(
        f"Model {md_code(model_name)} on every dataset; 95 % confidence intervals and support."
        if model_name
        else "From the prediction columns; 95 % confidence intervals and support."
    )
    tables: dict[str, pd.DataFrame] = {}
    for name in ws.dataset_names:
        with shown_errors(stop=False):  # a dataset that cannot be scored: its error, and the others' metrics
            if ws.is_out_of_core(name):  # every row, in the engine; its sample is drawn by a row-level page
                tables[name] = engine_cached.overall(ws, name)
                engine_cached.settle_label_counts(ws, name, tables[name])  # the dataset table's class counts
                st.caption(md_text(f"{name}: {ws.samples[name].caption()}"))
                if note := engine_cached.approximation_note(tables[name]):
                    st.caption(f"{md_text(name)}: {md_text(note)}")
                continue
            sc = loaders.scored(name, model_name, ws=ws)
            tables[name] = _overall(ws, sc)
            for metric, reason in sc.unavailable.items():
                st.caption(md_text(f"{name}: {metric} unavailable — {reason}."))
            if sc.n_unlabeled:
                st.caption(
                    f"{md_text(name)}: {sc.n_unlabeled} rows without a label are left out of the metrics."
                )
    if tables:
        _tables(ws, tables)


def background_passes(ws: Workspace) -> None:
    """Once the page is drawn, the Slices and Staleness pages' first passes (and a big log's sample) in the
    background: started before, they took the two cores from this page's own pass and its drawing."""
    for name in ws.dataset_names:
        if ws.is_out_of_core(name):
            engine_cached.prepare_first_views(ws, name)


def _tables(ws: Workspace, tables: dict[str, pd.DataFrame]) -> None:
    table = overview.metrics_by_dataset(tables)
    st.dataframe(
        overview.metrics_wide(table, ws.dataset_names), width="stretch", key="workspace_metrics_values"
    )
    with st.expander("Confidence intervals, support and method", expanded=True):
        st.dataframe(
            overview.metrics_with_intervals(table)[
                ["dataset", "metric", "value", "interval", "support", "method", "note"]
            ],
            hide_index=True,
            column_config={"value": st.column_config.NumberColumn(format="%.4f")},
        )
