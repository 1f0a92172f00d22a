"""Is the model better than a simple one? (ML Test Score, Model 5: "test against a simpler model".)

Fits, on the training dataset, a linear model with standard preprocessing (median imputation with
missing-value indicators and standardisation for numbers; most-frequent imputation and one-hot
encoding of at most 20 levels for everything else) — logistic regression for classification, ridge
regression for regression — and a dummy (class priors / the mean). The model is then compared with
each, paired, on the same rows of every evaluation dataset and slice (``explore.checks.compare``'s engine).

Verdict per dataset, on the headline metric (binary: ROC AUC; multiclass: log loss; regression:
RMSE; accuracy / MAE when the model has no scores), with ``gain`` = how much better the model is:

* **model better** — the whole interval of the gain is above the margin (the model earns its keep);
* **as good** — the whole interval is below the margin: the simple model is as good (or better);
* **baseline better** — the whole interval is below zero: the simple model is significantly better;
* **inconclusive** — the interval straddles the margin.

Signature::

    simple_baseline(ws, *, candidate=None, train=None, datasets=None, slices=None, margins=None,
                    max_train_rows=200_000, confidence=0.95, scorer=None, progress=None) -> BaselineResult
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explore.checks.compare import PAIRED_METRICS, Scorer, compare_scored
from explore.core import roles
from explore.core.progress import Progress, no_progress
from explore.core.serialise import jsonable
from explore.core.workspace import MAIN_MODEL, Scored, Workspace, score
from explore.errors import AnalysisError
from explore.slices.definition import SliceDefinition
from explore.slices.grouping import ALL_ROWS, groupings_for
from explore.stats.paired import check_confidence

MAX_LEVELS = 20
# The gain the model must show over the simple baseline: metric units, or a share of the baseline's value.
DEFAULT_MARGINS: dict[str, float | str] = {
    "accuracy": 0.01,
    "ROC AUC": 0.01,
    "precision": 0.01,
    "recall": 0.01,
    "F1": 0.01,
    "R²": 0.01,
    "log loss": "2%",
    "Brier": "2%",
    "MAE": "2%",
    "RMSE": "2%",
}
VERDICT_BETTER = "model better"
VERDICT_AS_GOOD = "as good"
VERDICT_WORSE = "baseline better"
VERDICT_INCONCLUSIVE = "inconclusive"
VERDICT_NA = "not computable"

NO_TRAIN = (
    "The simple baseline is fitted on a training dataset, but none of this workspace's datasets is named like "
    "one ({known}). Choose the dataset to fit it on."
)
UNKNOWN_DATASET = "There is no dataset named {name!r}. Datasets in this workspace: {known}."
MIN_TRAIN_ROWS = 20  # labelled training rows a baseline is fitted on, at the least
TOO_FEW_TRAIN = (
    "The training dataset '{name}' has {n} labelled rows{detail}; a baseline needs at least 20 (and two classes for "
    "classification). Choose a larger training dataset."
)
NO_FEATURES = "The model has no input features to fit a baseline on ([columns] features is empty)."


def training_dataset(ws: Workspace, train: str | None = None) -> str:
    """``train`` if given, else the workspace's training dataset (``explore.core.roles.training_dataset``);
    ``AnalysisError`` when there is none."""
    if train is not None:
        if train not in ws.dataset_names:
            raise AnalysisError(UNKNOWN_DATASET.format(name=train, known=", ".join(ws.dataset_names)))
        return train
    found = roles.training_dataset(ws)
    if found is None:
        raise AnalysisError(NO_TRAIN.format(known=", ".join(ws.dataset_names)))
    return found


def standard_preprocessing(X: pd.DataFrame) -> Any:
    """A ColumnTransformer: numbers → median + missing indicator + scaling; others → mode + one-hot (≤ 20 levels)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [
        c
        for c in X.columns
        if pd.api.types.is_numeric_dtype(X[c].dtype) and not pd.api.types.is_bool_dtype(X[c].dtype)
    ]
    other = [c for c in X.columns if c not in numeric]
    parts = []
    if numeric:
        parts.append(
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            )
        )
    if other:
        parts.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist", max_categories=MAX_LEVELS, sparse_output=False
                    ),
                ),
                other,
            )
        )
    return ColumnTransformer(parts)


def _as_text(X: pd.DataFrame) -> pd.DataFrame:
    """Non-numeric columns as object text (mixed types and pandas' string dtype confuse the imputer)."""
    out = {}
    for c in X.columns:
        s = X[c]
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            out[c] = s
        else:
            out[c] = s.astype(object).where(s.notna(), np.nan).map(lambda v: v if v is np.nan else str(v))
    return pd.DataFrame(out, index=X.index)


def baseline_models(task: str, X: pd.DataFrame) -> dict[str, Any]:
    """The simple models for ``task``: a linear model with standard preprocessing, and a dummy."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    if task == "regression":
        return {
            "linear": make_pipeline(standard_preprocessing(X), Ridge(alpha=1.0)),
            "mean": DummyRegressor(strategy="mean"),
        }
    return {
        "logistic": make_pipeline(standard_preprocessing(X), LogisticRegression(max_iter=2000)),
        "majority": DummyClassifier(strategy="prior"),
    }


BASELINE_DESCRIPTIONS = {
    "logistic": "logistic regression (median-imputed, scaled numbers; one-hot categories)",
    "linear": "ridge regression (median-imputed, scaled numbers; one-hot categories)",
    "majority": "dummy: always the majority class, class-prior probabilities",
    "mean": "dummy: always the training mean",
}


def _encode(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    text = {str(c): i for i, c in enumerate(classes.tolist())}
    return np.asarray([lookup.get(v, text.get(str(v), -1)) for v in values], dtype=np.int64)


def scored_with(base: Scored, model: Any, X: pd.DataFrame, name: str) -> Scored:
    """``base`` (same rows and labels) re-scored with another fitted ``model``."""
    if base.task == "regression":
        pred = np.asarray(model.predict(X), dtype="float64")
        return dataclasses.replace(base, model_name=name, pred=pred, proba=None, score=None, unavailable={})
    pred = _encode(np.asarray(model.predict(X)), base.classes)
    unavailable: dict[str, str] = {}
    proba = score_vec = None
    if hasattr(model, "predict_proba"):
        proba_raw = np.asarray(model.predict_proba(X), dtype="float64")
        own = _encode(np.asarray(model.classes_), base.classes)
        proba = np.zeros((len(X), len(base.classes)))
        for j, k in enumerate(own):
            if k >= 0:
                proba[:, k] = proba_raw[:, j]
        score_vec = proba[:, base.positive_index] if base.task == "binary" else None
    else:
        reason = f"{name} has no predict_proba"
        unavailable = {m: reason for m in ("log loss", "Brier")}
        if base.task == "binary" and hasattr(model, "decision_function"):
            score_vec = np.asarray(model.decision_function(X), dtype="float64")
            if _encode(np.asarray(model.classes_[-1:]), base.classes)[0] != base.positive_index:
                score_vec = -score_vec  # decision_function scores the second class of model.classes_
        else:
            unavailable.update({m: reason for m in ("ROC AUC", "PR AUC")})
    return dataclasses.replace(
        base, model_name=name, pred=pred, proba=proba, score=score_vec, unavailable=unavailable
    )


def headline_metric(scored: Scored) -> str:
    """The metric the verdict is worded on (see the module docstring)."""
    if scored.task == "regression":
        return "RMSE"
    if scored.task == "binary":
        return "ROC AUC" if scored.score is not None else "accuracy"
    return "log loss" if scored.proba is not None else "accuracy"


def _margin(metric: str, baseline_value: float, margins: Mapping[str, float | str]) -> float:
    m = margins.get(metric, DEFAULT_MARGINS.get(metric, 0.0))
    if isinstance(m, str) and m.strip().endswith("%"):
        return abs(baseline_value) * float(m.strip()[:-1]) / 100
    return float(m)


@dataclass
class BaselineResult:
    """The model against simple baselines.

    ``cells``: ``compare.CELL_COLUMNS`` plus ``baseline``, ``gain``, ``gain_low``, ``gain_high`` (how much
    better the model is, metric units; positive = model better), ``margin`` and ``verdict``.
    ``verdicts``: one row per dataset × baseline on the headline metric, with ``text`` in words.
    """

    candidate: str
    train: str
    train_rows: int
    datasets: list[str]
    baselines: dict[str, str]
    headline: str
    cells: pd.DataFrame
    verdicts: pd.DataFrame
    fit_seconds: dict[str, float]
    confidence: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """True when the model is clearly better than the linear baseline on every dataset; False when the
        linear baseline is as good on any; None otherwise (or when nothing could be computed)."""
        linear = self.verdicts[self.verdicts["baseline"].isin(["logistic", "linear"])]
        if linear.empty or (linear["verdict"] == VERDICT_NA).all():
            return None
        if linear["verdict"].isin([VERDICT_AS_GOOD, VERDICT_WORSE]).any():
            return False
        if (linear["verdict"] == VERDICT_BETTER).all():
            return True
        return None

    def summary(self) -> str:
        lines = [row["text"] for row in self.verdicts.to_dict(orient="records")]
        return " ".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "baseline",
                "passed": self.passed,
                "summary": self.summary(),
                "candidate": self.candidate,
                "train": self.train,
                "train_rows": self.train_rows,
                "datasets": self.datasets,
                "baselines": self.baselines,
                "headline": self.headline,
                "confidence": self.confidence,
                "verdicts": self.verdicts,
                "cells": self.cells,
                "fit_seconds": self.fit_seconds,
                "notes": self.notes,
            }
        )


def _verdict_text(row: Mapping[str, Any], candidate: str, confidence: float) -> str:
    metric, base, d = row["metric"], row["baseline"], row["dataset"]
    if row["verdict"] == VERDICT_NA:
        return f"On '{d}', {metric} could not be compared with the {base} baseline ({row['note'] or 'no interval'})."
    gain = (
        f"{row['gain']:+.4g} {metric} ({confidence:.0%} CI {row['gain_low']:+.4g} to {row['gain_high']:+.4g})"
    )
    if row["verdict"] == VERDICT_BETTER:
        return f"On '{d}', model '{candidate}' beats the {base} baseline by {gain}, more than the {row['margin']:.3g} margin."
    if row["verdict"] == VERDICT_AS_GOOD:
        return (
            f"On '{d}', the {base} baseline is as good as model '{candidate}': gain {gain} stays under the "
            f"{row['margin']:.3g} margin — consider whether the model's complexity pays for itself."
        )
    if row["verdict"] == VERDICT_WORSE:
        return (
            f"On '{d}', the {base} baseline is better than model '{candidate}': gain {gain} — the simple model "
            "wins; check the model's training before shipping it."
        )
    return f"On '{d}', the gain over the {base} baseline is {gain}: too uncertain to tell against the {row['margin']:.3g} margin."


def simple_baseline(
    ws: Workspace,
    *,
    candidate: str | None = None,
    train: str | None = None,
    datasets: Sequence[str] | None = None,
    slices: Sequence[str | SliceDefinition] | None = None,
    margins: Mapping[str, float | str] | None = None,
    max_train_rows: int = 200_000,
    confidence: float = 0.95,
    seed: int = 0,
    scorer: Scorer | None = None,
    progress: Progress | None = None,
) -> BaselineResult:
    """Fit simple baselines on ``train`` and compare the model with them, paired, on ``datasets`` × slices.

    ``candidate`` defaults to the workspace's main model (the prediction columns in predictions-only
    mode); ``train`` to the training dataset; ``datasets`` to the other datasets; ``slices`` to
    ``[checks] slices``. At most ``max_train_rows`` random training rows are used (seeded). Returns a
    ``BaselineResult``.
    """
    report = progress or no_progress
    confidence = check_confidence(confidence)
    margins = dict(margins or {})
    if candidate is None:
        candidate = MAIN_MODEL if ws.models else None
    elif candidate not in ws.models:
        raise AnalysisError(
            f"There is no model named {candidate!r}. Models in this workspace: {', '.join(ws.models) or 'none'}."
        )
    train = training_dataset(ws, train)
    datasets = list(datasets or roles.evaluation_datasets(ws))
    for d in datasets:
        if d not in ws.dataset_names:
            raise AnalysisError(UNKNOWN_DATASET.format(name=d, known=", ".join(ws.dataset_names)))
    notes: list[str] = []
    if train in datasets:
        notes.append(
            f"'{train}' is both the training and an evaluation dataset: scores there are optimistic for every model."
        )
    slices = list(ws.config.checks.slices) if slices is None else list(slices)
    scorer = scorer or (lambda d, m: score(ws, d, m))
    if not ws.feature_names:
        raise AnalysisError(NO_FEATURES)

    report(0.0, f"Reading the training dataset '{train}'…")
    frame = ws.dataset(train)
    label = ws.columns.label
    frame = frame[frame[label].notna()]
    # An engine dataset's rows are its sample with equal shares per class: fitted (and compared) on those, the
    # baselines and the model are measured on a class mix the data does not have (accuracy 0.641 against 0.70 on
    # every row). Every row's class shares are kept instead, and the notes say so.
    from explore.staleness.estimation import population_rows, population_scored

    keep, mix_note = population_rows(ws, train, frame[label].to_numpy(), seed=seed)
    if keep is not None:
        frame = frame[keep]
        notes.append(f"Fitted on {mix_note}")
    if len(frame) > max_train_rows:
        frame = frame.sample(n=max_train_rows, random_state=seed).sort_index()
        notes.append(f"Baselines were fitted on {max_train_rows:,} random rows of '{train}'.")
    y = frame[label].to_numpy()
    n_classes = pd.Series(y).nunique()
    if len(frame) < MIN_TRAIN_ROWS or (ws.task != "regression" and n_classes < 2):
        detail = f" and {n_classes} class(es)" if ws.task != "regression" else ""
        raise AnalysisError(TOO_FEW_TRAIN.format(name=train, n=len(frame), detail=detail))
    if ws.task == "regression":
        y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype="float64")
    X = _as_text(frame[ws.feature_names])
    models = baseline_models(ws.task, X)
    fit_seconds: dict[str, float] = {}
    from sklearn.exceptions import ConvergenceWarning

    for i, (name, model) in enumerate(models.items()):
        report(0.05 + 0.35 * i / len(models), f"Fitting the {name} baseline on {len(frame):,} rows…")
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            try:
                model.fit(X, y)
            except ValueError as exc:
                raise AnalysisError(f"The {name} baseline could not be fitted on '{train}': {exc}") from None
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            notes.append(
                f"The {name} baseline did not fully converge (its fit stopped at the iteration limit)."
            )
        fit_seconds[name] = round(time.perf_counter() - started, 3)

    cells, verdicts = [], []
    headline = None
    for j, d in enumerate(datasets):
        report(0.4 + 0.6 * j / max(len(datasets), 1), f"Comparing on '{d}'…")
        a, mix_note = population_scored(ws, scorer(d, candidate), seed=seed)
        if mix_note:
            notes.append(f"Compared on {mix_note}")
        headline = headline or headline_metric(a)
        groupings = groupings_for(a, slices)
        Xd = _as_text(a.X)
        for name, model in models.items():
            b = scored_with(a, model, Xd, f"{name} baseline")
            c = compare_scored(
                a, b, groupings, role="baseline", metrics=PAIRED_METRICS[ws.task], confidence=confidence
            )
            c.insert(0, "baseline", name)
            c["gain"] = np.where(c["metric"].map(_lower_better), -c["change"], c["change"])
            c["gain_low"] = -c["worsening_high"]
            c["gain_high"] = -c["worsening_low"]
            c["margin"] = [_margin(m, v, margins) for m, v in zip(c["metric"], c["other_value"], strict=True)]
            c["verdict"] = [
                _decide(lo, hi, mg)
                for lo, hi, mg in zip(c["gain_low"], c["gain_high"], c["margin"], strict=True)
            ]
            c = c.drop(columns=["role", "allowed", "threshold", "status"])
            cells.append(c)
            top = c[(c["slice"] == ALL_ROWS) & (c["metric"] == headline)]
            if len(top):
                verdicts.append(top.iloc[0].to_dict())
    report(1.0, "Baseline comparison done.")
    verdict_frame = pd.DataFrame(verdicts)
    if len(verdict_frame):
        verdict_frame["text"] = [
            _verdict_text(r, candidate or "predictions", confidence)
            for r in verdict_frame.to_dict(orient="records")
        ]
        verdict_frame = verdict_frame[
            [
                "dataset",
                "baseline",
                "metric",
                "n",
                "candidate_value",
                "other_value",
                "gain",
                "gain_low",
                "gain_high",
                "margin",
                "verdict",
                "text",
                "note",
            ]
        ]
    else:
        verdict_frame = pd.DataFrame(columns=["dataset", "baseline", "metric", "verdict", "text"])
    return BaselineResult(
        candidate=candidate or "predictions",
        train=train,
        train_rows=len(frame),
        datasets=datasets,
        baselines={k: BASELINE_DESCRIPTIONS[k] for k in models},
        headline=headline or "",
        cells=pd.concat(cells, ignore_index=True) if cells else pd.DataFrame(),
        verdicts=verdict_frame,
        fit_seconds=fit_seconds,
        confidence=confidence,
        notes=notes,
    )


def _lower_better(metric: str) -> bool:
    from explore.stats.metrics import metric_direction

    return metric_direction(metric) is False


def _decide(lo: float, hi: float, margin: float) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi) and np.isfinite(margin)):
        return VERDICT_NA
    if lo > margin:
        return VERDICT_BETTER
    if hi < 0:
        return VERDICT_WORSE
    if hi < margin:
        return VERDICT_AS_GOOD
    return VERDICT_INCONCLUSIVE
