"""The acting user's name is typed once and used on every page that records decisions
(views/labels.py verdicts, views/rubric.py confirmations, evidence snapshots)."""

from __future__ import annotations

from tests.conftest import assert_no_exception


def test_name_typed_on_labels_is_the_confirmer_on_rubric(make_app):
    at = make_app("views/labels.py")
    at.segmented_control(key="labels_view").set_value("Queue").run()
    at.text_input(key="labels_reviewer_queue").input("Ana Lima").run()
    assert_no_exception(at)
    at.switch_page("views/rubric.py").run()
    assert_no_exception(at)
    assert at.text_input(key="rubric_confirmer").value == "Ana Lima"
    assert at.session_state["user_name"] == "Ana Lima"
