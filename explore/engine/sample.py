"""The rows a page shows one by one (worst rows, what-if, SHAP …) when a dataset stays in the engine: a sample
DuckDB draws, stratified by label so that rare classes are there, with every predicted class present.

Drawing it reads every column of every row (at 100M rows × 25 columns a pass over 13 GB: ~10 s of CPU; the
classes common enough share one pass, a rare class gets its own), so
``kept_sample`` keeps it beside the workspace (``.explore-cache/sample-<key>.parquet``, written atomically) under
a key of the files' paths, sizes and modification times and what the draw depends on (label and prediction
columns, sample size, DuckDB's version): a later start reads the 50,000 rows back instead of drawing them again.

Opening a workspace draws nothing: ``probe_rows`` reads what validation needs (the row count from the footers,
the first rows, the label's counts and distinct values in one GROUP BY, one row of each label and predicted
value: under a second of CPU at 100M rows; an integer label's values from the footers when they settle them, its
counts then left to the first overall metrics), and a ``LazySample`` draws (or reads back) the sample the first
time a row-level view asks for rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from explore.core.score_cache import write_parquet_atomic
from explore.engine.log import literal, quote
from explore.engine.source import footer_values

SAMPLE_ROWS = 50_000
# Above this many distinct labels (regression, ids) the sample is not stratified.
MAX_STRATA = 50
PROBE_VALUES = 10_000  # distinct label / prediction values read at open for the task and the classes
# One pass for the common classes: a reservoir of OVERDRAW × the rows their quotas need on average, if that is at
# most POOL_FACTOR × the sample's rows.
OVERDRAW = 1.2
POOL_FACTOR = 4
# Kept samples: the format of the file, and how many are kept (the least recently written go first).
SAMPLE_FORMAT = 2  # 2: common classes drawn from one pass
KEEP_SAMPLES = 16
# The rows read at open to validate an engine dataset (columns, types, scores) before any sample is drawn.
PROBE_ROWS = 1_000
_META_KEY = b"explore-sample"


@dataclass(frozen=True)
class SampleInfo:
    """What a page says about the rows it shows: how many of how many, and how they were drawn."""

    rows: int
    total: int
    stratified_by: str | None

    def caption(self) -> str:
        how = f", stratified by '{self.stratified_by}'" if self.stratified_by else ""
        return (
            f"Row-level views use a sample of {self.rows:,} of {self.total:,} rows drawn by the engine{how}; "
            f"{engine_part(self.total)}"
        )


def engine_part(total: int) -> str:
    """What the engine computes on every row of a dataset of ``total`` rows (the captions' second half): drift
    too up to ``DRIFT_EXACT_ROWS``, above it on its own row sample, which the drift section states."""
    # drift imports the metrics: only when a caption is asked
    from explore.engine.drift import DRIFT_EXACT_ROWS

    if total <= DRIFT_EXACT_ROWS:
        return "metrics, slices, windows and drift are computed on all rows."
    return "metrics, slices and windows are computed on all rows; drift on a row sample of its own, stated with it."


def draw_sample(
    con: duckdb.DuckDBPyConnection, label: str, prediction: str | None = None, rows: int | None = None
) -> tuple[pd.DataFrame, SampleInfo]:
    """A reproducible sample of the view ``source``: up to ``rows`` rows, an equal share per label value (all rows
    of a smaller class), plus one row for each predicted value that the sample lacks. The common classes come
    from one reservoir pass over the rows (their quotas picked from it at random), a rare class from a pass of its
    own: a class that the reservoir happens to under-fill has the rows it got (``SampleInfo.rows`` counts them)."""
    rows = SAMPLE_ROWS if rows is None else rows
    total = int(con.execute("SELECT count(*) FROM source").fetchall()[0][0])
    if total <= rows:
        return con.execute("SELECT * FROM source").df(), SampleInfo(total, total, None)
    counts = con.execute(f"SELECT {quote(label)}, count(*) FROM source GROUP BY 1").fetchall()
    if len(counts) > MAX_STRATA:
        df = con.execute(f"SELECT * FROM source USING SAMPLE reservoir({rows} ROWS) REPEATABLE (0)").df()
        return df, SampleInfo(len(df), total, None)
    # Equal shares; classes smaller than their share give their rest to the others.
    quota: dict[object, int] = {}
    left, todo = rows, sorted(counts, key=lambda kv: kv[1])
    for i, (value, n) in enumerate(todo):
        quota[value] = min(int(n), left // (len(todo) - i))
        left -= quota[value]
    # Each pass reads every column of every row (seconds per 10M rows), so the classes common enough to fill their
    # quota from one reservoir of at most POOL_FACTOR × rows rows come from that one pass (OVERDRAW × the rows
    # their quota needs on average, then their quota picked at random); rarer classes get a pass of their own.
    need = {v: OVERDRAW * k * total / dict(counts)[v] for v, k in quota.items() if k}
    pooled = {v for v, r in need.items() if r <= POOL_FACTOR * rows}
    parts = []
    if pooled:
        size = math.ceil(max(need[v] for v in pooled))
        pool = con.execute(f"SELECT * FROM source USING SAMPLE reservoir({size} ROWS) REPEATABLE (0)").df()
        rng = np.random.default_rng(0)
        for value in sorted(pooled, key=repr):
            mask = pool[label].isna() if value is None else pool[label] == value
            rows_of = np.flatnonzero(mask.to_numpy())
            k = min(quota[value], len(rows_of))
            parts.append(pool.iloc[np.sort(rng.choice(rows_of, k, replace=False))])
    for value, k in quota.items():
        if value in pooled or not k:
            continue
        cond = f"{quote(label)} IS NULL" if value is None else f"{quote(label)} = {literal(value)}"
        parts.append(
            con.execute(
                f"SELECT * FROM (SELECT * FROM source WHERE {cond}) USING SAMPLE reservoir({k} ROWS) REPEATABLE (0)"
            ).df()
        )
    df = pd.concat(parts, ignore_index=True)
    if prediction:
        seen = set(df[prediction].dropna().tolist())
        values = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {quote(prediction)} FROM source LIMIT {MAX_STRATA + 1}"
            ).fetchall()
        ]
        if len(values) <= MAX_STRATA:
            extra = [
                con.execute(f"SELECT * FROM source WHERE {quote(prediction)} = {literal(v)} LIMIT 1").df()
                for v in values
                if v is not None and v not in seen
            ]
            df = pd.concat([df, *extra], ignore_index=True)
    return df, SampleInfo(len(df), total, label)


def sample_key(data_version: str, label: str, prediction: str | None, rows: int | None = None) -> str:
    """What a kept sample is valid for: the data's version and everything the draw depends on."""
    rows = SAMPLE_ROWS if rows is None else rows
    parts = [SAMPLE_FORMAT, data_version, label, prediction, rows, MAX_STRATA, OVERDRAW, POOL_FACTOR]
    parts.append(duckdb.__version__)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def sample_path(folder: Path, key: str) -> Path:
    return folder / f"sample-{key}.parquet"


def _read_kept(path: Path) -> tuple[pd.DataFrame, SampleInfo] | None:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        meta = json.loads((table.schema.metadata or {})[_META_KEY])
        if meta.get("format") != SAMPLE_FORMAT:
            return None
        info = SampleInfo(int(meta["rows"]), int(meta["total"]), meta["stratified_by"])
        df = table.to_pandas()
        return (df, info) if len(df) == info.rows else None
    except Exception:  # noqa: BLE001 - a missing or damaged file (truncated, not Parquet) is drawn again
        return None


def _write_kept(path: Path, df: pd.DataFrame, info: SampleInfo) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = {
        "format": SAMPLE_FORMAT,
        "rows": info.rows,
        "total": info.total,
        "stratified_by": info.stratified_by,
    }
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()}
    )
    write_parquet_atomic(path, table)
    with contextlib.suppress(OSError):
        kept = sorted(path.parent.glob("sample-*.parquet"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in kept[KEEP_SAMPLES:]:
            old.unlink()


def kept_sample(
    folder: Path | None, key: str, draw: Callable[[], tuple[pd.DataFrame, SampleInfo]]
) -> tuple[pd.DataFrame, SampleInfo]:
    """The sample kept in ``folder`` under ``key``, else ``draw()`` and keep it there (a folder that cannot be
    written keeps nothing: the next start draws again). ``folder`` None: draw, keep nothing."""
    path = sample_path(folder, key) if folder is not None else None
    if path is not None and path.exists():
        got = _read_kept(path)
        if got is not None:
            return got
    df, info = draw()
    if path is not None:
        with contextlib.suppress(OSError):
            _write_kept(path, df, info)
    return df, info


@dataclass(frozen=True)
class Probe:
    """What opening a workspace learns of an engine dataset without a sample: ``frame`` holds its first rows and
    one row of each label value and predicted value (when there are at most ``MAX_STRATA``), ``total`` the row
    count, ``label_counts`` the rows per label value (None above ``MAX_STRATA`` values).

    When the Parquet footers settled the label's values (``explore.engine.source.footer_values``: an integer or
    boolean label of two values) its counts are not read at open (``counts_deferred``): the first page's overall
    metrics count them in their own pass (``settle_counts``), and a reader asking before that gets them from
    ``count`` (one pass over the label, as the open made before)."""

    frame: pd.DataFrame
    total: int
    known_counts: dict[object, int] | None
    # The label's and the prediction's distinct values (up to PROBE_VALUES + 1 each, in their stored types): what
    # the task and the classes are inferred from — the first rows alone miss classes of a log ordered by label.
    label_values: pd.Series | None = None
    prediction_values: pd.Series | None = None
    counts_deferred: bool = False
    # The pass that counts the label when deferred (attached by the opener: it knows how to reopen the files).
    count: Callable[[], dict[object, int] | None] | None = field(default=None, compare=False, repr=False)
    _settled: dict = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def label_counts(self) -> dict[object, int] | None:
        """The rows per label value (None as the missing labels' key; None above ``MAX_STRATA`` values)."""
        if not self.counts_deferred:
            return self.known_counts
        with self._lock:
            if "counts" not in self._settled:
                if self.count is None:
                    raise RuntimeError("a probe with deferred label counts needs its count() to be attached")
                self._settled["counts"] = self.count()
            return self._settled["counts"]

    @property
    def counts_settled(self) -> bool:
        """The label counts are known without a pass (read at open, or settled by the overall metrics)."""
        return not self.counts_deferred or "counts" in self._settled

    def settle_counts(self, positives: int, labelled: int, positive: object) -> None:
        """A binary label's counts from a pass that counted them anyway (the overall metrics: ``labelled`` rows with
        a label, ``positives`` of them the value ``positive``), when they are deferred and not yet known."""
        if not self.counts_deferred or self.label_values is None or len(self.label_values) != 2:
            return
        values = self.label_values.tolist()
        if positive not in values:
            return
        counts = {v: int(positives) if v == positive else int(labelled - positives) for v in values}
        counts = _with_missing(counts, self.total)
        with self._lock:
            self._settled.setdefault("counts", counts)

    def with_count(self, count: Callable[[], dict[object, int] | None] | None) -> Probe:
        """This probe with ``count`` attached (deferred counts only: known ones need none)."""
        if not self.counts_deferred or count is None:
            return self
        return replace(self, count=count, _settled={}, _lock=threading.Lock())


def _stored(con: duckdb.DuckDBPyConnection, values: list[int], sql_type: str) -> pd.Series:
    """``values`` as a column of ``sql_type``, as a query over the files returns it (the same dtype)."""
    return con.execute(f"SELECT CAST(unnest(?::BIGINT[]) AS {sql_type}) AS v", [values]).df()["v"]


def probe_rows(
    con: duckdb.DuckDBPyConnection,
    label: str,
    prediction: str | None = None,
    *,
    files: Sequence[str | Path] | None = None,
    count: Callable[[], dict[object, int] | None] | None = None,
) -> Probe:
    """The ``Probe`` of the view ``source``: its first rows, one pass over the label column (one GROUP BY gives
    both its counts and its distinct values) and one over the prediction's (its distinct values), no other
    column.

    ``files``: the Parquet files the view reads. An integer or boolean label or prediction whose values their
    footers settle (``footer_values``) is not read: the prediction's values are the footers', and so are the
    label's, its counts then deferred to the first pass that counts them (``Probe.settle_counts``) or to
    ``count`` (without ``count`` they are read now, as without footers)."""
    total = int(con.execute("SELECT count(*) FROM source").fetchall()[0][0])
    head = con.execute(f"SELECT * FROM source LIMIT {PROBE_ROWS}").df()
    footers: dict = {}
    if files:
        types = {r[0]: str(r[1]) for r in con.execute("DESCRIBE source").fetchall()}
        footers = footer_values(files, {c: types[c] for c in (label, prediction) if c and c in types})
    label_counts = None
    label_values = prediction_values = None
    deferred = False
    if label in head.columns:  # else the workspace's validation says which columns there are
        settled = footers.get(label)
        if settled is not None and (len(settled.values) <= 1 or count is not None):
            label_values = _stored(con, settled.values, types[label])
            if len(settled.values) <= 1:  # one value (or none): its count is every labelled row's
                labelled = total - settled.missing
                label_counts = _with_missing({v: labelled for v in label_values.tolist()}, total)
            else:
                deferred = True
        else:
            label_counts, label_values = _label_counts(con, label, total)
    if prediction and prediction in head.columns:
        settled = footers.get(prediction)
        prediction_values = (
            _stored(con, settled.values, types[prediction])
            if settled is not None
            else _distinct(con, prediction)
        )
    frame = head
    if label_values is not None and (deferred or label_counts is not None):
        seen = set(frame[label].dropna().tolist())
        frame = _with_rows(con, frame, label, [v for v in label_values.tolist() if v not in seen])
    if prediction_values is not None and len(prediction_values) <= MAX_STRATA:
        values = [v for v in prediction_values.tolist() if not pd.isna(v)]
        seen = set(frame[prediction].dropna().tolist())  # after the label's rows: no row twice
        frame = _with_rows(con, frame, prediction, [v for v in values if v not in seen])
    return Probe(
        frame, total, label_counts, label_values, prediction_values, deferred, count if deferred else None
    )


def _with_missing(counts: dict[object, int], total: int) -> dict[object, int]:
    """``counts`` and the rows they do not count as the missing labels' (key None), when there are such rows."""
    if (missing := total - sum(counts.values())) > 0:
        counts[None] = missing
    return counts


def count_labels(con: duckdb.DuckDBPyConnection, label: str) -> dict[object, int] | None:
    """The rows per value of ``label`` in the view ``source`` (the probe's counts: ``_label_counts``)."""
    total = int(con.execute("SELECT count(*) FROM source").fetchall()[0][0])
    return _label_counts(con, label, total)[0]


def _label_counts(
    con: duckdb.DuckDBPyConnection, label: str, total: int
) -> tuple[dict[object, int] | None, pd.Series]:
    """One pass over ``label``: its rows per value (None as the missing labels' key; None above ``MAX_STRATA``
    values, missing included) and up to ``PROBE_VALUES`` + 1 distinct non-missing values in the column's stored
    type. The missing labels are not a group of the query (a NULL among the values would turn an integer column
    into floats): they are the rows the groups do not count (``total``, from the files' footers)."""
    q = quote(label)
    limit = max(PROBE_VALUES, MAX_STRATA) + 1
    groups = con.execute(
        f"SELECT {q} AS v, count(*) AS n FROM source WHERE {q} IS NOT NULL GROUP BY 1 LIMIT {limit}"
    ).df()
    values = groups["v"].iloc[: PROBE_VALUES + 1]
    counts = None
    if len(groups) <= MAX_STRATA:  # every group is here: the rest of the rows have no label
        counts = _with_missing(
            {v: int(n) for v, n in zip(groups["v"].tolist(), groups["n"].tolist(), strict=True)}, total
        )
        if len(counts) > MAX_STRATA:
            counts = None
    return counts, values


def _distinct(con: duckdb.DuckDBPyConnection, column: str) -> pd.Series:
    """Up to ``PROBE_VALUES`` + 1 distinct non-missing values of ``column``, in its stored type (no NULL among
    them: an integer column stays integers)."""
    q = quote(column)
    return con.execute(
        f"SELECT DISTINCT {q} AS v FROM source WHERE {q} IS NOT NULL LIMIT {PROBE_VALUES + 1}"
    ).df()["v"]


def _with_rows(
    con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, column: str, values: list[object]
) -> pd.DataFrame:
    """``frame`` and one row of ``source`` for each of ``values`` of ``column``."""
    parts = [
        con.execute(f"SELECT * FROM source WHERE {quote(column)} = {literal(v)} LIMIT 1").df() for v in values
    ]
    return pd.concat([frame, *parts], ignore_index=True) if parts else frame


PROBE_FORMAT = 2  # 2: label counts deferred when the footers settled the label's values
_PROBE_META = b"explore-probe"


def probe_key(data_version: str, label: str, prediction: str | None) -> str:
    """What a kept probe is valid for: the data's version and everything ``probe_rows`` depends on."""
    parts = [PROBE_FORMAT, data_version, label, prediction, PROBE_ROWS, PROBE_VALUES, MAX_STRATA]
    parts.append(duckdb.__version__)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def probe_paths(folder: Path, key: str) -> tuple[Path, Path, Path]:
    """The kept probe's files: its frame (written last, with the counts' facts), label values, predicted values."""
    return tuple(folder / f"probe-{key}-{part}.parquet" for part in ("frame", "label", "pred"))  # type: ignore[return-value]


def _values_table(values: pd.Series | None, counts: list[int] | None = None):
    import pyarrow as pa

    df = pd.DataFrame({"v": [] if values is None else values.reset_index(drop=True)})
    if counts is not None:
        df["n"] = counts
    return pa.Table.from_pandas(df, preserve_index=False)


def _write_probe(folder: Path, key: str, probe: Probe) -> None:
    import pyarrow as pa

    frame_path, label_path, pred_path = probe_paths(folder, key)
    counts = probe.known_counts  # deferred counts are counted again by the next start's first pass
    # The counts' keys are the label's values in the same order (one GROUP BY gave both), the missing ones last.
    n = None if counts is None else [n for v, n in counts.items() if v is not None]
    write_parquet_atomic(label_path, _values_table(probe.label_values, n))
    write_parquet_atomic(pred_path, _values_table(probe.prediction_values))
    meta = {
        "format": PROBE_FORMAT,
        "total": probe.total,
        "counts": counts is not None,
        "missing": None if counts is None else counts.get(None),
        "label": probe.label_values is not None,
        "pred": probe.prediction_values is not None,
        "deferred": probe.counts_deferred,
    }
    table = pa.Table.from_pandas(probe.frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), _PROBE_META: json.dumps(meta).encode()}
    )
    write_parquet_atomic(frame_path, table)  # last: its presence says the others are there
    with contextlib.suppress(OSError):
        frames = sorted(
            folder.glob("probe-*-frame.parquet"), key=lambda p: p.stat().st_mtime_ns, reverse=True
        )
        for old in frames[KEEP_SAMPLES:]:
            for part in probe_paths(folder, old.name[len("probe-") : -len("-frame.parquet")]):
                part.unlink(missing_ok=True)


def _read_probe(folder: Path, key: str) -> Probe | None:
    import pyarrow.parquet as pq

    frame_path, label_path, pred_path = probe_paths(folder, key)
    try:
        table = pq.read_table(frame_path)
        meta = json.loads((table.schema.metadata or {})[_PROBE_META])
        if meta.get("format") != PROBE_FORMAT:
            return None
        label = pq.read_table(label_path).to_pandas()
        pred = pq.read_table(pred_path).to_pandas()["v"]
        counts = None
        if meta["counts"]:
            counts = {v: int(n) for v, n in zip(label["v"].tolist(), label["n"].tolist(), strict=True)}
            if meta["missing"]:
                counts[None] = int(meta["missing"])
        return Probe(
            table.to_pandas(),
            int(meta["total"]),
            counts,
            label["v"] if meta["label"] else None,
            pred if meta["pred"] else None,
            bool(meta.get("deferred", False)),
        )
    except Exception:  # noqa: BLE001 - missing or damaged files: the probe reads the rows again
        return None


def kept_probe(
    folder: Path | None,
    key: str,
    probe: Callable[[], Probe],
    count: Callable[[], dict[object, int] | None] | None = None,
) -> Probe:
    """The probe kept in ``folder`` under ``key`` (a later start of the same files reads it back instead of
    passing over the label and prediction again), else ``probe()`` and keep it there. ``folder`` None: keep
    nothing. ``count``: the pass that counts the label of a probe read back with its counts deferred."""
    if folder is not None and (got := _read_probe(folder, key)) is not None:
        return got.with_count(count)
    got = probe()
    if folder is not None:
        with contextlib.suppress(OSError):
            _write_probe(folder, key, got)
    return got


class LazySample:
    """The sample of one engine dataset, drawn (or read back from where it is kept) by ``load`` the first time
    ``get`` is called, once even when threads ask together; ``total`` and the ``probe`` are known before."""

    def __init__(
        self,
        probe: Probe,
        load: Callable[[], tuple[pd.DataFrame, SampleInfo]],
        kept: Path | None = None,
    ) -> None:
        self.probe = probe
        self.total = probe.total
        self._load = load
        self._kept = kept
        self._lock = threading.Lock()
        self._got: tuple[pd.DataFrame, SampleInfo] | None = None

    @property
    def drawn(self) -> bool:
        return self._got is not None

    @property
    def kept(self) -> bool:
        """A previous start kept this sample beside the workspace: ``get`` reads it back (a fraction of a
        second) rather than drawing it (a pass over every column)."""
        return self._kept is not None and self._kept.exists()

    def get(self) -> tuple[pd.DataFrame, SampleInfo]:
        with self._lock:
            if self._got is None:
                self._got = self._load()
            return self._got

    @property
    def info(self) -> SampleInfo:
        return self.get()[1]

    @property
    def rows(self) -> int:
        return self.info.rows

    @property
    def stratified_by(self) -> str | None:
        return self.info.stratified_by

    def caption(self) -> str:
        if self._got is not None:
            return self._got[1].caption()
        if self.total <= SAMPLE_ROWS:
            return (
                f"Row-level views use all {self.total:,} rows, read by the engine the first time one needs rows; "
                "metrics, slices, windows and drift are computed by the engine."
            )
        return (
            f"Row-level views use a sample of up to {SAMPLE_ROWS:,} of {self.total:,} rows, drawn by the engine the "
            "first time one needs rows (the app draws a big log's in the background once the workspace is open); "
            f"{engine_part(self.total)}"
        )
