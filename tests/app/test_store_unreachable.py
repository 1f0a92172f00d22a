"""A PostgreSQL store that goes away mid-meeting, on the Rubric page: the page says the store is unreachable,
a confirmation made meanwhile is refused with a message (never a traceback, never silently dropped or half
written), and once the server is back the page works again and the confirmation can be made."""

from __future__ import annotations

import pytest

from explore.core import store as store_module
from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.conftest import APP, _clear_caches, assert_no_exception

PAGE = "views/rubric.py"


@pytest.fixture
def own_server():
    from tests.postgres import start_or_skip

    server = start_or_skip()  # its own server: the test stops it
    yield server
    server.stop()


def _shown(at) -> list[str]:
    return [m.value.replace("\\", "") for m in [*at.error, *at.warning]]  # without md_text's escapes


def test_postgres_going_away_mid_meeting_is_said_and_nothing_is_dropped(
    own_server, tiny_workspace, monkeypatch
):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(store_module, "UNAVAILABLE_RETRY_SECONDS", 0.5)
    url = own_server.url()
    monkeypatch.setenv("EXPLORE_DB_URL", url)
    monkeypatch.setenv("EXPLORE_WORKSPACE", str(tiny_workspace))
    with Store(url) as store:
        rid = ml_test_score.start_review(store, "meeting", "v1")
    _clear_caches()
    try:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        at.switch_page(PAGE).run()
        at.text_input(key="rubric_confirmer").set_value("bob").run()
        at.button(key=f"rubric_{rid}_data-1_open").click().run()
        assert_no_exception(at)
        assert not _shown(at)

        own_server.halt()  # the database server goes away while bob's editor is open
        at.radio(key=f"rubric_{rid}_data-1_status").set_value("manual")
        at.button(key=f"FormSubmitter:rubric_{rid}_data-1_form-Confirm").click().run()
        assert_no_exception(at)
        shown = _shown(at)
        assert any(m.startswith("The store database") and "cannot be opened" in m for m in shown), shown
        assert any("EXPLORE_DB_URL" in m for m in shown), shown

        own_server.start()
        with Store(url) as store:  # refused, not half written
            assert "data-1" not in ml_test_score.load_review(store, rid).entries
        # Back: the first run still shows, beside the form, why the save made meanwhile failed; then nothing.
        at.run()
        assert_no_exception(at)
        at.run()
        assert not [m for m in _shown(at) if "cannot be opened" in m or "unreachable" in m]
        _open = [r for r in at.radio if r.key == f"rubric_{rid}_data-1_status"]
        if not _open:
            at.button(key=f"rubric_{rid}_data-1_open").click().run()
        at.radio(key=f"rubric_{rid}_data-1_status").set_value("manual")
        at.button(key=f"FormSubmitter:rubric_{rid}_data-1_form-Confirm").click().run()
        assert_no_exception(at)
        with Store(url) as store:
            entry = ml_test_score.load_review(store, rid).entries["data-1"]
        assert (entry.status, entry.author) == ("manual", "bob")
    finally:
        from ui import loaders

        loaders.store().dispose()  # the page's shared Store: its pooled connections, before the server stops
        _clear_caches()


def test_the_live_poll_says_the_store_is_unreachable(monkeypatch):
    """ui.live: while the marker cannot be read, the poll says so (with the reason) instead of rerunning."""
    from streamlit.testing.v1 import AppTest

    def page() -> None:
        from explore.errors import StoreError
        from ui import live

        def marker():
            raise StoreError(
                "The store database 'postgresql://db/explore' cannot be opened: connection refused."
            )

        live.follow(marker, key="seen")

    at = AppTest.from_function(page, default_timeout=30)
    at.run()
    assert_no_exception(at)
    shown = _shown(at)
    assert any(
        m.startswith("The store is unreachable") and "connection refused" in m and "nothing is dropped" in m
        for m in shown
    ), shown
