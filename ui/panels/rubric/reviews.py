"""The Rubric page's top bar: which review, who confirms, and starting or importing a review."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from explore.core.store import Store, current_author
from explore.core.workspace import Workspace
from explore.errors import RubricError
from explore.rubric.board import default_model_version, workspace_reviews
from explore.rubric.ml_test_score import import_review, parse_review_json, start_review
from ui import identity
from ui.boundary import flash, guarded, shown_errors

REVIEW_KEY = "rubric_review_id"
CONFIRMER_KEY = "rubric_confirmer"
# The review a New review / Import action just made, shown from the next run on. It is applied there, before
# the review select box exists, because a widget's value cannot be set once the widget is drawn in a run, and
# both actions run inside popovers drawn after it. (They run inline, not as callbacks, so that the st.rerun()
# that follows closes the popover; their outcome shows as a flash message at the top of the page.)
PENDING_REVIEW = "rubric_pending_review"
ALL_WORKSPACES = "rubric_all_workspaces"  # the picker lists every workspace's reviews
NAME_FIRST = "Enter your name at the top first: every change records who made it."
SUCCESS_ICON = ":material/check:"


def review_bar(store: Store, ws: Workspace | None) -> int | None:
    """The review chosen (None when the store holds none), the confirmer's name, New review and Import."""
    top = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    with shown_errors():
        reviews = store.list_reviews()
    with top[0]:
        review_id = _review_select(reviews, ws)
    with top[1]:
        confirmer_name()
    with top[2], st.popover("New review", icon=":material/add:", width="stretch"):
        new_review_form(store, ws, reviews)
    with top[3], st.popover("Import", icon=":material/upload:", width="stretch"):
        import_review_form(store, ws)
    return review_id


def _review_select(reviews: list[dict[str, Any]], ws: Workspace | None) -> int | None:
    """The review picker: the open workspace's reviews (see ``workspace_reviews``) and those that recorded no
    workspace (started in a notebook without one, imported before imports recorded it: never hidden), or with
    "All workspaces" (always, when no workspace is open) every review in the store, each named with its
    workspace."""
    if not reviews:
        return None
    pending = st.session_state.pop(PENDING_REVIEW, None)
    own = workspace_reviews(reviews, ws) if ws is not None else reviews
    ours = {r["id"] for r in own}
    own = [r for r in reviews if r["id"] in ours or not r.get("workspace")]
    if ws is not None:
        if pending is not None and pending not in {r["id"] for r in own}:
            st.session_state[ALL_WORKSPACES] = True  # a review of another workspace was just made: show it
        shown_all = st.toggle(
            "All workspaces",
            key=ALL_WORKSPACES,
            help="Off: the reviews of the open workspace, and those that recorded no workspace. On: every "
            "review in the store.",
        )
        if not shown_all:
            if not own:
                st.caption(
                    f"No review of this workspace yet; {len(reviews)} review(s) of other workspaces — switch on "
                    "**All workspaces** to see them, or start one with **New review**."
                )
                return None
            reviews = list(own)
    ids = [r["id"] for r in reviews]
    if pending in ids:
        st.session_state[REVIEW_KEY] = pending
    if st.session_state.get(REVIEW_KEY) not in ids:
        st.session_state[REVIEW_KEY] = ids[0]
    by_id = {r["id"]: r for r in reviews}
    return st.selectbox(
        "Review",
        ids,
        key=REVIEW_KEY,
        format_func=lambda i: _review_label(by_id[i], own=ws is not None and i in ours),
    )


def _review_label(review: Mapping[str, Any], *, own: bool) -> str:
    label = f"{review['name']} ({review['model_version']})"
    if own:
        return label
    where = review.get("workspace")
    return f"{label} · {Path(where).parent.name or where if where else 'no workspace recorded'}"


def confirmer_name() -> str:
    """The signed-in user when auth is configured, else the name typed here (shared by all pages)."""
    return identity.name_input(
        "Your name",
        key=CONFIRMER_KEY,
        placeholder=f"e.g. {current_author()}",
        help="Recorded with every confirmation (the audit trail). Sign-in (st.login) fills it automatically.",
    )


def new_review_form(store: Store, ws: Workspace | None, reviews: list[dict[str, Any]]) -> None:
    with st.form("rubric_new_review", clear_on_submit=False, border=False):
        today = dt.date.today().isoformat()
        name = st.text_input(
            "Review name", value=f"{ws.name if ws else 'model'} — {today}", key="rubric_new_name"
        )
        version = st.text_input(
            "Model version",
            value=default_model_version(ws),
            key="rubric_new_version",
            help="What is being reviewed: a model file fingerprint, a tag, a commit.",
        )
        options = [None, *[r["id"] for r in reviews]]
        names = {r["id"]: r["name"] for r in reviews}
        parent = st.selectbox(
            "Carry over from",
            options,
            index=1 if reviews else 0,
            key="rubric_new_parent",
            format_func=lambda i: "nothing (start empty)" if i is None else names[i],
            help="Carried-over tests keep their status and evidence but count only once re-confirmed here.",
        )
        if st.form_submit_button("Start review", icon=":material/add:", type="primary"):
            _start(store, name, version, parent, ws)
            st.rerun()


@guarded
def _start(store: Store, name: str, version: str, parent: int | None, ws: Workspace | None) -> None:
    rid = start_review(
        store,
        name,
        version,
        carry_from=parent,
        author=identity.recording_author(),
        workspace=str(ws.config.path) if ws is not None else None,
    )
    st.session_state[PENDING_REVIEW] = rid
    flash(f"Started review “{' '.join(name.split())}”.", icon=SUCCESS_ICON)


def import_review_form(store: Store, ws: Workspace | None) -> None:
    upload = st.file_uploader(
        "Review JSON (exported from this page)", type=["json"], key="rubric_import_file"
    )
    rescore = st.checkbox(
        "Rescore a 2016-scale file on the 2017 scale",
        key="rubric_import_rescore",
        help="Statuses (manual / automated) carry over; points are recomputed: ½ and 1.",
    )
    rename = st.text_input("Import under the name (optional)", key="rubric_import_name")
    if st.button("Import review", key="rubric_import_go", disabled=upload is None, icon=":material/upload:"):
        _import(store, upload.getvalue(), rescore=rescore, rename=rename.strip(), ws=ws)
        st.rerun()


@guarded
def _import(store: Store, data: bytes, *, rescore: bool, rename: str, ws: Workspace | None) -> None:
    who = identity.recording_author()
    if not who:
        raise RubricError(NAME_FIRST)
    imported = parse_review_json(data, rescore=rescore)
    rid = import_review(
        store,
        imported,
        author=who,
        name=rename or None,
        workspace=str(ws.config.path) if ws is not None else None,
    )
    st.session_state[PENDING_REVIEW] = rid
    skipped = (
        f" {imported.n_carried_skipped} carried-over test(s) that were never re-confirmed stay not done."
        if imported.n_carried_skipped
        else ""
    )
    flash(
        f"Imported “{rename or imported.name}” with {len(imported.tests)} confirmed test(s).{skipped}",
        icon=SUCCESS_ICON,
    )
