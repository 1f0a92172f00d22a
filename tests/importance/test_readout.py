"""explore/importance/readout.py: the features a slice comparison or a permutation check flags, and one row's
explanation as evidence."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from explore.importance import explain, readout


def test_outside_training_lists_the_flagged_features_in_order():
    ranges = pd.DataFrame({"feature": ["a", "b", "c"], "flag": [True, False, True]})
    assert readout.outside_training(SimpleNamespace(ranges=ranges)) == ["a", "c"]
    assert readout.outside_training(SimpleNamespace(ranges=ranges.drop(columns="flag"))) == []


def test_improved_by_shuffling_needs_more_than_one_standard_deviation():
    table = pd.DataFrame(
        {
            "feature": ["helps", "noise", "hurts"],
            "perm_mean": [0.2, -0.01, -0.05],
            "perm_std": [0.01, 0.02, 0.01],
        }
    )
    assert readout.improved_by_shuffling(SimpleNamespace(table=table)) == ["hurts"]


def test_local_evidence_holds_the_summary_and_the_waterfall_steps(small_scored):
    sc, model = small_scored()
    local = explain.explain(sc, model, rows=[3])
    steps = explain.waterfall_steps(local, max_features=1)
    result = readout.local_evidence(local, steps)
    assert result["explainer"] == local.explainer and result["sample_size"] == 1
    assert [s["label"] for s in result["steps"]] == steps.table["label"].tolist()
    assert all(isinstance(s["contribution"], float) and isinstance(s["end"], float) for s in result["steps"])
    assert result["steps"][-1]["end"] == pytest.approx(float(local.model_output[0, 0]))
