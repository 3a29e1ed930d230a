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
