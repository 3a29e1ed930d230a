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
from dataclasses import dataclass, field

from bot.errors import BadInput
from bot.room import EXPORT_FORMATS

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


# --- the console's commands ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    """One console command: its options (the first takes free text), and what `/help` says."""

    name: str
    options: tuple[str, ...]
    summary: str
    optional: tuple[str, ...] = ()  # options that may be left out

    def usage(self) -> str:
        shown = [o if o not in self.optional else f"[{o}]" for o in self.options]
        return " ".join([f"/{self.name}", *shown])


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
    Command(
        "premise",
        ("idea",),
        'ask the model for a title and logline: /premise idea:"A ferry pilot\'s last crossing"',
    ),
    Command(
        "character",
        ("name", "description"),
        'the cast, a sheet, or new sheet takes: /character name:Tom description:"the deckhand"',
        ("name", "description"),
    ),
    Command(
        "scene",
        ("description",),
        'ask the model to open a scene: /scene description:"the ferry in fog"',
    ),
    Command(
        "dialogue",
        ("situation", "characters"),
        'dialogue between characters: /dialogue situation:"Mara tells Tom" characters:"MARA, TOM"',
        ("characters",),
    ),
    Command(
        "beat", ("hint",), 'the next plot development: /beat hint:"the engine fails"', ("hint",)
    ),
    Command(
        "continue",
        ("direction",),
        'ask the model to continue the script (direction:"Mara snaps" steers it)',
        ("direction",),
    ),
    Command(
        "vary",
        ("take", "proposal"),
        "new takes that keep a take's gist (/vary take:2)",
        ("proposal",),
    ),
    Command(
        "write",
        ("text", "after"),
        'your own lines (\\n starts a new line): /write text:"EXT. PIER - DAWN\\n\\nGulls."',
        ("after",),
    ),
    Command(
        "show",
        ("scene", "attribution"),
        "the script, or one scene: /show scene:2 attribution:true (who wrote what)",
        ("scene", "attribution"),
    ),
    Command("stats", (), "pages, runtime, scenes, locations and lines per character: /stats"),
    Command("bible", (), "the characters and locations of the bible: /bible"),
    Command(
        "bible edit",
        ("name", "rename", *_SHEET_OPTIONS),
        'change a sheet: /bible edit name:MARA voice:"clipped"',
        ("rename", *_SHEET_OPTIONS),
    ),
    Command("bible remove", ("name",), "take a character out: /bible remove name:TOM"),
    Command(
        "bible add",
        ("name", *_SHEET_OPTIONS),
        'write a sheet yourself: /bible add name:MARA role:"ferry pilot" voice:"clipped"',
        _SHEET_OPTIONS,
    ),
    Command(
        "location add",
        ("name", "description"),
        'add a place: /location add name:"FERRY DECK" description:"wet steel"',
        ("description",),
    ),
    Command(
        "location edit",
        ("name", "rename", "description"),
        'change a place: /location edit name:"FERRY DECK" description:"rust"',
        ("rename", "description"),
    ),
    Command("location remove", ("name",), 'take a place out: /location remove name:"FERRY DECK"'),
    Command("cast", (), "the characters of the bible: /cast"),
    Command("outline", (), "the beats of the outline: /outline"),
    Command(
        "outline edit",
        ("number", "text", "status"),
        'change a beat: /outline edit number:2 text:"Tom leaves"',
        ("text", "status"),
    ),
    Command("outline remove", ("number",), "take a beat out: /outline remove number:2"),
    Command("outline add", ("text",), 'plan a beat yourself: /outline add text:"The storm hits"'),
    Command(
        "undo",
        ("to",),
        "undo the latest change to the story (to:12 undoes every change after #12)",
        ("to",),
    ),
    Command("redo", (), "redo what was undone last: /redo"),
    Command(
        "vote",
        ("take", "proposal"),
        "vote for a take, like clicking its button: /vote take:2",
        ("proposal",),
    ),
    Command(
        "pick", ("take", "proposal"), "showrunners: put a take in now: /pick take:1", ("proposal",)
    ),
    Command("reroll", ("proposal",), "new takes instead: /reroll", ("proposal",)),
    Command(
        "edit",
        ("take", "text", "proposal"),
        'replace a take\'s text before it goes in: /edit take:2 text:"MARA\\nNot tonight."',
        ("proposal",),
    ),
    Command(
        "export",
        ("format", "path", "attribution", "changes_since"),
        f"write the script as {', '.join(EXPORT_FORMATS)} (attribution:true adds who wrote what;"
        ' changes_since:"blue draft" marks revised lines in the PDF)',
        ("format", "path", "attribution", "changes_since"),
    ),
    Command(
        "revise",
        ("text", "line", "scene"),
        'rewrite a line or a scene: /revise line:12 text:"We\'re late." (scene:3 alone prints it)',
        ("text", "line", "scene"),
    ),
    Command(
        "delete",
        ("lines", "scene"),
        "remove lines or a scene: /delete lines:12-15, /delete scene:3",
        ("lines", "scene"),
    ),
    Command("move", ("scene", "after"), "move a scene: /move scene:3 after:5 (after:0: first)"),
    Command(
        "insert",
        ("text", "before_scene"),
        'a new scene before another: /insert before_scene:3 text:"EXT. ROOF - NIGHT\\n\\nWind."',
    ),
    Command("history", ("page",), "the room's changes, numbered: /history page:2", ("page",)),
    Command(
        "draft save",
        ("name",),
        'save a named draft and lock scene numbers: /draft save name:"blue draft"',
    ),
    Command("draft list", (), "the room's drafts: /draft list"),
    Command(
        "import",
        ("path",),
        "a .fountain or .fdx file becomes the script: /import path:draft.fountain",
    ),
    Command(
        "room settings",
        _SETTING_OPTIONS,
        "show or change the room's settings (showrunners only): /room settings top_p:0.9",
        _SETTING_OPTIONS,
    ),
    Command(
        "room style",
        ("genre", "tone", "language", "notes", "paper"),
        "the project's style: /room style genre:noir language:French paper:a4",
        ("genre", "tone", "language", "notes", "paper"),
    ),
    Command("room branch", (), "a new room from this room's story: /room branch"),
    Command(
        "room reset",
        ("confirm",),
        "showrunners: empty the story: /room reset confirm:true",
        ("confirm",),
    ),
    Command("status", (), "the model and its queue: /status"),
    Command(
        "help", ("command",), "the commands, or one explained: /help command:revise", ("command",)
    ),
    Command("quit", (), "leave the console: /quit"),
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
            raise BadInput(f"The {option} is a number, not {value!r}.") from None


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
