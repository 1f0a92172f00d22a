"""The presenter view of a review meeting: the score per section and overall, what changed since the last
review (or since a chosen time), and the next points to earn — read from the store's append-only history.

``changes_since(store, review_id, since)``: for every test whose newest entry in the review was written after
``since``, its state then and now (status, note, links, evidence) and who changed it; the spot-check verdicts
given since; the score then and now. ``changes_since_review``: the same against the previous review (the one
this review carried from, else the one started just before it). ``ranked_next_points``: the steps that raise
the minimum section score first (see :func:`explore.rubric.ml_test_score.cheapest_next_points`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from explore.core.store import Store, review_sessions, rubric_reviews, verdicts
from explore.errors import RubricError
from explore.rubric.ml_test_score import (
    REVIEW_NOT_FOUND,
    STATUS_WORDS,
    TESTS_BY_ID,
    NextPoints,
    NextStep,
    RubricScore,
    _entries_until,
    _review_row,
    load_review,
    rubric_score,
)

SINCE_IN_FUTURE = "“Since” must be in the past to show what changed; received {received} (now is {now} UTC). Pick an earlier time."
NO_PREVIOUS_REVIEW = (
    "Review “{name}” has no previous review to compare with (it was started first and carried from none). "
    "Compare with a time instead."
)
MAX_VERDICTS = 50  # newest verdicts listed (all are counted)


@dataclass(frozen=True)
class TestChange:
    """One test whose state in the review differs from what it was at the comparison point."""

    test_id: str
    before_status: str | None  # None: no entry then
    after_status: str
    before_note: str
    after_note: str
    links_changed: bool
    evidence_changed: bool  # snapshots attached or removed
    author: str
    at: dt.datetime | None

    @property
    def status_changed(self) -> bool:
        return (self.before_status or "not_done") != self.after_status

    @property
    def note_changed(self) -> bool:
        return self.before_note.strip() != self.after_note.strip()

    def words(self) -> str:
        """What changed, in words (no user text: the note itself is shown apart, as text)."""
        t = TESTS_BY_ID[self.test_id]
        if self.before_status is None:
            what = f"confirmed {STATUS_WORDS[self.after_status]}"
        elif self.status_changed:
            what = f"{STATUS_WORDS[self.before_status]} → {STATUS_WORDS[self.after_status]}"
        else:
            what = f"re-confirmed {STATUS_WORDS[self.after_status]}"
        extra = [
            w
            for w, changed in (
                ("note changed", self.note_changed and self.before_status is not None),
                ("note added", self.note_changed and self.before_status is None),
                ("links changed", self.links_changed),
                ("evidence changed", self.evidence_changed),
            )
            if changed
        ]
        return f"{t.label}: {what}" + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class VerdictChange:
    session_id: int
    session: str
    item: str
    verdict: str
    corrected_label: str | None
    note: str
    author: str
    at: dt.datetime


@dataclass(frozen=True)
class Changes:
    """What changed in a review since ``since`` (or since the previous review, ``against``)."""

    review_id: int
    since: dt.datetime | None
    against: str | None  # the previous review's name when comparing reviews
    tests: tuple[TestChange, ...]
    before: RubricScore
    after: RubricScore
    n_verdicts: int  # spot-check verdicts given since (0 when comparing reviews)
    verdicts: tuple[VerdictChange, ...]  # the newest of them, at most MAX_VERDICTS

    @property
    def raised_sections(self) -> dict[str, tuple[float, float]]:
        """Section -> (before, after) for every section whose score changed."""
        return {
            k: (self.before.sections[k], v)
            for k, v in self.after.sections.items()
            if v != self.before.sections[k]
        }


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _diff(
    before: Mapping[str, Mapping[str, Any]], after: Mapping[str, Mapping[str, Any]]
) -> list[TestChange]:
    """Tests whose newest entry differs between two {test id -> entry row} maps, in rubric order."""
    out = []
    for test_id in TESTS_BY_ID:
        now = after.get(test_id)
        then = before.get(test_id)
        if now is None or (then is not None and then.get("id") == now.get("id")):
            continue
        out.append(
            TestChange(
                test_id=test_id,
                before_status=None if then is None else then["status"],
                after_status=now["status"],
                before_note="" if then is None else str(then.get("evidence_text") or ""),
                after_note=str(now.get("evidence_text") or ""),
                links_changed=list((then or {}).get("links") or []) != list(now.get("links") or []),
                evidence_changed=sorted((then or {}).get("snapshot_ids") or [])
                != sorted(now.get("snapshot_ids") or []),
                author=str(now.get("author") or ""),
                at=now.get("created_at"),
            )
        )
    return out


def _statuses(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    return {t: r["status"] for t, r in rows.items()}


def _verdicts_since(
    conn: Connection, since: dt.datetime, workspace: str | None
) -> tuple[int, list[VerdictChange]]:
    where = [verdicts.c.created_at > since]
    if workspace is not None:
        where.append(review_sessions.c.workspace == workspace)
    joined = verdicts.join(review_sessions, verdicts.c.session_id == review_sessions.c.id)
    n = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
    rows = conn.execute(
        select(verdicts, review_sessions.c.name.label("session_name"))
        .select_from(joined)
        .where(*where)
        .order_by(verdicts.c.id.desc())
        .limit(MAX_VERDICTS)
    ).all()
    return int(n), [
        VerdictChange(
            session_id=r.session_id,
            session=r.session_name,
            item=r.item_id,
            verdict=r.verdict,
            corrected_label=r.corrected_label,
            note=r.note,
            author=r.author,
            at=r.created_at,
        )
        for r in rows
    ]


def changes_since(
    store: Store,
    review_id: int,
    since: dt.datetime,
    *,
    workspace: str | None = None,
    now: dt.datetime | None = None,
) -> Changes:
    """What changed in review ``review_id`` after ``since`` (naive times are UTC): tests confirmed or
    re-confirmed since, with their state then and now; the score then and now; the spot-check verdicts given
    since (of ``workspace``, the path of its workspace.toml, when given)."""
    since = _utc(since)
    now = _utc(now or dt.datetime.now(dt.UTC))
    if since > now:
        raise RubricError(
            SINCE_IN_FUTURE.format(
                received=since.strftime("%Y-%m-%d %H:%M"), now=now.strftime("%Y-%m-%d %H:%M")
            ),
            received=since,
        )

    def read(conn: Connection) -> Changes:
        if _review_row(conn, review_id) is None:
            raise RubricError(REVIEW_NOT_FOUND.format(id=review_id))
        then = _entries_until(conn, review_id, since)
        current = _entries_until(conn, review_id, None)
        n, newest = _verdicts_since(conn, since, workspace)
        return Changes(
            review_id=review_id,
            since=since,
            against=None,
            tests=tuple(_diff(then, current)),
            before=rubric_score(_statuses(then)),
            after=rubric_score(_statuses(current)),
            n_verdicts=n,
            verdicts=tuple(newest),
        )

    return store.read(read)


def previous_review(store: Store, review_id: int) -> int | None:
    """The review this one carried from, else the one started just before it; None for the first review."""

    def read(conn: Connection) -> int | None:
        row = _review_row(conn, review_id)
        if row is None:
            raise RubricError(REVIEW_NOT_FOUND.format(id=review_id))
        if row.get("parent_id") is not None:
            return int(row["parent_id"])
        before = conn.execute(
            select(func.max(rubric_reviews.c.id)).where(rubric_reviews.c.id < review_id)
        ).scalar()
        return None if before is None else int(before)

    return store.read(read)


def changes_since_review(store: Store, review_id: int, previous_id: int | None = None) -> Changes:
    """What review ``review_id`` confirmed differently from the previous review (``previous_id``, default
    :func:`previous_review`): each test whose status, note, links or evidence differ, and both scores."""
    previous_id = previous_review(store, review_id) if previous_id is None else previous_id
    if previous_id is None:
        name = load_review(store, review_id).name
        raise RubricError(NO_PREVIOUS_REVIEW.format(name=name), review_id=review_id)

    def read(conn: Connection) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], str]:
        prev = _review_row(conn, previous_id)
        if prev is None:
            raise RubricError(REVIEW_NOT_FOUND.format(id=previous_id))
        return _entries_until(conn, previous_id, None), _entries_until(conn, review_id, None), prev["name"]

    then, current, name = store.read(read)
    changed = [
        c
        for c in _diff(then, current)
        if c.status_changed
        or c.note_changed
        or c.links_changed
        or c.evidence_changed
        or c.before_status is None
    ]
    return Changes(
        review_id=review_id,
        since=None,
        against=name,
        tests=tuple(changed),
        before=rubric_score(_statuses(then)),
        after=rubric_score(_statuses(current)),
        n_verdicts=0,
        verdicts=(),
    )


def ranked_next_points(next_points: NextPoints, *, limit: int | None = None) -> tuple[NextStep, ...]:
    """The steps that raise the minimum section score first: a step that alone raises the final score, then
    the plan's steps (one per tied limiting section: together they raise it), then the other steps of the
    limiting sections; within each, cheapest first (the order of ``next_points.steps``)."""
    plan = {s.test_id for s in next_points.plan}
    order = {s.test_id: i for i, s in enumerate(next_points.steps)}
    ranked = sorted(
        next_points.steps, key=lambda s: (not s.raises_final, s.test_id not in plan, order[s.test_id])
    )
    return tuple(ranked[:limit] if limit is not None else ranked)


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else _utc(value).strftime("%Y-%m-%d %H:%M UTC")


def changes_table(changes: Changes) -> pd.DataFrame:
    """One row per changed test: test, what changed (in words), the note now and then, who, when."""
    return pd.DataFrame(
        [
            {
                "test": f"{TESTS_BY_ID[c.test_id].label} — {TESTS_BY_ID[c.test_id].name}",
                "change": c.words().split(": ", 1)[1],
                "note now": c.after_note,
                "note before": c.before_note if c.note_changed else "",
                "by": c.author,
                "when": _when(c.at),
            }
            for c in changes.tests
        ],
        columns=["test", "change", "note now", "note before", "by", "when"],
    )


def verdicts_table(changes: Changes) -> pd.DataFrame:
    """The newest spot-check verdicts given since (at most MAX_VERDICTS), newest first."""
    return pd.DataFrame(
        [
            {
                "session": f"#{v.session_id} {v.session}",
                "item": v.item,
                "verdict": v.verdict,
                "corrected label": v.corrected_label or "",
                "note": v.note,
                "by": v.author,
                "when": _when(v.at),
            }
            for v in changes.verdicts
        ],
        columns=["session", "item", "verdict", "corrected label", "note", "by", "when"],
    )
