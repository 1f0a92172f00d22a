"""docs/api.md documents every public name (``explore.__all__`` and each package's ``__all__``), in the spirit
of datasette's test_docs.py: a name without a docstring, or an api.md older than the code, fails here."""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs"))
import make_api  # noqa: E402 - docs/ is not a package

API_MD = ROOT / "docs" / "api.md"


def _public() -> list[tuple[str, str]]:
    return [(p, n) for p in make_api.PACKAGES for n in importlib.import_module(p).__all__]


@pytest.mark.parametrize(("package", "name"), _public(), ids=lambda v: v)
def test_every_public_name_is_documented(package: str, name: str) -> None:
    qualified = f"{package}.{name}"
    assert f"### `{qualified}`" in API_MD.read_text(encoding="utf-8"), (
        f"{qualified} is public but not in docs/api.md: run `python docs/make_api.py`"
    )
    obj = getattr(importlib.import_module(package), name)
    assert qualified in make_api.CONSTANTS or (inspect.getdoc(obj) or "").strip(), (
        f"{qualified} has no docstring: say what it does (or describe the constant in docs/make_api.py)"
    )


def test_api_md_is_up_to_date() -> None:
    assert API_MD.read_text(encoding="utf-8") == make_api.render(), (
        "docs/api.md is older than the code: run `python docs/make_api.py`"
    )
