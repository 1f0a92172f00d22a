"""What a workspace reads from its models when it opens, kept beside the workspace so that a later start does not
load the model files at all (loading a .skops file imports skops, scikit-learn and SciPy and builds the estimator:
over a second before the first page can draw).

A ``ModelFacts`` holds the model's inputs (``feature_names_in_`` / ``n_features_in_``), what it is (regressor,
classifier, its ``classes_``), which methods it has (``predict_proba``, ``decision_function``), how the Workspace
page describes it, and the types of its .skops file that skops does not trust by default. ``ModelFacts.of(loaded)``
reads them from a loaded model; ``read_facts`` / ``write_facts`` keep them in
``<workspace>/.explore-cache/model-<model fingerprint>-<versions>.json``:

- the **model fingerprint** is the sha256 of the model file's bytes, so a changed file misses (and is loaded);
- **versions** hashes this file's format and the installed scikit-learn and skops (their ``__init__.py``'s path,
  size and time): an upgrade may change what skops trusts by default or what an estimator loads as, so it misses.

The estimator itself is loaded on first use (``ModelHandle.load``: scoring rows without cached predictions,
importance, what-ifs, checks). Trust is still asked before anything runs: a pickle the user has not trusted is
refused before its file is read, and the untrusted types kept in the facts are checked against the accepted ones
before the workspace opens; loading re-checks the file itself. A file that cannot be read or does not match is a
miss; a folder that cannot be written keeps nothing (the next start loads the model again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explore import errors
from explore.core.loading import LoadedModel

CACHE_FOLDER = ".explore-cache"  # beside workspace.toml: these facts and the predictions (score_cache)
FORMAT = 1
# The cache folder keeps the facts of at most this many model files; the least recently written go first.
KEEP_FILES = 64
_PACKAGES = ("sklearn", "skops")  # import names


# ---- a model's classes_ as JSON, types kept ------------------------------------------------------


def _tagged(value: Any) -> list | None:
    """One element of an object array as [type tag, value], or None when it is not a plain scalar."""
    if isinstance(value, bool | np.bool_):
        return ["b", bool(value)]
    if isinstance(value, int | np.integer):
        return ["i", int(value)]
    if isinstance(value, float | np.floating):
        return ["f", float(value)]
    if isinstance(value, str):
        return ["s", str(value)]
    return None


_UNTAG: dict[str, Callable[[Any], Any]] = {"b": bool, "i": int, "f": float, "s": str}


def encode_array(values: np.ndarray) -> dict | None:
    """``values`` (a model's ``classes_``) as JSON with its dtype, or None when it holds something else than
    numbers, booleans and text (then the facts are not kept: the model is loaded at every start, as before)."""
    a = np.asarray(values)
    kind = a.dtype.kind
    if a.ndim != 1:
        return None
    if kind in "biuf":
        return {"dtype": a.dtype.str, "values": a.tolist()}
    if kind == "U":
        return {"dtype": a.dtype.str, "values": [str(v) for v in a]}
    if kind == "O":
        tagged = [_tagged(v) for v in a]
        if any(t is None for t in tagged):
            return None
        return {"dtype": "object", "values": tagged}
    return None


def decode_array(data: dict) -> np.ndarray:
    """The array ``encode_array`` wrote: same values, same dtype (object arrays: same Python types)."""
    if data["dtype"] == "object":
        out = np.empty(len(data["values"]), dtype=object)
        for i, (tag, value) in enumerate(data["values"]):
            out[i] = _UNTAG[tag](value)
        return out
    return np.asarray(data["values"], dtype=np.dtype(data["dtype"]))


# ---- the facts ------------------------------------------------------------------------------------


def describe_model(model: Any) -> str:
    """The estimator's type, or a pipeline's steps ("Pipeline(StandardScaler → LogisticRegression)")."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return "Pipeline(" + " → ".join(type(step).__name__ for _, step in model.steps) + ")"
    return type(model).__name__


@dataclass(frozen=True, eq=False)
class ModelFacts:
    """What the workspace needs to know about a model without the estimator (see the module docstring).

    ``is_regressor`` / ``is_classifier``: scikit-learn's ``is_regressor`` / ``is_classifier`` (False when the
    estimator has no scikit-learn tags); ``classes``: its ``classes_`` or None."""

    kind: str  # "skops" | "pickle" | "memory"
    description: str
    feature_names_in: tuple[str, ...] | None
    n_features_in: int | None
    is_regressor: bool
    is_classifier: bool
    classes: np.ndarray | None
    has_predict_proba: bool
    has_decision_function: bool
    library_versions: dict[str, str] = field(default_factory=dict)
    untrusted_types: tuple[str, ...] = ()

    @classmethod
    def of(cls, loaded: LoadedModel) -> ModelFacts:
        """The facts of a loaded model."""
        from sklearn.base import is_classifier, is_regressor

        est = loaded.estimator
        try:
            regressor, classifier = bool(is_regressor(est)), bool(is_classifier(est))
        except (AttributeError, TypeError):
            # An in-house wrapper that does not inherit BaseEstimator has no __sklearn_tags__ (sklearn ≥ 1.6):
            # the workspace decides from classes_ and the label instead.
            regressor = classifier = False
        names = getattr(est, "feature_names_in_", None)
        n_in = getattr(est, "n_features_in_", None)
        classes = getattr(est, "classes_", None)
        return cls(
            kind=loaded.kind,
            description=describe_model(est),
            feature_names_in=None if names is None else tuple(str(c) for c in names),
            n_features_in=None if n_in is None else int(n_in),
            is_regressor=regressor,
            is_classifier=classifier,
            classes=None if classes is None else np.asarray(classes),
            has_predict_proba=hasattr(est, "predict_proba"),
            has_decision_function=hasattr(est, "decision_function"),
            library_versions=dict(loaded.library_versions),
            untrusted_types=tuple(loaded.untrusted_types),
        )

    def to_dict(self) -> dict | None:
        """JSON-ready, or None when the classes cannot be written exactly (see ``encode_array``)."""
        out = asdict(self)
        if self.classes is not None:
            out["classes"] = encode_array(self.classes)
            if out["classes"] is None:
                return None
        out["feature_names_in"] = None if self.feature_names_in is None else list(self.feature_names_in)
        out["untrusted_types"] = list(self.untrusted_types)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ModelFacts:
        names = data["feature_names_in"]
        return cls(
            kind=str(data["kind"]),
            description=str(data["description"]),
            feature_names_in=None if names is None else tuple(str(c) for c in names),
            n_features_in=None if data["n_features_in"] is None else int(data["n_features_in"]),
            is_regressor=bool(data["is_regressor"]),
            is_classifier=bool(data["is_classifier"]),
            classes=None if data["classes"] is None else decode_array(data["classes"]),
            has_predict_proba=bool(data["has_predict_proba"]),
            has_decision_function=bool(data["has_decision_function"]),
            library_versions={str(k): str(v) for k, v in data["library_versions"].items()},
            untrusted_types=tuple(str(t) for t in data["untrusted_types"]),
        )


# ---- kept beside the workspace --------------------------------------------------------------------

_VERSIONS: list[str] = []


def installed_stamp(package: str) -> str:
    """An installed package's identity without importing it: its ``__init__.py`` path, size and modification time
    (an upgrade rewrites it)."""
    import importlib.util

    spec = importlib.util.find_spec(package)
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    st = origin.stat() if origin is not None and origin.exists() else None
    return f"{package}:{origin}:{st and st.st_size}:{st and st.st_mtime_ns}"


def _versions_key() -> str:
    """This file's format and the installed scikit-learn and skops, hashed: each package's ``__init__.py`` path,
    size and modification time (an upgrade rewrites it), found without importing either and without reading
    every installed package's metadata (``importlib.metadata`` takes a tenth of a second). Once per process."""
    if not _VERSIONS:
        parts = [f"format:{FORMAT}", *(installed_stamp(package) for package in _PACKAGES)]
        _VERSIONS.append(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8])
    return _VERSIONS[0]


def facts_path(root: Path, fingerprint: str) -> Path:
    """Where the facts of the model file whose fingerprint is ``fingerprint`` are kept beside a workspace."""
    return Path(root) / CACHE_FOLDER / f"model-{fingerprint}-{_versions_key()}.json"


def read_facts(root: Path, fingerprint: str) -> ModelFacts | None:
    """The facts kept for this model file, or None (never written, damaged, another format or versions)."""
    path = facts_path(root, fingerprint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("fingerprint") != fingerprint:
            return None
        return ModelFacts.from_dict(data["facts"])
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - any damage to a cache file (truncated, not JSON, wrong keys) is a miss
        return None


def write_facts(root: Path, fingerprint: str, facts: ModelFacts) -> Path | None:
    """Keep ``facts`` beside the workspace (atomically: a temporary file renamed over the final name); None when
    they cannot be written exactly or the folder is not writable (the next start loads the model again)."""
    data = facts.to_dict()
    if data is None:
        return None
    path = facts_path(root, fingerprint)
    text = json.dumps({"format": FORMAT, "fingerprint": fingerprint, "facts": data}, sort_keys=True)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return None
    _prune(path.parent)
    return path


def _prune(folder: Path) -> None:
    """Keep the facts of the KEEP_FILES most recently written model files (old model versions go)."""
    try:
        files = sorted(folder.glob("model-*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    except OSError:
        return
    for old in files[KEEP_FILES:]:
        with contextlib.suppress(OSError):
            old.unlink()


# ---- a model of an open workspace: facts now, estimator on first use ------------------------------


class ModelHandle:
    """One model of a workspace: its ``facts`` (known when the workspace opens) and the estimator, loaded by
    ``load()`` the first time something needs it (once, shared by every thread; a failure is raised again at
    each attempt, with the model's name)."""

    def __init__(
        self,
        name: str,
        *,
        path: Path,
        fingerprint: str,
        facts: ModelFacts,
        loaded: LoadedModel | None = None,
        loader: Callable[[], LoadedModel] | None = None,
    ) -> None:
        if loaded is None and loader is None:
            raise ValueError("a ModelHandle needs the loaded model or a loader")
        self.name = name
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.facts = facts
        self._loaded = loaded
        self._loader = loader
        self._lock = threading.Lock()

    @classmethod
    def of(cls, name: str, loaded: LoadedModel) -> ModelHandle:
        """A handle of a model already in memory."""
        return cls(
            name, path=loaded.path, fingerprint=loaded.fingerprint, facts=ModelFacts.of(loaded), loaded=loaded
        )

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    def load(self) -> LoadedModel:
        """The loaded model (loading the file now if nothing did yet). Raises ``ModelError`` (field
        ``model_name``) when it cannot be loaded, or when the file is no longer the one the workspace opened."""
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                assert self._loader is not None
                try:
                    loaded = self._loader()
                except errors.ModelError as exc:
                    raise exc.with_fields(model_name=self.name) from None
                if loaded.fingerprint != self.fingerprint:
                    raise errors.ModelError(
                        errors.MODEL_FILE_CHANGED.format(
                            model=self.name, path=self.path, opened=self.fingerprint, now=loaded.fingerprint
                        ),
                        model_name=self.name,
                    )
                self._loaded = loaded
        return self._loaded

    def replace(self, estimator: Any) -> None:
        """Use ``estimator`` in memory instead of the file's (the facts and fingerprint stay the file's)."""
        with self._lock:
            self._loaded = LoadedModel(
                estimator,
                self.path,
                self.fingerprint,
                self.facts.kind,
                dict(self.facts.library_versions),
                self.facts.untrusted_types,
            )


class _ModelNames(Mapping[str, Any]):
    """A mapping over a workspace's models whose names, ``in``, ``len`` and truth load nothing."""

    def __init__(self, handles: Mapping[str, ModelHandle]) -> None:
        self._handles = handles

    def __getitem__(self, name: str) -> Any:
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)

    def __contains__(self, name: object) -> bool:
        return name in self._handles

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._handles)})"


class ModelSet(_ModelNames):
    """``Workspace.models``: model name -> fitted estimator. Names, ``in``, ``len`` and truth cost nothing; an
    estimator is loaded when it is looked up (``ws.models[name]``, ``.get``, ``.items()``, ``.values()``).
    ``ws.models[name] = estimator`` swaps one in memory."""

    def __getitem__(self, name: str) -> Any:
        return self._handles[name].load().estimator

    def __setitem__(self, name: str, estimator: Any) -> None:
        """Swap model ``name``'s estimator in memory (an experiment in a notebook or a test), as assigning into
        the dict this used to be did: the workspace's task, classes and inputs stay those it opened with."""
        if name not in self._handles:
            raise KeyError(name)
        self._handles[name].replace(estimator)


class LoadedModels(_ModelNames):
    """``Workspace.loaded_models``: model name -> ``LoadedModel`` (the estimator and its file), loaded on lookup."""

    def __getitem__(self, name: str) -> LoadedModel:
        return self._handles[name].load()


__all__ = [
    "CACHE_FOLDER",
    "LoadedModels",
    "ModelFacts",
    "ModelHandle",
    "ModelSet",
    "decode_array",
    "describe_model",
    "encode_array",
    "facts_path",
    "read_facts",
    "write_facts",
]
