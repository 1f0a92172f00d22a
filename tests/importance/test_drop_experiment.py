"""explore/importance/drop_experiment.py: the drop-column experiment's parameters, its store key (the key
earlier versions saved under, so their results are still found), keeping a result, and its training rows."""

from __future__ import annotations

import hashlib

import pandas as pd

from explore.core.store import Store
from explore.importance import drop_experiment, explain


def test_experiment_key_is_the_key_earlier_versions_saved_under():
    params = drop_experiment.drop_column_params(
        model="current",
        dataset="train",
        features=("tenure", "plan"),
        folds=3,
        metric="roc_auc",
        max_rows=10_000,
    )
    assert params == {
        "model": "current",
        "dataset": "train",
        "features": ["tenure", "plan"],
        "folds": 3,
        "metric": "roc_auc",
        "max_rows": 10000,
    }
    key = drop_experiment.experiment_key(params, model_fingerprint="m1", data_fingerprint="d1")
    assert key == hashlib.sha256(f"m1|d1|{params}".encode()).hexdigest()[:20]
    assert drop_experiment.experiment_key(params, model_fingerprint="m2", data_fingerprint="d1") != key
    assert (
        drop_experiment.experiment_key({**params, "folds": 4}, model_fingerprint="m1", data_fingerprint="d1")
        != key
    )


def test_a_saved_result_is_found_again(tmp_path):
    result = explain.DropColumnResult(
        table=pd.DataFrame({"feature": ["x"], "benefit": [0.1], "ci_low": [0.05], "ci_high": [0.15]}),
        metric="roc_auc",
        higher_is_better=True,
        folds=2,
        n_rows=100,
        confidence=0.95,
        seconds=1.5,
        dataset="train",
    )
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        assert drop_experiment.load_experiment(store, workspace="w", key="k") is None
        drop_experiment.save_experiment(store, result, workspace="w", key="k", params={"folds": 2})
        found, row = drop_experiment.load_experiment(store, workspace="w", key="k")
        assert found.metric == "roc_auc" and found.table["benefit"].tolist() == [0.1]
        assert row["params"] == {"folds": 2} and row["kind"] == drop_experiment.EXPERIMENT_KIND
        assert drop_experiment.load_experiment(store, workspace="other", key="k") is None


def test_labelled_rows_drop_rows_without_a_label():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "z": [4, 5, 6], "extra": [0, 0, 0], "y": ["a", None, "b"]})
    X, y = drop_experiment.labelled_rows(frame, "y", ("x", "z"))
    assert list(X.columns) == ["x", "z"] and X["x"].tolist() == [1.0, 3.0]
    assert y.tolist() == ["a", "b"]
