"""explore.core.roles: the one rule for training / evaluation / serving datasets, declared or by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from explore.core import roles
from explore.core.workspace import read_workspace
from explore.errors import WorkspaceError

HEAD = '[columns]\nlabel = "y"\nprediction = "p"\n\n[datasets]\n'


def _config(tmp_path: Path, datasets: str):
    (tmp_path / "workspace.toml").write_text(HEAD + datasets, encoding="utf-8")
    return read_workspace(tmp_path / "workspace.toml")


def test_names_decide_when_no_role_is_declared(tmp_path):
    c = _config(tmp_path, 'train = "a.csv"\nvalidation = "b.csv"\nproduction = "c.csv"\n')
    assert c.dataset_roles == {}
    assert roles.training_dataset(c) == "train"
    assert roles.evaluation_datasets(c) == ["validation", "production"]
    assert roles.evaluation_dataset(c) == "validation"
    assert roles.serving_dataset(c) == "production"
    assert roles.reference_dataset(c) == "train"


def test_a_name_containing_train_is_training_data_and_the_last_dataset_is_explored(tmp_path):
    c = _config(tmp_path, 'jan = "a.csv"\ntrain_2023 = "b.csv"\nfeb = "c.csv"\n')
    assert roles.training_dataset(c) == "train_2023"
    assert roles.evaluation_datasets(c) == ["jan", "feb"]
    assert roles.evaluation_dataset(c) == "feb"
    assert roles.serving_dataset(c) is None


def test_declared_roles_win_over_names(tmp_path):
    c = _config(
        tmp_path,
        'train = { path = "a.csv", role = "evaluation" }\n'
        'fit = { path = "b.csv", role = "train" }\n'
        'live = { path = "c.csv", role = "serving" }\n',
    )
    assert c.dataset_roles == {"train": "evaluation", "fit": "train", "live": "serving"}
    assert c.datasets["fit"] == (tmp_path / "b.csv").resolve()
    assert roles.training_dataset(c) == "fit"
    assert roles.evaluation_datasets(c) == ["train", "live"]
    assert roles.evaluation_dataset(c) == "train"
    assert roles.serving_dataset(c) == "live"
    assert roles.reference_dataset(c) == "fit"


def test_declared_roles_without_train_mean_no_training_data(tmp_path):
    c = _config(tmp_path, 'train_like = { path = "a.csv", role = "evaluation" }\nother = "b.csv"\n')
    assert roles.training_dataset(c) is None
    assert roles.reference_dataset(c) == "train_like"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('x = { path = "a.csv", role = "bogus" }', "use one of: train, evaluation, serving"),
        ('x = { role = "train" }', "missing the required key 'path'"),
        ('x = { path = "a.csv", rol = "train" }', "unknown key 'rol'"),
        ("x = 3", "a file path string"),
    ],
)
def test_bad_dataset_entries_say_what_to_write(tmp_path, entry, message):
    with pytest.raises(WorkspaceError, match=message):
        _config(tmp_path, entry + "\n")
