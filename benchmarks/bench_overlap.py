"""Train / evaluation overlap (explore.checks.overlap.row_hashes + np.isin) against the peer a user would write:
a pandas inner merge of the evaluation rows on the training rows' distinct feature values. Same rows, same run;
prints wall and CPU seconds and checks both count the same duplicates.

    python benchmarks/bench_overlap.py --rows 1000000 --features 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from explore.checks.overlap import row_hashes


def frames(rows: int, features: int, copied: float, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    cols = {}
    for j in range(features):
        if j % 4 == 3:
            cols[f"c{j}"] = rng.choice(["a", "b", "c", "d", "e"], rows)
        else:
            cols[f"f{j}"] = rng.normal(size=rows).round(3)
    train = pd.DataFrame(cols)
    valid = pd.DataFrame({c: np.roll(v, 7) if c.startswith("f") else v for c, v in cols.items()})
    k = int(rows * copied)
    valid.iloc[:k] = train.iloc[:k].to_numpy()
    valid = valid.astype(train.dtypes.to_dict())
    return train, valid


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in each of training and evaluation data"
    )
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--copied", type=float, default=0.1, help="share of evaluation rows copied from training")
    a = ap.parse_args()
    train, valid = frames(a.rows, a.features, a.copied)
    cols = list(train.columns)

    def ours() -> int:
        return int(np.isin(row_hashes(valid, cols), np.unique(row_hashes(train, cols))).sum())

    def peer() -> int:
        keys = train[cols].drop_duplicates()
        return int(valid[cols].reset_index().merge(keys, on=cols, how="inner")["index"].nunique())

    n1, w1, c1 = timed(ours)
    n2, w2, c2 = timed(peer)
    assert n1 == n2, (n1, n2)
    print(
        f"{a.rows:,} training + {a.rows:,} evaluation rows × {a.features} features; {n1:,} duplicates found by both"
    )
    print(f"{'explore (hash + isin)':<28} wall {w1:7.2f} s   CPU {c1:7.2f} s")
    print(f"{'pandas merge (peer)':<28} wall {w2:7.2f} s   CPU {c2:7.2f} s")
    print(f"CPU ratio explore / peer: {c1 / c2:.2f}")


if __name__ == "__main__":
    main()
