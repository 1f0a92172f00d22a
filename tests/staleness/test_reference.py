"""What drift and invariants compare against (explore/staleness/reference.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from explore.core.workspace import open_workspace, read_workspace
from explore.staleness.reference import (
    default_reference,
    reference_options,
    reference_rows,
    resolve_reference,
)
from explore.staleness.windows import time_windows, workspace_timeline
from tests.helpers import frame, make_workspace


def _names(*names: str, roles: dict[str, str] | None = None) -> SimpleNamespace:
    """A stand-in workspace: only the dataset names and declared roles matter to the reference rule."""
    config = SimpleNamespace(datasets={n: f"{n}.csv" for n in names}, dataset_roles=roles or {})
    return SimpleNamespace(dataset_names=list(names), config=config)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    df = frame(600, seed=1)
    path = make_workspace(
        tmp_path_factory.mktemp("ref"), datasets={"train": df.iloc[:300], "production": df.iloc[300:]}
    )
    return open_workspace(read_workspace(path))


def test_default_reference_is_the_training_data_else_the_first_dataset():
    assert default_reference(_names("validation", "train", "production")) == "train"
    assert default_reference(_names("validation", "Training")) == "Training"
    assert default_reference(_names("validation", "production")) == "validation"


def test_declared_training_role_is_the_default_reference():
    ws = _names("fit_2023", "holdout", roles={"fit_2023": "train", "holdout": "evaluation"})
    assert default_reference(ws) == "fit_2023"


def test_options_are_the_datasets_then_each_window(ws):
    tl = workspace_timeline(ws, ["production"], columns=["age"])
    w = time_windows(tl.time, by="month", min_rows=1)
    options = reference_options(ws, w)
    assert options[:2] == ["train", "production"]
    assert options[2:] == [f"window {label}" for label in w.labels]
    assert default_reference(ws) in options


def test_a_window_of_an_earlier_layout_falls_back_to_the_default(ws):
    """Regression: a reference remembered from monthly windows named no window once the windows were weeks."""
    tl = workspace_timeline(ws, ["production"], columns=["age"])
    months = time_windows(tl.time, by="month", min_rows=1)
    weeks = time_windows(tl.time, by="week", min_rows=1)
    remembered = f"window {months.labels[0]}"
    assert resolve_reference(remembered, ws, months) == remembered
    assert resolve_reference(remembered, ws, weeks) == "train"
    assert resolve_reference(None, ws, weeks) == "train"
    assert resolve_reference("", ws, weeks) == "train"
    assert resolve_reference("production", ws, weeks) == "production"
    assert resolve_reference("a dataset since removed", ws, weeks) == "train"


def test_reference_rows_are_the_dataset_or_the_rows_of_one_window(ws):
    tl = workspace_timeline(ws, ["train", "production"], columns=["age", "city"])
    w = time_windows(tl.time, by="month", min_rows=1)
    pd.testing.assert_frame_equal(reference_rows(ws, tl, w, "production"), ws.dataset("production"))
    rows = reference_rows(ws, tl, w, f"window {w.labels[2]}")
    assert len(rows) == w.counts[2]
    pd.testing.assert_frame_equal(rows, tl.frame[w.codes == 2])
    assert (np.asarray(tl.time)[rows.index] >= w.starts[2]).all()
