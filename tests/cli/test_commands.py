"""The `explore` command: argument handling and the server command it builds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from explore.cli import commands as cli
from explore.errors import SettingError
from tests.conftest import ROOT
from tests.helpers import make_workspace


def test_streamlit_command_points_at_checkout_app(tmp_path):
    cmd, env = cli.streamlit_command(
        tmp_path / "workspace.toml", port=8600, host="127.0.0.1", headless=True, extra=[]
    )
    assert Path(cmd[4]) == cli.APP and cli.APP.exists()
    assert cmd[cmd.index("--server.port") + 1] == "8600"
    assert env["EXPLORE_WORKSPACE"] == str(tmp_path / "workspace.toml")
    assert int(cmd[cmd.index("--server.maxUploadSize") + 1]) > cli.max_upload_mb()


def test_run_with_bad_workspace_exits_2_with_message(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_rejects_unknown_key_before_serving(tmp_path, capsys):
    path = make_workspace(tmp_path, columns={"label": "income", "colour": "x"})
    assert cli.main(["run", str(path)]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err


def test_sample_builds_tiny(tmp_path, capsys):
    assert cli.main(["sample", "--size", "tiny", "--dest", str(tmp_path)]) == 0
    assert (tmp_path / "workspace.toml").exists()


def test_upload_limit_env(monkeypatch):
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", "5")
    assert cli.max_upload_mb() == 5
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", "lots")
    with pytest.raises(SettingError, match="received 'lots'"):
        cli.max_upload_mb()


@pytest.mark.parametrize("command", [[], ["run", "WORKSPACE"]], ids=["explore", "explore run"])
def test_bad_upload_limit_exits_2_with_the_message_before_serving(command, tmp_path, monkeypatch, capsys):
    path = make_workspace(tmp_path)
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", "lots")

    def must_not_run(*args, **kwargs):
        raise AssertionError("nothing may be built or served with a bad setting")

    monkeypatch.setattr(cli.os, "execve", must_not_run)
    monkeypatch.setattr("explore.core.sample.ensure_sample", must_not_run)
    assert cli.main([str(path) if a == "WORKSPACE" else a for a in command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("explore: The environment variable EXPLORE_MAX_UPLOAD_MB must be a whole number")
    assert "received 'lots'" in err and "Traceback" not in err


def test_bad_upload_limit_from_the_console_script_exits_2_without_traceback(tmp_path):
    env = dict(os.environ, EXPLORE_MAX_UPLOAD_MB="lots")
    out = subprocess.run(
        [sys.executable, "-m", "explore.cli", "run", str(make_workspace(tmp_path))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr
    assert "EXPLORE_MAX_UPLOAD_MB" in out.stderr and "received 'lots'" in out.stderr
    assert "Traceback" not in out.stderr


def test_options_after_the_workspace_and_streamlit_passthrough(tmp_path, monkeypatch):
    path = make_workspace(tmp_path)
    seen = {}

    def fake_execve(exe, cmd, env):
        seen["cmd"], seen["env"] = cmd, env
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execve", fake_execve)
    with pytest.raises(SystemExit):
        cli.main(
            ["run", str(path), "--port", "8765", "--host", "127.0.0.1", "--headless", "--theme.base", "dark"]
        )
    cmd = seen["cmd"]
    assert cmd[cmd.index("--server.port") + 1] == "8765"
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[-2:] == ["--theme.base", "dark"]
    assert seen["env"]["EXPLORE_WORKSPACE"] == str(path)


def _served(monkeypatch, argv: list[str]) -> list[str]:
    """The `streamlit run` command line ``explore argv`` would exec."""
    seen = {}

    def fake_execve(exe, cmd, env):
        seen["cmd"] = cmd
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execve", fake_execve)
    with pytest.raises(SystemExit):
        cli.main(argv)
    return seen["cmd"]


@pytest.mark.parametrize("command", [[], ["run", "WORKSPACE"]], ids=["explore", "explore run"])
def test_only_the_server_options_the_user_gave_are_passed(command, tmp_path, monkeypatch):
    """Without --port/--host/--headless, Streamlit's own configuration (STREAMLIT_SERVER_PORT,
    .streamlit/config.toml) decides: explore must not override it with defaults of its own."""
    path = make_workspace(tmp_path)
    monkeypatch.setattr("explore.core.sample.ensure_sample", lambda *a, **k: path)
    cmd = _served(monkeypatch, [str(path) if a == "WORKSPACE" else a for a in command])
    for option in ("--server.port", "--server.address", "--server.headless"):
        assert option not in cmd
    assert int(cmd[cmd.index("--server.maxUploadSize") + 1]) == cli.max_upload_mb() + 1
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"


@pytest.mark.parametrize(
    ("given", "option", "value"),
    [
        (["--port", "9000"], "--server.port", "9000"),
        (["--host", "0.0.0.0"], "--server.address", "0.0.0.0"),
        (["--headless"], "--server.headless", "true"),
    ],
)
def test_each_server_option_given_is_passed_alone(given, option, value, tmp_path, monkeypatch):
    path = make_workspace(tmp_path)
    cmd = _served(monkeypatch, ["run", str(path), *given])
    assert cmd[cmd.index(option) + 1] == value
    others = {"--server.port", "--server.address", "--server.headless"} - {option}
    assert not others & set(cmd)


def test_streamlit_command_without_server_options():
    cmd, _ = cli.streamlit_command(Path("w.toml"), port=None, host=None, headless=False, extra=["--x", "1"])
    assert not {"--server.port", "--server.address", "--server.headless"} & set(cmd)
    assert cmd[-2:] == ["--x", "1"]


def test_passthrough_server_port_is_not_contradicted(tmp_path, monkeypatch):
    path = make_workspace(tmp_path)
    cmd = _served(monkeypatch, ["run", str(path), "--server.port", "8700"])
    assert cmd.count("--server.port") == 1 and cmd[cmd.index("--server.port") + 1] == "8700"
