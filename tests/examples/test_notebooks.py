"""The example notebooks run top to bottom, offline, on the project's own sample data, and are stored clean."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "examples").glob("*.ipynb"))


def test_there_are_the_four_examples() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_quick_start.ipynb",
        "02_slices_and_discovery.ipynb",
        "03_staleness.ipynb",
        "04_label_spot_check.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    import nbformat

    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("EXPLORE_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")  # never the user's own store
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    shown = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    html = [o for o in shown if "text/html" in o.get("data", {})]
    assert html, "results show themselves as HTML tables"
    # Nothing on stderr: not even tqdm's "IProgress not found" (shap imports tqdm.auto, which asks for ipywidgets
    # in a kernel; explore imports shap with that one warning silenced, explore.importance.explain._shap).
    warnings = [o["text"] for o in shown if o.output_type == "stream" and o.get("name") == "stderr"]
    assert not warnings, warnings
