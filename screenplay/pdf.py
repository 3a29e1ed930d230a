"""PDF writer: draws the pages of `screenplay.layout` with reportlab.

This module knows fonts and ink: Courier (the standard Type 1 faces, bold and oblique for
emphasis, underline drawn as a rule) for everything Courier can print, and bundled TrueType
fonts, subset-embedded, for the rest: Droid Sans Fallback for Chinese and Japanese,
NanumGothicCoding for Korean Hangul. Every character stays in the cell the layout gave it, so a
wide character fills exactly two columns. Output is
deterministic (reportlab's invariant mode), which keeps golden files stable.

It deliberately knows nothing about where lines go: page breaks, indents and wrapping are the
layout's. Characters that no bundled font has (emoji, some scripts) print as a visible box rather
than vanish, and a warning names them.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from screenplay.layout import (
    CHAR_WIDTH,
    FONT_SIZE,
    PAPERS,
    Line,
    Page,
    Run,
    char_width,
    paginate,
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
_UNDERLINE_DROP = 1.8
_UNDERLINE_WIDTH = 0.6


def to_pdf(doc: Document, paper: str = "letter") -> bytes:
    """The screenplay as a PDF: title page (when the document has one), then numbered pages."""
    pages = paginate(doc, paper)
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
def _font_glyphs(name: str, filename: str) -> frozenset[int]:
    """Register a bundled font once per process (reportlab embeds only the glyphs used) and
    return the code points it has."""
    path = resources.files("screenplay").joinpath("fonts", filename)
    with resources.as_file(path) as file:
        pdfmetrics.registerFont(TTFont(name, str(file)))
    return frozenset(pdfmetrics.getFont(name).face.charToGlyph)


def _fallback_font(ch: str) -> str | None:
    for name, filename in FALLBACK_FONTS:
        if ord(ch) in _font_glyphs(name, filename):
            return name
    return None


@dataclass(frozen=True, slots=True)
class _Piece:
    """Consecutive characters drawn with one font call: same font, same cell and glyph width."""

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
    pieces: list[_Piece] = []
    for ch in text:
        cell = char_width(ch) * CHAR_WIDTH
        font: str | None = None
        glyph = cell
        if not _courier_can_print(ch):
            font = _fallback_font(ch)
            if font is None:
                missing.add(ch)
            else:
                glyph = pdfmetrics.stringWidth(ch, font, FONT_SIZE)
        last = pieces[-1] if pieces else None
        if last and (last.font, last.cell, last.glyph) == (font, cell, glyph):
            pieces[-1] = _Piece(last.text + ch, font, cell, glyph)
        else:
            pieces.append(_Piece(ch, font, cell, glyph))
    return pieces


def _draw_page(canvas: Canvas, page: Page, missing: set[str]) -> None:
    for line in page.lines:
        _draw_line(canvas, line, page.paper.height - line.baseline, missing)


def _draw_line(canvas: Canvas, line: Line, y: float, missing: set[str]) -> None:
    x = line.x
    for run in line.runs:
        start = x
        for piece in _pieces(run.text, missing):
            x = _draw_piece(canvas, piece, run, x, y)
        if run.style & Style.UNDERLINE:
            canvas.setLineWidth(_UNDERLINE_WIDTH)
            canvas.line(start, y - _UNDERLINE_DROP, x, y - _UNDERLINE_DROP)


def _draw_piece(canvas: Canvas, piece: _Piece, run: Run, x: float, y: float) -> float:
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
    # Centre each glyph in its cell and space the glyphs so that each advances a full cell.
    spare = piece.cell - piece.glyph
    shear = _FAKE_ITALIC_SHEAR if run.style & Style.ITALIC else 0.0
    text.setTextTransform(1, 0, shear, 1, x + spare / 2, y)
    text.setFont(piece.font, FONT_SIZE)
    text.setCharSpace(spare)
    if run.style & Style.BOLD:
        canvas.setLineWidth(_FAKE_BOLD_STROKE)
        text.setTextRenderMode(2)
    text.textOut(piece.text)
    canvas.drawText(text)
    canvas.restoreState()
    return x + piece.cell * len(piece.text)
