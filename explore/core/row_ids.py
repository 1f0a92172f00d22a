"""The one rule for finding a row by its id, typed by a person or carried over from another page.

An id matches when it *reads* the same (the text the datapoint shows: numbers as Python prints them, times as
ISO text) or, for an id given as a number, when it *equals* a numeric id. So with integer ids ``"8"`` and ``8``
find row 8 but ``"8.0"`` and ``"008"`` do not; with text ids ``"007"`` is not ``7``; with float ids ``7.5`` and
``"7.5"`` find 7.5 and the number ``7`` finds ``7.0``. Typed text is compared without surrounding spaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from explore.core.serialise import plain


def id_texts(ids: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Every id as the text it reads (timestamps as ISO text, as ``plain`` writes them)."""
    series = pd.Series(ids)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return np.array([str(plain(v)) for v in series], dtype=object)
    return series.astype(str).to_numpy()


def id_text(value: Any) -> str:
    """``value`` as an id reads: typed text without surrounding spaces, anything else as ``id_texts`` writes it."""
    if isinstance(value, str):
        return value.strip()
    return str(id_texts([value])[0])


def position_of_id(
    ids: Sequence[Any] | np.ndarray | pd.Series, wanted: Any, *, texts: np.ndarray | None = None
) -> int | None:
    """The position of the first id that is ``wanted`` (see the module's rule), or None.

    ``texts`` is ``id_texts(ids)`` when the caller keeps it (the app caches it per scored dataset).
    """
    if wanted is None or (isinstance(wanted, str) and not wanted.strip()):
        return None
    values = np.asarray(ids)
    number = isinstance(wanted, int | float | np.number) and not isinstance(wanted, bool | np.bool_)
    if number and values.dtype.kind in "iuf":
        hit = np.flatnonzero(values == wanted)
        if len(hit):
            return int(hit[0])
    hit = np.flatnonzero((id_texts(values) if texts is None else texts) == id_text(wanted))
    return int(hit[0]) if len(hit) else None


def ids_hint(ids: Sequence[Any] | np.ndarray | pd.Series, *, shown: int = 3) -> str:
    """What a message about an unknown id says of the ids there are: how many, the first few and the last, as
    they read ("its 700 ids: 'L-01500', 'L-01501', 'L-01502' … 'L-02199'")."""
    texts = id_texts(ids)
    if not len(texts):
        return "it has no rows"
    head = ", ".join(repr(str(t)) for t in texts[:shown])
    tail = f" … {str(texts[-1])!r}" if len(texts) > shown else ""
    return f"its {len(texts):,} ids: {head}{tail}"
