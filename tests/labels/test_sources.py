"""explore/labels/sources.py: the workspace's annotations or an uploaded file, saved once per content, its
columns guessed, and the identity under which results about them are stored."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from explore.core.workspace import open_workspace, read_workspace
from explore.errors import DataError
from explore.labels import crowd, sources


@pytest.fixture(scope="module")
def ws(tiny_workspace):
    return open_workspace(read_workspace(tiny_workspace))


def _upload(ws) -> pd.DataFrame:
    ids = ws.dataset("validation")["customer_id"].head(30)
    return pd.DataFrame({"rater": ["x", "y"] * 30, "row": list(ids.repeat(2)), "answer": ["yes", "no"] * 30})


def test_an_upload_is_saved_once_under_its_content_digest(tmp_path, ws):
    data = _upload(ws).to_csv(index=False).encode()
    saved = sources.save_upload(data, "mine.csv", root=tmp_path)
    digest = hashlib.sha256(data).hexdigest()[:16]
    assert saved.digest == digest
    assert saved.path == str(tmp_path / "annotations" / digest / "mine.csv")
    stamp = (tmp_path / "annotations" / digest / "mine.csv").stat().st_mtime_ns
    assert sources.save_upload(data, "mine.csv", root=tmp_path) == saved  # the same bytes: not written again
    assert (tmp_path / "annotations" / digest / "mine.csv").stat().st_mtime_ns == stamp
    other = sources.save_upload(data + b"\n", "mine.csv", root=tmp_path)
    assert other.digest != digest


def test_uploaded_annotations_are_joined_with_the_columns_picked(tmp_path, ws):
    frame = _upload(ws)
    saved = sources.save_upload(frame.to_csv(index=False).encode(), "mine.csv", root=tmp_path)
    source = sources.uploaded_source(saved, item="row", labeler="rater", label="answer", dataset="validation")
    ann = sources.load_annotations(ws, source)
    direct = crowd.annotations_from_frame(
        ws, frame, item="row", labeler="rater", label="answer", dataset="validation"
    )
    assert ann.source == "mine.csv" and ann.n_items == direct.n_items == 30
    assert (ann.label == direct.label).all() and list(ann.labelers) == ["x", "y"]
    # A frame already read is used as it is.
    again = sources.load_annotations(ws, source, frame=sources.read_upload(saved.path))
    assert (again.item == ann.item).all()


def test_the_workspace_source_reads_the_annotations_section(ws):
    ann = sources.load_annotations(ws, sources.WORKSPACE_ANNOTATIONS)
    assert ann.n_items == crowd.workspace_annotations(ws).n_items and ann.dataset == "validation"


def test_an_unreadable_upload_is_a_data_error_naming_the_file(tmp_path, ws):
    saved = sources.save_upload(b"\x00\x01not a table", "broken.parquet", root=tmp_path)
    with pytest.raises(DataError, match="broken.parquet"):
        sources.read_upload(saved.path)


def test_store_keys_are_the_ones_results_were_saved_under_before(tmp_path, ws):
    """Cross-validation results saved in the store stay findable: the key format must not change."""
    assert sources.WORKSPACE_ANNOTATIONS.store_key(ws) == f"{ws.key}|workspace"
    saved = sources.SavedUpload(path=str(tmp_path / "a.csv"), digest="abc123")
    source = sources.uploaded_source(saved, item="row", labeler="rater", label="answer", dataset="validation")
    assert source.store_key(ws) == f"{ws.key}|abc123|row|rater|answer|None|validation"
    batched = sources.uploaded_source(
        saved, item="row", labeler="rater", label="answer", dataset="validation", batch="week"
    )
    assert batched.store_key(ws).endswith("|week|validation") and hash(batched) != hash(source)


@pytest.mark.parametrize(
    ("columns", "words", "default", "expected"),
    [
        (["item_id", "Annotator", "label"], sources.LABELER_WORDS, 1, 1),
        (["id", "who", "answer"], sources.LABEL_WORDS, 2, 2),
        (["a", "b"], sources.LABEL_WORDS, 2, 1),  # the default never runs past the last column
        (["WORKER", "x"], sources.LABELER_WORDS, 1, 0),
    ],
)
def test_columns_are_guessed_by_their_names(columns, words, default, expected):
    assert sources.guess_column(columns, words, default) == expected


def test_the_item_column_is_the_workspace_id_column_when_the_file_has_it():
    assert sources.guess_item_column(["rater", "customer_id", "item"], "customer_id") == 1
    assert sources.guess_item_column(["rater", "item", "x"], "customer_id") == 1
    assert sources.guess_item_column(["rater", "x"], None) == 0
