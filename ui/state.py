"""Session-state keys shared between pages (a page reads another page's choices only through these)."""

WS_PATH = "ws_path"  # str: the open workspace.toml
ACCEPTED_TYPES = "ws_accepted_types"  # dict[model name, list[str]]: skops types accepted in the UI
TRUSTED_PICKLES = "ws_trusted_pickles"  # list[str]: model names whose pickle the user trusts
DATASET = "ws_dataset"  # str: the dataset pages explore (sidebar)
MODEL = "ws_model"  # str: the model version pages explore (sidebar)
SLICE = "slice_json"  # str: SliceDefinition.to_json() of the current slice (set on the Slices page)
SELECTED_ROW = "selected_row"  # dict(dataset=str, position=int, id=Any): the datapoint in focus
