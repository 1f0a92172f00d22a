"""explore.core.store: schema and migrations, every API round trip, latest-per-key semantics, concurrent
writers (threads and processes on one database) and the errors users see — on SQLite and on a live
PostgreSQL server (``db_url`` runs each test on both; ``sqlite_url`` tests are about SQLite itself)."""

from __future__ import annotations

import datetime as dt
import getpass
import multiprocessing
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, inspect, select
from sqlalchemy import exc as sa_exc

import explore.core.store as store_module
from explore.core.store import (
    SCHEMA_VERSION,
    STORE_BAD_CHOICE,
    STORE_FOLDER_FAILED,
    STORE_LOCKED,
    STORE_NOT_FOUND,
    STORE_REVIEW_NAME_TAKEN,
    STORE_SCHEMA_NEWER,
    STORE_UNAVAILABLE,
    Store,
    default_db_url,
    meta,
    metadata,
    rubric_entries,
    verdicts,
)
from explore.errors import StoreError

# Threads are cheap: the thread test stays large. Each process pays an interpreter start and imports, and on a
# loaded 2-core CI machine 20 processes x 200 writes took ~10 minutes, so the process test is sized to finish
# in seconds; benchmarks/bench_store.py runs the full-size version and prints the figures.
N_THREADS = 20
WRITES_PER_THREAD = 200
N_PROCESSES = 5
WRITES_PER_PROCESS = 40


@pytest.fixture(autouse=True)
def _author(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORE_USER", "tester")
    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)


@pytest.fixture
def db_url(store_url) -> str:
    return store_url


@pytest.fixture
def store(db_url):
    with Store(db_url) as opened:
        yield opened


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'explore.db'}"


@pytest.fixture
def sqlite_store(sqlite_url):
    with Store(sqlite_url) as opened:
        yield opened


def _session(store: Store) -> int:
    return store.create_session(
        workspace="w",
        dataset="validation",
        name="spot check",
        reviewer="ann",
        mode="queue",
        params={"n": 3},
        items={"ids": ["a", "b", "c"], "strata": {"a": "high-loss"}},
    )


def _schema_version(store: Store) -> str:
    return store.read(
        lambda c: c.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar_one()
    )


# ---- schema ---------------------------------------------------------------------------------------


def test_schema_created_and_version_recorded(store):
    tables = set(store.read(lambda c: inspect(c).get_table_names()))
    assert tables == set(metadata.tables)
    assert _schema_version(store) == str(SCHEMA_VERSION)


def test_every_table_has_author_and_created_at():
    for table in metadata.tables.values():
        if table is not meta:
            assert {"author", "created_at"} <= set(table.c.keys()), table.name


def test_reopening_is_idempotent(db_url):
    with Store(db_url) as first:
        first.save_slice("w", "young", {"conditions": []})
    with Store(db_url) as second, Store(db_url) as third:
        assert [row["name"] for row in third.list_slices("w")] == ["young"]
        assert second.read(lambda c: c.execute(select(func.count()).select_from(meta)).scalar()) == 1
        assert _schema_version(second) == str(SCHEMA_VERSION)


def test_newer_schema_version_is_refused(db_url):
    newer = SCHEMA_VERSION + 1
    with Store(db_url) as old:
        old.write(lambda c: c.execute(meta.update().values(value=str(newer))))
    with pytest.raises(StoreError) as caught:
        Store(db_url)
    assert str(caught.value) == STORE_SCHEMA_NEWER.format(
        url=old.display_url, found=newer, supported=SCHEMA_VERSION
    )


def test_pending_migrations_run_once_on_an_older_database(db_url, monkeypatch):
    with Store(db_url):
        pass
    applied = []
    nxt = SCHEMA_VERSION + 1

    def add_tags(conn):
        applied.append(nxt)
        Table("tags", MetaData(), Column("id", Integer, primary_key=True)).create(conn)

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", nxt)
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, add_tags])
    with Store(db_url) as migrated, Store(db_url):
        assert applied == [nxt]
        assert _schema_version(migrated) == str(nxt)
        assert "tags" in migrated.read(lambda c: inspect(c).get_table_names())


def test_a_new_database_is_built_at_the_current_version_without_replaying_migrations(db_url, monkeypatch):
    nxt = SCHEMA_VERSION + 1

    def must_not_run(conn):
        pytest.fail(f"a new database replayed migration {nxt}")

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", nxt)
    monkeypatch.setattr(store_module, "MIGRATIONS", [*store_module.MIGRATIONS, must_not_run])
    with Store(db_url) as fresh:
        assert _schema_version(fresh) == str(nxt)


def test_a_version_1_store_gains_the_review_workspace_and_keeps_its_reviews(tmp_path):
    """Schema 2: reviews record their workspace. A store written by version 1 keeps its reviews (workspace
    NULL) and records the workspace of new ones."""
    url = f"sqlite:///{tmp_path / 'v1.db'}"
    with Store(url) as store:  # rebuild the version-1 table and stamp, as an older release left them

        def to_v1(conn):
            conn.exec_driver_sql("ALTER TABLE rubric_reviews DROP COLUMN workspace")
            conn.execute(meta.update().values(value="1"))

        store.write(to_v1)
        store.write(
            lambda c: c.exec_driver_sql(
                "INSERT INTO rubric_reviews (name, model_version, scale, author, created_at) "
                "VALUES ('old', 'v1', '0-1', 'ada', '2024-01-01 00:00:00')"
            )
        )
    with Store(url) as store:
        assert _schema_version(store) == str(SCHEMA_VERSION)
        rid = store.create_review("new", "v2", workspace="/w/workspace.toml")
        assert [(r["name"], r["workspace"]) for r in store.list_reviews()] == [
            ("new", "/w/workspace.toml"),
            ("old", None),
        ]
        assert [r["id"] for r in store.list_reviews(workspace="/w/workspace.toml")] == [rid]


def test_sqlite_pragmas(sqlite_store):
    store = sqlite_store
    pragmas = ["journal_mode", "busy_timeout", "synchronous", "foreign_keys"]
    values = store.read(lambda c: [c.exec_driver_sql(f"PRAGMA {p}").scalar() for p in pragmas])
    assert values == ["wal", 30_000, 1, 1]  # synchronous 1 = NORMAL


def test_default_db_url(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_url() == f"sqlite:///{tmp_path / 'data' / 'ml-explore' / 'explore.db'}"
    assert (tmp_path / "data" / "ml-explore").is_dir()
    monkeypatch.setenv("EXPLORE_DB_URL", "postgresql://u@db/explore")
    assert default_db_url() == "postgresql://u@db/explore"


# ---- round trips ----------------------------------------------------------------------------------


def test_rows_carry_author_and_aware_utc_created_at(store, monkeypatch):
    before = dt.datetime.now(dt.UTC)
    store.save_slice("w", "young", {"age": "<30"})
    monkeypatch.setenv("EXPLORE_USER", "alice")
    store.save_slice("w", "old", {"age": ">60"})
    after = dt.datetime.now(dt.UTC)
    rows = {row["name"]: row for row in store.list_slices("w")}
    assert rows["young"]["author"] == "tester"
    assert rows["old"]["author"] == "alice"
    assert rows["old"]["created_at"].tzinfo is dt.UTC
    assert before <= rows["young"]["created_at"] <= rows["old"]["created_at"] <= after


def test_author_falls_back_to_unknown(store, monkeypatch):
    def no_login_name():
        raise OSError("no username")

    monkeypatch.delenv("EXPLORE_USER")
    monkeypatch.setattr(getpass, "getuser", no_login_name)
    review_id = store.create_review("nameless", "v1")
    assert store.get_review_by_name("nameless")["id"] == review_id
    assert store.get_review_by_name("nameless")["author"] == "unknown"


def test_saved_slices_latest_per_name(store):
    store.save_slice("w", "young", {"age": "<30"})
    store.save_slice("w", "young", {"age": "<25"})
    store.save_slice("w", "asia", {"region": "asia"})
    store.save_slice("other", "young", {"age": "<18"})
    rows = store.list_slices("w")
    assert [(row["name"], row["definition"]) for row in rows] == [
        ("asia", {"region": "asia"}),
        ("young", {"age": "<25"}),
    ]
    assert store.list_slices("nowhere") == []


def test_snapshots_round_trip_and_filters(store):
    first = store.add_snapshot(
        workspace="w",
        kind="slices",
        tests=["model-6"],
        title="Weak slices",
        params={"min_size": np.int64(30)},
        result={"auc": np.float64(0.75), "gap": float("nan")},
        model_fingerprint="m1",
        data_fingerprint="d1",
    )
    second = store.add_snapshot(
        workspace="w",
        kind="staleness",
        tests=["model-60", "infra-1"],
        title="Staleness",
        params={},
        result=[1, 2],
        model_fingerprint="m1",
        data_fingerprint="d2",
        source="check",
    )
    snapshot = store.get_snapshot(first)
    assert snapshot["params"] == {"min_size": 30}
    assert snapshot["result"] == {"auc": 0.75, "gap": None}
    assert (snapshot["tests"], snapshot["source"], snapshot["author"]) == (["model-6"], "app", "tester")
    assert [s["id"] for s in store.list_snapshots()] == [second, first]
    assert [s["id"] for s in store.list_snapshots(test="model-6")] == [first]
    assert [s["id"] for s in store.list_snapshots(workspace="w", kind="staleness")] == [second]
    assert store.list_snapshots(workspace="other") == []
    assert store.get_snapshot(999) is None
    with pytest.raises(StoreError, match="source must be one of app, check; received 'cli'"):
        store.add_snapshot(
            workspace="w",
            kind="k",
            tests=[],
            title="t",
            params={},
            result={},
            model_fingerprint="m",
            data_fingerprint="d",
            source="cli",
        )


def test_review_sessions_round_trip(store):
    session_id = _session(store)
    session = store.get_session(session_id)
    assert session["items"] == {"ids": ["a", "b", "c"], "strata": {"a": "high-loss"}}
    assert (session["status"], session["mode"], session["params"]) == ("open", "queue", {"n": 3})
    assert session["updated_at"] == session["created_at"]
    store.set_session_status(session_id, "paused")
    paused = store.get_session(session_id)
    assert paused["status"] == "paused"
    assert paused["updated_at"] > paused["created_at"]
    assert [s["id"] for s in store.list_sessions("w")] == [session_id]
    assert store.list_sessions("other") == []
    assert store.get_session(999) is None
    with pytest.raises(StoreError) as caught:
        store.set_session_status(999, "done")
    assert str(caught.value) == STORE_NOT_FOUND.format(what="review session", id=999, url=store.display_url)
    with pytest.raises(StoreError, match="status must be one of open, paused, done"):
        store.set_session_status(session_id, "closed")


def test_verdict_changed_twice_latest_wins_history_keeps_all(store):
    session_id = _session(store)
    store.add_verdict(session_id, "a", "correct")
    store.add_verdict(session_id, "b", "unsure")
    store.add_verdict(session_id, "a", "wrong", corrected_label="cat", note="looks like a cat")
    store.add_verdict(session_id, "a", "unsure", note="blurry")
    latest = {row["item_id"]: row for row in store.latest_verdicts(session_id)}
    assert set(latest) == {"a", "b"}
    assert (latest["a"]["verdict"], latest["a"]["note"], latest["a"]["corrected_label"]) == (
        "unsure",
        "blurry",
        None,
    )
    history = store.verdict_history(session_id, "a")
    assert [row["verdict"] for row in history] == ["correct", "wrong", "unsure"]
    assert history[1]["corrected_label"] == "cat"


def test_invalid_verdict_and_unknown_session_are_store_errors(store):
    session_id = _session(store)
    with pytest.raises(StoreError) as caught:
        store.add_verdict(session_id, "a", "right")
    assert str(caught.value) == STORE_BAD_CHOICE.format(
        what="verdict", allowed="correct, wrong, unsure", received="right"
    )
    with pytest.raises(StoreError, match="no review session with id 999"):
        store.add_verdict(999, "a", "wrong")


def test_rubric_reviews_and_entries(store):
    first = store.create_review("v1 review", "model-2024-01")
    second = store.create_review("v2 review", "model-2024-06", parent_id=first)
    assert store.get_review_by_name("v2 review")["parent_id"] == first
    assert store.get_review_by_name("v1 review")["scale"] == "2017"
    assert store.get_review_by_name("missing") is None
    assert [r["id"] for r in store.list_reviews()] == [second, first]
    with pytest.raises(StoreError) as caught:
        store.create_review("v1 review", "other")
    assert str(caught.value) == STORE_REVIEW_NAME_TAKEN.format(name="v1 review", id=first)
    with pytest.raises(StoreError, match="no rubric review with id 999"):
        store.create_review("orphan", "m", parent_id=999)

    store.add_rubric_entry(second, "model-6", "not_done")
    store.add_rubric_entry(second, "data-1", "manual", evidence_text="checked by hand", links=["https://x"])
    store.add_rubric_entry(second, "model-6", "manual", evidence_text="slices", snapshot_ids=[np.int64(4)])
    store.add_rubric_entry(second, "model-6", "automated", evidence_text="explore check")
    current = store.current_rubric_entries(second)
    assert set(current) == {"model-6", "data-1"}
    assert current["model-6"]["status"] == "automated"
    assert current["data-1"]["links"] == ["https://x"]
    assert store.current_rubric_entries(first) == {}

    history = store.rubric_history(second, "model-6")
    assert [(row["previous_status"], row["status"]) for row in history] == [
        (None, "not_done"),
        ("not_done", "manual"),
        ("manual", "automated"),
    ]
    assert history[1]["snapshot_ids"] == [4]
    assert len(store.rubric_history(second)) == 4
    with pytest.raises(StoreError, match="status must be one of not_done, manual, automated"):
        store.add_rubric_entry(second, "model-6", "done")


def test_check_runs(store):
    started = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    finished = started + dt.timedelta(seconds=90)
    run_id = store.add_check_run(
        workspace="w", started_at=started, finished_at=finished, exit_code=1, report={"failed": ["auc"]}
    )
    store.add_check_run(workspace="other", started_at=started, finished_at=finished, exit_code=0, report={})
    (run,) = store.list_check_runs("w")
    assert run["id"] == run_id
    assert run["started_at"] == started and run["started_at"].tzinfo is dt.UTC
    assert (run["exit_code"], run["report"]) == (1, {"failed": ["auc"]})
    assert len(store.list_check_runs()) == 2
    with pytest.raises(sa_exc.StatementError, match="timezone-aware"):
        store.add_check_run(
            workspace="w", started_at=dt.datetime(2024, 1, 1), finished_at=finished, exit_code=0, report={}
        )


def test_experiments_latest_per_key(store):
    store.save_experiment(workspace="w", kind="staleness", key="k1", params={"windows": 4}, result=[0.1])
    newer = store.save_experiment(
        workspace="w", kind="staleness", key="k1", params={"windows": 4}, result=[0.2]
    )
    other = store.save_experiment(
        workspace="w", kind="staleness", key="k2", params={}, result=None, status="failed"
    )
    found = store.find_experiment("w", "staleness", "k1")
    assert (found["id"], found["result"], found["status"]) == (newer, [0.2], "done")
    assert store.find_experiment("w", "staleness", "k3") is None
    assert [row["id"] for row in store.list_experiments("w", "staleness")] == [other, newer]
    assert store.list_experiments("w", "drift") == []


# ---- transactions ---------------------------------------------------------------------------------


def test_write_is_one_transaction(store):
    session_id = _session(store)

    def half_done(conn):
        row = dict(session_id=session_id, item_id="a", verdict="wrong", note="", author="x")
        conn.execute(verdicts.insert().values(**row, created_at=dt.datetime.now(dt.UTC)))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.write(half_done)
    assert store.latest_verdicts(session_id) == []


def test_sqlite_write_takes_the_write_lock_up_front(sqlite_store, tmp_path):
    store = sqlite_store
    other = sqlite3.connect(tmp_path / "explore.db", timeout=0, isolation_level=None)

    def try_to_write(_conn):
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            return str(exc)
        other.execute("ROLLBACK")
        return "got the lock"

    try:
        assert store.write(try_to_write) == "database is locked"  # BEGIN IMMEDIATE, before any statement
        assert store.read(try_to_write) == "got the lock"  # reads do not block writers
    finally:
        other.close()


def test_sqlite_writer_waits_for_a_lock_held_elsewhere(sqlite_store, tmp_path):
    store = sqlite_store
    holder = sqlite3.connect(tmp_path / "explore.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, holder.execute, ["COMMIT"])
    release.start()
    try:
        store.save_slice("w", "young", {})
    finally:
        release.join()
        holder.close()
    assert len(store.list_slices("w")) == 1


def test_postgres_writers_queue_for_the_write_lock(postgres_server):
    # Like BEGIN IMMEDIATE: while one write transaction is open, another waits, instead of both reading the
    # same state and both writing (which would defeat the rubric's check-then-write conflict tokens).
    name = postgres_server.new_database()
    try:
        with Store(postgres_server.url(name)) as store:
            inside, release, order = threading.Event(), threading.Event(), []

            def slow_writer(conn):
                inside.set()
                release.wait(5)
                order.append("first")

            first = threading.Thread(target=store.write, args=(slow_writer,))
            first.start()
            inside.wait(5)
            second = threading.Thread(target=store.write, args=(lambda conn: order.append("second"),))
            second.start()
            second.join(0.3)
            assert second.is_alive() and order == []  # the second writer waits for the first
            release.set()
            first.join(5)
            second.join(5)
            assert order == ["first", "second"]
            assert store.read(lambda conn: order.append("read") or "not blocked") == "not blocked"
    finally:
        postgres_server.drop_database(name)


def test_a_postgres_server_that_goes_away_is_reported_and_nothing_is_dropped(monkeypatch):
    from tests.postgres import start_or_skip

    monkeypatch.setattr(store_module, "UNAVAILABLE_RETRY_SECONDS", 0.5)
    server = start_or_skip()  # its own server: this test stops it
    try:
        with Store(server.url()) as store:
            review = store.create_review("meeting", "v1", author="ann")
            server.halt()
            with pytest.raises(StoreError) as caught:
                store.add_rubric_entry(review, "data-1", "manual", author="bob")
            assert str(caught.value).startswith(f"The store database '{store.display_url}' cannot be opened")
            assert "EXPLORE_DB_URL" in str(caught.value)
            # The server comes back within the retry budget: the write waits for it instead of failing.
            monkeypatch.setattr(store_module, "UNAVAILABLE_RETRY_SECONDS", 30.0)
            comes_back = threading.Timer(0.5, server.start)
            comes_back.start()
            store.add_rubric_entry(review, "data-1", "manual", author="bob")
            comes_back.join()
            entries = store.current_rubric_entries(review)
            assert [(e["test_id"], e["author"]) for e in entries.values()] == [("data-1", "bob")]
    finally:
        server.stop()


def _locked() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))


def test_write_retries_while_locked(store):
    attempts = []

    def flaky(_conn):
        attempts.append(1)
        if len(attempts) < 3:
            raise _locked()
        return "written"

    assert store.write(flaky) == "written"
    assert len(attempts) == 3


def test_write_gives_up_after_the_retry_budget(store, monkeypatch):
    monkeypatch.setattr(store_module, "LOCK_RETRY_SECONDS", 0.2)

    def always_locked(_conn):
        raise _locked()

    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        store.write(always_locked)
    assert time.monotonic() - started < 2
    assert str(caught.value) == STORE_LOCKED.format(
        url=store.display_url, seconds=0.2, reason="database is locked"
    )


# ---- concurrency ----------------------------------------------------------------------------------


def test_threads_lose_no_verdicts(store):
    session_id = _session(store)
    start = threading.Barrier(N_THREADS)

    def review(worker):
        start.wait()
        for i in range(WRITES_PER_THREAD):
            store.add_verdict(session_id, f"{worker}-{i}", "wrong")

    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        done = [pool.submit(review, worker) for worker in range(N_THREADS)]
    for future in done:
        future.result()  # a writer's exception is raised here
    assert len(store.latest_verdicts(session_id)) == N_THREADS * WRITES_PER_THREAD
    assert (
        store.read(lambda c: c.execute(select(func.count()).select_from(verdicts)).scalar())
        == N_THREADS * WRITES_PER_THREAD
    )


def write_rubric_entries(url: str, worker: int, writes: int, start) -> None:
    """Runs in a spawned process: open the (possibly new) store and add ``writes`` rubric entries."""
    start.wait()
    with Store(url) as store:
        review_id = store.create_review(f"review {worker}", "m")
        for i in range(writes):
            store.add_rubric_entry(review_id, f"model-{i % 7}", "manual", evidence_text=f"{worker}/{i}")


def run_writer_processes(
    url: str, n_processes: int, writes: int, *, timeout: float = 120
) -> list[int | None]:
    """Start ``n_processes`` spawned writers together on ``url``; return their exit codes."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(n_processes)
    workers = [
        spawn.Process(target=write_rubric_entries, args=(url, w, writes, start)) for w in range(n_processes)
    ]
    try:
        for process in workers:
            process.start()
        deadline = time.monotonic() + timeout
        for process in workers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
    finally:
        for process in workers:
            if process.is_alive():  # only after a hang: do not leave writers behind
                process.kill()
                process.join()
    return [process.exitcode for process in workers]


def test_processes_lose_no_rubric_entries(db_url):
    # The processes also race to create the schema: the database file does not exist yet.
    assert run_writer_processes(db_url, N_PROCESSES, WRITES_PER_PROCESS) == [0] * N_PROCESSES
    with Store(db_url) as store:
        entries = store.read(lambda c: c.execute(select(rubric_entries.c.evidence_text)).scalars().all())
        assert len(store.list_reviews()) == N_PROCESSES
    expected = {f"{w}/{i}" for w in range(N_PROCESSES) for i in range(WRITES_PER_PROCESS)}
    assert len(entries) == len(expected)  # nothing duplicated
    assert set(entries) == expected  # nothing lost


# ---- errors users see -----------------------------------------------------------------------------


def test_sqlite_path_inside_a_file_is_a_store_error(tmp_path):
    (tmp_path / "not-a-folder").write_text("x")
    url = f"sqlite:///{tmp_path / 'not-a-folder' / 'explore.db'}"
    with pytest.raises(StoreError) as caught:
        Store(url)
    assert str(caught.value) == STORE_UNAVAILABLE.format(url=url, reason="unable to open database file")
    assert "EXPLORE_DB_URL" in str(caught.value)


def test_data_home_that_is_a_file_is_a_store_error(tmp_path, monkeypatch):
    (tmp_path / "data").write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with pytest.raises(StoreError) as caught:
        Store()
    assert str(caught.value) == STORE_FOLDER_FAILED.format(
        path=tmp_path / "data" / "ml-explore", reason="Not a directory"
    )


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path):
    (tmp_path / "notes.db").write_text("these are not the droids " * 100)
    url = f"sqlite:///{tmp_path / 'notes.db'}"
    with pytest.raises(StoreError, match="cannot be opened or written: file is not a database"):
        Store(url)


def test_read_only_database_is_a_store_error_on_write(sqlite_url, tmp_path):
    with Store(sqlite_url):
        pass
    read_only = f"sqlite:///file:{tmp_path / 'explore.db'}?mode=ro&uri=true"
    with Store(read_only) as store:
        assert store.list_slices("w") == []
        with pytest.raises(StoreError, match="attempt to write a readonly database. Set EXPLORE_DB_URL"):
            store.save_slice("w", "young", {})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("not a url", "not a url"),
        ("nosuchdb://u:hunter2@host/db", "nosuchdb://u:***@host/db"),
        # No PostgreSQL driver installed, or nothing listening on port 1: a StoreError either way.
        ("postgresql://u:hunter2@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db"),
    ],
)
def test_bad_url_is_a_store_error_with_the_password_masked(url, shown, monkeypatch):
    monkeypatch.setattr(store_module, "UNAVAILABLE_RETRY_SECONDS", 0.0)
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    assert f"'{shown}'" in message
    assert "hunter2" not in message
    assert "EXPLORE_DB_URL" in message


def test_author_given_by_the_page_wins_over_the_environment(db_url, monkeypatch):
    monkeypatch.setenv("EXPLORE_USER", "server-account")
    store = Store(db_url)
    review = store.create_review("r", "v1", author="Alice")
    store.add_rubric_entry(review, "data-1", "manual", author="Bob")
    store.add_rubric_entry(review, "data-2", "manual")
    session = store.create_session(
        workspace="w", dataset="d", name="s", reviewer="Carol", mode="queue", params={}, items=[]
    )
    store.add_verdict(session, "7", "wrong", corrected_label="yes", author="Carol")
    assert store.get_review_by_name("r")["author"] == "Alice"
    entries = store.current_rubric_entries(review)
    assert entries["data-1"]["author"] == "Bob" and entries["data-2"]["author"] == "server-account"
    assert store.get_session(session)["author"] == "Carol"
    assert store.latest_verdicts(session)[0]["author"] == "Carol"
    store.dispose()


# ---- markers that pages poll ----------------------------------------------------------------------


def test_review_marker_changes_with_each_write_the_rubric_page_shows(store):
    review = store.create_review("r", "v1")
    other = store.create_review("other", "v1")
    seen = store.review_marker(review)
    assert store.review_marker(review) == seen  # reading changes nothing
    store.add_rubric_entry(review, "data-1", "manual")
    after_entry = store.review_marker(review)
    assert after_entry != seen
    store.add_rubric_entry(other, "data-1", "manual")  # another review's entry: not this page's
    assert store.review_marker(review) == after_entry
    store.add_check_run(
        workspace="w",
        started_at=dt.datetime.now(dt.UTC),
        finished_at=dt.datetime.now(dt.UTC),
        exit_code=0,
        report={},
    )
    assert store.review_marker(review) != after_entry


def test_session_marker_changes_with_verdicts_and_status(store):
    session_id = _session(store)
    seen = store.session_marker(session_id)
    store.add_verdict(session_id, "a", "wrong")
    after_verdict = store.session_marker(session_id)
    assert after_verdict != seen
    store.set_session_status(session_id, "paused")
    assert store.session_marker(session_id) != after_verdict


def test_nul_bytes_in_user_text_are_kept_as_a_visible_mark_on_every_backend(store_url):
    """Regression: PostgreSQL text cannot hold NUL, so a hostile review name or note crashed the store there."""
    from explore.rubric import ml_test_score

    with Store(store_url) as store:
        rid = ml_test_score.start_review(store, "nul\x00name", "v1")
        ml_test_score.confirm_test(
            store, rid, "data-1", status="manual", author="a\x00b", evidence_text="note\x00here"
        )
        assert store.get_review_by_name("nul\x00name")["id"] == rid  # looked up by what was typed
        state = ml_test_score.load_review(store, rid)
        entry = state.entries["data-1"]
        assert entry.author == "a\ufffdb" and entry.evidence_text == "note\ufffdhere"


def test_from_row_takes_the_columns_named_like_fields_and_the_values_given():
    from dataclasses import dataclass

    from explore.core.store import from_row

    @dataclass(frozen=True)
    class Kept:
        id: int
        name: str
        tags: tuple[str, ...]
        note: str = "none"

    row = {"id": "7", "name": "a", "tags": ["x", "y"], "extra": 1}
    kept = from_row(Kept, row, id=int(row["id"]), tags=tuple(row["tags"]))
    assert kept == Kept(7, "a", ("x", "y"))  # "extra" is no field; "note" keeps its default
    assert from_row(Kept, {**row, "note": "n"}, tags=()).note == "n"
    with pytest.raises(TypeError):
        from_row(Kept, {"name": "a"})  # a field without a column nor a default
