"""Drift per feature × month from the engine equals explore.staleness.drift in memory (PSI, KS, JS, p-values)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from explore.engine import by_time_window
from explore.engine import drift as engine_drift
from explore.errors import AnalysisError
from explore.staleness import drift
from tests.engine.test_metrics import pair  # noqa: F401  (the fixture)

FEATURES = ["age", "hours", "city", "seg"]
FIRST_MONTH = "date_trunc('month', CAST(rows.\"when\" AS TIMESTAMP)) = TIMESTAMP '2024-01-01'"


def _memory(scored):
    months = scored.time.dt.to_period("M").dt.to_timestamp()
    ref = scored.frame[(months == pd.Timestamp("2024-01-01")).to_numpy()]
    profile = drift.reference_profile(ref, features=FEATURES)
    keys = np.sort(months.unique())
    codes = pd.Index(keys).get_indexer(months)
    return drift.drift_by_window(profile, scored.frame, codes, len(keys)), ref


def test_drift_matrix_equals_the_pandas_path(pair):  # noqa: F811
    scored, log = pair
    mem, _ = _memory(scored)
    profile = engine_drift.reference_profile(log, features=FEATURES, where=FIRST_MONTH)
    for f in FEATURES:
        np.testing.assert_array_equal(profile.features[f].ref_counts, mem.reference.features[f].ref_counts)
        if mem.reference.features[f].kind == "numeric":
            np.testing.assert_array_equal(profile.features[f].edges, mem.reference.features[f].edges)
    keys, eng = engine_drift.drift_by_window(profile, log, by_time_window(log, "month"), features=FEATURES)
    assert len(keys) == mem.n_windows > 20
    assert (eng.table["ks_method"][eng.table["kind"] == "numeric"] == "exact").all()
    for col in ("rows", "psi", "ks", "js", "distance", "p_value", "missing_share", "unseen_share"):
        np.testing.assert_allclose(eng.table[col], mem.table[col], rtol=1e-9, atol=1e-12, err_msg=col)
    assert eng.matrix("psi").shape == (4, len(keys))


def test_ks_equals_scipy_and_the_grid_is_a_close_lower_bound(pair, monkeypatch):  # noqa: F811
    scored, log = pair
    if scored.task != "binary":
        pytest.skip("one task is enough")
    _, ref = _memory(scored)
    months = scored.time.dt.to_period("M").dt.to_timestamp()
    last = scored.frame[(months == months.max()).to_numpy()]
    expected = stats.ks_2samp(ref["hours"].dropna(), last["hours"].dropna()).statistic
    profile = engine_drift.reference_profile(log, features=["hours"], where=FIRST_MONTH)
    _, eng = engine_drift.drift_by_window(profile, log, by_time_window(log, "month"), features=["hours"])
    assert eng.table["ks"].iloc[-1] == pytest.approx(expected, abs=1e-12)
    monkeypatch.setattr(engine_drift, "KS_MAX_POINTS", 10)
    monkeypatch.setattr(engine_drift, "KS_GRID", 50)
    grid_profile = engine_drift.reference_profile(log, features=["hours"], where=FIRST_MONTH)
    _, grid = engine_drift.drift_by_window(
        grid_profile, log, by_time_window(log, "month"), features=["hours"]
    )
    assert (grid.table["ks_method"] == "grid").all()
    assert (grid.table["ks"] <= eng.table["ks"] + 1e-12).all()
    assert np.nanmax(np.abs(grid.table["ks"] - eng.table["ks"])) < 0.1


def test_data_invariants_equal_the_pandas_path(pair):  # noqa: F811
    scored, log = pair
    mem_drift, _ = _memory(scored)
    months = scored.time.dt.to_period("M").dt.to_timestamp()
    codes = pd.Index(np.sort(months.unique())).get_indexer(months)
    outputs = [scored.proba] if scored.proba is not None else [scored.pred]
    thresholds = drift.InvariantThresholds(out_of_range=0.0)
    mem = drift.data_invariants(
        mem_drift.reference, scored.frame, codes, mem_drift.n_windows, outputs=outputs, output_codes=codes,
        thresholds=thresholds,
    )  # fmt: skip
    profile = engine_drift.reference_profile(log, features=FEATURES, where=FIRST_MONTH)
    _, eng = engine_drift.data_invariants(profile, log, by_time_window(log, "month"), thresholds=thresholds)
    pd.testing.assert_frame_equal(eng.by_feature, mem.by_feature, rtol=1e-9, check_dtype=False)
    pd.testing.assert_frame_equal(eng.by_window, mem.by_window, rtol=1e-9, check_dtype=False)
    assert eng.by_window["flagged"].any()  # later months leave the first month's range


@pytest.mark.parametrize("passes", [1, 3], ids=["one-pass", "a-pass-per-feature"])
def test_the_one_pass_drift_of_many_valued_features_equals_the_pandas_path_but_ks(pair, monkeypatch, passes):  # noqa: F811
    """Features above KS_MAX_POINTS are scanned: one pass writes every feature's code (bucket and KS cell in one
    small integer) into a temp table, one counts the categorical values; PSI / JS / shares as in memory, KS a
    lower bound within one grid cell's reference share. A log too big for one codes table takes a pass per batch
    of features (here: one feature each), with the same numbers."""
    scored, log = pair
    if scored.task != "binary":
        pytest.skip("one task is enough")
    mem, _ = _memory(scored)
    exact_profile = engine_drift.reference_profile(log, features=FEATURES, where=FIRST_MONTH)
    _, exact = engine_drift.drift_by_window(
        exact_profile, log, by_time_window(log, "month"), features=FEATURES
    )
    monkeypatch.setattr(engine_drift, "KS_MAX_POINTS", 2)  # every numeric feature (seg has 3 values)
    monkeypatch.setattr(engine_drift, "KS_GRID", 256)
    if passes > 1:  # room for the group and one feature's code per row
        monkeypatch.setattr(engine_drift, "CODE_BYTES", 6 * len(scored.y))
    profile = engine_drift.reference_profile(log, features=FEATURES, where=FIRST_MONTH)
    queries = []
    real_sql = type(log).sql
    monkeypatch.setattr(type(log), "sql", lambda self, q, p=None: queries.append(q) or real_sql(self, q, p))
    keys, eng = engine_drift.drift_by_window(profile, log, by_time_window(log, "month"), features=FEATURES)
    scans = [q for q in queries if "FROM grp" in q]
    assert len(scans) == 1 + passes  # the categorical values, then the numeric codes (3 numeric features)
    assert "GROUPING SETS" in scans[0] and all("TEMP TABLE _dcodes" in q for q in scans[1:])
    numeric = (eng.table["kind"] == "numeric").to_numpy()
    assert (eng.table["ks_method"][numeric] == "grid").all()
    for f in FEATURES:
        np.testing.assert_array_equal(profile.features[f].ref_counts, mem.reference.features[f].ref_counts)
    for col in ("rows", "psi", "js", "distance", "missing_share", "unseen_share"):
        a, b = eng.table[col].to_numpy(float), mem.table[col].to_numpy(float)
        if col == "distance":
            a, b = a[~numeric], b[~numeric]  # the distance of a numeric feature is its KS
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=col)
    ks, ks_exact = eng.table["ks"][numeric].to_numpy(), exact.table["ks"][numeric].to_numpy()
    assert (ks <= ks_exact + 1e-12).all()
    worst_cell = max(
        (profile.features[f].distinct[1][1:-1] - profile.features[f].distinct[1][:-2]).max()
        / profile.features[f].n_present
        for f in FEATURES
        if profile.features[f].kind == "numeric"
    )
    assert np.nanmax(ks_exact - ks) <= worst_cell + 1e-12


def test_the_first_window_as_a_time_range_selects_the_first_months_rows(pair):  # noqa: F811
    """``first_window``: the rows of ``date_trunc(month, t) = first month`` as a range on the time column (which
    the Parquet statistics can prune), so the reference profile is the same."""
    scored, log = pair
    where = engine_drift.first_window(log, "month")
    count = "SELECT count(*) FROM rows WHERE "
    assert log.sql(count + where).fetchall() == log.sql(count + FIRST_MONTH).fetchall()
    a = engine_drift.reference_profile(log, features=FEATURES, where=where)
    b = engine_drift.reference_profile(log, features=FEATURES, where=FIRST_MONTH)
    for f in FEATURES:
        np.testing.assert_array_equal(a.features[f].ref_counts, b.features[f].ref_counts)
    for unit in ("year", "quarter", "week", "day", "hour"):
        first = f"date_trunc('{unit}', CAST(rows.\"when\" AS TIMESTAMP)) = (SELECT min(date_trunc('{unit}', CAST(rows.\"when\" AS TIMESTAMP))) FROM rows)"
        assert (
            log.sql(count + engine_drift.first_window(log, unit)).fetchall()
            == log.sql(count + first).fetchall()
        )
    with pytest.raises(AnalysisError, match="calendar unit"):
        engine_drift.first_window(log, "rows")


def test_a_feature_spanning_the_whole_double_range_is_scanned_without_an_infinite_grid(tmp_path, monkeypatch):
    """A reference whose finite values reach ±1e308 (a sentinel, a unit mix-up): the KS grid's width
    (hi − lo) / KS_GRID overflowed to inf, written into the SQL as ``inf`` — a binder error on the exact and the
    sampled path alike. The width is hi / KS_GRID − lo / KS_GRID (the same double when hi − lo is finite: a power of
    two divides exactly) and PSI / JS / shares stay the pandas path's."""
    from explore.core.workspace import open_workspace, read_workspace, score
    from explore.engine import EngineSource, open_log
    from tests.engine.test_metrics import COLUMNS, month_partitions, predictions_log
    from tests.helpers import make_workspace

    df = predictions_log("binary", n=1200)
    df.loc[df.index[::97], "age"] = 1e308
    df.loc[df.index[1::89], "age"] = -1e308
    cols = {**COLUMNS["binary"], "task": "binary"}
    toml = make_workspace(tmp_path / "ws", task="binary", model=None, columns=cols, datasets={"log": df})
    ws = open_workspace(read_workspace(toml))
    scored = score(ws, "log", None)
    parts = month_partitions(df, tmp_path / "parquet")
    log = open_log(EngineSource(parts), ws.columns, task="binary", classes=ws.classes, positive=ws.classes[1])
    monkeypatch.setattr(engine_drift, "KS_MAX_POINTS", 2)  # scanned: the grid's width is used
    mem, _ = _memory(scored)
    grouping = by_time_window(log, "month")
    profile = engine_drift.reference_profile(log, features=FEATURES, where=FIRST_MONTH)
    _, exact = engine_drift.drift_by_window(profile, log, grouping, features=FEATURES)
    _, sampled = engine_drift.drift_matrix(  # every window read whole through the sampled path's copy
        log,
        grouping,
        features=FEATURES,
        reference_where=FIRST_MONTH,
        fraction=0.999999,
        min_window_rows=10**9,
    )
    for eng in (exact, sampled):
        for col in ("rows", "psi", "js", "missing_share", "unseen_share"):
            np.testing.assert_allclose(
                eng.table[col].to_numpy(float),
                mem.table[col].to_numpy(float),
                rtol=1e-9,
                atol=1e-12,
                err_msg=col,
            )
