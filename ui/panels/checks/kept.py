"""A check's result, kept for the session (and its JSON in the store, so it survives a restart).

The rules of when a kept result still applies live in explore.checks.kept; here is only where it is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from explore.checks.kept import KeptRun, experiment_key
from explore.core.workspace import Workspace
from ui import loaders
from ui.boundary import shown_errors

from .common import ProgressBar, run_with_status


def _state_key(name: str) -> str:
    return f"checks_result_{name}"


def keep(ws: Workspace, name: str, params: dict[str, Any], result: Any) -> None:
    """Keep ``result`` of section ``name``, computed with ``params``, for this session and in the store."""
    st.session_state[_state_key(name)] = KeptRun(workspace_key=ws.key, params=params, result=result)
    stored = False
    with shown_errors(stop=False):
        loaders.store().save_experiment(
            workspace=str(ws.config.path),
            kind=f"checks-{name}",
            key=experiment_key(params),
            params=params,
            result=result.to_dict(),
        )
        stored = True
    if not stored:
        st.caption("The result could not be kept in the store; it stays available in this session.")


def kept(ws: Workspace, name: str, params: dict[str, Any]) -> Any:
    """The kept result of section ``name`` for this workspace (None if none), with a note when the settings
    on screen changed since it was computed."""
    kept_result = st.session_state.get(_state_key(name))
    if not isinstance(kept_result, KeptRun) or not kept_result.applies_to(ws.key):
        return None
    if kept_result.settings_changed(params):
        st.caption("The settings changed since the last run: run again to update the results below.")
    return kept_result.result


def run_and_keep(
    ws: Workspace,
    name: str,
    params: dict[str, Any],
    *,
    clicked: bool,
    label: str,
    run: Callable[[ProgressBar], Any],
) -> Any:
    """When ``clicked``, ``run(progress)`` under a status labelled ``label`` and keep what it returns; then the
    kept result of section ``name`` (see :func:`kept`), None when there is none."""
    if clicked:
        result = run_with_status(label, run)
        if result is not None:
            keep(ws, name, params, result)
    return kept(ws, name, params)
