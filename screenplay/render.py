"""One way to turn a document into the bytes of a file: `render(doc, fmt, paper=...)`.

The room's `/export` and the command line's `convert` both call this, so a format is added in one
place. Knows the formats the library writes; nothing of rooms or files on disk. The PDF writer
is imported when first used, so that importing this module stays cheap.
"""

from __future__ import annotations

from screenplay.errors import ScreenplayError
from screenplay.fdx import to_fdx
from screenplay.fountain import to_fountain
from screenplay.html import to_html
from screenplay.types import Document

#: The formats `render` writes, in the order they are offered to writers.
FORMATS = ("fountain", "fdx", "pdf", "html")

#: Paper sizes of the page layout.
PAPERS = ("letter", "a4")


def render(doc: Document, fmt: str, *, paper: str = "letter") -> bytes:
    """The document as a `fmt` file (one of `FORMATS`); `paper` sizes the PDF's pages."""
    fmt = fmt.strip().lower()
    if fmt == "fountain":
        return to_fountain(doc).encode("utf-8")
    if fmt == "fdx":
        return to_fdx(doc).encode("utf-8")
    if fmt == "html":
        return to_html(doc).encode("utf-8")
    if fmt == "pdf":
        if paper not in PAPERS:
            raise ScreenplayError(f"The paper is {' or '.join(PAPERS)}; not {paper!r}.")
        from screenplay.pdf import to_pdf  # reportlab and the fonts load in ~1 s: only for a PDF

        return to_pdf(doc, paper=paper)
    raise ScreenplayError(f"The formats are {', '.join(FORMATS)}; not {fmt!r}.")
