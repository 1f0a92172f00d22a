"""Where an out-of-core dataset lives: Parquet files (one, a folder, a glob; hive partitions) or a DuckDB table.

``open_source(source)`` checks the files before any analysis runs — a glob that matches nothing, files whose
columns or column types differ (a column missing in some files, timestamps stored as text in one month and as
timestamps in another) — and returns a DuckDB connection with the rows as the view ``source``. Nothing is read
whole: the row count comes from the Parquet footers.
"""

from __future__ import annotations

import glob as globlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from explore import errors

# Above this many rows an `engine = "auto"` dataset stays out of core (DuckDB); below it is read into pandas.
AUTO_ENGINE_ROWS = 2_000_000
ENGINES = ("auto", "pandas", "duckdb", "spark")
_TIME_TYPES = ("TIMESTAMP", "DATE", "TIME")


@dataclass(frozen=True)
class EngineSource:
    """A dataset that is not loaded whole. ``path``: Parquet file, folder or glob; or a DuckDB file with ``table``.

    ``master``: the Spark master URL when ``engine`` is ``spark`` (``local[*]``: this machine)."""

    path: Path | str
    table: str | None = None
    engine: str = "auto"
    master: str = "local[*]"

    @property
    def is_duckdb_table(self) -> bool:
        return self.table is not None

    @property
    def pattern(self) -> str:
        """The glob DuckDB reads: a folder means every Parquet file under it (hive partitions included)."""
        p = Path(self.path)
        if not self.is_duckdb_table and p.is_dir():
            return str(p / "**" / "*.parquet")
        return str(p)


def _files(source: EngineSource) -> list[str]:
    pattern = source.pattern
    files = sorted(globlib.glob(pattern, recursive=True))
    if not files:
        what = "folder" if Path(source.path).is_dir() else "path"
        raise errors.DataError(
            f"The Parquet {what} '{source.path}' matches no files (looked for '{pattern}'). Check the path in "
            'workspace.toml [datasets] (relative to workspace.toml), e.g. path = "logs/*.parquet" or a folder '
            "of month=…/ partitions."
        )
    return files


# Files whose schemas were found to agree, by their paths, sizes and modification times -> the columns' types:
# opening a workspace reads them for its probe and again for the dataset's log (a read of every file's footer).
_CHECKED: dict[tuple, dict[str, str]] = {}
_CHECKED_MAX = 64
_CHECKED_LOCK = threading.Lock()


def _check_schemas(files: list[str], where: str) -> dict[str, str]:
    """Every file must have the same columns with the same types; say which files differ and how.

    Returns the columns' DuckDB types (``TIMESTAMP_NS`` included: the Spark engine converts those). Files checked
    before in this process, unchanged since (paths, sizes, modification times), are not read again."""
    try:
        key = tuple((f, (st := Path(f).stat()).st_size, st.st_mtime_ns) for f in files)
    except OSError:  # gone or unreadable: the read below says so
        key = None
    with _CHECKED_LOCK:
        known = _CHECKED.get(key) if key is not None else None
    if known is not None:
        return dict(known)
    types = _read_schemas(files, where)
    if key is not None:
        with _CHECKED_LOCK:
            if len(_CHECKED) >= _CHECKED_MAX:
                _CHECKED.pop(next(iter(_CHECKED)))
            _CHECKED[key] = dict(types)
    return types


def _read_schemas(files: list[str], where: str) -> dict[str, str]:
    con = duckdb.connect()
    try:
        rows = con.execute(
            "SELECT file_name, name, duckdb_type FROM parquet_schema(?) "
            "WHERE num_children IS NULL OR num_children = 0",
            [files],
        ).fetchall()
    except duckdb.Error as exc:
        raise errors.DataError(
            f"The Parquet files of {where} cannot be read: {exc}. Check that every file is a complete Parquet "
            "file (rewrite or remove the damaged one)."
        ) from None
    finally:
        con.close()
    schemas: dict[str, dict[str, str]] = {}
    for file, name, kind in rows:
        schemas.setdefault(file, {})[name] = str(kind)
    first_file = files[0]
    all_cols = sorted({c for s in schemas.values() for c in s})
    for col in all_cols:
        missing = [f for f in files if col not in schemas.get(f, {})]
        if missing:
            raise errors.ColumnError(
                f"The column '{col}' is missing in {len(missing)} of {len(files)} Parquet files of {where} "
                f"(e.g. '{missing[0]}'). Every partition must have the same columns: rewrite the files that lack "
                f"it (with the column empty if it did not exist then), or drop '{col}' from the others."
            )
    for col in all_cols:
        kinds = {f: schemas[f][col] for f in files}
        distinct = sorted(set(kinds.values()))
        if len(distinct) > 1:
            other = next(f for f in files if kinds[f] != kinds[first_file])
            timeish = any(any(t in k.upper() for t in _TIME_TYPES) for k in distinct)
            fix = (
                "Timestamps must be stored with one type in every file: rewrite the files so the column is a "
                "Parquet TIMESTAMP everywhere (e.g. pd.to_datetime(...) before writing)."
                if timeish
                else "Rewrite the files so the column has one type everywhere (cast it before writing)."
            )
            raise errors.DataError(
                f"The column '{col}' has different types across the Parquet files of {where}: "
                f"{kinds[first_file]} in '{first_file}' but {kinds[other]} in '{other}'. {fix}"
            )
    return schemas.get(first_file, {})


def open_source(source: EngineSource, *, where: str = "the dataset") -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection whose view ``source`` holds the dataset's rows (validated first).

    With ``engine = "spark"``: an ``explore.engine.spark.SparkConnection`` (the same API, queries run by Spark)."""
    if source.engine == "spark":
        from explore.engine.spark import open_spark_source

        return open_spark_source(source, where=where)  # type: ignore[return-value]
    if source.is_duckdb_table:
        db = Path(source.path)
        if not db.exists():
            raise errors.DataError(
                errors.FILE_NOT_FOUND.format(what="DuckDB database", path=db, where=f"workspace.toml {where}")
            )
        con = duckdb.connect()
        try:
            con.execute("ATTACH ? AS src (READ_ONLY)", [str(db)])
            tables = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'"
                ).fetchall()
            ]
        except duckdb.Error as exc:
            con.close()
            raise errors.DataError(
                f"The DuckDB database '{db}' of {where} cannot be opened: {exc}. Check that it is a DuckDB file "
                "and that no other process holds it open for writing."
            ) from None
        if source.table not in tables:
            con.close()
            raise errors.DataError(
                f"The DuckDB database '{db}' has no table '{source.table}' ({where}). Its tables: "
                f"{', '.join(tables) or 'none'}. Set table = to one of them."
            )
        con.execute(f'CREATE VIEW source AS SELECT * FROM src.main."{source.table}"')
        return con
    files = _files(source)
    _check_schemas(files, where)
    hive = any("=" in part for f in files for part in Path(f).parts[:-1])
    con = duckdb.connect()
    file_list = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    con.execute(
        f"CREATE VIEW source AS SELECT * FROM read_parquet([{file_list}], hive_partitioning = {str(hive).lower()})"
    )
    if hive:  # the partition columns (``key=`` folders), for queries that can read them instead of a column
        keys = sorted({part.split("=", 1)[0] for f in files for part in Path(f).parts[:-1] if "=" in part})
        con.execute("SET VARIABLE explore_partition_columns = ?", [keys])
    return con


def row_count(source: EngineSource) -> int:
    """Rows of the dataset without reading it: Parquet footers, or the DuckDB table's count."""
    if source.is_duckdb_table:
        con = open_source(source)
        try:
            return int(con.execute("SELECT count(*) FROM source").fetchall()[0][0])
        finally:
            con.close()
    files = _files(source)
    con = duckdb.connect()
    try:
        return int(
            con.execute(
                "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(?)", [files]
            ).fetchall()[0][0]
        )
    finally:
        con.close()


# Column types whose distinct values a file's footers can settle: each row group's exact min and max are values of
# its rows, so a column whose lowest and highest values are at most 1 apart holds exactly those (integers only).
_FOOTER_VALUE_TYPES = (
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)


@dataclass(frozen=True)
class FooterValues:
    """A column's distinct non-missing values (sorted; booleans as 0 / 1) and its missing values, from footers."""

    values: list[int]
    missing: int


def footer_values(files: Sequence[str | Path], types: dict[str, str]) -> dict[str, FooterValues]:
    """For each integer or boolean column of ``types`` (name -> DuckDB type) in the Parquet ``files``: its distinct
    non-missing values, read from the files' footers alone — one read of them, no pass over the rows — when the
    footers settle them: every row group states its null count and, unless all its values are missing, an exact
    min and max, and the lowest and highest value over every file are at most 1 apart (both are values of the
    rows, and no integer lies between). A column is left out when they do not: another type (text, floats), a row
    group without statistics, a wider range, a column that is not in the files (a hive partition), a file that is
    not Parquet."""
    asked = {c: t for c, t in types.items() if t.upper() in _FOOTER_VALUE_TYPES}
    if not files or not asked:
        return {}
    some = "stats_null_count < row_group_num_rows"  # a row group with a value

    def bound(side: str) -> str:
        # A boolean's text ('true') to 0 / 1; an integer's to BIGINT (a UBIGINT beyond it: unsettled).
        v = f"stats_{side}_value"
        return f"coalesce(TRY_CAST({v} AS BIGINT), TRY_CAST(TRY_CAST({v} AS BOOLEAN) AS BIGINT))"

    lo, hi = bound("min"), bound("max")
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"SELECT path_in_schema, count(*), count(*) FILTER (WHERE stats_null_count IS NULL OR ({some} AND "
            f"({lo} IS NULL OR {hi} IS NULL OR min_is_exact IS FALSE OR max_is_exact IS FALSE))), "
            f"min({lo}) FILTER (WHERE {some}), max({hi}) FILTER (WHERE {some}), sum(stats_null_count) "
            f"FROM parquet_metadata(?) WHERE path_in_schema IN ({', '.join('?' for _ in asked)}) GROUP BY 1",
            [[str(f) for f in files], *asked],
        ).fetchall()
    except duckdb.Error:  # a file that is not Parquet, or gone: the rows are read
        return {}
    finally:
        con.close()
    out = {}
    for column, groups, unsettled, low, high, missing in rows:
        if not groups or unsettled:
            continue
        if low is None:  # every value missing
            out[column] = FooterValues([], int(missing))
        elif high - low <= 1:
            out[column] = FooterValues(sorted({int(low), int(high)}), int(missing))
    return out


def resolve_engine(source: EngineSource) -> str:
    """``pandas``, ``duckdb`` or ``spark``: the setting, or for ``auto`` by size (``AUTO_ENGINE_ROWS``)."""
    if source.engine != "auto":
        return source.engine
    return "duckdb" if row_count(source) > AUTO_ENGINE_ROWS else "pandas"
