"""Freeze an analysis result as evidence for ML Test Score tests (the Rubric page proposes them)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.boundary import say

from . import identity, loaders


def attach_button(
    *,
    kind: str,
    tests: list[str],
    title: str,
    params: dict[str, Any],
    result: dict[str, Any],
    dataset: str | None,
    key: str,
) -> int | None:
    """A button that stores a frozen snapshot (result, parameters, model and data fingerprints, time).

    ``tests`` are rubric ids such as ``"model-6"``. Returns the snapshot id once attached.
    """
    label = f"Attach as evidence for {', '.join(t.replace('-', ' ').title() for t in tests)}"
    if st.button(
        label,
        key=key,
        icon=":material/attach_file:",
        help="Freezes this result so the Rubric page can propose it.",
    ):
        ws = loaders.open_current()
        model = loaders.selected_model(ws)
        snapshot_id = loaders.store().add_snapshot(
            workspace=str(ws.config.path),
            kind=kind,
            tests=tests,
            title=title,
            params=params,
            result=result,
            model_fingerprint=ws.model_fingerprint(model) if model else "predictions-only",
            data_fingerprint=ws.data_fingerprint(dataset) if dataset else "",
            source="app",
            author=identity.recording_author(),
        )
        say("success", f"Attached as evidence #{snapshot_id}: {title}", icon=":material/check:")
        return snapshot_id
    return None
