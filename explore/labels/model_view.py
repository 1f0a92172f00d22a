"""The model's view of the annotated items, as the review queue uses it: which sources a workspace offers,
which one to start from, and cross-validated probabilities kept in the store.

Cross-validation refits the model several times and can take minutes, so its result is saved in the store
(``Store.save_experiment``) under a key of everything it depends on, and found again by later sessions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from explore.core.roles import training_dataset
from explore.core.workspace import Workspace
from explore.labels.crowd import (
    Annotations,
    ItemProbabilities,
    Progress,
    cross_validated_probabilities,
)

CV_KIND = "labels_cross_validation"  # the store's experiment kind of saved cross-validated probabilities
KINDS = ("model", "cv", "columns", "none")
MAIN_MODEL = "current"

Choice = tuple[str, str | None]  # (kind, model): one of KINDS and the model version it uses, if any


@dataclass(frozen=True)
class ModelView:
    """Where the queue's model probabilities come from.

    ``kind``: "model" (a saved model version's own probabilities), "cv" (out-of-fold probabilities of
    clones of ``model``, ``n_splits`` folds over at most ``max_rows`` training rows), "columns" (the
    prediction columns in the data) or "none" (labelers only).
    """

    kind: str
    model: str | None = None
    n_splits: int = 0
    max_rows: int = 0


def probability_choices(ws: Workspace) -> list[Choice]:
    """The sources a workspace offers, in menu order: every model version ("current" last, as the others
    are more likely out-of-sample), cross-validated clones of each version with ``predict_proba``, the
    prediction columns (predictions-only workspaces) and "none"."""
    out: list[Choice] = []
    if ws.models:
        ordered = [m for m in ws.model_names if m != MAIN_MODEL] + (
            [MAIN_MODEL] if MAIN_MODEL in ws.models else []
        )
        out += [("model", m) for m in ordered]
        out += [("cv", m) for m in ws.model_names if hasattr(ws.models[m], "predict_proba")]
    elif ws.columns.prediction or ws.columns.score or ws.columns.scores:
        out.append(("columns", None))
    out.append(("none", None))
    return out


def is_training_data(ws: Workspace, dataset: str) -> bool:
    """Whether ``dataset`` is the workspace's training dataset (explore.core.roles): a model's scores
    there are in-sample and hide label errors."""
    return dataset == training_dataset(ws)


def default_choice(ws: Workspace, choices: list[Choice], dataset: str) -> int:
    """Position in ``choices`` to start from: cross-validated clones of the current model when the
    annotated items are training data, else the first choice."""
    if ws.models and is_training_data(ws, dataset):
        return next((i for i, c in enumerate(choices) if c == ("cv", MAIN_MODEL)), 0)
    return 0


def in_sample(ws: Workspace, choice: Choice, dataset: str) -> bool:
    """True when ``choice`` is the current model's own probabilities on its training data."""
    return choice == ("model", MAIN_MODEL) and is_training_data(ws, dataset)


def cross_validation_key(annotations_key: str, view: ModelView) -> str:
    """The store key of cross-validated probabilities: 32 hex characters of a sha256 of the annotations'
    identity (``AnnotationSource.store_key``), the model, the folds and the row cap."""
    text = f"{annotations_key}|{view.model}|{view.n_splits}|{view.max_rows}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _workspace_id(ws: Workspace) -> str:
    """How the store names a workspace (its workspace.toml path, as review sessions do)."""
    return str(ws.config.path)


def load_cross_validation(
    store: Any, ws: Workspace, view: ModelView, *, annotations_key: str
) -> ItemProbabilities | None:
    """The cross-validated probabilities ``view`` describes, if saved in ``store`` (``explore.core.store.Store``)
    for these annotations (``annotations_key``: ``AnnotationSource.store_key``); else None."""
    key = cross_validation_key(annotations_key, view)
    row = store.find_experiment(_workspace_id(ws), CV_KIND, key)
    return None if row is None or row["status"] != "done" else ItemProbabilities.from_json(row["result"])


def cross_validate_and_save(
    store: Any,
    ws: Workspace,
    ann: Annotations,
    view: ModelView,
    *,
    annotations_key: str,
    progress: Progress | None = None,
) -> ItemProbabilities:
    """Run the cross-validation ``view`` describes on ``ann`` and keep the result in ``store`` at once, with
    its parameters (model, folds, row cap, dataset), for :func:`load_cross_validation` to find in any later
    session. Raises an ExploreError when it cannot run (nothing is saved then)."""
    result = cross_validated_probabilities(
        ws,
        ann,
        model=view.model or MAIN_MODEL,
        n_splits=int(view.n_splits),
        max_rows=int(view.max_rows),
        progress=progress,
    )
    store.save_experiment(
        workspace=_workspace_id(ws),
        kind=CV_KIND,
        key=cross_validation_key(annotations_key, view),
        params={
            "model": view.model,
            "n_splits": int(view.n_splits),
            "max_rows": int(view.max_rows),
            "dataset": ann.dataset,
        },
        result=result.to_json(),
    )
    return result
