"""An independent reader agrees with ours on the Fountain we write.

screenplain (Martin Vilcans' Fountain parser, a test dependency) reads `to_fountain` output of
hand-written documents; both readings are mapped to one sequence of printed events per paragraph
(element kind, text per line, emphasis per run) and must be equal.

Where screenplain departs from the Fountain spec, the documents here avoid the construct, and the
comparison says how it maps what remains:
- lyrics (`~`): screenplain has none; it reads the tilde line as action or dialogue text, so a
  lyric is compared as that text (tilde included), and a blank line inside it as a blank line.
- synopses (`=`): screenplain attaches a synopsis to the heading or section just before it and
  has none anywhere else; so synopses appear here only after a heading or section.
- escapes: screenplain unescapes only `\\*`; the documents hold no other character that our
  writer escapes (`_`, `\\`, `[[`, a leading `(` in dialogue...).
- forced action: screenplain strips `!` from every action line that starts with one, not only the
  first; no action line after the first starts with `!` here.
- case: screenplain upper-cases scene headings and forced transitions; both are compared in
  upper case.
- notes and boneyard: screenplain drops them, we keep them unprinted; only printed text is
  compared, without the spaces a note leaves at the end of a line (screenplain trims them).
"""

from __future__ import annotations

import io

import pytest
from screenplain import types as sp
from screenplain.parsers import fountain as screenplain_fountain
from screenplain.richstring import Bold, Italic, RichString, Underline

from screenplay.fountain import parse_fountain, to_fountain
from screenplay.types import (
    Action,
    Boneyard,
    Centered,
    Character,
    Dialogue,
    Document,
    Lyrics,
    Note,
    PageBreak,
    Parenthetical,
    SceneHeading,
    Section,
    Span,
    Style,
    Synopsis,
    Text,
    TitleEntry,
    TitlePage,
    Transition,
)

B, IT, U = Style.BOLD, Style.ITALIC, Style.UNDERLINE

# Emphasis of a line as (text, style names) runs; an event is one printed line: kind, text, runs.
Runs = tuple[tuple[str, frozenset[str]], ...]
Event = tuple[str, str, Runs]


def _printed(runs: list[tuple[str, frozenset[str]]]) -> tuple[str, Runs]:
    """A printed line as its text and emphasis runs, equal runs merged, trailing spaces off."""
    merged: list[tuple[str, frozenset[str]]] = []
    for text, styles in runs:
        if merged and merged[-1][1] == styles:
            merged[-1] = (merged[-1][0] + text, styles)
        elif text:
            merged.append((text, styles))
    while merged and merged[-1][0] != merged[-1][0].rstrip():
        text, styles = merged.pop()
        if text.rstrip():
            merged.append((text.rstrip(), styles))
    return "".join(text for text, _ in merged), tuple(merged)


def _runs(text: Text) -> list[tuple[str, Runs]]:
    """Our text, per printed line (notes left out)."""
    names = {B: "bold", IT: "italic", U: "underline"}
    return [
        _printed(
            [
                (s.text, frozenset(name for flag, name in names.items() if s.style & flag))
                for s in line.spans
                if not s.note
            ]
        )
        for line in text.lines()
    ]


def _rich_runs(rich: RichString) -> tuple[str, Runs]:
    """screenplain's text of one line."""
    names = {Bold: "bold", Italic: "italic", Underline: "underline"}
    return _printed([(seg.text, frozenset(names[s] for s in seg.styles)) for seg in rich.segments])


def _plain_event(kind: str, text: str) -> Event:
    return (kind, text, ((text, frozenset()),) if text else ())


def _sung(runs: Runs) -> tuple[str, Runs]:
    """A line of a lyric as screenplain prints it: after its `~`, unless the line is blank."""
    return _printed([("~", frozenset()), *runs]) if runs else ("", ())


def ours(doc: Document) -> list[Event]:
    events: list[Event] = []
    speaking = False
    for element in doc.elements:
        speaking = isinstance(element, Character) or (
            speaking and isinstance(element, Parenthetical | Dialogue | Lyrics)
        )
        match element:
            case SceneHeading(text=text, number=number):
                events.append(_plain_event("heading", text.upper()))
                events.append(_plain_event("scene number", number or ""))
            case Action(text=text) | Centered(text=text):
                kind = "centered" if isinstance(element, Centered) else "action"
                events += [(kind, plain, runs) for plain, runs in _runs(text)]
            case Character(dual=dual):
                if dual:
                    events.append(_plain_event("dual", ""))
                events.append(_plain_event("cue", element.cue))
            case Parenthetical(text=text):
                events += [_plain_event("parenthetical", line) for line in text.split("\n")]
            case Dialogue(text=text):
                events += [("dialogue", plain, runs) for plain, runs in _runs(text)]
            case Lyrics(text=text):
                kind = "dialogue" if speaking else "action"
                events += [(kind, *_sung(runs)) for _, runs in _runs(text)]
            case Transition(text=text):
                events.append(_plain_event("transition", text.upper()))
            case PageBreak():
                events.append(_plain_event("page break", ""))
            case Section(text=text, level=level):
                events.append(_plain_event(f"section {level}", text))
            case Synopsis(text=text):
                events.append(_plain_event("synopsis", text))
            case Note() | Boneyard():
                pass
            case _:
                raise AssertionError(f"no screenplain counterpart for {element!r}")
    return events


def _dialog_events(dialog: sp.Dialog) -> list[Event]:
    events = [_plain_event("cue", str(dialog.character))]
    for is_parenthetical, line in dialog.blocks:
        if is_parenthetical:
            events.append(_plain_event("parenthetical", str(line)))
        else:
            events.append(("dialogue", *_rich_runs(line)))
    return events


def theirs(source: str) -> list[Event]:
    events: list[Event] = []
    for paragraph in screenplain_fountain.parse(io.StringIO(source)).paragraphs:
        match paragraph:
            case sp.Slug():
                events.append(_plain_event("heading", str(paragraph.line)))
                events.append(_plain_event("scene number", str(paragraph.scene_number or "")))
            case sp.Action():
                kind = "centered" if paragraph.centered else "action"
                events += [(kind, *_rich_runs(line)) for line in paragraph.lines]
            case sp.DualDialog():
                events += _dialog_events(paragraph.left)
                events.append(_plain_event("dual", ""))
                events += _dialog_events(paragraph.right)
            case sp.Dialog():
                events += _dialog_events(paragraph)
            case sp.Transition():
                events.append(_plain_event("transition", str(paragraph.line).upper()))
            case sp.PageBreak():
                events.append(_plain_event("page break", ""))
            case sp.Section():
                events.append(_plain_event(f"section {paragraph.level}", str(paragraph.text)))
            case _:
                raise AssertionError(f"unexpected screenplain paragraph {paragraph!r}")
        synopsis = getattr(paragraph, "synopsis", None)
        if synopsis:
            events.append(_plain_event("synopsis", synopsis))
    return events


def _text(*spans: Span | str) -> Text:
    return Text.from_spans(Span(s) if isinstance(s, str) else s for s in spans)


SCENE = Document(
    elements=(
        SceneHeading("EXT. BRICK'S PATIO - DAY", "1"),
        Action(_text("A ", Span("gorgeous", IT), " day. The sun is ", Span("shining", B), ".")),
        Action(_text("    Tom falls.\n    Mara stands.")),
        Character("STEEL", "V.O."),
        Parenthetical("(starting the engine)"),
        Dialogue(_text("So much for ", Span("retirement", B | IT), "!\n\nAgain.")),
        Character("BRICK"),
        Dialogue(_text("Screw ", Span("retirement", U), ".")),
        Transition("CUT TO:"),
        SceneHeading("INT. GARAGE - NIGHT", "12A"),
        Action(_text("He dialed *69 and then 23*, and hung up.")),
        Transition("FADE OUT."),
        Centered(_text(Span("THE END", B | U))),
        PageBreak(),
    )
)

FORCED = Document(
    elements=(
        SceneHeading("the roof of the world"),
        Action(_text("INT. HOUSE - DAY is painted on the door.")),
        Action(_text("BRICK\nsighs and looks away.")),
        Character("McKENNA", "into phone"),
        Dialogue(_text("Tell them ", Span("now", IT), ".")),
        Character("林小雨"),
        Dialogue(_text("你好，我们迟到了。")),
        Transition("Dissolve to:"),
        SceneHeading("A BLACK VOID", "3-B"),
    )
)

DUAL_AND_STRUCTURE = Document(
    elements=(
        Section("ACT ONE", 1),
        Synopsis("Brick and Steel retire."),
        SceneHeading("INT. BAR - NIGHT"),
        Synopsis("They drink."),
        Action(_text("They sit. ", Span("Check the bar name.", note=True))),
        Note("Maybe a different bar."),
        Boneyard(" An old line.\n\nAnother. "),
        Character("BRICK"),
        Dialogue(_text("Screw retirement.")),
        Character("STEEL", dual=True),
        Dialogue(_text("Screw retirement.")),
        Section("The heist", 2),
        Character("DORA", "CONT'D"),
        Parenthetical("(beat)"),
        Dialogue(_text("Ticket.")),
        Parenthetical("(quietly)"),
        Dialogue(_text("Please.")),
    )
)

TITLED = Document(
    TitlePage(
        (
            TitleEntry("Title", _text(Span("BRICK & STEEL", B | U), "\nFULL RETIRED")),
            TitleEntry("Credit", _text("Written by")),
            TitleEntry("Author", _text("Stu Maschwitz")),
            TitleEntry("Draft date", _text("1/20/2012")),
            TitleEntry("Contact", _text("Next Level Productions\n1588 Mission Dr.")),
        )
    ),
    (SceneHeading("EXT. BRICK'S POOL - DAY"), Action(_text("Steel floats."))),
)

SONG = Document(
    elements=(
        Character("MARA"),
        Dialogue(_text("She used to sing this.")),
        Lyrics(
            _text(
                "Row, row, row your ",
                Span("boat", IT),
                "\ngently down the stream.\n\nMerrily, merrily,\nlife is but a dream.",
            )
        ),
        Dialogue(_text("\nThat's all I remember.")),
        Action(_text("Silence. Then, from the dark:")),
        Lyrics(_text("Row, row, row\n\nyour boat.")),
    )
)

DOCUMENTS = {
    "scene": SCENE,
    "forced": FORCED,
    "dual and structure": DUAL_AND_STRUCTURE,
    "song": SONG,
}


@pytest.mark.parametrize("doc", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_screenplain_reads_our_fountain_as_we_do(doc: Document) -> None:
    source = to_fountain(doc)
    assert parse_fountain(source) == doc
    assert theirs(source) == ours(parse_fountain(source))


def test_screenplain_reads_our_title_page_as_we_do() -> None:
    source = to_fountain(TITLED)
    screenplay = screenplain_fountain.parse(io.StringIO(source))
    assert list(screenplay.title_page) == [e.key.capitalize() for e in TITLED.title_page.entries]
    for entry in parse_fountain(source).title_page.entries:
        lines = screenplay.get_rich_attribute(entry.key.capitalize())
        assert [_rich_runs(line) for line in lines] == _runs(entry.value)
    assert theirs(source) == ours(parse_fountain(source))


def test_the_comparison_notices_a_difference() -> None:
    # Guard against a mapping that makes everything equal: a heading read as action must show.
    assert theirs("!INT. HOUSE - DAY\n") != ours(
        Document(elements=(SceneHeading("INT. HOUSE - DAY"),))
    )
