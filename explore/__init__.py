"""ml-explore: open your own model and datasets and test them the way careful ML teams do.

The computing core; it never imports streamlit. The short public API, for Python and notebooks::

    import explore

    ws = explore.open("path/to/workspace.toml")       # validated, with clear messages
    # or, without files: explore.Workspace.from_frames(model=pipe, datasets={"validation": df}, label="y")
    explore.slice_report(ws, where={"region": "North"})  # a Result: repr, _repr_html_, .chart(), .to_frame()
    explore.discover(ws)                                # weak slices, FDR-controlled
    explore.staleness_experiment(ws, cutoffs=["2023-07", "2023-11"], window="month")
    ws.save("folder")                                   # then `explore run folder`, or ws.serve()

Every analysis of the pages is one such call (see ``explore.notebook`` and docs/api.md).

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
        "core.frames": ["workspace_from_frames", "workspace_from_predictions"],
        "slices.definition": ["Condition", "SliceDefinition"],
        "report.display": ["Result"],
        # One call per analysis of the pages, on a workspace (explore/notebook.py).
        "notebook": [
            "scored",
            "slice_report",
            "group_by",
            "discover",
            "fairness",
            "what_if",
            "counterfactual",
            "ice",
            "partial_dependence",
            "explain",
            "explain_row",
            "explain_slice",
            "performance_over_time",
            "staleness_experiment",
            "drift",
            "label_annotations",
            "agreement",
            "consensus",
            "labeler_trust",
            "label_queue",
            "start_spot_check",
            "spot_check_items",
            "record_verdict",
            "spot_check_summary",
            "run_checks",
            "rubric_review",
            "start_review",
            "confirm",
        ],
        "staleness.estimation": ["estimate_workspace"],
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
        "notebook",
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
