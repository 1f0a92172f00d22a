"""Time windows over a timestamp column: calendar periods (day/week/month/quarter) or equal row counts.

``time_windows(time, by="month")`` assigns every row a window code (``-1`` for a missing timestamp)
and describes each window (start, exclusive end, label, row count). Calendar windows cover the
whole span from the first to the last timestamp, so an empty period shows up as a window with
0 rows; windows with fewer than ``min_rows`` rows are *flagged* (``too_few``), never dropped.

``concat_scored`` joins several scored datasets (e.g. train, validation, production) into one
``Scored`` in time order, so that windows can run across the whole history of a workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from explore.core.timeparse import parse_time
from explore.core.workspace import Scored, Workspace
from explore.errors import AnalysisError, TimeColumnError

WindowBy = Literal["day", "week", "month", "quarter", "rows"]
WINDOW_BYS: tuple[str, ...] = ("day", "week", "month", "quarter", "rows")
DEFAULT_MIN_ROWS = 100
MAX_WINDOWS = 400

NO_TIME_COLUMN = (
    "This analysis needs a time column, but {where} has none. Name the timestamp column in workspace.toml "
    '([columns] time = "your_date_column"); ISO dates, datetimes and epoch seconds/milliseconds all work.'
)
NO_TIMESTAMPS = (
    "The time column of {where} has no usable timestamps ({n} rows, all missing). Check that [columns] time "
    "names the right column."
)
BAD_WINDOW_BY = "Windows can be by {known}; received {received!r}."
BAD_N_WINDOWS = "Equal-row windows need a number of windows between 2 and {max}; received {received!r}."
BAD_MIN_ROWS = "The minimum rows per window must be a whole number ≥ 1; received {received!r}."
TOO_MANY_WINDOWS = (
    "Windows by {by} over {span} make {n:,} windows, more than the {max} a chart can show usefully. "
    "Choose a longer period (e.g. {suggest}) or equal-row windows."
)
NOTHING_TO_CONCAT = "There are no scored datasets to join; received an empty list."
CONCAT_MISMATCH = "Datasets scored by different models or tasks cannot be joined ('{a}' vs '{b}'). Score them with the same model."


@dataclass(frozen=True, eq=False)
class TimeWindows:
    """Windows over one time column.

    ``codes``: int64 per row, the window index (``-1``: missing timestamp). ``starts`` / ``ends``:
    ``datetime64[ns]`` per window (end exclusive). ``counts``: rows per window. ``too_few``: windows
    with fewer than ``min_rows`` rows (flagged, kept). ``n_missing_time``: rows without a timestamp.
    """

    by: str
    codes: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    labels: list[str]
    counts: np.ndarray
    min_rows: int
    n_missing_time: int

    @property
    def n_windows(self) -> int:
        return len(self.starts)

    @property
    def too_few(self) -> np.ndarray:
        return self.counts < self.min_rows

    def table(self) -> pd.DataFrame:
        """One row per window: window (index), label, start, end (exclusive), rows, too_few."""
        return window_table(self.starts, self.ends, self.labels, self.counts, self.min_rows)

    def key(self) -> str:
        """A short string identifying the window layout (for cache keys)."""
        return f"{self.by}:{self.n_windows}:{int(self.starts[0].astype('int64')) if self.n_windows else 0}:{self.min_rows}"


def window_table(
    starts: np.ndarray, ends: np.ndarray, labels: Sequence[str], counts: np.ndarray, min_rows: int
) -> pd.DataFrame:
    """``TimeWindows.table``'s frame from its parts (the engine's windows have no per-row codes): one row per
    window — window (index), label, start, end (exclusive), rows, too_few (fewer than ``min_rows`` rows)."""
    counts = np.asarray(counts)
    return pd.DataFrame(
        {
            "window": np.arange(len(starts)),
            "label": list(labels),
            "start": pd.to_datetime(starts),
            "end": pd.to_datetime(ends),
            "rows": counts,
            "too_few": counts < min_rows,
        }
    )


def _as_datetime(time: pd.Series | np.ndarray, where: str) -> np.ndarray:
    if isinstance(time, np.ndarray) and np.issubdtype(time.dtype, np.datetime64):
        return time.astype("datetime64[ns]")
    s = time if isinstance(time, pd.Series) else pd.Series(time)
    if pd.api.types.is_datetime64_any_dtype(s.dtype) and not isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.to_numpy(dtype="datetime64[ns]")
    # Raw values (strings, epochs, tz-aware): the workspace's parser gives the user-facing message.
    parsed = parse_time(s, column=str(s.name or "time"), dataset=where)
    return parsed.to_numpy(dtype="datetime64[ns]")


def _floor(t: np.ndarray, by: str) -> np.ndarray:
    """Start of the calendar period containing each timestamp (``datetime64[ns]``; NaT stays NaT)."""
    if by == "day":
        return t.astype("datetime64[D]").astype("datetime64[ns]")
    if by == "week":
        days = t.astype("datetime64[D]").astype("int64")
        # 1970-01-01 was a Thursday: shift so that weeks start on Monday (ISO weeks).
        monday = days - (days + 3) % 7
        out = monday.astype("datetime64[D]").astype("datetime64[ns]")
        out[np.isnat(t)] = np.datetime64("NaT")
        return out
    months = t.astype("datetime64[M]")
    if by == "quarter":
        m = months.astype("int64")
        months = (m - m % 3).astype("datetime64[M]")
        months[np.isnat(t)] = np.datetime64("NaT")
    return months.astype("datetime64[ns]")


def window_ends(starts: np.ndarray, by: str, last: object = None) -> np.ndarray:
    """Each window's end (exclusive) from its start: the next calendar period's start, or for equal-row windows
    (``by="rows"``) the next window's start and, for the last, just after ``last`` (the newest timestamp)."""
    if by != "rows":
        return _next(starts, by)
    after = np.datetime64(pd.Timestamp(last).to_datetime64(), "ns") + np.timedelta64(1, "ns")
    return np.append(starts[1:], after)[: len(starts)]


def _next(start: np.ndarray, by: str) -> np.ndarray:
    if by == "day":
        return (start.astype("datetime64[D]") + 1).astype("datetime64[ns]")
    if by == "week":
        return (start.astype("datetime64[D]") + 7).astype("datetime64[ns]")
    step = 3 if by == "quarter" else 1
    return (start.astype("datetime64[M]") + step).astype("datetime64[ns]")


def _label(start: np.datetime64, by: str, end: np.datetime64) -> str:
    ts = pd.Timestamp(start)
    if by == "month":
        return ts.strftime("%Y-%m")
    if by == "quarter":
        return f"{ts.year}-Q{(ts.month - 1) // 3 + 1}"
    if by == "week":
        iso = ts.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if by == "day":
        return ts.strftime("%Y-%m-%d")
    # Equal-row windows: the span, at the precision that tells windows apart.
    te = pd.Timestamp(end)
    fmt = "%Y-%m-%d" if (te - ts) >= pd.Timedelta(days=2) else "%Y-%m-%d %H:%M"
    return f"{ts.strftime(fmt)} → {te.strftime(fmt)}"


def time_windows(
    time: pd.Series | np.ndarray | None,
    *,
    by: str = "month",
    n_windows: int = 12,
    min_rows: int = DEFAULT_MIN_ROWS,
    where: str = "this dataset",
) -> TimeWindows:
    """Split rows into time windows.

    ``by``: ``"day" | "week" (ISO, Monday start) | "month" | "quarter"`` (calendar periods, every
    period from the first to the last timestamp, empty ones included) or ``"rows"`` (``n_windows``
    windows of about equal row counts; rows with the same timestamp stay in one window, so counts may
    differ slightly). ``min_rows``: windows with fewer rows are flagged in ``too_few``.
    ``time``: datetime values, or raw values parsed like the workspace's time column.

    Returns a ``TimeWindows``. Raises ``AnalysisError`` without a time column or any timestamp,
    ``TimeColumnError`` when the values cannot be parsed.
    """
    if by not in WINDOW_BYS:
        raise AnalysisError(BAD_WINDOW_BY.format(known=", ".join(WINDOW_BYS), received=by))
    if isinstance(min_rows, bool) or not isinstance(min_rows, int | np.integer) or min_rows < 1:
        raise AnalysisError(BAD_MIN_ROWS.format(received=min_rows))
    if time is None:
        raise TimeColumnError(NO_TIME_COLUMN.format(where=where))
    t = _as_datetime(time, where)
    present = ~np.isnat(t)
    n_missing = int((~present).sum())
    if not present.any():
        raise TimeColumnError(NO_TIMESTAMPS.format(where=where, n=len(t)))
    tp = t[present]
    lo, hi = tp.min(), tp.max()
    codes = np.full(len(t), -1, dtype="int64")
    if by == "rows":
        if (
            isinstance(n_windows, bool)
            or not isinstance(n_windows, int | np.integer)
            or not 2 <= n_windows <= MAX_WINDOWS
        ):
            raise AnalysisError(BAD_N_WINDOWS.format(max=MAX_WINDOWS, received=n_windows))
        ts = np.sort(tp)
        # Boundaries at equal row counts; a timestamp never straddles two windows, so a boundary that
        # falls inside a run of equal timestamps moves to the next distinct one (windows may merge:
        # fewer than asked, never empty).
        picked: list[np.datetime64] = []
        for pos in (np.arange(n_windows) * len(ts)) // n_windows:
            value = ts[pos]
            if picked and value <= picked[-1]:
                nxt = np.searchsorted(ts, picked[-1], side="right")
                if nxt >= len(ts):
                    break
                value = ts[nxt]
            picked.append(value)
        starts = np.asarray(picked, dtype="datetime64[ns]")
        codes[present] = np.searchsorted(starts, tp, side="right") - 1
        last = hi + np.timedelta64(1, "ns")
        ends = np.append(starts[1:], last)
    else:
        first = _floor(np.asarray([lo]), by)[0]
        floored = _floor(tp, by)
        # Enumerate periods arithmetically (months/quarters have uneven lengths).
        if by in ("month", "quarter"):
            step = 3 if by == "quarter" else 1
            m0 = first.astype("datetime64[M]").astype("int64")
            m1 = _floor(np.asarray([hi]), by)[0].astype("datetime64[M]").astype("int64")
            n = (m1 - m0) // step + 1
            if n > MAX_WINDOWS:
                raise AnalysisError(_too_many(by, lo, hi, n))
            starts = (m0 + step * np.arange(n)).astype("datetime64[M]").astype("datetime64[ns]")
            codes[present] = (floored.astype("datetime64[M]").astype("int64") - m0) // step
        else:
            step_days = 7 if by == "week" else 1
            d0 = first.astype("datetime64[D]").astype("int64")
            d1 = _floor(np.asarray([hi]), by)[0].astype("datetime64[D]").astype("int64")
            n = (d1 - d0) // step_days + 1
            if n > MAX_WINDOWS:
                raise AnalysisError(_too_many(by, lo, hi, n))
            starts = (d0 + step_days * np.arange(n)).astype("datetime64[D]").astype("datetime64[ns]")
            codes[present] = (floored.astype("datetime64[D]").astype("int64") - d0) // step_days
        ends = _next(starts, by)
    counts = np.bincount(codes[present], minlength=len(starts)).astype("int64")
    labels = [_label(s, by, e) for s, e in zip(starts, ends, strict=True)]
    return TimeWindows(
        by=by,
        codes=codes,
        starts=starts,
        ends=ends,
        labels=labels,
        counts=counts,
        min_rows=int(min_rows),
        n_missing_time=n_missing,
    )


def _too_many(by: str, lo: np.datetime64, hi: np.datetime64, n: int) -> str:
    span = f"{pd.Timestamp(lo):%Y-%m-%d} .. {pd.Timestamp(hi):%Y-%m-%d}"
    suggest = {"day": "week or month", "week": "month or quarter", "month": "quarter"}.get(by, "equal rows")
    return TOO_MANY_WINDOWS.format(by=by, span=span, n=int(n), max=MAX_WINDOWS, suggest=suggest)


def windows_for(
    scored: Scored, *, by: str = "month", n_windows: int = 12, min_rows: int = DEFAULT_MIN_ROWS
) -> TimeWindows:
    """``time_windows`` over a scored dataset's time column (``AnalysisError`` when it has none)."""
    return time_windows(
        scored.time, by=by, n_windows=n_windows, min_rows=min_rows, where=f"dataset '{scored.dataset_name}'"
    )


def apply_windows(
    windows: TimeWindows, time: pd.Series | np.ndarray, *, where: str = "this dataset"
) -> np.ndarray:
    """Codes of ``time`` in the windows of ``windows`` (int64; ``-1``: missing or outside every window)."""
    t = _as_datetime(time, where)
    codes = np.searchsorted(windows.starts, t, side="right") - 1
    inside = ~np.isnat(t) & (codes >= 0)
    inside[inside] &= t[inside] < windows.ends[codes[inside]]
    return np.where(inside, codes, -1).astype("int64")


def concat_scored(parts: Sequence[Scored], *, name: str = "all datasets") -> Scored:
    """Join scored datasets into one ``Scored`` sorted by time (rows without time last).

    Every part must come from the same model and task. ``frame`` keeps the common columns plus a
    ``__dataset__`` column naming where each row came from. Returns a new object; the parts are not changed.
    """
    if not parts:
        raise AnalysisError(NOTHING_TO_CONCAT)
    first = parts[0]
    for p in parts[1:]:
        if p.model_name != first.model_name or p.task != first.task:
            raise AnalysisError(CONCAT_MISMATCH.format(a=first.dataset_name, b=p.dataset_name))
    if len(parts) == 1:
        return first
    cols = [c for c in first.frame.columns if all(c in p.frame.columns for p in parts[1:])]
    frames = [p.frame[cols].assign(__dataset__=p.dataset_name) for p in parts]
    times = [
        p.time if p.time is not None else pd.Series(pd.NaT, index=range(p.n), dtype="datetime64[ns]")
        for p in parts
    ]
    t_all = np.concatenate([np.asarray(t, dtype="datetime64[ns]") for t in times])
    # Stable sort: equal timestamps keep dataset order; NaT sorts last.
    order = np.argsort(np.where(np.isnat(t_all), np.iinfo("int64").max, t_all.astype("int64")), kind="stable")
    frame = pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)

    def cat(arrs: list[np.ndarray | None]) -> np.ndarray | None:
        if any(a is None for a in arrs):
            return None
        return np.concatenate(arrs)[order]

    time_col = first.time.name if first.time is not None else None
    time = pd.Series(t_all[order], name=time_col) if any(p.time is not None for p in parts) else None
    unavailable: dict[str, str] = {}
    for p in parts:
        unavailable.update(p.unavailable)
    return Scored(
        dataset_name=name,
        model_name=first.model_name,
        task=first.task,
        frame=frame,
        feature_names=list(first.feature_names),
        y=cat([p.y for p in parts]),
        y_raw=cat([p.y_raw for p in parts]),
        pred=cat([p.pred for p in parts]),
        proba=cat([p.proba for p in parts]),
        score=cat([p.score for p in parts]),
        classes=first.classes,
        positive_index=first.positive_index,
        time=time,
        ids=cat([np.asarray(p.ids, dtype=object) for p in parts]),
        unavailable=unavailable,
        n_unlabeled=sum(p.n_unlabeled for p in parts),
        source_key=f"{name}<" + "+".join(p.cache_key for p in parts) + ">",
    )


@dataclass(frozen=True, eq=False)
class Timeline:
    """Rows of one or several datasets in time order (rows without a timestamp last).

    ``frame``: the requested columns (index 0..n-1); ``time``: ``datetime64[ns]`` per row;
    ``source``: the dataset each row came from; ``datasets``: the datasets joined, in the order given.
    """

    frame: pd.DataFrame
    time: np.ndarray
    source: np.ndarray
    datasets: list[str]

    @property
    def n(self) -> int:
        return len(self.frame)


def workspace_timeline(ws: Workspace, datasets: Sequence[str], *, columns: Sequence[str]) -> Timeline:
    """Join ``columns`` of ``datasets`` of the workspace (all rows, labelled or not) in time order.

    Raises ``TimeColumnError`` when the workspace has no time column, ``AnalysisError`` for unknown
    datasets or columns.
    """
    if not ws.columns.time:
        raise TimeColumnError(NO_TIME_COLUMN.format(where=f"workspace '{ws.name}'"))
    if not datasets:
        raise AnalysisError(NOTHING_TO_CONCAT)
    frames, times, sources = [], [], []
    for name in datasets:
        df = ws.dataset(name)
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise AnalysisError(
                f"Dataset '{name}' lacks the columns {', '.join(map(repr, missing[:10]))}. "
                "Choose datasets that share the model's features and the label."
            )
        frames.append(df[list(columns)])
        times.append(ws.times[name].to_numpy(dtype="datetime64[ns]"))
        sources.append(np.full(len(df), name, dtype=object))
    t_all = np.concatenate(times)
    order = np.argsort(np.where(np.isnat(t_all), np.iinfo("int64").max, t_all.astype("int64")), kind="stable")
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(frames) > 1 or not np.array_equal(order, np.arange(len(order))):
        frame = frame.iloc[order].reset_index(drop=True)
    return Timeline(
        frame=frame, time=t_all[order], source=np.concatenate(sources)[order], datasets=list(datasets)
    )


def window_sources(windows: TimeWindows, source: np.ndarray) -> list[str]:
    """For each window, the datasets its rows come from (``"train+validation"``; ``""`` when empty)."""
    codes = windows.codes
    ok = codes >= 0
    pairs = pd.DataFrame({"w": codes[ok], "s": np.asarray(source)[ok]}).drop_duplicates()
    names = list(dict.fromkeys(np.asarray(source).tolist()))
    pairs["o"] = pairs["s"].map({n: i for i, n in enumerate(names)})
    joined = pairs.sort_values(["w", "o"]).groupby("w")["s"].agg(lambda s: "+".join(map(str, s)))
    return [joined.get(w, "") for w in range(windows.n_windows)]


IN_SAMPLE_WINDOWS = (
    "Window(s) {span} hold the model's training data (dataset '{train}'): their metrics are in-sample — the model "
    "was fitted on those rows — so they look better than held-out windows, and a drop where they end is not "
    "staleness. Choose the evaluation data under Data to see held-out windows only."
)


def in_sample_note(labels: Sequence[str], sources: Sequence[str], train: str | None) -> str | None:
    """What the Staleness page says when windows (``labels``, their ``sources`` as ``window_sources`` gives them)
    hold rows of the training dataset ``train``: which ones, and why their metrics are not comparable (None:
    no such window, or every window is training data).

    Found on a random forest with train and validation data in time order: accuracy 1.0 for eight months, then
    0.6 — a picture of a model going stale that was the training rows ending."""
    if train is None:
        return None
    hit = [label for label, src in zip(labels, sources, strict=True) if train in str(src).split("+")]
    if not hit or len(hit) == sum(1 for s in sources if s):
        return None
    span = hit[0] if len(hit) == 1 else f"{hit[0]} to {hit[-1]}"
    return IN_SAMPLE_WINDOWS.format(span=span, train=train)
