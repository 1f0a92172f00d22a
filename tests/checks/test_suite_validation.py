"""explore/checks/suite_validation.py: one suite validated on several datasets, kept as one result."""

from __future__ import annotations

import json

import pytest

from explore.checks import expectations
from explore.checks.suite_validation import SuiteValidation, validate_datasets
from explore.core.workspace import open_workspace, read_workspace


@pytest.fixture(scope="module")
def ws(tiny_workspace):
    return open_workspace(read_workspace(tiny_workspace))


def test_each_dataset_is_validated_in_order_with_progress(ws):
    suite = expectations.profile(ws, dataset="train")
    seen = []
    res = validate_datasets(
        ws, datasets=["train", "production"], suite=suite, progress=lambda f, m: seen.append((f, m))
    )
    assert res.datasets == ["train", "production"]
    assert seen == [(0.0, "Validating 'train'…"), (0.5, "Validating 'production'…")]
    assert res.result_for("train").passed
    assert res.passed == all(r.passed for r in res.results)
    assert res.summary() == " ".join(r.summary() for r in res.results)
    assert res.summary().startswith("'train' meets all")


def test_to_dict_holds_every_dataset_and_is_json(ws):
    suite = expectations.profile(ws, dataset="train")
    res = validate_datasets(ws, datasets=["train", "validation"], suite=suite)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["kind"] == "expectations" and data["passed"] == res.passed
    assert set(data["datasets"]) == {"train", "validation"}
    assert data["datasets"]["train"]["summary"] == res.result_for("train").summary()


def test_tables_list_expectations_then_only_the_example_rows_that_exist(ws):
    suite = expectations.profile(ws, dataset="train")
    train = expectations.validate(ws, dataset="train", suite=suite)
    failing = expectations.validate(
        ws, dataset="production", suite=expectations.profile(ws, dataset="train", tolerance=0.0, mostly=1.0)
    )
    res = SuiteValidation([train, failing])
    names = list(res.tables())
    assert names[:2] == ["train: expectations", "production: expectations"]
    assert ("train: example rows" in names) == bool(len(train.examples))
    assert ("production: example rows" in names) == bool(len(failing.examples))
    assert not SuiteValidation([]).tables() and SuiteValidation([]).passed
