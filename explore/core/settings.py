"""Every environment variable ml-explore reads, in one place: its name, type, default and meaning.

Nothing else in the project reads ``os.environ`` for a setting: code asks for a value here
(``settings.max_upload_mb()``), docs and tests iterate over :data:`SETTINGS`. Values are read when asked
for, not at import, so a changed environment (a test, a restarted app) is seen. A blank value counts as
unset. A value that cannot be used raises :class:`~explore.errors.SettingError` saying what is wrong, what
was received and how to fix it; nothing falls back silently to a default.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explore.core.access import AllowedUsers, parse_allowed_users
from explore.errors import SettingError

DEFAULT_MAX_UPLOAD_MB = 1024
DEFAULT_MAX_LINE_MB = 64  # a CSV row this long is a broken file (an unclosed quote), not data

SETTING_BAD_VALUE = "The environment variable {name} must be {expected}; received {received!r}. {fix}"


def _text(raw: str) -> str:
    return raw


def _path(raw: str) -> Path:
    return Path(raw).expanduser()


def _positive_int(raw: str) -> int:
    value = int(raw)  # ValueError for anything but a whole number ("lots", "1.5", "1e3")
    if value < 1:
        raise ValueError(raw)
    return value


def _absolute_path(raw: str) -> Path | None:
    # The XDG base directory spec: a relative path is invalid and is ignored (the default applies).
    path = Path(raw)
    return path if path.is_absolute() else None


@dataclass(frozen=True)
class Setting:
    """One environment variable: ``type`` and ``default`` are written for people (docs, messages)."""

    name: str
    type: str
    default: str
    meaning: str
    parse: Callable[[str], Any] = _text
    expected: str = ""  # what a valid value is, for the error message (parsers that can reject only)
    example: str = ""  # a valid value, for the error message

    def raw(self) -> str | None:
        """The value in the environment, stripped; None when unset or blank."""
        value = os.environ.get(self.name, "").strip()
        return value or None

    def read(self) -> Any:
        """The parsed value, or None when unset. Raises SettingError when the value cannot be used."""
        raw = self.raw()
        if raw is None:
            return None
        try:
            return self.parse(raw)
        except (ValueError, TypeError):
            fix = (
                f"Set it to e.g. {self.name}={self.example}, or unset it to use the default ({self.default})."
            )
            raise SettingError(
                SETTING_BAD_VALUE.format(name=self.name, expected=self.expected, received=raw, fix=fix)
            ) from None


WORKSPACE = Setting(
    "EXPLORE_WORKSPACE",
    "path",
    "the bundled sample workspace",
    "the workspace.toml (or its folder) the app opens",
    _path,
)
DB_URL = Setting(
    "EXPLORE_DB_URL",
    "SQLAlchemy URL",
    "the SQLite file $XDG_DATA_HOME/ml-explore/explore.db",
    "the store of verdicts, rubric confirmations, snapshots and `explore check` runs "
    "(e.g. postgresql+psycopg://user@host/db)",
)
MAX_UPLOAD_MB = Setting(
    "EXPLORE_MAX_UPLOAD_MB",
    "whole number ≥ 1",
    str(DEFAULT_MAX_UPLOAD_MB),
    "the largest file, in MB, the app accepts as an upload",
    _positive_int,
    expected="a whole number of megabytes, at least 1",
    example="2048",
)
MAX_LINE_MB = Setting(
    "EXPLORE_MAX_LINE_MB",
    "whole number ≥ 1",
    str(DEFAULT_MAX_LINE_MB),
    "the longest line, in MB, a CSV data file may have (a longer one is refused before it is read)",
    _positive_int,
    expected="a whole number of megabytes, at least 1",
    example="256",
)
UPLOAD_DIR = Setting(
    "EXPLORE_UPLOAD_DIR",
    "path",
    "ml-explore-uploads in the system temp folder",
    "where uploaded files are kept (as workspaces)",
    _path,
)
USER = Setting(
    "EXPLORE_USER",
    "text",
    "the login name",
    "the name recorded with what you decide (verdicts, confirmations, check runs)",
)
ALLOWED_USERS = Setting(
    "EXPLORE_ALLOWED_USERS",
    "e-mail addresses and domains",
    "anyone who signs in",
    "with sign-in configured (.streamlit/secrets.toml [auth]), who may record decisions: addresses and domains "
    "separated by commas",
    parse_allowed_users,
    expected="e-mail addresses and domains separated by commas",
    example="ana@example.org,example.com",
)
DATA_HOME = Setting(
    "XDG_DATA_HOME",
    "absolute path",
    "~/.local/share",
    "the folder holding the default store, ml-explore/explore.db (a relative path is ignored)",
    _absolute_path,
)

SETTINGS: tuple[Setting, ...] = (
    WORKSPACE,
    DB_URL,
    MAX_UPLOAD_MB,
    MAX_LINE_MB,
    UPLOAD_DIR,
    USER,
    ALLOWED_USERS,
    DATA_HOME,
)


def check_all() -> None:
    """Read every setting; raise SettingError for the first that cannot be used (fail before any work)."""
    for setting in SETTINGS:
        setting.read()


# ---- typed accessors --------------------------------------------------------------------------------------


def workspace() -> Path | None:
    """$EXPLORE_WORKSPACE as a path, or None."""
    return WORKSPACE.read()


def db_url() -> str | None:
    """$EXPLORE_DB_URL, or None (the store then uses its default SQLite file)."""
    return DB_URL.read()


def max_upload_mb() -> int:
    """The upload limit in MB: $EXPLORE_MAX_UPLOAD_MB, default 1024. Raises SettingError for a bad value."""
    value = MAX_UPLOAD_MB.read()
    return DEFAULT_MAX_UPLOAD_MB if value is None else value


def max_line_mb() -> int:
    """The CSV line limit in MB: $EXPLORE_MAX_LINE_MB, default 64. Raises SettingError for a bad value."""
    value = MAX_LINE_MB.read()
    return DEFAULT_MAX_LINE_MB if value is None else value


def upload_dir() -> Path:
    """Where uploads are kept: $EXPLORE_UPLOAD_DIR, else ml-explore-uploads in the system temp folder."""
    return UPLOAD_DIR.read() or Path(tempfile.gettempdir()) / "ml-explore-uploads"


def user() -> str | None:
    """$EXPLORE_USER, or None (the store then uses the login name)."""
    return USER.read()


def allowed_users() -> AllowedUsers | None:
    """$EXPLORE_ALLOWED_USERS parsed, or None (anyone who signs in may record). Raises SettingError."""
    return ALLOWED_USERS.read()


def data_home() -> Path:
    """$XDG_DATA_HOME when it is an absolute path, else ~/.local/share."""
    return DATA_HOME.read() or Path.home() / ".local" / "share"
