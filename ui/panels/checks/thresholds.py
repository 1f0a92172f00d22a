"""The comparison's thresholds: the base they are edited from, the editor, and the file users commit."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from explore.checks import compare
from explore.checks.compare import Thresholds
from explore.checks.kept import EditorBase, file_mtime
from explore.core.workspace import Workspace
from ui.boundary import shown_errors
from ui.safe import md_text

from .common import saved_note

BASE = "checks_thresholds_base"  # EditorBase[Thresholds]: what the thresholds editor's edits are relative to
EDITOR = "checks_thresholds_editor"  # the data editor's widget key (its state holds the edits)


def thresholds_base(ws: Workspace) -> Thresholds:
    """The threshold file (re-read when it changes on disk), else the defaults for the task."""
    path = compare.default_thresholds_path(ws)
    mtime = file_mtime(path)
    base = st.session_state.get(BASE)
    if isinstance(base, EditorBase) and base.is_current(ws.key, mtime):
        return base.value
    with shown_errors(stop=False):
        read = compare.thresholds_for(ws)
        st.session_state[BASE] = EditorBase(value=read, workspace_key=ws.key, file_mtime=mtime)
        st.session_state.pop(EDITOR, None)  # the edits were relative to the old base
        return read
    return compare.default_thresholds(ws.task)


def thresholds_editor(ws: Workspace, base: Thresholds) -> pd.DataFrame:
    """The expander with the rules table; returns the edited table."""
    with st.expander(
        f"Thresholds — from {'the defaults' if base.source == 'defaults' else md_text(base.source)}",
        icon=":material/tune:",
    ):
        st.caption(
            "Allowed worsening of the candidate per metric: a number in the metric's units (0.01 = one point of accuracy) "
            'or a percentage of the other model\'s value ("5%"). vs_previous / vs_reference: against each model; gap: a '
            'slice group\'s distance to the rest of the data. A row with a dataset or slice ("device", "device = tablet", '
            "a saved slice's name) overrides the metric's default there. A cell fails when its whole interval is beyond."
        )
        return st.data_editor(
            base.rules_frame(),
            num_rows="dynamic",
            hide_index=True,
            key=EDITOR,
            column_config={
                "metric": st.column_config.SelectboxColumn(
                    "metric", options=list(compare.PAIRED_METRICS[ws.task]), required=True
                ),
                "dataset": st.column_config.TextColumn("dataset", default="*", help="* = every dataset"),
                "slice": st.column_config.TextColumn("slice", default="*", help="* = every slice"),
            },
        )


def thresholds_file_buttons(ws: Workspace, base: Thresholds, thresholds: Thresholds) -> None:
    """Save the thresholds next to workspace.toml (users commit the file), or download them."""
    path = compare.default_thresholds_path(ws)
    s1, s2 = st.columns(2)
    if s1.button(
        f"Save thresholds to {md_text(path.name)}", key="checks_thresholds_save", icon=":material/save:"
    ):
        with shown_errors(stop=False):
            compare.save_thresholds(thresholds, path)
            # The editor's edits stay relative to the same base table, so the base is kept (new source only).
            st.session_state[BASE] = EditorBase(
                value=dataclasses.replace(base, source=str(path)),
                workspace_key=ws.key,
                file_mtime=file_mtime(path),
            )
            saved_note(
                path,
                setting="thresholds",
                configured=ws.config.checks.thresholds is not None,
                commit="Commit it with your model code.",
            )
    s2.download_button(
        "Download thresholds.toml",
        thresholds.to_toml(),
        file_name="thresholds.toml",
        mime="application/toml",
        key="checks_thresholds_download",
        icon=":material/download:",
    )
