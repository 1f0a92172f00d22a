"""The tables staleness results are shown, downloaded and kept as evidence in (explore/staleness/tables.py)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from explore.report.csv import csv_bytes
from explore.staleness.drift import InvariantThresholds, data_invariants, reference_profile
from explore.staleness.experiment import performance_over_time
from explore.staleness.tables import (
    INVARIANT_COLUMNS,
    PERFORMANCE_EVIDENCE_COLUMNS,
    drift_table,
    invariants_table,
    nonfinite_outputs_windows,
    performance_table,
    records,
    top_drifting,
)
from explore.staleness.tracking import DriftTracking, track_drift
from explore.staleness.windows import window_sources


def test_records_write_timestamps_as_text_and_leave_the_frame_alone():
    df = pd.DataFrame(
        {"start": pd.to_datetime(["2024-01-01 00:00", "2024-02-01 06:30"]), "value": [0.5, 0.25]}
    )
    rows = records(df)
    assert rows == [
        {"start": "2024-01-01 00:00:00", "value": 0.5},
        {"start": "2024-02-01 06:30:00", "value": 0.25},
    ]
    assert pd.api.types.is_datetime64_any_dtype(df["start"])


def test_csv_bytes_round_trip_without_the_index():
    df = pd.DataFrame({"window": [0, 1], "label": ["2024-01", "2024-02"]}, index=[5, 6])
    data = csv_bytes(df)
    assert data.decode("utf-8").splitlines()[0] == "window,label"
    pd.testing.assert_frame_equal(pd.read_csv(io.BytesIO(data)), df.reset_index(drop=True))


def test_performance_table_names_the_datasets_of_each_window(monthly):
    pot = performance_over_time(
        monthly.scored, monthly.windows, codes=monthly.codes, metrics=["accuracy", "F1"]
    )
    sources = window_sources(monthly.windows, monthly.timeline.source)
    table = performance_table(pot, sources)
    assert len(table) == len(pot.table) and (table["datasets"] == "production").all()
    assert "datasets" not in pot.table.columns
    assert set(PERFORMANCE_EVIDENCE_COLUMNS) <= set(table.columns)


def test_top_drifting_labels_the_worst_window_and_adds_tracking_columns(monthly):
    labels = monthly.windows.labels
    n = len(monthly.ws.feature_names)
    tracking = track_drift(
        monthly.drift, monthly.scored, monthly.windows, codes=monthly.codes, metric="accuracy"
    )
    top = top_drifting(monthly.drift, tracking, labels, n=n)
    ranked = monthly.drift.top_features(measure="psi", n=n)
    assert list(top["feature"]) == list(ranked["feature"])
    assert list(top["worst_window"]) == [labels[int(w)] for w in ranked["worst_window"]]
    spearman = top.set_index("feature")["tracks accuracy drop (Spearman)"]
    expected = tracking.table.set_index("feature")["spearman"]
    pd.testing.assert_series_equal(spearman, expected.reindex(spearman.index), check_names=False)
    assert "tracks accuracy drop (Pearson)" in top.columns
    without = top_drifting(monthly.drift, DriftTracking("accuracy", None, "too few"), labels, n=n)
    assert not any(c.startswith("tracks") for c in without.columns)
    assert list(without["worst_window"]) == list(top["worst_window"])


def test_drift_table_adds_the_window_labels(monthly):
    table = drift_table(monthly.drift, monthly.windows.labels)
    assert list(table["window_label"]) == [monthly.windows.labels[w] for w in monthly.drift.table["window"]]
    assert "window_label" not in monthly.drift.table.columns


def test_invariants_table_keeps_the_shown_columns_in_order(monthly):
    w = monthly.windows
    proba = monthly.scored.proba.copy()
    proba[:3, 0] = np.nan  # three NaN outputs in the first window
    inv = data_invariants(
        reference_profile(monthly.ws.dataset("train"), features=list(monthly.ws.feature_names)),
        monthly.timeline.frame,
        w.codes,
        w.n_windows,
        outputs=[proba],
        output_codes=monthly.codes,
        thresholds=InvariantThresholds(),
    )
    table = invariants_table(inv, w)
    assert list(table.columns) == INVARIANT_COLUMNS
    assert list(table["label"]) == w.labels and list(table["too_few"]) == list(w.too_few)
    assert table["nan_outputs"].iloc[0] == 3
    assert nonfinite_outputs_windows(table, 0) == 1
    assert nonfinite_outputs_windows(table, 3) == 0
