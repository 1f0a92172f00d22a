"""A slice: a serialisable conjunction (AND) of conditions on a scored dataset's rows.

Conditions name a data column, or one of the pseudo-columns ``LABEL`` (true class), ``PREDICTION``
(predicted class), ``CORRECT`` (prediction equals label) and ``TIME`` (the parsed time column).
A slice round-trips through JSON and through a URL query parameter, so it can be saved and shared.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from explore.core.chart_data import chart_text
from explore.core.serialise import plain
from explore.core.workspace import Scored
from explore.errors import AnalysisError

LABEL = "__label__"
PREDICTION = "__prediction__"
CORRECT = "__correct__"
TIME = "__time__"
SCORE = (
    "__score__"  # the model's score: positive-class probability (binary), top probability, or the prediction
)
LOSS = "__loss__"  # the row's loss (Scored.row_loss)
ROW = "__row__"  # the row's position in the scored rows (row order)
PSEUDO = {  # task-neutral words: a regressor's label binned into ranges is no "class"
    LABEL: "true label",
    PREDICTION: "prediction",
    CORRECT: "correct",
    TIME: "time",
    SCORE: "score",
    LOSS: "loss",
    ROW: "row order",
}
MISSING = None  # in a value set, stands for a missing value

Op = Literal["in", "not_in", "range"]


@dataclass(frozen=True)
class Condition:
    """``column in values`` / ``column not in values`` / ``lo <= column < hi`` (either bound optional).

    Ranges exclude missing values; ``hi_inclusive`` closes the upper bound (the last quantile bin).
    Time ranges take ISO strings.
    """

    column: str
    op: Op
    values: tuple[Any, ...] = ()
    lo: Any = None
    hi: Any = None
    hi_inclusive: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"column": self.column, "op": self.op}
        if self.op == "range":
            d.update(lo=plain(self.lo), hi=plain(self.hi), hi_inclusive=self.hi_inclusive)
        else:
            d["values"] = [plain(v) for v in self.values]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Condition:
        try:
            op = d["op"]
            if op not in ("in", "not_in", "range"):
                raise ValueError(f"unknown op {op!r}")
            return cls(
                column=str(d["column"]),
                op=op,
                values=tuple(d.get("values", ())),
                lo=d.get("lo"),
                hi=d.get("hi"),
                hi_inclusive=bool(d.get("hi_inclusive", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AnalysisError(
                f"A slice condition is malformed ({exc}); received {d!r}. Expected {{'column', 'op', 'values'|'lo'/'hi'}}."
            ) from None

    def describe(self) -> str:
        """Human-readable form, e.g. ``region in {'South'}`` or ``20 <= age < 30``."""
        name = PSEUDO.get(self.column, self.column)
        if self.op == "range":
            left = f"{_bound(self.lo)} ≤ " if self.lo is not None else ""
            right = (" ≤ " if self.hi_inclusive else " < ") + _bound(self.hi) if self.hi is not None else ""
            return f"{left}{name}{right}" if (left or right) else f"{name} present"
        vals = ", ".join(
            "missing" if v is None else repr(chart_text(v)) for v in self.values
        )  # a 10 MB value cut
        return f"{name} {'∈' if self.op == 'in' else '∉'} {{{vals}}}"


def _bound(value: Any) -> str:
    """A range bound as written in a description: ISO text for times; an infinite bound as itself."""
    shown = plain(value)
    return str(value if shown is None else shown)


@dataclass(frozen=True)
class SliceDefinition:
    """A conjunction of conditions; the empty slice is every row."""

    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    name: str = ""

    def __and__(self, other: SliceDefinition) -> SliceDefinition:
        return SliceDefinition(self.conditions + other.conditions, self.name)

    def with_condition(self, cond: Condition) -> SliceDefinition:
        """Replace any condition on the same column, then add ``cond``."""
        kept = tuple(c for c in self.conditions if c.column != cond.column)
        return SliceDefinition(kept + (cond,), self.name)

    def without(self, column: str) -> SliceDefinition:
        return SliceDefinition(tuple(c for c in self.conditions if c.column != column), self.name)

    @property
    def is_everything(self) -> bool:
        return not self.conditions

    def describe(self) -> str:
        return " AND ".join(c.describe() for c in self.conditions) or "all rows"

    # -- serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "conditions": [c.to_dict() for c in self.conditions]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SliceDefinition:
        if not isinstance(d, dict) or not isinstance(d.get("conditions", []), list):
            raise AnalysisError(f"A slice must be an object with a 'conditions' list; received {d!r}.")
        return cls(tuple(Condition.from_dict(c) for c in d.get("conditions", [])), str(d.get("name", "")))

    @classmethod
    def from_json(cls, text: str) -> SliceDefinition:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise AnalysisError(
                f"The slice text is not valid JSON ({exc.msg} at position {exc.pos})."
            ) from None

    def to_query_param(self) -> str:
        """URL-safe text for ``?slice=…``."""
        return base64.urlsafe_b64encode(self.to_json().encode()).decode().rstrip("=")

    @classmethod
    def from_query_param(cls, text: str) -> SliceDefinition:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            raw = ""
        try:
            return cls.from_json(raw)
        except AnalysisError:
            raise AnalysisError(
                f"The slice in the URL could not be decoded; received {text[:40]!r}. Copy the full share link again."
            ) from None

    # -- evaluation
    def mask(self, scored: Scored) -> np.ndarray:
        """Boolean array over ``scored``'s rows."""
        m = np.ones(scored.n, dtype=bool)
        for cond in self.conditions:
            m &= condition_mask(cond, scored)
        return m


def slice_mask(scored: Scored, slice_def: SliceDefinition | None) -> np.ndarray:
    """The rows an analysis runs on: ``slice_def``'s rows of ``scored`` (every row for None or the empty slice).

    The one way analyses take rows: a ``slice_def: SliceDefinition | None`` argument, turned into a mask here,
    so a notebook, a page and ``explore check`` describe, cache and save the same rows the same way.
    """
    return np.ones(scored.n, dtype=bool) if slice_def is None else slice_def.mask(scored)


def _column_values(column: str, scored: Scored) -> tuple[np.ndarray | pd.Series, bool]:
    """(values, are_class_codes) for a column or pseudo-column."""
    if column == LABEL:
        return scored.y, scored.task != "regression"
    if column == PREDICTION:
        return scored.pred, scored.task != "regression"
    if column == CORRECT:
        return scored.correct, False
    if column == TIME:
        if scored.time is None:
            raise AnalysisError(
                "This slice filters on time, but the workspace has no time column. Set [columns] time in workspace.toml."
            )
        return scored.time, False
    if column in (SCORE, LOSS, ROW):
        return numeric_pseudo_values(scored, column), False
    if column not in scored.frame.columns:
        raise AnalysisError(
            f"The slice filters on column '{column}', which dataset '{scored.dataset_name}' does not have. Remove that condition."
        )
    return scored.frame[column], False


def numeric_pseudo_values(scored: Scored, column: str) -> np.ndarray:
    """The values of the numeric pseudo-columns over ``scored``'s rows: ``SCORE`` (binary: the positive-class
    score; multiclass: the probability of the predicted class; regression: the prediction), ``LOSS`` and ``ROW``.
    Raises AnalysisError when the model gives no score."""
    if column == ROW:
        return np.arange(scored.n, dtype="float64")
    if column == LOSS:
        return np.asarray(scored.row_loss, dtype="float64")
    if scored.task == "regression":
        return np.asarray(scored.pred, dtype="float64")
    if scored.score is not None:
        return np.asarray(scored.score, dtype="float64")
    if scored.proba is not None:
        return scored.proba.max(axis=1).astype("float64")
    raise AnalysisError(
        f"Dataset '{scored.dataset_name}' has no scores: the model gives no probabilities and there is no score "
        "column. Choose another column, or set [columns] score in workspace.toml."
    )


def condition_mask(cond: Condition, scored: Scored) -> np.ndarray:
    values, coded = _column_values(cond.column, scored)
    if cond.op == "range":
        if cond.column == TIME or pd.api.types.is_datetime64_any_dtype(getattr(values, "dtype", None)):
            s = pd.Series(values)
            lo = pd.Timestamp(cond.lo) if cond.lo is not None else None
            hi = pd.Timestamp(cond.hi) if cond.hi is not None else None
            arr = s.to_numpy(dtype="datetime64[ns]")
            m = ~np.isnat(arr)
            lo_v = lo.to_datetime64() if lo is not None else None
            hi_v = hi.to_datetime64() if hi is not None else None
        else:
            arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")
            m = ~np.isnan(arr)
            lo_v, hi_v = cond.lo, cond.hi
        if lo_v is not None:
            m &= arr >= lo_v
        if hi_v is not None:
            m &= (arr <= hi_v) if cond.hi_inclusive else (arr < hi_v)
        return m
    if coded:
        wanted = [_class_code(v, scored) for v in cond.values]
        m = np.isin(np.asarray(values), [w for w in wanted if w is not None])
    else:
        s = pd.Series(values) if not isinstance(values, pd.Series) else values
        present = [v for v in cond.values if v is not None]
        m = s.isin(present).to_numpy(copy=True) if present else np.zeros(len(s), dtype=bool)
        if not m.any() and present and s.dtype != object:
            # Values saved as JSON text (e.g. "3" for an integer column): compare as text.
            m = s.astype("string").isin([str(v) for v in present]).fillna(False).to_numpy(dtype=bool)
        if MISSING in cond.values:
            m = m | s.isna().to_numpy()
    return ~m if cond.op == "not_in" else m


def _class_code(value: Any, scored: Scored) -> int | None:
    for i, c in enumerate(scored.classes.tolist()):
        if c == value or str(c) == str(value):
            return i
    return None


def number_labels(values: Any) -> list[str]:
    """Readable labels for bin edges or values, never two alike for different numbers.

    Four significant digits when that tells every value apart, more when it does not; numbers from
    1e5 to 1e15 (yyyymmdd dates, epoch seconds, ids, money) are written out in full rather than as
    ``2.02e+07``, which would give every bin of a yyyymmdd column the same name.
    """
    vals = [float(v) for v in values]

    def one(x: float, digits: int) -> str:
        if x == 0 or not math.isfinite(x):
            return "0" if x == 0 else str(x)
        if 1e5 <= abs(x) < 1e15:
            return f"{x:.0f}" if x.is_integer() else f"{x:.{max(0, digits - 4)}f}"
        return f"{x:.{digits}g}"

    n_distinct = len(set(vals))
    for digits in range(4, 18):
        out = [one(x, digits) for x in vals]
        if len(set(out)) == n_distinct:
            return out
    return [repr(x) for x in vals]
