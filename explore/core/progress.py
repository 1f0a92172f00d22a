"""The progress callback every long analysis takes, and its do-nothing default.

``progress(fraction, message)``: ``fraction`` of the work done (0 to 1) and what is being done now. The
pages pass a callback that moves a progress bar; ``explore check`` one that prints; tests pass nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default progress callback: ignore."""
