from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screenplay.errors import FormatError
from screenplay.fdx import parse_fdx, to_fdx
from screenplay.fountain import parse_fountain, to_fountain
from screenplay.types import (
    MAX_SCENE_NUMBER,
    MAX_SECTION_LEVEL,
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
from tests.screenplay.strategies import documents

FILES = Path(__file__).parent.parent / "files"
FDX_FILES = FILES / "fdx"


def _rich(*parts: str | tuple[str, Style] | Span) -> Text:
    return Text.from_spans(
        p if isinstance(p, Span) else Span(p) if isinstance(p, str) else Span(*p) for p in parts
    )


# --- reading what Final Draft writes -----------------------------------------------------------


def test_final_draft_12_script_reads_as_it_prints() -> None:
    doc = parse_fdx((FDX_FILES / "final_draft_12.fdx").read_bytes())
    assert doc.elements == (
        # Typed in lower case; Final Draft prints these element types in capitals.
        Transition("FADE IN:"),
        SceneHeading("INT. LIGHTHOUSE - NIGHT", "1"),
        Action(
            _rich(
                "The lamp turns. MARA (40s) reads a ",
                ("very old", Style.BOLD | Style.UNDERLINE),
                " letter.\nThe wind ",
                ("howls", Style.ITALIC),
                ".",
            )
        ),
        Character("MARA", "V.O."),
        Parenthetical("(reading)"),
        Dialogue(_rich('"Keep the light burning, ', ("whatever", Style.ITALIC), ' they say."')),
        Action(Text.of("ANGLE ON THE DOOR")),
        Action(Text.of("It creaks open.")),
        Character("TOMAS"),
        Dialogue(Text.of("You came back.")),
        Character("MARA", dual=True),
        Dialogue(Text.of("I never left.")),
        Character("林小雨"),
        Lyrics(Text.of("Keeper, keeper, mind the flame")),
        Transition("CUT TO:"),
        PageBreak(),
        SceneHeading("EXT. HARBOUR - DAWN", "2A"),
        Centered(Text.of("THE END", Style.BOLD)),
    )


def test_final_draft_title_page_maps_back_to_entries() -> None:
    doc = parse_fdx((FDX_FILES / "final_draft_12.fdx").read_bytes())
    assert doc.title_page.entries == (
        TitleEntry("Title", Text.of("THE KEEPER", Style.BOLD | Style.UNDERLINE)),
        TitleEntry("Credit", Text.of("Written by")),
        TitleEntry("Author", Text.of("Ana Keller")),
        TitleEntry("Source", Text.of("Based on the novel by J. Moreau")),
        TitleEntry("Contact", Text.of("Ana Keller\nana@example.com")),
        TitleEntry("Draft date", Text.of("First Draft - November 28, 2026")),
    )
    assert doc.title == "THE KEEPER"


def test_file_of_another_tool_keeps_line_breaks_and_unknown_types() -> None:
    doc = parse_fdx((FDX_FILES / "other_tool.fdx").read_text(encoding="utf-8"))
    assert doc.title_page == TitlePage()
    assert doc.elements == (
        SceneHeading("EXT. ROOFTOP - NIGHT"),
        Action(_rich("Rain.\n   Then ", ("silence", Style.BOLD | Style.ITALIC), ".")),
        Character("DR. ODUYA", "O.S."),
        Parenthetical("(beat)"),
        Dialogue(Text.of("Come inside.\nIt's <over> & done.")),
        Action(Text.of("ACT TWO")),
        Transition("SMASH CUT TO:"),
    )


def test_title_page_without_credit_puts_dates_and_contacts_apart() -> None:
    page = ET.Element("FinalDraft")
    ET.SubElement(page, "Content")
    title = ET.SubElement(ET.SubElement(page, "TitlePage"), "Content")
    for alignment, words in [
        ("Center", "DISPATCH"),
        ("Center", ""),
        ("Center", "Episode 3"),
        ("Left", "Agent: Rui Sato"),
        ("Left", ""),
        ("Left", "Manager: Ida Berg"),
        ("Right", "Revised 03/04/2026"),
        ("Left", "Copyright 2026"),
    ]:
        ET.SubElement(ET.SubElement(title, "Paragraph", Alignment=alignment), "Text").text = words
    doc = parse_fdx(ET.tostring(page))
    assert [(e.key, e.value.plain) for e in doc.title_page.entries] == [
        ("Title", "DISPATCH"),
        ("Notes", "Episode 3"),
        ("Contact", "Agent: Rui Sato\nManager: Ida Berg"),
        ("Draft date", "Revised 03/04/2026"),
        ("Copyright", "Copyright 2026"),
    ]


# --- writing what Final Draft reads ------------------------------------------------------------

SAMPLE = Document(
    TitlePage(
        (
            TitleEntry("Title", Text.of("THE KEEPER", Style.BOLD)),
            TitleEntry("Credit", Text.of("Written by")),
            TitleEntry("Author", Text.of("Ana Keller")),
            TitleEntry("Draft date", Text.of("28 Nov 2026")),
            TitleEntry("Contact", Text.of("ana@example.com\n+1 555 0100")),
        )
    ),
    (
        Section("Act One"),
        SceneHeading("INT. LIGHTHOUSE - NIGHT", "1"),
        Synopsis("Mara finds the letter."),
        Action(_rich("The lamp ", ("turns", Style.ITALIC), ".", Span(" slower?", note=True))),
        Character("MARA", "V.O."),
        Parenthetical("(reading)"),
        Dialogue(Text.of("Keep the light burning.")),
        Character("TOMAS", dual=True),
        Dialogue(Text.of("Whatever they say.")),
        Note("Check the timeline."),
        PageBreak(),
        Transition("CUT TO:"),
        Boneyard("EXT. CLIFF - DAY\nCut for length."),
        Centered(Text.of("THE END")),
    ),
)


def test_written_file_has_the_shape_final_draft_reads() -> None:
    root = ET.fromstring(to_fdx(SAMPLE))
    assert root.tag == "FinalDraft"
    assert root.attrib == {"DocumentType": "Script", "Template": "No", "Version": "5"}
    top = root.findall("Content/Paragraph")
    assert [p.get("Type") for p in top] == [
        "Scene Heading",
        "Action",
        None,  # the dual dialogue wrapper
        "Transition",
        "Action",
    ]
    assert top[0].get("Number") == "1"
    assert [(t.text, t.get("Style")) for t in top[1].findall("Text")] == [
        ("The lamp ", None),
        ("turns", "Italic"),
        (".", None),
    ]
    dual = top[2].find("DualDialogue")
    assert dual is not None
    assert [(p.get("Type"), p.findtext("Text")) for p in dual.findall("Paragraph")] == [
        ("Character", "MARA (V.O.)"),
        ("Parenthetical", "(reading)"),
        ("Dialogue", "Keep the light burning."),
        ("Character", "TOMAS"),
        ("Dialogue", "Whatever they say."),
    ]
    assert top[3].get("StartsNewPage") == "Yes"
    assert top[4].get("Alignment") == "Center"
    assert root.find("ElementSettings[@Type='Action']/FontSpec[@Size='12']") is not None
    dialogue = root.find("ElementSettings[@Type='Dialogue']/ParagraphSpec")
    assert dialogue is not None
    assert (dialogue.get("LeftIndent"), dialogue.get("RightIndent")) == ("2.50", "6.00")
    assert root.findtext("SmartType/Characters/Character") == "MARA"


def test_unprinted_material_stays_out_of_the_printed_pages() -> None:
    root = ET.fromstring(to_fdx(SAMPLE))
    printed = " ".join(t.text or "" for t in root.iter("Text"))
    for hidden in ["Act One", "Mara finds", "slower?", "Check the timeline", "Cut for length"]:
        assert hidden not in printed
    assert parse_fdx(to_fdx(SAMPLE)) == SAMPLE


def test_title_page_is_laid_out_like_final_draft() -> None:
    root = ET.fromstring(to_fdx(SAMPLE))
    paragraphs = root.findall("TitlePage/Content/Paragraph")
    lines = [(p.get("Alignment"), "".join(p.itertext()).strip()) for p in paragraphs]
    title_line = lines.index(("Center", "THE KEEPER"))
    assert 12 <= title_line <= 20  # about a third of the way down the page
    assert lines.index(("Center", "Written by")) < lines.index(("Center", "Ana Keller"))
    contact_line = lines.index(("Left", "ana@example.com"))
    assert contact_line > 40  # the bottom block sits at the foot of the page
    assert lines.index(("Left", "28 Nov 2026")) > lines.index(("Center", "Ana Keller"))


def test_page_breaks_with_nothing_printed_after_them_are_kept() -> None:
    doc = Document(elements=(Action(Text.of("One.")), PageBreak(), PageBreak(), Note("end")))
    assert parse_fdx(to_fdx(doc)) == doc


def test_a_dual_cue_with_nobody_to_pair_with_stays_dual() -> None:
    doc = Document(
        elements=(
            Action(Text.of("Silence.")),
            Character("MARA", dual=True),
            Dialogue(Text.of("Hello?")),
            Character("TOM"),
            Dialogue(Text.of("Here.")),
            PageBreak(),
            Character("JO", dual=True),
            Dialogue(Text.of("And me.")),
        )
    )
    root = ET.fromstring(to_fdx(doc))
    assert len(root.findall("Content/Paragraph/DualDialogue")) == 2
    assert parse_fdx(to_fdx(doc)) == doc


def test_elements_that_print_nothing_do_not_shift_the_notes_after_them() -> None:
    doc = Document(
        elements=(
            Action(Text.from_spans([Span("fix this", note=True)])),
            Character("MARA"),
            Dialogue(Text()),
            Action(_rich("She ", Span("really?", note=True), "waits.")),
            Synopsis("The wait."),
        )
    )
    assert parse_fdx(to_fdx(doc)).elements == (
        Note("fix this"),
        Character("MARA"),
        Action(_rich("She ", Span("really?", note=True), "waits.")),
        Synopsis("The wait."),
    )


def test_characters_xml_cannot_hold_are_left_out() -> None:
    doc = Document(elements=(Action(Text.of("Beep\x07 beep\x00.")),))
    assert parse_fdx(to_fdx(doc)).elements == (Action(Text.of("Beep beep.")),)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_round_trip_keeps_every_element(doc: Document) -> None:
    assert parse_fdx(to_fdx(doc)) == doc


# Elements in any order with any whitespace: dual cues with nobody to pair with, notes inside
# dialogue blocks, page breaks back to back, text starting or ending with line breaks.
_chars = st.sampled_from(list("ab Z9 \t\n.()&<>\"'林é"))
_any_text = st.lists(
    st.builds(
        Span,
        st.text(_chars, min_size=1, max_size=6),
        st.sampled_from([Style.NONE, Style.BOLD, Style.ITALIC | Style.UNDERLINE]),
        st.booleans(),
    ),
    max_size=5,
).map(Text.from_spans)
_printed_text = _any_text.filter(lambda text: text.plain.strip())
_word = (
    st.text(st.sampled_from(list("AB z.-林 ")), min_size=1, max_size=8).map(str.strip).filter(bool)
)
_any_element = st.one_of(
    st.builds(Action, _printed_text),
    st.builds(Dialogue, _printed_text),
    st.builds(Centered, _printed_text),
    st.builds(Lyrics, _printed_text),
    st.builds(SceneHeading, _word, st.one_of(st.none(), _word)),
    st.builds(Character, _word, st.one_of(st.none(), _word), st.booleans()),
    st.builds(Parenthetical, _word.map(lambda w: f"({w})")),
    st.builds(Transition, _word),
    st.just(PageBreak()),
    st.builds(Note, st.text(_chars)),
    st.builds(Boneyard, st.text(_chars)),
    st.builds(Synopsis, st.text(_chars)),
    st.builds(Section, st.text(_chars), st.integers(1, 5)),
)
_any_document = st.builds(
    Document,
    st.lists(st.builds(TitleEntry, st.text(_chars, max_size=8), _any_text), max_size=5).map(
        lambda entries: TitlePage(tuple(entries))
    ),
    st.lists(_any_element, max_size=25).map(tuple),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_any_document)
def test_round_trip_keeps_elements_in_any_order(doc: Document) -> None:
    assert parse_fdx(to_fdx(doc)) == doc


def test_a_blank_line_between_verses_survives_a_trip_through_final_draft() -> None:
    source = "MARA\n~Row, row, row your boat\n~gently down the stream.\n  \n~Merrily, merrily"
    doc = parse_fountain(source)
    root = ET.fromstring(to_fdx(doc))
    assert [
        (p.get("Type"), "".join(p.itertext()).strip()) for p in root.findall("Content/Paragraph")
    ] == [
        ("Character", "MARA"),
        ("Lyrics", "Row, row, row your boat\ngently down the stream.\n\nMerrily, merrily"),
    ]
    assert parse_fdx(to_fdx(doc)) == doc


def test_fountain_scripts_survive_a_trip_through_final_draft() -> None:
    scripts = sorted(FILES.glob("*.fountain"))
    assert scripts
    for path in scripts:
        doc = parse_fountain(path.read_text(encoding="utf-8"))
        assert parse_fdx(to_fdx(doc)) == doc, path.name


# --- input that is not a Final Draft script ----------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol9;</Text></Paragraph></Content></FinalDraft>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE FinalDraft [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&secret;</Text></Paragraph></Content>
</FinalDraft>
"""


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("", "empty"),
        (b"  \n\t", "empty"),
        ("<FinalDraft><Content><Paragraph>", "ends early"),
        ((FDX_FILES / "final_draft_12.fdx").read_bytes()[:2000], "ends early"),
        ("<FinalDraft><Content></Paragraph></Content></FinalDraft>", "mismatched tag"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "another kind of file"),
        ("INT. HOUSE - DAY\n\nShe waits.", "another kind of file"),
        ("<FinalDraft><Content>\x00</Content></FinalDraft>", "not well-formed"),
        (BILLION_LAUGHS, "entities"),
        (EXTERNAL_ENTITY, "entities"),
        ('<?xml version="1.0"?><html><body>hi</body></html>', "<html>"),
    ],
)
def test_what_is_not_a_final_draft_script_is_refused_in_words(
    data: str | bytes, words: str
) -> None:
    with pytest.raises(FormatError) as caught:
        parse_fdx(data)
    message = str(caught.value)
    assert message.startswith("This file is")
    assert words in message
    assert "Traceback" not in message and "Error" not in message
    assert caught.value.__cause__ is None


# --- numbers and names read from a file are bounded --------------------------------------------


def _fdx(content: str, private: str = "", title: str = "") -> bytes:
    title_page = f"<TitlePage><Content>{title}</Content></TitlePage>" if title else ""
    hidden = f'<WritersRoom Version="1">{private}</WritersRoom>' if private else ""
    return f"<FinalDraft><Content>{content}</Content>{title_page}{hidden}</FinalDraft>".encode()


def test_a_huge_section_level_is_held_to_the_deepest_level() -> None:
    """240 bytes of FDX once made a 100 MB Fountain file: the level is repeated as `#`."""
    data = _fdx("", '<Hidden Index="0" Type="Section" Level="100000000">Act</Hidden>')
    assert len(data) < 240
    doc = parse_fdx(data)
    assert doc.elements == (Section("Act", MAX_SECTION_LEVEL),)
    assert len(to_fountain(doc)) < 40


@pytest.mark.parametrize("level", ["0", "-7", "two", "9" * 5000])
def test_a_section_level_that_is_no_level_reads_as_level_one(level: str) -> None:
    data = _fdx("", f'<Hidden Index="0" Type="Section" Level="{level}">Act</Hidden>')
    expected = MAX_SECTION_LEVEL if level.startswith("9") else 1
    assert parse_fdx(data).elements == (Section("Act", expected),)


def test_a_scene_number_longer_than_any_scene_number_is_left_out() -> None:
    heading = (
        '<Paragraph Type="Scene Heading" Number="{}"><Text>INT. HOUSE - DAY</Text></Paragraph>'
    )
    short = "A" * MAX_SCENE_NUMBER
    doc = parse_fdx(_fdx(heading.format(short) + heading.format("1" * 100_000)))
    assert doc.elements == (
        SceneHeading("INT. HOUSE - DAY", short),
        SceneHeading("INT. HOUSE - DAY"),
    )


def test_a_title_page_map_whose_entries_overlap_is_read_by_layout_instead() -> None:
    """Each entry copying the whole title page would make a few bytes of map megabytes."""
    line = '<Paragraph Alignment="Center"><Text>LATE AGAIN</Text></Paragraph>'
    entry = '<TitleEntry Key="Title" First="0" Last="199"/>'
    doc = parse_fdx(_fdx("", entry * 1000, title=line * 200))
    assert [entry.key for entry in doc.title_page.entries] == ["Title"]
    assert len(doc.title_page.entries[0].value.plain) == 200 * 11 - 1


def test_hidden_elements_and_notes_go_where_their_numbers_say_or_nearest() -> None:
    action = '<Paragraph Type="Action"><Text>She waits.</Text></Paragraph>'
    private = (
        '<Hidden Index="-3" Type="Note">first</Hidden>'
        '<Hidden Index="99" Type="Synopsis">last</Hidden>'
        '<InlineNote Element="1" Offset="-5">before</InlineNote>'
        '<InlineNote Element="1" Offset="999">after</InlineNote>'
        '<InlineNote Element="7" Offset="0">nowhere</InlineNote>'
    )
    doc = parse_fdx(_fdx(action, private))
    assert doc.elements == (
        Note("first"),
        Action(
            Text.from_spans(
                [Span("before", note=True), Span("She waits."), Span("after", note=True)]
            )
        ),
        Synopsis("last"),
        Note("nowhere"),
    )


def test_dual_dialogue_nested_ten_thousand_deep_is_read_flat() -> None:
    depth = 10_000
    inner = '<Paragraph Type="Character"><Text>MARA</Text></Paragraph>'
    nested = "<Paragraph><DualDialogue>" * depth + inner + "</DualDialogue></Paragraph>" * depth
    assert parse_fdx(_fdx(nested)).elements == (Character("MARA", dual=True),)


@pytest.mark.parametrize("encoding", ["x-nonsense", "utf-32", "UTF-7", "rot13", "hex"])
def test_an_xml_encoding_python_cannot_read_is_refused_in_one_line(encoding: str) -> None:
    data = f'<?xml version="1.0" encoding="{encoding}"?><FinalDraft/>'.encode()
    with pytest.raises(FormatError) as caught:
        parse_fdx(data)
    message = str(caught.value)
    assert message.startswith("This file is not valid Final Draft XML")
    assert repr(encoding) in message and "\n" not in message and "Error" not in message


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("AB (V.O)\n\u00a0\t"), max_size=14))
def test_a_cue_is_split_into_name_and_extension_as_the_old_pattern_did(text: str) -> None:
    """The cue is read with string methods now; this regular expression, its reference on short
    cues, took quadratic time on a long run of spaces."""
    plain = text.strip()
    paragraph = f'<Paragraph Type="Character"><Text>{escape(text)}</Text></Paragraph>'
    elements = parse_fdx(_fdx(paragraph)).elements
    match = re.match(r"^(?P<name>.*?)\s*\((?P<ext>[^()]*)\)\s*$", plain, re.DOTALL)
    if not plain:
        assert elements == ()
    elif match and match["name"] and match["ext"].strip():
        assert elements == (Character(match["name"], match["ext"].strip()),)
    else:
        assert elements == (Character(plain),)
