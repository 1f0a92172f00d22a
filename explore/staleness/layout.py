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
