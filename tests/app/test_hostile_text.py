"""Hostile text through the pages: review names, evidence notes and confirmers (Rubric), labeler names and
batches (Labels), category values and column names of a data file (Workspace, Slices). Every element that
renders Markdown must show them as text: no element allows HTML, there is no html element, and each body,
rendered by a CommonMark renderer with raw HTML on, holds no live markup and no injected link."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explore.core.store import Store
from explore.rubric import ml_test_score
from explore.slices.definition import Condition, SliceDefinition
from tests.conftest import assert_no_exception
from tests.helpers import frame, hostile_workspace, make_workspace
from tests.hostile import PAYLOADS, rendered_markup
from ui import state

# One line per payload, short enough for a name (the 20,000-character one is tried in the exports' tests).
SHORT = {k: v for k, v in PAYLOADS.items() if k != "long"}
MARKDOWN_ELEMENTS = ("markdown", "caption", "error", "warning", "info", "success", "exception", "toast")


def _walk(node):
    children = getattr(node, "children", None)
    if children is None:
        yield node
        return
    for child in children.values():
        yield from _walk(child)


def assert_shown_as_text(at) -> list[str]:
    """Fail if any element renders markup from user text; return every Markdown body seen."""
    assert_no_exception(at)
    bodies, problems = [], []
    for el in _walk(at._tree):
        kind = getattr(el, "type", "")
        proto = getattr(el, "proto", None)
        if kind == "html" or (proto is not None and getattr(proto, "allow_html", False)):
            problems.append(f"{kind} renders HTML")
        texts = []
        if kind in MARKDOWN_ELEMENTS or kind in ("title", "header", "subheader"):
            texts.append(getattr(el, "value", "") or getattr(proto, "body", ""))
        label = getattr(el, "label", None)
        if isinstance(label, str):  # widget and expander labels are Markdown too
            texts.append(label)
        if kind == "radio":  # so are a radio's options (links aside; images show as icons)
            texts.extend(str(o) for o in el.options)
        for text in texts:
            bodies.append(str(text))
            found = rendered_markup(str(text))
            if found:
                problems.append(f"{kind}: {found} in {str(text)[:200]!r}")
    assert not problems, problems
    return bodies


def test_rubric_page_shows_hostile_review_names_notes_and_confirmers_as_text(make_app, db_url):
    ids = {}
    with Store(db_url) as store:
        for name, payload in SHORT.items():
            ids[name] = ml_test_score.start_review(store, f"{payload} ({name})", payload)
            ml_test_score.confirm_test(
                store,
                ids[name],
                "data-1",
                status="manual",
                author=payload,
                evidence_text=f"{name}: {payload}",
            )
    at = make_app("views/rubric.py")
    assert_shown_as_text(at)
    for name in ("iframe_srcdoc", "md_link_http", "script", "streamlit_directive"):
        at.selectbox(key="rubric_review_id").set_value(ids[name]).run()
        at.button(key=f"rubric_{ids[name]}_data-1_open").click().run()  # one test open at a time: its entry
        bodies = assert_shown_as_text(at)
        assert any(f"{name}: " in b.replace("\\", "") for b in bodies), name  # the note is shown, as text


def test_labels_page_shows_hostile_labeler_names_and_batches_as_text(make_app, tiny_copy):
    path = tiny_copy.parent / "annotations.csv"
    ann = pd.read_csv(path)
    names = sorted(ann["annotator"].unique())
    hostile = [
        SHORT["iframe_srcdoc"],
        SHORT["md_link_http"],
        SHORT["img_onerror"],
        SHORT["streamlit_directive"],
    ]
    ann["annotator"] = ann["annotator"].map(dict(zip(names, hostile, strict=False))).fillna(ann["annotator"])
    ann["batch"] = np.where(ann.index % 2, SHORT["object_data"], SHORT["meta_refresh"])
    ann.to_csv(path, index=False)
    at = make_app("views/labels.py", workspace=tiny_copy)
    assert_shown_as_text(at)
    tables = [df.value for df in at.dataframe]
    assert any(SHORT["iframe_srcdoc"] in t.to_string() for t in tables if isinstance(t, pd.DataFrame))


@pytest.fixture
def hostile_data(tmp_path: Path) -> Path:
    """A workspace whose category values and one column name are payloads (the model trained on them)."""
    df = frame(400)
    values = [SHORT["iframe_srcdoc"], SHORT["md_link_http"], SHORT["rtl_zero_width"]]
    df["city"] = df["city"].map(dict(zip(["Paris", "Lyon", "Nice"], values, strict=True)))
    df[SHORT["embed_data"]] = np.arange(len(df)) % 3
    return make_workspace(tmp_path / "ws", datasets={"train": df.iloc[:300], "validation": df.iloc[300:]})


@pytest.mark.parametrize("page", ["views/workspace.py", "views/slices.py"])
def test_pages_show_hostile_category_values_and_column_names_as_text(make_app, hostile_data, page):
    at = make_app(page, workspace=hostile_data)
    assert_shown_as_text(at)


@pytest.fixture(scope="module")
def hostile_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Feature names, category values, a dataset name and a second model's name that are payloads."""
    return hostile_workspace(tmp_path_factory.mktemp("hostile") / "ws")


def _hostile_slice(at) -> SliceDefinition:
    """Make the current slice ``<hostile column> in (<hostile value>)`` for every page."""
    sd = SliceDefinition((Condition(PAYLOADS["streamlit_directive"], "in", (PAYLOADS["md_link_http"],)),))
    at.session_state[state.SLICE] = sd.to_json()
    at.run()
    return sd


def _other_model(at) -> None:
    at.selectbox(key=state.MODEL).set_value(PAYLOADS["md_link_http"]).run()


@pytest.mark.parametrize("page", ["views/workspace.py", "views/slices.py", "views/labels.py"])
def test_pages_show_hostile_model_dataset_and_feature_names_as_text(make_app, hostile_names, page):
    at = make_app(page, workspace=hostile_names)
    assert_shown_as_text(at)
    assert (
        at.selectbox(key=state.DATASET).value == PAYLOADS["md_image"]
    )  # the evaluation dataset, by its name
    _other_model(at)
    assert_shown_as_text(at)


def test_importance_page_shows_hostile_feature_names_and_values_as_text(make_app, hostile_names):
    at = make_app("views/importance.py", workspace=hostile_names)
    assert_shown_as_text(at)
    features = [PAYLOADS["img_onerror"], PAYLOADS["md_link"], PAYLOADS["streamlit_directive"]]
    table = next(d.value for d in at.dataframe if "feature" in getattr(d.value, "columns", []))
    assert set(features) <= set(table["feature"])  # the names, exactly as written, in the table
    at.selectbox(key="importance_dep_feature").set_value(PAYLOADS["streamlit_directive"]).run()
    assert_shown_as_text(at)
    _other_model(at)
    assert_shown_as_text(at)
    sd = _hostile_slice(at)  # the slice's description (a radio option, a caption) quotes a hostile value
    at.radio(key="importance_scope").set_value(f"Current slice: {sd.describe()}").run()
    assert_shown_as_text(at)


def test_staleness_page_shows_hostile_feature_names_and_values_as_text(make_app, hostile_names):
    at = make_app("views/staleness.py", workspace=hostile_names)
    assert_shown_as_text(at)
    _other_model(at)
    assert_shown_as_text(at)
    _hostile_slice(at)
    at.checkbox(key="staleness_in_slice").check().run()
    assert_shown_as_text(at)


CHECK_RUNS = {
    "Comparison": ["checks_cmp_run"],
    "Baseline": ["checks_base_run"],
    "Model spec": ["checks_spec_run"],
    "Expectations": ["checks_exp_profile", "checks_exp_run"],
    "Compatibility": ["checks_keys_make"],
    "Stability": ["checks_stab_run"],
}


def test_checks_page_shows_hostile_model_feature_and_expectation_names_as_text(make_app, hostile_names):
    """Every section, run: a comparison against the hostile-named model, an expectation suite profiled from
    hostile columns and values, baseline, model spec, key examples and stability, each shown as text."""
    at = make_app("views/checks.py", workspace=hostile_names)
    assert_shown_as_text(at)
    rules = at.dataframe(key="checks_thresholds_editor").value  # the override naming a hostile dataset
    assert PAYLOADS["md_image"] in rules.to_string() and PAYLOADS["streamlit_directive"] in rules.to_string()
    for section, buttons in CHECK_RUNS.items():
        at.radio(key="checks_section").set_value(section).run()
        assert_shown_as_text(at)
        for key in buttons:
            at.button(key=key).click().run()
            assert_shown_as_text(at)
