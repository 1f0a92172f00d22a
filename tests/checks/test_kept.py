"""explore/checks/kept.py: when a kept result or an editor's base still applies."""

from __future__ import annotations

import dataclasses
import json
import os

from explore.checks.kept import EditorBase, KeptRun, experiment_key, file_mtime


def test_kept_result_belongs_to_its_workspace_and_notices_changed_settings():
    kept = KeptRun(workspace_key="ws-1", params={"model": "current", "rows": 200}, result="the result")
    assert kept.applies_to("ws-1") and not kept.applies_to("ws-2")
    assert not kept.settings_changed({"rows": 200, "model": "current"})  # same settings, any order
    assert kept.settings_changed({"model": "current", "rows": 500})


def test_experiment_key_is_the_same_json_whatever_the_order_of_the_settings():
    key = experiment_key({"b": [1, 2], "a": 0.95, "path": os.sep})
    assert key == experiment_key({"path": os.sep, "a": 0.95, "b": [1, 2]})
    assert json.loads(key) == {"a": 0.95, "b": [1, 2], "path": os.sep}
    assert experiment_key({"when": dataclasses}) == json.dumps({"when": str(dataclasses)})  # others as text


def test_file_mtime_is_zero_until_the_file_exists(tmp_path):
    path = tmp_path / "thresholds.toml"
    assert file_mtime(path) == 0
    path.write_text("x")
    assert file_mtime(path) == path.stat().st_mtime_ns > 0


def test_a_base_read_from_the_file_is_replaced_when_the_file_changes_on_disk():
    base = EditorBase(value="suite", workspace_key="ws-1", file_mtime=100, origin="loaded from suite.toml")
    assert base.is_current("ws-1", 100)
    assert not base.is_current("ws-1", 200)  # edited on disk (or saved by another session)
    assert not base.is_current("ws-2", 100)  # another workspace
    no_file_yet = EditorBase(value="defaults", workspace_key="ws-1", file_mtime=0)
    assert no_file_yet.is_current("ws-1", 0) and not no_file_yet.is_current("ws-1", 300)


def test_a_fresh_profile_is_kept_whatever_happens_to_the_file():
    # The suite state used to be told apart by its display text ("profiled from…" vs "loaded from…").
    profiled = EditorBase(
        value="suite", workspace_key="ws-1", file_mtime=None, origin="profiled from 'train'"
    )
    assert profiled.is_current("ws-1", 0) and profiled.is_current("ws-1", 12345)
    assert not profiled.is_current("ws-2", 0)
    saved = dataclasses.replace(profiled, file_mtime=500, origin="saved to expectations.toml")
    assert saved.is_current("ws-1", 500) and not saved.is_current("ws-1", 600)
    assert saved.value == "suite"  # the editor's edits stay relative to the same base
