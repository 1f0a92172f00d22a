"""The slice builder at the top of the Slices page: the current slice's conditions, adding one, clearing,
saving/loading by name and the share link; then the slice's rows, or why there are none."""

from __future__ import annotations

import zlib

import streamlit as st

from explore.slices import columns, grouping
from explore.slices.comparison import SliceRows, slice_rows
from explore.slices.definition import Condition, SliceDefinition
from ui import loaders, sample_wait, state
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_code, md_text, option_text

from . import cached


def widget_suffix(column: str) -> str:
    """A stable, key-safe suffix for widgets that depend on the chosen column."""
    return f"{zlib.crc32(column.encode('utf-8')):08x}"


def slice_builder(ctx: PageContext, sd: SliceDefinition) -> None:
    """The bordered box that shows and edits the current slice (every change reruns the page)."""
    with st.container(border=True):
        st.markdown(f"**Slice** — {md_text(sd.describe())}")
        _conditions(sd)
        _add_condition(ctx, sd)
        b1, b2, b3 = st.columns(3)
        if b1.button("Clear the slice", key="slices_clear", disabled=sd.is_everything):
            _replace_slice(SliceDefinition())
        with b2.popover("Save / load", icon=":material/bookmark:"):
            _save_and_load(ctx, sd)
        with b3.popover("Share", icon=":material/share:"):
            _share(sd)


def focused_rows(ctx: PageContext, sd: SliceDefinition) -> SliceRows:
    """The rows of ``sd``; when it cannot be applied or selects nothing, says why and stops the page."""
    rows = None
    with shown_errors(stop=False):
        rows = slice_rows(ctx.scored, sd)
    if rows is None:  # the error is shown above
        if st.button("Clear the slice", key="slices_clear_bad"):
            _replace_slice(SliceDefinition())
        st.stop()
    if rows.n_rows == 0:
        say(
            "warning",
            f"The slice '{sd.describe()}' has no rows in dataset '{ctx.dataset}' ({ctx.scored.n:,} labelled rows). Remove or loosen a condition.",
            icon=":material/filter_alt_off:",
        )
        st.stop()
    return rows


def _replace_slice(sd: SliceDefinition) -> None:
    state.set_current_slice(sd)
    st.rerun()


def _conditions(sd: SliceDefinition) -> None:
    for i, cond in enumerate(sd.conditions):
        c1, c2 = st.columns([8, 1])
        c1.markdown(md_code(cond.describe()))
        if c2.button("Remove", key=f"slices_remove_{i}", icon=":material/close:"):
            _replace_slice(SliceDefinition(tuple(c for j, c in enumerate(sd.conditions) if j != i), sd.name))


def _add_condition(ctx: PageContext, sd: SliceDefinition) -> None:
    with st.popover("Add a condition", icon=":material/add:"):
        if sample_wait.rows_pending(ctx):  # the values and ranges offered are read from the rows
            st.caption(
                "The values and ranges to pick from are read from the dataset's row-level sample, which is being "
                "drawn (see below): this opens once it is ready."
            )
            return
        column = st.selectbox(
            "Column",
            grouping.sliceable_columns(ctx.scored),
            format_func=grouping.display_name,
            key="slices_add_column",
        )
        with shown_errors(stop=False):
            cond = _condition_widgets(cached.column_info(ctx.scored, column))
            if st.button("Add to the slice", key="slices_add", type="primary", disabled=cond is None):
                _replace_slice(sd.with_condition(cond))


def _condition_widgets(info: columns.ColumnInfo) -> Condition | None:
    """The widgets that pick values, a range or dates of the column; the condition they make (None: none yet)."""
    suffix = widget_suffix(info.column)
    if info.kind == "categorical":
        return _values_condition(info, suffix)
    if info.kind == "numeric":
        c1, c2 = st.columns(2)
        lo = c1.number_input("From (≥)", value=info.min, key=f"slices_add_lo_{suffix}")
        hi = c2.number_input("To (≤)", value=info.max, key=f"slices_add_hi_{suffix}")
        if lo is not None and hi is not None and lo > hi:
            st.warning(f"'From' ({lo:g}) is above 'To' ({hi:g}): the slice would be empty. Swap them.")
            return None
        return Condition(info.column, "range", lo=lo, hi=hi, hi_inclusive=True)
    if info.min is None:
        st.info("This time column has no parseable values.")
        return None
    picked = st.date_input(
        "Dates",
        value=(info.min, info.max),
        min_value=info.min,
        max_value=info.max,
        key=f"slices_add_dates_{suffix}",
    )
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.caption("Pick a start and an end date.")
        return None
    return columns.dates_condition(info.column, picked[0], picked[1])


def _values_condition(info: columns.ColumnInfo, suffix: str) -> Condition | None:
    labels = {
        i: ("(missing)" if v is None else option_text(v)) + f"  ({info.counts[i]:,})"
        for i, v in enumerate(info.values)
    }
    picked = st.multiselect(
        "Values",
        list(range(len(info.values))),
        format_func=lambda i: labels[i],
        key=f"slices_add_values_{suffix}",
        help="Rows whose value is one of these."
        + (
            f" Only the {columns.MAX_LISTED_VALUES} most frequent values are listed."
            if info.truncated
            else ""
        ),
    )
    exclude = st.checkbox("Exclude these values instead", key=f"slices_add_exclude_{suffix}")
    if not picked:
        return None
    return Condition(info.column, "not_in" if exclude else "in", values=tuple(info.values[i] for i in picked))


def _save_and_load(ctx: PageContext, sd: SliceDefinition) -> None:
    workspace = str(ctx.ws.config.path)
    name = st.text_input("Name", key="slices_save_name", placeholder="e.g. tablet month-to-month")
    if st.button("Save this slice", key="slices_save", disabled=not name.strip() or sd.is_everything):
        with shown_errors(stop=False):
            named = SliceDefinition(sd.conditions, name.strip())
            loaders.store().save_slice(workspace, name.strip(), named.to_dict())
            say("success", f"Saved as '{name.strip()}'.")
    saved = []
    with shown_errors(stop=False):
        saved = loaders.store().list_slices(workspace)
    if not saved:
        st.caption("No saved slices in this workspace yet.")
        return
    pick = st.selectbox("Saved slices", [s["name"] for s in saved], key="slices_saved_pick")
    if st.button("Load", key="slices_load_saved"):
        with shown_errors(stop=False):
            definition = next(s["definition"] for s in saved if s["name"] == pick)
            _replace_slice(SliceDefinition.from_dict(definition))


def _share(sd: SliceDefinition) -> None:
    if sd.is_everything:
        st.caption("The slice is every row: there is nothing to share.")
    elif (link := state.slice_link(sd)) is None:
        st.caption(
            f"This slice is too long for a link ({len(sd.to_query_param()):,} characters; a link holds at most "
            f"{state.MAX_LINK_CHARS:,}): save it by name under Save / load, and open it from there."
        )
    else:
        st.caption("The page URL carries the slice; copy it, or append this to the Slices page address:")
        st.code(f"?slice={link}", language=None)
