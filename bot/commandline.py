"""The console room's command syntax: a line written as Discord shows a slash command.

    /dialogue situation:"Ines meets the boy" characters:"INES, TOMAS"
    @ana /pick take:2
    /room settings pick_rule:majority quorum:2

A line may start with `@name ` to act as that writer. Options are `name:value`; a value with spaces
is quoted with double quotes (`\\"` inside a quoted value is a literal quote). Words that are not
options form the free text, so `/premise A keeper of a dying lighthouse` works as well. This module
splits lines and holds the console's table of commands and their options; what a command does is
the console's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from bot.errors import BadInput
from bot.messages import (
    ENGLISH,
    Lang,
    Message,
    command_name,
    english_option,
    message,
    option_name,
)
from bot.room import EXPORT_FORMATS

#: An option's name and colon (a Chinese input method's full-width one too); a name in Chinese
#: counts only when it is one of the options' Chinese names (`候选稿：2`), so that `陈伯：打烊了。`
#: stays text.
_OPTION = re.compile(r"([^\W\d]\w*)[:：]")


@dataclass(frozen=True, slots=True)
class CommandLine:
    actor: str | None
    command: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def parse_command_line(
    line: str,
    subcommand_groups: frozenset[str] = frozenset(),
    options_of: Callable[[str], Collection[str] | None] | None = None,
) -> CommandLine:
    """Split a console line. `subcommand_groups` names commands whose next word is part of the
    command (`room` -> `/room settings`). `options_of(command)` gives the options the command
    takes: a Chinese name before a colon is an option only when it names one of them, so that
    `/写入 人物：陈伯、小梅` (a cast line) stays text."""
    rest = line.strip()
    actor: str | None = None
    if rest.startswith("@"):
        head, _, rest = rest.partition(" ")
        actor = head[1:].strip()
        if not actor:
            raise BadInput("console.name_after_at")
        rest = rest.strip()
    if not rest.startswith("/"):
        raise BadInput("console.start_with_slash")
    name, _, rest = rest[1:].partition(" ")
    command = name.lower()
    rest = rest.strip()
    if command in subcommand_groups and rest:
        sub, _, rest = rest.partition(" ")
        command = f"{command} {sub.lower()}"
        rest = rest.strip()
    if not command:
        raise BadInput("console.command_after_slash")
    takes = options_of(command) if options_of is not None else None
    options, text = _split_options(rest, None if takes is None else frozenset(takes))
    return CommandLine(actor, command, options, text)


def _split_options(rest: str, takes: frozenset[str] | None) -> tuple[dict[str, str], str]:
    options: dict[str, str] = {}
    words: list[str] = []
    i = 0
    while i < len(rest):
        if rest[i].isspace():
            i += 1
            continue
        match = _OPTION.match(rest, i)
        name = _option_name(match.group(1), takes) if match else None
        if match and name and (match.end() < len(rest)) and not rest[match.end()].isspace():
            value, i = _read_value(rest, match.end())
            options[name] = value
            continue
        end = i
        while end < len(rest) and not rest[end].isspace():
            end += 1
        words.append(rest[i:end])
        i = end
    return options, " ".join(words)


def _option_name(written: str, takes: frozenset[str] | None) -> str | None:
    """The option a name stands for: an ASCII name as itself (lower-cased; a misspelt one is
    said to be no option), a Chinese one by the option it names, if the command `takes` it;
    None when it names none (then it is text)."""
    if written.isascii():
        return written.lower()
    english = english_option(written)
    if english == written or (takes is not None and english not in takes):
        return None
    return english


def _read_value(rest: str, start: int) -> tuple[str, int]:
    if rest[start] != '"':
        end = start
        while end < len(rest) and not rest[end].isspace():
            end += 1
        return rest[start:end], end
    chars: list[str] = []
    i = start + 1
    while i < len(rest):
        ch = rest[i]
        if ch == "\\" and i + 1 < len(rest) and rest[i + 1] in '"\\':
            chars.append(rest[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(chars), i + 1
        chars.append(ch)
        i += 1
    raise BadInput("console.unclosed_quote")


# --- the console's commands ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One console command: its options (the first takes free text); what `/help` says of it
    is the catalogue's `help.<name>` (`bot.messages`)."""

    name: str
    options: tuple[str, ...]
    optional: tuple[str, ...] = ()  # options that may be left out

    @property
    def summary(self) -> Message:
        key = f"help.{self.name.replace(' ', '_')}"
        return (
            message(key, formats=", ".join(EXPORT_FORMATS))
            if self.name == "export"
            else message(key)
        )

    def usage(self, lang: Lang = ENGLISH) -> str:
        """`/name option [optional]`, named as a reader of `lang` types them."""
        shown = [
            f"[{option_name(o, lang)}]" if o in self.optional else option_name(o, lang)
            for o in self.options
        ]
        return " ".join([f"/{command_name(self.name, lang)}", *shown])


_SHEET_OPTIONS = ("role", "description", "personality", "backstory", "voice", "relationships")
_SETTING_OPTIONS = (
    "takes",
    "pick_rule",
    "quorum",
    "deadline",
    "temperature",
    "top_p",
    "top_k",
    "repetition_penalty",
    "length",
    "showrunners",
)

COMMANDS: tuple[Command, ...] = (
    Command("premise", ("idea",)),
    Command("character", ("name", "description"), ("name", "description")),
    Command("scene", ("description",)),
    Command("dialogue", ("situation", "characters"), ("characters",)),
    Command("beat", ("hint",), ("hint",)),
    Command("continue", ("direction",), ("direction",)),
    Command("vary", ("take", "proposal"), ("proposal",)),
    Command("write", ("text", "after"), ("after",)),
    Command("show", ("scene", "attribution"), ("scene", "attribution")),
    Command("stats", ()),
    Command("bible", ()),
    Command("bible edit", ("name", "rename", *_SHEET_OPTIONS), ("rename", *_SHEET_OPTIONS)),
    Command("bible remove", ("name",)),
    Command("bible add", ("name", *_SHEET_OPTIONS), _SHEET_OPTIONS),
    Command("location add", ("name", "description"), ("description",)),
    Command("location edit", ("name", "rename", "description"), ("rename", "description")),
    Command("location remove", ("name",)),
    Command("cast", ()),
    Command("outline", ()),
    Command("outline edit", ("number", "text", "status"), ("text", "status")),
    Command("outline remove", ("number",)),
    Command("outline add", ("text",)),
    Command("undo", ("to",), ("to",)),
    Command("redo", ()),
    Command("vote", ("take", "proposal"), ("proposal",)),
    Command("pick", ("take", "proposal"), ("proposal",)),
    Command("reroll", ("proposal",), ("proposal",)),
    Command("edit", ("take", "text", "proposal"), ("proposal",)),
    Command(
        "export",
        ("format", "path", "attribution", "changes_since"),
        ("format", "path", "attribution", "changes_since"),
    ),
    Command("revise", ("text", "line", "scene"), ("text", "line", "scene")),
    Command("delete", ("lines", "scene"), ("lines", "scene")),
    Command("move", ("scene", "after")),
    Command("insert", ("text", "before_scene")),
    Command("history", ("page",), ("page",)),
    Command("draft save", ("name",)),
    Command("draft list", ()),
    Command("import", ("path",)),
    Command("room settings", _SETTING_OPTIONS, _SETTING_OPTIONS),
    Command(
        "room style",
        ("genre", "tone", "language", "notes", "paper"),
        ("genre", "tone", "language", "notes", "paper"),
    ),
    Command("room branch", ()),
    Command("room reset", ("confirm",), ("confirm",)),
    Command("status", ()),
    Command("help", ("command",), ("command",)),
    Command("quit", ()),
)
BY_NAME = {c.name: c for c in COMMANDS}
ALIASES = {"exit": "quit", "room": "room settings", "location": "bible"}


@dataclass(frozen=True, slots=True)
class Call:
    """A parsed line: who gives the command, and its option values."""

    command: Command
    user_id: int
    is_showrunner: bool
    values: dict[str, str]

    def get(self, option: str) -> str | None:
        value = self.values.get(option)
        return value if value is None else value.strip()

    def number(self, option: str) -> int | None:
        value = self.get(option)
        if value is None or value == "":
            return None
        try:
            return int(value.removeprefix("#"))
        except ValueError:
            raise BadInput("console.not_a_number", option=option, value=repr(value)) from None


def yes(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "yes", "1", "on"}


def unescape(text: str) -> str:
    """A one-line console value as the text it stands for: `\\n` is a line break (Fountain
    needs them), `\\\\` a backslash."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "n\\":
            out.append("\n" if text[i + 1] == "n" else "\\")
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out)
