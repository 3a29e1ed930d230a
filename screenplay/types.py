"""The screenplay document model: plain, immutable dataclasses.

This module knows what a screenplay *is* — a title page and an ordered sequence of elements, with
inline emphasis kept as styled spans — and nothing of how it is written down (Fountain, FDX), laid
out (PDF, HTML) or where it came from. Every parser produces these types and every writer consumes
them, so two documents are equal exactly when they would print the same screenplay and carry the
same notes.

Text canonical form: a `Text` is a tuple of `Span`s where adjacent spans never share a style,
no span is empty, and a newline is always an unstyled span of its own (emphasis in Fountain never
crosses a line). `Text.of()` and `Text.from_spans()` enforce it, so equality is meaningful.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


class Style(enum.Flag):
    """Inline emphasis of a span; combinable (`Style.BOLD | Style.ITALIC`)."""

    NONE = 0
    BOLD = enum.auto()
    ITALIC = enum.auto()
    UNDERLINE = enum.auto()


@dataclass(frozen=True, slots=True)
class Span:
    """A run of characters with one style. A `note` span is a `[[note]]`: kept, never printed."""

    text: str
    style: Style = Style.NONE
    note: bool = False


@dataclass(frozen=True, slots=True)
class Text:
    """Rich text: styled spans in canonical form (see the module docstring)."""

    spans: tuple[Span, ...] = ()

    @classmethod
    def of(cls, text: str, style: Style = Style.NONE) -> Text:
        """Plain (or uniformly styled) text; newlines are allowed."""
        return cls.from_spans([Span(text, style)])

    @classmethod
    def from_spans(cls, spans: Iterable[Span]) -> Text:
        """Build canonical text: split out newlines, drop empty spans, merge equal neighbours."""
        merged: list[Span] = []
        # Neighbours of one style are gathered and joined once: adding strings one by one would
        # copy the run again for each span (quadratic in a line of a thousand tiny spans).
        run: list[str] = []
        run_style = Style.NONE

        def flush() -> None:
            if run:
                merged.append(Span("".join(run), run_style))
                run.clear()

        for span in spans:
            for i, part in enumerate(span.text.split("\n")):
                if i:
                    flush()
                    merged.append(Span("\n"))
                if not part:
                    continue
                if span.note:
                    flush()
                    merged.append(Span(part, span.style, note=True))
                    continue
                if run and span.style != run_style:
                    flush()
                run.append(part)
                run_style = span.style
        flush()
        return cls(tuple(merged))

    @classmethod
    def join_lines(cls, lines: Iterable[Text]) -> Text:
        """The lines one after another, a newline between each two."""
        spans: list[Span] = []
        for i, line in enumerate(lines):
            if i:
                spans.append(Span("\n"))
            spans.extend(line.spans)
        return cls.from_spans(spans)

    @property
    def plain(self) -> str:
        """The printed characters: emphasis dropped, notes removed."""
        return "".join(s.text for s in self.spans if not s.note)

    @property
    def source(self) -> str:
        """All characters including the text of notes (for search, word counts of drafts)."""
        return "".join(s.text for s in self.spans)

    def lines(self) -> list[Text]:
        """Split into one `Text` per line."""
        out: list[list[Span]] = [[]]
        for span in self.spans:
            if span.text == "\n":
                out.append([])
            else:
                out[-1].append(span)
        return [Text(tuple(line)) for line in out]

    def __str__(self) -> str:
        return self.plain

    def __bool__(self) -> bool:
        return bool(self.spans)

    def __add__(self, other: Text) -> Text:
        return Text.from_spans((*self.spans, *other.spans))


# --- title page -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TitleEntry:
    """One `Key: value` of the title page. `key` is kept as written ("Draft date")."""

    key: str
    value: Text


@dataclass(frozen=True, slots=True)
class TitlePage:
    entries: tuple[TitleEntry, ...] = ()

    def get(self, key: str) -> Text | None:
        """The value of `key`, compared case-insensitively ("title" finds "Title")."""
        wanted = key.strip().lower()
        for entry in self.entries:
            if entry.key.strip().lower() == wanted:
                return entry.value
        return None

    def __bool__(self) -> bool:
        return bool(self.entries)


# --- elements ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SceneHeading:
    """`INT. HOUSE - DAY`, with an optional scene number (`#12A#` in Fountain)."""

    text: str
    number: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """Description; line breaks and leading spaces are kept in `text`."""

    text: Text


@dataclass(frozen=True, slots=True)
class Character:
    """A character cue. `name` keeps its case (`McKENNA`, `林小雨`); `extension` is the
    parenthetical part without parentheses (`V.O.`, `CONT'D`); `dual` marks the *second* cue
    of a dual-dialogue pair (the `^` cue), which pairs with the dialogue block just before."""

    name: str
    extension: str | None = None
    dual: bool = False

    @property
    def cue(self) -> str:
        """The cue as printed: `NAME (EXT)`."""
        return f"{self.name} ({self.extension})" if self.extension else self.name


@dataclass(frozen=True, slots=True)
class Parenthetical:
    """A wryly, as written including its parentheses: `(beat)`."""

    text: str


@dataclass(frozen=True, slots=True)
class Dialogue:
    """Spoken lines; may span several lines of text."""

    text: Text


@dataclass(frozen=True, slots=True)
class Transition:
    """`CUT TO:`, `FADE OUT.` — printed flush right."""

    text: str


@dataclass(frozen=True, slots=True)
class Centered:
    """`> THE END <` — printed centred."""

    text: Text


@dataclass(frozen=True, slots=True)
class Lyrics:
    """Sung lines (`~` in Fountain), printed in italics like dialogue."""

    text: Text


@dataclass(frozen=True, slots=True)
class PageBreak:
    """A forced page break (`===`)."""


#: The deepest section level a reader accepts; a deeper one is read as this one. Levels come from
#: files, and a writer repeats `#` `level` times: unbounded, ten bytes of FDX made megabytes of
#: Fountain. Twice markdown's six is more than any outline uses.
MAX_SECTION_LEVEL = 12

#: The longest scene number a reader accepts (`12A`, `A-101.2`); anything longer is not a number.
MAX_SCENE_NUMBER = 16


@dataclass(frozen=True, slots=True)
class Section:
    """Structure only (`#`, `##`, ...), never printed. `level` starts at 1 (readers keep it at
    most `MAX_SECTION_LEVEL`)."""

    text: str
    level: int = 1


@dataclass(frozen=True, slots=True)
class Synopsis:
    """Structure only (`= text`), never printed."""

    text: str


@dataclass(frozen=True, slots=True)
class Note:
    """A note paragraph (`[[...]]` on its own), never printed."""

    text: str


@dataclass(frozen=True, slots=True)
class Boneyard:
    """Text commented out with `/* ... */`, never printed."""

    text: str


Element = (
    SceneHeading
    | Action
    | Character
    | Parenthetical
    | Dialogue
    | Transition
    | Centered
    | Lyrics
    | PageBreak
    | Section
    | Synopsis
    | Note
    | Boneyard
)

#: Elements that appear on the printed page.
PRINTED = (
    SceneHeading,
    Action,
    Character,
    Parenthetical,
    Dialogue,
    Transition,
    Centered,
    Lyrics,
    PageBreak,
)


def describe(element: Element, limit: int = 40) -> str:
    """A short, readable name for an element in a message: `Dialogue "We're late…"`."""
    kind = type(element).__name__
    if isinstance(element, Action | Dialogue | Centered | Lyrics):
        words = element.text.source
    elif isinstance(element, Character):
        words = element.cue
    elif isinstance(element, PageBreak):
        return kind
    else:
        words = element.text
    return f"{kind} {quote(words, limit)}"


def quote(text: str, limit: int = 40) -> str:
    """`text` in double quotes on one line (spacing squashed), cut to `limit` characters with an
    ellipsis."""
    # Words are taken only until the limit is passed: quoting a megabyte costs no more than a line.
    words: list[str] = []
    length = -1
    for word in _WORDS.finditer(text):
        words.append(word.group())
        length += len(words[-1]) + 1
        if length > limit:
            break
    line = " ".join(words)
    return f'"{line}"' if len(line) <= limit else f'"{line[: limit - 1].rstrip()}…"'


_WORDS = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Document:
    title_page: TitlePage = field(default_factory=TitlePage)
    elements: tuple[Element, ...] = ()
    #: Indices of `elements` changed since an earlier draft: the PDF prints a revision asterisk
    #: in the right margin beside their lines. Not part of any file format's text.
    revised: frozenset[int] = frozenset()

    @property
    def title(self) -> str | None:
        value = self.title_page.get("Title")
        return value.plain if value else None

    def scenes(self) -> Iterator[tuple[SceneHeading | None, tuple[Element, ...]]]:
        """The elements grouped by scene heading; what precedes the first heading comes first,
        with heading None (only when there is such material)."""
        heading: SceneHeading | None = None
        body: list[Element] = []
        started = False
        for element in self.elements:
            if isinstance(element, SceneHeading):
                if started or body:
                    yield heading, tuple(body)
                heading, body, started = element, [], True
            else:
                body.append(element)
        if started or body:
            yield heading, tuple(body)


def dialogue_blocks(
    elements: Iterable[Element],
) -> Iterator[tuple[Character, list[Parenthetical | Dialogue | Lyrics]]]:
    """Each character cue with the parentheticals, dialogue and lyrics that follow it."""
    cue: Character | None = None
    body: list[Parenthetical | Dialogue | Lyrics] = []
    for element in elements:
        if isinstance(element, Character):
            if cue is not None:
                yield cue, body
            cue, body = element, []
        elif cue is not None and isinstance(element, Parenthetical | Dialogue | Lyrics):
            body.append(element)
        elif cue is not None:
            yield cue, body
            cue, body = None, []
    if cue is not None:
        yield cue, body
