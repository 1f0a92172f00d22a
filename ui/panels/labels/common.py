"""Small pieces the Labels page's sections share: percentages, the reviewer's name, warnings, the session
picker."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from explore.labels import review
from ui import identity, live, loaders
from ui.boundary import say, shown_errors
from ui.context import PageContext

SESSION_ID = "labels_session_id"  # int: the session open in Review / Summary
VIEW = "labels_view"  # the page's view switch (Overview, Queue, Review, Summary)


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None or pd.isna(x) else f"{100 * x:.{digits}f} %"


def follow_session(sid: int) -> None:
    """Verdicts other reviewers give in this session appear within ~2 s (ui.live)."""
    live.follow(lambda: loaders.store().session_marker(sid), key=seen_key(sid))


def seen_key(sid: int) -> str:
    """Session-state key of the session's store marker as this page last showed it."""
    return f"labels_seen_{sid}"


def reviewer_name(where: str) -> str:
    """The signed-in user when Streamlit auth is configured, else a name typed once (shared by all pages)."""
    return identity.name_input("Your name (recorded with every verdict)", key=f"labels_reviewer_{where}")


def show_warnings(items: Iterable[str]) -> None:
    for text in items:
        say("warning", text, icon=":material/warning:")


def session_picker(ctx: PageContext, label: str, key: str) -> int | None:
    """Pick one of the workspace's review sessions (the one open in the other view first); None when there
    is none yet."""
    with shown_errors():
        sessions = review.list_sessions(loaders.store(), str(ctx.ws.config.path))
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
