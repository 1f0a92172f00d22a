"""Expectations: profile a good dataset into a suite, edit it, save it, and validate datasets against it."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from explore.checks import charts
from explore.checks import expectations as suites
from explore.checks.expectations import ExpectationSuite
from explore.checks.kept import EditorBase, file_mtime
from explore.checks.suite_validation import SuiteValidation, validate_datasets
from explore.core.workspace import Workspace
from ui.boundary import say, shown_errors
from ui.context import PageContext
from ui.safe import md_text

from .banned import banned_subsection
from .common import exports, index_of, saved_note, training_default, verdict
from .kept import run_and_keep

SUITE = "checks_suite"  # EditorBase[ExpectationSuite]: what the suite editor's edits are relative to
EDITOR = "checks_suite_editor"  # the data editor's widget key (its state holds the edits)


def expectations_section(ctx: PageContext) -> None:
    ws = ctx.ws
    st.subheader("Expectations: unit tests for data")
    path = suites.suite_path(ws)
    st.caption(
        "Profile a dataset known to be good into a suite (types, null rates, ranges, categories, quantile bands, "
        f"uniqueness, row counts, widened by a tolerance), edit it, save it as {path.name} next to workspace.toml, and "
        "validate any dataset against it."
    )
    _profile_controls(ws)
    base = _suite_base(ws)
    if base is None:
        say(
            "info",
            f"No suite yet: profile a good dataset above. It will be saved as {path}.",
            icon=":material/info:",
        )
    else:
        suite = _suite_editor(ws, base)
        st.markdown("**Validate**")
        datasets = st.multiselect(
            "Datasets", ws.dataset_names, default=ws.dataset_names, key="checks_exp_datasets"
        )
        params = {"datasets": datasets, "suite": suite.to_dict()}
        clicked = st.button(
            "Validate", type="primary", key="checks_exp_run", icon=":material/rule:", disabled=not datasets
        )
        validation: SuiteValidation | None = run_and_keep(
            ws,
            "expectations",
            params,
            clicked=clicked,
            label="Validating datasets",
            run=lambda p: validate_datasets(ws, datasets=datasets, suite=suite, progress=p),
        )
        if validation is not None:
            _validation_results(validation, params)
    banned_subsection(ctx)


def _profile_controls(ws: Workspace) -> None:
    """The good dataset and the profile's widening; the Profile button replaces the suite being edited."""
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    source = c1.selectbox(
        "Profile the good dataset",
        ws.dataset_names,
        index=index_of(ws.dataset_names, training_default(ws)),
        key="checks_exp_source",
    )
    tolerance = c2.number_input(
        "Tolerance",
        0.0,
        5.0,
        0.1,
        step=0.05,
        key="checks_exp_tolerance",
        help="Widening of ranges and quantile bands, as a share of the observed spread.",
    )
    mostly = c3.number_input(
        "Mostly",
        0.5,
        1.0,
        0.999,
        step=0.001,
        format="%.3f",
        key="checks_exp_mostly",
        help="Share of values that must meet range and category expectations.",
    )
    c4.write("")
    if c4.button("Profile", key="checks_exp_profile", icon=":material/query_stats:"):
        with shown_errors(stop=False):
            suite = suites.profile(ws, dataset=source, tolerance=float(tolerance), mostly=float(mostly))
            # A fresh profile is not the file's: a change of the file on disk does not replace it.
            st.session_state[SUITE] = EditorBase(
                value=suite,
                workspace_key=ws.key,
                file_mtime=None,
                origin=f"profiled from '{source}' (not saved yet)",
            )
            st.session_state.pop(EDITOR, None)


def _suite_base(ws: Workspace) -> EditorBase[ExpectationSuite] | None:
    """The suite being edited: a fresh profile, else the suite file (re-read when it changes on disk)."""
    path = suites.suite_path(ws)
    mtime = file_mtime(path)
    base = st.session_state.get(SUITE)
    if isinstance(base, EditorBase) and base.is_current(ws.key, mtime):
        return base
    if path.exists():
        with shown_errors(stop=False):
            base = EditorBase(
                value=suites.load_suite(path),
                workspace_key=ws.key,
                file_mtime=mtime,
                origin=f"loaded from {path}",
            )
            st.session_state[SUITE] = base
            st.session_state.pop(EDITOR, None)  # the edits were relative to the old base
            return base
    return None


def _suite_editor(ws: Workspace, base: EditorBase[ExpectationSuite]) -> ExpectationSuite:
    """The suite table, row bounds and the file buttons; returns the suite as edited."""
    path = suites.suite_path(ws)
    suite = base.value
    st.markdown(
        f"**Suite** — {md_text(base.origin)}; {len(suite.columns)} columns, rows {suite.min_rows or 0:,} .. "
        f"{suite.max_rows or '∞'}"
    )
    edited = st.data_editor(
        suite.to_frame(),
        num_rows="dynamic",
        hide_index=True,
        key=EDITOR,
        column_config={
            "type": st.column_config.SelectboxColumn("type", options=list(suites.TYPES), required=True),
            "max_null_rate": st.column_config.NumberColumn(
                "max null rate", min_value=0.0, max_value=1.0, format="%.4f"
            ),
            "allowed": st.column_config.TextColumn(
                "allowed values", help="Comma-separated; empty: any value"
            ),
            "unique": st.column_config.CheckboxColumn("unique"),
            "quantiles": st.column_config.CheckboxColumn(
                "quantile bands", help="Keep the profiled quantile bands"
            ),
        },
    )
    r1, r2, r3 = st.columns(3)
    min_rows = r1.number_input("Min rows", 0, 10**12, int(suite.min_rows or 0), key="checks_suite_min_rows")
    max_rows = r2.number_input(
        "Max rows",
        0,
        10**12,
        int(suite.max_rows or 0),
        key="checks_suite_max_rows",
        help="0: no upper bound",
    )
    allow_extra = r3.checkbox(
        "Allow extra columns", value=suite.allow_extra_columns, key="checks_suite_extra"
    )
    with shown_errors(stop=False):
        suite = suites.suite_from_frame(edited, suite)
        suite = dataclasses.replace(
            suite,
            min_rows=int(min_rows) or None,
            max_rows=int(max_rows) or None,
            allow_extra_columns=bool(allow_extra),
        )
    s1, s2 = st.columns(2)
    if s1.button(f"Save suite to {md_text(path.name)}", key="checks_suite_save", icon=":material/save:"):
        with shown_errors(stop=False):
            suites.save_suite(suite, path)
            # Keep the editor's base: its edits stay relative to it (the file now holds base + edits).
            st.session_state[SUITE] = dataclasses.replace(
                base, file_mtime=file_mtime(path), origin=f"saved to {path}"
            )
            saved_note(
                path,
                setting="expectations",
                configured=ws.config.checks.expectations is not None,
                commit="Commit it next to workspace.toml.",
            )
    s2.download_button(
        "Download suite",
        suite.to_json() if path.suffix == ".json" else suite.to_toml(),
        file_name=path.name,
        key="checks_suite_download",
        icon=":material/download:",
    )
    return suite


def _validation_results(validation: SuiteValidation, params: dict[str, Any]) -> None:
    verdict(validation.passed, validation.summary())
    names = validation.datasets
    name = (
        st.radio("Dataset", names, horizontal=True, key="checks_exp_view", format_func=md_text)
        if len(names) > 1
        else names[0]
    )
    res = validation.result_for(name)
    for note in res.notes:
        st.caption(md_text(note))
    only_failing = st.checkbox("Only violations", value=True, key="checks_exp_only_failing")
    st.dataframe(
        res.violations if only_failing else res.table,
        hide_index=True,
        key="checks_exp_table",
        column_config={"unexpected_rate": st.column_config.NumberColumn("unexpected share", format="%.4f")},
    )
    if len(res.violations):
        st.altair_chart(charts.violations_chart(res), key="checks_exp_chart")
    if len(res.examples):
        st.markdown("**Example rows**")
        st.dataframe(res.examples, hide_index=True, key="checks_exp_examples")
    exports(
        "expectations",
        "Expectation suite validation",
        validation.summary(),
        validation.tables(),
        validation.to_dict(),
        kind="expectations",
        tests=["data-1", "monitor-2"],
        params=params,
        dataset=name,
    )
