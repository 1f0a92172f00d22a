"""Small synthetic workspaces made on the fly: the "user's own CSV + Pipeline saved with skops"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from explore.core.upload import toml_text


def frame(n: int = 400, *, task: str = "binary", seed: int = 0) -> pd.DataFrame:
    """Mixed numeric/string features with missing values, a label, ids and timestamps."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "row_id": np.arange(n) + 1000,
            "when": pd.date_range("2024-01-01", periods=n, freq="6h").strftime("%Y-%m-%d %H:%M"),
            "age": rng.integers(18, 80, n).astype(float),
            "hours": rng.normal(40, 10, n),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
        }
    )
    df.loc[rng.random(n) < 0.1, "hours"] = np.nan
    signal = (df["age"] - 45) / 15 + np.nan_to_num(df["hours"] - 40) / 10 + (df["city"] == "Nice") * 1.0
    if task == "binary":
        df["income"] = np.where(signal + rng.normal(0, 0.7, n) > 0, ">50K", "<=50K")
    elif task == "multiclass":
        df["income"] = pd.cut(
            signal + rng.normal(0, 0.5, n), [-np.inf, -0.7, 0.7, np.inf], labels=["low", "mid", "high"]
        ).astype(str)
    else:
        df["income"] = 30_000 + 8_000 * signal + rng.normal(0, 2_000, n)
    return df


FEATURES = ["age", "hours", "city"]


def pipeline(task: str = "binary") -> Pipeline:
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["age", "hours"]),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["city"],
            ),
        ]
    )
    est = (
        GradientBoostingRegressor(n_estimators=20, random_state=0)
        if task == "regression"
        else GradientBoostingClassifier(n_estimators=20, random_state=0)
    )
    return Pipeline([("prep", prep), ("model", est)])


def make_workspace(
    dest: Path,
    *,
    task: str = "binary",
    model: Any = "fit",
    model_name: str = "model.skops",
    columns: dict[str, Any] | None = None,
    datasets: dict[str, pd.DataFrame] | None = None,
    extra_sections: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write CSV datasets + a skops Pipeline + workspace.toml into ``dest``; return the toml path."""
    dest.mkdir(parents=True, exist_ok=True)
    if datasets is None:
        df = frame(400, task=task)
        datasets = {"train": df.iloc[:300], "validation": df.iloc[300:]}
    for name, d in datasets.items():
        d.to_csv(dest / f"{name}.csv", index=False)
    sections: dict[str, dict[str, Any]] = {}
    if model is not None:
        est = (
            pipeline(task).fit(
                next(iter(datasets.values()))[FEATURES], next(iter(datasets.values()))["income"]
            )
            if model == "fit"
            else model
        )
        if model_name.endswith(".skops"):
            sio.dump(est, dest / model_name)
            types = sio.get_untrusted_types(file=dest / model_name)
        else:
            import joblib

            joblib.dump(est, dest / model_name)
            types = []
        sections["model"] = {"path": model_name, "trusted_types": types}
    sections["columns"] = (
        columns if columns is not None else {"label": "income", "time": "when", "id": "row_id"}
    )
    sections["datasets"] = {name: f"{name}.csv" for name in datasets}
    sections.update(extra_sections or {})
    path = dest / "workspace.toml"
    path.write_text(toml_text(sections), encoding="utf-8")
    return path


BAD_INPUTS = (
    "text_in_numeric_feature",
    "feature_near_1e308",
    "nan_without_imputer",
    "text_score",
    "symlink_loop",
    "amount_as_time",
)


def bad_input_workspace(dest: Path, kind: str) -> Path:
    """A workspace whose dataset 'validation' is bad in one way of ``BAD_INPUTS`` (the five found by trying
    131 kinds of bad input, issue 19); 'train' is fine. Returns the toml path."""
    df = frame(400)
    train, valid = df.iloc[:300].copy(), df.iloc[300:].copy()
    if kind == "text_in_numeric_feature":
        valid["age"] = valid["age"].astype(object)
        valid.loc[valid.index[:5], "age"] = "old"
    elif kind == "feature_near_1e308":
        valid.loc[valid.index[:5], "hours"] = 1.7e308
    elif kind == "nan_without_imputer":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(train[["age"]], train["income"])
        valid.loc[valid.index[:5], "age"] = np.nan
        return make_workspace(dest, model=model, datasets={"train": train, "validation": valid})
    elif kind == "text_score":
        valid["pred"], valid["score"] = ">50K", "high"
        return make_workspace(
            dest,
            model=None,
            datasets={"validation": valid},
            columns={"label": "income", "prediction": "pred", "score": "score"},
        )
    elif kind == "symlink_loop":
        path = make_workspace(dest, datasets={"train": train, "validation": valid})
        (dest / "validation.csv").unlink()
        (dest / "validation.csv").symlink_to(dest / "validation.csv")
        return path
    elif kind == "amount_as_time":  # found by the QA round: a numeric feature named as the time column
        return make_workspace(
            dest,
            datasets={"train": train, "validation": valid},
            columns={"label": "income", "time": "hours", "id": "row_id"},
        )
    else:
        raise ValueError(f"unknown bad input {kind!r}; known: {', '.join(BAD_INPUTS)}")
    return make_workspace(dest, datasets={"train": train, "validation": valid})


# What each bad input's message must name (the column or file and the fix).
BAD_INPUT_MESSAGES = {
    "text_in_numeric_feature": ("'age'", "'old'", "Make those cells numbers"),
    "feature_near_1e308": ("'hours'", "float32", "Clip or rescale"),
    "nan_without_imputer": ("'age' (5 rows)", "imputer"),
    "text_score": ("score column 'score'", "'high'", "numeric column"),
    "symlink_loop": ("validation.csv", "symlink loop", "real file"),
    "amount_as_time": ("time column 'hours'", "not times", "[columns] time"),
}


def hostile_workspace(dest: Path) -> Path:
    """A workspace whose user-supplied names are hostile text (tests/hostile.py): feature names, category values,
    a dataset name, a second model's name, and the columns of the expectation suite the Checks page profiles.
    Both models are trained on the hostile columns. Returns the toml path."""
    from tests.hostile import PAYLOADS

    num1, num2, cat = PAYLOADS["img_onerror"], PAYLOADS["md_link"], PAYLOADS["streamlit_directive"]
    values = [PAYLOADS["iframe_srcdoc"], PAYLOADS["md_link_http"], PAYLOADS["rtl_zero_width"]]
    df = frame(600).rename(columns={"age": num1, "hours": num2, "city": cat})
    df[cat] = df[cat].map(dict(zip(["Paris", "Lyon", "Nice"], values, strict=True)))
    evaluation = PAYLOADS["md_image"]
    datasets = {"train": df.iloc[:400], evaluation: df.iloc[400:]}
    dest.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(datasets.values()):
        d.to_csv(dest / f"data{i}.csv", index=False)

    def fitted(n_estimators: int) -> Pipeline:
        prep = ColumnTransformer(
            [
                ("num", SimpleImputer(strategy="median"), [num1, num2]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), [cat]),
            ]
        )
        model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=0)
        return Pipeline([("prep", prep), ("model", model)]).fit(
            df.iloc[:400][[num1, num2, cat]], df.iloc[:400]["income"]
        )

    other = PAYLOADS["md_link_http"]
    for file, est in (("model.skops", fitted(20)), ("previous.skops", fitted(5))):
        sio.dump(est, dest / file)
    types = sio.get_untrusted_types(file=dest / "model.skops")
    sections: dict[str, dict[str, Any]] = {
        "model": {"path": "model.skops", "trusted_types": types},
        "models": {other: {"path": "previous.skops", "trusted_types": types}},
        "columns": {"label": "income", "time": "when", "id": "row_id"},
        "datasets": {name: f"data{i}.csv" for i, name in enumerate(datasets)},
        "checks": {"thresholds": "thresholds.toml", "slices": [cat]},
    }
    # A threshold override naming the hostile dataset and column (the Comparison section shows it).
    from explore.checks.compare import default_thresholds

    override = f'\n[[override]]\nmetric = "accuracy"\ndataset = {json.dumps(evaluation)}\nslice = {json.dumps(cat)}\n'
    (dest / "thresholds.toml").write_text(
        default_thresholds("binary").to_toml() + override + "vs_previous = 0.03\n", encoding="utf-8"
    )
    path = dest / "workspace.toml"
    path.write_text(toml_text(sections), encoding="utf-8")
    return path
