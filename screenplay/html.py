"""HTML writer: a screenplay as one standalone, printable HTML5 page.

This module knows the markup: a title page, then the script with one element per paragraph and a
class for each kind (`scene-heading`, `action`, `character`, `parenthetical`, `speech`, `lyrics`,
`transition`, `centered`), speeches grouped in `div.dialogue`, dual dialogue side by side in
`div.dual-dialogue`, emphasis as <b>, <i> and <u>, forced page breaks as `hr.page-break`. The
stylesheet (screenplay.css, inlined) sets the page: Courier 12 pt, the industry indents in
characters, a Letter page with page numbers when printed.

It deliberately does not paginate (the browser flows and breaks the text; the PDF writer owns the
exact page) and never prints notes, sections, synopses or boneyard. Every piece of text is
escaped, so a writer's `<script>` is shown as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from html import escape
from importlib import resources

from screenplay.layout import CORNER_ORDER, corner_entries
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
    TitlePage,
    Transition,
)

_Speech = Parenthetical | Dialogue | Lyrics
_CENTRED_KEYS = (("title",), ("credit",), ("author", "authors"), ("source",))


def to_html(doc: Document, lang: str | None = None) -> str:
    """The screenplay as a complete HTML page. `lang` is the BCP 47 language of the script
    (`en`, `zh`, ...); without it the language is guessed from the script's characters."""
    title = " ".join(doc.title.split()) if doc.title else "Screenplay"
    author = doc.title_page.get("Author") or doc.title_page.get("Authors")
    head = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(lang or _guess_language(doc))}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="Writers\' Room">',
    ]
    if author:
        head.append(f'<meta name="author" content="{escape(" ".join(author.plain.split()))}">')
    head += [f"<title>{escape(title)}</title>", f"<style>\n{_stylesheet()}</style>", "</head>"]
    body = ["<body>", '<article class="screenplay">']
    if doc.title_page:
        body += _title_page(doc.title_page)
    body += ['<section class="script">', *_script(doc.elements), "</section>"]
    body += ["</article>", "</body>", "</html>"]
    return "\n".join(head + body) + "\n"


@cache
def _stylesheet() -> str:
    return resources.files("screenplay").joinpath("screenplay.css").read_text(encoding="utf-8")


def _guess_language(doc: Document) -> str:
    """Japanese if there is kana, Korean if Hangul outnumbers Han, Chinese if Han outnumbers
    Latin letters; otherwise English."""
    han = kana = hangul = latin = 0
    for element in doc.elements:
        for ch in _printed_text(element):
            code = ord(ch)
            if 0x3040 <= code <= 0x30FF:
                kana += 1
            elif 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF:
                hangul += 1
            elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
                han += 1
            elif ch.isascii() and ch.isalpha():
                latin += 1
    if kana:
        return "ja"
    if hangul > han and hangul > latin:
        return "ko"
    if han > latin:
        return "zh"
    return "en"


def _printed_text(element: Element) -> str:
    if isinstance(element, Action | Dialogue | Lyrics | Centered):
        return element.text.plain
    if isinstance(element, SceneHeading | Parenthetical | Transition):
        return element.text
    if isinstance(element, Character):
        return element.name
    return ""


# --- inline text -------------------------------------------------------------------------------


def _inline(text: Text) -> str:
    """Escaped text with its emphasis, lines joined by newlines (the stylesheet keeps them);
    notes are left out, and so is a line that held nothing but a note."""
    lines: list[str] = []
    for line in text.lines():
        if line.spans and not line.plain:
            continue
        lines.append("".join(_span(span.text, span.style) for span in line.spans if not span.note))
    return "\n".join(lines)


def _span(text: str, style: Style) -> str:
    piece = escape(text, quote=False)
    if style & Style.UNDERLINE:
        piece = f"<u>{piece}</u>"
    if style & Style.ITALIC:
        piece = f"<i>{piece}</i>"
    if style & Style.BOLD:
        piece = f"<b>{piece}</b>"
    return piece


def _paragraph(css_class: str, text: Text | str) -> str:
    inner = _inline(text) if isinstance(text, Text) else escape(text, quote=False)
    return f'<p class="{css_class}">{inner}</p>'


# --- title page --------------------------------------------------------------------------------


def _title_page(title_page: TitlePage) -> list[str]:
    out = ['<section class="title-page">', '<div class="title-block">']
    for keys in _CENTRED_KEYS:
        value = next((title_page.get(key) for key in keys if title_page.get(key)), None)
        if value is not None:
            out.append(_paragraph(keys[0], value))
    out += ["</div>", '<div class="title-corner">']
    for key, value in corner_entries(title_page):
        css_class = "-".join(key.split()) if key in CORNER_ORDER else "title-entry"
        out.append(_paragraph(css_class, value))
    out += ["</div>", "</section>"]
    return out


# --- script ------------------------------------------------------------------------------------


def _scene_heading(heading: SceneHeading) -> str:
    text = escape(heading.text, quote=False)
    if not heading.number:
        return f'<h2 class="scene-heading">{text}</h2>'
    number = escape(heading.number, quote=False)
    return (
        f'<h2 class="scene-heading"><span class="scene-number">{number}</span>{text}'
        f'<span class="scene-number right">{number}</span></h2>'
    )


def _speech(cue: Character | None, body: Iterable[_Speech]) -> str:
    parts = ['<div class="dialogue">']
    if cue is not None:
        parts.append(_paragraph("character", cue.cue))
    for item in body:
        if isinstance(item, Parenthetical):
            parts.append(_paragraph("parenthetical", item.text))
        elif isinstance(item, Lyrics):
            parts.append(_paragraph("lyrics", item.text))
        else:
            parts.append(_paragraph("speech", item.text))
    parts.append("</div>")
    return "".join(parts)


def _script(elements: Sequence[Element]) -> list[str]:
    out: list[str] = []
    last_speech: int | None = None  # where the last speech is in `out`, for its dual partner
    i = 0
    while i < len(elements):
        element = elements[i]
        if isinstance(element, Character | Parenthetical | Dialogue | Lyrics):
            cue = element if isinstance(element, Character) else None
            i = i + 1 if cue else i
            body: list[_Speech] = []
            while i < len(elements) and not isinstance(
                elements[i], Character | SceneHeading | Action | Transition | Centered | PageBreak
            ):
                item = elements[i]
                if isinstance(item, Parenthetical | Dialogue | Lyrics):
                    body.append(item)
                i += 1
            html = _speech(cue, body)
            if cue is not None and cue.dual and last_speech is not None:
                out[last_speech] = f'<div class="dual-dialogue">{out[last_speech]}{html}</div>'
                last_speech = None
            else:
                out.append(html)
                last_speech = len(out) - 1 if cue is not None else None
            continue
        i += 1
        if isinstance(element, SceneHeading):
            out.append(_scene_heading(element))
        elif isinstance(element, Action):
            out.append(_paragraph("action", element.text))
        elif isinstance(element, Transition):
            out.append(_paragraph("transition", element.text))
        elif isinstance(element, Centered):
            out.append(_paragraph("centered", element.text))
        elif isinstance(element, PageBreak):
            out.append('<hr class="page-break">')
        else:
            # Notes, sections, synopses and boneyard are never printed and do not part a pair.
            continue
        last_speech = None
    return out
