"""The Workspace page's cached computations (keyed by the open workspace)."""

from __future__ import annotations

from explore.checks.overlap import train_eval_overlap
from explore.core.workspace import Workspace
from ui.cache import cache_small


@cache_small(max_entries=8)
def overlap_warnings(ws: Workspace) -> list[str]:
    """Evaluation datasets holding exact duplicates of training rows, one sentence each (none: []). Datasets that
    stay in the engine are left to `explore check` (a pass over every row would hold up the page's first start)."""
    result = train_eval_overlap(ws, in_engine=False)
    return [] if result is None else result.warnings()
