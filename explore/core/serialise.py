"""The one serialiser: results, parameters and ids as plain JSON types, and settings as TOML.

* ``plain(value)`` turns one scalar (numpy numbers, timestamps, NaN) into a JSON scalar;
  ``plain(value, for_json=False)`` only unboxes it (numpy → Python, missing → None) for values that go
  back into a model or a frame.
* ``jsonable(value)`` builds on it for whole results: dataclasses, mappings, sequences, arrays and frames
  (as lists of records). Options: ``max_rows`` (cut frames, series and arrays), ``sort_sets`` (equal sets
  give equal JSON), ``strict`` (raise ``TypeError`` on an object JSON cannot hold instead of writing its
  ``str``).
* ``to_json(value)`` is the store's JSON text: sorted keys, sorted sets, strict.
* ``toml_dumps(mapping)`` writes nested mappings as TOML (threshold files, expectation suites).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def plain(value: Any, *, for_json: bool = True) -> Any:
    """One scalar as a JSON scalar: numpy numbers → int/float/bool, timestamps → ISO text, NaN/inf/NaT → None,
    paths → text. Anything else is returned as it is.

    ``for_json=False`` only unboxes: numpy scalars become Python ones (``datetime64`` a ``pandas.Timestamp``),
    missing values (NaN, ``pd.NA``, NaT) become None; timestamps, infinities and paths stay as they are.
    """
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        return pd.Timestamp(value).isoformat() if for_json else pd.Timestamp(value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float):
        if math.isnan(value) or (for_json and math.isinf(value)):
            return None
        return value
    if not for_json:
        return value
    if isinstance(value, dt.date):  # datetime and pandas.Timestamp too
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


_JSON_SCALARS = (str, int, float, bool, type(None))


def jsonable(
    value: Any, *, max_rows: int | None = None, sort_sets: bool = False, strict: bool = False
) -> Any:
    """``value`` made of JSON types only: dataclasses and mappings become dicts (keys as text), frames lists
    of records, series, arrays, sequences and sets lists, scalars :func:`plain`.

    ``max_rows``: keep the first rows of frames, series and arrays only. ``sort_sets``: sets become sorted
    lists (so that equal sets give equal JSON). ``strict``: an object JSON cannot hold raises ``TypeError``
    (a bug, not user input) instead of being written as its ``str``.
    """

    def walk(v: Any) -> Any:
        if isinstance(v, pd.DataFrame):
            return walk((v if max_rows is None else v.head(max_rows)).to_dict(orient="records"))
        if isinstance(v, pd.Series):
            return walk((v if max_rows is None else v.head(max_rows)).tolist())
        if isinstance(v, np.ndarray):
            return walk((v if max_rows is None else v[:max_rows]).tolist())
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: walk(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Mapping):
            return {str(k): walk(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [walk(x) for x in v]
        if isinstance(v, set | frozenset):
            return [walk(x) for x in (sorted(v) if sort_sets else v)]
        out = plain(v)
        if isinstance(out, _JSON_SCALARS):
            return out
        if strict:
            raise TypeError(f"Object of type {type(v).__name__} is not JSON serializable")
        return str(out)

    return walk(value)


def to_json(value: Any) -> str:
    """``value`` as JSON text with sorted keys (the store's payloads).

    numpy scalars and arrays become numbers and lists, dates and ``pandas.Timestamp`` ISO strings, sets sorted
    lists, NaN/inf/NaT ``null``. Anything else that JSON cannot hold raises ``TypeError`` (a bug, not user input).
    """
    return json.dumps(jsonable(value, sort_sets=True, strict=True), sort_keys=True, allow_nan=False)


# ---- TOML -------------------------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_scalar(str(key))


def _toml_scalar(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_scalar(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{ "
            + ", ".join(f"{_toml_key(k)} = {_toml_scalar(v)}" for k, v in value.items() if v is not None)
            + " }"
        )
    text = str(value)
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{text}"'


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) > 0 and all(isinstance(i, Mapping) for i in v)


def toml_dumps(data: Mapping[str, Any], *, header: str = "") -> str:
    """Serialise nested mappings as TOML: scalars first, then ``[tables]`` and ``[[arrays of tables]]``.

    ``None`` values are left out (TOML has no null). ``header`` lines are written as ``#`` comments.
    """
    out: list[str] = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    if out:
        out.append("")

    def emit(table: Mapping[str, Any], path: list[str]) -> None:
        scalars = {
            k: v for k, v in table.items() if v is not None and not _is_table(v) and not _is_table_array(v)
        }
        for k, v in scalars.items():
            out.append(f"{_toml_key(k)} = {_toml_scalar(v)}")
        for k, v in table.items():
            if _is_table(v):
                sub = [*path, _toml_key(k)]
                has_values = any(
                    x is not None and not _is_table(x) and not _is_table_array(x) for x in v.values()
                )
                if has_values or not v:
                    if out and out[-1] != "":
                        out.append("")
                    out.append(f"[{'.'.join(sub)}]")
                emit(v, sub)
            elif _is_table_array(v):
                for item in v:
                    sub = [*path, _toml_key(k)]
                    if out and out[-1] != "":
                        out.append("")
                    out.append(f"[[{'.'.join(sub)}]]")
                    emit(item, sub)

    emit(data, [])
    return "\n".join(out).rstrip() + "\n"
