"""The spot-check flow behind the Labels page's buttons: start a review session from the ranked queue, give
a verdict and move on, find where the reviewer is and which dataset row an item is.

Every verdict is written to the store the moment it is given (``review.record_verdict``); the functions
here only decide what happens around it (reopen a paused session, mark a finished one done, the next item).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from explore.core.workspace import Workspace
from explore.labels.crowd import Annotations, Queue, text_keys
from explore.labels.model_view import ModelView
from explore.labels.review import (
    ReviewSession,
    create_session,
    load_session,
    plan_random_sample,
    plan_top_k,
    record_verdict,
    set_status,
)

LABEL_SUGGESTING_VERDICTS = ("wrong", "unsure")  # verdicts that keep the corrected label picked with them


def queue_settings(
    queue: Queue,
    *,
    review: str,
    view: ModelView,
    classes: list[str],
    labelers: list[str],
    batches: list[str],
) -> dict[str, Any]:
    """How a queue was ranked and filtered, as recorded with a session started from it."""
    filters = {"class": classes, "labeler": labelers, "batch": batches}
    return {
        "review": review,
        "probability_source": queue.probability_source,
        "probability_method": view.kind,
        "model": view.model,
        "combine": queue.combine,
        "model_weight": queue.model_weight,
        "model_score": queue.model_score,
        "filters": {k: v for k, v in filters.items() if v},
    }


@dataclass(frozen=True)
class StartedSession:
    id: int
    n_items: int


def start_session(
    store: Any,
    ws: Workspace,
    ann: Annotations,
    rows: pd.DataFrame,
    settings: dict[str, Any],
    *,
    name: str,
    mode: str,
    size: int,
    seed: int,
    reviewer: str,
) -> StartedSession:
    """Store a new session over the queue's ``rows`` (after filters): its first ``size`` rows (``mode="queue"``)
    or a random sample stratified by class (``mode="random"``, drawn with ``seed``). ``settings`` (see
    :func:`queue_settings`) are kept with the session. Raises AnalysisError on an empty queue, no name or
    no reviewer."""
    n = min(int(size), len(rows))
    if mode == "queue":
        items = plan_top_k(rows, ann, k=n)
    else:
        items = plan_random_sample(rows, ann, n=n, seed=seed)
    session_id = create_session(
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
            "size": int(size),
            "seed": seed if mode == "random" else None,
        },
    )
    return StartedSession(id=session_id, n_items=len(items.keys))


def give_verdict(
    store: Any,
    session_id: int,
    key: str,
    verdict: str,
    *,
    position: int,
    corrected_label: str | None = None,
    note: str = "",
    reviewer: str | None = None,
) -> int | None:
    """Write one verdict on item ``key`` to the store at once; reopen the session if it was paused or done,
    and mark it done when every item has a verdict.

    ``corrected_label`` is kept with "wrong" and "unsure" verdicts only. Returns the position of the next
    item without a verdict after ``position`` (wrapping round), or None when none is left. Raises an
    ExploreError (nothing written) on an invalid verdict.
    """
    session = load_session(store, session_id)
    record_verdict(
        store,
        session,
        key,
        verdict,
        corrected_label=corrected_label if verdict in LABEL_SUGGESTING_VERDICTS else None,
        note=note,
        reviewer=reviewer,
    )
    if session.status != "open":
        set_status(store, session_id, "open")
    session = load_session(store, session_id)
    if session.complete and session.status != "done":
        set_status(store, session_id, "done")
    return session.next_position(after=position)


def review_position(session: ReviewSession, remembered: int | None) -> int | None:
    """The item to show: the ``remembered`` position when it is one of the session's, else the first item
    without a verdict; None when no position is remembered and every item has a verdict."""
    if remembered is not None and 0 <= remembered < session.n_items:
        return int(remembered)
    return session.next_position()


def item_index(ws: Workspace, dataset: str) -> pd.Index:
    """The dataset's item keys (ids as text, as sessions name items; row positions without an id column),
    in row order: ``get_indexer`` on it gives an item's row position."""
    frame = ws.dataset(dataset)
    if ws.columns.id:
        return pd.Index(text_keys(frame[ws.columns.id]))
    return pd.Index([str(i) for i in range(len(frame))])


def item_row(index: pd.Index, key: str) -> int | None:
    """Row position of item ``key`` in a dataset's :func:`item_index`, or None when it is not there."""
    row = int(index.get_indexer([key])[0])
    return row if row >= 0 else None


def scored_position(ws: Workspace, dataset: str, row: int) -> int | None:
    """Position of dataset row ``row`` among the rows that have a label (how ``Scored`` counts rows), or
    None when the row has no label."""
    labeled = ws.dataset(dataset)[ws.columns.label].notna().to_numpy()
    return int(np.count_nonzero(labeled[:row])) if labeled[row] else None
