"""AppTest of views/importance.py: renders with its trust indicators, follows the controls, the selected row
and the current slice, runs the cross-checks, and says clearly when it cannot apply."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from explore.importance import explain
from explore.report.markdown import md_escape
from explore.slices.definition import Condition, SliceDefinition
from tests.conftest import assert_no_exception, texts
from tests.helpers import FEATURES, frame, make_workspace
from ui import state

PAGE = "views/importance.py"


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def chart_specs(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("vega_lite_chart")]


def local_text(at) -> str:
    return " ".join(m.value for m in at.markdown if m.value.startswith("Row **"))


def test_page_renders_and_follows_controls_row_and_slice(make_app, tiny_workspace):
    at = make_app(PAGE)
    assert_no_exception(at)
    m = metrics(at)
    assert m["Additivity"] == "passed" and m["Explainer"] == "TreeExplainer"
    n_valid = pd.read_csv(tiny_workspace.parent / "validation.csv")["churned"].notna().sum()
    assert m["Rows explained"] == f"{n_valid:,}"  # the tiny dataset is smaller than the default sample
    assert any(md_escape("log-odds of churned = 'yes'") in md.value for md in at.markdown)  # shown as text
    assert any("not the Shapley value of the raw feature" in c.value for c in at.caption)
    assert any(b.label.startswith("Download importance") for b in at.get("download_button"))
    titles = [s.get("title", {}) for s in chart_specs(at)]
    assert len(titles) == 3  # global bars, distribution, dependence

    # the dependence plot follows the chosen feature and colour
    at.selectbox(key="importance_dep_feature").set_value("tenure_months").run()
    at.selectbox(key="importance_dep_color").set_value("contract").run()
    assert_no_exception(at)
    dep = [s for s in chart_specs(at) if "Dependence" in json.dumps(s.get("title", ""))][0]
    assert "tenure_months" in json.dumps(dep) and "contract" in json.dumps(dep)

    # the sample size drives the rows explained
    at.number_input(key="importance_sample_size").set_value(120).run()
    assert_no_exception(at)
    assert metrics(at)["Rows explained"] == "120"

    # the local explanation follows the row selected on the Slices page (by id)
    ids = pd.read_csv(tiny_workspace.parent / "validation.csv")["customer_id"]
    at.session_state[state.SELECTED_ROW] = {"dataset": "validation", "position": 4, "id": ids.iloc[4]}
    at.run()
    assert f"Row **{ids.iloc[4]}**" in local_text(at)
    at.session_state[state.SELECTED_ROW] = {"dataset": "validation", "position": 9, "id": ids.iloc[9]}
    at.run()
    assert f"Row **{ids.iloc[9]}**" in local_text(at)
    assert any("waterfall" in json.dumps(s).lower() or "Why row" in json.dumps(s) for s in chart_specs(at))
    # …or a row typed here
    at.text_input(key="importance_row_input").input(str(ids.iloc[2]))
    at.button(key="importance_row_go").click().run()
    assert f"Row **{ids.iloc[2]}**" in local_text(at)
    assert at.session_state[state.SELECTED_ROW]["id"] == ids.iloc[2]
    at.button(key="importance_attach_local").click().run()
    assert any("Attached as evidence" in m for m in texts(at.success))

    # the current slice: explain it, then compare it with the rest
    sd = SliceDefinition((Condition("device", "in", ("tablet",)),))
    at.session_state[state.SLICE] = sd.to_json()
    at.run()
    radio = at.radio(key="importance_scope")
    assert len(radio.options) == 2
    radio.set_value(f"Current slice: {sd.describe()}").run()  # the option's value (its label is escaped)
    assert_no_exception(at)
    n_slice = (pd.read_csv(tiny_workspace.parent / "validation.csv")["device"] == "tablet").sum()
    assert metrics(at)["Rows explained"] == f"{min(120, n_slice):,}"
    at.button(key="importance_compare").click().run()
    assert_no_exception(at)
    assert any("vs the rest" in json.dumps(s.get("title", "")) for s in chart_specs(at))

    # the permutation cross-check
    at.button(key="importance_perm").click().run()
    assert_no_exception(at)
    rho = metrics(at)["Spearman rank agreement"]
    assert rho != "—" and -1 <= float(rho) <= 1


def test_drop_column_experiment_runs_and_is_saved(make_app):
    at = make_app(PAGE)
    at.number_input(key="importance_drop_k").set_value(1)
    at.number_input(key="importance_drop_folds").set_value(2)
    at.number_input(key="importance_drop_rows").set_value(600).run()
    run = [b for b in at.button if b.key == "importance_drop_run"][0]
    assert run.label == "Run 4 refits"
    run.click().run()
    assert_no_exception(at)
    assert any("Drop-column importance" in json.dumps(s.get("title", "")) for s in chart_specs(at))
    at.run()  # the saved result is shown again without refitting
    assert any("Saved result from" in c.value for c in at.caption)
    at.button(key="importance_attach_drop").click().run()
    assert any("Attached as evidence" in m for m in texts(at.success))
    from explore.core.store import Store

    snaps = Store().list_snapshots(test="data-2")
    assert len(snaps) == 1 and snaps[0]["result"]["metric"] == "roc_auc" and snaps[0]["result"]["folds"] == 2


def test_predictions_only_workspace_gets_a_clear_message(make_app, tmp_path):
    df = frame(300)
    df["pred"] = df["income"].sample(frac=1, random_state=0).to_numpy()
    ws = make_workspace(
        tmp_path / "po",
        model=None,
        columns={"label": "income", "prediction": "pred"},
        datasets={"validation": df},
    )
    at = make_app(PAGE, workspace=ws)
    assert_no_exception(at)
    # a notice (as the Staleness page gives), not an error: the user did nothing wrong
    assert texts(at.error) == []
    assert texts(at.info) == [explain.NO_MODEL.format(dataset="validation")]
    assert at.info[0].icon == ":material/info:"


def test_multiclass_and_regression_pages(make_app, tmp_path):
    at = make_app(PAGE, workspace=make_workspace(tmp_path / "multi", task="multiclass"))
    assert_no_exception(at)
    assert metrics(at)["Additivity"] == "passed"
    assert any("logits" in md.value for md in at.markdown)
    classes = at.selectbox(key="importance_class")
    classes.set_value(classes.options[-1]).run()
    assert_no_exception(at)

    at = make_app(PAGE, workspace=make_workspace(tmp_path / "reg", task="regression"))
    assert_no_exception(at)
    assert metrics(at)["Additivity"] == "passed"
    assert any(md_escape("units of the target 'income'") in md.value for md in at.markdown)


def test_native_categorical_model_uses_the_model_agnostic_explainer(make_app, tmp_path):
    df = frame(400)
    enc = ColumnTransformer(
        [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), ["city"])],
        remainder="passthrough",
    )
    model = Pipeline(
        [("prep", enc), ("clf", HistGradientBoostingClassifier(max_iter=15, categorical_features=[0]))]
    )
    model.fit(df[FEATURES], df["income"])
    ws = make_workspace(
        tmp_path / "hgb", model=model, datasets={"train": df.iloc[:300], "validation": df.iloc[300:]}
    )
    at = make_app(PAGE, workspace=ws)
    assert_no_exception(at)
    at.number_input(key="importance_sample_size").set_value(20).run()
    if any(b.key == "importance_compute" for b in at.button):  # over the auto-run estimate on a slow runner
        at.button(key="importance_compute").click().run()
    assert_no_exception(at)
    m = metrics(at)
    assert m["Additivity"] == "passed" and m["Explainer"] in ("Permutation", "Exact")
    assert any("native categorical" in c.value for c in at.caption)


def test_rows_are_typed_by_position_when_the_workspace_has_no_id_column(make_app, tmp_path):
    at = make_app(
        PAGE, workspace=make_workspace(tmp_path / "noid", columns={"label": "income", "time": "when"})
    )
    assert_no_exception(at)
    assert at.text_input(key="importance_row_input").label == "Row position"
    at.text_input(key="importance_row_input").input("twelve")
    at.button(key="importance_row_go").click().run()
    assert any("type a whole number from 0 to 99; received 'twelve'" in e for e in texts(at.error))
    at.text_input(key="importance_row_input").input("1,2")
    at.button(key="importance_row_go").click().run()
    assert_no_exception(at)
    assert "Row **" in local_text(at) and "(position 12 of 'validation')" in local_text(at)
    assert at.session_state[state.SELECTED_ROW]["position"] == 12
    at.text_input(key="importance_row_input").input("100")
    at.button(key="importance_row_go").click().run()
    assert any("Row position 100 is outside dataset 'validation'" in e for e in texts(at.error))
    assert "(position 12 of 'validation')" in local_text(at)  # the selection stays


def test_a_slice_this_dataset_cannot_take_falls_back_to_all_rows(make_app, tiny_workspace):
    at = make_app(PAGE)
    n_valid = pd.read_csv(tiny_workspace.parent / "validation.csv")["churned"].notna().sum()
    sd = SliceDefinition((Condition("no_such_column", "in", ("x",)),))
    at.session_state[state.SLICE] = sd.to_json()
    at.run()
    at.radio(key="importance_scope").set_value(f"Current slice: {sd.describe()}").run()
    assert_no_exception(at)
    assert any(
        "cannot be applied to dataset 'validation', so all rows are used" in w for w in texts(at.warning)
    )
    assert metrics(at)["Rows explained"] == f"{n_valid:,}"
    # Comparing that slice with the rest says why it cannot, and the rest of the page stays.
    at.button(key="importance_compare").click().run()
    assert_no_exception(at)
    assert any("no_such_column" in e for e in texts(at.error))
    assert metrics(at)["Additivity"] == "passed"
