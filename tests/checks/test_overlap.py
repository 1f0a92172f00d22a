"""explore.checks.overlap: evaluation rows that are training rows — counted exactly (against a pandas merge on the
feature columns), warned on the Workspace page and failed by `explore check` above the stated share."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from explore.checks import overlap, registry
from explore.core.workspace import open_workspace, read_workspace
from explore.errors import AnalysisError
from tests.conftest import assert_no_exception
from tests.engine.conftest import spark  # noqa: F401 - the session's one Spark session (a fixture)
from tests.helpers import FEATURES, frame, make_workspace


def _peer_count(train: pd.DataFrame, valid: pd.DataFrame, columns: list[str]) -> int:
    """Rows of ``valid`` equal on every column to some training row: a pandas merge (missing values match)."""
    keys = train[columns].drop_duplicates()
    merged = valid[columns].reset_index().merge(keys, on=columns, how="inner")
    return int(merged["index"].nunique())


def _overlapping(tmp_path, n_copied: int):
    df = frame(600, seed=4)
    train, valid = df.iloc[:400].copy(), df.iloc[400:].copy()
    copied = train.sample(n_copied, random_state=0).copy() if n_copied else train.iloc[:0].copy()
    copied["row_id"] = np.arange(10_000, 10_000 + n_copied)
    valid = pd.concat([valid, copied], ignore_index=True)
    path = make_workspace(tmp_path / "ws", datasets={"train": train, "validation": valid})
    return path, train, valid


def test_duplicates_are_counted_exactly_as_a_pandas_merge_finds_them(tmp_path):
    path, train, valid = _overlapping(tmp_path, 50)
    ws = open_workspace(read_workspace(path))
    result = overlap.train_eval_overlap(ws)
    row = result.table.set_index("dataset").loc["validation"]
    peer = _peer_count(ws.dataset("train"), ws.dataset("validation"), list(ws.feature_names))
    assert int(row["duplicates"]) == peer >= 50
    assert row["share"] == pytest.approx(peer / len(valid)) and not row["passed"] and result.passed is False
    assert result.warnings()[0].startswith(f"{peer:,} of the {len(valid):,} rows of 'validation' (")


def test_numbers_read_as_integers_in_one_file_and_floats_in_the_other_still_match():
    a = pd.DataFrame({"x": [1, 2, 3], "c": ["u", None, "w"]})
    b = pd.DataFrame({"x": [1.0, 2.0, np.nan], "c": ["u", None, "w"]})
    ha, hb = overlap.row_hashes(a, ["x", "c"]), overlap.row_hashes(b, ["x", "c"])
    assert list(ha[:2] == hb[:2]) == [True, True] and ha[2] != hb[2]


def test_natural_duplicates_below_the_share_pass_and_bad_limits_are_refused(tmp_path):
    """Three coarse features: distinct rows share every value now and then (2 % here), below the 5 % default."""
    path, _, _ = _overlapping(tmp_path, 0)
    ws = open_workspace(read_workspace(path))
    result = overlap.train_eval_overlap(ws)
    peer = _peer_count(ws.dataset("train"), ws.dataset("validation"), list(ws.feature_names))
    assert int(result.table["duplicates"].sum()) == peer and result.table["share"].max() < 0.05
    assert result.passed and result.warnings() == []
    with pytest.raises(AnalysisError, match="from 0 to 1; received 5"):
        overlap.train_eval_overlap(ws, max_share=5)
    only = make_workspace(tmp_path / "one", datasets={"validation": frame(100)})
    assert overlap.train_eval_overlap(open_workspace(read_workspace(only))) is None  # nothing to compare


def test_explore_check_fails_above_the_stated_share_and_passes_below(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    path, _, valid = _overlapping(tmp_path, 30)  # 30 copied rows (and a few natural duplicates) of 230
    ws = open_workspace(read_workspace(path))
    peer = _peer_count(ws.dataset("train"), ws.dataset("validation"), list(ws.feature_names))
    out = tmp_path / "out"
    code = registry.main([str(path), "--checks", "overlap", "--out", str(out)])
    check = json.loads((out / registry.REPORT_JSON).read_text())["checks"][0]
    assert code == registry.EXIT_FAILED and check["status"] == "failed" and check["tests"] == ["infra-4"]
    assert (
        f"'validation': {peer} of {len(valid)} rows ({peer / len(valid):.1%}) are training rows"
        in check["summary"]
    )
    assert "failed at ≤ 5.0%" in check["summary"]
    code = registry.main([str(path), "--checks", "overlap", "--max-overlap", "0.2", "--out", str(out)])
    assert code == registry.EXIT_PASSED
    assert registry.main([str(path), "--checks", "overlap", "--max-overlap", "2", "--out", str(out)]) != 0


def test_the_workspace_page_warns_with_the_count_and_share(make_app, tmp_path):
    from tests.conftest import texts

    path, _, valid = _overlapping(tmp_path, 40)
    ws = open_workspace(read_workspace(path))
    peer = _peer_count(ws.dataset("train"), ws.dataset("validation"), list(ws.feature_names))
    at = make_app(workspace=path)
    assert_no_exception(at)
    said = [w for w in texts(at.warning) if "have exactly the" in w]
    assert said and said[0].startswith(
        f"{peer} of the {len(valid)} rows of 'validation' ({peer / len(valid):.1%}"
    )
    clean, _, _ = _overlapping(tmp_path / "clean", 0)
    assert not [w for w in texts(make_app(workspace=clean).warning) if "have exactly the" in w]


def test_features_are_hashed_per_row_not_per_column_order():
    df = frame(50, seed=1)[FEATURES]
    h = overlap.row_hashes(df, FEATURES)
    assert len(np.unique(h)) == len(df.drop_duplicates())


# ---- datasets that stay in the engine --------------------------------------------------------------------------


def _engine_twins(tmp_path, out_of_core: set[str]):
    return _engine_twins_on(tmp_path, out_of_core)


def _engine_twins_on(tmp_path, out_of_core: set[str], **engine):
    """A training dataset and a validation log holding 60 training rows (a few with a missing value, one with -0.0
    for 0.0), in a workspace where ``out_of_core`` stay in the engine, and the same rows all in memory."""
    from tests.engine.test_metrics import predictions_log
    from tests.engine.test_out_of_core_api import twin_workspaces

    train = predictions_log("binary", 900)
    valid = predictions_log("binary", 1200).iloc[900:].copy()  # other rows (a different seed's tail)
    valid["hours"] = valid["hours"] + 0.5
    copied = train.sample(60, random_state=3).copy()
    assert copied["hours"].isna().any()  # missing values must match missing values
    copied.iloc[0, copied.columns.get_loc("age")] = 0.0
    train.loc[copied.index[0], "age"] = -0.0
    # Five copied twice: each evaluation row counts, equal or not to another. (No id column here: row_id is a feature.)
    valid = pd.concat([valid, copied, copied.iloc[:5]], ignore_index=True)
    if "train" in out_of_core:  # the log's hive partition key is a feature: the rows in memory have it too
        valid["month"] = pd.to_datetime(valid["when"]).dt.strftime("%Y-%m")
    return twin_workspaces(tmp_path, "binary", {"train": train, "validation": valid}, out_of_core, **engine)


@pytest.mark.parametrize("in_engine", ["validation", "train"])
def test_a_dataset_in_the_engine_is_compared_there_and_counted_as_in_memory(in_engine, tmp_path):
    ooc, mem = _engine_twins(tmp_path, {in_engine})
    got = overlap.train_eval_overlap(ooc)
    ref = overlap.train_eval_overlap(mem)
    assert got.skipped == {} and ref.skipped == {}
    peer = _peer_count(mem.dataset("train"), mem.dataset("validation"), list(mem.feature_names))
    assert int(ref.table["duplicates"].iloc[0]) == peer >= 65
    pd.testing.assert_frame_equal(got.table, ref.table)
    assert got.train_rows == ref.train_rows == 900 and got.passed is False


def test_two_datasets_in_the_engine_are_not_compared_saying_why(tmp_path):
    ooc, _ = _engine_twins(tmp_path, {"train", "validation"})
    result = overlap.train_eval_overlap(ooc)
    assert result.table.empty and "both stay in the engine" in result.skipped["validation"]
    assert "Not compared: 'validation' (it and the training data 'train' both stay" in result.summary()


def test_run_checks_in_a_notebook_takes_the_largest_share_as_the_cli_does(tmp_path, monkeypatch):
    import explore

    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    path, _, valid = _overlapping(tmp_path, 30)  # 30 copied rows (and a few natural duplicates) of 230
    ws = explore.open(path)
    share = overlap.train_eval_overlap(ws).table["share"].iloc[0]
    assert 0.05 < share < 0.2

    def status(**options) -> tuple[str, dict]:
        (result,) = explore.run_checks(ws, ["overlap"], **options).value
        return result.status, result.params

    assert status()[0] == "failed"  # the default, 5 %
    got, parameters = status(max_overlap=0.2)
    assert got == "passed" and parameters["max_overlap"] == 0.2
    assert status(max_overlap=round(share, 4) - 0.0001)[0] == "failed"
    for bad in (1.5, -0.1, "0.1", True):
        with pytest.raises(AnalysisError, match=rf"max_overlap: .*from 0 to 1; received {bad!r}"):
            explore.run_checks(ws, ["overlap"], max_overlap=bad)


def test_a_page_can_leave_datasets_in_the_engine_uncompared_saying_why(tmp_path):
    ooc, _ = _engine_twins(tmp_path, {"validation"})
    result = overlap.train_eval_overlap(ooc, in_engine=False)
    assert (
        result.table.empty
        and "stays in the engine" in result.skipped["validation"]
        and result.warnings() == []
    )


def test_a_log_read_by_spark_is_compared_there_too(tmp_path, spark):  # noqa: F811 - the fixture
    """The same semi-join through Spark (a temporary view of the in-memory side): the same count as in memory."""
    from tests.engine.conftest import SPARK_MASTER

    ooc, mem = _engine_twins_on(tmp_path, {"validation"}, engine="spark", master=SPARK_MASTER)
    pd.testing.assert_frame_equal(
        overlap.train_eval_overlap(ooc).table, overlap.train_eval_overlap(mem).table
    )


def test_minus_zero_equals_zero_and_times_match_whatever_their_unit():
    """The engine compares values (DuckDB: -0.0 = 0.0, instants as instants); the hashes in memory do too."""
    a = pd.DataFrame(
        {"x": [0.0, 1.5], "t": pd.to_datetime(["2024-01-01 10:00", None]).astype("datetime64[ns]")}
    )
    b = pd.DataFrame(
        {"x": [-0.0, 1.5], "t": pd.to_datetime(["2024-01-01 10:00", None]).astype("datetime64[us]")}
    )
    assert list(overlap.row_hashes(a, ["x", "t"]) == overlap.row_hashes(b, ["x", "t"])) == [True, True]


def test_a_date_feature_in_the_engine_matches_the_same_day_however_the_memory_side_read_it():
    """A DATE column: DuckDB reads it into pandas as datetime64 (a small Parquet dataset read whole, engine
    pandas), a CSV as text. The engine side compared it as text only, so the first matched no row (0 duplicates,
    the check passed) while in memory — both sides read alike — they are duplicates."""
    import duckdb

    from explore.core.workspace import ColumnRoles
    from explore.engine.log import open_log

    con = duckdb.connect()
    con.execute(
        "CREATE VIEW source AS SELECT DATE '2024-01-01' + CAST(i % 7 AS INTEGER) AS d, i * 0.5 AS x, "
        "CAST(i % 2 AS INTEGER) AS y, CAST(i % 2 AS INTEGER) AS p FROM range(40) t(i)"
    )
    log = open_log(con, ColumnRoles(label="y", prediction="p"), task="binary", classes=[0, 1], positive=1)
    logged = con.execute("SELECT d, x FROM source").df()
    assert logged["d"].dtype.kind == "M"
    evaluation = pd.concat([logged.iloc[5:15], logged.iloc[:3].assign(x=99.0)], ignore_index=True)
    in_memory = int(
        np.isin(overlap.row_hashes(evaluation, ["d", "x"]), overlap.row_hashes(logged, ["d", "x"])).sum()
    )
    assert in_memory == 10
    assert overlap.engine_duplicates(log, evaluation, ["d", "x"], log_is_training=True) == in_memory
    as_text = evaluation.assign(d=evaluation["d"].dt.strftime("%Y-%m-%d"))
    assert overlap.engine_duplicates(log, as_text, ["d", "x"], log_is_training=True) == in_memory
    con.close()
