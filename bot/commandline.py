"""The console room's command syntax: a line written as Discord shows a slash command.

    /dialogue situation:"Ines meets the boy" characters:"INES, TOMAS"
    @ana /pick take:2
    /room settings pick_rule:majority quorum:2

A line may start with `@name ` to act as that writer. Options are `name:value`; a value with spaces
is quoted with double quotes (`\\"` inside a quoted value is a literal quote). Words that are not
options form the free text, so `/premise A keeper of a dying lighthouse` works as well. This module
only splits lines; which commands and options exist is the console's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.errors import BadInput

_OPTION = re.compile(r"([a-z_][a-z0-9_]*):", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CommandLine:
    actor: str | None
    command: str
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def parse_command_line(line: str, subcommand_groups: frozenset[str] = frozenset()) -> CommandLine:
    """Split a console line. `subcommand_groups` names commands whose next word is part of the
    command (`room` -> `/room settings`)."""
    rest = line.strip()
    actor: str | None = None
    if rest.startswith("@"):
        head, _, rest = rest.partition(" ")
        actor = head[1:].strip()
        if not actor:
            raise BadInput("Write a name after @, for example: @ana /pick take:1")
        rest = rest.strip()
    if not rest.startswith("/"):
        raise BadInput('Commands start with /, for example: /premise idea:"...". Try /help.')
    name, _, rest = rest[1:].partition(" ")
    command = name.lower()
    rest = rest.strip()
    if command in subcommand_groups and rest:
        sub, _, rest = rest.partition(" ")
        command = f"{command} {sub.lower()}"
        rest = rest.strip()
    if not command:
        raise BadInput("Write a command after /, for example: /help")
    options, text = _split_options(rest)
    return CommandLine(actor, command, options, text)


def _split_options(rest: str) -> tuple[dict[str, str], str]:
    options: dict[str, str] = {}
    words: list[str] = []
    i = 0
    while i < len(rest):
        if rest[i].isspace():
            i += 1
            continue
        match = _OPTION.match(rest, i)
        if match and (match.end() < len(rest)) and not rest[match.end()].isspace():
            value, i = _read_value(rest, match.end())
            options[match.group(1).lower()] = value
            continue
        end = i
        while end < len(rest) and not rest[end].isspace():
            end += 1
        words.append(rest[i:end])
        i = end
    return options, " ".join(words)


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
    raise BadInput('A quoted value is missing its closing " — check the quotes in that line.')
