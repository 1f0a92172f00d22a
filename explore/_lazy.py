"""Lazy public APIs for explore's packages (PEP 562), so ``import explore`` stays cheap.

Each package lists its public names by the submodule that defines them; a name is imported on first use.
Importing the whole scientific stack (shap, scikit-learn) just to draw a chart cost seconds at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]], *, submodules: Sequence[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for ``package`` from ``{submodule: [public names]}``.

    Submodules (the keys, and ``submodules``) are reachable as attributes too (``explore.slices.report``).
    A name listed twice, or named like a submodule, raises ValueError: the attribute would otherwise change
    meaning silently (the last listing wins; importing the submodule replaces the function by the module).
    """
    where: dict[str, str] = {}
    modules = {*(m for m in exports if "." not in m), *submodules}
    for module, names in exports.items():
        for name in names:
            if name in where or name in modules:
                other = f"the submodule {name}" if name in modules else where[name]
                raise ValueError(f"{package}: the public name {name!r} of {module} collides with {other}.")
            where[name] = module
    public = sorted(where)

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        elif name in modules:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return value

    def __dir__() -> list[str]:
        return sorted({*public, *modules})

    return __getattr__, __dir__, public
