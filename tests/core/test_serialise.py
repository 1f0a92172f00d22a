"""explore/core/serialise.py: the one serialiser (scalars, whole results, the store's JSON text, TOML)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explore.core.serialise import jsonable, plain, to_json, toml_dumps


def test_to_json_makes_numpy_and_pandas_values_plain():
    value = {
        "b": [np.float64("nan"), float("inf"), np.float32(0.5)],
        "a": np.arange(3),
        "when": pd.Timestamp("2024-01-02 03:04:05", tz="UTC"),
        "missing": pd.NaT,
        "n": np.int64(5),
        "flag": np.bool_(True),
        3: "int key",
    }
    assert to_json(value) == (
        '{"3": "int key", "a": [0, 1, 2], "b": [null, null, 0.5], "flag": true, "missing": null, '
        '"n": 5, "when": "2024-01-02T03:04:05+00:00"}'
    )


def test_to_json_sorts_sets_and_refuses_what_json_cannot_hold():
    assert to_json({"s": {"b", "a", "c"}}) == '{"s": ["a", "b", "c"]}'
    with pytest.raises(TypeError, match="object is not JSON serializable|not JSON serializable"):
        to_json({"x": object()})


def test_plain_scalars():
    assert plain(np.int64(3)) == 3 and type(plain(np.int64(3))) is int
    assert plain(np.float64("nan")) is None and plain(float("-inf")) is None and plain(pd.NA) is None
    assert plain(np.datetime64("2024-01-02T03:04:05")) == "2024-01-02T03:04:05"
    assert plain(np.datetime64("NaT")) is None and plain(pd.NaT) is None
    assert plain(dt.date(2024, 1, 2)) == "2024-01-02" and plain(Path("a/b")) == "a/b"
    assert plain("text") == "text" and plain(None) is None


def test_plain_for_a_model_keeps_timestamps_and_infinities():
    when = pd.Timestamp("2024-01-02")
    assert plain(when, for_json=False) is when
    assert plain(np.datetime64("2024-01-02"), for_json=False) == when
    assert plain(np.float64("inf"), for_json=False) == float("inf")
    assert plain(np.float64("nan"), for_json=False) is None and plain(pd.NaT, for_json=False) is None
    assert type(plain(np.bool_(True), for_json=False)) is bool


@dataclasses.dataclass
class _Result:
    name: str
    table: pd.DataFrame
    values: np.ndarray


def test_jsonable_walks_results_and_cuts_long_tables():
    result = _Result("r", pd.DataFrame({"a": np.arange(5.0), "t": pd.Timestamp("2024-01-01")}), np.arange(5))
    data = jsonable(result)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["name"] == "r" and data["values"] == [0, 1, 2, 3, 4]
    assert data["table"][1] == {"a": 1.0, "t": "2024-01-01T00:00:00"}
    short = jsonable(result, max_rows=2)
    assert len(short["table"]) == 2 and short["values"] == [0, 1]
    assert jsonable(pd.Series(np.arange(10)), max_rows=3) == [0, 1, 2]
    # Unknown objects are written as text unless strict.
    assert jsonable({"d": dt.timedelta(seconds=1)}) == {"d": "0:00:01"}
    with pytest.raises(TypeError):
        jsonable({"d": dt.timedelta(seconds=1)}, strict=True)


def test_toml_dumps_round_trips():
    data = {
        "format": 1,
        "name": 'a "quoted"\nname',
        "skip": None,
        "ratio": 0.25,
        "flags": [True, False],
        "metrics": {"accuracy": {"vs_previous": 0.01}, "log loss": {"gap": "5%"}},
        "override": [{"metric": "accuracy", "slice": "device = tablet"}],
    }
    text = toml_dumps(data, header="A header\nover two lines")
    assert text.startswith("# A header\n# over two lines\n")
    back = tomllib.loads(text)
    data.pop("skip")
    assert back == data
