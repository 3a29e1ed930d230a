"""Lint: each kind of problem, clean scripts, and line numbers a writer can go to."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from screenplay.fountain import parse_fountain, to_fountain
from screenplay.lint import CODES, Problem, lint
from screenplay.types import (
    Action,
    Character,
    Dialogue,
    Document,
    Element,
    Parenthetical,
    SceneHeading,
    Text,
    Transition,
)
from tests.screenplay.strategies import documents

CLEAN = """Title: Late Again
Author: Mara Lee

INT. KITCHEN - NIGHT

Mara stirs a pot (the soup is burning).

MARA
We're late.

TOM (V.O.)
(quietly)
I know.

EXT. GARDEN - DAY

Rain.

MARA
Again?

EST. CITY SKYLINE

The towers catch the sun.

.A BLACK VOID

Nothing at all.
"""


def doc_of(*elements: Element) -> Document:
    return Document(elements=elements)


def codes(problems: list[Problem]) -> list[str]:
    return [problem.code for problem in problems]


def test_a_clean_script_has_no_problems() -> None:
    doc = parse_fountain(CLEAN)
    assert lint(doc) == []
    assert lint(doc, cast=["Mara", "tom"]) == []
    assert lint(doc, cast=["MARA", "TOM (V.O.)"], source=CLEAN) == []


def test_cue_without_dialogue() -> None:
    doc = doc_of(
        SceneHeading("INT. KITCHEN - NIGHT"),
        Character("MARA"),
        Parenthetical("(beat)"),
        Action(Text.of("She leaves.")),
    )
    [problem] = lint(doc)
    assert problem.code == "cue-without-dialogue"
    assert problem.message == "MARA has a cue but no dialogue."
    assert str(problem) == f"line {problem.line}: MARA has a cue but no dialogue."


def test_a_cue_at_the_very_end_without_dialogue() -> None:
    doc = doc_of(SceneHeading("INT. KITCHEN - NIGHT"), Action(Text.of("Dark.")), Character("TOM"))
    assert codes(lint(doc)) == ["cue-without-dialogue"]


def test_dialogue_without_cue_is_reported_once_per_orphan_run() -> None:
    doc = doc_of(
        SceneHeading("INT. KITCHEN - NIGHT"),
        Action(Text.of("Mara waits.")),
        Dialogue(Text.of("We're late.")),
        Parenthetical("(beat)"),
        Dialogue(Text.of("Again.")),
        Transition("CUT TO:"),
        Parenthetical("(to herself)"),
    )
    problems = lint(doc)
    assert codes(problems) == ["dialogue-without-cue", "dialogue-without-cue"]
    assert problems[0].message == 'Dialogue "We\'re late." has no character cue before it.'
    assert problems[1].message == (
        'The parenthetical "(to herself)" has no character cue before it.'
    )


def test_a_parenthetical_that_is_not_closed() -> None:
    doc = doc_of(Character("MARA"), Parenthetical("(quietly"), Dialogue(Text.of("Late.")))
    [problem] = lint(doc)
    assert problem.code == "unbalanced-parentheses"
    assert problem.message == 'The parenthetical "(quietly" should be written in parentheses.'


def test_each_parenthesis_problem_is_named() -> None:
    doc = doc_of(
        Action(Text.of("She opens the drawer (slowly.")),
        Character("MARA"),
        Dialogue(Text.of("We're late) again.")),
        Character("TOM"),
        Parenthetical("beat"),
        Dialogue(Text.of("（轻声）好的（")),
    )
    messages = [p.message for p in lint(doc)]
    assert messages == [
        'Action "She opens the drawer (slowly." opens a parenthesis that is never closed.',
        'Dialogue "We\'re late) again." closes a parenthesis that was never opened.',
        'The parenthetical "beat" should be written in parentheses.',
        'Dialogue "（轻声）好的（" opens a parenthesis that is never closed.',
    ]


def test_malformed_scene_headings() -> None:
    doc = doc_of(
        SceneHeading(""),
        Action(Text.of("a")),
        SceneHeading("INT."),
        Action(Text.of("b")),
        SceneHeading("INT. KITCHEN"),
        Action(Text.of("c")),
        SceneHeading("EXT. GARDEN -"),
        Action(Text.of("d")),
        SceneHeading("INT. - NIGHT"),
        Action(Text.of("e")),
        SceneHeading("EXT. GARDEN - DAY"),
        Action(Text.of("f")),
        SceneHeading("EST. CITY SKYLINE"),
        Action(Text.of("g")),
        SceneHeading("A BLACK VOID"),
        Action(Text.of("h")),
    )
    problems = lint(doc)
    assert codes(problems) == ["malformed-heading"] * 5
    messages = [p.message for p in problems]
    assert messages[0].startswith("A scene heading is empty")
    assert messages[1] == "The scene heading 'INT.' does not say where the scene takes place."
    assert messages[2] == (
        "The scene heading 'INT. KITCHEN' has no time of day; add one after a dash, "
        "e.g. INT. KITCHEN - NIGHT."
    )
    assert "has no time of day" in messages[3]
    assert "does not say where" in messages[4]


@pytest.mark.parametrize(
    ("text", "runs_on"),
    [
        # Session 30's evaluation: Chinese takes whose heading ran on into the action, so that
        # they read as an action line and went unseen.
        ("内景 学校管理台上的父亲配着一颗红痣，一只小熨斗没问题；", True),
        ("外景 官道 夜\n△ 尘土。\n\n内景 县一中 正在下雨，门开着。", True),
        ("外景 官道 夜\n△ 尘土。\n内外景 渡口边上的人都散了。", True),
        # A heading that ends where it should, and action the writer marked as action.
        ("内景 县一中 夜\n△ 正在下雨，门开着。", False),
        ("内景 县一中 夜\n△ 内景 灯全灭了，一只猫跑过。", False),
        ("内景 县一中 夜\n△ 内景的灯全灭了。", False),
        ("内景 县一中 夜\n外面的人说：内景 不好拍。", False),
    ],
)
def test_a_chinese_heading_that_runs_on_into_the_action(text: str, runs_on: bool) -> None:
    from screenplay.zh import parse_zh

    problems = [p for p in lint(parse_zh(text)) if "写进了动作" in p.message]
    assert bool(problems) == runs_on, problems
    assert all(p.code == "malformed-heading" for p in problems)


def test_empty_scenes() -> None:
    doc = doc_of(
        SceneHeading("INT. KITCHEN - NIGHT"),
        Transition("CUT TO:"),
        SceneHeading("EXT. GARDEN - DAY"),
        Action(Text.of("Rain.")),
        SceneHeading("INT. HALL - DAY"),
    )
    problems = lint(doc)
    assert codes(problems) == ["empty-scene", "empty-scene"]
    assert problems[0].message == (
        "The scene INT. KITCHEN - NIGHT is empty: nothing happens before the next scene."
    )
    assert problems[1].message == (
        "The scene INT. HALL - DAY is empty: nothing happens before the end of the script."
    )


def test_speakers_outside_the_cast() -> None:
    doc = doc_of(
        Character("MARA", "V.O."),
        Dialogue(Text.of("Late.")),
        Character("Mara"),
        Dialogue(Text.of("Again.")),
        Character("MRA"),
        Dialogue(Text.of("Typo.")),
        Character("STRANGER"),
        Dialogue(Text.of("Hi.")),
        Character("林小雨"),
        Dialogue(Text.of("你好。")),
    )
    problems = lint(doc, cast=["mara (cont'd)", "林小雨"])
    assert [p.message for p in problems] == [
        "MRA speaks but is not in the cast (did you mean mara (cont'd)?).",
        "STRANGER speaks but is not in the cast.",
    ]
    assert codes(problems) == ["unknown-speaker"] * 2
    assert lint(doc) == [], "without a cast, nobody is a stranger"


def test_empty_cue() -> None:
    doc = doc_of(Character(""), Dialogue(Text.of("Who said that?")))
    assert codes(lint(doc, cast=["MARA"])) == ["empty-cue"]


def test_every_code_is_documented() -> None:
    doc = doc_of(
        SceneHeading("INT. KITCHEN"),
        Character("MRA"),
        SceneHeading(""),
        Dialogue(Text.of("(x")),
        Character(""),
        Dialogue(Text.of("y")),
        SceneHeading("EXT. YARD - DAY"),
    )
    found = set(codes(lint(doc, cast=["MARA"])))
    assert found <= set(CODES)
    assert len(found) == len(CODES)


def test_line_numbers_point_into_the_file_the_writer_wrote() -> None:
    source = """Title: Late Again
Credit: written by
Author: Mara Lee


INT. KITCHEN



Mara stirs a pot (slowly.
TOM ENTERS.

MARA
We're late) again.


EXT. GARDEN - DAY

STRANGER
Hello?
"""
    rows = source.split("\n")
    problems = lint(parse_fountain(source), cast=["MARA", "TOM"], source=source)
    assert [(p.line, p.code) for p in problems] == [
        (rows.index("INT. KITCHEN") + 1, "malformed-heading"),
        (rows.index("Mara stirs a pot (slowly.") + 1, "unbalanced-parentheses"),
        (rows.index("We're late) again.") + 1, "unbalanced-parentheses"),
        (rows.index("STRANGER") + 1, "unknown-speaker"),
    ]


def test_line_numbers_default_to_the_exported_fountain() -> None:
    doc = doc_of(
        SceneHeading("INT. KITCHEN - NIGHT"),
        Action(Text.of("One.\nTwo.\nThree.")),
        Character("MARA"),
        Dialogue(Text.of("Fine.")),
        Character("TOM"),
        Action(Text.of("Nothing.")),
    )
    [problem] = lint(doc)
    assert to_fountain(doc).split("\n")[problem.line - 1].strip().lstrip("@") == "TOM"


@settings(max_examples=150, deadline=None)
@given(documents())
def test_every_reported_cue_is_on_its_line_of_the_exported_fountain(doc: Document) -> None:
    rows = to_fountain(doc).split("\n")
    # With an empty cast every speaker is a stranger: one problem on each cue's line.
    for problem in lint(doc, cast=[]):
        if problem.code != "unknown-speaker":
            continue
        name = problem.message.split(" speaks but")[0]
        assert name.casefold() in rows[problem.line - 1].casefold(), (problem, rows)


EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "files").glob("*.fountain"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_scripts_are_clean_and_each_cue_is_found_on_its_line(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    doc = parse_fountain(source)
    assert lint(doc, source=source) == []
    rows = source.split("\n")
    cues = [element for element in doc.elements if isinstance(element, Character)]
    problems = lint(doc, cast=[], source=source)
    assert len(problems) == len(cues) > 0
    for problem, cue in zip(problems, cues, strict=True):
        assert cue.name in rows[problem.line - 1], (problem, rows[problem.line - 1])


def test_a_speech_of_markup_alone_keeps_the_next_cue_on_its_own_line() -> None:
    # Exported, the speech `*` is the line `\*`: a line, although it has no words to find.
    doc = parse_fountain("MARA\n\\*\n\nMARA\n0\n")
    assert [p.line for p in lint(doc, cast=[])] == [1, 4]
