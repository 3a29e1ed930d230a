"""The console's commands for revising together: the bible (characters and locations), the
outline's beats, the project's style, variations of a take and the script's figures.

Each command calls one room-service method and prints its answer; the console (`bot.console`)
parses the lines and hands the calls here. Knows how to print these answers; the rules are
`bot.room`'s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.app import App
from bot.commandline import Call, unescape
from bot.console_print import beat_line, sheet_text
from bot.domain import Proposal
from bot.errors import BadInput
from bot.messages import Lang, Message, command_text, counted, message, pairs
from bot.notices import language_notice
from bot.room import RoomService
from model.tasks import SHEET_FIELDS

Handler = Callable[[Call], Awaitable[bool | None]]

#: `/room style` options and the project fields they set.
STYLE_FIELDS = {
    "genre": "genre",
    "tone": "tone",
    "language": "language",
    "notes": "style_notes",
    "paper": "page_size",
}


class SteerHost(Protocol):
    """What these commands need of the console."""

    app: App
    rooms: RoomService
    room_id: int
    lang: Lang

    def say(self, text: str | Message = "") -> None: ...

    async def _generate(self, proposal: Proposal) -> None: ...

    async def _proposal_for(self, call: Call, *, open_only: bool = True) -> int: ...


class SteerCommands:
    """The handlers, by command name, for `Console._handlers`."""

    def __init__(self, console: SteerHost) -> None:
        self.console = console

    def handlers(self) -> dict[str, Handler]:
        return {
            "bible": self.bible,
            "bible add": self.add_character,
            "bible edit": self.edit_character,
            "bible remove": self.remove_character,
            "location add": self.add_location,
            "location edit": self.edit_location,
            "location remove": self.remove_location,
            "outline add": self.add_beat,
            "outline edit": self.edit_beat,
            "outline remove": self.remove_beat,
            "room style": self.style,
            "vary": self.vary,
            "stats": self.stats,
        }

    @property
    def _room(self) -> int:
        return self.console.room_id

    async def bible(self, call: Call) -> None:
        bible = await self.console.rooms.bible(self._room)
        say = self.console.say
        if not bible.characters and not bible.locations:
            say(message("console.bible_empty_add"))
            return
        for entry in bible.characters:
            say(sheet_text(entry, self.console.lang))
        if bible.locations:
            say(message("console.locations"))
        for place in bible.locations:
            say(f"  {place.name}" + (f": {place.description}" if place.description else ""))

    async def add_character(self, call: Call) -> None:
        sheet = {f: unescape(v) for f in SHEET_FIELDS if (v := call.get(f)) is not None}
        entry = await self.console.rooms.add_character(
            self._room, call.user_id, call.get("name") or "", **sheet
        )
        self.console.say(sheet_text(entry, self.console.lang))

    async def edit_character(self, call: Call) -> None:
        sheet = {f: unescape(v) for f in SHEET_FIELDS if (v := call.get(f)) is not None}
        entry = await self.console.rooms.edit_character(
            self._room, call.user_id, call.get("name") or "", new_name=call.get("rename"), **sheet
        )
        self.console.say(sheet_text(entry, self.console.lang))

    async def remove_character(self, call: Call) -> None:
        name = call.get("name") or ""
        await self.console.rooms.remove_character(self._room, call.user_id, name)
        self.console.say(message("reply.character_removed", name=name.upper()))

    async def add_location(self, call: Call) -> None:
        place = await self.console.rooms.add_location(
            self._room, call.user_id, call.get("name") or "", call.get("description") or ""
        )
        self.console.say(message("reply.location_added", name=place.name))

    async def edit_location(self, call: Call) -> None:
        place = await self.console.rooms.edit_location(
            self._room,
            call.user_id,
            call.get("name") or "",
            new_name=call.get("rename"),
            description=call.get("description"),
        )
        description = place.description or message("console.no_description")
        self.console.say(message("console.location", name=place.name, description=description))

    async def remove_location(self, call: Call) -> None:
        name = call.get("name") or ""
        await self.console.rooms.remove_location(self._room, call.user_id, name)
        self.console.say(message("reply.location_removed", name=name.upper()))

    async def add_beat(self, call: Call) -> None:
        beat = await self.console.rooms.add_beat(self._room, call.user_id, call.get("text") or "")
        self.console.say(beat_line(beat, self.console.lang))

    async def edit_beat(self, call: Call) -> None:
        beat = await self.console.rooms.edit_beat(
            self._room,
            call.user_id,
            call.number("number") or 0,
            text=call.get("text"),
            status=call.get("status"),
        )
        self.console.say(beat_line(beat, self.console.lang))

    async def remove_beat(self, call: Call) -> None:
        number = call.number("number") or 0
        await self.console.rooms.remove_beat(self._room, call.user_id, number)
        self.console.say(message("reply.beat_removed", number=number))

    async def style(self, call: Call) -> None:
        changes = {
            field: unescape(value)
            for option, field in STYLE_FIELDS.items()
            if (value := call.get(option)) is not None
        }
        project = await self.console.rooms.set_premise(self._room, call.user_id, **changes)
        shown = [
            ("genre", project.genre or "-"),
            ("tone", project.tone or "-"),
            ("language", project.language),
            ("paper", project.page_size.value),
        ]
        self.console.say(
            pairs(shown, self.console.lang)
            + "\n"
            + message("console.notes", notes=project.style_notes or "-").render(self.console.lang)
        )
        notice = language_notice(self.console.app.settings, project.language)
        if notice is not None and "language" in changes:
            self.console.say(notice)

    async def vary(self, call: Call) -> None:
        take = call.number("take")
        if take is None:
            raise BadInput("console.vary_which")
        proposal_id = await self.console._proposal_for(call, open_only=False)
        fresh = await self.console.rooms.vary(self._room, call.user_id, proposal_id, take)
        self.console.say(message("console.varying", take=take, proposal=proposal_id, new=fresh.id))
        await self.console._generate(fresh)

    async def stats(self, call: Call) -> None:
        figures = await self.console.rooms.stats(self._room)
        say, lang = self.console.say, self.console.lang
        say(
            message(
                "console.stats",
                pages=counted("page", figures.pages),
                paper=command_text("choice", figures.paper, lang) or figures.paper,
                minutes=f"{figures.runtime_minutes:g}",
                scenes=counted("scene", figures.scenes),
                words=counted("word", figures.words),
            )
        )
        for place in figures.locations:
            say(
                message(
                    "console.stats_place", name=place.name, scenes=counted("scene", place.scenes)
                )
            )
        for person in figures.characters:
            lines, words = counted("line", person.lines), counted("word", person.words)
            say(message("console.stats_person", name=person.name, lines=lines, words=words))
