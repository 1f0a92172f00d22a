"""The notebook API and `explore check` on a workspace whose datasets stay in the engine (hive-partitioned Parquet,
predictions in columns): every aggregate is computed on every row and equals the in-memory path on the same rows
to 1e-9 (binary, multiclass, regression); what runs on the engine-drawn sample says so in its result.

Known differences, asserted as such: the multiclass macro ROC AUC's interval (in memory a bootstrap on small
slices, in the engine the normal interval, with a note) and the average precision of each group's *rest*
(not computed by the engine: NaN with the in-memory path's note).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import explore
from explore.core.upload import toml_text
from explore.errors import AnalysisError
from explore.slices.definition import Condition, SliceDefinition
from explore.slices.report import SliceReportParams
from tests.engine.test_metrics import COLUMNS, predictions_log
from tests.helpers import make_workspace

ROWS = 2000
SAMPLE = 300
TASKS = ["binary", "multiclass", "regression"]


def _write_log(folder, df: pd.DataFrame) -> None:
    month = pd.to_datetime(df["when"]).dt.strftime("%Y-%m")
    for m, part in df.assign(when=pd.to_datetime(df["when"])).groupby(month):
        (folder / f"month={m}").mkdir(parents=True)
        part.to_parquet(folder / f"month={m}" / "part-0.parquet", index=False)


def _with_month(df: pd.DataFrame) -> pd.DataFrame:
    """The rows as the engine sees them: the hive partition key is a column."""
    return df.assign(month=pd.to_datetime(df["when"]).dt.strftime("%Y-%m"))


def twin_workspaces(root, task: str, datasets: dict[str, pd.DataFrame], out_of_core: set[str], **engine):
    """(the workspace whose ``out_of_core`` datasets stay in the engine, the same rows all in memory)."""
    cols = {**COLUMNS[task], "task": task}
    if task == "binary":
        cols["positive"] = ">50K"
    mem = make_workspace(
        root / "mem",
        task=task,
        model=None,
        columns=cols,
        datasets={n: _with_month(d) if n in out_of_core else d for n, d in datasets.items()},
    )
    entries: dict[str, object] = {}
    (root / "ooc").mkdir(parents=True, exist_ok=True)
    for name, df in datasets.items():
        if name in out_of_core:
            _write_log(root / "ooc" / name, df)
            entries[name] = {"path": name, "engine": "duckdb", **engine}
        else:
            df.to_csv(root / "ooc" / f"{name}.csv", index=False)
            entries[name] = f"{name}.csv"
    (root / "ooc" / "workspace.toml").write_text(toml_text({"columns": cols, "datasets": entries}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("explore.engine.sample.SAMPLE_ROWS", SAMPLE)
        ooc = explore.open(root / "ooc")
    return ooc, explore.open(mem)


@pytest.fixture(scope="module", params=TASKS)
def twins(request, tmp_path_factory):
    task = request.param
    ooc, mem = twin_workspaces(
        tmp_path_factory.mktemp(f"nb-{task}"), task, {"log": predictions_log(task, ROWS)}, {"log"}
    )
    assert ooc.is_out_of_core("log") and ooc.samples["log"].rows < ROWS
    return task, ooc, mem


def _known_differences(task: str, frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Rows × columns of a metrics frame where the engine is documented to differ (see the module doc)."""
    skip = np.zeros((len(frame), len(columns)), dtype=bool)
    for j, c in enumerate(columns):
        if task == "multiclass" and c.endswith(("_low", "_high", "ci_low", "ci_high")) or c == "p_worse":
            skip[:, j] |= (frame["metric"] == "ROC AUC").to_numpy() if task == "multiclass" else False
        if c.startswith("rest") or c in ("gap", "p_worse", "q_worse", "worse"):
            skip[:, j] |= (frame["metric"] == "PR AUC").to_numpy()
        if task == "multiclass" and c in ("q_worse", "worse"):
            skip[:, j] |= (frame["metric"] == "ROC AUC").to_numpy()
    return skip


def assert_frames_equal(task: str, eng: pd.DataFrame, mem: pd.DataFrame) -> None:
    assert list(eng.columns) == list(mem.columns) and len(eng) == len(mem)
    numeric = [c for c in mem.columns if mem[c].dtype.kind == "f"]
    skip = _known_differences(task, mem, numeric)
    for j, c in enumerate(numeric):
        a, b = eng[c].to_numpy(float), mem[c].to_numpy(float)
        keep = ~skip[:, j]
        np.testing.assert_allclose(a[keep], b[keep], rtol=1e-9, atol=1e-9, err_msg=c)
    if "worse" in mem.columns:
        keep = ~_known_differences(task, mem, ["worse"])[:, 0]
        assert list(eng["worse"][keep]) == list(mem["worse"][keep])
    for c in mem.columns:
        if mem[c].dtype.kind in "iu" or c in ("metric", "group", "note") or c.endswith("(column)"):
            if c == "note":
                keep = ~_known_differences(task, mem, ["rest"])[:, 0]
                keep &= ~((mem["metric"] == "ROC AUC") & (task == "multiclass")).to_numpy()
                assert list(eng[c][keep]) == list(mem[c][keep]), c
            else:
                assert list(eng[c]) == list(mem[c]), c


@pytest.mark.parametrize(
    ("where", "by"),
    [(None, None), ({"city": "Nice"}, "seg"), ({"hours": (20, 50)}, ["city", "age"])],
    ids=["every-row", "slice-by-one", "range-by-two"],
)
def test_slice_report_and_group_by_equal_the_in_memory_path(twins, where, by):
    task, ooc, mem = twins
    eng = explore.slice_report(ooc, where, by=by)
    ref = explore.slice_report(mem, where, by=by)
    assert eng.facts["rows"] == f"{ROWS:,} (every row, engine)" and "every row by the engine" in eng.title
    assert eng.value.n_rows == ref.value.n_rows == ROWS  # every row, not the sample
    assert eng.value.n_slice == ref.value.n_slice
    assert_frames_equal(task, eng.value.comparison, ref.value.comparison)
    if by is not None:
        assert_frames_equal(task, eng.value.by_group, ref.value.by_group)
        assert [tuple(c.describe() for c in g) for g in eng.value.group_conditions] == [
            tuple(c.describe() for c in g) for g in ref.value.group_conditions
        ]
        grouped = explore.group_by(ooc, by, where=where)
        pd.testing.assert_frame_equal(grouped.to_frame(), eng.value.by_group)
    eng.chart()  # the page's chart draws from the engine's report as from memory's


def test_discover_fairness_performance_and_drift_equal_the_in_memory_path(twins):
    task, ooc, mem = twins
    cols = ["age", "hours", "city", "seg"]
    eng, ref = (
        explore.discover(ooc, columns=cols, min_support=30),
        explore.discover(mem, columns=cols, min_support=30),
    )
    assert eng.value.n_tested == ref.value.n_tested
    assert list(eng.value.slices["slice"]) == list(ref.value.slices["slice"])
    if task != "regression":
        eng_f, ref_f = explore.fairness(ooc, "city"), explore.fairness(mem, "city")
        pd.testing.assert_frame_equal(eng_f.value.gaps, ref_f.value.gaps, rtol=1e-9)
    chosen = ["accuracy"] if task != "regression" else ["MAE"]
    eng_t = explore.performance_over_time(ooc, metrics=chosen)
    ref_t = explore.performance_over_time(mem, metrics=chosen)
    theirs = ref_t.value.table[ref_t.value.table["metric"].isin(chosen)]
    np.testing.assert_allclose(eng_t.value.table["value"], theirs["value"], rtol=1e-9)
    assert int(eng_t.value.table["support"].sum()) == ROWS
    feats = ["age", "hours", "city", "seg"]
    eng_d, ref_d = explore.drift(ooc, features=feats), explore.drift(mem, features=feats)
    assert eng_d.facts["rows"] == f"{ROWS:,} (every row, engine)"
    a, b = eng_d.value.table, ref_d.value.table
    assert len(a) == len(b) and list(a["feature"]) == list(b["feature"])
    for c in ("rows", "psi", "ks", "js", "p_value", "missing_share", "unseen_share"):
        np.testing.assert_allclose(
            a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=c
        )
    assert int(a["rows"].sum()) == ROWS * len(feats)
    eng_d.chart()


def test_row_level_calls_state_the_sample_they_ran_on(twins):
    _, ooc, mem = twins
    said = f"sample of {len(ooc.dataset('log')):,} of {ROWS:,} rows (drawn by the engine, stratified by 'income')"
    if ooc.task == "regression":
        said = f"sample of {len(ooc.dataset('log')):,} of {ROWS:,} rows (drawn by the engine)"
    cf = explore.counterfactual(ooc, position=0)
    assert cf.facts["sample"] == said
    assert "sample" not in explore.counterfactual(mem, position=0).facts
    assert "sample" in repr(cf) or "sample" in cf._repr_html_()
    windows = explore.performance_over_time(ooc, datasets=["log"], rows=4)
    assert windows.facts["rows"] == f"{ROWS:,} (every row, engine)"


def test_what_only_runs_in_memory_is_refused_with_the_reason(twins):
    from explore.engine.report import slice_report

    _, ooc, _ = twins
    log = ooc.log("log")
    try:
        with pytest.raises(AnalysisError, match=r"is a Python function.*Name registry metrics"):
            slice_report(log, params=SliceReportParams(metrics={"mine": lambda y, p: 0.0}))
        with pytest.raises(AnalysisError, match=r"Explicit bin edges for 'age'.*number of quantile bins"):
            slice_report(log, by=["age"], params=SliceReportParams(bins=[0, 30, 60]))
        with pytest.raises(AnalysisError, match="has no rows in dataset 'log'"):
            slice_report(log, SliceDefinition((Condition("city", "in", values=("Atlantis",)),)))
    finally:
        log.con.close()
    with pytest.raises(AnalysisError, match="calendar windows"):
        explore.slice_report(ooc, by="when")


# ---- explore check -------------------------------------------------------------------------------------------


def _check(workspace, out, *extra: str) -> tuple[int, dict[str, dict]]:
    from explore.checks import registry

    code = registry.main([str(workspace), "--out", str(out), "--fairness", "city", *extra])
    report = json.loads((out / registry.REPORT_JSON).read_text())
    return code, {c["name"]: c for c in report["checks"]}


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_explore_check_passes_and_fails_as_in_memory(task, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    train = predictions_log(task, 1200)
    log = predictions_log(task, ROWS)
    serving = predictions_log(task, 1500)
    serving["age"] = serving["age"] + 60  # out of the training range: the invariants check fails
    datasets = {"train": train, "validation": log, "production": serving}
    twin_workspaces(tmp_path, task, datasets, {"validation", "production"})
    runs = {}
    for name, folder in (("engine", tmp_path / "ooc"), ("memory", tmp_path / "mem")):
        with monkeypatch.context() as mp:
            mp.setattr("explore.engine.sample.SAMPLE_ROWS", SAMPLE)
            runs[name] = _check(folder, tmp_path / f"out-{name}")
    (code_e, eng), (code_m, ref) = runs["engine"], runs["memory"]
    assert code_e == code_m == 1  # the invariants check fails on both
    # The overlap check compares a dataset that stays in the engine there, every row: the same count as in memory.
    assert eng["overlap"]["status"] == ref["overlap"]["status"] == "passed"
    assert eng["overlap"]["summary"] == ref["overlap"]["summary"]
    assert {n: c["status"] for n, c in eng.items()} == {n: c["status"] for n, c in ref.items()}
    ran = {n for n, c in eng.items() if c["status"] in ("passed", "failed")}
    assert {"weak_slices", "invariants", "stability"} <= ran
    # Every row, by the engine: the same summary as in memory.
    for name in ("weak_slices", "fairness", "invariants"):
        if name in ran:
            assert eng[name]["summary"] == ref[name]["summary"], name
            assert (
                "validation" in str(eng[name]["details"].get("every_row_by_engine")) or name == "invariants"
            )
    assert (
        eng["invariants"]["status"] == "failed"
        and "production" in eng["invariants"]["details"]["every_row_by_engine"]
    )
    # On the sample: said in the summary, the details and the CLI's line.
    stability = eng["stability"]
    assert "Ran on a sample drawn by the engine, not every row" in stability["summary"]
    assert stability["details"]["sample"]["validation"]["total"] == ROWS
    assert "sample" not in ref["stability"]["details"]
    printed = capsys.readouterr().out
    assert f"of {ROWS:,} rows of 'validation'" in printed
    skew = eng["skew"]
    assert skew["status"] == "skipped"


def test_the_skew_check_is_not_available_out_of_core_and_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    df = predictions_log("binary", 800).assign(row_id=lambda d: np.arange(len(d)))
    ooc, _ = twin_workspaces(tmp_path, "binary", {"train": df, "production": df}, {"production"})
    text = (
        (tmp_path / "ooc" / "workspace.toml").read_text().replace("[columns]", '[columns]\nid = "row_id"', 1)
    )
    (tmp_path / "ooc" / "workspace.toml").write_text(text)
    code, checks = _check(tmp_path / "ooc", tmp_path / "out", "--checks", "skew")
    assert code == 2 and checks["skew"]["status"] == "skipped"
    assert "not available out of core: 'production' stays in the engine" in checks["skew"]["summary"]


def test_annotations_of_an_out_of_core_dataset_are_refused_with_the_fix(tmp_path):
    df = predictions_log("binary", 600).assign(row_id=lambda d: np.arange(len(d)))
    ooc, _ = twin_workspaces(tmp_path, "binary", {"log": df}, {"log"})
    pd.DataFrame({"item": [1, 2, 3], "who": ["a", "b", "a"], "label": [">50K", "<=50K", ">50K"]}).to_csv(
        tmp_path / "ooc" / "ann.csv", index=False
    )
    toml = tmp_path / "ooc" / "workspace.toml"
    toml.write_text(
        toml.read_text().replace("[columns]", '[columns]\nid = "row_id"', 1)
        + '\n[annotations]\npath = "ann.csv"\nitem = "item"\nlabeler = "who"\nlabel = "label"\ndataset = "log"\n'
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("explore.engine.sample.SAMPLE_ROWS", SAMPLE)
        ws = explore.open(toml)
    with pytest.raises(
        AnalysisError, match=r"stays in the engine \(the workspace holds a sample of 3\d\d of 600"
    ):
        explore.agreement(ws)
    with pytest.raises(AnalysisError, match="Not available out of core: export the annotated rows"):
        explore.label_queue(ws)


def test_explore_report_writes_its_sections_from_every_row_and_states_the_sample(tmp_path, db_url):
    """`explore report` is made of notebook calls: on an out-of-core workspace its slice report and performance
    over time are the engine's, on every row, and the SHAP section is unavailable (predictions only) — no error."""
    from explore.core.store import Store
    from explore.report.minutes import build_minutes

    ooc, _ = twin_workspaces(tmp_path, "binary", {"log": predictions_log("binary", ROWS)}, {"log"})
    with Store(db_url) as store:
        minutes = build_minutes(ooc, store, by=["city"])
    sections = {s.key: s for s in minutes.sections}
    for key in ("slices", "staleness"):
        assert sections[key].unavailable is None, sections[key].unavailable
        assert f"{ROWS:,} (every row, engine)" in " ".join(sections[key].parts)


def test_r2_is_shown_per_group_but_not_tested_for_worse_on_both_paths(tmp_path):
    """Grouped by a column the label follows, each group's label spread is narrow, so its R² is far below the
    overall one while its errors are not larger: R² keeps its value and says why it is not compared; MAE / RMSE
    are tested as before; the engine's table equals the in-memory one."""
    rng = np.random.default_rng(5)
    n = 1500
    area = rng.uniform(20, 200, n)
    income = area * 1_000 + rng.normal(0, 5_000, n)
    df = pd.DataFrame(
        {
            "area": area,
            "income": income,
            "pred": income + rng.normal(0, 8_000, n),
            "when": pd.date_range("2024-01-01", periods=n, freq="6h"),
        }
    )
    ooc, mem = twin_workspaces(tmp_path, "regression", {"log": df}, {"log"})
    eng, ref = explore.group_by(ooc, "area").to_frame(), explore.group_by(mem, "area").to_frame()
    assert_frames_equal("regression", eng, ref)
    for table in (eng, ref):
        r2 = table[table["metric"] == "R²"]
        assert (
            r2["value"] < 0.9
        ).all()  # far below the overall R² (about 0.9): the narrow spread, not the model
        assert r2["p_worse"].isna().all() and r2["q_worse"].isna().all() and not r2["worse"].any()
        assert r2["note"].str.contains("not tested for 'worse'", regex=False).all()
        mae = table[table["metric"] == "MAE"]
        assert mae["p_worse"].notna().all() and not mae["note"].str.contains("not tested").any()
    overall = explore.slice_report(mem, {"area": (20, 60)}).value.comparison.set_index("metric")
    assert np.isnan(overall.loc["R²", "p_worse"]) and "not tested" in overall.loc["R²", "note"]
    assert overall.loc["R²", "higher_is_better"]  # still shown with its direction
    assert not np.isnan(overall.loc["RMSE", "p_worse"])


def test_a_regressors_fairness_threshold_is_in_label_units_and_equal_on_both_paths(tmp_path):
    """explore.fairness on a regressor: the default gap is 0.2 standard deviations of the label (every row), not
    0.1 of a rate, so a house-price model is not above it everywhere; the engine states the same threshold."""
    from explore.slices.report import regression_gap_default

    df = predictions_log("regression", ROWS)
    ooc, mem = twin_workspaces(tmp_path, "regression", {"log": df}, {"log"})
    eng, ref = explore.fairness(ooc, "city"), explore.fairness(mem, "city")
    expected = regression_gap_default(df["income"].std(ddof=1))
    assert eng.facts["threshold"] == ref.facts["threshold"] == expected > 100
    assert "0.2 × the label's standard deviation" in ref.facts["threshold means"]
    pd.testing.assert_frame_equal(eng.value.gaps, ref.value.gaps, rtol=1e-9)
    assert list(ref.value.gaps["exceeds"]) == list(ref.value.gaps["gap"] > expected)
    chosen = explore.fairness(mem, "city", threshold=5_000)
    assert chosen.facts["threshold"] == 5_000 and "default" not in chosen.facts["threshold means"]
    binary_ooc, _ = twin_workspaces(
        tmp_path / "b", "binary", {"log": predictions_log("binary", 500)}, {"log"}
    )
    assert explore.fairness(binary_ooc, "city").facts["threshold"] == 0.1
    with pytest.raises(AnalysisError, match="gap between two groups' rates, from 0 to 1; received 5000"):
        explore.fairness(binary_ooc, "city", threshold=5_000)


@pytest.mark.parametrize("kwargs", [{}, {"rows": 5}, {"window": "week", "metrics": ["accuracy"]}])
def test_performance_over_time_has_the_in_memory_shape_on_the_engine(twins, kwargs):
    """The engine's frame had ``group`` / ``window`` (the start) where the in-memory one has ``window`` (the
    index), ``label``, ``start``, ``end``: a notebook now gets the same result on both paths, same numbers."""
    task, ooc, mem = twins
    if task == "regression" and "metrics" in kwargs:
        kwargs = {**kwargs, "metrics": ["MAE"]}
    eng, ref = explore.performance_over_time(ooc, **kwargs), explore.performance_over_time(mem, **kwargs)
    assert type(eng.value) is type(ref.value)
    assert eng.facts["metrics"] == ref.facts["metrics"] and eng.facts["windows"] == ref.facts["windows"]
    a, b = eng.to_frame(), ref.to_frame()
    assert list(a.columns) == list(b.columns) and dict(a.dtypes) == dict(b.dtypes)
    assert_frames_equal(task, a, b)
    for c in ("window", "label", "start", "end", "window_rows", "too_few"):
        assert list(a[c]) == list(b[c]), c
    pd.testing.assert_frame_equal(eng.value.windows, ref.value.windows)
    # The label / prediction shares (regression: means) per window, by one GROUP BY: the in-memory frame.
    assert not eng.value.rates.empty
    pd.testing.assert_frame_equal(eng.value.rates, ref.value.rates, rtol=1e-9)
    eng.chart()


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("searched", [256, 2])
def test_an_empty_month_is_a_window_without_rows_on_the_engine_as_in_memory(
    task, searched, tmp_path, monkeypatch
):
    """No row in March: in memory March is a window (0 rows, metrics NaN with support 0, too few); the engine
    listed only the months holding rows, so every later window's index was off by one. (``searched``: the
    windows the engine lists in SQL; beyond them it cuts by date_trunc: the same windows.)"""
    monkeypatch.setattr("explore.engine.metrics.MAX_SEARCHED_WINDOWS", searched)
    log = predictions_log(task, ROWS)
    log = log[pd.to_datetime(log["when"]).dt.strftime("%Y-%m") != "2024-03"]
    ooc, mem = twin_workspaces(tmp_path, task, {"log": log}, {"log"})
    for kwargs in ({}, {"window": "week"}, {"where": {"city": "Nice"}}):
        eng, ref = explore.performance_over_time(ooc, **kwargs), explore.performance_over_time(mem, **kwargs)
        pd.testing.assert_frame_equal(eng.value.windows, ref.value.windows)
        pd.testing.assert_frame_equal(eng.value.table, ref.value.table, rtol=1e-9)
        pd.testing.assert_frame_equal(eng.value.rates, ref.value.rates, rtol=1e-9)
    march = eng.value.table[eng.value.table["label"] == "2024-03"]
    assert len(march) == len(eng.facts["metrics"]) and (march["support"] == 0).all()
    assert march["value"].isna().all() and march["too_few"].all()
    assert (eng.value.rates.loc[eng.value.rates["label"] == "2024-03", "support"] == 0).all()


@pytest.mark.parametrize("searched", [256, 2])
def test_a_slice_of_later_rows_keeps_every_window_of_the_log_on_the_engine_as_in_memory(
    searched, tmp_path, monkeypatch
):
    """A slice whose rows all fall in one month (of 17): in memory every window of the log stays, the other months
    with support 0. Beyond the windows the engine lists in SQL (``searched`` 2) it listed only the slice's span,
    and the every-row window counts then named months outside it: a KeyError traceback."""
    monkeypatch.setattr("explore.engine.metrics.MAX_SEARCHED_WINDOWS", searched)
    ooc, mem = twin_workspaces(tmp_path, "binary", {"log": predictions_log("binary", ROWS)}, {"log"})
    where = {"month": "2024-03"}
    eng, ref = (
        explore.performance_over_time(ooc, where=where),
        explore.performance_over_time(mem, where=where),
    )
    assert len(ref.value.windows) == 17
    pd.testing.assert_frame_equal(eng.value.windows, ref.value.windows)
    pd.testing.assert_frame_equal(eng.value.table, ref.value.table, rtol=1e-9)
    pd.testing.assert_frame_equal(eng.value.rates, ref.value.rates, rtol=1e-9)
    assert (eng.value.table.loc[eng.value.table["label"] != "2024-03", "support"] == 0).all()


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_equal_row_windows_in_a_slice_are_the_logs_windows_on_the_engine_as_in_memory(task, tmp_path):
    """Equal-row windows are cut over every row, in a slice too (in memory; the engine's GROUP BY uses those
    starts). The engine listed only the windows holding the slice's rows, and the every-row window counts then
    named starts outside that list: a KeyError traceback."""
    ooc, mem = twin_workspaces(tmp_path, task, {"log": predictions_log(task, ROWS)}, {"log"})
    kwargs = {"rows": 4, "where": {"month": "2024-03"}}
    eng, ref = explore.performance_over_time(ooc, **kwargs), explore.performance_over_time(mem, **kwargs)
    assert len(ref.value.windows) == 4 and (ref.value.windows["window_rows"] > 0).all()
    pd.testing.assert_frame_equal(eng.value.windows, ref.value.windows)
    pd.testing.assert_frame_equal(eng.value.table, ref.value.table, rtol=1e-9)
    pd.testing.assert_frame_equal(eng.value.rates, ref.value.rates, rtol=1e-9)


def test_a_slice_without_rows_is_said_on_the_engine_as_in_memory(twins):
    """In memory: "No row of dataset 'log' is in the slice …"; the engine path raised an IndexError."""
    _, ooc, mem = twins
    where = {"month": "2030-01"}
    with pytest.raises(AnalysisError) as ref:
        explore.performance_over_time(mem, where=where)
    with pytest.raises(AnalysisError) as eng:
        explore.performance_over_time(ooc, where=where)
    assert str(eng.value) == str(ref.value) and "No row of dataset 'log' is in the slice" in str(eng.value)


def test_more_windows_than_a_chart_shows_are_refused_on_the_engine_as_in_memory(tmp_path):
    """By day, a log of 500 days is 500 windows: in memory refused (more than MAX_WINDOWS, 400) with the fix;
    the engine (beyond the windows it lists in SQL) returned all 500, empty ones filled in."""
    ooc, mem = twin_workspaces(tmp_path, "binary", {"log": predictions_log("binary", ROWS)}, {"log"})
    with pytest.raises(AnalysisError) as ref:
        explore.performance_over_time(mem, window="day")
    with pytest.raises(AnalysisError) as eng:
        explore.performance_over_time(ooc, window="day")
    assert str(eng.value) == str(ref.value) and "make 500 windows, more than the 400" in str(eng.value)
    assert len(explore.performance_over_time(ooc, window="week").value.windows) == len(
        explore.performance_over_time(mem, window="week").value.windows
    )
