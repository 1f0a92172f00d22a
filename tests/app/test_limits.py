"""Limits through the Workspace page (issue 19): a 5,000-column file and a 10 MB cell open into a working view
with bounded memory; a line over the limit is refused with a message; and while one session opens any of
them, another session's page still reruns promptly. Figures at larger sizes: benchmarks/bench_limits.py."""

from __future__ import annotations

import resource

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from explore.slices.definition import SliceDefinition
from tests.conftest import APP, assert_no_exception, texts
from tests.pathological import big_cell_csv, long_line_csv, other_session_during, upload_and_open, wide_csv
from ui import state

# Peak resident memory the process may add while it opens a file of a few MB (pandas, the scored frame, the
# page's tables); a copy per column or per rerun would go far past it.
MEMORY_BOUND_MB = 600


@pytest.fixture
def uploading(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    return make_app


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _opened(at, n_features: int) -> None:
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert {m.label: m.value for m in at.metric}["Features"] == str(n_features)


def test_a_5000_column_upload_opens_into_a_working_view_with_bounded_memory(uploading):
    at = uploading()
    data = wide_csv(n_rows=200, n_columns=5_000)
    before = _peak_mb()
    seconds = upload_and_open(at, "wide.csv", data)
    grown = _peak_mb() - before
    print(f"5,000 columns ({len(data) / 1e6:.1f} MB): opened in {seconds:.1f} s, peak memory +{grown:.0f} MB")
    _opened(at, 5_000)
    assert grown < MEMORY_BOUND_MB, grown
    at.switch_page("views/slices.py").run()
    assert_no_exception(at)
    at.radio(key="slices_view").set_value("Groups").run()
    at.multiselect(key="slices_group_by").set_value(["f4999"]).run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert at.get("vega_lite_chart"), "the groups of the last column are drawn"


def test_a_10_mb_cell_upload_opens_into_a_working_view(uploading):
    at = uploading()
    data = big_cell_csv(cell_mb=10)
    before = _peak_mb()
    seconds = upload_and_open(at, "cell.csv", data)
    grown = _peak_mb() - before
    print(
        f"one 10 MB cell ({len(data) / 1e6:.1f} MB): opened in {seconds:.1f} s, peak memory +{grown:.0f} MB"
    )
    _opened(at, 2)
    assert grown < MEMORY_BOUND_MB, grown
    at.switch_page("views/slices.py").run()
    at.radio(key="slices_view").set_value("Groups").run()
    at.multiselect(key="slices_group_by").set_value(["note"]).run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    # The cell is a group of its own: its chart label is cut (the spec stays small), its table row keeps it whole.
    charts = at.get("vega_lite_chart")
    assert charts, "the groups of the note column are drawn"
    sizes = [len(c.proto.spec) + sum(len(d.data.data) for d in c.proto.datasets) for c in charts]
    assert max(sizes) < 1_000_000, sizes
    tables = [d.value for d in at.dataframe if isinstance(d.value, pd.DataFrame)]
    longest = max(len(v) for t in tables for v in t.to_numpy().ravel() if isinstance(v, str))
    assert longest >= 10 << 20, "a table keeps the whole cell"
    assert not _big_elements(at), _big_elements(at)  # the group picker's options are cut too
    # The cell as a slice condition: the builder's options and the slice's description are cut, the slice is not.
    at.selectbox(key="slices_add_column").set_value("note").run()
    values = next(m for m in at.multiselect if m.key and m.key.startswith("slices_add_values_"))
    assert not _big_elements(at), _big_elements(at)
    long_one = next(i for i, o in enumerate(values.options) if "10,485,760 characters" in o)
    values.set_value([values.options[long_one]]).run()
    at.button(key="slices_add").click().run()
    assert_no_exception(at)
    assert not _big_elements(at), _big_elements(at)
    current = SliceDefinition.from_json(at.session_state[state.SLICE])
    assert len(current.conditions[0].values[0]) == 10 << 20  # the slice holds the whole value
    assert "slice" not in at.query_params  # too long for a link: the Share popover says to save it instead


def _big_elements(at, limit: int = 1_000_000) -> list[str]:
    """Elements other than tables whose message to the browser is over ``limit`` bytes."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        children = getattr(node, "children", None)
        if children is not None:
            stack.extend(children.values())
            continue
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if kind != "dataframe" and hasattr(proto, "ByteSize") and proto.ByteSize() > limit:
            out.append(f"{kind} {getattr(node, 'key', None)}: {proto.ByteSize():,} bytes")
    return out


def test_a_line_over_the_limit_is_refused_with_a_message(uploading, monkeypatch):
    monkeypatch.setenv("EXPLORE_MAX_LINE_MB", "2")
    at = uploading()
    upload_and_open(at, "broken.csv", long_line_csv(line_mb=4))
    assert_no_exception(at)
    assert any("has a line of more than 2 MB" in e and "EXPLORE_MAX_LINE_MB" in e for e in texts(at.error)), (
        texts(at.error)
    )


# What "promptly" means on a loaded 2-core CI machine: a rerun of the tiny workspace's page takes ~0.1 s alone.
PROMPT_SECONDS = 15.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("5,000 columns", lambda: wide_csv(n_rows=200, n_columns=5_000)),
        ("a 10 MB cell", lambda: big_cell_csv(cell_mb=10)),
        ("a line over the limit", lambda: long_line_csv(line_mb=4)),
    ],
    ids=["wide", "big_cell", "long_line"],
)
def test_another_session_stays_responsive_while_one_opens_a_pathological_file(
    uploading, tiny_workspace, monkeypatch, kind, data
):
    monkeypatch.setenv("EXPLORE_MAX_LINE_MB", "2")
    first = uploading()
    payload = data()

    def second_session():
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        return at

    seen = other_session_during(second_session, lambda: upload_and_open(first, "file.csv", payload))
    assert_no_exception(first)
    print(
        f"{kind}: first session busy {seen.busy_seconds:.1f} s; the other session's reruns took "
        f"{max(seen.alone):.2f} s alone and at most {seen.slowest:.2f} s meanwhile ({len(seen.during)} reruns)"
    )
    assert seen.during and seen.slowest < PROMPT_SECONDS, seen
