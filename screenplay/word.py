"""Word (.docx) writer, with python-docx, in two layouts.

- `hollywood`: the industry page as Word paragraphs — Letter, Courier New 12 pt, margins of 1"
  (1.5" on the left), and the element indents of FORMATS.md as paragraph indents (cue 2.2",
  parenthetical 1.6", dialogue 1.0" from the margin; transitions flush right), a blank line
  (12 pt) before each paragraph that starts something new; the title page first, on its own page.
- `zh`: the Chinese convention (`screenplay.zh.zh_lines`) — A4, 12 pt, the title block at the
  top, episode and scene headings bold, `角色：对白` and everything else left-aligned.

In both, East Asian text is declared in `EAST_ASIAN_FONT` (SimSun, 宋体, the face Chinese Word
users have; Word does not embed fonts, so the PDF's bundled face would not travel with the file).
Notes, synopses and boneyard are never printed, as in the PDF. Knows nothing of the page
breaking of `screenplay.layout`: Word flows the text itself.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import docx
from docx.document import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Inches, Mm, Pt
from docx.text.paragraph import Paragraph

from screenplay.errors import ScreenplayError
from screenplay.types import (
    Action,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
    Lyrics,
    PageBreak,
    Parenthetical,
    SceneHeading,
    Style,
    Text,
    Transition,
)
from screenplay.zh import PRINTED_KINDS, ZhLine, zh_lines

__all__ = ["EAST_ASIAN_FONT", "HOLLYWOOD_FONT", "LAYOUTS", "ZH_FONT", "to_docx"]

LAYOUTS = ("hollywood", "zh")
HOLLYWOOD_FONT = "Courier New"
ZH_FONT = "SimSun"
EAST_ASIAN_FONT = "SimSun"

# (left indent, right indent) in inches from the margins of a 6"-wide text column.
_INDENTS: dict[type, tuple[float, float]] = {
    SceneHeading: (0.0, 0.0),
    Action: (0.0, 0.0),
    Character: (2.2, 0.0),
    Parenthetical: (1.6, 2.4),
    Dialogue: (1.0, 1.5),
    Lyrics: (1.0, 1.5),
    Transition: (0.0, 0.0),
    Centered: (0.0, 0.0),
}


def to_docx(doc: Document, layout: str = "hollywood", paper: str | None = None) -> bytes:
    """The screenplay as a Word file in `layout` (one of `LAYOUTS`); `paper` is letter or a4
    (default: letter for hollywood, A4 for zh)."""
    if layout not in LAYOUTS:
        raise ScreenplayError(f"The layouts are {' and '.join(LAYOUTS)}; not {layout!r}.")
    paper = (paper or ("a4" if layout == "zh" else "letter")).strip().lower()
    if paper not in ("letter", "a4"):
        raise ScreenplayError(f"The paper is letter or a4; not {paper!r}.")
    word = docx.Document()
    _page(word, paper, layout)
    _fonts(word, HOLLYWOOD_FONT if layout == "hollywood" else ZH_FONT)
    if layout == "hollywood":
        _hollywood(word, doc)
    else:
        _zh(word, doc)
    title = doc.title
    word.core_properties.title = " ".join(title.split()) if title else "Untitled screenplay"
    word.core_properties.author = "Writers' Room"
    out = io.BytesIO()
    word.save(out)
    return out.getvalue()


def _page(word: WordDocument, paper: str, layout: str) -> None:
    section = word.sections[0]
    if paper == "a4":
        section.page_width, section.page_height = Mm(210), Mm(297)
    else:
        section.page_width, section.page_height = Inches(8.5), Inches(11)
    section.top_margin = section.bottom_margin = Inches(1)
    section.left_margin = Inches(1.5 if layout == "hollywood" else 1.0)
    section.right_margin = Inches(1)


def _fonts(word: WordDocument, latin: str) -> None:
    style = word.styles["Normal"]
    style.font.name = latin
    style.font.size = Pt(12)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    layout = style.paragraph_format
    layout.space_before = layout.space_after = Pt(0)
    layout.line_spacing = 1.0


def _add(word: WordDocument, text: Text, style: Style = Style.NONE) -> Paragraph:
    paragraph = word.add_paragraph()
    for i, line in enumerate(text.lines()):
        if i:
            paragraph.add_run().add_break()
        for span in line.spans:
            if span.note:
                continue
            run = paragraph.add_run(span.text)
            both = span.style | style
            run.bold = bool(both & Style.BOLD) or None
            run.italic = bool(both & Style.ITALIC) or None
            run.underline = bool(both & Style.UNDERLINE) or None
    return paragraph


# --- hollywood --------------------------------------------------------------------------------


def _hollywood(word: WordDocument, doc: Document) -> None:
    if doc.title_page:
        _title_page(word, doc)
    previous: Element | None = None
    for element in doc.elements:
        paragraph = _hollywood_paragraph(word, element)
        if paragraph is None:
            continue
        left, right = _INDENTS.get(type(element), (0.0, 0.0))
        fmt = paragraph.paragraph_format
        fmt.left_indent, fmt.right_indent = Inches(left), Inches(right)
        in_speech = isinstance(element, Parenthetical | Dialogue | Lyrics) and isinstance(
            previous, Character | Parenthetical | Dialogue | Lyrics
        )
        fmt.space_before = Pt(0 if in_speech or previous is None else 12)
        if isinstance(element, SceneHeading):
            fmt.keep_with_next = True
        if isinstance(element, Character | Parenthetical):
            fmt.keep_with_next = True
        previous = element


def _hollywood_paragraph(word: WordDocument, element: Element) -> Paragraph | None:
    if isinstance(element, SceneHeading):
        number = f"{element.number}  " if element.number else ""
        return _add(word, Text.of(number + element.text.upper()))
    if isinstance(element, Action):
        return _add(word, element.text)
    if isinstance(element, Character):
        cue = element.cue if element.name != element.name.upper() else element.cue.upper()
        return _add(word, Text.of(cue))
    if isinstance(element, Parenthetical):
        return _add(word, Text.of(element.text))
    if isinstance(element, Dialogue):
        return _add(word, element.text)
    if isinstance(element, Lyrics):
        return _add(word, element.text, Style.ITALIC)
    if isinstance(element, Transition):
        paragraph = _add(word, Text.of(element.text.upper()))
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        return paragraph
    if isinstance(element, Centered):
        paragraph = _add(word, element.text)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        return paragraph
    if isinstance(element, PageBreak):
        paragraph = word.add_paragraph()
        paragraph.add_run().add_break(WD_BREAK.PAGE)
        return paragraph
    return None  # sections, synopses, notes and boneyard are never printed


def _title_page(word: WordDocument, doc: Document) -> None:
    for _ in range(16):
        word.add_paragraph()
    for entry in doc.title_page.entries:
        paragraph = _add(
            word, entry.value, Style.BOLD if entry.key.lower() == "title" else Style.NONE
        )
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_before = Pt(12)
    word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


# --- the Chinese convention ---------------------------------------------------------------------

_ZH_BOLD = frozenset({"title", "episode", "heading"})
_ZH_CENTRED = frozenset({"title", "episode", "centered"})


def _zh(word: WordDocument, doc: Document) -> None:
    first = True
    for line in _printed(doc):
        if line.kind == "page-break":
            word.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            continue
        text = line.text.strip()
        if line.kind == "centered":
            text = text.removeprefix(">").removesuffix("<").strip()
        elif line.kind == "lyrics":
            text = text.removeprefix("~")
        style = Style.BOLD if line.kind in _ZH_BOLD else Style.NONE
        paragraph = _add(word, Text.of(text), Style.ITALIC if line.kind == "lyrics" else style)
        paragraph.alignment = (
            WD_ALIGN_PARAGRAPH.CENTER if line.kind in _ZH_CENTRED else WD_ALIGN_PARAGRAPH.LEFT
        )
        fmt = paragraph.paragraph_format
        if line.kind in ("episode", "heading") and not first:
            fmt.space_before = Pt(12)
        if line.kind in ("episode", "heading"):
            fmt.keep_with_next = True
        first = False


def _printed(doc: Document) -> Iterable[ZhLine]:
    return [line for line in zh_lines(doc) if line.kind in PRINTED_KINDS]
