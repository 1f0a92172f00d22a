"""Widgets every Checks section shares: a run with a progress bar, the verdict, the downloads with the
evidence button, the predictions-only notice, and the default datasets by role."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from explore.core import roles
from explore.core.workspace import Workspace
from explore.report.csv import csv_bytes
from explore.report.markdown import markdown_report
from ui import evidence
from ui.boundary import say, shown_errors

ProgressBar = Callable[[float, str], None]


def run_with_status(label: str, fn: Callable[[ProgressBar], Any]) -> Any:
    """Run ``fn(progress)`` with a progress bar inside ``st.status``; None when it raised an ExploreError (shown)."""
    result = None
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)
        with shown_errors(stop=False):
            result = fn(lambda f, m: bar.progress(min(max(float(f), 0.0), 1.0), text=m))
        if result is None:
            status.update(label=f"{label} — stopped", state="error", expanded=True)
        else:
            status.update(label=f"{label} — done", state="complete", expanded=False)
    return result


def verdict(passed: bool | None, text: str) -> None:
    """Green when the check passes, red when it fails, amber when it cannot tell."""
    if passed is True:
        say("success", text, icon=":material/check_circle:")
    elif passed is False:
        say("error", text, icon=":material/cancel:")
    else:
        say("warning", text, icon=":material/help:")


def exports(
    name: str,
    title: str,
    summary: str,
    tables: dict[str, pd.DataFrame],
    result: dict[str, Any],
    *,
    kind: str,
    tests: list[str],
    params: dict[str, Any],
    dataset: str | None,
) -> None:
    """CSV (first table), Markdown (all tables), JSON downloads and the evidence button."""
    first = next(iter(tables.values())) if tables else pd.DataFrame()
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    c1.download_button(
        "CSV",
        csv_bytes(first),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"checks_dl_csv_{name}",
        icon=":material/download:",
    )
    c2.download_button(
        "Markdown",
        markdown_report(title, summary, tables),
        file_name=f"{name}.md",
        mime="text/markdown",
        key=f"checks_dl_md_{name}",
        icon=":material/download:",
    )
    c3.download_button(
        "JSON",
        json.dumps(result, indent=2, default=str),
        file_name=f"{name}.json",
        mime="application/json",
        key=f"checks_dl_json_{name}",
        icon=":material/download:",
    )
    with c4:
        evidence.attach_button(
            kind=kind,
            tests=tests,
            title=title,
            params=params,
            result=result,
            dataset=dataset,
            key=f"checks_evidence_{name}",
        )


def no_model(ws: Workspace, what: str) -> bool:
    """True (with a notice on how to add a model) when the workspace is predictions-only."""
    if ws.models:
        return False
    st.info(
        f"{what} needs the model file itself, and this workspace is predictions-only. Add [model] path = "
        '"model.skops" to workspace.toml to enable it.',
        icon=":material/info:",
    )
    return True


def saved_note(path: Path, *, setting: str, configured: bool, commit: str) -> None:
    """After a file was saved: where, what to commit, and how workspace.toml refers to it (when it does not)."""
    say("success", f"Saved {path}. {commit}", icon=":material/check:")
    if not configured:
        st.info("Reference it from workspace.toml so checks use it:", icon=":material/info:")
        st.code(f'[checks]\n{setting} = "{path.name}"', language="toml")


def index_of(options: Sequence[Any], value: Any) -> int:
    """The position of ``value`` in ``options`` for a widget's ``index``; 0 when it is not there."""
    return list(options).index(value) if value in options else 0


def training_default(ws: Workspace) -> str:
    """The dataset a fit or a profile starts from: the training dataset by role, else the first dataset."""
    return roles.training_dataset(ws) or ws.dataset_names[0]


def evaluation_default(ws: Workspace) -> str:
    """The dataset a check evaluates first: the first of the evaluation datasets by role."""
    return roles.evaluation_datasets(ws)[0]
