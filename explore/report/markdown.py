"""The one Markdown-table writer (GitHub-flavoured), for every report the app and ``explore check`` write.

``markdown_table(frame)`` or ``markdown_table(rows, columns)``: one line per row, cells made safe by
:func:`cell` (``|`` escaped, line breaks folded, missing values empty, floats to 4 significant digits).
Text that is Markdown already (``<br>``, ``<https://…>``, ``**bold**``) passes through; only what would
break the table is changed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

_ALIGN = {"l": "---", "r": "---:", "c": ":---:"}


def cell(value: Any) -> str:
    """``value`` as the text of one table cell: None/NaN/NaT/inf → empty, floats to 4 significant digits,
    any run of whitespace (line breaks too) → one space, ``|`` → ``\\|``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else ""
    return " ".join(str(value).split()).replace("|", "\\|")


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
    parts = [f"# {title}", "", summary, ""]
    for name, table in tables.items():
        parts += [
            f"## {name}",
            "",
            markdown_table(table, max_rows=MARKDOWN_ROWS, more="… {n:,} more rows in the CSV export."),
            "",
        ]
    return "\n".join(parts)
