"""The one code per row of a scanned drift feature decodes to the in-memory PSI bucket and the KS grid cell.

Values sit on the bucket edges, one double above them, outside the reference range, at ±inf, NaN and NULL; the
bucket of every row must be ``explore.staleness.drift.numeric_buckets``' and its cell the grid's, counted the way
``drift_by_window`` counts them (a ``GROUP BY`` of group × codes + code over the temp table)."""

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
    size = code.missing + 1
    r = eng.sql(
        f"SELECT CAST(g AS BIGINT) * {size} + {code.sql('v')} AS key, count(*) AS n FROM src GROUP BY 1"
    ).fetchnumpy()
    gk, kk = np.divmod(np.asarray(r["key"], dtype="int64"), size)
    buckets, per_cell = code.decode(eng, gk.astype(np.intp), kk, np.asarray(r["n"], dtype="int64"), 3)

    v = frame["v"].to_numpy(dtype="float64")
    g = frame["g"].to_numpy(dtype=np.intp)
    want_buckets = np.zeros_like(buckets)
    np.add.at(want_buckets, (g, drift.numeric_buckets(v, edges)), 1)
    np.testing.assert_array_equal(buckets, want_buckets)
    present = ~np.isnan(v)
    want_cells = np.zeros_like(per_cell)
    np.add.at(want_cells, (g[present], _cells_numpy(v[present], cells)), 1)
    np.testing.assert_array_equal(per_cell, want_cells)
