"""Uploaded files become an ordinary, validated workspace."""

from __future__ import annotations

import pytest

from explore import errors
from explore.core.upload import UploadedFile, check_size, save_uploaded_workspace, toml_text
from explore.core.workspace import open_workspace, read_workspace
from tests.helpers import make_workspace


def test_upload_round_trip(tmp_path):
    src = make_workspace(tmp_path / "src").parent
    path = save_uploaded_workspace(
        datasets=[UploadedFile("validation.csv", (src / "validation.csv").read_bytes())],
        model=UploadedFile("model.skops", (src / "model.skops").read_bytes()),
        columns={"label": "income", "id": "row_id", "time": "", "positive": None},
        trusted_types=read_workspace(src / "workspace.toml").models["current"].trusted_types,
        root=tmp_path / "up",
    )
    ws = open_workspace(read_workspace(path))
    assert ws.dataset_names == ["validation"] and ws.columns.time is None


def test_upload_over_limit():
    with pytest.raises(errors.UploadError, match=r"'big.csv' is 3 MB, over the upload limit of 2 MB"):
        check_size("big.csv", 3 * 1024 * 1024, 2)


def test_upload_wrong_kinds(tmp_path):
    with pytest.raises(errors.UploadError, match="at least one data file"):
        save_uploaded_workspace(datasets=[], columns={"label": "y"}, root=tmp_path)
    with pytest.raises(errors.UploadError, match="does not read"):
        save_uploaded_workspace(
            datasets=[UploadedFile("a.xlsx", b"x")], columns={"label": "y"}, root=tmp_path
        )


def test_toml_text_quotes_safely():
    import tomllib

    text = toml_text(
        {"columns": {"label": 'we"ird\\name', "scores": {"a b": "p"}, "features": ["x", "y"], "positive": 1}}
    )
    assert tomllib.loads(text)["columns"] == {
        "label": 'we"ird\\name',
        "scores": {"a b": "p"},
        "features": ["x", "y"],
        "positive": 1,
    }
