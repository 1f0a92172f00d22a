"""The one HTML writer for files that open anywhere (the rubric export, the meeting minutes).

Every piece of user or data text goes through :func:`esc` (``html.escape`` with quotes, NUL removed), so a
review named ``<img src=x onerror=…>`` is text in any browser. Tables are written cell by cell from escaped
text (:func:`html_table`), never by a library's ``to_html``. Charts are Vega-Lite specs drawn offline: the
Vega, Vega-Lite and vega-embed libraries are inlined once (``vl_convert.javascript_bundle``, no network
when the file is opened) and each spec is embedded as JSON that cannot close its ``<script>`` element
(:func:`script_json`). A PNG of each chart (rendered by vl-convert) is a ``data:image/png`` download link.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from explore.report.markdown import cell_text

HTML_ROWS = 200  # rows of a table in an HTML report (the CSV exports have them all)
MAX_MARKS = 5_000  # data rows a chart of a report may embed (charts are aggregated before they get here)

TOO_MANY_MARKS = (
    "The chart “{title}” embeds {received:,} data rows; a report's charts hold at most {limit:,} so that the file "
    "opens in a moment. Aggregate it first (the chart builders of explore/ do)."
)


def esc(value: Any) -> str:
    """``value`` as HTML text: ``& < > " '`` escaped, NUL removed. The one HTML escaper of the reports."""
    return html.escape(str(value).replace("\x00", ""), quote=True)


def html_table(frame: pd.DataFrame, *, max_rows: int = HTML_ROWS, css: str = "") -> str:
    """``frame`` as an HTML table of escaped text (header and cells), at most ``max_rows`` rows then a count."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    rows = [
        "<tr>" + "".join(f"<td>{esc(cell_text(v))}</td>" for v in row) + "</tr>"
        for row in frame.head(max_rows).itertuples(index=False, name=None)
    ]
    more = f"<p class='muted'>… {len(frame) - max_rows:,} more rows.</p>" if len(frame) > max_rows else ""
    cls = f" class='{esc(css)}'" if css else ""
    return f"<table{cls}><tr>{head}</tr>{''.join(rows)}</table>{more}"


def facts_list(facts: Mapping[str, Any]) -> str:
    """A definition list of ``facts`` (name -> value), all escaped."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(cell_text(v))}</dd>" for k, v in facts.items())
    return f"<dl class='facts'>{items}</dl>"


_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029]")


def script_json(value: Any) -> str:
    """``value`` as JSON safe inside a ``<script>`` element: ``< > &`` and the JavaScript line separators are
    written as ``\\uXXXX`` escapes, so no text inside (a column named ``</script><script>…``) can end it."""
    text = json.dumps(value, allow_nan=False, default=str)
    return _SCRIPT_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _vl_version() -> str:
    import altair as alt

    major, minor, *_ = alt.SCHEMA_VERSION.lstrip("v").split(".")
    return f"{major}.{minor}"


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite (the version Altair writes) and vega-embed as one script, for files opened offline."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=_vl_version())
    # Inside <script>, only "</script" (any case) ends the element; the bundle's strings never need it literally.
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def spec_rows(spec: Mapping[str, Any]) -> int:
    """How many data rows a Vega-Lite spec embeds (its ``datasets`` and inline ``data.values``)."""
    total = sum(len(v) for v in (spec.get("datasets") or {}).values() if isinstance(v, list))

    def walk(node: Any) -> int:
        if isinstance(node, Mapping):
            data = node.get("data")
            own = (
                len(data["values"])
                if isinstance(data, Mapping) and isinstance(data.get("values"), list)
                else 0
            )
            return own + sum(walk(v) for k, v in node.items() if k != "data" and k != "datasets")
        if isinstance(node, list):
            return sum(walk(v) for v in node)
        return 0

    return total + walk(spec)


def chart_png(spec: Mapping[str, Any]) -> bytes:
    """A PNG of the chart, rendered without a browser by vl-convert."""
    import vl_convert

    return vl_convert.vegalite_to_png(dict(spec), vl_version=_vl_version(), scale=1.5)


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def file_slug(text: str) -> str:
    """A file-name stem from ``text``: lower-case letters, digits and dashes only (at most 60 characters)."""
    return _NOT_SLUG.sub("-", str(text).lower()).strip("-")[:60] or "chart"


# Axis and legend labels longer than this are cut (with "…") before Vega measures them: Vega fits a label to its
# labelLimit by measuring ever shorter prefixes, and on a category that is a whole document (a free-text column
# used as a slice) vl-convert took 69 s for ten 5,000-character labels and did not finish on 100 kB ones.
LABEL_CHARS = 80
_SHORT_LABEL = (
    f"length(datum.label) > {LABEL_CHARS} ? slice(datum.label, 0, {LABEL_CHARS - 1}) + '…' : datum.label"
)


def file_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` as a file draws it: axis and legend labels cut to :data:`LABEL_CHARS` characters (a chart's own
    ``labelExpr`` on an axis or legend still wins: Vega-Lite applies the config only where the chart sets none),
    and a "fit-x" size dropped when the chart has no width of its own — the pages fit charts to their column, a
    file has no column to fit, and Vega then squeezed the chart and cut its legend ("automated" became "a")."""
    config = dict(spec.get("config") or {})
    for part in ("axis", "legend"):
        config[part] = {"labelExpr": _SHORT_LABEL, **(config.get(part) or {})}
    out = {**spec, "config": config}
    autosize = spec.get("autosize")
    fits = autosize == "fit-x" or (isinstance(autosize, Mapping) and autosize.get("type") == "fit-x")
    if fits and not isinstance(spec.get("width"), int | float):
        out.pop("autosize")
    return out


def chart_block(spec: Mapping[str, Any], *, index: int, title: str, png: bool = True) -> str:
    """One chart: a container vega-embed draws ``spec`` into when the file opens, the spec as escaped JSON,
    and (``png``) a download link of the chart as PNG, both drawn from :func:`file_spec`. Raises ValueError past
    MAX_MARKS embedded rows."""
    n = spec_rows(spec)
    if n > MAX_MARKS:
        raise ValueError(TOO_MANY_MARKS.format(title=title, received=n, limit=MAX_MARKS))
    spec = file_spec(spec)
    link = ""
    if png:
        data = base64.b64encode(chart_png(spec)).decode("ascii")
        name = f"chart-{index}-{file_slug(title)}.png"
        link = f"<a class='png' download='{esc(name)}' href='data:image/png;base64,{data}'>Download PNG</a>"
    return (
        f"<figure class='chart'><div class='vega' id='chart-{index}' data-chart='{index}'></div>"
        f"<script type='application/json' id='spec-{index}'>{script_json(dict(spec))}</script>"
        f"<figcaption>{esc(title)} {link}</figcaption></figure>"
    )


# Draws every chart once the page is parsed; a chart that fails says so in its place (no network needed).
_EMBED = """
document.querySelectorAll('div.vega').forEach(function (el) {
  var spec = JSON.parse(document.getElementById('spec-' + el.dataset.chart).textContent);
  vegaEmbed(el, spec, {actions: {export: true, source: false, compiled: false, editor: false}, renderer: 'svg'})
    .then(function () { el.setAttribute('data-drawn', '1'); })
    .catch(function (err) { el.textContent = 'This chart could not be drawn: ' + err; });
});
"""

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;color:#1f2933;padding:0 1em}
h1{margin-bottom:.2em} .score{font-size:3em;font-weight:700;margin:.2em 0 0}
.band{font-size:1.2em;margin:0 0 1em} table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border:1px solid #d0d7de;padding:.35em .5em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#f3f4f6} .limiting{background:#fff4e5} .automated{color:#0a7d32;font-weight:600}
.manual{color:#9a6700;font-weight:600} .not_done{color:#8c959f} .muted{color:#57606a;font-size:.9em}
.unavailable{background:#f6f8fa;border-left:4px solid #8c959f;padding:.5em 1em}
figure.chart{margin:1em 0} div.vega,div.vega.vega-embed{display:block;width:100%} figcaption{color:#57606a;font-size:.9em} a.png{margin-left:1em}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em} dl.facts dt{font-weight:600}
nav.toc a{margin-right:1em}
"""


def document(title: str, body: Sequence[str], *, charts: bool = False) -> str:
    """A standalone HTML document: ``title`` (escaped here), ``body`` (HTML already built from escaped parts),
    and, with ``charts``, the inlined chart libraries and the script that draws every :func:`chart_block`."""
    head = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
    ]
    tail = [f"<script>{vega_bundle()}</script><script>{_EMBED}</script>"] if charts else []
    return "\n".join([*head, *body, *tail, "</body></html>"])
