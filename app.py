"""ml-explore: the router and the shared sidebar (workspace, model version, dataset).

Run with `explore` (sample workspace) or `explore run path/to/workspace.toml`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explore.core import settings
from explore.core.workspace import workspace_from_env
from ui import engine_cached, identity, loaders, state
from ui.boundary import show_flashes, shown_errors
from ui.safe import md_code

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="ml-explore", page_icon=":material/query_stats:", layout="wide")

with shown_errors():
    settings.check_all()  # a bad environment variable is shown with its fix, not as a crash on some page
engine_cached.warm_imports()  # the metrics' imports, while the workspace opens


def _initial_workspace() -> str:
    """EXPLORE_WORKSPACE if set, else the bundled sample (generated on first run, with progress)."""
    env = workspace_from_env()
    if env is not None:
        return str(env)
    from explore.core.sample import SAMPLE_DIR, ensure_sample

    if (SAMPLE_DIR / "workspace.toml").exists() and (SAMPLE_DIR / "manifest.json").exists():
        return str(ensure_sample(SAMPLE_DIR))
    with st.status("Building the sample workspace (first run only)…", expanded=True) as status:
        bar = st.progress(0.0)
        path = ensure_sample(
            SAMPLE_DIR, progress=lambda f, msg: bar.progress(min(max(f, 0.0), 1.0), text=msg)
        )
        status.update(label="Sample workspace ready", state="complete", expanded=False)
    return str(path)


if state.WS_PATH not in st.session_state:
    st.session_state[state.WS_PATH] = _initial_workspace()

pages = [
    st.Page(HERE / "views/workspace.py", title="Workspace", icon=":material/folder_open:", default=True),
    st.Page(HERE / "views/slices.py", title="Slices", icon=":material/filter_alt:"),
    st.Page(HERE / "views/importance.py", title="Importance", icon=":material/bar_chart:"),
    st.Page(HERE / "views/staleness.py", title="Staleness", icon=":material/schedule:"),
    st.Page(HERE / "views/labels.py", title="Labels", icon=":material/fact_check:"),
    st.Page(HERE / "views/checks.py", title="Checks", icon=":material/rule:"),
    st.Page(HERE / "views/rubric.py", title="Rubric", icon=":material/grading:"),
]
page = st.navigation(pages)

with st.sidebar:
    ws = loaders.current_workspace()
    if ws is None:
        st.caption("No workspace open: see the Workspace page.")
    else:
        st.markdown(f"**Workspace** {md_code(ws.name)}")
        if ws.models:
            default_model = ws.model_names.index(loaders.selected_model(ws))
            st.selectbox("Model version", ws.model_names, index=default_model, key=state.MODEL)
        else:
            st.caption("Predictions-only mode: no model file.")
        default_ds = ws.dataset_names.index(loaders.selected_dataset(ws))
        st.selectbox("Dataset", ws.dataset_names, index=default_ds, key=state.DATASET)
    identity.sidebar_account()  # sign in / out, when .streamlit/secrets.toml configures [auth]

show_flashes()  # what callbacks reported in the previous run (ui.boundary.flash)
# The last boundary: e.g. a model file that a section loads on first use and that cannot load.
with shown_errors():
    page.run()
