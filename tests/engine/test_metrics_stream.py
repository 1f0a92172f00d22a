"""A big binary log's cells counted from streamed rows (explore.engine.metrics._stream_cells, its loops in
explore.engine.cellcount): the same keys and numbers as DuckDB's cells and the pandas path, and every case it
cannot count exactly sent back to DuckDB's cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.core.workspace import ColumnRoles
from explore.engine import EngineSource, by_columns, by_time_window, grouped_metrics, open_log
from explore.engine import metrics as engine_metrics
from explore.engine.grouping import group_column
from explore.stats import metrics
from tests.engine.test_metrics import COLUMNS, assert_same, pair, predictions_log  # noqa: F401  (the fixture)
from tests.helpers import make_workspace


@pytest.fixture(scope="module")
def gridded(tmp_path_factory):
    """The binary pair with every score exactly a multiple of 0.01 (``pair``'s has a few a hair off it: those
    requests go back to DuckDB's exact cells)."""
    from explore.core.workspace import open_workspace, read_workspace, score

    df = predictions_log("binary")
    df["p"] = df["p"].round(2)
    root = tmp_path_factory.mktemp("gridded")
    toml = make_workspace(
        root / "ws",
        task="binary",
        model=None,
        columns={**COLUMNS["binary"], "task": "binary"},
        datasets={"log": df},
    )
    ws = open_workspace(read_workspace(toml))
    parts = root / "parquet"
    month = pd.to_datetime(df["when"]).dt.strftime("%Y-%m")
    for m, part in df.assign(when=pd.to_datetime(df["when"])).groupby(month):
        (parts / f"month={m}").mkdir(parents=True)
        part.to_parquet(parts / f"month={m}" / "part-0.parquet", index=False)
    positive = ws.classes[ws.positive_index]
    log = open_log(EngineSource(parts), ws.columns, task="binary", classes=ws.classes, positive=positive)
    return score(ws, "log", None), log


@pytest.fixture
def streamed(monkeypatch):
    """Every log streams; returns the list of requests that _stream_cells counted (True) or sent back (False)."""
    monkeypatch.setattr(engine_metrics, "STREAM_ROWS", 0)
    monkeypatch.setattr(engine_metrics, "STREAM_BATCH", 512)  # several batches even on a small log
    seen: list[bool] = []
    run = engine_metrics._stream_cells

    def spy(*args, **kwargs):
        out = run(*args, **kwargs)
        if engine_metrics.STREAM_ROWS == 0:
            seen.append(out is not None)
        return out

    monkeypatch.setattr(engine_metrics, "_stream_cells", spy)
    return seen


def _both(log, monkeypatch, request):
    """(keys, table) streamed, then by DuckDB's cells (streaming off)."""
    a = request()
    monkeypatch.setattr(engine_metrics, "STREAM_ROWS", 10**15)
    b = request()
    monkeypatch.setattr(engine_metrics, "STREAM_ROWS", 0)
    return a, b


def _same(a, b) -> None:
    (k1, t1), (k2, t2) = a, b
    pd.testing.assert_frame_equal(k1, k2)
    assert list(t1["metric"]) == list(t2["metric"]) and list(t1["group"]) == list(t2["group"])
    for col in ("value", "ci_low", "ci_high", "support", "n_pos"):
        np.testing.assert_allclose(
            t1[col].to_numpy(float), t2[col].to_numpy(float), rtol=1e-12, atol=1e-12, err_msg=col
        )
    assert (t1["note"].fillna("") == t2["note"].fillna("")).all()


REQUESTS = {
    "overall": lambda log: grouped_metrics(log, None),
    "two columns": lambda log: grouped_metrics(log, by_columns(log, ["city", "seg"])),
    "two columns, filtered": lambda log: grouped_metrics(
        log, by_columns(log, ["city", "seg"]), where="rows.seg >= 1"
    ),
    "two columns, no row left": lambda log: grouped_metrics(
        log, by_columns(log, ["city", "seg"]), where="rows.seg > 99"
    ),
    "a column's bins": lambda log: grouped_metrics(log, group_column(log, "hours", bins=4)),
    "bins, groups left empty": lambda log: grouped_metrics(
        log, group_column(log, "city", bins=3), where="rows.city = 'Nice'"
    ),
    "months": lambda log: grouped_metrics(log, by_time_window(log, "month")),
    "equal-row windows": lambda log: grouped_metrics(log, by_time_window(log, "rows", n_windows=5)),
}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_streamed_cells_equal_duckdbs(gridded, streamed, monkeypatch, name):
    _, log = gridded
    a, b = _both(log, monkeypatch, lambda: REQUESTS[name](log))
    assert streamed == [name != "two columns, no row left"]  # no key in the sample: DuckDB's cells
    _same(a, b)


@pytest.mark.parametrize("name", ["months", "a column's bins"])
def test_batches_of_any_size_count_the_same_cells(gridded, streamed, monkeypatch, name):
    """The compiled pass (explore.engine.cellcount) counts batch by batch into one table: batches of 7 rows and
    batches as big as DuckDB's reader yields (one per file here) count every row once, into the same cells and
    sums, and those are DuckDB's."""
    from explore.engine import cellcount

    _, log = gridded
    count_cells = cellcount.count_cells
    counted: dict[int, list[int]] = {}
    tables = {}
    for batch in (7, 10**6):
        monkeypatch.setattr(engine_metrics, "STREAM_BATCH", batch)
        sizes = counted.setdefault(batch, [])

        def spy(g, *args, sizes=sizes):
            sizes.append(len(g))
            return count_cells(g, *args)

        monkeypatch.setattr(cellcount, "count_cells", spy)
        tables[batch] = REQUESTS[name](log)
        monkeypatch.setattr(cellcount, "count_cells", count_cells)
    assert streamed == [True, True]
    rows = sum(counted[10**6])
    assert rows > 100 and max(counted[7]) <= 7 < max(counted[10**6])
    assert sum(counted[7]) == rows  # every row counted once, 7 at a time or as DuckDB's reader yields them
    _same(tables[7], tables[10**6])
    _, duckdb_cells = _both(log, monkeypatch, lambda: REQUESTS[name](log))
    _same(tables[7], duckdb_cells)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_other_tasks_and_scores_off_a_grid_fall_back_to_duckdbs_cells(pair, streamed, monkeypatch, name):  # noqa: F811
    """Multiclass and regression run a query per statistic; the binary pair's exact scores are not all on a grid
    (a few a hair off 0.01), so its exact cells are DuckDB's: the numbers are the same either way."""
    scored, log = pair
    a, b = _both(log, monkeypatch, lambda: REQUESTS[name](log))
    assert streamed == ([False] if scored.task == "binary" else [])  # the others never read cells
    _same(a, b)


def test_streamed_group_by_equals_the_pandas_path(gridded, streamed):
    scored, log = gridded
    keys, eng = grouped_metrics(log, by_columns(log, ["city", "seg"]))
    assert streamed == [True]
    cat = pd.MultiIndex.from_frame(scored.frame[["city", "seg"]])
    codes = pd.MultiIndex.from_frame(keys[["city", "seg"]]).get_indexer(cat)
    assert (codes >= 0).all() and len(keys) == 9
    assert_same(metrics.grouped_metrics(scored, codes, len(keys)), eng)


def test_streamed_rests_equal_duckdbs(gridded, streamed, monkeypatch):
    _, log = gridded
    city = group_column(log, "city", bins=3)
    a, b = _both(log, monkeypatch, lambda: engine_metrics.groups_vs_rest(log, city, where="rows.seg >= 1"))
    assert streamed == [True]
    pd.testing.assert_frame_equal(a[0], b[0])
    num = ["value", "rest", "rest_low", "rest_high", "gap", "p_worse", "q_worse"]
    np.testing.assert_allclose(a[1][num].to_numpy(float), b[1][num].to_numpy(float), rtol=1e-12, atol=1e-12)


@pytest.fixture
def binned(monkeypatch):
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 10)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 0)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 8)


@pytest.mark.parametrize("grid", [True, False], ids=["losses by exact score", "losses from DuckDB"])
def test_streamed_binned_cells_equal_duckdbs(gridded, pair, streamed, binned, monkeypatch, grid):  # noqa: F811
    """Binned scores: the counts in the same bins, the losses per row from a table by exact score (on a grid) or
    from DuckDB (no grid: ``pair``'s scores): the same numbers, notes and stated errors as DuckDB's binned cells."""
    scored, log = gridded if grid else pair
    if scored.task != "binary":
        pytest.skip("the streamed path is the binary one")
    assert (engine_metrics._score_grid(log) is not None) == grid
    a, b = _both(log, monkeypatch, lambda: grouped_metrics(log, by_columns(log, ["city", "seg"])))
    assert streamed == [True]
    _same(a, b)
    assert a[1].loc[a[1]["metric"] == "ROC AUC", "note"].str.contains("histogram approximation").all()


def _odd_log(tmp_path, n: int = 4000, off_grid: float | None = None):
    """Missing keys (a NULL city, a NULL segment), missing scores, labels and predictions outside the classes."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "y": rng.choice(["no", "yes", "maybe"], n, p=[0.5, 0.45, 0.05]),
            "s": rng.random(n).round(3),
            "city": rng.choice(["Lyon", "Nice", None], n, p=[0.5, 0.4, 0.1]),
            "seg": pd.array(rng.integers(0, 3, n), dtype="Int64"),
            "t": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90 * 86400, n), unit="s"),
        }
    )
    df.loc[::37, "seg"] = pd.NA
    df.loc[::53, "s"] = np.nan
    df["p"] = np.where(df["s"] >= 0.5, "yes", "no")
    df.loc[::41, "p"] = "other"
    if off_grid is not None:
        df.loc[11, "s"] = off_grid
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", time="t", task="binary", positive="yes")
    return df, open_log(
        EngineSource(tmp_path / "log.parquet"), roles, task="binary", classes=["no", "yes"], positive="yes"
    )


def test_missing_keys_scores_and_labels_stream_as_duckdb_counts_them(tmp_path, streamed, monkeypatch):
    _, log = _odd_log(tmp_path)
    for request in (
        lambda: grouped_metrics(log, by_columns(log, ["city", "seg"])),
        lambda: grouped_metrics(log, by_columns(log, ["seg"]), where="rows.city IS NULL"),
        lambda: grouped_metrics(log, by_time_window(log, "week")),
    ):
        a, b = _both(log, monkeypatch, request)
        _same(a, b)
    assert streamed == [True, True, True]
    keys = grouped_metrics(log, by_columns(log, ["city", "seg"]))[0]
    assert keys["city"].isna().any() and keys["seg"].isna().any()  # the missing keys are groups, listed last
    log.con.close()


def test_a_key_or_a_score_the_sample_did_not_see_sends_the_request_back(tmp_path, streamed, monkeypatch):
    """A key value missing from the sample, or a score off the sample's grid, is found in the streamed pass: the
    request is then counted by DuckDB's cells, with the same numbers."""
    df, log = _odd_log(tmp_path, off_grid=0.123456)
    monkeypatch.setattr(
        engine_metrics, "_small_sample", lambda log: "WHERE rows.city = 'Lyon' AND rows.s <> 0.123456"
    )
    a, b = _both(log, monkeypatch, lambda: grouped_metrics(log, by_columns(log, ["city"])))
    assert streamed == [False]  # Nice and the missing city were not in the sample
    _same(a, b)
    assert sorted(a[0]["city"].dropna()) == ["Lyon", "Nice"]
    streamed.clear()
    grid = engine_metrics._score_grid(log)
    assert grid is not None and grid.steps == 1000  # from the sample's scores, the odd one left out
    a, b = _both(log, monkeypatch, lambda: grouped_metrics(log, None, metrics=["ROC AUC", "log loss"]))
    assert streamed == [False]  # exact cells, and a row off the grid
    _same(a, b)
    # both misses are remembered: the next requests go to DuckDB's cells without streaming a pass first
    city = by_columns(log, ["city"])
    assert log.memo[("seen keys", city.exprs, city.where, None)] is None
    assert engine_metrics._score_grid(log) is None
    log.con.close()


def test_the_score_grid_is_found_only_where_every_sampled_score_lies_on_it(tmp_path):
    rng = np.random.default_rng(0)
    for scores, steps in (
        (rng.random(5000).round(4), 10_000),
        (rng.random(5000), None),
        (np.full(50, 0.5), None),
    ):
        df = pd.DataFrame({"y": rng.integers(0, 2, len(scores)), "s": scores})
        df["p"] = (df["s"] >= 0.5).astype(int)
        path = tmp_path / f"log{steps}{len(scores)}.parquet"
        df.to_parquet(path, index=False)
        roles = ColumnRoles(label="y", prediction="p", score="s", task="binary", positive=1)
        log = open_log(EngineSource(path), roles, task="binary", classes=[0, 1], positive=1)
        grid = engine_metrics._score_grid(log)
        assert (grid.steps if grid else None) == steps
        if grid:
            values = grid.values()
            slots = np.rint(scores * steps).astype(int) - grid.first
            assert (values[slots] == scores).all() and (np.diff(values) > 0).all()
        log.con.close()


def test_hash_codes_find_every_seen_hash_and_refuse_any_other():
    rng = np.random.default_rng(3)
    seen = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    codes = engine_metrics._HashCodes(seen)
    assert (codes(seen) == np.arange(300)).all()
    assert (codes(seen[::-1]) == np.arange(300)[::-1]).all()
    assert codes(np.append(seen[:5], seen[0] + np.uint64(2))) is None
    # Top bits shared by every seen hash: another slice of the bits tells them apart.
    same_top = (np.arange(1, 200, dtype=np.uint64) * np.uint64(977)) | np.uint64(0xFF << 56)
    codes = engine_metrics._HashCodes(same_top)
    assert codes.mask is not None and (codes(same_top) == np.arange(199)).all()


def test_a_score_that_is_not_a_probability_has_no_loss_sums_on_either_path(tmp_path, streamed, monkeypatch):
    """An infinite score: the log has no probabilities (log loss and Brier unavailable, no ``_p`` columns), so no
    loss sums are read — DuckDB's cells used to ask for them and fail."""
    df, first = _odd_log(tmp_path)
    first.con.close()
    df.loc[7, "s"] = np.inf
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", time="t", task="binary", positive="yes")
    log = open_log(
        EngineSource(tmp_path / "log.parquet"), roles, task="binary", classes=["no", "yes"], positive="yes"
    )
    assert "log loss" in log.unavailable and not log.has_proba
    a, b = _both(log, monkeypatch, lambda: grouped_metrics(log, by_columns(log, ["city"])))
    assert streamed == [True]
    _same(a, b)
    loss = a[1][a[1]["metric"] == "log loss"]
    assert len(loss) and loss["note"].str.startswith("unavailable").all() and loss["value"].isna().all()
    log.con.close()


def test_the_compiled_loops_equal_numpys_formulas():
    """explore.engine.cellcount against the numpy it replaced, on rows with missing and infinite scores, scores
    outside the bins' range, codes at both ends and one label/prediction code only in a group."""
    from explore.engine import cellcount

    rng = np.random.default_rng(5)
    m, G, YP, steps, first, slots = 5000, 7, 9, 100, 0, 101
    G1 = slots + 1
    g = rng.integers(0, G, m).astype(np.intp)
    g[:50] = G - 1  # group G-1: one label/prediction code only
    yp = rng.integers(0, YP, m).astype(np.uint8)
    yp[g == G - 1] = 4
    s = rng.integers(0, slots, m) / steps
    s[::13], s[::29], s[::31] = np.nan, np.inf, -np.inf
    # grid cells: rint(s × steps) − first, the last slot for a missing score
    r = np.empty(m, dtype=np.intp)
    assert cellcount.grid_cells(yp, s, steps, first, slots, G1, 0.0, r)
    finite = np.isfinite(s)
    expected = yp.astype(np.intp) * G1 + np.where(
        finite, np.rint(np.where(finite, s, 0.0) * steps) - first, slots
    )
    assert (r == expected).all()
    for off in (0.005, 1.02, -0.01):  # off the grid, above the last slot, below the first
        t = s.copy()
        t[m // 2] = off
        assert not cellcount.grid_cells(yp, t, steps, first, slots, G1, 0.0, r)
    # bins: floor((s − lo) / width) clipped to [−1, n], plus one; S − 1 for a missing score
    lo, width, n = 0.2, 0.05, 12
    S = n + 3
    cellcount.bin_cells(yp, s, lo, width, n, S, r)
    t = np.clip(np.floor((np.where(finite, s, lo) - lo) / width), -1, n) + 1
    assert (r == np.where(finite, t, S - 1).astype(np.intp) + yp.astype(np.intp) * S).all()
    # counts (direct and through cell_of) and the sums per group: bincount's
    counts = np.zeros(G * YP * S, dtype=np.int64)
    cellcount.count_cells(g, r, counts, YP * S, np.zeros(0, dtype=np.intp), False)
    assert (counts == np.bincount(g * YP * S + r, minlength=G * YP * S)).all()
    assert np.count_nonzero(counts.reshape(G, YP * S)[G - 1]) <= S  # the one code's cells only
    cell_of = rng.integers(0, YP * S, YP * S).astype(np.intp)
    mapped = np.zeros(G * YP * S, dtype=np.int64)
    cellcount.count_cells(g, r, mapped, YP * S, cell_of, True)
    assert (mapped == np.bincount(g * YP * S + cell_of[r], minlength=G * YP * S)).all()
    table = rng.normal(size=YP * S)
    total, squares = np.zeros(G), np.zeros(G)
    cellcount.group_sums(g, r, table, total, squares, True)
    np.testing.assert_allclose(total, np.bincount(g, weights=table[r], minlength=G), rtol=1e-12)
    np.testing.assert_allclose(squares, np.bincount(g, weights=table[r] ** 2, minlength=G), rtol=1e-12)
    # group codes: in [0, size) or refused
    out = np.empty(m, dtype=np.intp)
    none = (np.uint64(0), np.uint64(0), np.zeros(1, dtype=np.intp), np.zeros(1, dtype=np.uint64))
    assert cellcount.group_codes(g.astype(np.int32), out, False, *none, G) and (out == g).all()
    assert not cellcount.group_codes(
        np.append(g, G).astype(np.int32), np.empty(m + 1, np.intp), False, *none, G
    )
    assert not cellcount.group_codes(
        np.append(g, -1).astype(np.int32), np.empty(m + 1, np.intp), False, *none, G
    )


@pytest.mark.parametrize("layout", ["month", "half"])
def test_windows_read_from_the_partitions_only_when_each_holds_one_window(
    tmp_path, streamed, monkeypatch, layout
):
    """Monthly partitions: calendar months (and quarters) are counted from the partition column — the same cells as
    the search over every timestamp and as DuckDB's — with a month without rows, rows without a timestamp (the
    condition kept) and a month with one class only; weeks, or partitions that are not months ("half"), keep
    the search."""
    import dataclasses

    df, first = _odd_log(tmp_path)
    first.con.close()
    df = df[df["t"].dt.month != 2].reset_index(drop=True)  # February: no rows
    march = df["t"].dt.month == 3
    df.loc[march, "t"] += pd.Timedelta(days=31)  # in April: two quarters
    df.loc[march, "y"] = "yes"  # April: one class only
    df.loc[::97, "t"] = pd.NaT
    if layout == "month":
        part = df["t"].dt.strftime("%Y-%m").fillna("2024-01")
    else:
        part = pd.Series(np.arange(len(df)) % 2, index=df.index).astype(str)
    root = tmp_path / "parts"
    for value, rows in df.groupby(part):
        (root / f"{layout}={value}").mkdir(parents=True)
        rows.to_parquet(root / f"{layout}={value}" / "part-0.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", time="t", task="binary", positive="yes")
    log = open_log(EngineSource(root), roles, task="binary", classes=["no", "yes"], positive="yes")
    for unit, by_partition in (("month", layout == "month"), ("quarter", layout == "month"), ("week", False)):
        windows = by_time_window(log, unit)
        assert (windows.by_partition is not None) == by_partition, unit
        if by_partition:
            code, present = windows.by_partition
            assert "month" in code and present == windows.where  # rows without a timestamp: still left out
        a, b = _both(log, monkeypatch, lambda w=windows: grouped_metrics(log, w))
        _same(a, b)
        searched = grouped_metrics(log, dataclasses.replace(windows, by_partition=None))
        _same(a, searched)
        if unit == "month":
            assert len(a[0]) == 2  # January and April: February and March have no row
    assert all(streamed)
    log.con.close()


def test_keys_from_the_first_rows_and_the_sample_when_they_miss_one(tmp_path, streamed, monkeypatch):
    """Once the score's statistics are known, a grouping's keys come from the log's first rows (the scan stops
    there); a key only later rows hold is found by the stream, which then draws the system sample's keys and
    counts the request itself — the same table as DuckDB's cells."""
    df, first = _odd_log(tmp_path)
    first.con.close()
    df = df.sort_values("city", na_position="first").reset_index(drop=True)  # Nice: in the last rows only
    df.to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", time="t", task="binary", positive="yes")
    log = open_log(
        EngineSource(tmp_path / "log.parquet"), roles, task="binary", classes=["no", "yes"], positive="yes"
    )
    monkeypatch.setattr(engine_metrics, "GROUP_SAMPLE_ROWS", 500)
    monkeypatch.setattr(engine_metrics, "_small_sample", lambda log: "USING SAMPLE 100 PERCENT (system, 0)")
    grouped_metrics(log, None)  # the score's statistics
    city = by_columns(log, ["city"])
    drawn = []
    sql = log.sql

    def spy(q, *args):
        if "_seen" in q and "CREATE" in q:
            drawn.append("LIMIT 500" in q)
        return sql(q, *args)

    monkeypatch.setattr(log, "sql", spy)
    a, b = _both(log, monkeypatch, lambda: grouped_metrics(log, city))
    assert drawn == [True, False]  # the first rows, then the sample
    assert all(streamed)
    _same(a, b)
    assert sorted(a[0]["city"].dropna()) == ["Lyon", "Nice"]
    table, hashes, first_rows = log.memo[("seen keys", city.exprs, city.where, None)]
    assert len(hashes) == 3 and not first_rows
    streamed.clear()
    again = grouped_metrics(log, city)  # the sample's keys are kept: one stream, no draw
    assert drawn == [True, False] and streamed == [True]
    _same(again, a)
    log.con.close()


def test_keys_from_the_first_rows_never_size_the_cells(tmp_path, streamed, monkeypatch):
    """A log written city by city shows one city in its first rows. That count must not stand for the groups: with
    scores on no grid the stream cannot count exact cells, and the request sized by one group went exact past
    CELL_BUDGET (6,000 cells for a budget of 3,000; at 100M rows, a cell per row) while DuckDB's cells binned it.
    The stream goes back for the system sample's keys instead, and bins as DuckDB does."""
    rng = np.random.default_rng(5)
    n = 4000
    df = pd.DataFrame(
        {
            "y": rng.choice(["no", "yes"], n),
            "s": rng.random(1000)[rng.integers(0, 1000, n)],  # 1,000 distinct scores on no grid
            "city": rng.choice(["Lyon", "Nice", "Paris"], n),
        }
    )
    df["p"] = np.where(df["s"] >= 0.5, "yes", "no")
    df.sort_values("city").to_parquet(tmp_path / "log.parquet", index=False)
    roles = ColumnRoles(label="y", prediction="p", score="s", task="binary", positive="yes")
    log = open_log(
        EngineSource(tmp_path / "log.parquet"), roles, task="binary", classes=["no", "yes"], positive="yes"
    )
    # One group × 2 labels × 1,000 scores fits the budget, three groups do not (bins: 600 // 6 = 100).
    monkeypatch.setattr(engine_metrics, "CELL_BUDGET", 3_000)
    monkeypatch.setattr(engine_metrics, "BINNED_CELLS", 600)
    monkeypatch.setattr(engine_metrics, "MIN_BINS", 4)
    monkeypatch.setattr(engine_metrics, "GROUP_SAMPLE_ROWS", 300)  # the first 300 rows: Lyon only
    monkeypatch.setattr(engine_metrics, "_small_sample", lambda log: "USING SAMPLE 100 PERCENT (system, 0)")
    grouped_metrics(log, None)  # the score's statistics: later requests take their keys from the first rows
    city = by_columns(log, ["city"])
    streamed.clear()
    a, b = _both(log, monkeypatch, lambda: grouped_metrics(log, city))
    _same(a, b)
    assert streamed and all(streamed)  # counted by the stream, with the sample's keys
    auc = a[1][a[1]["metric"] == "ROC AUC"]
    assert len(auc) == 3 and auc["note"].str.contains("into 100 bins", regex=False).all()
    assert log.memo[("groups", city.exprs, city.where, None)] == 3
    # Keys from first rows that held every key: proven by the stream, their count and the keys are kept as such.
    seg = by_columns(log, ["p"])
    grouped_metrics(log, seg)
    assert log.memo[("groups", seg.exprs, seg.where, None)] == 2
    assert log.memo[("seen keys", seg.exprs, seg.where, None)][2] is False
    log.con.close()
