"""The one code per row of a scanned drift feature decodes to the in-memory PSI bucket and the KS grid cell.

Values sit on the bucket edges, one double above them, outside the reference range, at ±inf, NaN and NULL; the
bucket of every row must be ``explore.staleness.drift.numeric_buckets``' and its cell the grid's, counted the way
``drift_by_window`` counts them (a ``GROUP BY`` of group and code over the temp table; NULL has no code)."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest

from explore.engine.drift import _Cells, _Code
from explore.staleness import drift


def _engine():
    con = duckdb.connect()
    return SimpleNamespace(con=con, sql=lambda q, p=None: con.execute(q, p or []))


def _cells_numpy(v: np.ndarray, c: _Cells) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        pos = np.floor((v - c.lo) / c.width)
    return np.clip(np.nan_to_num(pos, nan=c.n), -1, c.n).astype("int64") + 1


@pytest.mark.parametrize(
    "edges",
    [
        np.array([-2.0, -0.5, 0.1, 0.3, 1.7, 2.5]),  # the usual: several buckets
        np.array([0.0, 1.0]),  # one bucket, no inner edge
        np.array([0.7]),  # every reference value the same
        np.array([-1e-300, 0.0, 1e-300]),  # edges closer than a cell
    ],
    ids=["buckets", "one-bucket", "one-value", "tiny-buckets"],
)
def test_codes_decode_to_the_in_memory_buckets_and_the_grid_cells(edges):
    lo, hi = float(edges[0]), float(edges[-1])
    n = 64
    cells = _Cells(lo, hi, (hi - lo) / n if hi > lo else 1.0, n)
    code = _Code(cells, edges)
    rng = np.random.default_rng(0)
    at = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    spread = rng.uniform(lo - 1.0, hi + 1.0, 300)
    values = np.concatenate([at, spread, [np.inf, -np.inf, np.nan, hi + 10.0, lo - 10.0]])
    groups = rng.integers(0, 3, values.size)
    frame = pd.DataFrame({"g": groups, "v": values})
    frame.loc[len(frame)] = [1, None]  # NULL as well as NaN
    eng = _engine()
    eng.con.register("src", frame)
    r = eng.sql(
        f"SELECT g, coalesce(k, -1) AS k, count(*) AS n FROM (SELECT g, {code.sql('v')} AS k FROM src) GROUP BY g, k"
    ).fetchnumpy()
    g_k, k = r["g"].astype(np.intp), r["k"].astype("int64")
    assert k.max() <= code.missing  # every code below the SMALLINT / INTEGER size the table is given
    buckets, per_cell = code.decode(eng, g_k, k, np.asarray(r["n"], dtype="int64"), 3)

    v = frame["v"].to_numpy(dtype="float64")
    g = frame["g"].to_numpy(dtype=np.intp)
    want_buckets = np.zeros_like(buckets)
    np.add.at(want_buckets, (g, drift.numeric_buckets(v, edges)), 1)
    np.testing.assert_array_equal(buckets, want_buckets)
    present = ~np.isnan(v)
    want_cells = np.zeros_like(per_cell)
    np.add.at(want_cells, (g[present], _cells_numpy(v[present], cells)), 1)
    np.testing.assert_array_equal(per_cell, want_cells)


def test_the_group_by_of_group_and_code_uses_duckdb_s_perfect_hash_and_puts_the_setting_back():
    """``_perfect_hash``: within the block DuckDB counts (group, code) in an array (its plan says so), the counts
    are the hashed aggregation's, and the connection's own setting is back afterwards."""
    from explore.engine.drift import _perfect_hash

    eng = _engine()
    eng.con.execute(
        "CREATE TABLE t AS SELECT CAST(i % 24 AS INTEGER) AS g, CAST(i % 4111 AS SMALLINT) AS k FROM range(50000) r(i)"
    )
    eng.con.execute("SET perfect_ht_threshold = 12")
    q = "SELECT g, coalesce(k, -1) AS k, count(*) AS n FROM t GROUP BY g, k ORDER BY g, k"
    hashed = eng.sql(q).df()
    assert "PERFECT_HASH" not in eng.sql("EXPLAIN " + q).fetchall()[0][1].upper().replace(" ", "_")
    with _perfect_hash(eng, 24, 4111):
        assert "PERFECT_HASH" in eng.sql("EXPLAIN " + q).fetchall()[0][1].upper().replace(" ", "_")
        pd.testing.assert_frame_equal(eng.sql(q).df(), hashed)
    assert eng.sql("SELECT current_setting('perfect_ht_threshold')").fetchall()[0][0] == 12
    with _perfect_hash(eng, 1 << 12, 1 << 14):  # 27 bits: more than PERFECT_HASH_BITS, left as it was
        assert eng.sql("SELECT current_setting('perfect_ht_threshold')").fetchall()[0][0] == 12


def missing_infinite_unseen(n: int = 4000) -> tuple[pd.DataFrame, np.ndarray]:
    """Four windows ``w`` of a many-valued feature ``x`` with NaN, ±inf (and, where the mask is True, NULL rows),
    window 2 without a present value, and a categorical ``city`` with new values in window 3."""
    rng = np.random.default_rng(3)
    w = np.repeat(np.arange(4), n // 4)
    x = rng.normal(0.0, 1.0, n) + 0.3 * w
    x[rng.random(n) < 0.03] = np.nan
    x[rng.random(n) < 0.01] = np.inf
    x[rng.random(n) < 0.01] = -np.inf
    x[w == 2] = np.nan  # a window without a present value
    city = rng.choice(["a", "b", "c"], n)
    city[(w == 3) & (rng.random(n) < 0.5)] = "unseen"
    frame = pd.DataFrame({"w": w, "x": x, "city": city, "y": rng.integers(0, 2, n), "p": rng.random(n)})
    frame["pred"] = (frame["p"] >= 0.5).astype(int)
    return frame, rng.random(n) < 0.02


def as_arrow(frame: pd.DataFrame, null_x: np.ndarray):
    """The frame with NULL (not NaN) in ``x`` where ``null_x``."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    x = pa.array(frame["x"].to_numpy(), mask=null_x, from_pandas=False)
    return table.set_column(table.schema.get_field_index("x"), "x", x)


def assert_scanned_drift_equals_the_pandas_path(log, frame, null_x, monkeypatch) -> None:
    from explore.engine import drift as engine_drift
    from explore.engine.metrics import Grouping

    features = ["x", "city"]
    w = frame["w"].to_numpy()
    mem_frame = frame.assign(x=np.where(null_x, np.nan, frame["x"]))  # NULL is NaN in memory
    mem_profile = drift.reference_profile(mem_frame[w == 0], features=features)
    mem = drift.drift_by_window(mem_profile, mem_frame, w, 4, features=features)
    windows = Grouping(("rows.w",), ("w",))
    exact_profile = engine_drift.reference_profile(log, features=features, where="rows.w = 0")
    _, exact = engine_drift.drift_by_window(exact_profile, log, windows, features=features)
    monkeypatch.setattr(engine_drift, "KS_MAX_POINTS", 10)
    monkeypatch.setattr(engine_drift, "KS_GRID", 128)
    profile = engine_drift.reference_profile(log, features=features, where="rows.w = 0")
    keys, eng = engine_drift.drift_by_window(profile, log, windows, features=features)

    assert list(keys["w"]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(profile.features["x"].ref_counts, mem_profile.features["x"].ref_counts)
    assert (eng.table["ks_method"][eng.table["feature"] == "x"] == "grid").all()
    for col in ("rows", "psi", "js", "missing_share", "unseen_share"):
        np.testing.assert_allclose(
            eng.table[col].to_numpy(float), mem.table[col].to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=col
        )
    is_x = (eng.table["feature"] == "x").to_numpy()
    ks, ks_exact = eng.table["ks"][is_x].to_numpy(), exact.table["ks"][is_x].to_numpy()
    assert np.isnan(ks[2]) and np.isnan(ks_exact[2])  # the window without a present value
    assert eng.table["missing_share"][is_x].to_numpy()[2] == 1.0
    assert eng.table["unseen_share"][~is_x].to_numpy()[3] > 0.4  # half of window 3's cities are new
    per_cell = np.diff(profile.features["x"].distinct[1]).max() / profile.features["x"].n_present
    keep = ~np.isnan(ks_exact)
    assert (ks[keep] <= ks_exact[keep] + 1e-12).all() and (
        ks_exact[keep] - ks[keep] <= per_cell + 1e-12
    ).all()
    np.testing.assert_allclose(ks_exact[keep], mem.table["ks"][is_x].to_numpy()[keep], rtol=1e-9)


ROLES = {"label": "y", "prediction": "pred", "score": "p", "task": "binary", "positive": 1}


def test_scanned_drift_with_missing_infinite_and_unseen_values_equals_the_pandas_path(monkeypatch):
    """A many-valued feature with NaN, NULL and ±inf rows, a window whose feature values are all missing, and a
    categorical feature with values the reference never had: PSI / JS / missing and unseen shares as in memory,
    KS a lower bound of the exact one within one grid cell's reference share (NaN where a window has no value)."""
    from explore.core.workspace import ColumnRoles
    from explore.engine import open_log

    frame, null_x = missing_infinite_unseen()
    con = duckdb.connect()
    con.register("frame", as_arrow(frame, null_x))
    con.execute("CREATE VIEW source AS SELECT * FROM frame")
    log = open_log(con, ColumnRoles(**ROLES), task="binary", classes=[0, 1], positive=1)
    assert_scanned_drift_equals_the_pandas_path(log, frame, null_x, monkeypatch)
