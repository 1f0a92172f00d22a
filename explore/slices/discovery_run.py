"""A weak-slice search kept between runs of a page: the settings it ran with (so the page can say when they
changed since) and how a found slice becomes the filter."""

from __future__ import annotations

from dataclasses import dataclass

from .definition import SliceDefinition
from .report import DiscoveryResult, LossName, SliceTest


@dataclass(frozen=True)
class DiscoverySettings:
    """What a search was asked. ``data_key``: the scored data's identity (``Scored.cache_key``);
    ``within``: the slice searched inside (None: all rows)."""

    data_key: str
    within: SliceDefinition | None
    fdr: float
    min_support: int
    max_conditions: int
    loss: LossName
    columns: tuple[str, ...]
    test: SliceTest = "auto"


@dataclass(frozen=True)
class DiscoveryRun:
    """A search's result with the settings it ran with."""

    settings: DiscoverySettings
    result: DiscoveryResult

    def is_stale(self, settings: DiscoverySettings) -> bool:
        """True when ``settings`` differ from the ones the result was computed with."""
        return self.settings != settings

    def found_slice(self, index: int, current: SliceDefinition) -> SliceDefinition:
        """Found slice ``index`` as a filter, named as found. A search inside ``current`` adds its conditions to
        ``current`` (replacing any on the same column); a search of all rows gives the found slice alone."""
        found = self.result.definitions[index]
        base = current if self.settings.within is not None else SliceDefinition()
        for cond in found.conditions:
            base = base.with_condition(cond)
        return SliceDefinition(base.conditions, found.name)
