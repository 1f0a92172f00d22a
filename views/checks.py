"""Checks: the tests before a model is served — candidate vs previous vs a fixed reference model, a simpler
baseline, reproducibility, model-spec checks, expectation suites for data, training/serving skew,
compatibility and key examples, numerical stability and serving cost. Guide: docs/checks.md."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from explore.checks import baseline as B
from explore.checks import charts
from explore.checks import compare as C
from explore.checks import compatibility as K
from explore.checks import expectations as X
from explore.checks import model_spec as SP
from explore.checks import reproducibility as R
from explore.checks import serving_skew as SK
from explore.checks import stability as STB
from explore.core.roles import evaluation_datasets
from explore.errors import ExploreError
from explore.slices.definition import SliceDefinition
from ui import evidence, loaders, state
from ui.boundary import shown_errors

st.title("Checks")
st.caption(
    "The tests before a model is served: is the new model worse than the previous one — or than a fixed older one, "
    "so that small allowed steps cannot add up — on any metric, slice or dataset? Is it better than a simple model? "
    "Is training reproducible, does the data meet its expectations, do training and serving agree, will it run here, "
    "and what does it cost? See docs/checks.md."
)

with shown_errors():
    ws = loaders.open_current()

SECTIONS = [
    "Comparison",
    "Baseline",
    "Reproducibility",
    "Model spec",
    "Expectations",
    "Skew & shadow",
    "Compatibility",
    "Stability",
    "Cost",
]
section = st.radio("Section", SECTIONS, horizontal=True, key="checks_section", label_visibility="collapsed")
HAS_MODELS = bool(ws.models)
WS_KEY = ws.key
WORKSPACE = str(ws.config.path)


def _scorer(dataset: str, model: str | None) -> Any:
    return loaders.scored(dataset, model, ws)


def _run(label: str, fn: Callable[[Callable[[float, str], None]], Any]) -> Any:
    """Run ``fn(progress)`` with a progress bar inside ``st.status``; None when it raised an ExploreError (shown)."""
    result = None
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)
        with shown_errors(stop=False):
            result = fn(lambda f, m: bar.progress(min(max(float(f), 0.0), 1.0), text=m))
        if result is None:
            status.update(label=f"{label} — stopped", state="error", expanded=True)
        else:
            status.update(label=f"{label} — done", state="complete", expanded=False)
    return result


def _keep(name: str, params: dict[str, Any], result: Any) -> None:
    """Keep the result for this session (and its JSON in the store, so it survives a restart)."""
    st.session_state[f"checks_result_{name}"] = {"ws": WS_KEY, "params": params, "result": result}
    try:
        loaders.store().save_experiment(
            workspace=WORKSPACE,
            kind=f"checks-{name}",
            key=json.dumps(params, sort_keys=True, default=str),
            params=params,
            result=result.to_dict(),
        )
    except ExploreError as exc:
        st.caption(f"The result could not be kept in the store ({exc}); it stays available in this session.")


def _kept(name: str, params: dict[str, Any]) -> Any:
    """The kept result of section ``name`` for this workspace, with a note when the settings changed since."""
    kept = st.session_state.get(f"checks_result_{name}")
    if not kept or kept["ws"] != WS_KEY:
        return None
    if kept["params"] != params:
        st.caption("The settings changed since the last run: run again to update the results below.")
    return kept["result"]


def _verdict(passed: bool | None, text: str) -> None:
    if passed is True:
        st.success(text, icon=":material/check_circle:")
    elif passed is False:
        st.error(text, icon=":material/cancel:")
    else:
        st.warning(text, icon=":material/help:")


def _exports(
    name: str,
    title: str,
    summary: str,
    tables: dict[str, pd.DataFrame],
    result: dict[str, Any],
    *,
    kind: str,
    tests: list[str],
    params: dict[str, Any],
    dataset: str | None,
) -> None:
    """CSV (first table), Markdown (all tables), JSON downloads and the evidence button."""
    first = next(iter(tables.values())) if tables else pd.DataFrame()
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    c1.download_button(
        "CSV",
        first.to_csv(index=False),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"checks_dl_csv_{name}",
        icon=":material/download:",
    )
    c2.download_button(
        "Markdown",
        charts.markdown_report(title, summary, tables),
        file_name=f"{name}.md",
        mime="text/markdown",
        key=f"checks_dl_md_{name}",
        icon=":material/download:",
    )
    c3.download_button(
        "JSON",
        json.dumps(result, indent=2, default=str),
        file_name=f"{name}.json",
        mime="application/json",
        key=f"checks_dl_json_{name}",
        icon=":material/download:",
    )
    with c4:
        evidence.attach_button(
            kind=kind,
            tests=tests,
            title=title,
            params=params,
            result=result,
            dataset=dataset,
            key=f"checks_evidence_{name}",
        )


def _no_model(what: str) -> bool:
    if not HAS_MODELS:
        st.info(
            f"{what} needs the model file itself, and this workspace is predictions-only. Add [model] path = "
            '"model.skops" to workspace.toml to enable it.',
            icon=":material/info:",
        )
        return True
    return False


def _slice_options() -> list[str]:
    first = ws.dataset(ws.dataset_names[0])
    skip = {
        ws.columns.label,
        ws.columns.id,
        ws.columns.prediction,
        ws.columns.score,
        *ws.columns.scores.values(),
    }
    return [c for c in first.columns if c not in skip]


def _suggested_slices() -> list[str]:
    """With no configured slice columns: the first two text features with at most 10 groups (on 10,000 rows)."""
    kept = st.session_state.get("checks_suggested_slices")
    if kept and kept[0] == WS_KEY:
        return kept[1]
    first = ws.dataset(ws.dataset_names[0]).head(10_000)
    out = []
    for c in ws.feature_names:
        s = first[c]
        if not pd.api.types.is_numeric_dtype(s.dtype) and s.nunique(dropna=True) <= 10:
            out.append(c)
        if len(out) == 2:
            break
    st.session_state["checks_suggested_slices"] = (WS_KEY, out)
    return out


def _train_default() -> str:
    try:
        return B.training_dataset(ws)
    except ExploreError:
        return ws.dataset_names[0]


def _index(options: list[str], value: str | None) -> int:
    return options.index(value) if value in options else 0


# ---- comparison --------------------------------------------------------------------------------------------


def _mtime(path: Any) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def _thresholds_base() -> C.Thresholds:
    """The threshold file (re-read when it changes on disk), else the defaults for the task."""
    stamp = (WS_KEY, _mtime(C.default_thresholds_path(ws)))
    kept = st.session_state.get("checks_thresholds_base")
    if kept and kept[0] == stamp:
        return kept[1]
    with shown_errors(stop=False):
        th = C.thresholds_for(ws)
        st.session_state["checks_thresholds_base"] = (stamp, th)
        st.session_state.pop("checks_thresholds_editor", None)
        return th
    return C.default_thresholds(ws.task)


def comparison_section() -> None:
    st.subheader("Candidate vs previous vs a fixed reference")
    if _no_model("Model comparison"):
        return
    if len(ws.models) < 2:
        st.info(
            C.NEED_TWO_MODELS.format(detail=f"this workspace has only the model '{ws.model_names[0]}'"),
            icon=":material/info:",
        )
        return
    base = _thresholds_base()
    models = ws.model_names
    c1, c2, c3 = st.columns(3)
    candidate = c1.selectbox(
        "Candidate", models, index=_index(models, base.candidate or "current"), key="checks_cmp_candidate"
    )
    others = [m for m in models if m != candidate]
    prev_default = (
        base.previous if base.previous in others else ("previous" if "previous" in others else others[0])
    )
    previous = c2.selectbox(
        "Previous model",
        ["(none)", *others],
        index=_index(["(none)", *others], prev_default),
        key="checks_cmp_previous",
        help="The model in production now: guards against a sudden drop.",
    )
    reference = c3.selectbox(
        "Fixed reference model",
        ["(none)", *others],
        index=_index(["(none)", *others], base.reference),
        key="checks_cmp_reference",
        help="An older model kept fixed across releases: catches a slow slide of small allowed drops.",
    )
    d1, d2 = st.columns(2)
    datasets = d1.multiselect(
        "Datasets", ws.dataset_names, default=evaluation_datasets(ws), key="checks_cmp_datasets"
    )
    options = _slice_options()
    default_slices = [
        c for c in (base.slices or ws.config.checks.slices) if c in options
    ] or _suggested_slices()
    slice_cols = d2.multiselect(
        "Slice columns",
        options,
        default=default_slices,
        key="checks_cmp_slices",
        help="Every group of these columns gets its own cells (numbers in quartile bins).",
    )
    saved: list[SliceDefinition] = []
    with shown_errors(stop=False):
        rows = loaders.store().list_slices(WORKSPACE)
        names = [r["name"] for r in rows]
        chosen = st.multiselect(
            "Saved slices", names, key="checks_cmp_saved", help="Slices saved on the Slices page."
        )
        saved = [
            SliceDefinition.from_dict({**r["definition"], "name": r["name"]})
            for r in rows
            if r["name"] in chosen
        ]
    current = st.session_state.get(state.SLICE)
    if current:
        with shown_errors(stop=False):
            sd = SliceDefinition.from_json(current)
            if not sd.is_everything and st.checkbox(
                f"Also the current slice: {sd.describe()}", key="checks_cmp_current"
            ):
                saved.append(dataclasses.replace(sd, name=sd.name or sd.describe()))
    m1, m2 = st.columns([3, 1])
    metrics = m1.multiselect(
        "Metrics",
        list(C.PAIRED_METRICS[ws.task]),
        default=list(C.PAIRED_METRICS[ws.task]),
        key="checks_cmp_metrics",
    )
    confidence = m2.select_slider(
        "Confidence",
        [0.8, 0.9, 0.95, 0.99],
        value=base.confidence if base.confidence in (0.8, 0.9, 0.95, 0.99) else 0.95,
        key="checks_cmp_confidence",
    )

    with st.expander(
        f"Thresholds — from {'the defaults' if base.source == 'defaults' else base.source}",
        icon=":material/tune:",
    ):
        st.caption(
            "Allowed worsening of the candidate per metric: a number in the metric's units (0.01 = one point of accuracy) "
            'or a percentage of the other model\'s value ("5%"). vs_previous / vs_reference: against each model; gap: a '
            'slice group\'s distance to the rest of the data. A row with a dataset or slice ("device", "device = tablet", '
            "a saved slice's name) overrides the metric's default there. A cell fails when its whole interval is beyond."
        )
        edited = st.data_editor(
            base.rules_frame(),
            num_rows="dynamic",
            hide_index=True,
            key="checks_thresholds_editor",
            column_config={
                "metric": st.column_config.SelectboxColumn(
                    "metric", options=list(C.PAIRED_METRICS[ws.task]), required=True
                ),
                "dataset": st.column_config.TextColumn("dataset", default="*", help="* = every dataset"),
                "slice": st.column_config.TextColumn("slice", default="*", help="* = every slice"),
            },
        )
    th = base
    with shown_errors(stop=False):
        th = C.thresholds_from_frame(edited, base)
    th = dataclasses.replace(
        th,
        candidate=candidate if candidate != "current" else None,
        previous=None if previous == "(none)" else previous,
        reference=None if reference == "(none)" else reference,
        confidence=float(confidence),
        slices=tuple(slice_cols),
        source=base.source,
    )
    path = C.default_thresholds_path(ws)
    s1, s2 = st.columns(2)
    if s1.button(f"Save thresholds to {path.name}", key="checks_thresholds_save", icon=":material/save:"):
        with shown_errors(stop=False):
            C.save_thresholds(th, path)
            st.session_state["checks_thresholds_base"] = (
                (WS_KEY, _mtime(path)),
                # The editor's edits stay relative to the same base table, so the base is kept (new source only).
                dataclasses.replace(base, source=str(path)),
            )
            st.success(f"Saved {path}. Commit it with your model code.", icon=":material/check:")
            if ws.config.checks.thresholds is None:
                st.info("Reference it from workspace.toml so checks use it:", icon=":material/info:")
                st.code(f'[checks]\nthresholds = "{path.name}"', language="toml")
    s2.download_button(
        "Download thresholds.toml",
        th.to_toml(),
        file_name="thresholds.toml",
        mime="application/toml",
        key="checks_thresholds_download",
        icon=":material/download:",
    )

    params = {
        "candidate": candidate,
        "previous": previous,
        "reference": reference,
        "datasets": datasets,
        "slices": slice_cols,
        "saved": [s.name for s in saved],
        "metrics": metrics,
        "confidence": confidence,
        "thresholds": th.to_dict(),
    }
    if previous == "(none)" and reference == "(none)":
        st.info("Pick a previous model, a fixed reference model, or both.", icon=":material/info:")
        return
    if st.button(
        "Compare",
        type="primary",
        key="checks_cmp_run",
        icon=":material/compare_arrows:",
        disabled=not datasets or not metrics,
    ):
        res = _run(
            "Comparing models",
            lambda p: C.compare_models(
                ws,
                candidate=candidate,
                previous="" if previous == "(none)" else previous,
                reference="" if reference == "(none)" else reference,
                datasets=datasets,
                slices=[*slice_cols, *saved],
                metrics=metrics,
                thresholds=th,
                confidence=float(confidence),
                scorer=_scorer,
                progress=p,
            ),
        )
        if res is not None:
            _keep("comparison", params, res)
    res: C.ComparisonResult | None = _kept("comparison", params)
    if res is None:
        return
    _verdict(res.passed, res.summary())
    counts = res.counts
    cols = st.columns(5)
    for col, key in zip(cols, C.STATUSES, strict=True):
        col.metric(key, counts[key])
    for note in res.notes:
        st.caption(note)
    ds = (
        st.radio("Dataset", res.datasets, horizontal=True, key="checks_cmp_view_dataset")
        if len(res.datasets) > 1
        else res.datasets[0]
    )
    st.altair_chart(charts.comparison_grid(res, dataset=ds), key="checks_cmp_grid")
    st.caption(
        f"Each cell: the change (candidate − other) of a metric on a slice, tested paired on the same rows at "
        f"{res.confidence:.0%}. Red: worse than allowed for sure; amber: the interval is too wide to tell; green: within the allowance."
    )
    show = st.multiselect(
        "Show cells", list(C.STATUSES), default=[C.STATUS_FAIL, C.STATUS_UNDERPOWERED], key="checks_cmp_show"
    )
    table = res.cells[(res.cells["dataset"] == ds) & res.cells["status"].isin(show)]
    st.dataframe(
        table[
            [
                "slice",
                "metric",
                "role",
                "n",
                "candidate_value",
                "other_value",
                "change",
                "ci_low",
                "ci_high",
                "p_value",
                "threshold",
                "status",
                "test",
                "note",
            ]
        ],
        hide_index=True,
        key="checks_cmp_table",
        column_config={
            "n": st.column_config.NumberColumn("rows", format="%d"),
            **{
                c: st.column_config.NumberColumn(c, format="%.4f")
                for c in ("candidate_value", "other_value", "change", "ci_low", "ci_high")
            },
            "p_value": st.column_config.NumberColumn("p", format="%.3g"),
        },
    )
    metric = st.selectbox("Intervals for metric", res.metrics, key="checks_cmp_metric_view")
    st.altair_chart(charts.change_intervals(res, dataset=ds, metric=metric), key="checks_cmp_intervals")
    if res.slices:
        st.markdown("**Gaps between slices** (candidate): each group against the rest of the data")
        st.altair_chart(charts.gap_chart(res, dataset=ds), key="checks_cmp_gaps")
    st.markdown("**Rows where the predictions differ**")
    st.caption(", ".join(f"{d} vs {r}: {n:,} rows" for (d, r), n in res.n_differing.items()))
    diff = res.differing[res.differing["dataset"] == ds]
    st.dataframe(diff.head(200), hide_index=True, key="checks_cmp_diff")
    st.download_button(
        "Download differing rows (CSV)",
        res.differing.to_csv(index=False),
        file_name="differing_rows.csv",
        mime="text/csv",
        key="checks_cmp_diff_dl",
        icon=":material/download:",
    )
    _exports(
        "comparison",
        f"Model comparison: {res.candidate} vs {', '.join(f'{k} {v}' for k, v in res.models.items())}",
        res.summary(),
        {"cells": res.cells, "gaps": res.gaps, "differing rows": res.differing.head(200)},
        res.to_dict(),
        kind="comparison",
        tests=["infra-4", "monitor-7"],
        params=params,
        dataset=ds,
    )


# ---- baseline ----------------------------------------------------------------------------------------------


def baseline_section() -> None:
    st.subheader("Against a simpler model")
    st.caption(
        "A logistic (or ridge) regression with standard preprocessing and a majority/mean dummy are fitted on the training "
        "dataset, then compared with the model, paired, on the same rows. The model should beat the linear baseline by "
        "more than a small margin; if not, its complexity is not paying for itself."
    )
    c1, c2, c3 = st.columns(3)
    train = c1.selectbox(
        "Fit on", ws.dataset_names, index=_index(ws.dataset_names, _train_default()), key="checks_base_train"
    )
    evals = (
        [d for d in evaluation_datasets(ws) if d != train]
        or [d for d in ws.dataset_names if d != train]
        or [train]
    )
    datasets = c2.multiselect("Compare on", ws.dataset_names, default=evals, key="checks_base_datasets")
    max_rows = c3.number_input(
        "Max training rows", 1_000, 2_000_000, 200_000, step=10_000, key="checks_base_rows"
    )
    slice_cols = st.multiselect(
        "Slice columns",
        _slice_options(),
        default=[c for c in ws.config.checks.slices if c in _slice_options()],
        key="checks_base_slices",
    )
    params = {"train": train, "datasets": datasets, "max_rows": int(max_rows), "slices": slice_cols}
    if st.button(
        "Fit baselines and compare",
        type="primary",
        key="checks_base_run",
        icon=":material/functions:",
        disabled=not datasets,
    ):
        res = _run(
            "Fitting simple baselines",
            lambda p: B.simple_baseline(
                ws,
                train=train,
                datasets=datasets,
                slices=slice_cols,
                max_train_rows=int(max_rows),
                scorer=_scorer,
                progress=p,
            ),
        )
        if res is not None:
            _keep("baseline", params, res)
    res: B.BaselineResult | None = _kept("baseline", params)
    if res is None:
        return
    _verdict(
        res.passed,
        {
            True: "The model beats the linear baseline everywhere.",
            False: "A simple model is as good as the model somewhere.",
            None: "Inconclusive against the linear baseline.",
        }[res.passed],
    )
    for text in res.verdicts["text"]:
        st.markdown(f"- {text}")
    for note in res.notes:
        st.caption(note)
    st.altair_chart(charts.baseline_chart(res), key="checks_base_chart")
    st.dataframe(res.verdicts.drop(columns=["text"]), hide_index=True, key="checks_base_verdicts")
    with st.expander("Every metric and slice"):
        st.dataframe(res.cells, hide_index=True, key="checks_base_cells")
    _exports(
        "baseline",
        f"Simple baseline vs '{res.candidate}' (fitted on {res.train})",
        res.summary(),
        {"verdicts": res.verdicts, "cells": res.cells},
        res.to_dict(),
        kind="baseline",
        tests=["model-5"],
        params=params,
        dataset=res.datasets[0] if res.datasets else None,
    )


# ---- reproducibility ---------------------------------------------------------------------------------------------


def repro_section() -> None:
    st.subheader("Is training reproducible?")
    st.caption(
        "A copy of the model (same hyper-parameters, unfitted) is refitted twice as configured, twice with every "
        "random_state fixed (when some are unset), and once with another seed; the refits are compared row by row."
    )
    if _no_model("The reproducibility check"):
        return
    c1, c2, c3, c4 = st.columns(4)
    model = c1.selectbox("Model", ws.model_names, key="checks_repro_model")
    train = c2.selectbox(
        "Fit on", ws.dataset_names, index=_index(ws.dataset_names, _train_default()), key="checks_repro_train"
    )
    others = [d for d in ws.dataset_names if d != train] or ws.dataset_names
    dataset = c3.selectbox(
        "Compare on", others, index=_index(others, evaluation_datasets(ws)[0]), key="checks_repro_dataset"
    )
    max_rows = c4.number_input(
        "Max training rows",
        200,
        1_000_000,
        20_000,
        step=5_000,
        key="checks_repro_rows",
        help="Each refit uses the same random rows; fewer rows, faster refits.",
    )
    params = {"model": model, "train": train, "dataset": dataset, "max_rows": int(max_rows)}
    if st.button("Refit and compare", type="primary", key="checks_repro_run", icon=":material/replay:"):
        res = _run(
            "Refitting copies of the model",
            lambda p: R.reproducibility(
                ws, model=model, train=train, dataset=dataset, max_train_rows=int(max_rows), progress=p
            ),
        )
        if res is not None:
            _keep("repro", params, res)
    res: R.ReproResult | None = _kept("repro", params)
    if res is None:
        return
    _verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(note)
    if not res.pairs:
        return
    pairs = pd.DataFrame(
        [
            {
                "pair": p.name,
                "refits": f"{p.first} / {p.second}",
                "identical": p.identical,
                "agreement": p.agreement,
                "rows changed": p.n_changed,
                "largest difference": p.max_abs_diff,
                "largest slice difference": p.max_slice_diff,
                "where": p.max_slice,
                "first differing step": p.first_differing_step or "",
            }
            for p in res.pairs
        ]
    )
    st.altair_chart(charts.repro_chart(res), key="checks_repro_chart")
    st.dataframe(
        pairs,
        hide_index=True,
        key="checks_repro_pairs",
        column_config={"agreement": st.column_config.NumberColumn(format="%.4f")},
    )
    random = pd.DataFrame(
        [{"parameter": k, "value": repr(v), "unset": v is None} for k, v in res.random.items()]
    )
    if len(random):
        st.markdown("**Parameters that control randomness**")
        st.dataframe(random, hide_index=True, key="checks_repro_random")
    with st.expander("Metrics of each refit"):
        for p in res.pairs:
            st.markdown(f"*{p.name}*: {p.first} vs {p.second}")
            st.dataframe(p.metrics, hide_index=True, key=f"checks_repro_metrics_{p.name}")
    _exports(
        "reproducibility",
        f"Reproducibility of '{res.model}'",
        res.summary(),
        {"pairs": pairs, "random parameters": random},
        res.to_dict(),
        kind="reproducibility",
        tests=["infra-1"],
        params=params,
        dataset=res.dataset,
    )


# ---- model spec ---------------------------------------------------------------------------------------------------


def spec_section() -> None:
    st.subheader("Does the model specification behave?")
    st.caption(
        "On small random samples of the training data: a fit runs; the training loss decreases over the estimator's "
        "stages; with regularisation relaxed, a copy memorises a tiny sample."
    )
    if _no_model("Model spec checks"):
        return
    c1, c2, c3 = st.columns(3)
    model = c1.selectbox("Model", ws.model_names, key="checks_spec_model")
    train = c2.selectbox(
        "Sample from",
        ws.dataset_names,
        index=_index(ws.dataset_names, _train_default()),
        key="checks_spec_train",
    )
    n_rows = c3.number_input("Sample rows", 20, 20_000, 200, step=100, key="checks_spec_rows")
    params = {"model": model, "train": train, "n_rows": int(n_rows)}
    if st.button("Run spec checks", type="primary", key="checks_spec_run", icon=":material/science:"):
        res = _run(
            "Model spec checks",
            lambda p: SP.spec_checks(ws, model=model, train=train, n_rows=int(n_rows), progress=p),
        )
        if res is not None:
            _keep("spec", params, res)
    res: SP.SpecResult | None = _kept("spec", params)
    if res is None:
        return
    _verdict(
        res.passed,
        f"{res.estimator}: "
        + (
            "all checks pass or do not apply."
            if res.passed
            else ("a check fails." if res.passed is False else res.reason)
        ),
    )
    table = pd.DataFrame([{"check": c.name, "status": c.status, "result": c.text} for c in res.checks])
    st.dataframe(table, hide_index=True, key="checks_spec_table")
    st.altair_chart(charts.loss_curve_chart(res), key="checks_spec_curve")
    _exports(
        "spec",
        f"Model spec checks of '{res.model}'",
        res.summary(),
        {"checks": table, "loss curve": res.curve},
        res.to_dict(),
        kind="spec",
        tests=["infra-2"],
        params=params,
        dataset=res.train,
    )


# ---- expectations ---------------------------------------------------------------------------------------------------


def _suite() -> X.ExpectationSuite | None:
    """The suite being edited: a fresh profile, else the suite file (re-read when it changes on disk)."""
    path = X.suite_path(ws)
    kept = st.session_state.get("checks_suite")
    from_file = kept is not None and kept[2].startswith(("loaded from", "saved to"))
    if kept and kept[0] == WS_KEY and not (from_file and kept[3] != _mtime(path)):
        return kept[1]
    if path.exists():
        with shown_errors(stop=False):
            suite = X.load_suite(path)
            st.session_state["checks_suite"] = (WS_KEY, suite, f"loaded from {path}", _mtime(path))
            st.session_state.pop("checks_suite_editor", None)
            return suite
    return None


def expectations_section() -> None:
    st.subheader("Expectations: unit tests for data")
    path = X.suite_path(ws)
    st.caption(
        "Profile a dataset known to be good into a suite (types, null rates, ranges, categories, quantile bands, "
        f"uniqueness, row counts, widened by a tolerance), edit it, save it as {path.name} next to workspace.toml, and "
        "validate any dataset against it."
    )
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    source = c1.selectbox(
        "Profile the good dataset",
        ws.dataset_names,
        index=_index(ws.dataset_names, _train_default()),
        key="checks_exp_source",
    )
    tolerance = c2.number_input(
        "Tolerance",
        0.0,
        5.0,
        0.1,
        step=0.05,
        key="checks_exp_tolerance",
        help="Widening of ranges and quantile bands, as a share of the observed spread.",
    )
    mostly = c3.number_input(
        "Mostly",
        0.5,
        1.0,
        0.999,
        step=0.001,
        format="%.3f",
        key="checks_exp_mostly",
        help="Share of values that must meet range and category expectations.",
    )
    c4.write("")
    if c4.button("Profile", key="checks_exp_profile", icon=":material/query_stats:"):
        with shown_errors(stop=False):
            suite = X.profile(ws, dataset=source, tolerance=float(tolerance), mostly=float(mostly))
            st.session_state["checks_suite"] = (WS_KEY, suite, f"profiled from '{source}' (not saved yet)", 0)
            st.session_state.pop("checks_suite_editor", None)
    suite = base_suite = _suite()
    if suite is None:
        st.info(
            f"No suite yet: profile a good dataset above. It will be saved as {path}.", icon=":material/info:"
        )
    else:
        origin = st.session_state["checks_suite"][2]
        st.markdown(
            f"**Suite** — {origin}; {len(suite.columns)} columns, rows {suite.min_rows or 0:,} .. {suite.max_rows or '∞'}"
        )
        edited = st.data_editor(
            suite.to_frame(),
            num_rows="dynamic",
            hide_index=True,
            key="checks_suite_editor",
            column_config={
                "type": st.column_config.SelectboxColumn("type", options=list(X.TYPES), required=True),
                "max_null_rate": st.column_config.NumberColumn(
                    "max null rate", min_value=0.0, max_value=1.0, format="%.4f"
                ),
                "allowed": st.column_config.TextColumn(
                    "allowed values", help="Comma-separated; empty: any value"
                ),
                "unique": st.column_config.CheckboxColumn("unique"),
                "quantiles": st.column_config.CheckboxColumn(
                    "quantile bands", help="Keep the profiled quantile bands"
                ),
            },
        )
        r1, r2, r3 = st.columns(3)
        min_rows = r1.number_input(
            "Min rows", 0, 10**12, int(suite.min_rows or 0), key="checks_suite_min_rows"
        )
        max_rows = r2.number_input(
            "Max rows",
            0,
            10**12,
            int(suite.max_rows or 0),
            key="checks_suite_max_rows",
            help="0: no upper bound",
        )
        allow_extra = r3.checkbox(
            "Allow extra columns", value=suite.allow_extra_columns, key="checks_suite_extra"
        )
        with shown_errors(stop=False):
            suite = X.suite_from_frame(edited, suite)
            suite = dataclasses.replace(
                suite,
                min_rows=int(min_rows) or None,
                max_rows=int(max_rows) or None,
                allow_extra_columns=bool(allow_extra),
            )
        s1, s2 = st.columns(2)
        if s1.button(f"Save suite to {path.name}", key="checks_suite_save", icon=":material/save:"):
            with shown_errors(stop=False):
                X.save_suite(suite, path)
                # Keep the editor's base: its edits stay relative to it (the file now holds base + edits).
                st.session_state["checks_suite"] = (WS_KEY, base_suite, f"saved to {path}", _mtime(path))
                st.success(f"Saved {path}. Commit it next to workspace.toml.", icon=":material/check:")
                if ws.config.checks.expectations is None:
                    st.info("Reference it from workspace.toml so checks use it:", icon=":material/info:")
                    st.code(f'[checks]\nexpectations = "{path.name}"', language="toml")
        s2.download_button(
            "Download suite",
            suite.to_json() if path.suffix == ".json" else suite.to_toml(),
            file_name=path.name,
            key="checks_suite_download",
            icon=":material/download:",
        )

        st.markdown("**Validate**")
        datasets = st.multiselect(
            "Datasets", ws.dataset_names, default=ws.dataset_names, key="checks_exp_datasets"
        )
        params = {"datasets": datasets, "suite": suite.to_dict()}
        if st.button(
            "Validate", type="primary", key="checks_exp_run", icon=":material/rule:", disabled=not datasets
        ):

            def run(p: Callable[[float, str], None]) -> list[X.ValidationResult]:
                out = []
                for i, d in enumerate(datasets):
                    p(i / len(datasets), f"Validating '{d}'…")
                    out.append(X.validate(ws, dataset=d, suite=suite))
                return out

            results = _run("Validating datasets", run)
            if results is not None:
                _keep("expectations", params, _Many(results))
        kept: _Many | None = _kept("expectations", params)
        if kept is not None:
            _show_validation(kept, params)
    banned_subsection()


@dataclasses.dataclass
class _Many:
    """Several validation results kept as one (``to_dict`` for the store)."""

    results: list[X.ValidationResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "expectations",
            "passed": self.passed,
            "datasets": {r.dataset: r.to_dict() for r in self.results},
        }


def _show_validation(kept: _Many, params: dict[str, Any]) -> None:
    _verdict(kept.passed, " ".join(r.summary() for r in kept.results))
    names = [r.dataset for r in kept.results]
    name = st.radio("Dataset", names, horizontal=True, key="checks_exp_view") if len(names) > 1 else names[0]
    res = next(r for r in kept.results if r.dataset == name)
    for note in res.notes:
        st.caption(note)
    only_failing = st.checkbox("Only violations", value=True, key="checks_exp_only_failing")
    table = res.violations if only_failing else res.table
    st.dataframe(
        table,
        hide_index=True,
        key="checks_exp_table",
        column_config={"unexpected_rate": st.column_config.NumberColumn("unexpected share", format="%.4f")},
    )
    if len(res.violations):
        st.altair_chart(charts.violations_chart(res), key="checks_exp_chart")
    if len(res.examples):
        st.markdown("**Example rows**")
        st.dataframe(res.examples, hide_index=True, key="checks_exp_examples")
    tables = {f"{r.dataset}: expectations": r.table for r in kept.results}
    tables.update({f"{r.dataset}: example rows": r.examples for r in kept.results if len(r.examples)})
    _exports(
        "expectations",
        "Expectation suite validation",
        " ".join(r.summary() for r in kept.results),
        tables,
        kept.to_dict(),
        kind="expectations",
        tests=["data-1", "monitor-2"],
        params=params,
        dataset=name,
    )


def banned_subsection() -> None:
    st.divider()
    st.markdown("**Banned features** — features the model must not use (sensitive attributes…)")
    configured = list(ws.config.checks.banned_features)
    text = st.text_input(
        "Banned features (comma-separated)",
        value=", ".join(configured),
        key="checks_banned_text",
        help="Defaults to [checks] banned_features in workspace.toml.",
    )
    banned = [b.strip() for b in text.split(",") if b.strip()]
    with shown_errors(stop=False):
        res = STB.banned_features(ws, banned=banned)
        _verdict(res.passed, res.summary())
        if len(res.found):
            st.dataframe(res.found, hide_index=True, key="checks_banned_found")
        if banned and banned != configured:
            st.caption("To keep this list, put it in workspace.toml:")
            st.code(
                "[checks]\nbanned_features = [" + ", ".join(json.dumps(b) for b in banned) + "]",
                language="toml",
            )
        with st.expander("Inputs checked"):
            st.json(res.checked, expanded=False)
        evidence.attach_button(
            kind="banned_features",
            tests=["data-4"],
            title="Banned features check",
            params={"banned": banned},
            result=res.to_dict(),
            dataset=None,
            key="checks_evidence_banned",
        )


# ---- skew & shadow -------------------------------------------------------------------------------------------------


def skew_section() -> None:
    st.subheader("Training/serving skew")
    st.caption(
        "The same rows, as logged at serving and as computed for training, joined on the id column and compared column "
        "by column."
    )
    if not ws.columns.id:
        st.info(SK.NO_ID, icon=":material/info:")
    else:
        c1, c2 = st.columns(2)
        training = c1.selectbox(
            "Training features",
            ws.dataset_names,
            index=_index(ws.dataset_names, _train_default()),
            key="checks_skew_training",
        )
        how = c2.radio(
            "Serving features", ["a dataset", "an uploaded log"], horizontal=True, key="checks_skew_how"
        )
        serving: Any = None
        serving_name = None
        if how == "a dataset":
            others = [d for d in ws.dataset_names if d != training] or ws.dataset_names
            serving = c2.selectbox("Serving dataset", others, key="checks_skew_serving")
        else:
            up = c2.file_uploader(
                "Serving log (CSV or Parquet)",
                type=["csv", "parquet", "pq", "gz", "tsv"],
                key="checks_skew_upload",
            )
            if up is not None:
                with shown_errors(stop=False):
                    serving = SK.read_serving_log(up.name, up.getvalue())
                    serving_name = f"the uploaded file '{up.name}'"
        params = {"training": training, "serving": serving if isinstance(serving, str) else serving_name}
        if st.button(
            "Compare features",
            type="primary",
            key="checks_skew_run",
            icon=":material/difference:",
            disabled=serving is None,
        ):
            res = _run(
                "Comparing training and serving features",
                lambda p: SK.feature_skew(
                    ws, training=training, serving=serving, serving_name=serving_name, progress=p
                ),
            )
            if res is not None:
                _keep("skew", params, res)
        res: SK.SkewResult | None = _kept("skew", params)
        if res is not None:
            _verdict(res.passed, res.summary())
            for note in res.notes:
                st.caption(note)
            if res.n_joined:
                st.caption(
                    f"Only in training: {res.n_only_training:,} rows; only in serving: {res.n_only_serving:,} rows."
                )
                st.altair_chart(charts.skew_chart(res), key="checks_skew_chart")
                st.dataframe(res.table, hide_index=True, key="checks_skew_table")
                if len(res.examples):
                    st.markdown("**Example rows**")
                    st.dataframe(res.examples, hide_index=True, key="checks_skew_examples")
            _exports(
                "skew",
                f"Training/serving skew: {res.training} vs {res.serving}",
                res.summary(),
                {"columns": res.table, "examples": res.examples},
                res.to_dict(),
                kind="skew",
                tests=["monitor-3"],
                params=params,
                dataset=training,
            )

    st.divider()
    st.subheader("Shadow consistency")
    st.caption(
        "Predictions logged by the serving system, compared with the model recomputed on the same rows."
    )
    if _no_model("The shadow check"):
        return
    c1, c2, c3 = st.columns(3)
    dataset = c1.selectbox("Dataset with logged predictions", ws.dataset_names, key="checks_shadow_dataset")
    candidates = SK.logged_prediction_columns(ws, dataset)
    roles = {ws.columns.label, ws.columns.id, ws.columns.time}
    rest = [
        c
        for c in ws.dataset(dataset).columns
        if c not in candidates and c not in ws.feature_names and c not in roles
    ]
    options = candidates + rest
    if not options:
        st.info(
            f"Dataset '{dataset}' has no column besides the features, label, id and time, so it carries no logged "
            "predictions. Add the serving system's logged prediction (or score) as a column to compare.",
            icon=":material/info:",
        )
        return
    logged = c2.selectbox(
        "Logged column",
        options,
        index=0 if candidates else None,
        key="checks_shadow_column",
        placeholder="Choose the column with logged predictions",
        help="Columns named like predictions come first."
        if candidates
        else "No column is named like a prediction.",
    )
    kind = c3.selectbox("It holds", ["auto", "class", "score", "value"], key="checks_shadow_kind")
    model = st.selectbox("Model", ws.model_names, key="checks_shadow_model")
    if not candidates:
        st.caption(
            f"No column of '{dataset}' is named like a logged prediction (pred, score, prob, output): choose it above."
        )
    params = {"dataset": dataset, "logged": logged, "kind": kind, "model": model}
    if st.button(
        "Compare with the model",
        type="primary",
        key="checks_shadow_run",
        icon=":material/compare:",
        disabled=logged is None,
    ):
        res = _run(
            "Recomputing predictions",
            lambda p: SK.shadow_check(ws, dataset=dataset, logged=logged, kind=kind, model=model, progress=p),
        )
        if res is not None:
            _keep("shadow", params, res)
    res: SK.ShadowResult | None = _kept("shadow", params)
    if res is None:
        return
    _verdict(res.passed, res.summary())
    if len(res.examples):
        st.dataframe(res.examples, hide_index=True, key="checks_shadow_examples")
    _exports(
        "shadow",
        f"Shadow consistency: '{res.logged_column}' vs '{res.model}'",
        res.summary(),
        {"examples": res.examples},
        res.to_dict(),
        kind="shadow",
        tests=["monitor-3"],
        params=params,
        dataset=dataset,
    )


# ---- compatibility & key examples -----------------------------------------------------------------------------------


def compat_section() -> None:
    st.subheader("Compatibility")
    if _no_model("The compatibility check"):
        return
    model = st.selectbox("Model", ws.model_names, key="checks_compat_model")
    with shown_errors(stop=False):
        kept = st.session_state.get("checks_compat_memo")
        if not kept or kept[0] != (WS_KEY, model):
            kept = ((WS_KEY, model), K.compatibility(ws, model=model))
            st.session_state["checks_compat_memo"] = kept
        res = kept[1]
        _verdict(res.passed, res.summary())
        st.dataframe(res.versions, hide_index=True, key="checks_compat_versions")
        with st.expander(f"The {len(res.types)} types the model is made of"):
            st.dataframe(res.types, hide_index=True, key="checks_compat_types")
        _exports(
            "compatibility",
            f"Compatibility of '{model}'",
            res.summary(),
            {"versions": res.versions, "types": res.types},
            res.to_dict(),
            kind="compatibility",
            tests=["monitor-1"],
            params={"model": model},
            dataset=None,
        )

    st.divider()
    st.subheader("Key examples")
    path = K.key_examples_path(ws)
    st.caption(
        "A small file of inputs with the outputs the model gave, made once from the current model and kept "
        f"({path.name}, next to workspace.toml). Any later model or environment must reproduce them."
    )
    if path.exists():
        v1, v2 = st.columns([1, 2])
        vmodel = v1.selectbox("Verify with model", ws.model_names, key="checks_keys_model")
        params = {"model": vmodel, "path": str(path), "mtime": path.stat().st_mtime_ns}
        if v2.button(
            f"Verify {path.name}", type="primary", key="checks_keys_verify", icon=":material/verified:"
        ):
            res = _run("Running the key examples", lambda p: K.verify_key_examples(ws, model=vmodel))
            if res is not None:
                _keep("key_examples", params, res)
        res: K.KeyExamplesResult | None = _kept("key_examples", params)
        if res is not None:
            _verdict(res.passed, res.summary())
            st.dataframe(res.table, hide_index=True, key="checks_keys_table")
            _exports(
                "key_examples",
                f"Key examples with '{res.model}'",
                res.summary(),
                {"examples": res.table},
                res.to_dict(),
                kind="key_examples",
                tests=["infra-4", "monitor-7"],
                params=params,
                dataset=None,
            )
    else:
        st.info(
            f"No key examples file yet ({path}). Make one below from the current model.",
            icon=":material/info:",
        )
    with st.expander("Make key examples from a model", expanded=not path.exists()):
        m1, m2, m3 = st.columns(3)
        mmodel = m1.selectbox("Model", ws.model_names, key="checks_keys_make_model")
        mdataset = m2.selectbox(
            "From dataset",
            ws.dataset_names,
            index=_index(ws.dataset_names, evaluation_datasets(ws)[0]),
            key="checks_keys_make_dataset",
        )
        n = m3.number_input("Examples", 1, 1000, 20, key="checks_keys_make_n")
        if st.button("Make", key="checks_keys_make", icon=":material/add_task:"):
            with shown_errors(stop=False):
                st.session_state["checks_keys_made"] = (
                    WS_KEY,
                    K.make_key_examples(ws, model=mmodel, dataset=mdataset, n=int(n)),
                )
        made = st.session_state.get("checks_keys_made")
        if made and made[0] == WS_KEY:
            examples: K.KeyExamples = made[1]
            st.dataframe(examples.table(), hide_index=True, key="checks_keys_made_table")
            k1, k2 = st.columns(2)
            if k1.button(f"Save to {path.name}", key="checks_keys_save", icon=":material/save:"):
                with shown_errors(stop=False):
                    K.save_key_examples(examples, path)
                    st.success(f"Saved {path}. Commit it next to workspace.toml.", icon=":material/check:")
                    if ws.config.checks.key_examples is None:
                        st.info("Reference it from workspace.toml so checks use it:", icon=":material/info:")
                        st.code(f'[checks]\nkey_examples = "{path.name}"', language="toml")
            k2.download_button(
                "Download key_examples.json",
                examples.to_json(),
                file_name=path.name,
                mime="application/json",
                key="checks_keys_download",
                icon=":material/download:",
            )


# ---- stability & cost ------------------------------------------------------------------------------------------------


def stability_section() -> None:
    st.subheader("Numerical stability")
    st.caption(
        "NaN and infinite values in every dataset's model inputs and in the model's outputs, plus edge-case probes: "
        "a row with every feature missing, numbers at ±1e9, never-seen categories."
    )
    c1, c2, c3 = st.columns([1, 2, 1])
    model = c1.selectbox("Model", ws.model_names, key="checks_stab_model") if HAS_MODELS else "current"
    datasets = c2.multiselect(
        "Datasets", ws.dataset_names, default=ws.dataset_names, key="checks_stab_datasets"
    )
    probes = c3.checkbox("Probes", value=HAS_MODELS, disabled=not HAS_MODELS, key="checks_stab_probes")
    params = {"model": model, "datasets": datasets, "probes": probes}
    if st.button(
        "Check", type="primary", key="checks_stab_run", icon=":material/troubleshoot:", disabled=not datasets
    ):
        res = _run(
            "Checking inputs and outputs",
            lambda p: STB.numerical_stability(ws, model=model, datasets=datasets, probes=probes, progress=p),
        )
        if res is not None:
            _keep("stability", params, res)
    res: STB.StabilityResult | None = _kept("stability", params)
    if res is None:
        return
    _verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(note)
    st.dataframe(res.outputs, hide_index=True, key="checks_stab_outputs")
    if len(res.inputs):
        st.altair_chart(charts.nan_chart(res), key="checks_stab_chart")
        st.dataframe(
            res.inputs,
            hide_index=True,
            key="checks_stab_inputs",
            column_config={"nan_rate": st.column_config.NumberColumn("missing share", format="%.4f")},
        )
    if len(res.probes):
        st.markdown("**Probes**")
        st.dataframe(res.probes, hide_index=True, key="checks_stab_probes_table")
    _exports(
        "stability",
        f"Numerical stability of '{res.model}'",
        res.summary(),
        {"outputs": res.outputs, "inputs": res.inputs, "probes": res.probes},
        res.to_dict(),
        kind="stability",
        tests=["monitor-5"],
        params=params,
        dataset=None,
    )


def cost_section() -> None:
    st.subheader("Serving cost")
    st.caption(
        "Prediction latency per row and per batch and peak memory, for the candidate and the previous model measured in "
        "the same run (interleaved, so both see the same machine load)."
    )
    if _no_model("Measuring serving cost"):
        return
    c1, c2, c3 = st.columns(3)
    default = (
        ["current", *(m for m in ("previous",) if m in ws.models)]
        if "current" in ws.models
        else ws.model_names[:2]
    )
    models = c1.multiselect(
        "Models (the first is the candidate)", ws.model_names, default=default, key="checks_cost_models"
    )
    dataset = c2.selectbox(
        "Rows from",
        ws.dataset_names,
        index=_index(ws.dataset_names, evaluation_datasets(ws)[0]),
        key="checks_cost_dataset",
    )
    sizes = c3.multiselect(
        "Batch sizes", [1, 10, 100, 1_000, 10_000, 100_000], default=[1, 100, 10_000], key="checks_cost_sizes"
    )
    params = {"models": models, "dataset": dataset, "sizes": sizes}
    if st.button(
        "Measure",
        type="primary",
        key="checks_cost_run",
        icon=":material/speed:",
        disabled=not models or not sizes,
    ):
        res = _run(
            "Timing predictions",
            lambda p: STB.serving_cost(ws, models=models, dataset=dataset, batch_sizes=sizes, progress=p),
        )
        if res is not None:
            _keep("cost", params, res)
    res: STB.CostResult | None = _kept("cost", params)
    if res is None:
        return
    _verdict(res.passed, res.summary())
    for note in res.notes:
        st.caption(note)
    st.altair_chart(charts.cost_chart(res), key="checks_cost_chart")
    st.dataframe(res.table, hide_index=True, key="checks_cost_table")
    if len(res.ratios):
        st.dataframe(res.ratios, hide_index=True, key="checks_cost_ratios")
    _exports(
        "cost",
        f"Serving cost of '{res.candidate}'",
        res.summary(),
        {"latency": res.table, "ratios": res.ratios},
        res.to_dict(),
        kind="cost",
        tests=["data-3", "monitor-6"],
        params=params,
        dataset=dataset,
    )


{
    "Comparison": comparison_section,
    "Baseline": baseline_section,
    "Reproducibility": repro_section,
    "Model spec": spec_section,
    "Expectations": expectations_section,
    "Skew & shadow": skew_section,
    "Compatibility": compat_section,
    "Stability": stability_section,
    "Cost": cost_section,
}[section]()
