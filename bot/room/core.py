"""What every part of the room service shares: the store, the clock, the per-room locks, the
event log, and the small readers and change builders used inside a transaction.

A lock per room makes one room's commands run one at a time (so a burst of votes is decided
exactly once) while different rooms proceed in parallel; each command is one `BEGIN IMMEDIATE`
transaction of `bot.store`. Knows nothing of Discord, of SQL text, or of how takes are generated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite

from bot import store as db_
from bot.context import TokenCounter, estimate_tokens
from bot.domain import (
    SYSTEM_USER,
    Attribution,
    Beat,
    CharacterEntry,
    Location,
    Project,
    Proposal,
    ProposalStatus,
    RoomSettings,
    ScriptLine,
)
from bot.errors import (
    AlreadyDecided,
    NotFound,
    NotReady,
)
from bot.generation import TakeGenerator
from bot.messages import Message, counted, message
from bot.offload import Offload
from bot.offload import shared as shared_offload
from bot.store import Change, Store
from screenplay.types import Element

Clock = Callable[[], float]


class RoomCore:
    """The state the parts of `bot.room.RoomService` share, and the writes every part makes:
    creating a room on its first command, logging an event, applying an undoable change."""

    def __init__(
        self,
        store: Store,
        generator: TakeGenerator | None = None,
        *,
        clock: Clock = time.time,
        context_budget: int = 1500,
        token_counter: TokenCounter = estimate_tokens,
        offload: Offload | None = None,
    ) -> None:
        self.store = store
        #: Where imports are read and exports laid out: a worker process, off the event loop.
        self.offload = offload or shared_offload()
        self.generator = generator
        self.clock = clock
        self.context_budget = context_budget
        self.token_counter = token_counter
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, room_id: int) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()
        return lock

    # --- helpers that write -------------------------------------------------------------------

    async def _ensure_room(
        self, db: aiosqlite.Connection, room_id: int, user_id: int
    ) -> RoomSettings:
        """The room's settings; a room that does not exist yet is created with `user_id` as its
        first showrunner."""
        settings = await db_.find_settings(db, room_id)
        if settings is not None:
            return settings
        founder = () if user_id == SYSTEM_USER else (user_id,)
        settings = RoomSettings(showrunners=founder)
        await db_.create_room(db, room_id, self.clock(), settings)
        await self._record(db, room_id, user_id, "open", message("event.open"), {})
        return settings

    async def _record(
        self,
        db: aiosqlite.Connection,
        room_id: int,
        user_id: int,
        kind: str,
        summary: Message,
        payload: dict[str, Any],
    ) -> int:
        return await db_.append_event(
            db,
            room_id=room_id,
            user_id=user_id,
            at=self.clock(),
            kind=kind,
            summary=summary,
            payload=payload,
        )

    async def _story_change(
        self,
        db: aiosqlite.Connection,
        room_id: int,
        user_id: int,
        kind: str,
        summary: Message,
        changes: list[Change],
        *,
        event_id: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Apply undoable `changes` and log them as one event."""
        await db_.apply_changes(db, room_id, changes)
        return await db_.append_event(
            db,
            room_id=room_id,
            user_id=user_id,
            at=self.clock(),
            kind=kind,
            summary=summary,
            payload={"changes": changes, **(extra or {})},
            undoable=True,
            event_id=event_id,
        )


#: SQLite's integers are signed 64-bit. A number a writer types beyond them (`/vote
#: proposal:99999999999999999999`) names no row; binding it would raise OverflowError, so the room
#: answers "not found" before asking the store.
SQLITE_INTEGERS = range(-(1 << 63), 1 << 63)


def storable(number: int) -> bool:
    """Whether SQLite can hold `number` (an id or a line number)."""
    return number in SQLITE_INTEGERS


async def proposal_in(db: aiosqlite.Connection, room_id: int, proposal_id: int) -> Proposal:
    if not storable(proposal_id):
        raise NotFound("error.no_proposal", proposal=proposal_id)
    proposal = await db_.load_proposal(db, proposal_id)
    if proposal is None or proposal.room_id != room_id:
        raise NotFound("error.no_proposal", proposal=proposal_id)
    return proposal


async def open_proposal(
    db: aiosqlite.Connection, room_id: int, proposal_id: int, take: int
) -> Proposal:
    """The proposal if it is open to votes and has take `take`; otherwise the sentence why not."""
    proposal = await proposal_in(db, room_id, proposal_id)
    if proposal.status is ProposalStatus.GENERATING:
        raise NotReady("error.takes_being_written_vote", proposal=proposal_id)
    if proposal.status is not ProposalStatus.OPEN:
        raise AlreadyDecided(closed_sentence(proposal))
    if proposal.take(take) is None:
        raise NotFound("error.no_take", proposal=proposal_id, take=take, last=len(proposal.takes))
    return proposal


async def character_in(db: aiosqlite.Connection, room_id: int, name: str) -> CharacterEntry | None:
    return next((c for c in await db_.load_characters(db, room_id) if c.name == name), None)


async def location_in(db: aiosqlite.Connection, room_id: int, name: str) -> Location | None:
    return next((x for x in await db_.load_locations(db, room_id) if x.name == name), None)


async def beat_in(db: aiosqlite.Connection, room_id: int, number: int) -> Beat:
    beats = await db_.load_beats(db, room_id)
    if not 1 <= number <= len(beats):
        raise NotFound("error.no_beat", number=number, beats=counted("beat", len(beats)))
    return beats[number - 1]


async def insert_change(
    db: aiosqlite.Connection,
    anchor: int | None,
    elements: Sequence[Element],
    event_id: int,
    attribution: Attribution,
) -> Change:
    ids = await db_.next_line_ids(db, len(elements))
    return {
        "op": "insert_lines",
        "after_line": anchor,
        "lines": [
            db_.line_record(line_id, element, event_id, attribution)
            for line_id, element in zip(ids, elements, strict=True)
        ],
    }


def entry_change(
    op: str, before: CharacterEntry | Location | None, after: CharacterEntry | Location | None
) -> Change:
    """An undoable change of a bible entry or a location: added (no before), removed (no
    after) or edited."""
    return {
        "op": op,
        "before": None if before is None else dataclasses.asdict(before),
        "after": None if after is None else dataclasses.asdict(after),
    }


def project_change(before: Project, after: Project) -> Change:
    return {
        "op": "project",
        "before": db_.project_to_dict(before),
        "after": db_.project_to_dict(after),
    }


def closed_sentence(proposal: Proposal) -> Message:
    if proposal.status is ProposalStatus.DECIDED:
        undone = "_undone" if proposal.undone_by is not None else ""
        return message(
            f"error.closed_decided{undone}", proposal=proposal.id, take=proposal.decided_take
        )
    if proposal.status is ProposalStatus.REROLLED:
        return message("error.closed_rerolled", proposal=proposal.id, new=proposal.rerolled_as)
    return message(f"error.closed_{proposal.status.value}", proposal=proposal.id)


def quote(text: str, limit: int = 40) -> str:
    line = text.splitlines()[0] if text else ""
    return f"“{line[:limit]}…”" if len(line) > limit or "\n" in text else f"“{line}”"


#: Script lines decoded per read: each read hands the event loop back, so no single step decodes
#: a script of thousands of lines while every other room waits.
_LINES_PER_READ = 500


async def script_in_steps(
    db: aiosqlite.Connection, room_id: int, start: int = 1, end: int | None = None
) -> tuple[ScriptLine, ...]:
    """Lines `start` to `end` of the script (`end` None: the rest), read in steps."""
    lines: list[ScriptLine] = []
    while end is None or start <= end:
        last = start + _LINES_PER_READ - 1 if end is None else min(end, start + _LINES_PER_READ - 1)
        step = await db_.load_script(db, room_id, start, last)
        lines += step
        if len(step) <= last - start:
            break
        start = last + 1
    return tuple(lines)
