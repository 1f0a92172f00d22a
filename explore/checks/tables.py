"""The tables and headlines the Checks page shows beside the charts, built from the check results.

Nothing is computed here that the results do not hold already; the page and the exports show these tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explore.checks.compare import ComparisonResult
from explore.checks.model_spec import SpecResult
from explore.checks.reproducibility import ReproResult

COMPARISON_COLUMNS = [
    "slice",
    "metric",
    "role",
    "n",
    "candidate_value",
    "other_value",
    "change",
    "ci_low",
    "ci_high",
    "p_value",
    "threshold",
    "status",
    "test",
    "note",
]
BASELINE_HEADLINES = {
    True: "The model beats the linear baseline everywhere.",
    False: "A simple model is as good as the model somewhere.",
    None: "Inconclusive against the linear baseline.",
}
MAX_DIFFERING_ROWS = 200  # rows shown (and put in the Markdown report) of those where the predictions differ


def comparison_cells(res: ComparisonResult, *, dataset: str, statuses: Sequence[str]) -> pd.DataFrame:
    """The comparison cells of ``dataset`` whose status is one of ``statuses``, in ``COMPARISON_COLUMNS``."""
    cells = res.cells
    return cells[(cells["dataset"] == dataset) & cells["status"].isin(list(statuses))][COMPARISON_COLUMNS]


def differing_rows(res: ComparisonResult, *, dataset: str) -> pd.DataFrame:
    """The first ``MAX_DIFFERING_ROWS`` rows of ``dataset`` where the models' predictions differ."""
    return res.differing[res.differing["dataset"] == dataset].head(MAX_DIFFERING_ROWS)


def spec_headline(res: SpecResult) -> str:
    """One line: the estimator, and whether the spec checks pass, fail or do not apply (and why)."""
    if res.passed:
        outcome = "all checks pass or do not apply."
    else:
        outcome = "a check fails." if res.passed is False else res.reason
    return f"{res.estimator}: {outcome}"


def spec_checks_table(res: SpecResult) -> pd.DataFrame:
    """check, status, result: one row per model-spec check."""
    return pd.DataFrame([{"check": c.name, "status": c.status, "result": c.text} for c in res.checks])


def repro_pairs_table(res: ReproResult) -> pd.DataFrame:
    """One row per pair of refits: agreement, rows changed, largest differences and where the fits part."""
    return pd.DataFrame(
        [
            {
                "pair": p.name,
                "refits": f"{p.first} / {p.second}",
                "identical": p.identical,
                "agreement": p.agreement,
                "rows changed": p.n_changed,
                "largest difference": p.max_abs_diff,
                "largest slice difference": p.max_slice_diff,
                "where": p.max_slice,
                "first differing step": p.first_differing_step or "",
            }
            for p in res.pairs
        ]
    )


def random_parameters_table(res: ReproResult) -> pd.DataFrame:
    """parameter, value (as repr), unset: every parameter of the model that controls randomness."""
    return pd.DataFrame(
        [{"parameter": k, "value": repr(v), "unset": v is None} for k, v in res.random.items()]
    )
