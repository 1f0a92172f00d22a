"""The ML Test Score rubric (Breck et al., IEEE BigData 2017): its 28 tests, scoring, reviews and exports.

Scale: the **2017** paper, "The ML Test Score: A Rubric for ML Production Readiness and Technical Debt
Reduction". Per test, ½ point when it was run manually with the results documented and shared, 1 point
when a system runs it automatically on a repeated basis; points are summed per section (Data, Model,
Infrastructure, Monitoring; 7 tests each, so 0 to 7 points), and the final score is the **minimum** of
the four section sums. The older 2016 variant ("What's your ML Test Score?", 1 point manual, 2 points
automated, other bands) is never used or mixed in: files that carry it are refused unless the user asks
to rescore their statuses on the 2017 scale (statuses do not depend on the scale; points do).

This module computes (scores, bands, cheapest next points, proposals from app evidence and check runs,
history) into dataclass objects holding numbers; it reads and writes reviews through
:class:`explore.core.store.Store`; and it serialises a review to Markdown, HTML and JSON and back.
It never imports streamlit.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from explore.core.serialise import to_json
from explore.core.store import RUBRIC_STATUSES, Store, from_row, rubric_entries, rubric_reviews, snapshots
from explore.errors import RubricConflict, RubricError
from explore.report.html import document, esc
from explore.report.markdown import Markup, autolink, markdown_table, md_escape

if TYPE_CHECKING:
    import pandas as pd

    from explore.core.workspace import Workspace

# ---- the scale --------------------------------------------------------------------------------------

SCALE = "2017"
SCALE_TITLE = "ML Test Score, 2017 scale (Breck et al., IEEE BigData 2017)"
SCALE_RULES = (
    "½ point per test run manually with its results documented and shared; 1 point per test run "
    "automatically on a repeated basis; each section sums its 7 tests (0 to 7); the final score is the "
    "lowest of the four section scores."
)
SCALE_NOT_2016 = (
    'This is not the 2016 variant ("What\'s your ML Test Score?": 1 point manual, 2 points automated, '
    "bands 0 / 1–2 / 3–4 / 5–6 / 7–10 / 12+) that some summaries use; the two scales are never mixed."
)
PAPER = (
    "E. Breck, S. Cai, E. Nielsen, M. Salib, D. Sculley. The ML Test Score: A Rubric for ML Production "
    "Readiness and Technical Debt Reduction. IEEE International Conference on Big Data, 2017."
)

STATUSES: tuple[str, ...] = tuple(RUBRIC_STATUSES)  # ("not_done", "manual", "automated")
STATUS_WORDS = {"not_done": "not done", "manual": "manual", "automated": "automated"}
POINTS: dict[str, float] = {"not_done": 0.0, "manual": 0.5, "automated": 1.0}
STATUS_RANK = {s: i for i, s in enumerate(STATUSES)}
TESTS_PER_SECTION = 7
MAX_SECTION_SCORE = float(TESTS_PER_SECTION)

JSON_FORMAT = "ml-explore rubric review"
JSON_FORMAT_VERSION = 1
CHECK_REPORT_FORMAT = "ml-explore check report"

# ---- messages (format with keyword arguments) -----------------------------------------------------

UNKNOWN_TEST = "There is no ML Test Score test {received!r}. Test ids are {known}."
UNKNOWN_STATUS = "The status of {test} must be one of {allowed}; received {received!r}."
NEGATIVE_SCORE = "An ML Test Score is between 0 and 7; received {received!r}."
REVIEW_NAME_EMPTY = 'A review needs a name, e.g. "churn v3 — 2026-11-22"; received {received!r}.'
REVIEW_NOT_FOUND = "There is no rubric review with id {id} in the store. Pick one of the reviews listed."
CONFLICT = (
    "{test} was changed by {author} at {when} (to {status}) while you were looking at an older version; "
    "your change was not saved, so that nothing of theirs is lost. Read their entry, then confirm again."
)
SNAPSHOT_MISSING = (
    "Evidence snapshot #{id} does not exist in this store; received snapshot ids {received}. "
    "Attach evidence that was computed in this store (or import it with the review)."
)
LINK_NOT_URL = (
    "Evidence links must be URLs (http://, https://) or paths; received {received!r}. "
    "Put one link per line; write explanations in the evidence text."
)
IMPORT_NOT_JSON = (
    "The file is not JSON ({reason}). Export a review from the Rubric page (JSON) and import that file."
)
IMPORT_WRONG_FORMAT = (
    'The file is not an ml-explore rubric review: its "format" is {received!r}, expected {expected!r}. '
    "Export a review from the Rubric page (Download JSON) and import that file."
)
IMPORT_SCALE_2016 = (
    "The file is scored on the {received!r} scale, not the 2017 scale this app uses (½ point manual, 1 point "
    "automated). Its statuses (manual / automated) can be rescored on the 2017 scale; the points in the file "
    'would then not be comparable with it. Tick "rescore on the 2017 scale" (rescore=True) to import it that way.'
)
IMPORT_MALFORMED = "The review file is malformed: {reason}. Received {received!r}."
CHECK_REPORT_WRONG = (
    'The file is not an `explore check` JSON report: its "format" is {received!r}, expected {expected!r}. '
    "Upload the check-report.json that `explore check … --out DIR` writes (CI keeps it as an artifact)."
)
CHECK_REPORT_MALFORMED = "The check report is malformed: {reason}. Received {received!r}."


# ---- the 28 tests -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    key: str  # "data", "model", "infra", "monitor": the prefix of the test ids
    title: str  # "Data", ...
    paper_title: str  # the paper's table caption


SECTIONS: tuple[Section, ...] = (
    Section("data", "Data", "Tests for features and data"),
    Section("model", "Model", "Tests for model development"),
    Section("infra", "Infrastructure", "Tests for ML infrastructure"),
    Section("monitor", "Monitoring", "Monitoring tests for ML"),
)
SECTION_KEYS = tuple(s.key for s in SECTIONS)
SECTION_TITLES = {s.key: s.title for s in SECTIONS}


@dataclass(frozen=True)
class AppAnalysis:
    """An analysis of this app that produces evidence for a test."""

    page: str  # the page that runs it ("Checks")
    analysis: str  # what it is called there ("Simpler baseline")
    module: str  # the explore module that computes it (used to tell whether it is installed)
    needs: tuple[str, ...] = ()  # workspace requirements, see _REQUIREMENTS


@dataclass(frozen=True)
class RubricTest:
    id: str  # "data-1"
    section: str  # "data"
    number: int  # 1..7, the paper's order
    name: str  # the paper's short wording (its Tables I-IV)
    explanation: str  # why it matters, in our words
    how_to_check: str  # what to do, in our words
    analyses: tuple[AppAnalysis, ...] = ()  # app analyses that evidence it (none: confirmed by text/link)

    @property
    def label(self) -> str:
        """``"Data 1"``, ``"Infrastructure 4"``."""
        return f"{SECTION_TITLES[self.section]} {self.number}"


def _t(
    section: str, number: int, name: str, explanation: str, how: str, *analyses: AppAnalysis
) -> RubricTest:
    return RubricTest(f"{section}-{number}", section, number, name, explanation, how, tuple(analyses))


_EXPECT = AppAnalysis(
    "Checks", "Expectation suite (profile a good dataset, validate others)", "explore.checks.expectations"
)
_EXPECT_SERVING = AppAnalysis(
    "Checks", "Expectation suite validated on serving data", "explore.checks.expectations", ("two_datasets",)
)
_DROP_COLUMN = AppAnalysis("Importance", "Drop-column importance", "explore.importance.explain", ("model",))
_COST = AppAnalysis(
    "Checks", "Cost: latency and memory per prediction", "explore.checks.stability", ("model",)
)
_BANNED = AppAnalysis("Checks", "Banned features", "explore.checks.stability", ("banned_features",))
_STALENESS = AppAnalysis(
    "Staleness",
    "Staleness experiment (train on older windows)",
    "explore.staleness.experiment",
    ("model", "time"),
)
_BASELINE = AppAnalysis("Checks", "Simpler baseline", "explore.checks.baseline")
_SLICES = AppAnalysis("Slices", "Slice report and weak-slice discovery", "explore.slices.report")
_FAIRNESS = AppAnalysis("Slices", "Fairness gaps between groups", "explore.slices.report")
_REPRO = AppAnalysis(
    "Checks", "Reproducibility (refit twice, compare)", "explore.checks.reproducibility", ("model",)
)
_SPEC = AppAnalysis(
    "Checks",
    "Model spec checks (fit runs, loss decreases, can overfit)",
    "explore.checks.model_spec",
    ("model",),
)
_COMPARE = AppAnalysis(
    "Checks", "Candidate vs previous model against thresholds", "explore.checks.compare", ("two_models",)
)
_KEY_EXAMPLES = AppAnalysis(
    "Checks", "Key examples reproduce their expected outputs", "explore.checks.compatibility", ("model",)
)
_EXPLAIN = AppAnalysis("Importance", "Per-datapoint explanation", "explore.importance.explain", ("model",))
_COMPAT = AppAnalysis(
    "Checks", "Compatibility: library versions of the model file", "explore.checks.compatibility", ("model",)
)
_SKEW = AppAnalysis(
    "Checks", "Training/serving skew and shadow consistency", "explore.checks.serving_skew", ("two_datasets",)
)
_STABILITY = AppAnalysis(
    "Checks", "Numerical stability (NaN/inf in inputs and outputs)", "explore.checks.stability"
)
_LATENCY = AppAnalysis(
    "Checks", "Latency and memory, candidate vs previous", "explore.checks.stability", ("model",)
)
_INVARIANTS = AppAnalysis(
    "Staleness", "Data invariants per time window", "explore.staleness.drift", ("time",)
)
_NONFINITE = AppAnalysis(
    "Staleness", "NaN/inf in inputs and model outputs per time window", "explore.staleness.drift", ("time",)
)
_OVER_TIME = AppAnalysis("Staleness", "Performance over time", "explore.staleness.experiment", ("time",))

TESTS: tuple[RubricTest, ...] = (
    # ---- Data
    _t(
        "data",
        1,
        "Feature expectations are captured in a schema",
        "What each feature's values should look like (type, range, allowed categories, missing-value rate, "
        "rough distribution) is written down and enforced, so that an upstream change fails loudly instead "
        "of silently degrading the model.",
        "Profile a dataset known to be good into an expectation suite, review its bounds with someone who "
        "knows the data, and validate new training and serving data against it. Automate it by running "
        "`explore check` with the suite on every data refresh.",
        _EXPECT,
    ),
    _t(
        "data",
        2,
        "All features are beneficial",
        "Every input earns its place: a feature that adds no predictive value still costs computation, "
        "maintenance and risk (it can break, drift or leak).",
        "Measure how much quality drops when each feature is removed (drop-column importance on held-out "
        "data) and list features whose removal changes the metric by less than its noise; look at "
        "pairwise correlations for redundant features.",
        _DROP_COLUMN,
    ),
    _t(
        "data",
        3,
        "No feature's cost is too much",
        "Each feature has a cost — latency and memory at serving time, upstream data dependencies, "
        "engineering upkeep — that should be justified by what it adds.",
        "Measure prediction latency and memory, and the latency change when a feature is neutralised; "
        "weigh each feature's cost against its importance and record the decision.",
        _COST,
    ),
    _t(
        "data",
        4,
        "Features adhere to meta-level requirements",
        "Features obey rules that are not about accuracy: no sensitive attributes or their close proxies, "
        "no data from deprecated or unapproved sources, no features the product may not use.",
        "List banned features in workspace.toml ([checks] banned_features) and verify the model's inputs "
        "contain none of them; review new features against the list before they are added.",
        _BANNED,
    ),
    _t(
        "data",
        5,
        "The data pipeline has appropriate privacy controls",
        "Personal data in training and logs is accessed, retained and deleted under controls: access is "
        "restricted, identifiers are minimised, and deletion requests reach every copy.",
        "Review who can read each dataset and log, how long they are kept and how deletions propagate; "
        "link the privacy review or data-protection assessment. The app cannot compute this one.",
    ),
    _t(
        "data",
        6,
        "New features can be added quickly",
        "The time from a feature idea to that feature in the production model is short, so the team can "
        "respond to problems and opportunities.",
        "Record the calendar time it took to add the last feature (from proposal to serving) and what "
        "slowed it down; link the ticket. The app cannot compute this one.",
    ),
    _t(
        "data",
        7,
        "All input feature code is tested",
        "The code that computes features — for training and for serving — has unit tests, because bugs "
        "there are silent: the model still produces numbers.",
        "Link the unit tests and coverage report of the feature code (both the training and the serving "
        "path) and the CI job that runs them. The app cannot compute this one.",
    ),
    # ---- Model
    _t(
        "model",
        1,
        "Model specs are reviewed and submitted",
        "The code and configuration that define and train the model are checked into version control and "
        "code-reviewed, so every served model can be traced back to a reviewed commit.",
        "Link the commit or pull request of the model spec and its review; check the model file's "
        "fingerprint shown on the Workspace page against the one the pipeline recorded.",
    ),
    _t(
        "model",
        2,
        "Offline and online metrics correlate",
        "The offline metric the team optimises (AUC, log loss…) moves with the business metric it stands for "
        "(retention, revenue…); otherwise offline gains may not matter.",
        "Run a small online experiment (for example with a deliberately degraded model on a small share of "
        "traffic) and document how the business metric changes with the offline metric.",
    ),
    _t(
        "model",
        3,
        "All hyperparameters have been tuned",
        "Hyperparameters (learning rate, depth, regularisation, bucketing…) were searched rather than left "
        "at defaults, so quality is not left on the table and sensitivity is known.",
        "Link the search (grid, random or Bayesian) with the validation metric per configuration and the "
        "parameters that mattered.",
    ),
    _t(
        "model",
        4,
        "The impact of model staleness is known",
        "How fast quality decays as the model ages decides how often it must be retrained.",
        "Train on older windows and score on later ones (Staleness page) to see quality against model age; "
        "document the retraining frequency this implies.",
        _STALENESS,
    ),
    _t(
        "model",
        5,
        "A simpler model is not better",
        "The production model should beat a simple baseline by enough to justify its complexity; if a "
        "linear model is as good, the extra cost and risk buy nothing.",
        "Fit a simple baseline (logistic/linear regression, and a majority/mean predictor) on the same "
        "training data and compare on the same rows with a paired test (Checks page, Simpler baseline).",
        _BASELINE,
    ),
    _t(
        "model",
        6,
        "Model quality is sufficient on important data slices",
        "A good overall metric can hide slices (a region, a device, a customer type) where the model is "
        "poor.",
        "Compute metrics with confidence intervals per important slice and search for weak slices with "
        "false-discovery control (Slices page); set per-slice thresholds and check them in CI.",
        _SLICES,
    ),
    _t(
        "model",
        7,
        "The model is tested for considerations of inclusion",
        "The model's errors and decisions are not unfairly distributed across groups of people.",
        "Compare error rates and decision rates across groups of a sensitive column (demographic parity, "
        "equal opportunity, accuracy gap with confidence intervals) on the Slices page; document the "
        "thresholds the team accepts.",
        _FAIRNESS,
    ),
    # ---- Infrastructure
    _t(
        "infra",
        1,
        "Training is reproducible",
        "Training twice on the same data gives (nearly) the same model; otherwise changes cannot be "
        "attributed and bugs hide in the noise.",
        "Refit the model twice with the same seed and with different seeds; compare aggregate metrics, "
        "slice metrics and row-by-row predictions, and fix unset random seeds (Checks page).",
        _REPRO,
    ),
    _t(
        "infra",
        2,
        "Model specs are unit tested",
        "The model specification code has unit tests: a training step runs, the loss decreases, the "
        "model can overfit a tiny sample.",
        "Run the model spec checks (Checks page): fit on a small sample, loss goes down over iterations, a "
        "less regularised clone memorises a tiny sample; keep them in the test suite.",
        _SPEC,
    ),
    _t(
        "infra",
        3,
        "The ML pipeline is integration tested",
        "The whole pipeline — data sources, feature computation, training, validation, serving — is "
        "exercised end to end, so the pieces are known to fit together.",
        "Link the end-to-end test that runs the pipeline on a small data sample and the schedule that "
        "runs it (on every change and on new model releases). The app cannot compute this one.",
    ),
    _t(
        "infra",
        4,
        "Model quality is validated before serving",
        "A new model is compared with the one it replaces (and with a fixed older one) before it serves, "
        "so a regression is stopped at the gate.",
        "Compare candidate and previous models on the same rows against thresholds, and check key examples "
        "with known outputs (Checks page); run it in CI with `explore check --thresholds`.",
        _COMPARE,
        _KEY_EXAMPLES,
    ),
    _t(
        "infra",
        5,
        "The model is debuggable",
        "One can take a single example and see how the model arrives at its output, step by step.",
        "Open a datapoint and look at its per-feature explanation and what-if variations (Importance and "
        "Slices pages); document how an engineer debugs one prediction in production.",
        _EXPLAIN,
    ),
    _t(
        "infra",
        6,
        "Models are canaried before serving",
        "A new model first serves a small share of real traffic, and is checked there, before it takes "
        "all of it.",
        "Link the canary procedure and the last canary's results (the model loads in the serving binary, "
        "metrics on the trickle of traffic). The app cannot compute this one.",
    ),
    _t(
        "infra",
        7,
        "Serving models can be rolled back",
        "The previous model can be restored quickly and safely when the new one misbehaves.",
        "Rehearse a rollback, time it, and link the runbook and the drill's result. The app cannot "
        "compute this one.",
    ),
    # ---- Monitoring
    _t(
        "monitor",
        1,
        "Dependency changes result in notification",
        "When an upstream data source, a library or the serving environment changes, the team hears about "
        "it before the model silently changes behaviour.",
        "Check that the model file's library versions match this environment and every type it uses "
        "imports (Checks page, Compatibility), in CI on every dependency update; link the alerts upstream "
        "data owners send when their data changes.",
        _COMPAT,
    ),
    _t(
        "monitor",
        2,
        "Data invariants hold for inputs",
        "The expectations about the data (the schema of Data 1) hold on the inputs the model sees in "
        "training and in serving, continuously.",
        "Validate serving data against the expectation suite (Checks page) and alert on violations; "
        "automate it with `explore check` on every new batch of serving data.",
        _EXPECT_SERVING,
        _INVARIANTS,
    ),
    _t(
        "monitor",
        3,
        "Training and serving are not skewed",
        "Features computed at serving time equal those computed for training for the same example; "
        "otherwise the model serves on inputs it was not trained on.",
        "Join serving logs with training features on the id, compare column by column, and compare logged "
        "predictions with predictions recomputed offline (Checks page, Skew and shadow).",
        _SKEW,
    ),
    _t(
        "monitor",
        4,
        "Models are not too stale",
        "The model in production is retrained often enough given how fast its quality decays (Model 4).",
        "Track the age of the serving model against the retraining frequency that the staleness "
        "experiment implies (Staleness page); alert when it is exceeded.",
        _STALENESS,
    ),
    _t(
        "monitor",
        5,
        "Models are numerically stable",
        "No NaN or infinite values appear in inputs, in training, or in the model's outputs.",
        "Scan every dataset's inputs and the model's outputs for NaN/inf (Checks page, Numerical "
        "stability); run it in CI.",
        _STABILITY,
        _NONFINITE,
    ),
    _t(
        "monitor",
        6,
        "Computing performance has not regressed",
        "Training speed, serving latency, throughput and memory have not regressed, suddenly or slowly.",
        "Measure latency per row and per batch and peak memory, candidate vs previous, in the same run "
        "(Checks page); keep the history from CI runs to see slow leaks.",
        _LATENCY,
    ),
    _t(
        "monitor",
        7,
        "Prediction quality has not regressed",
        "Quality on served data has not dropped, suddenly or slowly.",
        "Compare the model with the previous one and a fixed older one on recent labelled data against "
        "thresholds (Checks page), and follow its metrics per time window (Staleness page); run it on every "
        "new batch of labels.",
        _COMPARE,
        _KEY_EXAMPLES,
        _OVER_TIME,
    ),
)
TEST_IDS: tuple[str, ...] = tuple(t.id for t in TESTS)
TESTS_BY_ID: dict[str, RubricTest] = {t.id: t for t in TESTS}


def tests_in(section: str) -> tuple[RubricTest, ...]:
    """The 7 tests of a section, in the paper's order."""
    return tuple(t for t in TESTS if t.section == section)


def get_test(test_id: str) -> RubricTest:
    """The test with this id; raises RubricError for an unknown id."""
    try:
        return TESTS_BY_ID[test_id]
    except (KeyError, TypeError):
        raise RubricError(
            UNKNOWN_TEST.format(received=test_id, known=f"{TEST_IDS[0]} … {TEST_IDS[-1]}")
        ) from None


def check_status(test_id: str, status: str) -> str:
    if status not in POINTS:
        raise RubricError(UNKNOWN_STATUS.format(test=test_id, allowed=", ".join(STATUSES), received=status))
    return status


# ---- scoring ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """An interpretation band of the final score: ``low < score <= high`` (band 0 is exactly 0)."""

    index: int
    low: float | None  # exclusive lower bound (None for the band "0")
    high: float | None  # inclusive upper bound (None for "> 5")
    words: str

    @property
    def interval(self) -> str:
        if self.low is None:
            return "0"
        if self.high is None:
            return f"> {self.low:g}"
        return f"({self.low:g}, {self.high:g}]"

    def contains(self, value: float) -> bool:
        if self.low is None:
            return value == 0
        return value > self.low and (self.high is None or value <= self.high)


BANDS: tuple[Band, ...] = (
    Band(0, None, 0.0, "More of a research project than a productionized system"),
    Band(
        1,
        0.0,
        1.0,
        "Not totally untested, but it is worth considering the possibility of serious holes in reliability",
    ),
    Band(
        2,
        1.0,
        2.0,
        "There has been a first pass at basic productionization, but additional investment may be needed",
    ),
    Band(
        3,
        2.0,
        3.0,
        "Reasonably tested, but it is possible that more of those tests and procedures may be automated",
    ),
    Band(
        4,
        3.0,
        5.0,
        "Strong levels of automated testing and monitoring, appropriate for mission-critical systems",
    ),
    Band(5, 5.0, None, "Exceptional levels of automated testing and monitoring"),
)


def band_for(value: float) -> Band:
    """The interpretation band of a final score (boundaries exact: 1 is in (0, 1], 1.5 in (1, 2])."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise RubricError(NEGATIVE_SCORE.format(received=value))
    for band in BANDS:
        if band.contains(float(value)):
            return band
    raise AssertionError("unreachable: the bands cover [0, inf)")


@dataclass(frozen=True)
class RubricScore:
    """Scores of one assignment of statuses (2017 scale)."""

    sections: dict[str, float]  # section key -> points (0..7), in SECTIONS order
    final: float  # min over sections
    limiting: tuple[str, ...]  # section keys whose score equals the final (ties: several)
    band: Band
    counts: dict[str, dict[str, int]]  # section key -> status -> number of tests
    statuses: dict[str, str]  # test id -> status, all 28
    scale: str = SCALE

    @property
    def points(self) -> dict[str, float]:
        """Test id -> points."""
        return {t: POINTS[s] for t, s in self.statuses.items()}


def normalise_statuses(statuses: Mapping[str, str]) -> dict[str, str]:
    """All 28 test ids -> status (missing tests are "not_done"); raises RubricError on unknown ids/statuses."""
    for test_id, status in statuses.items():
        get_test(test_id)
        check_status(test_id, status)
    return {t: statuses.get(t, "not_done") for t in TEST_IDS}


def rubric_score(statuses: Mapping[str, str]) -> RubricScore:
    """Score ``statuses`` (test id -> "not_done" | "manual" | "automated"; missing ids are not done).

    Returns per-section sums in points (½ per manual test, 1 per automated test), the final score (their
    minimum), the limiting sections and the band.
    """
    full = normalise_statuses(statuses)
    sections: dict[str, float] = {}
    counts: dict[str, dict[str, int]] = {}
    for sec in SECTION_KEYS:
        ids = [t.id for t in tests_in(sec)]
        # Halves are exact in binary floating point: these sums are exact.
        sections[sec] = sum(POINTS[full[i]] for i in ids)
        counts[sec] = {s: sum(full[i] == s for i in ids) for s in STATUSES}
    final = min(sections.values())
    limiting = tuple(s for s in SECTION_KEYS if sections[s] == final)
    return RubricScore(sections, final, limiting, band_for(final), counts, full)


# ---- entries, reviews ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """The state of one test in a review: the newest rubric entry, or one carried over from the parent."""

    test_id: str
    status: str
    evidence_text: str = ""
    links: tuple[str, ...] = ()
    snapshot_ids: tuple[int, ...] = ()
    author: str | None = None
    created_at: dt.datetime | None = None
    entry_id: int | None = None
    carried_from: str | None = None  # name of the review it was carried over from (not re-confirmed here)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], carried_from: str | None = None) -> Entry:
        return from_row(
            cls,
            row,
            evidence_text=row.get("evidence_text") or "",
            links=tuple(row.get("links") or ()),
            snapshot_ids=tuple(int(i) for i in row.get("snapshot_ids") or ()),
            entry_id=row.get("id"),
            carried_from=carried_from,
        )


@dataclass(frozen=True)
class ReviewState:
    """A review with the current entry of each test.

    ``entries`` are confirmed in this review; ``carried`` are tests carried over from the parent review
    (its state when this review was started) that nobody has re-confirmed here yet. Carried entries do
    **not** count towards the score until someone confirms them: the score describes this model version.
    """

    review_id: int
    name: str
    model_version: str
    created_at: dt.datetime
    author: str
    scale: str
    parent_id: int | None
    parent_name: str | None
    entries: dict[str, Entry]
    carried: dict[str, Entry] = field(default_factory=dict)

    def statuses(self) -> dict[str, str]:
        """Confirmed statuses of all 28 tests (carried-over tests count as not done until re-confirmed)."""
        return {t: self.entries[t].status if t in self.entries else "not_done" for t in TEST_IDS}

    def carried_statuses(self) -> dict[str, str]:
        """Statuses if every carried-over test were re-confirmed as it was."""
        out = self.statuses()
        for t, e in self.carried.items():
            out[t] = e.status
        return out

    def entry(self, test_id: str) -> Entry | None:
        """The confirmed entry, else the carried one, else None."""
        return self.entries.get(test_id) or self.carried.get(test_id)

    def score(self) -> RubricScore:
        return rubric_score(self.statuses())


def _review_row(conn: Connection, review_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(rubric_reviews).where(rubric_reviews.c.id == review_id)).first()
    return None if row is None else dict(row._mapping)


def _entries_until(conn: Connection, review_id: int, until: dt.datetime | None) -> dict[str, dict[str, Any]]:
    """The newest entry of each test of the review, among those written at or before ``until``."""
    where = [rubric_entries.c.review_id == review_id]
    if until is not None:
        where.append(rubric_entries.c.created_at <= until)
    newest = select(func.max(rubric_entries.c.id)).where(*where).group_by(rubric_entries.c.test_id)
    rows = conn.execute(select(rubric_entries).where(rubric_entries.c.id.in_(newest))).all()
    return {r._mapping["test_id"]: dict(r._mapping) for r in rows}


def _carried(conn: Connection, review: dict[str, Any]) -> dict[str, Entry]:
    """What ``review`` carried over: for each test, the newest entry of the nearest ancestor that had one
    when its child review was started (an explicit "not done" there stops the carry). Each carried entry
    names the review where it was confirmed. Walks up the chain only for tests still unresolved."""
    out: dict[str, Entry] = {}
    seen: set[str] = set()
    child = review
    while child.get("parent_id") is not None and len(seen) < len(TEST_IDS):
        parent = _review_row(conn, child["parent_id"])
        if parent is None:
            break
        for test_id, row in _entries_until(conn, parent["id"], child["created_at"]).items():
            if test_id in seen:
                continue
            seen.add(test_id)
            if row["status"] != "not_done":
                out[test_id] = Entry.from_row(row, carried_from=parent["name"])
        child = parent
    return out


def load_review(store: Store, review_id: int) -> ReviewState:
    """Read a review and the current entry of each of its tests (see :class:`ReviewState`)."""

    def read(conn: Connection) -> ReviewState:
        review = _review_row(conn, review_id)
        if review is None:
            raise RubricError(REVIEW_NOT_FOUND.format(id=review_id))
        parent = _review_row(conn, review["parent_id"]) if review.get("parent_id") is not None else None
        own = {t: Entry.from_row(r) for t, r in _entries_until(conn, review_id, None).items()}
        carried = {t: e for t, e in _carried(conn, review).items() if t not in own}
        return ReviewState(
            review_id=review_id,
            name=review["name"],
            model_version=review["model_version"],
            created_at=review["created_at"],
            author=review["author"],
            scale=review["scale"],
            parent_id=review.get("parent_id"),
            parent_name=parent["name"] if parent else None,
            entries=own,
            carried=carried,
        )

    return store.read(read)


def start_review(
    store: Store,
    name: str,
    model_version: str,
    *,
    carry_from: int | None = None,
    author: str | None = None,
    workspace: str | None = None,
) -> int:
    """Create a review (``carry_from``: the review whose state it starts from; ``author``: who started it,
    default the store's :func:`~explore.core.store.current_author`; ``workspace``: the workspace.toml it is
    of, so that ``explore report`` finds it); return its id.

    Carried-over tests keep their status, evidence and confirmer from the parent but count towards the
    score only once someone re-confirms them in the new review.
    """
    clean = " ".join(str(name or "").split())
    if not clean:
        raise RubricError(REVIEW_NAME_EMPTY.format(received=name))
    return store.create_review(
        clean,
        " ".join(str(model_version or "").split()) or "unspecified",
        parent_id=carry_from,
        author=author,
        workspace=workspace,
    )


def _clean_links(links: Iterable[str]) -> list[str]:
    out: list[str] = []
    for link in links:
        text = str(link).strip()
        if not text:
            continue
        if any(ch.isspace() for ch in text):
            raise RubricError(LINK_NOT_URL.format(received=text))
        if text not in out:
            out.append(text)
    return out


def parse_links(text: str) -> list[str]:
    """Links typed one per line (or separated by commas) -> a clean list; raises RubricError on prose."""
    parts = [p for line in str(text or "").splitlines() for p in line.split(",")]
    return _clean_links(parts)


_ANY = object()


def confirm_test(
    store: Store,
    review_id: int,
    test_id: str,
    *,
    status: str,
    author: str,
    evidence_text: str = "",
    links: Sequence[str] = (),
    snapshot_ids: Sequence[int] = (),
    expected_entry_id: int | None | object = _ANY,
) -> int:
    """Record the state of one test, confirmed by ``author``; return the new entry's id.

    Entries are append-only: earlier ones stay as the audit trail. ``expected_entry_id`` is the id of the
    entry the author was looking at (None: there was none); if someone else wrote an entry for this test
    in between, nothing is written and RubricConflict says who changed what and when. The check and the
    write happen in one transaction, so two confirmers at once never lose each other's changes.
    """
    get_test(test_id)
    check_status(test_id, status)
    clean_links = _clean_links(links)
    ids = sorted({int(i) for i in snapshot_ids})
    author = str(author or "").strip() or "unknown"

    def write(conn: Connection) -> int:
        if _review_row(conn, review_id) is None:
            raise RubricError(REVIEW_NOT_FOUND.format(id=review_id))
        if ids:
            found = {r[0] for r in conn.execute(select(snapshots.c.id).where(snapshots.c.id.in_(ids)))}
            missing = [i for i in ids if i not in found]
            if missing:
                raise RubricError(SNAPSHOT_MISSING.format(id=missing[0], received=ids))
        if expected_entry_id is not _ANY:
            newest = conn.execute(
                select(rubric_entries)
                .where(rubric_entries.c.review_id == review_id, rubric_entries.c.test_id == test_id)
                .order_by(rubric_entries.c.id.desc())
                .limit(1)
            ).first()
            newest_id = None if newest is None else newest._mapping["id"]
            if newest_id != expected_entry_id:
                row = newest._mapping if newest is not None else {}
                raise RubricConflict(
                    CONFLICT.format(
                        test=TESTS_BY_ID[test_id].label,
                        author=row.get("author", "someone"),
                        when=_when(row.get("created_at")),
                        status=STATUS_WORDS.get(row.get("status"), "?"),
                    )
                )
        # The store's add_rubric_entry stamps the process's user; a meeting has several confirmers in one
        # server process, so the author is written explicitly here (same columns, same transaction rules).
        values = dict(
            review_id=review_id,
            test_id=test_id,
            status=status,
            evidence_text=str(evidence_text or ""),
            links=clean_links,
            snapshot_ids=ids,
            author=author,
            created_at=dt.datetime.now(dt.UTC),
        )
        return conn.execute(rubric_entries.insert().values(values)).inserted_primary_key[0]

    return store.write(write)


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        v = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "?" if value is None else str(value)


@dataclass(frozen=True)
class AuditEvent:
    """One change of a test in a review (the audit trail), with the score right after it."""

    entry_id: int
    test_id: str
    author: str
    created_at: dt.datetime
    previous_status: str | None  # None: first entry of this test in this review
    status: str
    evidence_text: str
    links: tuple[str, ...]
    snapshot_ids: tuple[int, ...]
    final_after: float  # the review's final score after this change


def audit_trail(store: Store, review_id: int) -> list[AuditEvent]:
    """Every change of the review, oldest first, with who changed what from what, when, and the score after."""
    rows = store.rubric_history(review_id)
    current: dict[str, str] = {}
    events: list[AuditEvent] = []
    for row in rows:
        current[row["test_id"]] = row["status"]
        events.append(
            from_row(
                AuditEvent,
                row,
                entry_id=row["id"],
                links=tuple(row["links"] or ()),
                snapshot_ids=tuple(row["snapshot_ids"] or ()),
                final_after=rubric_score(current).final,
            )
        )
    return events


@dataclass(frozen=True)
class HistoryPoint:
    """One review's score, for the history across reviews."""

    review_id: int
    name: str
    model_version: str
    created_at: dt.datetime
    final: float
    sections: dict[str, float]
    band: Band
    n_confirmed: int  # tests with an entry confirmed in this review


@dataclass(frozen=True)
class ScoreHistory:
    """The current score of every review in the store, oldest review first (``points``)."""

    points: tuple[HistoryPoint, ...]

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[HistoryPoint]:
        return iter(self.points)

    def to_frame(self) -> pd.DataFrame:
        """One row per review: review_id, name, model_version, created_at, final, band, n_confirmed, and the
        points of each section."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "review_id": p.review_id,
                    "name": p.name,
                    "model_version": p.model_version,
                    "created_at": p.created_at,
                    "final": p.final,
                    "band": p.band.words,
                    "n_confirmed": p.n_confirmed,
                    **p.sections,
                }
                for p in self.points
            ]
        )


def score_history(store: Store) -> ScoreHistory:
    """The current score of every review in the store, oldest review first."""

    def read(conn: Connection) -> ScoreHistory:
        reviews = [
            dict(r._mapping) for r in conn.execute(select(rubric_reviews).order_by(rubric_reviews.c.id))
        ]
        # One query for the newest entry of every (review, test).
        newest = select(func.max(rubric_entries.c.id)).group_by(
            rubric_entries.c.review_id, rubric_entries.c.test_id
        )
        latest = conn.execute(
            select(rubric_entries.c.review_id, rubric_entries.c.test_id, rubric_entries.c.status).where(
                rubric_entries.c.id.in_(newest)
            )
        ).all()
        by_review: dict[int, dict[str, str]] = {}
        for review_id, test_id, status in latest:
            by_review.setdefault(review_id, {})[test_id] = status
        out = []
        for review in reviews:
            own = by_review.get(review["id"], {})
            s = rubric_score(own)
            out.append(
                HistoryPoint(
                    review_id=review["id"],
                    name=review["name"],
                    model_version=review["model_version"],
                    created_at=review["created_at"],
                    final=s.final,
                    sections=s.sections,
                    band=s.band,
                    n_confirmed=len(own),
                )
            )
        return ScoreHistory(tuple(out))

    return store.read(read)


# ---- evidence: snapshots and check runs -> proposals -------------------------------------------------


@dataclass(frozen=True)
class SnapshotRef:
    """A frozen analysis result attached (or attachable) as evidence."""

    id: int
    kind: str
    title: str
    created_at: dt.datetime | None
    source: str  # "app" or "check"
    author: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SnapshotRef:
        return cls(
            int(row["id"]),
            str(row["kind"]),
            str(row["title"]),
            row.get("created_at"),
            str(row.get("source", "app")),
            str(row.get("author", "")),
        )


@dataclass(frozen=True)
class RunRef:
    """An `explore check` run in which a check covering a test ran (it was not skipped)."""

    id: int
    finished_at: dt.datetime | None
    exit_code: int
    outcome: str  # "passed", "failed" or "error": the worst outcome of the checks covering this test
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Proposal:
    """What the app can propose for one test; the team decides."""

    test_id: str
    current: str  # the confirmed status
    snapshots: tuple[SnapshotRef, ...]  # app-computed evidence, newest first
    runs: tuple[RunRef, ...]  # automated runs that covered the test, newest first
    proposed: str | None  # "automated" (check runs exist), "manual" (app evidence exists), or None

    @property
    def run_days(self) -> int:
        """How many distinct days (UTC) the test was run automatically: automation means repeatedly."""
        return len({r.finished_at.date() for r in self.runs if r.finished_at is not None})

    @property
    def last_run(self) -> RunRef | None:
        return self.runs[0] if self.runs else None


_OUTCOME_ORDER = {"passed": 0, "failed": 1, "error": 2}


def run_outcomes(report: Mapping[str, Any]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Test id -> (worst outcome, names of the checks) among the checks of a check report that ran."""
    out: dict[str, tuple[str, list[str]]] = {}
    for check in report.get("checks") or ():
        if not isinstance(check, Mapping):
            continue
        status = check.get("status")
        if status not in _OUTCOME_ORDER:  # skipped checks are not evidence of anything
            continue
        for test in check.get("tests") or ():
            if test not in TESTS_BY_ID:
                continue
            worst, names = out.get(test, ("passed", []))
            if _OUTCOME_ORDER[status] > _OUTCOME_ORDER[worst]:
                worst = status
            out[test] = (worst, [*names, str(check.get("name", "?"))])
    return {t: (w, tuple(n)) for t, (w, n) in out.items()}


def proposals(
    statuses: Mapping[str, str],
    snapshot_rows: Iterable[Mapping[str, Any]],
    run_rows: Iterable[Mapping[str, Any]],
) -> dict[str, Proposal]:
    """For every test: the app evidence and check runs that bear on it, and the status they support.

    ``snapshot_rows``: store snapshots (``Store.list_snapshots``); ``run_rows``: store check runs
    (``Store.list_check_runs``). "automated" is proposed only when check runs covered the test (a failing
    run still shows the test runs automatically); "manual" when app-computed evidence exists. A proposal
    is made only when it is above the confirmed status.
    """
    full = normalise_statuses(statuses)
    snaps: dict[str, list[SnapshotRef]] = {t: [] for t in TEST_IDS}
    for row in sorted(snapshot_rows, key=lambda r: -int(r["id"])):
        for test in row.get("tests") or ():
            if test in snaps:
                snaps[test].append(SnapshotRef.from_row(row))
    runs: dict[str, list[RunRef]] = {t: [] for t in TEST_IDS}

    def newest_first(row: Mapping[str, Any]) -> tuple[float, int]:
        # An imported CI report can be recorded after a newer run: order by when it ran, not by id.
        when = row.get("finished_at")
        return (-(when.timestamp() if isinstance(when, dt.datetime) else 0.0), -int(row["id"]))

    for row in sorted(run_rows, key=newest_first):
        report = row.get("report") or {}
        for test, (outcome, names) in run_outcomes(report).items():
            runs[test].append(
                RunRef(int(row["id"]), row.get("finished_at"), int(row.get("exit_code", 0)), outcome, names)
            )
    out = {}
    for t in TEST_IDS:
        proposed = "automated" if runs[t] else "manual" if snaps[t] else None
        if proposed is not None and STATUS_RANK[proposed] <= STATUS_RANK[full[t]]:
            proposed = None
        out[t] = Proposal(t, full[t], tuple(snaps[t]), tuple(runs[t]), proposed)
    return out


# ---- what the app can run here -------------------------------------------------------------------------

_REQUIREMENTS = {
    "model": "needs a model file (this workspace is predictions-only)",
    "time": "needs a time column ([columns] time in workspace.toml)",
    "two_models": "needs a previous model ([models.previous] in workspace.toml)",
    "two_datasets": "needs a second dataset (e.g. serving or production data)",
    "banned_features": "needs a list of banned features ([checks] banned_features in workspace.toml)",
}


def _module_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def runnable_here(ws: Workspace | None) -> dict[str, str | None]:
    """Test id -> None when an app analysis that evidences it can run on this workspace, else why not.

    Tests no app analysis covers map to "no analysis in the app: confirm with text and links".
    """
    have = set()
    if ws is not None:
        if ws.models:
            have.add("model")
        if ws.config.columns.time:
            have.add("time")
        if len(ws.models) >= 2:
            have.add("two_models")
        if len(ws.dataset_names) >= 2:
            have.add("two_datasets")
        if ws.config.checks.banned_features:
            have.add("banned_features")
    out: dict[str, str | None] = {}
    for test in TESTS:
        if not test.analyses:
            out[test.id] = "no analysis in the app: confirm with text and links"
            continue
        reasons = []
        for analysis in test.analyses:
            if not _module_available(analysis.module):
                reasons.append(f"{analysis.analysis} is not available in this installation")
                continue
            missing = [_REQUIREMENTS[n] for n in analysis.needs if n not in have]
            if ws is None:
                missing = ["needs an open workspace"]
            if not missing:
                reasons = []
                break
            reasons.append(f"{analysis.analysis} {missing[0]}")
        out[test.id] = "; ".join(reasons) if reasons else None
    return out


# ---- cheapest next points --------------------------------------------------------------------------------

# What one step costs, cheapest first.
EFFORTS: dict[str, str] = {
    "reconfirm_carried": "carried over from the previous review: re-confirm it if it still holds",
    "confirm_automated": "check runs already cover it: confirm it as automated",
    "confirm_evidence": "app evidence is already attached: confirm it as manual",
    "run_analysis": "an analysis in this app can evidence it: run it, attach, confirm as manual",
    "add_to_ci": "`explore check` covers it: run it in CI, then confirm as automated",
    "document": "document how the team does it (text and links), confirm as manual",
    "automate": "automate it outside the app, then confirm as automated",
}
EFFORT_RANK = {k: i for i, k in enumerate(EFFORTS)}


@dataclass(frozen=True)
class NextStep:
    """One step on one test: its section, the status change, what it takes, and the final score after it."""

    test_id: str
    section: str
    from_status: str
    to_status: str
    effort: str  # a key of EFFORTS
    section_after: float
    final_after: float  # the final score if this step alone is taken

    final_before: float  # the final score now

    @property
    def raises_final(self) -> bool:
        """Whether this step alone raises the final score (False when another section ties at the minimum)."""
        return self.final_after > self.final_before


@dataclass(frozen=True)
class NextPoints:
    """Where the next points are cheapest.

    ``steps``: the cheapest step of every test not yet automated in the limiting sections, cheapest first.
    ``plan``: one cheapest step per limiting section — the fewest steps that raise the final score
    (when several sections tie at the minimum, one step alone cannot raise it). ``final_after_plan`` is the
    final score after the plan.
    """

    final: float
    limiting: tuple[str, ...]
    steps: tuple[NextStep, ...]
    plan: tuple[NextStep, ...]
    final_after_plan: float


def _cheapest_step(
    test: RubricTest,
    status: str,
    proposal: Proposal | None,
    runnable: Mapping[str, str | None],
    automatable: Collection[str],
    carried: str | None = None,
) -> tuple[str, str] | None:
    """(to_status, effort) of the cheapest single step up for this test, or None when it is automated."""
    if status == "automated":
        return None
    if carried is not None and STATUS_RANK[carried] > STATUS_RANK[status]:
        return carried, "reconfirm_carried"
    if proposal is not None and proposal.runs:
        return "automated", "confirm_automated"
    if status == "not_done" and proposal is not None and proposal.snapshots:
        return "manual", "confirm_evidence"
    if status == "not_done" and runnable.get(test.id, "") is None:
        return "manual", "run_analysis"
    if status == "manual" and test.id in automatable:
        return "automated", "add_to_ci"
    if status == "not_done":
        return "manual", "document"
    return "automated", "automate"


def cheapest_next_points(
    statuses: Mapping[str, str],
    *,
    proposals_by_test: Mapping[str, Proposal] | None = None,
    runnable: Mapping[str, str | None] | None = None,
    automatable: Collection[str] = (),
    carried: Mapping[str, str] | None = None,
) -> NextPoints:
    """Rank the single steps that raise the score soonest and cheapest.

    ``proposals_by_test`` (from :func:`proposals`), ``runnable`` (from :func:`runnable_here`) and
    ``automatable`` (test ids `explore check` covers on this workspace) decide what each step costs: a step
    already backed by check runs or app evidence is cheapest, then an analysis runnable here, then CI,
    then work outside the app; cheapest of all is re-confirming a test ``carried`` over (test id -> status)
    from the previous review. Steps are listed for the limiting sections only, since only they can raise
    the final score (the minimum).
    """
    current = rubric_score(statuses)
    full = current.statuses
    proposals_by_test = proposals_by_test or {}
    runnable = runnable or {}
    steps: list[NextStep] = []
    for sec in current.limiting:
        for test in tests_in(sec):
            found = _cheapest_step(
                test,
                full[test.id],
                proposals_by_test.get(test.id),
                runnable,
                automatable,
                (carried or {}).get(test.id),
            )
            if found is None:
                continue
            to_status, effort = found
            after = rubric_score({**full, test.id: to_status})
            steps.append(
                NextStep(
                    test_id=test.id,
                    section=sec,
                    from_status=full[test.id],
                    to_status=to_status,
                    effort=effort,
                    section_after=after.sections[sec],
                    final_after=after.final,
                    final_before=current.final,
                )
            )
    order = {k: i for i, k in enumerate(SECTION_KEYS)}

    def last_run_failed(step: NextStep) -> bool:
        # Among tests already automated by check runs, those whose last run passed come first: confirming
        # a test whose check fails is honest (it runs) but leaves a problem to fix first.
        p = proposals_by_test.get(step.test_id)
        return bool(p is not None and p.last_run is not None and p.last_run.outcome != "passed")

    steps.sort(
        key=lambda s: (
            EFFORT_RANK[s.effort],
            last_run_failed(s),
            -s.final_after,
            order[s.section],
            TESTS_BY_ID[s.test_id].number,
        )
    )
    plan: list[NextStep] = []
    for sec in current.limiting:
        first = next((s for s in steps if s.section == sec), None)
        if first is not None:
            plan.append(first)
    after_plan = (
        rubric_score({**full, **{s.test_id: s.to_status for s in plan}}).final if plan else current.final
    )
    return NextPoints(current.final, current.limiting, tuple(steps), tuple(plan), after_plan)


# ---- exports ---------------------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        v = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC).isoformat()
    return None if value is None else str(value)


def review_to_dict(
    state: ReviewState,
    *,
    snapshot_rows: Mapping[int, Mapping[str, Any]] | None = None,
    history: Sequence[AuditEvent] = (),
    exported_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The review as a JSON-able dict: scale, score, every test with its evidence and confirmer, history.

    ``snapshot_rows``: snapshot id -> store row, for the snapshots the entries cite (embedded so that the
    evidence travels with the file).
    """
    s = state.score()
    snapshot_rows = snapshot_rows or {}
    tests = []
    for test in TESTS:
        e = state.entry(test.id)
        confirmed = test.id in state.entries
        tests.append(
            {
                "id": test.id,
                "section": test.section,
                "number": test.number,
                "name": test.name,
                "status": s.statuses[test.id],
                "points": POINTS[s.statuses[test.id]],
                "evidence_text": e.evidence_text if e else "",
                "links": list(e.links) if e else [],
                "snapshots": [
                    _snapshot_export(snapshot_rows[i]) if i in snapshot_rows else {"id": i, "missing": True}
                    for i in (e.snapshot_ids if e else ())
                ],
                "confirmed_by": e.author if e and confirmed else None,
                "confirmed_at": _iso(e.created_at) if e and confirmed else None,
                "carried_from": e.carried_from if e and not confirmed else None,
                "carried_status": e.status if e and not confirmed else None,
            }
        )
    return {
        "format": JSON_FORMAT,
        "format_version": JSON_FORMAT_VERSION,
        "scale": SCALE,
        "scale_rules": SCALE_RULES,
        "exported_at": _iso(exported_at or dt.datetime.now(dt.UTC)),
        "review": {
            "name": state.name,
            "model_version": state.model_version,
            "created_at": _iso(state.created_at),
            "author": state.author,
            "parent": state.parent_name,
        },
        "score": {
            "final": s.final,
            "band": s.band.words,
            "band_interval": s.band.interval,
            "sections": dict(s.sections),
            "limiting": list(s.limiting),
        },
        "tests": tests,
        "history": [
            {
                "entry_id": ev.entry_id,
                "test_id": ev.test_id,
                "author": ev.author,
                "at": _iso(ev.created_at),
                "from": ev.previous_status,
                "to": ev.status,
                "evidence_text": ev.evidence_text,
                "links": list(ev.links),
                "snapshot_ids": list(ev.snapshot_ids),
                "final_after": ev.final_after,
            }
            for ev in history
        ],
    }


def _snapshot_export(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "kind",
        "tests",
        "title",
        "params",
        "result",
        "model_fingerprint",
        "data_fingerprint",
        "source",
        "author",
        "workspace",
    )
    out = {k: row.get(k) for k in keys}
    out["created_at"] = _iso(row.get("created_at"))
    return out


def review_to_json(state: ReviewState, **kwargs: Any) -> str:
    """:func:`review_to_dict` as JSON text (sorted keys, 2-space indent)."""
    return json.dumps(json.loads(to_json(review_to_dict(state, **kwargs))), indent=2, sort_keys=True) + "\n"


def _snapshot_line(snap: Mapping[str, Any]) -> str:
    if snap.get("missing"):
        return f"#{snap['id']} (not in this store)"
    when = (snap.get("created_at") or "")[:16].replace("T", " ")
    return f"#{snap['id']} {snap.get('title', '')} ({snap.get('source', 'app')}, {when} UTC)"


def review_to_markdown(data: Mapping[str, Any], *, next_points: NextPoints | None = None) -> str:
    """A Markdown report of an exported review (:func:`review_to_dict`): score, sections, every test."""
    sc = data["score"]
    lines = [
        f"# ML Test Score — {md_escape(data['review']['name'])}",
        "",
        f"Model version: {md_escape(data['review']['model_version'])} · review started {(data['review']['created_at'] or '')[:10]}"
        + (f" from “{md_escape(data['review']['parent'])}”" if data["review"].get("parent") else "")
        + f" · exported {(data['exported_at'] or '')[:16].replace('T', ' ')} UTC",
        "",
        f"**Final score: {sc['final']:g}** (band {sc['band_interval']}: {sc['band']}).",
        "",
        f"Scale: {SCALE_TITLE}. {SCALE_RULES} {SCALE_NOT_2016}",
        "",
    ]
    section_rows = []
    for sec in SECTIONS:
        statuses = [t["status"] for t in data["tests"] if t["section"] == sec.key]
        mark = " ⬅ limiting" if sec.key in sc["limiting"] else ""
        section_rows.append(
            (
                f"{sec.title}{mark}",
                f"{sc['sections'][sec.key]:g} / 7",
                statuses.count("manual"),
                statuses.count("automated"),
                statuses.count("not_done"),
            )
        )
    lines.append(
        markdown_table(section_rows, ["Section", "Score", "Manual", "Automated", "Not done"], align="lrrrr")
    )
    if next_points is not None and next_points.plan:
        lines += ["", "## Cheapest next points", ""]
        for step in next_points.plan:
            t = TESTS_BY_ID[step.test_id]
            lines.append(
                f"- {t.label} — {t.name}: {STATUS_WORDS[step.from_status]} → {STATUS_WORDS[step.to_status]} ({EFFORTS[step.effort]})"
            )
        lines.append(
            f"- Final score after these {len(next_points.plan)} step(s): {next_points.final_after_plan:g}"
        )
    for sec in SECTIONS:
        test_rows = []
        for t in data["tests"]:
            if t["section"] != sec.key:
                continue
            evidence = [md_escape(t["evidence_text"])] if t["evidence_text"] else []
            evidence += [autolink(link) for link in t["links"]]
            evidence += [md_escape(_snapshot_line(s)) for s in t["snapshots"]]
            if t["confirmed_by"]:
                who = f"{t['confirmed_by']}, {t['confirmed_at'][:16].replace('T', ' ')} UTC"
            elif t["carried_from"]:
                who = f"carried over from “{t['carried_from']}” ({STATUS_WORDS[t['carried_status']]}), not re-confirmed"
            else:
                who = "—"
            test_rows.append(
                (
                    f"{SECTION_TITLES[t['section']]} {t['number']}: {t['name']}",
                    STATUS_WORDS[t["status"]],
                    f"{t['points']:g}",
                    Markup("<br>".join(evidence)) if evidence else "—",
                    who,
                )
            )
        lines += [
            "",
            f"## {sec.title} — {sc['sections'][sec.key]:g} / 7",
            "",
            markdown_table(
                test_rows, ["Test", "Status", "Points", "Evidence", "Confirmed by"], align="llrll"
            ),
        ]
    if data.get("history"):
        history_rows = []
        for ev in data["history"]:
            t = TESTS_BY_ID.get(ev["test_id"])
            frm = STATUS_WORDS.get(ev["from"], "—") if ev["from"] else "—"
            history_rows.append(
                (
                    (ev["at"] or "")[:19].replace("T", " "),
                    ev["author"],
                    t.label if t else ev["test_id"],
                    f"{frm} → {STATUS_WORDS.get(ev['to'], ev['to'])}",
                    f"{ev['final_after']:g}",
                )
            )
        lines += [
            "",
            "## Audit trail",
            "",
            markdown_table(
                history_rows, ["When (UTC)", "Who", "Test", "Change", "Score after"], align="llllr"
            ),
        ]
    lines += ["", f"Reference: {PAPER}", ""]
    return "\n".join(lines)


def review_to_html(data: Mapping[str, Any], *, next_points: NextPoints | None = None) -> str:
    """A standalone HTML report of an exported review (:func:`review_to_dict`), all text escaped."""
    return document(
        f"ML Test Score — {data['review']['name']}",
        [
            f"<h1>ML Test Score — {esc(data['review']['name'])}</h1>",
            *review_html_parts(data, next_points=next_points),
        ],
    )


def review_html_parts(
    data: Mapping[str, Any], *, next_points: NextPoints | None = None, heading: int = 2
) -> list[str]:
    """The body of :func:`review_to_html` (score, sections, next points, every test with its evidence and
    confirmer, the audit trail) as HTML parts built from escaped text; ``heading``: the level of its headings
    (the meeting minutes nest it one level down)."""
    e = esc
    sc = data["score"]
    rv = data["review"]
    h = f"h{heading}"
    out = [
        f"<p class='muted'>Model version {e(rv['model_version'])} · started {e((rv['created_at'] or '')[:10])}"
        + (f" from “{e(rv['parent'])}”" if rv.get("parent") else "")
        + f" · exported {e((data['exported_at'] or '')[:16].replace('T', ' '))} UTC</p>",
        f"<p class='score'>{sc['final']:g}</p><p class='band'>Band {e(sc['band_interval'])}: {e(sc['band'])}</p>",
        f"<p class='muted'>Scale: {e(SCALE_TITLE)}. {e(SCALE_RULES)} {e(SCALE_NOT_2016)}</p>",
        "<table><tr><th>Section</th><th>Score</th><th>Manual</th><th>Automated</th><th>Not done</th></tr>",
    ]
    for sec in SECTIONS:
        statuses = [t["status"] for t in data["tests"] if t["section"] == sec.key]
        cls = " class='limiting'" if sec.key in sc["limiting"] else ""
        tag = " (limiting)" if sec.key in sc["limiting"] else ""
        out.append(
            f"<tr{cls}><td>{e(sec.title)}{tag}</td><td>{sc['sections'][sec.key]:g} / 7</td><td>{statuses.count('manual')}</td>"
            f"<td>{statuses.count('automated')}</td><td>{statuses.count('not_done')}</td></tr>"
        )
    out.append("</table>")
    if next_points is not None and next_points.plan:
        out.append(f"<{h}>Cheapest next points</{h}><ul>")
        for step in next_points.plan:
            t = TESTS_BY_ID[step.test_id]
            out.append(
                f"<li>{e(t.label)} — {e(t.name)}: {e(STATUS_WORDS[step.from_status])} → {e(STATUS_WORDS[step.to_status])} ({e(EFFORTS[step.effort])})</li>"
            )
        out.append(
            f"<li>Final score after these {len(next_points.plan)} step(s): {next_points.final_after_plan:g}</li></ul>"
        )
    for sec in SECTIONS:
        out.append(f"<{h}>{e(sec.title)} — {sc['sections'][sec.key]:g} / 7</{h}>")
        out.append(
            "<table><tr><th>Test</th><th>Status</th><th>Points</th><th>Evidence</th><th>Confirmed by</th></tr>"
        )
        for t in data["tests"]:
            if t["section"] != sec.key:
                continue
            ev = [e(t["evidence_text"]).replace("\n", "<br>")] if t["evidence_text"] else []
            for link in t["links"]:
                ev.append(
                    f"<a href='{e(link)}'>{e(link)}</a>"
                    if link.startswith(("http://", "https://"))
                    else e(link)
                )
            ev += [e(_snapshot_line(s)) for s in t["snapshots"]]
            if t["confirmed_by"]:
                who = f"{e(t['confirmed_by'])}<br><span class='muted'>{e(t['confirmed_at'][:16].replace('T', ' '))} UTC</span>"
            elif t["carried_from"]:
                who = f"<span class='muted'>carried over from “{e(t['carried_from'])}” ({e(STATUS_WORDS[t['carried_status']])}), not re-confirmed</span>"
            else:
                who = "—"
            out.append(
                f"<tr><td>{e(SECTION_TITLES[t['section']])} {t['number']}: {e(t['name'])}</td>"
                f"<td class='{e(t['status'])}'>{e(STATUS_WORDS[t['status']])}</td><td>{t['points']:g}</td>"
                f"<td>{'<br>'.join(ev) or '—'}</td><td>{who}</td></tr>"
            )
        out.append("</table>")
    if data.get("history"):
        out.append(
            f"<{h}>Audit trail</{h}><table><tr><th>When (UTC)</th><th>Who</th><th>Test</th><th>Change</th><th>Score after</th></tr>"
        )
        for h in data["history"]:
            t = TESTS_BY_ID.get(h["test_id"])
            frm = STATUS_WORDS.get(h["from"], "—") if h["from"] else "—"
            out.append(
                f"<tr><td>{e((h['at'] or '')[:19].replace('T', ' '))}</td><td>{e(h['author'])}</td>"
                f"<td>{e(t.label if t else h['test_id'])}</td><td>{e(frm)} → {e(STATUS_WORDS.get(h['to'], h['to']))}</td>"
                f"<td>{h['final_after']:g}</td></tr>"
            )
        out.append("</table>")
    out.append(f"<p class='muted'>Reference: {e(PAPER)}</p>")
    return out


# ---- import -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedTest:
    test_id: str
    status: str
    evidence_text: str
    links: tuple[str, ...]
    snapshots: tuple[dict[str, Any], ...]  # embedded snapshot rows (without "missing" ones)
    confirmed_by: str | None
    confirmed_at: str | None


@dataclass(frozen=True)
class ImportedReview:
    """A parsed review file: what was confirmed in it (carried-over, unconfirmed tests are left out)."""

    name: str
    model_version: str
    scale: str  # the file's scale ("2017", or "2016" when rescored)
    rescored: bool
    tests: dict[str, ImportedTest]
    n_carried_skipped: int


def parse_review_json(text: str | bytes, *, rescore: bool = False) -> ImportedReview:
    """Parse and validate a review file written by :func:`review_to_json`.

    Raises RubricError with what is wrong and the fix. A file on the 2016 scale is refused unless
    ``rescore`` (its statuses are then scored on the 2017 scale).
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RubricError(IMPORT_NOT_JSON.format(reason=exc)) from None
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        received = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise RubricError(IMPORT_WRONG_FORMAT.format(received=received, expected=JSON_FORMAT))
    scale = str(data.get("scale", ""))
    if scale != SCALE and not rescore:
        raise RubricError(IMPORT_SCALE_2016.format(received=scale or "unknown"))
    review = data.get("review")
    if not isinstance(review, dict) or not str(review.get("name") or "").strip():
        raise RubricError(
            IMPORT_MALFORMED.format(reason='"review" must hold a non-empty "name"', received=review)
        )
    tests_in_file = data.get("tests")
    if not isinstance(tests_in_file, list):
        raise RubricError(IMPORT_MALFORMED.format(reason='"tests" must be a list', received=tests_in_file))
    tests: dict[str, ImportedTest] = {}
    carried = 0
    for item in tests_in_file:
        if not isinstance(item, dict):
            raise RubricError(IMPORT_MALFORMED.format(reason="each test must be an object", received=item))
        test_id = item.get("id")
        get_test(test_id)
        if test_id in tests:
            raise RubricError(
                IMPORT_MALFORMED.format(reason=f"test {test_id} appears twice", received=test_id)
            )
        status = check_status(test_id, item.get("status"))
        links = item.get("links") or []
        if not isinstance(links, list) or not all(isinstance(link, str) for link in links):
            raise RubricError(
                IMPORT_MALFORMED.format(
                    reason=f"links of {test_id} must be a list of strings", received=links
                )
            )
        if not item.get("confirmed_by") and item.get("carried_from"):
            carried += 1
            continue
        if (
            status == "not_done"
            and not item.get("evidence_text")
            and not links
            and not item.get("confirmed_by")
        ):
            continue  # never touched
        snaps = tuple(s for s in item.get("snapshots") or () if isinstance(s, dict) and not s.get("missing"))
        tests[test_id] = ImportedTest(
            test_id,
            status,
            str(item.get("evidence_text") or ""),
            tuple(_clean_links(links)),
            snaps,
            item.get("confirmed_by"),
            item.get("confirmed_at"),
        )
    return ImportedReview(
        name=" ".join(str(review["name"]).split()),
        model_version=str(review.get("model_version") or "unspecified"),
        scale=scale,
        rescored=scale != SCALE,
        tests=tests,
        n_carried_skipped=carried,
    )


def _same_snapshot(row: Mapping[str, Any] | None, snap: Mapping[str, Any]) -> bool:
    if row is None:
        return False
    return all(
        to_json(row.get(k)) == to_json(snap.get(k))
        for k in ("kind", "title", "result", "model_fingerprint", "data_fingerprint")
    )


def import_review(
    store: Store,
    imported: ImportedReview,
    *,
    author: str,
    name: str | None = None,
    workspace: str | None = None,
) -> int:
    """Create a review from a parsed file (``name`` overrides the file's name; ``workspace``: the workspace.toml
    it is imported into, recorded as :func:`start_review` records it); return its id.

    Each confirmed test becomes an entry by ``author`` whose evidence text notes who confirmed it in the
    file and when. Embedded evidence snapshots are reused when this store holds the same snapshot under
    the same id, else re-created (their parameters record the original id and time).
    """
    review_id = start_review(
        store, name or imported.name, imported.model_version, author=author, workspace=workspace
    )
    for test_id, t in imported.tests.items():
        ids = []
        for snap in t.snapshots:
            existing = store.get_snapshot(int(snap["id"])) if isinstance(snap.get("id"), int) else None
            if _same_snapshot(existing, snap):
                ids.append(int(snap["id"]))
                continue
            params = dict(snap.get("params") or {}) if isinstance(snap.get("params"), dict) else {}
            params["imported_from"] = {
                "id": snap.get("id"),
                "created_at": snap.get("created_at"),
                "author": snap.get("author"),
            }
            ids.append(
                store.add_snapshot(
                    workspace=str(snap.get("workspace") or ""),
                    kind=str(snap.get("kind") or "imported"),
                    tests=[x for x in snap.get("tests") or [test_id] if x in TESTS_BY_ID] or [test_id],
                    title=str(snap.get("title") or "imported evidence"),
                    params=params,
                    result=snap.get("result"),
                    model_fingerprint=str(snap.get("model_fingerprint") or ""),
                    data_fingerprint=str(snap.get("data_fingerprint") or ""),
                    source=snap.get("source") if snap.get("source") in ("app", "check") else "app",
                )
            )
        note = ""
        if t.confirmed_by:
            note = f"[imported: confirmed by {t.confirmed_by} at {t.confirmed_at or '?'}" + (
                f", rescored from the {imported.scale} scale]" if imported.rescored else "]"
            )
        kept = t.evidence_text
        if note and kept.splitlines() and kept.splitlines()[-1].startswith("[imported: "):
            kept = "\n".join(kept.splitlines()[:-1])  # an earlier import's note: keep only the newest
        text = "\n".join(p for p in (kept, note) if p)
        confirm_test(
            store,
            review_id,
            test_id,
            status=t.status,
            author=author,
            evidence_text=text,
            links=t.links,
            snapshot_ids=ids,
        )
    return review_id


# ---- check reports (from `explore check`) ----------------------------------------------------------------


def parse_check_report(text: str | bytes) -> dict[str, Any]:
    """Parse and validate a JSON report written by ``explore check``; return it as a dict."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RubricError(
            CHECK_REPORT_MALFORMED.format(reason=f"not JSON ({exc})", received=str(text)[:80])
        ) from None
    if not isinstance(data, dict) or data.get("format") != CHECK_REPORT_FORMAT:
        received = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise RubricError(CHECK_REPORT_WRONG.format(received=received, expected=CHECK_REPORT_FORMAT))
    if data.get("scale", SCALE) != SCALE:
        raise RubricError(
            CHECK_REPORT_MALFORMED.format(
                reason=f"scale {data.get('scale')!r} is not {SCALE}", received=data.get("scale")
            )
        )
    for key in ("run_id", "started_at", "finished_at", "exit_code", "checks"):
        if key not in data:
            raise RubricError(
                CHECK_REPORT_MALFORMED.format(reason=f"the key {key!r} is missing", received=sorted(data))
            )
    if not isinstance(data["checks"], list):
        raise RubricError(
            CHECK_REPORT_MALFORMED.format(reason='"checks" must be a list', received=data["checks"])
        )
    for key in ("started_at", "finished_at"):
        _parse_time(data[key], key)
    if isinstance(data["exit_code"], bool) or not isinstance(data["exit_code"], int):
        raise RubricError(
            CHECK_REPORT_MALFORMED.format(reason='"exit_code" must be an integer', received=data["exit_code"])
        )
    return data


def _parse_time(value: Any, key: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise RubricError(
            CHECK_REPORT_MALFORMED.format(reason=f"{key!r} is not an ISO timestamp", received=value)
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def record_check_report(store: Store, report: Mapping[str, Any], *, workspace: str) -> tuple[int, bool]:
    """Record a parsed check report as a check run of ``workspace``; return (run id, newly added).

    A report already in the store (same ``run_id``) is not added twice.
    """
    for row in store.list_check_runs():
        if (row.get("report") or {}).get("run_id") == report["run_id"]:
            return int(row["id"]), False
    run_id = store.add_check_run(
        workspace=workspace,
        started_at=_parse_time(report["started_at"], "started_at"),
        finished_at=_parse_time(report["finished_at"], "finished_at"),
        exit_code=int(report["exit_code"]),
        report=dict(report),
    )
    return run_id, True


@dataclass(frozen=True)
class CheckRuns:
    """`explore check` runs as the store keeps them (``id``, ``finished_at``, ``exit_code``, ``workspace``,
    ``report``), oldest first."""

    runs: tuple[dict[str, Any], ...]

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.runs)

    def to_frame(self) -> pd.DataFrame:
        """One row per run: id, finished_at, exit_code, checks_run (checks that passed or failed), review."""
        import pandas as pd

        rows = []
        for r in self.runs:
            report = r.get("report") or {}
            checks = report.get("checks") or []
            rows.append(
                {
                    "id": int(r["id"]),
                    "finished_at": r["finished_at"],
                    "exit_code": int(r["exit_code"]),
                    "checks_run": sum(c.get("status") in ("passed", "failed") for c in checks),
                    "review": report.get("review"),
                }
            )
        return pd.DataFrame(rows, columns=["id", "finished_at", "exit_code", "checks_run", "review"])


def runs_for(
    run_rows: Iterable[Mapping[str, Any]], *, workspace_path: str, workspace_name: str, review: str | None
) -> CheckRuns:
    """The check runs that concern this workspace (same path, or same folder name when CI checked out
    elsewhere) and this review (runs tagged with another review's name are left out)."""
    out = []
    for row in run_rows:
        report = row.get("report") or {}
        ws = report.get("workspace") or {}
        same = row.get("workspace") == workspace_path or ws.get("name") == workspace_name
        tagged = report.get("review")
        if same and (not tagged or review is None or tagged == review):
            out.append(dict(row))
    return CheckRuns(tuple(out))


__all__ = [
    "BANDS",
    "EFFORTS",
    "PAPER",
    "POINTS",
    "SCALE",
    "SCALE_NOT_2016",
    "SCALE_RULES",
    "SCALE_TITLE",
    "SECTIONS",
    "STATUSES",
    "STATUS_WORDS",
    "TESTS",
    "TEST_IDS",
    "AuditEvent",
    "Band",
    "CheckRuns",
    "Entry",
    "HistoryPoint",
    "ImportedReview",
    "ScoreHistory",
    "NextPoints",
    "NextStep",
    "Proposal",
    "ReviewState",
    "RubricConflict",
    "RubricError",
    "RubricScore",
    "RubricTest",
    "audit_trail",
    "band_for",
    "cheapest_next_points",
    "confirm_test",
    "get_test",
    "import_review",
    "load_review",
    "parse_check_report",
    "parse_links",
    "parse_review_json",
    "proposals",
    "record_check_report",
    "review_to_dict",
    "review_to_html",
    "review_to_json",
    "review_to_markdown",
    "runnable_here",
    "rubric_score",
    "runs_for",
    "score_history",
    "start_review",
    "tests_in",
]
