"""The window controls at the top of the Staleness page: which rows, cut into which windows."""

from __future__ import annotations

import streamlit as st

from explore.staleness.layout import ALL_DATASETS, WindowSpec
from explore.staleness.windows import DEFAULT_MIN_ROWS, MAX_WINDOWS
from ui import engine_cached
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached

BY_NAMES = {
    "month": "Calendar month",
    "week": "Calendar week (Mon–Sun)",
    "day": "Calendar day",
    "quarter": "Calendar quarter",
    "rows": "Equal row counts",
}


def rows_pending(ctx: PageContext, spec: WindowSpec) -> str | None:
    """The first of ``spec``'s datasets (a big out-of-core one) whose sample is drawn in the background, if
    any: the sections that cut its rows wait for it (``ui.sample_wait``), the engine's sections do not."""
    return next((d for d in spec.datasets if engine_cached.rows_pending(ctx.ws, d)), None)


def window_controls(ctx: PageContext) -> WindowSpec:
    """The Data / Windows row and a caption on the windows it makes; returns the chosen layout.

    When the rows cannot be cut or scored, the error is shown with its fix and the page stops.
    """
    ws = ctx.ws
    data_options = ["sidebar"] + (["all"] if len(ws.dataset_names) > 1 else [])
    c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
    data_choice = c1.selectbox(
        "Data",
        data_options,
        index=len(data_options) - 1,
        key="staleness_data",
        format_func={"sidebar": f"Sidebar dataset ({ctx.dataset})", "all": ALL_DATASETS}.get,
        help="Which rows to cut into windows for performance, drift and invariants. 'All datasets' joins every "
        "dataset of the workspace in time order (windows overlapping the model's training data are in-sample).",
    )
    by = c2.selectbox("Windows", list(BY_NAMES), format_func=BY_NAMES.get, key="staleness_window_by")
    n_windows = int(
        c3.number_input(
            "Windows (equal rows)", 2, MAX_WINDOWS, 12, key="staleness_n_windows", disabled=by != "rows"
        )
    )
    min_rows = int(
        c4.number_input(
            "Flag windows under (rows)",
            1,
            1_000_000,
            DEFAULT_MIN_ROWS,
            key="staleness_min_rows",
            help="Windows with fewer rows are flagged (faded or hollow), never dropped.",
        )
    )
    spec = WindowSpec(
        datasets=tuple(ws.dataset_names) if data_choice == "all" else (ctx.dataset,),
        by=by,
        n_windows=n_windows,
        min_rows=min_rows,
    )
    if rows_pending(ctx, spec):
        # A big out-of-core dataset whose sample is being drawn: the engine cuts every row into the windows itself
        # (performance, drift, invariants below); the sections that need the rows wait for the sample.
        st.caption(
            md_text(f"Windows over every row of '{ctx.dataset}', cut by the engine in each section below.")
        )
        return spec
    with shown_errors():
        tl = cached.timeline(ws, spec.datasets)
        windows = cached.time_windows(ws, spec)
        cached.scored_codes(ws, spec, ctx.model_name)  # scores the rows now: a model that cannot stops here
    n_few = int(windows.too_few.sum())
    # An out-of-core dataset's timeline here is its sample: saying "over 50,000 rows" of a 2.5M-row log, above
    # sections that the engine computes on every row, told the user the charts used 2 % of the rows.
    sampled = [d for d in spec.datasets if ws.is_out_of_core(d)]
    st.caption(
        f"{windows.n_windows} windows over {tl.n:,} rows of {md_text(', '.join(spec.datasets))}"
        + (
            f" (the engine's sample of {md_text(', '.join(sampled))}: the row-level sections use it, the sections "
            "computed by the engine every row)"
            if sampled
            else ""
        )
        + (f"; {n_few} with fewer than {min_rows:,} rows (flagged)" if n_few else "")
        + (
            f"; {windows.n_missing_time:,} rows without a timestamp are left out"
            if windows.n_missing_time
            else ""
        )
        + "."
    )
    return spec
