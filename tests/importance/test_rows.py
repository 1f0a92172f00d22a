"""explore/importance/rows.py: which rows the Importance page explains, a row typed by position, and what the
model said about one row."""

from __future__ import annotations

import pytest

from explore.errors import AnalysisError
from explore.importance import rows
from explore.slices.definition import Condition, SliceDefinition


def test_rows_to_explain_all_rows_a_slice_and_a_slice_that_cannot_apply(small_scored):
    sc, _ = small_scored()
    everything = rows.rows_to_explain(sc, None)
    assert everything.slice is None and everything.mask is None and everything.population == sc.n
    assert rows.rows_to_explain(sc, SliceDefinition()).slice is None  # no conditions: all rows

    city_a = SliceDefinition((Condition("city", "in", ("a",)),))
    sliced = rows.rows_to_explain(sc, city_a)
    assert sliced.slice == city_a and sliced.problem is None
    assert sliced.population == int((sc.frame["city"] == "a").sum()) == int(sliced.mask.sum())

    # A slice on a column this dataset lacks: all rows, and why.
    elsewhere = rows.rows_to_explain(sc, SliceDefinition((Condition("region", "in", ("South",)),)))
    assert elsewhere.slice is None and elsewhere.mask is None and elsewhere.population == sc.n
    assert "region" in elsewhere.problem

    nobody = rows.rows_to_explain(sc, SliceDefinition((Condition("city", "in", ("zzz",)),)))
    assert nobody.population == 0


@pytest.mark.parametrize(("text", "expected"), [("12", 12), (" 1,234 ", 1234), ("0", 0)])
def test_parse_position_reads_whole_numbers(text, expected):
    assert rows.parse_position(text, 2000) == expected


def test_parse_position_says_what_it_expects():
    with pytest.raises(AnalysisError) as err:
        rows.parse_position("C0035", 1500)
    assert str(err.value) == rows.NOT_A_POSITION.format(last=1499, received="C0035")
    assert "from 0 to 1,499; received 'C0035'" in str(err.value)


def test_row_outcome_classification_and_regression(small_scored):
    sc, _ = small_scored()
    unscored = rows.row_outcome(sc, 0)
    assert unscored.predicted == "?" and unscored.predicted_class == "" and unscored.truth == str(sc.y_raw[0])
    scored_row = rows.row_outcome(sc, 1)
    assert scored_row.predicted == scored_row.predicted_class == str(sc.classes[sc.pred[1]])

    reg, _ = small_scored("regression")
    out = rows.row_outcome(reg, 3)
    assert (
        out.truth == f"{reg.y[3]:.4g}" and out.predicted == f"{reg.pred[3]:.4g}" and out.predicted_class == ""
    )
