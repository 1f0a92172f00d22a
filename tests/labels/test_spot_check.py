"""explore/labels/spot_check.py: starting a session from the queue, giving verdicts (written at once, never
lost; the session reopened and marked done as it goes), where the reviewer is, and which row an item is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.core.store import Store
from explore.core.workspace import score
from explore.errors import AnalysisError
from explore.labels import crowd, review, spot_check
from explore.labels.model_view import ModelView
from tests.helpers import frame
from tests.labels import test_review
from tests.labels.test_crowd import annotations_for, simulate_labels, synthetic_workspace

labeled = test_review.labeled  # 400 annotated items with planted errors and their ranked queue


@pytest.fixture
def db(store_url):  # on SQLite and on a live PostgreSQL server
    return store_url


@pytest.fixture
def store(db):
    with Store(db) as s:
        yield s


SETTINGS = {"review": "dataset", "filters": {}}


def _start(store, labeled, *, mode="queue", size=5, seed=0, reviewer="Ana"):
    ws, ann, queue, _ = labeled
    return spot_check.start_session(
        store,
        ws,
        ann,
        queue.frame,
        SETTINGS,
        name="week 3",
        mode=mode,
        size=size,
        seed=seed,
        reviewer=reviewer,
    )


def test_queue_settings_record_how_the_queue_was_ranked_and_filtered(labeled):
    _, _, queue, _ = labeled
    view = ModelView("cv", "current", n_splits=5, max_rows=20_000)
    settings = spot_check.queue_settings(
        queue, review="consensus", view=view, classes=[">50K"], labelers=[], batches=["w1"]
    )
    assert settings == {
        "review": "consensus",
        "probability_source": queue.probability_source,
        "probability_method": "cv",
        "model": "current",
        "combine": queue.combine,
        "model_weight": queue.model_weight,
        "model_score": queue.model_score,
        "filters": {"class": [">50K"], "batch": ["w1"]},
    }


def test_a_queue_session_takes_the_top_of_the_queue_and_records_its_settings(store, labeled):
    ws, ann, queue, _ = labeled
    started = _start(store, labeled, size=5)
    session = review.load_session(store, started.id)
    assert started.n_items == 5 and session.items.keys == queue.frame["key"].head(5).tolist()
    assert session.status == "open" and session.reviewer == "Ana" and session.dataset == "validation"
    assert session.params == {
        **SETTINGS,
        "label_column": "income",
        "id_column": "row_id",
        "annotations": ann.source,
        "size": 5,
        "seed": None,
    }


def test_a_random_session_is_capped_by_the_queue_and_records_its_seed(store, labeled):
    _, _, queue, _ = labeled
    started = _start(store, labeled, mode="random", size=10_000, seed=7)
    session = review.load_session(store, started.id)
    assert started.n_items == len(queue.frame) and session.params["seed"] == 7
    assert session.params["size"] == 10_000


def test_a_session_without_a_reviewer_is_refused_and_not_stored(store, labeled):
    with pytest.raises(AnalysisError) as err:
        _start(store, labeled, reviewer=" ")
    assert err.value.message == review.NO_REVIEWER
    assert review.list_sessions(store).empty


def test_each_verdict_is_in_the_store_at_once_and_the_next_item_follows(db, store, labeled):
    sid = _start(store, labeled, size=4).id
    keys = review.load_session(store, sid).items.keys
    assert spot_check.give_verdict(store, sid, keys[0], "correct", position=0, reviewer="Ben") == 1
    with Store(db) as elsewhere:  # another app session on the same database sees it
        verdict = review.load_session(elsewhere, sid).verdict_of(keys[0])
    assert verdict["verdict"] == "correct" and verdict["author"] == "Ben"
    # Skipped items come round again: after the last position, the first without a verdict.
    assert spot_check.give_verdict(store, sid, keys[3], "unsure", position=3, note="blurry") == 1


def test_a_correction_is_kept_with_wrong_and_unsure_verdicts_only(store, labeled):
    sid = _start(store, labeled, size=3).id
    session = review.load_session(store, sid)
    keys, labels = session.items.keys, session.items.labels
    other = [next(c for c in session.items.categories if c != label) for label in labels]
    # The correction box always holds a value; a "correct" verdict leaves it out instead of failing.
    spot_check.give_verdict(store, sid, keys[0], "correct", position=0, corrected_label=other[0])
    spot_check.give_verdict(store, sid, keys[1], "wrong", position=1, corrected_label=other[1], note="why")
    spot_check.give_verdict(store, sid, keys[2], "unsure", position=2, corrected_label=other[2])
    session = review.load_session(store, sid)
    assert pd.isna(session.verdict_of(keys[0])["corrected_label"])
    assert session.verdict_of(keys[1])["corrected_label"] == other[1]
    assert session.verdict_of(keys[1])["note"] == "why"
    assert session.verdict_of(keys[2])["corrected_label"] == other[2]


def test_an_invalid_verdict_writes_nothing(store, labeled):
    sid = _start(store, labeled, size=3).id
    session = review.load_session(store, sid)
    with pytest.raises(AnalysisError):
        spot_check.give_verdict(
            store, sid, session.items.keys[0], "wrong", position=0, corrected_label=session.items.labels[0]
        )
    assert review.load_session(store, sid).n_reviewed == 0


def test_a_verdict_reopens_a_paused_session_and_the_last_one_marks_it_done(store, labeled):
    sid = _start(store, labeled, size=2).id
    keys = review.load_session(store, sid).items.keys
    review.set_status(store, sid, "paused")
    assert spot_check.give_verdict(store, sid, keys[0], "correct", position=0) == 1
    assert review.load_session(store, sid).status == "open"
    assert spot_check.give_verdict(store, sid, keys[1], "correct", position=1) is None
    assert review.load_session(store, sid).status == "done"
    # A second opinion on a finished session: it stays done, the new verdict replaces the old one.
    spot_check.give_verdict(store, sid, keys[0], "unsure", position=0)
    session = review.load_session(store, sid)
    assert session.status == "done" and session.verdict_of(keys[0])["verdict"] == "unsure"


def test_the_reviewer_resumes_where_they_were_else_at_the_first_item_left(store, labeled):
    sid = _start(store, labeled, size=3).id
    keys = review.load_session(store, sid).items.keys
    spot_check.give_verdict(store, sid, keys[0], "correct", position=0)
    session = review.load_session(store, sid)
    assert spot_check.review_position(session, 2) == 2
    assert spot_check.review_position(session, None) == 1
    assert spot_check.review_position(session, 3) == 1  # not a position of this session
    for i in (1, 2):
        spot_check.give_verdict(store, sid, keys[i], "correct", position=i)
    done = review.load_session(store, sid)
    assert spot_check.review_position(done, None) is None and spot_check.review_position(done, 0) == 0


def test_items_are_found_by_id_and_their_scored_position_skips_unlabeled_rows(tmp_path):
    validation = frame(60, seed=3)
    validation.loc[[0, 5, 6], "income"] = np.nan
    ws = synthetic_workspace(tmp_path, n=60, validation=validation)
    index = spot_check.item_index(ws, "validation")
    ids = validation["row_id"].to_numpy()
    assert spot_check.item_row(index, str(ids[7])) == 7 and spot_check.item_row(index, "nope") is None
    assert spot_check.scored_position(ws, "validation", 5) is None
    scored = score(ws, "validation", "current")
    for row in (1, 4, 7, 59):
        assert scored.ids[spot_check.scored_position(ws, "validation", row)] == ids[row]


def test_without_an_id_column_items_are_row_positions(tmp_path):
    ws = synthetic_workspace(tmp_path, n=10, columns={"label": "income"})
    assert list(spot_check.item_index(ws, "validation")) == [str(i) for i in range(10)]


def test_queue_rows_start_sessions_on_any_filtered_rows(store, tmp_path):
    ws = synthetic_workspace(tmp_path, n=60)
    truth = ws.dataset("validation")["income"].to_numpy()
    ann = annotations_for(ws, simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.8}))
    queue = crowd.rank_queue(ann, crowd.consensus(ann), None)
    rows = crowd.filter_queue(queue, ann, classes=[str(ws.classes[0])])
    started = spot_check.start_session(
        store, ws, ann, rows, SETTINGS, name="n", mode="queue", size=50, seed=0, reviewer="Ana"
    )
    session = review.load_session(store, started.id)
    assert started.n_items == min(50, len(rows)) and set(session.items.labels) == {str(ws.classes[0])}
    assert pd.Index(session.items.keys).isin(rows["key"]).all()
