"""Hostile text: what a careless or malicious user, or a data file, may put wherever text is shown.

``PAYLOADS`` are fed through review names, notes, labeler names, item ids, column names, category values,
slice names and model names by the page, export and browser tests; ``markup_in`` says which of them a
rendered document turned into live markup.
"""

from __future__ import annotations

from html.parser import HTMLParser

PAYLOADS: dict[str, str] = {
    "script": "<script>window.__pwned=1;alert(1)</script>",
    "iframe_srcdoc": '<iframe srcdoc="<script>parent.window.__pwned=1;parent.alert(1)</script>"></iframe>',
    "object_data": '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "embed_data": '<embed src="data:text/html,<script>alert(1)</script>">',
    "img_onerror": '<img src=x onerror="window.__pwned=1;alert(1)">',
    "svg_onload": "<svg onload=alert(1)>",
    "javascript_link": '<a href="javascript:alert(1)">click</a>',
    "style": "<style>body{display:none}</style>",
    "meta_refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "md_link": "[click me](javascript:alert(1))",
    "md_link_http": "[log in again](https://evil.example/phish)",
    "md_image": "![x](https://evil.example/track.png)",
    "md_heading_list": "# big\n- item\n> quote",
    "streamlit_directive": ":red[alarm] :material/warning: $x^2$",
    "pipe_and_backticks": "a | b ``` c `d`",
    "long": "A" * 20_000,
    "rtl_zero_width": "\u202eevil\u202c\u200b\u200d\ufeffname",
    "nul": "nul\x00byte",
    "formula": '=HYPERLINK("https://evil.example","click")',
}

# Elements that mean a payload became live markup (not text) in rendered HTML.
LIVE_TAGS = {"script", "iframe", "object", "embed", "img", "svg", "style", "meta", "link", "base", "form"}


class _LiveMarkup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in LIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=>")
            if (
                name in ("href", "src", "action", "data", "srcdoc")
                and (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:"))
                or name == "srcdoc"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")


def markup_in(html_text: str, *, allowed: set[str] = frozenset()) -> list[str]:
    """The live markup parsed from ``html_text``: elements of ``LIVE_TAGS`` (but ``allowed``, e.g. the
    report's own ``<style>``), event-handler attributes, ``javascript:``/``data:`` URLs, ``srcdoc``.
    Empty when every payload stayed text."""
    parser = _LiveMarkup()
    parser.feed(html_text)
    parser.close()
    return [f for f in parser.found if f.strip("<>") not in allowed]


def markdown_to_html(text: str) -> str:
    """``text`` rendered by a CommonMark renderer with raw HTML enabled (the most permissive viewer)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def rendered_markup(markdown_text: str) -> list[str]:
    """What a Markdown body turned into beyond text: live markup (:func:`markup_in`) and links to the
    payloads' hosts (a Markdown link injected through a name)."""
    out = markdown_to_html(markdown_text)
    return markup_in(out) + (["<a href=evil.example>"] if "evil.example" in out and "<a " in out else [])
