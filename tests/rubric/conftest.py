"""Shared by the rubric tests: a fresh store per test, and a known author for what they write."""

from __future__ import annotations

import pytest

from explore.core.store import Store


@pytest.fixture(autouse=True)
def _user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPLORE_USER", "tester")


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'rubric.db'}") as opened:
        yield opened
