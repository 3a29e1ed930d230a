"""Whole rooms: loading everything a room holds, copying a story into a branch, clearing it on a
reset, and the consistency check the tests and the store bench run.
"""

from __future__ import annotations

import aiosqlite

from bot.domain import (
    Project,
    Room,
)
from bot.store.connection import fetch_rows, scalar, storable
from bot.store.story import (
    load_beats,
    load_characters,
    load_locations,
    load_project,
    load_script,
    load_settings,
    save_project,
)


async def load_room(db: aiosqlite.Connection, room_id: int) -> Room:
    if not storable(room_id):
        return Room(room_id)
    async with db.execute("SELECT branched_from FROM rooms WHERE id = ?", (room_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return Room(room_id)
    return Room(
        id=room_id,
        exists=True,
        project=await load_project(db, room_id),
        characters=await load_characters(db, room_id),
        locations=await load_locations(db, room_id),
        beats=await load_beats(db, room_id),
        script=await load_script(db, room_id),
        settings=await load_settings(db, room_id),
        branched_from=row["branched_from"],
    )


async def copy_story(db: aiosqlite.Connection, source: int, target: int, event_id: int) -> None:
    """Copy the story of room `source` into the new room `target`; its script lines belong to the
    branch event `event_id` and keep their attribution."""
    await db.execute(
        "INSERT INTO characters SELECT ?, name, role, description, personality, backstory, voice,"
        " relationships FROM characters WHERE room_id = ?",
        (target, source),
    )
    await db.execute(
        "INSERT INTO locations SELECT ?, name, description FROM locations WHERE room_id = ?",
        (target, source),
    )
    await db.execute(
        "INSERT INTO beats (room_id, pos, text, status) SELECT ?, pos, text, status FROM beats "
        "WHERE room_id = ? ORDER BY pos",
        (target, source),
    )
    await db.execute(
        "INSERT INTO script_lines (room_id, pos, element, event_id, written_by, proposal_id, take,"
        " model, picked_by, edited_by, revised_by) SELECT ?, pos, element, ?, written_by,"
        " proposal_id, take, model, picked_by, edited_by, revised_by FROM script_lines"
        " WHERE room_id = ? ORDER BY pos",
        (target, event_id, source),
    )


async def room_of_proposal(db: aiosqlite.Connection, proposal_id: int) -> int:
    """The room of a proposal; LookupError when there is no such proposal."""
    room_id = (
        await scalar(db, "SELECT room_id FROM proposals WHERE id = ?", (proposal_id,))
        if storable(proposal_id)
        else None
    )
    if room_id is None:
        raise LookupError(proposal_id)
    return int(room_id)


async def clear_story(db: aiosqlite.Connection, room_id: int) -> None:
    """Remove the room's project, bible, locations, outline, script and drafts (the log stays)."""
    for table in ("script_lines", "characters", "locations", "beats", "drafts"):
        await db.execute(f"DELETE FROM {table} WHERE room_id = ?", (room_id,))
    await save_project(db, room_id, Project())


async def consistency_problems(db: aiosqlite.Connection) -> list[str]:
    """What is wrong with the database as a whole (empty when it is consistent): SQLite's own
    integrity check, foreign keys, and the room's invariants."""
    problems = [r[0] for r in await fetch_rows(db, "PRAGMA integrity_check") if r[0] != "ok"]
    problems += [
        f"foreign key: {tuple(r)}" for r in await fetch_rows(db, "PRAGMA foreign_key_check")
    ]
    checks = {
        "script line without an event of its room": (
            "SELECT count(*) FROM script_lines l LEFT JOIN events e ON e.id = l.event_id "
            "WHERE e.id IS NULL OR e.room_id <> l.room_id"
        ),
        "two script lines at one position": (
            "SELECT count(*) FROM (SELECT 1 FROM script_lines GROUP BY room_id, pos "
            "HAVING count(*) > 1)"
        ),
        "decided proposal without its take": (
            "SELECT count(*) FROM proposals p WHERE status = 'decided' AND NOT EXISTS "
            "(SELECT 1 FROM takes t WHERE t.proposal_id = p.id AND t.number = p.decided_take)"
        ),
        "decided proposal not picked exactly once in the log": (
            "SELECT count(*) FROM proposals p WHERE status = 'decided' AND (SELECT count(*) "
            "FROM events e WHERE e.room_id = p.room_id AND e.kind = 'pick' "
            "AND json_extract(e.payload, '$.proposal') = p.id) <> 1"
        ),
        "vote on a proposal without takes": (
            "SELECT count(*) FROM votes v JOIN proposals p ON p.id = v.proposal_id "
            "WHERE p.status = 'generating'"
        ),
    }
    for problem, sql in checks.items():
        count = await scalar(db, sql)
        if count:
            problems.append(f"{problem} ({count})")
    return problems
