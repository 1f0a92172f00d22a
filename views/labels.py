"""Labels: do the labelers agree, whom to trust, which labels look wrong — and spot-check sessions whose
verdicts are written to the store the moment they are given."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from explore.cli.commands import max_upload_mb
from explore.core.upload import check_size, upload_root
from explore.errors import ExploreError
from explore.labels import charts, review
from explore.labels import crowd as labels
from ui import identity, loaders, state
from ui.boundary import shown_errors

VIEWS = ["Overview", "Queue", "Review", "Summary"]
SESSION_ID = "labels_session_id"  # int: the session open in Review / Summary
FLASH = "labels_flash"  # (kind, text): a message from a verdict callback, shown on the next run
MAX_SESSION_ITEMS = 5000
SHOWN_QUEUE_ROWS = 500

st.title("Labels")
st.caption(
    "Garbage labels make garbage models. See how far your labelers agree, which of them to trust, which "
    "labels a model and the labelers say are wrong — and spot-check them in review sessions that never lose "
    "a verdict."
)

with shown_errors():
    ws = loaders.open_current()
    store = loaders.store()

if ws.task == "regression":
    st.info(labels.ANN_REGRESSION.format(label=ws.columns.label), icon=":material/info:")
    st.stop()


# ---- cached computations (big objects: cache_resource, never mutated) ------------------------------


@st.cache_resource(max_entries=4, show_spinner="Reading annotations…")
def _workspace_annotations(_ws: Any, ws_key: str) -> labels.Annotations:
    return labels.workspace_annotations(_ws)


@st.cache_resource(max_entries=4, show_spinner="Reading the uploaded file…")
def _uploaded_frame(_data: bytes, digest: str, name: str) -> pd.DataFrame:
    folder = upload_root() / "annotations" / digest
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(name).name
    if not path.exists():
        path.write_bytes(_data)
    return labels.read_annotation_file(path, where="the uploaded annotation file")


@st.cache_resource(max_entries=8, show_spinner="Joining annotations to the dataset…")
def _uploaded_annotations(
    _ws: Any,
    _frame: pd.DataFrame,
    ws_key: str,
    digest: str,
    name: str,
    item: str,
    labeler: str,
    label: str,
    batch: str | None,
    dataset: str,
) -> labels.Annotations:
    return labels.annotations_from_frame(
        _ws, _frame, item=item, labeler=labeler, label=label, batch=batch, dataset=dataset, source=name
    )


@st.cache_resource(max_entries=8, show_spinner="Computing agreement…")
def _agreement(_ann: labels.Annotations, ann_key: str) -> labels.Agreement:
    return labels.agreement(_ann)


@st.cache_resource(max_entries=8, show_spinner="Estimating the consensus (Dawid–Skene)…")
def _consensus(_ann: labels.Annotations, ann_key: str) -> labels.Consensus:
    return labels.consensus(_ann)


@st.cache_resource(max_entries=8, show_spinner="Scoring the annotated items…")
def _model_probabilities(
    _ws: Any, _ann: labels.Annotations, ann_key: str, model: str | None
) -> labels.ItemProbabilities:
    return labels.model_probabilities(_ws, _ann, model=model)


CV_KIND = "labels_cross_validation"


@st.cache_resource(max_entries=4, show_spinner=False)
def _stored_cv(_store: Any, workspace: str, key: str) -> labels.ItemProbabilities | None:
    """Cross-validated probabilities saved in the store (they take minutes: kept across sessions)."""
    row = _store.find_experiment(workspace, CV_KIND, key)
    return (
        None if row is None or row["status"] != "done" else labels.ItemProbabilities.from_json(row["result"])
    )


@st.cache_resource(max_entries=16, show_spinner="Ranking the queue…")
def _queue(
    _ann: labels.Annotations,
    _cons: labels.Consensus,
    _probs: labels.ItemProbabilities | None,
    key: str,
    review_target: str,
    combine: str,
    weight: float,
    model_score: str,
) -> labels.Queue:
    return labels.rank_queue(
        _ann,
        _cons,
        _probs,
        review=review_target,
        combine=combine,
        model_weight=weight,
        model_score=model_score,
    )


@st.cache_resource(max_entries=4, show_spinner=False)
def _row_index(_ws: Any, ws_key: str, dataset: str) -> pd.Index:
    """The dataset's ids as text (how sessions name items) → row positions."""
    frame = _ws.dataset(dataset)
    if _ws.columns.id:
        return pd.Index(labels.text_keys(frame[_ws.columns.id]))
    return pd.Index([str(i) for i in range(len(frame))])


# ---- small helpers ---------------------------------------------------------------------------------


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.{digits}f} %"


def _reviewer_name(where: str) -> str:
    """The signed-in user when Streamlit auth is configured, else a name typed once (shared by all pages)."""
    return identity.name_input("Your name (recorded with every verdict)", key=f"labels_reviewer_{where}")


def _show_warnings(items: tuple[str, ...] | list[str]) -> None:
    for text in items:
        st.warning(text, icon=":material/warning:")


# ---- which annotations --------------------------------------------------------------------------------

has_ws_annotations = ws.config.annotations is not None
sources = (["workspace"] if has_ws_annotations else []) + ["upload"]
source = st.radio(
    "Annotations",
    sources,
    format_func={
        "workspace": "From the workspace ([annotations] in workspace.toml)",
        "upload": "Upload a file",
    }.get,
    horizontal=True,
    key="labels_source",
)
if not has_ws_annotations:
    st.caption(
        "This workspace has no [annotations] section: upload an annotation file (one row per item × labeler)."
    )

ann: labels.Annotations | None = None
ann_key = ""
if source == "workspace":
    with shown_errors():
        ann = _workspace_annotations(ws, ws.key)
    ann_key = f"{ws.key}|workspace"
else:
    upload = st.file_uploader(
        "Annotation file: CSV or Parquet, long format (item id, labeler, label, optional batch or date)",
        type=["csv", "tsv", "txt", "gz", "parquet", "pq"],
        key="labels_upload",
    )
    if upload is None:
        st.info(
            "Upload a file with one row per label given: the item's id (the dataset's id column "
            f"`{ws.columns.id or 'row position'}`), who labeled it, and the label.",
            icon=":material/upload_file:",
        )
        st.stop()
    with shown_errors():
        check_size(upload.name, upload.size, max_upload_mb())
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()[:16]
        frame = _uploaded_frame(data, digest, upload.name)
    columns = list(frame.columns)

    def _guess(words: tuple[str, ...], default: int) -> int:
        for i, c in enumerate(columns):
            if any(w in c.lower() for w in words):
                return i
        return min(default, len(columns) - 1)

    c1, c2, c3, c4, c5 = st.columns(5)
    id_guess = columns.index(ws.columns.id) if ws.columns.id in columns else _guess(("id", "item"), 0)
    item_col = c1.selectbox("Item id column", columns, index=id_guess, key="labels_up_item")
    labeler_col = c2.selectbox(
        "Labeler column",
        columns,
        index=_guess(("labeler", "annotator", "rater", "worker", "user"), 1),
        key="labels_up_labeler",
    )
    label_col = c3.selectbox(
        "Label column", columns, index=_guess(("label", "answer", "class"), 2), key="labels_up_label"
    )
    batch_col = c4.selectbox(
        "Batch / date column (optional)", ["(none)", *columns], index=0, key="labels_up_batch"
    )
    default_ds = ws.config.annotations.dataset if has_ws_annotations else loaders.selected_dataset(ws)
    dataset = c5.selectbox(
        "Dataset of the items",
        ws.dataset_names,
        index=ws.dataset_names.index(default_ds),
        key="labels_up_dataset",
    )
    batch = None if batch_col == "(none)" else batch_col
    with shown_errors():
        ann = _uploaded_annotations(
            ws, frame, ws.key, digest, upload.name, item_col, labeler_col, label_col, batch, dataset
        )
    ann_key = f"{ws.key}|{digest}|{item_col}|{labeler_col}|{label_col}|{batch}|{dataset}"

assert ann is not None
_show_warnings(ann.warnings)
m = st.columns(5)
m[0].metric(
    "Items labeled", f"{ann.n_items:,}", help=f"Rows of dataset '{ann.dataset}' with at least one label."
)
m[1].metric("Labelers", ann.n_labelers)
m[2].metric("Labels", f"{ann.n_annotations:,}")
m[3].metric("Items with 2+ labels", f"{ann.n_multi:,}")
m[4].metric("Dataset", ann.dataset)

with shown_errors():
    cons = _consensus(ann, ann_key)

st.session_state.setdefault("labels_view", "Overview")
view = st.segmented_control("View", VIEWS, required=True, key="labels_view") or "Overview"


# ---- overview ----------------------------------------------------------------------------------------


def overview() -> None:
    if not ann.has_overlap:
        st.info(
            labels.NEEDS_OVERLAP.format(
                what="Agreement between labelers", n_labelers=ann.n_labelers, n_multi=ann.n_multi
            )
            + " The Queue view still ranks items by the model's disagreement with each label.",
            icon=":material/info:",
        )
        return
    with shown_errors():
        ag = _agreement(ann, ann_key)
    c = st.columns(5)
    c[0].metric(
        "Krippendorff's α",
        "–" if pd.isna(ag.alpha) else f"{ag.alpha:.3f}",
        help="Nominal alpha over every item with two or more labels (items may have different numbers of labels). "
        "1 = perfect agreement, 0 = chance; ≥ 0.8 is usually called reliable, < 0.667 doubtful.",
    )
    c[1].metric(
        "Fleiss' κ",
        "–" if pd.isna(ag.fleiss_kappa) else f"{ag.fleiss_kappa:.3f}",
        help=f"On the {ag.fleiss_n_items:,} items with exactly {ag.fleiss_labels} labels "
        f"({ag.fleiss_n_items / ann.n_items:.0%} of items; Fleiss' kappa needs the same number of labels per item). "
        f"{ag.n_complete:,} items were labeled by all {ann.n_labelers} labelers.",
    )
    c[2].metric(
        "Mean per-item agreement",
        _pct(ag.mean_item_agreement),
        help="Share of agreeing labeler pairs, averaged over items with 2+ labels.",
    )
    c[3].metric(
        "Majority ties",
        f"{cons.n_ties:,}",
        help="Items where two or more labels got the same top number of votes; Dawid–Skene breaks them by labeler quality.",
    )
    c[4].metric(
        "Dawid–Skene",
        f"{cons.n_iter} iterations",
        help=f"{'Converged' if cons.converged else 'Stopped before converging'} in {cons.seconds * 1000:.0f} ms.",
    )
    st.caption(
        f"Fleiss' κ is computed on the {ag.fleiss_n_items:,} items with exactly {ag.fleiss_labels} labels "
        f"({ag.fleiss_n_items / ann.n_items:.0%} of the items); {ag.n_complete:,} items were labeled by all "
        f"{ann.n_labelers} labelers. Krippendorff's α uses all {ag.n_multi:,} items with two or more labels."
    )
    for note in ag.notes:
        st.caption(note)
    left, right = st.columns(2)
    if len(ag.pairwise):
        left.altair_chart(charts.kappa_heatmap(ag), width="stretch")
    right.altair_chart(charts.agreement_histogram(ag), width="stretch")

    st.subheader("Labeler trust")
    threshold = st.slider(
        "Flag labelers below this accuracy (or recall on a class)",
        0.5,
        1.0,
        labels.DEFAULT_TRUST_THRESHOLD,
        0.01,
        key="labels_trust_threshold",
    )
    with shown_errors():
        trust = labels.labeler_trust(ann, cons, threshold=threshold)
    table = trust.table
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "accuracy": st.column_config.ProgressColumn(
                "estimated accuracy", format="percent", min_value=0, max_value=1
            ),
            "agreement_consensus": st.column_config.NumberColumn("agrees with consensus", format="percent"),
            "agreement_others": st.column_config.NumberColumn("agrees with other labelers", format="percent"),
            "weakest_recall": st.column_config.NumberColumn("recall on weakest class", format="percent"),
            "weakest_class": "weakest class",
            "items": "items labeled",
        },
    )
    flagged = table.loc[table["flagged"]].sort_values("accuracy")["labeler"].astype(str).tolist()
    if flagged:
        names = ", ".join(flagged[:10]) + (f" and {len(flagged) - 10} more" if len(flagged) > 10 else "")
        st.warning(
            f"{len(flagged)} labeler(s) below {threshold:.0%}: {names}. Review their labels first, retrain them, or "
            "weigh their labels less (Dawid–Skene already does).",
            icon=":material/flag:",
        )
    st.altair_chart(charts.trust_chart(trust), width="stretch")
    with st.expander("Each labeler's estimated confusion matrix"):
        st.altair_chart(charts.labeler_confusion_grid(trust))

    st.subheader("Confusion between two labelers")
    names = [str(n) for n in ann.labelers]
    a, b = st.columns(2)
    first = a.selectbox("Labeler", names, index=0, key="labels_pair_a")
    second = b.selectbox("Against", names, index=1 if len(names) > 1 else 0, key="labels_pair_b")
    if first == second:
        st.caption("Pick two different labelers.")
    else:
        with shown_errors():
            table = labels.pair_confusion(ann, first, second)
        if table.empty:
            st.caption(f"{first} and {second} labeled no item in common.")
        else:
            st.altair_chart(charts.confusion_heatmap(table, title=f"{first} (rows) vs {second} (columns)"))


# ---- queue -----------------------------------------------------------------------------------------------


def _probability_choices() -> list[tuple[str, str | None]]:
    """(kind, model): kind is "model", "cv", "columns" or "none"."""
    out: list[tuple[str, str | None]] = []
    if ws.models:
        ordered = [m for m in ws.model_names if m != "current"] + (
            ["current"] if "current" in ws.models else []
        )
        out += [("model", m) for m in ordered]
        out += [("cv", m) for m in ws.model_names if hasattr(ws.models[m], "predict_proba")]
    elif ws.columns.prediction or ws.columns.score or ws.columns.scores:
        out.append(("columns", None))
    out.append(("none", None))
    return out


def _describe_choice(choice: tuple[str, str | None]) -> str:
    kind, model = choice
    return {
        "model": f"Model version '{model}' (its probabilities on these items)",
        "cv": f"Cross-validated clones of '{model}' (for items it was trained on)",
        "columns": "Prediction columns in the data",
        "none": "No model: labelers only",
    }[kind]


def queue_controls() -> tuple[labels.Queue | None, pd.DataFrame | None, dict[str, Any]]:
    """Draw the queue settings; return the ranked queue, its filtered rows and the settings (None while
    cross-validated probabilities wait for their button)."""
    choices = _probability_choices()
    default = 0
    if ws.models and "train" in ann.dataset.lower():
        default = next((i for i, c in enumerate(choices) if c == ("cv", "current")), 0)
    c1, c2 = st.columns([3, 2])
    choice = c1.selectbox(
        "Model probabilities from",
        choices,
        index=default,
        format_func=_describe_choice,
        key="labels_prob_source",
        help="The model's view must be out-of-sample: scores of a model on items it was trained on are in-sample "
        "and hide label errors. Pick a previous model version that never saw these items, or cross-validated "
        "clones when the items were in the training data.",
    )
    review_target = c2.radio(
        "Label under review",
        ["dataset", "consensus"],
        format_func={
            "dataset": f"Dataset label ('{ws.columns.label}')",
            "consensus": "Labelers' consensus",
        }.get,
        key="labels_review_target",
        horizontal=True,
    )
    kind, model = choice
    if kind == "model" and model == "current" and "train" in ann.dataset.lower():
        st.warning(
            f"The items are in dataset '{ann.dataset}', which the current model was probably trained on: its "
            "probabilities there are in-sample and hide label errors. Prefer cross-validated clones or a previous version.",
            icon=":material/warning:",
        )
    probs: labels.ItemProbabilities | None = None
    prob_key = f"{kind}|{model}"
    with shown_errors():
        if kind in ("model", "columns"):
            probs = _model_probabilities(ws, ann, ann_key, model)
        elif kind == "cv":
            d1, d2 = st.columns(2)
            n_splits = d1.number_input("Folds", 2, 10, 5, key="labels_cv_folds")
            max_rows = d2.number_input(
                "Training rows (annotated items first)",
                200,
                1_000_000,
                20_000,
                step=1000,
                key="labels_cv_rows",
            )
            cv_key = hashlib.sha256(f"{ann_key}|{model}|{n_splits}|{max_rows}".encode()).hexdigest()[:32]
            probs = _stored_cv(store, str(ws.config.path), cv_key)
            if probs is None:
                st.info(
                    f"Cross-validation refits {n_splits} copies of '{model}' on up to {max_rows:,} rows of "
                    f"'{ann.dataset}'. This can take a while.",
                    icon=":material/hourglass:",
                )
                if not st.button(
                    "Compute cross-validated probabilities", key="labels_cv_run", type="primary"
                ):
                    return None, None, {}
                bar = st.progress(0.0, text="Starting cross-validation…")
                result = labels.cross_validated_probabilities(
                    ws,
                    ann,
                    model=model,
                    n_splits=int(n_splits),
                    max_rows=int(max_rows),
                    progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg),
                )
                bar.empty()
                store.save_experiment(
                    workspace=str(ws.config.path),
                    kind=CV_KIND,
                    key=cv_key,
                    params={
                        "model": model,
                        "n_splits": int(n_splits),
                        "max_rows": int(max_rows),
                        "dataset": ann.dataset,
                    },
                    result=result.to_json(),
                )
                _stored_cv.clear()
                probs = result
            prob_key = cv_key
    e1, e2, e3 = st.columns(3)
    combine = e1.radio(
        "Combine model and labelers",
        ["posterior", "blend"],
        format_func={"posterior": "Posterior (model × Dawid–Skene)", "blend": "Weighted blend"}.get,
        key="labels_combine",
        horizontal=True,
        help="Posterior: the model's probabilities are the prior of the true class and the labelers' estimated "
        "confusion matrices the likelihood; the score is the probability that the label is wrong. Blend: "
        "weight × model disagreement + (1 − weight) × labeler disagreement.",
    )
    weight = e2.slider(
        "Model weight",
        0.0,
        1.0,
        1.0 if combine == "posterior" else 0.5,
        0.05,
        key=f"labels_weight_{combine}",
        disabled=probs is None,
    )
    model_score = e3.radio(
        "Model term",
        ["self_confidence", "margin"],
        format_func={"self_confidence": "1 − p(label)", "margin": "Margin"}.get,
        key="labels_model_score",
        horizontal=True,
        disabled=combine == "posterior",
    )
    with shown_errors():
        queue = _queue(
            ann, cons, probs, f"{ann_key}|{prob_key}", review_target, combine, float(weight), model_score
        )
    f1, f2, f3 = st.columns(3)
    class_values = sorted({str(v) for v in queue.frame["label"].dropna()})
    classes = f1.multiselect("Class of the label", class_values, key="labels_filter_class")
    who = f2.multiselect("Labeled by", [str(n) for n in ann.labelers], key="labels_filter_labeler")
    batches = f3.multiselect("Batch", ann.batches, key="labels_filter_batch", disabled=not ann.batches)
    rows = labels.filter_queue(queue, ann, classes=classes, labelers=who, batches=batches)
    settings = {
        "review": review_target,
        "probability_source": queue.probability_source,
        "probability_method": kind,
        "model": model,
        "combine": queue.combine,
        "model_weight": queue.model_weight,
        "model_score": queue.model_score,
        "filters": {k: v for k, v in {"class": classes, "labeler": who, "batch": batches}.items() if v},
    }
    return queue, rows, settings


def _start_session(rows: pd.DataFrame, settings: dict[str, Any]) -> None:
    """Form callback: create the session in the store and open it in the Review view."""
    name = st.session_state.get("labels_new_name", "")
    mode = st.session_state.get("labels_new_mode", "queue")
    size = int(st.session_state.get("labels_new_size", 50))
    seed = int(st.session_state.get("labels_new_seed", 0))
    reviewer = identity.current_user()
    try:
        if mode == "queue":
            items = review.plan_top_k(rows, ann, k=min(size, len(rows)))
        else:
            items = review.plan_random_sample(rows, ann, n=min(size, len(rows)), seed=seed)
        sid = review.create_session(
            store,
            workspace=str(ws.config.path),
            dataset=ann.dataset,
            name=name,
            reviewer=reviewer,
            mode=mode,
            items=items,
            params={
                **settings,
                "label_column": ws.columns.label,
                "id_column": ws.columns.id,
                "annotations": ann.source,
                "size": size,
                "seed": seed if mode == "random" else None,
            },
        )
    except ExploreError as exc:
        st.session_state[FLASH] = ("error", str(exc))
        return
    st.session_state[SESSION_ID] = sid
    st.session_state["labels_view"] = "Review"
    st.session_state[FLASH] = ("success", f"Session '{name}' started: {len(items.keys)} items to review.")


def queue_view() -> None:
    queue, rows, settings = queue_controls()
    if queue is None or rows is None:
        return
    for note in queue.notes:
        st.caption(note)
    st.caption(
        f"{len(rows):,} of {len(queue.frame):,} items after filters. Score: "
        + (
            "estimated probability that the label under review is wrong."
            if queue.combine == "posterior"
            else "blend of model and labeler disagreement."
        )
        + (f" Model view: {queue.probability_source}." if queue.probability_source else "")
    )
    shown = rows.head(SHOWN_QUEUE_ROWS)
    answers = ann.answers(shown["item"].to_numpy())
    table = pd.concat(
        [
            shown[
                [
                    "rank",
                    "id",
                    "score",
                    "label",
                    "consensus",
                    "consensus_confidence",
                    "agreement",
                    "model_pred",
                    "model_p_label",
                    *(["batch"] if ann.batches else []),
                ]
            ].reset_index(drop=True),
            answers,
        ],
        axis=1,
    )
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "score": st.column_config.ProgressColumn("score", format="%.3f", min_value=0, max_value=1),
            "consensus_confidence": st.column_config.NumberColumn("consensus confidence", format="percent"),
            "agreement": st.column_config.NumberColumn("labelers agreeing", format="percent"),
            "model_p_label": st.column_config.NumberColumn("model p(label)", format="%.3f"),
            "model_pred": "model prediction",
        },
        height=360,
    )
    if len(rows) > SHOWN_QUEUE_ROWS:
        st.caption(f"Showing the first {SHOWN_QUEUE_ROWS} of {len(rows):,}; download the whole queue below.")
    left, right = st.columns([2, 1])
    left.altair_chart(charts.queue_histogram(rows), width="stretch")
    right.download_button(
        "Download the queue (CSV)",
        rows.drop(columns=["item"]).to_csv(index=False).encode("utf-8"),
        file_name=f"label_queue_{ann.dataset}.csv",
        mime="text/csv",
        key="labels_queue_download",
        icon=":material/download:",
    )

    st.subheader("Start a review session")
    reviewer = _reviewer_name("queue")
    with st.form("labels_new_session", border=True):
        c1, c2, c3, c4 = st.columns([3, 3, 1, 1])
        c1.text_input(
            "Session name", value=f"spot check {pd.Timestamp.now():%Y-%m-%d}", key="labels_new_name"
        )
        c2.radio(
            "Which items",
            ["queue", "random"],
            format_func={
                "queue": "Top of the queue (measures the queue's precision)",
                "random": "Random sample, stratified by class (estimates the error rate)",
            }.get,
            key="labels_new_mode",
        )
        c3.number_input(
            "Items",
            1,
            min(MAX_SESSION_ITEMS, max(len(rows), 1)),
            min(50, max(len(rows), 1)),
            key="labels_new_size",
        )
        c4.number_input("Seed", 0, 1_000_000, 0, key="labels_new_seed", help="Random sample only.")
        st.form_submit_button(
            "Start session",
            type="primary",
            icon=":material/play_arrow:",
            on_click=_start_session,
            args=(rows, settings),
            disabled=not reviewer or rows.empty,
        )
    if not reviewer:
        st.caption("Type your name above to start a session.")


# ---- review ---------------------------------------------------------------------------------------------


def _session_picker(label: str, key: str) -> int | None:
    with shown_errors():
        sessions = review.list_sessions(store, str(ws.config.path))
    if sessions.empty:
        st.info("No review session yet. Start one from the Queue view.", icon=":material/info:")
        return None
    ids = sessions["id"].tolist()
    current = st.session_state.get(SESSION_ID)
    index = ids.index(current) if current in ids else 0
    by_id = sessions.set_index("id")

    def fmt(i: int) -> str:
        r = by_id.loc[i]
        return f"{r['name']} — {r['reviewer']}, {r['created_at']:%Y-%m-%d %H:%M} UTC — {r['reviewed']}/{r['items']} — {r['status']}"

    def pick() -> None:
        st.session_state[SESSION_ID] = st.session_state[key]

    st.selectbox(label, ids, index=index, format_func=fmt, key=key, on_change=pick)
    chosen = st.session_state.get(key, ids[index])
    st.session_state[SESSION_ID] = chosen
    with st.expander(f"Past sessions ({len(sessions)})"):
        st.dataframe(
            sessions.drop(columns=["updated_at"]),
            hide_index=True,
            column_config={
                "created_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
                "last_verdict_at": st.column_config.DatetimeColumn(
                    "last verdict (UTC)", format="YYYY-MM-DD HH:mm"
                ),
            },
        )
    return int(chosen)


def _position_key(sid: int) -> str:
    return f"labels_position_{sid}"


def _give_verdict(sid: int, key: str, verdict: str, position: int, reviewer: str) -> None:
    """Button callback: write the verdict to the store now, then move to the next item without one."""
    corrected = st.session_state.get(f"labels_fix_{sid}_{key}")
    note = st.session_state.get(f"labels_note_{sid}_{key}", "")
    try:
        session = review.load_session(store, sid)
        review.record_verdict(
            store,
            session,
            key,
            verdict,
            corrected_label=corrected if verdict in ("wrong", "unsure") else None,
            note=note,
            reviewer=reviewer,
        )
        if session.status != "open":
            review.set_status(store, sid, "open")
        session = review.load_session(store, sid)
    except ExploreError as exc:
        st.session_state[FLASH] = ("error", str(exc))
        return
    st.session_state[_position_key(sid)] = session.next_position(after=position)
    st.session_state[FLASH] = ("saved", f"Saved: {verdict} on {key}.")
    if session.complete and session.status != "done":
        review.set_status(store, sid, "done")


def _move(sid: int, position: int) -> None:
    st.session_state[_position_key(sid)] = position


def _set_status(sid: int, status: str) -> None:
    try:
        review.set_status(store, sid, status)
    except ExploreError as exc:
        st.session_state[FLASH] = ("error", str(exc))


def _flash() -> None:
    message = st.session_state.pop(FLASH, None)
    if message:
        kind, text = message
        if kind == "error":
            st.error(text, icon=":material/error:")
        elif kind == "saved":
            st.toast(text, icon=":material/check:")
        else:
            st.success(text, icon=":material/check:")


@st.fragment
def review_panel(sid: int) -> None:
    """One item at a time; each verdict is written by its button's callback before anything else runs."""
    _flash()
    with shown_errors():
        session = review.load_session(store, sid)
    reviewer = _reviewer_name("review")
    done, total = session.n_reviewed, session.n_items
    st.progress(
        done / max(total, 1),
        text=f"{done} of {total} reviewed · {session.mode} session · status {session.status}",
    )
    s1, s2, s3 = st.columns(3)
    if session.status == "paused":
        s1.button(
            "Resume session",
            key="labels_resume",
            on_click=_set_status,
            args=(sid, "open"),
            icon=":material/play_arrow:",
        )
    elif session.status == "open":
        s1.button(
            "Pause session",
            key="labels_pause",
            on_click=_set_status,
            args=(sid, "paused"),
            icon=":material/pause:",
        )
    if session.status != "done":
        s2.button(
            "Mark as done",
            key="labels_finish",
            on_click=_set_status,
            args=(sid, "done"),
            icon=":material/done_all:",
        )
    if session.reviewer and reviewer and session.reviewer != reviewer:
        s3.caption(f"This session was started by {session.reviewer}; your verdicts are added to it.")

    pos_key = _position_key(sid)
    position = st.session_state.get(pos_key)
    if position is None or not 0 <= position < total:
        position = session.next_position()
    if position is None:
        st.success(
            "Every item of this session has a verdict. See the Summary view.", icon=":material/task_alt:"
        )
        position = st.session_state.get(pos_key)
        if position is None:
            return
    st.session_state[pos_key] = position
    items = session.items
    key = items.keys[position]
    label = items.labels[position]
    previous = session.verdict_of(key)

    st.markdown(f"#### Item {position + 1} of {total}: `{key}`")
    c = st.columns(4)
    c[0].metric(
        "Label under review", str(label), help=f"The {session.params.get('review', 'dataset')} label."
    )
    c[1].metric("Consensus", str(items.consensus[position]))
    p = items.model_p_label[position]
    c[2].metric("Model predicts", str(items.model_pred[position]) if items.model_pred[position] else "–")
    c[3].metric(
        "Model p(label)",
        "–" if p is None else f"{p:.3f}",
        help=session.params.get("probability_source") or "",
    )
    answers = items.answers[position] or {}
    st.dataframe(pd.DataFrame({"labeler": list(answers), "label": list(answers.values())}), hide_index=True)
    if previous:
        st.info(
            f"Already reviewed: **{previous['verdict']}**"
            + (f" → {previous['corrected_label']}" if previous.get("corrected_label") else "")
            + (f" — “{previous['note']}”" if previous.get("note") else "")
            + ". A new verdict replaces it (the old one stays in the history).",
            icon=":material/history:",
        )

    others = [v for v in items.categories if v != label]
    suggestion = next(
        (v for v in (items.consensus[position], items.model_pred[position]) if v in others),
        others[0] if others else None,
    )
    f1, f2 = st.columns([1, 2])
    f1.selectbox(
        "Correct label (if wrong)",
        others,
        index=others.index(suggestion) if suggestion in others else 0,
        key=f"labels_fix_{sid}_{key}",
    )
    f2.text_input("Note (optional)", key=f"labels_note_{sid}_{key}", placeholder="why, or what to check")
    disabled = not reviewer
    b = st.columns(5)
    args = (sid, key)
    b[0].button(
        "Label correct",
        key="labels_v_correct",
        type="primary",
        icon=":material/check:",
        width="stretch",
        shortcut="1",
        on_click=_give_verdict,
        args=(*args, "correct", position, reviewer),
        disabled=disabled,
    )
    b[1].button(
        "Label wrong",
        key="labels_v_wrong",
        type="primary",
        icon=":material/close:",
        width="stretch",
        shortcut="2",
        on_click=_give_verdict,
        args=(*args, "wrong", position, reviewer),
        disabled=disabled,
    )
    b[2].button(
        "Unsure",
        key="labels_v_unsure",
        icon=":material/help:",
        width="stretch",
        shortcut="3",
        on_click=_give_verdict,
        args=(*args, "unsure", position, reviewer),
        disabled=disabled,
    )
    b[3].button(
        "Previous",
        key="labels_prev",
        icon=":material/arrow_back:",
        width="stretch",
        shortcut="B",
        on_click=_move,
        args=(sid, max(position - 1, 0)),
        disabled=position == 0,
    )
    b[4].button(
        "Skip",
        key="labels_skip",
        icon=":material/arrow_forward:",
        width="stretch",
        shortcut="S",
        on_click=_move,
        args=(sid, (position + 1) % total),
    )
    st.caption(
        "Keys: 1 correct · 2 wrong · 3 unsure · B previous · S skip. Each verdict is saved the moment you give it."
    )

    with st.expander("The item's features", expanded=True):
        index = _row_index(ws, ws.key, session.dataset) if session.dataset in ws.dataset_names else None
        row = None if index is None else index.get_indexer([key])[0]
        if row is None or row < 0:
            st.caption(f"Item {key} is not in dataset '{session.dataset}' of the open workspace.")
        else:
            record = ws.dataset(session.dataset).iloc[int(row)]
            st.session_state[state.SELECTED_ROW] = {
                "dataset": session.dataset,
                # ``row`` counts raw rows; SELECTED_ROW positions count scored rows, so only the id is exact.
                "position": None if ws.columns.id else int(row),
                "id": key,
            }
            st.dataframe(record.astype(str).rename("value").to_frame(), height=320)


def review_view() -> None:
    _flash()
    sid = _session_picker("Session", "labels_review_pick")
    if sid is not None:
        review_panel(sid)


# ---- summary --------------------------------------------------------------------------------------------


def summary_view() -> None:
    _flash()
    sid = _session_picker("Session", "labels_summary_pick")
    if sid is None:
        return
    with shown_errors():
        session = review.load_session(store, sid)
        summary = review.summarize(session)
    c = st.columns(4)
    c[0].metric("Reviewed", f"{summary.n_reviewed} / {summary.n_items}")
    c[1].metric("Wrong", summary.n_wrong)
    c[2].metric("Correct", summary.n_correct)
    c[3].metric("Unsure", summary.n_unsure)
    if summary.error_rate is not None:
        r = summary.error_rate
        st.metric(
            "Estimated label error rate",
            _pct(r.value),
            help=f"{r.method}; {r.wrong} wrong of {r.n} decided verdicts over a population of {summary.population:,} items.",
        )
        st.caption(
            f"{r.confidence:.0%} confidence interval: {_pct(r.ci_low)} – {_pct(r.ci_high)} ({r.method})."
        )
    if summary.precision is not None:
        r = summary.precision
        st.metric(
            "Queue precision", _pct(r.value), help="Share of reviewed flagged items whose label was wrong."
        )
        st.caption(
            f"{r.confidence:.0%} confidence interval: {_pct(r.ci_low)} – {_pct(r.ci_high)}; {r.wrong} of {r.n}."
        )
    for note in summary.notes:
        st.caption(note)
    if summary.n_reviewed == 0:
        st.info("No verdict yet: open the session in the Review view.", icon=":material/info:")
    rate = "error_rate" if summary.mode == "random" else "precision"
    left, right = st.columns(2)
    with left:
        st.markdown("**By class of the label**")
        st.dataframe(summary.by_class, hide_index=True)
        if summary.mode == "random" and summary.by_class[rate].notna().any():
            st.altair_chart(
                charts.rate_chart(summary.by_class, category="class", rate=rate, title="Error rate by class"),
                width="stretch",
            )
    with right:
        st.markdown("**By labeler** (their label vs the verified label)")
        st.dataframe(summary.by_labeler, hide_index=True)
        if (
            summary.mode == "random"
            and len(summary.by_labeler)
            and summary.by_labeler["error_rate"].notna().any()
        ):
            st.altair_chart(
                charts.rate_chart(
                    summary.by_labeler, category="labeler", rate="error_rate", title="Error rate by labeler"
                ),
                width="stretch",
            )
    if summary.mode == "queue" and len(summary.precision_curve):
        st.altair_chart(charts.precision_curve(summary), width="stretch")
    if not summary.confusion.empty:
        st.markdown("**Label under review × verified label**")
        st.dataframe(summary.confusion)
    st.markdown("**Reviewed items**")
    st.dataframe(summary.corrections, hide_index=True, height=260)
    d1, d2 = st.columns(2)
    d1.download_button(
        "Corrected labels (CSV)",
        review.corrections_csv(session, summary),
        file_name=f"label_review_{session.id}.csv",
        mime="text/csv",
        key="labels_download_csv",
        icon=":material/download:",
    )
    d2.download_button(
        "Summary for the team (Markdown)",
        review.summary_markdown(session, summary).encode("utf-8"),
        file_name=f"label_review_{session.id}.md",
        mime="text/markdown",
        key="labels_download_md",
        icon=":material/description:",
    )


{"Overview": overview, "Queue": queue_view, "Review": review_view, "Summary": summary_view}[view]()
