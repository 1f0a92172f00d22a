"""One expectation suite validated on several datasets, kept and exported as one result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from explore.checks.expectations import ExpectationSuite, ValidationResult, validate
from explore.core.workspace import Workspace


@dataclass
class SuiteValidation:
    """The validation results of one suite, one per dataset, in the order validated."""

    results: list[ValidationResult]

    @property
    def passed(self) -> bool:
        """True when every dataset meets every expectation."""
        return all(r.passed for r in self.results)

    @property
    def datasets(self) -> list[str]:
        return [r.dataset for r in self.results]

    def result_for(self, dataset: str) -> ValidationResult:
        """The result of ``dataset`` (one of :attr:`datasets`)."""
        return next(r for r in self.results if r.dataset == dataset)

    def summary(self) -> str:
        """Every dataset's summary, one after the other."""
        return " ".join(r.summary() for r in self.results)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every dataset's expectation table, then the example rows of those that have some (for exports)."""
        tables = {f"{r.dataset}: expectations": r.table for r in self.results}
        tables.update({f"{r.dataset}: example rows": r.examples for r in self.results if len(r.examples)})
        return tables

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "expectations",
            "passed": self.passed,
            "datasets": {r.dataset: r.to_dict() for r in self.results},
        }


def validate_datasets(
    ws: Workspace,
    *,
    datasets: Sequence[str],
    suite: ExpectationSuite,
    progress: Callable[[float, str], None] | None = None,
) -> SuiteValidation:
    """Validate each of ``datasets`` against ``suite``; ``progress(fraction, message)`` before each one."""
    results = []
    for i, name in enumerate(datasets):
        if progress is not None:
            progress(i / len(datasets), f"Validating '{name}'…")
        results.append(validate(ws, dataset=name, suite=suite))
    return SuiteValidation(results)
