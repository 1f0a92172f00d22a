"""A predictions log in DuckDB: the label, prediction and scores of every row encoded once as a view.

``open_log(source, columns, task=…, classes=…, positive=…)`` validates the role columns and defines the view
``rows`` over the files: ``_y`` (class code, or the label as a number for regression), ``_pred`` (class code,
-1 outside the classes), ``_score`` (binary: the positive-class score), ``_p0 … _p{K-1}`` (probabilities) —
the same encoding as ``explore.core.workspace.score`` gives a ``Scored`` in memory, so that every analysis in
``explore.engine`` is one query over ``rows`` and its numbers equal the pandas path's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from explore import errors
from explore.core.workspace import ColumnRoles, _match_value, _text_key
from explore.engine.source import EngineSource, open_source

_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)


def quote(name: str) -> str:
    """A column name as a SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A Python scalar as a SQL literal."""
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class LogTable:
    """An out-of-core labelled dataset with its predictions, on a DuckDB connection (view ``rows``)."""

    con: duckdb.DuckDBPyConnection
    name: str
    task: str
    classes: np.ndarray | None
    positive_index: int | None
    columns: ColumnRoles
    types: dict[str, str]
    has_proba: bool
    has_score: bool
    unavailable: dict[str, str] = field(default_factory=dict)
    # Aggregates over all rows, computed once (explore.engine.metrics): the log's rows do not change.
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def K(self) -> int:
        return 0 if self.classes is None else len(self.classes)

    @property
    def n(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM rows").fetchall()[0][0])

    def __enter__(self) -> LogTable:
        return self

    def __exit__(self, *exc: object) -> None:
        """``with ws.log(name) as log:`` closes the connection the log was opened on."""
        self.con.close()

    def sql(self, query: str, params: list | None = None) -> Any:
        return self.con.execute(query, params or [])

    def p_true(self) -> str:
        """SQL: the probability the row's true class got."""
        whens = " ".join(f"WHEN {k} THEN _p{k}" for k in range(self.K))
        return f"(CASE _y {whens} END)"


def footer_score_range(files: Sequence[Path], score: str, label: str) -> tuple[float, float, int] | None:
    """(min, max, rows with a label) of the ``score`` column of the Parquet ``files``, from their footers' row
    group statistics — no pass over the rows — when they settle the question ``open_log`` asks (is the score a
    probability in [0, 1]?): the footers' range covers the unlabelled rows too, so a range inside [0, 1] is
    the labelled rows' answer as well. None (the caller reads the rows) when a row group lacks a statistic, the
    label is not a column of the files (a hive partition), or the range leaves [0, 1]."""
    listed = ", ".join(literal(str(f)) for f in files)
    con = duckdb.connect()
    try:
        got = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT path_in_schema, count(*), count(TRY_CAST(stats_min_value AS DOUBLE)), "
                "count(TRY_CAST(stats_max_value AS DOUBLE)), count(stats_null_count), "
                "min(TRY_CAST(stats_min_value AS DOUBLE)), max(TRY_CAST(stats_max_value AS DOUBLE)), "
                "sum(stats_null_count), sum(row_group_num_rows) "
                f"FROM parquet_metadata([{listed}]) WHERE path_in_schema IN (?, ?) GROUP BY 1",
                [score, label],
            ).fetchall()
        }
    except duckdb.Error:  # a file that is not Parquet, or gone: the rows are read
        return None
    finally:
        con.close()
    if score not in got or label not in got:
        return None
    groups, n_min, n_max, _, lo, hi, _, _ = got[score]
    label_groups, _, _, n_null, _, _, nulls, rows = got[label]
    if not (n_min == n_max == groups and n_null == label_groups) or lo is None or hi is None:
        return None
    if not (lo >= 0 and hi <= 1):  # the unlabelled rows may be the ones outside: the rows say
        return None
    return float(lo), float(hi), int(rows - nulls)


def _one_row_read(con: Any, query: str) -> tuple:
    """The one row of ``query``, computed from the rows' values. DuckDB takes a Parquet file's min / max statistics
    for a column's whole range, but writers leave NaN out of them: its statistics propagation then folded
    ``isnan(x)`` to false and a NaN score's ``max`` was NaN, "not a probability in [0, 1]", in pyarrow's files
    and not in DuckDB's own (no statistics for a column with NaN). The optimisation is off for this query only."""
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return con.execute(query).fetchall()[0]
    with duckdb_setting(
        con,
        "disabled_optimizers",
        lambda before: ",".join(p for p in [before, "statistics_propagation"] if p),
    ):
        return con.execute(query).fetchall()[0]


@contextlib.contextmanager
def duckdb_setting(con: Any, name: str, change: Callable[[Any], Any]) -> Iterator[None]:
    """A setting of the DuckDB connection ``con`` set to ``change(its value)`` in the block, put back after (an
    empty text setting reads as NULL: put back as '')."""
    before = con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]
    before = "" if before is None else before
    con.execute(f"SET {name} = {literal(change(before))}")
    try:
        yield
    finally:
        con.execute(f"SET {name} = {literal(before)}")


def _is_numeric(sql_type: str) -> bool:
    return sql_type.upper().split("(")[0] in _NUMERIC


def _encode_sql(col: str, sql_type: str, classes: np.ndarray) -> str:
    """SQL mapping a column's values to their index in ``classes`` (-1 when absent), as ``_encode`` does."""
    parts = []
    for k, c in enumerate(classes.tolist()):
        if (
            (
                _is_numeric(sql_type)
                and isinstance(c, int | float | np.integer | np.floating)
                and not isinstance(c, bool)
            )
            or sql_type.upper() == "BOOLEAN"
            and isinstance(c, bool | np.bool_)
        ):
            parts.append(f"WHEN {quote(col)} = {literal(c)} THEN {k}")
        else:
            parts.append(f"WHEN CAST({quote(col)} AS VARCHAR) = {literal(_text_key(c))} THEN {k}")
    return f"(CASE {' '.join(parts)} ELSE -1 END)"


def _need(types: dict[str, str], col: str | None, role: str, name: str) -> None:
    if col and col not in types:
        shown = ", ".join(list(types)[:30])
        raise errors.ColumnError(
            f"The {role} column '{col}' named in workspace.toml [columns] is not in dataset '{name}'. "
            f"Its columns: {shown}. Fix the name in [columns] {role}."
        )


def open_log(
    source: EngineSource | duckdb.DuckDBPyConnection,
    columns: ColumnRoles,
    *,
    name: str = "log",
    task: str | None = None,
    classes: np.ndarray | list | None = None,
    positive: Any = None,
    parquet_files: Sequence[Path] | None = None,
) -> LogTable:
    """Open ``source`` (or a connection with a ``source`` view) as a predictions log with the roles ``columns``.

    ``task`` / ``classes`` / ``positive``: as the workspace says (binary, multiclass, regression); the
    classes default to the sorted distinct labels, the positive class to the last of two. ``parquet_files``: the
    local Parquet files the view reads, if it reads such files: a binary score's range and the labelled rows are
    then read from their footers when those settle it (``footer_score_range``) instead of a pass over the rows.
    """
    # A connection: DuckDB's, or one with its API (explore.engine.spark.SparkConnection).
    con = open_source(source, where=f"[datasets] {name}") if isinstance(source, EngineSource) else source
    types = {r[0]: str(r[1]) for r in con.execute("DESCRIBE source").fetchall()}
    _need(types, columns.label, "label", name)
    _need(types, columns.prediction, "prediction", name)
    _need(types, columns.score, "score", name)
    _need(types, columns.time, "time", name)
    for klass, c in columns.scores.items():
        _need(types, c, f"scores.{klass}", name)
    if not (columns.prediction or columns.score or columns.scores):
        raise errors.WorkspaceError(
            f"Dataset '{name}' is read by the engine, which works from predictions in the data: name them in "
            '[columns] prediction = "…" (and score = "…" or scores = { class = "column" }).'
        )
    label = quote(columns.label)
    task = task or columns.task
    if task is None:
        task = (
            "regression"
            if _is_numeric(types[columns.label]) and columns.score is None and not columns.scores
            else "binary"
        )
        if task == "regression":
            distinct = con.execute(f"SELECT count(DISTINCT {label}) FROM source").fetchall()[0][0]
            frac = con.execute(f"SELECT count(*) FROM source WHERE {label} <> round({label})").fetchall()[0][
                0
            ]
            task = "regression" if frac or distinct > 20 else "binary"
    if task not in ("binary", "multiclass", "regression"):
        raise errors.WorkspaceError(errors.TASK_UNKNOWN.format(received=task))
    unavailable: dict[str, str] = {}
    memo: dict[str, Any] = {}
    select = ["*"]
    has_proba = has_score = False
    positive_index = None
    if task == "regression":
        classes_arr = None
        select.append(f"TRY_CAST({label} AS DOUBLE) AS _y")
        if not columns.prediction:
            raise errors.WorkspaceError(
                f"Dataset '{name}' is a regression log: name its prediction column in [columns] prediction."
            )
        select.append(f"TRY_CAST({quote(columns.prediction)} AS DOUBLE) AS _pred")
    else:
        if classes is None:
            values = [
                r[0]
                for r in con.execute(
                    f"SELECT DISTINCT {label} FROM source WHERE {label} IS NOT NULL"
                ).fetchall()
            ]
            classes = sorted(values)
        classes_arr = np.asarray(classes)
        if task == "binary":
            if len(classes_arr) != 2:
                raise errors.LabelError(
                    f"Dataset '{name}' is binary but its label '{columns.label}' has {len(classes_arr)} classes "
                    f'({errors.shown(classes_arr, 5)}). Set [columns] task = "multiclass", or fix the labels.'
                )
            match = _match_value(positive, classes_arr) if positive is not None else classes_arr[-1]
            if match is None:
                raise errors.LabelError(
                    errors.POSITIVE_NOT_IN_LABELS.format(
                        positive=positive, label=columns.label, found=errors.shown(classes_arr, 10)
                    )
                )
            positive_index = int(np.flatnonzero(classes_arr == match)[0])
        select.append(f"{_encode_sql(columns.label, types[columns.label], classes_arr)} AS _y")
        probs: list[str] | None = None
        if task == "binary" and columns.score:
            s = f"CAST({quote(columns.score)} AS DOUBLE)"
            select.append(f"{s} AS _score")
            has_score = True
            footer = None
            if parquet_files and _is_numeric(types[columns.score]):
                footer = footer_score_range(parquet_files, columns.score, columns.label)
            # NaN left out, as in memory (np.nanmin / np.nanmax) and as the footers' statistics leave it out.
            x = f"(CASE WHEN isnan({s}) THEN NULL ELSE {s} END)"
            lo, hi, n_rows = footer or _one_row_read(
                con, f"SELECT min({x}), max({x}), count(*) FROM source WHERE {label} IS NOT NULL"
            )
            memo["count(*)"] = (
                n_rows  # the same pass counts the rows (explore.engine.metrics sizes its tables by it)
            )
            if lo is not None and lo >= 0 and hi <= 1:
                probs = [f"1 - {s}", s] if positive_index == 1 else [s, f"1 - {s}"]
            else:
                unavailable.update(
                    {m: "the score column is not a probability in [0, 1]" for m in ("log loss", "Brier")}
                )
        elif columns.scores:
            keys = np.asarray(list(columns.scores), dtype=object)
            probs = []
            for c in classes_arr:
                k = _match_value(c, keys)
                probs.append(f"CAST({quote(columns.scores[k])} AS DOUBLE)" if k is not None else "0.0")
        if probs is not None:
            has_proba = True
            select += [f"{p} AS _p{k}" for k, p in enumerate(probs)]
            if task == "binary":
                has_score = True
                if not columns.score:
                    select.append(f"{probs[positive_index]} AS _score")
        if not has_score and not has_proba:
            reason = "no score column in the data ([columns] score / scores)"
            unavailable.update({m: reason for m in ("ROC AUC", "PR AUC", "log loss", "Brier")})
        if columns.prediction:
            pred = _encode_sql(columns.prediction, types[columns.prediction], classes_arr)
        elif task == "binary" and columns.score:
            pred = f"(CASE WHEN CAST({quote(columns.score)} AS DOUBLE) >= 0.5 THEN {positive_index} ELSE {1 - positive_index} END)"
        else:  # argmax of the probabilities, first on ties (as numpy)
            top = f"greatest({', '.join(probs)})"
            pred = (
                "(CASE "
                + " ".join(f"WHEN {p} = {top} THEN {k}" for k, p in enumerate(probs))
                + " ELSE -1 END)"
            )
        select.append(f"{pred} AS _pred")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW rows AS SELECT {', '.join(select)} FROM source WHERE {label} IS NOT NULL"
    )
    return LogTable(
        con=con,
        name=name,
        task=task,
        classes=classes_arr,
        positive_index=positive_index,
        columns=columns,
        types=types,
        has_proba=has_proba,
        has_score=has_score,
        unavailable=unavailable,
        memo=memo,
    )
