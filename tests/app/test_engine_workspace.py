"""AppTest: a workspace whose dataset is a hive-partitioned Parquet glob read by the engine (DuckDB) opens, and
the Workspace, Slices (groups) and Staleness (performance over time, drift) pages show engine results on every
row, with the sample that row-level views use stated."""

from __future__ import annotations

import pandas as pd
import pytest

from explore.engine import sample as engine_sample
from tests.conftest import assert_no_exception, unescaped
from tests.engine.test_metrics import predictions_log
from tests.engine.test_workspace import _partitioned, _toml

ROWS = 1200


@pytest.fixture
def engine_workspace(tmp_path, monkeypatch):
    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    _partitioned(tmp_path, predictions_log("binary", ROWS))
    _toml(tmp_path, 'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }')
    return tmp_path / "workspace.toml"


def _captions(at) -> str:
    return "\n".join(unescaped(str(c.value)) for c in at.caption)  # captions quoting names are escaped


def test_the_workspace_page_shows_engine_metrics_on_every_row(make_app, engine_workspace):
    at = make_app("views/workspace.py", workspace=engine_workspace)
    assert_no_exception(at)
    text = _captions(at)
    assert (
        f"a sample of up to 300 of {ROWS:,} rows, drawn by the engine the first time one needs rows" in text
    )
    frames = [d.value for d in at.dataframe]
    assert any("accuracy" in str(f.to_string()) for f in frames)


def test_slice_groups_are_computed_by_the_engine(make_app, engine_workspace):
    at = make_app("views/slices.py", workspace=engine_workspace)
    assert_no_exception(at)
    assert "sample of" in _captions(at)  # the page says which rows are a sample
    # The slice vs rest vs all rows summary: every row, by the engine, not the sample.
    assert f"Computed by the engine on all {ROWS:,} rows of the dataset ({ROWS:,} in the slice)" in _captions(
        at
    )
    assert at.metric[0].value == f"{ROWS:,}"
    comparison = next(d.value for d in at.dataframe if "slice_support" in d.value.columns)
    assert (comparison["slice_support"] <= ROWS).all() and comparison["slice_support"].max() > 300
    at.multiselect(key="slices_group_by").set_value(["city"]).run()
    assert_no_exception(at)
    assert f"all {ROWS:,} rows" in _captions(at)
    table = next(d.value for d in at.dataframe if "city" in d.value.columns)
    assert list(table["city"]) == ["Lyon", "Nice", "Paris"]
    assert table["support"].sum() == ROWS
    # Each group beside the rest of the slice, as the in-memory page shows it.
    assert {"rest", "gap", "q_worse", "worse"} <= set(table.columns)
    assert table["rest"].notna().all()
    assert any("significantly worse than the rest of the slice" in str(m.value) for m in at.markdown)
    assert at.button(key="slices_evidence_groups")  # the table can be attached as evidence


def test_discovery_and_fairness_on_the_page_say_they_used_the_sample(make_app, engine_workspace):
    # The page's discovery searches the rows it holds (the sample); it said "on 300 rows" with nothing telling that
    # these are a sample of 1,200, while the notebook and `explore check` search every row by the engine.
    at = make_app("views/slices.py", workspace=engine_workspace)
    at.radio(key="slices_view").set_value("Discovery").run()
    at.button(key="slices_discover").click().run()
    assert_no_exception(at)
    text = _captions(at)
    assert f"The search ran on the engine's sample of this dataset (300 of its {ROWS:,} rows)" in text
    assert "explore.discover(ws, dataset='log')" in text
    at.radio(key="slices_view").set_value("Fairness").run()
    assert_no_exception(at)
    text = _captions(at)
    assert f"Fairness ran on the engine's sample of this dataset (300 of its {ROWS:,} rows)" in text
    assert "explore check --fairness COLUMN" in text


def test_staleness_performance_and_drift_run_in_the_engine(make_app, engine_workspace):
    at = make_app("views/staleness.py", workspace=engine_workspace)
    assert_no_exception(at)
    text = _captions(at)
    assert "by calendar month, computed by the engine" in text
    assert "against the first month" in text
    # The window count's caption says its rows are the sample (it read "over 300 rows of log" above sections that
    # the engine computes on all 1,200).
    assert "rows of log (the engine's sample of log: the row-level sections use it" in text
    assert "counted by the engine" in text and "windows break an invariant" in text
    drift = next(d.value for d in at.dataframe if "psi" in d.value.columns)
    assert set(drift["feature"]) >= {"age", "hours", "city"}
    assert (
        drift["window"].nunique()
        == pd.to_datetime(predictions_log("binary", ROWS)["when"]).dt.to_period("M").nunique()
    )


def test_equal_row_windows_run_in_the_engine(make_app, engine_workspace):
    at = make_app("views/staleness.py", workspace=engine_workspace)
    at.selectbox(key="staleness_window_by").set_value("rows").run()
    at.number_input(key="staleness_n_windows").set_value(5).run()
    assert_no_exception(at)
    text = _captions(at)
    assert "by 5 windows of equal row counts, computed by the engine" in text
    assert "against the first window" in text
    drift = next(d.value for d in at.dataframe if "psi" in d.value.columns)
    assert drift["window"].nunique() == 5


def test_pages_say_when_the_roc_auc_came_from_score_bins(make_app, engine_workspace, monkeypatch):
    """More (group, label, score) cells than the engine's budget: the ROC AUC is a histogram approximation, and
    the Workspace, Slices and Staleness pages say so with its maximum error."""
    monkeypatch.setattr("explore.engine.metrics.CELL_BUDGET", 10)
    monkeypatch.setattr("explore.engine.metrics.BINNED_CELLS", 0)
    monkeypatch.setattr("explore.engine.metrics.MIN_BINS", 8)
    said = "ROC AUC from a histogram of the scores (8 bins per group"
    at = make_app("views/workspace.py", workspace=engine_workspace)
    assert_no_exception(at)
    assert said in _captions(at)
    at = make_app("views/slices.py", workspace=engine_workspace)
    at.multiselect(key="slices_group_by").set_value(["city"]).run()
    assert_no_exception(at)
    assert said in _captions(at)
    table = next(d.value for d in at.dataframe if "city" in d.value.columns)
    at = make_app("views/staleness.py", workspace=engine_workspace)
    assert_no_exception(at)
    assert said in _captions(at)
    assert table["support"].sum() == ROWS


def test_the_log_is_opened_once_for_every_engine_analysis(engine_workspace, logs_opened):
    """Opening a log is a pass over its label and score: the pages' analyses share one (ui.engine_cached._log)."""
    from explore.core.workspace import open_workspace, read_workspace
    from explore.slices.definition import SliceDefinition
    from ui import engine_cached

    engine_cached._shared_log.clear()
    ws = open_workspace(read_workspace(engine_workspace))
    overall = engine_cached.overall(ws, "log")
    perf = engine_cached.performance(ws, "log", "month")
    groups = engine_cached.groups(ws, "log", SliceDefinition(()), ("city",), 3)
    assert logs_opened == ["log"]
    assert overall["support"].max() == ROWS and perf.table["support"].max() > 0
    assert list(groups.keys["city"]) == ["Lyon", "Nice", "Paris"]
    engine_cached._shared_log.clear()


def test_opening_draws_no_sample_until_a_row_level_section_asks(make_app, engine_workspace, draws):
    at = make_app("views/workspace.py", workspace=engine_workspace)
    assert_no_exception(at)
    assert draws == []  # the Workspace page: engine metrics and the probe's counts, no sample
    assert f"up to 300 of {ROWS:,} rows, drawn by the engine the first time one needs rows" in _captions(at)
    datasets = next(d.value for d in at.dataframe if "missing labels" in d.value.columns)
    labels = predictions_log("binary", ROWS)["income"]
    assert int(datasets["rows"].iloc[0]) == ROWS  # every row, not the sample's
    for value, share in labels.value_counts(normalize=True).items():  # the label balance of every row
        assert float(datasets[f"share {value}"].iloc[0]) == pytest.approx(share, abs=1e-4)
    # A row-level section gets the sample, drawn once.
    at = make_app("views/slices.py", workspace=engine_workspace)
    assert_no_exception(at)
    assert len(draws) == 1
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    assert_no_exception(at)
    assert len(draws) == 1  # kept: not drawn again
    # Once drawn, the pages say how many rows it holds and how it was drawn.
    assert f"of {ROWS:,} rows drawn by the engine, stratified by 'income'" in _captions(at)


def test_curves_and_threshold_describe_every_rows_class_mix(make_app, tmp_path, monkeypatch):
    """The Curves & threshold view ran on the engine's sample, drawn in equal shares per class: its precision and
    threshold costs described a 50 % positive population where every row has about 20 %. It now measures the
    sampled rows kept in every row's class shares, and says so."""
    import numpy as np

    from tests.checks.test_baseline import skewed_engine_workspace

    toml, valid = skewed_engine_workspace(tmp_path, monkeypatch)
    at = make_app("views/slices.py", workspace=toml)
    at.radio(key="slices_view").set_value("Curves & threshold").run()
    assert_no_exception(at)
    assert "not the sample's equal shares: valid: the engine's sample is stratified by label" in _captions(at)
    table = next(d.value for d in at.dataframe if "precision" in d.value.columns and "set" in d.value.columns)
    row = table[table["set"] == "all rows"].iloc[0]
    predicted = valid["p"] >= row["threshold"]
    every_row = float(valid["y"][predicted].mean())  # precision on every row of the log
    se = np.sqrt(every_row * (1 - every_row) / (row["tp"] + row["fp"]))
    assert abs(row["precision"] - every_row) < 4 * se
    assert row["tp"] / (row["tp"] + row["fn"] + row["fp"] + row["tn"]) < 0.25  # positives in their share


def test_the_regression_fairness_default_is_the_notebooks_every_row_sd(make_app, tmp_path, monkeypatch):
    """A regressor's default largest gap is 0.2 × the label's SD: the Slices page took it on the engine's sample,
    the notebook on every row, so the two defaults differed on the same dataset. Both are every row's now."""
    import explore
    from explore.core.upload import toml_text
    from explore.slices.report import regression_gap_default

    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    log = predictions_log("regression", ROWS)
    _partitioned(tmp_path, log)
    columns = {"label": "income", "time": "when", "prediction": "pred", "task": "regression"}
    datasets = {"log": {"path": "logs/month=*/*.parquet", "engine": "duckdb"}}
    (tmp_path / "workspace.toml").write_text(toml_text({"columns": columns, "datasets": datasets}))
    every_row = regression_gap_default(float(log["income"].std(ddof=1)))
    ws = explore.open(tmp_path)
    sample = regression_gap_default(float(ws.dataset("log")["income"].std(ddof=1)))
    assert sample != every_row  # the sample's default is not every row's: the test tells them apart
    notebook = explore.fairness(ws, "city").facts["threshold"]
    assert notebook == every_row
    at = make_app("views/slices.py", workspace=tmp_path / "workspace.toml")
    at.radio(key="slices_view").set_value("Fairness").run()
    assert_no_exception(at)
    (box,) = [n for n in at.number_input if str(n.key).startswith("slices_fair_threshold_regression_")]
    assert box.value == notebook
    assert f"the default, 0.2 × the label's standard deviation ({float(log['income'].std(ddof=1)):.4g})" in (
        _captions(at)
    )


def test_a_footer_settled_label_is_counted_by_the_metrics_pass(make_app, tmp_path, monkeypatch):
    """An integer 0 / 1 label (and prediction) whose values the Parquet footers settle: opening reads no label, and
    the Workspace page's dataset table shows the class shares and missing labels of every row — counted by the
    overall metrics' pass, not by a pass of their own — equal to pandas' counts."""
    df = predictions_log("binary", ROWS)
    df["income"] = (df["income"] == ">50K").astype("Int8")
    df.loc[df.index[:9], "income"] = pd.NA  # missing labels
    df["pred"] = (df["pred"] == ">50K").astype("int8")
    _partitioned(tmp_path, df)
    (tmp_path / "workspace.toml").write_text(
        '[columns]\nlabel = "income"\ntime = "when"\nprediction = "pred"\nscore = "p"\n\n'
        '[datasets]\nlog = { path = "logs/month=*/*.parquet", engine = "duckdb" }\n'
    )
    passes = []
    real = engine_sample.count_labels
    monkeypatch.setattr(engine_sample, "count_labels", lambda *a: passes.append(1) or real(*a))
    at = make_app(workspace=tmp_path / "workspace.toml")
    assert_no_exception(at)
    table = next(d.value for d in at.dataframe if "missing labels" in d.value.columns)
    labelled = df["income"].dropna()
    assert table["rows"].iloc[0] == ROWS and table["missing labels"].iloc[0] == 9
    assert table["share 1"].iloc[0] == round((labelled == 1).mean(), 4)
    assert table["share 0"].iloc[0] == round((labelled == 0).mean(), 4)
    assert any("accuracy" in str(d.value.to_string()) for d in at.dataframe)
    assert passes == []  # the metrics' pass counted them


@pytest.mark.parametrize("task", ["binary", "regression"])
@pytest.mark.parametrize("unit", ["month", "rows"])
def test_staleness_shows_every_rows_label_and_prediction_rates_as_in_memory(
    make_app, tmp_path, monkeypatch, task, unit
):
    """The Staleness page's engine path charted metrics per window only: the label / prediction rates that tell
    label shift from prediction shift (its in-memory path's third chart) were missing on a big log. They come from
    one engine GROUP BY now, equal to the in-memory ``PerformanceOverTime.rates`` of the same rows."""
    import json

    import numpy as np
    import pyarrow as pa

    import explore
    from explore.core.upload import toml_text
    from tests.engine.test_metrics import COLUMNS
    from ui import engine_cached

    monkeypatch.setattr("explore.engine.sample.SAMPLE_ROWS", 300)
    _partitioned(tmp_path, predictions_log(task, ROWS))
    columns = {**COLUMNS[task], "task": task}
    for name, engine in (("engine", "duckdb"), ("memory", "pandas")):
        (tmp_path / name).mkdir()
        datasets = {"log": {"path": "../logs/month=*/*.parquet", "engine": engine}}
        (tmp_path / name / "workspace.toml").write_text(toml_text({"columns": columns, "datasets": datasets}))
    window = {"rows": 4} if unit == "rows" else {"window": "month"}
    memory = explore.performance_over_time(explore.open(tmp_path / "memory"), **window).value.rates
    ws = explore.open(tmp_path / "engine")
    engine = engine_cached.rates(ws, "log", unit, 4)
    assert len(engine) == len(memory) > 0
    for col in ("window", "series", "class", "label"):
        assert engine[col].astype(str).tolist() == memory[col].astype(str).tolist(), col
    for col in ("value", "ci_low", "ci_high", "support"):
        np.testing.assert_allclose(
            engine[col].to_numpy(float), memory[col].to_numpy(float), rtol=1e-9, err_msg=col
        )

    at = make_app("views/staleness.py", workspace=tmp_path / "engine" / "workspace.toml")
    if unit == "rows":
        at.selectbox(key="staleness_window_by").set_value("rows").run()
        at.number_input(key="staleness_n_windows").set_value(4).run()
    assert_no_exception(at)
    title = "mean label vs mean prediction" if task == "regression" else "label rate vs predicted rate"
    (chart,) = [
        c
        for c in at.get("vega_lite_chart")
        if json.dumps(json.loads(c.proto.spec).get("title", "")) == f'"{title}"'
    ]
    (shown,) = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
    np.testing.assert_allclose(
        np.sort(shown["value"].to_numpy(float)), np.sort(engine["value"].to_numpy(float))
    )
    assert "Label and prediction rates together tell label shift" in _captions(at)
