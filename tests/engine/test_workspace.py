"""Out-of-core [datasets] entries in workspace.toml: parsed, validated, opened with a sample standing in."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

import explore
from explore import errors
from explore.core.workspace import parse_workspace, score
from explore.engine import overall_metrics
from explore.stats import metrics
from tests.engine.test_metrics import predictions_log

COLS = {"label": "income", "time": "when", "prediction": "pred", "score": "p", "positive": ">50K"}


def _partitioned(root, df):
    month = pd.to_datetime(df["when"]).dt.strftime("%Y-%m")
    for m, part in df.assign(when=pd.to_datetime(df["when"])).groupby(month):
        (root / "logs" / f"month={m}").mkdir(parents=True)
        part.to_parquet(root / "logs" / f"month={m}" / "part-0.parquet", index=False)


def _toml(root, datasets: str) -> None:
    cols = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in COLS.items())
    (root / "workspace.toml").write_text(f"[columns]\n{cols}\n\n[datasets]\n{datasets}\n")


def test_a_glob_with_engine_duckdb_opens_with_a_stratified_sample(tmp_path, monkeypatch):
    df = predictions_log("binary", 3000)
    _partitioned(tmp_path, df)
    _toml(tmp_path, 'log = { path = "logs/*/*.parquet", engine = "duckdb" }')
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 400)
    ws = explore.open(tmp_path)
    assert ws.is_out_of_core("log")
    info = ws.samples["log"]
    assert info.total == 3000 and info.rows < 3000
    sample = ws.dataset("log")
    # Stratified: both classes have (up to) half of the sample.
    assert sample["income"].value_counts().min() >= 150
    assert "sample of" in info.caption() and "stratified by 'income'" in info.caption()
    log = ws.log("log")
    assert log.n == 3000
    # The engine's overall metrics equal the in-memory ones on the whole file.
    whole = explore.open(_whole_workspace(tmp_path / "mem", df))
    mem = metrics.overall_metrics(score(whole, "log", None))
    eng = overall_metrics(log)
    np.testing.assert_allclose(eng["value"], mem["value"], rtol=1e-9, atol=1e-9)
    assert ws.data_fingerprint("log") == ws.data_fingerprint("log")


def _whole_workspace(root, df):
    root.mkdir()
    df.to_parquet(root / "log.parquet", index=False)
    _toml(root, 'log = "log.parquet"')
    return root


def test_a_small_folder_is_read_into_memory_by_default(tmp_path):
    _partitioned(tmp_path, predictions_log("binary", 600))
    _toml(tmp_path, 'log = "logs"')
    ws = explore.open(tmp_path)
    assert not ws.is_out_of_core("log") and len(ws.dataset("log")) == 600
    assert "month" in ws.dataset("log").columns  # the hive partition key is a column


def test_a_duckdb_table(tmp_path):
    df = predictions_log("binary", 500)
    with duckdb.connect(str(tmp_path / "logs.duckdb")) as con:
        con.register("frame", df)
        con.execute("CREATE TABLE preds AS SELECT * FROM frame")
    _toml(tmp_path, 'log = { duckdb = "logs.duckdb", table = "preds", engine = "duckdb" }')
    ws = explore.open(tmp_path)
    assert ws.log("log").n == 500


def test_a_missing_duckdb_file_is_said_with_its_fix(tmp_path):
    """The source is checked before its files are fingerprinted for the kept probe: a missing DuckDB file is the
    DataError naming the path and the fix, not a FileNotFoundError from the fingerprint's stat."""
    _toml(tmp_path, 'log = { duckdb = "nope.duckdb", table = "preds", engine = "duckdb" }')
    with pytest.raises(errors.DataError, match=r"nope\.duckdb' does not exist.*relative to workspace\.toml"):
        explore.open(tmp_path)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{ path = "a.parquet", engine = "spark2" }', r"'engine'.*'spark2'.*auto, pandas, duckdb"),
        ('{ duckdb = "a.duckdb" }', r"missing the required key 'table'.*duckdb = "),
        ('{ table = "preds" }', r"missing the required key 'duckdb'"),
        ('{ path = "a.parquet", duckdb = "a.duckdb", table = "t" }', r"either a path or a duckdb"),
    ],
)
def test_bad_engine_entries_name_the_key_and_the_fix(tmp_path, entry, message):
    import tomllib

    data = tomllib.loads(f'[columns]\nlabel = "y"\nprediction = "p"\n[datasets]\nlog = {entry}\n')
    with pytest.raises(errors.WorkspaceError, match=message):
        parse_workspace(data, tmp_path / "workspace.toml")


def test_a_glob_matching_nothing_fails_at_open(tmp_path):
    _toml(tmp_path, 'log = "logs/*.parquet"')
    with pytest.raises(errors.DataError, match="matches no files"):
        explore.open(tmp_path)


def test_the_notebook_runs_discovery_and_fairness_on_every_row_of_an_out_of_core_dataset(
    tmp_path, monkeypatch
):
    df = predictions_log("binary", 3000)
    _partitioned(tmp_path, df)
    _toml(tmp_path, 'log = { path = "logs/*/*.parquet", engine = "duckdb" }')
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 400)
    ws = explore.open(tmp_path)
    whole = explore.open(_whole_workspace(tmp_path / "mem", df))
    cols = ["age", "hours", "city", "seg"]
    eng = explore.notebook.discover(ws, columns=cols, min_support=30)
    mem = explore.notebook.discover(whole, columns=cols, min_support=30)
    assert "3,000 (every row, engine)" in str(eng.facts["rows"])
    assert eng.value.n_tested == mem.value.n_tested  # every row, not the 400-row sample
    assert list(eng.value.slices["slice"]) == list(mem.value.slices["slice"])
    where = {"hours": (20, 60)}
    eng_f = explore.notebook.fairness(ws, "city", where=where)
    mem_f = explore.notebook.fairness(whole, "city", where=where)
    assert int(eng_f.value.groups["support"].sum()) == int(mem_f.value.groups["support"].sum()) > 400
    pd.testing.assert_frame_equal(eng_f.value.gaps, mem_f.value.gaps, rtol=1e-9)


def test_explore_check_runs_discovery_and_fairness_on_every_row_of_an_out_of_core_dataset(
    tmp_path, monkeypatch
):
    import json

    from explore.checks import registry

    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    monkeypatch.setenv("EXPLORE_USER", "ci-bot")
    df = predictions_log("binary", 3000)
    _partitioned(tmp_path, df)
    _toml(tmp_path, 'log = { path = "logs/*/*.parquet", engine = "duckdb" }')
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 400)
    reports = {}
    # The same rows in memory, with the hive partition key the engine sees as a column.
    whole = df.assign(month=pd.to_datetime(df["when"]).dt.strftime("%Y-%m"))
    for name, path in (("engine", tmp_path), ("memory", _whole_workspace(tmp_path / "mem", whole))):
        out = tmp_path / f"out_{name}"
        registry.main(
            [str(path / "workspace.toml"), "--checks", "weak_slices,fairness", "--fairness", "city",
             "--out", str(out)]
        )  # fmt: skip
        reports[name] = {c["name"]: c for c in json.loads((out / registry.REPORT_JSON).read_text())["checks"]}
    for check in ("weak_slices", "fairness"):
        eng, mem = reports["engine"][check], reports["memory"][check]
        assert eng["status"] == mem["status"] in ("passed", "failed"), (eng, mem)
        assert eng["summary"] == mem["summary"]  # every row, not the 400-row sample
    assert (
        reports["engine"]["weak_slices"]["details"]["n_tested"]
        == reports["memory"]["weak_slices"]["details"]["n_tested"]
    )


def test_the_notebook_performance_over_time_runs_on_every_row_of_an_out_of_core_dataset(
    tmp_path, monkeypatch
):
    df = predictions_log("binary", 3000)
    _partitioned(tmp_path, df)
    _toml(tmp_path, 'log = { path = "logs/*/*.parquet", engine = "duckdb" }')
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 400)
    ws = explore.open(tmp_path)
    whole = explore.open(_whole_workspace(tmp_path / "mem", df))
    for kwargs in ({"window": "month"}, {"rows": 6}):
        eng = explore.notebook.performance_over_time(ws, metrics=["accuracy", "ROC AUC"], **kwargs)
        mem = explore.notebook.performance_over_time(whole, metrics=["accuracy", "ROC AUC"], **kwargs)
        assert "3,000 (every row, engine)" in str(eng.facts["rows"])
        assert eng.facts["windows"] == mem.facts["windows"]
        ours = eng.value.table.sort_values(["metric", "window"]).reset_index(drop=True)
        theirs = mem.value.table
        theirs = theirs[theirs["metric"].isin(["accuracy", "ROC AUC"])].sort_values(["metric", "window"])
        assert int(ours["support"].sum()) == int(theirs["support"].sum()) > 3000  # every row, not the sample
        np.testing.assert_allclose(ours["value"].to_numpy(float), theirs["value"].to_numpy(float), rtol=1e-9)


def test_task_and_classes_come_from_every_rows_values_not_the_first_rows(tmp_path):
    """Opening reads a probe, not a sample: the classes of a log ordered by label (60 of them, more than the
    probe's strata) and a regression target of integers must still be inferred from the whole column — from the
    first 1,000 rows they were 56 classes (rows of the others scored as errors) and 'multiclass' (found in review)."""
    rng = np.random.default_rng(0)
    n = 6000
    y = np.sort(rng.integers(0, 60, n))
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 60, n))
    logs = tmp_path / "logs"
    logs.mkdir()
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "label": [f"c{v}" for v in y], "pred": [f"c{v}" for v in pred]}
    )
    frame.to_parquet(logs / "a.parquet")
    toml = '[columns]\nlabel = "label"\nprediction = "pred"\n\n[datasets]\nlog = { path = "logs/a.parquet", engine = "duckdb" }\n'
    (tmp_path / "workspace.toml").write_text(toml)
    ws = explore.open(tmp_path)
    assert ws.task == "multiclass" and len(ws.classes) == 60
    accuracy = explore.slice_report(ws).comparison.set_index("metric").loc["accuracy", "overall"]
    assert accuracy == pytest.approx((y == pred).mean(), abs=1e-12)

    y2 = np.sort(rng.integers(0, 1000, 20_000))  # integers, many values, ordered: a regression target
    pd.DataFrame({"x": rng.normal(size=y2.size), "label": y2, "pred": y2 + 1}).to_parquet(logs / "a.parquet")
    assert explore.open(tmp_path).task == "regression"
