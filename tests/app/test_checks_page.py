"""AppTest for views/checks.py: every section runs on the tiny workspace; files are saved; predictions-only mode."""

from __future__ import annotations

import json

import numpy as np

from explore.checks import compare, compatibility, expectations
from explore.core.store import Store
from explore.core.workspace import read_workspace
from tests.conftest import assert_no_exception
from tests.helpers import frame, make_workspace

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
    return " ".join(e.value for kind in ("success", "error", "warning", "info") for e in getattr(at, kind))


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
