"""The shipped corpus: what the issue asks of it, checked on every file."""

from __future__ import annotations

import json
import re

from screenplay.fountain import parse_fountain
from screenplay.types import Character
from training.corpus_index import updated_readme
from training.data import CORPUS_DIR, Script, scenes_of
from training.dedup import corpus_scenes, near_duplicates

TITLE_KEYS = ("Title", "Genre", "Logline", "Language")


def _scripts_with_scenes(corpus: list[Script]) -> dict[str, int]:
    return {s.name: len(scenes_of(s.document)) for s in corpus}


def test_every_script_parses_into_scenes(corpus: list[Script]) -> None:
    files = sorted(CORPUS_DIR.glob("*.fountain"))
    assert len(corpus) == len(files) > 0
    for path in files:
        document = parse_fountain(path.read_text(encoding="utf-8"))
        assert scenes_of(document), f"{path.name} has no scene heading"


def test_every_script_has_its_title_page_keys(corpus: list[Script]) -> None:
    for script in corpus:
        missing = [key for key in TITLE_KEYS if not script.meta(key)]
        assert not missing, f"{script.name} lacks {', '.join(missing)} on its title page"
        assert script.language in {"English", "Chinese"}


def test_every_speaking_character_has_a_cast_sheet(corpus: list[Script]) -> None:
    for script in corpus:
        sheet_file = CORPUS_DIR / f"{script.name}.cast.json"
        assert sheet_file.is_file(), f"{script.name} has no cast sheet file"
        sheets = json.loads(sheet_file.read_text(encoding="utf-8"))
        assert all(sheet.get("name") and sheet.get("description") for sheet in sheets)
        named = {sheet.name.upper() for sheet in script.cast}
        speaking = {e.name.upper() for e in script.document.elements if isinstance(e, Character)}
        assert speaking <= named, f"{script.name}: no sheet for {sorted(speaking - named)}"


def test_the_corpus_is_big_and_varied_enough(corpus: list[Script]) -> None:
    scenes = _scripts_with_scenes(corpus)
    assert sum(scenes.values()) >= 120
    english_genres = {s.meta("Genre").lower() for s in corpus if s.language == "English"}
    assert len(english_genres) >= 10, sorted(english_genres)
    chinese = sum(n for name, n in scenes.items() if _script(corpus, name).language == "Chinese")
    assert chinese >= 10


def test_chinese_scripts_are_written_in_chinese(corpus: list[Script]) -> None:
    for script in corpus:
        if script.language != "Chinese":
            continue
        body = "\n".join(
            e.text.plain
            for e in script.document.elements
            if hasattr(getattr(e, "text", None), "plain")
        )
        han = len(re.findall(r"[\u4e00-\u9fff]", body))
        assert han > len(body) / 3, f"{script.name} is mostly not Chinese"


def test_no_scene_is_a_near_duplicate_of_another() -> None:
    assert near_duplicates(corpus_scenes()) == []


def test_the_corpus_carries_its_licence() -> None:
    licence = (CORPUS_DIR / "LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence or "Creative Commons" in licence


def _script(corpus: list[Script], name: str) -> Script:
    return next(s for s in corpus if s.name == name)


def test_the_readme_lists_every_script_of_the_corpus(corpus: list[Script]) -> None:
    """The corpus README's table is made from the files (`python -m training.corpus_index`);
    a script added without it, or a table edited by hand, shows here."""
    readme = (CORPUS_DIR / "README.md").read_text(encoding="utf-8")
    assert updated_readme(readme, corpus) == readme


def test_every_scene_has_a_synopsis_of_what_happens_in_it() -> None:
    # One line right after the heading, in the script's language, naming a character, lifting
    # nothing from the scene (`training.synopses`): the beat examples are made of them.
    from training.synopses import problems

    found = [p for path in sorted(CORPUS_DIR.glob("*.fountain")) for p in problems(path)]
    assert found == []


def test_the_beats_of_the_corpus_are_developments_the_bot_accepts(corpus: list[Script]) -> None:
    # Before the synopses a beat example was the next scene's first action: set dressing
    # ("Grass stalks tower overhead."), which the readers marked "not a beat".
    from model.prompts import parse_answer
    from model.tasks import TaskKind
    from training.data import examples_for, synopses_of

    for script in corpus:
        synopses = synopses_of(script.document)
        beats = [e for e in examples_for(script) if e.kind is TaskKind.BEAT]
        assert [b.answer for b in beats] == synopses[1:], script.name
        for beat in beats:
            assert beat.request is not None
            assert parse_answer(beat.request, beat.answer).problems == (), beat.answer
