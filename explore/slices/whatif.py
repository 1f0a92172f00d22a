"""What-if on datapoints: edit a row and predict, nearest counterfactual, ICE and partial dependence,
perturbation checks (CheckList-style invariance and directional tests) and decision thresholds.

Functions that predict take the fitted ``model`` explicitly (``ws.model(name)``); they raise
``AnalysisError`` when there is none (a predictions-only workspace). Nothing here imports streamlit.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from explore.core.serialise import plain
from explore.core.workspace import Scored, decision_sign, predict_frame
from explore.errors import NO_MODEL_FILE, AnalysisError
from explore.slices.comparison import comparison_sets
from explore.slices.definition import SliceDefinition, slice_mask
from explore.slices.grouping import group_column
from explore.stats import metrics

NO_MODEL = NO_MODEL_FILE.format(needs="{what} needs the model itself", then=" to use it")
BAD_POSITION = "Row position {position!r} is not in dataset '{dataset}' (positions 0 to {last:,}). Pick a row from the table."
NOT_A_FEATURE = "'{column}' is not one of the model's input columns ({features}). Pick one of them."
BAD_NUMBER = "The value {value!r} for '{column}' is not a number, and the column is numeric. Enter a number (or leave it empty for missing)."
BAD_NORM = "The distance must be 'l1' or 'l2'; received {received!r}."
BAD_CHANGE = "Give exactly one of set_to (a value) or shift (a number to add); received set_to={set_to!r}, shift={shift!r}."
BAD_EXPECTATION = "expectation must be 'invariant', 'increase' or 'decrease'; received {received!r}."
BAD_COSTS = "Costs must be non-negative numbers, not both zero; received cost_fp={fp!r}, cost_fn={fn!r}."
MAX_GRID = 40


def _require_model(model: Any, what: str) -> None:
    if model is None:
        raise AnalysisError(NO_MODEL.format(what=what))


def _check_position(scored: Scored, position: int) -> int:
    try:
        pos = int(position)
    except (TypeError, ValueError):
        pos = -1
    if not 0 <= pos < scored.n:
        raise AnalysisError(
            BAD_POSITION.format(position=position, dataset=scored.dataset_name, last=max(scored.n - 1, 0))
        )
    return pos


def _check_feature(scored: Scored, feature: str) -> None:
    if feature not in scored.feature_names:
        raise AnalysisError(
            NOT_A_FEATURE.format(column=feature, features=", ".join(scored.feature_names[:30]))
        )


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _codes_of(scored: Scored, values: np.ndarray) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(scored.classes.tolist())}
    lookup_s = {str(c): i for i, c in enumerate(scored.classes.tolist())}
    return np.array([lookup.get(v, lookup_s.get(str(v), -1)) for v in values.tolist()], dtype=np.int64)


@dataclass(frozen=True)
class Outputs:
    """Model outputs for a batch of rows: ``pred`` (class codes, or floats for regression),
    ``proba`` (n × k or None) and ``score`` (binary: positive-class score; multiclass: None; regression:
    the prediction)."""

    pred: np.ndarray
    proba: np.ndarray | None
    score: np.ndarray | None


def model_outputs(model: Any, scored: Scored, X: pd.DataFrame) -> Outputs:
    """Predict ``X`` (the model's feature columns) with ``model``; failures become ``ModelError``."""
    raw, proba = predict_frame(
        model, X[scored.feature_names], model_name=scored.model_name or "model", dataset=scored.dataset_name
    )
    if scored.task == "regression":
        pred = np.asarray(raw, dtype="float64")
        return Outputs(pred, None, pred)
    if proba is not None:
        est_classes = np.asarray(getattr(model, "classes_", scored.classes))
        if not np.array_equal(est_classes, scored.classes):
            proba = proba[:, _codes_of_list(est_classes, scored.classes)]
    pred = _codes_of(scored, np.asarray(raw))
    score = None
    if scored.task == "binary":
        if proba is not None:
            score = proba[:, scored.positive_index]
        elif hasattr(model, "decision_function"):
            Xin = X[scored.feature_names]
            score = np.asarray(
                model.decision_function(Xin if hasattr(model, "feature_names_in_") else Xin.to_numpy()),
                dtype="float64",
            ) * decision_sign(model, scored.classes, scored.positive_index)
    return Outputs(pred, proba, score)


def _codes_of_list(est_classes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    where = {str(c): i for i, c in enumerate(est_classes.tolist())}
    return np.array([where[str(c)] for c in classes.tolist()])


def _target_score(scored: Scored, out: Outputs, k: int | None) -> np.ndarray | None:
    """The number a what-if tracks: binary score, P(class k) for multiclass, the prediction for regression."""
    if scored.task == "multiclass":
        return None if out.proba is None or k is None else out.proba[:, k]
    return out.score


def target_description(scored: Scored, k: int | None = None) -> str:
    """What ``score`` means for this task, e.g. "P(yes)", "decision score" or "prediction"."""
    if scored.task == "regression":
        return "prediction"
    if scored.task == "binary":
        return f"P({scored.classes[scored.positive_index]})" if scored.proba is not None else "decision score"
    return f"P({scored.classes[k]})" if k is not None else "probability"


# ---- editing a datapoint ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditResult:
    """Predictions for a row before and after edits.

    ``original`` / ``edited``: the predicted label (class value, or number for regression);
    ``original_score`` / ``edited_score``: binary positive-class score, regression prediction, multiclass
    probability of the originally predicted class; ``proba_original`` / ``proba_edited``: class →
    probability (None without probabilities); ``changes``: column → (old, new); ``flipped``: the
    predicted class changed (regression: False).
    """

    position: int
    row_id: Any
    original: Any
    edited: Any
    original_score: float | None
    edited_score: float | None
    proba_original: dict[str, float] | None
    proba_edited: dict[str, float] | None
    changes: dict[str, tuple[Any, Any]]
    flipped: bool
    score_meaning: str


def coerce_edits(scored: Scored, edits: dict[str, Any]) -> dict[str, Any]:
    """Turn widget values into the column's type (numbers for numeric columns; None/"" → missing)."""
    out: dict[str, Any] = {}
    for col, v in edits.items():
        _check_feature(scored, col)
        s = scored.X[col]
        if v is None or (isinstance(v, str) and v.strip() == "") or (isinstance(v, float) and math.isnan(v)):
            out[col] = np.nan if _is_numeric(s) else None
        elif _is_numeric(s):
            try:
                out[col] = float(v)
            except (TypeError, ValueError):
                raise AnalysisError(BAD_NUMBER.format(value=v, column=col)) from None
        else:
            out[col] = v
    return out


def edited_row(scored: Scored, position: int, edits: dict[str, Any]) -> pd.DataFrame:
    """A one-row copy of the row's features with ``edits`` applied (the shared frame is not touched)."""
    pos = _check_position(scored, position)
    row = scored.X.iloc[[pos]].copy()
    for col, v in coerce_edits(scored, edits).items():
        if _is_numeric(row[col]) and not pd.api.types.is_float_dtype(row[col].dtype):
            row[col] = row[col].astype("float64")
        row[col] = [v]
    return row


def edit_and_predict(model: Any, scored: Scored, position: int, edits: dict[str, Any]) -> EditResult:
    """Predict row ``position`` as it is and with ``edits`` (column → new value) applied."""
    _require_model(model, "Editing a datapoint")
    pos = _check_position(scored, position)
    changed = edited_row(scored, pos, edits)
    both = pd.concat([scored.X.iloc[[pos]], changed], ignore_index=True)
    out = model_outputs(model, scored, both)
    changes = {}
    for col in edits:
        old, new = scored.X.iloc[pos][col], changed.iloc[0][col]
        if not (_missing(old) and _missing(new)) and not _same(old, new):
            changes[col] = (plain(old, for_json=False), plain(new, for_json=False))
    if scored.task == "regression":
        orig, new = float(out.pred[0]), float(out.pred[1])
        s0, s1, flipped = orig, new, False
    else:
        k0 = int(out.pred[0])
        orig, new = _class_value(scored, out.pred[0]), _class_value(scored, out.pred[1])
        flipped = bool(out.pred[0] != out.pred[1])
        if scored.task == "binary":
            s0 = None if out.score is None else float(out.score[0])
            s1 = None if out.score is None else float(out.score[1])
        else:
            s0 = None if out.proba is None else float(out.proba[0, k0])
            s1 = None if out.proba is None else float(out.proba[1, k0])
    names = None if scored.classes is None else [str(c) for c in scored.classes.tolist()]
    pr0 = dict(zip(names, map(float, out.proba[0]), strict=True)) if out.proba is not None else None
    pr1 = dict(zip(names, map(float, out.proba[1]), strict=True)) if out.proba is not None else None
    meaning = target_description(scored, int(out.pred[0]) if scored.task == "multiclass" else None)
    return EditResult(
        pos, plain(scored.ids[pos], for_json=False), orig, new, s0, s1, pr0, pr1, changes, flipped, meaning
    )


def _class_value(scored: Scored, code: int) -> Any:
    return plain(scored.classes[int(code)], for_json=False) if code >= 0 else None


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


# ---- nearest counterfactual ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Counterfactual:
    """The closest row whose prediction differs (another class; regression: by at least ``delta``).

    ``distance`` in standardised units (numeric differences divided by the column's standard
    deviation) plus 1 per differing categorical (or missing-vs-present) value, combined by ``norm``.
    ``differences``: one row per differing feature with ``feature``, ``original``, ``counterfactual``
    and ``contribution`` (its term of the distance). ``verified``: the model re-predicted both rows and
    the predictions do differ (None when no model was given).
    """

    position: int
    found: bool
    cf_position: int | None
    cf_id: Any
    distance: float
    norm: str
    original_prediction: Any
    cf_prediction: Any
    differences: pd.DataFrame
    n_candidates: int
    verified: bool | None
    message: str


# Per dataset, built lazily column by column as searches need them and never changed: the scale of each numeric
# feature (one float) and the codes of each categorical one (1 byte a row for up to 127 levels). Numeric terms are
# computed from the frame's own columns on each search: no standardised copy of the rows is kept.
# Built once under _BUILD_LOCK (a click and the background preparation never build a column twice).
_SCALE_CACHE: weakref.WeakKeyDictionary[Scored, dict[str, float]] = weakref.WeakKeyDictionary()
_CODES_CACHE: weakref.WeakKeyDictionary[Scored, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()
_BUILD_LOCK = threading.Lock()
_PREPARED: weakref.WeakSet[Scored] = weakref.WeakSet()  # datasets whose preparation has started


def _numeric_values(scored: Scored, column: str) -> np.ndarray:
    """A numeric feature as float64 (NaN missing): a view of the frame's own column when it already is."""
    return pd.to_numeric(scored.frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _scale(scored: Scored, column: str, x: np.ndarray | None = None) -> float:
    """The column's standard deviation (1 when it has none): one float per column, kept per dataset."""
    cache = _SCALE_CACHE.get(scored, {})
    if column not in cache:
        with _BUILD_LOCK:
            cache = _SCALE_CACHE.setdefault(scored, {})
            if column not in cache:
                x = _numeric_values(scored, column) if x is None else x
                finite = np.isfinite(x)
                sd = float(np.std(x) if finite.all() else np.nanstd(x) if finite.any() else 0.0)
                cache[column] = sd if sd > 0 else 1.0
    return cache[column]


def _codes(scored: Scored, column: str) -> np.ndarray:
    """A categorical feature as level codes (-1 missing) in the smallest integer type that holds them: equal
    values, equal codes (as ``==`` decides), so a search compares small integers instead of the values."""
    cache = _CODES_CACHE.get(scored, {})
    if column not in cache:
        with _BUILD_LOCK:
            cache = _CODES_CACHE.setdefault(scored, {})
            if column not in cache:
                codes, levels = pd.factorize(scored.frame[column], use_na_sentinel=True)
                cache[column] = codes.astype(np.min_scalar_type(-max(len(levels), 1)))
    return cache[column]


def prepare_distances(scored: Scored, features: Sequence[str] | None = None) -> None:
    """Build what measuring distances on ``scored`` needs (each numeric feature's scale, each categorical
    feature's codes), so that the first counterfactual search or similarity colour costs what later ones do."""
    feats = (
        features if features is not None else [c for c in scored.feature_names if c in scored.frame.columns]
    )
    for c in feats:
        if _is_numeric(scored.frame[c]):
            _scale(scored, c)
        else:
            _codes(scored, c)


def prepare_distances_in_background(scored: Scored) -> threading.Thread | None:
    """:func:`prepare_distances` in a daemon thread, once per dataset (None when it was started before): a
    page starts it once its chart is drawn, while the user looks for a row to click."""
    with _BUILD_LOCK:
        if scored in _PREPARED:
            return None
        _PREPARED.add(scored)
    thread = threading.Thread(target=prepare_distances, args=(scored,), name="prepare-distances", daemon=True)
    thread.start()
    return thread


def _terms(
    scored: Scored, features: tuple[str, ...], pos: int, rows: np.ndarray | None
) -> Iterator[tuple[str, np.ndarray]]:
    """Each feature's term of the distance between row ``pos`` and ``rows`` (every row when None), one column at
    a time — numbers from the frame itself (no standardised copy is built), categories from their codes once
    :func:`prepare_distances` built them, else by comparing the values. Numbers: the difference in standard
    deviations; categories: 0 when equal, else 1; missing against present: 1; missing against missing: 0."""
    X = scored.frame
    for c in features:
        s = X[c]
        if _is_numeric(s):
            x = _numeric_values(scored, c)
            sd = _scale(scored, c, x)
            a = x[pos]
            b = x if rows is None else x[rows]
            if np.isnan(a):
                yield c, (~np.isnan(b)).astype("float64")
                continue
            term = np.abs(b - a)
            term /= sd
            term[np.isnan(term)] = 1.0  # missing against present
            yield c, term
        elif (codes := _CODES_CACHE.get(scored, {}).get(c)) is not None:
            part = codes if rows is None else codes[rows]
            if codes[pos] < 0:  # missing: 0 against missing, 1 against any value
                yield c, (part >= 0).astype("float64")
            else:  # a missing value is unequal: 1
                yield c, (part != codes[pos]).astype("float64")
        else:  # not prepared (yet): one comparison of the values costs less than building their codes
            v = s.iloc[pos]
            part = s if rows is None else s.iloc[rows]
            if _missing(v):
                yield c, part.notna().to_numpy(dtype="float64")
            else:
                same = (part == v).to_numpy(dtype=bool, na_value=False)
                yield c, (~same).astype("float64")


def _distances(
    scored: Scored, features: tuple[str, ...], pos: int, rows: np.ndarray | None, norm: str
) -> np.ndarray:
    """Distances of ``rows`` (positions; every row when None) to row ``pos``, summed column by column."""
    total = np.zeros(scored.n if rows is None else len(rows), dtype=np.float64)
    for _, term in _terms(scored, features, pos, rows):
        if norm == "l2":
            np.multiply(term, term, out=term)
        total += term
    return total if norm == "l1" else np.sqrt(total, out=total)


def _distance_inputs(
    scored: Scored, position: int, norm: str, features: Sequence[str] | None
) -> tuple[int, tuple[str, ...]]:
    """The checked row position and the features distances are measured on (all features by default)."""
    if norm not in ("l1", "l2"):
        raise AnalysisError(BAD_NORM.format(received=norm))
    pos = _check_position(scored, position)
    feats = (
        tuple(features)
        if features is not None
        else tuple(c for c in scored.feature_names if c in scored.frame.columns)
    )
    if not feats:
        raise AnalysisError("There are no feature columns to measure distances on.")
    return pos, feats


def nearest_counterfactual(
    scored: Scored,
    position: int,
    *,
    model: Any = None,
    norm: Literal["l1", "l2"] = "l2",
    delta: float | None = None,
    target: Any = None,
    slice_def: SliceDefinition | None = None,
    features: Sequence[str] | None = None,
) -> Counterfactual:
    """Closest row (among the slice's rows, default all) whose prediction differs from row ``position``'s.

    Classification: another predicted class (``target``: a specific class). Regression: a prediction
    at least ``delta`` away (default: half the standard deviation of the predictions). Uses the
    predictions already computed; with ``model`` both rows are re-predicted to verify the change.
    """
    pos, feats = _distance_inputs(scored, position, norm, features)
    cand = slice_mask(scored, slice_def)
    if scored.task == "regression":
        pred = scored.pred
        if delta is None:
            delta = 0.5 * float(np.nanstd(pred)) if np.isfinite(pred).any() else 0.0
        if not delta > 0:
            raise AnalysisError(f"The prediction change delta must be a positive number; received {delta!r}.")
        cand &= np.abs(pred - pred[pos]) >= delta
        orig_pred: Any = float(pred[pos])
    else:
        cand &= (scored.pred != scored.pred[pos]) & (scored.pred >= 0)
        if target is not None:
            hits = [i for i, c in enumerate(scored.classes.tolist()) if c == target or str(c) == str(target)]
            if not hits:
                raise AnalysisError(
                    f"The class {target!r} is not one of: {', '.join(map(str, scored.classes.tolist()))}."
                )
            cand &= scored.pred == hits[0]
        orig_pred = _class_value(scored, scored.pred[pos])
    cand[pos] = False
    n_cand = int(cand.sum())
    empty = pd.DataFrame(columns=["feature", "original", "counterfactual", "contribution"])
    if n_cand == 0:
        what = (
            f"a prediction at least {delta:.4g} away"
            if scored.task == "regression"
            else "a different predicted class"
        )
        return Counterfactual(
            pos,
            False,
            None,
            None,
            math.nan,
            norm,
            orig_pred,
            None,
            empty,
            0,
            None,
            f"No row in the chosen rows has {what}.",
        )
    # Most rows are candidates: measure every row (column arrays as they are) and rule the others out; a few:
    # gather only theirs.
    if n_cand * 4 >= scored.n:
        d = _distances(scored, feats, pos, None, norm)
        d[~cand] = np.inf
        best_i = int(np.argmin(d))
        best_d = float(d[best_i])
    else:
        idx = np.flatnonzero(cand)
        d = _distances(scored, feats, pos, idx, norm)
        j = int(np.argmin(d))
        best_i, best_d = int(idx[j]), float(d[j])
    diffs = _differences(scored, feats, pos, best_i, norm)
    cf_pred = (
        float(scored.pred[best_i])
        if scored.task == "regression"
        else _class_value(scored, scored.pred[best_i])
    )
    verified = None
    if model is not None:
        out = model_outputs(model, scored, scored.X.iloc[[pos, best_i]])
        if scored.task == "regression":
            verified = bool(abs(out.pred[1] - out.pred[0]) >= delta)
        else:
            verified = bool(
                out.pred[0] != out.pred[1] and (target is None or out.pred[1] == scored.pred[best_i])
            )
    return Counterfactual(
        pos,
        True,
        best_i,
        plain(scored.ids[best_i], for_json=False),
        best_d,
        norm,
        orig_pred,
        cf_pred,
        diffs,
        n_cand,
        verified,
        f"Closest of {n_cand:,} candidate rows; {len(diffs)} feature(s) differ.",
    )


def distances_to(
    scored: Scored, position: int, *, norm: Literal["l1", "l2"] = "l2", features: Sequence[str] | None = None
) -> np.ndarray:
    """Every row's distance to row ``position``: the distance :func:`nearest_counterfactual` minimises
    (standardised numeric differences, 1 per differing category or missing-vs-present value, by ``norm``)."""
    pos, feats = _distance_inputs(scored, position, norm, features)
    return _distances(scored, feats, pos, None, norm)


def _differences(scored: Scored, features: tuple[str, ...], a: int, b: int, norm: str) -> pd.DataFrame:
    """The features rows ``a`` and ``b`` differ on, with each one's term of the distance (the rule of
    :func:`_terms`, on the two values), largest first."""
    rows = []
    for c in features:
        s = scored.frame[c]
        va, vb = s.iloc[a], s.iloc[b]
        if _missing(va) or _missing(vb):
            t = 0.0 if _missing(va) and _missing(vb) else 1.0
        elif _is_numeric(s):
            t = abs(float(vb) - float(va)) / _scale(scored, c)
        else:
            t = 0.0 if _same(va, vb) else 1.0
        if t > 1e-9:
            rows.append(
                {
                    "feature": c,
                    "original": plain(va, for_json=False),
                    "counterfactual": plain(vb, for_json=False),
                    "contribution": t if norm == "l1" else t * t,
                }
            )
    df = pd.DataFrame(rows, columns=["feature", "original", "counterfactual", "contribution"])
    return df.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)


# ---- ICE and partial dependence -----------------------------------------------------------------------


@dataclass(frozen=True)
class DependenceResult:
    """How the model's output moves as one feature sweeps a grid.

    ``curves``: long frame with ``line`` ("average" for partial dependence, else the row position),
    ``value`` (grid value) and ``output`` (``output_meaning``: a probability, or the prediction for
    regression). ``kind``: "numeric" | "categorical". ``current``: the row's own value (ICE only).
    """

    feature: str
    kind: str
    grid: list[Any]
    curves: pd.DataFrame
    output_meaning: str
    n_rows: int
    current: Any = None
    position: int | None = None


NO_GRID_VALUES = (
    "'{feature}' has no values in the chosen rows ({n:,} rows, every one missing), so there is no grid to vary it "
    "over. Choose another feature, or a slice where it has values; a feature missing everywhere (e.g. an all-empty "
    "column) has no effect to show."
)


def feature_grid(
    scored: Scored, feature: str, *, n_points: int = 25, slice_def: SliceDefinition | None = None
) -> tuple[str, list[Any]]:
    """(kind, values): numeric → up to ``n_points`` quantiles spanning the observed range; categorical →
    the most frequent values (at most ``MAX_GRID``)."""
    _check_feature(scored, feature)
    s = scored.frame[feature] if slice_def is None else scored.frame[feature][slice_def.mask(scored)]
    if _is_numeric(s):
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        x = x[np.isfinite(x)]
        if not len(x):
            raise AnalysisError(NO_GRID_VALUES.format(feature=feature, n=len(s)))
        if len(np.unique(x)) <= n_points:
            return "numeric", sorted(float(v) for v in np.unique(x))
        return "numeric", [float(v) for v in np.unique(np.quantile(x, np.linspace(0, 1, n_points)))]
    counts = s.value_counts(dropna=True)
    if not len(counts):
        raise AnalysisError(NO_GRID_VALUES.format(feature=feature, n=len(s)))
    return "categorical", [plain(v, for_json=False) for v in counts.index[:MAX_GRID]]


def _sweep(
    model: Any, scored: Scored, positions: np.ndarray, feature: str, grid: list[Any], k: int | None
) -> np.ndarray:
    """(len(positions), len(grid)) outputs with the feature set to each grid value."""
    base = scored.X.iloc[positions]
    reps = base.loc[base.index.repeat(len(grid))].reset_index(drop=True)
    vals = np.tile(np.asarray(grid, dtype=object), len(positions))
    if _is_numeric(reps[feature]):
        reps[feature] = vals.astype("float64")
    else:
        reps[feature] = pd.Series(
            vals, dtype=reps[feature].dtype if reps[feature].dtype != object else object
        )
    out = model_outputs(model, scored, reps)
    y = out.pred if scored.task == "regression" else _target_score(scored, out, k)
    if y is None:
        raise AnalysisError("This model gives no scores or probabilities to draw a dependence curve with.")
    return np.asarray(y, dtype="float64").reshape(len(positions), len(grid))


def _target_class(scored: Scored, cls: Any, default: int | None) -> int | None:
    if scored.task != "multiclass":
        return None
    if cls is None:
        return default if default is not None else len(scored.classes) - 1
    hits = [i for i, c in enumerate(scored.classes.tolist()) if c == cls or str(c) == str(cls)]
    if not hits:
        raise AnalysisError(
            f"The class {cls!r} is not one of: {', '.join(map(str, scored.classes.tolist()))}."
        )
    return hits[0]


def ice_curve(
    model: Any,
    scored: Scored,
    position: int,
    feature: str,
    *,
    n_points: int = 25,
    cls: Any = None,
    grid: Sequence[Any] | None = None,
) -> DependenceResult:
    """Individual conditional expectation: row ``position``'s output as ``feature`` sweeps its range."""
    _require_model(model, "An ICE curve")
    pos = _check_position(scored, position)
    _check_feature(scored, feature)
    kind, g = (
        feature_grid(scored, feature, n_points=n_points)
        if grid is None
        else ("numeric" if _is_numeric(scored.X[feature]) else "categorical", list(grid))
    )
    current = plain(scored.X[feature].iloc[pos], for_json=False)
    if kind == "numeric" and current is not None and grid is None and current not in g:
        g = sorted([*g, float(current)])
    k = _target_class(
        scored, cls, int(scored.pred[pos]) if scored.task == "multiclass" and scored.pred[pos] >= 0 else None
    )
    y = _sweep(model, scored, np.array([pos]), feature, g, k)[0]
    curves = pd.DataFrame({"line": str(pos), "value": g, "output": y})
    return DependenceResult(feature, kind, g, curves, target_description(scored, k), 1, current, pos)


@dataclass(frozen=True)
class DependenceParams:
    """How a partial dependence curve is computed (the Slices page and notebooks share it): averaged over at most
    ``n_rows`` rows (a random sample drawn with ``seed``), at ``n_points`` values of the feature (or exactly at
    ``grid``), with ``n_lines`` individual curves kept; ``cls`` is the class whose output is shown (None: the
    positive or predicted class, as ``target_description`` says)."""

    n_rows: int = 300
    n_points: int = 20
    n_lines: int = 30
    cls: Any = None
    seed: int = 0
    grid: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cls"] = plain(self.cls)
        d["grid"] = None if self.grid is None else [plain(v) for v in self.grid]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DependenceParams:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if values.get("grid") is not None:
            values["grid"] = tuple(values["grid"])
        return cls(**values)


def partial_dependence(
    model: Any,
    scored: Scored,
    feature: str,
    params: DependenceParams | None = None,
    *,
    slice_def: SliceDefinition | None = None,
) -> DependenceResult:
    """Partial dependence over the slice's rows (a random sample of ``params.n_rows``): the average output
    at each grid value (``line == "average"``), plus ``params.n_lines`` of the individual curves."""
    p = params or DependenceParams()
    n_rows, n_points, n_lines, cls, seed, grid = p.n_rows, p.n_points, p.n_lines, p.cls, p.seed, p.grid
    _require_model(model, "Partial dependence")
    _check_feature(scored, feature)
    rows = np.flatnonzero(slice_mask(scored, slice_def))
    if not len(rows):
        raise AnalysisError("The slice is empty: there are no rows to average over.")
    if len(rows) > n_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, n_rows, replace=False))
    kind, g = (
        feature_grid(scored, feature, n_points=n_points, slice_def=slice_def)
        if grid is None
        else ("numeric" if _is_numeric(scored.X[feature]) else "categorical", list(grid))
    )
    k = _target_class(scored, cls, None)
    y = _sweep(model, scored, rows, feature, g, k)
    parts = [pd.DataFrame({"line": "average", "value": g, "output": y.mean(axis=0)})]
    for i in range(min(n_lines, len(rows))):
        parts.append(pd.DataFrame({"line": str(rows[i]), "value": g, "output": y[i]}))
    return DependenceResult(
        feature, kind, g, pd.concat(parts, ignore_index=True), target_description(scored, k), len(rows)
    )


# ---- perturbation checks ------------------------------------------------------------------------------

Expectation = Literal["invariant", "increase", "decrease"]


@dataclass(frozen=True)
class PerturbationResult:
    """What changing one feature does to the predictions.

    ``summary`` (and each row of ``by_group``): ``n`` rows evaluated, ``flip_rate`` (share whose predicted
    class changes; regression: NaN) with Wilson ``flip_low``/``flip_high``, ``mean_change`` of
    ``output_meaning`` with a t interval, ``violation_rate`` (invariant: flips, or |change| > tolerance for
    regression; increase/decrease: change against the expected direction by more than ``tolerance``) with
    its interval, and ``passed`` (no violation). ``examples``: the rows with the largest changes.
    """

    feature: str
    change: str
    expectation: str
    tolerance: float
    output_meaning: str
    summary: dict[str, Any]
    by_group: pd.DataFrame | None
    examples: pd.DataFrame
    sampled: bool
    n_eligible: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "change": self.change,
            "expectation": self.expectation,
            "tolerance": self.tolerance,
            "output": self.output_meaning,
            "summary": self.summary,
            "sampled": self.sampled,
            "n_eligible": self.n_eligible,
            "by_group": None
            if self.by_group is None
            else [{k: plain(v) for k, v in r.items()} for r in self.by_group.to_dict(orient="records")],
        }


@dataclass(frozen=True)
class PerturbationParams:
    """One perturbation check: set ``feature`` to ``set_to`` or add ``shift`` to it (exactly one of them), and
    what the model should do — ``expectation`` "invariant" (no decision flips; regression: no change beyond
    ``tolerance``), "increase" or "decrease" (the score moves that way, ``tolerance`` allowed against it).
    ``by``: a column whose groups get their own rates. At most ``max_rows`` rows (a random sample drawn with
    ``seed``); intervals at ``confidence``."""

    feature: str
    set_to: Any = None
    shift: float | None = None
    expectation: Expectation = "invariant"
    tolerance: float = 0.0
    by: str | None = None
    max_rows: int = 20_000
    confidence: float = 0.95
    seed: int = 0


def perturbation_check(
    model: Any,
    scored: Scored,
    params: PerturbationParams,
    *,
    slice_def: SliceDefinition | None = None,
) -> PerturbationResult:
    """Apply ``params``' change on the slice's rows (default all) and re-predict.

    On more than ``max_rows`` rows a random sample is used (``sampled``). Rows where the change is a
    no-op (already equal to ``set_to``, or missing under a shift) are left out. ``by`` (e.g. "does changing
    region flip decisions more in some regions?") gives per-group rates.
    """
    feature, set_to, shift, expectation = params.feature, params.set_to, params.shift, params.expectation
    tolerance, by, max_rows, confidence, seed = (
        params.tolerance,
        params.by,
        params.max_rows,
        params.confidence,
        params.seed,
    )
    _require_model(model, "A perturbation check")
    _check_feature(scored, feature)
    if (set_to is None) == (shift is None):
        raise AnalysisError(BAD_CHANGE.format(set_to=set_to, shift=shift))
    if expectation not in ("invariant", "increase", "decrease"):
        raise AnalysisError(BAD_EXPECTATION.format(received=expectation))
    col = scored.X[feature]
    m = slice_mask(scored, slice_def)
    if shift is not None:
        if not _is_numeric(col):
            raise AnalysisError(
                f"'{feature}' is not numeric, so it cannot be shifted; set it to a value instead."
            )
        try:
            shift = float(shift)
        except (TypeError, ValueError):
            raise AnalysisError(BAD_NUMBER.format(value=shift, column="shift")) from None
        m &= col.notna().to_numpy()
        change = f"{feature} {'+' if shift >= 0 else '−'} {abs(shift):g}"
    else:
        set_to = coerce_edits(scored, {feature: set_to})[feature]
        m &= ~(col == set_to).fillna(False).to_numpy(dtype=bool)
        change = f"{feature} := {set_to!r}"
    rows = np.flatnonzero(m)
    n_eligible = len(rows)
    if not n_eligible:
        raise AnalysisError(
            f"No row in the chosen slice would change under '{change}'. Pick another value or slice."
        )
    sampled = n_eligible > max_rows
    if sampled:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    X0 = scored.X.iloc[rows]
    X1 = X0.copy()
    if shift is not None:
        X1[feature] = X1[feature].astype("float64") + shift
    else:
        if _is_numeric(X1[feature]):
            X1[feature] = np.full(len(X1), set_to, dtype="float64")
        else:
            X1[feature] = pd.Series(
                [set_to] * len(X1),
                index=X1.index,
                dtype=X1[feature].dtype if X1[feature].dtype != object else object,
            )
    out = model_outputs(model, scored, pd.concat([X0, X1], ignore_index=True))
    n = len(rows)
    p0, p1 = out.pred[:n], out.pred[n:]
    if scored.task == "multiclass":
        k = np.maximum(p0, 0)
        s0 = out.proba[np.arange(n), k] if out.proba is not None else None
        s1 = out.proba[n + np.arange(n), k] if out.proba is not None else None
        meaning = "probability of the originally predicted class"
    else:
        s0 = None if out.score is None else out.score[:n]
        s1 = None if out.score is None else out.score[n:]
        meaning = target_description(scored)
    delta = (s1 - s0) if s0 is not None else np.full(n, np.nan)
    flips = (p0 != p1) if scored.task != "regression" else np.zeros(n, dtype=bool)
    if expectation == "invariant":
        violation = flips if scored.task != "regression" else np.abs(delta) > tolerance
    elif expectation == "increase":
        violation = delta < -tolerance
    else:
        violation = delta > tolerance
    summary = _perturb_stats(flips, delta, violation, scored.task, confidence)
    by_group = None
    if by:
        g = group_column(scored, by)
        codes = g.codes[rows]
        recs = []
        for gi, label in enumerate(g.labels):
            sel = codes == gi
            if sel.any():
                recs.append(
                    {
                        "group": label,
                        **_perturb_stats(flips[sel], delta[sel], violation[sel], scored.task, confidence),
                    }
                )
        by_group = pd.DataFrame(recs)
    order = np.argsort(-np.nan_to_num(np.abs(delta)), kind="stable")[:50]
    examples = pd.DataFrame(
        {
            "position": rows[order],
            "id": scored.ids[rows[order]],
            "before": s0[order] if s0 is not None else np.nan,
            "after": s1[order] if s1 is not None else np.nan,
            "change": delta[order],
            "flipped": flips[order],
            "violation": violation[order],
        }
    )
    return PerturbationResult(
        feature,
        change,
        expectation,
        float(tolerance),
        meaning,
        summary,
        by_group,
        examples,
        sampled,
        n_eligible,
    )


def _perturb_stats(
    flips: np.ndarray, delta: np.ndarray, violation: np.ndarray, task: str, confidence: float
) -> dict[str, Any]:
    n = len(flips)
    k_flip, k_vio = int(flips.sum()), int(violation.sum())
    (fl,), (fh,) = metrics.wilson_interval(np.array([k_flip]), np.array([n]), confidence)
    (vl,), (vh,) = metrics.wilson_interval(np.array([k_vio]), np.array([n]), confidence)
    d = delta[np.isfinite(delta)]
    mean = float(d.mean()) if len(d) else math.nan
    half = (
        float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
        if len(d) > 1
        else math.nan
    )
    return {
        "n": n,
        "flip_rate": k_flip / n if task != "regression" else math.nan,
        "flip_low": float(fl) if task != "regression" else math.nan,
        "flip_high": float(fh) if task != "regression" else math.nan,
        "mean_change": mean,
        "change_low": mean - half,
        "change_high": mean + half,
        "violation_rate": k_vio / n,
        "violation_low": float(vl),
        "violation_high": float(vh),
        "passed": k_vio == 0,
    }


# ---- threshold ----------------------------------------------------------------------------------------


def _binary_scores(scored: Scored, what: str) -> np.ndarray:
    if scored.task != "binary":
        raise AnalysisError(f"{what} applies to binary classification; this task is {scored.task}.")
    if scored.score is None:
        raise AnalysisError(
            f"{what} needs the model's scores; {scored.unavailable.get('ROC AUC', 'there are none')}."
        )
    return np.asarray(scored.score, dtype="float64")


def threshold_metrics(
    scored: Scored, threshold: float, *, slice_def: SliceDefinition | None = None, confidence: float = 0.95
) -> pd.DataFrame:
    """Metrics when "positive" means score ≥ ``threshold`` on the slice, the rest and all rows (without
    ``slice_def``: all rows only).

    Columns: ``set``, ``threshold``, ``rows``, ``tp``, ``fp``, ``fn``, ``tn``, ``accuracy``, ``precision``,
    ``recall``, ``F1``, ``false positive rate``, ``positive rate`` (fractions) and ``accuracy_low``/``_high``.
    """
    s = _binary_scores(scored, "A decision threshold")
    y = scored.y == scored.positive_index
    sets = (
        {"all rows": np.ones(scored.n, dtype=bool)}
        if slice_def is None
        else comparison_sets(slice_def.mask(scored))
    )
    recs = []
    for name, m in sets.items():
        m = np.asarray(m, dtype=bool) & np.isfinite(s)
        pp = s[m] >= threshold
        yy = y[m]
        tp, fp = int((pp & yy).sum()), int((pp & ~yy).sum())
        fn, tn = int((~pp & yy).sum()), int((~pp & ~yy).sum())
        n = tp + fp + fn + tn
        (lo,), (hi,) = metrics.wilson_interval(np.array([tp + tn]), np.array([n]), confidence)
        recs.append(
            {
                "set": name,
                "threshold": float(threshold),
                "rows": n,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tn": tn,
                "accuracy": _div(tp + tn, n),
                "accuracy_low": float(lo),
                "accuracy_high": float(hi),
                "precision": _div(tp, tp + fp),
                "recall": _div(tp, tp + fn),
                "F1": _div(2 * tp, 2 * tp + fp + fn),
                "false positive rate": _div(fp, fp + tn),
                "positive rate": _div(tp + fp, n),
            }
        )
    return pd.DataFrame(recs)


def _div(a: float, b: float) -> float:
    return a / b if b else math.nan


@dataclass(frozen=True)
class ThresholdSuggestion:
    """Thresholds minimising the expected cost ``cost_fp·FP + cost_fn·FN`` (per row).

    ``overall``: ``threshold``, ``cost`` (per row, at the best threshold), ``cost_at_current`` (at
    ``current``), ``rows``. ``by_group``: the same per group of ``by`` (None without ``by``). ``curve``:
    cost per row against threshold (at most ``M`` = 200 points) for the chart.
    """

    cost_fp: float
    cost_fn: float
    current: float
    overall: dict[str, Any]
    by_group: pd.DataFrame | None
    curve: pd.DataFrame


def _best_threshold(
    s: np.ndarray, y: np.ndarray, c_fp: float, c_fn: float
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Exact minimiser over every distinct score: (threshold, cost per row, thresholds, costs)."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    npos = y.sum()
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # predicting positive for all scores ≥ this one
    tp = np.cumsum(y_sorted)[last]
    fp = np.cumsum(~y_sorted)[last]
    thr = s_sorted[last]
    cost = (c_fp * fp + c_fn * (npos - tp)) / len(s)
    thr = np.r_[np.inf, thr]
    cost = np.r_[c_fn * npos / len(s), cost]
    i = int(np.argmin(cost))
    return float(thr[i]), float(cost[i]), thr, cost


def suggest_threshold(
    scored: Scored,
    *,
    cost_fp: float = 1.0,
    cost_fn: float = 1.0,
    current: float = 0.5,
    slice_def: SliceDefinition | None = None,
    by: str | None = None,
    min_support: int = 30,
) -> ThresholdSuggestion:
    """The threshold that minimises expected misclassification cost, overall and per group of ``by``.

    A cost ratio ``cost_fn / cost_fp`` of 5 means a missed positive costs five false alarms. Costs are
    in the user's units per row. Groups with fewer than ``min_support`` rows get no suggestion.
    """
    try:
        c_fp, c_fn = float(cost_fp), float(cost_fn)
    except (TypeError, ValueError):
        raise AnalysisError(BAD_COSTS.format(fp=cost_fp, fn=cost_fn)) from None
    if c_fp < 0 or c_fn < 0 or (c_fp == 0 and c_fn == 0) or not (math.isfinite(c_fp) and math.isfinite(c_fn)):
        raise AnalysisError(BAD_COSTS.format(fp=cost_fp, fn=cost_fn))
    s_all = _binary_scores(scored, "A threshold suggestion")
    m = slice_mask(scored, slice_def) & np.isfinite(s_all)
    if not m.any():
        raise AnalysisError("The slice is empty: there are no rows to choose a threshold on.")
    y_all = scored.y == scored.positive_index

    def at(s: np.ndarray, y: np.ndarray, t: float) -> float:
        pp = s >= t
        return float((c_fp * (pp & ~y).sum() + c_fn * (~pp & y).sum()) / len(s))

    s, y = s_all[m], y_all[m]
    t, cost, thr, costs = _best_threshold(s, y, c_fp, c_fn)
    overall = {"threshold": t, "cost": cost, "cost_at_current": at(s, y, current), "rows": int(m.sum())}
    finite = np.isfinite(thr)
    thr_f, cost_f = thr[finite], costs[finite]
    if len(thr_f) > 200:
        pick = np.unique(np.linspace(0, len(thr_f) - 1, 200).astype(int))
        thr_f, cost_f = thr_f[pick], cost_f[pick]
    curve = pd.DataFrame({"threshold": thr_f, "cost": cost_f})
    by_group = None
    if by:
        g = group_column(scored, by)
        recs = []
        for gi, label in enumerate(g.labels):
            sel = m & (g.codes == gi)
            n = int(sel.sum())
            if n == 0:
                continue
            rec: dict[str, Any] = {"group": label, "rows": n, "positives": int(y_all[sel].sum())}
            if n >= min_support and 0 < rec["positives"] < n:
                tg, cg, _, _ = _best_threshold(s_all[sel], y_all[sel], c_fp, c_fn)
                rec.update(
                    threshold=tg,
                    cost=cg,
                    cost_at_current=at(s_all[sel], y_all[sel], current),
                    cost_at_overall=at(s_all[sel], y_all[sel], t),
                    note="",
                )
            else:
                rec.update(
                    threshold=math.nan,
                    cost=math.nan,
                    cost_at_current=at(s_all[sel], y_all[sel], current),
                    cost_at_overall=at(s_all[sel], y_all[sel], t),
                    note=f"fewer than {min_support} rows or one class",
                )
            recs.append(rec)
        by_group = pd.DataFrame(recs)
    return ThresholdSuggestion(c_fp, c_fn, float(current), overall, by_group, curve)


def threshold_range(scored: Scored) -> tuple[float, float]:
    """(min, max) of the binary score, for a slider: [0, 1] for probabilities."""
    s = _binary_scores(scored, "A decision threshold")
    if scored.proba is not None:
        return 0.0, 1.0
    finite = s[np.isfinite(s)]
    return (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)


__all__ = [
    "Counterfactual",
    "DependenceResult",
    "DependenceParams",
    "EditResult",
    "Outputs",
    "PerturbationResult",
    "ThresholdSuggestion",
    "edit_and_predict",
    "edited_row",
    "feature_grid",
    "ice_curve",
    "model_outputs",
    "nearest_counterfactual",
    "partial_dependence",
    "perturbation_check",
    "suggest_threshold",
    "threshold_metrics",
    "threshold_range",
]
