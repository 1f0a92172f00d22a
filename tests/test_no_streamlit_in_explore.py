"""explore/ is the computing core that notebooks and `explore check` use: it never imports Streamlit.

Two checks: importing every module of explore/ in a fresh interpreter leaves ``streamlit`` out of
``sys.modules`` (this catches indirect imports too), and no file under explore/ has an import statement
or an ``import_module`` call naming streamlit (this catches imports inside functions that never ran).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

EXPLORE = ROOT / "explore"

_IMPORT_EVERYTHING = """
import importlib, json, pkgutil, sys
import explore

names = ["explore"]
for info in pkgutil.walk_packages(explore.__path__, "explore."):
    if info.name.rsplit(".", 1)[-1] != "__main__":  # running it would run the command
        names.append(info.name)
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "imported": names,
    "streamlit": sorted(m for m in sys.modules if m == "streamlit" or m.startswith("streamlit.")),
}))
"""


def _python_files() -> list:
    return sorted(EXPLORE.rglob("*.py"))


def test_importing_every_explore_module_leaves_streamlit_out():
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERYTHING], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in _python_files()
        if p.stem != "__main__"
    }
    assert set(result["imported"]) == expected  # every module really was imported
    assert result["streamlit"] == []


def _streamlit_imports(tree: ast.AST) -> list[int]:
    """Line numbers of imports of streamlit: statements, and import_module/__import__ calls with a literal."""

    def is_streamlit(name: str | None) -> bool:
        return bool(name) and (name == "streamlit" or name.startswith("streamlit."))

    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Import)
            and any(is_streamlit(a.name) for a in node.names)
            or isinstance(node, ast.ImportFrom)
            and node.level == 0
            and is_streamlit(node.module)
        ):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if (
                name in {"import_module", "__import__"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and is_streamlit(node.args[0].value)
            ):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_explore_file_imports_streamlit(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert _streamlit_imports(tree) == [], f"{path.relative_to(ROOT)} imports streamlit"


@pytest.mark.parametrize(
    "source",
    [
        "import streamlit as st",
        "import os, streamlit.components.v1",
        "from streamlit import session_state",
        "def f():\n    from streamlit.testing.v1 import AppTest",
        "import importlib\nimportlib.import_module('streamlit')",
        "__import__('streamlit')",
    ],
)
def test_the_static_check_sees_every_form_of_import(source):
    assert _streamlit_imports(ast.parse(source)) != []


def test_the_static_check_ignores_mentions():
    source = '"""Never imports streamlit."""\nimport streamlit_like_name\nx = "import streamlit"\n'
    assert _streamlit_imports(ast.parse(source)) == []
