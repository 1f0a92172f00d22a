"""What the Importance page reads off a result: features a slice comparison flags as outside the training
envelope, features whose shuffling improves the score, and the JSON-able evidence of one row's explanation."""

from __future__ import annotations

from typing import Any

from explore.importance.explain import PermutationCheck, ShapExplanation, SliceComparison, WaterfallSteps


def outside_training(cmp: SliceComparison) -> list[str]:
    """Features the model leans on in the slice whose values fall outside the reference data
    (the ``flag`` column of ``cmp.ranges``), in the table's order."""
    if "flag" not in cmp.ranges:
        return []
    return cmp.ranges[cmp.ranges["flag"]]["feature"].tolist()


def improved_by_shuffling(check: PermutationCheck) -> list[str]:
    """Features whose shuffling *improves* the score by more than one standard deviation of the shuffles:
    the model's use of them does not hold on these rows."""
    table = check.table
    return table[table["perm_mean"] < -table["perm_std"]]["feature"].tolist()


def local_evidence(local: ShapExplanation, steps: WaterfallSteps, *, top: int = 15) -> dict[str, Any]:
    """One row's explanation (``local``) and its waterfall ``steps`` as a JSON-able evidence result."""
    return {
        **local.to_dict(top=top),
        "steps": [
            {"label": r.label, "contribution": float(r.contribution), "end": float(r.end)}
            for r in steps.table.itertuples()
        ],
    }
