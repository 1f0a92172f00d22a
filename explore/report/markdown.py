"""The one Markdown-table writer (GitHub-flavoured), for every report the app and ``explore check`` write.

``markdown_table(frame)`` or ``markdown_table(rows, columns)``: one line per row, cells made safe by
:func:`cell` (text escaped by :func:`md_escape`, line breaks folded, missing values empty, floats to 4
significant digits). User text and data values are shown exactly as typed: a review named
``[x](javascript:…)`` or ``<img src=x onerror=…>`` is text in every renderer. Markdown the report writes
itself (``<br>`` between evidence lines, an autolink) is wrapped in :class:`Markup` and passes through.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}

# CommonMark lets a backslash escape any ASCII punctuation; Streamlit adds `:` directives and `$` maths.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=\"'])")


class Markup(str):
    """Markdown written by a report itself (``<br>``, ``<https://…>``), not user text: :func:`cell` keeps it.
    Build it from :func:`md_escape`-d parts and :func:`autolink` (neither leaves a ``|`` that would split a
    table cell)."""


def md_escape(value: Any) -> str:
    """``value`` as Markdown that renders as the literal text, on one line: every Markdown (and Streamlit
    Markdown) special character backslash-escaped, runs of whitespace folded to one space, NUL removed.
    The one Markdown escaper: ``ui.safe.md_text`` (pages) and every report use it."""
    text = " ".join(str(value).replace("\x00", "").split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def md_code(value: Any) -> str:
    """``value`` as one inline code span (shown in monospace, nothing inside interpreted): delimited by more
    backticks than any run inside it, on one line, NUL removed."""
    text = " ".join(str(value).replace("\x00", "").split())
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}" if text else ""


def autolink(url: str) -> str:
    """An http(s) ``url`` as a Markdown autolink ``<url>``; anything else (``javascript:…``, text with
    spaces or angle brackets) as escaped text."""
    if re.fullmatch(r"https?://[^\s<>|`]+", url):
        return Markup(f"<{url}>")
    return md_escape(url)


def fenced(text: str, info: str = "") -> str:
    """``text`` in a code fence longer than any run of backticks inside it (so it cannot close the fence)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def cell_text(value: Any) -> str:
    """``value`` as the plain text of one table cell, the same in every report (Markdown, HTML): missing values
    (None, NaN, NaT, inf) empty, floats to 4 significant digits, timestamps as ``YYYY-MM-DD hh:mm:ss``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    return str(value)


def cell(value: Any) -> str:
    """``value`` as the text of one Markdown table cell: :func:`cell_text`, text escaped by :func:`md_escape` (so
    ``|`` is ``\\|`` and any markup shows as typed); :class:`Markup` kept, with whitespace folded."""
    if isinstance(value, Markup):
        return " ".join(value.split())
    number = isinstance(value.item() if isinstance(value, np.generic) else value, bool | int | float)
    return cell_text(value) if number else md_escape(cell_text(value))  # numbers are written as they are


def markdown_table(
    data: pd.DataFrame | Iterable[Sequence[Any]],
    columns: Sequence[str] | None = None,
    *,
    align: str = "",
    max_rows: int | None = None,
    more: str = "… {n:,} more rows.",
    empty: str | None = None,
) -> str:
    """A Markdown table of ``data`` (a frame, or rows with ``columns``), without a trailing newline.

    ``align``: one letter per column, ``l`` (default), ``r`` or ``c``. ``max_rows``: write the first rows
    only, then ``more`` (formatted with ``n``, the rows left out) after a blank line. ``empty``: what to
    write instead of a table without rows (default: the header alone).
    """
    if isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns] if columns is None else columns
        total = len(data)
        frame = data if max_rows is None else data.head(max_rows)
        shown: list[Sequence[Any]] = list(frame.itertuples(index=False, name=None))
    else:
        if columns is None:
            raise TypeError("markdown_table needs the column names with rows that are not a DataFrame")
        rows = [tuple(r) for r in data]
        total = len(rows)
        shown = rows if max_rows is None else rows[:max_rows]
    if not total and empty is not None:
        return empty
    marks = [_ALIGN[align[i]] if i < len(align) else _ALIGN["l"] for i in range(len(columns))]
    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown]
    if total > len(shown):
        lines += ["", more.format(n=total - len(shown))]
    return "\n".join(lines)


MARKDOWN_ROWS = 500  # rows of a table in a Markdown report (the CSV export has them all)


def markdown_report(title: str, summary: str, tables: dict[str, pd.DataFrame]) -> str:
    """A Markdown document: a title, the verdict in words, then each table under its own heading (at most
    ``MARKDOWN_ROWS`` rows each; the rest are counted, as the CSV export has them)."""
    parts = [f"# {md_escape(title)}", "", md_escape(summary), ""]
    for name, table in tables.items():
        parts += [
            f"## {md_escape(name)}",
            "",
            markdown_table(table, max_rows=MARKDOWN_ROWS, more="… {n:,} more rows in the CSV export."),
            "",
        ]
    return "\n".join(parts)
