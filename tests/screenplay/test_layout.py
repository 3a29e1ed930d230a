"""The screenplay page layout: indents, lines per page, and the page-break rules of the industry."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from screenplay import layout
from screenplay.errors import ScreenplayError
from screenplay.layout import (
    INCH,
    PAPERS,
    Line,
    Page,
    char_width,
    display_width,
    page_count,
    paginate,
)
from screenplay.types import (
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
from tests.screenplay.strategies import documents

T = Text.of
LETTER_LINES = PAPERS["letter"].lines


def _doc(*elements: Element, title: TitlePage | None = None) -> Document:
    return Document(title or TitlePage(), tuple(elements))


def _body(doc: Document, paper: str = "letter") -> list[Page]:
    return [page for page in paginate(doc, paper) if page.number is not None]


def _kinds(page: Page, kind: str) -> list[Line]:
    return sorted((line for line in page.lines if line.kind == kind), key=lambda x: x.row)


def _filler(count: int) -> list[Element]:
    return [Action(T(f"Line {i}.")) for i in range(count)]


def _speech(sentences: int) -> str:
    return " ".join(f"Sentence {i} goes on and on for a while." for i in range(sentences))


def _last_row(page: Page) -> Line:
    body = [line for line in page.lines if line.row >= 0]
    return max(body, key=lambda line: (line.row, line.x))


def test_each_element_sits_at_its_industry_indent() -> None:
    doc = _doc(
        SceneHeading("INT. HOUSE - DAY"),
        Action(T("She waits.")),
        Character("MARA", "V.O."),
        Parenthetical("(quietly)"),
        Dialogue(T("We're late.")),
        Transition("CUT TO:"),
        Centered(T("THE END")),
    )
    (page,) = _body(doc)
    x = {line.kind: line.x / INCH for line in page.lines}
    assert x["scene-heading"] == pytest.approx(1.5)
    assert x["action"] == pytest.approx(1.5)
    assert x["character"] == pytest.approx(3.7)
    assert x["parenthetical"] == pytest.approx(3.1)
    assert x["dialogue"] == pytest.approx(2.5)
    (transition,) = _kinds(page, "transition")
    assert (transition.x + transition.columns * 7.2) / INCH == pytest.approx(7.5)
    (centered,) = _kinds(page, "centered")
    middle = (centered.x + centered.columns * 7.2 / 2) / INCH
    assert middle == pytest.approx(4.5)


def test_one_blank_line_separates_paragraphs_and_none_inside_a_speech() -> None:
    doc = _doc(
        SceneHeading("INT. HOUSE - DAY"),
        Action(T("She waits.")),
        Character("MARA"),
        Parenthetical("(quietly)"),
        Dialogue(T("We're late.")),
    )
    (page,) = _body(doc)
    rows = {line.kind: line.row for line in page.lines}
    assert rows == {
        "scene-heading": 0,
        "action": 2,
        "character": 4,
        "parenthetical": 5,
        "dialogue": 6,
    }


def test_dialogue_wraps_at_35_columns_and_action_at_60() -> None:
    words = " ".join(["word"] * 60)
    doc = _doc(Action(T(words)), Character("MARA"), Dialogue(T(words)))
    (page,) = _body(doc)
    assert max(line.columns for line in _kinds(page, "action")) == 59  # 12 words of 4 + 11 gaps
    assert max(line.columns for line in _kinds(page, "dialogue")) == 34
    assert all(line.columns <= 60 for line in _kinds(page, "action"))


def test_cjk_counts_two_columns_and_punctuation_never_starts_a_line() -> None:
    assert char_width("林") == 2 and char_width("a") == 1 and display_width("林a。") == 5
    text = "你好。" * 12 + "我在找一个人，他叫王明。"
    doc = _doc(Character("林小雨"), Dialogue(T(text)))
    (page,) = _body(doc)
    lines = _kinds(page, "dialogue")
    assert "".join(line.text for line in lines) == text
    assert all(line.columns <= 35 for line in lines)
    assert all(line.text[0] not in "。，、" for line in lines)
    assert len(lines) == 3  # 48 characters, 17 to a line


KOREAN = (
    "오늘 밤 우리는 마지막 배를 타고 섬을 떠나야 해요. "
    "아무도 우리가 어디로 가는지 알면 안 됩니다. 3시에 KTX를 타요."
)


def test_korean_wraps_only_at_spaces_never_inside_a_word() -> None:
    action = f"{KOREAN} {KOREAN}"
    doc = _doc(Character("김지수"), Dialogue(T(KOREAN)), Action(T(action)))
    (page,) = _body(doc)
    for kind, width, text in (("dialogue", 35, KOREAN), ("action", 60, action)):
        lines = _kinds(page, kind)
        assert len(lines) >= 3
        assert all(line.columns <= width for line in lines)
        # Each line holds whole words: put back together with one space, the text is unchanged.
        assert " ".join(line.text for line in lines) == text
    # Dialogue lines stop short of the margin rather than split `섬을` after its first syllable.
    assert [line.text for line in _kinds(page, "dialogue")][:2] == [
        "오늘 밤 우리는 마지막 배를 타고",
        "섬을 떠나야 해요. 아무도 우리가",
    ]


def test_a_korean_word_longer_than_the_line_is_still_broken() -> None:
    word = "가나다라마바사아자차카타파하" * 3
    (page,) = _body(_doc(Character("김지수"), Dialogue(T(f"아 {word} 끝"))))
    lines = _kinds(page, "dialogue")
    assert [line.text for line in lines] == ["아", word[:17], word[17:34], f"{word[34:]} 끝"]


def test_chinese_and_japanese_still_break_between_any_two_characters() -> None:
    for text in (
        "我们今天晚上必须坐最后一班船离开这个岛，谁也不能知道我们去哪里。",
        "今夜、最後の船に乗ってこの島を出なければならない。誰にも行き先を知られてはいけない。",
    ):
        (page,) = _body(_doc(Character("林小雨"), Dialogue(T(text))))
        lines = _kinds(page, "dialogue")
        assert "".join(line.text for line in lines) == text
        # Full lines: 17 characters (34 columns), or 16 where a comma must stay with the one before.
        assert all(line.columns >= 32 for line in lines[:-1])


def test_a_korean_speech_cut_at_a_page_break_keeps_its_words_whole() -> None:
    # "I will wait", over and over: no sentence ends, so the page is cut between two words. Two
    # fit on a line (29 columns), leaving room for the first syllables of a third, not all of it.
    text = " ".join(["기다리겠습니다"] * 150)
    pages = _body(_doc(Character("김지수"), Dialogue(T(text))))
    assert len(pages) >= 2 and _last_row(pages[0]).kind == "more"
    told = " ".join(line.text for page in pages for line in _kinds(page, "dialogue"))
    assert told == text


def test_leading_spaces_and_line_breaks_of_action_are_kept() -> None:
    doc = _doc(Action(T("Roses are red,\n    violets are blue.")))
    (page,) = _body(doc)
    assert [line.text for line in _kinds(page, "action")] == [
        "Roses are red,",
        "    violets are blue.",
    ]


def test_emphasis_is_kept_per_run() -> None:
    spans = [
        Span("The lamp is "),
        Span("ON", Style.BOLD),
        Span(" and "),
        Span("warm", Style.ITALIC),
    ]
    doc = _doc(Action(Text.from_spans(spans)), Character("MARA"), Lyrics(T("la la")))
    (page,) = _body(doc)
    (action,) = _kinds(page, "action")
    assert [(run.text, run.style) for run in action.runs] == [
        ("The lamp is ", Style.NONE),
        ("ON", Style.BOLD),
        (" and ", Style.NONE),
        ("warm", Style.ITALIC),
    ]
    (lyrics,) = _kinds(page, "lyrics")
    assert lyrics.runs[0].style == Style.ITALIC


def test_a_page_of_action_holds_about_55_lines() -> None:
    doc = _doc(*_filler(200))
    pages = _body(doc)
    assert LETTER_LINES == 55
    assert all(54 <= page.rows_used <= 56 for page in pages[:-1])
    # Two rows per paragraph (text and blank): 28 paragraphs on a 55-line page.
    assert len(pages) == 8 == page_count(doc)


def test_a4_is_taller_and_fits_more_lines() -> None:
    doc = _doc(*_filler(200))
    a4 = _body(doc, "A4")
    assert a4[0].paper.width == pytest.approx(595.28, abs=0.01)
    assert a4[0].paper.height == pytest.approx(841.89, abs=0.01)
    assert a4[0].rows_used > _body(doc)[0].rows_used
    assert page_count(doc, "a4") < page_count(doc)


def test_unknown_paper_is_refused_with_a_readable_sentence() -> None:
    with pytest.raises(ScreenplayError, match="choose letter or A4"):
        paginate(_doc(Action(T("x"))), "legal")


def test_page_numbers_start_on_page_two_top_right() -> None:
    pages = _body(_doc(*_filler(100)))
    assert not _kinds(pages[0], "page-number")
    for page in pages[1:]:
        (number,) = _kinds(page, "page-number")
        assert number.text == f"{page.number}."
        assert number.row < 0
        assert (number.x + number.columns * 7.2) / INCH == pytest.approx(7.5)


def test_forced_page_break_starts_a_new_page() -> None:
    doc = _doc(Action(T("Before.")), PageBreak(), Action(T("After.")))
    pages = _body(doc)
    assert [[line.text for line in page.lines if line.row >= 0] for page in pages] == [
        ["Before."],
        ["After."],
    ]


def test_scene_heading_is_never_the_last_line_of_a_page() -> None:
    # 27 one-line paragraphs fill rows 0..52; the heading would land on row 54, the last.
    doc = _doc(*_filler(27), SceneHeading("INT. HOUSE - DAY"), Action(T("She waits.")))
    first, second = _body(doc)
    assert not _kinds(first, "scene-heading")
    assert _kinds(second, "scene-heading")[0].row == 0


def test_cue_never_leaves_its_dialogue() -> None:
    # The cue alone would fit on the last row; it moves with its dialogue.
    doc = _doc(*_filler(27), Character("MARA"), Dialogue(T("Two lines of talk.\nYes.")))
    first, second = _body(doc)
    assert not _kinds(first, "character")
    assert _kinds(second, "character")[0].row == 0


def test_long_speech_splits_after_a_sentence_with_more_and_contd() -> None:
    doc = _doc(*_filler(20), Character("MARA", "V.O."), Dialogue(T(_speech(20))))
    first, second = _body(doc)
    (more,) = _kinds(first, "more")
    assert more.text == "(MORE)" and more.x / INCH == pytest.approx(3.7)
    assert _last_row(first) is more
    above = max(_kinds(first, "dialogue"), key=lambda line: line.row)
    assert above.text.endswith(".") and above.row == more.row - 1
    cue = _kinds(second, "character")[0]
    assert (cue.row, cue.text) == (0, "MARA (V.O.) (CONT'D)")
    told = " ".join(line.text for page in (first, second) for line in _kinds(page, "dialogue"))
    assert told == _speech(20)


def test_speech_taller_than_a_page_is_split_again() -> None:
    doc = _doc(Character("MARA"), Dialogue(T(_speech(120))))
    pages = _body(doc)
    assert len(pages) >= 3
    for page in pages[:-1]:
        assert _last_row(page).kind == "more"
    for page in pages[1:]:
        assert _kinds(page, "character")[0].text == "MARA (CONT'D)"


def test_a_page_never_ends_after_a_parenthetical() -> None:
    body = _speech(2) + "\n"
    elements: list[Element] = [Character("MARA")]
    for _ in range(6):
        elements += [Dialogue(T(body)), Parenthetical("(beat)")]
    elements.append(Dialogue(T(body)))
    for lead in range(10, 24):
        for page in _body(_doc(*_filler(lead), *elements))[:-1]:
            rows = sorted(page.lines, key=lambda line: line.row)
            kinds = [line.kind for line in rows if line.row >= 0]
            if kinds[-1] == "more":
                assert kinds[-2] != "parenthetical"


def test_action_splits_at_a_sentence_with_two_lines_each_side() -> None:
    long_action = " ".join(f"Thing {i} happens in the room, slowly." for i in range(40))
    doc = _doc(*_filler(20), Action(T(long_action)))
    first, second = _body(doc)
    first_part = [line for line in _kinds(first, "action") if not line.text.startswith("Line ")]
    second_part = _kinds(second, "action")
    assert len(first_part) >= 2 and len(second_part) >= 2
    assert first_part[-1].text.endswith(".")
    assert " ".join(line.text for line in first_part + second_part) == long_action


def test_dual_dialogue_prints_side_by_side() -> None:
    doc = _doc(
        Character("TOM"),
        Dialogue(T("Left.")),
        Note("not printed"),
        Character("MARA", dual=True),
        Dialogue(T("Right.")),
    )
    (page,) = _body(doc)
    left, right = sorted(_kinds(page, "character"), key=lambda line: line.x)
    assert left.row == right.row
    assert left.x < 4.25 * INCH < right.x
    speeches = sorted(_kinds(page, "dialogue"), key=lambda line: line.x)
    assert [line.text for line in speeches] == ["Left.", "Right."]
    assert speeches[0].row == speeches[1].row


def test_scene_numbers_print_on_both_sides_of_the_heading() -> None:
    (page,) = _body(_doc(SceneHeading("INT. HOUSE - DAY", "12A")))
    left, right = sorted(_kinds(page, "scene-number"), key=lambda line: line.x)
    (heading,) = _kinds(page, "scene-heading")
    assert left.text == right.text == "12A"
    assert left.x + left.columns * 7.2 < heading.x
    assert right.x > heading.x + heading.columns * 7.2
    assert left.row == right.row == heading.row


def test_notes_sections_synopses_and_boneyard_are_never_laid_out() -> None:
    doc = _doc(
        Section("ACT ONE"),
        Synopsis("She learns the truth."),
        Note("cut this?"),
        Boneyard("old draft"),
        Action(Text.from_spans([Span("She waits."), Span(" secret note", note=True)])),
    )
    (page,) = _body(doc)
    assert [line.text for line in page.lines] == ["She waits."]
    assert page_count(_doc(Note("only a note"))) == 0


def test_title_page_centres_the_title_a_third_down_and_is_not_counted() -> None:
    title = TitlePage(
        (
            TitleEntry("Title", T("THE LONG NIGHT")),
            TitleEntry("Credit", T("written by")),
            TitleEntry("Author", T("Ada Lovelace")),
            TitleEntry("Draft date", T("28 Nov 2026")),
            TitleEntry("Contact", T("ada@example.com\n555-0100")),
            TitleEntry("Revision", T("Blue")),
        )
    )
    doc = _doc(Action(T("She waits.")), title=title)
    cover, body = paginate(doc)
    assert cover.is_title_page and body.number == 1 and page_count(doc) == 1
    by_text = {line.text: line for line in cover.lines}
    title_line = by_text["THE LONG NIGHT"]
    assert (title_line.baseline / INCH) == pytest.approx(11 / 3, abs=0.2)
    assert (title_line.x + title_line.columns * 7.2 / 2) / INCH == pytest.approx(4.5)
    assert by_text["written by"].row > title_line.row
    assert by_text["Ada Lovelace"].row > by_text["written by"].row
    assert by_text["555-0100"].row == LETTER_LINES - 1
    assert by_text["555-0100"].x / INCH == pytest.approx(1.5)
    assert by_text["28 Nov 2026"].x / INCH == pytest.approx(1.5)
    assert "Revision: Blue" in by_text


def _printed_characters(doc: Document) -> Counter[str]:
    chars: Counter[str] = Counter()
    for element in doc.elements:
        if isinstance(element, SceneHeading | Parenthetical | Transition):
            chars.update(element.text)
        elif isinstance(element, Character):
            chars.update(element.cue)
        elif isinstance(element, Action | Dialogue | Lyrics | Centered):
            chars.update(element.text.plain)
    return Counter({c: n for c, n in chars.items() if not c.isspace()})


def _laid_out_characters(pages: list[Page]) -> Counter[str]:
    """Characters on the pages, leaving out what the layout adds: page and scene numbers,
    (MORE), and the cue repeated above a continued speech."""
    chars: Counter[str] = Counter()
    continued = False
    for page in pages:
        lines = sorted(page.lines, key=lambda line: (line.row, line.x))
        repeated_cue = continued
        for line in lines:
            if line.row < 0 or line.kind in ("scene-number", "more"):
                continue
            if repeated_cue and line.kind == "character":
                continue
            repeated_cue = False
            chars.update(line.text)
        continued = any(line.kind == "more" for line in lines)
    return Counter({c: n for c, n in chars.items() if not c.isspace()})


@settings(max_examples=200, deadline=None)
@given(documents())
def test_every_printed_character_lands_inside_the_page_exactly_once(doc: Document) -> None:
    pages = _body(doc)
    assert page_count(doc) == len(pages)
    assert _laid_out_characters(pages) == _printed_characters(doc)
    for page in pages:
        for line in page.lines:
            assert line.row < LETTER_LINES
            assert line.x >= 0.8 * INCH
            if line.kind != "scene-number":
                assert line.x + line.columns * 7.2 <= 7.5 * INCH + 0.01


@settings(max_examples=150, deadline=None)
@given(documents())
def test_no_page_ends_on_a_heading_a_cue_or_a_parenthetical(doc: Document) -> None:
    # Forced breaks are the writer's own; without them every page end is the layout's choice.
    flowing = Document(
        doc.title_page, tuple(e for e in doc.elements if not isinstance(e, PageBreak))
    )
    pages = _body(flowing)
    for page in pages[:-1]:
        last = _last_row(page)
        assert last.kind not in ("scene-heading", "scene-number", "character", "parenthetical")


_WRAP_WORDS = [
    "a",
    "word",
    "Sentence.",
    "  ",
    " ",
    "x" * 40,
    "林小雨说。",
    "「对。」",
    "한국어",
    "e\u0301",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_WRAP_WORDS), max_size=30).map("".join), st.data())
def test_wrapping_a_prefix_gives_the_same_lines_up_to_where_it_ends(
    line: str, data: st.DataObject
) -> None:
    """The page breaker counts the rows of a head from the wrap of the whole line, so wrapping
    the line up to any place a word ends must give the lines of the whole line up to there."""
    cells = [(ch, Style.NONE) for ch in line.strip()]
    whole = list(layout._wrap_cells(cells, 0, len(cells), 20, 18))
    ends = [k for k in range(1, len(cells) + 1) if layout._may_cut(cells, 0, len(cells), k, True)]
    if not ends:
        return
    end = data.draw(st.sampled_from(ends))
    while end > 0 and cells[end - 1][0] == " ":
        end -= 1
    prefix = [cut for cut, _ in layout._wrap_cells(cells, 0, end, 20, 18)]
    rows = next(i for i, (_, stop) in enumerate(whole) if stop >= end) + 1 if end else 1
    assert len(prefix) == rows
    assert prefix[:-1] == [cut for cut, _ in whole[: rows - 1]]
