"""What drift and invariants compare each window against: a dataset, or one window of the analysed rows.

A reference is named by text, as the user picks it: a dataset name, or ``"window <label>"``. The default is
the training data (``explore.core.roles.reference_dataset``).
"""

from __future__ import annotations

import pandas as pd

from explore.core.roles import reference_dataset
from explore.core.workspace import Workspace
from explore.staleness.windows import Timeline, TimeWindows

WINDOW_PREFIX = "window "


def reference_options(ws: Workspace, windows: TimeWindows) -> list[str]:
    """Every reference on offer: the workspace's datasets, then each window (``"window <label>"``)."""
    return list(ws.dataset_names) + [f"{WINDOW_PREFIX}{label}" for label in windows.labels]


def default_reference(ws: Workspace) -> str:
    """The reference used unless the user picks another: the training dataset, else the first dataset."""
    return reference_dataset(ws)


def resolve_reference(reference: str | None, ws: Workspace, windows: TimeWindows) -> str:
    """``reference`` when it still names a dataset or one of ``windows``; else the default (a remembered
    window of an earlier layout, or nothing chosen yet)."""
    if not reference:
        return default_reference(ws)
    if reference not in ws.dataset_names and reference.removeprefix(WINDOW_PREFIX) not in windows.labels:
        return default_reference(ws)
    return reference


def reference_rows(ws: Workspace, timeline: Timeline, windows: TimeWindows, reference: str) -> pd.DataFrame:
    """The reference's rows: the dataset of that name, or the timeline's rows in that window (read-only)."""
    if reference in ws.dataset_names:
        return ws.dataset(reference)
    w = windows.labels.index(reference.removeprefix(WINDOW_PREFIX))
    return timeline.frame[windows.codes == w]
