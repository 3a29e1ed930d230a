"""Proposals, their takes and votes, and where a front end posted their ballot and progress
messages.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bot.domain import (
    CharacterEntry,
    Event,
    PostedMessage,
    Proposal,
    ProposalStatus,
    Take,
    Vote,
)
from bot.messages import Message
from bot.picking import reason_message
from bot.store.connection import fetch_rows, scalar, storable
from bot.store.log import event_from_row
from model.tasks import TaskKind


def take_to_json(take: Take) -> str:
    data = dataclasses.asdict(take)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def take_from_json(data: str) -> Take:
    raw = json.loads(data)
    if raw["sheet"] is not None:
        raw["sheet"] = CharacterEntry(**raw["sheet"])
    raw["problems"] = tuple(raw["problems"])
    raw["omitted"] = tuple(raw.get("omitted", ()))  # takes stored before it was kept
    return Take(**raw)


async def insert_proposal(
    db: aiosqlite.Connection,
    *,
    room_id: int,
    kind: TaskKind,
    requested_by: int,
    prompt: str,
    characters: Sequence[str],
    n: int,
    beat_id: int | None,
    at: float,
) -> int:
    cursor = await db.execute(
        "INSERT INTO proposals (room_id, kind, requested_by, prompt, characters, n, beat_id,"
        " status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            room_id,
            kind.value,
            requested_by,
            prompt,
            json.dumps(list(characters), ensure_ascii=False),
            n,
            beat_id,
            ProposalStatus.GENERATING.value,
            at,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def load_proposal(db: aiosqlite.Connection, proposal_id: int) -> Proposal | None:
    if not storable(proposal_id):
        return None
    async with db.execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    takes = await fetch_rows(
        db, "SELECT payload FROM takes WHERE proposal_id = ? ORDER BY number", (proposal_id,)
    )
    votes = await fetch_rows(
        db,
        "SELECT user_id, take, at, seq, showrunner FROM votes WHERE proposal_id = ? ORDER BY seq",
        (proposal_id,),
    )
    return Proposal(
        id=row["id"],
        room_id=row["room_id"],
        kind=TaskKind(row["kind"]),
        requested_by=row["requested_by"],
        prompt=row["prompt"],
        characters=tuple(json.loads(row["characters"])),
        n=row["n"],
        status=ProposalStatus(row["status"]),
        created_at=row["created_at"],
        deadline=row["deadline"],
        beat_id=row["beat_id"],
        takes=tuple(take_from_json(t["payload"]) for t in takes),
        votes=tuple(
            Vote(v["user_id"], v["take"], v["at"], v["seq"], bool(v["showrunner"])) for v in votes
        ),
        decided_take=row["decided_take"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        rerolled_as=row["rerolled_as"],
        reason=row["reason"],
        reason_said=(
            Message.from_json(json.loads(row["reason_said"]))
            if row["reason_said"]
            else reason_message(row["reason"] or "")
        ),
        ballot=_posted(row, "ballot"),
        progress=_posted(row, "progress"),
        pick_undo=(
            await _latest_pick_undo(db, row["room_id"], proposal_id)
            if row["status"] == ProposalStatus.DECIDED.value
            else None
        ),
    )


async def _latest_pick_undo(
    db: aiosqlite.Connection, room_id: int, proposal_id: int
) -> Event | None:
    """The latest undo or redo of the event that put the proposal's decided take in (None when
    there was neither). A room's undo and redo events are few: `events_stack` lists them
    without reading the rest of its log."""
    rows = await fetch_rows(
        db,
        "SELECT u.id, u.room_id, u.user_id, u.at, u.kind, u.summary, u.said, u.undoable, "
        "u.target FROM events u INDEXED BY events_stack JOIN events p ON p.id = u.target "
        "WHERE u.room_id = ? AND u.undoable = 0 AND u.kind IN ('undo', 'redo') "
        "AND p.kind = 'pick' AND json_extract(p.payload, '$.proposal') = ? "
        "ORDER BY u.id DESC LIMIT 1",
        (room_id, proposal_id),
    )
    return event_from_row(rows[0]) if rows else None


async def proposal_ids(
    db: aiosqlite.Connection,
    *,
    room_id: int | None = None,
    statuses: Sequence[ProposalStatus] = (),
    due_by: float | None = None,
) -> list[int]:
    """Ids of proposals matching every filter given, oldest first."""
    if not storable(room_id):
        return []
    where: list[str] = []
    params: list[Any] = []
    if room_id is not None:
        where.append("room_id = ?")
        params.append(room_id)
    if statuses:
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(s.value for s in statuses)
    if due_by is not None:
        where.append("deadline IS NOT NULL AND deadline <= ?")
        params.append(due_by)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return [
        r[0] for r in await fetch_rows(db, f"SELECT id FROM proposals {clause} ORDER BY id", params)
    ]


async def update_proposal(db: aiosqlite.Connection, proposal_id: int, **columns: Any) -> None:
    """Set the proposal's `columns`; a `reason` is a message, stored in English (`reason`) and
    as the message (`reason_said`) that words it for each reader."""
    said = columns.get("reason")
    if isinstance(said, Message):
        columns["reason"] = str(said)
        columns["reason_said"] = json.dumps(said.to_json(), ensure_ascii=False)
    values = [c.value if isinstance(c, ProposalStatus) else c for c in columns.values()]
    await db.execute(
        f"UPDATE proposals SET {', '.join(f'{k} = ?' for k in columns)} WHERE id = ?",
        (*values, proposal_id),
    )


#: The messages a front end records for a proposal (columns `<kind>_channel`, `<kind>_message`).
POSTED_KINDS = ("ballot", "progress")


def _posted(row: aiosqlite.Row, kind: str) -> PostedMessage | None:
    message = row[f"{kind}_message"]
    return None if message is None else PostedMessage(row[f"{kind}_channel"], message)


async def set_posted(
    db: aiosqlite.Connection, proposal_id: int, kind: str, place: PostedMessage
) -> None:
    """Record where the proposal's `kind` message (one of `POSTED_KINDS`) was posted."""
    if kind not in POSTED_KINDS:
        raise ValueError(f"no posted message of kind {kind!r}")
    await db.execute(
        f"UPDATE proposals SET {kind}_channel = ?, {kind}_message = ? WHERE id = ?",
        (place.channel_id, place.message_id, proposal_id),
    )


async def proposal_of_ballot(db: aiosqlite.Connection, message_id: int) -> int | None:
    """The proposal whose ballot is the message `message_id` (None for any other message)."""
    if not storable(message_id):
        return None
    return await scalar(db, "SELECT id FROM proposals WHERE ballot_message = ?", (message_id,))


async def save_take(db: aiosqlite.Connection, proposal_id: int, take: Take) -> None:
    await db.execute(
        "INSERT OR REPLACE INTO takes (proposal_id, number, payload) VALUES (?, ?, ?)",
        (proposal_id, take.number, take_to_json(take)),
    )


async def put_vote(db: aiosqlite.Connection, proposal_id: int, vote: Vote) -> None:
    await db.execute(
        "INSERT OR REPLACE INTO votes (proposal_id, user_id, take, at, seq, showrunner)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (proposal_id, vote.user_id, vote.take, vote.at, vote.seq, int(vote.showrunner)),
    )


async def delete_vote(db: aiosqlite.Connection, proposal_id: int, user_id: int) -> None:
    await db.execute(
        "DELETE FROM votes WHERE proposal_id = ? AND user_id = ?", (proposal_id, user_id)
    )


async def variation_of(db: aiosqlite.Connection, room_id: int, proposal_id: int) -> str:
    """The take text a proposal varies (`/vary`), read from the log: the event that asked for
    it carries it, and a reroll of a variation varies the same take. Empty for any other
    proposal."""
    wanted: int | None = proposal_id
    rows = await fetch_rows(
        db,
        "SELECT kind, payload FROM events WHERE room_id = ? AND undoable = 0 "
        "AND kind IN ('propose', 'reroll') ORDER BY id DESC",
        (room_id,),
    )
    for row in rows:
        payload = json.loads(row["payload"])
        if row["kind"] == "reroll" and payload.get("new") == wanted:
            wanted = payload.get("proposal")
        elif row["kind"] == "propose" and payload.get("proposal") == wanted:
            return str(payload.get("variation", ""))
    return ""
