"""Grouping the rows of a scored dataset by one column: the groups Slices shows and Checks compares.

Categories: the ``max_groups - 1`` most frequent values, then "(other)"; numeric and time columns with
more than ``max(bins, 10)`` values in ``bins`` quantile bins (open-ended first and last bins, edges
rounded) or at the given edges; missing values form a group of their own. Every group carries the slice
condition that selects it, so a group can become a filter. Pseudo-columns (``LABEL``, ``PREDICTION``,
``CORRECT``, ``TIME``) group like data columns.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from explore.core.serialise import plain
from explore.core.workspace import Scored
from explore.errors import AnalysisError
from explore.slices.definition import (
    CORRECT,
    LABEL,
    LOSS,
    PREDICTION,
    PSEUDO,
    ROW,
    SCORE,
    TIME,
    Condition,
    SliceDefinition,
    number_labels,
    numeric_pseudo_values,
)

DEFAULT_BINS = 5
MAX_GROUPS = 30
MAX_BINS = 50
OTHER = "(other)"
MISSING_LABEL = "(missing)"

BAD_BINS = (
    "The number of bins for '{column}' must be an integer from 2 to {max_bins}, or a list of at least 2 increasing "
    "edges; received {received!r}."
)
ALL_ROWS = "all rows"
UNKNOWN_SLICE_COLUMN = (
    "The slice column {name!r} is not in dataset '{dataset}'. Columns there: {known}. Fix [checks] slices in "
    "workspace.toml or the slice choice."
)
UNKNOWN_COLUMN = "There is no column '{column}' in dataset '{dataset}'. Columns: {columns}."


@dataclass(frozen=True)
class Grouping:
    """Rows coded by the groups of one column (or one group of rows: all rows, a saved slice).

    ``codes`` (int32, one per row; -1 = in no group), ``labels[i]`` the text of group i, and
    ``conditions[i]`` the slice condition selecting group i (so a group can become a filter).
    ``kind``: "categorical" | "numeric" | "time", or "rows" for :func:`rows_grouping` (no column and no
    conditions: the rows are whatever the caller chose).
    """

    column: str
    kind: str
    codes: np.ndarray
    labels: list[str]
    conditions: list[Condition] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @cached_property
    def keys(self) -> list[str]:
        """Each group's name in reports and threshold overrides: ``column = label`` for a column's groups
        (``device = tablet``), the label alone for a group of rows (``all rows``, a saved slice's name)."""
        return [f"{self.column} = {label}" for label in self.labels] if self.column else list(self.labels)


def rows_grouping(name: str, mask: np.ndarray) -> Grouping:
    """One group called ``name``: the rows where ``mask`` is true (all rows, a saved slice)."""
    codes = np.where(np.asarray(mask, dtype=bool), 0, -1).astype(np.int32)
    return Grouping("", "rows", codes, [name])


def column_values(scored: Scored, column: str) -> pd.Series:
    """A data column or a pseudo-column (``slicing.LABEL`` …) as a Series over ``scored``'s rows.

    Class codes are turned back into class values so that they read as the user wrote them.
    """
    if column == LABEL:
        return pd.Series(scored.y_raw if scored.task != "regression" else scored.y, name=PSEUDO[LABEL])
    if column == PREDICTION:
        if scored.task == "regression":
            return pd.Series(scored.pred, name=PSEUDO[PREDICTION])
        pred = pd.Series(scored.classes[np.maximum(scored.pred, 0)], name=PSEUDO[PREDICTION], dtype=object)
        pred[scored.pred < 0] = None
        return pred
    if column == CORRECT:
        if scored.task == "regression":
            raise AnalysisError(
                "'correct' is defined for classification only; for regression slice on the error."
            )
        return pd.Series(scored.correct, name=PSEUDO[CORRECT])
    if column == TIME:
        if scored.time is None:
            raise AnalysisError("This workspace has no time column: set [columns] time in workspace.toml.")
        return scored.time.reset_index(drop=True).rename(PSEUDO[TIME])
    if column in (SCORE, LOSS, ROW):
        return pd.Series(numeric_pseudo_values(scored, column), name=PSEUDO[column])
    if column not in scored.frame.columns:
        raise AnalysisError(
            UNKNOWN_COLUMN.format(
                column=column,
                dataset=scored.dataset_name,
                columns=", ".join(map(str, scored.frame.columns[:40])),
            )
        )
    return scored.frame[column]


def display_name(column: str) -> str:
    """The column's name as shown to users (pseudo-columns by their meaning)."""
    return PSEUDO.get(column, column)


def sliceable_columns(scored: Scored) -> list[str]:
    """Columns a user can filter or group on: the pseudo-columns that apply, then the data columns."""
    return sliceable_names(scored.frame.columns, scored.task, has_time=scored.time is not None)


def sliceable_names(columns: Sequence[Any], task: str, *, has_time: bool) -> list[str]:
    """``sliceable_columns`` of data with ``columns`` (e.g. an out-of-core dataset's, before any row is read)."""
    pseudo = [LABEL, PREDICTION]
    if task != "regression":
        pseudo.append(CORRECT)
    if has_time:
        pseudo.append(TIME)
    return pseudo + [str(c) for c in columns]


_GROUPING_CACHE: weakref.WeakKeyDictionary[Scored, dict[Any, Grouping]] = weakref.WeakKeyDictionary()


def group_column(
    scored: Scored, column: str, *, bins: int | Sequence[float] = DEFAULT_BINS, max_groups: int = MAX_GROUPS
) -> Grouping:
    """Group rows by ``column``: categories (the ``max_groups - 1`` most frequent, then "(other)"),
    numeric or time columns in ``bins`` quantile bins (or at the given edges), missing values as a
    group of their own. Cached per ``scored`` (read-only result).
    """
    key = (column, tuple(bins) if not isinstance(bins, int) else bins, max_groups)
    cache = _GROUPING_CACHE.setdefault(scored, {})
    if key not in cache:
        cache[key] = _group_column(scored, column, bins=bins, max_groups=max_groups)
    return cache[key]


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype)


def _group_column(scored: Scored, column: str, *, bins: int | Sequence[float], max_groups: int) -> Grouping:
    return group_values(column_values(scored, column), column, bins=bins, max_groups=max_groups)


def group_values(
    values: pd.Series,
    column: str,
    *,
    bins: int | Sequence[float] = DEFAULT_BINS,
    max_groups: int = MAX_GROUPS,
) -> Grouping:
    """:func:`group_column` of a Series of ``column``'s values (one per row; not cached)."""
    s = pd.Series(values).reset_index(drop=True)
    if not isinstance(bins, int):
        edges_in = [float(b) for b in bins]
        if len(edges_in) < 2 or any(b2 <= b1 for b1, b2 in zip(edges_in, edges_in[1:], strict=False)):
            raise AnalysisError(
                BAD_BINS.format(column=display_name(column), max_bins=MAX_BINS, received=list(bins))
            )
    elif not 2 <= bins <= MAX_BINS:
        raise AnalysisError(BAD_BINS.format(column=display_name(column), max_bins=MAX_BINS, received=bins))
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return _bin_time(column, s, bins if isinstance(bins, int) else DEFAULT_BINS)
    if _is_numeric(s) and (not isinstance(bins, int) or s.nunique(dropna=True) > max(bins, 10)):
        return _bin_numeric(column, s, bins)
    return _categories(column, s, max_groups)


def _round_sig(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to ``digits`` significant digits (readable bin edges: 85.105, not 85.10499999999999)."""
    return np.array([float(f"{v:.{digits}g}") for v in values], dtype="float64")


def _bin_numeric(column: str, s: pd.Series, bins: int | Sequence[float]) -> Grouping:
    """Quantile bins (open-ended first and last bins, edges rounded) or the user's explicit edges."""
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    finite = ~np.isnan(x)
    codes = np.full(len(x), -1, dtype=np.int32)
    labels: list[str] = []
    conditions: list[Condition] = []
    if isinstance(bins, int):
        inner = quantile_inner_edges(
            np.quantile(x[finite], np.linspace(0, 1, bins + 1)) if finite.any() else None
        )
        codes[finite] = np.searchsorted(inner, x[finite], side="right")
        labels, conditions = quantile_bin_groups(column, inner)
    else:
        edges_user = np.asarray(bins, dtype="float64")
        c = np.searchsorted(edges_user[1:-1], x, side="right").astype(np.int32)
        inside = finite & (x >= edges_user[0]) & (x <= edges_user[-1])
        codes[inside] = c[inside]
        last = len(edges_user) - 2
        text_user = number_labels(edges_user)
        for i in range(len(edges_user) - 1):
            lo, hi = float(edges_user[i]), float(edges_user[i + 1])
            closed = i == last
            labels.append(f"[{text_user[i]}, {text_user[i + 1]}{']' if closed else ')'}")
            conditions.append(Condition(column, "range", lo=lo, hi=hi, hi_inclusive=closed))
    if (~finite).any():
        codes[~finite] = len(labels)
        labels.append(MISSING_LABEL)
        conditions.append(Condition(column, "in", values=(None,)))
    return _drop_empty(Grouping(column, "numeric", codes, labels, conditions))


def quantile_inner_edges(qs: np.ndarray | None) -> np.ndarray:
    """The inner edges of quantile bins from the quantiles ``qs`` (0, 1/bins, …, 1): rounded, merged, in range."""
    if qs is None:
        return np.array([])
    inner = np.unique(_round_sig(qs[1:-1]))
    return inner[(inner > qs[0]) & (inner <= qs[-1])]


def quantile_bin_groups(column: str, inner: np.ndarray) -> tuple[list[str], list[Condition]]:
    """Labels and conditions of open-ended bins at ``inner`` edges (a value v is in bin searchsorted(inner, v, "right"))."""
    text = dict(zip(inner.tolist(), number_labels(inner), strict=True))
    return _open_bins(column, inner.tolist(), text.__getitem__, lambda v: v, ("all values", "< {}", "≥ {}"))


def _open_bins(
    column: str,
    inner: Sequence[Any],
    text: Callable[[Any], str],
    bound: Callable[[Any], Any],
    words: tuple[str, str, str],
) -> tuple[list[str], list[Condition]]:
    """Labels and range conditions of the bins cut at ``inner`` edges, the first and last open-ended: ``words``
    is (no edge at all, below the first edge, from the last edge) with ``{}`` for the edge's ``text``; a
    condition's bounds are ``bound(edge)``."""
    everything, below, above = words
    labels: list[str] = []
    conditions: list[Condition] = []
    edges = [None, *inner, None]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if lo is None and hi is None:
            labels.append(everything)
        elif lo is None:
            labels.append(below.format(text(hi)))
        elif hi is None:
            labels.append(above.format(text(lo)))
        else:
            labels.append(f"[{text(lo)}, {text(hi)})")
        conditions.append(
            Condition(
                column, "range", lo=None if lo is None else bound(lo), hi=None if hi is None else bound(hi)
            )
        )
    return labels, conditions


def _bin_time(column: str, s: pd.Series, bins: int) -> Grouping:
    """Quantile bins of time, inner edges rounded to the day (to the minute for spans under 3 days)."""
    t = s.to_numpy(dtype="datetime64[ns]")
    ok = ~np.isnat(t)
    ns = t.astype("int64")
    codes = np.full(len(t), -1, dtype=np.int32)
    labels: list[str] = []
    conditions: list[Condition] = []
    if ok.any():
        qs = pd.to_datetime(np.quantile(ns[ok], np.linspace(0, 1, bins + 1)).astype("int64"))
        daily = (qs[-1] - qs[0]) >= pd.Timedelta(days=3)
        unit, fmt = ("D", "%Y-%m-%d") if daily else ("min", "%Y-%m-%d %H:%M")
        inner = pd.DatetimeIndex(qs[1:-1]).round(unit).unique().sort_values()
        inner = inner[(inner > qs[0]) & (inner <= qs[-1])]
        inner_ns = inner.asi8 if len(inner) else np.array([], dtype="int64")
        codes[ok] = np.searchsorted(inner_ns, ns[ok], side="right")
        labels, conditions = _open_bins(
            column,
            list(inner),
            lambda t: t.strftime(fmt),
            lambda t: t.isoformat(),
            ("all times", "before {}", "from {}"),
        )
    if (~ok).any():
        codes[~ok] = len(labels)
        labels.append(MISSING_LABEL)
        conditions.append(Condition(column, "in", values=(None,)))
    return _drop_empty(Grouping(column, "time", codes, labels, conditions))


def _categories(column: str, s: pd.Series, max_groups: int) -> Grouping:
    codes_all, uniques = pd.factorize(s, use_na_sentinel=True)
    counts = np.bincount(codes_all[codes_all >= 0], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")
    has_missing = bool((codes_all < 0).any())
    room = max(max_groups - int(has_missing), 1)
    keep = order[:room] if len(order) <= room else order[: room - 1]
    remap = np.full(len(uniques) + 1, -1, dtype=np.int32)
    kept_values = [uniques[i] for i in keep]
    sorted_pos, labels, conditions = category_groups(
        column, kept_values, len(keep) < len(uniques), has_missing
    )
    for new, j in enumerate(sorted_pos):
        remap[keep[j]] = new
    if len(keep) < len(uniques):
        remap[np.setdiff1d(np.arange(len(uniques)), keep)] = len(keep)
    if has_missing:
        remap[len(uniques)] = len(labels) - 1
    idx = np.where(codes_all < 0, len(uniques), codes_all)
    return Grouping(column, "categorical", remap[idx], labels, conditions)


def category_groups(
    column: str, kept_values: list[Any], has_other: bool, has_missing: bool
) -> tuple[list[int], list[str], list[Condition]]:
    """The groups of a categorical column: kept values sorted for a readable table (numbers numerically, text
    alphabetically; ``sorted_pos[new]`` = index in ``kept_values``), then "(other)", then "(missing)"."""
    try:
        sorted_pos = sorted(range(len(kept_values)), key=lambda j: kept_values[j])
    except TypeError:
        sorted_pos = sorted(range(len(kept_values)), key=lambda j: str(kept_values[j]))
    labels: list[str] = []
    conditions: list[Condition] = []
    for j in sorted_pos:
        v = plain(kept_values[j], for_json=False)
        labels.append(str(v))
        conditions.append(Condition(column, "in", values=(v,)))
    if has_other:
        labels.append(OTHER)
        conditions.append(
            Condition(column, "not_in", values=tuple(plain(v, for_json=False) for v in kept_values) + (None,))
        )
    if has_missing:
        labels.append(MISSING_LABEL)
        conditions.append(Condition(column, "in", values=(None,)))
    return sorted_pos, labels, conditions


def _drop_empty(g: Grouping) -> Grouping:
    counts = np.bincount(g.codes[g.codes >= 0], minlength=g.n_groups)
    if (counts > 0).all():
        return g
    keep = np.flatnonzero(counts > 0)
    remap = np.full(g.n_groups + 1, -1, dtype=np.int32)
    remap[keep] = np.arange(len(keep))
    codes = remap[np.where(g.codes < 0, g.n_groups, g.codes)]
    return Grouping(g.column, g.kind, codes, [g.labels[i] for i in keep], [g.conditions[i] for i in keep])


def combine(a: Grouping, b: Grouping) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Codes of the non-empty (a, b) pairs and, for each, the pair of group indices."""
    ok = (a.codes >= 0) & (b.codes >= 0)
    flat = np.where(ok, a.codes.astype(np.int64) * b.n_groups + b.codes, -1)
    counts = np.bincount(flat[ok], minlength=a.n_groups * b.n_groups)
    present = np.flatnonzero(counts)
    remap = np.full(a.n_groups * b.n_groups + 1, -1, dtype=np.int32)
    remap[present] = np.arange(len(present))
    codes = remap[np.where(ok, flat, a.n_groups * b.n_groups)]
    return codes, [(int(p // b.n_groups), int(p % b.n_groups)) for p in present]


# ---- all rows, slice columns and saved slices ----------------------------------------------------------


def groupings_for(scored: Scored, slices: Sequence[str | SliceDefinition] = ()) -> list[Grouping]:
    """All rows, then one grouping per slice column (its groups, as the Slices page makes them) and one
    per saved slice definition. The workspace's time column is grouped by its parsed times."""
    out = [rows_grouping(ALL_ROWS, np.ones(scored.n, dtype=bool))]
    for item in slices:
        if isinstance(item, SliceDefinition):
            out.append(rows_grouping(item.name or item.describe(), item.mask(scored)))
            continue
        col = str(item)
        if col not in scored.frame.columns:
            raise AnalysisError(
                UNKNOWN_SLICE_COLUMN.format(
                    name=col,
                    dataset=scored.dataset_name,
                    known=", ".join(map(str, scored.frame.columns[:40])),
                )
            )
        if scored.time is not None and col == scored.time.name:
            out.append(replace(group_column(scored, TIME), column=col))
        else:
            out.append(group_column(scored, col))
    return out
