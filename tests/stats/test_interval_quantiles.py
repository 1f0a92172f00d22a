"""The intervals' normal and t quantiles come from scipy.special (the functions scipy.stats' norm.ppf and t.ppf
call): the same numbers, bit for bit, without importing scipy.stats (about a second of CPU) on the path of the
app's first page — the overall metrics of a big log import explore.engine.metrics first thing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from explore.stats import metrics


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
def test_quantiles_equal_scipy_stats(confidence):
    assert metrics._z(confidence) == float(stats.norm.ppf(0.5 + confidence / 2))
    n = np.array([0, 1, 2, 3, 5, 30, 1_000, 10**6, 10**9])
    np.testing.assert_array_equal(
        metrics._t_crit(n, confidence), stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1.0, 1))
    )


def test_the_engine_metrics_do_not_import_scipy_stats():
    code = "import sys, explore.engine.metrics; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "False"
