"""SHAP feature importance — global, per slice, per datapoint — with its approximations stated.

``explain(scored, model, ...)`` returns a ``ShapExplanation`` (values, base values, the raw feature
values and ids of the rows explained, the explainer used, units, sample size, seconds and an additivity
check), in the spirit of shap's ``Explanation``. The explainer is chosen from the model:

- tree ensembles (scikit-learn trees, forests, gradient boosting; XGBoost/LightGBM/CatBoost when
  installed): shap's ``TreeExplainer`` (``approximate=True`` uses shap's Saabas approximation);
- linear models: shap's ``LinearExplainer`` (interventional, exact for a linear model);
- anything else — and the known traps below — a model-agnostic permutation estimator on the raw
  features (antithetic feature orderings, a background sample as the masker; exact when every
  ordering fits in the budget).

For a Pipeline, the final estimator is explained on the transformed data and the SHAP columns are
summed back to the raw input features with the fitted transformers' own column bookkeeping
(``ColumnTransformer.output_indices_`` and each transformer's inputs), never name prefixes. The sums
keep additivity exactly; they are the grouped attribution of the raw feature's columns, not the
Shapley value of the raw feature as a single player. A transformer that mixes columns (PCA,
PolynomialFeatures, Normalizer, KNNImputer, …) has no such mapping: the whole Pipeline is then
explained model-agnostically on the raw features.

Known traps handled here: TreeExplainer is silently wrong for HistGradientBoosting with native
categorical features (detected; the model-agnostic path is used); shap maskers cannot hold raw
string columns (the model-agnostic path encodes every non-numeric column as codes for masking and
decodes them, with the original dtypes, inside the prediction function); deep random forests are slow
under exact TreeSHAP (rows are sampled; ``approximate=True`` is offered and labelled approximate).

Every result carries an additivity check: base value + Σ SHAP against the model's own output on the
same rows, in the explained output space. If a fast explainer fails it, the model-agnostic one is used
instead and the result says why.

Also here: ``permutation_check`` (scikit-learn ``permutation_importance`` on the same rows, Spearman
rank agreement with SHAP), ``slice_vs_rest`` (importance in a slice vs the other rows, and the slice's
feature ranges vs a training dataset) and ``drop_column_importance`` (refit clones with a feature
neutralised, metric change with a confidence interval over cross-validation folds).
This module never imports streamlit.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from explore.core.progress import Progress
from explore.core.row_ids import ids_hint, position_of_id
from explore.core.workspace import Scored
from explore.errors import NO_MODEL_FILE, AnalysisError, ModelError
from explore.report.display import TableResult
from explore.slices.definition import SliceDefinition, slice_mask

# ---- units of the explained output ---------------------------------------------------------------------
LOG_ODDS = "log-odds"  # binary classifiers explained on their decision function (logistic link)
LOGIT = "logit"  # multiclass: per-class raw scores fed to the softmax
PROBABILITY = "probability"
TARGET = "target units"
DECISION = "decision-function units"  # margins of classifiers without a logistic link (SVM, ridge…)

# ---- explainer names ----------------------------------------------------------------------------------
TREE = "TreeExplainer"
TREE_APPROX = "TreeExplainer (approximate, Saabas)"
LINEAR = "LinearExplainer"
PERMUTATION = "Permutation (model-agnostic)"
EXACT = "Exact (model-agnostic)"

DEFAULT_SAMPLE = {"tree": 2000, "linear": 5000, "agnostic": 200}
DEFAULT_BACKGROUND = 50
DEFAULT_PERMUTATIONS = 10
LINEAR_BACKGROUND = 1000
MAX_MODEL_ROWS_PER_CALL = 120_000
TREE_CHUNK = 5000  # rows per TreeExplainer call (progress is reported between calls)
SLOW_TREE_CHUNK = 100  # deep forests: exact TreeSHAP is slow per row, so report progress more often

# ---- messages ------------------------------------------------------------------------------------------
NO_MODEL = NO_MODEL_FILE.format(
    needs="SHAP importance explains a model's predictions (dataset '{dataset}' comes with prediction columns)",
    then=" to use this page; the Slices and Staleness pages work from the predictions alone",
)
NO_ROWS = (
    "There are no rows to explain: {what} has 0 labelled rows in dataset '{dataset}'. "
    "Widen the slice or pick another dataset."
)
BAD_SAMPLE = (
    "The sample size must be a whole number of rows, at least 1; received {received!r}. Enter e.g. 1000."
)
ROW_OUT_OF_RANGE = (
    "Row position {position} is outside dataset '{dataset}' (it has {n} labelled rows: positions 0 to {last}). "
    "Pick a row on the Slices page or enter a position in that range."
)
UNKNOWN_ID = (
    "No row of dataset '{dataset}' has the id {received!r} ({ids}). Type one of its ids, choose the dataset that "
    "holds the row in the sidebar, or pick the row by position."
)
UNKNOWN_FEATURE = "'{feature}' is not one of the explained features ({known}). Choose one of them."
UNKNOWN_OUTPUT = "'{received}' is not one of this explanation's outputs ({known}). Choose one of them."
APPROX_NOT_TREE = (
    "approximate=True applies only to tree ensembles (shap's Saabas approximation); this model is explained with "
    "{explainer}. Untick 'approximate'."
)
NO_OUTPUT_METHOD = (
    "The classifier '{model}' has neither predict_proba nor decision_function, so there is no score to explain "
    "(received {cls}). Save a model that exposes predict_proba (e.g. wrap it in CalibratedClassifierCV)."
)
NOT_REFITTABLE = (
    "The drop-column experiment refits copies of the model, but this model cannot be cloned by scikit-learn "
    "({reason}; received {cls}). It needs a scikit-learn estimator or Pipeline."
)
TOO_FEW_FOR_CV = (
    "The drop-column experiment needs at least {need} labelled rows{per_class} for {folds}-fold cross-validation; "
    "dataset '{dataset}' has {received}. Use a larger training dataset or fewer folds."
)
BAD_FOLDS = "The number of folds must be a whole number between 2 and 20; received {received!r}."
NO_FEATURES = "Choose at least one feature to neutralise; received {received!r}. Known features: {known}."
EMPTY_REST = "The slice covers every row of dataset '{dataset}', so there is no 'rest' to compare with. Narrow the slice."
EMPTY_REFERENCE = "The reference dataset '{dataset}' has no rows with the model's features {missing}. Pick another reference dataset."
METHODS = ("auto", "agnostic")
BAD_METHOD = "The explanation method must be one of {known}; received {received!r}."
MODEL_CALL_FAILED = (
    "The model could not predict while being explained ({reason}). Check that dataset '{dataset}' has the columns "
    "and types the model was trained on."
)


# ---- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainParams:
    """How SHAP values are computed (the Importance page, notebooks, ``explore check`` minutes and benchmarks
    share it).

    ``sample_size``: rows of a label-stratified sample (None: the plan's default). ``approximate``: shap's Saabas
    approximation for tree ensembles. ``method``: "auto" (the fastest exact explainer for the model) or
    "agnostic" (always the model-agnostic one, with ``background_size`` background rows and ``n_permutations``
    feature orderings). ``seed``: the sample's and the permutations' random seed.
    """

    sample_size: int | None = None
    approximate: bool = False
    method: str = "auto"
    background_size: int = DEFAULT_BACKGROUND
    n_permutations: int = DEFAULT_PERMUTATIONS
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExplainParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Additivity:
    """base value + Σ SHAP vs the model's own output on the explained rows (in ``output_space``)."""

    max_abs_error: float
    tolerance: float
    passed: bool
    n_rows: int
    output_space: str  # the model method whose output is explained, e.g. "decision_function"


@dataclass(frozen=True, eq=False)
class ShapExplanation:
    """SHAP values of ``sample_size`` rows of one dataset, per raw feature, in ``units``.

    ``values`` is (rows × features × outputs) and ``base_values`` (rows × outputs): one output for binary
    classification (the positive class) and regression, one per class for multiclass (``output_names``).
    ``base_values[i] + values[i].sum(axis=0)`` equals ``model_output[i]`` (see ``additivity``).
    ``data`` holds the raw feature values of the explained rows; ``positions`` their row positions in the
    scored dataset and ``ids`` their ids. ``groups`` maps a raw feature to the transformed columns summed
    into it (empty when the explainer ran on raw features).
    """

    values: np.ndarray
    base_values: np.ndarray
    model_output: np.ndarray
    data: pd.DataFrame
    feature_names: list[str]
    output_names: list[str]
    positions: np.ndarray
    ids: np.ndarray
    units: str
    explainer: str
    approximate: bool
    task: str
    population: int
    seconds: float
    setup_seconds: float
    additivity: Additivity
    dataset: str
    model: str | None
    notes: tuple[str, ...] = ()
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_size(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_outputs(self) -> int:
        return int(self.values.shape[2])

    @property
    def grouped(self) -> bool:
        """True when SHAP of transformed columns were summed back to raw features."""
        return bool(self.groups)

    def output_index(self, output: int | str = 0) -> int:
        if (
            isinstance(output, int | np.integer)
            and not isinstance(output, bool)
            and 0 <= output < self.n_outputs
        ):
            return int(output)
        names = [str(n) for n in self.output_names]
        if str(output) in names:
            return names.index(str(output))
        raise AnalysisError(UNKNOWN_OUTPUT.format(received=output, known=", ".join(names)))

    def values_for(self, output: int | str = 0) -> np.ndarray:
        """(rows × features) SHAP values of one output."""
        return self.values[:, :, self.output_index(output)]

    def feature_index(self, feature: str) -> int:
        if feature not in self.feature_names:
            raise AnalysisError(
                UNKNOWN_FEATURE.format(feature=feature, known=", ".join(self.feature_names[:30]))
            )
        return self.feature_names.index(feature)

    def mean_abs(self) -> np.ndarray:
        """Overall importance per feature: mean over rows of Σ over outputs of |SHAP| (in ``units``)."""
        return np.abs(self.values).sum(axis=2).mean(axis=0)

    def to_dict(self, *, top: int = 20) -> dict[str, Any]:
        """A small JSON-able summary (for evidence snapshots)."""
        table = importance_table(self).head(top)
        return {
            "dataset": self.dataset,
            "model": self.model,
            "explainer": self.explainer,
            "units": self.units,
            "approximate": self.approximate,
            "sample_size": self.sample_size,
            "population": self.population,
            "seconds": round(self.seconds, 3),
            "outputs": [str(o) for o in self.output_names],
            "additivity": {
                "max_abs_error": self.additivity.max_abs_error,
                "tolerance": self.additivity.tolerance,
                "passed": self.additivity.passed,
                "output_space": self.additivity.output_space,
            },
            "importance": [
                {"feature": r.feature, "mean_abs_shap": float(r.mean_abs_shap)} for r in table.itertuples()
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ExplainerPlan:
    """Which explainer a model gets, why, and in which units (decided without computing anything)."""

    kind: str  # "tree" | "linear" | "agnostic"
    explainer: str
    estimator: str  # class name of the estimator actually explained
    units: str
    output_space: str
    reason: str
    transformed: bool  # the final step is explained on transformed columns, summed back to raw features
    approximate_available: bool
    default_sample_size: int
    slow_hint: str = ""
    # internals
    prefix: tuple[Any, ...] = field(default=(), repr=False)
    final: Any = field(default=None, repr=False)
    sources: np.ndarray | None = field(default=None, repr=False)
    transformed_names: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class TimeEstimate:
    """Seconds an explanation will take: ``setup_seconds + seconds_per_row × rows`` (measured on a probe)."""

    explainer: str
    setup_seconds: float
    seconds_per_row: float
    probe_rows: int

    def seconds(self, n_rows: int) -> float:
        return float(self.setup_seconds + self.seconds_per_row * max(int(n_rows), 0))


# ---- output spaces -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Output:
    method: str  # model method: decision_function | predict_proba | predict
    columns: tuple[int, ...] | None  # columns of the method's 2-D output kept (None: all)
    negate: bool  # binary decision functions score classes_[1]; negate when the positive class is classes_[0]
    names: tuple[str, ...]
    units: str


def _positive_in_model(model: Any, scored: Scored) -> int:
    classes = [str(c) for c in np.asarray(model.classes_).tolist()]
    positive = scored.classes[scored.positive_index] if scored.positive_index is not None else None
    if positive is not None and str(positive) in classes:
        return classes.index(str(positive))
    return len(classes) - 1


def _output_spec(model: Any, scored: Scored, *, method: str, units: str) -> _Output:
    if scored.task == "regression":
        return _Output("predict", None, False, ("prediction",), TARGET)
    classes = [str(c) for c in np.asarray(model.classes_).tolist()]
    if scored.task == "binary" or len(classes) == 2:
        pos = _positive_in_model(model, scored)
        if method == "predict_proba":
            return _Output(method, (pos,), False, (classes[pos],), units)
        return _Output(method, None, pos == 0, (classes[pos],), units)
    return _Output(method, None, False, tuple(classes), units)


def _call(model: Any, X: pd.DataFrame, out: _Output) -> np.ndarray:
    """The model's output on raw rows ``X`` as (rows × outputs) float64."""
    Xin: Any = X if hasattr(model, "feature_names_in_") else X.to_numpy()
    raw = np.asarray(getattr(model, out.method)(Xin), dtype="float64")
    if raw.ndim == 1:
        raw = raw[:, None]
    if out.columns is not None:
        raw = raw[:, list(out.columns)]
    return -raw if out.negate else raw


# ---- model inspection ----------------------------------------------------------------------------------


def _flatten(model: Any) -> tuple[list[Any], Any]:
    """(transformers applied before the final estimator, the final estimator), nested Pipelines unrolled."""
    from sklearn.pipeline import Pipeline

    steps: list[Any] = []
    est = model
    while isinstance(est, Pipeline):
        for _, step in est.steps[:-1]:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            steps.append(step)
        est = est.steps[-1][1]
    return steps, est


_SK_TREES = {
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "HistGradientBoostingClassifier",
    "HistGradientBoostingRegressor",
}
_PROBABILITY_TREES = {
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
}
_LOG_ODDS_LINEAR = {"LogisticRegression", "LogisticRegressionCV"}
_LINEAR_SKIP = {
    "PoissonRegressor",
    "GammaRegressor",
    "TweedieRegressor",
    "RANSACRegressor",
    "TheilSenRegressor",
}


def _tree_family(est: Any) -> str | None:
    """'sklearn' | 'xgboost' | 'lightgbm' | 'catboost' for tree ensembles shap's TreeExplainer reads, else None."""
    name, module = type(est).__name__, type(est).__module__
    if module.startswith("sklearn.") and name in _SK_TREES:
        return "sklearn"
    for family in ("xgboost", "lightgbm", "catboost"):
        if module.startswith(family) and ("Classifier" in name or "Regressor" in name):
            return family
    return None


def _is_linear(est: Any) -> bool:
    name, module = type(est).__name__, type(est).__module__
    if name in _LINEAR_SKIP:
        return False
    if module.startswith("sklearn.linear_model") or name in ("LinearSVC", "LinearSVR"):
        coef = getattr(est, "coef_", None)
        return coef is not None and hasattr(est, "intercept_") and not hasattr(coef, "toarray")
    return False


def _native_categorical(est: Any) -> bool:
    flags = getattr(est, "is_categorical_", None)
    return flags is not None and bool(np.any(flags))


class _NoMapping(Exception):
    """A transformer whose output columns cannot each be traced to one input column."""


def _column_indices(ct: Any, cols: Any, n_in: int) -> list[int]:
    names = list(getattr(ct, "feature_names_in_", []))
    if isinstance(cols, str | int | np.integer):
        cols = [cols]
    if isinstance(cols, slice):
        if isinstance(cols.start, str) or isinstance(cols.stop, str):
            start = names.index(cols.start) if cols.start is not None else 0
            stop = names.index(cols.stop) + 1 if cols.stop is not None else n_in
            return list(range(start, stop))
        return list(range(n_in))[cols]
    arr = np.asarray(list(cols) if not isinstance(cols, np.ndarray) else cols)
    if arr.size == 0:
        return []
    if arr.dtype == bool:
        return np.flatnonzero(arr).tolist()
    if np.issubdtype(arr.dtype, np.integer):
        return [int(i) % n_in for i in arr]
    lookup = {str(n): i for i, n in enumerate(names)}
    try:
        return [lookup[str(c)] for c in arr]
    except KeyError as exc:
        raise _NoMapping(f"column {exc.args[0]!r} of a ColumnTransformer is not among its inputs") from None


def _sources(est: Any, n_in: int) -> list[int]:
    """For each output column of the fitted transformer ``est``, the index of the one input column it comes from."""
    from sklearn.base import OneToOneFeatureMixin
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectorMixin
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        KBinsDiscretizer,
        Normalizer,
        OneHotEncoder,
        SplineTransformer,
    )

    if est is None or (isinstance(est, str) and est == "passthrough"):
        return list(range(n_in))
    if isinstance(est, str) and est == "drop":
        return []
    name = type(est).__name__
    n_fit = getattr(est, "n_features_in_", None)
    if n_fit is not None and int(n_fit) != n_in:
        raise _NoMapping(f"{name} was fitted on {n_fit} columns but receives {n_in}")
    if isinstance(est, Pipeline):
        src = list(range(n_in))
        for _, step in est.steps:
            inner = _sources(step, len(src))
            src = [src[i] for i in inner]
        return src
    if isinstance(est, ColumnTransformer):
        total = max((s.stop for s in est.output_indices_.values()), default=0)
        out: list[int | None] = [None] * total
        for tname, trans, cols in est.transformers_:
            sl = est.output_indices_.get(tname, slice(0, 0))
            if sl.stop == sl.start or (isinstance(trans, str) and trans == "drop"):
                continue
            idx = _column_indices(est, cols, n_in)
            inner = _sources(trans, len(idx))
            if len(inner) != sl.stop - sl.start:
                raise _NoMapping(
                    f"transformer '{tname}' gives {sl.stop - sl.start} columns, expected {len(inner)}"
                )
            for k, i in zip(range(sl.start, sl.stop), inner, strict=True):
                out[k] = idx[i]
        if any(o is None for o in out):
            raise _NoMapping("a ColumnTransformer output column has no known source")
        return [int(o) for o in out]  # type: ignore[arg-type]
    if isinstance(est, FeatureUnion):
        src = []
        for _, trans in est.transformer_list:
            if isinstance(trans, str) and trans == "drop":
                continue
            src.extend(_sources(trans, n_in))
        return src
    if name == "SimpleImputer":
        if getattr(est, "keep_empty_features", False):
            kept = list(range(n_in))
        else:
            kept = np.flatnonzero(~pd.isna(pd.Series(np.asarray(est.statistics_, dtype=object)))).tolist()
        indicator = getattr(est, "indicator_", None)
        return kept + (list(map(int, indicator.features_)) if indicator is not None else [])
    if name == "MissingIndicator":
        return list(map(int, est.features_))
    if isinstance(est, OneHotEncoder):
        if hasattr(est, "_compute_n_features_outs"):
            counts = list(est._compute_n_features_outs())
        else:  # pragma: no cover - older scikit-learn
            counts = [len(c) for c in est.categories_]
        return [i for i, c in enumerate(counts) for _ in range(int(c))]
    if name == "TargetEncoder":
        if getattr(est, "target_type_", "") == "multiclass":
            k = len(est.classes_)
            return [i for i in range(n_in) for _ in range(k)]
        return list(range(n_in))
    if isinstance(est, KBinsDiscretizer):
        if est.encode == "ordinal":
            return list(range(n_in))
        return [i for i, b in enumerate(est.n_bins_) for _ in range(int(b))]
    if isinstance(est, SplineTransformer):
        per = int(est.n_features_out_) // n_in
        return [i for i in range(n_in) for _ in range(per)]
    if isinstance(est, SelectorMixin):
        return np.flatnonzero(est.get_support()).tolist()
    if isinstance(est, Normalizer):
        raise _NoMapping("Normalizer rescales each row by all of its columns")
    if isinstance(est, FunctionTransformer):
        if est.func is None or est.feature_names_out == "one-to-one":
            return list(range(n_in))
        raise _NoMapping("a FunctionTransformer without feature_names_out='one-to-one' may mix columns")
    if isinstance(est, OneToOneFeatureMixin):
        return list(range(n_in))
    raise _NoMapping(f"{name} combines or reshapes input columns (no per-column mapping exists)")


def _transform(prefix: Sequence[Any], X: pd.DataFrame, model_has_names: bool) -> np.ndarray:
    import scipy.sparse as sp

    data: Any = X if model_has_names else X.to_numpy()
    for step in prefix:
        data = step.transform(data)
    if sp.issparse(data):
        data = data.toarray()
    return np.asarray(data, dtype="float64")


def _transformed_names(prefix: Sequence[Any], n: int) -> tuple[str, ...]:
    try:
        names = prefix[-1].get_feature_names_out() if prefix else None
    except Exception:  # noqa: BLE001 - names are cosmetic; any transformer may lack them
        names = None
    if names is None or len(names) != n:
        return tuple(f"column {i}" for i in range(n))
    return tuple(str(s) for s in names)


def plan_explainer(model: Any, scored: Scored, *, approximate: bool = False) -> ExplainerPlan:
    """The explainer ``explain`` will use for ``model`` on ``scored``'s features, with its units and reason.

    Raises ``AnalysisError`` when there is no model (predictions-only workspace).
    """
    if model is None:
        raise AnalysisError(NO_MODEL.format(dataset=scored.dataset_name))
    prefix, final = _flatten(model)
    task = scored.task
    est_name = type(final).__name__
    agnostic_units = (
        TARGET if task == "regression" else (PROBABILITY if hasattr(model, "predict_proba") else DECISION)
    )
    agnostic_space = (
        "predict"
        if task == "regression"
        else ("predict_proba" if hasattr(model, "predict_proba") else "decision_function")
    )

    def agnostic(reason: str) -> ExplainerPlan:
        if (
            task != "regression"
            and not hasattr(model, "predict_proba")
            and not hasattr(model, "decision_function")
        ):
            raise AnalysisError(NO_OUTPUT_METHOD.format(model=scored.model_name, cls=type(model).__name__))
        return ExplainerPlan(
            kind="agnostic",
            explainer=PERMUTATION,
            estimator=type(model).__name__,
            units=agnostic_units,
            output_space=agnostic_space,
            reason=reason,
            transformed=False,
            approximate_available=False,
            default_sample_size=DEFAULT_SAMPLE["agnostic"],
        )

    family = _tree_family(final)
    linear = _is_linear(final)
    if family is None and not linear:
        return agnostic(
            f"{est_name} is neither a tree ensemble nor a linear model, so it is explained by "
            "permuting the raw features (model-agnostic)."
        )
    if family == "sklearn" and _native_categorical(final):
        return agnostic(
            f"{est_name} uses native categorical features, where shap's TreeExplainer gives silently "
            "wrong values; the model-agnostic explainer is used instead."
        )
    sources = None
    names: tuple[str, ...] = ()
    if prefix:
        try:
            src = list(range(len(scored.feature_names)))
            for step in prefix:
                inner = _sources(step, len(src))
                src = [src[i] for i in inner]
        except _NoMapping as exc:
            return agnostic(
                f"The Pipeline's preprocessing cannot be traced back to raw features ({exc}); the whole "
                "Pipeline is explained on raw features with the model-agnostic explainer."
            )
        n_final = getattr(final, "n_features_in_", None)
        if n_final is not None and int(n_final) != len(src):
            return agnostic(
                f"The preprocessing gives {len(src)} columns but {est_name} expects {n_final}; the whole "
                "Pipeline is explained on raw features with the model-agnostic explainer."
            )
        # The Pipeline's raw inputs in the model's own order → positions in the workspace's feature list.
        model_inputs = [str(c) for c in getattr(model, "feature_names_in_", scored.feature_names)]
        pos = {f: i for i, f in enumerate(scored.feature_names)}
        if any(m not in pos for m in model_inputs):
            return agnostic(
                "The model's input columns differ from the workspace's features; explained model-agnostically."
            )
        sources = np.asarray([pos[model_inputs[i]] for i in src], dtype=int)
        names = _transformed_names(prefix, len(src))
    elif getattr(final, "feature_names_in_", None) is not None:
        model_inputs = [str(c) for c in final.feature_names_in_]
        if model_inputs != list(scored.feature_names):
            if sorted(model_inputs) != sorted(scored.feature_names):
                return agnostic(
                    "The model's input columns differ from the workspace's features; explained model-agnostically."
                )
            pos = {f: i for i, f in enumerate(scored.feature_names)}
            sources = np.asarray([pos[m] for m in model_inputs], dtype=int)
            names = tuple(model_inputs)
    if task != "regression" and not hasattr(final, "classes_"):
        return agnostic(f"{est_name} does not expose classes_; explained model-agnostically.")

    if family is not None:
        if task == "regression":
            units, space = TARGET, "predict"
        elif est_name in _PROBABILITY_TREES:
            units, space = PROBABILITY, "predict_proba"
        else:
            units = LOG_ODDS if task == "binary" else LOGIT
            space = "decision_function" if family == "sklearn" else "raw margin"
        slow = ""
        if est_name in {
            "RandomForestClassifier",
            "RandomForestRegressor",
            "ExtraTreesClassifier",
            "ExtraTreesRegressor",
        }:
            depth = getattr(final, "max_depth", None)
            if depth is None or depth > 12:
                slow = (
                    "Deep forest: exact TreeSHAP cost grows with trees × leaves × depth², so it is slow; sample "
                    "fewer rows or tick 'approximate' (Saabas: fast and additive, but not Shapley values)."
                )
        return ExplainerPlan(
            kind="tree",
            explainer=TREE_APPROX if approximate else TREE,
            estimator=est_name,
            units=units,
            output_space=space,
            reason=f"{est_name} is a tree ensemble: shap's TreeExplainer computes exact SHAP values (tree-path-dependent)"
            + (" on the Pipeline's transformed columns, summed back to raw features." if prefix else "."),
            transformed=bool(prefix),
            approximate_available=True,
            default_sample_size=DEFAULT_SAMPLE["agnostic"] if slow else DEFAULT_SAMPLE["tree"],
            slow_hint=slow,
            prefix=tuple(prefix),
            final=final,
            sources=sources,
            transformed_names=names,
        )
    if task == "regression":
        units, space = TARGET, "predict"
    else:
        logistic = est_name in _LOG_ODDS_LINEAR or getattr(final, "loss", "") == "log_loss"
        units = (LOG_ODDS if task == "binary" else LOGIT) if logistic else DECISION
        space = "decision_function"
    return ExplainerPlan(
        kind="linear",
        explainer=LINEAR,
        estimator=est_name,
        units=units,
        output_space=space,
        reason=f"{est_name} is linear: shap's LinearExplainer gives exact SHAP values against a background sample"
        + (" on the Pipeline's transformed columns, summed back to raw features." if prefix else "."),
        transformed=bool(prefix),
        approximate_available=False,
        default_sample_size=DEFAULT_SAMPLE["linear"],
        prefix=tuple(prefix),
        final=final,
        sources=sources,
        transformed_names=names,
    )


# ---- sampling ------------------------------------------------------------------------------------------


def _strata(scored: Scored, pool: np.ndarray) -> np.ndarray:
    if scored.task != "regression":
        return np.asarray(scored.y)[pool]
    y = np.asarray(scored.y, dtype="float64")[pool]
    finite = np.isfinite(y)
    codes = np.full(len(y), -1, dtype=int)
    if finite.sum() >= 10:
        edges = np.unique(np.quantile(y[finite], np.linspace(0, 1, 11)[1:-1]))
        codes[finite] = np.searchsorted(edges, y[finite], side="right")
    return codes


def sample_rows(scored: Scored, *, n: int, mask: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Sorted positions of up to ``n`` rows of ``scored`` (within ``mask``), stratified by label.

    Classification: each class keeps its share of the rows (largest remainder), and every class present keeps
    at least one row when ``n`` allows. Regression: the same over the label's deciles. Deterministic for a seed.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise AnalysisError(BAD_SAMPLE.format(received=n))
    pool = np.flatnonzero(mask) if mask is not None else np.arange(scored.n)
    if len(pool) == 0:
        raise AnalysisError(NO_ROWS.format(what="the selection", dataset=scored.dataset_name))
    if n >= len(pool):
        return pool
    strata = _strata(scored, pool)
    values, inverse, counts = np.unique(strata, return_inverse=True, return_counts=True)
    exact = counts * (n / len(pool))
    take = np.floor(exact).astype(int)
    if n >= len(values):
        take = np.maximum(take, 1)
    short = n - take.sum()
    if short > 0:
        order = np.argsort(-(exact - np.floor(exact)), kind="stable")
        for i in order[:short]:
            take[i] += 1
    while take.sum() > n:  # the at-least-one floor overshot: trim the largest strata
        take[np.argmax(take)] -= 1
    take = np.minimum(take, counts)
    rng = np.random.default_rng(seed)
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    chosen = [
        pool[order[s + rng.choice(c, size=t, replace=False)]]
        for s, c, t in zip(starts, counts, take, strict=True)
        if t
    ]
    return np.sort(np.concatenate(chosen)) if chosen else pool[:0]


# ---- model-agnostic engine -----------------------------------------------------------------------------


class _Codec:
    """Raw feature frame ↔ float matrix: non-numeric columns become category codes (NaN for missing).

    shap-style maskers only mix numbers; the prediction function decodes the codes back to the original
    values and dtypes (strings, categoricals, booleans, nullable integers) before calling the model.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = list(frame.columns)
        self.dtypes = [frame[c].dtype for c in self.columns]
        self.kinds: list[str] = []
        self.uniques: list[np.ndarray | None] = []
        for c, dtype in zip(self.columns, self.dtypes, strict=True):
            s = frame[c]
            if pd.api.types.is_bool_dtype(dtype) and not s.isna().any():
                self.kinds.append("bool")
                self.uniques.append(None)
            elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
                self.kinds.append("num")
                self.uniques.append(None)
            else:
                uniques = pd.unique(s.dropna())
                self.kinds.append("cat")
                self.uniques.append(np.asarray(uniques, dtype=object))

    def extend(self, frame: pd.DataFrame) -> None:
        """Add values first seen in ``frame`` (explained rows outside the frame the codec was built on)."""
        for j, c in enumerate(self.columns):
            if self.kinds[j] == "cat":
                known = pd.Index(self.uniques[j])
                new = [v for v in pd.unique(frame[c].dropna()) if known.get_indexer([v])[0] < 0]
                if new:
                    self.uniques[j] = np.concatenate([self.uniques[j], np.asarray(new, dtype=object)])

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.columns)), dtype="float64")
        for j, c in enumerate(self.columns):
            s = frame[c]
            if self.kinds[j] == "cat":
                codes = pd.Index(self.uniques[j]).get_indexer(s).astype("float64")
                codes[codes < 0] = np.nan
                out[:, j] = codes
            else:
                out[:, j] = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        return out

    def decode(self, A: np.ndarray) -> pd.DataFrame:
        cols: dict[str, Any] = {}
        for j, c in enumerate(self.columns):
            a, dtype, kind = A[:, j], self.dtypes[j], self.kinds[j]
            if kind == "num":
                if isinstance(dtype, np.dtype):
                    # numpy integer columns never hold NaN, so their codes decode back exactly
                    cols[c] = a.astype(dtype) if not (dtype.kind in "iu" and np.isnan(a).any()) else a
                else:  # nullable extension dtypes (Int64, Float64): NaN becomes <NA>
                    cols[c] = pd.Series(a).astype(dtype).array
            elif kind == "bool":
                cols[c] = a.astype(bool)
            else:
                uniques = self.uniques[j]
                missing = np.isnan(a)
                codes = np.where(missing, 0, a).astype(np.int64)
                if isinstance(dtype, pd.CategoricalDtype):
                    cat_codes = (
                        dtype.categories.get_indexer(pd.Index(uniques)) if len(uniques) else np.empty(0, int)
                    )
                    out_codes = np.where(missing, -1, cat_codes[codes] if len(uniques) else -1)
                    cols[c] = pd.Categorical.from_codes(out_codes, dtype=dtype)
                else:
                    vals = uniques[codes] if len(uniques) else np.full(len(a), None, dtype=object)
                    vals = np.where(missing, None, vals)
                    try:
                        cols[c] = pd.array(vals, dtype=dtype)
                    except (TypeError, ValueError):
                        cols[c] = vals
        return pd.DataFrame(cols, columns=self.columns)


def _orderings(n_features: int, n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Feature orderings: every ordering when they fit in the budget (exact), else antithetic random pairs."""
    if math.factorial(n_features) <= n_permutations:
        return np.asarray(list(itertools.permutations(range(n_features))), dtype=int).reshape(-1, n_features)
    half = max(n_permutations // 2, 1)
    forward = np.argsort(rng.random((half, n_features)), axis=1)
    return np.concatenate([forward, forward[:, ::-1]])


def _permutation_shap(
    fn: Callable[[np.ndarray], np.ndarray],
    X_enc: np.ndarray,
    bg_enc: np.ndarray,
    *,
    n_permutations: int,
    row_seeds: np.ndarray,
    seed: int,
    progress: Progress | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """(values rows×features×outputs, base outputs, model output rows×outputs, exact?) by antithetic permutation sampling.

    For each row and ordering, features are switched from background to the row's value one at a time; the
    change in the background-averaged output is that feature's contribution. Σ contributions = f(x) − E[f].
    """
    r, m = X_enc.shape
    b = len(bg_enc)
    base = fn(bg_enc).mean(axis=0)
    fx = fn(X_enc)
    k = fx.shape[1]
    exact = math.factorial(m) <= n_permutations
    values = np.zeros((r, m, k))
    if m == 1:
        values[:, 0, :] = fx - base
        return values, base, fx, True
    p = math.factorial(m) if exact else 2 * max(n_permutations // 2, 1)
    per_row = p * (m - 1) * b
    chunk = max(1, MAX_MODEL_ROWS_PER_CALL // per_row)
    steps = np.arange(1, m)
    for start in range(0, r, chunk):
        idx = np.arange(start, min(start + chunk, r))
        orders = np.stack(
            [_orderings(m, n_permutations, np.random.default_rng([seed, int(row_seeds[i])])) for i in idx]
        )
        # rank[i, p, f]: the step at which feature f is switched to the row's value
        rank = np.argsort(orders, axis=2)
        prefix = rank[:, :, None, :] < steps[None, None, :, None]  # (rows, P, m-1, m)
        masks = prefix.reshape(-1, m)
        owner = np.repeat(idx, p * (m - 1))
        out = np.empty((len(masks), k))
        per_call = max(1, MAX_MODEL_ROWS_PER_CALL // b)  # masks per model call, so memory stays bounded
        for s0 in range(0, len(masks), per_call):
            msk = masks[s0 : s0 + per_call]
            comp = np.where(msk[:, None, :], X_enc[owner[s0 : s0 + per_call]][:, None, :], bg_enc[None, :, :])
            out[s0 : s0 + per_call] = fn(comp.reshape(-1, m)).reshape(len(msk), b, k).mean(axis=1)
        out = out.reshape(len(idx), p, m - 1, k)
        chain = np.concatenate(
            [
                np.broadcast_to(base, (len(idx), p, 1, k)),
                out,
                np.broadcast_to(fx[idx][:, None, None, :], (len(idx), p, 1, k)),
            ],
            axis=2,
        )
        deltas = np.diff(chain, axis=2)  # (rows, P, m, k): contribution of feature orders[i, p, j]
        contrib = np.zeros((len(idx), m, k))
        rows_ix = np.arange(len(idx))[:, None, None]
        np.add.at(contrib, (rows_ix, orders), deltas)
        values[idx] = contrib / p
        if progress:
            progress(min(idx[-1] + 1, r) / r, f"Explained {idx[-1] + 1:,} of {r:,} rows")
    return values, base, fx, exact


# ---- explain -------------------------------------------------------------------------------------------


def _final_output(final: Any, Xt: np.ndarray, out: _Output) -> np.ndarray:
    """The final estimator's output on transformed rows, in the explained space (rows × outputs)."""
    Xin: Any = Xt
    names = getattr(final, "feature_names_in_", None)
    if names is not None and len(names) == Xt.shape[1]:
        Xin = pd.DataFrame(Xt, columns=list(names))
    module = type(final).__module__
    if out.method == "decision_function" and module.startswith("xgboost"):
        raw = final.predict(Xin, output_margin=True)
    elif out.method == "decision_function" and module.startswith("lightgbm"):
        raw = final.predict(Xin, raw_score=True)
    else:
        raw = getattr(final, out.method)(Xin)
    raw = np.asarray(raw, dtype="float64")
    if raw.ndim == 1:
        raw = raw[:, None]
    if out.columns is not None:
        raw = raw[:, list(out.columns)]
    return -raw if out.negate else raw


@dataclass
class _Raw:
    values: np.ndarray  # rows × raw features × outputs
    base: np.ndarray  # rows × outputs
    explainer: str
    units: str
    output: _Output
    setup: float
    notes: list[str]
    groups: dict[str, tuple[str, ...]]
    params: dict[str, Any]
    model_output: np.ndarray | None = (
        None  # the model's output on the explained rows, when computed on the way
    )


def _tolerance(output: np.ndarray) -> float:
    scale = float(np.nanmax(np.abs(output))) if output.size else 1.0
    return 1e-6 + 1e-4 * max(scale, 1.0)


def _group(values_t: np.ndarray, sources: np.ndarray, n_raw: int) -> np.ndarray:
    onehot = np.zeros((len(sources), n_raw))
    onehot[np.arange(len(sources)), sources] = 1.0
    return np.einsum("nck,cf->nfk", values_t, onehot)


def _groups(plan: ExplainerPlan, features: list[str]) -> dict[str, tuple[str, ...]]:
    if plan.sources is None:
        return {}
    out: dict[str, list[str]] = {f: [] for f in features}
    for name, src in zip(plan.transformed_names, plan.sources, strict=True):
        out[features[int(src)]].append(name)
    return {f: tuple(v) for f, v in out.items()}


def _shap() -> Any:
    """shap, imported without tqdm's "IProgress not found" warning: shap imports ``tqdm.auto``, which in a Jupyter
    kernel without ipywidgets warns once and falls back to the text progress bar — which explore never shows
    (shap's own progress bars are off). Only that warning is silenced, only while shap is first imported."""
    if "shap" not in sys.modules:
        from tqdm import TqdmWarning

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
            import shap
    import shap

    return shap


def _gb_multiclass_trees(final: Any, Xt: np.ndarray, decision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP for a multiclass GradientBoostingClassifier, one tree ensemble per class.

    shap's TreeExplainer reads only binary GradientBoostingClassifier; each class's raw score is
    init + learning_rate × Σ trees, so each class is handed to it as a custom tree ensemble.
    """
    shap = _shap()

    lr = float(final.learning_rate)
    k = final.estimators_.shape[1]
    values = np.zeros((Xt.shape[0], Xt.shape[1], k))
    base = np.zeros((Xt.shape[0], k))
    for c in range(k):
        trees = []
        for est in final.estimators_[:, c]:
            t = est.tree_
            left_missing = getattr(t, "missing_go_to_left", None)
            default = t.children_left.copy()
            if left_missing is not None:
                default = np.where(np.asarray(left_missing, dtype=bool), t.children_left, t.children_right)
            trees.append(
                {
                    "children_left": t.children_left.copy(),
                    "children_right": t.children_right.copy(),
                    "children_default": default,
                    "features": t.feature.copy(),
                    "thresholds": t.threshold.copy(),
                    "values": t.value[:, 0, :] * lr,
                    "node_sample_weight": t.weighted_n_node_samples.copy(),
                }
            )
        tree_sum = sum(float(est.predict(Xt[:1])[0]) * lr for est in final.estimators_[:, c])
        offset = float(decision[0, c]) - tree_sum
        explainer = shap.TreeExplainer({"trees": trees, "base_offset": offset})
        values[:, :, c] = explainer.shap_values(Xt, check_additivity=False)
        base[:, c] = float(np.ravel(explainer.expected_value)[0])
    return values, base


def _explain_fast(
    plan: ExplainerPlan,
    model: Any,
    scored: Scored,
    X: pd.DataFrame,
    *,
    approximate: bool,
    progress: Progress | None,
) -> _Raw:
    shap = _shap()

    t0 = time.perf_counter()
    final = plan.final
    has_names = hasattr(model, "feature_names_in_") or not plan.prefix
    features = list(scored.feature_names)
    n_raw = len(features)
    if plan.units == PROBABILITY:
        out = _output_spec(final, scored, method="predict_proba", units=PROBABILITY)
    elif plan.units == TARGET:
        out = _output_spec(final, scored, method="predict", units=TARGET)
    else:
        out = _output_spec(final, scored, method="decision_function", units=plan.units)

    def to_model_space(Xraw: pd.DataFrame) -> np.ndarray:
        if plan.prefix:
            return _transform(plan.prefix, Xraw, has_names)
        cols = [features[i] for i in plan.sources] if plan.sources is not None else features
        return Xraw[cols].to_numpy(dtype="float64", na_value=np.nan)

    params: dict[str, Any] = {}
    if plan.kind == "tree":
        gb_multi = type(final).__name__ == "GradientBoostingClassifier" and len(final.classes_) > 2
        explainer = None if gb_multi else shap.TreeExplainer(final)
    else:
        bg_pos = sample_rows(scored, n=min(LINEAR_BACKGROUND, scored.n), seed=1)
        bg = to_model_space(scored.X.iloc[bg_pos])
        explainer = shap.LinearExplainer(final, shap.maskers.Independent(bg, max_samples=len(bg)))
        params["background_size"] = len(bg)
    setup = time.perf_counter() - t0
    vals_parts, base_parts, output_parts = [], [], []
    n = len(X)
    chunk = SLOW_TREE_CHUNK if plan.slow_hint and not approximate else TREE_CHUNK
    for start in range(0, n, chunk):
        part = X.iloc[start : start + chunk]
        Xt = to_model_space(part)
        # The model's own output on the same transformed rows (Pipeline.<method> = final.<method>(transform(X))).
        output_parts.append(_final_output(final, Xt, out))
        if plan.kind == "tree" and explainer is None:
            decision = np.asarray(final.decision_function(Xt), dtype="float64")
            v, b = _gb_multiclass_trees(final, Xt, decision)
        elif plan.kind == "tree":
            with warnings.catch_warnings():
                # shap announces a changed output format for LightGBM binary models; the shape is handled below
                warnings.filterwarnings("ignore", message="LightGBM binary classifier", category=UserWarning)
                sv = explainer.shap_values(Xt, approximate=approximate, check_additivity=False)
            v = np.asarray(sv[-1] if isinstance(sv, list) and len(sv) == 2 else sv, dtype="float64")
            if isinstance(sv, list) and len(sv) > 2:
                v = np.stack(sv, axis=-1).astype("float64")
            ev = np.ravel(np.asarray(explainer.expected_value, dtype="float64"))
            if v.ndim == 2 and len(ev) == 2:  # a two-output base value for a single-output explanation
                ev = ev[-1:]
            b = np.broadcast_to(ev, (len(part), v.shape[2] if v.ndim == 3 else 1))
        else:
            ex = explainer(Xt)
            v = np.asarray(ex.values, dtype="float64")
            b = np.asarray(ex.base_values, dtype="float64").reshape(len(part), -1)
        if v.ndim == 2:
            v = v[:, :, None]
        if out.columns is not None:
            v, b = v[:, :, list(out.columns)], b[:, list(out.columns)]
        if out.negate:
            v, b = -v, -b
        vals_parts.append(v)
        base_parts.append(np.array(b))
        if progress:
            progress(min(start + chunk, n) / n, f"Explained {min(start + chunk, n):,} of {n:,} rows")
    values_t = np.concatenate(vals_parts)
    base = np.concatenate(base_parts)
    model_output = np.concatenate(output_parts)
    if plan.sources is not None:
        values = _group(values_t, plan.sources, n_raw)
    else:
        values = values_t
    explainer_name = (TREE_APPROX if approximate else TREE) if plan.kind == "tree" else LINEAR
    return _Raw(
        values,
        base,
        explainer_name,
        plan.units,
        out,
        setup,
        [],
        _groups(plan, features) if plan.prefix else {},
        params,
        model_output,
    )


def _explain_agnostic(
    model: Any,
    scored: Scored,
    X: pd.DataFrame,
    positions: np.ndarray,
    *,
    background_size: int,
    n_permutations: int,
    seed: int,
    progress: Progress | None,
) -> _Raw:
    t0 = time.perf_counter()
    if scored.task == "regression":
        out = _output_spec(model, scored, method="predict", units=TARGET)
    elif hasattr(model, "predict_proba"):
        out = _output_spec(model, scored, method="predict_proba", units=PROBABILITY)
    elif hasattr(model, "decision_function"):
        out = _output_spec(model, scored, method="decision_function", units=DECISION)
    else:
        raise AnalysisError(NO_OUTPUT_METHOD.format(model=scored.model_name, cls=type(model).__name__))
    bg_pos = np.random.default_rng([seed, 7]).choice(
        scored.n, size=min(background_size, scored.n), replace=False
    )
    bg = scored.X.iloc[np.sort(bg_pos)]
    codec = _Codec(bg)
    codec.extend(X)

    def fn(A: np.ndarray) -> np.ndarray:
        frame = codec.decode(A)
        try:
            return _call(model, frame, out)
        except Exception as exc:  # noqa: BLE001 - the model failing on its own (decoded) rows is the user's to fix
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(MODEL_CALL_FAILED.format(reason=reason, dataset=scored.dataset_name)) from None

    bg_enc = codec.encode(bg)
    X_enc = codec.encode(X)
    setup = time.perf_counter() - t0
    values, base, _fx, exact = _permutation_shap(
        fn, X_enc, bg_enc, n_permutations=n_permutations, row_seeds=positions, seed=seed, progress=progress
    )
    name = EXACT if exact else PERMUTATION
    m = X.shape[1]
    orderings = f"all {math.factorial(m)}" if exact else f"{2 * max(n_permutations // 2, 1)} sampled"
    note = (
        f"Model-agnostic: {orderings} feature orderings per row{'' if exact else ' (antithetic pairs)'} against "
        f"{len(bg)} background rows drawn from '{scored.dataset_name}'; "
        + (
            "exact Shapley values for this background."
            if exact
            else "sampled orderings give approximate Shapley values (additivity is exact)."
        )
    )
    params = {
        "background_size": int(len(bg)),
        "n_permutations": int(math.factorial(m) if exact else 2 * max(n_permutations // 2, 1)),
    }
    base_rows = np.broadcast_to(base, (len(X), base.shape[0])).copy()
    return _Raw(values, base_rows, name, out.units, out, setup, [note], {}, params)


def explain(
    scored: Scored,
    model: Any,
    params: ExplainParams | None = None,
    *,
    rows: Sequence[int] | np.ndarray | None = None,
    slice_def: SliceDefinition | None = None,
    outside: bool = False,
    progress: Progress | None = None,
) -> ShapExplanation:
    """SHAP values of ``model`` on rows of ``scored``, per raw feature, with an additivity check, computed as
    ``params`` says (default ``ExplainParams()``).

    Rows: ``rows`` (positions in ``scored``) if given, else a label-stratified sample of ``params.sample_size``
    rows (default: the plan's default) of the slice ``slice_def`` (default: all rows; with ``outside``, of the
    rows outside the slice). ``params.method="agnostic"`` forces the model-agnostic explainer;
    ``params.approximate`` applies shap's Saabas approximation to tree ensembles. ``progress(fraction,
    message)`` is called as rows are explained. Units: see ``ShapExplanation.units``.
    """
    p = params or ExplainParams()
    sample_size, approximate, method = p.sample_size, p.approximate, p.method
    background_size, n_permutations, seed = p.background_size, p.n_permutations, p.seed
    mask = None if slice_def is None and not outside else slice_mask(scored, slice_def)
    if outside:
        mask = ~mask
    started = time.perf_counter()
    if method not in METHODS:
        raise AnalysisError(BAD_METHOD.format(received=method, known=", ".join(METHODS)))
    plan = plan_explainer(model, scored, approximate=approximate)
    if approximate and plan.kind != "tree":
        raise AnalysisError(APPROX_NOT_TREE.format(explainer=plan.explainer))
    if rows is not None:
        positions = np.asarray(rows, dtype=int).ravel()
        for p in positions:
            if not 0 <= p < scored.n:
                raise AnalysisError(
                    ROW_OUT_OF_RANGE.format(
                        position=int(p), dataset=scored.dataset_name, n=scored.n, last=scored.n - 1
                    )
                )
        population = int(len(positions))
        if len(positions) == 0:
            raise AnalysisError(NO_ROWS.format(what="the row selection", dataset=scored.dataset_name))
    else:
        population = int(mask.sum()) if mask is not None else scored.n
        n = plan.default_sample_size if sample_size is None else sample_size  # 0 is refused, not the default
        positions = sample_rows(scored, n=n, mask=mask, seed=seed)
    X = scored.X.iloc[positions].reset_index(drop=True)
    notes: list[str] = []
    raw: _Raw | None = None
    if method != "agnostic" and plan.kind != "agnostic":
        try:
            raw = _explain_fast(plan, model, scored, X, approximate=approximate, progress=progress)
        except AnalysisError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the fast path falls back, and says so
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            notes.append(
                f"{plan.explainer} could not explain this model ({reason}); the model-agnostic explainer was used."
            )
    elif plan.kind == "agnostic":
        notes.append(plan.reason)
    model_output = None
    if raw is not None:
        model_output = (
            raw.model_output if raw.model_output is not None else _model_output(model, X, raw.output, scored)
        )
        err = float(np.max(np.abs(raw.base + raw.values.sum(axis=1) - model_output))) if len(X) else 0.0
        if not err <= _tolerance(model_output):
            notes.append(
                f"{raw.explainer} failed the additivity check (base + Σ SHAP differs from the model's output by up to "
                f"{err:.3g} {raw.units}); the model-agnostic explainer was used instead."
            )
            raw = None
    if raw is None:
        raw = _explain_agnostic(
            model,
            scored,
            X,
            positions,
            background_size=background_size,
            n_permutations=n_permutations,
            seed=seed,
            progress=progress,
        )
        raw.notes = notes + raw.notes
        model_output = _model_output(model, X, raw.output, scored)
    else:
        raw.notes = notes + raw.notes
        if plan.slow_hint and not approximate:
            raw.notes.append(plan.slow_hint)
        if approximate:
            raw.notes.append(
                "Approximate (Saabas): attributions follow each tree's decision path; fast and additive, "
                "but not Shapley values — rankings can differ from exact TreeSHAP."
            )
    err = float(np.max(np.abs(raw.base + raw.values.sum(axis=1) - model_output))) if len(X) else 0.0
    tol = _tolerance(model_output)
    additivity = Additivity(
        max_abs_error=err,
        tolerance=tol,
        passed=bool(err <= tol),
        n_rows=len(X),
        output_space=raw.output.method,
    )
    return ShapExplanation(
        values=raw.values,
        base_values=raw.base,
        model_output=model_output,
        data=X,
        feature_names=list(scored.feature_names),
        output_names=list(raw.output.names),
        positions=positions,
        ids=np.asarray(scored.ids)[positions],
        units=raw.units,
        explainer=raw.explainer,
        approximate=bool(approximate and raw.explainer == TREE_APPROX),
        task=scored.task,
        population=population,
        seconds=time.perf_counter() - started,
        setup_seconds=raw.setup,
        additivity=additivity,
        dataset=scored.dataset_name,
        model=scored.model_name,
        notes=tuple(raw.notes),
        groups=raw.groups,
        params={**raw.params, "seed": seed},
    )


def _model_output(model: Any, X: pd.DataFrame, out: _Output, scored: Scored) -> np.ndarray:
    """The whole model's own output on the raw rows, in the explained output space."""
    try:
        return _call(model, X, out)
    except Exception as exc:  # noqa: BLE001 - a model that cannot predict is the user's to fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(MODEL_CALL_FAILED.format(reason=reason, dataset=scored.dataset_name)) from None


def estimate_time(scored: Scored, model: Any, params: ExplainParams | None = None) -> TimeEstimate:
    """Time the explainer of ``params`` (its ``sample_size`` aside) on a few rows and extrapolate:
    ``.seconds(n)`` estimates ``n`` rows.

    Tree and linear explainers are timed on two probe sizes (the slope is the cost per row, so fixed costs such as
    the Pipeline's transform do not inflate it); the model-agnostic one, whose cost is all per row, on two rows.
    """
    p = params or ExplainParams()
    approximate, seed = p.approximate, p.seed
    plan = plan_explainer(model, scored, approximate=approximate)
    kind = "agnostic" if p.method == "agnostic" else plan.kind
    probes = {"tree": (32, 256), "linear": (64, 512), "agnostic": (2,)}[kind]
    if kind == "tree" and plan.slow_hint and not approximate:
        probes = (4, 16)
    timings = []
    for k in probes:
        rows = sample_rows(scored, n=min(k, scored.n), seed=seed + 11)
        ex = explain(scored, model, p, rows=rows)
        timings.append((len(rows), ex.seconds, ex.setup_seconds, ex.explainer))
    (n1, t1, s1, name), (n2, t2, _, _) = timings[0], timings[-1]
    if n2 > n1:
        per_row = max((t2 - t1) / (n2 - n1), 0.0)
        fixed = max(t1 - per_row * n1, s1)
    else:
        per_row, fixed = max(t1 - s1, 0.0) / max(n1, 1), s1
    return TimeEstimate(explainer=name, setup_seconds=fixed, seconds_per_row=per_row, probe_rows=int(n2))


# ---- summaries -----------------------------------------------------------------------------------------


def importance_table(expl: ShapExplanation) -> pd.DataFrame:
    """Global importance per raw feature, most important first.

    Columns: ``feature``, ``mean_abs_shap`` (mean over rows of Σ over outputs of |SHAP|, in ``expl.units``),
    ``share`` (of the total), ``rank`` (1 = most important), ``mean_shap`` (signed mean; single-output only,
    else NaN), ``n_columns`` (transformed columns summed into the feature; 1 when explained on raw features),
    and for multiclass one ``mean_abs_shap[<class>]`` column per class.
    """
    overall = expl.mean_abs()
    total = overall.sum()
    table = pd.DataFrame(
        {
            "feature": expl.feature_names,
            "mean_abs_shap": overall,
            "share": overall / total if total > 0 else np.zeros_like(overall),
            "mean_shap": expl.values[:, :, 0].mean(axis=0)
            if expl.n_outputs == 1
            else np.full(len(overall), np.nan),
            "n_columns": [len(expl.groups.get(f, ())) if expl.groups else 1 for f in expl.feature_names],
        }
    )
    if expl.n_outputs > 1:
        per = np.abs(expl.values).mean(axis=0)
        for k, name in enumerate(expl.output_names):
            table[f"mean_abs_shap[{name}]"] = per[:, k]
    table = table.sort_values("mean_abs_shap", ascending=False, kind="stable").reset_index(drop=True)
    table.insert(3, "rank", np.arange(1, len(table) + 1))
    return table


def interaction_partner(expl: ShapExplanation, feature: str, *, output: int | str = 0) -> str | None:
    """The feature that best explains the spread of ``feature``'s SHAP values (shap's approximate_interactions)."""
    _shap()
    from shap.utils import approximate_interactions

    j = expl.feature_index(feature)
    if len(expl.feature_names) < 2 or expl.sample_size < 4:
        return None
    codec = _Codec(expl.data)
    order = approximate_interactions(j, expl.values_for(output), codec.encode(expl.data))
    for i in order:
        if int(i) != j:
            return expl.feature_names[int(i)]
    return None


@dataclass(frozen=True, eq=False)
class WaterfallSteps(TableResult):
    """Steps of a waterfall for one explained row: base value, the largest contributions, the rest, the output.

    ``table`` columns: ``label``, ``feature`` (None for base/rest/output), ``value`` (the raw feature value),
    ``contribution`` (SHAP, in ``units``), ``start`` and ``end`` (running total before/after), ``kind``
    ("base" | "feature" | "rest" | "output").
    """

    table: pd.DataFrame
    units: str


def waterfall_steps(
    expl: ShapExplanation, *, row: int = 0, output: int | str = 0, max_features: int = 10
) -> WaterfallSteps:
    """The waterfall of row ``row`` of ``expl`` for ``output``: at most ``max_features`` features, the rest
    summed in one step (see ``WaterfallSteps``)."""
    if not 0 <= row < expl.sample_size:
        raise AnalysisError(
            ROW_OUT_OF_RANGE.format(
                position=row, dataset=expl.dataset, n=expl.sample_size, last=expl.sample_size - 1
            )
        )
    k = expl.output_index(output)
    contrib = expl.values[row, :, k]
    base = float(expl.base_values[row, k])
    order = np.argsort(-np.abs(contrib), kind="stable")
    top, rest = order[:max_features], order[max_features:]
    records = [
        {
            "label": "base value",
            "feature": None,
            "value": None,
            "contribution": 0.0,
            "start": base,
            "end": base,
            "kind": "base",
        }
    ]
    running = base
    for j in top:
        name = expl.feature_names[j]
        records.append(
            {
                "label": name,
                "feature": name,
                "value": expl.data.iloc[row, j],
                "contribution": float(contrib[j]),
                "start": running,
                "end": running + float(contrib[j]),
                "kind": "feature",
            }
        )
        running += float(contrib[j])
    if len(rest):
        s = float(contrib[rest].sum())
        records.append(
            {
                "label": f"{len(rest)} other features",
                "feature": None,
                "value": None,
                "contribution": s,
                "start": running,
                "end": running + s,
                "kind": "rest",
            }
        )
        running += s
    final = float(expl.model_output[row, k])
    records.append(
        {
            "label": "model output",
            "feature": None,
            "value": None,
            "contribution": 0.0,
            "start": final,
            "end": final,
            "kind": "output",
        }
    )
    return WaterfallSteps(pd.DataFrame.from_records(records), expl.units)


def find_row(scored: Scored, *, position: int | None = None, row_id: Any = None) -> int:
    """The position of a row in ``scored`` by position or by id (``explore.core.row_ids``: the one rule)."""
    if row_id is not None and str(row_id) != "":
        hit = position_of_id(scored.ids, row_id)
        if hit is None:
            raise AnalysisError(
                UNKNOWN_ID.format(dataset=scored.dataset_name, received=row_id, ids=ids_hint(scored.ids))
            )
        return hit
    if position is None or not 0 <= int(position) < scored.n:
        raise AnalysisError(
            ROW_OUT_OF_RANGE.format(
                position=position, dataset=scored.dataset_name, n=scored.n, last=scored.n - 1
            )
        )
    return int(position)


# ---- slice vs rest -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SliceComparison:
    """Importance inside a slice vs the other rows, and the slice's feature ranges vs a reference (training) set.

    ``importance``: feature, slice_mean_abs, rest_mean_abs (in ``units``), ratio (slice / rest), slice_rank,
    rest_rank. ``ranges``: one row per feature (see ``feature_ranges``). ``slice`` and ``rest`` are the two
    explanations (same explainer, same background).
    """

    slice: ShapExplanation
    rest: ShapExplanation
    importance: pd.DataFrame
    ranges: pd.DataFrame
    description: str
    reference: str
    units: str


def feature_ranges(
    frame: pd.DataFrame,
    reference: pd.DataFrame,
    features: Sequence[str],
    *,
    importance: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Each feature's values in ``frame`` (the slice) vs ``reference`` (e.g. training).

    Numeric: slice p5/p50/p95 vs reference p1/p50/p99, and ``outside_share``: the share of the slice's non-missing
    values outside the reference's [p1, p99]. Categorical: the slice's most common value and its share there and in
    the reference, and ``outside_share``: the share of the slice's values seen in under 0.1 % of the reference
    (unseen or rare). ``missing_slice`` / ``missing_reference`` are missing-value shares. With ``importance``
    (same order as ``features``), ``importance`` and ``flag`` (importance in the top half and outside_share > 5 %).
    """
    rows = []
    for f in features:
        s, r = frame[f], reference[f]
        rec: dict[str, Any] = {
            "feature": f,
            "missing_slice": float(s.isna().mean()) if len(s) else np.nan,
            "missing_reference": float(r.isna().mean()) if len(r) else np.nan,
        }
        if (
            pd.api.types.is_numeric_dtype(s.dtype)
            and pd.api.types.is_numeric_dtype(r.dtype)
            and not pd.api.types.is_bool_dtype(s.dtype)
        ):
            sv = pd.to_numeric(s, errors="coerce").dropna().to_numpy(dtype="float64")
            rv = pd.to_numeric(r, errors="coerce").dropna().to_numpy(dtype="float64")
            rec["kind"] = "numeric"
            if len(sv):
                rec.update(
                    slice_p5=np.quantile(sv, 0.05),
                    slice_p50=np.quantile(sv, 0.5),
                    slice_p95=np.quantile(sv, 0.95),
                )
            if len(rv):
                lo, mid, hi = np.quantile(rv, [0.01, 0.5, 0.99])
                rec.update(reference_p1=lo, reference_p50=mid, reference_p99=hi)
                rec["outside_share"] = float(((sv < lo) | (sv > hi)).mean()) if len(sv) else np.nan
            else:
                rec["outside_share"] = 1.0 if len(sv) else np.nan
        else:
            rec["kind"] = "categorical"
            sc = s.dropna().astype(str)
            rc = r.dropna().astype(str).value_counts(normalize=True)
            if len(sc):
                top = sc.value_counts(normalize=True)
                rec.update(
                    slice_top=str(top.index[0]),
                    slice_top_share=float(top.iloc[0]),
                    reference_top_share=float(rc.get(top.index[0], 0.0)),
                )
                rare = set(rc.index[rc.to_numpy() >= 0.001])
                rec["outside_share"] = float((~sc.isin(rare)).mean())
            else:
                rec["outside_share"] = np.nan
        rows.append(rec)
    table = pd.DataFrame.from_records(rows)
    if importance is not None:
        imp = np.asarray(importance, dtype="float64")
        table["importance"] = imp
        cutoff = np.quantile(imp, 0.5) if len(imp) else 0.0
        table["flag"] = (imp >= cutoff) & (imp > 0) & (table["outside_share"].fillna(0) > 0.05)
    return table


def slice_vs_rest(
    scored: Scored,
    model: Any,
    slice_def: SliceDefinition,
    *,
    reference: pd.DataFrame,
    reference_name: str = "train",
    description: str = "",
    params: ExplainParams | None = None,
    progress: Progress | None = None,
) -> SliceComparison:
    """Explain a sample of the slice and of the other rows with the same explainer (``params``) and compare.

    Also compares the slice's feature values with ``reference`` (e.g. the training dataset): where a feature
    the model leans on sits outside what it saw in training, the model should not be trusted there.
    """
    mask = slice_def.mask(scored)
    if not mask.any():
        raise AnalysisError(
            NO_ROWS.format(what=f"the slice ({description or 'current slice'})", dataset=scored.dataset_name)
        )
    if mask.all():
        raise AnalysisError(EMPTY_REST.format(dataset=scored.dataset_name))
    missing = [f for f in scored.feature_names if f not in reference.columns]
    if missing:
        raise AnalysisError(
            EMPTY_REFERENCE.format(dataset=reference_name, missing=", ".join(map(repr, missing[:10])))
        )

    def half(lo: float, hi: float) -> Progress | None:
        return (lambda f, m: progress(lo + (hi - lo) * f, m)) if progress else None

    inside = explain(scored, model, params, slice_def=slice_def, progress=half(0, 0.5))
    outside = explain(scored, model, params, slice_def=slice_def, outside=True, progress=half(0.5, 1))
    a, b = inside.mean_abs(), outside.mean_abs()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(b > 0, a / b, np.nan)
    imp = pd.DataFrame(
        {"feature": inside.feature_names, "slice_mean_abs": a, "rest_mean_abs": b, "ratio": ratio}
    )
    imp["slice_rank"] = imp["slice_mean_abs"].rank(ascending=False, method="min").astype(int)
    imp["rest_rank"] = imp["rest_mean_abs"].rank(ascending=False, method="min").astype(int)
    imp = imp.sort_values("slice_mean_abs", ascending=False, kind="stable").reset_index(drop=True)
    frame = scored.X.loc[mask]
    ranges = feature_ranges(frame, reference, scored.feature_names, importance=a)
    ranges = ranges.set_index("feature").loc[imp["feature"]].reset_index()
    return SliceComparison(
        slice=inside,
        rest=outside,
        importance=imp,
        ranges=ranges,
        description=description or "slice",
        reference=reference_name,
        units=inside.units,
    )


# ---- permutation cross-check ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PermutationCheck:
    """scikit-learn permutation importance on the explained rows, against the SHAP ranking.

    ``table``: feature, shap_mean_abs, shap_rank, perm_mean, perm_std (drop in ``scoring`` when the feature's
    values are shuffled; higher = more important), perm_rank. ``spearman`` is the rank correlation between the
    two importances (None when undefined, e.g. a constant ranking; ``note`` says why) with its ``p_value``;
    ``top_overlap`` the share of SHAP's top-``top_k`` features also in the permutation top-``top_k``.
    """

    table: pd.DataFrame
    spearman: float | None
    p_value: float | None
    top_k: int
    top_overlap: float
    scoring: str
    n_rows: int
    n_repeats: int
    seconds: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "spearman": self.spearman,
            "p_value": self.p_value,
            "top_k": self.top_k,
            "top_overlap": self.top_overlap,
            "scoring": self.scoring,
            "n_rows": self.n_rows,
            "n_repeats": self.n_repeats,
            "note": self.note,
            "features": self.table[["feature", "shap_rank", "perm_rank", "perm_mean"]].to_dict("records"),
        }


def _scorer(model: Any, task: str) -> tuple[Any, str]:
    from sklearn.metrics import log_loss, make_scorer

    if task == "regression":
        return "neg_mean_squared_error", "mean squared error (increase)"
    if hasattr(model, "predict_proba"):
        labels = list(np.asarray(model.classes_))
        return make_scorer(
            log_loss, greater_is_better=False, response_method="predict_proba", labels=labels
        ), "log loss (increase)"
    return "accuracy", "accuracy (decrease)"


def permutation_check(
    scored: Scored, model: Any, expl: ShapExplanation, *, n_repeats: int = 5, top_k: int = 5, seed: int = 0
) -> PermutationCheck:
    """Run ``sklearn.inspection.permutation_importance`` on the rows ``expl`` explained and compare rankings."""
    from scipy.stats import spearmanr
    from sklearn.inspection import permutation_importance

    t0 = time.perf_counter()
    X = scored.X.iloc[expl.positions]
    y = np.asarray(scored.y_raw)[expl.positions]
    if scored.task == "regression":
        y = np.asarray(scored.y, dtype="float64")[expl.positions]
    scoring, label = _scorer(model, scored.task)
    Xin: Any = X if hasattr(model, "feature_names_in_") else X.to_numpy()
    try:
        result = permutation_importance(
            model, Xin, y, scoring=scoring, n_repeats=n_repeats, random_state=seed
        )
    except Exception as exc:  # noqa: BLE001 - the model failing on its own rows is the user's to fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(MODEL_CALL_FAILED.format(reason=reason, dataset=scored.dataset_name)) from None
    shap_imp = expl.mean_abs()
    table = pd.DataFrame(
        {
            "feature": expl.feature_names,
            "shap_mean_abs": shap_imp,
            "perm_mean": result.importances_mean,
            "perm_std": result.importances_std,
        }
    )
    table["shap_rank"] = table["shap_mean_abs"].rank(ascending=False, method="min").astype(int)
    table["perm_rank"] = table["perm_mean"].rank(ascending=False, method="min").astype(int)
    table = table.sort_values("shap_mean_abs", ascending=False, kind="stable").reset_index(drop=True)
    rho = p = None
    note = ""
    if len(table) < 3:
        note = "Rank agreement needs at least 3 features."
    elif np.ptp(shap_imp) == 0 or np.ptp(result.importances_mean) == 0:
        note = "One of the rankings is constant (every feature scored the same), so the rank correlation is undefined."
    else:
        res = spearmanr(shap_imp, result.importances_mean)
        rho, p = float(res.statistic), float(res.pvalue)
    k = min(top_k, len(table))
    top_shap = set(table.nsmallest(k, "shap_rank")["feature"])
    top_perm = set(table.nsmallest(k, "perm_rank")["feature"])
    overlap = len(top_shap & top_perm) / k if k else 0.0
    return PermutationCheck(
        table=table,
        spearman=rho,
        p_value=p,
        top_k=k,
        top_overlap=overlap,
        scoring=label,
        n_rows=len(X),
        n_repeats=n_repeats,
        seconds=time.perf_counter() - t0,
        note=note,
    )


# ---- drop-column importance ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DropColumnResult:
    """The metric change when each feature is neutralised (replaced by a constant) and the model refitted.

    ``table``: feature, baseline (mean over folds), neutralised (mean), benefit (mean of baseline − neutralised
    for higher-is-better metrics, neutralised − baseline for losses: positive = the feature helps), ci_low,
    ci_high (``confidence`` interval of the benefit over folds, Nadeau–Bengio corrected t), and ``fold_benefits``.
    """

    table: pd.DataFrame
    metric: str
    higher_is_better: bool
    folds: int
    n_rows: int
    confidence: float
    seconds: float
    dataset: str

    def to_dict(self) -> dict[str, Any]:
        records = []
        for r in self.table.to_dict("records"):
            records.append(
                {
                    k: (
                        list(map(float, v))
                        if isinstance(v, list | np.ndarray)
                        else (float(v) if isinstance(v, float | np.floating) else v)
                    )
                    for k, v in r.items()
                }
            )
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "folds": self.folds,
            "n_rows": self.n_rows,
            "confidence": self.confidence,
            "seconds": round(self.seconds, 2),
            "dataset": self.dataset,
            "features": records,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DropColumnResult:
        table = pd.DataFrame.from_records(d["features"])
        return cls(
            table=table,
            metric=d["metric"],
            higher_is_better=bool(d["higher_is_better"]),
            folds=int(d["folds"]),
            n_rows=int(d["n_rows"]),
            confidence=float(d["confidence"]),
            seconds=float(d["seconds"]),
            dataset=str(d.get("dataset", "")),
        )


METRICS = ("roc_auc", "log_loss", "accuracy", "rmse", "r2")


def _metric_fn(
    metric: str, classes: np.ndarray | None
) -> tuple[Callable[[Any, pd.DataFrame, np.ndarray], float], bool]:
    from sklearn.metrics import accuracy_score, log_loss, r2_score, roc_auc_score

    def scores(model: Any, X: Any) -> np.ndarray:
        return np.asarray(model.predict_proba(X), dtype="float64")

    if metric == "roc_auc":

        def roc(model: Any, X: Any, y: np.ndarray) -> float:
            p = scores(model, X)
            pos = (
                list(model.classes_).index(classes[1])
                if classes is not None and classes[1] in list(model.classes_)
                else 1
            )
            return float(roc_auc_score(y == model.classes_[pos], p[:, pos]))

        return roc, True
    if metric == "log_loss":
        return (lambda model, X, y: float(log_loss(y, scores(model, X), labels=list(model.classes_)))), False
    if metric == "accuracy":
        return (lambda model, X, y: float(accuracy_score(y, model.predict(X)))), True
    if metric == "rmse":
        return (
            lambda model, X, y: float(
                np.sqrt(np.mean((np.asarray(model.predict(X), dtype="float64") - y) ** 2))
            )
        ), False
    if metric == "r2":
        return (lambda model, X, y: float(r2_score(y, model.predict(X)))), True
    raise AnalysisError(f"The metric must be one of {', '.join(METRICS)}; received {metric!r}.")


def default_metric(model: Any, task: str) -> str:
    """roc_auc for binary, log_loss for multiclass (accuracy without predict_proba), rmse for regression."""
    if task == "regression":
        return "rmse"
    if not hasattr(model, "predict_proba"):
        return "accuracy"
    return "roc_auc" if task == "binary" else "log_loss"


def _neutral(values: pd.Series) -> Any:
    """The constant that neutralises a column: its median (numbers) or most frequent value (anything else)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        med = values.median()
        return 0 if pd.isna(med) else med
    mode = values.mode(dropna=True)
    return mode.iloc[0] if len(mode) else values.iloc[0]


def _neutralise(X: pd.DataFrame, feature: str, value: Any) -> pd.DataFrame:
    out = X.copy()
    col = out[feature]
    filled = pd.Series([value] * len(out), index=out.index)
    try:
        out[feature] = filled.astype(col.dtype)
    except (TypeError, ValueError):
        out[feature] = filled
    return out


@dataclass(frozen=True)
class RefitThreads:
    """How the drop-column refits use the cores: the model's own workers (its ``n_jobs``, resolved) and the
    BLAS / OpenMP threads each may start (``inner``), so that workers × threads ≤ cores."""

    cores: int
    workers: int
    inner: int
    capped_n_jobs: dict[str, int] = field(default_factory=dict)


def _resolved_jobs(value: Any, cores: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return None  # None (one worker, or a joblib context's choice) or something unknown
    n = int(value)
    return max(1, cores + 1 + n) if n < 0 else n  # joblib: -1 every core, -2 all but one, …


_THREAD_LIMITS_LOCK = threading.Lock()


def refit_threads(model: Any, cores: int | None = None) -> RefitThreads:
    """The thread budget of refitting ``model``: ``cores`` (default: the cores this process may use, as joblib
    counts them — CPU affinity and container quotas included); every ``n_jobs`` parameter above the cores is
    capped to them; the BLAS / OpenMP threads per worker are cores // the most workers any step starts."""
    from joblib import cpu_count

    cores = max(1, int(cores if cores is not None else cpu_count()))
    params = model.get_params(deep=True) if hasattr(model, "get_params") else {}
    workers, capped = 1, {}
    for name, value in params.items():
        if name != "n_jobs" and not name.endswith("__n_jobs"):
            continue
        n = _resolved_jobs(value, cores)
        if n is None:
            continue
        if n > cores:
            capped[name] = cores
            n = cores
        workers = max(workers, n)
    return RefitThreads(cores=cores, workers=workers, inner=max(1, cores // workers), capped_n_jobs=capped)


def drop_column_importance(
    model: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    features: Sequence[str],
    task: str,
    dataset: str = "train",
    folds: int = 3,
    metric: str | None = None,
    max_rows: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: Progress | None = None,
) -> DropColumnResult:
    """Refit clones of ``model`` over ``folds`` cross-validation folds, once as is and once per feature with that
    feature replaced by a constant (so a ColumnTransformer that names it still works), and report the metric change.

    ``X``/``y``: the training rows (labels as the model saw them); at most ``max_rows`` rows are used (stratified).
    The interval uses the Nadeau–Bengio corrected t (folds share training rows, so the plain t is too narrow).
    ``progress(fraction, message)`` after every fit. Returns a ``DropColumnResult``.
    """
    from scipy import stats
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold

    t0 = time.perf_counter()
    if isinstance(folds, bool) or not isinstance(folds, int | np.integer) or not 2 <= folds <= 20:
        raise AnalysisError(BAD_FOLDS.format(received=folds))
    features = [f for f in features]
    unknown = [f for f in features if f not in X.columns]
    if not features or unknown:
        raise AnalysisError(
            NO_FEATURES.format(received=unknown or features, known=", ".join(map(str, X.columns[:30])))
        )
    try:
        clone(model)
    except Exception as exc:  # noqa: BLE001 - anything clone() rejects
        raise AnalysisError(
            NOT_REFITTABLE.format(
                reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__, cls=type(model).__name__
            )
        ) from None
    y = np.asarray(y)
    keep = pd.notna(y)
    X, y = X.loc[keep].reset_index(drop=True), y[keep]
    classes = np.asarray(getattr(model, "classes_", np.unique(y))) if task != "regression" else None
    if task != "regression":
        counts = pd.Series(y).value_counts()
        if len(counts) < 2 or counts.min() < folds:
            raise AnalysisError(
                TOO_FEW_FOR_CV.format(
                    need=folds,
                    per_class=" of every class",
                    folds=folds,
                    dataset=dataset,
                    received=", ".join(f"{k!r}: {v}" for k, v in counts.items()),
                )
            )
    elif len(y) < 2 * folds:
        raise AnalysisError(
            TOO_FEW_FOR_CV.format(need=2 * folds, per_class="", folds=folds, dataset=dataset, received=len(y))
        )
    if len(X) > max_rows:
        rng = np.random.default_rng(seed)
        if task != "regression":
            idx = []
            for c in pd.unique(y):
                pool = np.flatnonzero(y == c)
                take = max(folds, round(len(pool) * max_rows / len(X)))
                idx.append(rng.choice(pool, size=min(take, len(pool)), replace=False))
            sel = np.sort(np.concatenate(idx))
        else:
            sel = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[sel].reset_index(drop=True), y[sel]
    metric = metric or default_metric(model, task)
    score_fn, higher = _metric_fn(metric, classes)
    if task == "regression":
        y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype="float64")
        splitter = KFold(n_splits=folds, shuffle=True, random_state=seed).split(X)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(
            X, pd.Series(y).astype(str)
        )
    has_names = hasattr(model, "feature_names_in_")
    # Each refit: the model's own workers (n_jobs, capped at the cores) × BLAS / OpenMP threads ≤ the cores, so
    # that the refits do not thrash (a RandomForest's n_jobs=-1 threads each starting every core's BLAS threads).
    threads = refit_threads(model)
    model = clone(model).set_params(**threads.capped_n_jobs) if threads.capped_n_jobs else model
    # One worker: BLAS / OpenMP keep their own defaults (a limit equal to the cores would change nothing).
    # The limits are the process's (every session's BLAS): one run at a time sets and restores them, so two
    # overlapping runs cannot restore each other's limits in the wrong order and leave the server at one thread.
    limits = None
    if threads.workers > 1:
        _THREAD_LIMITS_LOCK.acquire()
        try:
            limits = threadpool_limits(limits=threads.inner)
        except BaseException:
            _THREAD_LIMITS_LOCK.release()
            raise
    total = folds * (1 + len(features))
    done = 0
    base_scores, feat_scores = [], {f: [] for f in features}
    test_frac = []
    try:
        for fold, (tr, te) in enumerate(splitter):
            Xtr, Xte, ytr, yte = X.iloc[tr], X.iloc[te], y[tr], y[te]
            test_frac.append(len(te) / len(tr))

            def fit_score(
                a: pd.DataFrame,
                b: pd.DataFrame,
                label: str,
                ytr: np.ndarray = ytr,
                yte: np.ndarray = yte,
                fold: int = fold,
            ) -> float:
                nonlocal done
                est = clone(model)
                try:
                    est.fit(a if has_names else a.to_numpy(), ytr)
                    s = score_fn(est, b if has_names else b.to_numpy(), yte)
                except Exception as exc:  # noqa: BLE001 - a refit failing is reported, not crashed on
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    raise AnalysisError(
                        f"Refitting a copy of the model failed ({label}, fold {fold + 1}): {reason}. "
                        "The drop-column experiment needs a model that can be refitted on the training data."
                    ) from None
                done += 1
                if progress:
                    progress(done / total, f"Fold {fold + 1}/{folds}: {label} ({done}/{total} fits)")
                return s

            base_scores.append(fit_score(Xtr, Xte, "baseline"))
            for f in features:
                value = _neutral(Xtr[f])
                feat_scores[f].append(
                    fit_score(_neutralise(Xtr, f, value), _neutralise(Xte, f, value), f"without '{f}'")
                )
    finally:
        if limits is not None:
            limits.restore_original_limits()
            _THREAD_LIMITS_LOCK.release()
    base = np.asarray(base_scores)
    rho = float(np.mean(test_frac))
    tcrit = float(stats.t.ppf(0.5 + confidence / 2, df=folds - 1))
    rows = []
    for f in features:
        neutral = np.asarray(feat_scores[f])
        benefit = (base - neutral) if higher else (neutral - base)
        mean = float(benefit.mean())
        var = float(benefit.var(ddof=1)) if folds > 1 else 0.0
        half = tcrit * math.sqrt((1 / folds + rho) * var)
        rows.append(
            {
                "feature": f,
                "baseline": float(base.mean()),
                "neutralised": float(neutral.mean()),
                "benefit": mean,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "fold_benefits": benefit.tolist(),
            }
        )
    table = (
        pd.DataFrame.from_records(rows)
        .sort_values("benefit", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    return DropColumnResult(
        table=table,
        metric=metric,
        higher_is_better=higher,
        folds=folds,
        n_rows=len(X),
        confidence=confidence,
        seconds=time.perf_counter() - t0,
        dataset=dataset,
    )
