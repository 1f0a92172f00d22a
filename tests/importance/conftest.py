"""A small scored dataset with its fitted model, for the tests of what the Importance page decides."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from explore.core.workspace import Scored


def _scored(task: str = "binary", n: int = 60) -> tuple[Scored, object]:
    """Columns x, z (numeric features) and city (a slice column); in binary, row 0 is one the model could not
    score (prediction -1)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "z": rng.normal(size=n), "city": rng.choice(["a", "b"], n)}
    )
    if task == "regression":
        y_raw = 3 * frame["x"].to_numpy() + rng.normal(0, 0.1, n)
        model = LinearRegression().fit(frame[["x", "z"]], y_raw)
        y, pred, classes = y_raw, model.predict(frame[["x", "z"]]), None
    else:
        y_raw = np.where(frame["x"] + rng.normal(0, 0.5, n) > 0, "yes", "no")
        model = LogisticRegression().fit(frame[["x", "z"]], y_raw)
        classes = np.asarray(model.classes_)
        y = (y_raw == "yes").astype(int)
        pred = (model.predict(frame[["x", "z"]]) == "yes").astype(int)
        pred[0] = -1
    sc = Scored(
        dataset_name="validation",
        model_name="current",
        task=task,
        frame=frame,
        feature_names=["x", "z"],
        y=y,
        y_raw=y_raw,
        pred=pred,
        proba=None,
        score=None,
        classes=classes,
        positive_index=1 if classes is not None else None,
        time=None,
        ids=np.arange(n) + 100,
        unavailable={},
        n_unlabeled=0,
    )
    return sc, model


@pytest.fixture
def small_scored() -> Callable[..., tuple[Scored, object]]:
    """``small_scored(task="binary")`` → (Scored, fitted model)."""
    return _scored
