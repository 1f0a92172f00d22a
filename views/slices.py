"""Slices: where does the model fail? Filter to a slice, compare it with the rest and with all rows,
break it down by groups, look at its curves and worst rows, edit a datapoint, find weak slices
automatically (with false-discovery control), and check fairness gaps and perturbations."""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from explore.core.workspace import Scored
from explore.errors import ExploreError
from explore.slices import charts
from explore.slices import report as S
from explore.slices import whatif as W
from explore.slices.definition import Condition, SliceDefinition
from explore.slices.grouping import sliceable_columns
from explore.stats.metrics import BOOTSTRAP_MAX_ROWS
from ui import evidence, loaders, state
from ui.boundary import shown_errors

st.title("Slices")
st.caption(
    "An aggregate score hides where a model fails. Filter the rows to a slice, compare it with the rest, break it "
    "down by groups, open single datapoints, and let discovery find weak slices for you — with intervals and "
    "false-discovery control, so a noisy difference is not taken for a real one."
)

with shown_errors():
    ws = loaders.open_current()
    DATASET = loaders.selected_dataset(ws)
    MODEL_NAME = loaders.selected_model(ws)
    sc: Scored = loaders.scored(DATASET, MODEL_NAME, ws=ws)
MODEL = ws.models.get(MODEL_NAME) if MODEL_NAME else None
KEY = f"{ws.key}|{DATASET}|{MODEL_NAME}"
CONFIDENCE = 0.95
VIEWS = ["Groups", "Curves & threshold", "Rows & what-if", "Discovery", "Fairness", "Perturbations"]


# ---- cached computations (small results; the Scored object itself is never hashed) -------------------


@st.cache_data(max_entries=64, show_spinner=False)
def _report(_sc: Scored, key: str, slice_json: str, by: tuple[str, ...], bins: int) -> S.SliceReport:
    return S.slice_report(
        _sc, SliceDefinition.from_json(slice_json), by=list(by), bins=bins, confidence=CONFIDENCE
    )


@st.cache_data(max_entries=64, show_spinner=False)
def _column_info(_sc: Scored, key: str, column: str) -> dict[str, Any]:
    """What the filter builder needs to offer values for a column."""
    s = S.column_values(_sc, column)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ok = s.dropna()
        return {
            "kind": "time",
            "min": ok.min().date() if len(ok) else None,
            "max": ok.max().date() if len(ok) else None,
        }
    if (
        pd.api.types.is_numeric_dtype(s.dtype)
        and not pd.api.types.is_bool_dtype(s.dtype)
        and s.nunique() > 20
    ):
        x = pd.to_numeric(s, errors="coerce")
        return {
            "kind": "numeric",
            "min": float(x.min()),
            "max": float(x.max()),
            "missing": int(x.isna().sum()),
        }
    counts = s.value_counts(dropna=False).head(500)
    values = [None if _isna(v) else (v.item() if isinstance(v, np.generic) else v) for v in counts.index]
    return {
        "kind": "categorical",
        "values": values,
        "counts": [int(c) for c in counts],
        "n_unique": int(s.nunique(dropna=False)),
    }


@st.cache_data(max_entries=16, show_spinner=False)
def _rows(_sc: Scored, key: str, slice_json: str, n: int) -> pd.DataFrame:
    return S.worst_rows(_sc, SliceDefinition.from_json(slice_json).mask(_sc), n=n)


@st.cache_data(max_entries=16, show_spinner=False)
def _fairness(
    _sc: Scored,
    key: str,
    slice_json: str,
    column: str,
    threshold: float,
    positive: str | None,
    min_support: int,
) -> S.FairnessResult:
    return S.fairness_gaps(
        _sc,
        column,
        threshold=threshold,
        positive=positive,
        slice_def=SliceDefinition.from_json(slice_json),
        min_support=min_support,
        confidence=CONFIDENCE,
    )


@st.cache_data(max_entries=256, show_spinner=False)
def _edit_options(_sc: Scored, key: str, feature: str) -> list[Any]:
    """The 100 most frequent values of a categorical feature (for the datapoint editor)."""
    counts = _sc.frame[feature].value_counts(dropna=False).index[:100]
    return [None if _isna(x) else (x.item() if isinstance(x, np.generic) else x) for x in counts]


@st.cache_data(max_entries=16, show_spinner=False)
def _curves(_sc: Scored, key: str, slice_json: str, cls: Any) -> S.Curves:
    mask = SliceDefinition.from_json(slice_json).mask(_sc)
    sets = {"slice": mask, "rest": ~mask, "all rows": np.ones(_sc.n, dtype=bool)}
    return S.curves(_sc, {k: v for k, v in sets.items() if v.any()}, cls=cls)


@st.cache_resource(max_entries=8, show_spinner=False)
def _id_text(_sc: Scored, key: str) -> np.ndarray:
    """Row ids as text, for finding a row by the id a user typed (shared, read-only)."""
    return pd.Series(_sc.ids).astype(str).to_numpy()


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# ---- the current slice: session state + URL -----------------------------------------------------------


def _apply_query_param() -> None:
    """A shared link (?slice=…) sets the slice once per distinct link."""
    text = st.query_params.get("slice")
    if text and st.session_state.get("slices_qp_seen") != text:
        st.session_state["slices_qp_seen"] = text
        with shown_errors(stop=False):
            st.session_state[state.SLICE] = SliceDefinition.from_query_param(text).to_json()


def current_slice() -> SliceDefinition:
    text = st.session_state.get(state.SLICE)
    if not text:
        return SliceDefinition()
    try:
        return SliceDefinition.from_json(text)
    except ExploreError as exc:
        st.warning(f"The saved slice could not be read and was cleared: {exc}", icon=":material/warning:")
        st.session_state.pop(state.SLICE, None)
        return SliceDefinition()


def set_slice(sd: SliceDefinition) -> None:
    """Make ``sd`` the current slice (session state, shared with other pages, and the URL)."""
    st.session_state[state.SLICE] = sd.to_json()
    if sd.conditions:
        qp = sd.to_query_param()
        st.query_params["slice"] = qp
        st.session_state["slices_qp_seen"] = qp
    else:
        st.query_params.pop("slice", None)
        st.session_state.pop("slices_qp_seen", None)


def _select_row(position: int) -> None:
    st.session_state[state.SELECTED_ROW] = {
        "dataset": DATASET,
        "position": int(position),
        "id": _plain(sc.ids[int(position)]),
    }


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return None if _isna(v) else v


_apply_query_param()
sd = current_slice()


# ---- filter builder -----------------------------------------------------------------------------------


def widget_suffix(column: str) -> str:
    """A stable, key-safe suffix for widgets that depend on the chosen column."""
    return f"{zlib.crc32(column.encode('utf-8')):08x}"


def _condition_from_widgets(column: str, info: dict[str, Any]) -> Condition | None:
    kind = info["kind"]
    suffix = widget_suffix(column)
    if kind == "categorical":
        values = info["values"]
        labels = {
            i: ("(missing)" if v is None else str(v)) + f"  ({info['counts'][i]:,})"
            for i, v in enumerate(values)
        }
        picked = st.multiselect(
            "Values",
            list(range(len(values))),
            format_func=lambda i: labels[i],
            key=f"slices_add_values_{suffix}",
            help="Rows whose value is one of these."
            + (" Only the 500 most frequent values are listed." if info["n_unique"] > 500 else ""),
        )
        exclude = st.checkbox("Exclude these values instead", key=f"slices_add_exclude_{suffix}")
        if not picked:
            return None
        return Condition(column, "not_in" if exclude else "in", values=tuple(values[i] for i in picked))
    if kind == "numeric":
        c1, c2 = st.columns(2)
        lo = c1.number_input("From (≥)", value=info["min"], key=f"slices_add_lo_{suffix}")
        hi = c2.number_input("To (≤)", value=info["max"], key=f"slices_add_hi_{suffix}")
        if lo is not None and hi is not None and lo > hi:
            st.warning(f"'From' ({lo:g}) is above 'To' ({hi:g}): the slice would be empty. Swap them.")
            return None
        return Condition(column, "range", lo=lo, hi=hi, hi_inclusive=True)
    if info["min"] is None:
        st.info("This time column has no parseable values.")
        return None
    picked = st.date_input(
        "Dates",
        value=(info["min"], info["max"]),
        min_value=info["min"],
        max_value=info["max"],
        key=f"slices_add_dates_{suffix}",
    )
    if not isinstance(picked, tuple | list) or len(picked) != 2:
        st.caption("Pick a start and an end date.")
        return None
    end = pd.Timestamp(picked[1]) + pd.Timedelta(days=1)
    return Condition(column, "range", lo=pd.Timestamp(picked[0]).isoformat(), hi=end.isoformat())


with st.container(border=True):
    st.markdown(f"**Slice** — {sd.describe()}")
    for i, cond in enumerate(sd.conditions):
        c1, c2 = st.columns([8, 1])
        c1.markdown(f"`{cond.describe()}`")
        if c2.button("Remove", key=f"slices_remove_{i}", icon=":material/close:"):
            set_slice(SliceDefinition(tuple(c for j, c in enumerate(sd.conditions) if j != i), sd.name))
            st.rerun()
    columns = sliceable_columns(sc)
    with st.popover("Add a condition", icon=":material/add:"):
        col = st.selectbox("Column", columns, format_func=S.display_name, key="slices_add_column")
        with shown_errors(stop=False):
            info = _column_info(sc, KEY, col)
            cond = _condition_from_widgets(col, info)
            if st.button("Add to the slice", key="slices_add", type="primary", disabled=cond is None):
                set_slice(sd.with_condition(cond))
                st.rerun()
    b1, b2, b3 = st.columns(3)
    if b1.button("Clear the slice", key="slices_clear", disabled=sd.is_everything):
        set_slice(SliceDefinition())
        st.rerun()
    with b2.popover("Save / load", icon=":material/bookmark:"):
        name = st.text_input("Name", key="slices_save_name", placeholder="e.g. tablet month-to-month")
        if st.button("Save this slice", key="slices_save", disabled=not name.strip() or sd.is_everything):
            with shown_errors(stop=False):
                loaders.store().save_slice(
                    str(ws.config.path), name.strip(), SliceDefinition(sd.conditions, name.strip()).to_dict()
                )
                st.success(f"Saved as '{name.strip()}'.")
        saved = []
        with shown_errors(stop=False):
            saved = loaders.store().list_slices(str(ws.config.path))
        if saved:
            names = [s["name"] for s in saved]
            pick = st.selectbox("Saved slices", names, key="slices_saved_pick")
            if st.button("Load", key="slices_load_saved"):
                with shown_errors(stop=False):
                    definition = next(s["definition"] for s in saved if s["name"] == pick)
                    set_slice(SliceDefinition.from_dict(definition))
                    st.rerun()
        else:
            st.caption("No saved slices in this workspace yet.")
    with b3.popover("Share", icon=":material/share:"):
        if sd.is_everything:
            st.caption("The slice is every row: there is nothing to share.")
        else:
            st.caption("The page URL carries the slice; copy it, or append this to the Slices page address:")
            st.code(f"?slice={sd.to_query_param()}", language=None)

try:
    MASK = sd.mask(sc)
except ExploreError as exc:
    st.error(f"{exc}", icon=":material/error:")
    if st.button("Clear the slice", key="slices_clear_bad"):
        set_slice(SliceDefinition())
        st.rerun()
    st.stop()
N_SLICE = int(MASK.sum())
if N_SLICE == 0:
    st.warning(
        f"The slice '{sd.describe()}' has no rows in dataset '{DATASET}' ({sc.n:,} labelled rows). Remove or loosen a condition.",
        icon=":material/filter_alt_off:",
    )
    st.stop()
SLICE_JSON = SliceDefinition(sd.conditions).to_json()


# ---- slice vs rest vs overall -------------------------------------------------------------------------

st.subheader("Slice vs rest vs all rows")
with shown_errors():
    report = _report(sc, KEY, SLICE_JSON, (), S.DEFAULT_BINS)
c1, c2, c3 = st.columns(3)
c1.metric("Rows in slice", f"{N_SLICE:,}", f"{N_SLICE / sc.n:.1%} of {sc.n:,}", delta_color="off")
if sc.task != "regression":
    acc = report.comparison.set_index("metric")
    c2.metric(
        "Accuracy in slice",
        f"{acc.loc['accuracy', 'slice']:.3f}",
        # No rest when the slice is every row: no delta rather than "+nan".
        None if pd.isna(acc.loc["accuracy", "gap"]) else f"{acc.loc['accuracy', 'gap']:+.3f} vs rest",
    )
    if sc.task == "binary":
        c3.metric("Positives in slice", f"{int((sc.y[MASK] == sc.positive_index).sum()):,}")
else:
    acc = report.comparison.set_index("metric")
    c2.metric(
        "MAE in slice",
        f"{acc.loc['MAE', 'slice']:.4g}",
        None if pd.isna(acc.loc["MAE", "gap"]) else f"{acc.loc['MAE', 'gap']:+.4g} vs rest",
        delta_color="inverse",
    )
for note in report.notes:
    st.info(note, icon=":material/info:")
if N_SLICE == 1:
    st.info(
        "A one-row slice: metrics are shown, but intervals and rankings need more rows.",
        icon=":material/info:",
    )
if sc.task != "regression" and len(np.unique(sc.y[MASK])) == 1:
    st.info(
        f"Every row of the slice has the same true class ({sc.classes[sc.y[MASK][0]]}): ROC/PR AUC and recall of the "
        "other class are undefined here (the table says why).",
        icon=":material/info:",
    )

table = report.comparison[
    [
        "metric",
        "overall",
        "slice",
        "slice_low",
        "slice_high",
        "rest",
        "gap",
        "p_worse",
        "slice_support",
        "method",
        "note",
    ]
]
st.dataframe(
    table,
    hide_index=True,
    key="slices_comparison_table",
    column_config={
        "overall": st.column_config.NumberColumn("all rows", format="%.4f"),
        "slice": st.column_config.NumberColumn(format="%.4f"),
        "slice_low": st.column_config.NumberColumn("slice CI low", format="%.4f"),
        "slice_high": st.column_config.NumberColumn("slice CI high", format="%.4f"),
        "rest": st.column_config.NumberColumn(format="%.4f"),
        "gap": st.column_config.NumberColumn("slice − rest", format="%+.4f"),
        "p_worse": st.column_config.NumberColumn(
            "p (slice worse)", format="%.3g", help="One-sided test that the slice is worse than the rest."
        ),
        "slice_support": st.column_config.NumberColumn("rows", format="%d"),
        "method": st.column_config.TextColumn(
            "interval", help="wilson / delong / normal / bootstrap: see docs/slices.md"
        ),
    },
)
st.caption(
    f"{CONFIDENCE:.0%} intervals: Wilson for proportions, DeLong for ROC AUC, normal (Student t) for per-row means, "
    f"logit for PR AUC; bootstrap only for the multiclass macro ROC AUC, on slices of at most {BOOTSTRAP_MAX_ROWS:,} rows "
    "(see the interval column and notes)."
)
with st.popover("Chart", icon=":material/bar_chart:"):
    st.altair_chart(charts.comparison_chart(report), key="slices_comparison_chart")
d1, d2 = st.columns(2)
d1.download_button(
    "Download CSV",
    report.comparison.to_csv(index=False),
    file_name="slice_vs_rest.csv",
    mime="text/csv",
    key="slices_dl_comparison",
)
with d2:
    evidence.attach_button(
        kind="slice_report",
        tests=["model-6"],
        title=f"Slice report: {sd.describe()} ({DATASET})",
        params={"slice": sd.to_dict(), "dataset": DATASET, "model": MODEL_NAME},
        result=report.to_dict(),
        dataset=DATASET,
        key="slices_evidence_report",
    )

st.divider()
view = st.radio("View", VIEWS, horizontal=True, key="slices_view", label_visibility="collapsed")


# ---- groups -------------------------------------------------------------------------------------------


@st.fragment
def groups_view() -> None:
    default_by = [c for c in ws.config.checks.slices if c in sc.frame.columns][:1]
    by = st.multiselect(
        "Group the slice by (one or two columns)",
        sliceable_columns(sc),
        default=default_by,
        max_selections=2,
        format_func=S.display_name,
        key="slices_group_by",
    )
    c1, c2, c3 = st.columns(3)
    bins = c1.number_input(
        "Quantile bins for numeric / time columns", 2, 20, S.DEFAULT_BINS, key="slices_bins"
    )
    if not by:
        st.info("Choose a column to break the slice down by (e.g. region, device, a binned numeric feature).")
        return
    with shown_errors(stop=False):
        rep = _report(sc, KEY, SLICE_JSON, tuple(by), int(bins))
        bg = rep.by_group
        metric_names = list(dict.fromkeys(bg["metric"]))
        metric = c2.selectbox("Metric", metric_names, key="slices_group_metric")
        sort = c3.radio("Sort by", ["gap", "value", "support"], horizontal=True, key="slices_group_sort")
        for note in rep.notes:
            st.caption(note)
        one = bg[bg["metric"] == metric].sort_values(sort, kind="stable", ascending=sort != "support")
        labels = [S.display_name(c) for c in by]
        shown = one[
            [*labels, "value", "ci_low", "ci_high", "support", "rest", "gap", "q_worse", "worse", "note"]
        ]
        n_worse = int(shown["worse"].sum())
        st.markdown(
            f"**{metric}** in {len(shown)} groups — **{n_worse}** significantly worse than the rest of the slice "
            f"(Benjamini–Hochberg, FDR {rep.fdr:g})."
        )
        st.dataframe(
            shown.style.apply(
                lambda r: ["background-color: #fde0dd" if r["worse"] else "" for _ in r], axis=1
            ),
            hide_index=True,
            key="slices_group_table",
            column_config={
                "value": st.column_config.NumberColumn(metric, format="%.4f"),
                "ci_low": st.column_config.NumberColumn("CI low", format="%.4f"),
                "ci_high": st.column_config.NumberColumn("CI high", format="%.4f"),
                "rest": st.column_config.NumberColumn("rest of slice", format="%.4f"),
                "gap": st.column_config.NumberColumn("gap", format="%+.4f"),
                "q_worse": st.column_config.NumberColumn("q (worse)", format="%.3g"),
            },
        )
        st.altair_chart(
            charts.group_bars(rep, metric, sort_by=sort), key="slices_group_chart", width="stretch"
        )
        g1, g2, g3 = st.columns([2, 1, 1])
        idx_options = list(one["group"])
        label_of = {int(r["group"]): " · ".join(str(r[c]) for c in labels) for _, r in one.iterrows()}
        pick = g1.selectbox(
            "Group", idx_options, format_func=lambda i: label_of[int(i)], key="slices_group_pick"
        )
        if g2.button("Load into the filter", key="slices_group_load", icon=":material/filter_alt:"):
            set_slice(rep.group_slice(int(pick)))
            st.rerun()
        g3.download_button(
            "Download CSV",
            bg.to_csv(index=False),
            file_name="slice_by_group.csv",
            mime="text/csv",
            key="slices_dl_groups",
        )
        evidence.attach_button(
            kind="slice_by_group",
            tests=["model-6"],
            title=f"Slice metrics by {', '.join(labels)}: {sd.describe()} ({DATASET})",
            params={
                "slice": sd.to_dict(),
                "by": by,
                "bins": int(bins),
                "dataset": DATASET,
                "model": MODEL_NAME,
            },
            result=rep.to_dict(),
            dataset=DATASET,
            key="slices_evidence_groups",
        )


# ---- curves, confusion matrix, threshold --------------------------------------------------------------


@st.fragment
def curves_view() -> None:
    if sc.task == "regression":
        st.info(
            "Confusion matrices, ROC/PR curves and thresholds are for classification; this model is a regression."
        )
        return
    cls = None
    if sc.task == "multiclass":
        cls = st.selectbox(
            "Class (one-vs-rest)", sc.classes.tolist(), index=len(sc.classes) - 1, key="slices_curve_class"
        )
    threshold = None
    if sc.task == "binary" and sc.score is not None:
        with shown_errors(stop=False):
            lo, hi = W.threshold_range(sc)
            default = 0.5 if sc.proba is not None else 0.0
            threshold = st.slider(
                f"Decision threshold (positive = {sc.classes[sc.positive_index]} when the score ≥ it)",
                float(lo),
                float(hi),
                float(min(max(default, lo), hi)),
                step=(hi - lo) / 200 or 0.01,
                key="slices_threshold",
            )
    c1, c2 = st.columns(2)
    with shown_errors(stop=False):
        c1.altair_chart(
            charts.confusion_heatmap(S.confusion_matrix(sc, MASK, threshold=threshold), title="slice"),
            key="slices_cm_slice",
        )
        c2.altair_chart(
            charts.confusion_heatmap(S.confusion_matrix(sc, None, threshold=threshold), title="all rows"),
            key="slices_cm_all",
        )
    has_scores = (sc.task == "binary" and sc.score is not None) or (
        sc.task == "multiclass" and sc.proba is not None
    )
    if not has_scores:
        st.info(f"ROC/PR curves need scores: {sc.unavailable.get('ROC AUC', 'the model gives none')}.")
        return
    with shown_errors(stop=False):
        cur = _curves(sc, KEY, SLICE_JSON, cls)
        r1, r2 = st.columns(2)
        r1.altair_chart(charts.roc_chart(cur), key="slices_roc")
        r2.altair_chart(charts.pr_chart(cur), key="slices_pr")
        missing = [k for k, v in cur.auc.items() if math.isnan(v[0])]
        if missing:
            st.caption(f"No curve for {', '.join(missing)}: a single class there.")
    if threshold is None:
        return
    with shown_errors(stop=False):
        tm = W.threshold_metrics(
            sc, threshold, sets={"slice": MASK, "rest": ~MASK, "all rows": np.ones(sc.n, dtype=bool)}
        )
        st.dataframe(tm, hide_index=True, key="slices_threshold_table")
        st.markdown("**Suggested threshold for your costs**")
        k1, k2, k3 = st.columns(3)
        cost_fp = k1.number_input("Cost of a false positive", 0.0, value=1.0, key="slices_cost_fp")
        cost_fn = k2.number_input("Cost of a false negative", 0.0, value=1.0, key="slices_cost_fn")
        by = k3.selectbox(
            "Per group of",
            [None, *sliceable_columns(sc)],
            format_func=lambda c: "—" if c is None else S.display_name(c),
            key="slices_threshold_by",
        )
        sug = W.suggest_threshold(sc, cost_fp=cost_fp, cost_fn=cost_fn, current=threshold, mask=MASK, by=by)
        st.markdown(
            f"In the slice, the cost per row is lowest at threshold **{sug.overall['threshold']:.4g}** "
            f"({sug.overall['cost']:.4f} per row, vs {sug.overall['cost_at_current']:.4f} at {threshold:.4g})."
        )
        st.altair_chart(charts.threshold_cost_chart(sug), key="slices_cost_chart", width="stretch")
        if sug.by_group is not None:
            st.dataframe(sug.by_group, hide_index=True, key="slices_threshold_groups")


# ---- rows and the datapoint editor --------------------------------------------------------------------


def rows_view() -> None:
    n_show = 200
    rows = _rows(sc, KEY, SLICE_JSON, n_show)
    st.markdown(
        f"The slice's {min(n_show, N_SLICE):,} rows with the largest loss, worst first. Click a row to open it."
    )
    event = st.dataframe(
        rows,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="slices_rows_table",
        column_config={
            "loss": st.column_config.NumberColumn(format="%.4f"),
            "score": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    chosen = getattr(getattr(event, "selection", None), "rows", None) or []
    if chosen:
        pos = int(rows.iloc[chosen[0]]["position"])
        if selected_position() != pos:
            _select_row(pos)
    c1, c2, c3 = st.columns([2, 1, 1])
    typed = c1.text_input(
        "…or open a row by id" + ("" if ws.columns.id else " (row position)"), key="slices_row_id"
    )
    if c2.button("Open", key="slices_open_row"):
        with shown_errors(stop=False):
            _select_row(_position_of(typed))
    c3.download_button(
        "Download CSV",
        rows.to_csv(index=False),
        file_name="slice_worst_rows.csv",
        mime="text/csv",
        key="slices_dl_rows",
    )
    datapoint_editor()


def _position_of(text: str) -> int:
    text = text.strip()
    if not text:
        raise ExploreError("Type an id first.")
    hits = np.flatnonzero(_id_text(sc, KEY) == text)
    if len(hits):
        return int(hits[0])
    raise ExploreError(
        f"No row of dataset '{DATASET}' has the id {text!r}"
        + (
            f" in column '{ws.columns.id}'."
            if ws.columns.id
            else " (ids are row positions 0 to " + f"{sc.n - 1:,})."
        )
    )


def selected_position() -> int | None:
    """The scored-row position of the datapoint in focus on this dataset (matched by id when the workspace
    has an id column, as other pages may set only the id), or None."""
    sel = st.session_state.get(state.SELECTED_ROW)
    if not isinstance(sel, dict) or sel.get("dataset") != DATASET:
        return None
    if ws.columns.id and sel.get("id") is not None:
        hits = np.flatnonzero(_id_text(sc, KEY) == str(sel["id"]))
        return int(hits[0]) if len(hits) else None
    pos = sel.get("position")
    return int(pos) if isinstance(pos, int | np.integer) and 0 <= pos < sc.n else None


@st.fragment
def datapoint_editor() -> None:
    pos = selected_position()
    if pos is None:
        st.caption("No datapoint open.")
        return
    st.markdown(f"#### Datapoint `{_plain(sc.ids[pos])}` (row {pos:,} of {DATASET})")
    truth = sc.y[pos] if sc.task == "regression" else sc.y_raw[pos]
    pred = (
        sc.pred[pos] if sc.task == "regression" else (sc.classes[sc.pred[pos]] if sc.pred[pos] >= 0 else None)
    )
    m1, m2, m3 = st.columns(3)
    m1.metric("True label", f"{truth}")
    m2.metric("Prediction", f"{pred:.4g}" if sc.task == "regression" else f"{pred}")
    if sc.task == "binary" and sc.score is not None:
        m3.metric(W.target_description(sc), f"{sc.score[pos]:.4f}")
    left, right = st.columns(2)
    with left:
        st.markdown("**Edit features** (the prediction updates live)")
        edits: dict[str, Any] = {}
        for feat in sc.feature_names:
            edits[feat] = _feature_widget(feat, pos)
        if MODEL is None:
            st.info(W.NO_MODEL.format(what="Editing a datapoint"))
        else:
            with shown_errors(stop=False):
                res = W.edit_and_predict(MODEL, sc, pos, edits)
                if res.changes:
                    delta = ""
                    if res.original_score is not None and res.edited_score is not None:
                        delta = f" ({res.score_meaning}: {res.original_score:.4f} → {res.edited_score:.4f})"
                    verb = "flips to" if res.flipped else "stays"
                    st.success(
                        f"Prediction {verb} **{_fmt(res.edited)}**{delta} after changing {', '.join(res.changes)}."
                    )
                else:
                    st.caption(
                        f"Unchanged: prediction {_fmt(res.original)}"
                        + (
                            f", {res.score_meaning} {res.original_score:.4f}"
                            if res.original_score is not None
                            else ""
                        )
                    )
                if res.proba_edited:
                    st.dataframe(
                        pd.DataFrame(
                            {
                                "class": list(res.proba_edited),
                                "original": list(res.proba_original.values()),
                                "edited": list(res.proba_edited.values()),
                            }
                        ),
                        hide_index=True,
                        key="slices_edit_proba",
                    )
    with right:
        st.markdown("**Nearest counterfactual**")
        k1, k2 = st.columns(2)
        norm = k1.radio(
            "Distance", ["l2", "l1"], horizontal=True, key="slices_cf_norm", format_func=str.upper
        )
        in_slice = k2.checkbox("Only rows in the slice", key="slices_cf_in_slice")
        delta = None
        if sc.task == "regression":
            default = float(0.5 * np.nanstd(sc.pred)) or 1.0
            delta = st.number_input(
                "Prediction must differ by at least", min_value=0.0, value=default, key="slices_cf_delta"
            )
        with shown_errors(stop=False):
            cf = W.nearest_counterfactual(
                sc, pos, model=MODEL, norm=norm, delta=delta or None, mask=MASK if in_slice else None
            )
            if not cf.found:
                st.info(cf.message)
            else:
                st.markdown(
                    f"Row `{cf.cf_id}` is predicted **{_fmt(cf.cf_prediction)}** (this row: {_fmt(cf.original_prediction)}), "
                    f"distance {cf.distance:.3f} ({cf.norm.upper()}, standardised). {cf.message}"
                    + (
                        ""
                        if cf.verified is None
                        else (
                            " Re-predicted: the change holds."
                            if cf.verified
                            else " Re-predicted: the change does not hold!"
                        )
                    )
                )
                st.dataframe(
                    cf.differences.astype({"original": str, "counterfactual": str}),
                    hide_index=True,
                    key="slices_cf_table",
                )
                # A callback, not st.rerun(scope="fragment"): that raises when the click is handled in a
                # full-app run; the click reruns this fragment by itself.
                st.button(
                    "Open the counterfactual row",
                    key="slices_cf_open",
                    on_click=_select_row,
                    args=(cf.cf_position,),
                )
        st.markdown("**ICE: this row's output across one feature**")
        if MODEL is None:
            st.info(W.NO_MODEL.format(what="An ICE curve"))
        else:
            feat = st.selectbox("Feature", sc.feature_names, key="slices_ice_feature")
            with shown_errors(stop=False):
                ice = W.ice_curve(MODEL, sc, pos, feat)
                st.altair_chart(charts.dependence_chart(ice), key="slices_ice_chart", width="stretch")
                if st.checkbox(
                    "Add partial dependence over the slice (300 sampled rows)", key="slices_pd_show"
                ):
                    pdp = W.partial_dependence(MODEL, sc, feat, mask=MASK)
                    st.altair_chart(charts.dependence_chart(pdp), key="slices_pd_chart", width="stretch")


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _feature_widget(feat: str, pos: int) -> Any:
    s = sc.frame[feat]
    value = s.iloc[pos]
    key = f"slices_edit_{pos}_{feat}"
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        v = None if _isna(value) else float(value)
        return st.number_input(feat, value=v, key=key, placeholder="missing", format="%g")
    opts = list(_edit_options(sc, KEY, feat))
    cur = None if _isna(value) else _plain(value)
    if cur not in opts:
        opts.append(cur)
    return st.selectbox(
        feat, opts, index=opts.index(cur), key=key, format_func=lambda x: "(missing)" if x is None else str(x)
    )


# ---- discovery ----------------------------------------------------------------------------------------


def discovery_view() -> None:
    st.markdown(
        "Discovery tests every slice of one or two conditions (categorical values, numeric quantile bins) with enough "
        "rows: Welch's t-test of the per-row loss inside vs outside, then Benjamini–Hochberg over **all** slices tested."
    )
    c1, c2, c3, c4 = st.columns(4)
    fdr = c1.number_input(
        "False discovery rate", 0.001, 0.5, 0.05, step=0.01, format="%.3f", key="slices_fdr"
    )
    min_support = c2.number_input(
        "Minimum rows per slice",
        10,
        max(10, sc.n // 2),
        min(max(50, sc.n // 1000), max(10, sc.n // 2)),
        key="slices_min_support",
    )
    max_conditions = c3.radio("Conditions", [1, 2], index=1, horizontal=True, key="slices_max_conditions")
    loss = c4.radio(
        "Compare",
        ["loss", "error"],
        horizontal=True,
        key="slices_loss",
        help="loss: log loss with probabilities (squared error for regression); error: 0/1 (absolute error).",
    )
    cols = st.multiselect(
        "Columns to search",
        sliceable_columns(sc),
        default=S.discovery_columns(sc),
        format_func=S.display_name,
        key="slices_disc_columns",
    )
    within = st.checkbox(
        "Search inside the current slice only", key="slices_disc_within", disabled=sd.is_everything
    )
    params = (
        KEY,
        SLICE_JSON if within else "",
        float(fdr),
        int(min_support),
        int(max_conditions),
        loss,
        tuple(cols),
    )
    if st.button(
        "Find weak slices", key="slices_discover", type="primary", icon=":material/search:", disabled=not cols
    ):
        bar = st.progress(0.0, text="Discovering…")
        with shown_errors(stop=False):
            res = S.weak_slices(
                sc,
                columns=cols,
                max_conditions=int(max_conditions),
                min_support=int(min_support),
                fdr=float(fdr),
                loss=loss,
                mask=MASK if within else None,
                progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m),
            )
            st.session_state["slices_discovery"] = (params, res)
        bar.empty()
    stored = st.session_state.get("slices_discovery")
    if not stored:
        return
    if stored[0] != params:
        st.caption(
            "The settings changed since the last run: press 'Find weak slices' to update the results below."
        )
    res: S.DiscoveryResult = stored[1]
    expected_by_chance = res.n_tested * res.fdr
    st.markdown(
        f"Tested **{res.n_tested:,}** slices ({res.n_pruned:,} ruled out by the bound) on {res.n_rows:,} rows, comparing "
        f"{res.loss}. **{len(res.slices)}** are significantly worse at FDR {res.fdr:g}"
        + (
            f" (and {res.n_redundant:,} more two-condition slices are hidden: they are not significantly worse than the "
            "rest of each of their single conditions, so they only add an unrelated condition to a weak slice; the CSV "
            "has them)."
            if res.n_redundant
            else "."
        )
    )
    st.caption(
        f"Why the correction matters: testing {res.n_tested:,} slices at 5% each would flag about {expected_by_chance:,.0f} "
        "by chance alone. Benjamini–Hochberg keeps the expected share of false discoveries among the reported slices at "
        f"or below {res.fdr:g}; the q-value is the smallest FDR at which a slice would be reported. Slices overlap, so "
        "several rows may describe the same weakness."
    )
    if res.skipped_columns:
        st.caption(
            "Skipped: " + "; ".join(f"{S.display_name(k)} ({v})" for k, v in res.skipped_columns.items())
        )
    if not len(res.slices):
        st.success("No slice is significantly worse than the rest at this false discovery rate.")
    else:
        st.dataframe(
            res.slices,
            hide_index=True,
            key="slices_disc_table",
            column_config={
                "loss": st.column_config.NumberColumn(format="%.4f"),
                "rest_loss": st.column_config.NumberColumn("rest loss", format="%.4f"),
                "diff": st.column_config.NumberColumn("gap", format="%+.4f"),
                "ci_low": st.column_config.NumberColumn(format="%+.4f"),
                "ci_high": st.column_config.NumberColumn(format="%+.4f"),
                "effect_size": st.column_config.NumberColumn("Cohen's d", format="%.3f"),
                "t": st.column_config.NumberColumn(format="%.2f"),
                "df": st.column_config.NumberColumn(format="%.0f"),
                "p_value": st.column_config.NumberColumn("p", format="%.2e"),
                "q_value": st.column_config.NumberColumn("q (BH)", format="%.2e"),
                "metric_slice": st.column_config.NumberColumn("metric in slice", format="%.4f"),
                "metric_rest": st.column_config.NumberColumn("metric in rest", format="%.4f"),
            },
        )
        d1, d2 = st.columns([3, 1])
        pick = d1.selectbox(
            "Found slice",
            range(len(res.slices)),
            format_func=lambda i: res.slices["slice"].iloc[i],
            key="slices_disc_pick",
        )
        if d2.button("Load into the filter", key="slices_disc_load", icon=":material/filter_alt:"):
            base = sd if params[1] else SliceDefinition()
            found = res.definitions[int(pick)]
            for cond in found.conditions:
                base = base.with_condition(cond)
            set_slice(SliceDefinition(base.conditions, found.name))
            st.rerun()
    st.altair_chart(charts.discovery_chart(res), key="slices_disc_chart", width="stretch")
    e1, e2 = st.columns(2)
    e1.download_button(
        "Download all tested slices (CSV)",
        res.tested.to_csv(index=False),
        file_name="weak_slices_tested.csv",
        mime="text/csv",
        key="slices_dl_disc",
    )
    with e2:
        evidence.attach_button(
            kind="weak_slices",
            tests=["model-6"],
            title=f"Weak-slice discovery on {DATASET}: {len(res.slices)} found of {res.n_tested:,} tested",
            params={
                "dataset": DATASET,
                "model": MODEL_NAME,
                "fdr": res.fdr,
                "min_support": res.min_support,
                "columns": res.columns,
            },
            result=res.to_dict(),
            dataset=DATASET,
            key="slices_evidence_discovery",
        )


# ---- fairness -----------------------------------------------------------------------------------------


def fairness_view() -> None:
    st.markdown(
        "Gaps between the groups of a column — demographic parity (share predicted positive), equal opportunity "
        "(recall among actual positives) and accuracy — inside the current slice. The ML Test Score asks that the "
        "model be tested for considerations of inclusion."
    )
    options = sliceable_columns(sc)
    preferred = [c for c in ws.config.checks.slices if c in options]
    c1, c2, c3, c4 = st.columns(4)
    column = c1.selectbox(
        "Column",
        options,
        index=options.index(preferred[0]) if preferred else 0,
        format_func=S.display_name,
        key="slices_fair_column",
    )
    threshold = c2.number_input(
        "Largest acceptable gap",
        0.0,
        1.0 if sc.task != "regression" else None,
        0.1,
        step=0.01,
        key="slices_fair_threshold",
    )
    min_support = c3.number_input("Minimum rows per group", 1, None, 30, key="slices_fair_min_support")
    positive = None
    if sc.task == "multiclass":
        positive = c4.selectbox(
            "Class", [str(c) for c in sc.classes.tolist()], index=len(sc.classes) - 1, key="slices_fair_class"
        )
    with shown_errors(stop=False):
        fr = _fairness(sc, KEY, SLICE_JSON, column, float(threshold), positive, int(min_support))
        st.dataframe(
            fr.gaps,
            hide_index=True,
            key="slices_fair_gaps",
            column_config={
                "gap": st.column_config.NumberColumn(format="%.4f"),
                "ci_low": st.column_config.NumberColumn(format="%.4f"),
                "ci_high": st.column_config.NumberColumn(format="%.4f"),
            },
        )
        flagged = fr.gaps[fr.gaps["exceeds"]]
        if len(flagged):
            st.warning(
                "Above your threshold: "
                + "; ".join(
                    f"{r.measure} {r.gap:.3f} ({r.high_group} vs {r.low_group})" for r in flagged.itertuples()
                )
            )
        for n in fr.notes:
            st.caption(n)
        st.altair_chart(charts.fairness_chart(fr), key="slices_fair_chart")
        st.dataframe(fr.groups, hide_index=True, key="slices_fair_groups")
        f1, f2 = st.columns(2)
        f1.download_button(
            "Download CSV",
            fr.groups.to_csv(index=False),
            file_name="fairness_groups.csv",
            mime="text/csv",
            key="slices_dl_fair",
        )
        with f2:
            evidence.attach_button(
                kind="fairness_gaps",
                tests=["model-7"],
                title=f"Fairness gaps by {S.display_name(column)} ({DATASET})",
                params={
                    "column": column,
                    "threshold": float(threshold),
                    "slice": sd.to_dict(),
                    "dataset": DATASET,
                    "model": MODEL_NAME,
                },
                result=fr.to_dict(),
                dataset=DATASET,
                key="slices_evidence_fairness",
            )


# ---- perturbations ------------------------------------------------------------------------------------


def perturbation_view() -> None:
    st.markdown(
        "CheckList-style tests: change one feature on every row of the slice and see what the model does. "
        "**Invariance** — changing it should not change the decision; **directional** — the score should only move one way."
    )
    if MODEL is None:
        st.info(W.NO_MODEL.format(what="A perturbation check"))
        return
    c1, c2, c3 = st.columns(3)
    feat = c1.selectbox("Feature", sc.feature_names, key="slices_pert_feature")
    s = sc.frame[feat]
    numeric = pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)
    mode = c2.radio(
        "Change",
        ["set to a value", "shift by"] if numeric else ["set to a value"],
        horizontal=True,
        key="slices_pert_mode",
    )
    if mode == "shift by":
        shift, set_to = (
            c3.number_input(
                "Amount to add",
                value=float(np.nanstd(pd.to_numeric(s, errors="coerce"))) or 1.0,
                key="slices_pert_shift",
            ),
            None,
        )
    elif numeric:
        shift, set_to = (
            None,
            c3.number_input(
                "Value", value=float(np.nanmedian(pd.to_numeric(s, errors="coerce"))), key="slices_pert_value"
            ),
        )
    else:
        opts = [_plain(v) for v in s.value_counts().index[:100]]
        shift, set_to = None, c3.selectbox("Value", opts, key="slices_pert_value_cat")
    e1, e2, e3 = st.columns(3)
    expectation = e1.radio(
        "Expectation",
        ["invariant", "increase", "decrease"],
        horizontal=True,
        key="slices_pert_expectation",
        help=f"The output tracked: {W.target_description(sc)} (multiclass: probability of the predicted class).",
    )
    tolerance = e2.number_input("Tolerance", 0.0, None, 0.0, format="%g", key="slices_pert_tolerance")
    by = e3.selectbox(
        "Rates per group of",
        [None, *sliceable_columns(sc)],
        format_func=lambda c: "—" if c is None else S.display_name(c),
        key="slices_pert_by",
    )
    if st.button("Run the check", key="slices_pert_run", type="primary"):
        with shown_errors(stop=False), st.spinner("Re-predicting…"):
            res = W.perturbation_check(
                MODEL,
                sc,
                feat,
                set_to=set_to,
                shift=shift,
                expectation=expectation,
                tolerance=tolerance,
                mask=MASK,
                by=by,
            )
            st.session_state["slices_perturbation"] = res
    res = st.session_state.get("slices_perturbation")
    if res is None:
        return
    sm = res.summary
    st.markdown(
        f"**{res.change}** on {sm['n']:,} rows{' (random sample of ' + format(res.n_eligible, ',') + ')' if res.sampled else ''}: "
        f"expectation *{res.expectation}* {'passed' if sm['passed'] else 'violated'} on {sm['violation_rate']:.2%} of rows "
        f"[{sm['violation_low']:.2%}, {sm['violation_high']:.2%}]; mean change of {res.output_meaning} {sm['mean_change']:+.4f}."
        + (f" Decisions flipped: {sm['flip_rate']:.2%}." if not math.isnan(sm["flip_rate"]) else "")
    )
    st.altair_chart(charts.perturbation_chart(res), key="slices_pert_chart", width="stretch")
    if res.by_group is not None:
        st.dataframe(res.by_group, hide_index=True, key="slices_pert_groups")
    st.markdown("Rows with the largest change")
    st.dataframe(res.examples, hide_index=True, key="slices_pert_examples")
    st.download_button(
        "Download CSV",
        res.examples.to_csv(index=False),
        file_name="perturbation_rows.csv",
        mime="text/csv",
        key="slices_dl_pert",
    )


if view == "Groups":
    groups_view()
elif view == "Curves & threshold":
    curves_view()
elif view == "Rows & what-if":
    rows_view()
elif view == "Discovery":
    discovery_view()
elif view == "Fairness":
    fairness_view()
else:
    perturbation_view()
