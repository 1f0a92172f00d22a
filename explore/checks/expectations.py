"""Unit tests for data (ML Test Score Data 1, Monitor 2), in the manner of Great Expectations.

``profile`` turns a dataset known to be good into an **expectation suite** — per column: type, null
rate, range, allowed categories, quantile bands, uniqueness; for the table: row-count bounds — widened
by a ``tolerance`` so natural variation does not alarm. The suite is an editable TOML (or JSON) file
kept next to workspace.toml (``[checks] expectations``; format in docs/checks.md). ``validate`` checks
any dataset against it and returns every expectation's outcome with counts and example rows.

How the profile widens what it saw (``t`` = tolerance, default 0.1):

* null rate ``r``: at most ``r + max(0.02, t·r)``; a column never missing in the good data must stay
  complete (0);
* range ``[lo, hi]``: widened by ``t·(hi − lo)`` on each side (never below 0 for a column that was ≥ 0);
* quantiles 5/25/50/75/95 %: each within ``±t·(q95 − q05)`` of the profiled value;
* categories: text (and boolean) columns with at most ``MAX_CATEGORIES`` distinct values;
* unique: integer or text columns whose every value was distinct (ids);
* rows: a tenth to ten times the profiled count (a truncated or duplicated load, not a normal split).

Range and category expectations hold for a share ``mostly`` of the values (default 0.999). Rates and
quantiles are judged on evidence, so batch size is accounted for: a dataset fails a null-rate, range or
category expectation when an exact one-sided binomial test says its share of breaking values is above
the limit at level ``ALPHA`` (0.001), and a quantile band when the same kind of exact, distribution-free
test places the quantile outside the band. One unlucky value in a 500-row batch does not fail; a small
but real excess in a million rows does. A limit of 0 (never missing) is exact. Type, uniqueness,
presence and row-count expectations are exact. Integer columns whose values never repeat (ids) only
get uniqueness: new ids are expected to be new.

Signatures::

    profile(ws, *, dataset, tolerance=0.1, mostly=0.999, progress=None) -> ExpectationSuite
    profile_frame(frame, *, tolerance=0.1, mostly=0.999, id_column=None, time_column=None, name="data")
    validate(ws, *, dataset, suite=None, progress=None) -> ValidationResult
    validate_frame(frame, suite, *, dataset="data", id_column=None) -> ValidationResult
    load_suite(path) -> ExpectationSuite       save_suite(suite, path) -> Path
    suite_path(ws) -> Path                     suite_from_frame(table, base) -> ExpectationSuite
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore.core.progress import Progress, no_progress
from explore.core.serialise import jsonable, plain, toml_dumps
from explore.core.workspace import Workspace
from explore.errors import AnalysisError, ExploreError, WorkspaceError

SUITE_FORMAT = 1
TYPES = ("number", "integer", "boolean", "datetime", "text")
QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
MAX_CATEGORIES = 50
MAX_EXAMPLES = 5
ROW_FACTOR = 10.0

STATUS_PASS = "pass"
STATUS_FAIL = "fail"

SUITE_MISSING = (
    "The expectation suite '{path}' does not exist yet. Profile a dataset known to be good on the Checks page "
    "(Expectations → Profile → Save), or fix [checks] expectations in workspace.toml."
)
SUITE_SYNTAX = "The expectation suite '{path}' cannot be read: {reason}. See docs/checks.md for the format."
SUITE_BAD = "The expectation suite '{path}': {where} = {received!r} is not valid; {fix}"
SUITE_UNKNOWN_KEY = (
    "The expectation suite '{path}' has an unknown key {key!r} in {where}. Known keys there: {known}."
)
EMPTY_FRAME = "The dataset '{name}' has no rows to profile. Profile a dataset with data."
BAD_TOLERANCE = "The tolerance must be a number between 0 and 5 (0.1 = 10 % of the observed spread); received {received!r}."
BAD_MOSTLY = "mostly must be a share between 0.5 and 1 (e.g. 0.999); received {received!r}."

SUITE_HEADER = """Expectation suite for ml-explore (Checks page → Expectations). Referenced from workspace.toml:
  [checks]
  expectations = "expectations.toml"
Profiled from a dataset known to be good, then edited by hand as needed. Per column: type (number |
integer | boolean | datetime | text), max_null_rate (share 0..1), min / max (numbers; values outside
may be at most 1 - mostly of the non-missing values), allowed (categories; the same share rule),
quantiles (q05..q95 = [low, high] bands for that quantile), unique (every value distinct).
[table]: min_rows / max_rows, allow_extra_columns. Delete a key to drop that expectation. See docs/checks.md."""


@dataclass(frozen=True)
class ColumnExpectation:
    """What one column must look like; ``None`` means "not checked"."""

    column: str
    type: str = "text"
    max_null_rate: float | None = None
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    quantiles: Mapping[str, tuple[float, float]] | None = None
    unique: bool = False

    def to_table(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.max_null_rate is not None:
            out["max_null_rate"] = float(self.max_null_rate)
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        if self.quantiles:
            out["quantiles"] = {k: [float(v[0]), float(v[1])] for k, v in self.quantiles.items()}
        if self.unique:
            out["unique"] = True
        return out


@dataclass(frozen=True)
class ExpectationSuite:
    """Column expectations plus table-level bounds; ``mostly`` applies to range and category checks."""

    columns: Mapping[str, ColumnExpectation]
    min_rows: int | None = None
    max_rows: int | None = None
    allow_extra_columns: bool = True
    tolerance: float = 0.1
    mostly: float = 0.999
    created_from: str = ""
    created_at: str = ""

    def to_data(self) -> dict[str, Any]:
        table = {
            "min_rows": self.min_rows,
            "max_rows": self.max_rows,
            "allow_extra_columns": self.allow_extra_columns,
        }
        return {
            "format": SUITE_FORMAT,
            "created_from": self.created_from or None,
            "created_at": self.created_at or None,
            "tolerance": self.tolerance,
            "mostly": self.mostly,
            "table": {k: v for k, v in table.items() if v is not None},
            "columns": {name: c.to_table() for name, c in self.columns.items()},
        }

    def to_toml(self) -> str:
        return toml_dumps(self.to_data(), header=SUITE_HEADER)

    def to_json(self) -> str:
        return json.dumps({"_about": SUITE_HEADER, **self.to_data()}, indent=2, default=str) + "\n"

    def to_frame(self) -> pd.DataFrame:
        """One row per column for the editor: column, type, max_null_rate, min, max, allowed (text), unique, quantiles."""
        rows = []
        for name, c in self.columns.items():
            rows.append(
                {
                    "column": name,
                    "type": c.type,
                    "max_null_rate": c.max_null_rate,
                    "min": c.min,
                    "max": c.max,
                    "allowed": "" if c.allowed is None else ", ".join(map(str, c.allowed)),
                    "unique": c.unique,
                    "quantiles": bool(c.quantiles),
                }
            )
        return pd.DataFrame(
            rows, columns=["column", "type", "max_null_rate", "min", "max", "allowed", "unique", "quantiles"]
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.to_data())


# ---- profiling --------------------------------------------------------------------------------------


def _kind(s: pd.Series, *, time_column: bool) -> str:
    if time_column or pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "datetime"
    if pd.api.types.is_bool_dtype(s.dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(s.dtype):
        x = s.dropna().to_numpy(dtype="float64")
        if pd.api.types.is_integer_dtype(s.dtype) or (len(x) and np.all(np.mod(x, 1) == 0)):
            return "integer"
        return "number"
    return "text"


def _round_out(lo: float, hi: float) -> tuple[float, float]:
    """Round bounds outward to 6 significant digits (readable files, never tighter than computed)."""

    def sig(v: float, up: bool) -> float:
        if v == 0 or not math.isfinite(v):
            return float(v)
        r = float(f"{v:.6g}")
        if (up and r < v) or (not up and r > v):
            step = 10 ** (math.floor(math.log10(abs(v))) - 5)
            r = float(f"{(v + step) if up else (v - step):.6g}")
        return r

    return sig(lo, False), sig(hi, True)


def _check_options(tolerance: float, mostly: float) -> None:
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance <= 5:
        raise AnalysisError(BAD_TOLERANCE.format(received=tolerance))
    if isinstance(mostly, bool) or not isinstance(mostly, int | float) or not 0.5 <= mostly <= 1:
        raise AnalysisError(BAD_MOSTLY.format(received=mostly))


def profile_column(
    s: pd.Series, *, tolerance: float, is_id: bool = False, is_time: bool = False
) -> ColumnExpectation:
    """The expectations one good column supports (see the module docstring for the widening rules)."""
    n = len(s)
    kind = _kind(s, time_column=is_time)
    null_rate = float(s.isna().mean()) if n else 0.0
    max_null = 0.0 if null_rate == 0 else min(1.0, null_rate + max(0.02, tolerance * null_rate))
    exp = ColumnExpectation(column=str(s.name), type=kind, max_null_rate=round(max_null, 6))
    present = s.dropna()
    if kind in ("number", "integer") and len(present):
        x = present.to_numpy(dtype="float64")
        lo, hi = float(x.min()), float(x.max())
        span = hi - lo
        a, b = lo - tolerance * span, hi + tolerance * span
        if lo >= 0:
            a = max(a, 0.0)
        a, b = _round_out(a, b)
        looks_like_id = is_id or (kind == "integer" and len(present) >= 20 and present.is_unique)
        qs = np.quantile(x, list(QUANTILES.values()))
        width = tolerance * float(qs[-1] - qs[0]) if qs[-1] > qs[0] else tolerance * span
        uniq = np.unique(x)
        if len(uniq) <= MAX_CATEGORIES and len(uniq) > 1:
            width = max(
                width, float(np.median(np.diff(uniq)))
            )  # quantiles of a few levels move a level at a time
        elif kind == "integer":
            width = max(width, 1.0)
        floor = 0.0 if lo >= 0 else -math.inf
        bands = {
            k: _round_out(max(float(q) - width, floor), float(q) + width)
            for k, q in zip(QUANTILES, qs, strict=True)
        }
        # Ids (and integer keys that never repeat) grow with new data: only their uniqueness is expected.
        if not looks_like_id:
            exp = replace(exp, min=plain(a), max=plain(b), quantiles=bands)
    if kind in ("text", "boolean") and len(present):
        values = present.astype(str) if kind == "text" else present
        uniq = pd.unique(values)
        if kind == "boolean" or (
            len(uniq) <= MAX_CATEGORIES and len(uniq) <= max(2, 0.5 * len(present)) and not is_id
        ):
            try:
                allowed = tuple(sorted(uniq.tolist()))
            except TypeError:
                allowed = tuple(sorted(uniq.tolist(), key=str))
            exp = replace(exp, allowed=tuple(plain(v) for v in allowed))
    if kind in ("text", "integer") and len(present) >= 20 and (is_id or present.is_unique):
        exp = replace(exp, unique=bool(present.is_unique))
    return exp


def profile_frame(
    frame: pd.DataFrame,
    *,
    tolerance: float = 0.1,
    mostly: float = 0.999,
    id_column: str | None = None,
    time_column: str | None = None,
    name: str = "data",
    progress: Progress | None = None,
) -> ExpectationSuite:
    """An expectation suite from a DataFrame known to be good."""
    _check_options(tolerance, mostly)
    if len(frame) == 0:
        raise AnalysisError(EMPTY_FRAME.format(name=name))
    report = progress or no_progress
    cols: dict[str, ColumnExpectation] = {}
    for i, c in enumerate(frame.columns):
        report(i / max(frame.shape[1], 1), f"Profiling column '{c}'…")
        cols[str(c)] = profile_column(
            frame[c], tolerance=tolerance, is_id=c == id_column, is_time=c == time_column
        )
    n = len(frame)
    report(1.0, "Profile done.")
    return ExpectationSuite(
        columns=cols,
        min_rows=max(1, int(math.floor(n / ROW_FACTOR))),
        max_rows=int(math.ceil(n * ROW_FACTOR)),
        tolerance=float(tolerance),
        mostly=float(mostly),
        created_from=name,
        created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    )


def profile(
    ws: Workspace,
    *,
    dataset: str,
    tolerance: float = 0.1,
    mostly: float = 0.999,
    progress: Progress | None = None,
) -> ExpectationSuite:
    """Profile the workspace dataset ``dataset`` (every column) into a suite."""
    frame = ws.dataset(dataset)
    return profile_frame(
        frame,
        tolerance=tolerance,
        mostly=mostly,
        id_column=ws.columns.id,
        time_column=ws.columns.time,
        name=dataset,
        progress=progress,
    )


# ---- files --------------------------------------------------------------------------------------------

_TOP = ("format", "created_from", "created_at", "tolerance", "mostly", "table", "columns", "_about")
_TABLE = ("min_rows", "max_rows", "allow_extra_columns")
_COLUMN = ("type", "max_null_rate", "min", "max", "allowed", "quantiles", "unique")


def suite_from_data(data: Mapping[str, Any], *, source: str = "expectations") -> ExpectationSuite:
    """Validate a parsed suite mapping (TOML or JSON)."""

    def bad(where: str, received: Any, fix: str) -> AnalysisError:
        return AnalysisError(SUITE_BAD.format(path=source, where=where, received=received, fix=fix))

    for key in data:
        if key not in _TOP:
            raise AnalysisError(
                SUITE_UNKNOWN_KEY.format(
                    path=source, key=key, where="the top level", known=", ".join(_TOP[:-1])
                )
            )
    table = data.get("table", {})
    if not isinstance(table, Mapping):
        raise bad("table", table, "use a [table] section.")
    for key in table:
        if key not in _TABLE:
            raise AnalysisError(
                SUITE_UNKNOWN_KEY.format(path=source, key=key, where="[table]", known=", ".join(_TABLE))
            )
    for key in ("min_rows", "max_rows"):
        v = table.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise bad(f"[table] {key}", v, "use a whole number ≥ 0.")
    tolerance, mostly = data.get("tolerance", 0.1), data.get("mostly", 0.999)
    try:
        _check_options(tolerance, mostly)
    except AnalysisError as exc:
        raise bad("tolerance / mostly", (tolerance, mostly), exc.message) from None
    columns = data.get("columns", {})
    if not isinstance(columns, Mapping):
        raise bad("columns", columns, "use [columns.<name>] tables.")
    cols: dict[str, ColumnExpectation] = {}
    for name, spec in columns.items():
        where = f"[columns.{name}]"
        if not isinstance(spec, Mapping):
            raise bad(where, spec, "use a table of expectations.")
        for key in spec:
            if key not in _COLUMN:
                raise AnalysisError(
                    SUITE_UNKNOWN_KEY.format(path=source, key=key, where=where, known=", ".join(_COLUMN))
                )
        kind = spec.get("type", "text")
        if kind not in TYPES:
            raise bad(f"{where} type", kind, f"use one of {', '.join(TYPES)}.")
        mnr = spec.get("max_null_rate")
        if mnr is not None and (
            isinstance(mnr, bool) or not isinstance(mnr, int | float) or not 0 <= mnr <= 1
        ):
            raise bad(f"{where} max_null_rate", mnr, "use a share between 0 and 1.")
        for key in ("min", "max"):
            v = spec.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise bad(f"{where} {key}", v, "use a number.")
        if spec.get("min") is not None and spec.get("max") is not None and spec["min"] > spec["max"]:
            raise bad(f"{where} min/max", (spec["min"], spec["max"]), "min must not exceed max.")
        allowed = spec.get("allowed")
        if allowed is not None and not isinstance(allowed, list):
            raise bad(f"{where} allowed", allowed, "use a list of values.")
        quantiles = spec.get("quantiles")
        bands: dict[str, tuple[float, float]] | None = None
        if quantiles is not None:
            if not isinstance(quantiles, Mapping):
                raise bad(f"{where} quantiles", quantiles, "use { q50 = [low, high], … }.")
            bands = {}
            for q, band in quantiles.items():
                ok = (
                    q in QUANTILES
                    and isinstance(band, list)
                    and len(band) == 2
                    and all(isinstance(b, int | float) and not isinstance(b, bool) for b in band)
                    and band[0] <= band[1]
                )
                if not ok:
                    raise bad(
                        f"{where} quantiles.{q}",
                        band,
                        f"use one of {', '.join(QUANTILES)} = [low, high] with low ≤ high.",
                    )
                bands[q] = (float(band[0]), float(band[1]))
        unique = spec.get("unique", False)
        if not isinstance(unique, bool):
            raise bad(f"{where} unique", unique, "use true or false.")
        cols[str(name)] = ColumnExpectation(
            column=str(name),
            type=kind,
            max_null_rate=None if mnr is None else float(mnr),
            min=spec.get("min"),
            max=spec.get("max"),
            allowed=None if allowed is None else tuple(allowed),
            quantiles=bands,
            unique=unique,
        )
    allow_extra = table.get("allow_extra_columns", True)
    if not isinstance(allow_extra, bool):
        raise bad("[table] allow_extra_columns", allow_extra, "use true or false.")
    return ExpectationSuite(
        columns=cols,
        min_rows=table.get("min_rows"),
        max_rows=table.get("max_rows"),
        allow_extra_columns=allow_extra,
        tolerance=float(tolerance),
        mostly=float(mostly),
        created_from=str(data.get("created_from", "")),
        created_at=str(data.get("created_at", "")),
    )


def parse_suite(text: str, *, source: str = "expectations.toml") -> ExpectationSuite:
    """Parse the text of a suite file: JSON when ``source`` ends with .json, else TOML."""
    try:
        data = json.loads(text) if source.lower().endswith(".json") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AnalysisError(SUITE_SYNTAX.format(path=source, reason=exc)) from None
    if not isinstance(data, Mapping):
        raise AnalysisError(SUITE_SYNTAX.format(path=source, reason="the top level is not a table/object"))
    return suite_from_data(data, source=source)


def load_suite(path: Path | str) -> ExpectationSuite:
    """Read a suite file (.toml, or .json)."""
    path = Path(path)
    if not path.exists():
        raise WorkspaceError(SUITE_MISSING.format(path=path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisError(SUITE_SYNTAX.format(path=path, reason=exc)) from None
    return parse_suite(text, source=str(path))


def save_suite(suite: ExpectationSuite, path: Path | str) -> Path:
    """Write the suite (TOML, or JSON for a .json path); return the path."""
    path = Path(path)
    path.write_text(suite.to_json() if path.suffix.lower() == ".json" else suite.to_toml(), encoding="utf-8")
    return path


def suite_path(ws: Workspace) -> Path:
    """``[checks] expectations`` if set, else ``expectations.toml`` next to workspace.toml."""
    return Path(ws.config.checks.expectations or ws.config.root / "expectations.toml")


def suite_from_frame(table: pd.DataFrame, base: ExpectationSuite) -> ExpectationSuite:
    """Rebuild a suite from the editor's table (``ExpectationSuite.to_frame`` columns); rows whose column is
    blank are dropped; quantile bands are kept from ``base`` where ``quantiles`` stays ticked."""
    data = base.to_data()
    columns: dict[str, Any] = {}
    for row in table.to_dict(orient="records"):
        name = str(row.get("column") or "").strip()
        if not name or name == "nan":
            continue
        spec: dict[str, Any] = {"type": str(row.get("type") or "text").strip()}
        for key in ("max_null_rate", "min", "max"):
            v = row.get(key)
            if v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v).strip() != "":
                try:
                    spec[key] = float(v)
                except (TypeError, ValueError):
                    raise AnalysisError(
                        SUITE_BAD.format(
                            path="the editor", where=f"{name} {key}", received=v, fix="use a number."
                        )
                    ) from None
        allowed = str(row.get("allowed") or "").strip()
        if allowed and allowed != "nan":
            old = base.columns.get(name)
            old_values = {str(v): v for v in (old.allowed or ())} if old else {}
            spec["allowed"] = [old_values.get(v.strip(), v.strip()) for v in allowed.split(",") if v.strip()]
        if bool(row.get("unique")):
            spec["unique"] = True
        old = base.columns.get(name)
        if bool(row.get("quantiles")) and old is not None and old.quantiles:
            spec["quantiles"] = {k: list(v) for k, v in old.quantiles.items()}
        columns[name] = spec
    data["columns"] = columns
    return suite_from_data({k: v for k, v in data.items() if v is not None}, source="the editor")


# ---- validation ---------------------------------------------------------------------------------------

RESULT_COLUMNS = [
    "column",
    "expectation",
    "expected",
    "observed",
    "unexpected",
    "unexpected_rate",
    "p_value",
    "status",
]
ALPHA = 0.001  # a batch fails a rate or quantile expectation only on this much evidence (one-sided, exact)


def excess_pvalue(k: int, m: int, limit: float) -> float:
    """P(at least ``k`` of ``m`` values break an expectation | the true share is ``limit``): exact binomial.

    A limit of 0 makes any break impossible (p = 0); no break gives p = 1.
    """
    from scipy import stats

    if m <= 0 or k <= 0:
        return 1.0
    if limit <= 0:
        return 0.0
    if limit >= 1:
        return 1.0
    return float(stats.binom.sf(k - 1, m, limit))


def quantile_pvalue(x: np.ndarray, q: float, lo: float, hi: float) -> float:
    """Evidence that the ``q``-quantile of the population behind ``x`` lies outside ``[lo, hi]`` (exact,
    distribution-free: the count of values below ``lo`` — or at most ``hi`` — is binomial with share ``q``
    when the quantile sits on that bound). Returns the smaller one-sided p-value."""
    from scipy import stats

    m = len(x)
    if m == 0:
        return 1.0
    below = int((x < lo).sum())
    at_most_hi = int((x <= hi).sum())
    p_low = float(stats.binom.sf(below - 1, m, q)) if below > 0 else 1.0
    p_high = float(stats.binom.cdf(at_most_hi, m, q))
    return min(p_low, p_high)


EXAMPLE_COLUMNS = ["column", "expectation", "row", "id", "value"]


@dataclass
class ValidationResult:
    """Every expectation's outcome (``table``: ``RESULT_COLUMNS``; ``unexpected`` counts rows) and, for the
    failing ones, up to ``MAX_EXAMPLES`` example rows (``examples``: ``EXAMPLE_COLUMNS``)."""

    dataset: str
    n_rows: int
    table: pd.DataFrame
    examples: pd.DataFrame
    suite_source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> pd.DataFrame:
        return self.table[self.table["status"] == STATUS_FAIL]

    @property
    def passed(self) -> bool:
        return bool(len(self.violations) == 0)

    def summary(self) -> str:
        v = self.violations
        if v.empty:
            return f"'{self.dataset}' meets all {len(self.table)} expectations ({self.n_rows:,} rows)."
        cols = ", ".join(dict.fromkeys(v["column"]))
        return f"'{self.dataset}' violates {len(v)} of {len(self.table)} expectations, on: {cols}."

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "expectations",
                "passed": self.passed,
                "summary": self.summary(),
                "dataset": self.dataset,
                "n_rows": self.n_rows,
                "suite": self.suite_source,
                "table": self.table,
                "examples": self.examples,
                "notes": self.notes,
            }
        )


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


class _Collector:
    def __init__(self, frame: pd.DataFrame, ids: np.ndarray | None) -> None:
        self.rows: list[dict[str, Any]] = []
        self.examples: list[dict[str, Any]] = []
        self.frame = frame
        self.ids = ids

    def add(
        self,
        column: str,
        expectation: str,
        expected: str,
        observed: str,
        unexpected: int | None,
        n: int,
        ok: bool,
        bad_rows: np.ndarray | None = None,
        values: pd.Series | None = None,
        p_value: float | None = None,
    ) -> None:
        rate = (unexpected / n) if (unexpected is not None and n) else (None if unexpected is None else 0.0)
        self.rows.append(
            {
                "column": column,
                "expectation": expectation,
                "expected": expected,
                "observed": observed,
                "unexpected": unexpected,
                "unexpected_rate": rate,
                "p_value": p_value,
                "status": STATUS_PASS if ok else STATUS_FAIL,
            }
        )
        if not ok and bad_rows is not None and len(bad_rows):
            for r in bad_rows[:MAX_EXAMPLES]:
                value = (
                    values.iloc[r]
                    if values is not None
                    else (self.frame[column].iloc[r] if column in self.frame else None)
                )
                self.examples.append(
                    {
                        "column": column,
                        "expectation": expectation,
                        "row": int(r),
                        "id": None if self.ids is None else self.ids[r],
                        "value": None if pd.isna(value) else value,
                    }
                )


def _validate_column(s: pd.Series, exp: ColumnExpectation, suite: ExpectationSuite, out: _Collector) -> None:
    name = exp.column
    n = len(s)
    isna = s.isna().to_numpy()
    tol_share = 1 - suite.mostly
    # nulls
    if exp.max_null_rate is not None:
        rate = float(isna.mean()) if n else 0.0
        p = excess_pvalue(int(isna.sum()), n, exp.max_null_rate)
        out.add(
            name,
            "null rate",
            f"≤ {exp.max_null_rate:.4g}",
            f"{rate:.4g}",
            int(isna.sum()),
            n,
            rate <= exp.max_null_rate + 1e-12 or p >= ALPHA,
            np.flatnonzero(isna),
            p_value=p,
        )
    present_idx = np.flatnonzero(~isna)
    present = s.iloc[present_idx]
    m = len(present)
    # type
    numeric: np.ndarray | None = None
    if exp.type in ("number", "integer"):
        if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            numeric = present.to_numpy(dtype="float64")
            bad_type = np.zeros(m, dtype=bool)
        else:
            coerced = pd.to_numeric(present, errors="coerce")
            bad_type = coerced.isna().to_numpy()
            numeric = coerced.to_numpy(dtype="float64", na_value=np.nan)
        if exp.type == "integer":
            with np.errstate(invalid="ignore"):
                bad_type = bad_type | (np.isfinite(numeric) & (np.mod(numeric, 1) != 0))
        word = "numbers" if exp.type == "number" else "whole numbers"
        out.add(
            name,
            "type",
            exp.type,
            f"{int(bad_type.sum()):,} values are not {word}" if bad_type.any() else exp.type,
            int(bad_type.sum()),
            m,
            not bad_type.any(),
            present_idx[bad_type],
        )
        numeric = np.where(bad_type, np.nan, numeric)
    elif exp.type == "boolean":
        text = present.astype(str).str.lower()
        bad_type = ~text.isin(["true", "false", "1", "0", "1.0", "0.0", "yes", "no"]).to_numpy()
        out.add(
            name,
            "type",
            "boolean",
            f"{int(bad_type.sum()):,} values are not true/false" if bad_type.any() else "boolean",
            int(bad_type.sum()),
            m,
            not bad_type.any(),
            present_idx[bad_type],
        )
    elif exp.type == "datetime":
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            bad_type = np.zeros(m, dtype=bool)
        else:
            from explore.core.timeparse import parse_time

            try:
                parsed = parse_time(present.reset_index(drop=True), column=name, dataset="this dataset")
                bad_type = parsed.isna().to_numpy()
            except (ExploreError, ValueError, TypeError, OverflowError):
                # parse_time raises a TimeColumnError when most values fail (pandas a ValueError, TypeError or
                # OverflowError on odd values): count them all as bad.
                bad_type = (
                    pd.to_datetime(present.astype(str), errors="coerce", format="mixed").isna().to_numpy()
                )
        out.add(
            name,
            "type",
            "datetime",
            f"{int(bad_type.sum()):,} values are not dates" if bad_type.any() else "datetime",
            int(bad_type.sum()),
            m,
            not bad_type.any(),
            present_idx[bad_type],
        )
    # range
    if numeric is not None and (exp.min is not None or exp.max is not None):
        finite = np.isfinite(numeric)
        outside = np.zeros(m, dtype=bool)
        if exp.min is not None:
            outside |= finite & (numeric < exp.min)
        if exp.max is not None:
            outside |= finite & (numeric > exp.max)
        k = int(outside.sum())
        obs = f"{np.nanmin(numeric):.6g} .. {np.nanmax(numeric):.6g}" if finite.any() else "no numbers"
        expected = f"{_fmt(exp.min) if exp.min is not None else '−∞'} .. {_fmt(exp.max) if exp.max is not None else '∞'}"
        p = excess_pvalue(k, m, tol_share)
        out.add(
            name,
            "range",
            expected,
            obs,
            k,
            m,
            k <= tol_share * m + 1e-9 or p >= ALPHA,
            present_idx[outside],
            p_value=p,
        )
    # quantiles
    if numeric is not None and exp.quantiles:
        finite = numeric[np.isfinite(numeric)]
        if len(finite):
            qs = np.quantile(finite, [QUANTILES[q] for q in exp.quantiles])
            for (q, (lo, hi)), v in zip(exp.quantiles.items(), qs, strict=True):
                p = quantile_pvalue(finite, QUANTILES[q], lo, hi)
                ok = lo - 1e-12 <= v <= hi + 1e-12 or p >= ALPHA
                out.add(name, f"quantile {q}", f"{lo:.6g} .. {hi:.6g}", f"{v:.6g}", None, m, ok, p_value=p)
    # categories
    if exp.allowed is not None:
        allowed_text = {str(v) for v in exp.allowed}
        if exp.type == "boolean":
            allowed_text |= {str(v).lower() for v in exp.allowed}
        text = present.astype(str)
        unexpected = ~text.isin(allowed_text).to_numpy()
        k = int(unexpected.sum())
        if k:
            top = text[unexpected].value_counts().head(5)
            observed = "new: " + ", ".join(f"{v!r} ×{c:,}" for v, c in top.items())
        else:
            observed = f"{text.nunique():,} known values"
        expected = f"one of {len(exp.allowed)} values"
        p = excess_pvalue(k, m, tol_share)
        out.add(
            name,
            "categories",
            expected,
            observed,
            k,
            m,
            k <= tol_share * m + 1e-9 or p >= ALPHA,
            present_idx[unexpected],
            p_value=p,
        )
    # uniqueness
    if exp.unique:
        dup = present.duplicated(keep=False).to_numpy()
        k = int(present.duplicated().sum())
        out.add(
            name,
            "unique",
            "every value distinct",
            f"{k:,} repeated values" if k else "all distinct",
            k,
            m,
            k == 0,
            present_idx[dup],
        )


def validate_frame(
    frame: pd.DataFrame,
    suite: ExpectationSuite,
    *,
    dataset: str = "data",
    id_column: str | None = None,
    progress: Progress | None = None,
    source: str = "",
) -> ValidationResult:
    """Check ``frame`` against ``suite``; every expectation becomes one row of ``ValidationResult.table``."""
    report = progress or no_progress
    ids = frame[id_column].to_numpy() if id_column and id_column in frame.columns else None
    out = _Collector(frame, ids)
    n = len(frame)
    if suite.min_rows is not None or suite.max_rows is not None:
        lo = suite.min_rows if suite.min_rows is not None else 0
        hi = suite.max_rows if suite.max_rows is not None else math.inf
        out.add(
            "(table)",
            "row count",
            f"{lo:,} .. {hi:,}" if hi != math.inf else f"≥ {lo:,}",
            f"{n:,}",
            None,
            n,
            lo <= n <= hi,
        )
    notes = []
    extra = [c for c in frame.columns if c not in suite.columns]
    if extra:
        if suite.allow_extra_columns:
            notes.append(f"Columns not in the suite (not checked): {', '.join(map(str, extra[:20]))}.")
        else:
            for c in extra:
                out.add(str(c), "present in suite", "no extra columns", "extra column", None, n, False)
    for i, (name, exp) in enumerate(suite.columns.items()):
        report(i / max(len(suite.columns), 1), f"Checking column '{name}'…")
        if name not in frame.columns:
            out.add(name, "present", "column present", "missing", None, n, False)
            continue
        _validate_column(frame[name], exp, suite, out)
    report(1.0, "Validation done.")
    return ValidationResult(
        dataset=dataset,
        n_rows=n,
        table=pd.DataFrame(out.rows, columns=RESULT_COLUMNS),
        examples=pd.DataFrame(out.examples, columns=EXAMPLE_COLUMNS),
        suite_source=source,
        notes=notes,
    )


def validate(
    ws: Workspace, *, dataset: str, suite: ExpectationSuite | None = None, progress: Progress | None = None
) -> ValidationResult:
    """Validate the workspace dataset ``dataset`` against ``suite`` (default: the workspace's suite file)."""
    source = "the suite being edited"
    if suite is None:
        path = suite_path(ws)
        suite = load_suite(path)
        source = str(path)
    return validate_frame(
        ws.dataset(dataset), suite, dataset=dataset, id_column=ws.columns.id, progress=progress, source=source
    )
