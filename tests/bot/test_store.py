"""The SQLite store: exact element round trips, migrations, pragmas, survival of restarts and of a
killed writer process."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiosqlite
import pytest
from hypothesis import given, settings

from bot import store as db_
from bot.domain import Ballot, ProgressMessage, ProposalStatus, Take
from bot.errors import NotFound
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


async def test_a_ballot_is_found_again_after_reopening(tmp_path: Path) -> None:
    clock, generator = FakeClock(), FakeGenerator()
    path = tmp_path / "r.db"
    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    proposal = await service.ask(ROOM, ANA, "scene", "the storm")
    other = await service.ask(ROOM, BEN, "beat")
    assert proposal.ballot is None  # not posted anywhere yet
    await service.record_ballot(ROOM, proposal.id, ROOM, 5550)
    await service.record_ballot(ROOM, other.id, ROOM, 5551)
    with pytest.raises(NotFound):  # a proposal of another room
        await service.record_ballot(ROOM + 1, proposal.id, ROOM + 1, 5552)
    await store.close()

    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    reopened = await service.proposal(ROOM, proposal.id)
    assert reopened.ballot == Ballot(ROOM, 5550)
    assert await service.ballot_proposal(5550) == reopened
    assert (await service.ballot_proposal(5551)) == await service.proposal(ROOM, other.id)
    assert await service.ballot_proposal(5552) is None
    # Voting leaves the ballot where it is; posting it again moves it.
    await service.vote(ROOM, ANA, proposal.id, 2)
    decided = (await service.vote(ROOM, BEN, proposal.id, 2)).proposal
    assert decided.ballot == Ballot(ROOM, 5550)
    await service.record_ballot(ROOM, other.id, ROOM, 6661)
    assert await service.ballot_proposal(5551) is None
    assert (await service.proposal(ROOM, other.id)).ballot == Ballot(ROOM, 6661)
    await store.close()


async def test_a_progress_message_is_found_again_after_reopening(tmp_path: Path) -> None:
    clock, generator = FakeClock(), FakeGenerator()
    path = tmp_path / "r.db"
    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    proposal = await service.propose(ROOM, ANA, "scene", "the storm")
    assert proposal.progress is None  # not shown anywhere yet
    await service.record_progress(ROOM, proposal.id, ROOM, 7770)
    with pytest.raises(NotFound):  # a proposal of another room
        await service.record_progress(ROOM + 1, proposal.id, ROOM + 1, 7771)
    await store.close()

    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    (pending,) = await service.pending_proposals(ROOM)
    assert pending.progress == ProgressMessage(ROOM, 7770)
    await service.record_progress(ROOM, proposal.id, ROOM, 7772)  # written again after a restart
    assert (await service.proposal(ROOM, proposal.id)).progress == ProgressMessage(ROOM, 7772)
    await store.close()


async def test_a_database_from_before_ballots_were_recorded_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    (_, _, first), *later = migrations()
    assert later, "the ballot columns come in a later migration"
    old = sqlite3.connect(path)
    old.executescript(first)
    old.execute("PRAGMA user_version = 1")
    old.execute(
        "INSERT INTO rooms (id, created_at, settings) VALUES (?, 0, ?)",
        (ROOM, db_.settings_to_json(db_.RoomSettings())),
    )
    old.execute(
        "INSERT INTO proposals (room_id, kind, requested_by, prompt, characters, n, status,"
        " created_at) VALUES (?, 'scene', ?, 'the storm', '[]', 1, 'open', 0)",
        (ROOM, ANA),
    )
    old.execute("INSERT INTO takes VALUES (1, 1, ?)", (db_.take_to_json(Take(1, "x", "m")),))
    old.commit()
    old.close()

    store = await Store.open(path)
    service = RoomService(store, FakeGenerator(), clock=FakeClock())
    (pending,) = await service.pending_proposals(ROOM)
    assert (pending.id, pending.ballot, pending.progress) == (1, None, None)  # never known
    await service.record_ballot(ROOM, 1, ROOM, 42)
    assert (await service.proposal(ROOM, 1)).ballot == Ballot(ROOM, 42)
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
