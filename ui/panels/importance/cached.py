"""The Importance page's cached computations, keyed by the objects they depend on (``ui.cache``).

A SHAP run is identified by the page context (workspace files, dataset, model) and a :class:`ShapRun` (the rows,
how many, exact or approximate). Chart specs are cached beside the results they draw: Altair's ``to_dict`` is
the slow part of a rerun. Specs and other derived results take the same ``(ctx, run)`` and call
``explanation(ctx, run)`` again, a cache hit, rather than taking the explanation unhashed beside a key.
(Streamlit replays that hit's emptied progress bar as an empty element, which the browser does not display.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st

from explore.core.workspace import Scored
from explore.importance import budget, charts, explain
from explore.slices.definition import SliceDefinition
from ui.cache import cache_small
from ui.context import PageContext

WATERFALL_FEATURES = 10  # largest contributions drawn in one row's waterfall; the rest are summed


@dataclass(frozen=True)
class ShapRun:
    """One SHAP run on the page's dataset and model: the slice explained (None: all rows), the number of rows
    sampled from it, and whether shap's approximate tree mode is used. Small values only: ``st.cache_data``
    hashes it by value."""

    slice: SliceDefinition | None
    sample_size: int
    approximate: bool

    @property
    def params(self) -> explain.ExplainParams:
        """How the run's SHAP values are computed."""
        return explain.ExplainParams(sample_size=self.sample_size, approximate=self.approximate)


@contextmanager
def _progress_bar(text: str) -> Iterator[explain.Progress]:
    """A progress bar for the work inside the ``with`` block, removed after it; created inside a cached function
    (so Streamlit can replay it) and throttled to ~20 updates."""
    bar = st.progress(0.0, text=text)
    last = [-1.0]

    def update(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.05 or fraction >= 1.0:
            last[0] = fraction
            bar.progress(min(max(fraction, 0.0), 1.0), text=message)

    try:
        yield update
    finally:
        bar.empty()


# ---- results ----------------------------------------------------------------------------------------------


@cache_small(max_entries=16)
def estimate(ctx: PageContext, approximate: bool) -> explain.TimeEstimate:
    """The explainer's measured cost on a few rows of the page's dataset."""
    return explain.estimate_time(ctx.scored, ctx.model, explain.ExplainParams(approximate=approximate))


@cache_small(max_entries=24)
def explanation(ctx: PageContext, run: ShapRun) -> explain.ShapExplanation:
    """SHAP values of ``run``'s sampled rows, with a progress bar while they are computed."""
    with _progress_bar("Explaining…") as update:
        return explain.explain(
            ctx.scored,
            ctx.model,
            run.params,
            slice_def=run.slice,
            progress=update,
        )


@cache_small(max_entries=64)
def local_explanation(
    ctx: PageContext, scored: Scored, position: int, approximate: bool
) -> explain.ShapExplanation:
    """SHAP values of one row of ``scored`` (any dataset of the workspace, scored by the page's model)."""
    return explain.explain(scored, ctx.model, explain.ExplainParams(approximate=approximate), rows=[position])


@cache_small(max_entries=12)
def comparison(ctx: PageContext, run: ShapRun, reference: str) -> explain.SliceComparison:
    """Importance inside ``run.slice`` vs the other rows, and the slice's feature ranges vs dataset ``reference``."""
    sd = run.slice or SliceDefinition()
    with _progress_bar("Explaining the slice and the rest…") as update:
        return explain.slice_vs_rest(
            ctx.scored,
            ctx.model,
            sd,
            reference=ctx.ws.dataset(reference),
            reference_name=reference,
            description=sd.describe(),
            params=run.params,
            progress=update,
        )


@cache_small(max_entries=16)
def predict_seconds(ctx: PageContext, n_rows: int) -> float:
    """Seconds the page's model takes to score ``n_rows`` rows (for the permutation check's estimate)."""
    return budget.predict_seconds(ctx.scored, ctx.model, n_rows)


@cache_small(max_entries=12)
def permutation(ctx: PageContext, run: ShapRun) -> explain.PermutationCheck:
    """Permutation importance on the rows ``run`` explained, against their SHAP ranking."""
    expl = explanation(ctx, run)
    with st.spinner("Shuffling each feature 5 times and rescoring the rows…", show_time=True):
        return explain.permutation_check(ctx.scored, ctx.model, expl)


@cache_small(max_entries=8)
def interaction(ctx: PageContext, run: ShapRun, feature: str, output: int) -> str | None:
    """The feature ``feature``'s SHAP values interact with most (the dependence plot's automatic colour)."""
    return explain.interaction_partner(explanation(ctx, run), feature, output=output)


# ---- chart specs ------------------------------------------------------------------------------------------


@cache_small(max_entries=16)
def bars_spec(ctx: PageContext, run: ShapRun) -> dict:
    return charts.importance_bars(explanation(ctx, run)).to_dict()


@cache_small(max_entries=16)
def beeswarm_spec(ctx: PageContext, run: ShapRun, output: int) -> dict:
    return charts.beeswarm(explanation(ctx, run), output=output).to_dict()


@cache_small(max_entries=24)
def dependence_spec(ctx: PageContext, run: ShapRun, feature: str, color: str | None, output: int) -> dict:
    return charts.dependence(explanation(ctx, run), feature, color=color, output=output).to_dict()


@cache_small(max_entries=16)
def waterfall_spec(ctx: PageContext, scored: Scored, position: int, approximate: bool, output: int) -> dict:
    local = local_explanation(ctx, scored, position, approximate)
    steps = explain.waterfall_steps(local, output=output, max_features=WATERFALL_FEATURES)
    title = f"Why row {scored.ids[position]} got its score"
    return charts.waterfall(steps, title=title).to_dict()


def show_spec(spec: dict, *, key: str, where: Any = None) -> None:
    """Draw a cached Vega-Lite spec (in ``where``, a column or container, else the page)."""
    (where or st).vega_lite_chart(spec=spec, key=key, width="stretch")
