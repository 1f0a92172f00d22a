"""Shared by the chart builders: frames made safe for Vega-Lite."""

from __future__ import annotations

import numpy as np
import pandas as pd


def vega_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy where infinite values are NaN (Vega cannot take them) and object columns are text."""
    out = df.replace([np.inf, -np.inf], np.nan)
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(lambda v: None if v is None else str(v))
    return out
