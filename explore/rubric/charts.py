"""Charts of the ML Test Score rubric: pure functions from rubric result objects to ``alt.Chart``.

Every chart draws a handful of marks (4 sections, 28 tests, one point per review or check run).
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd

from explore.core.chart_data import FIT_X
from explore.rubric.ml_test_score import (
    BANDS,
    MAX_SECTION_SCORE,
    POINTS,
    SECTION_KEYS,
    SECTIONS,
    STATUS_WORDS,
    TESTS,
    CheckRuns,
    RubricScore,
    ScoreHistory,
)

LIMITING_COLOR = "#d9480f"
SECTION_COLOR = "#4c78a8"
STATUS_COLORS = {"not done": "#d0d7de", "manual": "#f2b84b", "automated": "#2f9e44"}
STATUS_ORDER = [STATUS_WORDS[s] for s in ("not_done", "manual", "automated")]
_SECTION_ORDER = [s.title for s in SECTIONS]


def section_bars(result: RubricScore, *, height: int = 130) -> alt.Chart:
    """One horizontal bar per section (0-7 points); the limiting section(s) in orange; a rule at the
    final score (the minimum)."""
    rows = []
    for sec in SECTIONS:
        c = result.counts[sec.key]
        rows.append(
            {
                "section": sec.title,
                "points": result.sections[sec.key],
                "role": "limiting (sets the score)" if sec.key in result.limiting else "other section",
                "manual": c["manual"],
                "automated": c["automated"],
                "not done": c["not_done"],
                "label": f"{result.sections[sec.key]:g} / 7",
            }
        )
    data = pd.DataFrame(rows)
    y = alt.Y("section:N", sort=_SECTION_ORDER, title=None)
    base = alt.Chart(data)
    bars = base.mark_bar(cornerRadiusEnd=3).encode(
        x=alt.X(
            "points:Q",
            scale=alt.Scale(domain=[0, MAX_SECTION_SCORE]),
            title="Section score (points, 2017 scale)",
            axis=alt.Axis(values=list(range(8))),
        ),
        y=y,
        color=alt.Color(
            "role:N",
            scale=alt.Scale(
                domain=["limiting (sets the score)", "other section"], range=[LIMITING_COLOR, SECTION_COLOR]
            ),
            title=None,
            legend=alt.Legend(orient="top", symbolType="square"),
        ),
        tooltip=[
            alt.Tooltip("section:N"),
            alt.Tooltip("points:Q", format="~g"),
            alt.Tooltip("automated:Q"),
            alt.Tooltip("manual:Q"),
            alt.Tooltip("not done:Q"),
        ],
    )
    labels = base.mark_text(align="left", dx=4).encode(x="points:Q", y=y, text="label:N")
    rule = (
        alt.Chart(pd.DataFrame({"final": [result.final], "label": [f"final score {result.final:g}"]}))
        .mark_rule(strokeDash=[4, 3], color="#333")
        .encode(x="final:Q", tooltip=[alt.Tooltip("label:N", title="minimum over sections")])
    )
    return (bars + labels + rule).properties(height=height, autosize=FIT_X)


def status_grid(result: RubricScore) -> alt.Chart:
    """The 28 tests as a 4 × 7 grid (section × test number), coloured by status."""
    rows = []
    for t in TESTS:
        status = result.statuses[t.id]
        rows.append(
            {
                "section": SECTIONS[SECTION_KEYS.index(t.section)].title,
                "test": t.number,
                "id": t.id,
                "name": t.name,
                "status": STATUS_WORDS[status],
                "points": POINTS[status],
                "mark": {"not_done": "", "manual": "½", "automated": "1"}[status],
            }
        )
    data = pd.DataFrame(rows)
    base = alt.Chart(data).encode(
        x=alt.X("test:O", title="Test", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("section:N", sort=_SECTION_ORDER, title=None),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.Color(
            "status:N",
            scale=alt.Scale(domain=STATUS_ORDER, range=[STATUS_COLORS[s] for s in STATUS_ORDER]),
            title="Status",
            legend=alt.Legend(orient="top"),
        ),
        tooltip=["id:N", "name:N", "status:N", alt.Tooltip("points:Q", format="~g")],
    )
    text = base.mark_text(fontSize=12).encode(text="mark:N")
    return (cells + text).properties(height=130, autosize=FIT_X)


def history_chart(history: ScoreHistory, *, highlight: str | None = None) -> alt.Chart:
    """Final score of each review over time (the band limits as dashed rules), section scores as thin
    lines; ``highlight`` marks one review (e.g. the one open)."""
    if not len(history):
        raise ValueError("history_chart needs at least one review")
    rows, sec_rows = [], []
    for p in history.points:
        when = p.created_at if isinstance(p.created_at, dt.datetime) else pd.Timestamp(p.created_at)
        when = pd.Timestamp(when).tz_convert(None) if pd.Timestamp(when).tzinfo else pd.Timestamp(when)
        rows.append(
            {
                "created": when,
                "review": p.name,
                "model version": p.model_version,
                "final": p.final,
                "band": p.band.words,
                "confirmed tests": p.n_confirmed,
                "open": p.name == highlight,
            }
        )
        for key, value in p.sections.items():
            sec_rows.append(
                {
                    "created": when,
                    "review": p.name,
                    "section": SECTIONS[SECTION_KEYS.index(key)].title,
                    "points": value,
                }
            )
    data = pd.DataFrame(rows)
    y_max = max(MAX_SECTION_SCORE, 1.0)
    x = alt.X("created:T", title="Review started")
    sections = (
        alt.Chart(pd.DataFrame(sec_rows))
        .mark_line(strokeWidth=1, opacity=0.45, point=alt.OverlayMarkDef(size=20))
        .encode(
            x=x,
            y=alt.Y("points:Q", scale=alt.Scale(domain=[0, y_max])),
            color=alt.Color("section:N", sort=_SECTION_ORDER, title="Section"),
            tooltip=["review:N", "section:N", alt.Tooltip("points:Q", format="~g")],
        )
    )
    final = (
        alt.Chart(data)
        .mark_line(color="#111", strokeWidth=3, point=alt.OverlayMarkDef(size=90, filled=True, color="#111"))
        .encode(
            x=x,
            y=alt.Y("final:Q", title="Score (points)", scale=alt.Scale(domain=[0, y_max])),
            tooltip=[
                "review:N",
                "model version:N",
                alt.Tooltip("final:Q", format="~g", title="final score"),
                "band:N",
                "confirmed tests:Q",
                alt.Tooltip("created:T", format="%Y-%m-%d %H:%M"),
            ],
        )
    )
    limits = pd.DataFrame(
        [{"y": b.high, "band": f"≤ {b.high:g}: {b.words}"} for b in BANDS[1:] if b.high is not None]
    )
    rules = alt.Chart(limits).mark_rule(strokeDash=[3, 3], color="#999").encode(y="y:Q", tooltip=["band:N"])
    layers = [rules, sections, final]
    if highlight is not None and data["open"].any():
        layers.append(
            alt.Chart(data[data["open"]])
            .mark_point(size=260, shape="circle", color=LIMITING_COLOR, strokeWidth=2)
            .encode(x=x, y="final:Q", tooltip=["review:N", alt.Tooltip("final:Q", format="~g")])
        )
    return alt.layer(*layers).properties(height=240, autosize=FIT_X)


def check_runs_chart(runs: CheckRuns) -> alt.Chart:
    """One point per `explore check` run over time, coloured by outcome — shows whether checks run
    repeatedly (automation) and how they fared."""
    if not len(runs):
        raise ValueError("check_runs_chart needs at least one run")
    words = {0: "passed", 1: "a check failed", 2: "could not run"}
    frame = runs.to_frame()
    data = pd.DataFrame(
        {
            "finished": pd.to_datetime(frame["finished_at"], utc=True).dt.tz_convert(None),
            "outcome": [words.get(code, f"exit {code}") for code in frame["exit_code"]],
            "run": frame["id"],
            "checks run": frame["checks_run"],
            "review": [r or "—" for r in frame["review"]],
        }
    )
    domain = ["passed", "a check failed", "could not run"]
    return (
        alt.Chart(data)
        .mark_tick(thickness=3, size=28)
        .encode(
            x=alt.X("finished:T", title="Check run finished (UTC)"),
            color=alt.Color(
                "outcome:N",
                scale=alt.Scale(domain=domain, range=["#2f9e44", LIMITING_COLOR, "#868e96"]),
                title=None,
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                "run:Q",
                "outcome:N",
                "checks run:Q",
                "review:N",
                alt.Tooltip("finished:T", format="%Y-%m-%d %H:%M"),
            ],
        )
        .properties(height=50, autosize=FIT_X)
    )
