"""Before uploaded files are saved as a workspace: the first data file's columns (so the form can offer them
as column roles), the label the form proposes, and the roles it chose as ``save_uploaded_workspace`` takes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from explore.core.loading import PICKLE_SUFFIXES, read_table
from explore.core.upload import upload_root

NO_COLUMN = "—"  # what the form shows for an optional role left unset
USUAL_LABELS = ("label", "target", "y", "class", "outcome")


def probe_columns(name: str, data: bytes, *, root: Path | None = None) -> list[str]:
    """The columns of the uploaded data file ``name`` (its bytes ``data``), read as the workspace will read it.

    The file is written under ``<root>/_probe/`` (default: ``upload_root()``) so that it is read by its
    suffix exactly as a saved upload would be. Raises ``DataError`` (with the fix) when it cannot be read.
    """
    probe_dir = (root or upload_root()) / "_probe"
    probe_dir.mkdir(parents=True, exist_ok=True)
    probe = probe_dir / Path(name).name
    probe.write_bytes(data)
    return list(read_table(probe).columns)


def default_label_index(columns: Sequence[str]) -> int:
    """Position of the proposed label column: the first with a usual label name (``label``, ``target``…, any
    case), else the last column (the common convention)."""
    usual = [i for i, c in enumerate(columns) if c.lower() in USUAL_LABELS]
    return usual[0] if usual else len(columns) - 1


def is_pickle(file_name: str) -> bool:
    """Whether a model file is a pickle (``.pkl``, ``.pickle``, ``.joblib``): loading it runs its code."""
    return Path(file_name).suffix.lower() in PICKLE_SUFFIXES


def column_roles(
    *,
    label: str,
    time: str,
    id_column: str,
    task: str,
    positive: str,
    prediction: str,
    score: str,
) -> dict[str, Any]:
    """The ``[columns]`` of an upload from the form's choices: ``NO_COLUMN`` and a blank positive class are
    unset (None), the task ``"infer"`` is left to the data."""

    def chosen(value: str) -> str | None:
        return None if value == NO_COLUMN else value

    return {
        "label": label,
        "time": chosen(time),
        "id": chosen(id_column),
        "task": None if task == "infer" else task,
        "positive": positive.strip() or None,
        "prediction": chosen(prediction),
        "score": chosen(score),
    }
