"""Compatibility: will the model run in this environment? And key examples: inputs with the outputs the
model gave, kept so that any later model or environment must reproduce them."""

from __future__ import annotations

import streamlit as st

from explore.checks import compatibility as compat
from explore.checks.compatibility import KeyExamples, KeyExamplesResult
from explore.checks.kept import KeptRun
from explore.core.workspace import Workspace
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from . import cached
from .common import evaluation_default, exports, index_of, no_model, saved_note, verdict
from .kept import run_and_keep

MADE = "checks_keys_made"  # a KeptRun holding the KeyExamples made in this session (not saved yet)


def compatibility_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Compatibility")
    if no_model(ws, "The compatibility check"):
        return
    model = st.selectbox("Model", ws.model_names, key="checks_compat_model")
    with shown_errors(stop=False):
        res = cached.model_compatibility(ws, model)
        verdict(res.passed, res.summary())
        st.dataframe(res.versions, hide_index=True, key="checks_compat_versions")
        with st.expander(f"The {len(res.types)} types the model is made of"):
            st.dataframe(res.types, hide_index=True, key="checks_compat_types")
        exports(
            "compatibility",
            f"Compatibility of '{model}'",
            res.summary(),
            {"versions": res.versions, "types": res.types},
            res.to_dict(),
            kind="compatibility",
            tests=["monitor-1"],
            params={"model": model},
            dataset=None,
        )

    st.divider()
    st.subheader("Key examples")
    path = compat.key_examples_path(ws)
    st.caption(
        "A small file of inputs with the outputs the model gave, made once from the current model and kept "
        f"({md_text(path.name)}, next to workspace.toml). Any later model or environment must reproduce them."
    )
    if path.exists():
        _verify_key_examples(ws)
    else:
        say(
            "info",
            f"No key examples file yet ({path}). Make one below from the current model.",
            icon=":material/info:",
        )
    with st.expander("Make key examples from a model", expanded=not path.exists()):
        _make_key_examples(ws)


def _verify_key_examples(ws: Workspace) -> None:
    path = compat.key_examples_path(ws)
    v1, v2 = st.columns([1, 2])
    model = v1.selectbox("Verify with model", ws.model_names, key="checks_keys_model")
    params = {"model": model, "path": str(path), "mtime": path.stat().st_mtime_ns}
    clicked = v2.button(
        f"Verify {md_text(path.name)}", type="primary", key="checks_keys_verify", icon=":material/verified:"
    )
    res: KeyExamplesResult | None = run_and_keep(
        ws,
        "key_examples",
        params,
        clicked=clicked,
        label="Running the key examples",
        run=lambda p: compat.verify_key_examples(ws, model=model),
    )
    if res is None:
        return
    verdict(res.passed, res.summary())
    st.dataframe(res.table, hide_index=True, key="checks_keys_table")
    exports(
        "key_examples",
        f"Key examples with '{res.model}'",
        res.summary(),
        {"examples": res.table},
        res.to_dict(),
        kind="key_examples",
        tests=["infra-4", "monitor-7"],
        params=params,
        dataset=None,
    )


def _make_key_examples(ws: Workspace) -> None:
    path = compat.key_examples_path(ws)
    m1, m2, m3 = st.columns(3)
    model = m1.selectbox("Model", ws.model_names, key="checks_keys_make_model")
    dataset = m2.selectbox(
        "From dataset",
        ws.dataset_names,
        index=index_of(ws.dataset_names, evaluation_default(ws)),
        key="checks_keys_make_dataset",
    )
    n = m3.number_input("Examples", 1, 1000, 20, key="checks_keys_make_n")
    if st.button("Make", key="checks_keys_make", icon=":material/add_task:"):
        with shown_errors(stop=False):
            examples = compat.make_key_examples(ws, model=model, dataset=dataset, n=int(n))
            st.session_state[MADE] = KeptRun(
                workspace_key=ws.key,
                params={"model": model, "dataset": dataset, "n": int(n)},
                result=examples,
            )
    made = st.session_state.get(MADE)
    if not isinstance(made, KeptRun) or not made.applies_to(ws.key):
        return
    examples: KeyExamples = made.result
    st.dataframe(examples.table(), hide_index=True, key="checks_keys_made_table")
    k1, k2 = st.columns(2)
    if k1.button(f"Save to {md_text(path.name)}", key="checks_keys_save", icon=":material/save:"):
        with shown_errors(stop=False):
            compat.save_key_examples(examples, path)
            saved_note(
                path,
                setting="key_examples",
                configured=ws.config.checks.key_examples is not None,
                commit="Commit it next to workspace.toml.",
            )
    k2.download_button(
        "Download key_examples.json",
        examples.to_json(),
        file_name=path.name,
        mime="application/json",
        key="checks_keys_download",
        icon=":material/download:",
    )
