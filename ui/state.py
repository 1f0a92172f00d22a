"""Session state shared between pages, read and written only through the typed accessors here.

A page reads another page's choices (the current slice, the datapoint in focus) only through these
functions, so the current slice is parsed one way and the selected row is read and written one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from explore.core.row_ids import id_texts, position_of_id
from explore.core.serialise import plain
from explore.core.workspace import Scored
from explore.errors import ExploreError
from explore.slices.definition import SliceDefinition
from ui.boundary import say

from .cache import cache_shared

WS_PATH = "ws_path"  # str: the open workspace.toml
ACCEPTED_TYPES = "ws_accepted_types"  # dict[model name, list[str]]: skops types accepted in the UI
TRUSTED_PICKLES = "ws_trusted_pickles"  # list[str]: model names whose pickle the user trusts
DATASET = "ws_dataset"  # str: the dataset pages explore (sidebar)
MODEL = "ws_model"  # str: the model version pages explore (sidebar)
SLICE = "slice_json"  # str: SliceDefinition.to_json() of the current slice (use current_slice())
SELECTED_ROW = "selected_row"  # dict: the datapoint in focus (use selected_row() / select_row())
USER_NAME = "user_name"  # str: the name the user typed (when not signed in), shared by every page
_SLICE_LINK_SEEN = "slice_link_seen"  # the ?slice=… link already applied (applied once per distinct link)


# ---- the current slice ------------------------------------------------------------------------------------


def current_slice() -> SliceDefinition:
    """The current slice (all rows when none). A slice that cannot be read any more is cleared with a warning."""
    text = st.session_state.get(SLICE)
    if not text:
        return SliceDefinition()
    try:
        return SliceDefinition.from_json(text)
    except ExploreError as exc:
        say("warning", f"The saved slice could not be read and was cleared: {exc}", icon=":material/warning:")
        st.session_state.pop(SLICE, None)
        return SliceDefinition()


MAX_LINK_CHARS = 8_000
"""The longest ``?slice=`` a page puts in its URL: what every browser and proxy keeps (a condition on a 10 MB cell
would make a 14 MB address, sent to the browser on every rerun and cut or refused by it)."""


def slice_link(sd: SliceDefinition) -> str | None:
    """The ``?slice=`` text of ``sd``, or None when it is longer than ``MAX_LINK_CHARS`` (save the slice instead)."""
    link = sd.to_query_param()
    return link if len(link) <= MAX_LINK_CHARS else None


def set_current_slice(sd: SliceDefinition, *, in_url: bool = True) -> None:
    """Make ``sd`` the current slice for every page (and, by default, the page's shareable ``?slice=`` link, when
    it is short enough for a URL)."""
    st.session_state[SLICE] = sd.to_json()
    if not in_url:
        return
    link = slice_link(sd) if sd.conditions else None
    if link:
        st.query_params["slice"] = link
        st.session_state[_SLICE_LINK_SEEN] = link
    else:
        st.query_params.pop("slice", None)
        st.session_state.pop(_SLICE_LINK_SEEN, None)


def apply_slice_link() -> None:
    """A shared link (``?slice=…``) sets the current slice, once per distinct link.

    Raises ExploreError when the link cannot be read (the caller shows it and goes on).
    """
    text = st.query_params.get("slice")
    if text and st.session_state.get(_SLICE_LINK_SEEN) != text:
        st.session_state[_SLICE_LINK_SEEN] = text
        st.session_state[SLICE] = SliceDefinition.from_query_param(text).to_json()


def clear_shared_choices() -> None:
    """Forget the dataset, model, slice and selected row (another workspace was opened)."""
    for key in (DATASET, MODEL, SLICE, SELECTED_ROW):
        st.session_state.pop(key, None)


# ---- the datapoint in focus -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectedRow:
    """The datapoint in focus. ``position`` indexes the *scored* rows (rows with a label, as in ``Scored``);
    ``id`` is the [columns] id value (the position when the workspace has no id column)."""

    dataset: str
    position: int | None
    id: Any


def selected_row() -> SelectedRow | None:
    """The datapoint in focus on any dataset, or None."""
    raw = st.session_state.get(SELECTED_ROW)
    if not isinstance(raw, dict) or not raw.get("dataset"):
        return None
    pos = raw.get("position")
    return SelectedRow(
        dataset=str(raw["dataset"]),
        position=int(pos) if isinstance(pos, int | np.integer) else None,
        id=raw.get("id"),
    )


def select_row(scored: Scored, position: int) -> None:
    """Put the scored row at ``position`` in focus (every page that shows one datapoint follows)."""
    position = int(position)
    st.session_state[SELECTED_ROW] = {
        "dataset": scored.dataset_name,
        "position": position,
        "id": plain(scored.ids[position]),
    }


def clear_selected_row() -> None:
    st.session_state.pop(SELECTED_ROW, None)


def selected_position(scored: Scored, *, by_id: bool) -> int | None:
    """The scored-row position of the datapoint in focus on ``scored``'s dataset, or None.

    With ``by_id`` (the workspace has an id column) the row is matched by its id, since other pages may know
    only the id; otherwise by position.
    """
    sel = selected_row()
    if sel is None or sel.dataset != scored.dataset_name:
        return None
    if by_id and sel.id is not None:
        return position_of_id(scored.ids, sel.id, texts=_id_texts(scored))
    pos = sel.position
    return pos if pos is not None and 0 <= pos < scored.n else None


def find_by_id(scored: Scored, text: str) -> int | None:
    """The position of the first scored row whose id is ``text`` (``explore.core.row_ids``), or None."""
    return position_of_id(scored.ids, text, texts=_id_texts(scored))


@cache_shared(max_entries=8)
def _id_texts(scored: Scored) -> np.ndarray:
    """Every scored row's id as text, built once per scored dataset."""
    return id_texts(scored.ids)
