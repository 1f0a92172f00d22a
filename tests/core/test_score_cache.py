"""Predictions cached on disk beside the workspace: equal to scoring, reused across processes, invalidated by
the model's bytes, the data and the settings, written atomically, safe with concurrent writers, a damaged file
rewritten, an unwritable folder kept in memory with a note."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explore.core import score_cache
from explore.core.score_cache import CACHE_FOLDER, cache_path, score_cached
from explore.core.workspace import Workspace, open_workspace, read_workspace, score, score_unlabeled
from tests.helpers import frame, make_workspace

ROOT = Path(__file__).resolve().parents[2]


def open_(path: Path) -> Workspace:
    return open_workspace(read_workspace(path))


def assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.pred, b.pred)
    assert a.pred.dtype == b.pred.dtype
    for x, y in ((a.proba, b.proba), (a.score, b.score)):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.unavailable == b.unavailable and a.n_unlabeled == b.n_unlabeled and a.n == b.n


def cache_files(toml: Path) -> list[Path]:
    return sorted((toml.parent / CACHE_FOLDER).glob("*"))


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_cached_outputs_equal_scoring_and_the_second_call_reads_the_file(tmp_path, task):
    ws = open_(make_workspace(tmp_path, task=task))
    first = score_cached(ws, "validation")
    assert first.source == "scored" and first.path.exists() and first.note is None
    again = score_cached(open_(tmp_path / "workspace.toml"), "validation")
    assert again.source == "disk" and again.path == first.path
    reference = score(ws, "validation")
    assert_same(first.scored, reference)
    assert_same(again.scored, reference)
    assert again.scored.cache_key == reference.cache_key


def test_labelled_and_unlabelled_rows_are_kept_apart(tmp_path):
    df = frame(400)
    valid = df.iloc[300:].copy()
    valid.loc[valid.index[::7], "income"] = None
    toml = make_workspace(tmp_path, datasets={"train": df.iloc[:300], "validation": valid})
    ws = open_(toml)
    for _ in range(2):
        labelled = score_cached(ws, "validation")
        unlabelled = score_cached(ws, "validation", labelled=False)
        assert labelled.path != unlabelled.path
        assert_same(labelled.scored, score(ws, "validation"))
        assert_same(unlabelled.scored, score_unlabeled(ws, "validation"))
    assert labelled.source == unlabelled.source == "disk"


def test_a_new_process_reuses_what_another_wrote(tiny_copy):
    first = score_cached(open_(tiny_copy), "validation")
    assert first.source == "scored"
    code = textwrap.dedent(
        f"""
        from explore.core.workspace import open_workspace, read_workspace
        from explore.core.score_cache import score_cached
        got = score_cached(open_workspace(read_workspace({str(tiny_copy)!r})), "validation")
        print(got.source, got.path)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["disk", str(first.path)]


def test_another_model_file_misses_the_cache(tmp_path):
    toml = make_workspace(tmp_path)
    first = score_cached(open_(toml), "validation")
    # Refit on other rows: a different model file under the same name.
    other = make_workspace(tmp_path / "other", datasets={"train": frame(400, seed=5)[:300]})
    shutil.copy(other.parent / "model.skops", tmp_path / "model.skops")
    ws = open_(toml)
    second = score_cached(ws, "validation")
    assert second.source == "scored" and second.path != first.path
    assert_same(second.scored, score(ws, "validation"))


def test_edited_data_misses_the_cache(tmp_path):
    toml = make_workspace(tmp_path)
    first = score_cached(open_(toml), "validation")
    data = pd.read_csv(tmp_path / "validation.csv")
    data.loc[0, "age"] = data.loc[0, "age"] + 10
    data.to_csv(tmp_path / "validation.csv", index=False)
    ws = open_(toml)
    second = score_cached(ws, "validation")
    assert second.source == "scored" and second.path != first.path
    assert_same(second.scored, score(ws, "validation"))


def test_a_big_file_is_versioned_by_size_and_mtime(tmp_path, monkeypatch):
    toml = make_workspace(tmp_path)
    monkeypatch.setattr(score_cache, "CONTENT_HASH_BYTES", 0)  # every file counts as big
    ws = open_(toml)
    before = cache_path(ws, "validation")
    path = tmp_path / "validation.csv"
    stat = path.stat()
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache_path(open_(toml), "validation") != before


def test_a_setting_that_changes_the_outputs_misses_the_cache(tmp_path):
    toml = make_workspace(tmp_path)
    ws = open_(toml)
    before = cache_path(ws, "validation")
    text = toml.read_text()
    other = [c for c in ws.classes.tolist() if c != ws.positive][0]
    toml.write_text(text.replace("[columns]", f"[columns]\npositive = {other!r}", 1).replace("'", '"'))
    flipped = open_(toml)
    assert flipped.positive == other
    assert cache_path(flipped, "validation") != before
    got = score_cached(flipped, "validation")
    assert got.source == "scored"
    assert_same(got.scored, score(flipped, "validation"))


@pytest.mark.parametrize(
    "damage",
    [b"", b"not parquet at all", "truncate"],
    ids=["empty", "garbage", "truncated"],
)
def test_a_damaged_cache_file_is_ignored_and_rewritten(tiny_copy, damage):
    ws = open_(tiny_copy)
    first = score_cached(ws, "validation")
    raw = first.path.read_bytes()
    first.path.write_bytes(raw[: len(raw) // 2] if damage == "truncate" else damage)
    again = score_cached(ws, "validation")
    assert again.source == "scored" and again.note is None
    assert_same(again.scored, first.scored)
    assert score_cached(ws, "validation").source == "disk"


def test_a_cache_file_for_other_rows_is_not_used(tiny_copy):
    """A file with the right name but the wrong number of rows (written by hand, or by a bug) is a miss."""
    ws = open_(tiny_copy)
    first = score_cached(ws, "validation")
    pd.read_parquet(first.path).head(3).to_parquet(first.path)
    again = score_cached(ws, "validation")
    assert again.source == "scored"
    assert_same(again.scored, first.scored)


def test_an_unwritable_folder_keeps_the_predictions_in_memory_with_a_note(tiny_copy):
    # A file where the cache folder should be: it cannot be created (this works as root too, unlike chmod).
    (tiny_copy.parent / CACHE_FOLDER).write_text("in the way")
    ws = open_(tiny_copy)
    got = score_cached(ws, "validation")
    assert got.source == "memory"
    assert got.note.startswith("Predictions are kept in memory only: the cache folder")
    assert str(tiny_copy.parent / CACHE_FOLDER) in got.note and "\n" not in got.note
    assert_same(got.scored, score(ws, "validation"))


def test_a_workspace_built_in_memory_is_not_cached_on_disk(tmp_path):
    toml = make_workspace(tmp_path)
    disk = open_(toml)
    ws = Workspace.from_frames(
        model=disk.model(), datasets={"validation": disk.dataset("validation")}, label="income"
    )
    got = score_cached(ws, "validation")
    assert got.source == "uncached" and got.path is None
    assert_same(got.scored, score(ws, "validation"))


def test_predictions_only_workspaces_are_not_cached(tmp_path):
    df = frame(300)
    df["pred"] = df["income"]
    toml = make_workspace(
        tmp_path, model=None, datasets={"validation": df}, columns={"label": "income", "prediction": "pred"}
    )
    ws = open_(toml)
    got = score_cached(ws, "validation", None)
    assert got.source == "uncached" and not cache_files(toml)


def _score_in_process(toml: str) -> tuple[str, bytes]:
    got = score_cached(open_workspace(read_workspace(toml)), "validation")
    return got.source, got.scored.proba.tobytes()


def test_concurrent_writers_leave_one_complete_file_and_no_temporary_ones(tiny_copy):
    with ProcessPoolExecutor(4) as pool:
        results = list(pool.map(_score_in_process, [str(tiny_copy)] * 8))
    assert {proba for _, proba in results} == {results[0][1]}
    assert {source for source, _ in results} <= {"scored", "disk"}
    files = cache_files(tiny_copy)  # no temporary file left: the predictions and the two models' facts
    assert [f.name.split("-")[0] for f in files] == ["model", "model", "predictions"]
    assert score_cached(open_(tiny_copy), "validation").source == "disk"


def test_old_versions_are_pruned(tiny_copy, monkeypatch):
    monkeypatch.setattr(score_cache, "KEEP_FILES", 2)
    ws = open_(tiny_copy)
    for name in ws.dataset_names:
        score_cached(ws, name)
    assert len([f for f in cache_files(tiny_copy) if f.name.startswith("predictions-")]) == 2


# ---- the overall metrics kept beside the predictions ---------------------------------------------------


def _no_metrics(monkeypatch) -> None:
    from explore.stats import metrics

    def refuse(*args, **kwargs):
        raise AssertionError("the metrics were computed again")

    monkeypatch.setattr(metrics, "overall_metrics", refuse)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_overall_metrics_are_kept_and_read_back_equal(tmp_path, monkeypatch, task):
    from explore.stats.metrics import overall_metrics

    toml = make_workspace(tmp_path, task=task)
    ws = open_(toml)
    expected = overall_metrics(score(ws, "validation"))
    first = score_cache.overall_cached(ws, "validation")
    pd.testing.assert_frame_equal(first, expected)
    path = score_cache.metrics_path(ws, "validation")
    assert path.exists() and path.name.startswith("metrics-")
    _no_metrics(monkeypatch)
    again = score_cache.overall_cached(open_(toml), "validation")  # another start: read, not computed
    pd.testing.assert_frame_equal(again, expected)
    with pytest.raises(AssertionError, match="computed again"):
        score_cache.overall_cached(open_(toml), "train")  # another dataset: not kept yet


def test_kept_metrics_follow_the_model_the_data_and_the_metrics_code(tmp_path, monkeypatch):
    toml = make_workspace(tmp_path)
    ws = open_(toml)
    score_cache.overall_cached(ws, "validation")
    before = score_cache.metrics_path(ws, "validation")
    # explore/stats/metrics.py or the installed SciPy changed:
    monkeypatch.setattr(score_cache, "_METRICS_CODE", ["changed"])
    assert score_cache.metrics_path(ws, "validation") != before
    monkeypatch.undo()
    df = pd.read_csv(tmp_path / "validation.csv")
    other = next(v for v in df["income"].unique() if v != df.loc[0, "income"])
    df.loc[0, "income"] = other  # one label changed: the metrics must change with it
    df.to_csv(tmp_path / "validation.csv", index=False)
    changed = open_(toml)
    assert score_cache.metrics_path(changed, "validation") != before
    from explore.stats.metrics import overall_metrics

    pd.testing.assert_frame_equal(
        score_cache.overall_cached(changed, "validation"), overall_metrics(score(changed, "validation"))
    )


def test_damaged_kept_metrics_are_computed_again(tiny_copy):
    ws = open_(tiny_copy)
    expected = score_cache.overall_cached(ws, "validation")
    path = score_cache.metrics_path(ws, "validation")
    for damage in (b"", b"PAR1 not parquet", path.read_bytes()[:100]):
        path.write_bytes(damage)
        pd.testing.assert_frame_equal(score_cache.overall_cached(open_(tiny_copy), "validation"), expected)
        assert path.read_bytes()[:4] == b"PAR1" and len(path.read_bytes()) > 200


def test_metrics_of_predictions_only_workspaces_are_not_kept(tmp_path):
    df = frame(300)
    df["pred"] = df["income"]
    toml = make_workspace(
        tmp_path, model=None, datasets={"validation": df}, columns={"label": "income", "prediction": "pred"}
    )
    ws = open_(toml)
    assert score_cache.overall_cached(ws, "validation", None)["metric"].iloc[0] == "accuracy"
    assert score_cache.metrics_path(ws, "validation", "current") is None and not cache_files(toml)
