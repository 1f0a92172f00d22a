"""explore/checks/reproducibility.py: refits as configured / seeded / another seed; unseeded parameters named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.random_projection import GaussianRandomProjection

from explore.checks import reproducibility
from explore.errors import AnalysisError
from tests.checks.test_compare import table_workspace


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.where(X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(0, 0.8, n) > 0, "a", "b")
    return pd.DataFrame(X, columns=["f1", "f2", "f3", "f4"]).assign(y=y, group=rng.choice(["g1", "g2"], n))


def _ws(model):
    train, valid = _data(400, 0), _data(300, 1)
    model.fit(train[["f1", "f2", "f3", "f4"]], train["y"])
    return table_workspace(
        {"train": train, "validation": valid},
        {"current": model},
        columns={"features": ["f1", "f2", "f3", "f4"]},
    )


def test_unseeded_estimator_is_flagged_and_its_parameter_named():
    ws = _ws(Pipeline([("scale", StandardScaler()), ("forest", RandomForestClassifier(n_estimators=15))]))
    res = reproducibility.reproducibility(ws, slices=["group"])
    assert res.passed is False
    assert res.unset == ["forest__random_state"]
    configured = res.pair("as configured")
    assert not configured.identical and configured.n_changed > 0
    assert configured.first_differing_step == "'forest' (RandomForestClassifier)"
    assert res.pair("seeds fixed").identical
    assert (
        "forest__random_state" in res.summary() and "Fixing them makes training reproducible" in res.summary()
    )
    assert configured.max_slice.startswith("group = ")
    assert res.to_dict()["passed"] is False


def test_first_differing_step_is_the_unseeded_transformer():
    pipe = Pipeline(
        [
            ("proj", GaussianRandomProjection(n_components=3)),
            ("clf", LogisticRegression(random_state=0)),
        ]
    )
    res = reproducibility.reproducibility(_ws(pipe))
    assert res.unset == ["proj__random_state"]
    assert res.passed is False
    assert res.pair("as configured").first_differing_step == "'proj' (GaussianRandomProjection)"


def test_seeded_model_is_reproducible_and_another_seed_shows_the_natural_variation():
    ws = _ws(GradientBoostingClassifier(n_estimators=20, subsample=0.7, random_state=3))
    res = reproducibility.reproducibility(ws)
    assert res.passed is True and res.unset == []
    assert res.random == {"random_state": 3}
    other = res.pair("different seeds")
    assert other is not None and not other.identical  # subsample=0.7 makes the seed matter
    assert (other.metrics["metric"] == "accuracy").any()
    assert "identical predictions" in res.summary()


def test_unused_unset_seed_does_not_claim_fixing_it_makes_training_reproducible():
    # LogisticRegression (lbfgs) ignores random_state: its refits already agree, so the summary must not say
    # "Fixing them makes training reproducible" right after "identical predictions".
    res = reproducibility.reproducibility(_ws(LogisticRegression()))
    assert res.passed is True and res.unset == ["random_state"]
    text = res.summary()
    assert "identical predictions" in text and "Fixing them makes training reproducible" not in text
    assert "does not use them here" in text


def test_reproducibility_needs_a_model():
    df = _data(100, 0).assign(pred="a")
    ws = table_workspace({"train": df, "validation": df}, {}, columns={"features": ["f1", "f2", "f3", "f4"]})
    with pytest.raises(AnalysisError, match="predictions-only"):
        reproducibility.reproducibility(ws)
