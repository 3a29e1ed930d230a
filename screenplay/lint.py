"""Lint: the mistakes in a screenplay that a script supervisor would circle in red.

It knows the structural rules of the page — a cue is followed by speech, speech follows a cue,
parentheses close, a scene heading names a place and a time (and a Chinese one ends there rather
than running on into the action, `内景 县一中 正在下雨，门开着。`), a scene has something in it, and
(when the cast is known) only cast members speak — and says what is wrong in sentences a
screenwriter understands. It deliberately does not judge style or fix anything (that is
`screenplay.repair`), and it knows no file format except for finding line numbers.

Line numbers are 1-based lines of Fountain text: by default of `to_fountain(doc)`, the script as
the room exports it; pass `source=` (the Fountain text the document was parsed from) to number
the lines of that file instead. Each element is found in that text by its first words, in order,
so numbers stay right however the file spaces its paragraphs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from screenplay.fountain import to_fountain
from screenplay.types import (
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
    Synopsis,
    Text,
    Transition,
    dialogue_blocks,
    quote,
)
from screenplay.zh import heading_run_on, read_heading, scene_cast

__all__ = ["CODES", "Problem", "lint"]

#: Every problem code, with what it means.
CODES = {
    "cue-without-dialogue": "a character cue with nothing spoken after it",
    "dialogue-without-cue": "dialogue or a parenthetical that no character cue introduces",
    "empty-cue": "a character cue without a name",
    "unbalanced-parentheses": "a parenthesis opened and not closed, or closed and not opened",
    "malformed-heading": "a scene heading without a place or a time of day",
    "empty-scene": "a scene heading with nothing after it before the next scene",
    "unknown-speaker": "a character who speaks but is not in the cast",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: `line` is 1-based (see the module docstring), `message` a sentence for the
    writer, `code` one of `CODES` for programs (e.g. to decide to regenerate a take)."""

    line: int
    message: str
    code: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def lint(
    doc: Document, cast: Iterable[str] | None = None, *, source: str | None = None
) -> list[Problem]:
    """The problems of `doc`, in the order of the script. With `cast`, speakers outside it are
    reported (names compare case-insensitively; extensions such as `(V.O.)` are ignored)."""
    elements = doc.elements
    if source is None:
        source = to_fountain(doc)
    lines = _locate(doc, source)
    found: list[tuple[int, Problem]] = []
    checks: list[Iterator[tuple[int, str, str]]] = [
        _cues(elements),
        _orphans(elements),
        _parentheses(elements),
        _headings(elements),
        _empty_scenes(elements),
        _scene_casts(elements),
    ]
    if cast is not None:
        checks.append(_speakers(elements, list(cast)))
    for check in checks:
        for index, message, code in check:
            found.append((index, Problem(lines[index], message, code)))
    found.sort(key=lambda pair: pair[0])
    return [problem for _, problem in found]


# --- the checks: each yields (element index, message, code) -------------------------------------


def _cues(elements: Sequence[Element]) -> Iterator[tuple[int, str, str]]:
    positions = [i for i, element in enumerate(elements) if isinstance(element, Character)]
    for index, (cue, body) in zip(positions, dialogue_blocks(elements), strict=True):
        if not cue.name.strip():
            yield index, "A character cue has no name.", "empty-cue"
        elif not any(isinstance(part, Dialogue | Lyrics) for part in body):
            yield index, f"{_short(cue.name)} has a cue but no dialogue.", "cue-without-dialogue"


def _orphans(elements: Sequence[Element]) -> Iterator[tuple[int, str, str]]:
    """Speech or a wryly that no cue introduces; a run of them is reported once."""
    in_block = False
    reported = False
    for index, element in enumerate(elements):
        if isinstance(element, Character):
            in_block, reported = True, False
        elif isinstance(element, Dialogue | Parenthetical) and not in_block:
            if not reported:
                what = "Dialogue" if isinstance(element, Dialogue) else "The parenthetical"
                yield (
                    index,
                    f"{what} {quote(_text(element))} has no character cue before it.",
                    "dialogue-without-cue",
                )
            reported = True
        elif not isinstance(element, Dialogue | Parenthetical | Lyrics):
            in_block, reported = False, False


_PAIRS = {"(": ")", "（": "）"}


def _parentheses(elements: Sequence[Element]) -> Iterator[tuple[int, str, str]]:
    for index, element in enumerate(elements):
        if isinstance(element, Parenthetical):
            text, what = element.text.strip(), "The parenthetical"
            if not (text[:1] in _PAIRS and text[-1:] in _PAIRS.values()):
                yield (
                    index,
                    f"The parenthetical {quote(text)} should be written in parentheses.",
                    "unbalanced-parentheses",
                )
                continue
        elif isinstance(element, Dialogue | Action):
            text = element.text.plain
            what = "Dialogue" if isinstance(element, Dialogue) else "Action"
        else:
            continue
        problem = _unbalanced(text)
        if problem:
            yield index, f"{what} {quote(text)} {problem}.", "unbalanced-parentheses"


def _unbalanced(text: str) -> str | None:
    depth = 0
    for char in text:
        if char in _PAIRS:
            depth += 1
        elif char in _PAIRS.values():
            depth -= 1
            if depth < 0:
                return "closes a parenthesis that was never opened"
    if depth > 0:
        return "opens a parenthesis that is never closed"
    return None


_PREFIX = re.compile(
    r"^(?:INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I\s*/\s*E|INT|EXT|EST)(?:\.|\s|$)", re.IGNORECASE
)


def _headings(elements: Sequence[Element]) -> Iterator[tuple[int, str, str]]:
    for index, element in enumerate(elements):
        if isinstance(element, Action):
            first = element.text.plain.split("\n", 1)[0]
            if heading_run_on(first):
                yield index, _RUN_ON.format(_short(first)), "malformed-heading"
            continue
        if not isinstance(element, SceneHeading):
            continue
        problem = _heading_problem(element.text.strip())
        if problem:
            yield index, problem, "malformed-heading"


#: A Chinese heading that ran on into the action (`zh.heading_run_on`), so it reads as action.
_RUN_ON = (
    "场景标题“{}”没有在地点和时间之后换行，写进了动作 (the scene heading runs on into the "
    "action; end it after the place and the time of day, e.g. 内景 咖啡馆 夜)."
)


def _heading_problem(heading: str) -> str | None:
    if not heading:
        return "A scene heading is empty; write where and when, e.g. INT. KITCHEN - NIGHT."
    prefix = _PREFIX.match(heading)
    if prefix is None:
        zh = read_heading(heading)
        if zh is not None and not zh.times:
            return f"场景标题“{heading}”缺少日/夜等时间 (the scene heading has no time of day)."
        if zh is not None and not zh.place:
            return f"场景标题“{heading}”缺少地点 (the scene heading does not say where)."
        # A forced heading (`.A BLACK VOID`) is the writer's deliberate choice.
        return None
    place, dash, time = (" " + heading[prefix.end() :].strip()).rpartition(" - ")
    if not dash:
        place, time = time, ""
    place = place.strip(" -")
    named = repr(_short(heading))
    if not place:
        return f"The scene heading {named} does not say where the scene takes place."
    if heading.upper().startswith("EST"):
        return None
    if not time.strip() or heading.rstrip().endswith("-"):
        return (
            f"The scene heading {named} has no time of day; add one after a dash, "
            f"e.g. {_short(heading.rstrip(' -'))} - NIGHT."
        )
    return None


# Elements that give a scene something to show or say.
_CONTENT = (Action, Character, Dialogue, Parenthetical, Centered, Lyrics)


def _empty_scenes(elements: Sequence[Element]) -> Iterator[tuple[int, str, str]]:
    open_scene: tuple[int, str] | None = None
    has_content = False
    for index, element in enumerate((*elements, None)):
        if element is None or isinstance(element, SceneHeading):
            if open_scene is not None and not has_content:
                at, heading = open_scene
                scene = (
                    f"The scene {_short(heading)}" if heading else "A scene with an empty heading"
                )
                until = "the end of the script" if element is None else "the next scene"
                yield at, f"{scene} is empty: nothing happens before {until}.", "empty-scene"
            if element is not None:
                open_scene, has_content = (index, element.text.strip()), False
        elif isinstance(element, _CONTENT):
            has_content = True


def _scene_casts(elements: Sequence[Element]) -> Iterator[tuple[int, str, str]]:
    """In a scene with a `人物：` line (the Chinese convention), a speaker not on it."""
    start = 0
    for end in [*(i for i, e in enumerate(elements) if isinstance(e, SceneHeading)), len(elements)]:
        scene = elements[start:end]
        names = scene_cast(scene)
        if names is not None:
            listed = {_name_key(name) for name in names}
            for offset, element in enumerate(scene):
                if isinstance(element, Character) and _name_key(element.name) not in listed:
                    name = _short(element.name)
                    yield (
                        start + offset,
                        f"{name}说了话，但不在本场的人物表里 ({name} speaks but is not on the "
                        "scene's 人物 line).",
                        "unknown-speaker",
                    )
        start = end


def _speakers(elements: Sequence[Element], cast: list[str]) -> Iterator[tuple[int, str, str]]:
    members = {_name_key(name): name.strip() for name in cast if _name_key(name)}
    hints: dict[str, str] = {}  # a stranger who speaks a thousand times is compared once
    for index, element in enumerate(elements):
        if not isinstance(element, Character) or not element.name.strip():
            continue
        key = _name_key(element.name)
        if key in members:
            continue
        if key not in hints:
            close = difflib.get_close_matches(key, list(members), n=1, cutoff=0.75)
            hints[key] = f" (did you mean {members[close[0]]}?)" if close else ""
        message = f"{_short(element.name)} speaks but is not in the cast{hints[key]}."
        yield index, message, "unknown-speaker"


def _name_key(name: str) -> str:
    """`Mara (V.O.)`, `@MARA`, `MARA ^` -> `mara`."""
    name = re.sub(r"[(（][^()（）]*[)）]", " ", name).strip().lstrip("@").rstrip("^")
    return re.sub(r"\s+", " ", name).strip().casefold()


# --- words in messages ------------------------------------------------------------------------


def _text(element: Element) -> str:
    if isinstance(element, Dialogue | Action):
        return element.text.plain
    if isinstance(element, Parenthetical):
        return element.text
    return ""


def _short(name: str, limit: int = 40) -> str:
    """A name or heading as the message shows it: whole unless it is longer than `limit`."""
    return name if len(name) <= limit else quote(name, limit)[1:-1]


# --- line numbers -----------------------------------------------------------------------------

# How many non-blank lines may lie between one element and the next in a source (a title page's
# indented values, a note the parser joined to a paragraph) before the search gives up.
_SEARCH_WINDOW = 4


def _locate(doc: Document, source: str) -> list[int]:
    """The 1-based line of `source` on which each element of `doc` starts."""
    rows = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    flat = [_squash(row) for row in rows]
    # For each row, the first row from it on with anything on it (`\*` squashes to nothing, yet
    # is a line): the search jumps over blank rows instead of walking them for each element.
    filled = [len(rows)] * (len(rows) + 1)
    for row in range(len(rows) - 1, -1, -1):
        filled[row] = row if rows[row].strip() else filled[row + 1]
    cursor = _after_title_page(rows) if doc.title_page else 0
    located: list[int] = []
    for element in doc.elements:
        row = _find(flat, filled, cursor, _squash(_probe(element)))
        located.append(row + 1)
        cursor = min(row + _height(element), len(rows))
    return located


def _find(flat: list[str], filled: list[int], cursor: int, probe: str) -> int:
    row = filled[cursor]
    for _ in range(_SEARCH_WINDOW):
        if row >= len(flat):
            break
        if probe and probe in flat[row]:
            return row
        row = filled[row + 1]
    if filled[cursor] < len(flat):
        return filled[cursor]
    return min(cursor, max(len(flat) - 1, 0))


def _after_title_page(rows: list[str]) -> int:
    started = False
    for row, line in enumerate(rows):
        if line.strip():
            started = True
        elif started:
            return row
    return len(rows)


def _probe(element: Element) -> str:
    """The first words of an element as any Fountain text must contain them."""
    if isinstance(element, Action | Dialogue | Centered | Lyrics):
        return _first_words(element.text)
    if isinstance(element, Character):
        return element.name
    if isinstance(element, SceneHeading | Parenthetical | Transition | Section | Synopsis):
        return element.text.split("\n")[0]
    if isinstance(element, Note | Boneyard):
        return element.text.strip().split("\n")[0]
    if isinstance(element, PageBreak):
        return "==="
    return ""


def _first_words(text: Text) -> str:
    """The first line up to its first inline note (which Fountain writes in brackets)."""
    words: list[str] = []
    for span in text.spans:
        if span.note or span.text == "\n":
            break
        words.append(span.text)
    return "".join(words)[:40]


def _height(element: Element) -> int:
    if isinstance(element, Action | Dialogue | Centered | Lyrics):
        return len(element.text.lines())
    if isinstance(element, Note | Boneyard):
        return element.text.count("\n") + 1
    return 1


def _squash(text: str) -> str:
    """Compare without spacing, emphasis markers, escapes or case."""
    return re.sub(r"[\s*_\\]+", "", text).casefold()
