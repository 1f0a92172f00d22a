"""Banned features: inputs the model must not use (sensitive attributes…), shown under Expectations."""

from __future__ import annotations

import json

import streamlit as st

from explore.checks.stability import banned_features
from ui import evidence
from ui.boundary import shown_errors
from ui.context import PageContext

from .common import verdict


def banned_subsection(ctx: PageContext) -> None:
    ws = ctx.ws
    st.divider()
    st.markdown("**Banned features** — features the model must not use (sensitive attributes…)")
    configured = list(ws.config.checks.banned_features)
    text = st.text_input(
        "Banned features (comma-separated)",
        value=", ".join(configured),
        key="checks_banned_text",
        help="Defaults to [checks] banned_features in workspace.toml.",
    )
    banned = [b.strip() for b in text.split(",") if b.strip()]
    with shown_errors(stop=False):
        res = banned_features(ws, banned=banned)
        verdict(res.passed, res.summary())
        if len(res.found):
            st.dataframe(res.found, hide_index=True, key="checks_banned_found")
        if banned and banned != configured:
            st.caption("To keep this list, put it in workspace.toml:")
            st.code(
                "[checks]\nbanned_features = [" + ", ".join(json.dumps(b) for b in banned) + "]",
                language="toml",
            )
        with st.expander("Inputs checked"):
            st.json(res.checked, expanded=False)
        evidence.attach_button(
            kind="banned_features",
            tests=["data-4"],
            title="Banned features check",
            params={"banned": banned},
            result=res.to_dict(),
            dataset=None,
            key="checks_evidence_banned",
        )
