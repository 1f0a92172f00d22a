"""Shared fixtures: a tiny generated workspace (fast page tests) and an AppTest factory."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """workspace.toml of the tiny sample workspace (built once per test session; do not modify its files)."""
    from explore.core.sample import build_workspace

    return build_workspace(tmp_path_factory.mktemp("tiny"), size="tiny")


@pytest.fixture
def tiny_copy(tiny_workspace: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny workspace that a test may modify (without the predictions other tests of this
    worker cached beside the shared one: a copy starts as a new user's folder would)."""
    import shutil

    dest = tmp_path / "ws"
    shutil.copytree(tiny_workspace.parent, dest, ignore=shutil.ignore_patterns(".explore-cache"))
    return dest / "workspace.toml"


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite store for this test, exported as EXPLORE_DB_URL."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("EXPLORE_DB_URL", url)
    return url


def _clear_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def make_app(tiny_workspace: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """``make_app(page="views/slices.py", workspace=None)`` → an AppTest already run on that page.

    Streamlit caches are cleared before and after, the store is a fresh SQLite file, and the
    workspace defaults to the tiny one.
    """
    from streamlit.testing.v1 import AppTest

    def factory(page: str | None = None, workspace: Path | None = None, timeout: float = 120):
        monkeypatch.setenv("EXPLORE_WORKSPACE", str(workspace or tiny_workspace))
        _clear_caches()
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at

    yield factory
    _clear_caches()


_MD_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def unescaped(body: str) -> str:
    """A Markdown body as the reader sees it: backslash escapes removed, Markdown line breaks as newlines.
    Messages (``ui.boundary.say``, errors, flashes) are escaped so user text in them stays text; tests compare
    what was written."""
    return _MD_ESCAPED.sub(r"\1", body).replace("  \n", "\n")


def texts(elements) -> list[str]:
    """The text of AppTest message elements (``at.error``, ``at.warning``…) as the reader sees it."""
    return [unescaped(e.value) for e in elements]


def assert_no_exception(at) -> None:
    """Fail with the exception text if the app shows a Streamlit exception box."""
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="session")
def full_sample() -> Path:
    """workspace.toml of the full sample in the checkout's sample_data/ (built once, even with several workers)."""
    import fcntl

    from explore.core.sample import SAMPLE_DIR, ensure_sample

    SAMPLE_DIR.mkdir(parents=True, exist_ok=True)
    with (SAMPLE_DIR / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other pytest worker waits instead of building it twice
        return ensure_sample(SAMPLE_DIR)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for this test session (tests/postgres.py); skipped when not installed."""
    from tests.postgres import start_or_skip

    server = start_or_skip()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty store database, once on SQLite and once on a live PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'explore.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = server.new_database()
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture
def draws(monkeypatch):
    """The engine sample's draws from the files (``explore.engine.sample.draw_sample``'s calls), recorded."""
    from explore.engine import sample as engine_sample

    calls = []
    real = engine_sample.draw_sample

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_sample, "draw_sample", counted)
    return calls


class _Opened(list):
    """The dataset names ``Workspace.log`` was called with; ``real(ws, name)`` opens a log without recording it."""

    real: Any = None


@pytest.fixture
def logs_opened(monkeypatch) -> _Opened:
    """Every opening of an engine log (``Workspace.log``'s calls: each is a pass over the label and score),
    recorded by dataset name — what the pages' one shared open log (ui.engine_cached._log) must keep to one."""
    from explore.core.workspace import Workspace

    opened = _Opened()
    opened.real = Workspace.log

    def counted(self, name):
        opened.append(name)
        return opened.real(self, name)

    monkeypatch.setattr(Workspace, "log", counted)
    return opened
