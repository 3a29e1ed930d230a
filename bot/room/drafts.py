"""The room's history, undoing back to a chosen change, named drafts, and the script as a file
with its scene numbers and revision marks.

`history` lists the room's changes, newest first and paged; a change's number is its place in
the room's log, so it never changes. `undo_to` undoes every story change made after a chosen one
as ONE new undoable event (its changes are the inverses of theirs, latest first): `/undo` undoes
it again, `/redo` redoes it, and the log keeps every step. A draft (`save_draft`) records the
script as it stands under a name and locks the scene numbering (`bot.room.numbering`); an export
prints the locked numbers, an `OMITTED` heading for each scene deleted since, and with
`changes_since` marks every element changed since that draft (a revision asterisk in the PDF's
right margin).

`DraftsAndHistory.export` takes the place of `Reading.export` in `bot.room.RoomService` (it
comes first among the parts): an export needs the drafts for its numbers and marks. Knows
nothing of Discord or SQL text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from bot import store as db_
from bot.domain import (
    Event,
    Room,
    ScriptLine,
    clean_text,
    script_lang,
    with_attribution_notes,
)
from bot.errors import BadInput, NotAllowed, NotFound, NothingToUndo
from bot.messages import Lang, counted, message
from bot.room.core import RoomCore, script_in_steps, storable
from bot.room.numbering import Locked, lock, numbered_elements
from bot.room.script import locked_numbers
from bot.room.text import EXPORT_FORMATS, EXPORT_TIME_LIMIT_S, page_layout, render_export
from bot.store import Change
from bot.store import drafts as drafts_db
from screenplay.types import Document, Element, SceneHeading

#: Changes `/history` shows on a page.
HISTORY_PAGE = 15


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One change as `/history` lists it: its number, the event, and whether it is undone now
    (by an undo, or by an undo back to an earlier change)."""

    number: int
    event: Event
    undone: bool = False


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: tuple[HistoryEntry, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class Draft:
    name: str
    saved_by: int
    at: float
    scenes: int  # scenes in the script when it was saved


class DraftsAndHistory(RoomCore):
    """History, undo back to a change, drafts, and exports that carry scene numbers."""

    async def history(self, room_id: int, page: int = 1) -> HistoryPage:
        """Page `page` (from 1) of the room's changes, newest first."""
        if page < 1 or not storable(page * HISTORY_PAGE):
            raise BadInput("error.pages_from_1")
        async with self.store.read() as db:
            total, rows = await drafts_db.history_rows(
                db, room_id, HISTORY_PAGE, (page - 1) * HISTORY_PAGE
            )
            undone = await _undone_now(db, room_id)
        pages = max(1, -(-total // HISTORY_PAGE))
        if page > pages:
            raise BadInput("error.history_pages", pages=counted("page", pages))
        entries = tuple(
            HistoryEntry(number, event, event.undoable and event.id in undone)
            for number, event, _ in rows
        )
        return HistoryPage(entries, page, pages, total)

    async def undo_to(
        self,
        room_id: int,
        user_id: int,
        number: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> Event:
        """Undo every story change made after change `number` (0: every change), as one
        event; undoing another writer's change needs a showrunner."""
        async with self._lock(room_id), self.store.write() as db:
            if not await db_.room_exists(db, room_id):
                raise NothingToUndo("error.nothing_to_undo")
            later = await _changes_after(db, room_id, number)
            settings = await db_.load_settings(db, room_id)
            changes: list[Change] = []
            for event, payload in reversed(later):
                author = payload.get("author", event.user_id)
                if author != user_id and not settings.is_showrunner(
                    user_id, tuple(roles), is_showrunner
                ):
                    raise NotAllowed(
                        "error.undo_to_other_writer", number=number, summary=event.summary
                    )
                changes += [db_.invert(c) for c in reversed(payload["changes"])]
            count = len(later)
            undone = counted("change", count)
            summary = (
                message("event.undid_all", changes=undone)
                if number == 0
                else message("event.undid_to", changes=undone, number=number)
            )
            undid = [event.id for event, _ in later]
            event_id = await self._story_change(
                db, room_id, user_id, "undo_to", summary, changes, extra={"undid": undid}
            )
            event, _ = await db_.load_event(db, event_id)
            return event

    async def save_draft(self, room_id: int, user_id: int, name: str) -> Draft:
        """Record the script as draft `name` and lock its scene numbers."""
        name = clean_text(name, "draft name", "title", multiline=False)
        if not name:
            raise BadInput("error.draft_name")
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await drafts_db.draft_lines(db, room_id, name) is not None:
                raise BadInput("error.draft_exists", name=name)
            script = await db_.load_script(db, room_id)
            if not script:
                raise BadInput("error.draft_no_script")
            scenes = lock(script, await locked_numbers(db, room_id))
            event_id = await self._record(
                db, room_id, user_id, "draft", message("event.draft", name=name), {"name": name}
            )
            at = self.clock()
            await drafts_db.insert_draft(
                db,
                room_id=room_id,
                name=name,
                saved_by=user_id,
                at=at,
                event_id=event_id,
                scenes=list(scenes),
                lines={line.id: db_.encode_element(line.element) for line in script},
            )
            headings = sum(isinstance(line.element, SceneHeading) for line in script)
            return Draft(name, user_id, at, headings)

    async def drafts(self, room_id: int) -> tuple[Draft, ...]:
        async with self.store.read() as db:
            rows = await drafts_db.draft_rows(db, room_id)
        return tuple(Draft(r["name"], r["saved_by"], r["at"], len(r["scenes"])) for r in rows)

    async def export(
        self,
        room_id: int,
        fmt: str,
        *,
        attribution: bool = False,
        names: Mapping[int, str] | None = None,
        changes_since: str | None = None,
    ) -> bytes:
        """The script as a file: `fountain`, `fdx`, `pdf` or `html`. With `attribution`,
        Fountain notes say who wrote or picked each run of lines (`names` maps user ids to
        names); once a draft was saved, scene numbers (and omitted scenes); with
        `changes_since` (a draft's name), revision marks on what changed since."""
        fmt = fmt.strip().lower()
        if fmt not in EXPORT_FORMATS:
            raise BadInput(
                "error.export_formats", formats=", ".join(EXPORT_FORMATS), given=repr(fmt)
            )
        async with self.store.read() as db:
            project = await db_.load_project(db, room_id)
            script = await script_in_steps(db, room_id)
            locked = await locked_numbers(db, room_id)
            since = None
            if changes_since is not None:
                since = await drafts_db.draft_lines(db, room_id, changes_since.strip())
                if since is None:
                    raise NotFound("error.no_draft", name=changes_since.strip())
        if not script:
            raise BadInput("error.nothing_to_export")
        room = Room(room_id, exists=True, project=project, script=script)
        doc = room.document(attribution=attribution, names=names)
        notes = script_lang(project.language)
        doc = _numbered(doc, script, locked, since, attribution, names, notes)
        return await self.offload.run(
            render_export,
            doc,
            fmt,
            project.page_size.value,
            page_layout(project.language),
            time_limit_s=EXPORT_TIME_LIMIT_S,
            too_long=message("error.export_too_slow", seconds=f"{EXPORT_TIME_LIMIT_S:.0f}"),
        )


def _numbered(
    doc: Document,
    script: Sequence[ScriptLine],
    locked: Locked,
    since: Mapping[int, str] | None,
    attribution: bool,
    names: Mapping[int, str] | None,
    lang: Lang,
) -> Document:
    """`doc` with the locked scene numbers and omitted scenes, and with `since` (a draft's
    lines) its elements changed since that draft marked revised."""
    if not locked and since is None:
        return doc
    elements: list[Element] = (
        with_attribution_notes(list(script), names, lang)
        if attribution
        else [x.element for x in script]
    )
    by_identity = {id(line.element): line for line in script}
    lines = [by_identity.get(id(element)) for element in elements]
    heading_ids = [
        line.id if line is not None and isinstance(line.element, SceneHeading) else None
        for line in lines
    ]
    numbered = numbered_elements(elements, heading_ids, locked)
    changed: set[int] = set()
    if since is not None:
        changed = {
            id(line.element)
            for line in script
            if since.get(line.id) != db_.encode_element(line.element)
        }
    revised = frozenset(
        k
        for k, (_, source) in enumerate(numbered)
        if source is not None and id(elements[source]) in changed
    )
    return dataclasses.replace(
        doc, elements=tuple(element for element, _ in numbered), revised=revised
    )


async def _changes_after(
    db: aiosqlite.Connection, room_id: int, number: int
) -> list[tuple[Event, dict[str, Any]]]:
    """The story changes in effect made after change `number`, oldest first, with payloads."""
    undo_stack, _ = await db_.undo_stacks(db, room_id)
    if number == 0:
        later_ids = undo_stack
    else:
        event_id = await drafts_db.event_id_of_change(db, room_id, number)
        if event_id is None:
            raise NotFound("error.no_change", number=number)
        if event_id not in undo_stack:
            raise BadInput("error.change_not_in_effect", number=number)
        later_ids = undo_stack[undo_stack.index(event_id) + 1 :]
    if not later_ids:
        raise NothingToUndo("error.nothing_after_change", number=number)
    return [await db_.load_event(db, event_id) for event_id in later_ids]


async def _undone_now(db: aiosqlite.Connection, room_id: int) -> set[int]:
    """Story changes not in effect now: undone last (not redone since), or undone by an undo
    back to an earlier change that is itself in effect."""
    undo_stack, _ = await db_.undo_stacks(db, room_id)
    undone = await drafts_db.undone_last(db, room_id)
    in_effect = set(undo_stack)
    for event_id, undid in await drafts_db.undos_to(db, room_id):
        if event_id in in_effect:
            undone.update(undid)
    return undone
