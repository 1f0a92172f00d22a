"""The streamed cells' per-row work as compiled loops (numba): a batch's group codes, cells and loss sums.

``explore.engine.metrics._stream_cells`` streams each row's group code (or the hash of its keys), label/prediction
code and score from DuckDB as Arrow batches. numpy counted them in about 25 passes over each batch (the hash
lookup, the grid check, the key, its ``bincount``, the losses' gathers and weighted ``bincount``s) on the calling
thread, the request's slower side while DuckDB's threads produced the next batches. These loops do the same
arithmetic per row, in a few passes: the cells are the same integers and the sums the same up to the order of
their additions. Separate loops rather than one: the counts' and the sums' scattered writes in one loop cost
more than two loops (10 against 6 ns a row, measured on 4M rows). Imported by that path only (numba is a heavy
import); compiled once per machine (``cache=True``: kept beside this file)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def group_codes(raw, out, hashed, shift, mask, code, full, size):  # pragma: no cover  (compiled)
    """Each row's group code into ``out``: ``raw`` is the hash of the row's keys, looked up among the seen ones by
    a slice of its bits (``metrics._HashCodes``: ``(h >> shift) & mask`` indexes ``code`` and ``full``, the seen
    hash there), or the code itself. False at the first row that is not a seen key or a code in [0, ``size``)."""
    for i in range(raw.shape[0]):
        if hashed:
            h = np.uint64(raw[i])
            slot = np.int64((h >> shift) & mask)
            if full[slot] != h:
                return False
            out[i] = code[slot]
        else:
            g = np.int64(raw[i])
            if g < 0 or g >= size:
                return False
            out[i] = g
    return True


@numba.njit(nogil=True, cache=True)
def grid_cells(yp, s, steps, first, slots, G1, fill, r):  # pragma: no cover  (compiled)
    """Each row's (label/prediction code, exact score slot) cell ``yp × G1 + slot`` into ``r``: the slot
    ``rint(score × steps) − first``, ``slots`` for a missing score. False when a row's score is off the grid (its
    slot does not give the score back, or lies outside the slots; a missing score is checked as ``fill``)."""
    bad = False
    for i in range(s.shape[0]):
        v = s[i]
        finite = np.isfinite(v)
        w = v if finite else fill
        t = np.rint(w * steps)
        bad |= (t / steps != w) | (t < first) | (t - first >= slots)
        k = min(max(t - first, 0.0), float(slots))  # in range before the conversion, even off the grid
        r[i] = np.int64(yp[i]) * G1 + (np.int64(k) if finite else slots)
    return not bad


@numba.njit(nogil=True, cache=True)
def bin_cells(yp, s, lo, width, nbins, S, r):  # pragma: no cover  (compiled)
    """Each row's (label/prediction code, score bin) cell ``yp × S + bin`` into ``r``: the bin ``floor((score −
    lo) / width)`` clipped to [−1, ``nbins``], plus one; ``S − 1`` for a missing score."""
    for i in range(s.shape[0]):
        v = s[i]
        if np.isfinite(v):
            t = np.floor((v - lo) / width)
            t = min(max(t, -1.0), float(nbins))
            r[i] = np.int64(yp[i]) * S + np.int64(t + 1.0)
        else:
            r[i] = np.int64(yp[i]) * S + S - 1


@numba.njit(nogil=True, cache=True)
def count_cells(g, r, counts, per_group, cell_of, mapped):  # pragma: no cover  (compiled)
    """Add each row to ``counts[g × per_group + cell]``, the cell ``r`` or, ``mapped``, ``cell_of[r]``."""
    if mapped:
        for i in range(g.shape[0]):
            counts[g[i] * per_group + cell_of[r[i]]] += 1
    else:
        for i in range(g.shape[0]):
            counts[g[i] * per_group + r[i]] += 1


@numba.njit(nogil=True, cache=True)
def group_sums(g, r, table, total, squares, with_squares):  # pragma: no cover  (compiled)
    """Per group, the sum of ``table[r]`` into ``total`` (and of its squares into ``squares``)."""
    if with_squares:
        for i in range(g.shape[0]):
            x = table[r[i]]
            total[g[i]] += x
            squares[g[i]] += x * x
    else:
        for i in range(g.shape[0]):
            total[g[i]] += table[r[i]]


def warm() -> None:
    """Load (or compile) every loop for the types the stream passes, on a few rows: numba loads each compiled
    specialization at its first call (about 0.5 s CPU in all, import included), which a caller can run in a
    thread while DuckDB reads (its queries release the GIL)."""
    m = 4
    g, r = np.zeros(m, dtype=np.intp), np.zeros(m, dtype=np.intp)
    yp, s = np.zeros(m, dtype=np.uint8), np.zeros(m)
    none = np.zeros(0, dtype=np.intp)
    group_codes(
        np.zeros(m, dtype=np.int32), g, False, np.uint64(0), np.uint64(0), g, np.zeros(1, np.uint64), 1
    )
    group_codes(
        np.zeros(m, dtype=np.uint64), g, True, np.uint64(0), np.uint64(0), g, np.zeros(1, np.uint64), 1
    )
    grid_cells(yp, s, 1, 0, 1, 2, 0.0, r)
    bin_cells(yp, s, 0.0, 1.0, 1, 4, r)
    count_cells(g, r, np.zeros(4, dtype=np.int64), 1, none, False)
    group_sums(g, r, np.zeros(4), np.zeros(1), np.zeros(1), True)
