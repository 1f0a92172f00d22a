"""The Rubric page's cached charts (``ui.cache``), keyed by what they show.

Building an Altair chart and validating its Vega-Lite spec took ~0.1–0.2 s per chart, on every rerun of a page
whose interactions should take a fraction of that; the specs only change when the statuses, the reviews' scores
or the check runs do. The page draws the cached spec with ``st.vega_lite_chart``. Specs are not validated
against the Vega-Lite schema here (that is most of the cost): tests/rubric validates every chart builder.
"""

from __future__ import annotations

from typing import Any

from explore.rubric import charts
from explore.rubric.ml_test_score import CheckRuns, ScoreHistory, rubric_score
from ui.cache import cache_small


@cache_small(max_entries=64)
def score_chart_specs(statuses: tuple[tuple[str, str], ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The section bars and the status grid of one assignment of statuses (sorted (test id, status) pairs)."""
    result = rubric_score(dict(statuses))
    return charts.section_bars(result).to_dict(validate=False), charts.status_grid(result).to_dict(
        validate=False
    )


@cache_small(max_entries=16)
def history_spec(history: ScoreHistory, highlight: str | None) -> dict[str, Any]:
    return charts.history_chart(history, highlight=highlight).to_dict(validate=False)


@cache_small(max_entries=16)
def check_runs_spec(runs: CheckRuns) -> dict[str, Any]:
    return charts.check_runs_chart(runs).to_dict(validate=False)
