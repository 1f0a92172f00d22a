"""The UI glue pages build on, each in a tiny app run by Streamlit's AppTest:

- ui/boundary.py: ``guarded`` callbacks turn an ExploreError into a flash message (a bug still surfaces),
  ``flash``/``show_flashes`` show a callback's outcome once, ``shown_errors`` shows an ExploreError with its fix;
- ui/cache.py: a cached function taking a ``Scored`` is keyed by ``Scored.cache_key`` (``HASH_FUNCS``), not by
  hashing its arrays;
- ui/state.py: the current slice (and its ``?slice=`` link) and the datapoint in focus, through the accessors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from explore.core.workspace import Scored
from explore.slices.definition import Condition, SliceDefinition
from tests.conftest import assert_no_exception, texts
from ui import state
from ui.boundary import guarded
from ui.cache import HASH_FUNCS


@pytest.fixture(autouse=True)
def _fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _scored(
    dataset: str = "validation", ids: Any = None, *, n: int = 5, source_key: str = "", pred: Any = None
) -> Scored:
    """A small hand-built Scored (binary task, one feature)."""
    ids = np.array([f"r{i}" for i in range(n)], dtype=object) if ids is None else np.asarray(ids)
    n = len(ids)
    y = np.zeros(n, dtype=int)
    return Scored(
        dataset_name=dataset,
        model_name="current",
        task="binary",
        frame=pd.DataFrame({"x": np.arange(n, dtype=float)}),
        feature_names=["x"],
        y=y,
        y_raw=y,
        pred=y.copy() if pred is None else np.asarray(pred),
        proba=None,
        score=None,
        classes=np.array([0, 1]),
        positive_index=1,
        time=None,
        ids=ids,
        unavailable={},
        n_unlabeled=0,
        source_key=source_key,
    )


# ---- ui/boundary.py -------------------------------------------------------------------------------------


def _callbacks_app():
    import streamlit as st

    from explore.errors import ExploreError
    from ui.boundary import flash, guarded, show_flashes

    show_flashes()

    @guarded
    def save():
        flash("Saved the slice 'north'.")

    @guarded
    def refuse():
        raise ExploreError("Nothing to save: choose a slice first.")

    @guarded
    def warn():
        flash("Only 3 rows: the interval is wide.", "warning", icon=":material/info:")

    @guarded
    def crash():
        raise RuntimeError("a bug in the callback")

    st.button("Save", key="save", on_click=save)
    st.button("Refuse", key="refuse", on_click=refuse)
    st.button("Warn", key="warn", on_click=warn)
    st.button("Crash", key="crash", on_click=crash)
    st.write("page drawn")


@pytest.fixture
def callbacks() -> AppTest:
    at = AppTest.from_function(_callbacks_app, default_timeout=30)
    at.run()
    assert_no_exception(at)
    return at


def test_a_callbacks_flash_is_shown_once_on_the_next_run(callbacks):
    assert not callbacks.success
    callbacks.button(key="save").click().run()
    assert_no_exception(callbacks)
    assert texts(callbacks.success) == ["Saved the slice 'north'."]
    assert callbacks.success[0].icon == ":material/check_circle:"
    callbacks.run()
    assert not callbacks.success  # shown once, then forgotten


def test_flash_takes_the_kind_and_icon(callbacks):
    callbacks.button(key="warn").click().run()
    assert texts(callbacks.warning) == ["Only 3 rows: the interval is wide."]
    assert [w.icon for w in callbacks.warning] == [":material/info:"]


def test_a_guarded_callbacks_explore_error_becomes_an_error_flash(callbacks):
    callbacks.button(key="refuse").click().run()
    assert_no_exception(callbacks)
    assert texts(callbacks.error) == ["Nothing to save: choose a slice first."]
    assert callbacks.markdown[-1].value == "page drawn"  # the page goes on
    callbacks.run()
    assert not callbacks.error


def test_a_guarded_callbacks_bug_is_not_hidden(callbacks):
    callbacks.button(key="crash").click().run()
    assert [e.value for e in callbacks.exception] and "a bug in the callback" in callbacks.exception[0].value
    assert not callbacks.error


def test_guarded_keeps_the_callbacks_name_and_result():
    def compute(a, *, b):
        return a + b

    wrapped = guarded(compute)
    assert wrapped(1, b=2) == 3 and wrapped.__name__ == "compute"


def _shown_errors_app(stop):
    import streamlit as st

    from explore.errors import ExploreError
    from ui.boundary import shown_errors

    with shown_errors(stop=stop):
        st.write("before")
        raise ExploreError("The file 'x.csv' does not exist. Check the path.")
    st.write("after")


@pytest.mark.parametrize("stop", [True, False])
def test_shown_errors_shows_the_message_and_stops_or_goes_on(stop):
    at = AppTest.from_function(_shown_errors_app, args=(stop,), default_timeout=30).run()
    assert_no_exception(at)
    assert texts(at.error) == ["The file 'x.csv' does not exist. Check the path."]
    assert [m.value for m in at.markdown] == (["before"] if stop else ["before", "after"])


# ---- ui/cache.py ----------------------------------------------------------------------------------------


def _cache_app(calls, scored_list):
    import streamlit as st

    from ui.cache import cache_small

    @cache_small()
    def positives(scored):
        calls.append(scored.cache_key)
        return int(scored.pred.sum())

    st.session_state["results"] = [positives(sc) for sc in scored_list]


def test_a_cached_function_taking_a_scored_is_keyed_by_its_cache_key():
    first = _scored(source_key="ws|validation|current", pred=[1, 1, 0, 0, 0])
    # The same cache_key with other arrays: the cached result is served (the arrays are never hashed) ...
    same_key = _scored(source_key="ws|validation|current", pred=[1, 1, 1, 1, 1])
    # ... and another key (another dataset, model or file version) is computed afresh.
    other_key = _scored(source_key="ws|validation|previous", pred=[1, 1, 1, 1, 1])
    calls: list[str] = []
    at = AppTest.from_function(_cache_app, args=(calls, [first, same_key, other_key]), default_timeout=30)
    at.run()
    assert_no_exception(at)
    assert at.session_state["results"] == [2, 2, 5]
    assert calls == ["ws|validation|current", "ws|validation|previous"]
    at.run()  # another run: every result comes from the cache
    assert calls == ["ws|validation|current", "ws|validation|previous"]


def test_hand_built_scored_objects_are_never_confused():
    a, b = _scored(pred=[1, 0, 0, 0, 0]), _scored(pred=[1, 1, 1, 0, 0])
    calls: list[str] = []
    at = AppTest.from_function(_cache_app, args=(calls, [a, b]), default_timeout=30).run()
    assert_no_exception(at)
    assert at.session_state["results"] == [1, 3] and len(calls) == 2


def test_hash_funcs_use_the_cheap_identity():
    sc = _scored(source_key="k")
    assert HASH_FUNCS[Scored](sc) == "k" == sc.cache_key
    sd = SliceDefinition((Condition("x", "in", (1,)),))
    assert HASH_FUNCS[SliceDefinition](sd) == sd.to_json()


# ---- ui/state.py ----------------------------------------------------------------------------------------


def _step_app(holder):  # no annotations: the body runs as a script, without this module's imports
    import streamlit as st

    st.session_state["result"] = holder["step"]()


class StatePage:
    """An app whose every run calls ``step()`` inside the script (so ui.state sees a real session)."""

    def __init__(self) -> None:
        self.holder: dict[str, Callable[[], Any]] = {}
        self.at = AppTest.from_function(_step_app, args=(self.holder,), default_timeout=30)

    def run(self, step: Callable[[], Any]) -> Any:
        self.holder["step"] = step
        self.at.run()
        assert_no_exception(self.at)
        return self.at.session_state["result"]


NORTH = SliceDefinition((Condition("region", "in", ("North",)),), name="north")


def test_no_current_slice_is_every_row():
    page = StatePage()
    assert page.run(state.current_slice) == SliceDefinition()


def test_set_current_slice_is_shared_and_put_in_the_link():
    page = StatePage()
    page.run(lambda: state.set_current_slice(NORTH))
    assert page.at.query_params["slice"] == NORTH.to_query_param()
    assert page.run(state.current_slice) == NORTH
    assert page.at.session_state[state.SLICE] == NORTH.to_json()
    page.run(lambda: state.set_current_slice(SliceDefinition()))  # back to every row: the link goes
    assert "slice" not in page.at.query_params
    assert page.run(state.current_slice) == SliceDefinition()


def test_set_current_slice_without_the_link():
    page = StatePage()
    page.run(lambda: state.set_current_slice(NORTH, in_url=False))
    assert "slice" not in page.at.query_params
    assert page.run(state.current_slice) == NORTH


def test_an_unreadable_saved_slice_is_cleared_with_a_warning():
    page = StatePage()
    page.at.session_state[state.SLICE] = "{not json"
    assert page.run(state.current_slice) == SliceDefinition()
    assert len(page.at.warning) == 1 and "could not be read and was cleared" in texts(page.at.warning)[0]
    assert state.SLICE not in page.at.session_state
    page.run(state.current_slice)
    assert not page.at.warning  # cleared: said once


def test_select_row_puts_the_row_in_focus_for_every_page():
    scored = _scored(ids=np.array([1000, 1001, 1002, 1003], dtype=np.int64))
    page = StatePage()
    assert page.run(state.selected_row) is None
    page.run(lambda: state.select_row(scored, np.int64(2)))
    raw = page.at.session_state[state.SELECTED_ROW]
    assert raw == {"dataset": "validation", "position": 2, "id": 1002}
    assert type(raw["id"]) is int and type(raw["position"]) is int  # plain, for JSON and the store
    assert page.run(state.selected_row) == state.SelectedRow("validation", 2, 1002)


@pytest.mark.parametrize(
    "ids",
    [
        np.array(["a", "b", "c", "d"], dtype=object),
        np.array([1000, 1001, 1002, 1003], dtype=np.int64),
        np.array([0.5, 1.5, 2.5, 3.5]),
        pd.date_range("2024-01-01", periods=4, freq="h").to_numpy(),
    ],
    ids=["text", "int", "float", "datetime"],
)
def test_selected_position_by_id_and_by_position(ids):
    scored = _scored(ids=ids, source_key="ws|validation|current")
    # Another model's scoring of the same dataset may order or subset the rows differently: matched by id.
    reordered = _scored(ids=ids[::-1], source_key="ws|validation|other-order")
    page = StatePage()
    page.run(lambda: state.select_row(scored, 1))
    assert page.run(lambda: state.selected_position(scored, by_id=True)) == 1
    assert page.run(lambda: state.selected_position(scored, by_id=False)) == 1
    assert page.run(lambda: state.selected_position(reordered, by_id=True)) == 2
    assert page.run(lambda: state.selected_position(reordered, by_id=False)) == 1


def test_selected_position_is_none_elsewhere():
    scored = _scored(source_key="a")
    page = StatePage()
    assert page.run(lambda: state.selected_position(scored, by_id=True)) is None  # nothing selected
    page.run(lambda: state.select_row(scored, 4))
    assert page.run(lambda: state.selected_position(_scored("train", source_key="b"), by_id=True)) is None
    fewer = _scored(n=3, source_key="c")  # the same dataset with fewer rows: position 4 is not there
    assert page.run(lambda: state.selected_position(fewer, by_id=False)) is None
    assert page.run(lambda: state.selected_position(fewer, by_id=True)) is None  # nor is id r4
    page.run(state.clear_selected_row)
    assert page.run(state.selected_row) is None


def test_find_by_id():
    text_ids = _scored(source_key="t")
    int_ids = _scored(ids=np.array([7, 8, 9], dtype=np.int64), source_key="i")
    page = StatePage()
    assert page.run(lambda: state.find_by_id(text_ids, " r3 ")) == 3
    assert page.run(lambda: state.find_by_id(text_ids, "r9")) is None
    assert page.run(lambda: state.find_by_id(int_ids, "8")) == 1
    assert page.run(lambda: state.find_by_id(int_ids, "8.0")) is None
    dated = _scored(ids=pd.date_range("2024-01-01", periods=3, freq="h").to_numpy(), source_key="d")
    assert page.run(lambda: state.find_by_id(dated, "2024-01-01T01:00:00")) == 1  # as the datapoint shows it


def test_clear_shared_choices_forgets_dataset_model_slice_and_row():
    scored = _scored()
    page = StatePage()
    page.run(lambda: (state.set_current_slice(NORTH), state.select_row(scored, 0)))
    page.at.session_state[state.DATASET] = "validation"
    page.at.session_state[state.MODEL] = "current"
    page.run(state.clear_shared_choices)
    for key in (state.DATASET, state.MODEL, state.SLICE, state.SELECTED_ROW):
        assert key not in page.at.session_state
