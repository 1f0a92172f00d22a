"""Whose drift follows the performance drop: the drift of each feature per window against one metric per window.

The correlation is a hint beside the drift table, not a result of its own: when it cannot be computed (too
few usable windows, a metric the model's outputs do not allow) the drift table is shown without it and
``DriftTracking.reason`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from explore.core.workspace import Scored
from explore.errors import ExploreError
from explore.staleness.drift import DriftResult, drift_metric_tracking
from explore.staleness.experiment import performance_over_time
from explore.staleness.windows import TimeWindows
from explore.stats.metrics import metric_direction


@dataclass(frozen=True, eq=False)
class DriftTracking:
    """``table``: per feature ``spearman`` / ``pearson`` correlation of its drift with the drop of ``metric``
    (``drift_metric_tracking``), or None; ``reason``: why it is None ("" when it is not)."""

    metric: str
    table: pd.DataFrame | None
    reason: str = ""


def track_drift(
    drift: DriftResult, scored: Scored, windows: TimeWindows, *, codes: np.ndarray, metric: str
) -> DriftTracking:
    """How each feature's drift tracks the drop of ``metric`` over the windows with enough rows.

    ``codes``: the window of each scored row (``apply_windows(windows, scored.time)``).
    """
    try:
        performance = performance_over_time(scored, windows, codes=codes, metrics=[metric])
        series = performance.series(metric).set_index("window")["value"]
        table = drift_metric_tracking(
            drift, series, higher_is_better=bool(metric_direction(metric)), usable=~windows.too_few
        )
    except ExploreError as exc:  # the drift table stands without the correlation: say why it is missing
        return DriftTracking(metric=metric, table=None, reason=str(exc))
    return DriftTracking(metric=metric, table=table)
