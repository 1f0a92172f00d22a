"""One ``page_context()`` for every page: the open workspace, the chosen dataset and model, the scored rows.

Pages used to assemble these things each in their own way (and a cache key string beside them); now a page
asks once (the rows are scored when a section first needs them)::

    ctx = page_context()            # shows the error and stops the page when the workspace cannot open
    report = cached_report(ctx.scored, state.current_slice())
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from explore.core.workspace import Scored, Workspace
from ui.safe import md_text

from . import loaders
from .boundary import shown_errors


@dataclass(frozen=True)
class PageContext:
    """What a page explores. Shared objects: read-only."""

    ws: Workspace
    dataset: str
    model_name: str | None  # None: predictions-only mode (the prediction columns of the data)

    @property
    def scored(self) -> Scored:
        """The dataset's rows scored by the model, computed on first use and shared (``ui.loaders``), so a
        section that needs no rows (the Checks page's file editors, say) costs no scoring. A model that cannot
        score the data shows its error with the fix and stops the page there."""
        with shown_errors():
            return loaders.scored(self.dataset, self.model_name, ws=self.ws)

    @property
    def model(self) -> Any | None:
        """The fitted estimator of ``model_name`` (None in predictions-only mode), its file loaded the first time a
        page needs it (``Workspace.models``). A model file that cannot be loaded shows its error with the fix and
        stops the page there, as ``scored`` does."""
        if not self.model_name:
            return None
        with shown_errors():
            return self.ws.models.get(self.model_name)

    @property
    def out_of_core(self) -> bool:
        """The dataset stays in the engine: ``scored`` holds its sample, ``ui.engine_cached`` its aggregates."""
        return self.ws.is_out_of_core(self.dataset)

    @property
    def key(self) -> str:
        """Cache identity of what the page shows (workspace files, dataset, model), known without scoring."""
        return f"{self.ws.key}|{self.dataset}|{self.model_name}"

    def scored_for(self, dataset: str) -> Scored:
        """Another dataset of the same workspace, scored by the same model."""
        return (
            self.scored if dataset == self.dataset else loaders.scored(dataset, self.model_name, ws=self.ws)
        )


def page_context() -> PageContext:
    """The workspace, dataset and model chosen in the sidebar (their scored rows on first use of ``.scored``).

    On bad input (no workspace, a file that cannot be read) the error is shown with its fix and the page stops.
    """
    with shown_errors():
        ws = loaders.open_current()
        dataset = loaders.selected_dataset(ws)
        model_name = loaders.selected_model(ws)
    if ws.is_out_of_core(dataset):
        from ui import engine_cached

        engine_cached.prepare_first_views(ws, dataset)  # what the Slices and Staleness pages show first
        st.caption(
            md_text(ws.samples[dataset].caption()),
            help="Dataset read through the engine (workspace.toml engine).",
        )
    return PageContext(ws=ws, dataset=dataset, model_name=model_name)
