"""AppTest of views/rubric.py: start a review, confirm tests and see the score change, attach evidence
an analysis froze into the store, see proposals from `explore check` runs, carry over, and export."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

from explore import open as explore_open
from explore.checks import registry
from explore.core.store import Store
from explore.report.markdown import md_escape
from explore.rubric import ml_test_score
from tests.conftest import assert_no_exception, texts
from tests.helpers import frame, make_workspace

PAGE = "views/rubric.py"


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[MemoryMediaFileStorage]:
    """The in-memory media stores AppTest creates, so that a test can read what a download button serves."""
    stores: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            stores.append(self)

    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", Recording)
    return stores


def _download(stores: list[MemoryMediaFileStorage], button) -> bytes:
    filename = button.proto.url.rsplit("/", 1)[-1]
    for storage in reversed(stores):
        try:
            return storage.get_file(filename).content
        except Exception:  # noqa: BLE001 - not in this run's storage
            continue
    raise AssertionError(f"download {filename} not found")


def _chart_frames(at) -> list[pd.DataFrame]:
    """Every dataset of every Altair chart on the page (Streamlit ships them as Arrow tables)."""
    frames = []
    for chart in at.get("vega_lite_chart"):
        for named in chart.proto.datasets:
            frames.append(pa.ipc.open_stream(named.data.data).read_pandas())
    return frames


def _score(at) -> str:
    return next(m.value for m in at.metric if m.label.startswith("ML Test Score"))


def _start_review(at, name: str = "churn v3 — 2026-11-22", parent: int | None = None):
    at.text_input(key="rubric_confirmer").set_value("alice")
    at.text_input(key="rubric_new_name").set_value(name)
    at.selectbox(key="rubric_new_parent").set_value(parent)
    at.button(key="FormSubmitter:rubric_new_review-Start review").click().run()
    assert_no_exception(at)
    return at


def _rows(at) -> list:
    """The 28 tests' lines (buttons that open a test's editor)."""
    return [b for b in at.button if (b.key or "").endswith("_open")]


def _row(at, text: str):
    return next(b for b in _rows(at) if text in b.label)


def _editors(at) -> list[str]:
    """The status radios of the open editors."""
    return [r.key for r in at.radio if (r.key or "").endswith("_status")]


def _open(at, review_id: int, test_id: str):
    """Open one test's editor (one at a time), unless it is open already."""
    key = f"rubric_{review_id}_{test_id}"
    if not [r for r in at.radio if r.key == f"{key}_status"]:
        at.button(key=f"{key}_open").click().run()
        assert_no_exception(at)
    return at


def _confirm(at, review_id: int, test_id: str, status: str, text: str = ""):
    key = f"rubric_{review_id}_{test_id}"
    _open(at, review_id, test_id)
    at.radio(key=f"{key}_status").set_value(status)
    if text:
        at.text_area(key=f"{key}_text").set_value(text)
    at.button(key=f"FormSubmitter:{key}_form-Confirm").click().run()
    assert_no_exception(at)
    return at


def test_rubric_page_confirm_see_score_change_attach_evidence_export(
    make_app, db_url, tiny_workspace, downloads
):
    at = make_app(PAGE)
    assert_no_exception(at)
    assert at.title[0].value == "ML Test Score"
    assert any("2017 scale" in c.value and "2016" in c.value for c in at.caption)
    assert any("No review of this workspace yet" in i for i in texts(at.info))

    _start_review(at)
    assert any("Started review" in s for s in texts(at.success))
    assert _score(at) == "0"
    assert any("More of a research project" in m.value for m in at.markdown)
    assert len(_rows(at)) == 28 and not _editors(at)  # a list of the tests, no editor open yet
    with Store(db_url) as store:
        started = store.get_review_by_name("churn v3 — 2026-11-22")
    review_id = started["id"]
    assert started["workspace"] == str(explore_open(tiny_workspace).config.path)  # explore report finds it

    # Two colleagues confirmed Model 1 and Infrastructure 7 from their own laptops meanwhile.
    with Store(db_url) as store:
        ml_test_score.confirm_test(
            store, review_id, "model-1", status="manual", author="bob", evidence_text="PR #12 reviewed"
        )
        ml_test_score.confirm_test(
            store, review_id, "infra-7", status="manual", author="carol", evidence_text="rollback drill"
        )
    _confirm(at, review_id, "data-1", "manual", text="data-1 documented in the wiki")
    assert _score(at) == "0"  # Monitoring is still at 0: the minimum
    assert any(m.value.startswith("### Data — 0.5 / 7") for m in at.markdown)
    _confirm(at, review_id, "monitor-5", "automated")
    assert _score(at) == "0.5"
    assert any("Not totally untested" in m.value for m in at.markdown)
    assert any(m.value.startswith("### Monitoring — 1 / 7") for m in at.markdown)
    bars = next(f for f in _chart_frames(at) if "role" in f.columns)
    limiting = set(bars.loc[bars["role"].str.startswith("limiting"), "section"])
    assert limiting == {"Data", "Model", "Infrastructure"}

    # An analysis freezes its result as evidence (what ui.evidence.attach_button does on another page).
    with Store(db_url) as store:
        snap = store.add_snapshot(
            workspace=str(tiny_workspace.resolve()),
            kind="slice_report",
            tests=["model-6"],
            title="Slice report by region",
            params={"group_by": ["region"]},
            result={"worst": "South"},
            model_fingerprint="m",
            data_fingerprint="d",
        )
    at.run()
    assert "proposes manual" in _row(at, "Model quality is sufficient").label
    _open(at, review_id, "model-6")
    assert _editors(at) == [f"rubric_{review_id}_model-6_status"]  # one editor open at a time
    _open(at, review_id, "data-2")
    assert _editors(at) == [f"rubric_{review_id}_data-2_status"]  # opening another closes the first
    _open(at, review_id, "model-6")
    assert at.multiselect(key=f"rubric_{review_id}_model-6_snaps").value == [snap]
    assert at.radio(key=f"rubric_{review_id}_model-6_status").value == "manual"
    at.button(key=f"FormSubmitter:rubric_{review_id}_model-6_form-Confirm").click().run()
    assert_no_exception(at)
    with Store(db_url) as store:
        entry = ml_test_score.load_review(store, review_id).entries["model-6"]
    assert entry.status == "manual" and entry.snapshot_ids == (snap,) and entry.author == "alice"
    assert any(m.value.startswith("### Model — 1 / 7") for m in at.markdown)

    # Export: Markdown, HTML and JSON carry the score, every test, evidence and confirmer.
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert set(buttons) == {"Markdown", "HTML", "JSON (re-importable)"}
    md = _download(downloads, buttons["Markdown"]).decode()
    assert "**Final score: 0.5**" in md and md_escape("data-1 documented in the wiki") in md
    assert f"#{snap} Slice report by region" in md and "alice" in md
    for test in ml_test_score.TESTS:
        assert md_escape(test.name) in md
    html = _download(downloads, buttons["HTML"]).decode()
    assert html.startswith("<!doctype html>") and "Slice report by region" in html
    exported = json.loads(_download(downloads, buttons["JSON (re-importable)"]))
    assert exported["scale"] == "2017" and exported["score"]["final"] == 0.5
    assert len(exported["history"]) == 5
    assert ml_test_score.parse_review_json(json.dumps(exported)).tests["model-6"].snapshots[0]["result"] == {
        "worst": "South"
    }


def test_check_runs_are_proposed_as_automated_and_carry_over(
    make_app, db_url, tiny_workspace, tmp_path, monkeypatch
):
    # CI ran `explore check` against this store: its run is the evidence of automation.
    out = tmp_path / "ci"
    assert registry.main([str(tiny_workspace), "--checks", "compare", "--out", str(out)]) == 0
    at = make_app(PAGE)
    _start_review(at, name="v1 review")
    with Store(db_url) as store:
        v1 = store.get_review_by_name("v1 review")["id"]
    assert "proposes automated" in _row(at, "Model quality is validated before serving").label
    _open(at, v1, "infra-4")
    assert any("explore check` covered it in 1 run(s) on 1 day(s)" in m.value for m in at.markdown)
    assert any("Only one day of runs" in m.value for m in at.markdown)
    assert any("Automated runs" in s.value for s in at.subheader)
    _confirm(at, v1, "infra-4", "automated")
    assert any(m.value.startswith("### Infrastructure — 1 / 7") for m in at.markdown)

    # The next review starts from this one: carried over, counted once re-confirmed.
    _start_review(at, name="v2 review", parent=v1)
    with Store(db_url) as store:
        v2 = store.get_review_by_name("v2 review")["id"]
    assert any("carried over from “v1 review” await re-confirmation" in i for i in texts(at.info))
    assert any(m.value.startswith("### Infrastructure — 0 / 7") for m in at.markdown)
    _open(at, v2, "infra-4")
    at.button(key=f"rubric_{v2}_infra-4_reconfirm").click().run()
    assert_no_exception(at)
    assert any(m.value.startswith("### Infrastructure — 1 / 7") for m in at.markdown)
    with Store(db_url) as store:
        assert ml_test_score.load_review(store, v2).entries["infra-4"].author == "alice"
    history = next(f for f in _chart_frames(at) if "final" in f.columns and "review" in f.columns)
    assert list(history["review"]) == ["v1 review", "v2 review"] and list(history["final"]) == [0.0, 0.0]


def test_a_name_is_required_and_conflicts_are_refused(make_app, db_url):
    at = make_app(PAGE)
    _start_review(at, name="meeting")
    with Store(db_url) as store:
        rid = store.get_review_by_name("meeting")["id"]
    # The same name again: the store refuses it and the page says so, with the fix.
    _start_review(at, name="meeting")
    assert any("already exists" in e and "Choose another name" in e for e in texts(at.error))
    at.text_input(key="rubric_confirmer").set_value("").run()
    _open(at, rid, "data-2")
    at.button(key=f"FormSubmitter:rubric_{rid}_data-2_form-Confirm").click().run()
    assert any("Enter your name" in e for e in texts(at.error))
    at.text_input(key="rubric_confirmer").set_value("bob").run()
    # Someone else confirms data-2 while bob's page still shows it untouched.
    with Store(db_url) as store:
        ml_test_score.confirm_test(store, rid, "data-2", status="automated", author="carol")
    at.radio(key=f"rubric_{rid}_data-2_status").set_value("manual")
    at.button(key=f"FormSubmitter:rubric_{rid}_data-2_form-Confirm").click().run()
    assert_no_exception(at)
    assert any("changed by carol" in e and "your change was not saved" in e for e in texts(at.error))
    with Store(db_url) as store:
        assert ml_test_score.load_review(store, rid).entries["data-2"].status == "automated"
        assert len(ml_test_score.audit_trail(store, rid)) == 1


def test_rubric_page_on_a_predictions_only_multiclass_workspace(make_app, tmp_path):
    df = frame(300, task="multiclass")
    df["pred"] = df["income"]
    path = make_workspace(
        tmp_path / "ws",
        task="multiclass",
        model=None,
        columns={"label": "income", "prediction": "pred"},
        datasets={"validation": df},
    )
    at = make_app(PAGE, workspace=path)
    _start_review(at, name="predictions only")
    assert_no_exception(at)
    _open(at, at.session_state["rubric_review_id"], "infra-1")
    assert any("predictions-only" in c.value for c in at.caption)


HOSTILE_NAME = '<iframe srcdoc="<script>parent.window.x=1;parent.alert(1)</script>"></iframe>'


def test_hostile_review_name_renders_as_plain_text_not_html(make_app, db_url):
    """Regression: the score header interpolated the review name into HTML (stored XSS)."""
    at = make_app(PAGE)
    _start_review(at, name=HOSTILE_NAME)
    assert _score(at) == "0"
    # No element on the page may render HTML, and the name shows (escaped) as text.
    shown = [*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.metric]
    for node in shown:
        assert not getattr(node.proto, "allow_html", False), node.value
    assert not at.get("html")
    assert any("iframe" in c.value and "\\<iframe" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]


def test_a_review_exported_here_imports_under_a_new_name_once_a_name_is_typed(make_app, db_url):
    at = make_app(PAGE)
    _start_review(at, name="launch review")
    with Store(db_url) as store:
        rid = store.get_review_by_name("launch review")["id"]
    _confirm(at, rid, "data-1", "manual", text="schema in the wiki")
    with Store(db_url) as store:
        exported = ml_test_score.review_to_json(ml_test_score.load_review(store, rid))

    # Without a name the import is refused (every change records who made it) and nothing is written.
    at.text_input(key="rubric_confirmer").set_value("").run()
    at.file_uploader(key="rubric_import_file").set_value(
        ("review.json", exported.encode(), "application/json")
    )
    at.text_input(key="rubric_import_name").set_value("launch review (copy)").run()
    at.button(key="rubric_import_go").click().run()
    assert_no_exception(at)
    assert any("Enter your name at the top first" in e for e in texts(at.error))
    with Store(db_url) as store:
        assert store.get_review_by_name("launch review (copy)") is None

    at.text_input(key="rubric_confirmer").set_value("dana").run()
    at.button(key="rubric_import_go").click().run()
    assert_no_exception(at)
    assert any("Imported “launch review (copy)” with 1 confirmed test(s)." in s for s in texts(at.success))
    with Store(db_url) as store:
        copy = store.get_review_by_name("launch review (copy)")
        assert ml_test_score.load_review(store, copy["id"]).entries["data-1"].author == "dana"
    # The page switched to the imported review.
    assert at.selectbox(key="rubric_review_id").value == copy["id"]
    assert any(c.value == "Review “launch review \\(copy\\)”" for c in at.caption)
    assert any(m.value.startswith("### Data — 0.5 / 7") for m in at.markdown)


def test_a_check_report_recorded_here_proposes_automated_once(
    make_app, db_url, tiny_workspace, tmp_path, monkeypatch
):
    # CI ran `explore check` without access to this store and kept the JSON report as an artifact.
    monkeypatch.delenv("EXPLORE_DB_URL")
    out = tmp_path / "ci"
    assert registry.main([str(tiny_workspace), "--checks", "compare", "--out", str(out)]) == 0
    monkeypatch.setenv("EXPLORE_DB_URL", db_url)
    report = (out / registry.REPORT_JSON).read_bytes()

    at = make_app(PAGE)
    _start_review(at, name="ci review")
    assert any("No `explore check` run is recorded" in c.value for c in at.caption)
    at.file_uploader(key="rubric_check_report").set_value(("check-report.json", report, "application/json"))
    at.run()
    at.button(key="rubric_check_import").click().run()
    assert_no_exception(at)
    assert any(s.startswith("Recorded check run #") for s in texts(at.success))
    assert "proposes automated" in _row(at, "Model quality is validated before serving").label
    assert any("1 run(s) of this workspace" in c.value for c in at.caption)

    at.button(key="rubric_check_import").click().run()  # the same report again: recorded once
    assert any("This report is already recorded" in s for s in texts(at.success))
    with Store(db_url) as store:
        assert len(store.list_check_runs()) == 1


def test_the_review_picker_lists_this_workspaces_reviews_and_imports_record_the_workspace(
    make_app, db_url, tiny_workspace, tmp_path
):
    """Known defect: the picker listed every review of every workspace, and Import recorded none. The picker
    now shows the open workspace's reviews and those that recorded no workspace (labelled so unless their model
    version names this workspace), "All workspaces" shows every review labelled with its workspace, and an
    import records the open one."""
    here = str(explore_open(tiny_workspace).config.path)
    name = explore_open(tiny_workspace).name
    other = str(tmp_path / "elsewhere" / "workspace.toml")
    with Store(db_url) as store:
        theirs = ml_test_score.start_review(store, "their review", "v9", author="bob", workspace=other)
        legacy = ml_test_score.start_review(store, "legacy review", f"{name} · model 1234", author="bob")
        orphan = ml_test_score.start_review(store, "orphan review", "unspecified", author="bob")
        ml_test_score.confirm_test(store, theirs, "data-1", status="manual", author="bob")
        exported = ml_test_score.review_to_json(ml_test_score.load_review(store, theirs))
    at = make_app(PAGE)
    assert_no_exception(at)
    picker = at.selectbox(key="rubric_review_id")
    assert picker.options == [  # not theirs
        "orphan review (unspecified) · no workspace recorded",
        f"legacy review ({name} · model 1234)",
    ]
    assert at.toggle(key="rubric_all_workspaces").value is False

    at.toggle(key="rubric_all_workspaces").set_value(True).run()
    assert_no_exception(at)
    assert at.selectbox(key="rubric_review_id").options == [
        "orphan review (unspecified) · no workspace recorded",
        f"legacy review ({name} · model 1234)",
        "their review (v9) · elsewhere",
    ]
    at.selectbox(key="rubric_review_id").set_value(theirs).run()
    assert_no_exception(at)
    assert any(m.value.startswith("### Data — 0.5 / 7") for m in at.markdown)  # another's review still opens

    # An import lands in this workspace and is picked with the workspace's reviews.
    at.toggle(key="rubric_all_workspaces").set_value(False).run()
    at.text_input(key="rubric_confirmer").set_value("dana")
    at.file_uploader(key="rubric_import_file").set_value(("r.json", exported.encode(), "application/json"))
    at.text_input(key="rubric_import_name").set_value("their review, here").run()
    at.button(key="rubric_import_go").click().run()
    assert_no_exception(at)
    with Store(db_url) as store:
        copy = store.get_review_by_name("their review, here")
        assert {r["id"] for r in store.list_reviews()} == {theirs, legacy, orphan, copy["id"]}  # none lost
    assert copy["workspace"] == here and copy["author"] == "dana"
    assert at.toggle(key="rubric_all_workspaces").value is False
    assert at.selectbox(key="rubric_review_id").value == copy["id"]
    assert len(at.selectbox(key="rubric_review_id").options) == 3


def test_a_workspace_without_reviews_says_where_the_others_are(make_app, db_url, tmp_path):
    with Store(db_url) as store:
        ml_test_score.start_review(
            store, "their review", "v9", workspace=str(tmp_path / "w" / "workspace.toml")
        )
    at = make_app(PAGE)
    assert_no_exception(at)
    assert not at.get("selectbox") or "rubric_review_id" not in [s.key for s in at.selectbox]
    assert any(
        "No review of this workspace yet; 1 review(s) of other workspaces" in c.value for c in at.caption
    )
    assert any("No review of this workspace yet" in i for i in texts(at.info))
    at.toggle(key="rubric_all_workspaces").set_value(True).run()
    assert at.selectbox(key="rubric_review_id").options == ["their review (v9) · w"]
