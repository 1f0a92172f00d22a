"""Label spot-check sessions on top of the store: plan, record verdicts, resume, summarise, export.

A session freezes what it reviews when it is created (item ids, the label under review, the stratum,
each labeler's answer, the consensus and the model's view), so its summary does not change when the
annotation file or the dataset does. Every verdict is one append-only row in the store, written the
moment it is given; the current verdict on an item is its newest row.

Two kinds of session (the store's ``mode``):

- ``"queue"``: the top k items of the ranked queue. It measures the queue's *precision* (the share of
  flagged items whose label really was wrong) — never an error rate, because the items were chosen for
  looking wrong.
- ``"random"``: a random sample, stratified by the class of the label under review. It estimates the
  error rate of the label column over the population it was drawn from, with stratum weights
  N_h / N and a confidence interval.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sqlalchemy import func, select

from explore.core.store import Store, from_row, verdicts
from explore.errors import AnalysisError
from explore.labels.crowd import Annotations, natural_key, text_keys
from explore.report.csv import csv_bytes
from explore.report.markdown import markdown_table, md_escape

MODES = ("queue", "random")
VERDICT_CHOICES = ("correct", "wrong", "unsure")
DEFAULT_CONFIDENCE = 0.95
MIN_PER_STRATUM = 5
NO_ROWS = "_(none)_"  # a Markdown table without rows

# ---- messages (format with keyword arguments) -----------------------------------------------------

EMPTY_QUEUE = (
    "The queue has no items to review (received 0 rows after the filters). Clear a filter and try again."
)
BAD_SIZE = "A session needs between 1 and {n} items (the items available); received {received!r}."
NO_NAME = "Give the session a name (received an empty name), e.g. 'spot check 2024-W03'."
NO_REVIEWER = "Say who is reviewing (received an empty reviewer name): type your name, or sign in."
SESSION_NOT_FOUND = "There is no review session with id {id}. Pick one from the list of past sessions."
UNKNOWN_ITEM = "Item {key!r} is not part of session {session!r} ({n} items). Pick an item of this session."
BAD_VERDICT = "A verdict must be one of {allowed}; received {received!r}."
WRONG_NEEDS_LABEL = (
    "A 'label wrong' verdict needs the correct label, different from the current label {label!r}; received "
    "{received!r}. Choose the correct label (one of {choices})."
)
NOT_A_CLASS = (
    "A corrected label must be a class of the model ({choices}); received {received!r}, an answer labelers gave "
    "that is not a class. Choose one of the classes (or give the verdict 'unsure' without a correction)."
)
CORRECT_NO_LABEL = (
    "A 'label correct' verdict keeps the label {label!r}; received a corrected label {received!r}."
)


# ---- planning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionItems:
    """What a session reviews, frozen at creation. Lists are aligned, one entry per item, in review order.

    ``keys``: item ids as text; ``labels``: the label under review (text); ``strata``: each item's
    stratum (the class of its label) for random sessions, else None; ``population``: stratum -> number
    of items it was drawn from (N_h); ``answers``: each item's labels by labeler; ``categories``: the
    label values the annotations hold: the model's classes first (``n_classes`` of them), then values labelers
    gave that are not classes (e.g. "unsure"). A correction takes one of ``classes``; the others stay visible
    as what a labeler said. ``n_classes`` None (a session saved before it was kept): every category.
    """

    keys: list[str]
    labels: list[str]
    strata: list[str] | None
    population: dict[str, int]
    answers: list[dict[str, str]]
    consensus: list[str | None]
    model_pred: list[str | None]
    model_p_label: list[float | None]
    score: list[float]
    rank: list[int]
    categories: list[str]
    n_classes: int | None = None

    @property
    def classes(self) -> list[str]:
        """The values a correction can take: the model's classes (every category when it has none)."""
        return self.categories[: self.n_classes] if self.n_classes else list(self.categories)

    @property
    def not_classes(self) -> list[str]:
        """Values labelers gave that are not classes of the model (shown as answers, never a correction)."""
        return self.categories[len(self.classes) :]

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionItems:
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


def _text(values: Any) -> list[str | None]:
    out = text_keys(pd.Series(list(values), dtype=object))
    return [None if v is pd.NA else str(v) for v in out.tolist()]


def _finite(values: Any) -> list[float | None]:
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def _items(
    queue_frame: pd.DataFrame, ann: Annotations, strata: list[str] | None, population: dict[str, int]
) -> SessionItems:
    answers = ann.answer_dicts(queue_frame["item"].to_numpy())
    return SessionItems(
        keys=[str(k) for k in queue_frame["key"].tolist()],
        labels=_text(queue_frame["label"]),
        strata=strata,
        population=population,
        answers=answers,
        consensus=_text(queue_frame["consensus"]),
        model_pred=_text(queue_frame["model_pred"]),
        model_p_label=_finite(queue_frame["model_p_label"]),
        score=_finite(queue_frame["score"]),
        rank=[int(r) for r in queue_frame["rank"]],
        categories=[str(c) for c in _text(ann.categories)],
        n_classes=int(ann.n_model_classes),
    )


def plan_top_k(queue_frame: pd.DataFrame, ann: Annotations, *, k: int) -> SessionItems:
    """The first ``k`` rows of a ranked queue (after any filters), in rank order."""
    n = len(queue_frame)
    if n == 0:
        raise AnalysisError(EMPTY_QUEUE)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= n:
        raise AnalysisError(BAD_SIZE.format(n=n, received=k))
    return _items(queue_frame.head(int(k)), ann, None, {"all": n})


def allocate(population: dict[str, int], n: int, *, min_per_stratum: int = MIN_PER_STRATUM) -> dict[str, int]:
    """Sample sizes per stratum that sum to ``n``: proportional to N_h, but at least
    ``min(min_per_stratum, N_h)`` (so that a rare class is reviewed at all) and at most N_h; rounded by
    largest remainders. When ``n`` cannot give every stratum its floor, ``n`` is spread evenly."""
    names = list(population)
    sizes = {s: int(population[s]) for s in names}
    n = int(min(n, sum(sizes.values())))
    floor = {s: min(sizes[s], min_per_stratum) for s in names}
    if sum(floor.values()) > n:
        alloc = dict.fromkeys(names, 0)
        for _ in range(n):
            open_ = [s for s in names if alloc[s] < sizes[s]]
            alloc[min(open_, key=lambda s: alloc[s])] += 1
        return alloc
    fixed: dict[str, float] = {}
    free = [s for s in names if sizes[s] > 0]
    while free:
        left = n - sum(fixed.values())
        total = sum(sizes[s] for s in free)
        target = {s: left * sizes[s] / total for s in free}
        clipped = {
            s: float(floor[s]) if target[s] < floor[s] else float(sizes[s])
            for s in free
            if not floor[s] <= target[s] <= sizes[s]
        }
        if not clipped:
            fixed.update(target)
            break
        fixed.update(clipped)
        free = [s for s in free if s not in clipped]
    alloc = {s: int(np.floor(fixed.get(s, 0.0) + 1e-9)) for s in names}
    short = n - sum(alloc.values())
    for s in sorted(names, key=lambda s: -(fixed.get(s, 0.0) - alloc[s])):
        if short <= 0:
            break
        if alloc[s] < sizes[s]:
            alloc[s] += 1
            short -= 1
    return alloc


def plan_random_sample(
    queue_frame: pd.DataFrame,
    ann: Annotations,
    *,
    n: int,
    seed: int = 0,
    stratify: bool = True,
    min_per_stratum: int = MIN_PER_STRATUM,
) -> SessionItems:
    """A simple random sample of ``n`` rows of ``queue_frame`` (the population), stratified by the class
    of the label under review when ``stratify``. Sizes per stratum come from :func:`allocate`; the review
    order is shuffled across strata so that a session stopped half-way is still a random sample of each
    stratum."""
    size = len(queue_frame)
    if size == 0:
        raise AnalysisError(EMPTY_QUEUE)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= size:
        raise AnalysisError(BAD_SIZE.format(n=size, received=n))
    rng = np.random.default_rng(seed)
    stratum = (
        np.asarray(_text(queue_frame["label"]), dtype=object)
        if stratify
        else np.full(size, "all", dtype=object)
    )
    stratum = np.where(pd.isna(stratum), "(none)", stratum)
    names, counts = np.unique(stratum.astype(str), return_counts=True)
    population = {str(s): int(c) for s, c in zip(names, counts, strict=True)}
    alloc = allocate(population, int(n), min_per_stratum=min_per_stratum if stratify else 0)
    picked = [
        rng.choice(np.flatnonzero(stratum == s), size=alloc[s], replace=False) for s in population if alloc[s]
    ]
    chosen = rng.permutation(np.concatenate(picked))
    return _items(queue_frame.iloc[chosen], ann, [str(stratum[i]) for i in chosen], population)


def create_session(
    store: Store,
    *,
    workspace: str,
    dataset: str,
    name: str,
    reviewer: str,
    mode: str,
    items: SessionItems,
    params: dict[str, Any],
) -> int:
    """Store a new open session over ``items``; return its id. ``params`` records how the items were
    chosen (label column, id column, queue settings, filters, sample size, seed)."""
    if mode not in MODES:
        raise AnalysisError(f"A session mode must be one of {', '.join(MODES)}; received {mode!r}.")
    if not name.strip():
        raise AnalysisError(NO_NAME)
    if not reviewer.strip():
        raise AnalysisError(NO_REVIEWER)
    return store.create_session(
        workspace=workspace,
        dataset=dataset,
        name=name.strip(),
        reviewer=reviewer.strip(),
        mode=mode,
        params=params,
        items=items.to_json(),
    )


# ---- sessions and verdicts ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ReviewSession:
    """A session as stored, with its current verdicts (one per reviewed item, the newest)."""

    id: int
    name: str
    reviewer: str
    mode: str
    dataset: str
    workspace: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    params: dict[str, Any]
    items: SessionItems
    verdicts: pd.DataFrame  # key, verdict, corrected_label, note, author, created_at (one row per item)

    @property
    def n_items(self) -> int:
        return len(self.items.keys)

    @property
    def n_reviewed(self) -> int:
        return len(self.verdicts)

    @property
    def complete(self) -> bool:
        return self.n_reviewed >= self.n_items

    @property
    def reviewed(self) -> np.ndarray:
        """Boolean per item (review order): has a verdict."""
        return np.isin(np.asarray(self.items.keys, dtype=object), self.verdicts["key"].to_numpy(dtype=object))

    def position_of(self, key: str) -> int:
        try:
            return self.items.keys.index(str(key))
        except ValueError:
            raise AnalysisError(UNKNOWN_ITEM.format(key=key, session=self.name, n=self.n_items)) from None

    def next_position(self, after: int | None = None) -> int | None:
        """The first item without a verdict after position ``after`` (wrapping round), or None when every
        item has one. ``after=None`` starts from the beginning."""
        todo = np.flatnonzero(~self.reviewed)
        if len(todo) == 0:
            return None
        if after is None:
            return int(todo[0])
        later = todo[todo > after]
        return int(later[0]) if len(later) else int(todo[0])

    def verdict_of(self, key: str) -> dict[str, Any] | None:
        hit = self.verdicts.loc[self.verdicts["key"] == str(key)]
        return None if hit.empty else hit.iloc[0].to_dict()


def _verdict_frame(rows: list[dict[str, Any]], *, reviewer: str | None) -> pd.DataFrame:
    cols = ["key", "verdict", "corrected_label", "note", "author", "created_at"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    df = pd.DataFrame(rows).rename(columns={"item_id": "key"})[cols].reset_index(drop=True)
    if reviewer is not None:
        df["author"] = reviewer
    return df


def load_session(store: Store, session_id: int) -> ReviewSession:
    """The session ``session_id`` with its current verdicts. Raises AnalysisError when it does not exist."""
    row = store.get_session(int(session_id))
    if row is None:
        raise AnalysisError(SESSION_NOT_FOUND.format(id=session_id))
    return from_row(
        ReviewSession,
        row,
        id=int(row["id"]),
        params=row["params"] or {},
        items=SessionItems.from_json(row["items"]),
        verdicts=_verdict_frame(
            store.latest_verdicts(int(session_id)),
            # Without per-verdict authors in the store, the author column is the OS login of the app's
            # process, not the person: the session's reviewer is the better name.
            reviewer=None if _store_takes_author(store) else row["reviewer"],
        ),
    )


def list_sessions(store: Store, workspace: str | None = None) -> pd.DataFrame:
    """Past sessions, newest first: id, name, reviewer, mode, dataset, status, created_at, updated_at,
    items, reviewed, last_verdict_at (None before the first verdict)."""
    rows = store.list_sessions(workspace)
    progress = store.read(
        lambda c: {
            r.session_id: (r.n, r.last)
            for r in c.execute(
                select(
                    verdicts.c.session_id,
                    func.count(func.distinct(verdicts.c.item_id)).label("n"),
                    func.max(verdicts.c.created_at).label("last"),
                ).group_by(verdicts.c.session_id)
            )
        }
    )
    out = []
    for r in rows:
        n_done, last = progress.get(r["id"], (0, None))
        items = r["items"] or {}
        out.append(
            {
                "id": int(r["id"]),
                "name": r["name"],
                "reviewer": r["reviewer"],
                "mode": r["mode"],
                "dataset": r["dataset"],
                "status": r["status"],
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
                "items": len(items.get("keys") or []),
                "reviewed": int(n_done),
                "last_verdict_at": None if last is None else last.replace(tzinfo=dt.UTC),
            }
        )
    columns = [
        "id",
        "name",
        "reviewer",
        "mode",
        "dataset",
        "status",
        "created_at",
        "updated_at",
        "items",
        "reviewed",
        "last_verdict_at",
    ]
    return pd.DataFrame(out, columns=columns)


def _store_takes_author(store: Store) -> bool:
    return "author" in inspect.signature(store.add_verdict).parameters


def record_verdict(
    store: Store,
    session: ReviewSession,
    key: str,
    verdict: str,
    *,
    corrected_label: str | None = None,
    note: str = "",
    reviewer: str | None = None,
) -> int:
    """Validate and write one verdict at once (an append-only row); return its id.

    ``"wrong"`` needs ``corrected_label`` (different from the label under review); ``"correct"`` takes
    none; ``"unsure"`` may carry one as a suggestion. ``reviewer`` (default: the session's reviewer) is stored as
    the verdict's author when the store records authors per verdict.
    """
    if verdict not in VERDICT_CHOICES:
        raise AnalysisError(BAD_VERDICT.format(allowed=", ".join(VERDICT_CHOICES), received=verdict))
    pos = session.position_of(key)
    label = session.items.labels[pos]
    corrected = (
        None
        if corrected_label is None or str(corrected_label).strip() == ""
        else str(corrected_label).strip()
    )
    if verdict == "wrong" and (corrected is None or corrected == label):
        raise AnalysisError(
            WRONG_NEEDS_LABEL.format(
                label=label, received=corrected_label, choices=", ".join(map(repr, session.items.classes))
            )
        )
    if corrected is not None and corrected != label and corrected in session.items.not_classes:
        raise AnalysisError(
            NOT_A_CLASS.format(received=corrected, choices=", ".join(map(repr, session.items.classes)))
        )
    if verdict == "correct" and corrected is not None and corrected != label:
        raise AnalysisError(CORRECT_NO_LABEL.format(label=label, received=corrected))
    if verdict == "correct":
        corrected = None
    kwargs: dict[str, Any] = {}
    if _store_takes_author(store):
        kwargs["author"] = reviewer or session.reviewer
    return store.add_verdict(
        session.id, str(key), verdict, corrected_label=corrected, note=note or "", **kwargs
    )


def set_status(store: Store, session_id: int, status: str) -> None:
    """Mark a session "open", "paused" or "done"."""
    store.set_session_status(int(session_id), status)


# ---- statistics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A proportion with its confidence interval. ``n``: verdicts it rests on (correct + wrong);
    ``n_effective``: the sample size the interval behaves like (stratum weights change it)."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    wrong: int
    n_effective: float
    confidence: float
    method: str


def wilson_interval(p: float, n: float, *, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion ``p`` observed on ``n`` trials (``n`` may be an effective,
    non-integer size). Returns (low, high); (nan, nan) when n is 0."""
    if n <= 0 or not math.isfinite(p):
        return float("nan"), float("nan")
    z = float(norm.ppf(0.5 + confidence / 2))
    z2 = z * z
    denom = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0))
    return max(0.0, center - half), min(1.0, center + half)


def proportion(wrong: int, n: int, *, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
    """``wrong / n`` with a Wilson interval."""
    p = wrong / n if n else float("nan")
    lo, hi = wilson_interval(p, n, confidence=confidence)
    return Rate(p, lo, hi, int(n), int(wrong), float(n), confidence, "Wilson")


def stratified_rate(
    wrong: Sequence[int] | np.ndarray,
    reviewed: Sequence[int] | np.ndarray,
    population: Sequence[int] | np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Rate:
    """Stratified estimate of a proportion: sum_h W_h p_h with W_h = N_h / N over strata with verdicts.

    Variance sum_h W_h^2 (1 - n_h / N_h) p_h (1 - p_h) / n_h (with the finite-population correction);
    the interval is Wilson's at the effective size n_eff = p (1 - p) / variance (Kish), or at the
    number of verdicts when p is 0 or 1. With one stratum and N_h >> n_h this is the plain Wilson interval.
    """
    wrong = np.asarray(wrong, dtype=np.float64)
    n_h = np.asarray(reviewed, dtype=np.float64)
    big_n = np.asarray(population, dtype=np.float64)
    ok = n_h > 0
    if not ok.any():
        return Rate(float("nan"), float("nan"), float("nan"), 0, 0, 0.0, confidence, "stratified")
    weights = big_n[ok] / big_n[ok].sum()
    p_h = wrong[ok] / n_h[ok]
    p = float(np.sum(weights * p_h))
    fpc = np.clip(1.0 - n_h[ok] / np.maximum(big_n[ok], 1.0), 0.0, 1.0)
    var = float(np.sum(weights**2 * fpc * p_h * (1 - p_h) / n_h[ok]))
    total = float(n_h[ok].sum())
    if 0 < p < 1 and var > 0:
        n_eff = p * (1 - p) / var
    elif 0 < p < 1:  # every stratum fully reviewed: no sampling error left
        return Rate(p, p, p, int(total), int(wrong[ok].sum()), math.inf, confidence, "stratified (census)")
    else:
        n_eff = total
    lo, hi = wilson_interval(p, n_eff, confidence=confidence)
    method = "stratified, Wilson at effective n" if ok.sum() > 1 else "Wilson (finite population)"
    return Rate(p, lo, hi, int(total), int(wrong[ok].sum()), float(n_eff), confidence, method)


def weighted_rate(errors: np.ndarray, weights: np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE) -> Rate:
    """Ratio estimate sum(w e) / sum(w) of a proportion from weighted 0/1 outcomes, with a Wilson
    interval at Kish's effective size (sum w)^2 / sum w^2. Equal weights give the plain Wilson interval."""
    errors = np.asarray(errors, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if len(errors) == 0 or weights.sum() <= 0:
        return Rate(float("nan"), float("nan"), float("nan"), 0, 0, 0.0, confidence, "weighted")
    p = float(np.sum(weights * errors) / weights.sum())
    n_eff = float(weights.sum() ** 2 / np.sum(weights**2))
    lo, hi = wilson_interval(p, n_eff, confidence=confidence)
    return Rate(p, lo, hi, len(errors), int(errors.sum()), n_eff, confidence, "weighted, Wilson at Kish n")


# ---- summary --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SessionSummary:
    """What a session found. Random sessions carry ``error_rate`` (of the label column over the sampled
    population, stratum-weighted); queue sessions carry ``precision`` (share of reviewed flagged items
    whose label was wrong) and ``precision_curve`` — never an error rate.

    ``by_class``: one row per class of the label under review — population, reviewed (correct + wrong),
    wrong, unsure and, for random sessions, ``error_rate`` with CI; for queue sessions ``precision``.
    ``by_labeler``: per labeler, items they labeled among the decided ones, how many of their labels
    differ from the verified label, and (random sessions) their error rate with CI, weighted like the
    sample. ``corrections``: one row per reviewed item. ``confusion``: label under review x verified label.
    """

    session_id: int
    mode: str
    n_items: int
    n_reviewed: int
    n_correct: int
    n_wrong: int
    n_unsure: int
    population: int
    error_rate: Rate | None
    precision: Rate | None
    precision_curve: pd.DataFrame
    by_class: pd.DataFrame
    by_labeler: pd.DataFrame
    corrections: pd.DataFrame
    confusion: pd.DataFrame
    notes: tuple[str, ...] = field(default=())


def summarize(session: ReviewSession, *, confidence: float = DEFAULT_CONFIDENCE) -> SessionSummary:
    """Summarise a session's current verdicts (see :class:`SessionSummary`)."""
    items = session.items
    n = session.n_items
    keys = np.asarray(items.keys, dtype=object)
    labels = np.asarray(items.labels, dtype=object)
    strata = np.asarray(items.strata if items.strata else ["all"] * n, dtype=object)
    v = session.verdicts.set_index("key")
    verdict = v["verdict"].reindex(keys).to_numpy(dtype=object)
    corrected = v["corrected_label"].reindex(keys).to_numpy(dtype=object)
    decided = np.isin(verdict, ["correct", "wrong"])
    wrong = verdict == "wrong"
    unsure = verdict == "unsure"
    reviewed = pd.notna(verdict)
    verified = np.where(wrong, corrected, labels)  # the true label where decided
    notes: list[str] = []

    population = items.population or {"all": n}
    names = sorted(set(population) | set(strata.tolist()))
    per = pd.DataFrame(
        {"stratum": strata, "decided": decided, "wrong": wrong, "unsure": unsure, "label": labels}
    )
    grouped = per.groupby("stratum").agg(
        reviewed=("decided", "sum"), wrong=("wrong", "sum"), unsure=("unsure", "sum")
    )
    grouped = grouped.reindex(names, fill_value=0)
    grouped["population"] = [int(population.get(s, 0)) for s in grouped.index]

    error_rate = precision = None
    curve = pd.DataFrame(columns=["position", "reviewed", "wrong", "precision"])
    if session.mode == "random":
        error_rate = stratified_rate(
            grouped["wrong"].to_numpy(),
            grouped["reviewed"].to_numpy(),
            grouped["population"].to_numpy(),
            confidence=confidence,
        )
        empty = [s for s in names if grouped.loc[s, "reviewed"] == 0 and grouped.loc[s, "population"] > 0]
        if empty and decided.any():
            notes.append(
                f"No decided verdict yet in stratum {', '.join(map(repr, empty))}: the error rate covers the other "
                "strata only. Review more items to cover every class."
            )
        rates = [
            proportion(int(w), int(r), confidence=confidence)
            for w, r in zip(grouped["wrong"], grouped["reviewed"], strict=True)
        ]
        by_class = grouped.assign(
            error_rate=[r.value for r in rates],
            ci_low=[r.ci_low for r in rates],
            ci_high=[r.ci_high for r in rates],
        )
    else:
        precision = proportion(int(wrong.sum()), int(decided.sum()), confidence=confidence)
        order = np.argsort(np.asarray(items.rank), kind="stable")
        dec_sorted = decided[order]
        cum_rev = np.cumsum(dec_sorted)
        cum_wrong = np.cumsum(wrong[order])
        at = np.flatnonzero(dec_sorted)
        curve = pd.DataFrame(
            {
                "position": at + 1,
                "reviewed": cum_rev[at],
                "wrong": cum_wrong[at],
                "precision": cum_wrong[at] / cum_rev[at],
            }
        )
        by_class = grouped.assign(
            precision=np.divide(
                grouped["wrong"].to_numpy(float),
                grouped["reviewed"].to_numpy(float),
                out=np.full(len(grouped), np.nan),
                where=grouped["reviewed"].to_numpy() > 0,
            )
        )
        notes.append(
            "Queue sessions review the items most likely to be wrong, so they measure the queue's precision, "
            "not the label error rate. Run a random-sample session to estimate the error rate."
        )
    by_class = by_class.reset_index().rename(columns={"stratum": "class"})
    if session.mode == "random" and items.strata is None:
        by_class["class"] = "all"

    # Per labeler: their label vs the verified label on decided items.
    weights = np.zeros(n)
    if session.mode == "random":
        n_dec = pd.Series(decided).groupby(strata).transform("sum").to_numpy(dtype=float)
        pop = np.asarray([population.get(s, 0) for s in strata], dtype=float)
        weights = np.divide(pop, n_dec, out=np.zeros(n), where=n_dec > 0)
    lab_rows = []
    for i in np.flatnonzero(decided):
        for labeler, said in (items.answers[i] or {}).items():
            lab_rows.append((labeler, i, str(said) != str(verified[i])))
    lab = pd.DataFrame(lab_rows, columns=["labeler", "i", "error"])
    by_labeler_rows = []
    for labeler, g in sorted(lab.groupby("labeler"), key=lambda kv: natural_key(kv[0])):
        row = {"labeler": labeler, "reviewed": len(g), "wrong": int(g["error"].sum())}
        if session.mode == "random":
            r = weighted_rate(g["error"].to_numpy(), weights[g["i"].to_numpy()], confidence=confidence)
            row.update(error_rate=r.value, ci_low=r.ci_low, ci_high=r.ci_high)
        else:
            row["share_wrong"] = row["wrong"] / row["reviewed"]
        by_labeler_rows.append(row)
    by_labeler = pd.DataFrame(
        by_labeler_rows,
        columns=[
            "labeler",
            "reviewed",
            "wrong",
            *(["error_rate", "ci_low", "ci_high"] if session.mode == "random" else ["share_wrong"]),
        ],
    )

    sel = np.flatnonzero(reviewed)
    vv = session.verdicts.set_index("key").reindex(keys[sel])
    corrections = pd.DataFrame(
        {
            "key": keys[sel],
            "position": sel + 1,
            "label": labels[sel],
            "verdict": verdict[sel],
            "corrected_label": corrected[sel],
            "final_label": np.where(wrong[sel], corrected[sel], labels[sel]),
            "note": vv["note"].to_numpy(dtype=object),
            "reviewer": vv["author"].to_numpy(dtype=object),
            "reviewed_at": vv["created_at"].to_numpy(dtype=object),
        }
    )
    confusion = (
        pd.crosstab(pd.Series(labels[decided], name="label"), pd.Series(verified[decided], name="verified"))
        if decided.any()
        else pd.DataFrame()
    )
    return SessionSummary(
        session_id=session.id,
        mode=session.mode,
        n_items=n,
        n_reviewed=int(reviewed.sum()),
        n_correct=int((verdict == "correct").sum()),
        n_wrong=int(wrong.sum()),
        n_unsure=int(unsure.sum()),
        population=int(sum(population.values())),
        error_rate=error_rate,
        precision=precision,
        precision_curve=curve,
        by_class=by_class,
        by_labeler=by_labeler,
        corrections=corrections,
        confusion=confusion,
        notes=tuple(notes),
    )


# ---- exports --------------------------------------------------------------------------------------


def corrections_csv(session: ReviewSession, summary: SessionSummary, *, only_wrong: bool = False) -> bytes:
    """The reviewed items as CSV (UTF-8): id (named like the dataset's id column), the label under
    review, verdict, corrected label, final label (corrected where wrong), note, reviewer, time (UTC)."""
    id_name = session.params.get("id_column") or "item"
    label_name = session.params.get("label_column") or "label"
    df = summary.corrections
    if only_wrong:
        df = df.loc[df["verdict"] == "wrong"]
    out = pd.DataFrame(
        {
            id_name: df["key"],
            f"{label_name}_reviewed": df["label"],
            "verdict": df["verdict"],
            "corrected_label": df["corrected_label"],
            f"{label_name}_final": df["final_label"],
            "note": df["note"],
            "reviewer": df["reviewer"],
            "reviewed_at_utc": [t.isoformat() if hasattr(t, "isoformat") else t for t in df["reviewed_at"]],
        }
    )
    return csv_bytes(out)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f} %"


def summary_markdown(session: ReviewSession, summary: SessionSummary, *, max_corrections: int = 50) -> str:
    """A Markdown report of the session for the team: what was reviewed, the headline figure with its
    interval, errors by class and by labeler, and the corrections."""
    p = session.params
    kind = (
        f"random sample of {summary.n_items} items from {summary.population} annotated items"
        + (" (stratified by class)" if session.items.strata and len(set(session.items.strata)) > 1 else "")
        if session.mode == "random"
        else f"top {summary.n_items} items of the ranked queue ({summary.population} items after filters)"
    )
    lines = [
        f"# Label spot check: {md_escape(session.name)}",
        "",
        f"- Dataset {md_escape(session.dataset)}, label column {md_escape(p.get('label_column', '?'))}; label under "
        f"review: {md_escape(p.get('review', 'dataset'))} label",
        f"- Reviewer: {md_escape(session.reviewer)}; started {session.created_at:%Y-%m-%d %H:%M} UTC; status {session.status}",
        f"- Session: {kind}",
    ]
    if p.get("probability_source"):
        lines.append(f"- Queue ranked with {md_escape(p['probability_source'])}")
    if p.get("filters"):
        lines.append(f"- Filters: {md_escape(p['filters'])}")
    lines += [
        f"- Progress: {summary.n_reviewed} of {summary.n_items} reviewed — {summary.n_correct} correct, "
        f"{summary.n_wrong} wrong, {summary.n_unsure} unsure",
        "",
        "## Result",
        "",
    ]
    headline = summary.error_rate or summary.precision
    conf = round(100 * (headline.confidence if headline else DEFAULT_CONFIDENCE))
    if summary.error_rate is not None:
        r = summary.error_rate
        lines.append(
            f"**Estimated label error rate: {_pct(r.value)}** ({conf} % CI {_pct(r.ci_low)} – {_pct(r.ci_high)}; "
            f"{r.wrong} wrong of {r.n} decided verdicts; {r.method})."
        )
    if summary.precision is not None:
        r = summary.precision
        lines.append(
            f"**Queue precision: {_pct(r.value)}** of the reviewed flagged items had a wrong label "
            f"({conf} % CI {_pct(r.ci_low)} – {_pct(r.ci_high)}; {r.wrong} of {r.n}). "
            "This is not an error rate: the queue picks likely errors."
        )
    for note in summary.notes:
        lines += ["", f"> {md_escape(note)}"]
    rate_col = "error_rate" if summary.mode == "random" else "precision"
    bc = summary.by_class.copy()
    for c in (rate_col, "ci_low", "ci_high"):
        if c in bc:
            bc[c] = bc[c].map(_pct)
    bl = summary.by_labeler.copy()
    for c in ("error_rate", "ci_low", "ci_high", "share_wrong"):
        if c in bl:
            bl[c] = bl[c].map(_pct)
    fixes = summary.corrections.loc[
        summary.corrections["verdict"] == "wrong", ["key", "label", "corrected_label", "note"]
    ]
    lines += [
        "",
        "## By class (of the label under review)",
        "",
        markdown_table(bc, empty=NO_ROWS),
        "",
        "## By labeler",
        "",
        markdown_table(bl, empty=NO_ROWS),
        "",
        f"## Corrections ({len(fixes)})",
        "",
        markdown_table(
            fixes, empty=NO_ROWS, max_rows=max_corrections, more="… and {n} more in the CSV export."
        ),
    ]
    return "\n".join(lines) + "\n"
