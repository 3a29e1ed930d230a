"""Fountain 1.1 (https://fountain.io/syntax): read Fountain text, write canonical Fountain.

The reader knows every element of the spec: the title page, scene headings (with `#12A#` scene
numbers), action, character cues with extensions and the `^` of dual dialogue, parentheticals,
dialogue and lyrics (kept together across a blank line by a line of two spaces), transitions,
centered text, page breaks, sections, synopses, notes and boneyard, with the forcing marks
`! . @ > ~`, inline emphasis (`*italic*`, `**bold**`, `***both***`, `_underline_`) and backslash
escapes. It never raises on text, however malformed: an emphasis mark that does not close stays a
literal character, an unclosed `[[` or `/*` stays text.

The writer produces canonical Fountain: each element is written plainly and forced only where our
own reader would otherwise take it for something else (it asks the reader), and every character
that Fountain gives meaning to is escaped with `\\`. So `parse_fountain(to_fountain(doc)) == doc`
for every canonical document, and a hand-written file read, written and read again is unchanged.

What Fountain cannot carry, the writer approximates and logs: emphasis that changes between two
spaces (or between a space and the end of a line; the whitespace is written unemphasised), notes
with emphasis, a `*/` inside a boneyard, trailing spaces, leading spaces in dialogue, and dialogue
or parentheticals with no cue before them (written as action). Inline notes and emphasis inside
plain-string fields (a heading, a cue) are dropped on reading: the model keeps those as `str`.

Deliberately not here: page layout (`screenplay.layout`), judging the script (`screenplay.lint`),
and guessing what a language model meant by almost-Fountain (`screenplay.repair`).

Reader and writer share one module because the writer asks the reader: each paragraph is written
in the plainest form that the reader takes back unchanged, so the two change together.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
from collections import deque
from collections.abc import Iterator
from typing import Literal, NamedTuple

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
    describe,
)

_log = logging.getLogger(__name__)

# NUL never occurs in text (such input is refused as binary), so it can stand in for a cut-out
# boneyard while the paragraphs around it are read.
_BONEYARD_MARK = "\x00"
_TWO_SPACES = "  "

_PAGE_BREAK = re.compile(r"={3,}")
_HEADING = re.compile(r"(?:INT\.?/EXT|I/E|INT|EXT|EST)[. ]", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"[\w.\-]+")
_TITLE_KEY = re.compile(r"([^\W\d_][\w '\-]*):(.*)")

_MARKS = {
    "*": Style.ITALIC,
    "**": Style.BOLD,
    "***": Style.BOLD | Style.ITALIC,
    "_": Style.UNDERLINE,
}
_FLAGS = (Style.BOLD, Style.ITALIC, Style.UNDERLINE)


# --- escapes ----------------------------------------------------------------------------------


def _escapable(char: str) -> bool:
    """`\\` escapes any character that is neither a letter, a digit nor whitespace, so `C:\\Users`
    keeps its backslash while `\\*` is a literal star."""
    return not char.isalnum() and not char.isspace()


def _chars(source: str, start: int = 0) -> Iterator[tuple[int, str, bool]]:
    """(index, character, escaped) with escapes resolved, from `start` on."""
    i = start
    while i < len(source):
        if source[i] == "\\" and i + 1 < len(source) and _escapable(source[i + 1]):
            yield i, source[i + 1], True
            i += 2
        else:
            yield i, source[i], False
            i += 1


def _ends_unescaped(source: str, char: str) -> bool:
    last = deque(_chars(source), maxlen=1)
    return bool(last) and last[0][1] == char and not last[0][2]


def _first_unescaped(source: str, char: str) -> int:
    return next((i for i, c, escaped in _chars(source) if c == char and not escaped), -1)


# --- inline text: emphasis, notes -------------------------------------------------------------


class _Token(NamedTuple):
    """A literal character, a run of emphasis marks (`**`, `_`) or an inline note."""

    kind: Literal["char", "mark", "note"]
    text: str


def _tokens(source: str) -> list[_Token]:
    chars = [(c, escaped) for _, c, escaped in _chars(source)]
    tokens: list[_Token] = []
    unclosed_from = len(chars)  # no `]]` follows this index, so no later `[[` can close either
    k = 0
    while k < len(chars):
        char, escaped = chars[k]
        if not escaped and char == "[" and chars[k + 1 : k + 2] == [("[", False)]:
            end = _note_end(chars, k + 2) if k + 2 < unclosed_from else -1
            if end >= 0:
                tokens.append(_Token("note", "".join(c for c, _ in chars[k + 2 : end])))
                k = end + 2
                continue
            unclosed_from = min(unclosed_from, k + 2)
        if not escaped and char in "*_":
            run = k
            while run < len(chars) and chars[run] == (char, False):
                run += 1
            tokens.append(_Token("mark", char * (run - k)))
            k = run
            continue
        tokens.append(_Token("char", char))
        k += 1
    return tokens


def _note_end(chars: list[tuple[str, bool]], start: int) -> int:
    for k in range(start, len(chars) - 1):
        if chars[k] == ("]", False) and chars[k + 1] == ("]", False):
            return k
    return -1


def _token_lines(tokens: list[_Token]) -> list[list[_Token]]:
    """Split at line breaks; a note that spans lines becomes one note per line, because
    emphasis (and the document model) never crosses a line. Empty notes are dropped, and with
    them the spaces they leave at the end of a line: Fountain keeps no trailing spaces."""
    lines: list[list[_Token]] = [[]]
    for token in tokens:
        if token.kind == "char" and token.text == "\n":
            lines.append([])
        elif token.kind == "note":
            for i, part in enumerate(token.text.split("\n")):
                if i:
                    lines.append([])
                if part:
                    lines[-1].append(_Token("note", part))
        else:
            lines[-1].append(token)
    for line in lines:
        while line and line[-1].kind == "char" and line[-1].text.isspace():
            line.pop()
    return lines


def _flanks(line: list[_Token]) -> list[tuple[bool, bool]]:
    """For each token: is the nearest character before it, and after it, a non-space?
    Marks and notes are looked through, so a cluster of marks is judged as one."""
    before: list[bool] = []
    seen = False
    for token in line:
        before.append(seen)
        if token.kind == "char":
            seen = not token.text.isspace()
    after: list[bool] = []
    seen = False
    for token in reversed(line):
        after.append(seen)
        if token.kind == "char":
            seen = not token.text.isspace()
    return list(zip(before, reversed(after), strict=True))


def _mark_effects(line: list[_Token]) -> dict[int, Style]:
    """Which styles each mark run toggles. A mark opens only before a non-space and closes only
    after one (`2 * 3` is arithmetic); the last toggle of a style left open at the end of the
    line is not a mark at all (`He dialed *69.`)."""
    flanks = _flanks(line)
    effects: dict[int, Style] = {}
    toggles: dict[Style, list[int]] = {flag: [] for flag in _FLAGS}
    state = Style.NONE
    for i, token in enumerate(line):
        if token.kind != "mark":
            continue
        style = _MARKS.get(token.text, Style.NONE)
        opens, closes = style & ~state, style & state
        if (opens and not flanks[i][1]) or (closes and not flanks[i][0]):
            style = Style.NONE
        effects[i] = style
        state ^= style
        for flag in _FLAGS:
            if style & flag:
                toggles[flag].append(i)
    for flag, where in toggles.items():
        if len(where) % 2:
            effects[where[-1]] &= ~flag
    return effects


def _mark_length(mark: str, style: Style) -> int:
    if mark.startswith("_"):
        return 1 if style else 0
    return (1 if style & Style.ITALIC else 0) + (2 if style & Style.BOLD else 0)


def _resolve_line(line: list[_Token]) -> list[Span]:
    effects = _mark_effects(line)
    spans: list[Span] = []
    run: list[str] = []
    state = Style.NONE

    def flush() -> None:
        if run:
            spans.append(Span("".join(run), state))
            run.clear()

    for i, token in enumerate(line):
        if token.kind == "note":
            flush()
            spans.append(Span(token.text, note=True))
        elif token.kind == "char":
            run.append(token.text)
        else:
            run.append(token.text[: len(token.text) - _mark_length(token.text, effects[i])])
            if effects[i]:
                flush()
                state ^= effects[i]
    flush()
    return spans


def parse_inline(source: str) -> Text:
    """Rich text from Fountain inline markup: emphasis, `[[notes]]` and `\\` escapes, on one or
    more lines. Line-level syntax (`!`, `@`, `~`...) and boneyard are not looked at here."""
    spans: list[Span] = []
    for i, line in enumerate(_token_lines(_tokens(source))):
        if i:
            spans.append(Span("\n"))
        spans.extend(_resolve_line(line))
    return Text.from_spans(spans)


def _plain(source: str) -> str:
    """A plain-string field (heading, cue, transition...): markup read, emphasis and notes
    dropped."""
    return parse_inline(source).plain.strip()


def _settle_whitespace(items: list[Span]) -> list[Span]:
    """Give each run of spaces between two visible characters one style that both neighbours
    share: Fountain can only change emphasis next to a visible character."""
    where = [k for k, item in enumerate(items) if not item.note]
    k = 0
    while k < len(where):
        if not items[where[k]].text.isspace():
            k += 1
            continue
        end = k
        while end < len(where) and items[where[end]].text.isspace():
            end += 1
        left = items[where[k - 1]].style if k else Style.NONE
        right = items[where[end]].style if end < len(where) else Style.NONE
        styles = {items[where[j]].style for j in range(k, end)}
        first = next(iter(styles))
        if len(styles) > 1 or first & left & right != first:
            settled = functools.reduce(operator.and_, styles) & left & right
            for j in range(k, end):
                items[where[j]] = Span(items[where[j]].text, settled)
        k = end
    return items


def _cluster(old: Style, new: Style) -> str:
    """The marks that turn emphasis `old` into `new`. Marks toggle, so `*a***b**` is an
    italic a and a bold b."""
    change = old ^ new
    stars = "*" * ((1 if change & Style.ITALIC else 0) + (2 if change & Style.BOLD else 0))
    under = "_" if change & Style.UNDERLINE else ""
    # Outer marks open first and close last: `_**both**_`, `*a*_b_`.
    return under + stars if change & new & (Style.BOLD | Style.ITALIC) else stars + under


def _escape_char(char: str, style: Style, following: Span | None) -> str:
    # `glued`: the next character follows directly, with no mark or note in between.
    glued = following is not None and not following.note and following.style == style
    if char in "*_":
        return "\\" + char
    if char == "\\" and not (glued and following is not None and not _escapable(following.text)):
        return "\\\\"
    if char == "[" and not (glued and following is not None and following.text != "["):
        return "\\["
    if char == "/" and not glued:  # a `*` mark after it would open a boneyard
        return "\\/"
    return char


def _escape_note(text: str) -> str:
    out: list[str] = []
    for k, char in enumerate(text):
        following = text[k + 1] if k + 1 < len(text) else None
        if (
            char == "]"
            or (char == "\\" and (following is None or _escapable(following)))
            or (char == "/" and following == "*")
        ):
            out.append("\\")
        out.append(char)
    return "".join(out)


def _explode(span: Span) -> list[Span]:
    """A span as one span per character; a note stays whole."""
    return [span] if span.note else [Span(char, span.style) for char in span.text]


def _format_line(line: Text) -> str:
    items = _settle_whitespace([piece for span in line.spans for piece in _explode(span)])
    out: list[str] = []
    state = Style.NONE
    for k, item in enumerate(items):
        if item.note:
            out.append("[[" + _escape_note(item.text) + "]]")
            continue
        if item.style != state:
            out.append(_cluster(state, item.style))
            state = item.style
        out.append(
            _escape_char(item.text, item.style, items[k + 1] if k + 1 < len(items) else None)
        )
    out.append(_cluster(state, Style.NONE))
    return "".join(out)


def format_inline(text: Text) -> str:
    """Fountain inline markup for rich text, the inverse of `parse_inline`: emphasis marks,
    `[[notes]]`, and `\\` before every character that would otherwise mean something."""
    return "\n".join(_format_line(line) for line in text.lines())


def _format_plain(text: str) -> str:
    return format_inline(Text.of(text))


# --- reading ----------------------------------------------------------------------------------


def parse_fountain(text: str) -> Document:
    """Read a Fountain script. Raises `FormatError` only for input that is not text at all."""
    if not isinstance(text, str):
        raise FormatError(
            "This file is not text, so it cannot be read as Fountain.", kind="not_text"
        )
    if _BONEYARD_MARK in text:
        raise FormatError("This file holds binary data, not Fountain text.", kind="binary")
    return _read(text, title_allowed=True)


def _read(text: str, title_allowed: bool) -> Document:
    text = text.replace(_BONEYARD_MARK, "").removeprefix("\ufeff")
    text, boneyards = _cut_boneyards(text.replace("\r\n", "\n").replace("\r", "\n"))
    queue = deque(boneyards)
    title = TitlePage()
    elements: list[Element] = []
    lines = text.replace("\t", "    ").split("\n")
    for index, paragraph in enumerate(_paragraphs(lines)):
        before, kept, after = _take_boneyards(paragraph, queue)
        elements += before
        page = _read_title_page(kept) if index == 0 and title_allowed and kept else None
        if page is not None:
            title = page
        else:
            elements += _read_paragraph(kept)
        elements += after
    return Document(title, tuple(elements))


def _cut_boneyards(text: str) -> tuple[str, list[str]]:
    """Replace each `/* ... */` (which may span blank lines) by a mark; return their contents."""
    pieces: list[str] = []
    cut: list[str] = []
    start = 0
    while (opening := _find_boneyard(text, start)) >= 0:
        closing = text.find("*/", opening + 2)
        if closing < 0:
            break
        pieces.append(text[start:opening] + _BONEYARD_MARK)
        cut.append(text[opening + 2 : closing])
        start = closing + 2
    pieces.append(text[start:])
    return "".join(pieces), cut


def _find_boneyard(text: str, start: int) -> int:
    slash = False
    for i, char, escaped in _chars(text, start):
        if slash and char == "*" and not escaped:
            return i - 1
        slash = char == "/" and not escaped
    return -1


def _paragraphs(lines: list[str]) -> Iterator[list[str]]:
    """Blocks of lines between blank lines; a line of exactly two spaces is an empty line
    inside a block, and a `===` line is a block of its own."""
    block: list[str] = []
    for line in lines:
        if line == _TWO_SPACES:
            block.append("")
        elif not line.strip() or _PAGE_BREAK.fullmatch(line.strip()):
            if block:
                yield block
            block = []
            if line.strip():
                yield ["==="]
        else:
            block.append(line)
    if block:
        yield block


def _take_boneyards(
    paragraph: list[str], queue: deque[str]
) -> tuple[list[Element], list[str], list[Element]]:
    """Boneyards cut out of a paragraph: those on lines of their own before its text come
    before it, the rest after it. Returns (before, the paragraph's lines, after)."""
    before: list[Element] = []
    after: list[Element] = []
    kept: list[str] = []
    for line in paragraph:
        cut = [Boneyard(queue.popleft()) for _ in range(line.count(_BONEYARD_MARK)) if queue]
        line = line.replace(_BONEYARD_MARK, "").rstrip()
        if cut and not line:
            (after if kept else before).extend(cut)
            continue
        kept.append(line)
        after.extend(cut)
    return before, kept, after


def _read_title_page(lines: list[str]) -> TitlePage | None:
    entries: list[tuple[str, list[str]]] = []
    for line in lines:
        key = _TITLE_KEY.fullmatch(line)
        if key:
            entries.append((key[1].rstrip(), [key[2].strip()] if key[2].strip() else []))
        elif entries and line.startswith("   ") and line.strip():
            entries[-1][1].append(line.strip())
        else:
            return None
    return TitlePage(tuple(TitleEntry(k, parse_inline("\n".join(v))) for k, v in entries))


def _read_paragraph(lines: list[str]) -> list[Element]:
    """The elements of one block of lines (already free of boneyard and trailing spaces).
    Sections, synopses, lyrics and centered lines are taken off its top one run at a time."""
    out: list[Element] = []
    # A cursor, not slices: taking lines off the top by slicing copied the rest each time,
    # quadratic in a paragraph of a thousand `# section` lines.
    blank_within = _blanks_within_lyrics(lines)
    last = max((k for k, line in enumerate(lines) if line.strip()), default=-1)
    start = 0
    while start <= last:
        whole = _read_whole(lines, start)
        if whole is not None:
            return out + whole
        peeled = (
            _peel_structure(lines, start)
            or _peel_lyrics(lines, start, blank_within)
            or _peel_centered(lines, start)
        )
        if peeled is None:
            return out + _read_block(lines[start:])
        element, start = peeled
        out.append(element)
    return out


def _read_whole(lines: list[str], start: int) -> list[Element] | None:
    """A page break, forced action or notes: what a whole paragraph is, whatever it holds."""
    first = lines[start].strip()
    if start == len(lines) - 1 and _PAGE_BREAK.fullmatch(first):
        return [PageBreak()]
    if first.startswith("!"):
        rest = [lines[start].lstrip()[1:], *lines[start + 1 :]]
        return [Action(parse_inline("\n".join(rest)))]
    notes = _notes_only(lines[start:]) if first.startswith("[[") else None
    return [Note(note) for note in notes] if notes is not None else None


def _read_block(lines: list[str]) -> list[Element]:
    """A cue with its dialogue, a heading, a transition, or (by default) action."""
    first = lines[0].strip()
    if first.startswith("@") and (cue := _read_cue(first)) is not None:
        return [cue, *_read_dialogue(lines[1:])]
    if len(lines) == 1 and (single := _read_single_line(first)) is not None:
        return [single]
    if len(lines) > 1 and (cue := _read_cue(first)) is not None:
        return [cue, *_read_dialogue(lines[1:])]
    return [Action(parse_inline("\n".join(lines)))]


def _notes_only(lines: list[str]) -> list[str] | None:
    tokens = _tokens("\n".join(lines))
    if all(t.kind == "note" or (t.kind == "char" and t.text.isspace()) for t in tokens):
        return [t.text for t in tokens if t.kind == "note"] or None
    return None


def _peel_structure(lines: list[str], start: int) -> tuple[Element, int] | None:
    first = lines[start].strip()
    if first.startswith("#"):
        level = len(first) - len(first.lstrip("#"))
        return Section(_plain(first[level:]), min(level, MAX_SECTION_LEVEL)), start + 1
    if first.startswith("="):
        return Synopsis(_plain(first[1:])), start + 1
    return None


def _peel_lyrics(
    lines: list[str], start: int, blank_within: list[bool]
) -> tuple[Element, int] | None:
    end = start
    while end < len(lines) and (
        lines[end].strip().startswith("~") or (end > start and blank_within[end])
    ):
        end += 1
    if end == start:
        return None
    text = "\n".join(line.strip()[1:].lstrip() for line in lines[start:end])
    return Lyrics(parse_inline(text)), end


def _blanks_within_lyrics(lines: list[str]) -> list[bool]:
    """For each line, whether it is an empty line (two spaces in the source) with a lyric line
    next after it: a blank line between two verses belongs to the lyric."""
    within = [False] * len(lines)
    sung_next = False
    for j in range(len(lines) - 1, -1, -1):
        line = lines[j].strip()
        if line:
            sung_next = line.startswith("~")
        else:
            within[j] = sung_next
    return within


def _is_centered(line: str) -> bool:
    return len(line) >= 2 and line.startswith(">") and _ends_unescaped(line, "<")


def _peel_centered(lines: list[str], start: int) -> tuple[Element, int] | None:
    end = start
    while end < len(lines) and _is_centered(lines[end].strip()):
        end += 1
    if end == start:
        return None
    text = "\n".join(line.strip()[1:-1].strip() for line in lines[start:end])
    return Centered(parse_inline(text)), end


def _read_single_line(line: str) -> Element | None:
    """A heading or a transition: both need a blank line before and after."""
    forced = line.startswith(".") and len(line) > 1
    if forced and (line[1].isalnum() or (line[1] == "\\" and line[2:3] and _escapable(line[2]))):
        return _read_heading(line[1:])
    if _HEADING.match(line):
        return _read_heading(line)
    if line.startswith(">"):
        return Transition(_plain(line[1:]))
    plain = _plain(line) if "TO:" in line else ""
    if plain.isupper() and plain.endswith("TO:"):
        return Transition(plain)
    return None


def _read_heading(source: str) -> SceneHeading:
    text, number = split_scene_number(source)
    return SceneHeading(_plain(text), number)


def split_scene_number(line: str, *, escapes: bool = True) -> tuple[str, str | None]:
    """`INT. HOUSE - DAY #1A#` -> (`INT. HOUSE - DAY`, `1A`); (line, None) without a number.

    The number is letters, digits, `.` and `-` between the last two `#` of the line, at most
    `MAX_SCENE_NUMBER` of them; with `escapes`, `\\#` opens none. Found by searching back from
    the end, not by a regular expression: one that allowed spaces before the `#` took quadratic
    time on a heading padded with spaces.
    """
    opening = line.rfind("#", 0, len(line) - 1) if line.endswith("#") else -1
    number = line[opening + 1 : -1]
    if (
        opening < 0
        or not 0 < len(number) <= MAX_SCENE_NUMBER
        or not _SCENE_NUMBER.fullmatch(number)
        or (escapes and line[opening - 1 : opening] == "\\")
    ):
        return line, None
    return line[:opening].rstrip(), number


def _read_cue(line: str) -> Character | None:
    """`NAME (EXT) ^`; without `@` the name must be upper case (at least one cased letter)."""
    forced = line.startswith("@")
    body = line[1:] if forced else line
    dual = _ends_unescaped(body, "^")
    if dual:
        body = body[:-1].rstrip()
    opening = _first_unescaped(body, "(")
    extension = None
    if opening >= 0 and _ends_unescaped(body, ")"):
        body, extension = body[:opening], _plain(body[opening + 1 : -1]) or None
    name = _plain(body)
    if not name or not (forced or name.isupper()):
        return None
    return Character(name, extension, dual)


def _read_dialogue(lines: list[str]) -> list[Element]:
    """What follows a cue: parentheticals (which may wrap over lines), lyrics and dialogue."""
    out: list[Element] = []
    run: list[str] = []
    lyric = False

    def flush() -> None:
        if run:
            text = _trimmed_lines(parse_inline("\n".join(run)))
            out.append(Lyrics(text) if lyric else Dialogue(text))
            run.clear()

    closing = _closing_lines(lines)
    blank_within = _blanks_within_lyrics(lines)
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        end = closing[i] if line.startswith("(") else -1
        if end >= 0:
            flush()
            source = "\n".join(part.strip() for part in lines[i : end + 1])
            out.append(Parenthetical(_plain(source)))
            i = end + 1
            continue
        sung = line.startswith("~") or (lyric and blank_within[i])
        if sung != lyric:
            flush()
            lyric = not lyric
        run.append(line[1:].lstrip() if lyric else line)
        i += 1
    flush()
    return out


def _trimmed_lines(text: Text) -> Text:
    """`text` without blanks at the start or end of a line outside its notes. A speech's lines
    are read stripped, but an empty note dropped from a line's start (`[[]] hello`) leaves the
    blank after it, which no Fountain line of dialogue can hold: kept, the speech read back
    from what the writer wrote would differ from the one read."""
    spans = text.spans
    trimmed = []
    for i, span in enumerate(spans):
        words = span.text
        if not span.note and words != "\n":
            if i == 0 or spans[i - 1].text == "\n":
                words = words.lstrip(" \t")
            if i == len(spans) - 1 or spans[i + 1].text == "\n":
                words = words.rstrip(" \t")
        trimmed.append(Span(words, span.style, span.note))
    return Text.from_spans(trimmed)


def _closing_lines(lines: list[str]) -> list[int]:
    """For each line, the first line from it on that ends with `)`, or -1: a parenthetical
    opened there closes on that line, and one that never closes is dialogue that happens to
    start with a parenthesis."""
    closing = [-1] * (len(lines) + 1)
    for j in range(len(lines) - 1, -1, -1):
        closing[j] = j if _ends_unescaped(lines[j].strip(), ")") else closing[j + 1]
    return closing[:-1]


# --- writing ----------------------------------------------------------------------------------


def to_fountain(doc: Document) -> str:
    """Canonical Fountain for a document; `parse_fountain` reads it back as the same document."""
    paragraphs: list[str] = []
    if doc.title_page:
        title = "\n".join(_title_lines(doc.title_page))
        if _read(title, title_allowed=True).title_page != doc.title_page:
            keys = ", ".join(entry.key for entry in doc.title_page.entries)
            _log.warning("Fountain cannot carry the title page (%.80s) exactly", keys)
        paragraphs.append(title)
    approximated: list[Element] = []
    for group in _groups(doc.elements):
        paragraphs.append("\n".join(_write_group(group, not paragraphs, approximated)))
    if approximated:
        # One line for the whole document: a line per paragraph flooded the log (and the command
        # line's stderr) with tens of thousands of them for one odd file.
        _log.warning(
            "Fountain cannot carry %d paragraph(s) exactly and wrote them as near as it could; "
            "the first: %s",
            len(approximated),
            describe(approximated[0]),
        )
    return "\n\n".join(paragraphs) + "\n" if paragraphs else ""


def _title_lines(page: TitlePage) -> list[str]:
    lines: list[str] = []
    for entry in page.entries:
        values = [_format_line(line) for line in entry.value.lines()] if entry.value else []
        if len(values) == 1:
            lines.append(f"{entry.key}: {values[0]}".rstrip())
        else:
            lines.append(f"{entry.key}:")
            lines += ["    " + _unbreak(value) for value in values]
    return lines


def _groups(elements: tuple[Element, ...]) -> Iterator[list[Element]]:
    """One paragraph each: a cue with the parentheticals, dialogue and lyrics under it, or any
    other single element."""
    group: list[Element] = []
    for element in elements:
        in_block = group and isinstance(group[0], Character)
        if in_block and isinstance(element, Parenthetical | Dialogue | Lyrics):
            group.append(element)
            continue
        if group:
            yield group
        group = [element]
    if group:
        yield group


def _write_group(group: list[Element], at_top: bool, approximated: list[Element]) -> list[str]:
    """The plainest way of writing `group` that our reader takes back as `group`; when none
    does, the last (most forced) way, and the group's first element joins `approximated`."""
    forms = _forms(group)
    wanted = Document(elements=tuple(group))
    for lines in forms:
        if _read("\n".join(lines), title_allowed=at_top) == wanted:
            return lines
    approximated.append(group[0])
    return forms[-1]


def _forms(group: list[Element]) -> list[list[str]]:
    """Ways of writing a paragraph, plainest first, forced last."""
    match group[0]:
        case Action(text=text) | Dialogue(text=text):
            lines = [_guard(_format_line(line)) for line in text.lines()]
            return [lines, ["!" + lines[0], *lines[1:]]]
        case Parenthetical(text=paren):
            return [["!" + _guard(_format_plain(paren))]]
        case Character() as cue:
            body = [line for element in group[1:] for line in _body_lines(element)]
            return [[_cue_line(cue), *body], ["@" + _cue_line(cue), *body]]
        case SceneHeading() as heading:
            return [[_heading_line(heading)], [_forced_heading_line(heading)]]
        case Transition(text=transition):
            plain = _format_plain(transition)
            forced = plain[:-1] + "\\<" if plain.endswith("<") else plain
            return [[plain], ["> " + forced]]
        case Centered(text=text):
            return [["> " + _format_line(line) + " <" for line in text.lines()]]
        case Lyrics(text=text):
            return [_lyric_lines(text)]
        case PageBreak():
            return [["==="]]
        case Section(text=section, level=level):
            return [[("#" * level + " " + _format_plain(section)).rstrip()]]
        case Synopsis(text=synopsis):
            return [[("= " + _format_plain(synopsis)).rstrip()]]
        case Note(text=note):
            lines = ("[[" + _escape_note(note) + "]]").split("\n")
            return [[lines[0], *(_guard(line) for line in lines[1:])]]
        case Boneyard(text=boneyard):
            return [["/*" + boneyard + "*/"]]
    raise TypeError(f"to_fountain does not know the element {group[0]!r}")


def _guard(line: str) -> str:
    """A line inside a paragraph: an empty one becomes two spaces (else it would end the
    paragraph), and one that reads as a page break gets its first `=` escaped."""
    if not line.strip():
        return _TWO_SPACES
    return _unbreak(line)


def _unbreak(line: str) -> str:
    return line.replace("=", "\\=", 1) if _PAGE_BREAK.fullmatch(line.strip()) else line


def _body_lines(element: Element) -> list[str]:
    if isinstance(element, Parenthetical):
        lines = [_guard(_format_plain(line)) for line in element.text.split("\n")]
        # A wrapped parenthetical closes on the first line that ends with `)`: an inner line
        # that does gets its `)` escaped, or it would read back as two parentheticals.
        return [
            line[:-1] + "\\)" if k < len(lines) - 1 and _ends_unescaped(line, ")") else line
            for k, line in enumerate(lines)
        ]
    if isinstance(element, Lyrics):
        return _lyric_lines(element.text)
    assert isinstance(element, Dialogue)
    lines = [_format_line(line).lstrip() for line in element.text.lines()]
    return [_guard("\\" + line if line.startswith(("(", "~")) else line) for line in lines]


def _lyric_lines(text: Text) -> list[str]:
    """`~` before each line; an empty line between two lines of the lyric is written as two
    spaces, as a writer would, and as `~` alone at its start or end (where two spaces would read
    as belonging to the dialogue around it)."""
    lines = [_format_line(line) for line in text.lines()]
    last = max((k for k, line in enumerate(lines) if line.strip()), default=0)
    return [
        _TWO_SPACES if 0 < k < last and not line.strip() else "~" + line
        for k, line in enumerate(lines)
    ]


def _escape_each(text: str, chars: str) -> str:
    return "".join("\\" + c if c in chars else c for c in text)


def _cue_line(cue: Character) -> str:
    line = _escape_each(_format_plain(cue.name), "(^")
    if cue.extension:
        line += f" ({_format_plain(cue.extension)})"
    return line + (" ^" if cue.dual else "")


def _heading_line(heading: SceneHeading) -> str:
    text = _format_plain(heading.text)
    if text.endswith("#"):  # would read as the end of a scene number
        text = text[:-1] + "\\#"
    return text + (f" #{heading.number}#" if heading.number else "")


def _forced_heading_line(heading: SceneHeading) -> str:
    """`.` forces a heading only before a letter, a digit or an escape (`...` is not one)."""
    text = _heading_line(heading)
    starts_escaped = text.startswith("\\") and text[1:2] != "" and _escapable(text[1])
    return "." + (text if text[:1].isalnum() or starts_escaped else "\\" + text)
