"""The presenter view's logic: what changed since a time or since the previous review (read from the store's
append-only history), the scores then and now (cross-checked by scoring the statuses by hand), and the next
points ranked so that the minimum section score rises first."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from explore.errors import RubricError
from explore.rubric import ml_test_score as mts
from explore.rubric.presenter import (
    changes_since,
    changes_since_review,
    changes_table,
    previous_review,
    ranked_next_points,
    verdicts_table,
)


def _tick() -> dt.datetime:
    """A moment strictly between two writes (the store stamps microseconds)."""
    time.sleep(0.01)
    now = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    return now


def test_changes_since_a_time_lists_tests_changed_after_it_with_scores_then_and_now(store):
    rid = mts.start_review(store, "churn v3", "v3")
    mts.confirm_test(store, rid, "data-1", status="manual", author="ada", evidence_text="schema in CI")
    mts.confirm_test(store, rid, "data-2", status="manual", author="ada", evidence_text="checked by hand")
    mts.confirm_test(store, rid, "model-1", status="automated", author="ada")
    mid = _tick()
    mts.confirm_test(store, rid, "data-2", status="automated", author="bob", evidence_text="now nightly")
    mts.confirm_test(store, rid, "data-3", status="manual", author="cy", links=["https://ok.example/a"])
    mts.confirm_test(store, rid, "model-1", status="automated", author="dee")  # re-confirmed, nothing else
    sid = store.create_session(
        workspace="/ws/workspace.toml",
        dataset="eval",
        name="spot",
        reviewer="eve",
        mode="random",
        params={},
        items={},
    )
    store.add_verdict(sid, "item-7", "wrong", corrected_label="yes", note="typo", author="eve")
    other = store.create_session(
        workspace="/other/workspace.toml",
        dataset="eval",
        name="x",
        reviewer="eve",
        mode="random",
        params={},
        items={},
    )
    store.add_verdict(other, "item-1", "correct", author="eve")

    changes = changes_since(store, rid, mid, workspace="/ws/workspace.toml")

    assert [c.test_id for c in changes.tests] == ["data-2", "data-3", "model-1"]
    d2, d3, m1 = changes.tests
    assert (d2.before_status, d2.after_status, d2.author) == ("manual", "automated", "bob")
    assert d2.note_changed and d2.before_note == "checked by hand" and d2.after_note == "now nightly"
    assert d2.words() == "Data 2: manual → automated (note changed)"
    assert (
        d3.before_status is None
        and d3.links_changed
        and d3.words() == "Data 3: confirmed manual (links changed)"
    )
    assert not m1.status_changed and not m1.note_changed and m1.words() == "Model 1: re-confirmed automated"
    # the scores then and now, by hand: data had ½ + ½, now ½ + 1 + ½; the final is the minimum (0: infra)
    assert changes.before.sections["data"] == 1.0 and changes.after.sections["data"] == 2.0
    assert changes.raised_sections == {"data": (1.0, 2.0)}
    assert changes.before.final == changes.after.final == 0.0
    # verdicts given since, of this workspace only
    assert changes.n_verdicts == 1
    (v,) = changes.verdicts
    assert (v.item, v.verdict, v.corrected_label, v.note, v.author, v.session) == (
        "item-7",
        "wrong",
        "yes",
        "typo",
        "eve",
        "spot",
    )
    table = changes_table(changes)
    assert table["change"].tolist() == [
        "manual → automated (note changed)",
        "confirmed manual (links changed)",
        "re-confirmed automated",
    ]
    assert table.loc[0, "note before"] == "checked by hand" and table.loc[2, "note before"] == ""
    assert verdicts_table(changes).loc[0, "session"] == f"#{sid} spot"
    # every verdict when no workspace narrows them
    assert changes_since(store, rid, mid).n_verdicts == 2


def test_changes_since_before_the_review_are_all_its_confirmations(store):
    start = _tick()
    rid = mts.start_review(store, "r", "v")
    mts.confirm_test(store, rid, "infra-1", status="manual", author="ada")
    changes = changes_since(store, rid, start.replace(tzinfo=None))  # naive: UTC
    assert [c.test_id for c in changes.tests] == ["infra-1"] and changes.before.sections["infra"] == 0.0


def test_changes_since_now_are_none(store):
    rid = mts.start_review(store, "r", "v")
    mts.confirm_test(store, rid, "infra-1", status="manual", author="ada")
    changes = changes_since(store, rid, _tick())
    assert changes.tests == () and changes.before == changes.after and changes.n_verdicts == 0


def test_since_in_the_future_or_an_unknown_review_is_a_message(store):
    rid = mts.start_review(store, "r", "v")
    with pytest.raises(RubricError, match="must be in the past"):
        changes_since(store, rid, dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    with pytest.raises(RubricError, match="no rubric review with id 999"):
        changes_since(store, 999, dt.datetime(2020, 1, 1))


def test_changes_since_the_previous_review(store):
    first = mts.start_review(store, "v2 review", "v2")
    mts.confirm_test(store, first, "data-1", status="manual", author="ada", evidence_text="by hand")
    mts.confirm_test(store, first, "data-2", status="automated", author="ada", evidence_text="nightly")
    mts.confirm_test(store, first, "data-3", status="manual", author="ada")
    second = mts.start_review(store, "v3 review", "v3", carry_from=first)
    mts.confirm_test(store, second, "data-1", status="automated", author="bob", evidence_text="by hand")
    mts.confirm_test(
        store, second, "data-2", status="automated", author="bob", evidence_text="nightly"
    )  # same
    mts.confirm_test(store, second, "data-4", status="manual", author="bob", evidence_text="new")
    unrelated = mts.start_review(store, "v4 review", "v4")  # no parent: compares with the review before it

    assert previous_review(store, second) == first and previous_review(store, unrelated) == second
    assert previous_review(store, first) is None

    changes = changes_since_review(store, second)
    assert changes.against == "v2 review" and changes.since is None
    assert [(c.test_id, c.before_status, c.after_status) for c in changes.tests] == [
        ("data-1", "manual", "automated"),
        ("data-4", None, "manual"),
    ]
    # data-3 was carried over but not re-confirmed: it counts as not done in this review
    assert changes.before.sections["data"] == 2.0 and changes.after.sections["data"] == 2.5
    with pytest.raises(RubricError, match="has no previous review"):
        changes_since_review(store, first)


def _all(status: str) -> dict[str, str]:
    return {t: status for t in mts.TEST_IDS}


def test_ranked_next_points_raise_the_minimum_first_when_one_section_limits():
    statuses = _all("automated")
    statuses.update({f"data-{i}": "manual" for i in range(1, 8)})  # data 3.5, the rest 7
    statuses["data-3"] = "not_done"  # data 3.0
    nxt = mts.cheapest_next_points(statuses)
    ranked = ranked_next_points(nxt)
    assert {s.section for s in ranked} == {"data"} and len(ranked) == 7
    assert all(s.raises_final for s in ranked)
    assert ranked[0].test_id == "data-3" and ranked[0].to_status == "manual"  # documenting is cheapest
    first = ranked[0]
    assert mts.rubric_score({**statuses, first.test_id: first.to_status}).final == first.final_after == 3.5
    assert ranked_next_points(nxt, limit=2) == ranked[:2]


def test_ranked_next_points_put_one_step_per_tied_section_first():
    statuses = _all("automated")
    statuses.update({f"data-{i}": "manual" for i in range(1, 8)})
    statuses.update({f"monitor-{i}": "manual" for i in range(1, 8)})  # data and monitoring tie at 3.5
    nxt = mts.cheapest_next_points(statuses)
    ranked = ranked_next_points(nxt)
    assert not any(s.raises_final for s in ranked)  # one step alone cannot raise a tied minimum
    head = ranked[: len(nxt.limiting)]
    assert {s.section for s in head} == {"data", "monitor"} and set(head) == set(nxt.plan)
    after = mts.rubric_score({**statuses, **{s.test_id: s.to_status for s in head}}).final
    assert after == nxt.final_after_plan == 4.0 > nxt.final


def test_ranked_next_points_are_empty_when_everything_is_automated():
    assert ranked_next_points(mts.cheapest_next_points(_all("automated"))) == ()
