"""Tests for explore.core.sample: determinism, schema, models, the planted facts, ensure_sample.

Most tests use the "tiny" size. Properties of the full size are checked on ``generate_customers`` at the
full row count (no training) and, for everything that needs the trained models, on a "full" build with
fewer rows (same features, trees and annotation scheme), which keeps this file to a few seconds.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
import skops.io as sio
from hypothesis import given
from hypothesis import strategies as st

from explore.core import sample
from explore.core.sample import (
    ABRUPT_CHANGE_DATE,
    ABRUPT_CHANGE_REGION,
    LABELERS,
    SIZES,
    WEAK_SLICE,
    build_workspace,
    ensure_sample,
    generate_customers,
)
from explore.errors import ExploreError

FULL_ROWS = SIZES["full"].n_rows
MEDIUM_ROWS = 12_000
DATASETS = ("train", "validation", "production")


# ---- helpers ---------------------------------------------------------------------------------------


def read_toml(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def read_dataset(toml_path: Path, name: str) -> pd.DataFrame:
    path = toml_path.parent / read_toml(toml_path)["datasets"][name]
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def load_models(toml_path: Path) -> dict[str, Any]:
    config = read_toml(toml_path)
    specs = {"current": config["model"], **config.get("models", {})}
    return {
        name: sio.load(toml_path.parent / spec["path"], trusted=spec["trusted_types"])
        for name, spec in specs.items()
    }


def features_of(toml_path: Path) -> list[str]:
    manifest = json.loads((toml_path.parent / "manifest.json").read_text())
    return manifest["features"]["numeric"] + manifest["features"]["categorical"]


def in_weak_slice(frame: pd.DataFrame) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in WEAK_SLICE.items():
        mask &= frame[column].to_numpy() == value
    return mask


def mtimes(folder: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in folder.iterdir()}


# ---- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("tiny"), size="tiny")


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full size's generator, models and annotation scheme, on fewer rows."""
    return build_workspace(tmp_path_factory.mktemp("medium"), size="full", n_rows=MEDIUM_ROWS)


@pytest.fixture(scope="module")
def full_frame() -> pd.DataFrame:
    return generate_customers(FULL_ROWS, seed=0)


# ---- determinism -----------------------------------------------------------------------------------


def test_same_seed_gives_identical_data_and_predictions(tiny: Path, tmp_path: Path) -> None:
    again = build_workspace(tmp_path, size="tiny", seed=0)
    assert again.read_text() == tiny.read_text()
    for name in DATASETS:
        pd.testing.assert_frame_equal(read_dataset(again, name), read_dataset(tiny, name))
    for filename in ("annotations.csv", "labeler_truth.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(again.parent / filename), pd.read_csv(tiny.parent / filename)
        )
    production = read_dataset(tiny, "production")[features_of(tiny)]
    first, second = load_models(tiny), load_models(again)
    for name in first:
        np.testing.assert_array_equal(
            first[name].predict_proba(production), second[name].predict_proba(production)
        )


def test_another_seed_gives_other_data(tiny: Path, tmp_path: Path) -> None:
    other = build_workspace(tmp_path, size="tiny", seed=1)
    assert not read_dataset(other, "train").equals(read_dataset(tiny, "train"))


# ---- schema ----------------------------------------------------------------------------------------


def test_workspace_toml_names_the_files_and_roles(tiny: Path) -> None:
    config = read_toml(tiny)
    assert set(config) == {"model", "models", "columns", "datasets", "annotations"}
    assert config["model"]["path"] == "model.skops" and config["model"]["trust_pickle"] is False
    assert config["models"]["previous"]["path"] == "previous.skops"
    assert config["columns"] == {
        "label": "churned",
        "time": "snapshot_date",
        "id": "customer_id",
        "positive": "yes",
        "task": "binary",
    }
    assert config["datasets"] == {
        "train": "train.parquet",
        "validation": "validation.csv",
        "production": "production.parquet",
    }
    assert config["annotations"] == {
        "path": "annotations.csv",
        "item": "customer_id",
        "labeler": "annotator",
        "label": "label",
        "dataset": "validation",
        "batch": "batch",
    }
    assert "labeler_truth" not in tiny.read_text()
    for path in [config["model"]["path"], config["annotations"]["path"], *config["datasets"].values()]:
        assert (tiny.parent / path).is_file()


def test_trusted_types_are_exactly_what_skops_reports(tiny: Path) -> None:
    config = read_toml(tiny)
    for spec in (config["model"], config["models"]["previous"]):
        untrusted = sio.get_untrusted_types(file=tiny.parent / spec["path"])
        assert sorted(spec["trusted_types"]) == sorted(untrusted)
        assert spec["trusted_types"]  # a GradientBoosting pipeline always needs some


def test_datasets_have_the_documented_schema(tiny: Path) -> None:
    frames = {name: read_dataset(tiny, name) for name in DATASETS}
    features = features_of(tiny)
    for name, frame in frames.items():
        assert list(frame.columns) == ["customer_id", "snapshot_date", *features, "churned"], name
        assert set(frame["churned"].unique()) == {"yes", "no"}, name
    train = frames["train"]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(train[c])]
    categorical = [c for c in features if pd.api.types.is_string_dtype(train[c])]
    assert len(numeric) >= 8 and len(categorical) >= 4
    assert len(numeric) + len(categorical) == len(features)
    for column in ("satisfaction_score", "data_usage_gb", "payment_method"):
        assert train[column].isna().any(), column
    # Parquet keeps datetimes; the CSV holds ISO date strings.
    assert pd.api.types.is_datetime64_any_dtype(train["snapshot_date"])
    assert frames["validation"]["snapshot_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    ids = pd.concat([frame["customer_id"] for frame in frames.values()])
    assert ids.is_unique and ids.str.fullmatch(r"C\d{7}").all()


def test_datasets_split_24_months_by_time(tiny: Path) -> None:
    dates = {name: pd.to_datetime(read_dataset(tiny, name)["snapshot_date"]) for name in DATASETS}
    assert dates["train"].min() < pd.Timestamp("2023-01-15")
    assert dates["train"].max() < pd.Timestamp("2024-01-01")
    assert dates["validation"].min() >= pd.Timestamp("2024-01-01")
    assert dates["validation"].max() < pd.Timestamp("2024-04-01")
    assert dates["production"].min() >= pd.Timestamp("2024-04-01")
    assert dates["production"].max() > pd.Timestamp("2024-12-15")
    months = pd.concat(dates.values()).dt.to_period("M").nunique()
    assert months == 24


def test_full_size_has_the_promised_shape(full_frame: pd.DataFrame) -> None:
    assert SIZES["full"].n_rows >= 60_000 and SIZES["full"].n_items >= 2_400
    assert SIZES["full"].n_estimators == 150
    assert full_frame["customer_id"].is_unique
    assert full_frame["snapshot_date"].min() == pd.Timestamp("2023-01-01")
    assert full_frame["snapshot_date"].max() == pd.Timestamp("2024-12-31")
    churn_rate = (full_frame["churned"] == "yes").mean()
    assert 0.20 <= churn_rate <= 0.30
    missing = full_frame.isna().mean()
    assert missing["satisfaction_score"] == pytest.approx(0.15, abs=0.02)
    assert missing["data_usage_gb"] == pytest.approx(0.03, abs=0.005)
    assert missing["payment_method"] == pytest.approx(0.02, abs=0.005)
    assert full_frame["region"].nunique() == 5


def test_bench_size_has_exactly_20_features(tmp_path: Path) -> None:
    toml_path = build_workspace(tmp_path, size="bench", n_rows=2_000)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["features"]["numeric"]) == 12 and len(manifest["features"]["categorical"]) == 8
    assert set(sample.CATEGORICAL) <= set(manifest["features"]["categorical"])
    assert all(path.endswith(".parquet") for path in read_toml(toml_path)["datasets"].values())
    annotations = pd.read_csv(tmp_path / "annotations.csv")
    # Every item labeled exactly three times (all validation rows, since there are fewer than 100,000).
    assert (annotations.groupby("customer_id").size() == 3).all()
    assert annotations["customer_id"].nunique() == manifest["rows"]["validation"]
    model = load_models(toml_path)["current"]
    assert model.predict(read_dataset(toml_path, "production")[features_of(toml_path)]).shape == (
        manifest["rows"]["production"],
    )


# ---- models ----------------------------------------------------------------------------------------


def test_models_load_with_the_toml_trusted_types_and_predict(tiny: Path) -> None:
    models = load_models(tiny)
    assert set(models) == {"current", "previous"}
    production = read_dataset(tiny, "production")
    for model in models.values():
        assert list(model.classes_) == ["no", "yes"]
        assert list(model.feature_names_in_) == features_of(tiny)
        proba = model.predict_proba(production[features_of(tiny)])
        assert proba.shape == (len(production), 2) and np.isfinite(proba).all()
    assert models["previous"]["clf"].n_estimators < models["current"]["clf"].n_estimators


def test_models_are_the_documented_pipeline(medium: Path) -> None:
    model = load_models(medium)["current"]
    assert [name for name, _ in model.steps] == ["prep", "clf"]
    assert type(model["clf"]).__name__ == "GradientBoostingClassifier"
    assert model["clf"].n_estimators == 150 and model["clf"].max_depth == 3
    assert [name for name, *_ in model["prep"].transformers] == ["num", "cat"]


# ---- the planted facts -----------------------------------------------------------------------------


def test_the_weak_slice_is_clearly_worse(medium: Path) -> None:
    model = load_models(medium)["current"]
    production = read_dataset(medium, "production")  # no planted label errors there
    correct = model.predict(production[features_of(medium)]) == production["churned"].to_numpy()
    weak = in_weak_slice(production)
    assert weak.sum() > 200
    gap = correct[~weak].mean() - correct[weak].mean()
    assert gap >= 0.08
    manifest = json.loads((medium.parent / "manifest.json").read_text())
    measured = manifest["measured"]["current_model_weak_slice"]
    assert measured["rest_accuracy"] - measured["slice_accuracy"] >= 0.08


def test_the_previous_model_is_weaker(medium: Path) -> None:
    models = load_models(medium)
    production = read_dataset(medium, "production")
    X, y = production[features_of(medium)], production["churned"].to_numpy()
    accuracy = {name: (model.predict(X) == y).mean() for name, model in models.items()}
    assert accuracy["previous"] <= accuracy["current"]


def test_the_abrupt_change_is_visible_in_the_south(full_frame: pd.DataFrame) -> None:
    after = full_frame["snapshot_date"] >= pd.Timestamp(ABRUPT_CHANGE_DATE)
    recent = full_frame["snapshot_date"] >= pd.Timestamp("2024-01-01")
    churned = full_frame["churned"] == "yes"
    south = full_frame["region"] == ABRUPT_CHANGE_REGION
    # Compare with the first half of 2024 so that the gradual drift does not count as the jump.
    before_rate, after_rate = churned[south & recent & ~after].mean(), churned[south & after].mean()
    assert after_rate >= before_rate + 0.15
    others_before, others_after = churned[~south & recent & ~after].mean(), churned[~south & after].mean()
    assert abs(others_after - others_before) < 0.05


def test_gradual_drift_in_charges_usage_and_devices(full_frame: pd.DataFrame) -> None:
    quarter = full_frame.groupby(full_frame["snapshot_date"].dt.to_period("Q"))
    charges = quarter["monthly_charges"].mean().to_numpy()
    usage = quarter["data_usage_gb"].mean().to_numpy()
    mobile = quarter["device"].apply(lambda device: (device == "mobile").mean()).to_numpy()
    for series in (charges, usage, mobile):
        assert (np.diff(series) > 0).all()
    assert charges[-1] - charges[0] > 15 and mobile[-1] - mobile[0] > 0.12


def test_labelers_match_their_profiles(medium: Path) -> None:
    annotations = pd.read_csv(medium.parent / "annotations.csv")
    truth = pd.read_csv(medium.parent / "labeler_truth.csv")
    labels = annotations.merge(truth, on="customer_id", validate="many_to_one")
    assert set(labels["annotator"]) == set(LABELERS)
    for name, profile in LABELERS.items():
        for true_label, key in (("yes", "accuracy_yes"), ("no", "accuracy_no")):
            mine = labels[(labels["annotator"] == name) & (labels["true_label"] == true_label)]
            expected = profile[key]
            tolerance = 4 * math.sqrt(expected * (1 - expected) / len(mine)) + 0.01
            assert abs((mine["label"] == true_label).mean() - expected) <= tolerance, (name, true_label)


def test_annotations_have_three_or_four_labels_in_four_batches(medium: Path) -> None:
    annotations = pd.read_csv(medium.parent / "annotations.csv")
    per_item = annotations.groupby("customer_id").size()
    assert set(per_item.unique()) == {3, 4}
    assert per_item.size >= 1_000
    assert not annotations.duplicated(["customer_id", "annotator"]).any()
    assert sorted(annotations["batch"].unique()) == ["2024-W01", "2024-W02", "2024-W03", "2024-W04"]
    assert (annotations.groupby("customer_id")["batch"].nunique() == 1).all()


def test_validation_labels_carry_the_planted_errors(medium: Path) -> None:
    truth = pd.read_csv(medium.parent / "labeler_truth.csv")
    validation = read_dataset(medium, "validation").set_index("customer_id")
    assert truth["is_label_error"].mean() == pytest.approx(0.05, abs=0.002)
    in_dataset = validation.loc[truth["customer_id"], "churned"].to_numpy()
    np.testing.assert_array_equal(in_dataset, truth["dataset_label"].to_numpy())
    flipped = truth["true_label"] != truth["dataset_label"]
    np.testing.assert_array_equal(flipped.to_numpy(), truth["is_label_error"].to_numpy())


def test_manifest_records_versions_and_planted_facts(tiny: Path) -> None:
    manifest = json.loads((tiny.parent / "manifest.json").read_text())
    assert manifest["seed"] == 0 and manifest["size"] == "tiny"
    assert manifest["versions"]["scikit-learn"] == sklearn.__version__
    assert manifest["planted"]["weak_slice"]["conditions"] == WEAK_SLICE
    assert manifest["planted"]["abrupt_change"]["date"] == ABRUPT_CHANGE_DATE
    assert manifest["planted"]["abrupt_change"]["region"] == ABRUPT_CHANGE_REGION
    assert set(manifest["planted"]["labelers"]) == set(LABELERS)
    for name in DATASETS:
        assert manifest["rows"][name] == len(read_dataset(tiny, name))
    assert sum(manifest["rows"][name] for name in DATASETS) == manifest["n_rows"]


# ---- build options and ensure_sample ---------------------------------------------------------------


def test_progress_is_reported_in_order(tmp_path: Path) -> None:
    calls: list[tuple[float, str]] = []
    build_workspace(
        tmp_path, size="tiny", progress=lambda fraction, message: calls.append((fraction, message))
    )
    fractions = [fraction for fraction, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert sum("Training" in message for _, message in calls) == 2
    assert len(calls) >= 6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"size": "huge"}, sample.UNKNOWN_SIZE.format(known="full, tiny, bench", received="huge")),
        ({"size": "tiny", "n_rows": 10}, sample.TOO_FEW_ROWS.format(minimum=2_000, received=10)),
    ],
)
def test_bad_options_are_explained(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ExploreError) as caught:
        build_workspace(tmp_path, **options)
    assert str(caught.value) == message


def test_destination_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("")
    with pytest.raises(ExploreError, match="is not a folder"):
        build_workspace(target, size="tiny")


def test_ensure_sample_is_a_no_op_when_everything_is_present(tmp_path: Path) -> None:
    toml_path = build_workspace(tmp_path, size="tiny")
    before = mtimes(tmp_path)
    assert ensure_sample(tmp_path) == toml_path
    assert mtimes(tmp_path) == before


def test_ensure_sample_rebuilds_only_the_models_for_another_sklearn(tmp_path: Path) -> None:
    toml_path = build_workspace(tmp_path, size="tiny")
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["versions"]["scikit-learn"] = "0.0.1"
    manifest_path.write_text(json.dumps(manifest))
    production = read_dataset(toml_path, "production")[features_of(toml_path)]
    expected = {name: model.predict_proba(production) for name, model in load_models(toml_path).items()}
    before = mtimes(tmp_path)

    calls: list[float] = []
    assert ensure_sample(tmp_path, progress=lambda fraction, message: calls.append(fraction)) == toml_path

    after = mtimes(tmp_path)
    changed = {name for name in before if after[name] != before[name]}
    assert changed == {"model.skops", "previous.skops", "workspace.toml", "manifest.json"}
    assert json.loads(manifest_path.read_text())["versions"]["scikit-learn"] == sklearn.__version__
    assert calls and calls[-1] == 1.0
    for name, model in load_models(toml_path).items():  # same data, same seed: the same model again
        np.testing.assert_array_equal(model.predict_proba(production), expected[name])
    assert ensure_sample(tmp_path) == toml_path and mtimes(tmp_path) == after


def test_ensure_sample_rebuilds_missing_data_at_the_recorded_size(tmp_path: Path) -> None:
    toml_path = build_workspace(tmp_path, size="tiny", seed=3)
    expected = read_dataset(toml_path, "production")
    (tmp_path / "production.parquet").unlink()
    assert ensure_sample(tmp_path) == toml_path
    pd.testing.assert_frame_equal(read_dataset(toml_path, "production"), expected)
    assert json.loads((tmp_path / "manifest.json").read_text())["size"] == "tiny"


def test_sample_dir_is_the_checkouts_sample_data() -> None:
    assert Path(__file__).resolve().parents[2] / "sample_data" == sample.SAMPLE_DIR


@given(st.text(max_size=40))
def test_toml_strings_round_trip(value: str) -> None:
    assert tomllib.loads(f"key = {sample._toml_string(value)}")["key"] == value
