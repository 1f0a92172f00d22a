"""The model's performance over time, and the staleness experiment: how fast does this kind of model go stale?

``performance_over_time`` computes every slice-report metric per time window (``explore.stats.metrics.
grouped_metrics``) with confidence intervals and support, plus the label and prediction rates that
tell label shift from prediction shift.

``staleness_experiment`` answers the ML Test Score's "the impact of model staleness is known":

1. For each training **cutoff** (≥ 3, the start of a chosen window), a clone of the model's estimator
   (``sklearn.base.clone``) is fitted on the ``train_windows`` windows just before the cutoff and
   evaluated on every later window. Its metric against **data age** (window start − cutoff) is the
   raw staleness curve; it mixes staleness with how hard each calendar period is.
2. For each evaluation window a **fresh** clone is fitted on the same-length span just before that
   window. The **staleness gap** (stale metric − fresh metric) against age separates staleness from
   calendar difficulty: it is what not retraining costs. The fresh model of the first window after a
   cutoff is the cutoff's own model (same span), so the gap at age 0 is exactly 0.
3. **Time to stale** per cutoff: the first age from which the loss (the gap signed so that positive
   is worse) stays at or above a threshold for ``persistence`` evaluated windows — or, with
   ``criterion="metric"``, the raw metric stays beyond a floor/ceiling. The estimate is the median
   over cutoffs; the spread across cutoffs is its uncertainty.

Fits are bounded by ``max_fit_rows`` (a seeded random subsample of the span, identical for identical
spans) and evaluations by ``max_eval_rows`` per window. Progress is reported per fit, a cancel hook is
checked between fits, and results round-trip through JSON for the store.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from explore.core.progress import Progress, no_progress
from explore.core.workspace import Scored
from explore.errors import NO_MODEL_FILE, AnalysisError, ExperimentCancelled, ModelError
from explore.slices.definition import SliceDefinition
from explore.staleness.windows import TimeWindows
from explore.stats.metrics import (
    METRICS,
    available_metrics,
    grouped_metrics,
    metric_direction,
    wilson_interval,
)

Cancel = Callable[[], bool]

MIN_CUTOFFS = 3
EXPERIMENT_KIND = "staleness"
DEFAULT_MAX_FIT_ROWS = 20_000
DEFAULT_MAX_EVAL_ROWS = 20_000

# ---- messages ---------------------------------------------------------------------------------------

NO_MODEL = NO_MODEL_FILE.format(
    needs="The staleness experiment refits the model", then="; performance over time below still works"
)
NOT_CLONEABLE = (
    "The model {model!r} ({kind}) cannot be cloned for refitting: {reason}. The staleness experiment needs a "
    "scikit-learn compatible estimator (sklearn.base.clone must work on it, e.g. a Pipeline). Performance over "
    "time still works."
)
FIT_FAILED = (
    "Refitting a clone of the model on {span} ({n:,} rows) failed: {reason}. The experiment needs an estimator "
    "that can be refitted on the workspace's data (same feature columns and label)."
)
TOO_FEW_CUTOFFS = (
    "The staleness experiment needs at least {need} training cutoffs to show the spread across them; received {n}. "
    "Pick more cutoff windows (or shorter windows)."
)
BAD_CUTOFF = (
    "Cutoff window {cutoff} ({label}) has only {before} window(s) before it, fewer than the training span of "
    "{span} window(s), and needs at least one window after it (there are {n} windows). "
    "Choose later cutoffs (from window {span}) or a shorter training span."
)
BAD_SPAN = "The training span must be a whole number of windows ≥ 1; received {received!r}."
BAD_METRIC = (
    "The metric {metric!r} has no better direction (it is a rate or a bias), so a staleness loss cannot be defined. "
    "Choose one of: {known}."
)
UNKNOWN_METRIC = "Unknown metric {metric!r}. Choose one of: {known} (written as here, e.g. 'ROC AUC')."
BAD_THRESHOLD = "The threshold must be a finite number; received {received!r}."
BAD_CRITERION = "criterion must be 'gap' or 'metric'; received {received!r}."
CANCELLED = "The staleness experiment was cancelled after {done} of {total} fits; nothing was saved."
NO_LABELS = "The experiment's data has no labelled rows; received {n} rows, all without a label."


# ---- performance over time --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PerformanceOverTime:
    """Metrics per time window.

    ``table``: ``grouped_metrics`` rows joined with the window (``window``, ``label``, ``start``, ``end``,
    ``too_few``: support below ``min_rows``). ``rates``: one row per (window, series, class) with
    ``series`` "label" / "prediction" (classification: share of rows of the class, Wilson interval;
    regression: mean label / mean prediction, t interval) — label shift moves the first, prediction
    shift the second. ``metrics``: the metric names, in order.
    """

    table: pd.DataFrame
    rates: pd.DataFrame
    windows: pd.DataFrame
    metrics: list[str]
    task: str
    in_slice: bool

    def series(self, metric: str) -> pd.DataFrame:
        """One metric's rows (window order)."""
        return self.table[self.table["metric"] == metric].reset_index(drop=True)


def _mean_rows(values: np.ndarray, codes: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """(count, sum, sum of squares) of the finite ``values`` per window code 0 … n − 1."""
    ok = (codes >= 0) & np.isfinite(values)
    c, v = codes[ok], values[ok]
    cnt = np.bincount(c, minlength=n)[:n].astype("float64")
    s = np.bincount(c, weights=v, minlength=n)[:n]
    s2 = np.bincount(c, weights=v * v, minlength=n)[:n]
    return cnt, s, s2


def _mean_interval(
    cnt: np.ndarray, s: np.ndarray, s2: np.ndarray, confidence: float
) -> tuple[np.ndarray, ...]:
    """(mean, t-interval low, high) from per-window counts, sums and sums of squares."""
    from scipy import stats

    cnt = np.asarray(cnt, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / cnt
        var = np.maximum(s2 / cnt - mean**2, 0) * cnt / (cnt - 1)
        half = stats.t.ppf(0.5 + confidence / 2, np.maximum(cnt - 1, 1)) * np.sqrt(var / cnt)
    half = np.where(cnt > 1, half, np.nan)
    return mean, mean - half, mean + half


def performance_over_time(
    scored: Scored,
    windows: TimeWindows,
    *,
    codes: np.ndarray | None = None,
    metrics: Sequence[str] | None = None,
    slice_def: SliceDefinition | None = None,
    confidence: float = 0.95,
) -> PerformanceOverTime:
    """Every metric per window of ``windows`` (via ``grouped_metrics``), plus label/prediction rates.

    ``codes``: window code of each scored row (default ``windows.codes``, when the windows were made
    on ``scored.time``); ``slice_def``: restrict to a slice. Values are in the metric's
    units (rates as fractions 0..1); ``too_few`` flags windows whose support is below ``windows.min_rows``.
    """
    codes = windows.codes if codes is None else np.asarray(codes, dtype="int64")
    if len(codes) != scored.n:
        raise AnalysisError(
            f"Window codes have {len(codes)} entries for {scored.n} scored rows; compute them on this dataset."
        )
    if slice_def is not None:
        codes = np.where(slice_def.mask(scored), codes, -1)
    n = windows.n_windows
    names = (
        list(metrics)
        if metrics is not None
        else [m for m in available_metrics(scored) if "[class=" not in m and metric_direction(m) is not None]
    )
    table = grouped_metrics(scored, codes, n, metrics=names, confidence=confidence)
    wt = windows.table().rename(columns={"rows": "window_rows"})
    table = table.rename(columns={"group": "window"}).merge(
        wt[["window", "label", "start", "end", "window_rows"]], on="window"
    )
    table["too_few"] = table["support"] < windows.min_rows
    rates = _rates(scored, codes, n, confidence)
    rates = rates.merge(wt[["window", "label", "start"]], on="window")
    rates["too_few"] = rates["support"] < windows.min_rows
    return PerformanceOverTime(
        table=table, rates=rates, windows=wt, metrics=names, task=scored.task, in_slice=slice_def is not None
    )


def _rates(scored: Scored, codes: np.ndarray, n: int, confidence: float) -> pd.DataFrame:
    if scored.task == "regression":
        sums = {
            series: _mean_rows(np.asarray(vals, dtype="float64"), codes, n)
            for series, vals in (("label", scored.y), ("prediction", scored.pred))
        }
        return rates_table(scored.task, [], sums, confidence)
    classes = scored.classes.tolist()
    shown = [classes[scored.positive_index]] if scored.task == "binary" else classes
    keep = codes >= 0
    support = np.bincount(codes[keep], minlength=n)[:n]
    hits = {
        (series, c): np.bincount(
            codes[keep], weights=(np.asarray(vals)[keep] == classes.index(c)), minlength=n
        )[:n]
        for series, vals in (("label", scored.y), ("prediction", scored.pred))
        for c in shown
    }
    return rates_table(scored.task, shown, {"support": support, **hits}, confidence)


def rates_table(
    task: str, shown: Sequence[Any], counts: dict[Any, Any], confidence: float = 0.95
) -> pd.DataFrame:
    """``PerformanceOverTime.rates`` (before the windows' label, start and ``too_few`` are joined) from per-window
    counts — in memory from the rows, in the engine from one GROUP BY. Regression: ``counts["label"]`` and
    ``counts["prediction"]`` are (count, sum, sum of squares) of the finite values; classification:
    ``counts["support"]`` the rows and ``counts[(series, class)]`` the rows whose label / prediction is the class,
    for each class of ``shown`` (binary: the positive class)."""
    rows = []
    if task == "regression":
        for series in ("label", "prediction"):
            cnt, s, s2 = (np.asarray(a, dtype="float64") for a in counts[series])
            mean, lo, hi = _mean_interval(cnt, s, s2, confidence)
            rows.append(
                pd.DataFrame(
                    {
                        "window": np.arange(len(cnt)),
                        "series": series,
                        "class": "mean",
                        "value": mean,
                        "ci_low": lo,
                        "ci_high": hi,
                        "support": cnt.astype("int64"),
                    }
                )
            )
        return pd.concat(rows, ignore_index=True)
    support = np.asarray(counts["support"], dtype="int64")
    for series in ("label", "prediction"):
        for c in shown:
            hits = np.asarray(counts[(series, c)], dtype="float64")
            lo, hi = wilson_interval(hits, support, confidence)
            with np.errstate(invalid="ignore", divide="ignore"):
                value = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        "window": np.arange(len(support)),
                        "series": series,
                        "class": str(c),
                        "value": value,
                        "ci_low": lo,
                        "ci_high": hi,
                        "support": support,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


# ---- the staleness experiment -----------------------------------------------------------------------


@dataclass(frozen=True)
class StalenessParams:
    """What to run. ``cutoffs``: window indices (training ends at the start of each); ``train_windows``:
    length of every training span in windows; ``metric``: a metric of ``explore.stats.metrics`` with a better
    direction; ``criterion``: ``"gap"`` (loss vs a fresh model ≥ ``threshold``, in metric units) or
    ``"metric"`` (raw metric beyond ``threshold``); ``horizon``: largest age evaluated, in windows
    (None: every later window); ``persistence``: consecutive evaluated windows the criterion must hold.

    ``metric``, ``criterion``, ``threshold`` and ``persistence`` only read the fitted curves: change them
    with ``retarget`` without refitting (every cheap metric of the task is measured in each run)."""

    cutoffs: tuple[int, ...]
    train_windows: int
    metric: str
    criterion: str = "gap"
    threshold: float = 0.02
    horizon: int | None = None
    max_fit_rows: int = DEFAULT_MAX_FIT_ROWS
    max_eval_rows: int = DEFAULT_MAX_EVAL_ROWS
    persistence: int = 2
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cutoffs"] = list(self.cutoffs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StalenessParams:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{**{k: v for k, v in d.items() if k in known}, "cutoffs": tuple(d["cutoffs"])})

    def fit_dict(self) -> dict[str, Any]:
        """The parameters the fits depend on (not the metric or the staleness criterion)."""
        d = self.to_dict()
        for k in ("metric", "criterion", "threshold", "persistence"):
            d.pop(k)
        return d


@dataclass(frozen=True)
class TimeToStale:
    """The time-to-stale estimate across cutoffs.

    Ages in windows (``*_windows``) and days (``*_days``, window start − cutoff). ``median_*`` over the
    cutoffs that went stale; ``low_*``/``high_*``: their min and max. ``n_stale`` of ``n_cutoffs``
    reached the criterion within their horizon; the others are censored at ``censored_at_windows`` (the
    shortest age to which they were followed). All NaN when no cutoff went stale. ``noise``: the median
    half-width of a window's 95 % interval for the metric — a threshold below it is within noise.
    """

    criterion: str
    threshold: float
    metric: str
    higher_is_better: bool
    n_cutoffs: int
    n_stale: int
    median_windows: float
    low_windows: float
    high_windows: float
    median_days: float
    low_days: float
    high_days: float
    censored_at_windows: float
    unit: str
    noise: float = math.nan


_DATES = ("cutoff_start", "window_start")
_MEASURES = ("stale", "fresh", "gap", "loss", "age_days", "stale_ci_half")


@dataclass(frozen=True, eq=False)
class StalenessResult:
    """Everything the experiment measured.

    ``all_curves``: one row per (metric, cutoff, evaluation window) — every metric measured.
    ``curves``: those of ``params.metric``: ``cutoff`` (window index), ``cutoff_start``, ``cutoff_label``,
    ``window``, ``window_start``, ``window_label``, ``age_windows``, ``age_days``, ``stale`` and ``fresh``
    (metric), ``gap`` (stale − fresh), ``loss`` (gap signed so that > 0 means the stale model is worse),
    ``support`` (rows evaluated), ``too_few``. ``summary``: per age in windows, mean/std/min/max over
    cutoffs of ``stale``, ``gap`` and ``loss``, mean ``fresh``, ``n_cutoffs``, mean ``age_days``.
    ``per_cutoff``: time to stale of each cutoff (``stale_age_windows``, ``stale_age_days``,
    ``stale_date``, ``went_stale``, ``followed_windows``). ``fits``: one row per fit (span, rows, seconds).
    """

    params: StalenessParams
    all_curves: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
    per_cutoff: pd.DataFrame
    estimate: TimeToStale
    fits: pd.DataFrame
    window_labels: list[str]
    unit: str
    notes: list[str] = field(default_factory=list)
    total_seconds: float = 0.0

    @property
    def metrics(self) -> list[str]:
        """The metrics measured (any of them can be the target of ``retarget``)."""
        return (
            list(dict.fromkeys(self.all_curves["metric"]))
            if not self.all_curves.empty
            else [self.params.metric]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the store); ``from_dict`` restores it (derived tables are recomputed)."""

        def frame(df: pd.DataFrame) -> dict[str, Any]:
            out = df.copy()
            for c in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
                    out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%S")
            return json.loads(out.to_json(orient="split", index=False))

        return {
            "params": self.params.to_dict(),
            "all_curves": frame(self.all_curves),
            "fits": frame(self.fits),
            "window_labels": list(self.window_labels),
            "unit": self.unit,
            "notes": list(self.notes),
            "total_seconds": self.total_seconds,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StalenessResult:
        ac = d["all_curves"]
        all_curves = _ns(pd.DataFrame(ac["data"], columns=ac["columns"]), _DATES)
        for c in _MEASURES:
            values = all_curves[c] if c in all_curves.columns else pd.Series(math.nan, index=all_curves.index)
            all_curves[c] = pd.to_numeric(values, errors="coerce").astype("float64")
        fits = pd.DataFrame(d["fits"]["data"], columns=d["fits"]["columns"])
        return _derive(
            StalenessParams.from_dict(d["params"]),
            all_curves,
            fits=fits,
            window_labels=list(d["window_labels"]),
            unit=d["unit"],
            notes=list(d.get("notes", [])),
            total_seconds=float(d.get("total_seconds", 0.0)),
        )

    def retarget(
        self,
        *,
        metric: str | None = None,
        criterion: str | None = None,
        threshold: float | None = None,
        persistence: int | None = None,
    ) -> StalenessResult:
        """The same fits judged by another metric / criterion / threshold (no refitting)."""
        changes = {
            k: v
            for k, v in (
                ("metric", metric),
                ("criterion", criterion),
                ("threshold", threshold),
                ("persistence", persistence),
            )
            if v is not None
        }
        params = replace(self.params, **changes)
        if params.metric not in self.metrics:
            raise AnalysisError(
                f"The metric {params.metric!r} was not measured in this run (measured: {', '.join(self.metrics)}). Run the experiment again."
            )
        _check_target(params)
        return _derive(
            params,
            self.all_curves,
            fits=self.fits,
            window_labels=self.window_labels,
            unit=self.unit,
            notes=self.notes,
            total_seconds=self.total_seconds,
        )


def _check_target(params: StalenessParams) -> bool:
    if params.criterion not in ("gap", "metric"):
        raise AnalysisError(BAD_CRITERION.format(received=params.criterion))
    if (
        isinstance(params.threshold, bool)
        or not isinstance(params.threshold, int | float)
        or not math.isfinite(params.threshold)
    ):
        raise AnalysisError(BAD_THRESHOLD.format(received=params.threshold))
    direction = metric_direction(params.metric)
    if direction is None:
        known = ", ".join(n for n, m in METRICS.items() if m.higher_is_better is not None)
        known_name = str(params.metric).split("[")[0] in METRICS  # per-class metrics: "recall[a]"
        words = BAD_METRIC if known_name else UNKNOWN_METRIC
        raise AnalysisError(words.format(metric=params.metric, known=known))
    return bool(direction)


def _derive(
    params: StalenessParams,
    all_curves: pd.DataFrame,
    *,
    fits: pd.DataFrame,
    window_labels: list[str],
    unit: str,
    notes: list[str],
    total_seconds: float,
) -> StalenessResult:
    higher = _check_target(params)
    curves = all_curves[all_curves["metric"] == params.metric].drop(columns="metric").reset_index(drop=True)
    summary = _summarise(curves)
    per_cutoff, estimate = _time_to_stale(curves, params, higher, unit)
    return StalenessResult(
        params=params,
        all_curves=all_curves,
        curves=curves,
        summary=summary,
        per_cutoff=per_cutoff,
        estimate=estimate,
        fits=fits,
        window_labels=window_labels,
        unit=unit,
        notes=notes,
        total_seconds=total_seconds,
    )


def check_refittable(model: Any, *, name: str = "current") -> None:
    """Raise ``ModelError`` unless ``sklearn.base.clone`` works on ``model`` (None: predictions-only)."""
    if model is None:
        raise ModelError(NO_MODEL)
    from sklearn.base import clone

    try:
        clone(model)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot refit", said to the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(NOT_CLONEABLE.format(model=name, kind=type(model).__name__, reason=reason)) from None
    if not hasattr(model, "fit"):
        raise ModelError(
            NOT_CLONEABLE.format(model=name, kind=type(model).__name__, reason="it has no fit() method")
        )


def staleness_metrics(task: str, *, has_proba: bool = True) -> list[str]:
    """Metrics usable in the experiment for ``task`` (those with a better direction)."""
    names = [n for n, m in METRICS.items() if task in m.tasks and m.higher_is_better is not None]
    if not has_proba:
        names = [n for n in names if METRICS[n].needs == "pred"]
    return names


def experiment_metric_options(task: str, model: Any) -> list[str]:
    """Metrics the experiment can judge for this model: proba metrics need ``predict_proba``; a binary
    model with only ``decision_function`` still ranks (ROC/PR AUC)."""
    if task == "regression" or hasattr(model, "predict_proba"):
        return staleness_metrics(task)
    names = staleness_metrics(task, has_proba=False)
    if task == "binary" and hasattr(model, "decision_function"):
        names += ["ROC AUC", "PR AUC"]
    return names


# Metrics bounded in [0, 1] (or ≤ 1) whose "points" are hundredths: a fixed default threshold suits them,
# and their differences read as "points" in charts and sentences.
POINT_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "F1",
    "precision (weighted)",
    "recall (weighted)",
    "F1 (weighted)",
    "ROC AUC",
    "PR AUC",
    "R²",
)


def default_threshold(metric: str, criterion: str, reference: float) -> float:
    """A starting threshold: 2 points (0.02) of a [0, 1] metric, else 5 % of ``reference`` (the model's
    current value of the metric) for the gap; for the raw metric, 5 points below (or 10 % above) it."""
    higher = bool(metric_direction(metric))
    unit = metric in POINT_METRICS
    if not math.isfinite(reference):
        return 0.02 if criterion == "gap" or not unit else (0.7 if higher else 1.0)
    if criterion == "gap":
        value = 0.02 if unit else 0.05 * abs(reference)
    else:
        value = (
            reference - 0.05 if (unit and higher) else (reference * 1.1 if not higher else reference * 0.95)
        )
    return float(f"{value:.2g}") if value else 0.0


# Multiclass AUCs use a bootstrap interval on small groups: measured only when asked for.
_COSTLY = {"multiclass": ("ROC AUC", "PR AUC")}


def measured_metrics(task: str, primary: str, *, has_proba: bool = True) -> list[str]:
    """The metrics one run measures: ``primary`` plus every cheap metric of the task."""
    names = [n for n in staleness_metrics(task, has_proba=has_proba) if n not in _COSTLY.get(task, ())]
    return list(dict.fromkeys([primary, *names]))


def validate_params(params: StalenessParams, windows: TimeWindows) -> bool:
    """Check ``params`` against ``windows`` (``AnalysisError`` saying what to change); return whether higher is better."""
    if (
        isinstance(params.train_windows, bool)
        or not isinstance(params.train_windows, int | np.integer)
        or params.train_windows < 1
    ):
        raise AnalysisError(BAD_SPAN.format(received=params.train_windows))
    direction = _check_target(params)
    cutoffs = sorted(set(int(c) for c in params.cutoffs))
    if len(cutoffs) < MIN_CUTOFFS:
        raise AnalysisError(TOO_FEW_CUTOFFS.format(need=MIN_CUTOFFS, n=len(cutoffs)))
    n = windows.n_windows
    for c in cutoffs:
        if c < params.train_windows or c >= n:
            label = windows.labels[c] if 0 <= c < n else "outside the data"
            raise AnalysisError(
                BAD_CUTOFF.format(cutoff=c, label=label, before=max(c, 0), span=params.train_windows, n=n)
            )
    return bool(direction)


def _align_proba(proba: np.ndarray, model_classes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Columns of ``proba`` reordered to ``classes``; classes the model never saw get probability 0."""
    out = np.zeros((len(proba), len(classes)))
    lookup = {str(c): i for i, c in enumerate(model_classes.tolist())}
    for j, c in enumerate(classes.tolist()):
        i = lookup.get(str(c))
        if i is not None:
            out[:, j] = proba[:, i]
    return out


def _encode(values: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Index of each value in ``classes`` (compared as text; -1 when absent)."""
    text = pd.Series(values, dtype=object).astype(str)
    return pd.Categorical(text, categories=[str(c) for c in classes.tolist()]).codes.astype("int64")


def _predict(
    model: Any,
    X: pd.DataFrame,
    y_raw: np.ndarray,
    task: str,
    classes: np.ndarray | None,
    positive_index: int | None,
) -> Scored:
    """Score ``X`` with a refitted clone into a minimal ``Scored`` (enough for ``grouped_metrics``)."""
    Xin: Any = X if hasattr(model, "feature_names_in_") else X.to_numpy()
    unavailable: dict[str, str] = {}
    proba = score = None
    if task == "regression":
        pred = np.asarray(model.predict(Xin), dtype="float64")
        y = pd.to_numeric(pd.Series(y_raw), errors="coerce").to_numpy(dtype="float64")
    else:
        pred = _encode(np.asarray(model.predict(Xin)), classes)
        y = _encode(y_raw, classes)
        if hasattr(model, "predict_proba"):
            proba = _align_proba(
                np.asarray(model.predict_proba(Xin), dtype="float64"), np.asarray(model.classes_), classes
            )
            if task == "binary":
                score = proba[:, positive_index]
        elif task == "binary" and hasattr(model, "decision_function"):
            raw = np.asarray(model.decision_function(Xin), dtype="float64")
            # decision_function is positive for classes_[1]; flip when that is not the positive class.
            score = raw if str(np.asarray(model.classes_)[1]) == str(classes[positive_index]) else -raw
            unavailable.update({m: "the model has no predict_proba" for m in ("log loss", "Brier")})
        else:
            unavailable.update(
                {m: "the model has no predict_proba" for m in ("ROC AUC", "PR AUC", "log loss", "Brier")}
            )
    n = len(X)
    return Scored(
        dataset_name="experiment",
        model_name="clone",
        task=task,
        frame=pd.DataFrame(index=range(n)),
        feature_names=list(X.columns),
        y=y,
        y_raw=np.asarray(y_raw),
        pred=pred,
        proba=proba,
        score=score,
        classes=classes,
        positive_index=positive_index,
        time=None,
        ids=np.arange(n),
        unavailable=unavailable,
        n_unlabeled=0,
    )


def _sample(rows: np.ndarray, cap: int, seed: int, key: int) -> np.ndarray:
    if cap <= 0 or len(rows) <= cap:
        return rows
    rng = np.random.default_rng([seed, key])
    return np.sort(rng.choice(rows, size=cap, replace=False))


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _unit(windows: TimeWindows) -> str:
    return "window" if windows.by == "rows" else windows.by


def staleness_experiment(
    model: Any,
    data: pd.DataFrame,
    windows: TimeWindows,
    *,
    features: Sequence[str],
    label: str,
    task: str,
    classes: np.ndarray | None,
    positive_index: int | None,
    params: StalenessParams,
    progress: Progress | None = None,
    should_cancel: Cancel | None = None,
    codes: np.ndarray | None = None,
) -> StalenessResult:
    """Run the staleness experiment (see the module docstring) on ``data`` cut by ``windows``.

    ``data``: the experiment's rows (features and ``label``; rows without a label are ignored), with
    ``codes`` (default ``windows.codes``) their window per row — pass ``apply_windows(windows, time)`` to
    use a larger frame without copying it. ``progress(fraction, message)`` is called before each fit;
    ``should_cancel()`` is checked between fits and stops the run with ``ExperimentCancelled``.
    Returns a ``StalenessResult``; metric values in the metric's units, ages in windows and days.
    """
    validate_params(params, windows)
    check_refittable(model)
    from sklearn.base import clone

    started = time.perf_counter()
    progress = progress or no_progress
    codes = np.asarray(windows.codes if codes is None else codes, dtype="int64")
    if len(codes) != len(data):
        raise AnalysisError(
            f"The windows have {len(codes)} row codes for {len(data)} rows of data; make them on this data."
        )
    labelled = data[label].notna().to_numpy()
    if not labelled.any():
        raise AnalysisError(NO_LABELS.format(n=len(data)))
    codes = np.where(labelled, codes, -1)
    n_w = windows.n_windows
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_w + 1))
    rows_of = [order[bounds[w] : bounds[w + 1]] for w in range(n_w)]
    cutoffs = sorted(set(int(c) for c in params.cutoffs))
    L = int(params.train_windows)
    last = {c: n_w - 1 if params.horizon is None else min(n_w - 1, c + int(params.horizon)) for c in cutoffs}
    eval_windows = sorted({w for c in cutoffs for w in range(c, last[c] + 1) if len(rows_of[w])})
    spans = sorted(set(cutoffs) | set(eval_windows))
    eval_rows = {w: _sample(rows_of[w], params.max_eval_rows, params.seed, 10_000 + w) for w in eval_windows}
    X_all = data[list(features)]
    y_all = data[label].to_numpy()

    has_proba = task != "regression" and hasattr(model, "predict_proba")
    measured = measured_metrics(task, params.metric, has_proba=has_proba or task == "regression")
    if task == "binary" and not has_proba and hasattr(model, "decision_function"):
        measured = list(dict.fromkeys([*measured, "ROC AUC", "PR AUC"]))
    values: dict[tuple[int, int], dict[str, float]] = {}
    # 95 % interval half-widths: the noise level of a window's metric.
    halves: dict[tuple[int, int], dict[str, float]] = {}
    supports: dict[int, int] = {w: len(eval_rows[w]) for w in eval_windows}
    # A window is too small by its labelled rows, not by the (capped) rows evaluated.
    small = {w: len(rows_of[w]) < windows.min_rows for w in eval_windows}
    fits: list[dict[str, Any]] = []
    notes: list[str] = []
    for k, s in enumerate(spans):
        if should_cancel is not None and should_cancel():
            raise ExperimentCancelled(CANCELLED.format(done=k, total=len(spans)))
        span_label = f"{windows.labels[s - L]} … {windows.labels[s - 1]}"
        fit_rows = _sample(np.concatenate(rows_of[s - L : s]), params.max_fit_rows, params.seed, s)
        elapsed = time.perf_counter() - started
        eta = f" — about {_duration(elapsed / k * (len(spans) - k))} left" if k else ""
        progress(
            k / len(spans),
            f"Fit {k + 1} of {len(spans)}: training on {span_label} ({len(fit_rows):,} rows){eta}",
        )
        targets = list(range(s, last[s] + 1)) if s in last else [s]
        targets = [w for w in targets if w in eval_rows]
        y_fit = y_all[fit_rows]
        if len(fit_rows) == 0 or (task != "regression" and pd.Series(y_fit).nunique() < 2):
            notes.append(
                f"Span {span_label}: {'no labelled rows' if len(fit_rows) == 0 else 'a single class'}; no model fitted."
            )
            fits.append(
                {"span_end": s, "span": span_label, "rows": len(fit_rows), "seconds": 0.0, "fitted": False}
            )
            continue
        t0 = time.perf_counter()
        est = clone(model)
        try:
            est.fit(X_all.iloc[fit_rows], y_fit)
        except Exception as exc:  # noqa: BLE001 - the user's estimator: report what it said
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(FIT_FAILED.format(span=span_label, n=len(fit_rows), reason=reason)) from None
        fit_seconds = time.perf_counter() - t0
        fits.append(
            {
                "span_end": s,
                "span": span_label,
                "rows": len(fit_rows),
                "seconds": round(fit_seconds, 3),
                "fitted": True,
            }
        )
        if not targets:
            continue
        rows = np.concatenate([eval_rows[w] for w in targets])
        group = np.concatenate([np.full(len(eval_rows[w]), i, dtype="int64") for i, w in enumerate(targets)])
        try:
            sc = _predict(est, X_all.iloc[rows], y_all[rows], task, classes, positive_index)
        except Exception as exc:  # noqa: BLE001
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"A clone fitted on {span_label} could not predict: {reason}.") from None
        if task != "regression":
            group = np.where(sc.y >= 0, group, -1)
        gm = grouped_metrics(sc, group, len(targets), metrics=measured)
        table = gm.pivot(index="group", columns="metric", values="value")
        half = (
            (gm["ci_high"] - gm["ci_low"])
            .div(2)
            .set_axis(pd.MultiIndex.from_frame(gm[["group", "metric"]]))
            .to_dict()
        )
        for i, w in enumerate(targets):
            values[(s, w)] = {m: float(table.at[i, m]) for m in measured}
            halves[(s, w)] = {m: float(half.get((i, m), math.nan)) for m in measured}
    progress(1.0, "Summarising")

    day = np.timedelta64(1, "D")
    nan_row: dict[str, float] = {}
    recs = []
    for metric in measured:
        sign = 1.0 if metric_direction(metric) else -1.0
        for c in cutoffs:
            for w in range(c, last[c] + 1):
                if w not in eval_rows:
                    continue
                stale = values.get((c, w), nan_row).get(metric, math.nan)
                fresh = values.get((w, w), nan_row).get(metric, math.nan)
                recs.append(
                    {
                        "metric": metric,
                        "cutoff": c,
                        "cutoff_start": pd.Timestamp(windows.starts[c]),
                        "cutoff_label": windows.labels[c],
                        "window": w,
                        "window_start": pd.Timestamp(windows.starts[w]),
                        "window_label": windows.labels[w],
                        "age_windows": w - c,
                        "age_days": float((windows.starts[w] - windows.starts[c]) / day),
                        "stale": stale,
                        "fresh": fresh,
                        "gap": stale - fresh,
                        "loss": sign * (fresh - stale),
                        "stale_ci_half": halves.get((c, w), nan_row).get(metric, math.nan),
                        "support": supports[w],
                        "too_few": bool(small[w]),
                    }
                )
    all_curves = _ns(pd.DataFrame(recs), _DATES)
    if windows.too_few.any():
        notes.append(
            f"{int(windows.too_few.sum())} window(s) have fewer than {windows.min_rows} rows; their values are noisy "
            "and they are skipped when estimating time to stale."
        )
    return _derive(
        params,
        all_curves,
        fits=pd.DataFrame(fits),
        window_labels=list(windows.labels),
        unit=_unit(windows),
        notes=notes,
        total_seconds=round(time.perf_counter() - started, 3),
    )


def _noise(curves: pd.DataFrame) -> float:
    if curves.empty or "stale_ci_half" not in curves.columns:
        return math.nan
    ok = curves.loc[~curves["too_few"], "stale_ci_half"].dropna()
    return float(ok.median()) if len(ok) else math.nan


def _ns(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Timestamp columns as ``datetime64[ns]`` (one resolution, so results compare and round-trip)."""
    for c in columns:
        if c in df.columns:
            df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df


def _summarise(curves: pd.DataFrame) -> pd.DataFrame:
    if curves.empty:
        return pd.DataFrame()
    ok = curves[~curves["too_few"]] if (~curves["too_few"]).any() else curves
    g = ok.groupby("age_windows")
    out = pd.DataFrame(
        {
            "age_days": g["age_days"].mean(),
            "n_cutoffs": g["stale"].count(),
            "stale_mean": g["stale"].mean(),
            "stale_std": g["stale"].std(ddof=1),
            "stale_min": g["stale"].min(),
            "stale_max": g["stale"].max(),
            "fresh_mean": g["fresh"].mean(),
            "gap_mean": g["gap"].mean(),
            "gap_std": g["gap"].std(ddof=1),
            "loss_mean": g["loss"].mean(),
            "loss_std": g["loss"].std(ddof=1),
            "loss_min": g["loss"].min(),
            "loss_max": g["loss"].max(),
        }
    )
    return out.reset_index()


def _time_to_stale(
    curves: pd.DataFrame, params: StalenessParams, higher: bool, unit: str
) -> tuple[pd.DataFrame, TimeToStale]:
    rows = []
    persist = max(int(params.persistence), 1)
    cutoffs = sorted(set(int(c) for c in params.cutoffs))
    for c in cutoffs:
        mine = curves[curves["cutoff"] == c] if not curves.empty else curves
        head = {
            "cutoff": c,
            "cutoff_start": mine["cutoff_start"].iloc[0] if len(mine) else pd.NaT,
            "cutoff_label": mine["cutoff_label"].iloc[0] if len(mine) else str(c),
        }
        cur = mine[~mine["too_few"]].sort_values("age_windows") if len(mine) else mine
        if params.criterion == "gap":
            vals = cur["loss"].to_numpy(dtype="float64")
            hit = vals >= params.threshold
        else:
            vals = cur["stale"].to_numpy(dtype="float64")
            hit = vals < params.threshold if higher else vals > params.threshold
        hit = hit & np.isfinite(vals)
        stale_at = None
        for i in range(len(hit)):
            # Stays stale for `persist` evaluated windows (or until the last one followed).
            if hit[i : i + persist].all():
                stale_at = i
                break
        followed = int(cur["age_windows"].max()) if len(cur) else 0
        if stale_at is not None:
            r = cur.iloc[stale_at]
            rows.append(
                {
                    **head,
                    "went_stale": True,
                    "stale_age_windows": float(r["age_windows"]),
                    "stale_age_days": float(r["age_days"]),
                    "stale_date": pd.Timestamp(r["window_start"]),
                    "followed_windows": followed,
                }
            )
        else:
            rows.append(
                {
                    **head,
                    "went_stale": False,
                    "stale_age_windows": math.nan,
                    "stale_age_days": math.nan,
                    "stale_date": pd.NaT,
                    "followed_windows": followed,
                }
            )
    per = pd.DataFrame(rows)
    st = per[per["went_stale"]]
    aw, ad = st["stale_age_windows"].to_numpy(dtype="float64"), st["stale_age_days"].to_numpy(dtype="float64")
    censored = per.loc[~per["went_stale"], "followed_windows"]

    def agg(a: np.ndarray, fn: Callable[[np.ndarray], Any]) -> float:
        return float(fn(a)) if a.size else math.nan

    est = TimeToStale(
        criterion=params.criterion,
        threshold=float(params.threshold),
        metric=params.metric,
        higher_is_better=higher,
        n_cutoffs=len(per),
        n_stale=len(st),
        median_windows=agg(aw, np.median),
        low_windows=agg(aw, np.min),
        high_windows=agg(aw, np.max),
        median_days=agg(ad, np.median),
        low_days=agg(ad, np.min),
        high_days=agg(ad, np.max),
        censored_at_windows=float(censored.min()) if len(censored) else math.nan,
        unit=unit,
        noise=_noise(curves),
    )
    return _ns(per, ("cutoff_start", "stale_date")), est


# ---- keeping results ----------------------------------------------------------------------------------


def experiment_key(
    params: StalenessParams,
    *,
    task: str,
    windows: TimeWindows,
    model_fingerprint: str,
    data_fingerprints: Sequence[str],
    datasets: Sequence[str],
) -> str:
    """A sha256 (hex) of everything the fits depend on: parameters (not the metric or criterion, which
    ``retarget`` changes for free), window layout, model and data files."""
    payload = {
        "params": params.fit_dict(),
        "costly_metric": params.metric if params.metric in _COSTLY.get(task, ()) else "",
        "windows": {
            "by": windows.by,
            "n": windows.n_windows,
            "min_rows": windows.min_rows,
            "starts": [str(s) for s in windows.starts[:1]] + [str(s) for s in windows.starts[-1:]],
        },
        "model": model_fingerprint,
        "data": list(data_fingerprints),
        "datasets": list(datasets),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def load_experiment(store: Any, *, workspace: str, key: str) -> StalenessResult | None:
    """The result saved under ``key`` in ``store`` (``explore.core.store.Store``), or None."""
    row = store.find_experiment(workspace, EXPERIMENT_KIND, key)
    if row is None or row.get("status") != "done":
        return None
    try:
        return StalenessResult.from_dict(row["result"])
    except (KeyError, TypeError, ValueError):
        return None  # saved by an older version: run again


def save_experiment(
    store: Any, result: StalenessResult, *, workspace: str, key: str, context: dict[str, Any]
) -> int:
    """Keep ``result`` in ``store`` under ``key``; ``context`` (datasets, window settings…) goes with the params."""
    return store.save_experiment(
        workspace=workspace,
        kind=EXPERIMENT_KIND,
        key=key,
        params={**result.params.to_dict(), **context},
        result=result.to_dict(),
        status="done",
    )


def rates_from_counts(
    task: str,
    classes: Sequence[Any],
    positive_index: int | None,
    counts: pd.DataFrame,
    index: pd.Series,
    wt: pd.DataFrame,
    min_rows: int,
) -> pd.DataFrame:
    """``PerformanceOverTime.rates`` from the engine's per-window counts (``explore.engine.grouping.window_counts``,
    one row per window start; ``index``: window start -> window, ``wt``: the windows' ``window``, ``label`` and
    ``start``): the same frame as in memory, every window of ``index`` (one without rows: support 0, no value)."""
    at = index.loc[pd.to_datetime(counts["start"]).to_numpy(dtype="datetime64[ns]")].to_numpy()
    n = len(index)

    def per_window(column: str) -> np.ndarray:
        out = np.zeros(n, dtype="float64")
        out[at] = counts[column].fillna(0).to_numpy(dtype="float64")
        return out

    if task == "regression":
        sums = {
            s: tuple(per_window(f"{s}:{q}") for q in ("count", "sum", "sum2"))
            for s in ("label", "prediction")
        }
        rates = rates_table(task, [], sums)
    else:
        classes = list(classes)
        shown = [classes[positive_index]] if task == "binary" else classes
        hits = {(s, c): per_window(f"{s}:{classes.index(c)}") for s in ("label", "prediction") for c in shown}
        rates = rates_table(task, shown, {"support": per_window("support").astype("int64"), **hits})
    rates = rates.merge(wt[["window", "label", "start"]], on="window")
    rates["too_few"] = rates["support"] < min_rows
    return rates
