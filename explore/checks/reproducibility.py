"""Is training reproducible? (ML Test Score, Infra 1: "train two models on the same data".)

The model is cloned (its hyper-parameters, unfitted) and refitted on the same training rows:

1. **as configured**, twice — exactly what a rerun of the training would do. Any difference here
   means training is not reproducible; the estimator parameters that control randomness and are unset
   (``random_state=None``) are named, and for a Pipeline the first step whose outputs differ is found;
2. **with every random_state fixed** to one seed, twice (only when some are unset) — shows whether
   fixing the seeds is enough;
3. **with another seed** — the natural seed-to-seed variation, for scale.

Each pair of refits is compared on the evaluation dataset's rows: row-by-row agreement of predicted
classes (or values), the largest probability (or value) difference, the aggregate metrics and the
largest per-slice metric difference.

Signature::

    reproducibility(ws, *, model="current", train=None, dataset=None, slices=None,
                    max_train_rows=20_000, max_eval_rows=20_000, seed=0, progress=None) -> ReproResult
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explore.checks.baseline import scored_with, training_dataset
from explore.core.progress import Progress, no_progress
from explore.core.roles import evaluation_datasets
from explore.core.serialise import jsonable
from explore.core.workspace import MAIN_MODEL, Scored, Workspace, score
from explore.errors import NO_MODEL_FILE, AnalysisError
from explore.slices.definition import SliceDefinition
from explore.slices.grouping import groupings_for
from explore.stats.metrics import available_metrics, grouped_metrics, metric_direction, overall_metrics

RANDOM_PARAM_NAMES = ("random_state", "seed", "random_seed")
IDENTICAL_ATOL = 1e-12

NO_MODEL = NO_MODEL_FILE.format(needs="Reproducibility needs the model itself (to refit a copy)", then="")
NOT_CLONEABLE = (
    "The model '{model}' ({kind}) cannot be cloned and refitted with scikit-learn ({reason}). Reproducibility can only be "
    "checked for scikit-learn-compatible estimators."
)
REFIT_FAILED = (
    "Refitting a copy of model '{model}' on '{train}' failed: {reason}. The training dataset must have the columns and "
    "types the model was trained on."
)


def random_params(estimator: Any) -> dict[str, Any]:
    """Every parameter (deep, ``step__param`` names) that seeds randomness, with its current value."""
    try:
        params = estimator.get_params(deep=True)
    except (AttributeError, TypeError):  # not a scikit-learn estimator (no get_params, or another signature)
        return {}
    return {k: v for k, v in params.items() if k.split("__")[-1] in RANDOM_PARAM_NAMES}


def _seeded(estimator: Any, names: Sequence[str], seed: int) -> Any:
    from sklearn.base import clone

    est = clone(estimator)
    if names:
        est.set_params(**dict.fromkeys(names, seed))
    return est


@dataclass
class Fit:
    """One refit: its label, the random_state values used, its predictions on the evaluation rows."""

    label: str
    seeds: dict[str, Any]
    scored: Scored
    model: Any
    seconds: float


@dataclass
class PairComparison:
    """Two refits compared on the same evaluation rows."""

    name: str
    first: str
    second: str
    identical: bool
    agreement: float  # share of rows with the same predicted class (regression: same value within 1e-9)
    n_changed: int
    max_abs_diff: float  # probabilities (classification) or predicted values (regression)
    metrics: pd.DataFrame  # metric, first, second, difference
    max_slice_diff: float  # largest |difference| of the headline metric over slice groups
    max_slice: str
    first_differing_step: str | None


@dataclass
class ReproResult:
    """``pairs``: the comparisons (as configured / seeds fixed / different seeds); ``unset``: random
    parameters left as None; ``random``: every random parameter and its value."""

    model: str
    train: str
    dataset: str
    train_rows: int
    eval_rows: int
    random: dict[str, Any]
    unset: list[str]
    pairs: list[PairComparison]
    fit_seconds: dict[str, float]
    applicable: bool = True
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    def pair(self, name: str) -> PairComparison | None:
        return next((p for p in self.pairs if p.name == name), None)

    @property
    def passed(self) -> bool | None:
        """True when two refits as configured are identical; False when they differ; None if not applicable."""
        if not self.applicable:
            return None
        p = self.pair("as configured")
        return None if p is None else p.identical

    def summary(self) -> str:
        if not self.applicable:
            return f"Not applicable: {self.reason}"
        p = self.pair("as configured")
        parts = []
        if p.identical:
            parts.append(
                f"Two refits of '{self.model}' as configured give identical predictions on {self.eval_rows:,} rows of '{self.dataset}'."
            )
        else:
            parts.append(
                f"Training is not reproducible: two refits of '{self.model}' as configured disagree on {p.n_changed:,} of "
                f"{self.eval_rows:,} rows ({1 - p.agreement:.2%}); largest difference {p.max_abs_diff:.3g}."
            )
            if p.first_differing_step:
                parts.append(f"The first pipeline step whose outputs differ is {p.first_differing_step}.")
        if self.unset:
            parts.append("Unset random_state parameters: " + ", ".join(self.unset) + ".")
            fixed = self.pair("seeds fixed")
            if fixed is not None:
                if not fixed.identical:
                    parts.append(
                        "Even with them fixed the refits differ: look for other sources of randomness (threads, data order)."
                    )
                elif p.identical:
                    parts.append(
                        "The fit does not use them here; fixing them anyway keeps it reproducible if that changes."
                    )
                else:
                    parts.append("Fixing them makes training reproducible.")
        elif not self.random:
            parts.append("The model exposes no random_state parameter.")
        other = self.pair("different seeds")
        if other is not None and other.identical:
            parts.append(
                "Another seed gives identical predictions too: this model's fit does not depend on its seed."
            )
        elif other is not None:
            parts.append(
                f"With another seed, {other.n_changed:,} of {self.eval_rows:,} predictions change "
                f"({1 - other.agreement:.3%}; largest probability or value difference {other.max_abs_diff:.3g}): "
                "the natural seed-to-seed variation."
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "reproducibility",
                "passed": self.passed,
                "summary": self.summary(),
                "model": self.model,
                "train": self.train,
                "dataset": self.dataset,
                "train_rows": self.train_rows,
                "eval_rows": self.eval_rows,
                "random": {
                    k: repr(v) if not isinstance(v, int | type(None)) else v for k, v in self.random.items()
                },
                "unset": self.unset,
                "pairs": self.pairs,
                "fit_seconds": self.fit_seconds,
                "applicable": self.applicable,
                "reason": self.reason,
                "notes": self.notes,
            }
        )


def _outputs(scored: Scored) -> np.ndarray:
    return scored.proba if scored.proba is not None else np.asarray(scored.pred, dtype="float64")


def _transform(step: Any, X: Any) -> np.ndarray:
    out = step.transform(X)
    if hasattr(out, "toarray"):
        out = out.toarray()
    if isinstance(out, pd.DataFrame):
        out = out.to_numpy()
    return np.asarray(out)


def first_differing_step(a: Any, b: Any, X: pd.DataFrame) -> str | None:
    """For two fitted Pipelines of the same structure: the first step whose outputs on ``X`` differ
    (``'name' (Type)``); the final estimator when every transform agrees; None when nothing differs."""
    from sklearn.pipeline import Pipeline

    if not (isinstance(a, Pipeline) and isinstance(b, Pipeline)) or len(a.steps) != len(b.steps):
        return None
    for i, (name, step) in enumerate(a.steps[:-1]):
        if step in (None, "passthrough"):
            continue
        try:
            xa, xb = _transform(a[: i + 1], X), _transform(b[: i + 1], X)
        except Exception:  # noqa: BLE001 - the user's transformers may fail in any way: no step is named then
            return None
        if xa.shape != xb.shape or not _same(xa, xb):
            return f"'{name}' ({type(step).__name__})"
    name, step = a.steps[-1]
    return f"'{name}' ({type(step).__name__})"


def _same(x: np.ndarray, y: np.ndarray) -> bool:
    if x.dtype.kind in "fc" or y.dtype.kind in "fc":
        try:
            return bool(
                np.allclose(
                    x.astype("float64"), y.astype("float64"), rtol=0, atol=IDENTICAL_ATOL, equal_nan=True
                )
            )
        except (TypeError, ValueError):
            pass
    return bool(np.array_equal(x, y))


def _compare(name: str, f1: Fit, f2: Fit, groupings: list, X_probe: pd.DataFrame) -> PairComparison:
    a, b = f1.scored, f2.scored
    oa, ob = _outputs(a), _outputs(b)
    with np.errstate(invalid="ignore"):
        diff = np.abs(oa - ob)
    max_diff = float(np.nanmax(diff)) if diff.size else 0.0
    if a.task == "regression":
        same_row = np.abs(a.pred - b.pred) <= 1e-9 * np.maximum(1.0, np.abs(a.pred))
    else:
        same_row = a.pred == b.pred
    identical = bool(max_diff <= IDENTICAL_ATOL and same_row.all())
    names = available_metrics(a)
    names = [n for n in names if "[" not in n and metric_direction(n) is not None]
    ma, mb = overall_metrics(a, metrics=names), overall_metrics(b, metrics=names)
    table = pd.DataFrame({"metric": names, "first": ma["value"].to_numpy(), "second": mb["value"].to_numpy()})
    table["difference"] = table["second"] - table["first"]
    headline = names[0] if names else None
    worst, where = 0.0, ""
    if headline:
        for g in groupings[1:]:
            G = len(g.labels)
            va = grouped_metrics(a, g.codes, G, metrics=[headline])["value"].to_numpy()
            vb = grouped_metrics(b, g.codes, G, metrics=[headline])["value"].to_numpy()
            d = np.abs(va - vb)
            if np.isfinite(d).any() and np.nanmax(d) > worst:
                worst, where = float(np.nanmax(d)), f"{g.keys[int(np.nanargmax(d))]} ({headline})"
    step = None if identical else first_differing_step(f1.model, f2.model, X_probe)
    return PairComparison(
        name=name,
        first=f1.label,
        second=f2.label,
        identical=identical,
        agreement=float(same_row.mean()) if len(same_row) else 1.0,
        n_changed=int((~same_row).sum()),
        max_abs_diff=max_diff,
        metrics=table,
        max_slice_diff=worst,
        max_slice=where,
        first_differing_step=step,
    )


def reproducibility(
    ws: Workspace,
    *,
    model: str = MAIN_MODEL,
    train: str | None = None,
    dataset: str | None = None,
    slices: Sequence[str | SliceDefinition] | None = None,
    max_train_rows: int = 20_000,
    max_eval_rows: int = 20_000,
    seed: int = 0,
    progress: Progress | None = None,
) -> ReproResult:
    """Refit clones of ``model`` on ``train`` (as configured ×2, seeds fixed ×2 when some are unset, another
    seed ×1) and compare them on ``dataset``. At most ``max_train_rows`` / ``max_eval_rows`` random rows
    are used (the same rows for every refit). Returns a ``ReproResult``."""
    from sklearn.base import clone

    report = progress or no_progress
    if not ws.models:
        raise AnalysisError(NO_MODEL)
    est = ws.model(model)
    train = training_dataset(ws, train)
    if dataset is None:
        others = [d for d in evaluation_datasets(ws) if d != train]
        dataset = others[0] if others else train
    elif dataset not in ws.dataset_names:
        raise AnalysisError(
            f"There is no dataset named {dataset!r}. Datasets in this workspace: {', '.join(ws.dataset_names)}."
        )
    slices = list(ws.config.checks.slices) if slices is None else list(slices)
    try:
        clone(est)
    except Exception as exc:  # noqa: BLE001 - clone runs the estimator's own get_params/__init__: not refittable
        reason = NOT_CLONEABLE.format(
            model=model,
            kind=type(est).__name__,
            reason=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return ReproResult(model, train, dataset, 0, 0, {}, [], [], {}, applicable=False, reason=reason)

    rand = random_params(est)
    unset = [k for k, v in rand.items() if v is None]
    notes = [
        f"{k} is a RandomState object: reproducible only if your training code re-creates it each run."
        for k, v in rand.items()
        if isinstance(v, np.random.RandomState)
    ]

    frame = ws.dataset(train)
    frame = frame[frame[ws.columns.label].notna()]
    if len(frame) > max_train_rows:
        frame = frame.sample(n=max_train_rows, random_state=seed).sort_index()
        notes.append(f"Refits use {max_train_rows:,} random rows of '{train}' (the same rows every time).")
    X = frame[ws.feature_names]
    y = frame[ws.columns.label].to_numpy()
    if ws.task == "regression":
        y = pd.to_numeric(pd.Series(y), errors="coerce").to_numpy(dtype="float64")

    base = score(ws, dataset, model)
    if base.n > max_eval_rows:
        keep = np.sort(np.random.default_rng(seed).choice(base.n, max_eval_rows, replace=False))
        base = base.take(keep, f"refit-rows:{seed}:{max_eval_rows}")
        notes.append(f"Refits are compared on {max_eval_rows:,} random rows of '{dataset}'.")
    groupings = groupings_for(base, slices)
    X_probe = base.X.iloc[: min(base.n, 2000)]

    plan: list[tuple[str, Any]] = [("as configured #1", clone(est)), ("as configured #2", clone(est))]
    if unset:
        plan += [
            (f"seed {seed} #1", _seeded(est, list(rand), seed)),
            (f"seed {seed} #2", _seeded(est, list(rand), seed)),
        ]
    if rand:
        plan.append((f"seed {seed + 1}", _seeded(est, list(rand), seed + 1)))
    fits: dict[str, Fit] = {}
    for i, (label, candidate) in enumerate(plan):
        report(i / (len(plan) + 1), f"Refit {i + 1} of {len(plan)} ({label}) on {len(X):,} rows…")
        started = time.perf_counter()
        with warnings.catch_warnings():
            # Refits repeat the user's own training: its warnings (convergence...) are not ours to raise.
            warnings.simplefilter("ignore")
            try:
                candidate.fit(X, y)
                fitted = scored_with(base, candidate, base.X, label)
            except Exception as exc:  # noqa: BLE001 - the user's estimator may raise anything while fitting
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise AnalysisError(REFIT_FAILED.format(model=model, train=train, reason=reason)) from None
        seconds = time.perf_counter() - started
        seeds = {k: candidate.get_params(deep=True).get(k) for k in rand}
        fits[label] = Fit(label, seeds, fitted, candidate, seconds)

    report(len(plan) / (len(plan) + 1), "Comparing the refits…")
    pairs = [
        _compare("as configured", fits["as configured #1"], fits["as configured #2"], groupings, X_probe)
    ]
    if unset:
        pairs.append(
            _compare("seeds fixed", fits[f"seed {seed} #1"], fits[f"seed {seed} #2"], groupings, X_probe)
        )
    if rand:
        ref = fits[f"seed {seed} #1"] if unset else fits["as configured #1"]
        pairs.append(_compare("different seeds", ref, fits[f"seed {seed + 1}"], groupings, X_probe))
    report(1.0, "Reproducibility check done.")
    return ReproResult(
        model=model,
        train=train,
        dataset=dataset,
        train_rows=len(X),
        eval_rows=base.n,
        random=rand,
        unset=unset,
        pairs=pairs,
        fit_seconds={k: round(f.seconds, 3) for k, f in fits.items()},
        notes=notes,
    )
