"""AppTest: a big out-of-core dataset (above PREFETCH_SAMPLE_ROWS rows; the threshold lowered here) whose row-level
sample is still being drawn in the background. The Workspace, Slices and Staleness pages draw what the engine
computes at once; in place of the sections that need rows they show the draw's progress, and those sections
appear once the sample is drawn (the page's polling fragment reruns it; here ``at.run()`` does)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import assert_no_exception, unescaped
from tests.engine.test_metrics import predictions_log
from tests.engine.test_workspace import _partitioned, _toml

ROWS = 1200
SAMPLE = 300


@pytest.fixture
def pending_workspace(tmp_path, monkeypatch):
    """The log's workspace, and a gate the sample's draw waits behind (opened by the test, or at teardown)."""
    from explore.engine import sample as engine_sample
    from ui import engine_cached

    monkeypatch.setattr(engine_sample, "SAMPLE_ROWS", SAMPLE)
    monkeypatch.setattr(engine_cached, "PREFETCH_SAMPLE_ROWS", 100)
    gate = threading.Event()
    real = engine_sample.draw_sample
    drawn: list[int] = []

    def gated(*args, **kwargs):
        assert gate.wait(timeout=120), "the test never opened the gate"
        got = real(*args, **kwargs)
        drawn.append(len(got[0]))
        return got

    monkeypatch.setattr(engine_sample, "draw_sample", gated)
    _partitioned(tmp_path, predictions_log("binary", ROWS))
    _toml(tmp_path, 'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }')
    yield tmp_path / "workspace.toml", gate, drawn
    gate.set()
    for draw in list(engine_cached._draws.values()):
        draw.finished.wait(timeout=120)


def _captions(at) -> str:
    return "\n".join(unescaped(str(c.value)) for c in at.caption)


def _drawn() -> None:
    """Wait until the background draws (the page's dataset's sample) finished."""
    from ui import engine_cached

    for draw in list(engine_cached._draws.values()):
        assert draw.finished.wait(timeout=120)


def _release(gate, at) -> None:
    """Let the background draw run, wait until it finished, and rerun the page (as its polling fragment would)."""
    gate.set()
    _drawn()
    at.run()


def test_the_slices_page_draws_the_engine_sections_while_the_sample_is_drawn(make_app, pending_workspace):
    toml, gate, drawn = pending_workspace
    at = make_app("views/slices.py", workspace=toml)
    assert_no_exception(at)
    assert drawn == []  # the draw waits behind the gate: the page did not wait for it
    # The engine's summary of every row, complete.
    assert f"Computed by the engine on all {ROWS:,} rows of the dataset ({ROWS:,} in the slice)" in _captions(
        at
    )
    assert at.metric[0].value == f"{ROWS:,}"
    comparison = next(d.value for d in at.dataframe if "slice_support" in d.value.columns)
    assert comparison["slice_support"].max() == ROWS
    # Groups (the first view) is the engine's too: its columns are the dataset's, read at open.
    at.multiselect(key="slices_group_by").set_value(["city"]).run()
    assert_no_exception(at)
    table = next(d.value for d in at.dataframe if "city" in d.value.columns)
    assert list(table["city"]) == ["Lyon", "Nice", "Paris"] and table["support"].sum() == ROWS
    assert not at.status  # nothing of Groups waits for rows
    # A row-level view: the draw's progress in its place, nothing of the section half drawn.
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    assert_no_exception(at)
    assert len(at.status) == 1
    label = unescaped(at.status[0].label)
    assert f"Drawing the {SAMPLE:,}-row sample of 'log' for the row-level views" in label
    assert f"{ROWS:,} rows, every column" in label
    assert at.status[0].state == "running"
    assert any("Rows & what-if works on rows one by one" in unescaped(m.value) for m in at.markdown)
    assert not [d for d in at.dataframe if d.key == "slices_rows_table"]
    assert drawn == []
    # The sample drawn: the next run (the fragment's st.rerun) draws the rows, without a second draw.
    _release(gate, at)
    assert_no_exception(at)
    assert not at.status
    rows = next(d.value for d in at.dataframe if "loss" in d.value.columns)
    assert 0 < len(rows) <= SAMPLE
    assert drawn == [SAMPLE]
    assert f"Computed by the engine on all {ROWS:,} rows of the dataset" in _captions(at)


def test_the_engine_groups_offer_only_columns_the_engine_groups(make_app, pending_workspace):
    """Groups of an out-of-core dataset (while its sample is drawn, and after): the dataset's own columns, each
    grouped by the engine. The pseudo-columns (true label, prediction, correct, time) and the time column were
    offered too, and each was refused with an error ("There is no column '__label__' in dataset 'log'")."""
    toml, gate, drawn = pending_workspace
    # [checks] slices naming the time column first: the first offered column of the list is the default.
    toml.write_text(toml.read_text() + '\n[checks]\nslices = ["when", "city"]\n')
    at = make_app("views/slices.py", workspace=toml)
    assert_no_exception(at)
    assert at.multiselect(key="slices_group_by").value == ["city"]
    for state in ("pending", "drawn"):
        options = at.multiselect(key="slices_group_by").options
        assert options == ["row_id", "age", "hours", "city", "income", "seg", "p", "pred", "month"], state
        for column in options:
            at.multiselect(key="slices_group_by").set_value([column]).run()
            assert_no_exception(at)
            assert not [unescaped(e.value) for e in at.error], (state, column)
        _release(gate, at)
    assert drawn == [SAMPLE]


def test_the_slice_builder_says_its_values_wait_for_the_rows(make_app, pending_workspace):
    toml, gate, _ = pending_workspace
    at = make_app("views/slices.py", workspace=toml)
    assert_no_exception(at)
    assert "being drawn (see below): this opens once it is ready" in _captions(at)
    _release(gate, at)
    assert "being drawn (see below)" not in _captions(at)
    assert at.selectbox(key="slices_add_column")  # the column / values pickers, from the rows


def test_the_staleness_page_draws_the_engine_sections_while_the_sample_is_drawn(make_app, pending_workspace):
    toml, gate, drawn = pending_workspace
    at = make_app("views/staleness.py", workspace=toml)
    assert_no_exception(at)
    text = _captions(at)
    assert "by calendar month, computed by the engine" in text  # performance over time, every row
    assert "against the first month" in text  # drift, every row (a small log: at page load)
    assert "Windows over every row of 'log', cut by the engine" in text
    assert len(at.status) == 1 and "Drawing the" in unescaped(at.status[0].label)
    assert not [s for s in at.subheader if s.value == "Staleness experiment"]
    assert drawn == []
    _release(gate, at)
    assert_no_exception(at)
    assert not at.status
    assert [s for s in at.subheader if s.value == "Performance without labels"]
    assert drawn == [SAMPLE]


def test_the_workspace_page_needs_no_rows(make_app, pending_workspace):
    toml, _, drawn = pending_workspace
    at = make_app("views/workspace.py", workspace=toml)
    assert_no_exception(at)
    frames = [d.value for d in at.dataframe]
    assert any("accuracy" in f.to_string() for f in frames)
    assert not at.status and drawn == []


def test_the_progress_says_what_is_read_and_how_long_it_takes():
    from ui.engine_cached import SampleDraw
    from ui.sample_wait import progress_text

    draw = SampleDraw(total=100_000_000, gigabytes=13.0, queued=100.0)
    text, fraction = progress_text(draw, "log", now=103.0)
    assert "a pass over 13.0 GB (100,000,000 rows, every column; ≈ 10 s)" in text
    assert "queued behind the engine's first passes (3 s so far)" in text and fraction == 0.0
    draw.started = 103.0
    text, fraction = progress_text(draw, "log", now=108.2)
    assert text.endswith(": 5 s so far…") and fraction == pytest.approx(5.2 / 10.4)
    _, fraction = progress_text(draw, "log", now=200.0)
    assert fraction == 0.95  # never "done" before it is


def test_a_sample_kept_by_a_previous_start_is_read_back_by_the_page(make_app, pending_workspace):
    """A restart finds the sample beside the workspace: reading it back takes no pass, so the page reads it
    itself and draws every section at once (no progress, no second draw)."""
    toml, gate, drawn = pending_workspace
    gate.set()
    at = make_app("views/slices.py", workspace=toml)
    _drawn()
    assert drawn == [SAMPLE]
    at = make_app("views/slices.py", workspace=toml)  # caches cleared: a new Workspace, as after a restart
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    assert_no_exception(at)
    assert not at.status
    assert any("loss" in d.value.columns for d in at.dataframe)
    assert drawn == [SAMPLE]  # read back, not drawn again


def test_the_draw_gives_way_to_the_pages():
    """The thread that draws a big log's sample lowers its own CPU priority (the DuckDB threads it starts inherit
    it); the rest of the process (the pages) keeps its own."""
    import os

    from ui import engine_cached

    got = {}

    def draw_thread():
        engine_cached.give_way()
        got["draw"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        def started_by_it():
            got["its thread"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

        inner = threading.Thread(target=started_by_it)
        inner.start()
        inner.join()

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=draw_thread)
    thread.start()
    thread.join()
    assert got["draw"] == got["its thread"] == max(before, engine_cached.DRAW_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_the_metrics_imports_are_started_once_as_the_app_starts(monkeypatch):
    import importlib

    from ui import engine_cached

    imported = []
    monkeypatch.setattr(engine_cached, "_warmed", threading.Event())
    monkeypatch.setattr(importlib, "import_module", lambda name: imported.append(name))
    thread = engine_cached.warm_imports()
    assert thread is not None and engine_cached.warm_imports() is None
    thread.join(timeout=60)
    assert imported == list(engine_cached.WARM_IMPORTS)


def test_staleness_on_every_dataset_waits_for_the_one_being_drawn(make_app, pending_workspace):
    """'All datasets' joins a small in-memory dataset with the big log whose sample is being drawn: the page
    waits for that log's draw (not the sidebar dataset's, which has none), then draws."""
    toml, gate, drawn = pending_workspace
    root = toml.parent
    predictions_log("binary", 200).to_parquet(root / "recent.parquet", index=False)
    toml.write_text(
        toml.read_text().replace(
            'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }',
            'log = { path = "logs/month=*/*.parquet", engine = "duckdb" }\nrecent = "recent.parquet"',
        )
    )
    at = make_app("views/staleness.py", workspace=toml)
    assert_no_exception(at)
    at.sidebar.selectbox(key="ws_dataset").set_value("recent").run()
    at.selectbox(key="staleness_data").set_value("all").run()
    assert_no_exception(at)
    assert len(at.status) == 1 and "sample of 'log'" in unescaped(at.status[0].label)
    assert any("Pick 'log' in the sidebar" in unescaped(m.value) for m in at.markdown)
    assert not [
        s for s in at.subheader if s.value == "Performance over time"
    ]  # nothing drawn from half the rows
    assert drawn == []
    _release(gate, at)
    assert not at.status and drawn == [SAMPLE]


@pytest.fixture
def pending_model_workspace(pending_workspace):
    """The pending log's workspace with a model file (fitted on a training CSV read into memory): the Importance
    and Checks pages' row-level sections need the log's sample."""
    from explore.core.upload import toml_text
    from tests.engine.test_workspace import COLS
    from tests.helpers import FEATURES, make_workspace

    toml, gate, drawn = pending_workspace
    train = predictions_log("binary", 400)
    made = make_workspace(toml.parent / "model", datasets={"train": train}, columns=COLS)
    (toml.parent / "model.skops").write_bytes((made.parent / "model.skops").read_bytes())
    (toml.parent / "train.csv").write_bytes((made.parent / "train.csv").read_bytes())
    import tomllib

    model = tomllib.loads(made.read_text())["model"]
    sections = {
        "model": model,
        "columns": {**COLS, "features": FEATURES},
        "datasets": {"log": {"path": "logs/month=*/*.parquet", "engine": "duckdb"}, "train": "train.csv"},
    }
    toml.write_text(toml_text(sections))
    return toml, gate, drawn


def _choose_log(at) -> None:
    """The sidebar's dataset: the engine log (the training CSV is the other)."""
    box = next(s for s in at.sidebar.selectbox if "log" in s.options)
    if box.value != "log":
        box.set_value("log").run()


@pytest.mark.parametrize("page", ["views/importance.py", "views/checks.py"])
def test_the_importance_and_checks_pages_show_the_draw_then_their_content(
    make_app, pending_model_workspace, page
):
    toml, gate, drawn = pending_model_workspace
    at = make_app(page, workspace=toml, timeout=60)
    _choose_log(at)
    assert_no_exception(at)
    assert drawn == []  # the page did not wait for the draw (nor froze behind it)
    assert len(at.status) == 1 and "Drawing the" in unescaped(at.status[0].label)
    assert at.status[0].state == "running"
    _release(gate, at)
    assert_no_exception(at)
    assert not at.status
    assert drawn == [SAMPLE]
    if page == "views/importance.py":
        assert any(
            "shap" in str(d.value.columns).lower() or "feature" in d.value.columns for d in at.dataframe
        )
    else:
        assert at.radio(key="checks_section").value == "Comparison"
