"""The staleness experiment: refit the model at several training cutoffs, test it on later windows, and say
how long it stays good. The run's life (saved result, retarget, run, cancel) is ``explore.staleness.runs``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from explore.staleness import charts, choices, layout, runs, tables
from explore.staleness.experiment import (
    DEFAULT_MAX_EVAL_ROWS,
    DEFAULT_MAX_FIT_ROWS,
    MIN_CUTOFFS,
    NO_MODEL,
    StalenessParams,
    StalenessResult,
    default_threshold,
    experiment_metric_options,
)
from explore.staleness.layout import ALL_DATASETS, WindowSpec
from ui import evidence, loaders
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .downloads import csv_download

CANCELLED = "staleness_cancelled"  # session state: the user pressed Cancel during the last run
CUTOFFS_LAYOUT = "staleness_cutoffs_layout"  # session state: the window layout the cutoff picks refer to


def _cancel() -> None:
    st.session_state[CANCELLED] = True


@contextmanager
def _progress_with_cancel() -> Iterator[Callable[[float, str], None]]:
    """A Cancel button and a progress bar for the run; both go away however the run ends."""
    cancel_slot = st.empty()
    cancel_slot.button(
        "Cancel",
        key="staleness_cancel",
        icon=":material/stop:",
        on_click=_cancel,
        help="Stops the run after the fit in progress; nothing is saved.",
    )
    bar = st.progress(0.0, text="Preparing…")
    try:
        yield lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg)
    finally:
        bar.empty()
        cancel_slot.empty()


@st.fragment
def experiment_section(ctx: PageContext, spec: WindowSpec) -> None:
    st.subheader("Staleness experiment")
    st.caption(
        "Refits a clone of the model on a span ending at each training cutoff, evaluates it on every later window, "
        "and compares it with a fresh model trained just before each window: the gap is what not retraining costs."
    )
    ws = ctx.ws
    if not ws.models:
        st.info(NO_MODEL, icon=":material/info:")
        return
    model = ws.model(ctx.model_name)
    not_refittable = runs.refit_problem(model, name=ctx.model_name)
    if not_refittable:
        say("warning", not_refittable, icon=":material/warning:")
        return
    train_options = [ALL_DATASETS] + ws.dataset_names if len(ws.dataset_names) > 1 else ws.dataset_names
    c1, c2 = st.columns([2, 1])
    train_choice = c1.selectbox("Training data for the experiment", train_options, key="staleness_train_data")
    exp_spec = WindowSpec(
        datasets=tuple(ws.dataset_names) if train_choice == ALL_DATASETS else (train_choice,),
        by=spec.by,
        n_windows=spec.n_windows,
        min_rows=spec.min_rows,
        labelled_only=True,
    )
    if train_choice == ALL_DATASETS:
        c1.caption(
            f"Labelled rows of {md_text(', '.join(exp_spec.datasets))} joined in time order; windows as chosen above."
        )
    ew = None
    with shown_errors(stop=False):
        ew = cached.time_windows(ws, exp_spec)
    if ew is None:
        return
    if ew.n_windows < MIN_CUTOFFS + 2:
        st.info(
            f"The experiment needs at least {MIN_CUTOFFS + 2} windows (a training span, {MIN_CUTOFFS} cutoffs and later "
            f"windows); the labelled data makes {ew.n_windows}. Choose shorter windows or more data."
        )
        return
    span = int(
        c2.number_input(
            f"Training span ({ew.by if ew.by != 'rows' else 'window'}s)",
            1,
            ew.n_windows - 2,
            layout.default_span(ew.n_windows),
            key="staleness_span",
        )
    )
    labels = ew.labels
    # Cutoffs are window indices: when the windows or the training data change, the old picks point at other
    # (or no) windows, so start again from the defaults.
    window_layout = layout.layout_id(labels)
    if st.session_state.get(CUTOFFS_LAYOUT) != window_layout:
        st.session_state.pop("staleness_cutoffs", None)
        st.session_state[CUTOFFS_LAYOUT] = window_layout
    cut = st.multiselect(
        f"Training cutoffs (≥ {MIN_CUTOFFS}; training ends at the start of each window)",
        list(range(1, ew.n_windows - 1)),
        default=[c for c in layout.default_cutoffs(ew.n_windows, span) if c >= 1],
        format_func=lambda i: labels[i],
        key="staleness_cutoffs",
    )
    metric_options = experiment_metric_options(ws.task, model)
    c1, c2, c3 = st.columns(3)
    metric = c1.selectbox(
        "Metric",
        metric_options,
        index=choices.default_metric_index(ws.task, metric_options),
        key="staleness_exp_metric",
    )
    criterion = c2.radio(
        "Stale when",
        ["gap", "metric"],
        key="staleness_criterion",
        horizontal=True,
        format_func={"gap": "the gap to a fresh model exceeds", "metric": "the raw metric crosses"}.get,
    )
    default = default_threshold(
        metric, criterion, cached.current_value(ws, spec.datasets, ctx.model_name, metric)
    )
    threshold = float(
        c3.number_input(
            "Threshold (metric units)",
            value=default,
            step=max(abs(default) / 10, 0.001),
            format="%.4g",
            key=f"staleness_threshold_{criterion}_{metric}",
            help="Gap: how much worse than a fresh model counts as stale (0.02 ROC AUC = 2 points). Metric: the floor "
            "(or ceiling, for lower-is-better metrics) the stale model must not cross.",
        )
    )
    with st.expander("Budget"):
        b1, b2, b3 = st.columns(3)
        max_fit = int(
            b1.number_input(
                "Rows per fit (random sample)",
                100,
                2_000_000,
                DEFAULT_MAX_FIT_ROWS,
                step=1000,
                key="staleness_max_fit",
            )
        )
        max_eval = int(
            b2.number_input(
                "Rows evaluated per window",
                100,
                2_000_000,
                DEFAULT_MAX_EVAL_ROWS,
                step=1000,
                key="staleness_max_eval",
            )
        )
        horizon = int(
            b3.number_input("Largest age (windows; 0 = all)", 0, ew.n_windows, 0, key="staleness_horizon")
        )
        persistence = int(
            b1.number_input(
                "Stale when it holds for (windows)",
                1,
                12,
                2,
                key="staleness_persistence",
                help="Consecutive evaluated windows the criterion must hold: guards against one noisy window.",
            )
        )
    params = StalenessParams(
        cutoffs=tuple(sorted(int(c) for c in cut)),
        train_windows=span,
        metric=metric,
        criterion=criterion,
        threshold=threshold,
        horizon=horizon or None,
        max_fit_rows=max_fit,
        max_eval_rows=max_eval,
        persistence=persistence,
    )
    model_fingerprint, data_fingerprints = cached.fingerprints(ws, exp_spec.datasets, ctx.model_name)
    store = loaders.store()
    plan = runs.plan_experiment(
        store,
        ws,
        params,
        ew,
        model_fingerprint=model_fingerprint,
        data_fingerprints=data_fingerprints,
        datasets=exp_spec.datasets,
        context={
            "datasets": list(exp_spec.datasets),
            "by": spec.by,
            "n_windows": spec.n_windows,
            "min_rows": spec.min_rows,
            "model": ctx.model_name,
        },
    )
    if plan.problem:
        say("warning", plan.problem, icon=":material/tune:")
    with shown_errors(stop=False):
        run = st.button(
            "Run the experiment" if plan.saved is None else "Run again",
            key="staleness_run",
            type="primary" if plan.saved is None else "secondary",
            icon=":material/play_arrow:",
            disabled=bool(plan.problem),
        )
        step = runs.next_step(plan, run_clicked=run, cancel_requested=bool(st.session_state.get(CANCELLED)))
        shown = plan.saved
        if step is runs.RunStep.RUN:
            st.session_state[CANCELLED] = False
            with _progress_with_cancel() as progress:
                shown = runs.run_and_save(
                    plan,
                    store,
                    ws,
                    model,
                    cached.timeline(
                        ws, exp_spec.datasets
                    ).frame,  # every row: those without a label are skipped
                    ew,
                    codes=cached.timeline_codes(ws, exp_spec),
                    progress=progress,
                    should_cancel=lambda: bool(st.session_state.get(CANCELLED, False)),
                )
        elif step is runs.RunStep.CANCELLED:
            st.info("The experiment was cancelled; nothing was saved.", icon=":material/stop:")
            st.session_state[CANCELLED] = False
        elif step is runs.RunStep.SAVED and plan.saved_row is not None:
            row = plan.saved_row
            st.caption(
                f"Saved result from {row['created_at']:%Y-%m-%d %H:%M} UTC (by {md_text(row['author'])}): same parameters, model and data files."
            )
        if shown is not None:
            _show_experiment(shown, plan.context)


def _show_experiment(result: StalenessResult, params_context: dict[str, Any]) -> None:
    estimate = result.estimate
    sentence = charts.time_to_stale_sentence(result)
    (st.warning if estimate.n_stale else st.success)(sentence, icon=":material/schedule:")
    cols = st.columns(4)
    cols[0].metric(
        f"Time to stale (median, {result.unit}s)",
        "—" if math.isnan(estimate.median_windows) else f"{estimate.median_windows:.0f}",
    )
    cols[1].metric("Cutoffs that went stale", f"{estimate.n_stale} of {estimate.n_cutoffs}")
    fitted = result.fits[result.fits["fitted"]] if not result.fits.empty else result.fits
    cols[2].metric(
        "Fits", f"{len(fitted)}", help="One per training cutoff and per evaluation window (fresh models)."
    )
    cols[3].metric(
        "Time per fit",
        f"{fitted['seconds'].mean():.1f} s" if len(fitted) else "—",
        help=f"Total {result.total_seconds:.1f} s",
    )
    st.altair_chart(charts.staleness_chart(result, value="loss"), width="stretch")
    st.altair_chart(charts.staleness_chart(result, value="stale"), width="stretch")
    st.altair_chart(charts.calendar_chart(result), width="stretch")
    st.caption(
        "Changing the metric, the criterion or the threshold re-reads these fits: no new run is needed. "
        "Thin lines: one per training cutoff; bold: the mean over cutoffs with its min–max band. The gap compares each "
        "stale model with a fresh one trained on the same-length span just before the window, so hard calendar "
        "periods (where every model dips) do not count as staleness."
    )
    for note in result.notes:
        st.caption(md_text(note))
    with st.expander("Per cutoff, per window and per fit"):
        st.dataframe(result.per_cutoff, hide_index=True)
        st.dataframe(result.curves, hide_index=True)
        st.dataframe(result.fits, hide_index=True)
    cols = st.columns(3)
    csv_download(cols[0], "Curves (CSV)", result.curves, "staleness_curves.csv", key="staleness_dl_curves")
    csv_download(
        cols[1],
        "Time to stale per cutoff (CSV)",
        result.per_cutoff,
        "time_to_stale.csv",
        key="staleness_dl_tts",
    )
    csv_download(
        cols[2], "Summary by age (CSV)", result.summary, "staleness_summary.csv", key="staleness_dl_summary"
    )
    evidence.attach_button(
        kind="staleness_experiment",
        tests=["model-4", "monitor-4"],
        title=f"Staleness experiment: {sentence}",
        params={**result.params.to_dict(), **params_context},
        result={
            "sentence": sentence,
            "estimate": result.estimate.__dict__,
            "per_cutoff": tables.records(result.per_cutoff),
            "summary": tables.records(result.summary),
        },
        dataset=None,
        key="staleness_evidence_experiment",
    )
