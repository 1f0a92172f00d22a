"""Rubric page and `explore check` speed (run by hand: python benchmarks/bench_rubric.py [--skip-check]).

1. The store side of the Rubric page on a team's long history: 60 reviews × 28 tests × 10 changes each
   (16,800 rubric entries), 2,000 evidence snapshots and 500 check runs — the queries and computations
   one rerun of the page makes (load the review with its carry-over, audit trail, history across reviews,
   proposals, cheapest next points, the three exports).
2. `explore check --cheap` on the 1M-row benchmark workspace (500k train, 124k validation, 376k
   production rows): seconds per check.

3. The Rubric page itself (AppTest, so server time only: the script run and what it sends): seconds per
   interaction — open a test's editor, close it, confirm a test (a new score: its charts are built), confirm
   back to a score seen before (charts from the cache), a rerun with nothing changed. Target ≤ 0.3 s.

The issue names no peer tool for the rubric (teams use a spreadsheet), so figures are absolute.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import bench_workspace, timed

from explore.checks import registry
from explore.core.store import Store, check_runs, rubric_entries, rubric_reviews, snapshots
from explore.rubric import ml_test_score


def _fill(
    store: Store, n_reviews: int = 60, changes: int = 10, n_snapshots: int = 2000, n_runs: int = 500
) -> int:
    rng = random.Random(0)
    now = dt.datetime.now(dt.UTC)

    def write(conn):
        parent = None
        for r in range(n_reviews):
            created = now - dt.timedelta(days=7 * (n_reviews - r))
            rid = conn.execute(
                rubric_reviews.insert().values(
                    name=f"review {r}",
                    model_version=f"v{r}",
                    scale="2017",
                    parent_id=parent,
                    author="bench",
                    created_at=created,
                )
            ).inserted_primary_key[0]
            rows = []
            for k in range(changes):
                for t in ml_test_score.TEST_IDS:
                    rows.append(
                        dict(
                            review_id=rid,
                            test_id=t,
                            status=rng.choice(ml_test_score.STATUSES),
                            evidence_text=f"change {k}",
                            links=[],
                            snapshot_ids=[],
                            author=f"user{k % 4}",
                            created_at=created + dt.timedelta(minutes=k),
                        )
                    )
            conn.execute(rubric_entries.insert(), rows)
            parent = rid
        conn.execute(
            snapshots.insert(),
            [
                dict(
                    workspace="/w/workspace.toml",
                    kind="slice_report",
                    tests=[rng.choice(ml_test_score.TEST_IDS)],
                    title=f"snap {i}",
                    params={},
                    result={"i": i},
                    model_fingerprint="m",
                    data_fingerprint="d",
                    source="app",
                    author="bench",
                    created_at=now - dt.timedelta(hours=i),
                )
                for i in range(n_snapshots)
            ],
        )
        checks = [{"name": n, "tests": list(c.tests), "status": "passed"} for n, c in registry.CHECKS.items()]
        conn.execute(
            check_runs.insert(),
            [
                dict(
                    workspace="/w/workspace.toml",
                    started_at=now - dt.timedelta(hours=i, minutes=5),
                    finished_at=now - dt.timedelta(hours=i),
                    exit_code=0,
                    author="ci",
                    report={"run_id": str(i), "checks": checks, "workspace": {"name": "w"}},
                    created_at=now,
                )
                for i in range(n_runs)
            ],
        )
        return parent

    return store.write(write)


def bench_store() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{Path(tmp) / 'bench.db'}") as store:
        t = time.perf_counter()
        last = _fill(store)
        print(
            f"filled the store in {time.perf_counter() - t:.1f} s (16,800 entries, 2,000 snapshots, 500 runs)"
        )
        results: dict[str, float] = {}
        with timed("load_review (with carry-over chain of 60 reviews)", results):
            state = ml_test_score.load_review(store, last)
        with timed("audit_trail (280 changes, score after each)", results):
            trail = ml_test_score.audit_trail(store, last)
        with timed("score_history (60 reviews)", results):
            ml_test_score.score_history(store)
        with timed("list snapshots + check runs", results):
            snaps = store.list_snapshots(workspace="/w/workspace.toml")
            runs = ml_test_score.runs_for(
                store.list_check_runs(), workspace_path="/w/workspace.toml", workspace_name="w", review=None
            )
        with timed("proposals (2,000 snapshots, 500 runs)", results):
            props = ml_test_score.proposals(state.statuses(), snaps, runs)
        with timed("cheapest_next_points", results):
            nxt = ml_test_score.cheapest_next_points(
                state.statuses(), proposals_by_test=props, automatable=registry.tests_covered()
            )
        with timed("exports: dict + Markdown + HTML + JSON", results):
            data = ml_test_score.review_to_dict(state, history=trail)
            ml_test_score.review_to_markdown(data, next_points=nxt)
            ml_test_score.review_to_html(data, next_points=nxt)
            ml_test_score.review_to_json(state, history=trail)
        print(f"{'total per page rerun (store side)':<55s} {sum(results.values()):8.3f} s")


ROOT = Path(__file__).resolve().parent.parent


def bench_page(repeats: int = 5) -> None:
    from streamlit.testing.v1 import AppTest

    from explore.core.sample import build_workspace

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["EXPLORE_DB_URL"] = f"sqlite:///{Path(tmp) / 'page.db'}"
        os.environ["EXPLORE_WORKSPACE"] = str(build_workspace(Path(tmp) / "ws", size="tiny"))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.run()
        at.switch_page("views/rubric.py").run()
        at.text_input(key="rubric_confirmer").set_value("bench")
        at.text_input(key="rubric_new_name").set_value("bench review")
        at.button(key="FormSubmitter:rubric_new_review-Start review").click().run()
        rid = at.session_state["rubric_review_id"]
        seconds: dict[str, list[float]] = {}

        def step(what: str, act) -> None:
            act()
            t = time.perf_counter()
            at.run()
            seconds.setdefault(what, []).append(time.perf_counter() - t)
            assert not at.exception, [e.value for e in at.exception]

        for i in range(repeats):
            test = ml_test_score.TEST_IDS[i]
            key = f"rubric_{rid}_{test}"
            step("open a test's editor", lambda key=key: at.button(key=f"{key}_open").click())
            step(
                "confirm it (a new score: charts built)",
                lambda key=key: (
                    at.radio(key=f"{key}_status").set_value("automated"),
                    at.button(key=f"FormSubmitter:{key}_form-Confirm").click(),
                ),
            )
            step(
                "confirm it back (a score seen before: cached charts)",
                lambda key=key: (
                    at.radio(key=f"{key}_status").set_value("not_done"),
                    at.button(key=f"FormSubmitter:{key}_form-Confirm").click(),
                ),
            )
            step("close the editor", lambda key=key: at.button(key=f"{key}_open").click())
            step("rerun with nothing changed", lambda: None)
    print()
    print(f"Rubric page, server time per interaction (AppTest, tiny workspace; median of {repeats}):")
    for what, values in seconds.items():
        print(f"  {what:<55s} {statistics.median(values):6.3f} s  (max {max(values):.3f})")


def bench_check() -> None:
    toml = bench_workspace()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        code = registry.main([str(toml), "--cheap", "--fairness", "region", "--out", tmp])
        total = time.perf_counter() - t
        report = json.loads((Path(tmp) / registry.REPORT_JSON).read_text())
    print()
    print(
        f"explore check --cheap on 1M rows: exit code {code}, {total:.1f} s in all (opening the workspace included)"
    )
    for c in report["checks"]:
        print(f"  {c['name']:<22s} {c['status']:<8s} {c['seconds']:8.2f} s")


if __name__ == "__main__":
    bench_store()
    bench_page()
    if "--skip-check" not in sys.argv:
        bench_check()
