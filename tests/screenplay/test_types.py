from __future__ import annotations

from screenplay.types import (
    Action,
    Character,
    Dialogue,
    Document,
    SceneHeading,
    Span,
    Style,
    Text,
    describe,
    quote,
)


def test_text_is_canonical_so_equal_pages_compare_equal() -> None:
    a = Text.from_spans([Span("He "), Span("runs"), Span(" now", Style.BOLD)])
    b = Text.from_spans([Span("He runs"), Span(""), Span(" now", Style.BOLD)])
    assert a == b
    assert a.plain == "He runs now"


def test_emphasis_never_crosses_a_line() -> None:
    text = Text.of("first\nsecond", Style.ITALIC)
    assert [line.plain for line in text.lines()] == ["first", "second"]
    assert all(s.style == Style.ITALIC for line in text.lines() for s in line.spans)


def test_notes_are_kept_but_not_printed() -> None:
    text = Text.from_spans([Span("She waits."), Span(" check this", note=True)])
    assert text.plain == "She waits."
    assert "check this" in text.source


def test_scenes_group_elements_under_their_heading() -> None:
    doc = Document(
        elements=(
            Action(Text.of("Cold open.")),
            SceneHeading("INT. HOUSE - DAY", "1"),
            Character("MARA"),
            Dialogue(Text.of("We're late.")),
            SceneHeading("EXT. ROAD - NIGHT"),
        )
    )
    scenes = list(doc.scenes())
    assert [h.text if h else None for h, _ in scenes] == [
        None,
        "INT. HOUSE - DAY",
        "EXT. ROAD - NIGHT",
    ]
    assert len(scenes[1][1]) == 2 and scenes[2][1] == ()


def test_text_from_many_tiny_spans_is_built_in_one_pass() -> None:
    spans = [Span("a", Style.BOLD if i % 1000 < 500 else Style.NONE) for i in range(200_000)]
    text = Text.from_spans(spans)
    assert len(text.spans) == 400
    assert text.plain == "a" * 200_000
    assert Text.join_lines([Text.of("one"), Text.of("two")]) == Text.of("one\ntwo")


def test_a_quote_of_a_megabyte_is_one_short_line() -> None:
    assert quote("She   waits.\n Still.") == '"She waits. Still."'
    long = quote("word " * 200_000, 40)
    assert long.startswith('"word word') and long.endswith('…"') and len(long) <= 42
    assert describe(Dialogue(Text.of("x" * 10_000))) == f'Dialogue "{"x" * 39}…"'
