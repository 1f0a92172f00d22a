"""Performance without labels: confidence-based performance estimation (CBPE) per time window.

Labels arrive late (churn after a quarter, fraud after chargebacks). If the model's probabilities are
calibrated, the *expected* confusion matrix of a window follows from its scores alone: a row predicted
positive with calibrated probability c is a true positive with probability c and a false positive with
probability 1 − c. ``estimate_performance`` does this for accuracy, precision, recall, F1 and ROC AUC
(binary, and macro one-vs-rest for multiclass, as ``explore.stats.metrics`` defines them).

1. **Calibration first.** The scores are calibrated on a labelled reference (a window or a slice of the rows):
   isotonic regression or Platt scaling, whichever has the lower held-out log loss in a 2-fold split.
   The out-of-fold calibrated scores give the reliability curve and the expected calibration error (ECE).
2. **Estimates per window**, for up to four parts of each window, each labelled as such (``PARTS``):
   the labelled rows' realised metric (``explore.stats.metrics.grouped_metrics``, with its intervals),
   the estimate on those same rows (their labels ignored: how far to trust the estimate), the estimate on
   the unlabelled rows, and where a window has both, their combination (labels where known, expected
   counts on the rest).
3. **Intervals**: the sampling variance of the expected counts (rows' labels are independent Bernoulli
   draws with the calibrated probabilities; delta method for the ratios, Hanley–McNeil for the AUC, the
   per-class variances summed for macro averages) plus the calibration uncertainty (the spread of the
   estimate over calibrators refitted on bootstrap resamples of the reference).
4. **Warnings** when the estimate cannot be trusted: poor calibration on the reference, a small reference,
   concept drift where labels exist (the realised metric outside the estimate's interval), windows whose
   scores leave the reference's range. The estimate assumes no concept drift: P(label | score) must stay
   as it was on the reference.

Vectorised: one ``np.bincount`` per count and one sort per class for the AUC, reused by every bootstrap
calibrator, so 1M rows × 24 windows take about a second (``benchmarks/bench_estimation.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from explore.core.workspace import MAIN_MODEL, Scored, Workspace, score, score_unlabeled
from explore.errors import AnalysisError, LabelError, TimeColumnError
from explore.slices.definition import Condition, SliceDefinition, slice_mask
from explore.staleness.windows import (
    NO_TIME_COLUMN,
    TimeWindows,
    apply_windows,
    concat_scored,
    time_windows,
)
from explore.stats.metrics import grouped_metrics

ESTIMATED_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "F1", "ROC AUC")
PART_REALISED = "labelled rows: realised"
PART_ESTIMATED_LABELLED = "labelled rows: estimated"
PART_ESTIMATED = "unlabelled rows: estimated"
PART_COMBINED = "all rows: realised + estimated"
PARTS: tuple[str, ...] = (PART_REALISED, PART_ESTIMATED_LABELLED, PART_ESTIMATED, PART_COMBINED)
COLUMNS = ["window", "label", "start", "metric", "part", "value", "ci_low", "ci_high", "rows", "note"]

ASSUMPTION = (
    "The estimate assumes no concept drift: the chance that a row with a given calibrated score is positive "
    "must be the same as on the reference. It sees covariate shift (the scores move) but not a change in "
    "what the scores mean; only labels can show that."
)
MIN_REFERENCE_ROWS = 200
ECE_WARN = 0.05
OUT_OF_RANGE_WARN = 0.05
DRIFT_Z = 3.0
BOOT_ROWS_PER_WINDOW = 2_000
RELIABILITY_BINS = 10
CALIBRATION_METHODS = ("auto", "isotonic", "platt")

NOT_CLASSIFIER = (
    "Performance estimation without labels is for classifiers; this model is a {task}. An estimate of the "
    "error distribution of a regressor is not built yet: for regressors, use the realised performance over time "
    "on the windows that have labels."
)
NOT_PROBABILITIES = (
    "Performance estimation needs the model's probabilities; {why}. Use a model with predict_proba, or name "
    "probability columns in workspace.toml ([columns] score = a column in [0, 1] for binary, scores = one "
    "column per class for multiclass)."
)
ONE_CLASS_REFERENCE = (
    "The reference used to calibrate the scores has labels of one class only ({classes}; {n:,} labelled rows). "
    "Calibration needs both outcomes: choose a longer or another reference window with labels of every class."
)
SMALL_REFERENCE = (
    "The reference has {n:,} labelled rows, fewer than {min:,}: calibration needs more. Choose a longer or "
    "another reference window."
)
NO_REFERENCE = (
    "The windows hold {best:,} labelled rows in all, fewer than the {min:,} needed to calibrate the scores. "
    "Estimation needs a labelled reference: add labelled data (e.g. the evaluation set) to the analysed datasets."
)
BAD_REFERENCE = "The reference is a window number 0..{last} or a SliceDefinition of the labelled rows; received {received!r}."
NO_ROWS = "There are no rows in any window ({n} windows, received {rows:,} rows): nothing to estimate."
BAD_METRIC = "Estimation covers {known}; received {received!r}."
NO_TIME = "The unlabelled rows of '{dataset}' have no time column, so they cannot be placed in windows."
BAD_CODES = "{what} has {got:,} window codes for {n:,} rows; compute them on these rows."


@dataclass(frozen=True, eq=False)
class Calibrator:
    """Maps raw probabilities to calibrated ones. ``columns``: the calibrated classes (binary: the positive
    one); ``params`` per column: isotonic ``(x thresholds, y thresholds)`` or Platt ``(slope, intercept)``."""

    method: str
    task: str
    n_classes: int
    positive_index: int | None
    columns: tuple[int, ...]
    params: tuple[tuple[np.ndarray, np.ndarray] | tuple[float, float], ...]

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, one column per class (rows sum to 1)."""
        out = np.empty((len(proba), self.n_classes))
        if self.task == "binary":
            pos = self.positive_index
            c = _apply_one(self.method, self.params[0], proba[:, pos])
            out[:, pos] = c
            out[:, 1 - pos] = 1 - c
            return out
        for k, prm in zip(self.columns, self.params, strict=True):
            out[:, k] = _apply_one(self.method, prm, proba[:, k])
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.full_like(out, 1 / self.n_classes), where=total > 0)


@dataclass(frozen=True, eq=False)
class CalibrationResult:
    """How the scores were calibrated on the reference, and how well (out of fold).

    ``log_loss``: held-out log loss per method (and of the raw scores); ``ece``: expected calibration error
    of the chosen method out of fold; ``reliability``: one row per (stage, bin) with the mean predicted
    probability, the observed frequency and the rows (binary: the positive class; multiclass: the top class,
    observed = correct)."""

    method: str
    n_reference: int
    log_loss: dict[str, float]
    ece: float
    ece_raw: float
    reliability: pd.DataFrame
    calibrator: Calibrator


@dataclass(frozen=True)
class EstimateWarning:
    """Why (part of) the estimate cannot be trusted: ``kind`` is calibration / reference / concept drift /
    score range / empty window / training data; ``window`` the window's label (None: the whole estimate)."""

    kind: str
    message: str
    window: str | None = None


@dataclass(frozen=True, eq=False)
class PerformanceEstimate:
    """Estimated and realised metrics per window (long ``table``, ``COLUMNS``), the calibration, the warnings."""

    table: pd.DataFrame
    calibration: CalibrationResult
    warnings: list[EstimateWarning]
    metrics: list[str]
    task: str
    reference: str
    windows: pd.DataFrame
    reference_values: dict[str, float] = field(default_factory=dict)
    assumption: str = field(default=ASSUMPTION)
    rows_note: str = ""  # which rows were used, when not every scored row (see population_mix)

    def series(self, metric: str, part: str) -> pd.DataFrame:
        """The rows of one metric and part, in window order."""
        t = self.table
        return t[(t["metric"] == metric) & (t["part"] == part)].sort_values("window").reset_index(drop=True)

    def series_all(self, metric: str) -> pd.DataFrame:
        """Every part of one metric, in window order."""
        t = self.table
        return t[t["metric"] == metric].sort_values(["window", "part"]).reset_index(drop=True)

    def latest_estimate(self, metric: str) -> pd.Series | None:
        """The last window's best figure for ``metric``: combined, else estimated, else realised."""
        t = self.table[(self.table["metric"] == metric) & self.table["value"].notna()]
        if t.empty:
            return None
        last = t[t["window"] == t["window"].max()]
        for part in (PART_COMBINED, PART_ESTIMATED, PART_REALISED):
            rows = last[last["part"] == part]
            if len(rows):
                return rows.iloc[0]
        return None


# ---- calibration ----------------------------------------------------------------------------------------


def _apply_one(method: str, prm: tuple, p: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        xs, ys = prm
        return np.interp(p, xs, ys)
    a, b = prm
    return special.expit(a * _logit(p) + b)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q) - np.log1p(-q)


def _fit_one(method: str, p: np.ndarray, y: np.ndarray) -> tuple:
    """Fit one column's calibrator on probabilities ``p`` and 0/1 outcomes ``y``."""
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        ir = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
        return (np.asarray(ir.X_thresholds_, dtype="float64"), np.asarray(ir.y_thresholds_, dtype="float64"))
    # Platt: logistic regression of the outcome on logit(p) by Newton's method (two parameters); a tiny ridge
    # keeps separable data finite.
    X = np.column_stack([_logit(p), np.ones(len(p))])
    y = y.astype("float64")
    theta = np.array([1.0, 0.0])
    ridge = np.diag([1e-4 * len(p), 0.0])
    for _ in range(50):
        m = special.expit(X @ theta)
        grad = X.T @ (m - y) + ridge @ theta
        hess = (X * (m * (1 - m))[:, None]).T @ X + ridge + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta = theta - step
        if np.abs(step).max() < 1e-8:
            break
    return (float(theta[0]), float(theta[1]))


def _fit(method: str, proba: np.ndarray, y: np.ndarray, task: str, pos: int | None) -> Calibrator:
    K = proba.shape[1]
    cols = (pos,) if task == "binary" else tuple(range(K))
    params = tuple(_fit_one(method, proba[:, k], (y == k).astype("float64")) for k in cols)
    return Calibrator(method, task, K, pos, cols, params)


def _log_loss(P: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], 1e-15, 1.0))))


def _reliability(
    P: np.ndarray, y: np.ndarray, task: str, pos: int | None, stage: str
) -> tuple[pd.DataFrame, float]:
    """Quantile-binned reliability curve and its ECE (binary: positive class; multiclass: top-class confidence)."""
    if task == "binary":
        conf, hit = P[:, pos], (y == pos).astype("float64")
    else:
        top = P.argmax(axis=1)
        conf, hit = P[np.arange(len(y)), top], (top == y).astype("float64")
    edges = np.unique(np.quantile(conf, np.linspace(0, 1, RELIABILITY_BINS + 1)))
    b = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, max(len(edges) - 2, 0))
    nb = max(len(edges) - 1, 1)
    n = np.bincount(b, minlength=nb).astype("float64")
    ok = n > 0
    pred = np.bincount(b, conf, minlength=nb)[ok] / n[ok]
    obs = np.bincount(b, hit, minlength=nb)[ok] / n[ok]
    ece = float(np.sum(n[ok] * np.abs(pred - obs)) / n.sum())
    frame = pd.DataFrame(
        {
            "stage": stage,
            "bin": np.arange(ok.sum()),
            "predicted": pred,
            "observed": obs,
            "rows": n[ok].astype("int64"),
        }
    )
    return frame, ece


def calibrate(
    proba: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    positive_index: int | None = None,
    method: str = "auto",
    seed: int = 0,
) -> CalibrationResult:
    """Calibrate ``proba`` (rows × classes) on labels ``y`` (class codes): isotonic or Platt, whichever has the
    lower log loss out of fold (2-fold; ``method`` names one to force it), then refitted on every row. Raises
    when ``y`` has one class."""
    if method not in CALIBRATION_METHODS:
        raise AnalysisError(f"Calibration is one of {', '.join(CALIBRATION_METHODS)}; received {method!r}.")
    proba = np.asarray(proba, dtype="float64")
    y = np.asarray(y, dtype="int64")
    present = np.unique(y)
    if len(present) < 2:
        raise LabelError(
            ONE_CLASS_REFERENCE.format(classes=", ".join(map(str, present)) or "none", n=len(y)), n=len(y)
        )
    rng = np.random.default_rng(seed)
    fold = rng.permutation(len(y)) % 2
    oof: dict[str, np.ndarray] = {}
    for candidate in ("isotonic", "platt"):
        P = np.empty_like(proba)
        for f in (0, 1):
            tr, te = fold != f, fold == f
            P[te] = _fit(candidate, proba[tr], y[tr], task, positive_index).apply(proba[te])
        oof[candidate] = P
    losses = {m: _log_loss(P, y) for m, P in oof.items()}
    method = min(losses, key=losses.get) if method == "auto" else method
    losses["raw scores"] = _log_loss(proba, y)
    raw_curve, ece_raw = _reliability(proba, y, task, positive_index, "raw scores")
    cal_curve, ece = _reliability(oof[method], y, task, positive_index, f"calibrated ({method}, out of fold)")
    return CalibrationResult(
        method=method,
        n_reference=len(y),
        log_loss=losses,
        ece=ece,
        ece_raw=ece_raw,
        reliability=pd.concat([raw_curve, cal_curve], ignore_index=True),
        calibrator=_fit(method, proba, y, task, positive_index),
    )


# ---- expected confusion matrices per window -------------------------------------------------------------


class _Engine:
    """The rows of one part (window codes, predicted classes, ranking scores) with their AUC sort orders
    computed once; ``metrics(P)`` gives each metric's value and sampling variance per window for any
    probability matrix ``P`` (calibrated probabilities, or one-hot labels where they are known)."""

    def __init__(
        self, codes: np.ndarray, pred: np.ndarray, rank: np.ndarray, G: int, task: str, pos: int | None
    ):
        keep = codes >= 0
        self.codes, self.pred, self.G, self.task, self.pos = codes[keep], pred[keep], G, task, pos
        rank = rank[keep]
        self.classes = (pos,) if task == "binary" else tuple(range(rank.shape[1]))
        self.n = np.bincount(self.codes, minlength=G).astype("float64")
        self.sorted = {}
        for k in self.classes:
            s = rank[:, 0 if task == "binary" else k]
            # Windows in order, scores in order within each (a stable sort on the integer codes).
            by_score = np.argsort(s, kind="stable")
            order = by_score[np.argsort(self.codes[by_score], kind="stable")]
            c_s, s_s = self.codes[order], s[order]
            new = np.ones(len(order), dtype=bool)
            new[1:] = (c_s[1:] != c_s[:-1]) | (s_s[1:] != s_s[:-1])
            block = np.cumsum(new) - 1
            self.sorted[k] = (order, c_s, block, np.flatnonzero(new))
        self.pred_is = {k: self.pred == k for k in self.classes}

    def _bc(self, w: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(self.codes if codes is None else codes, w, minlength=self.G)

    def _auc(self, k: int, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected ROC AUC of class ``k`` with positive weight ``w`` per row (ties count half, no self-pairs)."""
        order, c_s, block, starts = self.sorted[k]
        ws = w[order]
        neg = 1 - ws
        excl = np.cumsum(neg) - neg
        first = np.r_[0, np.flatnonzero(c_s[1:] != c_s[:-1]) + 1] if len(c_s) else np.zeros(0, dtype="int64")
        group_start = np.zeros(self.G)
        group_start[c_s[first]] = excl[first]
        before = excl[starts][block] - group_start[c_s]
        neg_in_block = np.bincount(block, neg)[block]
        num = self._bc(ws * (before + 0.5 * neg_in_block) - 0.5 * ws * neg, c_s)
        P, N = self._bc(ws, c_s), self._bc(neg, c_s)
        den = P * N - self._bc(ws * neg, c_s)
        with np.errstate(invalid="ignore", divide="ignore"):
            A = np.where(den > 0, num / den, np.nan)
            q1, q2 = A / (2 - A), 2 * A**2 / (1 + A)
            var = (A * (1 - A) + (P - 1) * (q1 - A**2) + (N - 1) * (q2 - A**2)) / (P * N)
        return A, np.where((P >= 1) & (N >= 1), np.maximum(var, 0), np.nan)

    def metrics(self, P: np.ndarray, names: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            if "accuracy" in names:
                q = P[np.arange(len(self.pred)), self.pred]
                out["accuracy"] = (self._bc(q) / self.n, self._bc(q * (1 - q)) / self.n**2)
            per: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"precision": [], "recall": [], "F1": []}
            aucs = []
            for k in self.classes:
                p = P[:, k]
                v = p * (1 - p)
                is_k = self.pred_is[k]
                A, var_a = self._bc(p * is_k), self._bc(v * is_k)
                B, var_b = self._bc(p * ~is_k), self._bc(v * ~is_k)
                npp = self._bc(is_k.astype("float64"))
                per["precision"].append((A / npp, var_a / npp**2))
                per["recall"].append((A / (A + B), (B**2 * var_a + A**2 * var_b) / (A + B) ** 4))
                D = A + B + npp
                per["F1"].append((2 * A / D, 4 * ((B + npp) ** 2 * var_a + A**2 * var_b) / D**4))
                if "ROC AUC" in names:
                    aucs.append(self._auc(k, p))
            if "ROC AUC" in names:
                per["ROC AUC"] = aucs
            for name, parts in per.items():
                if name in names:
                    vals = np.array([p[0] for p in parts])
                    vars_ = np.array([p[1] for p in parts])
                    m = np.sum(~np.isnan(vals), axis=0)
                    with np.errstate(all="ignore"):
                        val = np.where(m > 0, np.nansum(vals, axis=0) / np.maximum(m, 1), np.nan)
                        var = np.where(m > 0, np.nansum(vars_, axis=0) / np.maximum(m, 1) ** 2, np.nan)
                    out[name] = (val, var)
        return out


@dataclass(frozen=True, eq=False)
class _Part:
    """The rows of one part of the windows (those with a window code ≥ 0): window, predicted class, ranking
    scores, raw probabilities, and where the label is known its one-hot row (which replaces the estimate)."""

    codes: np.ndarray
    pred: np.ndarray
    rank: np.ndarray
    raw: np.ndarray
    known: np.ndarray | None = None
    is_known: np.ndarray | None = None

    @classmethod
    def of(cls, codes, pred, rank, raw, *, known=None, is_known=None) -> _Part:
        keep = codes >= 0
        return cls(
            codes[keep],
            pred[keep],
            rank[keep],
            raw[keep],
            None if known is None else known[keep],
            None if is_known is None else is_known[keep],
        )

    def rows(self, keep: np.ndarray) -> _Part:
        pick = [None if a is None else a[keep] for a in (self.known, self.is_known)]
        return _Part(self.codes[keep], self.pred[keep], self.rank[keep], self.raw[keep], *pick)

    def sample(self, cap: int, rng: np.random.Generator, G: int) -> _Part:
        """About ``cap`` random rows of each window (each row kept with probability cap / window rows)."""
        n = np.bincount(self.codes, minlength=G)
        return self.rows(rng.random(len(self.codes)) < cap / np.maximum(n, 1)[self.codes])

    def engine(self, G: int, task: str, pos: int | None) -> _Engine:
        return _Engine(self.codes, self.pred, self.rank, G, task, pos)

    def probs(self, calib: Calibrator) -> np.ndarray:
        if self.is_known is None:
            return calib.apply(self.raw)
        out = self.known.copy()
        out[~self.is_known] = calib.apply(self.raw[~self.is_known])
        return out


# ---- the estimate ---------------------------------------------------------------------------------------


def _check_classifier(scored: Scored) -> np.ndarray:
    if scored.task == "regression":
        raise AnalysisError(NOT_CLASSIFIER.format(task="regressor"), task=scored.task)
    if scored.proba is None:
        why = scored.unavailable.get("log loss") or "the model gives no probabilities"
        raise AnalysisError(NOT_PROBABILITIES.format(why=why), dataset=scored.dataset_name)
    P = np.asarray(scored.proba, dtype="float64")
    if len(P) and (not np.isfinite(P).all() or P.min() < -1e-9 or P.max() > 1 + 1e-9):
        raise AnalysisError(
            NOT_PROBABILITIES.format(
                why=f"the scores of '{scored.dataset_name}' are not probabilities "
                f"(they range {np.nanmin(P):.3g} to {np.nanmax(P):.3g}, or are not finite)"
            )
        )
    if scored.task == "multiclass" and len(P) and np.abs(P.sum(axis=1) - 1).max() > 1e-3:
        raise AnalysisError(
            NOT_PROBABILITIES.format(
                why=f"the class scores of '{scored.dataset_name}' do not sum to 1 per row "
                f"(sums from {P.sum(axis=1).min():.3g} to {P.sum(axis=1).max():.3g})"
            )
        )
    return P


def _ranking(scored: Scored, P: np.ndarray) -> np.ndarray:
    """What ROC AUC ranks rows by: binary, one column (the model's own score, else the positive probability);
    multiclass, the probabilities."""
    if scored.task != "binary":
        return P
    s = scored.score if scored.score is not None else P[:, scored.positive_index]
    return np.asarray(s, dtype="float64")[:, None]


def _codes(codes: np.ndarray | None, windows: TimeWindows, n: int, what: str) -> np.ndarray:
    c = windows.codes if codes is None else np.asarray(codes, dtype="int64")
    if len(c) != n:
        raise AnalysisError(BAD_CODES.format(what=what, got=len(c), n=n))
    return c


def _reference_mask(
    reference: int | SliceDefinition | None,
    codes: np.ndarray,
    windows: TimeWindows,
    scored: Scored,
    eligible: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    G = windows.n_windows
    if reference is None:
        # The earliest windows, until they hold MIN_REFERENCE_ROWS labelled rows (of the ``eligible`` ones).
        usable = codes >= 0 if eligible is None else (codes >= 0) & eligible
        counts = np.bincount(codes[usable], minlength=G)
        enough = np.flatnonzero(np.cumsum(counts) >= MIN_REFERENCE_ROWS)
        if not len(enough):
            raise AnalysisError(NO_REFERENCE.format(min=MIN_REFERENCE_ROWS, best=int(counts.sum())))
        first, last = int(np.flatnonzero(counts)[0]), int(enough[0])
        name = (
            windows.labels[first] if first == last else f"{windows.labels[first]} to {windows.labels[last]}"
        )
        if eligible is not None and not eligible[codes >= 0].all():
            name += " (rows outside the model's training data)"
        return usable & (codes <= last), name
    if isinstance(reference, (int, np.integer)) and not isinstance(reference, bool):
        if not 0 <= reference < G:
            raise AnalysisError(BAD_REFERENCE.format(last=G - 1, received=reference))
        return codes == reference, windows.labels[int(reference)]
    if not isinstance(reference, SliceDefinition):
        raise AnalysisError(BAD_REFERENCE.format(last=G - 1, received=reference))
    return slice_mask(scored, reference), reference.describe()


@dataclass(frozen=True)
class EstimationParams:
    """How performance is estimated without labels: ``metrics`` (of ``ESTIMATED_METRICS``) with intervals at
    ``confidence``; ``calibration`` "auto" (by held-out log loss), "isotonic" or "platt"; ``n_boot``
    calibrators refitted on bootstrap resamples of the reference give the calibration uncertainty (0: sampling
    variance only), drawn with ``seed``. ``explore check`` (estimated_drop) and notebooks build it; the
    Staleness page uses the defaults."""

    metrics: tuple[str, ...] = tuple(ESTIMATED_METRICS)
    confidence: float = 0.95
    calibration: str = "auto"
    n_boot: int = 20
    seed: int = 0


def estimate_performance(
    scored: Scored,
    windows: TimeWindows,
    params: EstimationParams | None = None,
    *,
    unlabeled: Scored | None = None,
    codes: np.ndarray | None = None,
    unlabeled_codes: np.ndarray | None = None,
    reference: int | SliceDefinition | None = None,
    reference_rows: np.ndarray | None = None,
) -> PerformanceEstimate:
    """Estimated (and, where labels exist, realised) metrics per window of ``windows``.

    ``scored``: the labelled rows (``explore.score``); ``unlabeled``: the rows whose label is not known yet
    (``explore.core.workspace.score_unlabeled``), or None. ``codes`` / ``unlabeled_codes``: each row's window
    (default ``windows.codes`` for the labelled rows; ``apply_windows`` for others). ``reference``: the window
    whose labelled rows calibrate the scores (default: the earliest windows, until ``MIN_REFERENCE_ROWS`` labelled rows),
    or a ``SliceDefinition`` of ``scored``'s rows. ``reference_rows``: which labelled rows the default reference
    may use (None: every one; see :func:`outside_training`). ``params``: what is estimated and how (default
    ``EstimationParams()``).
    """
    p = params or EstimationParams()
    metrics, confidence, calibration, n_boot, seed = (
        list(p.metrics),
        p.confidence,
        p.calibration,
        p.n_boot,
        p.seed,
    )
    bad = [m for m in metrics if m not in ESTIMATED_METRICS]
    if bad:
        raise AnalysisError(BAD_METRIC.format(known=", ".join(ESTIMATED_METRICS), received=bad[0]))
    P_lab = _check_classifier(scored)
    G = windows.n_windows
    c_lab = _codes(codes, windows, scored.n, f"'{scored.dataset_name}'")
    if unlabeled is not None and unlabeled.n:
        if unlabeled.task != scored.task or unlabeled.model_name != scored.model_name:
            raise AnalysisError(
                "The unlabelled rows were scored by another model or task than the labelled ones; score both "
                "with the same model."
            )
        P_unl = _check_classifier(unlabeled)
        if unlabeled_codes is None:
            if unlabeled.time is None:
                raise AnalysisError(NO_TIME.format(dataset=unlabeled.dataset_name))
            unlabeled_codes = apply_windows(windows, unlabeled.time, where=unlabeled.dataset_name)
        c_unl = _codes(
            unlabeled_codes, windows, unlabeled.n, f"unlabelled rows of '{unlabeled.dataset_name}'"
        )
    else:
        P_unl, c_unl, unlabeled = np.zeros((0, P_lab.shape[1])), np.zeros(0, dtype="int64"), None
    n_lab = np.bincount(c_lab[c_lab >= 0], minlength=G)
    n_unl = np.bincount(c_unl[c_unl >= 0], minlength=G)
    if G == 0 or (n_lab.sum() + n_unl.sum()) == 0:
        raise AnalysisError(
            NO_ROWS.format(n=G, rows=scored.n + (unlabeled.n if unlabeled is not None else 0))
        )

    ref_mask, ref_name = _reference_mask(reference, c_lab, windows, scored, reference_rows)
    y = scored.y
    ref_mask = ref_mask & (y >= 0)
    if ref_mask.sum() < 2:
        raise AnalysisError(SMALL_REFERENCE.format(n=int(ref_mask.sum()), min=MIN_REFERENCE_ROWS))
    task, pos = scored.task, scored.positive_index
    cal = calibrate(
        P_lab[ref_mask], y[ref_mask], task=task, positive_index=pos, method=calibration, seed=seed
    )

    warnings: list[EstimateWarning] = []
    if cal.n_reference < MIN_REFERENCE_ROWS:
        warnings.append(
            EstimateWarning("reference", SMALL_REFERENCE.format(n=cal.n_reference, min=MIN_REFERENCE_ROWS))
        )
    ece_limit = max(ECE_WARN, 2 / np.sqrt(cal.n_reference))
    if cal.ece > ece_limit:
        warnings.append(
            EstimateWarning(
                "calibration",
                f"The scores stay poorly calibrated on the reference after {cal.method} calibration (expected "
                f"calibration error {cal.ece:.3f} out of fold, above {ece_limit:.3f}): the estimates may be off. "
                "Use a larger reference or check that the scores rank the rows consistently.",
            )
        )

    rank_lab = _ranking(scored, P_lab)
    rank_unl = _ranking(unlabeled, P_unl) if unlabeled is not None else P_unl[:, : rank_lab.shape[1]]
    partial = (n_lab > 0) & (n_unl > 0)
    known = np.zeros_like(P_lab)
    known[np.arange(scored.n), np.clip(y, 0, None)] = 1.0
    pred_unl = unlabeled.pred if unlabeled is not None else np.zeros(0, dtype="int64")
    in_partial_lab, in_partial_unl = partial[np.clip(c_lab, 0, None)], partial[np.clip(c_unl, 0, None)]
    parts = {
        PART_ESTIMATED_LABELLED: _Part.of(c_lab, scored.pred, rank_lab, P_lab),
        PART_ESTIMATED: _Part.of(c_unl, pred_unl, rank_unl, P_unl),
        # The combination: the labels where they are known (one-hot rows), the estimate on the rest.
        PART_COMBINED: _Part.of(
            np.r_[np.where(in_partial_lab, c_lab, -1), np.where(in_partial_unl, c_unl, -1)],
            np.r_[scored.pred, pred_unl],
            np.r_[rank_lab, rank_unl],
            np.r_[P_lab, P_unl],
            known=np.r_[known, np.zeros_like(P_unl)],
            is_known=np.r_[np.ones(scored.n, dtype=bool), np.zeros(len(P_unl), dtype=bool)],
        ),
    }
    results = {
        name: part.engine(G, task, pos).metrics(part.probs(cal.calibrator), metrics)
        for name, part in parts.items()
    }
    boot: dict[str, dict[str, list[np.ndarray]]] = {p: {m: [] for m in metrics} for p in parts}
    if n_boot > 0:
        # The calibration uncertainty: calibrators refitted on bootstrap resamples of the reference, each
        # applied to the same rows (at most BOOT_ROWS_PER_WINDOW per window: the spread is the calibrator's).
        rng = np.random.default_rng(seed + 1)
        small = {name: part.sample(BOOT_ROWS_PER_WINDOW, rng, G) for name, part in parts.items()}
        engines = {name: part.engine(G, task, pos) for name, part in small.items()}
        ref_P, ref_y = P_lab[ref_mask], y[ref_mask]
        for _ in range(n_boot):
            idx = rng.integers(0, len(ref_y), len(ref_y))
            if len(np.unique(ref_y[idx])) < 2:
                continue
            calib = _fit(cal.method, ref_P[idx], ref_y[idx], task, pos)
            for name, eng in engines.items():
                for m, (v, _) in eng.metrics(small[name].probs(calib), metrics).items():
                    boot[name][m].append(v)

    z = stats.norm.ppf(0.5 + confidence / 2)
    wt = windows.table()
    rows = []
    present = {  # which parts each window has
        PART_ESTIMATED_LABELLED: n_lab > 0,
        PART_ESTIMATED: n_unl > 0,
        PART_COMBINED: partial,
    }
    sd_by: dict[tuple[str, str], np.ndarray] = {}
    for part, res in results.items():
        for m, (val, var) in res.items():
            cal_var = (
                np.var(np.array(boot[part][m]), axis=0, ddof=1) if len(boot[part][m]) > 1 else np.zeros(G)
            )
            sd = np.sqrt(np.nan_to_num(var) + np.nan_to_num(cal_var))
            sd_by[(part, m)] = sd
            keep = present[part]
            rows.append(
                pd.DataFrame(
                    {
                        "window": np.arange(G)[keep],
                        "metric": m,
                        "part": part,
                        "value": val[keep],
                        "ci_low": np.clip(val - z * sd, 0, 1)[keep],
                        "ci_high": np.clip(val + z * sd, 0, 1)[keep],
                        "rows": (
                            n_lab
                            if part == PART_ESTIMATED_LABELLED
                            else n_unl
                            if part == PART_ESTIMATED
                            else n_lab + n_unl
                        )[keep],
                    }
                )
            )
    realised = grouped_metrics(scored, np.where(y >= 0, c_lab, -1), G, metrics=metrics, confidence=confidence)
    realised = realised[realised["support"] > 0]
    rows.append(
        pd.DataFrame(
            {
                "window": realised["group"].to_numpy(),
                "metric": realised["metric"].to_numpy(),
                "part": PART_REALISED,
                "value": realised["value"].to_numpy(dtype="float64"),
                "ci_low": realised["ci_low"].to_numpy(dtype="float64"),
                "ci_high": realised["ci_high"].to_numpy(dtype="float64"),
                "rows": realised["support"].to_numpy(dtype="int64"),
            }
        )
    )
    table = pd.concat(rows, ignore_index=True)
    table["note"] = np.where(table["value"].isna(), "cannot be computed on these rows", "")
    table = table.merge(wt[["window", "label", "start"]], on="window")[COLUMNS]
    table = table.sort_values(["metric", "window", "part"]).reset_index(drop=True)

    in_sample = np.zeros(windows.n_windows, dtype=bool)
    if reference_rows is not None:  # windows mostly of the model's training rows: their realised is in-sample
        lab = c_lab >= 0
        trained = np.bincount(c_lab[lab], weights=(~reference_rows[lab]).astype(float), minlength=G)
        in_sample = trained > 0.5 * np.maximum(n_lab, 1)
        if in_sample.any():
            named = [windows.labels[g] for g in np.flatnonzero(in_sample)]
            span = (
                named[0]
                if len(named) == 1
                else f"{named[0]} to {named[-1]}"
                if len(named) > 2
                else " and ".join(named)
            )
            warnings.append(
                EstimateWarning(
                    "training data",
                    f"Window(s) {span} hold mostly the model's training data: their realised metrics are "
                    "in-sample (the model was fitted on those rows), so they are not compared with the estimate "
                    "and none of those rows calibrates it.",
                    named[0],
                )
            )
    warnings += _window_warnings(
        table,
        sd_by,
        windows,
        n_lab,
        n_unl,
        P_lab,
        c_lab,
        ref_mask,
        P_unl,
        c_unl,
        task,
        pos,
        metrics,
        in_sample,
    )
    on_ref = grouped_metrics(scored, np.where(ref_mask, 0, -1), 1, metrics=metrics, confidence=confidence)
    return PerformanceEstimate(
        reference_values=dict(zip(on_ref["metric"], on_ref["value"].astype("float64"), strict=True)),
        table=table,
        calibration=cal,
        warnings=warnings,
        metrics=metrics,
        task=task,
        reference=ref_name,
        windows=wt.assign(labelled_rows=n_lab, unlabelled_rows=n_unl),
    )


def _window_warnings(
    table: pd.DataFrame,
    sd_by: dict[tuple[str, str], np.ndarray],
    windows: TimeWindows,
    n_lab: np.ndarray,
    n_unl: np.ndarray,
    P_lab: np.ndarray,
    c_lab: np.ndarray,
    ref_mask: np.ndarray,
    P_unl: np.ndarray,
    c_unl: np.ndarray,
    task: str,
    pos: int | None,
    metrics: list[str],
    in_sample: np.ndarray,
) -> list[EstimateWarning]:
    out: list[EstimateWarning] = []
    labels = windows.labels
    for g in np.flatnonzero((n_lab + n_unl) == 0):
        out.append(
            EstimateWarning(
                "empty window", f"Window {labels[g]} has no rows: nothing to estimate there.", labels[g]
            )
        )
    # Concept drift: where labels exist, the realised metric should fall inside the estimate's spread.
    beyond: dict[int, list[str]] = {}
    for m in metrics:
        real = table[(table["metric"] == m) & (table["part"] == PART_REALISED)].set_index("window")["value"]
        est = table[(table["metric"] == m) & (table["part"] == PART_ESTIMATED_LABELLED)].set_index("window")[
            "value"
        ]
        sd = sd_by[(PART_ESTIMATED_LABELLED, m)]
        for g in real.index.intersection(est.index):
            if in_sample[int(g)]:
                continue
            r, e, s = real[g], est[g], sd[g]
            if np.isfinite(r) and np.isfinite(e) and s > 0 and abs(r - e) > DRIFT_Z * s:
                beyond.setdefault(int(g), []).append(f"{m} {r:.3f} realised vs {e:.3f} estimated")
    for g, found in sorted(beyond.items()):
        out.append(
            EstimateWarning(
                "concept drift",
                f"In window {labels[g]} the realised metrics are more than {DRIFT_Z:g} standard errors from the "
                f"estimate on the same {int(n_lab[g]):,} labelled rows ({'; '.join(found)}): what the scores mean "
                "has changed (concept drift), so estimates for this and later windows cannot be trusted.",
                labels[g],
            )
        )
    # Score range: the share of a window's scores outside the reference's central 99 %.
    conf_ref = _confidence(P_lab[ref_mask], task, pos)
    lo, hi = np.quantile(conf_ref, [0.005, 0.995])
    conf = np.r_[_confidence(P_lab, task, pos), _confidence(P_unl, task, pos)]
    codes = np.r_[c_lab, c_unl]
    ok = codes >= 0
    G = windows.n_windows
    out_share = np.bincount(codes[ok], ((conf < lo) | (conf > hi))[ok], minlength=G) / np.maximum(
        np.bincount(codes[ok], minlength=G), 1
    )
    for g in np.flatnonzero(out_share > OUT_OF_RANGE_WARN):
        out.append(
            EstimateWarning(
                "score range",
                f"In window {labels[g]}, {out_share[g]:.0%} of the scores fall outside the reference's range "
                f"({lo:.3f} to {hi:.3f}, the central 99 %): the calibration is extrapolated there.",
                labels[g],
            )
        )
    return out


def _confidence(P: np.ndarray, task: str, pos: int | None) -> np.ndarray:
    return P[:, pos] if task == "binary" else P.max(axis=1) if len(P) else np.zeros(0)


def outside_training(ws: Workspace, scored: Scored) -> np.ndarray | None:
    """The labelled rows of ``scored`` (datasets joined by ``concat_scored``) that are not the workspace's
    training data (``explore.core.roles``), when there are such rows beside training rows; else None (every
    row may calibrate).

    The default reference is the earliest windows, and the earliest rows are usually the training data: a
    model's scores on the rows it was fitted on are overconfident (a random forest's were right 100 % of the
    time there), so the calibration promised 0.94–0.99 accuracy where 0.56–0.87 was realised and every later
    window was blamed on concept drift (found on a multiclass random forest with train and validation data)."""
    from explore.core.roles import training_dataset

    train = training_dataset(ws)
    if train is None or "__dataset__" not in scored.frame:
        return None
    outside = (scored.frame["__dataset__"] != train).to_numpy()
    return outside if outside.any() and not outside.all() else None


MIX_NOTE = (
    "{dataset}: the engine's sample is stratified by label (equal shares per class), so {kept:,} of its {drawn:,} "
    "labelled rows are used, each class in its share of every row ({shares})"
)


def population_mix(ws: Workspace, scored: Scored, *, seed: int = 0) -> tuple[np.ndarray | None, str]:
    """Which labelled rows of ``scored`` (one dataset, or several joined by ``concat_scored``) an estimate may use,
    and a note saying so: a row mask (None: every row) and the note ("" when none is dropped).

    The rows of a dataset read through the engine are its sample, stratified by label (equal shares per class,
    ``explore.engine.sample``); realised metrics and a calibration computed on them describe a class mix the data
    does not have (found on a fraud log with 38.5 % positives: the sample's accuracy 0.64 against 0.70 on every
    row, and a concept-drift warning that every row did not raise). Within a class the sample is a uniform draw,
    so keeping each class's rows in proportion to its count over every row makes it a proportionally stratified
    sample of the data again (the largest one the drawn rows allow; which rows, by ``seed``)."""
    if not scored.n or scored.task == "regression":
        return None, ""
    where = (
        scored.frame["__dataset__"].to_numpy()
        if "__dataset__" in scored.frame
        else np.full(scored.n, scored.dataset_name, dtype=object)
    )
    keep = np.ones(scored.n, dtype=bool)
    notes: list[str] = []
    rng = np.random.default_rng(seed)
    y_raw = np.asarray(scored.y_raw, dtype=object)
    for name in pd.unique(where):
        rows = np.flatnonzero(where == name)
        kept, note = _mix_rows(ws, name, y_raw[rows], rng)
        if note:
            keep[rows[~kept]] = False
            notes.append(note)
    if not notes:
        return None, ""
    return keep, "; ".join(notes) + "."


def population_rows(ws: Workspace, name: str, labels: Any, *, seed: int = 0) -> tuple[np.ndarray | None, str]:
    """``population_mix`` for the labels of one dataset's rows as read (``ws.dataset(name)[label]``, e.g. to fit
    on them): a row mask (None: every row) and the note ("" when none is dropped)."""
    kept, note = _mix_rows(ws, name, np.asarray(labels, dtype=object), np.random.default_rng(seed))
    return (kept, note + ".") if note else (None, "")


def population_scored(ws: Workspace, scored: Scored, *, seed: int = 0) -> tuple[Scored, str]:
    """``scored`` cut to ``population_mix``'s rows (itself when every row is kept) and the note saying so: the
    rows to measure on so that the numbers describe every row's class mix, not an engine sample's equal shares."""
    keep, note = population_mix(ws, scored, seed=seed)
    if keep is None:
        return scored, ""
    return scored.take(np.flatnonzero(keep), f"population-mix:{seed}"), note


def _mix_rows(
    ws: Workspace, name: str, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """Which of one dataset's rows (their labels) to keep so that each class is in its share of every row, when
    the dataset is an engine sample stratified by label; the note ("" when every row is kept)."""
    keep = np.ones(len(labels), dtype=bool)
    sample = ws.samples.get(name) if ws.is_out_of_core(name) else None
    counts = sample.probe.label_counts if sample is not None and sample.stratified_by else None
    if not counts:
        return keep, ""
    population = {k: int(v) for k, v in counts.items() if k is not None and not pd.isna(k) and v}
    total = sum(population.values())
    rows = np.flatnonzero(pd.Series(labels).notna().to_numpy())
    values = labels[rows]
    drawn = {k: np.flatnonzero(values == k) for k in population}
    if total == 0 or not rows.size:
        return keep, ""
    # The largest sample with every row's shares: n × share_k ≤ drawn_k for each class k.
    n = min(len(drawn[k]) * total / population[k] for k in population)
    kept = 0
    for k, idx in drawn.items():
        take = min(len(idx), int(np.floor(n * population[k] / total + 1e-9)))
        drop = rng.permutation(idx)[take:]
        keep[rows[drop]] = False
        kept += take
    if kept >= rows.size:
        return keep, ""
    shares = ", ".join(f"{k}: {population[k] / total:.1%}" for k in sorted(population, key=str))
    return keep, MIX_NOTE.format(dataset=name, kept=kept, drawn=int(rows.size), shares=shares)


def estimate_workspace(
    ws: Workspace,
    datasets: Sequence[str] | None = None,
    params: EstimationParams | None = None,
    *,
    model: str | None = MAIN_MODEL,
    by: str = "month",
    n_windows: int | None = None,
    min_rows: int = 100,
    reference: int | SliceDefinition | None = None,
    reference_dataset: str | None = None,
) -> PerformanceEstimate:
    """``estimate_performance`` on datasets of a workspace (default: every dataset), labelled and unlabelled
    rows alike, cut into windows ``by`` calendar period (or ``"rows"`` with ``n_windows``): the notebook API.

    ``explore.estimate_workspace(ws, ["validation", "production"])`` calibrates on the first window with enough
    labels and estimates every window, including those whose labels have not arrived yet."""
    names = list(datasets) if datasets is not None else list(ws.dataset_names)
    model = model if ws.models else None
    labelled = concat_scored([score(ws, d, model) for d in names], name=", ".join(names))
    unl_parts = [p for p in (score_unlabeled(ws, d, model) for d in names) if p.n]
    unlabeled = concat_scored(unl_parts, name=", ".join(names)) if unl_parts else None
    if labelled.time is None:
        raise TimeColumnError(NO_TIME_COLUMN.format(where=f"workspace '{ws.name}'"))
    times = (
        labelled.time if unlabeled is None else pd.concat([labelled.time, unlabeled.time], ignore_index=True)
    )
    if reference_dataset is not None:
        if reference_dataset not in names:
            raise AnalysisError(
                f"The reference dataset {reference_dataset!r} is not among the analysed ones ({', '.join(names)})."
            )
        reference = (
            SliceDefinition((Condition("__dataset__", "in", values=(reference_dataset,)),))
            if "__dataset__" in labelled.frame
            else SliceDefinition()
        )
    w = time_windows(times, by=by, n_windows=n_windows or 12, min_rows=min_rows, where=", ".join(names))
    codes = apply_windows(w, labelled.time)
    keep, note = population_mix(ws, labelled)
    est = estimate_performance(
        labelled,
        w,
        params,
        unlabeled=unlabeled,
        codes=codes if keep is None else np.where(keep, codes, -1),
        reference_rows=outside_training(ws, labelled),
        unlabeled_codes=apply_windows(w, unlabeled.time) if unlabeled is not None else None,
        reference=reference,
    )
    est = replace(est, rows_note=note)
    return replace(est, reference=f"dataset '{reference_dataset}'") if reference_dataset is not None else est


def estimated_drops(est: PerformanceEstimate, metric: str) -> pd.DataFrame:
    """For every window with unlabelled rows, its best figure for ``metric`` (combined where the window has
    labels too, else estimated) and the drop from the reference's realised value (positive: worse)."""
    t = est.table[(est.table["metric"] == metric) & est.table["part"].isin([PART_COMBINED, PART_ESTIMATED])]
    # A window with both parts shows its combination; one with only unlabelled rows, the estimate.
    t = t.sort_values(["window", "part"]).drop_duplicates("window", keep="first")
    ref = est.reference_values.get(metric, np.nan)
    out = t[["window", "label", "part", "value", "ci_low", "ci_high", "rows"]].reset_index(drop=True)
    return out.assign(reference=ref, drop=ref - out["value"])
