"""PDF writer: draws the pages of `screenplay.layout` with reportlab.

This module knows fonts and ink: Courier (the standard Type 1 faces, bold and oblique for
emphasis, underline drawn as a rule) for everything Courier can print, and bundled TrueType
fonts, subset-embedded, for the rest: Droid Sans Fallback for Chinese and Japanese,
NanumGothicCoding for Korean Hangul. Every character stays in the cell the layout gave it, so a
wide character fills exactly two columns, and each bundled glyph is declared as wide as its cell
(the font programs are embedded unchanged) so that copy, search and pdftotext read the glyphs of
a word as touching, not spaced. Output is deterministic (reportlab's invariant mode), which keeps
golden files stable.

It deliberately knows nothing about where lines go: page breaks, indents and wrapping are the
layout's. Characters that no bundled font has (emoji, some scripts) print as a visible box rather
than vanish, and a warning names them.
"""

from __future__ import annotations

import io
import itertools
import logging
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from screenplay.errors import ScreenplayError
from screenplay.layout import (
    CHAR_WIDTH,
    FONT_SIZE,
    PAPERS,
    Line,
    Page,
    Run,
    char_width,
    paginate,
    paginate_zh,
)
from screenplay.types import Document, Style

_log = logging.getLogger(__name__)

# Tried in order for a character Courier cannot print. Droid Sans Fallback covers Chinese and
# Japanese but only a handful of Hangul syllables; NanumGothicCoding (OFL) covers Korean.
FALLBACK_FONTS = (
    ("DroidSansFallback", "DroidSansFallbackFull.ttf"),
    ("NanumGothicCoding", "NanumGothicCoding.ttf"),
)
_COURIER = {
    Style.NONE: "Courier",
    Style.BOLD: "Courier-Bold",
    Style.ITALIC: "Courier-Oblique",
    Style.BOLD | Style.ITALIC: "Courier-BoldOblique",
}
# The fallback font has one weight and no slant: bold is drawn with a thin outline stroke and
# italic with a 12-degree shear, as typesetters do for CJK faces without those styles.
_FAKE_BOLD_STROKE = 0.35
_FAKE_ITALIC_SHEAR = 0.21
_GLUE_NUDGE = 0.01  # points: 1/7200 inch
_UNDERLINE_DROP = 1.8
_UNDERLINE_WIDTH = 0.6


def to_pdf(doc: Document, paper: str | None = None, layout: str = "hollywood") -> bytes:
    """The screenplay as a PDF. The `hollywood` layout (Letter unless `paper` says otherwise):
    title page when the document has one, then the industry page; the `zh` layout (A4 unless
    told otherwise): the Chinese convention, `paginate_zh`."""
    if layout == "zh":
        paper = paper or "a4"
        pages = paginate_zh(doc, paper)
    elif layout == "hollywood":
        paper = paper or "letter"
        pages = paginate(doc, paper)
    else:
        raise ScreenplayError(f"The layouts are hollywood and zh; not {layout!r}.")
    size = pages[0].paper if pages else PAPERS["letter"]
    out = io.BytesIO()
    canvas = Canvas(
        out,
        pagesize=(size.width, size.height),
        invariant=1,
        pageCompression=1,
        initialFontName="Courier",
        initialFontSize=FONT_SIZE,
    )
    title = doc.title_page.get("Title")
    author = doc.title_page.get("Author") or doc.title_page.get("Authors")
    canvas.setTitle(" ".join(title.plain.split()) if title else "Untitled screenplay")
    if author:
        canvas.setAuthor(" ".join(author.plain.split()))
    canvas.setCreator("Writers' Room")
    canvas.setSubject("Screenplay")
    if not pages:
        # A script with nothing printable is still a valid, one-page PDF.
        canvas.showPage()
    missing: set[str] = set()
    for page in pages:
        _draw_page(canvas, page, missing)
        canvas.showPage()
    canvas.save()
    if missing:
        _log.warning(
            "no bundled font has %d characters of this script (%s); they print as boxes",
            len(missing),
            "".join(sorted(missing))[:40],
        )
    _log.debug("rendered %d pages (%s)", len(pages), paper)
    return out.getvalue()


@cache
def _designed_widths(name: str, filename: str) -> Mapping[int, float]:
    """Register a bundled font once per process (reportlab embeds only the glyphs used), each
    glyph's width declared as its cell where it fits in it (`_advance`); return the width each
    glyph was designed with, in points at FONT_SIZE, by code point."""
    path = resources.files("screenplay").joinpath("fonts", filename)
    with resources.as_file(path) as file:
        font = TTFont(name, str(file))
    face = font.face
    designed = {code: face.getCharWidth(code) * FONT_SIZE / 1000 for code in face.charToGlyph}
    # The font program is embedded as it is; only the widths the PDF declares change.
    face.charWidths = {
        code: _advance(_cell(chr(code)), glyph) * 1000 / FONT_SIZE
        for code, glyph in designed.items()
    }
    pdfmetrics.registerFont(font)
    return designed


def _advance(cell: float, glyph: float) -> float:
    """The width a fallback glyph is declared with: its cell, or its own width when wider.

    Text extractors (pdftotext, a viewer's copy and search) measure a glyph by its declared
    width, not by how far the text moves on, and read a gap after it as a space: a CJK glyph
    declared 12 pt wide and moved on to the next 14.4 pt cell by character spacing left a gap
    after every character. Declared as wide as their cells, the glyphs of a word touch, as
    Courier's do. A glyph wider than its cell keeps its width and is pulled back by negative
    character spacing: an overlap reads as no space."""
    return max(cell, glyph)


def _cell(ch: str) -> float:
    return char_width(ch) * CHAR_WIDTH


def _fallback_font(ch: str) -> tuple[str, float] | None:
    """The bundled font that has `ch`, and the glyph's designed width in points."""
    for name, filename in FALLBACK_FONTS:
        glyph = _designed_widths(name, filename).get(ord(ch))
        if glyph is not None:
            return name, glyph
    return None


@dataclass(frozen=True, slots=True)
class _Piece:
    """Consecutive characters drawn with one font call: same font, same cell and same designed
    glyph width (which sets where in its cell a glyph is centred)."""

    text: str
    font: str | None  # None: Courier in the run's style
    cell: float
    glyph: float


def _courier_can_print(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _pieces(text: str, missing: set[str]) -> list[_Piece]:
    """Split `text` by font. A character neither font has goes to Courier, which prints a
    visible box for it, and is noted in `missing`."""
    if text.isascii():
        return [_Piece(text, None, CHAR_WIDTH, CHAR_WIDTH)]
    drawn: list[tuple[str, str | None, float, float]] = []
    for ch in text:
        cell = _cell(ch)
        font: str | None = None
        glyph = cell
        if not _courier_can_print(ch):
            fallback = _fallback_font(ch)
            if fallback is None:
                missing.add(ch)
            else:
                font, glyph = fallback
        drawn.append((ch, font, cell, glyph))
    # Grouped, then joined once: a line of combining marks has no width and so no length limit.
    return [
        _Piece("".join(ch for ch, *_ in group), *key)
        for key, group in itertools.groupby(drawn, key=operator.itemgetter(1, 2, 3))
    ]


def _draw_page(canvas: Canvas, page: Page, missing: set[str]) -> None:
    for line in page.lines:
        _draw_line(canvas, line, page.paper.height - line.baseline, missing)


def _draw_line(canvas: Canvas, line: Line, y: float, missing: set[str]) -> None:
    x = line.x
    after_courier = False  # the character just drawn is Courier ink, not a space
    for run in line.runs:
        start = x
        for piece in _pieces(run.text, missing):
            x = _draw_piece(canvas, piece, run, x, y, after_courier)
            if piece.text:
                after_courier = piece.font is None and not piece.text[-1].isspace()
        if run.style & Style.UNDERLINE:
            canvas.setLineWidth(_UNDERLINE_WIDTH)
            canvas.line(start, y - _UNDERLINE_DROP, x, y - _UNDERLINE_DROP)


def _draw_piece(
    canvas: Canvas, piece: _Piece, run: Run, x: float, y: float, after_courier: bool
) -> float:
    """Draw `piece` from `x`; return where the next character's cell begins."""
    text = canvas.beginText()
    if piece.font is None:
        text.setTextOrigin(x, y)
        text.setFont(_COURIER[run.style & (Style.BOLD | Style.ITALIC)], FONT_SIZE)
        text.textOut(piece.text)
        canvas.drawText(text)
        return x + piece.cell * len(piece.text)
    # Character spacing, render mode and line width belong to the graphics state, which PDF
    # keeps past the end of the text object: save and restore it around this piece.
    canvas.saveState()
    # Centre each glyph in its cell. pdftotext starts a new word, and so prints a space, after a
    # gap wider than a tenth of the font size; a 12 pt glyph centred in a 14.4 pt cell stands
    # exactly that far from a Courier character before it ("2026年", "(没有回头)"), where
    # rounding decides. There the glyphs are drawn a hair to the left, which no eye can see.
    spare = piece.cell - piece.glyph
    left = x + spare / 2 - (_GLUE_NUDGE if after_courier else 0.0)
    shear = _FAKE_ITALIC_SHEAR if run.style & Style.ITALIC else 0.0
    text.setTextTransform(1, 0, shear, 1, left, y)
    text.setFont(piece.font, FONT_SIZE)
    text.setCharSpace(piece.cell - _advance(piece.cell, piece.glyph))
    if run.style & Style.BOLD:
        canvas.setLineWidth(_FAKE_BOLD_STROKE)
        text.setTextRenderMode(2)
    text.textOut(piece.text)
    canvas.drawText(text)
    canvas.restoreState()
    return x + piece.cell * len(piece.text)
