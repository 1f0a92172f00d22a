"""One exception family for everything a user can fix.

Every message says what is wrong, what was received, and how to fix it (scikit-learn's
validation messages are the model). Messages are module constants so that tests can compare
them exactly; the UI boundary (``ui/boundary.py``) shows any ``ExploreError`` as ``st.error``.
Anything that is not an ``ExploreError`` is a bug and is allowed to surface as one.

Every exception the project defines lives here, each with the facts a caller may act on as fields
(``ExploreError(message, **fields)``, e.g. ``ModelError.model_name``, ``UntrustedTypesError.types``).
"""

from __future__ import annotations

from typing import Any


class ExploreError(Exception):
    """A problem with the user's input (files, settings, choices) that they can fix.

    ``ExploreError(message, **fields)``: ``str(exc)`` is the message; ``fields`` are facts a caller may act on
    (which model, which types...), readable as attributes (``exc.model_name``) and as ``exc.fields``.
    ``with_fields(...)`` adds facts known only further up (e.g. the model's name in the workspace).
    """

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = dict(fields)

    def __str__(self) -> str:
        return self.message

    def __getattr__(self, name: str) -> Any:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(f"{type(self).__name__!r} has no field {name!r}")

    def with_fields(self, **fields: Any) -> ExploreError:
        """Add ``fields`` to this error and return it (to re-raise)."""
        self.fields.update(fields)
        return self


class WorkspaceError(ExploreError):
    """workspace.toml is missing, malformed, or names things that do not exist."""


class DataError(ExploreError):
    """A data file cannot be read, or its contents do not fit the workspace."""


class ColumnError(DataError):
    """A column named by the workspace or required by the model is missing or unusable."""


class LabelError(DataError):
    """The label column cannot support the task (all missing, one class, unknown positive class...)."""


class TimeColumnError(DataError):
    """The time column is absent or cannot be parsed as timestamps."""


class ModelError(ExploreError):
    """A model file cannot be loaded, or the model cannot predict on the data.

    Field ``model_name``: the workspace's name for the model (``current``, ``previous``...), set by
    ``open_workspace`` so that the Workspace page can ask for trust per model.
    """


class UntrustedTypesError(ModelError):
    """A .skops file contains types the user has not accepted yet. Field ``types`` lists them."""

    def __init__(self, message: str, types: list[str], **fields: Any) -> None:
        super().__init__(message, types=list(types), **fields)


class PickleNotTrustedError(ModelError):
    """A pickle/joblib file was offered without the user's explicit trust."""


class UploadError(ExploreError):
    """An uploaded file is too large or of a kind the app does not read."""


class StoreError(ExploreError):
    """The store (database of verdicts, confirmations, snapshots) cannot be reached or written."""


class AnalysisError(ExploreError):
    """An analysis cannot run on the current choice (empty slice, too few rows, no time column...)."""


class SettingError(ExploreError):
    """An environment variable (see ``explore.core.settings``) holds a value that cannot be used."""


class SkipCheck(Exception):
    """Raised by an ``explore check`` check that does not apply to this workspace; the message is the reason.

    Control flow, not a user error: the run reports the check as skipped and goes on.
    """


class ExperimentCancelled(AnalysisError):
    """The user cancelled a long analysis (the staleness experiment) between two steps; nothing was saved."""


class RubricError(ExploreError):
    """A rubric input (test id, status, review file, check report) is wrong."""


class RubricConflict(RubricError):
    """Someone else changed a test after the version the user was editing; nothing was written."""


class ReportError(ExploreError):
    """The meeting minutes cannot be built or written as asked (an unknown review or session, an unwritable
    output path)."""


class IdentityError(ExploreError):
    """Who is acting cannot be recorded: sign-in is configured but nobody signed in, or the signed-in account
    is not on EXPLORE_ALLOWED_USERS."""


# ---- message templates (format with keyword arguments) -------------------------------------------

FILE_NOT_FOUND = "The {what} file '{path}' does not exist. Check the path in {where} (paths are relative to workspace.toml)."
FILE_EMPTY = (
    "The {what} file '{path}' is empty (0 bytes). Export the data again, or point {where} at another file."
)
SYMLINK_LOOP = (
    "The {what} path '{path}' is a symbolic link that leads back to itself (a symlink loop), so there is no file "
    "to read. Replace the link with the file it should point to, or point {where} at the real file."
)
SYMLINK_BROKEN = (
    "The {what} path '{path}' is a symbolic link to '{target}', which does not exist. Point the link at an "
    "existing file, or point {where} at the real file."
)
FILE_UNREADABLE = "The {what} file '{path}' cannot be read: {reason}. Check its permissions, or point {where} at another file."
UNKNOWN_DATA_FORMAT = (
    "The data file '{path}' has the extension '{suffix}', which ml-explore does not read. "
    "Use a .csv (optionally .csv.gz) or .parquet file."
)
CSV_NOT_UTF8 = (
    "The CSV file '{path}' is not valid UTF-8 (first bad byte at position {position}: {byte!r}). "
    "Re-save it as UTF-8 (in pandas: df.to_csv(path, encoding='utf-8')), or convert it with `iconv -f latin1 -t utf-8`."
)
CSV_ONE_COLUMN = (
    "The CSV file '{path}' was read as a single column named {header!r}, which usually means a delimiter other "
    "than ',' ; detected delimiter {delimiter!r} did not split it either. Save the file comma-separated."
)
CSV_PARSE_FAILED = (
    "The CSV file '{path}' cannot be parsed: {reason}. Check that every row has the same number of fields."
)
PARQUET_CORRUPT = (
    "The Parquet file '{path}' is not a readable Parquet file ({reason}). It may be truncated or not Parquet at all: "
    "write it again with df.to_parquet(path)."
)
TABLE_NO_ROWS = "The data file '{path}' has a header but no rows. Point the workspace at a file with data."
DUPLICATE_COLUMNS = (
    "The data file '{path}' has duplicate column names: {columns}. Rename them so that each is unique."
)

TOML_SYNTAX = "workspace.toml at '{path}' is not valid TOML: {reason}."
NOT_A_WORKSPACE = (
    "'{path}' is a {suffix} file, not a workspace.toml. Pass the workspace.toml (or the folder that holds it); "
    "a workspace.toml names this file under [datasets] or [model] (README: workspace.toml reference), or build "
    "one from data in Python: explore.Workspace.from_frames(model=…, datasets={{…}}, label=…)."
)
TOML_UNKNOWN_KEY = (
    "workspace.toml has an unknown key '{key}' in section [{section}]. Known keys there: {known}. "
    "Fix the spelling or remove the key."
)
TOML_UNKNOWN_SECTION = "workspace.toml has an unknown section [{section}]. Known sections: {known}."
TOML_WRONG_TYPE = (
    "workspace.toml key '{key}' in section [{section}] must be {expected}; received {received!r}."
)
TOML_MISSING_KEY = "workspace.toml is missing the required key '{key}' in section [{section}]. {fix}"
TOML_NO_DATASETS = 'workspace.toml has no datasets: add a [datasets] section with at least one entry, e.g. validation = "valid.csv".'
TOML_BAD_VALUE = "workspace.toml key '{key}' in section [{section}] has the value {received!r}; {fix}"

MODEL_UNKNOWN_FORMAT = (
    "The model file '{path}' has the extension '{suffix}'. Save the model with skops "
    "(skops.io.dump(model, 'model.skops')), or use a .joblib/.pkl file with trust_pickle = true."
)
MODEL_PICKLE_NOT_TRUSTED = (
    "The model file '{path}' is a {kind} file. Loading it would run any code it contains (unpickling executes code), "
    "so ml-explore refuses it unless you trust its origin. Either save the model with skops "
    "(skops.io.dump(model, 'model.skops')), or set trust_pickle = true for this model in workspace.toml "
    "(or tick 'I trust this file' on the Workspace page; in Python, name the model: "
    "explore.open(path, trusted_pickles={{'current'}}) for [model])."
)
MODEL_UNTRUSTED_TYPES = (
    "The model file '{path}' contains {n} type(s) that skops does not trust by default: {types}. "
    "If you trust where this file came from, add them to trusted_types in workspace.toml "
    "(trusted_types = [{quoted}]) or accept each one on the Workspace page."
)
MODEL_FILE_CHANGED = (
    "The model file '{path}' of model '{model}' changed since the workspace was opened (fingerprint {opened}, now "
    "{now}), so it is not loaded into the open workspace. Reload the page to open the workspace with the new file."
)
MODEL_CORRUPT = (
    "The model file '{path}' could not be loaded as a {kind} file: {reason}. It may be corrupt or written by "
    "another tool; save it again with skops.io.dump(model, path)."
)
MODEL_NOT_ESTIMATOR = (
    "The object in '{path}' is a {received}, not a fitted model with a predict() method. Save the fitted "
    "estimator or Pipeline itself."
)
MODEL_MISSING_COLUMNS = (
    "The model expects {n_expected} feature columns; the dataset '{dataset}' lacks {n_missing} of them: {missing}. "
    "Check the [columns] section of workspace.toml (features = [...]) or load a file with these columns."
)
MODEL_PREDICT_FAILED = (
    "The model '{model}' could not predict on dataset '{dataset}': {reason}.{hint} "
    "Check that the dataset has the columns and types the model was trained on."
)
MODEL_DTYPE_HINT = " Columns holding text where the model may expect numbers: {columns}."
MODEL_MIXED_HINT = (
    " Columns holding numbers with some text among them: {columns}. Make those cells numbers (or leave them "
    "empty) in this dataset's file, as in the data the model was trained on."
)
MODEL_HUGE_HINT = (
    " Columns with values too large for the model's float32 arithmetic (beyond ±3.4e38): {columns}. Clip or "
    "rescale them, or replace them with empty cells."
)
SCORE_NOT_NUMERIC = (
    "The {role} column '{column}' of dataset '{dataset}' must hold numbers ({meaning}), but "
    "{n_bad:,} of {n:,} values are text, e.g. {examples}. Point [columns] {role} at a numeric column, or fix "
    "those cells in the data file."
)
NO_MODEL_FILE = (
    "{needs}, but this workspace has no model file (predictions-only mode). "
    'Add the model to workspace.toml as [model] path = "model.skops"{then}.'
)

LABEL_MISSING = (
    "The label column '{label}' is not in dataset '{dataset}'. Its columns are: {columns}. "
    'Set [columns] label = "..." in workspace.toml to one of them.'
)
LABEL_ALL_NAN = "The label column '{label}' of dataset '{dataset}' has no values (all {n} are missing). Choose another label column."
LABEL_ONE_CLASS = (
    "The label column '{label}' of dataset '{dataset}' has a single class ({value}) for a classification task: "
    'accuracy is trivial and ROC AUC undefined. Use a dataset that contains both classes, or set task = "regression" if the label is a number.'
)
POSITIVE_NOT_IN_LABELS = (
    "The positive class {positive!r} is not among the labels of '{label}' (found: {found}). "
    "Set [columns] positive to one of these values."
)
TASK_UNKNOWN = "task must be one of binary, multiclass, regression; received {received!r}."
TIME_MISSING = (
    "The time column '{time}' is not in dataset '{dataset}'. Set [columns] time to one of: {columns}."
)
TIME_NOT_EPOCH = (
    "The time column '{time}' of dataset '{dataset}' holds numbers from {lo:.6g} to {hi:.6g}: they are not years, "
    "yyyymmdd dates or epoch times (as epoch seconds every one would fall in the first years of 1970), so they "
    "are not times. Set [columns] time to a column of dates (2024-01-31), epoch seconds (1706659200) or "
    "milliseconds, or remove it."
)
TIME_UNPARSEABLE = (
    "The time column '{time}' of dataset '{dataset}' could not be parsed as dates: {n_bad} of {n} values failed "
    "(e.g. {examples}). Use ISO dates (2024-01-31 or 2024-01-31T12:00:00), or epoch seconds/milliseconds."
)
DUPLICATE_IDS = (
    "The id column '{id}' of dataset '{dataset}' has {n_dup} duplicated values (e.g. {examples}). Ids must be unique "
    "to join annotations and verdicts: de-duplicate the rows, or choose another id column."
)
INF_VALUES = (
    "Dataset '{dataset}' contains infinite values in {columns}. Models cannot take them: replace them with NaN "
    "(df.replace([np.inf, -np.inf], np.nan)) or finite values."
)
CSV_LINE_TOO_LONG = (
    "The data file '{path}' has a line of more than {limit_mb} MB (line {line:,}): a CSV row that long is "
    "almost always an unclosed quote or a file that is not CSV. Fix the file, or raise EXPLORE_MAX_LINE_MB "
    "if the row is real."
)
UPLOAD_TOO_LARGE = (
    "The file '{name}' is {size_mb:.0f} MB, over the upload limit of {limit_mb} MB. Open large files through "
    "workspace.toml instead (explore run path/to/workspace.toml), or raise EXPLORE_MAX_UPLOAD_MB."
)


def shown(values, limit: int = 10) -> str:
    """Values for a message: plain Python reprs (``1300``, not ``np.int64(1300)``), cut after ``limit``."""
    items = list(values)
    plain = [v.item() if hasattr(v, "item") and not isinstance(v, str | bytes) else v for v in items[:limit]]
    text = ", ".join(repr(v) for v in plain)
    return text + (f", … ({len(items) - limit} more)" if len(items) > limit else "")
