"""Results that draw themselves in a notebook: one small wrapper instead of a display method per result class.

``Result`` holds an analysis result (``.value``: the domain object, e.g. a ``SliceReport``) with how to show
it: ``.to_frame()`` (the table the page shows), ``.chart()`` (the page's Altair chart, from the domain's
``charts.py``, aggregated like on the page), a readable ``repr`` and ``_repr_html_`` (a compact summary
table built from escaped parts: user text — column values, slice names — never enters the HTML raw).
Attributes of the value are reachable directly: ``result.curves`` is ``result.value.curves``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from explore.errors import AnalysisError

HTML_ROWS = 15  # rows of the table shown under the summary in a notebook
REPR_ROWS = 8
NO_CHART = "{title} has no chart (the page shows it as a table); use .to_frame()."


class TableResult:
    """A result whose numbers are one table (``table``), for a dataclass to inherit: ``to_frame()`` is a copy
    of it, what a notebook's ``Result`` and a download show."""

    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


@dataclass(frozen=True, eq=False)
class Result:
    """One analysis result, drawable. ``facts``: short name -> value lines of its summary."""

    title: str
    value: Any
    frame: Callable[[], pd.DataFrame]
    draw: Callable[[], Any] | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The result's table (a new DataFrame: change it freely)."""
        return self.frame().copy()

    def chart(self) -> Any:
        """The Altair chart the page shows for this result."""
        if self.draw is None:
            raise AnalysisError(NO_CHART.format(title=self.title))
        return self.draw()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # copy/pickle probes and IPython's _repr_*_ lookups
            raise AttributeError(name)
        return getattr(self.__dict__["value"], name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *(n for n in dir(self.value) if not n.startswith("_"))})

    def __repr__(self) -> str:
        lines = [self.title]
        lines += [f"  {k}: {_text(v)}" for k, v in self.facts.items()]
        table = self.frame()
        if len(table):
            shown = table.head(REPR_ROWS).to_string(max_colwidth=40)
            lines += ["", shown] + (
                [f"… {len(table) - REPR_ROWS:,} more rows"] if len(table) > REPR_ROWS else []
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        facts = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
            for k, v in self.facts.items()
        )
        table = self.frame()
        body = table.head(HTML_ROWS).to_html(escape=True, max_cols=12, float_format=_number, border=0)
        more = (
            f"<p>… {len(table) - HTML_ROWS:,} more rows (.to_frame())</p>" if len(table) > HTML_ROWS else ""
        )
        return f"<div><strong>{html.escape(self.title)}</strong><table>{facts}</table>{body}{more}</div>"


def _number(x: float) -> str:
    return f"{x:.4g}"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)
