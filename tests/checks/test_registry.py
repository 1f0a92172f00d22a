"""explore.checks.registry (`explore check`): exit codes on the tiny workspace (pass, failed threshold, could not
run), the JSON/Markdown reports, recording in the store, and the registry (skips, errors, selection)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from explore.checks import registry
from explore.cli.commands import main as cli_main
from explore.core.store import Store
from explore.rubric import ml_test_score
from tests.helpers import BAD_INPUT_MESSAGES, bad_input_workspace, frame, make_workspace

# The candidate must beat the other model by any margin at all, with the roles swapped so that the
# older model (trained on half a year) is the candidate: a definite, planted threshold failure.
STRICT = """format = 1
candidate = "previous"
previous = "current"
[metrics]
accuracy = { vs_previous = 0.0 }
"log loss" = { vs_previous = 0.0 }
"""


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPLORE_DB_URL", raising=False)
    monkeypatch.setenv("EXPLORE_USER", "ci-bot")


def _report(out: Path) -> dict:
    return json.loads((out / registry.REPORT_JSON).read_text(encoding="utf-8"))


def test_passing_run_exits_0_and_writes_both_reports(tiny_workspace, tmp_path, capsys):
    out = tmp_path / "out"
    code = registry.main([str(tiny_workspace), "--checks", "compare", "--out", str(out)])
    assert code == registry.EXIT_PASSED
    report = _report(out)
    assert report["format"] == ml_test_score.CHECK_REPORT_FORMAT and report["scale"] == "2017"
    assert report["exit_code"] == 0 and report["status"] == "passed"
    assert [c["name"] for c in report["checks"]] == ["compare"]
    compare = report["checks"][0]
    assert compare["status"] == "passed" and compare["tests"] == ["infra-4", "monitor-7", "model-6"]
    assert compare["details"]["models"] == {"previous": "previous"}
    assert set(report["tests"]) == {"infra-4", "monitor-7", "model-6"}
    assert (
        report["workspace"]["name"] == tiny_workspace.parent.name
        and "current" in report["workspace"]["models"]
    )
    md = (out / registry.REPORT_MD).read_text(encoding="utf-8")
    assert "# explore check — passed (exit code 0)" in md and "| PASS |" in md
    printed = capsys.readouterr().out
    assert "PASS  compare" in printed and "exit code 0" in printed
    # The report file is what the Rubric page imports.
    assert (
        ml_test_score.parse_check_report((out / registry.REPORT_JSON).read_text())["run_id"]
        == report["run_id"]
    )


def test_a_failed_threshold_exits_1_with_the_failing_cells(tiny_workspace, tmp_path):
    thresholds = tmp_path / "strict.toml"
    thresholds.write_text(STRICT, encoding="utf-8")
    out = tmp_path / "out"
    code = registry.main(
        [str(tiny_workspace), "--checks", "compare", "--thresholds", str(thresholds), "--out", str(out)]
    )
    assert code == registry.EXIT_FAILED
    report = _report(out)
    check = report["checks"][0]
    assert check["status"] == "failed" and check["summary"].startswith("Fails:")
    failures = check["details"]["failures"]
    assert failures and all(f["status"] == "fail" for f in failures)
    assert {f["metric"] for f in failures} <= {"accuracy", "log loss"}
    assert report["tests"]["infra-4"]["status"] == "failed"
    md = (out / registry.REPORT_MD).read_text(encoding="utf-8")
    assert "## FAIL: Candidate vs previous model" in md


def test_a_bad_workspace_exits_2_with_a_report_saying_why(tmp_path):
    out = tmp_path / "out"
    code = registry.main([str(tmp_path / "missing" / "workspace.toml"), "--out", str(out)])
    assert code == registry.EXIT_COULD_NOT_RUN
    report = _report(out)
    assert report["status"] == "could not run" and report["checks"] == []
    assert "does not exist" in report["problems"][0]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "workspace.toml").write_text("[columns\nlabel = 'y'", encoding="utf-8")
    assert registry.main([str(bad), "--out", str(out)]) == registry.EXIT_COULD_NOT_RUN
    assert "not valid TOML" in _report(out)["problems"][0]


def test_usage_errors_exit_2(tiny_workspace, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        registry.main([str(tiny_workspace), "--checks", "nonsense", "--out", str(out)])
        == registry.EXIT_COULD_NOT_RUN
    )
    assert "Unknown check 'nonsense' in --checks" in _report(out)["problems"][0]
    assert (
        registry.main([str(tiny_workspace), "--thresholds", str(tmp_path / "nope.toml"), "--out", str(out)])
        == 2
    )
    assert "thresholds file" in _report(out)["problems"][0]
    assert registry.main([str(tiny_workspace), "--dataset", "holdout", "--out", str(out)]) == 2
    assert "--dataset names the dataset 'holdout'" in _report(out)["problems"][0]
    assert registry.main(["--no-such-option"]) == 2  # argparse's usage error
    assert registry.main([]) == 2
    assert registry.main(["--list"]) == 0
    assert "Rubric tests covered" in capsys.readouterr().out


def test_a_requested_check_that_cannot_run_exits_2(tiny_workspace, tmp_path):
    out = tmp_path / "out"
    code = registry.main([str(tiny_workspace), "--checks", "fairness", "--out", str(out)])
    assert code == registry.EXIT_COULD_NOT_RUN
    report = _report(out)
    assert report["checks"][0]["status"] == "skipped"
    assert "--fairness COLUMN" in report["problems"][0]


def test_rubric_ids_select_checks_and_the_run_is_recorded_in_the_store(tiny_workspace, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("EXPLORE_DB_URL", url)
    out = tmp_path / "out"
    code = registry.main(
        [
            str(tiny_workspace),
            "--checks",
            "model-7",
            "--fairness",
            "region",
            "--review",
            "v3",
            "--out",
            str(out),
        ]
    )
    assert code in (registry.EXIT_PASSED, registry.EXIT_FAILED)
    report = _report(out)
    assert [c["name"] for c in report["checks"]] == ["fairness"] and report["review"] == "v3"
    with Store(url) as store:
        runs = store.list_check_runs()
        assert len(runs) == 1 and runs[0]["workspace"] == str(tiny_workspace.resolve())
        assert runs[0]["report"]["run_id"] == report["run_id"] and report["store_run_id"] == runs[0]["id"]
        snaps = store.list_snapshots(test="model-7")
        assert len(snaps) == 1 and snaps[0]["source"] == "check" and snaps[0]["kind"] == "fairness_gaps"
        assert (
            snaps[0]["result"]["name"] == "fairness" and report["checks"][0]["snapshot_id"] == snaps[0]["id"]
        )
        # The Rubric page proposes "automated" for the test, from this run.
        props = ml_test_score.proposals(
            {},
            store.list_snapshots(),
            ml_test_score.runs_for(
                runs,
                workspace_path=str(tiny_workspace.resolve()),
                workspace_name=tiny_workspace.parent.name,
                review="v3",
            ),
        )
        assert props["model-7"].proposed == "automated" and props["model-7"].runs[0].checks == ("fairness",)


def test_the_cli_dispatches_explore_check(tiny_workspace, tmp_path):
    out = tmp_path / "out"
    assert cli_main(["check", str(tiny_workspace), "--checks", "weak_slices", "--out", str(out)]) == 0
    check = _report(out)["checks"][0]
    assert check["name"] == "weak_slices" and check["status"] == "passed"
    assert "tested at FDR 0.05" in check["summary"]
    # The same discovery fails when the team asks CI to fail on any significant weak slice and one exists.
    code = cli_main(
        ["check", str(tiny_workspace), "--checks", "weak_slices", "--fail-on-weak-slices", "--out", str(out)]
    )
    n_found = _report(out)["checks"][0]["details"]["n_significant"]
    assert code == (registry.EXIT_FAILED if n_found else registry.EXIT_PASSED)


def test_missing_modules_are_skipped_and_bugs_are_errors_without_hiding_other_checks(
    tiny_workspace, tmp_path, monkeypatch
):
    monkeypatch.setattr(registry, "CHECKS", dict(registry.CHECKS))

    @registry.register("future", ["monitor-6"], kind="latency", title="A check whose module is not installed")
    def _future(ctx):
        registry._module("explore.not_written_yet")

    @registry.register("buggy", ["data-3"], kind="cost", title="A check with a bug")
    def _buggy(ctx):
        raise ZeroDivisionError("oops")

    @registry.register("fine", ["monitor-5"], kind="stability", title="A check that passes")
    def _fine(ctx):
        return registry.Outcome(True, "all finite", {"n": ctx.scored().n})

    out = tmp_path / "out"
    code = registry.main([str(tiny_workspace), "--checks", "future,buggy,fine", "--out", str(out)])
    report = _report(out)
    by_name = {c["name"]: c for c in report["checks"]}
    assert (
        by_name["future"]["status"] == "skipped"
        and "explore.not_written_yet is not available" in by_name["future"]["summary"]
    )
    assert by_name["buggy"]["status"] == "error" and "ZeroDivisionError" in by_name["buggy"]["summary"]
    assert "Traceback" in by_name["buggy"]["details"]["traceback"]
    assert by_name["fine"]["status"] == "passed" and by_name["fine"]["details"]["n"] > 0
    assert code == registry.EXIT_COULD_NOT_RUN  # an error and a requested skip; nothing failed
    # Without --checks, a check whose module is missing is just skipped: the run passes.
    monkeypatch.setattr(
        registry, "CHECKS", {k: v for k, v in registry.CHECKS.items() if k in ("future", "fine")}
    )
    assert registry.main([str(tiny_workspace), "--out", str(out)]) == registry.EXIT_PASSED


def test_predictions_only_workspace_skips_model_checks(tmp_path):
    df = frame(300, task="binary")
    df["pred"] = df["income"].where(df.index % 7 != 0, "<=50K")
    path = make_workspace(
        tmp_path / "ws",
        model=None,
        columns={"label": "income", "prediction": "pred"},
        datasets={"train": df.iloc[:150], "validation": df.iloc[150:]},
    )
    out = tmp_path / "out"
    code = registry.main([str(path), "--checks", "compare,repro,weak_slices", "--out", str(out)])
    by_name = {c["name"]: c for c in _report(out)["checks"]}
    assert by_name["compare"]["status"] == "skipped" and "predictions-only" in by_name["compare"]["summary"]
    assert by_name["repro"]["status"] == "skipped"
    assert by_name["weak_slices"]["status"] == "passed"
    assert code == registry.EXIT_COULD_NOT_RUN  # compare and repro were asked for and could not run


def test_weak_slices_on_a_dataset_too_small_for_discovery_is_skipped_not_an_error(tmp_path):
    # A 40-row validation set (sklearn's wine, iris…): the CLI cannot lower the minimum support of 50,
    # so discovery cannot apply — a skip with the reason, not "could not run" (exit 2) on every CI run.
    df = frame(200)
    path = make_workspace(tmp_path / "small", datasets={"train": df.iloc[:160], "validation": df.iloc[160:]})
    out = tmp_path / "out"
    code = registry.main(
        [str(path), "--skip", "compare,baseline,repro,spec,cost,stability,invariants", "--out", str(out)]
    )
    by_name = {c["name"]: c for c in _report(out)["checks"]}
    assert by_name["weak_slices"]["status"] == "skipped", by_name["weak_slices"]
    assert "has 40 scored rows" in by_name["weak_slices"]["summary"]
    assert code != registry.EXIT_COULD_NOT_RUN


def test_baseline_on_a_training_set_too_small_to_fit_is_skipped_not_an_error(tmp_path):
    # sklearn's linnerud has 20 rows: a 12-row training split cannot fit a baseline. That is a property of the
    # workspace (skipped, with the reason), not "could not run" (exit 2) on every CI run.
    df = frame(60, task="regression")
    path = make_workspace(
        tmp_path / "tiny", task="regression", datasets={"train": df.iloc[:12], "validation": df.iloc[12:]}
    )
    out = tmp_path / "out"
    registry.main(
        [str(path), "--skip", "compare,repro,spec,cost,stability,invariants,weak_slices", "--out", str(out)]
    )
    by_name = {c["name"]: c for c in _report(out)["checks"]}
    assert by_name["baseline"]["status"] == "skipped", by_name["baseline"]
    assert "has 12 labelled rows" in by_name["baseline"]["summary"]


def test_fairness_with_no_group_large_enough_is_skipped_not_passed(tmp_path):
    # iris-sized validation (30 rows): no group of the column reaches 30 rows, so no gap is measured. The check
    # used to PASS ("No gap significantly above 0.1"), automated evidence for Model 7 of a test that did not happen.
    df = frame(200)
    path = make_workspace(tmp_path / "small", datasets={"train": df.iloc[:170], "validation": df.iloc[170:]})
    out = tmp_path / "out"
    registry.main([str(path), "--checks", "fairness", "--fairness", "city", "--out", str(out)])
    check = _report(out)["checks"][0]
    assert check["status"] == "skipped", check
    assert "city: no gap measured (fewer than two groups with at least 30 rows)" in check["summary"]


def test_a_regressors_fairness_limit_is_in_its_labels_units(tmp_path, tiny_workspace):
    """Found on a house-price regressor: the limit was 0.1 by default and refused above 1 ("a gap between two
    groups' rates"), so every regression failed the check on a gap of a few francs' mean prediction and no
    sensible limit could be given. A regressor's limit is now named in the label's units (without one the check
    is skipped, saying so); a classifier's stays a gap between rates, from 0 to 1."""
    path = make_workspace(tmp_path / "reg", task="regression")
    out = tmp_path / "out"
    argv = [str(path), "--checks", "fairness", "--fairness", "city", "--out", str(out)]
    assert registry.main(argv) == registry.EXIT_COULD_NOT_RUN  # asked for with --checks, and skipped
    check = _report(out)["checks"][0]
    assert check["status"] == "skipped"
    assert (
        "in the units of its label 'income'" in check["summary"] and "--fairness-max-gap" in check["summary"]
    )
    assert registry.main([*argv, "--fairness-max-gap", "50000"]) == registry.EXIT_PASSED
    assert "No gap significantly above 50000" in _report(out)["checks"][0]["summary"]

    argv = [str(tiny_workspace), "--checks", "fairness", "--fairness", "region", "--fairness-max-gap", "5"]
    assert registry.main([*argv, "--out", str(out)]) == registry.EXIT_COULD_NOT_RUN
    check = _report(out)["checks"][0]
    assert check["status"] == "error"
    assert "from 0 to 1, on this binary workspace; received 5.0" in check["summary"]


def test_a_fairness_limit_that_is_not_a_number_is_said_not_an_internal_error(tiny_workspace):
    """The notebook's run_checks passes fairness_max_gap as given (the command line's argparse makes it a float):
    a string gave "internal error (ValueError: could not convert string to float …); please report it"."""
    import explore

    ws = explore.open(tiny_workspace)
    for bad in ("abc", "0.2", True):
        result = explore.run_checks(ws, ["fairness"], fairness=["region"], fairness_max_gap=bad)
        (check,) = result.value
        assert check.status == "error"
        assert "fairness_max_gap must be a number" in check.message and repr(bad) in check.message
        assert "internal error" not in check.message


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks_run_discovery_and_fairness(tmp_path, task):
    path = make_workspace(tmp_path / task, task=task)
    out = tmp_path / "out"
    # A regressor's gaps are in the label's units (income: about 30,000 ± 8,000): its limit is named.
    limit = ["--fairness-max-gap", "2000"] if task == "regression" else []
    code = registry.main(
        [str(path), "--checks", "weak_slices,fairness", "--fairness", "city", *limit, "--out", str(out)]
    )
    report = _report(out)
    assert [c["status"] for c in report["checks"]] in (["passed", "passed"], ["passed", "failed"])
    assert code in (0, 1)
    assert "city: largest gap" in report["checks"][1]["summary"]


def test_exit_code_rules():
    def r(status, name="x"):
        return registry.CheckResult(name, ("data-1",), "k", "t", status, "")

    assert registry.exit_code_for([r("passed"), r("skipped")]) == 0
    assert (
        registry.exit_code_for([r("passed"), r("failed"), r("error")]) == 1
    )  # a failure is the definite signal
    assert registry.exit_code_for([r("passed"), r("error")]) == 2
    assert registry.exit_code_for([r("skipped", "a")], requested=["a"]) == 2
    assert registry.exit_code_for([r("skipped")]) == 2  # nothing ran at all
    assert registry.tests_covered() >= {"infra-4", "monitor-7", "model-5", "model-6", "infra-1", "model-7"}
    for check in registry.CHECKS.values():
        assert check.tests and all(t in ml_test_score.TESTS_BY_ID for t in check.tests)


def test_invariants_flag_the_planted_drift_of_the_serving_data(tiny_workspace, tmp_path):
    out = tmp_path / "out"
    code = registry.main([str(tiny_workspace), "--checks", "invariants", "--out", str(out)])
    check = _report(out)["checks"][0]
    assert check["tests"] == ["monitor-2", "monitor-5"]
    # The sample's monthly_charges rise month by month: later months leave the training range.
    assert code == registry.EXIT_FAILED and check["status"] == "failed"
    assert (
        "out of range: monthly_charges" in check["summary"]
        and "NaN/inf in model outputs: 0" in check["summary"]
    )
    assert all(w["rows"] > 0 for w in check["details"]["windows"])


def test_checks_modules_banned_skew_shadow_stability_compat_key_examples(tmp_path):
    from explore.checks import compatibility as compat
    from explore.core.workspace import open_workspace, read_workspace
    from tests.helpers import FEATURES, pipeline

    df = frame(400, task="binary")
    train, validation = df.iloc[:300], df.iloc[300:].reset_index(drop=True)
    model = pipeline("binary").fit(train[FEATURES], train["income"])
    serving = validation.copy()
    serving.loc[:9, "hours"] = serving.loc[:9, "hours"].fillna(0) + 1.0  # planted skew on 10 rows
    serving["logged_pred"] = model.predict(validation[FEATURES])  # the serving system ran this very model
    path = make_workspace(
        tmp_path / "ws",
        model=model,
        datasets={"train": train, "validation": validation, "serving": serving},
        extra_sections={"checks": {"banned_features": ["City"]}},
    )
    ws = open_workspace(read_workspace(path))
    compat.save_key_examples(compat.make_key_examples(ws, n=10), compat.key_examples_path(ws))
    out = tmp_path / "out"
    code = registry.main(
        [
            str(path),
            "--checks",
            "stability,banned,skew,shadow,compat,key_examples",
            "--serving",
            "serving",
            "--skew",
            "validation,serving",
            "--out",
            str(out),
        ]
    )
    by_name = {c["name"]: c for c in _report(out)["checks"]}
    assert {n: c["status"] for n, c in by_name.items()} == {
        "stability": "passed",
        "banned": "failed",
        "skew": "failed",
        "shadow": "passed",
        "compat": "passed",
        "key_examples": "passed",
    }
    assert "city" in by_name["banned"]["summary"].lower()
    assert "'hours' on 10.00% of rows" in by_name["skew"]["summary"]
    assert by_name["shadow"]["params"]["logged"] == "logged_pred"
    assert code == registry.EXIT_FAILED
    assert (
        registry.main([str(path), "--checks", "skew", "--skew", "validation", "--out", str(out)])
        == registry.EXIT_COULD_NOT_RUN
    )
    assert "--skew takes two dataset names" in _report(out)["problems"][0]


def test_explore_check_picks_datasets_by_their_declared_roles(tiny_copy):
    text = tiny_copy.read_text(encoding="utf-8")
    named = 'train = "train.parquet"\nvalidation = "validation.csv"\nproduction = "production.parquet"\n'
    assert named in text
    tiny_copy.write_text(
        text.replace(
            named,
            'fit_2023 = { path = "train.parquet", role = "train" }\n'
            'holdout = { path = "validation.csv", role = "evaluation" }\n'
            'live = { path = "production.parquet", role = "serving" }\n',
        ).replace('dataset = "validation"', 'dataset = "holdout"'),
        encoding="utf-8",
    )
    _, ctx = registry._open(tiny_copy, registry._parser().parse_args([str(tiny_copy)]))
    assert (ctx.eval_dataset, ctx.train_dataset, ctx.serving_dataset) == ("holdout", "fit_2023", "live")
    # Named datasets keep the naming rule; an explicit option wins.
    _, ctx = registry._open(tiny_copy, registry._parser().parse_args([str(tiny_copy), "--dataset", "live"]))
    assert ctx.eval_dataset == "live"


def _late_labels(dest: Path, *, planted_shift: bool) -> Path:
    """train / validation / production, whose last 600 rows have no label yet; with ``planted_shift`` those
    rows crowd into a narrow band of the features, where the model cannot rank them."""
    df = frame(3000, seed=11)
    prod = df.iloc[1600:].copy()
    late = prod.index[-600:]
    prod.loc[late, "income"] = np.nan
    if planted_shift:
        prod.loc[late, "age"] = 45.0
        prod.loc[late, "city"] = "Lyon"
        prod.loc[late, "hours"] = 40.0 + np.random.default_rng(0).normal(0, 0.5, len(late))
    return make_workspace(
        dest, datasets={"train": df.iloc[:1000], "validation": df.iloc[1000:1600], "production": prod}
    )


def test_estimated_drop_alerts_where_labels_are_not_in_yet(tmp_path):
    out = tmp_path / "out"
    shifted = _late_labels(tmp_path / "shifted", planted_shift=True)
    assert (
        registry.main(
            [str(shifted), "--checks", "monitor-7", "--skip", "compare,key_examples", "--out", str(out)]
        )
        == 1
    )
    result = next(c for c in _report(out)["checks"] if c["name"] == "estimated_drop")
    assert result["status"] == "failed" and "estimated ROC AUC more than 0.05 below" in result["summary"]
    assert result["params"]["reference"] == "validation" and result["details"]["failures"]
    assert "no concept drift" in result["details"]["assumption"]
    # A looser threshold lets the same data pass; the option is the threshold.
    loose = ["--estimate-max-drop", "0.6", "--out", str(out)]
    assert registry.main([str(shifted), "--checks", "estimated_drop", *loose]) == 0
    same = _late_labels(tmp_path / "same", planted_shift=False)
    assert (
        registry.main(
            [str(same), "--checks", "estimated_drop", "--estimate-metric", "accuracy", "--out", str(out)]
        )
        == 0
    )
    passed = _report(out)["checks"][0]
    assert passed["params"]["metric"] == "accuracy" and passed["details"]["windows"]


def test_estimated_drop_skips_when_every_label_is_in(tiny_workspace, tmp_path):
    out = tmp_path / "out"
    registry.main([str(tiny_workspace), "--checks", "estimated_drop,weak_slices", "--out", str(out)])
    result = next(c for c in _report(out)["checks"] if c["name"] == "estimated_drop")
    assert result["status"] == "skipped"


# ---- the five bad inputs that gave a traceback or an "internal error" (issue 19) ---------------------


def _check_says_why(tmp_path: Path, kind: str, capsys: pytest.CaptureFixture) -> str:
    """`explore check` on the bad workspace: exit 1 or 2, no internal error, the reason in stderr and both reports."""
    out = tmp_path / "out"
    code = registry.main(
        [str(bad_input_workspace(tmp_path / "ws", kind)), "--checks", "cost,weak_slices", "--out", str(out)]
    )
    said = capsys.readouterr().err
    reports = (out / registry.REPORT_JSON).read_text(encoding="utf-8") + (out / registry.REPORT_MD).read_text(
        encoding="utf-8"
    )
    assert code in (registry.EXIT_FAILED, registry.EXIT_COULD_NOT_RUN)
    assert "internal error" not in said + reports and "Traceback" not in said
    for part in BAD_INPUT_MESSAGES[kind]:
        assert part in said
    return said


def test_check_on_numeric_feature_holding_strings_in_one_dataset_says_which_column(tmp_path, capsys):
    _check_says_why(tmp_path, "text_in_numeric_feature", capsys)


def test_check_on_feature_with_values_near_1e308_says_which_column(tmp_path, capsys):
    _check_says_why(tmp_path, "feature_near_1e308", capsys)


def test_check_on_nans_in_a_feature_of_a_model_without_an_imputer_says_which_column(tmp_path, capsys):
    _check_says_why(tmp_path, "nan_without_imputer", capsys)


def test_check_on_predictions_only_score_column_holding_text_says_so(tmp_path, capsys):
    _check_says_why(tmp_path, "text_score", capsys)


def test_check_on_data_file_that_is_a_symlink_loop_says_so_without_a_traceback(tmp_path, capsys):
    _check_says_why(tmp_path, "symlink_loop", capsys)


def test_without_out_no_files_are_left_in_the_working_folder(tiny_workspace, tmp_path, monkeypatch, capsys):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert registry.main([str(tiny_workspace), "--checks", "weak_slices"]) == registry.EXIT_PASSED
    assert list(cwd.iterdir()) == []
    printed = capsys.readouterr().out
    assert "PASS  weak_slices" in printed and "no report files written (pass --out DIR" in printed


def _junit(path: Path):
    import xml.etree.ElementTree as ET

    return ET.parse(path).getroot()


def test_junit_has_one_case_per_check_with_failures_and_skips(tiny_workspace, tmp_path, capsys):
    thresholds = tmp_path / "strict.toml"
    thresholds.write_text(STRICT, encoding="utf-8")
    xml = tmp_path / "results.xml"
    code = registry.main(
        [
            str(tiny_workspace),
            "--checks",
            "compare,weak_slices,fairness",
            "--thresholds",
            str(thresholds),
            "--junit",
            str(xml),
        ]
    )
    assert code == registry.EXIT_FAILED
    suite = _junit(xml)
    cases = {c.get("name").split(" [")[0]: c for c in suite.iter("testcase")}
    assert set(cases) == {"compare", "weak_slices", "fairness"}
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "0"
    assert cases["compare"].find("failure") is not None and "worse than allowed" in cases["compare"].find(
        "failure"
    ).get("message")
    assert cases["fairness"].find("skipped") is not None and suite.get("skipped") == "1"
    assert not list(cases["weak_slices"]) and cases["weak_slices"].get("name").endswith("[model-6]")
    assert f"JUnit XML in {xml}" in capsys.readouterr().out


def test_junit_of_a_run_that_could_not_run_is_one_error_and_text_stays_text(tmp_path):
    xml = tmp_path / "results.xml"
    code = registry.main([str(tmp_path / "missing" / "workspace.toml"), "--junit", str(xml)])
    assert code == registry.EXIT_COULD_NOT_RUN
    suite = _junit(xml)
    (case,) = suite.iter("testcase")
    assert suite.get("errors") == "1" and "does not exist" in case.find("error").get("message")
    # Names and summaries with markup and characters XML cannot hold are written as parseable text.
    report = {
        "workspace": {"name": "<ws>&\x00"},
        "started_at": "2026-01-01T00:00:00",
        "seconds": 1.0,
        "exit_code": 1,
        "problems": [],
        "checks": [
            {
                "name": "compare",
                "tests": ["model-6"],
                "status": "failed",
                "summary": "<script>x</script>\x1b]\x00",
            }
        ],
    }
    (tmp_path / "hostile.xml").write_text(registry.report_junit(report), encoding="utf-8")
    suite = _junit(tmp_path / "hostile.xml")
    assert suite.get("name") == "explore check <ws>&"
    assert suite.find("testcase/failure").text == "<script>x</script>]"


def test_an_unwritable_junit_path_is_a_message(tiny_workspace, tmp_path, capsys):
    code = registry.main(
        [str(tiny_workspace), "--checks", "weak_slices", "--junit", str(tmp_path / "no" / "r.xml")]
    )
    assert code == registry.EXIT_COULD_NOT_RUN
    assert "Pass --junit with a file in a writable folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        (
            "--fdr",
            "2",
            "--fdr must be a false discovery rate strictly between 0 and 1; received 2.0. Pass e.g. --fdr 0.05.",
        ),
        ("--fdr", "0", "--fdr must be a false discovery rate strictly between 0 and 1; received 0.0."),
        ("--fdr", "nan", "--fdr must be a false discovery rate strictly between 0 and 1; received nan."),
        ("--fairness-max-gap", "-0.1", "--fairness-max-gap must be a gap of at least 0"),
        ("--estimate-max-drop", "-1", "--estimate-max-drop must be a drop of the metric of at least 0"),
    ],
)
def test_invalid_options_exit_2_even_when_their_check_is_skipped(
    tiny_workspace, tmp_path, capsys, option, value, words
):
    """--fdr 2 with weak_slices skipped (--skip, or --cheap) was not reported: every option is checked up front."""
    out = tmp_path / "out"
    argv = [
        str(tiny_workspace),
        "--checks",
        "baseline",
        "--skip",
        "weak_slices",
        option,
        value,
        "--out",
        str(out),
    ]
    assert registry.main(argv) == registry.EXIT_COULD_NOT_RUN
    report = _report(out)
    assert report["checks"] == [] and words in report["problems"][0]  # nothing ran
    assert words in capsys.readouterr().err


def test_both_bad_options_are_named_at_once(tiny_workspace, tmp_path):
    out = tmp_path / "out"
    argv = [str(tiny_workspace), "--fdr", "2", "--fairness-max-gap", "-5", "--out", str(out)]
    assert registry.main(argv) == registry.EXIT_COULD_NOT_RUN
    problem = _report(out)["problems"][0]
    assert "--fdr must be" in problem and "--fairness-max-gap must be" in problem


@pytest.mark.parametrize("failure", ["query", "import"])
def test_engine_logs_are_closed_when_a_check_raises(tmp_path, monkeypatch, failure):
    """weak_slices and fairness open the out-of-core log with `with ctx.log() as log:`: a bug raised inside
    (not an ExploreError) — in the engine query, or importing the engine's module, which the hand-written
    try/finally left outside — still closes its connection."""
    import sys

    from explore.core.workspace import open_workspace, read_workspace
    from tests.engine.test_metrics import predictions_log
    from tests.engine.test_out_of_core_api import twin_workspaces

    twin_workspaces(
        tmp_path,
        "binary",
        {"train": predictions_log("binary", 300), "validation": predictions_log("binary", 2000)},
        {"validation"},
    )
    ws = open_workspace(read_workspace(tmp_path / "ooc"))
    opened = []
    real_log = type(ws).log

    def spy(self, name):
        log = real_log(self, name)
        opened.append(log)
        return log

    monkeypatch.setattr(type(ws), "log", spy)

    def bug(*args, **kwargs):
        raise RuntimeError("a bug inside the engine query")

    monkeypatch.setattr("explore.engine.discovery.weak_slices", bug)
    monkeypatch.setattr("explore.engine.grouping.fairness_gaps", bug)
    if failure == "import":  # `from explore.engine.… import …` raises ImportError
        monkeypatch.setitem(sys.modules, "explore.engine.discovery", None)
        monkeypatch.setitem(sys.modules, "explore.engine.grouping", None)
    ctx = registry.CheckContext(
        ws=ws,
        eval_dataset="validation",
        train_dataset="train",
        serving_dataset=None,
        thresholds=None,
        options={"fairness": ["city"]},
    )
    for check in ("weak_slices", "fairness"):
        with pytest.raises(RuntimeError if failure == "query" else ImportError):
            registry.CHECKS[check].run(ctx)
    assert len(opened) == 2
    for log in opened:
        with pytest.raises(Exception, match="(?i)closed"):
            log.con.execute("SELECT 1")


def test_a_numeric_feature_named_as_the_time_column_is_said_by_explore_check(tmp_path, capsys):
    _check_says_why(tmp_path, "amount_as_time", capsys)
