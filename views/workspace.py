"""Workspace (home): what is open — model, task, datasets, column roles, class balance, overall metrics —
and the ways to open something else: a workspace.toml path, or uploaded model and data files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from explore.cli.commands import max_upload_mb
from explore.core.upload import UploadedFile, save_uploaded_workspace
from explore.errors import ExploreError, PickleNotTrustedError, UntrustedTypesError
from ui import loaders, state
from ui.boundary import shown_errors

st.title("Workspace")
st.caption(
    "ml-explore opens your own trained model and datasets: slice them, explain them, watch them go stale, "
    "spot-check labels, run the checks before serving, and score readiness with the ML Test Score."
)

path = st.session_state.get(state.WS_PATH, "")


def _open_path(new_path: str) -> None:
    st.session_state[state.WS_PATH] = new_path
    st.session_state[state.ACCEPTED_TYPES] = {}
    st.session_state[state.TRUSTED_PICKLES] = []
    for key in (state.DATASET, state.MODEL, state.SLICE, state.SELECTED_ROW):
        st.session_state.pop(key, None)


# ---- what is open ---------------------------------------------------------------------------------
ws = None
try:
    ws = loaders.open_current()
except UntrustedTypesError as exc:
    model_name = getattr(exc, "model_name", "current")
    st.warning(str(exc), icon=":material/shield:")
    st.markdown(
        f"**Accept types for model `{model_name}`** — tick each type you trust (only if you trust the file's origin):"
    )
    chosen = [t for t in exc.types if st.checkbox(f"`{t}`", key=f"workspace_trust_{model_name}_{t}")]
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
except PickleNotTrustedError as exc:
    model_name = getattr(exc, "model_name", "current")
    st.warning(str(exc), icon=":material/shield:")
    trust = st.checkbox(
        f"I trust the file of model `{model_name}`: I know where it came from, and loading it may run its code.",
        key=f"workspace_trust_pickle_{model_name}",
    )
    if st.button("Load the pickle", key="workspace_load_pickle", disabled=not trust):
        st.session_state[state.TRUSTED_PICKLES] = sorted(
            set(st.session_state.get(state.TRUSTED_PICKLES, [])) | {model_name}
        )
        st.rerun()
except ExploreError as exc:
    st.error(str(exc), icon=":material/error:")

if ws is not None:
    summary = ws.summary()
    st.subheader(f"`{ws.name}`")
    st.caption(str(ws.config.path))
    cols = st.columns(3)
    cols[0].metric("Task", ws.task)
    cols[1].metric("Datasets", len(ws.dataset_names))
    cols[2].metric("Features", len(ws.feature_names))
    if ws.models:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "model": k,
                        "type": v,
                        "file": ws.loaded_models[k].path.name,
                        "format": ws.loaded_models[k].kind,
                        "fingerprint": ws.loaded_models[k].fingerprint,
                    }
                    for k, v in summary["models"].items()
                ]
            ),
            hide_index=True,
        )
    else:
        st.info(
            "Predictions-only mode: metrics come from the prediction columns in the data; what-ifs and refits need a model file."
        )
    for warning in ws.warnings:
        st.warning(warning)

    roles = ws.columns
    role_rows = [
        {"role": r, "column": v if not isinstance(v, dict) else ", ".join(f"{k}→{c}" for k, c in v.items())}
        for r, v in [
            ("label", roles.label),
            ("time", roles.time),
            ("id", roles.id),
            ("positive class", ws.positive),
            ("prediction", roles.prediction),
            ("score", roles.score),
            ("scores", dict(roles.scores) or None),
        ]
        if v not in (None, "")
    ]
    left, right = st.columns([1, 2])
    with left:
        st.markdown("**Column roles**")
        st.dataframe(pd.DataFrame(role_rows).astype(str), hide_index=True)
        with st.expander(f"{len(ws.feature_names)} feature columns"):
            st.write(", ".join(f"`{f}`" for f in ws.feature_names))
    with right:
        st.markdown("**Datasets**")
        rows = []
        for name in ws.dataset_names:
            df = ws.dataset(name)
            row = {
                "dataset": name,
                "rows": len(df),
                "columns": df.shape[1],
                "file": ws.config.datasets[name].name,
            }
            if ws.task != "regression":
                share = df[roles.label].value_counts(normalize=True, dropna=True)
                row.update({f"share {k}": round(float(v), 4) for k, v in share.items()})
            else:
                y = pd.to_numeric(df[roles.label], errors="coerce")
                row.update({"label mean": y.mean(), "label std": y.std()})
            row["missing labels"] = int(df[roles.label].isna().sum())
            if roles.time and name in ws.times:
                t = ws.times[name]
                row["from"], row["to"] = str(t.min())[:10], str(t.max())[:10]
            rows.append(row)
        st.dataframe(pd.DataFrame(rows), hide_index=True)

    st.subheader("Overall metrics")
    model_name = loaders.selected_model(ws)
    st.caption(
        f"Model `{model_name}` on every dataset; 95 % confidence intervals and support."
        if model_name
        else "From the prediction columns; 95 % confidence intervals and support."
    )
    from explore.stats.metrics import overall_metrics

    tables = []
    with shown_errors(stop=False):
        for name in ws.dataset_names:
            sc = loaders.scored(name, model_name, ws=ws)
            m = overall_metrics(sc)
            m.insert(0, "dataset", name)
            tables.append(m)
            for metric, reason in sc.unavailable.items():
                st.caption(f"{name}: {metric} unavailable — {reason}.")
            if sc.n_unlabeled:
                st.caption(f"{name}: {sc.n_unlabeled} rows without a label are left out of the metrics.")
    if tables:
        table = pd.concat(tables, ignore_index=True)
        wide = table.pivot_table(index="metric", columns="dataset", values="value", sort=False)
        st.dataframe(wide[ws.dataset_names], width="stretch", key="workspace_metrics_values")
        shown = table.assign(
            interval=[
                "—" if pd.isna(lo) else f"[{lo:.4f}, {hi:.4f}]"
                for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
            ]
        )
        with st.expander("Confidence intervals, support and method", expanded=True):
            st.dataframe(
                shown[["dataset", "metric", "value", "interval", "support", "method", "note"]],
                hide_index=True,
                column_config={"value": st.column_config.NumberColumn(format="%.4f")},
            )

# ---- open something else ----------------------------------------------------------------------------
st.divider()
st.subheader("Open another workspace")
with st.form("workspace_open_form"):
    new_path = st.text_input(
        "Path to a workspace.toml (or its folder)", value=str(path), key="workspace_path_input"
    )
    if st.form_submit_button("Open"):
        _open_path(str(Path(new_path).expanduser()))
        st.rerun()

limit = max_upload_mb()
with st.expander("Upload a model and data files", expanded=ws is None):
    st.caption(
        f"CSV or Parquet data files and a model saved with skops (`skops.io.dump(model, 'model.skops')`); "
        f"pickle/joblib only if you trust the file. Up to {limit} MB per file (EXPLORE_MAX_UPLOAD_MB); "
        "larger files open faster through a workspace.toml."
    )
    model_file = st.file_uploader(
        "Model file (optional: without it, name prediction columns)",
        type=["skops", "joblib", "pkl", "pickle"],
        key="workspace_upload_model",
    )
    data_files = st.file_uploader(
        "Data files (each becomes a dataset named after the file)",
        type=["csv", "tsv", "parquet", "gz"],
        accept_multiple_files=True,
        key="workspace_upload_data",
    )
    if data_files:
        try:
            from explore.core.upload import check_size

            for f in [*data_files, *([model_file] if model_file else [])]:
                check_size(f.name, f.size, limit)
            from explore.core.loading import read_table
            from explore.core.upload import upload_root

            probe_dir = upload_root() / "_probe"
            probe_dir.mkdir(parents=True, exist_ok=True)
            probe = probe_dir / Path(data_files[0].name).name
            probe.write_bytes(data_files[0].getvalue())
            columns = list(read_table(probe).columns)
        except ExploreError as exc:
            st.error(str(exc), icon=":material/error:")
            columns = []
        if columns:
            none = "—"
            c1, c2, c3 = st.columns(3)
            usual = [c for c in columns if c.lower() in ("label", "target", "y", "class", "outcome")]
            # Default to a usual label name, else the last column (the common convention).
            label_default = columns.index(usual[0]) if usual else len(columns) - 1
            label = c1.selectbox("Label column", columns, index=label_default, key="workspace_up_label")
            time = c2.selectbox("Time column (optional)", [none, *columns], key="workspace_up_time")
            id_col = c3.selectbox("Id column (optional)", [none, *columns], key="workspace_up_id")
            c4, c5, c6 = st.columns(3)
            task = c4.selectbox(
                "Task", ["infer", "binary", "multiclass", "regression"], key="workspace_up_task"
            )
            positive = c5.text_input("Positive class (binary, optional)", key="workspace_up_positive")
            prediction = c6.selectbox(
                "Prediction column (without a model)", [none, *columns], key="workspace_up_prediction"
            )
            score_col = st.selectbox(
                "Score / probability column (optional)", [none, *columns], key="workspace_up_score"
            )
            trust_pickle = False
            if model_file is not None and Path(model_file.name).suffix.lower() in (
                ".pkl",
                ".pickle",
                ".joblib",
            ):
                trust_pickle = st.checkbox(
                    "I trust this pickle file: loading it runs any code it contains.",
                    key="workspace_up_trust_pickle",
                )
            if st.button("Open the uploaded workspace", key="workspace_up_open", type="primary"):
                roles = {
                    "label": label,
                    "time": None if time == none else time,
                    "id": None if id_col == none else id_col,
                    "task": None if task == "infer" else task,
                    "positive": positive.strip() or None,
                    "prediction": None if prediction == none else prediction,
                    "score": None if score_col == none else score_col,
                }
                with shown_errors():
                    ws_path = save_uploaded_workspace(
                        datasets=[UploadedFile(f.name, f.getvalue()) for f in data_files],
                        model=UploadedFile(model_file.name, model_file.getvalue()) if model_file else None,
                        columns=roles,
                        trust_pickle=trust_pickle,
                        limit_mb=limit,
                    )
                    _open_path(str(ws_path))
                    st.rerun()

if st.button("Back to the sample workspace", key="workspace_sample"):
    from explore.core.sample import SAMPLE_DIR, ensure_sample

    _open_path(str(ensure_sample(SAMPLE_DIR)))
    st.rerun()
