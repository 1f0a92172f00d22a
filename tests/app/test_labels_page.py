"""AppTest of views/labels.py: overview, a spot-check session run end to end (verdicts survive a rerun
and a new app session on the same database), uploads with column choices, and the messages."""

from __future__ import annotations

import json

import pandas as pd
from streamlit import dataframe_util

from tests.conftest import assert_no_exception, texts
from tests.helpers import make_workspace

PAGE = "views/labels.py"


def _view(at, name: str):
    at.segmented_control(key="labels_view").set_value(name).run()
    assert_no_exception(at)
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_overview_shows_agreement_heatmap_and_labeler_trust(make_app):
    at = make_app(PAGE)
    assert_no_exception(at)
    metrics = _metrics(at)
    assert metrics["Labelers"] == "4" and metrics["Items labeled"] == "300"
    assert 0 < float(metrics["Krippendorff's α"]) < 1 and 0 < float(metrics["Fleiss' κ"]) < 1
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    titles = [str(s.get("title", "")) for s in specs]
    assert any("Cohen's kappa" in t for t in titles) and any("Labeler trust" in t for t in titles)
    heatmap = next(
        c
        for c, s in zip(at.get("vega_lite_chart"), specs, strict=True)
        if "Cohen's kappa" in str(s.get("title"))
    )
    rows = dataframe_util.convert_arrow_bytes_to_pandas_df(heatmap.proto.datasets[0].data.data)
    assert len(rows) == 16 and set(rows["labeler_a"]) == {"ana", "ben", "cam", "dee"}  # 4 x 4 labelers
    # The careless labeler is flagged.
    assert any("cam" in w for w in texts(at.warning))
    trust = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert trust.set_index("labeler").loc["cam", "flagged"]


def test_spot_check_session_survives_a_rerun_and_a_new_app_session(make_app):
    at = _view(make_app(PAGE), "Queue")
    queue = at.dataframe[0].value
    assert queue["score"].is_monotonic_decreasing and len(queue) == 300
    at.text_input(key="labels_reviewer_queue").input("Ana").run()
    # Form widgets are submitted together with the form's button.
    at.text_input(key="labels_new_name").input("week 3 check")
    at.number_input(key="labels_new_size").set_value(10)
    next(b for b in at.button if b.label == "Start session").click().run()
    assert_no_exception(at)
    assert at.segmented_control(key="labels_view").value == "Review"
    first = _metrics(at)["Label under review"]
    assert first in ("yes", "no")

    at.button(key="labels_v_correct").click().run()
    at.text_input(key=next(k for k in _keys(at) if k.startswith("labels_note_"))).input(
        "second opinion"
    ).run()
    at.button(key="labels_v_wrong").click().run()
    at.button(key="labels_v_unsure").click().run()
    assert_no_exception(at)
    assert any("Item 4 of 10" in m.value for m in at.markdown)
    at.run()  # a plain rerun loses nothing
    assert any("Item 4 of 10" in m.value for m in at.markdown)

    # Leave, and come back in a new app session on the same database: resume at the first item left.
    again = _view(make_app(PAGE), "Review")
    assert any("Item 4 of 10" in m.value for m in again.markdown)
    assert "3 of 10 reviewed" in again.get("progress")[0].proto.text
    again = _view(again, "Summary")
    metrics = _metrics(again)
    assert metrics["Reviewed"] == "3 / 10" and metrics["Wrong"] == "1" and metrics["Unsure"] == "1"
    assert "Queue precision" in metrics and "Estimated label error rate" not in metrics
    reviewed = next(d.value for d in again.dataframe if "verdict" in d.value.columns)
    assert reviewed["verdict"].tolist() == ["correct", "wrong", "unsure"]
    assert reviewed.loc[1, "note"] == "second opinion" and (reviewed["reviewer"] == "Ana").all()
    assert {b.label for b in again.get("download_button")} >= {
        "Corrected labels (CSV)",
        "Summary for the team (Markdown)",
    }


def test_cross_validated_probabilities_run_behind_a_button_and_are_kept(make_app):
    at = _view(make_app(PAGE), "Queue")
    choice = next(
        o
        for o in at.selectbox(key="labels_prob_source").options
        if o.startswith("Cross-validated clones of 'current'")
    )
    at.selectbox(key="labels_prob_source").set_value(choice).run()
    assert not at.dataframe and any("Cross-validation refits 5 copies" in i for i in texts(at.info))
    at.button(key="labels_cv_run").click().run()
    assert_no_exception(at)
    assert len(at.dataframe[0].value) == 300
    assert any("cross-validated clones of model 'current'" in c.value for c in at.caption)
    # Kept in the store: a new app session on the same database needs no second run.
    again = _view(make_app(PAGE), "Queue")
    again.selectbox(key="labels_prob_source").set_value(choice).run()
    assert_no_exception(again)
    assert again.dataframe and not any("Cross-validation refits" in i for i in texts(again.info))


def _keys(at) -> list[str]:
    return [w.key for w in at.text_input if w.key]


def test_random_session_summary_reports_an_error_rate(make_app):
    at = _view(make_app(PAGE), "Queue")
    at.text_input(key="labels_reviewer_queue").input("Ben").run()
    at.radio(key="labels_new_mode").set_value("random")
    at.number_input(key="labels_new_size").set_value(6)
    next(b for b in at.button if b.label == "Start session").click().run()
    for _ in range(6):
        at.button(key="labels_v_correct").click().run()
    assert_no_exception(at)
    assert any("Every item of this session has a verdict" in s for s in texts(at.success))
    at = _view(at, "Summary")
    metrics = _metrics(at)
    assert metrics["Estimated label error rate"] == "0.0 %" and "Queue precision" not in metrics
    assert any("confidence interval: 0.0 %" in c.value for c in at.caption)


def test_uploaded_annotation_file_with_own_column_names(make_app, tiny_workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    ids = pd.read_csv(tiny_workspace.parent / "validation.csv")["customer_id"].head(40)
    upload = pd.DataFrame(
        {
            "rater": ["x", "y"] * 40,
            "row": list(ids.repeat(2)),
            "answer": ["yes", "no", "no", "no"] * 20,
        }
    )
    at = make_app(PAGE)
    at.radio(key="labels_source").set_value("upload").run()
    at.file_uploader[0].set_value(("mine.csv", upload.to_csv(index=False).encode(), "text/csv")).run()
    assert_no_exception(at)
    at.selectbox(key="labels_up_item").set_value("row").run()
    at.selectbox(key="labels_up_labeler").set_value("rater").run()
    at.selectbox(key="labels_up_label").set_value("answer").run()
    assert_no_exception(at)
    metrics = _metrics(at)
    assert metrics["Items labeled"] == "40" and metrics["Labelers"] == "2"
    # One labeler only: a message, and the queue still works (model vs label).
    at.selectbox(key="labels_up_labeler").set_value("answer").run()
    assert any("must be different" in e for e in texts(at.error))
    one = upload.assign(rater="solo").drop_duplicates(["row"])
    at.file_uploader[0].set_value(("solo.csv", one.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="labels_up_labeler").set_value("rater").run()
    assert_no_exception(at)
    assert any("one labeler ('solo')" in w for w in texts(at.warning))
    assert any("at least two labelers" in i for i in texts(at.info))
    at = _view(at, "Queue")
    assert len(at.dataframe[0].value) == 40
    # Ids that are not in the dataset: what was received and the fix.
    bad = upload.assign(row="nope-" + upload["row"].astype(str))
    at.file_uploader[0].set_value(("bad.csv", bad.to_csv(index=False).encode(), "text/csv")).run()
    assert any("None of the 40 item ids" in e and "'nope-" in e for e in texts(at.error))


def test_workspace_without_annotations_and_regression_workspace(make_app, tiny_copy, tmp_path):
    text = tiny_copy.read_text()
    tiny_copy.write_text(text[: text.index("[annotations]")])
    at = make_app(PAGE, workspace=tiny_copy)
    assert_no_exception(at)
    assert at.radio(key="labels_source").options == ["Upload a file"]
    assert any("Upload a file with one row per label" in i for i in texts(at.info))

    regression = make_workspace(tmp_path / "reg", task="regression")
    at = make_app(PAGE, workspace=regression)
    assert_no_exception(at)
    assert any("need categorical labels" in i for i in texts(at.info))


def _start_session(at, *, name: str = "week 3 check", size: int = 5, reviewer: str = "Ana"):
    at = _view(at, "Queue")
    at.text_input(key="labels_reviewer_queue").input(reviewer).run()
    at.text_input(key="labels_new_name").input(name)
    at.number_input(key="labels_new_size").set_value(size)
    next(b for b in at.button if b.label == "Start session").click().run()
    assert_no_exception(at)
    return at


def _item_header(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("#### Item "))


def test_confusion_between_two_labelers_is_drawn_for_two_different_ones(make_app):
    at = make_app(PAGE)
    at.selectbox(key="labels_pair_a").set_value("ben").run()
    at.selectbox(key="labels_pair_b").set_value("dee").run()
    assert_no_exception(at)
    titles = [str(json.loads(c.proto.spec).get("title", "")) for c in at.get("vega_lite_chart")]
    assert any("ben (rows) vs dee (columns)" in t for t in titles)
    at.selectbox(key="labels_pair_b").set_value("ben").run()
    assert any(c.value == "Pick two different labelers." for c in at.caption)


def test_overview_names_the_consensus_method_its_confidence_and_trust_intervals(make_app):
    at = make_app(PAGE)
    assert_no_exception(at)
    assert any(
        "Consensus by regularised Dawid–Skene" in c.value and "at 90 % or more" in c.value for c in at.caption
    )
    trust = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert (
        (trust["accuracy_low"] <= trust["accuracy"]) & (trust["accuracy"] <= trust["accuracy_high"])
    ).all()
    at.radio(key="labels_consensus_method").set_value("dawid_skene").run()
    assert_no_exception(at)
    assert any("Consensus by Dawid–Skene" in c.value for c in at.caption)


def test_queue_says_which_method_made_the_consensus(make_app):
    at = _view(make_app(PAGE), "Queue")
    assert any("Consensus: " in c.value and "Dawid–Skene" in c.value for c in at.caption)


def test_queue_filters_narrow_the_rows_and_a_session_starts_on_them(make_app):
    at = _view(make_app(PAGE), "Queue")
    at.multiselect(key="labels_filter_class").select("yes").run()
    assert_no_exception(at)
    queue = at.dataframe[0].value
    assert set(queue["label"]) == {"yes"} and 0 < len(queue) < 300
    assert any(f"{len(queue):,} of 300 items after filters" in c.value for c in at.caption)
    at = _start_session(at, size=3)
    assert _metrics(at)["Label under review"] == "yes"
    assert any("Session 'week 3 check' started: 3 items to review." in s for s in texts(at.success))


def test_a_session_without_a_name_is_refused_with_the_fix(make_app):
    at = _start_session(make_app(PAGE), name="   ")
    assert any("Give the session a name" in e for e in texts(at.error))
    assert at.segmented_control(key="labels_view").value == "Queue"


def test_reviewers_move_between_items_and_pause_resume_and_finish_a_session(make_app):
    at = _start_session(make_app(PAGE), size=4)
    assert "Item 1 of 4" in _item_header(at) and at.button(key="labels_prev").disabled
    at.button(key="labels_skip").click().run()
    assert "Item 2 of 4" in _item_header(at)
    at.button(key="labels_prev").click().run()
    assert "Item 1 of 4" in _item_header(at)

    at.button(key="labels_pause").click().run()
    assert "status paused" in at.get("progress")[0].proto.text
    at.button(key="labels_resume").click().run()
    assert "status open" in at.get("progress")[0].proto.text
    at.button(key="labels_pause").click().run()
    # A verdict on a paused session reopens it, is saved at once and moves on to the next item.
    at.button(key="labels_v_correct").click().run()
    assert_no_exception(at)
    assert (
        "1 of 4 reviewed" in at.get("progress")[0].proto.text
        and "status open" in at.get("progress")[0].proto.text
    )
    assert any(s.startswith("Saved: correct on ") for s in texts(at.toast))
    assert "Item 2 of 4" in _item_header(at)
    at.button(key="labels_finish").click().run()
    assert "status done" in at.get("progress")[0].proto.text
    assert not [b for b in at.button if b.key == "labels_finish"]


def test_the_item_under_review_is_the_datapoint_in_focus_on_every_page(make_app, tiny_workspace):
    at = _start_session(make_app(PAGE), size=2)
    key = _item_header(at).split("`")[1]
    selected = at.session_state["selected_row"]
    validation = pd.read_csv(tiny_workspace.parent / "validation.csv")
    assert selected["dataset"] == "validation" and str(selected["id"]) == key
    # Positions count scored rows (every validation row has a label in the tiny sample).
    assert validation["customer_id"].astype(str).tolist().index(key) == selected["position"]
    features = next(d.value for d in at.dataframe if list(d.value.columns) == ["value"])
    assert features.loc["customer_id", "value"] == key


def test_annotations_of_training_data_start_from_cross_validated_clones(
    make_app, tiny_workspace, monkeypatch, tmp_path
):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    train_ids = pd.read_parquet(tiny_workspace.parent / "train.parquet")["customer_id"].head(30)
    upload = pd.DataFrame(
        {"annotator": ["x", "y"] * 30, "customer_id": list(train_ids.repeat(2)), "label": ["yes", "no"] * 30}
    )
    at = make_app(PAGE)
    at.radio(key="labels_source").set_value("upload").run()
    at.file_uploader[0].set_value(("train.csv", upload.to_csv(index=False).encode(), "text/csv")).run()
    at.selectbox(key="labels_up_dataset").set_value("train").run()
    assert_no_exception(at)
    at = _view(at, "Queue")
    assert at.selectbox(key="labels_prob_source").value == ("cv", "current")
    current = next(
        o for o in at.selectbox(key="labels_prob_source").options if o.startswith("Model version 'current'")
    )
    at.selectbox(key="labels_prob_source").set_value(current).run()
    assert any("probably trained on" in w for w in texts(at.warning))


def test_the_consensus_metric_fits_its_column_and_names_the_iterations_in_its_help(make_app):
    """ "157 iterations" was cut to "157 iterat…" in the narrow metric: the value is a word, the count in the help."""
    at = make_app(PAGE)
    assert_no_exception(at)
    consensus = next(m for m in at.metric if m.label == "Consensus")
    assert consensus.value in ("converged", "not converged") and len(consensus.value) <= 13
    assert "iterations" in consensus.proto.help and "after" in consensus.proto.help
