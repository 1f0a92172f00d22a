"""The Labels page's cached computations, keyed by the objects they depend on (the workspace, the
``AnnotationSource``, the ``ModelView``), never by a hand-built key string.

Annotations, consensus, probabilities and the queue are big and shared by every session: ``cache_shared``,
read-only. Each call shows the spinner the page always showed when it takes more than half a second.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from explore.core.workspace import Workspace
from explore.labels import crowd, model_view, sources, spot_check
from explore.labels.crowd import Agreement, Annotations, Consensus, ItemProbabilities, Queue
from explore.labels.model_view import ModelView
from explore.labels.sources import AnnotationSource
from ui import loaders
from ui.cache import cache_shared

F = TypeVar("F", bound=Callable[..., Any])


def _spinner(text: str) -> Callable[[F], F]:
    """Show ``text`` while the cached function computes (st.spinner appears only after half a second)."""

    def decorate(cached: F) -> F:
        @functools.wraps(cached)
        def call(*args: Any, **kwargs: Any) -> Any:
            with st.spinner(text):
                return cached(*args, **kwargs)

        if hasattr(cached, "clear"):  # a cached function keeps its .clear()
            call.clear = cached.clear  # type: ignore[attr-defined]
        return call  # type: ignore[return-value]

    return decorate


@cache_shared(max_entries=4)
def _uploaded_frame(path: str) -> pd.DataFrame:
    return sources.read_upload(path)


@_spinner("Reading the uploaded file…")
def uploaded_frame(path: str) -> pd.DataFrame:
    """The saved upload at ``path`` (named by its content digest, so the path is its identity)."""
    return _uploaded_frame(path)


@cache_shared(max_entries=8)
def _annotations(ws: Workspace, source: AnnotationSource) -> Annotations:
    frame = None if source.upload is None else _uploaded_frame(source.upload)
    return sources.load_annotations(ws, source, frame=frame)


def annotations(ws: Workspace, source: AnnotationSource) -> Annotations:
    """The annotations ``source`` names, joined to their dataset (an ExploreError on a bad file or column)."""
    reading = "Reading annotations…" if source.upload is None else "Joining annotations to the dataset…"
    with st.spinner(reading):
        return _annotations(ws, source)


@_spinner("Computing agreement…")
@cache_shared(max_entries=8)
def agreement(ws: Workspace, source: AnnotationSource) -> Agreement:
    return crowd.agreement(_annotations(ws, source))


@cache_shared(max_entries=8)
def _consensus(ws: Workspace, source: AnnotationSource, method: str = "regularised") -> Consensus:
    return crowd.consensus(_annotations(ws, source), method=method)


@_spinner("Estimating the consensus…")
def consensus(ws: Workspace, source: AnnotationSource, method: str = "regularised") -> Consensus:
    """The labelers' consensus without a model (``method``: "regularised" or "dawid_skene")."""
    return _consensus(ws, source, method)


def _queue_consensus(ws: Workspace, source: AnnotationSource, view: ModelView) -> Consensus:
    """Model-assisted when the model view gives probabilities and labels overlap; else regularised."""
    ann, probs = _annotations(ws, source), _probabilities(ws, source, view)
    if probs is None or probs.proba is None or not ann.has_overlap:
        return _consensus(ws, source)
    return _model_consensus(ws, source, view)


@cache_shared(max_entries=8)
def _model_consensus(ws: Workspace, source: AnnotationSource, view: ModelView) -> Consensus:
    probs = _probabilities(ws, source, view)
    return crowd.consensus(_annotations(ws, source), method="model_assisted", proba=probs.proba)


@cache_shared(max_entries=8)
def _model_probabilities(ws: Workspace, source: AnnotationSource, model: str | None) -> ItemProbabilities:
    return crowd.model_probabilities(ws, _annotations(ws, source), model=model)


@cache_shared(max_entries=4)
def _stored_cross_validation(
    ws: Workspace, source: AnnotationSource, view: ModelView
) -> ItemProbabilities | None:
    # The store is the process's one store (loaders.store()): a result saved there is found by every session.
    return model_view.load_cross_validation(loaders.store(), ws, view, annotations_key=source.store_key(ws))


def _probabilities(ws: Workspace, source: AnnotationSource, view: ModelView) -> ItemProbabilities | None:
    if view.kind in ("model", "columns"):
        return _model_probabilities(ws, source, view.model)
    if view.kind == "cv":
        return _stored_cross_validation(ws, source, view)
    return None


@_spinner("Scoring the annotated items…")
def probabilities(ws: Workspace, source: AnnotationSource, view: ModelView) -> ItemProbabilities | None:
    """The model's view of the annotated items; None for "none", and for cross-validation not run yet."""
    return _probabilities(ws, source, view)


def cross_validate(
    ws: Workspace, source: AnnotationSource, view: ModelView, *, progress: crowd.Progress
) -> ItemProbabilities:
    """Run the cross-validation ``view`` describes, keep it in the store and forget what was cached without it."""
    result = model_view.cross_validate_and_save(
        loaders.store(),
        ws,
        _annotations(ws, source),
        view,
        annotations_key=source.store_key(ws),
        progress=progress,
    )
    _stored_cross_validation.clear()
    queue.clear()
    return result


@_spinner("Ranking the queue…")
@cache_shared(max_entries=16)
def queue(
    ws: Workspace,
    source: AnnotationSource,
    view: ModelView,
    review: str,
    combine: str,
    model_weight: float,
    model_score: str,
) -> Queue:
    return crowd.rank_queue(
        _annotations(ws, source),
        _queue_consensus(ws, source, view),
        _probabilities(ws, source, view),
        review=review,
        combine=combine,
        model_weight=model_weight,
        model_score=model_score,
    )


@cache_shared(max_entries=4)
def item_index(ws: Workspace, dataset: str) -> pd.Index:
    """The dataset's item keys (ids as text) in row order."""
    return spot_check.item_index(ws, dataset)
