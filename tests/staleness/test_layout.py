"""The window layout as one value (explore/staleness/layout.py) and the experiment defaults it implies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.errors import TimeColumnError
from explore.staleness.experiment import MIN_CUTOFFS
from explore.staleness.layout import (
    ALL_DATASETS,
    WindowSpec,
    default_cutoffs,
    default_span,
    layout_id,
    spec_windows,
    timeline_columns,
)
from explore.staleness.windows import Timeline, time_windows


def _timeline(n: int = 400, *, unlabelled_every: int = 4) -> Timeline:
    t = pd.date_range("2024-01-01", periods=n, freq="D").to_numpy(dtype="datetime64[ns]")
    y = np.where(np.arange(n) % 2, "yes", "no").astype(object)
    y[::unlabelled_every] = None
    frame = pd.DataFrame({"x": np.arange(n, dtype=float), "y": y})
    return Timeline(frame=frame, time=t, source=np.full(n, "train", dtype=object), datasets=["train"])


def test_spec_names_its_rows_and_is_a_cache_identity():
    one = WindowSpec(("validation",), "month", 12, 100)
    both = WindowSpec(("train", "validation"), "month", 12, 100)
    assert one.name == "validation" and both.name == ALL_DATASETS
    assert both.where == "train + validation"
    assert one == WindowSpec(("validation",), "month", 12, 100)
    assert one != WindowSpec(("validation",), "month", 12, 100, labelled_only=True)
    assert len({one, both, WindowSpec(("validation",), "month", 12, 100)}) == 2
    with pytest.raises(AttributeError):
        one.by = "week"  # frozen: a cached result cannot be re-labelled


def test_spec_windows_equal_time_windows_over_the_same_rows():
    tl = _timeline()
    spec = WindowSpec(("train",), "month", 12, 10)
    w = spec_windows(tl, spec, label="y")
    expected = time_windows(tl.time, by="month", n_windows=12, min_rows=10)
    np.testing.assert_array_equal(w.codes, expected.codes)
    assert w.labels == expected.labels and w.counts.sum() == tl.n


def test_labelled_only_windows_count_the_labelled_rows():
    tl = _timeline()
    labelled = tl.frame["y"].notna().to_numpy()
    w = spec_windows(tl, WindowSpec(("train",), "month", 12, 10, labelled_only=True), label="y")
    assert len(w.codes) == labelled.sum() == 300
    expected = time_windows(tl.time[labelled], by="month", min_rows=10)
    np.testing.assert_array_equal(w.counts, expected.counts)


def test_spec_windows_name_the_datasets_in_their_messages():
    tl = _timeline()
    no_times = np.full(tl.n, np.datetime64("NaT"), dtype="datetime64[ns]")
    tl = Timeline(frame=tl.frame, time=no_times, source=tl.source, datasets=["train", "production"])
    with pytest.raises(TimeColumnError, match="train \\+ production"):
        spec_windows(tl, WindowSpec(("train", "production"), "month", 12, 10), label="y")


def test_timeline_columns_are_the_features_then_the_label_each_once():
    class Columns:
        label = "y"

    class Ws:
        feature_names = ["a", "y", "b"]
        columns = Columns()

    assert timeline_columns(Ws()) == ["a", "y", "b"]
    Ws.feature_names = ["a", "b"]
    assert timeline_columns(Ws()) == ["a", "b", "y"]


@pytest.mark.parametrize(("n_windows", "span"), [(2, 1), (5, 1), (8, 2), (24, 6), (400, 6)])
def test_default_span_is_a_quarter_of_the_windows_between_1_and_6(n_windows, span):
    assert default_span(n_windows) == span


def test_default_cutoffs_leave_a_training_span_before_and_a_window_after():
    assert default_cutoffs(24, 6) == [6, 10, 14]  # 0 %, 25 %, 50 % of the valid range 6..22
    for n in range(3, 40):
        for span in range(1, n):
            cut = default_cutoffs(n, span)
            assert all(span <= c < n - 1 for c in cut)
            assert cut == sorted(set(cut))
            valid = max(0, n - 1 - span)
            assert len(cut) == (valid if valid <= MIN_CUTOFFS else 3)


def test_layout_id_changes_with_the_window_labels():
    assert layout_id(["2024-01", "2024-02"]) == layout_id(["2024-01", "2024-02"])
    assert layout_id(["2024-01", "2024-02"]) != layout_id(["2024-W01", "2024-W02"])
