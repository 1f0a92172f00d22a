"""AppTest for views/slices.py: filter, group-by, datapoint editor, discovery → filter, edge-case slices,
and the page on multiclass, regression and predictions-only workspaces."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from explore.slices.definition import LABEL, Condition, SliceDefinition
from tests.conftest import assert_no_exception, texts
from ui import state

PAGE = "views/slices.py"
VIEWS = [
    "Groups",
    "Curves & threshold",
    "Rows & what-if",
    "Datapoints",
    "Discovery",
    "Fairness",
    "Perturbations",
]


def _suffix(column: str) -> str:
    return f"{zlib.crc32(column.encode('utf-8')):08x}"


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + texts(at.info) + texts(at.warning)
    parts += texts(at.success) + [c.value for c in at.caption]
    return "\n".join(map(str, parts))


def _chart_frames(at) -> list[list]:
    """For each Altair chart on the page, the data frames it ships (decoded from Arrow)."""
    import pyarrow as pa

    out = []
    for chart in at.get("vega_lite_chart"):
        frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
        out.append(frames)
    return out


def _table_with(at, *columns: str):
    """The first st.dataframe whose columns include ``columns`` (plain tables have no key in AppTest)."""
    for df in at.dataframe:
        value = df.value
        if all(c in value.columns for c in columns):
            return value
    raise AssertionError(f"no table with columns {columns}")


def _current_slice(at) -> SliceDefinition:
    return SliceDefinition.from_json(at.session_state[state.SLICE])


def test_filter_group_open_edit_discover_and_load(make_app) -> None:
    at = make_app(PAGE)
    assert_no_exception(at)
    assert not at.error, texts(at.error)

    # Apply a filter through the builder: device ∈ {tablet}.
    at.selectbox(key="slices_add_column").set_value("device").run()
    values = at.multiselect(key=f"slices_add_values_{_suffix('device')}")
    labels = [o.split("  (")[0] for o in values.options]
    values.set_value([labels.index("tablet")]).run()
    at.button(key="slices_add").click().run()
    assert_no_exception(at)
    sd = _current_slice(at)
    assert sd.conditions == (Condition("device", "in", values=("tablet",)),)
    shared = at.query_params["slice"]
    assert (shared[0] if isinstance(shared, list) else shared) == sd.to_query_param()
    assert "device ∈ {'tablet'}" in _texts(at)

    # Group the slice by contract: a table, a bar chart with one bar per group.
    at.radio(key="slices_view").set_value("Groups").run()
    at.multiselect(key="slices_group_by").set_value(["contract"]).run()
    assert_no_exception(at)
    with_labels = [
        f for frames in _chart_frames(at) for f in frames if "label" in f.columns and "worse" in f.columns
    ]
    assert with_labels, "no group chart"
    assert set(with_labels[0]["label"]) == {"month-to-month", "one-year", "two-year"}
    assert (with_labels[0]["ci_low"] <= with_labels[0]["value"]).all()
    # Change the metric shown: still no exception, and "Load into the filter" narrows the slice.
    at.selectbox(key="slices_group_metric").set_value("ROC AUC").run()
    assert_no_exception(at)
    at.button(key="slices_group_load").click().run()
    assert len(_current_slice(at).conditions) == 2

    # Open a datapoint by id, edit it, and see the live prediction and the counterfactual.
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    rows = at.dataframe(key="slices_rows_table").value
    first = rows.iloc[0]
    at.text_input(key="slices_row_id").set_value(str(first["id"])).run()
    at.button(key="slices_open_row").click().run()
    assert_no_exception(at)
    selected = at.session_state[state.SELECTED_ROW]
    assert selected["position"] == int(first["position"]) and selected["id"] == first["id"]
    pos = selected["position"]
    at.number_input(key=f"slices_edit_{pos}_tenure_months").set_value(71).run()
    at.selectbox(key=f"slices_edit_{pos}_contract").set_value("two-year").run()
    assert_no_exception(at)
    assert "after changing tenure_months, contract" in _texts(at)
    cf = _table_with(at, "feature", "counterfactual")
    assert len(cf) >= 1 and set(cf.columns) >= {"feature", "original", "counterfactual"}
    assert any(json.loads(c.proto.spec).get("layer") for c in at.get("vega_lite_chart"))  # the ICE plot

    # Discovery on all rows finds the planted weak slice; load it into the filter.
    at.button(key="slices_clear").click().run()
    at.radio(key="slices_view").set_value("Discovery").run()
    at.number_input(key="slices_min_support").set_value(30).run()
    at.button(key="slices_discover").click().run()
    assert_no_exception(at)
    assert "slices" in _texts(at) and "Benjamini–Hochberg" in _texts(at)
    assert "distinct problem" in _texts(at)
    found = _table_with(at, "slice", "q_value", "effect_size")
    assert "parent" in found.columns
    at.radio(key="slices_disc_test").set_value("rank").run()
    at.button(key="slices_discover").click().run()
    assert_no_exception(at)
    found = _table_with(at, "slice", "q_value", "effect_size")
    assert len(found) >= 1
    assert len(found) >= 1
    pick = len(found) - 1
    at.selectbox(key="slices_disc_pick").set_value(pick).run()
    at.button(key="slices_disc_load").click().run()
    assert_no_exception(at)
    loaded = _current_slice(at)
    assert loaded.describe() == found["slice"].iloc[pick]
    assert "Rows in slice" in [m.label for m in at.metric]


@pytest.mark.parametrize(
    ("name", "slice_def", "expected"),
    [
        (
            "empty",
            SliceDefinition((Condition("tenure_months", "range", lo=10_000, hi=20_000),)),
            "has no rows",
        ),
        (
            "one row",
            SliceDefinition((Condition("customer_id", "in", values=("C0001481",)),)),
            "one-row slice",
        ),
        ("one class", SliceDefinition((Condition(LABEL, "in", values=("yes",)),)), "same true class"),
    ],
)
def test_edge_case_slices_show_messages(
    make_app, name: str, slice_def: SliceDefinition, expected: str
) -> None:
    at = make_app()
    at.session_state[state.SLICE] = slice_def.to_json()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert expected in _texts(at), name
    if name != "empty":
        for view in VIEWS[:3]:
            at.radio(key="slices_view").set_value(view).run()
            assert_no_exception(at)


def test_shared_link_sets_the_slice(make_app) -> None:
    sd = SliceDefinition((Condition("region", "in", values=("South",)),))
    at = make_app()
    at.query_params["slice"] = sd.to_query_param()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    assert _current_slice(at).conditions == sd.conditions


@pytest.mark.parametrize("kind", ["multiclass", "regression", "predictions-only"])
def test_page_on_other_workspaces(make_app, tmp_path: Path, kind: str) -> None:
    from tests.helpers import frame, make_workspace

    if kind == "predictions-only":
        df = frame(300, task="binary")
        df["pred"] = df["income"].where(df.index % 4 != 0, "<=50K")
        path = make_workspace(
            tmp_path,
            model=None,
            datasets={"validation": df},
            columns={"label": "income", "prediction": "pred", "time": "when"},
        )
    else:
        path = make_workspace(tmp_path, task=kind)
    at = make_app(PAGE, workspace=path)
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    for view in VIEWS:
        at.radio(key="slices_view").set_value(view).run()
        assert_no_exception(at)
        assert not at.error, (view, texts(at.error))
        if view == "Discovery":
            # The task's loss is named (a regressor's page said "a rank test on log loss").
            loss = {"regression": "squared error", "multiclass": "log loss", "predictions-only": "0/1 error"}[
                kind
            ]
            assert f"a rank test on {loss}" in _texts(at)
            assert at.radio(key="slices_disc_test").format_func("auto").startswith(f"auto (rank on {loss}")
    if kind == "predictions-only":
        assert "predictions-only" in _texts(at)
    at.radio(key="slices_view").set_value("Groups").run()
    at.multiselect(key="slices_group_by").set_value(["city"]).run()
    assert_no_exception(at)
    assert _table_with(at, "city", "gap").shape[0] == 3


def test_datapoint_set_by_another_page_opens_by_id(make_app) -> None:
    """Other pages may set only the id of the datapoint in focus (position None)."""
    at = make_app()
    at.session_state[state.SELECTED_ROW] = {"dataset": "validation", "position": None, "id": "C0001481"}
    at.switch_page(PAGE).run()
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    assert_no_exception(at)
    assert "Datapoint `C0001481`" in _texts(at)


def test_open_the_counterfactual_row_raises_no_fragment_error(make_app):
    """Regression: the button called st.rerun(scope="fragment"), which raises in a full-app run."""
    at = make_app("views/slices.py")
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    rows = at.dataframe(key="slices_rows_table").value
    first_id = rows["id"].iloc[0] if "id" in rows else rows.iloc[0, 0]
    at.text_input(key="slices_row_id").set_value(str(first_id)).run()
    at.button(key="slices_open_row").click().run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="slices_cf_open").click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_remove_a_condition_then_save_clear_and_load_the_slice_by_name(make_app) -> None:
    tablets = Condition("device", "in", values=("tablet",))
    at = make_app()
    at.session_state[state.SLICE] = SliceDefinition(
        (tablets, Condition("contract", "in", values=("month-to-month",)))
    ).to_json()
    at.switch_page(PAGE).run()
    at.button(key="slices_remove_1").click().run()
    assert_no_exception(at)
    assert _current_slice(at).conditions == (tablets,)

    at.text_input(key="slices_save_name").set_value("  tablets  ").run()
    at.button(key="slices_save").click().run()
    assert "Saved as 'tablets'." in texts(at.success)
    at.button(key="slices_clear").click().run()
    assert _current_slice(at).is_everything and "slice" not in at.query_params

    assert at.selectbox(key="slices_saved_pick").options == ["tablets"]
    at.button(key="slices_load_saved").click().run()
    assert_no_exception(at)
    assert _current_slice(at) == SliceDefinition((tablets,), "tablets")
    shared = at.query_params["slice"]
    assert (shared[0] if isinstance(shared, list) else shared) == _current_slice(at).to_query_param()


def test_a_slice_that_cannot_be_applied_says_why_and_can_be_cleared(make_app) -> None:
    at = make_app()
    at.session_state[state.SLICE] = SliceDefinition((Condition("nope", "in", values=("x",)),)).to_json()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    assert texts(at.error) == [
        "The slice filters on column 'nope', which dataset 'validation' does not have. Remove that condition."
    ]
    assert not at.metric, "the page stops before the summary"
    at.button(key="slices_clear_bad").click().run()
    assert_no_exception(at)
    assert not at.error and _current_slice(at).is_everything
    assert "Rows in slice" in [m.label for m in at.metric]


def test_opening_a_row_by_an_unknown_or_empty_id_says_what_to_do(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    at.button(key="slices_open_row").click().run()
    assert texts(at.error) == ["Type an id first."]
    at.text_input(key="slices_row_id").set_value(" nope ").run()
    at.button(key="slices_open_row").click().run()
    assert_no_exception(at)
    (said,) = texts(at.error)
    assert said.startswith("No row of dataset 'validation' has the id 'nope' in column 'customer_id' (its ")
    assert state.SELECTED_ROW not in at.session_state


def test_threshold_metrics_and_the_cheapest_threshold_for_the_costs(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="slices_view").set_value("Curves & threshold").run()
    at.slider(key="slices_threshold").set_value(0.3).run()
    at.number_input(key="slices_cost_fn").set_value(5.0).run()
    at.selectbox(key="slices_threshold_by").set_value("contract").run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    shown = _texts(at)
    assert "the cost per row is lowest at threshold" in shown and "at 0.3)" in shown
    by_contract = _table_with(at, "group", "cost_at_current")
    assert set(by_contract["group"]) == {"month-to-month", "one-year", "two-year"}


def test_fairness_warns_about_gaps_above_the_acceptable_gap(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="slices_view").set_value("Fairness").run()
    at.selectbox(key="slices_fair_column").set_value("region").run()
    at.number_input(key="slices_fair_threshold").set_value(0.0).run()
    assert_no_exception(at)
    gaps = _table_with(at, "measure", "exceeds")
    assert gaps["exceeds"].any()
    assert any(w.startswith("Above your threshold: ") for w in texts(at.warning))


def test_fairness_starts_on_a_feature_not_the_label_without_checks_slices(make_app, tmp_path) -> None:
    """A workspace without [checks] slices opened Fairness on the true class: "gaps" that are the classes' rates."""
    from tests.helpers import make_workspace

    at = make_app(PAGE, workspace=make_workspace(tmp_path / "ws"))
    at.radio(key="slices_view").set_value("Fairness").run()
    assert_no_exception(at)
    assert at.selectbox(key="slices_fair_column").value == "city"  # the categorical feature


def test_a_regressors_fairness_gap_is_in_label_units_with_a_stated_default(make_app, tmp_path) -> None:
    """A 0.1 default in label units put every regressor "above your threshold": the default is now 0.2 standard
    deviations of the label, in its units, and the page says so."""
    import numpy as np

    from explore.core.workspace import open_workspace, read_workspace, score
    from explore.slices.report import fairness_threshold_text, regression_gap_default
    from tests.helpers import make_workspace
    from ui.safe import md_text

    path = make_workspace(tmp_path / "ws", task="regression")
    y = score(open_workspace(read_workspace(path)), "validation").y
    default = regression_gap_default(float(np.nanstd(y, ddof=1)))
    assert default > 1  # the label is an income: a gap of 0.1 is nothing
    at = make_app(PAGE, workspace=path)
    at.radio(key="slices_view").set_value("Fairness").run()
    assert_no_exception(at)
    box = at.number_input(key=f"slices_fair_threshold_regression_{default:g}")
    assert box.value == default and "label units" in box.label
    shown = _texts(at)
    stated = fairness_threshold_text("regression", default, float(np.nanstd(y, ddof=1)))
    assert "in the label's units" in stated and "0.2 × the label's standard deviation" in stated
    assert md_text(stated) in shown
    gaps = _table_with(at, "measure", "exceeds")
    assert list(gaps["exceeds"]) == list(gaps["gap"] > default)


def test_a_perturbation_check_reports_its_violations(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="slices_view").set_value("Perturbations").run()
    at.selectbox(key="slices_pert_feature").set_value("tenure_months").run()
    at.radio(key="slices_pert_mode").set_value("shift by").run()
    at.button(key="slices_pert_run").click().run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert "expectation *invariant*" in _texts(at)
    assert len(_table_with(at, "before", "after", "violation")) >= 1


def test_discovery_says_when_its_settings_changed_since_the_run(make_app) -> None:
    at = make_app(PAGE)
    at.radio(key="slices_view").set_value("Discovery").run()
    at.number_input(key="slices_min_support").set_value(30).run()
    at.button(key="slices_discover").click().run()
    stale = "The settings changed since the last run"
    assert stale not in _texts(at)
    at.number_input(key="slices_fdr").set_value(0.1).run()
    assert_no_exception(at)
    assert stale in _texts(at)
    assert "Tested **" in _texts(at), "the last results stay on the page"


def test_datapoint_editor_sets_a_number_missing_and_offers_every_level(make_app, tmp_path, monkeypatch):
    """A numeric field can be set to missing (the model imputes it), a categorical one offers all of its
    2,100 levels (searchable), and past columns.MAX_PICKED_LEVELS the level is typed and checked."""
    from explore.slices import columns
    from tests.helpers import frame, make_workspace

    df = frame(2500, seed=4)
    df["city"] = [f"town{i % 2100}" for i in range(len(df))]
    df.loc[df.index[:5], "hours"] = 41.0  # the row we open has a value to remove
    path = make_workspace(
        tmp_path / "levels", datasets={"train": df.iloc[2200:], "validation": df.iloc[:2200]}
    )
    at = make_app(PAGE, workspace=path)
    at.radio(key="slices_view").set_value("Rows & what-if").run()
    at.text_input(key="slices_row_id").set_value(str(df["row_id"].iloc[0])).run()
    at.button(key="slices_open_row").click().run()
    assert_no_exception(at)
    pos = at.session_state[state.SELECTED_ROW]["position"]
    assert pos == 0

    city = at.selectbox(key=f"slices_edit_{pos}_city")
    assert len(city.options) == 2101 and "(missing)" in city.options  # every level, then missing
    at.selectbox(key=f"slices_edit_{pos}_city").set_value("town2099").run()
    assert "after changing city" in _texts(at)

    assert at.number_input(key=f"slices_edit_{pos}_hours").value == 41.0
    at.checkbox(key=f"slices_edit_{pos}_hours_missing").check().run()
    assert_no_exception(at)
    assert at.number_input(key=f"slices_edit_{pos}_hours").disabled
    assert "after changing hours, city" in _texts(at)  # hours 41 → missing, predicted by the model

    # Past the list's limit: a text entry checked against the levels, the message naming the problem.
    monkeypatch.setattr(columns, "MAX_PICKED_LEVELS", 1000)
    at.run()
    at.text_input(key=f"slices_edit_{pos}_city").set_value("town 12").run()
    assert_no_exception(at)
    errors = texts(at.error)
    assert any("'city' has no level 'town 12' (it has 2,100 levels; closest: 'town12'" in e for e in errors)
    at.text_input(key=f"slices_edit_{pos}_city").set_value("town12").run()
    assert not texts(at.error) and "after changing hours, city" in _texts(at)


def test_the_slice_share_is_a_caption_not_an_arrow(make_app) -> None:
    """ "↑100.0% of 700" read as a rise: the share of rows in the slice is not a metric's delta."""
    at = make_app(PAGE)
    assert_no_exception(at)
    rows = next(m for m in at.metric if m.label == "Rows in slice")
    assert not rows.proto.delta
    assert any(" of " in c.value and c.value.endswith(" rows") and "%" in c.value for c in at.caption)


def test_discovery_table_numbers_stay_readable_for_a_price_model() -> None:
    """A heavy-tailed price's squared error (5.8e13) showed as 57728020337759.7734 with four decimals."""
    import pandas as pd

    from ui.panels.slices.discovery import number_formats

    def table(v: float) -> pd.DataFrame:
        return pd.DataFrame({"loss": [v], "rest_loss": [v / 3], "metric_slice": [1.0], "metric_rest": [0.5]})

    assert number_formats(table(5.77e13)) == ("%.4e", "%+.4e")
    assert number_formats(table(0.558)) == ("%.4f", "%+.4f")
    assert number_formats(table(float("nan"))) == ("%.4f", "%+.4f")
