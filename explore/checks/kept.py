"""What the Checks page keeps between runs, and when a kept thing is out of date — the rules, without Streamlit.

- A check's result is kept with the workspace and the settings it ran with (:class:`KeptRun`): it is shown
  while the workspace stays the same, with a note once the settings have changed since.
- A data editor (thresholds, an expectation suite) edits a base value (:class:`EditorBase`): the editor's edits
  are stored relative to that base, so the base is kept until the workspace changes or — when it was read from
  or written to a file — until that file changes on disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class KeptRun:
    """A check's result, with the workspace (its ``Workspace.key``) and the settings it was computed for."""

    workspace_key: str
    params: dict[str, Any]
    result: Any

    def applies_to(self, workspace_key: str) -> bool:
        """Whether the result belongs to this workspace (same files, same modification times)."""
        return self.workspace_key == workspace_key

    def settings_changed(self, params: dict[str, Any]) -> bool:
        """Whether the settings on screen differ from those the result was computed with."""
        return self.params != params


def experiment_key(params: dict[str, Any]) -> str:
    """The store key of a kept result: its settings as canonical JSON (sorted keys; other values as text)."""
    return json.dumps(params, sort_keys=True, default=str)


def file_mtime(path: Path) -> int:
    """``path``'s modification time in nanoseconds; 0 while there is no file."""
    return path.stat().st_mtime_ns if path.exists() else 0


@dataclass(frozen=True)
class EditorBase(Generic[T]):
    """The value a data editor edits.

    ``file_mtime`` is the file's modification time when the value was read from or written to it (0: there was
    no file); None when the value did not come from the file (a fresh profile), so a change on disk does not
    replace it. ``origin`` says where the value came from, for the user.
    """

    value: T
    workspace_key: str
    file_mtime: int | None
    origin: str = ""

    def is_current(self, workspace_key: str, file_mtime: int) -> bool:
        """Whether the base still holds: same workspace, and the file unchanged if it came from the file."""
        if self.workspace_key != workspace_key:
            return False
        return self.file_mtime is None or self.file_mtime == file_mtime
