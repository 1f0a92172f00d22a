"""The drop-column experiment as the app keeps it: its parameters, the key its result is saved under in the
store (so a result is shown again, without refitting, for the same model, data and parameters), and the
labelled training rows it refits on."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from explore.importance.explain import DropColumnResult

EXPERIMENT_KIND = "drop_column"
KEY_LENGTH = 20  # hex characters of the sha256 kept as the key (keys saved by earlier versions still match)


def drop_column_params(
    *, model: str, dataset: str, features: Sequence[str], folds: int, metric: str, max_rows: int
) -> dict[str, Any]:
    """The parameters of one drop-column run, as saved with its result (and shown in evidence)."""
    return {
        "model": model,
        "dataset": dataset,
        "features": list(features),
        "folds": int(folds),
        "metric": metric,
        "max_rows": int(max_rows),
    }


def experiment_key(params: dict[str, Any], *, model_fingerprint: str, data_fingerprint: str) -> str:
    """The store key of a drop-column result: changes with the model file, the training data and any parameter."""
    text = f"{model_fingerprint}|{data_fingerprint}|{params}"
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def load_experiment(
    store: Any, *, workspace: str, key: str
) -> tuple[DropColumnResult, dict[str, Any]] | None:
    """The result saved under ``key`` in ``store`` (``explore.core.store.Store``) with its store row
    (``created_at``, ``author``…), or None."""
    row = store.find_experiment(workspace, EXPERIMENT_KIND, key)
    if not row:
        return None
    return DropColumnResult.from_dict(row["result"]), row


def save_experiment(
    store: Any, result: DropColumnResult, *, workspace: str, key: str, params: dict[str, Any]
) -> int:
    """Keep ``result`` in ``store`` under ``key``; returns the row id."""
    return store.save_experiment(
        workspace=workspace, kind=EXPERIMENT_KIND, key=key, params=params, result=result.to_dict()
    )


def labelled_rows(
    frame: pd.DataFrame, label: str, features: Sequence[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """The feature columns and label values of the rows of ``frame`` that have a label."""
    labelled = frame[frame[label].notna()]
    return labelled[list(features)], labelled[label].to_numpy()
