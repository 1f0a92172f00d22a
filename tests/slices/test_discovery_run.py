"""explore.slices.discovery_run: when a kept search is stale, and how a found slice becomes the filter."""

from __future__ import annotations

import dataclasses

import pandas as pd

from explore.slices.definition import Condition, SliceDefinition
from explore.slices.discovery_run import DiscoveryRun, DiscoverySettings
from explore.slices.report import DiscoveryResult

CITY = Condition("city", "in", values=("Nice",))
AGE = Condition("age", "range", lo=60.0)
DEVICE = Condition("device", "in", values=("tablet",))


def settings(within: SliceDefinition | None = None) -> DiscoverySettings:
    return DiscoverySettings(
        data_key="ws|validation|m",
        within=within,
        fdr=0.05,
        min_support=30,
        max_conditions=2,
        loss="loss",
        columns=("city", "age"),
    )


def run(within: SliceDefinition | None = None) -> DiscoveryRun:
    found = [SliceDefinition((CITY, AGE), "city ∈ {'Nice'} AND age ≥ 60"), SliceDefinition((CITY,), "nice")]
    result = DiscoveryResult(
        slices=pd.DataFrame({"slice": [d.name for d in found]}),
        definitions=found,
        tested=pd.DataFrame(),
        n_tested=10,
        n_pruned=0,
        n_redundant=0,
        fdr=0.05,
        confidence=0.95,
        min_support=30,
        loss="mean log loss",
        columns=["city", "age"],
        skipped_columns={},
        n_rows=400,
    )
    return DiscoveryRun(settings(within), result)


def test_a_run_is_stale_when_any_setting_changed() -> None:
    kept = run()
    assert not kept.is_stale(settings())
    for change in (
        {"fdr": 0.1},
        {"min_support": 31},
        {"max_conditions": 1},
        {"loss": "error"},
        {"columns": ("city",)},
        {"data_key": "other"},
        {"within": SliceDefinition((DEVICE,))},
    ):
        assert kept.is_stale(dataclasses.replace(settings(), **change)), change


def test_a_search_of_all_rows_loads_the_found_slice_alone() -> None:
    current = SliceDefinition((DEVICE,), "tablets")
    loaded = run().found_slice(0, current)
    assert loaded == SliceDefinition((CITY, AGE), "city ∈ {'Nice'} AND age ≥ 60")


def test_a_search_inside_the_slice_adds_the_found_conditions_to_it() -> None:
    current = SliceDefinition((DEVICE, Condition("city", "in", values=("Paris",))), "tablets")
    loaded = run(within=SliceDefinition(current.conditions)).found_slice(1, current)
    assert loaded == SliceDefinition((DEVICE, CITY), "nice"), "the found city replaces the slice's city"
