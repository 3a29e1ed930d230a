"""The screenplay page: where every printed line of a document goes, page by page.

This module knows the industry page — US Letter or A4, Courier 12 pt on a grid of 10 characters
per inch and 6 lines per inch, the fixed indents of each element, the blank line before each
paragraph — and the rules by which screenwriting software breaks pages: a scene heading is never
the last line of a page, a cue never leaves its dialogue, a speech splits only after a sentence
with `(MORE)` below and `NAME (CONT'D)` above, action splits at a sentence with two lines on
either side. Text wraps by display width, where a Chinese, Japanese or Korean character takes
two columns, and lines never begin with closing punctuation. Chinese and Japanese may break between
any two characters; Korean, which spaces its words, breaks only at spaces (CSS `word-break:
keep-all`), unless a word is longer than the whole line.

It deliberately knows nothing of fonts, PDF or HTML: a `Page` is plain data (lines at a row of
the grid and an x in points, made of styled runs) that the PDF writer draws and the stats module
counts. Notes, sections, synopses and boneyard are never laid out.

Wrapping and breaking pages live in one module because they are one job: a page may end only
where the wrapper ends a line, and the breaker counts the rows a cut leaves from the wrapper's
own lines (a wrap is the same for a prefix, see `_wrap_cells`), so neither can change alone.
"""

from __future__ import annotations

import itertools
import operator
import unicodedata
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

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
    TitlePage,
    Transition,
)
from screenplay.zh import PRINTED_KINDS, zh_lines

INCH = 72.0
FONT_SIZE = 12.0
#: Courier 12 pt sets 10 characters to the inch and 6 lines to the inch.
CHAR_WIDTH = INCH / 10
LINE_HEIGHT = INCH / 6
TOP_MARGIN = 1.0 * INCH
BOTTOM_MARGIN = 1.0 * INCH
#: From the top of a line's 12 pt box down to its baseline (Courier's ascent sits there).
BASELINE_OFFSET = 9.0

# Horizontal positions from the left edge of the paper, and widths in columns.
ACTION_X = 1.5 * INCH
ACTION_WIDTH = 60
CUE_X = 3.7 * INCH
CUE_WIDTH = 38
PARENTHETICAL_X = 3.1 * INCH
# About two inches and a bit: room for a common wryly ("(looking at the ceiling)") on one line.
PARENTHETICAL_WIDTH = 24
DIALOGUE_X = 2.5 * INCH
DIALOGUE_WIDTH = 35
RIGHT_EDGE = 7.5 * INCH
SCENE_NUMBER_LEFT_END = 1.2 * INCH
SCENE_NUMBER_RIGHT_X = 7.6 * INCH
#: The revision asterisk beside a line changed since an earlier draft, in the right margin.
REVISION_X = 8.0 * INCH
TITLE_PAGE_LEFT_WIDTH = 40
#: The page number sits half an inch from the top, three lines above the first line of text.
PAGE_NUMBER_ROW = -3

LineKind = Literal[
    "scene-heading",
    "scene-number",
    "action",
    "character",
    "parenthetical",
    "dialogue",
    "lyrics",
    "more",
    "transition",
    "centered",
    "page-number",
    "revision",
    "title",
    "credit",
    "author",
    "source",
    "title-entry",
]


@dataclass(frozen=True, slots=True)
class Paper:
    """A paper size in points. `lines` is how many lines of text fit between the margins; the
    last one may reach into the bottom margin by less than a line, as in screenwriting software,
    which gives the customary 55 lines on Letter."""

    name: str
    width: float
    height: float

    @property
    def lines(self) -> int:
        return int((self.height - TOP_MARGIN - BOTTOM_MARGIN) // LINE_HEIGHT) + 1


PAPERS: dict[str, Paper] = {
    "letter": Paper("letter", 8.5 * INCH, 11.0 * INCH),
    "a4": Paper("a4", 210 / 25.4 * INCH, 297 / 25.4 * INCH),
}


@dataclass(frozen=True, slots=True)
class Run:
    """Characters of one emphasis within a line."""

    text: str
    style: Style = Style.NONE


@dataclass(frozen=True, slots=True)
class Line:
    """One printed line: `row` counts lines from the top margin (0 is the first line of text;
    the page number sits at a negative row), `x` is its left edge in points from the left of the
    paper, and the runs follow one another on the 10-per-inch grid."""

    row: int
    x: float
    runs: tuple[Run, ...]
    kind: LineKind

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    @property
    def columns(self) -> int:
        """Width on the grid, a CJK character counting as two columns."""
        return display_width(self.text)

    @property
    def baseline(self) -> float:
        """Distance in points from the top of the paper down to the baseline."""
        return TOP_MARGIN + self.row * LINE_HEIGHT + BASELINE_OFFSET


@dataclass(frozen=True, slots=True)
class Page:
    """A laid-out page. `number` is the body page number (1, 2, ...) or None for the title page,
    which is not counted."""

    paper: Paper
    number: int | None
    lines: tuple[Line, ...]

    @property
    def is_title_page(self) -> bool:
        return self.number is None

    @property
    def rows_used(self) -> int:
        """How many lines of the text area the page fills, blank lines between included."""
        return max((line.row + 1 for line in self.lines if line.row >= 0), default=0)


def paginate(doc: Document, paper: str = "letter") -> list[Page]:
    """Lay `doc` out: the title page first when the document has one, then the body pages."""
    size = _paper(paper)
    pages: list[Page] = []
    if doc.title_page:
        pages.append(Page(size, None, _title_page_lines(doc.title_page, size)))
    blocks = _blocks(doc.elements, doc.revised)
    for number, lines in enumerate(_body_pages(blocks, size.lines), start=1):
        if number > 1:
            lines.append(_page_number(number))
        pages.append(Page(size, number, tuple(lines)))
    return pages


def page_count(doc: Document, paper: str = "letter") -> int:
    """Body pages of `doc` (the title page is not counted); one page is about a minute on screen."""
    return sum(1 for page in paginate(doc, paper) if page.number is not None)


def _paper(name: str) -> Paper:
    size = PAPERS.get(name.strip().lower())
    if size is None:
        raise ScreenplayError(f"Paper size {name!r} is not available; choose letter or A4.")
    return size


# --- character widths and word wrap ------------------------------------------------------------


def char_width(ch: str) -> int:
    """Columns a character takes on the page: 2 for wide (CJK) characters, 0 for combining marks."""
    if ch < "\u0300":
        return 1
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    return sum(char_width(ch) for ch in text)


# Kinsoku: characters that may not begin a line (they stay with what precedes them) and those
# that may not end one (they go with what follows).
_NO_LINE_START = frozenset(
    "、。，．・：；？！）」』】〕〉》〙〗〟’”｝〜ー…‥ゝゞヽヾ々"
    "ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ.,;:!?)]}%'\"”’"
)
_NO_LINE_END = frozenset("（「『【〔〈《〘〖〝‘“｛([{")
_SENTENCE_END = frozenset(".!?。！？…‥")
_CLOSERS = "\"')]}”’」』）】"

_Cell = tuple[str, Style]


def _is_hangul(ch: str) -> bool:
    """A Korean letter: a syllable or a jamo (conjoining, compatibility or halfwidth)."""
    code = ord(ch)
    return (
        0xAC00 <= code <= 0xD7FF
        or 0x1100 <= code <= 0x11FF
        or 0x3130 <= code <= 0x318F
        or 0xA960 <= code <= 0xA97F
        or 0xFFA0 <= code <= 0xFFDC
    )


def _in_word(ch: str) -> bool:
    """Whether `ch` is part of a word that a line never breaks inside: narrow letters, digits and
    punctuation, and Hangul (a Korean word is written without spaces inside it, `3시에` too)."""
    return char_width(ch) == 1 or _is_hangul(ch)


def _unbreakable(last: str, ch: str) -> bool:
    """Whether a line may not break between `last` and `ch` (neither being a space)."""
    return (
        (_in_word(last) and _in_word(ch))
        or ch in _NO_LINE_START
        or last in _NO_LINE_END
        or char_width(ch) == 0
    )


@dataclass(slots=True)
class _Atom:
    """A piece the wrapper never cuts (a word, a CJK character with its punctuation) or a gap;
    `start` is where its first cell is in the source line."""

    cells: list[_Cell]
    width: int
    space: bool
    start: int


@dataclass(frozen=True, slots=True)
class _Wrapped:
    """One wrapped line: its runs and its indent in columns (a hanging indent)."""

    runs: tuple[Run, ...]
    indent: int

    @property
    def columns(self) -> int:
        return sum(display_width(run.text) for run in self.runs)


def _atoms(cells: Sequence[_Cell], lo: int, hi: int) -> Iterator[_Atom]:
    """The atoms of `cells[lo:hi]`, each given once it is complete."""
    start = lo
    while start < hi and cells[start][0] == " ":
        start += 1
    # Leading spaces are the writer's indentation: they travel with the first word.
    indent = list(cells[lo:start])
    atom: _Atom | None = None
    for k in range(start, hi):
        cell = cells[k]
        ch = cell[0]
        if ch == " ":
            if atom is not None and atom.space:
                atom.cells.append(cell)
                atom.width += 1
                continue
            if atom is not None:
                yield atom
            atom = _Atom([cell], 1, True, k)
            continue
        width = char_width(ch)
        if atom is not None and not atom.space and _unbreakable(atom.cells[-1][0], ch):
            atom.cells.append(cell)
            atom.width += width
            continue
        if atom is not None:
            yield atom
        atom = _Atom([*indent, cell], _cells_width(indent) + width, False, k - len(indent))
        indent = []
    if atom is not None:
        yield atom
    if indent:
        yield _Atom(indent, len(indent), False, lo)


def _cells_width(cells: Sequence[_Cell]) -> int:
    return sum(char_width(ch) for ch, _ in cells)


def _wrap_cells(
    cells: Sequence[_Cell], lo: int, hi: int, first: int, rest: int
) -> Iterator[tuple[list[_Cell], int]]:
    """Greedy wrap of `cells[lo:hi]`: the first line holds `first` columns, the lines after it
    `rest`. Gives each line with where it ends in the source line, one line at a time, so a
    caller that needs the first lines of a long paragraph wraps no more than those.

    The wrap is the same for a prefix: the lines of `cells[lo:end]`, for an `end` between two
    atoms, are the lines here up to the one holding `cells[end - 1]`, which the page breaker
    counts on."""
    current: list[_Cell] = []
    current_width = 0
    end = lo  # where `current` ends in the source line
    gap: list[_Cell] = []
    given = False
    width = first
    for atom in _atoms(cells, lo, hi):
        if atom.space:
            gap = atom.cells if current else []
            continue
        if current and current_width + len(gap) + atom.width <= width:
            current += gap + atom.cells
            current_width += len(gap) + atom.width
            end = atom.start + len(atom.cells)
            gap = []
            continue
        if current:
            yield current, end
            given, width = True, rest
        gap = []
        # A word wider than the column is cut where the column ends, in one pass over it.
        at, left = 0, atom.width
        while left > width:
            taken, used = at, 0
            while taken < len(atom.cells) and used + char_width(atom.cells[taken][0]) <= width:
                used += char_width(atom.cells[taken][0])
                taken += 1
            if taken == at:
                taken, used = at + 1, char_width(atom.cells[at][0])
            yield atom.cells[at:taken], atom.start + taken
            given, width = True, rest
            at, left = taken, left - used
        current = atom.cells[at:]
        current_width = left
        end = atom.start + len(atom.cells)
    if current or not given:
        yield current, end


def _runs(cells: Sequence[_Cell]) -> tuple[Run, ...]:
    # Grouped, then joined once: adding a character at a time copied the run for each one.
    return tuple(
        Run("".join(ch for ch, _ in group), style)
        for style, group in itertools.groupby(cells, key=operator.itemgetter(1))
    )


def _source_lines(text: Text, extra: Style = Style.NONE) -> tuple[tuple[_Cell, ...], ...]:
    """The printed characters of each line of `text`, with `extra` emphasis added (lyrics are
    italic); a line that held only a note is dropped."""
    out: list[tuple[_Cell, ...]] = []
    for line in text.lines():
        if line.spans and not line.plain:
            continue
        cells: list[_Cell] = []
        for span in line.spans:
            if not span.note:
                chars = unicodedata.normalize("NFC", span.text).expandtabs(4)
                cells.extend((ch, span.style | extra) for ch in chars)
        out.append(tuple(cells))
    return tuple(out)


def _wrap_line(
    cells: Sequence[_Cell], lo: int, hi: int, width: int, hang: int = 0
) -> Iterator[tuple[_Wrapped, int]]:
    """Wrap `cells[lo:hi]`; the lines after its first are indented by `hang` columns. Gives
    each wrapped line with where it ends in the source line."""
    for i, (line, end) in enumerate(_wrap_cells(cells, lo, hi, width, width - hang)):
        stop = len(line)
        while stop and line[stop - 1][0] == " ":
            stop -= 1
        yield _Wrapped(_runs(line[:stop]), hang if i else 0), end


def _wrap(text: Text, width: int) -> list[_Wrapped]:
    return [
        wrapped
        for source in _source_lines(text)
        for wrapped, _ in _wrap_line(source, 0, len(source), width)
    ]


# --- blocks: the unit the paginator places -----------------------------------------------------

_Row = tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class _Column:
    """Where the parts of a speech go: the full page width or one side of dual dialogue."""

    cue_x: float
    cue_width: int
    paren_x: float
    paren_width: int
    dialogue_x: float
    dialogue_width: int


_SINGLE = _Column(
    CUE_X, CUE_WIDTH, PARENTHETICAL_X, PARENTHETICAL_WIDTH, DIALOGUE_X, DIALOGUE_WIDTH
)
_DUAL_LEFT = _Column(2.6 * INCH, 18, 2.0 * INCH, 20, 1.5 * INCH, 28)
_DUAL_RIGHT = _Column(5.7 * INCH, 18, 5.1 * INCH, 20, 4.6 * INCH, 28)


@dataclass(frozen=True, slots=True)
class _Para:
    """Flowing text as printed characters, one tuple per source line. `kind` is action,
    dialogue, lyrics or parenthetical."""

    kind: LineKind
    lines: tuple[tuple[_Cell, ...], ...]

    def measure(self, column: _Column) -> tuple[float, int, int]:
        """Where its lines start (x), how many columns they hold, and the hanging indent."""
        if self.kind == "action":
            return ACTION_X, ACTION_WIDTH, 0
        if self.kind == "parenthetical":
            # Wrapped lines of a wryly hang one column in, under its first word.
            return column.paren_x, column.paren_width, 1
        return column.dialogue_x, column.dialogue_width, 0


def _line(x: float, wrapped: _Wrapped, kind: LineKind) -> Line:
    return Line(0, x + wrapped.indent * CHAR_WIDTH, wrapped.runs, kind)


#: A place in a flow: paragraph, source line, and cell of that line.
_Place = tuple[int, int, int]
#: A stretch of a flow's text: its paragraph, the paragraph's index and the source line's, and
#: the cells of that line it holds (from, to).
_Piece = tuple[_Para, int, int, int, int]


@dataclass(frozen=True, slots=True)
class _Flow:
    """Text a page break may cut: an action paragraph, or a speech whose cue prints above this
    part of it (`NAME`, and `NAME (CONT'D)` above the part on the next page).

    A part of a cut flow is the whole flow's paragraphs with the places it starts and stops at,
    not copies of them: copying the rest of a long paragraph for each page was quadratic."""

    paras: tuple[_Para, ...]
    cue: Character | None = None
    cue_text: str | None = None
    column: _Column = _SINGLE
    start: _Place | None = None  # the rest after a cut here
    stop: _Place | None = None  # the head before a cut here
    revised: bool = False  # each row carries a revision asterisk

    def cue_rows(self) -> list[_Row]:
        if self.cue_text is None:
            return []
        cue = self.column.cue_x
        return [
            (_line(cue, wrapped, "character"),)
            for wrapped in _wrap(Text.of(self.cue_text), self.column.cue_width)
        ]

    def pieces(self) -> Iterator[_Piece]:
        """The source lines of this part, in order. At a cut a line loses its spaces at both
        ends, and the rest after a cut begins at its first line that holds anything."""
        first_para, first_line, _ = self.start or (0, 0, 0)
        last_para = len(self.paras) - 1 if self.stop is None else self.stop[0]
        for i in range(first_para, last_para + 1):
            lines = self.paras[i].lines
            skipping = self.start is not None and i == first_para
            last_line = self.stop[1] if self.stop is not None and i == last_para else len(lines) - 1
            for j in range(first_line if i == first_para else 0, last_line + 1):
                lo, hi = self._bounds(i, j)
                if skipping and lo >= hi:
                    continue
                skipping = False
                yield self.paras[i], i, j, lo, hi

    def _bounds(self, i: int, j: int) -> tuple[int, int]:
        line = self.paras[i].lines[j]
        lo, hi, cut = 0, len(line), False
        if self.start is not None and self.start[:2] == (i, j):
            lo, cut = self.start[2], True
        if self.stop is not None and self.stop[:2] == (i, j):
            hi, cut = self.stop[2], True
        if cut:
            while lo < hi and line[lo][0] == " ":
                lo += 1
            while hi > lo and line[hi - 1][0] == " ":
                hi -= 1
        return lo, hi

    def rows(self) -> Iterator[_Row]:
        for row in self._rows():
            yield _marked(row) if self.revised else row

    def _rows(self) -> Iterator[_Row]:
        yield from self.cue_rows()
        for para, _, j, lo, hi in self.pieces():
            yield from _piece_rows(para, j, lo, hi, self.column)

    def head(self, cut: _Place) -> _Flow:
        return replace(self, stop=cut)

    def tail(self, cut: _Place) -> _Flow | None:
        """The rest after `cut`, or None when nothing is left."""
        rest = replace(self, start=cut, cue_text=_contd_cue(self.cue) if self.cue else None)
        return rest if next(rest.pieces(), None) is not None else None


def _piece_rows(para: _Para, j: int, lo: int, hi: int, column: _Column) -> Iterator[_Row]:
    x, width, hang = para.measure(column)
    for wrapped, _ in _wrap_line(para.lines[j], lo, hi, width, hang):
        yield (_line(x, wrapped, para.kind),) if wrapped.runs else ()


class _Rows:
    """A block's rows, made when first asked for: the paginator asks whether a block fits in
    the room left (at most a page), so a paragraph of a hundred pages is not laid out in full
    for each of its pages."""

    def __init__(self, rows: Iterable[_Row]) -> None:
        self._made: deque[_Row] = deque()
        self._more = iter(rows)

    def count(self, limit: int) -> int:
        """How many rows there are, or `limit` when there are at least that many."""
        limit = max(limit, 0)
        while len(self._made) < limit:
            row = next(self._more, None)
            if row is None:
                break
            self._made.append(row)
        return min(len(self._made), limit)

    def take(self, count: int) -> list[_Row]:
        """The first `count` rows, which leave this sequence."""
        self.count(count)
        return [self._made.popleft() for _ in range(min(count, len(self._made)))]

    def all(self) -> list[_Row]:
        self._made.extend(self._more)
        return list(self._made)


@dataclass(slots=True)
class _Block:
    """Rows the paginator places together, with the blank lines wanted above them; `flow` is
    set when a page break may cut the block (action and speeches)."""

    rows: _Rows
    flow: _Flow | None = None
    keep_with_next: bool = False
    page_break: bool = False
    space_before: int = 1


def _flow_block(flow: _Flow) -> _Block:
    return _Block(_Rows(flow.rows()), flow)


def _placed(text: Text, kind: LineKind, place: Literal["left", "right", "center"]) -> _Block:
    """A paragraph that is never cut: heading, transition, centred text."""
    return _Block(_Rows(_placed_rows(text, kind, place)))


def _placed_rows(
    text: Text, kind: LineKind, place: Literal["left", "right", "center"]
) -> list[_Row]:
    rows: list[_Row] = []
    for wrapped in _wrap(text, ACTION_WIDTH):
        if place == "right":
            x = RIGHT_EDGE - wrapped.columns * CHAR_WIDTH
        elif place == "center":
            x = ACTION_X + (ACTION_WIDTH - wrapped.columns) * CHAR_WIDTH / 2
        else:
            x = ACTION_X
        rows.append((_line(x, wrapped, kind),) if wrapped.runs else ())
    return rows


def _scene_heading(heading: SceneHeading) -> _Block:
    rows = _placed_rows(Text.of(heading.text), "scene-heading", "left")
    if heading.number and rows:
        number = (Run(heading.number),)
        left = SCENE_NUMBER_LEFT_END - display_width(heading.number) * CHAR_WIDTH
        rows[0] = (
            Line(0, left, number, "scene-number"),
            *rows[0],
            Line(0, SCENE_NUMBER_RIGHT_X, number, "scene-number"),
        )
    return _Block(_Rows(rows), keep_with_next=True)


_Speech = Parenthetical | Dialogue | Lyrics
#: Printed paragraphs that end a run of speech.
_ENDS_SPEECH = (Character, SceneHeading, Action, Transition, Centered, PageBreak)


def _speech_paras(body: Iterable[_Speech]) -> tuple[_Para, ...]:
    paras: list[_Para] = []
    for item in body:
        if isinstance(item, Parenthetical):
            paras.append(_Para("parenthetical", _source_lines(Text.of(item.text))))
        elif isinstance(item, Lyrics):
            paras.append(_Para("lyrics", _source_lines(item.text, Style.ITALIC)))
        else:
            paras.append(_Para("dialogue", _source_lines(item.text)))
    return tuple(paras)


def _speech(cue: Character | None, body: list[_Speech], column: _Column = _SINGLE) -> _Flow:
    return _Flow(_speech_paras(body), cue, cue.cue if cue else None, column)


def _dual(left: tuple[Character, list[_Speech]], right: tuple[Character, list[_Speech]]) -> _Block:
    left_rows = list(_speech(*left, column=_DUAL_LEFT).rows())
    right_rows = list(_speech(*right, column=_DUAL_RIGHT).rows())
    height = max(len(left_rows), len(right_rows))
    left_rows += [()] * (height - len(left_rows))
    right_rows += [()] * (height - len(right_rows))
    # Side-by-side speeches stay on one page; only a pair taller than a page is ever cut.
    return _Block(_Rows([a + b for a, b in zip(left_rows, right_rows, strict=True)]))


def _speech_run(elements: Sequence[Element], i: int) -> tuple[list[_Speech], int]:
    """The parentheticals, dialogue and lyrics from `elements[i]` on, skipping what is never
    printed, up to the next cue or other printed paragraph; and the index after them."""
    body: list[_Speech] = []
    while i < len(elements):
        element = elements[i]
        if isinstance(element, Parenthetical | Dialogue | Lyrics):
            body.append(element)
        elif isinstance(element, _ENDS_SPEECH):
            break
        i += 1
    return body, i


def _marked(row: _Row) -> _Row:
    """`row` with a revision asterisk in the right margin (an empty row stays empty)."""
    return (*row, Line(0, REVISION_X, (Run("*"),), "revision")) if row else row


def _revised(block: _Block) -> _Block:
    """`block` with a revision asterisk beside each of its rows (kept when a page cuts it)."""
    if block.flow is not None:
        flow = replace(block.flow, revised=True)
        return replace(block, rows=_Rows(flow.rows()), flow=flow)
    return replace(block, rows=_Rows([_marked(row) for row in block.rows.all()]))


def _blocks(elements: Sequence[Element], revised: frozenset[int] = frozenset()) -> list[_Block]:
    """The blocks of `elements`; a block holding an element whose index is in `revised` is
    marked with revision asterisks (a speech as a whole)."""
    blocks: list[_Block] = []
    pending: tuple[Character, list[_Speech]] | None = None  # the last speech, for a dual partner
    i = 0
    while i < len(elements):
        element, first = elements[i], i
        if isinstance(element, Character | Parenthetical | Dialogue | Lyrics):
            cue = element if isinstance(element, Character) else None
            body, i = _speech_run(elements, i + 1 if cue else i)
            if cue is not None and cue.dual and pending is not None:
                blocks[-1] = _dual(pending, (cue, body))
                pending = None
            else:
                blocks.append(_flow_block(_speech(cue, body)))
                pending = (cue, body) if cue is not None else None
        else:
            i += 1
            if isinstance(element, SceneHeading):
                blocks.append(_scene_heading(element))
            elif isinstance(element, Action):
                blocks.append(_flow_block(_Flow((_Para("action", _source_lines(element.text)),))))
            elif isinstance(element, Transition):
                blocks.append(_placed(Text.of(element.text), "transition", "right"))
            elif isinstance(element, Centered):
                blocks.append(_placed(element.text, "centered", "center"))
            elif isinstance(element, PageBreak):
                blocks.append(_Block(_Rows(()), page_break=True))
            else:
                # Notes, sections, synopses and boneyard are never printed, and do not part a
                # dual-dialogue pair.
                continue
            pending = None
        if revised and not revised.isdisjoint(range(first, i)):
            blocks[-1] = _revised(blocks[-1])
    return [block for block in blocks if block.rows.count(1) or block.page_break]


# --- cutting a block at a page break -----------------------------------------------------------


def _may_cut(line: Sequence[_Cell], lo: int, hi: int, end: int, force: bool) -> bool:
    """Whether a page may end after `line[lo:end]` (the text of the line runs from `lo` to
    `hi`): at a sentence's end, or (forced) any word's."""
    if end == hi:
        return True
    last, after = line[end - 1][0], line[end][0]
    if last == " " or after in _NO_LINE_START:
        return False
    between_words = after == " " or not _unbreakable(last, after)
    if force:
        return between_words
    k = end - 1
    while k > lo and line[k][0] in _CLOSERS:
        k -= 1
    return line[k][0] in _SENTENCE_END and between_words


def _contd_cue(cue: Character) -> str:
    if cue.extension and cue.extension.strip().upper() in ("CONT'D", "CONT’D", "CONTD", "CONT."):
        return cue.cue
    return f"{cue.cue} (CONT'D)"


def _more_row() -> _Row:
    return (Line(0, CUE_X, (Run("(MORE)"),), "more"),)


@dataclass(slots=True)
class _Cutter:
    """Where one flow may be cut, and the rows each cut leaves above it.

    It looks no further into the flow than a page: cuts are found in order, with the rows of
    the head each leaves counted from the wrap of the lines above it (a wrap is the same for a
    prefix, see `_wrap_cells`), and the search stops at the first cut that leaves too many.
    Wrapping the head and the rest again for each cut tried, and each page, took quadratic
    time in a long paragraph (74 s for 100 KB)."""

    flow: _Flow
    force: bool

    @property
    def least(self) -> int:
        """Lines of text that must stand on each side of the cut (industry: two)."""
        return 1 if self.force else 2

    @property
    def more(self) -> int:
        return 1 if self.flow.cue is not None else 0

    def cuts(self, budget: int) -> Iterator[tuple[_Place, int]]:
        """Each cut in order with the rows of text of the head it leaves, while those are at
        most `budget` (they grow from cut to cut)."""
        above = 0  # rows of the source lines wholly above
        for para, i, j, lo, hi in self.flow.pieces():
            if above >= budget:
                return
            if para.kind != "parenthetical":
                # A wryly belongs to the line it qualifies: a page never ends inside or after one.
                for end, rows in self._line_cuts(para, j, lo, hi, budget - above):
                    yield (i, j, end), above + rows
            above += _Rows(_piece_rows(para, j, lo, hi, self.flow.column)).count(budget - above + 1)

    def _line_cuts(
        self, para: _Para, j: int, lo: int, hi: int, budget: int
    ) -> Iterator[tuple[int, int]]:
        """The cuts in one source line, each with the rows the line's part above it takes
        (that part loses its spaces at both ends), while those are at most `budget`."""
        line = para.lines[j]
        _, width, hang = para.measure(self.flow.column)
        bare = lo
        while bare < hi and line[bare][0] == " ":
            bare += 1
        ends = (end for _, end in _wrap_cells(line, bare, hi, width, width - hang))
        rows, row_end = 1, next(ends)
        for end in range(lo + 1, hi + 1):
            # The wrapped line holding `line[end - 1]` is the first that ends after it.
            while row_end < end and end > bare:
                following = next(ends, None)
                if following is None:
                    break
                rows, row_end = rows + 1, following
            if rows > budget:
                return
            if _may_cut(line, lo, hi, end, self.force):
                kept = end
                while kept > bare and line[kept - 1][0] == " ":
                    kept -= 1
                yield end, (1 if kept <= bare else rows)

    def tail_ok(self, tail: _Flow | None) -> bool:
        if tail is None:
            return False
        # A speech's continuation is never short: its (CONT'D) cue carries it.
        return tail.cue is not None or _Rows(tail.rows()).count(self.least) >= self.least

    def split(self, room: int) -> tuple[_Block, _Block] | None:
        """The largest head that fits in `room` rows, and the rest."""
        budget = room - self.more - len(self.flow.cue_rows())
        for cut, text_rows in reversed(list(self.cuts(budget))):
            if text_rows < self.least:
                return None
            tail = self.flow.tail(cut)
            if tail is None or not self.tail_ok(tail):
                continue
            head = self.flow.head(cut)
            head_rows = [*head.rows(), *([_more_row()] if self.more else [])]
            return _Block(_Rows(head_rows), head), _Block(_Rows(tail.rows()), tail, space_before=0)
        return None

    def smallest(self, limit: int) -> int | None:
        """Rows of the smallest head this flow may leave at the foot of a page; None when it
        may leave none, or when the smallest takes more than `limit` rows."""
        above = self.more + len(self.flow.cue_rows())
        for cut, text_rows in self.cuts(limit - above):
            if text_rows >= self.least:
                return text_rows + above if self.tail_ok(self.flow.tail(cut)) else None
        return None


def _split(block: _Block, room: int, force: bool) -> tuple[_Block, _Block] | None:
    if block.flow is None:
        return None
    parts = _Cutter(block.flow, force).split(room)
    if parts is not None:
        parts[0].space_before = block.space_before
    return parts


def _cut(block: _Block, room: int) -> tuple[_Block, _Block]:
    """The last resort for rows no rule can split (a dual pair or a cue taller than a page)."""
    return _Block(_Rows(block.rows.take(room))), _Block(block.rows, space_before=0)


def _least_rows(block: _Block, limit: int) -> int:
    """The fewest rows of `block` that can stand at the foot of a page, when at most `limit`;
    otherwise some number above `limit`."""
    rows = block.rows.count(limit + 1)
    if block.flow is None:
        return rows
    smallest = _Cutter(block.flow, force=False).smallest(limit)
    return rows if smallest is None else min(smallest, rows)


# --- pagination --------------------------------------------------------------------------------


@dataclass(slots=True)
class _PageFill:
    capacity: int
    pages: list[list[Line]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    used: int = 0

    def place(self, block: _Block) -> None:
        if self.used:
            self.used += block.space_before
        for row in block.rows.all():
            self.lines.extend(replace(line, row=self.used) for line in row)
            self.used += 1

    def room(self, block: _Block) -> int:
        return self.capacity - self.used - (block.space_before if self.used else 0)

    def turn(self) -> None:
        self.pages.append(self.lines)
        self.lines, self.used = [], 0


def _needs(block: _Block, follower: _Block | None, limit: int) -> int:
    """Rows `block` needs at the foot of a page, counting what must stay with it: exact when
    at most `limit`, otherwise some number above it."""
    own = block.rows.count(limit + 1)
    if not block.keep_with_next or follower is None or follower.page_break:
        return own
    gap = own + follower.space_before
    return gap + _least_rows(follower, limit - gap)


def _body_pages(blocks: list[_Block], capacity: int) -> list[list[Line]]:
    fill = _PageFill(capacity)
    queue = deque(blocks)
    while queue:
        block = queue.popleft()
        if block.page_break:
            if fill.used:
                fill.turn()
            continue
        room = fill.room(block)
        fits = block.rows.count(room + 1) <= room
        if _needs(block, queue[0] if queue else None, room) <= room or (fill.used == 0 and fits):
            fill.place(block)
            continue
        parts = _split(block, room, force=False) if not fits else None
        if parts is None and fill.used == 0:
            # Taller than a whole page and nowhere polite to cut: cut where the page ends.
            parts = _split(block, room, force=True) or _cut(block, room)
        if parts is not None:
            fill.place(parts[0])
            fill.turn()
            queue.appendleft(parts[1])
            continue
        fill.turn()
        queue.appendleft(block)
    if fill.lines:
        fill.turn()
    return fill.pages


def _page_number(number: int) -> Line:
    label = f"{number}."
    return Line(PAGE_NUMBER_ROW, RIGHT_EDGE - len(label) * CHAR_WIDTH, (Run(label),), "page-number")


# --- title page --------------------------------------------------------------------------------

# The centred entries in the order they print, each with the blank lines above it.
_CENTRED: tuple[tuple[tuple[str, ...], LineKind, int], ...] = (
    (("title",), "title", 0),
    (("credit",), "credit", 2),
    (("author", "authors"), "author", 1),
    (("source",), "source", 2),
)
# Bottom-left entries whose value speaks for itself, in the order they stack down to the foot of
# the page (contact details last); any other key prints above them as "Key: value".
CORNER_ORDER = ("notes", "copyright", "draft date", "contact")


def corner_entries(title_page: TitlePage) -> list[tuple[str, Text]]:
    """The title page's bottom-left entries in print order, as (key in lower case, value), each
    value labelled with its key unless the key is one of `CORNER_ORDER`."""
    centred = {key for keys, _, _ in _CENTRED for key in keys}
    entries: list[tuple[int, str, Text]] = []
    for entry in title_page.entries:
        key = " ".join(entry.key.split()).lower()
        if key in centred:
            continue
        if key in CORNER_ORDER:
            entries.append((CORNER_ORDER.index(key) + 1, key, entry.value))
        else:
            entries.append((0, key, Text.of(f"{entry.key.strip()}: ") + entry.value))
    return [(key, value) for _, key, value in sorted(entries, key=lambda e: e[0])]


def _title_page_lines(title_page: TitlePage, paper: Paper) -> tuple[Line, ...]:
    centred: list[list[Line]] = []
    for keys, kind, gap in _CENTRED:
        value = next((title_page.get(key) for key in keys if title_page.get(key)), None)
        if value is None:
            continue
        if centred:
            centred.extend([] for _ in range(gap))
        for wrapped in _wrap(value, ACTION_WIDTH):
            x = ACTION_X + (ACTION_WIDTH - wrapped.columns) * CHAR_WIDTH / 2
            centred.append([_line(x, wrapped, kind)] if wrapped.runs else [])
    corner: list[list[Line]] = []
    for _, value in corner_entries(title_page):
        if corner:
            corner.append([])
        for wrapped in _wrap(value, TITLE_PAGE_LEFT_WIDTH):
            corner.append([_line(ACTION_X, wrapped, "title-entry")] if wrapped.runs else [])
    third = round((paper.height / 3 - TOP_MARGIN) / LINE_HEIGHT)
    top = max(0, min(third, paper.lines - len(centred) - len(corner) - 2))
    corner_top = max(paper.lines - len(corner), top + len(centred) + 2)
    lines: list[Line] = []
    for offset, row in enumerate(centred):
        lines.extend(replace(line, row=top + offset) for line in row)
    for offset, row in enumerate(corner):
        lines.extend(replace(line, row=corner_top + offset) for line in row)
    return tuple(lines)


# --- the Chinese layout ------------------------------------------------------------------------

#: The Chinese convention's page (`paginate_zh`): one column of text an inch from either edge,
#: on the same grid of 10 columns per inch (a Chinese character takes two).
ZH_LEFT = 1.0 * INCH
_ZH_BLANK_BEFORE = frozenset({"episode", "heading"})
_ZH_STYLE = {"title": Style.BOLD, "episode": Style.BOLD, "heading": Style.BOLD}


def paginate_zh(doc: Document, paper: str = "a4") -> list[Page]:
    """Lay `doc` out in the Chinese convention (`screenplay.zh.zh_lines`): the title block at
    the top of the first page, episode and scene headings in bold after a blank line, `角色：对白`
    and everything else left-aligned, wrapped with the same kinsoku rules as the industry page.
    A heading is never the last line of a page; pages are numbered from the second."""
    size = _paper(paper)
    width = int((size.width - 2 * ZH_LEFT) // CHAR_WIDTH)
    blocks: list[list[Line | None]] = []  # None: a blank row
    for zh_line in zh_lines(doc):
        if zh_line.kind not in PRINTED_KINDS:
            continue
        if zh_line.kind == "page-break":
            blocks.append([])
            continue
        text = zh_line.text.strip()
        if zh_line.kind == "centered":
            text = text.removeprefix(">").removesuffix("<").strip()
        elif zh_line.kind == "lyrics":
            text = text.removeprefix("~")
        style = _ZH_STYLE.get(zh_line.kind, Style.NONE)
        if zh_line.kind == "lyrics":
            style = Style.ITALIC
        cells = _source_lines(Text.of(text), style)[0] if text else ()
        rows: list[Line | None] = [None] if zh_line.kind in _ZH_BLANK_BEFORE and blocks else []
        centred = zh_line.kind in ("title", "centered", "episode")
        for wrapped, _ in _wrap_line(cells, 0, len(cells), width):
            x = ZH_LEFT
            if centred:
                x += (width - wrapped.columns) * CHAR_WIDTH / 2
            kind: LineKind = "scene-heading" if zh_line.kind == "heading" else "action"
            rows.append(_line(x, wrapped, "title" if zh_line.kind == "title" else kind))
        if zh_line.kind == "title":
            rows.append(None)
        blocks.append(rows)
    return _zh_pages(blocks, size)


def _zh_pages(blocks: list[list[Line | None]], size: Paper) -> list[Page]:
    pages: list[list[Line]] = [[]]
    row = 0
    for i, block in enumerate(blocks):
        if not block:  # a forced page break
            if pages[-1]:
                pages.append([])
                row = 0
            continue
        rows = block
        if row == 0:
            while rows and rows[0] is None:
                rows = rows[1:]
        # A heading keeps the first line after it on its page.
        keep = len(rows) + (1 if rows and rows[-1] is not None and _is_heading(rows[-1]) else 0)
        if i + 1 == len(blocks):
            keep = len(rows)
        if row and row + min(keep, size.lines) > size.lines:
            pages.append([])
            row = 0
            while rows and rows[0] is None:
                rows = rows[1:]
        for line in rows:
            if row == size.lines:
                pages.append([])
                row = 0
            if line is not None:
                pages[-1].append(replace(line, row=row))
            row += 1
    out: list[Page] = []
    for number, lines in enumerate(pages, start=1):
        if number > 1:
            label = f"{number}."
            x = size.width - ZH_LEFT - len(label) * CHAR_WIDTH
            lines.append(Line(PAGE_NUMBER_ROW, x, (Run(label),), "page-number"))
        out.append(Page(size, number, tuple(lines)))
    return out


def _is_heading(line: Line) -> bool:
    return line.kind == "scene-heading"
