"""A column cut into groups in the engine, the way ``explore.slices.grouping.group_column`` cuts it in memory.

Numeric columns: quantile bins whose edges come from the engine's distinct-value counts (bit-identical to
``np.quantile`` over the rows; above ``MAX_DISTINCT`` distinct values, DuckDB's ``quantile_cont``). Categorical
columns: the most frequent values, then "(other)", then "(missing)" — from the engine's value counts (ties at
the cut-off are broken by value here, by first appearance in memory). Labels and slice conditions are built by
the same functions as in memory, so a group found on a log is a ``SliceDefinition`` like any other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from explore.engine.log import LogTable, literal, quote
from explore.errors import AnalysisError
from explore.slices import grouping
from explore.slices.definition import Condition
from explore.staleness.drift import quantiles_from_distinct

if TYPE_CHECKING:
    import pandas as pd

    from explore.engine.metrics import Grouping
    from explore.slices.report import FairnessParams, FairnessResult

MAX_DISTINCT = 1_000_000
_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UTINYINT",
            "USMALLINT", "UINTEGER", "UBIGINT")  # fmt: skip


@dataclass(frozen=True)
class EngineGrouping:
    """Groups of one column: ``code`` is a SQL expression over ``rows`` giving each row's group (−1: none)."""

    column: str
    kind: str
    code: str
    labels: list[str]
    conditions: list[Condition] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def keys(self) -> list[str]:
        return [f"{self.column} = {label}" for label in self.labels]


def _case(expr_by_code: list[tuple[str, int]], default: int) -> str:
    whens = " ".join(f"WHEN {cond} THEN {code}" for cond, code in expr_by_code)
    return f"(CASE {whens} ELSE {default} END)" if whens else str(default)


def group_column(
    log: LogTable, column: str, *, bins: int = grouping.DEFAULT_BINS, max_groups: int = grouping.MAX_GROUPS
) -> EngineGrouping:
    """``explore.slices.grouping.group_column`` for a log column, computed from engine aggregates."""
    if column not in log.types:
        raise AnalysisError(
            grouping.UNKNOWN_COLUMN.format(
                column=column, dataset=log.name, columns=", ".join(list(log.types)[:40])
            )
        )
    if not 2 <= bins <= grouping.MAX_BINS:
        raise AnalysisError(
            grouping.BAD_BINS.format(column=column, max_bins=grouping.MAX_BINS, received=bins)
        )
    t = log.types[column].upper().split("(")[0]
    col = f"rows.{quote(column)}"
    if t.startswith("TIMESTAMP") or t == "DATE":
        raise AnalysisError(
            f"Grouping the time column '{column}' of an engine dataset is done by calendar windows: use "
            "explore.engine.by_time_window (the Staleness page), or pick another column."
        )
    if t in _NUMERIC:
        x = f"CAST({col} AS DOUBLE)"
        missing = f"({x} IS NULL OR isnan({x}))"
        # The distinct values and their counts, fetched once (at most MAX_DISTINCT + 1 of them).
        r = log.sql(
            f"SELECT {x} AS v, count(*) AS n FROM rows WHERE NOT {missing} GROUP BY 1 ORDER BY 1 LIMIT {MAX_DISTINCT + 1}"
        ).fetchnumpy()
        if len(r["v"]) > max(bins, 10):
            return _drop_empty(log, _numeric(log, column, x, missing, bins, r))
        x, missing = col, f"({col} IS NULL OR isnan({col}))"  # few values: categories, as written
    else:
        x = col
        missing = f"({col} IS NULL)"
    return _categorical(log, column, x, missing, max_groups)


def _numeric(log: LogTable, column: str, x: str, missing: str, bins: int, r: dict) -> EngineGrouping:
    probs = np.linspace(0, 1, bins + 1)
    if len(r["v"]) <= MAX_DISTINCT:
        below = np.concatenate([[0], np.cumsum(np.asarray(r["n"], dtype="int64"))])
        qs = quantiles_from_distinct(np.asarray(r["v"], dtype="float64"), below, probs)
    else:
        listed = ", ".join(repr(float(q)) for q in probs)
        qs = np.asarray(
            log.sql(f"SELECT quantile_cont({x}, [{listed}]) FROM rows WHERE NOT {missing}").fetchall()[0][0]
        )
    inner = grouping.quantile_inner_edges(qs)
    labels, conditions = grouping.quantile_bin_groups(column, inner)
    code = " + ".join(f"({x} >= {float(e)!r})::INTEGER" for e in inner) or "0"
    has_missing = bool(log.sql(f"SELECT count(*) FROM rows WHERE {missing}").fetchall()[0][0])
    if has_missing:
        labels.append(grouping.MISSING_LABEL)
        conditions.append(Condition(column, "in", values=(None,)))
    return EngineGrouping(
        column, "numeric", f"(CASE WHEN {missing} THEN {len(inner) + 1} ELSE {code} END)", labels, conditions
    )


def _categorical(log: LogTable, column: str, x: str, missing: str, max_groups: int) -> EngineGrouping:
    vc = log.sql(
        f"SELECT {x} AS v, count(*) AS n FROM rows WHERE NOT {missing} GROUP BY 1 ORDER BY n DESC, v"
    ).fetchall()
    has_missing = bool(log.sql(f"SELECT count(*) FROM rows WHERE {missing}").fetchall()[0][0])
    room = max(max_groups - int(has_missing), 1)
    kept = vc[:room] if len(vc) <= room else vc[: room - 1]
    kept_values = [v for v, _ in kept]
    has_other = len(kept) < len(vc)
    sorted_pos, labels, conditions = grouping.category_groups(column, kept_values, has_other, has_missing)
    whens = [(f"{x} = {literal(kept_values[j])}", new) for new, j in enumerate(sorted_pos)]
    if has_missing:
        whens.insert(0, (missing, len(labels) - 1))
    other = len(kept) if has_other else -1
    return EngineGrouping(column, "categorical", _case(whens, other), labels, conditions)


def _drop_empty(log: LogTable, g: EngineGrouping) -> EngineGrouping:
    r = log.sql(f"SELECT {g.code} AS g, count(*) AS n FROM rows GROUP BY 1").fetchnumpy()
    counts = np.zeros(g.n_groups, dtype="int64")
    codes = np.asarray(r["g"], dtype=np.intp)
    ok = codes >= 0
    counts[codes[ok]] = np.asarray(r["n"])[ok]
    if (counts > 0).all():
        return g
    keep = np.flatnonzero(counts > 0)
    code = _case([(f"{g.code} = {old}", new) for new, old in enumerate(keep)], -1)
    return EngineGrouping(
        g.column, g.kind, code, [g.labels[i] for i in keep], [g.conditions[i] for i in keep]
    )


def cross(log: LogTable, a: EngineGrouping, b: EngineGrouping) -> EngineGrouping:
    """Groups of two columns together (every non-empty pair), labelled ``a-label × b-label``."""
    nb = b.n_groups
    g = EngineGrouping(
        f"{a.column} × {b.column}",
        "cross",
        f"(CASE WHEN {a.code} < 0 OR {b.code} < 0 THEN -1 ELSE {a.code} * {nb} + {b.code} END)",
        [f"{la} × {lb}" for la in a.labels for lb in b.labels],
        [],
    )
    return _drop_empty(log, g)


def condition_sql(log: LogTable, cond: Condition) -> str:
    """A slice condition as SQL over ``rows`` (missing values excluded from ranges, as in memory)."""
    if cond.column not in log.types:
        raise AnalysisError(
            f"The slice condition on '{cond.column}' cannot run in the engine: dataset '{log.name}' has no such "
            "column (pseudo-columns such as the label or the prediction are for in-memory datasets). Remove it "
            "from the filter."
        )
    t = log.types[cond.column].upper().split("(")[0]
    col = f"rows.{quote(cond.column)}"
    numeric = t in _NUMERIC
    is_time = t.startswith("TIMESTAMP") or t == "DATE"
    missing = f"({col} IS NULL OR isnan({col}))" if numeric else f"({col} IS NULL)"
    if cond.op == "range":
        parts = [f"NOT {missing}"]
        if is_time:
            lo = None if cond.lo is None else f"TIMESTAMP {literal(str(cond.lo))}"
            hi = None if cond.hi is None else f"TIMESTAMP {literal(str(cond.hi))}"
            col = f"CAST({col} AS TIMESTAMP)"
        else:
            lo = None if cond.lo is None else repr(float(cond.lo))
            hi = None if cond.hi is None else repr(float(cond.hi))
        if lo is not None:
            parts.append(f"{col} >= {lo}")
        if hi is not None:
            parts.append(f"{col} {'<=' if cond.hi_inclusive else '<'} {hi}")
        return "(" + " AND ".join(parts) + ")"
    values = [v for v in cond.values if v is not None]
    with_none = len(values) < len(cond.values)
    listed = f"{col} IN ({', '.join(literal(v) for v in values)})" if values else "FALSE"
    if cond.op == "in":
        return f"({listed} OR {missing})" if with_none else f"(coalesce({listed}, FALSE))"
    inside = f"(coalesce({listed}, FALSE) OR {missing})" if with_none else f"coalesce({listed}, FALSE)"
    return f"(NOT {inside})"


def slice_where(log: LogTable, conditions: list[Condition] | tuple[Condition, ...]) -> str | None:
    """The conjunction of a slice's conditions as SQL (None: every row)."""
    return " AND ".join(condition_sql(log, c) for c in conditions) or None


# Above this many rows, ``group_columns`` cuts every column from a handful of queries (edges of numeric columns
# with many values from a reservoir sample of ``EDGE_SAMPLE_ROWS`` rows) instead of a few queries per column.
BATCH_ROWS = 1_000_000
EDGE_SAMPLE_ROWS = 1_000_000
# A numeric column with more distinct values than this (HyperLogLog estimate) takes the sample's quantiles.
_FEW_VALUES = 1000


def group_columns(
    log: LogTable,
    columns: list[str],
    *,
    bins: int = grouping.DEFAULT_BINS,
    max_groups: int = grouping.MAX_GROUPS,
    id_ratio: float = 0.9,
    count_missing: bool = True,
) -> tuple[list[EngineGrouping], dict[str, str]]:
    """Every column of ``columns`` cut as ``group_column`` cuts it, and why the others were left out.

    Up to ``BATCH_ROWS`` rows: ``group_column`` per column (bins bit-identical to the in-memory path). Above it, in
    three passes whatever the number of columns: one sample of every column (DuckDB's system sampling of about
    ``EDGE_SAMPLE_ROWS`` rows; all rows of a smaller log) tells which numeric columns have many values, which
    columns are identifiers (distinct values on more than ``id_ratio`` of the sampled rows), and gives the
    quantile edges of the many-valued ones — the edges of a sample, the rows counted in each bin all of them;
    one ``GROUPING SETS`` query counts the values of the other columns; one counts the missing values of the
    many-valued ones (``count_missing=False``: not counted, every many-valued column given a missing group,
    perhaps empty — for a caller that counts its groups' rows anyway and so saves a pass over the files). A
    column with a single value, or an identifier, is left out with its reason."""
    total = log.n
    out: list[EngineGrouping] = []
    skipped: dict[str, str] = {}
    if total <= BATCH_ROWS:
        for c in columns:
            try:
                g = group_column(log, c, bins=bins, max_groups=max_groups)
            except AnalysisError as exc:
                skipped[c] = str(exc)
                continue
            out.append(g)
        return out, skipped
    for c in columns:
        if c not in log.types:
            skipped[c] = grouping.UNKNOWN_COLUMN.format(
                column=c, dataset=log.name, columns=", ".join(list(log.types)[:40])
            )
        elif log.types[c].upper().startswith(("TIMESTAMP", "DATE")):
            skipped[c] = "is the time column (grouped by calendar windows on the Staleness page)"
    todo = [c for c in columns if c not in skipped]
    if not todo:
        return out, skipped
    kinds = {c: log.types[c].upper().split("(")[0] for c in todo}
    # One sample of every column (all rows when the log has at most EDGE_SAMPLE_ROWS): which numeric columns
    # have many values, which columns are identifiers, and the edges of the former.
    sel = ", ".join(
        (f"CAST(rows.{quote(c)} AS DOUBLE)" if kinds[c] in _NUMERIC else f"rows.{quote(c)}")
        + f" AS {quote(c)}"
        for c in todo
    )
    draw = (
        f"USING SAMPLE {100.0 * EDGE_SAMPLE_ROWS / total!r} PERCENT (system, 0)"
        if total > EDGE_SAMPLE_ROWS
        else ""
    )
    sample = log.sql(f"SELECT {sel} FROM rows {draw}").df()
    m_sample = max(len(sample), 1)
    distinct = {c: int(sample[c].nunique(dropna=True)) for c in todo}
    many = [c for c in todo if kinds[c] in _NUMERIC and distinct[c] > _FEW_VALUES]
    few = [c for c in todo if c not in many]
    for c in list(few):
        if m_sample > 100 and distinct[c] / m_sample > id_ratio:
            skipped[c] = "is an identifier (nearly every value distinct)"
            few.remove(c)
    n_missing: dict[str, int] = {}
    if many and not count_missing:
        n_missing.update(dict.fromkeys(many, 1))  # a missing group whether or not a value is missing
    elif many:
        aggs = [f"count(*) FILTER (WHERE rows.{quote(c)} IS NULL OR isnan(rows.{quote(c)}))" for c in many]
        n_missing.update(
            zip(many, map(int, log.sql(f"SELECT {', '.join(aggs)} FROM rows").fetchall()[0]), strict=True)
        )
    counts: dict[str, list[tuple[object, int]]] = {}
    if few:
        names = [f"v{i}" for i in range(len(few))]
        sel = ", ".join(f"rows.{quote(c)} AS {v}" for c, v in zip(few, names, strict=True))
        sets = ", ".join(f"({v})" for v in names)
        vc = log.sql(
            f"SELECT {', '.join(names)}, GROUPING({', '.join(names)}) AS gid, count(*) AS n "
            f"FROM (SELECT {sel} FROM rows) GROUP BY GROUPING SETS ({sets})"
        ).fetchall()
        m = len(names)
        for i, c in enumerate(few):
            gid = (1 << m) - 1 - (1 << (m - 1 - i))
            vals = [(row[i], int(row[m + 1])) for row in vc if row[m] == gid]
            n_missing[c] = sum(n for v, n in vals if v is None or (isinstance(v, float) and math.isnan(v)))
            counts[c] = [
                (v, n) for v, n in vals if v is not None and not (isinstance(v, float) and math.isnan(v))
            ]
    probs = np.linspace(0, 1, bins + 1)
    for c in columns:
        if c in skipped:
            continue
        col = f"rows.{quote(c)}"
        if c in many or (kinds[c] in _NUMERIC and len(counts[c]) > max(bins, 10)):
            x = f"CAST({col} AS DOUBLE)"
            missing = f"({x} IS NULL OR isnan({x}))"
            if c in many:
                v = sample[c].to_numpy(dtype="float64")
                v = v[~np.isnan(v)]
                qs = np.quantile(v, probs) if v.size else None
            else:
                vals = sorted(counts[c])
                u = np.asarray([float(a) for a, _ in vals])
                below = np.concatenate([[0], np.cumsum([n for _, n in vals])])
                qs = quantiles_from_distinct(u, below, probs)
            inner = grouping.quantile_inner_edges(qs)
            labels, conditions = grouping.quantile_bin_groups(c, inner)
            code = " + ".join(f"({x} >= {float(e)!r})::INTEGER" for e in inner) or "0"
            if n_missing[c]:
                labels.append(grouping.MISSING_LABEL)
                conditions.append(Condition(c, "in", values=(None,)))
            out.append(
                EngineGrouping(
                    c,
                    "numeric",
                    f"(CASE WHEN {missing} THEN {len(inner) + 1} ELSE {code} END)",
                    labels,
                    conditions,
                )
            )
            continue
        vc_sorted = sorted(counts[c], key=lambda kv: (-kv[1], kv[0]))
        if len(vc_sorted) + bool(n_missing[c]) < 2:
            skipped[c] = "has a single value"
            continue
        numeric = kinds[c] in _NUMERIC
        missing = f"({col} IS NULL OR isnan({col}))" if numeric else f"({col} IS NULL)"
        room = max(max_groups - int(bool(n_missing[c])), 1)
        kept = vc_sorted[:room] if len(vc_sorted) <= room else vc_sorted[: room - 1]
        kept_values = [v for v, _ in kept]
        has_other = len(kept) < len(vc_sorted)
        sorted_pos, labels, conditions = grouping.category_groups(
            c, kept_values, has_other, bool(n_missing[c])
        )
        whens = [(f"{col} = {literal(kept_values[j])}", new) for new, j in enumerate(sorted_pos)]
        if n_missing[c]:
            whens.insert(0, (missing, len(labels) - 1))
        out.append(
            EngineGrouping(c, "categorical", _case(whens, len(kept) if has_other else -1), labels, conditions)
        )
    return out, skipped


def label_std(log: LogTable) -> float:
    """A regressor's label's standard deviation over every row of the log (``explore.slices.report.label_std`` of
    the rows: finite labels, ddof 1; 0 with fewer than two), one aggregate, kept in ``log.memo``. The default
    largest fairness gap is a share of it, on the Slices page and in the notebook alike."""
    if "label std" not in log.memo:
        y = "(CASE WHEN isfinite(_y) THEN _y END)"
        sd, n = log.sql(f"SELECT stddev_samp({y}), count({y}) FROM rows").fetchall()[0]
        log.memo["label std"] = float(sd) if n > 1 and sd is not None else 0.0
    return log.memo["label std"]


def fairness_gaps(
    log: LogTable,
    column: str,
    params: FairnessParams | None = None,
    *,
    where: str | None = None,
) -> FairnessResult:
    """``explore.slices.report.fairness_gaps`` over every row of the log (those matching the SQL ``where``),
    measured as ``params`` (a ``FairnessParams``, default ``FairnessParams()``) says: the per-group counts and sums
    in one engine query, the gaps and intervals by the in-memory code."""
    from explore.slices import report

    p = params if params is not None else report.FairnessParams()
    threshold, positive, min_support, confidence = p.threshold, p.positive, p.min_support, p.confidence
    g = group_column(log, column, bins=p.bins, max_groups=p.max_groups)
    G = g.n_groups
    cond = f"WHERE g >= 0 AND ({where})" if where else "WHERE g >= 0"
    if log.task == "regression":
        cls = None
        aggs, names = ["count(*)"], []
        for name, v in (("mean prediction", "_pred"), ("MAE", "abs(_pred - _y)")):
            ok = f"isfinite({v})"
            aggs += [
                f"count(*) FILTER (WHERE {ok})",
                f"sum({v}) FILTER (WHERE {ok})",
                f"sum({v} * {v}) FILTER (WHERE {ok})",
            ]
            names.append(name)
    else:
        k = report.fairness_class(log.task, log.classes, log.positive_index, positive)
        cls = log.classes[k]
        aggs = [
            "count(*)",
            f"count(*) FILTER (WHERE _y = {k})",
            f"count(*) FILTER (WHERE _pred = {k})",
            f"count(*) FILTER (WHERE _y = {k} AND _pred = {k})",
            "count(*) FILTER (WHERE _pred = _y)",
        ]
    r = log.sql(
        f"SELECT g, {', '.join(aggs)} FROM (SELECT *, {g.code} AS g FROM rows) AS rows {cond} GROUP BY g"
    ).fetchall()
    table = np.zeros((len(aggs), G))
    for row in r:
        table[:, int(row[0])] = [0.0 if v is None else float(v) for v in row[1:]]
    support = table[0]
    if log.task == "regression":
        sums = {name: (table[1 + 3 * i], table[2 + 3 * i], table[3 + 3 * i]) for i, name in enumerate(names)}
    else:
        sums = dict(zip(("positives", "selected", "true positives", "correct"), table[1:], strict=True))
    return report.fairness_from_sums(
        column, g.labels, log.task, cls, support, sums,
        threshold=threshold, min_support=min_support, confidence=confidence,
    )  # fmt: skip


def window_counts(log: LogTable, grouping: Grouping, in_slice: str | None) -> pd.DataFrame:
    """One GROUP BY over the log's rows (in the slice): per window start, the counts that
    ``explore.staleness.experiment.rates_table`` turns into label / prediction shares (classification: rows, and
    rows whose label / prediction is each class) or means (regression: count, sum and sum of squares of the
    finite labels and predictions)."""
    if log.task == "regression":
        parts = []
        for name, col in (("label", "_y"), ("prediction", "_pred")):
            ok = f"isfinite({col})"
            parts += [
                f'count(CASE WHEN {ok} THEN 1 END) AS "{name}:count"',
                f'sum(CASE WHEN {ok} THEN {col} END) AS "{name}:sum"',
                f'sum(CASE WHEN {ok} THEN {col} * {col} END) AS "{name}:sum2"',
            ]
    else:
        parts = ["count(*) AS support"] + [
            f'count(CASE WHEN {col} = {k} THEN 1 END) AS "{name}:{k}"'
            for name, col in (("label", "_y"), ("prediction", "_pred"))
            for k in range(log.K)
        ]
    where = " AND ".join(f"({w})" for w in (grouping.where, in_slice) if w) or "TRUE"
    return log.sql(
        f"SELECT {grouping.exprs[0]} AS start, {', '.join(parts)} FROM rows WHERE {where} GROUP BY 1"
    ).df()
