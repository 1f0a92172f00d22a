"""Pathological data files (issue 19, limits) and what one session's upload of them costs another session.

``wide_csv`` (5,000 columns), ``big_cell_csv`` (one 10 MB cell) and ``long_line_csv`` (one line over the CSV
line limit) are uploaded on the Workspace page by ``upload_and_open``; ``other_session_during`` reruns a second
session's page in a thread of its own while the first one works on a file, as two browser sessions of one
server do (each runs its script in its own thread of the one process). Used by tests/app/test_limits.py and
benchmarks/bench_limits.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

APP = Path(__file__).resolve().parent.parent / "app.py"


def _predictions_only(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n = len(df)
    df["label"] = rng.choice(["a", "b"], n)
    df["pred"] = rng.choice(["a", "b"], n)
    df["score"] = rng.random(n).round(4)
    return df


def wide_csv(n_rows: int = 200, n_columns: int = 5_000, seed: int = 0) -> bytes:
    """A predictions-only CSV with ``n_columns`` numeric feature columns (plus label, pred, score)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        rng.normal(size=(n_rows, n_columns)).round(3), columns=[f"f{i}" for i in range(n_columns)]
    )
    return _predictions_only(df, rng).to_csv(index=False).encode()


def big_cell_csv(cell_mb: int = 10, n_rows: int = 200, seed: int = 0) -> bytes:
    """A predictions-only CSV whose text column ``note`` holds one ``cell_mb`` MB cell (the rest are short)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n_rows).round(3), "note": rng.choice(["red", "blue"], n_rows)})
    df.loc[3, "note"] = "y" * (cell_mb << 20)
    return _predictions_only(df, rng).to_csv(index=False).encode()


def long_line_csv(line_mb: int, n_rows: int = 200, seed: int = 0) -> bytes:
    """A CSV with one ``line_mb`` MB line: an unclosed quote swallows the rest of the file into one field."""
    rng = np.random.default_rng(seed)
    head = _predictions_only(pd.DataFrame({"x": rng.normal(size=n_rows).round(3)}), rng).to_csv(index=False)
    return head.encode() + b'1.0,"a,' + b"z" * (line_mb << 20) + b"\n"


def upload_and_open(at, name: str, data: bytes) -> float:
    """Upload ``data`` as one predictions-only data file on the Workspace page and open it; return seconds.
    Stops early (the page shows why) when the upload is refused before the form appears."""
    start = time.perf_counter()
    at.file_uploader(key="workspace_upload_data").set_value([(name, data, "text/csv")])
    _run_once_more_on_a_lost_widget(lambda: at.run())
    if any(s.key == "workspace_up_label" for s in at.selectbox):

        def open_it() -> None:
            at.selectbox(key="workspace_up_label").set_value("label")
            at.selectbox(key="workspace_up_prediction").set_value("pred")
            at.selectbox(key="workspace_up_score").set_value("score")
            at.button(key="workspace_up_open").click().run()

        _run_once_more_on_a_lost_widget(open_it)
    return time.perf_counter() - start


def _run_once_more_on_a_lost_widget(run: Callable[[], object]) -> None:
    """``run()``, and once more if AppTest lost a widget's id ("KeyError: '$$ID-…'" while collecting widget
    states, before the script runs): with two AppTest sessions in threads (``other_session_during``) its one
    Runtime singleton can register a rerun's widgets on the other session (seen under load, ~1 run in 7); the
    app's code did not run, so running again tests the same thing."""
    try:
        run()
    except KeyError as exc:
        if "$$ID-" not in str(exc):
            raise
        run()


@dataclass
class Contention:
    """What the other session saw: its reruns alone and while the first session worked on the file."""

    alone: list[float]
    during: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0  # how long the first session's upload and open took

    @property
    def slowest(self) -> float:
        return max(self.during, default=float("nan"))


@contextmanager
def _overlapping_app_tests() -> Iterator[None]:
    """AppTest keeps one Runtime singleton and clears it when any run ends, so two sessions in threads (the
    point of ``other_session_during``) could see it vanish mid-run ("Runtime hasn't been created!", seen under
    load). While they overlap, a cleared singleton reads as the last one set."""
    from streamlit.runtime.runtime import Runtime

    saved = Runtime.__dict__["instance"], Runtime.__dict__["exists"]
    last: dict[str, Any] = {}

    def instance(cls: type[Runtime]) -> Runtime:
        rt = cls._instance
        if rt is not None:
            last["rt"] = rt
            return rt
        if "rt" in last:
            return last["rt"]
        raise RuntimeError("Runtime hasn't been created!")

    def exists(cls: type[Runtime]) -> bool:
        return cls._instance is not None or "rt" in last

    Runtime.instance = classmethod(instance)  # type: ignore[method-assign, assignment]
    Runtime.exists = classmethod(exists)  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        Runtime.instance, Runtime.exists = saved  # type: ignore[method-assign]


def other_session_during(
    make: Callable[[], object],
    busy: Callable[[], object],
    *,
    rerun: Callable[[object], None] = lambda at: at.run(),
    alone_runs: int = 3,
) -> Contention:
    """Rerun the page of session B (``make()``) ``alone_runs`` times alone, then over and over while session
    A runs ``busy()`` in another thread (at least once: the first rerun starts with A). An exception in A is
    raised here."""
    other = make()
    alone = []
    for _ in range(alone_runs):
        t = time.perf_counter()
        rerun(other)
        alone.append(time.perf_counter() - t)
    out = Contention(alone=alone)
    with _overlapping_app_tests(), ThreadPoolExecutor(1, thread_name_prefix="pathological-session") as pool:
        started = time.perf_counter()
        first = pool.submit(busy)
        first.add_done_callback(lambda _: setattr(out, "busy_seconds", time.perf_counter() - started))
        while True:
            t = time.perf_counter()
            rerun(other)
            out.during.append(time.perf_counter() - t)
            if first.done():
                break
        first.result()
    return out
