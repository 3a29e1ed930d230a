"""The console's commands for reshaping the script: revise a line or a scene, delete lines or a
scene, move or insert a scene, the room's history, undo back to a change, and named drafts.

Each command calls one room-service method and prints its answer; the console (`bot.console`)
parses the lines and hands the calls here. Knows how to print these answers; the rules are
`bot.room`'s.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.commandline import Call, unescape
from bot.console_print import count
from bot.errors import BadInput
from bot.messages import Lang, Message, counted, message
from bot.room import RoomService, line_range, numbered_text

Handler = Callable[[Call], Awaitable[bool | None]]


class ReviseHost(Protocol):
    """What these commands need of the console."""

    rooms: RoomService
    room_id: int
    lang: Lang

    def say(self, text: str | Message = "") -> None: ...

    def _name(self, user_id: int) -> str: ...


class ReviseCommands:
    """The handlers, bound to one console."""

    def __init__(self, console: ReviseHost) -> None:
        self.console = console

    def handlers(self) -> dict[str, Handler]:
        return {
            "revise": self._revise,
            "delete": self._delete,
            "move": self._move,
            "insert": self._insert,
            "history": self._history,
            "undo": self._undo,
            "draft save": self._draft_save,
            "draft list": self._draft_list,
        }

    @property
    def rooms(self) -> RoomService:
        return self.console.rooms

    @property
    def room_id(self) -> int:
        return self.console.room_id

    def say(self, text: str | Message = "") -> None:
        self.console.say(text)

    async def _revise(self, call: Call) -> None:
        line, scene, text = call.number("line"), call.get("scene"), call.get("text")
        if (line is None) == (scene is None):
            raise BadInput("reply.revise_what")
        if line is not None:
            if text is None:
                raise BadInput("console.revise_line_text", line=line)
            revised = await self.rooms.revise_line(self.room_id, call.user_id, line, unescape(text))
            self.say(message("reply.line_now_reads", line=line))
            self.say(numbered_text([revised]))
            return
        assert scene is not None
        if text is None:  # the scene to copy, as Discord's form is prefilled with it
            view = await self.rooms.scene(self.room_id, scene)
            self.say(message("console.scene_as_fountain", scene=view.label))
            self.say(view.fountain.rstrip("\n"))
            return
        view = await self.rooms.revise_scene(self.room_id, call.user_id, scene, unescape(text))
        self.say(message("reply.scene_now_reads", scene=view.label))
        self.say(numbered_text(view.lines))

    async def _delete(self, call: Call) -> None:
        lines, scene = call.get("lines"), call.get("scene")
        if (lines is None) == (scene is None):
            raise BadInput("reply.delete_what")
        if lines is not None:
            first, last = line_range(lines)
            gone = await self.rooms.delete_lines(self.room_id, call.user_id, first, last)
            self.say(message("console.deleted_lines", lines=counted("line", gone)))
            return
        assert scene is not None
        view = await self.rooms.delete_scene(self.room_id, call.user_id, scene)
        self.say(
            message(
                "console.deleted_scene", scene=view.label, lines=counted("line", len(view.lines))
            )
        )

    async def _move(self, call: Call) -> None:
        view = await self.rooms.move_scene(
            self.room_id, call.user_id, call.get("scene") or "", call.get("after") or ""
        )
        self.say(message("reply.moved", scene=view.label, line=view.lines[0].number))

    async def _insert(self, call: Call) -> None:
        lines = await self.rooms.insert_scene(
            self.room_id,
            call.user_id,
            unescape(call.get("text") or ""),
            call.get("before_scene") or "",
        )
        self.say(message("console.inserted", lines=counted("line", len(lines))))
        self.say(numbered_text(lines))

    async def _history(self, call: Call) -> None:
        page = await self.rooms.history(self.room_id, call.number("page") or 1)
        if not page.entries:
            self.say(message("reply.history_empty"))
            return
        self.say(message("reply.history_page", page=page.page, pages=page.pages))
        for entry in page.entries:
            event = entry.event
            when = datetime.datetime.fromtimestamp(event.at).strftime("%Y-%m-%d %H:%M")
            undone = message("reply.undone_mark").render(self.console.lang) if entry.undone else ""
            self.say(
                f"#{entry.number:<4} {when}  {self.console._name(event.user_id)}: "
                f"{event.summary.render(self.console.lang)}{undone}"
            )
        if page.page < page.pages:
            self.say(message("reply.history_older", page=page.page + 1))

    async def _undo(self, call: Call) -> None:
        to = call.number("to")
        if to is None:
            event = await self.rooms.undo(
                self.room_id, call.user_id, is_showrunner=call.is_showrunner
            )
            self.say(message("console.undone", summary=event.what_it_took_back))
            return
        event = await self.rooms.undo_to(
            self.room_id, call.user_id, to, is_showrunner=call.is_showrunner
        )
        said = event.summary.render(self.console.lang)
        summary = f"{said[:1].upper()}{said[1:]}"
        self.say(message("console.undone_to", summary=summary))

    async def _draft_save(self, call: Call) -> None:
        draft = await self.rooms.save_draft(self.room_id, call.user_id, call.get("name") or "")
        self.say(
            message("console.draft_saved", name=draft.name, scenes=counted("scene", draft.scenes))
        )

    async def _draft_list(self, call: Call) -> None:
        drafts = await self.rooms.drafts(self.room_id)
        if not drafts:
            self.say(message("console.no_drafts"))
            return
        for draft in drafts:
            when = datetime.datetime.fromtimestamp(draft.at).strftime("%Y-%m-%d %H:%M")
            self.say(
                f'"{draft.name}" — {when}, {self.console._name(draft.saved_by)}, '
                f"{count(draft.scenes, 'scene', self.console.lang)}"
            )
