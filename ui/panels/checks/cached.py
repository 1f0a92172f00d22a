"""The Checks page's cached look-ups, keyed by the workspace itself (ui.cache hashes it by its files)."""

from __future__ import annotations

from explore.checks import choices
from explore.checks.compatibility import CompatResult, compatibility
from explore.core.workspace import Workspace
from ui.cache import cache_small


@cache_small(max_entries=8)
def slice_column_options(ws: Workspace) -> list[str]:
    """Columns a check can slice by (the first dataset's, without label, id, prediction and scores)."""
    return choices.slice_column_options(ws)


@cache_small(max_entries=8)
def suggested_slice_columns(ws: Workspace) -> list[str]:
    """Slice columns proposed when none are configured (scans up to 10,000 rows, so once per workspace)."""
    return choices.suggested_slice_columns(ws)


@cache_small(max_entries=16)
def model_compatibility(ws: Workspace, model_name: str) -> CompatResult:
    """Whether model ``model_name`` can run in this environment (its types import, its versions match)."""
    return compatibility(ws, model=model_name)
