"""explore/report/markdown.py: the one Markdown-table writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.report.markdown import cell, markdown_table


def test_cells_escape_pipes_and_fold_line_breaks():
    assert cell("a | b") == "a \\| b"
    assert cell("first line\nsecond\r\n  third") == "first line second third"
    assert (
        cell(None) == "" and cell(float("nan")) == "" and cell(np.float64("inf")) == "" and cell(pd.NaT) == ""
    )
    assert cell(np.float64(0.123456)) == "0.1235" and cell(np.int64(7)) == "7" and cell(True) == "True"
    assert cell("<br> and <https://x.org/a>") == "<br> and <https://x.org/a>"


def test_a_frame_becomes_one_line_per_row_with_escaped_cells():
    frame = pd.DataFrame({"name": ["x|y", "two\nlines"], "value": [1.0, None]})
    assert markdown_table(frame, align="lr") == (
        "| name | value |\n|---|---:|\n| x\\|y | 1 |\n| two lines |  |"
    )
    # Every line has as many unescaped pipes as the header: the table cannot break.
    lines = markdown_table(frame).splitlines()
    assert len({line.replace("\\|", "").count("|") for line in lines}) == 1


def test_rows_with_columns_cut_rows_and_empty_tables():
    rows = [(i, f"r{i}") for i in range(5)]
    text = markdown_table(rows, ["n", "name"], max_rows=2, more="… {n} more.")
    assert text.splitlines()[-3:] == ["| 1 | r1 |", "", "… 3 more."]
    assert markdown_table([], ["n"], empty="_(none)_") == "_(none)_"
    assert markdown_table([], ["n"]) == "| n |\n|---|"
    with pytest.raises(TypeError):
        markdown_table(rows)


def test_markdown_report_has_title_summary_and_each_table_capped():
    from explore.report.markdown import MARKDOWN_ROWS, markdown_report

    big = pd.DataFrame({"a": range(MARKDOWN_ROWS + 3)})
    text = markdown_report("Checks | run", "All passed.", {"Big": big, "Small": pd.DataFrame({"b": ["x|y"]})})
    lines = text.splitlines()
    assert lines[0] == "# Checks | run" and "All passed." in lines
    assert "## Big" in lines and "## Small" in lines
    assert "… 3 more rows in the CSV export." in text
    assert "x\\|y" in text
