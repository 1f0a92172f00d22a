"""A small workspace cut into monthly windows, shared by the tests of the staleness page's building blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from explore.core.workspace import Scored, Workspace, open_workspace, read_workspace, score
from explore.staleness.drift import DriftResult, drift_by_window, reference_profile
from explore.staleness.windows import Timeline, TimeWindows, apply_windows, time_windows, workspace_timeline
from tests.helpers import frame, make_workspace


@dataclass(frozen=True)
class Monthly:
    ws: Workspace
    timeline: Timeline  # production's features and label
    windows: TimeWindows  # calendar months of production
    scored: Scored  # production scored by the model
    codes: np.ndarray  # the window of each scored row
    drift: DriftResult  # production's features per window against train


@pytest.fixture(scope="module")
def monthly(tmp_path_factory) -> Monthly:
    df = frame(1600, seed=5)  # 6-hourly rows: ~13 months
    path = make_workspace(
        tmp_path_factory.mktemp("monthly"), datasets={"train": df.iloc[:400], "production": df.iloc[400:]}
    )
    ws = open_workspace(read_workspace(path))
    tl = workspace_timeline(ws, ["production"], columns=[*ws.feature_names, ws.columns.label])
    w = time_windows(tl.time, by="month", min_rows=20)
    sc = score(ws, "production")
    profile = reference_profile(ws.dataset("train"), features=list(ws.feature_names), name="train")
    return Monthly(
        ws=ws,
        timeline=tl,
        windows=w,
        scored=sc,
        codes=apply_windows(w, sc.time),
        drift=drift_by_window(profile, tl.frame, w.codes, w.n_windows),
    )
