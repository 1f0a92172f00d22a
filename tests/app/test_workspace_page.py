"""AppTest of views/workspace.py (the home page): what is open, switching, trust prompts, uploads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from explore.core.upload import toml_text
from tests.conftest import assert_no_exception, texts, unescaped
from tests.core.test_fuzz import tables
from tests.helpers import BAD_INPUT_MESSAGES, bad_input_workspace, frame, make_workspace


def _texts(at) -> str:
    parts = (
        [m.value for m in at.markdown] + [c.value for c in at.caption] + texts(at.error) + texts(at.warning)
    )
    return "\n".join(str(p) for p in parts)


def _upload(at, model: Path, data: Path) -> None:
    """Put a model file and one CSV data file in the Workspace page's upload form (the run is the caller's)."""
    at.file_uploader(key="workspace_upload_model").set_value(
        (model.name, model.read_bytes(), "application/octet-stream")
    )
    at.file_uploader(key="workspace_upload_data").set_value([(data.name, data.read_bytes(), "text/csv")])


def test_home_shows_workspace_and_metrics(make_app):
    at = make_app()
    assert_no_exception(at)
    assert at.title[0].value == "Workspace"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Task"] == "binary"
    tables = [df.value for df in at.dataframe]
    wide = next(t for t in tables if "validation" in t.columns and "accuracy" in t.index)
    assert 0.5 < wide.loc["accuracy", "validation"] <= 1.0
    assert "ROC AUC" in wide.index and "log loss" in wide.index
    # sidebar: switch model version, then the metrics follow
    at.sidebar.selectbox(key="ws_model").set_value("previous").run()
    assert_no_exception(at)
    wide2 = next(df.value for df in at.dataframe if "accuracy" in getattr(df.value, "index", []))
    assert wide2.loc["accuracy", "validation"] != wide.loc["accuracy", "validation"]


def test_bad_workspace_path_shows_message(make_app, tmp_path):
    at = make_app()
    at.text_input(key="workspace_path_input").set_value(str(tmp_path / "nothing.toml"))
    at.button[0].click()  # the form's submit button
    at.run()
    assert_no_exception(at)
    assert any("does not exist" in e for e in texts(at.error))


def test_untrusted_skops_types_need_a_tick_each(make_app, tmp_path):
    path = make_workspace(tmp_path)
    text = path.read_text()
    # Forget the trusted types: the page must list them and ask.
    import re

    path.write_text(re.sub(r"trusted_types = \[[^\]]*\]", "trusted_types = []", text))
    from explore.core.loading import untrusted_types

    found = untrusted_types(tmp_path / "model.skops")
    if not found:
        pytest.skip("this skops version trusts every type in the test pipeline")
    at = make_app(workspace=path)
    assert any("does not trust by default" in w for w in texts(at.warning))
    accept = at.button(key="workspace_accept_types")
    assert accept.disabled
    for t in found:
        at.checkbox(key=f"workspace_trust_current_{t}").check()
    at.run()
    at.button(key="workspace_accept_types").click().run()
    assert_no_exception(at)
    assert any(m.label == "Task" for m in at.metric)


def test_pickle_needs_explicit_trust(make_app, tmp_path):
    from tests.core.test_loading import _fitted

    path = make_workspace(tmp_path, model=_fitted(), model_name="m.joblib")
    at = make_app(workspace=path)
    assert any("unpickling executes code" in w for w in texts(at.warning))
    assert at.button(key="workspace_load_pickle").disabled
    at.checkbox(key="workspace_trust_pickle_current").check().run()
    at.button(key="workspace_load_pickle").click().run()
    assert_no_exception(at)
    assert any(m.label == "Task" for m in at.metric)


def test_upload_csv_and_skops_opens(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    src = make_workspace(tmp_path / "src").parent
    at = make_app()
    _upload(at, src / "model.skops", src / "validation.csv")
    at.run()
    assert_no_exception(at)
    at.selectbox(key="workspace_up_label").set_value("income")
    at.selectbox(key="workspace_up_id").set_value("row_id")
    at.button(key="workspace_up_open").click().run()
    assert_no_exception(at)
    # skops types of the uploaded model may need acceptance; accept each if asked
    if any(b.key == "workspace_accept_types" for b in at.button):
        for cb in at.checkbox:
            cb.check()
        at.run()
        at.button(key="workspace_accept_types").click().run()
    assert_no_exception(at)
    assert Path(at.session_state["ws_path"]).parent.parent == tmp_path / "uploads"
    assert any(m.label == "Task" and m.value == "binary" for m in at.metric)


def test_skops_types_accepted_on_upload_are_saved_so_reopening_does_not_ask(make_app, tmp_path, monkeypatch):
    """An uploaded skops model's accepted types were saved as trusted_types = [], so every new session asked
    again. The form now asks before saving and writes the ticked types to the workspace."""
    import tomllib

    from explore.core.loading import untrusted_types

    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    src = make_workspace(tmp_path / "src").parent
    found = untrusted_types(src / "model.skops")
    if not found:
        pytest.skip("this skops version trusts every type in the test pipeline")
    at = make_app()
    _upload(at, src / "model.skops", src / "validation.csv")
    at.run()
    for t in found:
        at.checkbox(key=f"workspace_up_trust_type_{t}").check()
    at.selectbox(key="workspace_up_label").set_value("income")
    at.selectbox(key="workspace_up_id").set_value("row_id")
    at.button(key="workspace_up_open").click().run()
    assert_no_exception(at)
    assert not any(b.key == "workspace_accept_types" for b in at.button)  # nothing left to ask
    assert any(m.label == "Task" and m.value == "binary" for m in at.metric)
    toml = Path(at.session_state["ws_path"])
    toml = toml if toml.suffix == ".toml" else toml / "workspace.toml"
    assert tomllib.loads(toml.read_text())["model"]["trusted_types"] == found
    # Reopened in a new session: it opens without asking.
    again = make_app(workspace=toml)
    assert_no_exception(again)
    assert not any("does not trust by default" in w for w in texts(again.warning))
    assert any(m.label == "Task" and m.value == "binary" for m in again.metric)


def test_upload_malformed_csv_shows_message(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    at = make_app()
    at.file_uploader(key="workspace_upload_data").set_value(
        [("bad.csv", "name\nJosé\n".encode("latin-1"), "text/csv")]
    )
    at.run()
    assert_no_exception(at)
    assert any("not valid UTF-8" in e for e in texts(at.error))


def test_upload_over_limit_shows_message(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("EXPLORE_MAX_UPLOAD_MB", "1")
    at = make_app()
    big = b"a,b\n" + b"1,2\n" * 400_000
    at.file_uploader(key="workspace_upload_data").set_value([("big.csv", big, "text/csv")])
    at.run()
    assert_no_exception(at)
    assert any("over the upload limit of 1 MB" in e for e in texts(at.error))


def test_opening_another_workspace_forgets_the_shared_choices(make_app, tiny_copy):
    at = make_app()
    before = at.session_state["ws_path"]
    for key, value in {
        "ws_dataset": "production",
        "ws_model": "previous",
        "slice_json": '{"conditions": []}',
        "selected_row": {"dataset": "validation", "position": 3, "id": "c-3"},
    }.items():
        at.session_state[key] = value
    at.text_input(key="workspace_path_input").set_value(str(tiny_copy.parent))  # a folder is fine too
    at.button[0].click()  # the form's submit button
    at.run()
    assert_no_exception(at)
    assert at.session_state["ws_path"] == str(tiny_copy.parent) != before
    assert "slice_json" not in at.session_state and "selected_row" not in at.session_state
    # the sidebar starts again from the new workspace's defaults
    assert at.session_state["ws_dataset"] == "validation" and at.session_state["ws_model"] == "current"
    assert at.session_state["ws_accepted_types"] == {} and at.session_state["ws_trusted_pickles"] == []
    assert unescaped(at.caption[1].value) == str(tiny_copy)
    assert any(m.label == "Task" and m.value == "binary" for m in at.metric)


def test_uploaded_pickle_asks_for_trust_before_it_loads(make_app, tmp_path, monkeypatch):
    from tests.core.test_loading import _fitted

    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    src = make_workspace(tmp_path / "src", model=_fitted(), model_name="m.joblib").parent
    at = make_app()
    _upload(at, src / "m.joblib", src / "validation.csv")
    at.run()
    assert_no_exception(at)
    assert at.selectbox(key="workspace_up_label").value == "income"  # a usual label name is proposed
    at.checkbox(key="workspace_up_trust_pickle").check()
    at.selectbox(key="workspace_up_id").set_value("row_id")
    at.button(key="workspace_up_open").click().run()
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert Path(at.session_state["ws_path"]).parent.parent == tmp_path / "uploads"
    assert any(m.label == "Task" and m.value == "binary" for m in at.metric)


def test_regression_workspace_shows_the_label_mean_instead_of_class_shares(make_app, tmp_path):
    from tests.helpers import frame

    df = frame(400, task="regression", seed=1)
    path = make_workspace(
        tmp_path, task="regression", datasets={"train": df.iloc[:300], "validation": df.iloc[300:]}
    )
    at = make_app(workspace=path)
    assert_no_exception(at)
    datasets = next(d.value for d in at.dataframe if "label mean" in getattr(d.value, "columns", []))
    assert list(datasets["dataset"]) == ["train", "validation"]
    assert datasets.loc[1, "label mean"] == pytest.approx(df["income"].iloc[300:].mean())
    wide = next(d.value for d in at.dataframe if "MAE" in getattr(d.value, "index", []))
    assert list(wide.columns) == ["train", "validation"]


# ---- the five bad inputs that raised on this page (issue 19) ----------------------------------------


def _page_says_why(make_app, tmp_path: Path, kind: str):
    """The page on the bad workspace: no exception box, one error naming what is wrong and the fix."""
    at = make_app(workspace=bad_input_workspace(tmp_path / "ws", kind))
    assert_no_exception(at)
    errors = texts(at.error)
    assert any(all(part in e for part in BAD_INPUT_MESSAGES[kind]) for e in errors), errors
    return at


def _train_metrics_still_shown(at) -> None:
    wide = next(df.value for df in at.dataframe if "accuracy" in getattr(df.value, "index", []))
    assert list(wide.columns) == ["train"]  # validation could not be scored; train's metrics are there


def test_numeric_feature_holding_strings_in_one_dataset_shows_an_error_not_a_keyerror(make_app, tmp_path):
    _train_metrics_still_shown(_page_says_why(make_app, tmp_path, "text_in_numeric_feature"))


def test_feature_with_values_near_1e308_shows_an_error_not_a_keyerror(make_app, tmp_path):
    _train_metrics_still_shown(_page_says_why(make_app, tmp_path, "feature_near_1e308"))


def test_nans_in_a_feature_of_a_model_without_an_imputer_show_an_error_not_a_keyerror(make_app, tmp_path):
    _train_metrics_still_shown(_page_says_why(make_app, tmp_path, "nan_without_imputer"))


def test_predictions_only_score_column_holding_text_shows_an_error_not_a_valueerror(make_app, tmp_path):
    _page_says_why(make_app, tmp_path, "text_score")


def test_data_file_that_is_a_symlink_loop_shows_an_error_not_a_runtimeerror(make_app, tmp_path):
    _page_says_why(make_app, tmp_path, "symlink_loop")


# ---- fuzzing the page: generated data files open with a message, never an exception box -------------


@settings(
    max_examples=int(os.environ.get("EXPLORE_FUZZ_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(df=tables())
def test_generated_data_files_show_a_message_or_the_workspace_never_an_exception(make_app, df):
    if df.shape[1] < 2:
        df = df.assign(extra=range(len(df)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        df.to_csv(folder / "data.csv", index=False)
        cols = pd.read_csv(folder / "data.csv", nrows=0).columns
        (folder / "workspace.toml").write_text(
            toml_text({"columns": {"label": cols[0], "prediction": cols[-1]}, "datasets": {"v": "data.csv"}}),
            encoding="utf-8",
        )
        at = make_app(workspace=folder / "workspace.toml")
        assert_no_exception(at)
        assert at.title[0].value == "Workspace"


# ---- lazy models (issue 18): the page draws from the facts and predictions kept beside the workspace --------


def _refuse_loading(monkeypatch, error: Exception | None = None) -> list[str]:
    """Make every model load fail (with ``error``, else an AssertionError): returns the files asked for."""
    from explore.core import workspace as workspace_module

    asked: list[str] = []

    def load(path, **kwargs):
        asked.append(Path(path).name)
        raise error or AssertionError(f"the model file {path} was loaded")

    monkeypatch.setattr(workspace_module, "load_model", load)
    return asked


def test_a_restart_draws_the_page_without_loading_a_model_or_computing_metrics(
    make_app, tiny_copy, monkeypatch
):
    first = make_app(workspace=tiny_copy)  # loads the models, keeps their facts and the predictions
    assert_no_exception(first)
    shown = [df.value for df in first.dataframe]
    asked = _refuse_loading(monkeypatch)
    from explore.stats import metrics

    def refuse(*args, **kwargs):
        raise AssertionError("the overall metrics were computed again")

    monkeypatch.setattr(metrics, "overall_metrics", refuse)  # kept beside the predictions by the first start
    at = make_app(workspace=tiny_copy)  # the caches cleared: as a new server process
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert asked == []
    assert {m.label: m.value for m in at.metric} == {m.label: m.value for m in first.metric}
    again = [df.value for df in at.dataframe]
    assert len(again) == len(shown) and all(a.equals(b) for a, b in zip(again, shown, strict=True))


def test_the_trust_prompt_comes_first_when_the_facts_are_kept(make_app, tmp_path, monkeypatch):
    import re

    path = make_workspace(tmp_path)
    from explore.core.loading import untrusted_types

    found = untrusted_types(tmp_path / "model.skops")
    if not found:
        pytest.skip("this skops version trusts every type in the test pipeline")
    assert make_app(workspace=path).metric  # opened once with the types trusted: facts and predictions kept
    path.write_text(re.sub(r"trusted_types = \[[^\]]*\]", "trusted_types = []", path.read_text()))
    asked = _refuse_loading(monkeypatch)
    at = make_app(workspace=path)
    assert any("does not trust by default" in w for w in texts(at.warning))
    assert not at.metric and asked == []
    for t in found:
        at.checkbox(key=f"workspace_trust_current_{t}").check()
    at.run()
    at.button(key="workspace_accept_types").click().run()
    assert_no_exception(at)
    assert any(m.label == "Task" for m in at.metric) and asked == []


def test_a_model_that_cannot_be_loaded_later_says_so_on_the_page_that_needs_it(
    make_app, tiny_copy, monkeypatch
):
    from explore import errors
    from explore.core.score_cache import CACHE_FOLDER

    make_app(workspace=tiny_copy)  # facts kept
    for f in (tiny_copy.parent / CACHE_FOLDER).glob("predictions-*"):
        f.unlink()  # the predictions must be scored again: the model is needed
    reason = errors.MODEL_CORRUPT.format(path="model.skops", kind="skops", reason="ValueError: no such dtype")
    asked = _refuse_loading(monkeypatch, errors.ModelError(reason))
    at = make_app(workspace=tiny_copy)
    assert_no_exception(at)
    assert any(m.label == "Task" and m.value == "binary" for m in at.metric)  # opened from the facts
    assert any("could not be loaded as a skops file" in e for e in texts(at.error)), texts(at.error)
    assert asked and set(asked) == {"model.skops"}


def test_a_page_that_needs_the_estimator_says_why_it_cannot_be_loaded(make_app, tiny_copy, monkeypatch):
    from explore import errors

    make_app(workspace=tiny_copy)  # facts and predictions kept: the model is needed only for the explanations
    reason = errors.MODEL_CORRUPT.format(path="model.skops", kind="skops", reason="ValueError: no such dtype")
    asked = _refuse_loading(monkeypatch, errors.ModelError(reason))
    at = make_app("views/importance.py", workspace=tiny_copy)
    assert_no_exception(at)
    assert any("could not be loaded as a skops file" in e for e in texts(at.error)), texts(at.error)
    assert set(asked) == {"model.skops"}


def test_the_slices_page_draws_without_the_estimator_when_the_predictions_are_kept(
    make_app, tiny_copy, monkeypatch
):
    make_app(
        workspace=tiny_copy
    )  # facts and predictions kept: only a what-if on a chosen row needs the estimator
    asked = _refuse_loading(monkeypatch)
    at = make_app("views/slices.py", workspace=tiny_copy)
    assert_no_exception(at)
    assert not at.error, texts(at.error)
    assert asked == [] and at.title[0].value == "Slices"


def test_upload_form_preselects_a_guessed_time_column_and_says_so(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_UPLOAD_DIR", str(tmp_path / "uploads"))
    at = make_app()
    df = frame(50)  # "when": 2024-01-01 00:00, … as text
    at.file_uploader(key="workspace_upload_data").set_value(
        [("validation.csv", df.to_csv(index=False).encode(), "text/csv")]
    )
    at.run()
    assert_no_exception(at)
    assert at.selectbox(key="workspace_up_time").value == "when"
    assert any("Guessed: when (its values are ISO dates)" in unescaped(c.value) for c in at.caption)
    # no time-like column: nothing preselected, nothing said
    at.file_uploader(key="workspace_upload_data").set_value(
        [("plain.csv", df.drop(columns="when").to_csv(index=False).encode(), "text/csv")]
    )
    at.run()
    assert at.selectbox(key="workspace_up_time").value == "—"
    assert not any("Guessed" in c.value for c in at.caption)


def test_a_numeric_feature_named_as_the_time_column_is_said_on_the_page(make_app, tmp_path):
    _page_says_why(make_app, tmp_path, "amount_as_time")
