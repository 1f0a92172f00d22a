"""Time columns of every shape → naive UTC ``datetime64`` values.

Accepted: datetime dtypes (tz-aware ones are converted to UTC), ISO and other date strings
(mixed formats and UTC offsets allowed), epoch numbers in seconds / milliseconds / microseconds /
nanoseconds (told apart by magnitude), ``yyyymmdd`` integers and plain years.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from explore.errors import TIME_NOT_EPOCH, TIME_UNPARSEABLE, TimeColumnError

# Share of non-missing values that may fail to parse before the column is refused.
MAX_BAD_SHARE = 0.01
# Numbers all below this are not epoch times (as seconds, every one would fall before 1973-03-03): a column of
# amounts or counts named as the time column was read as the first minutes of 1970, every row in one window.
MIN_EPOCH_SECONDS = 1e8


def _from_numbers(values: pd.Series) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce").astype("float64")
    finite = v[np.isfinite(v)]
    if finite.empty:
        return pd.to_datetime(v, errors="coerce")
    lo, hi = float(finite.min()), float(finite.max())
    is_int = bool(np.all(np.mod(finite, 1) == 0))
    if is_int and 1800 <= lo and hi <= 2200:
        return pd.to_datetime(v.astype("Int64").astype("string"), format="%Y", errors="coerce")
    if is_int and 18000101 <= lo and hi <= 22001231:
        return pd.to_datetime(v.astype("Int64").astype("string"), format="%Y%m%d", errors="coerce")
    magnitude = max(abs(lo), abs(hi))
    if magnitude < MIN_EPOCH_SECONDS:
        raise _NotTimes(lo, hi)
    unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
    return pd.to_datetime(v, unit=unit, errors="coerce")


class _NotTimes(Exception):
    """Numbers that are no epoch, yyyymmdd or year: parse_time says so with the column's name."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__(lo, hi)
        self.lo, self.hi = lo, hi


_NUMERIC_DATE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}\b.*"


def _day_first(s: pd.Series) -> bool:
    """True when ``s`` holds ``DD/MM/YYYY``-style dates (also with ``.`` or ``-``), judged on the whole column.

    pandas picks day-first or month-first from the *first* value and, when a later value does not fit,
    falls back to per-value parsing that guesses each value on its own: ``02/01/2024`` then reads as
    February 1st next to ``28/01/2024`` as January 28th. A column whose first field exceeds 12 somewhere
    (and whose second field never does) is day-first throughout.
    """
    present = s.dropna()
    parts = present.str.extract(_NUMERIC_DATE).dropna()
    if parts.empty or len(parts) < len(present):
        return False
    first, second = parts[0].astype(int), parts[1].astype(int)
    return bool((first > 12).any() and not (second > 12).any())


def _from_strings(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip()
    # Digits only: numbers stored as text (epochs, yyyymmdd).
    if s.dropna().str.fullmatch(r"-?\d+(\.\d+)?").all() and s.notna().any():
        return _from_numbers(s)
    dayfirst = _day_first(s)
    with warnings.catch_warnings():
        # pandas warns when it falls back to per-element parsing; that fallback is what we want here.
        warnings.simplefilter("ignore", UserWarning)
        try:
            out = pd.to_datetime(s, errors="coerce", utc=True, dayfirst=dayfirst)
        except (ValueError, TypeError):
            out = None
        if out is None or out.isna().sum() > s.isna().sum():
            out = pd.to_datetime(s, errors="coerce", utc=True, format="mixed", dayfirst=dayfirst)
    return out.dt.tz_convert(None)


def parse_time(values: pd.Series, *, column: str, dataset: str) -> pd.Series:
    """Return ``values`` as naive-UTC ``datetime64[ns]`` (missing stays NaT).

    Raises ``TimeColumnError`` naming examples when more than 1 % of the present values fail.
    Empty or blank strings are missing values, as they are in a CSV file.
    """
    try:
        return _parse_time(values, column=column, dataset=dataset)
    except _NotTimes as exc:
        raise TimeColumnError(
            TIME_NOT_EPOCH.format(time=column, dataset=dataset, lo=exc.lo, hi=exc.hi), column=column
        ) from None


def _parse_time(values: pd.Series, *, column: str, dataset: str) -> pd.Series:
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        blank = values.astype("string").str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        if blank.any():
            values = values.mask(blank)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        out = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values
    elif pd.api.types.is_bool_dtype(values.dtype):
        out = pd.Series(pd.NaT, index=values.index)
    elif pd.api.types.is_numeric_dtype(values.dtype):
        out = _from_numbers(values)
    else:
        obj = values.astype("object")
        if len(obj.dropna()) and all(isinstance(x, pd.Timestamp) for x in obj.dropna().head(100)):
            out = pd.to_datetime(obj, utc=True).dt.tz_convert(None)
        else:
            out = _from_strings(values)
    out = pd.Series(np.asarray(out, dtype="datetime64[ns]"), index=values.index, name=values.name)
    present = values.notna()
    bad = present & out.isna()
    n_present = int(present.sum())
    if n_present == 0 or bad.sum() > MAX_BAD_SHARE * n_present:
        examples = (
            ", ".join(repr(x) for x in values[bad].astype("object").drop_duplicates().head(3))
            or "all values missing"
        )
        raise TimeColumnError(
            TIME_UNPARSEABLE.format(
                time=column,
                dataset=dataset,
                n_bad=int(bad.sum()) if n_present else len(values),
                n=len(values),
                examples=examples,
            )
        )
    return out
