"""Staleness: the model's performance over time, the staleness experiment (how fast does this kind of model
go stale?), drift per feature against a reference, and data invariants per time window."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from explore.core.workspace import Scored, Workspace
from explore.errors import ExploreError
from explore.slices.definition import SliceDefinition
from explore.staleness import charts as C
from explore.staleness import drift as D
from explore.staleness import experiment as S
from explore.staleness import windows as W
from explore.stats import metrics as M
from ui import evidence, loaders, state
from ui.boundary import shown_errors

ALL = "All datasets, in time order"
BY_NAMES = {
    "month": "Calendar month",
    "week": "Calendar week (Mon–Sun)",
    "day": "Calendar day",
    "quarter": "Calendar quarter",
    "rows": "Equal row counts",
}
MAIN_METRICS = {
    "binary": ["ROC AUC", "accuracy"],
    "multiclass": ["accuracy", "F1"],
    "regression": ["MAE", "R²"],
}

st.title("Staleness")
st.caption(
    "How the model's quality moves over time, how long this kind of model stays good before it needs retraining, "
    "which features drift, and whether the data keeps its invariants. Guide: docs/staleness.md."
)

with shown_errors():
    ws = loaders.open_current()
model_name = loaders.selected_model(ws)
sidebar_ds = loaders.selected_dataset(ws)

if not ws.columns.time:
    st.info(W.NO_TIME_COLUMN.format(where=f"workspace '{ws.name}'"), icon=":material/schedule:")
    st.stop()


# ---- cached glue (big objects: cache_resource, read-only; small results: cache_data) -------------------


@st.cache_resource(max_entries=4, show_spinner=False)
def _timeline(_ws: Workspace, ws_key: str, datasets: tuple[str, ...]) -> W.Timeline:
    cols = list(dict.fromkeys([*_ws.feature_names, _ws.columns.label]))
    return W.workspace_timeline(_ws, datasets, columns=cols)


@st.cache_resource(max_entries=8, show_spinner=False)
def _windows(
    _tl: W.Timeline,
    ws_key: str,
    datasets: tuple[str, ...],
    by: str,
    n_windows: int,
    min_rows: int,
    label: str | None,
) -> W.TimeWindows:
    """Windows over the timeline (only its labelled rows when ``label`` is given)."""
    t = _tl.time
    if label:
        t = t[_tl.frame[label].notna().to_numpy()]
    return W.time_windows(t, by=by, n_windows=n_windows, min_rows=min_rows, where=" + ".join(datasets))


@st.cache_resource(max_entries=4, show_spinner=False)
def _scored_all(_ws: Workspace, ws_key: str, datasets: tuple[str, ...], model: str | None) -> Scored:
    parts = [loaders.scored(d, model, ws=_ws) for d in datasets]
    return W.concat_scored(parts, name=ALL if len(datasets) > 1 else datasets[0])


@st.cache_resource(max_entries=8, show_spinner=False)
def _codes(_sc: Scored, _w: W.TimeWindows, key: str) -> np.ndarray:
    return W.apply_windows(_w, _sc.time, where=_sc.dataset_name)


@st.cache_resource(max_entries=4, show_spinner=False)
def _codes_for(_tl: W.Timeline, _w: W.TimeWindows, key: str) -> np.ndarray:
    """Window of every timeline row (rows outside the windows: -1)."""
    return W.apply_windows(_w, _tl.time)


@st.cache_data(max_entries=32, show_spinner=False)
def _performance(
    _sc: Scored,
    _w: W.TimeWindows,
    _codes_arr: np.ndarray,
    key: str,
    metrics: tuple[str, ...],
    slice_json: str,
) -> S.PerformanceOverTime:
    mask = SliceDefinition.from_json(slice_json).mask(_sc) if slice_json else None
    return S.performance_over_time(_sc, _w, codes=_codes_arr, metrics=list(metrics), mask=mask)


@st.cache_resource(max_entries=6, show_spinner=False)
def _profile(
    _ws: Workspace,
    ws_key: str,
    reference: str,
    window_key: str,
    _ref_frame: pd.DataFrame,
    features: tuple[str, ...],
) -> D.ReferenceProfile:
    return D.reference_profile(_ref_frame, features=list(features), name=reference)


@st.cache_resource(max_entries=6, show_spinner=False)
def _drift(_profile_obj: D.ReferenceProfile, _tl: W.Timeline, _w: W.TimeWindows, key: str) -> D.DriftResult:
    return D.drift_by_window(_profile_obj, _tl.frame, _w.codes, _w.n_windows)


@st.cache_data(max_entries=16, show_spinner=False)
def _invariants(
    _profile_obj: D.ReferenceProfile,
    _tl: W.Timeline,
    _w: W.TimeWindows,
    _sc: Scored,
    _sc_codes: np.ndarray,
    key: str,
    thresholds: tuple[float, float, float, int, int],
) -> D.InvariantsResult:
    th = D.InvariantThresholds(*thresholds)
    outputs = [
        a for a in (_sc.pred if _sc.task == "regression" else None, _sc.proba, _sc.score) if a is not None
    ]
    return D.data_invariants(
        _profile_obj,
        _tl.frame,
        _w.codes,
        _w.n_windows,
        outputs=outputs,
        output_codes=_sc_codes,
        thresholds=th,
    )


@st.cache_data(max_entries=32, show_spinner=False)
def _overall(_sc: Scored, key: str, metric: str) -> float:
    """The model's current value of ``metric`` on the analysed data (for default thresholds)."""
    try:
        return float(M.overall_metrics(_sc, metrics=[metric])["value"].iloc[0])
    except ExploreError:
        return float("nan")


@st.cache_data(max_entries=16, show_spinner=False)
def _fingerprints(
    _ws: Workspace, ws_key: str, datasets: tuple[str, ...], model: str | None
) -> tuple[str, list[str]]:
    return (
        _ws.model_fingerprint(model) if model else "predictions-only",
        [_ws.data_fingerprint(d) for d in datasets],
    )


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def _records(df: pd.DataFrame) -> list[dict]:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
            out[c] = out[c].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out.to_dict(orient="records")


# ---- window controls ----------------------------------------------------------------------------------

data_options = ["sidebar"] + (["all"] if len(ws.dataset_names) > 1 else [])
c1, c2, c3, c4 = st.columns([2, 2, 1, 1])
data_choice = c1.selectbox(
    "Data",
    data_options,
    index=len(data_options) - 1,
    key="staleness_data",
    format_func={"sidebar": f"Sidebar dataset ({sidebar_ds})", "all": ALL}.get,
    help="Which rows to cut into windows for performance, drift and invariants. 'All datasets' joins every "
    "dataset of the workspace in time order (windows overlapping the model's training data are in-sample).",
)
datasets = tuple(ws.dataset_names) if data_choice == "all" else (sidebar_ds,)
by = c2.selectbox("Windows", list(BY_NAMES), format_func=BY_NAMES.get, key="staleness_window_by")
n_windows = int(
    c3.number_input(
        "Windows (equal rows)", 2, W.MAX_WINDOWS, 12, key="staleness_n_windows", disabled=by != "rows"
    )
)
min_rows = int(
    c4.number_input(
        "Flag windows under (rows)",
        1,
        1_000_000,
        W.DEFAULT_MIN_ROWS,
        key="staleness_min_rows",
        help="Windows with fewer rows are flagged (faded or hollow), never dropped.",
    )
)

with shown_errors():
    tl = _timeline(ws, ws.key, datasets)
    windows = _windows(tl, ws.key, datasets, by, n_windows, min_rows, None)
    sc = _scored_all(ws, ws.key, datasets, model_name)
    sc_codes = _codes(sc, windows, f"{ws.key}|{datasets}|{windows.key()}|{model_name}")
sources = W.window_sources(windows, tl.source)
wkey = f"{ws.key}|{datasets}|{windows.key()}|{model_name}"

n_few = int(windows.too_few.sum())
st.caption(
    f"{windows.n_windows} windows over {tl.n:,} rows of {', '.join(datasets)}"
    + (f"; {n_few} with fewer than {min_rows:,} rows (flagged)" if n_few else "")
    + (
        f"; {windows.n_missing_time:,} rows without a timestamp are left out"
        if windows.n_missing_time
        else ""
    )
    + "."
)

# ---- performance over time ----------------------------------------------------------------------------


@st.fragment
def performance_section() -> None:
    st.subheader("Performance over time")
    if sc.model_name is None:
        st.caption("Predictions-only mode: the metrics use the prediction columns of the data.")
    options = [m for m in M.available_metrics(sc) if M.metric_direction(m) is not None or "[class=" in m]
    default = [m for m in MAIN_METRICS[sc.task] if m in options] or options[:1]
    chosen = st.multiselect("Metrics", options, default=default, key="staleness_metrics", max_selections=4)
    slice_json = st.session_state.get(state.SLICE) or ""
    use_slice = False
    if slice_json:
        try:
            desc = SliceDefinition.from_json(slice_json).describe()
        except ExploreError as exc:
            st.caption(f"The current slice cannot be read ({exc}); showing all rows.")
            slice_json = ""
        else:
            use_slice = st.checkbox(f"Only the current slice: {desc}", key="staleness_in_slice")
    if not chosen:
        st.info("Choose at least one metric.")
        return
    with shown_errors(stop=False), st.spinner("Computing metrics per window…"):
        pot = _performance(sc, windows, sc_codes, wkey, tuple(chosen), slice_json if use_slice else "")
        st.session_state["staleness_pot_metric"] = chosen[0]
        for m in chosen:
            st.altair_chart(C.performance_chart(pot, m), width="stretch")
        st.altair_chart(C.support_chart(pot), width="stretch")
        st.altair_chart(C.rates_chart(pot), width="stretch")
        st.caption(
            "Label and prediction rates together tell label shift (both lines move) from prediction shift "
            "(only the prediction line moves)."
        )
        # The table and its download carry every metric, not only the charted ones.
        pot_all = _performance(sc, windows, sc_codes, wkey, tuple(options), slice_json if use_slice else "")
        table = pot_all.table.assign(datasets=[sources[w] for w in pot_all.table["window"]])
        with st.expander("Table (every metric)"):
            st.dataframe(table, hide_index=True)
        cols = st.columns(2)
        cols[0].download_button(
            "Metrics per window (CSV)",
            _csv(table),
            "performance_over_time.csv",
            "text/csv",
            on_click="ignore",
            key="staleness_dl_perf",
        )
        cols[1].download_button(
            "Label / prediction rates (CSV)",
            _csv(pot.rates),
            "rates_over_time.csv",
            "text/csv",
            on_click="ignore",
            key="staleness_dl_rates",
        )
        evidence.attach_button(
            kind="performance_over_time",
            tests=["monitor-7"],
            title=f"Performance over time ({', '.join(chosen)}, by {by})",
            params={
                "datasets": list(datasets),
                "by": by,
                "metrics": chosen,
                "slice": slice_json if use_slice else "",
            },
            result={
                "rows": _records(
                    pot.table[
                        ["window", "label", "metric", "value", "ci_low", "ci_high", "support", "too_few"]
                    ]
                )
            },
            dataset=sidebar_ds if len(datasets) == 1 else None,
            key="staleness_evidence_perf",
        )


performance_section()

# ---- the staleness experiment -------------------------------------------------------------------------


def _default_cutoffs(n_w: int, span: int) -> list[int]:
    valid = list(range(span, n_w - 1))
    if len(valid) <= S.MIN_CUTOFFS:
        return valid
    picks = [valid[round(q * (len(valid) - 1))] for q in (0.0, 0.25, 0.5)]
    return sorted(set(picks))


def _show_experiment(result: S.StalenessResult, params_context: dict) -> None:
    e = result.estimate
    sentence = C.time_to_stale_sentence(result)
    (st.warning if e.n_stale else st.success)(sentence, icon=":material/schedule:")
    cols = st.columns(4)
    unit = result.unit
    cols[0].metric(
        f"Time to stale (median, {unit}s)", "—" if math.isnan(e.median_windows) else f"{e.median_windows:.0f}"
    )
    cols[1].metric("Cutoffs that went stale", f"{e.n_stale} of {e.n_cutoffs}")
    fitted = result.fits[result.fits["fitted"]] if not result.fits.empty else result.fits
    cols[2].metric(
        "Fits", f"{len(fitted)}", help="One per training cutoff and per evaluation window (fresh models)."
    )
    cols[3].metric(
        "Time per fit",
        f"{fitted['seconds'].mean():.1f} s" if len(fitted) else "—",
        help=f"Total {result.total_seconds:.1f} s",
    )
    st.altair_chart(C.staleness_chart(result, value="loss"), width="stretch")
    st.altair_chart(C.staleness_chart(result, value="stale"), width="stretch")
    st.altair_chart(C.calendar_chart(result), width="stretch")
    st.caption(
        "Changing the metric, the criterion or the threshold re-reads these fits: no new run is needed. "
        "Thin lines: one per training cutoff; bold: the mean over cutoffs with its min–max band. The gap compares each "
        "stale model with a fresh one trained on the same-length span just before the window, so hard calendar "
        "periods (where every model dips) do not count as staleness."
    )
    for note in result.notes:
        st.caption(note)
    with st.expander("Per cutoff, per window and per fit"):
        st.dataframe(result.per_cutoff, hide_index=True)
        st.dataframe(result.curves, hide_index=True)
        st.dataframe(result.fits, hide_index=True)
    cols = st.columns(3)
    cols[0].download_button(
        "Curves (CSV)",
        _csv(result.curves),
        "staleness_curves.csv",
        "text/csv",
        on_click="ignore",
        key="staleness_dl_curves",
    )
    cols[1].download_button(
        "Time to stale per cutoff (CSV)",
        _csv(result.per_cutoff),
        "time_to_stale.csv",
        "text/csv",
        on_click="ignore",
        key="staleness_dl_tts",
    )
    cols[2].download_button(
        "Summary by age (CSV)",
        _csv(result.summary),
        "staleness_summary.csv",
        "text/csv",
        on_click="ignore",
        key="staleness_dl_summary",
    )
    evidence.attach_button(
        kind="staleness_experiment",
        tests=["model-4", "monitor-4"],
        title=f"Staleness experiment: {sentence}",
        params={**result.params.to_dict(), **params_context},
        result={
            "sentence": sentence,
            "estimate": result.estimate.__dict__,
            "per_cutoff": _records(result.per_cutoff),
            "summary": _records(result.summary),
        },
        dataset=None,
        key="staleness_evidence_experiment",
    )


CANCELLED = "staleness_cancelled"


def _cancel() -> None:
    st.session_state[CANCELLED] = True


@st.fragment
def experiment_section() -> None:
    st.subheader("Staleness experiment")
    st.caption(
        "Refits a clone of the model on a span ending at each training cutoff, evaluates it on every later window, "
        "and compares it with a fresh model trained just before each window: the gap is what not retraining costs."
    )
    if not ws.models:
        st.info(S.NO_MODEL, icon=":material/info:")
        return
    model = ws.model(model_name)
    try:
        S.check_refittable(model, name=model_name)
    except ExploreError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    train_options = [ALL] + ws.dataset_names if len(ws.dataset_names) > 1 else ws.dataset_names
    c1, c2 = st.columns([2, 1])
    train_choice = c1.selectbox("Training data for the experiment", train_options, key="staleness_train_data")
    exp_datasets = tuple(ws.dataset_names) if train_choice == ALL else (train_choice,)
    if train_choice == ALL:
        c1.caption(
            f"Labelled rows of {', '.join(exp_datasets)} joined in time order; windows as chosen above."
        )
    try:
        etl = _timeline(ws, ws.key, exp_datasets)
        ew = _windows(etl, ws.key, exp_datasets, by, n_windows, min_rows, ws.columns.label)
    except ExploreError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if ew.n_windows < S.MIN_CUTOFFS + 2:
        st.info(
            f"The experiment needs at least {S.MIN_CUTOFFS + 2} windows (a training span, {S.MIN_CUTOFFS} cutoffs and later "
            f"windows); the labelled data makes {ew.n_windows}. Choose shorter windows or more data."
        )
        return
    span = int(
        c2.number_input(
            f"Training span ({ew.by if ew.by != 'rows' else 'window'}s)",
            1,
            ew.n_windows - 2,
            max(1, min(6, ew.n_windows // 4)),
            key="staleness_span",
        )
    )
    labels = ew.labels
    # Cutoffs are window indices: when the windows or the training data change, the old picks point at other
    # (or no) windows, so start again from the defaults.
    layout = "|".join(map(str, labels))
    if st.session_state.get("staleness_cutoffs_layout") != layout:
        st.session_state.pop("staleness_cutoffs", None)
        st.session_state["staleness_cutoffs_layout"] = layout
    cut = st.multiselect(
        f"Training cutoffs (≥ {S.MIN_CUTOFFS}; training ends at the start of each window)",
        list(range(1, ew.n_windows - 1)),
        default=[c for c in _default_cutoffs(ew.n_windows, span) if c >= 1],
        format_func=lambda i: labels[i],
        key="staleness_cutoffs",
    )
    metric_options = S.experiment_metric_options(ws.task, model)
    c1, c2, c3 = st.columns(3)
    metric = c1.selectbox(
        "Metric",
        metric_options,
        index=metric_options.index(MAIN_METRICS[ws.task][0])
        if MAIN_METRICS[ws.task][0] in metric_options
        else 0,
        key="staleness_exp_metric",
    )
    criterion = c2.radio(
        "Stale when",
        ["gap", "metric"],
        key="staleness_criterion",
        horizontal=True,
        format_func={"gap": "the gap to a fresh model exceeds", "metric": "the raw metric crosses"}.get,
    )
    reference = _overall(sc, wkey, metric)
    default = S.default_threshold(metric, criterion, reference)
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
                S.DEFAULT_MAX_FIT_ROWS,
                step=1000,
                key="staleness_max_fit",
            )
        )
        max_eval = int(
            b2.number_input(
                "Rows evaluated per window",
                100,
                2_000_000,
                S.DEFAULT_MAX_EVAL_ROWS,
                step=1000,
                key="staleness_max_eval",
            )
        )
        horizon_v = int(
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
    params = S.StalenessParams(
        cutoffs=tuple(sorted(int(c) for c in cut)),
        train_windows=span,
        metric=metric,
        criterion=criterion,
        threshold=threshold,
        horizon=horizon_v or None,
        max_fit_rows=max_fit,
        max_eval_rows=max_eval,
        persistence=persistence,
    )
    model_fp, data_fps = _fingerprints(ws, ws.key, exp_datasets, model_name)
    key = S.experiment_key(
        params,
        task=ws.task,
        windows=ew,
        model_fingerprint=model_fp,
        data_fingerprints=data_fps,
        datasets=exp_datasets,
    )
    context = {
        "datasets": list(exp_datasets),
        "by": by,
        "n_windows": n_windows,
        "min_rows": min_rows,
        "model": model_name,
    }
    store = loaders.store()
    workspace_id = str(ws.config.path)
    problem = ""
    try:
        S.validate_params(params, ew)
    except ExploreError as exc:
        problem = str(exc)
    saved = None
    if not problem:
        saved = S.load_experiment(store, workspace=workspace_id, key=key)
    if saved is not None:
        try:
            # The metric, criterion and threshold only read the saved curves: no refit needed.
            saved = saved.retarget(
                metric=metric, criterion=criterion, threshold=threshold, persistence=persistence
            )
        except ExploreError:
            saved = None  # saved without this metric: offer a new run
    if problem:
        st.warning(problem, icon=":material/tune:")
    with shown_errors(stop=False):
        run = st.button(
            "Run the experiment" if saved is None else "Run again",
            key="staleness_run",
            type="primary" if saved is None else "secondary",
            icon=":material/play_arrow:",
            disabled=bool(problem),
        )
        if run:
            st.session_state[CANCELLED] = False
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
                result = S.staleness_experiment(
                    model,
                    etl.frame,  # every row: those without a label are skipped, no copy
                    ew,
                    features=ws.feature_names,
                    label=ws.columns.label,
                    task=ws.task,
                    classes=ws.classes,
                    positive_index=ws.positive_index,
                    params=params,
                    progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg),
                    should_cancel=lambda: bool(st.session_state.get(CANCELLED, False)),
                    codes=_codes_for(etl, ew, f"{ws.key}|{exp_datasets}|{ew.key()}"),
                )
            except ExploreError:
                bar.empty()
                cancel_slot.empty()
                raise
            bar.empty()
            cancel_slot.empty()
            S.save_experiment(store, result, workspace=workspace_id, key=key, context=context)
            saved = result
        elif st.session_state.get(CANCELLED):
            st.info("The experiment was cancelled; nothing was saved.", icon=":material/stop:")
            st.session_state[CANCELLED] = False
        elif saved is not None:
            row = store.find_experiment(workspace_id, S.EXPERIMENT_KIND, key)
            st.caption(
                f"Saved result from {row['created_at']:%Y-%m-%d %H:%M} UTC (by {row['author']}): same parameters, model and data files."
            )
        if saved is not None:
            _show_experiment(saved, context)


experiment_section()

# ---- drift per feature ---------------------------------------------------------------------------------


def _reference_choice() -> tuple[str, pd.DataFrame, str]:
    ref_options = list(ws.dataset_names) + [f"window {lab}" for lab in windows.labels]
    default = ref_options.index(_default_reference())
    choice = st.selectbox(
        "Reference",
        ref_options,
        index=default,
        key="staleness_reference",
        help="Drift and invariants compare each window with this data (usually the training data).",
    )
    return (choice, *_reference_frame(choice))


def _default_reference() -> str:
    return "train" if "train" in ws.dataset_names else ws.dataset_names[0]


def _reference_frame(choice: str) -> tuple[pd.DataFrame, str]:
    """The reference rows and a cache key for them: a dataset, or one window of the analysed data."""
    if choice in ws.dataset_names:
        return ws.dataset(choice), f"dataset:{choice}"
    w = windows.labels.index(choice.removeprefix("window "))
    return tl.frame[windows.codes == w], f"window:{w}:{windows.key()}:{datasets}"


@st.fragment
def drift_section() -> None:
    st.subheader("Drift per feature")
    st.caption(
        "PSI (10 bins at the reference's quantiles, plus unseen and missing buckets; < 0.1 stable, 0.1–0.25 moderate, "
        "> 0.25 large), KS distance for numeric and Jensen–Shannon distance for categorical features. On large data every "
        "p-value is ~0, so judge by the effect size; p-values are in the table."
    )
    c1, c2 = st.columns([2, 1])
    with c1:
        ref_name, ref_frame, ref_key = _reference_choice()
    measure = c2.radio(
        "Heatmap",
        ["psi", "distance"],
        horizontal=True,
        key="staleness_measure",
        format_func={"psi": "PSI", "distance": "KS / JS distance"}.get,
    )
    with shown_errors(stop=False), st.spinner("Comparing features with the reference…"):
        prof = _profile(ws, ws.key, ref_name, ref_key, ref_frame, tuple(ws.feature_names))
        dr = _drift(prof, tl, windows, f"{wkey}|{ref_key}")
        st.altair_chart(
            C.drift_heatmap(dr, windows.labels, measure=measure, too_few=windows.too_few), width="stretch"
        )
        top = dr.top_features(measure="psi", n=len(ws.feature_names))
        metric = st.session_state.get("staleness_pot_metric") or MAIN_METRICS[sc.task][0]
        tracking = None
        try:
            pot = _performance(sc, windows, sc_codes, wkey, (metric,), "")
            series = pot.series(metric).set_index("window")["value"]
            tracking = D.drift_metric_tracking(
                dr, series, higher_is_better=bool(M.metric_direction(metric)), usable=~windows.too_few
            )
        except ExploreError as exc:
            st.caption(f"Drift vs {metric}: {exc}")
        if tracking is not None:
            top = top.merge(tracking[["feature", "spearman", "pearson"]], on="feature", how="left")
            top = top.rename(
                columns={
                    "spearman": f"tracks {metric} drop (Spearman)",
                    "pearson": f"tracks {metric} drop (Pearson)",
                }
            )
        top["worst_window"] = [windows.labels[int(w)] for w in top["worst_window"]]
        st.markdown(
            "**Top drifting features** (largest PSI over windows; the correlation columns say whose drift follows the performance drop)"
        )
        st.dataframe(top.head(15), hide_index=True)
        with st.expander("Drill down: one feature in one window"):
            d1, d2 = st.columns(2)
            feat = d1.selectbox("Feature", top["feature"].tolist(), key="staleness_drill_feature")
            win = d2.selectbox(
                "Window",
                list(range(windows.n_windows)),
                index=windows.n_windows - 1,
                format_func=lambda i: windows.labels[i],
                key="staleness_drill_window",
            )
            st.altair_chart(
                C.bucket_chart(
                    D.bucket_shares(dr, feat, win), feature=feat, window_label=windows.labels[win]
                ),
                width="stretch",
            )
        table = dr.table.assign(window_label=[windows.labels[w] for w in dr.table["window"]])
        st.download_button(
            "Drift per feature and window (CSV)",
            _csv(table),
            "drift.csv",
            "text/csv",
            on_click="ignore",
            key="staleness_dl_drift",
        )


drift_section()

# ---- data invariants per window ------------------------------------------------------------------------


@st.fragment
def invariants_section() -> None:
    st.subheader("Data invariants per window")
    st.caption(
        "Against the reference chosen above: null rates, values outside the reference's range, categories it never had, "
        "and NaN/inf in the inputs and in the model's outputs (outputs of labelled rows)."
    )
    c = st.columns(4)
    null_inc = (
        c[0].number_input("Null rate increase over (%)", 0.0, 100.0, 5.0, key="staleness_th_null") / 100
    )
    oor = c[1].number_input("Out of range over (%)", 0.0, 100.0, 1.0, key="staleness_th_range") / 100
    unseen = c[2].number_input("Unseen categories over (%)", 0.0, 100.0, 1.0, key="staleness_th_unseen") / 100
    nonfinite = int(
        c[3].number_input("NaN/inf outputs over (count)", 0, 10_000_000, 0, key="staleness_th_outputs")
    )
    ref_name = st.session_state.get("staleness_reference") or _default_reference()
    if ref_name not in ws.dataset_names and ref_name.removeprefix("window ") not in windows.labels:
        ref_name = _default_reference()  # a window of an earlier layout
    ref_frame, ref_key = _reference_frame(ref_name)
    with shown_errors(stop=False):
        prof = _profile(ws, ws.key, ref_name, ref_key, ref_frame, tuple(ws.feature_names))
        inv = _invariants(
            prof, tl, windows, sc, sc_codes, f"{wkey}|{ref_key}", (null_inc, oor, unseen, 0, nonfinite)
        )
        table = inv.by_window.assign(label=windows.labels, too_few=windows.too_few)
        table = table[
            [
                "window",
                "label",
                "rows",
                "too_few",
                "flagged",
                "breaks",
                "max_null_increase",
                "null_feature",
                "max_out_of_range",
                "out_of_range_feature",
                "max_unseen",
                "unseen_feature",
                "nan_inputs",
                "inf_inputs",
                "nan_outputs",
                "inf_outputs",
            ]
        ]
        n_flag = int(table["flagged"].sum())
        (st.warning if n_flag else st.success)(
            f"{n_flag} of {len(table)} windows break a threshold."
            if n_flag
            else "Every window keeps the invariants."
        )
        st.altair_chart(C.invariants_chart(inv, windows.labels), width="stretch")
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                c: st.column_config.NumberColumn(format="percent")
                for c in ("max_null_increase", "max_out_of_range", "max_unseen")
            },
        )
        cols = st.columns(2)
        cols[0].download_button(
            "Invariants per window (CSV)",
            _csv(table),
            "invariants.csv",
            "text/csv",
            on_click="ignore",
            key="staleness_dl_inv",
        )
        cols[1].download_button(
            "Per feature and window (CSV)",
            _csv(inv.by_feature),
            "invariants_by_feature.csv",
            "text/csv",
            on_click="ignore",
            key="staleness_dl_inv_f",
        )
        params = {
            "reference": ref_name,
            "datasets": list(datasets),
            "by": by,
            "thresholds": inv.thresholds.__dict__,
        }
        evidence.attach_button(
            kind="data_invariants",
            tests=["monitor-2"],
            title=f"Data invariants per window vs {ref_name}: {n_flag} of {len(table)} windows flagged",
            params=params,
            result={"windows": _records(table)},
            dataset=sidebar_ds if len(datasets) == 1 else None,
            key="staleness_evidence_invariants",
        )
        nonfinite_table = table[["window", "label", "nan_inputs", "inf_inputs", "nan_outputs", "inf_outputs"]]
        n_bad = int((table["nan_outputs"] + table["inf_outputs"] > nonfinite).sum())
        evidence.attach_button(
            kind="numerical_stability",
            tests=["monitor-5"],
            title=f"NaN/inf in inputs and model outputs per window: {n_bad} windows with non-finite outputs",
            params=params,
            result={"windows": _records(nonfinite_table)},
            dataset=sidebar_ds if len(datasets) == 1 else None,
            key="staleness_evidence_nonfinite",
        )


invariants_section()
