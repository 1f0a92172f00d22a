"""What a page shows in place of its row-level sections while an out-of-core dataset's sample is drawn in the
background (``ui.engine_cached.sample_draw``: above ``PREFETCH_SAMPLE_ROWS`` rows): the draw's progress, polled
by a fragment that reruns the whole page once the rows are there, so the sections appear by themselves. Nothing
of a section that needs rows is drawn meanwhile: the page says which sections wait and why.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import streamlit as st

from ui import engine_cached
from ui.context import PageContext
from ui.safe import md_text

POLL_SECONDS = 1.0


def rows_pending(ctx: PageContext) -> bool:
    """True while the page's dataset's row-level sample is drawn in the background (the page draws what the
    engine computes now, and ``wait_for_rows`` in place of the rest)."""
    return engine_cached.rows_pending(ctx.ws, ctx.dataset)


def pending_dataset(ctx: PageContext, datasets: Sequence[str] = ()) -> str | None:
    """The first of the page's dataset and ``datasets`` whose row-level sample is being drawn in the background
    (None: every one has its rows, or gets them at once). For a page whose sections all need rows (Importance,
    Checks): it shows ``wait_for_rows`` for that dataset instead of its sections, rather than waiting for the draw
    on its own run — a page frozen for the length of a pass over every column."""
    names = dict.fromkeys([ctx.dataset, *datasets])
    return next((d for d in names if d and engine_cached.rows_pending(ctx.ws, d)), None)


def progress_text(
    draw: engine_cached.SampleDraw, dataset: str, now: float | None = None
) -> tuple[str, float]:
    """The status line of ``draw`` and the fraction of its expected time elapsed (at most 0.95 until done)."""
    from explore.engine.sample import SAMPLE_ROWS

    now = time.monotonic() if now is None else now
    expected = max(draw.expected_seconds, 1.0)
    what = (
        f"Drawing the {SAMPLE_ROWS:,}-row sample of '{dataset}' for the row-level views: a pass over "
        f"{draw.gigabytes:,.1f} GB ({draw.total:,} rows, every column; ≈ {expected:,.0f} s)"
    )
    if draw.started is None:
        waited = now - draw.queued
        return f"{what}, queued behind the engine's first passes ({waited:,.0f} s so far)…", 0.0
    elapsed = now - draw.started
    return f"{what}: {elapsed:,.0f} s so far…", min(elapsed / expected, 0.95)


def wait_for_rows(ctx: PageContext, waiting: str, dataset: str | None = None) -> None:
    """In place of row-level sections: ``waiting`` (which sections wait, why) and the progress of the sample
    draw of ``dataset`` (default: the page's), every ``POLL_SECONDS``; once drawn the page reruns and draws them
    (and the polling stops with it)."""
    dataset = dataset or ctx.dataset
    draw = engine_cached.sample_draw(ctx.ws, dataset)
    if draw is None:  # drawn between the page's check and now: the sections can draw
        st.rerun()

    @st.fragment(run_every=POLL_SECONDS)
    def _poll() -> None:
        if draw.finished.is_set():
            st.rerun(scope="app")
        text, fraction = progress_text(draw, dataset)
        # Not as a context manager: leaving one marks the status "complete", and the draw is not.
        status = st.status(md_text(text), state="running", expanded=True)
        status.markdown(md_text(waiting))
        status.progress(fraction)

    _poll()
