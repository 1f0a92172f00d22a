"""explore/checks/compare.py: paired tests cross-checked against statsmodels/sklearn, thresholds, planted regressions.

Also holds the in-memory workspace helpers the other Checks test files import (``table_workspace``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from explore.checks import compare
from explore.core.loading import LoadedModel
from explore.core.workspace import Workspace, parse_workspace, score
from explore.errors import AnalysisError, WorkspaceError
from explore.slices.definition import TIME, Condition, SliceDefinition
from explore.slices.grouping import ALL_ROWS, group_column, groupings_for

# ---- in-memory workspaces with models that look predictions up by a key column -----------------------


class LookupClassifier(ClassifierMixin, BaseEstimator):
    """Returns stored probabilities for the row whose ``key`` column it is asked about."""

    def __init__(self, table: np.ndarray | None = None, classes: Any = None) -> None:
        self.table = table
        self.classes = classes

    def fit(self, X: pd.DataFrame, y: Any = None) -> LookupClassifier:
        return self

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(["key", "x"], dtype=object)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.table[X["key"].to_numpy(dtype=int)]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class LookupRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, table: np.ndarray | None = None) -> None:
        self.table = table

    def fit(self, X: pd.DataFrame, y: Any = None) -> LookupRegressor:
        return self

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(["key", "x"], dtype=object)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.table[X["key"].to_numpy(dtype=int)]


def table_workspace(
    frames: dict[str, pd.DataFrame],
    models: dict[str, Any],
    *,
    label: str = "y",
    columns: dict[str, Any] | None = None,
    checks: dict[str, Any] | None = None,
    root: Path = Path("/tmp/explore-test-ws"),
) -> Workspace:
    """An opened workspace built in memory (no files): ``models`` maps names ("current", …) to estimators."""
    data: dict[str, Any] = {
        "columns": {"label": label, **(columns or {})},
        "datasets": {k: f"{k}.csv" for k in frames},
    }
    if models:
        data["model"] = {"path": "model.skops"}
        data["models"] = {k: {"path": f"{k}.skops"} for k in models if k != "current"}
    elif not any(k in data["columns"] for k in ("prediction", "score", "scores")):
        data["columns"]["prediction"] = "pred"
    if checks:
        data["checks"] = checks
    config = parse_workspace(data, root / "workspace.toml")
    loaded = {k: LoadedModel(v, root / f"{k}.skops", f"fp-{k}", "skops", {}) for k, v in models.items()}
    return Workspace(config, loaded, frames)


def binary_world(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows with a group column, a label drawn from a known probability, and that probability."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    group = rng.choice(list("ABCDE"), n)
    p = 1 / (1 + np.exp(-2.0 * x))
    y = np.where(rng.random(n) < p, "yes", "no")
    frame = pd.DataFrame({"key": np.arange(n), "x": x, "group": group, "y": y})
    return frame, p


def proba_table(p_yes: np.ndarray) -> np.ndarray:
    return np.column_stack([1 - p_yes, p_yes])


def flip(p: np.ndarray, rows: np.ndarray) -> np.ndarray:
    out = p.copy()
    out[rows] = 1 - out[rows]
    return out


# ---- the paired engine against sklearn ------------------------------------------------------------------


def _pair(frame: pd.DataFrame, models: dict[str, Any], **kw: Any) -> tuple[Workspace, Any, Any]:
    ws = table_workspace({"validation": frame}, models, **kw)
    return ws, score(ws, "validation", "current"), score(ws, "validation", "previous")


def test_binary_changes_match_sklearn_differences():
    frame, p = binary_world(4000, seed=2)
    rng = np.random.default_rng(5)
    p_prev = np.clip(p + rng.normal(0, 0.15, len(p)), 0.01, 0.99)
    _, a, b = _pair(
        frame,
        {
            "current": LookupClassifier(proba_table(p), ["no", "yes"]),
            "previous": LookupClassifier(proba_table(p_prev), ["no", "yes"]),
        },
    )
    groupings = groupings_for(a, ["group"])
    cells = compare.compare_scored(a, b, groupings, role="previous", metrics=compare.PAIRED_METRICS["binary"])
    top = cells[cells["slice"] == ALL_ROWS].set_index("metric")
    y = frame["y"].to_numpy()
    pa, pb = np.where(p >= 0.5, "yes", "no"), np.where(p_prev >= 0.5, "yes", "no")
    assert top.loc["accuracy", "change"] == pytest.approx(accuracy_score(y, pa) - accuracy_score(y, pb))
    assert top.loc["ROC AUC", "change"] == pytest.approx(
        roc_auc_score(y == "yes", p) - roc_auc_score(y == "yes", p_prev)
    )
    assert top.loc["precision", "change"] == pytest.approx(
        precision_score(y, pa, pos_label="yes") - precision_score(y, pb, pos_label="yes")
    )
    assert top.loc["F1", "change"] == pytest.approx(
        f1_score(y, pa, pos_label="yes") - f1_score(y, pb, pos_label="yes")
    )
    # The change equals the difference of the values explore.stats.metrics reports for each model.
    np.testing.assert_allclose(cells["change"], cells["candidate_value"] - cells["other_value"], atol=1e-12)
    # Every interval contains its point estimate (bootstrap intervals are percentile intervals).
    ok = cells["ci_low"].notna()
    assert (
        (cells.loc[ok, "ci_low"] <= cells.loc[ok, "change"] + 1e-12)
        & (cells.loc[ok, "change"] <= cells.loc[ok, "ci_high"] + 1e-12)
    ).all()
    # The better model (true probabilities) is significantly better on AUC overall.
    assert top.loc["ROC AUC", "ci_low"] > 0 and top.loc["ROC AUC", "p_value"] < 0.01


def test_regression_and_multiclass_changes_match_sklearn():
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    y = 3 * x + rng.normal(size=n)
    frame = pd.DataFrame({"key": np.arange(n), "x": x, "y": y})
    pa, pb = 3 * x, 2.6 * x + 0.3
    _, a, b = _pair(
        frame,
        {"current": LookupRegressor(pa), "previous": LookupRegressor(pb)},
        columns={"task": "regression"},
    )
    cells = compare.compare_scored(
        a, b, groupings_for(a), role="previous", metrics=compare.PAIRED_METRICS["regression"]
    )
    top = cells.set_index("metric")
    assert top.loc["MAE", "change"] == pytest.approx(mean_absolute_error(y, pa) - mean_absolute_error(y, pb))
    assert top.loc["RMSE", "change"] == pytest.approx(
        root_mean_squared_error(y, pa) - root_mean_squared_error(y, pb)
    )
    assert top.loc["R²", "change"] == pytest.approx(r2_score(y, pa) - r2_score(y, pb))
    assert (top["ci_high"] < 0).loc[["MAE", "RMSE"]].all() and top.loc["R²", "ci_low"] > 0

    labels = np.array(["ant", "bee", "cat"])
    truth = rng.integers(0, 3, n)
    logits_a = np.eye(3)[truth] * 1.5 + rng.normal(size=(n, 3))
    logits_b = np.eye(3)[truth] * 0.8 + rng.normal(size=(n, 3))
    soft = lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # noqa: E731
    frame = pd.DataFrame({"key": np.arange(n), "x": 0.0, "y": labels[truth]})
    _, a, b = _pair(
        frame,
        {
            "current": LookupClassifier(soft(logits_a), labels),
            "previous": LookupClassifier(soft(logits_b), labels),
        },
    )
    cells = compare.compare_scored(
        a, b, groupings_for(a), role="previous", metrics=compare.PAIRED_METRICS["multiclass"]
    )
    top = cells.set_index("metric")
    ya, yb = labels[soft(logits_a).argmax(1)], labels[soft(logits_b).argmax(1)]
    assert top.loc["F1", "change"] == pytest.approx(
        f1_score(labels[truth], ya, average="macro") - f1_score(labels[truth], yb, average="macro")
    )
    assert top.loc["accuracy", "ci_low"] > 0 and top.loc["log loss", "ci_high"] < 0


# ---- the report: planted regressions and thresholds --------------------------------------------------------


def test_planted_one_slice_regression_is_flagged_and_noise_is_not():
    frame, p = binary_world(20_000)
    rng = np.random.default_rng(11)
    # Noise: the candidate changes its answer on 3 % of rows everywhere, as many it now gets right as it
    # now gets wrong (real churn between versions, no real loss).
    right = (p >= 0.5) == (frame["y"].to_numpy() == "yes")
    k = int(0.015 * len(p))
    p_cand = flip(
        p,
        np.r_[
            rng.choice(np.flatnonzero(right), k, replace=False),
            rng.choice(np.flatnonzero(~right), k, replace=False),
        ],
    )
    right = (p_cand >= 0.5) == (frame["y"].to_numpy() == "yes")
    # The regression: in group C the candidate gets 10 % of the rows wrong that it would have got right.
    in_c = np.flatnonzero((frame["group"].to_numpy() == "C") & right)
    p_cand = flip(p_cand, rng.choice(in_c, int(0.10 * (frame["group"] == "C").sum()), replace=False))
    ws = table_workspace(
        {"validation": frame},
        {
            "current": LookupClassifier(proba_table(p_cand), ["no", "yes"]),
            "previous": LookupClassifier(proba_table(p), ["no", "yes"]),
        },
    )
    th = compare.parse_thresholds('previous = "previous"\n[metrics.accuracy]\nvs_previous = 0.02\n')
    res = compare.compare_models(ws, slices=["group"], metrics=["accuracy"], thresholds=th)
    cells = res.cells.set_index("slice")
    assert cells.loc["group = C", "status"] == compare.STATUS_FAIL
    assert cells.loc["group = C", "p_value"] < 1e-6
    for g in "ABDE":
        assert cells.loc[f"group = {g}", "status"] != compare.STATUS_FAIL
    assert cells.loc[ALL_ROWS, "status"] != compare.STATUS_FAIL
    assert res.passed is False
    assert "group = C" in res.summary()
    # The differing rows are exactly the rows where the predicted classes differ.
    assert res.n_differing[("validation", "previous")] == int(((p_cand >= 0.5) != (p >= 0.5)).sum())
    assert set(res.differing["candidate_prediction"]) <= {"yes", "no"}


def test_fixed_reference_catches_a_slow_slide_that_per_step_thresholds_miss():
    frame, p = binary_world(40_000, seed=4)
    rng = np.random.default_rng(7)
    right = np.flatnonzero((p >= 0.5) == (frame["y"].to_numpy() == "yes"))
    order = rng.permutation(right)
    step = int(0.01 * len(p))  # each version gets another 1 % of rows wrong
    tables = {f"m{k}": flip(p, order[: k * step]) for k in range(6)}
    models = {"current": LookupClassifier(proba_table(tables["m5"]), ["no", "yes"])}
    models.update(
        {k: LookupClassifier(proba_table(v), ["no", "yes"]) for k, v in tables.items() if k != "m5"}
    )
    ws = table_workspace({"validation": frame}, models)
    th = compare.parse_thresholds("[metrics.accuracy]\nvs_previous = 0.02\nvs_reference = 0.03\n")
    # Each release against its predecessor passes the per-step threshold...
    for k in range(1, 5):
        res = compare.compare_models(
            ws, candidate=f"m{k}", previous=f"m{k - 1}", metrics=["accuracy"], thresholds=th
        )
        assert res.passed is True, res.cells
    last = compare.compare_models(
        ws, candidate="current", previous="m4", reference="m0", metrics=["accuracy"], thresholds=th
    )
    by_role = last.cells.set_index("role")
    assert by_role.loc["previous", "status"] == compare.STATUS_PASS
    assert by_role.loc["reference", "status"] == compare.STATUS_FAIL
    assert by_role.loc["reference", "change"] == pytest.approx(-0.05, abs=1e-9)
    assert last.passed is False


def test_small_slices_are_underpowered_not_failed():
    frame, p = binary_world(400, seed=9)
    rng = np.random.default_rng(2)
    p2 = p.copy()
    rows = rng.choice(len(p), 20, replace=False)
    p2[rows] = rng.random(20)
    ws = table_workspace(
        {"validation": frame},
        {
            "current": LookupClassifier(proba_table(p2), ["no", "yes"]),
            "previous": LookupClassifier(proba_table(p), ["no", "yes"]),
        },
    )
    res = compare.compare_models(ws, slices=["group"], metrics=["accuracy", "ROC AUC"])
    assert (res.cells["status"] != compare.STATUS_FAIL).all()
    assert (res.cells["status"] == compare.STATUS_UNDERPOWERED).any()


def test_gap_threshold_flags_a_slice_far_behind_the_rest():
    frame, p = binary_world(20_000, seed=8)
    rng = np.random.default_rng(3)
    in_e = np.flatnonzero(frame["group"].to_numpy() == "E")
    p_bad = flip(p, rng.choice(in_e, len(in_e) // 4, replace=False))
    ws = table_workspace(
        {"validation": frame},
        {
            "current": LookupClassifier(proba_table(p_bad), ["no", "yes"]),
            "previous": LookupClassifier(proba_table(p_bad), ["no", "yes"]),
        },
    )
    th = compare.parse_thresholds("[metrics.accuracy]\ngap = 0.05\n")
    res = compare.compare_models(ws, slices=["group"], metrics=["accuracy"], thresholds=th)
    gaps = res.gaps.set_index("slice")
    assert gaps.loc["group = E", "status"] == compare.STATUS_FAIL
    assert (gaps.drop(index="group = E")["status"] != compare.STATUS_FAIL).all()
    # Identical models: the paired change is exactly 0 and never fails.
    assert (res.cells["change"] == 0).all() and res.passed is False  # the gap fails the report


def test_saved_slice_definitions_and_overrides():
    frame, p = binary_world(5000, seed=1)
    ws = table_workspace(
        {"validation": frame},
        {
            "current": LookupClassifier(proba_table(p), ["no", "yes"]),
            "previous": LookupClassifier(proba_table(p), ["no", "yes"]),
        },
    )
    saved = SliceDefinition((Condition("group", "in", ("A", "B")),), name="A or B")
    th = compare.parse_thresholds(
        '[metrics.accuracy]\nvs_previous = 0.01\n[[override]]\nmetric = "accuracy"\nslice = "group=B"\nvs_previous = 0.2\n'
        '[[override]]\nmetric = "accuracy"\nslice = "A or B"\nvs_previous = "50%"\n'
    )
    res = compare.compare_models(ws, slices=["group", saved], metrics=["accuracy"], thresholds=th)
    cells = res.cells.set_index("slice")
    assert cells.loc["A or B", "n"] == int(frame["group"].isin(["A", "B"]).sum())
    assert cells.loc["A or B", "threshold"] == "50%"
    assert cells.loc["A or B", "allowed"] == pytest.approx(0.5 * cells.loc["A or B", "other_value"])
    assert cells.loc["group = B", "allowed"] == pytest.approx(0.2)
    assert cells.loc["group = A", "allowed"] == pytest.approx(0.01)


# ---- threshold files ----------------------------------------------------------------------------------


def test_threshold_file_round_trips_and_workspace_reference(tmp_path):
    th = compare.parse_thresholds(
        'previous = "previous"\nreference = "v1"\nconfidence = 0.9\nslices = ["device"]\n'
        '[metrics.roc_auc]\nvs_previous = 0.01\nvs_reference = "2%"\n[metrics.accuracy]\ngap = 0.1\n'
        '[[override]]\nmetric = "log-loss"\ndataset = "production"\nslice = "device"\nvs_previous = "8%"\n'
    )
    assert th.rules[0].metric == "ROC AUC" and th.rules[0].vs_reference.percent == 2
    assert th.rules[2].metric == "log loss" and th.rules[2].slice == "device"
    path = compare.save_thresholds(th, tmp_path / "thresholds.toml")
    text = path.read_text()
    assert text.startswith("# Thresholds for model comparison")
    again = compare.load_thresholds(path)
    assert (
        again.rules == th.rules
        and again.reference == "v1"
        and again.confidence == 0.9
        and again.slices == ("device",)
    )
    # The editor's table round-trips too.
    assert compare.thresholds_from_frame(th.rules_frame(), th).rules == th.rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[metrics.accuracy]\nvs_previous = -0.1\n", "is not valid; use a number ≥ 0"),
        ('[metrics.accuracy]\nvs_previous = "lots"\n', "'lots' is not valid"),
        ("[metrics.accurracy]\nvs_previous = 0.1\n", "names the metric 'accurracy'"),
        ("[metrics.accuracy]\nvs_prev = 0.1\n", "unknown key 'vs_prev'"),
        ("treshold = 1\n", "unknown key 'treshold'"),
        ("confidence = 2\n", "between 0.5 and 0.999"),
        ("[metrics.accuracy\n", "is not valid TOML"),
        ('[[override]]\nslice = "device"\n', 'add metric = "accuracy"'),
    ],
)
def test_bad_threshold_files_get_clear_messages(text, expected):
    with pytest.raises(AnalysisError) as err:
        compare.parse_thresholds(text, source="t.toml")
    assert expected in str(err.value) and "t.toml" in str(err.value)


def test_thresholds_for_reads_the_workspace_file_and_reports_a_missing_one(tmp_path):
    frame, p = binary_world(500)
    models = {"current": LookupClassifier(proba_table(p), ["no", "yes"])}
    ws = table_workspace({"validation": frame}, models, root=tmp_path)
    assert compare.thresholds_for(ws).source == "defaults"
    (tmp_path / "th.toml").write_text("[metrics.accuracy]\nvs_previous = 0.05\n")
    ws = table_workspace({"validation": frame}, models, checks={"thresholds": "th.toml"}, root=tmp_path)
    assert compare.thresholds_for(ws).rules[0].vs_previous.value == 0.05
    with pytest.raises(WorkspaceError, match="does not exist"):
        compare.load_thresholds(tmp_path / "nope.toml")


# ---- bad input -------------------------------------------------------------------------------------------


def test_comparison_needs_two_models_and_known_names():
    frame, p = binary_world(500)
    one = table_workspace({"validation": frame}, {"current": LookupClassifier(proba_table(p), ["no", "yes"])})
    with pytest.raises(AnalysisError, match=r"needs a second model.*\[models.previous\]"):
        compare.compare_models(one)
    two = table_workspace(
        {"validation": frame},
        {
            "current": LookupClassifier(proba_table(p), ["no", "yes"]),
            "previous": LookupClassifier(proba_table(p), ["no", "yes"]),
        },
    )
    with pytest.raises(AnalysisError, match="no model named 'v0'"):
        compare.compare_models(two, reference="v0")
    with pytest.raises(AnalysisError, match="is the candidate itself"):
        compare.compare_models(two, previous="current")
    with pytest.raises(AnalysisError, match="slice column 'colour' is not in dataset"):
        compare.compare_models(two, slices=["colour"])
    with pytest.raises(AnalysisError, match="no dataset named 'test'"):
        compare.compare_models(two, datasets=["test"])
    preds_only = frame.assign(pred=np.where(p > 0.5, "yes", "no"))
    with pytest.raises(AnalysisError, match="predictions-only"):
        compare.compare_models(table_workspace({"validation": preds_only}, {}))


def test_checks_group_a_slice_column_as_the_slices_page_does(tiny_workspace):
    # Checks used to bin columns their own way (quartiles, months, 20 groups): a user saw other groups
    # than on the Slices page. Both use explore.slices.grouping now.
    from explore.core.workspace import open_workspace, read_workspace

    ws = open_workspace(read_workspace(tiny_workspace))
    sc = score(ws, "validation")
    time_column = ws.config.columns.time
    all_rows, device, tenure, when = groupings_for(sc, ["device", "tenure_months", time_column])
    assert all_rows.keys == [ALL_ROWS] and (all_rows.codes == 0).all()
    for g, column in ((device, "device"), (tenure, "tenure_months")):
        same = group_column(sc, column)
        assert g.labels == same.labels and np.array_equal(g.codes, same.codes)
        assert g.keys == [f"{column} = {label}" for label in same.labels]
    assert tenure.kind == "numeric" and tenure.labels[0].startswith("< ")
    # The time column is grouped by its parsed times, as the Slices page groups 'time'.
    by_time = group_column(sc, TIME)
    assert when.column == time_column and when.labels == by_time.labels
    assert np.array_equal(when.codes, by_time.codes)
    assert when.keys[0] == f"{time_column} = {by_time.labels[0]}"


def test_sample_workspace_comparison_runs_and_is_jsonable(tiny_workspace):
    import json

    from explore.core.workspace import open_workspace, read_workspace

    ws = open_workspace(read_workspace(tiny_workspace))
    res = compare.compare_models(ws, slices=["device", "tenure_months"])
    assert set(res.cells["dataset"]) == {"validation", "production"}
    assert set(res.cells["status"]) <= set(compare.STATUSES)
    data = json.loads(json.dumps(res.to_dict()))
    assert data["passed"] in (True, False, None) and data["cells"]
