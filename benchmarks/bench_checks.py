"""Checks benchmarks: figures for issue #7, side by side with peers (run by hand, not by pytest).

    pip install MLstatkit great_expectations statsmodels     # the peers (see the final report / [bench])
    python benchmarks/bench_checks.py                 # everything
    python benchmarks/bench_checks.py --only compare  # compare | tests | expectations | skew | stability

On the 1M-row bench workspace (``explore.core.sample.build_workspace(..., size="bench")``: train ≈ 500k,
validation ≈ 125k, production ≈ 375k rows, 20 features, models current + previous):

1. ``compare_models`` on validation + production, 3 slice columns (goal: ≤ 10 s once scored).
2. The paired tests on production: our paired DeLong vs MLstatkit's ``Delong_test`` (same z/p), our
   McNemar vs statsmodels' ``mcnemar`` on the 2×2 table (same p).
3. Expectations: profile train, validate production — vs Great Expectations 1.x validating the same
   expectations on the same DataFrame (same violations, time ratio).
4. Training/serving skew of production against a perturbed copy (375k rows × 20 columns).
5. Numerical stability over all 1M rows, and the serving-cost measurement itself.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import bench_workspace, timed  # noqa: E402
from explore.checks import compare, expectations, serving_skew, stability  # noqa: E402
from explore.core.workspace import open_workspace, read_workspace, score  # noqa: E402
from explore.stats import paired  # noqa: E402


def _open():
    with timed("open the 1M-row workspace"):
        ws = open_workspace(read_workspace(bench_workspace()))
    cache = {}

    def scorer(d, m):
        if (d, m) not in cache:
            cache[(d, m)] = score(ws, d, m)
        return cache[(d, m)]

    with timed("score validation + production with current and previous"):
        for d in ("validation", "production"):
            for m in ("current", "previous"):
                scorer(d, m)
    return ws, scorer


def bench_compare(ws, scorer) -> None:
    print("\n## 1. compare_models (validation + production, slices device, region, tenure_months)")
    with timed("compare_models: paired tests, gaps, differing rows"):
        res = compare.compare_models(
            ws,
            datasets=["validation", "production"],
            slices=["device", "region", "tenure_months"],
            scorer=scorer,
        )
    print(f"   {len(res.cells):,} cells, {len(res.gaps):,} gaps; {res.summary()}")


def bench_tests(ws, scorer) -> None:
    from MLstatkit import Delong_test
    from statsmodels.stats.contingency_tables import mcnemar

    print("\n## 2. paired tests on production")
    a, b = scorer("production", "current"), scorer("production", "previous")
    y = a.y == a.positive_index
    print(f"   {a.n:,} rows, {int(y.sum()):,} positives")
    t = time.perf_counter()
    ours = paired.delong_paired(y, a.score, b.score)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = Delong_test(y.astype(int), a.score, b.score, return_ci=False, return_auc=True)
    t_peer = time.perf_counter() - t
    z_ours = ours.diff / ours.se
    print(
        f"   paired DeLong   ours {t_ours:7.3f} s  AUCs {ours.auc_a:.6f} / {ours.auc_b:.6f}  z {z_ours:+.4f}  p {ours.p_value:.3g}"
    )
    print(
        f"   MLstatkit       peer {t_peer:7.3f} s  returned {tuple(np.round(np.asarray(peer, dtype=float), 6))}  "
        f"(its z is AUC_B − AUC_A)  → ours is {t_peer / t_ours:.1f}× faster"
    )
    ca, cb = a.pred == a.y, b.pred == b.y
    t = time.perf_counter()
    bb, cc = int((ca & ~cb).sum()), int((~ca & cb).sum())
    p_ours = paired.mcnemar_pvalue(bb, cc, mid_p=False)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    table = pd.crosstab(ca, cb).reindex(index=[True, False], columns=[True, False], fill_value=0).to_numpy()
    p_peer = mcnemar(table, exact=True).pvalue
    t_peer = time.perf_counter() - t
    print(
        f"   McNemar exact   ours {t_ours:7.3f} s  p {p_ours:.6g}   statsmodels (crosstab + mcnemar) {t_peer:7.3f} s  p {p_peer:.6g}"
    )


def _gx_validate(
    frame: pd.DataFrame, suite: expectations.ExpectationSuite
) -> tuple[set[tuple[str, str]], int]:
    """Validate ``frame`` with Great Expectations against the same expectations; (failing (column, kind), total)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("pd")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("b")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    gsuite = context.suites.add(gx.ExpectationSuite(name="s"))
    total = 0
    for name, e in suite.columns.items():
        if e.max_null_rate is not None:
            gsuite.add_expectation(
                gxe.ExpectColumnValuesToNotBeNull(column=name, mostly=max(1 - e.max_null_rate, 1e-9))
            )
            total += 1
        if e.min is not None and e.max is not None and e.type in ("number", "integer"):
            gsuite.add_expectation(
                gxe.ExpectColumnValuesToBeBetween(
                    column=name, min_value=e.min, max_value=e.max, mostly=suite.mostly
                )
            )
            total += 1
        if e.allowed is not None:
            gsuite.add_expectation(
                gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(e.allowed), mostly=suite.mostly)
            )
            total += 1
        if e.quantiles:
            ranges = [list(e.quantiles[q]) for q in e.quantiles]
            gsuite.add_expectation(
                gxe.ExpectColumnQuantileValuesToBeBetween(
                    column=name,
                    quantile_ranges={
                        "quantiles": [expectations.QUANTILES[q] for q in e.quantiles],
                        "value_ranges": ranges,
                    },
                )
            )
            total += 1
        if e.unique:
            gsuite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=name))
            total += 1
    result = batch.validate(gsuite)
    kinds = {
        "expect_column_values_to_not_be_null": "null rate",
        "expect_column_values_to_be_between": "range",
        "expect_column_values_to_be_in_set": "categories",
        "expect_column_quantile_values_to_be_between": "quantiles",
        "expect_column_values_to_be_unique": "unique",
    }
    failed = {
        (
            r.expectation_config.kwargs["column"],
            kinds.get(r.expectation_config.type, r.expectation_config.type),
        )
        for r in result.results
        if not r.success
    }
    return failed, total


def bench_expectations(ws) -> None:
    print("\n## 3. expectations: profile train, validate production (vs Great Expectations)")
    train, prod = ws.dataset("train"), ws.dataset("production")
    with timed(f"profile train ({len(train):,} rows × {train.shape[1]} columns)"):
        suite = expectations.profile(ws, dataset="train")
    t = time.perf_counter()
    res = expectations.validate(ws, dataset="production", suite=suite)
    t_ours = time.perf_counter() - t
    print(
        f"   ours: validate production ({len(prod):,} rows) {t_ours:7.3f} s — {len(res.violations)} of {len(res.table)} fail"
    )
    try:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            failed, total = _gx_validate(prod, suite)
        t_peer = time.perf_counter() - t
        ours = {
            (c, "quantiles" if e.startswith("quantile") else e)
            for c, e in zip(res.violations["column"], res.violations["expectation"], strict=True)
        }
        print(
            f"   Great Expectations: {t_peer:7.3f} s — {len(failed)} of {total} expectations fail (quantiles as one per column) "
            f"→ ours is {t_peer / t_ours:.1f}× faster"
        )
        print(f"   failing in both: {sorted(ours & failed)}")
        print(
            f"   only ours (exact binomial at {expectations.ALPHA}, not GE's plain share): {sorted(ours - failed)}"
        )
        print(f"   only GE: {sorted(failed - ours)}")
    except Exception as exc:  # noqa: BLE001 - the peer may not run on this pandas version; report why
        print(f"   Great Expectations could not run here: {type(exc).__name__}: {str(exc)[:200]}")


def bench_skew(ws) -> None:
    print("\n## 4. training/serving skew on production vs a perturbed copy")
    prod = ws.dataset("production")
    rng = np.random.default_rng(0)
    serving = prod.copy()
    rows = rng.choice(len(prod), 1000, replace=False)
    serving.loc[rows, "monthly_charges"] = serving.loc[rows, "monthly_charges"] + 1.0
    serving = serving.sample(frac=1.0, random_state=1)
    with timed(f"feature_skew ({len(prod):,} rows joined on ids, {len(ws.feature_names)} columns)"):
        res = serving_skew.feature_skew(
            ws, training="production", serving=serving, serving_name="perturbed copy"
        )
    print(f"   {res.summary()}")


def bench_stability(ws) -> None:
    print("\n## 5. stability over every row, and the cost measurement")
    with timed("numerical_stability (all 1M rows predicted, probes)"):
        res = stability.numerical_stability(ws)
    print(f"   {res.summary()}")
    with timed("serving_cost (current vs previous; 1, 100, 10,000 rows)"):
        cost = stability.serving_cost(ws)
    print(f"   {cost.summary()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["compare", "tests", "expectations", "skew", "stability"])
    args = parser.parse_args()
    ws, scorer = _open()
    if args.only in (None, "compare"):
        bench_compare(ws, scorer)
    if args.only in (None, "tests"):
        bench_tests(ws, scorer)
    if args.only in (None, "expectations"):
        bench_expectations(ws)
    if args.only in (None, "skew"):
        bench_skew(ws)
    if args.only in (None, "stability"):
        bench_stability(ws)


if __name__ == "__main__":
    main()
