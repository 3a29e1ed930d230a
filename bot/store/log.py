"""The event log: every command appends an event; undoable story changes carry their changes in
the payload, and the undo and redo stacks are read back from the log (`undo_stacks`).
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from bot.domain import (
    Event,
)
from bot.messages import Message
from bot.store.connection import INTEGERS, fetch_rows, scalar, storable

#: The columns an `Event` is read from (`event_from_row`).
EVENT_COLUMNS = "id, room_id, user_id, at, kind, summary, said, undoable, target"


async def next_event_id(db: aiosqlite.Connection) -> int:
    """The id the next event will get. Events are never deleted, so max+1 under the write lock is
    a fresh id; reserving it first lets script lines name their event before it is written."""
    return int(await scalar(db, "SELECT coalesce(max(id), 0) + 1 FROM events"))


async def append_event(
    db: aiosqlite.Connection,
    *,
    room_id: int,
    user_id: int,
    at: float,
    kind: str,
    summary: Message,
    payload: dict[str, Any],
    undoable: bool = False,
    target: int | None = None,
    event_id: int | None = None,
) -> int:
    values = (
        room_id,
        user_id,
        at,
        kind,
        summary.render(),
        _json(summary.to_json()),
        int(undoable),
        target,
        _json(payload),
    )
    columns = "room_id, user_id, at, kind, summary, said, undoable, target, payload"
    if event_id is not None:
        await db.execute(
            f"INSERT INTO events (id, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, *values),
        )
        return event_id
    cursor = await db.execute(
        f"INSERT INTO events (id, {columns}) VALUES "
        "((SELECT coalesce(max(id), 0) + 1 FROM events), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def event_from_row(row: Any) -> Event:
    said = row["said"]
    summary = (
        Message("event.as_stored", {"text": row["summary"]})
        if said is None
        else Message.from_json(json.loads(said))
    )
    return Event(
        id=row["id"],
        room_id=row["room_id"],
        user_id=row["user_id"],
        at=row["at"],
        kind=row["kind"],
        summary=summary,
        undoable=bool(row["undoable"]),
        target=row["target"],
    )


async def load_event(db: aiosqlite.Connection, event_id: int) -> tuple[Event, dict[str, Any]]:
    """The event and its payload."""
    if not storable(event_id):
        raise LookupError(event_id)
    async with db.execute(
        f"SELECT {EVENT_COLUMNS}, payload FROM events WHERE id = ?",
        (event_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise LookupError(event_id)
    return event_from_row(row), json.loads(row["payload"])


async def load_events(
    db: aiosqlite.Connection, room_id: int, limit: int | None = None
) -> tuple[Event, ...]:
    """The room's log, oldest first; with `limit`, only the latest `limit` events."""
    if not storable(room_id):
        return ()
    rows = await fetch_rows(
        db,
        f"SELECT * FROM (SELECT {EVENT_COLUMNS} "
        "FROM events WHERE room_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
        (room_id, -1 if limit is None else min(limit, INTEGERS[-1])),
    )
    return tuple(event_from_row(r) for r in rows)


async def undo_stacks(db: aiosqlite.Connection, room_id: int) -> tuple[list[int], list[int]]:
    """(undo stack, redo stack) of event ids, top last, replayed from the log.

    A story change pushes onto the undo stack and empties the redo stack; an undo moves the top of
    the undo stack onto the redo stack, a redo moves it back; a reset empties both.
    """
    if not storable(room_id):
        return [], []
    rows = await fetch_rows(
        db,
        "SELECT id, kind, target FROM events WHERE room_id = ? "
        "AND (undoable = 1 OR kind IN ('undo', 'redo', 'reset')) ORDER BY id",
        (room_id,),
    )
    undo: list[int] = []
    redo: list[int] = []
    for event_id, kind, target in rows:
        if kind == "undo":
            undo.pop()
            redo.append(target)
        elif kind == "redo":
            redo.pop()
            undo.append(target)
        elif kind == "reset":
            undo.clear()
            redo.clear()
        else:
            undo.append(event_id)
            redo.clear()
    return undo, redo
