"""The one rule for finding a row by its id (explore.core.row_ids), used by the pages and explain.find_row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.core.row_ids import id_text, id_texts, position_of_id


def test_int_ids_match_their_number_and_its_text_only():
    ids = np.array([7, 8, 9], dtype=np.int64)
    assert position_of_id(ids, 8) == 1
    assert position_of_id(ids, np.int64(8)) == 1
    assert position_of_id(ids, "8") == 1
    assert position_of_id(ids, " 8 ") == 1  # typed text, spaces around
    assert position_of_id(ids, 8.0) == 1  # a number equal to the id
    assert position_of_id(ids, "8.0") is None  # text reads differently
    assert position_of_id(ids, "007") is None and position_of_id(ids, "07") is None
    assert position_of_id(ids, 10) is None


def test_string_ids_match_as_text():
    ids = np.array(["r0", "007", "7", "r3"], dtype=object)
    assert position_of_id(ids, " r3 ") == 3
    assert position_of_id(ids, "007") == 1
    assert position_of_id(ids, 7) == 2  # the number 7 reads "7", not "007"
    assert position_of_id(np.array(["007"], dtype=object), 7) is None
    assert position_of_id(ids, "r9") is None


def test_float_ids():
    ids = np.array([0.5, 7.0, 7.5])
    assert position_of_id(ids, 7.5) == 2 and position_of_id(ids, "7.5") == 2
    assert position_of_id(ids, 7) == 1  # numerically equal
    assert position_of_id(ids, "7.0") == 1  # as the float id reads
    assert position_of_id(ids, "7") is None  # text "7" is not how 7.0 reads


def test_time_ids_match_their_iso_text():
    ids = pd.date_range("2024-01-01", periods=3, freq="h").to_numpy()
    assert position_of_id(ids, "2024-01-01T01:00:00") == 1
    assert position_of_id(ids, pd.Timestamp("2024-01-01 02:00")) == 2
    assert id_text(pd.Timestamp("2024-01-01 02:00")) == "2024-01-01T02:00:00"


@pytest.mark.parametrize("wanted", [None, "", "   "])
def test_nothing_typed_finds_nothing(wanted):
    assert position_of_id(np.array(["a", ""], dtype=object), wanted) is None


def test_kept_texts_give_the_same_answer():
    ids = np.array([3, 1, 2, 1], dtype=np.int64)
    texts = id_texts(ids)
    assert texts.tolist() == ["3", "1", "2", "1"]
    for wanted in (1, "1", "2", "5", 2.0):
        assert position_of_id(ids, wanted, texts=texts) == position_of_id(ids, wanted)
    assert position_of_id(ids, "1") == 1  # the first of two equal ids
    assert not isinstance(position_of_id(ids, 1), bool)


def test_bools_are_not_numbers():
    assert position_of_id(np.array([0, 1]), True) is None  # True reads "True"
    assert position_of_id(np.array([True, False]), True) == 0
