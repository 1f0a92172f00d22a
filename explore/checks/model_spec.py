"""Does the model specification behave? (ML Test Score, Infra 2; the seeds' "run a single step",
"verify the loss decreases", "train without regularization … memorize the training data".)

Three checks on clones of the model (its hyper-parameters, unfitted), on small random samples of the
training dataset (so the schema — columns, types, missing values — is the real one):

1. **a fit runs**: fitting on ``n_rows`` random rows works and predicts finite values of the right shape;
2. **the training loss decreases** over the estimator's stages: ``staged_predict_proba`` /
   ``staged_predict`` (boosting), ``loss_curve_`` (neural networks), growing ``max_iter`` budgets
   (iterative solvers: logistic regression, SGD…), or growing ``n_estimators`` (bagging/forests).
   Estimators without stages (k-NN, naive Bayes, a single tree…) get "not applicable";
3. **it can memorise a tiny sample**: a clone with regularisation relaxed (``C`` large, ``alpha`` ≈ 0,
   no depth/leaf limits, no early stopping…) fits a tiny sample to near-zero training error — at most
   one row (2 %) above the floor set by identical rows with different labels; regression: R² ≥ 0.99.
   Linear models get at most as many rows as the rank of [1, preprocessed inputs], the number a linear model
   can always fit exactly (one-hot groups and all-zero columns do not count).

Loss: log loss (nats) with probabilities, else the 0/1 error; regression: mean squared error.

Signature::

    spec_checks(ws, *, model="current", train=None, n_rows=200, seed=0, progress=None) -> SpecResult
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explore.checks.baseline import training_dataset
from explore.core.progress import Progress, no_progress
from explore.core.serialise import jsonable
from explore.core.workspace import MAIN_MODEL, Workspace
from explore.errors import NO_MODEL_FILE, AnalysisError

STATUS_PASS = "pass"
STATUS_FAIL = "fail"
STATUS_NA = "not applicable"
MAX_STAGES = 200
TINY_ROWS = 50
MEMORISE_SLACK = 0.02  # one row in 50
MIN_DECREASE = 1e-3  # relative decrease of the training loss from the first to the last stage

# Parameter → value meaning "no regularisation / no early stop", applied where the final estimator has it.
RELAXED: dict[str, Any] = {
    "C": 1e6,
    "alpha": 1e-10,
    "l2_regularization": 0.0,
    "reg_lambda": 0.0,
    "reg_alpha": 0.0,
    "lambda_l2": 0.0,
    "min_samples_leaf": 1,
    "min_samples_split": 2,
    "min_weight_fraction_leaf": 0.0,
    "min_child_samples": 1,
    "min_child_weight": 0.0,
    "max_depth": None,
    "max_leaf_nodes": None,
    "ccp_alpha": 0.0,
    "min_impurity_decrease": 0.0,
    "early_stopping": False,
    "subsample": 1.0,
    "bootstrap": False,
    "max_features": None,
    "n_neighbors": 1,
    "tol": 1e-10,
}
GROW = {"max_iter": 2000, "n_estimators": 300}
GROW_BOOSTING = {"max_iter": 300, "n_estimators": 300}  # boosting: iterations are trees, 300 fit 50 rows

NO_MODEL = NO_MODEL_FILE.format(needs="Model spec checks refit copies of the model", then="")


@dataclass
class SpecCheck:
    """One check: ``status`` pass / fail / not applicable, ``text`` in words, ``numbers`` behind it."""

    name: str
    status: str
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class SpecResult:
    """``checks``: fit runs / loss decreases / memorises; ``curve``: stage, loss (training loss by stage)."""

    model: str
    estimator: str
    train: str
    checks: list[SpecCheck]
    curve: pd.DataFrame
    curve_source: str
    applicable: bool = True
    reason: str = ""

    @property
    def passed(self) -> bool | None:
        """False when any check fails; True when the fit ran and nothing failed; None if not applicable."""
        if not self.applicable:
            return None
        return not any(c.status == STATUS_FAIL for c in self.checks)

    def summary(self) -> str:
        if not self.applicable:
            return f"Not applicable: {self.reason}"
        return " ".join(f"{c.name}: {c.status} — {c.text}" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "spec",
                "passed": self.passed,
                "summary": self.summary(),
                "model": self.model,
                "estimator": self.estimator,
                "train": self.train,
                "checks": self.checks,
                "curve": self.curve,
                "curve_source": self.curve_source,
                "applicable": self.applicable,
                "reason": self.reason,
            }
        )


# ---- helpers ----------------------------------------------------------------------------------------


def _split(est: Any) -> tuple[Any | None, Any, str]:
    """(preprocessing pipeline or None, final estimator, the final step's name for set_params prefixes)."""
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        return est[:-1], est.steps[-1][1], est.steps[-1][0] + "__"
    return None, est, ""


def _training_loss(final: Any, Xt: Any, y: np.ndarray, task: str) -> float:
    from sklearn.metrics import log_loss, mean_squared_error

    if task == "regression":
        return float(mean_squared_error(y, final.predict(Xt)))
    if hasattr(final, "predict_proba"):
        return float(log_loss(y, final.predict_proba(Xt), labels=final.classes_))
    return float(np.mean(final.predict(Xt) != y))


def _stage_loss(
    stage_output: np.ndarray, y: np.ndarray, task: str, classes: np.ndarray | None, proba: bool
) -> float:
    from sklearn.metrics import log_loss, mean_squared_error

    if task == "regression":
        return float(mean_squared_error(y, stage_output))
    if proba:
        return float(log_loss(y, stage_output, labels=classes))
    return float(np.mean(stage_output != y))


def _sample(frame: pd.DataFrame, label: str, n: int, rng: np.random.Generator, task: str) -> pd.DataFrame:
    """``n`` random rows; for classification every class keeps at least 2 rows when it has them."""
    if len(frame) <= n:
        return frame
    rows = rng.choice(len(frame), n, replace=False)
    if task != "regression":
        y = frame[label].to_numpy()
        chosen = set(rows.tolist())
        for cls in pd.unique(y):
            have = [r for r in rows if y[r] == cls]
            if len(have) < 2:
                pool = np.flatnonzero(y == cls)
                extra = [
                    int(r) for r in rng.choice(pool, min(2, len(pool)), replace=False) if r not in chosen
                ]
                rows = np.r_[rows, extra]
                chosen.update(extra)
    return frame.iloc[np.sort(rows)]


def _alternating(y: np.ndarray) -> np.ndarray:
    """Positions of ``y`` with the classes taking turns (each class's first row, then each one's second, …), so
    that every prefix holds as many classes as it can. The tiny sample is a prefix (cut further for a linear
    model): the first rows of a sample of a label-sorted file, or 4 rows left after the cut, were one class,
    and the memorise check said "nothing to memorise"."""
    codes = pd.factorize(pd.Series(y))[0]
    turn = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    return np.lexsort((codes, turn))


@contextmanager
def _quiet() -> Iterator[None]:
    """Fitting on tiny samples with few iterations warns by design (convergence, empty classes), and is
    fastest on one thread (OpenMP start-up per boosting iteration dominates on a few hundred rows)."""
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        yield


def _is_linear(final: Any) -> bool:
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel

    return isinstance(final, LinearModel | LinearClassifierMixin) or type(final).__name__ in (
        "LinearSVC",
        "LinearSVR",
    )


def _curve_by_budget(
    est: Any, prefix: str, param: str, configured: int, X: pd.DataFrame, y: np.ndarray, task: str
) -> pd.DataFrame:
    from sklearn.base import clone

    budgets = sorted({int(b) for b in np.unique(np.geomspace(1, max(configured, 1), num=12).round())})
    rows = []
    for b in budgets:
        e = clone(est).set_params(**{prefix + param: b})
        e.fit(X, y)
        pre, final, _ = _split(e)
        Xt = pre.transform(X) if pre is not None else X
        rows.append({"stage": b, "loss": _training_loss(final, Xt, y, task)})
    return pd.DataFrame(rows)


def _loss_curve(est: Any, X: pd.DataFrame, y: np.ndarray, task: str) -> tuple[pd.DataFrame | None, str]:
    """Training loss by stage and where it came from; (None, reason) when the estimator has no stages."""
    from sklearn.base import clone

    _, final_unfitted, prefix = _split(est)
    params = final_unfitted.get_params(deep=False)
    fitted = clone(est).fit(X, y)
    pre, final, _ = _split(fitted)
    Xt = pre.transform(X) if pre is not None else X
    classes = getattr(final, "classes_", None)
    if hasattr(final, "staged_predict_proba") and task != "regression":
        outputs = list(final.staged_predict_proba(Xt))
        source, proba = "staged_predict_proba", True
    elif hasattr(final, "staged_predict"):
        outputs = list(final.staged_predict(Xt))
        source, proba = "staged_predict", False
    else:
        outputs = None
    if outputs is not None:
        idx = np.unique(np.linspace(0, len(outputs) - 1, min(MAX_STAGES, len(outputs))).astype(int))
        curve = pd.DataFrame(
            {"stage": idx + 1, "loss": [_stage_loss(outputs[i], y, task, classes, proba) for i in idx]}
        )
        return curve, source
    if getattr(final, "loss_curve_", None) is not None:
        losses = np.asarray(final.loss_curve_, dtype="float64")
        return pd.DataFrame(
            {"stage": np.arange(1, len(losses) + 1), "loss": losses}
        ), "loss_curve_ (the estimator's own training loss)"
    if "max_iter" in params and isinstance(params["max_iter"], int | np.integer):
        return _curve_by_budget(
            est, prefix, "max_iter", min(int(params["max_iter"]), 256), X, y, task
        ), "refits with growing max_iter"
    if "n_estimators" in params and "warm_start" in params:
        return _curve_by_budget(
            est, prefix, "n_estimators", min(int(params["n_estimators"]), 128), X, y, task
        ), "refits with growing n_estimators"
    return None, (
        f"{type(final).__name__} exposes no training stages (no staged_predict, loss_curve_, max_iter or "
        "n_estimators with warm_start), so there is no loss curve to check"
    )


def relaxed_clone(est: Any) -> tuple[Any, dict[str, Any]]:
    """A clone of ``est`` whose final estimator has its regularisation relaxed; returns (clone, changes)."""
    from sklearn.base import clone

    e = clone(est)
    _, final, prefix = _split(e)
    params = final.get_params(deep=False)
    changes: dict[str, Any] = {}
    # Boosting has a numeric learning_rate (MLP and SGD name a schedule there, as text).
    boosting = isinstance(params.get("learning_rate"), int | float) and not isinstance(
        params.get("learning_rate"), bool
    )
    for name, value in RELAXED.items():
        if name in params and params[name] != value:
            if name == "max_features" and type(final).__name__.startswith("HistGradient"):
                continue  # HGB's max_features is a fraction in (0, 1]
            if name == "alpha" and boosting:
                continue  # gradient boosting's alpha is a quantile of the Huber/quantile loss, not a penalty
            changes[name] = value
    for name, value in (GROW_BOOSTING if boosting else GROW).items():
        if name in params and isinstance(params[name], int | np.integer) and params[name] < value:
            changes[name] = value
    if (
        "n_iter_no_change" in params
        and params["n_iter_no_change"] is not None
        and "early_stopping" not in params
    ):
        changes["n_iter_no_change"] = None
    e.set_params(**{prefix + k: v for k, v in changes.items()})
    return e, changes


def _floor_error(X: pd.DataFrame, y: np.ndarray) -> float:
    """The smallest training error any model can reach: rows with identical features but different labels."""
    keys = pd.util.hash_pandas_object(X, index=False).to_numpy()
    frame = pd.DataFrame({"k": keys, "y": pd.Series(y).astype(str).to_numpy()})
    top = frame.groupby(["k", "y"]).size().groupby(level=0).max().sum()
    return float(1 - top / len(frame))


# ---- the checks -------------------------------------------------------------------------------------


def spec_checks(
    ws: Workspace,
    *,
    model: str = MAIN_MODEL,
    train: str | None = None,
    n_rows: int = 200,
    seed: int = 0,
    progress: Progress | None = None,
) -> SpecResult:
    """Fit-runs, loss-decreases and memorise checks on clones of ``model`` (see the module docstring).

    ``n_rows`` random rows of ``train`` for the first two checks; a tiny subset of them for the third.
    Returns a ``SpecResult``.
    """
    from sklearn.base import clone

    report = progress or no_progress
    if not ws.models:
        raise AnalysisError(NO_MODEL)
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 20:
        raise AnalysisError(f"The sample for spec checks needs at least 20 rows; received n_rows={n_rows!r}.")
    est = ws.model(model)
    train = training_dataset(ws, train)
    _, final0, _ = _split(est)
    name = (
        type(final0).__name__
        if not hasattr(est, "steps")
        else "Pipeline(" + " → ".join(type(s).__name__ for _, s in est.steps) + ")"
    )
    try:
        clone(est)
    except Exception as exc:  # noqa: BLE001 - clone runs the estimator's own get_params/__init__: not refittable
        return SpecResult(
            model,
            name,
            train,
            [],
            pd.DataFrame(columns=["stage", "loss"]),
            "",
            applicable=False,
            reason=f"'{model}' ({type(est).__name__}) cannot be cloned for refitting ({exc}).",
        )
    label = ws.columns.label
    frame = ws.dataset(train)
    frame = frame[frame[label].notna()]
    rng = np.random.default_rng(seed)
    sample = _sample(frame, label, n_rows, rng, ws.task)
    X = sample[ws.feature_names]
    y = sample[label].to_numpy()
    if ws.task == "regression":
        y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype="float64")
    checks: list[SpecCheck] = []

    # 1. a fit runs
    report(0.0, f"Fitting a copy on {len(X)} random rows of '{train}'…")
    started = time.perf_counter()
    try:
        with _quiet():
            fitted = clone(est).fit(X, y)
            out = np.asarray(fitted.predict(X))
    except Exception as exc:  # noqa: BLE001 - any failure of the user's estimator is the finding
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        checks.append(
            SpecCheck(
                "a fit runs",
                STATUS_FAIL,
                f"Fitting a copy on {len(X)} random rows of '{train}' fails: {reason}",
                {"rows": len(X)},
            )
        )
        return SpecResult(model, name, train, checks, pd.DataFrame(columns=["stage", "loss"]), "")
    seconds = time.perf_counter() - started
    ok_shape = out.shape[0] == len(X)
    finite = bool(np.isfinite(out.astype("float64")).all()) if ws.task == "regression" else True
    if ok_shape and finite:
        checks.append(
            SpecCheck(
                "a fit runs",
                STATUS_PASS,
                f"Fitting on {len(X)} random rows took {seconds:.2f} s and predicts {len(out)} finite values.",
                {"rows": len(X), "seconds": round(seconds, 4)},
            )
        )
    else:
        checks.append(
            SpecCheck(
                "a fit runs",
                STATUS_FAIL,
                f"The fit ran but its predictions are wrong: {out.shape[0]} outputs for {len(X)} rows, finite: {finite}.",
                {"rows": len(X), "outputs": int(out.shape[0])},
            )
        )

    # 2. the training loss decreases
    report(0.3, "Following the training loss over the estimator's stages…")
    try:
        with _quiet():
            curve, source = _loss_curve(est, X, y, ws.task)
    except Exception as exc:  # noqa: BLE001 - the user's estimator's stage API may fail in any way: reported
        curve, source = (
            None,
            f"following the stages failed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
        )
    if curve is None or len(curve) < 2:
        text = source if curve is None else "only one stage: nothing to compare"
        checks.append(SpecCheck("loss decreases", STATUS_NA, text[0].upper() + text[1:] + "."))
        curve = pd.DataFrame(columns=["stage", "loss"])
    else:
        first, last = float(curve["loss"].iloc[0]), float(curve["loss"].iloc[-1])
        steps = np.diff(curve["loss"].to_numpy())
        rises = int((steps > 1e-12 * max(abs(first), 1)).sum())
        decreased = last < first * (1 - MIN_DECREASE) if first > 0 else last < first
        numbers = {
            "first": first,
            "last": last,
            "stages": int(curve["stage"].iloc[-1]),
            "rises": rises,
            "source": source,
        }
        if decreased:
            text = f"Training loss falls from {first:.4g} to {last:.4g} over {numbers['stages']} stages ({source})"
            text += "." if rises == 0 else f"; it rises at {rises} of {len(steps)} steps."
            checks.append(SpecCheck("loss decreases", STATUS_PASS, text, numbers))
        else:
            checks.append(
                SpecCheck(
                    "loss decreases",
                    STATUS_FAIL,
                    f"Training loss does not fall: {first:.4g} at the first stage, {last:.4g} at the last ({source}).",
                    numbers,
                )
            )

    # 3. memorise a tiny sample with regularisation relaxed
    report(0.6, "Fitting a copy with regularisation relaxed on a tiny sample…")
    relaxed, changes = relaxed_clone(est)
    first = _alternating(y)[:TINY_ROWS] if ws.task != "regression" else np.arange(min(len(y), TINY_ROWS))
    tiny, ytiny = X.iloc[first], y[first]
    pre, final, _ = _split(relaxed)
    linear = _is_linear(final)
    try:
        with _quiet():
            _memorise(relaxed, pre, linear, tiny, ytiny, ws.task, changes, checks)
    except Exception as exc:  # noqa: BLE001 - the relaxed settings may be invalid for an unusual estimator
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        checks.append(
            SpecCheck(
                "memorises a tiny sample",
                STATUS_NA,
                f"The relaxed copy could not be fitted ({reason}).",
                {"relaxed": changes},
            )
        )
    report(1.0, "Spec checks done.")
    return SpecResult(model, name, train, checks, curve, source if len(curve) else "")


def _design_rank(Xt: Any) -> int:
    """Rank of [1, Xt]: the number of rows a linear model can always fit exactly on these inputs."""
    import scipy.sparse as sp

    A = Xt.toarray() if sp.issparse(Xt) else np.asarray(Xt, dtype="float64")
    A = np.nan_to_num(A.reshape(len(A), -1))
    return int(np.linalg.matrix_rank(np.column_stack([np.ones(len(A)), A])))


def _memorise(
    relaxed: Any,
    pre: Any,
    linear: bool,
    tiny: pd.DataFrame,
    ytiny: np.ndarray,
    task: str,
    changes: dict[str, Any],
    checks: list[SpecCheck],
) -> None:
    """Fit the relaxed clone on the tiny sample and append the verdict to ``checks``."""
    from sklearn.base import clone

    if linear:
        # A linear model fits exactly as many rows as its design (intercept + preprocessed inputs) has
        # independent columns: one-hot groups sum to the intercept, and a missing indicator or a category absent
        # from the tiny sample is a column of zeros, so the column count overstates it.
        n = len(tiny)
        for _ in range(8):
            Xt = clone(pre).fit_transform(tiny.iloc[:n], ytiny[:n]) if pre is not None else tiny.iloc[:n]
            rank = _design_rank(Xt)
            if n <= rank:
                break
            n = max(min(rank, n - 1), 4)
        tiny, ytiny = tiny.iloc[:n], ytiny[:n]
    if task != "regression" and pd.Series(ytiny).nunique() < 2:
        checks.append(
            SpecCheck(
                "memorises a tiny sample",
                STATUS_NA,
                "The tiny sample has a single class; nothing to memorise.",
            )
        )
    else:
        relaxed.fit(tiny, ytiny)
        pred = relaxed.predict(tiny)
        if task == "regression":
            var = float(np.var(ytiny))
            mse = float(np.mean((np.asarray(pred, dtype="float64") - ytiny) ** 2))
            r2 = 1 - mse / var if var > 0 else float("nan")
            numbers = {"rows": len(tiny), "mse": mse, "r2": r2, "relaxed": changes}
            ok = var > 0 and r2 >= 0.99
            text = f"On {len(tiny)} rows the relaxed copy reaches training R² {r2:.4f} (MSE {mse:.4g})"
        else:
            err = float(np.mean(np.asarray(pred) != ytiny))
            floor = _floor_error(tiny, ytiny)
            numbers = {"rows": len(tiny), "error": err, "floor": floor, "relaxed": changes}
            ok = err <= floor + MEMORISE_SLACK
            text = f"On {len(tiny)} rows the relaxed copy reaches training error {err:.1%}"
            if floor > 0:
                text += f" (floor {floor:.1%}: identical rows with different labels)"
        relaxed_text = ", ".join(f"{k}={v}" for k, v in changes.items()) or "nothing to relax"
        if linear:
            text += f"; a linear model gets at most the rank of [intercept, preprocessed inputs] in rows ({len(tiny)})"
        text += f". Relaxed: {relaxed_text}."
        if ok:
            status = STATUS_PASS
        elif not changes:
            status = STATUS_NA
            final = relaxed.steps[-1][1] if hasattr(relaxed, "steps") else relaxed
            text += (
                f" {type(final).__name__} has no regularisation or capacity parameter to relax, so it is not expected "
                "to memorise."
            )
        else:
            status = STATUS_FAIL
            text += " It cannot memorise: the model may be too constrained, or its inputs lose information."
        checks.append(SpecCheck("memorises a tiny sample", status, text, numbers))
