"""Small pieces several sections of the Importance page use: the class picker, durations in words, and the
analyses the user asked for with a click (shown again on later runs without another click)."""

from __future__ import annotations

from collections.abc import Hashable

import streamlit as st

from explore.importance.explain import ShapExplanation

REQUESTED = "importance_requested"  # session state: set of the analyses asked for by a click


def seconds_text(seconds: float) -> str:
    """A duration in words: seconds below 90 s, else minutes."""
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def asked_for(what: Hashable) -> bool:
    """Whether the user started ``what`` (an analysis with its settings) in this session."""
    return what in st.session_state.setdefault(REQUESTED, set())


def ask_for(what: Hashable) -> None:
    """Remember that the user started ``what``, so later runs show it without another click."""
    st.session_state.setdefault(REQUESTED, set()).add(what)


def class_select(expl: ShapExplanation, key: str, default: int = 0) -> int:
    """The output (class) whose SHAP values are shown: a select box for multiclass models, else 0."""
    if expl.n_outputs == 1:
        return 0
    names = [str(n) for n in expl.output_names]
    choice = st.selectbox("Class shown", names, index=default, key=key)
    return names.index(choice)
