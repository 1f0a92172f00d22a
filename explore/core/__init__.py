"""Workspaces and everything under them: workspace.toml, loading files and models safely, time columns,
uploads, the store, the sample workspaces, and Vega-safe frames for charts."""

from explore._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "workspace": [
            "WorkspaceConfig",
            "ColumnRoles",
            "Workspace",
            "Scored",
            "read_workspace",
            "open_workspace",
            "score",
            "score_unlabeled",
            "workspace_from_env",
        ],
        "frames": [
            "workspace_from_frames",
            "workspace_from_predictions",
            "save_workspace",
            "serve_workspace",
            "frame_fingerprint",
        ],
        "loading": ["read_table", "load_model", "untrusted_types", "LoadedModel", "file_fingerprint"],
        "timeparse": ["parse_time"],
        "roles": [
            "training_dataset",
            "evaluation_datasets",
            "evaluation_dataset",
            "serving_dataset",
            "reference_dataset",
        ],
        "serialise": ["plain", "jsonable", "to_json", "toml_dumps"],
        "progress": ["Progress", "no_progress"],
        "upload": ["UploadedFile", "save_uploaded_workspace"],
        "store": ["Store", "current_author"],
        "access": ["AllowedUsers", "parse_allowed_users"],
        "sample": ["build_workspace", "ensure_sample", "SAMPLE_DIR"],
        "chart_data": ["vega_safe", "chart_text", "chart_texts", "legend_height"],
        "row_ids": ["id_texts", "position_of_id"],
    },
)
