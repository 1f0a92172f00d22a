"""explore/labels/review.py: planning sessions, verdicts in the store (persistence, resume, concurrency), the
statistics of the summary (checked against statsmodels and by simulation) and the exports."""

from __future__ import annotations

import io
import threading
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from explore.core.store import Store
from explore.errors import AnalysisError
from explore.labels import charts, crowd, review
from tests.labels.test_crowd import annotations_for, simulate_labels, synthetic_workspace


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    """A workspace with 400 annotated items (3 labelers), 30 planted errors in the dataset label, and
    the ranked queue; plus the true label of every item."""
    tmp = tmp_path_factory.mktemp("review")
    rng = np.random.default_rng(0)
    from tests.helpers import frame

    validation = frame(400, seed=9)
    truth = validation["income"].to_numpy().copy()
    flip = rng.choice(400, size=30, replace=False)
    validation.loc[flip, "income"] = np.where(truth[flip] == ">50K", "<=50K", ">50K")
    ws = synthetic_workspace(tmp, validation=validation)
    long = simulate_labels(truth, list(ws.classes), {"ana": 0.95, "ben": 0.85, "cam": 0.65}, seed=4)
    ann = annotations_for(ws, long)
    queue = crowd.rank_queue(ann, crowd.consensus(ann), crowd.model_probabilities(ws, ann, model="current"))
    true_of = dict(zip(validation["row_id"].astype(str), truth, strict=True))
    return ws, ann, queue, true_of


@pytest.fixture
def store(store_url):  # on SQLite and on a live PostgreSQL server
    with Store(store_url) as s:
        yield s


def _start(store, labeled, mode="random", n=80, seed=0):
    ws, ann, queue, _ = labeled
    items = (
        review.plan_top_k(queue.frame, ann, k=n)
        if mode == "queue"
        else review.plan_random_sample(queue.frame, ann, n=n, seed=seed)
    )
    return review.create_session(
        store,
        workspace="ws",
        dataset="validation",
        name=f"{mode} check",
        reviewer="Ana",
        mode=mode,
        items=items,
        params={"label_column": "income", "id_column": "row_id", "review": "dataset"},
    )


def _review_all(store, sid, true_of, upto=None):
    """Give the verdict a perfect reviewer would give on the first ``upto`` items."""
    s = review.load_session(store, sid)
    for key, label in list(zip(s.items.keys, s.items.labels, strict=True))[:upto]:
        if true_of[key] == label:
            review.record_verdict(store, s, key, "correct")
        else:
            review.record_verdict(store, s, key, "wrong", corrected_label=true_of[key], note="flipped")
    return review.load_session(store, sid)


# ---- planning -----------------------------------------------------------------------------------------


def test_allocate_is_proportional_with_a_floor_and_sums_to_n():
    assert review.allocate({"no": 900, "yes": 100}, 100) == {"no": 90, "yes": 10}
    assert review.allocate({"no": 990, "yes": 10}, 50) == {
        "no": 45,
        "yes": 5,
    }  # floor of 5 for the rare class
    assert review.allocate({"a": 3, "b": 1000}, 20) == {"a": 3, "b": 17}  # never more than N_h
    assert review.allocate({"a": 10, "b": 10, "c": 10}, 4) == {"a": 2, "b": 1, "c": 1}
    rng = np.random.default_rng(1)
    for _ in range(200):
        pop = {str(i): int(v) for i, v in enumerate(rng.integers(1, 500, size=rng.integers(1, 6)))}
        n = int(rng.integers(1, sum(pop.values()) + 1))
        alloc = review.allocate(pop, n)
        assert sum(alloc.values()) == n
        assert all(0 <= alloc[s] <= pop[s] for s in pop)


def test_random_sample_is_stratified_shuffled_and_reproducible(labeled):
    _, ann, queue, _ = labeled
    a = review.plan_random_sample(queue.frame, ann, n=60, seed=3)
    b = review.plan_random_sample(queue.frame, ann, n=60, seed=3)
    assert a == b
    assert len(set(a.keys)) == 60
    counts = queue.frame["label"].value_counts()
    assert a.population == {str(k): int(v) for k, v in counts.items()}
    expected = review.allocate(a.population, 60)
    assert pd.Series(a.strata).value_counts().to_dict() == expected
    assert a.strata != sorted(a.strata)  # interleaved, not one stratum after the other
    by_key = queue.frame.set_index("key")
    assert all(by_key.loc[k, "label"] == s for k, s in zip(a.keys, a.strata, strict=True))


def test_top_k_follows_the_queue_and_freezes_what_is_reviewed(labeled):
    _, ann, queue, _ = labeled
    items = review.plan_top_k(queue.frame, ann, k=10)
    assert items.keys == queue.frame["key"].head(10).tolist()
    assert items.rank == list(range(1, 11)) and items.strata is None
    assert set(items.answers[0]) <= {"ana", "ben", "cam"} and items.answers[0]
    with pytest.raises(AnalysisError, match="between 1 and 400"):
        review.plan_top_k(queue.frame, ann, k=0)
    with pytest.raises(AnalysisError, match="no items"):
        review.plan_top_k(queue.frame.head(0), ann, k=1)


# ---- verdicts ---------------------------------------------------------------------------------------------


def test_verdicts_persist_the_latest_wins_and_resume_skips_reviewed_items(labeled, store, tmp_path):
    sid = _start(store, labeled, mode="queue", n=12)
    s = review.load_session(store, sid)
    keys = s.items.keys
    review.record_verdict(store, s, keys[0], "correct")
    review.record_verdict(store, s, keys[1], "unsure", note="hard to tell")
    review.record_verdict(
        store,
        s,
        keys[3],
        "wrong",
        corrected_label=s.items.categories[0]
        if s.items.labels[3] != s.items.categories[0]
        else s.items.categories[1],
    )
    review.record_verdict(
        store,
        s,
        keys[0],
        "wrong",
        corrected_label=[c for c in s.items.categories if c != s.items.labels[0]][0],
    )
    # A fresh Store on the same file (a new process, a browser refresh) sees everything.
    with Store(store.url) as again:
        s2 = review.load_session(again, sid)
    assert s2.n_reviewed == 3
    assert s2.verdict_of(keys[0])["verdict"] == "wrong"  # the newest verdict on an item wins
    assert len(store.verdict_history(sid, keys[0])) == 2  # ... and the older one is kept
    assert s2.next_position() == 2
    assert s2.next_position(after=3) == 4
    assert s2.next_position(after=11) == 2  # wraps round to the first item left
    assert s2.verdict_of(keys[1])["note"] == "hard to tell"


def test_bad_verdicts_are_refused_with_the_fix(labeled, store):
    sid = _start(store, labeled, mode="queue", n=5)
    s = review.load_session(store, sid)
    key, label = s.items.keys[0], s.items.labels[0]
    with pytest.raises(AnalysisError) as err:
        review.record_verdict(store, s, key, "wrong")
    assert err.value.message.startswith(
        f"A 'label wrong' verdict needs the correct label, different from the current label {label!r}"
    )
    with pytest.raises(AnalysisError, match="needs the correct label"):
        review.record_verdict(store, s, key, "wrong", corrected_label=label)
    with pytest.raises(AnalysisError, match="must be one of correct, wrong, unsure"):
        review.record_verdict(store, s, key, "maybe")
    with pytest.raises(AnalysisError, match="not part of session"):
        review.record_verdict(store, s, "no-such-item", "correct")
    with pytest.raises(AnalysisError, match="There is no review session with id 999"):
        review.load_session(store, 999)
    assert review.load_session(store, sid).n_reviewed == 0


def test_concurrent_reviewers_lose_no_verdict(labeled, store_url):
    url = store_url
    with Store(url) as st:
        sids = [_start(st, labeled, mode="queue", n=40), _start(st, labeled, mode="random", n=40, seed=1)]
    errors: list[BaseException] = []

    def reviewer(t: int) -> None:
        try:
            with Store(url) as own:  # each reviewer has their own connection pool, like separate app sessions
                for sid in sids:
                    s = review.load_session(own, sid)
                    for key in s.items.keys[t::4]:
                        review.record_verdict(own, s, key, "unsure", note=f"reviewer {t}")
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store(url) as st:
        for sid in sids:
            s = review.load_session(st, sid)
            assert s.n_reviewed == 40 and s.complete
            assert sorted(s.verdicts["note"].unique()) == [f"reviewer {t}" for t in range(4)]


def test_list_sessions_shows_reviewer_date_and_progress(labeled, store):
    _, _, _, true_of = labeled
    a = _start(store, labeled, mode="queue", n=10)
    b = _start(store, labeled, mode="random", n=20)
    _review_all(store, b, true_of, upto=7)
    review.set_status(store, a, "paused")
    listed = review.list_sessions(store, "ws").set_index("id")
    assert listed.loc[b, "reviewed"] == 7 and listed.loc[b, "items"] == 20
    assert listed.loc[a, "reviewed"] == 0 and listed.loc[a, "status"] == "paused"
    assert listed.loc[a, "reviewer"] == "Ana" and listed.loc[a, "created_at"].tzinfo is not None
    assert listed.index.tolist() == [b, a]  # newest first
    assert review.list_sessions(store, "other").empty


# ---- statistics -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 20), (3, 20), (20, 20), (7, 150), (1, 1)])
def test_wilson_interval_equals_statsmodels(k, n):
    rate = review.proportion(k, n)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert rate.value == pytest.approx(k / n)
    assert (rate.ci_low, rate.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))


def test_stratified_rate_weights_strata_and_reduces_to_wilson():
    rate = review.stratified_rate([2, 6], [40, 20], [900, 100])
    assert rate.value == pytest.approx(0.9 * 2 / 40 + 0.1 * 6 / 20)
    assert rate.ci_low < rate.value < rate.ci_high
    # One stratum from a huge population: the plain Wilson interval.
    one = review.stratified_rate([5], [50], [10**12])
    lo, hi = proportion_confint(5, 50, method="wilson")
    assert (one.ci_low, one.ci_high) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))
    # Everything reviewed: no sampling error left.
    census = review.stratified_rate([3, 1], [30, 10], [30, 10])
    assert census.ci_low == census.ci_high == census.value == pytest.approx(0.1)
    # No error seen: the interval still has an upper bound above zero.
    zero = review.stratified_rate([0, 0], [30, 10], [300, 100])
    assert zero.value == 0 and zero.ci_low == 0 and 0 < zero.ci_high < 0.15
    assert np.isnan(review.stratified_rate([0], [0], [10]).value)


def test_stratified_interval_covers_the_true_rate_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    population = np.array([4000, 1000])
    true_rates = np.array([0.03, 0.15])
    errors = [rng.random(n) < r for n, r in zip(population, true_rates, strict=True)]
    truth = sum(e.sum() for e in errors) / population.sum()
    sizes = review.allocate({"a": 4000, "b": 1000}, 150)
    hits = 0
    reps = 400
    for _ in range(reps):
        wrong = [
            errors[h][rng.choice(population[h], size=s, replace=False)].sum()
            for h, s in enumerate(sizes.values())
        ]
        r = review.stratified_rate(wrong, list(sizes.values()), population)
        hits += r.ci_low <= truth <= r.ci_high
    assert 0.92 <= hits / reps <= 0.985


def test_random_session_summary_estimates_the_error_rate_with_stratum_weights(labeled, store):
    _, ann, queue, true_of = labeled
    sid = _start(store, labeled, mode="random", n=80, seed=2)
    s = _review_all(store, sid, true_of)
    summary = review.summarize(s)
    assert summary.precision is None and summary.n_reviewed == 80
    by_class = summary.by_class.set_index("class")
    labels = np.asarray(s.items.labels)
    wrong = np.asarray([true_of[k] != lab for k, lab in zip(s.items.keys, labels, strict=True)])
    expected = 0.0
    for cls, row in by_class.iterrows():
        in_h = labels == cls
        assert row["reviewed"] == in_h.sum() and row["wrong"] == wrong[in_h].sum()
        assert row["population"] == (queue.frame["label"] == cls).sum()
        expected += row["population"] / 400 * wrong[in_h].mean()
        lo, hi = proportion_confint(int(row["wrong"]), int(row["reviewed"]), method="wilson")
        assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)
    assert summary.error_rate.value == pytest.approx(expected)
    assert summary.error_rate.ci_low < expected < summary.error_rate.ci_high
    # Each labeler's error rate: their label against the verified label, weighted like the sample.
    weights = np.asarray([by_class.loc[lab, "population"] / by_class.loc[lab, "reviewed"] for lab in labels])
    for row in summary.by_labeler.itertuples(index=False):
        said = np.asarray([s.items.answers[i].get(row.labeler) for i in range(80)], dtype=object)
        has = np.asarray([v is not None for v in said])
        err = np.asarray([said[i] != true_of[s.items.keys[i]] for i in range(80)])[has]
        assert row.reviewed == has.sum() and row.wrong == err.sum()
        assert row.error_rate == pytest.approx(np.sum(weights[has] * err) / np.sum(weights[has]))
    rates = summary.by_labeler.set_index("labeler")["error_rate"]
    assert rates["ana"] < rates["cam"]
    assert summary.confusion.to_numpy().sum() == 80


def test_partial_random_session_says_which_strata_have_no_verdict(labeled, store):
    _, _, _, true_of = labeled
    sid = _start(store, labeled, mode="random", n=40, seed=5)
    s = review.load_session(store, sid)
    first_stratum = s.items.strata[0]
    for key, stratum, label in zip(s.items.keys, s.items.strata, s.items.labels, strict=True):
        if stratum == first_stratum:
            review.record_verdict(
                store,
                s,
                key,
                "correct" if true_of[key] == label else "wrong",
                corrected_label=None if true_of[key] == label else true_of[key],
            )
    summary = review.summarize(review.load_session(store, sid))
    assert any("No decided verdict yet in stratum" in note for note in summary.notes)
    assert summary.error_rate.n == s.items.strata.count(first_stratum)


def test_queue_session_reports_precision_never_an_error_rate(labeled, store):
    _, _, _, true_of = labeled
    sid = _start(store, labeled, mode="queue", n=30)
    s = _review_all(store, sid, true_of, upto=25)
    review.record_verdict(store, s, s.items.keys[25], "unsure")
    summary = review.summarize(review.load_session(store, sid))
    assert summary.error_rate is None
    n_wrong = sum(true_of[k] != lab for k, lab in list(zip(s.items.keys, s.items.labels, strict=True))[:25])
    assert summary.precision.value == pytest.approx(n_wrong / 25) and summary.precision.n == 25
    assert summary.n_unsure == 1 and summary.n_reviewed == 26
    assert "error_rate" not in summary.by_class and "error_rate" not in summary.by_labeler
    assert summary.precision_curve["position"].tolist() == list(range(1, 26))
    assert summary.precision_curve["precision"].iloc[-1] == pytest.approx(n_wrong / 25)
    assert n_wrong >= 15  # the queue's top is mostly planted errors
    md = review.summary_markdown(review.load_session(store, sid), summary)
    assert "Queue precision" in md and "not an error rate" in md and "Estimated label error rate" not in md


def test_exports_corrected_labels_csv_and_markdown(labeled, store):
    _, _, _, true_of = labeled
    sid = _start(store, labeled, mode="random", n=30, seed=7)
    s = _review_all(store, sid, true_of)
    summary = review.summarize(s)
    csv = pd.read_csv(io.BytesIO(review.corrections_csv(s, summary)), dtype=str, keep_default_na=False)
    assert csv.columns.tolist() == [
        "row_id",
        "income_reviewed",
        "verdict",
        "corrected_label",
        "income_final",
        "note",
        "reviewer",
        "reviewed_at_utc",
    ]
    assert len(csv) == 30 and (csv["reviewer"] == "Ana").all()
    assert all(true_of[k] == v for k, v in zip(csv["row_id"], csv["income_final"], strict=True))
    wrong = csv.loc[csv["verdict"] == "wrong"]
    assert (wrong["corrected_label"] == wrong["income_final"]).all() and (wrong["note"] == "flipped").all()
    only = pd.read_csv(io.BytesIO(review.corrections_csv(s, summary, only_wrong=True)), dtype=str)
    assert len(only) == len(wrong)
    md = review.summary_markdown(s, summary)
    r = summary.error_rate
    assert f"{100 * r.value:.1f} %" in md and f"{100 * r.ci_low:.1f} %" in md
    assert "# Label spot check: random check" in md and "## By labeler" in md and "stratified by class" in md


def test_create_session_needs_a_name_and_a_reviewer(labeled, store):
    _, ann, queue, _ = labeled
    items = review.plan_top_k(queue.frame, ann, k=3)
    for name, reviewer, msg in (("  ", "Ana", review.NO_NAME), ("x", "", review.NO_REVIEWER)):
        with pytest.raises(AnalysisError) as err:
            review.create_session(
                store,
                workspace="ws",
                dataset="validation",
                name=name,
                reviewer=reviewer,
                mode="queue",
                items=items,
                params={},
            )
        assert err.value.message == msg


def test_rate_chart_draws_a_random_sessions_rates_with_their_intervals(labeled, store):
    _, _, _, true_of = labeled
    summary = review.summarize(
        _review_all(store, _start(store, labeled, mode="random", n=80, seed=2), true_of)
    )
    for by, table in (("class", summary.by_class), ("labeler", summary.by_labeler)):
        spec = charts.rate_chart(summary, by=by).to_dict()
        assert spec["title"] == f"Error rate by {by}"
        drawn = pd.DataFrame(spec["datasets"][spec["data"]["name"]]).set_index(by)
        expected = table.dropna(subset=["error_rate"]).assign(**{by: lambda d, by=by: d[by].astype(str)})
        expected = expected.set_index(by)
        for column in ("error_rate", "ci_low", "ci_high"):
            np.testing.assert_allclose(drawn.loc[expected.index, column], expected[column])
    with pytest.raises(ValueError):
        charts.rate_chart(summary, by="batch")  # type: ignore[arg-type]


def test_queue_histogram_counts_every_item_of_the_queue_it_is_given(labeled):
    _, _, queue, _ = labeled
    spec = charts.queue_histogram(queue).to_dict()
    drawn = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    assert drawn["items"].sum() == len(queue.frame)
    top = replace(queue, frame=queue.frame.head(25))  # what the page draws after its filters
    drawn = pd.DataFrame(charts.queue_histogram(top).to_dict()["datasets"].popitem()[1])
    assert drawn["items"].sum() == 25
    in_bin = drawn.groupby("start")["items"].sum()
    first = top.frame["score"].to_numpy()
    assert in_bin.iloc[-1] == ((first >= drawn["start"].max()) & (first <= 1)).sum()


def test_pair_confusion_counts_the_items_both_labeled_and_draws_them(labeled):
    from tests.helpers import frame

    ws, ann, _, _ = labeled
    truth = frame(400, seed=9)["income"].to_numpy()  # the labels the fixture simulated, again
    long = simulate_labels(truth, list(ws.classes), {"ana": 0.95, "ben": 0.85, "cam": 0.65}, seed=4)
    both = long.pivot_table(index="item", columns="who", values="said", aggfunc="first")[["ana", "cam"]]
    both = both.dropna()
    expected = pd.crosstab(both["ana"], both["cam"]).sort_index().sort_index(axis=1)
    confusion = crowd.pair_confusion(ann, "ana", "cam")
    assert (confusion.first, confusion.second) == ("ana", "cam")
    got = confusion.to_frame().sort_index().sort_index(axis=1)
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_dtype=False)
    spec = charts.confusion_heatmap(confusion).to_dict()
    assert spec["title"] == "ana (rows) vs cam (columns)"
    cells = pd.DataFrame(spec["datasets"].popitem()[1])
    assert cells["count"].sum() == len(both)


def test_a_non_class_answer_is_shown_but_never_a_correction(labeled, store):
    """Found on a crowd whose labelers could answer 'unsure': the page's "Correct label" offered 'unsure' (every
    annotation value). Corrections are the model's classes; 'unsure' stays visible as what a labeler said, also
    in a session reopened from the store."""
    ws, _, _, true_of = labeled
    validation = ws.dataset("validation")
    truth = np.asarray([true_of[str(k)] for k in validation["row_id"]], dtype=object)
    long = simulate_labels(truth, list(ws.classes), {"ana": 0.95, "ben": 0.85, "cam": 0.65}, seed=4)
    long.loc[long["who"] == "cam", "said"] = np.where(
        np.arange(int((long["who"] == "cam").sum())) % 4 == 0,
        "unsure",
        long.loc[long["who"] == "cam", "said"],
    )
    ann = annotations_for(ws, long)
    assert "unsure" in [str(c) for c in ann.categories]  # kept as an extra category of the annotations
    queue = crowd.rank_queue(ann, crowd.consensus(ann), crowd.model_probabilities(ws, ann, model="current"))
    items = review.plan_top_k(queue.frame, ann, k=20)
    sid = review.create_session(
        store,
        workspace="ws",
        dataset="validation",
        name="unsure",
        reviewer="Ana",
        mode="queue",
        items=items,
        params={"label_column": "income", "id_column": "row_id", "review": "dataset"},
    )
    reopened = review.load_session(store, sid).items
    assert reopened.classes == [str(c) for c in ws.classes] and reopened.not_classes == ["unsure"]
    assert "unsure" in reopened.categories  # still what the annotations hold
    s = review.load_session(store, sid)
    key = s.items.keys[0]
    with pytest.raises(AnalysisError, match="must be a class of the model .*received 'unsure'"):
        review.record_verdict(store, s, key, "wrong", corrected_label="unsure")
    other = next(c for c in reopened.classes if c != s.items.labels[0])
    review.record_verdict(store, s, key, "wrong", corrected_label=other)
    # A session saved before the classes were kept offers every category, as it did.
    old = review.SessionItems.from_json({k: v for k, v in reopened.to_json().items() if k != "n_classes"})
    assert old.classes == old.categories
