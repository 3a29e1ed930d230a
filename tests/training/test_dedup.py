"""The near-duplicate check flags a scene pasted with light edits and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.data import CORPUS_DIR
from training.dedup import corpus_scenes, main, near_duplicates, ranked_pairs

ORIGINAL = "horror-the-monitor"


@pytest.fixture
def folder_with_a_copy(tmp_path: Path) -> Path:
    """Two corpus scripts plus a third whose second scene is the first script's second scene
    with its names changed and a line added."""
    for name in (ORIGINAL, "western-winter-warrant"):
        shutil.copy(CORPUS_DIR / f"{name}.fountain", tmp_path / f"{name}.fountain")
    source = (CORPUS_DIR / f"{ORIGINAL}.fountain").read_text(encoding="utf-8")
    scenes = source.split("\nINT. ")
    assert len(scenes) > 2
    borrowed = "INT. " + scenes[2].split("\nEXT. ")[0]
    assert "NINA" in borrowed
    edited = borrowed.replace("NINA", "RUTH").replace("Nina", "Ruth") + "\nRUTH\nNot again.\n"
    (tmp_path / "copycat.fountain").write_text(
        "Title: Copycat\nGenre: Horror\n\nEXT. FIELD - DAY\n\nWind.\n\n" + edited,
        encoding="utf-8",
    )
    return tmp_path


def test_a_lightly_edited_copy_is_flagged(folder_with_a_copy: Path) -> None:
    pairs = near_duplicates(corpus_scenes(folder_with_a_copy))
    assert len(pairs) == 1
    scripts = {pairs[0].first.script, pairs[0].second.script}
    assert scripts == {ORIGINAL, "copycat"}
    assert pairs[0].similarity > 0.5


def test_the_command_exits_1_on_a_duplicate_and_0_without(
    folder_with_a_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(folder_with_a_copy)]) == 1
    out = capsys.readouterr().out
    assert "copycat scene 2" in out and "1 near-duplicate pairs." in out
    (folder_with_a_copy / "copycat.fountain").unlink()
    assert main([str(folder_with_a_copy)]) == 0
    assert "No near-duplicates" in capsys.readouterr().out


def test_the_threshold_decides(folder_with_a_copy: Path) -> None:
    scenes = corpus_scenes(folder_with_a_copy)
    top = ranked_pairs(scenes)[0].similarity
    assert near_duplicates(scenes, threshold=min(1.0, top + 0.01)) == []
    assert len(near_duplicates(scenes, threshold=0.01)) >= 1
