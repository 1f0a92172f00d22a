"""The store keeps every acknowledged write: 20 writer processes x 200 verdicts and confirmations on one
store, nothing lost or duplicated; writers killed with SIGKILL mid-write, again and again, after which every
write they acknowledged is there and SQLite's ``PRAGMA integrity_check`` says ``ok``.

``store_url`` (tests/conftest.py) is SQLite in a temporary folder and a fresh database on the live PostgreSQL
server the test session starts (tests/postgres.py).
Writers are forked (not spawned) so that 20 of them start in well under a second: a spawned interpreter
pays its imports again, which made the older 20 x 200 test take ~10 minutes on a loaded machine.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import select, text

from explore.core.store import Store, rubric_entries, verdicts

N_WRITERS = 20
WRITES_PER_WRITER = 200  # half verdicts on a shared session, half rubric confirmations on the writer's review
KILL_ROUNDS = 8


@pytest.fixture(autouse=True)
def _author(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORE_USER", "tester")
    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)


def _session(url: str) -> int:
    with Store(url) as store:
        return store.create_session(
            workspace="w", dataset="d", name="spot check", reviewer="ann", mode="queue", params={}, items={}
        )


def _fork(target, *args) -> int:
    """Run ``target(*args)`` in a forked child that exits 0 when it returns, 1 when it raises."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            target(*args)
            code = 0
        finally:
            os._exit(code)
    return pid


def _write_both(url: str, session_id: int, worker: int, writes: int) -> None:
    with Store(url) as store:
        review_id = store.create_review(f"review {worker}", "m")
        for i in range(writes // 2):
            store.add_verdict(session_id, f"{worker}-{i}", "wrong", note=f"{worker}/{i}")
            store.add_rubric_entry(review_id, f"model-{i % 7}", "manual", evidence_text=f"{worker}/{i}")


def _wait(pids: list[int], timeout: float = 300) -> list[int]:
    deadline, codes = time.monotonic() + timeout, {}
    while len(codes) < len(pids) and time.monotonic() < deadline:
        for pid in pids:
            if pid not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    for pid in pids:  # only after a hang: leave no writer behind
        if pid not in codes:
            os.kill(pid, signal.SIGKILL)
            codes[pid] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return [codes[pid] for pid in pids]


def test_20_writer_processes_x_200_verdicts_and_confirmations_lose_and_duplicate_nothing(store_url):
    session_id = _session(store_url)
    pids = [_fork(_write_both, store_url, session_id, w, WRITES_PER_WRITER) for w in range(N_WRITERS)]
    assert _wait(pids) == [0] * N_WRITERS
    expected = Counter(f"{w}/{i}" for w in range(N_WRITERS) for i in range(WRITES_PER_WRITER // 2))
    with Store(store_url) as store:
        notes = store.read(lambda c: c.execute(select(verdicts.c.note)).scalars().all())
        confirmations = store.read(
            lambda c: c.execute(select(rubric_entries.c.evidence_text)).scalars().all()
        )
        assert Counter(notes) == expected  # every verdict once: nothing lost, nothing duplicated
        assert Counter(confirmations) == expected
        assert len(store.latest_verdicts(session_id)) == sum(expected.values())
        assert len(store.list_reviews()) == N_WRITERS


def _write_until_killed(url: str, session_id: int, worker: int, ack_path: str) -> None:
    """Write verdicts forever; after each write returns, append its item id to the acknowledgement log."""
    with Store(url) as store, open(ack_path, "a", buffering=1, encoding="utf-8") as acks:
        i = 0
        while True:
            item = f"{worker}-{i}"
            store.add_verdict(session_id, item, "correct", note=item)
            acks.write(item + "\n")  # line-buffered: written once the commit above returned
            i += 1


def test_writers_killed_mid_write_keep_every_acknowledged_write_and_the_file_intact(store_url, tmp_path):
    session_id = _session(store_url)
    rng = random.Random(0)
    acked: list[str] = []
    for round_ in range(KILL_ROUNDS):
        logs = [tmp_path / f"acks-{round_}-{w}.txt" for w in range(3)]
        pids = [
            _fork(_write_until_killed, store_url, session_id, f"r{round_}w{w}", str(log))
            for w, log in enumerate(logs)
        ]
        time.sleep(rng.uniform(0.3, 0.8))  # long enough to be mid-write, at a different point each round
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        assert [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids] == [-signal.SIGKILL] * 3
        for log in logs:
            acked += [line for line in log.read_text(encoding="utf-8").splitlines() if line]
    assert len(acked) > KILL_ROUNDS * 3  # the writers did get writes acknowledged before each kill
    with Store(store_url) as store:
        stored = Counter(store.read(lambda c: c.execute(select(verdicts.c.note)).scalars().all()))
        if store_url.startswith("sqlite"):
            assert store.read(lambda c: c.execute(text("PRAGMA integrity_check")).scalar()) == "ok"
        store.add_verdict(session_id, "after the kills", "correct")  # and the store still takes writes
    assert not [item for item in acked if item not in stored]  # every acknowledged write is there
    assert max(stored.values()) == 1  # and none twice (a killed write is all or nothing)
