"""The compiled count of a scanned drift feature's codes (explore.engine.driftcount, drift._count_codes) equals SQL's.

The sampled drift matrix counts the rows per (group, code) of its in-memory sample with a numba loop over the
values streamed from DuckDB; the other paths compute the code in SQL (``_Code.sql``, the ``_dcodes`` table) and
count it with a ``GROUP BY``. The two must agree on every row: values exactly on the bucket edges and the grid's
cell ends, one double either side, ±inf, NaN, NULL, a constant reference, a range of a few doubles (the grid's
width rounds to zero), huge ranges, a group without rows, NULLs across the streamed batches' boundaries."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest

from explore.engine import drift as engine_drift
from explore.engine.drift import KS_GRID, _Cells, _Code


def _engine(frame: pd.DataFrame):
    con = duckdb.connect()
    con.register("src_frame", frame)
    con.execute("CREATE TABLE src AS SELECT * FROM src_frame")
    return SimpleNamespace(con=con, sql=lambda q, p=None: con.execute(q, p or []), types={"v": "DOUBLE"})


def _sql_counts(eng, code: _Code, G: int) -> np.ndarray:
    """Rows per (group, code) the SQL way, NULL's code (−1) in the last column."""
    r = eng.sql(
        f"SELECT g, coalesce(k, -1) AS k, count(*) AS n FROM (SELECT g, {code.sql('v')} AS k FROM src) GROUP BY g, k"
    ).fetchnumpy()
    out = np.zeros((G, code.missing + 2), dtype=np.int64)
    k = np.asarray(r["k"], dtype=np.int64)
    assert k.max() <= code.missing
    out[np.asarray(r["g"], dtype=np.intp), np.where(k < 0, code.missing + 1, k)] = np.asarray(r["n"])
    return out


TINY = 5e-324 * 3  # three subnormal steps: (hi − lo) / n rounds to 0.0
# (lo, hi, bucket edges, grid cells)
CASES = {
    "deciles": (
        -2.5,
        3.0,
        np.array([-2.5, -1.2, -0.8, -0.5, -0.25, 0.0, 0.26, 0.52, 0.84, 1.3, 3.0]),
        KS_GRID,
    ),
    "one-bucket": (0.0, 1.0, np.array([0.0, 1.0]), KS_GRID),
    "constant": (0.7, 0.7, np.array([0.7]), KS_GRID),
    "no-reference-values": (0.0, 0.0, np.zeros(0), KS_GRID),
    "tiny-range": (0.0, TINY, np.array([0.0, 5e-324, TINY]), KS_GRID),
    "huge-range": (-1e300, 1e300, np.array([-1e300, -1.0, 0.0, 1e-300, 1e300]), KS_GRID),
    # literals DuckDB reads as DECIMALs of up to 17 digits, cast to DOUBLE
    "decimal-literals": (
        0.1,
        123456.78901234567,
        np.array([0.1, 0.30000000000000004, 1234.5678, 123456.78901234567]),
        KS_GRID,
    ),
    "small-grid": (-1.0, 1.0, np.array([-1.0, -0.5, 0.5, 1.0]), 8),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_compiled_count_equals_the_sql_codes(case, monkeypatch):
    lo, hi, edges, n = CASES[case]
    width = (hi - lo) / n if hi > lo else 1.0
    code = _Code(_Cells(lo, hi, width, n), edges)
    rng = np.random.default_rng(3)
    grid = lo + width * np.arange(-2, n + 3)  # the cell ends
    marks = np.concatenate([edges, grid, [lo, hi]])
    at = np.concatenate([marks, np.nextafter(marks, np.inf), np.nextafter(marks, -np.inf)])
    spread = (
        rng.uniform(lo - (hi - lo) * 0.2 - 1e-300, hi + (hi - lo) * 0.2 + 1e-300, 3000) if hi > lo else []
    )
    special = [np.inf, -np.inf, np.nan, np.nan, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0]
    values = np.concatenate([at, spread, special]).astype("float64")
    G = 4  # group 2 gets no row
    groups = rng.choice([0, 1, 3], values.size).astype("int32")
    null = rng.random(values.size) < 0.05  # NULLs, some in every streamed batch
    is_nan = np.isnan(values)
    # pandas' NaN arrives as NULL: the NULL rows are NaN in the frame, the NaN rows set by SQL after.
    eng = _engine(
        pd.DataFrame({"g": groups, "v": np.where(null | is_nan, np.nan, values), "is_nan": is_nan & ~null})
    )
    eng.con.execute("UPDATE src SET v = 'nan'::DOUBLE WHERE is_nan")
    kinds = eng.sql(
        "SELECT count(*) FILTER (WHERE v IS NULL), count(*) FILTER (WHERE isnan(v)) FROM src"
    ).fetchall()[0]
    assert kinds[0] > 0 and kinds[1] > 0  # both NULLs and NaNs reach the engine
    want = _sql_counts(eng, code, G)
    monkeypatch.setattr(engine_drift, "STREAM_ROWS", 100)  # many batches: validity bitmaps of each
    got = engine_drift._count_codes(
        eng, ["v"], {"v": code}, "SELECT CAST(g AS INTEGER) AS g, {} FROM src AS rows", G
    )["v"]
    np.testing.assert_array_equal(got, want)
    assert got[2].sum() == 0 and got.sum() == values.size
