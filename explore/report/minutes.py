"""The minutes of a readiness review: one self-contained HTML file that opens anywhere, without a server.

``build_minutes(ws, store)`` gathers what the meeting looked at — the rubric review with its evidence (scores
per section, each test's status, confirmations, notes, audit trail), the slice report (metrics with intervals
and support), SHAP importance, performance over time and the spot-check summary — with the same ``explore``
functions the pages and notebooks call (:mod:`explore.notebook`, :mod:`explore.rubric`). ``minutes_html``
writes them through :mod:`explore.report.html`: every text escaped, tables of aggregated numbers, interactive
charts drawn offline (≤ 5,000 embedded rows each) and a PNG of each chart to download.

A section whose input is missing (no workspace, no labels, no annotations, no review, no time column) says
"Not available because …" with the reason the analysis gave; the rest of the file is still written.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from explore.errors import ExploreError, ReportError
from explore.report.html import chart_block, document, esc, facts_list, html_table

if TYPE_CHECKING:
    from explore.core.store import Store
    from explore.core.workspace import Workspace

SHAP_ROWS = 500  # rows SHAP explains for the minutes (the Importance page explains more on demand)
SLICE_COLUMNS = 3  # columns the slice report groups by when none are named
TITLE = "Readiness review minutes"

NO_WORKSPACE = "no workspace is open (the store's reviews are shown; open a workspace for its analyses)"
NO_REVIEW = "the store holds no rubric review yet. Start one on the Rubric page (or `explore.start_review`)"
NO_WORKSPACE_REVIEW = (
    "the store holds no rubric review of this workspace ({workspace}); its {n} review(s) are of other workspaces "
    "or were started without one: {known}. Start one for this workspace on the Rubric page (or "
    "`explore.start_review(…, ws=ws)`), or name one with --review"
)
NO_SESSION = (
    "no spot-check session of this workspace is in the store. Start one on the Labels page (Review), or with "
    "`explore.start_spot_check`"
)
REVIEW_UNKNOWN = (
    "There is no rubric review {received!r} in the store. Reviews in it: {known}. Name one of these."
)
SESSION_UNKNOWN = (
    "There is no spot-check session {received!r} of this workspace in the store. Its sessions: {known}. "
    "Name one of these by id."
)
OUT_UNWRITABLE = (
    "The minutes could not be written to {received}: {reason}. Choose a path in a folder that exists and that "
    "you may write to, e.g. --out ./minutes.html."
)
OUT_IS_DIR = "The minutes need a file name, but {received} is a folder. Give a file, e.g. --out {received}/minutes.html."


@dataclass(frozen=True)
class Chart:
    title: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Section:
    """One part of the minutes: HTML parts built from escaped text, its charts, or why it is not available."""

    key: str
    title: str
    parts: tuple[str, ...] = ()
    charts: tuple[Chart, ...] = ()
    unavailable: str | None = None


@dataclass(frozen=True)
class Minutes:
    title: str
    subtitle: str
    created_at: dt.datetime
    sections: tuple[Section, ...] = field(default=())
    review: ReviewChoice | None = None  # the rubric review reported, and why that one

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def _guarded(key: str, title: str, build: Callable[[], Section]) -> Section:
    """``build()``, or the section saying why it is not available when the analysis refused its input."""
    try:
        return build()
    except ExploreError as exc:
        return Section(key, title, unavailable=str(exc))


# ---- sections ---------------------------------------------------------------------------------------------


def _known(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['id']} ({r['name']!r})" for r in rows[:10]) or "none"


@dataclass(frozen=True)
class ReviewChoice:
    """The review the minutes report (None: none) and why: named, or the newest of the workspace / store."""

    review_id: int | None
    name: str = ""
    why: str = ""
    unavailable: str | None = None


def find_review(store: Store, review: int | str | None, ws: Workspace | None = None) -> ReviewChoice:
    """The review ``review`` names (id or name, any workspace's; ReportError when there is none), else the
    newest review of ``ws``, else the newest review that recorded no workspace (started before reviews did, or
    by ``start_review`` without ``ws=``), never another workspace's (with no ``ws``: the newest in the store)."""
    rows = store.list_reviews()  # newest first
    if review is not None:
        for r in rows:
            if str(r["id"]) == str(review).strip() or r["name"] == review:
                return ReviewChoice(int(r["id"]), r["name"], "the review named")
        raise ReportError(REVIEW_UNKNOWN.format(received=review, known=_known(rows)), received=review)
    if not rows:
        return ReviewChoice(None, unavailable=NO_REVIEW)
    if ws is None:
        return ReviewChoice(int(rows[0]["id"]), rows[0]["name"], "the newest review in the store")
    from explore.rubric.board import workspace_reviews

    own = workspace_reviews(rows, ws)
    legacy = [r for r in rows if not r.get("workspace")]
    if (
        not own and legacy
    ):  # reviews started before reviews recorded their workspace (or by the API without ws=)
        return ReviewChoice(
            int(legacy[0]["id"]),
            legacy[0]["name"],
            "the newest review recorded without a workspace — none names this one; --review picks another",
        )
    if not own:
        message = NO_WORKSPACE_REVIEW.format(workspace=ws.config.path, n=len(rows), known=_known(rows))
        return ReviewChoice(None, unavailable=message)
    return ReviewChoice(int(own[0]["id"]), own[0]["name"], "the newest review of this workspace")


def rubric_section(
    store: Store, ws: Workspace | None, review: int | str | None = None, *, choice: ReviewChoice | None = None
) -> Section:
    """The review (``review``: id or name; default the newest of ``ws``, see :func:`find_review`; or the
    ``choice`` already made) as the Rubric page exports it, with its charts."""
    from explore.checks.registry import tests_covered
    from explore.rubric import charts
    from explore.rubric.board import review_board
    from explore.rubric.ml_test_score import review_html_parts, review_to_dict, score_history

    title = "ML Test Score"
    choice = choice if choice is not None else find_review(store, review, ws)
    review_id = choice.review_id
    if review_id is None:
        return Section("rubric", title, unavailable=choice.unavailable)
    board = review_board(store, review_id, workspace=ws, automatable=tests_covered())
    data = review_to_dict(board.review, snapshot_rows=board.cited_snapshots(), history=board.trail)
    parts = [
        f"<p>Review “{esc(board.review.name)}” (#{review_id}: {esc(choice.why)}).</p>",
        *review_html_parts(data, next_points=board.next_points, heading=3),
    ]
    chart_list = [
        Chart(
            "Score per section (the final score is the lowest)", charts.section_bars(board.score).to_dict()
        ),
        Chart("Status of the 28 tests", charts.status_grid(board.score).to_dict()),
        Chart(
            "Final score of every review",
            charts.history_chart(score_history(store), highlight=board.review.name).to_dict(),
        ),
    ]
    return Section("rubric", f"{title} — {board.review.name}", tuple(parts), tuple(chart_list))


# A text column whose values are this long on average is free text (a review, a document), not categories: its
# "groups" are whole documents, unreadable as slice names.
FREE_TEXT_CHARS = 40


def _free_text(column: pd.Series) -> bool:
    values = column.dropna()
    return len(values) > 0 and float(values.astype(str).str.len().mean()) > FREE_TEXT_CHARS


def default_slice_columns(ws: Workspace, n: int = SLICE_COLUMNS) -> list[str]:
    """The first ``n`` categorical features (a slice report by a few readable groups), else the first features;
    free-text columns (values longer than :data:`FREE_TEXT_CHARS` characters on average) are left out."""
    frame = ws.dataset(_evaluation(ws))
    features = [c for c in ws.feature_names if c in frame.columns]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    readable = [c for c in categorical if not _free_text(frame[c])]
    numeric = [c for c in features if c not in categorical]
    return (readable or numeric or features)[:n]


def _evaluation(ws: Workspace) -> str:
    from explore.core.roles import evaluation_dataset

    return evaluation_dataset(ws)


_SLICE_COLUMNS = ["metric", "value", "ci_low", "ci_high", "support"]


def slices_section(ws: Workspace, by: Sequence[str] | None = None) -> Section:
    """Metrics with intervals and support per group of each ``by`` column (default :func:`default_slice_columns`)."""
    from explore import notebook as nb

    columns = list(by) if by else default_slice_columns(ws)
    parts: list[str] = []
    chart_list: list[Chart] = []
    for column in columns:
        result = nb.slice_report(ws, by=[column])
        table = result.to_frame()
        keep = [column, *[c for c in _SLICE_COLUMNS if c in table.columns]]
        if "worse" in table.columns:
            table = table.assign(worse=table["worse"].map({True: "worse than the rest", False: ""}))
            keep.append("worse")
        parts += [f"<h3>By {esc(column)}</h3>", facts_list(result.facts), html_table(table[keep])]
        chart_list.append(Chart(f"{result.value.metrics[0]} by {column}", result.chart().to_dict()))
    return Section("slices", "Slice report", tuple(parts), tuple(chart_list))


def importance_section(ws: Workspace, *, sample_size: int = SHAP_ROWS) -> Section:
    """Global SHAP importance on a sample of the evaluation rows."""
    from explore import notebook as nb

    result = nb.explain(ws, sample_size=sample_size)
    table = result.to_frame()
    parts = [facts_list(result.facts), html_table(table)]
    return Section(
        "importance",
        "Feature importance (SHAP)",
        tuple(parts),
        (Chart("Mean |SHAP| per feature", result.chart().to_dict()),),
    )


_TIME_COLUMNS = ["window", "metric", "value", "ci_low", "ci_high", "support", "start", "end"]


def staleness_section(ws: Workspace, *, window: str = "month") -> Section:
    """Performance per calendar ``window`` over every dataset, with intervals and support."""
    from explore import notebook as nb

    result = nb.performance_over_time(ws, window=window)
    table = result.to_frame()
    table = table[[c for c in _TIME_COLUMNS if c in table.columns]]
    parts = [facts_list(result.facts), html_table(table)]
    metric = result.facts["metrics"][0]
    return Section(
        "staleness",
        "Performance over time",
        tuple(parts),
        (Chart(f"{metric} per {window}", result.chart().to_dict()),),
    )


def _find_session(store: Store, ws: Workspace, session: int | None) -> int | None:
    rows = store.list_sessions(str(ws.config.path))  # newest first
    if session is None:
        return int(rows[0]["id"]) if rows else None
    if any(int(r["id"]) == int(session) for r in rows):
        return int(session)
    known = ", ".join(f"{r['id']} ({r['name']!r})" for r in rows[:10]) or "none"
    raise ReportError(SESSION_UNKNOWN.format(received=session, known=known), received=session)


def spot_check_section(store: Store, ws: Workspace, session: int | None = None) -> Section:
    """The label error rate a spot-check session estimates (or the queue's precision) and its verdict counts."""
    from explore.labels import charts
    from explore.labels.review import load_session, summarize

    title = "Label spot-check"
    session_id = _find_session(store, ws, session)
    if session_id is None:
        return Section("labels", title, unavailable=NO_SESSION)
    loaded = load_session(store, session_id)
    s = summarize(loaded)
    facts: dict[str, Any] = {
        "session": f"#{session_id} “{loaded.name}” ({loaded.mode}), reviewer {loaded.reviewer}",
        "reviewed": f"{s.n_reviewed} of {s.n_items}",
        "correct": s.n_correct,
        "wrong": s.n_wrong,
        "unsure": s.n_unsure,
    }
    chart_list: list[Chart] = []
    if s.error_rate is not None:
        facts["estimated label error rate"] = _rate(s.error_rate)
        if s.by_class["error_rate"].notna().any():
            chart_list.append(
                Chart(
                    "Error rate by class",
                    charts.rate_chart(s, by="class").to_dict(),
                )
            )
    elif s.precision is not None:
        facts["queue precision (share of flagged labels that were wrong)"] = _rate(s.precision)
        if len(s.precision_curve):
            chart_list.append(Chart("Precision down the queue", charts.precision_curve(s).to_dict()))
    parts = [facts_list(facts), *(f"<p class='muted'>{esc(n)}</p>" for n in s.notes)]
    parts += ["<h3>By class of the label</h3>", html_table(s.by_class)]
    if len(s.by_labeler):
        parts += ["<h3>By labeler</h3>", html_table(s.by_labeler)]
    return Section("labels", title, tuple(parts), tuple(chart_list))


def _rate(r: Any) -> str:
    return f"{r.value:.1%} ({r.confidence:.0%} interval {r.ci_low:.1%} – {r.ci_high:.1%}; {r.wrong} wrong of {r.n})"


# ---- the document -----------------------------------------------------------------------------------------


BAD_SHAP_ROWS = "--shap-rows must be a whole number of rows, at least 1 (e.g. 500); received {received!r}."


def _check_options(ws: Workspace, *, by: Sequence[str] | None, window: str, shap_rows: int) -> None:
    """Options that name something are errors before minutes of analysis, not a section "not available": a
    misspelt ``by`` column, a window that is no calendar period, a SHAP sample of no rows."""
    from explore.notebook import UNKNOWN_COLUMN
    from explore.staleness.layout import window_by

    dataset = _evaluation(ws)
    columns = list(ws.dataset(dataset).columns)
    for column in by or ():
        if column not in columns:
            raise ReportError(
                UNKNOWN_COLUMN.format(
                    argument="--by", received=column, dataset=dataset, columns=", ".join(map(str, columns))
                ),
                received=column,
            )
    try:
        window_by(window)
    except ExploreError as exc:
        raise ReportError(str(exc).replace("window must", "--window must", 1), received=window) from None
    if isinstance(shap_rows, bool) or not isinstance(shap_rows, int) or shap_rows < 1:
        raise ReportError(BAD_SHAP_ROWS.format(received=shap_rows), received=shap_rows)


def build_minutes(
    ws: Workspace | None,
    store: Store,
    *,
    review: int | str | None = None,
    session: int | None = None,
    by: Sequence[str] | None = None,
    window: str = "month",
    shap_rows: int = SHAP_ROWS,
    now: dt.datetime | None = None,
) -> Minutes:
    """Every section of the minutes (see the module docstring). ``review`` (id or name) and ``session`` (id)
    pick what is reported (default the newest); an unknown one raises ReportError, a missing one makes its
    section "not available"."""
    choice = find_review(store, review, ws)  # an unknown review is an error before any analysis runs
    if ws is not None and session is not None:
        _find_session(store, ws, session)
    if ws is not None:
        _check_options(ws, by=by, window=window, shap_rows=shap_rows)
    sections = [_guarded("rubric", "ML Test Score", lambda: rubric_section(store, ws, choice=choice))]
    analyses: list[tuple[str, str, Callable[[], Section]]] = []
    if ws is not None:
        analyses = [
            ("slices", "Slice report", lambda: slices_section(ws, by)),
            (
                "importance",
                "Feature importance (SHAP)",
                lambda: importance_section(ws, sample_size=shap_rows),
            ),
            ("staleness", "Performance over time", lambda: staleness_section(ws, window=window)),
            ("labels", "Label spot-check", lambda: spot_check_section(store, ws, session)),
        ]
        sections += [_guarded(k, t, f) for k, t, f in analyses]
    else:
        for key, title in [
            ("slices", "Slice report"),
            ("importance", "Feature importance (SHAP)"),
            ("staleness", "Performance over time"),
            ("labels", "Label spot-check"),
        ]:
            sections.append(Section(key, title, unavailable=NO_WORKSPACE))
    when = now or dt.datetime.now(dt.UTC)
    subtitle = f"Workspace {ws.name} ({ws.config.path})" if ws is not None else "No workspace"
    return Minutes(TITLE, subtitle, when, tuple(sections), choice)


def minutes_html(minutes: Minutes, *, png: bool = True) -> str:
    """The minutes as one standalone HTML document (charts drawn offline, a PNG link under each)."""
    body = [
        f"<h1>{esc(minutes.title)}</h1>",
        f"<p class='muted'>{esc(minutes.subtitle)} · written {esc(minutes.created_at.strftime('%Y-%m-%d %H:%M'))} UTC "
        "by ml-explore. Interactive charts work offline; every number is aggregated.</p>",
        "<nav class='toc'>"
        + "".join(f"<a href='#{s.key}'>{esc(s.title)}</a>" for s in minutes.sections)
        + "</nav>",
    ]
    index = 0
    for s in minutes.sections:
        body.append(f"<section id='{esc(s.key)}'><h2>{esc(s.title)}</h2>")
        if s.unavailable is not None:
            body.append(
                f"<p class='unavailable'>Not available because {esc(_lower_first(s.unavailable))}</p>"
            )
        for chart in s.charts:
            index += 1
            body.append(chart_block(chart.spec, index=index, title=chart.title, png=png))
        body += [*s.parts, "</section>"]
    return document(f"{minutes.title} — {minutes.subtitle}", body, charts=index > 0)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def check_out_path(path: Path | str) -> Path:
    """``path`` if the minutes can be written there (checked before minutes are computed); else ReportError."""
    out = Path(path).expanduser()
    if out.is_dir():
        raise ReportError(OUT_IS_DIR.format(received=out), received=str(out))
    folder = out.parent
    if folder.exists() and not folder.is_dir():
        raise ReportError(
            OUT_UNWRITABLE.format(received=out, reason=f"{folder} is a file, not a folder"), received=str(out)
        )
    if not folder.is_dir():
        raise ReportError(
            OUT_UNWRITABLE.format(received=out, reason=f"the folder {folder} does not exist"),
            received=str(out),
        )
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ReportError(OUT_UNWRITABLE.format(received=out, reason="permission denied"), received=str(out))
    return out


def write_minutes(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8); an unwritable path raises ReportError saying why and what to do."""
    out = check_out_path(path)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(
            OUT_UNWRITABLE.format(received=out, reason=exc.strerror or exc), received=str(out)
        ) from exc
    return out
