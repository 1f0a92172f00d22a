"""No page renders HTML: the whole class of stored cross-site scripting holes stays closed.

A rubric review named ``<iframe srcdoc="<script>…">`` once ran its script in every browser that opened
the Rubric page, because the score header built HTML around the name with ``unsafe_allow_html=True``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ui.safe import md_text

ROOT = Path(__file__).resolve().parent.parent
RAW_HTML = re.compile(
    r"unsafe_allow_html\s*=\s*True|\bst\.html\s*\(|components\.v1\.html|components\.html\s*\("
)


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "views").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_renders_raw_html(path: Path) -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if RAW_HTML.search(line) and not line.lstrip().startswith("#")
    ]
    assert not hits, (
        "user text must never reach HTML; use Streamlit's own elements and ui.safe.md_text:\n"
        + "\n".join(hits)
    )


@pytest.mark.parametrize(
    "payload",
    [
        "[x](javascript:alert(1))",
        "**bold** _it_ `code` # head",
        ":red[alarm] :material/warning: $x^2$",
        '<iframe srcdoc="<script>parent.alert(1)</script>"></iframe>',
        "line\nbreak\x00nul",
    ],
)
def test_md_text_escapes_every_markdown_construct(payload: str) -> None:
    escaped = md_text(payload)
    # Every special character is preceded by a backslash, so Markdown shows it literally.
    for i, ch in enumerate(escaped):
        if ch in "[]()*_`#:$<>":
            assert escaped[i - 1] == "\\", (payload, escaped, i)
    assert "\n" not in escaped and "\x00" not in escaped
