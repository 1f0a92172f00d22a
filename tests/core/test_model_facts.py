"""Lazy models: what a workspace needs of a model at open comes from facts kept beside it (keyed by the model
file's bytes and the library versions), the file is loaded when something needs the estimator, trust is asked
first either way, and a model that cannot be loaded later says so with the same message."""

from __future__ import annotations

import json
import pickle
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from explore import errors
from explore.core import model_facts, overview
from explore.core import workspace as workspace_module
from explore.core.loading import load_model, untrusted_types
from explore.core.model_facts import CACHE_FOLDER, ModelFacts, decode_array, encode_array, facts_path
from explore.core.score_cache import score_cached
from explore.core.workspace import open_workspace, read_workspace, score
from tests.helpers import FEATURES, frame, make_workspace, pipeline


class Loads:
    """Counts the model files loaded through ``explore.core.workspace.load_model`` (optionally refusing)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail: Exception | None = None) -> None:
        self.paths: list[Path] = []
        self.fail = fail
        monkeypatch.setattr(workspace_module, "load_model", self)

    def __call__(self, path, **kwargs):
        self.paths.append(Path(path))
        if self.fail is not None:
            raise self.fail
        return load_model(path, **kwargs)


def open_(path: Path, **kwargs):
    return open_workspace(read_workspace(path), **kwargs)


def facts_files(toml: Path) -> list[Path]:
    return sorted((toml.parent / CACHE_FOLDER).glob("model-*.json"))


def assert_same_workspace(a, b) -> None:
    assert a.task == b.task and a.feature_names == b.feature_names and a.warnings == b.warnings
    assert (a.classes is None) == (b.classes is None)
    if a.classes is not None:
        np.testing.assert_array_equal(a.classes, b.classes)
        assert a.classes.dtype == b.classes.dtype
        assert [type(c) for c in a.classes.tolist()] == [type(c) for c in b.classes.tolist()]
    assert a.positive == b.positive and type(a.positive) is type(b.positive)
    assert a.summary()["models"] == b.summary()["models"]
    assert overview.model_table(a).equals(overview.model_table(b))


# ---- the facts themselves ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        np.array([0, 1]),
        np.array([-3, 7, 12], dtype="int32"),
        np.array([0.5, 1.0]),
        np.array([False, True]),
        np.array(["no", "yes"]),
        np.array(["no", "yes"], dtype=object),
        np.array([1, "two", 3.5, True], dtype=object),
        np.array(["a\x00", "b"], dtype=object),  # a trailing NUL survives (a str array would drop it)
    ],
)
def test_classes_round_trip_with_their_dtype_and_python_types(values):
    data = json.loads(json.dumps(encode_array(values)))
    back = decode_array(data)
    np.testing.assert_array_equal(back, values)
    assert back.dtype == values.dtype
    assert [type(v) for v in back.tolist()] == [type(v) for v in values.tolist()]


def test_classes_that_json_cannot_hold_exactly_keep_no_facts(tmp_path):
    assert encode_array(np.array([b"a", b"b"])) is None
    assert encode_array(np.array([(1, 2), None], dtype=object)) is None
    facts = ModelFacts(
        kind="skops",
        description="X",
        feature_names_in=None,
        n_features_in=2,
        is_regressor=False,
        is_classifier=True,
        classes=np.array([object(), object()], dtype=object),
        has_predict_proba=True,
        has_decision_function=False,
    )
    assert facts.to_dict() is None
    assert model_facts.write_facts(tmp_path, "abc", facts) is None and not (tmp_path / CACHE_FOLDER).exists()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_second_open_takes_the_facts_and_loads_no_model(tmp_path, monkeypatch, task):
    toml = make_workspace(tmp_path, task=task)
    first = open_(toml)  # loads the model, keeps its facts
    assert [f.name.split("-")[0] for f in facts_files(toml)] == ["model"]
    loads = Loads(monkeypatch)
    second = open_(toml)
    assert loads.paths == []
    assert_same_workspace(second, first)
    facts = second.model_facts()
    assert facts.kind == "skops" and facts.has_predict_proba == (task != "regression")
    assert facts.feature_names_in == tuple(FEATURES) and facts.is_regressor == (task == "regression")
    # Predictions kept beside the workspace: the first page's scoring loads nothing either.
    assert score_cached(first, "validation").source == "scored"
    got = score_cached(second, "validation")
    assert got.source == "disk" and loads.paths == []
    # What needs the estimator loads it, once.
    assert second.models["current"].predict(second.dataset("validation")[FEATURES].head(3)).shape == (3,)
    second.model("current")
    assert loads.paths == [toml.parent / "model.skops"]
    np.testing.assert_array_equal(score(second, "validation").pred, got.scored.pred)


def test_names_and_fingerprints_cost_no_load(tiny_copy, monkeypatch):
    first = open_(tiny_copy)
    loads = Loads(monkeypatch)
    ws = open_(tiny_copy)
    assert ws.model_names == first.model_names == ["current", "previous"]
    assert "previous" in ws.models and len(ws.models) == 2 and bool(ws.models)
    assert ws.model_fingerprint("previous") == first.loaded_models["previous"].fingerprint
    assert ws.model_file("previous") == first.loaded_models["previous"].path
    assert ws.key == first.key
    assert loads.paths == []
    assert ws.loaded_models["previous"].kind == "skops"  # the LoadedModel: loaded now
    assert [p.name for p in loads.paths] == ["previous.skops"]


def test_a_changed_model_file_is_loaded_and_its_facts_replace_the_old(tmp_path, monkeypatch):
    toml = make_workspace(tmp_path)
    first = open_(toml)
    assert first.feature_names == FEATURES
    df = frame(300)
    fewer = ["age", "hours"]  # another model version, on two of the columns
    from sklearn.linear_model import LogisticRegression

    sio.dump(LogisticRegression().fit(df[fewer].fillna(0), df["income"]), tmp_path / "model.skops")
    trusted = json.dumps(untrusted_types(tmp_path / "model.skops"))
    toml.write_text(re.sub(r"trusted_types = \[[^\]]*\]", f"trusted_types = {trusted}", toml.read_text()))
    loads = Loads(monkeypatch)
    ws = open_(toml)
    assert [p.name for p in loads.paths] == ["model.skops"]
    assert ws.feature_names == fewer and ws.summary()["models"]["current"] == "LogisticRegression"
    assert ws.model_fingerprint() != first.model_fingerprint()
    assert len(facts_files(toml)) == 2  # one per model version (pruned beyond KEEP_FILES)
    again = open_(toml)
    assert [p.name for p in loads.paths] == ["model.skops"] and again.feature_names == fewer


def test_damaged_facts_are_a_miss_and_written_again(tmp_path, monkeypatch):
    toml = make_workspace(tmp_path)
    first = open_(toml)
    (path,) = facts_files(toml)
    for damage in ("{not json", json.dumps({"format": 1, "fingerprint": "other", "facts": {}}), ""):
        path.write_text(damage)
        loads = Loads(monkeypatch)
        assert_same_workspace(open_(toml), first)
        assert len(loads.paths) == 1
        monkeypatch.undo()
    assert (
        ModelFacts.from_dict(json.loads(path.read_text())["facts"]).description
        == first.summary()["models"]["current"]
    )


def test_an_unwritable_cache_folder_loads_the_model_at_every_open(tmp_path, monkeypatch):
    toml = make_workspace(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(model_facts.tempfile, "mkstemp", refuse)
    first = open_(toml)
    loads = Loads(monkeypatch)
    assert_same_workspace(open_(toml), first)
    assert len(loads.paths) == 1 and facts_files(toml) == []


def test_facts_of_other_library_versions_are_a_miss(tmp_path, monkeypatch):
    toml = make_workspace(tmp_path)
    open_(toml)
    monkeypatch.setattr(model_facts, "_VERSIONS", ["otherver"])  # as after upgrading scikit-learn or skops
    loads = Loads(monkeypatch)
    open_(toml)
    assert len(loads.paths) == 1 and len(facts_files(toml)) == 2


# ---- trust is asked before anything runs ------------------------------------------------------------


def test_untrusted_skops_types_are_asked_for_before_the_file_is_loaded(tmp_path, monkeypatch):
    from tests.core.test_loading import _Custom

    df = frame(100)
    toml = make_workspace(tmp_path, model=_Custom().fit(df[FEATURES[:2]].fillna(0), df["income"]))
    found = untrusted_types(tmp_path / "model.skops")
    assert any("_Custom" in t for t in found)
    open_(toml)  # trusted in workspace.toml: loaded, facts kept
    toml.write_text(re.sub(r"trusted_types = \[[^\]]*\]", "trusted_types = []", toml.read_text()))
    with pytest.raises(errors.UntrustedTypesError) as direct:
        load_model(tmp_path / "model.skops")
    loads = Loads(monkeypatch, fail=AssertionError("the model file must not be loaded before trust"))
    with pytest.raises(errors.UntrustedTypesError) as info:
        open_(toml)
    assert str(info.value) == str(direct.value) and info.value.types == direct.value.types
    assert info.value.model_name == "current" and loads.paths == []
    # Accepted in the UI: opens from the facts, still without loading.
    ws = open_(toml, accepted_types={"current": list(found)})
    assert loads.paths == [] and ws.feature_names == FEATURES[:2]
    # Accepting only some of them is not enough.
    if len(found) > 1:
        with pytest.raises(errors.UntrustedTypesError):
            open_(toml, accepted_types={"current": list(found)[:1]})


class _Evil:
    """Unpickling this creates a file: the proof that a pickle ran."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


def test_a_pickle_trusted_once_is_asked_for_again_before_anything_runs(tmp_path, monkeypatch):
    from tests.core.test_loading import _fitted

    toml = make_workspace(tmp_path, model=_fitted(), model_name="m.joblib")
    ws = open_(toml, trusted_pickles={"current"})  # trusted in one session: loaded, facts kept
    assert ws.model_facts().kind == "pickle" and len(facts_files(toml)) == 1
    loads = Loads(monkeypatch, fail=AssertionError("the pickle must not be loaded before trust"))
    with pytest.raises(errors.PickleNotTrustedError, match="unpickling executes code") as info:
        open_(toml)  # another session, which has not trusted it
    assert info.value.model_name == "current" and loads.paths == []
    assert open_(toml, trusted_pickles={"current"}).task == "binary" and loads.paths == []


def test_a_pickle_swapped_under_the_same_name_is_refused_and_never_runs(tmp_path, monkeypatch):
    from tests.core.test_loading import _fitted

    toml = make_workspace(tmp_path, model=_fitted(), model_name="m.pkl")
    open_(toml, trusted_pickles={"current"})
    target = tmp_path / "pwned"
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(_Evil(str(target))))
    with pytest.raises(errors.PickleNotTrustedError):
        open_(toml)
    assert not target.exists()


# ---- a model that cannot be loaded later ------------------------------------------------------------


def test_a_model_that_fails_to_load_later_says_why_with_its_name(tiny_copy, monkeypatch):
    open_(tiny_copy)
    broken = errors.ModelError(
        errors.MODEL_CORRUPT.format(path="model.skops", kind="skops", reason="ValueError: gone")
    )
    ws = open_(tiny_copy)
    Loads(monkeypatch, fail=broken)
    for _ in range(2):  # not remembered as loaded: each use says it
        with pytest.raises(errors.ModelError, match="could not be loaded as a skops file") as info:
            ws.model("previous")
        assert info.value.model_name == "previous"
    with pytest.raises(errors.ModelError, match="could not be loaded"):
        score(ws, "validation", "previous")


def test_a_model_file_changed_after_open_is_not_mixed_into_the_open_workspace(tmp_path):
    toml = make_workspace(tmp_path)
    open_(toml)
    ws = open_(toml)  # from the facts: the estimator is not loaded yet
    df = frame(300)
    time.sleep(0.01)
    sio.dump(
        pipeline().set_params(model__n_estimators=4).fit(df[FEATURES], df["income"]), tmp_path / "model.skops"
    )
    with pytest.raises(errors.ModelError, match="changed since the workspace was opened") as info:
        ws.model()
    assert info.value.model_name == "current" and "Reload the page" in str(info.value)
    assert open_(toml).model() is not None  # opening again takes the new file


def test_threads_that_need_the_model_together_load_it_once(tiny_copy, monkeypatch):
    open_(tiny_copy)
    ws = open_(tiny_copy)
    loads = Loads(monkeypatch)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(ws.model("current"))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads.paths) == 1 and len({id(m) for m in got}) == 1


def test_assigning_an_estimator_swaps_it_in_memory(tiny_copy):
    ws = open_(tiny_copy)
    other = ws.models["previous"]
    ws.models["current"] = other
    assert ws.model("current") is other and ws.loaded_models["current"].estimator is other
    assert ws.model_fingerprint("current") != ws.model_fingerprint("previous")  # still the file's
    with pytest.raises(KeyError):
        ws.models["nope"] = other


def test_the_facts_file_is_named_by_the_model_fingerprint(tiny_copy):
    ws = open_(tiny_copy)
    assert {p.name for p in facts_files(tiny_copy)} == {
        facts_path(tiny_copy.parent, ws.model_fingerprint(m)).name for m in ws.model_names
    }
