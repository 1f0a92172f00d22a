"""Every analysis of the pages as one call on a workspace, for Python and Jupyter.

Each function takes the workspace and keyword-only options (dates where users think in dates), does the
assembly a page does with the same ``explore`` functions, and returns a ``Result`` that draws itself
(``repr``, ``_repr_html_``, ``.chart()`` — the page's chart — and ``.to_frame()``; ``.value`` is the domain
result). For example::

    ws = explore.open("workspace.toml")
    explore.slice_report(ws, where={"region": "North"})
    explore.staleness_experiment(ws, cutoffs=["2023-04", "2023-07", "2023-10"], window="month")

Scored rows are kept per (workspace contents, dataset, model) for the session, as the app keeps them, so
a second call on the same workspace does not predict again. Bad input raises the ``ExploreError`` the page
shows. What people decide (spot-check verdicts, rubric confirmations) goes to the same store as the app's
(``explore.Store()``: ``$EXPLORE_DB_URL`` or the default SQLite file).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from explore.core.progress import Progress
from explore.core.workspace import MAIN_MODEL, Scored, Workspace
from explore.errors import AnalysisError, ColumnError, ModelError
from explore.report.display import Result
from explore.slices.definition import Condition, SliceDefinition

_SCORED: OrderedDict[tuple[str, str, str | None], Scored] = OrderedDict()
_NOTED: set[str] = set()  # cache folders whose "cannot be written" note a notebook was shown
SCORED_KEPT = 4  # scored datasets kept per process (the app's loaders keep as many per workspace)

UNKNOWN_COLUMN = (
    "{argument} names the column {received!r}, which dataset '{dataset}' does not have. Its columns are: "
    "{columns}. Fix the spelling, or pick one of these."
)
NO_PROBA = (
    "{what} needs class probabilities, but the model '{model}' ({kind}) has no predict_proba. Refit a model that "
    "has one (e.g. LogisticRegression, or CalibratedClassifierCV around this one), or use {instead}."
)
ANNOTATIONS_OUT_OF_CORE = (
    "The annotations are joined to dataset '{dataset}', which stays in the engine (the workspace holds a {sample}): "
    "annotated items outside the sample would be lost. Not available out of core: export the annotated rows "
    "(the ids in the annotations file) to a Parquet or CSV file read into memory, add it to [datasets] "
    '(engine = "pandas") and name it in [annotations] dataset.'
)
NO_MODEL = "{what} needs a model, but this workspace has predictions only. Build it with model=… (or a [model] file)."
BAD_ARGUMENT = "{function}(): {argument} must be {accepted}; received {received!r}."
UNKNOWN_OPTIONS = "{function}() has no option {received}. Its options are: {known}."


# ---- what every call shares ---------------------------------------------------------------------------------


def _bad(function: str, argument: str, accepted: str, received: Any) -> AnalysisError:
    return AnalysisError(
        BAD_ARGUMENT.format(function=function, argument=argument, accepted=accepted, received=received),
        argument=argument,
        received=received,
    )


def _whole(function: str, argument: str, value: Any, *, lo: int, optional: bool = False) -> None:
    """``value`` a whole number ≥ ``lo`` (None too when ``optional``: the default), else AnalysisError naming it."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        accepted = f"a whole number of at least {lo:,}" + (" (or None for the default)" if optional else "")
        raise _bad(function, argument, accepted, value)


def _fraction(function: str, argument: str, value: Any) -> None:
    """``value`` a number strictly between 0 and 1 (a confidence level), else AnalysisError naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not 0 < float(value) < 1:
        raise _bad(function, argument, "a number strictly between 0 and 1 (e.g. 0.95)", value)


def _model_name(ws: Workspace, model: str | None) -> str | None:
    if not ws.models:
        return None
    return MAIN_MODEL if model is None and MAIN_MODEL in ws.models else (model or ws.model_names[0])


def scored(ws: Workspace, dataset: str | None = None, *, model: str | None = None) -> Scored:
    """``dataset`` (default: the evaluation dataset, as the sidebar's) scored by ``model`` (default the current
    one; predictions-only: the prediction columns), computed once per workspace contents. The model's outputs
    come from the prediction cache beside the workspace (``explore.core.score_cache``), as the app's do: a
    notebook opened after the app (or after another kernel) does not run the model again."""
    from explore.core.roles import evaluation_dataset
    from explore.core.score_cache import score_cached

    name = dataset or evaluation_dataset(ws)
    ws.dataset(name)
    model_name = _model_name(ws, model)
    key = (ws.key, name, model_name)
    if key in _SCORED:
        _SCORED.move_to_end(key)
        return _SCORED[key]
    got = score_cached(ws, name, model_name)
    if got.note and got.path is not None and str(got.path.parent) not in _NOTED:
        # A read-only workspace folder still works (predictions in memory); say so once per folder, not per call.
        _NOTED.add(str(got.path.parent))
        warnings.warn(got.note, UserWarning, stacklevel=2)
    value = got.scored
    _SCORED[key] = value
    while len(_SCORED) > SCORED_KEPT:
        _SCORED.popitem(last=False)
    return value


def _engine_dataset(ws: Workspace, dataset: str | None) -> str | None:
    """The dataset's name when it is out of core: the analysis then runs in the engine on every row, not on the
    sample ``scored`` holds."""
    from explore.core.roles import evaluation_dataset

    name = dataset or evaluation_dataset(ws)
    return name if ws.is_out_of_core(name) else None


def _sample_facts(ws: Workspace, datasets: Sequence[str | None] | str | None) -> dict[str, str]:
    """What a row-level analysis says about its rows: for each out-of-core dataset among ``datasets``, the
    engine-drawn sample it ran on (rows of how many, how drawn). Empty when every dataset is in memory."""
    from explore.core.roles import evaluation_dataset

    names = [datasets] if datasets is None or isinstance(datasets, str) else list(datasets)
    out = {}
    for name in dict.fromkeys(n or evaluation_dataset(ws) for n in names):
        if ws.is_out_of_core(name):
            out[f"sample of '{name}'" if len(names) > 1 else "sample"] = _sample_text(ws.samples[name])
    return out


def _sample_text(info: Any) -> str:
    """``SampleInfo`` as a Result fact: ``"sample of 50,000 of 1,200,000 rows (drawn by the engine, stratified by
    'y')"``."""
    how = f", stratified by '{info.stratified_by}'" if info.stratified_by else ""
    return f"sample of {info.rows:,} of {info.total:,} rows (drawn by the engine{how})"


def _need_model(ws: Workspace, model: str | None, what: str) -> tuple[str, Any]:
    name = _model_name(ws, model)
    if name is None:
        raise ModelError(NO_MODEL.format(what=what))
    return name, ws.model(name)


def _check_columns(sc: Scored, columns: Sequence[str], argument: str) -> None:
    for column in columns:
        if column not in sc.frame.columns:
            raise ColumnError(
                UNKNOWN_COLUMN.format(
                    argument=argument,
                    received=column,
                    dataset=sc.dataset_name,
                    columns=", ".join(map(str, sc.frame.columns[:30])),
                )
            )


def as_slice(where: SliceDefinition | Mapping[str, Any] | None) -> SliceDefinition:
    """A slice from a ``SliceDefinition`` or a mapping ``{column: value}`` (equal), ``{column: [v1, v2]}``
    (one of) or ``{column: (lo, hi)}`` (``lo <= column < hi``; ``None`` for an open end; dates for times)."""
    if where is None:
        return SliceDefinition()
    if isinstance(where, SliceDefinition):
        return where
    if not isinstance(where, Mapping):
        raise AnalysisError(
            "where must be a mapping such as {'region': 'North', 'age': (30, 50)} or a SliceDefinition; "
            f"received a {type(where).__name__}."
        )
    conditions = []
    for column, value in where.items():
        if isinstance(value, tuple):
            if len(value) != 2:
                raise AnalysisError(
                    f"A range is (lo, hi); received {value!r} for {column!r}. Use None for an open end."
                )
            conditions.append(Condition(str(column), "range", lo=value[0], hi=value[1]))
        elif isinstance(value, list | set | frozenset | np.ndarray | pd.Series):
            conditions.append(Condition(str(column), "in", values=tuple(value)))
        else:
            conditions.append(Condition(str(column), "in", values=(value,)))
    return SliceDefinition(tuple(conditions))


def _slice(sc: Scored, where: Any) -> tuple[SliceDefinition, SliceDefinition | None]:
    """``where`` as a slice, checked on ``sc`` (known columns, at least one row), and the ``slice_def`` the
    analyses take (None for every row)."""
    sd = as_slice(where)
    if sd.is_everything:
        return sd, None
    _check_columns(sc, [c.column for c in sd.conditions if not c.column.startswith("__")], "where")
    if not sd.mask(sc).any():
        raise AnalysisError(f"No row of dataset '{sc.dataset_name}' is in the slice {sd.describe()}.")
    return sd, sd


NO_ROW = (
    "Name the row: row_id=… (a value of the id column) or position=… (0 to {last} in dataset '{dataset}'); "
    "received neither."
)


def _position(sc: Scored, row_id: Any, position: int | None) -> int:
    from explore.importance.explain import find_row

    if row_id is None and position is None:  # not "row position None is outside the dataset"
        raise AnalysisError(NO_ROW.format(last=sc.n - 1, dataset=sc.dataset_name))
    return find_row(sc, position=position, row_id=row_id)


# ---- where does the model fail? -------------------------------------------------------------------------------


def slice_report(
    ws: Workspace,
    where: SliceDefinition | Mapping[str, Any] | None = None,
    *,
    by: Sequence[str] | str | None = None,
    dataset: str | None = None,
    model: str | None = None,
    metrics: Sequence[str] | None = None,
    bins: int = 5,
    confidence: float = 0.95,
) -> Result:
    """Metrics (with intervals and support) on the slice ``where`` vs the rest, and per group of ``by`` columns.

    ``.chart()``: the slice-vs-rest comparison, or the per-group bars of the first metric with ``by``.
    """
    _fraction("slice_report", "confidence", confidence)
    from explore.slices import charts
    from explore.slices.report import SliceReportParams
    from explore.slices.report import slice_report as report

    sc = scored(ws, dataset, model=model)
    by_list = [by] if isinstance(by, str) else list(by or [])
    _check_columns(sc, by_list, "by")
    params = SliceReportParams(bins=bins, metrics=tuple(metrics) if metrics else None, confidence=confidence)
    name = _engine_dataset(ws, dataset)
    if name is not None:
        from explore.engine.report import slice_report as engine_report

        sd = as_slice(where)
        _check_columns(sc, [c.column for c in sd.conditions if not c.column.startswith("__")], "where")
        with ws.log(name) as log:
            value = engine_report(log, sd, by=by_list or None, params=params)
        rows: Any = f"{value.n_rows:,} (every row, engine)"
    else:
        sd, _ = _slice(sc, where)
        value = report(sc, sd, by=by_list or None, params=params)
        rows = value.n_rows
    grouped = value.by_group is not None and bool(by_list)
    first = value.metrics[0]
    return Result(
        title=f"Slice report: {sd.describe()}"
        + (f", by {', '.join(by_list)}" if by_list else "")
        + (", every row by the engine" if name is not None else ""),
        value=value,
        frame=(lambda: value.by_group) if grouped else (lambda: value.comparison),
        draw=(lambda: charts.group_bars(value, first))
        if grouped
        else (lambda: charts.comparison_chart(value)),
        facts={"dataset": sc.dataset_name, "rows": rows, "rows in slice": value.n_slice},
    )


def group_by(ws: Workspace, by: Sequence[str] | str, **options: Any) -> Result:
    """Metrics per group of the ``by`` columns (numbers cut into ``bins`` quantile bins): ``slice_report`` with
    ``by``; the same keyword options."""
    import inspect

    known = [p for p in inspect.signature(slice_report).parameters if p not in ("ws", "by")]
    unknown = [k for k in options if k not in known]
    if unknown:
        raise AnalysisError(
            UNKNOWN_OPTIONS.format(
                function="group_by", received=", ".join(map(repr, unknown)), known=", ".join(known)
            ),
            argument=unknown[0],
            received=unknown,
        )
    return slice_report(ws, options.pop("where", None), by=by, **options)


def discover(
    ws: Workspace,
    *,
    dataset: str | None = None,
    model: str | None = None,
    where: Any = None,
    columns: Sequence[str] | None = None,
    max_conditions: int = 2,
    min_support: int | None = None,
    fdr: float = 0.05,
    loss: str = "loss",
    progress: Progress | None = None,
) -> Result:
    """Weak slices: conjunctions of up to ``max_conditions`` conditions whose loss is significantly worse than
    the rest, with the false discovery rate controlled at ``fdr`` (Benjamini–Hochberg)."""
    from explore.slices import charts
    from explore.slices.report import weak_slices

    sc = scored(ws, dataset, model=model)
    if columns:
        _check_columns(sc, list(columns), "columns")
    name = _engine_dataset(ws, dataset)
    if name is not None:
        from explore.engine.discovery import weak_slices as engine_weak_slices
        from explore.engine.grouping import slice_where

        with ws.log(name) as log:
            value = engine_weak_slices(
                log,
                columns=list(columns) if columns else list(sc.feature_names),
                max_conditions=max_conditions,
                min_support=min_support,
                fdr=fdr,
                loss=loss,
                progress=progress,
                where=slice_where(log, as_slice(where).conditions),
            )
            n_rows = log.n
        return Result(
            title=f"Weak slices of '{name}' (FDR {fdr:g}, every row, by the engine)",
            value=value,
            frame=lambda: value.slices,
            draw=lambda: charts.discovery_chart(value),
            facts={
                "rows": f"{n_rows:,} (every row, engine)",
                "slices tested": value.n_tested,
                "significant": len(value.slices),
                "min support": value.min_support,
            },
        )
    _, in_slice = _slice(sc, where)
    value = weak_slices(
        sc,
        columns=list(columns) if columns else None,
        max_conditions=max_conditions,
        min_support=min_support,
        fdr=fdr,
        loss=loss,  # type: ignore[arg-type]
        slice_def=in_slice,
        progress=progress,
    )
    return Result(
        title=f"Weak slices of '{sc.dataset_name}' (FDR {fdr:g})",
        value=value,
        frame=lambda: value.slices,
        draw=lambda: charts.discovery_chart(value),
        facts={
            "slices tested": value.n_tested,
            "significant": len(value.slices),
            "min support": value.min_support,
        },
    )


def fairness(
    ws: Workspace,
    column: str,
    *,
    dataset: str | None = None,
    model: str | None = None,
    where: Any = None,
    threshold: float | None = None,
    positive: Any = None,
    min_support: int = 30,
    confidence: float = 0.95,
) -> Result:
    """Gaps between the groups of ``column`` in selection rate, TPR, FPR… (with Newcombe intervals); gaps above
    ``threshold`` are flagged. A classifier's ``threshold`` is a gap between rates, 0 to 1 (default 0.1); a
    regressor's is in the label's units (mean prediction, MAE gaps; default 0.2 × the label's standard deviation
    on the dataset's rows, stated in the result's facts)."""
    _fraction("fairness", "confidence", confidence)
    from explore.slices import charts
    from explore.slices.report import (
        BAD_RATE_GAP,
        DEFAULT_RATE_GAP,
        FairnessParams,
        fairness_gaps,
        fairness_threshold_text,
        regression_gap_default,
    )
    from explore.slices.report import label_std as report_label_std

    sc = scored(ws, dataset, model=model)
    _check_columns(sc, [column], "column")
    name = _engine_dataset(ws, dataset)
    label_std: float | None = None
    if sc.task == "regression":
        if name is not None:
            from explore.engine.grouping import label_std as engine_label_std

            with ws.log(name) as log:
                label_std = engine_label_std(log)
        else:
            label_std = report_label_std(sc)
        if threshold is None:
            threshold = regression_gap_default(label_std)
    elif threshold is None:
        threshold = DEFAULT_RATE_GAP
    elif isinstance(threshold, int | float) and not isinstance(threshold, bool) and threshold > 1:
        raise AnalysisError(BAD_RATE_GAP.format(task=sc.task, received=threshold, default=DEFAULT_RATE_GAP))
    params = FairnessParams(
        threshold=threshold, positive=positive, min_support=min_support, confidence=confidence
    )
    facts: dict[str, Any] = {}
    if name is not None:
        from explore.engine.grouping import fairness_gaps as engine_fairness_gaps
        from explore.engine.grouping import slice_where

        with ws.log(name) as log:
            value = engine_fairness_gaps(
                log, column, params, where=slice_where(log, as_slice(where).conditions)
            )
            facts["rows"] = f"{log.n:,} (every row, engine)"
    else:
        _, in_slice = _slice(sc, where)
        value = fairness_gaps(sc, column, params, slice_def=in_slice)
    return Result(
        title=f"Fairness gaps across '{column}'",
        value=value,
        frame=lambda: value.gaps,
        draw=lambda: charts.fairness_chart(value),
        facts={
            **facts,
            "groups": len(value.groups),
            "threshold": threshold,
            "threshold means": fairness_threshold_text(sc.task, float(threshold), label_std),
        },
    )


# ---- what if? ---------------------------------------------------------------------------------------------------


def what_if(
    ws: Workspace,
    edits: Mapping[str, Any],
    *,
    row_id: Any = None,
    position: int | None = None,
    dataset: str | None = None,
    model: str | None = None,
) -> Result:
    """The model's output on one row (by ``row_id`` or ``position``) with the feature values ``edits`` changed."""
    from explore.slices.whatif import edit_and_predict

    sc = scored(ws, dataset, model=model)
    _check_columns(sc, list(edits), "edits")
    _, est = _need_model(ws, model, "What-if")
    pos = _position(sc, row_id, position)
    value = edit_and_predict(est, sc, pos, dict(edits))
    return Result(
        title=f"What if: row {value.row_id}",
        value=value,
        frame=lambda: pd.DataFrame(
            [{"column": c, "before": old, "after": new} for c, (old, new) in value.changes.items()]
        ),
        facts={
            **_sample_facts(ws, dataset),
            "prediction before": value.original,
            "prediction after": value.edited,
            "output before": value.original_score,
            "output after": value.edited_score,
            "prediction changed": value.flipped,
        },
    )


def counterfactual(
    ws: Workspace,
    *,
    row_id: Any = None,
    position: int | None = None,
    dataset: str | None = None,
    model: str | None = None,
    norm: str = "l2",
    target: Any = None,
    where: Any = None,
) -> Result:
    """The nearest row of the dataset (in the slice ``where``) that the model predicts differently."""
    from explore.slices.whatif import nearest_counterfactual

    sc = scored(ws, dataset, model=model)
    _, in_slice = _slice(sc, where)
    pos = _position(sc, row_id, position)
    est = ws.model(_model_name(ws, model)) if ws.models else None
    value = nearest_counterfactual(sc, pos, model=est, norm=norm, target=target, slice_def=in_slice)  # type: ignore[arg-type]
    return Result(
        # The row as the caller named it: its id (what_if's title does the same), else its position.
        title=f"Nearest counterfactual of row {sc.ids[pos]}"
        if row_id is not None
        else f"Nearest counterfactual of row position {pos}",
        value=value,
        frame=lambda: value.differences,
        facts={
            **_sample_facts(ws, dataset),
            "found": value.found,
            "distance": value.distance,
            "note": value.message,
        },
    )


def ice(
    ws: Workspace,
    feature: str,
    *,
    row_id: Any = None,
    position: int | None = None,
    dataset: str | None = None,
    model: str | None = None,
    n_points: int = 25,
    cls: Any = None,
) -> Result:
    """Individual conditional expectation: one row's model output as ``feature`` sweeps its range."""
    _whole("ice", "n_points", n_points, lo=2)
    from explore.slices.whatif import ice_curve

    sc = scored(ws, dataset, model=model)
    _check_columns(sc, [feature], "feature")
    _, est = _need_model(ws, model, "ICE")
    pos = _position(sc, row_id, position)
    value = ice_curve(est, sc, pos, feature, n_points=n_points, cls=cls)
    return _dependence(value, f"ICE of '{feature}' for row position {pos}", _sample_facts(ws, dataset))


def partial_dependence(
    ws: Workspace,
    feature: str,
    *,
    dataset: str | None = None,
    model: str | None = None,
    where: Any = None,
    n_rows: int = 300,
    n_points: int = 20,
    cls: Any = None,
    seed: int = 0,
) -> Result:
    """Partial dependence of the model output on ``feature`` (mean of ICE curves over up to ``n_rows`` rows of the
    slice ``where``)."""
    _whole("partial_dependence", "n_rows", n_rows, lo=1)
    _whole("partial_dependence", "n_points", n_points, lo=2)
    _whole("partial_dependence", "seed", seed, lo=0)
    from explore.slices.whatif import DependenceParams
    from explore.slices.whatif import partial_dependence as pd_curve

    sc = scored(ws, dataset, model=model)
    _check_columns(sc, [feature], "feature")
    _, est = _need_model(ws, model, "Partial dependence")
    _, in_slice = _slice(sc, where)
    params = DependenceParams(n_rows=n_rows, n_points=n_points, cls=cls, seed=seed)
    value = pd_curve(est, sc, feature, params, slice_def=in_slice)
    return _dependence(value, f"Partial dependence on '{feature}'", _sample_facts(ws, dataset))


def _dependence(value: Any, title: str, sample: dict[str, str]) -> Result:
    from explore.slices import charts

    return Result(
        title=title,
        value=value,
        frame=lambda: value.curves,
        draw=lambda: charts.dependence_chart(value),
        facts={**sample, "output": value.output_meaning, "rows": value.n_rows},
    )


# ---- why does it predict that? ---------------------------------------------------------------------------------


def explain(
    ws: Workspace,
    *,
    dataset: str | None = None,
    model: str | None = None,
    where: Any = None,
    sample_size: int | None = None,
    approximate: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> Result:
    """SHAP values on a sample of the rows (of the slice ``where``): global importance (mean |SHAP|), with the
    additivity check. ``.chart()``: the importance bars."""
    _whole("explain", "sample_size", sample_size, lo=1, optional=True)
    _whole("explain", "seed", seed, lo=0)
    from explore.importance import charts
    from explore.importance.explain import ExplainParams, importance_table
    from explore.importance.explain import explain as shap_explain

    sc = scored(ws, dataset, model=model)
    _, est = _need_model(ws, model, "SHAP")
    sd, in_slice = _slice(sc, where)
    params = ExplainParams(sample_size=sample_size, approximate=approximate, seed=seed)
    value = shap_explain(sc, est, params, slice_def=in_slice, progress=progress)
    return Result(
        title=f"SHAP importance on {sd.describe()} of '{sc.dataset_name}'",
        value=value,
        frame=lambda: importance_table(value),
        draw=lambda: charts.importance_bars(value),
        facts={
            **_sample_facts(ws, dataset),
            "rows explained": value.sample_size,
            "explainer": value.explainer,
            "units": value.units,
        },
    )


def explain_row(
    ws: Workspace,
    *,
    row_id: Any = None,
    position: int | None = None,
    dataset: str | None = None,
    model: str | None = None,
    output: int | str = 0,
    max_features: int = 10,
) -> Result:
    """SHAP values of one row (by ``row_id`` or ``position``): ``.chart()`` is the page's waterfall."""
    _whole("explain_row", "max_features", max_features, lo=1)
    from explore.importance import charts
    from explore.importance.explain import explain as shap_explain
    from explore.importance.explain import waterfall_steps

    sc = scored(ws, dataset, model=model)
    _, est = _need_model(ws, model, "SHAP")
    pos = _position(sc, row_id, position)
    value = shap_explain(sc, est, rows=[pos])
    steps = waterfall_steps(value, row=0, output=output, max_features=max_features)
    return Result(
        title=f"Local explanation of row position {pos}",
        value=value,
        frame=steps.to_frame,
        draw=lambda: charts.waterfall(steps),
        facts={**_sample_facts(ws, dataset), "explainer": value.explainer, "units": value.units},
    )


def explain_slice(
    ws: Workspace,
    where: Any,
    *,
    reference: str | None = None,
    dataset: str | None = None,
    model: str | None = None,
    sample_size: int | None = None,
    approximate: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> Result:
    """SHAP importance in the slice ``where`` vs the rest, and its feature ranges vs ``reference`` (default the
    training dataset)."""
    _whole("explain_slice", "sample_size", sample_size, lo=1, optional=True)
    _whole("explain_slice", "seed", seed, lo=0)
    from explore.core.roles import reference_dataset
    from explore.importance import charts
    from explore.importance.explain import ExplainParams, slice_vs_rest

    sc = scored(ws, dataset, model=model)
    _, est = _need_model(ws, model, "SHAP")
    sd, in_slice = _slice(sc, where)
    if in_slice is None:
        raise AnalysisError("explain_slice needs a slice: pass where={column: value, …}.")
    ref = reference or reference_dataset(ws)
    value = slice_vs_rest(
        sc,
        est,
        in_slice,
        reference=ws.dataset(ref),
        reference_name=ref,
        description=sd.describe(),
        params=ExplainParams(sample_size=sample_size, approximate=approximate, seed=seed),
        progress=progress,
    )
    return Result(
        title=f"SHAP in {sd.describe()} vs the rest",
        value=value,
        frame=lambda: value.importance,
        draw=lambda: charts.slice_vs_rest_bars(value),
        facts={**_sample_facts(ws, [dataset, ref]), "reference": ref},
    )


# ---- does it go stale? -----------------------------------------------------------------------------------------


def _windows(ws: Workspace, spec: Any) -> tuple[Any, Any]:
    from explore.staleness import layout, windows

    timeline = windows.workspace_timeline(ws, spec.datasets, columns=layout.timeline_columns(ws))
    return timeline, layout.spec_windows(timeline, spec, label=ws.columns.label)


def performance_over_time(
    ws: Workspace,
    *,
    window: Any = "month",
    rows: int | None = None,
    datasets: Sequence[str] | str | None = None,
    model: str | None = None,
    metrics: Sequence[str] | None = None,
    where: Any = None,
    min_rows: int | None = None,
) -> Result:
    """Metrics per time window (``window="month"``, ``"week"``, a pandas offset, or ``rows=N`` equal-row windows)
    over ``datasets`` joined in time order (default all), with intervals and support."""
    from explore.staleness import charts, choices, layout, windows
    from explore.staleness.experiment import performance_over_time as pot

    spec = layout.window_spec(ws, window=window, rows=rows, datasets=datasets, min_rows=min_rows)
    if len(spec.datasets) == 1 and _engine_dataset(ws, spec.datasets[0]):
        return _engine_performance_over_time(ws, spec, metrics, where)
    _, w = _windows(ws, spec)
    parts = [scored(ws, d, model=model) for d in spec.datasets]
    sc = windows.concat_scored(parts, name=spec.name if len(parts) > 1 else spec.datasets[0])
    _, in_slice = _slice(sc, where)
    chosen = list(metrics) if metrics else choices.default_metrics(ws.task, choices.performance_metrics(sc))
    value = pot(
        sc,
        w,
        codes=windows.apply_windows(w, sc.time, where=sc.dataset_name),
        metrics=chosen,
        slice_def=in_slice,
    )
    return Result(
        title=f"Performance over time ({spec.by}) on {spec.where}",
        value=value,
        frame=lambda: value.table,
        draw=lambda: charts.performance_chart(value, chosen[0]),
        facts={**_sample_facts(ws, spec.datasets), "windows": w.n_windows, "metrics": chosen},
    )


def _engine_performance_over_time(
    ws: Workspace, spec: Any, metrics: Sequence[str] | None, where: Any
) -> Result:
    """``performance_over_time`` of one out-of-core dataset: every row, by the engine (calendar windows or equal
    rows), in the in-memory result's shape (``PerformanceOverTime``: the same ``table``, ``windows`` and ``rates``
    columns, the same default metrics; every calendar window from the first timestamp to the last, an empty one
    with support 0 and no value, as in memory)."""
    import re

    from explore.engine import charts as engine_charts
    from explore.engine.grouping import slice_where, window_counts
    from explore.engine.metrics import EngineTable, by_time_window, grouped_metrics, time_value
    from explore.staleness import choices, windows
    from explore.staleness.experiment import PerformanceOverTime, rates_from_counts
    from explore.stats.metrics import NOTE_EMPTY, metric_direction

    with ws.log(spec.datasets[0]) as log:
        grouping = by_time_window(log, spec.by, n_windows=spec.n_windows)
        in_slice = slice_where(log, as_slice(where).conditions)
        result = EngineTable(
            *grouped_metrics(log, grouping, metrics=list(metrics) if metrics else None, where=in_slice)
        )
        counts = window_counts(log, grouping, in_slice)
        if in_slice and counts.empty:  # as in memory (``_slice``): said, not an IndexError further down
            raise AnalysisError(
                f"No row of dataset '{spec.datasets[0]}' is in the slice {as_slice(where).describe()}."
            )
        # In a slice, a window's rows are still all of its rows (as in memory): one more count, without the slice.
        totals = (
            log.sql(
                f"SELECT {grouping.exprs[0]} AS start, count(*) AS n FROM rows WHERE {grouping.where or 'TRUE'} GROUP BY 1"
            ).df()
            if in_slice
            else None
        )
        n_rows = log.n
        last = (
            log.sql(f"SELECT max({time_value(log)}) FROM rows").fetchone()[0] if spec.by == "rows" else None
        )
    table = result.table
    if not metrics:  # the in-memory default: the task's main metrics among those with a value
        shown = table.groupby("metric", sort=False)["value"].apply(lambda v: bool(v.notna().any()))
        options = [m for m in shown.index if shown[m] and (metric_direction(m) is not None or "[class=" in m)]
        chosen = choices.default_metrics(ws.task, options)
    else:
        chosen = [m for m in metrics if m in set(table["metric"])] + [
            m for m in dict.fromkeys(table["metric"]) if m not in metrics
        ]
    order = {m: i for i, m in enumerate(chosen)}
    table = table[table["metric"].isin(order)]
    starts = np.sort(pd.to_datetime(result.keys["window"]).to_numpy(dtype="datetime64[ns]"))
    if (
        grouping.levels
    ):  # every window of the log (calendar: its span; equal rows: of every row), empty ones too
        starts = np.asarray(
            [re.search(r"'(.*)'", level).group(1) for level in grouping.levels], dtype="datetime64[ns]"
        )
    elif spec.by != "rows" and len(starts):
        # More windows than the engine lists in SQL (it cut them by date_trunc): every one from the log's first to
        # its last holding rows — in a slice, those of every row (``totals``), as in memory and as the listed
        # windows are: the slice's own first and last would leave out windows whose rows ``totals`` counts.
        if totals is not None and len(totals):
            starts = np.sort(pd.to_datetime(totals["start"]).to_numpy(dtype="datetime64[ns]"))
        n = _calendar_windows(starts[0], starts[-1], spec.by)
        if n > windows.MAX_WINDOWS:  # refused as in memory (``windows.time_windows``), with its message
            with ws.log(spec.datasets[0]) as log:
                t = time_value(log)
                lo, hi = log.sql(f"SELECT min({t}), max({t}) FROM rows").fetchone()
            raise AnalysisError(
                windows._too_many(
                    spec.by, np.datetime64(pd.Timestamp(lo)), np.datetime64(pd.Timestamp(hi)), n
                )
            )
        every = [starts[0]]
        while every[-1] < starts[-1]:
            every.append(windows._next(np.asarray([every[-1]]), spec.by)[0])
        starts = np.asarray(every, dtype="datetime64[ns]")
    ends = windows.window_ends(starts, spec.by, last)
    index = pd.Series(np.arange(len(starts)), index=starts)
    window_of_group = index.loc[
        pd.to_datetime(result.keys["window"]).to_numpy(dtype="datetime64[ns]")
    ].to_numpy()
    table = table.assign(window=window_of_group[table[result.code].to_numpy()])
    empty = np.setdiff1d(np.arange(len(starts)), table["window"].unique())
    if len(empty):  # a window without rows: each metric with no value and support 0, as in memory
        firsts = table.drop_duplicates("metric")
        fill = firsts.loc[firsts.index.repeat(len(empty))].assign(
            window=np.tile(empty, len(firsts)),
            value=np.nan,
            ci_low=np.nan,
            ci_high=np.nan,
            support=0,
            note=NOTE_EMPTY,
        )
        fill["n_pos"] = fill["n_pos"].where(fill["n_pos"].isna(), 0.0)
        table = pd.concat([table, fill], ignore_index=True)
    # The rows of a window: its most supported metric's (labelled rows with a prediction), as windows.table() counts.
    window_rows = table.groupby("window")["support"].max().reindex(np.arange(len(starts)), fill_value=0)
    if totals is not None:
        window_rows = pd.Series(0, index=np.arange(len(starts)), dtype="int64")
        window_rows.iloc[
            index.loc[pd.to_datetime(totals["start"]).to_numpy(dtype="datetime64[ns]")].to_numpy()
        ] = totals["n"].to_numpy(dtype="int64")
    wt = windows.window_table(
        starts,
        ends,
        [windows._label(a, spec.by, b) for a, b in zip(starts, ends, strict=True)],
        window_rows.to_numpy(dtype="int64"),
        spec.min_rows,
    ).rename(columns={"rows": "window_rows"})
    table = (
        table.drop(columns=[result.code])
        .assign(_order=table["metric"].map(order))
        .sort_values(["window", "_order"], kind="stable")
        .drop(columns="_order")
        .merge(wt[["window", "label", "start", "end", "window_rows"]], on="window")
    )
    table = table[["window", *[c for c in table.columns if c != "window"]]].reset_index(drop=True)
    table["too_few"] = table["support"] < spec.min_rows
    rates = rates_from_counts(ws.task, ws.classes, ws.positive_index, counts, index, wt, spec.min_rows)
    value = PerformanceOverTime(
        table=table, rates=rates, windows=wt, metrics=chosen, task=ws.task, in_slice=where is not None
    )
    first = chosen[0]
    return Result(
        title=f"Performance over time ({spec.by}) on {spec.where}, every row by the engine",
        value=value,
        frame=lambda: value.table,
        draw=lambda: engine_charts.metric_over_time_chart(result, first),
        facts={
            "windows": len(starts),
            "metrics": chosen,
            "rows": f"{n_rows:,} (every row, engine)",
        },
    )


def _calendar_windows(first: np.datetime64, last: np.datetime64, by: str) -> int:
    """Calendar windows from the one starting at ``first`` to the one starting at ``last``, both included (as
    ``explore.staleness.windows`` counts them before refusing more than ``MAX_WINDOWS``)."""
    if by in ("month", "quarter", "year"):
        step = {"month": 1, "quarter": 3, "year": 12}[by]
        months = [np.datetime64(t, "M").astype("int64") for t in (first, last)]
        return int((months[1] - months[0]) // step + 1)
    step = {"week": 7 * 86_400, "day": 86_400, "hour": 3_600}.get(by, 86_400)
    seconds = [np.datetime64(t, "s").astype("int64") for t in (first, last)]
    return int((seconds[1] - seconds[0]) // step + 1)


def staleness_experiment(
    ws: Workspace,
    *,
    cutoffs: Sequence[Any] | None = None,
    window: Any = "month",
    rows: int | None = None,
    datasets: Sequence[str] | str | None = None,
    model: str | None = None,
    train_span: int | None = None,
    metric: str | None = None,
    criterion: str = "gap",
    threshold: float | None = None,
    horizon: int | None = None,
    persistence: int = 2,
    max_fit_rows: int | None = None,
    max_eval_rows: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Result:
    """Refit a clone of the model on ``train_span`` windows ending at each training cutoff, evaluate it on every
    later window next to a fresh model: how fast does not retraining cost ``threshold`` of ``metric``?

    ``cutoffs``: dates (``"1997-03"``, ``"2024-02-15"``, Timestamps: training ends at the start of the window
    holding the date) or window indices; default the page's (three spread over the first half). ``window``:
    ``"month"``, ``"week"``, ``"day"``, ``"quarter"`` or a one-period pandas offset; ``rows=N``: N equal-row
    windows. ``datasets``: the labelled rows joined in time order (default all). ``train_span``: windows per
    training span (default the page's). ``metric`` / ``threshold``: default the page's for the task.
    """
    _whole("staleness_experiment", "train_span", train_span, lo=1, optional=True)
    _whole("staleness_experiment", "horizon", horizon, lo=1, optional=True)
    _whole("staleness_experiment", "persistence", persistence, lo=1)
    _whole("staleness_experiment", "max_fit_rows", max_fit_rows, lo=1, optional=True)
    _whole("staleness_experiment", "max_eval_rows", max_eval_rows, lo=1, optional=True)
    _whole("staleness_experiment", "seed", seed, lo=0)
    if criterion == "gap" and isinstance(threshold, int | float) and not threshold > 0:
        accepted = "a positive number with criterion='gap' (the metric lost against a fresh model, e.g. 0.02)"
        raise _bad("staleness_experiment", "threshold", accepted, threshold)
    from explore.staleness import charts, choices, layout, runs, windows
    from explore.staleness.experiment import (
        DEFAULT_MAX_EVAL_ROWS,
        DEFAULT_MAX_FIT_ROWS,
        StalenessParams,
        default_threshold,
        experiment_metric_options,
    )

    model_name, est = _need_model(ws, model, "The staleness experiment")
    spec = layout.window_spec(ws, window=window, rows=rows, datasets=datasets, labelled_only=True)
    timeline, w = _windows(ws, spec)
    span = train_span if train_span is not None else layout.default_span(w.n_windows)
    cut = (
        layout.cutoff_windows(w, cutoffs, span=span)
        if cutoffs is not None
        else tuple(layout.default_cutoffs(w.n_windows, span))
    )
    options = experiment_metric_options(ws.task, est)
    chosen = metric or options[choices.default_metric_index(ws.task, options)]
    if threshold is None:
        parts = [scored(ws, d, model=model_name) for d in spec.datasets]
        joined = windows.concat_scored(parts, name=spec.name if len(parts) > 1 else spec.datasets[0])
        threshold = default_threshold(chosen, criterion, choices.current_value(joined, chosen))
    params = StalenessParams(
        cutoffs=cut,
        train_windows=span,
        metric=chosen,
        criterion=criterion,
        threshold=float(threshold),
        horizon=horizon,
        max_fit_rows=max_fit_rows or DEFAULT_MAX_FIT_ROWS,
        max_eval_rows=max_eval_rows or DEFAULT_MAX_EVAL_ROWS,
        persistence=persistence,
        seed=seed,
    )
    value = runs.run_on_workspace(
        ws, est, timeline.frame, w, params, codes=windows.apply_windows(w, timeline.time), progress=progress
    )
    return Result(
        title=f"Staleness experiment ({chosen}, {spec.by} windows, cutoffs {', '.join(w.labels[c] for c in cut)})",
        value=value,
        frame=lambda: value.per_cutoff,
        draw=lambda: charts.staleness_chart(value),
        facts={
            **_sample_facts(ws, spec.datasets),
            "time to stale": charts.time_to_stale_sentence(value),
            "fits": len(value.fits),
        },
    )


def drift(
    ws: Workspace,
    *,
    window: Any = "month",
    rows: int | None = None,
    datasets: Sequence[str] | str | None = None,
    reference: str | None = None,
    features: Sequence[str] | None = None,
    exact: bool = False,
    sample: float | None = None,
) -> Result:
    """PSI / KS / JS of every feature in every window against ``reference`` (a dataset; default the training
    data). ``.chart()``: the page's features x windows heatmap (most drifting features).

    A dataset read by the engine with more than ``explore.engine.drift.DRIFT_EXACT_ROWS`` rows is measured on a
    deterministic uniform sample of its rows (1-in-k, every window keeping at least 200,000 rows; ``facts["sample"]``
    says so, ``value.sample`` holds the counts); ``exact=True`` reads every row, ``sample=`` a fraction in (0, 1]
    chooses the share. In memory every row is read."""
    from explore.core.roles import reference_dataset
    from explore.engine.drift import check_fraction
    from explore.staleness import charts, layout, windows
    from explore.staleness.drift import drift_by_window, reference_profile

    if not isinstance(exact, bool):
        raise AnalysisError(f"exact must be True or False; received {exact!r}.")
    sample = check_fraction(sample)
    if exact and sample is not None and sample < 1:
        raise AnalysisError(
            f"exact=True reads every row, sample={sample!r} a share of them: give one of the two."
        )
    spec = layout.window_spec(ws, window=window, rows=rows, datasets=datasets)
    ref = reference or reference_dataset(ws)
    feats = list(features) if features else list(ws.feature_names)
    if len(spec.datasets) == 1 and _engine_dataset(ws, spec.datasets[0]):
        return _engine_drift(ws, spec, ref, feats, exact=exact, fraction=sample)
    timeline, w = _windows(ws, spec)
    profile = reference_profile(ws.dataset(ref), features=feats, name=ref)
    value = drift_by_window(
        profile, timeline.frame, windows.apply_windows(w, timeline.time), w.n_windows, features=feats
    )
    return Result(
        title=f"Drift per {spec.by} against '{ref}'",
        value=value,
        frame=lambda: value.table,
        draw=lambda: charts.drift_heatmap(value, w.labels, too_few=w.too_few),
        facts={**_sample_facts(ws, [*spec.datasets, ref]), "windows": w.n_windows, "features": len(feats)},
    )


def _engine_drift(
    ws: Workspace,
    spec: Any,
    ref: str,
    features: list[str],
    *,
    exact: bool = False,
    fraction: float | None = None,
) -> Result:
    """``drift`` of one out-of-core dataset by the engine (calendar windows, or ``rows=N`` equal-row windows), on a
    deterministic row sample above ``DRIFT_EXACT_ROWS`` rows unless ``exact`` (``explore.engine.drift.drift_matrix``),
    against ``ref``: the dataset itself (profiled on the same rows), another out-of-core dataset (profiled by the
    engine on every row) or an in-memory one. ``value``: the in-memory ``DriftResult`` (``table`` with a ``window``
    code and ``ks_method``; ``sample``); ``.to_frame()`` adds each window's start."""
    from explore.engine import charts as engine_charts
    from explore.engine import drift as engine_drift
    from explore.engine.metrics import EngineTable, by_time_window
    from explore.staleness.drift import reference_profile

    dataset = spec.datasets[0]
    profile = None
    if ref == dataset:
        pass  # the log's own rows: profiled by drift_matrix, on its sample when it samples
    elif ws.is_out_of_core(ref):
        with ws.log(ref) as ref_log:
            profile = engine_drift.reference_profile(ref_log, features=features, name=ref)
        ref_rows = f"{profile.n_rows:,} (every row, engine)"
    else:
        profile = reference_profile(ws.dataset(ref), features=features, name=ref)
        ref_rows = f"{profile.n_rows:,}"
    with ws.log(dataset) as log:
        keys, value = engine_drift.drift_matrix(
            log,
            by_time_window(log, spec.by, n_windows=spec.n_windows),
            features=features,
            reference_where="TRUE" if profile is None else None,
            profile=profile,
            name=ref,
            exact=exact,
            fraction=fraction,
        )
        n_rows = log.memo.get("count(*)") or log.n
    sampled = value.sample
    if profile is None:
        ref_rows = f"{value.reference.n_rows:,} ({'the sample' if sampled else 'every row'}, engine)"
    result = EngineTable(keys, value.table, code="window")
    how = "on a uniform row sample by the engine" if sampled else "every row by the engine"
    facts: dict[str, Any] = {
        "rows": f"{sampled.rows:,} of {n_rows:,} ({sampled.share()}, engine)"
        if sampled
        else f"{n_rows:,} (every row, engine)",
        "reference rows": ref_rows,
        "windows": len(keys),
        "features": len(features),
    }
    if sampled:
        facts["sample"] = sampled.sentence()
        facts["smallest window (sampled rows)"] = f"{sampled.smallest_window:,}"
    return Result(
        title=f"Drift per {spec.by} against '{ref}', {how}",
        value=value,
        frame=lambda: value.table.assign(window_start=result.key("window")),
        draw=lambda: engine_charts.drift_heatmap(result, "psi"),
        facts=facts,
    )


# ---- are the labels right? -------------------------------------------------------------------------------------


def label_annotations(ws: Workspace) -> Any:
    """The workspace's annotations joined to their dataset (``Annotations``). Not available when that dataset stays
    out of core: its items would be joined to the engine's sample and most of them lost."""
    from explore.labels.crowd import workspace_annotations

    spec = ws.config.annotations
    dataset = getattr(spec, "dataset", None)
    if dataset and dataset in ws.dataset_names and ws.is_out_of_core(dataset):
        raise AnalysisError(
            ANNOTATIONS_OUT_OF_CORE.format(dataset=dataset, sample=_sample_text(ws.samples[dataset]))
        )
    return workspace_annotations(ws)


def agreement(ws: Workspace, *, min_shared: int = 10) -> Result:
    """Inter-annotator agreement: Krippendorff's alpha, Fleiss' kappa and pairwise Cohen's kappa."""
    _whole("agreement", "min_shared", min_shared, lo=1)
    from explore.labels import charts
    from explore.labels.crowd import agreement as compute

    value = compute(label_annotations(ws), min_shared=min_shared)
    return Result(
        title="Labeler agreement",
        value=value,
        frame=lambda: value.pairwise,
        draw=lambda: charts.kappa_heatmap(value),
        facts={
            "items": value.n_items,
            "Krippendorff's alpha": value.alpha,
            "Fleiss' kappa": value.fleiss_kappa,
        },
    )


def consensus(ws: Workspace) -> Result:
    """The Dawid–Skene consensus label of every annotated item, with its posterior confidence."""
    from explore.labels.crowd import consensus as compute

    ann = label_annotations(ws)
    value = compute(ann)
    categories = list(ann.categories)

    def frame() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "item": ann.item_keys,
                "consensus": [categories[i] for i in value.label],
                "confidence": value.confidence,
                "majority": [categories[i] for i in value.majority],
                "tie": value.tie,
            }
        )

    return Result(
        title=f"Consensus ({value.method})",
        value=value,
        frame=frame,
        facts={"items": len(value.label), "converged": value.converged, "ties": value.n_ties},
    )


def labeler_trust(ws: Workspace, *, threshold: float = 0.8) -> Result:
    """Each labeler's accuracy against the consensus, with intervals; below ``threshold`` is flagged."""
    from explore.labels import charts
    from explore.labels.crowd import consensus as compute
    from explore.labels.crowd import labeler_trust as trust

    ann = label_annotations(ws)
    value = trust(ann, compute(ann), threshold=threshold)
    return Result(
        title="Labeler trust",
        value=value,
        frame=lambda: value.table,
        draw=lambda: charts.trust_chart(value),
        facts={"labelers": len(value.table), "threshold": threshold},
    )


def label_queue(
    ws: Workspace,
    *,
    model: str | None = None,
    review: str = "dataset",
    combine: str = "posterior",
    model_weight: float = 1.0,
    model_score: str = "self_confidence",
) -> Result:
    """Annotated items ranked by how likely their label is wrong (consensus and the model's probabilities)."""
    from explore.labels import charts
    from explore.labels.crowd import consensus as compute
    from explore.labels.crowd import model_probabilities, rank_queue

    ann = label_annotations(ws)
    name = _model_name(ws, model)
    if name is not None and not hasattr(ws.model(name), "predict_proba"):
        raise ModelError(
            NO_PROBA.format(
                what="Ranking the label queue with the model",
                model=name,
                kind=type(ws.model(name)).__name__,
                instead="label_queue(ws, model=…) with another model version",
            )
        )
    probs = model_probabilities(ws, ann, model=name)
    value = rank_queue(
        ann,
        compute(ann),
        probs,
        review=review,  # type: ignore[arg-type]
        combine=combine,  # type: ignore[arg-type]
        model_weight=model_weight,
        model_score=model_score,  # type: ignore[arg-type]
    )
    return Result(
        title="Label review queue",
        value=value,
        frame=lambda: value.frame,
        draw=lambda: charts.queue_histogram(value),
        facts={"items": len(value.frame), "probabilities": value.probability_source},
    )


def start_spot_check(
    ws: Workspace,
    *,
    name: str,
    reviewer: str,
    size: int = 50,
    mode: str = "queue",
    seed: int = 0,
    store: Any = None,
    model: str | None = None,
) -> int:
    """Start a spot-check session of ``size`` items from the label queue (``mode="queue"``: the top of the
    queue; ``"random"``: a stratified random sample) in the app's store; return its id (open it on the Labels
    page, or give verdicts with ``record_verdict``)."""
    _whole("start_spot_check", "size", size, lo=1)
    _whole("start_spot_check", "seed", seed, lo=0)
    from explore.core.store import Store
    from explore.labels import spot_check
    from explore.labels.model_view import ModelView

    queue = label_queue(ws, model=model)
    name_m = _model_name(ws, model)
    view = ModelView(
        "model" if name_m else ("columns" if ws.columns.prediction or ws.columns.score else "none"), name_m
    )
    settings = spot_check.queue_settings(
        queue.value, review="dataset", view=view, classes=[], labelers=[], batches=[]
    )
    started = spot_check.start_session(
        store if store is not None else Store(),
        ws,
        label_annotations(ws),
        queue.value.frame,
        settings,
        name=name,
        mode=mode,
        size=size,
        seed=seed,
        reviewer=reviewer,
    )
    return started.id


def spot_check_items(session_id: int, *, store: Any = None) -> pd.DataFrame:
    """The items of a spot-check session, in review order, with the verdicts given so far."""
    from explore.core.store import Store
    from explore.labels.review import load_session

    session = load_session(store if store is not None else Store(), session_id)
    items = pd.DataFrame({"key": session.items.keys, "label": session.items.labels})
    if session.items.strata is not None:
        items["stratum"] = session.items.strata
    verdicts = session.verdicts[["key", "verdict", "corrected_label", "note", "author"]]
    return items.merge(verdicts, on="key", how="left")


def record_verdict(
    session_id: int,
    key: str,
    verdict: str,
    *,
    reviewer: str,
    corrected_label: str | None = None,
    note: str = "",
    store: Any = None,
) -> int:
    """Record a spot-check verdict (``"correct"``, ``"wrong"``, ``"unsure"``…) on item ``key`` of a session, in
    the app's store (append-only: a later verdict on the same item supersedes, history is kept)."""
    from explore.core.store import Store
    from explore.labels.review import load_session
    from explore.labels.review import record_verdict as record

    store = store if store is not None else Store()
    return record(
        store,
        load_session(store, session_id),
        key,
        verdict,
        corrected_label=corrected_label,
        note=note,
        reviewer=reviewer,
    )


def spot_check_summary(session_id: int, *, store: Any = None, confidence: float = 0.95) -> Result:
    """The error rate a session estimates (with its interval) and the corrections so far."""
    from explore.core.store import Store
    from explore.labels import charts
    from explore.labels.review import load_session, summarize

    value = summarize(
        load_session(store if store is not None else Store(), session_id), confidence=confidence
    )
    return Result(
        title=f"Spot-check session {session_id}",
        value=value,
        frame=lambda: value.corrections,
        draw=lambda: charts.precision_curve(value),
    )


# ---- may it ship? how ready are we? ----------------------------------------------------------------------------


def run_checks(
    ws: Workspace,
    names: Sequence[str] | None = None,
    *,
    dataset: str | None = None,
    train: str | None = None,
    serving: str | None = None,
    thresholds: str | None = None,
    fdr: float = 0.05,
    fairness: Sequence[str] = (),
    fairness_max_gap: float | None = None,
    fail_on_weak_slices: bool = False,
    max_overlap: float | None = None,
) -> Result:
    """Run the ``explore check`` checks by name (default: every cheap one) on the workspace's datasets (by
    their roles, unless named); each is passed / failed / skipped / error with its reason. ``fairness_max_gap``:
    the largest allowed gap between groups — between rates (classifiers, default 0.1), or in the label's units
    (regressors: no default, the fairness check is skipped without one). ``max_overlap``: the largest share (0 to
    1) of an evaluation dataset's rows that may equal a training row (the ``overlap`` check, as
    ``--max-overlap``; default 0.05)."""
    from pathlib import Path

    from explore.checks.overlap import BAD_MAX_SHARE
    from explore.checks.registry import CHECKS, CheckContext
    from explore.checks.registry import run_checks as run
    from explore.core import roles

    if max_overlap is not None and (
        isinstance(max_overlap, bool) or not isinstance(max_overlap, int | float) or not 0 <= max_overlap <= 1
    ):
        raise AnalysisError("max_overlap: " + BAD_MAX_SHARE.format(received=max_overlap))
    chosen = list(names) if names else [n for n, c in CHECKS.items() if c.cheap]
    unknown = [n for n in chosen if n not in CHECKS]
    if unknown:
        raise AnalysisError(f"Unknown checks: {', '.join(map(repr, unknown))}. Known: {', '.join(CHECKS)}.")
    for d in (dataset, train, serving):
        if d is not None:
            ws.dataset(d)
    ctx = CheckContext(
        ws=ws,
        eval_dataset=dataset or roles.evaluation_dataset(ws),
        train_dataset=train or roles.training_dataset(ws),
        serving_dataset=serving or roles.serving_dataset(ws),
        thresholds=Path(thresholds) if thresholds else ws.config.checks.thresholds,
        options={
            "fdr": fdr,
            "fairness": list(fairness),
            "fairness_max_gap": fairness_max_gap,
            "fail_on_weak_slices": fail_on_weak_slices,
            **({"max_overlap": float(max_overlap)} if max_overlap is not None else {}),
        },
    )
    value = run(ctx, chosen)
    counts = pd.Series([r.status for r in value]).value_counts().to_dict()
    return Result(
        title="Checks",
        value=value,
        frame=lambda: pd.DataFrame(
            [
                {"check": r.name, "tests": ", ".join(r.tests), "status": r.status, "message": r.message}
                for r in value
            ]
        ),
        facts={k: int(v) for k, v in counts.items()},
    )


def rubric_review(ws: Workspace | None, review_id: int, *, store: Any = None) -> Result:
    """A rubric review as the page shows it: the 28 ML Test Score tests with their status and what the evidence
    in the store proposes (snapshots attached, `explore check` runs). ``.chart()``: the section bars."""
    from explore.checks.registry import tests_covered
    from explore.core.store import Store
    from explore.rubric import charts
    from explore.rubric.board import review_board
    from explore.rubric.ml_test_score import TESTS

    board = review_board(
        store if store is not None else Store(), review_id, workspace=ws, automatable=tests_covered()
    )

    def frame() -> pd.DataFrame:
        rows = []
        for t in TESTS:
            prop = board.proposals.get(t.id)
            rows.append(
                {
                    "test": t.id,
                    "name": t.name,
                    "status": board.score.statuses.get(t.id, ""),
                    "proposed": getattr(prop, "proposed", None) or "",
                }
            )
        return pd.DataFrame(rows)

    return Result(
        title=f"Rubric review {review_id}",
        value=board,
        frame=frame,
        draw=lambda: charts.section_bars(board.score),
        facts={"score": board.score.final, "band": board.score.band.words},
    )


def start_review(
    name: str,
    *,
    model_version: str,
    store: Any = None,
    carry_from: int | None = None,
    ws: Workspace | None = None,
) -> int:
    """Start a rubric review in the app's store; return its id. ``ws``: the workspace it reviews (``explore
    report`` on that workspace then reports this review when it is the workspace's newest)."""
    from explore.core.store import Store
    from explore.rubric.ml_test_score import start_review as start

    return start(
        store if store is not None else Store(),
        name,
        model_version,
        carry_from=carry_from,
        workspace=str(ws.config.path) if ws is not None else None,
    )


def confirm(
    review_id: int,
    test_id: str,
    *,
    status: str,
    author: str,
    evidence: str = "",
    links: Sequence[str] = (),
    store: Any = None,
) -> int:
    """Confirm a rubric test (id such as ``"data-1"``) as ``"not_done"``, ``"manual"`` or ``"automated"`` with the evidence,
    in the app's store (append-only, with author and time)."""
    from explore.core.store import Store
    from explore.rubric.ml_test_score import confirm_test

    return confirm_test(
        store if store is not None else Store(),
        review_id,
        test_id,
        status=status,
        author=author,
        evidence_text=evidence,
        links=list(links),
    )


__all__ = [
    "Result",
    "agreement",
    "label_annotations",
    "as_slice",
    "confirm",
    "consensus",
    "counterfactual",
    "discover",
    "drift",
    "explain",
    "explain_row",
    "explain_slice",
    "fairness",
    "group_by",
    "ice",
    "label_queue",
    "labeler_trust",
    "partial_dependence",
    "performance_over_time",
    "record_verdict",
    "rubric_review",
    "run_checks",
    "scored",
    "slice_report",
    "spot_check_items",
    "spot_check_summary",
    "staleness_experiment",
    "start_review",
    "start_spot_check",
    "what_if",
]
