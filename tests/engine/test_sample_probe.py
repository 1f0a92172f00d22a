"""The probe's one pass over the label (explore.engine.sample.probe_rows) gives what the two queries it replaced
gave — the label's rows per value (a GROUP BY with the missing labels as a group) and its distinct non-missing
values — with the same values and dtypes, for integer, text, boolean and float labels, with and without missing
labels, and above MAX_STRATA values."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from explore.engine import sample as engine_sample
from explore.engine.log import quote
from explore.engine.sample import MAX_STRATA, PROBE_VALUES, probe_rows


def _old_counts_and_values(con, label: str) -> tuple[dict | None, pd.Series]:
    """The two queries the probe made before (a pass over the label each)."""
    q = quote(label)
    counts = con.execute(f"SELECT {q}, count(*) FROM source GROUP BY 1 LIMIT {MAX_STRATA + 1}").fetchall()
    label_counts = {v: int(n) for v, n in counts} if len(counts) <= MAX_STRATA else None
    values = con.execute(
        f"SELECT DISTINCT {q} AS v FROM source WHERE {q} IS NOT NULL LIMIT {PROBE_VALUES + 1}"
    ).df()["v"]
    return label_counts, values


def _source(df: pd.DataFrame, sql_type: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("frame", df)
    con.execute(f"CREATE VIEW source AS SELECT CAST(y AS {sql_type}) AS y, pred, x FROM frame")
    return con


def _frame(labels: list, n: int = 3_000, missing: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.choice(np.asarray(labels, dtype=object), n), dtype=object)
    y.iloc[rng.choice(n, missing, replace=False)] = None
    return pd.DataFrame({"y": y, "pred": rng.choice([0, 1], n), "x": rng.normal(size=n)})


CASES = {
    "tinyint": ([0, 1], "TINYINT", 0),
    "tinyint with missing labels": ([0, 1], "TINYINT", 37),
    "bigint, 3 classes": ([10, 20, 30], "BIGINT", 5),
    "text": (["cat", "dog", "emu"], "VARCHAR", 0),
    "text with missing labels": (["cat", "dog"], "VARCHAR", 11),
    "boolean": ([True, False], "BOOLEAN", 3),
    "double, above MAX_STRATA values": (list(np.round(np.linspace(0, 9, 120), 3)), "DOUBLE", 4),
    "integer, exactly MAX_STRATA values with a missing group": (list(range(MAX_STRATA - 1)), "INTEGER", 9),
    "integer, MAX_STRATA values and missing labels": (list(range(MAX_STRATA)), "INTEGER", 9),
}


@pytest.mark.parametrize("case", list(CASES))
def test_one_pass_equals_the_two_queries(case):
    labels, sql_type, missing = CASES[case]
    con = _source(_frame(labels, missing=missing), sql_type)
    old_counts, old_values = _old_counts_and_values(con, "y")
    probe = probe_rows(con, "y", "pred")
    assert probe.total == 3_000
    if old_counts is None:
        assert probe.label_counts is None
    else:
        assert probe.label_counts == old_counts
        assert {type(k) for k in probe.label_counts} == {type(k) for k in old_counts}
        assert sum(probe.label_counts.values()) == 3_000
    assert probe.label_values.dtype == old_values.dtype
    assert sorted(probe.label_values.tolist()) == sorted(old_values.tolist())
    assert probe.label_values.notna().all()


def test_more_distinct_labels_than_the_probe_reads(monkeypatch):
    """Above PROBE_VALUES distinct labels both read PROBE_VALUES + 1 of them (the task is regression then)."""
    monkeypatch.setattr(engine_sample, "PROBE_VALUES", 40)
    con = _source(_frame(list(range(300)), missing=2), "INTEGER")
    q = quote("y")
    old = con.execute(f"SELECT DISTINCT {q} AS v FROM source WHERE {q} IS NOT NULL LIMIT 41").df()["v"]
    probe = probe_rows(con, "y", "pred")
    assert probe.label_counts is None
    assert len(probe.label_values) == len(old) == 41
    assert probe.label_values.dtype == old.dtype
    assert set(probe.label_values) <= set(range(300))


def test_one_pass_reads_the_label_column_once():
    """The probe's queries over the label: one GROUP BY (the two queries before were two passes)."""
    con = _source(_frame([0, 1], missing=5), "TINYINT")
    seen: list[str] = []

    class Recording:
        def execute(self, query, *args):
            seen.append(query)
            return con.execute(query, *args)

    probe_rows(Recording(), "y", "pred")
    over_label = [q for q in seen if "GROUP BY" in q or "DISTINCT" in q]
    assert len([q for q in over_label if '"y"' in q]) == 1
    assert len([q for q in over_label if '"pred"' in q]) == 1


def test_the_sample_caption_says_drift_is_sampled_above_its_threshold():
    # A big log's drift is on a row sample of its own (explore.engine.drift): the row sample's caption must not
    # claim drift is computed on every row there.
    from explore.engine.drift import DRIFT_EXACT_ROWS
    from explore.engine.sample import SampleInfo

    small = SampleInfo(rows=50_000, total=DRIFT_EXACT_ROWS, stratified_by="label").caption()
    big = SampleInfo(rows=50_000, total=DRIFT_EXACT_ROWS + 1, stratified_by="label").caption()
    assert small.endswith("metrics, slices, windows and drift are computed on all rows.")
    assert "metrics, slices and windows are computed on all rows; drift on a row sample of its own" in big
    assert "drift are computed on all rows" not in big
