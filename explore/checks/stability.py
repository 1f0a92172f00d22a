"""Numerical stability, serving cost and banned features (ML Test Score Monitor 5, Data 3 / Monitor 6, Data 4).

* **Numerical stability**: NaN and ±inf in every dataset's model inputs and in the model's outputs
  (predictions, probabilities outside [0, 1] or not summing to 1), plus *probes* — a row with every
  feature missing, each numeric feature at ±1e9, each text feature at a never-seen value — that show
  whether the model keeps giving finite outputs on inputs it never saw.
* **Serving cost**: prediction latency per row (single-row calls) and per batch, rows per second and
  peak memory (``tracemalloc``: Python and numpy allocations), for the candidate and the previous
  model measured in the same run, interleaved so both see the same machine load.
* **Banned features**: the model's input features (and, for pipelines, the derived feature names,
  e.g. one-hot columns) checked against ``[checks] banned_features`` (sensitive attributes...).

Signatures::

    numerical_stability(ws, *, model="current", datasets=None, probes=True, progress=None) -> StabilityResult
    serving_cost(ws, *, models=None, dataset=None, batch_sizes=(1, 100, 10_000), repeats=5, n_single=30,
                 max_ratio=2.0, progress=None) -> CostResult
    banned_features(ws, *, banned=None) -> BannedResult
"""

from __future__ import annotations

import re
import time
import tracemalloc
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explore.core.progress import Progress, no_progress
from explore.core.roles import evaluation_datasets
from explore.core.serialise import jsonable
from explore.core.workspace import MAIN_MODEL, Workspace, predict_frame
from explore.errors import NO_MODEL_FILE, AnalysisError

NO_COST_MODEL = NO_MODEL_FILE.format(needs="Serving cost times the model itself", then="")
PROBE_VALUE = 1e9
UNSEEN = "__never_seen__"

# ---- numerical stability ----------------------------------------------------------------------------

INPUT_COLUMNS = ["dataset", "column", "rows", "nan", "inf", "nan_rate"]
OUTPUT_COLUMNS = [
    "dataset",
    "rows",
    "nan_outputs",
    "inf_outputs",
    "proba_outside_0_1",
    "proba_not_summing_to_1",
    "status",
]
PROBE_COLUMNS = ["probe", "status", "detail"]


@dataclass
class StabilityResult:
    """``inputs``: NaN/inf counts per dataset × numeric feature (only columns with any); ``outputs``: per
    dataset, non-finite outputs and invalid probabilities; ``probes``: edge-case rows and what the model did."""

    model: str
    inputs: pd.DataFrame
    outputs: pd.DataFrame
    probes: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every dataset's outputs are finite valid predictions and no input is infinite."""
        return bool((self.outputs["status"] == "pass").all() and (self.inputs["inf"] == 0).all())

    def summary(self) -> str:
        bad = self.outputs[self.outputs["status"] != "pass"]
        parts = []
        if bad.empty:
            parts.append(
                f"Model '{self.model}' gives finite, valid outputs on every row of {len(self.outputs)} dataset(s)."
            )
        else:
            parts.append(
                f"Model '{self.model}' gives non-finite or invalid outputs on {', '.join(bad['dataset'])}."
            )
        inf = self.inputs[self.inputs["inf"] > 0]
        if len(inf):
            parts.append(
                f"Infinite input values in {', '.join(sorted(set(inf['dataset'] + '.' + inf['column'])))}."
            )
        nan = self.inputs[self.inputs["nan"] > 0]
        if len(nan):
            parts.append(
                f"{nan['column'].nunique()} feature(s) have missing values (the model handles them: see outputs)."
            )
        failed = self.probes[self.probes["status"] != "finite"] if len(self.probes) else self.probes
        if len(self.probes):
            parts.append(
                f"Probes: {len(self.probes) - len(failed)} of {len(self.probes)} edge-case rows give finite outputs"
                + (f"; not: {', '.join(failed['probe'].head(5))}." if len(failed) else ".")
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "stability",
                "passed": self.passed,
                "summary": self.summary(),
                "model": self.model,
                "inputs": self.inputs,
                "outputs": self.outputs,
                "probes": self.probes,
                "notes": self.notes,
            }
        )


# A model's own probabilities sum to 1 within float error; logged ones are often rounded (see _sum_tolerance).
SUM_TOLERANCE = 1e-6


def _sum_tolerance(proba: np.ndarray) -> float:
    """How far rows of logged probabilities may be from summing to 1 because of rounding.

    Probabilities logged with d decimals each err by up to 0.5·10^-d, so k of them by k·0.5·10^-d
    (0.33333 × 3 = 0.99999). Unrounded values keep ``SUM_TOLERANCE``.
    """
    v = proba[np.isfinite(proba)]
    for d in range(0, 7):
        if v.size and np.allclose(v, np.round(v, d), rtol=0, atol=1e-12):
            return max(SUM_TOLERANCE, proba.shape[1] * 0.5 * 10.0**-d + 1e-12)
    return SUM_TOLERANCE


def _output_check(
    pred: np.ndarray, proba: np.ndarray | None, task: str, sum_tol: float = SUM_TOLERANCE
) -> dict[str, int]:
    out = {"nan_outputs": 0, "inf_outputs": 0, "proba_outside_0_1": 0, "proba_not_summing_to_1": 0}
    if task == "regression":
        p = np.asarray(pred, dtype="float64")
        out["nan_outputs"] = int(np.isnan(p).sum())
        out["inf_outputs"] = int(np.isinf(p).sum())
    if proba is not None:
        out["nan_outputs"] += int(np.isnan(proba).any(axis=1).sum())
        out["inf_outputs"] += int(np.isinf(proba).any(axis=1).sum())
        with np.errstate(invalid="ignore"):
            out["proba_outside_0_1"] = int(((proba < -1e-9) | (proba > 1 + 1e-9)).any(axis=1).sum())
            out["proba_not_summing_to_1"] = int((np.abs(proba.sum(axis=1) - 1) > sum_tol).sum())
    return out


def _probes(ws: Workspace, est: Any, model: str, dataset: str) -> pd.DataFrame:
    base = ws.dataset(dataset)[ws.feature_names].iloc[[0]]
    rows, names = [], []
    blank = base.copy()
    for c in blank.columns:
        blank[c] = np.nan if pd.api.types.is_numeric_dtype(blank[c].dtype) else None
    rows.append(blank)
    names.append("every feature missing")
    numeric = [
        c
        for c in ws.feature_names
        if pd.api.types.is_numeric_dtype(base[c].dtype) and not pd.api.types.is_bool_dtype(base[c].dtype)
    ]
    for c in numeric:
        for sign in (1, -1):
            r = base.copy()
            r[c] = r[c].astype("float64")
            r.loc[:, c] = sign * PROBE_VALUE
            rows.append(r)
            names.append(f"{c} = {'+' if sign > 0 else '−'}1e9")
    for c in [c for c in ws.feature_names if c not in numeric]:
        r = base.copy()
        r[c] = r[c].astype(object)
        r.loc[:, c] = UNSEEN
        rows.append(r)
        names.append(f"{c} = unseen value")

    def run(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return predict_frame(est, frame, model_name=model, dataset="probe")

    # One call for every probe; row by row only when that call fails (to tell which probes the model refuses).
    outputs: list[tuple[np.ndarray, np.ndarray | None] | str] = []
    try:
        pred_all, proba_all = run(pd.concat(rows, ignore_index=True))
        outputs = [
            (pred_all[i : i + 1], None if proba_all is None else proba_all[i : i + 1])
            for i in range(len(rows))
        ]
    except Exception:  # noqa: BLE001 - the user's model refuses some probe in its own way: find which
        for row in rows:
            try:
                outputs.append(run(row))
            except Exception as exc:  # noqa: BLE001 - a model refusing an input is the finding
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                outputs.append(msg[:300])
    out = []
    for name, result in zip(names, outputs, strict=True):
        if isinstance(result, str):
            out.append({"probe": name, "status": "error", "detail": result})
            continue
        pred, proba = result
        bad = _output_check(pred, proba, ws.task)
        finite = bad["nan_outputs"] == 0 and bad["inf_outputs"] == 0 and bad["proba_outside_0_1"] == 0
        detail = ", ".join(f"{k.replace('_', ' ')}" for k, v in bad.items() if v) or "ok"
        if finite:
            shown = proba[0].max() if proba is not None else np.asarray(pred)[0]
            detail = f"output {shown:.4g}" if isinstance(shown, float | np.floating) else f"output {shown}"
        out.append({"probe": name, "status": "finite" if finite else "non-finite", "detail": detail})
    return pd.DataFrame(out, columns=PROBE_COLUMNS)


def numerical_stability(
    ws: Workspace,
    *,
    model: str = MAIN_MODEL,
    datasets: Sequence[str] | None = None,
    probes: bool = True,
    progress: Progress | None = None,
) -> StabilityResult:
    """NaN/inf in inputs and outputs on every dataset (all rows, labelled or not), plus edge-case probes.

    In predictions-only workspaces the logged prediction/score columns are the outputs. Returns a
    ``StabilityResult``.
    """
    report = progress or no_progress
    datasets = list(datasets or ws.dataset_names)
    est = ws.model(model) if ws.models else None
    in_rows, out_rows = [], []
    notes = []
    for i, d in enumerate(datasets):
        if d not in ws.dataset_names:
            raise AnalysisError(
                f"There is no dataset named {d!r}. Datasets in this workspace: {', '.join(ws.dataset_names)}."
            )
        report(i / (len(datasets) + 1), f"Checking inputs and outputs on '{d}'…")
        frame = ws.dataset(d)
        X = frame[[c for c in ws.feature_names if c in frame.columns]]
        for c in X.columns:
            s = X[c]
            if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
                v = s.to_numpy(dtype="float64", na_value=np.nan)
                nan, inf = int(np.isnan(v).sum()), int(np.isinf(v).sum())
            else:
                nan, inf = int(s.isna().sum()), 0
            if nan or inf:
                in_rows.append(
                    {
                        "dataset": d,
                        "column": c,
                        "rows": len(s),
                        "nan": nan,
                        "inf": inf,
                        "nan_rate": nan / len(s),
                    }
                )
        sum_tol = SUM_TOLERANCE
        raw_score = None  # a logged score that is not a probability: only its finiteness is checked
        if est is not None:
            pred, proba = predict_frame(est, X, model_name=model, dataset=d)
        else:
            cols = ws.columns
            pred = frame[cols.prediction].to_numpy() if cols.prediction else np.zeros(len(frame))
            proba = None
            if cols.score:
                s = frame[cols.score].to_numpy(dtype="float64")
                finite = s[np.isfinite(s)]
                if finite.size and (finite.min() < 0 or finite.max() > 1):
                    # Like the workspace, a score outside [0, 1] is a logit or a margin, not a probability.
                    raw_score = s
                    notes.append(
                        f"'{d}': the score column '{cols.score}' is not a probability in [0, 1]; only NaN/inf are checked."
                    )
                else:
                    proba = np.column_stack([1 - s, s])
            elif cols.scores:
                proba = np.column_stack([frame[c].to_numpy(dtype="float64") for c in cols.scores.values()])
                sum_tol = _sum_tolerance(proba)
        bad = _output_check(pred, proba, ws.task, sum_tol)
        if raw_score is not None:
            bad["nan_outputs"] += int(np.isnan(raw_score).sum())
            bad["inf_outputs"] += int(np.isinf(raw_score).sum())
        ok = all(v == 0 for v in bad.values())
        out_rows.append({"dataset": d, "rows": len(frame), **bad, "status": "pass" if ok else "fail"})
    probe_table = pd.DataFrame(columns=PROBE_COLUMNS)
    if probes and est is not None:
        report(len(datasets) / (len(datasets) + 1), "Running edge-case probes…")
        probe_table = _probes(ws, est, model, datasets[0])
    elif est is None:
        notes.append(
            "Predictions-only workspace: the logged prediction columns were checked; probes need a model."
        )
    report(1.0, "Stability check done.")
    return StabilityResult(
        model=model if est is not None else "predictions",
        inputs=pd.DataFrame(in_rows, columns=INPUT_COLUMNS),
        outputs=pd.DataFrame(out_rows, columns=OUTPUT_COLUMNS),
        probes=probe_table,
        notes=notes,
    )


# ---- serving cost -----------------------------------------------------------------------------------------

COST_COLUMNS = [
    "model",
    "batch_size",
    "seconds_per_batch",
    "ms_per_row",
    "rows_per_second",
    "peak_memory_mb",
    "calls",
]


@dataclass
class CostResult:
    """Latency and memory per model and batch size (``table``: ``COST_COLUMNS``; medians over the calls);
    ``ratios``: candidate ÷ other model per batch size (> 1: the candidate is slower)."""

    candidate: str
    dataset: str
    table: pd.DataFrame
    ratios: pd.DataFrame
    max_ratio: float
    method: str = "predict_proba when available, else predict"
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """None with a single model; else False when the candidate is over ``max_ratio`` times slower per row
        at the largest batch, or uses over ``max_ratio`` times the memory."""
        if self.ratios.empty:
            return None
        largest = self.ratios[self.ratios["batch_size"] == self.ratios["batch_size"].max()]
        too_slow = (largest["latency_ratio"] > self.max_ratio).any()
        too_big = (largest["memory_ratio"] > self.max_ratio).any()
        return not bool(too_slow or too_big)

    def summary(self) -> str:
        parts = []
        for m, g in self.table.groupby("model", sort=False):
            single = g[g["batch_size"] == g["batch_size"].min()].iloc[0]
            big = g[g["batch_size"] == g["batch_size"].max()].iloc[0]
            parts.append(
                f"'{m}': {single['ms_per_row']:.3g} ms for one row, {big['rows_per_second']:,.0f} rows/s in batches of "
                f"{int(big['batch_size']):,} (peak {big['peak_memory_mb']:.3g} MB)."
            )
        for r in (
            self.ratios[self.ratios["batch_size"] == self.ratios["batch_size"].max()].to_dict(
                orient="records"
            )
            if len(self.ratios)
            else []
        ):
            parts.append(
                f"The candidate takes {r['latency_ratio']:.2f}× the time and {r['memory_ratio']:.2f}× the memory of '{r['other']}'."
            )
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "cost",
                "passed": self.passed,
                "summary": self.summary(),
                "candidate": self.candidate,
                "dataset": self.dataset,
                "table": self.table,
                "ratios": self.ratios,
                "max_ratio": self.max_ratio,
                "method": self.method,
                "notes": self.notes,
            }
        )


def _call(est: Any, X: pd.DataFrame) -> None:
    Xin = X if hasattr(est, "feature_names_in_") else X.to_numpy()
    if hasattr(est, "predict_proba"):
        est.predict_proba(Xin)
    else:
        est.predict(Xin)


def serving_cost(
    ws: Workspace,
    *,
    models: Sequence[str] | None = None,
    dataset: str | None = None,
    batch_sizes: Sequence[int] = (1, 100, 10_000),
    repeats: int = 5,
    n_single: int = 30,
    max_ratio: float = 2.0,
    progress: Progress | None = None,
) -> CostResult:
    """Measure prediction latency and peak memory for ``models`` (default: current and previous) on rows of
    ``dataset``, interleaving the models. Times in seconds (per batch) and milliseconds (per row); memory in MB."""
    report = progress or no_progress
    if not ws.models:
        raise AnalysisError(NO_COST_MODEL)
    if models is None:
        models = [MAIN_MODEL] + [m for m in ("previous",) if m in ws.models]
    models = list(dict.fromkeys(models))
    for m in models:
        ws.model(m)
    dataset = dataset or evaluation_datasets(ws)[0]
    if dataset not in ws.dataset_names:
        raise AnalysisError(
            f"There is no dataset named {dataset!r}. Datasets in this workspace: {', '.join(ws.dataset_names)}."
        )
    X_all = ws.dataset(dataset)[ws.feature_names]
    sizes = sorted({int(b) for b in batch_sizes if int(b) >= 1})
    notes = []
    if sizes and sizes[-1] > len(X_all):
        notes.append(f"'{dataset}' has {len(X_all):,} rows: the largest batch is {len(X_all):,} rows.")
        sizes = sorted({min(b, len(X_all)) for b in sizes})
    rng = np.random.default_rng(0)
    rows = rng.choice(len(X_all), size=min(len(X_all), max(sizes)), replace=False)
    X = X_all.iloc[np.sort(rows)].reset_index(drop=True)
    timings: dict[tuple[str, int], list[float]] = {(m, b): [] for m in models for b in sizes}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in models:  # warm-up: first calls pay for lazy imports and caches
            _call(ws.model(m), X.iloc[:1])
        total = len(sizes) * max(repeats, 1)
        done = 0
        for b in sizes:
            calls = n_single if b == 1 else max(repeats, 1)
            for r in range(calls):
                order = models if r % 2 == 0 else models[::-1]
                for m in order:
                    start = (r * b) % max(len(X) - b + 1, 1)
                    part = X.iloc[start : start + b]
                    t0 = time.perf_counter()
                    _call(ws.model(m), part)
                    timings[(m, b)].append(time.perf_counter() - t0)
            done += max(repeats, 1)
            report(0.8 * done / total, f"Timing batches of {b:,} rows…")
        peaks: dict[str, float] = {}
        for m in models:
            report(0.85, f"Measuring peak memory of '{m}'…")
            tracemalloc.start()
            try:
                _call(ws.model(m), X)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            peaks[m] = peak / 1e6
    table = []
    for m in models:
        for b in sizes:
            med = float(np.median(timings[(m, b)]))
            table.append(
                {
                    "model": m,
                    "batch_size": b,
                    "seconds_per_batch": med,
                    "ms_per_row": 1000 * med / b,
                    "rows_per_second": b / med if med > 0 else np.inf,
                    "peak_memory_mb": peaks[m] if b == sizes[-1] else np.nan,
                    "calls": len(timings[(m, b)]),
                }
            )
    table_df = pd.DataFrame(table, columns=COST_COLUMNS)
    ratios = []
    cand = models[0]
    for other in models[1:]:
        for b in sizes:
            a = table_df[(table_df["model"] == cand) & (table_df["batch_size"] == b)].iloc[0]
            o = table_df[(table_df["model"] == other) & (table_df["batch_size"] == b)].iloc[0]
            ratios.append(
                {
                    "other": other,
                    "batch_size": b,
                    "latency_ratio": a["seconds_per_batch"] / o["seconds_per_batch"],
                    "memory_ratio": peaks[cand] / peaks[other] if peaks[other] > 0 else np.nan,
                }
            )
    report(1.0, "Cost measured.")
    return CostResult(
        candidate=cand,
        dataset=dataset,
        table=table_df,
        ratios=pd.DataFrame(ratios, columns=["other", "batch_size", "latency_ratio", "memory_ratio"]),
        max_ratio=max_ratio,
        notes=notes,
    )


# ---- banned features ------------------------------------------------------------------------------------------

BANNED_COLUMNS = ["banned", "model", "feature", "how"]


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-.]+", "_", str(text).strip().lower())


@dataclass
class BannedResult:
    """Banned features found among the models' inputs (``found``: ``BANNED_COLUMNS``; ``how``: input feature /
    derived feature)."""

    banned: list[str]
    checked: dict[str, list[str]]
    found: pd.DataFrame

    @property
    def passed(self) -> bool | None:
        if not self.banned:
            return None
        return bool(self.found.empty)

    def summary(self) -> str:
        if not self.banned:
            return (
                "No banned features are configured: list the features the model must not use in workspace.toml, e.g. "
                '[checks] banned_features = ["gender", "ethnicity"].'
            )
        if self.found.empty:
            n = sum(len(v) for v in self.checked.values())
            return f"None of the {len(self.banned)} banned features ({', '.join(self.banned)}) is among the {n} model inputs checked."
        hits = ", ".join(sorted(set(self.found["feature"])))
        return f"Banned features are used: {hits} (banned: {', '.join(sorted(set(self.found['banned'])))})."

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "banned_features",
                "passed": self.passed,
                "summary": self.summary(),
                "banned": self.banned,
                "checked": self.checked,
                "found": self.found,
            }
        )


def banned_features(ws: Workspace, *, banned: Sequence[str] | None = None) -> BannedResult:
    """Check each model's input features (and a pipeline's derived feature names) against the banned list
    (default ``[checks] banned_features``). Names match ignoring case, spaces, dots, hyphens and underscores;
    a derived name matches when it contains the banned name as a whole ``_``-separated part."""
    banned = [
        str(b) for b in (ws.config.checks.banned_features if banned is None else banned) if str(b).strip()
    ]
    checked: dict[str, list[str]] = {}
    found = []
    sources: dict[str, tuple[list[str], list[str]]] = {}
    if ws.models:
        for name, est in ws.models.items():
            inputs = [str(c) for c in getattr(est, "feature_names_in_", ws.feature_names)]
            derived: list[str] = []
            try:
                from sklearn.pipeline import Pipeline

                if isinstance(est, Pipeline) and len(est.steps) > 1:
                    derived = [str(c) for c in est[:-1].get_feature_names_out()]
            except Exception:  # noqa: BLE001 - any transformer may lack feature names (or fail on them): inputs only
                derived = []
            sources[name] = (inputs, derived)
    else:
        sources["predictions"] = (list(ws.feature_names), [])
    for name, (inputs, derived) in sources.items():
        checked[name] = inputs + [d for d in derived if d not in inputs]
        for b in banned:
            nb = _norm(b)
            for f in inputs:
                if _norm(f) == nb:
                    found.append({"banned": b, "model": name, "feature": f, "how": "input feature"})
            for f in derived:
                nf = _norm(f)
                if (
                    nf != nb
                    and re.search(rf"(^|_){re.escape(nb)}(_|$)", nf)
                    and not any(_norm(i) == nb for i in inputs)
                ):
                    found.append({"banned": b, "model": name, "feature": f, "how": "derived feature"})
    return BannedResult(banned=banned, checked=checked, found=pd.DataFrame(found, columns=BANNED_COLUMNS))
