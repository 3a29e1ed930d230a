"""Final Draft FDX: read the XML Final Draft writes, and write XML Final Draft reads.

What it knows:

* The body is `FinalDraft/Content`, one `Paragraph` per element, its `Type` one of Scene Heading,
  Action, Character, Parenthetical, Dialogue, Transition, Shot, General or Lyrics. An Action (or
  General, or Shot) paragraph with `Alignment="Center"` is `Centered`. A paragraph's text is all
  its `<Text>` runs joined; a run's `Style` ("Bold+Italic+Underline") becomes `Style`, and a
  run styled `AllCaps` (or a paragraph type whose `ElementSettings` font is `AllCaps`) is read in
  capitals, because that is how Final Draft prints it. Line breaks inside a paragraph are
  newlines in the run text. `Number` on a Scene Heading is the scene number;
  `StartsNewPage="Yes"` is a `PageBreak` before the paragraph. A cue "MARA (V.O.)" is read as
  name MARA with extension V.O.
* Dual dialogue is `<Paragraph><DualDialogue>` holding both speakers' paragraphs; the second
  cue inside it gets `dual=True` (a `DualDialogue` with a single cue marks that cue dual).
* Shot is read as Action, not SceneHeading: a shot ("ANGLE ON MARA") starts no new scene and
  names no location, so counting it as one would corrupt the scene list, numbering and stats;
  Action prints at the same place on the page. General and paragraph types this module does not
  know are read as Action too, so no printed text is lost. Empty paragraphs (Final Draft users
  press Return twice) are skipped.
* The title page is free-form centred and left-aligned paragraphs in Final Draft. Blocks of
  consecutive paragraphs are mapped back to title entries by position and wording: the first
  centred block is the Title, a "Written by" line the Credit and the block after it the Author,
  "Based on ..." the Source; in the left-aligned bottom block, a date or draft line is the Draft
  date, a copyright line the Copyright and the rest the Contact. Other centred text is kept
  under "Notes".
* Everything else (SceneProperties, ScriptNotes, ElementSettings, SmartType, HeaderAndFooter...)
  is skipped.

What it writes: the XML declaration, `<FinalDraft DocumentType="Script" Template="No"
Version="5">`, the Content, the TitlePage laid out as Final Draft lays it out (title a third of
the way down, credit and author under it, contact and draft date at the bottom left, spaced
with empty paragraphs), `ElementSettings` for Courier 12 with the standard indents, a page
number header, `PageLayout`, `MoresAndContinueds` and `SmartType` lists (the script's
characters, extensions and transitions). A `PageBreak` sets `StartsNewPage="Yes"` on the next
paragraph (on an empty Action paragraph where no printed paragraph follows directly). A dual
cue's block is paired with the dialogue block printed just before it; with none to pair, it
stands alone in its `DualDialogue`. An element that would print nothing (an empty action, a
blank cue) is left out, or kept as a Note when all it holds is inline notes, because readers
skip empty paragraphs.

What Final Draft does not print — notes, sections, synopses, boneyard, inline `[[notes]]` —
and which title page paragraph holds which entry, is kept in one extra top-level element,
`<WritersRoom Version="1">`, after everything Final Draft writes. Every version of Final Draft
adds top-level elements that older ones must pass over, so Final Draft is expected to skip this
one too (not checked against Final Draft itself: it does not run here) and print the script
exactly as it should; `parse_fdx` puts everything back:

    <WritersRoom Version="1">
      <Hidden Index="3" Type="Section" Level="2">Act One</Hidden>  (Note/Section/Synopsis/Boneyard;
                                              Index: its position in the document's elements)
      <InlineNote Element="5" Offset="12">check this</InlineNote>  (Offset: printed characters of
                                              that element before the note; optional Style)
      <InlineNote TitleEntry="0" Offset="4">working title</InlineNote>
      <TitleEntry Key="Draft date" First="40" Last="40"/>  (TitlePage paragraphs First..Last)
    </WritersRoom>

A file saved again by Final Draft is expected to come back without the element, so without
notes rather than with stale ones; a title page map that no longer fits the title page is
ignored and the title page read by layout. Characters XML cannot hold (control characters
other than tab and newline) are left out of the written file; a carriage return is read back
as a newline.

Deliberately not here: revisions, script notes of Final Draft itself (their anchors are
character ranges across the whole script), page layout on import, and any knowledge of
Fountain. Parsing uses defusedxml, so entity expansion (billion laughs) and external entities
are refused; writing builds an ElementTree.

Reading and writing share one module because the `WritersRoom` element and the title page map
are one contract: the indices and offsets the writer records are exactly what the reader puts
back, and they are described once, above.
"""

from __future__ import annotations

import itertools
import logging
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from xml.parsers import expat

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from screenplay.errors import FormatError
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

_log = logging.getLogger(__name__)

_PRIVATE = "WritersRoom"
_STYLE_NAMES = (("Bold", Style.BOLD), ("Italic", Style.ITALIC), ("Underline", Style.UNDERLINE))
_HIDDEN_TYPES = {"Note": Note, "Section": Section, "Synopsis": Synopsis, "Boneyard": Boneyard}
_UNPRINTED = (Note, Section, Synopsis, Boneyard)

# XML 1.0 cannot hold these characters at all, not even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_ENCODING = re.compile(rb"""<\?xml[^>]{0,200}?encoding\s*=\s*["']([^"']{0,40})""")


def _error(reason: str, *, kind: str, **fields: object) -> FormatError:
    return FormatError(f"This file is not valid Final Draft XML: {reason}.", kind=kind, **fields)


# --- reading ----------------------------------------------------------------------------------


def parse_fdx(data: str | bytes) -> Document:
    """Read a Final Draft FDX file (see the module docstring for what is read and how).

    Raises `FormatError` for empty input, malformed or binary data, XML that refuses to be
    parsed safely, and XML that is not a Final Draft document.
    """
    root = _read_xml(data)
    caps_types = _all_caps_types(root)
    elements: list[Element] = []
    content = root.find("Content")
    if content is not None:
        _read_paragraphs(content.findall("Paragraph"), caps_types, elements)
    title_paragraphs = root.findall("TitlePage/Content/Paragraph")
    private = root.find(_PRIVATE)
    entries = _title_entries(title_paragraphs, private)
    if private is not None:
        elements = _restore_hidden(private, elements)
        _restore_inline_notes(private, elements, entries)
    return Document(TitlePage(tuple(entries)), tuple(elements))


def _read_xml(data: str | bytes) -> ET.Element:
    if isinstance(data, str):
        data = data.lstrip("\ufeff")
    if not data.strip():
        raise FormatError(
            "This file is empty, so it is not a Final Draft script.", kind="fdx_empty"
        )
    try:
        root = SafeET.fromstring(data)
    except ET.ParseError as err:
        raise _parse_error(err, data) from None
    except DefusedXmlException:
        raise _error(
            "it declares XML entities or external references, which Final Draft never "
            "writes and which are refused for safety",
            kind="fdx_entities",
        ) from None
    except (LookupError, ValueError):
        # Python's XML parser looks the declared encoding up among its codecs: an unknown name
        # is a LookupError, a codec it cannot feed (UTF-7, UTF-32, idna) a ValueError.
        encoding = _declared_encoding(data)
        raise _error(
            f"it declares the text encoding {encoding}, which cannot be read",
            kind="fdx_encoding",
            encoding=encoding,
        ) from None
    if root.tag != "FinalDraft":
        raise FormatError(
            f"This file is XML but not a Final Draft script: it starts with <{root.tag:.40}> "
            "instead of <FinalDraft>.",
            kind="fdx_not_final_draft",
            root=f"{root.tag:.40}",
        )
    return root


def _declared_encoding(data: str | bytes) -> str:
    head = data[:300].encode("utf-8", "replace") if isinstance(data, str) else data[:300]
    found = _XML_ENCODING.search(head)
    name = found.group(1).decode("ascii", "replace") if found else ""
    return repr(name) if name else "of its XML declaration"


_CUT_OFF = {
    expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
    expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
    expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION],
}


def _parse_error(err: ET.ParseError, data: str | bytes) -> FormatError:
    line, column = err.position
    head = data[:64].encode("utf-8", "replace") if isinstance(data, str) else data[:64]
    if (line, column) == (1, 0) or not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        # Not even the first character is XML's: a PDF, a Word file or plain text renamed.
        return _error(
            "it does not begin as XML does, so it may be another kind of file", kind="fdx_not_xml"
        )
    if err.code in _CUT_OFF:
        return _error(
            f"it ends early, at line {line} (was the file cut off?)", kind="fdx_cut_off", line=line
        )
    detail = expat.ErrorString(err.code)
    return _error(
        f"{detail} at line {line}, column {column + 1}",
        kind="fdx_bad_xml",
        detail=detail,
        line=line,
        column=column + 1,
    )


def _all_caps_types(root: ET.Element) -> frozenset[str]:
    """Paragraph types whose font Final Draft prints in capitals whatever was typed."""
    types = set()
    for settings in root.findall("ElementSettings"):
        font = settings.find("FontSpec")
        if font is not None and "AllCaps" in (font.get("Style") or "").split("+"):
            types.add(settings.get("Type", ""))
    return frozenset(types)


def _parse_style(value: str | None) -> Style:
    """`Style="Bold+Underline"`; what the model has no place for (Strikeout...) is passed over."""
    tokens = (value or "").split("+")
    style = Style.NONE
    for name, flag in _STYLE_NAMES:
        if name in tokens:
            style |= flag
    return style


def _read_text(paragraph: ET.Element, caps: bool) -> Text:
    spans: list[Span] = []
    for run in paragraph.findall("Text"):
        text = run.text or ""
        if caps or "AllCaps" in (run.get("Style") or "").split("+"):
            text = text.upper()
        spans.append(Span(text, _parse_style(run.get("Style"))))
    return Text.from_spans(spans)


def _read_paragraphs(
    paragraphs: Iterable[ET.Element], caps_types: frozenset[str], out: list[Element]
) -> None:
    for paragraph in paragraphs:
        if paragraph.get("StartsNewPage") == "Yes":
            out.append(PageBreak())
        dual = paragraph.find("DualDialogue")
        if dual is not None:
            out.extend(_read_dual(dual, caps_types))
            continue
        element = _read_element(paragraph, caps_types)
        if element is not None:
            out.append(element)


def _read_dual(dual: ET.Element, caps_types: frozenset[str]) -> list[Element]:
    inner: list[Element] = []
    # Final Draft never nests dual dialogue; a file that does is read flat, in document order,
    # without recursing (ten thousand levels of nesting would overflow the stack).
    paragraphs = (p for p in dual.iter("Paragraph") if p.find("DualDialogue") is None)
    _read_paragraphs(paragraphs, caps_types, inner)
    cues = [(i, element) for i, element in enumerate(inner) if isinstance(element, Character)]
    if cues:
        at, cue = cues[1] if len(cues) > 1 else cues[0]
        inner[at] = Character(cue.name, cue.extension, dual=True)
    return inner


def _read_element(paragraph: ET.Element, caps_types: frozenset[str]) -> Element | None:
    kind = paragraph.get("Type", "General")
    text = _read_text(paragraph, kind in caps_types)
    plain = text.plain.strip()
    if not plain:
        return None
    if kind == "Scene Heading":
        return SceneHeading(plain, _scene_number(paragraph.get("Number")))
    if kind == "Character":
        return _read_cue(plain)
    if kind == "Parenthetical":
        return Parenthetical(plain if plain.startswith("(") else f"({plain})")
    if kind == "Dialogue":
        return Dialogue(text)
    if kind == "Transition":
        return Transition(plain)
    if kind == "Lyrics":
        return Lyrics(text)
    if kind not in ("Action", "General", "Shot"):
        _log.info("Final Draft paragraph type %.40r read as action", kind)
    if paragraph.get("Alignment") == "Center":
        return Centered(text)
    return Action(text)


def _scene_number(value: str | None) -> str | None:
    number = (value or "").strip()
    if len(number) > MAX_SCENE_NUMBER:
        _log.info("left out a scene number of %d characters", len(number))
        return None
    return number or None


def _read_cue(text: str) -> Character:
    """`MARA (V.O.)` -> name MARA, extension V.O.: the last parentheses, at the very end."""
    # Searched back from the end; a regular expression with a lazy name before `\s*\(` took
    # quadratic time on a cue with a long run of spaces inside it.
    body = text.rstrip()
    opening = body.rfind("(")
    if body.endswith(")") and opening >= 0 and ")" not in body[opening:-1]:
        name, extension = body[:opening].rstrip(), body[opening + 1 : -1].strip()
        if name and extension:
            return Character(name, extension)
    return Character(text)


# --- reading: title page ----------------------------------------------------------------------

_CREDIT = re.compile(r"^[\w\s&,'-]{0,40}\bby:?$", re.IGNORECASE)
_SOURCE = re.compile(r"^(based on|from|adapted from|inspired by)\b", re.IGNORECASE)
_COPYRIGHT = re.compile(r"copyright|©|\(c\)", re.IGNORECASE)
_DATE = re.compile(
    r"\b(draft|revision|revised|(19|20)\d\d|jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|"
    r"june?|july?|aug(ust)?|sept?(ember)?|oct(ober)?|nov(ember)?|dec(ember)?)\b"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}",
    re.IGNORECASE,
)


def _title_entries(
    paragraphs: Sequence[ET.Element], private: ET.Element | None
) -> list[TitleEntry]:
    lines = [_read_text(p, caps=False) for p in paragraphs]
    mapped = private.findall("TitleEntry") if private is not None else []
    entries = _mapped_title_entries(mapped, lines) if mapped else None
    return entries if entries is not None else _guess_title_entries(paragraphs, lines)


def _mapped_title_entries(mapped: list[ET.Element], lines: list[Text]) -> list[TitleEntry] | None:
    """The entries as the map says, or None when it no longer fits the title page. Each
    paragraph belongs to one entry at most, as written: ranges that overlap would let a few
    bytes of map copy the whole title page once per entry."""
    taken = [False] * len(lines)
    entries = []
    for item in mapped:
        first, last = _int(item.get("First")), _int(item.get("Last"))
        if (
            first is None
            or last is None
            or not 0 <= first <= last < len(lines)
            or any(taken[first : last + 1])
        ):
            _log.warning("title page map out of date; reading the title page by layout")
            return None
        taken[first : last + 1] = [True] * (last + 1 - first)
        entries.append(TitleEntry(item.get("Key", ""), Text.join_lines(lines[first : last + 1])))
    return entries


def _guess_title_entries(paragraphs: Sequence[ET.Element], lines: list[Text]) -> list[TitleEntry]:
    """Map Final Draft's free-form title page to entries by layout and wording."""
    blocks: list[tuple[str, list[Text]]] = []  # alignment, lines
    previous_empty = True
    for paragraph, line in zip(paragraphs, lines, strict=True):
        if not line.plain.strip():
            previous_empty = True
            continue
        alignment = paragraph.get("Alignment", "Left")
        if previous_empty or blocks[-1][0] != alignment:
            blocks.append((alignment, []))
        blocks[-1][1].append(line)
        previous_empty = False

    found: list[tuple[str, list[Text]]] = []  # key, and its blocks (a contact may have several)
    awaiting_author = titled = False
    for alignment, block in blocks:
        value = Text.join_lines(block)
        words = value.plain.strip()
        if alignment == "Center":
            if _CREDIT.match(words):
                key, awaiting_author = "Credit", True
            elif awaiting_author:
                key, awaiting_author = "Author", False
            elif _SOURCE.match(words):
                key = "Source"
            elif not titled:
                key, titled = "Title", True
            elif _COPYRIGHT.search(words):
                key = "Copyright"
            else:
                key = "Notes"
        elif _COPYRIGHT.search(words):
            key = "Copyright"
        elif _DATE.search(words):
            key = "Draft date"
        elif found and found[-1][0] == "Contact":
            # A contact block split by empty lines (agent, then manager) stays one contact.
            found[-1][1].append(value)
            continue
        else:
            key = "Contact"
        found.append((key, [value]))
    return [TitleEntry(key, Text.join_lines(values)) for key, values in found]


# --- reading: what Final Draft does not print -------------------------------------------------


def _int(value: str | None) -> int | None:
    """A whole number from an attribute; None for anything else. One too long for `int` to
    read (4,300 digits and more) is as good as infinite here: every use clamps it."""
    if value is None:
        return None
    digits = value.strip().removeprefix("-").removeprefix("+")
    if len(digits) > 18 and digits.isdecimal():
        return -_HUGE if value.strip().startswith("-") else _HUGE
    try:
        return int(value)
    except ValueError:
        return None


_HUGE = 10**18


def _restore_hidden(private: ET.Element, elements: list[Element]) -> list[Element]:
    """The printed elements with the unprinted ones put back, each at the index it was written
    with (out-of-order indices, which this module never writes, are taken in ascending order).
    Merged in one pass: inserting one by one moved the rest of the list for each of them."""
    hidden: list[tuple[int, Element]] = []
    unreadable = 0
    for item in private.findall("Hidden"):
        index = _int(item.get("Index"))
        kind = _HIDDEN_TYPES.get(item.get("Type", ""))
        if index is None or kind is None:
            unreadable += 1
            continue
        text = item.text or ""
        # The level is repeated as `#` on export: a level from the file is held to the model's.
        level = min(max(_int(item.get("Level")) or 1, 1), MAX_SECTION_LEVEL)
        hidden.append((max(index, 0), Section(text, level) if kind is Section else kind(text)))
    if unreadable:
        _log.warning("skipped %d unreadable hidden element(s)", unreadable)
    hidden.sort(key=lambda pair: pair[0])
    merged: list[Element] = []
    printed = iter(elements)
    for index, element in hidden:
        merged.extend(itertools.islice(printed, max(index - len(merged), 0)))
        merged.append(element)
    merged.extend(printed)
    return merged


_END = -1  # where a note that points nowhere goes: after the last element


def _restore_inline_notes(
    private: ET.Element, elements: list[Element], entries: list[TitleEntry]
) -> None:
    """Put each inline note back into the text it was written in. Indices are those of the
    document as read, before any note; a text's notes are put in with one pass over it."""
    in_entries: dict[int, list[tuple[int, Span]]] = defaultdict(list)
    in_elements: dict[int, list[tuple[int, Span]]] = defaultdict(list)
    stray: dict[int, list[str]] = defaultdict(list)  # kept as notes after this element
    for item in private.findall("InlineNote"):
        offset = _int(item.get("Offset")) or 0
        note = Span(item.text or "", _parse_style(item.get("Style")), note=True)
        index = _int(item.get("Element"))
        entry = _int(item.get("TitleEntry"))
        if entry is not None and 0 <= entry < len(entries):
            in_entries[entry].append((offset, note))
        elif index is not None and 0 <= index < len(elements):
            if isinstance(elements[index], Action | Dialogue | Centered | Lyrics):
                in_elements[index].append((offset, note))
            else:
                stray[index].append(note.text)
        else:
            stray[_END].append(note.text)
    for number, notes in in_entries.items():
        entries[number] = TitleEntry(
            entries[number].key, _insert_notes(entries[number].value, notes)
        )
    for index, notes in in_elements.items():
        target = elements[index]
        assert isinstance(target, Action | Dialogue | Centered | Lyrics)
        elements[index] = type(target)(_insert_notes(target.text, notes))
    if stray:
        count = sum(len(notes) for notes in stray.values())
        _log.warning("%d inline note(s) no longer sit in text; kept as notes", count)
        rebuilt: list[Element] = []
        for index, element in enumerate(elements):
            rebuilt.append(element)
            rebuilt.extend(Note(text) for text in stray.get(index, ()))
        rebuilt.extend(Note(text) for text in stray.get(_END, ()))
        elements[:] = rebuilt


def _insert_notes(text: Text, notes: list[tuple[int, Span]]) -> Text:
    """Put each note after its offset in printed characters, after notes already there (and
    after the notes before it in `notes` at the same offset)."""
    total = len(text.plain)
    # Stable: notes at one offset keep their order, and so do those past the end of the text.
    pending = sorted(notes, key=lambda pair: min(max(pair[0], 0), total))
    out: list[Span] = []
    position = k = 0
    for span in text.spans:
        if span.note:
            out.append(span)
            continue
        end = position + len(span.text)
        cut = 0
        while k < len(pending) and pending[k][0] < end:
            at = max(pending[k][0] - position, 0)
            out += [Span(span.text[cut:at], span.style), pending[k][1]]
            cut, k = at, k + 1
        out.append(Span(span.text[cut:], span.style))
        position = end
    out += [note for _, note in pending[k:]]
    return Text.from_spans(out)


# --- writing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Format:
    """One paragraph type's look: indents in inches from the paper's left edge, space in points."""

    left: float
    right: float
    space_before: int
    return_key: str
    shortcut: int
    alignment: str = "Left"
    style: str = ""


# Courier 12 on US Letter with the indents of docs/FORMATS: action at 1.5", cue 3.7",
# parenthetical 3.1", dialogue 2.5", transitions flush right at 7.5".
_FORMATS = {
    "General": _Format(1.50, 7.50, 0, "General", 0),
    "Scene Heading": _Format(1.50, 7.50, 24, "Action", 1),
    "Action": _Format(1.50, 7.50, 12, "Action", 2),
    "Character": _Format(3.70, 7.50, 12, "Dialogue", 3),
    "Parenthetical": _Format(3.10, 5.10, 0, "Dialogue", 4),
    "Dialogue": _Format(2.50, 6.00, 0, "Action", 5),
    "Transition": _Format(5.50, 7.50, 12, "Scene Heading", 6, alignment="Right"),
    "Shot": _Format(1.50, 7.50, 24, "Action", 7),
    "Lyrics": _Format(2.50, 6.00, 0, "Action", 8, style="Italic"),
}
_FONT = {
    "AdornmentStyle": "0",
    "Background": "#FFFFFFFFFFFF",
    "Color": "#000000000000",
    "Font": "Courier Final Draft",
    "RevisionID": "0",
    "Size": "12",
}
_TITLE_CENTRED = {"title", "credit", "author", "authors", "source"}
_TITLE_TOP_BLANKS = 15  # puts the title a third of the way down the page
_TITLE_PAGE_LINES = 54  # lines between the margins at 6 lines per inch


def _style_name(style: Style) -> str:
    return "+".join(name for name, flag in _STYLE_NAMES if flag in style)


def _printed_runs(
    text: Text, safe: Callable[[str], str]
) -> tuple[list[tuple[str, Style]], list[tuple[int, Span]]]:
    """The printed text as runs of one style each, and the notes with their printed offsets."""
    runs: list[tuple[list[str], Style]] = []  # joined at the end: `a[[n]]a[[n]]a...` is one run
    notes: list[tuple[int, Span]] = []
    offset = 0
    for span in text.spans:
        chars = safe(span.text)
        if span.note:
            notes.append((offset, Span(chars, span.style, note=True)))
            continue
        if runs and runs[-1][1] == span.style:
            runs[-1][0].append(chars)
        else:
            runs.append(([chars], span.style))
        offset += len(chars)
    return [("".join(pieces), style) for pieces, style in runs], notes


def _add_runs(paragraph: ET.Element, runs: Sequence[tuple[str, Style]]) -> None:
    for chars, style in runs or [("", Style.NONE)]:
        run = ET.SubElement(paragraph, "Text")
        if style:
            run.set("Style", _style_name(style))
        run.text = chars


@dataclass
class _Block:
    """A dialogue block: the cue and what is spoken under it, with document indices."""

    lines: list[tuple[int, Element]]


@dataclass
class _Dual:
    """Blocks printed side by side: the block before a dual cue and the dual cue's block."""

    blocks: list[_Block]


@dataclass
class _Writer:
    content: ET.Element
    private: ET.Element
    page_break_pending: bool = False
    characters: dict[str, None] = field(default_factory=dict)
    left_out: int = 0  # characters XML cannot hold, counted for one warning per document

    def safe(self, text: str) -> str:
        """`text` without the characters XML 1.0 cannot hold, not even escaped."""
        kept = _NOT_XML.sub("", text)
        self.left_out += len(text) - len(kept)
        return kept

    def paragraph(self, kind: str, parent: ET.Element | None = None) -> ET.Element:
        """A new paragraph; one at the top level takes a pending page break."""
        paragraph = ET.SubElement(self.content if parent is None else parent, "Paragraph")
        if kind:
            paragraph.set("Type", kind)
        if parent is None and self.page_break_pending:
            paragraph.set("StartsNewPage", "Yes")
            self.page_break_pending = False
        return paragraph

    def page_break(self) -> None:
        if self.page_break_pending:
            _add_runs(self.paragraph("Action"), [])
        self.page_break_pending = True

    def finish(self) -> None:
        if self.page_break_pending:
            _add_runs(self.paragraph("Action"), [])

    def rich(self, paragraph: ET.Element, index: int, text: Text) -> None:
        runs, notes = _printed_runs(text, self.safe)
        _add_runs(paragraph, runs)
        for offset, note in notes:
            self.inline_note(note, offset, Element=str(index))

    def inline_note(self, note: Span, offset: int, **anchor: str) -> None:
        item = ET.SubElement(self.private, "InlineNote", anchor)
        item.set("Offset", str(offset))
        if note.style:
            item.set("Style", _style_name(note.style))
        item.text = note.text

    def element(self, index: int, element: Element, parent: ET.Element | None = None) -> None:
        if isinstance(element, PageBreak):
            self.page_break()
        elif isinstance(element, SceneHeading):
            paragraph = self.paragraph("Scene Heading", parent)
            if element.number:
                paragraph.set("Number", self.safe(element.number))
            _add_runs(paragraph, [(self.safe(element.text), Style.NONE)])
        elif isinstance(element, Character):
            self.characters[element.name] = None
            _add_runs(self.paragraph("Character", parent), [(self.safe(element.cue), Style.NONE)])
        elif isinstance(element, Parenthetical | Transition):
            kind = "Parenthetical" if isinstance(element, Parenthetical) else "Transition"
            _add_runs(self.paragraph(kind, parent), [(self.safe(element.text), Style.NONE)])
        elif isinstance(element, Centered):
            paragraph = self.paragraph("Action", parent)
            paragraph.set("Alignment", "Center")
            self.rich(paragraph, index, element.text)
        elif isinstance(element, Action | Dialogue | Lyrics):
            self.rich(self.paragraph(type(element).__name__, parent), index, element.text)
        else:
            self.hidden(index, element)

    def hidden(self, index: int, element: Note | Section | Synopsis | Boneyard) -> None:
        item = ET.SubElement(self.private, "Hidden", Index=str(index))
        item.set("Type", type(element).__name__)
        if isinstance(element, Section):
            item.set("Level", str(element.level))
        item.text = self.safe(element.text)

    def dual(self, dual: _Dual) -> None:
        wrapper = ET.SubElement(self.paragraph(""), "DualDialogue")
        for block in dual.blocks:
            for index, element in block.lines:
                self.element(index, element, wrapper)


def _group(elements: Sequence[Element]) -> list[tuple[int, Element] | _Block | _Dual]:
    """Elements in writing order, with dialogue blocks gathered and dual blocks paired.

    Unprinted elements are passed over: they live in the private element, not between
    paragraphs, so a note between two speakers does not keep them from being a dual pair.
    """
    items: list[tuple[int, Element] | _Block | _Dual] = []
    taking_lines: _Block | None = None  # the block that spoken lines join
    pairable: int | None = None  # where in `items` a block sits that a dual cue may pair with
    for index, element in enumerate(elements):
        if isinstance(element, _UNPRINTED):
            items.append((index, element))
        elif isinstance(element, Character):
            block = _Block([(index, element)])
            earlier = items[pairable] if pairable is not None else None
            if element.dual and pairable is not None and isinstance(earlier, _Block):
                items[pairable] = _Dual([earlier, block])
                pairable = None
            elif element.dual:
                items.append(_Dual([block]))
                pairable = None
            else:
                items.append(block)
                pairable = len(items) - 1
            taking_lines = block
        elif isinstance(element, Parenthetical | Dialogue | Lyrics) and taking_lines is not None:
            taking_lines.lines.append((index, element))
        else:
            items.append((index, element))
            taking_lines = pairable = None
    return items


def _printed_words(element: Element) -> str | None:
    """What the element puts on the page; None for page breaks and what is never printed."""
    if isinstance(element, Action | Dialogue | Centered | Lyrics):
        return element.text.plain
    if isinstance(element, SceneHeading | Parenthetical | Transition):
        return element.text
    if isinstance(element, Character):
        return element.cue
    return None


def _readable(elements: Sequence[Element]) -> list[Element]:
    """The elements as a reader gets them back: one that would print nothing is left out, or
    kept as a Note when all it holds is notes. Readers skip empty paragraphs, so writing one
    would shift the place of every unprinted element after it."""
    kept: list[Element] = []
    for element in elements:
        words = _printed_words(element)
        if words is None or _NOT_XML.sub("", words).strip():
            kept.append(element)
        elif isinstance(element, Action | Dialogue | Centered | Lyrics) and any(
            span.note for span in element.text.spans
        ):
            kept.append(Note(" ".join(span.text for span in element.text.spans if span.note)))
        else:
            _log.info("left out an empty %s, which would print nothing", type(element).__name__)
    return kept


def to_fdx(doc: Document) -> str:
    """The document as Final Draft FDX (see the module docstring for the layout)."""
    root = ET.Element("FinalDraft", DocumentType="Script", Template="No", Version="5")
    private = ET.Element(_PRIVATE, Version="1")
    writer = _Writer(ET.SubElement(root, "Content"), private)
    for item in _group(_readable(doc.elements)):
        if isinstance(item, _Dual):
            writer.dual(item)
        elif isinstance(item, _Block):
            for index, element in item.lines:
                writer.element(index, element)
        else:
            writer.element(*item)
    writer.finish()
    _write_title_page(root, doc.title_page, writer)
    if writer.left_out:
        _log.warning("left out %d characters XML cannot hold", writer.left_out)
    _write_settings(root, doc, list(writer.characters))
    if len(private):
        root.append(private)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _write_title_page(root: ET.Element, title_page: TitlePage, writer: _Writer) -> None:
    if not title_page:
        return
    content = ET.SubElement(ET.SubElement(root, "TitlePage"), "Content")

    def blank_lines(count: int) -> None:
        for _ in range(count):
            _add_runs(_title_paragraph(content, "Left"), [])

    rows: dict[int, tuple[int, int]] = {}  # entry number -> its first and last paragraph

    def entry(number: int, item: TitleEntry, alignment: str) -> None:
        first = len(content)
        for line in item.value.lines():
            _add_runs(_title_paragraph(content, alignment), _printed_runs(line, writer.safe)[0])
        rows[number] = (first, len(content) - 1)

    numbered = list(enumerate(title_page.entries))
    centred = [(n, e) for n, e in numbered if e.key.strip().lower() in _TITLE_CENTRED]
    bottom = [(n, e) for n, e in numbered if e.key.strip().lower() not in _TITLE_CENTRED]
    blank_lines(_TITLE_TOP_BLANKS)
    for position, (number, item) in enumerate(centred):
        if position:
            previous = centred[position - 1][1].key.strip().lower()
            blank_lines(3 if previous == "title" else 1)
        entry(number, item, "Center")
    bottom_lines = sum(len(e.value.lines()) + 1 for _, e in bottom) - 1
    blank_lines(max(2, _TITLE_PAGE_LINES - len(content) - bottom_lines))
    for position, (number, item) in enumerate(bottom):
        if position:
            blank_lines(1)
        entry(number, item, "Left")
    # The map lists entries in the document's order, which the layout does not keep.
    for number, item in numbered:
        first, last = rows[number]
        ET.SubElement(
            writer.private,
            "TitleEntry",
            Key=writer.safe(item.key),
            First=str(first),
            Last=str(last),
        )
        for offset, note in _printed_runs(item.value, writer.safe)[1]:
            writer.inline_note(note, offset, TitleEntry=str(number))


def _title_paragraph(content: ET.Element, alignment: str) -> ET.Element:
    return ET.SubElement(
        content,
        "Paragraph",
        Alignment=alignment,
        FirstIndent="0.00",
        Leading="Regular",
        LeftIndent="1.00",
        RightIndent="7.50",
        SpaceBefore="0",
        Spacing="1",
        StartsNewPage="No",
    )


def _write_settings(root: ET.Element, doc: Document, characters: list[str]) -> None:
    """What Final Draft needs to show Courier 12 with standard indents, and its SmartType lists."""
    for kind, fmt in _FORMATS.items():
        settings = ET.SubElement(root, "ElementSettings", Type=kind)
        ET.SubElement(settings, "FontSpec", _FONT, Style=fmt.style)
        ET.SubElement(
            settings,
            "ParagraphSpec",
            Alignment=fmt.alignment,
            FirstIndent="0.00",
            Leading="Regular",
            LeftIndent=f"{fmt.left:.2f}",
            RightIndent=f"{fmt.right:.2f}",
            SpaceBefore=str(fmt.space_before),
            Spacing="1",
            StartsNewPage="No",
        )
        ET.SubElement(
            settings,
            "Behavior",
            PaginateAs=kind,
            ReturnKey=fmt.return_key,
            Shortcut=str(fmt.shortcut),
        )
    header_footer = ET.SubElement(
        root,
        "HeaderAndFooter",
        FooterFirstPage="Yes",
        FooterVisible="No",
        HeaderFirstPage="No",
        HeaderVisible="Yes",
        StartingPage="1",
    )
    header = ET.SubElement(ET.SubElement(header_footer, "Header"), "Paragraph", Alignment="Right")
    ET.SubElement(header, "DynamicLabel", Type="Page #")
    ET.SubElement(header, "Text").text = "."
    layout = ET.SubElement(
        root,
        "PageLayout",
        BackgroundColor="#FFFFFFFFFFFF",
        BottomMargin="72",
        BreakDialogueAndActionAtSentences="Yes",
        DocumentLeading="Normal",
        FooterMargin="36",
        ForegroundColor="#000000000000",
        HeaderMargin="36",
        InvisiblesColor="#A0A0A0A0A0A0",
        TopMargin="72",
        UsesSmartQuotes="Yes",
    )
    ET.SubElement(layout, "AutoCastList", AddParentheses="Yes", AutomaticallyGenerate="Yes")
    mores = ET.SubElement(root, "MoresAndContinueds")
    ET.SubElement(mores, "FontSpec", _FONT, Style="")
    ET.SubElement(
        mores,
        "DialogueBreaks",
        AutomaticCharacterContinueds="Yes",
        BottomOfPage="Yes",
        DialogueBottom="(MORE)",
        DialogueTop="(CONT'D)",
        TopOfNext="Yes",
    )
    _write_smart_type(root, doc, characters)


def _write_smart_type(root: ET.Element, doc: Document, characters: list[str]) -> None:
    smart = ET.SubElement(root, "SmartType")
    lists = {
        ("Characters", "Character"): characters,
        ("Extensions", "Extension"): [
            f"({e})"
            for e in dict.fromkeys(
                el.extension for el in doc.elements if isinstance(el, Character) and el.extension
            )
        ],
        ("Transitions", "Transition"): list(
            dict.fromkeys(
                ["CUT TO:", "DISSOLVE TO:", "FADE IN:", "FADE OUT.", "FADE TO BLACK."]
                + [el.text for el in doc.elements if isinstance(el, Transition)]
            )
        ),
    }
    for (group, item), values in lists.items():
        parent = ET.SubElement(smart, group)
        for value in values:
            # Names already counted where the script holds them: left out without a warning.
            ET.SubElement(parent, item).text = _NOT_XML.sub("", value)
