"""Opening another workspace: a workspace.toml path, uploaded model and data files, or the sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from explore.cli.commands import max_upload_mb
from explore.core.upload import UploadedFile, check_size, save_uploaded_workspace
from explore.core.upload_probe import (
    NO_COLUMN,
    column_roles,
    default_label_index,
    guess_time_column,
    is_pickle,
    probe_table,
    uploaded_untrusted_types,
)
from ui import state
from ui.boundary import shown_errors
from ui.safe import md_code, md_text

from .opening import open_path


def path_form() -> None:
    with st.form("workspace_open_form"):
        new_path = st.text_input(
            "Path to a workspace.toml (or its folder)",
            value=str(st.session_state.get(state.WS_PATH, "")),
            key="workspace_path_input",
        )
        if st.form_submit_button("Open"):
            open_path(str(Path(new_path).expanduser()))
            st.rerun()


def upload_section(*, expanded: bool) -> None:
    limit = max_upload_mb()
    with st.expander("Upload a model and data files", expanded=expanded):
        st.caption(
            f"CSV or Parquet data files and a model saved with skops (`skops.io.dump(model, 'model.skops')`); "
            f"pickle/joblib only if you trust the file. Up to {limit} MB per file (EXPLORE_MAX_UPLOAD_MB); "
            "larger files open faster through a workspace.toml."
        )
        model_file = st.file_uploader(
            "Model file (optional: without it, name prediction columns)",
            type=["skops", "joblib", "pkl", "pickle"],
            key="workspace_upload_model",
        )
        data_files = st.file_uploader(
            "Data files (each becomes a dataset named after the file)",
            type=["csv", "tsv", "parquet", "gz"],
            accept_multiple_files=True,
            key="workspace_upload_data",
        )
        if not data_files:
            return
        columns: list[str] = []
        with shown_errors(stop=False):
            for f in [*data_files, *([model_file] if model_file else [])]:
                check_size(f.name, f.size, limit)
            probed = probe_table(data_files[0].name, data_files[0].getvalue())
            columns = list(probed.columns)
        if not columns:
            return
        c1, c2, c3 = st.columns(3)
        label = c1.selectbox(
            "Label column", columns, index=default_label_index(columns), key="workspace_up_label"
        )
        guess = guess_time_column(probed, exclude=[label])
        time_options = [NO_COLUMN, *columns]
        time = c2.selectbox(
            "Time column (optional)",
            time_options,
            index=time_options.index(guess.column) if guess else 0,
            key="workspace_up_time",
        )
        if guess is not None and time == guess.column:
            c2.caption(
                md_text(f"Guessed: {guess.column} ({guess.reason}). Pick another, or {NO_COLUMN} for none.")
            )
        id_column = c3.selectbox("Id column (optional)", [NO_COLUMN, *columns], key="workspace_up_id")
        c4, c5, c6 = st.columns(3)
        task = c4.selectbox("Task", ["infer", "binary", "multiclass", "regression"], key="workspace_up_task")
        positive = c5.text_input("Positive class (binary, optional)", key="workspace_up_positive")
        prediction = c6.selectbox(
            "Prediction column (without a model)", [NO_COLUMN, *columns], key="workspace_up_prediction"
        )
        score = st.selectbox(
            "Score / probability column (optional)", [NO_COLUMN, *columns], key="workspace_up_score"
        )
        trust_pickle = False
        if model_file is not None and is_pickle(model_file.name):
            trust_pickle = st.checkbox(
                "I trust this pickle file: loading it runs any code it contains.",
                key="workspace_up_trust_pickle",
            )
        trusted = _accepted_types(model_file) if model_file is not None else []
        if st.button("Open the uploaded workspace", key="workspace_up_open", type="primary"):
            roles = column_roles(
                label=label,
                time=time,
                id_column=id_column,
                task=task,
                positive=positive,
                prediction=prediction,
                score=score,
            )
            with shown_errors():
                ws_path = save_uploaded_workspace(
                    datasets=[UploadedFile(f.name, f.getvalue()) for f in data_files],
                    model=UploadedFile(model_file.name, model_file.getvalue()) if model_file else None,
                    columns=roles,
                    trust_pickle=trust_pickle,
                    trusted_types=trusted,
                    limit_mb=limit,
                )
                open_path(str(ws_path))
                st.rerun()


def _accepted_types(model_file: Any) -> list[str]:
    """The skops types of the uploaded model the user ticks: saved in the workspace's [model] trusted_types, so
    reopening it does not ask again (they were saved as [] and asked for in every new session)."""
    types: list[str] = []
    with shown_errors(stop=False):
        types = uploaded_untrusted_types(model_file.name, model_file.getvalue())
    if not types:
        return []
    st.markdown(
        "**Types in this model file that skops does not trust by default** — tick each one you trust (only if you "
        "trust the file's origin); the ticked ones are saved with the workspace:"
    )
    return [t for t in types if st.checkbox(md_code(t), key=f"workspace_up_trust_type_{t}")]


def sample_button() -> None:
    if st.button("Back to the sample workspace", key="workspace_sample"):
        from explore.core.sample import SAMPLE_DIR, ensure_sample  # builds the sample only when asked

        open_path(str(ensure_sample(SAMPLE_DIR)))
        st.rerun()
