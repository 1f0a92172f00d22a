"""User text shown on a page is text, never markup.

Streamlit's Markdown never renders raw HTML unless a page asks for it (``unsafe_allow_html``, ``st.html``);
no page does, and ``tests/test_no_raw_html.py`` fails if one starts to. What Markdown itself would still
interpret in a name or a note (links such as ``[x](javascript:…)``, emphasis, headings, ``:color[…]``
directives, ``$`` maths) is escaped by the one Markdown escaper, ``explore.report.markdown.md_escape`` (the
exports use it too), so the text shows exactly as typed.
"""

from __future__ import annotations

import re

from explore.core.chart_data import chart_text
from explore.report.markdown import md_code, md_escape

__all__ = [
    "md_code",
    "md_lines",
    "md_text",
    "option_text",
]  # md_code: a name in monospace that its own backticks cannot close


# An underscore inside a word never starts emphasis (CommonMark's flanking rules), so it stays unescaped: a
# widget label's accessible name (its aria-label, the raw string) then reads "customer_id", not "customer\_id".
_INTRAWORD_UNDERSCORE = re.compile(r"(?<=[A-Za-z0-9])\\_(?=[A-Za-z0-9])")


def md_text(value: object) -> str:
    """``value`` as Markdown that renders as the literal text (one line; newlines become spaces)."""
    return _INTRAWORD_UNDERSCORE.sub("_", md_escape(value))


def option_text(value: object) -> str:
    """A data value as a widget's option (a group, a category to filter on): its text, a long one cut as a chart
    cuts its labels (``explore.core.chart_data.chart_text``). A 10 MB cell would otherwise be sent to the browser
    whole, on every rerun, as a label no one can read; the option's value is still the whole one."""
    return str(chart_text(str(value)))


def md_lines(value: object) -> str:
    """Multi-line user text (a note) as Markdown showing it literally, its line breaks kept."""
    return "  \n".join(md_escape(line) for line in str(value).splitlines())
