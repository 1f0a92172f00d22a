"""Slices: per-slice metrics against the rest and overall, groups within a slice, weak-slice discovery,
fairness gaps, and the slice's curves, confusion matrix and worst rows.

``slice_report(scored, slice_def, by=[...])`` is in the spirit of fairlearn's ``MetricFrame``: metrics
computed up front for ``overall``, the ``slice``, the ``rest`` and ``by_group`` (one or two columns,
numeric columns in quantile bins), each with support, a confidence interval and, for groups, the gap
to the rest of the slice with a Benjamini–Hochberg-controlled test of "worse than the rest".

``weak_slices(scored)`` is the seeds' Slice Finder: every slice of one and two conditions (categorical
values, numeric quantile bins) with enough rows, Welch's t-test of its per-row loss against the rest,
Cohen's d, and Benjamini–Hochberg over all slices tested. Nothing here imports streamlit.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from explore.core.progress import Progress, no_progress
from explore.core.serialise import jsonable, plain
from explore.core.workspace import Scored
from explore.errors import AnalysisError
from explore.report.display import TableResult
from explore.slices.comparison import comparison_sets
from explore.slices.definition import Condition, SliceDefinition, slice_mask
from explore.slices.grouping import (
    BAD_BINS,
    DEFAULT_BINS,
    MAX_BINS,
    MAX_GROUPS,
    OTHER,
    Grouping,
    column_values,
    combine,
    display_name,
    group_column,
)
from explore.stats import metrics as metrics_mod

CURVE_POINTS = 200

BAD_BY = "Group by takes one or two columns; received {received!r}. Pick at most two columns."
BAD_FDR = "The false discovery rate must be strictly between 0 and 1 (e.g. 0.05); received {received!r}."
BAD_MIN_SUPPORT = "The minimum support must be an integer of at least 2 rows; received {received!r}."
BAD_MAX_CONDITIONS = "Discovery searches slices of 1 or 2 conditions; received max_conditions={received!r}."
NO_COLUMNS = (
    "None of the columns chosen for discovery can be sliced: {why}. Choose columns with at least two values, "
    "e.g. {examples}."
)
EMPTY_SLICE = "The slice '{slice}' has no rows in dataset '{dataset}' ({n:,} rows in total). Loosen or remove a condition."
NOT_BINARY = "{what} needs a binary classification task; this workspace's task is {task}."
NO_SCORES = "{what} needs the model's scores; {reason}."

# A two-condition slice is shown only when it is worse than the rest of each of its one-condition
# parents at this (uncorrected) level: otherwise it merely adds an unrelated condition to a weak slice.
REDUNDANCY_ALPHA = 0.05
# Columns never offered for grouping: too many distinct values to form groups.
_ID_LIKE_RATIO = 0.9


# ---- slice report --------------------------------------------------------------------------------------

MetricSpec = Sequence[str] | dict[str, str | Callable[[np.ndarray, np.ndarray], float]] | None


@dataclass(frozen=True)
class SliceReport:
    """Metrics of a slice next to the rest and all rows, and of groups within the slice.

    ``overall`` / ``slice`` / ``rest``: long frames (``metrics.COLUMNS`` minus ``group``), one row per
    metric. ``comparison``: one row per metric with ``overall``, ``slice``, ``rest`` (+ ``_low``/``_high``
    interval bounds), ``gap`` (slice − rest), ``p_worse`` (one-sided test that the slice is worse than the
    rest; NaN for metrics with no better direction) and ``higher_is_better``. ``by_group`` (None when
    ``by`` is empty): one row per (group, metric) with the group's label column(s), ``value``, interval,
    ``support``, ``rest`` (the other rows of the slice), ``gap``, ``p_worse``, ``q_worse`` (Benjamini–Hochberg
    over the groups, per metric) and ``worse`` (``q_worse`` ≤ ``fdr``). Values are fractions for rates.
    """

    slice_def: SliceDefinition
    metrics: list[str]
    confidence: float
    fdr: float
    n_rows: int
    n_slice: int
    overall: pd.DataFrame
    slice: pd.DataFrame
    rest: pd.DataFrame
    comparison: pd.DataFrame
    by: list[str] = field(default_factory=list)
    by_group: pd.DataFrame | None = None
    group_conditions: list[tuple[Condition, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def group_slice(self, index: int) -> SliceDefinition:
        """The slice of by-group row ``group == index`` (the report's slice AND the group's conditions)."""
        s = self.slice_def
        for cond in self.group_conditions[index]:
            s = s.with_condition(cond)
        return s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (for evidence snapshots): comparison and the significantly worse groups."""
        out: dict[str, Any] = {
            "slice": self.slice_def.to_dict(),
            "slice_text": self.slice_def.describe(),
            "n_rows": self.n_rows,
            "n_slice": self.n_slice,
            "confidence": self.confidence,
            "comparison": jsonable(self.comparison),
        }
        if self.by_group is not None:
            worse = self.by_group[self.by_group["worse"]]
            out.update(
                by=self.by,
                fdr=self.fdr,
                n_groups=int(self.by_group["group"].nunique()),
                worse_groups=jsonable(worse),
            )
        return out


_OVERALL_CACHE: weakref.WeakKeyDictionary[Scored, dict[Any, pd.DataFrame]] = weakref.WeakKeyDictionary()


def _overall(scored: Scored, names: list[str], confidence: float) -> pd.DataFrame:
    cache = _OVERALL_CACHE.setdefault(scored, {})
    key = (tuple(names), confidence)
    if key not in cache:
        cache[key] = metrics_mod.overall_metrics(scored, metrics=names, confidence=confidence)
    return cache[key]


def _split_metrics(
    scored: Scored, metrics: MetricSpec
) -> tuple[list[str], dict[str, str], dict[str, Callable]]:
    """(registry names, display renames, custom callables)."""
    if metrics is None:
        return metrics_mod.default_metrics(scored), {}, {}
    if isinstance(metrics, dict):
        names, rename, custom = [], {}, {}
        for label, spec in metrics.items():
            if callable(spec):
                custom[str(label)] = spec
            else:
                names.append(str(spec))
                rename[str(spec)] = str(label)
        return names, rename, custom
    return [str(m) for m in metrics], {}, {}


def _custom_metric(scored: Scored, fn: Callable, name: str, codes: np.ndarray, n_groups: int) -> pd.DataFrame:
    """A user callable ``fn(y_true, y_pred) -> float`` per group (label values as in the data; no interval)."""
    y_true = scored.y_raw if scored.task != "regression" else scored.y
    y_pred = scored.classes[np.maximum(scored.pred, 0)] if scored.task != "regression" else scored.pred
    rows = []
    for g in range(n_groups):
        m = codes == g
        note, value = "custom metric: no interval", np.nan
        if not m.any():
            note = metrics_mod.NOTE_EMPTY
        else:
            try:
                value = float(fn(y_true[m], y_pred[m]))
            except Exception as exc:  # noqa: BLE001 - a user's callable: report, do not crash the report
                note = f"the metric raised {type(exc).__name__}: {exc}"
        rows.append(
            {
                "group": g,
                "metric": name,
                "value": value,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "support": int(m.sum()),
                "n_pos": np.nan,
                "method": "",
                "note": note,
            }
        )
    return pd.DataFrame(rows, columns=metrics_mod.COLUMNS)


def _metrics_frame(
    scored: Scored,
    codes: np.ndarray,
    n_groups: int,
    names: list[str],
    rename: dict[str, str],
    custom: dict[str, Callable],
    confidence: float,
    *,
    complement: bool = False,
) -> pd.DataFrame:
    df = metrics_mod.grouped_metrics(
        scored, codes, n_groups, metrics=names, confidence=confidence, complement=complement
    )
    if custom:
        extra = []
        for name, fn in custom.items():
            if complement:
                parts = [
                    _custom_metric(
                        scored, fn, name, np.where((codes >= 0) & (codes != g), g, -1), n_groups
                    ).iloc[[g]]
                    for g in range(n_groups)
                ]
                extra.append(pd.concat(parts, ignore_index=True))
            else:
                extra.append(_custom_metric(scored, fn, name, codes, n_groups))
        df = (
            pd.concat([df, *extra], ignore_index=True)
            .sort_values("group", kind="stable")
            .reset_index(drop=True)
        )
    if rename:
        df["metric"] = df["metric"].replace(rename)
    return df


def _direction(name: str, rename_back: dict[str, str]) -> bool | None:
    return metrics_mod.metric_direction(rename_back.get(name, name))


# Metrics shown per group but not tested for "worse", and why (the note their rows carry).
NOT_TESTED_WORSE = {
    "R²": (
        "R² not tested for 'worse': each group's R² is measured against that group's own, narrower label "
        "spread, so it is not comparable with the rest's or the overall one (compare MAE / RMSE)"
    ),
}


def tested_direction(name: str, rename_back: dict[str, str] | None = None) -> bool | None:
    """The direction a group is tested in for "worse": ``metric_direction``, or None (not tested) for a metric
    whose value in a group is not comparable with the rest's (``NOT_TESTED_WORSE``). Shared with the engine."""
    name = (rename_back or {}).get(name, name)
    if metrics_mod._split(name)[0] in NOT_TESTED_WORSE:
        return None
    return metrics_mod.metric_direction(name)


def note_untested(df: pd.DataFrame, rename_back: dict[str, str] | None = None) -> pd.DataFrame:
    """Append ``NOT_TESTED_WORSE``'s reason to the ``note`` of the rows of such metrics (in place; returned)."""
    for i, m in zip(df.index, df["metric"], strict=True):
        why = NOT_TESTED_WORSE.get(metrics_mod._split((rename_back or {}).get(m, m))[0])
        if why:
            old = df.at[i, "note"]
            df.at[i, "note"] = f"{old}; {why}" if isinstance(old, str) and old else why
    return df


def _se(df: pd.DataFrame, z: float) -> np.ndarray:
    """Standard error implied by an interval (half-width / z), NaN without an interval."""
    return ((df["ci_high"] - df["ci_low"]) / (2 * z)).to_numpy(dtype="float64")


def _p_worse(
    v1: np.ndarray, se1: np.ndarray, v2: np.ndarray, se2: np.ndarray, higher_better: np.ndarray
) -> np.ndarray:
    """One-sided p-value that group 1 is worse than group 2 (z test on the interval-implied errors).

    A zero-width interval on both sides (e.g. a proportion of 0 or 1 in both) gives p = 1 when there
    is no gap and 0 when there is one in the worse direction.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(higher_better == 1, v2 - v1, v1 - v2)  # > 0 means group 1 is worse
        se = np.sqrt(se1**2 + se2**2)
        z = diff / se
        p = stats.norm.sf(z)
        p = np.where(se > 0, p, np.where(diff > 0, 0.0, 1.0))
    return np.where(np.isnan(higher_better) | np.isnan(diff) | np.isnan(se), np.nan, p)


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted."""
    p = np.asarray(p, dtype="float64")
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(np.clip(p[ok], 0, 1), method="bh")
    return out


@dataclass(frozen=True)
class SliceReportParams:
    """How a slice report measures: numeric and time columns are cut in ``bins`` quantile bins (an int,
    explicit edges, or a dict column → either; categories keep their ``max_groups`` most frequent values);
    ``metrics``: registry names (``explore.stats.metrics.METRICS``; None: every metric of the task), or a dict
    display name → registry name or callable ``f(y_true, y_pred) -> float`` (no interval); intervals at
    ``confidence``; groups flagged worse with Benjamini–Hochberg at ``fdr``."""

    bins: int | Sequence[float] | dict[str, int | Sequence[float]] = DEFAULT_BINS
    metrics: MetricSpec = None
    confidence: float = 0.95
    fdr: float = 0.05
    max_groups: int = MAX_GROUPS


def slice_report(
    scored: Scored,
    slice_def: SliceDefinition | None = None,
    *,
    by: Sequence[str] | None = None,
    params: SliceReportParams | None = None,
) -> SliceReport:
    """Metrics of ``slice_def`` (all rows when None) vs the rest vs overall, and by group of up to two ``by``
    columns (data or pseudo-columns) within the slice, measured as ``params`` says (default
    ``SliceReportParams()``). Raises ``AnalysisError`` for an empty slice, unknown columns or metrics, or bad
    settings.
    """
    p = params or SliceReportParams()
    bins, metrics, confidence, fdr, max_groups = p.bins, p.metrics, p.confidence, p.fdr, p.max_groups
    if not 0 < fdr < 1:
        raise AnalysisError(BAD_FDR.format(received=fdr))
    slice_def = slice_def or SliceDefinition()
    by = list(by or [])
    if len(by) > 2 or len(set(by)) != len(by):
        raise AnalysisError(BAD_BY.format(received=by))
    names, rename, custom = _split_metrics(scored, metrics)
    rename_back = {v: k for k, v in rename.items()}
    mask = slice_def.mask(scored)
    n_slice = int(mask.sum())
    if n_slice == 0:
        raise AnalysisError(
            EMPTY_SLICE.format(slice=slice_def.describe(), dataset=scored.dataset_name, n=scored.n)
        )
    z = metrics_mod._z(confidence)
    two = np.where(mask, 0, 1).astype(np.int64)
    sr = _metrics_frame(scored, two, 2, names, rename, custom, confidence)
    if custom:
        overall = _metrics_frame(
            scored, np.zeros(scored.n, dtype=np.int64), 1, names, rename, custom, confidence
        )
    else:
        overall = _overall(scored, names, confidence).copy()
        if rename:
            overall["metric"] = overall["metric"].replace(rename)
    part_s, part_r, part_o, comparison = slice_comparison(sr, overall, rename_back, z)
    notes = size_notes(n_slice, scored.n)
    if (part_s["method"] == "bootstrap").any():
        notes.append(
            f"Intervals marked 'bootstrap' are percentile bootstraps ({metrics_mod.BOOTSTRAP_REPLICATES} resamples), run only on "
            f"slices of at most {metrics_mod.BOOTSTRAP_MAX_ROWS:,} rows."
        )
    by_group = None
    group_conditions: list[tuple[Condition, ...]] = []
    if by:
        by_group, group_conditions, group_notes = _by_group(
            scored, mask, by, bins, max_groups, names, rename, custom, confidence, fdr, rename_back
        )
        notes.extend(group_notes)
    return SliceReport(
        slice_def=slice_def,
        metrics=list(part_s["metric"]),
        confidence=confidence,
        fdr=fdr,
        n_rows=scored.n,
        n_slice=n_slice,
        overall=part_o,
        slice=part_s,
        rest=part_r,
        comparison=comparison,
        by=by,
        by_group=by_group,
        group_conditions=group_conditions,
        notes=notes,
    )


def slice_comparison(
    sr: pd.DataFrame, overall: pd.DataFrame, rename_back: dict[str, str], z: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The slice (group 0 of ``sr``), its rest (group 1) and every row (``overall``) side by side: the gap and
    the chance the slice is worse, per metric. Shared by the in-memory and the engine's slice report."""
    part_s = sr[sr.group == 0].drop(columns="group").reset_index(drop=True)
    part_r = sr[sr.group == 1].drop(columns="group").reset_index(drop=True)
    part_o = overall.drop(columns="group").reset_index(drop=True)
    direction = [_direction(m, rename_back) for m in part_s["metric"]]
    hib = np.array([_hb(tested_direction(m, rename_back)) for m in part_s["metric"]])
    comparison = pd.DataFrame(
        {
            "metric": part_s["metric"],
            "overall": part_o["value"],
            "overall_low": part_o["ci_low"],
            "overall_high": part_o["ci_high"],
            "slice": part_s["value"],
            "slice_low": part_s["ci_low"],
            "slice_high": part_s["ci_high"],
            "slice_support": part_s["support"],
            "rest": part_r["value"],
            "rest_low": part_r["ci_low"],
            "rest_high": part_r["ci_high"],
            "rest_support": part_r["support"],
            "gap": part_s["value"] - part_r["value"],
            "p_worse": _p_worse(
                part_s["value"].to_numpy(), _se(part_s, z), part_r["value"].to_numpy(), _se(part_r, z), hib
            ),
            "higher_is_better": direction,
            "method": part_s["method"],
            "note": part_s["note"].to_numpy(copy=True),
        }
    )
    note_untested(comparison, rename_back)
    return part_s, part_r, part_o, comparison


def size_notes(n_slice: int, n_rows: int) -> list[str]:
    """What the report says about a slice of every row or of one row."""
    notes: list[str] = []
    if n_slice == n_rows:
        notes.append("The slice is every row: the rest is empty.")
    if n_slice == 1:
        notes.append("The slice has a single row: intervals need at least two rows.")
    return notes


def _hb(direction: bool | None) -> float:
    return np.nan if direction is None else float(direction)


def _bins_for(bins: Any, column: str) -> int | Sequence[float]:
    if isinstance(bins, dict):
        return bins.get(column, DEFAULT_BINS)
    return bins


# The by-group table's own columns; a grouped data column of the same name (``note``, ``value``…) is renamed.
GROUP_TABLE_COLUMNS = frozenset(
    {"group", "metric", "value", "ci_low", "ci_high", "support", "n_pos", "method", "note"}
    | {"rest", "rest_low", "rest_high", "gap", "p_worse", "q_worse", "worse"}
)


def group_label_column(column: str) -> str:
    """The by-group table's column holding ``column``'s group labels: its display name, or
    ``"<name> (column)"`` when that is one of the table's own columns (a data column named ``note``)."""
    name = display_name(column)
    return f"{name} (column)" if name in GROUP_TABLE_COLUMNS else name


def _by_group(
    scored: Scored,
    mask: np.ndarray,
    by: list[str],
    bins: Any,
    max_groups: int,
    names: list[str],
    rename: dict[str, str],
    custom: dict[str, Callable],
    confidence: float,
    fdr: float,
    rename_back: dict[str, str],
) -> tuple[pd.DataFrame, list[tuple[Condition, ...]], list[str]]:
    groupings = [group_column(scored, c, bins=_bins_for(bins, c), max_groups=max_groups) for c in by]
    if len(groupings) == 1:
        g = groupings[0]
        codes, pairs = g.codes, [(i,) for i in range(g.n_groups)]
    else:
        codes, pairs2 = combine(groupings[0], groupings[1])
        pairs = [tuple(p) for p in pairs2]
    codes = np.where(mask, codes, -1).astype(np.int64)
    G = len(pairs)
    counts = np.bincount(codes[codes >= 0], minlength=G)
    present = np.flatnonzero(counts > 0)
    remap = np.full(G + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    codes = remap[np.where(codes < 0, G, codes)]
    pairs = [pairs[i] for i in present]
    G = len(pairs)
    notes = []
    if G == 0:
        raise AnalysisError(f"No row of the slice has a value in {', '.join(map(display_name, by))}.")
    z = metrics_mod._z(confidence)
    inside = _metrics_frame(scored, codes, G, names, rename, custom, confidence)
    rest = _metrics_frame(scored, codes, G, names, rename, custom, confidence, complement=True)
    df = inside.copy()
    for j, gr in enumerate(groupings):
        df.insert(1 + j, group_label_column(gr.column), [gr.labels[pairs[g][j]] for g in df["group"]])
    df["rest"] = rest["value"].to_numpy()
    df["rest_low"] = rest["ci_low"].to_numpy()
    df["rest_high"] = rest["ci_high"].to_numpy()
    df["gap"] = df["value"] - df["rest"]
    hib = np.array([_hb(tested_direction(m, rename_back)) for m in df["metric"]])
    df["p_worse"] = _p_worse(df["value"].to_numpy(), _se(inside, z), df["rest"].to_numpy(), _se(rest, z), hib)
    note_untested(df, rename_back)
    df["q_worse"] = np.nan
    for _, idx in df.groupby("metric", sort=False).groups.items():
        df.loc[idx, "q_worse"] = bh_adjust(df.loc[idx, "p_worse"].to_numpy())
    df["worse"] = (df["q_worse"] <= fdr).fillna(False).astype(bool)
    conditions = [tuple(groupings[j].conditions[p[j]] for j in range(len(groupings))) for p in pairs]
    if G == 1:
        notes.append("Only one group is present in the slice: there is no rest to compare it with.")
    other = [display_name(g.column) for g in groupings if OTHER in g.labels]
    if other:
        notes.append(
            f"{', '.join(other)}: values beyond the {max_groups - 1} most frequent are pooled in '{OTHER}'."
        )
    return df.reset_index(drop=True), conditions, notes


# ---- weak-slice discovery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveryResult:
    """Slices whose per-row loss is significantly higher than the rest's, at false discovery rate ``fdr``.

    ``slices``: the significant, informative slices ranked by effect size (Cohen's d), with ``slice``
    (text), ``n_conditions``, ``support`` (rows), ``loss`` and ``rest_loss`` (mean per-row loss), ``diff``
    (slice − rest) and its ``ci_low``/``ci_high`` (Welch, at ``confidence``), ``effect_size`` (d),
    ``t``, ``df``, ``p_value`` (one-sided: slice worse), ``q_value`` (Benjamini–Hochberg) and the
    task's headline metric in slice and rest (``metric``, ``metric_slice``, ``metric_rest``).
    ``definitions[i]`` is row i's ``SliceDefinition``. ``tested``: every slice tested, same columns plus
    ``significant`` and ``redundant`` (a two-condition slice that is not significantly worse — Welch,
    one-sided, ``REDUNDANCY_ALPHA`` — than the rest of each of its one-condition parents: it only adds an
    unrelated condition to a weak slice; such slices are left out of ``slices`` and counted in
    ``n_redundant``). ``slices`` is in reading order: the distinct problems (``parent`` "") ranked by
    effect size, each followed by the slices folded under it (``parent`` names it): a two-condition
    slice that is a worse corner of a one-condition slice weak in its own right, or a one-condition
    slice weak only because of a two-condition slice inside it (see ``_nest``). ``n_folded`` counts the
    folded slices and :attr:`problems` lists the top level only. ``n_tested`` counts the hypotheses BH
    corrected over (including ``n_pruned`` slices that a bound proved cannot be worse than the rest,
    counted with p = 1). ``test``: "welch" or "rank" (what ``"auto"`` resolved to).
    """

    slices: pd.DataFrame
    definitions: list[SliceDefinition]
    tested: pd.DataFrame
    n_tested: int
    n_pruned: int
    n_redundant: int
    fdr: float
    confidence: float
    min_support: int
    loss: str
    columns: list[str]
    skipped_columns: dict[str, str]
    n_rows: int
    n_folded: int = 0
    test: str = "welch"  # the test the slices were compared with: "welch" or "rank"

    @property
    def problems(self) -> pd.DataFrame:
        """The distinct problems: the reported slices not folded under a parent, ranked by effect size."""
        if "parent" not in self.slices:
            return self.slices
        return self.slices[self.slices["parent"] == ""].reset_index(drop=True)

    def to_dict(self, top: int = 20) -> dict[str, Any]:
        """JSON-able summary (for evidence snapshots)."""
        return {
            "n_rows": self.n_rows,
            "n_tested": self.n_tested,
            "n_pruned": self.n_pruned,
            "n_significant": len(self.slices),
            "n_redundant": self.n_redundant,
            "n_folded": self.n_folded,
            "n_problems": int((self.slices["parent"] == "").sum())
            if "parent" in self.slices
            else len(self.slices),
            "fdr": self.fdr,
            "min_support": self.min_support,
            "loss": self.loss,
            "columns": self.columns,
            "slices": jsonable(self.slices.head(top)),
            "definitions": [d.to_dict() for d in self.definitions[:top]],
        }


LossName = Literal["loss", "error"]
SliceTest = Literal["auto", "welch", "rank"]


def resolved_test(test: SliceTest, binary_loss: bool) -> str:
    """The test ``"auto"`` stands for: Welch on a 0/1 loss, the rank test on a continuous one."""
    if test != "auto":
        return test
    return "welch" if binary_loss else "rank"


def loss_values(scored: Scored, loss: LossName = "loss") -> tuple[np.ndarray, str]:
    """Per-row loss and its description: "loss" = ``scored.row_loss`` (log loss with probabilities, else
    0/1 error; regression: squared error), "error" = 0/1 misclassification (regression: absolute error)."""
    if loss == "loss":
        if scored.task == "regression":
            what = "squared error"
        elif scored.proba is not None:
            what = "log loss"
        else:
            what = "0/1 error"
        return np.asarray(scored.row_loss, dtype="float64"), what
    if loss == "error":
        if scored.task == "regression":
            return np.abs(scored.pred - scored.y).astype("float64"), "absolute error"
        return (~scored.correct).astype("float64"), "0/1 error"
    raise AnalysisError(f"loss must be 'loss' or 'error'; received {loss!r}.")


def discovery_columns(scored: Scored) -> list[str]:
    """Default columns for discovery: the model's features (else every non-role column)."""
    return [c for c in scored.feature_names if c in scored.frame.columns]


_TESTED_COLUMNS = [
    "slice",
    "n_conditions",
    "support",
    "loss",
    "rest_loss",
    "diff",
    "ci_low",
    "ci_high",
    "effect_size",
    "t",
    "df",
    "p_value",
    "q_value",
    "metric",
    "metric_slice",
    "metric_rest",
    "significant",
    "redundant",
]


def weak_slices(
    scored: Scored,
    *,
    columns: Sequence[str] | None = None,
    max_conditions: int = 2,
    min_support: int | None = None,
    fdr: float = 0.05,
    n_bins: int = 4,
    max_values: int = 20,
    loss: LossName = "loss",
    confidence: float = 0.95,
    slice_def: SliceDefinition | None = None,
    progress: Progress | None = None,
    test: SliceTest = "auto",
) -> DiscoveryResult:
    """Slices of one or two conditions whose mean per-row loss is significantly higher than the rest's.

    Every slice ``column = value`` (categories: the ``max_values`` most frequent and missing; numeric:
    ``n_bins`` quantile bins) and every conjunction of two from different columns with at least
    ``min_support`` rows (default: max(50, 0.1 % of rows)) is tested with Welch's one-sided t-test
    against the other rows; Benjamini–Hochberg at ``fdr`` runs over all slices tested. A bound prunes
    the two-condition search: a child's mean loss cannot exceed the mean of the ``min_support`` largest
    losses of either parent, so a parent whose bound is at or below the overall mean has no child that
    can be worse (such children are counted as tested with p = 1, which keeps BH valid).
    ``slice_def`` restricts the search to a slice (the rest is then the rest of that slice). Work and memory
    are linear in rows × column pairs: one pass of bincounts per pair.

    ``test``: ``"welch"`` tests the mean loss; ``"rank"`` the Mann–Whitney rank-sum test (one-sided,
    normal approximation with the tie correction, as ``scipy.stats.mannwhitneyu(...,
    method="asymptotic", use_continuity=False)``): whether the slice's losses tend to be larger.
    ``"auto"`` (default, chosen by benchmarks/bench_discovery_tests.py): rank for a continuous loss (log
    loss, squared or absolute error), Welch for a 0/1 loss. Log loss is heavy-tailed and a few
    confidently wrong rows widen Welch's interval; ranks do not care, so on log loss the rank test found
    weak and small slices far more often with the FDR kept. On 0/1 values the rank test is the pooled
    two-proportion z-test, which is anti-conservative on small slices with rare errors (13 % of null runs
    reported a slice), while Welch kept it. The reported ``loss``, ``diff`` and interval are the mean
    loss either way; ``t`` is the rank test's z when ranks were used.
    """
    if test not in ("auto", "welch", "rank"):
        raise AnalysisError(f"test must be 'auto', 'welch' or 'rank'; received {test!r}.")
    if not 0 < fdr < 1:
        raise AnalysisError(BAD_FDR.format(received=fdr))
    if max_conditions not in (1, 2):
        raise AnalysisError(BAD_MAX_CONDITIONS.format(received=max_conditions))
    base = slice_mask(scored, slice_def)
    if min_support is None:
        min_support = max(50, int(0.001 * int(base.sum())))
    if not isinstance(min_support, int | np.integer) or min_support < 2:
        raise AnalysisError(BAD_MIN_SUPPORT.format(received=min_support))
    if not 2 <= n_bins <= MAX_BINS:
        raise AnalysisError(BAD_BINS.format(column="discovery", max_bins=MAX_BINS, received=n_bins))
    report = progress or no_progress
    cols = list(columns) if columns is not None else discovery_columns(scored)
    values, loss_name = loss_values(scored, loss)
    use = np.isfinite(values) & base
    rows = None if use.all() else np.flatnonzero(use)
    x = values if rows is None else values[rows]
    n = len(x)
    if n < 2 * min_support:
        raise AnalysisError(
            f"Discovery needs at least {2 * min_support:,} rows with a finite loss (twice the minimum support of "
            f"{min_support:,}); received {n:,}. Lower the minimum support or widen the slice."
        )
    centre = float(x.mean())
    d = x - centre  # centred: sums of squares without cancellation
    binary_loss = bool(np.isin(x, (0.0, 1.0)).all())
    test = resolved_test(test, binary_loss)
    d2 = None if binary_loss else d * d
    T1 = float(d.sum())
    T2 = float((d * d).sum())
    if scored.task == "regression":
        head_all, metric = np.abs(scored.pred - scored.y), "MAE"
    else:
        head_all, metric = scored.correct.astype("float64"), "accuracy"
    head = np.nan_to_num(head_all if rows is None else head_all[rows])
    # The headline metric is often an affine function of the loss (0/1 error ↔ accuracy): no extra pass.
    if loss == "error" or (binary_loss and scored.task != "regression"):
        head_affine = (1.0, -1.0) if scored.task != "regression" else (0.0, 1.0)
    else:
        head_affine = None
    H = float(head.sum())

    groupings: list[Grouping] = []
    codes: list[np.ndarray] = []
    skipped: dict[str, str] = {}
    for i, c in enumerate(cols):
        report(0.25 * i / max(len(cols), 1), f"Binning '{display_name(c)}'")
        try:
            g = group_column(scored, c, bins=n_bins, max_groups=max_values + 1)
        except AnalysisError as exc:
            skipped[c] = str(exc)
            continue
        cc = (g.codes if rows is None else g.codes[rows]).astype(np.intp)
        present = np.bincount(cc, minlength=g.n_groups)
        if (present > 0).sum() < 2:
            skipped[c] = "has a single value"
            continue
        if g.kind == "categorical" and len(g.labels) > max_values and n > 100:
            unique_share = column_values(scored, c).nunique(dropna=True) / max(scored.n, 1)
            if unique_share > _ID_LIKE_RATIO:
                skipped[c] = "is an identifier (nearly every value distinct)"
                continue
        groupings.append(g)
        codes.append(cc)
    if not groupings:
        why = "; ".join(f"'{k}' {v}" for k, v in list(skipped.items())[:5]) or "no columns given"
        raise AnalysisError(
            NO_COLUMNS.format(why=why, examples=", ".join(map(repr, discovery_columns(scored)[:3])))
        )

    ranks = stats.rankdata(x) if test == "rank" else None

    def sums(flat: np.ndarray, size: int, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s1 = np.bincount(flat, weights=d, minlength=size)
        # For 0/1 losses, Σd² follows from Σd and the count: (x − c)² = x(1 − 2c) + c².
        s2 = (
            np.bincount(flat, weights=d2, minlength=size)
            if d2 is not None
            else (s1 + cnt * centre) * (1 - 2 * centre) + cnt * centre**2
        )
        if head_affine is not None:
            a, b = head_affine
            hs = a * cnt + b * (s1 + cnt * centre)
        else:
            hs = np.bincount(flat, weights=head, minlength=size)
        return s1, s2, hs

    loss_order = np.argsort(-x, kind="stable")
    singles = []
    for i, (g, cc) in enumerate(zip(groupings, codes, strict=True)):
        report(0.25 + 0.15 * i / len(groupings), f"Testing slices of '{display_name(g.column)}'")
        cnt = np.bincount(cc, minlength=g.n_groups).astype("float64")
        singles.append(
            (cnt, *sums(cc, g.n_groups, cnt), _top_mean_bound(loss_order, cc, g.n_groups, min_support, x))
        )
    flat = np.empty(n, dtype=np.intp)

    def pair(i: int, j: int) -> tuple[np.ndarray, Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]]:
        size = groupings[i].n_groups * groupings[j].n_groups
        np.multiply(codes[i], groupings[j].n_groups, out=flat)
        np.add(flat, codes[j], out=flat)
        cnt = np.bincount(flat, minlength=size).astype("float64")
        return cnt, lambda: sums(flat, size, cnt)

    rank_sums = None
    if ranks is not None:
        # Rank sums per group, for the rank test; a pair's groups are in ``flat``, filled by pair(i, j) just before.
        rank_sums = RankSums(
            singles=[
                np.bincount(cc, weights=ranks, minlength=g.n_groups)
                for g, cc in zip(groupings, codes, strict=True)
            ],
            pair=lambda i, j: np.bincount(
                flat, weights=ranks, minlength=groupings[i].n_groups * groupings[j].n_groups
            ),
            values=x,
        )

    sums_of = SliceSums(
        conditions=[g.conditions for g in groupings],
        singles=singles,
        pair=pair,
        n=n,
        totals=(T1, T2, H, centre),
        columns=[g.column for g in groupings],
        skipped=skipped,
        loss_name=loss_name,
        metric=metric,
        rank_sums=rank_sums,
    )
    result = discovery_from_sums(
        sums_of, DiscoveryTest(int(min_support), max_conditions, fdr, confidence), report=report
    )
    return replace(result, test=test)


@dataclass(frozen=True)
class RankSums:
    """What the rank test needs beside the sums: each column's per-group rank sums, a pair's (called right
    after ``pair(i, j)``), and the loss values (for the tie correction). Computed in memory only."""

    singles: list[np.ndarray]
    pair: Callable[[int, int], np.ndarray]
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class SliceSums:
    """The per-group sums weak-slice discovery tests, wherever they were computed (in memory or by an engine).

    ``conditions[c][v]``: group v of column c. ``singles[c]``: per group of column c, (count, Σd, Σd², Σ
    headline metric, mean of its ``min_support`` largest losses), d = loss − ``centre``. ``pair(i, j)``: counts
    of the groups of columns i × j (flattened, i major) and a function giving their (Σd, Σd², Σ metric).
    ``n``: rows; ``totals``: (Σd, Σd², Σ metric, centre) over all rows. ``columns``: the columns grouped (in the
    order of ``conditions``); ``skipped``: column -> why it was left out. ``loss_name`` and ``metric`` (the
    headline metric) name what was summed. ``rank_sums``: given, the slices are tested with the one-sided
    Mann–Whitney rank-sum test instead of Welch's (see ``weak_slices``).
    """

    conditions: list[list[Condition]]
    singles: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    pair: Callable[[int, int], tuple[np.ndarray, Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]]]]
    n: int
    totals: tuple[float, float, float, float]
    columns: list[str]
    skipped: dict[str, str]
    loss_name: str
    metric: str
    rank_sums: RankSums | None = None


@dataclass(frozen=True)
class DiscoveryTest:
    """How the slices are tested: at least ``min_support`` rows in a slice and in its rest, up to
    ``max_conditions`` (1 or 2) conditions, Benjamini–Hochberg at ``fdr``, intervals at ``confidence``."""

    min_support: int
    max_conditions: int = 2
    fdr: float = 0.05
    confidence: float = 0.95


def discovery_from_sums(
    sums: SliceSums, test: DiscoveryTest, *, report: Progress = no_progress
) -> DiscoveryResult:
    """Weak-slice discovery from per-group sums (``SliceSums``), tested as ``test`` says."""
    conditions, singles, pair, n = sums.conditions, sums.singles, sums.pair, sums.n
    min_support, max_conditions, fdr, confidence = (
        test.min_support,
        test.max_conditions,
        test.fdr,
        test.confidence,
    )
    rank_sums = sums.rank_sums
    T1, T2, H, centre = sums.totals
    parts: list[dict[str, np.ndarray]] = []
    conds: list[tuple[Condition, ...]] = []
    stats1 = []
    bounds: list[np.ndarray] = []
    for i, (cnt, s1, s2, hs, bound) in enumerate(singles):
        rs = rank_sums.singles[i] if rank_sums is not None else None
        stats1.append((cnt, s1, s2))
        test = (cnt >= min_support) & (cnt <= n - min_support)
        idx = np.flatnonzero(test)
        parts.append(
            {
                "n1": cnt[idx],
                "s1": s1[idx],
                "s2": s2[idx],
                "h1": hs[idx],
                "r1": rs[idx] if rs is not None else np.zeros(len(idx)),
                "k": np.ones(len(idx)),
                "an": np.full(len(idx), np.nan),
                "as1": np.full(len(idx), np.nan),
                "as2": np.full(len(idx), np.nan),
                "bn": np.full(len(idx), np.nan),
                "bs1": np.full(len(idx), np.nan),
                "bs2": np.full(len(idx), np.nan),
            }
        )
        conds.extend((conditions[i][v],) for v in idx)
        bounds.append(bound)
    n_pruned = 0
    if max_conditions == 2 and len(singles) > 1:
        n_pairs = len(singles) * (len(singles) - 1) // 2
        done = 0
        for i in range(len(singles)):
            for j in range(i + 1, len(singles)):
                done += 1
                report(
                    0.4 + 0.6 * done / n_pairs,
                    f"Testing slices of two conditions ({done}/{n_pairs} column pairs)",
                )
                nb = len(conditions[j])
                size = len(conditions[i]) * nb
                cnt, pair_sums = pair(i, j)
                av, bv = np.divmod(np.arange(size), nb)
                supported = (cnt >= min_support) & (cnt <= n - min_support)
                # A child with the same rows as a parent is the parent again: not a new hypothesis.
                supported &= (cnt != stats1[i][0][av]) & (cnt != stats1[j][0][bv])
                alive = np.minimum(bounds[i][av], bounds[j][bv]) > centre
                n_pruned += int((supported & ~alive).sum())
                test = supported & alive
                if not test.any():
                    continue
                s1, s2, hs = pair_sums()
                rs = rank_sums.pair(i, j) if rank_sums is not None else None
                idx = np.flatnonzero(test)
                part = {
                    "n1": cnt[idx],
                    "s1": s1[idx],
                    "s2": s2[idx],
                    "h1": hs[idx],
                    "r1": rs[idx] if rs is not None else np.zeros(len(idx)),
                    "k": np.full(len(idx), 2.0),
                }
                for tag, (pc, ps1, ps2), pv in (("a", stats1[i], av[idx]), ("b", stats1[j], bv[idx])):
                    part.update({f"{tag}n": pc[pv], f"{tag}s1": ps1[pv], f"{tag}s2": ps2[pv]})
                parts.append(part)
                conds.extend((conditions[i][av[p]], conditions[j][bv[p]]) for p in idx)
    cat = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    tested = _welch_table(cat, n, T1, T2, H, centre, confidence)
    if rank_sums is not None:
        z, p_rank = _rank_sum_test(cat["n1"], cat["r1"], n, rank_sums.values)
        tested["t"], tested["p_value"] = z, p_rank
    slice_defs = [SliceDefinition(c) for c in conds]
    tested.insert(0, "slice", [sd.describe() for sd in slice_defs])
    p_all = np.r_[tested["p_value"].to_numpy(dtype="float64"), np.ones(n_pruned)]
    q_all = stats.false_discovery_control(np.nan_to_num(p_all, nan=1.0), method="bh") if len(p_all) else p_all
    tested["q_value"] = q_all[: len(tested)]
    tested["metric"] = sums.metric
    tested["significant"] = (tested["q_value"] <= fdr) & (tested["diff"] > 0)
    # A two-condition slice is informative only if worse than the rest of *each* parent (both conditions
    # matter); single conditions are never redundant.
    redundant = np.zeros(len(tested), dtype=bool)
    two = cat["k"] == 2
    for tag in "ab":
        pn, ps1, ps2 = cat[f"{tag}n"][two], cat[f"{tag}s1"][two], cat[f"{tag}s2"][two]
        n1, c1, c2 = cat["n1"][two], cat["s1"][two], cat["s2"][two]
        redundant[two] |= ~(_welch_p(n1, c1, c2, pn - n1, ps1 - c1, ps2 - c2) < REDUNDANCY_ALPHA)
    tested["redundant"] = redundant
    tested = tested[_TESTED_COLUMNS]
    order, parent = _nest(tested, slice_defs, cat, n, T1, T2)
    slices = tested.loc[order].reset_index(drop=True)
    slices.insert(1, "parent", [parent.get(i, "") for i in order])
    definitions = [SliceDefinition(slice_defs[i].conditions, name=slice_defs[i].describe()) for i in order]
    report(1.0, "Done")
    return DiscoveryResult(
        slices=slices,
        definitions=definitions,
        tested=tested,
        n_tested=len(tested) + n_pruned,
        n_pruned=n_pruned,
        n_redundant=int((tested["significant"] & tested["redundant"]).sum()),
        n_folded=len(parent),
        fdr=fdr,
        confidence=confidence,
        min_support=int(min_support),
        loss=sums.loss_name,
        columns=sums.columns,
        skipped_columns=sums.skipped,
        n_rows=n,
    )


def _nest(
    tested: pd.DataFrame,
    defs: list[SliceDefinition],
    cat: dict[str, np.ndarray],
    n: int,
    T1: float,
    T2: float,
) -> tuple[list[int], dict[int, str]]:
    """The reported slices in reading order, and the slice each folded one is nested under.

    Reported: significant and not redundant. When a two-condition slice C and one of its one-condition
    parents P are both reported, they name one problem, not two:

    - if P without C's rows is still significantly worse than the rows outside P (Welch, one-sided,
      ``REDUNDANCY_ALPHA``) and keeps at least half of P's excess loss over those rows, P is a problem
      of its own and C a worse corner of it: C is folded under P
      (under a parent that is itself a problem, then the larger effect, when both qualify);
    - otherwise P is weak only because of C: C is the problem and P is folded under C.

    The top level (the distinct problems) is ranked by effect size, then support; each is followed by
    the slices folded under it, ranked the same way.
    """
    keep = tested[tested["significant"] & ~tested["redundant"]]
    ranked = list(keep.sort_values(["effect_size", "support"], ascending=[False, False], kind="stable").index)
    singles = {defs[i].conditions[0]: i for i in ranked if len(defs[i].conditions) == 1}
    effect = tested["effect_size"]
    n1, s1, s2 = cat["n1"], cat["s1"], cat["s2"]
    fold: dict[int, int] = {}
    for c in ranked:
        if len(defs[c].conditions) != 2:
            continue
        parents = [singles[x] for x in defs[c].conditions if x in singles]
        own = []
        for p in parents:
            # P without C's rows against the rows outside P.
            p_rest = _welch_p(
                np.array([n1[p] - n1[c]]),
                np.array([s1[p] - s1[c]]),
                np.array([s2[p] - s2[c]]),
                np.array([n - n1[p]]),
                np.array([T1 - s1[p]]),
                np.array([T2 - s2[p]]),
            )[0]
            # P stands on its own when, without C, it is still significantly worse than the rows outside
            # P *and* keeps at least half of its excess loss: with many rows a sliver left over is
            # significant, but C is then what a person should read about.
            outside = (T1 - s1[p]) / (n - n1[p])
            excess = s1[p] / n1[p] - outside
            left = (s1[p] - s1[c]) / (n1[p] - n1[c]) - outside if n1[p] > n1[c] else 0.0
            if p_rest < REDUNDANCY_ALPHA and left >= 0.5 * excess:
                own.append(p)
            elif p not in fold or effect[c] > effect[fold[p]]:
                fold[p] = c  # P is weak only because of C
        if own and c not in fold:
            # Prefer a parent that is itself a problem (not folded), then the larger effect.
            fold[c] = max(own, key=lambda p: (p not in fold, effect[p], -p))

    def top(i: int) -> int:
        seen = {i}
        while i in fold and fold[i] not in seen:
            i = fold[i]
            seen.add(i)
        return i

    roots = {i: top(i) for i in ranked}
    order = []
    for i in ranked:
        if roots[i] == i:
            order.append(i)
            order.extend(j for j in ranked if j != i and roots[j] == i)
    folded = {i: defs[roots[i]].describe() for i in ranked if roots[i] != i}
    return order, folded


def _rank_sum_test(n1: np.ndarray, r1: np.ndarray, n: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Mann–Whitney (slice larger) from each slice's size and rank sum: z and p, normal
    approximation with the tie correction, no continuity correction."""
    _, ties = np.unique(x, return_counts=True)
    tie_term = float((ties.astype("float64") ** 3 - ties).sum()) / (n * (n - 1.0))
    n2 = n - n1
    u = r1 - n1 * (n1 + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(n1 * n2 / 12.0 * ((n + 1.0) - tie_term))
        z = np.where(sd > 0, (u - n1 * n2 / 2.0) / sd, 0.0)
    return z, stats.norm.sf(z)


def _welch_p(
    n1: np.ndarray, s1: np.ndarray, s2: np.ndarray, n2: np.ndarray, t1: np.ndarray, t2: np.ndarray
) -> np.ndarray:
    """One-sided Welch p-value that group 1 has the higher mean, from counts, sums and sums of squares
    (of the same centred values); NaN where a group has fewer than 2 rows."""
    with np.errstate(invalid="ignore", divide="ignore"):
        m1, m2 = s1 / n1, t1 / n2
        a1 = np.maximum(s2 - n1 * m1 * m1, 0.0) / (n1 - 1) / n1
        a2 = np.maximum(t2 - n2 * m2 * m2, 0.0) / (n2 - 1) / n2
        se = np.sqrt(a1 + a2)
        dof = (a1 + a2) ** 2 / (a1**2 / (n1 - 1) + a2**2 / (n2 - 1))
        p = np.where(se > 0, stats.t.sf((m1 - m2) / se, dof), np.where(m1 > m2, 0.0, 1.0))
    return np.where((n1 >= 2) & (n2 >= 2), p, np.nan)


def _top_mean_bound(loss_order: np.ndarray, codes: np.ndarray, G: int, k: int, x: np.ndarray) -> np.ndarray:
    """Per group: mean of its ``k`` largest losses (an upper bound on the mean of any subset of ≥ k rows)."""
    c = codes[loss_order].astype(np.int16 if G < 2**15 else np.int32)
    # Rank of each row within its group in descending-loss order (stable radix sort keeps that order).
    order = np.argsort(c, kind="stable")
    c_sorted = c[order].astype(np.intp)
    starts = np.searchsorted(c_sorted, np.arange(G))
    rank = np.arange(len(c_sorted)) - starts[c_sorted]
    top = rank < k
    sums = np.bincount(c_sorted[top], weights=x[loss_order[order[top]]], minlength=G)
    cnt = np.bincount(c_sorted[top], minlength=G)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, sums / np.maximum(cnt, 1), -np.inf)


def _welch_table(
    cat: dict[str, np.ndarray], n: int, T1: float, T2: float, H: float, centre: float, confidence: float
) -> pd.DataFrame:
    """Welch's one-sided t-test (slice worse than rest) for every tested slice, vectorised.

    ``cat``: per slice its row count ``n1``, the sums of centred losses ``s1`` and of their squares
    ``s2``, the headline-metric sum ``h1`` and the number of conditions ``k``.
    """
    n1, s1, s2, h1 = cat["n1"], cat["s1"], cat["s2"], cat["h1"]
    n2 = n - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        m1, m2 = s1 / n1, (T1 - s1) / n2
        v1 = np.maximum(s2 - n1 * m1 * m1, 0.0) / (n1 - 1)
        v2 = np.maximum((T2 - s2) - n2 * m2 * m2, 0.0) / (n2 - 1)
        a1, a2 = v1 / n1, v2 / n2
        se = np.sqrt(a1 + a2)
        diff = m1 - m2
        t = diff / se
        dof = (a1 + a2) ** 2 / (a1**2 / (n1 - 1) + a2**2 / (n2 - 1))
        p = stats.t.sf(t, dof)
        zero = se == 0
        t = np.where(zero, np.where(diff > 0, np.inf, 0.0), t)
        dof = np.where(zero, n - 2.0, dof)
        p = np.where(zero, np.where(diff > 0, 0.0, 1.0), p)
        pooled = np.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n - 2)) if n > 2 else np.zeros_like(n1)
        effect = np.where(pooled > 0, diff / pooled, np.where(diff > 0, np.inf, 0.0))
        tcrit = stats.t.ppf(0.5 + confidence / 2, dof)
    return pd.DataFrame(
        {
            "n_conditions": cat["k"].astype(int),
            "support": n1.astype(int),
            "loss": m1 + centre,
            "rest_loss": m2 + centre,
            "diff": diff,
            "ci_low": diff - tcrit * se,
            "ci_high": diff + tcrit * se,
            "effect_size": effect,
            "t": t,
            "df": dof,
            "p_value": p,
            "metric_slice": h1 / n1,
            "metric_rest": (H - h1) / n2,
        }
    )


# ---- fairness gaps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairnessResult:
    """Gaps between the groups of ``column``.

    ``groups``: one row per group with ``group`` (label), ``support``, and per measure its value and
    Wilson interval (``positive rate``, ``true positive rate``, ``accuracy``; regression: ``mean
    prediction`` and ``MAE`` with t intervals). ``gaps``: one row per measure with ``gap`` (max − min over
    groups with at least ``min_support`` rows), the two groups, the interval of that difference
    (Newcombe's hybrid score interval; Welch for means), ``threshold`` and ``exceeds`` (gap > threshold)
    and ``significant`` (interval entirely above the threshold). ``cls``: the class treated as positive.
    """

    column: str
    cls: Any
    groups: pd.DataFrame
    gaps: pd.DataFrame
    threshold: float
    confidence: float
    min_support: int
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "class": plain(self.cls, for_json=False),
            "threshold": self.threshold,
            "confidence": self.confidence,
            "min_support": self.min_support,
            "gaps": jsonable(self.gaps),
            "groups": jsonable(self.groups),
            "notes": self.notes,
        }


FAIRNESS_MEASURES = {
    "positive rate": "demographic parity difference (share predicted positive)",
    "true positive rate": "equal opportunity difference (recall among actual positives)",
    "accuracy": "accuracy gap",
    "mean prediction": "difference in mean prediction (regression parity)",
    "MAE": "difference in mean absolute error",
}


BAD_FAIRNESS_PARAM = "The fairness {name} must be a number ≥ {low}; received {received!r}."


@dataclass(frozen=True)
class FairnessParams:
    """How fairness gaps are measured (the Slices page, ``explore check --fairness`` and notebooks share it).

    ``threshold``: the largest acceptable gap (in the measure's units). Classification: ``positive`` is the class
    whose rates are compared (None: the positive class, or the last class for multiclass). ``bins`` and
    ``max_groups``: how the column is cut (``explore.slices.grouping``). Gaps are max − min over groups with at
    least ``min_support`` rows; intervals at ``confidence``.
    """

    threshold: float = 0.1
    positive: Any = None
    bins: int | tuple[float, ...] = DEFAULT_BINS
    min_support: int = 30
    confidence: float = 0.95
    max_groups: int = MAX_GROUPS

    def __post_init__(self) -> None:
        # Checked where the parameters are made (a notebook, a page, a stored run), so a threshold typed as text
        # is this message rather than a TypeError deep in the gap computation.
        for name, low in (("threshold", 0), ("min_support", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not value >= low:
                raise AnalysisError(BAD_FAIRNESS_PARAM.format(name=name, low=low, received=value))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["positive"] = plain(self.positive)
        d["bins"] = self.bins if isinstance(self.bins, int) else list(self.bins)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FairnessParams:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if isinstance(values.get("bins"), list | tuple):
            values["bins"] = tuple(values["bins"])
        return cls(**values)


DEFAULT_RATE_GAP = 0.1  # a classifier's largest acceptable gap between two groups' rates
REGRESSION_GAP_SHARE = (
    0.2  # a regressor's: this many standard deviations of its label (Cohen's "small" effect)
)


def regression_gap_default(label_std: float) -> float:
    """A regressor's default largest acceptable fairness gap, in the label's units: ``REGRESSION_GAP_SHARE``
    standard deviations of the label, to 3 significant digits (0 for a constant label)."""
    gap = REGRESSION_GAP_SHARE * float(label_std)
    return float(f"{gap:.3g}") if np.isfinite(gap) and gap > 0 else 0.0


def label_std(scored: Scored) -> float:
    """A regressor's label's standard deviation on the dataset's rows (0 with fewer than two labels)."""
    y = np.asarray(scored.y, dtype="float64")
    return float(np.nanstd(y, ddof=1)) if np.isfinite(y).sum() > 1 else 0.0


def fairness_threshold_text(task: str, threshold: float, label_std: float | None = None) -> str:
    """What a fairness threshold means, in one sentence: a gap between rates, or label units (and the default's
    origin when it is the default)."""
    if task != "regression":
        return f"Largest acceptable gap {threshold:g}: a difference between two groups' rates (0 to 1)."
    text = f"Largest acceptable gap {threshold:.4g}, in the label's units (mean prediction and MAE gaps)"
    if label_std is not None and threshold == regression_gap_default(label_std):
        text += (
            f": the default, {REGRESSION_GAP_SHARE:g} × the label's standard deviation ({float(label_std):.4g}). "
            "Set the gap your use accepts"
        )
    return text + "."


BAD_RATE_GAP = (
    "A {task} model's fairness threshold is a gap between two groups' rates, from 0 to 1; received {received!r}. "
    "Pass e.g. threshold={default}."
)


def fairness_gaps(
    scored: Scored,
    column: str,
    params: FairnessParams | None = None,
    *,
    slice_def: SliceDefinition | None = None,
) -> FairnessResult:
    """Demographic parity, equal opportunity and accuracy gaps between the groups of ``column`` (in the slice),
    measured as ``params`` says (default ``FairnessParams()``). Regression: mean prediction and MAE gaps, in
    label units."""
    p = params or FairnessParams()
    threshold, positive, bins, min_support, confidence, max_groups = (
        p.threshold,
        p.positive,
        p.bins,
        p.min_support,
        p.confidence,
        p.max_groups,
    )
    mask = slice_mask(scored, slice_def)
    g = group_column(scored, column, bins=bins, max_groups=max_groups)
    codes = np.where(mask, g.codes, -1).astype(np.int64)
    G = g.n_groups
    support = np.bincount(codes[codes >= 0], minlength=G).astype("float64")
    keep = codes >= 0
    sums: dict[str, Any] = {}
    if scored.task == "regression":
        cls = None
        for name, vals in (("mean prediction", scored.pred), ("MAE", np.abs(scored.pred - scored.y))):
            ok = keep & np.isfinite(vals)
            sums[name] = (
                np.bincount(codes[ok], minlength=G).astype("float64"),
                np.bincount(codes[ok], weights=vals[ok], minlength=G),
                np.bincount(codes[ok], weights=vals[ok] ** 2, minlength=G),
            )
    else:
        k = fairness_class(scored.task, scored.classes, scored.positive_index, positive)
        cls = scored.classes[k]
        yk, pk = scored.y == k, scored.pred == k
        sums["positives"] = np.bincount(codes[keep], weights=yk[keep], minlength=G)
        sums["selected"] = np.bincount(codes[keep], weights=pk[keep], minlength=G)
        sums["true positives"] = np.bincount(codes[keep], weights=(yk & pk)[keep], minlength=G)
        sums["correct"] = np.bincount(codes[keep], weights=scored.correct[keep], minlength=G)
    return fairness_from_sums(
        column, g.labels, scored.task, cls, support, sums,
        threshold=threshold, min_support=min_support, confidence=confidence,
    )  # fmt: skip


def fairness_class(task: str, classes: np.ndarray, positive_index: int | None, positive: Any = None) -> int:
    """The index of the class whose rates ``fairness_gaps`` compares: ``positive``, else the positive class (the
    last class for multiclass)."""
    if positive is None:
        return int(positive_index) if task == "binary" else len(classes) - 1
    matches = [i for i, c in enumerate(classes.tolist()) if c == positive or str(c) == str(positive)]
    if not matches:
        raise AnalysisError(
            f"The class {positive!r} is not one of the classes: {', '.join(map(str, classes.tolist()))}."
        )
    return matches[0]


def fairness_from_sums(
    column: str,
    labels: list[str],
    task: str,
    cls: Any,
    support: np.ndarray,
    sums: dict[str, Any],
    *,
    threshold: float,
    min_support: int,
    confidence: float,
) -> FairnessResult:
    """``fairness_gaps``'s result from per-group sums, wherever they were computed (in memory or by an engine).

    ``sums``: regression — per measure ("mean prediction", "MAE") its (count, Σ, Σ²) over finite values;
    classification — per group the counts "positives", "selected", "true positives" and "correct"."""
    notes: list[str] = []
    groups = pd.DataFrame({"group": labels, "support": support.astype(int)})
    measures: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # value, successes/mean, trials/var
    if task == "regression":
        for name in ("mean prediction", "MAE"):
            n_, s1, s2 = sums[name]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = s1 / n_
                var = np.maximum(s2 - n_ * mean**2, 0) / (n_ - 1)
                half = metrics_mod._t_crit(n_, confidence) * np.sqrt(var / n_)
            groups[name] = mean
            groups[f"{name}_low"], groups[f"{name}_high"] = mean - half, mean + half
            measures[name] = (mean, var, n_)
    else:
        pos_n = sums["positives"]
        for name, num, den in (
            ("positive rate", sums["selected"], support),
            ("true positive rate", sums["true positives"], pos_n),
            ("accuracy", sums["correct"], support),
        ):
            lo, hi = metrics_mod.wilson_interval(num, den, confidence)
            groups[name] = metrics_mod._ratio(num, den)
            groups[f"{name}_low"], groups[f"{name}_high"] = lo, hi
            measures[name] = (metrics_mod._ratio(num, den), num, den)
        groups["positives"] = pos_n.astype(int)
    eligible = support >= min_support
    small = [labels[i] for i in np.flatnonzero((support > 0) & ~eligible)]
    if small:
        notes.append(
            f"Groups with fewer than {min_support} rows are shown but not used for the gaps: {', '.join(small[:10])}."
        )
    gap_rows = []
    for name, (val, a, b) in measures.items():
        ok = eligible & np.isfinite(val)
        if task != "regression":
            ok &= b > 0
        row: dict[str, Any] = {"measure": name, "meaning": FAIRNESS_MEASURES[name], "threshold": threshold}
        if ok.sum() < 2:
            row.update(
                gap=np.nan,
                high_group=None,
                low_group=None,
                ci_low=np.nan,
                ci_high=np.nan,
                exceeds=False,
                significant=False,
                note="fewer than two groups with enough rows",
            )
            gap_rows.append(row)
            continue
        idx = np.flatnonzero(ok)
        hi_i, lo_i = idx[np.argmax(val[idx])], idx[np.argmin(val[idx])]
        gap = float(val[hi_i] - val[lo_i])
        if task == "regression":
            se = math.sqrt(a[hi_i] / b[hi_i] + a[lo_i] / b[lo_i])
            dof = (
                (a[hi_i] / b[hi_i] + a[lo_i] / b[lo_i]) ** 2
                / (
                    (a[hi_i] / b[hi_i]) ** 2 / max(b[hi_i] - 1, 1)
                    + (a[lo_i] / b[lo_i]) ** 2 / max(b[lo_i] - 1, 1)
                )
                if se > 0
                else 1.0
            )
            tq = float(stats.t.ppf(0.5 + confidence / 2, dof))
            ci = (gap - tq * se, gap + tq * se)
        else:
            ci = newcombe_interval(a[hi_i], b[hi_i], a[lo_i], b[lo_i], confidence)
        row.update(
            gap=gap,
            high_group=labels[hi_i],
            low_group=labels[lo_i],
            ci_low=ci[0],
            ci_high=ci[1],
            exceeds=bool(gap > threshold),
            significant=bool(ci[0] > threshold),
            note="the interval is for the difference between these two groups; max − min over many groups is biased upward",
        )
        gap_rows.append(row)
    return FairnessResult(
        column=column,
        cls=cls,
        groups=groups,
        gaps=pd.DataFrame(gap_rows),
        threshold=float(threshold),
        confidence=confidence,
        min_support=min_support,
        notes=notes,
    )


def newcombe_interval(
    k1: float, n1: float, k2: float, n2: float, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 − p2, from the two Wilson intervals."""
    p1, p2 = k1 / n1, k2 / n2
    (l1, l2), (u1, u2) = metrics_mod.wilson_interval(np.array([k1, k2]), np.array([n1, n2]), confidence)
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    lo, hi = metrics_mod.clamp_interval(d, lo, hi)
    return float(lo), float(hi)


# ---- curves, confusion matrix, rows -------------------------------------------------------------------


@dataclass(frozen=True)
class Curves:
    """ROC and precision–recall curves of named row sets, each at most ``CURVE_POINTS`` thresholds.

    ``roc``: columns ``set``, ``threshold``, ``fpr``, ``tpr``; ``pr``: ``set``, ``threshold``, ``recall``,
    ``precision``; ``auc``: ``set`` → (ROC AUC, average precision, positives, rows). Thresholds are score
    quantiles, so the curves are exact at the points drawn.
    """

    roc: pd.DataFrame
    pr: pd.DataFrame
    auc: dict[str, tuple[float, float, int, int]]
    cls: Any


def curves(
    scored: Scored,
    slice_def: SliceDefinition | None = None,
    *,
    cls: Any = None,
    max_points: int = CURVE_POINTS,
) -> Curves:
    """ROC/PR curves of the slice, the rest and all rows (those with rows; all rows only without ``slice_def``),
    binary: of the positive class; multiclass: ``cls`` one-vs-rest, default the last class. Raises
    ``AnalysisError`` when there are no scores."""
    if scored.task == "regression":
        raise AnalysisError(
            "ROC and precision–recall curves are for classification; this task is regression."
        )
    k, score = _class_score(scored, cls, "ROC and PR curves")
    sets = (
        {"all rows": np.ones(scored.n, dtype=bool)}
        if slice_def is None
        else comparison_sets(slice_def.mask(scored), non_empty=True)
    )
    rocs, prs, aucs = [], [], {}
    for name, m in sets.items():
        sel = np.asarray(m, dtype=bool) & np.isfinite(score)
        s, y = score[sel], scored.y[sel] == k
        npos, n = int(y.sum()), int(sel.sum())
        if npos == 0 or npos == n:
            aucs[name] = (np.nan, np.nan, npos, n)
            continue
        pos_sorted, neg_sorted = np.sort(s[y]), np.sort(s[~y])
        qs = np.unique(np.quantile(s, np.linspace(0, 1, max_points - 1)))
        thr = np.r_[np.inf, qs[::-1]]
        tp = npos - np.searchsorted(pos_sorted, thr, side="left")
        fp = (n - npos) - np.searchsorted(neg_sorted, thr, side="left")
        tpr, fpr = tp / npos, fp / (n - npos)
        with np.errstate(invalid="ignore", divide="ignore"):
            prec = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
        rocs.append(pd.DataFrame({"set": name, "threshold": thr, "fpr": fpr, "tpr": tpr}))
        prs.append(
            pd.DataFrame({"set": name, "threshold": thr[1:], "recall": tpr[1:], "precision": prec[1:]})
        )
        codes = np.where(sel, 0, -1).astype(np.int64)
        key = "score" if scored.task == "binary" else ("proba", k)
        st = metrics_mod._grouped_auc(metrics_mod._sorted_view(scored, key, score, scored.y == k), codes, 1)
        aucs[name] = (float(st["auc"][0]), float(st["ap"][0]), npos, n)
    cols_roc, cols_pr = ["set", "threshold", "fpr", "tpr"], ["set", "threshold", "recall", "precision"]
    return Curves(
        roc=pd.concat(rocs, ignore_index=True) if rocs else pd.DataFrame(columns=cols_roc),
        pr=pd.concat(prs, ignore_index=True) if prs else pd.DataFrame(columns=cols_pr),
        auc=aucs,
        cls=scored.classes[k],
    )


def _class_score(scored: Scored, cls: Any, what: str) -> tuple[int, np.ndarray]:
    if scored.task == "binary":
        if scored.score is None:
            raise AnalysisError(
                NO_SCORES.format(what=what, reason=scored.unavailable.get("ROC AUC", "the model gives none"))
            )
        return scored.positive_index, np.asarray(scored.score, dtype="float64")
    if scored.proba is None:
        raise AnalysisError(
            NO_SCORES.format(what=what, reason=scored.unavailable.get("ROC AUC", "the model gives none"))
        )
    classes = scored.classes.tolist()
    k = len(classes) - 1
    if cls is not None:
        hits = [i for i, c in enumerate(classes) if c == cls or str(c) == str(cls)]
        if not hits:
            raise AnalysisError(
                f"The class {cls!r} is not one of the classes: {', '.join(map(str, classes))}."
            )
        k = hits[0]
    return k, scored.proba[:, k]


@dataclass(frozen=True, eq=False)
class ConfusionMatrix(TableResult):
    """Counts of (true class, predicted class) over a slice's ``n_rows`` rows. ``table`` is long: ``true``,
    ``predicted``, ``count``, ``share_of_true`` (row-normalised fraction); ``threshold`` the binary decision
    threshold used (None: the model's predictions)."""

    table: pd.DataFrame
    threshold: float | None
    n_rows: int


def confusion_matrix(
    scored: Scored, slice_def: SliceDefinition | None = None, *, threshold: float | None = None
) -> ConfusionMatrix:
    """Counts of (true class, predicted class) over the slice's rows (default all rows). Binary with
    ``threshold``: predicted positive when the score is ≥ ``threshold``. Predictions outside the classes
    appear as "(other)"."""
    if scored.task == "regression":
        raise AnalysisError("A confusion matrix is for classification; this task is regression.")
    m = slice_mask(scored, slice_def)
    pred = predictions_at(scored, threshold)
    K = len(scored.classes)
    p = np.where(pred < 0, K, pred)[m]
    counts = np.bincount(scored.y[m] * (K + 1) + p, minlength=K * (K + 1)).reshape(K, K + 1)
    names = [str(c) for c in scored.classes.tolist()] + [OTHER]
    keep_cols = list(range(K)) + ([K] if counts[:, K].any() else [])
    rows = []
    for i in range(K):
        total = counts[i].sum()
        for j in keep_cols:
            rows.append(
                {
                    "true": names[i],
                    "predicted": names[j],
                    "count": int(counts[i, j]),
                    "share_of_true": counts[i, j] / total if total else np.nan,
                }
            )
    used = threshold if scored.task == "binary" and scored.score is not None else None
    return ConfusionMatrix(pd.DataFrame(rows), used, int(m.sum()))


def predictions_at(scored: Scored, threshold: float | None) -> np.ndarray:
    """Predicted class codes; binary with a ``threshold``: positive when the score is ≥ it."""
    if threshold is None or scored.task != "binary" or scored.score is None:
        return scored.pred
    pos = scored.positive_index
    return np.where(scored.score >= threshold, pos, 1 - pos)


def worst_rows(
    scored: Scored,
    slice_def: SliceDefinition | None = None,
    *,
    n: int = 200,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``n`` rows of the slice (default all rows) with the highest per-row loss, worst first.

    Columns: ``position`` (row position in the scored dataset), ``id``, ``label``, ``prediction``,
    ``score`` (binary: positive-class score; multiclass: probability of the predicted class; absent for
    regression), ``loss`` (``scored.row_loss``), then ``columns`` (default: the features).
    """
    idx = np.flatnonzero(slice_mask(scored, slice_def))
    loss = np.asarray(scored.row_loss, dtype="float64")[idx]
    loss_key = np.where(np.isfinite(loss), loss, -np.inf)
    if len(idx) > n:
        part = np.argpartition(-loss_key, n - 1)[:n]
        idx, loss_key = idx[part], loss_key[part]
    order = np.argsort(-loss_key, kind="stable")
    idx = idx[order]
    out = pd.DataFrame({"position": idx, "id": scored.ids[idx]})
    if scored.task == "regression":
        out["label"] = scored.y[idx]
        out["prediction"] = scored.pred[idx]
    else:
        out["label"] = scored.y_raw[idx]
        pred = scored.pred[idx]
        out["prediction"] = np.where(pred >= 0, scored.classes[np.maximum(pred, 0)], None)
        if scored.task == "binary" and scored.score is not None:
            out["score"] = scored.score[idx]
        elif scored.proba is not None:
            out["score"] = scored.proba[idx, np.maximum(pred, 0)]
    out["loss"] = np.asarray(scored.row_loss, dtype="float64")[idx]
    cols = (
        list(columns)
        if columns is not None
        else [c for c in scored.feature_names if c in scored.frame.columns]
    )
    feats = scored.frame.iloc[idx][cols].reset_index(drop=True)
    for c in cols:
        if c not in out.columns:
            out[c] = feats[c].to_numpy()
    return out
