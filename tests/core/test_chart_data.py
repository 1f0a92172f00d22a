"""Text sent to charts: a long cell is cut to a label (sort orders and domains cut the same way), the rest kept."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from explore.core.chart_data import CHART_TEXT_CHARS, chart_text, chart_texts, vega_safe
from explore.labels.charts import rate_chart
from explore.slices.charts import group_bars


def test_short_text_and_non_text_pass_unchanged():
    assert chart_text("tablet") == "tablet"
    assert chart_text("é" * CHART_TEXT_CHARS) == "é" * CHART_TEXT_CHARS
    assert chart_text(3.5) == 3.5 and chart_text(None) is None


def test_a_long_cell_is_cut_with_its_length_and_long_values_that_begin_alike_stay_apart():
    a, b = "y" * (10 << 20), "y" * ((10 << 20) - 1) + "z"
    ca, cb = chart_text(a), chart_text(b)
    assert len(ca) <= CHART_TEXT_CHARS and ca.startswith("y" * 100)
    assert "10,485,760 characters" in ca
    assert ca != cb  # same start, same length: the fingerprint tells them apart
    assert chart_text(a) == ca  # deterministic: a sort order built separately matches the data
    assert chart_text("\ud800" * 300)  # a lone surrogate (from a badly encoded file) does not raise


def test_vega_safe_cuts_object_string_and_category_columns_alike():
    long = "<b>" + "x" * 5_000
    df = pd.DataFrame(
        {
            "obj": np.array([long, "a", None], dtype=object),
            "txt": pd.array([long, "a", None], dtype="string"),
            "cat": pd.Categorical([long, "a", "a"]),
            "num": [1.0, np.inf, 2.0],
        }
    )
    out = vega_safe(df)
    for c in ("obj", "txt", "cat"):
        assert out[c].iloc[0] == chart_text(long), c
        assert out[c].iloc[1] == "a", c
    assert pd.isna(out["obj"].iloc[2]) and pd.isna(out["txt"].iloc[2])
    assert np.isnan(out["num"].iloc[1])
    assert df["obj"].iloc[0] == long  # the caller's frame (what tables show) keeps the whole value
    assert chart_texts([long, "a"]) == [chart_text(long), "a"]


def _spec_size(chart) -> int:
    return len(json.dumps(chart.to_dict()))


def test_a_group_chart_of_a_10_mb_level_stays_small_and_its_sort_order_matches_its_labels():
    from explore.core.workspace import Workspace, score
    from explore.slices.report import SliceReportParams, slice_report

    big = "z" * (10 << 20)
    notes = np.array(["red", "blue"] * 50 + [big] * 4, dtype=object)
    y = np.tile([0, 1], len(notes) // 2)
    ws = Workspace.from_predictions(y, np.roll(y, 1), features=pd.DataFrame({"note": notes}))
    scored = score(ws, ws.dataset_names[0])
    report = slice_report(scored, by=["note"], params=SliceReportParams(metrics=("accuracy",)))
    assert (report.by_group == big).any().any()  # the table keeps the whole value
    spec = group_bars(report, "accuracy").to_dict()
    assert len(json.dumps(spec)) < 50_000
    labels = {r["label"] for rows in spec["datasets"].values() for r in rows if "label" in r}
    assert chart_text(big) in labels
    sorts = [
        layer["encoding"]["y"]["sort"]
        for layer in spec.get("layer", [spec])
        if "y" in layer.get("encoding", {})
    ]
    assert sorts and all(set(s) == labels for s in sorts)


def test_a_rate_chart_of_a_long_class_name_stays_small():
    from explore.labels.review import SessionSummary  # noqa: F401  (the summary the chart reads)

    long = "c" * 100_000
    table = pd.DataFrame(
        {"class": [long, "b"], "error_rate": [0.1, 0.2], "ci_low": [0.0, 0.1], "ci_high": [0.3, 0.4]}
    )

    class _Summary:
        by_class = table
        by_labeler = table.rename(columns={"class": "labeler"})

    spec = json.dumps(rate_chart(_Summary(), by="class").to_dict())
    assert len(spec) < 20_000 and json.dumps(chart_text(long)) in spec


def test_month_ticks_only_for_windows_that_start_on_months():
    from explore.core.chart_data import month_ticks

    months = pd.date_range("2024-01-01", periods=9, freq="MS")
    assert month_ticks(months) == {"tickCount": {"interval": "month", "step": 1}, "format": "%b %Y"}
    assert month_ticks(pd.date_range("2023-01-01", periods=24, freq="MS"))["tickCount"]["step"] == 2
    assert month_ticks(pd.date_range("2024-01-01", periods=9, freq="W")) is None  # weeks: Vega's own ticks
    assert month_ticks(months[:1]) is None and month_ticks([]) is None
