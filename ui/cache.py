"""Caches keyed by the objects themselves, never by hand-built key strings.

``st.cache_data`` hashes every argument. Hashing a 1M-row ``Scored`` or a fitted model would be slow, so the
shared objects hash by their cheap identity (``hash_funcs``): a ``Workspace`` by its key (file paths +
modification times), a ``Scored`` by its ``cache_key`` (workspace key, dataset, model), a
``SliceDefinition`` by its JSON, a ``PageContext`` by its workspace, dataset and model. A function cached here can take those
objects as ordinary arguments: a parameter that is forgotten in a key cannot serve stale results, because
there is no key to forget it in.

Pass a model by its name with the workspace (``ws, model_name``), not the estimator: estimators do not hash
cheaply. Small results go through :func:`cache_small` (copied on every hit); big read-only objects that must
not be copied through :func:`cache_shared`, and are never mutated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from explore.core.workspace import Scored, Workspace
from explore.slices.definition import SliceDefinition

F = TypeVar("F", bound=Callable[..., Any])


def _context_key(ctx: Any) -> str:
    return ctx.key  # workspace files, dataset, model: known without scoring


HASH_FUNCS: dict[Any, Callable[[Any], Any]] = {
    Workspace: lambda ws: ws.key,
    Scored: lambda sc: sc.cache_key,
    SliceDefinition: lambda sd: sd.to_json(),
    "ui.context.PageContext": _context_key,
}


def cache_small(max_entries: int = 32, *, ttl: float | None = None) -> Callable[[F], F]:
    """``st.cache_data`` for small results (tables, result objects), keyed by the objects passed in."""
    return st.cache_data(max_entries=max_entries, ttl=ttl, show_spinner=False, hash_funcs=HASH_FUNCS)


def cache_shared(max_entries: int = 8) -> Callable[[F], F]:
    """``st.cache_resource`` for big read-only results shared by every session (never mutate them)."""
    return st.cache_resource(max_entries=max_entries, show_spinner=False, hash_funcs=HASH_FUNCS)
