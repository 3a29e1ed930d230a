"""The room's named drafts and its history as writers read it (numbered changes, paged).

A draft row keeps the script as it was saved (line id -> element JSON) and the scene numbers it
locked; a change's number is its place in the room's log (1 for the room's first event), so it
never changes once given: events are never deleted.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from bot.domain import Event
from bot.store.connection import fetch_rows, scalar, storable
from bot.store.log import EVENT_COLUMNS, event_from_row

#: Events `/history` lists: story changes (undoable), their undos and redos, resets, drafts,
#: branches. Votes and settings are not changes to the story.
HISTORY_KINDS = ("undo", "redo", "reset", "draft", "branch", "branched")


async def insert_draft(
    db: aiosqlite.Connection,
    *,
    room_id: int,
    name: str,
    saved_by: int,
    at: float,
    event_id: int,
    scenes: list[tuple[int, str]],
    lines: dict[int, str],
) -> None:
    await db.execute(
        "INSERT INTO drafts (room_id, name, saved_by, at, event_id, scenes, lines)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            room_id,
            name,
            saved_by,
            at,
            event_id,
            json.dumps(scenes, ensure_ascii=False),
            json.dumps({str(k): v for k, v in lines.items()}, ensure_ascii=False),
        ),
    )


async def draft_rows(db: aiosqlite.Connection, room_id: int) -> list[dict[str, Any]]:
    """The room's drafts, oldest first, without their script: name, saved_by, at, scenes."""
    if not storable(room_id):
        return []
    rows = await fetch_rows(
        db,
        "SELECT name, saved_by, at, scenes FROM drafts WHERE room_id = ? ORDER BY id",
        (room_id,),
    )
    return [{**dict(r), "scenes": [tuple(s) for s in json.loads(r["scenes"])]} for r in rows]


async def draft_lines(db: aiosqlite.Connection, room_id: int, name: str) -> dict[int, str] | None:
    """The script of draft `name` as saved (line id -> element JSON); None without the draft."""
    if not storable(room_id):
        return None
    data = await scalar(
        db, "SELECT lines FROM drafts WHERE room_id = ? AND name = ?", (room_id, name)
    )
    return None if data is None else {int(k): v for k, v in json.loads(data).items()}


async def history_rows(
    db: aiosqlite.Connection, room_id: int, limit: int, offset: int
) -> tuple[int, list[tuple[int, Event, dict[str, Any]]]]:
    """(how many changes the room has, the page of them newest first as (number, event,
    payload))."""
    if not storable(room_id):
        return 0, []
    kinds = ", ".join("?" for _ in HISTORY_KINDS)
    where = f"undoable = 1 OR kind IN ({kinds})"
    numbered = (
        f"SELECT row_number() OVER (ORDER BY id) AS number, {EVENT_COLUMNS}, payload "
        "FROM events WHERE room_id = ?"
    )
    total = await scalar(
        db,
        f"SELECT count(*) FROM events WHERE room_id = ? AND ({where})",
        (room_id, *HISTORY_KINDS),
    )
    rows = await fetch_rows(
        db,
        f"SELECT * FROM ({numbered}) WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
        (room_id, *HISTORY_KINDS, limit, offset),
    )
    return int(total), [(r["number"], event_from_row(r), json.loads(r["payload"])) for r in rows]


async def event_id_of_change(db: aiosqlite.Connection, room_id: int, number: int) -> int | None:
    """The id of the room's change `number` (its place in the room's log)."""
    if not storable(room_id, number) or number < 1:
        return None
    return await scalar(
        db,
        "SELECT id FROM events WHERE room_id = ? ORDER BY id LIMIT 1 OFFSET ?",
        (room_id, number - 1),
    )


async def change_number(db: aiosqlite.Connection, room_id: int, event_id: int) -> int:
    """The number writers see for event `event_id` of the room."""
    return int(
        await scalar(
            db, "SELECT count(*) FROM events WHERE room_id = ? AND id <= ?", (room_id, event_id)
        )
    )


async def undos_to(db: aiosqlite.Connection, room_id: int) -> list[tuple[int, list[int]]]:
    """Each undo back to a change of the room: its event id and the events it undid."""
    if not storable(room_id):
        return []
    rows = await fetch_rows(
        db,
        "SELECT id, json_extract(payload, '$.undid') AS undid FROM events"
        " WHERE room_id = ? AND kind = 'undo_to' ORDER BY id",
        (room_id,),
    )
    return [(r["id"], [int(x) for x in json.loads(r["undid"] or "[]")]) for r in rows]


async def undone_last(db: aiosqlite.Connection, room_id: int) -> set[int]:
    """The room's story changes whose latest undo or redo is an undo."""
    if not storable(room_id):
        return set()
    rows = await fetch_rows(
        db,
        "SELECT target, kind FROM events WHERE room_id = ? AND kind IN ('undo', 'redo')"
        " ORDER BY id",
        (room_id,),
    )
    last = {r["target"]: r["kind"] for r in rows}
    return {target for target, kind in last.items() if kind == "undo"}
