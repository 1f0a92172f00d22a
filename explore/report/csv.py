"""The one CSV writer for every download others open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (and a leading tab or
carriage return can hide one): ``=HYPERLINK("http://evil", "click")`` typed as a labeler name or found in a
data file would run on the colleague who opens the export. Following OWASP's advice on CSV injection, such
text cells (and column names) are prefixed with ``'``, which spreadsheets show as plain text. Numbers stay
numbers: ``-0.5`` in a numeric column is not text and is written as is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: object) -> object:
    """``value`` with ``'`` in front when it is text a spreadsheet would read as a formula; else unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names cannot run as spreadsheet formulas."""
    out = df.copy()
    out.columns = [neutralised(str(c)) for c in out.columns]
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        elif not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)):
            continue
        # Element by element: an object column may mix text with numbers, booleans or None.
        risky = np.fromiter(
            (isinstance(v, str) and v.startswith(FORMULA_STARTS) for v in col), bool, len(col)
        )
        if risky.any():
            col = col.astype(object).mask(risky, "'" + col[risky].astype(str))
        out.isetitem(i, col)
    return out


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as UTF-8 CSV without the index, with formula-like text neutralised (:func:`spreadsheet_safe`)."""
    return spreadsheet_safe(df).to_csv(index=False).encode("utf-8")
