"""The one-call notebook API: the page's numbers, dates where users think in dates, results that draw
themselves, bad input said as an ExploreError, and decisions recorded to the app's store."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.svm import LinearSVC

import explore
from explore import errors
from explore.staleness import layout


@pytest.fixture(scope="module")
def ws(tiny_workspace: Path) -> explore.Workspace:
    return explore.open(tiny_workspace)


def test_slice_report_matches_sklearn_on_the_slice(ws):
    result = explore.slice_report(ws, where={"region": "North"})
    sc = explore.scored(ws)
    in_slice = sc.frame["region"].to_numpy() == "North"
    table = result.to_frame().set_index("metric")
    assert table.loc["accuracy", "slice"] == pytest.approx(accuracy_score(sc.y[in_slice], sc.pred[in_slice]))
    assert table.loc["accuracy", "slice_support"] == in_slice.sum()
    assert table.loc["ROC AUC", "rest"] == pytest.approx(roc_auc_score(sc.y[~in_slice], sc.score[~in_slice]))
    assert isinstance(result.chart(), alt.TopLevelMixin)
    assert result.n_slice == in_slice.sum()  # the domain result's fields read through


def test_group_by_and_ranges(ws):
    grouped = explore.group_by(ws, "region").to_frame()
    assert set(grouped["region"]) == set(explore.scored(ws).frame["region"])
    north = grouped[(grouped["region"] == "North") & (grouped["metric"] == "accuracy")]
    assert int(north["support"].iloc[0]) == explore.slice_report(ws, where={"region": "North"}).n_slice
    in_range = explore.slice_report(ws, where={"tenure_months": (0, 12)})
    sc = explore.scored(ws)
    assert in_range.n_slice == int(
        ((sc.frame["tenure_months"] >= 0) & (sc.frame["tenure_months"] < 12)).sum()
    )


def test_performance_over_time_months_match_sklearn(ws):
    result = explore.performance_over_time(ws, window="MS", datasets="validation")
    table = result.to_frame()
    sc = explore.scored(ws, "validation")
    month = sc.time.dt.to_period("M").astype(str).to_numpy()
    first = table[(table["metric"] == "accuracy")].iloc[0]
    rows = month == first["label"]
    assert first["support"] == rows.sum()
    assert first["value"] == pytest.approx(accuracy_score(sc.y[rows], sc.pred[rows]))
    assert "Performance over time" in repr(result)


def test_staleness_cutoffs_as_dates_are_the_window_indices(ws):
    by_date = explore.staleness_experiment(
        ws, cutoffs=["2023-07", "2023-09", "2023-11-15"], window="month", train_span=3
    )
    by_index = explore.staleness_experiment(ws, cutoffs=[6, 8, 10], window="month", train_span=3)
    assert by_date.params.cutoffs == by_index.params.cutoffs == (6, 8, 10)
    pd.testing.assert_frame_equal(by_date.to_frame(), by_index.to_frame())
    assert list(by_date.to_frame()["cutoff_label"]) == ["2023-07", "2023-09", "2023-11"]
    assert isinstance(by_date.chart(), alt.TopLevelMixin)


def test_staleness_dates_outside_the_data(ws):
    with pytest.raises(errors.AnalysisError) as caught:
        explore.staleness_experiment(ws, cutoffs=["1997-03"], window="month", train_span=3)
    message = str(caught.value)
    assert "'1997-03' is outside the data's windows" in message and "2023-04 .. " in message
    with pytest.raises(errors.AnalysisError, match="must be a date"):
        explore.staleness_experiment(ws, cutoffs=["soon"], train_span=3)


@pytest.mark.parametrize(
    ("window", "by"), [("week", "week"), ("W", "week"), ("MS", "month"), ("QS", "quarter")]
)
def test_windows_as_users_write_them(ws, window, by):
    assert layout.window_spec(ws, window=window).by == by


def test_windows_by_rows_and_bad_windows(ws):
    assert layout.window_spec(ws, rows=6).by == "rows"
    with pytest.raises(errors.AnalysisError, match="received '2W'"):
        explore.performance_over_time(ws, window="2W")
    with pytest.raises(errors.WorkspaceError, match="no dataset named 'prod'"):
        explore.drift(ws, datasets=["prod"])


def test_wrong_column_names_say_the_columns(ws):
    with pytest.raises(errors.ColumnError) as caught:
        explore.slice_report(ws, where={"regoin": "North"})
    assert "'regoin', which dataset 'validation' does not have" in str(caught.value)
    assert "region" in str(caught.value)
    with pytest.raises(errors.ColumnError, match="by names the column 'plann'"):
        explore.group_by(ws, ["plann"])
    with pytest.raises(errors.ColumnError, match="feature names the column"):
        explore.partial_dependence(ws, "tenure")
    with pytest.raises(errors.AnalysisError, match="No row"):
        explore.slice_report(ws, where={"region": "Atlantis"})


def test_model_without_predict_proba(tiny_workspace):
    base = explore.open(tiny_workspace)
    df = base.dataset("validation")
    feats = ["tenure_months", "monthly_charges"]
    svc = LinearSVC().fit(df[feats], df["churned"])
    ws = explore.Workspace.from_frames(
        model=svc,
        datasets={"validation": df[[*feats, "churned", "customer_id"]]},
        label="churned",
        id="customer_id",
        positive="yes",
        annotations=base.annotation_table(),
        annotation_columns={"item": "customer_id", "labeler": "annotator", "label": "label"},
    )
    with pytest.raises(errors.ModelError) as caught:
        explore.label_queue(ws)
    assert "has no predict_proba" in str(caught.value) and "LinearSVC" in str(caught.value)
    # analyses that need no probabilities still run, and say what is unavailable
    assert "ROC AUC" not in explore.scored(ws).unavailable  # ranked by its decision_function
    assert explore.slice_report(ws).to_frame()["metric"].tolist()


def test_result_html_escapes_user_text(ws):
    result = explore.slice_report(ws, where={"region": ["North", "<script>alert(1)</script>"]})
    page = result._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.startswith("<div><strong>Slice report")


def test_table_only_results_say_so(ws):
    result = explore.counterfactual(ws, position=0)
    with pytest.raises(errors.AnalysisError, match="has no chart"):
        result.chart()
    assert isinstance(result.to_frame(), pd.DataFrame)


def test_charts_stay_aggregated(ws):
    spec = explore.partial_dependence(ws, "tenure_months").chart().to_dict()
    values = [v for d in spec.get("datasets", {}).values() for v in d]
    assert 0 < len(values) <= 5_000


def test_labels_match_the_page_functions(ws):
    from explore.labels import crowd

    ann = crowd.workspace_annotations(ws)
    assert explore.agreement(ws).alpha == pytest.approx(crowd.agreement(ann).alpha)
    cons = explore.consensus(ws).to_frame()
    assert len(cons) == ann.n_items and cons["confidence"].between(0, 1).all()
    assert len(explore.labeler_trust(ws).to_frame()) == ann.n_labelers
    queue = explore.label_queue(ws).to_frame()
    assert len(queue) == ann.n_items


def test_spot_check_verdicts_reach_the_store(ws, db_url):
    session = explore.start_spot_check(ws, name="notebook check", reviewer="ada", size=5)
    items = explore.spot_check_items(session)
    key, label = str(items.iloc[0]["key"]), items.iloc[0]["label"]
    other = "no" if label == "yes" else "yes"
    explore.record_verdict(session, key, "wrong", reviewer="ada", corrected_label=other, note="typo")
    from explore.core.store import Store
    from explore.labels.review import load_session

    again = load_session(Store(db_url), session)
    assert again.verdict_of(key)["verdict"] == "wrong"
    assert explore.spot_check_items(session).set_index("key").loc[key, "corrected_label"] == other
    summary = explore.spot_check_summary(session)
    assert summary.n_wrong == 1 and summary.n_reviewed == 1


def test_rubric_confirmations_reach_the_store(ws, db_url):
    review = explore.start_review("notebook review", model_version="v1")
    explore.confirm(review, "data-1", status="manual", author="ada", evidence="schema checked in CI")
    board = explore.rubric_review(ws, review)
    table = board.to_frame().set_index("test")
    assert table.loc["data-1", "status"] == "manual"
    assert len(table) == 28
    assert isinstance(board.chart(), alt.TopLevelMixin)


def test_checks_by_name(ws):
    result = explore.run_checks(ws, ["weak_slices"])
    assert result.to_frame()["check"].tolist() == ["weak_slices"]
    with pytest.raises(errors.AnalysisError, match="Unknown checks: 'nope'"):
        explore.run_checks(ws, ["nope"])


def test_shap_global_row_and_slice(ws):
    glob = explore.explain(ws, sample_size=60)
    table = glob.to_frame()
    assert len(table) == len(ws.feature_names)
    row = explore.explain_row(ws, position=2)
    assert isinstance(row.chart(), alt.TopLevelMixin)
    sl = explore.explain_slice(ws, {"region": "North"}, sample_size=60)
    assert len(sl.to_frame())


def test_what_if_ice_and_drift(ws):
    edit = explore.what_if(ws, {"tenure_months": 1}, position=0)
    assert edit.to_frame()["column"].tolist() == ["tenure_months"]
    ice = explore.ice(ws, "tenure_months", position=0)
    assert len(ice.to_frame())
    drift = explore.drift(ws, window="quarter")
    assert set(drift.to_frame()["feature"]) <= set(ws.feature_names)
    assert np.isfinite(drift.to_frame()["psi"]).any()


def test_a_workspace_folder_that_cannot_be_written_still_works_with_one_note(tiny_copy):
    import warnings

    from explore.core.score_cache import CACHE_FOLDER

    # A file where the cache folder should be: it cannot be created (a read-only folder, as root too).
    (tiny_copy.parent / CACHE_FOLDER).write_text("in the way")
    ws = explore.open(tiny_copy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = explore.slice_report(ws, by="region")
        explore.scored(ws, "train")  # another dataset, the same folder: no second note
        explore.slice_report(ws, by="plan")
    notes = [str(w.message) for w in caught if "kept in memory only" in str(w.message)]
    assert len(notes) == 1 and str(tiny_copy.parent / CACHE_FOLDER) in notes[0]
    assert "writable" in notes[0] and len(report.to_frame()) > 0
    assert (tiny_copy.parent / CACHE_FOLDER).read_text() == "in the way"


def test_a_row_call_without_a_row_and_a_fairness_threshold_as_text_are_messages(tiny_workspace):
    ws = explore.open(tiny_workspace)
    for call in (
        lambda: explore.ice(ws, "age"),
        lambda: explore.explain_row(ws),
        lambda: explore.what_if(ws, {"age": 30}),
    ):
        with pytest.raises(
            explore.ExploreError, match=r"^Name the row: row_id=… .* or position=… \(0 to \d+"
        ):
            call()
    with pytest.raises(
        explore.ExploreError, match=r"fairness threshold must be a number ≥ 0; received '0.1'"
    ):
        explore.fairness(ws, "region", threshold="0.1")
    with pytest.raises(explore.ExploreError, match=r"fairness min_support must be a number ≥ 1; received 0"):
        explore.fairness(ws, "region", min_support=0)


# Nonsense arguments: each refused before any work, naming the function, the argument, what was received and the
# accepted range (an ExploreError a notebook shows as one line, never a TypeError from inside another function).
NONSENSE = [
    ("explain", lambda ws: explore.explain(ws, sample_size=0), "sample_size", 0, "at least 1"),
    ("explain", lambda ws: explore.explain(ws, sample_size=-10), "sample_size", -10, "at least 1"),
    ("explain", lambda ws: explore.explain(ws, seed=-1), "seed", -1, "at least 0"),
    (
        "explain_row",
        lambda ws: explore.explain_row(ws, position=0, max_features=0),
        "max_features",
        0,
        "at least 1",
    ),
    (
        "explain_slice",
        lambda ws: explore.explain_slice(ws, {"region": "north"}, sample_size=0),
        "sample_size",
        0,
        "at least 1",
    ),
    ("agreement", lambda ws: explore.agreement(ws, min_shared=-1), "min_shared", -1, "at least 1"),
    ("agreement", lambda ws: explore.agreement(ws, min_shared=0), "min_shared", 0, "at least 1"),
    ("agreement", lambda ws: explore.agreement(ws, min_shared=2.5), "min_shared", 2.5, "whole number"),
    (
        "fairness",
        lambda ws: explore.fairness(ws, "region", confidence=0),
        "confidence",
        0,
        "strictly between 0 and 1",
    ),
    (
        "slice_report",
        lambda ws: explore.slice_report(ws, confidence=1.5),
        "confidence",
        1.5,
        "strictly between 0 and 1",
    ),
    ("ice", lambda ws: explore.ice(ws, "tenure_months", position=0, n_points=1), "n_points", 1, "at least 2"),
    (
        "partial_dependence",
        lambda ws: explore.partial_dependence(ws, "tenure_months", n_rows=0),
        "n_rows",
        0,
        "at least 1",
    ),
    (
        "partial_dependence",
        lambda ws: explore.partial_dependence(ws, "tenure_months", n_points=-1),
        "n_points",
        -1,
        "at least 2",
    ),
    (
        "staleness_experiment",
        lambda ws: explore.staleness_experiment(ws, train_span=0),
        "train_span",
        0,
        "at least 1",
    ),
    (
        "staleness_experiment",
        lambda ws: explore.staleness_experiment(ws, horizon=0),
        "horizon",
        0,
        "at least 1",
    ),
    (
        "staleness_experiment",
        lambda ws: explore.staleness_experiment(ws, max_fit_rows=0),
        "max_fit_rows",
        0,
        "at least 1",
    ),
    (
        "staleness_experiment",
        lambda ws: explore.staleness_experiment(ws, threshold=-0.1),
        "threshold",
        -0.1,
        "positive number",
    ),
    (
        "start_spot_check",
        lambda ws: explore.start_spot_check(ws, name="s", reviewer="r", size=0),
        "size",
        0,
        "at least 1",
    ),
]


@pytest.mark.parametrize(("function", "call", "argument", "received", "accepted"), NONSENSE)
def test_nonsense_arguments_are_refused_with_the_argument_named(
    ws, function, call, argument, received, accepted
):
    with pytest.raises(errors.ExploreError) as caught:
        call(ws)
    message = str(caught.value)
    assert message.startswith(f"{function}(): {argument} must be ") and f"received {received!r}" in message
    assert accepted in message
    assert caught.value.fields == {"argument": argument, "received": received}


def test_group_by_names_itself_and_its_options_for_an_unknown_keyword(ws):
    with pytest.raises(errors.ExploreError) as caught:
        explore.group_by(ws, "region", bogus=1)
    message = str(caught.value)
    assert message.startswith("group_by() has no option 'bogus'.") and "slice_report" not in message
    assert "where, dataset, model, metrics, bins, confidence" in message
    assert len(explore.group_by(ws, "region", bins=3).to_frame()) > 0  # known options still pass through


def test_a_counterfactual_asked_for_by_id_is_titled_by_that_id(ws):
    """Found by the QA round: counterfactual(ws, row_id=3000) was titled "row position 500", what_if by the id."""
    sc = explore.scored(ws)
    rid = sc.ids[7]
    assert explore.counterfactual(ws, row_id=rid).title == f"Nearest counterfactual of row {rid}"
    assert explore.counterfactual(ws, position=7).title == "Nearest counterfactual of row position 7"
