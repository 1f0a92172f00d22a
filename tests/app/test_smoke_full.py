"""Render-smoke tests on the full sample workspace (the rest of the page tests use the tiny one).

Names every page: pages/workspace.py, pages/slices.py, pages/importance.py, pages/staleness.py,
pages/labels.py, pages/checks.py, pages/rubric.py.
"""

from __future__ import annotations

import pytest

from tests.conftest import assert_no_exception

PAGES = ["pages/workspace.py", "pages/slices.py", "pages/importance.py", "pages/staleness.py", "pages/labels.py", "pages/checks.py", "pages/rubric.py"]


@pytest.fixture(scope="module")
def full_sample():
    from explore.sample import SAMPLE_DIR, ensure_sample

    return ensure_sample(SAMPLE_DIR)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_the_full_sample(make_app, full_sample, page):
    at = make_app(page if page != "pages/workspace.py" else None, workspace=full_sample, timeout=300)
    assert_no_exception(at)
    assert not at.error, [e.value for e in at.error]
