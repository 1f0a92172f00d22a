"""Cached loaders: the workspace and scored datasets live in st.cache_resource (shared, read-only)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from explore.core.roles import evaluation_dataset
from explore.core.score_cache import CACHE_FOLDER, score_cached
from explore.core.workspace import Scored, Workspace, open_workspace, read_workspace
from explore.errors import ExploreError

from . import state
from .cache import cache_shared
from .safe import md_text

if TYPE_CHECKING:  # SQLAlchemy is imported when a page first needs the store, not at the app's start
    from explore.core.store import Store


@st.cache_resource(max_entries=4, show_spinner=False)
def _open(
    path: str, stamp: str, accepted: tuple[tuple[str, tuple[str, ...]], ...], trusted: tuple[str, ...]
) -> Workspace:
    config = read_workspace(path)
    with st.spinner(f"Opening workspace {Path(path).parent.name}…"):
        return open_workspace(
            config, accepted_types={k: list(v) for k, v in accepted}, trusted_pickles=frozenset(trusted)
        )


def _stamp(path: str) -> str:
    """Changes when workspace.toml or any file it names changes (so edits on disk are picked up)."""
    config = read_workspace(path)
    files = [config.path, *config.datasets.values(), *(m.path for m in config.models.values())]
    return "|".join(f"{p.stat().st_mtime_ns}:{p.stat().st_size}" if p.exists() else "missing" for p in files)


def open_current() -> Workspace:
    """The workspace chosen in this session. Raises ExploreError (shown by the boundary) on bad input."""
    path = st.session_state.get(state.WS_PATH)
    if not path:
        raise ExploreError(
            "No workspace is open. Open one on the Workspace page, or start with `explore run path/to/workspace.toml`."
        )
    accepted = st.session_state.get(state.ACCEPTED_TYPES, {})
    trusted = st.session_state.get(state.TRUSTED_PICKLES, [])
    return _open(
        path,
        _stamp(path),
        tuple(sorted((k, tuple(sorted(v))) for k, v in accepted.items())),
        tuple(sorted(trusted)),
    )


def current_workspace() -> Workspace | None:
    """The open workspace, or None when it cannot be opened (the Workspace page shows why)."""
    try:
        return open_current()
    except ExploreError:
        return None


# Why predictions could not be kept on disk (an unwritable workspace folder), by cache folder: said once per session.
_NOTES: dict[str, str] = {}
_NOTE_SHOWN = "_loaders_cache_note_shown"


@cache_shared(max_entries=16)
def _scored(ws: Workspace, dataset: str, model: str | None) -> Scored:
    """Shared by every session, keyed by the workspace's files (ui.cache hashes a Workspace by its key); the
    model's outputs come from the cache beside the workspace when a previous start (or process) wrote them.
    An out-of-core dataset's sample is drawn here, the first time a page needs its rows (opening drew none)."""
    _draw_sample(ws, dataset)
    with st.spinner(f"Scoring dataset '{dataset}'" + (f" with model '{model}'…" if model else "…")):
        got = score_cached(ws, dataset, model)
    if got.note and got.path is not None:
        _NOTES[str(got.path.parent)] = got.note
    return got.scored


def _draw_sample(ws: Workspace, dataset: str) -> None:
    """Draw (or read back) the sample of an out-of-core dataset not drawn yet, saying what is read meanwhile."""
    if not ws.is_out_of_core(dataset) or ws.samples[dataset].drawn:
        return
    from explore.engine.sample import SAMPLE_ROWS

    total = ws.samples[dataset].total
    with st.spinner(
        f"Drawing the rows of dataset {md_text(repr(dataset))} for row-level views: a sample of up to "
        f"{SAMPLE_ROWS:,} of its {total:,} rows, stratified by label — a pass over every column of its files, "
        "done once (kept beside the workspace for the next start)…",
        show_time=True,
    ):
        ws.dataset(dataset)


def scored(dataset: str | None = None, model: str | None = None, ws: Workspace | None = None) -> Scored:
    """The chosen (or given) dataset scored by the chosen (or given) model; computed once per pair (and kept
    on disk beside the workspace across restarts)."""
    ws = ws or open_current()
    dataset = dataset or selected_dataset(ws)
    if model is None:
        model = selected_model(ws)
    out = _scored(ws, dataset, model)
    _say_cache_note(ws)
    return out


def _say_cache_note(ws: Workspace) -> None:
    """Once per session: why the predictions are not kept on disk (a one-line toast), if they are not."""
    note = _NOTES.get(str(ws.config.root / CACHE_FOLDER))
    if note and not st.session_state.get(_NOTE_SHOWN):
        st.session_state[_NOTE_SHOWN] = True
        st.toast(md_text(note), icon=":material/save:")


def selected_dataset(ws: Workspace) -> str:
    name = st.session_state.get(state.DATASET)
    return name if name in ws.dataset_names else evaluation_dataset(ws)


def selected_model(ws: Workspace) -> str | None:
    if not ws.models:
        return None
    name = st.session_state.get(state.MODEL)
    return name if name in ws.models else ws.model_names[0]


@st.cache_resource(show_spinner=False)
def _store(url: str | None) -> Store:
    from explore.core.store import Store

    return Store(url)


def store() -> Store:
    """The store at EXPLORE_DB_URL (or the default SQLite file)."""
    from explore.core import settings

    return _store(settings.db_url())
