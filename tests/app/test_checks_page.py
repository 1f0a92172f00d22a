"""AppTest for views/checks.py: every section runs on the tiny workspace; files are saved; predictions-only mode."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from explore.checks import compare, compatibility, expectations
from explore.core.store import Store
from explore.core.workspace import read_workspace
from explore.slices.definition import Condition, SliceDefinition
from tests.conftest import assert_no_exception, texts, unescaped
from tests.helpers import frame, make_workspace
from ui import state
from ui.safe import md_text

PAGE = "views/checks.py"


def _section(at, name: str):
    at.radio(key="checks_section").set_value(name).run()
    assert_no_exception(at)
    return at


def _click(at, key: str):
    at.button(key=key).click().run()
    assert_no_exception(at)
    return at


def _texts(at) -> str:
    return " ".join(t for kind in ("success", "error", "warning", "info") for t in texts(getattr(at, kind)))


def _markdown(at) -> str:
    return " ".join(m.value for m in at.markdown)


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def _changed_on_disk(path: Path) -> None:
    """Move ``path``'s modification time on, so a rewrite within one clock tick still counts as a change."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_checks_page_runs_every_section_on_the_tiny_workspace(make_app, db_url):
    at = make_app(PAGE)
    assert_no_exception(at)
    # Comparison: candidate vs previous on validation and production, with the device column as slices.
    at.multiselect(key="checks_cmp_slices").set_value(["device"]).run()
    _click(at, "checks_cmp_run")
    assert any(t in _texts(at) for t in ("Passes:", "Fails:", "Inconclusive:"))
    grid = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert "facet" in grid
    assert len(at.dataframe) >= 2
    _click(at, "checks_evidence_comparison")
    snaps = Store(db_url).list_snapshots(test="infra-4")
    assert snaps and snaps[0]["kind"] == "comparison" and snaps[0]["result"]["cells"]

    _section(at, "Baseline")
    _click(at, "checks_base_run")
    assert "logistic baseline" in " ".join(m.value for m in at.markdown)

    _section(at, "Reproducibility")
    _click(at, "checks_repro_run")
    assert "refits of 'current' as configured" in _texts(at)

    _section(at, "Model spec")
    _click(at, "checks_spec_run")
    assert "Pipeline(ColumnTransformer → GradientBoostingClassifier)" in _texts(at)
    curve = json.loads(at.get("vega_lite_chart")[-1].proto.spec)
    assert curve["mark"]["type"] == "line"

    _section(at, "Expectations")
    _click(at, "checks_exp_profile")
    _click(at, "checks_exp_run")
    assert "'train' meets all" in _texts(at)
    assert "No banned features are configured" in _texts(at)

    _section(at, "Skew & shadow")
    at.selectbox(key="checks_skew_serving").set_value("production").run()
    _click(at, "checks_skew_run")
    assert "share no ids" in _texts(at)
    assert "carries no logged predictions" in _texts(at)

    _section(at, "Compatibility")
    assert "match this environment" in _texts(at)
    _click(at, "checks_keys_make")
    assert len(at.dataframe) >= 2

    _section(at, "Stability")
    _click(at, "checks_stab_run")
    assert "gives finite, valid outputs" in _texts(at)

    _section(at, "Cost")
    at.multiselect(key="checks_cost_sizes").set_value([1, 100]).run()
    _click(at, "checks_cost_run")
    assert "rows/s" in _texts(at)
    assert_no_exception(at)


def test_checks_page_saves_files_users_commit(make_app, tiny_copy):
    at = make_app(PAGE, workspace=tiny_copy)
    root = tiny_copy.parent
    _click(at, "checks_thresholds_save")
    th = compare.load_thresholds(root / "thresholds.toml")
    assert th.previous == "previous" and {r.metric for r in th.rules} == set(compare.PAIRED_METRICS["binary"])
    assert 'thresholds = "thresholds.toml"' in " ".join(c.value for c in at.code)

    _section(at, "Expectations")
    _click(at, "checks_exp_profile")
    _click(at, "checks_suite_save")
    suite = expectations.load_suite(root / "expectations.toml")
    assert "monthly_charges" in suite.columns and suite.created_from == "train"

    _section(at, "Compatibility")
    _click(at, "checks_keys_make")
    _click(at, "checks_keys_save")
    examples = compatibility.load_key_examples(root / "key_examples.json")
    assert len(examples.inputs) == 20
    at.run()
    _click(at, "checks_keys_verify")
    assert "reproduces all 20 key examples" in _texts(at)
    at.selectbox(key="checks_keys_model").set_value("previous").run()
    _click(at, "checks_keys_verify")
    assert "does not reproduce" in _texts(at)
    assert read_workspace(tiny_copy).checks.thresholds is None  # the page shows, never edits, workspace.toml


def test_checks_page_predictions_only_workspace(make_app, tmp_path):
    df = frame(600)
    df["pred"] = np.where(df["age"] > 45, ">50K", "<=50K")
    path = make_workspace(
        tmp_path / "preds",
        model=None,
        columns={"label": "income", "id": "row_id", "prediction": "pred"},
        datasets={"train": df.iloc[:400], "validation": df.iloc[400:]},
    )
    at = make_app(PAGE, workspace=path)
    assert "predictions-only" in _texts(at)
    for name in ("Reproducibility", "Model spec", "Compatibility", "Cost"):
        _section(at, name)
        assert "predictions-only" in _texts(at)
    _section(at, "Baseline")
    _click(at, "checks_base_run")
    assert "logistic baseline" in " ".join(m.value for m in at.markdown)
    _section(at, "Stability")
    _click(at, "checks_stab_run")
    assert "probes need a model" in " ".join(c.value for c in at.caption)


def test_thresholds_editor_rereads_the_file_when_it_changes_on_disk(make_app, tiny_copy):
    path = tiny_copy.parent / "thresholds.toml"
    path.write_text(compare.default_thresholds("binary").to_toml(), encoding="utf-8")
    tiny_copy.write_text(
        tiny_copy.read_text(encoding="utf-8") + '\n[checks]\nthresholds = "thresholds.toml"\n',
        encoding="utf-8",
    )
    at = make_app(PAGE, workspace=tiny_copy)

    def allowance() -> str:
        rules = at.dataframe(key="checks_thresholds_editor").value.set_index("metric")
        return str(rules.loc["accuracy", "vs_previous"])

    assert any(
        unescaped(e.label).startswith("Thresholds — from") and "thresholds.toml" in unescaped(e.label)
        for e in at.expander
    )
    assert allowance() == "0.01"
    at.run()
    assert allowance() == "0.01"  # kept while the file stays the same
    path.write_text(path.read_text(encoding="utf-8").replace("vs_previous = 0.01", "vs_previous = 0.03", 1))
    _changed_on_disk(path)
    at.run()
    assert_no_exception(at)
    assert allowance() == "0.03"


def test_suite_being_edited_says_where_it_came_from_and_follows_its_file(make_app, tiny_copy):
    path = tiny_copy.parent / "expectations.toml"
    at = make_app(PAGE, workspace=tiny_copy)
    _section(at, "Expectations")
    assert "No suite yet" in _texts(at)
    _click(at, "checks_exp_profile")
    assert md_text("profiled from 'train' (not saved yet)") in _markdown(at)
    _click(at, "checks_suite_save")
    at.run()
    assert md_text(f"saved to {path}") in _markdown(at)
    full = expectations.load_suite(path)

    # Edited on disk (by hand, or saved by another session): the page re-reads it.
    fewer = dataclasses.replace(full, columns=dict(list(full.columns.items())[:3]))
    expectations.save_suite(fewer, path)
    _changed_on_disk(path)
    at.run()
    assert_no_exception(at)
    assert md_text(f"loaded from {path}") in _markdown(at) and "3 columns" in _markdown(at)

    # A fresh profile is kept, whatever happens to the file meanwhile.
    _click(at, "checks_exp_profile")
    _changed_on_disk(path)
    at.run()
    assert md_text("profiled from 'train' (not saved yet)") in _markdown(at)
    assert f"{len(full.columns)} columns" in _markdown(at)


def test_a_kept_result_notes_when_the_settings_change(make_app):
    at = make_app(PAGE)
    _section(at, "Stability")
    _click(at, "checks_stab_run")
    assert "gives finite, valid outputs" in _texts(at)
    assert "settings changed" not in _captions(at)
    at.multiselect(key="checks_stab_datasets").set_value(["validation"]).run()
    assert "The settings changed since the last run" in _captions(at)
    assert "gives finite, valid outputs" in _texts(at)  # the last result stays until the check runs again


def test_comparison_can_include_the_current_slice(make_app):
    at = make_app(PAGE)
    assert not [c for c in at.checkbox if c.key == "checks_cmp_current"]  # no slice chosen: nothing to offer
    current = SliceDefinition((Condition("device", "in", ("tablet",)),))
    at.session_state[state.SLICE] = current.to_json()
    at.run()
    at.checkbox(key="checks_cmp_current").check().run()
    _click(at, "checks_cmp_run")
    at.multiselect(key="checks_cmp_show").set_value(list(compare.STATUSES)).run()
    cells = next(d.value for d in at.dataframe if {"slice", "metric", "status"} <= set(d.value.columns))
    assert current.describe() in set(cells["slice"])


def test_shadow_check_compares_a_logged_column_with_the_model(make_app, tiny_copy):
    root = tiny_copy.parent
    validation = pd.read_csv(root / "validation.csv")
    validation["served_pred"] = validation["churned"]  # logged classes that will not all match the model
    validation.to_csv(root / "validation.csv", index=False)
    at = make_app(PAGE, workspace=tiny_copy)
    _section(at, "Skew & shadow")
    at.selectbox(key="checks_shadow_dataset").set_value("validation").run()
    assert at.selectbox(key="checks_shadow_column").value == "served_pred"
    _click(at, "checks_shadow_run")
    assert "'served_pred'" in _texts(at) and "model 'current'" in _texts(at)
