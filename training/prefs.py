"""The room's votes as preference data: for every decided proposal, the prompt the model saw,
the take the room picked and the takes it passed up.

    python -m training.prefs --db rooms.sqlite3 -o prefs.jsonl
    python -m training.finetune --dpo prefs.jsonl --adapter model/adapters/screenplay-smollm2 \
        --out runs/dpo

Each line of the output is one decided proposal: `messages` (the chat messages of the request,
rebuilt with `model.prompts.build_messages`), `chosen` (the picked take, as edited by the writers
when they edited it) and `rejected` (the other takes, plus the takes of the proposals the room
rerolled before it), with `room`, `proposal`, `kind` and `votes` to trace it back.
`training.data.load_preferences` reads it.

The store keeps a proposal's request (kind, prompt, characters, beat) but not the context the
model was given (premise, cast sheets, the end of the script): that is rebuilt as the room's
story stood when the proposal was made. The story is wound back on a private copy of the database
by replaying the event log backwards, exactly as undo does, then `RoomService.request_for` builds
the context the bot would have built. A room reset cannot be wound back past (the reset keeps no
copy of the story), so proposals made before a reset are left out and counted in the log.

Answers are written with `model.prompts.format_answer`, the format the fine-tune trains on and
the parsers read. This module reads a database through `bot.store` and `bot.room` (the only part
of `training` that knows rooms) and writes JSON; the source database is never changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from bot import store as db_
from bot.domain import Proposal, ProposalStatus, Take
from bot.room import RoomService
from bot.store import Change, Store
from model.prompts import build_messages, format_answer
from model.tasks import SCRIPT_KINDS, TaskKind

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreferenceRecord:
    """One decided proposal as a line of prefs.jsonl."""

    room: int
    proposal: int
    kind: str
    messages: list[dict[str, str]]
    chosen: str
    rejected: list[str]
    votes: dict[str, int]


def answer_of(kind: TaskKind, take: Take, language: str = "English") -> str:
    """A stored take in the answer format of its kind in a room writing in `language` (what the
    model is trained to write)."""
    if kind in SCRIPT_KINDS:
        return format_answer(kind, fountain=take.fountain or take.text, language=language)
    if kind is TaskKind.CHARACTER and take.sheet is not None:
        return format_answer(kind, sheet=take.sheet, language=language)
    if kind is TaskKind.PREMISE and take.title and take.logline:
        return format_answer(kind, title=take.title, logline=take.logline, language=language)
    if kind is TaskKind.BEAT and take.beat:
        return format_answer(kind, beat=take.beat, language=language)
    return take.text.strip()


async def export_preferences(
    db_path: Path, *, context_budget: int = 1500
) -> list[PreferenceRecord]:
    """Every decided proposal of the database at `db_path` with at least one rejected take."""
    if not db_path.is_file():
        raise FileNotFoundError(f"No room database at {db_path}.")
    with tempfile.TemporaryDirectory(prefix="prefs-") as tmp:
        copy = Path(tmp) / "rooms.sqlite3"
        _snapshot(db_path, copy)
        store = await Store.open(copy)
        try:
            service = RoomService(store, context_budget=context_budget)
            records: list[PreferenceRecord] = []
            async with store.read() as db:
                rooms = [r[0] for r in await _fetch(db, "SELECT id FROM rooms ORDER BY id")]
            for room_id in rooms:
                records.extend(await _room_preferences(service, room_id))
        finally:
            await store.close()
    return sorted(records, key=lambda r: r.proposal)


def _snapshot(source: Path, target: Path) -> None:
    """A consistent copy of a live database (its WAL included) through SQLite's backup API."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


async def _fetch(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


@dataclass(frozen=True)
class _Event:
    id: int
    kind: str
    undoable: bool
    target: int | None
    payload: dict[str, Any]


async def _room_preferences(service: RoomService, room_id: int) -> list[PreferenceRecord]:
    store = service.store
    async with store.read() as db:
        rows = await _fetch(
            db,
            "SELECT id, kind, undoable, target, payload FROM events WHERE room_id = ? ORDER BY id",
            (room_id,),
        )
        ids = await db_.proposal_ids(db, room_id=room_id)
        proposals = [p for i in ids if (p := await db_.load_proposal(db, i)) is not None]
    events = [_Event(r[0], r[1], bool(r[2]), r[3], json.loads(r[4])) for r in rows]
    by_id = {e.id: e for e in events}
    created = _creation_events(events)
    rerolled_from = {p.rerolled_as: p for p in proposals if p.rerolled_as is not None}
    decided = [p for p in proposals if p.status is ProposalStatus.DECIDED and p.id in created]
    records: list[PreferenceRecord] = []
    wound_to = len(events)  # events[wound_to:] are wound back already
    for proposal in sorted(decided, key=lambda p: created[p.id], reverse=True):
        while wound_to > 0 and events[wound_to - 1].id > created[proposal.id]:
            event = events[wound_to - 1]
            if event.kind == "reset":
                skipped = sum(1 for p in decided if created[p.id] < event.id)
                _log.warning(
                    "room %s was reset; %d decided proposals before the reset left out",
                    room_id,
                    skipped,
                )
                return records
            await _wind_back(store, room_id, event, by_id)
            wound_to -= 1
        record = await _record(service, proposal, rerolled_from)
        if record is not None:
            records.append(record)
    return records


def _creation_events(events: Sequence[_Event]) -> dict[int, int]:
    """Proposal id -> the id of the event that created it (a request or a reroll)."""
    created = {}
    for event in events:
        if event.kind == "propose":
            created[int(event.payload["proposal"])] = event.id
        elif event.kind == "reroll":
            created[int(event.payload["new"])] = event.id
    return created


async def _wind_back(store: Store, room_id: int, event: _Event, by_id: dict[int, _Event]) -> None:
    """Undo what `event` did to the story (nothing, for events that did not change it)."""
    changes: list[Change] = []
    if event.undoable:
        changes = _inverse(event.payload["changes"])
    elif event.kind == "undo" and event.target is not None:
        changes = list(by_id[event.target].payload["changes"])
    elif event.kind == "redo" and event.target is not None:
        changes = _inverse(by_id[event.target].payload["changes"])
    if changes:
        async with store.write() as db:
            await db_.apply_changes(db, room_id, changes)


def _inverse(changes: Sequence[Change]) -> list[Change]:
    return [db_.invert(change) for change in reversed(changes)]


async def _record(
    service: RoomService, proposal: Proposal, rerolled_from: dict[int, Proposal]
) -> PreferenceRecord | None:
    chosen_take = proposal.take(proposal.decided_take or 0)
    if chosen_take is None:
        return None
    request, _ = await service.request_for(proposal.room_id, proposal.id)
    language = request.context.language
    chosen = answer_of(proposal.kind, chosen_take, language)
    passed_up = [t for t in proposal.takes if t.number != chosen_take.number]
    earlier = rerolled_from.get(proposal.id)
    while earlier is not None:
        passed_up.extend(earlier.takes)
        earlier = rerolled_from.get(earlier.id)
    rejected = list(dict.fromkeys(answer_of(proposal.kind, t, language) for t in passed_up))
    rejected = [text for text in rejected if text and text != chosen]
    if not chosen or not rejected:
        return None
    return PreferenceRecord(
        room=proposal.room_id,
        proposal=proposal.id,
        kind=proposal.kind.value,
        messages=build_messages(request),
        chosen=chosen,
        rejected=rejected,
        votes={str(number): count for number, count in proposal.tally().items()},
    )


def write_jsonl(records: Sequence[PreferenceRecord], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.prefs", description=__doc__.split("\n")[0])
    p.add_argument("--db", required=True, help="the bot's room database (SQLite)")
    p.add_argument("-o", "--out", default="prefs.jsonl", help="where to write the pairs")
    p.add_argument(
        "--context-budget",
        type=int,
        default=1500,
        help="tokens of context per prompt, as the bot's room service was set (default 1500)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        records = asyncio.run(export_preferences(Path(args.db), context_budget=args.context_budget))
    except (FileNotFoundError, sqlite3.DatabaseError) as err:
        print(err, file=sys.stderr)
        return 1
    write_jsonl(records, Path(args.out))
    pairs = sum(len(r.rejected) for r in records)
    print(f"{len(records)} decided proposals, {pairs} preference pairs -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
