"""The Chinese screenplay convention (中文剧本) as text: `parse_zh` reads it, `to_zh` writes it.

Chinese film, TV and short-drama (短剧) scripts have no formal standard; this module reads the
common forms (shared/FORMATS.md) line by line into the library's document model, and writes any
document back in them:

- scene headings in their varying orders, `1-1 日 内 客厅`, `第3场 夜 外 村口`, `3. 茶馆 夜 内`,
  `内景 茶馆 夜`, `场景一：医院走廊 日 内`, become a `SceneHeading` whose text is the line as
  written (so it reads the same in every format) and whose number is the scene number the line
  gives (`1-1`, `3`; Chinese numerals as digits). `read_heading` takes one apart: number, times
  of day (日/夜/晨/黄昏…), settings (内/外/内外) and the place, for lint and stats;
- `第1集` / `第一集 归来` episode headings become level-1 `Section`s (structure, as in Fountain);
- a cast line `人物：陈伯、小梅` is kept as an `Action` with its words: Chinese scripts print it,
  so every format prints it, and lint reads it to check who speaks in the scene (`scene_cast`);
- `△`/`▲` lines and plain paragraphs are `Action`, the mark kept in the text as written;
- `陈伯（画外音）：（压低声音）打烊了。` is a `Character` (extension `画外音`), a `Parenthetical`
  and `Dialogue`; full-width or ASCII colon and parentheses. The wryly is kept as `(压低声音)`,
  in the ASCII parentheses every other format writes (Fountain and FDX know no other), and
  written back full-width when it holds Chinese;
- `切至：`, `闪回`, `闪回结束`, `叠化`, `淡出。`… alone on a line are `Transition`s.

A title block (`《片名》` on the first line, then `编剧：…` lines) is the title page. Elements the
convention has no form for are written as Fountain writes them, and read back: `> 剧终 <`
(centred), `~` lyrics, `===` page break, `# 第一幕` sections, `= ` synopses, `[[notes]]` and
`/* boneyard */`. Emphasis is not part of the convention and is not written.

`to_zh` writes one element a line and a blank line before each scene and episode heading, so
text written that way reads back and writes out unchanged. Hollywood elements are mapped:
`INT. HOUSE - DAY #12#` is written `12. 内景 HOUSE 日`, `CUT TO:` `切至：`, an action line that
would read as something else gets a `△`. Dual dialogue is written as two speeches.

Reading and writing live in one module because they are one job: the writer must produce
exactly what the reader takes back (the round trip is tested), so both share the vocabulary of
headings, times, settings, extensions and transitions defined here.

Every function reads a line at a time with string methods and simple patterns: time is linear in
the input, and no text makes them raise. Knows nothing of pages, fonts or files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

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
    TitleEntry,
    TitlePage,
    Transition,
)

__all__ = [
    "PRINTED_KINDS",
    "ZhHeading",
    "ZhKind",
    "ZhLine",
    "heading_run_on",
    "looks_like_zh",
    "parse_zh",
    "read_heading",
    "scene_cast",
    "to_zh",
    "zh_lines",
]


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


#: Times of day a heading may give (and the continuity words that stand in their place).
TIMES = _words("日 夜 晨 昏 早 晚 午 白天 夜晚 晚上 早上 早晨 清晨 凌晨 黎明 拂晓 日出")
TIMES |= _words("上午 中午 正午 午后 下午 傍晚 黄昏 日落 深夜 半夜 午夜 稍后 同时 连续")
TIMES |= _words("片刻后 片刻之后 随后 接上场 次日 当晚 当天 同一时间 夜里 天亮")
#: Interior / exterior words.
SETTINGS = _words("内 外 内外 外内 内景 外景 内外景 室内 室外")
_SETTING_FIRST = frozenset({"内景", "外景", "内外景"})

#: The characters of the convention's words that traditional Chinese writes otherwise, so that
#: a script typed in traditional characters (`內景 客廳 夜`, `第3場`, `閃回`, `出場人物：`) is
#: read as the simplified one is (the words only: what a script says is kept as written).
_TRADITIONAL = str.maketrans(
    "内场黄闪画时间点备转叠随后当里结续连晓两注", "內場黃閃畫時間點備轉疊隨後當裡結續連曉兩註"
)


def _either_script(words: frozenset[str]) -> frozenset[str]:
    return words | frozenset(word.translate(_TRADITIONAL) for word in words)


TIMES = _either_script(TIMES)
SETTINGS = _either_script(SETTINGS)
_SETTING_FIRST = _either_script(_SETTING_FIRST)

_COLONS = "：:"
_OPEN = "（("
_CLOSE = "）)"
_ACTION_MARKS = "△▲"
_SPACES = " \t\u3000\u00a0"
_SENTENCE = frozenset("。！？!?，,；;")
_NOT_IN_NAME = frozenset('。！？!?，,、；;：:“”"《》△▲[]【】')
_CAST_KEYS = tuple(_either_script(frozenset({"人物", "出场人物", "登场人物", "主要人物"})))
_NOT_SPEAKERS = _either_script(
    frozenset({"时间", "地点", "注", "备注", "场景", "字幕", "画面", "旁注"})
)
#: The longest name read before a colon: Chinese names and roles are short (`穿西装的男人`);
#: anything longer before a colon is a sentence (`门口贴着一张红纸：本店拆迁`).
_MAX_WIDE_NAME = 6
_MAX_NARROW_NAME = 24
_MAX_HEADING = 60

_TRANSITION_WORDS = _words("切至 切到 切 切回 硬切 跳切 叠化 叠至 化入 化出 闪回 闪回结束")
_TRANSITION_WORDS |= _words("闪回完 淡入 淡出 黑场 转场")
_TRANSITION_WORDS = _either_script(_TRANSITION_WORDS)
_HOLLYWOOD_TRANSITIONS = {
    "CUT TO:": "切至：",
    "SMASH CUT TO:": "切至：",
    "MATCH CUT TO:": "切至：",
    "DISSOLVE TO:": "叠化：",
    "FADE IN:": "淡入：",
    "FADE OUT.": "淡出。",
    "FADE OUT:": "淡出。",
    "FADE TO BLACK.": "黑场。",
    "FLASHBACK": "闪回",
    "FLASHBACK:": "闪回",
    "END FLASHBACK": "闪回结束",
    "END FLASHBACK.": "闪回结束",
    "BACK TO PRESENT": "闪回结束",
}
_HOLLYWOOD_PREFIXES = (
    ("INT./EXT.", "内外景"),
    ("EXT./INT.", "内外景"),
    ("INT/EXT.", "内外景"),
    ("INT/EXT", "内外景"),
    ("I/E.", "内外景"),
    ("I/E", "内外景"),
    ("INT.", "内景"),
    ("INT", "内景"),
    ("EXT.", "外景"),
    ("EXT", "外景"),
    ("EST.", "外景"),
    ("EST", "外景"),
)
_HOLLYWOOD_TIMES = {
    "DAY": "日",
    "NIGHT": "夜",
    "MORNING": "晨",
    "DAWN": "黎明",
    "SUNRISE": "日出",
    "NOON": "中午",
    "AFTERNOON": "下午",
    "EVENING": "傍晚",
    "DUSK": "黄昏",
    "SUNSET": "日落",
    "MIDNIGHT": "午夜",
    "LATER": "稍后",
    "MOMENTS LATER": "稍后",
    "CONTINUOUS": "连续",
    "SAME TIME": "同时",
}
#: Title-page keys as the convention writes them, by the keys of the model (Fountain's).
_TITLE_KEYS = {
    "credit": "署名",
    "author": "编剧",
    "authors": "编剧",
    "source": "原著",
    "draft date": "日期",
    "contact": "联系方式",
    "copyright": "版权",
    "notes": "备注",
}
#: Hollywood credit lines that the convention's `编剧：` label already says.
_SAID_BY_BIANJU = frozenset({"written by", "screenplay by", "script by", "teleplay by"})
_TITLE_KEYS_READ = {
    "署名": "Credit",
    "编剧": "Author",
    "原著": "Source",
    "日期": "Draft date",
    "联系方式": "Contact",
    "版权": "Copyright",
    "备注": "Notes",
}

_NUMERALS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_NUMERALS |= {"六": 6, "七": 7, "八": 8, "九": 9, "兩": 2}
_BARE_NUMBER = re.compile(r"[0-9]{1,4}(?:-[0-9]{1,4}){0,2}[A-Za-z]?[.、．]?")
_GLUED_NUMBER = re.compile(r"([0-9]{1,4}(?:-[0-9]{1,4}){0,2}[A-Za-z]?)[.、．](?=[^0-9])")
_EPISODE = re.compile(r"第([0-9]{1,4}|[零〇一二两兩三四五六七八九十百]{1,6})集")
_SCENE_WORD = re.compile(r"第([0-9]{1,4}|[零〇一二两兩三四五六七八九十百]{1,6})[场場]")
_SCENE_LABEL = re.compile(r"[场場]景?([0-9]{1,4}|[零〇一二两兩三四五六七八九十百]{1,6})")


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZhHeading:
    """A scene heading of the convention taken apart: `number` as digits (`1-1`, `3`) or None,
    the times of day and the interior/exterior words it gives, and the place (the other words)."""

    number: str | None
    times: tuple[str, ...]
    settings: tuple[str, ...]
    place: str


def read_heading(line: str) -> ZhHeading | None:
    """The parts of `line` when it is a scene heading of the convention, else None."""
    line = line.strip(_SPACES)
    if not line or len(line) > _MAX_HEADING or any(ch in _SENTENCE for ch in line):
        return None
    tokens = line.split()
    number, labelled, rest = _heading_number(tokens)
    times: list[str] = []
    settings: list[str] = []
    place: list[str] = []
    for token in rest:
        found = _time_and_setting(token)
        if found is None:
            place.append(token)
        else:
            times.extend(found[0])
            settings.extend(found[1])
    if any(ch in _COLONS for token in place for ch in token):
        return None
    heading = ZhHeading(number, tuple(times), tuple(settings), " ".join(place))
    if labelled:
        return heading if rest else None
    if number is not None:
        return heading if times or settings else None
    if rest and rest[0] in _SETTING_FIRST and len(rest) >= 2:
        return heading
    return heading if times and settings and len(rest) >= 2 else None


def heading_run_on(line: str) -> bool:
    """Whether `line` opens as a scene heading of the convention (`内景 `, `外景 `) that ran on
    into the action, so that it reads as neither: `内景 县一中 正在下雨，门开着。` (a sentence
    mark, no line break after the place and the time). An action line marked `△` is the
    writer's action, whatever it opens on."""
    parts = line.strip(_SPACES).split(maxsplit=1)
    return len(parts) == 2 and parts[0] in _SETTING_FIRST and read_heading(line) is None


def _heading_number(tokens: list[str]) -> tuple[str | None, bool, list[str]]:
    """The scene number the first token gives, whether it was a `第3场`/`场景一` label, and the
    tokens after it."""
    if not tokens:
        return None, False, tokens
    first = tokens[0]
    if _BARE_NUMBER.fullmatch(first):
        return first.rstrip(".、．"), False, tokens[1:]
    glued = _GLUED_NUMBER.match(first)
    if glued:  # `12A、茶馆`
        return glued.group(1), False, [first[glued.end() :], *tokens[1:]]
    head, colon, tail = _split_colon(first)
    for pattern in (_SCENE_WORD, _SCENE_LABEL):
        match = pattern.fullmatch(head)
        if match and (colon or pattern is _SCENE_WORD):
            rest = ([tail] if tail else []) + tokens[1:]
            return _numeral(match.group(1)), True, rest
    return None, False, tokens


def _split_colon(token: str) -> tuple[str, str, str]:
    for i, ch in enumerate(token):
        if ch in _COLONS:
            return token[:i], ch, token[i + 1 :]
    return token, "", ""


def _time_and_setting(token: str) -> tuple[list[str], list[str]] | None:
    """A token of times and settings (`日`, `内`, `日内`, `夜/外`), split; None for a place."""
    parts = [part for part in token.replace("/", " ").replace("／", " ").split() if part]
    times: list[str] = []
    settings: list[str] = []
    for part in parts:
        if _time_word(part):
            times.append(part)
        elif part in SETTINGS:
            settings.append(part)
        elif len(part) <= 5:
            split = _joined(part)
            if split is None:
                return None
            times.append(split[0])
            settings.append(split[1])
        else:
            return None
    return (times, settings) if parts else None


def _time_word(part: str) -> bool:
    """A time of day: one of `TIMES`, or a short word ending in one (`除夕夜`, `次日清晨`) or in
    时 (`子时`, `午时`)."""
    if part in TIMES:
        return True
    return 2 <= len(part) <= 4 and (part[-1] in "夜时時" or part[-2:] in TIMES)


def _joined(part: str) -> tuple[str, str] | None:
    """`日内` -> (`日`, `内`), `外夜` -> (`夜`, `外`)."""
    for cut in range(1, len(part)):
        left, right = part[:cut], part[cut:]
        if left in TIMES and right in SETTINGS:
            return left, right
        if left in SETTINGS and right in TIMES:
            return right, left
    return None


def _numeral(text: str) -> str | None:
    """`12` -> `12`; `十二` -> `12`, `一百零三` -> `103`; None when it is not a number."""
    if text.isdigit():
        return str(int(text))
    total, digit = 0, 0
    for ch in text:
        if ch in _NUMERALS:
            digit = _NUMERALS[ch]
        elif ch == "十":
            total += (digit or 1) * 10
            digit = 0
        elif ch == "百":
            total += (digit or 1) * 100
            digit = 0
        else:
            return None
    total += digit
    return str(total) if total else None


def _episode(line: str) -> bool:
    match = _EPISODE.match(line)
    if match is None:
        return False
    after = line[match.end() :]
    return not after or after[0] in _SPACES or after[0] in _COLONS


def _cast_line(line: str) -> bool:
    head, colon, _ = line.partition("：") if "：" in line else line.partition(":")
    return bool(colon) and head.strip(_SPACES) in _CAST_KEYS


def _transition(line: str) -> str | None:
    """The transition `line` is, or None."""
    if line.rstrip("：:。.") in _TRANSITION_WORDS:
        return line
    if line.isascii() and line.isupper() and line.endswith("TO:"):
        return line
    if line.startswith(">") and not line.endswith("<"):
        return line[1:].strip(_SPACES) or None
    return None


@dataclass(frozen=True, slots=True)
class _Speech:
    name: str
    extension: str | None
    parenthetical: str | None
    dialogue: str


def _speech(line: str) -> _Speech | None:
    """`陈伯（画外音）：（压低声音）打烊了。` taken apart, or None when `line` is not a speech."""
    cut = -1
    for i, ch in enumerate(line):
        if ch in _COLONS:
            cut = i
            break
        if ch in _NOT_IN_NAME or i > _MAX_NARROW_NAME + 12:
            return None
    if cut <= 0:
        return None
    name, extension = _name_and_extension(line[:cut].strip(_SPACES))
    if name is None:
        return None
    rest = line[cut + 1 :].strip(_SPACES)
    parenthetical = None
    if rest[:1] and rest[0] in _OPEN:
        close = next((i for i, ch in enumerate(rest) if ch in _CLOSE), -1)
        if close > 0:
            # Kept in ASCII parentheses, as every other format writes a wryly; `to_zh` gives a
            # Chinese one its full-width parentheses back.
            parenthetical = f"({rest[1:close].strip(_SPACES)})"
            rest = rest[close + 1 :].strip(_SPACES)
    return _Speech(name, extension, parenthetical, rest)


def _name_and_extension(cue: str) -> tuple[str | None, str | None]:
    extension = None
    if cue[-1:] and cue[-1] in _CLOSE:
        opened = max(cue.rfind("（"), cue.rfind("("))
        if opened <= 0:
            return None, None
        extension = cue[opened + 1 : -1].strip(_SPACES) or None
        cue = cue[:opened].strip(_SPACES)
    if not cue or cue in _NOT_SPEAKERS or cue.isdigit() or cue[0] in _OPEN:
        return None, None
    if any(ch in _OPEN or ch in _CLOSE for ch in cue):
        return None, None
    limit = _MAX_NARROW_NAME if cue.isascii() else _MAX_WIDE_NAME
    if len(cue) > limit or len(cue.split()) > 3:
        return None, None
    if extension is not None and any(ch in _OPEN or ch in _CLOSE for ch in extension):
        return None, None
    return cue, extension


def _forced_heading(line: str) -> bool:
    return len(line) > 1 and line[0] == "." and line[1] not in ".．。"


def _note(line: str) -> str | None:
    if line.startswith("[[") and line.endswith("]]") and len(line) >= 4:
        inner = line[2:-2]
        return inner if "[[" not in inner and "]]" not in inner else None
    return None


def parse_zh(text: str) -> Document:
    """Read a script written in the Chinese convention (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title_page, start = _title_page(lines)
    return Document(title_page, tuple(_read_lines(lines, start)))


def _title_page(lines: list[str]) -> tuple[TitlePage, int]:
    """The title block (`《片名》`, then `key：value` lines up to a blank line) and where the
    script starts after it."""
    first = 0
    while first < len(lines) and not lines[first].strip(_SPACES):
        first += 1
    if first == len(lines):
        return TitlePage(), 0
    title = lines[first].strip(_SPACES)
    if not (title.startswith("《") and title.endswith("》") and len(title) >= 2):
        return TitlePage(), 0
    entries: list[tuple[str, list[str]]] = [("Title", [title[1:-1]])]
    row = first + 1
    while row < len(lines) and lines[row].strip(_SPACES):
        line = lines[row]
        stripped = line.strip(_SPACES)
        head, colon, value = _split_colon(stripped)
        if line[:1] in _SPACES and entries[-1][0] != "Title":
            entries[-1][1].append(stripped)
        elif colon and head.strip(_SPACES):
            key = head.strip(_SPACES)
            entries.append((_TITLE_KEYS_READ.get(key, key), [value.strip(_SPACES)]))
        else:
            return TitlePage(), 0
        row += 1
    page = TitlePage(
        tuple(TitleEntry(key, Text.of("\n".join(v for v in value if v))) for key, value in entries)
    )
    return page, row


def _elements(lines: list[str], start: int) -> Iterator[Element]:
    row = start
    lyrics: list[str] = []
    while row < len(lines):
        line = lines[row].strip(_SPACES)
        row += 1
        if line.startswith("~"):
            lyrics.append(line[1:])
            continue
        if lyrics:
            yield Lyrics(Text.of("\n".join(lyrics)))
            lyrics = []
        if not line:
            continue
        if line.startswith("/*"):
            body = [line[2:]]
            while not body[-1].endswith("*/") and row < len(lines):
                body.append(lines[row])
                row += 1
            last = body[-1]
            body[-1] = last[:-2] if last.endswith("*/") else last
            yield Boneyard("\n".join(body))
            continue
        yield _element(line)
    if lyrics:
        yield Lyrics(Text.of("\n".join(lyrics)))


def _element(line: str) -> Element:
    """The one element a non-blank, stripped line (outside lyrics and boneyard) is."""
    if line[0] in _ACTION_MARKS:
        return Action(Text.of(line))
    if len(line) >= 3 and line == "=" * len(line):
        return PageBreak()
    if line.startswith("#"):
        level = len(line) - len(line.lstrip("#"))
        return Section(line[level:].strip(_SPACES), min(level, 12))
    if line.startswith("= "):
        return Synopsis(line[2:])
    note = _note(line)
    if note is not None:
        return Note(note)
    if _episode(line):
        return Section(line, 1)
    if _forced_heading(line):
        return SceneHeading(line[1:].strip(_SPACES))
    if line.startswith(">") and line.endswith("<") and len(line) > 2:
        return Centered(Text.of(line[1:-1].strip(_SPACES)))
    transition = _transition(line)
    if transition is not None:
        return Transition(transition)
    heading = read_heading(line)
    if heading is not None:
        return SceneHeading(line, heading.number)
    return Action(Text.of(line))


def _speech_elements(line: str) -> list[Element] | None:
    speech = _speech(line)
    if speech is None:
        return None
    out: list[Element] = [Character(speech.name, speech.extension)]
    if speech.parenthetical:
        out.append(Parenthetical(speech.parenthetical))
    if speech.dialogue:
        out.append(Dialogue(Text.of(speech.dialogue)))
    return out


def _read_lines(lines: list[str], start: int) -> Iterator[Element]:
    for element in _elements(lines, start):
        if isinstance(element, Action) and element.text.plain[:1] not in _ACTION_MARKS:
            speech = (
                None if _cast_line(element.text.plain) else _speech_elements(element.text.plain)
            )
            if speech is not None:
                yield from speech
                continue
        yield element


def scene_cast(elements: Sequence[Element]) -> list[str] | None:
    """The names on the `人物：` line among `elements` (one scene's), or None without one."""
    for element in elements:
        if isinstance(element, Action) and _cast_line(element.text.plain):
            _, _, names = _split_colon(element.text.plain.strip(_SPACES))
            return [n.strip(_SPACES) for n in re.split(r"[、，,；;/]", names) if n.strip(_SPACES)]
    return None


# --- detection ----------------------------------------------------------------------------------

#: Lines looked at to tell the convention from Fountain.
_DETECT_LINES = 400


def looks_like_zh(text: str) -> bool:
    """Whether `text` follows the Chinese convention rather than Fountain: a Chinese scene
    heading and two `名字：台词` lines (or three such lines and no heading at all), and no
    Fountain scene heading (`INT.`/`EXT.`) or `@` cue."""
    headings = speeches = 0
    for count, raw in enumerate(text.splitlines()):
        if count >= _DETECT_LINES:
            break
        line = raw.strip(_SPACES)
        if not line:
            continue
        upper = line[:9].upper()
        if line.startswith("@") or upper.startswith(("INT.", "EXT.", "INT ", "EXT ", "I/E")):
            return False
        if _episode(line) or read_heading(line) is not None:
            headings += 1
        elif _wide(line) and _speech(line) is not None and not _cast_line(line):
            speeches += 1
    return (headings >= 1 and speeches >= 2) or speeches >= 3


def _wide(line: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in line)


# --- writing ----------------------------------------------------------------------------------


ZhKind = Literal[
    "title",
    "title-entry",
    "episode",
    "section",
    "heading",
    "action",
    "speech",
    "transition",
    "centered",
    "lyrics",
    "page-break",
    "unprinted",
]
#: The kinds of line a printed page of the convention shows (PDF and Word in its layout): the
#: title block, episode headings (printed in Chinese scripts, unlike Fountain's sections) and the
#: script; notes, synopses, boneyard and other sections are not printed.
PRINTED_KINDS: frozenset[ZhKind] = frozenset(
    {
        "title",
        "title-entry",
        "episode",
        "heading",
        "action",
        "speech",
        "transition",
        "centered",
        "lyrics",
        "page-break",
    }
)


@dataclass(frozen=True, slots=True)
class ZhLine:
    """One line of a script in the convention and what it is; `to_zh` writes these, and the
    PDF and Word writers print them in the Chinese layout."""

    kind: ZhKind
    text: str


def to_zh(doc: Document) -> str:
    """`doc` in the Chinese convention (see the module docstring); ends with a newline."""
    out: list[str] = []
    title = True
    for line in zh_lines(doc):
        if title and line.kind not in ("title", "title-entry"):
            if out:
                out.append("")
            title = False
        if line.kind in ("heading", "episode", "section") and out and out[-1]:
            out.append("")
        out.append(line.text)
    return "\n".join(out) + "\n" if out else ""


def zh_lines(doc: Document) -> list[ZhLine]:
    """The lines of `doc` in the convention, one element a line (a speech with its wrylies)."""
    out: list[ZhLine] = []
    if doc.title_page:
        out.extend(_title_lines(doc.title_page))
    elements = doc.elements
    i = 0
    while i < len(elements):
        element = elements[i]
        if isinstance(element, Character):
            j = i + 1
            while j < len(elements) and isinstance(elements[j], Parenthetical | Dialogue):
                j += 1
            out.append(ZhLine("speech", _speech_line(element, elements[i + 1 : j])))
            i = j
            continue
        out.extend(_lines(element))
        i += 1
    return out


#: The title line of a title page that has no title (its credits still need the 《》 line to be
#: read as a title block): what a Chinese production calls an untitled script.
UNTITLED = "未命名"


def _title_lines(page: TitlePage) -> Iterator[ZhLine]:
    title = page.get("Title")
    yield ZhLine("title", f"《{(_one_line(title.plain) if title else '') or UNTITLED}》")
    credited = page.get("Author") is not None or page.get("Authors") is not None
    for entry in page.entries:
        key = entry.key.strip()
        if key.lower() == "title":
            continue
        if (
            key.lower() == "credit"
            and credited
            and _one_line(entry.value.plain).lower() in _SAID_BY_BIANJU
        ):
            continue  # `编剧：…` says it; `署名：Written by` would be English on a Chinese page
        values = [v.strip(_SPACES) for v in entry.value.plain.split("\n") if v.strip(_SPACES)]
        zh_key = _TITLE_KEYS.get(key.lower(), _one_line(key).replace("：", "").replace(":", ""))
        yield ZhLine("title-entry", f"{zh_key}：{values[0] if values else ''}")
        yield from (ZhLine("title-entry", f"    {value}") for value in values[1:])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _speech_line(cue: Character, body: Sequence[Element]) -> str:
    name = _one_line(cue.name) or "？"
    head = f"{name}（{_one_line(cue.extension)}）" if cue.extension else name
    pieces: list[str] = []
    for part in body:
        if isinstance(part, Parenthetical):
            pieces.append(_wryly(part.text))
        elif isinstance(part, Dialogue):
            pieces.extend(part.text.plain.split("\n"))
    line = f"{head}：{_run_on(pieces)}"
    # Speech that opens on a bracket reads back as a wryly (`MARA：( 0 )` as `(0)`): written
    # as the reader will take it, so that what is written reads back to itself.
    read = _speech(line)
    if read is not None and read.parenthetical is not None:
        line = f"{head}：{_run_on([_wryly(read.parenthetical), read.dialogue])}"
    return line


def _wryly(text: str) -> str:
    """A parenthetical as the convention writes it: `(压低声音)` -> `（压低声音）`."""
    text = _one_line(text)
    if text[:1] in _OPEN and text[-1:] in _CLOSE and _wide(text):
        return f"（{text[1:-1].strip(_SPACES)}）"
    return text


def _run_on(pieces: Iterable[str]) -> str:
    """Pieces of speech on one line. Words run on in Chinese; a space only between two narrow
    characters (`OK then`). Gathered and joined once, so a long speech costs its length."""
    out: list[str] = []
    last = ""
    for piece in pieces:
        piece = piece.strip(_SPACES)
        if not piece:
            continue
        if last and last[-1].isascii() and piece[0].isascii():
            out.append(" ")
        out.append(piece)
        last = piece
    return "".join(out)


def _lines(element: Element) -> list[ZhLine]:
    if isinstance(element, SceneHeading):
        return [ZhLine("heading", _heading_line(element))]
    if isinstance(element, Section):
        text = _one_line(element.text)
        if _episode(text):
            return [ZhLine("episode", text)]
        return [ZhLine("section", "#" * max(element.level, 1) + " " + text)]
    if isinstance(element, Action):
        lines = element.text.plain.split("\n")
        return [ZhLine("action", _action_line(line)) for line in lines if line.strip(_SPACES)]
    if isinstance(element, Transition):
        return [ZhLine("transition", _transition_line(element.text))]
    if isinstance(element, Parenthetical):
        return [ZhLine("action", _action_line(_wryly(element.text)))]
    if isinstance(element, Dialogue):
        return [ZhLine("action", _action_line(_run_on(element.text.plain.split("\n"))))]
    if isinstance(element, Centered):
        return [ZhLine("centered", f"> {_one_line(element.text.plain)} <")]
    if isinstance(element, Lyrics):
        lines = element.text.plain.split("\n")
        return [ZhLine("lyrics", f"~{line.strip(_SPACES)}") for line in lines]
    if isinstance(element, PageBreak):
        return [ZhLine("page-break", "===")]
    if isinstance(element, Synopsis):
        return [ZhLine("unprinted", f"= {_one_line(element.text)}")]
    if isinstance(element, Note):
        return [ZhLine("unprinted", f"[[{_one_line(element.text)}]]")]
    if isinstance(element, Character):
        return [ZhLine("speech", _speech_line(element, ()))]
    return [ZhLine("unprinted", f"/*{element.text.replace('*/', '* /')}*/")]


def _action_line(line: str) -> str:
    """An action line, marked `△` when it would otherwise read as something else."""
    line = line.strip(_SPACES)
    read = list(_read_lines([line], 0))
    if len(read) == 1 and read[0] == Action(Text.of(line)):
        return line
    return f"△ {line}"


def _transition_line(text: str) -> str:
    text = _one_line(text)
    mapped = _HOLLYWOOD_TRANSITIONS.get(text.upper(), text)
    return mapped if _transition(mapped) == mapped else f"> {mapped}"


def _heading_line(heading: SceneHeading) -> str:
    """The heading as the convention writes it: as written when it reads back as itself, else
    mapped from Hollywood with its number in front (`12. 内景 HOUSE 日`); a number the
    convention cannot write (`3-B`) is left out, and a heading of no known shape is forced with
    a leading `.`, as in Fountain."""
    text = _one_line(heading.text)
    if _reads_as_heading(text, heading.number):
        return text
    zh = _from_hollywood(text) or (text if read_heading(text) is not None else None)
    if zh is not None:
        if heading.number and _reads_as_heading(f"{heading.number}. {zh}", heading.number):
            return f"{heading.number}. {zh}"
        read = read_heading(zh)
        if read is not None and _reads_as_heading(zh, read.number):
            return zh
    return f".{text}"


def _reads_as_heading(line: str, number: str | None) -> bool:
    read = list(_read_lines([line], 0))
    return read == [SceneHeading(line, number)]


def _from_hollywood(text: str) -> str | None:
    """`INT. HOUSE - DAY` -> `内景 HOUSE 日`; None for a heading of another shape."""
    upper = text.upper()
    for prefix, setting in _HOLLYWOOD_PREFIXES:
        if upper.startswith(prefix) and (len(text) == len(prefix) or text[len(prefix)] in " ."):
            rest = text[len(prefix) :].strip(" .")
            place, dash, time = rest.rpartition(" - ")
            if not dash:
                place, time = rest, ""
            time = time.strip()
            words = [setting, place.strip(" -") or "？"]
            if time:
                words.append(_HOLLYWOOD_TIMES.get(time.upper(), time))
            return " ".join(words)
    return None
