"""The Fountain reader and writer: every element of Fountain 1.1, the tricky cases of the spec,
and the round trips (document -> Fountain -> document, and source -> document -> Fountain ->
document)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import screenplay
from screenplay.errors import FormatError
from screenplay.fountain import (
    format_inline,
    parse_fountain,
    parse_inline,
    split_scene_number,
    to_fountain,
)
from screenplay.types import (
    MAX_SCENE_NUMBER,
    MAX_SECTION_LEVEL,
    Action,
    Boneyard,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
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
from tests.screenplay.strategies import documents, line_text, multi_line_text, words

FILES = Path(__file__).parent.parent / "files"

B, IT, U = Style.BOLD, Style.ITALIC, Style.UNDERLINE


def elements(source: str) -> tuple[Element, ...]:
    return parse_fountain(source).elements


def action(text: str) -> Action:
    return Action(Text.of(text))


def dialogue(text: str) -> Dialogue:
    return Dialogue(Text.of(text))


# --- title page -------------------------------------------------------------------------------


def test_title_page_keeps_keys_as_written_in_order_with_indented_values() -> None:
    doc = parse_fountain(
        "Title:\n    _**BRICK & STEEL**_\n\tFULL RETIRED\nCredit: Written by\n"
        "Author: Stu\nDraft date: 1/20/2012\nContact:\n    Next Level\n    555-1212\n\n"
        "INT. HOUSE - DAY\n"
    )
    keys = [entry.key for entry in doc.title_page.entries]
    assert keys == ["Title", "Credit", "Author", "Draft date", "Contact"]
    title = doc.title_page.get("title")
    assert title is not None
    assert title.spans == (Span("BRICK & STEEL", B | U), Span("\n"), Span("FULL RETIRED"))
    assert doc.title == "BRICK & STEEL\nFULL RETIRED"
    assert doc.title_page.get("Contact") == Text.of("Next Level\n555-1212")
    assert doc.elements == (SceneHeading("INT. HOUSE - DAY"),)


def test_a_first_block_that_is_not_all_key_value_lines_is_the_script() -> None:
    doc = parse_fountain("Title: Nope\nShe waits.\n")
    assert not doc.title_page
    assert doc.elements == (action("Title: Nope\nShe waits."),)


def test_title_page_only_at_the_top() -> None:
    assert elements("She waits.\n\nNote: this is action.") == (
        action("She waits."),
        action("Note: this is action."),
    )


# --- scene headings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "INT. HOUSE - DAY",
        "EXT. BRICK'S POOL - DAY",
        "EST. CITY SKYLINE",
        "INT./EXT. CAR - MOVING",
        "INT/EXT CAR - MOVING",
        "I/E TRAIN",
        "int. house - day",
        "Ext brick's garage",
        "INT. 茶馆 - 夜",
    ],
)
def test_scene_heading_prefixes_in_any_case(line: str) -> None:
    assert elements(f"{line}\n") == (SceneHeading(line),)


def test_interior_design_is_not_a_heading() -> None:
    assert elements("INTERIOR DESIGN is a hobby.\n") == (action("INTERIOR DESIGN is a hobby."),)


def test_a_heading_needs_a_blank_line_after_it() -> None:
    # Without it the all-caps line is a character cue, as the spec says.
    assert elements("INT. HOUSE - DAY\nShe waits.") == (
        Character("INT. HOUSE - DAY"),
        dialogue("She waits."),
    )


def test_forced_scene_heading_but_not_an_ellipsis() -> None:
    assert elements(".SNIPER SCOPE POV\n") == (SceneHeading("SNIPER SCOPE POV"),)
    assert elements(".the roof of the world\n") == (SceneHeading("the roof of the world"),)
    assert elements("...and then nothing.\n") == (action("...and then nothing."),)
    assert elements("...\n") == (action("..."),)


@pytest.mark.parametrize(
    ("line", "text", "number"),
    [
        ("INT. HOUSE - DAY #1#", "INT. HOUSE - DAY", "1"),
        ("INT. HOUSE - DAY #12A#", "INT. HOUSE - DAY", "12A"),
        ("EXT. ROAD #I-1-A#", "EXT. ROAD", "I-1-A"),
        (".FLASHBACK #110A#", "FLASHBACK", "110A"),
        ("INT. ROOM #2 - DAY", "INT. ROOM #2 - DAY", None),
    ],
)
def test_scene_numbers(line: str, text: str, number: str | None) -> None:
    assert elements(line) == (SceneHeading(text, number),)


# --- action -----------------------------------------------------------------------------------


def test_action_keeps_line_breaks_and_leading_spaces_tab_is_four_spaces() -> None:
    source = "They fight.\n\n    Tom falls.\n\tMara stands.\nThe end."
    assert elements(source) == (
        action("They fight."),
        action("    Tom falls.\n    Mara stands.\nThe end."),
    )


def test_forced_action_keeps_what_would_be_a_heading_or_cue() -> None:
    assert elements("!INT. HOUSE - DAY\n") == (action("INT. HOUSE - DAY"),)
    assert elements("!SCANNING THE AISLES...\nWhere is that pit boss?") == (
        action("SCANNING THE AISLES...\nWhere is that pit boss?"),
    )
    assert elements("!!wow") == (action("!wow"),)


def test_two_space_line_keeps_an_action_paragraph_together() -> None:
    assert elements("First.\n  \nSecond.") == (action("First.\n\nSecond."),)


# --- characters and dialogue -------------------------------------------------------------------


def test_cue_with_dialogue_and_extension_in_any_case() -> None:
    assert elements("\nMARA (into phone)\nWe're late.\n") == (
        Character("MARA", "into phone"),
        dialogue("We're late."),
    )
    assert elements("HANS (on the radio)\nJust tell me.") == (
        Character("HANS", "on the radio"),
        dialogue("Just tell me."),
    )


def test_a_cue_followed_by_a_blank_line_is_action() -> None:
    assert elements("STEEL\n\nThe room is empty.") == (
        action("STEEL"),
        action("The room is empty."),
    )


def test_a_cue_needs_a_letter() -> None:
    assert elements("2046\nThe year.") == (action("2046\nThe year."),)
    assert elements("R2D2\nBeep.") == (Character("R2D2"), dialogue("Beep."))


def test_forced_cues_keep_their_case() -> None:
    assert elements("@McCLANE\nYippie ki-yay!") == (
        Character("McCLANE"),
        dialogue("Yippie ki-yay!"),
    )
    assert elements("@林小雨 (V.O.)\n你好，我们迟到了。") == (
        Character("林小雨", "V.O."),
        dialogue("你好，我们迟到了。"),
    )


def test_parentheticals_lyrics_and_multi_line_dialogue() -> None:
    source = (
        "STEEL\n(starting the engine)\nSo much for retirement!\nShe said so.\n"
        "(beat,\n a long one)\n~Keeper, keeper\n~of the flame\nThen silence."
    )
    assert elements(source) == (
        Character("STEEL"),
        Parenthetical("(starting the engine)"),
        dialogue("So much for retirement!\nShe said so."),
        Parenthetical("(beat,\na long one)"),
        Lyrics(Text.of("Keeper, keeper\nof the flame")),
        dialogue("Then silence."),
    )


def test_a_line_that_only_starts_with_a_parenthesis_is_dialogue() -> None:
    assert elements("TOM\n(laughs) That's funny.") == (
        Character("TOM"),
        dialogue("(laughs) That's funny."),
    )


def test_two_spaces_continue_dialogue_over_a_blank_line() -> None:
    source = "DEALER\nTen.\nFour.\n  \nHard twenty-one.\n\nThe player stares."
    assert elements(source) == (
        Character("DEALER"),
        dialogue("Ten.\nFour.\n\nHard twenty-one."),
        action("The player stares."),
    )


SUNG = """\
MARA
~Row, row, row your boat
~gently down the stream.
\x20\x20
~Merrily, merrily, merrily,
~life is but a dream.
\x20\x20
That's all I remember.
"""


def test_two_spaces_between_verses_keep_the_blank_line_in_the_lyric() -> None:
    assert elements(SUNG) == (
        Character("MARA"),
        Lyrics(
            Text.of(
                "Row, row, row your boat\ngently down the stream.\n\n"
                "Merrily, merrily, merrily,\nlife is but a dream."
            )
        ),
        # A blank line before plain dialogue is the dialogue's, as it always was.
        dialogue("\nThat's all I remember."),
    )
    assert to_fountain(parse_fountain(SUNG)) == SUNG


def test_two_spaces_between_verses_of_a_song_outside_a_speech() -> None:
    song = "~Row, row, row your boat\n~gently down the stream.\n  \n~Merrily, merrily\n"
    assert elements(song) == (
        Lyrics(Text.of("Row, row, row your boat\ngently down the stream.\n\nMerrily, merrily")),
    )
    assert to_fountain(parse_fountain(song)) == song


def test_empty_lines_at_either_end_of_a_lyric_are_written_with_a_tilde() -> None:
    # Two spaces there would read as dialogue: `~` alone is an empty line of the lyric.
    doc = Document(
        elements=(Character("MARA"), dialogue("La."), Lyrics(Text.of("\nRow,\n\nrow.\n")))
    )
    assert to_fountain(doc) == "MARA\nLa.\n~\n~Row,\n  \n~row.\n~\n"
    assert parse_fountain(to_fountain(doc)) == doc


def test_dual_dialogue_marks_the_second_cue() -> None:
    source = "BRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n\n@林小雨 (V.O.) ^\n好。"
    assert elements(source) == (
        Character("BRICK"),
        dialogue("Screw retirement."),
        Character("STEEL", dual=True),
        dialogue("Screw retirement."),
        Character("林小雨", "V.O.", dual=True),
        dialogue("好。"),
    )


def test_indentation_is_ignored_outside_action() -> None:
    source = "            BRICK\n    (quietly)\n        We go now.\n\n                CUT TO:"
    assert elements(source) == (
        Character("BRICK"),
        Parenthetical("(quietly)"),
        dialogue("We go now."),
        Transition("CUT TO:"),
    )


# --- transitions, centered, lyrics, page breaks ------------------------------------------------


def test_transitions_need_upper_case_to_and_blank_lines() -> None:
    assert elements("Jack begins to cry.\n\nCUT TO:\n\nINT. HOUSE") == (
        action("Jack begins to cry."),
        Transition("CUT TO:"),
        SceneHeading("INT. HOUSE"),
    )
    # (At the very top, `cut to:` would be a title page key.)
    assert elements("Jack cries.\n\ncut to:") == (action("Jack cries."), action("cut to:"))
    assert elements("> Burn to White.") == (Transition("Burn to White."),)
    assert elements(">FADE OUT.") == (Transition("FADE OUT."),)


def test_centered_text_and_lyrics_paragraphs() -> None:
    assert elements(">THE END<") == (Centered(Text.of("THE END")),)
    assert elements("> **Part** one <\n>  Two  <") == (
        Centered(Text.from_spans([Span("Part", B), Span(" one\nTwo")])),
    )
    assert elements("~Willy Wonka!\n~ The chocolate maker!") == (
        Lyrics(Text.of("Willy Wonka!\nThe chocolate maker!")),
    )


def test_page_breaks() -> None:
    assert elements("The end of act one.\n\n===\n\nAct two.\n=====") == (
        action("The end of act one."),
        PageBreak(),
        action("Act two."),
        PageBreak(),
    )


# --- emphasis ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "spans"),
    [
        ("*italic*", [Span("italic", IT)]),
        ("**bold**", [Span("bold", B)]),
        ("***bold italic***", [Span("bold italic", B | IT)]),
        ("_underline_", [Span("underline", U)]),
        ("a _*horribly*_ bad", [Span("a "), Span("horribly", IT | U), Span(" bad")]),
        ("*He's **very** sure*", [Span("He's ", IT), Span("very", B | IT), Span(" sure", IT)]),
        (r"**\*9765\***", [Span("*9765*", B)]),
        (r"\*not\* \_this\_", [Span("*not* _this_")]),
        ("He dialed *69 and then *23.", [Span("He dialed *69 and then *23.")]),
        (
            "He dialed *69 and then 23*.",
            [Span("He dialed "), Span("69 and then 23", IT), Span(".")],
        ),
        ("2 * 3 * 4", [Span("2 * 3 * 4")]),
        ("an *unclosed mark", [Span("an *unclosed mark")]),
        ("**bold *and italic***", [Span("bold ", B), Span("and italic", B | IT)]),
        ("fill in ____ here", [Span("fill in ____ here")]),
        (r"C:\Users\tom", [Span(r"C:\Users\tom")]),
    ],
)
def test_emphasis(source: str, spans: list[Span]) -> None:
    assert parse_inline(source) == Text.from_spans(spans)
    assert parse_inline(format_inline(Text.from_spans(spans))) == Text.from_spans(spans)


def test_emphasis_never_crosses_a_line() -> None:
    source = "Brick and Steel *share a look.\nThis is going to be BAD.*"
    assert parse_inline(source) == Text.of(
        "Brick and Steel *share a look.\nThis is going to be BAD.*"
    )


def test_emphasis_in_dialogue_reaches_the_model() -> None:
    assert elements("MARA\nI *said* **no**.") == (
        Character("MARA"),
        Dialogue(
            Text.from_spans([Span("I "), Span("said", IT), Span(" "), Span("no", B), Span(".")])
        ),
    )


# --- notes, boneyard, sections, synopses --------------------------------------------------------


def test_notes_standalone_inline_and_over_lines() -> None:
    assert elements("[[Check this scene.]]") == (Note("Check this scene."),)
    assert elements("[[First line\nsecond line]]") == (Note("First line\nsecond line"),)
    assert elements("He waits. [[Too long?]] Then goes.") == (
        Action(
            Text.from_spans([Span("He waits. "), Span("Too long?", note=True), Span(" Then goes.")])
        ),
    )
    assert elements("MARA\nGo. [[louder]]") == (
        Character("MARA"),
        Dialogue(Text.from_spans([Span("Go. "), Span("louder", note=True)])),
    )


def test_notes_in_plain_fields_are_dropped_not_printed() -> None:
    assert elements("INT. HOUSE [[check]] - DAY") == (SceneHeading("INT. HOUSE  - DAY"),)


def test_boneyard_standalone_inline_and_across_blank_lines() -> None:
    source = (
        "/* An old\n\nopening. */\n\nShe runs /* fast */ away.\n\nCOOK\n/*\nCut line.\n*/\nSoup."
    )
    assert elements(source) == (
        Boneyard(" An old\n\nopening. "),
        action("She runs  away."),
        Boneyard(" fast "),
        Character("COOK"),
        dialogue("Soup."),
        Boneyard("\nCut line.\n"),
    )


def test_unclosed_note_and_boneyard_stay_text() -> None:
    assert elements("Look [[here.\n\nAnd /* there.") == (
        action("Look [[here."),
        action("And /* there."),
    )


def test_sections_and_synopses() -> None:
    source = "# ACT ONE\n\n## The ferry\n= Dora meets Eli.\n\n### Smaller"
    assert elements(source) == (
        Section("ACT ONE", 1),
        Section("The ferry", 2),
        Synopsis("Dora meets Eli."),
        Section("Smaller", 3),
    )


# --- malformed input --------------------------------------------------------------------------


def test_input_that_is_not_text_is_refused_with_a_sentence() -> None:
    with pytest.raises(FormatError, match="not text"):
        parse_fountain(b"INT. HOUSE - DAY")  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="binary"):
        parse_fountain("INT. HOUSE\x00\x01")


def test_crlf_bom_and_stray_whitespace() -> None:
    source = "\ufeffINT. HOUSE - DAY\r\n\r\nMARA   \r\nHi.\r\n \r\n\t\r\nShe waits."
    assert elements(source) == (
        SceneHeading("INT. HOUSE - DAY"),
        Character("MARA"),
        dialogue("Hi."),
        action("She waits."),
    )


@settings(max_examples=300, deadline=None)
@given(st.text().map(lambda s: s.replace("\x00", "")))
def test_any_text_reads_without_error(source: str) -> None:
    doc = parse_fountain(source)
    assert parse_fountain(to_fountain(doc)) == doc


# --- writing ----------------------------------------------------------------------------------


def test_canonical_fountain_of_a_small_script() -> None:
    doc = Document(
        TitlePage(
            (
                TitleEntry(
                    "Title", Text.from_spans([Span("NIGHT FERRY", B | U), Span("\nPart one")])
                ),
                TitleEntry("Draft date", Text.of("28 Nov 2026")),
            )
        ),
        (
            SceneHeading("INT. FERRY - NIGHT", "12A"),
            action("Dora clips a ticket."),
            Character("DORA", "V.O."),
            Parenthetical("(quietly)"),
            Dialogue(Text.from_spans([Span("Not "), Span("tonight", IT), Span(".\n\nNot ever.")])),
            Character("ELI", dual=True),
            dialogue("Fine."),
            Lyrics(Text.of("Row, row")),
            Transition("CUT TO:"),
            Centered(Text.of("THE END")),
            PageBreak(),
        ),
    )
    assert to_fountain(doc) == (
        "Title:\n    _**NIGHT FERRY**_\n    Part one\nDraft date: 28 Nov 2026\n\n"
        "INT. FERRY - NIGHT #12A#\n\n"
        "Dora clips a ticket.\n\n"
        "DORA (V.O.)\n(quietly)\nNot *tonight*.\n  \nNot ever.\n\n"
        "ELI ^\nFine.\n~Row, row\n\n"
        "CUT TO:\n\n"
        "> THE END <\n\n"
        "===\n"
    )
    assert parse_fountain(to_fountain(doc)) == doc


@pytest.mark.parametrize(
    ("element", "written"),
    [
        (action("INT. HOUSE - DAY"), "!INT. HOUSE - DAY"),
        (action("CUT TO:"), "!CUT TO:"),
        (action("BRICK\nsighs."), "!BRICK\nsighs."),
        (action("!wow"), "!!wow"),
        (action("~humming"), "!~humming"),
        (action("# not a section"), "!# not a section"),
        (action("> not centered <"), "!> not centered <"),
        (action("==="), "\\==="),
        (Action(Text((Span("just a note", note=True),))), "![[just a note]]"),
        (action("2 * 3"), "2 \\* 3"),
        (SceneHeading("A BLACK VOID"), ".A BLACK VOID"),
        (SceneHeading("the roof of the world", "3-B"), ".the roof of the world #3-B#"),
        (SceneHeading("...LATER"), ".\\...LATER"),
        (SceneHeading("INT. ROOM #5#"), "INT. ROOM #5\\#"),
        (Transition("Dissolve to:"), "> Dissolve to:"),
        (Transition("FADE OUT."), "> FADE OUT."),
        (Section("Act *one*", 2), "## Act \\*one\\*"),
        (Synopsis("She wins."), "= She wins."),
        (Note("a [[b]] c"), "[[a [[b\\]\\] c]]"),
        (Boneyard(" cut "), "/* cut */"),
    ],
)
def test_writer_forces_and_escapes_only_where_needed(element: Element, written: str) -> None:
    doc = Document(elements=(element,))
    assert to_fountain(doc) == written + "\n"
    assert parse_fountain(to_fountain(doc)) == doc


@pytest.mark.parametrize(
    ("cue", "written"),
    [
        (Character("MARA"), "MARA"),
        (Character("McKENNA"), "@McKENNA"),
        (Character("林小雨", "V.O."), "@林小雨 (V.O.)"),
        (Character("TOM", "into phone", dual=True), "TOM (into phone) ^"),
        (Character("BOB (THE BUILDER)"), "BOB \\(THE BUILDER)"),
    ],
)
def test_cues_are_forced_when_they_have_no_case(cue: Character, written: str) -> None:
    doc = Document(elements=(cue, dialogue("Hello.")))
    assert to_fountain(doc) == f"{written}\nHello.\n"
    assert parse_fountain(to_fountain(doc)) == doc


def test_a_cue_without_dialogue_is_forced() -> None:
    doc = Document(elements=(Character("MARA"),))
    assert to_fountain(doc) == "@MARA\n"
    assert parse_fountain(to_fountain(doc)) == doc


def test_dialogue_lines_that_look_like_parentheticals_or_lyrics_are_escaped() -> None:
    doc = Document(elements=(Character("TOM"), dialogue("(laughs) no\n~tilde")))
    assert to_fountain(doc) == "TOM\n\\(laughs) no\n\\~tilde\n"
    assert parse_fountain(to_fountain(doc)) == doc


def test_first_paragraph_that_would_read_as_a_title_page_is_forced() -> None:
    doc = Document(elements=(action("Note: the dog is real."), Transition("NOTE TO:")))
    assert to_fountain(doc) == "!Note: the dog is real.\n\nNOTE TO:\n"
    first_transition = Document(elements=(Transition("NOTE TO:"),))
    assert to_fountain(first_transition) == "> NOTE TO:\n"
    assert parse_fountain(to_fountain(first_transition)) == first_transition


def test_emphasis_marks_are_written_next_to_visible_characters() -> None:
    # Fountain cannot emphasise a space at the edge of a run: `**bold **` is not bold.
    text = Text.from_spans([Span("bold ", B), Span("then"), Span(" under", U)])
    assert format_inline(text) == "**bold** then _under_"
    assert parse_inline(format_inline(text)) == Text.from_spans(
        [Span("bold", B), Span(" then "), Span("under", U)]
    )


def test_orphan_dialogue_is_written_as_action_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    doc = Document(elements=(SceneHeading("INT. HOUSE"), dialogue("Who said that?")))
    with caplog.at_level(logging.WARNING, logger="screenplay.fountain"):
        written = to_fountain(doc)
    assert written == "INT. HOUSE\n\n!Who said that?\n"
    assert "cannot carry" in caplog.text


def test_a_title_key_fountain_cannot_read_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    doc = Document(TitlePage((TitleEntry("2nd draft", Text.of("May")),)))
    with caplog.at_level(logging.WARNING, logger="screenplay.fountain"):
        to_fountain(doc)
    assert "title page" in caplog.text


def test_public_names_resolve_lazily() -> None:
    assert screenplay.parse_fountain is parse_fountain
    assert screenplay.to_fountain is to_fountain


# --- round trips ------------------------------------------------------------------------------


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_every_canonical_document_survives_fountain(doc: Document) -> None:
    assert parse_fountain(to_fountain(doc)) == doc


def _joined(lines: list[Text]) -> Text:
    text = lines[0]
    for line in lines[1:]:
        text = text + Text.of("\n") + line
    return text


# Empty lines are kept inside action, dialogue and lyrics (as two-space lines, or `~` at either end
# of a lyric); indentation only in action.
_dialogue_lines = st.lists(st.one_of(st.just(Text()), line_text()), min_size=1, max_size=4)
_action_lines = st.lists(
    st.one_of(st.just(Text()), line_text(), line_text().map(lambda t: Text.of("    ") + t)),
    min_size=1,
    max_size=4,
)


@st.composite
def _unusual_group(draw: st.DrawFn) -> list[Element]:
    """What the shared strategy leaves out and the writer must force or escape: any words as
    cue names, extensions, headings and transitions; empty and indented lines; cues without
    dialogue; notes over lines; lone lyrics; boneyard across blank lines."""
    cue = Character(draw(words), draw(st.one_of(st.none(), words)), draw(st.booleans()))
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return [Action(_joined(draw(_action_lines)))]
    if kind == 1:
        paren = Parenthetical("(" + draw(words) + ")")
        sung = [Lyrics(_joined(draw(_dialogue_lines)))] if draw(st.booleans()) else []
        return [cue, paren, Dialogue(_joined(draw(_dialogue_lines))), *sung]
    if kind == 2:
        return [cue]
    if kind == 3:
        return [SceneHeading(draw(words), draw(st.sampled_from([None, "1", "12A"])))]
    if kind == 4:
        return [Transition(draw(words))]
    if kind == 5:
        return [Note("\n".join(draw(st.lists(words, min_size=1, max_size=3))))]
    if kind == 6:
        return [Centered(draw(multi_line_text()))]
    if kind == 7:
        return [Lyrics(_joined(draw(_dialogue_lines)))]
    bones = st.lists(words.filter(lambda w: "*/" not in w), min_size=1, max_size=2)
    return [Boneyard("\n\n".join(draw(bones)))]


@st.composite
def _unusual_documents(draw: st.DrawFn) -> Document:
    elements: list[Element] = []
    for group in draw(st.lists(_unusual_group(), max_size=8)):
        if isinstance(group[0], Lyrics) and elements and isinstance(elements[-1], Lyrics):
            continue  # two lyrics in a row are one lyrics element
        elements += group
    return Document(elements=tuple(elements))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_unusual_documents())
def test_documents_that_need_forcing_and_escaping_survive_fountain(doc: Document) -> None:
    assert parse_fountain(to_fountain(doc)) == doc


# Pieces of Fountain that mean something, so random sources hit every rule and its edges.
_PIECES = [
    *"abAB xyz.:!@#=~^><*_\\/[]()\n\n\t林",
    *["  \n", "INT. ", "int ", "CUT TO:", "[[", "]]", "/*", "*/", "===", "BOB\n", "> ", " <"],
    *["Title: ", "\n   ", "(V.O.)", "(beat)\n", " ^", " #1#", "...", "\r\n", "**", "McK"],
]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_PIECES), max_size=50).map("".join))
@example("BOB\n(V.O.)*)*\n   (V.O.)")  # a wrapped parenthetical whose first line ends with `)`
@example("BOB\n[[]] <")  # an empty note dropped from a speech's start leaves its blank
@example("BOB\nhello\n[[]] there\n~[[]] la [[]]")  # ... at a later line's start, or a lyric's end
def test_any_source_reads_the_same_after_writing(source: str) -> None:
    doc = parse_fountain(source)
    written = to_fountain(doc)
    assert parse_fountain(written) == doc
    assert to_fountain(parse_fountain(written)) == written


HAND_WRITTEN = """\
Title: **BRICK & STEEL**
Credit: Written by
Author: Stu Maschwitz

EXT. BRICK'S PATIO - DAY #1#

A gorgeous day.  The sun is shining.  But BRICK BRADDOCK, retired police detective, is sitting \
quietly, contemplating -- something.

The SCREEN DOOR slides open and DICK STEEL, his former partner and fellow retiree, emerges with \
two cold beers.

STEEL
Beer's ready!

BRICK
Are they cold?

STEEL
Does a bear crap in the woods?

Steel sits.  They laugh at each other's cleverness.

BRICK
Screw retirement.

STEEL ^
Screw retirement.

SMASH CUT TO:

.SNIPER SCOPE POV

From what seems like only INCHES AWAY.  _Steel's face FILLS the *Leupold Mark 4* scope_.

STEEL
(starting the engine)
So much for retirement!
\x20\x20
Again.

> FADE OUT.

[[Act two starts here.]]

/* A scene we cut.

INT. NOWHERE - NIGHT
*/

# ACT TWO

= The heist goes wrong.

~Keeper, keeper, keep me

@McCLANE
Yippie ki-yay! \\*Not\\* a hero.

> THE END <

===
"""


def test_a_hand_written_script_reads_the_same_after_writing() -> None:
    doc = parse_fountain(HAND_WRITTEN)
    assert doc.title == "BRICK & STEEL"
    assert SceneHeading("SNIPER SCOPE POV") in doc.elements
    assert Character("STEEL", dual=True) in doc.elements
    written = to_fountain(doc)
    assert parse_fountain(written) == doc
    assert to_fountain(parse_fountain(written)) == written


@pytest.mark.parametrize("path", sorted(FILES.glob("*.fountain")), ids=lambda p: p.stem)
def test_shipped_scripts_read_the_same_after_writing(path: Path) -> None:
    doc = parse_fountain(path.read_text(encoding="utf-8"))
    assert doc.elements
    assert parse_fountain(to_fountain(doc)) == doc


# --- scanned, not backtracked ------------------------------------------------------------------

_OLD_SCENE_NUMBER = re.compile(r"(.*?)\s*(?<!\\)#([\w.\-]+)#")


@settings(max_examples=400, deadline=None)
@given(st.text(st.sampled_from("#a1.-_ \\\u00a0\té"), max_size=16))
def test_a_scene_number_is_found_as_the_old_pattern_found_it(heading: str) -> None:
    """`split_scene_number` searches back from the end; this regular expression, its reference
    on short headings, took 112 s on a heading padded with 64 KB of spaces."""
    match = _OLD_SCENE_NUMBER.fullmatch(heading)
    expected = (match[1], match[2]) if match else (heading, None)
    assert split_scene_number(heading) == expected


def test_a_scene_number_longer_than_any_scene_number_stays_in_the_heading() -> None:
    number = "1" * (MAX_SCENE_NUMBER + 1)
    doc = parse_fountain(f"INT. HOUSE - DAY #{number}#\n\nShe waits.\n")
    assert doc.elements[0] == SceneHeading(f"INT. HOUSE - DAY #{number}#")
    assert parse_fountain("INT. HOUSE - DAY #12A#\n").elements[0] == SceneHeading(
        "INT. HOUSE - DAY", "12A"
    )


def test_a_section_deeper_than_the_deepest_level_is_read_at_that_level() -> None:
    doc = parse_fountain("#" * 40 + " Act One\n")
    assert doc.elements == (Section("Act One", MAX_SECTION_LEVEL),)
