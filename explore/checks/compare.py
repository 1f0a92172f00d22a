"""Candidate vs previous vs a fixed reference model: metrics × slices × datasets, tested paired.

Both models score the same rows, so every difference is tested *paired*:

* accuracy and (binary) recall: McNemar's test on the discordant rows (exact binomial, mid-p), with
  the Agresti–Min interval for the difference of paired proportions;
* ROC AUC (binary): paired DeLong test (Sun & Xu's midrank algorithm), covariance of the two AUCs;
* per-row losses (log loss, Brier, MAE): the mean of the per-row paired differences, normal interval;
  RMSE by the delta method on the paired squared errors; R² as −ΔMSE / var(label) on the same rows;
* precision, F1 (and multiclass macro recall): a paired bootstrap — each row is one cell of
  (label × candidate prediction × other prediction), so resampling rows is a multinomial draw of the
  cell counts (exact and cheap at any row count).

A **threshold file** (TOML; schema in ``docs/checks.md``, referenced by ``[checks] thresholds`` in
workspace.toml) sets the allowed worsening per metric, relative to the previous model and to a fixed
reference model, with overrides per dataset and slice, plus limits on a slice's gap to the rest of the
data. Each cell is **fail** when the whole confidence interval of the worsening lies beyond the
allowance, **pass** when it lies within, and **underpowered** when the interval straddles it.

Signatures (each result has ``.passed: bool | None``, ``.summary()`` and ``.to_dict()``)::

    compare_models(ws, *, candidate="current", previous=None, reference=None, datasets=None,
                   slices=None, metrics=None, thresholds=None, confidence=None, scorer=None,
                   progress=None) -> ComparisonResult
    load_thresholds(path) -> Thresholds          save_thresholds(thresholds, path) -> Path
    parse_thresholds(text, *, source="…") -> Thresholds
    thresholds_for(ws) -> Thresholds             default_thresholds(task) -> Thresholds
    compare_scored(a, b, groupings, *, role, metrics, confidence) -> pd.DataFrame   (the paired engine)

The paired tests themselves (McNemar, Agresti–Min, DeLong) are in ``explore/stats/paired.py``; the slices
(all rows, the groups of a column, saved slices) come from ``explore.slices.grouping.groupings_for``, so
they are the groups the Slices page shows.
"""

from __future__ import annotations

import math
import re
import tomllib
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from explore.core.progress import Progress, no_progress
from explore.core.roles import evaluation_datasets
from explore.core.serialise import jsonable, toml_dumps
from explore.core.workspace import MAIN_MODEL, Scored, Workspace, score
from explore.errors import NO_MODEL_FILE, AnalysisError, WorkspaceError
from explore.slices.definition import SliceDefinition
from explore.slices.grouping import ALL_ROWS, Grouping, groupings_for
from explore.stats.metrics import clamp_interval, grouped_metrics, metric_direction
from explore.stats.paired import agresti_min, check_confidence, grouped_delong, mcnemar_pvalue, z_value

Scorer = Callable[[str, str | None], Scored]

MIN_ROWS = 30
BOOTSTRAP_REPLICATES = 1000
MAX_DIFFERING_ROWS = 500
THRESHOLDS_FORMAT = 1

STATUS_PASS = "pass"
STATUS_FAIL = "fail"
STATUS_UNDERPOWERED = "underpowered"
STATUS_NO_THRESHOLD = "no threshold"
STATUS_NA = "not computable"
STATUSES = (STATUS_FAIL, STATUS_UNDERPOWERED, STATUS_PASS, STATUS_NO_THRESHOLD, STATUS_NA)

# Metrics the comparison tests, per task, with the paired test used for each.
PAIRED_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "ROC AUC", "log loss", "Brier", "precision", "recall", "F1"),
    "multiclass": ("accuracy", "log loss", "Brier", "precision", "recall", "F1"),
    "regression": ("MAE", "RMSE", "R²"),
}
TEST_NAMES = {
    "mcnemar": "McNemar (mid-p), Agresti–Min interval",
    "delong": "paired DeLong",
    "paired": "paired differences, normal interval",
    "delta": "paired delta method",
    "bootstrap": "paired bootstrap",
}

# ---- messages ---------------------------------------------------------------------------------------

NEED_TWO_MODELS = (
    "Model comparison needs a second model, but {detail}. Add the previous model to workspace.toml as "
    '[models.previous] path = "previous.skops" (and a fixed older one, e.g. [models.reference]), then name '
    'them in the threshold file (previous = "previous", reference = "reference") or pick them here.'
)
NO_MODELS = NO_MODEL_FILE.format(
    needs="Model comparison needs model files", then=", and the previous model as [models.previous]"
)
UNKNOWN_MODEL = "There is no model named {name!r} ({role}). Models in this workspace: {known}. {fix}"
SAME_MODEL = "The {role} model is the candidate itself ({name!r}). Pick a different model to compare against."
UNKNOWN_DATASET = "There is no dataset named {name!r}. Datasets in this workspace: {known}."
ROWS_DIFFER = (
    "Models '{a}' and '{b}' were scored on different rows of dataset '{dataset}' ({na} vs {nb}); a paired "
    "comparison needs the same rows. Score both on the same file."
)

THRESHOLDS_SYNTAX = (
    "The threshold file '{path}' is not valid TOML: {reason}. See docs/checks.md for the format."
)
THRESHOLDS_MISSING = (
    "The threshold file '{path}' named by [checks] thresholds does not exist. Create it on the Checks page "
    "(Comparison → Thresholds → Save) or fix the path in workspace.toml."
)
THRESHOLDS_UNKNOWN_KEY = (
    "The threshold file '{path}' has an unknown key {key!r} in {where}. Known keys there: {known}."
)
THRESHOLDS_BAD_VALUE = "The threshold file '{path}': {where} = {received!r} is not valid; {fix}"
THRESHOLDS_UNKNOWN_METRIC = (
    "The threshold file '{path}' names the metric {name!r} in {where}, which the comparison does not test. "
    "Metrics: {known}."
)
THRESHOLD_VALUE_FIX = "use a number ≥ 0 in the metric's units (e.g. 0.02) or a percentage of the other model's value (e.g. \"5%\")."

# ---- shared helpers of the Checks modules ------------------------------------------------------------


_ORDERS: weakref.WeakKeyDictionary[Scored, np.ndarray] = weakref.WeakKeyDictionary()


def _score_order(scored: Scored) -> np.ndarray:
    """argsort of ``scored.score``, computed once per Scored (the costliest step of a grouped DeLong)."""
    if scored not in _ORDERS:
        _ORDERS[scored] = np.argsort(scored.score, kind="stable")
    return _ORDERS[scored]


def _confusion_metric(C: np.ndarray, metric: str, task: str, positive: int | None) -> np.ndarray:
    """precision / recall / F1 from confusion counts ``C[..., true, pred]`` (pred axis has K+1 columns:
    the last is a prediction outside the classes). Binary: the positive class; multiclass: macro
    average over the classes where the per-class value is defined (as ``explore.stats.metrics`` does)."""
    K = C.shape[-2]
    diag = np.einsum("...kk->...k", C[..., :K])
    rows = C.sum(axis=-1)
    cols = C[..., :K].sum(axis=-2)
    if metric == "precision":
        num, den = diag, cols
    elif metric == "recall":
        num, den = diag, rows
    else:
        num, den = 2 * diag, rows + cols
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    if task == "binary":
        return per_class[..., positive]
    valid = ~np.isnan(per_class)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid.any(axis=-1), np.nansum(per_class, axis=-1) / valid.sum(axis=-1), np.nan)


# ---- thresholds -------------------------------------------------------------------------------------

_METRIC_ALIASES = {
    "r2": "R²",
    "r^2": "R²",
    "auc": "ROC AUC",
    "roc": "ROC AUC",
    "mse": "RMSE",
    "logloss": "log loss",
}


def canonical_metric(name: str) -> str | None:
    """The comparison's name for a metric written loosely (``roc_auc``, ``log-loss``, ``r2``, ``f1``)."""
    key = re.sub(r"[\s_\-]+", " ", str(name).strip().lower())
    key = _METRIC_ALIASES.get(key.replace(" ", ""), key)
    for task_metrics in PAIRED_METRICS.values():
        for m in task_metrics:
            if m.lower() == key.lower():
                return m
    return None


@dataclass(frozen=True)
class Allowance:
    """An allowed worsening: ``value`` in the metric's units, or ``percent`` of the other model's value."""

    value: float | None = None
    percent: float | None = None

    def amount(self, other_value: float) -> float:
        if self.percent is not None:
            return abs(other_value) * self.percent / 100.0 if np.isfinite(other_value) else np.nan
        return float(self.value)

    def text(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else f"{self.value:g}"

    def to_toml(self) -> float | str:
        return f"{self.percent:g}%" if self.percent is not None else float(self.value)


@dataclass(frozen=True)
class Rule:
    """Allowances for one metric; ``dataset``/``slice`` restrict an override ("*" = any).

    ``slice`` matches a cell key (``"device = tablet"``), a slice column (``"device"``: all its groups),
    ``"all rows"``, or a saved slice's name.
    """

    metric: str
    vs_previous: Allowance | None = None
    vs_reference: Allowance | None = None
    gap: Allowance | None = None
    dataset: str = "*"
    slice: str = "*"

    def matches(self, metric: str, dataset: str, column: str, key: str) -> bool:
        if self.metric != metric or self.dataset not in ("*", dataset):
            return False
        return self.slice in ("*", key) or (bool(column) and self.slice == column)


@dataclass(frozen=True)
class Thresholds:
    """The parsed threshold file. ``rules``: defaults per metric first, then overrides (later wins)."""

    rules: tuple[Rule, ...] = ()
    previous: str | None = None
    reference: str | None = None
    candidate: str | None = None
    confidence: float = 0.95
    min_rows: int = MIN_ROWS
    slices: tuple[str, ...] = ()
    source: str = "defaults"

    def allowance(self, kind: str, metric: str, dataset: str, column: str, key: str) -> Allowance | None:
        """The allowance of ``kind`` ("vs_previous" | "vs_reference" | "gap") for one cell, or None."""
        found = None
        for rule in self.rules:
            if rule.matches(metric, dataset, column, key):
                value = getattr(rule, kind)
                if value is not None:
                    found = value
        return found

    def metric_defaults(self) -> dict[str, Rule]:
        return {r.metric: r for r in self.rules if r.dataset == "*" and r.slice == "*"}

    def overrides(self) -> list[Rule]:
        return [r for r in self.rules if not (r.dataset == "*" and r.slice == "*")]

    def to_toml(self) -> str:
        defaults = self.metric_defaults()
        data: dict[str, Any] = {
            "format": THRESHOLDS_FORMAT,
            "candidate": self.candidate,
            "previous": self.previous,
            "reference": self.reference,
            "confidence": self.confidence,
            "min_rows": self.min_rows,
            "slices": list(self.slices) if self.slices else None,
            "metrics": {
                m: {
                    k: getattr(r, k).to_toml()
                    for k in ("vs_previous", "vs_reference", "gap")
                    if getattr(r, k)
                }
                for m, r in defaults.items()
            },
        }
        data["metrics"] = {k: v for k, v in data["metrics"].items() if v} or None
        over = []
        for r in self.overrides():
            item: dict[str, Any] = {"metric": r.metric, "dataset": r.dataset, "slice": r.slice}
            item.update(
                {k: getattr(r, k).to_toml() for k in ("vs_previous", "vs_reference", "gap") if getattr(r, k)}
            )
            over.append(item)
        data["override"] = over or None
        return toml_dumps(data, header=THRESHOLDS_HEADER)

    def to_dict(self) -> dict[str, Any]:
        rules = [
            {
                "metric": r.metric,
                "dataset": r.dataset,
                "slice": r.slice,
                **{
                    k: (getattr(r, k).text() if getattr(r, k) else None)
                    for k in ("vs_previous", "vs_reference", "gap")
                },
            }
            for r in self.rules
        ]
        return jsonable(
            {
                "rules": rules,
                "previous": self.previous,
                "reference": self.reference,
                "candidate": self.candidate,
                "confidence": self.confidence,
                "min_rows": self.min_rows,
                "slices": list(self.slices),
                "source": self.source,
            }
        )

    def rules_frame(self) -> pd.DataFrame:
        """One row per rule (for the threshold editor): metric, dataset, slice, vs_previous, vs_reference, gap."""
        rows = [
            {
                "metric": r.metric,
                "dataset": r.dataset,
                "slice": r.slice,
                **{
                    k: (getattr(r, k).text() if getattr(r, k) else "")
                    for k in ("vs_previous", "vs_reference", "gap")
                },
            }
            for r in self.rules
        ]
        return pd.DataFrame(
            rows, columns=["metric", "dataset", "slice", "vs_previous", "vs_reference", "gap"]
        )


THRESHOLDS_HEADER = """Thresholds for model comparison (ml-explore Checks page). Referenced from workspace.toml:
  [checks]
  thresholds = "thresholds.toml"
Allowed worsening of the candidate, per metric: a number in the metric's units (0.02 = two points of
accuracy) or a percentage of the other model's value ("5%"). vs_previous: against the previous model;
vs_reference: against the fixed reference model (catches a slow slide); gap: a slice's distance to the
rest of the data, for the candidate alone. [[override]] entries narrow a rule to a dataset and/or slice
("device" = every group of that column, "device = tablet" = one group, or a saved slice's name).
A cell fails when the whole confidence interval of the worsening is beyond the allowance. See docs/checks.md."""

_TOP_KEYS = (
    "format",
    "candidate",
    "previous",
    "reference",
    "confidence",
    "min_rows",
    "slices",
    "metrics",
    "override",
)
_RULE_KEYS = ("vs_previous", "vs_reference", "gap")
_OVERRIDE_KEYS = ("metric", "dataset", "slice", *_RULE_KEYS)
_ALL_METRICS = sorted({m for ms in PAIRED_METRICS.values() for m in ms})


def _allowance(value: Any, where: str, path: str) -> Allowance:
    if isinstance(value, bool):
        raise AnalysisError(
            THRESHOLDS_BAD_VALUE.format(path=path, where=where, received=value, fix=THRESHOLD_VALUE_FIX)
        )
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return Allowance(value=float(value))
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*%\s*", value)
        if m:
            return Allowance(percent=float(m.group(1)))
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if math.isfinite(number) and number >= 0:
            return Allowance(value=number)
    raise AnalysisError(
        THRESHOLDS_BAD_VALUE.format(path=path, where=where, received=value, fix=THRESHOLD_VALUE_FIX)
    )


def _metric_name(name: str, where: str, path: str) -> str:
    metric = canonical_metric(name)
    if metric is None:
        raise AnalysisError(
            THRESHOLDS_UNKNOWN_METRIC.format(path=path, name=name, where=where, known=", ".join(_ALL_METRICS))
        )
    return metric


def parse_thresholds(text: str, *, source: str = "thresholds.toml") -> Thresholds:
    """Parse and validate the text of a threshold file (schema in docs/checks.md)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnalysisError(THRESHOLDS_SYNTAX.format(path=source, reason=exc)) from None
    return thresholds_from_dict(data, source=source)


def thresholds_from_dict(data: Mapping[str, Any], *, source: str = "thresholds") -> Thresholds:
    """Validate a parsed threshold mapping (see ``parse_thresholds``)."""
    for key in data:
        if key not in _TOP_KEYS:
            raise AnalysisError(
                THRESHOLDS_UNKNOWN_KEY.format(
                    path=source, key=key, where="the top level", known=", ".join(_TOP_KEYS)
                )
            )
    for key in ("candidate", "previous", "reference"):
        if key in data and not isinstance(data[key], str):
            raise AnalysisError(
                THRESHOLDS_BAD_VALUE.format(
                    path=source, where=key, received=data[key], fix="use a model name from workspace.toml."
                )
            )
    confidence = data.get("confidence", 0.95)
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0.5 <= confidence <= 0.999
    ):
        raise AnalysisError(
            THRESHOLDS_BAD_VALUE.format(
                path=source,
                where="confidence",
                received=confidence,
                fix="use a number between 0.5 and 0.999.",
            )
        )
    min_rows = data.get("min_rows", MIN_ROWS)
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise AnalysisError(
            THRESHOLDS_BAD_VALUE.format(
                path=source, where="min_rows", received=min_rows, fix="use a whole number ≥ 1."
            )
        )
    slices = data.get("slices", [])
    if not isinstance(slices, list) or not all(isinstance(s, str) for s in slices):
        raise AnalysisError(
            THRESHOLDS_BAD_VALUE.format(
                path=source, where="slices", received=slices, fix="use a list of column names."
            )
        )
    rules: list[Rule] = []
    metrics = data.get("metrics", {})
    if not isinstance(metrics, Mapping):
        raise AnalysisError(
            THRESHOLDS_BAD_VALUE.format(
                path=source, where="metrics", received=metrics, fix="use [metrics.<name>] tables."
            )
        )
    for name, table in metrics.items():
        where = f"[metrics.{name}]"
        metric = _metric_name(name, where, source)
        if not isinstance(table, Mapping):
            raise AnalysisError(
                THRESHOLDS_BAD_VALUE.format(
                    path=source,
                    where=where,
                    received=table,
                    fix="use a table of vs_previous / vs_reference / gap.",
                )
            )
        for key in table:
            if key not in _RULE_KEYS:
                raise AnalysisError(
                    THRESHOLDS_UNKNOWN_KEY.format(
                        path=source, key=key, where=where, known=", ".join(_RULE_KEYS)
                    )
                )
        rules.append(
            Rule(
                metric, **{k: _allowance(table[k], f"{where} {k}", source) for k in _RULE_KEYS if k in table}
            )
        )
    overrides = data.get("override", [])
    if not isinstance(overrides, list):
        raise AnalysisError(
            THRESHOLDS_BAD_VALUE.format(
                path=source, where="override", received=overrides, fix="use [[override]] tables."
            )
        )
    for i, item in enumerate(overrides, start=1):
        where = f"[[override]] #{i}"
        if not isinstance(item, Mapping):
            raise AnalysisError(
                THRESHOLDS_BAD_VALUE.format(
                    path=source, where=where, received=item, fix="use [[override]] tables."
                )
            )
        for key in item:
            if key not in _OVERRIDE_KEYS:
                raise AnalysisError(
                    THRESHOLDS_UNKNOWN_KEY.format(
                        path=source, key=key, where=where, known=", ".join(_OVERRIDE_KEYS)
                    )
                )
        if "metric" not in item:
            raise AnalysisError(
                THRESHOLDS_BAD_VALUE.format(
                    path=source,
                    where=where,
                    received=dict(item),
                    fix='add metric = "accuracy" (or another metric).',
                )
            )
        for key in ("dataset", "slice"):
            if key in item and not isinstance(item[key], str):
                raise AnalysisError(
                    THRESHOLDS_BAD_VALUE.format(
                        path=source, where=f"{where} {key}", received=item[key], fix="use a string."
                    )
                )
        rules.append(
            Rule(
                _metric_name(item["metric"], where, source),
                dataset=str(item.get("dataset", "*")).strip() or "*",
                slice=_normalise_slice(str(item.get("slice", "*"))),
                **{k: _allowance(item[k], f"{where} {k}", source) for k in _RULE_KEYS if k in item},
            )
        )
    return Thresholds(
        rules=tuple(rules),
        previous=data.get("previous"),
        reference=data.get("reference"),
        candidate=data.get("candidate"),
        confidence=float(confidence),
        min_rows=int(min_rows),
        slices=tuple(slices),
        source=source,
    )


def _normalise_slice(text: str) -> str:
    text = text.strip() or "*"
    m = re.fullmatch(r"\s*([^=]+?)\s*=\s*(.+?)\s*", text)
    return f"{m.group(1)} = {m.group(2)}" if m else text


def load_thresholds(path: Path | str) -> Thresholds:
    """Read a threshold file (TOML)."""
    path = Path(path)
    if not path.exists():
        raise WorkspaceError(THRESHOLDS_MISSING.format(path=path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisError(THRESHOLDS_SYNTAX.format(path=path, reason=exc)) from None
    return parse_thresholds(text, source=str(path))


def save_thresholds(thresholds: Thresholds, path: Path | str) -> Path:
    """Write ``thresholds`` as a commented TOML file; return the path."""
    path = Path(path)
    path.write_text(thresholds.to_toml(), encoding="utf-8")
    return path


def thresholds_from_frame(frame: pd.DataFrame, base: Thresholds) -> Thresholds:
    """Rebuild thresholds from the editor's table (``Thresholds.rules_frame`` columns); validates every cell."""
    metrics: dict[str, dict[str, Any]] = {}
    overrides: list[dict[str, Any]] = []
    for row in frame.to_dict(orient="records"):
        name = str(row.get("metric") or "").strip()
        if not name:
            continue
        values = {
            k: str(row[k]).strip()
            for k in _RULE_KEYS
            if row.get(k) is not None and str(row[k]).strip() not in ("", "nan", "None")
        }
        dataset = str(row.get("dataset") or "*").strip() or "*"
        slice_ = str(row.get("slice") or "*").strip() or "*"
        if dataset == "*" and slice_ == "*":
            metrics.setdefault(name, {}).update(values)
        else:
            overrides.append({"metric": name, "dataset": dataset, "slice": slice_, **values})
    data: dict[str, Any] = {
        "confidence": base.confidence,
        "min_rows": base.min_rows,
        "slices": list(base.slices),
        "metrics": metrics,
        "override": overrides,
    }
    for key in ("candidate", "previous", "reference"):
        if getattr(base, key):
            data[key] = getattr(base, key)
    return thresholds_from_dict(data, source="the threshold editor")


_DEFAULT_ALLOWANCES: dict[str, tuple[Any, Any]] = {
    "accuracy": (0.01, 0.02),
    "ROC AUC": (0.01, 0.02),
    "precision": (0.02, 0.04),
    "recall": (0.02, 0.04),
    "F1": (0.02, 0.04),
    "log loss": ("5%", "10%"),
    "Brier": ("5%", "10%"),
    "MAE": ("5%", "10%"),
    "RMSE": ("5%", "10%"),
    "R²": (0.01, 0.02),
}


def default_thresholds(task: str) -> Thresholds:
    """Allowances used when the workspace names no threshold file (documented in docs/checks.md)."""
    rules = []
    for metric in PAIRED_METRICS[task]:
        prev, ref = _DEFAULT_ALLOWANCES[metric]
        rules.append(
            Rule(
                metric,
                vs_previous=_allowance(prev, metric, "defaults"),
                vs_reference=_allowance(ref, metric, "defaults"),
            )
        )
    return Thresholds(rules=tuple(rules), source="defaults")


def thresholds_for(ws: Workspace) -> Thresholds:
    """The workspace's threshold file (``[checks] thresholds``) if it exists, else the defaults for its task."""
    path = ws.config.checks.thresholds
    if path is not None and Path(path).exists():
        return load_thresholds(path)
    return default_thresholds(ws.task)


def default_thresholds_path(ws: Workspace) -> Path:
    """Where the threshold file lives: ``[checks] thresholds``, else ``thresholds.toml`` next to workspace.toml."""
    return Path(ws.config.checks.thresholds or ws.config.root / "thresholds.toml")


# ---- the paired engine ------------------------------------------------------------------------------

CELL_COLUMNS = [
    "dataset",
    "slice",
    "slice_column",
    "n",
    "metric",
    "role",
    "other_model",
    "candidate_value",
    "candidate_ci_low",
    "candidate_ci_high",
    "other_value",
    "change",
    "ci_low",
    "ci_high",
    "p_value",
    "test",
    "allowed",
    "threshold",
    "worsening_low",
    "worsening_high",
    "status",
    "note",
]


def _available(scored: Scored, metric: str) -> str:
    """Why ``metric`` cannot be computed for ``scored`` ("" when it can)."""
    if metric in scored.unavailable:
        return scored.unavailable[metric]
    if metric in ("log loss", "Brier") and scored.proba is None:
        return "the model gives no probabilities"
    if metric == "ROC AUC" and scored.score is None:
        return "the model gives no scores"
    return ""


def _per_row_loss(scored: Scored, metric: str) -> np.ndarray:
    if metric == "log loss":
        p = scored.proba[np.arange(scored.n), scored.y]
        return -np.log(np.clip(p, 1e-15, 1.0))
    if metric == "Brier":
        if scored.task == "binary":
            return (scored.proba[:, scored.positive_index] - (scored.y == scored.positive_index)) ** 2
        onehot = np.zeros_like(scored.proba)
        onehot[np.arange(scored.n), scored.y] = 1.0
        return ((scored.proba - onehot) ** 2).sum(axis=1)
    if metric == "MAE":
        return np.abs(scored.pred - scored.y)
    raise AssertionError(metric)


def _sums(
    codes: np.ndarray, G: int, weights: np.ndarray | None, keep: np.ndarray | None = None
) -> np.ndarray:
    sel = codes >= 0 if keep is None else (codes >= 0) & keep
    return np.bincount(codes[sel], weights=None if weights is None else weights[sel], minlength=G)[:G].astype(
        "float64"
    )


def _paired_stats(
    a: Scored, b: Scored, grouping: Grouping, metric: str, z: float, rng: np.random.Generator
) -> dict[str, np.ndarray | str]:
    """Change (a − b) of ``metric`` per group with its interval, p-value and the test used."""
    codes, G = grouping.codes, len(grouping.labels)
    nan = np.full(G, np.nan)
    out: dict[str, Any] = {
        "change": nan.copy(),
        "lo": nan.copy(),
        "hi": nan.copy(),
        "p": nan.copy(),
        "test": "",
    }
    if metric in ("accuracy",) or (metric == "recall" and a.task == "binary"):
        keep = None if metric == "accuracy" else (a.y == a.positive_index)
        ca, cb = a.pred == a.y, b.pred == b.y
        n = _sums(codes, G, None, keep)
        bb = _sums(codes, G, (ca & ~cb).astype("float64"), keep)
        cc = _sums(codes, G, (~ca & cb).astype("float64"), keep)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["change"] = np.where(n > 0, (bb - cc) / n, np.nan)
        lo, hi = agresti_min(bb, cc, n, z)
        out["lo"], out["hi"] = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
        out["p"] = np.array(
            [mcnemar_pvalue(int(x), int(y)) if m > 0 else np.nan for x, y, m in zip(bb, cc, n, strict=True)]
        )
        out["test"] = "mcnemar"
        out["discordant"] = bb + cc
    elif metric in ("log loss", "Brier", "MAE"):
        d = _per_row_loss(a, metric) - _per_row_loss(b, metric)
        finite = np.isfinite(d)
        d = np.where(finite, d, 0.0)
        n = _sums(codes, G, None, finite)
        s1 = _sums(codes, G, d, finite)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s1 / n
            dev = d - mean[np.where(codes >= 0, codes, 0)]
            var = _sums(codes, G, dev * dev, finite) / (n - 1)
            se = np.sqrt(var / n)
            out["change"] = np.where(n > 0, mean, np.nan)
            out["lo"] = np.where(n > 1, mean - z * se, np.nan)
            out["hi"] = np.where(n > 1, mean + z * se, np.nan)
            zs = np.where(se > 0, np.abs(mean) / np.where(se > 0, se, 1), np.where(mean == 0, 0.0, np.inf))
        out["p"] = np.where(n > 1, 2 * stats.norm.sf(zs), np.nan)
        out["test"] = "paired"
    elif metric in ("RMSE", "R²"):
        ea, eb = (a.pred - a.y) ** 2, (b.pred - b.y) ** 2
        finite = np.isfinite(ea) & np.isfinite(eb)
        ea, eb = np.where(finite, ea, 0.0), np.where(finite, eb, 0.0)
        n = _sums(codes, G, None, finite)
        with np.errstate(invalid="ignore", divide="ignore"):
            ma, mb = _sums(codes, G, ea, finite) / n, _sums(codes, G, eb, finite) / n
            idx = np.where(codes >= 0, codes, 0)
            da, db = ea - ma[idx], eb - mb[idx]
            vaa = _sums(codes, G, da * da, finite) / (n - 1)
            vbb = _sums(codes, G, db * db, finite) / (n - 1)
            vab = _sums(codes, G, da * db, finite) / (n - 1)
            if metric == "RMSE":
                ra, rb = np.sqrt(ma), np.sqrt(mb)
                ga, gb = 1 / (2 * ra), -1 / (2 * rb)
                change = ra - rb
                var = (ga * ga * vaa + gb * gb * vbb + 2 * ga * gb * vab) / n
            else:
                y = np.where(finite, a.y, 0.0)
                my = _sums(codes, G, y, finite) / n
                vy = _sums(codes, G, (y - my[idx]) ** 2, finite) / n  # ddof=0, as r2_score
                change = -(ma - mb) / vy
                var = (vaa + vbb - 2 * vab) / n / vy**2
                change = np.where(vy > 0, change, np.nan)
            se = np.sqrt(np.maximum(var, 0))
            out["change"] = np.where(n > 0, change, np.nan)
            out["lo"] = np.where(n > 2, change - z * se, np.nan)
            out["hi"] = np.where(n > 2, change + z * se, np.nan)
            zs = np.where(
                se > 0, np.abs(change) / np.where(se > 0, se, 1), np.where(change == 0, 0.0, np.inf)
            )
        out["p"] = np.where(n > 2, 2 * stats.norm.sf(zs), np.nan)
        out["test"] = "delta"
    elif metric == "ROC AUC":
        sa, sb = a.score, b.score
        finite = np.isfinite(sa) & np.isfinite(sb)
        gcodes = np.where(finite, codes, -1)
        r = grouped_delong(
            gcodes, G, a.y == a.positive_index, sa, sb, orders=(_score_order(a), _score_order(b))
        )
        change = r["auc_a"] - r["auc_b"]
        with np.errstate(invalid="ignore"):
            se = np.sqrt(np.maximum(r["var_a"] + r["var_b"] - 2 * r["cov"], 0))
            zs = np.where(
                se > 0, np.abs(change) / np.where(se > 0, se, 1), np.where(change == 0, 0.0, np.inf)
            )
        out["change"] = change
        out["lo"], out["hi"] = change - z * se, change + z * se
        out["p"] = np.where(np.isfinite(se), 2 * stats.norm.sf(zs), np.nan)
        out["test"] = "delong"
    elif metric in ("precision", "recall", "F1"):
        K = len(a.classes)
        K1 = K + 1
        pa = np.where(a.pred < 0, K, a.pred)
        pb = np.where(b.pred < 0, K, b.pred)
        cell = (a.y * K1 + pa) * K1 + pb
        ncell = K * K1 * K1
        keep = codes >= 0
        counts = np.bincount(codes[keep] * ncell + cell[keep], minlength=G * ncell)[: G * ncell].reshape(
            G, ncell
        )
        reps = int(np.clip(4_000_000 // ncell, 200, BOOTSTRAP_REPLICATES))
        alpha = 1 - (2 * stats.norm.cdf(z) - 1)
        for g in range(G):
            n = int(counts[g].sum())
            if n == 0:
                continue
            joint = counts[g].reshape(K, K1, K1).astype("float64")
            va = _confusion_metric(joint.sum(axis=2), metric, a.task, a.positive_index)
            vb = _confusion_metric(joint.sum(axis=1), metric, a.task, a.positive_index)
            out["change"][g] = va - vb
            if not np.isfinite(va - vb):
                continue
            draws = rng.multinomial(n, counts[g] / n, size=reps).reshape(reps, K, K1, K1).astype("float64")
            diff = _confusion_metric(draws.sum(axis=3), metric, a.task, a.positive_index) - _confusion_metric(
                draws.sum(axis=2), metric, a.task, a.positive_index
            )
            diff = diff[np.isfinite(diff)]
            if len(diff) < 0.9 * reps:
                continue
            out["lo"][g], out["hi"][g] = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
            # Two-sided bootstrap p-value: how often the resampled change falls on the other side of 0.
            share = min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0)))
            out["p"][g] = min(1.0, 2 * share)
        out["test"] = "bootstrap"
    else:
        raise AnalysisError(
            f"The comparison does not test the metric {metric!r}. Metrics: {', '.join(_ALL_METRICS)}."
        )
    # Agresti–Min shifts its centre and bootstrap quantiles are asymmetric: keep lo <= change <= hi.
    out["lo"], out["hi"] = clamp_interval(out["change"], out["lo"], out["hi"])
    return out


def _decide(worse_lo: float, worse_hi: float, allowed: float | None) -> str:
    if allowed is None:
        return STATUS_NO_THRESHOLD
    if not (np.isfinite(worse_lo) and np.isfinite(worse_hi)) or not np.isfinite(allowed):
        return STATUS_NA
    if worse_lo > allowed:
        return STATUS_FAIL
    if worse_hi <= allowed:
        return STATUS_PASS
    return STATUS_UNDERPOWERED


def compare_scored(
    a: Scored,
    b: Scored,
    groupings: Sequence[Grouping],
    *,
    role: str,
    metrics: Sequence[str],
    confidence: float = 0.95,
    thresholds: Thresholds | None = None,
    min_rows: int = MIN_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparison of ``a`` (candidate) with ``b`` on the same rows: one row per group × metric.

    ``role`` is "previous", "reference" or "baseline" (the threshold kind is ``vs_<role>``). Columns:
    ``CELL_COLUMNS``. ``change`` = candidate − other in metric units, ``ci_low``/``ci_high`` its interval;
    ``worsening_low``/``worsening_high`` the interval of the worsening (positive = candidate worse);
    ``allowed`` the allowance in metric units; ``status`` pass / fail / underpowered / no threshold /
    not computable.
    """
    if a.n != b.n or (a.ids is not None and b.ids is not None and not np.array_equal(a.ids, b.ids)):
        raise AnalysisError(
            ROWS_DIFFER.format(a=a.model_name, b=b.model_name, dataset=a.dataset_name, na=a.n, nb=b.n)
        )
    z = z_value(confidence)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    kind = f"vs_{role}"
    reasons = {m: _available(a, m) or _available(b, m) for m in metrics}
    computable = [m for m in metrics if not reasons[m]]
    for grouping in groupings:
        G = len(grouping.labels)
        support = np.bincount(grouping.codes[grouping.codes >= 0], minlength=G)[:G]
        if computable:
            va = grouped_metrics(a, grouping.codes, G, metrics=computable, confidence=confidence)
            vb = grouped_metrics(b, grouping.codes, G, metrics=computable, confidence=confidence)
            va, vb = va.set_index(["group", "metric"]), vb.set_index(["group", "metric"])
        for metric in metrics:
            why = reasons[metric]
            direction = metric_direction(metric)
            if why:
                nan = np.full(G, np.nan)
                st: dict[str, Any] = {"change": nan, "lo": nan, "hi": nan, "p": nan, "test": ""}
            else:
                st = _paired_stats(a, b, grouping, metric, z, rng)
            for g in range(G):
                change, lo, hi = float(st["change"][g]), float(st["lo"][g]), float(st["hi"][g])
                w_lo, w_hi = (lo, hi) if direction is False else (-hi, -lo)
                ra = va.loc[(g, metric)] if not why else None
                rb = vb.loc[(g, metric)] if not why else None
                other_value = float(rb["value"]) if rb is not None else np.nan
                allowance = (
                    thresholds.allowance(kind, metric, a.dataset_name, grouping.column, grouping.keys[g])
                    if thresholds
                    else None
                )
                allowed = allowance.amount(other_value) if allowance else None
                note = why or (str(ra["note"]) or str(rb["note"]) if ra is not None else "")
                if why:
                    status = STATUS_NA
                elif support[g] < min_rows:
                    status = (
                        STATUS_NA
                        if support[g] == 0
                        else (STATUS_UNDERPOWERED if allowance else STATUS_NO_THRESHOLD)
                    )
                    note = note or f"fewer than {min_rows} rows"
                else:
                    status = _decide(w_lo, w_hi, allowed)
                if status == STATUS_NA and not note:
                    note = "no interval (too few rows of a class?)"
                rows.append(
                    {
                        "dataset": a.dataset_name,
                        "slice": grouping.keys[g],
                        "slice_column": grouping.column,
                        "n": int(support[g]),
                        "metric": metric,
                        "role": role,
                        "other_model": b.model_name or "",
                        "candidate_value": float(ra["value"]) if ra is not None else np.nan,
                        "candidate_ci_low": float(ra["ci_low"]) if ra is not None else np.nan,
                        "candidate_ci_high": float(ra["ci_high"]) if ra is not None else np.nan,
                        "other_value": other_value,
                        "change": change,
                        "ci_low": lo,
                        "ci_high": hi,
                        "p_value": float(st["p"][g]),
                        "test": TEST_NAMES.get(str(st["test"]), ""),
                        "allowed": np.nan if allowed is None else float(allowed),
                        "threshold": allowance.text() if allowance else "",
                        "worsening_low": w_lo,
                        "worsening_high": w_hi,
                        "status": status,
                        "note": note,
                    }
                )
    out = pd.DataFrame(rows, columns=CELL_COLUMNS)
    # Metric-major order (as asked), then slices in grouping order.
    order = {m: i for i, m in enumerate(metrics)}
    out["_m"] = out["metric"].map(order)
    return out.sort_values("_m", kind="stable").drop(columns="_m").reset_index(drop=True)


GAP_COLUMNS = [
    "dataset",
    "slice",
    "slice_column",
    "metric",
    "n",
    "value",
    "rest_n",
    "rest_value",
    "gap",
    "gap_low",
    "gap_high",
    "allowed",
    "threshold",
    "status",
]


def slice_gaps(
    scored: Scored,
    groupings: Sequence[Grouping],
    *,
    metrics: Sequence[str],
    confidence: float = 0.95,
    thresholds: Thresholds | None = None,
    min_rows: int = MIN_ROWS,
) -> pd.DataFrame:
    """For one model: each slice group against the rest of the dataset (independent rows).

    ``gap`` = how much worse the group is than the rest (metric units, positive = worse); its interval
    combines the two sides' intervals as independent normal estimates (se = half-width / z).
    """
    z = z_value(confidence)
    rows = []
    for grouping in groupings:
        if not grouping.column:
            continue
        G = len(grouping.labels)
        for metric in metrics:
            if _available(scored, metric):
                continue
            direction = metric_direction(metric)
            for g in range(G):
                inside = grouping.codes == g
                n_in = int(inside.sum())
                codes2 = np.where(grouping.codes >= 0, np.where(inside, 0, 1), -1).astype(np.int64)
                res = grouped_metrics(scored, codes2, 2, metrics=[metric], confidence=confidence)
                v, lo, hi = res["value"].to_numpy(), res["ci_low"].to_numpy(), res["ci_high"].to_numpy()
                se = (hi - lo) / (2 * z)
                diff = v[0] - v[1]
                gap = -diff if direction is not False else diff
                half = z * math.sqrt(se[0] ** 2 + se[1] ** 2) if np.isfinite(se).all() else np.nan
                allowance = (
                    thresholds.allowance(
                        "gap", metric, scored.dataset_name, grouping.column, grouping.keys[g]
                    )
                    if thresholds
                    else None
                )
                allowed = allowance.amount(v[1]) if allowance else None
                status = (
                    STATUS_UNDERPOWERED
                    if (n_in < min_rows and allowance)
                    else _decide(gap - half, gap + half, allowed)
                )
                rows.append(
                    {
                        "dataset": scored.dataset_name,
                        "slice": grouping.keys[g],
                        "slice_column": grouping.column,
                        "metric": metric,
                        "n": n_in,
                        "value": float(v[0]),
                        "rest_n": int((codes2 == 1).sum()),
                        "rest_value": float(v[1]),
                        "gap": float(gap),
                        "gap_low": float(gap - half),
                        "gap_high": float(gap + half),
                        "allowed": np.nan if allowed is None else float(allowed),
                        "threshold": allowance.text() if allowance else "",
                        "status": status,
                    }
                )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


DIFF_COLUMNS = [
    "dataset",
    "role",
    "other_model",
    "row",
    "id",
    "label",
    "candidate_prediction",
    "other_prediction",
    "candidate_correct",
    "other_correct",
    "candidate_score",
    "other_score",
    "score_change",
]


def differing_rows(
    a: Scored, b: Scored, *, role: str, limit: int = MAX_DIFFERING_ROWS
) -> tuple[pd.DataFrame, int]:
    """Rows where the two models' predictions differ (classification: another class; regression: another
    value beyond 1e-9 relative), largest score change first. Returns (first ``limit`` rows, total count)."""
    if a.task == "regression":
        delta = a.pred - b.pred
        differ = np.abs(delta) > 1e-9 * np.maximum(1.0, np.abs(b.pred))
        size = np.abs(delta)
        pa, pb = a.pred, b.pred
        sa, sb = a.pred, b.pred
    else:
        differ = a.pred != b.pred
        classes = np.asarray(a.classes, dtype=object)
        pa = np.where(a.pred >= 0, classes[np.clip(a.pred, 0, None)], None)
        pb = np.where(b.pred >= 0, classes[np.clip(b.pred, 0, None)], None)
        if a.score is not None and b.score is not None:
            sa, sb = a.score, b.score
        elif a.proba is not None and b.proba is not None:
            sa = a.proba[np.arange(a.n), np.clip(a.pred, 0, None)]
            sb = b.proba[np.arange(b.n), np.clip(a.pred, 0, None)]
        else:
            sa = sb = np.full(a.n, np.nan)
        size = np.nan_to_num(np.abs(sa - sb), nan=0.0)
    idx = np.flatnonzero(differ)
    total = len(idx)
    idx = idx[np.argsort(-size[idx], kind="stable")][:limit]
    label = a.y_raw[idx]
    frame = pd.DataFrame(
        {
            "dataset": a.dataset_name,
            "role": role,
            "other_model": b.model_name or "",
            "row": idx,
            "id": a.ids[idx],
            "label": label,
            "candidate_prediction": pa[idx],
            "other_prediction": pb[idx],
            "candidate_correct": (a.pred == a.y)[idx]
            if a.task != "regression"
            else np.abs(a.pred - a.y)[idx] <= np.abs(b.pred - b.y)[idx],
            "other_correct": (b.pred == b.y)[idx]
            if a.task != "regression"
            else np.abs(b.pred - b.y)[idx] < np.abs(a.pred - a.y)[idx],
            "candidate_score": np.asarray(sa, dtype="float64")[idx],
            "other_score": np.asarray(sb, dtype="float64")[idx],
        },
        columns=DIFF_COLUMNS[:-1],
    )
    frame["score_change"] = frame["candidate_score"] - frame["other_score"]
    return frame[DIFF_COLUMNS], total


# ---- the public comparison --------------------------------------------------------------------------


@dataclass
class ComparisonResult:
    """The evaluation report: candidate vs previous and/or reference, per dataset × slice × metric.

    ``cells``: ``CELL_COLUMNS`` (one row per dataset × slice × metric × role). ``gaps``: ``GAP_COLUMNS``
    for the candidate. ``differing``: ``DIFF_COLUMNS`` (at most ``MAX_DIFFERING_ROWS`` per dataset and
    role); ``n_differing[(dataset, role)]`` the total count. ``models``: role → model name.
    """

    candidate: str
    models: dict[str, str]
    datasets: list[str]
    slices: list[str]
    metrics: list[str]
    confidence: float
    thresholds: Thresholds
    cells: pd.DataFrame
    gaps: pd.DataFrame
    differing: pd.DataFrame
    n_differing: dict[tuple[str, str], int]
    n_rows: dict[str, int]
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """How many cells (and gaps) have each status."""
        both = pd.concat([self.cells["status"], self.gaps["status"]], ignore_index=True)
        return {s: int((both == s).sum()) for s in STATUSES}

    @property
    def failures(self) -> pd.DataFrame:
        return self.cells[self.cells["status"] == STATUS_FAIL]

    @property
    def passed(self) -> bool | None:
        """False when any cell or gap fails; None when nothing could be decided at the top level
        (every "all rows" cell with a threshold is underpowered, or no cell has a threshold); else True."""
        if (self.cells["status"] == STATUS_FAIL).any() or (self.gaps["status"] == STATUS_FAIL).any():
            return False
        top = self.cells[(self.cells["slice"] == ALL_ROWS) & (self.cells["threshold"] != "")]
        if top.empty or not (top["status"] == STATUS_PASS).any():
            return None
        return True

    def summary(self) -> str:
        """The verdict in one sentence."""
        c = self.counts
        if self.passed is False:
            fails = self.failures
            worst = fails.iloc[0] if len(fails) else None
            where = (
                f" (e.g. {worst['metric']} on {worst['dataset']}, {worst['slice']}, vs {worst['role']})"
                if worst is not None
                else ""
            )
            return f"Fails: {c[STATUS_FAIL]} cell(s) are worse than allowed{where}."
        if self.passed is None:
            return (
                "Inconclusive: the intervals are too wide to tell at the top level (or no thresholds apply)."
            )
        return f"Passes: no cell is worse than allowed ({c[STATUS_PASS]} pass, {c[STATUS_UNDERPOWERED]} underpowered)."

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "comparison",
                "passed": self.passed,
                "summary": self.summary(),
                "candidate": self.candidate,
                "models": self.models,
                "datasets": self.datasets,
                "slices": self.slices,
                "metrics": self.metrics,
                "confidence": self.confidence,
                "thresholds": self.thresholds.to_dict(),
                "counts": self.counts,
                "n_rows": self.n_rows,
                "n_differing": [
                    {"dataset": d, "role": r, "rows": n} for (d, r), n in self.n_differing.items()
                ],
                "cells": self.cells,
                "gaps": self.gaps,
                "differing": self.differing.head(200),
                "notes": self.notes,
            }
        )


def _check_model(ws: Workspace, name: str, role: str) -> str:
    if name not in ws.models:
        raise AnalysisError(
            UNKNOWN_MODEL.format(
                name=name,
                role=role,
                known=", ".join(ws.models),
                fix="Fix the name in the threshold file, or add the model to workspace.toml as [models.<name>].",
            )
        )
    return name


def compare_models(
    ws: Workspace,
    *,
    candidate: str | None = None,
    previous: str | None = None,
    reference: str | None = None,
    datasets: Sequence[str] | None = None,
    slices: Sequence[str | SliceDefinition] | None = None,
    metrics: Sequence[str] | None = None,
    thresholds: Thresholds | None = None,
    confidence: float | None = None,
    scorer: Scorer | None = None,
    progress: Progress | None = None,
) -> ComparisonResult:
    """Compare the candidate with the previous model and/or the fixed reference model.

    Models default to the threshold file's names (then ``previous`` if the workspace has it);
    ``datasets`` to every non-training dataset; ``slices`` (column names or saved slices) to the
    threshold file's, then ``[checks] slices``; ``metrics`` to ``PAIRED_METRICS[task]``; ``thresholds``
    to ``thresholds_for(ws)``. ``scorer(dataset, model)`` returns a ``Scored`` (the page passes its
    cached loader). Returns a ``ComparisonResult``.
    """
    report = progress or no_progress
    if not ws.models:
        raise AnalysisError(NO_MODELS)
    thresholds = thresholds if thresholds is not None else thresholds_for(ws)
    confidence = check_confidence(confidence if confidence is not None else thresholds.confidence)
    candidate = _check_model(ws, candidate or thresholds.candidate or MAIN_MODEL, "candidate")
    if previous is None:
        previous = thresholds.previous or (
            "previous" if "previous" in ws.models and candidate != "previous" else None
        )
    reference = reference if reference is not None else thresholds.reference
    others = {role: name for role, name in (("previous", previous), ("reference", reference)) if name}
    if not others:
        detail = f"this workspace has only the model(s) {', '.join(ws.models)} and none is named previous or reference"
        raise AnalysisError(NEED_TWO_MODELS.format(detail=detail))
    for role, name in others.items():
        _check_model(ws, name, role)
        if name == candidate:
            raise AnalysisError(SAME_MODEL.format(role=role, name=name))
    datasets = list(datasets) if datasets else evaluation_datasets(ws)
    for d in datasets:
        if d not in ws.dataset_names:
            raise AnalysisError(UNKNOWN_DATASET.format(name=d, known=", ".join(ws.dataset_names)))
    if slices is None:
        slices = list(thresholds.slices or ws.config.checks.slices)
    metric_list = [canonical_metric(m) or m for m in (metrics or PAIRED_METRICS[ws.task])]
    for m in metric_list:
        if m not in PAIRED_METRICS[ws.task]:
            raise AnalysisError(
                f"The comparison cannot test {m!r} for a {ws.task} task. Metrics: {', '.join(PAIRED_METRICS[ws.task])}."
            )
    scorer = scorer or (lambda d, m: score(ws, d, m))
    gap_metrics = sorted(
        {r.metric for r in thresholds.rules if r.gap is not None} & set(metric_list), key=metric_list.index
    )
    if not gap_metrics:
        gap_metrics = metric_list[:1]

    cells, gaps, diffs = [], [], []
    n_differing: dict[tuple[str, str], int] = {}
    n_rows: dict[str, int] = {}
    notes: list[str] = []
    steps = len(datasets) * (len(others) + 2)
    step = 0
    for d in datasets:
        report(step / steps, f"Scoring '{d}' with '{candidate}'…")
        a = scorer(d, candidate)
        step += 1
        n_rows[d] = a.n
        if a.n_unlabeled:
            notes.append(f"Dataset '{d}': {a.n_unlabeled:,} rows without a label are left out.")
        groupings = groupings_for(a, slices)
        for role, name in others.items():
            report(step / steps, f"Comparing with '{name}' ({role}) on '{d}'…")
            b = scorer(d, name)
            cells.append(
                compare_scored(
                    a,
                    b,
                    groupings,
                    role=role,
                    metrics=metric_list,
                    confidence=confidence,
                    thresholds=thresholds,
                    min_rows=thresholds.min_rows,
                )
            )
            frame, total = differing_rows(a, b, role=role)
            diffs.append(frame)
            n_differing[(d, role)] = total
            step += 1
        report(step / steps, f"Slice gaps on '{d}'…")
        gaps.append(
            slice_gaps(
                a,
                groupings,
                metrics=gap_metrics,
                confidence=confidence,
                thresholds=thresholds,
                min_rows=thresholds.min_rows,
            )
        )
        step += 1
    report(1.0, "Comparison done.")
    slice_names = [s.name or s.describe() if isinstance(s, SliceDefinition) else str(s) for s in slices]
    return ComparisonResult(
        candidate=candidate,
        models=others,
        datasets=datasets,
        slices=slice_names,
        metrics=metric_list,
        confidence=confidence,
        thresholds=thresholds,
        cells=pd.concat(cells, ignore_index=True),
        gaps=pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame(columns=GAP_COLUMNS),
        differing=pd.concat(diffs, ignore_index=True),
        n_differing=n_differing,
        n_rows=n_rows,
        notes=notes,
    )
