"""Story changes: the project (premise), the bible, locations, the outline, the writers' own
script lines, an import, and undo/redo.

Every change here is one undoable event whose payload lists its changes with before and after
(`RoomCore._story_change`); undo and redo replay the log (see `bot.store.undo_stacks`). They
cover the story, not votes, proposals or settings. Undoing or redoing another writer's change
needs a showrunner. Parsing a writer's text or an imported file runs off the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bot import store as db_
from bot.domain import (
    Attribution,
    Beat,
    BeatStatus,
    CharacterEntry,
    Event,
    Location,
    PageSize,
    Project,
    ScriptLine,
    clean_text,
    cue_name,
)
from bot.errors import (
    BadInput,
    NotAllowed,
    NotFound,
    NothingToUndo,
)
from bot.messages import counted, message
from bot.room.core import (
    RoomCore,
    beat_in,
    character_in,
    entry_change,
    insert_change,
    location_in,
    project_change,
    quote,
)
from bot.room.takes import beat_text, clean_sheet
from bot.room.text import IMPORT_TIME_LIMIT_S, parse_script, read_script_file
from bot.store import Change
from screenplay.types import Boneyard, Character, Element


class StoryChanges(RoomCore):
    """The commands that change the story directly, and undo/redo."""

    # --- the project, the bible, locations, the outline ---------------------------------------

    async def set_premise(
        self,
        room_id: int,
        user_id: int,
        *,
        title: str | None = None,
        logline: str | None = None,
        genre: str | None = None,
        tone: str | None = None,
        style_notes: str | None = None,
        language: str | None = None,
        page_size: str | None = None,
    ) -> Project:
        """Change any of the project's fields (those given); undoable."""
        changes: dict[str, Any] = {}
        for name, value, multiline in (
            ("title", title, False),
            ("logline", logline, True),
            ("genre", genre, False),
            ("tone", tone, False),
            ("style_notes", style_notes, True),
            ("language", language, False),
        ):
            if value is not None:
                label = name.replace("_", " ")
                changes[name] = clean_text(value, label, name, multiline=multiline)
        if page_size is not None:
            try:
                changes["page_size"] = PageSize(page_size.strip().lower())
            except ValueError:
                raise BadInput("error.page_size") from None
        if "language" in changes and not changes["language"]:
            raise BadInput("error.language_empty")
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await db_.load_project(db, room_id)
            after = dataclasses.replace(before, **changes)
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "premise",
                    message("event.premise", fields=[message(f"field.{k}") for k in changes]),
                    [project_change(before, after)],
                )
            return after

    async def add_character(
        self, room_id: int, user_id: int, name: str, **sheet: str
    ) -> CharacterEntry:
        """Put a character in the bible; `sheet` holds any of role, description, personality,
        backstory, voice, relationships."""
        entry = CharacterEntry(cue_name(name), **clean_sheet(sheet))
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await character_in(db, room_id, entry.name) is not None:
                raise BadInput("error.in_bible_edit", name=entry.name)
            await self._story_change(
                db,
                room_id,
                user_id,
                "character",
                message("event.character_added", name=entry.name),
                [entry_change("character", None, entry)],
            )
            return entry

    async def edit_character(
        self, room_id: int, user_id: int, name: str, *, new_name: str | None = None, **sheet: str
    ) -> CharacterEntry:
        """Change fields of a bible entry (and with `new_name`, its cue name)."""
        key = cue_name(name)
        changes = clean_sheet(sheet)
        if new_name is not None:
            changes["name"] = cue_name(new_name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await character_in(db, room_id, key)
            if before is None:
                raise NotFound("error.not_in_bible", name=key)
            after = dataclasses.replace(before, **changes)
            if after.name != before.name and await character_in(db, room_id, after.name):
                raise BadInput("error.in_bible", name=after.name)
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "character",
                    message("event.character_edited", name=before.name),
                    [entry_change("character", before, after)],
                )
            return after

    async def remove_character(self, room_id: int, user_id: int, name: str) -> None:
        key = cue_name(name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await character_in(db, room_id, key)
            if before is None:
                raise NotFound("error.not_in_bible", name=key)
            await self._story_change(
                db,
                room_id,
                user_id,
                "character",
                message("event.character_removed", name=key),
                [entry_change("character", before, None)],
            )

    async def add_location(
        self, room_id: int, user_id: int, name: str, description: str = ""
    ) -> Location:
        location = Location(
            _location_name(name), clean_text(description, "description", "description")
        )
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await location_in(db, room_id, location.name) is not None:
                raise BadInput("error.location_exists_edit", name=location.name)
            await self._story_change(
                db,
                room_id,
                user_id,
                "location",
                message("event.location_added", name=location.name),
                [entry_change("location", None, location)],
            )
            return location

    async def edit_location(
        self,
        room_id: int,
        user_id: int,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
    ) -> Location:
        key = _location_name(name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await location_in(db, room_id, key)
            if before is None:
                raise NotFound("error.no_location", name=key)
            after = Location(
                _location_name(new_name) if new_name is not None else before.name,
                clean_text(description, "description", "description")
                if description is not None
                else before.description,
            )
            if after.name != before.name and await location_in(db, room_id, after.name):
                raise BadInput("error.location_exists", name=after.name)
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "location",
                    message("event.location_edited", name=before.name),
                    [entry_change("location", before, after)],
                )
            return after

    async def remove_location(self, room_id: int, user_id: int, name: str) -> None:
        key = _location_name(name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await location_in(db, room_id, key)
            if before is None:
                raise NotFound("error.no_location", name=key)
            await self._story_change(
                db,
                room_id,
                user_id,
                "location",
                message("event.location_removed", name=key),
                [entry_change("location", before, None)],
            )

    async def add_beat(self, room_id: int, user_id: int, text: str) -> Beat:
        """Add a planned beat at the end of the outline."""
        text = beat_text(text)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            record = await db_.new_beat_record(db, room_id, text)
            await self._story_change(
                db,
                room_id,
                user_id,
                "beat",
                message("event.beat_added", quote=quote(text)),
                [{"op": "beat", "before": None, "after": record}],
            )
            return next(b for b in await db_.load_beats(db, room_id) if b.id == record["id"])

    async def edit_beat(
        self,
        room_id: int,
        user_id: int,
        number: int,
        *,
        text: str | None = None,
        status: str | None = None,
    ) -> Beat:
        """Change beat `number` (from 1): its text, or its status (planned / written)."""
        new_text = beat_text(text) if text is not None else None
        try:
            new_status = BeatStatus(status.strip().lower()) if status is not None else None
        except ValueError:
            raise BadInput("error.beat_status") from None
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            beat = await beat_in(db, room_id, number)
            before = await db_.beat_record(db, room_id, beat.id)
            after = dict(before)
            if new_text is not None:
                after["text"] = new_text
            if new_status is not None:
                after["status"] = new_status.value
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "beat",
                    message("event.beat_edited", number=number),
                    [{"op": "beat", "before": before, "after": after}],
                )
            return next(b for b in await db_.load_beats(db, room_id) if b.id == beat.id)

    async def remove_beat(self, room_id: int, user_id: int, number: int) -> None:
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            beat = await beat_in(db, room_id, number)
            before = await db_.beat_record(db, room_id, beat.id)
            await self._story_change(
                db,
                room_id,
                user_id,
                "beat",
                message("event.beat_removed", number=number, quote=quote(beat.text)),
                [{"op": "beat", "before": before, "after": None}],
            )

    # --- the script -----------------------------------------------------------------------------

    async def write(
        self, room_id: int, user_id: int, fountain: str, *, after: int | None = None
    ) -> tuple[ScriptLine, ...]:
        """Put the writer's own Fountain lines into the script: at the end, or after line
        `after` (0: at the very start). Refused, with the lint message, when the text is not a
        screenplay."""
        text = clean_text(fountain, "text", "fountain")
        if not text:
            raise BadInput("error.text_empty")
        # Parsing and linting is CPU work proportional to the text: off the event loop.
        elements = await asyncio.to_thread(parse_script, text)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            length = await db_.script_length(db, room_id)
            if after is None:
                after = length
            if not 0 <= after <= length:
                raise BadInput("error.write_after", length=length)
            anchor = await db_.line_id_at(db, room_id, after)
            event_id = await db_.next_event_id(db)
            change = await insert_change(
                db, anchor, elements, event_id, Attribution(written_by=user_id)
            )
            lines = counted("line", len(elements))
            summary = (
                message("event.wrote_after", lines=lines, after=after)
                if after < length
                else message("event.wrote", lines=lines)
            )
            await self._story_change(
                db, room_id, user_id, "write", summary, [change], event_id=event_id
            )
            return await db_.load_script(db, room_id, after + 1, after + len(elements))

    async def import_script(
        self, room_id: int, user_id: int, filename: str, data: bytes
    ) -> tuple[ScriptLine, ...]:
        """Make a .fountain or .fdx file the script of a room that has none yet, as one change
        (one undo). The file's title becomes the project's title when the room has none, and
        every character who speaks in it gets a sheet in the bible (an existing one is kept)."""
        # A file of megabytes takes a while to read: in the worker process, so every other room
        # (and Discord's heartbeat) carries on meanwhile, and a file made to be slow is stopped.
        document = await self.offload.run(
            read_script_file,
            filename,
            data,
            time_limit_s=IMPORT_TIME_LIMIT_S,
            too_long=message(
                "error.import_too_slow", file=filename, seconds=f"{IMPORT_TIME_LIMIT_S:.0f}"
            ),
        )
        elements = tuple(e for e in document.elements if not isinstance(e, Boneyard))
        if not elements:
            raise BadInput("error.import_empty", file=filename)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await db_.script_length(db, room_id):
                raise BadInput("error.import_has_script")
            event_id = await db_.next_event_id(db)
            changes = [
                await insert_change(db, None, elements, event_id, Attribution(written_by=user_id))
            ]
            changes += await _imported_cast(db, room_id, elements)
            project = await db_.load_project(db, room_id)
            if document.title and not project.title:
                title = clean_text(document.title, "title", "title", multiline=False)
                updated = dataclasses.replace(project, title=title)
                changes.append(project_change(project, updated))
            await self._story_change(
                db,
                room_id,
                user_id,
                "import",
                message("event.imported", file=filename, lines=counted("line", len(elements))),
                changes,
                event_id=event_id,
            )
            return await db_.load_script(db, room_id, 1, len(elements))

    async def undo(
        self, room_id: int, user_id: int, *, is_showrunner: bool = False, roles: Sequence[int] = ()
    ) -> Event:
        """Undo the room's latest story change (a showrunner may undo anyone's)."""
        return await self._undo_or_redo(room_id, user_id, is_showrunner, tuple(roles), redo=False)

    async def redo(
        self, room_id: int, user_id: int, *, is_showrunner: bool = False, roles: Sequence[int] = ()
    ) -> Event:
        """Redo the change undone last, as long as nothing new happened since."""
        return await self._undo_or_redo(room_id, user_id, is_showrunner, tuple(roles), redo=True)

    async def _undo_or_redo(
        self, room_id: int, user_id: int, is_showrunner: bool, roles: tuple[int, ...], *, redo: bool
    ) -> Event:
        verb = "redo" if redo else "undo"
        async with self._lock(room_id), self.store.write() as db:
            if not await db_.room_exists(db, room_id):
                raise NothingToUndo(f"error.nothing_to_{verb}")
            settings = await db_.load_settings(db, room_id)
            undo_stack, redo_stack = await db_.undo_stacks(db, room_id)
            stack = redo_stack if redo else undo_stack
            if not stack:
                raise NothingToUndo(f"error.nothing_to_{verb}")
            target, payload = await db_.load_event(db, stack[-1])
            author = payload.get("author", target.user_id)
            if author != user_id and not settings.is_showrunner(user_id, roles, is_showrunner):
                raise NotAllowed(f"error.other_writers_{verb}", summary=target.summary)
            changes: list[Change] = payload["changes"]
            if not redo:
                changes = [db_.invert(c) for c in reversed(changes)]
            await db_.apply_changes(db, room_id, changes)
            summary = message(f"event.{'redid' if redo else 'undid'}", summary=target.summary)
            at = self.clock()
            event_id = await db_.append_event(
                db,
                room_id=room_id,
                user_id=user_id,
                at=at,
                kind=verb,
                summary=summary,
                payload={},
                target=target.id,
            )
            return Event(event_id, room_id, user_id, at, verb, summary, target=target.id)


def _location_name(name: str) -> str:
    cleaned = clean_text(name, "location name", "location", multiline=False).upper()
    if not cleaned:
        raise BadInput("error.location_name")
    return cleaned


async def _imported_cast(
    db: aiosqlite.Connection, room_id: int, elements: Sequence[Element]
) -> list[Change]:
    """Bible entries for the speakers of an imported script who have none yet: the name from
    their cue, an empty sheet for the room to fill."""
    known = {entry.name for entry in await db_.load_characters(db, room_id)}
    changes: list[Change] = []
    for element in elements:
        if not isinstance(element, Character):
            continue
        try:
            name = cue_name(element.name)
        except BadInput:
            continue  # a cue longer than a bible name: left out of the bible, kept in the script
        if name not in known:
            known.add(name)
            changes.append(entry_change("character", None, CharacterEntry(name)))
    return changes
