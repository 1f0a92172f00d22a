"""The engine's analyses on Apache Spark: a connection that runs ``explore.engine``'s DuckDB SQL through ``spark.sql``.

``open_spark_source(source)`` reads the dataset's Parquet files (one, a folder, a glob; hive partitions) as a
Spark DataFrame, the temp view ``source``, and returns a ``SparkConnection``: the small part of DuckDB's
connection API that ``explore.engine`` uses (``execute(query).fetchall() / .fetchnumpy() / .df()``,
``register``, ``unregister``, ``close``). Every query is translated by ``explore.engine.dialect`` (sqlglot), so
the metrics, slices, windows, drift, invariants, discovery and the sample are the *same* queries and the same
Python finishing code as on DuckDB; only where the rows live differs.

A session is made once per process for a master URL (``local[*]`` by default, ``spark://host:7077``, ``yarn``,
``k8s://…``); each opened dataset gets its own ``newSession()`` (own temp views, shared executors). Before
Spark starts, the Java runtime and a ``spark://`` master are checked, so that a missing ``java`` or an
unreachable master is a message naming the fix, never a Py4J traceback.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import threading
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explore import errors
from explore.engine import dialect
from explore.engine.source import EngineSource, _check_schemas, _files

DEFAULT_MASTER = "local[*]"
# Runtime settings of every session: numbers as DuckDB computes them (no ANSI errors on overflow or division by
# zero; UTC so that naive timestamps are not shifted), Arrow transfers, nanosecond Parquet timestamps readable.
SESSION_CONF = {
    "spark.app.name": "ml-explore",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # Whole-stage code generation only for functions the JVM will compile: HotSpot leaves a method of more than
    # 8,000 bytes of bytecode to its interpreter (-XX:HugeMethodLimit), and Spark's default limit is 65,535. The
    # engine's per-row codes (drift's bucket × cell of 15 features, discovery's group of 20 columns) generate
    # such a function: interpreted, it cost 12 CPU s per million rows; above the limit Spark falls back to its
    # per-expression code, split into small methods, and the same query costs 4 (measured at 1M rows).
    "spark.sql.codegen.hugeMethodLimit": "8000",
}
# Local mode: the driver is the only executor. Spark's defaults are a cluster's: 200 shuffle partitions (200 tasks
# of a few rows each after every GROUP BY, on 2 cores) and a 1 GiB driver heap, in which the cached log does not
# fit (at 10M rows × 25 columns it is ~2 GB: the rest is spilled to disk and read back by every query).
LOCAL_CONF = {
    "spark.sql.adaptive.enabled": "true",  # AQE: shuffles coalesced to what the data needs, skew split
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.inMemoryColumnarStorage.compressed": "true",
}
LOCAL_DRIVER_MEMORY_MAX_MB = 6144  # at most 6 GiB of heap …
LOCAL_DRIVER_MEMORY_SHARE = 4  # … and at most a quarter of the machine's memory


def _machine_memory_mb() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):  # not a POSIX system: let Spark choose
        return None


def local_conf(master: str, cores: int | None = None, memory_mb: int | None = None) -> dict[str, str]:
    """The settings of a ``local[N]`` session: 2 × N shuffle partitions, AQE, and a driver heap of a quarter of the
    machine's memory up to 6 GiB (the cached log lives in it)."""
    m = re.match(r"local\[(\d+)", master)
    cores = cores or (int(m.group(1)) if m else os.cpu_count() or 1)
    conf = dict(LOCAL_CONF)
    conf["spark.sql.shuffle.partitions"] = str(max(2, 2 * cores))
    conf["spark.default.parallelism"] = str(max(2, 2 * cores))
    memory_mb = memory_mb if memory_mb is not None else _machine_memory_mb()
    if memory_mb:
        heap = min(LOCAL_DRIVER_MEMORY_MAX_MB, max(1024, memory_mb // LOCAL_DRIVER_MEMORY_SHARE))
        conf["spark.driver.memory"] = f"{heap}m"
    return conf


_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://.+|yarn|k8s://.+|mesos://.+)$")
_lock = threading.Lock()

NO_PYSPARK = (
    'The dataset {where} uses engine = "spark", but PySpark is not installed. Install it with '
    "pip install 'ml-explore[spark]' (PySpark and sqlglot), or set engine = \"duckdb\" to run on this machine."
)
NO_JAVA = (
    "Spark needs a Java runtime (17 or newer), and none was found: JAVA_HOME is {java_home} and there is no "
    "'java' on the PATH. Install one (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME "
    'to a JDK folder; or use engine = "duckdb", which needs no Java.'
)
BAD_MASTER = (
    "The Spark master {received!r} of {where} is not a master URL. Use local[*] (this machine, every core), "
    "local[N], spark://host:7077, yarn or k8s://https://host:port in workspace.toml [datasets] (master = …)."
)
MASTER_UNREACHABLE = (
    "The Spark master {master} of {where} cannot be reached ({reason}). Check that the cluster is up and that "
    'host and port in master = … are right (a standalone master listens on 7077), or use master = "local[*]" '
    "to run on this machine."
)
OTHER_MASTER = (
    "A Spark session with master {running} is already running in this process, and {where} asks for {master}: "
    "one process has one Spark master. Use the same master for every Spark dataset of the workspace, or restart "
    "the app."
)
SESSION_FAILED = (
    "Spark could not start with master {master} for {where}: {reason}. Check the master URL and the Java runtime "
    '(java -version), or use engine = "duckdb".'
)
QUERY_FAILED = (
    "Spark could not run an analysis of {where}: {reason}. If the files changed while the app was open, reopen "
    "the workspace; if a file is damaged, rewrite or remove it."
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = text.splitlines()[0]
    return text[:300]


def java_executable(env: dict[str, str] | None = None) -> str | None:
    """The ``java`` Spark would start: ``$JAVA_HOME/bin/java``, else the first on the PATH; None without one."""
    env = os.environ if env is None else env
    home = env.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.exists() else None
    return shutil.which("java", path=env.get("PATH", ""))


def check_java(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    java = java_executable(env)
    if java is None:
        raise errors.WorkspaceError(
            NO_JAVA.format(java_home=env.get("JAVA_HOME") or "not set"), setting="java"
        )
    return java


def check_master(master: str, where: str = "the dataset", timeout: float = 5.0) -> None:
    """A master URL Spark knows; a ``spark://`` master must accept a TCP connection (any of its host:port)."""
    if not isinstance(master, str) or not _MASTER.match(master.strip()):
        raise errors.WorkspaceError(BAD_MASTER.format(received=master, where=where), setting="master")
    if not master.startswith("spark://"):
        return
    reasons = []
    for hostport in master[len("spark://") :].split(","):
        host, _, port = hostport.strip().rpartition(":")
        if not host or not port.isdigit():
            raise errors.WorkspaceError(BAD_MASTER.format(received=master, where=where), setting="master")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return
        except OSError as exc:
            reasons.append(f"{host}:{port}: {exc.strerror or exc}")
    raise errors.WorkspaceError(
        MASTER_UNREACHABLE.format(master=master, where=where, reason="; ".join(reasons)), setting="master"
    )


def _spark_failures() -> tuple[type[BaseException], ...]:
    """What PySpark raises when the JVM or a query fails (its own errors, Py4J's, a gateway that cannot start)."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError, OSError)


def _import_pyspark(where: str) -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise errors.WorkspaceError(NO_PYSPARK.format(where=where), setting="engine") from None
    return SparkSession


def spark_session(
    master: str = DEFAULT_MASTER, *, where: str = "the dataset", conf: dict | None = None
) -> Any:
    """The process's SparkSession for ``master`` (started on first use, after the Java and master checks)."""
    SparkSession = _import_pyspark(where)
    from pyspark import SparkContext

    with _lock:
        running = SparkContext._active_spark_context
        if running is not None:
            if running.master != master:
                raise errors.WorkspaceError(
                    OTHER_MASTER.format(running=running.master, master=master, where=where), setting="master"
                )
            return SparkSession.builder.getOrCreate()
        check_master(master, where)
        check_java()
        os.environ.setdefault(
            "PYSPARK_PYTHON", sys.executable
        )  # the workers' Python: this one (numpy, pyarrow)
        builder = SparkSession.builder.master(master)
        settings = dict(SESSION_CONF)
        if master.startswith("local"):
            settings.update(local_conf(master))
        settings.update(conf or {})
        for key, value in settings.items():
            builder = builder.config(key, value)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                spark = builder.getOrCreate()
        except (
            _spark_failures()
        ) as exc:  # the JVM did not start or the master refused us: say which, not a trace
            raise errors.WorkspaceError(
                SESSION_FAILED.format(master=master, where=where, reason=_first_line(exc)), setting="master"
            ) from None
        spark.sparkContext.setLogLevel("ERROR")
        return spark


_SPARK_TO_DUCKDB = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
}


def duckdb_type(spark_type: Any) -> str:
    """A Spark column type in DuckDB's words, the vocabulary ``explore.engine`` reads types in."""
    name = spark_type.simpleString()
    if name.startswith("decimal"):
        return name.upper()
    if name.startswith(("varchar", "char")):
        return "VARCHAR"
    return _SPARK_TO_DUCKDB.get(name, name.upper())


class SparkResult:
    """The result of one query: DuckDB's ``fetchall`` / ``fetchnumpy`` / ``df`` over a Spark (or pandas) frame."""

    def __init__(self, frame: Any, where: str) -> None:
        self._frame = frame
        self._where = where

    def _spark_frame(self) -> Any:
        from pyspark.sql import functions as F
        from pyspark.sql.types import DecimalType

        sdf = self._frame
        names = sdf.columns
        if any(isinstance(f.dataType, DecimalType) for f in sdf.schema.fields):
            tmp = sdf.toDF(*[f"_c{i}" for i in range(len(names))])
            cols = [
                F.col(f"_c{i}").cast("double") if isinstance(f.dataType, DecimalType) else F.col(f"_c{i}")
                for i, f in enumerate(sdf.schema.fields)
            ]
            sdf = tmp.select(*cols).toDF(*names)
        return sdf

    def df(self) -> pd.DataFrame:
        if isinstance(self._frame, pd.DataFrame):
            return self._frame
        with _spark_errors(self._where), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = self._spark_frame().toPandas()
        # Unaliased aggregates can share a name (two equal expressions); DuckDB suffixes repeats, and so do we,
        # so that ``fetchnumpy`` (a dict by name) keeps every column.
        seen: dict[str, int] = {}
        names = []
        for name in frame.columns:
            k = seen.get(name, 0)
            seen[name] = k + 1
            names.append(name if k == 0 else f"{name}_{k}")
        return frame.set_axis(names, axis=1)

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        frame = self.df()
        return {c: frame.iloc[:, i].to_numpy() for i, c in enumerate(frame.columns)}

    def fetchone(self) -> tuple | None:
        rows = self.fetchall()
        return rows[0] if rows else None

    def fetchall(self) -> list[tuple]:
        if isinstance(self._frame, pd.DataFrame):
            return list(self._frame.itertuples(index=False, name=None))
        with _spark_errors(self._where):
            rows = self._frame.collect()
        return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]


class _spark_errors:
    """Turns a Spark / Py4J failure into an ``explore.errors.AnalysisError`` naming the dataset."""

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, errors.ExploreError):
            return False
        module = type(exc).__module__ or ""
        if module.startswith(("pyspark", "py4j")):
            raise errors.AnalysisError(
                QUERY_FAILED.format(where=self.where, reason=_first_line(exc))
            ) from None
        return False


class SparkConnection:
    """DuckDB's connection API as ``explore.engine`` uses it, over a Spark session (its own temp views)."""

    def __init__(
        self, spark: Any, where: str = "the dataset", cached_views: tuple[str, ...] = ("rows",)
    ) -> None:
        self.spark = spark
        self.where = where
        self._tables: dict[str, Any] = {}  # CREATE TEMP TABLE: persisted DataFrames
        # Views every analysis reads (the encoded log ``rows``) are kept by the executors (memory, then disk)
        # rather than re-read from the files by each of the dozens of queries of an analysis.
        self.cached_views = cached_views

    def execute(self, query: str, params: list | None = None) -> SparkResult:
        if params:
            raise errors.AnalysisError(
                "The Spark engine runs queries without parameters; explore.engine inlines its values. This is a bug."
            )
        st = dialect.statement(query)
        with _spark_errors(self.where):
            if st.kind == "describe":
                schema = self.spark.table(st.name).schema
                rows = [(f.name, duckdb_type(f.dataType)) for f in schema.fields]
                return SparkResult(pd.DataFrame(rows, columns=["column_name", "column_type"]), self.where)
            if st.kind == "drop":
                self._drop(st.name)
                return SparkResult(pd.DataFrame(), self.where)
            frame = self.spark.sql(st.sql)
            if st.kind == "create_view":
                frame.createOrReplaceTempView(st.name)
                return SparkResult(pd.DataFrame(), self.where)
            if st.kind == "create_table" or st.name in self.cached_views:
                old = self._tables.get(st.name)
                frame = frame.persist()
                frame.count()  # materialise now: the queries that read the table then scan memory, not the files
                frame.createOrReplaceTempView(st.name)
                self._tables[st.name] = frame
                if old is not None:
                    old.unpersist()
                return SparkResult(pd.DataFrame(), self.where)
            return SparkResult(frame, self.where)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """A small pandas frame as the temp view ``name``. With sorted points ``p`` and their index ``j`` it can be
        the right side of an ASOF join: the function ``dialect.asof_function(name)`` maps a value to the index of
        the last point at or below it (``numpy.searchsorted``, vectorised in Arrow batches)."""
        from pyspark.sql.functions import pandas_udf

        with _spark_errors(self.where), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.spark.createDataFrame(frame).createOrReplaceTempView(name)
            if {"p", "j"} <= set(frame.columns):
                points = np.asarray(frame["p"], dtype="float64")

                def last_at_or_below(x: pd.Series) -> pd.Series:
                    v = x.to_numpy(dtype="float64", na_value=np.nan)
                    return pd.Series(np.searchsorted(points, v, side="right") - 1, dtype="int64")

                self.spark.udf.register(dialect.asof_function(name), pandas_udf(last_at_or_below, "long"))

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def _drop(self, name: str) -> None:
        table = self._tables.pop(name, None)
        if table is not None:
            table.unpersist()
        self.spark.catalog.dropTempView(name)

    def close(self) -> None:
        """Drop this connection's tables and views; the Spark session (shared) keeps running."""
        for name in list(self._tables):
            self._drop(name)
        try:
            for table in self.spark.catalog.listTables():
                if table.isTemporary:
                    self.spark.catalog.dropTempView(table.name)
        except _spark_failures():  # the session is gone already (process exit): nothing left to drop
            return


def _base_path(source: EngineSource) -> str:
    """The folder above every hive partition: the folder itself, or a glob's prefix before its first wildcard."""
    p = Path(source.path)
    if p.is_dir():
        return str(p)
    parts = []
    for part in p.parts:
        if any(ch in part for ch in "*?["):
            break
        parts.append(part)
    base = Path(*parts)
    while base.name and "=" in base.name:
        base = base.parent
    return str(base if base.is_dir() else base.parent)


def _is_remote(path: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path)) and not path.startswith("file://")


def open_spark_source(source: EngineSource, *, where: str = "the dataset") -> SparkConnection:
    """A ``SparkConnection`` whose temp view ``source`` holds the dataset's rows (checked as for DuckDB first)."""
    if source.is_duckdb_table:
        raise errors.WorkspaceError(
            f'{where} is a DuckDB table, which Spark cannot read: use engine = "duckdb" for it, or export the '
            "table to Parquet (COPY … TO 'folder' (FORMAT parquet, PARTITION_BY …)) for Spark.",
            setting="engine",
        )
    path = str(source.path)
    spark = spark_session(source.master, where=where).newSession()
    con = SparkConnection(spark, where)
    with _spark_errors(where), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _is_remote(path):  # a data lake: Spark lists and reads the files itself
            frame = spark.read.option("mergeSchema", "false").parquet(path)
        else:
            files = _files(source)
            types = _check_schemas(files, where)
            hive = any("=" in part for f in files for part in Path(f).parts[:-1])
            reader = spark.read.option("basePath", _base_path(source)) if hive else spark.read
            frame = reader.parquet(*files)
            nanos = [c for c, t in types.items() if t.upper() == "TIMESTAMP_NS"]
            if nanos:  # read as epoch nanoseconds (nanosAsLong): back to timestamps, to the microsecond
                from pyspark.sql import functions as F

                frame = frame.select(
                    *[
                        F.expr(f"CAST(timestamp_micros(floor(`{c}` / 1000)) AS TIMESTAMP_NTZ)").alias(c)
                        if c in nanos
                        else F.col(f"`{c}`")
                        for c in frame.columns
                    ]
                )
        frame.createOrReplaceTempView("source")
    return con
