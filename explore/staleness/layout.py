"""The window layout chosen for a staleness analysis, as one value, and the defaults that follow from it.

A ``WindowSpec`` says which datasets are joined and how they are cut into windows. Everything computed over
the windows (performance, drift, invariants, the experiment) is a function of the workspace and the spec,
so a cache keyed by the spec cannot serve the results of another layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explore.core.workspace import Workspace
from explore.staleness.experiment import MIN_CUTOFFS
from explore.staleness.windows import Timeline, TimeWindows, time_windows

ALL_DATASETS = "All datasets, in time order"  # the name of several datasets joined in time order


@dataclass(frozen=True)
class WindowSpec:
    """Which rows are cut into windows, and how.

    ``datasets``: the datasets joined in time order; ``by``: ``"month"``, ``"week"``, ``"day"``, ``"quarter"``
    or ``"rows"`` (equal row counts, ``n_windows`` of them); ``min_rows``: windows with fewer rows are
    flagged; ``labelled_only``: windows over the rows with a label only (what the experiment fits on).
    """

    datasets: tuple[str, ...]
    by: str
    n_windows: int
    min_rows: int
    labelled_only: bool = False

    @property
    def name(self) -> str:
        """What the joined rows are called: the dataset, or ``ALL_DATASETS`` for several."""
        return ALL_DATASETS if len(self.datasets) > 1 else self.datasets[0]

    @property
    def where(self) -> str:
        """The datasets as named in messages (``"train + validation"``)."""
        return " + ".join(self.datasets)


def timeline_columns(ws: Workspace) -> list[str]:
    """The columns a staleness timeline carries: the model's features and the label (each once)."""
    return list(dict.fromkeys([*ws.feature_names, ws.columns.label]))


def spec_windows(timeline: Timeline, spec: WindowSpec, *, label: str) -> TimeWindows:
    """The windows of ``spec`` over ``timeline`` (over its rows with a ``label`` when ``spec.labelled_only``)."""
    t = timeline.time
    if spec.labelled_only:
        t = t[timeline.frame[label].notna().to_numpy()]
    return time_windows(t, by=spec.by, n_windows=spec.n_windows, min_rows=spec.min_rows, where=spec.where)


def default_span(n_windows: int) -> int:
    """The experiment's default training span, in windows: a quarter of them, between 1 and 6."""
    return max(1, min(6, n_windows // 4))


def default_cutoffs(n_windows: int, span: int) -> list[int]:
    """The experiment's default training cutoffs (window indices): every valid one when there are at most
    ``MIN_CUTOFFS``, else three spread over the first half (at 0 %, 25 % and 50 % of the valid range).

    A cutoff is valid when a full training span fits before it and a window is left after it.
    """
    valid = list(range(span, n_windows - 1))
    if len(valid) <= MIN_CUTOFFS:
        return valid
    picks = [valid[round(q * (len(valid) - 1))] for q in (0.0, 0.25, 0.5)]
    return sorted(set(picks))


def layout_id(labels: Sequence[object]) -> str:
    """An identity of a window layout by its labels: cutoffs chosen on one layout mean nothing on another."""
    return "|".join(map(str, labels))


# ---- windows and cutoffs as users write them (a notebook's "month", "1997-03") -----------------------

BAD_WINDOW = (
    "window must be 'day', 'week', 'month', 'quarter', a pandas offset of one such period ('W', 'MS', "
    "pd.offsets.MonthBegin()), or rows=N for N equal-row windows; received {received!r}."
)
CUTOFF_OUTSIDE = (
    "The training cutoff {received!r} is outside the data's windows: the experiment can cut at {first} .. {last} "
    "(a training span before it and a window after it; the data runs {start} .. {end}). Pick a date in that range."
)
BAD_CUTOFF = "A training cutoff must be a date ('1997-03', '1997-03-15', a Timestamp) or a window index; received {received!r}."
# pandas offsets (by their rule code, multiple 1) that are exactly one of the calendar windows
_OFFSET_WINDOWS = {
    "D": "day",
    "W-SUN": "week",
    "MS": "month",
    "ME": "month",
    "QS-JAN": "quarter",
    "QE-DEC": "quarter",
}


def window_by(window: object) -> str:
    """``"day" | "week" | "month" | "quarter"`` for a window written as a name or a one-period pandas offset
    (ISO weeks start on Monday: ``"W"`` is weeks ending on Sunday). ``AnalysisError`` for anything else."""
    import pandas as pd

    from explore.errors import AnalysisError
    from explore.staleness.windows import WINDOW_BYS

    if isinstance(window, str) and window.lower() in WINDOW_BYS and window.lower() != "rows":
        return window.lower()
    try:
        offset = pd.tseries.frequencies.to_offset(window)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        offset = None
    by = _OFFSET_WINDOWS.get(offset.rule_code) if offset is not None and offset.n == 1 else None
    if by is None:
        raise AnalysisError(BAD_WINDOW.format(received=window))
    return by


def window_spec(
    ws: Workspace,
    *,
    window: object = "month",
    rows: int | None = None,
    datasets: Sequence[str] | str | None = None,
    min_rows: int | None = None,
    labelled_only: bool = False,
) -> WindowSpec:
    """The ``WindowSpec`` of a window written as users think of it (see ``window_by``; ``rows=N``: N windows of
    equal row counts), over ``datasets`` (default every dataset of the workspace, joined in time order)."""
    from explore.staleness.windows import DEFAULT_MIN_ROWS

    names = (datasets,) if isinstance(datasets, str) else tuple(datasets or ws.dataset_names)
    for name in names:
        ws.dataset(name)  # the workspace's message for an unknown name
    by = "rows" if rows is not None else window_by(window)
    return WindowSpec(
        datasets=names,
        by=by,
        n_windows=int(rows) if rows is not None else 12,
        min_rows=DEFAULT_MIN_ROWS if min_rows is None else min_rows,
        labelled_only=labelled_only,
    )


def cutoff_windows(windows: TimeWindows, cutoffs: Sequence[object], *, span: int) -> tuple[int, ...]:
    """Window indices of training cutoffs given as dates (the window holding the date: training ends at its
    start) or as indices. ``AnalysisError`` for a date outside the windows where a cutoff can be."""
    import numpy as np
    import pandas as pd

    from explore.errors import AnalysisError

    first, last = span, windows.n_windows - 2
    out: list[int] = []
    for cut in cutoffs:
        if isinstance(cut, int | np.integer) and not isinstance(cut, bool):
            index = int(cut)
        else:
            try:
                when = pd.Timestamp(cut)  # type: ignore[arg-type]
            except (ValueError, TypeError):
                raise AnalysisError(BAD_CUTOFF.format(received=cut)) from None
            if when.tzinfo is not None:
                when = when.tz_convert("UTC").tz_localize(None)
            index = int(np.searchsorted(windows.starts, when.to_datetime64(), side="right")) - 1
            if when.to_datetime64() >= windows.ends[-1]:
                index = windows.n_windows
        if not first <= index <= last:
            raise AnalysisError(
                CUTOFF_OUTSIDE.format(
                    received=cut if not isinstance(cut, pd.Timestamp) else str(cut),
                    first=windows.labels[first] if first <= last else "(none)",
                    last=windows.labels[last] if first <= last else "(none)",
                    start=windows.labels[0],
                    end=windows.labels[-1],
                )
            )
        out.append(index)
    return tuple(sorted(set(out)))
