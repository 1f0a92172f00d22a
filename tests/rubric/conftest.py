"""Shared by the rubric tests: a fresh store per test (on SQLite and on a live PostgreSQL server), and a known
author for what they write."""

from __future__ import annotations

import pytest

from explore.core.store import Store


@pytest.fixture(autouse=True)
def _user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORE_USER", "tester")


@pytest.fixture
def store(store_url):
    with Store(store_url) as opened:
        yield opened
