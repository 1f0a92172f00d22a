"""Before uploaded files are saved as a workspace: the first data file's columns (so the form can offer them
as column roles), the label the form proposes, and the roles it chose as ``save_uploaded_workspace`` takes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from explore.core.loading import PICKLE_SUFFIXES, read_table
from explore.core.upload import upload_root

NO_COLUMN = "—"  # what the form shows for an optional role left unset
USUAL_LABELS = ("label", "target", "y", "class", "outcome")


# A number is read as a time only in a column named like one (a count or an amount can fall in the same range):
# ts, time, timestamp, epoch, date, datetime, created_at, event_ts, order_time, …
TIME_NAME = re.compile(r"(^|_)(ts|time|timestamp|epoch|date|datetime|at)$", re.IGNORECASE)
# Epoch seconds, milliseconds, microseconds and nanoseconds from 1973 to 2286 (each unit's own range).
EPOCH_RANGES = {"s": (1e8, 1e10), "ms": (1e11, 1e13), "us": (1e14, 1e16), "ns": (1e17, 1e19)}
TIME_SAMPLE = 200  # values of a text column tried as ISO dates


def probe_table(name: str, data: bytes, *, root: Path | None = None) -> pd.DataFrame:
    """The uploaded data file ``name`` (its bytes ``data``), read as the workspace will read it.

    The file is written under ``<root>/_probe/`` (default: ``upload_root()``) so that it is read by its
    suffix exactly as a saved upload would be. Raises ``DataError`` (with the fix) when it cannot be read.
    """
    probe_dir = (root or upload_root()) / "_probe"
    probe_dir.mkdir(parents=True, exist_ok=True)
    probe = probe_dir / Path(name).name
    probe.write_bytes(data)
    return read_table(probe)


def probe_columns(name: str, data: bytes, *, root: Path | None = None) -> list[str]:
    """The columns of the uploaded data file (see :func:`probe_table`)."""
    return list(probe_table(name, data, root=root).columns)


@dataclass(frozen=True)
class TimeGuess:
    """The column the form proposes as the time column, and why (shown beside it: it was guessed)."""

    column: str
    reason: str


def _epoch_unit(values: pd.Series) -> str | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return None
    lo, hi = float(v.min()), float(v.max())
    return next((unit for unit, (a, b) in EPOCH_RANGES.items() if a <= lo and hi < b), None)


def _iso_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).str.strip().head(TIME_SAMPLE)
    if sample.empty or not sample.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    # utc=True: times with different UTC offsets (+02:00 beside Z) are one column of instants, as the workspace
    # reads them (explore.core.timeparse); without it pandas raised "Mixed timezones detected" in the form.
    return bool(pd.to_datetime(sample, format="ISO8601", errors="coerce", utc=True).notna().all())


def guess_time_column(frame: pd.DataFrame, *, exclude: Sequence[str] = ()) -> TimeGuess | None:
    """The first column that holds times — a datetime column, text whose values are ISO dates (2024-05-01,
    2024-05-01T12:00…), or numbers in a column named like a time (``ts``, ``timestamp``, ``created_at``…) in
    the range of epoch seconds / ms / µs / ns — else None. ``exclude``: columns with another role (the label)."""
    candidates = [c for c in frame.columns if c not in set(exclude)]
    for column in candidates:
        if pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
            return TimeGuess(str(column), "its values are dates and times")
    for column in candidates:
        values = frame[column]
        if (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)) and _iso_dates(values):
            return TimeGuess(str(column), "its values are ISO dates")
    for column in candidates:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)
        if numeric and TIME_NAME.search(str(column)) and (unit := _epoch_unit(values)):
            words = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}[unit]
            return TimeGuess(str(column), f"it is named like a time and holds epoch {words}")
    return None


def default_label_index(columns: Sequence[str]) -> int:
    """Position of the proposed label column: the first with a usual label name (``label``, ``target``…, any
    case), else the last column (the common convention)."""
    usual = [i for i, c in enumerate(columns) if c.lower() in USUAL_LABELS]
    return usual[0] if usual else len(columns) - 1


def is_pickle(file_name: str) -> bool:
    """Whether a model file is a pickle (``.pkl``, ``.pickle``, ``.joblib``): loading it runs its code."""
    return Path(file_name).suffix.lower() in PICKLE_SUFFIXES


def uploaded_untrusted_types(file_name: str, data: bytes) -> list[str]:
    """The types an uploaded ``.skops`` model holds that skops does not trust by default (sorted; [] for another
    format), for the upload form to ask about before saving: the accepted ones are written to the workspace's
    ``[model] trusted_types``, so reopening the workspace does not ask again."""
    from explore.core.loading import SKOPS_SUFFIXES, untrusted_types

    if Path(file_name).suffix.lower() not in SKOPS_SUFFIXES:
        return []
    return untrusted_types(file_name, data=data)


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
