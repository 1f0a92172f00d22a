"""What one column offers someone building a slice or editing a datapoint: its kind, its range or its most
frequent values, a row's value in it, and the typical size of a change to it.

Values come back as Python scalars of the column's own type (numpy scalars unwrapped, timestamps kept as
timestamps) with every kind of missing value as ``None``, so that a value picked from a list compares equal
to the cell it came from. This is not serialisation: ``explore.core.serialise.plain`` turns dates into text,
which would no longer match the column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from explore.core.workspace import Scored
from explore.errors import AnalysisError

from .definition import Condition
from .report import column_values

ColumnKind = Literal["categorical", "numeric", "time"]

# The filter builder lists at most this many values of a categorical column, most frequent first.
MAX_LISTED_VALUES = 500
# A numeric column with more distinct values than this is filtered by a range, not by picking values.
MAX_NUMERIC_VALUES = 20
# The datapoint editor offers every level of a categorical feature in a searchable list up to this many levels;
# beyond it the value is typed and checked against the levels (a list that long is not read, only searched).
MAX_PICKED_LEVELS = 5_000

UNKNOWN_LEVEL = (
    "{column!r} has no level {received!r} (it has {n:,} levels{close}). Type one of its levels exactly, or leave "
    "the field empty for a missing value."
)


@dataclass(frozen=True)
class ColumnInfo:
    """What the slice builder offers for a column.

    ``kind`` "time": ``min``/``max`` are the first and last dates (None when no value parses).
    ``kind`` "numeric": ``min``/``max`` are floats and ``missing`` counts the missing values.
    ``kind`` "categorical": ``values`` (missing as None) with their row ``counts``, most frequent first, and
    ``n_unique`` distinct values in all (missing counted as one), of which at most ``MAX_LISTED_VALUES`` are
    listed.
    """

    column: str
    kind: ColumnKind
    min: float | dt.date | None = None
    max: float | dt.date | None = None
    missing: int = 0
    values: tuple[Any, ...] = ()
    counts: tuple[int, ...] = ()
    n_unique: int = 0

    @property
    def truncated(self) -> bool:
        """True when the column has more distinct values than are listed."""
        return self.n_unique > len(self.values)


def is_numeric_column(values: pd.Series) -> bool:
    """Numbers (booleans are not: they are two categories)."""
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)


def column_info(scored: Scored, column: str) -> ColumnInfo:
    """The kind of ``column`` (a data column or a pseudo-column) over ``scored``'s rows, with its range or its
    most frequent values. Raises AnalysisError for a column that does not exist."""
    s = column_values(scored, column)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ok = s.dropna()
        first, last = (ok.min().date(), ok.max().date()) if len(ok) else (None, None)
        return ColumnInfo(column, "time", min=first, max=last)
    if is_numeric_column(s) and s.nunique() > MAX_NUMERIC_VALUES:
        x = pd.to_numeric(s, errors="coerce")
        return ColumnInfo(
            column, "numeric", min=float(x.min()), max=float(x.max()), missing=int(x.isna().sum())
        )
    counts = s.value_counts(dropna=False).head(MAX_LISTED_VALUES)
    return ColumnInfo(
        column,
        "categorical",
        values=tuple(_native(v) for v in counts.index),
        counts=tuple(int(c) for c in counts),
        n_unique=int(s.nunique(dropna=False)),
    )


def frequent_values(values: pd.Series, *, limit: int, dropna: bool = False) -> list[Any]:
    """The ``limit`` most frequent values, most frequent first (missing as None, unless ``dropna``)."""
    return [_native(v) for v in values.value_counts(dropna=dropna).index[:limit]]


def editor_levels(values: pd.Series) -> list[Any]:
    """Every level of a categorical feature, most frequent first, then missing (None) — offered even when no row
    is missing, since a model that accepts missing values can be asked about one."""
    levels = [_native(v) for v in values.value_counts(dropna=True).index]
    return [*levels, None]


def known_level(values: pd.Series, typed: str, *, column: str) -> Any:
    """The level of ``values`` whose text is ``typed`` (blank: missing, None); AnalysisError naming the column,
    what was typed, how many levels there are and the closest ones when there is none."""
    import difflib

    text = str(typed).strip()
    if not text:
        return None
    levels = [_native(v) for v in values.dropna().unique()]
    by_text = {str(v): v for v in levels}
    if text in by_text:
        return by_text[text]
    folded = {k.casefold(): v for k, v in by_text.items()}
    if text.casefold() in folded:
        return folded[text.casefold()]
    close = difflib.get_close_matches(text, list(by_text), n=3, cutoff=0.6)
    hint = "; closest: " + ", ".join(repr(c) for c in close) if close else ""
    raise AnalysisError(
        UNKNOWN_LEVEL.format(column=column, received=text, n=len(levels), close=hint),
        column=column,
        received=text,
    )


def cell_value(values: pd.Series, position: int) -> Any:
    """The value at ``position`` as a Python scalar (missing as None)."""
    return _native(values.iloc[position])


def typical_shift(values: pd.Series) -> float:
    """A change of typical size for a numeric column: its standard deviation (1.0 when that is 0)."""
    return float(np.nanstd(pd.to_numeric(values, errors="coerce"))) or 1.0


def typical_value(values: pd.Series) -> float:
    """A typical value of a numeric column: its median, missing values ignored."""
    return float(np.nanmedian(pd.to_numeric(values, errors="coerce")))


def dates_condition(column: str, first: dt.date, last: dt.date) -> Condition:
    """Rows from the start of day ``first`` to the end of day ``last`` (both included)."""
    end = pd.Timestamp(last) + pd.Timedelta(days=1)
    return Condition(column, "range", lo=pd.Timestamp(first).isoformat(), hi=end.isoformat())


def _native(value: Any) -> Any:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value
