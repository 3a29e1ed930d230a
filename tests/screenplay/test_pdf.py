"""The PDF a producer opens: text where the industry puts it, read back with pdfplumber."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pdfplumber
import pytest

from screenplay.fountain import parse_fountain
from screenplay.pdf import to_pdf
from screenplay.types import (
    Action,
    Boneyard,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
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

T = Text.of
INCH = 72.0
TOLERANCE = 0.05 * INCH


def _doc(*elements: Element, title: TitlePage | None = None) -> Document:
    return Document(title or TitlePage(), tuple(elements))


def _pages(pdf: bytes) -> list[dict[str, Any]]:
    """Per page: its size, text, words (with fonts) and drawn rules."""
    out = []
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            out.append(
                {
                    "size": (page.width, page.height),
                    "text": page.extract_text(),
                    "words": page.extract_words(extra_attrs=["fontname"]),
                    "chars": page.chars,
                    "rules": page.lines + page.rects,
                    "metadata": document.metadata,
                }
            )
    return out


def _word(page: dict[str, Any], text: str) -> dict[str, Any]:
    matches = [word for word in page["words"] if word["text"] == text]
    assert matches, f"{text!r} is not on the page: {page['text']!r}"
    return matches[0]


def _line_tops(page: dict[str, Any]) -> list[float]:
    return sorted({round(word["top"]) for word in page["words"] if word["top"] > INCH - 2})


def test_elements_print_at_the_industry_indents() -> None:
    doc = _doc(
        SceneHeading("INT. HOUSE - DAY"),
        Action(T("Wind rattles the door.")),
        Character("MARA"),
        Parenthetical("(quietly)"),
        Dialogue(T("Everyone hears it.")),
        Transition("CUT TO:"),
    )
    (page,) = _pages(to_pdf(doc))
    assert page["size"] == (612, 792)
    assert _word(page, "INT.")["x0"] == pytest.approx(1.5 * INCH, abs=TOLERANCE)
    assert _word(page, "Wind")["x0"] == pytest.approx(1.5 * INCH, abs=TOLERANCE)
    assert _word(page, "MARA")["x0"] == pytest.approx(3.7 * INCH, abs=TOLERANCE)
    assert _word(page, "(quietly)")["x0"] == pytest.approx(3.1 * INCH, abs=TOLERANCE)
    assert _word(page, "Everyone")["x0"] == pytest.approx(2.5 * INCH, abs=TOLERANCE)
    assert _word(page, "TO:")["x1"] == pytest.approx(7.5 * INCH, abs=TOLERANCE)
    assert _word(page, "INT.")["top"] == pytest.approx(INCH, abs=3)
    assert {word["fontname"] for word in page["words"]} == {"Courier"}


def test_a_page_of_action_holds_54_to_56_lines() -> None:
    doc = _doc(*(Action(T(f"Beat {i}.")) for i in range(120)))
    pages = _pages(to_pdf(doc))
    for page in pages[:-1]:
        tops = _line_tops(page)
        lines = (tops[-1] - tops[0]) / 12 + 1
        assert 54 <= lines <= 56
        assert tops[-1] <= 792 - 0.8 * INCH


def test_page_numbers_top_right_from_page_two() -> None:
    pages = _pages(to_pdf(_doc(*(Action(T(f"Beat {i}.")) for i in range(60)))))
    assert len(pages) == 3
    assert not [word for word in pages[0]["words"] if word["top"] < INCH - 2]
    for number, page in enumerate(pages[1:], start=2):
        label = _word(page, f"{number}.")
        assert label["x1"] == pytest.approx(7.5 * INCH, abs=TOLERANCE)
        assert label["top"] < 0.75 * INCH


def test_split_speech_reads_more_and_contd() -> None:
    speech = " ".join(f"Sentence {i} runs on a little while." for i in range(30))
    filler = [Action(T(f"Beat {i}.")) for i in range(18)]
    first, second = _pages(to_pdf(_doc(*filler, Character("MARA"), Dialogue(T(speech)))))
    more = _word(first, "(MORE)")
    assert more["x0"] == pytest.approx(3.7 * INCH, abs=TOLERANCE)
    assert more["top"] == max(word["top"] for word in first["words"])
    assert second["text"].splitlines()[1] == "MARA (CONT'D)"
    assert _word(second, "MARA")["x0"] == pytest.approx(3.7 * INCH, abs=TOLERANCE)
    told = " ".join(first["text"].split("MARA\n")[1].splitlines()[:-1])
    told += " " + " ".join(second["text"].splitlines()[2:])
    assert told == speech


def test_forced_page_break() -> None:
    pages = _pages(to_pdf(_doc(Action(T("Before.")), PageBreak(), Action(T("After.")))))
    assert [page["text"] for page in pages] == ["Before.", "2.\nAfter."]


def test_a4_paper() -> None:
    (page,) = _pages(to_pdf(_doc(Action(T("She waits."))), paper="a4"))
    assert page["size"] == (pytest.approx(595.28, abs=0.01), pytest.approx(841.89, abs=0.01))


def test_emphasis_prints_in_bold_oblique_and_underlined_courier() -> None:
    spans = [
        Span("plain "),
        Span("loud", Style.BOLD),
        Span(" "),
        Span("soft", Style.ITALIC),
        Span(" "),
        Span("both", Style.BOLD | Style.ITALIC),
        Span(" "),
        Span("marked", Style.UNDERLINE),
    ]
    (page,) = _pages(to_pdf(_doc(Action(Text.from_spans(spans)))))
    fonts = {word["text"]: word["fontname"] for word in page["words"]}
    assert fonts == {
        "plain": "Courier",
        "loud": "Courier-Bold",
        "soft": "Courier-Oblique",
        "both": "Courier-BoldOblique",
        "marked": "Courier",
    }
    marked = _word(page, "marked")
    (rule,) = page["rules"]
    assert rule["x0"] == pytest.approx(marked["x0"], abs=1)
    assert rule["x1"] == pytest.approx(marked["x1"], abs=1)
    assert marked["bottom"] - 3 < rule["top"] < marked["bottom"] + 2


CHINESE = "你好。我在找一个人，他叫王明。你认识他吗？"


def test_chinese_prints_with_the_embedded_font(tmp_path: Path) -> None:
    doc = _doc(
        SceneHeading("INT. 茶馆 - 夜"),
        Character("林小雨"),
        Parenthetical("(低声)"),
        Dialogue(T(CHINESE)),
    )
    pdf = to_pdf(doc)
    (page,) = _pages(pdf)
    assert "".join(page["text"].splitlines()[3:]) == CHINESE
    cue = _word(page, "林小雨")
    assert cue["x0"] == pytest.approx(3.7 * INCH, abs=TOLERANCE)
    assert cue["fontname"].endswith("+DroidSansFallback")
    assert _word(page, "你好。我在找一个人，他叫王明。你认")["x0"] == pytest.approx(
        2.5 * INCH, abs=TOLERANCE
    )
    if shutil.which("pdffonts"):
        path = tmp_path / "zh.pdf"
        path.write_bytes(pdf)
        listing = subprocess.run(["pdffonts", path], capture_output=True, text=True, check=True)
        (row,) = [line for line in listing.stdout.splitlines() if "DroidSansFallback" in line]
        assert row.split()[-5:-3] == ["yes", "yes"]  # embedded, subset


def test_korean_prints_with_its_own_embedded_font() -> None:
    (page,) = _pages(to_pdf(_doc(Character("김지수"), Dialogue(T("안녕하세요. 늦었어요.")))))
    assert "안녕하세요." in page["text"] and "김지수" in page["text"]
    assert _word(page, "김지수")["fontname"].endswith("+NanumGothicCoding")


needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)"
)


def _pdftotext(pdf: bytes, tmp_path: Path, *options: str) -> list[str]:
    """The PDF's text as pdftotext reads it (and so copy and search in a poppler-based
    viewer): its non-blank lines, stripped."""
    path = tmp_path / "script.pdf"
    path.write_bytes(pdf)
    read = subprocess.run(
        ["pdftotext", *options, "-enc", "UTF-8", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.strip() for line in read.stdout.splitlines() if line.strip()]


@needs_pdftotext
def test_korean_dialogue_wraps_between_whole_words(tmp_path: Path) -> None:
    text = (
        "오늘 밤 우리는 마지막 배를 타고 섬을 떠나야 해요. "
        "아무도 우리가 어디로 가는지 알면 안 됩니다."
    )
    cue, *lines = _pdftotext(to_pdf(_doc(Character("김지수"), Dialogue(T(text)))), tmp_path)
    assert cue == "김지수"
    # Each printed line ends where a word does, and reads back with its spaces as written.
    assert " ".join(lines) == text and len(lines) == 3


# Lines that mix Courier (Latin letters, digits, brackets, "…") with Chinese or Korean, styled
# or not: each must read back from the PDF exactly as written, without a space that the script
# does not have between two characters.
MIXED_LINES = (
    SceneHeading("INT. 老成都茶馆 - 夜"),
    Action(T("2026年11月28日，成都市青羊区宽巷子12号。")),
    Character("LIN"),
    Parenthetical("(没有回头)"),
    Dialogue(T("我……是来帮忙的。Hello 世界 OK.")),
    Character("JISOO"),
    Parenthetical("(조용히)"),
    Dialogue(T('섬을 떠나야 해요. "진짜"요?')),
    Action(
        Text.from_spans(
            [
                Span("굵은", Style.BOLD),
                Span(" 글씨, "),
                Span("中文", Style.ITALIC),
                Span("粗体", Style.BOLD),
                Span("和"),
                Span("下划线", Style.UNDERLINE),
                Span("。"),
            ]
        )
    ),
)


@needs_pdftotext
@pytest.mark.parametrize("options", [(), ("-layout",)], ids=["reading-order", "layout"])
def test_chinese_and_korean_words_read_back_whole(tmp_path: Path, options: tuple[str, ...]) -> None:
    lines = _pdftotext(to_pdf(_doc(*MIXED_LINES)), tmp_path, *options)
    assert lines == [
        "INT. 老成都茶馆 - 夜",
        "2026年11月28日，成都市青羊区宽巷子12号。",
        "LIN",
        "(没有回头)",
        "我……是来帮忙的。Hello 世界 OK.",
        "JISOO",
        "(조용히)",
        '섬을 떠나야 해요. "진짜"요?',
        "굵은 글씨, 中文粗体和下划线。",
    ]


def test_a_wide_character_is_centred_in_two_columns() -> None:
    (page,) = _pages(to_pdf(_doc(Action(T("(我是)OK")))))
    chars = page["chars"]
    assert "".join(char["text"] for char in chars) == "(我是)OK"
    # Courier on the 10-per-inch grid; a Chinese glyph, 12 pt wide, centred in its two columns.
    columns = [0, 1, 3, 5, 6, 7]
    centring = [0, 1.2, 1.2, 0, 0, 0]
    starts = [1.5 * INCH + c * INCH / 10 + m for c, m in zip(columns, centring, strict=True)]
    assert [char["x0"] for char in chars] == pytest.approx(starts, abs=0.02)


def test_a_song_with_a_blank_line_between_verses_prints_as_one_lyric() -> None:
    song = "~Row, row, row your boat\n~gently down the stream.\n  \n~Merrily, merrily, merrily"
    (page,) = _pages(to_pdf(parse_fountain(song)))
    assert page["text"].splitlines() == [
        "Row, row, row your boat",
        "gently down the stream.",
        "Merrily, merrily, merrily",
    ]
    first, second = _word(page, "Row,"), _word(page, "Merrily,")
    assert second["x0"] == pytest.approx(first["x0"], abs=1)  # not moved out to the action margin
    assert second["fontname"] == first["fontname"] == "Courier-Oblique"
    assert round(second["top"] - first["top"]) == 36  # a blank line between the verses


def test_characters_no_font_has_print_visibly_and_are_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="screenplay.pdf"):
        (page,) = _pages(to_pdf(_doc(Action(T("สวัสดี, 안녕.")))))
    # One box (ZapfDingbats "n") in each Thai character's place; Hangul has its font.
    assert page["text"].replace(" ", "") == "nnnnnn,안녕."
    assert "print as boxes" in caplog.text and "ส" in caplog.text


def test_notes_and_structure_are_never_printed() -> None:
    doc = _doc(
        Section("ACT ONE"),
        Synopsis("She learns the truth"),
        Note("cut this scene"),
        Boneyard("an old draft"),
        Action(Text.from_spans([Span("She waits."), Span(" check the prop", note=True)])),
    )
    (page,) = _pages(to_pdf(doc))
    assert page["text"] == "She waits."


def test_title_page_and_metadata() -> None:
    title = TitlePage(
        (
            TitleEntry("Title", T("THE LONG NIGHT")),
            TitleEntry("Credit", T("written by")),
            TitleEntry("Author", T("Ada Lovelace")),
            TitleEntry("Contact", T("ada@example.com")),
        )
    )
    cover, body = _pages(to_pdf(_doc(Action(T("She waits.")), title=title)))
    name = _word(cover, "LONG")
    assert name["top"] == pytest.approx(792 / 3, abs=0.25 * INCH)
    assert (name["x0"] + name["x1"]) / 2 == pytest.approx(4.5 * INCH, abs=0.3 * INCH)
    contact = _word(cover, "ada@example.com")
    assert contact["x0"] == pytest.approx(1.5 * INCH, abs=TOLERANCE)
    assert contact["top"] > 792 - 1.5 * INCH
    assert body["text"] == "She waits."
    assert cover["metadata"]["Title"] == "THE LONG NIGHT"
    assert cover["metadata"]["Author"] == "Ada Lovelace"


def test_dual_dialogue_prints_two_columns() -> None:
    doc = _doc(
        Character("TOM"),
        Dialogue(T("Left side.")),
        Character("MARA", dual=True),
        Dialogue(T("Right side.")),
    )
    (page,) = _pages(to_pdf(doc))
    tom, mara = _word(page, "TOM"), _word(page, "MARA")
    assert tom["top"] == mara["top"]
    assert tom["x0"] < 4.25 * INCH < mara["x0"]
    assert _word(page, "Left")["top"] == _word(page, "Right")["top"]


def test_output_is_deterministic_and_an_empty_script_is_still_a_pdf() -> None:
    doc = _doc(Centered(T("THE END")), Character("林小雨"), Dialogue(T(CHINESE)))
    assert to_pdf(doc) == to_pdf(doc)
    (empty,) = _pages(to_pdf(Document()))
    assert empty["text"] == ""
