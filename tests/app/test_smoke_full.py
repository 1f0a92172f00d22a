"""Render-smoke tests on the full sample workspace (the rest of the page tests use the tiny one).

Names every page: views/workspace.py, views/slices.py, views/importance.py, views/staleness.py,
views/labels.py, views/checks.py, views/rubric.py.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_exception, texts

PAGES = [
    "views/workspace.py",
    "views/slices.py",
    "views/importance.py",
    "views/staleness.py",
    "views/labels.py",
    "views/checks.py",
    "views/rubric.py",
]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_the_full_sample(make_app, full_sample, page):
    at = make_app(page if page != "views/workspace.py" else None, workspace=full_sample, timeout=300)
    assert_no_exception(at)
    assert not at.error, texts(at.error)
