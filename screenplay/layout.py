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
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
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
    for number, lines in enumerate(_body_pages(_blocks(doc.elements), size.lines), start=1):
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
    """A piece the wrapper never cuts (a word, a CJK character with its punctuation) or a gap."""

    cells: list[_Cell]
    width: int
    space: bool


@dataclass(frozen=True, slots=True)
class _Wrapped:
    """One wrapped line: its runs and its indent in columns (a hanging indent)."""

    runs: tuple[Run, ...]
    indent: int

    @property
    def columns(self) -> int:
        return sum(display_width(run.text) for run in self.runs)


def _atoms(cells: Sequence[_Cell]) -> list[_Atom]:
    atoms: list[_Atom] = []
    start = 0
    while start < len(cells) and cells[start][0] == " ":
        start += 1
    # Leading spaces are the writer's indentation: they travel with the first word.
    indent = list(cells[:start])
    for cell in cells[start:]:
        ch = cell[0]
        prev = atoms[-1] if atoms else None
        if ch == " ":
            if prev is not None and prev.space:
                prev.cells.append(cell)
                prev.width += 1
            else:
                atoms.append(_Atom([cell], 1, True))
            continue
        width = char_width(ch)
        if prev is not None and not prev.space and _unbreakable(prev.cells[-1][0], ch):
            prev.cells.append(cell)
            prev.width += width
            continue
        atoms.append(_Atom([*indent, cell], _cells_width(indent) + width, False))
        indent = []
    if indent:
        atoms.append(_Atom(indent, len(indent), False))
    return atoms


def _cells_width(cells: Sequence[_Cell]) -> int:
    return sum(char_width(ch) for ch, _ in cells)


def _wrap_cells(cells: Sequence[_Cell], first: int, rest: int) -> list[list[_Cell]]:
    """Greedy wrap: the first line holds `first` columns, the lines after it `rest`."""
    lines: list[list[_Cell]] = []
    current: list[_Cell] = []
    current_width = 0
    gap: list[_Cell] = []
    for atom in _atoms(cells):
        width = rest if lines else first
        if atom.space:
            gap = atom.cells if current else []
            continue
        if current and current_width + len(gap) + atom.width <= width:
            current += gap + atom.cells
            current_width += len(gap) + atom.width
            gap = []
            continue
        if current:
            lines.append(current)
            width = rest
        gap = []
        remaining = atom.cells
        # A word wider than the column is cut where the column ends.
        while _cells_width(remaining) > width:
            taken, used = 0, 0
            while taken < len(remaining) and used + char_width(remaining[taken][0]) <= width:
                used += char_width(remaining[taken][0])
                taken += 1
            taken = max(taken, 1)
            lines.append(remaining[:taken])
            remaining = remaining[taken:]
            width = rest
        current = list(remaining)
        current_width = _cells_width(current)
    if current or not lines:
        lines.append(current)
    return lines


def _runs(cells: Sequence[_Cell]) -> tuple[Run, ...]:
    runs: list[Run] = []
    for ch, style in cells:
        if runs and runs[-1].style == style:
            runs[-1] = Run(runs[-1].text + ch, style)
        else:
            runs.append(Run(ch, style))
    return tuple(runs)


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


def _wrap_line(cells: Sequence[_Cell], width: int, hang: int = 0) -> list[_Wrapped]:
    """Wrap one source line; the lines after its first are indented by `hang` columns."""
    out: list[_Wrapped] = []
    for i, line in enumerate(_wrap_cells(cells, width, width - hang)):
        while line and line[-1][0] == " ":
            line = line[:-1]
        out.append(_Wrapped(_runs(line), hang if i else 0))
    return out


def _wrap(text: Text, width: int) -> list[_Wrapped]:
    return [wrapped for source in _source_lines(text) for wrapped in _wrap_line(source, width)]


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


def _line(x: float, wrapped: _Wrapped, kind: LineKind) -> Line:
    return Line(0, x + wrapped.indent * CHAR_WIDTH, wrapped.runs, kind)


def _para_rows(para: _Para, column: _Column) -> list[_Row]:
    if para.kind == "action":
        x, width, hang = ACTION_X, ACTION_WIDTH, 0
    elif para.kind == "parenthetical":
        # Wrapped lines of a wryly hang one column in, under its first word.
        x, width, hang = column.paren_x, column.paren_width, 1
    else:
        x, width, hang = column.dialogue_x, column.dialogue_width, 0
    return [
        (_line(x, wrapped, para.kind),) if wrapped.runs else ()
        for source in para.lines
        for wrapped in _wrap_line(source, width, hang)
    ]


@dataclass(frozen=True, slots=True)
class _Flow:
    """Text a page break may cut: an action paragraph, or a speech whose cue prints above this
    part of it (`NAME`, and `NAME (CONT'D)` above the part on the next page)."""

    paras: tuple[_Para, ...]
    cue: Character | None = None
    cue_text: str | None = None
    column: _Column = _SINGLE

    def cue_rows(self) -> list[_Row]:
        if self.cue_text is None:
            return []
        cue = self.column.cue_x
        return [
            (_line(cue, wrapped, "character"),)
            for wrapped in _wrap(Text.of(self.cue_text), self.column.cue_width)
        ]

    def rows(self) -> list[_Row]:
        body = [row for para in self.paras for row in _para_rows(para, self.column)]
        return self.cue_rows() + body


@dataclass(slots=True)
class _Block:
    """Rows the paginator places together, with the blank lines wanted above them; `flow` is
    set when a page break may cut the block (action and speeches)."""

    rows: list[_Row]
    flow: _Flow | None = None
    keep_with_next: bool = False
    page_break: bool = False
    space_before: int = 1


def _flow_block(flow: _Flow) -> _Block:
    return _Block(flow.rows(), flow)


def _placed(text: Text, kind: LineKind, place: Literal["left", "right", "center"]) -> _Block:
    """A paragraph that is never cut: heading, transition, centred text."""
    rows: list[_Row] = []
    for wrapped in _wrap(text, ACTION_WIDTH):
        if place == "right":
            x = RIGHT_EDGE - wrapped.columns * CHAR_WIDTH
        elif place == "center":
            x = ACTION_X + (ACTION_WIDTH - wrapped.columns) * CHAR_WIDTH / 2
        else:
            x = ACTION_X
        rows.append((_line(x, wrapped, kind),) if wrapped.runs else ())
    return _Block(rows)


def _scene_heading(heading: SceneHeading) -> _Block:
    block = _placed(Text.of(heading.text), "scene-heading", "left")
    block.keep_with_next = True
    if heading.number and block.rows:
        number = (Run(heading.number),)
        left = SCENE_NUMBER_LEFT_END - display_width(heading.number) * CHAR_WIDTH
        block.rows[0] = (
            Line(0, left, number, "scene-number"),
            *block.rows[0],
            Line(0, SCENE_NUMBER_RIGHT_X, number, "scene-number"),
        )
    return block


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
    left_rows = _speech(*left, column=_DUAL_LEFT).rows()
    right_rows = _speech(*right, column=_DUAL_RIGHT).rows()
    height = max(len(left_rows), len(right_rows))
    left_rows += [()] * (height - len(left_rows))
    right_rows += [()] * (height - len(right_rows))
    # Side-by-side speeches stay on one page; only a pair taller than a page is ever cut.
    return _Block([a + b for a, b in zip(left_rows, right_rows, strict=True)])


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


def _blocks(elements: Sequence[Element]) -> list[_Block]:
    blocks: list[_Block] = []
    pending: tuple[Character, list[_Speech]] | None = None  # the last speech, for a dual partner
    i = 0
    while i < len(elements):
        element = elements[i]
        if isinstance(element, Character | Parenthetical | Dialogue | Lyrics):
            cue = element if isinstance(element, Character) else None
            body, i = _speech_run(elements, i + 1 if cue else i)
            if cue is not None and cue.dual and pending is not None:
                blocks[-1] = _dual(pending, (cue, body))
                pending = None
            else:
                blocks.append(_flow_block(_speech(cue, body)))
                pending = (cue, body) if cue is not None else None
            continue
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
            blocks.append(_Block([], page_break=True))
        else:
            # Notes, sections, synopses and boneyard are never printed, and do not part a
            # dual-dialogue pair.
            continue
        pending = None
    return [block for block in blocks if block.rows or block.page_break]


# --- cutting a block at a page break -----------------------------------------------------------

#: Where a flow may be cut: paragraph, source line, and how many of its characters stay above.
_Cut = tuple[int, int, int]


def _may_cut(line: Sequence[_Cell], end: int, force: bool) -> bool:
    """Whether a page may end after `line[:end]`: at a sentence's end, or (forced) any word's."""
    if end == len(line):
        return True
    last, after = line[end - 1][0], line[end][0]
    if last == " " or after in _NO_LINE_START:
        return False
    between_words = after == " " or not _unbreakable(last, after)
    if force:
        return between_words
    k = end - 1
    while k > 0 and line[k][0] in _CLOSERS:
        k -= 1
    return line[k][0] in _SENTENCE_END and between_words


def _cuts(paras: Sequence[_Para], force: bool) -> list[_Cut]:
    cuts: list[_Cut] = []
    for i, para in enumerate(paras):
        # A wryly belongs to the line it qualifies: a page never ends inside or after one.
        if para.kind == "parenthetical":
            continue
        for j, line in enumerate(para.lines):
            cuts.extend(
                (i, j, end) for end in range(1, len(line) + 1) if _may_cut(line, end, force)
            )
    return cuts


def _strip(cells: Sequence[_Cell]) -> tuple[_Cell, ...]:
    start, end = 0, len(cells)
    while start < end and cells[start][0] == " ":
        start += 1
    while end > start and cells[end - 1][0] == " ":
        end -= 1
    return tuple(cells[start:end])


def _head(flow: _Flow, cut: _Cut) -> _Flow:
    i, j, end = cut
    para = flow.paras[i]
    kept = _Para(para.kind, (*para.lines[:j], _strip(para.lines[j][:end])))
    return replace(flow, paras=(*flow.paras[:i], kept))


def _tail(flow: _Flow, cut: _Cut) -> _Flow | None:
    i, j, end = cut
    para = flow.paras[i]
    rest = _strip(para.lines[j][end:])
    lines = ((rest,) if rest else ()) + para.lines[j + 1 :]
    while lines and not lines[0]:
        lines = lines[1:]
    paras = ((_Para(para.kind, lines),) if lines else ()) + flow.paras[i + 1 :]
    if not paras:
        return None
    cue_text = _contd_cue(flow.cue) if flow.cue else None
    return replace(flow, paras=paras, cue_text=cue_text)


def _contd_cue(cue: Character) -> str:
    if cue.extension and cue.extension.strip().upper() in ("CONT'D", "CONT’D", "CONTD", "CONT."):
        return cue.cue
    return f"{cue.cue} (CONT'D)"


def _more_row() -> _Row:
    return (Line(0, CUE_X, (Run("(MORE)"),), "more"),)


@dataclass(slots=True)
class _Cutter:
    """The cuts of one flow and the height of the head each leaves, computed as asked."""

    flow: _Flow
    force: bool
    cuts: list[_Cut] = field(init=False)
    heights: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cuts = _cuts(self.flow.paras, self.force)

    @property
    def least(self) -> int:
        """Lines of text that must stand on each side of the cut (industry: two)."""
        return 1 if self.force else 2

    @property
    def more(self) -> int:
        return 1 if self.flow.cue is not None else 0

    def height(self, k: int) -> int:
        """Rows of the head left by cut `k`, (MORE) included; grows with k."""
        if k not in self.heights:
            self.heights[k] = len(_head(self.flow, self.cuts[k]).rows()) + self.more
        return self.heights[k]

    def text_rows(self, k: int) -> int:
        return self.height(k) - self.more - len(self.flow.cue_rows())

    def tail_ok(self, tail: _Flow | None) -> bool:
        if tail is None:
            return False
        # A speech's continuation is never short: its (CONT'D) cue carries it.
        return tail.cue is not None or len(tail.rows()) >= self.least

    def split(self, room: int) -> tuple[_Block, _Block] | None:
        """The largest head that fits in `room` rows, and the rest."""
        fitting = bisect_right(range(len(self.cuts)), room, key=self.height)
        for k in range(fitting - 1, -1, -1):
            if self.text_rows(k) < self.least:
                return None
            tail = _tail(self.flow, self.cuts[k])
            if tail is None or not self.tail_ok(tail):
                continue
            head = _head(self.flow, self.cuts[k])
            head_rows = head.rows() + ([_more_row()] if self.more else [])
            return _Block(head_rows, head), _Block(tail.rows(), tail, space_before=0)
        return None

    def smallest(self) -> int | None:
        """Rows of the smallest head this flow may leave at the foot of a page."""
        k = bisect_left(range(len(self.cuts)), self.least, key=self.text_rows)
        if k == len(self.cuts) or not self.tail_ok(_tail(self.flow, self.cuts[k])):
            return None
        return self.height(k)


def _split(block: _Block, room: int, force: bool) -> tuple[_Block, _Block] | None:
    if block.flow is None:
        return None
    parts = _Cutter(block.flow, force).split(room)
    if parts is not None:
        parts[0].space_before = block.space_before
    return parts


def _cut(block: _Block, room: int) -> tuple[_Block, _Block]:
    """The last resort for rows no rule can split (a dual pair or a cue taller than a page)."""
    return _Block(block.rows[:room]), _Block(block.rows[room:], space_before=0)


def _least_rows(block: _Block) -> int:
    """The fewest rows of `block` that can stand at the foot of a page."""
    if block.flow is None:
        return len(block.rows)
    smallest = _Cutter(block.flow, force=False).smallest()
    return len(block.rows) if smallest is None else min(smallest, len(block.rows))


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
        for row in block.rows:
            self.lines.extend(replace(line, row=self.used) for line in row)
            self.used += 1

    def room(self, block: _Block) -> int:
        return self.capacity - self.used - (block.space_before if self.used else 0)

    def turn(self) -> None:
        self.pages.append(self.lines)
        self.lines, self.used = [], 0


def _needs(block: _Block, follower: _Block | None) -> int:
    """Rows `block` needs at the foot of a page, counting what must stay with it."""
    if not block.keep_with_next or follower is None or follower.page_break:
        return len(block.rows)
    return len(block.rows) + follower.space_before + _least_rows(follower)


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
        if _needs(block, queue[0] if queue else None) <= room or (
            fill.used == 0 and len(block.rows) <= room
        ):
            fill.place(block)
            continue
        parts = _split(block, room, force=False) if len(block.rows) > room else None
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
