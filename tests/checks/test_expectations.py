"""explore/checks/expectations.py: profile a good dataset, edit, save, validate; planted violations are caught."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.checks import expectations
from explore.errors import AnalysisError, WorkspaceError


def good(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "id": [f"u{seed}-{i}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10, 0.5, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.5, 0.3, 0.2]),
            "member": rng.random(n) < 0.3,
            "score": np.round(rng.uniform(0, 1, n), 3),
            "joined": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
        }
    )
    df.loc[rng.random(n) < 0.1, "income"] = np.nan
    return df


def failing(result: expectations.ValidationResult) -> set[tuple[str, str]]:
    return set(zip(result.violations["column"], result.violations["expectation"], strict=True))


def test_suite_from_good_data_passes_on_it_and_on_fresh_data_from_the_same_source():
    suite = expectations.profile_frame(good(5000, 0), id_column="id", time_column="joined", name="train")
    assert suite.columns["id"].unique and suite.columns["id"].allowed is None
    assert suite.columns["city"].allowed == ("Lyon", "Nice", "Paris")
    assert suite.columns["age"].type == "integer" and suite.columns["income"].type == "number"
    assert suite.columns["member"].type == "boolean" and suite.columns["joined"].type == "datetime"
    assert suite.columns["age"].max_null_rate == 0.0 and 0.11 < suite.columns["income"].max_null_rate < 0.13
    assert expectations.validate_frame(good(5000, 0), suite, id_column="id").passed
    # Natural variation (another sample, a smaller batch) does not alarm.
    fresh = expectations.validate_frame(good(1500, 7), suite, id_column="id")
    assert fresh.passed, fresh.violations


def test_planted_violations_are_caught_with_counts_and_example_rows():
    suite = expectations.profile_frame(good(5000, 0), id_column="id", time_column="joined")
    bad = good(2000, 3)
    bad.loc[:99, "city"] = "Marseille"  # a new category
    bad.loc[200:699, "income"] = np.nan  # a null burst: 25 % + the usual 10 %
    bad.loc[1000:, "score"] = bad.loc[1000:, "score"] * 100  # a range shift (percent instead of share)
    bad.loc[5, "id"] = bad.loc[6, "id"]  # a duplicated id
    bad["age"] = bad["age"].astype(object)
    bad.loc[7, "age"] = "unknown"  # text in a number column
    res = expectations.validate_frame(bad, suite, id_column="id")
    found = failing(res)
    assert ("city", "categories") in found
    assert ("income", "null rate") in found
    assert ("score", "range") in found and ("score", "quantile q95") in found
    assert ("id", "unique") in found
    assert ("age", "type") in found
    table = res.table.set_index(["column", "expectation"])
    assert table.loc[("city", "categories"), "unexpected"] == 100
    assert "'Marseille' ×100" in table.loc[("city", "categories"), "observed"]
    assert table.loc[("score", "range"), "unexpected"] == int(
        (bad.loc[1000:, "score"] > suite.columns["score"].max).sum()
    )
    assert table.loc[("age", "type"), "unexpected"] == 1
    ex = res.examples[res.examples["expectation"] == "categories"]
    assert list(ex["value"]) == ["Marseille"] * expectations.MAX_EXAMPLES and list(ex["id"]) == list(
        bad["id"][: expectations.MAX_EXAMPLES]
    )
    assert not res.passed and "violates" in res.summary()


def test_mostly_tolerates_a_few_rare_values_and_row_count_bounds_apply():
    suite = expectations.profile_frame(good(5000, 0))
    few = good(5000, 1)
    few.loc[:2, "city"] = "Marseille"  # 3 rows of 5,000: under 1 − mostly = 0.1 %
    assert ("city", "categories") not in failing(expectations.validate_frame(few, suite))
    tiny = good(100, 2)
    assert ("(table)", "row count") in failing(expectations.validate_frame(tiny, suite))
    missing = good(1000, 2).drop(columns=["city"])
    assert ("city", "present") in failing(expectations.validate_frame(missing, suite))


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_suite_files_round_trip_and_edits_apply(tmp_path, suffix):
    suite = expectations.profile_frame(good(800, 0), id_column="id", time_column="joined", name="train")
    path = expectations.save_suite(suite, tmp_path / f"expectations{suffix}")
    assert path.read_text().lstrip().startswith("#" if suffix == ".toml" else "{")
    loaded = expectations.load_suite(path)
    assert (
        loaded.columns == suite.columns
        and loaded.min_rows == suite.min_rows
        and loaded.created_from == "train"
    )
    table = suite.to_frame()
    table.loc[table["column"] == "city", "allowed"] = "Paris, Lyon, Nice, Marseille"
    table.loc[table["column"] == "age", "max"] = 200.0
    table = table[table["column"] != "score"]
    edited = expectations.suite_from_frame(table, suite)
    assert edited.columns["city"].allowed == ("Paris", "Lyon", "Nice", "Marseille")
    assert (
        edited.columns["age"].max == 200.0
        and edited.columns["age"].quantiles == suite.columns["age"].quantiles
    )
    assert "score" not in edited.columns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[columns.a]\ntype = "float"\n', "use one of number, integer"),
        ("[columns.a]\nmax_null_rate = 2\n", "between 0 and 1"),
        ("[columns.a]\nmin = 5\nmax = 1\n", "min must not exceed max"),
        ("[columns.a]\nquantiles = { q42 = [1, 2] }\n", "use one of q05"),
        ("[columns.a]\nallowd = [1]\n", "unknown key 'allowd'"),
        ("[table]\nmin_rows = -1\n", "whole number"),
        ("[columns.a\n", "cannot be read"),
    ],
)
def test_bad_suite_files_get_clear_messages(text, expected):
    with pytest.raises(AnalysisError) as err:
        expectations.parse_suite(text, source="s.toml")
    assert expected in str(err.value) and "s.toml" in str(err.value)


def test_missing_suite_file_and_bad_options(tmp_path):
    with pytest.raises(WorkspaceError, match="does not exist yet"):
        expectations.load_suite(tmp_path / "none.toml")
    with pytest.raises(AnalysisError, match="tolerance"):
        expectations.profile_frame(good(10, 0), tolerance=-1)
    with pytest.raises(AnalysisError, match="no rows"):
        expectations.profile_frame(good(10, 0).iloc[:0])


def test_sample_workspace_drift_is_flagged_on_later_data(tiny_workspace):
    from explore.core.workspace import open_workspace, read_workspace

    ws = open_workspace(read_workspace(tiny_workspace))
    suite = expectations.profile(ws, dataset="train")
    assert expectations.validate(ws, dataset="train", suite=suite).passed
    later = expectations.validate(ws, dataset="production", suite=suite)
    # The sample plants a gradual rise in monthly charges: later data breaks its quantile bands.
    assert ("monthly_charges", "quantile q50") in failing(later)
    assert expectations.suite_path(ws).name == "expectations.toml"


def test_rates_are_judged_on_evidence_so_batch_size_matters():
    suite = expectations.profile_frame(good(5000, 0))
    small = good(300, 5)
    small.loc[0, "score"] = 5.0  # one value out of range in 300 rows: no evidence of a 0.1 % excess
    res = expectations.validate_frame(small, suite)
    assert ("score", "range") not in failing(res)
    row = res.table.set_index(["column", "expectation"]).loc[("score", "range")]
    assert row["unexpected"] == 1 and row["p_value"] == pytest.approx(1 - 0.999**300)
    big = good(50_000, 6)
    big.loc[:249, "score"] = 5.0  # 0.5 % out of range against a 0.1 % allowance
    res = expectations.validate_frame(big, suite)
    assert ("score", "range") in failing(res)
    assert (
        res.table.set_index(["column", "expectation"]).loc[("score", "range"), "p_value"] < expectations.ALPHA
    )
    # A column that was never missing must stay complete: one missing value fails, whatever the batch size.
    one_missing = good(300, 8)
    one_missing.loc[0, "age"] = np.nan
    assert ("age", "null rate") in failing(expectations.validate_frame(one_missing, suite))
