"""What is open: a model (or several versions), named datasets, and the roles of their columns.

``read_workspace(path)`` parses and validates ``workspace.toml`` (unknown keys are errors);
``open_workspace(config)`` loads models and datasets and validates them against each other;
``score(ws, dataset, model)`` computes predictions once, in batches, into a ``Scored`` object.
"""

from __future__ import annotations

import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore import errors
from explore.core import settings
from explore.core.loading import (
    LoadedModel,
    file_fingerprint,
    is_pickle_file,
    load_model,
    read_table,
    refuse_untrusted_pickle,
    refuse_untrusted_types,
)
from explore.core.model_facts import (
    CACHE_FOLDER,
    LoadedModels,
    ModelFacts,
    ModelHandle,
    ModelSet,
    read_facts,
    write_facts,
)
from explore.core.progress import Progress
from explore.core.timeparse import parse_time

TASKS = ("binary", "multiclass", "regression")
MAIN_MODEL = "current"
BATCH_ROWS = 200_000
# A classification label with more distinct numeric values than this is taken as regression
# when neither the workspace nor a model says which task it is.
MAX_CLASSES_INFERRED = 20

# ---- the workspace.toml schema: section -> key -> (expected python type(s), description) ---------
# README's "workspace.toml reference" is checked against this table by tests/test_docs.py.
MODEL_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "path": ((str,), "model file, relative to workspace.toml: .skops (safe, default) or .joblib/.pkl"),
    "trusted_types": ((list,), "skops type names you accept beyond skops' safe defaults"),
    "trust_pickle": ((bool,), "allow a .joblib/.pkl file (unpickling runs code: only for files you trust)"),
}
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], str]]] = {
    "model": MODEL_KEYS,
    "columns": {
        "label": ((str,), "label column (required)"),
        "time": ((str,), "timestamp column; enables time windows"),
        "id": ((str,), "unique row id; joins annotations and verdicts"),
        "positive": ((str, int, float, bool), "positive class of a binary task"),
        "task": ((str,), "binary | multiclass | regression (inferred when absent)"),
        "prediction": ((str,), "predictions already in the data (predictions-only mode)"),
        "score": ((str,), "positive-class score / probability already in the data"),
        "scores": ((dict,), "multiclass predictions-only: class -> probability column"),
        "features": (
            (list,),
            "model input columns (default: the model's feature_names_in_, else all non-role columns)",
        ),
    },
    "annotations": {
        "path": ((str,), "annotation file (CSV/Parquet), long format: one row per item x labeler"),
        "item": ((str,), "item id column; joins to [columns] id of `dataset`"),
        "labeler": ((str,), "labeler column"),
        "label": ((str,), "the labeler's label column"),
        "dataset": ((str,), "which dataset the items belong to (default: the first dataset)"),
        "batch": ((str,), "optional batch / timestamp column"),
    },
    "checks": {
        "thresholds": ((str,), "threshold file for model comparison (Checks page)"),
        "expectations": ((str,), "expectation suite file for data checks (Checks page)"),
        "key_examples": ((str,), "key examples file: inputs with expected outputs (Checks page)"),
        "banned_features": ((list,), "features the model must not use (e.g. sensitive attributes)"),
        "slices": ((list,), "columns whose groups every comparison reports"),
    },
}
SECTIONS = ("model", "models", "columns", "datasets", "annotations", "checks")
# A [datasets] entry is a path, or a table naming the dataset's role (see explore.core.roles).
DATASET_ROLES = ("train", "evaluation", "serving")
DATASET_ENTRY_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "path": (
        (str,),
        "the data file, relative to workspace.toml; Parquet also a folder or a glob (hive partitions)",
    ),
    "role": ((str,), "train, evaluation or serving"),
    "engine": (
        (str,),
        "auto (default: out of core above 2M rows) | pandas (in memory) | duckdb (out of core) | spark (a cluster)",
    ),
    "master": (
        (str,),
        'the Spark master URL with engine = "spark" (default local[*]; spark://host:7077, yarn, k8s://…)',
    ),
    "duckdb": ((str,), "a DuckDB database file holding the dataset as a table (with table = …)"),
    "table": ((str,), "the table of the duckdb database"),
}
_GLOB_CHARS = set("*?[")
_TYPE_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    trusted_types: tuple[str, ...] = ()
    trust_pickle: bool = False


@dataclass(frozen=True)
class ColumnRoles:
    label: str
    time: str | None = None
    id: str | None = None
    positive: Any = None
    task: str | None = None
    prediction: str | None = None
    score: str | None = None
    scores: Mapping[str, str] = field(default_factory=dict)
    features: tuple[str, ...] | None = None

    def role_columns(self) -> set[str]:
        """Columns that play a role and so are never model features by default."""
        named = {self.label, self.time, self.id, self.prediction, self.score, *self.scores.values()}
        return {c for c in named if c}


@dataclass(frozen=True)
class AnnotationSpec:
    path: Path
    item: str
    labeler: str
    label: str
    dataset: str
    batch: str | None = None


@dataclass(frozen=True)
class ChecksConfig:
    thresholds: Path | None = None
    expectations: Path | None = None
    key_examples: Path | None = None
    banned_features: tuple[str, ...] = ()
    slices: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkspaceConfig:
    path: Path  # the workspace.toml file
    models: dict[str, ModelSpec]
    datasets: dict[str, Path]
    columns: ColumnRoles
    annotations: AnnotationSpec | None = None
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    dataset_roles: dict[str, str] = field(default_factory=dict)  # dataset name -> train/evaluation/serving
    # Datasets read through explore.engine (Parquet folders/globs, DuckDB tables, an engine setting):
    # name -> explore.engine.EngineSource. config.datasets holds their path too (the glob / database file).
    engine_sources: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent


# ---- parsing ------------------------------------------------------------------------------------


def _bad_value(*, key: str, section: str, received: Any, fix: str) -> errors.WorkspaceError:
    """The error for a workspace.toml value of the right type that cannot be used: the key, its section, the
    value received and the fix."""
    return errors.WorkspaceError(
        errors.TOML_BAD_VALUE.format(key=key, section=section, received=received, fix=fix)
    )


def _check_keys(section: str, table: Any, schema: dict[str, tuple[tuple[type, ...], str]]) -> dict:
    if not isinstance(table, dict):
        raise errors.WorkspaceError(
            errors.TOML_WRONG_TYPE.format(key=section, section=section, expected="a table", received=table)
        )
    for key, value in table.items():
        if key not in schema:
            raise errors.WorkspaceError(
                errors.TOML_UNKNOWN_KEY.format(key=key, section=section, known=", ".join(schema))
            )
        types = schema[key][0]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok:
            expected = " or ".join(_TYPE_WORDS[t] for t in types)
            raise errors.WorkspaceError(
                errors.TOML_WRONG_TYPE.format(key=key, section=section, expected=expected, received=value)
            )
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise errors.WorkspaceError(
                errors.TOML_WRONG_TYPE.format(
                    key=key, section=section, expected="a list of strings", received=value
                )
            )
    return table


def resolved(path: Path, *, what: str, where: str) -> Path:
    """``path`` made absolute with its links followed; a symlink loop is a ``WorkspaceError`` that says so
    (``Path.resolve`` raises a bare ``RuntimeError`` for it)."""
    try:
        return path.expanduser().resolve()
    except RuntimeError:
        raise errors.WorkspaceError(errors.SYMLINK_LOOP.format(what=what, path=path, where=where)) from None
    except OSError as exc:
        raise errors.WorkspaceError(
            errors.FILE_UNREADABLE.format(what=what, path=path, reason=exc.strerror or exc, where=where)
        ) from None


def _model_spec(name: str, section: str, table: Any, root: Path) -> ModelSpec:
    table = _check_keys(section, table, MODEL_KEYS)
    if "path" not in table:
        raise errors.WorkspaceError(
            errors.TOML_MISSING_KEY.format(key="path", section=section, fix='Add path = "model.skops".')
        )
    return ModelSpec(
        name=name,
        path=resolved(root / table["path"], what="model", where=f"[{section}] path of workspace.toml"),
        trusted_types=tuple(table.get("trusted_types", ())),
        trust_pickle=bool(table.get("trust_pickle", False)),
    )


def _engine_source(name: str, entry: dict, root: Path) -> Any:
    """The ``explore.engine.EngineSource`` of a ``[datasets]`` table that names an engine or a DuckDB table."""
    section = f"datasets.{name}"
    engine = entry.get("engine")
    if engine is None and "duckdb" not in entry and "table" not in entry:
        if "master" in entry:
            raise _bad_value(
                key="master",
                section=section,
                received=entry["master"],
                fix='a master URL is for the Spark engine: add engine = "spark", or remove master.',
            )
        return None
    from explore.engine.source import ENGINES, EngineSource

    if engine is not None and engine not in ENGINES:
        raise _bad_value(
            key="engine", section=section, received=engine, fix=f"use one of: {', '.join(ENGINES)}."
        )
    if ("duckdb" in entry) != ("table" in entry):
        missing = "table" if "duckdb" in entry else "duckdb"
        raise errors.WorkspaceError(
            errors.TOML_MISSING_KEY.format(
                key=missing,
                section=section,
                fix=f'A DuckDB dataset names the file and its table: {name} = {{ duckdb = "logs.duckdb", table = "preds" }}.',
            )
        )
    if "duckdb" in entry:
        if "path" in entry:
            raise _bad_value(
                key="path",
                section=section,
                received=entry["path"],
                fix="a dataset is either a path or a duckdb database with a table, not both: remove one.",
            )
        return EngineSource((root / entry["duckdb"]).resolve(), table=entry["table"], engine=engine or "auto")
    if not isinstance(entry.get("path"), str):
        return None  # the caller says path is missing
    if "master" in entry and engine != "spark":
        raise _bad_value(
            key="master",
            section=section,
            received=entry["master"],
            fix='a master URL is for the Spark engine: set engine = "spark", or remove master.',
        )
    master = entry.get("master", "local[*]")
    if (
        "://" in entry["path"] and engine == "spark"
    ):  # a data lake path (s3a://, hdfs://, abfss://): as written
        return EngineSource(entry["path"], engine=engine, master=master)
    return EngineSource((root / entry["path"]).resolve(), engine=engine or "auto", master=master)


def parse_workspace(data: dict, path: Path) -> WorkspaceConfig:
    """Validate a parsed workspace.toml mapping; ``path`` is where it lives (paths are relative to it)."""
    root = path.parent
    for section in data:
        if section not in SECTIONS:
            raise errors.WorkspaceError(
                errors.TOML_UNKNOWN_SECTION.format(section=section, known=", ".join(SECTIONS))
            )
    models: dict[str, ModelSpec] = {}
    if "model" in data:
        models[MAIN_MODEL] = _model_spec(MAIN_MODEL, "model", data["model"], root)
    extra = data.get("models", {})
    if not isinstance(extra, dict):
        raise errors.WorkspaceError(
            errors.TOML_WRONG_TYPE.format(key="models", section="models", expected="a table", received=extra)
        )
    for name, table in extra.items():
        if name == MAIN_MODEL:
            raise _bad_value(
                key=name,
                section="models",
                received=name,
                fix=f"'{MAIN_MODEL}' is the name of [model]; pick another name.",
            )
        models[name] = _model_spec(name, f"models.{name}", table, root)

    cols = _check_keys("columns", data.get("columns", {}), SCHEMA["columns"])
    if "label" not in cols:
        raise errors.WorkspaceError(
            errors.TOML_MISSING_KEY.format(
                key="label", section="columns", fix='Add label = "<your label column>".'
            )
        )
    task = cols.get("task")
    if task is not None and task not in TASKS:
        raise _bad_value(
            key="task", section="columns", received=task, fix="use binary, multiclass or regression."
        )
    scores = cols.get("scores", {})
    if not all(isinstance(v, str) for v in scores.values()):
        raise errors.WorkspaceError(
            errors.TOML_WRONG_TYPE.format(
                key="scores", section="columns", expected='a table of class = "column"', received=scores
            )
        )
    columns = ColumnRoles(
        label=cols["label"],
        time=cols.get("time"),
        id=cols.get("id"),
        positive=cols.get("positive"),
        task=task,
        prediction=cols.get("prediction"),
        score=cols.get("score"),
        scores=dict(scores),
        features=tuple(cols["features"]) if "features" in cols else None,
    )
    if not models and not (columns.prediction or columns.score or columns.scores):
        raise errors.WorkspaceError(
            "workspace.toml has neither a [model] nor prediction columns. Add a [model] section with the model file, "
            'or name the predictions already in the data with [columns] prediction = "..." (and score = "...").'
        )

    ds = data.get("datasets")
    if not ds:
        raise errors.WorkspaceError(errors.TOML_NO_DATASETS)
    if not isinstance(ds, dict):
        raise errors.WorkspaceError(
            errors.TOML_WRONG_TYPE.format(key="datasets", section="datasets", expected="a table", received=ds)
        )
    datasets: dict[str, Path] = {}
    dataset_roles: dict[str, str] = {}
    engine_sources: dict[str, Any] = {}
    for name, value in ds.items():
        if isinstance(value, dict):  # name = { path = "…", role = "train" | "evaluation" | "serving" }
            entry = _check_keys(f"datasets.{name}", value, DATASET_ENTRY_KEYS)
            source = _engine_source(name, entry, root)
            if source is not None:
                engine_sources[name] = source
                entry = {**entry, "path": str(source.path)}
            if not isinstance(entry.get("path"), str):
                raise errors.WorkspaceError(
                    errors.TOML_MISSING_KEY.format(
                        key="path",
                        section=f"datasets.{name}",
                        fix=f'Write {name} = {{ path = "data.csv", role = "evaluation" }} or {name} = "data.csv".',
                    )
                )
            role = entry.get("role")
            if role is not None:
                if role not in DATASET_ROLES:
                    raise _bad_value(
                        key="role",
                        section=f"datasets.{name}",
                        received=role,
                        fix=f"use one of: {', '.join(DATASET_ROLES)}.",
                    )
                dataset_roles[name] = role
            value = entry["path"]
        if not isinstance(value, str):
            raise errors.WorkspaceError(
                errors.TOML_WRONG_TYPE.format(
                    key=name, section="datasets", expected="a file path string", received=value
                )
            )
        if _GLOB_CHARS & set(value):  # a glob of Parquet files: the pattern is resolved lexically
            datasets[name] = (root / value).resolve()
        else:
            datasets[name] = resolved(root / value, what="data", where=f"[datasets] {name} of workspace.toml")
        if name not in engine_sources and (_GLOB_CHARS & set(value) or datasets[name].is_dir()):
            from explore.engine.source import EngineSource

            engine_sources[name] = EngineSource(datasets[name])

    annotations = None
    if "annotations" in data:
        a = _check_keys("annotations", data["annotations"], SCHEMA["annotations"])
        for key in ("path", "item", "labeler", "label"):
            if key not in a:
                raise errors.WorkspaceError(
                    errors.TOML_MISSING_KEY.format(
                        key=key, section="annotations", fix="See the workspace.toml reference in README."
                    )
                )
        dataset = a.get("dataset", next(iter(datasets)))
        if dataset not in datasets:
            raise _bad_value(
                key="dataset",
                section="annotations",
                received=dataset,
                fix=f"use one of the datasets: {', '.join(datasets)}.",
            )
        annotations = AnnotationSpec(
            path=resolved(root / a["path"], what="annotations", where="[annotations] path of workspace.toml"),
            item=a["item"],
            labeler=a["labeler"],
            label=a["label"],
            dataset=dataset,
            batch=a.get("batch"),
        )

    checks = ChecksConfig()
    if "checks" in data:
        c = _check_keys("checks", data["checks"], SCHEMA["checks"])

        def checks_file(key: str) -> Path | None:
            if key not in c:
                return None
            return resolved(
                root / c[key], what=key.replace("_", " "), where=f"[checks] {key} of workspace.toml"
            )

        checks = ChecksConfig(
            thresholds=checks_file("thresholds"),
            expectations=checks_file("expectations"),
            key_examples=checks_file("key_examples"),
            banned_features=tuple(c.get("banned_features", ())),
            slices=tuple(c.get("slices", ())),
        )
    return WorkspaceConfig(
        path=path,
        models=models,
        datasets=datasets,
        columns=columns,
        annotations=annotations,
        checks=checks,
        dataset_roles=dataset_roles,
        engine_sources=engine_sources,
    )


def read_workspace(path: Path | str) -> WorkspaceConfig:
    """Read and validate a workspace.toml file."""
    path = resolved(Path(path), what="workspace", where="the command line or EXPLORE_WORKSPACE")
    if path.is_dir():
        path = path / "workspace.toml"
    if not path.exists():
        raise errors.WorkspaceError(
            errors.FILE_NOT_FOUND.format(
                what="workspace", path=path, where="the command line or EXPLORE_WORKSPACE"
            )
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        if path.suffix.lower() != ".toml":  # a data or model file passed where the workspace is expected
            raise errors.WorkspaceError(
                errors.NOT_A_WORKSPACE.format(path=path, suffix=path.suffix)
            ) from None
        reason = f"not UTF-8 text ({exc.reason})" if isinstance(exc, UnicodeDecodeError) else exc
        raise errors.WorkspaceError(errors.TOML_SYNTAX.format(path=path, reason=reason)) from None
    return parse_workspace(data, path)


# ---- the open workspace -------------------------------------------------------------------------


def _text_key(value: Any) -> str:
    """``value`` as text, integral floats without their ``.0`` (a label column with a gap is read as floats)."""
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _match_value(value: Any, candidates: np.ndarray) -> Any:
    """Return the candidate equal to ``value``, comparing as text when types differ (TOML "1" vs int 1 vs 1.0)."""
    for c in candidates:
        if c == value:
            return c
    key = _text_key(value)
    for c in candidates:
        if _text_key(c) == key:
            return c
    return None


def _check_numeric_scores(
    values: pd.Series, *, role: str, column: str, dataset: str, meaning: str = "a probability or score"
) -> None:
    """Raise ``DataError`` when a score (or regression prediction) column holds values that are not numbers
    (``"high"``)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return
    bad = values.notna() & pd.to_numeric(values, errors="coerce").isna()
    if bad.any() or pd.api.types.is_bool_dtype(values.dtype):
        examples = values[bad].unique() if bad.any() else values.dropna().unique()
        raise errors.DataError(
            errors.SCORE_NOT_NUMERIC.format(
                role=role,
                meaning=meaning,
                column=column,
                dataset=dataset,
                n_bad=int(bad.sum()) if bad.any() else int(values.notna().sum()),
                n=len(values),
                examples=errors.shown(examples, 3),
            )
        )


def _scores_array(values: pd.Series) -> np.ndarray:
    """A score column (checked by ``_check_numeric_scores``: numbers, or text that reads as numbers) as float64."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _is_regression_label(y: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        return False
    v = y.dropna().to_numpy(dtype="float64")
    v = v[np.isfinite(v)]  # an inf label is refused later with its own message; np.mod(inf, 1) is NaN
    if v.size and np.any(np.mod(v, 1) != 0):
        return True
    return len(np.unique(v)) > MAX_CLASSES_INFERRED


class Workspace:
    """An opened workspace. Treat as read-only: it is shared between reruns and sessions."""

    def __init__(
        self,
        config: WorkspaceConfig,
        loaded: Mapping[str, LoadedModel | ModelHandle],
        frames: dict[str, pd.DataFrame],
        samples: dict[str, Any] | None = None,
        *,
        annotation_frame: pd.DataFrame | None = None,
        content_key: str = "",
    ) -> None:
        """``loaded``: model name -> a loaded model, or a ``ModelHandle`` whose facts are known and whose estimator
        is loaded on first use (``open_workspace``). ``annotation_frame`` and ``content_key``: a workspace built
        from objects in memory (see ``from_frames``) keeps its annotations itself and is identified by its
        contents, not by files."""
        self.config = config
        # Datasets that stay in the engine: name -> explore.engine.sample.LazySample, their rows (a sample) drawn
        # the first time ``dataset(name)`` is asked for; validation at open reads its probe instead.
        self.samples: dict[str, Any] = samples or {}
        self._draw_lock = threading.Lock()
        self._handles: dict[str, ModelHandle] = {
            k: v if isinstance(v, ModelHandle) else ModelHandle.of(k, v) for k, v in loaded.items()
        }
        # name -> LoadedModel / estimator; looking one up loads its file if nothing did yet (names cost nothing).
        self.loaded_models: Mapping[str, LoadedModel] = LoadedModels(self._handles)
        self.models: Mapping[str, Any] = ModelSet(self._handles)
        self._frames = frames
        self._annotation_frame = annotation_frame
        self._content_key = content_key
        self.warnings: list[str] = []
        self.times: dict[str, pd.Series] = _Times(self)
        self._validate()

    # -- identity
    @cached_property
    def key(self) -> str:
        """A string that changes whenever the workspace file, a model or a dataset changes (cache key)."""
        if self._content_key:
            return self._content_key
        files = [
            self.config.path,
            *self.config.datasets.values(),
            *(f for name in self.config.engine_sources for f in self._engine_files(name)),
            *(m.path for m in self.config.models.values()),
        ]
        if self.config.annotations:
            files.append(self.config.annotations.path)
        parts = [f"{p}:{p.stat().st_mtime_ns}:{p.stat().st_size}" for p in files if p.exists()]
        return "|".join(parts)

    @property
    def name(self) -> str:
        return self.config.root.name

    def __repr__(self) -> str:
        """What a notebook shows of it: name, file, task, models and datasets (nothing is loaded or drawn)."""
        where = "in memory" if self.in_memory else str(self.config.path)
        models = ", ".join(self.config.models) or "none (predictions only)"
        return (
            f"<Workspace {self.name!r} ({where}): {getattr(self, 'task', '?')}; models {models}; "
            f"datasets {', '.join(self.dataset_names)}>"
        )

    @property
    def in_memory(self) -> bool:
        """Built from objects in memory (``from_frames``): no files behind it until ``save``."""
        return bool(self._content_key)

    # -- building, saving and serving from Python (explore.core.frames does the work)
    @classmethod
    def from_frames(cls, **kwargs: Any) -> Workspace:
        """A workspace from a fitted model and DataFrames, with the validation of a workspace.toml.

        See ``explore.core.frames.workspace_from_frames`` for the keyword arguments.
        """
        from explore.core.frames import workspace_from_frames

        return workspace_from_frames(**kwargs)

    @classmethod
    def from_predictions(
        cls, y_true: Any, y_pred: Any = None, scores: Any = None, **kwargs: Any
    ) -> Workspace:
        """A predictions-only workspace of one dataset from arrays (``y_true``, ``y_pred``, ``scores``).

        See ``explore.core.frames.workspace_from_predictions`` for the keyword arguments.
        """
        from explore.core.frames import workspace_from_predictions

        return workspace_from_predictions(y_true, y_pred, scores, **kwargs)

    def save(self, folder: str | Path) -> Path:
        """Write workspace.toml, the datasets (Parquet) and the models (skops) into ``folder``; return the toml.

        ``explore run <folder>`` (or ``ws.serve()``) opens it in the app.
        """
        from explore.core.frames import save_workspace

        return save_workspace(self, folder)

    def serve(self, *, folder: str | Path | None = None, port: int = 8501, host: str = "localhost") -> Any:
        """Start the app on this workspace in a subprocess; see ``explore.core.frames.serve_workspace``."""
        from explore.core.frames import serve_workspace

        return serve_workspace(self, folder=folder, port=port, host=host)

    def annotation_table(self) -> pd.DataFrame | None:
        """The raw annotations (long format): kept in memory, else read from ``[annotations] path``."""
        if self._annotation_frame is not None:
            return self._annotation_frame
        if self.config.annotations is None:
            return None
        from explore.core.loading import read_table

        return read_table(self.config.annotations.path, where="workspace.toml [annotations] path")

    @property
    def dataset_names(self) -> list[str]:
        return list(self.config.datasets)

    @property
    def model_names(self) -> list[str]:
        return list(self.models)

    @property
    def columns(self) -> ColumnRoles:
        return self.config.columns

    def dataset(self, name: str) -> pd.DataFrame:
        """The dataset as read from its file (shared: never mutate it); an out-of-core dataset's sample, drawn
        (or read back from where it is kept) the first time it is asked for and then checked as the workspace's
        datasets are at open."""
        if name in self.samples and name not in self._frames:
            with self._draw_lock:
                if name not in self._frames:
                    df = self.samples[name].get()[0]
                    self._check_frame(name, df, keep_times=True)
                    self._check_features(name, df)
                    self._frames[name] = df
        if name not in self._frames:
            raise errors.WorkspaceError(
                f"There is no dataset named '{name}'. Datasets in this workspace: {', '.join(self.dataset_names)}."
            )
        return self._frames[name]

    def _label_values(self, column: str | None = None) -> pd.Series:
        """Every dataset's values of the label (or ``column``: the prediction) that the task and the classes are
        inferred from: an in-memory frame's column, an out-of-core dataset's distinct values read at open (its
        probe: not only its first rows)."""
        column = column or self.config.columns.label
        parts = []
        for name, df in self._open_frames().items():
            probe = self.samples[name].probe if name in self.samples and name not in self._frames else None
            values = None
            if probe is not None:
                values = (
                    probe.label_values if column == self.config.columns.label else probe.prediction_values
                )
            parts.append(values if values is not None else df[column])
        return pd.concat(parts, ignore_index=True)

    def _open_frames(self) -> dict[str, pd.DataFrame]:
        """The rows validation reads at open: each dataset's frame, or an out-of-core dataset's probe (its first
        rows and a row of each label and predicted value: ``explore.engine.sample.probe_rows``)."""
        return {
            name: self._frames[name] if name in self._frames else self.samples[name].probe.frame
            for name in [*self.dataset_names, *self._frames]
            if name in self._frames or name in self.samples
        }

    def is_out_of_core(self, name: str) -> bool:
        """True when ``dataset(name)`` is an engine-drawn sample and the whole dataset is ``log(name)``."""
        return name in self.samples

    def log(self, name: str) -> Any:
        """The whole dataset as an ``explore.engine.LogTable`` (DuckDB, or Spark with ``engine = "spark"``), with this
        workspace's task and classes."""
        from explore.engine.log import open_log
        from explore.engine.source import open_source

        if name not in self.config.engine_sources:
            raise errors.WorkspaceError(
                f"Dataset '{name}' is read into memory, not through the engine. Give it "
                f'{name} = {{ path = "…parquet", engine = "duckdb" }} in workspace.toml [datasets] to use the engine.'
            )
        source = self.config.engine_sources[name]
        con = open_source(source, where=f"workspace.toml [datasets] {name}")
        positive = None if self.positive_index is None else self.classes[self.positive_index]
        files = None if source.is_duckdb_table else _source_files(source)  # footers answer some questions
        return open_log(
            con,
            self.columns,
            name=name,
            task=self.task,
            classes=self.classes,
            positive=positive,
            parquet_files=files or None,
        )

    def model(self, name: str = MAIN_MODEL) -> Any:
        if name not in self.models:
            known = ", ".join(self.models) or "none (predictions-only mode)"
            raise errors.WorkspaceError(
                f"There is no model named '{name}'. Models in this workspace: {known}."
            )
        return self.models[name]

    def model_fingerprint(self, name: str = MAIN_MODEL) -> str:
        return self._handles[name].fingerprint if name in self._handles else "predictions-only"

    def model_facts(self, name: str = MAIN_MODEL) -> ModelFacts:
        """What the workspace knows of model ``name`` without loading it: its inputs, classes, methods, kind."""
        if name not in self._handles:
            self.model(name)  # the message naming the models there are
        return self._handles[name].facts

    def model_file(self, name: str = MAIN_MODEL) -> Path:
        """The file model ``name`` is (or will be) loaded from."""
        if name not in self._handles:
            self.model(name)
        return self._handles[name].path

    def data_fingerprint(self, dataset: str) -> str:
        if self.in_memory:
            from explore.core.frames import frame_fingerprint

            return frame_fingerprint(self.dataset(dataset))
        if dataset in self.config.engine_sources:
            return _engine_version(self.config.engine_sources[dataset]) or "no-local-files"
        return file_fingerprint(self.config.datasets[dataset])

    def engine_version(self, dataset: str) -> str | None:
        """The version of an out-of-core dataset's rows as kept results are keyed (``_engine_version``): None
        when its files are not on this machine (a data lake): nothing is kept for it then."""
        return _engine_version(self.config.engine_sources[dataset])

    def _engine_files(self, dataset: str) -> list[Path]:
        return _source_files(self.config.engine_sources[dataset])

    @property
    def is_classification(self) -> bool:
        return self.task != "regression"

    # -- validation, done once at open
    def _validate(self) -> None:
        cols = self.config.columns
        for name, df in self._open_frames().items():
            self._check_frame(name, df, keep_times=name not in self.samples)

        handle = self._handles.get(MAIN_MODEL) or next(iter(self._handles.values()), None)
        main = handle.facts if handle is not None else None
        self.feature_names = self._features(main)
        for name, df in self._open_frames().items():
            self._check_features(name, df)

        self.task = self._task(main)
        self.classes: np.ndarray | None = None
        self.positive: Any = None
        if self.task != "regression":
            self._classes(main)
        else:
            self._check_regression()
            if cols.prediction and not self.models:
                for name, df in self._open_frames().items():
                    _check_numeric_scores(
                        df[cols.prediction],
                        role="prediction",
                        column=cols.prediction,
                        dataset=name,
                        meaning="the predicted value of a regression",
                    )

    def _check_frame(self, name: str, df: pd.DataFrame, *, keep_times: bool) -> None:
        """The checks of one dataset's rows: label, id, time, prediction and score columns (``keep_times``: its
        parsed times go to ``times``)."""
        cols = self.config.columns
        label = cols.label
        if label not in df.columns:
            raise errors.LabelError(
                errors.LABEL_MISSING.format(
                    label=label, dataset=name, columns=", ".join(map(str, df.columns[:30]))
                )
            )
        if df[label].notna().sum() == 0:
            raise errors.LabelError(errors.LABEL_ALL_NAN.format(label=label, dataset=name, n=len(df)))
        if cols.id:
            if cols.id not in df.columns:
                raise errors.ColumnError(
                    f"The id column '{cols.id}' is not in dataset '{name}'. Set [columns] id to one of: {', '.join(map(str, df.columns[:30]))}, or remove it."
                )
            missing_id = df[cols.id].isna().to_numpy()
            if missing_id.sum() > 1:
                # Rows without an id cannot be told apart (verdicts and annotations join by id).
                rows = np.flatnonzero(missing_id)
                shown = ", ".join(str(int(r)) for r in rows[:5]) + (" …" if len(rows) > 5 else "")
                raise errors.DataError(
                    f"The id column '{cols.id}' of dataset '{name}' is empty on {len(rows)} rows (row positions "
                    f"{shown}). Ids must be present and unique to join annotations and verdicts: fill them in, "
                    "or choose another id column."
                )
            ids = df[cols.id]
            # is_unique first: half the time of duplicated() on a million ids, and nearly always true.
            dup = ids.iloc[:0] if ids.is_unique else ids[ids.duplicated(keep=False)]
            if len(dup):
                raise errors.DataError(
                    errors.DUPLICATE_IDS.format(
                        id=cols.id,
                        dataset=name,
                        n_dup=int(dup.nunique()),
                        examples=errors.shown(dup.unique(), 3),
                    )
                )
        if cols.time:
            if cols.time not in df.columns:
                raise errors.TimeColumnError(
                    errors.TIME_MISSING.format(
                        time=cols.time, dataset=name, columns=", ".join(map(str, df.columns[:30]))
                    )
                )
            parsed = parse_time(df[cols.time], column=cols.time, dataset=name)
            if keep_times:
                dict.__setitem__(self.times, name, parsed)
        for role in ("prediction", "score"):
            c = getattr(cols, role)
            if c and c not in df.columns:
                raise errors.ColumnError(
                    f"The {role} column '{c}' named in [columns] is not in dataset '{name}'."
                )
        for klass, c in cols.scores.items():
            if c not in df.columns:
                raise errors.ColumnError(
                    f"The score column '{c}' for class {klass!r} named in [columns] scores is not in dataset '{name}'."
                )
        for role, c in [("score", cols.score), *(("scores", c) for c in cols.scores.values())]:
            if c:
                _check_numeric_scores(df[c], role=role, column=c, dataset=name)

    def _check_features(self, name: str, df: pd.DataFrame) -> None:
        """The model's inputs are columns of ``df``, and none holds inf."""
        if self.models:
            missing = [f for f in self.feature_names if f not in df.columns]
            if missing:
                raise errors.ColumnError(
                    errors.MODEL_MISSING_COLUMNS.format(
                        n_expected=len(self.feature_names),
                        dataset=name,
                        n_missing=len(missing),
                        missing=", ".join(repr(m) for m in missing[:20])
                        + (" …" if len(missing) > 20 else ""),
                    )
                )
        num = df[[f for f in self.feature_names if f in df.columns]].select_dtypes(include="number")
        # Column by column, integers skipped (they cannot hold inf): no float copy of the whole table.
        infinite = {
            c: int(np.isinf(num[c].to_numpy(dtype="float64", na_value=np.nan)).sum())
            for c in num.columns
            if not pd.api.types.is_integer_dtype(num[c].dtype)
        }
        if any(infinite.values()):
            named = ", ".join(f"'{c}' ({n} rows)" for c, n in infinite.items() if n)
            raise errors.DataError(errors.INF_VALUES.format(dataset=name, columns=named))

    def _check_regression(self) -> None:
        """A regression workspace needs numeric labels and models that predict numbers, not classes."""
        cols = self.config.columns
        for name, handle in self._handles.items():
            classes = handle.facts.classes
            if classes is not None:
                raise errors.LabelError(
                    f"task = \"regression\" but model '{name}' is a classifier (classes: {errors.shown(np.asarray(classes), 10)}). "
                    'Set task = "binary" or "multiclass" in [columns] (or remove task: it is inferred from the model).'
                )
        for name, df in self._open_frames().items():
            y = df[cols.label].dropna()
            bad = y[pd.to_numeric(y, errors="coerce").isna()]
            if len(bad) > 0.01 * len(y):
                raise errors.LabelError(
                    f"The label column '{cols.label}' of dataset '{name}' is a regression target but holds text on "
                    f"{len(bad):,} of {len(y):,} rows (e.g. {errors.shown(bad.unique(), 3)}). "
                    'Fix the label column, or set [columns] task = "binary" / "multiclass" if it names classes.'
                )

    def _features(self, model: ModelFacts | None) -> list[str]:
        cols = self.config.columns
        if cols.features is not None:
            return list(cols.features)
        if model is not None and model.feature_names_in is not None:
            return list(model.feature_names_in)
        first = next(iter(self._open_frames().values()))
        roles = cols.role_columns()
        feats = [c for c in first.columns if c not in roles]
        n_in = model.n_features_in if model is not None else None
        if n_in is not None and n_in != len(feats):
            raise errors.ColumnError(
                f"The model was fitted on {n_in} unnamed columns, but the data has {len(feats)} non-role columns. "
                "Name the model's inputs in order with [columns] features = [...]."
            )
        return feats

    def _task(self, model: ModelFacts | None) -> str:
        cols = self.config.columns
        if cols.task:
            return cols.task
        if model is not None:
            # An in-house wrapper without scikit-learn's tags is neither: decided from classes_ and the label.
            if model.is_regressor:
                return "regression"
            classes = model.classes
            if model.is_classifier or classes is not None:
                return "binary" if classes is not None and len(classes) == 2 else "multiclass"
            # An estimator without a declared type (e.g. a third-party wrapper): fall through to the label.
        labels = self._label_values()
        if _is_regression_label(labels):
            return "regression"
        return "binary" if labels.nunique(dropna=True) <= 2 else "multiclass"

    def _unknown_labels_message(self, unknown: list[Any], classes: np.ndarray) -> str:
        """What is wrong with label values the model never saw: where they are, the ones that are a class
        written differently (spaces around it, a trailing '.', another case — Adult's test file writes
        '>50K.'), and the fix."""
        label = self.config.columns.label
        where = [
            name
            for name, df in self._open_frames().items()
            if label in df.columns and df[label].isin(unknown).any()
        ]
        near = []
        for v in unknown:
            if not isinstance(v, str):
                continue
            for how, fixed in (
                ("with spaces around it", v.strip()),
                ("with a trailing '.'", v.strip().rstrip(".")),
                ("in another case", v.strip().rstrip(".").casefold()),
            ):
                hit = next((c for c in classes if str(c) == fixed or str(c).casefold() == fixed), None)
                if hit is not None:
                    near.append(f"{v!r} is {str(hit)!r} {how}")
                    break
        if near:
            chain = ".str.strip()" + (".str.rstrip('.')" if any("trailing" in n for n in near) else "")
            fix = (
                f"These look like a class written differently: {'; '.join(near[:6])}. Rewrite them as the class in "
                f"the data file (in pandas, e.g. df[{label!r}] = df[{label!r}]{chain}), "
                "or check that [columns] label names the label column."
            )
        else:
            fix = (
                "The model cannot predict these, so every such row would count as wrong: leave these rows out of "
                "the data file, relabel them to the model's classes, or refit the model on data that has them; "
                "or check that [columns] label names the label column."
            )
        return (
            f"The label column '{label}' has values the model never saw: {errors.shown(unknown)}"
            + (f" (in dataset{'s' if len(where) > 1 else ''} {', '.join(map(repr, where))})" if where else "")
            + f". The model's classes are {errors.shown(classes, 20)}. {fix}"
        )

    def _classes(self, model: ModelFacts | None) -> None:
        cols = self.config.columns
        labels = self._label_values().dropna()
        seen = pd.unique(labels)
        model_classes = model.classes if model is not None else None
        if model_classes is not None:
            classes = np.asarray(model_classes)
            unknown = [v for v in seen if _match_value(v, classes) is None]
            if unknown:
                raise errors.LabelError(self._unknown_labels_message(unknown, classes))
        else:
            values = list(seen)
            extra = []
            if cols.prediction:
                extra.extend(pd.unique(self._label_values(cols.prediction).dropna()))
            if cols.scores:
                extra.extend(cols.scores)  # TOML keys are always text: "1" names the label 1
            for v in extra:
                # A predicted class or a scores key that names a label (as text: 1 / "1" / 1.0) is that label.
                if _match_value(v, np.asarray(values, dtype=object)) is None:
                    values.append(v)
            try:
                ordered = sorted(set(values))
            except TypeError:  # mixed types: sort by text
                ordered = sorted(set(values), key=str)
            classes = np.asarray(ordered)
            if (
                classes.dtype.kind == "U"
            ):  # text (or text and numbers) as objects: str arrays drop trailing NULs
                classes = np.asarray(ordered, dtype=object)
        if len(pd.unique(labels)) < 2:
            raise errors.LabelError(
                errors.LABEL_ONE_CLASS.format(
                    label=cols.label, dataset=", ".join(self._open_frames()), value=errors.shown(seen[:1])
                )
            )
        for name, df in self._open_frames().items():
            if df[cols.label].nunique(dropna=True) < 2:
                self.warnings.append(
                    f"Dataset '{name}' has a single class in '{cols.label}': ROC AUC and other two-class metrics are unavailable on it."
                )
        self.classes = classes
        if self.task == "binary":
            if len(classes) != 2:
                raise errors.LabelError(
                    f'task = "binary" but there are {len(classes)} classes: {errors.shown(classes)}. '
                    'Set task = "multiclass", or fix the label column.'
                )
            if cols.positive is not None:
                pos = _match_value(cols.positive, classes)
                if pos is None:
                    raise errors.LabelError(
                        errors.POSITIVE_NOT_IN_LABELS.format(
                            positive=cols.positive, label=cols.label, found=errors.shown(classes, 20)
                        )
                    )
                self.positive = pos
            else:
                self.positive = classes[1]

    @property
    def positive_index(self) -> int | None:
        if self.positive is None or self.classes is None:
            return None
        return int(np.flatnonzero(self.classes == self.positive)[0])

    def summary(self) -> dict[str, Any]:
        """Model type, task, datasets and column roles, for the home page."""
        return {
            "models": {k: h.facts.description for k, h in self._handles.items()},
            "task": self.task,
            "classes": None if self.classes is None else self.classes.tolist(),
            "positive": self.positive,
            "features": self.feature_names,
            "datasets": {
                k: {"rows": self.samples[k].total if k in self.samples else len(v), "columns": v.shape[1]}
                for k, v in self._open_frames().items()
            },
        }


class _Times(dict):
    """``Workspace.times``: dataset -> its parsed time column; an out-of-core dataset's (the rows of its sample)
    parsed when first asked for, drawing the sample then (``name in times`` does not draw it)."""

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self._ws = ws

    def _lazy(self, name: object) -> bool:
        return bool(self._ws.columns.time) and name in self._ws.samples

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or self._lazy(name)

    def __missing__(self, name: str) -> pd.Series:
        if not self._lazy(name):
            raise KeyError(name)
        self._ws.dataset(name)  # draws the sample and parses its times into this dict
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self.__getitem__(name) if self.__contains__(name) else default


def _source_files(source: Any) -> list[Path]:
    """The files of an engine source (``explore.engine.source.EngineSource``): its Parquet files, or the DuckDB
    database file."""
    if source.is_duckdb_table:
        return [Path(source.path)]
    import glob

    return [Path(f) for f in sorted(glob.glob(source.pattern, recursive=True))]


def _stat_fingerprint(files: list[Path]) -> str:
    """A short hash of many files' paths, sizes and modification times (reading 100M rows to hash them is not an option)."""
    import hashlib

    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _engine_version(source: Any) -> str | None:
    """What kept results of an engine source (its sample, its overall metrics, its predictions) are valid for: the
    source itself — path, DuckDB table, engine — and its files' paths, sizes and modification times; two tables
    of one DuckDB file, or two sources over the same files, never share them. None when no file is on this
    machine (a data-lake path, or a glob matching nothing): nothing is kept, since nothing can tell a change."""
    import hashlib

    files = _source_files(source)
    if not files:
        return None
    who = repr((str(source.path), source.table, source.engine, source.master))
    return hashlib.sha256(f"{who}|{_stat_fingerprint(files)}".encode()).hexdigest()[:16]


def open_workspace(
    config: WorkspaceConfig,
    *,
    accepted_types: Mapping[str, list[str]] | None = None,
    trusted_pickles: set[str] | frozenset[str] = frozenset(),
    progress: Progress | None = None,
) -> Workspace:
    """Open the models and read the datasets of ``config``, and validate them against each other.

    A model file is loaded when something first needs its estimator; what the workspace needs to know of it
    (inputs, task, classes) comes from the facts a previous start kept beside the workspace (see
    ``explore.core.model_facts``), else from loading it now. Trust is asked first either way.
    ``accepted_types[model_name]``: skops types accepted in the UI on top of ``trusted_types``;
    ``trusted_pickles``: model names whose pickle the user trusts in the UI.
    """
    accepted_types = accepted_types or {}
    steps = len(config.models) + len(config.datasets)
    done = 0
    loaded: dict[str, ModelHandle] = {}
    for name, spec in config.models.items():
        if progress:
            progress(done / max(steps, 1), f"Opening model '{name}'")
        try:
            loaded[name] = _open_model(
                config.root,
                spec,
                trusted_types=(*spec.trusted_types, *accepted_types.get(name, [])),
                trust_pickle=spec.trust_pickle or name in trusted_pickles,
            )
        except errors.ModelError as exc:
            exc.with_fields(model_name=name)  # the Workspace page asks for trust per model
            raise
        done += 1
    frames: dict[str, pd.DataFrame] = {}
    samples: dict[str, Any] = {}
    for name, path in config.datasets.items():
        if progress:
            progress(done / max(steps, 1), f"Reading dataset '{name}'")
        if name in config.engine_sources:
            frame, sample = _read_engine_dataset(config, name)
            if sample is not None:
                samples[name] = sample  # drawn when a row-level view first asks (Workspace.dataset)
            else:
                frames[name] = frame
        else:
            frames[name] = read_table(path, where=f"workspace.toml [datasets] {name}")
        done += 1
    if progress:
        progress(1.0, "Validating")
    return Workspace(config, loaded, frames, samples)


def _open_model(
    root: Path, spec: ModelSpec, *, trusted_types: tuple[str, ...], trust_pickle: bool
) -> ModelHandle:
    """Model ``spec`` of the workspace at ``root``: its facts kept beside the workspace with the estimator left
    unloaded, or (no facts yet for this file) loaded now and its facts kept for the next start.

    Nothing of the file runs before trust: a pickle not trusted is refused before the file is read, and the
    types skops does not trust (listed in the facts, or read from the file by ``load_model``) must be accepted."""
    where = "[model] path" if spec.name == MAIN_MODEL else f"[models.{spec.name}] path"
    if not spec.path.exists():
        raise errors.ModelError(
            errors.FILE_NOT_FOUND.format(what="model", path=spec.path, where=f"workspace.toml {where}")
        )
    refuse_untrusted_pickle(spec.path, trust_pickle=trust_pickle)

    def load() -> LoadedModel:
        return load_model(spec.path, trusted_types=list(trusted_types), trust_pickle=trust_pickle)

    facts = None
    fingerprint = None
    if spec.path.is_file() and spec.path.stat().st_size:  # else load_model says what is wrong with it
        fingerprint = file_fingerprint(spec.path)
        facts = read_facts(root, fingerprint)
    if facts is not None and facts.kind == ("pickle" if is_pickle_file(spec.path) else "skops"):
        refuse_untrusted_types(spec.path, facts.untrusted_types, trusted_types)
        return ModelHandle(spec.name, path=spec.path, fingerprint=fingerprint, facts=facts, loader=load)
    handle = ModelHandle.of(spec.name, load())
    write_facts(root, handle.fingerprint, handle.facts)
    return handle


def _read_engine_dataset(config: WorkspaceConfig, name: str) -> tuple[pd.DataFrame | None, Any]:
    """A Parquet folder / glob / DuckDB table: read whole (engine pandas: the frame, None), or (engine duckdb,
    spark: None, a ``LazySample``) its probe read now and its engine-drawn sample drawn when rows are first asked
    for, the aggregations going to ``Workspace.log(name)``."""
    from explore.engine import sample as engine_sample
    from explore.engine.sample import (
        LazySample,
        count_labels,
        draw_sample,
        kept_probe,
        kept_sample,
        probe_key,
        probe_rows,
        sample_key,
    )
    from explore.engine.source import open_source, resolve_engine

    source = config.engine_sources[name]
    where = f"workspace.toml [datasets] {name}"
    cols = config.columns
    con = open_source(source, where=where)  # first: a missing file or table is said with its fix
    try:
        version = _engine_version(source)
        folder = config.root / CACHE_FOLDER if version is not None else None  # no local files: keep nothing
        engine = resolve_engine(source)
        if engine == "pandas":
            return con.execute("SELECT * FROM source").df(), None
        # DuckDB over Parquet files: their footers answer some of the probe's questions.
        files = _source_files(source) if engine == "duckdb" and not source.is_duckdb_table else None

        def count() -> dict[object, int] | None:
            """The label's counts when the footers settled its values and no pass has counted them yet."""
            again = open_source(source, where=where)
            try:
                return count_labels(again, cols.label)
            finally:
                again.close()

        # Read once per version of the files, then read back from beside the workspace (as the sample is); the
        # footers settle an integer label's values and the prediction's (explore.engine.source.footer_values).
        probe = kept_probe(
            folder,
            probe_key(version or "", cols.label, cols.prediction),
            lambda: probe_rows(con, cols.label, cols.prediction, files=files, count=count),
            count,
        )
    finally:
        con.close()
    # Drawn once per version of the files, then read back from beside the workspace (explore.engine.sample).
    rows = engine_sample.SAMPLE_ROWS  # the size as the workspace opens, the key's and the draw's
    key = sample_key(version or "", cols.label, cols.prediction, rows)

    def draw() -> tuple[pd.DataFrame, Any]:
        con = open_source(source, where=where)
        try:
            return draw_sample(con, cols.label, cols.prediction, rows)
        finally:
            con.close()

    kept = engine_sample.sample_path(folder, key) if folder is not None else None
    return None, LazySample(probe, lambda: kept_sample(folder, key, draw), kept=kept)


# ---- scoring ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class Scored:
    """One dataset's labelled rows with the model's predictions. Shared and read-only."""

    dataset_name: str
    model_name: str | None
    task: str
    frame: pd.DataFrame
    feature_names: list[str]
    y: np.ndarray
    y_raw: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None
    score: np.ndarray | None
    classes: np.ndarray | None
    positive_index: int | None
    time: pd.Series | None
    ids: np.ndarray
    unavailable: dict[str, str]
    n_unlabeled: int
    # Identity for caches: the workspace key + dataset + model (see ``cache_key``); "" when built by hand.
    source_key: str = ""

    def __repr__(self) -> str:
        # The generated repr printed every array: 45,000 characters for 700 rows in a notebook.
        by = f"model {self.model_name!r}" if self.model_name else "its prediction columns"
        time = f", time {self.time.name!r}" if self.time is not None else ""
        return (
            f"<Scored {self.dataset_name!r} by {by}: {self.n:,} labelled rows ({self.n_unlabeled:,} unlabelled), "
            f"{self.task}, {len(self.feature_names)} features{time}>"
        )

    @property
    def cache_key(self) -> str:
        """Changes whenever the rows or the predictions would: cheap to hash, unlike the frames themselves."""
        return self.source_key or f"object:{id(self)}"

    def take(self, rows: np.ndarray, tag: str) -> Scored:
        """These rows only (positions, in order), every per-row field cut alike; ``tag`` names the cut in the
        cache key (a cut of a keyed ``Scored`` never shares its key; one built by hand stays unkeyed)."""
        return replace(
            self,
            frame=self.frame.iloc[rows].reset_index(drop=True),
            y=self.y[rows],
            y_raw=self.y_raw[rows],
            pred=self.pred[rows],
            proba=None if self.proba is None else self.proba[rows],
            score=None if self.score is None else self.score[rows],
            time=None if self.time is None else self.time.iloc[rows].reset_index(drop=True),
            ids=self.ids[rows],
            source_key=f"{self.source_key}|{tag}" if self.source_key else "",
        )

    @property
    def n(self) -> int:
        return len(self.y)

    @cached_property
    def X(self) -> pd.DataFrame:
        return self.frame[self.feature_names]

    @cached_property
    def correct(self) -> np.ndarray:
        """Classification: prediction equals label. Regression: not defined (all False)."""
        if self.task == "regression":
            return np.zeros(self.n, dtype=bool)
        return self.pred == self.y

    @cached_property
    def row_loss(self) -> np.ndarray:
        """Per-row loss: log loss (nats) with probabilities, else 0/1 error; regression: squared error."""
        if self.task == "regression":
            return (self.pred - self.y) ** 2
        if self.proba is not None:
            p = self.proba[np.arange(self.n), self.y]
            return -np.log(np.clip(p, 1e-15, 1.0))
        return (~self.correct).astype("float64")


def _encode(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Map label values to their index in ``classes`` (-1 when absent), matching as text when types differ."""
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    lookup_s = {_text_key(c): i for i, c in enumerate(classes.tolist())}
    # Each distinct value is looked up once (a million labels hold two or a few dozen distinct values).
    inverse, uniques = pd.factorize(pd.Series(values), use_na_sentinel=False)
    mapped = np.fromiter(
        (lookup.get(v, lookup_s.get(_text_key(v), -1)) for v in np.asarray(uniques, dtype=object)),
        dtype="int64",
        count=len(uniques),
    )
    return mapped[inverse] if len(inverse) else np.empty(0, dtype="int64")


def decision_sign(model: Any, classes: np.ndarray, positive_index: int | None) -> float:
    """+1, or -1 when ``model.decision_function`` (which scores ``model.classes_[1]``) scores the other class
    than the workspace's positive one (e.g. positive = "benign", the first class in sorted order)."""
    est_classes = getattr(model, "classes_", None)
    if est_classes is None or len(est_classes) != 2 or positive_index is None:
        return 1.0
    return 1.0 if _encode(np.asarray(est_classes)[-1:], np.asarray(classes))[0] == positive_index else -1.0


# float32's largest value: scikit-learn's trees and many transformers compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _predict_failure_hint(X: pd.DataFrame, reason: str) -> str:
    """What in ``X`` most likely made the model fail with ``reason``: missing values, numbers with some text
    among them, values too large for float32, or (when the reason is about text) the text columns."""
    lower = reason.lower()
    hints = []
    if "nan" in lower:
        counts = X.isna().sum()
        counts = counts[counts > 0]
        if len(counts):
            hints.append(
                " The model does not accept missing values, and these columns have some: "
                + ", ".join(f"'{c}' ({int(n):,} rows)" for c, n in counts.head(10).items())
                + ". Fill them in, or refit the model with an imputer in its pipeline."
            )
    text_cols = [c for c in X.columns if X[c].dtype == object or pd.api.types.is_string_dtype(X[c].dtype)]
    mixed = []
    for c in text_cols:
        values = X[c].dropna()
        numbers = pd.to_numeric(values, errors="coerce")
        n_text = int(numbers.isna().sum())
        if len(values) and 0 < n_text < len(values) / 2:  # mostly numbers, some text: a typo, not a category
            mixed.append(
                f"'{c}' ({n_text:,} text values, e.g. {errors.shown(values[numbers.isna()].unique(), 2)})"
            )
    if mixed:
        hints.append(errors.MODEL_MIXED_HINT.format(columns=", ".join(mixed[:10])))
    elif text_cols and any(w in lower for w in ("str", "convert", "numeric", "could not", "dtype('o")):
        hints.append(errors.MODEL_DTYPE_HINT.format(columns=", ".join(map(repr, text_cols[:10]))))
    num = X.select_dtypes(include="number")
    if num.shape[1]:
        peak = num.abs().max()
        huge = peak[peak > FLOAT32_MAX]
        if len(huge):
            hints.append(
                errors.MODEL_HUGE_HINT.format(
                    columns=", ".join(f"'{c}' (up to {v:.3g})" for c, v in huge.head(10).items())
                )
            )
    return "".join(hints)


def predict_frame(
    model: Any,
    X: pd.DataFrame,
    *,
    model_name: str = MAIN_MODEL,
    dataset: str = "data",
    with_proba: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predict in batches; return (predict output, predict_proba or None). Wraps failures in ModelError."""
    Xin: Any = X if hasattr(model, "feature_names_in_") else X.to_numpy()
    preds, probas = [], []
    has_proba = with_proba and hasattr(model, "predict_proba")
    try:
        for start in range(0, len(X), BATCH_ROWS):
            part = (
                Xin.iloc[start : start + BATCH_ROWS]
                if isinstance(Xin, pd.DataFrame)
                else Xin[start : start + BATCH_ROWS]
            )
            if has_proba:
                probas.append(np.asarray(model.predict_proba(part), dtype="float64"))
            else:
                preds.append(np.asarray(model.predict(part)))
    except errors.ExploreError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's model may raise anything: said as a ModelError with hints
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.rstrip(".")
        hint = _predict_failure_hint(X, reason)
        raise errors.ModelError(
            errors.MODEL_PREDICT_FAILED.format(model=model_name, dataset=dataset, reason=reason, hint=hint)
        ) from None
    if has_proba:
        proba = np.concatenate(probas) if probas else np.empty((0, len(model.classes_)))
        pred = np.asarray(model.classes_)[proba.argmax(axis=1)] if len(proba) else np.asarray([])
        # argmax(predict_proba) is predict() for nearly every classifier; check a sample and fall back if not.
        head = min(len(X), 2000)
        if head and not np.array_equal(
            np.asarray(model.predict(Xin[:head] if not isinstance(Xin, pd.DataFrame) else Xin.iloc[:head])),
            pred[:head],
        ):
            pred = predict_frame(model, X, model_name=model_name, dataset=dataset, with_proba=False)[0]
        return pred, proba
    return np.concatenate(preds) if preds else np.asarray([]), None


def score(ws: Workspace, dataset: str, model: str | None = MAIN_MODEL) -> Scored:
    """Score ``dataset`` with model ``model`` (``None`` or a workspace without models: the prediction columns).

    Only the labelled rows: rows whose label is missing are counted in ``n_unlabeled`` and left out (see
    ``score_unlabeled`` for them)."""
    return _score_rows(ws, dataset, model, labelled=True)


def score_unlabeled(ws: Workspace, dataset: str, model: str | None = MAIN_MODEL) -> Scored:
    """The rows of ``dataset`` whose label is not known yet, scored like ``score`` does the labelled ones.

    ``y`` is -1 for every row (NaN for a regressor), ``n_unlabeled`` is 0 and ``n`` the number of such rows
    (possibly 0): what performance estimation without labels works on. Analyses that need labels use ``score``.
    """
    return _score_rows(ws, dataset, model, labelled=False)


@dataclass(frozen=True)
class ModelOutputs:
    """What a model says about a dataset's rows, encoded: what ``explore.core.score_cache`` keeps on disk.

    ``pred``: class codes in ``ws.classes`` (-1 for a class outside them) or floats (regression); ``proba``:
    columns in ``ws.classes`` order, or None; ``score``: the binary positive-class score, or None;
    ``unavailable``: metric -> why it cannot be computed from these outputs."""

    pred: np.ndarray
    proba: np.ndarray | None
    score: np.ndarray | None
    unavailable: dict[str, str]


# (ws, dataset, model, rows) -> ModelOutputs: how ``_score_rows`` gets the model's outputs (a cache may stand in).
OutputsSource = Callable[["Workspace", str, str, pd.DataFrame], ModelOutputs]


def scoring_rows(ws: Workspace, dataset: str, *, labelled: bool) -> tuple[pd.DataFrame, np.ndarray, int]:
    """(the rows ``score`` / ``score_unlabeled`` keep, the mask of them in the dataset, unlabelled rows)."""
    df_all = ws.dataset(dataset)
    has_label = df_all[ws.columns.label].notna().to_numpy()
    n_unlabeled = int((~has_label).sum())
    keep = has_label if labelled else ~has_label
    if labelled and not n_unlabeled:
        return df_all, keep, n_unlabeled
    return df_all.loc[keep].reset_index(drop=True), keep, n_unlabeled


def model_outputs(ws: Workspace, dataset: str, model: str, frame: pd.DataFrame) -> ModelOutputs:
    """Run model ``model`` on ``frame`` (rows of ``dataset``): predictions, probabilities, scores, encoded."""
    unavailable: dict[str, str] = {}
    score_vec = None
    est = ws.model(model)
    pred_raw, proba = predict_frame(est, frame[ws.feature_names], model_name=model, dataset=dataset)
    if ws.task != "regression" and proba is None:
        reason = f"the model '{model}' has no predict_proba"
        if hasattr(est, "decision_function") and ws.task == "binary":
            score_vec = np.asarray(
                est.decision_function(
                    frame[ws.feature_names]
                    if hasattr(est, "feature_names_in_")
                    else frame[ws.feature_names].to_numpy()
                ),
                dtype="float64",
            )
            score_vec = score_vec * decision_sign(est, ws.classes, ws.positive_index)
            unavailable.update(
                {m: reason + " (ROC/PR AUC use its decision_function)" for m in ("log loss", "Brier")}
            )
        else:
            unavailable.update({m: reason for m in ("ROC AUC", "PR AUC", "log loss", "Brier")})
    if (
        proba is not None
        and ws.classes is not None
        and not np.array_equal(np.asarray(est.classes_), ws.classes)
    ):
        # Another model version with the classes in a different order: align columns to ws.classes.
        order = _encode(ws.classes, np.asarray(est.classes_))
        proba = proba[:, order]
    pred, score_vec = _encoded_predictions(ws, pred_raw, proba, score_vec)
    return ModelOutputs(pred=pred, proba=proba, score=score_vec, unavailable=unavailable)


def _encoded_predictions(
    ws: Workspace, pred_raw: Any, proba: np.ndarray | None, score_vec: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(predictions as class codes or floats, the binary score: the positive column of ``proba`` if none)."""
    if ws.task == "regression":
        return np.asarray(pred_raw, dtype="float64"), score_vec
    pred = _encode(pred_raw, ws.classes)
    if ws.task == "binary" and proba is not None and score_vec is None:
        score_vec = proba[:, ws.positive_index]
    return pred, score_vec


def _score_rows(
    ws: Workspace,
    dataset: str,
    model: str | None,
    *,
    labelled: bool,
    outputs: OutputsSource | None = None,
) -> Scored:
    """``outputs(ws, dataset, model, frame)``: the model's outputs on the kept rows (default: run the model)."""
    cols = ws.columns
    frame, keep, n_unlabeled = scoring_rows(ws, dataset, labelled=labelled)
    y_raw = frame[cols.label].to_numpy()
    unavailable: dict[str, str] = {}
    proba = score_vec = None
    use_model = model is not None and ws.models
    if use_model:
        out = (outputs or model_outputs)(ws, dataset, model, frame)
        pred, proba, score_vec = out.pred, out.proba, out.score
        unavailable.update(out.unavailable)
    else:
        if not cols.prediction and not cols.score and not cols.scores:
            raise errors.WorkspaceError("This workspace has no model and no prediction column to score with.")
        if cols.prediction:
            pred_raw = frame[cols.prediction].to_numpy()
        elif cols.score and ws.task == "binary":
            pred_raw = np.where(
                _scores_array(frame[cols.score]) >= 0.5,
                ws.positive,
                ws.classes[1 - ws.positive_index],
            )
        else:
            pred_raw = None
        if ws.task == "binary" and cols.score:
            s = _scores_array(frame[cols.score])
            score_vec = s
            if not s.size or (np.nanmin(s) >= 0 and np.nanmax(s) <= 1):
                proba = np.empty((len(s), 2))
                proba[:, ws.positive_index] = s
                proba[:, 1 - ws.positive_index] = 1 - s
        elif cols.scores and ws.classes is not None:
            proba = np.column_stack(
                [
                    _scores_array(frame[cols.scores[k]])
                    if (k := _match_value(c, np.asarray(list(cols.scores), dtype=object))) is not None
                    else np.zeros(len(frame))
                    for c in ws.classes
                ]
            )
        if pred_raw is None:
            pred_raw = ws.classes[proba.argmax(axis=1)]
        if ws.task != "regression" and proba is None and score_vec is None:
            reason = "no score column in the data ([columns] score / scores)"
            unavailable.update({m: reason for m in ("ROC AUC", "PR AUC", "log loss", "Brier")})
        elif ws.task != "regression" and proba is None:
            unavailable.update(
                {m: "the score column is not a probability in [0, 1]" for m in ("log loss", "Brier")}
            )
        pred, score_vec = _encoded_predictions(ws, pred_raw, proba, score_vec)
    if ws.task == "regression":
        y = pd.to_numeric(pd.Series(y_raw), errors="coerce").to_numpy(dtype="float64")
    else:
        y = _encode(y_raw, ws.classes) if labelled else np.full(len(frame), -1, dtype="int64")
    ids = frame[cols.id].to_numpy() if cols.id else np.arange(len(frame))
    time = None
    if cols.time:
        t = ws.times[dataset]
        time = (t if labelled and not n_unlabeled else t[keep].reset_index(drop=True)).rename(cols.time)
    return Scored(
        dataset_name=dataset,
        model_name=model if use_model else None,
        task=ws.task,
        frame=frame,
        feature_names=list(ws.feature_names),
        y=y,
        y_raw=y_raw,
        pred=pred,
        proba=proba,
        score=score_vec,
        classes=ws.classes,
        positive_index=ws.positive_index,
        time=time,
        ids=ids,
        unavailable=unavailable,
        n_unlabeled=n_unlabeled if labelled else 0,
        source_key=f"{ws.key}|{dataset}|{model if use_model else None}" + ("" if labelled else "|unlabelled"),
    )


def workspace_from_env(default: Path | None = None) -> Path | None:
    """The workspace.toml named by EXPLORE_WORKSPACE, else ``default``."""
    value = settings.workspace()
    return value if value is not None else default
