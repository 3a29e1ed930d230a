"""The bot's words in every language it speaks: message catalogues and the reader's language.

Every sentence the room shows a writer (replies, ballots, errors, help) is a key in the English
catalogue (`bot.messages.en`) with `str.format` fields, and the same key in the simplified
Chinese one (`bot.messages.zh_cn`); traditional Chinese (zh-TW) is derived from the simplified
text by OpenCC's `s2twp` conversion (Taiwan's characters and wording), with the words Discord's
Taiwanese interface uses instead put in by `bot.messages.zh_tw`. A key missing in a language falls back to English.
`Message` is a key with its fields, rendered late, so an error raised deep in the room service is
worded in the language of whoever reads it; the room's log stores its messages as JSON
(`Message.to_json`), so that `/history` reads in each reader's language too. This module knows languages and catalogues; it does
not know Discord's locales beyond their tags, nor where a message is shown.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

from bot.messages import commands_zh, en, zh_cn, zh_tw

_log = logging.getLogger(__name__)

Lang = Literal["en", "zh-CN", "zh-TW"]

ENGLISH: Final = "en"
SIMPLIFIED: Final = "zh-CN"
TRADITIONAL: Final = "zh-TW"
#: Every language the bot speaks, English first.
LANGS: tuple[Lang, ...] = (ENGLISH, SIMPLIFIED, TRADITIONAL)

# Tags that mean traditional characters; any other Chinese tag reads simplified.
_TRADITIONAL_TAGS = ("zh-tw", "zh-hk", "zh-mo", "zh-hant")


def lang_of(tag: object) -> Lang | None:
    """The language for a locale tag (`zh-CN`, `zh_TW`, `zh`, a `discord.Locale`, `en-US`...);
    None for no tag, so a caller can fall back to another; English for any other language."""
    if tag is None:
        return None
    text = str(getattr(tag, "value", tag)).strip().replace("_", "-").lower()
    if not text:
        return None
    if text == "zh" or text.startswith("zh-"):
        return TRADITIONAL if text.startswith(_TRADITIONAL_TAGS) else SIMPLIFIED
    return ENGLISH


def first_lang(*tags: object) -> Lang:
    """The language of the first tag given that names one (the user's, then the guild's...),
    else English."""
    for tag in tags:
        lang = lang_of(tag)
        if lang is not None:
            return lang
    return ENGLISH


@cache
def _converter(config: str = "s2twp") -> Any:
    import opencc  # imported on first use: an English-only process never loads it

    return opencc.OpenCC(config)


def _simplified(key: str) -> str | None:
    simplified = zh_cn.MESSAGES.get(key)
    return None if simplified is None else _named_in_chinese(simplified)


def _traditional(key: str) -> str | None:
    simplified = _simplified(key)
    return None if simplified is None else _to_traditional(simplified)


#: A command the catalogue names (`/pick`, `/room settings`): a slash that opens a word.
_COMMAND_REFERENCE = re.compile(r"(?<![\w/])/([a-z]+)(?: ([a-z]+)\b)?")
#: One of its options (`take:2`, `（to:12`): a lower-case name that opens a word, then a colon.
_OPTION_REFERENCE = re.compile(r"(?<![\w:/.{<])([a-z_]+):(?=\S)")


@cache
def _named_in_chinese(simplified: str) -> str:
    """A simplified Chinese text whose slash commands and their options are called by the
    names a Chinese Discord client shows (`/pick take:2` -> `/选定 候选稿:2`), which the console
    takes too (`english_command`); the console's own commands (`/vote`) by its names for them."""

    def command(found: re.Match[str]) -> str:
        first, second = found.group(1), found.group(2)
        if second and f"{first} {second}" in commands_zh.COMMAND_NAMES:
            group = commands_zh.COMMAND_NAMES.get(first, first)
            return f"/{group} {commands_zh.COMMAND_NAMES[f'{first} {second}']}"
        named = f"/{_ALL_COMMAND_NAMES.get(first, first)}"
        return f"{named} {second}" if second else named

    def option(found: re.Match[str]) -> str:
        return f"{_ALL_OPTION_NAMES.get(found.group(1), found.group(1))}:"

    return _OPTION_REFERENCE.sub(option, _COMMAND_REFERENCE.sub(command, simplified))


def command_name(path: str, lang: Lang) -> str:
    """A command's name as a reader of `lang` types it (`room settings` -> `编剧室 设置`)."""
    if lang == ENGLISH:
        return path
    first, _, second = path.partition(" ")
    words = [_ALL_COMMAND_NAMES.get(first, first)]
    if second:
        words.append(_ALL_COMMAND_NAMES.get(path, second))
    named = " ".join(words)
    return named if lang == SIMPLIFIED else _to_traditional(named)


def option_name(option: str, lang: Lang) -> str:
    """An option's name as a reader of `lang` types it (`take` -> `候选稿`)."""
    if lang == ENGLISH:
        return option
    named = _ALL_OPTION_NAMES.get(option, option)
    return named if lang == SIMPLIFIED else _to_traditional(named)


def english_command(name: str) -> str:
    """The English path of a command given by its Chinese name (`编剧室 设置` -> `room
    settings`, simplified or traditional); `name` itself when it is no Chinese command name."""
    return _chinese_command_names().get(name, name)


def english_option(name: str) -> str:
    """An option's English name given its Chinese one (`候选稿` -> `take`); else `name`."""
    return _chinese_option_names().get(name, name)


@cache
def chinese_group_names() -> frozenset[str]:
    """The Chinese names (simplified and traditional) of the commands that have subcommands."""
    groups = {path.partition(" ")[0] for path in commands_zh.COMMAND_NAMES if " " in path}
    return frozenset(
        chinese
        for group in groups
        for chinese in _both_scripts(commands_zh.COMMAND_NAMES.get(group, group))
    )


def english_choice(name: str) -> str:
    """A choice's value given the name a Chinese client shows for it (`多数票决定` ->
    `majority`, `美式 Letter` -> `letter`, either script, spaces and case aside); else `name`."""
    return _chinese_choice_names().get(_choice_key(name), name)


def pairs(named: Sequence[tuple[str, object]], lang: Lang) -> str:
    """`option:value` pairs as a reader of `lang` types them back (`候选稿数:3 选稿规则:多数票决定`):
    the option by its name, a choice by its name, a value with a space in quotes."""
    shown = []
    for option, value in named:
        said = str(value)
        if option == "language":
            said = language_name(said, lang)
        elif option in CHOICE_OPTIONS and lang != ENGLISH:
            said = command_text("choice", said, lang) or said
        if any(ch.isspace() or ch == '"' for ch in said):
            said = '"' + said.replace("\\", "\\\\").replace('"', '\\"') + '"'
        shown.append(f"{option_name(option, lang)}:{said}")
    return " ".join(shown)


def language_name(language: str, lang: Lang) -> str:
    """A room's language setting as a reader of `lang` calls it (`Chinese` -> `中文`); a
    language the catalogues do not name, as set."""
    from model.tasks import is_chinese

    if is_chinese(language):
        return text("language.chinese", lang)
    if language.strip().casefold() in ("english", "en"):
        return text("language.english", lang)
    return language


#: Options whose values are slash-command choices (named in Chinese by `commands_zh.CHOICES`):
#: shown by their names, and typed by their value or their name (`选稿规则:多数票决定`).
CHOICE_OPTIONS = frozenset({"pick_rule", "paper", "page_size", "format"})


def _choice_key(name: str) -> str:
    return "".join(name.split()).casefold()


@cache
def _chinese_choice_names() -> dict[str, str]:
    names = {}
    for value, simplified in commands_zh.CHOICES.items():
        if simplified.isascii():
            continue
        for chinese in _both_scripts(simplified):
            names[_choice_key(chinese)] = value
            # `中文剧本 (zh)` may be typed `中文剧本`.
            names.setdefault(_choice_key(chinese.split(" (")[0]), value)
    return names


_ALL_COMMAND_NAMES = {**commands_zh.COMMAND_NAMES, **commands_zh.CONSOLE_COMMAND_NAMES}
_ALL_OPTION_NAMES = {**commands_zh.OPTION_NAMES, **commands_zh.CONSOLE_OPTION_NAMES}


@cache
def _chinese_command_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for path, simplified in _ALL_COMMAND_NAMES.items():
        first, _, second = path.partition(" ")
        if second:
            group = commands_zh.COMMAND_NAMES.get(first, first)
            for chinese_group in _both_scripts(group):
                for chinese in _both_scripts(simplified):
                    names.setdefault(f"{chinese_group} {chinese}", path)
        else:
            for chinese in _both_scripts(simplified):
                names.setdefault(chinese, path)
    return names


@cache
def _chinese_option_names() -> dict[str, str]:
    return {
        chinese: option
        for option, simplified in _ALL_OPTION_NAMES.items()
        for chinese in _both_scripts(simplified)
    }


def _both_scripts(simplified: str) -> tuple[str, ...]:
    """A name as typed in either script: simplified, the Taiwan wording the catalogue shows
    (`匯出`), and the character-for-character traditional a writer may type instead (`導出`)."""
    by_character = str(_converter("s2t").convert(simplified))
    return tuple(dict.fromkeys((simplified, _to_traditional(simplified), by_character)))


@cache
def _to_traditional(simplified: str) -> str:
    converted = str(_converter().convert(simplified))
    for phrase, word in zh_tw.PHRASES.items():
        converted = converted.replace(phrase, word)
    return converted


CommandTable = Literal["command", "option", "choice", "description"]
_COMMAND_TABLES: dict[str, Mapping[str, str]] = {
    "command": commands_zh.COMMAND_NAMES,
    "option": commands_zh.OPTION_NAMES,
    "choice": commands_zh.CHOICES,
    "description": commands_zh.DESCRIPTIONS,
}


def command_text(table: CommandTable, key: str, lang: Lang) -> str | None:
    """A command's, option's or choice's name, or a description, in `lang` (`bot.messages.
    commands_zh` says by which keys); None in English, or where the table lacks it, so that the
    English the cogs declare stands."""
    if lang == ENGLISH:
        return None
    found = _COMMAND_TABLES[table].get(key)
    if found is None or lang == SIMPLIFIED:
        return found
    return _to_traditional(found)


def template(key: str, lang: Lang = ENGLISH) -> str:
    """The catalogue's text for `key` in `lang`, English when that language lacks it; an
    unknown key is logged and shown as itself (a test keeps every key in the catalogue)."""
    found: str | None
    if lang == SIMPLIFIED:
        found = _simplified(key)
    elif lang == TRADITIONAL:
        found = _traditional(key)
    else:
        found = None
    if found is None:
        found = en.MESSAGES.get(key)
    if found is None:
        _log.warning("no message %r in the catalogues", key)
        return key
    return found


def text(key: str, lang: Lang = ENGLISH, /, **fields: object) -> str:
    """The message `key` in `lang` with its fields filled in."""
    return template(key, lang).format(**fields)


def catalogue(lang: Lang) -> Mapping[str, str]:
    """Every message of `lang` as written or derived (English's is the complete set)."""
    if lang == SIMPLIFIED:
        return {key: found for key in zh_cn.MESSAGES if (found := _simplified(key)) is not None}
    if lang == TRADITIONAL:
        return {key: found for key in zh_cn.MESSAGES if (found := _traditional(key)) is not None}
    return en.MESSAGES


def fields_of(pattern: str) -> frozenset[str]:
    """The names of the format fields of a catalogue text."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(pattern) if name)


@dataclass(frozen=True, slots=True)
class Message:
    """A catalogue key with its fields, worded when someone reads it. A field that is itself a
    `Message` is worded in the same language."""

    key: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def render(self, lang: Lang = ENGLISH) -> str:
        filled = {name: _worded(value, lang) for name, value in self.fields.items()}
        return text(self.key, lang, **filled)

    def __str__(self) -> str:
        return self.render(ENGLISH)

    def to_json(self) -> dict[str, Any]:
        """The message as JSON data (`from_json` reads it back), for text the room stores and
        shows later in whichever language its reader has: a nested message is an object, a
        list a list."""
        return {"key": self.key, "fields": {k: _to_json(v) for k, v in self.fields.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        return cls(str(data["key"]), {k: _from_json(v) for k, v in data["fields"].items()})


def _worded(value: object, lang: Lang) -> object:
    """A field's value as the text it fills in: a message worded in `lang`, a list's items
    worded and joined the language's way ("title, logline", "标题、一句话梗概")."""
    if isinstance(value, Message):
        return value.render(lang)
    if isinstance(value, (list, tuple)):
        return template("list.separator", lang).join(str(_worded(v, lang)) for v in value)
    return value


def _to_json(value: object) -> object:
    if isinstance(value, Message):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _from_json(value: object) -> object:
    if isinstance(value, dict):
        return Message.from_json(value)
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return value


def message(key: str, /, **fields: object) -> Message:
    """`Message(key, fields)`, written the way `text` is called."""
    return Message(key, fields)


def counted(noun: str, count: int) -> Message:
    """`count` of `noun` as a catalogue words it ("1 scene", "3 scenes", "3 场"): the keys
    `count.<noun>.one` and `count.<noun>.many`, each with the field `n`."""
    return Message(f"count.{noun}.{'one' if count == 1 else 'many'}", {"n": count})


def recognise(said: str, keys: tuple[str, ...]) -> Message | None:
    """The message among `keys` whose English reads `said` exactly, its fields read back (digits
    as numbers); None when none does. For text the room stored in English before it is shown
    (why a vote decided a take), so that a reader sees it in their language."""
    for key in keys:
        found = _english_pattern(key).fullmatch(said)
        if found is not None:
            fields = {k: int(v) if v.isdigit() else v for k, v in found.groupdict().items()}
            return Message(key, fields)
    return None


@cache
def _english_pattern(key: str) -> re.Pattern[str]:
    parts = []
    for literal, name, _, _ in string.Formatter().parse(en.MESSAGES[key]):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts))
