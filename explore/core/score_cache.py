"""Predictions scored once and kept on disk beside the workspace, so a server restart (or another process, or
another server on the same folder) draws its first page without running the model again.

``score_cached(ws, dataset, model)`` is ``score(ws, dataset, model)`` through a Parquet file
``<workspace>/.explore-cache/predictions-<model fingerprint>-<data version>.parquet``:

- the **model fingerprint** is the sha256 of the model file's bytes (``Workspace.model_fingerprint``);
- the **data version** is the sha256 of the data file's bytes up to ``CONTENT_HASH_BYTES``, else (big files,
  Parquet folders, DuckDB tables) of each file's path, size and modification time in nanoseconds — plus the
  workspace settings that change what the outputs mean (task, classes and their order, positive class, features,
  label column, the rows kept) and the file format;

so editing either file, or workspace.toml in a way that matters, misses the cache. A file is written to a
temporary name in the same folder and renamed over its final name (atomic on POSIX): concurrent writers each
rename a complete file (identical content), readers never see half of one. A cache file that cannot be read,
or whose shape does not match the rows, is ignored and written again. A folder that cannot be written keeps the
predictions in memory only, with a one-line note saying why. Workspaces built in memory (``from_frames``)
have no folder and are never cached on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explore.core.model_facts import CACHE_FOLDER
from explore.core.workspace import (
    MAIN_MODEL,
    ModelOutputs,
    Scored,
    Workspace,
    _score_rows,
    _stat_fingerprint,
    model_outputs,
)

FORMAT = 1
# Files up to this size are identified by their content; bigger ones by path + size + mtime_ns (hashing a
# multi-gigabyte file at every start would cost what the cache saves).
CONTENT_HASH_BYTES = 256 << 20
# The cache folder keeps at most this many prediction files; the least recently written go first.
KEEP_FILES = 64
_META_KEY = b"explore-predictions"

UNWRITABLE = (
    "Predictions are kept in memory only: the cache folder {folder} cannot be written ({reason}), so the next "
    "start scores again. Make the workspace folder writable to keep them across restarts."
)


@dataclass(frozen=True)
class CachedScore:
    """A ``Scored`` and how it was obtained: ``source`` is "disk" (read from the cache), "scored" (the model ran
    and the file was written), "memory" (the model ran; the file could not be written: ``note`` says why) or
    "uncached" (nothing to cache: no model, or a workspace without a folder)."""

    scored: Scored
    source: str
    path: Path | None = None
    note: str | None = None


def data_version(ws: Workspace, dataset: str) -> str:
    """A short hash that changes whenever the rows of ``dataset`` may have changed (see the module docstring)."""
    if dataset in ws.config.engine_sources:
        return _stat_fingerprint(ws._engine_files(dataset))
    path = Path(ws.config.datasets[dataset])
    st = path.stat()
    if st.st_size <= CONTENT_HASH_BYTES:
        return ws.data_fingerprint(dataset)
    return _stat_fingerprint([path])


def _settings_hash(ws: Workspace, *, labelled: bool) -> str:
    cols = ws.columns
    described = {
        "format": FORMAT,
        "task": ws.task,
        "classes": None if ws.classes is None else [repr(c) for c in ws.classes.tolist()],
        "positive": repr(ws.positive),
        "features": list(ws.feature_names),
        "label": cols.label,
        "labelled": labelled,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:12]


def cache_path(ws: Workspace, dataset: str, model: str = MAIN_MODEL, *, labelled: bool = True) -> Path | None:
    """Where the predictions of ``model`` on ``dataset`` are kept, or None (no model, or no folder)."""
    if ws.in_memory or model not in ws.models:
        return None
    version = f"{data_version(ws, dataset)}{_settings_hash(ws, labelled=labelled)}"
    return ws.config.root / CACHE_FOLDER / f"predictions-{ws.model_fingerprint(model)}-{version}.parquet"


def _read(path: Path, n_rows: int, n_classes: int | None) -> ModelOutputs | None:
    """The outputs kept in ``path``, or None when it is missing, unreadable or does not fit the rows."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
        if table.num_rows != n_rows or meta.get("format") != FORMAT:
            return None
        frame = table.to_pandas()
        pred = frame["pred"].to_numpy()
        proba_cols = [c for c in frame.columns if c.startswith("proba_")]
        proba = frame[proba_cols].to_numpy(dtype="float64") if proba_cols else None
        if proba is not None and proba.shape[1] != n_classes:
            return None
        score = frame["score"].to_numpy(dtype="float64") if "score" in frame.columns else None
        return ModelOutputs(pred=pred, proba=proba, score=score, unavailable=dict(meta["unavailable"]))
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - any damage to a cache file (truncated, not Parquet, wrong columns) is a miss
        return None


def _write(path: Path, outputs: ModelOutputs) -> None:
    """Write ``outputs`` to ``path`` atomically (a temporary file in the same folder, then a rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"pred": outputs.pred}
    if outputs.proba is not None:
        columns.update({f"proba_{i}": outputs.proba[:, i] for i in range(outputs.proba.shape[1])})
    if outputs.score is not None:
        columns["score"] = outputs.score
    table = pa.table(columns)
    meta = {"format": FORMAT, "unavailable": outputs.unavailable}
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Keep the KEEP_FILES most recently written prediction files (old model or data versions go)."""
    try:
        files = sorted(folder.glob("predictions-*.parquet"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    except OSError:
        return
    for old in files[KEEP_FILES:]:
        with contextlib.suppress(OSError):
            old.unlink()


def score_cached(
    ws: Workspace, dataset: str, model: str | None = MAIN_MODEL, *, labelled: bool = True
) -> CachedScore:
    """``score(ws, dataset, model)`` (or ``score_unlabeled`` with ``labelled=False``), with the model's outputs
    read from the cache beside the workspace when they are there, else computed and written there."""
    path = cache_path(ws, dataset, model, labelled=labelled) if model is not None else None
    if path is None:
        return CachedScore(_score_rows(ws, dataset, model, labelled=labelled), "uncached")
    found: dict[str, object] = {}

    def from_cache(ws: Workspace, dataset: str, model: str, frame: pd.DataFrame) -> ModelOutputs:
        n_classes = None if ws.classes is None else len(ws.classes)
        kept = _read(path, len(frame), n_classes)
        if kept is not None:
            found["source"] = "disk"
            return kept
        outputs = model_outputs(ws, dataset, model, frame)
        try:
            _write(path, outputs)
            found["source"] = "scored"
        except OSError as exc:
            found["source"] = "memory"
            found["note"] = UNWRITABLE.format(folder=path.parent, reason=exc.strerror or exc)
        return outputs

    scored = _score_rows(ws, dataset, model, labelled=labelled, outputs=from_cache)
    return CachedScore(scored, str(found.get("source", "uncached")), path, found.get("note"))  # type: ignore[arg-type]


def clear_cache(ws: Workspace) -> int:
    """Delete what is kept beside ``ws`` (predictions, model facts); return how many files there were."""
    folder = ws.config.root / CACHE_FOLDER
    n = 0
    kept = [*folder.glob("predictions-*.parquet"), *folder.glob("model-*.json")] if folder.is_dir() else []
    for f in kept:
        with contextlib.suppress(OSError):
            f.unlink()
            n += 1
    return n


__all__ = ["CACHE_FOLDER", "CachedScore", "cache_path", "clear_cache", "data_version", "score_cached"]
