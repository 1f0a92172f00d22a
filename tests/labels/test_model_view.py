"""explore/labels/model_view.py: which model view the queue offers and starts from (training data decided by
explore.core.roles), and cross-validated probabilities kept in the store across sessions."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from explore.core.store import Store
from explore.core.workspace import open_workspace, read_workspace
from explore.errors import AnalysisError
from explore.labels import crowd, model_view, sources
from explore.labels.model_view import ModelView
from tests.helpers import frame
from tests.labels.test_crowd import synthetic_workspace


@pytest.fixture(scope="module")
def ws(tiny_workspace):
    return open_workspace(read_workspace(tiny_workspace))


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        yield s


def _with_datasets(tmp_path: Path, datasets: str) -> SimpleNamespace:
    """A workspace with a model whose [datasets] section is ``datasets`` (all model_view reads of it)."""
    (tmp_path / "workspace.toml").write_text(
        '[columns]\nlabel = "y"\nprediction = "p"\n\n[datasets]\n' + datasets, encoding="utf-8"
    )
    return SimpleNamespace(config=read_workspace(tmp_path / "workspace.toml"), models={"current": object()})


def test_choices_list_previous_versions_first_then_cross_validated_clones(ws):
    assert model_view.probability_choices(ws) == [
        ("model", "previous"),
        ("model", "current"),
        ("cv", "current"),
        ("cv", "previous"),
        ("none", None),
    ]


def test_a_predictions_only_workspace_offers_its_score_columns(tmp_path):
    validation = frame(20, seed=4).assign(p=0.5)
    ws = synthetic_workspace(
        tmp_path,
        model=None,
        validation=validation,
        columns={"label": "income", "id": "row_id", "score": "p", "positive": ">50K"},
    )
    assert model_view.probability_choices(ws) == [("columns", None), ("none", None)]


def test_annotated_training_data_starts_from_cross_validated_clones(ws):
    choices = model_view.probability_choices(ws)
    assert choices[model_view.default_choice(ws, choices, "train")] == ("cv", "current")
    assert model_view.default_choice(ws, choices, "validation") == 0
    assert model_view.in_sample(ws, ("model", "current"), "train")
    assert not model_view.in_sample(ws, ("model", "previous"), "train")
    assert not model_view.in_sample(ws, ("model", "current"), "validation")


def test_training_data_is_the_declared_role_not_the_name(tmp_path):
    declared = _with_datasets(
        tmp_path,
        'train = { path = "a.csv", role = "evaluation" }\nfit = { path = "b.csv", role = "train" }\n',
    )
    assert model_view.is_training_data(declared, "fit") and not model_view.is_training_data(declared, "train")
    assert model_view.in_sample(declared, ("model", "current"), "fit")
    assert not model_view.in_sample(declared, ("model", "current"), "train")


def test_cross_validation_keys_stay_the_ones_saved_before():
    """Results already in users' stores are found again: the key is sha256(annotations|model|folds|rows)[:32]."""
    view = ModelView("cv", "current", n_splits=5, max_rows=20_000)
    expected = hashlib.sha256(b"ws-key|workspace|current|5|20000").hexdigest()[:32]
    assert model_view.cross_validation_key("ws-key|workspace", view) == expected
    assert (
        model_view.cross_validation_key("ws-key|workspace", ModelView("cv", "current", 4, 20_000)) != expected
    )


def test_cross_validated_probabilities_are_saved_and_found_by_a_later_session(tmp_path, ws):
    ann = crowd.workspace_annotations(ws)
    key = sources.WORKSPACE_ANNOTATIONS.store_key(ws)
    view = ModelView("cv", "current", n_splits=2, max_rows=400)
    steps: list[float] = []
    with Store(f"sqlite:///{tmp_path / 's.db'}") as first:
        assert model_view.load_cross_validation(first, ws, view, annotations_key=key) is None
        result = model_view.cross_validate_and_save(
            first, ws, ann, view, annotations_key=key, progress=lambda f, _: steps.append(f)
        )
    assert steps[-1] == 1.0 and result.method == "cross_val" and result.n_splits == 2
    with Store(f"sqlite:///{tmp_path / 's.db'}") as later:
        found = model_view.load_cross_validation(later, ws, view, annotations_key=key)
        row = later.find_experiment(
            str(ws.config.path), model_view.CV_KIND, model_view.cross_validation_key(key, view)
        )
        other_folds = ModelView("cv", "current", n_splits=3, max_rows=400)
        assert model_view.load_cross_validation(later, ws, other_folds, annotations_key=key) is None
    assert (
        found is not None
        and np.array_equal(found.proba, result.proba)
        and np.array_equal(found.pred, result.pred)
    )
    assert row["params"] == {"model": "current", "n_splits": 2, "max_rows": 400, "dataset": "validation"}


def test_a_cross_validation_that_cannot_run_saves_nothing(store, ws):
    ann = crowd.workspace_annotations(ws)
    key = sources.WORKSPACE_ANNOTATIONS.store_key(ws)
    view = ModelView("cv", "nope", n_splits=2, max_rows=400)
    with pytest.raises(AnalysisError, match="no model named 'nope'"):
        model_view.cross_validate_and_save(store, ws, ann, view, annotations_key=key)
    assert model_view.load_cross_validation(store, ws, view, annotations_key=key) is None
