"""Do training and serving agree? (ML Test Score, Monitor 3; the lecture's shadow tests.)

* **Feature skew**: two datasets holding the same rows (joined by the id column) — the features as
  logged at serving time and as computed for training — compared column by column: how many rows
  differ, the largest and mean absolute difference, which side is missing, and example rows.
  Numbers match when ``|a − b| ≤ atol + rtol·|b|``; text matches exactly; two missing values match.
* **Shadow consistency**: a dataset that carries the predictions logged by the serving system,
  compared with the model's predictions recomputed on the same rows (class, probability or value).

Signatures::

    feature_skew(ws, *, training, serving, columns=None, serving_name=None, atol=1e-9, rtol=1e-6,
                 max_rate=0.0, progress=None) -> SkewResult
    shadow_check(ws, *, dataset, logged, kind="auto", model="current", atol=1e-6, max_rate=0.0,
                 progress=None) -> ShadowResult
    logged_prediction_columns(ws, dataset) -> list[str]
    read_serving_log(name, data) -> pd.DataFrame        (an uploaded CSV/Parquet file, with clear errors)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from explore.core.progress import Progress, no_progress
from explore.core.serialise import jsonable
from explore.core.workspace import MAIN_MODEL, Workspace, predict_frame
from explore.errors import NO_MODEL_FILE, AnalysisError, ColumnError, DataError

MAX_EXAMPLES = 5

NO_ID = (
    "Training/serving skew joins the two datasets row by row on the id column, but this workspace names none. "
    'Set [columns] id = "your_id_column" in workspace.toml.'
)
ID_NOT_IN = "The id column '{id}' is not in {name}. Its columns are: {columns}. Both sides need the id column to be joined."
DUPLICATE_IDS = "{name} has {n} duplicated ids (e.g. {examples}); each row must have its own id to be joined."
UNKNOWN_DATASET = "There is no dataset named {name!r}. Datasets in this workspace: {known}."
UNKNOWN_COLUMN = "The column {column!r} is not in dataset '{dataset}'. Columns there: {known}."
NO_MODEL = NO_MODEL_FILE.format(needs="The shadow check recomputes the model's predictions", then="")
BAD_KIND = "kind must be one of auto, class, score, value; received {received!r}."


def read_serving_log(name: str, data: bytes) -> pd.DataFrame:
    """Read an uploaded CSV/Parquet file (its bytes) as ``explore.core.loading.read_table`` would read it from disk."""
    import tempfile
    from pathlib import Path

    from explore.core.loading import read_table

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).name or "upload.csv")
        path.write_bytes(data)
        try:
            frame = read_table(path, where="the uploaded file")
        except DataError as exc:  # name the file the user uploaded, not the temporary copy
            raise DataError(str(exc).replace(str(path), name)) from None
    return frame


def _frame(ws: Workspace, value: str | pd.DataFrame, name: str | None) -> tuple[pd.DataFrame, str]:
    if isinstance(value, pd.DataFrame):
        return value, name or "the uploaded file"
    if value not in ws.dataset_names:
        raise AnalysisError(UNKNOWN_DATASET.format(name=value, known=", ".join(ws.dataset_names)))
    return ws.dataset(value), f"dataset '{value}'"


def _numeric(s: pd.Series) -> np.ndarray | None:
    """Values as floats when the column is numeric (or text holding numbers), else None."""
    if pd.api.types.is_bool_dtype(s.dtype):
        return None
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    present = s.dropna()
    if present.empty:
        return None
    # Parsing text is slow: decide on a sample first, parse the whole column only when it holds numbers.
    sample = present.iloc[:: max(1, len(present) // 1000)]
    if pd.to_numeric(sample, errors="coerce").notna().mean() < 0.99:
        return None
    coerced = pd.to_numeric(s, errors="coerce")
    if coerced[s.notna()].notna().mean() >= 0.99:
        return coerced.to_numpy(dtype="float64", na_value=np.nan)
    return None


SKEW_COLUMNS = [
    "column",
    "compared",
    "mismatches",
    "mismatch_rate",
    "max_abs_diff",
    "mean_abs_diff",
    "missing_only_training",
    "missing_only_serving",
    "status",
]
EXAMPLE_COLUMNS = ["column", "id", "training", "serving", "abs_diff"]


@dataclass
class SkewResult:
    """Column-by-column agreement of two datasets joined on ids (``table``: ``SKEW_COLUMNS``; rates in 0..1)."""

    training: str
    serving: str
    id_column: str
    n_joined: int
    n_only_training: int
    n_only_serving: int
    table: pd.DataFrame
    examples: pd.DataFrame
    max_rate: float
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool | None:
        """None when the datasets share no ids; else True when every column's mismatch rate ≤ ``max_rate``."""
        if self.n_joined == 0:
            return None
        return bool((self.table["status"] == "pass").all())

    def summary(self) -> str:
        if self.n_joined == 0:
            return (
                f"{self.training} and {self.serving} share no ids ('{self.id_column}'): they hold different rows, so there "
                "is nothing to compare. Skew needs the same rows as logged at serving and as computed for training."
            )
        bad = self.table[self.table["status"] != "pass"]
        head = f"{self.n_joined:,} rows joined on '{self.id_column}'"
        if bad.empty:
            return f"{head}: all {len(self.table)} columns agree."
        worst = bad.sort_values("mismatch_rate", ascending=False).iloc[0]
        return (
            f"{head}: {len(bad)} of {len(self.table)} columns differ between training and serving; worst "
            f"'{worst['column']}' on {worst['mismatch_rate']:.2%} of rows."
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "skew",
                "passed": self.passed,
                "summary": self.summary(),
                "training": self.training,
                "serving": self.serving,
                "id_column": self.id_column,
                "n_joined": self.n_joined,
                "n_only_training": self.n_only_training,
                "n_only_serving": self.n_only_serving,
                "max_rate": self.max_rate,
                "table": self.table,
                "examples": self.examples,
                "notes": self.notes,
            }
        )


def _id_text(ids: pd.Series) -> pd.Series:
    """Ids as text for a join across types: 1001, "1001" and 1001.0 (a logged double) are the same id."""
    if pd.api.types.is_float_dtype(ids.dtype):
        v = ids.to_numpy(dtype="float64", na_value=np.nan)
        finite = v[np.isfinite(v)]
        if finite.size and np.all(np.mod(finite, 1) == 0):
            ids = ids.astype("Int64")
    return ids.astype(str)


def _check_ids(frame: pd.DataFrame, id_col: str, name: str) -> None:
    if id_col not in frame.columns:
        raise ColumnError(
            ID_NOT_IN.format(id=id_col, name=name, columns=", ".join(map(str, frame.columns[:30])))
        )
    dup = frame[id_col][frame[id_col].duplicated()] if not frame[id_col].is_unique else frame[id_col].iloc[:0]
    if len(dup):
        raise AnalysisError(
            DUPLICATE_IDS.format(name=name, n=len(dup), examples=", ".join(map(repr, dup.unique()[:3])))
        )


def feature_skew(
    ws: Workspace,
    *,
    training: str | pd.DataFrame,
    serving: str | pd.DataFrame,
    columns: Sequence[str] | None = None,
    serving_name: str | None = None,
    atol: float = 1e-9,
    rtol: float = 1e-6,
    max_rate: float = 0.0,
    progress: Progress | None = None,
) -> SkewResult:
    """Compare ``training`` and ``serving`` (dataset names or DataFrames) row by row on the id column.

    ``columns`` default to the model's features present on both sides. Returns a ``SkewResult``.
    """
    report = progress or no_progress
    id_col = ws.columns.id
    if not id_col:
        raise AnalysisError(NO_ID)
    left, lname = _frame(ws, training, None)
    right, rname = _frame(ws, serving, serving_name)
    _check_ids(left, id_col, lname)
    _check_ids(right, id_col, rname)
    notes: list[str] = []
    if columns is None:
        columns = [c for c in ws.feature_names if c in left.columns and c in right.columns]
        missing = [c for c in ws.feature_names if c not in right.columns]
        if missing:
            notes.append(f"Features missing from {rname}: {', '.join(missing[:20])}.")
    for c in columns:
        for frame, name in ((left, lname), (right, rname)):
            if c not in frame.columns:
                raise ColumnError(
                    UNKNOWN_COLUMN.format(
                        column=c, dataset=name, known=", ".join(map(str, frame.columns[:30]))
                    )
                )
    report(0.05, f"Joining on '{id_col}'…")
    lk, rk = left[id_col], right[id_col]
    if lk.dtype != rk.dtype:
        lk, rk = _id_text(lk), _id_text(rk)
    # One hash pass over both key columns; then positions by array lookups (ids are unique on each side).
    codes, _ = pd.factorize(pd.concat([lk, rk], ignore_index=True), use_na_sentinel=False)
    lc, rc = codes[: len(lk)], codes[len(lk) :]
    where_right = np.full(codes.max(initial=-1) + 1, -1, dtype=np.int64)
    where_right[rc] = np.arange(len(rc))
    matched = where_right[lc]
    lpos = np.flatnonzero(matched >= 0)
    rpos = matched[lpos]
    common = lk.to_numpy()[lpos]
    n = len(lpos)
    rows, examples = [], []
    for i, c in enumerate(columns):
        report(0.1 + 0.9 * i / max(len(columns), 1), f"Comparing '{c}'…")
        a, b = left[c].iloc[lpos].reset_index(drop=True), right[c].iloc[rpos].reset_index(drop=True)
        na, nb = a.isna().to_numpy(), b.isna().to_numpy()
        xa, xb = _numeric(a), _numeric(b)
        diff = None
        if xa is not None and xb is not None:
            with np.errstate(invalid="ignore"):
                diff = np.abs(xa - xb)
                close = diff <= atol + rtol * np.abs(xb)
            # Text that does not parse as a number on one side counts as missing there.
            na, nb = na | np.isnan(xa), nb | np.isnan(xb)
            same = (na & nb) | (~na & ~nb & close)
        else:
            equal = (a.astype("string") == b.astype("string")).fillna(False).to_numpy(dtype=bool)
            same = (na & nb) | (~na & ~nb & equal)
        bad = ~same
        k = int(bad.sum())
        finite = diff[np.isfinite(diff)] if diff is not None else np.array([])
        rate = k / n if n else 0.0
        rows.append(
            {
                "column": c,
                "compared": n,
                "mismatches": k,
                "mismatch_rate": rate,
                "max_abs_diff": float(finite.max()) if len(finite) else np.nan,
                "mean_abs_diff": float(finite.mean()) if len(finite) else np.nan,
                "missing_only_training": int((na & ~nb).sum()),
                "missing_only_serving": int((~na & nb).sum()),
                "status": "pass" if rate <= max_rate else "fail",
            }
        )
        if k:
            idx = np.flatnonzero(bad)
            if diff is not None:
                idx = idx[np.argsort(-np.nan_to_num(diff[idx], nan=np.inf), kind="stable")]
            for r in idx[:MAX_EXAMPLES]:
                examples.append(
                    {
                        "column": c,
                        "id": common[r],
                        "training": None if na[r] else a.iloc[r],
                        "serving": None if nb[r] else b.iloc[r],
                        "abs_diff": float(diff[r]) if diff is not None and np.isfinite(diff[r]) else np.nan,
                    }
                )
    report(1.0, "Skew check done.")
    return SkewResult(
        training=lname,
        serving=rname,
        id_column=id_col,
        n_joined=n,
        n_only_training=len(left) - n,
        n_only_serving=len(right) - n,
        table=pd.DataFrame(rows, columns=SKEW_COLUMNS),
        examples=pd.DataFrame(examples, columns=EXAMPLE_COLUMNS),
        max_rate=max_rate,
        notes=notes,
    )


# ---- shadow consistency ---------------------------------------------------------------------------------

SHADOW_EXAMPLE_COLUMNS = ["row", "id", "logged", "recomputed", "abs_diff"]


@dataclass
class ShadowResult:
    """Logged predictions vs the model's, recomputed on the same rows."""

    dataset: str
    model: str
    logged_column: str
    kind: str  # "class" | "score" | "value"
    n_compared: int
    n_missing_logged: int
    mismatches: int
    max_abs_diff: float
    mean_abs_diff: float
    atol: float
    max_rate: float
    examples: pd.DataFrame

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.n_compared if self.n_compared else 0.0

    @property
    def passed(self) -> bool | None:
        if self.n_compared == 0:
            return None
        return bool(self.mismatch_rate <= self.max_rate)

    def summary(self) -> str:
        what = {"class": "predicted classes", "score": "scores", "value": "predicted values"}[self.kind]
        if self.n_compared == 0:
            return f"'{self.logged_column}' has no logged values in '{self.dataset}'."
        if self.mismatches == 0:
            return (
                f"The {what} logged in '{self.logged_column}' match model '{self.model}' recomputed on all "
                f"{self.n_compared:,} rows of '{self.dataset}'."
            )
        extra = f" (largest difference {self.max_abs_diff:.3g})" if self.kind != "class" else ""
        return (
            f"The logged {what} in '{self.logged_column}' differ from model '{self.model}' recomputed on "
            f"{self.mismatches:,} of {self.n_compared:,} rows ({self.mismatch_rate:.2%}){extra}: serving does not run "
            "the model you are testing, or feeds it different inputs."
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "kind": "shadow",
                "passed": self.passed,
                "summary": self.summary(),
                "dataset": self.dataset,
                "model": self.model,
                "logged_column": self.logged_column,
                "prediction_kind": self.kind,
                "n_compared": self.n_compared,
                "n_missing_logged": self.n_missing_logged,
                "mismatches": self.mismatches,
                "mismatch_rate": self.mismatch_rate,
                "max_abs_diff": self.max_abs_diff,
                "mean_abs_diff": self.mean_abs_diff,
                "atol": self.atol,
                "max_rate": self.max_rate,
                "examples": self.examples,
            }
        )


def logged_prediction_columns(ws: Workspace, dataset: str) -> list[str]:
    """Columns of ``dataset`` that may hold logged predictions: the workspace's prediction/score columns,
    then non-feature columns named like predictions (pred, score, prob, output)."""
    frame = ws.dataset(dataset)
    cols = ws.columns
    named = [c for c in (cols.prediction, cols.score, *cols.scores.values()) if c and c in frame.columns]
    skip = set(ws.feature_names) | {cols.label, cols.id, cols.time}
    hints = ("pred", "score", "prob", "output", "logged")
    guessed = [
        c
        for c in frame.columns
        if c not in skip and c not in named and any(h in str(c).lower() for h in hints)
    ]
    return named + guessed


def shadow_check(
    ws: Workspace,
    *,
    dataset: str,
    logged: str,
    kind: str = "auto",
    model: str = MAIN_MODEL,
    atol: float = 1e-6,
    max_rate: float = 0.0,
    progress: Progress | None = None,
) -> ShadowResult:
    """Compare the logged column ``logged`` of ``dataset`` with ``model`` recomputed on every row.

    ``kind``: "class" (predicted class), "score" (binary positive-class probability), "value" (regression),
    or "auto" (regression → value; a numeric column within [0, 1] with fractions → score; else class).
    Returns a ``ShadowResult``.
    """
    report = progress or no_progress
    if kind not in ("auto", "class", "score", "value"):
        raise AnalysisError(BAD_KIND.format(received=kind))
    if not ws.models:
        raise AnalysisError(NO_MODEL)
    if dataset not in ws.dataset_names:
        raise AnalysisError(UNKNOWN_DATASET.format(name=dataset, known=", ".join(ws.dataset_names)))
    frame = ws.dataset(dataset)
    if logged not in frame.columns:
        raise ColumnError(
            UNKNOWN_COLUMN.format(
                column=logged, dataset=dataset, known=", ".join(map(str, frame.columns[:30]))
            )
        )
    values = frame[logged]
    numeric = _numeric(values)
    if kind == "auto":
        if ws.task == "regression":
            kind = "value"
        elif (
            numeric is not None
            and np.nanmin(numeric) >= 0
            and np.nanmax(numeric) <= 1
            and np.any(np.mod(numeric[np.isfinite(numeric)], 1) != 0)
        ):
            kind = "score"
        else:
            kind = "class"
    if kind == "score" and ws.task != "binary":
        raise AnalysisError(
            f'A logged score can only be compared for a binary task (this one is {ws.task}); compare the logged class instead (kind = "class").'
        )
    if kind in ("score", "value") and numeric is None:
        raise AnalysisError(
            f"The column '{logged}' does not hold numbers, so it cannot be compared as a {kind}. Use kind = \"class\"."
        )
    report(0.1, f"Recomputing model '{model}' on {len(frame):,} rows of '{dataset}'…")
    est = ws.model(model)
    pred, proba = predict_frame(
        est, frame[ws.feature_names], model_name=model, dataset=dataset, with_proba=kind == "score"
    )
    present = values.notna().to_numpy() if numeric is None else np.isfinite(numeric)
    if kind == "class":
        recomputed = pd.Series(pred).astype(str).to_numpy()
        logged_text = values.astype(str).to_numpy()
        if numeric is not None:  # 1 vs 1.0: compare numbers as numbers
            rec_num = pd.to_numeric(pd.Series(pred), errors="coerce").to_numpy(dtype="float64")
            bad = present & ~(np.isclose(numeric, rec_num, rtol=0, atol=1e-12))
        else:
            bad = present & (logged_text != recomputed)
        diff = None
        rec_out: np.ndarray = np.asarray(pred, dtype=object)
    else:
        if kind == "score":
            pos = (
                int(np.flatnonzero(np.asarray(est.classes_) == ws.positive)[0])
                if ws.positive in list(est.classes_)
                else -1
            )
            rec = proba[:, pos] if proba is not None and pos >= 0 else np.full(len(frame), np.nan)
        else:
            rec = np.asarray(pred, dtype="float64")
        with np.errstate(invalid="ignore"):
            diff = np.abs(numeric - rec)
        bad = present & ~(diff <= atol)
        rec_out = rec
    idx = np.flatnonzero(bad)
    if diff is not None:
        idx = idx[np.argsort(-np.nan_to_num(diff[idx], nan=np.inf), kind="stable")]
    ids = frame[ws.columns.id].to_numpy() if ws.columns.id else np.arange(len(frame))
    examples = pd.DataFrame(
        {
            "row": idx[: MAX_EXAMPLES * 4],
            "id": ids[idx[: MAX_EXAMPLES * 4]],
            "logged": values.to_numpy()[idx[: MAX_EXAMPLES * 4]],
            "recomputed": rec_out[idx[: MAX_EXAMPLES * 4]],
            "abs_diff": diff[idx[: MAX_EXAMPLES * 4]] if diff is not None else np.nan,
        },
        columns=SHADOW_EXAMPLE_COLUMNS,
    )
    finite = diff[present & np.isfinite(diff)] if diff is not None else np.array([])
    report(1.0, "Shadow check done.")
    return ShadowResult(
        dataset=dataset,
        model=model,
        logged_column=logged,
        kind=kind,
        n_compared=int(present.sum()),
        n_missing_logged=int((~present).sum()),
        mismatches=int(bad.sum()),
        max_abs_diff=float(finite.max()) if len(finite) else np.nan,
        mean_abs_diff=float(finite.mean()) if len(finite) else np.nan,
        atol=atol,
        max_rate=max_rate,
        examples=examples,
    )
