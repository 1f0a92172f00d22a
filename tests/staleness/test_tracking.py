"""Whose drift follows the performance drop (explore/staleness/tracking.py)."""

from __future__ import annotations

import pandas as pd

from explore.staleness.drift import TOO_FEW_FOR_TRACKING, drift_metric_tracking
from explore.staleness.experiment import performance_over_time
from explore.staleness.tracking import track_drift
from explore.staleness.windows import time_windows


def test_tracking_correlates_each_feature_with_the_metric_per_window(monthly):
    tracking = track_drift(
        monthly.drift, monthly.scored, monthly.windows, codes=monthly.codes, metric="accuracy"
    )
    assert tracking.reason == "" and tracking.metric == "accuracy"
    pot = performance_over_time(monthly.scored, monthly.windows, codes=monthly.codes, metrics=["accuracy"])
    expected = drift_metric_tracking(
        monthly.drift,
        pot.series("accuracy").set_index("window")["value"],
        higher_is_better=True,
        usable=~monthly.windows.too_few,
    )
    pd.testing.assert_frame_equal(tracking.table, expected)
    assert set(tracking.table["feature"]) == set(monthly.ws.feature_names)


def test_lower_is_better_metrics_track_the_rise(monthly):
    mae_like = track_drift(
        monthly.drift, monthly.scored, monthly.windows, codes=monthly.codes, metric="log loss"
    )
    assert mae_like.table is not None and mae_like.reason == ""


def test_too_few_usable_windows_give_the_reason_instead_of_a_table(monthly):
    few = time_windows(monthly.timeline.time, by="month", min_rows=10_000)  # every window flagged
    codes = monthly.codes
    tracking = track_drift(monthly.drift, monthly.scored, few, codes=codes, metric="accuracy")
    assert tracking.table is None
    assert tracking.reason == TOO_FEW_FOR_TRACKING.format(need=4, n=0)


def test_an_unknown_metric_gives_the_reason(monthly):
    tracking = track_drift(
        monthly.drift, monthly.scored, monthly.windows, codes=monthly.codes, metric="vibes"
    )
    assert tracking.table is None and "Unknown metric 'vibes'" in tracking.reason
