"""Reading a room: its state, script lines, proposals and log, and the script as a file.

Reads take a snapshot (`Store.read`) and never the room's lock. An export renders off the event
loop, so a long script does not stop every other room while its pages are laid out. Reading a
script decodes every line on the event loop, work proportional to its length: `show` and
`export` read it a few hundred lines at a time, handing the loop back between reads, and the
cast, the outline and the project can be read without it (`characters`, `beats`, `project`).
"""

from __future__ import annotations

from bot import store as db_
from bot.domain import (
    Beat,
    CharacterEntry,
    Project,
    Proposal,
    ProposalStatus,
    Room,
    RoomSettings,
    ScriptLine,
)
from bot.errors import (
    BadInput,
)
from bot.room.core import (
    RoomCore,
    proposal_in,
    script_in_steps,
    storable,
)


class Reading(RoomCore):
    """What a front end reads of a room."""

    async def room(self, room_id: int) -> Room:
        """Everything the room holds (an empty `Room` with `exists=False` for a new room)."""
        async with self.store.read() as db:
            return await db_.load_room(db, room_id)

    async def project(self, room_id: int) -> Project:
        """The room's title, logline and other project fields (empty for a new room)."""
        async with self.store.read() as db:
            return await db_.load_project(db, room_id)

    async def characters(self, room_id: int) -> tuple[CharacterEntry, ...]:
        """The bible, without reading the script."""
        async with self.store.read() as db:
            return await db_.load_characters(db, room_id)

    async def beats(self, room_id: int) -> tuple[Beat, ...]:
        """The outline, without reading the script."""
        async with self.store.read() as db:
            return await db_.load_beats(db, room_id)

    async def show(
        self, room_id: int, start: int = 1, end: int | None = None
    ) -> tuple[ScriptLine, ...]:
        """Script lines `start` to `end` (numbers from 1, both included; `end` None: the rest)."""
        if start < 1 or (end is not None and end < start):
            raise BadInput("error.show_range")
        if not storable(start):
            return ()  # no script has that many lines
        if end is not None and not storable(end):
            end = None
        async with self.store.read() as db:
            return await script_in_steps(db, room_id, start, end)

    async def settings(self, room_id: int) -> RoomSettings:
        async with self.store.read() as db:
            return await db_.load_settings(db, room_id)

    async def proposal(self, room_id: int, proposal_id: int) -> Proposal:
        async with self.store.read() as db:
            return await proposal_in(db, room_id, proposal_id)

    async def pending_proposals(self, room_id: int | None = None) -> list[Proposal]:
        """Proposals still generating or open to votes (all rooms when `room_id` is None): what a
        restarted bot re-attaches its buttons to and re-queues."""
        async with self.store.read() as db:
            ids = await db_.proposal_ids(
                db, room_id=room_id, statuses=(ProposalStatus.GENERATING, ProposalStatus.OPEN)
            )
            return [p for p in [await db_.load_proposal(db, i) for i in ids] if p is not None]
