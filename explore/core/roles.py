"""The one rule for which dataset plays which part: training, evaluation, serving.

``workspace.toml`` may say it outright::

    [datasets]
    fit_2023 = { path = "train.parquet", role = "train" }
    holdout = { path = "valid.parquet", role = "evaluation" }
    live = { path = "prod.parquet", role = "serving" }

Datasets without a role fall back to today's naming rule: training data is named ``train``/``training``
(else the first name containing "train"); evaluation is every other dataset, the one explored first being
``validation``/``valid``/``test``/``production`` (else the last); serving data is named ``production``,
``serving``, ``prod`` or ``live``. Every page, ``explore check`` and every analysis ask here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ROLES = ("train", "evaluation", "serving")
_TRAIN_NAMES = ("train", "training")
_EVALUATION_NAMES = ("validation", "valid", "test", "production")
_SERVING_NAMES = ("production", "serving", "prod", "live")


def _names_and_roles(ws: Any) -> tuple[list[str], Mapping[str, str]]:
    config = getattr(ws, "config", ws)  # a Workspace or its WorkspaceConfig
    return list(config.datasets), getattr(config, "dataset_roles", {}) or {}


def _declared(roles: Mapping[str, str], role: str, names: Sequence[str]) -> list[str]:
    return [n for n in names if roles.get(n) == role]


def _first_named(names: Sequence[str], preferred: Sequence[str]) -> str | None:
    lowered = {n.lower(): n for n in names}
    return next((lowered[p] for p in preferred if p in lowered), None)


def training_dataset(ws: Any) -> str | None:
    """The training dataset: the one declared ``role = "train"``, else named like training data, else None."""
    names, roles = _names_and_roles(ws)
    declared = _declared(roles, "train", names)
    if declared:
        return declared[0]
    if roles:  # roles were declared, none of them train: a name alone does not make training data
        return None
    return _first_named(names, _TRAIN_NAMES) or next((n for n in names if "train" in n.lower()), None)


def evaluation_datasets(ws: Any) -> list[str]:
    """The datasets analyses evaluate on by default: those declared ``evaluation`` (or ``serving``), else every
    dataset that is not training data (every dataset when all are)."""
    names, roles = _names_and_roles(ws)
    if roles:
        declared = [n for n in names if roles.get(n) in ("evaluation", "serving")]
        if declared:
            return declared
        return [n for n in names if roles.get(n) != "train"] or names
    return [n for n in names if "train" not in n.lower()] or names


def evaluation_dataset(ws: Any) -> str:
    """The dataset explored first (the sidebar's default): the first declared ``evaluation`` dataset, else
    ``validation``/``valid``/``test``/``production``, else the last dataset."""
    names, roles = _names_and_roles(ws)
    declared = _declared(roles, "evaluation", names)
    if declared:
        return declared[0]
    candidates = evaluation_datasets(ws) if roles else names
    return _first_named(candidates, _EVALUATION_NAMES) or candidates[-1]


def serving_dataset(ws: Any) -> str | None:
    """Logged serving data: the dataset declared ``serving``, else one named production/serving/prod/live."""
    names, roles = _names_and_roles(ws)
    declared = _declared(roles, "serving", names)
    if declared:
        return declared[0]
    if roles:
        return None
    return _first_named(names, _SERVING_NAMES)


def reference_dataset(ws: Any) -> str:
    """What drift compares against by default: the training dataset, else the first dataset."""
    names, _ = _names_and_roles(ws)
    return training_dataset(ws) or names[0]
