"""Workspaces from objects in memory, and back to files: what a notebook needs to use the app's analyses.

``workspace_from_frames(model=pipe, datasets={"validation": df}, label="y", ...)`` builds the same
``[model]`` / ``[columns]`` / ``[datasets]`` / ``[annotations]`` mapping a workspace.toml holds and validates
it with ``parse_workspace`` and ``Workspace`` — the checks and messages of files, not a copy of them.
The files it names (``<dataset>.parquet``, ``model.skops``, ``annotations.parquet``) are the ones
``save_workspace`` writes, so a saved workspace opens to the same thing (``explore run <folder>``).
"""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore import errors
from explore.core.loading import LoadedModel
from explore.core.upload import toml_text
from explore.core.workspace import MAIN_MODEL, Workspace, parse_workspace

MEMORY_ROOT = Path("/in-memory")  # the nominal folder of a workspace without files (never read or written)
MODEL_FILE = "model.skops"
ANNOTATIONS_FILE = "annotations.parquet"
DEFAULT_DATASET = "validation"
ANNOTATION_ROLES = ("item", "labeler", "label", "batch", "dataset")

NOT_A_FRAME = (
    "datasets[{name!r}] must be a pandas DataFrame; received a {received}. "
    "Pass datasets={{'validation': df}} (pd.DataFrame(array, columns=[...]) turns an array into one)."
)
NO_DATASETS = "There are no datasets; received {received!r}. Pass datasets={{'validation': df}} with at least one DataFrame."
BAD_DATASET_NAME = (
    "The dataset name {received!r} is not usable: use letters, digits, '_' or '-' (e.g. 'validation')."
)
NOT_A_MODEL = (
    "{argument} must be a fitted model with a predict() method; received a {received}. Pass the fitted "
    "estimator or Pipeline itself (e.g. model=pipe after pipe.fit(X, y)), or model=None for predictions only."
)
LENGTHS_DIFFER = (
    "The arrays have different lengths: {lengths}. Pass one value per row in each (same rows, same order)."
)
NOT_ONE_DIMENSIONAL = "{argument} must be one value per row (1-D); received an array of shape {shape}. {fix}"
SCORES_NEED_CLASSES = (
    "scores has {n} columns (one per class) but the classes are not named; received an array of shape {shape}. "
    "Pass classes=[...] in the model's column order, or a DataFrame / dict whose keys are the classes."
)
BAD_ANNOTATION_COLUMNS = (
    "annotation_columns may only name {known}; received {received!r}. "
    'E.g. annotation_columns={{"item": "row_id", "labeler": "annotator", "label": "label"}}.'
)
NOT_ANNOTATIONS = "annotations must be a pandas DataFrame in long format (one row per item x labeler); received a {received}."
FROM_ARGUMENTS = (
    "(Built from Python: each workspace.toml [columns] key is the keyword argument of the same name, "
    "e.g. label=..., time=..., task=....)"
)
SAVE_NOT_FOLDER = (
    "Cannot save the workspace into '{path}': it exists and is not a folder. Choose a folder path."
)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A short sha256 of a DataFrame's column names, dtypes and values (hex, 16 chars)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def _model_fingerprint(model: Any) -> str:
    try:
        return hashlib.sha256(pickle.dumps(model)).hexdigest()[:16]
    except (pickle.PicklingError, TypeError, AttributeError):  # an object pickle cannot take: its identity
        return f"object-{id(model):x}"


def _check_model(model: Any, argument: str) -> None:
    if not hasattr(model, "predict"):
        raise errors.ModelError(NOT_A_MODEL.format(argument=argument, received=type(model).__name__))


def _loaded(name: str, model: Any) -> LoadedModel:
    versions = {}
    sk_version = getattr(model, "__sklearn_version__", None) or getattr(model, "_sklearn_version", None)
    if sk_version:
        versions["scikit-learn"] = str(sk_version)
    file = MODEL_FILE if name == MAIN_MODEL else f"model-{name}.skops"
    return LoadedModel(model, MEMORY_ROOT / file, _model_fingerprint(model), "memory", versions)


def _dataset_file(name: str) -> str:
    return f"{name}.parquet"


def workspace_from_frames(
    *,
    datasets: Mapping[str, pd.DataFrame] | pd.DataFrame,
    label: str,
    model: Any = None,
    models: Mapping[str, Any] | None = None,
    time: str | None = None,
    id: str | None = None,
    task: str | None = None,
    positive: Any = None,
    features: list[str] | None = None,
    prediction: str | None = None,
    score: str | None = None,
    scores: Mapping[Any, str] | None = None,
    roles: Mapping[str, str] | None = None,
    annotations: pd.DataFrame | None = None,
    annotation_columns: Mapping[str, str] | None = None,
    banned_features: list[str] | None = None,
    slices: list[str] | None = None,
    name: str = "notebook",
) -> Workspace:
    """A workspace from objects in memory, validated exactly as a workspace.toml with these values would be.

    ``datasets``: ``{name: DataFrame}`` (one DataFrame: named ``"validation"``); ``label``: the label column;
    ``model``: a fitted estimator or Pipeline (``None`` with ``prediction=`` / ``score=`` / ``scores=`` columns:
    predictions-only); ``models``: other versions by name (``{"previous": old_pipe}``, for the Checks' compare);
    ``time``, ``id``, ``task``, ``positive``, ``features``, ``prediction``, ``score``, ``scores``: the
    ``[columns]`` keys; ``roles``: ``{dataset: "train" | "evaluation" | "serving"}``; ``annotations``: a
    long-format DataFrame (one row per item x labeler) whose columns ``annotation_columns`` names (defaults
    ``item``, ``labeler``, ``label``; also ``batch`` and ``dataset``); ``banned_features`` / ``slices``: the
    ``[checks]`` keys; ``name``: what the workspace is called.

    The DataFrames are used as they are (renumbered 0..n-1 when their index is another), not copied: do not change them afterwards (build the workspace again).
    Raises the ``ExploreError`` a workspace.toml with the same content would raise.
    """
    if isinstance(datasets, pd.DataFrame):
        datasets = {DEFAULT_DATASET: datasets}
    if not isinstance(datasets, Mapping) or not datasets:
        raise errors.DataError(NO_DATASETS.format(received=datasets))
    for ds_name, frame in datasets.items():
        if not isinstance(ds_name, str) or not ds_name or not all(c.isalnum() or c in "_-" for c in ds_name):
            raise errors.DataError(BAD_DATASET_NAME.format(received=ds_name))
        if not isinstance(frame, pd.DataFrame):
            raise errors.DataError(NOT_A_FRAME.format(name=ds_name, received=type(frame).__name__))
    all_models = {MAIN_MODEL: model} if model is not None else {}
    for other, est in (models or {}).items():
        all_models[str(other)] = est
    for model_name, est in all_models.items():
        _check_model(est, "model" if model_name == MAIN_MODEL else f"models[{model_name!r}]")

    columns: dict[str, Any] = {"label": label}
    for key, value in (
        ("time", time),
        ("id", id),
        ("positive", positive.item() if isinstance(positive, np.generic) else positive),
        ("task", task),
        ("prediction", prediction),
        ("score", score),
    ):
        if value is not None:
            columns[key] = value
    if scores:
        columns["scores"] = {str(k): v for k, v in scores.items()}
    if features is not None:
        columns["features"] = list(features)
    data: dict[str, Any] = {"columns": columns}
    if MAIN_MODEL in all_models:
        data["model"] = {"path": MODEL_FILE}
    others = {k: {"path": f"model-{k}.skops"} for k in all_models if k != MAIN_MODEL}
    if others:
        data["models"] = others
    roles = dict(roles or {})
    data["datasets"] = {
        k: ({"path": _dataset_file(k), "role": roles[k]} if k in roles else _dataset_file(k))
        for k in datasets
    }
    if annotations is not None:
        if not isinstance(annotations, pd.DataFrame):
            raise errors.DataError(NOT_ANNOTATIONS.format(received=type(annotations).__name__))
        named = dict(annotation_columns or {})
        unknown = [k for k in named if k not in ANNOTATION_ROLES]
        if unknown:
            raise errors.DataError(
                BAD_ANNOTATION_COLUMNS.format(known=", ".join(ANNOTATION_ROLES), received=unknown)
            )
        data["annotations"] = {
            "path": ANNOTATIONS_FILE,
            "item": named.get("item", "item"),
            "labeler": named.get("labeler", "labeler"),
            "label": named.get("label", "label"),
            **{k: named[k] for k in ("batch", "dataset") if k in named},
        }
    checks = {k: list(v) for k, v in (("banned_features", banned_features), ("slices", slices)) if v}
    if checks:
        data["checks"] = checks
    if not name or "/" in name:
        raise errors.DataError(BAD_DATASET_NAME.format(received=name))
    loaded = {k: _loaded(k, est) for k, est in all_models.items()}
    # Rows are positions 0..n-1, as when read from a file (a slice such as df.iloc[300:] keeps its labels).
    frames = {
        k: v if v.index.equals(pd.RangeIndex(len(v))) else v.reset_index(drop=True)
        for k, v in datasets.items()
    }
    try:
        config = parse_workspace(data, MEMORY_ROOT / name / "workspace.toml")
        ws = Workspace(config, loaded, frames, annotation_frame=annotations, content_key="pending")
    except errors.ExploreError as exc:
        # The messages of files, said once for the keyword arguments that stand for those keys.
        exc.message = f"{exc.message} {FROM_ARGUMENTS}"
        exc.args = (exc.message,)
        raise
    content = "|".join(
        [
            f"memory:{name}",
            repr(sorted(data["columns"].items(), key=lambda kv: kv[0])),
            *(f"{k}:{frame_fingerprint(v)}" for k, v in frames.items()),
            *(f"{k}:{m.fingerprint}" for k, m in loaded.items()),
            frame_fingerprint(annotations) if annotations is not None else "",
        ]
    )
    ws._content_key = content
    ws.__dict__.pop("key", None)  # in case validation read the provisional key
    return ws


def _column(values: Any, argument: str, fix: str) -> np.ndarray | pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise errors.DataError(NOT_ONE_DIMENSIONAL.format(argument=argument, shape=arr.shape, fix=fix))
    return arr


def workspace_from_predictions(
    y_true: Any,
    y_pred: Any = None,
    scores: Any = None,
    *,
    classes: list[Any] | None = None,
    features: pd.DataFrame | None = None,
    time: Any = None,
    id: Any = None,
    task: str | None = None,
    positive: Any = None,
    dataset: str = DEFAULT_DATASET,
    name: str = "notebook",
) -> Workspace:
    """A predictions-only workspace of one dataset, from arrays: sklearn's ``(y_true, y_pred, scores)``.

    ``y_pred``: predicted classes (or values, for regression); ``scores``: the positive-class probability
    (binary, 1-D), or one column per class — a 2-D array with ``classes=[...]`` in its column order, a
    DataFrame or a ``{class: array}`` dict (multiclass). At least one of ``y_pred`` and ``scores``.
    ``features``: a DataFrame of the same rows to slice by; ``time`` and ``id``: arrays of the same length.
    The columns are called ``y_true``, ``y_pred``, ``score`` (``score_<class>``), ``time`` and ``id``.
    Raises ``DataError`` when the lengths differ, and every check of ``workspace_from_frames``.
    """
    one_d = "Pass a 1-D array, list or Series."
    parts: dict[str, Any] = {"y_true": _column(y_true, "y_true", one_d)}
    score_columns: dict[str, str] = {}
    if y_pred is not None:
        parts["y_pred"] = _column(y_pred, "y_pred", one_d)
    if scores is not None:
        if isinstance(scores, Mapping):
            per_class = {k: _column(v, f"scores[{k!r}]", one_d) for k, v in scores.items()}
        elif isinstance(scores, pd.DataFrame):
            per_class = {k: scores[k].reset_index(drop=True) for k in scores.columns}
        else:
            arr = np.asarray(scores, dtype="float64")
            if arr.ndim == 1:
                per_class = {}
                parts["score"] = arr
            elif arr.ndim == 2 and classes is not None and len(classes) == arr.shape[1]:
                per_class = {c: arr[:, i] for i, c in enumerate(classes)}
            else:
                raise errors.DataError(SCORES_NEED_CLASSES.format(n=arr.shape[-1], shape=arr.shape))
        for klass, values in per_class.items():
            column = f"score_{klass}"
            parts[column] = values
            score_columns[str(klass)] = column
    if y_pred is None and scores is None:
        raise errors.DataError(
            "There are no predictions: pass y_pred (predicted classes or values), scores (probabilities), or both."
        )
    if time is not None:
        parts["time"] = _column(time, "time", one_d)
    if id is not None:
        parts["id"] = _column(id, "id", one_d)
    lengths = {k: len(v) for k, v in parts.items()}
    if features is not None:
        if not isinstance(features, pd.DataFrame):
            raise errors.DataError(
                f"features must be a pandas DataFrame of the same rows; received a {type(features).__name__}."
            )
        lengths["features"] = len(features)
    if len(set(lengths.values())) > 1:
        raise errors.DataError(
            LENGTHS_DIFFER.format(lengths=", ".join(f"{k} {n:,}" for k, n in lengths.items()))
        )
    frame = pd.DataFrame(parts)
    if features is not None:
        clash = [c for c in features.columns if c in frame.columns]
        if clash:
            raise errors.ColumnError(
                f"features has columns named like the predictions: {errors.shown(clash)}. Rename them "
                "(e.g. features.rename(columns={...}))."
            )
        frame = pd.concat([features.reset_index(drop=True), frame], axis=1)
    return workspace_from_frames(
        datasets={dataset: frame},
        label="y_true",
        prediction="y_pred" if y_pred is not None else None,
        score="score" if "score" in parts else None,
        scores=score_columns or None,
        time="time" if time is not None else None,
        id="id" if id is not None else None,
        task=task,
        positive=positive,
        features=list(features.columns) if features is not None else [],
        name=name,
    )


# ---- back to files ----------------------------------------------------------------------------------


def _relative(path: Path, root: Path) -> str:
    return path.name if path.parent == root else str(path)


def save_workspace(ws: Workspace, folder: str | Path) -> Path:
    """Write ``ws`` into ``folder``: workspace.toml, each dataset as ``<name>.parquet``, each model as skops
    (with the types it needs listed as trusted: you saved them yourself), annotations as Parquet.

    Returns the path of workspace.toml; ``explore run <folder>`` opens it. Files of the same names are replaced.
    """
    import skops.io as sio

    folder = Path(folder).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise errors.WorkspaceError(SAVE_NOT_FOLDER.format(path=folder))
    folder.mkdir(parents=True, exist_ok=True)
    sections: dict[str, dict[str, Any]] = {}
    cfg = ws.config
    for model_name, est in ws.models.items():
        file = MODEL_FILE if model_name == MAIN_MODEL else f"model-{model_name}.skops"
        sio.dump(est, folder / file)
        table = {"path": file, "trusted_types": sio.get_untrusted_types(file=folder / file)}
        if model_name == MAIN_MODEL:
            sections["model"] = table
        else:
            sections[f"models.{model_name}"] = table
    cols = cfg.columns
    columns: dict[str, Any] = {
        "label": cols.label,
        "time": cols.time,
        "id": cols.id,
        "positive": cols.positive.item() if isinstance(cols.positive, np.generic) else cols.positive,
        "task": cols.task,
        "prediction": cols.prediction,
        "score": cols.score,
        "features": list(cols.features) if cols.features is not None else None,
    }
    if cols.scores:
        columns["scores"] = dict(cols.scores)
    sections["columns"] = columns
    datasets: dict[str, Any] = {}
    for ds_name in ws.dataset_names:
        file = _dataset_file(ds_name)
        ws.dataset(ds_name).to_parquet(folder / file, index=False)
        role = cfg.dataset_roles.get(ds_name)
        datasets[ds_name] = {"path": file, "role": role} if role else file
    sections["datasets"] = datasets
    if cfg.annotations is not None:
        table = ws.annotation_table()
        table.to_parquet(folder / ANNOTATIONS_FILE, index=False)
        a = cfg.annotations
        sections["annotations"] = {
            "path": ANNOTATIONS_FILE,
            "item": a.item,
            "labeler": a.labeler,
            "label": a.label,
            "dataset": a.dataset,
            "batch": a.batch,
        }
    checks: dict[str, Any] = {}
    for key in ("thresholds", "expectations", "key_examples"):
        source = getattr(cfg.checks, key)
        if source is not None and source.exists():
            target = folder / source.name
            if target.resolve() != source.resolve():
                target.write_bytes(source.read_bytes())
            checks[key] = source.name
    if cfg.checks.banned_features:
        checks["banned_features"] = list(cfg.checks.banned_features)
    if cfg.checks.slices:
        checks["slices"] = list(cfg.checks.slices)
    if checks:
        sections["checks"] = checks
    path = folder / "workspace.toml"
    path.write_text(toml_text(sections), encoding="utf-8")
    return path


def serve_workspace(
    ws: Workspace, *, folder: str | Path | None = None, port: int = 8501, host: str = "localhost"
) -> tuple[str, subprocess.Popen]:
    """Start the app on ``ws`` in a background process; return ``(url, process)``.

    A workspace built in memory is saved first (into ``folder``, else a new temporary folder). Stop the
    app with ``process.terminate()``; the process's output goes to this one's.
    """
    from explore.cli.commands import streamlit_command

    if ws.in_memory or folder is not None:
        target = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="ml-explore-"))
        toml = save_workspace(ws, target)
    else:
        toml = ws.config.path
    cmd, env = streamlit_command(toml, port=port, host=host, headless=True, extra=[])
    process = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
    return f"http://{host}:{port}", process


__all__ = [
    "frame_fingerprint",
    "save_workspace",
    "serve_workspace",
    "workspace_from_frames",
    "workspace_from_predictions",
]
