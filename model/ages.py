"""The ages a character sheet gives its character, and whether they can all be true.

A sheet states its character's age in its role (`Gudrun's seventeen-year-old son`, `十八岁考生`)
and at the head of its description (`Fifties, a voice like warm syrup`, `48岁，红色羽绒服`), and
the writer's request may give one (`a conference interpreter in her 40s`). The shipped model
writes sheets that give two or three ages that cannot all hold (`身份：女主（70岁）… 外形：34岁`,
11 of 18 Chinese sheets in session 19's blind read) or one the request rules out (a
seventeen-year-old described as `Ten winters`); `conflict` finds them.

An age is read as a span of years: `Nineteen` 19 to 19, `30s` 30 to 39, `mid-40s` 43 to 47,
`四十多岁` 41 to 49, `三十出头` 30 to 33. Two spans conflict when they lie more than
`_SLACK` years apart (`19` and `20s` agree: a writer rounds). Only the role and the description
are read: a backstory tells of the character younger (`五岁跟爷爷学唢呐`, `at the age of ten`)
and the relationships of other people's ages.

Reading costs time linear in the text; it knows nothing of prompts, models or rooms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

#: Years two stated ages may lie apart and still describe one person (rounding, "about").
_SLACK = 3

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_DECADE_WORDS = {f"{word[:-1]}ies": value for word, value in _TENS.items()}
_UNIT_WORD = "|".join(_UNITS)
_TENS_WORD = "|".join(_TENS)
#: An English number of years, in digits or words (`17`, `seventeen`, `forty-two`).
_NUMBER = rf"(?:\d{{1,3}}|(?:{_TENS_WORD})(?:[- ](?:{_UNIT_WORD}))?|{_UNIT_WORD})"
_PART = r"(?:(?P<{}>early|mid|late)[- ]?)?"
_ENGLISH = re.compile(
    # `17-year-old`, `six years old`, `aged 40`, `age 12`
    rf"\b(?P<exact>{_NUMBER})[- ]years?[- ]old\b"
    rf"|\bage(?:d)?\s+(?P<aged>{_NUMBER})\b"
    # `30s`, `mid-40s`, `late sixties`, `in her early 20s` (not `'80s`, not `1980s`)
    rf"|(?<!['’\w]){_PART.format('part')}(?P<decade>\d0)['’]?s\b"
    rf"|\b{_PART.format('word_part')}(?P<decade_word>{'|'.join(_DECADE_WORDS)})\b",
    re.IGNORECASE,
)
#: A bare number opening a description (`Nineteen, headset`, `45; a wary smile`): the corpus's
#: way of giving the age first.
_LEADING = re.compile(rf"^\s*(?P<lead>{_NUMBER})\s*(?:[,;:.(]|$)", re.IGNORECASE)

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_ZH_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_ZH_NUMBER = r"[0-9０-９]{1,4}|[零〇一二两三四五六七八九十百]{1,5}"
#: `48岁`, `（70岁）`, `四十多岁`, `五十来岁`, `三十几岁`, `三十出头`, `二十五六岁`.
_CHINESE = re.compile(
    rf"(?P<number>{_ZH_NUMBER})"
    r"(?P<about>多|来|几)?(?:周?岁|(?P<early>出头))"
)


@dataclass(frozen=True, slots=True)
class Age:
    """A stated age: the years it allows, `low` to `high`, and the words that state it."""

    low: int
    high: int
    said: str

    def apart(self, other: Age) -> int:
        """Years between the two spans; 0 when they overlap."""
        return max(self.low - other.high, other.low - self.high, 0)


#: Words just before an English age that tie it to a moment or to someone else, not to the
#: character now: `at thirty-four`, `from her thirties to her seventies`, `plaques from the
#: eighties`, `mother of a 12-year-old`.
_ENGLISH_ASIDE = frozenset(
    ["at", "when", "by", "until", "till", "since", "from", "to", "through", "the", "of", "with"]
)
_WORDS_BEFORE = re.compile(r"([A-Za-z]+)\W+(?:(?:his|her|their|a|an)\W+)?$")
#: A Chinese age tied to a moment (`二〇二四年58岁`, `回到二〇〇九年时44岁`, `上辈子37岁`,
#: `重生后27岁`, `八岁时`, `十岁那年`) or to a relative (`五岁的女儿`).
_CHINESE_DATED_BEFORE = re.compile(r"(?:年|时|后|前|辈子|那年|当年)\s*$")
_CHINESE_DATED_AFTER = re.compile(
    r"(?:时|那年|的时候|那会|起|开始|以前|以后|之前|之后|前|后"
    r"|的(?:女儿|儿子|孙子|孙女|外孙|弟弟|妹妹|哥哥|姐姐|孩子|侄子|侄女))"
)


def ages(text: str) -> list[Age]:
    """Every age `text` states as the character's now, in order: not one tied to a moment of
    the past or of another time line (`at thirty-four`, `二〇〇九年18岁`, `重生后27岁`) or to
    someone else (`mother of a 12-year-old`, `五岁的女儿`)."""
    found = [
        age
        for match in _ENGLISH.finditer(text)
        if not _english_aside(text, match.start()) and (age := _english(match))
    ]
    found += [
        age
        for match in _CHINESE.finditer(text)
        if not _CHINESE_DATED_BEFORE.search(text, max(0, match.start() - 8), match.start())
        and not _CHINESE_DATED_AFTER.match(text, match.end())
        and (age := _chinese(match))
    ]
    return found


def _english_aside(text: str, start: int) -> bool:
    before = _WORDS_BEFORE.search(text, max(0, start - 24), start)
    return before is not None and before.group(1).lower() in _ENGLISH_ASIDE


def leading_age(description: str) -> Age | None:
    """The age a description opens on as a bare number (`Nineteen, …`), if it does."""
    match = _LEADING.match(description)
    if match is None:
        return None
    years = _english_number(match.group("lead"))
    return Age(years, years, match.group("lead").strip()) if years is not None else None


def sheet_ages(role: str, description: str) -> list[Age]:
    """The ages a sheet gives its character: those its role and description state, and the
    bare number its description may open on."""
    found = ages(role) + ages(description)
    lead = leading_age(description)
    if lead is not None and not any(age.said in lead.said for age in found):
        found.append(lead)
    return found


def opening(asked: str, *, chinese: bool) -> str:
    """The age a character's description opens on, as the corpus writes it (`Seventeen`,
    `18岁`), when the writer's request `asked` states one number of years (`a seventeen-year-old
    learner driver`, `十八岁考生`), or "" when it states none, a span (`in her 40s`) or more than
    one: every sheet of the corpus whose role gives an exact age opens its description on it."""
    found = {(age.low, age.high) for age in ages(asked)}
    if len(found) != 1:
        return ""
    low, high = found.pop()
    if low != high or not 0 < low < 120:
        return ""
    if chinese:
        return f"{low}岁"
    return _english_words(low).capitalize()


def _english_words(years: int) -> str:
    """`17` → `seventeen`, `42` → `forty-two`; digits from 100 up."""
    if years in _UNIT_WORDS:
        return _UNIT_WORDS[years]
    if years >= 100:
        return str(years)
    head, unit = _TENS_WORDS[years - years % 10], years % 10
    return f"{head}-{_UNIT_WORDS[unit]}" if unit else head


_UNIT_WORDS = {value: word for word, value in _UNITS.items()}
_TENS_WORDS = {value: word for word, value in _TENS.items()}


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two ages that cannot both hold: `stated` by the sheet, `other` by the sheet too or, when
    `asked`, by the writer's request."""

    stated: Age
    other: Age
    asked: bool


def conflict(sheet: Iterable[Age], asked: Iterable[Age] = ()) -> Conflict | None:
    """The first pair of ages that lie more than `_SLACK` years apart: the writer's first,
    then the sheet's own; None when every age the sheet gives fits every other one."""
    sheet, asked = list(sheet), list(asked)
    for wanted in asked:
        for stated in sheet:
            if stated.apart(wanted) > _SLACK:
                return Conflict(stated, wanted, asked=True)
    for i, first in enumerate(sheet):
        for second in sheet[i + 1 :]:
            if first.apart(second) > _SLACK:
                return Conflict(second, first, asked=False)
    return None


def _english(match: re.Match[str]) -> Age | None:
    said = match.group(0)
    for group in ("exact", "aged"):
        if match.group(group):
            years = _english_number(match.group(group))
            return Age(years, years, said) if years is not None else None
    if match.group("decade"):
        decade = int(match.group("decade"))
    else:
        decade = _DECADE_WORDS[match.group("decade_word").lower()]
    low, high = {"early": (0, 3), "mid": (3, 7), "late": (6, 9)}.get(
        (match.group("part") or match.group("word_part") or "").lower(), (0, 9)
    )
    return Age(decade + low, decade + high, said)


def _english_number(words: str) -> int | None:
    words = words.strip().lower()
    if words.isdigit():
        return int(words)
    parts = re.split(r"[- ]", words)
    tens = _TENS.get(parts[0])
    if tens is not None:
        return tens + (_UNITS.get(parts[1], 0) if len(parts) > 1 else 0)
    return _UNITS.get(parts[0])


def _chinese(match: re.Match[str]) -> Age | None:
    number, said = match.group("number"), match.group(0)
    years = _zh_number(number)
    if years is None:
        # 二十五六岁: 25 or 26, a number and the digit after its last.
        head = _zh_number(number[:-1]) if len(number) > 1 else None
        if head is None or _ZH_DIGITS.get(number[-1]) != head % 10 + 1:
            return None
        return Age(head, head + 1, said)
    if match.group("about"):
        # 四十多岁: a round number and some; 十几岁: from ten to nineteen.
        step = 10 if years % 10 == 0 else 1
        return Age(years + 1, years + step - 1, said) if step > 1 else Age(years, years, said)
    if match.group("early"):
        return Age(years, years + 3, said)
    return Age(years, years, said)


def _zh_number(text: str) -> int | None:
    """`48`, `４８`, `四十八`, `十八`, `一百零五` as a number; None for what is not one."""
    if text[0].isdigit():
        return int(text.translate(_FULL_WIDTH))
    if "百" in text:
        hundreds, _, rest = text.partition("百")
        head = _ZH_DIGITS.get(hundreds, 1 if not hundreds else -1)
        tail = _zh_number(rest.lstrip("零〇")) if rest.lstrip("零〇") else 0
        return None if head < 0 or tail is None else head * 100 + tail
    if "十" in text:
        tens, _, units = text.partition("十")
        if "十" in units or len(tens) > 1 or len(units) > 1:
            return None
        head = _ZH_DIGITS.get(tens, 1 if not tens else -1)
        tail = _ZH_DIGITS.get(units, 0 if not units else -1)
        return None if head < 0 or tail < 0 else head * 10 + tail
    if len(text) == 1:
        return _ZH_DIGITS.get(text)
    return None
