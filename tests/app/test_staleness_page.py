"""AppTest for views/staleness.py: window controls, performance over time, a small staleness experiment
(run, then reloaded from the store), the drift heatmap, invariants, and the page on predictions-only,
regression, multiclass and time-less workspaces."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from tests.conftest import assert_no_exception, texts, unescaped
from tests.helpers import frame, make_workspace

PAGE = "views/staleness.py"


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + texts(at.info) + texts(at.warning)
    parts += texts(at.success) + [c.value for c in at.caption] + texts(at.error)
    return "\n".join(map(str, parts))


def _charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _chart_rows(at, title_part: str) -> list:
    """The data rows of the first chart whose (possibly nested) title contains ``title_part``."""
    import pyarrow as pa

    for chart in at.get("vega_lite_chart"):
        if title_part in chart.proto.spec:
            frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
            return frames
    raise AssertionError(f"no chart with {title_part!r}")


def _heatmap(at) -> dict:
    for spec in _charts(at):
        if spec.get("mark", {}).get("type") == "rect" and "feature" in json.dumps(spec.get("encoding", {})):
            return spec
    raise AssertionError("no drift heatmap on the page")


def test_windows_performance_experiment_and_heatmap(make_app):
    at = make_app(PAGE)
    assert_no_exception(at)
    assert [s.value for s in at.subheader] == [
        "Performance over time",
        "Performance without labels",
        "Staleness experiment",
        "Drift per feature",
        "Data invariants per window",
    ]
    assert "24 windows over 3,000 rows" in _texts(at)  # all datasets, by calendar month
    heat = _heatmap(at)
    assert heat["encoding"]["color"]["field"] == "psi"
    frames = _chart_rows(at, "per feature and window")
    assert len(frames[0]) == 15 * 24  # features x windows, aggregated
    assert any(
        t.value.startswith("Every window") or "windows break a threshold" in t.value
        for t in [*at.success, *at.warning]
    )

    # change the window size: calendar quarters -> 8 windows
    at.selectbox(key="staleness_window_by").set_value("quarter").run()
    assert_no_exception(at)
    assert "8 windows over 3,000 rows" in _texts(at)
    auc = _chart_rows(at, "ROC AUC per window")[0]
    assert len(auc) == 8 and auc["value"].between(0.5, 1).all()

    # a small staleness experiment on monthly windows
    at.selectbox(key="staleness_window_by").set_value("month").run()
    at.number_input(key="staleness_span").set_value(3).run()
    at.multiselect(key="staleness_cutoffs").set_value([3, 6, 9]).run()
    at.number_input(key="staleness_horizon").set_value(3).run()
    at.button(key="staleness_run").click().run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    sentence = [m.value for m in [*at.warning, *at.success] if "training" in m.value or "cutoff" in m.value]
    assert sentence and ("This model loses" in sentence[0] or "No training cutoff went stale" in sentence[0])
    assert "Staleness gap" in json.dumps(_charts(at))
    curves = _chart_rows(at, "Staleness gap")
    assert any(len(f) == 12 for f in curves)  # 3 cutoffs x ages 0..3
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cutoffs that went stale"].endswith("of 3")

    # changing the threshold re-reads the saved fits; a rerun of the page loads the saved result
    at.number_input(key="staleness_threshold_gap_ROC AUC").set_value(0.5).run()
    assert_no_exception(at)
    assert "Saved result from" in _texts(at)
    assert "No training cutoff went stale" in _texts(at)

    # too few cutoffs: said up front, and the run button is disabled
    at.multiselect(key="staleness_cutoffs").set_value([3, 6]).run()
    assert_no_exception(at)
    assert any("at least 3 training cutoffs" in w for w in texts(at.warning))
    assert at.button(key="staleness_run").disabled


def test_predictions_only_workspace_explains_the_experiment_and_shows_performance(make_app, tmp_path):
    df = frame(600, seed=2)
    rng = np.random.default_rng(2)
    df["p"] = np.clip(0.5 + 0.3 * ((df["income"] == ">50K") - 0.5) + rng.normal(0, 0.2, len(df)), 0, 1)
    path = make_workspace(
        tmp_path,
        model=None,
        datasets={"train": df.iloc[:300], "production": df.iloc[300:]},
        columns={"label": "income", "time": "when", "score": "p", "positive": ">50K"},
    )
    at = make_app(PAGE, workspace=path)
    assert_no_exception(at)
    texts = _texts(at)
    assert "predictions-only mode" in texts and "refits the model" in texts
    assert _chart_rows(at, "ROC AUC per window")
    _heatmap(at)


def test_page_on_regression_and_multiclass_workspaces(make_app, tmp_path):
    for task in ("regression", "multiclass"):
        df = frame(500, task=task, seed=3)
        path = make_workspace(
            tmp_path / task, task=task, datasets={"train": df.iloc[:250], "production": df.iloc[250:]}
        )
        at = make_app(PAGE, workspace=path)
        assert_no_exception(at)
        assert not at.error, texts(at.error)
        metric = "MAE" if task == "regression" else "accuracy"
        assert _chart_rows(at, f"{metric} per window")
        _heatmap(at)


def test_workspace_without_time_column_gets_a_message(make_app, tmp_path):
    path = make_workspace(tmp_path, columns={"label": "income", "id": "row_id"})
    at = make_app(PAGE, workspace=path)
    assert_no_exception(at)
    assert any("needs a time column" in i and "[columns] time" in i for i in texts(at.info))
    assert not at.get("vega_lite_chart")


class OpaqueModel(ClassifierMixin, BaseEstimator):
    """A fitted in-house wrapper that predicts but cannot be cloned: its constructor argument is not kept
    as an attribute, so ``get_params`` (and ``sklearn.base.clone``) fail."""

    def __init__(self, scorer_path: str = "scorer.bin") -> None:
        self._loaded_from = scorer_path
        self.classes_ = np.array(["<=50K", ">50K"])
        self.feature_names_in_ = np.array(["age", "hours", "city"], dtype=object)

    def predict(self, X):
        return np.where(self.predict_proba(X)[:, 1] >= 0.5, ">50K", "<=50K")

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-(np.asarray(X["age"], dtype=float) - 45) / 15))
        return np.column_stack([1 - p, p])


def test_model_that_cannot_be_cloned_gets_a_message_and_performance_still_shows(make_app, tmp_path):
    df = frame(500, seed=4)
    path = make_workspace(
        tmp_path,
        model=OpaqueModel(),
        model_name="model.joblib",
        datasets={"train": df.iloc[:250], "production": df.iloc[250:]},
        columns={"label": "income", "time": "when", "id": "row_id", "features": ["age", "hours", "city"]},
        extra_sections={"model": {"path": "model.joblib", "trust_pickle": True}},
    )
    at = make_app(PAGE, workspace=path)
    assert_no_exception(at)
    assert any("cannot be cloned for refitting" in w for w in texts(at.warning)), _texts(at)
    assert _chart_rows(at, "ROC AUC per window")
    _heatmap(at)


def test_cutoffs_reset_when_the_windows_change(make_app):
    """Regression: cutoff picks (window indices) survived a change of window kind and disabled the run."""
    at = make_app("views/staleness.py")
    before = list(at.multiselect(key="staleness_cutoffs").value)
    at.selectbox(key="staleness_window_by").set_value("week").run()
    assert not at.exception
    after = at.multiselect(key="staleness_cutoffs").value
    assert len(after) >= 3 and after != before


def _support(at) -> int:
    return int(_chart_rows(at, "Support: labelled rows per window")[0]["support"].sum())


def test_current_slice_restricts_performance_to_its_rows(make_app):
    from explore.slices.definition import Condition, SliceDefinition

    at = make_app(PAGE)
    everyone = _support(at)
    assert not any(c.key == "staleness_in_slice" for c in at.checkbox)  # no slice: no checkbox
    sd = SliceDefinition((Condition("contract", "in", ("month-to-month",)),))
    at.session_state["slice_json"] = sd.to_json()
    at.run()
    box = at.checkbox(key="staleness_in_slice")
    assert unescaped(box.label) == f"Only the current slice: {sd.describe()}" and not box.value
    assert _support(at) == everyone
    box.check().run()
    assert_no_exception(at)
    assert 0 < _support(at) < everyone


def test_sidebar_dataset_alone_is_cut_into_windows(make_app):
    at = make_app(PAGE)
    at.selectbox(key="staleness_data").set_value("sidebar").run()
    assert_no_exception(at)
    assert "windows over 383 rows of validation." in _texts(at)
    assert not at.error


def test_a_window_as_reference_and_the_distance_heatmap(make_app):
    at = make_app(PAGE)
    assert "7 of 24 windows break a threshold." in _texts(at)  # against the training data
    ref = at.selectbox(key="staleness_reference")
    assert ref.value == "train"
    ref.set_value("window 2024-10").run()
    assert_no_exception(at)
    assert "23 of 24 windows break a threshold." in _texts(at)  # against one month
    at.radio(key="staleness_measure").set_value("distance").run()
    assert_no_exception(at)
    assert _heatmap(at)["encoding"]["color"]["field"] == "distance"
    # a remembered window that the new layout does not have: invariants fall back to the training data
    at.selectbox(key="staleness_window_by").set_value("quarter").run()
    assert_no_exception(at)
    assert at.selectbox(key="staleness_reference").value == "train"
    assert "3 of 8 windows break a threshold." in _texts(at)


def test_looser_invariant_thresholds_clear_the_windows(make_app):
    at = make_app(PAGE)
    for key in ("staleness_th_null", "staleness_th_range", "staleness_th_unseen"):
        at.number_input(key=key).set_value(100.0)
    at.number_input(key="staleness_th_outputs").set_value(1_000_000).run()
    assert_no_exception(at)
    assert "Every window keeps the invariants." in texts(at.success)


def test_a_cancelled_run_is_said_once_and_nothing_is_saved(make_app):
    at = make_app(PAGE)
    at.session_state["staleness_cancelled"] = True  # what the Cancel button's callback leaves behind
    at.run()
    assert_no_exception(at)
    assert "The experiment was cancelled; nothing was saved." in texts(at.info)
    assert at.button(key="staleness_run").label == "Run the experiment"
    at.run()
    assert not any("cancelled" in i for i in texts(at.info))


def test_estimate_without_labels_next_to_realised(make_app, tmp_path):
    """Production's last rows have no label yet: the estimate goes on alone there, the realised metric stops,
    the reliability curve and the assumption are shown, and another metric and reference redraw it."""
    df = frame(1600, seed=5)
    prod = df.iloc[400:].copy()
    prod.loc[prod.index[-500:], "income"] = np.nan
    ws = make_workspace(tmp_path / "late", datasets={"train": df.iloc[:400], "production": prod})
    at = make_app(PAGE, workspace=ws)
    assert_no_exception(at)
    text = _texts(at)
    assert "assumes no concept drift" in text
    assert "1,100 labelled and 500 unlabelled rows" in text
    frames = _chart_rows(at, "estimated from the scores vs realised")
    rows = pd.concat(frames)
    last = rows[rows["start"] == rows["start"].max()]
    assert set(last["part"]) == {"unlabelled rows: estimated"}
    assert "labelled rows: realised" in set(rows["part"])
    curve = pd.concat(_chart_rows(at, "Reliability on the reference"))
    assert {"raw scores", "calibrated (platt, out of fold)", "calibrated (isotonic, out of fold)"} & set(
        curve["stage"].dropna()
    )
    at.selectbox(key="staleness_estimate_metric").set_value("ROC AUC").run()
    at.selectbox(key="staleness_estimate_reference").set_value(2).run()
    assert_no_exception(at)
    assert "ROC AUC: estimated from the scores vs realised" in json.dumps(_charts(at))
    assert "calibrated on 2024" in _texts(at)


def test_estimate_on_a_regressor_says_it_is_for_classifiers(make_app, tmp_path):
    ws = make_workspace(
        tmp_path / "reg", task="regression", datasets={"train": frame(400, task="regression")}
    )
    at = make_app(PAGE, workspace=ws)
    assert_no_exception(at)
    assert "is for classifiers" in _texts(at)


def test_too_few_labels_for_an_estimate_is_said_as_information_not_an_error(make_app, tmp_path):
    """A 30-row workspace: the page showed a red error on load for a section that simply does not apply."""
    df = frame(60)
    ws = make_workspace(tmp_path / "ws", datasets={"train": df.iloc[:30], "validation": df.iloc[30:]})
    at = make_app("views/staleness.py", workspace=ws)
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert any("fewer than the 200 needed to calibrate" in t for t in texts(at.info)), texts(at.info)
