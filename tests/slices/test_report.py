"""explore.slices.report: slice report, weak-slice discovery (planted slices and the null), fairness,
curves, confusion matrix, worst rows — numbers cross-checked against scikit-learn, scipy, statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from explore.errors import AnalysisError
from explore.slices import report
from explore.slices.definition import CORRECT, LABEL, TIME, Condition, SliceDefinition
from tests.stats.test_metrics import binary_data, make_scored, multiclass_data


def mixed_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """Numeric with missing values, integer with few values, string categories with missing, booleans."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 12, n).round(1),
            "visits": rng.integers(0, 5, n),
            "city": rng.choice(["Paris", "Lyon", "Nice", "Lille"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "member": rng.random(n) < 0.3,
            "code": [f"c{i}" for i in rng.integers(0, 60, n)],
        }
    )
    df.loc[rng.random(n) < 0.08, "age"] = np.nan
    df.loc[rng.random(n) < 0.05, "city"] = None
    return df


def binary_scored(n: int = 2000, seed: int = 0):
    y, pred, proba = binary_data(n, seed=seed)
    frame = mixed_frame(n, seed)
    time = pd.Series(pd.date_range("2024-01-01", periods=n, freq="h"))
    return make_scored("binary", y, pred, proba=proba, frame=frame, classes=["no", "yes"], time=time)


# ---- slice report ------------------------------------------------------------------------------------


def test_slice_rest_and_overall_equal_sklearn() -> None:
    sc = binary_scored()
    sd = SliceDefinition((Condition("city", "in", values=("Paris", "Nice")),))
    rep = report.slice_report(sc, sd)
    m = sd.mask(sc)
    cmp = rep.comparison.set_index("metric")
    for part, sel in (("slice", m), ("rest", ~m), ("overall", np.ones(sc.n, dtype=bool))):
        assert cmp.loc["accuracy", part] == pytest.approx(skm.accuracy_score(sc.y[sel], sc.pred[sel]))
        assert cmp.loc["ROC AUC", part] == pytest.approx(skm.roc_auc_score(sc.y[sel], sc.score[sel]))
        assert cmp.loc["log loss", part] == pytest.approx(skm.log_loss(sc.y[sel], sc.proba[sel]))
    assert rep.n_slice == m.sum()
    assert cmp.loc["accuracy", "gap"] == pytest.approx(
        cmp.loc["accuracy", "slice"] - cmp.loc["accuracy", "rest"]
    )


def test_by_group_gaps_and_benjamini_hochberg() -> None:
    from statsmodels.stats.multitest import multipletests

    sc = binary_scored(3000, seed=2)
    sd = SliceDefinition((Condition("member", "in", values=(False,)),))
    rep = report.slice_report(sc, sd, by=["city", "visits"], params=report.SliceReportParams(fdr=0.1))
    bg = rep.by_group
    m = sd.mask(sc)
    acc = bg[bg.metric == "accuracy"].reset_index(drop=True)
    for _, row in acc.iterrows():
        cond = rep.group_conditions[int(row["group"])]
        inside = m & SliceDefinition(cond).mask(sc)
        rest = m & ~inside
        assert row["value"] == pytest.approx(skm.accuracy_score(sc.y[inside], sc.pred[inside]))
        assert row["rest"] == pytest.approx(skm.accuracy_score(sc.y[rest], sc.pred[rest]))
        assert row["support"] == inside.sum()
        np.testing.assert_array_equal(rep.group_slice(int(row["group"])).mask(sc), inside)
    ok = acc["p_worse"].notna()
    want = multipletests(acc.loc[ok, "p_worse"], method="fdr_bh")[1]
    np.testing.assert_allclose(acc.loc[ok, "q_worse"], want)
    assert (acc["worse"] == (acc["q_worse"] <= 0.1)).all()


def test_a_truly_worse_group_is_flagged() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    frame = pd.DataFrame({"region": rng.choice(["a", "b", "c", "d"], n)})
    y = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(frame["region"] == "c", 0.4, 0.1)
    pred = np.where(wrong, 1 - y, y)
    rep = report.slice_report(
        make_scored("binary", y, pred, frame=frame),
        by=["region"],
        params=report.SliceReportParams(metrics=["accuracy"]),
    )
    flagged = set(rep.by_group.loc[rep.by_group["worse"], "region"])
    assert flagged == {"c"}


def test_metrics_as_a_dict_with_a_callable() -> None:
    sc = binary_scored(500)
    rep = report.slice_report(
        sc,
        SliceDefinition((Condition("visits", "in", values=(1, 2)),)),
        params=report.SliceReportParams(metrics={"acc": "accuracy", "balanced": skm.balanced_accuracy_score}),
        by=["city"],
    )
    cmp = rep.comparison.set_index("metric")
    m = SliceDefinition((Condition("visits", "in", values=(1, 2)),)).mask(sc)
    assert cmp.loc["balanced", "slice"] == pytest.approx(
        skm.balanced_accuracy_score(sc.y_raw[m], sc.classes[sc.pred[m]])
    )
    assert cmp.loc["acc", "slice"] == pytest.approx(skm.accuracy_score(sc.y[m], sc.pred[m]))
    assert set(rep.by_group["metric"]) == {"acc", "balanced"}


def test_empty_one_row_and_single_class_slices() -> None:
    sc = binary_scored(300)
    empty = SliceDefinition((Condition("age", "range", lo=1000),))
    with pytest.raises(AnalysisError) as err:
        report.slice_report(sc, empty)
    assert str(err.value) == report.EMPTY_SLICE.format(slice=empty.describe(), dataset="data", n=300)
    ages = sc.frame["age"]
    unique_age = ages[ages.map(ages.value_counts()) == 1].iloc[0]
    one = report.slice_report(
        sc, SliceDefinition((Condition("age", "range", lo=unique_age, hi=unique_age, hi_inclusive=True),))
    )
    assert one.n_slice == 1
    acc = one.comparison.set_index("metric").loc["accuracy"]
    assert acc["slice_support"] == 1 and np.isfinite(acc["slice"])
    assert "single row" in " ".join(one.notes)
    single = report.slice_report(sc, SliceDefinition((Condition(LABEL, "in", values=("yes",)),)))
    auc = single.comparison.set_index("metric").loc["ROC AUC"]
    assert np.isnan(auc["slice"]) and "one class" in auc["note"]


def test_slice_round_trips_json_and_url() -> None:
    sd = SliceDefinition(
        (
            Condition("city", "in", values=("Paris", None)),
            Condition("age", "range", lo=20.5, hi=40),
            Condition(TIME, "range", lo="2024-01-02T00:00:00", hi=None),
            Condition(CORRECT, "in", values=(False,)),
        ),
        name="mine",
    )
    assert SliceDefinition.from_json(sd.to_json()) == sd
    assert SliceDefinition.from_query_param(sd.to_query_param()) == sd
    sc = binary_scored(400)
    np.testing.assert_array_equal(SliceDefinition.from_json(sd.to_json()).mask(sc), sd.mask(sc))


# ---- weak-slice discovery ----------------------------------------------------------------------------


def planted_scored(n: int, seed: int, *, planted: bool = True):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "device": rng.choice(["phone", "tablet", "desktop"], n),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "age": rng.normal(40, 10, n),
            "region": rng.choice(["N", "S", "E", "W"], n),
        }
    )
    rate = np.full(n, 0.15)
    if planted:
        rate[(frame["device"] == "tablet") & (frame["plan"] == "team")] = 0.55
        rate[frame["region"] == "S"] = np.maximum(rate[frame["region"] == "S"], 0.3)
    errors = rng.random(n) < rate
    y = rng.integers(0, 2, n)
    pred = np.where(errors, 1 - y, y)
    return make_scored("binary", y, pred, frame=frame)


def test_discovery_finds_planted_slices() -> None:
    sc = planted_scored(6000, seed=0)
    res = report.weak_slices(sc, min_support=60, fdr=0.05)
    found = [{(c.column, c.values) for c in d.conditions} for d in res.definitions]
    assert {("device", ("tablet",)), ("plan", ("team",))} in found
    assert {("region", ("S",))} in found
    # The distinct problems rank by effect; significant rows are all q ≤ fdr with a positive gap.
    assert res.problems["effect_size"].is_monotonic_decreasing
    # The planted interaction is the first problem; its parents, weak only because of it, fold under it.
    assert res.problems["slice"].iloc[0] == res.slices["slice"].iloc[0]
    assert {(c.column, c.values) for c in res.definitions[0].conditions} == {
        ("device", ("tablet",)),
        ("plan", ("team",)),
    }
    folded = res.slices[res.slices["parent"] != ""]
    assert len(folded) == res.n_folded and set(folded["parent"]) <= set(res.problems["slice"])
    assert (res.slices["q_value"] <= 0.05).all() and (res.slices["diff"] > 0).all()
    assert res.n_tested == len(res.tested) + res.n_pruned
    assert res.slices["slice"].iloc[0] == res.definitions[0].describe()


def test_discovery_welch_statistics_equal_scipy() -> None:
    sc = planted_scored(3000, seed=1)
    res = report.weak_slices(sc, min_support=50, max_conditions=1)
    loss = sc.row_loss
    for _, row in res.tested.head(6).iterrows():
        col, val = row["slice"].split(" ∈ ")
        m = (sc.frame[col] == val.strip("{}'")).to_numpy() if not col.startswith(("age", "<", "≥")) else None
        if m is None:
            continue
        t = stats.ttest_ind(loss[m], loss[~m], equal_var=False, alternative="greater")
        assert row["t"] == pytest.approx(t.statistic)
        assert row["p_value"] == pytest.approx(t.pvalue, rel=1e-6, abs=1e-12)
        assert row["support"] == m.sum()


def test_discovery_reports_nothing_on_pure_noise_in_most_seeds() -> None:
    """Losses independent of the features: at FDR 0.05 (under the global null BH's FDR is the chance of
    reporting any slice), at most 5 % of 100 seeded runs report a slice."""
    quiet = 0
    for seed in range(100):
        sc = planted_scored(1200, seed=1000 + seed, planted=False)
        res = report.weak_slices(sc, min_support=50, fdr=0.05, n_bins=4)
        quiet += len(res.slices) == 0
    assert quiet >= 95, quiet


def test_discovery_with_probabilities_regression_and_missing_values() -> None:
    sc = binary_scored(2500, seed=4)
    res = report.weak_slices(sc, min_support=50)
    assert res.loss == "log loss" and res.n_tested > 0
    assert "code" in res.columns  # 60 values: the top ones tested, the rest pooled
    rng = np.random.default_rng(5)
    frame = mixed_frame(2000, 5)
    y = rng.normal(size=2000)
    pred = y + rng.normal(size=2000) * np.where(frame["city"] == "Nice", 3.0, 1.0)
    reg = report.weak_slices(make_scored("regression", y, pred, frame=frame), min_support=50)
    assert reg.loss == "squared error"
    assert any("Nice" in s for s in reg.slices["slice"])


def test_discovery_bad_settings() -> None:
    sc = planted_scored(500, seed=2)
    with pytest.raises(AnalysisError, match="false discovery rate"):
        report.weak_slices(sc, fdr=0)
    with pytest.raises(AnalysisError, match="1 or 2 conditions"):
        report.weak_slices(sc, max_conditions=3)
    with pytest.raises(AnalysisError, match="at least 2,000 rows"):
        report.weak_slices(sc, min_support=1000)
    with pytest.raises(AnalysisError, match="can be sliced: 'k' has a single value"):
        report.weak_slices(
            make_scored("binary", sc.y, sc.pred, frame=pd.DataFrame({"k": ["x"] * 500})), min_support=50
        )


# ---- fairness ----------------------------------------------------------------------------------------


def test_fairness_gaps_equal_direct_computation_and_newcombe() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep

    sc = binary_scored(3000, seed=6)
    params = report.FairnessParams(threshold=0.05, min_support=30)
    assert report.FairnessParams.from_dict(params.to_dict()) == params
    fr = report.fairness_gaps(sc, "city", params)
    groups = fr.groups.set_index("group")
    city = sc.frame["city"]
    for name in ("Paris", "Lyon"):
        m = (city == name).to_numpy()
        assert groups.loc[name, "positive rate"] == pytest.approx((sc.pred[m] == 1).mean())
        pos = m & (sc.y == 1)
        assert groups.loc[name, "true positive rate"] == pytest.approx((sc.pred[pos] == 1).mean())
        assert groups.loc[name, "accuracy"] == pytest.approx((sc.pred[m] == sc.y[m]).mean())
    gap = fr.gaps.set_index("measure").loc["positive rate"]
    eligible = groups[groups["support"] >= 30]["positive rate"]
    assert gap["gap"] == pytest.approx(eligible.max() - eligible.min())
    hi, lo = gap["high_group"], gap["low_group"]
    k1 = int(round(groups.loc[hi, "positive rate"] * groups.loc[hi, "support"]))
    k2 = int(round(groups.loc[lo, "positive rate"] * groups.loc[lo, "support"]))
    ref = confint_proportions_2indep(
        k1, groups.loc[hi, "support"], k2, groups.loc[lo, "support"], method="newcomb", compare="diff"
    )
    assert gap["ci_low"] == pytest.approx(ref[0], abs=1e-9) and gap["ci_high"] == pytest.approx(
        ref[1], abs=1e-9
    )
    assert gap["exceeds"] == (gap["gap"] > 0.05)


def test_fairness_multiclass_and_regression() -> None:
    y, pred, proba = multiclass_data(1500, k=3, seed=7)
    frame = mixed_frame(1500, 7)
    mc = report.fairness_gaps(
        make_scored("multiclass", y, pred, proba=proba, frame=frame, classes=["a", "b", "c"]),
        "city",
        report.FairnessParams(positive="b"),
    )
    assert mc.cls == "b" and set(mc.gaps["measure"]) == {"positive rate", "true positive rate", "accuracy"}
    rng = np.random.default_rng(8)
    yr = rng.normal(size=1500)
    reg = report.fairness_gaps(
        make_scored("regression", yr, yr + 0.5 * (frame["city"] == "Nice").to_numpy(), frame=frame), "city"
    )
    assert reg.gaps.set_index("measure").loc["mean prediction", "gap"] > 0.3


# ---- curves, confusion, rows -------------------------------------------------------------------------


def test_curves_lie_on_sklearn_curves_with_at_most_200_points() -> None:
    sc = binary_scored(5000, seed=9)
    m = (sc.frame["city"] == "Paris").to_numpy()
    cur = report.curves(sc, SliceDefinition((Condition("city", "in", values=("Paris",)),)))
    assert list(cur.auc) == ["slice", "rest", "all rows"]
    assert list(report.curves(sc).auc) == ["all rows"]
    for name, sel in (("slice", m), ("rest", ~m), ("all rows", np.ones(sc.n, dtype=bool))):
        roc = cur.roc[cur.roc["set"] == name]
        assert len(roc) <= report.CURVE_POINTS + 1
        s, yy = sc.score[sel], sc.y[sel] == 1
        for _, r in roc.sample(10, random_state=0).iterrows():
            pp = s >= r["threshold"]
            assert r["tpr"] == pytest.approx((pp & yy).sum() / yy.sum())
            assert r["fpr"] == pytest.approx((pp & ~yy).sum() / (~yy).sum())
        assert cur.auc[name][0] == pytest.approx(skm.roc_auc_score(yy, s))
        assert cur.auc[name][1] == pytest.approx(skm.average_precision_score(yy, s))


def test_confusion_matrix_equals_sklearn_with_and_without_threshold() -> None:
    sc = binary_scored(1000, seed=10)
    m = (sc.frame["visits"] > 1).to_numpy()
    sd = SliceDefinition((Condition("visits", "range", lo=2),))  # integer visits: > 1 is ≥ 2
    result = report.confusion_matrix(sc, sd)
    assert result.n_rows == m.sum() and result.threshold is None
    cm = result.to_frame().pivot(index="true", columns="predicted", values="count")
    np.testing.assert_array_equal(
        cm.loc[["no", "yes"], ["no", "yes"]].to_numpy(), skm.confusion_matrix(sc.y[m], sc.pred[m])
    )
    cm3 = report.confusion_matrix(sc, sd, threshold=0.3).table.pivot(
        index="true", columns="predicted", values="count"
    )
    np.testing.assert_array_equal(
        cm3.to_numpy(), skm.confusion_matrix(sc.y[m], (sc.score[m] >= 0.3).astype(int))
    )


def test_worst_rows_come_worst_first() -> None:
    sc = binary_scored(800, seed=11)
    m = (sc.frame["city"] == "Lyon").to_numpy()
    rows = report.worst_rows(sc, SliceDefinition((Condition("city", "in", values=("Lyon",)),)), n=20)
    assert len(rows) == 20 and rows["loss"].is_monotonic_decreasing
    assert rows["loss"].iloc[0] == pytest.approx(sc.row_loss[m].max())
    assert set(rows["position"]) <= set(np.flatnonzero(m))
    assert {"age", "city", "label", "prediction", "score"} <= set(rows.columns)


def _log_loss_scored(n: int, seed: int, shift: float):
    """Binary probabilities with heavy-tailed log loss; the slice a = p AND b = v is ``shift`` logits
    less confident in the true class."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.choice(list("pqrstu"), n), "b": rng.choice(list("vwxy"), n)})
    y = rng.integers(0, 2, n)
    logit = rng.normal(2.0, 1.5, n)
    planted = (frame["a"] == "p").to_numpy() & (frame["b"] == "v").to_numpy()
    logit[planted] -= shift
    p_true = 1 / (1 + np.exp(-logit))
    p1 = np.where(y == 1, p_true, 1 - p_true)
    return make_scored("binary", y, (p1 >= 0.5).astype(int), proba=np.column_stack([1 - p1, p1]), frame=frame)


def test_rank_test_equals_scipy_mann_whitney() -> None:
    sc = _log_loss_scored(2000, 1, 0.5)
    res = report.weak_slices(sc, min_support=50, test="rank")
    loss = sc.row_loss
    checked = 0
    for _, row in res.tested.iterrows():
        conds = dict(part.split(" ∈ ") for part in row["slice"].split(" AND "))
        m = np.ones(sc.n, dtype=bool)
        for col, val in conds.items():
            m &= (sc.frame[col] == val.strip("{}'")).to_numpy()
        want = stats.mannwhitneyu(
            loss[m], loss[~m], alternative="greater", method="asymptotic", use_continuity=False
        )
        assert row["p_value"] == pytest.approx(want.pvalue, rel=1e-9, abs=1e-15)
        assert row["support"] == m.sum()
        checked += 1
    assert checked > 20
    with pytest.raises(AnalysisError, match="test must be"):
        report.weak_slices(sc, test="ks")


@pytest.mark.slow
def test_rank_test_finds_weak_log_loss_slices_more_often_and_keeps_the_fdr() -> None:
    """30 seeded datasets each: null (no slice worse) and a weak planted slice of log loss."""
    found = {"welch": 0, "rank": 0}
    for test in found:
        null_reports = 0
        for seed in range(30):
            null_reports += (
                len(report.weak_slices(_log_loss_scored(3000, seed, 0.0), min_support=50, test=test).slices)
                > 0
            )
            res = report.weak_slices(_log_loss_scored(3000, seed, 0.5), min_support=50, test=test)
            found[test] += any(
                d.conditions[0].column == "a"
                and d.conditions[0].values == ("p",)
                or {c.column for c in d.conditions} == {"a", "b"}
                for d in res.definitions[:3]
            )
        assert null_reports <= 1, (test, null_reports)  # ≤ 5 % of runs (1 of 30 allowed by chance)
    assert found["rank"] >= found["welch"] + 6, found


def test_default_test_is_rank_on_log_loss_and_welch_on_0_1_error() -> None:
    """ "auto" (the default, chosen by benchmarks/bench_discovery_tests.py): the rank test on a continuous
    loss, Welch on a 0/1 loss; the p-values are scipy's Mann–Whitney and Welch respectively."""
    sc = _log_loss_scored(2000, 1, 0.5)
    on_loss = report.weak_slices(sc, min_support=50)
    on_error = report.weak_slices(sc, min_support=50, loss="error")
    assert on_loss.test == "rank" and on_error.test == "welch"
    assert report.weak_slices(sc, min_support=50, test="welch").test == "welch"
    row = on_loss.tested.iloc[0]
    col, val = row["slice"].split(" ∈ ")
    m = (sc.frame[col] == val.strip("{}'")).to_numpy()
    loss = sc.row_loss
    want = stats.mannwhitneyu(
        loss[m], loss[~m], alternative="greater", method="asymptotic", use_continuity=False
    )
    assert row["p_value"] == pytest.approx(want.pvalue, rel=1e-9, abs=1e-15)
    row = on_error.tested.iloc[0]
    col, val = row["slice"].split(" ∈ ")
    m = (sc.frame[col] == val.strip("{}'")).to_numpy()
    err = (~sc.correct).astype(float)
    want = stats.ttest_ind(err[m], err[~m], equal_var=False, alternative="greater")
    assert row["p_value"] == pytest.approx(want.pvalue, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name", ["note", "value", "gap"])
def test_a_column_named_like_the_group_tables_own_columns_is_grouped(name: str) -> None:
    """A data column named ``note`` once raised "cannot insert note, already exists" on the Slices page."""
    y, pred, proba = binary_data(600, seed=3)
    frame = mixed_frame(600, seed=3).rename(columns={"city": name})
    sc = make_scored("binary", y, pred, proba=proba, frame=frame, classes=["no", "yes"])
    rep = report.slice_report(sc, SliceDefinition(), by=[name])
    shown = f"{name} (column)"
    assert report.group_label_column(name) == shown
    acc = rep.by_group[rep.by_group["metric"] == "accuracy"].set_index(shown)
    for city in ("Paris", "Lyon"):
        rows = frame[name].to_numpy() == city
        assert acc.loc[city, "value"] == pytest.approx(skm.accuracy_score(y[rows], pred[rows]))


def test_a_ten_class_confusion_matrix_keeps_a_readable_row_and_every_class_name():
    """At a fixed 220 px a 10-class matrix drawn in a page column had 11 px rows and every other name hidden."""
    from explore.slices.charts import CONFUSION_ROW_PX, confusion_heatmap
    from explore.slices.report import ConfusionMatrix

    classes = [f"klasse-{c}" for c in "ABCDEFGHIJ"]
    table = pd.DataFrame(
        [(t, p, 1, 0.1) for t in classes for p in classes],
        columns=["true", "predicted", "count", "share_of_true"],
    )
    spec = confusion_heatmap(ConfusionMatrix(table, None, 100)).to_dict()
    assert spec["height"] >= CONFUSION_ROW_PX * 10
    enc = spec["layer"][0]["encoding"]
    assert enc["x"]["axis"]["labelOverlap"] is False and enc["y"]["axis"]["labelOverlap"] is False
    binary = table[table["true"].isin(classes[:2]) & table["predicted"].isin(classes[:2])]
    two = confusion_heatmap(ConfusionMatrix(binary, None, 10)).to_dict()
    assert two["height"] == 220  # a binary matrix keeps its size
