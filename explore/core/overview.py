"""What an open workspace holds, as tables: its models, the columns' roles, its datasets, and the overall
metrics of every dataset side by side (the Workspace page shows them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from explore.core.workspace import Workspace, _encode


def model_table(ws: Workspace) -> pd.DataFrame:
    """One row per model: ``model`` (name), ``type`` (estimator or pipeline steps), ``file``, ``format``
    (``skops`` / ``pickle``) and ``fingerprint`` (of the file); known without loading the models."""
    return pd.DataFrame(
        [
            {
                "model": name,
                "type": kind,
                "file": ws.model_file(name).name,
                "format": ws.model_facts(name).kind,
                "fingerprint": ws.model_fingerprint(name),
            }
            for name, kind in ws.summary()["models"].items()
        ]
    )


def role_table(ws: Workspace) -> pd.DataFrame:
    """One row per column role that is set: ``role`` and ``column`` (as text; per-class score columns as
    ``class→column`` pairs)."""
    roles = ws.columns
    rows = [
        {
            "role": role,
            "column": value
            if not isinstance(value, dict)
            else ", ".join(f"{k}→{c}" for k, c in value.items()),
        }
        for role, value in [
            ("label", roles.label),
            ("time", roles.time),
            ("id", roles.id),
            ("positive class", ws.positive),
            ("prediction", roles.prediction),
            ("score", roles.score),
            ("scores", dict(roles.scores) or None),
        ]
        if value not in (None, "")
    ]
    return pd.DataFrame(rows).astype(str)


def dataset_table(ws: Workspace) -> pd.DataFrame:
    """One row per dataset: ``dataset``, ``rows``, ``columns``, ``file``; the label's balance (``share <class>``
    as fractions rounded to 4 places, or ``label mean`` / ``label std`` for regression); ``missing labels``;
    and the time range (``from`` / ``to``, dates) when the workspace has a time column.

    An out-of-core dataset (``ws.is_out_of_core``) draws no sample here: its row count and label counts are those
    of every row, read as the workspace opened (``explore.engine.sample.Probe``); its label mean and time range
    are left out (they would need a pass over its files)."""
    label = ws.columns.label
    rows = []
    for name in ws.dataset_names:
        if ws.is_out_of_core(name):
            rows.append(_engine_dataset_row(ws, name))
            continue
        df = ws.dataset(name)
        row = {
            "dataset": name,
            "rows": len(df),
            "columns": df.shape[1],
            "file": ws.config.datasets[name].name,
        }
        if ws.task != "regression":
            share = df[label].value_counts(normalize=True, dropna=True)
            row.update({f"share {k}": round(float(v), 4) for k, v in _in_class_order(ws, share).items()})
        else:
            y = pd.to_numeric(df[label], errors="coerce")
            row.update({"label mean": y.mean(), "label std": y.std()})
        row["missing labels"] = int(df[label].isna().sum())
        if ws.columns.time and name in ws.times:
            t = ws.times[name]
            row["from"], row["to"] = str(t.min())[:10], str(t.max())[:10]
        rows.append(row)
    return pd.DataFrame(rows)


def _in_class_order(ws: Workspace, share: pd.Series) -> pd.Series:
    """A label's shares in the model's class order (0, 1, 2 … 10), values that are no class last: by frequency the
    columns of an 11-class table read share 1, share 8, share 5 …, in another order for each dataset."""
    if ws.classes is None:
        return share
    codes = _encode(share.index.to_numpy(dtype=object), ws.classes)
    codes = np.where(codes < 0, len(ws.classes), codes)
    return share.iloc[np.argsort(codes, kind="stable")]


def _engine_dataset_row(ws: Workspace, name: str) -> dict[str, object]:
    probe = ws.samples[name].probe
    row: dict[str, object] = {
        "dataset": name,
        "rows": probe.total,
        "columns": probe.frame.shape[1],
        "file": ws.config.datasets[name].name,
    }
    counts = probe.label_counts
    if counts is not None:
        labelled = sum(n for v, n in counts.items() if v is not None and v == v)
        if ws.task != "regression" and labelled:
            known = pd.Series({v: n for v, n in counts.items() if v is not None and v == v}, dtype="float64")
            ordered = _in_class_order(ws, known.sort_values(ascending=False, kind="stable"))
            row.update({f"share {v}": round(n / labelled, 4) for v, n in ordered.items()})
        row["missing labels"] = probe.total - labelled
    return row


def metrics_by_dataset(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The ``overall_metrics`` table of each dataset stacked, with a leading ``dataset`` column."""
    return pd.concat(
        [t.assign(dataset=name)[["dataset", *t.columns]] for name, t in tables.items()], ignore_index=True
    )


def metrics_wide(metrics: pd.DataFrame, datasets: Sequence[str]) -> pd.DataFrame:
    """Metric values side by side: one row per metric (in their order), one column per dataset of
    ``datasets`` that has values (in that order)."""
    wide = metrics.pivot_table(index="metric", columns="dataset", values="value", sort=False)
    return wide[[d for d in datasets if d in wide.columns]]


def metrics_with_intervals(metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` with ``interval``: the confidence interval as ``[low, high]`` text (4 decimals; ``—`` when
    there is none)."""
    return metrics.assign(
        interval=[
            "—" if pd.isna(lo) else f"[{lo:.4f}, {hi:.4f}]"
            for lo, hi in zip(metrics["ci_low"], metrics["ci_high"], strict=True)
        ]
    )
