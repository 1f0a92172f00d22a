"""A throwaway PostgreSQL server for the store tests: Debian's ``postgresql`` binaries, a cluster in a
temporary folder, listening only on a Unix socket there, stopped and deleted at the end of the session.

As root (CI containers) the server runs as the ``postgres`` user through ``runuser`` (PostgreSQL refuses
to run as root). When the binaries are missing the tests are skipped with the reason — except under CI
(``$CI`` set), where a missing server is a failure: `.ci/run` installs it.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# fsync=off: fast, and safe unless the machine itself crashes (a halted server keeps every commit).
SERVER_OPTIONS = "-c fsync=off -c full_page_writes=off -c max_connections=200"
_database_numbers = itertools.count()


def pg_bin() -> Path | None:
    """The folder of ``pg_ctl`` and ``initdb``: Debian's /usr/lib/postgresql/<version>/bin, else PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).resolve().parent if on_path else None


def missing_reason() -> str | None:
    """Why no server can be started here, or None."""
    if pg_bin() is None:
        return "PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
    return None


class PostgresServer:
    """A cluster in ``folder``; :meth:`new_database` gives each test its own empty database."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="explore-pg-"))  # short: a socket path has ~100 chars
        self.data = self.folder / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.user = "postgres" if self.as_postgres else pwd.getpwuid(os.geteuid()).pw_name
        self._run("initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "--no-sync", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        options = f"{SERVER_OPTIONS} -c listen_addresses='' -c unix_socket_directories='{self.folder}'"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"
        )

    def halt(self) -> None:
        """Stop the server at once, as a crash or a lost network would (it can be started again)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.folder}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.folder), user=self.user, dbname="postgres", autocommit=True) as c:
            c.execute(sql)

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(_database_numbers)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        try:
            self.halt()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_or_skip() -> PostgresServer:
    """Start a server, or skip (fail under CI) saying why there is none."""
    reason = missing_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test the store on PostgreSQL, but {reason}")
        pytest.skip(reason)
    return PostgresServer()
