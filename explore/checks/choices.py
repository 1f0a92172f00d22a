"""What the Checks page offers and proposes before a check runs: slice columns, the previous model, the
models to time, the columns that may hold logged predictions. (Which dataset plays which part is explore.core.roles' rule, not this module's.)"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explore.checks.serving_skew import logged_prediction_columns
from explore.core.workspace import Workspace


def slice_column_options(ws: Workspace) -> list[str]:
    """Columns a check can slice by: the first dataset's columns except the label, id, prediction and scores."""
    first = ws.dataset(ws.dataset_names[0])
    skip = {
        ws.columns.label,
        ws.columns.id,
        ws.columns.prediction,
        ws.columns.score,
        *ws.columns.scores.values(),
    }
    return [c for c in first.columns if c not in skip]


def suggested_slice_columns(
    ws: Workspace, *, n: int = 2, max_groups: int = 10, sample_rows: int = 10_000
) -> list[str]:
    """With no configured slice columns: the first ``n`` text features with at most ``max_groups`` groups on
    the first ``sample_rows`` rows of the first dataset."""
    first = ws.dataset(ws.dataset_names[0]).head(sample_rows)
    out: list[str] = []
    for column in ws.feature_names:
        values = first[column]
        if not pd.api.types.is_numeric_dtype(values.dtype) and values.nunique(dropna=True) <= max_groups:
            out.append(column)
        if len(out) == n:
            break
    return out


def default_previous(named: str | None, others: Sequence[str]) -> str:
    """The previous model proposed among ``others`` (the models that are not the candidate): the one the
    threshold file names, else the model called ``previous``, else the first."""
    if named in others:
        return str(named)
    return "previous" if "previous" in others else others[0]


def default_cost_models(model_names: Sequence[str]) -> list[str]:
    """Models timed by default, the candidate first: ``current`` (and ``previous`` when there is one), else the
    first two models."""
    if "current" in model_names:
        return ["current", *(m for m in ("previous",) if m in model_names)]
    return list(model_names[:2])


def logged_column_choices(ws: Workspace, dataset: str) -> tuple[list[str], list[str]]:
    """Columns of ``dataset`` that may hold the serving system's logged predictions: those named like a
    prediction (pred, score, prob, output), and every other column that is not a feature, label, id or time."""
    named = logged_prediction_columns(ws, dataset)
    roles = {ws.columns.label, ws.columns.id, ws.columns.time}
    rest = [
        c
        for c in ws.dataset(dataset).columns
        if c not in named and c not in ws.feature_names and c not in roles
    ]
    return named, rest
