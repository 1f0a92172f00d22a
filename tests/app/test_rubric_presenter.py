"""AppTest of the Rubric page's presenter view: large type, read-only, the score per section and overall,
what changed since the start of the meeting / the previous review / a time, the next points to earn; and the
meeting minutes' download button."""

from __future__ import annotations

import datetime as dt

import pytest

from explore.core.store import Store
from explore.report.markdown import md_escape
from explore.rubric import ml_test_score as mts
from tests.app import test_rubric_page as rubric_page
from tests.conftest import assert_no_exception
from tests.hostile import PAYLOADS

PAGE = "views/rubric.py"


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch):
    """What the download buttons serve (the Rubric page tests' recorder)."""
    stores = []

    class Recording(rubric_page.MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(rubric_page.app_test_module, "MemoryMediaFileStorage", Recording)
    return stores


def _markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def _presenter(at):
    at.toggle(key="rubric_presenter").set_value(True).run()
    assert_no_exception(at)
    return at


def test_presenter_view_shows_scores_changes_and_next_points_read_only(make_app, db_url):
    with Store(db_url) as store:
        first = mts.start_review(store, "v2 review", "v2")
        mts.confirm_test(store, first, "data-1", status="manual", author="ada", evidence_text="by hand")
        rid = mts.start_review(store, "v3 review", "v3", carry_from=first)
        for sec in ("data", "model", "infra"):
            mts.confirm_test(store, rid, f"{sec}-1", status="automated", author="ada")
    at = _presenter(make_app(PAGE))

    text = _markdown(at)
    assert "## v3 review" in text and "# 0 / 7" in text  # monitoring has nothing: the minimum is 0
    assert "# 1" in text and "# :orange[0]" in text  # per section, the limiting one marked
    assert not at.radio and not [b for b in at.button if (b.key or "").endswith("_open")]  # read-only
    assert not at.get("download_button")  # the working page's exports are not on the meeting's screen
    # next points: the limiting section's cheapest step first
    assert any(m.startswith("#### 1. Monitor") for m in text)
    assert "### Doing the first 1 raises the score to 0.5" in text

    # what changed since the start of the meeting: a confirmation given meanwhile appears
    assert any("No test was confirmed or changed since then." in c.value for c in at.caption)
    with Store(db_url) as store:
        mts.confirm_test(store, rid, "monitor-1", status="manual", author="bob", evidence_text="dashboards")
    at.run()
    assert_no_exception(at)
    table = at.dataframe[0].value
    assert list(table["change"]) == ["confirmed manual (note added)"] and table["by"].tolist() == ["bob"]
    assert "### Score since " in "".join(_markdown(at)) and "0 → **0.5**" in "".join(_markdown(at))

    # since the previous review: v3 re-confirmed nothing of v2's data-1 and added the four above
    at.segmented_control(key="rubric_presenter_since").set_value("the previous review").run()
    assert_no_exception(at)
    assert any("Score since “v2 review”" in m for m in _markdown(at))
    assert len(at.dataframe[0].value) == 4

    # since a chosen time: yesterday, so everything of this review counts
    at.segmented_control(key="rubric_presenter_since").set_value("a date and time").run()
    at.date_input(key="rubric_presenter_day").set_value(dt.date.today() - dt.timedelta(days=1)).run()
    assert_no_exception(at)
    assert len(at.dataframe[0].value) == 4


def test_meeting_minutes_are_built_on_request_and_offered_until_the_review_changes(
    make_app, db_url, downloads
):
    with Store(db_url) as store:
        rid = mts.start_review(store, "v3 review", "v3")
        mts.confirm_test(
            store, rid, "data-1", status="automated", author="ada", evidence_text="nightly schema check"
        )
    at = make_app(PAGE)
    assert "Download meeting minutes (HTML)" not in {b.proto.label for b in at.get("download_button")}
    at.button(key="rubric_minutes_build").click().run()
    assert_no_exception(at)
    button = next(b for b in at.get("download_button") if b.proto.label == "Download meeting minutes (HTML)")
    doc = rubric_page._download(downloads, button).decode("utf-8")
    assert doc.startswith("<!doctype html>") and "v3 review" in doc and "nightly schema check" in doc
    assert "<section id='slices'>" in doc and "vegaEmbed" in doc
    at.run()  # a rerun (or the live poll) keeps the built file
    assert "Download meeting minutes (HTML)" in {b.proto.label for b in at.get("download_button")}
    with Store(db_url) as store:  # someone confirms: the minutes would be stale, so they are built again
        mts.confirm_test(store, rid, "data-2", status="manual", author="bob")
    at.run()
    assert "Download meeting minutes (HTML)" not in {b.proto.label for b in at.get("download_button")}
    assert at.button(key="rubric_minutes_build")


def test_presenter_view_shows_hostile_names_as_text(make_app, db_url):
    name = PAYLOADS["md_link"]
    with Store(db_url) as store:
        rid = mts.start_review(store, name, "v1")
    at = make_app(PAGE)
    _presenter(at)
    assert f"## {md_escape(name)}" in _markdown(at)
    with Store(db_url) as store:
        mts.confirm_test(
            store,
            rid,
            "data-1",
            status="manual",
            author=PAYLOADS["script"],
            evidence_text=PAYLOADS["img_onerror"],
        )
    at.run()
    table = at.dataframe[0].value
    assert table["by"].tolist() == [PAYLOADS["script"]] and table["note now"].tolist() == [
        PAYLOADS["img_onerror"]
    ]
