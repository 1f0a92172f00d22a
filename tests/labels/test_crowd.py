"""explore/labels/crowd.py: annotations, agreement (checked against scikit-learn, statsmodels and a published
example), Dawid–Skene, labeler trust, out-of-sample probabilities, the ranked queue, bad files."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from explore.core.workspace import open_workspace, read_workspace, score
from explore.errors import AnalysisError, ColumnError, DataError
from explore.labels import crowd
from tests.helpers import FEATURES, frame, make_workspace

# ---- synthetic annotations --------------------------------------------------------------------------


def simulate_labels(
    truth: np.ndarray,
    classes: list,
    accuracies: dict[str, float],
    *,
    per_item: tuple[int, int] = (3, 3),
    seed: int = 0,
    adversarial: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Long-format labels: each labeler says the truth with probability ``accuracy``, else a uniformly
    random other class. ``adversarial`` labelers are listed in ``accuracies`` with a low accuracy."""
    rng = np.random.default_rng(seed)
    names = list(accuracies)
    k = len(classes)
    code = {c: i for i, c in enumerate(classes)}
    rows = []
    for i, t in enumerate(truth):
        m = min(rng.integers(per_item[0], per_item[1] + 1), len(names))
        for name in rng.choice(names, size=m, replace=False):
            if rng.random() < accuracies[name]:
                said = code[t]
            else:
                said = (code[t] + rng.integers(1, k)) % k
            rows.append((i, name, classes[said]))
    return pd.DataFrame(rows, columns=["item", "who", "said"])


def synthetic_workspace(
    tmp_path: Path,
    *,
    n: int = 400,
    task: str = "binary",
    model: str | None = "fit",
    annotations: pd.DataFrame | None = None,
    ann_columns: dict[str, str] | None = None,
    columns: dict | None = None,
    validation: pd.DataFrame | None = None,
):
    """A user's workspace (helpers.make_workspace) whose validation dataset has annotations."""
    df = frame(n + 300, task=task, seed=1)
    validation = validation if validation is not None else df.iloc[300:].reset_index(drop=True)
    # Predictions-only workspaces need no training data (and their prediction columns are in validation).
    datasets = (
        {"validation": validation}
        if model is None
        else {"train": df.iloc[:300].reset_index(drop=True), "validation": validation}
    )
    extra = {}
    if annotations is not None:
        annotations.to_csv(tmp_path / "ann.csv", index=False)
        extra["annotations"] = {
            "path": "ann.csv",
            "dataset": "validation",
            **(ann_columns or {"item": "item", "labeler": "who", "label": "said"}),
        }
    path = make_workspace(
        tmp_path,
        task=task,
        model=model,
        datasets=datasets,
        columns=columns or {"label": "income", "id": "row_id"},
        extra_sections=extra,
    )
    return open_workspace(read_workspace(path))


def annotations_for(ws, long: pd.DataFrame, **kw) -> crowd.Annotations:
    """Annotations whose ``item`` column holds row positions of validation, mapped to its ids."""
    ids = ws.dataset("validation")["row_id"].to_numpy()
    df = long.assign(item=ids[long["item"].to_numpy()])
    return crowd.annotations_from_frame(
        ws, df, item="item", labeler="who", label="said", dataset="validation", **kw
    )


# ---- agreement against references ------------------------------------------------------------------

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the nominal example with missing
# values: 4 observers, 12 units; alpha (nominal) = 0.743.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _counts(reliability: list[list]) -> np.ndarray:
    values = sorted({v for row in reliability for v in row if v is not None})
    counts = np.zeros((len(reliability[0]), len(values)))
    for row in reliability:
        for u, v in enumerate(row):
            if v is not None:
                counts[u, values.index(v)] += 1
    return counts


def test_krippendorff_alpha_reproduces_the_published_nominal_example():
    alpha, n = crowd.krippendorff_alpha_nominal(_counts(KRIPPENDORFF_2011))
    assert round(alpha, 3) == 0.743
    assert n == 40  # pairable values: unit 12 has a single value and is left out


def _alpha_by_pairs(units: list[list[int]]) -> float:
    """Krippendorff's alpha from its definition: disagreement over all ordered pairs of values within
    units, weighted 1/(m_u - 1), against all pairs of pairable values."""
    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    d_o = (
        sum(
            sum(a != b for i, a in enumerate(u) for j, b in enumerate(u) if i != j) / (len(u) - 1)
            for u in pairable
        )
        / n
    )
    d_e = sum(a != b for i, a in enumerate(values) for j, b in enumerate(values) if i != j) / (n * (n - 1))
    return 1 - d_o / d_e


def test_krippendorff_alpha_equals_its_pairwise_definition_with_varying_label_counts():
    rng = np.random.default_rng(3)
    units = [list(rng.integers(0, 4, size=rng.integers(1, 6))) for _ in range(60)]
    counts = np.zeros((len(units), 4))
    for u, vals in enumerate(units):
        for v in vals:
            counts[u, v] += 1
    alpha, _ = crowd.krippendorff_alpha_nominal(counts)
    assert alpha == pytest.approx(_alpha_by_pairs(units), abs=1e-12)


def test_fleiss_kappa_equals_statsmodels():
    rng = np.random.default_rng(0)
    counts = rng.multinomial(4, [0.5, 0.3, 0.2], size=200)
    assert crowd.fleiss_kappa(counts) == pytest.approx(sm_fleiss_kappa(counts, method="fleiss"), abs=1e-12)


def test_agreement_matches_sklearn_cohen_and_statsmodels_fleiss(tmp_path):
    ws = synthetic_workspace(tmp_path, n=300)
    truth = ws.dataset("validation")["income"].to_numpy()
    long = simulate_labels(
        truth, list(ws.classes), {"a": 0.95, "b": 0.8, "c": 0.7, "d": 0.6}, per_item=(2, 4), seed=1
    )
    ann = annotations_for(ws, long)
    ag = crowd.agreement(ann, min_shared=5)

    # Cohen's kappa of every pair == scikit-learn's on the items both labeled.
    wide = long.pivot(index="item", columns="who", values="said")
    assert len(ag.pairwise) == 6
    for row in ag.pairwise.itertuples(index=False):
        both = wide[[row.labeler_a, row.labeler_b]].dropna()
        assert row.shared == len(both)
        assert row.kappa == pytest.approx(
            cohen_kappa_score(both[row.labeler_a], both[row.labeler_b]), abs=1e-12
        )
    km = ag.kappa_matrix()
    assert km.loc["a", "b"] == km.loc["b", "a"] and km.loc["a", "a"] == 1.0

    # Fleiss' kappa on the items with the most common number of labels == statsmodels on those items.
    m = long.groupby("item").size()
    assert ag.fleiss_labels == int(m.value_counts().sort_index(ascending=False).idxmax())
    chosen = m[m == ag.fleiss_labels].index
    table = pd.crosstab(
        long.loc[long["item"].isin(chosen), "item"], long.loc[long["item"].isin(chosen), "said"]
    )
    assert ag.fleiss_n_items == len(chosen)
    assert ag.fleiss_kappa == pytest.approx(sm_fleiss_kappa(table.to_numpy(), method="fleiss"), abs=1e-12)

    # Per-item agreement: share of agreeing pairs.
    item0 = long.loc[long["item"] == 0, "said"].tolist()
    pairs = list(combinations(item0, 2))
    pos = int(np.flatnonzero(ann.rows == 0)[0])
    assert ag.per_item[pos] == pytest.approx(sum(a == b for a, b in pairs) / len(pairs))
    assert 0 < ag.alpha < 1


def test_pairs_with_too_few_shared_items_get_no_kappa(tmp_path):
    ws = synthetic_workspace(tmp_path, n=60)
    truth = ws.dataset("validation")["income"].to_numpy()
    long = simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.9}, per_item=(2, 2))
    long = pd.concat([long, pd.DataFrame({"item": [0, 1, 2], "who": "late", "said": truth[:3]})])
    ag = crowd.agreement(annotations_for(ws, long), min_shared=10)
    late = ag.pairwise.loc[(ag.pairwise["labeler_a"] == "late") | (ag.pairwise["labeler_b"] == "late")]
    assert late["kappa"].isna().all() and (late["shared"] == 3).all()
    assert any("fewer than 10" in note for note in ag.notes)


# ---- consensus and trust ------------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [["no", "yes"], ["cat", "dog", "bird"]])
def test_dawid_skene_recovers_labeler_accuracies_including_an_adversarial_one(tmp_path, classes):
    rng = np.random.default_rng(5)
    n = 3000
    validation = frame(n, seed=2)
    truth = rng.choice(classes, size=n, p=None)
    validation["income"] = np.where(
        rng.random(n) < 0.5, ">50K", "<=50K"
    )  # the dataset label is irrelevant here
    accuracies = {"expert": 0.95, "good": 0.85, "fair": 0.75, "sloppy": 0.6, "adversary": 0.15}
    long = simulate_labels(truth, classes, accuracies, per_item=(3, 5), seed=7)
    ws = synthetic_workspace(
        tmp_path,
        model=None,
        validation=validation,
        columns={"label": "income", "id": "row_id", "prediction": "income"},
    )
    ann = annotations_for(ws, long)
    cons = crowd.consensus(ann)
    assert cons.converged and cons.method == "regularised Dawid–Skene"
    trust = crowd.labeler_trust(ann, cons, threshold=0.7).table.set_index("labeler")
    for name, acc in accuracies.items():
        assert trust.loc[name, "accuracy"] == pytest.approx(acc, abs=0.03), name
    assert trust["flagged"].to_dict() == {
        "adversary": True,
        "expert": False,
        "fair": False,
        "good": False,
        "sloppy": True,
    }
    by_item = pd.Series(truth[ann.rows - 0])  # validation rows are the items, in order
    consensus_acc = (pd.Series(ann.category_values(cons.label)) == by_item).mean()
    majority = ann.category_values(cons.majority)
    majority_acc = (pd.Series(majority) == by_item).mean()
    assert consensus_acc > majority_acc  # Dawid–Skene discounts the adversary and breaks ties
    # ... and is as accurate as the Bayes rule that knows every labeler's true accuracy.
    k = len(classes)
    loglik = np.zeros((n, k))
    for row in long.itertuples(index=False):
        acc = accuracies[row.who]
        said = classes.index(row.said)
        loglik[row.item] += np.where(np.arange(k) == said, np.log(acc), np.log((1 - acc) / (k - 1)))
    oracle_acc = (np.asarray(classes)[loglik.argmax(axis=1)] == truth).mean()
    assert consensus_acc >= oracle_acc - 0.01
    # Confidence is a probability and the estimated confusion rows are distributions.
    assert np.all((cons.confidence >= 1 / len(classes) - 1e-9) & (cons.confidence <= 1))
    used = np.flatnonzero(ann.counts.sum(axis=0))
    np.testing.assert_allclose(cons.confusion[:, used][:, :, used].sum(axis=2), 1.0)


def test_dawid_skene_on_label_patterns_equals_item_by_item_em(tmp_path):
    ws = synthetic_workspace(
        tmp_path, n=500, model=None, columns={"label": "income", "id": "row_id", "prediction": "income"}
    )
    truth = ws.dataset("validation")["income"].to_numpy()
    ann = annotations_for(
        ws,
        simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.7, "c": 0.6, "d": 0.8}, per_item=(1, 4)),
    )
    fast, slow = crowd.dawid_skene(ann), crowd.dawid_skene(ann, compress=False)
    assert fast.n_iter == slow.n_iter
    np.testing.assert_allclose(fast.posterior, slow.posterior, atol=1e-10)
    np.testing.assert_allclose(fast.confusion, slow.confusion, atol=1e-10)
    assert fast.log_likelihood == pytest.approx(slow.log_likelihood)


def test_majority_vote_reports_ties():
    counts = np.array([[2, 0], [1, 1], [0, 3], [2, 2], [1, 0]])
    label, tie, share = crowd.majority_vote(counts)
    assert label.tolist() == [0, -1, 1, -1, 0]
    assert tie.tolist() == [False, True, False, True, False]
    np.testing.assert_allclose(share, [1, 0.5, 1, 0.5, 1])


def test_trust_flags_a_labeler_weak_on_one_class(tmp_path):
    rng = np.random.default_rng(2)
    n = 2000
    validation = frame(n, seed=3)
    truth = np.where(rng.random(n) < 0.4, "yes", "no")
    long = simulate_labels(truth, ["no", "yes"], {"a": 0.95, "b": 0.9, "c": 0.9}, seed=3)
    # Labeler "d" says "no" for 50 % of the true "yes" items and is right on every "no".
    d = pd.DataFrame(
        {
            "item": np.arange(n),
            "who": "d",
            "said": np.where((truth == "yes") & (rng.random(n) < 0.5), "no", truth),
        }
    )
    long = pd.concat([long, d], ignore_index=True)
    validation["income"] = truth
    ws = synthetic_workspace(
        tmp_path,
        model=None,
        validation=validation,
        columns={"label": "income", "id": "row_id", "prediction": "income"},
    )
    ann = annotations_for(ws, long)
    table = crowd.labeler_trust(ann, crowd.consensus(ann), threshold=0.8).table.set_index("labeler")
    assert table.loc["d", "accuracy"] > 0.75  # overall accuracy alone would not flag d
    assert table.loc["d", "weakest_class"] == "yes"
    assert table.loc["d", "weakest_recall"] == pytest.approx(0.5, abs=0.05)
    assert bool(table.loc["d", "flagged"]) and not table.loc[["a", "b", "c"], "flagged"].any()
    assert table.loc["a", "agreement_others"] > table.loc["d", "agreement_others"]


# ---- probabilities ----------------------------------------------------------------------------------


def test_model_probabilities_are_the_models_on_the_annotated_rows(tmp_path):
    ws = synthetic_workspace(tmp_path, n=200)
    truth = ws.dataset("validation")["income"].to_numpy()
    long = simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.9})
    ann = annotations_for(ws, long.loc[long["item"] % 3 == 0])
    probs = crowd.model_probabilities(ws, ann, model="current")
    sc = score(ws, "validation")
    np.testing.assert_allclose(probs.proba, sc.proba[ann.rows])
    np.testing.assert_array_equal(probs.pred, sc.pred[ann.rows])
    assert probs.method == "model"


def test_cross_validated_probabilities_equal_cross_val_predict(tmp_path):
    ws = synthetic_workspace(tmp_path, n=240)
    truth = ws.dataset("validation")["income"].to_numpy()
    ann = annotations_for(ws, simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.8}))
    seen = []
    probs = crowd.cross_validated_probabilities(
        ws, ann, model="current", n_splits=4, max_rows=10_000, seed=3, progress=lambda f, m: seen.append(f)
    )
    data = ws.dataset("validation")
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=3)
    expected = cross_val_predict(
        clone(ws.model()), data[FEATURES], data["income"], cv=cv, method="predict_proba"
    )
    np.testing.assert_allclose(probs.proba, expected[ann.rows], atol=1e-12)
    assert probs.n_splits == 4 and probs.n_train_rows == len(data) and seen[-1] == 1.0
    back = crowd.ItemProbabilities.from_json(json.loads(json.dumps(probs.to_json())))  # as kept in the store
    np.testing.assert_array_equal(back.proba, probs.proba)
    assert back.description == probs.description and back.pred.tolist() == probs.pred.tolist()


def test_cross_validation_caps_rows_and_predicts_the_rest_with_fold_models(tmp_path):
    ws = synthetic_workspace(tmp_path, n=300)
    truth = ws.dataset("validation")["income"].to_numpy()
    ann = annotations_for(ws, simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.8}))
    probs = crowd.cross_validated_probabilities(ws, ann, model="current", n_splits=3, max_rows=120)
    assert probs.n_train_rows == 120
    assert probs.proba.shape == (ann.n_items, 2)
    np.testing.assert_allclose(probs.proba.sum(axis=1), 1.0)


def test_predictions_only_workspace_uses_the_score_column(tmp_path):
    validation = frame(200, seed=4)
    validation["p"] = np.linspace(0.01, 0.99, 200)
    ws = synthetic_workspace(
        tmp_path,
        model=None,
        validation=validation,
        columns={"label": "income", "id": "row_id", "score": "p", "positive": ">50K"},
    )
    ann = annotations_for(
        ws, simulate_labels(validation["income"].to_numpy(), list(ws.classes), {"a": 0.9, "b": 0.9})
    )
    probs = crowd.model_probabilities(ws, ann, model=None)
    pos = list(ws.classes).index(">50K")
    np.testing.assert_allclose(probs.proba[:, pos], validation["p"].to_numpy()[ann.rows])
    assert probs.method == "columns"
    with pytest.raises(AnalysisError, match="no model file"):
        crowd.cross_validated_probabilities(ws, ann)


# ---- the queue --------------------------------------------------------------------------------------


def test_queue_ranks_planted_label_errors_of_the_sample_near_the_top(tiny_workspace):
    ws = open_workspace(read_workspace(tiny_workspace))
    ann = crowd.workspace_annotations(ws)
    truth = pd.read_csv(tiny_workspace.parent / "labeler_truth.csv")
    errors = truth.loc[truth["is_label_error"], "customer_id"].astype(str)
    cons = crowd.consensus(ann)
    for model in ("previous", "current"):
        queue = crowd.rank_queue(ann, cons, crowd.model_probabilities(ws, ann, model=model))
        assert crowd.planted_recall(queue.frame, errors, 2 * len(errors)) >= 0.8, model
        assert queue.frame["rank"].tolist() == list(range(1, ann.n_items + 1))
        assert queue.frame["score"].is_monotonic_decreasing
    blend = crowd.rank_queue(
        ann, cons, crowd.model_probabilities(ws, ann, model="previous"), combine="blend", model_weight=0.3
    )
    assert crowd.planted_recall(blend.frame, errors, 2 * len(errors)) >= 0.7
    labelers_only = crowd.rank_queue(ann, cons, None)
    assert (
        labelers_only.model_weight == 0
        and crowd.planted_recall(labelers_only.frame, errors, 2 * len(errors)) >= 0.7
    )


def test_queue_on_synthetic_multiclass_string_labels_finds_flipped_labels(tmp_path):
    rng = np.random.default_rng(11)
    df = frame(700, task="multiclass", seed=5)
    validation = df.iloc[300:].reset_index(drop=True)
    truth = validation["income"].to_numpy().copy()
    flip = rng.choice(len(validation), size=20, replace=False)
    others = {"low": "high", "mid": "low", "high": "mid"}
    validation.loc[flip, "income"] = [others[v] for v in truth[flip]]
    long = simulate_labels(truth, ["high", "low", "mid"], {"a": 0.9, "b": 0.85, "c": 0.8}, seed=2)
    ws = synthetic_workspace(tmp_path, task="multiclass", validation=validation)
    ann = annotations_for(ws, long)
    queue = crowd.rank_queue(ann, crowd.consensus(ann), crowd.model_probabilities(ws, ann, model="current"))
    planted = validation.loc[flip, "row_id"].astype(str)
    assert crowd.planted_recall(queue.frame, planted, 30) >= 0.8
    consensus_queue = crowd.rank_queue(ann, crowd.consensus(ann), None, review="consensus")
    assert (consensus_queue.frame["label_source"] == "consensus").all()


def test_filter_queue_by_class_labeler_and_batch(tmp_path):
    ws = synthetic_workspace(tmp_path, n=100)
    truth = ws.dataset("validation")["income"].to_numpy()
    long = simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.9, "c": 0.9}, per_item=(2, 2))
    long["batch"] = np.where(long["item"] < 50, "w1", "w2")
    ann = annotations_for(ws, long, batch="batch")
    assert ann.batches == ["w1", "w2"]
    queue = crowd.rank_queue(ann, crowd.consensus(ann), crowd.model_probabilities(ws, ann, model="current"))
    rows = crowd.filter_queue(queue, ann, classes=[">50K"], labelers=["a"], batches=["w2"])
    ids = ws.dataset("validation")["row_id"].to_numpy()
    expected = set(ids[long.loc[(long["who"] == "a") & (long["item"] >= 50), "item"]]) & set(
        ids[truth == ">50K"]
    )
    assert set(rows["id"]) == expected and len(rows) > 0
    assert rows["rank"].is_monotonic_increasing
    assert len(crowd.filter_queue(queue, ann)) == ann.n_items


def test_batches_sort_as_numbers_or_dates_and_items_take_their_latest(tmp_path):
    ws = synthetic_workspace(tmp_path, n=20)
    ids = ws.dataset("validation")["row_id"].to_numpy()
    df = pd.DataFrame(
        {"item": [ids[0], ids[0], ids[1]], "who": ["a", "b", "a"], "said": ">50K", "n": [10, 2, 3]}
    )
    ann = crowd.annotations_from_frame(
        ws, df, item="item", labeler="who", label="said", dataset="validation", batch="n"
    )
    assert ann.batches == ["2", "3", "10"] and ann.item_batch.tolist() == ["10", "3"]
    df["when"] = ["2024-03-02 10:00", "3/1/2024", "2024-03-01T08:00:00"]
    ann = crowd.annotations_from_frame(
        ws, df, item="item", labeler="who", label="said", dataset="validation", batch="when"
    )
    assert ann.batches == ["2024-03-01", "2024-03-02"] and ann.item_batch.tolist() == [
        "2024-03-02",
        "2024-03-01",
    ]
    many = pd.Series(pd.date_range("2023-01-01", periods=300, freq="D"))
    assert crowd.batch_values(many).nunique() == 44  # ISO weeks once there would be more than 60 days
    assert crowd.batch_values(pd.Series(["2024-W01", None])).tolist() == ["2024-W01", ""]


def test_items_without_a_dataset_label_review_the_consensus(tmp_path):
    validation = frame(120, seed=6)
    validation.loc[:9, "income"] = np.nan
    ws = synthetic_workspace(tmp_path, validation=validation)
    truth = np.where(validation["age"] > 45, ">50K", "<=50K")
    ann = annotations_for(ws, simulate_labels(truth, list(ws.classes), {"a": 0.9, "b": 0.9}))
    queue = crowd.rank_queue(ann, crowd.consensus(ann), crowd.model_probabilities(ws, ann, model="current"))
    no_label = queue.frame.loc[queue.frame["id"].isin(validation.loc[:9, "row_id"])]
    assert (no_label["label_source"] == "consensus").all() and len(no_label) == 10
    assert any("no label in the dataset" in n for n in queue.notes)


# ---- loading and bad files ----------------------------------------------------------------------------


def test_workspace_annotations_of_the_sample(tiny_workspace):
    ws = open_workspace(read_workspace(tiny_workspace))
    ann = crowd.workspace_annotations(ws)
    manifest = json.loads((tiny_workspace.parent / "manifest.json").read_text())
    assert ann.n_items == manifest["rows"]["annotated_items"]
    assert ann.n_annotations == manifest["rows"]["annotations"]
    assert sorted(ann.labelers) == ["ana", "ben", "cam", "dee"]
    assert ann.batches == manifest["planted"]["batches"]
    assert list(ann.categories) == list(ws.classes) and ann.warnings == ()


def test_ids_written_as_floats_match_integer_ids(tmp_path):
    ws = synthetic_workspace(tmp_path, n=50)
    ids = ws.dataset("validation")["row_id"].to_numpy()
    df = pd.DataFrame(
        {"item": np.r_[ids[:10], np.nan].astype(float), "who": ["a"] * 5 + ["b"] * 5 + ["a"], "said": ">50K"}
    )
    ann = crowd.annotations_from_frame(ws, df, item="item", labeler="who", label="said", dataset="validation")
    assert ann.n_items == 10 and any("no item" in w for w in ann.warnings)


def test_zero_padded_item_ids_match_integer_ids(tmp_path):
    # The labeling tool kept ids as text with leading zeros ("000042"); the dataset's ids are integers. They used to
    # match nothing, and the page refused the whole file.
    ws = synthetic_workspace(tmp_path, n=60)
    ids = ws.dataset("validation")["row_id"].to_numpy()
    said = ws.dataset("validation")["income"].to_numpy()
    df = pd.DataFrame(
        {
            "item": [f"{i:06d}" for i in ids[:20]] * 2 + ["999999"],
            "who": ["a"] * 20 + ["b"] * 20 + ["a"],
            "said": list(said[:20]) * 2 + [">50K"],
        }
    )
    ann = crowd.annotations_from_frame(ws, df, item="item", labeler="who", label="said", dataset="validation")
    assert ann.n_items == 20 and sorted(ann.item_ids.tolist()) == sorted(ids[:20].tolist())
    assert ann.warnings[0].startswith("40 annotation rows name their item with leading zeros")
    assert "(e.g. '999999')" in ann.warnings[1]  # still unknown: left out, as before
    assert crowd.agreement(ann).alpha == pytest.approx(1.0)
    # Two dataset ids that differ only by zeros ("01", "1"): which one is meant cannot be told, nothing is guessed.
    keys = pd.Series(["01", "1", "7"], dtype="string")
    pos, padded = crowd._match_padded_ids(
        np.array([-1]), np.array([True]), pd.Series(["001"], dtype="string"), keys
    )
    assert pos.tolist() == [-1] and not padded.any()
    # Dataset rows without an id (two of them) are no ambiguity: the padded ids still match, at their own rows.
    keys = pd.Series([pd.NA, "12", pd.NA, "7"], dtype="string")
    pos, padded = crowd._match_padded_ids(
        np.array([-1, -1, 5]),
        np.array([True, True, True]),
        pd.Series(["0007", "012", "3"], dtype="string"),
        keys,
    )
    assert pos.tolist() == [3, 1, 5] and padded.tolist() == [True, True, False]


def test_boolean_labels_written_true_false_or_1_0_are_the_boolean_classes(tmp_path):
    # A boolean label column; one labeling tool writes True/False, another true/false, a third 1/0. They used to
    # become six categories (False, True, 0, 1, 'false', 'true') and agreement looked like chance.
    from sklearn.linear_model import LogisticRegression

    from tests.checks.test_compare import table_workspace

    df = frame(120).assign(flag=lambda d: d["income"] == ">50K")
    model = LogisticRegression().fit(df[["age"]], df["flag"])
    ws = table_workspace(
        {"validation": df}, {"current": model}, label="flag", columns={"id": "row_id", "features": ["age"]}
    )
    rows = [
        (i, who, text(y))
        for i, y in zip(df["row_id"], df["flag"], strict=True)
        for who, text in (("a", str), ("b", lambda y: str(y).lower()), ("c", lambda y: int(y)))
    ]
    ann = crowd.annotations_from_frame(
        ws,
        pd.DataFrame(rows, columns=["item", "who", "said"]),
        item="item",
        labeler="who",
        label="said",
        dataset="validation",
    )
    assert list(ann.categories) == [False, True] and not ann.warnings
    assert crowd.agreement(ann).alpha == pytest.approx(1.0)


def test_labels_in_another_case_or_with_spaces_count_as_the_class(tmp_path):
    # Labeling tools write "Spam", "SPAM " and "spam" for one class: they used to become separate categories, so
    # a 95 %-accurate labeler looked 45 % accurate and agreement looked like chance.
    ws = synthetic_workspace(tmp_path, n=300)
    data = ws.dataset("validation")
    truth = data["income"].to_numpy()
    long = simulate_labels(truth, [">50K", "<=50K"], {"a": 0.95, "b": 0.9, "c": 0.85}, seed=3)
    rng = np.random.default_rng(0)
    variants = (str.upper, str.lower, lambda t: f" {t.lower()} ", lambda t: t.title())
    written = long.assign(
        said=[variants[i](t) for i, t in zip(rng.integers(0, 4, len(long)), long["said"], strict=True)]
    )
    ann = annotations_for(ws, written)
    assert list(ann.categories) == list(ws.classes)
    assert (
        len(ann.warnings) == 1 and "another case" in ann.warnings[0] and "'>50k' as '>50K'" in ann.warnings[0]
    )
    # The numbers are those of the labels as the class names spell them (sklearn's Cohen kappa).
    clean = annotations_for(ws, long)
    got = crowd.agreement(ann).pairwise.set_index(["labeler_a", "labeler_b"])["kappa"]
    wide = long.pivot(index="item", columns="who", values="said")
    both = wide[["a", "b"]].dropna()
    assert got[("a", "b")] == pytest.approx(cohen_kappa_score(both["a"], both["b"]))
    assert np.array_equal(ann.label, clean.label)
    # A label that differs only in case from two classes stays as written.
    from explore.labels.crowd import _fold_case_to_classes

    keys, folded = _fold_case_to_classes(np.asarray(["A", "a", "B"], dtype=object), ["a", "A", "b"])
    assert keys.tolist() == ["A", "a", "b"] and folded == {"B": ("b", 1)}


def test_missing_columns_say_which_and_list_the_file_columns(tmp_path):
    ws = synthetic_workspace(tmp_path, n=30)
    df = pd.DataFrame({"id": [1000], "rater": ["a"], "value": ["x"]})
    with pytest.raises(ColumnError) as err:
        crowd.annotations_from_frame(
            ws, df, item="id", labeler="labeler", label="label", dataset="validation", source="f.csv"
        )
    assert err.value.message == crowd.ANN_MISSING_COLUMNS.format(
        source="f.csv",
        missing="'labeler', 'label'",
        roles="labeler, label",
        columns="'id', 'rater', 'value'",
        where="",
    )


def test_an_all_empty_labeler_column_is_refused(tmp_path):
    ws = synthetic_workspace(tmp_path, n=30)
    ids = ws.dataset("validation")["row_id"].to_numpy()
    df = pd.DataFrame({"item": ids[:5], "who": [None] * 5, "said": ">50K"})
    with pytest.raises(ColumnError) as err:
        crowd.annotations_from_frame(
            ws, df, item="item", labeler="who", label="said", dataset="validation", source="f.csv"
        )
    assert err.value.message == crowd.ANN_COLUMN_EMPTY.format(
        role="labeler", column="who", source="f.csv", n=5, what="who gave each label"
    )


def test_unknown_item_ids_are_refused_or_reported(tmp_path):
    ws = synthetic_workspace(tmp_path, n=30)
    ids = ws.dataset("validation")["row_id"].to_numpy()
    bad = pd.DataFrame({"item": ["x1", "x2", "x3"], "who": ["a", "b", "a"], "said": ">50K"})
    with pytest.raises(DataError, match="None of the 3 item ids") as err:
        crowd.annotations_from_frame(ws, bad, item="item", labeler="who", label="said", dataset="validation")
    assert "'x1'" in err.value.message and "1300" in err.value.message  # examples from both sides
    some = pd.concat([bad, pd.DataFrame({"item": ids[:4], "who": ["a", "b", "a", "b"], "said": ">50K"})])
    ann = crowd.annotations_from_frame(
        ws, some, item="item", labeler="who", label="said", dataset="validation"
    )
    assert ann.n_items == 4
    assert ann.warnings[0] == crowd.WARN_UNKNOWN_ITEMS.format(
        n_rows=3, n_items=3, dataset="validation", examples="'x1', 'x2', 'x3'"
    )


def test_one_labeler_only_gives_a_message_and_the_model_vs_label_queue(tmp_path):
    ws = synthetic_workspace(tmp_path, n=80)
    data = ws.dataset("validation")
    df = pd.DataFrame({"item": data["row_id"], "who": "solo", "said": data["income"]})
    ann = crowd.annotations_from_frame(ws, df, item="item", labeler="who", label="said", dataset="validation")
    assert ann.warnings == (crowd.WARN_ONE_LABELER.format(name="solo"),)
    with pytest.raises(AnalysisError, match="at least two labelers"):
        crowd.agreement(ann)
    with pytest.raises(AnalysisError, match="at least two labelers"):
        crowd.labeler_trust(ann, crowd.consensus(ann))
    cons = crowd.consensus(ann)
    assert cons.method == "single label"
    queue = crowd.rank_queue(ann, cons, crowd.model_probabilities(ws, ann, model="current"))
    assert queue.combine == "blend" and queue.frame["score"].between(0, 1).all()
    top = queue.frame.iloc[0]
    assert top["model_pred"] != top["label"]  # the model disagrees most with the first item


def test_one_label_per_item_from_several_labelers_has_no_overlap(tmp_path):
    ws = synthetic_workspace(tmp_path, n=40)
    data = ws.dataset("validation")
    df = pd.DataFrame(
        {"item": data["row_id"], "who": np.where(np.arange(40) % 2, "a", "b"), "said": data["income"]}
    )
    ann = crowd.annotations_from_frame(ws, df, item="item", labeler="who", label="said", dataset="validation")
    assert ann.warnings == (crowd.WARN_NO_OVERLAP,) and not ann.has_overlap


def test_duplicates_missing_labels_and_unknown_label_values_are_reported(tmp_path):
    ws = synthetic_workspace(tmp_path, n=30)
    ids = ws.dataset("validation")["row_id"].to_numpy()
    df = pd.DataFrame(
        {
            "item": [ids[0], ids[0], ids[0], ids[1], ids[1], ids[2]],
            "who": ["a", "a", "b", "a", "b", "a"],
            "said": ["<=50K", ">50K", ">50K", None, "maybe", ">50K"],
        }
    )
    ann = crowd.annotations_from_frame(ws, df, item="item", labeler="who", label="said", dataset="validation")
    text = " ".join(ann.warnings)
    assert "1 annotation rows have no label" in text
    assert "1 (item, labeler) pairs appear more than once" in text
    assert "'maybe'" in text
    assert list(ann.categories) == [*ws.classes, "maybe"] and ann.n_model_classes == 2
    assert ann.counts[0].tolist() == [0, 2, 0]  # a's last label (">50K") replaced its first
    queue = crowd.rank_queue(ann, crowd.consensus(ann), crowd.model_probabilities(ws, ann, model="current"))
    assert queue.frame["score"].notna().all()


def test_regression_workspaces_get_a_message(tmp_path):
    ws = synthetic_workspace(tmp_path, n=30, task="regression")
    with pytest.raises(AnalysisError) as err:
        crowd.annotations_from_frame(
            ws,
            pd.DataFrame({"i": [1], "w": ["a"], "l": [1.0]}),
            item="i",
            labeler="w",
            label="l",
            dataset="validation",
        )
    assert err.value.message == crowd.ANN_REGRESSION.format(label="income")


def test_workspace_without_annotations_or_id_column(tmp_path):
    ws = synthetic_workspace(tmp_path, n=30, columns={"label": "income"})
    with pytest.raises(AnalysisError) as err:
        crowd.workspace_annotations(ws)
    assert err.value.message == crowd.NO_ANNOTATIONS
    # Without [columns] id, items are row positions.
    df = pd.DataFrame(
        {"item": [0, 1, 1, 2], "who": ["a", "a", "b", "b"], "said": [">50K", "<=50K", "<=50K", ">50K"]}
    )
    ann = crowd.annotations_from_frame(ws, df, item="item", labeler="who", label="said", dataset="validation")
    assert ann.rows.tolist() == [0, 1, 2] and ann.item_keys.tolist() == ["0", "1", "2"]
    with pytest.raises(ColumnError, match="no \\[columns\\] id"):
        crowd.annotations_from_frame(
            ws, df.assign(item="abc"), item="item", labeler="who", label="said", dataset="validation"
        )


def test_annotation_file_in_workspace_toml_is_read_and_joined(tmp_path):
    long = pd.DataFrame(
        {"item": [1300, 1300, 1301], "who": ["a", "b", "a"], "said": [">50K", ">50K", "<=50K"]}
    )
    ws = synthetic_workspace(tmp_path, n=10, annotations=long)
    ann = crowd.workspace_annotations(ws)
    assert ann.item_ids.tolist() == [1300, 1301] and ann.source.endswith("ann.csv")
    answers = ann.answers(np.array([0, 1]))
    assert answers["a"].tolist() == [">50K", "<=50K"]
    assert answers["b"].iloc[0] == ">50K" and pd.isna(answers["b"].iloc[1])


# ---- labelers in natural order -----------------------------------------------------------------------


def test_natural_key_counts_numbers_as_numbers():
    names = ["labeler10", "labeler2", "Labeler1", "labeler1", "labeler", "zed", "ann 3b", "ann 3a", "ann 12"]
    assert sorted(names, key=crowd.natural_key) == [
        "ann 3a",
        "ann 3b",
        "ann 12",
        "labeler",
        "Labeler1",
        "labeler1",
        "labeler2",
        "labeler10",
        "zed",
    ]


def test_labelers_are_listed_in_natural_order_with_unchanged_numbers(tmp_path):
    """labeler2 before labeler10 in ann.labelers (the pickers), the trust table (and its CSV) and each item's
    answers; the numbers per labeler are those of the same crowd under names whose text order is natural."""
    rng = np.random.default_rng(5)
    n = 600
    validation = frame(n, seed=5)
    truth = np.where(rng.random(n) < 0.4, "yes", "no")
    accuracy = {"labeler10": 0.95, "labeler2": 0.7, "labeler1": 0.85, "labeler9": 0.9}
    long = simulate_labels(truth, ["no", "yes"], accuracy, seed=5)
    validation["income"] = truth
    ws = synthetic_workspace(
        tmp_path,
        model=None,
        validation=validation,
        columns={"label": "income", "id": "row_id", "prediction": "income"},
    )
    natural = ["labeler1", "labeler2", "labeler9", "labeler10"]
    ann = annotations_for(ws, long)
    assert ann.labelers.tolist() == natural
    trust = crowd.labeler_trust(ann, crowd.consensus(ann), threshold=0.8).table
    assert trust["labeler"].tolist() == natural
    assert ann.answers(np.arange(10)).columns.tolist() == natural  # the queue's columns, one per labeler
    # the same crowd named so that text order is natural order: the same numbers per labeler
    plain = {name: f"w{i}" for i, name in enumerate(natural)}
    ann2 = annotations_for(ws, long.assign(who=long["who"].map(plain)))
    trust2 = crowd.labeler_trust(ann2, crowd.consensus(ann2), threshold=0.8).table
    numbers = trust.drop(columns="labeler").reset_index(drop=True)
    pd.testing.assert_frame_equal(numbers, trust2.drop(columns="labeler").reset_index(drop=True))
