"""AppTest: on a big out-of-core log (issue 14: the app on 100M rows) the pages' first view runs only what is
needed to draw them; an analysis that reads every value of every feature (drift, invariants) waits for the
user's button, says why, and once asked is shown (and cached) as on a small log."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import explore
from tests.app.test_engine_workspace import ROWS, _captions
from tests.conftest import assert_no_exception, unescaped
from tests.engine.test_metrics import predictions_log
from tests.engine.test_workspace import _partitioned, _toml


@pytest.fixture
def big_log(tmp_path, monkeypatch):
    """The small test log, with the threshold set so that the pages treat it as a big one."""
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    monkeypatch.setattr("ui.panels.staleness.drift.ON_LOAD_VALUES", 0)
    _partitioned(tmp_path, predictions_log("binary", ROWS))
    _toml(tmp_path, 'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }')
    return tmp_path / "workspace.toml"


@pytest.fixture
def engine_calls(monkeypatch):
    """The engine analyses the page ran (names of ui.engine_cached's functions)."""
    from ui import engine_cached

    calls: list[str] = []
    for name in ("drift", "invariants", "performance"):
        real = getattr(engine_cached, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(engine_cached, name, counted)
    return calls


def _has_drift_table(at) -> bool:
    return any("psi" in d.value.columns for d in at.dataframe)


def test_drift_and_invariants_wait_for_their_buttons_on_a_big_log(make_app, big_log, engine_calls):
    at = make_app("views/staleness.py", workspace=big_log)
    assert_no_exception(at)
    assert "performance" in engine_calls and "drift" not in engine_calls and "invariants" not in engine_calls
    assert not _has_drift_table(at)
    text = _captions(at)
    ws = explore.open(big_log)
    n_features = len([f for f in ws.feature_names if f != ws.columns.time])
    assert (
        f"Drift per feature reads every value of {n_features} features in all {ROWS:,} rows of 'log'" in text
    )
    assert "so it runs when you ask" in text
    # The performance over time is drawn at once, on every row.
    assert "by calendar month, computed by the engine" in text

    at.button(key="staleness_engine_drift_run").click().run()
    assert_no_exception(at)
    assert "drift" in engine_calls and "invariants" not in engine_calls
    assert _has_drift_table(at)
    assert "against the first month" in _captions(at)

    at.button(key="staleness_engine_invariants_run").click().run()
    assert_no_exception(at)
    assert "invariants" in engine_calls
    assert "windows break an invariant" in _captions(at)
    # Once asked, both stay on the page across reruns; a threshold change recomputes without asking again.
    at.number_input(key="staleness_th_null").set_value(10.0).run()
    assert_no_exception(at)
    assert _has_drift_table(at) and "windows break an invariant" in _captions(at)


def test_changed_windows_ask_again(make_app, big_log, engine_calls):
    at = make_app("views/staleness.py", workspace=big_log)
    at.button(key="staleness_engine_drift_run").click().run()
    assert _has_drift_table(at)
    at.selectbox(key="staleness_window_by").set_value("rows").run()
    at.number_input(key="staleness_n_windows").set_value(5).run()
    assert_no_exception(at)
    assert not _has_drift_table(at)  # other windows: another pass over every row, asked for again
    assert at.button(key="staleness_engine_drift_run")


def test_a_small_log_shows_drift_at_once(make_app, big_log, engine_calls, monkeypatch):
    monkeypatch.setattr("ui.panels.staleness.drift.ON_LOAD_VALUES", 50_000_000)
    at = make_app("views/staleness.py", workspace=big_log)
    assert_no_exception(at)
    assert {"drift", "invariants"} <= set(engine_calls)
    assert _has_drift_table(at)


def test_the_overall_metrics_are_kept_beside_the_workspace(big_log, logs_opened):
    """The Workspace page's engine metrics: a pass over every row once per version of the files, then read back
    (a restart draws the page without opening the log)."""
    import streamlit as st

    from explore.core.workspace import open_workspace, read_workspace
    from explore.engine.metrics import overall_metrics
    from ui import engine_cached

    opened, real = logs_opened, logs_opened.real
    ws = open_workspace(read_workspace(big_log))
    engine_cached._shared_log.clear()
    st.cache_data.clear()
    first = engine_cached.overall(ws, "log")
    assert opened == ["log"]
    engine_cached._shared_log.clear()  # a new server process: nothing in memory
    st.cache_data.clear()
    again = engine_cached.overall(ws, "log")
    assert opened == ["log"]  # read from beside the workspace
    with real(ws, "log") as log:
        direct = overall_metrics(log, confidence=engine_cached.CONFIDENCE)
    pd.testing.assert_frame_equal(again.reset_index(drop=True), direct.reset_index(drop=True))
    pd.testing.assert_frame_equal(first.reset_index(drop=True), direct.reset_index(drop=True))
    # New files: computed again.
    part = sorted((big_log.parent / "logs").rglob("*.parquet"))[0]
    part.touch()
    os.utime(part, ns=(part.stat().st_atime_ns, part.stat().st_mtime_ns + 1_000_000_000))
    st.cache_data.clear()
    engine_cached._shared_log.clear()
    engine_cached.overall(ws, "log")
    assert opened == ["log", "log"]
    engine_cached._shared_log.clear()


def test_the_unfiltered_slice_report_reads_the_files_once(big_log, monkeypatch):
    """The Slices page's first view (no filter): every row is the slice, so the report takes every row's metrics
    from the slice's pass instead of a second pass — the same numbers as the engine's overall metrics."""
    from explore.core.workspace import open_workspace, read_workspace
    from explore.engine import report
    from explore.engine.metrics import overall_metrics
    from explore.slices.definition import SliceDefinition

    ws = open_workspace(read_workspace(big_log))
    with ws.log("log") as log:
        direct = overall_metrics(log)
        passes = []
        real = report.overall_metrics
        monkeypatch.setattr(report, "overall_metrics", lambda *a, **k: passes.append(1) or real(*a, **k))
        rep = report.slice_report(log, SliceDefinition(()))
        assert not passes
        got = rep.comparison.set_index("metric")
        want = direct.set_index("metric").loc[got.index]
        np.testing.assert_allclose(got["overall"], want["value"], rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(got["overall_low"], want["ci_low"], rtol=1e-12, equal_nan=True)
        assert (got["slice_support"] == want["support"]).all()


def test_the_first_views_are_prepared_in_the_background(big_log, monkeypatch):
    """Opening an out-of-core dataset starts the Slices and Staleness pages' first passes in a thread; the pages
    then read the results from the cache instead of computing them (each once)."""
    import streamlit as st

    from explore.core.workspace import open_workspace, read_workspace
    from explore.engine import metrics as engine_metrics
    from explore.engine import report
    from explore.slices.definition import SliceDefinition
    from ui import engine_cached

    reports, windows = [], []
    real_report, real_grouped = report.slice_report, engine_metrics.grouped_metrics
    monkeypatch.setattr(report, "slice_report", lambda *a, **k: reports.append(1) or real_report(*a, **k))

    def grouped(log, grouping=None, **kwargs):
        if grouping is not None and grouping.names == ("window",):
            windows.append(1)
        return real_grouped(log, grouping, **kwargs)

    monkeypatch.setattr(engine_metrics, "grouped_metrics", grouped)
    st.cache_data.clear()
    engine_cached._shared_log.clear()
    ws = open_workspace(read_workspace(big_log))
    thread = engine_cached.prepare_first_views(ws, "log")
    assert thread is not None and engine_cached.prepare_first_views(ws, "log") is None  # once
    thread.join(timeout=120)
    assert reports == [1] and windows == [1]
    rep = engine_cached.slice_report(ws, "log", SliceDefinition(()))
    perf = engine_cached.performance(
        ws, "log", engine_cached.FIRST_VIEW_UNIT, engine_cached.FIRST_VIEW_WINDOWS
    )
    assert reports == [1] and windows == [1]  # read from the cache
    assert rep.n_rows == ROWS and perf.table["support"].max() > 0
    assert not ws.samples["log"].drawn  # a small log: the sample waits for the first page that needs rows
    engine_cached._shared_log.clear()


def test_a_big_logs_sample_is_drawn_after_the_first_views_in_the_background(monkeypatch, big_log, draws):
    """Above PREFETCH_SAMPLE_ROWS rows the thread then draws the row-level sample (once), so the Slices page's rows
    are there when the user opens it; the page's own ask gets the same sample without another draw."""
    import streamlit as st

    from explore.core.workspace import open_workspace, read_workspace
    from ui import engine_cached

    monkeypatch.setattr(engine_cached, "PREFETCH_SAMPLE_ROWS", 0)
    st.cache_data.clear()
    engine_cached._shared_log.clear()
    ws = open_workspace(read_workspace(big_log))
    assert not ws.samples["log"].drawn
    thread = engine_cached.prepare_first_views(ws, "log")
    thread.join(timeout=120)
    assert ws.samples["log"].drawn and len(draws) <= 1  # drawn, or read back from where it was kept
    frame = ws.dataset("log")
    assert 0 < len(frame) <= ROWS and len(draws) <= 1
    engine_cached._shared_log.clear()


def test_the_prepared_windows_are_the_staleness_pages_first_choice(make_app, big_log):
    from ui import engine_cached

    at = make_app("views/staleness.py", workspace=big_log)
    assert_no_exception(at)
    assert at.selectbox(key="staleness_window_by").value == engine_cached.FIRST_VIEW_UNIT
    assert at.number_input(key="staleness_n_windows").value == engine_cached.FIRST_VIEW_WINDOWS


def test_drift_on_a_row_sample_says_so_and_reads_every_row_when_asked(make_app, big_log, monkeypatch):
    """Above explore.engine.drift.DRIFT_EXACT_ROWS (lowered here) the page's drift is the sample's, says so with
    the sample's counts, and its button computes the exact matrix."""
    monkeypatch.setattr("explore.engine.drift.DRIFT_EXACT_ROWS", 100)
    monkeypatch.setattr("explore.engine.drift.DRIFT_SAMPLE_ROWS", ROWS // 4)
    monkeypatch.setattr("explore.engine.drift.MIN_WINDOW_ROWS", 5)
    at = make_app("views/staleness.py", workspace=big_log)
    assert_no_exception(at)
    assert "and measures them on a uniform sample of the rows" in _captions(at)
    at.button(key="staleness_engine_drift_run").click().run()
    assert_no_exception(at)
    text = _captions(at)
    assert (
        "Drift estimated on a uniform 1-in-4 sample of rows (" in text
        and f" of {ROWS:,}; smallest window " in text
    )
    assert "p-values use the sample's row counts" in text
    table = next(d.value for d in at.dataframe if "psi" in d.value.columns)
    n_features = table["feature"].nunique()
    used = int(table["rows"].sum()) // n_features
    assert ROWS / 4 - 60 < used < ROWS / 4 + 60  # the hash keeps a quarter of the rows, spread evenly
    assert f"Drift estimated on a uniform 1-in-4 sample of rows ({used:,} of {ROWS:,};" in text
    exact = at.button(key="staleness_engine_drift_exact_run")
    assert unescaped(exact.label).startswith("Compute on every row (≈ ") and unescaped(exact.label).endswith(
        " s)"
    )

    exact.click().run()
    assert_no_exception(at)
    text = _captions(at)
    assert "Drift estimated" not in text and "Every row of 'log'" in text
    table = next(d.value for d in at.dataframe if "psi" in d.value.columns)
    assert int(table["rows"].sum()) == ROWS * n_features
    assert not any(b.key == "staleness_engine_drift_exact_run" for b in at.button)
