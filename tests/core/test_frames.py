"""Workspaces from objects in memory: the same validation and messages as files, and back to files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import explore
from explore import errors
from explore.core.frames import LENGTHS_DIFFER, NOT_A_MODEL
from tests import helpers


@pytest.fixture(scope="module")
def parts() -> tuple[pd.DataFrame, object]:
    df = helpers.frame(400)
    return df, helpers.pipeline().fit(df[helpers.FEATURES], df["income"])


def _ws(parts, **over):
    df, pipe = parts
    kwargs = dict(
        model=pipe,
        datasets={"train": df.iloc[:300], "validation": df.iloc[300:]},
        label="income",
        time="when",
        id="row_id",
    )
    return explore.Workspace.from_frames(**{**kwargs, **over})


def test_from_frames_scores_like_the_same_workspace_from_files(parts, tmp_path):
    ws = _ws(parts)
    from_files = explore.open(
        helpers.make_workspace(
            tmp_path / "files",
            datasets={"train": parts[0].iloc[:300], "validation": parts[0].iloc[300:]},
            model=parts[1],
        )
    )
    a, b = explore.score(ws, "validation"), explore.score(from_files, "validation")
    assert ws.in_memory and not from_files.in_memory
    assert ws.task == from_files.task == "binary"
    assert list(ws.classes) == list(from_files.classes) and ws.positive == from_files.positive
    assert ws.feature_names == from_files.feature_names
    np.testing.assert_allclose(a.proba, b.proba)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert a.time.equals(b.time)


def test_key_follows_the_contents(parts):
    df, _ = parts
    assert _ws(parts).key == _ws(parts).key
    changed = df.copy()
    changed.loc[350, "age"] = 99.0
    other = _ws(parts, datasets={"train": changed.iloc[:300], "validation": changed.iloc[300:]})
    assert other.key != _ws(parts).key
    assert other.data_fingerprint("validation") != _ws(parts).data_fingerprint("validation")


def test_one_dataframe_is_the_validation_dataset(parts):
    ws = _ws(parts, datasets=parts[0])
    assert ws.dataset_names == ["validation"]


@pytest.mark.parametrize(
    ("over", "kind", "says"),
    [
        ({"label": "incme"}, errors.LabelError, "The label column 'incme' is not in dataset 'train'"),
        ({"time": "whenn"}, errors.TimeColumnError, "The time column 'whenn' is not in dataset 'train'"),
        (
            {"task": "binar"},
            errors.WorkspaceError,
            "has the value 'binar'; use binary, multiclass or regression",
        ),
        ({"positive": "yes"}, errors.LabelError, "The positive class 'yes' is not among the labels"),
        ({"features": ["age", "nope"]}, errors.ColumnError, "lacks 1 of them: 'nope'"),
    ],
)
def test_bad_columns_get_the_messages_of_files(parts, over, kind, says):
    with pytest.raises(kind, match=None) as caught:
        _ws(parts, **over)
    assert says in str(caught.value)
    assert "keyword argument" in str(caught.value)


def test_not_a_model_and_not_a_frame(parts):
    with pytest.raises(errors.ModelError) as caught:
        _ws(parts, model="model.skops")
    assert str(caught.value) == NOT_A_MODEL.format(argument="model", received="str")
    with pytest.raises(errors.DataError, match="must be a pandas DataFrame; received a ndarray"):
        _ws(parts, datasets={"validation": parts[0].to_numpy()})
    with pytest.raises(errors.DataError, match="no datasets"):
        _ws(parts, datasets={})


def test_task_is_checked_against_the_model(parts):
    df, _ = parts
    numeric = df.assign(y=(df["age"] > 45).astype(int))[["age", "y"]]
    reg = LinearRegression().fit(numeric[["age"]], numeric["y"])
    ws = explore.Workspace.from_frames(model=reg, datasets=numeric, label="y", task="regression")
    assert ws.task == "regression"
    with pytest.raises(errors.LabelError, match="is a classifier|regression"):
        from sklearn.linear_model import LogisticRegression

        explore.Workspace.from_frames(
            model=LogisticRegression().fit(numeric[["age"]], numeric["y"]),
            datasets=numeric,
            label="y",
            task="regression",
        )


def test_from_predictions_binary_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    s = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    ws = explore.Workspace.from_predictions(y, (s > 0.5).astype(int), s)
    sc = explore.score(ws, "validation")
    assert ws.task == "binary" and ws.positive == 1
    assert roc_auc_score(y, sc.score) == pytest.approx(roc_auc_score(y, s))
    np.testing.assert_array_equal(sc.pred, (s > 0.5).astype(int))


def test_from_predictions_multiclass_scores_with_classes_and_features():
    rng = np.random.default_rng(1)
    p = rng.dirichlet([1, 1, 1], 300)
    classes = ["a", "b", "c"]
    y = np.asarray(classes)[p.argmax(axis=1)]
    feats = pd.DataFrame({"region": rng.choice(["N", "S"], 300)})
    ws = explore.Workspace.from_predictions(y, scores=p, classes=classes, features=feats)
    sc = explore.score(ws, "validation")
    assert ws.task == "multiclass" and list(ws.classes) == classes
    assert ws.feature_names == ["region"]
    np.testing.assert_allclose(sc.proba, p)
    assert (sc.pred == sc.y).all()


def test_from_predictions_bad_input():
    with pytest.raises(errors.DataError) as caught:
        explore.Workspace.from_predictions([0, 1, 1], [0, 1])
    assert str(caught.value) == LENGTHS_DIFFER.format(lengths="y_true 3, y_pred 2")
    with pytest.raises(errors.DataError, match="Pass classes="):
        explore.Workspace.from_predictions([0, 1, 2], scores=np.eye(3))
    with pytest.raises(errors.DataError, match="no predictions"):
        explore.Workspace.from_predictions([0, 1])
    with pytest.raises(errors.DataError, match="1-D"):
        explore.Workspace.from_predictions(np.zeros((2, 2)), [0, 1])


def test_save_then_open_is_the_same_workspace(parts, tmp_path):
    ann = pd.DataFrame(
        {"row_id": [1300, 1300, 1301], "who": ["x", "y", "x"], "said": [">50K", "<=50K", ">50K"]}
    )
    ws = _ws(
        parts,
        roles={"train": "train"},
        annotations=ann,
        annotation_columns={"item": "row_id", "labeler": "who", "label": "said", "dataset": "validation"},
        banned_features=["city"],
    )
    toml = ws.save(tmp_path / "saved")
    back = explore.open(toml)
    assert back.dataset_names == ws.dataset_names and back.config.dataset_roles == {"train": "train"}
    assert back.config.checks.banned_features == ("city",)
    pd.testing.assert_frame_equal(back.annotation_table(), ann)
    np.testing.assert_allclose(explore.score(back, "validation").proba, explore.score(ws, "validation").proba)
    from explore.labels.crowd import workspace_annotations

    assert workspace_annotations(ws).n_items == workspace_annotations(back).n_items
    # saving what was opened from files writes the same again
    again = explore.open(back.save(tmp_path / "again"))
    assert again.summary() == back.summary()


def test_serve_saves_a_memory_workspace_and_starts_the_app_on_it(parts, tmp_path, monkeypatch):
    import subprocess

    started = {}

    class FakeProcess:
        def __init__(self, cmd, env, stdin):
            started.update(cmd=cmd, env=env)

    monkeypatch.setattr(subprocess, "Popen", FakeProcess)
    url, process = _ws(parts).serve(folder=tmp_path / "served", port=8765)
    assert url == "http://localhost:8765" and isinstance(process, FakeProcess)
    assert started["cmd"][1:4] == ["-m", "streamlit", "run"] and "8765" in started["cmd"]
    toml = started["env"]["EXPLORE_WORKSPACE"]
    assert toml == str(tmp_path / "served" / "workspace.toml")
    assert explore.open(toml).dataset_names == ["train", "validation"]


def test_explore_run_opens_a_saved_folder(parts, tmp_path, monkeypatch):
    from explore.cli import commands

    seen = {}
    monkeypatch.setattr(commands.os, "execve", lambda exe, cmd, env: seen.update(env=env))
    folder = tmp_path / "saved"
    _ws(parts).save(folder)
    assert commands.main(["run", str(folder), "--port", "8766"]) == 0
    assert explore.open(seen["env"]["EXPLORE_WORKSPACE"]).task == "binary"
