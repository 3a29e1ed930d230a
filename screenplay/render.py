"""One way to turn a document into the bytes of a file: `render(doc, fmt, paper=..., layout=...)`.

The room's `/export` and the command line's `convert` both call this, so a format is added in one
place. Knows the formats the library writes; nothing of rooms or files on disk. The PDF and Word
writers are imported when first used, so that importing this module stays cheap.

`layout` chooses the page of the formats that have one (`pdf`, `docx`): `hollywood`, the
industry page, or `zh`, the Chinese convention (中文剧本). The other formats have one shape and
ignore it. `paper` defaults to Letter for the Hollywood page and A4 for the Chinese one.
"""

from __future__ import annotations

from screenplay.errors import ScreenplayError
from screenplay.fdx import to_fdx
from screenplay.fountain import to_fountain
from screenplay.html import to_html
from screenplay.types import Document
from screenplay.zh import to_zh

#: The formats the room's `/export` offers writers, in that order.
FORMATS = ("fountain", "fdx", "pdf", "html")

#: Every format `render` writes: those above, plain text in the Chinese convention (`zh`, a
#: `.txt` file) and Word (`docx`). The room offers the last two once its commands take a layout.
ALL_FORMATS = (*FORMATS, "zh", "docx")

#: Paper sizes of the page layout.
PAPERS = ("letter", "a4")

#: Page layouts of the PDF and Word formats.
LAYOUTS = ("hollywood", "zh")

#: The file extension of each format.
EXTENSIONS = {
    "fountain": ".fountain",
    "fdx": ".fdx",
    "pdf": ".pdf",
    "html": ".html",
    "zh": ".txt",
    "docx": ".docx",
}


def render(
    doc: Document, fmt: str, *, paper: str | None = None, layout: str = "hollywood"
) -> bytes:
    """The document as a `fmt` file (one of `ALL_FORMATS`). For `pdf` and `docx`, `layout` is one of
    `LAYOUTS` and `paper` one of `PAPERS` (None: Letter for `hollywood`, A4 for `zh`)."""
    fmt = fmt.strip().lower()
    layout = layout.strip().lower()
    if layout not in LAYOUTS:
        raise ScreenplayError(f"The layouts are {' and '.join(LAYOUTS)}; not {layout!r}.")
    if paper is not None and paper not in PAPERS:
        raise ScreenplayError(f"The paper is {' or '.join(PAPERS)}; not {paper!r}.")
    if fmt == "fountain":
        return to_fountain(doc).encode("utf-8")
    if fmt == "fdx":
        return to_fdx(doc).encode("utf-8")
    if fmt == "html":
        return to_html(doc).encode("utf-8")
    if fmt == "zh":
        return to_zh(doc).encode("utf-8")
    if fmt == "pdf":
        from screenplay.pdf import to_pdf  # reportlab and the fonts load in ~1 s: only for a PDF

        return to_pdf(doc, paper=paper, layout=layout)
    if fmt == "docx":
        from screenplay.word import to_docx  # python-docx and lxml: only for a Word file

        return to_docx(doc, layout=layout, paper=paper)
    raise ScreenplayError(f"The formats are {', '.join(ALL_FORMATS)}; not {fmt!r}.")
