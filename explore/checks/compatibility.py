"""Will the model run here, and still do what it did? (ML Test Score, Monitor 1; the seeds' "ensure the
operations used by the model are present in the server" and functionality tests on key examples.)

* **Compatibility**: the library versions the model file was written with (read from the skops
  schema: scikit-learn, skops, protocol) against this environment's, and every type the model is made
  of checked importable here. A version mismatch is a warning (scikit-learn does not support loading a
  model across versions); a type that cannot be imported means the model cannot run here.
* **Key examples**: a small file of inputs with the outputs the model gave (made from the current model
  on demand, then kept next to workspace.toml — ``[checks] key_examples``, JSON, format in
  docs/checks.md). Any later model or environment must reproduce them: same class, probabilities
  within ``tolerance``; regression values within ``tolerance`` relative.

Signatures::

    compatibility(ws, *, model="current") -> CompatResult
    make_key_examples(ws, *, model="current", dataset=None, n=20, seed=0, tolerance=1e-6) -> KeyExamples
    save_key_examples(examples, path) -> Path          load_key_examples(path) -> KeyExamples
    verify_key_examples(ws, *, model="current", examples=None, tolerance=None) -> KeyExamplesResult
    key_examples_path(ws) -> Path
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import importlib.metadata
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore.core.roles import evaluation_datasets
from explore.core.serialise import jsonable
from explore.core.workspace import MAIN_MODEL, Workspace, predict_frame
from explore.errors import NO_MODEL_FILE, AnalysisError, WorkspaceError

KEY_EXAMPLES_FORMAT = 1
KEY_EXAMPLES_ABOUT = (
    "Key examples for ml-explore (Checks page → Compatibility). Inputs with the outputs the model gave when this "
    "file was made; any later model or environment must reproduce them (same class; probabilities within "
    "`tolerance`; regression values within `tolerance` relative). Referenced from workspace.toml: "
    '[checks] key_examples = "key_examples.json". Edit `examples` to add or remove cases. See docs/checks.md.'
)
NO_MODEL = NO_MODEL_FILE.format(needs="This check runs the model", then="")
KEY_MISSING = (
    "The key examples file '{path}' does not exist yet. Make it from the current model on the Checks page "
    "(Compatibility → Make key examples → Save), or fix [checks] key_examples in workspace.toml."
)
KEY_BAD = "The key examples file '{path}' is not valid: {reason}. Make it again on the Checks page; see docs/checks.md."
KEY_FEATURES = (
    "The key examples in '{path}' were made for the features {expected}; the model here expects {actual}. "
    "Make the key examples again from the current model."
)

_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skops": "skops",
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
}


@functools.lru_cache(maxsize=1)
def _package_map() -> dict[str, list[str]]:
    """Import name → distribution names (slow: scans every installed distribution; computed once)."""
    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:  # noqa: BLE001 - reads every installed distribution's files; one broken one must not stop the check
        return {}


@functools.lru_cache(maxsize=256)
def _installed(package: str) -> str | None:
    """The installed version of the import package ``package`` (None when it is not installed)."""
    names = [_DISTRIBUTIONS.get(package, package)]
    for attempt in range(2):
        for name in names:
            try:
                return importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                continue
        if attempt == 0:
            names = [n for n in _package_map().get(package, []) if n not in names]
    try:
        return str(getattr(importlib.import_module(package), "__version__", None) or "") or None
    except Exception:  # noqa: BLE001 - importing runs the package's own code, which may raise anything: not importable
        return None


def _walk_schema(node: Any, types: set[tuple[str, str]], versions: set[str]) -> None:
    if isinstance(node, dict):
        mod, cls = node.get("__module__"), node.get("__class__")
        if isinstance(mod, str) and isinstance(cls, str) and mod != "builtins":
            types.add((mod, cls))
        content = node.get("content")
        if isinstance(content, dict) and node.get("__loader__") == "DictNode":
            inner = content.get("content") if "content" in content else content
            if isinstance(inner, dict) and "_sklearn_version" in inner:
                v = inner["_sklearn_version"]
                text = v.get("content") if isinstance(v, dict) else v
                if isinstance(text, str):
                    versions.add(text.strip('"'))
        for v in node.values():
            _walk_schema(v, types, versions)
    elif isinstance(node, list):
        for v in node:
            _walk_schema(v, types, versions)


def skops_contents(path: Path) -> tuple[set[tuple[str, str]], set[str], dict[str, str]]:
    """(types (module, class), scikit-learn versions recorded, {"skops": …, "skops protocol": …}) of a .skops file."""
    with zipfile.ZipFile(path) as zf:
        schema = json.loads(zf.read("schema.json"))
    types: set[tuple[str, str]] = set()
    versions: set[str] = set()
    _walk_schema(schema, types, versions)
    meta = {}
    if "_skops_version" in schema:
        meta["skops"] = str(schema["_skops_version"])
    if "protocol" in schema:
        meta["skops protocol"] = str(schema["protocol"])
    return types, versions, meta


def _object_types(est: Any) -> set[tuple[str, str]]:
    """Types an in-memory estimator is made of (itself and every nested estimator parameter)."""
    out = {(type(est).__module__, type(est).__name__)}
    try:
        params = est.get_params(deep=True)
    except (AttributeError, TypeError):  # not a scikit-learn estimator (no get_params, or another signature)
        return out
    for v in params.values():
        if hasattr(v, "fit") or hasattr(v, "transform"):
            out.add((type(v).__module__, type(v).__name__))
    return out


VERSION_COLUMNS = ["library", "model_file", "environment", "status"]
TYPE_COLUMNS = ["module", "type", "status"]


@dataclass
class CompatResult:
    """``versions``: library, model_file, environment, status (same / mismatch / not recorded);
    ``types``: module, type, status (importable / missing)."""

    model: str
    path: str
    kind: str
    versions: pd.DataFrame
    types: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """False when a type is missing or a recorded version differs; None when nothing was recorded; else True."""
        if (self.types["status"] == "missing").any() or (self.versions["status"] == "mismatch").any():
            return False
        if not (self.versions["status"] == "same").any():
            return None
        return True

    def summary(self) -> str:
        missing = self.types[self.types["status"] == "missing"]
        mism = self.versions[self.versions["status"] == "mismatch"]
        parts = []
        if len(missing):
            parts.append(
                f"{len(missing)} type(s) the model uses cannot be imported here ({', '.join(missing['module'] + '.' + missing['type'])}): "
                "the model cannot run in this environment."
            )
        for r in mism.to_dict(orient="records"):
            parts.append(
                f"Warning: the model file was written with {r['library']} {r['model_file']}, this environment has "
                f"{r['environment']}. Loading across versions is unsupported: refit or pin {r['library']}=={r['model_file']}."
            )
        if not parts:
            same = self.versions[self.versions["status"] == "same"]
            if len(same):
                libs = ", ".join(f"{r['library']} {r['environment']}" for r in same.to_dict(orient="records"))
                parts.append(
                    f"The model file's library versions match this environment ({libs}); all {len(self.types)} types import."
                )
            else:
                parts.append(
                    f"The model file records no library versions; all {len(self.types)} types import here."
                )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "compatibility",
                "passed": self.passed,
                "summary": self.summary(),
                "model": self.model,
                "path": self.path,
                "file_kind": self.kind,
                "versions": self.versions,
                "types": self.types,
                "notes": self.notes,
            }
        )


def compatibility(ws: Workspace, *, model: str = MAIN_MODEL) -> CompatResult:
    """Library versions recorded in the model file vs this environment, and the model's types importable here."""
    if not ws.models:
        raise AnalysisError(NO_MODEL)
    ws.model(model)  # raises a clear error for an unknown name
    loaded = ws.loaded_models[model]
    notes: list[str] = []
    recorded: dict[str, str] = {}
    types: set[tuple[str, str]] = set()
    if loaded.kind == "skops":
        try:
            types, sk_versions, meta = skops_contents(loaded.path)
            recorded.update(meta)
            if sk_versions:
                recorded["scikit-learn"] = ", ".join(sorted(sk_versions))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            notes.append(f"The skops schema could not be read ({exc}); only the loaded object is inspected.")
    for k, v in loaded.library_versions.items():
        recorded.setdefault(k, v)
    types |= _object_types(loaded.estimator)
    rows = []
    env = {
        "scikit-learn": _installed("sklearn"),
        "skops": _installed("skops"),
        "skops protocol": _skops_protocol(),
    }
    packages = sorted({m.split(".")[0] for m, _ in types} - {"builtins"})
    for pkg in packages:
        lib = _DISTRIBUTIONS.get(pkg, pkg)
        env.setdefault(lib, _installed(pkg))
    for lib in dict.fromkeys(
        ["scikit-learn", "skops", "skops protocol", *(_DISTRIBUTIONS.get(p, p) for p in packages)]
    ):
        file_v = recorded.get(lib)
        env_v = env.get(lib)
        if file_v is None:
            status = "not recorded"
        elif env_v is None:
            status = "mismatch"
        else:
            status = (
                "same"
                if env_v in [v.strip() for v in file_v.split(",")] and "," not in file_v
                else "mismatch"
            )
        rows.append(
            {
                "library": lib,
                "model_file": file_v or "",
                "environment": env_v or "not installed",
                "status": status,
            }
        )
    type_rows = []
    for mod, cls in sorted(types):
        try:
            ok = hasattr(importlib.import_module(mod), cls)
        except Exception:  # noqa: BLE001 - ImportError, and anything a broken package raises on import
            ok = False
        type_rows.append({"module": mod, "type": cls, "status": "importable" if ok else "missing"})
    return CompatResult(
        model=model,
        path=str(loaded.path),
        kind=loaded.kind,
        versions=pd.DataFrame(rows, columns=VERSION_COLUMNS),
        types=pd.DataFrame(type_rows, columns=TYPE_COLUMNS),
        notes=notes,
    )


def _skops_protocol() -> str | None:
    try:
        from skops.io._protocol import PROTOCOL

        return str(PROTOCOL)
    except ImportError:  # private module moved: the protocol is then not compared
        return None


# ---- key examples ---------------------------------------------------------------------------------------


@dataclass
class KeyExamples:
    """Inputs (feature columns, in the model's order) with the outputs the model gave.

    ``expected``: the predicted class (text as in the data) or value per example; ``proba``: n × k class
    probabilities in ``classes`` order (None without predict_proba or for regression).
    """

    inputs: pd.DataFrame
    ids: list[Any]
    why: list[str]
    expected: list[Any]
    proba: np.ndarray | None
    classes: list[Any] | None
    task: str
    model: str
    model_fingerprint: str
    dataset: str
    tolerance: float
    versions: dict[str, str]
    created_at: str

    def to_json(self) -> str:
        dtypes = {c: str(self.inputs[c].dtype) for c in self.inputs.columns}
        examples = []
        for i in range(len(self.inputs)):
            item: dict[str, Any] = {
                "id": self.ids[i],
                "why": self.why[i],
                "inputs": self.inputs.iloc[i].to_dict(),
                "expected": {"prediction": self.expected[i]},
            }
            if self.proba is not None and self.classes is not None:
                item["expected"]["proba"] = {
                    str(c): float(p) for c, p in zip(self.classes, self.proba[i], strict=True)
                }
            examples.append(item)
        data = {
            "_about": KEY_EXAMPLES_ABOUT,
            "format": KEY_EXAMPLES_FORMAT,
            "created_at": self.created_at,
            "model": self.model,
            "model_fingerprint": self.model_fingerprint,
            "dataset": self.dataset,
            "task": self.task,
            "classes": self.classes,
            "tolerance": self.tolerance,
            "versions": self.versions,
            "features": list(self.inputs.columns),
            "dtypes": dtypes,
            "examples": examples,
        }
        return json.dumps(jsonable(data), indent=2, ensure_ascii=False) + "\n"

    def table(self) -> pd.DataFrame:
        """id, why, expected (and max probability) next to the inputs, for display."""
        out = pd.DataFrame({"id": self.ids, "why": self.why, "expected": self.expected})
        if self.proba is not None:
            out["expected_max_proba"] = self.proba.max(axis=1)
        return pd.concat([out, self.inputs.reset_index(drop=True)], axis=1)


def key_examples_path(ws: Workspace) -> Path:
    """``[checks] key_examples`` if set, else ``key_examples.json`` next to workspace.toml."""
    return Path(ws.config.checks.key_examples or ws.config.root / "key_examples.json")


def _select(
    frame: pd.DataFrame, features: list[str], pred: np.ndarray, conf: np.ndarray | None, n: int, seed: int
) -> list[tuple[int, str]]:
    """Diverse rows: per predicted class the most and least confident, rows with missing values, extremes of
    numeric features, the rarest category of text features, then random rows — at most ``n``."""
    chosen: dict[int, str] = {}

    def add(i: int, why: str) -> None:
        if len(chosen) < n and int(i) not in chosen:
            chosen[int(i)] = why

    X = frame[features]
    classes = pd.unique(pd.Series(pred))
    for c in classes:
        rows = np.flatnonzero(pred == c)
        if conf is not None and len(rows):
            add(rows[np.argmax(conf[rows])], f"most confident '{c}'")
            add(rows[np.argmin(conf[rows])], f"least confident '{c}' (near the decision boundary)")
        elif len(rows):
            add(rows[0], f"predicted '{c}'")
    missing = X.isna().to_numpy()
    if missing.any():
        add(int(np.argmax(missing.sum(axis=1))), "most missing values")
    numeric = [
        c
        for c in features
        if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype)
    ]
    for c in numeric[:4]:
        v = X[c].to_numpy(dtype="float64", na_value=np.nan)
        if np.isfinite(v).any():
            add(int(np.nanargmax(v)), f"largest {c}")
            add(int(np.nanargmin(v)), f"smallest {c}")
    for c in [c for c in features if c not in numeric][:4]:
        counts = X[c].value_counts()
        if len(counts):
            rare = counts.index[-1]
            add(int(np.flatnonzero((X[c] == rare).to_numpy())[0]), f"rarest {c} ({rare!r})")
    rng = np.random.default_rng(seed)
    for i in rng.permutation(len(frame)):
        if len(chosen) >= n:
            break
        add(int(i), "random row")
    return list(chosen.items())


def make_key_examples(
    ws: Workspace,
    *,
    model: str = MAIN_MODEL,
    dataset: str | None = None,
    n: int = 20,
    seed: int = 0,
    tolerance: float = 1e-6,
) -> KeyExamples:
    """Pick ``n`` diverse rows of ``dataset`` (default: the first evaluation dataset) and record ``model``'s outputs."""
    if not ws.models:
        raise AnalysisError(NO_MODEL)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1000:
        raise AnalysisError(f"The number of key examples must be between 1 and 1000; received {n!r}.")
    dataset = dataset or evaluation_datasets(ws)[0]
    if dataset not in ws.dataset_names:
        raise AnalysisError(
            f"There is no dataset named {dataset!r}. Datasets in this workspace: {', '.join(ws.dataset_names)}."
        )
    est = ws.model(model)
    frame = ws.dataset(dataset)
    pred, proba = predict_frame(est, frame[ws.feature_names], model_name=model, dataset=dataset)
    conf = proba.max(axis=1) if proba is not None else None
    picks = _select(frame, ws.feature_names, np.asarray(pred), conf, n, seed)
    rows = np.asarray([i for i, _ in picks], dtype=int)
    classes = (
        None if ws.task == "regression" or proba is None else [c for c in np.asarray(est.classes_).tolist()]
    )
    ids = frame[ws.columns.id].to_numpy()[rows].tolist() if ws.columns.id else rows.tolist()
    versions = {
        k: v
        for k, v in {
            "scikit-learn": _installed("sklearn"),
            "skops": _installed("skops"),
            "numpy": _installed("numpy"),
        }.items()
        if v
    }
    return KeyExamples(
        inputs=frame[ws.feature_names].iloc[rows].reset_index(drop=True),
        ids=ids,
        why=[w for _, w in picks],
        expected=jsonable(np.asarray(pred)[rows].tolist()),
        proba=None if proba is None else proba[rows],
        classes=classes,
        task=ws.task,
        model=model,
        model_fingerprint=ws.model_fingerprint(model),
        dataset=dataset,
        tolerance=tolerance,
        versions=versions,
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )


def save_key_examples(examples: KeyExamples, path: Path | str) -> Path:
    """Write the key examples as JSON; return the path."""
    path = Path(path)
    path.write_text(examples.to_json(), encoding="utf-8")
    return path


def _cast(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    out = {}
    for c in frame.columns:
        s = frame[c]
        want = dtypes.get(c, "object")
        try:
            if want.startswith("datetime"):
                s = pd.to_datetime(s)
            elif want in ("str", "string", "object"):
                s = s.astype(object).where(s.notna(), np.nan)
            else:
                s = s.astype("float64" if (s.isna().any() and want.startswith(("int", "uint"))) else want)
        except (TypeError, ValueError):
            pass
        out[c] = s
    return pd.DataFrame(out)


def parse_key_examples(text: str, *, source: str = "key_examples.json") -> KeyExamples:
    """Parse the JSON text of a key examples file."""
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != KEY_EXAMPLES_FORMAT:
            raise ValueError(f"expected an object with format = {KEY_EXAMPLES_FORMAT}")
        features = list(data["features"])
        items = list(data["examples"])
        inputs = pd.DataFrame([{f: it["inputs"].get(f) for f in features} for it in items], columns=features)
        inputs = _cast(inputs, dict(data.get("dtypes", {})))
        classes = data.get("classes")
        proba = None
        if classes is not None and items and all("proba" in it["expected"] for it in items):
            proba = np.asarray(
                [[float(it["expected"]["proba"][str(c)]) for c in classes] for it in items], dtype="float64"
            )
        tolerance = float(data.get("tolerance", 1e-6))
        return KeyExamples(
            inputs=inputs,
            ids=[it.get("id") for it in items],
            why=[str(it.get("why", "")) for it in items],
            expected=[it["expected"]["prediction"] for it in items],
            proba=proba,
            classes=classes,
            task=str(data.get("task", "")),
            model=str(data.get("model", "")),
            model_fingerprint=str(data.get("model_fingerprint", "")),
            dataset=str(data.get("dataset", "")),
            tolerance=tolerance,
            versions=dict(data.get("versions", {})),
            created_at=str(data.get("created_at", "")),
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AnalysisError(KEY_BAD.format(path=source, reason=f"{type(exc).__name__}: {exc}")) from None


def load_key_examples(path: Path | str) -> KeyExamples:
    """Read a key examples file."""
    path = Path(path)
    if not path.exists():
        raise WorkspaceError(KEY_MISSING.format(path=path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisError(KEY_BAD.format(path=path, reason=exc)) from None
    return parse_key_examples(text, source=str(path))


KEY_COLUMNS = ["id", "why", "expected", "actual", "max_abs_diff", "status"]


@dataclass
class KeyExamplesResult:
    """Per example: expected vs actual output (``table``: ``KEY_COLUMNS``; status reproduced / differs)."""

    model: str
    source: str
    made_with: str
    n: int
    table: pd.DataFrame
    tolerance: float
    error: str = ""

    @property
    def failures(self) -> int:
        return int((self.table["status"] != "reproduced").sum()) if len(self.table) else 0

    @property
    def passed(self) -> bool:
        return not self.error and self.failures == 0

    def summary(self) -> str:
        if self.error:
            return f"Model '{self.model}' cannot run the key examples here: {self.error}"
        if self.failures == 0:
            return (
                f"Model '{self.model}' reproduces all {self.n} key examples (tolerance {self.tolerance:g})."
            )
        worst = float(self.table["max_abs_diff"].max())
        return (
            f"Model '{self.model}' does not reproduce {self.failures} of {self.n} key examples (largest difference "
            f"{worst:.3g}; the file was made with {self.made_with}): the model or the environment changed its behaviour."
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "key_examples",
                "passed": self.passed,
                "summary": self.summary(),
                "model": self.model,
                "source": self.source,
                "made_with": self.made_with,
                "n": self.n,
                "tolerance": self.tolerance,
                "table": self.table,
                "error": self.error,
            }
        )


def verify_key_examples(
    ws: Workspace,
    *,
    model: str = MAIN_MODEL,
    examples: KeyExamples | None = None,
    tolerance: float | None = None,
) -> KeyExamplesResult:
    """Run ``model`` on the key examples (default: the workspace's file) and compare with what was recorded."""
    if not ws.models:
        raise AnalysisError(NO_MODEL)
    source = "the examples in memory"
    if examples is None:
        path = key_examples_path(ws)
        examples = load_key_examples(path)
        source = str(path)
    tol = examples.tolerance if tolerance is None else float(tolerance)
    missing = [f for f in ws.feature_names if f not in examples.inputs.columns]
    if missing:
        raise AnalysisError(
            KEY_FEATURES.format(
                path=source, expected=", ".join(examples.inputs.columns), actual=", ".join(ws.feature_names)
            )
        )
    made_with = f"model '{examples.model}' ({examples.model_fingerprint}), " + ", ".join(
        f"{k} {v}" for k, v in examples.versions.items()
    )
    est = ws.model(model)
    try:
        pred, proba = predict_frame(
            est, examples.inputs[ws.feature_names], model_name=model, dataset="key examples"
        )
    except AnalysisError as exc:
        return KeyExamplesResult(
            model,
            source,
            made_with,
            len(examples.inputs),
            pd.DataFrame(columns=KEY_COLUMNS),
            tol,
            error=str(exc),
        )
    except Exception as exc:  # noqa: BLE001 - the user's model runs here: whatever it raises is the result
        return KeyExamplesResult(
            model,
            source,
            made_with,
            len(examples.inputs),
            pd.DataFrame(columns=KEY_COLUMNS),
            tol,
            error=f"{type(exc).__name__}: {exc}",
        )
    rows = []
    for i in range(len(examples.inputs)):
        exp_v, act_v = examples.expected[i], jsonable(np.asarray(pred)[i])
        if examples.task == "regression":
            e, a = float(exp_v), float(act_v)
            diff = abs(e - a)
            ok = diff <= tol * max(1.0, abs(e))
        else:
            diff = 0.0
            ok = str(exp_v) == str(act_v)
            if examples.proba is not None and proba is not None and examples.classes is not None:
                order = [
                    list(map(str, np.asarray(est.classes_).tolist())).index(str(c))
                    if str(c) in map(str, np.asarray(est.classes_).tolist())
                    else -1
                    for c in examples.classes
                ]
                if -1 in order:
                    ok, diff = False, float("inf")
                else:
                    diff = float(np.max(np.abs(proba[i, order] - examples.proba[i])))
                    ok = ok and diff <= tol
        rows.append(
            {
                "id": examples.ids[i],
                "why": examples.why[i],
                "expected": exp_v,
                "actual": act_v,
                "max_abs_diff": diff,
                "status": "reproduced" if ok else "differs",
            }
        )
    return KeyExamplesResult(
        model, source, made_with, len(rows), pd.DataFrame(rows, columns=KEY_COLUMNS), tol
    )
