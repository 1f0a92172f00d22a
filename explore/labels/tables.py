"""Tables the Labels page shows, built from the analyses' results (no formatting: the page names and
formats the columns)."""

from __future__ import annotations

import pandas as pd

from explore.labels.crowd import Annotations, LabelerTrust, Queue
from explore.report.csv import csv_bytes

QUEUE_COLUMNS = (
    "rank",
    "id",
    "score",
    "label",
    "consensus",
    "consensus_confidence",
    "agreement",
    "model_pred",
    "model_p_label",
)


def queue_table(rows: pd.DataFrame, ann: Annotations, *, limit: int) -> pd.DataFrame:
    """The first ``limit`` rows of a ranked (and filtered) queue: rank, id, score, the labels and the
    model's view (``QUEUE_COLUMNS``, plus ``batch`` when the annotations have batches), then each
    labeler's answer (``Annotations.answers``)."""
    shown = rows.head(limit)
    columns = [*QUEUE_COLUMNS, *(["batch"] if ann.batches else [])]
    answers = ann.answers(shown["item"].to_numpy())
    return pd.concat([shown[columns].reset_index(drop=True), answers], axis=1)


def queue_export(rows: pd.DataFrame) -> bytes:
    """The whole queue (after filters) as UTF-8 CSV (spreadsheet-safe), without the internal item index."""
    return csv_bytes(rows.drop(columns=["item"]))


def flagged_labelers(trust: LabelerTrust) -> list[str]:
    """Names of the flagged labelers, least accurate first."""
    table = trust.table
    return table.loc[table["flagged"]].sort_values("accuracy")["labeler"].astype(str).tolist()


def queue_classes(queue: Queue) -> list[str]:
    """The classes of the labels under review in a queue, as sorted text (the class filter's options)."""
    return sorted({str(v) for v in queue.frame["label"].dropna()})
