"""The docs stay in step with the code: every workspace.toml key the parser knows is documented in README, and
back; every environment variable, every `explore check` option and every module of explore/ too."""

from __future__ import annotations

import re
import tomllib

import pytest

from explore.core.settings import SETTINGS
from explore.core.workspace import DATASET_ENTRY_KEYS, MODEL_KEYS, SCHEMA, SECTIONS, parse_workspace
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _reference_rows() -> set[tuple[str, str]]:
    rows = set()
    for section, keys in re.findall(r"^\| `\[([^\]]+)\]` \| ([^|]+) \|", README, flags=re.M):
        for key in re.findall(r"`([^`]+)`", keys):
            rows.add((section, key))
    return rows


def test_every_key_is_documented_and_nothing_else():
    documented = _reference_rows()
    expected = {(section, key) for section, keys in SCHEMA.items() for key in keys}
    expected |= {("models.<name>", key) for key in MODEL_KEYS}
    expected |= {("datasets", "<name>")}
    expected |= {("datasets.<name>", key) for key in DATASET_ENTRY_KEYS}
    assert documented == expected


def test_readme_example_parses(tmp_path):
    block = re.search(r"### workspace.toml reference.*?```toml\n(.*?)```", README, flags=re.S).group(1)
    data = tomllib.loads(block)
    assert set(data) == set(SECTIONS)
    config = parse_workspace(data, tmp_path / "workspace.toml")
    assert set(config.models) == {"current", "previous"}


def test_readme_states_the_two_commands():
    assert "pip install -e . && explore" in README
    assert 'pip install -e ".[test]" && python -m pytest' in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest' in ci


def test_every_page_has_a_guide_or_section():
    for page in sorted((ROOT / "views").glob("*.py")):
        title = page.stem.capitalize()
        assert f"| {title} |" in README, f"README's page table lacks {title}"


# ---- environment variables, `explore check` options and modules are documented ---------------------------


def _env_rows() -> set[str]:
    section = re.search(r"^### Environment variables\n(.*?)^#", README, flags=re.S | re.M).group(1)
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, flags=re.M))


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_environment_variable_is_documented(setting):
    assert setting.name in _env_rows(), f"README's environment-variable table lacks {setting.name}"


def test_the_environment_table_lists_only_real_variables():
    assert _env_rows() <= {s.name for s in SETTINGS}


def _check_options() -> list[str]:
    from explore.checks.registry import _parser

    return sorted(
        option
        for action in _parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    )


# The options are documented where `explore check` is: its reference in docs/rubric.md, the Checks guide and README.
CHECK_DOCS = {
    name: (ROOT / name).read_text(encoding="utf-8") for name in ("docs/checks.md", "docs/rubric.md")
}
CHECK_DOCS["README.md"] = README


@pytest.mark.parametrize("option", _check_options())
def test_every_explore_check_option_is_documented(option):
    named = re.compile(rf"(?<![\w-]){re.escape(option)}(?![\w-])")
    assert any(named.search(text) for text in CHECK_DOCS.values()), (
        f"`explore check {option}` is documented in none of {', '.join(CHECK_DOCS)}"
    )


def _explore_modules() -> list[str]:
    explore = ROOT / "explore"
    return sorted(str(p.relative_to(explore)) for p in explore.rglob("*.py") if not p.name.startswith("__"))


def _architecture_tree() -> set[str]:
    """The modules docs/architecture.md's tree names: ``x.py`` under a ``pkg/`` heading of the ``explore/`` block
    is ``pkg/x.py``; directly under ``explore/`` it is ``x.py``; a ``pkg/x.py`` path anywhere counts too."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = re.search(r"```\n(.*?)```", text, flags=re.S).group(1)
    named: set[str] = set(re.findall(r"(?<![\w/])explore/([\w/]+\.py)", text))
    named |= set(re.findall(r"(?<![\w/.])([a-z_]+/[a-z_]+\.py)", text))
    inside, package = False, None
    for line in tree.splitlines():
        if re.match(r"^explore/\s", line):
            inside, package = True, None
            continue
        if inside and re.match(r"^\S", line):  # the next top-level folder (tests/, benchmarks/)
            break
        if not inside:
            continue
        head = re.match(r"^  ([a-z_]+)/\s", line)
        if head:
            package = head.group(1)
        files = re.findall(r"(?<![\w/.])([a-z_]+\.py)\b", line.split("  ", 2)[-1] if head else line)
        top = re.match(r"^  ([a-z_]+\.py)\s", line)
        if top:
            named.add(top.group(1))
            package = None
            continue
        for f in files:
            named.add(f"{package}/{f}" if package else f)
    return named


@pytest.mark.parametrize("module", _explore_modules())
def test_every_module_is_named_in_the_architecture_doc(module):
    """Every module of explore/ appears in docs/architecture.md's tree under its package (or as a path)."""
    assert module in _architecture_tree(), f"docs/architecture.md does not name explore/{module}"


def test_the_architecture_doc_names_no_module_that_does_not_exist():
    packages = {p.name for p in (ROOT / "explore").iterdir() if p.is_dir() and not p.name.startswith("__")}
    modules = set(_explore_modules())
    stale = sorted(
        n
        for n in _architecture_tree()
        if not n.startswith("__") and (n.split("/")[0] in packages or "/" not in n) and n not in modules
    )
    assert not stale, f"docs/architecture.md names modules that are gone: {stale}"
