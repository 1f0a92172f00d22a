"""explore/labels/tables.py: the queue as shown (the first rows with each labeler's answer), its export, its
classes, and the flagged labelers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from explore.labels import crowd, tables
from tests.labels.test_crowd import annotations_for, simulate_labels, synthetic_workspace


def _queue(tmp_path, *, batches: bool = False):
    ws = synthetic_workspace(tmp_path, n=80)
    truth = ws.dataset("validation")["income"].to_numpy()
    long = simulate_labels(truth, list(ws.classes), {"ana": 0.95, "ben": 0.9, "cam": 0.55}, seed=2)
    if batches:
        long["week"] = np.where(long["item"] < 40, "w1", "w2")
    ann = annotations_for(ws, long, batch="week" if batches else None)
    cons = crowd.consensus(ann)
    return ann, cons, crowd.rank_queue(ann, cons, crowd.model_probabilities(ws, ann, model="current"))


def test_the_shown_queue_is_its_first_rows_with_every_labelers_answer(tmp_path):
    ann, _, queue = _queue(tmp_path)
    table = tables.queue_table(queue.frame, ann, limit=25)
    assert list(table.columns) == [*tables.QUEUE_COLUMNS, "ana", "ben", "cam"]
    assert len(table) == 25 and table["rank"].tolist() == list(range(1, 26))
    first = queue.frame.iloc[0]
    assert table.loc[0, "id"] == first["id"]
    expected = ann.answer_dicts(np.array([first["item"]]))[0]
    assert {k: v for k, v in table.loc[0, ["ana", "ben", "cam"]].items() if pd.notna(v)} == expected


def test_the_shown_queue_has_a_batch_column_when_the_annotations_do(tmp_path):
    ann, _, queue = _queue(tmp_path, batches=True)
    assert "batch" in tables.queue_table(queue.frame, ann, limit=5).columns


def test_the_export_is_the_whole_queue_without_the_internal_item_index(tmp_path):
    _, _, queue = _queue(tmp_path)
    back = pd.read_csv(io.BytesIO(tables.queue_export(queue.frame)))
    assert len(back) == len(queue.frame) and "item" not in back.columns and "score" in back.columns


def test_classes_and_flagged_labelers(tmp_path):
    ann, cons, queue = _queue(tmp_path)
    assert tables.queue_classes(queue) == sorted({str(v) for v in queue.frame["label"].dropna()})
    trust = crowd.labeler_trust(ann, cons, threshold=0.99)
    flagged = tables.flagged_labelers(trust)
    table = trust.table.set_index("labeler")
    assert flagged[0] == "cam" and set(flagged) == set(table.index[table["flagged"]].astype(str))
    assert table.loc[flagged, "accuracy"].is_monotonic_increasing
