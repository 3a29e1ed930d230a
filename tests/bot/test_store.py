"""The SQLite store: exact element round trips, migrations, pragmas, survival of restarts and of a
killed writer process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import given, settings

from bot import store as db_
from bot.domain import ProposalStatus
from bot.room import RoomService
from bot.store import Store, decode_element, encode_element, migrations
from screenplay.types import Document
from tests.bot.conftest import ANA, BEN, CY, ROOM, FakeClock, FakeGenerator
from tests.screenplay.strategies import documents


@settings(max_examples=200, deadline=None)
@given(documents())
def test_every_element_round_trips_exactly(doc: Document) -> None:
    for element in doc.elements:
        assert decode_element(encode_element(element)) == element


async def test_open_applies_migrations_once_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    for _ in range(2):  # the second open finds everything applied
        store = await Store.open(path)
        async with store.read() as db:
            assert await db_.scalar(db, "PRAGMA user_version") == len(migrations())
            assert await db_.scalar(db, "PRAGMA journal_mode") == "wal"
            assert await db_.scalar(db, "PRAGMA foreign_keys") == 1
        await store.close()


async def test_a_failing_write_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.write() as db:
            await db_.create_room(db, 5, 0.0, db_.RoomSettings())
            raise RuntimeError("boom")
    async with store.read() as db:
        assert not await db_.room_exists(db, 5)


async def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(aiosqlite.IntegrityError):
        async with store.write() as db:
            await db.execute(
                "INSERT INTO votes (proposal_id, user_id, take, at, seq) VALUES (99, 1, 1, 0, 1)"
            )


async def test_closing_and_reopening_keeps_everything(tmp_path: Path) -> None:
    clock, generator = FakeClock(), FakeGenerator()
    path = tmp_path / "r.db"
    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    await service.set_premise(ROOM, ANA, title="Night Ferry", logline="A crossing.")
    await service.add_character(ROOM, ANA, "Mara", role="pilot")
    await service.add_location(ROOM, ANA, "ferry deck", "wet steel")
    await service.add_beat(ROOM, ANA, "Mara boards.")
    await service.write(ROOM, ANA, "INT. FERRY - NIGHT\n\nThe engine hums.")
    decided = await service.ask(ROOM, ANA, "scene", "the storm")
    await service.vote(ROOM, ANA, decided.id, 1)
    await service.vote(ROOM, BEN, decided.id, 1)
    pending = await service.ask(ROOM, ANA, "dialogue", "they argue", ["MARA"])
    await service.vote(ROOM, BEN, pending.id, 2)
    generating = await service.propose(ROOM, BEN, "continue")
    await service.update_settings(ROOM, ANA, quorum=3)
    before_room = await service.room(ROOM)
    before_events = await service.events(ROOM, None)
    before_pending = await service.pending_proposals()
    await store.close()

    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    assert await service.room(ROOM) == before_room
    assert await service.events(ROOM, None) == before_events
    assert await service.pending_proposals() == before_pending
    assert [p.id for p in before_pending] == [pending.id, generating.id]
    # the pending proposal keeps working after the restart: its vote counts towards the quorum
    await service.vote(ROOM, ANA, pending.id, 2)
    result = await service.vote(ROOM, CY, pending.id, 2)
    assert result.proposal.status is ProposalStatus.DECIDED
    await service.undo(ROOM, ANA)  # the undo stack survived too
    await store.close()


_WRITER = """
import asyncio, sys
from bot.room import RoomService
from bot.store import Store

async def main(path):
    store = await Store.open(path)
    service = RoomService(store)
    await service.set_premise(1, 7, title="Burst")
    i = 0
    while True:
        i += 1
        if i == 4:
            print("ready", flush=True)  # some writes are in; the parent kills us from now on
        await service.write(1, 7, f"INT. ROOM {i} - DAY\\n\\nLine {i}.\\n\\nMARA\\nTake {i}.")
        await service.add_beat(1, 7, f"beat {i}")
        if i % 3 == 0:
            await service.undo(1, 7)
        if i % 5 == 0:
            await service.write(1, 8, "Inserted.", after=1)

asyncio.run(main(sys.argv[1]))
"""


async def test_a_writer_killed_mid_burst_leaves_a_consistent_database(tmp_path: Path) -> None:
    path = tmp_path / "burst.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=30)
        assert line.strip() == b"ready"
        await asyncio.sleep(0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = await Store.open(path)
    try:
        async with store.read() as db:
            assert await db_.consistency_problems(db) == []
            lines = await db_.script_length(db, 1)
        assert lines >= 3 * 4, "at least the writes before 'ready' are kept"
        service = RoomService(store)
        room = await service.room(1)
        assert len(room.script) == lines
        await service.undo(1, 7)  # the log replays into a usable undo stack
        async with store.read() as db:
            assert await db_.consistency_problems(db) == []
    finally:
        await store.close()
