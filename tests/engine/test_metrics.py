"""The engine's metrics equal the in-memory path's (explore.stats.metrics) to 1e-9, for every task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explore.core.workspace import open_workspace, read_workspace, score
from explore.engine import (
    EngineSource,
    by_columns,
    by_time_window,
    grouped_metrics,
    open_log,
    overall_metrics,
)
from explore.errors import AnalysisError
from explore.stats import metrics
from tests.helpers import frame, make_workspace

COLUMNS = {
    "binary": {"label": "income", "time": "when", "prediction": "pred", "score": "p"},
    "multiclass": {
        "label": "income",
        "time": "when",
        "prediction": "pred",
        "scores": {"low": "p_low", "mid": "p_mid", "high": "p_high"},
    },
    "regression": {"label": "income", "time": "when", "prediction": "pred"},
}


def predictions_log(task: str, n: int = 3000) -> pd.DataFrame:
    """A labelled log with the model's outputs as columns; scores rounded so that many are tied."""
    df = frame(n, task=task, seed=1)
    rng = np.random.default_rng(2)
    df["seg"] = rng.integers(0, 3, n)
    if task == "binary":
        p = np.clip((df["income"] == ">50K") * 0.3 + rng.random(n) * 0.7, 0, 1).round(2)
        p[rng.random(n) < 0.02] = np.nan  # a few rows without a score
        df["p"] = p
        df["pred"] = np.where(np.nan_to_num(p) >= 0.5, ">50K", "<=50K")
    elif task == "multiclass":
        raw = rng.random((n, 3)) + np.eye(3)[pd.Categorical(df["income"], ["low", "mid", "high"]).codes] * 0.8
        probs = (raw / raw.sum(axis=1, keepdims=True)).round(2)
        df["p_low"], df["p_mid"], df["p_high"] = probs.T
        df["pred"] = np.asarray(["low", "mid", "high"])[probs.argmax(axis=1)]
    else:
        df["pred"] = df["income"] + rng.normal(0, 3_000, n)
    # A planted weak slice: the model is wrong far more often in Nice, segment 2.
    weak = ((df["city"] == "Nice") & (df["seg"] == 2)).to_numpy()
    if task == "binary":
        df.loc[weak, "p"] = 1 - df.loc[weak, "p"]
        df.loc[weak, "pred"] = np.where(np.nan_to_num(df.loc[weak, "p"]) >= 0.5, ">50K", "<=50K")
    elif task == "multiclass":
        cols = ["p_low", "p_mid", "p_high"]
        df.loc[weak, cols] = df.loc[weak, cols[::-1]].to_numpy()
        df.loc[weak, "pred"] = np.asarray(["low", "mid", "high"])[
            df.loc[weak, cols].to_numpy().argmax(axis=1)
        ]
    else:
        df.loc[weak, "pred"] += rng.normal(0, 15_000, int(weak.sum()))
    return df


def month_partitions(df: pd.DataFrame, parts):
    """``df`` written as hive-partitioned Parquet under ``parts`` (``month=YYYY-MM/part-0.parquet``, by ``when``)."""
    month = pd.to_datetime(df["when"]).dt.strftime("%Y-%m")
    for m, part in df.assign(when=pd.to_datetime(df["when"])).groupby(month):
        (parts / f"month={m}").mkdir(parents=True)
        part.to_parquet(parts / f"month={m}" / "part-0.parquet", index=False)
    return parts


@pytest.fixture(scope="module", params=["binary", "multiclass", "regression"])
def pair(request, tmp_path_factory):
    """(Scored in memory, LogTable over hive-partitioned Parquet) of the same rows."""
    task = request.param
    df = predictions_log(task)
    root = tmp_path_factory.mktemp(task)
    cols = {**COLUMNS[task], "task": task}
    toml = make_workspace(root / "ws", task=task, model=None, columns=cols, datasets={"log": df})
    ws = open_workspace(read_workspace(toml))
    scored = score(ws, "log", None)
    parts = month_partitions(df, root / "parquet")
    positive = None if ws.positive_index is None else ws.classes[ws.positive_index]
    log = open_log(EngineSource(parts), ws.columns, task=ws.task, classes=ws.classes, positive=positive)
    return scored, log


def assert_same(mem: pd.DataFrame, eng: pd.DataFrame, *, skip_ci: set[str] = frozenset()) -> None:
    assert list(mem["metric"]) == list(eng["metric"])
    for col in ("value", "ci_low", "ci_high", "support", "n_pos"):
        a, b = mem[col].to_numpy(dtype=float), eng[col].to_numpy(dtype=float)
        if col.startswith("ci_"):
            keep = ~mem["metric"].isin(skip_ci).to_numpy()
            a, b = a[keep], b[keep]
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9, err_msg=col)
    assert (mem["note"] == eng["note"]).all() or skip_ci


def test_overall_metrics_equal_the_pandas_path(pair):
    scored, log = pair
    mem = metrics.overall_metrics(scored)
    eng = overall_metrics(log)
    assert len(mem) >= 4
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())


def test_group_by_two_columns_equals_the_pandas_path(pair):
    scored, log = pair
    keys, eng = grouped_metrics(log, by_columns(log, ["city", "seg"]))
    cat = pd.MultiIndex.from_frame(scored.frame[["city", "seg"]])
    order = pd.MultiIndex.from_frame(keys[["city", "seg"]])
    codes = order.get_indexer(cat)
    assert (codes >= 0).all() and len(keys) == 9
    mem = metrics.grouped_metrics(scored, codes, len(keys))
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())


def test_monthly_windows_equal_the_pandas_path(pair):
    scored, log = pair
    keys, eng = grouped_metrics(log, by_time_window(log, "month"))
    months = scored.time.dt.to_period("M").dt.to_timestamp()
    codes = pd.Index(keys["window"]).get_indexer(months)
    assert (codes >= 0).all() and len(keys) > 3
    mem = metrics.grouped_metrics(scored, codes, len(keys))
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())


def test_auc_is_exact_with_ties_against_sklearn(pair):
    from sklearn.metrics import roc_auc_score

    scored, log = pair
    if scored.task != "binary":
        pytest.skip("binary ROC AUC")
    eng = overall_metrics(log, metrics=["ROC AUC"])
    ok = np.isfinite(scored.score)
    expected = roc_auc_score(scored.y[ok] == scored.positive_index, scored.score[ok])
    assert eng["value"].iloc[0] == pytest.approx(expected, abs=1e-12)
    assert eng["method"].iloc[0] == "delong"


@pytest.mark.parametrize("column", ["hours", "city", "seg", "age"])
def test_slice_groups_of_a_column_equal_group_column_in_memory(pair, column):
    from explore.engine.grouping import group_column as engine_group_column
    from explore.slices.grouping import group_column

    scored, log = pair
    mem_g = group_column(scored, column, bins=4)
    eng_g = engine_group_column(log, column, bins=4)
    assert eng_g.labels == mem_g.labels and eng_g.conditions == mem_g.conditions
    keys, eng = grouped_metrics(log, eng_g)
    mem = metrics.grouped_metrics(scored, mem_g.codes.astype(np.int64), mem_g.n_groups)
    assert list(keys[column]) == mem_g.labels
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())


@pytest.mark.parametrize("batched", [False, True], ids=["per-column", "batched"])
@pytest.mark.parametrize("loss", ["loss", "error"])
def test_weak_slice_discovery_equals_the_pandas_path(pair, loss, batched, monkeypatch):
    from explore.engine import discovery, grouping
    from explore.engine.discovery import weak_slices as engine_weak_slices
    from explore.slices.report import weak_slices

    scored, log = pair
    if batched:  # the big-log path: every column cut in three passes; a sample as big as the log is all of it
        monkeypatch.setattr(discovery, "BATCH_ROWS", 0)
        monkeypatch.setattr(grouping, "BATCH_ROWS", 0)  # group_columns reads its own module's
        monkeypatch.setattr(grouping, "EDGE_SAMPLE_ROWS", 10 * len(scored.y))
        monkeypatch.setattr(grouping, "_FEW_VALUES", 100)  # "hours" takes the sample path, "age" the counts
    cols = ["age", "hours", "city", "seg"]
    mem = weak_slices(scored, columns=cols, loss=loss, min_support=30, test="welch")  # the engine's test
    eng = engine_weak_slices(log, columns=cols, loss=loss, min_support=30)
    assert eng.test == "welch"
    assert eng.n_tested == mem.n_tested > 20 and eng.n_pruned == mem.n_pruned
    assert list(eng.tested["slice"]) == list(mem.tested["slice"])
    num = mem.tested.select_dtypes("number").columns
    np.testing.assert_allclose(
        eng.tested[num].to_numpy(float), mem.tested[num].to_numpy(float), rtol=1e-9, atol=1e-9
    )
    assert list(eng.slices["slice"]) == list(mem.slices["slice"])
    assert any("Nice" in t and "seg" in t for t in mem.slices["slice"])  # the planted weak slice


def test_equal_row_windows_equal_the_pandas_path(pair):
    from explore.staleness.windows import time_windows

    scored, log = pair
    mem_w = time_windows(scored.time, by="rows", n_windows=7)
    keys, eng = grouped_metrics(log, by_time_window(log, "rows", n_windows=7))
    np.testing.assert_array_equal(keys["window"].to_numpy("datetime64[ns]"), mem_w.starts)
    mem = metrics.grouped_metrics(
        scored, mem_w.codes, len(mem_w.starts), metrics=list(eng["metric"].unique())
    )
    assert (mem["support"].to_numpy() > 0).all()
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())
    with pytest.raises(AnalysisError, match="windows"):
        by_time_window(log, "rows", n_windows=1)


def test_covering_blocks_hold_every_pair_of_columns_within_the_cap():
    from explore.engine.discovery import covering_blocks

    for sizes in ([4] * 15 + [6, 6, 5, 8, 4], [21] * 6, [3, 5000, 2], [2]):
        blocks = covering_blocks(sizes, cap=4096)
        pairs = {(a, b) for block in blocks for i, a in enumerate(block) for b in block[i + 1 :]}
        assert pairs == {(i, j) for i in range(len(sizes)) for j in range(i + 1, len(sizes))}
        for block in blocks:
            assert len(block) == 2 or np.prod([sizes[c] for c in block]) <= 4096
    assert len(covering_blocks([4] * 15 + [6, 6, 5, 8, 4])) < 190 // 5  # far fewer passes than pairs


def test_a_slice_filter_runs_in_the_engine_with_the_rows_of_its_mask(pair):
    from explore.engine.grouping import cross, slice_where
    from explore.engine.grouping import group_column as engine_group_column
    from explore.slices.definition import Condition, SliceDefinition
    from explore.slices.grouping import group_column

    scored, log = pair
    sd = SliceDefinition(
        (Condition("city", "not_in", values=("Lyon", None)), Condition("hours", "range", lo=35.0, hi=50.0))
    )
    mask = sd.mask(scored)
    where = slice_where(log, sd.conditions)
    assert log.sql(f"SELECT count(*) FROM rows WHERE {where}").fetchall()[0][0] == mask.sum() > 0
    a, b = group_column(scored, "seg"), group_column(scored, "age", bins=3)
    both = cross(log, engine_group_column(log, "seg"), engine_group_column(log, "age", bins=3))
    # Every metric of the task (intervals too) from the filtered rows the engine keeps in a temp table.
    keys, eng = grouped_metrics(log, both, where=where)
    codes = np.where(mask, a.codes * b.n_groups + b.codes, -1)
    mem = metrics.grouped_metrics(
        scored, codes, a.n_groups * b.n_groups, metrics=list(eng["metric"].unique())
    )
    mem = mem[mem["support"] > 0].reset_index(drop=True)
    eng = eng[eng["support"] > 0].reset_index(drop=True)
    assert len(eng["metric"].unique()) >= 4
    assert_same(mem, eng, skip_ci={"ROC AUC"} if scored.task == "multiclass" else set())
    assert len(keys) == a.n_groups * b.n_groups


def test_fairness_gaps_equal_the_pandas_path(pair):
    from explore.engine.grouping import fairness_gaps as engine_fairness_gaps
    from explore.engine.grouping import slice_where
    from explore.slices.definition import Condition, SliceDefinition
    from explore.slices.report import FairnessParams, fairness_gaps

    scored, log = pair
    sd = SliceDefinition((Condition("hours", "range", lo=20.0, hi=60.0),))
    for column in ("city", "age"):
        params = FairnessParams(bins=3)
        mem = fairness_gaps(scored, column, params, slice_def=sd)
        eng = engine_fairness_gaps(log, column, params, where=slice_where(log, sd.conditions))
        assert eng.cls == mem.cls
        assert list(eng.groups["group"]) == list(mem.groups["group"])
        num = mem.groups.select_dtypes("number").columns
        np.testing.assert_allclose(
            eng.groups[num].to_numpy(float), mem.groups[num].to_numpy(float), rtol=1e-9, atol=1e-9
        )
        pd.testing.assert_frame_equal(eng.gaps, mem.gaps, rtol=1e-9)
        assert len(eng.gaps) >= 2 and eng.gaps["gap"].notna().any()


def test_groups_vs_the_rest_of_the_slice_equal_the_pandas_slice_report(pair):
    from explore.engine.grouping import group_column as engine_group_column
    from explore.engine.grouping import slice_where
    from explore.engine.metrics import groups_vs_rest
    from explore.slices.definition import Condition, SliceDefinition
    from explore.slices.report import SliceReportParams, slice_report

    scored, log = pair
    sd = SliceDefinition((Condition("hours", "range", lo=25.0, hi=60.0),))
    for column in ("city", "age"):
        mem = slice_report(scored, sd, by=[column], params=SliceReportParams(bins=3)).by_group
        keys, eng = groups_vs_rest(
            log, engine_group_column(log, column, bins=3), where=slice_where(log, sd.conditions)
        )
        eng = eng.assign(**{column: keys[column].iloc[eng["group"]].to_numpy()})
        eng = eng[eng["support"] > 0]
        skip = {"PR AUC"} | ({"ROC AUC"} if scored.task == "multiclass" else set())
        mem = mem[~mem["metric"].isin(skip)].set_index([column, "metric"])
        eng = eng[~eng["metric"].isin(skip)].set_index([column, "metric"]).loc[mem.index]
        for col in ("value", "support", "rest", "rest_low", "rest_high", "gap", "p_worse", "q_worse"):
            np.testing.assert_allclose(
                eng[col].to_numpy(float), mem[col].to_numpy(float), rtol=1e-9, atol=1e-12, err_msg=col
            )
        assert (eng["worse"] == mem["worse"]).all()
        assert mem["rest"].notna().all()


def test_batched_discovery_drops_only_empty_missing_groups(pair, monkeypatch):
    """Above BATCH_ROWS the missing values are not counted up front: every many-valued column gets a missing group,
    dropped once the codes table shows it empty ("age" has no missing value, "hours" has some)."""
    from explore.engine import discovery, grouping
    from explore.engine.discovery import weak_slices as engine_weak_slices
    from explore.slices.grouping import MISSING_LABEL
    from explore.slices.report import weak_slices

    scored, log = pair
    monkeypatch.setattr(discovery, "BATCH_ROWS", 0)
    monkeypatch.setattr(grouping, "BATCH_ROWS", 0)  # group_columns reads its own module's
    monkeypatch.setattr(grouping, "EDGE_SAMPLE_ROWS", 10 * len(scored.y))
    monkeypatch.setattr(grouping, "_FEW_VALUES", 10)  # both numeric columns take the sample path
    gs, _ = grouping.group_columns(log, ["age", "hours"], bins=4, count_missing=False)
    assert [g.labels[-1] for g in gs] == [MISSING_LABEL, MISSING_LABEL]
    sel = ", ".join(f"{g.code} AS c{i}" for i, g in enumerate(gs))
    log.sql(f"CREATE OR REPLACE TEMP TABLE _scodes AS SELECT {sel} FROM rows")
    try:
        kept = discovery._drop_empty_missing(log, gs)
    finally:
        log.sql("DROP TABLE _scodes")
    assert kept[0].labels == gs[0].labels[:-1] and kept[0].conditions == gs[0].conditions[:-1]
    assert kept[1] == gs[1] and int(scored.frame["hours"].isna().sum()) > 0
    cols = ["age", "hours", "city", "seg"]
    mem = weak_slices(scored, columns=cols, loss="error", min_support=30, test="welch")
    eng = engine_weak_slices(log, columns=cols, loss="error", min_support=30)
    assert eng.n_tested == mem.n_tested > 20 and list(eng.tested["slice"]) == list(mem.tested["slice"])
    num = mem.tested.select_dtypes("number").columns
    np.testing.assert_allclose(
        eng.tested[num].to_numpy(float), mem.tested[num].to_numpy(float), rtol=1e-9, atol=1e-9
    )
