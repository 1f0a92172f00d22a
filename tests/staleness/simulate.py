"""Simulated scored rows over monthly windows with labels withheld: covariate shift only, or a planted
concept shift, for the tests of performance estimation (explore/staleness/estimation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from explore.core.workspace import Scored
from explore.staleness.windows import TimeWindows, time_windows


def scored_rows(
    y: np.ndarray, proba: np.ndarray, time: pd.Series, *, task: str, name: str = "sim", labelled: bool = True
) -> Scored:
    """A ``Scored`` from labels (class codes, -1: unknown), probabilities (rows × classes) and times."""
    n, k = proba.shape
    classes = np.array(["no", "yes"]) if task == "binary" else np.array([f"c{i}" for i in range(k)])
    return Scored(
        dataset_name=name,
        model_name="m",
        task=task,
        frame=pd.DataFrame({"x": np.zeros(n)}),
        feature_names=["x"],
        y=np.asarray(y, dtype="int64") if labelled else np.full(n, -1, dtype="int64"),
        y_raw=classes[np.clip(y, 0, None)],
        pred=proba.argmax(axis=1).astype("int64"),
        proba=proba,
        score=proba[:, 1] if task == "binary" else None,
        classes=classes,
        positive_index=1 if task == "binary" else None,
        time=time.rename("when"),
        ids=np.arange(n),
        unavailable={},
        n_unlabeled=0,
    )


def simulate(
    n: int = 24_000,
    *,
    n_windows: int = 24,
    task: str = "binary",
    concept_shift_from: int | None = None,
    seed: int = 0,
) -> tuple[Scored, TimeWindows, np.ndarray]:
    """Monthly windows whose feature mean drifts (covariate shift); the model's scores are monotone but
    miscalibrated. From window ``concept_shift_from`` on, what the feature means for the label changes.
    Returns the labelled rows, the windows and each row's true-outcome probability."""
    rng = np.random.default_rng(seed)
    month = np.sort(rng.integers(0, n_windows, n))
    start = np.datetime64("2024-01-01", "M") + month
    days = rng.integers(0, 28, n).astype("timedelta64[D]")
    time = pd.Series(start.astype("datetime64[D]") + days).astype("datetime64[ns]")
    shift = np.linspace(-0.5, 1.0, n_windows)[month]
    k = 2 if task == "binary" else 3
    x = rng.normal(shift[:, None], 1.0, (n, k - 1))
    if task == "binary":
        logit_true = 1.8 * x[:, 0] - 0.3
        if concept_shift_from is not None:
            logit_true = np.where(month >= concept_shift_from, -0.8 * x[:, 0] + 0.5, logit_true)
        p1 = special.expit(logit_true)
        y = (rng.random(n) < p1).astype("int64")
        s = special.expit(1.0 * x[:, 0] + 0.4)  # monotone, miscalibrated
        proba, truth = np.column_stack([1 - s, s]), np.column_stack([1 - p1, p1])
    else:
        logits = np.column_stack([np.zeros(n), 1.5 * x[:, 0], 1.5 * x[:, 1] - 0.5])
        if concept_shift_from is not None:
            logits = np.where((month >= concept_shift_from)[:, None], logits[:, [2, 0, 1]], logits)
        truth = special.softmax(logits, axis=1)
        y = (rng.random(n)[:, None] > np.cumsum(truth, axis=1)).sum(axis=1)
        proba = special.softmax(
            0.7 * np.column_stack([np.zeros(n), 1.5 * x[:, 0], 1.5 * x[:, 1] - 0.5]), axis=1
        )
    sc = scored_rows(y, proba, time, task=task)
    return sc, time_windows(sc.time, by="month", min_rows=20), truth
