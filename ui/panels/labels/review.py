"""Review: one item of a spot-check session at a time; each verdict is written to the store by its button's
callback, before anything else runs, so no verdict is ever lost."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explore.labels import review, spot_check
from explore.labels.review import ReviewSession
from ui import identity, loaders, state
from ui.boundary import flash, guarded, show_flashes, shown_errors
from ui.context import PageContext
from ui.safe import md_code, md_text

from . import cached
from .common import follow_session, reviewer_name, seen_key, session_picker


def review_section(ctx: PageContext) -> None:
    sid = session_picker(ctx, "Session", "labels_review_pick")
    if sid is not None:
        follow_session(sid)
        review_panel(ctx, sid)


def _position_key(sid: int) -> str:
    return f"labels_position_{sid}"


@guarded
def _give_verdict(sid: int, key: str, verdict: str, position: int, reviewer: str) -> None:
    """Button callback: write the verdict to the store now, then move to the next item without one."""
    st.session_state[_position_key(sid)] = spot_check.give_verdict(
        loaders.store(),
        sid,
        key,
        verdict,
        position=position,
        corrected_label=st.session_state.get(f"labels_fix_{sid}_{key}"),
        note=st.session_state.get(f"labels_note_{sid}_{key}", ""),
        reviewer=identity.recording_author() or reviewer,  # the identity at the click, when signed in
    )
    # The panel (a fragment) reruns and shows the session as stored now, others' verdicts included: no need
    # for the page to rerun again when its poll sees this write.
    st.session_state[seen_key(sid)] = loaders.store().session_marker(sid)
    flash(f"Saved: {verdict} on {key}.", "toast")


def _move(sid: int, position: int) -> None:
    st.session_state[_position_key(sid)] = position


@guarded
def _set_status(sid: int, status: str) -> None:
    review.set_status(loaders.store(), sid, status)


@st.fragment
def review_panel(ctx: PageContext, sid: int) -> None:
    """One item at a time; each verdict is written by its button's callback before anything else runs."""
    show_flashes()  # a verdict reruns only this fragment, not app.py, which shows flashes on full runs
    with shown_errors():
        session = review.load_session(loaders.store(), sid)
    reviewer = reviewer_name("review")
    _progress_and_status(session, sid, reviewer)
    pos_key = _position_key(sid)
    position = spot_check.review_position(session, st.session_state.get(pos_key))
    if position is None:
        st.success(
            "Every item of this session has a verdict. See the Summary view.", icon=":material/task_alt:"
        )
        return
    st.session_state[pos_key] = position
    _item(session, position)
    _verdict_buttons(session, sid, position, reviewer)
    _features(ctx, session, position)


def _progress_and_status(session: ReviewSession, sid: int, reviewer: str) -> None:
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
        s3.caption(f"This session was started by {md_text(session.reviewer)}; your verdicts are added to it.")


def _item(session: ReviewSession, position: int) -> None:
    """The item under review: its label, the consensus, the model's view and every labeler's answer."""
    items = session.items
    key = items.keys[position]
    st.markdown(f"#### Item {position + 1} of {session.n_items}: {md_code(key)}")
    c = st.columns(4)
    c[0].metric(
        "Label under review",
        str(items.labels[position]),
        help=f"The {session.params.get('review', 'dataset')} label.",
    )
    c[1].metric("Consensus", str(items.consensus[position]))
    p = items.model_p_label[position]
    c[2].metric("Model predicts", str(items.model_pred[position]) if items.model_pred[position] else "–")
    c[3].metric(
        "Model p(label)",
        "–" if p is None else f"{p:.3f}",
        help=md_text(session.params.get("probability_source") or ""),
    )
    answers = items.answers[position] or {}
    st.dataframe(pd.DataFrame({"labeler": list(answers), "label": list(answers.values())}), hide_index=True)
    said = sorted({v for v in answers.values() if v in items.not_classes})
    if said:
        st.caption(
            md_text(
                f"{', '.join(map(repr, said))}: what a labeler answered, not a class of the model — shown here, "
                "never offered as a correction."
            )
        )
    previous = session.verdict_of(key)
    if previous:
        st.info(
            f"Already reviewed: **{previous['verdict']}**"
            + (f" → {md_text(previous['corrected_label'])}" if previous.get("corrected_label") else "")
            + (f" — “{md_text(previous['note'])}”" if previous.get("note") else "")
            + ". A new verdict replaces it (the old one stays in the history).",
            icon=":material/history:",
        )


def _verdict_buttons(session: ReviewSession, sid: int, position: int, reviewer: str) -> None:
    """The correction and note that go with a verdict, the verdict buttons and the navigation."""
    items = session.items
    key, label, total = items.keys[position], items.labels[position], session.n_items
    # Corrections are classes: an answer such as 'unsure' is what a labeler said (the answers table), not a label.
    others = [v for v in items.classes if v != label]
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
    for column, (verdict, text, icon, shortcut, kind) in zip(
        b[:3],
        [
            ("correct", "Label correct", ":material/check:", "1", "primary"),
            ("wrong", "Label wrong", ":material/close:", "2", "primary"),
            ("unsure", "Unsure", ":material/help:", "3", "secondary"),
        ],
        strict=True,
    ):
        column.button(
            text,
            key=f"labels_v_{verdict}",
            type=kind,
            icon=icon,
            width="stretch",
            shortcut=shortcut,
            on_click=_give_verdict,
            args=(sid, key, verdict, position, reviewer),
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


def _features(ctx: PageContext, session: ReviewSession, position: int) -> None:
    """The item's row of its dataset; the item becomes the datapoint in focus on every page."""
    ws, key = ctx.ws, session.items.keys[position]
    with st.expander("The item's features", expanded=True):
        row = None
        if session.dataset in ws.dataset_names:
            row = spot_check.item_row(cached.item_index(ws, session.dataset), key)
        if row is None:
            st.caption(md_text(f"Item {key} is not in dataset '{session.dataset}' of the open workspace."))
            return
        scored_position = spot_check.scored_position(ws, session.dataset, row)
        if scored_position is not None:  # rows without a label are not scored: no datapoint to focus on
            with shown_errors(stop=False):
                state.select_row(ctx.scored_for(session.dataset), scored_position)
        record = ws.dataset(session.dataset).iloc[row]
        st.dataframe(record.astype(str).rename("value").to_frame(), height=320)
