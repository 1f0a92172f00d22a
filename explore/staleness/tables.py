"""The tables the staleness analyses are shown, downloaded and kept as evidence in.

Each function takes a result object and the window labels and returns a new frame (the result is never
modified); ``records`` turns a frame into evidence rows (CSV downloads: ``explore.report.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from explore.staleness.drift import DriftResult, InvariantsResult
from explore.staleness.experiment import PerformanceOverTime
from explore.staleness.tracking import DriftTracking
from explore.staleness.windows import TimeWindows

PERFORMANCE_EVIDENCE_COLUMNS = [
    "window",
    "label",
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "support",
    "too_few",
]
TOP_DRIFTING_SHOWN = 15
INVARIANT_COLUMNS = [
    "window",
    "label",
    "rows",
    "too_few",
    "flagged",
    "breaks",
    "max_null_increase",
    "null_feature",
    "max_out_of_range",
    "out_of_range_feature",
    "max_unseen",
    "unseen_feature",
    "nan_inputs",
    "inf_inputs",
    "nan_outputs",
    "inf_outputs",
]
INVARIANT_SHARES = ("max_null_increase", "max_out_of_range", "max_unseen")  # fractions 0..1
NONFINITE_COLUMNS = ["window", "label", "nan_inputs", "inf_inputs", "nan_outputs", "inf_outputs"]


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """``df`` as one dict per row, timestamps as ``"YYYY-MM-DD HH:MM:SS"`` text (evidence rows)."""
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
            out[c] = out[c].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out.to_dict(orient="records")


def performance_table(performance: PerformanceOverTime, sources: Sequence[str]) -> pd.DataFrame:
    """Every metric per window, with ``datasets``: the datasets each window's rows come from
    (``sources``, one entry per window, from ``window_sources``)."""
    return performance.table.assign(datasets=[sources[w] for w in performance.table["window"]])


def top_drifting(
    drift: DriftResult, tracking: DriftTracking, labels: Sequence[str], *, n: int
) -> pd.DataFrame:
    """The ``n`` features with the largest PSI over windows (``DriftResult.top_features``), the label of
    their worst window, and — when it could be computed — how their drift tracks the metric's drop
    (``tracks <metric> drop (Spearman)`` / ``(Pearson)`` columns)."""
    top = drift.top_features(measure="psi", n=n)
    if tracking.table is not None:
        top = top.merge(tracking.table[["feature", "spearman", "pearson"]], on="feature", how="left")
        top = top.rename(
            columns={
                "spearman": f"tracks {tracking.metric} drop (Spearman)",
                "pearson": f"tracks {tracking.metric} drop (Pearson)",
            }
        )
    top["worst_window"] = [labels[int(w)] for w in top["worst_window"]]
    return top


def drift_table(drift: DriftResult, labels: Sequence[str]) -> pd.DataFrame:
    """Drift per feature and window (``DriftResult.table``) with each window's label as ``window_label``."""
    return drift.table.assign(window_label=[labels[w] for w in drift.table["window"]])


def invariants_table(invariants: InvariantsResult, windows: TimeWindows) -> pd.DataFrame:
    """One row per window: its label and size, whether it breaks a threshold, the worst feature of each
    check and the NaN/inf counts (``INVARIANT_COLUMNS``, in that order; shares as fractions 0..1)."""
    table = invariants.by_window.assign(label=windows.labels, too_few=windows.too_few)
    return table[INVARIANT_COLUMNS]


def nonfinite_outputs_windows(table: pd.DataFrame, limit: int) -> int:
    """How many windows of an ``invariants_table`` have more than ``limit`` NaN/inf model outputs."""
    return int((table["nan_outputs"] + table["inf_outputs"] > limit).sum())
