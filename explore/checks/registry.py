"""`explore check`: the automatable checks, headless, for CI — the evidence of *automation* in the rubric.

    explore check workspace.toml [--review NAME] [--thresholds FILE] [--out DIR] [--junit FILE] [--checks a,b]

Runs every registered check that applies to the workspace, prints one line per check, writes
``check-report.json`` and ``check-report.md`` into the folder ``--out`` names (none without it: a run leaves no
files in the folder it was started from), with ``--junit FILE`` the results as JUnit XML, and — when a
store is configured (``EXPLORE_DB_URL``, or ``--db URL``) — records the run (``Store.add_check_run``) and
each check's result as an evidence snapshot (``source="check"``) for the rubric tests it covers.

Exit codes: 0 every check that ran passed; 1 a check failed (a threshold was broken: the model should
not ship); 2 could not run (bad workspace or options, a check named with ``--checks`` could not run,
a check errored, or the run could not be recorded in the configured store). When a check failed *and*
something else could not run, the exit code is 1: the failure is the definite signal.

The checks are a registry: name -> rubric test ids -> a callable taking a :class:`CheckContext` and
returning an :class:`Outcome` (or raising :class:`SkipCheck` with the reason it does not apply). A check
whose module is not installed is reported "skipped (reason)", never a crash; adding a check is one
``register(...)`` call. This module never imports streamlit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import platform
import re
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from explore.core import roles, settings
from explore.core.serialise import jsonable
from explore.errors import NO_MODEL_FILE, AnalysisError, ExploreError, SkipCheck
from explore.report.markdown import fenced, markdown_table, md_escape
from explore.rubric.ml_test_score import CHECK_REPORT_FORMAT, SCALE, TESTS, TESTS_BY_ID

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_COULD_NOT_RUN = 2
REPORT_JSON = "check-report.json"
REPORT_MD = "check-report.md"
REPORT_FORMAT_VERSION = 1
DETAIL_ROWS = 200  # rows of a table kept in a check's details
DEFAULT_ESTIMATE_MAX_DROP = 0.05  # estimated_drop: the largest allowed drop of the estimated metric

# ---- messages ---------------------------------------------------------------------------------------

UNKNOWN_CHECK = "Unknown check {received!r} in {option}. Checks: {known}; rubric test ids (e.g. model-6) select the checks covering them."
NO_CHECK_SELECTED = "The options {options} select no check. Checks: {known}."
THRESHOLDS_MISSING = (
    "The thresholds file '{path}' does not exist. Pass an existing file with --thresholds, or set "
    "[checks] thresholds in workspace.toml (paths there are relative to workspace.toml)."
)
DATASET_UNKNOWN = (
    "--{option} names the dataset {received!r}, which this workspace does not have. Its datasets: {known}."
)
MODULE_MISSING = "{module} is not available in this installation"
REQUESTED_SKIPPED = "The check '{name}' was asked for with --checks but could not run: {reason}."
NO_MODEL = NO_MODEL_FILE.format(needs="This check runs the model", then="")
SKEW_OUT_OF_CORE = (
    "not available out of core: {datasets} stays in the engine (the workspace holds a sample of it), and a row-by-row "
    "join of samples would miss most ids. Export the rows logged at both ends to a file read into memory "
    '(engine = "pandas") and pass them with --skew TRAINING,SERVING'
)
STORE_RECORD_FAILED = "The run could not be recorded in the store ({reason}); the reports were still written."


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: passed or not, one sentence, and JSON-able details."""

    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {"passed": self.passed, "summary": self.message, "details": self.details, "params": self.params}
        )


@dataclass(frozen=True)
class CheckResult:
    """One check's result in a run. ``status``: "passed" | "failed" | "skipped" | "error"."""

    name: str
    tests: tuple[str, ...]
    kind: str
    title: str
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    snapshot_id: int | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def summary(self) -> str:
        return self.message

    @property
    def ran(self) -> bool:
        return self.status in ("passed", "failed")

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "name": self.name,
                "tests": list(self.tests),
                "kind": self.kind,
                "title": self.title,
                "status": self.status,
                "passed": self.passed,
                "summary": self.message,
                "details": self.details,
                "params": self.params,
                "seconds": round(self.seconds, 3),
                "snapshot_id": self.snapshot_id,
            }
        )


@dataclass
class CheckContext:
    """What a check gets: the open workspace, the datasets to use, the options, and a scoring cache."""

    ws: Any  # explore.core.workspace.Workspace
    eval_dataset: str
    train_dataset: str | None
    serving_dataset: str | None
    thresholds: Path | None
    options: dict[str, Any] = field(default_factory=dict)
    _scored: dict[tuple[str, str | None], Any] = field(default_factory=dict)

    def scored(self, dataset: str | None = None, model: str | None = "current") -> Any:
        """``explore.core.workspace.score`` of a dataset by a model, computed once per run."""
        from explore.core.workspace import score

        dataset = dataset or self.eval_dataset
        if not self.ws.models:
            model = None
        key = (dataset, model)
        if key not in self._scored:
            self._scored[key] = score(self.ws, dataset, model)
        return self._scored[key]

    def log(self, dataset: str | None = None) -> AbstractContextManager[Any]:
        """``with ctx.log() as log:`` — the dataset's engine log when it is out of core (the check then runs on
        every row, not the sample ``scored`` holds), else None; the log's connection is closed when the block
        ends, however it ends."""
        dataset = dataset or self.eval_dataset
        return self.ws.log(dataset) if self.ws.is_out_of_core(dataset) else nullcontext(None)

    def require_model(self) -> None:
        if not self.ws.models:
            raise SkipCheck(NO_MODEL)

    def previous_model(self) -> str:
        """The name of the model to compare the current one with; SkipCheck when there is none."""
        others = [m for m in self.ws.model_names if m != "current"]
        if "current" not in self.ws.models or not others:
            raise SkipCheck("needs a second model version ([models.previous] in workspace.toml)")
        return "previous" if "previous" in others else others[0]


@dataclass(frozen=True)
class Check:
    name: str
    tests: tuple[str, ...]
    kind: str  # snapshot kind, as the app's pages attach it
    title: str
    run: Callable[[CheckContext], Outcome]
    cheap: bool = True  # seconds on the sample; expensive ones (refits) are False
    # What the check reads of an out-of-core dataset (one that stays in the engine, docs/scale.md):
    # "engine" every row, by engine queries; "sample" the engine-drawn sample the workspace holds (the result then
    # says so, ``sample_note``); "none" no rows of a dataset (the model file, the workspace's settings).
    rows: str = "sample"


CHECKS: dict[str, Check] = {}


def register(
    name: str, tests: Sequence[str], *, kind: str, title: str, cheap: bool = True, rows: str = "sample"
) -> Callable:
    """Decorator adding a check to the registry (the one line that adds a check). ``rows``: what it reads of an
    out-of-core dataset — "engine" (every row), "sample" (the engine-drawn sample; stated in its result) or
    "none"."""
    for t in tests:
        if t not in TESTS_BY_ID:
            raise ValueError(f"check {name!r}: unknown rubric test {t!r}")
    if rows not in ("engine", "sample", "none"):
        raise ValueError(f"check {name!r}: rows must be 'engine', 'sample' or 'none'; received {rows!r}")

    def deco(fn: Callable[[CheckContext], Outcome]) -> Callable[[CheckContext], Outcome]:
        CHECKS[name] = Check(name, tuple(tests), kind, title, fn, cheap, rows)
        return fn

    return deco


def tests_covered(names: Sequence[str] | None = None) -> set[str]:
    """Rubric test ids the registered checks (or the named ones) cover."""
    return {t for c in CHECKS.values() if names is None or c.name in names for t in c.tests}


def _module(name: str) -> Any:
    """Import ``name``; SkipCheck when the module is not in this installation."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == name or name.startswith(exc.name + ".")):
            raise SkipCheck(MODULE_MISSING.format(module=name)) from None
        raise


# =====================================================================================================
# The checks. Each adapts one analysis module's public API; see the module for the numbers' meaning.
# =====================================================================================================


def _scorer(ctx: CheckContext) -> Callable[[str, str | None], Any]:
    return lambda dataset, model: ctx.scored(dataset, model)


@register(
    "compare",
    ["infra-4", "monitor-7", "model-6"],
    kind="comparison",
    title="Candidate vs previous model, per slice, against thresholds",
)
def check_compare(ctx: CheckContext) -> Outcome:
    """explore.checks.compare.compare_models with the threshold file (slice thresholds and gaps included)."""
    compare = _module("explore.checks.compare")
    ctx.require_model()
    thresholds = compare.load_thresholds(ctx.thresholds) if ctx.thresholds else compare.thresholds_for(ctx.ws)
    if not (thresholds.previous or thresholds.reference):
        ctx.previous_model()  # SkipCheck when the workspace has a single model
    result = compare.compare_models(ctx.ws, thresholds=thresholds, scorer=_scorer(ctx))
    details = result.to_dict()
    details.pop("differing", None)
    details["failures"] = jsonable(result.failures.head(50), max_rows=DETAIL_ROWS)
    return Outcome(
        passed=result.passed is not False,
        message=result.summary(),
        details=details,
        params={
            "thresholds": thresholds.source,
            "models": result.models,
            "datasets": result.datasets,
            "slices": result.slices,
        },
    )


def _train(ctx: CheckContext) -> str:
    if ctx.train_dataset is None:
        raise SkipCheck("no training dataset (none is named like 'train'; pass --train NAME)")
    return ctx.train_dataset


@register("baseline", ["model-5"], kind="baseline", title="A simpler model is not better", cheap=False)
def check_baseline(ctx: CheckContext) -> Outcome:
    """explore.checks.baseline.simple_baseline: logistic/linear and dummy baselines, paired, on every eval dataset."""
    baseline = _module("explore.checks.baseline")
    train = _train(ctx)
    labels = ctx.ws.dataset(train)[ctx.ws.columns.label].dropna()
    if len(labels) < baseline.MIN_TRAIN_ROWS or (ctx.ws.task != "regression" and labels.nunique() < 2):
        # A property of the workspace, not a failure to run: the check cannot apply (like a missing dataset).
        raise SkipCheck(
            f"the training dataset '{train}' has {len(labels):,} labelled rows and {labels.nunique()} distinct label(s); "
            f"a baseline needs at least {baseline.MIN_TRAIN_ROWS} rows"
            + (" and two classes" if ctx.ws.task != "regression" else "")
            + " (pass --train NAME for a larger one)"
        )
    result = baseline.simple_baseline(ctx.ws, train=train, scorer=_scorer(ctx))
    passed = result.passed
    summary = result.summary() or "No baseline could be compared."
    if passed is None:
        summary = "Inconclusive: " + summary
    details = result.to_dict()
    if passed is False:
        details["failures"] = jsonable(result.verdicts, max_rows=DETAIL_ROWS)
    return Outcome(passed is not False, summary, details, {"train": train, "datasets": result.datasets})


@register("repro", ["infra-1"], kind="reproducibility", title="Training is reproducible", cheap=False)
def check_repro(ctx: CheckContext) -> Outcome:
    """explore.checks.reproducibility.reproducibility: refit the model twice as configured and compare row by row."""
    repro = _module("explore.checks.reproducibility")
    ctx.require_model()
    train = _train(ctx)
    dataset = ctx.eval_dataset if ctx.eval_dataset != train else None
    result = repro.reproducibility(ctx.ws, train=train, dataset=dataset)
    if result.passed is None:
        raise SkipCheck(result.summary())
    details = result.to_dict()
    if result.passed is False:
        details["failures"] = {"unset_random_parameters": result.unset, "summary": result.summary()}
    return Outcome(
        bool(result.passed), result.summary(), details, {"train": train, "dataset": result.dataset}
    )


@register(
    "weak_slices",
    ["model-6"],
    kind="weak_slices",
    title="Weak-slice discovery (FDR-controlled)",
    rows="engine",
)
def check_weak_slices(ctx: CheckContext) -> Outcome:
    """explore.slices.report.weak_slices on the evaluation dataset; fails only with --fail-on-weak-slices."""
    slices = _module("explore.slices.report")
    sc = ctx.scored(ctx.eval_dataset)
    fdr = float(ctx.options.get("fdr", 0.05))
    with ctx.log() as log:
        if log is not None:  # out of core: every row, by the engine
            from explore.engine.discovery import weak_slices as engine_weak_slices

            min_support = max(50, int(0.001 * log.n))
            try:
                result = engine_weak_slices(
                    log, columns=list(sc.feature_names), fdr=fdr, min_support=min_support
                )
            except AnalysisError as exc:
                raise SkipCheck(f"'{ctx.eval_dataset}' (every row, engine): {exc}") from None
            engine_rows: int | None = log.n
        else:
            # The CLI has no option for the minimum support: a dataset too small for the default cannot apply.
            min_support = max(50, int(0.001 * sc.n))
            n_finite = int(np.isfinite(slices.loss_values(sc, "loss")[0]).sum())
            if n_finite < 2 * min_support:
                raise SkipCheck(
                    f"'{ctx.eval_dataset}' has {n_finite:,} scored rows; discovery needs at least {2 * min_support:,} "
                    f"(twice the minimum support of {min_support:,} rows) to compare a slice with the rest. "
                    "Run discovery on the Slices page with a lower minimum support, or evaluate on a larger dataset (--dataset)."
                )
            result = slices.weak_slices(sc, fdr=fdr, min_support=min_support)
            engine_rows = None
    found = result.slices
    n = len(found)
    top = "; ".join(
        f"{row['slice']} ({int(row['support']):,} rows, loss {row['loss']:.3g} vs {row['rest_loss']:.3g})"
        for row in found.head(3).to_dict(orient="records")
    )
    summary = (
        f"{n} significantly weak slice(s) among {result.n_tested:,} tested at FDR {fdr:g} on '{ctx.eval_dataset}'"
        + (f": {top}." if n else ".")
    )
    fail = bool(ctx.options.get("fail_on_weak_slices")) and n > 0
    details = result.to_dict()
    if engine_rows is not None:
        details["every_row_by_engine"] = {ctx.eval_dataset: engine_rows}
    if fail:
        details["failures"] = jsonable(found.head(20), max_rows=DETAIL_ROWS)
    return Outcome(
        not fail,
        summary,
        details,
        {"dataset": ctx.eval_dataset, "fdr": fdr, "min_support": result.min_support},
    )


DEFAULT_FAIRNESS_MAX_GAP = 0.1  # a gap between two groups' rates (classifiers)
FAIRNESS_GAP_UNITS = (
    "a regressor's fairness gaps (mean prediction, MAE) are in the units of its label '{label}' (standard deviation "
    "{std:.3g}), so no default limit fits: name the largest allowed gap with --fairness-max-gap, e.g. "
    "--fairness-max-gap {std:.3g}"
)


@register("fairness", ["model-7"], kind="fairness_gaps", title="Fairness gaps between groups", rows="engine")
def check_fairness(ctx: CheckContext) -> Outcome:
    """explore.slices.report.fairness_gaps per --fairness column; fails when a gap is significantly above the limit."""
    slices = _module("explore.slices.report")
    columns = ctx.options.get("fairness") or []
    if not columns:
        raise SkipCheck("name a sensitive column with --fairness COLUMN")
    given = ctx.options.get("fairness_max_gap")
    if given is not None and (isinstance(given, bool) or not isinstance(given, int | float | np.number)):
        # (the notebook's run_checks passes it as given: the command line's argparse has made it a float)
        raise ExploreError(
            BAD_OPTION.format(
                option="fairness_max_gap",
                accepted="a number: the largest allowed gap (between rates, from 0 to 1; a regressor's, in its "
                "label's units)",
                received=repr(given),
                fix=f"Pass e.g. fairness_max_gap={DEFAULT_FAIRNESS_MAX_GAP}.",
            )
        )
    if given is None and ctx.ws.task == "regression":
        # A regressor's gaps are in the label's units (mean prediction, MAE): no default fits every label.
        label = ctx.ws.dataset(ctx.eval_dataset)[ctx.ws.columns.label]
        raise SkipCheck(FAIRNESS_GAP_UNITS.format(label=ctx.ws.columns.label, std=float(label.std())))
    limit = float(DEFAULT_FAIRNESS_MAX_GAP if given is None else given)
    if ctx.ws.task != "regression" and limit > 1:
        raise ExploreError(
            BAD_OPTION.format(
                option="--fairness-max-gap",
                accepted=f"a gap between two groups' rates, from 0 to 1, on this {ctx.ws.task} workspace",
                received=limit,
                fix=f"Pass e.g. --fairness-max-gap {DEFAULT_FAIRNESS_MAX_GAP}.",
            )
        )
    sc = ctx.scored(ctx.eval_dataset)
    per_column: dict[str, Any] = {}
    failures: list[dict[str, Any]] = []
    parts: list[str] = []
    measured = 0
    params = slices.FairnessParams(threshold=limit)
    with ctx.log() as log:
        if log is not None:  # out of core: every row, by the engine
            from explore.engine.grouping import fairness_gaps as engine_fairness_gaps

            results = {column: engine_fairness_gaps(log, column, params) for column in columns}
        else:
            results = {column: slices.fairness_gaps(sc, column, params) for column in columns}
    for column in columns:
        result = results[column]
        per_column[column] = result.to_dict()
        gaps = result.gaps.dropna(subset=["gap"])
        failures.extend(
            {"column": column, **r}
            for r in jsonable(gaps[gaps["significant"]].to_dict(orient="records"), max_rows=DETAIL_ROWS)
        )
        if len(gaps):
            measured += 1
            worst = gaps.sort_values("gap", ascending=False).iloc[0]
            parts.append(
                f"{column}: largest gap {worst['gap']:.3g} in {worst['measure']} ({worst['high_group']} vs {worst['low_group']})"
            )
        else:
            parts.append(
                f"{column}: no gap measured (fewer than two groups with at least {result.min_support} rows)"
            )
    if not measured:
        # Nothing was compared: a pass here would be evidence of a test that did not happen.
        raise SkipCheck(
            f"no fairness gap could be measured on '{ctx.eval_dataset}' "
            f"({ctx.ws.samples[ctx.eval_dataset].total if log is not None else sc.n:,} rows): "
            + "; ".join(parts)
            + ". Evaluate on a larger dataset (--dataset) or choose a column with fewer, larger groups."
        )
    head = (
        f"{len(failures)} gap(s) significantly above {limit:g}"
        if failures
        else f"No gap significantly above {limit:g}"
    )
    summary = head + (" — " + "; ".join(parts) if parts else "") + f" on '{ctx.eval_dataset}'."
    details: dict[str, Any] = {"columns": per_column}
    if log is not None:
        details["every_row_by_engine"] = {ctx.eval_dataset: ctx.ws.samples[ctx.eval_dataset].total}
    if failures:
        details["failures"] = failures
    return Outcome(
        not failures, summary, details, {"dataset": ctx.eval_dataset, "columns": columns, "max_gap": limit}
    )


@register(
    "spec",
    ["infra-2"],
    kind="spec",
    title="Model spec checks (fit runs, loss decreases, can overfit)",
    cheap=False,
)
def check_spec(ctx: CheckContext) -> Outcome:
    """explore.checks.model_spec.spec_checks on small samples of the training dataset."""
    specchecks = _module("explore.checks.model_spec")
    ctx.require_model()
    train = _train(ctx)
    result = specchecks.spec_checks(ctx.ws, train=train)
    if result.passed is None:
        raise SkipCheck(result.summary())
    details = result.to_dict()
    if result.passed is False:
        details["failures"] = [
            jsonable(c, max_rows=DETAIL_ROWS) for c in result.checks if c.status == specchecks.STATUS_FAIL
        ]
    return Outcome(
        bool(result.passed), result.summary(), details, {"train": train, "estimator": result.estimator}
    )


def _suite(ctx: CheckContext, expectations: Any) -> tuple[Any, Path]:
    path = ctx.options.get("expectations") or expectations.suite_path(ctx.ws)
    path = Path(path)
    if not path.exists():
        raise SkipCheck(
            f"no expectation suite at {path} (profile a good dataset on the Checks page and save it, or pass --expectations FILE)"
        )
    return expectations.load_suite(path), path


def _validate(ctx: CheckContext, datasets: Sequence[str], *, serving: bool) -> Outcome:
    expectations = _module("explore.checks.expectations")
    suite, path = _suite(ctx, expectations)
    results = [expectations.validate(ctx.ws, dataset=d, suite=suite) for d in datasets]
    failed = [r for r in results if not r.passed]
    summary = " ".join(r.summary() for r in results)
    details: dict[str, Any] = {"suite": str(path), "datasets": {r.dataset: r.to_dict() for r in results}}
    if failed:
        details["failures"] = [
            {"dataset": r.dataset, **row}
            for r in failed
            for row in jsonable(r.violations.to_dict(orient="records"), max_rows=DETAIL_ROWS)
        ]
    what = "serving inputs" if serving else "the data"
    head = (
        f"{len(failed)} of {len(results)} dataset(s) break the suite"
        if failed
        else f"Expectations hold on {what}"
    )
    return Outcome(
        not failed, f"{head}: {summary}", details, {"suite": str(path), "datasets": list(datasets)}
    )


@register("expectations", ["data-1"], kind="expectations", title="Data meets its expectation suite")
def check_expectations(ctx: CheckContext) -> Outcome:
    """explore.checks.expectations.validate of the training and evaluation datasets against the suite file."""
    datasets = list(dict.fromkeys(d for d in (ctx.train_dataset, ctx.eval_dataset) if d))
    return _validate(ctx, datasets, serving=False)


@register(
    "serving_expectations",
    ["monitor-2"],
    kind="expectations",
    title="Serving inputs meet the expectation suite",
)
def check_serving_expectations(ctx: CheckContext) -> Outcome:
    """explore.checks.expectations.validate of the serving dataset (production data) against the suite file."""
    if ctx.serving_dataset is None:
        raise SkipCheck("no serving dataset (none is named production / serving; pass --serving NAME)")
    return _validate(ctx, [ctx.serving_dataset], serving=True)


@register(
    "invariants",
    ["monitor-2", "monitor-5"],
    kind="data_invariants",
    title="Serving data keeps the training data's invariants; no NaN/inf in inputs or outputs",
    rows="engine",
)
def check_invariants(ctx: CheckContext) -> Outcome:
    """explore.staleness.drift.data_invariants of the serving dataset against the training data, per month."""
    drift = _module("explore.staleness.drift")
    windows = _module("explore.staleness.windows")
    from explore.core.workspace import predict_frame

    if ctx.serving_dataset is None:
        raise SkipCheck("no serving dataset (none is named production / serving; pass --serving NAME)")
    reference = _train(ctx)
    if reference == ctx.serving_dataset:
        raise SkipCheck("the serving dataset is the training dataset; pass --serving NAME")
    ws = ctx.ws

    def columns(name: str) -> Any:  # an out-of-core dataset's from its probe: no sample drawn for names
        return ws.samples[name].probe.frame.columns if ws.is_out_of_core(name) else ws.dataset(name).columns

    features = [f for f in ws.feature_names if f in columns(reference) and f in columns(ctx.serving_dataset)]
    if not features:
        raise SkipCheck("the training and serving datasets share no feature column")
    if ws.is_out_of_core(reference):  # every row of the reference, profiled by the engine
        from explore.engine.drift import reference_profile as engine_profile

        with ws.log(reference) as ref_log:
            profile = engine_profile(ref_log, features=features, name=reference)
    else:
        profile = drift.reference_profile(ws.dataset(reference), features=features, name=reference)
    if ws.is_out_of_core(ctx.serving_dataset):
        table, n_windows, n_rows, thresholds = _engine_invariants(ctx, profile, features)
        return _invariants_outcome(ctx, reference, table, n_windows, n_rows, thresholds, features)
    current = ws.dataset(ctx.serving_dataset)
    time = ws.times.get(ctx.serving_dataset)
    if time is not None:
        w = windows.time_windows(time, by="month", where=f"dataset '{ctx.serving_dataset}'")
        codes, n_windows, labels = w.codes, w.n_windows, list(w.labels)
    else:
        codes, n_windows, labels = np.zeros(len(current), dtype="int64"), 1, ["all rows"]
    outputs: list[Any] = []
    if ws.models:
        sc = ctx.scored(ctx.serving_dataset)  # shared with the other checks of this run
        if sc.n_unlabeled == 0:  # every row is scored already: reuse its outputs
            pred, proba = sc.pred, sc.proba
        else:  # the outputs of every serving row, labelled or not
            pred, proba = predict_frame(
                ws.model("current"), current[ws.feature_names], dataset=ctx.serving_dataset
            )
        outputs = [proba] if proba is not None else ([pred] if ws.task == "regression" else [])
    result = drift.data_invariants(
        profile,
        current,
        codes,
        n_windows,
        outputs=outputs,
        output_codes=codes if outputs else None,
        features=features,
    )
    table = result.by_window.assign(label=labels)
    return _invariants_outcome(ctx, reference, table, n_windows, len(current), result.thresholds, features)


def _engine_invariants(ctx: CheckContext, profile: Any, features: list[str]) -> tuple[Any, int, int, Any]:
    """The invariants of every row of an out-of-core serving dataset per calendar month, counted by the engine:
    (table with ``label``, windows between the first and last month — empty ones included, as in memory —,
    rows, thresholds). Model outputs: the log's logged outputs (none in a predictions-only workspace, as in
    memory, where only a model's outputs are counted)."""
    import pandas as pd

    from explore.engine.drift import data_invariants, default_outputs
    from explore.engine.metrics import Grouping, by_time_window

    ws = ctx.ws
    with ws.log(ctx.serving_dataset) as log:
        timed = bool(ws.columns.time and ws.columns.time in log.types)
        grouping = by_time_window(log, "month") if timed else Grouping((), ())
        keys, result = data_invariants(
            profile,
            log,
            grouping,
            outputs=default_outputs(log) if ws.models else [],
            features=features,
        )
        n_rows = log.n
    table = result.by_window
    if timed:
        starts = pd.to_datetime(keys["window"]).iloc[table["window"]]
        table = table.assign(label=starts.dt.strftime("%Y-%m").to_numpy())
        months = pd.to_datetime(keys["window"])
        n_windows = len(pd.period_range(months.min(), months.max(), freq="M"))
    else:
        table, n_windows = table.assign(label="all rows"), 1
    return table, n_windows, n_rows, result.thresholds


def _invariants_outcome(
    ctx: CheckContext,
    reference: str,
    table: Any,
    n_windows: int,
    n_rows: int,
    thresholds: Any,
    features: list[str],
) -> Outcome:
    flagged = table[table["flagged"]]
    nan_out = int(table["nan_outputs"].sum() + table["inf_outputs"].sum())
    inf_in = int(table["inf_inputs"].sum())
    where = f"'{ctx.serving_dataset}' vs '{reference}'"
    if len(flagged):
        examples = "; ".join(
            f"{r['label']}: {r['breaks']}" for r in flagged.head(3).to_dict(orient="records")
        )
        summary = f"{len(flagged)} of {n_windows} window(s) of {where} break an invariant ({examples})."
    else:
        summary = f"Every window of {where} keeps the invariants ({n_windows} window(s), {n_rows:,} rows)."
    summary += f" NaN/inf in model outputs: {nan_out:,}; inf in inputs: {inf_in:,}."
    details = {
        "windows": jsonable(table, max_rows=DETAIL_ROWS),
        "thresholds": jsonable(thresholds, max_rows=DETAIL_ROWS),
        "features": features,
        "every_row_by_engine": [
            d for d in (ctx.serving_dataset, reference) if d and ctx.ws.is_out_of_core(d)
        ],
    }
    if len(flagged):
        details["failures"] = jsonable(flagged[["label", "rows", "breaks"]], max_rows=DETAIL_ROWS)
    return Outcome(flagged.empty, summary, details, {"dataset": ctx.serving_dataset, "reference": reference})


@register(
    "estimated_drop",
    ["monitor-7"],
    kind="performance_estimate",
    title="Estimated performance where labels are not in yet has not dropped",
)
def check_estimated_drop(ctx: CheckContext) -> Outcome:
    """explore.staleness.estimation.estimate_workspace: the serving rows without a label yet, per month, their
    metric estimated from the scores calibrated on the evaluation data; fails on a drop beyond the option."""
    estimation = _module("explore.staleness.estimation")
    ctx.require_model()
    ws = ctx.ws
    if ws.task == "regression":
        raise SkipCheck("performance estimation without labels is for classifiers")
    if ctx.serving_dataset is None:
        raise SkipCheck("no serving dataset (none is named production / serving; pass --serving NAME)")
    if not ws.columns.time:
        raise SkipCheck("the workspace has no time column to cut the serving rows into windows")
    if not int(ws.dataset(ctx.serving_dataset)[ws.columns.label].isna().sum()):
        raise SkipCheck(f"every row of '{ctx.serving_dataset}' has its label: the realised metrics cover it")
    metric = ctx.options.get("estimate_metric") or ("ROC AUC" if ws.task == "binary" else "accuracy")
    max_drop = float(ctx.options.get("estimate_max_drop", DEFAULT_ESTIMATE_MAX_DROP))
    datasets = list(dict.fromkeys([ctx.eval_dataset, ctx.serving_dataset]))
    est = estimation.estimate_workspace(
        ws,
        datasets,
        estimation.EstimationParams(metrics=(metric,)),
        reference_dataset=ctx.eval_dataset,
        min_rows=1,
    )
    drops = estimation.estimated_drops(est, metric)
    failing = drops[drops["drop"] > max_drop]
    ref = est.reference_values.get(metric, float("nan"))
    where = f"'{ctx.serving_dataset}' (calibrated on '{ctx.eval_dataset}', {metric} {ref:.3f} there)"
    if len(failing):
        worst = failing.loc[failing["drop"].idxmax()]
        summary = (
            f"{len(failing)} of {len(drops)} window(s) of {where} have an estimated {metric} more than {max_drop:g} "
            f"below the reference; worst {worst['label']}: {worst['value']:.3f} "
            f"(95 % interval {worst['ci_low']:.3f} to {worst['ci_high']:.3f})."
        )
    else:
        summary = f"No window of {where} has an estimated {metric} more than {max_drop:g} below the reference ({len(drops)} window(s))."
    trust = [w for w in est.warnings if w.kind != "empty window"]
    if trust:
        summary += f" {len(trust)} warning(s) on the estimate's trustworthiness: see details."
    details = {
        "windows": jsonable(drops, max_rows=DETAIL_ROWS),
        "warnings": [{"kind": w.kind, "window": w.window, "message": w.message} for w in est.warnings],
        "calibration": {"method": est.calibration.method, "ece": est.calibration.ece},
        "assumption": est.assumption,
    }
    if len(failing):
        details["failures"] = jsonable(failing, max_rows=DETAIL_ROWS)
    params = {
        "dataset": ctx.serving_dataset,
        "reference": ctx.eval_dataset,
        "metric": metric,
        "max_drop": max_drop,
    }
    return Outcome(failing.empty, summary, details, params)


@register(
    "stability",
    ["monitor-5"],
    kind="stability",
    title="Numerical stability: NaN/inf in inputs and outputs, edge-case probes",
)
def check_stability(ctx: CheckContext) -> Outcome:
    """explore.checks.stability.numerical_stability on every dataset (all rows), with probes."""
    stability = _module("explore.checks.stability")
    result = stability.numerical_stability(ctx.ws)
    details = result.to_dict()
    if not result.passed:
        details["failures"] = jsonable(
            result.outputs[result.outputs["status"] != "pass"], max_rows=DETAIL_ROWS
        )
    return Outcome(result.passed, result.summary(), details, {"datasets": list(ctx.ws.dataset_names)})


@register(
    "cost",
    ["data-3", "monitor-6"],
    kind="cost",
    title="Serving cost: latency and memory, candidate vs previous",
)
def check_cost(ctx: CheckContext) -> Outcome:
    """explore.checks.stability.serving_cost: latency per row and batch, peak memory, the models interleaved."""
    stability = _module("explore.checks.stability")
    ctx.require_model()
    ctx.scored()  # a model that cannot predict on these rows fails here with the ModelError that says why
    result = stability.serving_cost(ctx.ws, dataset=ctx.eval_dataset)
    summary = result.summary()
    if result.passed is None:
        summary = "Measured (no previous model to compare with): " + summary
    details = result.to_dict()
    if result.passed is False:
        details["failures"] = jsonable(result.ratios, max_rows=DETAIL_ROWS)
    return Outcome(
        result.passed is not False,
        summary,
        details,
        {"dataset": ctx.eval_dataset, "max_ratio": result.max_ratio},
    )


@register(
    "banned",
    ["data-4"],
    kind="banned_features",
    title="No banned feature among the model's inputs",
    rows="none",
)
def check_banned(ctx: CheckContext) -> Outcome:
    """explore.checks.stability.banned_features against [checks] banned_features."""
    stability = _module("explore.checks.stability")
    result = stability.banned_features(ctx.ws)
    if result.passed is None:
        raise SkipCheck(result.summary())
    details = result.to_dict()
    if not result.passed:
        details["failures"] = jsonable(result.found, max_rows=DETAIL_ROWS)
    return Outcome(result.passed, result.summary(), details, {"banned": result.banned})


@register(
    "overlap",
    ["infra-4"],
    kind="train_eval_overlap",
    title="Evaluation rows are not training rows",
    rows="engine",
)
def check_overlap(ctx: CheckContext) -> Outcome:
    """explore.checks.overlap.train_eval_overlap: exact duplicates of training rows (every feature's value) in each
    evaluation dataset; fails above --max-overlap (default 5 %)."""
    overlap = _module("explore.checks.overlap")
    train = _train(ctx)
    max_share = float(ctx.options.get("max_overlap", overlap.DEFAULT_MAX_SHARE))
    result = overlap.train_eval_overlap(ctx.ws, train=train, max_share=max_share)
    if result is None or result.passed is None:
        reasons = "; ".join(f"'{d}': {why}" for d, why in (result.skipped if result else {}).items())
        raise SkipCheck(
            "no evaluation dataset beside the training data to compare" + (f" ({reasons})" if reasons else "")
        )
    details = result.to_dict()
    in_engine = {
        r.dataset: int(r.rows) for r in result.table.itertuples() if ctx.ws.is_out_of_core(r.dataset)
    }
    if ctx.ws.is_out_of_core(result.train):
        in_engine[result.train] = result.train_rows
    if in_engine:
        details["every_row_by_engine"] = in_engine
    if not result.passed:
        details["failures"] = jsonable(result.table[~result.table["passed"]], max_rows=DETAIL_ROWS)
    return Outcome(result.passed, result.summary(), details, {"train": train, "max_overlap": max_share})


@register("skew", ["monitor-3"], kind="skew", title="Training/serving skew on rows logged at both")
def check_skew(ctx: CheckContext) -> Outcome:
    """explore.checks.serving_skew.feature_skew of the training vs serving dataset (or --skew TRAINING,SERVING), joined on ids."""
    skew = _module("explore.checks.serving_skew")
    pair = ctx.options.get("skew")
    if pair:
        training, serving = pair
    else:
        if ctx.serving_dataset is None:
            raise SkipCheck(
                "no serving dataset to compare with the training one (pass --skew TRAINING,SERVING)"
            )
        training, serving = _train(ctx), ctx.serving_dataset
    if not ctx.ws.columns.id:
        raise SkipCheck("the workspace names no id column to join training and serving rows ([columns] id)")
    out_of_core = [d for d in (training, serving) if ctx.ws.is_out_of_core(d)]
    if out_of_core:
        # Joining two samples drawn independently would pair few ids and call the rest missing: not a skew test.
        raise SkipCheck(SKEW_OUT_OF_CORE.format(datasets=", ".join(f"'{d}'" for d in out_of_core)))
    result = skew.feature_skew(ctx.ws, training=training, serving=serving)
    if result.passed is None:
        raise SkipCheck(result.summary())
    details = result.to_dict()
    if not result.passed:
        details["failures"] = jsonable(result.table[result.table["status"] != "pass"], max_rows=DETAIL_ROWS)
    return Outcome(result.passed, result.summary(), details, {"training": training, "serving": serving})


@register(
    "shadow", ["monitor-3"], kind="shadow", title="Logged predictions match the model recomputed (shadow)"
)
def check_shadow(ctx: CheckContext) -> Outcome:
    """explore.checks.serving_skew.shadow_check of the first dataset (serving, then evaluation) carrying logged predictions."""
    skew = _module("explore.checks.serving_skew")
    ctx.require_model()
    for dataset in dict.fromkeys(d for d in (ctx.serving_dataset, ctx.eval_dataset) if d):
        logged = skew.logged_prediction_columns(ctx.ws, dataset)
        if logged:
            result = skew.shadow_check(ctx.ws, dataset=dataset, logged=logged[0])
            if result.passed is None:
                raise SkipCheck(result.summary())
            details = result.to_dict()
            if not result.passed:
                details["failures"] = jsonable(result.examples, max_rows=DETAIL_ROWS)
            return Outcome(
                result.passed, result.summary(), details, {"dataset": dataset, "logged": logged[0]}
            )
    raise SkipCheck(
        "no dataset carries logged predictions ([columns] prediction / score, or a column named like pred/score)"
    )


@register(
    "compat",
    ["monitor-1"],
    kind="compatibility",
    title="The model file's libraries and types match this environment",
    rows="none",
)
def check_compat(ctx: CheckContext) -> Outcome:
    """explore.checks.compatibility.compatibility: recorded library versions vs this environment, types importable."""
    compat = _module("explore.checks.compatibility")
    ctx.require_model()
    result = compat.compatibility(ctx.ws)
    details = result.to_dict()
    if result.passed is False:
        details["failures"] = jsonable(
            result.versions[result.versions["status"] == "mismatch"], max_rows=DETAIL_ROWS
        ) + jsonable(result.types[result.types["status"] == "missing"], max_rows=DETAIL_ROWS)
    return Outcome(result.passed is not False, result.summary(), details, {"model": "current"})


@register(
    "key_examples",
    ["infra-4", "monitor-7"],
    kind="key_examples",
    title="Key examples reproduce their recorded outputs",
    rows="none",
)
def check_key_examples(ctx: CheckContext) -> Outcome:
    """explore.checks.compatibility.verify_key_examples against the key examples file."""
    compat = _module("explore.checks.compatibility")
    ctx.require_model()
    path = compat.key_examples_path(ctx.ws)
    if not path.exists():
        raise SkipCheck(
            f"no key examples file at {path} (make one on the Checks page, Compatibility → Make key examples)"
        )
    result = compat.verify_key_examples(ctx.ws)
    details = result.to_dict()
    if not result.passed:
        details["failures"] = (
            jsonable(result.table[result.table["status"] != "reproduced"], max_rows=DETAIL_ROWS)
            if len(result.table)
            else [result.error]
        )
    return Outcome(result.passed, result.summary(), details, {"source": str(path)})


# ---- running ----------------------------------------------------------------------------------------

_DATASET_PARAMS = ("dataset", "datasets", "train", "training", "serving", "reference")


def _datasets_read(ctx: CheckContext, params: Mapping[str, Any]) -> list[str]:
    """The datasets a check's result names in its params (where its rows came from), in order."""
    names: list[str] = []
    for key in _DATASET_PARAMS:
        value = params.get(key)
        for v in [value] if isinstance(value, str) else list(value or ()):
            if isinstance(v, str) and v in ctx.ws.dataset_names:
                names.append(v)
    return list(dict.fromkeys(names))


def sample_note(ws: Any, datasets: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """For the out-of-core datasets among ``datasets``: the sentence a check's summary ends with (it ran on the
    engine-drawn sample, how many of how many rows) and the details (``{dataset: {rows, total, stratified_by}}``).
    ``("", {})`` when every dataset is in memory."""
    infos = {d: ws.samples[d] for d in datasets if ws.is_out_of_core(d)}
    if not infos:
        return "", {}
    parts = [
        f"{i.rows:,} of {i.total:,} rows of '{d}'"
        + (f" (stratified by '{i.stratified_by}')" if i.stratified_by else "")
        for d, i in infos.items()
    ]
    note = (
        f" Ran on a sample drawn by the engine, not every row: {'; '.join(parts)} "
        "(the dataset stays out of core; a row-level check reads the workspace's sample)."
    )
    details = {
        d: {"rows": i.rows, "total": i.total, "stratified_by": i.stratified_by} for d, i in infos.items()
    }
    return note, details


def _with_sample_note(ctx: CheckContext, check: Check, out: Outcome) -> Outcome:
    """``out`` with the sample stated, when the check read the sample of an out-of-core dataset."""
    if check.rows != "sample":
        return out
    note, details = sample_note(ctx.ws, _datasets_read(ctx, out.params))
    if not note:
        return out
    return replace(out, message=out.message.rstrip() + note, details={**out.details, "sample": details})


def run_checks(
    ctx: CheckContext, names: Sequence[str], *, progress: Callable[[str], None] | None = None
) -> list[CheckResult]:
    """Run the named checks in registry order; each becomes a CheckResult (never raises for a check)."""
    results = []
    for i, name in enumerate(names):
        check = CHECKS[name]
        if progress:
            progress(f"[{i + 1}/{len(names)}] {check.title}…")
        start = time.perf_counter()
        try:
            out = _with_sample_note(ctx, check, check.run(ctx))
            status = "passed" if out.passed else "failed"
            result = CheckResult(
                name,
                check.tests,
                check.kind,
                check.title,
                status,
                out.message,
                jsonable(out.details, max_rows=DETAIL_ROWS),
                jsonable(out.params, max_rows=DETAIL_ROWS),
            )
        except SkipCheck as exc:
            result = CheckResult(name, check.tests, check.kind, check.title, "skipped", str(exc))
        except ExploreError as exc:
            result = CheckResult(name, check.tests, check.kind, check.title, "error", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in a check must not hide the other checks' results
            tb = traceback.format_exc(limit=8)
            result = CheckResult(
                name,
                check.tests,
                check.kind,
                check.title,
                "error",
                f"internal error ({type(exc).__name__}: {exc}); please report it",
                {"traceback": tb},
            )
        results.append(replace(result, seconds=time.perf_counter() - start))
    return results


def exit_code_for(results: Sequence[CheckResult], requested: Sequence[str] = ()) -> int:
    """0 all passed; 1 a check failed; 2 nothing failed but something could not run (see module doc)."""
    if any(r.status == "failed" for r in results):
        return EXIT_FAILED
    if any(r.status == "error" for r in results):
        return EXIT_COULD_NOT_RUN
    if any(r.status == "skipped" and r.name in requested for r in results):
        return EXIT_COULD_NOT_RUN
    if not any(r.ran for r in results):
        return EXIT_COULD_NOT_RUN
    return EXIT_PASSED


STATUS_WORDS = {EXIT_PASSED: "passed", EXIT_FAILED: "failed", EXIT_COULD_NOT_RUN: "could not run"}


def build_report(
    *,
    run_id: str,
    argv: Sequence[str],
    workspace: Any,
    workspace_path: Path,
    ctx: CheckContext | None,
    results: Sequence[CheckResult],
    started: dt.datetime,
    finished: dt.datetime,
    exit_code: int,
    review: str | None,
    problems: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON report: run, workspace fingerprints, each check, the rubric tests it covers."""
    ws_info: dict[str, Any] = {"path": str(workspace_path), "name": workspace_path.parent.name}
    if workspace is not None:
        ws_info["models"] = {m: workspace.model_fingerprint(m) for m in workspace.model_names}
        ws_info["datasets"] = {d: workspace.data_fingerprint(d) for d in workspace.dataset_names}
        ws_info["task"] = workspace.task
    if ctx is not None:
        ws_info["eval_dataset"] = ctx.eval_dataset
        ws_info["train_dataset"] = ctx.train_dataset
        ws_info["serving_dataset"] = ctx.serving_dataset
        ws_info["thresholds"] = str(ctx.thresholds) if ctx.thresholds else None
    tests: dict[str, dict[str, Any]] = {}
    order = {"passed": 0, "failed": 1, "error": 2}
    for r in results:
        if not r.ran and r.status != "error":
            continue
        for t in r.tests:
            cur = tests.setdefault(t, {"status": "passed", "checks": []})
            cur["checks"].append(r.name)
            if order[r.status] > order[cur["status"]]:
                cur["status"] = r.status
    return {
        "format": CHECK_REPORT_FORMAT,
        "format_version": REPORT_FORMAT_VERSION,
        "scale": SCALE,
        "run_id": run_id,
        "argv": list(argv),
        "review": review,
        "workspace": ws_info,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "seconds": round((finished - started).total_seconds(), 3),
        "exit_code": exit_code,
        "status": STATUS_WORDS.get(exit_code, str(exit_code)),
        "problems": list(problems),
        "checks": [r.to_dict() for r in results],
        "tests": dict(sorted(tests.items(), key=lambda kv: list(TESTS_BY_ID).index(kv[0]))),
        "environment": _environment(),
    }


def _environment() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for pkg in ("scikit-learn", "numpy", "pandas", "skops", "ml-explore"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


_ICON = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR"}


def report_markdown(report: Mapping[str, Any]) -> str:
    """The Markdown version of a JSON report (for a CI summary or a pull-request comment)."""
    ws = report["workspace"]
    lines = [
        f"# explore check — {STATUS_WORDS.get(report['exit_code'], report['status'])} (exit code {report['exit_code']})",
        "",
        f"Workspace {md_escape(ws['name'])} ({md_escape(ws['path'])}) · started {report['started_at'][:19].replace('T', ' ')} UTC · "
        f"{report['seconds']:.1f} s"
        + (f" · review “{md_escape(report['review'])}”" if report.get("review") else ""),
        "",
    ]
    if ws.get("models"):
        lines.append(
            "Models: " + ", ".join(f"{md_escape(m)} {md_escape(fp)}" for m, fp in ws["models"].items())
        )
    if ws.get("eval_dataset"):
        lines.append(
            f"Datasets: evaluation {md_escape(ws['eval_dataset'])}, training {md_escape(ws.get('train_dataset'))}, "
            f"serving {md_escape(ws.get('serving_dataset'))}"
        )
    for problem in report.get("problems") or ():
        lines += ["", f"> **Could not run:** {md_escape(problem)}"]
    rows = [
        (
            c["title"],
            _ICON[c["status"]],
            ", ".join(TESTS_BY_ID[t].label for t in c["tests"] if t in TESTS_BY_ID),
            c["summary"],
            f"{c['seconds']:.2f}",
        )
        for c in report["checks"]
    ]
    lines += [
        "",
        markdown_table(rows, ["Check", "Result", "Rubric tests", "Summary", "Seconds"], align="llllr"),
    ]
    if report.get("tests"):
        lines += ["", "## Rubric tests run automatically", ""]
        for test_id, info in report["tests"].items():
            t = TESTS_BY_ID[test_id]
            lines.append(
                f"- {t.label} — {t.name}: {md_escape(info['status'])} ({md_escape(', '.join(info['checks']))})"
            )
    failed = [c for c in report["checks"] if c["status"] in ("failed", "error")]
    for c in failed:
        lines += ["", f"## {_ICON[c['status']]}: {md_escape(c['title'])}", "", md_escape(c["summary"])]
        if c["details"].get("failures"):
            lines += ["", fenced(json.dumps(c["details"]["failures"], indent=2, default=str)[:4000], "json")]
    lines.append("")
    return "\n".join(lines)


# XML 1.0 cannot hold these characters at all (not even escaped): they are dropped from JUnit text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: Any) -> str:
    return _NOT_XML.sub("", str(value))


def report_junit(report: Mapping[str, Any]) -> str:
    """The JSON report as JUnit XML, the test-result format CI services show natively (GitLab's test
    reports, Jenkins, Azure Pipelines, GitHub actions that publish JUnit): one test case per check — failed
    as a failure, errored as an error, skipped with its reason — and, when the run could not run as a whole
    (a bad workspace or option), one erroring case saying why. Text is escaped by ElementTree."""
    import xml.etree.ElementTree as ET

    checks = list(report.get("checks", []))
    name = f"explore check {report['workspace']['name']}"
    suite = ET.Element("testsuite", name=_xml_text(name), timestamp=str(report["started_at"])[:19])
    counts = {"failed": 0, "error": 0, "skipped": 0}
    for c in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="explore.check",
            name=_xml_text(f"{c['name']} [{', '.join(c['tests'])}]"),
            time=f"{float(c.get('seconds') or 0):.3f}",
        )
        summary = _xml_text(c.get("summary", ""))
        if c["status"] == "failed":
            ET.SubElement(case, "failure", message=summary, type="check failed").text = summary
        elif c["status"] == "error":
            ET.SubElement(case, "error", message=summary, type="check errored").text = summary
        elif c["status"] == "skipped":
            ET.SubElement(case, "skipped", message=summary)
        if c["status"] in counts:
            counts[c["status"]] += 1
    problems = [p for p in report.get("problems", []) if report["exit_code"] == EXIT_COULD_NOT_RUN]
    if problems and not checks:
        text = _xml_text("\n".join(problems))
        case = ET.SubElement(suite, "testcase", classname="explore.check", name="explore check", time="0")
        ET.SubElement(case, "error", message=text, type="could not run").text = text
        counts["error"] += 1
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(counts["failed"]))
    suite.set("errors", str(counts["error"]))
    suite.set("skipped", str(counts["skipped"]))
    suite.set("time", f"{float(report.get('seconds') or 0):.3f}")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


# ---- the command line ---------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="explore check",
        description="Run the automatable ML Test Score checks on a workspace (for CI). Exit codes: 0 passed, "
        "1 a check failed, 2 could not run.",
    )
    p.add_argument("workspace", type=Path, nargs="?", help="workspace.toml, or the folder that holds it")
    p.add_argument("--review", default=None, help="name of the rubric review these runs are evidence for")
    p.add_argument(
        "--thresholds", type=Path, default=None, help="threshold file (default: [checks] thresholds)"
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"folder to write {REPORT_JSON} and {REPORT_MD} into, e.g. explore-check (default: none written; "
        "the results are printed, and recorded in the store when one is configured)",
    )
    p.add_argument(
        "--junit",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the results as JUnit XML, e.g. explore-check.xml (one test case per check; CI services show it)",
    )
    p.add_argument(
        "--checks", default=None, help="comma-separated checks or rubric test ids to run (default: all)"
    )
    p.add_argument("--skip", default=None, help="comma-separated checks or rubric test ids not to run")
    p.add_argument(
        "--cheap", action="store_true", help="only the cheap checks (no refits): for quick CI runs"
    )
    p.add_argument(
        "--dataset", default=None, help="dataset to evaluate on (default: validation / valid / test)"
    )
    p.add_argument(
        "--train",
        default=None,
        help="training dataset (default: train / training, else one with 'train' in its name)",
    )
    p.add_argument("--serving", default=None, help="serving dataset (default: production / serving, if any)")
    p.add_argument(
        "--fdr", type=float, default=0.05, help="false discovery rate of weak-slice discovery (default 0.05)"
    )
    p.add_argument(
        "--fail-on-weak-slices",
        action="store_true",
        help="fail when discovery finds a significantly weak slice",
    )
    p.add_argument(
        "--fairness",
        action="append",
        metavar="COLUMN",
        help="sensitive column whose group gaps to check (repeatable)",
    )
    p.add_argument(
        "--fairness-max-gap",
        type=float,
        default=None,
        help="largest allowed gap between groups: between rates, from 0 to 1 (default 0.1); a regressor's, in its "
        "label's units (no default)",
    )
    p.add_argument(
        "--estimate-metric",
        default=None,
        choices=["accuracy", "precision", "recall", "F1", "ROC AUC"],
        help="metric the estimated_drop check estimates where labels are not in yet (default: ROC AUC "
        "for binary, accuracy for multiclass)",
    )
    p.add_argument(
        "--estimate-max-drop",
        type=float,
        default=DEFAULT_ESTIMATE_MAX_DROP,
        help=f"largest allowed drop of the estimated metric below the evaluation data's (default {DEFAULT_ESTIMATE_MAX_DROP})",
    )
    p.add_argument(
        "--max-overlap",
        type=float,
        default=None,
        help="largest accepted share of an evaluation dataset's rows that duplicate a training row (default 0.05)",
    )
    p.add_argument(
        "--expectations",
        type=Path,
        default=None,
        help="expectation suite file (default: [checks] expectations, else expectations.toml next to workspace.toml)",
    )
    p.add_argument(
        "--skew",
        default=None,
        metavar="TRAINING,SERVING",
        help="the two datasets holding the same rows for the skew check (default: training and serving datasets)",
    )
    p.add_argument(
        "--db",
        default=None,
        help="store URL to record the run in (default: $EXPLORE_DB_URL; none: not recorded)",
    )
    p.add_argument(
        "--list", action="store_true", help="list the checks and the rubric tests they cover, then exit"
    )
    return p


def _select(value: str | None, option: str) -> list[str]:
    if not value:
        return []
    out: list[str] = []
    for raw in value.split(","):
        token = raw.strip()
        if not token:
            continue
        if token in CHECKS:
            out.append(token)
        elif token in TESTS_BY_ID:
            out.extend(c.name for c in CHECKS.values() if token in c.tests)
        else:
            raise ExploreError(UNKNOWN_CHECK.format(received=token, option=option, known=", ".join(CHECKS)))
    return list(dict.fromkeys(out))


def _list_checks() -> str:
    lines = []
    for c in CHECKS.values():
        labels = ", ".join(f"{t} ({TESTS_BY_ID[t].name})" for t in c.tests)
        lines.append(f"{c.name:<14} {'' if c.cheap else '(slow) '}{c.title} — {labels}")
    covered = tests_covered()
    lines.append("")
    lines.append(f"Rubric tests covered: {len(covered)} of {len(TESTS)}")
    return "\n".join(lines)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


BAD_OPTION = "{option} must be {accepted}; received {received}. {fix}"


def _check_options(args: argparse.Namespace) -> list[str]:
    """What is wrong with the numeric options, each as a message — checked before anything runs, so that a bad
    value is reported even when the check that reads it is skipped (--skip, --cheap, no model)."""

    def number(value: Any) -> bool:
        return isinstance(value, int | float) and math.isfinite(value)

    options = [  # (option, value, valid, what it accepts, an example)
        ("--fdr", args.fdr, lambda v: 0 < v < 1, "a false discovery rate strictly between 0 and 1", 0.05),
        (
            "--fairness-max-gap",
            DEFAULT_FAIRNESS_MAX_GAP if args.fairness_max_gap is None else args.fairness_max_gap,
            lambda v: v >= 0,
            "a gap of at least 0 (between two groups' rates, from 0 to 1; a regressor's, in its label's units)",
            DEFAULT_FAIRNESS_MAX_GAP,
        ),
        (
            "--estimate-max-drop",
            args.estimate_max_drop,
            lambda v: v >= 0,
            "a drop of the metric of at least 0",
            DEFAULT_ESTIMATE_MAX_DROP,
        ),
        (
            "--max-overlap",
            0.05 if args.max_overlap is None else args.max_overlap,
            lambda v: 0 <= v <= 1,
            "a share of rows from 0 to 1",
            0.05,
        ),
    ]
    return [
        BAD_OPTION.format(
            option=option, accepted=accepted, received=value, fix=f"Pass e.g. {option} {example}."
        )
        for option, value, valid, accepted, example in options
        if not (number(value) and valid(value))
    ]


def main(argv: list[str]) -> int:
    """``explore check …``; returns the exit code (0 passed, 1 a check failed, 2 could not run)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.list:
        print(_list_checks())
        return EXIT_PASSED
    if args.workspace is None:
        parser.print_usage(sys.stderr)
        _say("explore check: name the workspace: explore check path/to/workspace.toml (or its folder).")
        return EXIT_COULD_NOT_RUN
    started = dt.datetime.now(dt.UTC)
    run_id = uuid.uuid4().hex
    ws_path = Path(args.workspace).expanduser().resolve()
    if ws_path.is_dir():
        ws_path = ws_path / "workspace.toml"
    ws = ctx = None
    results: list[CheckResult] = []
    problems: list[str] = []
    requested: list[str] = []
    try:
        # Before the workspace is opened: a bad value is reported even when the check that reads it is skipped.
        if wrong := _check_options(args):
            raise ExploreError(" ".join(wrong))
        requested = _select(args.checks, "--checks")
        skipped = set(_select(args.skip, "--skip"))
        names = [n for n in (requested or CHECKS) if n not in skipped and (not args.cheap or CHECKS[n].cheap)]
        if not names:
            raise ExploreError(
                NO_CHECK_SELECTED.format(options=" ".join(argv[1:]) or "given", known=", ".join(CHECKS))
            )
        ws, ctx = _open(ws_path, args)
        results = run_checks(ctx, names, progress=_say)
        exit_code = exit_code_for(results, requested)
        for r in results:
            if r.status == "skipped" and r.name in requested:
                problems.append(REQUESTED_SKIPPED.format(name=r.name, reason=r.message.rstrip(".")))
            elif r.status == "error":
                problems.append(f"{r.title}: {r.message}")
    except ExploreError as exc:
        problems.append(str(exc))
        exit_code = EXIT_COULD_NOT_RUN
    finished = dt.datetime.now(dt.UTC)
    url = args.db or settings.db_url()
    if url and ws is not None:
        try:
            results = _record_snapshots(url, ws, ctx, ws_path, results)
        except ExploreError as exc:
            problems.append(STORE_RECORD_FAILED.format(reason=exc))
            exit_code = max(exit_code, EXIT_COULD_NOT_RUN) if exit_code != EXIT_FAILED else exit_code
    report = build_report(
        run_id=run_id,
        argv=argv,
        workspace=ws,
        workspace_path=ws_path,
        ctx=ctx,
        results=results,
        started=started,
        finished=finished,
        exit_code=exit_code,
        review=args.review,
        problems=problems,
    )
    if url:
        try:
            report["store_run_id"] = _record_run(url, ws_path, report, args.review)
        except ExploreError as exc:
            problems.append(STORE_RECORD_FAILED.format(reason=exc))
            if exit_code == EXIT_PASSED:
                exit_code = report["exit_code"] = EXIT_COULD_NOT_RUN
                report["status"] = STATUS_WORDS[exit_code]
            report["problems"] = list(problems)
    if args.out is not None:
        try:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / REPORT_JSON).write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
            (out / REPORT_MD).write_text(report_markdown(report), encoding="utf-8")
        except OSError as exc:
            _say(
                f"explore check: the reports could not be written to '{args.out}': {exc.strerror or exc}. Pass --out with a writable folder."
            )
            return EXIT_COULD_NOT_RUN if exit_code != EXIT_FAILED else exit_code
    if args.junit is not None:
        try:
            Path(args.junit).write_text(report_junit(report), encoding="utf-8")
        except OSError as exc:
            _say(
                f"explore check: the JUnit file could not be written to '{args.junit}': {exc.strerror or exc}. Pass --junit with a file in a writable folder."
            )
            return EXIT_COULD_NOT_RUN if exit_code != EXIT_FAILED else exit_code
    for r in results:
        labels = ",".join(r.tests)
        print(f"{_ICON[r.status]:<5} {r.name:<14} [{labels}] {r.message}")
    for p in problems:
        _say(f"explore check: {p}")
    where = (
        f"reports in {Path(args.out) / REPORT_JSON} and {REPORT_MD}"
        if args.out is not None
        else f"no report files written (pass --out DIR to keep {REPORT_JSON} and {REPORT_MD})"
    )
    if args.junit is not None:
        where += f"; JUnit XML in {args.junit}"
    print(f"explore check: {STATUS_WORDS[exit_code]} (exit code {exit_code}); {where}")
    return exit_code


def _skew_pair(value: str | None, names: Sequence[str]) -> tuple[str, str] | None:
    if not value:
        return None
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ExploreError(
            f"--skew takes two dataset names separated by a comma (TRAINING,SERVING); received {value!r}."
        )
    for p in parts:
        if p not in names:
            raise ExploreError(DATASET_UNKNOWN.format(option="skew", received=p, known=", ".join(names)))
    return parts[0], parts[1]


def _open(ws_path: Path, args: argparse.Namespace) -> tuple[Any, CheckContext]:
    from explore.core.workspace import open_workspace, read_workspace

    config = read_workspace(ws_path)
    ws = open_workspace(config, progress=lambda f, msg: _say(f"[{f:4.0%}] {msg}"))
    names = ws.dataset_names
    for option in ("dataset", "train", "serving"):
        value = getattr(args, option)
        if value is not None and value not in names:
            raise ExploreError(DATASET_UNKNOWN.format(option=option, received=value, known=", ".join(names)))
    eval_ds = args.dataset or roles.evaluation_dataset(ws)
    # Training data only when it is named (or declared) so, or given: fitting a baseline on evaluation data would be wrong.
    train_ds = args.train or roles.training_dataset(ws)
    serving_ds = args.serving or roles.serving_dataset(ws)
    thresholds = args.thresholds or config.checks.thresholds
    if thresholds is not None:
        thresholds = Path(thresholds).expanduser().resolve()
        if not thresholds.exists():
            raise ExploreError(THRESHOLDS_MISSING.format(path=thresholds))
    options = {
        "fdr": args.fdr,
        "fail_on_weak_slices": args.fail_on_weak_slices,
        "fairness": list(args.fairness or []),
        "fairness_max_gap": args.fairness_max_gap,
        "estimate_metric": args.estimate_metric,
        "estimate_max_drop": args.estimate_max_drop,
        **({"max_overlap": args.max_overlap} if args.max_overlap is not None else {}),
        "expectations": Path(args.expectations).expanduser().resolve() if args.expectations else None,
        "skew": _skew_pair(args.skew, names),
    }
    ctx = CheckContext(
        ws=ws,
        eval_dataset=eval_ds,
        train_dataset=train_ds,
        serving_dataset=serving_ds,
        thresholds=thresholds,
        options=options,
    )
    return ws, ctx


def _record_snapshots(
    url: str, ws: Any, ctx: CheckContext | None, ws_path: Path, results: list[CheckResult]
) -> list[CheckResult]:
    from explore.core.store import Store

    out = []
    with Store(url) as store:
        for r in results:
            if not r.ran:
                out.append(r)
                continue
            dataset = (r.params or {}).get("dataset") or (ctx.eval_dataset if ctx else None)
            sid = store.add_snapshot(
                workspace=str(ws_path),
                kind=r.kind,
                tests=list(r.tests),
                title=f"explore check: {r.title} — {r.status}",
                params=r.params,
                result=r.to_dict(),
                model_fingerprint=ws.model_fingerprint("current") if ws.models else "predictions-only",
                data_fingerprint=ws.data_fingerprint(dataset) if dataset in ws.dataset_names else "",
                source="check",
            )
            out.append(replace(r, snapshot_id=sid))
    return out


def _record_run(url: str, ws_path: Path, report: dict[str, Any], review: str | None) -> int:
    from explore.core.store import Store

    with Store(url) as store:
        if review and store.get_review_by_name(review) is None:
            _say(
                f"explore check: note: there is no rubric review named {review!r} in the store yet; the run is recorded and will show once it exists."
            )
        return store.add_check_run(
            workspace=str(ws_path),
            started_at=dt.datetime.fromisoformat(report["started_at"]),
            finished_at=dt.datetime.fromisoformat(report["finished_at"]),
            exit_code=report["exit_code"],
            report=report,
        )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
