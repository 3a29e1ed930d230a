"""The console room: the writers' room in a terminal, driving the same room service as Discord.

A line is a command written as Discord shows it (`/dialogue situation:"..." characters:"A, B"`,
syntax in `bot.commandline`); `@name /vote take:2` acts as another writer, so votes between
writers can be tried alone. Takes and the script print as a screenplay page would set them
(action at the margin, dialogue ten columns in, cues twenty-two), numbered take by take; files go
where `/export ... path:` says. While the model works a progress line shows the place in the
queue and the tokens written: one line updated in place on a terminal, an occasional line
otherwise. Files are read and written through `screenplay.files`: an import reads regular files
only, its size looked at first; an export is written whole or not at all, through a symlink,
never over a folder or a device. Laying out pages and parsing takes runs off the event loop, so
the model's progress goes on meanwhile. Errors a writer can cause print as one line starting
with `error:`; with standard input not a terminal, the console runs the lines it is given and
stops at their end, so a session can be scripted.

Writers are named, not numbered: a name maps to a stable user id (a hash), so `@ana` is the same
writer after a restart. Lines without `@name` come from the person at the terminal, who runs the
room (the console's counterpart of Discord's permission to manage the channel).

Everything it says is worded in the console's language (`lang`: `--lang zh` for simplified
Chinese, `zh-TW` for traditional; English by default) from the catalogues of `bot.messages`; the
commands and their options keep their English names.

It knows the commands and how to print the room; the lines come from `bot.console_session`, the
rules of the room are `bot.room`'s and the model is `bot.app`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from bot.app import App
from bot.commandline import (
    ALIASES,
    BY_NAME,
    COMMANDS,
    Call,
    CommandLine,
    parse_command_line,
    unescape,
    yes,
)
from bot.console_print import (
    ProgressLine,
    beat_line,
    page_text,
    rule,
    sheet_text,
    take_block,
)
from bot.console_revise import ReviseCommands
from bot.console_steer import SteerCommands
from bot.context import left_out
from bot.domain import (
    SETTING_FIELDS,
    SYSTEM_USER,
    CharacterEntry,
    Proposal,
    ProposalStatus,
    RoomSettings,
    ScriptLine,
    VoteOutcome,
    VoteResult,
    parse_duration,
)
from bot.errors import BadInput, NotFound, ProposalCancelled, RoomError, screenplay_problem
from bot.messages import (
    CHOICE_OPTIONS,
    ENGLISH,
    Lang,
    Message,
    chinese_group_names,
    command_name,
    counted,
    english_choice,
    english_command,
    message,
    option_name,
    pairs,
)
from bot.notices import chinese_room_news
from bot.problems import problem_list
from bot.room import numbered_text, scene_lines
from model.tasks import TaskKind
from screenplay.errors import FileError
from screenplay.files import read_script_bytes, write_atomic
from screenplay.layout import display_width
from screenplay.render import EXTENSIONS

_log = logging.getLogger(__name__)

#: The name of the person at the terminal, as attribution and `/status` show it.
CONSOLE_WRITER = "you"

_GROUPS = frozenset({"room", "bible", "location", "outline", "draft"})
_HELP_COLUMN = 38


def _options_of(written: str) -> tuple[str, ...] | None:
    """The options of the command named `written` (in English or Chinese), None if none is."""
    english = english_command(written)
    command = BY_NAME.get(ALIASES.get(english, english))
    return None if command is None else command.options


def writer_id(name: str) -> int:
    """The stable user id of the writer called `name` (case does not matter): the first six
    bytes of its SHA-256, so ids survive restarts and never collide with the room's own id 0."""
    digest = hashlib.sha256(name.strip().casefold().encode("utf-8")).digest()
    return int.from_bytes(digest[:6], "big") + 1


class Console:
    """One console session on a room. `execute` answers one line; `run` answers every line of
    a source until it ends or `/quit`."""

    def __init__(
        self,
        app: App,
        out: TextIO,
        *,
        room_id: int = 1,
        tty: bool = False,
        echo: bool = False,
        lang: Lang = ENGLISH,
    ) -> None:
        self.app = app
        self.lang = lang
        self.rooms = app.rooms
        self.out = out
        self.room_id = room_id
        self.tty = tty
        self.echo = echo
        self.user_id = writer_id(CONSOLE_WRITER)
        self.names: dict[int, str] = {
            self.user_id: message("console.you").render(lang),
            SYSTEM_USER: message("console.the_room").render(lang),
        }
        self.last_proposal: int | None = None
        self._handlers: dict[str, Callable[[Call], Awaitable[bool | None]]] = {
            "premise": self._premise,
            "character": self._character,
            "scene": self._scene,
            "dialogue": self._dialogue,
            "beat": self._beat,
            "continue": self._continue,
            "write": self._write,
            "show": self._show,
            "cast": self._cast,
            "outline": self._outline,
            "undo": self._undo,
            "redo": self._redo,
            "vote": self._vote,
            "pick": self._pick,
            "reroll": self._reroll,
            "edit": self._edit,
            "export": self._export,
            "import": self._import,
            "room settings": self._settings,
            "room branch": self._branch,
            "room reset": self._reset,
            "status": self._status,
            "help": self._help,
            "quit": self._quit,
        }
        self._handlers.update(SteerCommands(self).handlers())
        self._handlers.update(ReviseCommands(self).handlers())

    def say(self, text: str | Message = "") -> None:
        """Print a line: a `Message` in the console's language, a string as it is."""
        if isinstance(text, Message):
            text = text.render(self.lang)
        self.out.write(text + "\n")
        self.out.flush()

    async def run(self, lines: AsyncIterator[str]) -> None:
        async for line in lines:
            if not await self.execute(line):
                return

    async def execute(self, line: str) -> bool:
        """Answer one line; False when the session should end."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if self.echo:
            self.say(f"> {line}")
        try:
            await self._close_due()
            call = self._parse(line)
            return await self._handlers[call.command.name](call) is not False
        except RoomError as err:
            self.say(message("console.error", error=err.message))
        except BrokenPipeError:
            return False  # whoever read the answers has gone (`... | head`)
        except Exception:
            _log.exception("console command failed: %s", line)
            self.say(message("console.apology"))
        return True

    def _parse(self, line: str) -> Call:
        parsed: CommandLine = parse_command_line(line, _GROUPS | chinese_group_names(), _options_of)
        english = english_command(parsed.command)
        name = ALIASES.get(english, english)
        command = BY_NAME.get(name)
        if command is None:
            raise BadInput("console.no_command", command=parsed.command)
        values = dict(parsed.options)
        unknown = sorted(set(values) - set(command.options))
        if unknown:
            raise BadInput(
                "console.no_option",
                command=command_name(command.name, self.lang),
                option=unknown[0],
                takes=", ".join(option_name(o, self.lang) for o in command.options)
                or message("console.no_options"),
            )
        if parsed.text:
            if not command.options:
                raise BadInput(
                    "console.takes_no_text", command=command_name(command.name, self.lang)
                )
            first = command.options[0]
            if first in values:
                raise BadInput(
                    "console.not_an_option",
                    text=repr(parsed.text),
                    command=command_name(command.name, self.lang),
                )
            values[first] = parsed.text
        for option in CHOICE_OPTIONS.intersection(values):
            values[option] = english_choice(values[option])
        missing = [o for o in command.options if o not in command.optional and o not in values]
        if missing:
            raise BadInput(
                "console.needs_option",
                command=command_name(command.name, self.lang),
                option=option_name(missing[0], self.lang),
                usage=command.usage(self.lang),
            )
        if parsed.actor is None:
            return Call(command, self.user_id, True, values)
        user_id = writer_id(parsed.actor)
        self.names.setdefault(user_id, parsed.actor)
        return Call(command, user_id, False, values)

    # --- asking the model ---------------------------------------------------------------------

    async def _ask(
        self, call: Call, kind: TaskKind, prompt: str = "", characters: Sequence[str] = ()
    ) -> None:
        proposal, became_chinese = await self.rooms.propose_noting_language(
            self.room_id, call.user_id, kind.value, prompt, characters
        )
        await self._generate(proposal)
        if became_chinese:
            for said in chinese_room_news(self.app.settings):
                self.say(said)

    async def _generate(self, proposal: Proposal) -> None:
        """Fill a pending proposal with takes while showing progress, then print them."""
        self.last_proposal = proposal.id
        if not self.tty:
            takes = counted("take", proposal.n)
            self.say(message("console.asking", proposal=proposal.id, takes=takes))
        progress = ProgressLine(self.out, tty=self.tty, takes=proposal.n, lang=self.lang)
        work = self.app.in_background(
            self.rooms.generate(self.room_id, proposal.id, progress=progress),
            name=f"generate proposal {proposal.id}",
        )
        try:
            try:
                # Shielded: a console stopped while the model writes still stores the takes.
                filled = await asyncio.shield(work)
            finally:
                progress.clear()
        except ProposalCancelled as err:
            # Another front end reset the room meanwhile: what happened, not an error.
            by = None if err.cancelled_by is None else self._name(err.cancelled_by)
            self.say(err.naming(by))
            return
        await self._print_proposal(filled)

    async def _print_proposal(self, proposal: Proposal) -> None:
        what = message(f"kind.{proposal.kind.value}")
        self.say(
            message(
                "console.proposal_header",
                proposal=proposal.id,
                kind=what,
                count=len(proposal.takes),
            )
        )
        for take in proposal.takes:
            title = message("console.take_title", take=take.number)
            if take.edited_by is not None:
                title = message(
                    "console.take_title_edited", take=take.number, by=self._name(take.edited_by)
                )
            self.say(rule(title.render(self.lang)))
            self.say(await asyncio.to_thread(take_block, proposal.kind, take, self.lang))
            if take.problems:
                self.say(message("console.take_problems", problems=problem_list(take.problems)))
            if take.omitted:
                self.say(message("console.take_omitted", omitted=left_out(take.omitted)))
        self.say(rule(message("console.vote_rule").render(self.lang)))

    async def _premise(self, call: Call) -> None:
        await self._ask(call, TaskKind.PREMISE, call.get("idea") or "")

    async def _character(self, call: Call) -> None:
        """As in Discord: no name, the cast; a name in the bible alone, its sheet; otherwise
        the model writes sheet takes."""
        name, description = call.get("name"), call.get("description")
        if not name:
            await self._cast(call)
            return
        if description is None:
            entry = _in_bible(await self.rooms.characters(self.room_id), name)
            if entry is not None:
                self.say(sheet_text(entry, self.lang))
                return
        idea = f"{name}: {description}" if description else name
        # The name the writer gave is the cue, whatever the model's sheet calls them.
        await self._ask(call, TaskKind.CHARACTER, idea, (name,))

    async def _scene(self, call: Call) -> None:
        await self._ask(call, TaskKind.SCENE, call.get("description") or "")

    async def _dialogue(self, call: Call) -> None:
        names = [n for n in (call.get("characters") or "").split(",") if n.strip()]
        await self._ask(call, TaskKind.DIALOGUE, call.get("situation") or "", names)

    async def _beat(self, call: Call) -> None:
        await self._ask(call, TaskKind.BEAT, call.get("hint") or "")

    async def _continue(self, call: Call) -> None:
        await self._ask(call, TaskKind.CONTINUE, call.get("direction") or "")

    # --- the script ---------------------------------------------------------------------------

    async def _write(self, call: Call) -> None:
        text = unescape(call.get("text") or "")
        lines = await self.rooms.write(self.room_id, call.user_id, text, after=call.number("after"))
        self.say(message("console.added", lines=counted("line", len(lines))))
        self.say(await _laid_out(lines))

    async def _show(self, call: Call) -> None:
        room = await self.rooms.room(self.room_id)
        if not room.script:
            self.say(message("console.script_empty"))
            return
        lines: Sequence[ScriptLine] = room.script
        if call.get("scene") and not yes(call.get("attribution")):
            view = await self.rooms.scene(self.room_id, call.get("scene") or "")
            self.say(message("console.scene_numbered", scene=view.label))
            self.say(numbered_text(view.lines))
            return
        number = call.number("scene")
        if yes(call.get("attribution")):
            text = await self.rooms.script_text(
                self.room_id, scene=number, attribution=True, names=self.names
            )
            self.say(text.strip("\n"))
            return
        if number is not None:
            lines = scene_lines(room.script, number)
        if room.project.title and number is None:
            self.say(room.project.title.upper())
            self.say()
        self.say(await _laid_out(lines, room.project.page_size.value))

    async def _cast(self, call: Call) -> None:
        cast = await self.rooms.characters(self.room_id)
        if not cast:
            self.say(message("console.bible_empty"))
            return
        for entry in cast:
            self.say(sheet_text(entry, self.lang))

    async def _outline(self, call: Call) -> None:
        beats = await self.rooms.beats(self.room_id)
        if not beats:
            self.say(message("console.outline_empty"))
            return
        for beat in beats:
            self.say(beat_line(beat, self.lang))

    async def _undo(self, call: Call) -> None:
        event = await self.rooms.undo(self.room_id, call.user_id, is_showrunner=call.is_showrunner)
        self.say(message("console.undone", summary=event.what_it_took_back))

    async def _redo(self, call: Call) -> None:
        event = await self.rooms.redo(self.room_id, call.user_id, is_showrunner=call.is_showrunner)
        self.say(message("console.redone", summary=event.what_it_took_back))

    # --- votes and takes ----------------------------------------------------------------------

    async def _proposal_for(self, call: Call, *, open_only: bool = True) -> int:
        """The proposal a command means: the one named, else the latest this console showed,
        else the room's latest open one (after a restart)."""
        named = call.number("proposal")
        if named is not None:
            return named
        if self.last_proposal is not None:
            return self.last_proposal
        pending = await self.rooms.pending_proposals(self.room_id)
        open_ = [p for p in pending if p.status is ProposalStatus.OPEN or not open_only]
        if not open_:
            raise NotFound("console.no_open_proposal")
        return max(p.id for p in open_)

    async def _vote(self, call: Call) -> None:
        take = call.number("take") or 0
        proposal_id = await self._proposal_for(call)
        result = await self.rooms.vote(
            self.room_id, call.user_id, proposal_id, take, is_showrunner=call.is_showrunner
        )
        await self._print_vote(result, call)

    async def _pick(self, call: Call) -> None:
        take = call.number("take") or 0
        proposal_id = await self._proposal_for(call)
        result = await self.rooms.pick(
            self.room_id, call.user_id, proposal_id, take, is_showrunner=call.is_showrunner
        )
        await self._print_vote(result, call)

    async def _print_vote(self, result: VoteResult, call: Call) -> None:
        proposal = result.proposal
        who = self._name(call.user_id)
        if result.outcome is not VoteOutcome.DECIDED:
            tally = (
                message("console.list_separator")
                .render(self.lang)
                .join(
                    message("console.tally", take=k, votes=v).render(self.lang)
                    for k, v in proposal.tally().items()
                )
            )
            self.say(
                message(
                    f"console.vote_{result.outcome.value}",
                    who=who,
                    proposal=proposal.id,
                    tally=tally,
                )
            )
            return
        await self._print_decision(proposal, result.lines)

    async def _print_decision(self, proposal: Proposal, lines: Sequence[ScriptLine]) -> None:
        by: str | Message = message("console.the_room")
        if proposal.decided_by is not None:
            by = self._name(proposal.decided_by)
        self.say(
            message(
                "console.went_in",
                take=proposal.decided_take,
                proposal=proposal.id,
                reason=proposal.reason_said or proposal.reason,
                by=by,
            )
        )
        if lines:
            self.say(await _laid_out(lines))
            return
        take = proposal.take(proposal.decided_take or 0)
        if proposal.kind is TaskKind.PREMISE:
            project = await self.rooms.project(self.room_id)
            none_yet = message("console.none_yet")
            self.say(message("console.title", title=project.title or none_yet))
            self.say(message("console.logline", logline=project.logline or none_yet))
        elif proposal.kind is TaskKind.CHARACTER and take is not None:
            name = take.sheet.name if take.sheet else take.text.split("\n")[0].upper()
            entry = _in_bible(await self.rooms.characters(self.room_id), name)
            if entry is not None:
                self.say(sheet_text(entry, self.lang))
        elif proposal.kind is TaskKind.BEAT:
            beats = await self.rooms.beats(self.room_id)
            if beats:
                self.say(message("console.beat", number=beats[-1].number, text=beats[-1].text))

    async def _reroll(self, call: Call) -> None:
        proposal_id = await self._proposal_for(call, open_only=False)
        fresh = await self.rooms.reroll(
            self.room_id, call.user_id, proposal_id, is_showrunner=call.is_showrunner
        )
        self.say(message("console.rerolled", proposal=proposal_id, new=fresh.id))
        await self._generate(fresh)

    async def _edit(self, call: Call) -> None:
        take = call.number("take") or 0
        proposal_id = await self._proposal_for(call)
        text = unescape(call.get("text") or "")
        edit = await self.rooms.edit_take(
            self.room_id, call.user_id, proposal_id, take, text, is_showrunner=call.is_showrunner
        )
        if not edit.changed:
            self.say(edit.naming(self._name(call.user_id)))
            return
        self.say(message("console.now_reads", take=take, proposal=proposal_id))
        self.say(await asyncio.to_thread(take_block, edit.proposal.kind, edit.take, self.lang))
        if edit.cleared:
            self.say(edit.naming(self._name(call.user_id)))

    # --- files ----------------------------------------------------------------------------------

    async def _export(self, call: Call) -> None:
        fmt = (call.get("format") or "fountain").lower()
        attribution = yes(call.get("attribution"))
        data = await self.rooms.export(
            self.room_id,
            fmt,
            attribution=attribution,
            names=self.names,
            changes_since=call.get("changes_since"),
        )
        project = await self.rooms.project(self.room_id)
        path = Path(call.get("path") or _file_name(project.title, self.room_id, fmt))
        try:
            await asyncio.to_thread(_write_export, path.expanduser(), data)
        except FileError as err:
            raise BadInput("console.file_error", error=screenplay_problem(err)) from None
        self.say(message("console.wrote_file", path=path, format=fmt, size=len(data)))

    async def _import(self, call: Call) -> None:
        path = Path(call.get("path") or "").expanduser()
        data = b""  # another kind of file is refused by the room, in its words, unread
        if path.suffix.lower() in (".fountain", ".fdx"):
            try:
                # A regular file only, its size looked at before a byte is read: a pipe, a
                # device or a file of gigabytes is refused instead of hanging the console.
                data = await asyncio.to_thread(read_script_bytes, path)
            except FileError as err:
                raise BadInput("console.cannot_read", error=screenplay_problem(err)) from None
        lines = await self.rooms.import_script(self.room_id, call.user_id, path.name, data)
        self.say(message("console.imported", file=path.name, lines=counted("line", len(lines))))

    # --- the room -------------------------------------------------------------------------------

    async def _settings(self, call: Call) -> None:
        changes: dict[str, Any] = {
            field: call.get(option)
            for option, field in SETTING_FIELDS.items()
            if call.get(option) is not None
        }
        deadline = call.get("deadline")
        if deadline is not None:
            changes["vote_deadline_s"] = parse_duration(deadline)
        showrunners = call.get("showrunners")
        if showrunners is not None:
            names = [n.strip().removeprefix("@") for n in showrunners.split(",") if n.strip()]
            ids = []
            for name in names:
                ids.append(writer_id(name))
                self.names.setdefault(writer_id(name), name)
            changes["showrunners"] = ids
        if changes:
            settings = await self.rooms.update_settings(
                self.room_id, call.user_id, is_showrunner=call.is_showrunner, **changes
            )
            self.say(message("console.settings_changed"))
        else:
            settings = await self.rooms.settings(self.room_id)
        self.say(self._describe_settings(settings))

    def _describe_settings(self, settings: RoomSettings) -> str:
        runners = ", ".join(self._name(u) for u in settings.showrunners)
        runners = runners or message("console.none").render(self.lang)
        shown = [
            ("takes", settings.takes_per_request),
            ("pick_rule", settings.pick_rule.value),
            ("quorum", settings.quorum),
            ("deadline", f"{settings.vote_deadline_s:g}"),
            ("temperature", f"{settings.temperature:g}"),
            ("top_p", f"{settings.top_p:g}"),
            ("top_k", settings.top_k),
            ("repetition_penalty", f"{settings.repetition_penalty:g}"),
            ("length", settings.length),
        ]
        return (
            pairs(shown, self.lang)
            + "\n"
            + message("console.showrunners", names=runners).render(self.lang)
        )

    async def _branch(self, call: Call) -> None:
        new_id = self.room_id + 1
        while (await self.rooms.room(new_id)).exists:
            new_id += 1
        room = await self.rooms.branch(
            self.room_id, call.user_id, new_id, is_showrunner=call.is_showrunner
        )
        self.say(
            message(
                "console.branched",
                room=self.room_id,
                new=new_id,
                lines=counted("line", len(room.script)),
            )
        )
        self.room_id, self.last_proposal = new_id, None

    async def _reset(self, call: Call) -> None:
        if not yes(call.get("confirm")):
            raise BadInput("console.reset_confirm")
        await self.rooms.reset(self.room_id, call.user_id, is_showrunner=call.is_showrunner)
        self.last_proposal = None
        self.say(message("console.reset_done"))

    async def _status(self, call: Call) -> None:
        room = await self.rooms.room(self.room_id)
        pending = await self.rooms.pending_proposals(self.room_id)
        self.say(self.app.status(self.lang))
        self.say(
            message(
                "console.room_status",
                room=self.room_id,
                lines=counted("script_line", len(room.script)),
                characters=counted("character", len(room.characters)),
                beats=counted("beat", len(room.beats)),
                proposals=counted("open_proposal", len(pending)),
            )
        )

    async def _help(self, call: Call) -> None:
        wanted = english_command((call.get("command") or "").lstrip("/").lower())
        if wanted:
            command = BY_NAME.get(ALIASES.get(wanted, wanted))
            if command is None:
                raise BadInput("console.no_command", command=wanted)
            self.say(f"{command.usage(self.lang)}\n  {command.summary.render(self.lang)}")
            return
        for command in COMMANDS:
            usage = command.usage(self.lang)
            if display_width(usage) > _HELP_COLUMN - 2:
                self.say(usage)
                usage = ""
            padding = " " * (_HELP_COLUMN - display_width(usage))
            self.say(f"{usage}{padding}{command.summary.render(self.lang)}")
        self.say(message("console.help_footer"))

    async def _quit(self, call: Call) -> bool:
        return False

    # --- helpers --------------------------------------------------------------------------------

    def _name(self, user_id: int) -> str:
        return self.names.get(user_id, message("console.writer", id=user_id).render(self.lang))

    async def _close_due(self) -> None:
        """Decide the proposals whose vote deadline has passed, as the bot does every few
        seconds, and say so when they are this room's."""
        for proposal in await self.rooms.close_due():
            if proposal.room_id != self.room_id:
                continue
            if proposal.status is ProposalStatus.DECIDED:
                await self._print_decision(proposal, ())
            else:
                self.say(message("console.expired", proposal=proposal.id))


def _write_export(path: Path, data: bytes) -> None:
    """An export written whole or not at all (`screenplay.files.write_atomic`: through a
    symlink, never over a folder or a device, no partial file left behind); a missing folder
    is made first, as a writer naming a new folder expects."""
    # A folder that cannot be made (or a name that cannot be) is said by write_atomic.
    with contextlib.suppress(OSError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _in_bible(cast: Sequence[CharacterEntry], name: str) -> CharacterEntry | None:
    wanted = name.strip().upper()
    return next((c for c in cast if c.name == wanted), None)


async def _laid_out(lines: Sequence[ScriptLine], paper: str = "letter") -> str:
    """Script lines laid out like the page; paginating a long script is CPU work, so it runs
    off the event loop (the model's progress and other rooms' deadlines go on meanwhile)."""
    return await asyncio.to_thread(page_text, [line.element for line in lines], paper)


def _file_name(title: str, room_id: int, fmt: str) -> str:
    stem = "-".join("".join(c if c.isalnum() else " " for c in title.lower()).split())
    return f"{stem or f'room-{room_id}'}{EXTENSIONS[fmt]}"
