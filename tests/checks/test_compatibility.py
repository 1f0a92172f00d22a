"""explore/checks/compatibility.py: library versions in the model file vs here, types importable; key examples made, kept, verified."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import sklearn

from explore.checks import compatibility
from explore.core.workspace import open_workspace, read_workspace
from explore.errors import AnalysisError, WorkspaceError
from tests.helpers import FEATURES, frame, make_workspace, pipeline


def _rewrite_schema(path, edit) -> None:
    """Rewrite schema.json inside a .skops file (simulates a file written elsewhere)."""
    with zipfile.ZipFile(path) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(items["schema.json"])
    edit(schema)
    items["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in items.items():
            zf.writestr(n, b)


def _set_sklearn_version(node, version: str) -> None:
    if isinstance(node, dict):
        content = node.get("content")
        if isinstance(content, dict) and "_sklearn_version" in content:
            content["_sklearn_version"]["content"] = json.dumps(version)
        for v in node.values():
            _set_sklearn_version(v, version)
    elif isinstance(node, list):
        for v in node:
            _set_sklearn_version(v, version)


def test_versions_match_here_and_a_mismatch_or_missing_type_is_reported(tmp_path):
    path = make_workspace(tmp_path / "ws")
    ws = open_workspace(read_workspace(path))
    res = compatibility.compatibility(ws)
    versions = res.versions.set_index("library")
    assert versions.loc["scikit-learn", "model_file"] == sklearn.__version__
    assert versions.loc["scikit-learn", "status"] == "same" and res.passed is True
    assert (res.types["status"] == "importable").all()
    assert {"GradientBoostingClassifier", "Pipeline", "ColumnTransformer"} <= set(res.types["type"])

    model_file = ws.loaded_models["current"].path
    _rewrite_schema(model_file, lambda s: _set_sklearn_version(s, "0.24.2"))
    res = compatibility.compatibility(ws)
    assert res.versions.set_index("library").loc["scikit-learn", "status"] == "mismatch"
    assert res.passed is False and "written with scikit-learn 0.24.2" in res.summary()

    def rename(s):
        s["__module__"] = "sklearn.pipeline_from_the_future"

    _rewrite_schema(model_file, rename)
    res = compatibility.compatibility(ws)
    missing = res.types[res.types["status"] == "missing"]
    assert list(missing["module"]) == ["sklearn.pipeline_from_the_future"]
    assert "cannot run in this environment" in res.summary()


def test_key_examples_round_trip_and_fail_when_the_model_changes(tmp_path):
    df = frame(400)
    df.loc[3, "city"] = None
    path = make_workspace(tmp_path / "ws", datasets={"train": df.iloc[:300], "validation": df.iloc[300:]})
    ws = open_workspace(read_workspace(path))
    examples = compatibility.make_key_examples(ws, n=15)
    assert len(examples.inputs) == 15 and list(examples.inputs.columns) == FEATURES
    assert any(w.startswith("most confident") for w in examples.why) and any(
        w.startswith("largest") for w in examples.why
    )
    assert "most missing values" in examples.why
    saved = compatibility.save_key_examples(examples, compatibility.key_examples_path(ws))
    assert saved.name == "key_examples.json" and saved.parent == path.parent
    loaded = compatibility.load_key_examples(saved)
    assert loaded.inputs.isna().sum().sum() == examples.inputs.isna().sum().sum()
    np.testing.assert_allclose(loaded.proba, examples.proba)
    res = compatibility.verify_key_examples(ws)
    assert res.passed and res.failures == 0 and "reproduces all 15" in res.summary()

    # Another model (different hyper-parameters) must fail the kept examples.
    other = pipeline().set_params(model__n_estimators=3).fit(df[FEATURES], df["income"])
    ws.models["current"] = other
    changed = compatibility.verify_key_examples(ws)
    assert not changed.passed and changed.failures > 0
    assert "does not reproduce" in changed.summary()
    assert (changed.table["max_abs_diff"] > 1e-6).any()


def test_regression_key_examples_and_bad_files(tmp_path):
    path = make_workspace(tmp_path / "reg", task="regression")
    ws = open_workspace(read_workspace(path))
    examples = compatibility.make_key_examples(ws, n=8)
    assert examples.proba is None
    assert compatibility.verify_key_examples(
        ws, examples=compatibility.parse_key_examples(examples.to_json())
    ).passed
    with pytest.raises(WorkspaceError, match="does not exist yet"):
        compatibility.verify_key_examples(ws)
    bad = compatibility.key_examples_path(ws)
    bad.write_text('{"format": 1, "examples": []}')
    with pytest.raises(AnalysisError, match="is not valid: KeyError"):
        compatibility.load_key_examples(bad)
    with pytest.raises(AnalysisError, match="between 1 and 1000"):
        compatibility.make_key_examples(ws, n=0)
