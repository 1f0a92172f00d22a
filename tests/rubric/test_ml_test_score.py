"""explore.rubric.ml_test_score: the 28 tests of the 2017 paper, scoring (property tests), bands at their exact
boundaries, reviews with history and carry-over, concurrent confirmers, proposals, cheapest next points,
export/import round trips, and the rubric charts."""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explore.core.store import Store
from explore.errors import RubricConflict, RubricError
from explore.report.markdown import md_escape
from explore.rubric import charts, ml_test_score
from tests.hostile import PAYLOADS, markdown_to_html, markup_in

# The paper's Tables I-IV (Breck et al. 2017), typed here independently of explore/rubric/ml_test_score.py.
PAPER_TESTS = {
    "data": [
        "Feature expectations are captured in a schema",
        "All features are beneficial",
        "No feature's cost is too much",
        "Features adhere to meta-level requirements",
        "The data pipeline has appropriate privacy controls",
        "New features can be added quickly",
        "All input feature code is tested",
    ],
    "model": [
        "Model specs are reviewed and submitted",
        "Offline and online metrics correlate",
        "All hyperparameters have been tuned",
        "The impact of model staleness is known",
        "A simpler model is not better",
        "Model quality is sufficient on important data slices",
        "The model is tested for considerations of inclusion",
    ],
    "infra": [
        "Training is reproducible",
        "Model specs are unit tested",
        "The ML pipeline is integration tested",
        "Model quality is validated before serving",
        "The model is debuggable",
        "Models are canaried before serving",
        "Serving models can be rolled back",
    ],
    "monitor": [
        "Dependency changes result in notification",
        "Data invariants hold for inputs",
        "Training and serving are not skewed",
        "Models are not too stale",
        "Models are numerically stable",
        "Computing performance has not regressed",
        "Prediction quality has not regressed",
    ],
}
SECTION_NAMES = {"data": "Data", "model": "Model", "infra": "Infrastructure", "monitor": "Monitoring"}


# ---- the rubric itself ------------------------------------------------------------------------------


def test_the_28_tests_and_their_sections_match_the_paper():
    assert [s.key for s in ml_test_score.SECTIONS] == list(PAPER_TESTS)
    assert {s.key: s.title for s in ml_test_score.SECTIONS} == SECTION_NAMES
    assert len(ml_test_score.TESTS) == 28
    expected = [
        (f"{sec}-{i}", sec, i, name) for sec, names in PAPER_TESTS.items() for i, name in enumerate(names, 1)
    ]
    assert [(t.id, t.section, t.number, t.name) for t in ml_test_score.TESTS] == expected
    for t in ml_test_score.TESTS:
        assert len(t.explanation) > 40 and len(t.how_to_check) > 40, t.id
    assert ml_test_score.TESTS_BY_ID["model-6"].label == "Model 6"
    assert ml_test_score.TESTS_BY_ID["infra-4"].label == "Infrastructure 4"


def test_the_issue_mapping_of_app_evidence_is_encoded():
    # "slice report / discovery → Model 6; fairness → Model 7; staleness → Model 4 and Monitor 4; …"
    expected = {
        "model-6": "explore.slices.report",
        "model-7": "explore.slices.report",
        "model-4": "explore.staleness.experiment",
        "monitor-4": "explore.staleness.experiment",
        "model-5": "explore.checks.baseline",
        "data-2": "explore.importance.explain",
        "data-1": "explore.checks.expectations",
        "monitor-2": "explore.checks.expectations",
        "data-4": "explore.checks.stability",
        "monitor-3": "explore.checks.serving_skew",
        "monitor-5": "explore.checks.stability",
        "monitor-1": "explore.checks.compatibility",
        "data-3": "explore.checks.stability",
        "monitor-6": "explore.checks.stability",
        "infra-1": "explore.checks.reproducibility",
        "infra-2": "explore.checks.model_spec",
        "infra-4": "explore.checks.compare",
        "monitor-7": "explore.checks.compare",
        "infra-5": "explore.importance.explain",
    }
    for test_id, module in expected.items():
        assert module in [a.module for a in ml_test_score.TESTS_BY_ID[test_id].analyses], test_id
    # The tests the app cannot evidence are confirmed by text and links.
    for test_id in (
        "data-5",
        "data-6",
        "data-7",
        "model-1",
        "model-2",
        "model-3",
        "infra-3",
        "infra-6",
        "infra-7",
    ):
        assert ml_test_score.TESTS_BY_ID[test_id].analyses == ()


def test_the_scale_is_2017_and_says_it_is_not_2016():
    assert ml_test_score.SCALE == "2017"
    assert ml_test_score.POINTS == {"not_done": 0.0, "manual": 0.5, "automated": 1.0}
    assert "2016" in ml_test_score.SCALE_NOT_2016 and "½" in ml_test_score.SCALE_RULES


# ---- scoring --------------------------------------------------------------------------------------------

statuses_strategy = st.fixed_dictionaries(
    {t: st.sampled_from(ml_test_score.STATUSES) for t in ml_test_score.TEST_IDS}
)
partial_strategy = st.dictionaries(
    st.sampled_from(ml_test_score.TEST_IDS), st.sampled_from(ml_test_score.STATUSES)
)
_FRACTION = {"not_done": Fraction(0), "manual": Fraction(1, 2), "automated": Fraction(1)}


def _band_by_hand(x: Fraction) -> int:
    if x == 0:
        return 0
    if x <= 1:
        return 1
    if x <= 2:
        return 2
    if x <= 3:
        return 3
    if x <= 5:
        return 4
    return 5


@settings(max_examples=150, deadline=None)
@given(statuses_strategy)
def test_score_is_section_sums_and_their_minimum(statuses):
    result = ml_test_score.rubric_score(statuses)
    sums = {sec: sum(_FRACTION[statuses[f"{sec}-{i}"]] for i in range(1, 8)) for sec in PAPER_TESTS}
    assert result.sections == {k: float(v) for k, v in sums.items()}
    assert result.final == float(min(sums.values()))
    assert result.limiting == tuple(k for k, v in sums.items() if v == min(sums.values()))
    assert result.band.index == _band_by_hand(min(sums.values()))
    assert sum(sum(c.values()) for c in result.counts.values()) == 28
    assert result.scale == "2017"


@settings(max_examples=100, deadline=None)
@given(partial_strategy)
def test_missing_tests_count_as_not_done(partial):
    full = {t: partial.get(t, "not_done") for t in ml_test_score.TEST_IDS}
    assert ml_test_score.rubric_score(partial) == ml_test_score.rubric_score(full)


@settings(max_examples=100, deadline=None)
@given(statuses_strategy, st.sampled_from(ml_test_score.TEST_IDS))
def test_raising_one_test_never_lowers_any_score(statuses, test_id):
    before = ml_test_score.rubric_score(statuses)
    up = {**statuses, test_id: "automated"}
    after = ml_test_score.rubric_score(up)
    assert all(after.sections[k] >= before.sections[k] for k in before.sections)
    assert after.final >= before.final


@pytest.mark.parametrize(
    ("value", "index"),
    [
        (0, 0),
        (0.0, 0),
        (1e-9, 1),
        (0.5, 1),
        (1, 1),
        (1 + 1e-9, 2),
        (1.5, 2),
        (2, 2),
        (2 + 1e-9, 3),
        (2.5, 3),
        (3, 3),
        (3 + 1e-9, 4),
        (3.5, 4),
        (4, 4),
        (4.5, 4),
        (5, 4),
        (5 + 1e-9, 5),
        (5.5, 5),
        (6, 5),
        (7, 5),
    ],
)
def test_bands_at_their_exact_boundaries(value, index):
    band = ml_test_score.band_for(value)
    assert band.index == index
    assert band.words == ml_test_score.BANDS[index].words


def test_band_words_and_intervals():
    assert [b.interval for b in ml_test_score.BANDS] == ["0", "(0, 1]", "(1, 2]", "(2, 3]", "(3, 5]", "> 5"]
    assert ml_test_score.BANDS[0].words.startswith("More of a research project")
    assert ml_test_score.BANDS[5].words.startswith("Exceptional")


@pytest.mark.parametrize("bad", [-0.5, float("nan"), "2", None, True])
def test_band_rejects_impossible_scores(bad):
    with pytest.raises(RubricError):
        ml_test_score.band_for(bad)


def test_unknown_test_or_status_is_a_clear_error():
    with pytest.raises(RubricError, match="There is no ML Test Score test 'data-8'"):
        ml_test_score.rubric_score({"data-8": "manual"})
    with pytest.raises(
        RubricError,
        match=r"The status of data-1 must be one of not_done, manual, automated; received 'done'",
    ):
        ml_test_score.rubric_score({"data-1": "done"})


def test_score_on_concrete_assignment():
    statuses = {f"data-{i}": "automated" for i in range(1, 8)}
    statuses |= {"model-1": "manual", "model-2": "manual", "model-3": "automated"}  # 2.0
    statuses |= {f"infra-{i}": "manual" for i in range(1, 6)}  # 2.5
    statuses |= {f"monitor-{i}": "automated" for i in range(1, 3)}  # 2.0
    result = ml_test_score.rubric_score(statuses)
    assert result.sections == {"data": 7.0, "model": 2.0, "infra": 2.5, "monitor": 2.0}
    assert result.final == 2.0 and result.limiting == ("model", "monitor")
    assert result.band.interval == "(1, 2]"


# ---- cheapest next points --------------------------------------------------------------------------------


def test_one_limiting_section_a_single_step_raises_the_score():
    statuses = {t: "manual" for t in ml_test_score.TEST_IDS}  # 3.5 everywhere
    statuses["infra-3"] = "not_done"  # infra 3.0: the only limiting section
    nxt = ml_test_score.cheapest_next_points(statuses)
    assert nxt.limiting == ("infra",) and nxt.final == 3.0
    assert all(s.section == "infra" for s in nxt.steps)
    assert nxt.plan[0].raises_final and nxt.final_after_plan == 3.5
    # every infra test can move one step; infra-3 is cheapest (documenting), the others need automation
    assert nxt.plan[0].test_id == "infra-3" and nxt.plan[0].effort == "document"


def test_tied_sections_need_one_step_each():
    nxt = ml_test_score.cheapest_next_points({})
    assert nxt.limiting == ("data", "model", "infra", "monitor")
    assert not any(s.raises_final for s in nxt.steps)  # one step alone cannot raise a tied minimum
    assert len(nxt.plan) == 4 and {s.section for s in nxt.plan} == set(ml_test_score.SECTION_KEYS)
    assert nxt.final_after_plan == 0.5


def test_cheapest_step_prefers_existing_evidence():
    statuses = {t: "manual" for t in ml_test_score.TEST_IDS if not t.startswith("model")}
    runs = [
        {
            "id": 1,
            "finished_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
            "exit_code": 0,
            "report": {"checks": [{"name": "baseline", "tests": ["model-5"], "status": "passed"}]},
        }
    ]
    snaps = [
        {
            "id": 7,
            "kind": "slice_report",
            "title": "slices",
            "tests": ["model-6"],
            "source": "app",
            "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        }
    ]
    props = ml_test_score.proposals(statuses, snaps, runs)
    runnable = {"model-4": None}
    nxt = ml_test_score.cheapest_next_points(
        statuses, proposals_by_test=props, runnable=runnable, automatable={"model-6"}
    )
    efforts = [(s.test_id, s.effort) for s in nxt.steps[:3]]
    assert efforts == [
        ("model-5", "confirm_automated"),
        ("model-6", "confirm_evidence"),
        ("model-4", "run_analysis"),
    ]
    assert nxt.steps[0].to_status == "automated" and nxt.steps[0].final_after == 1.0


@settings(max_examples=150, deadline=None)
@given(statuses_strategy)
def test_the_plan_always_raises_the_final_score_until_the_maximum(statuses):
    nxt = ml_test_score.cheapest_next_points(statuses)
    if nxt.final == 7:
        assert nxt.plan == () and nxt.steps == ()
    else:
        assert nxt.final_after_plan > nxt.final
        assert len(nxt.plan) == len(nxt.limiting)
        if len(nxt.limiting) == 1:
            assert all(s.raises_final for s in nxt.steps)


# ---- proposals --------------------------------------------------------------------------------------------


def test_proposals_from_snapshots_and_check_runs():
    snaps = [
        {
            "id": 3,
            "kind": "slice_report",
            "title": "Slice report",
            "tests": ["model-6"],
            "source": "app",
            "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        }
    ]
    day = dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC)
    runs = [
        {
            "id": 1,
            "finished_at": day,
            "exit_code": 1,
            "report": {
                "checks": [
                    {"name": "compare", "tests": ["infra-4", "monitor-7"], "status": "failed"},
                    {"name": "skew", "tests": ["monitor-3"], "status": "skipped"},
                ]
            },
        },
        {
            "id": 2,
            "finished_at": day + dt.timedelta(days=1),
            "exit_code": 0,
            "report": {
                "checks": [
                    {"name": "compare", "tests": ["infra-4", "monitor-7"], "status": "passed"},
                ]
            },
        },
    ]
    props = ml_test_score.proposals({"monitor-7": "automated"}, snaps, runs)
    assert props["model-6"].proposed == "manual" and props["model-6"].snapshots[0].id == 3
    assert props["infra-4"].proposed == "automated"
    assert [r.id for r in props["infra-4"].runs] == [2, 1]  # newest first
    # A report imported later (higher id) but run earlier does not become the "last run".
    late = {"id": 3, "finished_at": day - dt.timedelta(days=3), "exit_code": 0, "report": runs[0]["report"]}
    assert ml_test_score.proposals({}, snaps, [*runs, late])["infra-4"].last_run.id == 2
    assert props["infra-4"].run_days == 2
    assert props["infra-4"].runs[1].outcome == "failed"  # a failing run still shows automation
    assert props["monitor-7"].proposed is None  # already automated
    assert props["monitor-3"].proposed is None and props["monitor-3"].runs == ()  # skipped is no evidence
    assert props["data-5"].proposed is None


def test_runnable_here_depends_on_the_workspace(monkeypatch):
    monkeypatch.setattr(ml_test_score, "_module_available", lambda module: True)
    checks = SimpleNamespace(banned_features=())
    cols = SimpleNamespace(time=None)
    ws = SimpleNamespace(models={}, config=SimpleNamespace(columns=cols, checks=checks), dataset_names=["a"])
    out = ml_test_score.runnable_here(ws)
    assert out["model-6"] is None and out["monitor-5"] is None
    assert "predictions-only" in out["infra-1"]
    assert "time column" in out["model-4"] or "model" in out["model-4"]
    assert out["data-5"].startswith("no analysis in the app")
    ws2 = SimpleNamespace(
        models={"current": 1, "previous": 2},
        config=SimpleNamespace(columns=SimpleNamespace(time="t"), checks=checks),
        dataset_names=["a", "b"],
    )
    out2 = ml_test_score.runnable_here(ws2)
    assert out2["model-4"] is None and out2["infra-4"] is None and out2["monitor-3"] is None
    assert "banned" in out2["data-4"]
    monkeypatch.setattr(ml_test_score, "_module_available", lambda module: False)
    assert "not available in this installation" in ml_test_score.runnable_here(ws2)["model-6"]


# ---- reviews in the store ------------------------------------------------------------------------------


def test_history_keeps_every_change_with_who_and_from_what(store):
    rid = ml_test_score.start_review(store, "  churn   v3 — 2026-11-22 ", "v3")
    state = ml_test_score.load_review(store, rid)
    assert state.name == "churn v3 — 2026-11-22"
    ml_test_score.confirm_test(
        store,
        rid,
        "model-6",
        status="manual",
        author="alice",
        evidence_text="slice report",
        links=["https://ci/1"],
    )
    ml_test_score.confirm_test(
        store, rid, "model-6", status="automated", author="bob", links=["https://ci/2"]
    )
    ml_test_score.confirm_test(
        store, rid, "model-6", status="manual", author="carol", evidence_text="CI job removed"
    )
    ml_test_score.confirm_test(store, rid, "data-1", status="manual", author="alice")
    trail = ml_test_score.audit_trail(store, rid)
    assert [(e.test_id, e.author, e.previous_status, e.status) for e in trail] == [
        ("model-6", "alice", None, "manual"),
        ("model-6", "bob", "manual", "automated"),
        ("model-6", "carol", "automated", "manual"),
        ("data-1", "alice", None, "manual"),
    ]
    assert all(e.final_after == 0 for e in trail)  # three sections still at 0
    state = ml_test_score.load_review(store, rid)
    assert (
        state.entries["model-6"].author == "carol"
        and state.entries["model-6"].evidence_text == "CI job removed"
    )
    assert state.score().sections["model"] == 0.5


def test_two_concurrent_confirmers_lose_nothing(store_url):
    url = store_url
    with Store(url) as s:
        rid = ml_test_score.start_review(s, "meeting", "v1")

    def confirmer(name: str, tests: list[str]) -> None:
        with Store(url) as own:
            for t in tests:
                ml_test_score.confirm_test(
                    own, rid, t, status="manual", author=name, evidence_text=f"{name} on {t}"
                )

    half = len(ml_test_score.TEST_IDS) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = [
            pool.submit(confirmer, "alice", list(ml_test_score.TEST_IDS[:half])),
            pool.submit(confirmer, "bob", list(ml_test_score.TEST_IDS[half:])),
        ]
    for future in done:
        future.result()  # a confirmer's exception is raised here
    with Store(url) as s:
        state = ml_test_score.load_review(s, rid)
        assert set(state.entries) == set(ml_test_score.TEST_IDS)
        assert state.score().final == 3.5
        assert {e.author for t, e in state.entries.items() if t in ml_test_score.TEST_IDS[:half]} == {"alice"}


def test_a_stale_edit_of_the_same_test_is_refused_not_lost(store):
    rid = ml_test_score.start_review(store, "r", "v1")
    first = ml_test_score.confirm_test(
        store, rid, "infra-1", status="manual", author="alice", expected_entry_id=None
    )
    seen = ml_test_score.load_review(store, rid).entries["infra-1"].entry_id
    assert seen == first
    # bob and carol both looked at alice's entry; bob saves first
    ml_test_score.confirm_test(
        store, rid, "infra-1", status="automated", author="bob", expected_entry_id=seen
    )
    with pytest.raises(RubricConflict, match=r"Infrastructure 1 was changed by bob .* \(to automated\)"):
        ml_test_score.confirm_test(
            store, rid, "infra-1", status="not_done", author="carol", expected_entry_id=seen
        )
    with pytest.raises(RubricConflict):  # someone confirmed a test carol thought untouched
        ml_test_score.confirm_test(
            store, rid, "infra-1", status="manual", author="carol", expected_entry_id=None
        )
    assert ml_test_score.load_review(store, rid).entries["infra-1"].status == "automated"
    assert [e.author for e in ml_test_score.audit_trail(store, rid)] == ["alice", "bob"]


def test_concurrent_edits_of_one_test_exactly_one_wins(store_url):
    url = store_url
    with Store(url) as s:
        rid = ml_test_score.start_review(s, "race", "v1")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def confirmer(name: str) -> None:
        with Store(url) as own:
            barrier.wait()
            try:
                ml_test_score.confirm_test(
                    own, rid, "monitor-5", status="manual", author=name, expected_entry_id=None
                )
                outcomes.append("saved")
            except RubricConflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=confirmer, args=(f"p{i}",)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["conflict"] * 3 + ["saved"]
    with Store(url) as s:
        assert len(ml_test_score.audit_trail(s, rid)) == 1


def test_confirm_validates_its_inputs(store):
    rid = ml_test_score.start_review(store, "r", "v1")
    with pytest.raises(RubricError, match="Evidence snapshot #99 does not exist"):
        ml_test_score.confirm_test(store, rid, "data-1", status="manual", author="a", snapshot_ids=[99])
    with pytest.raises(RubricError, match="must be URLs"):
        ml_test_score.confirm_test(
            store, rid, "data-1", status="manual", author="a", links=["see the wiki page"]
        )
    with pytest.raises(RubricError, match="no rubric review with id 42"):
        ml_test_score.confirm_test(store, 42, "data-1", status="manual", author="a")
    with pytest.raises(RubricError, match="needs a name"):
        ml_test_score.start_review(store, "   ", "v1")
    assert ml_test_score.parse_links("https://a, https://b\n\n./docs/runbook.md\nhttps://a") == [
        "https://a",
        "https://b",
        "./docs/runbook.md",
    ]
    assert ml_test_score.audit_trail(store, rid) == []


def test_carry_over_starts_from_the_parent_and_counts_once_reconfirmed(store):
    parent = ml_test_score.start_review(store, "v2 review", "v2")
    for t in ml_test_score.TEST_IDS:
        ml_test_score.confirm_test(
            store, parent, t, status="manual", author="alice", evidence_text=f"evidence {t}"
        )
    child = ml_test_score.start_review(store, "v3 review", "v3", carry_from=parent)
    # A later change to the parent does not leak into the child's carry-over (frozen at creation).
    ml_test_score.confirm_test(store, parent, "data-1", status="automated", author="alice")
    state = ml_test_score.load_review(store, child)
    assert state.parent_name == "v2 review"
    assert len(state.carried) == 28 and state.entries == {}
    assert state.carried["data-1"].status == "manual" and state.carried["data-1"].carried_from == "v2 review"
    assert state.score().final == 0.0  # not re-confirmed yet
    assert ml_test_score.rubric_score(state.carried_statuses()).final == 3.5
    carried = state.carried["model-6"]
    ml_test_score.confirm_test(
        store, child, "model-6", status=carried.status, author="bob", evidence_text=carried.evidence_text
    )
    state = ml_test_score.load_review(store, child)
    assert "model-6" not in state.carried and state.entries["model-6"].author == "bob"
    assert state.score().sections["model"] == 0.5
    # Grandchild carries the child's effective state (its own + what it carried).
    grandchild = ml_test_score.start_review(store, "v4 review", "v4", carry_from=child)
    g = ml_test_score.load_review(store, grandchild)
    assert (
        g.carried["model-6"].carried_from == "v3 review" and g.carried["data-2"].carried_from == "v2 review"
    )


def test_score_history_across_reviews(store):
    a = ml_test_score.start_review(store, "first", "v1")
    ml_test_score.confirm_test(store, a, "data-1", status="manual", author="x")
    b = ml_test_score.start_review(store, "second", "v2")
    for t in ml_test_score.TEST_IDS:
        ml_test_score.confirm_test(store, b, t, status="manual", author="x")
    history = ml_test_score.score_history(store)
    assert [(h.name, h.final, h.n_confirmed) for h in history] == [("first", 0.0, 1), ("second", 3.5, 28)]
    frame = history.to_frame()
    assert frame[["name", "final", "n_confirmed"]].values.tolist() == [["first", 0.0, 1], ["second", 3.5, 28]]
    assert frame.loc[0, "data"] == 0.5 and frame.loc[1, "data"] == 3.5  # manual: half a point per data test
    chart = charts.history_chart(history, highlight="second").to_dict()
    datasets = json.dumps(chart["datasets"])
    assert '"final": 3.5' in datasets and '"review": "first"' in datasets


# ---- exports -----------------------------------------------------------------------------------------------


def _filled_review(store: Store) -> int:
    rid = ml_test_score.start_review(store, "churn v3 — 2026-11-22", "model.skops abc123")
    sid = store.add_snapshot(
        workspace="/w/workspace.toml",
        kind="slice_report",
        tests=["model-6"],
        title="Slice report: region",
        params={"group_by": "region"},
        result={"worst": "South", "accuracy": 0.71},
        model_fingerprint="abc123",
        data_fingerprint="def456",
    )
    ml_test_score.confirm_test(
        store,
        rid,
        "model-6",
        status="manual",
        author="alice",
        evidence_text="South is worst <b>0.71</b> | pipe",
        links=["https://wiki/slices"],
        snapshot_ids=[sid],
    )
    ml_test_score.confirm_test(
        store,
        rid,
        "infra-7",
        status="automated",
        author="bob",
        evidence_text="rollback drill monthly",
        links=["./runbooks/rollback.md"],
    )
    ml_test_score.confirm_test(store, rid, "data-5", status="manual", author="carol")
    return rid


def _export(store: Store, rid: int) -> dict:
    state = ml_test_score.load_review(store, rid)
    ids = {i for e in state.entries.values() for i in e.snapshot_ids}
    rows = {i: store.get_snapshot(i) for i in ids}
    return ml_test_score.review_to_dict(
        state, snapshot_rows=rows, history=ml_test_score.audit_trail(store, rid)
    )


def test_export_json_markdown_html(store):
    rid = _filled_review(store)
    data = _export(store, rid)
    assert data["scale"] == "2017" and data["format"] == ml_test_score.JSON_FORMAT
    assert len(data["tests"]) == 28 and data["score"]["final"] == 0.0
    t = {x["id"]: x for x in data["tests"]}
    assert t["model-6"]["confirmed_by"] == "alice" and t["model-6"]["points"] == 0.5
    assert t["model-6"]["snapshots"][0]["result"] == {"worst": "South", "accuracy": 0.71}
    assert t["infra-7"]["points"] == 1.0 and t["data-4"]["status"] == "not_done"
    assert len(data["history"]) == 3
    md = ml_test_score.review_to_markdown(
        data, next_points=ml_test_score.cheapest_next_points(ml_test_score.load_review(store, rid).statuses())
    )
    for test in ml_test_score.TESTS:
        assert md_escape(test.name) in md
    assert "Final score: 0" in md and "½ point" in md and "2016" in md
    assert md_escape("South is worst <b>0.71</b> | pipe") in md and "<https://wiki/slices>" in md
    assert "alice, " in md and "Cheapest next points" in md and "## Audit trail" in md
    page = ml_test_score.review_to_html(data)
    assert (
        page.startswith("<!doctype html>") and "<b>0.71</b>" not in page and "&lt;b&gt;0.71&lt;/b&gt;" in page
    )
    assert "<a href='https://wiki/slices'>" in page and page.count("<tr>") >= 28
    json.loads(ml_test_score.review_to_json(ml_test_score.load_review(store, rid)))


def test_export_import_round_trip_into_another_store(store, tmp_path):
    rid = _filled_review(store)
    text = json.dumps(_export(store, rid))
    with Store(f"sqlite:///{tmp_path / 'other.db'}") as other:
        imported = ml_test_score.parse_review_json(text)
        assert set(imported.tests) == {"model-6", "infra-7", "data-5"}
        new_id = ml_test_score.import_review(other, imported, author="dave")
        again = _export(other, new_id)
    before = {t["id"]: t for t in _export(store, rid)["tests"]}
    after = {t["id"]: t for t in again["tests"]}
    assert (
        again["review"]["name"] == "churn v3 — 2026-11-22" and again["score"] == _export(store, rid)["score"]
    )
    for test_id in ml_test_score.TEST_IDS:
        b, a = before[test_id], after[test_id]
        assert (a["status"], a["links"]) == (b["status"], b["links"]), test_id
        assert a["evidence_text"].startswith(b["evidence_text"])
        assert [s["result"] for s in a["snapshots"]] == [s["result"] for s in b["snapshots"]]
    assert "[imported: confirmed by alice at" in after["model-6"]["evidence_text"]
    assert after["model-6"]["confirmed_by"] == "dave"
    assert (
        after["model-6"]["snapshots"][0]["params"]["imported_from"]["id"]
        == before["model-6"]["snapshots"][0]["id"]
    )


def test_import_into_the_same_store_reuses_snapshots_and_needs_a_new_name(store):
    rid = _filled_review(store)
    data = _export(store, rid)
    imported = ml_test_score.parse_review_json(json.dumps(data))
    with pytest.raises(Exception, match="already exists"):
        ml_test_score.import_review(store, imported, author="dave")
    new_id = ml_test_score.import_review(store, imported, author="dave", name="restored")
    state = ml_test_score.load_review(store, new_id)
    assert (
        state.entries["model-6"].snapshot_ids
        == ml_test_score.load_review(store, rid).entries["model-6"].snapshot_ids
    )
    assert len(store.list_snapshots()) == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: "not json {", "not JSON"),
        (lambda d: json.dumps([1, 2]), "not an ml-explore rubric review"),
        (lambda d: json.dumps({**d, "format": "spreadsheet"}), "its \"format\" is 'spreadsheet'"),
        (lambda d: json.dumps({**d, "scale": "2016"}), "scored on the '2016' scale"),
        (
            lambda d: json.dumps({**d, "tests": [{"id": "data-9", "status": "manual"}]}),
            "no ML Test Score test 'data-9'",
        ),
        (lambda d: json.dumps({**d, "tests": [{"id": "data-1", "status": "half"}]}), "received 'half'"),
        (lambda d: json.dumps({**d, "review": {"name": ""}}), 'non-empty "name"'),
        (lambda d: json.dumps({**d, "tests": [{"id": "data-1", "status": "manual"}] * 2}), "appears twice"),
    ],
)
def test_import_refuses_bad_files_with_the_fix(store, mutate, message):
    data = _export(store, _filled_review(store))
    with pytest.raises(RubricError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ml_test_score.parse_review_json(mutate(data))


def test_a_2016_file_can_be_rescored_on_the_2017_scale(store):
    data = _export(store, _filled_review(store))
    data["scale"] = "2016"
    imported = ml_test_score.parse_review_json(json.dumps(data), rescore=True)
    assert imported.rescored
    new_id = ml_test_score.import_review(store, imported, author="dave", name="from 2016")
    state = ml_test_score.load_review(store, new_id)
    assert state.score().sections["infra"] == 1.0  # automated = 1 point on the 2017 scale, not 2
    assert "rescored from the 2016 scale" in state.entries["infra-7"].evidence_text


# ---- check reports -----------------------------------------------------------------------------------------


def _report(run_id: str = "abc", exit_code: int = 0) -> dict:
    return {
        "format": ml_test_score.CHECK_REPORT_FORMAT,
        "scale": "2017",
        "run_id": run_id,
        "exit_code": exit_code,
        "started_at": "2026-11-20T10:00:00+00:00",
        "finished_at": "2026-11-20T10:01:00+00:00",
        "workspace": {"path": "/ci/ws/workspace.toml", "name": "ws"},
        "review": None,
        "checks": [{"name": "stability", "tests": ["monitor-5"], "status": "passed"}],
    }


def test_check_report_import_is_validated_and_deduplicated(store):
    report = ml_test_score.parse_check_report(json.dumps(_report()))
    run_id, added = ml_test_score.record_check_report(store, report, workspace="/local/ws/workspace.toml")
    assert added
    assert ml_test_score.record_check_report(store, report, workspace="/local/ws/workspace.toml") == (
        run_id,
        False,
    )
    runs = store.list_check_runs()
    assert len(runs) == 1 and runs[0]["finished_at"] == dt.datetime(2026, 11, 20, 10, 1, tzinfo=dt.UTC)
    props = ml_test_score.proposals({}, [], runs)
    assert props["monitor-5"].proposed == "automated"
    with pytest.raises(RubricError, match="not an `explore check` JSON report"):
        ml_test_score.parse_check_report(json.dumps({"format": ml_test_score.JSON_FORMAT}))
    with pytest.raises(RubricError, match="'finished_at' is not an ISO timestamp"):
        ml_test_score.parse_check_report(json.dumps({**_report(), "finished_at": "yesterday"}))
    with pytest.raises(RubricError, match="the key 'run_id' is missing"):
        ml_test_score.parse_check_report(json.dumps({k: v for k, v in _report().items() if k != "run_id"}))


def test_runs_for_matches_the_workspace_by_path_or_folder_and_the_review():
    rows = [
        {"id": 1, "workspace": "/local/ws/workspace.toml", "report": {"workspace": {"name": "ws"}}},
        {
            "id": 2,
            "workspace": "/ci/checkout/ws/workspace.toml",
            "report": {"workspace": {"name": "ws"}, "review": "v3"},
        },
        {"id": 3, "workspace": "/ci/other/workspace.toml", "report": {"workspace": {"name": "other"}}},
        {
            "id": 4,
            "workspace": "/local/ws/workspace.toml",
            "report": {"workspace": {"name": "ws"}, "review": "v2"},
        },
    ]
    found = ml_test_score.runs_for(
        rows, workspace_path="/local/ws/workspace.toml", workspace_name="ws", review="v3"
    )
    assert isinstance(found, ml_test_score.CheckRuns)
    assert [r["id"] for r in found] == [1, 2] and len(found) == 2


# ---- charts -------------------------------------------------------------------------------------------------


def test_section_bars_highlight_the_limiting_section():
    statuses = {t: "automated" for t in ml_test_score.TEST_IDS}
    statuses |= {"monitor-1": "not_done", "monitor-2": "manual"}
    result = ml_test_score.rubric_score(statuses)
    spec = charts.section_bars(result).to_dict()
    rows = next(iter(spec["datasets"].values()))
    by_section = {r["section"]: r for r in rows}
    assert (
        by_section["Monitoring"]["role"].startswith("limiting") and by_section["Monitoring"]["points"] == 5.5
    )
    assert by_section["Data"]["role"] == "other section"
    assert charts.LIMITING_COLOR in json.dumps(spec)
    grid = charts.status_grid(result).to_dict()
    cells = next(iter(grid["datasets"].values()))
    assert len(cells) == 28 and {c["status"] for c in cells} == {"automated", "manual", "not done"}


def test_check_runs_chart_has_one_mark_per_run():
    runs = [
        {"id": i, "finished_at": dt.datetime(2026, 1, i, tzinfo=dt.UTC), "exit_code": i % 3, "report": {}}
        for i in range(1, 6)
    ]
    spec = charts.check_runs_chart(ml_test_score.CheckRuns(tuple(runs))).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 5 and {r["outcome"] for r in rows} == {"passed", "a check failed", "could not run"}
    assert [r["run"] for r in rows] == [1, 2, 3, 4, 5] and {r["review"] for r in rows} == {"—"}
    assert rows[0]["finished"].startswith("2026-01-01T00:00:00")  # UTC, shown without a zone


def test_docs_list_every_test_every_check_and_the_exit_codes():
    from pathlib import Path

    from explore.checks import registry as checkrun

    text = (Path(__file__).resolve().parents[2] / "docs" / "rubric.md").read_text(encoding="utf-8")
    for test in ml_test_score.TESTS:
        assert f"| {test.label} | {test.name} |" in text, test.id
    for name in checkrun.CHECKS:
        assert f"| `{name}` |" in text, name
    for band in ml_test_score.BANDS:
        assert band.words in text
    assert "upload-artifact" in text and "EXPLORE_DB_URL" in text and "exit code is 1" in text


def test_cheapest_steps_prefer_checks_whose_last_run_passed():
    day = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    runs = [
        {
            "id": 1,
            "finished_at": day,
            "exit_code": 1,
            "report": {
                "checks": [
                    {"name": "baseline", "tests": ["model-5"], "status": "failed"},
                    {"name": "fairness", "tests": ["model-7"], "status": "passed"},
                ]
            },
        }
    ]
    props = ml_test_score.proposals({}, [], runs)
    nxt = ml_test_score.cheapest_next_points({}, proposals_by_test=props)
    model_steps = [s.test_id for s in nxt.steps if s.section == "model"][:2]
    assert model_steps == ["model-7", "model-5"]
    assert [s.test_id for s in nxt.plan if s.section == "model"] == ["model-7"]


def test_re_confirming_a_carried_test_is_the_cheapest_step():
    statuses = {t: "manual" for t in ml_test_score.TEST_IDS if not t.startswith("infra")}
    nxt = ml_test_score.cheapest_next_points(
        statuses, carried={"infra-3": "automated", "data-1": "automated"}
    )
    assert nxt.limiting == ("infra",)
    first = nxt.steps[0]
    assert (first.test_id, first.effort, first.to_status, first.final_after) == (
        "infra-3",
        "reconfirm_carried",
        "automated",
        1.0,
    )
    assert nxt.plan == (first,) and nxt.final_after_plan == 1.0


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_hostile_review_text_stays_text_in_markdown_and_html_exports(store, name):
    """Review name, model version, evidence, links and confirmer: each payload is text in every export."""
    payload = PAYLOADS[name]
    rid = ml_test_score.start_review(store, payload, payload)
    confirm = functools.partial(
        ml_test_score.confirm_test,
        store,
        rid,
        "data-1",
        status="manual",
        author=payload,
        evidence_text=payload,
    )
    try:
        confirm(links=[payload, "https://ok.example/a"])
    except RubricError as exc:  # a link that is neither a URL nor a path is refused, with a message
        assert "must be URLs" in str(exc)
        confirm(links=["https://ok.example/a"])
    data = _export(store, rid)
    md_html = markdown_to_html(ml_test_score.review_to_markdown(data))
    assert not markup_in(md_html), md_html[:400]
    assert md_html.count("<h1>") == 1 and '<a href="https://ok.example/a">' in md_html
    page = ml_test_score.review_to_html(data)
    assert markup_in(page) == ["<meta>", "<style>"]  # the report's own charset and style, nothing injected
    assert page.count("<a href=") == 1  # the http link only; a javascript: link is text
    exported = json.loads(ml_test_score.review_to_json(ml_test_score.load_review(store, rid)))
    # JSON keeps the text (whitespace folded as stored; a NUL byte, which PostgreSQL cannot hold, as U+FFFD)
    kept = payload.replace("\x00", "\ufffd")
    assert exported["review"]["name"] in (kept, " ".join(kept.split()))
