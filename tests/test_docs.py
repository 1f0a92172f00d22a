"""README stays in step with the code: every workspace.toml key the parser knows is documented, and back."""

from __future__ import annotations

import re
import tomllib

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
