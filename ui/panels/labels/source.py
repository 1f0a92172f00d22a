"""Which annotations the page explores (the workspace's [annotations] or an uploaded file with its columns
picked), and the figures that describe them."""

from __future__ import annotations

import streamlit as st

from explore.cli.commands import max_upload_mb
from explore.core.upload import check_size
from explore.labels import sources
from explore.labels.sources import AnnotationSource
from ui.boundary import shown_errors
from ui.context import PageContext
from ui.safe import md_code, md_text

from . import cached
from .common import show_warnings

SOURCE_LABELS = {
    "workspace": "From the workspace ([annotations] in workspace.toml)",
    "upload": "Upload a file",
}


def annotation_source(ctx: PageContext) -> AnnotationSource:
    """The annotations chosen on the page; stops the page while an upload is awaited."""
    has_ws_annotations = ctx.ws.config.annotations is not None
    choice = st.radio(
        "Annotations",
        (["workspace"] if has_ws_annotations else []) + ["upload"],
        format_func=SOURCE_LABELS.get,
        horizontal=True,
        key="labels_source",
    )
    if not has_ws_annotations:
        st.caption(
            "This workspace has no [annotations] section: upload an annotation file (one row per item × labeler)."
        )
    if choice == "workspace":
        return sources.WORKSPACE_ANNOTATIONS
    return _uploaded_source(ctx)


def _uploaded_source(ctx: PageContext) -> AnnotationSource:
    ws = ctx.ws
    upload = st.file_uploader(
        "Annotation file: CSV or Parquet, long format (item id, labeler, label, optional batch or date)",
        type=["csv", "tsv", "txt", "gz", "parquet", "pq"],
        key="labels_upload",
    )
    if upload is None:
        st.info(
            "Upload a file with one row per label given: the item's id (the dataset's id column "
            f"{md_code(ws.columns.id or 'row position')}), who labeled it, and the label.",
            icon=":material/upload_file:",
        )
        st.stop()
    with shown_errors():
        check_size(upload.name, upload.size, max_upload_mb())
        saved = sources.save_upload(upload.getvalue(), upload.name)
        columns = list(cached.uploaded_frame(saved.path).columns)

    c1, c2, c3, c4, c5 = st.columns(5)
    item = c1.selectbox(
        "Item id column",
        columns,
        index=sources.guess_item_column(columns, ws.columns.id),
        key="labels_up_item",
    )
    labeler = c2.selectbox(
        "Labeler column",
        columns,
        index=sources.guess_column(columns, sources.LABELER_WORDS, 1),
        key="labels_up_labeler",
    )
    label = c3.selectbox(
        "Label column",
        columns,
        index=sources.guess_column(columns, sources.LABEL_WORDS, 2),
        key="labels_up_label",
    )
    batch = c4.selectbox(
        "Batch / date column (optional)", ["(none)", *columns], index=0, key="labels_up_batch"
    )
    # Items of the workspace's annotations' dataset, else of the dataset chosen in the sidebar.
    default_dataset = ws.config.annotations.dataset if ws.config.annotations is not None else ctx.dataset
    dataset = c5.selectbox(
        "Dataset of the items",
        ws.dataset_names,
        index=ws.dataset_names.index(default_dataset),
        key="labels_up_dataset",
    )
    return sources.uploaded_source(
        saved,
        item=item,
        labeler=labeler,
        label=label,
        batch=None if batch == "(none)" else batch,
        dataset=dataset,
    )


def annotations_summary(ctx: PageContext, source: AnnotationSource) -> None:
    """What was left out of the annotations, how many items, labelers and labels; the consensus behind every
    view (an error in either stops the page)."""
    with shown_errors():
        ann = cached.annotations(ctx.ws, source)
    show_warnings(ann.warnings)
    m = st.columns(5)
    m[0].metric(
        "Items labeled",
        f"{ann.n_items:,}",
        help=f"Rows of dataset '{md_text(ann.dataset)}' with at least one label.",
    )
    m[1].metric("Labelers", ann.n_labelers)
    m[2].metric("Labels", f"{ann.n_annotations:,}")
    m[3].metric("Items with 2+ labels", f"{ann.n_multi:,}")
    m[4].metric("Dataset", ann.dataset)
    with shown_errors():
        cached.consensus(ctx.ws, source)
