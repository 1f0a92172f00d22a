"""Session-state keys shared between pages (a page reads another page's choices only through these)."""

WS_PATH = "ws_path"  # str: the open workspace.toml
ACCEPTED_TYPES = "ws_accepted_types"  # dict[model name, list[str]]: skops types accepted in the UI
TRUSTED_PICKLES = "ws_trusted_pickles"  # list[str]: model names whose pickle the user trusts
DATASET = "ws_dataset"  # str: the dataset pages explore (sidebar)
MODEL = "ws_model"  # str: the model version pages explore (sidebar)
SLICE = "slice_json"  # str: SliceDefinition.to_json() of the current slice (set on the Slices page)
# The datapoint in focus: dict(dataset=str, position=int | None, id=Any). ``position`` indexes the *scored*
# rows (rows with a label, as in ``Scored``); ``id`` is the [columns] id value (or the position when the
# workspace has no id column). Readers match by id when the workspace has an id column; a page that only
# knows the raw row sets position=None.
SELECTED_ROW = "selected_row"
USER_NAME = "user_name"  # str: the name the user typed (when not signed in), shared by every page
