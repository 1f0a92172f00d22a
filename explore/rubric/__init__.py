"""The ML Test Score (2017): the 28 tests, scoring, reviews with confirmations on the store, proposals
from app-computed evidence and `explore check` runs, exports, and their charts."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ml_test_score": [
            "RubricTest",
            "RubricScore",
            "rubric_score",
            "ReviewState",
            "start_review",
            "load_review",
            "confirm_test",
            "proposals",
            "cheapest_next_points",
            "ScoreHistory",
            "score_history",
            "CheckRuns",
            "review_to_json",
            "review_to_markdown",
            "review_to_html",
            "import_review",
        ],
        "charts": [],
        "presenter": ["changes_since", "changes_since_review", "previous_review", "ranked_next_points"],
        "board": ["ReviewBoard", "review_board", "FormStart", "form_start", "workspace_reviews"],
    },
)
