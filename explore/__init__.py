"""ml-explore: open your own model and datasets and test them the way careful ML teams do.

The computing core; it never imports streamlit. The short public API (the same one notebooks use)::

    import explore

    ws = explore.open("path/to/workspace.toml")       # validated, with clear messages
    scored = explore.score(ws, "validation")           # predictions, scores, losses per row
    report = explore.slice_report(scored, explore.SliceDefinition.parse("region == 'North'"))
    found = explore.weak_slices(scored)                 # FDR-controlled discovery

Each area is a package with its own ``__all__``: ``explore.core`` (workspaces, loading, store, sample),
``explore.stats`` (metrics with intervals), ``explore.slices``, ``explore.importance``, ``explore.staleness``,
``explore.labels``, ``explore.checks``, ``explore.rubric``, ``explore.report`` and ``explore.cli``.
Names are imported on first use, so ``import explore`` is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from explore._lazy import lazy_exports

if TYPE_CHECKING:
    from explore.core.workspace import Workspace

__version__ = "0.1.0"

_getattr, __dir__, _public = lazy_exports(
    __name__,
    {
        "errors": ["ExploreError"],
        "core.workspace": [
            "Workspace",
            "WorkspaceConfig",
            "Scored",
            "read_workspace",
            "open_workspace",
            "score",
        ],
        "core.store": ["Store"],
        "core.sample": ["build_workspace"],
        "slices.definition": ["Condition", "SliceDefinition"],
        "slices.report": ["slice_report", "weak_slices", "fairness_gaps"],
        "importance.explain": ["explain"],
        "staleness.windows": ["time_windows"],
        "staleness.experiment": ["performance_over_time", "staleness_experiment", "StalenessParams"],
        "staleness.drift": ["drift_by_window"],
        "staleness.estimation": ["estimate_workspace"],
        "labels.crowd": ["agreement", "consensus", "labeler_trust", "rank_queue"],
        "checks.registry": ["run_checks"],
    },
    submodules=[
        "core",
        "stats",
        "slices",
        "importance",
        "staleness",
        "labels",
        "checks",
        "rubric",
        "report",
        "cli",
        "errors",
    ],
)
__all__ = ["open", *_public]


def __getattr__(name: str) -> Any:
    return _getattr(name)


def open(  # shadows the builtin on purpose: explore.open(path) reads as the one way in, like io.open
    path: str | Path,
    *,
    trusted_pickles: set[str] | frozenset[str] = frozenset(),
    accepted_types: dict[str, list[str]] | None = None,
) -> Workspace:
    """Read and open the workspace at ``path`` (a workspace.toml or its folder): models loaded, data validated.

    Raises an ``ExploreError`` subclass saying what is wrong and how to fix it.
    """
    from explore.core.workspace import open_workspace, read_workspace

    return open_workspace(
        read_workspace(path), trusted_pickles=trusted_pickles, accepted_types=accepted_types
    )
