"""explore.core.settings: every environment variable in one table, read on demand, bad values refused
with a message that says what is wrong, what was received and the fix."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from explore.core import settings
from explore.core.settings import SETTING_BAD_VALUE, SETTINGS
from explore.errors import ExploreError, SettingError
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)


def test_the_table_is_complete_and_documented_for_people():
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for s in SETTINGS:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", s.name)
        assert s.type and s.default and s.meaning, s.name


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_blank_means_unset(setting, monkeypatch):
    monkeypatch.setenv(setting.name, "   ")
    assert setting.raw() is None and setting.read() is None


def test_defaults():
    assert settings.workspace() is None
    assert settings.db_url() is None
    assert settings.max_upload_mb() == settings.DEFAULT_MAX_UPLOAD_MB == 1024
    assert settings.upload_dir() == Path(tempfile.gettempdir()) / "ml-explore-uploads"
    assert settings.user() is None
    assert settings.allowed_users() is None
    assert settings.data_home() == Path.home() / ".local" / "share"
    settings.check_all()


def test_values_are_read_when_asked_for(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORE_WORKSPACE", "~/ws/workspace.toml")
    monkeypatch.setenv("EXPLORE_DB_URL", " postgresql://u@db/explore ")
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", " 5 ")
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "up"))
    monkeypatch.setenv("EXPLORE_USER", " alice ")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert settings.workspace() == Path.home() / "ws" / "workspace.toml"
    assert settings.db_url() == "postgresql://u@db/explore"
    assert settings.max_upload_mb() == 5
    assert settings.upload_dir() == tmp_path / "up"
    assert settings.user() == "alice"
    assert settings.data_home() == tmp_path / "data"
    settings.check_all()
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", "7")
    assert settings.max_upload_mb() == 7


def test_a_relative_data_home_is_ignored_as_the_xdg_spec_says(monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", "relative/data")
    assert settings.data_home() == Path.home() / ".local" / "share"


@pytest.mark.parametrize("value", ["lots", "1.5", "1e3", "0", "-5", "12 MB"])
def test_a_bad_upload_limit_is_an_error_with_the_fix(value, monkeypatch):
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", value)
    with pytest.raises(SettingError) as caught:
        settings.max_upload_mb()
    assert isinstance(caught.value, ExploreError)
    assert str(caught.value) == SETTING_BAD_VALUE.format(
        name="EXPLORE_MAX_UPLOAD_MB",
        expected="a whole number of megabytes, at least 1",
        received=value,
        fix="Set it to e.g. EXPLORE_MAX_UPLOAD_MB=2048, or unset it to use the default (1024).",
    )
    with pytest.raises(SettingError, match="EXPLORE_MAX_UPLOAD_MB"):
        settings.check_all()


def test_the_message_names_what_is_wrong_what_was_received_and_the_fix(monkeypatch):
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", "lots")
    with pytest.raises(SettingError) as caught:
        settings.max_upload_mb()
    message = str(caught.value)
    assert "EXPLORE_MAX_UPLOAD_MB must be a whole number" in message
    assert "received 'lots'" in message
    assert "EXPLORE_MAX_UPLOAD_MB=2048" in message and "unset it" in message


def test_the_old_readers_go_through_settings(monkeypatch, tmp_path):
    from explore.core.store import current_author, default_db_url
    from explore.core.upload import DEFAULT_LIMIT_MB, upload_root
    from explore.core.workspace import workspace_from_env

    assert workspace_from_env(tmp_path) == tmp_path
    monkeypatch.setenv("EXPLORE_WORKSPACE", str(tmp_path / "w.toml"))
    assert workspace_from_env(tmp_path) == tmp_path / "w.toml"
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "up"))
    assert upload_root() == tmp_path / "up"
    monkeypatch.setenv("EXPLORE_USER", "bob")
    assert current_author() == "bob"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_url() == f"sqlite:///{tmp_path / 'data' / 'ml-explore' / 'explore.db'}"
    assert DEFAULT_LIMIT_MB == settings.DEFAULT_MAX_UPLOAD_MB


_READS_ENV = re.compile(
    r"\bos\.environ\.get\b|\bos\.getenv\b|\bos\.environ\[|\bfrom os import[^\n]*\benviron\b"
)


def test_only_settings_reads_the_environment():
    """Every environment variable goes through explore/core/settings.py (explore/, ui/, views/, app.py)."""
    files = [
        ROOT / "app.py",
        *(p for d in ("explore", "ui", "views") for p in sorted((ROOT / d).rglob("*.py"))),
    ]
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if p != ROOT / "explore" / "core" / "settings.py" and _READS_ENV.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
