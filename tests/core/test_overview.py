"""What an open workspace holds, as the Workspace page's tables (explore/core/overview.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.core.overview import (
    dataset_table,
    metrics_by_dataset,
    metrics_wide,
    metrics_with_intervals,
    model_table,
    role_table,
)
from explore.core.workspace import open_workspace, read_workspace, score
from explore.stats.metrics import overall_metrics
from tests.helpers import frame, make_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    df = frame(400, seed=4)
    df.loc[df.index[-7:], "income"] = None  # seven validation rows not labelled yet
    path = make_workspace(
        tmp_path_factory.mktemp("overview"), datasets={"train": df.iloc[:300], "validation": df.iloc[300:]}
    )
    return open_workspace(read_workspace(path))


def test_model_table_names_each_model_file_and_fingerprint(ws):
    table = model_table(ws)
    assert list(table.columns) == ["model", "type", "file", "format", "fingerprint"]
    row = table.iloc[0]
    assert row["model"] == "current" and row["file"] == "model.skops" and row["format"] == "skops"
    assert row["type"].startswith("Pipeline(") and row["fingerprint"] == ws.model_fingerprint("current")


def test_role_table_lists_the_roles_that_are_set_as_text(ws):
    table = role_table(ws)
    assert list(table.columns) == ["role", "column"]
    roles = dict(zip(table["role"], table["column"], strict=True))
    assert roles["label"] == "income" and roles["time"] == "when" and roles["id"] == "row_id"
    assert roles["positive class"] == str(ws.positive)
    assert "prediction" not in roles and "scores" not in roles  # unset roles are left out
    assert all(pd.api.types.is_string_dtype(t) for t in table.dtypes)


def test_role_table_writes_per_class_score_columns_as_pairs(tmp_path):
    df = frame(300, task="multiclass", seed=2)
    for c in ("low", "mid", "high"):
        df[f"p_{c}"] = 1 / 3
    path = make_workspace(
        tmp_path,
        task="multiclass",
        model=None,
        datasets={"validation": df},
        columns={"label": "income", "scores": {c: f"p_{c}" for c in ("low", "mid", "high")}},
    )
    table = role_table(open_workspace(read_workspace(path)))
    scores = table.set_index("role").loc["scores", "column"]
    assert scores == "low→p_low, mid→p_mid, high→p_high"


def test_dataset_table_counts_rows_class_shares_missing_labels_and_time_range(ws):
    table = dataset_table(ws).set_index("dataset")
    assert list(table.index) == ["train", "validation"]
    train = ws.dataset("train")
    assert table.loc["train", "rows"] == 300 and table.loc["train", "columns"] == train.shape[1]
    assert table.loc["train", "file"] == "train.csv"
    shares = train["income"].value_counts(normalize=True)
    for k, v in shares.items():
        assert table.loc["train", f"share {k}"] == round(float(v), 4)
    assert table.loc["train", "missing labels"] == 0 and table.loc["validation", "missing labels"] == 7
    assert table.loc["train", "from"] == "2024-01-01" and len(table.loc["train", "to"]) == 10


def test_dataset_table_gives_the_label_mean_and_spread_for_regression(tmp_path):
    df = frame(300, task="regression", seed=1)
    path = make_workspace(tmp_path, task="regression", columns={"label": "income"}, datasets={"train": df})
    table = dataset_table(open_workspace(read_workspace(path)))
    assert table.loc[0, "label mean"] == pytest.approx(df["income"].mean())
    assert table.loc[0, "label std"] == pytest.approx(df["income"].std())
    assert "from" not in table.columns and not any(c.startswith("share") for c in table.columns)


def test_metrics_side_by_side_and_with_intervals(ws):
    tables = {name: overall_metrics(score(ws, name)) for name in ("validation", "train")}
    long = metrics_by_dataset(tables)
    assert long.columns[0] == "dataset"
    assert len(long) == sum(len(t) for t in tables.values())
    wide = metrics_wide(long, ws.dataset_names)
    assert list(wide.columns) == ["train", "validation"]  # the workspace's order, not the computation's
    acc = tables["validation"].set_index("metric").loc["accuracy", "value"]
    assert wide.loc["accuracy", "validation"] == pytest.approx(acc)
    assert list(wide.index) == [m for m in tables["validation"]["metric"] if m in wide.index]
    shown = metrics_with_intervals(long)
    row = shown[(shown["dataset"] == "validation") & (shown["metric"] == "accuracy")].iloc[0]
    assert row["interval"] == f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]"
    assert "interval" not in long.columns


def test_metrics_without_an_interval_show_a_dash_and_missing_datasets_are_left_out():
    long = pd.DataFrame(
        {
            "dataset": ["a", "a"],
            "metric": ["accuracy", "base rate"],
            "value": [0.8, 0.3],
            "ci_low": [0.7, np.nan],
            "ci_high": [0.9, np.nan],
        }
    )
    assert list(metrics_with_intervals(long)["interval"]) == ["[0.7000, 0.9000]", "—"]
    wide = metrics_wide(long, ["a", "b"])  # 'b' could not be scored
    assert list(wide.columns) == ["a"]


def test_class_shares_are_columns_in_the_models_class_order():
    # Found on an 11-class model with integer classes: by frequency, the columns read share 1, share 8, share 5 …
    from sklearn.linear_model import LogisticRegression

    from explore.core.workspace import Workspace

    rng = np.random.default_rng(0)
    y = rng.choice(11, size=800, p=rng.permutation(np.arange(1, 12)) / 66)  # frequencies in no class order
    X = pd.DataFrame({"a": rng.normal(size=800) + y})
    model = LogisticRegression(max_iter=500).fit(X, y)
    ws = Workspace.from_frames(model=model, datasets={"validation": X.assign(label=y)}, label="label")
    table = dataset_table(ws)
    shares = [c for c in table.columns if c.startswith("share ")]
    assert shares == [f"share {k}" for k in range(11)]
    assert table.loc[0, "share 10"] == round(float(np.mean(y == 10)), 4)
