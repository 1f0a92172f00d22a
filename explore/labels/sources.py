"""Where annotations come from: the workspace's ``[annotations]`` section, or an uploaded file with the
columns the user picked for it.

An :class:`AnnotationSource` names the annotations by small values (paths, column names), so it is cheap to
hash and to compare: caches and the store key results by it rather than by the annotations themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explore.core.upload import upload_root
from explore.core.workspace import Workspace
from explore.labels.crowd import (
    Annotations,
    annotations_from_frame,
    read_annotation_file,
    workspace_annotations,
)

UPLOAD_FOLDER = "annotations"  # uploaded annotation files live in <upload root>/annotations/<digest>/<name>
UPLOAD_WHERE = "the uploaded annotation file"
ITEM_WORDS = ("id", "item")
LABELER_WORDS = ("labeler", "annotator", "rater", "worker", "user")
LABEL_WORDS = ("label", "answer", "class")


@dataclass(frozen=True)
class AnnotationSource:
    """Which annotations to read.

    ``upload`` is None for the workspace's ``[annotations]``; else the path of a saved upload (see
    :func:`save_upload`), ``digest`` its content hash, and ``item``, ``labeler``, ``label``, ``batch``
    (optional) the columns picked in it and ``dataset`` the dataset its items belong to.
    """

    upload: str | None = None
    digest: str = ""
    item: str = ""
    labeler: str = ""
    label: str = ""
    batch: str | None = None
    dataset: str = ""

    @property
    def name(self) -> str:
        """The uploaded file's name ("" for the workspace's annotations)."""
        return Path(self.upload).name if self.upload else ""

    def store_key(self, ws: Workspace) -> str:
        """These annotations' identity in the store (part of the key of saved cross-validation results)."""
        if self.upload is None:
            return f"{ws.key}|workspace"
        return f"{ws.key}|{self.digest}|{self.item}|{self.labeler}|{self.label}|{self.batch}|{self.dataset}"


WORKSPACE_ANNOTATIONS = AnnotationSource()


@dataclass(frozen=True)
class SavedUpload:
    """An uploaded annotation file kept on disk: ``path`` (text), ``digest`` (16 hex characters of its sha256)."""

    path: str
    digest: str


def save_upload(data: bytes, name: str, *, root: Path | None = None) -> SavedUpload:
    """Keep an uploaded file under ``<root>/annotations/<digest>/<name>`` (written once per content)."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = (root or upload_root()) / UPLOAD_FOLDER / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(name).name
    if not path.exists():
        path.write_bytes(data)
    return SavedUpload(path=str(path), digest=digest)


def read_upload(path: str) -> pd.DataFrame:
    """The saved upload as a frame; raises DataError when it cannot be read."""
    return read_annotation_file(path, where=UPLOAD_WHERE)


def uploaded_source(
    saved: SavedUpload,
    *,
    item: str,
    labeler: str,
    label: str,
    dataset: str,
    batch: str | None = None,
) -> AnnotationSource:
    return AnnotationSource(
        upload=saved.path,
        digest=saved.digest,
        item=item,
        labeler=labeler,
        label=label,
        batch=batch,
        dataset=dataset,
    )


def load_annotations(
    ws: Workspace, source: AnnotationSource, *, frame: pd.DataFrame | None = None
) -> Annotations:
    """The annotations ``source`` names, joined to their dataset. ``frame``: the upload already read (by
    :func:`read_upload`), to skip reading it again. Raises an ExploreError on a bad file or bad columns."""
    if source.upload is None:
        return workspace_annotations(ws)
    return annotations_from_frame(
        ws,
        read_upload(source.upload) if frame is None else frame,
        item=source.item,
        labeler=source.labeler,
        label=source.label,
        batch=source.batch,
        dataset=source.dataset,
        source=source.name,
    )


def guess_column(columns: Sequence[str], words: Sequence[str], default: int) -> int:
    """Position of the first column whose name contains one of ``words`` (any case), else ``default``
    (at most the last position)."""
    for i, column in enumerate(columns):
        if any(w in str(column).lower() for w in words):
            return i
    return min(default, len(columns) - 1)


def guess_item_column(columns: Sequence[str], id_column: str | None) -> int:
    """The workspace's id column when the file has it, else the first column named like an id."""
    return list(columns).index(id_column) if id_column in columns else guess_column(columns, ITEM_WORDS, 0)
