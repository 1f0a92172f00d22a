"""Fuzzing the way in: small generated CSV / Parquet files (column names with unicode, punctuation and
duplicates; mixed types, NaN / inf, empty strings) and workspace.toml files, opened through the public API
(``explore.open``, ``explore.score``): only the project's own ``ExploreError``, never another exception.
Example counts stay small so the suite stays fast; the database of found examples makes reruns cheap."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explore
from explore.core.upload import toml_text
from explore.errors import ExploreError
from explore.stats.metrics import overall_metrics

# EXPLORE_FUZZ_EXAMPLES=1000 for a longer hunt on a developer machine.
FUZZ = settings(
    max_examples=int(os.environ.get("EXPLORE_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

names = st.one_of(
    st.sampled_from(
        ["label", "pred", "score", "id", "when", "x", "", " ", "a,b", 'q"uote', "ü", "列", "\u202e"]
    ),
    st.text(min_size=0, max_size=8),
)
cells = st.one_of(
    st.none(),
    st.just(""),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**20), 10**20),
    st.booleans(),
    st.text(max_size=6),
    st.sampled_from(["yes", "no", "1", "0", "2024-01-01", "high", "=1+1", "nan", "inf"]),
)


@st.composite
def tables(draw) -> pd.DataFrame:
    n_cols = draw(st.integers(1, 5))
    n_rows = draw(st.integers(0, 8))
    columns = draw(st.lists(names, min_size=n_cols, max_size=n_cols))  # duplicates allowed
    data = [[draw(cells) for _ in range(n_cols)] for _ in range(n_rows)]
    return pd.DataFrame(data, columns=columns, dtype=object)


def _write(df: pd.DataFrame, folder: Path, fmt: str) -> str:
    if fmt == "csv":
        df.to_csv(folder / "data.csv", index=False)
        return "data.csv"
    try:
        df.astype(str).where(df.notna(), None).to_parquet(folder / "data.parquet", index=False)
    except (ValueError, TypeError):  # pyarrow refuses duplicate or non-string names: write the bytes as CSV
        return _write(df, folder, "csv")
    return "data.parquet"


def _open_and_score(path: Path) -> None:
    """Everything a user does first: open, score every dataset, the overall metrics."""
    try:
        ws = explore.open(path)
        for name in ws.dataset_names:
            overall_metrics(explore.score(ws, name, None))
    except ExploreError:
        pass  # a message for the user: fine


@FUZZ
@given(df=tables(), fmt=st.sampled_from(["csv", "parquet"]), roles=st.lists(names, min_size=4, max_size=4))
def test_generated_data_files_open_or_say_why(df, fmt, roles):
    label, prediction, score, id_ = roles
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        file = _write(df, folder, fmt)
        columns = {"label": label, "prediction": prediction}
        if score:
            columns["score"] = score
        if id_:
            columns["id"] = id_
        (folder / "workspace.toml").write_text(
            toml_text({"columns": columns, "datasets": {"validation": file}}), encoding="utf-8"
        )
        _open_and_score(folder / "workspace.toml")


@FUZZ
@given(df=tables())
def test_generated_data_files_with_label_and_prediction_taken_from_the_file(df):
    if df.shape[1] < 2:
        df = df.assign(extra=np.arange(len(df)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        df.to_csv(folder / "data.csv", index=False)
        cols = pd.read_csv(folder / "data.csv", nrows=0).columns  # the names as the reader sees them
        (folder / "workspace.toml").write_text(
            toml_text({"columns": {"label": cols[0], "prediction": cols[-1]}, "datasets": {"v": "data.csv"}}),
            encoding="utf-8",
        )
        _open_and_score(folder / "workspace.toml")


toml_values = st.recursive(
    st.one_of(st.text(max_size=6), st.integers(-5, 5), st.booleans(), st.floats(allow_nan=False)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@FUZZ
@given(
    sections=st.dictionaries(
        st.sampled_from(["columns", "datasets", "model", "models", "annotations", "checks", "nonsense"]),
        st.dictionaries(
            st.sampled_from(
                ["label", "prediction", "score", "path", "validation", "task", "id", "time", "x"]
            ),
            toml_values,
            max_size=4,
        ),
        max_size=4,
    ),
    raw=st.text(max_size=40),
)
def test_generated_workspace_toml_files_open_or_say_why(sections, raw):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pd.DataFrame({"label": ["a", "b", "a"], "prediction": ["a", "a", "b"]}).to_csv(
            folder / "data.csv", index=False
        )
        for text in (toml_text(sections), raw):
            (folder / "workspace.toml").write_text(text, encoding="utf-8")
            _open_and_score(folder / "workspace.toml")
