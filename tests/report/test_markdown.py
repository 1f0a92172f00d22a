"""explore/report/markdown.py: the one Markdown-table writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.report.markdown import Markup, autolink, cell, fenced, markdown_table, md_escape
from tests.hostile import PAYLOADS, markdown_to_html, markup_in


def test_cells_escape_pipes_and_fold_line_breaks():
    assert cell("a | b") == "a \\| b"
    assert cell("first line\nsecond\r\n  third") == "first line second third"
    assert (
        cell(None) == "" and cell(float("nan")) == "" and cell(np.float64("inf")) == "" and cell(pd.NaT) == ""
    )
    assert cell(np.float64(0.123456)) == "0.1235" and cell(np.int64(7)) == "7" and cell(True) == "True"
    assert (
        cell(Markup("<br> and <https://x.org/a>")) == "<br> and <https://x.org/a>"
    )  # the report's own markup
    assert cell("<br> and <https://x.org/a>") == md_escape(
        "<br> and <https://x.org/a>"
    )  # user text: as typed


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
    assert lines[0] == "# " + md_escape("Checks | run") and md_escape("All passed.") in lines
    assert "## Big" in lines and "## Small" in lines
    assert "… 3 more rows in the CSV export." in text
    assert "x\\|y" in text


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_hostile_text_stays_text_in_every_markdown_renderer(name):
    payload = PAYLOADS[name]
    doc = "\n".join(
        [
            f"# Report {md_escape(payload)}",
            "",
            md_escape(payload),
            "",
            markdown_table(pd.DataFrame({payload: [payload, "ok"], "n": [1, 2]})),
        ]
    )
    html_out = markdown_to_html(doc)
    assert not markup_in(html_out), (name, html_out[:500])
    assert html_out.count("<table>") == 1 and html_out.count("<tr>") == 3  # the table is not broken
    assert "<h1>" in html_out and html_out.count("<h") == 1  # no heading, list or quote injected
    assert "<a " not in html_out and "<ul>" not in html_out and "<blockquote>" not in html_out


def test_autolink_only_for_http_and_fenced_cannot_be_closed():
    assert autolink("https://x.org/a?b=1") == "<https://x.org/a?b=1>"
    assert autolink("javascript:alert(1)") == md_escape("javascript:alert(1)")
    assert autolink("https://x.org/a b<script>") == md_escape("https://x.org/a b<script>")
    body = "```\n<script>alert(1)</script>\n````"
    html_out = markdown_to_html(fenced(body) + "\n\nafter")
    assert "<p>after</p>" in html_out and not markup_in(html_out)


def test_html_and_markdown_cells_format_values_one_way():
    from explore.report.html import html_table
    from explore.report.markdown import cell_text

    values = [
        np.float64(0.123456),
        float("inf"),
        None,
        pd.NaT,
        pd.Timestamp("2024-03-01 12:00"),
        np.int64(7),
        "a|b",
    ]
    frame = pd.DataFrame({"v": pd.Series(values, dtype=object)})
    texts = [cell_text(v) for v in values]
    assert texts == ["0.1235", "", "", "", "2024-03-01 12:00:00", "7", "a|b"]
    assert [cell(v) for v in values] == ["0.1235", "", "", "", md_escape(texts[4]), "7", "a\\|b"]
    assert html_table(frame).count("<td>") == len(values) and "<td>2024-03-01 12:00:00</td>" in html_table(
        frame
    )
