"""Rubric: the ML Test Score (2017 scale) for readiness review meetings.

The score big with its band in words, a bar per section (the limiting one highlighted), the cheapest next
points, each of the 28 tests with its status, evidence and confirmer, proposals from evidence the app
computed and from `explore check` runs, history across reviews, and exports. The app proposes; people
confirm.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from explore.checks.registry import tests_covered
from explore.core.store import current_author
from explore.errors import ExploreError
from explore.rubric import charts
from explore.rubric import ml_test_score as R
from ui import identity, loaders
from ui.boundary import shown_errors
from ui.safe import md_text

ROOT = Path(__file__).resolve().parent.parent
REVIEW_KEY = "rubric_review_id"
CONFIRMER_KEY = "rubric_confirmer"
FLASH_KEY = "rubric_flash"
FLASH_ERROR = "rubric_flash_error"
PENDING_REVIEW = "rubric_pending_review"  # set by a form, applied before the review selectbox exists
STATUS_ICONS = {
    "not_done": ":material/radio_button_unchecked:",
    "manual": ":material/pan_tool:",
    "automated": ":material/autorenew:",
}
STATUS_COLORS = {"not_done": "gray", "manual": "orange", "automated": "green"}
PAGE_FILES = {
    "Slices": "views/slices.py",
    "Importance": "views/importance.py",
    "Staleness": "views/staleness.py",
    "Checks": "views/checks.py",
}

st.title("ML Test Score")
st.caption(f"{R.SCALE_TITLE}. {R.SCALE_RULES} {R.SCALE_NOT_2016}")

with shown_errors():
    store = loaders.store()
ws = loaders.current_workspace()


# ---- who confirms -------------------------------------------------------------------------------------


def confirmer_name() -> str:
    """The signed-in user when auth is configured, else the name typed here (shared by all pages)."""
    return identity.name_input(
        "Your name",
        key=CONFIRMER_KEY,
        placeholder=f"e.g. {current_author()}",
        help="Recorded with every confirmation (the audit trail). Sign-in (st.login) fills it automatically.",
    )


# ---- choosing, starting and importing a review ----------------------------------------------------------


def _default_model_version() -> str:
    if ws is None:
        return ""
    if ws.models:
        return f"{ws.name} · model {ws.model_fingerprint('current')}"
    return f"{ws.name} · predictions-only"


def new_review_form(reviews: list[dict]) -> None:
    with st.form("rubric_new_review", clear_on_submit=False, border=False):
        today = dt.date.today().isoformat()
        name = st.text_input(
            "Review name", value=f"{ws.name if ws else 'model'} — {today}", key="rubric_new_name"
        )
        version = st.text_input(
            "Model version",
            value=_default_model_version(),
            key="rubric_new_version",
            help="What is being reviewed: a model file fingerprint, a tag, a commit.",
        )
        options = [None, *[r["id"] for r in reviews]]
        names = {r["id"]: r["name"] for r in reviews}
        parent = st.selectbox(
            "Carry over from",
            options,
            index=1 if reviews else 0,
            key="rubric_new_parent",
            format_func=lambda i: "nothing (start empty)" if i is None else names[i],
            help="Carried-over tests keep their status and evidence but count only once re-confirmed here.",
        )
        if st.form_submit_button("Start review", icon=":material/add:", type="primary"):
            try:
                rid = R.start_review(store, name, version, carry_from=parent)
            except ExploreError as exc:  # shown at the top of the page: the popover closes on rerun
                st.session_state[FLASH_ERROR] = str(exc)
                st.rerun()
            st.session_state[PENDING_REVIEW] = rid
            st.session_state[FLASH_KEY] = f"Started review “{' '.join(name.split())}”."
            st.rerun()


def import_review_form() -> None:
    upload = st.file_uploader(
        "Review JSON (exported from this page)", type=["json"], key="rubric_import_file"
    )
    rescore = st.checkbox(
        "Rescore a 2016-scale file on the 2017 scale",
        key="rubric_import_rescore",
        help="Statuses (manual / automated) carry over; points are recomputed: ½ and 1.",
    )
    rename = st.text_input("Import under the name (optional)", key="rubric_import_name")
    if st.button("Import review", key="rubric_import_go", disabled=upload is None, icon=":material/upload:"):
        who = confirmer_for_actions()
        if not who:
            return
        try:
            imported = R.parse_review_json(upload.getvalue(), rescore=rescore)
            rid = R.import_review(store, imported, author=who, name=rename.strip() or None)
        except ExploreError as exc:
            st.session_state[FLASH_ERROR] = str(exc)
            st.rerun()
        else:
            st.session_state[PENDING_REVIEW] = rid
            skipped = (
                f" {imported.n_carried_skipped} carried-over test(s) that were never re-confirmed stay not done."
                if imported.n_carried_skipped
                else ""
            )
            st.session_state[FLASH_KEY] = (
                f"Imported “{rename.strip() or imported.name}” with {len(imported.tests)} confirmed test(s).{skipped}"
            )
            st.rerun()


def confirmer_for_actions() -> str | None:
    """The confirmer's name, or None after asking for it (at the top of the page)."""
    who = st.session_state.get("rubric_who", "")
    if not who:
        st.session_state[FLASH_ERROR] = "Enter your name at the top first: every change records who made it."
        st.rerun()
    return who


top = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
with shown_errors():
    reviews = store.list_reviews()
with top[0]:
    if reviews:
        ids = [r["id"] for r in reviews]
        if (pending := st.session_state.pop(PENDING_REVIEW, None)) in ids:
            st.session_state[REVIEW_KEY] = pending
        if st.session_state.get(REVIEW_KEY) not in ids:
            st.session_state[REVIEW_KEY] = ids[0]
        by_id = {r["id"]: r for r in reviews}
        review_id = st.selectbox(
            "Review",
            ids,
            key=REVIEW_KEY,
            format_func=lambda i: f"{by_id[i]['name']} ({by_id[i]['model_version']})",
        )
    else:
        review_id = None
with top[1]:
    st.session_state["rubric_who"] = confirmer_name()
with top[2], st.popover("New review", icon=":material/add:", width="stretch"):
    new_review_form(reviews)
with top[3], st.popover("Import", icon=":material/upload:", width="stretch"):
    import_review_form()

if error := st.session_state.pop(FLASH_ERROR, None):
    st.error(error, icon=":material/error:")
if flash := st.session_state.pop(FLASH_KEY, None):
    st.success(flash, icon=":material/check:")

if review_id is None:
    st.info(
        "No review yet. Start one with **New review** (e.g. “churn v3 — 2026-11-22”), or import a review "
        "exported from another store. Each of the 28 tests is then confirmed by the team: not done, manual "
        "(run by hand, results documented and shared: ½ point) or automated (run automatically on a repeated "
        "basis: 1 point).",
        icon=":material/grading:",
    )
    st.stop()


# ---- the state of the review ----------------------------------------------------------------------------

with shown_errors():
    state = R.load_review(store, review_id)
    result = state.score()
    if ws is not None:
        snapshot_rows = store.list_snapshots(workspace=str(ws.config.path))
        run_rows = R.runs_for(
            store.list_check_runs(),
            workspace_path=str(ws.config.path),
            workspace_name=ws.name,
            review=state.name,
        )
    else:
        snapshot_rows, run_rows = store.list_snapshots(), store.list_check_runs()
    props = R.proposals(result.statuses, snapshot_rows, run_rows)
    runnable = R.runnable_here(ws)
    nxt = R.cheapest_next_points(
        result.statuses,
        proposals_by_test=props,
        runnable=runnable,
        automatable=tests_covered(),
        carried={t: e.status for t, e in state.carried.items()},
    )
snap_by_id = {int(r["id"]): r for r in snapshot_rows}

# ---- the score, big ---------------------------------------------------------------------------------------

left, right = st.columns([1, 2], gap="large")
with left:
    # No HTML here: the review name is user text (a stored cross-site scripting hole once).
    st.metric("ML Test Score (out of 7)", f"{result.final:g}")
    st.caption(f"Review “{md_text(state.name)}”")
    st.markdown(f"#### {result.band.words}")
    st.caption(f"Band {result.band.interval} of the 2017 paper.")
    lim = ", ".join(f"**{R.SECTION_TITLES[k]}** ({result.sections[k]:g})" for k in result.limiting)
    st.markdown(
        f"Limited by {lim}: the final score is the lowest section score, so only "
        f"{'this section' if len(result.limiting) == 1 else 'these sections'} can raise it."
    )
    if state.carried:
        what_if = R.score(state.carried_statuses()).final
        st.info(
            f"{len(state.carried)} test(s) carried over from “{md_text(state.parent_name)}” await re-confirmation; they count "
            f"once someone confirms them here (score if all were re-confirmed as they were: {what_if:g}).",
            icon=":material/history:",
        )
with right:
    st.altair_chart(charts.section_bars(result), width="stretch")
    st.altair_chart(charts.status_grid(result), width="stretch")

# ---- cheapest next points ---------------------------------------------------------------------------------

st.subheader("Cheapest next points")
if not nxt.plan:
    st.success("Every test is automated: 7 points in every section.", icon=":material/emoji_events:")
else:
    if len(nxt.limiting) > 1:
        st.markdown(
            f"{len(nxt.limiting)} sections tie at {nxt.final:g}: one step in **each** raises the score "
            f"to {nxt.final_after_plan:g}."
        )
    else:
        st.markdown(
            f"One step in {R.SECTION_TITLES[nxt.limiting[0]]} raises the score to {nxt.final_after_plan:g}."
        )
    for step in nxt.plan:
        t = R.TESTS_BY_ID[step.test_id]
        st.markdown(
            f"- **{t.label} — {t.name}**: {R.STATUS_WORDS[step.from_status]} → "
            f"{R.STATUS_WORDS[step.to_status]}. {R.EFFORTS[step.effort].capitalize()}."
        )
    with st.expander(f"All {len(nxt.steps)} possible steps in the limiting section(s), cheapest first"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "test": R.TESTS_BY_ID[s.test_id].label,
                        "name": R.TESTS_BY_ID[s.test_id].name,
                        "step": f"{R.STATUS_WORDS[s.from_status]} → {R.STATUS_WORDS[s.to_status]}",
                        "what it takes": R.EFFORTS[s.effort],
                        "section after": s.section_after,
                        "final after": s.final_after,
                    }
                    for s in nxt.steps
                ]
            ),
            hide_index=True,
            width="stretch",
        )

proposed = [p for p in props.values() if p.proposed]
if proposed:
    st.info(
        "The app has evidence for "
        + ", ".join(f"{R.TESTS_BY_ID[p.test_id].label} ({R.STATUS_WORDS[p.proposed]})" for p in proposed)
        + ". Open a test below to see it and confirm — the app proposes, the team decides.",
        icon=":material/lightbulb:",
    )


# ---- the 28 tests --------------------------------------------------------------------------------------------


def _when(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _snapshot_label(sid: int) -> str:
    row = snap_by_id.get(sid) or store.get_snapshot(sid)
    if row is None:
        return f"#{sid} (missing)"
    return f"#{sid} {row['title']} · {row['source']} · {_when(row['created_at'])}"


def show_entry(entry: R.Entry | None) -> None:
    if entry is None:
        st.caption("Nobody has confirmed this test in this review.")
        return
    if entry.carried_from:
        st.markdown(
            f"Carried over from “{md_text(entry.carried_from)}”: **{R.STATUS_WORDS[entry.status]}**, confirmed by "
            f"{md_text(entry.author)} on {_when(entry.created_at)} — not re-confirmed here yet."
        )
    else:
        st.markdown(
            f"**{R.STATUS_WORDS[entry.status].capitalize()}**, confirmed by **{md_text(entry.author)}** on {_when(entry.created_at)}."
        )
    if entry.evidence_text:
        st.markdown(entry.evidence_text)
    for link in entry.links:
        st.markdown(f"- [{link}]({link})" if link.startswith(("http://", "https://")) else f"- `{link}`")
    for sid in entry.snapshot_ids:
        row = snap_by_id.get(sid) or store.get_snapshot(sid)
        with st.popover(_snapshot_label(sid), icon=":material/attach_file:"):
            if row is None:
                st.caption("This snapshot is not in the store any more.")
            else:
                st.caption(
                    f"kind {row['kind']} · model {row['model_fingerprint']} · data {row['data_fingerprint'] or '—'} · "
                    f"by {row['author']} · frozen {_when(row['created_at'])}"
                )
                st.json(row["result"], expanded=1)


def show_evidence_from_app(test: R.RubricTest, proposal: R.Proposal) -> None:
    if proposal.runs:
        last = proposal.last_run
        outcome = {
            "passed": "passed",
            "failed": "failed (the test runs automatically; it found a problem)",
            "error": "could not run",
        }[last.outcome]
        repeated = (
            ""
            if proposal.run_days >= 2
            else " Only one day of runs so far: automation means runs on a repeated basis."
        )
        st.markdown(
            f":material/autorenew: **`explore check` covered it in {len(proposal.runs)} run(s) on {proposal.run_days} day(s)**; "
            f"last {_when(last.finished_at)}: {outcome} ({', '.join(last.checks)}).{repeated}"
        )
    if proposal.snapshots:
        items = ", ".join(
            f"#{s.id} {s.title} ({s.source}, {_when(s.created_at)})" for s in proposal.snapshots[:5]
        )
        more = f" and {len(proposal.snapshots) - 5} more" if len(proposal.snapshots) > 5 else ""
        st.markdown(f":material/attach_file: **App-computed evidence**: {items}{more}.")
    if proposal.proposed:
        st.markdown(f":material/lightbulb: The app proposes **{R.STATUS_WORDS[proposal.proposed]}**.")
    for analysis in test.analyses:
        page = PAGE_FILES.get(analysis.page)
        label = f"{analysis.page} page: {analysis.analysis}"
        try:
            if not (page and (ROOT / page).exists()):
                raise StreamlitAPIException(label)
            st.page_link(page, label=label, icon=":material/open_in_new:")
        except StreamlitAPIException:  # the page is not in this app's navigation (e.g. run on its own)
            st.caption(label)
    if test.analyses and runnable.get(test.id):
        st.caption(f"Not runnable on this workspace: {runnable[test.id]}.")
    if not test.analyses:
        st.caption("The app cannot compute evidence for this test: confirm it with text and links.")


def _who_now() -> str:
    """The confirmer, read inside a callback (before the script body runs)."""
    return identity.current_user()


def _save(
    review: int, test_id: str, key: str, *, status: str, text: str, links: list[str], snapshot_ids: list[int]
) -> None:
    """Write one confirmation; the outcome is shown by the next run (message near the test and at the top)."""
    test = R.TESTS_BY_ID[test_id]
    who = _who_now()
    if not who:
        st.session_state[f"{key}_error"] = (
            "Enter your name at the top first: every confirmation records who made it."
        )
        return
    try:
        new_id = R.confirm_test(
            loaders.store(),
            review,
            test_id,
            status=status,
            author=who,
            evidence_text=text.strip(),
            links=links,
            snapshot_ids=snapshot_ids,
            expected_entry_id=st.session_state.get(f"{key}_seen"),
        )
    except ExploreError as exc:
        st.session_state[f"{key}_error"] = str(exc)
        return
    st.session_state[f"{key}_seen"] = new_id
    st.session_state.pop(f"{key}_error", None)
    st.session_state[FLASH_KEY] = f"{test.label} confirmed as {R.STATUS_WORDS[status]} by {who}."


def _on_confirm(review: int, test_id: str, key: str) -> None:
    ss = st.session_state
    try:
        links = R.parse_links(ss.get(f"{key}_links", ""))
    except ExploreError as exc:
        ss[f"{key}_error"] = str(exc)
        return
    _save(
        review,
        test_id,
        key,
        status=ss[f"{key}_status"],
        text=ss.get(f"{key}_text", ""),
        links=links,
        snapshot_ids=list(ss.get(f"{key}_snaps", [])),
    )


def _on_reconfirm(review: int, test_id: str, key: str, entry: R.Entry) -> None:
    kept = [i for i in entry.snapshot_ids if loaders.store().get_snapshot(i) is not None]
    _save(
        review,
        test_id,
        key,
        status=entry.status,
        text=entry.evidence_text,
        links=list(entry.links),
        snapshot_ids=kept,
    )


def confirm_form(test: R.RubricTest, entry: R.Entry | None, proposal: R.Proposal) -> None:
    """The confirmation form of one test. Saving happens in a callback that checks the entry this person
    saw (``{key}_seen``) is still the newest: a concurrent change is refused with who/what/when."""
    key = f"rubric_{review_id}_{test.id}"
    own = state.entries.get(test.id)
    current_id = own.entry_id if own else None
    widgets = [f"{key}_{w}" for w in ("status", "text", "links", "snaps")]
    # When what the form shows changes (a new entry, a new proposal), its widgets start again from it.
    token = (
        current_id,
        entry.entry_id if entry else None,
        proposal.proposed,
        tuple(s.id for s in proposal.snapshots[:50]),
    )
    if st.session_state.get(f"{key}_token") != token:
        for w in widgets:
            st.session_state.pop(w, None)
        st.session_state[f"{key}_token"] = token
    if error := st.session_state.pop(f"{key}_error", None):
        st.error(error, icon=":material/error:")
    options = sorted(
        {s.id for s in proposal.snapshots} | set(entry.snapshot_ids if entry else ()), reverse=True
    )
    attached = [i for i in options if i in (entry.snapshot_ids if entry else ())]
    if not attached and proposal.proposed and proposal.snapshots:
        attached = [proposal.snapshots[0].id]  # propose the newest evidence; the confirmer can change it
    with st.form(f"{key}_form", border=True):
        default = proposal.proposed or (entry.status if entry else "not_done")
        st.radio(
            "Status",
            R.STATUSES,
            index=R.STATUSES.index(default),
            horizontal=True,
            key=widgets[0],
            format_func=lambda s: f"{R.STATUS_WORDS[s]} ({R.POINTS[s]:g} pt)",
        )
        st.text_area(
            "Evidence",
            value=entry.evidence_text if entry else "",
            key=widgets[1],
            height=80,
            placeholder="What was run, what it showed, where the results are shared.",
        )
        st.text_area(
            "Links (one per line)",
            value="\n".join(entry.links) if entry else "",
            key=widgets[2],
            height=68,
            placeholder="https://ci.example.com/job/123",
        )
        st.multiselect(
            "Attached app evidence", options, default=attached, key=widgets[3], format_func=_snapshot_label
        )
        st.form_submit_button(
            "Confirm",
            icon=":material/how_to_reg:",
            type="primary",
            on_click=_on_confirm,
            args=(review_id, test.id, key),
        )
    # What this person sees now; a save is checked against it.
    st.session_state[f"{key}_seen"] = current_id
    if entry is not None and entry.carried_from:
        st.button(
            f"Re-confirm as carried over ({R.STATUS_WORDS[entry.status]})",
            key=f"{key}_reconfirm",
            icon=":material/done_all:",
            on_click=_on_reconfirm,
            args=(review_id, test.id, key, entry),
        )


def test_label(test: R.RubricTest) -> str:
    entry = state.entry(test.id)
    status = result.statuses[test.id]
    tail = ""
    if test.id in state.entries:
        tail = f" · {md_text(entry.author)}"
    elif entry is not None:
        tail = f" · carried: {R.STATUS_WORDS[entry.status]}"
    proposal = props[test.id]
    hint = (
        f" · :blue[:material/lightbulb: proposes {R.STATUS_WORDS[proposal.proposed]}]"
        if proposal.proposed
        else ""
    )
    return f"**{test.number}. {test.name}** — :{STATUS_COLORS[status]}[{R.STATUS_WORDS[status]}]{tail}{hint}"


with shown_errors():
    trail = R.audit_trail(store, review_id)
trail_by_test: dict[str, list[R.AuditEvent]] = {}
for event in trail:
    trail_by_test.setdefault(event.test_id, []).append(event)

st.subheader("The 28 tests")
for sec in R.SECTIONS:
    limiting = sec.key in result.limiting
    head = f"{sec.title} — {result.sections[sec.key]:g} / 7"
    st.markdown(f"### {head}" + ("  :orange-badge[limiting]" if limiting else ""))
    st.caption(sec.paper_title)
    for test in R.tests_in(sec.key):
        with st.expander(
            test_label(test),
            expanded=f"rubric_{review_id}_{test.id}_error" in st.session_state,
            icon=STATUS_ICONS[result.statuses[test.id]],
        ):
            st.markdown(test.explanation)
            st.caption(f"How to check: {test.how_to_check}")
            entry = state.entry(test.id)
            show_entry(entry)
            show_evidence_from_app(test, props[test.id])
            confirm_form(test, entry, props[test.id])
            history = trail_by_test.get(test.id, [])
            if history:
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "when": _when(e.created_at),
                                "who": e.author,
                                "change": f"{R.STATUS_WORDS.get(e.previous_status, '—') if e.previous_status else '—'} → {R.STATUS_WORDS[e.status]}",
                                "evidence": e.evidence_text,
                            }
                            for e in history
                        ]
                    ),
                    hide_index=True,
                    width="stretch",
                )


# ---- history, check runs, exports ----------------------------------------------------------------------

st.subheader("History")
with shown_errors():
    history_points = R.score_history(store)
st.altair_chart(charts.history_chart(history_points, highlight=state.name), width="stretch")
st.caption(
    "Final score of every review when it stands now (carried-over tests count once re-confirmed); thin lines: "
    "section scores; dashed: band limits."
)
if trail:
    with st.expander(f"Audit trail of “{md_text(state.name)}”: {len(trail)} change(s)"):
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "when": _when(e.created_at),
                        "who": e.author,
                        "test": R.TESTS_BY_ID[e.test_id].label,
                        "from": R.STATUS_WORDS.get(e.previous_status, "—") if e.previous_status else "—",
                        "to": R.STATUS_WORDS[e.status],
                        "evidence": e.evidence_text,
                        "links": ", ".join(e.links),
                        "snapshots": ", ".join(f"#{i}" for i in e.snapshot_ids),
                        "score after": e.final_after,
                    }
                    for e in trail
                ]
            ),
            hide_index=True,
            width="stretch",
        )

st.subheader("Automated runs (`explore check`)")
if run_rows:
    st.altair_chart(charts.check_runs_chart(run_rows), width="stretch")
    st.caption(
        f"{len(run_rows)} run(s) of this workspace; the page proposes “automated” for the tests they covered."
    )
else:
    st.caption(
        "No `explore check` run is recorded for this workspace. Run it in CI with EXPLORE_DB_URL pointing at this "
        "store, or import the JSON report CI kept as an artifact (see docs/rubric.md)."
    )
report_file = st.file_uploader(
    "Import a check report (check-report.json)", type=["json"], key="rubric_check_report"
)
if report_file is not None and st.button(
    "Record this check run", key="rubric_check_import", icon=":material/upload:"
):
    with shown_errors(stop=False):
        report = R.parse_check_report(report_file.getvalue())
        target = (
            str(ws.config.path) if ws is not None else str((report.get("workspace") or {}).get("path", ""))
        )
        run_id, added = R.record_check_report(store, report, workspace=target)
        st.session_state[FLASH_KEY] = (
            f"Recorded check run #{run_id} ({report['status'] if 'status' in report else report['exit_code']})."
            if added
            else f"This report is already recorded (run #{run_id})."
        )
        st.rerun()

st.subheader("Export")
with shown_errors():
    cited = {i for e in [*state.entries.values(), *state.carried.values()] for i in e.snapshot_ids}
    rows = {i: r for i in cited if (r := snap_by_id.get(i) or store.get_snapshot(i)) is not None}
    data = R.review_to_dict(state, snapshot_rows=rows, history=trail)
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in state.name).strip("_") or "review"
cols = st.columns(3)
cols[0].download_button(
    "Markdown",
    R.review_to_markdown(data, next_points=nxt),
    file_name=f"{stem}.md",
    mime="text/markdown",
    key="rubric_export_md",
    icon=":material/description:",
    width="stretch",
)
cols[1].download_button(
    "HTML",
    R.review_to_html(data, next_points=nxt),
    file_name=f"{stem}.html",
    mime="text/html",
    key="rubric_export_html",
    icon=":material/html:",
    width="stretch",
)
cols[2].download_button(
    "JSON (re-importable)",
    R.review_to_json(state, snapshot_rows=rows, history=trail),
    file_name=f"{stem}.json",
    mime="application/json",
    key="rubric_export_json",
    icon=":material/data_object:",
    width="stretch",
)
