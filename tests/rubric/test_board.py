"""explore/rubric/board.py: one review as the Rubric page shows it — read from the store in one go, narrowed to
the open workspace, with the snapshots its entries cite; what each confirmation form starts from; and the
tables, labels and file names drawn from it."""

from __future__ import annotations

import datetime as dt

from explore.core.store import Store, snapshots
from explore.core.workspace import open_workspace, read_workspace
from explore.rubric import ml_test_score
from explore.rubric.board import (
    FormStart,
    audit_table,
    check_report_outcome,
    check_report_workspace,
    default_model_version,
    export_stem,
    form_start,
    history_table,
    next_steps_table,
    review_board,
    snapshot_label,
    when,
)


def _snapshot(store: Store, workspace: str, title: str, tests=("model-6",)) -> int:
    return store.add_snapshot(
        workspace=workspace,
        kind="slice_report",
        tests=list(tests),
        title=title,
        params={},
        result={"title": title},
        model_fingerprint="m",
        data_fingerprint="d",
    )


def test_review_board_reads_the_review_its_evidence_and_trail(store):
    rid = ml_test_score.start_review(store, "v1", "model abc")
    here = _snapshot(store, "/w/workspace.toml", "Slices here")
    ml_test_score.confirm_test(store, rid, "data-1", status="manual", author="alice", evidence_text="wiki")
    ml_test_score.confirm_test(store, rid, "data-1", status="automated", author="bob")
    ml_test_score.confirm_test(store, rid, "model-6", status="manual", author="carol", snapshot_ids=[here])

    board = review_board(store, rid, workspace=None, automatable={"infra-4"})
    assert board.review.name == "v1" and board.score == board.review.score()
    assert board.snapshots[here]["title"] == "Slices here"  # without a workspace: every snapshot
    assert list(board.runs) == []
    assert set(board.proposals) == set(ml_test_score.TEST_IDS) and board.runnable["data-1"] is not None
    assert [(e.test_id, e.status) for e in board.trail] == [
        ("data-1", "manual"),
        ("data-1", "automated"),
        ("model-6", "manual"),
    ]
    assert [e.author for e in board.history("data-1")] == ["alice", "bob"] and board.history("infra-1") == []
    assert board.cited_snapshots() == {here: board.snapshots[here]}
    assert board.next_points == ml_test_score.cheapest_next_points(
        board.score.statuses,
        proposals_by_test=board.proposals,
        runnable=board.runnable,
        automatable={"infra-4"},
        carried={},
    )


def test_review_board_narrows_evidence_to_the_workspace_but_keeps_what_entries_cite(store, tiny_workspace):
    ws = open_workspace(read_workspace(tiny_workspace))
    path = str(ws.config.path)
    rid = ml_test_score.start_review(store, "v1", "model abc")
    mine = _snapshot(store, path, "mine")
    elsewhere = _snapshot(store, "/other/workspace.toml", "elsewhere")
    gone = _snapshot(store, "/other/workspace.toml", "gone")
    ml_test_score.confirm_test(
        store, rid, "model-6", status="manual", author="a", snapshot_ids=[elsewhere, gone]
    )
    with store.engine.begin() as conn:  # deleted from the store since it was cited
        conn.execute(snapshots.delete().where(snapshots.c.id == gone))

    board = review_board(store, rid, workspace=ws, automatable=())
    assert mine in board.snapshots and board.snapshots[elsewhere]["title"] == "elsewhere"
    assert [s.id for s in board.proposals["model-6"].snapshots] == [mine]  # proposals: this workspace only
    assert board.runnable["model-6"] is None  # the slice report runs on this workspace
    assert board.snapshots[gone] is None  # shown as "(missing)"
    assert set(board.cited_snapshots()) == {elsewhere}  # exports embed what the store still holds


def test_carried_over_entries_count_as_cited_and_as_the_cheapest_steps(store):
    v1 = ml_test_score.start_review(store, "v1", "m")
    sid = _snapshot(store, "/w", "evidence")
    ml_test_score.confirm_test(store, v1, "model-6", status="manual", author="a", snapshot_ids=[sid])
    v2 = ml_test_score.start_review(store, "v2", "m", carry_from=v1)
    board = review_board(store, v2, workspace=None, automatable=())
    assert "model-6" in board.review.carried and "model-6" not in board.review.entries
    assert board.cited_snapshots() == {sid: board.snapshots[sid]}
    assert board.next_points.steps[0].effort == "reconfirm_carried"


def test_form_start_from_nothing_a_proposal_an_entry_and_a_carried_entry(store):
    rid = ml_test_score.start_review(store, "v1", "m")
    blank = form_start(review_board(store, rid, workspace=None, automatable=()), "data-1")
    assert blank == FormStart(
        token=(None, None, None, ()),
        seen_entry_id=None,
        status="not_done",
        evidence_text="",
        links_text="",
        snapshot_options=[],
        attached=[],
    )

    # App evidence for model-6: the form proposes manual with the newest snapshot attached.
    older, newer = _snapshot(store, "/w", "older"), _snapshot(store, "/w", "newer")
    proposed = form_start(review_board(store, rid, workspace=None, automatable=()), "model-6")
    assert proposed.status == "manual" and proposed.attached == [newer]
    assert proposed.snapshot_options == [newer, older] and proposed.seen_entry_id is None

    # Once confirmed, the form starts from the entry (and its token changes, so its widgets start again).
    entry_id = ml_test_score.confirm_test(
        store,
        rid,
        "data-1",
        status="automated",
        author="a",
        evidence_text="nightly job",
        links=["https://ci.example/1", "https://ci.example/2"],
    )
    confirmed = form_start(review_board(store, rid, workspace=None, automatable=()), "data-1")
    assert confirmed.status == "automated" and confirmed.seen_entry_id == entry_id
    assert confirmed.evidence_text == "nightly job"
    assert confirmed.links_text == "https://ci.example/1\nhttps://ci.example/2"
    assert confirmed.token != blank.token

    # Carried over into the next review: shown from the carried entry, but nothing is confirmed here yet.
    v2 = ml_test_score.start_review(store, "v2", "m", carry_from=rid)
    carried = form_start(review_board(store, v2, workspace=None, automatable=()), "data-1")
    assert carried.status == "automated" and carried.seen_entry_id is None
    assert carried.token[:2] == (None, entry_id)


def test_times_labels_and_file_names():
    t = dt.datetime(2026, 11, 22, 9, 30, 59, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert when(t) == "2026-11-22 07:30 UTC" and when(None) == ""
    row = {"title": "Slice report", "source": "app", "created_at": t}
    assert snapshot_label(7, row) == "#7 Slice report · app · 2026-11-22 07:30 UTC"
    assert snapshot_label(8, None) == "#8 (missing)"
    assert export_stem("churn v3 — 2026/11") == "churn_v3___2026_11"
    assert export_stem("***") == "review" and export_stem("ok-name_1") == "ok-name_1"
    assert default_model_version(None) == ""


def test_tables_of_steps_history_and_audit(store):
    rid = ml_test_score.start_review(store, "v1", "m")
    ml_test_score.confirm_test(
        store, rid, "data-1", status="manual", author="alice", evidence_text="wiki", links=["https://w"]
    )
    ml_test_score.confirm_test(store, rid, "data-1", status="automated", author="bob")
    board = review_board(store, rid, workspace=None, automatable=())

    steps = next_steps_table(board.next_points)
    assert list(steps.columns) == ["test", "name", "step", "what it takes", "section after", "final after"]
    assert len(steps) == len(board.next_points.steps)

    history = history_table(board.history("data-1"))
    assert list(history.columns) == ["when", "who", "change", "evidence"]
    assert history["change"].tolist() == ["— → manual", "manual → automated"]
    assert history["who"].tolist() == ["alice", "bob"]

    audit = audit_table(board.trail)
    assert audit.iloc[0][["test", "from", "to", "links", "evidence"]].tolist() == [
        "Data 1",
        "—",
        "manual",
        "https://w",
        "wiki",
    ]
    assert audit["score after"].tolist() == [0.0, 0.0]


def test_check_reports_are_recorded_under_the_open_workspace_else_their_own(tiny_workspace):
    report = {"workspace": {"path": "/ci/checkout/workspace.toml"}, "exit_code": 1}
    assert check_report_workspace(report, None) == "/ci/checkout/workspace.toml"
    assert check_report_workspace({}, None) == ""
    ws = open_workspace(read_workspace(tiny_workspace))
    assert check_report_workspace(report, ws) == str(ws.config.path)
    assert default_model_version(ws) == f"{ws.name} · model {ws.model_fingerprint('current')}"
    assert check_report_outcome(report) == 1
    assert check_report_outcome({**report, "status": "failed"}) == "failed"
