"""Importance: which features the model leans on — overall, in the current slice, and for one datapoint — as
SHAP values with their units, approximations and an additivity check stated, cross-checked by permutation
importance and (optionally) by refitting the model without each feature."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from explore.core.workspace import Scored
from explore.errors import AnalysisError, ExploreError
from explore.importance import charts
from explore.importance import explain as I
from explore.slices.definition import SliceDefinition
from ui import evidence, loaders, state
from ui.boundary import shown_errors

AUTO_SECONDS = 3.0  # compute without a click when the estimate is below this
DROP_SECONDS_PER_FIT_HINT = "each refit takes as long as training the model once on the sampled rows"

st.title("Importance")
st.caption(
    "Which features does the model lean on — overall, in the current slice, and for one datapoint? If a feature "
    "it relies on moves outside what it saw in training, its predictions there should not be trusted. SHAP values "
    "below come with their units, the explainer used, its approximations, and an additivity check."
)

with shown_errors():
    ws = loaders.open_current()
    DATASET = loaders.selected_dataset(ws)
    MODEL_NAME = loaders.selected_model(ws)
    if MODEL_NAME is None:
        raise AnalysisError(I.NO_MODEL.format(dataset=DATASET))
    sc: Scored = loaders.scored(DATASET, MODEL_NAME, ws=ws)
    MODEL = ws.model(MODEL_NAME)
KEY = f"{ws.key}|{DATASET}|{MODEL_NAME}"
LABEL = ws.columns.label


# ---- cached computations (small results; Scored and the model are never hashed) ---------------------------


def _bar_progress(text: str) -> tuple[Any, I.Progress]:
    """A progress bar created inside a cached function (so Streamlit can replay it), throttled to ~20 updates."""
    bar = st.progress(0.0, text=text)
    last = [-1.0]

    def update(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    return bar, update


def _mask(_sc: Scored, slice_json: str) -> np.ndarray | None:
    return SliceDefinition.from_json(slice_json).mask(_sc) if slice_json else None


@st.cache_data(max_entries=16, show_spinner=False)
def _estimate(_sc: Scored, _model: Any, key: str, approximate: bool) -> I.TimeEstimate:
    return I.estimate_time(_sc, _model, approximate=approximate)


@st.cache_data(max_entries=24, show_spinner=False)
def _explanation(
    _sc: Scored, _model: Any, key: str, slice_json: str, sample_size: int, approximate: bool
) -> I.ShapExplanation:
    bar, update = _bar_progress("Explaining…")
    try:
        return I.explain(
            _sc,
            _model,
            mask=_mask(_sc, slice_json),
            sample_size=sample_size,
            approximate=approximate,
            progress=update,
        )
    finally:
        bar.empty()


@st.cache_data(max_entries=64, show_spinner=False)
def _local(_sc: Scored, _model: Any, key: str, position: int, approximate: bool) -> I.ShapExplanation:
    return I.explain(_sc, _model, rows=[position], approximate=approximate)


@st.cache_data(max_entries=12, show_spinner=False)
def _comparison(
    _sc: Scored,
    _model: Any,
    _reference: pd.DataFrame,
    key: str,
    slice_json: str,
    reference: str,
    sample_size: int,
    approximate: bool,
) -> I.SliceComparison:
    sd = SliceDefinition.from_json(slice_json)
    bar, update = _bar_progress("Explaining the slice and the rest…")
    try:
        return I.slice_vs_rest(
            _sc,
            _model,
            sd.mask(_sc),
            reference=_reference,
            reference_name=reference,
            description=sd.describe(),
            sample_size=sample_size,
            approximate=approximate,
            progress=update,
        )
    finally:
        bar.empty()


@st.cache_data(max_entries=16, show_spinner=False)
def _predict_seconds(_sc: Scored, _model: Any, key: str, n_rows: int) -> float:
    """Seconds the model takes to score ``n_rows`` rows (for the permutation check's estimate)."""
    rows = _sc.X.iloc[: min(n_rows, _sc.n)]
    t0 = time.perf_counter()
    (_model.predict_proba if hasattr(_model, "predict_proba") else _model.predict)(
        rows if hasattr(_model, "feature_names_in_") else rows.to_numpy()
    )
    return time.perf_counter() - t0


@st.cache_data(max_entries=12, show_spinner=False)
def _permutation(
    _sc: Scored,
    _model: Any,
    _expl: I.ShapExplanation,
    key: str,
    slice_json: str,
    sample_size: int,
    approximate: bool,
) -> I.PermutationCheck:
    with st.spinner("Shuffling each feature 5 times and rescoring the rows…", show_time=True):
        return I.permutation_check(_sc, _model, _expl)


@st.cache_data(max_entries=48, show_spinner=False)
def _chart_spec(spec_key: str, _build: Callable[[], alt.Chart]) -> dict:
    """A chart's Vega-Lite spec, built once per ``spec_key`` (Altair's to_dict is the slow part of a rerun)."""
    return _build().to_dict()


def show_chart(build: Callable[[], alt.Chart], *, spec_key: str, key: str, where: Any = None) -> None:
    (where or st).vega_lite_chart(spec=_chart_spec(spec_key, build), key=key, width="stretch")


@st.cache_data(max_entries=8, show_spinner=False)
def _interaction(_expl: I.ShapExplanation, key: str, feature: str, output: int) -> str | None:
    return I.interaction_partner(_expl, feature, output=output)


# ---- helpers ---------------------------------------------------------------------------------------------


def _units_sentence(expl: I.ShapExplanation) -> str:
    positive = expl.output_names[0] if expl.output_names else ""
    if expl.units == I.LOG_ODDS:
        return f"log-odds of {LABEL} = '{positive}' (the model's decision function; + raises the odds)"
    if expl.units == I.LOGIT:
        return "logits: each class's raw score before the softmax (one set of SHAP values per class)"
    if expl.units == I.PROBABILITY:
        if expl.n_outputs == 1:
            return f"probability of {LABEL} = '{positive}' (predict_proba)"
        return "probability of each class (predict_proba; one set of SHAP values per class)"
    if expl.units == I.TARGET:
        return f"units of the target '{LABEL}' (the model's prediction)"
    return "the classifier's decision-function units (a margin, not a probability)"


def _fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 90 else f"{s / 60:.1f} min"


def _requested() -> set[str]:
    return st.session_state.setdefault("importance_requested", set())


def _current_slice() -> tuple[str, str]:
    """(slice JSON, description) of the Slices page's current slice; ("", "") when none or unreadable."""
    text = st.session_state.get(state.SLICE) or ""
    if not text:
        return "", ""
    try:
        sd = SliceDefinition.from_json(text)
    except ExploreError as exc:
        st.warning(
            f"The current slice could not be read, so all rows are used: {exc}", icon=":material/warning:"
        )
        return "", ""
    return (sd.to_json(), sd.describe()) if sd.conditions else ("", "")


def _class_select(expl: I.ShapExplanation, key: str, default: int = 0) -> int:
    if expl.n_outputs == 1:
        return 0
    names = [str(n) for n in expl.output_names]
    choice = st.selectbox("Class shown", names, index=default, key=key)
    return names.index(choice)


# ---- settings --------------------------------------------------------------------------------------------

with shown_errors():
    plan = I.plan_explainer(MODEL, sc)

slice_json, slice_text = _current_slice()
c1, c2, c3 = st.columns([2, 1, 1])
scopes = ["All rows"] + ([f"Current slice: {slice_text}"] if slice_json else [])
scope = c1.radio(
    "Rows to explain",
    scopes,
    key="importance_scope",
    horizontal=True,
    help="The current slice is set on the Slices page. Rows are sampled, stratified by the label.",
)
use_slice = slice_json if scope != "All rows" and slice_json else ""
try:
    mask = _mask(sc, use_slice)
except ExploreError as exc:  # e.g. the slice names a column this dataset lacks: fall back to all rows
    st.warning(
        f"The current slice cannot be applied to dataset '{DATASET}', so all rows are used: {exc}",
        icon=":material/warning:",
    )
    use_slice, mask = "", None
population = int(mask.sum()) if mask is not None else sc.n
if population == 0:
    st.warning(
        f"The slice has no labelled rows in dataset '{DATASET}'. Widen it on the Slices page.",
        icon=":material/warning:",
    )
    st.stop()
approximate = False
if plan.approximate_available:
    approximate = c3.toggle(
        "Approximate (Saabas)",
        key="importance_approximate",
        value=False,
        help="shap's fast tree approximation: additive, but not Shapley values — rankings can differ. "
        "Worth it for deep random forests, where exact TreeSHAP is slow.",
    )
with shown_errors():
    est = _estimate(sc, MODEL, KEY, approximate)
default_n = plan.default_sample_size
if est.explainer in (I.PERMUTATION, I.EXACT):
    default_n = I.DEFAULT_SAMPLE["agnostic"]
if est.explainer in (I.PERMUTATION, I.EXACT) and est.seconds_per_row > 0:
    # the model-agnostic explainer costs a few hundred model calls per row: default to ~10 s of work
    default_n = int(min(max((10.0 - est.setup_seconds) / est.seconds_per_row, 50), default_n))
default_n = min(default_n, population)
requested_n = c2.number_input(
    "Sample size (rows)",
    min_value=1,
    value=default_n,
    step=100,
    key="importance_sample_size",
    help=f"Rows explained (of {population:,}), stratified by label. SHAP's cost grows linearly with it.",
)
sample_size = int(min(max(int(requested_n), 1), population))
eta = est.seconds(sample_size)
st.caption(
    f"**Explainer:** {est.explainer} on {plan.estimator}. {plan.reason}  \n"
    f"**Estimated time** for {sample_size:,} rows: ~{_fmt_seconds(eta)} "
    f"(measured on {est.probe_rows} rows)."
    + (f"  \n{plan.slow_hint}" if plan.slow_hint and not approximate else "")
)

run_key = f"{KEY}|{use_slice}|{sample_size}|{approximate}"
if eta > AUTO_SECONDS and run_key not in _requested():
    if st.button(
        f"Compute SHAP for {sample_size:,} rows (~{_fmt_seconds(eta)})",
        key="importance_compute",
        type="primary",
    ):
        _requested().add(run_key)
    else:
        st.info(
            "SHAP takes a while at this sample size: start it with the button, or lower the sample size.",
            icon=":material/hourglass_top:",
        )
        st.stop()
_requested().add(run_key)
with shown_errors():
    expl = _explanation(sc, MODEL, KEY, use_slice, sample_size, approximate)

# ---- trust indicators ------------------------------------------------------------------------------------

add = expl.additivity
m1, m2, m3, m4 = st.columns(4)
m1.metric(
    "Additivity",
    "passed" if add.passed else "FAILED",
    border=True,
    help=f"base value + Σ SHAP vs the model's own {add.output_space} on the same {add.n_rows:,} rows: largest "
    f"difference {add.max_abs_error:.2e} (tolerance {add.tolerance:.1e}). A failure means the values do not "
    "describe this model.",
)
m2.metric(
    "Rows explained",
    f"{expl.sample_size:,}",
    f"of {expl.population:,}",
    delta_color="off",
    border=True,
    help="A random sample stratified by the label (each class keeps its share).",
)
m3.metric(
    "Explainer",
    expl.explainer.split(" (")[0],
    "approximate" if expl.approximate or expl.explainer == I.PERMUTATION else "exact",
    delta_color="off",
    border=True,
    help=plan.reason,
)
m4.metric(
    "Time",
    _fmt_seconds(expl.seconds),
    border=True,
    help="Cached: revisiting with the same settings is instant.",
)
if not add.passed:
    st.error(
        f"The additivity check failed (largest error {add.max_abs_error:.3g} {expl.units}): these SHAP values do not "
        "add up to the model's output. Do not rely on them; please report the model type.",
        icon=":material/error:",
    )
st.markdown(f"SHAP values are in **{_units_sentence(expl)}**.")
if expl.grouped:
    n_cols = sum(len(v) for v in expl.groups.values())
    st.caption(
        f"The model's final step sees {n_cols} transformed columns; each raw feature's SHAP value is the sum over the "
        "columns made from it (read from the fitted ColumnTransformer, not from column names). Sums keep additivity "
        "exactly; they are the usual grouped attribution, not the Shapley value of the raw feature as a single player."
    )
for note in expl.notes:
    st.caption(f":material/info: {note}")

# ---- global importance -----------------------------------------------------------------------------------

st.subheader("Global importance")
table = I.importance_table(expl)
g1, g2 = st.columns([3, 2])
show_chart(lambda: charts.importance_bars(expl), spec_key=f"bars|{run_key}", key="importance_bars", where=g1)
with g2:
    st.dataframe(
        table[["rank", "feature", "mean_abs_shap", "share", "n_columns"]],
        hide_index=True,
        key="importance_table",
        column_config={
            "mean_abs_shap": st.column_config.NumberColumn(f"mean |SHAP| ({expl.units})", format="%.4f"),
            "share": st.column_config.NumberColumn("share", format="percent"),
            "n_columns": st.column_config.NumberColumn(
                "model columns", help="Transformed columns summed into it."
            ),
        },
    )
    st.download_button(
        "Download importance (CSV)",
        table.to_csv(index=False),
        file_name=f"importance_{DATASET}_{MODEL_NAME}.csv",
        mime="text/csv",
        key="importance_download",
        icon=":material/download:",
    )
st.caption(
    "Mean |SHAP|: the average size of a feature's push on the output across the explained rows"
    + (", summed over classes (bars are stacked by class)." if expl.n_outputs > 1 else ".")
)

# ---- distribution ----------------------------------------------------------------------------------------

st.subheader("How each feature pushes predictions")
class_idx = _class_select(expl, "importance_class")
show_chart(
    lambda: charts.beeswarm(expl, output=class_idx),
    spec_key=f"bees|{run_key}|{class_idx}",
    key="importance_beeswarm",
)
st.caption(
    "One dot per explained row (up to 4,000 dots): right of zero raises the output, left lowers it. Colour is the "
    "feature's value as a percentile among the rows (red high, blue low; grey for categories and missing values)."
)


@st.fragment
def dependence_view() -> None:
    st.subheader("Dependence")
    d1, d2 = st.columns(2)
    feature = d1.selectbox("Feature", table["feature"].tolist(), key="importance_dep_feature")
    options = ["auto (strongest interaction)", "none", *[f for f in expl.feature_names if f != feature]]
    color_choice = d2.selectbox("Colour by", options, key="importance_dep_color")
    with shown_errors(stop=False):
        if color_choice.startswith("auto"):
            color = _interaction(expl, run_key, feature, class_idx)
        else:
            color = None if color_choice == "none" else color_choice
        show_chart(
            lambda: charts.dependence(expl, feature, color=color, output=class_idx),
            spec_key=f"dep|{run_key}|{feature}|{color}|{class_idx}",
            key="importance_dependence",
        )
        st.caption(
            f"SHAP of **{feature}** against its value"
            + (f", coloured by **{color}**" if color else "")
            + ". A vertical spread at one value means the effect depends on other features (an interaction)."
        )


dependence_view()

# ---- slice vs rest ---------------------------------------------------------------------------------------

st.subheader("Current slice vs the rest")
if not slice_json:
    st.caption(
        "No slice is set. Define one on the Slices page to compare its importance and feature ranges here."
    )
else:
    st.caption(
        f"Slice: **{slice_text}** — importance inside it vs the other rows, and its feature values vs training."
    )
    refs = ws.dataset_names
    default_ref = next((i for i, d in enumerate(refs) if d.lower() in ("train", "training")), 0)
    s1, s2 = st.columns([2, 1])
    reference = s1.selectbox(
        "Compare feature ranges with dataset", refs, index=default_ref, key="importance_reference"
    )
    cmp_key = f"cmp|{KEY}|{slice_json}|{reference}|{sample_size}|{approximate}"
    if s2.button("Compare slice with the rest", key="importance_compare") or cmp_key in _requested():
        _requested().add(cmp_key)
        with shown_errors(stop=False):
            ref_frame = ws.dataset(reference)
            cmp = _comparison(
                sc,
                MODEL,
                ref_frame,
                f"{KEY}|{ws.data_fingerprint(reference)}",
                slice_json,
                reference,
                sample_size,
                approximate,
            )
            st.altair_chart(charts.slice_vs_rest_bars(cmp), key="importance_slice_chart", width="stretch")
            flagged = cmp.ranges[cmp.ranges["flag"]]["feature"].tolist() if "flag" in cmp.ranges else []
            if flagged:
                st.warning(
                    f"Outside the training envelope: {', '.join(flagged)} — features the model leans on in this slice, "
                    f"with over 5 % of the slice's values outside what '{reference}' holds (its 1st–99th percentile, or "
                    "categories seen in under 0.1 % of it). Trust the model less here.",
                    icon=":material/warning:",
                )
            st.dataframe(
                cmp.ranges,
                hide_index=True,
                key="importance_ranges",
                column_config={
                    "outside_share": st.column_config.NumberColumn("outside training", format="percent"),
                    "importance": st.column_config.NumberColumn(
                        f"mean |SHAP| in slice ({cmp.units})", format="%.4f"
                    ),
                },
            )
            st.caption(
                f"Explained {cmp.slice.sample_size:,} slice rows and {cmp.rest.sample_size:,} other rows with the same "
                f"explainer. Numeric features: slice 5th/50th/95th percentiles vs {reference}'s 1st/50th/99th."
            )

# ---- local explanation -----------------------------------------------------------------------------------


def _selected_position(scored: Scored, sel: dict[str, Any]) -> int:
    """The selected row's position in ``scored``: by id when the workspace has ids (positions may differ between
    pages that count unlabelled rows), else by position."""
    if ws.columns.id and sel.get("id") is not None:
        return I.find_row(scored, row_id=sel["id"])
    position = sel.get("position")
    return I.find_row(scored, position=-1 if position is None else int(position))


def _as_position(text: str) -> int:
    try:
        return int(text.strip().replace(",", ""))
    except ValueError:
        raise AnalysisError(
            "This workspace has no id column, so rows are picked by position: type a whole number from 0 to "
            f"{sc.n - 1:,}; received {text!r}."
        ) from None


@st.fragment
def local_view() -> None:
    st.subheader("One datapoint")
    sel = st.session_state.get(state.SELECTED_ROW)
    l1, l2 = st.columns([3, 1])
    typed = l1.text_input(
        "Row " + (f"id ({ws.columns.id})" if ws.columns.id else "position"),
        key="importance_row_input",
        placeholder="e.g. " + (str(sc.ids[0]) if sc.n else "0"),
        help="Or select a row on the Slices page: it shows here.",
    )
    if l2.button("Explain this row", key="importance_row_go") and typed.strip():
        with shown_errors(stop=False):
            if ws.columns.id:
                pos = I.find_row(sc, row_id=typed.strip())
            else:
                pos = I.find_row(sc, position=_as_position(typed))
            st.session_state[state.SELECTED_ROW] = {
                "dataset": DATASET,
                "position": pos,
                "id": sc.ids[pos].item() if hasattr(sc.ids[pos], "item") else sc.ids[pos],
            }
            sel = st.session_state[state.SELECTED_ROW]
    if not sel:
        st.caption("No datapoint selected: pick a row on the Slices page, or type one above.")
        return
    with shown_errors(stop=False):
        row_ds = sel.get("dataset") if sel.get("dataset") in ws.dataset_names else DATASET
        row_sc = sc if row_ds == DATASET else loaders.scored(row_ds, MODEL_NAME, ws=ws)
        pos = _selected_position(row_sc, sel)
        local = _local(row_sc, MODEL, f"{KEY}|{row_ds}", pos, approximate)
        names = [str(n) for n in local.output_names]
        predicted = (
            str(row_sc.classes[row_sc.pred[pos]])
            if row_sc.classes is not None and row_sc.pred[pos] >= 0
            else ""
        )
        default_class = names.index(predicted) if local.n_outputs > 1 and predicted in names else 0
        k = _class_select(local, "importance_local_class", default=default_class)
        if row_sc.task == "regression":
            truth, pred = f"{row_sc.y[pos]:.4g}", f"{row_sc.pred[pos]:.4g}"
        else:
            truth = row_sc.y_raw[pos]
            pred = row_sc.classes[row_sc.pred[pos]] if row_sc.pred[pos] >= 0 else "?"
        st.markdown(
            f"Row **{row_sc.ids[pos]}** (position {pos:,} of '{row_ds}') — true {LABEL}: **{truth}**, predicted: "
            f"**{pred}**; model output "
            f"{local.model_output[0, k]:.4g} = base {local.base_values[0, k]:.4g} + Σ SHAP "
            f"{local.values[0, :, k].sum():+.4g} ({local.units})."
        )
        steps = I.waterfall_steps(local, output=k, max_features=10)
        show_chart(
            lambda: charts.waterfall(
                steps, units=local.units, title=f"Why row {row_sc.ids[pos]} got its score"
            ),
            spec_key=f"waterfall|{KEY}|{row_ds}|{pos}|{k}|{approximate}",
            key="importance_waterfall",
        )
        st.caption(
            f"{local.explainer}; additivity {'passed' if local.additivity.passed else 'FAILED'} "
            f"(error {local.additivity.max_abs_error:.1e})."
        )
        evidence.attach_button(
            kind="local_explanation",
            tests=["infra-5"],
            title=f"SHAP explanation of row {row_sc.ids[pos]} ({row_ds})",
            params={"dataset": row_ds, "model": MODEL_NAME, "position": pos, "id": str(row_sc.ids[pos])},
            result={
                **local.to_dict(top=15),
                "steps": [
                    {"label": r.label, "contribution": float(r.contribution), "end": float(r.end)}
                    for r in steps.itertuples()
                ],
            },
            dataset=row_ds,
            key="importance_attach_local",
        )


local_view()

# ---- cross-checks ----------------------------------------------------------------------------------------

st.subheader("Cross-check: permutation importance")
st.caption(
    "scikit-learn's permutation importance on the same rows: how much the score worsens when a feature's values "
    "are shuffled. It ranks features model-agnostically; a low rank agreement with SHAP deserves a look."
)
perm_key = f"perm|{run_key}"
perm_eta = _predict_seconds(sc, MODEL, KEY, expl.sample_size) * (1 + 5 * len(expl.feature_names))
if (
    st.button(f"Run the permutation cross-check (~{_fmt_seconds(perm_eta)})", key="importance_perm")
    or perm_key in _requested()
):
    _requested().add(perm_key)
    with shown_errors(stop=False):
        check = _permutation(sc, MODEL, expl, KEY, use_slice, sample_size, approximate)
        p1, p2, p3 = st.columns(3)
        p1.metric(
            "Spearman rank agreement",
            "—" if check.spearman is None else f"{check.spearman:.2f}",
            border=True,
            help=check.note or f"p-value {check.p_value:.2g} over {len(check.table)} features.",
        )
        p2.metric(f"Top-{check.top_k} overlap", f"{check.top_overlap:.0%}", border=True)
        p3.metric("Scoring", check.scoring, f"{check.n_repeats} shuffles", delta_color="off", border=True)
        st.altair_chart(charts.permutation_vs_shap(check), key="importance_perm_chart", width="stretch")
        if check.note:
            st.caption(check.note)
        hurting = check.table[check.table["perm_mean"] < -check.table["perm_std"]]["feature"].tolist()
        if hurting:
            st.caption(
                f"Shuffling {', '.join(hurting)} *improves* the {check.scoring.split(' (')[0]} on these rows: the "
                "model's use of them does not hold here (common in a weak slice), which also lowers the agreement."
            )
        st.dataframe(
            check.table[["feature", "shap_rank", "perm_rank", "shap_mean_abs", "perm_mean", "perm_std"]],
            hide_index=True,
            key="importance_perm_table",
        )


st.subheader("Experiment: drop-column importance")
st.caption(
    "Are all features beneficial? Refit copies of the model with one feature neutralised (replaced by its median or "
    "most frequent value, so the Pipeline still finds the column) and measure the metric lost, over cross-validation "
    "folds with a confidence interval. A feature whose interval sits at or below zero adds nothing."
)


@st.fragment
def drop_column_view() -> None:
    train_names = ws.dataset_names
    default_train = next((i for i, d in enumerate(train_names) if d.lower() in ("train", "training")), 0)
    e1, e2, e3, e4 = st.columns(4)
    train = e1.selectbox("Training dataset", train_names, index=default_train, key="importance_drop_dataset")
    top_k = e2.number_input("Top features", 1, len(table), min(5, len(table)), key="importance_drop_k")
    folds = e3.number_input("Folds", 2, 10, 3, key="importance_drop_folds")
    max_rows = e4.number_input("Rows used (max)", 200, 200_000, 10_000, step=1000, key="importance_drop_rows")
    features = table["feature"].head(int(top_k)).tolist()
    metric = I.default_metric(MODEL, ws.task)
    n_fits = int(folds) * (1 + len(features))
    params = {
        "model": MODEL_NAME,
        "dataset": train,
        "features": features,
        "folds": int(folds),
        "metric": metric,
        "max_rows": int(max_rows),
    }
    exp_key = hashlib.sha256(
        f"{ws.model_fingerprint(MODEL_NAME)}|{ws.data_fingerprint(train)}|{params}".encode()
    ).hexdigest()[:20]
    st.caption(
        f"Neutralises {', '.join(features)}; {n_fits} refits ({DROP_SECONDS_PER_FIT_HINT}); metric: {metric}."
    )
    store = loaders.store()
    with shown_errors(stop=False):
        saved = store.find_experiment(str(ws.config.path), "drop_column", exp_key)
        result = I.DropColumnResult.from_dict(saved["result"]) if saved else None
        if st.button(f"Run {n_fits} refits", key="importance_drop_run", icon=":material/science:"):
            frame = ws.dataset(train)
            labelled = frame[frame[LABEL].notna()]
            with st.status(f"Refitting {n_fits} copies of the model…", expanded=True) as status:
                bar = st.progress(0.0)
                result = I.drop_column_importance(
                    MODEL,
                    labelled[sc.feature_names],
                    labelled[LABEL].to_numpy(),
                    features=features,
                    task=ws.task,
                    dataset=train,
                    folds=int(folds),
                    metric=metric,
                    max_rows=int(max_rows),
                    progress=lambda f, m: bar.progress(min(f, 1.0), text=m),
                )
                status.update(
                    label=f"Done in {_fmt_seconds(result.seconds)}", state="complete", expanded=False
                )
            store.save_experiment(
                workspace=str(ws.config.path),
                kind="drop_column",
                key=exp_key,
                params=params,
                result=result.to_dict(),
            )
        elif saved:
            st.caption(f"Saved result from {saved['created_at']:%Y-%m-%d %H:%M} by {saved['author']}.")
        if result is None:
            return
        st.altair_chart(charts.drop_column_chart(result), key="importance_drop_chart", width="stretch")
        st.dataframe(
            result.table.drop(columns=["fold_benefits"], errors="ignore"),
            hide_index=True,
            key="importance_drop_table",
        )
        st.caption(
            f"{result.folds}-fold CV on {result.n_rows:,} rows of '{result.dataset}'. Benefit = {result.metric} lost "
            f"when the feature is neutralised; {result.confidence:.0%} intervals use the Nadeau–Bengio corrected t "
            "(folds share training rows, so a plain t interval would be too narrow)."
        )
        evidence.attach_button(
            kind="drop_column_importance",
            tests=["data-2"],
            title=f"Drop-column importance of {len(result.table)} features ({result.metric}, {result.folds} folds)",
            params=params,
            result=result.to_dict(),
            dataset=train,
            key="importance_attach_drop",
        )


drop_column_view()
