"""No public name of explore's packages changes meaning silently.

Within a package: a name is listed once and is not also a submodule (``lazy_exports`` refuses both: the last
listing would win, and importing the submodule would replace the function by the module). Across packages: a
name public in two places is the same object, except the two kinds of counterpart that say so in their docs —
the top-level notebook calls (``explore.notebook``: the same analysis, on a workspace) and the out-of-core
engine's analyses (``explore.engine``: the same analysis, by DuckDB queries).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict

import pytest

import explore
from explore._lazy import lazy_exports

PACKAGES = ["explore"] + [f"explore.{m.name}" for m in pkgutil.iter_modules(explore.__path__) if m.ispkg]
COUNTERPARTS = ("explore.notebook", "explore.engine.")


def _public() -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for package in PACKAGES:
        for name in importlib.import_module(package).__all__:
            where[name].append(package)
    return where


def test_every_package_is_checked():
    assert {"explore.slices", "explore.engine", "explore.rubric", "explore.core"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_public_name_is_a_submodule(package):
    module = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    assert not set(module.__all__) & submodules


def test_lazy_exports_refuse_a_name_listed_twice_or_named_like_a_submodule():
    with pytest.raises(ValueError, match="'run' of b collides with a"):
        lazy_exports("pkg", {"a": ["run"], "b": ["run"]})
    with pytest.raises(ValueError, match="'report' of a collides with the submodule report"):
        lazy_exports("pkg", {"a": ["report"], "report": ["x"]})
    with pytest.raises(ValueError, match="submodule cli"):
        lazy_exports("pkg", {"a": ["cli"]}, submodules=["cli"])


def test_a_name_public_in_two_packages_means_one_thing():
    clashes = []
    for name, packages in _public().items():
        if len(packages) < 2:
            continue
        objects = [getattr(importlib.import_module(p), name) for p in packages]
        owners = {getattr(o, "__module__", "") for o in objects}
        if len({id(o) for o in objects}) == 1:
            continue
        others = [m for m in owners if not m.startswith(COUNTERPARTS)]
        if len(others) > 1:  # two different objects, neither a declared counterpart
            clashes.append((name, sorted(owners)))
    assert not clashes
