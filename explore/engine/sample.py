"""The rows a page shows one by one (worst rows, what-if, SHAP …) when a dataset stays in the engine: a sample
DuckDB draws, stratified by label so that rare classes are there, with every predicted class present."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from explore.engine.log import literal, quote

SAMPLE_ROWS = 50_000
# Above this many distinct labels (regression, ids) the sample is not stratified.
MAX_STRATA = 50


@dataclass(frozen=True)
class SampleInfo:
    """What a page says about the rows it shows: how many of how many, and how they were drawn."""

    rows: int
    total: int
    stratified_by: str | None

    def caption(self) -> str:
        how = f", stratified by '{self.stratified_by}'" if self.stratified_by else ""
        return (
            f"Row-level views use a sample of {self.rows:,} of {self.total:,} rows drawn by the engine{how}; "
            "metrics, slices, windows and drift are computed on all rows."
        )


def draw_sample(
    con: duckdb.DuckDBPyConnection, label: str, prediction: str | None = None, rows: int | None = None
) -> tuple[pd.DataFrame, SampleInfo]:
    """A reproducible sample of the view ``source``: up to ``rows`` rows, an equal share per label value (all rows
    of a smaller class), plus one row for each predicted value that the sample lacks."""
    rows = SAMPLE_ROWS if rows is None else rows
    total = int(con.execute("SELECT count(*) FROM source").fetchall()[0][0])
    if total <= rows:
        return con.execute("SELECT * FROM source").df(), SampleInfo(total, total, None)
    counts = con.execute(f"SELECT {quote(label)}, count(*) FROM source GROUP BY 1").fetchall()
    if len(counts) > MAX_STRATA:
        df = con.execute(f"SELECT * FROM source USING SAMPLE reservoir({rows} ROWS) REPEATABLE (0)").df()
        return df, SampleInfo(len(df), total, None)
    # Equal shares; classes smaller than their share give their rest to the others.
    quota: dict[object, int] = {}
    left, todo = rows, sorted(counts, key=lambda kv: kv[1])
    for i, (value, n) in enumerate(todo):
        quota[value] = min(int(n), left // (len(todo) - i))
        left -= quota[value]
    parts = []
    for value, k in quota.items():
        cond = f"{quote(label)} IS NULL" if value is None else f"{quote(label)} = {literal(value)}"
        parts.append(
            con.execute(
                f"SELECT * FROM (SELECT * FROM source WHERE {cond}) USING SAMPLE reservoir({k} ROWS) REPEATABLE (0)"
            ).df()
        )
    df = pd.concat(parts, ignore_index=True)
    if prediction:
        seen = set(df[prediction].dropna().tolist())
        values = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT {quote(prediction)} FROM source LIMIT {MAX_STRATA + 1}"
            ).fetchall()
        ]
        if len(values) <= MAX_STRATA:
            extra = [
                con.execute(f"SELECT * FROM source WHERE {quote(prediction)} = {literal(v)} LIMIT 1").df()
                for v in values
                if v is not None and v not in seen
            ]
            df = pd.concat([df, *extra], ignore_index=True)
    return df, SampleInfo(len(df), total, label)
