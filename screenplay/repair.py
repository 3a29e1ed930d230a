"""Repair: a tolerant reader for what a small language model writes when asked for a scene.

Models asked for a scene or a few lines of dialogue rarely write clean Fountain. They wrap the
scene in a markdown code fence, bold the cues (`**MARA:**`), write chat transcripts
(`Mara: We're late.`), put the wryly inline (`MARA: (quietly) We're late.`), forget the blank line
before a cue, number their lines, and open and close with a few words to the user ("Sure! Here is
your scene:", "I hope this helps!"). This module turns all of that into screenplay elements.

Its one rule: the writer's words are never dropped. Markup (fences, list markers, bold around a
cue, quotes around a chat line) goes; every word of the scene stays, as the element it most
plausibly is, and anything that is not a scene at all — the model talking to the user — is set
aside and handed back in `RepairResult.removed_chatter`, so a caller can show it or log it.
Each kind of fix is described in `RepairResult.changes`.

It deliberately knows nothing of prompts, models or rooms, and does not judge the scene (that is
`screenplay.lint`). Inline emphasis is read with the Fountain reader's own `parse_inline`, so a
repaired take and a hand-written Fountain file mean the same thing by `*italic*`.

It is long because model output is varied, not because it does two things: every recogniser
here serves the one reader, which tries them on each line in a fixed order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from screenplay.fountain import parse_inline, split_scene_number
from screenplay.types import (
    MAX_SCENE_NUMBER,
    Action,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
    PageBreak,
    Parenthetical,
    SceneHeading,
    Section,
    Text,
    TitleEntry,
    TitlePage,
    Transition,
)

__all__ = ["RepairResult", "repair", "repair_with_report"]


@dataclass(frozen=True, slots=True)
class RepairResult:
    """A repaired take: the document, what was set aside as talk to the user, what was fixed."""

    document: Document
    removed_chatter: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()


def repair(text: str, cast: Iterable[str] | None = None) -> Document:
    """Read messy model output as a screenplay. `cast` names the characters the scene may
    use; with it, cues in any case (`Mara:`, `mara`) and cues without case (`林小雨：`) are
    recognised."""
    return repair_with_report(text, cast).document


def repair_with_report(text: str, cast: Iterable[str] | None = None) -> RepairResult:
    """Like `repair`, and also say what was set aside and what was changed."""
    report = _Report()
    lines = _normalise(text, report)
    lines = _unfence(lines, report)
    lines = _drop_rules(lines, report)
    lines = _strip_chatter(lines, report)
    title_page, lines = _title_page(lines)
    speakers = _Speakers(cast or (), lines)
    elements = _Reader(speakers, report).read(lines)
    return RepairResult(
        Document(title_page, tuple(elements)),
        tuple(report.chatter),
        tuple(report.changes),
    )


# --- vocabulary -------------------------------------------------------------------------------

_TIMES_OF_DAY = {
    "DAY",
    "NIGHT",
    "MORNING",
    "EVENING",
    "AFTERNOON",
    "DUSK",
    "DAWN",
    "SUNSET",
    "SUNRISE",
    "NOON",
    "MIDNIGHT",
    "LATER",
    "MOMENTS LATER",
    "CONTINUOUS",
    "SAME TIME",
    "SAME",
    "EARLY MORNING",
    "LATE NIGHT",
    "MAGIC HOUR",
    "白天",
    "夜",
    "日",
    "夜晚",
    "清晨",
    "黄昏",
}

# Cue extensions; anything else in parentheses after a name is a wryly ("MARA (quietly):").
_EXTENSIONS = {
    "V.O.": "V.O.",
    "VO": "V.O.",
    "V.O": "V.O.",
    "O.S.": "O.S.",
    "OS": "O.S.",
    "O.S": "O.S.",
    "O.C.": "O.C.",
    "OC": "O.C.",
    "CONT'D": "CONT'D",
    "CONT’D": "CONT'D",
    "CONTD": "CONT'D",
    "CONT.": "CONT'D",
    "OFF": "OFF",
    "OFF-SCREEN": "O.S.",
    "OFFSCREEN": "O.S.",
    "ON PHONE": "ON PHONE",
    "INTO PHONE": "INTO PHONE",
    "ON THE PHONE": "ON PHONE",
    "ON SCREEN": "ON SCREEN",
    "ON TV": "ON TV",
    "PRE-LAP": "PRE-LAP",
    "FILTERED": "FILTERED",
    "SUBTITLED": "SUBTITLED",
}

# Words a model puts before a colon that are labels, not speakers ("Setting: a kitchen").
_LABELS = {
    "note",
    "notes",
    "setting",
    "location",
    "time",
    "scene",
    "title",
    "characters",
    "character",
    "cast",
    "summary",
    "logline",
    "genre",
    "tone",
    "description",
    "action",
    "dialogue",
    "example",
    "draft",
    "version",
    "take",
    "option",
    "premise",
    "synopsis",
    "theme",
    "mood",
    "style",
    "format",
    "scene heading",
    "slugline",
    "transition",
    "fade in",
    "int",
    "ext",
    "the end",
    "p.s",
    "ps",
    "tip",
    "warning",
    "important",
    "answer",
    "response",
    "output",
}

_TITLE_KEYS = {
    "title",
    "credit",
    "author",
    "authors",
    "source",
    "draft date",
    "contact",
    "copyright",
}

_TRANSITIONS = {"FADE IN:", "FADE OUT.", "FADE OUT", "FADE TO BLACK.", "CUT TO BLACK.", "FADE IN"}

# Openings addressed to the user. An interjection counts only with its punctuation ("Sure!",
# "Great," but not "Great clouds roll in."); a presenting phrase only when it talks about the
# scene or introduces it with a colon ("Here is your scene:", not "Here is the key.").
_INTERJECTION = re.compile(
    r"^\W{0,3}(sure|certainly|of course|absolutely|okay|ok|great|alright|all right|no problem"
    r"|gladly|perfect|got it)\s*[!,.:—–-]",
    re.IGNORECASE,
)
_PRESENTING = re.compile(
    r"^\W{0,3}(here(?:'s|’s| is| are| comes)|below is|below are|i(?:'ve|’ve| have) "
    r"(?:written|drafted|created|put together)|as requested|this is (?:a|the|your)|happy to)(?!\w)",
    re.IGNORECASE,
)
_CHATTER_CLOSING = re.compile(
    r"^\W{0,3}(i hope|hope (?:this|that|you)|let me know|feel free|if you(?:'d|’d| would) like"
    r"|would you like|do you want|want me to|shall i (?:write|make|change|add|continue)"
    r"|i can (?:also|adjust|revise|make|write)|happy writing|good luck with|note:|notes:"
    r"|this (?:scene|version|draft|take|script)|in this (?:scene|version|draft|take)"
    r"|i(?:'ve|’ve| have) (?:tried|aimed|kept|written|made)"
    r"|the scene (?:shows|establishes|captures|builds))(?!\w)",
    re.IGNORECASE,
)
_ABOUT_THE_SCENE = re.compile(
    r"\b(scene|script|screenplay|dialogue|draft|take|version|exchange|fountain)\b", re.IGNORECASE
)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af·・"

# --- character-level clean-up -----------------------------------------------------------------

_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}


@dataclass
class _Report:
    chatter: list[str] = field(default_factory=list)
    changes: dict[str, None] = field(default_factory=dict)  # a set that keeps the order

    def change(self, message: str) -> None:
        self.changes[message] = None


# Chat-template tokens a model may leak (`<|im_end|>`, `</s>`), with the role after a start token.
_CONTROL_TOKEN = re.compile(
    r"<\|im_start\|>\s*(?:assistant|user|system)?\n?|<\|[a-z_]{1,30}\|>|</?s>", re.IGNORECASE
)


def _normalise(text: str, report: _Report) -> list[str]:
    """Line endings, tabs, control tokens, control and invisible characters; trailing
    spaces."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        report.change("normalised Windows line endings")
    if "\t" in text:
        text = text.replace("\t", "    ")
        report.change("replaced tabs with spaces")
    text, tokens = _CONTROL_TOKEN.subn("", text)
    if tokens:
        report.change("removed the model's control tokens")
    kept: list[str] = []
    removed = 0
    for char in text:
        if char == "\n" or (
            char not in _INVISIBLE and unicodedata.category(char) not in {"Cc", "Cf", "Cs"}
        ):
            kept.append(" " if char == "\u00a0" else char)
        else:
            removed += 1
    if removed:
        report.change(f"removed {removed} control or invisible character(s)")
    return [line.rstrip() for line in "".join(kept).split("\n")]


# Possessive `*+` here and below: the quantifiers do not give back what they took, so runs of
# spaces next to optional parts cost linear time instead of quadratic (or cubic) backtracking.
_FENCE = re.compile(r"^\s*+(```|~~~)\s*+[\w+-]*+\s*+$")


def _unfence(lines: list[str], report: _Report) -> list[str]:
    """Take the scene out of markdown code fences; what lies outside them and is not screenplay
    is the model talking to the user."""
    fence_rows = {i for i, line in enumerate(lines) if _FENCE.match(line)}
    if not fence_rows:
        return lines
    report.change("removed markdown code fences")
    inside: list[bool] = []
    open_ = False
    for i in range(len(lines)):
        if i in fence_rows:
            open_ = not open_
            inside.append(False)
        else:
            inside.append(open_)
    kept: list[str] = []
    outside: list[str] = []

    def flush_outside() -> None:
        for paragraph in _paragraphs(outside):
            if any(_is_structural(line) for line in paragraph):
                kept.extend(["", *paragraph, ""])
            else:
                _set_aside(paragraph, report)
        outside.clear()

    for i, line in enumerate(lines):
        if i in fence_rows:
            flush_outside()
            kept.append("")
        elif inside[i]:
            kept.append(line)
        else:
            outside.append(line)
    flush_outside()
    return kept


_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")


def _drop_rules(lines: list[str], report: _Report) -> list[str]:
    """Markdown horizontal rules (`---`, `***`) separate nothing in a screenplay."""
    kept = [("" if _RULE.match(line) else line) for line in lines]
    if kept != lines:
        report.change("removed markdown horizontal rules")
    return kept


def _paragraphs(lines: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def _set_aside(paragraph: list[str], report: _Report) -> None:
    report.chatter.append("\n".join(line.strip() for line in paragraph))
    report.change("set aside words addressed to the user")


def _is_structural(line: str) -> bool:
    """A line that can only be screenplay: a scene heading, a cue with speech, a transition."""
    inner = _unwrap(line).text
    if _scene_heading(inner) is not None or _transition(inner) is not None:
        return True
    chat = _chat_split(inner)
    return chat is not None and _looks_like_upper_cue(_split_extension(chat[0])[0])


def _strip_chatter(lines: list[str], report: _Report) -> list[str]:
    """Set aside the opening and closing words addressed to the user."""
    paragraphs = _paragraphs(lines)
    # An index, not `pop(0)`: that moved every later paragraph, each time.
    start = 0
    while start < len(paragraphs) and _is_chatter_opening(paragraphs[start][0].strip()):
        first = paragraphs[start]
        cut = next((i for i, line in enumerate(first) if _is_structural(line)), len(first))
        _set_aside(first[:cut], report)
        if cut < len(first):
            paragraphs[start] = first[cut:]
            break
        start += 1
    del paragraphs[:start]
    if paragraphs and _is_chatter_intro(paragraphs[0]) and len(paragraphs) > 1:
        _set_aside(paragraphs.pop(0), report)
    closing: list[list[str]] = []
    while len(paragraphs) > 1 and _is_chatter_outro(paragraphs[-1]):
        closing.append(paragraphs.pop())
    for paragraph in reversed(closing):
        _set_aside(paragraph, report)
    out: list[str] = []
    for paragraph in paragraphs:
        out.extend([*paragraph, ""])
    return out


def _is_chatter_opening(line: str) -> bool:
    if _INTERJECTION.match(line):
        return True
    return _PRESENTING.match(line) is not None and (
        line.endswith((":", "：")) or _ABOUT_THE_SCENE.search(line) is not None
    )


def _is_chatter_intro(paragraph: list[str]) -> bool:
    """ "A tense scene between Mara and Tom:" — one line about the scene, ending in a colon."""
    line = paragraph[0].strip()
    return (
        len(paragraph) == 1
        and line.endswith((":", "："))
        and _ABOUT_THE_SCENE.search(line) is not None
        and not _is_structural(line)
    )


def _is_chatter_outro(paragraph: list[str]) -> bool:
    return _CHATTER_CLOSING.match(paragraph[0].strip()) is not None and not any(
        _is_structural(line) for line in paragraph
    )


def _title_page(lines: list[str]) -> tuple[TitlePage, list[str]]:
    """A first paragraph of `Title: ...` lines is a title page, as in Fountain."""
    paragraphs = _paragraphs(lines)
    if not paragraphs:
        return TitlePage(), lines
    entries: list[TitleEntry] = []
    for line in paragraphs[0]:
        key, sep, value = _strip_emphasis_wrapper(line.strip()).partition(":")
        key, value = key.strip().strip("*_").strip(), value.strip().strip("*_").strip()
        if not sep or key.lower() not in _TITLE_KEYS or not value:
            return TitlePage(), lines
        entries.append(TitleEntry(key, _rich(value)))
    rest: list[str] = []
    for paragraph in paragraphs[1:]:
        rest.extend([*paragraph, ""])
    return TitlePage(tuple(entries)), rest


# --- recognising a line -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    """A line with its markdown wrapping taken off: `text` is what is left, `wrapper` says what
    surrounded it ("bold", "italic", "brackets", "" for nothing)."""

    text: str
    wrapper: str = ""
    markdown_level: int = 0
    listed: bool = False
    quoted: bool = False


_LIST_MARKER = re.compile(r"^\s*(?:[-+•]|\*(?=\s)|\d{1,3}[.)])\s+(?=\S)")
_WHOLE_EMPHASIS = re.compile(r"^(\*{1,3}|_{1,2})(?!\s)(.+?)(?<!\s)\1$")


def _strip_emphasis_wrapper(text: str) -> str:
    match = _WHOLE_EMPHASIS.match(text)
    return match.group(2).strip() if match else text


def _unwrap(line: str) -> _Line:
    text = line.strip()
    quoted = listed = False
    level = 0
    if text.startswith(">") and not re.match(r"^>.*<$", text) and _transition(text[1:]) is None:
        text, quoted = text[1:].strip(), True
    heading = _markdown_heading(text)
    if heading:
        level, text = heading
    marker = _LIST_MARKER.match(text)
    if marker and not text.startswith("**"):
        text, listed = text[marker.end() :], True
    wrapper = ""
    match = _WHOLE_EMPHASIS.match(text)
    if match and match.group(2).count(match.group(1)[0]) == 0:
        wrapper = "bold" if len(match.group(1)) >= 2 else "italic"
        text = match.group(2).strip()
    elif re.match(r"^\[(?!\[)[^\[\]]+\]$", text):
        text, wrapper = text[1:-1].strip(), "brackets"
    return _Line(text, wrapper, level, listed, quoted)


def _markdown_heading(text: str) -> tuple[int, str] | None:
    """`## Title ##` -> (2, "Title"): one to six `#`, a space, the title, optional closing `#`.

    Read with string methods: the regular expression it replaces (`(.*?)\\s*#*\\s*$`) took
    cubic time on a long heading with spaces in it, seconds for a kilobyte of model output."""
    body = text.lstrip()
    level = len(body) - len(body.lstrip("#"))
    rest = body[level:]
    if not 1 <= level <= 6 or not rest[:1].isspace():
        return None
    return level, rest.strip().rstrip("#").rstrip()


_HEADING_PREFIX = re.compile(
    r"^(?P<prefix>INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I\s*/\s*E|INT|EXT|EST)(?:\.|\s+|$)\s*",
    re.IGNORECASE,
)
_SCENE_LABEL = re.compile(
    r"^(?:scene(?:\s++heading)?|slugline)\s*+(?P<number>\d+[A-Z]?)?\s*+[:.\-–—]\s*", re.IGNORECASE
)
_CANONICAL_PREFIX = {"INT": "INT.", "EXT": "EXT.", "EST": "EST.", "IE": "I/E"}


def _scene_heading(text: str) -> SceneHeading | None:
    """A scene heading, put in the canonical `INT. PLACE - TIME` form, or None."""
    number: str | None = None
    label = _SCENE_LABEL.match(text)
    if label:
        number, text = label.group("number"), text[label.end() :]
        if number and len(number) > MAX_SCENE_NUMBER:
            number = None  # `Scene 99999...:` of a model that would not stop is no number
    forced = text.startswith(".") and not text.startswith("..")
    body = text[1:] if forced else text
    body, found = split_scene_number(body, escapes=False)
    if found:
        number = found
    match = _HEADING_PREFIX.match(body)
    if match is None:
        return SceneHeading(body.strip().upper(), number) if forced and body.strip() else None
    place = _place_and_time(body[match.end() :])
    clearly = match.group("prefix").isupper() or forced or label is not None
    if not clearly and (place is None or " - " not in place):
        return None
    if place is None:
        return None
    raw_prefix = re.sub(r"[\s.]", "", match.group("prefix")).upper()
    prefix = _CANONICAL_PREFIX.get(raw_prefix.replace("/", ""), "INT./EXT.")
    return SceneHeading(f"{prefix} {place}".strip(), number)


_DASH = re.compile(r"\s*(?:--|[—–])\s*|\s+-\s+")


def _place_and_time(rest: str) -> str | None:
    """`kitchen — night` -> `KITCHEN - NIGHT`; None when the words are a sentence, not a place."""
    words = rest.split()
    if len(words) > 12:
        return None
    # Spacing squashed first: `\s*` around the dash, tried at each space of a long run of them,
    # was quadratic.
    rest = _DASH.sub(" - ", " ".join(words).rstrip("."))
    rest = " ".join(rest.split()).strip(" -").upper()
    if " - " in rest:
        return rest
    place, comma, time = rest.rpartition(",")
    if comma and time.strip() in _TIMES_OF_DAY:
        return f"{place.strip()} - {time.strip()}"
    for time in sorted(_TIMES_OF_DAY, key=len, reverse=True):
        if rest.endswith(" " + time) and len(rest) > len(time) + 1:
            return f"{rest[: -len(time)].strip()} - {time}"
    return rest


def _centered(text: str) -> str | None:
    """The words of `> THE END <` (or a bare `THE END`), or None."""
    if len(text) >= 2 and text.startswith(">") and text.endswith("<"):
        return text[1:-1].strip()
    return "THE END" if text in ("THE END", "THE END.") else None


def _transition(text: str) -> Transition | None:
    text = text.strip()
    if text.startswith(">") and not text.endswith("<"):
        text = text[1:].strip()
    if not text or any(char.islower() for char in text) or len(text) > 40:
        return None
    if text.endswith("TO:") or text in _TRANSITIONS:
        return Transition(text if text != "FADE IN" else "FADE IN:")
    return None


_CHAT = re.compile(r"(?P<name>[^:：*_\n\"“]{1,50}?)\s*+(?P<close>[*_]{0,3})\s*+[:：]\s*")


def _chat_split(text: str) -> tuple[str, str] | None:
    """`**MARA:** line` / `Mara: line` / `林小雨：你好` -> (name, rest), before any judgement."""
    lead = re.match(r"[*_]{0,3}", text)
    opening = lead.group() if lead else ""
    body = text[len(opening) :]
    match = _CHAT.match(body)
    if match is None:
        return None
    rest = body[match.end() :]
    if opening and not match.group("close") and rest.startswith(opening):
        rest = rest[len(opening) :]
    elif opening and match.group("close") != opening:
        return None
    return match.group("name").strip(), rest.strip()


def _split_extension(name: str) -> tuple[str, str | None]:
    """`MARA (V.O.)` -> ("MARA", "V.O."): the last parentheses, ASCII or full-width, at the very
    end; searched back from the end (a lazy `(.*?)\\s*\\(` took quadratic time on spaces)."""
    body = name.rstrip()
    opening = max(body.rfind("("), body.rfind("（"))
    if body.endswith((")", "）")) and opening >= 0:
        before, words = body[:opening].rstrip(), body[opening + 1 : -1]
        if "\n" not in before and not any(char in "()（）" for char in words):
            return before.strip(), words.strip()
    return name.strip().rstrip("^").strip(), None


def _cue_words(line: _Line) -> tuple[str, str | None]:
    """The name and the words in parentheses of a line standing alone as a cue (`MARA (V.O.):`)."""
    return _split_extension(line.text.rstrip(":：").strip().lstrip("@"))


def _extension(words: str | None) -> str | None:
    """The canonical cue extension (`v.o.` -> `V.O.`), or None when the words are a wryly."""
    if words is None:
        return None
    return _EXTENSIONS.get(" ".join(words.upper().split()))


_UPPER_CUE = re.compile(rf"^[A-Z0-9{_CJK}À-ÞĀ-ſ][A-Z0-9À-ÞĀ-ſ{_CJK} .'’&\-]*$")


def _looks_like_upper_cue(name: str) -> bool:
    """`MARA`, `DR. ODUYA`, `BOB 2`: upper case, short, not a sentence or a label."""
    name = name.strip()
    if not name or len(name) > _MAX_CUE or len(name.split()) > 4:
        return False
    if not any(char.isupper() for char in name) or any(char.islower() for char in name):
        return False
    if name.endswith(("!", "?", ",", ";")) or (name.endswith(".") and len(name.split()) == 1):
        return False
    if name.lower() in _LABELS or _transition(name) or _HEADING_PREFIX.match(name):
        return False
    return _UPPER_CUE.match(name) is not None


def _looks_like_name(name: str) -> bool:
    """`Mara`, `Dr. Oduya`, `林小雨`: what a chat transcript puts before the colon."""
    return (
        re.match(r"^(?:[A-Z][\w'’.\-]*)(?: [A-Z][\w'’.\-]*){0,2}$", name) is not None
        or re.match(rf"^[{_CJK}]{{1,8}}$", name) is not None
    ) and (name.lower() not in _LABELS and name.upper() not in _TIMES_OF_DAY)


def _one_edit(a: str, b: str) -> bool:
    """Whether `a` and `b` differ by exactly one inserted, deleted, replaced or swapped letter."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swapped and a[diff[1]] == b[diff[0]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    # Deleting the first letter where they part is as good as deleting any other.
    first = 0
    while first < len(short) and short[first] == long[first]:
        first += 1
    return long[first + 1 :] == short[first:]


def _name_key(name: str) -> str:
    return re.sub(r"\s+", " ", _split_extension(name)[0]).casefold()


def _cue_spelling(name: str) -> str:
    """A cast entry as a cue: `Mara` -> `MARA`; deliberate mixed case (`McKENNA`) is kept."""
    words = name.split()
    deliberate = any(any(char.isupper() for char in word[1:]) for word in words)
    return name if deliberate else name.upper()


class _Speakers:
    """Who may speak: the cast, plus names the text itself uses as speakers."""

    def __init__(self, cast: Iterable[str], lines: list[str]) -> None:
        self.cast: dict[str, str] = {}
        for member in cast:
            name = _split_extension(member.strip())[0]
            if name:
                self.cast[_name_key(name)] = _cue_spelling(name)
        self.seen: dict[str, str] = {}
        #: Names read as a cast member they misspell (`ROTH` -> RUTH), whether or not a cue
        #: ends up using them (the reader reports the ones it does).
        self.misspelt: dict[str, str] = {}
        self.lines = lines
        self._mentions: _Mentions | None = None  # built when first asked
        self._learn(lines)

    def _learn(self, lines: list[str]) -> None:
        """Chat speakers that are neither in the cast nor upper case count when the name
        speaks twice, or when the text is clearly a transcript: two or more chat lines, with
        a confirmed cue among them or two different names talking."""
        if any(len(line) > 1 and line.startswith("@") and not line[1].isspace() for line in lines):
            # A text that forces its cues with `@` writes its speeches as Fountain; a line like
            # `字幕：一年前` or `屏幕上写着：…` in it is action, not a speaker talking.
            return
        candidates: Counter[str] = Counter()
        spelling: dict[str, str] = {}
        confirmed = 0
        for line in lines:
            chat = _chat_split(_unwrap(line).text)
            if chat is None:
                continue
            name = _split_extension(chat[0])[0]
            if self.known(name) or _looks_like_upper_cue(name):
                confirmed += 1
            elif _looks_like_name(name):
                candidates[_name_key(name)] += 1
                spelling.setdefault(_name_key(name), name)
        repeated = max(candidates.values(), default=0) >= 2
        exchange = len(candidates) >= 2
        transcript = confirmed + candidates.total() >= 2 and bool(confirmed or repeated or exchange)
        for key, count in candidates.items():
            if count >= 2 or transcript:
                self.seen[key] = _cue_spelling(spelling[key])

    def known(self, name: str) -> str | None:
        key = _name_key(name)
        return self.cast.get(key) or self.seen.get(key) or self._misspelt(name, key)

    def _misspelt(self, name: str, key: str) -> str | None:
        """The cast member an upper-case cue misspells by one letter (`ROTH` for RUTH, `AMS`
        for AMOS), when exactly one is that close: a model asked for these characters slips
        a letter far more often than it brings in a near-namesake."""
        if len(key) < 3 or not _looks_like_upper_cue(name):
            return None
        close = [spelling for member, spelling in self.cast.items() if _one_edit(key, member)]
        if len(close) != 1:
            return None
        self.misspelt[_split_extension(name)[0].strip()] = close[0]
        return close[0]

    def cue(self, name: str, in_block: bool) -> str | None:
        """The cue spelling of `name` when it may be a speaker here, else None. Inside a
        dialogue block an unknown upper-case line is a cue only if the same capitals appear
        elsewhere too (`MARA walks. TOM follows.`, or another cue); alone, it is more likely
        a shouted line (`STOP`)."""
        known = self.known(name)
        if known is not None:
            return known
        if not _looks_like_upper_cue(name):
            return None
        if in_block:
            if self._mentions is None:
                names = (_cue_words(_unwrap(line))[0] for line in self.lines)
                self._mentions = _Mentions("\n".join(self.lines), names)
            return name if self._mentions.count(name) >= 2 else None
        return name


class _Mentions:
    """How often each name that a line of the text could give a cue stands in the text as words
    of its own (no letter, digit or `_` glued to either end), counted as `re.findall` counts:
    left to right, never overlapping.

    Found for all the names in one pass, through a trie of their tokens (runs of word
    characters, and single other characters); a cue is at most 32 characters, so a walk is
    short. Searching the whole text again for each doubtful capital line was quadratic."""

    def __init__(self, text: str, names: Iterable[str]) -> None:
        self.text = text
        self.at: dict[str, list[int]] = {}
        trie: dict[str, Any] = {}
        for name in names:
            if name in self.at or not _looks_like_upper_cue(name):
                continue
            self.at[name] = []
            node = trie
            for token in _TOKEN.findall(name):
                node = node.setdefault(token, {})
            node[""] = name  # no token is empty: the key marks where a name ends
        if trie:
            firsts = "".join(sorted({key[0] for key in trie}))
            for start in re.finditer(rf"(?<!\w)[{re.escape(firsts)}]", text):
                self._walk(trie, start.start())

    def _walk(self, node: dict[str, Any], start: int) -> None:
        at = start
        while at < len(self.text):
            word = _TOKEN.match(self.text, at, at + _MAX_CUE + 1)
            assert word is not None
            child = node.get(word.group())
            if child is None:
                return
            node, at = child, word.end()
            ends_word = at == len(self.text) or not _is_word(self.text[at])
            if "" in node and ends_word:
                self.at[node[""]].append(start)

    def count(self, name: str) -> int:
        starts = self.at.get(name)
        if starts is None:  # not a name any line gives: searched for once
            return len(re.findall(rf"(?<!\w){re.escape(name)}(?!\w)", self.text))
        count, free = 0, 0
        for start in starts:
            if start >= free:
                count, free = count + 1, start + len(name)
        return count


_TOKEN = re.compile(r"\w+|\W")
_MAX_CUE = 32


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


# --- reading lines into elements --------------------------------------------------------------

_LEADING_WRYLY = re.compile(r"^[*_]{0,3}([(（][^()（）]{1,80}[)）])[*_]{0,3}\s*(.*)$")
# `*shrugs* Whatever.`: a short beat in italics before a new sentence is a wryly (but in
# `*Really* now?` the italics are emphasis).
_LEADING_BEAT = re.compile(r"^\*(?!\s)([^*]{1,30}?)(?<!\s)\*\s+(\S.*)$")
_QUOTED = re.compile(r"^[\"“”](?P<inner>[^\"“”]*)[\"“”]$")
_SECTION_LABEL = re.compile(
    r"^(?:scene|act|part|sequence)\s+(?:\d+|[ivx]+|one|two|three|four|five)\b.{0,60}$",
    re.IGNORECASE,
)


class _Reader:
    """Reads cleaned lines, paragraph by paragraph, into elements."""

    def __init__(self, speakers: _Speakers, report: _Report) -> None:
        self.speakers = speakers
        self.report = report
        self.elements: list[Element] = []
        # The lines of an action or a speech that grew line by line, joined once at the end:
        # joining them one by one copied the element's text again for each line.
        self.grown: dict[int, list[Text]] = {}
        self.in_block = False
        # Consecutive action lines of one paragraph make one Action element.
        self.action_open = False

    def read(self, lines: list[str]) -> list[Element]:
        paragraphs = _paragraphs(lines)
        for index, paragraph in enumerate(paragraphs):
            following = paragraphs[index + 1] if index + 1 < len(paragraphs) else None
            self.action_open = False
            for position, raw in enumerate(paragraph):
                nxt = paragraph[position + 1] if position + 1 < len(paragraph) else None
                self._line(_unwrap(raw), nxt, following if nxt is None else None)
            # A cue whose speech comes after a blank line keeps its block open.
            self.in_block = bool(self.elements) and isinstance(self.elements[-1], Character)
        for index, grown_lines in self.grown.items():
            grown = self.elements[index]
            assert isinstance(grown, Action | Dialogue)
            self.elements[index] = type(grown)(Text.join_lines(grown_lines))
        return self.elements

    def _grow(self, text: Text) -> None:
        """Add a line to the action or speech that is the last element."""
        last = self.elements[-1]
        assert isinstance(last, Action | Dialogue)
        self.grown.setdefault(len(self.elements) - 1, [last.text]).append(text)

    def _line(self, line: _Line, nxt: str | None, following: list[str] | None) -> None:
        self._note_markup(line)
        text = line.text
        if re.fullmatch(r"={3,}", text):
            self._close(PageBreak())
            return
        centered = _centered(text)
        if centered is not None:
            self._close(Centered(_rich(centered)))
            return
        heading = _scene_heading(text)
        if heading is not None:
            if heading.text != text.strip().lstrip(".").upper():
                self.report.change("put scene headings in the INT. PLACE - TIME form")
            self._close(heading)
            return
        transition = _transition(text)
        if transition is not None:
            self._close(transition)
            return
        if self._chat_cue(text) or self._standalone_cue(line, nxt, following):
            return
        if line.markdown_level or (line.wrapper == "bold" and _SECTION_LABEL.match(text)):
            self._close(Section(_plain(text), max(line.markdown_level, 1)))
            self.report.change("kept markdown titles as sections")
            return
        if self.in_block and self._speech(line):
            return
        self._action(line)

    def _note_markup(self, line: _Line) -> None:
        if line.listed:
            self.report.change("removed list markers")
        if line.quoted:
            self.report.change("removed markdown quote markers")
        if line.markdown_level:
            self.report.change("removed markdown heading marks")

    # -- cues --

    def _chat_cue(self, text: str) -> bool:
        chat = _chat_split(text)
        if chat is None:
            return False
        written, rest = chat
        name, extension_words = _split_extension(written)
        # `NAME: line` is a cue wherever it stands; only a bare upper-case line is doubtful.
        cue = self.speakers.cue(name, in_block=False)
        if cue is None:
            return False
        extension = _extension(extension_words)
        self._open_cue(Character(cue, extension), name)
        if extension_words is not None and extension is None:
            self._append(Parenthetical(f"({extension_words})"))
            self.report.change("moved inline parentheticals onto their own line")
        self.report.change("turned 'NAME: line' chat lines into cues and dialogue")
        if rest:
            self._speech_text(rest)
        return True

    def _standalone_cue(self, line: _Line, nxt: str | None, following: list[str] | None) -> bool:
        written = line.text.rstrip(":：").strip()
        forced = written.startswith("@")
        name, extension_words = _cue_words(line)
        extension = _extension(extension_words)
        if extension_words is not None and extension is None:
            return False
        speech = nxt if nxt is not None else (following[0] if following else None)
        if speech is None or _is_structural(speech):
            return False
        cue = self.speakers.known(name) or (name if forced else None)
        if cue is None and nxt is not None:
            # Bold, a colon or an extension mark a cue even where a blank line is missing.
            marked = line.wrapper == "bold" or written != line.text or extension is not None
            cue = self.speakers.cue(name, self.in_block and not marked)
        elif cue is None and written != line.text and _looks_like_upper_cue(name):
            # `MARA:` alone, its speech after a blank line.
            cue = name
        if cue is None:
            return False
        if cue != name or line.wrapper or written != line.text:
            self.report.change("turned bold, lower-case or colon cues into plain cues")
        self._open_cue(Character(cue, extension), name)
        return True

    def _open_cue(self, cue: Character, written: str) -> None:
        """Open a speech under `cue`, read from the `written` name."""
        if self.speakers.misspelt.get(written.strip()) == cue.name:
            self.report.change(
                f"read the cue {written.strip()} as {cue.name} (a misspelt name of the cast)"
            )
        self.elements.append(cue)
        self.in_block = True

    # -- inside a dialogue block --

    def _speech(self, line: _Line) -> bool:
        """A line inside a dialogue block: a wryly, speech, or action the model forgot to
        separate (a stage direction in italics or brackets, `Mara grabs her coat.`)."""
        text = line.text
        wryly = re.fullmatch(r"[(（][^()（）]{1,60}[)）]", text)
        right_after_cue = isinstance(self.elements[-1] if self.elements else None, Character)
        if re.fullmatch(r"[(（][^()（）]+[)）]", text) and right_after_cue:
            # Between a cue and its first line, anything in parentheses is a wryly, however long.
            self._append(Parenthetical(text))
            return True
        if wryly and len(text.split()) <= 6 and not text.rstrip(")）").endswith("."):
            self._append(Parenthetical(text))
            return True
        if line.wrapper in {"italic", "brackets"} or wryly or self._narrates(text):
            return False
        self._speech_text(f"**{text}**" if line.wrapper == "bold" else text)
        return True

    def _narrates(self, text: str) -> bool:
        """`Mara grabs her coat.`: a known speaker, then a verb in the third person."""
        match = re.match(r"^([\w'’.\- ]{1,30}?) ([a-z]+s)\b", text)
        return (
            match is not None
            and self.speakers.known(match.group(1)) is not None
            and match.group(2) not in {"is", "was", "has", "does"}
        )

    def _speech_text(self, text: str) -> None:
        wryly = _LEADING_WRYLY.match(text)
        beat = _LEADING_BEAT.match(text)
        if wryly:
            self._append(Parenthetical(wryly.group(1)))
            self.report.change("moved inline parentheticals onto their own line")
            text = wryly.group(2).strip()
        elif beat and len(beat.group(1).split()) <= 4 and beat.group(2)[0].isupper():
            self._append(Parenthetical(f"({beat.group(1).strip()})"))
            self.report.change("moved inline parentheticals onto their own line")
            text = beat.group(2).strip()
        quoted = _QUOTED.match(text)
        if quoted and quoted.group("inner").strip():
            text = quoted.group("inner").strip()
            self.report.change("removed quotation marks around dialogue")
        if text:
            self._append(Dialogue(_rich(text)))

    def _append(self, element: Parenthetical | Dialogue) -> None:
        last = self.elements[-1] if self.elements else None
        if isinstance(element, Dialogue) and isinstance(last, Dialogue):
            self._grow(element.text)
        else:
            self.elements.append(element)

    # -- everything else --

    def _action(self, line: _Line) -> None:
        direction = self.in_block and line.wrapper in {"italic", "brackets"}
        if direction:
            self.report.change("turned stage directions inside dialogue into action")
        elif line.wrapper == "brackets":
            self.report.change("removed square brackets around stage directions")
        self.in_block = False
        text = line.text
        if text.startswith("!"):
            text = text[1:]
        if line.wrapper == "bold":
            text = f"**{text}**"
        elif line.wrapper == "italic" and not direction:
            text = f"*{text}*"
        last = self.elements[-1] if self.elements else None
        if self.action_open and isinstance(last, Action):
            self._grow(_rich(text))
        else:
            self.elements.append(Action(_rich(text)))
        self.action_open = True

    def _close(self, element: Element) -> None:
        self.in_block = False
        self.elements.append(element)


# --- inline text ------------------------------------------------------------------------------

_STARS = re.compile(r"(?<!\\)\*+")


def _balance_stars(text: str) -> str:
    """Drop `*` markers that cannot pair up (`She *really wants to go.`): an odd number of
    runs of asterisks on a line means at least one is stray, and a stray one would italicise
    the rest of the line."""
    runs = _STARS.findall(text)
    if len(runs) % 2 == 0:
        return text
    return _STARS.sub("", text)


def _rich(text: str) -> Text:
    return parse_inline(_balance_stars(text))


def _plain(text: str) -> str:
    return _rich(text).plain.strip()
