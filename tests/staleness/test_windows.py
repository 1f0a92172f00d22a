"""Time windows (explore/staleness/windows.py): calendar and equal-row windows, flags, messages, joining datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.core.workspace import open_workspace, read_workspace, score
from explore.errors import AnalysisError, TimeColumnError
from explore.staleness.windows import (
    BAD_MIN_ROWS,
    BAD_N_WINDOWS,
    BAD_WINDOW_BY,
    MAX_WINDOWS,
    NO_TIME_COLUMN,
    WINDOW_BYS,
    apply_windows,
    concat_scored,
    time_windows,
    window_sources,
    windows_for,
    workspace_timeline,
)
from tests.helpers import frame, make_workspace


def _random_times(n: int, seed: int = 0, end: str = "2024-12-31 23:59") -> pd.Series:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01").value
    end = pd.Timestamp(end).value
    return pd.Series(pd.to_datetime(rng.integers(start, end, n)), name="t")


@pytest.mark.parametrize(("by", "freq"), [("day", "D"), ("week", "W-SUN"), ("month", "M"), ("quarter", "Q")])
def test_calendar_windows_match_pandas_periods(by, freq):
    t = _random_times(3000, end="2023-09-30 12:00" if by == "day" else "2024-12-31 23:59")
    w = time_windows(t, by=by, min_rows=1)
    periods = t.dt.to_period(freq)
    expected_start = periods.dt.start_time.to_numpy(dtype="datetime64[ns]")
    np.testing.assert_array_equal(w.starts[w.codes], expected_start)
    # end is exclusive: the next period's start
    np.testing.assert_array_equal(
        w.ends[w.codes], (periods + 1).dt.start_time.to_numpy(dtype="datetime64[ns]")
    )
    assert w.counts.sum() == len(t)
    n_periods = (periods.max() - periods.min()).n + 1
    assert w.n_windows == n_periods


def test_week_windows_start_on_monday_and_use_iso_labels():
    t = pd.Series(pd.to_datetime(["2024-01-03", "2024-12-30", "2025-01-01"]))
    w = time_windows(t, by="week", min_rows=1)
    assert all(pd.Timestamp(s).day_of_week == 0 for s in w.starts)
    assert w.labels[0] == "2024-W01"
    # 2024-12-30 and 2025-01-01 share ISO week 2025-W01
    assert w.codes[1] == w.codes[2] and w.labels[w.codes[1]] == "2025-W01"


def test_empty_calendar_period_is_a_flagged_window_not_dropped():
    t = pd.Series(pd.to_datetime(["2024-01-05"] * 5 + ["2024-03-10"] * 5))
    w = time_windows(t, by="month", min_rows=3)
    assert w.labels == ["2024-01", "2024-02", "2024-03"]
    np.testing.assert_array_equal(w.counts, [5, 0, 5])
    np.testing.assert_array_equal(w.too_few, [False, True, False])
    table = w.table()
    assert table.loc[1, "rows"] == 0 and bool(table.loc[1, "too_few"])


def test_small_windows_are_flagged_with_the_threshold():
    t = pd.Series(pd.to_datetime(["2024-01-01"] * 50 + ["2024-02-01"] * 99 + ["2024-03-01"] * 100))
    w = time_windows(t, by="month", min_rows=100)
    np.testing.assert_array_equal(w.too_few, [True, True, False])
    assert w.n_windows == 3  # nothing dropped


def test_equal_row_windows_are_contiguous_balanced_and_keep_ties_together():
    rng = np.random.default_rng(1)
    t = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 500, 1000), unit="h"))
    w = time_windows(t, by="rows", n_windows=8, min_rows=1)
    assert w.n_windows == 8
    # balanced up to ties at the boundaries
    assert w.counts.max() - w.counts.min() <= 20
    # contiguous in time: every row of window k is earlier than every row of window k+1
    for k in range(w.n_windows - 1):
        assert t[w.codes == k].max() < t[w.codes == k + 1].min()
    # all rows with one timestamp share a window
    assert (pd.DataFrame({"t": t, "c": w.codes}).groupby("t")["c"].nunique() == 1).all()
    assert all(" → " in label for label in w.labels)


def test_equal_row_windows_merge_when_one_timestamp_fills_several():
    t = pd.Series(pd.to_datetime(["2024-01-01"] * 90 + ["2024-01-02"] * 10))
    w = time_windows(t, by="rows", n_windows=4, min_rows=1)
    assert w.n_windows == 2  # fewer windows than asked, none empty
    np.testing.assert_array_equal(w.counts, [90, 10])


def test_missing_timestamps_get_no_window():
    t = pd.Series(pd.to_datetime(["2024-01-01", None, "2024-02-01"]))
    w = time_windows(t, by="month", min_rows=1)
    np.testing.assert_array_equal(w.codes, [0, -1, 1])
    assert w.n_missing_time == 1


@pytest.mark.parametrize(
    "values",
    [
        ["2024-01-31", "2024-02-01T10:00:00", "2024-03-01 00:00"],
        [1706659200, 1706781600, 1709251200],  # epoch seconds
        [1706659200000, 1706781600000, 1709251200000],  # epoch milliseconds
        ["2024-01-31T23:00:00-02:00", "2024-02-01T10:00:00Z", "2024-03-01T00:00:00+00:00"],
    ],
)
def test_raw_time_values_of_every_shape_are_parsed(values):
    w = time_windows(pd.Series(values, name="when"), by="month", min_rows=1)
    assert w.labels == ["2024-01", "2024-02", "2024-03"] or w.labels == ["2024-02", "2024-03"]
    assert (w.codes >= 0).all()


def test_absent_time_column_says_how_to_set_it():
    with pytest.raises(TimeColumnError) as exc:
        time_windows(None, where="dataset 'prod'")
    assert str(exc.value) == NO_TIME_COLUMN.format(where="dataset 'prod'")
    assert "[columns] time" in str(exc.value)


def test_unparseable_time_column_gives_a_message():
    with pytest.raises(TimeColumnError, match="could not be parsed as dates"):
        time_windows(pd.Series(["2024-01-01", "soon", "later", "never"], name="when"), where="x")


def test_all_missing_time_gives_a_message():
    with pytest.raises(TimeColumnError, match="no usable timestamps"):
        time_windows(pd.Series(pd.to_datetime([None, None])), by="month")


def test_bad_options_give_messages():
    t = _random_times(10)
    with pytest.raises(AnalysisError) as exc:
        time_windows(t, by="fortnight")
    assert str(exc.value) == BAD_WINDOW_BY.format(known=", ".join(WINDOW_BYS), received="fortnight")
    with pytest.raises(AnalysisError) as exc:
        time_windows(t, by="rows", n_windows=1)
    assert str(exc.value) == BAD_N_WINDOWS.format(max=MAX_WINDOWS, received=1)
    with pytest.raises(AnalysisError) as exc:
        time_windows(t, by="month", min_rows=0)
    assert str(exc.value) == BAD_MIN_ROWS.format(received=0)


def test_too_many_windows_suggests_a_longer_period():
    t = pd.Series(pd.to_datetime(["2000-01-01", "2024-01-01"]))
    with pytest.raises(AnalysisError, match="Choose a longer period"):
        time_windows(t, by="day")


def test_apply_windows_places_other_rows_and_marks_outsiders():
    t = pd.Series(pd.to_datetime(["2024-01-10", "2024-02-10", "2024-03-10"]))
    w = time_windows(t, by="month", min_rows=1)
    other = pd.Series(pd.to_datetime(["2023-12-31 00:00", "2024-02-29 23:59", "2024-04-01 00:00", None]))
    np.testing.assert_array_equal(apply_windows(w, other), [-1, 1, -1, -1])
    np.testing.assert_array_equal(apply_windows(w, t), w.codes)


def _workspace(tmp_path, **kw):
    df = frame(600, task=kw.pop("task", "binary"))
    path = make_workspace(tmp_path, datasets={"train": df.iloc[:300], "production": df.iloc[300:]}, **kw)
    return open_workspace(read_workspace(path))


def test_concat_scored_joins_datasets_in_time_order(tmp_path):
    ws = _workspace(tmp_path)
    parts = [score(ws, d) for d in ("production", "train")]  # deliberately out of order
    joined = concat_scored(parts)
    assert joined.n == sum(p.n for p in parts)
    assert joined.time.is_monotonic_increasing
    assert list(joined.frame["__dataset__"].iloc[[0, -1]]) == ["train", "production"]
    # rows stay aligned: label, prediction and probability follow the frame
    first = parts[1]
    np.testing.assert_array_equal(joined.y[: first.n], first.y)
    np.testing.assert_allclose(joined.proba[: first.n], first.proba)
    w = windows_for(joined, by="week", min_rows=1)
    assert w.counts.sum() == joined.n


def test_workspace_timeline_and_window_sources(tmp_path):
    ws = _workspace(tmp_path)
    tl = workspace_timeline(ws, ["train", "production"], columns=["age", "city"])
    assert tl.n == 600 and list(tl.frame.columns) == ["age", "city"]
    assert (np.diff(tl.time.astype("int64")) >= 0).all()
    w = time_windows(tl.time, by="month", min_rows=1)
    sources = window_sources(w, tl.source)
    assert sources[0] == "train" and sources[-1] == "production"
    assert any(s == "train+production" for s in sources) or all("+" not in s for s in sources)


def test_workspace_without_time_column_gives_a_message(tmp_path):
    ws = _workspace(tmp_path, columns={"label": "income", "id": "row_id"})
    with pytest.raises(TimeColumnError, match=r"\[columns\] time"):
        workspace_timeline(ws, ["train"], columns=["age"])
    with pytest.raises(TimeColumnError, match="needs a time column"):
        windows_for(score(ws, "train"))


def test_windows_of_training_data_are_named_as_in_sample():
    """Found on a random forest with train and validation data in time order: accuracy 1.0 for eight months,
    then 0.6 — a picture of staleness that was the training rows ending. The page names those windows."""
    from explore.staleness.windows import in_sample_note

    labels = ["2024-01", "2024-02", "2024-03", "2024-04"]
    note = in_sample_note(labels, ["train", "train+validation", "validation", "validation"], "train")
    assert note.startswith("Window(s) 2024-01 to 2024-02 hold the model's training data (dataset 'train')")
    assert "not staleness" in note and "Choose the evaluation data under Data" in note
    assert in_sample_note(labels, ["validation"] * 4, "train") is None  # held-out windows only
    assert in_sample_note(labels, ["train"] * 4, "train") is None  # nothing held out to compare with
    assert in_sample_note(labels, ["a", "b", "c", "d"], None) is None  # no training dataset
    assert in_sample_note(labels, ["training_x", "", "v", "v"], "train") is None  # a name, not a part of one
