"""Train / evaluation overlap (explore.checks.overlap.row_hashes + np.isin) against the peer a user would write:
a pandas inner merge of the evaluation rows on the training rows' distinct feature values. Same rows, same run;
prints wall and CPU seconds and checks both count the same duplicates.

    python benchmarks/bench_overlap.py --rows 1000000 --features 20

``--log DIR`` (a benchmark log, benchmarks/bench_engine.py): the evaluation data stays in DuckDB and the training
data is ``--rows`` rows in memory (``--copied`` of them drawn from the log, the rest shifted so they match nothing);
explore's engine path (``explore.checks.overlap.engine_duplicates``: the normalised keys registered, one semi-join)
against a plain DuckDB floor in the same run: a scan reading the same feature columns (``count(*)`` of the rows
whose features are all not NULL, the least a pass over them costs) and the semi-join a DuckDB user would write on the
raw columns (``IS NOT DISTINCT FROM``; NaN and -0.0 as DuckDB compares them).

    python benchmarks/bench_overlap.py --log /work/bench-data/log_10000000 --rows 1000000 --threads 2

``--log-is-training``: the other way round — the log is the training data and the ``--rows`` in memory are the
evaluation rows (the semi-join then probes the small side against every logged row).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from common import wall_and_cpu

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--rows", type=int, default=1_000_000, help="rows in each of training and evaluation data"
    )
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--copied", type=float, default=0.1, help="share of evaluation rows copied from training")
    ap.add_argument("--log", help="a benchmark log folder: the evaluation data stays in DuckDB (see above)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-is-training", action="store_true", help="with --log: the log is the training data")
    ap.add_argument("--memory-limit", default="6GB")
    a = ap.parse_args()
    if a.log:
        engine(a)
        return
    train, valid = frames(a.rows, a.features, a.copied)
    cols = list(train.columns)

    def ours() -> int:
        return int(np.isin(row_hashes(valid, cols), np.unique(row_hashes(train, cols))).sum())

    def peer() -> int:
        keys = train[cols].drop_duplicates()
        return int(valid[cols].reset_index().merge(keys, on=cols, how="inner")["index"].nunique())

    n1, w1, c1 = wall_and_cpu(ours)
    n2, w2, c2 = wall_and_cpu(peer)
    assert n1 == n2, (n1, n2)
    print(
        f"{a.rows:,} training + {a.rows:,} evaluation rows × {a.features} features; {n1:,} duplicates found by both"
    )
    print(f"{'explore (hash + isin)':<28} wall {w1:7.2f} s   CPU {c1:7.2f} s")
    print(f"{'pandas merge (peer)':<28} wall {w2:7.2f} s   CPU {c2:7.2f} s")
    print(f"CPU ratio explore / peer: {c1 / c2:.2f}")


def engine(a: argparse.Namespace) -> None:
    from types import SimpleNamespace

    import duckdb

    from explore.checks.overlap import engine_duplicates
    from explore.engine.log import quote

    con = duckdb.connect(config={"threads": a.threads, "memory_limit": a.memory_limit})
    glob = f"{a.log}/**/*.parquet"
    con.execute(f"CREATE VIEW source AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")
    types = {r[0]: str(r[1]) for r in con.execute("DESCRIBE source").fetchall()}
    cols = [c for c in types if c.startswith("f")][: a.features]
    total = con.execute("SELECT count(*) FROM source").fetchall()[0][0]
    k = int(a.rows * a.copied)
    sel = ", ".join(map(quote, cols))
    copied = con.execute(f"SELECT {sel} FROM source USING SAMPLE reservoir({k} ROWS) REPEATABLE (1)").df()
    other = con.execute(
        f"SELECT {sel} FROM source USING SAMPLE reservoir({a.rows - k} ROWS) REPEATABLE (2)"
    ).df()
    for c in cols:  # shifted: these training rows equal no logged row
        other[c] = other[c] + 1e6 if pd.api.types.is_numeric_dtype(other[c]) else other[c] + "~"
    train = pd.concat([copied, other], ignore_index=True)
    log = SimpleNamespace(con=con, types=types)

    def ours() -> int:
        return engine_duplicates(log, train, cols, log_is_training=a.log_is_training)

    def floor_scan() -> int:
        cond = " AND ".join(f"{quote(c)} IS NOT NULL" for c in cols)
        return con.execute(f"SELECT count(*) FROM source WHERE {cond}").fetchall()[0][0]

    def floor_join() -> int:
        con.register("_train", train)
        on = " AND ".join(f"s.{quote(c)} IS NOT DISTINCT FROM t.{quote(c)}" for c in cols)
        try:
            pair = "_train t SEMI JOIN source s" if a.log_is_training else "source s SEMI JOIN _train t"
            return con.execute(f"SELECT count(*) FROM {pair} ON {on}").fetchall()[0][0]
        finally:
            con.unregister("_train")

    n1, w1, c1 = wall_and_cpu(ours)
    n2, w2, c2 = wall_and_cpu(floor_join)
    _, w3, c3 = wall_and_cpu(floor_scan)
    print(
        f"{total:,} logged rows (DuckDB, {a.threads} threads; the {'training' if a.log_is_training else 'evaluation'}"
        f" data) against {len(train):,} rows in memory × "
        f"{len(cols)} features; duplicates: explore {n1:,}, plain semi-join {n2:,} (≥ {k:,} copied)"
    )
    print(f"{'explore (engine_duplicates)':<34} wall {w1:7.2f} s   CPU {c1:7.2f} s")
    print(f"{'DuckDB semi-join, raw columns':<34} wall {w2:7.2f} s   CPU {c2:7.2f} s")
    print(f"{'DuckDB scan of the columns (floor)':<34} wall {w3:7.2f} s   CPU {c3:7.2f} s")
    print(f"CPU ratio explore / semi-join: {c1 / c2:.2f}; explore / scan: {c1 / c3:.2f}")


if __name__ == "__main__":
    main()
