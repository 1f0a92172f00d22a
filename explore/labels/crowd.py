"""Labels from several labelers: agreement, consensus, labeler trust and a ranked spot-check queue.

Annotations come in long format (one row per item x labeler: item id, labeler, label, optional
batch) and join a dataset's rows through ``[columns] id``. From them:

- :func:`agreement` — per-item agreement, Krippendorff's alpha (nominal; items may have different
  numbers of labels), Fleiss' kappa on the items with the most common number of labels, Cohen's kappa
  for every labeler pair with enough shared items;
- :func:`consensus` — majority vote (ties reported) and Dawid–Skene (EM over per-labeler confusion
  matrices) with a posterior confidence per item;
- :func:`labeler_trust` — each labeler's estimated accuracy, per-class recall and confusion matrix,
  agreement with the consensus and with the other labelers, flagged below a threshold;
- :func:`model_probabilities` / :func:`cross_validated_probabilities` — out-of-sample class
  probabilities for the annotated items (a chosen model version, or a cross-validated clone when the
  items were in the model's training data);
- :func:`rank_queue` — items ranked by how likely the label under review is wrong (the model's
  disagreement with it, combined with the labelers' disagreement); :func:`filter_queue`.

Everything is vectorised over arrays of codes; nothing here imports streamlit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import logsumexp

from explore.core.loading import read_table
from explore.core.progress import Progress, no_progress
from explore.core.timeparse import parse_time
from explore.core.workspace import Workspace, predict_frame
from explore.errors import (
    NO_MODEL_FILE,
    AnalysisError,
    ColumnError,
    DataError,
    ExploreError,
    ModelError,
    TimeColumnError,
)
from explore.report.display import TableResult

ReviewTarget = Literal["dataset", "consensus"]
ModelScore = Literal["self_confidence", "margin"]
Combine = Literal["posterior", "blend"]

DEFAULT_MIN_SHARED = 10  # shared items a labeler pair needs for Cohen's kappa
DEFAULT_TRUST_THRESHOLD = 0.8
MIN_CLASS_SUPPORT = 20  # expected items of a class before a labeler's recall on it can flag them
MAX_PAIRWISE_LABELERS = 40  # Cohen's kappa for the labelers with the most labels (pairs grow as J^2)
MAX_WIDE_LABELERS = 12  # answers shown one column per labeler up to this many labelers

# ---- messages (format with keyword arguments) -----------------------------------------------------

NO_ANNOTATIONS = (
    "This workspace has no annotations: workspace.toml has no [annotations] section. Add one "
    '([annotations] path = "labels.csv", item = "<id column>", labeler = "<labeler column>", '
    'label = "<label column>"), or upload an annotation file on the Labels page.'
)
ANN_MISSING_COLUMNS = (
    "The annotation file '{source}' has no column(s) {missing} (named as {roles}). Its columns are: {columns}. "
    "Choose the columns that hold the item id, the labeler and the label{where}."
)
ANN_SAME_COLUMN = (
    "The annotation columns must be different, but {roles} all name '{column}'. Choose one column for the item "
    "id, one for the labeler and one for the label."
)
ANN_COLUMN_EMPTY = (
    "The {role} column '{column}' of the annotation file '{source}' is empty (all {n} values are missing). "
    "Choose the column that holds {what}."
)
ANN_NO_ID_COLUMN = (
    "The workspace has no [columns] id, so annotations are matched to row positions of dataset '{dataset}' "
    "(0 to {last}), but the item column '{column}' holds values such as {examples}. Set [columns] id in "
    "workspace.toml to the column holding each row's unique id."
)
ANN_NO_KNOWN_ITEMS = (
    "None of the {n_items} item ids in column '{column}' of the annotation file '{source}' is an id of dataset "
    "'{dataset}' (column '{id_column}'). Annotation ids look like {examples}; the dataset's ids look like "
    "{dataset_examples}. Check that the annotations belong to dataset '{dataset}' ([annotations] dataset) and "
    "that '{column}' holds the same ids as [columns] id."
)
ANN_REGRESSION = (
    "Label agreement, consensus and spot-check sessions need categorical labels, but this workspace's task is "
    "regression (label column '{label}' is numeric). Open a classification workspace, or set "
    '[columns] task = "binary" or "multiclass" if the label is a class code.'
)
ANN_UNKNOWN_DATASET = (
    "There is no dataset named '{dataset}' for the annotations. Datasets in this workspace: {known}."
)

WARN_UNKNOWN_ITEMS = (
    "{n_rows} annotation rows ({n_items} items) name ids that are not in dataset '{dataset}' (e.g. {examples}); "
    "they are left out."
)
WARN_PADDED_IDS = (
    "{n_rows} annotation rows name their item with leading zeros or without them where the dataset's ids do not "
    "(e.g. {examples}): matched as the same number."
)
WARN_MISSING_VALUES = "{n} annotation rows have no {what} and are left out."
WARN_DUPLICATES = (
    "{n} (item, labeler) pairs appear more than once (e.g. {examples}); the last label of each pair is used."
)
WARN_ONE_LABELER = (
    "All labels come from one labeler ('{name}'): agreement, Dawid–Skene and labeler trust need at least two "
    "labelers, so only the model-vs-label queue is available."
)
WARN_NO_OVERLAP = (
    "No item has labels from two labelers (each item has one label): agreement, Dawid–Skene and labeler trust "
    "need overlapping labels, so only the model-vs-label queue is available."
)
WARN_UNKNOWN_LABELS = (
    "{n_rows} annotation rows use labels that are not classes of the model: {labels}. They count in agreement "
    "and consensus; the model gives them no probability."
)
WARN_CASE_LABELS = (
    "{n_rows} annotation rows write a class in another case ({pairs}): each is counted as that class. Labels "
    "that differ only in case from no class, or from two, are kept as written."
)
NEEDS_OVERLAP = (
    "{what} needs at least two labelers labeling the same items; these annotations have {n_labelers} labeler(s) "
    "and {n_multi} item(s) with two or more labels. Collect a second label for some items (e.g. 10 % of them)."
)
UNKNOWN_MODEL = "There is no model named '{model}'. Models in this workspace: {known}."
NO_PROBABILITIES = (
    "The workspace has no model and no prediction or score column, so the queue cannot use a model's view of "
    "the labels. Add a [model] or [columns] prediction/score in workspace.toml; the queue meanwhile ranks by "
    "labeler disagreement only."
)
CV_NEEDS_MODEL = NO_MODEL_FILE.format(
    needs="Cross-validated probabilities refit a copy of the model", then=", or use the prediction columns"
)
CV_FIT_FAILED = (
    "A copy of model '{model}' could not be refitted for cross-validation: {reason}. The model must be a "
    "scikit-learn estimator that sklearn.base.clone() can copy and fit() can train on the dataset's columns; "
    "otherwise choose a previous model version that never saw these items."
)
CV_TOO_FEW = (
    "Cross-validation needs at least {needed} labeled rows in dataset '{dataset}' with at least 2 per class; "
    "it has {n} labeled rows (smallest class: {smallest}). Choose a model version instead."
)
BAD_OPTION = "{what} must be {allowed}; received {received!r}."


# ---- small helpers --------------------------------------------------------------------------------


def text_keys(values: pd.Series | np.ndarray) -> pd.Series:
    """Values as comparable text: integral floats lose their ``.0`` (CSV ids read as floats), blanks are NA."""
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype="float64", na_value=np.nan)
        finite = v[np.isfinite(v)]
        if finite.size == 0 or np.all(np.mod(finite, 1) == 0):
            s = s.astype("Int64")
    out = s.astype("string").str.strip()
    return out.mask(out == "", pd.NA)


def _digits_canonical(keys: pd.Series) -> pd.Series:
    """Text keys that are whole numbers without their leading zeros ("000123" -> "123"); others unchanged."""
    digits = keys.str.fullmatch(r"\d+").fillna(False).astype(bool)
    return keys.where(~digits, keys.str.lstrip("0").replace("", "0"))


def _match_padded_ids(
    pos: np.ndarray, present: np.ndarray, item_keys: pd.Series, ds_keys: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose item id matched no dataset id as text, matched as whole numbers (leading zeros dropped on
    both sides) when that is unambiguous. Returns the positions and the mask of rows matched so."""
    missed = present & (pos < 0)
    if not missed.any():
        return pos, np.zeros(len(pos), dtype=bool)
    ds_canon = _digits_canonical(ds_keys)
    has_id = (
        ds_canon.notna().to_numpy()
    )  # rows without an id match nothing (and two of them are no ambiguity)
    known = pd.Index(ds_canon[has_id])
    if not known.is_unique:  # "01" and "1" are two ids of the dataset: no way to tell which is meant
        return pos, np.zeros(len(pos), dtype=bool)
    found = known.get_indexer(pd.Index(_digits_canonical(item_keys)))
    again = np.where(found >= 0, np.flatnonzero(has_id)[np.maximum(found, 0)], -1)
    padded = missed & (again >= 0)
    return np.where(padded, again, pos), padded


def _fold_case_to_classes(
    label_key: np.ndarray, class_keys: Sequence[str]
) -> tuple[np.ndarray, dict[str, tuple[str, int]]]:
    """Labels (as :func:`text_keys`) that are not a class but equal exactly one class ignoring case, replaced
    by that class. Returns the labels and, per replaced label, (its class, its number of rows)."""
    exact = set(class_keys)
    by_fold: dict[str, list[str]] = {}
    for k in class_keys:
        by_fold.setdefault(k.casefold(), []).append(k)
    values, inverse, counts = np.unique(label_key.astype(str), return_inverse=True, return_counts=True)
    folded: dict[str, tuple[str, int]] = {}
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        hits = by_fold.get(value.casefold(), [])
        if value not in exact and len(hits) == 1:
            folded[value] = (hits[0], int(count))
    if not folded:
        return label_key, folded
    # One lookup per distinct label, not per row.
    mapped = np.asarray([folded[v][0] if v in folded else v for v in values.tolist()], dtype=object)
    return mapped[inverse.ravel()], folded


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: Any) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """A labeler's name as a sort key in which numbers count as numbers: "labeler2" before "labeler10", "Ann"
    beside "ann" (case is the last tie-break). Every list of labelers (tables, pickers, CSV) is in this order."""
    text = str(name)
    parts = _DIGITS.split(text.casefold())
    key = tuple((0, int(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p)
    return key, text


def natural_order(names: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Positions that put ``names`` in :func:`natural_key` order."""
    names = list(names)
    return np.asarray(sorted(range(len(names)), key=lambda i: natural_key(names[i])), dtype=np.int64)


_BOOL_TEXT = {"true": "True", "1": "True", "false": "False", "0": "False"}


def _bool_key(key: Any) -> Any:
    """The text key of a boolean label written as true/false (any case) or 1/0; other keys unchanged."""
    return _BOOL_TEXT.get(str(key).strip().lower(), key) if isinstance(key, str) else key


def _examples(values: Sequence[Any] | np.ndarray, n: int = 3) -> str:
    vals = list(pd.unique(np.asarray(values, dtype=object)))[:n]
    return ", ".join(repr(v) for v in vals) if vals else "(none)"


def _check_choice(what: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise AnalysisError(
            BAD_OPTION.format(what=what, allowed=" or ".join(map(repr, allowed)), received=value)
        )


# ---- annotations ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Annotations:
    """Annotations joined to a dataset, as integer codes. Shared and read-only.

    Items are the dataset rows that have at least one label, in dataset order. ``item``, ``labeler``,
    ``label`` and ``batch`` hold one entry per annotation (item x labeler). ``categories`` are the label
    values: the model's classes first (``n_model_classes`` of them, in the workspace's class order),
    then any other value the labelers used.
    """

    dataset: str
    source: str
    id_column: str | None
    label_column: str
    item_ids: np.ndarray  # the dataset's id value of each item (row position when there is no id column)
    item_keys: np.ndarray  # the same as text (how verdicts in the store name items)
    rows: np.ndarray  # position of each item in ws.dataset(dataset)
    labelers: np.ndarray  # labeler names (str)
    categories: np.ndarray  # label values (object)
    n_model_classes: int
    item: np.ndarray  # int64 per annotation: index into items
    labeler: np.ndarray  # int64 per annotation: index into labelers
    label: np.ndarray  # int64 per annotation: index into categories
    batch: np.ndarray | None  # str per annotation ("" when missing), or None without a batch column
    dataset_label: np.ndarray  # int64 per item: the dataset label column as a category code (-1: missing)
    warnings: tuple[str, ...] = ()

    @property
    def n_items(self) -> int:
        return len(self.rows)

    @property
    def n_labelers(self) -> int:
        return len(self.labelers)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    @property
    def n_annotations(self) -> int:
        return len(self.item)

    @cached_property
    def counts(self) -> np.ndarray:
        """items x categories: how many labelers gave each category to each item (int64)."""
        k = self.n_categories
        flat = np.bincount(self.item * k + self.label, minlength=self.n_items * k)
        return flat.reshape(self.n_items, k)

    @cached_property
    def n_labels(self) -> np.ndarray:
        """Labels per item (int64)."""
        return np.bincount(self.item, minlength=self.n_items)

    @cached_property
    def labels_per_labeler(self) -> np.ndarray:
        """Items each labeler labeled (int64)."""
        return np.bincount(self.labeler, minlength=self.n_labelers)

    @property
    def n_multi(self) -> int:
        """Items with two or more labels."""
        return int((self.n_labels >= 2).sum())

    @property
    def has_overlap(self) -> bool:
        """At least two labelers and at least one item labeled by two of them."""
        return self.n_labelers >= 2 and self.n_multi > 0

    def dense(self, labelers: Sequence[int] | np.ndarray) -> np.ndarray:
        """items x len(labelers) category codes of the given labeler indices (-1: did not label; int32)."""
        labelers = np.asarray(labelers, dtype=np.int64)
        col = np.full(self.n_labelers, -1, dtype=np.int64)
        col[labelers] = np.arange(len(labelers))
        m = np.full((self.n_items, len(labelers)), -1, dtype=np.int32)
        pick = col[self.labeler] >= 0
        m[self.item[pick], col[self.labeler[pick]]] = self.label[pick]
        return m

    @cached_property
    def _batch_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct batch values in batch order, each annotation's index into them). Batches that are
        all numbers sort as numbers; others as text (dates are ISO text, so text order is time order)."""
        values, codes = np.unique(self.batch.astype(str), return_inverse=True)
        numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
        if len(values) and not np.isnan(numbers[values != ""]).any():
            order = np.argsort(np.where(values == "", -np.inf, numbers), kind="stable")
            rank = np.empty(len(values), dtype=np.int64)
            rank[order] = np.arange(len(values))
            return values[order].astype(object), rank[codes.reshape(-1)]
        return values.astype(object), codes.reshape(-1)

    @cached_property
    def item_batch(self) -> np.ndarray | None:
        """Each item's latest batch (the last in batch order among its labels, as text), or None."""
        if self.batch is None:
            return None
        values, codes = self._batch_codes
        latest = np.full(self.n_items, -1, dtype=np.int64)
        np.maximum.at(latest, self.item, codes)
        return values[latest]

    @cached_property
    def batches(self) -> list[str]:
        """The distinct batch values in batch order (empty without a batch column)."""
        return [] if self.batch is None else [str(v) for v in self._batch_codes[0] if v != ""]

    def category_values(self, codes: np.ndarray) -> np.ndarray:
        """Category codes → label values (None where the code is -1)."""
        codes = np.asarray(codes, dtype=np.int64)
        out = np.empty(len(codes), dtype=object)
        ok = codes >= 0
        out[ok] = self.categories[codes[ok]]
        out[~ok] = None
        return out

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        """Category codes → a pandas Categorical of label values (missing where the code is -1)."""
        return pd.Categorical.from_codes(
            np.asarray(codes, dtype=np.int64), categories=pd.Index(self.categories, dtype=object)
        )

    def code_of(self, value: Any) -> int:
        """The category code of a label value (matched as text), -1 when unknown."""
        key = text_keys(pd.Series([value], dtype=object)).iloc[0]
        keys = text_keys(pd.Series(self.categories, dtype=object)).tolist()
        return keys.index(key) if key in keys else -1

    def items_of(
        self, *, labelers: Sequence[str] | None = None, batches: Sequence[str] | None = None
    ) -> np.ndarray:
        """Boolean mask over items: labeled by any of ``labelers`` and/or labeled in any of ``batches``."""
        mask = np.ones(self.n_items, dtype=bool)
        if labelers:
            wanted = np.isin(self.labelers, np.asarray(list(labelers), dtype=object))
            hit = np.zeros(self.n_items, dtype=bool)
            hit[self.item[wanted[self.labeler]]] = True
            mask &= hit
        if batches and self.batch is not None:
            hit = np.zeros(self.n_items, dtype=bool)
            hit[self.item[np.isin(self.batch, np.asarray(list(batches), dtype=object))]] = True
            mask &= hit
        return mask

    def answers(self, items: np.ndarray) -> pd.DataFrame:
        """Each labeler's label (as text) on the given items (rows in the given order; None where not labeled).

        One column per labeler up to ``MAX_WIDE_LABELERS`` labelers; beyond that one ``answers`` column
        of "labeler: label" text.
        """
        items = np.asarray(items, dtype=np.int64)
        if self.n_labelers <= MAX_WIDE_LABELERS:
            codes = self.dense(np.arange(self.n_labelers))[items]
            text = np.asarray(
                text_keys(pd.Series(self.categories, dtype=object)).tolist() + [None], dtype=object
            )
            return pd.DataFrame(
                {str(name): text[codes[:, j]] for j, name in enumerate(self.labelers)}, dtype=object
            )
        pick = np.isin(self.item, items)
        df = pd.DataFrame(
            {
                "item": self.item[pick],
                "text": self.labelers[self.labeler[pick]].astype(object)
                + ": "
                + self.categories[self.label[pick]].astype(str).astype(object),
            }
        )
        joined = df.groupby("item")["text"].agg(" · ".join)
        return pd.DataFrame({"answers": joined.reindex(items).to_numpy()})

    def answer_dicts(self, items: np.ndarray) -> list[dict[str, str]]:
        """Each given item's labels as {labeler: label as text}, in the given order."""
        items = np.asarray(items, dtype=np.int64)
        where = np.full(self.n_items, -1, dtype=np.int64)
        where[items] = np.arange(len(items))
        pick = np.flatnonzero(where[self.item] >= 0)
        out: list[dict[str, str]] = [{} for _ in items]
        text = [str(v) for v in text_keys(pd.Series(self.categories, dtype=object)).tolist()]
        names = [str(n) for n in self.labelers]
        for r in pick[np.argsort(self.labeler[pick], kind="stable")]:
            out[where[self.item[r]]][names[self.labeler[r]]] = text[self.label[r]]
        return out


MAX_BATCHES = 60
_DATE_LIKE = r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d{2}"


def batch_values(values: pd.Series) -> pd.Series:
    """A batch column as text that sorts in batch order ("" where missing).

    Numbers and plain text stay as they are (numbers sort as numbers later). Timestamps (a datetime
    column, or text that looks like dates) become their day as ISO text — or their ISO week
    ("2024-W07"), or month ("2024-02"), when there would be more than ``MAX_BATCHES`` batches.
    """
    text = text_keys(values)
    is_time = pd.api.types.is_datetime64_any_dtype(values.dtype)
    if not is_time and not pd.api.types.is_numeric_dtype(values.dtype):
        present = text.dropna()
        is_time = bool(len(present)) and bool(
            present.head(1000).str.contains(_DATE_LIKE, regex=True).mean() > 0.9
        )
    if is_time:
        try:
            when = parse_time(values, column=str(values.name), dataset="annotations")
        except TimeColumnError:
            when = None
        if when is not None:
            days = when.dt.strftime("%Y-%m-%d")
            if days.nunique() > MAX_BATCHES:
                iso = when.dt.isocalendar()
                days = iso["year"].astype("string") + "-W" + iso["week"].astype("string").str.zfill(2)
                if days.nunique() > MAX_BATCHES:
                    days = when.dt.strftime("%Y-%m")
            text = days.astype("string").where(when.notna(), pd.NA)
    return text.fillna("").astype(object)


def read_annotation_file(
    path: Path | str, *, where: str = "workspace.toml [annotations] path"
) -> pd.DataFrame:
    """Read an annotation file (CSV or Parquet); raise DataError with the fix when it cannot be read."""
    return read_table(path, where=where)


def workspace_annotations(ws: Workspace) -> Annotations:
    """The workspace's ``[annotations]`` joined to their dataset. Raises AnalysisError without them."""
    spec = ws.config.annotations
    if spec is None:
        raise AnalysisError(NO_ANNOTATIONS)
    frame = ws.annotation_table()  # in memory (from_frames) or read from [annotations] path
    return annotations_from_frame(
        ws,
        frame,
        item=spec.item,
        labeler=spec.labeler,
        label=spec.label,
        batch=spec.batch,
        dataset=spec.dataset,
        source=str(spec.path),
        where=" in the [annotations] section of workspace.toml",
    )


def annotations_from_frame(
    ws: Workspace,
    frame: pd.DataFrame,
    *,
    item: str,
    labeler: str,
    label: str,
    dataset: str,
    batch: str | None = None,
    source: str = "uploaded file",
    where: str = "",
) -> Annotations:
    """Validate long-format annotations and join them to ``dataset``'s rows by ``[columns] id``.

    Returns an :class:`Annotations` whose ``warnings`` say what was left out (unknown ids, rows with a
    missing value, repeated item x labeler pairs) and what cannot be computed (one labeler only).
    Raises an ExploreError for a regression workspace, missing or empty columns, and when no item id
    is an id of the dataset.
    """
    if ws.task == "regression":
        raise AnalysisError(ANN_REGRESSION.format(label=ws.columns.label))
    if dataset not in ws.dataset_names:
        raise AnalysisError(ANN_UNKNOWN_DATASET.format(dataset=dataset, known=", ".join(ws.dataset_names)))
    roles = {"item": item, "labeler": labeler, "label": label}
    if batch:
        roles["batch"] = batch
    missing = {r: c for r, c in roles.items() if c not in frame.columns}
    if missing:
        raise ColumnError(
            ANN_MISSING_COLUMNS.format(
                source=source,
                missing=", ".join(repr(c) for c in missing.values()),
                roles=", ".join(missing),
                columns=", ".join(map(repr, list(frame.columns)[:30])),
                where=where,
            )
        )
    for column in set(roles.values()):
        same = [r for r, c in roles.items() if c == column]
        if len(same) > 1:
            raise ColumnError(ANN_SAME_COLUMN.format(roles=" and ".join(same), column=column))
    what = {"item": "each item's id", "labeler": "who gave each label", "label": "the label given"}
    keys = {}
    for role in ("item", "labeler", "label"):
        keys[role] = text_keys(frame[roles[role]])
        if keys[role].isna().all():
            raise ColumnError(
                ANN_COLUMN_EMPTY.format(
                    role=role, column=roles[role], source=source, n=len(frame), what=what[role]
                )
            )
    warnings: list[str] = []
    present = ~(keys["item"].isna() | keys["labeler"].isna() | keys["label"].isna()).to_numpy()
    for role in ("item", "labeler", "label"):
        n_na = int(keys[role].isna().sum())
        if n_na:
            warnings.append(WARN_MISSING_VALUES.format(n=n_na, what=f"{role} ('{roles[role]}')"))

    # Join to the dataset's rows by id (as text, so 12 / "12" / 12.0 match).
    data = ws.dataset(dataset)
    id_column = ws.columns.id
    item_key = keys["item"].to_numpy(dtype=object)
    if id_column:
        ds_keys = text_keys(data[id_column])
        pos = pd.Index(ds_keys).get_indexer(pd.Index(item_key))
        # Ids written "000123" on one side and 123 on the other (a spreadsheet or a text column kept the zeros).
        pos, padded = _match_padded_ids(pos, present, keys["item"], ds_keys)
        if padded.any():
            pairs = [
                f"{k!r} as {v!r}"
                for k, v in zip(item_key[padded][:3], ds_keys.to_numpy()[pos[padded][:3]], strict=True)
            ]
            warnings.append(WARN_PADDED_IDS.format(n_rows=int(padded.sum()), examples=", ".join(pairs)))
    else:
        as_int = pd.to_numeric(keys["item"], errors="coerce")
        ok = as_int.notna() & (as_int % 1 == 0) & (as_int >= 0) & (as_int < len(data))
        if not ok[present].any():
            raise ColumnError(
                ANN_NO_ID_COLUMN.format(
                    dataset=dataset, last=len(data) - 1, column=item, examples=_examples(item_key[present])
                )
            )
        pos = np.where(ok, as_int.fillna(-1), -1).astype(np.int64)
    unknown = present & (pos < 0)
    if not (present & ~unknown).any():
        ds_examples = _examples(data[id_column].to_numpy()[:50]) if id_column else "0, 1, 2"
        raise DataError(
            ANN_NO_KNOWN_ITEMS.format(
                n_items=int(pd.Series(item_key[present]).nunique()),
                column=item,
                source=source,
                dataset=dataset,
                id_column=id_column or "(row position)",
                examples=_examples(item_key[present]),
                dataset_examples=ds_examples,
            )
        )
    if unknown.any():
        warnings.append(
            WARN_UNKNOWN_ITEMS.format(
                n_rows=int(unknown.sum()),
                n_items=int(pd.Series(item_key[unknown]).nunique()),
                dataset=dataset,
                examples=_examples(item_key[unknown]),
            )
        )
    keep = present & ~unknown
    rows_all = pos[keep].astype(np.int64)
    labeler_text = keys["labeler"].to_numpy(dtype=object)[keep]
    label_key = keys["label"].to_numpy(dtype=object)[keep]
    label_raw = frame[label].to_numpy(dtype=object)[keep]
    batch_text = None
    if batch:
        batch_text = batch_values(frame[batch]).to_numpy(dtype=object)[keep]

    # Repeated (item, labeler): keep the last row of each pair.
    pair = pd.DataFrame({"row": rows_all, "labeler": labeler_text})
    dup_last = pair.duplicated(keep="last").to_numpy()
    if dup_last.any():
        dup_ids = item_key[keep][dup_last]
        warnings.append(
            WARN_DUPLICATES.format(
                n=int(dup_last.sum()),
                examples=", ".join(
                    f"({i!r}, {w!r})" for i, w in zip(dup_ids[:3], labeler_text[dup_last][:3], strict=True)
                ),
            )
        )
        sel = ~dup_last
        rows_all, labeler_text, label_key, label_raw = (
            rows_all[sel],
            labeler_text[sel],
            label_key[sel],
            label_raw[sel],
        )
        if batch_text is not None:
            batch_text = batch_text[sel]

    # Categories: the model's classes first (matched as text), then other labels the labelers used.
    classes = ws.classes if ws.classes is not None else np.asarray([], dtype=object)
    class_keys = text_keys(pd.Series(classes, dtype=object)).tolist()
    if len(classes) and all(isinstance(c, bool | np.bool_) for c in classes.tolist()):
        # Boolean classes: labeling tools write them true/false, TRUE/FALSE or 1/0.
        label_key = np.asarray([_bool_key(k) for k in label_key], dtype=object)
    # "Spam" / "SPAM " for the class "spam": that class (whitespace is already stripped by text_keys).
    label_key, folded = _fold_case_to_classes(label_key, class_keys)
    if folded:
        warnings.append(
            WARN_CASE_LABELS.format(
                n_rows=sum(n for _, n in folded.values()),
                pairs=", ".join(f"{k!r} as {c!r}" for k, (c, _) in list(folded.items())[:10]),
            )
        )
    used_keys, first = np.unique(label_key.astype(str), return_index=True)
    extra = [k for k in used_keys.tolist() if k not in class_keys]
    cat_keys = class_keys + extra
    raw_of_key = dict(zip(used_keys.tolist(), label_raw[first].tolist(), strict=True))
    categories = np.asarray(list(classes.tolist()) + [raw_of_key[k] for k in extra], dtype=object)
    label_codes = pd.Index(cat_keys).get_indexer(pd.Index(label_key.astype(str))).astype(np.int64)
    if extra:
        n_extra = int((label_codes >= len(class_keys)).sum())
        warnings.append(
            WARN_UNKNOWN_LABELS.format(
                n_rows=n_extra, labels=", ".join(repr(raw_of_key[k]) for k in extra[:10])
            )
        )

    rows, item_codes = np.unique(rows_all, return_inverse=True)
    labelers, labeler_codes = np.unique(labeler_text.astype(str), return_inverse=True)
    # Labelers in natural order (labeler2 before labeler10): their codes follow it, so every table, picker and
    # CSV built from ann.labelers lists them so.
    order = natural_order(labelers)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    labelers, labeler_codes = labelers[order], rank[labeler_codes]
    ds_label_key = text_keys(data[ws.columns.label].iloc[rows])
    dataset_label = pd.Index(cat_keys).get_indexer(
        pd.Index(ds_label_key.fillna("\x00").to_numpy(dtype=object))
    )
    item_ids = data[id_column].to_numpy()[rows] if id_column else rows.copy()

    n_multi = int((np.bincount(item_codes) >= 2).sum())
    if len(labelers) == 1:
        warnings.append(WARN_ONE_LABELER.format(name=labelers[0]))
    elif n_multi == 0:
        warnings.append(WARN_NO_OVERLAP)
    return Annotations(
        dataset=dataset,
        source=source,
        id_column=id_column,
        label_column=ws.columns.label,
        item_ids=item_ids,
        item_keys=text_keys(pd.Series(item_ids)).to_numpy(dtype=object),
        rows=rows.astype(np.int64),
        labelers=labelers.astype(object),
        categories=categories,
        n_model_classes=len(class_keys),
        item=item_codes.astype(np.int64),
        labeler=labeler_codes.astype(np.int64),
        label=label_codes,
        batch=batch_text,
        dataset_label=np.asarray(dataset_label, dtype=np.int64),
        warnings=tuple(warnings),
    )


# ---- agreement ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Agreement:
    """Agreement between labelers. Numbers are shares in [0, 1] or coefficients (1 = perfect, 0 = chance).

    ``per_item``: share of agreeing labeler pairs on each item (NaN for items with one label);
    ``alpha``: Krippendorff's alpha (nominal) over every item with two or more labels;
    ``fleiss_kappa``: Fleiss' kappa over the ``fleiss_n_items`` items with exactly ``fleiss_labels`` labels;
    ``pairwise``: one row per labeler pair (labeler_a, labeler_b, shared, observed, kappa), Cohen's kappa
    where the pair shares at least ``min_shared`` items (NaN otherwise).
    """

    labelers: np.ndarray
    pair_labelers: (
        np.ndarray
    )  # the labelers in ``pairwise`` (those with the most labels, at most MAX_PAIRWISE_LABELERS)
    n_items: int
    n_multi: int
    n_complete: int  # items labeled by every labeler
    per_item: np.ndarray
    mean_item_agreement: float
    alpha: float
    alpha_pairable: int  # pairable values (labels on items with two or more labels)
    fleiss_kappa: float
    fleiss_labels: int
    fleiss_n_items: int
    pairwise: pd.DataFrame
    min_shared: int
    notes: tuple[str, ...] = ()

    def kappa_matrix(self, value: str = "kappa") -> pd.DataFrame:
        """``pair_labelers`` x ``pair_labelers`` table of a pairwise column (``"kappa"``: 1 on the
        diagonal, NaN for pairs with too few shared items; ``"shared"``: shared items)."""
        names = [str(n) for n in self.pair_labelers]
        pos = {n: i for i, n in enumerate(names)}
        m = np.full((len(names), len(names)), np.nan)
        if value == "kappa":
            np.fill_diagonal(m, 1.0)
        if len(self.pairwise):
            a = self.pairwise["labeler_a"].astype(str).map(pos).to_numpy()
            b = self.pairwise["labeler_b"].astype(str).map(pos).to_numpy()
            v = self.pairwise[value].to_numpy(dtype=np.float64)
            m[a, b] = v
            m[b, a] = v
        return pd.DataFrame(m, index=names, columns=names)


def krippendorff_alpha_nominal(counts: np.ndarray) -> tuple[float, int]:
    """Krippendorff's alpha for nominal data from an items x categories count matrix.

    Items with fewer than two labels are not pairable and are left out. Returns ``(alpha, n)`` where
    ``n`` is the number of pairable values; alpha is NaN when fewer than two categories are used.
    Coincidence matrix: o_ck = sum_u (n_uc n_uk - [c=k] n_uc) / (m_u - 1);
    alpha = 1 - (n - 1) * sum_{c!=k} o_ck / sum_{c!=k} n_c n_k.
    """
    counts = np.asarray(counts, dtype=np.float64)
    m = counts.sum(axis=1)
    pairable = m >= 2
    c = counts[pairable]
    if c.shape[0] == 0:
        return float("nan"), 0
    w = 1.0 / (m[pairable] - 1.0)
    cw = c * w[:, None]
    o = cw.T @ c
    o[np.diag_indices_from(o)] -= cw.sum(axis=0)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    observed_off = n - np.trace(o)
    expected_off = n * n - np.sum(n_c**2)
    if expected_off <= 0:
        return float("nan"), int(round(n))
    return float(1.0 - (n - 1.0) * observed_off / expected_off), int(round(n))


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an items x categories count matrix with the same number of labels per item.

    NaN when every label is the same category (chance agreement is 1).
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_items = counts.shape[0]
    m = counts.sum(axis=1)
    if n_items == 0 or not np.all(m == m[0]) or m[0] < 2:
        raise AnalysisError(
            "Fleiss' kappa needs the same number (two or more) of labels on every item; "
            f"received items with {sorted(set(m.astype(int).tolist()))[:10]} labels."
        )
    r = m[0]
    p_j = counts.sum(axis=0) / (n_items * r)
    p_i = (np.sum(counts**2, axis=1) - r) / (r * (r - 1))
    p_bar, p_e = p_i.mean(), np.sum(p_j**2)
    if p_e >= 1.0:
        return float("nan")
    return float((p_bar - p_e) / (1.0 - p_e))


def cohen_kappa_from_confusion(confusion: np.ndarray) -> float:
    """Cohen's kappa from a k x k confusion matrix of two labelers' labels; NaN when chance agreement is 1."""
    c = np.asarray(confusion, dtype=np.float64)
    n = c.sum()
    if n == 0:
        return float("nan")
    po = np.trace(c) / n
    pe = float(c.sum(axis=1) @ c.sum(axis=0)) / (n * n)
    if pe >= 1.0:
        return float("nan")
    return float((po - pe) / (1.0 - pe))


@dataclass(frozen=True, eq=False)
class PairConfusion(TableResult):
    """Counts of (``first``'s label, ``second``'s label) on the items both labeled: ``table`` rows are the first
    labeler's labels, columns the second's (only categories either of them used; empty: no item in common)."""

    first: str
    second: str
    table: pd.DataFrame


def pair_confusion(ann: Annotations, labeler_a: str, labeler_b: str) -> PairConfusion:
    """How two labelers' labels meet on the items both labeled (see ``PairConfusion``)."""
    names = ann.labelers.tolist()
    for name in (labeler_a, labeler_b):
        if name not in names:
            raise AnalysisError(
                f"There is no labeler named {name!r}. Labelers: {', '.join(map(repr, names[:20]))}."
            )
    pair = ann.dense([names.index(labeler_a), names.index(labeler_b)])
    a, b = pair[:, 0], pair[:, 1]
    both = (a >= 0) & (b >= 0)
    k = ann.n_categories
    conf = np.bincount(a[both] * k + b[both], minlength=k * k).reshape(k, k)
    used = (conf.sum(axis=0) + conf.sum(axis=1)) > 0
    labels = [str(v) for v in ann.categories[used]]
    table = pd.DataFrame(
        conf[np.ix_(used, used)],
        index=pd.Index(labels, name=labeler_a),
        columns=pd.Index(labels, name=labeler_b),
    )
    return PairConfusion(labeler_a, labeler_b, table)


def agreement(
    ann: Annotations, *, min_shared: int = DEFAULT_MIN_SHARED, fleiss_labels: int | None = None
) -> Agreement:
    """Agreement statistics of the annotations (see :class:`Agreement`).

    ``fleiss_labels``: compute Fleiss' kappa on items with exactly this many labels (default: the most
    common number of labels, two or more). Raises AnalysisError without overlapping labels.
    """
    if not ann.has_overlap:
        raise AnalysisError(
            NEEDS_OVERLAP.format(what="Agreement", n_labelers=ann.n_labelers, n_multi=ann.n_multi)
        )
    notes: list[str] = []
    counts, m = ann.counts, ann.n_labels
    multi = m >= 2
    per_item = np.full(ann.n_items, np.nan)
    per_item[multi] = (np.sum(counts[multi] * (counts[multi] - 1), axis=1)) / (m[multi] * (m[multi] - 1))
    alpha, n_pairable = krippendorff_alpha_nominal(counts)
    if np.isnan(alpha):
        notes.append("Krippendorff's alpha is undefined: every label is the same class.")

    sizes = np.bincount(m[multi])
    if fleiss_labels is None:
        best = int(sizes.max()) if sizes.size else 0
        fleiss_labels = int(np.flatnonzero(sizes == best)[-1]) if best else 0
    fleiss_items = m == fleiss_labels
    fk = float("nan")
    if fleiss_labels >= 2 and fleiss_items.any():
        fk = fleiss_kappa(counts[fleiss_items])
        if np.isnan(fk):
            notes.append("Fleiss' kappa is undefined on those items: every label is the same class.")

    # Cohen's kappa per pair, for the labelers with the most labels.
    order = np.argsort(-ann.labels_per_labeler, kind="stable")
    if ann.n_labelers > MAX_PAIRWISE_LABELERS:
        notes.append(
            f"Cohen's kappa is computed for the {MAX_PAIRWISE_LABELERS} labelers with the most labels "
            f"(of {ann.n_labelers})."
        )
        order = order[:MAX_PAIRWISE_LABELERS]
    order = np.sort(order)
    k = ann.n_categories
    rows = []
    mat = ann.dense(order)
    for i, a in enumerate(order):
        la = mat[:, i]
        has_a = la >= 0
        for jb, b in enumerate(order[i + 1 :], start=i + 1):
            lb = mat[:, jb]
            both = has_a & (lb >= 0)
            shared = int(both.sum())
            if shared == 0:
                continue
            conf = np.bincount(la[both] * k + lb[both], minlength=k * k).reshape(k, k)
            kappa = cohen_kappa_from_confusion(conf) if shared >= min_shared else float("nan")
            rows.append((ann.labelers[a], ann.labelers[b], shared, np.trace(conf) / shared, kappa))
    pairwise = pd.DataFrame(rows, columns=["labeler_a", "labeler_b", "shared", "observed", "kappa"])
    few = int((pairwise["shared"] < min_shared).sum()) if len(pairwise) else 0
    if few:
        notes.append(f"{few} labeler pair(s) share fewer than {min_shared} items: no Cohen's kappa for them.")
    return Agreement(
        labelers=ann.labelers,
        pair_labelers=ann.labelers[order],
        n_items=ann.n_items,
        n_multi=int(multi.sum()),
        n_complete=int((m == ann.n_labelers).sum()),
        per_item=per_item,
        mean_item_agreement=float(np.nanmean(per_item)) if multi.any() else float("nan"),
        alpha=alpha,
        alpha_pairable=n_pairable,
        fleiss_kappa=fk,
        fleiss_labels=int(fleiss_labels),
        fleiss_n_items=int(fleiss_items.sum()) if fleiss_labels >= 2 else 0,
        pairwise=pairwise,
        min_shared=min_shared,
        notes=tuple(notes),
    )


# ---- consensus ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Consensus:
    """Majority vote and Dawid–Skene consensus per item.

    ``label``/``confidence``/``posterior``: Dawid–Skene's most likely true category, its posterior
    probability, and the full posterior (items x categories). ``majority`` is the majority-vote code,
    -1 on ties (``tie`` True). ``confusion[j, c, l]``: estimated probability that labeler j says l when
    the truth is c. ``priors``: estimated class shares. Without overlapping labels there is nothing to
    estimate: ``method`` is "single label" and the consensus is the (majority) label itself.
    """

    label: np.ndarray
    confidence: np.ndarray
    posterior: np.ndarray
    majority: np.ndarray
    tie: np.ndarray
    majority_share: np.ndarray
    priors: np.ndarray
    confusion: np.ndarray
    n_iter: int
    converged: bool
    log_likelihood: float
    seconds: float
    method: str
    model_weight: float | None = None  # model-assisted consensus: the model's weight w the evidence chose
    prior_weight: float | None = None  # ... and the class prior's weight v (item prior ∝ p_model^w · prior^v)

    @property
    def n_ties(self) -> int:
        return int(self.tie.sum())


TiePolicy = Literal["abstain", "prior", "random"]


def majority_vote(
    counts: np.ndarray, *, ties: TiePolicy = "abstain", seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(label, tie, share)``: the most frequent category per item, whether the top count is
    shared by two or more categories, and the top count's share of the item's labels.

    Tie policy (``ties``), documented in docs/labels.md:

    - ``"abstain"`` (default): a tied item gets -1, "no majority". Scoring -1 against a truth counts it
      as wrong, so measure majority-vote accuracy on the untied items, or use another policy;
    - ``"prior"``: the tied category given most often over all items (the crowd's class prior), then the
      lowest category code — deterministic;
    - ``"random"``: one of the tied categories uniformly at random (``seed``), which is right 1/m of the
      time on an m-way tie between the truth and others: the usual convention of majority-vote baselines.
    """
    _check_choice("ties", ties, ("abstain", "prior", "random"))
    top = counts.max(axis=1)
    tied = counts == top[:, None]
    tie = tied.sum(axis=1) > 1
    if ties == "abstain":
        label = np.where(tie, -1, counts.argmax(axis=1)).astype(np.int64)
    elif ties == "prior":
        overall = counts.sum(axis=0).astype(np.float64)
        # Highest overall count among the tied; ties of that broken by the lowest code.
        rank = overall - np.arange(counts.shape[1]) * 1e-9 * max(overall.max(), 1.0)
        label = np.where(tied, rank[None, :], -np.inf).argmax(axis=1).astype(np.int64)
    else:
        noise = np.random.default_rng(seed).random(counts.shape)
        label = np.where(tied, noise, -1.0).argmax(axis=1).astype(np.int64)
    total = counts.sum(axis=1)
    share = np.divide(top, total, out=np.zeros(len(top)), where=total > 0)
    return label, tie, share


def _label_patterns(
    ann: Annotations, *, compress: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group items with the same labels from the same labelers (their posteriors are equal).

    Returns ``(inverse, weight, unit, labeler, label)``: each item's pattern, each pattern's number of
    items, and the patterns' annotations. With few labelers there are few patterns (at most
    (k + 1)^J), so EM runs on them instead of on every item; with many labelers every item is its own
    pattern.
    """
    base = ann.n_categories + 1
    if (
        compress and ann.n_labelers * np.log2(base) < 62
    ):  # a pattern packs into one int64: sum_j (code_j + 1) base^j
        dense = ann.dense(np.arange(ann.n_labelers)).astype(np.int64) + 1
        packed = dense @ (base ** np.arange(ann.n_labelers, dtype=np.int64))
        _, first, inverse, weight = np.unique(
            packed, return_index=True, return_inverse=True, return_counts=True
        )
        patterns = dense[first] - 1
        unit, labeler = np.nonzero(patterns >= 0)
        return (
            inverse.reshape(-1),
            weight.astype(np.float64),
            unit,
            labeler,
            patterns[unit, labeler].astype(np.int64),
        )
    return np.arange(ann.n_items), np.ones(ann.n_items), ann.item, ann.labeler, ann.label


def fitted_consensus(
    ann: Annotations,
    used: np.ndarray,
    posterior: np.ndarray,
    prior: np.ndarray,
    pi: np.ndarray,
    *,
    n_iter: int,
    converged: bool,
    log_likelihood: float,
    seconds: float,
    method: str,
    model_weight: float | None = None,
    prior_weight: float | None = None,
) -> Consensus:
    """The one builder of an EM consensus (full, regularised and model-assisted Dawid–Skene).

    EM runs on the ``used`` categories only (those some labeler gave): ``posterior`` is items x used,
    ``prior`` used, ``pi[j, true, said]`` labelers x used x used. They are spread back over every
    category (zero for the unused), the label is the most probable category and its probability the
    confidence; majority vote (ties abstain) is reported beside them.
    """
    n, k, nj = ann.n_items, ann.n_categories, ann.n_labelers
    majority, tie, share = majority_vote(ann.counts)
    full = np.zeros((n, k))
    full[:, used] = posterior
    confusion = np.zeros((nj, k, k))
    confusion[np.ix_(np.arange(nj), used, used)] = pi
    priors = np.zeros(k)
    priors[used] = prior
    return Consensus(
        label=used[posterior.argmax(axis=1)].astype(np.int64),
        confidence=posterior.max(axis=1),
        posterior=full,
        majority=majority,
        tie=tie,
        majority_share=share,
        priors=priors,
        confusion=confusion,
        n_iter=n_iter,
        converged=converged,
        log_likelihood=log_likelihood,
        seconds=seconds,
        method=method,
        model_weight=model_weight,
        prior_weight=prior_weight,
    )


def dawid_skene(
    ann: Annotations,
    *,
    max_iter: int = 500,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    compress: bool = True,
) -> Consensus:
    """Dawid & Skene (1979) EM: per-labeler confusion matrices and class priors, posterior per item.

    Initialised from majority-vote proportions. Items with identical labels from identical labelers
    share one posterior, so EM runs over these label patterns, weighted by how many items have each
    (the same iterations as item-by-item EM, much faster; ``compress=False`` runs item by item). Stops when no posterior moves by more than
    ``tol`` (or after ``max_iter`` iterations). ``smoothing`` is added to every confusion count and
    prior (a weak Dirichlet prior) so that a class a labeler never used does not give log(0).
    """
    start = time.perf_counter()
    n, j_count, k = ann.n_items, ann.n_labelers, ann.n_categories
    used = np.flatnonzero(ann.counts.sum(axis=0) > 0)
    ku = len(used)
    remap = np.full(k, -1, dtype=np.int64)
    remap[used] = np.arange(ku)
    inverse, weight, unit, lab, label = _label_patterns(ann, compress=compress)
    lbl = remap[label]
    n_units, r = len(weight), len(unit)
    ones = np.ones(r)
    by_unit = sparse.csr_matrix((ones, (unit, np.arange(r))), shape=(n_units, r))
    # Rows (labeler, said), columns annotations, weighted by the items each pattern stands for.
    by_labeler_label = sparse.csr_matrix(
        (weight[unit], (lab * ku + lbl, np.arange(r))), shape=(j_count * ku, r)
    )

    t = np.zeros((n_units, ku))
    np.add.at(t, (unit, lbl), 1.0)
    t /= t.sum(axis=1, keepdims=True)
    converged, n_iter, ll = False, 0, float("nan")
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported
        prior = (weight @ t + smoothing) / (n + ku * smoothing)
        cnt = (
            np.asarray(by_labeler_label @ t[unit]).reshape(j_count, ku, ku).transpose(0, 2, 1)
        )  # [j, true, said]
        pi = (cnt + smoothing) / (cnt.sum(axis=2, keepdims=True) + ku * smoothing)
        contrib = np.log(pi)[lab, :, lbl]  # annotations x true class
        log_post = np.asarray(by_unit @ contrib) + np.log(prior)
        top = log_post.max(axis=1, keepdims=True)
        norm = top + np.log(np.exp(log_post - top).sum(axis=1, keepdims=True))
        ll = float(weight @ norm[:, 0])
        t_new = np.exp(log_post - norm)
        delta = float(np.abs(t_new - t).max())
        t = t_new
        if delta < tol:
            converged = True
            break
    return fitted_consensus(
        ann,
        used,
        t[inverse],
        prior,
        pi,
        n_iter=n_iter,
        converged=converged,
        log_likelihood=ll,
        seconds=time.perf_counter() - start,
        method="Dawid–Skene",
    )


ConsensusMethod = Literal["auto", "regularised", "model_assisted", "dawid_skene"]


def consensus(
    ann: Annotations,
    *,
    method: ConsensusMethod = "auto",
    proba: np.ndarray | None = None,
    max_iter: int | None = None,
    tol: float | None = None,
) -> Consensus:
    """The labelers' consensus when labels overlap; otherwise each item's own (majority) label.

    ``method``: ``"regularised"`` — Dawid–Skene with one-coin priors, for sparse crowds
    (:func:`explore.labels.aggregate.regularised_dawid_skene`); ``"model_assisted"`` — the same with
    each item's prior from a model's out-of-sample probabilities ``proba`` (items x model classes),
    weighted by evidence; ``"dawid_skene"`` — full Dawid–Skene, one free confusion matrix per labeler;
    ``"auto"`` (default) — model-assisted when ``proba`` is given, else regularised. The default is
    chosen by benchmarks/bench_crowd.py: on simulated sparse crowds model-assisted had the best
    consensus accuracy and trust ranking of every method compared, and regularised beat full
    Dawid–Skene without a model. ``result.method`` names the method used; ``result.converged``
    says whether EM converged within ``max_iter`` (default: enough for these crowds).
    """
    from explore.labels import aggregate

    _check_choice("method", method, ("auto", "regularised", "model_assisted", "dawid_skene"))
    if method == "model_assisted" and proba is None:
        raise AnalysisError(
            "The model-assisted consensus needs the model's out-of-sample probabilities of the annotated "
            "items (proba); received none. Choose a model view on the Labels page, or method='regularised'."
        )
    if ann.has_overlap:
        it = {"max_iter": max_iter or aggregate.DEFAULT_MAX_ITER, "tol": tol or aggregate.DEFAULT_TOL}
        if method == "dawid_skene":
            return dawid_skene(ann, **it)
        if method == "model_assisted" or (method == "auto" and proba is not None):
            return aggregate.model_assisted_consensus(ann, proba, **it)
        return aggregate.regularised_dawid_skene(ann, **it)
    start = time.perf_counter()
    majority, tie, share = majority_vote(ann.counts)
    label = np.where(tie, ann.counts.argmax(axis=1), majority).astype(np.int64)
    posterior = ann.counts / ann.counts.sum(axis=1, keepdims=True)
    k = ann.n_categories
    return Consensus(
        label=label,
        confidence=np.full(ann.n_items, np.nan),
        posterior=posterior,
        majority=majority,
        tie=tie,
        majority_share=share,
        priors=np.bincount(label, minlength=k) / max(ann.n_items, 1),
        confusion=np.full((ann.n_labelers, k, k), np.nan),
        n_iter=0,
        converged=True,
        log_likelihood=float("nan"),
        seconds=time.perf_counter() - start,
        method="single label",
    )


def consensus_description(cons: Consensus) -> str:
    """One line saying which method produced ``cons`` and whether it converged, for the page."""
    if cons.method == "single label":
        return "each item's own label (labels do not overlap, so there is nothing to estimate)"
    text = cons.method
    if cons.model_weight is not None:
        text += (
            " (the model's probabilities were not used: they did not help explain the labels)"
            if cons.model_weight == 0
            else f" (each item's prior ∝ model probability^{cons.model_weight:.2f} × class share^"
            f"{cons.prior_weight if cons.prior_weight is not None else 1 - cons.model_weight:.2f}, "
            "the weights that best explain the labels)"
        )
    if not cons.converged:
        text += (
            f"; EM stopped after {cons.n_iter} iterations before converging, so treat confidences as rough"
        )
    return text


def confidence_summary(cons: Consensus) -> dict[str, float]:
    """How confident the consensus is: the share of items at ≥ 0.9, between 0.5 and 0.9 and below 0.5,
    and the median (NaN shares when there is no estimate, i.e. labels do not overlap)."""
    c = cons.confidence
    if not len(c) or np.isnan(c).all():
        return {"high": np.nan, "medium": np.nan, "low": np.nan, "median": np.nan}
    return {
        "high": float((c >= 0.9).mean()),
        "medium": float(((c >= 0.5) & (c < 0.9)).mean()),
        "low": float((c < 0.5).mean()),
        "median": float(np.median(c)),
    }


# ---- labeler trust --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LabelerTrust:
    """How far each labeler can be trusted.

    ``table`` has one row per labeler: ``labeler``, ``items`` (items labeled: the labels behind every
    estimate), ``accuracy`` (their accuracy as a labeler: the posterior mean under a one-coin
    likelihood of their labels, each judged against the rest of the item's evidence, and a Beta prior of
    the crowd's accuracies fitted by empirical Bayes (``explore.labels.aggregate.trust_intervals``), so a
    labeler with 3 labels is not rated 0 % or 100 %), ``accuracy_low`` / ``accuracy_high`` (its 95 % Beta interval), ``right_on_labels`` (the expected share
    of the labels they gave that are right, unshrunk: about those labels, not their next ones), ``agreement_consensus`` (share equal to
    the consensus label), ``agreement_others`` (share equal to the majority of the *other* labelers on
    the item, over items where those others have a strict majority), ``weakest_class`` /
    ``weakest_recall`` (the class with the lowest estimated recall among classes they saw at least
    ``MIN_CLASS_SUPPORT`` times), ``flagged`` (accuracy or weakest recall below ``threshold``).
    ``confusion[j]`` is labeler j's estimated confusion matrix (rows: true class, columns: their label),
    ``observed[j]`` their counts against the consensus.
    """

    table: pd.DataFrame
    confusion: np.ndarray
    observed: np.ndarray
    categories: np.ndarray
    threshold: float


def labeler_trust(
    ann: Annotations, cons: Consensus, *, threshold: float = DEFAULT_TRUST_THRESHOLD
) -> LabelerTrust:
    """Per-labeler accuracy, recall per class and agreement (see :class:`LabelerTrust`)."""
    if not ann.has_overlap:
        raise AnalysisError(
            NEEDS_OVERLAP.format(what="Labeler trust", n_labelers=ann.n_labelers, n_multi=ann.n_multi)
        )
    if not 0 <= threshold <= 1:
        raise AnalysisError(
            BAD_OPTION.format(what="The trust threshold", allowed="between 0 and 1", received=threshold)
        )
    j_count, k = ann.n_labelers, ann.n_categories
    item, lab, lbl = ann.item, ann.labeler, ann.label
    n_j = np.bincount(lab, minlength=j_count).astype(np.float64)
    from explore.labels.aggregate import trust_intervals

    shrunk = trust_intervals(ann, cons)
    agree_cons = np.bincount(lab, weights=(lbl == cons.label[item]).astype(float), minlength=j_count) / n_j

    # Majority of the other labelers on the same item (leave-one-out).
    others = ann.counts[item].copy()
    others[np.arange(len(item)), lbl] -= 1
    top = others.max(axis=1)
    strict = (top > 0) & ((others == top[:, None]).sum(axis=1) == 1)
    agree = (others.argmax(axis=1) == lbl) & strict
    n_strict = np.bincount(lab, weights=strict.astype(float), minlength=j_count)
    agree_others = np.divide(
        np.bincount(lab, weights=agree.astype(float), minlength=j_count),
        n_strict,
        out=np.full(j_count, np.nan),
        where=n_strict > 0,
    )

    # Expected items of each true class per labeler, and estimated recall per class.
    post = cons.posterior[item]
    support = np.column_stack([np.bincount(lab, weights=post[:, c], minlength=j_count) for c in range(k)])
    recall = np.einsum("jcc->jc", cons.confusion)
    recall_eligible = np.where(support >= MIN_CLASS_SUPPORT, recall, np.inf)
    weakest = recall_eligible.argmin(axis=1)
    weakest_recall = recall_eligible[np.arange(j_count), weakest]
    has_weakest = np.isfinite(weakest_recall)
    flat = (lab * k + cons.label[item]) * k + lbl
    observed = np.bincount(flat, minlength=j_count * k * k).reshape(j_count, k, k)

    table = pd.DataFrame(
        {
            "labeler": ann.labelers,
            "items": n_j.astype(np.int64),
            "accuracy": shrunk.estimate,
            "accuracy_low": shrunk.low,
            "accuracy_high": shrunk.high,
            "right_on_labels": shrunk.on_labels,
            "agreement_consensus": agree_cons,
            "agreement_others": agree_others,
            "weakest_class": np.where(has_weakest, ann.categories[weakest], None),
            "weakest_recall": np.where(has_weakest, weakest_recall, np.nan),
        }
    )
    table["flagged"] = (table["accuracy"] < threshold) | (table["weakest_recall"].fillna(1.0) < threshold)
    return LabelerTrust(
        table=table,
        confusion=cons.confusion,
        observed=observed,
        categories=ann.categories,
        threshold=threshold,
    )


# ---- out-of-sample probabilities ------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ItemProbabilities:
    """A model's view of the annotated items.

    ``proba``: items x model classes (the workspace's class order), or None when only predictions exist;
    ``pred``: predicted category code per item. ``method``: "model" (a saved model version),
    "cross_val" (out-of-fold predictions of refitted clones) or "columns" (predictions in the data).
    """

    proba: np.ndarray | None
    pred: np.ndarray
    method: str
    model: str | None
    description: str
    seconds: float
    n_splits: int = 0
    n_train_rows: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (probabilities as nested lists) for the store."""
        return {
            "proba": None if self.proba is None else self.proba.tolist(),
            "pred": self.pred.tolist(),
            **{
                k: getattr(self, k)
                for k in ("method", "model", "description", "seconds", "n_splits", "n_train_rows")
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ItemProbabilities:
        return cls(
            proba=None if data["proba"] is None else np.asarray(data["proba"], dtype=np.float64),
            pred=np.asarray(data["pred"], dtype=np.int64),
            **{k: data[k] for k in ("method", "model", "description", "seconds", "n_splits", "n_train_rows")},
        )


def _align(proba: np.ndarray, model_classes: np.ndarray, ws_classes: np.ndarray) -> np.ndarray:
    """Columns of ``proba`` (in ``model_classes`` order) reordered to ``ws_classes``; zeros for absent ones."""
    keys = text_keys(pd.Series(model_classes, dtype=object))
    idx = pd.Index(keys).get_indexer(pd.Index(text_keys(pd.Series(ws_classes, dtype=object))))
    out = np.zeros((proba.shape[0], len(ws_classes)))
    ok = idx >= 0
    out[:, ok] = proba[:, idx[ok]]
    return out


def _codes(values: np.ndarray, ann: Annotations) -> np.ndarray:
    keys = text_keys(pd.Series(ann.categories, dtype=object))
    return (
        pd.Index(keys)
        .get_indexer(pd.Index(text_keys(pd.Series(values, dtype=object)).fillna("\x00")))
        .astype(np.int64)
    )


def model_probabilities(ws: Workspace, ann: Annotations, *, model: str | None) -> ItemProbabilities:
    """Class probabilities of model version ``model`` on the annotated items.

    Out-of-sample only if that version never trained on these items (a previous version, or a model
    trained before the items existed). ``model=None`` (or a predictions-only workspace) uses the
    prediction / score columns already in the data. Raises AnalysisError when there is nothing to use.
    """
    start = time.perf_counter()
    frame = ws.dataset(ann.dataset).iloc[ann.rows]
    if model is not None and ws.models:
        if model not in ws.models:
            raise AnalysisError(UNKNOWN_MODEL.format(model=model, known=", ".join(ws.models)))
        est = ws.model(model)
        pred_raw, proba = predict_frame(est, frame[ws.feature_names], model_name=model, dataset=ann.dataset)
        if proba is not None:
            proba = _align(proba, np.asarray(est.classes_), ws.classes)
        return ItemProbabilities(
            proba=proba,
            pred=_codes(np.asarray(pred_raw, dtype=object), ann),
            method="model",
            model=model,
            description=f"model '{model}'",
            seconds=time.perf_counter() - start,
        )
    cols = ws.columns
    proba = None
    if cols.score and ws.task == "binary":
        s = pd.to_numeric(frame[cols.score], errors="coerce").to_numpy(dtype="float64")
        if np.nanmin(s) >= 0 and np.nanmax(s) <= 1:
            proba = np.empty((len(s), 2))
            proba[:, ws.positive_index] = s
            proba[:, 1 - ws.positive_index] = 1 - s
    elif cols.scores:
        score_keys = text_keys(pd.Series(list(cols.scores), dtype=object)).tolist()
        proba = np.column_stack(
            [
                pd.to_numeric(
                    frame[cols.scores[list(cols.scores)[score_keys.index(k)]]], errors="coerce"
                ).to_numpy(dtype="float64")
                if k in score_keys
                else np.zeros(len(frame))
                for k in text_keys(pd.Series(ws.classes, dtype=object)).tolist()
            ]
        )
    if proba is not None:
        proba = np.nan_to_num(proba, nan=1.0 / proba.shape[1])
    if cols.prediction:
        pred = _codes(frame[cols.prediction].to_numpy(dtype=object), ann)
    elif cols.score and ws.task == "binary" and proba is None:
        s = pd.to_numeric(frame[cols.score], errors="coerce").to_numpy(dtype="float64")
        pred = np.where(s >= 0.5, ws.positive_index, 1 - ws.positive_index).astype(np.int64)
    elif proba is not None:
        pred = proba.argmax(axis=1).astype(np.int64)
    else:
        raise AnalysisError(NO_PROBABILITIES)
    return ItemProbabilities(
        proba=proba,
        pred=pred,
        method="columns",
        model=None,
        description="the prediction columns in the data",
        seconds=time.perf_counter() - start,
    )


def cross_validated_probabilities(
    ws: Workspace,
    ann: Annotations,
    *,
    model: str = "current",
    n_splits: int = 5,
    max_rows: int = 20_000,
    seed: int = 0,
    progress: Progress | None = None,
) -> ItemProbabilities:
    """Out-of-fold probabilities of clones of ``model`` refitted on the annotation dataset's labels.

    Use when the annotated items were in the model's training data (its own scores on them are
    in-sample and hide label errors). Training rows: the annotated items that have a label in the
    dataset, plus a random sample of its other labeled rows, ``max_rows`` in all. The rows are split
    into ``n_splits`` stratified folds (shuffled with ``seed``); each fold is predicted by a clone of the
    model fitted on the other folds — what ``sklearn.model_selection.cross_val_predict`` computes.
    Annotated items outside the training rows get the average of the fold models' probabilities.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold

    start = time.perf_counter()
    report = progress or no_progress
    if not ws.models:
        raise AnalysisError(CV_NEEDS_MODEL)
    if model not in ws.models:
        raise AnalysisError(UNKNOWN_MODEL.format(model=model, known=", ".join(ws.models)))
    est = ws.model(model)
    if not hasattr(est, "predict_proba"):
        raise AnalysisError(
            f"Model '{model}' has no predict_proba, so its clones give no probabilities to rank the queue by. "
            "Choose a model version with predict_proba."
        )
    data = ws.dataset(ann.dataset)
    y_all = data[ws.columns.label]
    labeled = np.flatnonzero(y_all.notna().to_numpy())
    ann_labeled = np.intersect1d(ann.rows, labeled)
    rng = np.random.default_rng(seed)
    if len(ann_labeled) >= max_rows:
        train_rows = np.sort(rng.choice(ann_labeled, size=max_rows, replace=False))
    else:
        others = np.setdiff1d(labeled, ann_labeled)
        extra = rng.choice(others, size=min(len(others), max_rows - len(ann_labeled)), replace=False)
        train_rows = np.sort(np.concatenate([ann_labeled, extra]))
    y = y_all.to_numpy()[train_rows]
    counts = pd.Series(y).value_counts()
    if len(train_rows) < 2 * n_splits or counts.min() < 2:
        raise AnalysisError(
            CV_TOO_FEW.format(
                needed=2 * n_splits, dataset=ann.dataset, n=len(train_rows), smallest=int(counts.min())
            )
        )
    n_splits = int(min(n_splits, counts.min()))
    X = data[ws.feature_names].iloc[train_rows]
    Xin: Any = X if hasattr(est, "feature_names_in_") else X.to_numpy()
    k = len(ws.classes)
    oof = np.zeros((len(train_rows), k))
    in_train = np.isin(ann.rows, train_rows)
    rest = ann.rows[~in_train]
    X_rest = data[ws.feature_names].iloc[rest]
    X_rest_in: Any = X_rest if hasattr(est, "feature_names_in_") else X_rest.to_numpy()
    rest_proba = np.zeros((len(rest), k))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)

    def part(idx: np.ndarray) -> Any:
        return Xin.iloc[idx] if isinstance(Xin, pd.DataFrame) else Xin[idx]

    for f, (tr, te) in enumerate(folds.split(np.zeros(len(y)), y)):
        report(f / n_splits, f"Fitting fold {f + 1} of {n_splits} ({len(tr):,} rows)…")
        try:
            fitted = clone(est).fit(part(tr), y[tr])
            oof[te] = _align(fitted.predict_proba(part(te)), np.asarray(fitted.classes_), ws.classes)
            if len(rest):
                rest_proba += (
                    _align(fitted.predict_proba(X_rest_in), np.asarray(fitted.classes_), ws.classes)
                    / n_splits
                )
        except ExploreError:
            raise
        except Exception as exc:  # noqa: BLE001 - a third-party estimator can fail in any way: say which model and why
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(CV_FIT_FAILED.format(model=model, reason=reason)) from None
    report(1.0, "Cross-validation done.")
    proba = np.zeros((ann.n_items, k))
    proba[in_train] = oof[np.searchsorted(train_rows, ann.rows[in_train])]
    proba[~in_train] = rest_proba
    return ItemProbabilities(
        proba=proba,
        pred=proba.argmax(axis=1).astype(np.int64),
        method="cross_val",
        model=model,
        description=f"{n_splits}-fold cross-validated clones of model '{model}' ({len(train_rows):,} rows)",
        seconds=time.perf_counter() - start,
        n_splits=n_splits,
        n_train_rows=len(train_rows),
    )


# ---- the ranked queue -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Queue:
    """Annotated items ranked by how likely the label under review is wrong (highest ``score`` first).

    ``frame`` columns: ``item`` (index into the annotations' items), ``id``, ``key`` (id as text),
    ``rank`` (1 = first to review), ``score`` in [0, 1] (with ``combine="posterior"``: the estimated
    probability that the label under review is wrong), ``label`` (the label under review),
    ``label_source`` ("dataset" or "consensus"), ``consensus``, ``consensus_confidence``, ``majority``
    (None on ties), ``tie``, ``n_labels``, ``agreement`` (share of the item's labelers who gave the label
    under review), ``model_pred``, ``model_p_label`` (the model's probability of the label under
    review), ``model_disagreement`` (1 - that probability, or the normalised margin; 1/0 from
    predictions alone) and ``batch``.
    """

    frame: pd.DataFrame
    review: str
    combine: str
    model_weight: float
    model_score: str
    probability_source: str | None
    notes: tuple[str, ...] = ()
    consensus_method: str = ""  # which method produced the consensus column (see consensus_description)


def _labeler_log_likelihood(ann: Annotations, cons: Consensus) -> np.ndarray:
    """items x categories: log P(the item's labels | true class), from the Dawid–Skene confusion matrices."""
    log_conf = np.log(np.clip(cons.confusion, 1e-300, None))
    contrib = log_conf[ann.labeler, :, ann.label]  # annotations x true class
    return np.column_stack(
        [np.bincount(ann.item, weights=contrib[:, c], minlength=ann.n_items) for c in range(ann.n_categories)]
    )


def rank_queue(
    ann: Annotations,
    cons: Consensus,
    probs: ItemProbabilities | None,
    *,
    review: ReviewTarget = "dataset",
    combine: Combine = "posterior",
    model_weight: float = 1.0,
    model_score: ModelScore = "self_confidence",
) -> Queue:
    """Rank the annotated items for spot checks.

    ``review="dataset"`` checks the dataset's label column (items without a dataset label fall back to
    the consensus); ``"consensus"`` checks the labelers' consensus.

    ``combine="posterior"`` (needs overlapping labels): the model's probabilities act as the prior of
    each item's true class and the labelers' Dawid–Skene confusion matrices as the likelihood of what
    they said: log P(c) = w log p_model(c) + (1 - w) log prior(c) + sum_labelers log pi_j[c, said_j],
    normalised; ``score`` = 1 - P(label under review). ``w`` is ``model_weight`` (0: labelers only) times
    the weight a model-assisted consensus chose by evidence (``cons.model_weight``), so the default 1
    gives the model the weight that consensus gave it: with ``review="consensus"`` the score is then
    (up to the class prior's estimate) 1 − the consensus's confidence, which ranked wrong consensus labels best of the scores studied in benchmarks/bench_crowd.py.
    Categories the model does not know get their Dawid–Skene prior.

    ``combine="blend"``: ``score = w * model_disagreement + (1 - w) * (1 - agreement)``, where
    ``model_disagreement`` is 1 - p_model(label) (``model_score="self_confidence"``) or the normalised
    margin (max_{c != label} p_c - p_label + 1) / 2 (``"margin"``). Used whenever labels do not
    overlap (one labeler, or one label per item) — then it is the model-vs-label ranking.

    Ties are broken by the model term, then by dataset order.
    """
    _check_choice("review", review, ("dataset", "consensus"))
    _check_choice("combine", combine, ("posterior", "blend"))
    _check_choice("model_score", model_score, ("self_confidence", "margin"))
    if not 0 <= model_weight <= 1:
        raise AnalysisError(
            BAD_OPTION.format(what="The model weight", allowed="between 0 and 1", received=model_weight)
        )
    notes: list[str] = []
    n, k, km = ann.n_items, ann.n_categories, ann.n_model_classes
    rows = np.arange(n)
    if review == "dataset":
        label = ann.dataset_label.copy()
        source = np.where(label >= 0, "dataset", "consensus").astype(object)
        missing = label < 0
        if missing.any():
            notes.append(
                f"{int(missing.sum())} items have no label in the dataset: their consensus label is reviewed."
            )
            label[missing] = cons.label[missing]
    else:
        label = cons.label.copy()
        source = np.full(n, "consensus", dtype=object)
    agree = ann.counts[rows, label] / np.maximum(ann.n_labels, 1)

    # The model's own view: its probability of the label under review, and a disagreement term.
    has_proba = probs is not None and probs.proba is not None
    in_model = label < km
    model_term = np.full(n, np.nan)
    p_label = np.full(n, np.nan)
    if has_proba:
        p = probs.proba
        p_label[in_model] = p[rows[in_model], label[in_model]]
        if model_score == "self_confidence":
            model_term = 1.0 - p_label
        else:
            other = p.copy()
            other[rows[in_model], label[in_model]] = -np.inf
            model_term = np.where(in_model, (other.max(axis=1) - np.nan_to_num(p_label) + 1.0) / 2.0, np.nan)
    elif probs is not None:
        notes.append(
            "The model gives predictions without probabilities: its term is 1 where it disagrees, else 0."
        )
        model_term = np.where(in_model & (probs.pred >= 0), (probs.pred != label).astype(float), np.nan)
    else:
        notes.append("No model predictions: the queue ranks by the labelers alone.")
    if probs is not None and (~in_model).any():
        notes.append(f"{int((~in_model).sum())} items have a label the model does not know.")

    if combine == "posterior" and cons.method == "single label":
        notes.append("Labels do not overlap, so there is no Dawid–Skene estimate: the queue blends instead.")
        combine = "blend"
    w = model_weight if probs is not None else 0.0
    if combine == "posterior":
        if probs is not None and not has_proba:
            notes.append(
                "Without model probabilities the posterior uses the labelers alone (model weight 0)."
            )
            w = 0.0
        from explore.labels.aggregate import model_log_prior

        # Over the categories the consensus used; the model enters as in the model-assisted consensus,
        # at w times the weight its evidence chose (w = 1: that weight).
        used = np.flatnonzero(cons.priors > 0)
        # The class prior's weight moves from 1 (labelers only) to the consensus's v as w goes 0 → 1.
        w_eff = w * (cons.model_weight if cons.model_weight is not None else 1.0)
        v_eff = 1.0 - w * (1.0 - cons.prior_weight) if cons.prior_weight is not None else 1.0 - w_eff
        proba = probs.proba if w_eff > 0 else np.ones((n, km)) / max(km, 1)
        log_post = np.full((n, k), -np.inf)
        log_post[:, used] = _labeler_log_likelihood(ann, cons)[:, used] + model_log_prior(
            proba, cons.priors[used], used, km, w_eff, v_eff
        )
        log_post -= logsumexp(log_post, axis=1, keepdims=True)
        score = 1.0 - np.exp(log_post[rows, label])
    else:
        score = np.where(
            np.isnan(model_term), 1.0 - agree, w * np.nan_to_num(model_term) + (1 - w) * (1.0 - agree)
        )
    score = np.clip(score, 0.0, 1.0)
    order = np.lexsort((rows, -np.nan_to_num(model_term, nan=-1.0), -score))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(1, n + 1)
    frame = pd.DataFrame(
        {
            "item": rows,
            "id": ann.item_ids,
            "key": ann.item_keys,
            "rank": rank,
            "score": score,
            "label": ann.categorical(label),
            "label_source": pd.Categorical(source, categories=["dataset", "consensus"]),
            "consensus": ann.categorical(cons.label),
            "consensus_confidence": cons.confidence,
            "majority": ann.categorical(cons.majority),
            "tie": cons.tie,
            "n_labels": ann.n_labels,
            "agreement": agree,
            "model_pred": ann.category_values(probs.pred)
            if probs is not None
            else np.full(n, None, dtype=object),
            "model_p_label": p_label,
            "model_disagreement": model_term,
            "batch": ann.item_batch if ann.item_batch is not None else np.full(n, None, dtype=object),
        }
    )
    return Queue(
        frame=frame.iloc[order].reset_index(drop=True),
        review=review,
        combine=combine,
        model_weight=w,
        model_score=model_score,
        probability_source=probs.description if probs is not None else None,
        notes=tuple(notes),
        consensus_method=consensus_description(cons),
    )


def filter_queue(
    queue: Queue,
    ann: Annotations,
    *,
    classes: Sequence[Any] | None = None,
    labelers: Sequence[str] | None = None,
    batches: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The queue's rows (still ranked) whose label under review is in ``classes``, that any of
    ``labelers`` labeled, and that were labeled in any of ``batches`` (None or empty: no filter)."""
    frame = queue.frame
    mask = np.ones(len(frame), dtype=bool)
    if classes:
        wanted = set(text_keys(pd.Series(list(classes), dtype=object)).tolist())
        mask &= text_keys(frame["label"]).isin(wanted).to_numpy()
    if labelers or batches:
        mask &= ann.items_of(labelers=labelers, batches=batches)[frame["item"].to_numpy()]
    return frame.loc[mask]


def planted_recall(queue_frame: pd.DataFrame, error_keys: Sequence[str], k: int) -> float:
    """Share of known label errors (item keys) found among the first ``k`` rows of a ranked queue."""
    errors = set(map(str, error_keys))
    if not errors:
        return float("nan")
    return len(errors & set(queue_frame["key"].astype(str).head(k))) / len(errors)
