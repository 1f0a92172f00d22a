"""explore/checks/choices.py: what the Checks page proposes before a check runs."""

from __future__ import annotations

import numpy as np
import pytest

from explore.checks import choices
from explore.core.workspace import open_workspace, read_workspace
from tests.helpers import frame, make_workspace


@pytest.fixture(scope="module")
def tiny(tiny_workspace):
    return open_workspace(read_workspace(tiny_workspace))


def test_slice_columns_leave_out_label_id_prediction_and_scores(tmp_path):
    df = frame(300)
    df["pred"] = np.where(df["age"] > 45, ">50K", "<=50K")
    df["p_yes"] = 0.5
    path = make_workspace(
        tmp_path / "ws",
        model=None,
        columns={"label": "income", "id": "row_id", "prediction": "pred", "score": "p_yes"},
        datasets={"train": df.iloc[:200], "validation": df.iloc[200:]},
    )
    ws = open_workspace(read_workspace(path))
    options = choices.slice_column_options(ws)
    assert not {"income", "row_id", "pred", "p_yes"} & set(options)
    assert {"age", "city", "when"} <= set(options)


def test_suggested_slices_are_the_first_text_features_with_few_groups(tiny):
    suggested = choices.suggested_slice_columns(tiny)
    first = tiny.dataset(tiny.dataset_names[0])
    assert 0 < len(suggested) <= 2
    for column in suggested:
        assert column in tiny.feature_names and first[column].nunique() <= 10
        assert first[column].dtype == object or str(first[column].dtype) in ("category", "string", "str")
    assert choices.suggested_slice_columns(tiny, n=1) == suggested[:1]
    assert choices.suggested_slice_columns(tiny, max_groups=1) == []


def test_previous_model_is_the_named_one_then_previous_then_the_first():
    assert choices.default_previous("old", ["previous", "old"]) == "old"
    assert choices.default_previous("gone", ["a", "previous"]) == "previous"
    assert choices.default_previous(None, ["a", "b"]) == "a"


def test_cost_times_current_and_previous_else_the_first_two_models():
    assert choices.default_cost_models(["current", "previous", "old"]) == ["current", "previous"]
    assert choices.default_cost_models(["old", "current"]) == ["current"]
    assert choices.default_cost_models(["a", "b", "c"]) == ["a", "b"]
    assert choices.default_cost_models(["a"]) == ["a"]


def test_logged_columns_put_prediction_like_names_first_and_skip_features_and_roles(tmp_path):
    df = frame(300)
    df["served_pred"] = "<=50K"
    df["batch"] = 1
    path = make_workspace(tmp_path / "ws", datasets={"train": df.iloc[:200], "production": df.iloc[200:]})
    ws = open_workspace(read_workspace(path))
    named, rest = choices.logged_column_choices(ws, "production")
    assert named == ["served_pred"]
    assert "batch" in rest
    assert not {"income", "row_id", "when", *ws.feature_names} & set(named + rest)
