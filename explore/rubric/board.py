"""One review as the Rubric page shows it: its state and score, the evidence the app and `explore check` runs
hold for each test, the cheapest next points and the audit trail, read from the store in one go; what each
test's confirmation form starts from; and the tables and labels drawn from them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from explore.core.store import Store
from explore.core.workspace import MAIN_MODEL, Workspace
from explore.rubric.ml_test_score import (
    EFFORTS,
    STATUS_WORDS,
    TESTS_BY_ID,
    AuditEvent,
    CheckRuns,
    NextPoints,
    Proposal,
    ReviewState,
    RubricScore,
    audit_trail,
    cheapest_next_points,
    load_review,
    proposals,
    runnable_here,
    runs_for,
)

MAX_PROPOSED_SNAPSHOTS = 50  # proposed snapshots that decide whether a form starts again (its token)


@dataclass(frozen=True, eq=False)
class ReviewBoard:
    """Everything the Rubric page shows of one review, as read from the store.

    ``snapshots``: snapshot rows by id — the workspace's (every snapshot without a workspace) and every one an
    entry of the review cites (None when a cited snapshot is not in the store any more). ``runs``: the
    `explore check` runs of this workspace and review. ``runnable``: test id -> why its analysis cannot run
    here (None: it can).
    """

    review: ReviewState
    score: RubricScore
    snapshots: dict[int, dict[str, Any] | None]
    runs: CheckRuns
    proposals: dict[str, Proposal]
    runnable: dict[str, str | None]
    next_points: NextPoints
    trail: list[AuditEvent]

    def history(self, test_id: str) -> list[AuditEvent]:
        """The changes of one test in this review, oldest first."""
        return [e for e in self.trail if e.test_id == test_id]

    def cited_snapshots(self) -> dict[int, dict[str, Any]]:
        """The snapshot rows the review's entries (confirmed or carried over) cite and the store still holds."""
        entries = [*self.review.entries.values(), *self.review.carried.values()]
        cited = {i for e in entries for i in e.snapshot_ids}
        return {i: row for i in cited if (row := self.snapshots.get(i)) is not None}


def review_board(
    store: Store, review_id: int, *, workspace: Workspace | None, automatable: Collection[str]
) -> ReviewBoard:
    """Read review ``review_id`` and the evidence around it. ``workspace`` (None when none is open) narrows
    snapshots and check runs to it; ``automatable``: the test ids `explore check` covers."""
    review = load_review(store, review_id)
    result = review.score()
    if workspace is not None:
        path = str(workspace.config.path)
        snapshot_rows = store.list_snapshots(workspace=path)
        run_rows = runs_for(
            store.list_check_runs(), workspace_path=path, workspace_name=workspace.name, review=review.name
        )
    else:
        snapshot_rows, run_rows = store.list_snapshots(), CheckRuns(tuple(store.list_check_runs()))
    props = proposals(result.statuses, snapshot_rows, run_rows)
    runnable = runnable_here(workspace)
    next_points = cheapest_next_points(
        result.statuses,
        proposals_by_test=props,
        runnable=runnable,
        automatable=automatable,
        carried={t: e.status for t, e in review.carried.items()},
    )
    snapshots: dict[int, dict[str, Any] | None] = {int(r["id"]): r for r in snapshot_rows}
    for entry in [*review.entries.values(), *review.carried.values()]:
        for sid in entry.snapshot_ids:
            if sid not in snapshots:
                snapshots[sid] = store.get_snapshot(sid)
    return ReviewBoard(
        review=review,
        score=result,
        snapshots=snapshots,
        runs=run_rows,
        proposals=props,
        runnable=runnable,
        next_points=next_points,
        trail=audit_trail(store, review_id),
    )


# ---- a test's confirmation form --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormStart:
    """What one test's confirmation form starts from.

    ``token`` changes whenever what the form shows changes (a new entry, a new proposal): its widgets then
    start again from these values. ``seen_entry_id`` is the entry the confirmer sees; a save is refused when it
    is no longer the newest. ``snapshot_options`` are the snapshots one may attach (proposed and already
    attached, newest first); ``attached`` those attached at the start.
    """

    token: tuple[Any, ...]
    seen_entry_id: int | None
    status: str
    evidence_text: str
    links_text: str
    snapshot_options: list[int]
    attached: list[int]


def form_start(board: ReviewBoard, test_id: str) -> FormStart:
    """The starting values of ``test_id``'s form: the proposal's status, else the entry's (confirmed or carried
    over); the entry's evidence; its snapshots, or the newest proposed one when the app proposes a status."""
    entry = board.review.entry(test_id)
    own = board.review.entries.get(test_id)
    proposal = board.proposals[test_id]
    current_id = own.entry_id if own else None
    token = (
        current_id,
        entry.entry_id if entry else None,
        proposal.proposed,
        tuple(s.id for s in proposal.snapshots[:MAX_PROPOSED_SNAPSHOTS]),
    )
    entry_snaps = entry.snapshot_ids if entry else ()
    options = sorted({s.id for s in proposal.snapshots} | set(entry_snaps), reverse=True)
    attached = [i for i in options if i in entry_snaps]
    if not attached and proposal.proposed and proposal.snapshots:
        attached = [proposal.snapshots[0].id]  # propose the newest evidence; the confirmer can change it
    return FormStart(
        token=token,
        seen_entry_id=current_id,
        status=proposal.proposed or (entry.status if entry else "not_done"),
        evidence_text=entry.evidence_text if entry else "",
        links_text="\n".join(entry.links) if entry else "",
        snapshot_options=options,
        attached=attached,
    )


# ---- as shown ----------------------------------------------------------------------------------------------------


def when(value: dt.datetime | None) -> str:
    """A time as shown on the page: UTC to the minute ("" when unknown)."""
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def snapshot_label(snapshot_id: int, row: Mapping[str, Any] | None) -> str:
    """``#id title · source · time``, or ``#id (missing)`` when the store does not hold it any more."""
    if row is None:
        return f"#{snapshot_id} (missing)"
    return f"#{snapshot_id} {row['title']} · {row['source']} · {when(row['created_at'])}"


def _change(previous: str | None) -> str:
    return STATUS_WORDS.get(previous, "—") if previous else "—"


def next_steps_table(next_points: NextPoints) -> pd.DataFrame:
    """Every possible step in the limiting sections, cheapest first: test, name, step, what it takes, scores after."""
    return pd.DataFrame(
        [
            {
                "test": TESTS_BY_ID[s.test_id].label,
                "name": TESTS_BY_ID[s.test_id].name,
                "step": f"{STATUS_WORDS[s.from_status]} → {STATUS_WORDS[s.to_status]}",
                "what it takes": EFFORTS[s.effort],
                "section after": s.section_after,
                "final after": s.final_after,
            }
            for s in next_points.steps
        ]
    )


def history_table(events: Sequence[AuditEvent]) -> pd.DataFrame:
    """One test's changes: when, who, from → to, evidence."""
    return pd.DataFrame(
        [
            {
                "when": when(e.created_at),
                "who": e.author,
                "change": f"{_change(e.previous_status)} → {STATUS_WORDS[e.status]}",
                "evidence": e.evidence_text,
            }
            for e in events
        ]
    )


def audit_table(events: Sequence[AuditEvent]) -> pd.DataFrame:
    """Every change of the review: when, who, test, from, to, evidence, links, snapshots, score after."""
    return pd.DataFrame(
        [
            {
                "when": when(e.created_at),
                "who": e.author,
                "test": TESTS_BY_ID[e.test_id].label,
                "from": _change(e.previous_status),
                "to": STATUS_WORDS[e.status],
                "evidence": e.evidence_text,
                "links": ", ".join(e.links),
                "snapshots": ", ".join(f"#{i}" for i in e.snapshot_ids),
                "score after": e.final_after,
            }
            for e in events
        ]
    )


def export_stem(name: str) -> str:
    """A file name stem for a review's exports: letters, digits, ``-`` and ``_`` kept, the rest ``_``."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name).strip("_") or "review"


def workspace_reviews(rows: Sequence[Mapping[str, Any]], workspace: Workspace) -> list[Mapping[str, Any]]:
    """The reviews of ``workspace`` among store rows (``Store.list_reviews``, order kept): recorded with its
    workspace.toml, or — started before reviews recorded their workspace — with no workspace and the model
    version the Rubric page proposes for it ("<name> · …", :func:`default_model_version`)."""
    path = str(workspace.config.path)
    legacy = f"{workspace.name} · "
    return [
        r
        for r in rows
        if r.get("workspace") == path
        or (not r.get("workspace") and str(r.get("model_version") or "").startswith(legacy))
    ]


def default_model_version(workspace: Workspace | None) -> str:
    """What a new review reviews by default: the workspace's model file fingerprint, or predictions-only."""
    if workspace is None:
        return ""
    if workspace.models:
        return f"{workspace.name} · model {workspace.model_fingerprint(MAIN_MODEL)}"
    return f"{workspace.name} · predictions-only"


def check_report_workspace(report: Mapping[str, Any], workspace: Workspace | None) -> str:
    """The workspace a check report is recorded under: the open one, else the one the report names ("")."""
    if workspace is not None:
        return str(workspace.config.path)
    return str((report.get("workspace") or {}).get("path", ""))


def check_report_outcome(report: Mapping[str, Any]) -> Any:
    """A check report's overall outcome as shown: its status, else its exit code."""
    return report["status"] if "status" in report else report["exit_code"]
