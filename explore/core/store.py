"""The store: what users decide and what they freeze as evidence, in one SQL database.

SQLAlchemy 2 Core (no ORM). SQLite by default (a file under ``$XDG_DATA_HOME/ml-explore``), or any
database named by ``$EXPLORE_DB_URL``: PostgreSQL (``postgresql+psycopg://user:password@host/dbname``, the
``postgres`` extra) is tested live with the same suite as SQLite.

- Every write runs in one transaction through :meth:`Store.write`, which retries with jittered backoff
  while SQLite reports "database is locked"/"busy". On SQLite a write transaction starts with
  ``BEGIN IMMEDIATE``: writers queue for the lock up front (``busy_timeout``) instead of failing when a
  read transaction tries to upgrade to a write. On PostgreSQL a write transaction takes a transaction-level
  advisory lock first, with the same effect: check-then-write logic (the rubric's conflict tokens, unique
  names) sees every earlier write, whatever the isolation level.
- A database that cannot be reached (a PostgreSQL server restarting mid-meeting) is retried for up to
  UNAVAILABLE_RETRY_SECONDS while *connecting*, never after a transaction started, so a write is never
  applied twice; then StoreError says the store is unreachable. Pooled connections are pinged before use.
- Records are append-only where history matters (slices, verdicts, rubric entries, experiments): the
  current state of a key is its newest row, i.e. the row with the highest ``id``.
- Every table carries ``author`` (:func:`current_author`) and ``created_at`` (UTC, set by the store).
- JSON payloads are stored as text (:func:`explore.core.serialise.to_json`: sorted keys, numpy/pandas values made plain,
  NaN -> null) and come back decoded.
- Row dicts returned by the API have decoded JSON fields, and their timestamps (``created_at``,
  ``updated_at``, ``started_at``, ``finished_at``) are timezone-aware UTC ``datetime`` objects.

The tables are module-level :class:`sqlalchemy.Table` objects in :data:`metadata`, so other modules can
query them (``store.read(lambda conn: conn.execute(select(verdicts)...))``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.types import TypeDecorator

from explore.core import settings
from explore.core.serialise import to_json
from explore.errors import StoreError

T = TypeVar("T")


def from_row(cls: type[T], row: Mapping[str, Any], **values: Any) -> T:
    """A dataclass ``cls`` from a store row: each field named like a column takes that column's value, as
    stored; ``values`` give the others (and any field that needs converting or a different column)."""
    taken = {f.name: row[f.name] for f in fields(cls) if f.name in row and f.name not in values}  # type: ignore[arg-type]
    return cls(**taken, **values)


SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30_000
LOCK_RETRY_SECONDS = 60.0  # how long Store.write/read keep retrying a locked database, in total
UNAVAILABLE_RETRY_SECONDS = 5.0  # how long they keep trying to connect to a database that is unreachable
WRITE_LOCK_KEY = 0x6D6C6578  # PostgreSQL advisory lock held by every write transaction ("mlex")

VERDICTS = ("correct", "wrong", "unsure")
RUBRIC_STATUSES = ("not_done", "manual", "automated")
RUBRIC_SCALE = "2017"  # Breck et al., "The ML Test Score" (2017)
SESSION_MODES = ("queue", "random")
SESSION_STATUSES = ("open", "paused", "done")
SNAPSHOT_SOURCES = ("app", "check")

# ---- messages (format with keyword arguments) -----------------------------------------------------

_FIX = (
    "Set EXPLORE_DB_URL to a database you can write (e.g. sqlite:////absolute/path/explore.db or "
    "postgresql+psycopg://user@host/dbname), or fix the permissions of that file and its folder."
)
STORE_BAD_URL = "The store URL '{url}' cannot be used: {reason}. " + _FIX
STORE_FOLDER_FAILED = "The store folder '{path}' cannot be created: {reason}. " + _FIX
STORE_UNAVAILABLE = "The store database '{url}' cannot be opened or written: {reason}. " + _FIX
STORE_LOCKED = (
    "The store database '{url}' stayed locked by other writers for {seconds:.0f} s ({reason}). "
    "Close other ml-explore processes using it, or set EXPLORE_DB_URL to a separate database."
)
STORE_SCHEMA_NEWER = (
    "The store database '{url}' has schema version {found}, newer than this version of ml-explore "
    "understands ({supported}). Upgrade ml-explore, or set EXPLORE_DB_URL to another database."
)
STORE_BAD_CHOICE = "{what} must be one of {allowed}; received {received!r}."
STORE_NOT_FOUND = "There is no {what} with id {id} in the store '{url}'. Pick one that exists."
STORE_REVIEW_NAME_TAKEN = (
    "A rubric review named {name!r} already exists (id {id}). Choose another name, or open that review."
)


# ---- values ---------------------------------------------------------------------------------------


def current_author() -> str:
    """Return who is writing: ``$EXPLORE_USER``, else the login name, else ``"unknown"``."""
    if author := settings.user():
        return author
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):  # no login name (e.g. a container running as an unnamed uid)
        return "unknown"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StoredString(TypeDecorator):
    """Text as both stores can hold it: PostgreSQL text cannot contain a NUL byte, so a NUL in what a user typed
    or a data file held becomes U+FFFD (on SQLite too, so both stores keep the same text and lookups by the
    same value still match). Nothing else changes."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


class StoredText(StoredString):
    """Long text (notes, evidence), NUL bytes handled as in :class:`StoredString`."""

    impl = Text
    cache_ok = True  # SQLAlchemy reads it from each class's own namespace


class JSONText(TypeDecorator):
    """A JSON value stored as text (portable across SQLite and PostgreSQL); decoded on the way out."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        return to_json(value)  # None is stored as the JSON text null, not SQL NULL

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime; stored without a zone (SQLite has none) and returned with ``UTC``."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"The store only takes timezone-aware datetimes; received the naive {value!r}.")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


# ---- schema ---------------------------------------------------------------------------------------

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", StoredString, primary_key=True),
    Column("value", StoredText, nullable=False),
)


def _table(name: str, *columns: Column | Index) -> Table:
    """Return a store table: integer ``id``, the given columns, then ``author`` and ``created_at``."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        *columns,
        Column("author", StoredString, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
    )


saved_slices = _table(
    "saved_slices",
    Column("workspace", StoredString, nullable=False),
    Column("name", StoredString, nullable=False),
    Column("definition", JSONText, nullable=False),
    Index("ix_saved_slices_key", "workspace", "name"),
)

snapshots = _table(
    "snapshots",
    Column("workspace", StoredString, nullable=False),
    Column("kind", StoredString, nullable=False),
    Column("tests", JSONText, nullable=False),  # rubric test ids, e.g. ["model-6"]
    Column("title", StoredText, nullable=False),
    Column("params", JSONText, nullable=False),
    Column("result", JSONText, nullable=False),
    Column("model_fingerprint", StoredString, nullable=False),
    Column("data_fingerprint", StoredString, nullable=False),
    Column("source", StoredString, nullable=False),
    Index("ix_snapshots_workspace", "workspace"),
)

review_sessions = _table(
    "review_sessions",
    Column("workspace", StoredString, nullable=False),
    Column("dataset", StoredString, nullable=False),
    Column("name", StoredString, nullable=False),
    Column("reviewer", StoredString, nullable=False),
    Column("mode", StoredString, nullable=False),
    Column("params", JSONText, nullable=False),
    Column("items", JSONText, nullable=False),  # ordered item ids, plus strata info
    Column("status", StoredString, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

verdicts = _table(
    "verdicts",
    Column("session_id", Integer, ForeignKey("review_sessions.id"), nullable=False),
    Column("item_id", StoredText, nullable=False),
    Column("verdict", StoredString, nullable=False),
    Column("corrected_label", StoredText, nullable=True),
    Column("note", StoredText, nullable=False),
    Index("ix_verdicts_key", "session_id", "item_id"),
)

rubric_reviews = _table(
    "rubric_reviews",
    Column("name", StoredString, nullable=False, unique=True),
    Column("model_version", StoredString, nullable=False),
    Column("scale", StoredString, nullable=False),
    Column("parent_id", Integer, ForeignKey("rubric_reviews.id"), nullable=True),
    # The workspace.toml the review is of (as snapshots and sessions record it); NULL: started without one, or
    # before schema version 2. `explore report` reports the newest review of its workspace.
    Column("workspace", StoredString, nullable=True),
)

rubric_entries = _table(
    "rubric_entries",
    Column("review_id", Integer, ForeignKey("rubric_reviews.id"), nullable=False),
    Column("test_id", StoredString, nullable=False),
    Column("status", StoredString, nullable=False),
    Column("evidence_text", StoredText, nullable=False),
    Column("links", JSONText, nullable=False),
    Column("snapshot_ids", JSONText, nullable=False),
    Index("ix_rubric_entries_key", "review_id", "test_id"),
)

check_runs = _table(
    "check_runs",
    Column("workspace", StoredString, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("report", JSONText, nullable=False),
)

experiments = _table(
    "experiments",
    Column("workspace", StoredString, nullable=False),
    Column("kind", StoredString, nullable=False),
    Column("key", StoredString, nullable=False),
    Column("params", JSONText, nullable=False),
    Column("result", JSONText, nullable=False),
    Column("status", StoredString, nullable=False),
    Index("ix_experiments_key", "workspace", "kind", "key"),
)


def _v1_create_tables(conn: Connection) -> None:
    metadata.create_all(conn)


# MIGRATIONS[v] takes a database from schema version v to v + 1. A new database (version 0) runs only
# MIGRATIONS[0], which builds the *current* tables, and is then stamped SCHEMA_VERSION; so a later
# migration only ever runs on a database created by an older release.
def _v2_review_workspace(conn: Connection) -> None:
    """Reviews remember their workspace (``rubric_reviews.workspace``); older reviews keep NULL."""
    conn.execute(text("ALTER TABLE rubric_reviews ADD COLUMN workspace VARCHAR"))


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_create_tables, _v2_review_workspace]
assert len(MIGRATIONS) == SCHEMA_VERSION


# ---- URLs and errors ------------------------------------------------------------------------------


def default_db_url() -> str:
    """Return ``$EXPLORE_DB_URL`` if set, else the URL of the SQLite file
    ``$XDG_DATA_HOME/ml-explore/explore.db`` (default ``~/.local/share/ml-explore/explore.db``),
    creating its folder. Raises StoreError when the folder cannot be created."""
    if url := settings.db_url():
        return url
    folder = settings.data_home() / "ml-explore"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(STORE_FOLDER_FAILED.format(path=folder, reason=exc.strerror or exc)) from exc
    return f"sqlite:///{folder / 'explore.db'}"


def masked_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:  # unparseable: mask anything that looks like user:password@
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip()


def _is_locked(exc: sa_exc.DBAPIError) -> bool:
    reason = _reason(exc).lower()
    return isinstance(exc, sa_exc.OperationalError) and (
        "database is locked" in reason or "database is busy" in reason
    )


def _is_unavailable(exc: sa_exc.DBAPIError) -> bool:
    # Connection, permission, disk and file problems. "file is not a database" arrives as a bare
    # DatabaseError; its subclasses (IntegrityError, ProgrammingError...) are bugs and pass through.
    return (
        isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or type(exc) is sa_exc.DatabaseError
    )


# ---- the store ------------------------------------------------------------------------------------

_SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",  # first, so that the pragmas below wait for locks too
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)


def _use_sqlite_transactions(engine: Engine) -> None:
    """Make SQLAlchemy, not sqlite3, emit BEGIN (the SQLAlchemy docs' recipe), as ``BEGIN IMMEDIATE``
    when the connection has the ``explore_begin="IMMEDIATE"`` execution option; set the pragmas."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # sqlite3 must not emit BEGIN/COMMIT on its own
        cursor = dbapi_connection.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('explore_begin', 'DEFERRED')}")


def _use_postgres_write_lock(engine: Engine) -> None:
    """Make a transaction begun with ``explore_begin="IMMEDIATE"`` take the store's advisory lock first, so
    PostgreSQL writers queue like SQLite's ``BEGIN IMMEDIATE`` ones (released at commit or rollback)."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("explore_begin") == "IMMEDIATE":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


def _rows(conn: Connection, statement: Select) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(statement)]


def _row(conn: Connection, statement: Select) -> dict[str, Any] | None:
    row = conn.execute(statement).first()
    return None if row is None else dict(row._mapping)


def _insert(conn: Connection, table: Table, **values: Any) -> int:
    """Insert one row stamped with ``author`` and ``created_at`` (and ``updated_at`` where the table has
    one); return its id."""
    now = _utcnow()
    # ``author=None`` (or absent) falls back to $EXPLORE_USER / the OS user; a page passes the signed-in or
    # typed name so that on a shared team server each record says who really wrote it.
    stamps = {"author": values.pop("author", None) or current_author(), "created_at": now}
    if "updated_at" in table.c:
        stamps["updated_at"] = now
    return conn.execute(table.insert(), {**stamps, **values}).inserted_primary_key[0]


def _latest(table: Table, keys: Sequence[str], *where: Any) -> Select:
    """Return a SELECT of the newest row (highest id) of ``table`` for each value of ``keys`` among the
    rows matching ``where``."""
    newest = select(func.max(table.c.id)).where(*where).group_by(*(table.c[k] for k in keys))
    return select(table).where(table.c.id.in_(newest))


def _check_choice(what: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise StoreError(STORE_BAD_CHOICE.format(what=what, allowed=", ".join(allowed), received=value))


class Store:
    """The database of saved slices, snapshots, review sessions and verdicts, rubric reviews, check runs
    and experiments. ``url`` defaults to :func:`default_db_url`.

    Opening creates or migrates the schema. Raises StoreError when the database cannot be reached or
    written, or when its schema is newer than this code.
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_db_url()
        self.display_url = masked_url(self.url)
        try:
            sqlite = make_url(self.url).get_backend_name() == "sqlite"
            self.engine = create_engine(self.url, **({} if sqlite else {"pool_pre_ping": True}))
        except (sa_exc.ArgumentError, ImportError) as exc:  # malformed URL, unknown dialect, missing driver
            raise StoreError(STORE_BAD_URL.format(url=self.display_url, reason=_reason(exc))) from exc
        if self.engine.dialect.name == "sqlite":
            _use_sqlite_transactions(self.engine)
        elif self.engine.dialect.name == "postgresql":
            _use_postgres_write_lock(self.engine)
        self._writer = self.engine.execution_options(explore_begin="IMMEDIATE")
        try:
            if self.read(self._schema_version) != SCHEMA_VERSION:
                self.write(self._migrate)
        except BaseException:
            self.dispose()
            raise

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        """Close every pooled connection (the Store can still be used; it reconnects on demand)."""
        self.engine.dispose()

    # -- transactions --

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in a read transaction and return what it returns (retried like :meth:`write`
        while the database is locked, e.g. during SQLite's WAL recovery)."""
        return self._run(self.engine, fn)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction (``BEGIN IMMEDIATE`` on SQLite) and return what it
        returns. Everything ``fn`` did is committed together, or rolled back if it raises. While the
        database is locked the whole transaction is retried with jittered backoff (so ``fn`` may run
        more than once) for up to LOCK_RETRY_SECONDS; then StoreError."""
        return self._run(self._writer, fn)

    def _run(self, engine: Engine, fn: Callable[[Connection], T]) -> T:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            connected = False
            try:
                with engine.connect() as conn:
                    connected = True
                    with conn.begin():
                        return fn(conn)
            except sa_exc.DBAPIError as exc:
                elapsed = time.monotonic() - started
                locked = _is_locked(exc)
                # Unreachable while connecting: nothing was sent, so trying again cannot write twice.
                # (A SQLite file that cannot be opened will not come back: only servers are retried.)
                unreachable = not connected and engine.dialect.name != "sqlite" and _is_unavailable(exc)
                budget = LOCK_RETRY_SECONDS if locked else UNAVAILABLE_RETRY_SECONDS
                if (locked or unreachable) and elapsed < budget:
                    left = budget - elapsed
                    time.sleep(random.uniform(0, min(left, 1.0, 0.01 * 2 ** min(attempt, 10))))
                    continue
                if locked:
                    message = STORE_LOCKED.format(
                        url=self.display_url, seconds=LOCK_RETRY_SECONDS, reason=_reason(exc)
                    )
                elif _is_unavailable(exc):
                    message = STORE_UNAVAILABLE.format(url=self.display_url, reason=_reason(exc))
                else:
                    raise  # anything else is a bug
                raise StoreError(message) from exc

    # -- schema --

    def _schema_version(self, conn: Connection) -> int:
        """Return the stored schema version (0 for a database without the store's tables)."""
        if not inspect(conn).has_table(meta.name):
            return 0
        found = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        version = int(found or 0)
        if version > SCHEMA_VERSION:
            raise StoreError(
                STORE_SCHEMA_NEWER.format(url=self.display_url, found=version, supported=SCHEMA_VERSION)
            )
        return version

    def _migrate(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":  # serialise concurrent first opens, like BEGIN IMMEDIATE
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('ml-explore schema'))"))
        version = self._schema_version(conn)  # again: another process may have migrated meanwhile
        if version == SCHEMA_VERSION:
            return
        for migration in MIGRATIONS[version:] if version else MIGRATIONS[:1]:
            migration(conn)
        conn.execute(meta.delete().where(meta.c.key == "schema_version"))
        conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

    def _require(self, conn: Connection, table: Table, row_id: int, what: str) -> None:
        if conn.execute(select(table.c.id).where(table.c.id == row_id)).first() is None:
            raise StoreError(STORE_NOT_FOUND.format(what=what, id=row_id, url=self.display_url))

    def _add(self, table: Table, **values: Any) -> int:
        """Insert one stamped row in its own write transaction; return its id."""
        return self.write(lambda conn: _insert(conn, table, **values))

    def _add_under(self, parent: Table, parent_id: int, what: str, table: Table, **values: Any) -> int:
        """Like :meth:`_add`, for a row whose foreign key points at ``parent``'s row ``parent_id``;
        StoreError naming that id when the row does not exist."""
        try:
            return self._add(table, **values)
        except sa_exc.IntegrityError:
            # The foreign key refused the row: say so in words. (Checking only after a failure keeps
            # the write transaction, and so the time the SQLite lock is held, short.)
            self.read(lambda conn: self._require(conn, parent, parent_id, what))
            raise

    # -- saved slices --

    def save_slice(
        self, workspace: str, name: str, definition: dict[str, Any], *, author: str | None = None
    ) -> int:
        """Save (a new version of) the slice ``name``; return the row id."""
        return self._add(saved_slices, workspace=workspace, name=name, definition=definition, author=author)

    def list_slices(self, workspace: str) -> list[dict[str, Any]]:
        """Return the latest version of each saved slice of ``workspace``, ordered by name."""
        statement = _latest(saved_slices, ["name"], saved_slices.c.workspace == workspace).order_by(
            saved_slices.c.name
        )
        return self.read(lambda c: _rows(c, statement))

    # -- snapshots --

    def add_snapshot(
        self,
        *,
        workspace: str,
        kind: str,
        tests: Sequence[str],
        title: str,
        params: dict[str, Any],
        result: Any,
        model_fingerprint: str,
        data_fingerprint: str,
        source: str = "app",
        author: str | None = None,
    ) -> int:
        """Freeze an analysis result as evidence for the rubric ``tests`` (e.g. ``["model-6"]``); return
        its id."""
        _check_choice("source", source, SNAPSHOT_SOURCES)
        return self._add(
            snapshots,
            workspace=workspace,
            kind=kind,
            tests=list(tests),
            title=title,
            params=params,
            result=result,
            model_fingerprint=model_fingerprint,
            data_fingerprint=data_fingerprint,
            source=source,
            author=author,
        )

    def list_snapshots(
        self, workspace: str | None = None, test: str | None = None, kind: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the snapshots matching every filter given (``test``: among the snapshot's tests),
        newest first."""
        statement = select(snapshots).order_by(snapshots.c.id.desc())
        if workspace is not None:
            statement = statement.where(snapshots.c.workspace == workspace)
        if kind is not None:
            statement = statement.where(snapshots.c.kind == kind)
        rows = self.read(lambda c: _rows(c, statement))
        # ``tests`` is JSON text, so membership is decided after decoding (snapshots are few).
        return [row for row in rows if test is None or test in row["tests"]]

    def get_snapshot(self, snapshot_id: int) -> dict[str, Any] | None:
        """Return the snapshot with this id, or None."""
        return self.read(lambda c: _row(c, select(snapshots).where(snapshots.c.id == snapshot_id)))

    # -- review sessions and verdicts --

    def create_session(
        self,
        *,
        workspace: str,
        dataset: str,
        name: str,
        reviewer: str,
        mode: str,
        params: dict[str, Any],
        items: Any,
        author: str | None = None,
    ) -> int:
        """Create an open review session over ``items`` (ordered item ids, plus strata info); return its
        id."""
        _check_choice("mode", mode, SESSION_MODES)
        return self._add(
            review_sessions,
            workspace=workspace,
            dataset=dataset,
            name=name,
            reviewer=reviewer,
            mode=mode,
            params=params,
            items=items,
            status="open",
            author=author or reviewer,
        )

    def get_session(self, session_id: int) -> dict[str, Any] | None:
        """Return the review session with this id, or None."""
        return self.read(lambda c: _row(c, select(review_sessions).where(review_sessions.c.id == session_id)))

    def list_sessions(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Return the review sessions (of ``workspace`` if given), newest first."""
        statement = select(review_sessions).order_by(review_sessions.c.id.desc())
        if workspace is not None:
            statement = statement.where(review_sessions.c.workspace == workspace)
        return self.read(lambda c: _rows(c, statement))

    def set_session_status(self, session_id: int, status: str) -> None:
        """Set a session's status ("open", "paused" or "done") and its ``updated_at``."""
        _check_choice("status", status, SESSION_STATUSES)

        statement = (
            review_sessions.update()
            .where(review_sessions.c.id == session_id)
            .values(status=status, updated_at=_utcnow())
        )
        if self.write(lambda c: c.execute(statement).rowcount) == 0:
            raise StoreError(
                STORE_NOT_FOUND.format(what="review session", id=session_id, url=self.display_url)
            )

    def add_verdict(
        self,
        session_id: int,
        item_id: str,
        verdict: str,
        corrected_label: str | None = None,
        note: str = "",
        *,
        author: str | None = None,
    ) -> int:
        """Record a verdict ("correct", "wrong" or "unsure") on one item of a session; return its id.
        Earlier verdicts on the item are kept as history."""
        _check_choice("verdict", verdict, VERDICTS)

        return self._add_under(
            review_sessions,
            session_id,
            "review session",
            verdicts,
            session_id=session_id,
            item_id=str(item_id),
            verdict=verdict,
            corrected_label=None if corrected_label is None else str(corrected_label),
            note=note,
            author=author,
        )

    def latest_verdicts(self, session_id: int) -> list[dict[str, Any]]:
        """Return the current verdict of each reviewed item of the session, in the order they were given."""
        statement = _latest(verdicts, ["item_id"], verdicts.c.session_id == session_id).order_by(
            verdicts.c.id
        )
        return self.read(lambda c: _rows(c, statement))

    def verdict_history(self, session_id: int, item_id: str) -> list[dict[str, Any]]:
        """Return every verdict given on one item of the session, oldest first."""
        statement = (
            select(verdicts)
            .where(verdicts.c.session_id == session_id, verdicts.c.item_id == str(item_id))
            .order_by(verdicts.c.id)
        )
        return self.read(lambda c: _rows(c, statement))

    # -- rubric reviews --

    def create_review(
        self,
        name: str,
        model_version: str,
        parent_id: int | None = None,
        *,
        author: str | None = None,
        workspace: str | None = None,
    ) -> int:
        """Create a rubric review (``parent_id``: the review it continues; ``workspace``: the workspace.toml it
        is of); return its id. Raises StoreError if the name is taken."""

        def insert(conn: Connection) -> int:
            taken = conn.execute(select(rubric_reviews.c.id).where(rubric_reviews.c.name == name)).scalar()
            if taken is not None:
                raise StoreError(STORE_REVIEW_NAME_TAKEN.format(name=name, id=taken))
            if parent_id is not None:
                self._require(conn, rubric_reviews, parent_id, "rubric review")
            return _insert(
                conn,
                rubric_reviews,
                name=name,
                model_version=model_version,
                scale=RUBRIC_SCALE,
                parent_id=parent_id,
                author=author,
                workspace=workspace,
            )

        return self.write(insert)

    def list_reviews(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Return the rubric reviews (of ``workspace`` if given), newest first."""
        statement = select(rubric_reviews).order_by(rubric_reviews.c.id.desc())
        if workspace is not None:
            statement = statement.where(rubric_reviews.c.workspace == workspace)
        return self.read(lambda c: _rows(c, statement))

    def get_review_by_name(self, name: str) -> dict[str, Any] | None:
        """Return the rubric review called ``name``, or None."""
        return self.read(lambda c: _row(c, select(rubric_reviews).where(rubric_reviews.c.name == name)))

    def add_rubric_entry(
        self,
        review_id: int,
        test_id: str,
        status: str,
        evidence_text: str = "",
        links: Sequence[str] = (),
        snapshot_ids: Sequence[int] = (),
        *,
        author: str | None = None,
    ) -> int:
        """Record the state of one rubric test ("not_done", "manual" or "automated") with its evidence;
        return the entry id. Earlier entries are kept as history."""
        _check_choice("status", status, RUBRIC_STATUSES)

        return self._add_under(
            rubric_reviews,
            review_id,
            "rubric review",
            rubric_entries,
            review_id=review_id,
            test_id=test_id,
            status=status,
            evidence_text=evidence_text,
            links=list(links),
            snapshot_ids=[int(i) for i in snapshot_ids],
            author=author,
        )

    def current_rubric_entries(self, review_id: int) -> dict[str, dict[str, Any]]:
        """Return the latest entry of each test of the review, keyed by test id."""
        statement = _latest(rubric_entries, ["test_id"], rubric_entries.c.review_id == review_id).order_by(
            rubric_entries.c.id
        )
        return {row["test_id"]: row for row in self.read(lambda c: _rows(c, statement))}

    def rubric_history(self, review_id: int, test_id: str | None = None) -> list[dict[str, Any]]:
        """Return the review's entries (of ``test_id`` only, if given), oldest first, each with
        ``previous_status``: the test's status before that entry (None for its first entry)."""
        statement = (
            select(rubric_entries)
            .where(rubric_entries.c.review_id == review_id)
            .order_by(rubric_entries.c.id)
        )
        if test_id is not None:
            statement = statement.where(rubric_entries.c.test_id == test_id)
        rows = self.read(lambda c: _rows(c, statement))
        status_so_far: dict[str, str] = {}
        for row in rows:
            row["previous_status"] = status_so_far.get(row["test_id"])
            status_so_far[row["test_id"]] = row["status"]
        return rows

    # -- what changed: cheap markers for pages that follow other people's writes --

    def review_marker(self, review_id: int) -> tuple[Any, ...]:
        """A value that changes whenever anything the Rubric page shows of this review is written: its
        entries, any snapshot or check run, any review (records are append-only, so newest ids suffice).
        One query on primary keys: cheap enough to poll every two seconds from every reviewer's page."""

        def newest(table: Table, *where: Any) -> Any:
            return select(func.max(table.c.id)).where(*where).scalar_subquery()

        statement = select(
            newest(rubric_entries, rubric_entries.c.review_id == review_id),
            newest(snapshots),
            newest(check_runs),
            newest(rubric_reviews),
        )
        return tuple(self.read(lambda c: c.execute(statement).one()))

    def session_marker(self, session_id: int) -> tuple[Any, ...]:
        """A value that changes whenever a verdict is given in this review session or its status changes."""
        statement = select(
            select(func.max(verdicts.c.id)).where(verdicts.c.session_id == session_id).scalar_subquery(),
            select(review_sessions.c.updated_at).where(review_sessions.c.id == session_id).scalar_subquery(),
        )
        return tuple(self.read(lambda c: c.execute(statement).one()))

    # -- check runs --

    def add_check_run(
        self,
        *,
        workspace: str,
        started_at: dt.datetime,
        finished_at: dt.datetime,
        exit_code: int,
        report: Any,
    ) -> int:
        """Record one ``explore check`` run (aware datetimes); return its id."""
        return self._add(
            check_runs,
            workspace=workspace,
            started_at=started_at,
            finished_at=finished_at,
            exit_code=exit_code,
            report=report,
        )

    def list_check_runs(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """Return the check runs (of ``workspace`` if given), newest first."""
        statement = select(check_runs).order_by(check_runs.c.id.desc())
        if workspace is not None:
            statement = statement.where(check_runs.c.workspace == workspace)
        return self.read(lambda c: _rows(c, statement))

    # -- experiments --

    def save_experiment(
        self,
        *,
        workspace: str,
        kind: str,
        key: str,
        params: dict[str, Any],
        result: Any,
        status: str = "done",
    ) -> int:
        """Keep the result of a long analysis under (workspace, kind, key); return its id. Saving the same
        key again supersedes the earlier row."""
        return self._add(
            experiments, workspace=workspace, kind=kind, key=key, params=params, result=result, status=status
        )

    def find_experiment(self, workspace: str, kind: str, key: str) -> dict[str, Any] | None:
        """Return the latest experiment saved under (workspace, kind, key), or None."""
        statement = (
            select(experiments)
            .where(experiments.c.workspace == workspace, experiments.c.kind == kind, experiments.c.key == key)
            .order_by(experiments.c.id.desc())
            .limit(1)
        )
        return self.read(lambda c: _row(c, statement))

    def list_experiments(self, workspace: str, kind: str) -> list[dict[str, Any]]:
        """Return the latest experiment of each key of this workspace and kind, newest first."""
        statement = _latest(
            experiments, ["key"], experiments.c.workspace == workspace, experiments.c.kind == kind
        ).order_by(experiments.c.id.desc())
        return self.read(lambda c: _rows(c, statement))
