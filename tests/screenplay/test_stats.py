"""Stats on small scripts whose figures were counted by hand."""

from __future__ import annotations

import json

import pytest

from screenplay.errors import ScreenplayError
from screenplay.layout import page_count
from screenplay.stats import count_words, stats
from screenplay.types import (
    Action,
    Character,
    Dialogue,
    Document,
    Lyrics,
    Note,
    Parenthetical,
    SceneHeading,
    Section,
    Text,
    TitleEntry,
    TitlePage,
    Transition,
)


def _speech(name: str, line: str, extension: str | None = None) -> list:
    return [Character(name, extension), Dialogue(Text.of(line))]


SCRIPT = Document(
    TitlePage((TitleEntry("Title", Text.of("Late Again")),)),
    (
        SceneHeading("INT. KITCHEN - NIGHT"),
        Action(Text.of("Mara stirs a pot.")),  # 4 words
        *_speech("MARA", "We're late."),  # 2 words
        Character("TOM"),
        Parenthetical("(quietly)"),
        Dialogue(Text.of("I know. I know.")),  # 4 words
        SceneHeading("EXT. GARDEN - DAY"),
        Action(Text.of("Rain.")),
        *_speech("Mara", "Again?", "V.O."),  # same speaker as MARA
        Section("Act two"),  # never printed: not counted
        Note("cut this?"),
        SceneHeading("INT. KITCHEN - DAY"),
        *_speech("TOM", "Sit down, Mara."),  # 3 words
        *_speech("林小雨", "你好。"),  # 2 words, one per character
        Transition("CUT TO:"),
    ),
)


def test_counts_scenes_words_and_pages_of_a_hand_checked_script() -> None:
    figures = stats(SCRIPT)
    assert figures.scenes == 3
    # headings 3+3+3, action 4+1, cues MARA TOM MARA(V.O.)=2 TOM 林小雨=3 -> 9,
    # parenthetical 1, dialogue 2+4+1+3+2, transition 2
    assert figures.words == 9 + 5 + 9 + 1 + 12 + 2
    assert figures.pages == 1 == page_count(SCRIPT)
    assert 0 < figures.runtime_minutes < 1
    assert figures.paper == "letter"


def test_characters_are_merged_across_case_and_extension_and_sorted_by_lines() -> None:
    people = [(p.name, p.lines, p.words) for p in stats(SCRIPT).characters]
    assert people == [("TOM", 2, 7), ("MARA", 2, 3), ("林小雨", 1, 2)]


def test_locations_gather_settings_times_and_scenes() -> None:
    places = {p.name: p for p in stats(SCRIPT).locations}
    assert list(places) == ["KITCHEN", "GARDEN"]
    assert places["KITCHEN"].scenes == 2
    assert places["KITCHEN"].settings == ("INT.",)
    assert places["KITCHEN"].times == ("NIGHT", "DAY")
    assert places["GARDEN"].settings == ("EXT.",)
    assert places["GARDEN"].times == ("DAY",)


def test_location_forms() -> None:
    doc = Document(
        elements=(
            SceneHeading("INT./EXT. CAR - MOVING - DUSK"),
            SceneHeading("I/E CAR - MOVING - NIGHT"),
            SceneHeading("A BLACK VOID"),
            SceneHeading("EST. CITY SKYLINE"),
        )
    )
    places = {p.name: p for p in stats(doc).locations}
    assert places["CAR - MOVING"].settings == ("INT./EXT.",)
    assert places["CAR - MOVING"].times == ("DUSK", "NIGHT")
    assert places["CAR - MOVING"].scenes == 2
    assert places["A BLACK VOID"].settings == ()
    assert places["A BLACK VOID"].times == ()
    assert places["CITY SKYLINE"].settings == ("EST.",)


def test_chinese_headings_are_read_by_their_parts() -> None:
    # `1-1 日 内 客厅` and `内景 客厅 夜` are one place, 客厅, not two headings' whole text.
    doc = Document(
        elements=(
            SceneHeading("1-1 日 内 客厅", "1-1"),
            SceneHeading("内景 客厅 夜"),
            SceneHeading("第3场 夜 外 村口", "3"),
        )
    )
    places = {p.name: p for p in stats(doc).locations}
    assert list(places) == ["客厅", "村口"]
    assert places["客厅"].scenes == 2
    assert places["客厅"].settings == ("内", "内景")
    assert places["客厅"].times == ("日", "夜")
    assert places["村口"].settings == ("外",)


def test_a_cue_without_speech_is_listed_without_lines() -> None:
    doc = Document(elements=(Character("GHOST"), Action(Text.of("Nothing."))))
    assert [(p.name, p.lines, p.words) for p in stats(doc).characters] == [("GHOST", 0, 0)]


def test_lyrics_count_as_spoken_words() -> None:
    doc = Document(elements=(Character("ANA"), Lyrics(Text.of("Keeper, keeper"))))
    assert [(p.name, p.lines, p.words) for p in stats(doc).characters] == [("ANA", 1, 2)]


def test_pages_and_runtime_of_a_longer_script_follow_the_page_layout() -> None:
    paragraph = "Rain hammers the window and Mara counts the seconds between the flashes."
    doc = Document(
        elements=tuple(
            element
            for i in range(60)
            for element in (SceneHeading(f"INT. ROOM {i} - DAY"), Action(Text.of(paragraph)))
        )
    )
    letter, a4 = stats(doc), stats(doc, "a4")
    assert letter.pages == page_count(doc) >= 3
    assert letter.pages - 1 < letter.runtime_minutes <= letter.pages
    assert a4.paper == "a4" and a4.pages == page_count(doc, "a4") <= letter.pages


def test_empty_document() -> None:
    figures = stats(Document())
    assert (figures.pages, figures.runtime_minutes, figures.scenes, figures.words) == (0, 0, 0, 0)
    assert figures.locations == () and figures.characters == ()


def test_unknown_paper_is_refused_with_a_sentence() -> None:
    with pytest.raises(ScreenplayError, match="letter or A4"):
        stats(SCRIPT, "legal")


def test_to_dict_is_json_ready() -> None:
    data = json.loads(json.dumps(stats(SCRIPT).to_dict(), ensure_ascii=False))
    assert data["scenes"] == 3
    assert data["characters"][0] == {"name": "TOM", "lines": 2, "words": 7}
    assert data["locations"][0]["times"] == ["NIGHT", "DAY"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("We're late.", 2),
        ("Sit down -- now!", 3),
        ("...", 0),
        ("林小雨说你好", 6),
        ("Mara 说：你好", 4),
        ("snake_case and co-op", 3),
        ("", 0),
    ],
)
def test_count_words(text: str, words: int) -> None:
    assert count_words(text) == words
