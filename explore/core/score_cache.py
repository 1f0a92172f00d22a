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

``overall_cached(ws, dataset, model)`` keeps the overall metrics of those predictions the same way
(``metrics-<model fingerprint>-<data version>-<metrics code>.parquet``, the last part changing with
``explore/stats/metrics.py`` and the installed NumPy and SciPy), so a restart draws the Workspace page's metrics
without importing SciPy or computing an interval.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explore.core.model_facts import CACHE_FOLDER, installed_stamp
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


def data_version(ws: Workspace, dataset: str) -> str | None:
    """A short hash that changes whenever the rows of ``dataset`` may have changed (see the module docstring);
    None for an out-of-core dataset with no file on this machine (a data lake): nothing tells when it changes, so
    nothing is kept for it."""
    if dataset in ws.config.engine_sources:
        return ws.engine_version(dataset)
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
    files = data_version(ws, dataset)
    if files is None:
        return None
    version = f"{files}{_settings_hash(ws, labelled=labelled)}"
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

    columns = {"pred": outputs.pred}
    if outputs.proba is not None:
        columns.update({f"proba_{i}": outputs.proba[:, i] for i in range(outputs.proba.shape[1])})
    if outputs.score is not None:
        columns["score"] = outputs.score
    table = pa.table(columns)
    meta = {"format": FORMAT, "unavailable": outputs.unavailable}
    _write_atomic(path, table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()}))


def write_parquet_atomic(path: Path, table: object) -> None:
    """Write the Arrow ``table`` to ``path`` atomically (a temporary file in the same folder, then a rename): a
    reader never sees half a file, and a failed write leaves what was there."""
    import pyarrow.parquet as pq

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


def _write_atomic(path: Path, table: object) -> None:
    write_parquet_atomic(path, table)
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Keep the KEEP_FILES most recently written prediction files, and as many metrics files (old model or data
    versions go)."""
    for pattern in ("predictions-*.parquet", "metrics-*.parquet"):
        try:
            files = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime_ns, reverse=True)
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


# ---- the overall metrics of the predictions, kept beside them ---------------------------------------

_METRICS_CODE: list[str] = []


def _metrics_code() -> str:
    """Changes when the metrics could: the bytes of ``explore/stats/metrics.py`` (its formulas, intervals and
    their options) and the installed NumPy and SciPy (their files' size and time), read without importing them."""
    if not _METRICS_CODE:
        h = hashlib.sha256((Path(__file__).resolve().parents[1] / "stats" / "metrics.py").read_bytes())
        for package in ("numpy", "scipy"):
            h.update(installed_stamp(package).encode())
        _METRICS_CODE.append(h.hexdigest()[:8])
    return _METRICS_CODE[0]


def metrics_path(ws: Workspace, dataset: str, model: str = MAIN_MODEL) -> Path | None:
    """Where the overall metrics of ``model``'s predictions on ``dataset`` are kept (None: not kept on disk)."""
    predictions = cache_path(ws, dataset, model)
    if predictions is None:
        return None
    stem = predictions.stem.removeprefix("predictions-")
    return predictions.with_name(f"metrics-{stem}-{_metrics_code()}.parquet")


def overall_cached(
    ws: Workspace, dataset: str, model: str | None = MAIN_MODEL, scored: Scored | None = None
) -> pd.DataFrame:
    """``explore.stats.metrics.overall_metrics(score(ws, dataset, model))``, read from beside the predictions when
    a previous start (or process) computed it, else computed (from ``scored`` when given) and kept there. Keyed
    like the predictions, plus the metrics code and the NumPy / SciPy installed; a damaged file is computed again,
    a folder that cannot be written keeps nothing (the predictions' note says so)."""
    path = metrics_path(ws, dataset, model) if model is not None else None
    if path is not None:
        kept = _read_table(path)
        if kept is not None:
            return kept
    from explore.stats.metrics import overall_metrics  # SciPy: imported only when metrics are computed

    table = overall_metrics(scored if scored is not None else score_cached(ws, dataset, model).scored)
    if path is not None:
        with contextlib.suppress(OSError):
            _write_table(path, table)
    return table


def _engine_code() -> str:
    """A hash of every module of ``explore/engine`` (metrics, the one-pass paths, the log's encodings, the SQL
    dialect): a fix in any of them makes the kept engine metrics stale."""
    h = hashlib.sha256()
    for f in sorted((Path(__file__).resolve().parents[1] / "engine").glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:8]


def engine_metrics_path(ws: Workspace, dataset: str, confidence: float) -> Path | None:
    """Where the overall metrics of an out-of-core dataset's every row are kept (None: a workspace without a
    folder). Keyed by the files' version, the columns the engine reads and what the workspace makes of them,
    the confidence level, and the code that computes them (the in-memory formulas, every module of
    ``explore/engine``, the installed DuckDB)."""
    if ws.in_memory or dataset not in ws.config.engine_sources:
        return None
    version = data_version(ws, dataset)
    if version is None:
        return None
    cols = ws.columns
    described = {
        "settings": _settings_hash(ws, labelled=True),
        "prediction": cols.prediction,
        "score": cols.score,
        "scores": dict(cols.scores or {}),
        "confidence": confidence,
        "engine": _engine_code(),
        "duckdb": installed_stamp("duckdb"),
    }
    key = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return ws.config.root / CACHE_FOLDER / f"metrics-engine-{version}-{key}-{_metrics_code()}.parquet"


def engine_overall_cached(
    ws: Workspace, dataset: str, confidence: float, compute: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """The overall metrics of every row of out-of-core ``dataset``: read from beside the workspace when a previous
    start computed them for this version of the files, else ``compute()`` (a pass over the files) and kept."""
    path = engine_metrics_path(ws, dataset, confidence)
    if path is not None:
        kept = _read_table(path)
        if kept is not None:
            return kept
    table = compute()
    if path is not None:
        with contextlib.suppress(OSError):
            _write_table(path, table)
    return table


def _read_table(path: Path) -> pd.DataFrame | None:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
        if meta.get("format") != FORMAT or meta.get("kind") != "metrics":
            return None
        return table.to_pandas()
    except Exception:  # noqa: BLE001 - a missing or damaged cache file (truncated, not Parquet) is a miss
        return None


def _write_table(path: Path, frame: pd.DataFrame) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=True)
    meta = {
        **(table.schema.metadata or {}),
        _META_KEY: json.dumps({"format": FORMAT, "kind": "metrics"}).encode(),
    }
    _write_atomic(path, table.replace_schema_metadata(meta))


def clear_cache(ws: Workspace) -> int:
    """Delete what is kept beside ``ws`` (predictions, their metrics, model facts, engine-drawn samples and
    probes); return how many files there were."""
    folder = ws.config.root / CACHE_FOLDER
    n = 0
    patterns = (
        "predictions-*.parquet",
        "metrics-*.parquet",
        "model-*.json",
        "sample-*.parquet",
        "probe-*.parquet",
    )
    kept = [f for pattern in patterns for f in folder.glob(pattern)] if folder.is_dir() else []
    for f in kept:
        with contextlib.suppress(OSError):
            f.unlink()
            n += 1
    return n


__all__ = [
    "CACHE_FOLDER",
    "CachedScore",
    "cache_path",
    "clear_cache",
    "data_version",
    "engine_metrics_path",
    "engine_overall_cached",
    "metrics_path",
    "overall_cached",
    "score_cached",
]
