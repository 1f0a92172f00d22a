"""Opening the workspace of this session, and the questions a model file may need answered first."""

from __future__ import annotations

import streamlit as st

from explore.core.workspace import Workspace
from explore.errors import PickleNotTrustedError, UntrustedTypesError
from ui import loaders, state
from ui.boundary import say, shown_errors
from ui.safe import md_code


def open_path(path: str) -> None:
    """Make ``path`` this session's workspace: nothing accepted or trusted yet, no dataset, model, slice or
    row chosen on the previous one."""
    st.session_state[state.WS_PATH] = path
    st.session_state[state.ACCEPTED_TYPES] = {}
    st.session_state[state.TRUSTED_PICKLES] = []
    state.clear_shared_choices()


def opened_workspace() -> Workspace | None:
    """The open workspace, or None: then the reason is shown (with its fix), or the question to answer
    before a model file can be loaded."""
    with shown_errors(stop=False):
        try:
            return loaders.open_current()
        # Not failures to show but questions to ask: the prompts need the exception's types and model name.
        except UntrustedTypesError as exc:
            _accept_types_prompt(exc)
        except PickleNotTrustedError as exc:
            _trust_pickle_prompt(exc)
    return None


def _accept_types_prompt(exc: UntrustedTypesError) -> None:
    model_name = getattr(exc, "model_name", "current")
    say("warning", str(exc), icon=":material/shield:")
    st.markdown(
        f"**Accept types for model {md_code(model_name)}** — tick each type you trust (only if you trust the file's origin):"
    )
    chosen = [t for t in exc.types if st.checkbox(md_code(t), key=f"workspace_trust_{model_name}_{t}")]
    if st.button(
        "Accept the ticked types and open",
        key="workspace_accept_types",
        disabled=len(chosen) < len(exc.types),
    ):
        accepted = dict(st.session_state.get(state.ACCEPTED_TYPES, {}))
        accepted[model_name] = sorted(set(accepted.get(model_name, [])) | set(chosen))
        st.session_state[state.ACCEPTED_TYPES] = accepted
        st.rerun()
    if len(chosen) < len(exc.types):
        st.caption("Every listed type must be accepted to load this file; none is accepted silently.")


def _trust_pickle_prompt(exc: PickleNotTrustedError) -> None:
    model_name = getattr(exc, "model_name", "current")
    say("warning", str(exc), icon=":material/shield:")
    trust = st.checkbox(
        f"I trust the file of model {md_code(model_name)}: I know where it came from, and loading it may run its code.",
        key=f"workspace_trust_pickle_{model_name}",
    )
    if st.button("Load the pickle", key="workspace_load_pickle", disabled=not trust):
        st.session_state[state.TRUSTED_PICKLES] = sorted(
            set(st.session_state.get(state.TRUSTED_PICKLES, [])) | {model_name}
        )
        st.rerun()
