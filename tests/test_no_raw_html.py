"""No page renders HTML: the whole class of stored cross-site scripting holes stays closed.

A rubric review named ``<iframe srcdoc="<script>…">`` once ran its script in every browser that opened
the Rubric page, because the score header built HTML around the name with ``unsafe_allow_html=True``.
"""

from __future__ import annotations

import ast
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


# ---- Markdown: user text reaches st.markdown / captions / labels / messages escaped ------------------------
# Streamlit renders these as Markdown, so a name such as ``[x](javascript:…)`` or ``![x](https://…)`` would
# become a link or an image. The first argument of each call must be trusted text: a literal, a module
# constant, a number, or user text passed through an escaper (``md_text``, ``md_code``…); messages go through
# ``ui.boundary.say`` (which escapes). Radio options are Markdown too: they take ``format_func=md_text``.

# Streamlit calls whose first argument is rendered as Markdown (bodies, labels, messages).
MARKDOWN_CALLS = {
    "markdown",
    "caption",
    "write",
    "info",
    "success",
    "warning",
    "error",
    "toast",
    "title",
    "header",
    "subheader",
    "metric",
    "expander",
    "popover",
    "status",
    "button",
    "checkbox",
    "toggle",
    "selectbox",
    "radio",
    "multiselect",
    "segmented_control",
    "pills",
    "slider",
    "select_slider",
    "text_input",
    "number_input",
    "text_area",
    "date_input",
    "file_uploader",
    "download_button",
    "form_submit_button",
    "page_link",
}
ESCAPERS = {"md_text", "md_code", "md_lines", "md_escape", "autolink"}
NUMBER_TEXT = {"len", "int", "float", "round", "seconds_text", "pct", "when", "format"}


def _constant_name(node: ast.AST) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return bool(name) and name.isupper()


def trusted(node: ast.AST) -> bool:
    """Text that cannot hold user input unescaped: literals, module constants, numbers, escaped values."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(
            v.format_spec is not None or trusted(v.value)
            for v in node.values
            if isinstance(v, ast.FormattedValue)
        )
    if isinstance(node, ast.BinOp):
        return trusted(node.left) and trusted(node.right)
    if isinstance(node, ast.IfExp):
        return trusted(node.body) and trusted(node.orelse)
    if _constant_name(node):
        return True
    if isinstance(node, ast.Subscript):  # STATUS_WORDS[status]: a constant table's entry
        return _constant_name(node.value)
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        return trusted(node.elt)
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Name) and f.id in ESCAPERS | NUMBER_TEXT:
            return True
        if isinstance(f, ast.Attribute) and f.attr == "format" and trusted(f.value):
            return all(trusted(a) for a in node.args) and all(trusted(k.value) for k in node.keywords)
        if isinstance(f, ast.Attribute) and f.attr == "join" and isinstance(f.value, ast.Constant):
            return all(trusted(a) for a in node.args)
    return False


def _untrusted(path: Path) -> list[tuple[str, str, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in MARKDOWN_CALLS:
            continue
        first = node.args[:1] or [k.value for k in node.keywords if k.arg in ("body", "label")]
        for arg in first + [k.value for k in node.keywords if k.arg == "help"]:  # help tooltips too
            if not trusted(arg):
                out.append((str(path.relative_to(ROOT)), node.func.attr, ast.unparse(arg)[:40]))
    return out


# Reviewed one by one (issue 19): each interpolates only numbers, fixed vocabularies (metric names, statuses,
# units the app writes), the app's own constants, or parts already escaped. A new entry is a call that puts an
# unescaped value into Markdown: escape the user text in it (``md_text``) rather than adding it here.
REVIEWED = {
    # The presenter view: rubric constants (section titles, test names, status words), numbers, and the
    # previous review's name through md_text in `point`.
    ("ui/panels/rubric/presenter.py", "markdown", "f'### Score since {point}: {moved}'"),
    ("ui/panels/rubric/presenter.py", "markdown", "f'### {result.band.words}'"),
    ("ui/panels/rubric/presenter.py", "caption", "f'Overall: the lowest section score (ban"),
    ("ui/panels/rubric/presenter.py", "markdown", "f'#### {i}. {t.label} — {t.name}\\n{STATU"),
    ("ui/panels/rubric/presenter.py", "markdown", "f'**{changes.n_verdicts} spot-check verd"),
    ("ui/panels/rubric/presenter.py", "markdown", "f'#### {sec.title}'"),
    ("ui/panels/rubric/presenter.py", "caption", "f\"{counts['automated']} automated · {cou"),
    # Row ids go through md_code inside the join; the ring names are constants.
    ("ui/panels/slices/datapoints.py", "caption", "'Ringed on the chart: ' + ' and '.join(r"),
    # Counts, the loss's name and the test's name (both from fixed options).
    ("ui/panels/slices/discovery.py", "markdown", 'f"Tested **{res.n_tested:,}** slices ({r'),
    ("ui/identity.py", "text_input", "help"),
    ("ui/panels/importance/trust.py", "metric", "f\"base value + Σ SHAP vs the model's own"),
    ("ui/panels/importance/trust.py", "metric", "plan.reason"),
    ("ui/panels/labels/overview.py", "metric", 'f"On the {ag.fleiss_n_items:,} items wit'),
    ("ui/panels/labels/review.py", "metric", "f\"The {session.params.get('review', 'dat"),
    ("ui/panels/labels/summary.py", "metric", "f'{r.method}; {r.wrong} wrong of {r.n} d"),
    ("ui/evidence.py", "button", "label"),
    ("ui/identity.py", "text_input", "label"),
    ("ui/panels/checks/common.py", "info", "f'{what} needs the model file itself, an"),
    ("ui/panels/checks/common.py", "status", "label"),
    ("ui/panels/checks/comparison.py", "metric", "key"),
    ("ui/panels/checks/expectations.py", "caption", "f'Profile a dataset known to be good int"),
    ("ui/panels/checks/expectations.py", "markdown", 'f"**Suite** — {md_text(base.origin)}; {l'),
    ("ui/panels/importance/cross_checks.py", "button", "f'Run {n_fits} refits'"),
    ("ui/panels/importance/cross_checks.py", "caption", "f\"Neutralises {md_text(', '.join(feature"),
    ("ui/panels/importance/cross_checks.py", "caption", "f\"Shuffling {md_text(', '.join(hurting))"),
    ("ui/panels/importance/cross_checks.py", "caption", 'f"{result.folds}-fold CV on {result.n_ro'),
    ("ui/panels/importance/cross_checks.py", "metric", "f'Top-{check.top_k} overlap'"),
    ("ui/panels/importance/cross_checks.py", "status", "f'Refitting {n_fits} copies of the model"),
    ("ui/panels/importance/local.py", "caption", "f\"{local.explainer}; additivity {('passe"),
    ("ui/panels/importance/settings.py", "caption", "f'**Explainer:** {est.explainer} on {pla"),
    ("ui/panels/importance/trust.py", "caption", "f\"The model's final step sees {n_cols} t"),
    ("ui/panels/labels/common.py", "selectbox", "label"),
    ("ui/panels/labels/overview.py", "caption", "f\"Fleiss' κ is computed on the {ag.fleis"),
    ("ui/panels/labels/overview.py", "info", "crowd.NEEDS_OVERLAP.format(what='Agreeme"),
    ("ui/panels/labels/overview.py", "warning", "f'The consensus stopped after {cons.n_it"),
    ("ui/panels/labels/queue.py", "caption", "f'{len(rows):,} of {len(queue.frame):,} "),
    ("ui/panels/labels/review.py", "button", "text"),
    ("ui/panels/labels/review.py", "info", "f\"Already reviewed: **{previous['verdict"),
    ("ui/panels/labels/review.py", "markdown", "f'#### Item {position + 1} of {session.n"),
    ("ui/panels/labels/summary.py", "caption", "f'{_interval(r)} ({r.method}).'"),
    ("ui/panels/labels/summary.py", "caption", "f'{_interval(r)}; {r.wrong} of {r.n}.'"),
    ("ui/panels/rubric/checklist.py", "button", "row_label(board, test)"),
    ("ui/panels/rubric/checklist.py", "caption", "f'How to check: {test.how_to_check}'"),
    ("ui/panels/rubric/checklist.py", "caption", "f'Not runnable on this workspace: {board"),
    ("ui/panels/rubric/checklist.py", "caption", "label"),
    ("ui/panels/rubric/checklist.py", "caption", "sec.paper_title"),
    ("ui/panels/rubric/checklist.py", "markdown", 'f":material/autorenew: **`explore check`'),
    ("ui/panels/rubric/checklist.py", "markdown", "f'### {head}' + ('  :orange-badge[limiti"),
    ("ui/panels/rubric/checklist.py", "markdown", "f'**{STATUS_WORDS[entry.status].capitali"),
    ("ui/panels/rubric/checklist.py", "markdown", "f':material/attach_file: **App-computed "),
    ("ui/panels/rubric/checklist.py", "markdown", "test.explanation"),
    ("ui/panels/rubric/checklist.py", "page_link", "page"),
    ("ui/panels/rubric/score.py", "caption", "f'Band {result.band.interval} of the 201"),
    ("ui/panels/rubric/score.py", "info", "'The app has evidence for ' + ', '.join("),
    ("ui/panels/rubric/score.py", "markdown", 'f"Limited by {lim}: the final score is t'),
    ("ui/panels/rubric/score.py", "markdown", "f'#### {result.band.words}'"),
    ("ui/panels/rubric/score.py", "markdown", "f'- **{t.label} — {t.name}**: {STATUS_WO"),
    ("ui/panels/slices/datapoints.py", "markdown", "what"),
    ("ui/panels/slices/groups.py", "markdown", 'f"**{metric}** in {len(shown)} groups — '),
    ("ui/panels/slices/rows.py", "caption", "f'Unchanged: prediction {_shown(res.orig"),
    ("ui/panels/slices/rows.py", "markdown", "f'Row {md_code(cf.cf_id)} is predicted *"),
    ("ui/panels/slices/rows.py", "success", 'f"Prediction {verb} **{_shown(res.edited'),
    ("ui/panels/staleness/controls.py", "caption", 'f"{windows.n_windows} windows over {tl.n'),
    ("ui/panels/staleness/downloads.py", "download_button", "label"),
    ("ui/panels/staleness/drift.py", "caption", "f\"Every row of '{md_text(ctx.dataset)}' "),
    ("ui/panels/staleness/estimation.py", "caption", "f\"{int(wt['labelled_rows'].sum()):,} lab"),
    ("ui/panels/staleness/experiment.py", "info", "f'The experiment needs at least {MIN_CUT"),
    ("ui/panels/staleness/experiment.py", "metric", "f'Time to stale (median, {result.unit}s)"),
    ("ui/panels/staleness/experiment.py", "number_input", "f\"Training span ({(ew.by if ew.by != 'ro"),
    ("ui/panels/staleness/invariants.py", "caption", "f\"Every row of '{md_text(ctx.dataset)}' "),
    ("ui/panels/staleness/performance.py", "caption", "f\"Every row of '{md_text(ctx.dataset)}' "),
    ("ui/panels/workspace/metrics.py", "caption", "f'{md_text(name)}: {sc.n_unlabeled} rows"),
    ("ui/panels/workspace/open_other.py", "caption", 'f"CSV or Parquet data files and a model '),
}


def test_user_text_reaches_markdown_escaped() -> None:
    found = [hit for path in _sources() for hit in _untrusted(path)]
    new = [hit for hit in found if hit not in REVIEWED]
    assert not new, (
        "these calls render a value as Markdown without escaping it; wrap user text in ui.safe.md_text "
        "(messages: ui.boundary.say):\n" + "\n".join(map(str, new))
    )
    gone = REVIEWED - set(found)
    assert not gone, f"no longer in the code, remove from REVIEWED: {sorted(gone)}"


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ('st.caption(f"{n:,} rows")', True),
        ('st.caption(f"rows of {md_text(name)}")', True),
        ('st.info(NO_MODEL.format(what="x"))', True),
        ('st.caption(f"rows of {name}")', False),
        ("st.info(NO_MODEL.format(dataset=ctx.dataset))", False),
        ("st.warning(str(exc))", False),
    ],
)
def test_the_markdown_rule_tells_escaped_from_raw(code: str, ok: bool) -> None:
    call = ast.parse(code).body[0].value
    assert trusted(call.args[0]) is ok


def _chart_builders() -> list[Path]:
    return sorted(
        p for p in (ROOT / "explore").rglob("*.py") if p.name.startswith(("charts", "datapoints_charts"))
    )


@pytest.mark.parametrize("path", _chart_builders(), ids=lambda p: str(p.relative_to(ROOT)))
def test_chart_builders_make_no_links_or_images(path: Path) -> None:
    """A chart's text (titles, axes, legends) is drawn as text and its tooltips are escaped by vega-tooltip
    (tests/browser/test_hostile_text.py hovers them); an ``href`` channel or an image mark would turn a data
    value into a link or a URL the browser loads."""
    source = path.read_text(encoding="utf-8")
    found = re.findall(r"\bhref\b|mark_image|alt\.Href|alt\.Url\b", source)
    assert not found, (path.name, found)
