"""The one serialiser: results, parameters and ids as plain JSON types.

``plain(value)`` turns one scalar (numpy numbers, timestamps, NaN) into a JSON scalar; the rest of the module
builds on it for whole results.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any) -> Any:
    """One scalar as a JSON scalar: numpy numbers → int/float/bool, timestamps → ISO text, NaN/inf/NaT → None,
    paths → text. Anything else is returned as it is."""
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date):  # datetime and pandas.Timestamp too; NaT is the only date != itself
        return None if value != value else value.isoformat()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, Path):
        return str(value)
    return value
