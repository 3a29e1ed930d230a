"""The SQLite store: exact element round trips, migrations, pragmas, survival of restarts and of a
killed writer process."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from hypothesis import given, settings

from bot import __main__ as entry
from bot import store as db_
from bot.domain import Ballot, ProgressMessage, Project, ProposalStatus, Room, RoomSettings, Take
from bot.errors import DatabaseFailed, NotFound, RoomError
from bot.messages import SIMPLIFIED
from bot.room import RoomService
from bot.store import Store, StoreError, decode_element, encode_element, migrations
from screenplay.types import Document
from tests.bot.conftest import ANA, BEN, CY, ROOM, FakeClock
from tests.conftest import room_events
from tests.fakes import FakeGenerator
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
            await db_.create_room(db, 5, 0.0, RoomSettings())
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
    before_events = await room_events(service, ROOM, None)
    before_pending = await service.pending_proposals()
    await store.close()

    store = await Store.open(path)
    service = RoomService(store, generator, clock=clock)
    assert await service.room(ROOM) == before_room
    assert await room_events(service, ROOM, None) == before_events
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
        (ROOM, db_.settings_to_json(RoomSettings())),
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


async def test_changes_logged_before_their_messages_were_kept_show_as_they_were_stored(
    tmp_path: Path,
) -> None:
    """A room's log from a bot that stored each change as English text only: after the upgrade
    /history still lists those changes (in the English they were stored in, for every reader),
    undo still takes them back, and new changes are worded in the reader's language."""
    path = tmp_path / "v4.db"
    known = migrations()
    old = sqlite3.connect(path)
    for _, _, script in known[:4]:
        old.executescript(script)
    old.execute("PRAGMA user_version = 4")
    old.execute(
        "INSERT INTO rooms (id, created_at, title, settings) VALUES (?, 0, 'Storm Cellar', ?)",
        (ROOM, db_.settings_to_json(RoomSettings())),
    )
    before = db_.project_to_dict(Project())
    after = db_.project_to_dict(Project(title="Storm Cellar"))
    change = {"op": "project", "before": before, "after": after}
    old.execute(
        "INSERT INTO events (id, room_id, user_id, at, kind, summary, undoable, payload) "
        "VALUES (1, ?, ?, 0, 'premise', 'set the title', 1, ?)",
        (ROOM, ANA, json.dumps({"changes": [change]})),
    )
    old.commit()
    old.close()

    store = await Store.open(path)
    service = RoomService(store, FakeGenerator(), clock=FakeClock())
    await service.write(ROOM, BEN, "INT. CELLAR - NIGHT\n\nWater rises.")
    page = await service.history(ROOM)
    said = [e.event.summary.render(SIMPLIFIED) for e in page.entries]
    assert said == ["写了 2 行", "set the title"]
    await service.undo(ROOM, BEN)
    undone = await service.undo(ROOM, ANA)
    assert undone.summary.render(SIMPLIFIED) == "撤销了：set the title"
    assert (await service.project(ROOM)).title == ""
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


# --- a database the bot cannot use -------------------------------------------------------------


async def _room_file(path: Path) -> Path:
    """A database file with a room in it, closed (its WAL checkpointed into the file)."""
    store = await Store.open(path)
    service = RoomService(store, FakeGenerator(), clock=FakeClock())
    for n in range(40):
        await service.write(ROOM, ANA, f"INT. CABIN {n} - NIGHT\n\n" + "The hull groans. " * 40)
    await store.close()
    return path


def _random_bytes(path: Path) -> Path:
    path.write_bytes(random.Random(7).randbytes(20_000))
    return path


async def _truncated(path: Path) -> Path:
    data = (await _room_file(path)).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _other_programs(path: Path) -> Path:
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    other.execute("INSERT INTO invoices (total) VALUES (12.5)")
    other.commit()
    other.close()
    return path


def _newer(path: Path) -> Path:
    newer = sqlite3.connect(path)
    for _, _, sql in migrations():
        newer.executescript(sql)
    newer.execute("CREATE TABLE scenes_v9 (id INTEGER PRIMARY KEY)")
    newer.execute(f"PRAGMA user_version = {len(migrations()) + 6}")
    newer.commit()
    newer.close()
    return path


async def _unusable(kind: str, tmp_path: Path) -> tuple[Path, str]:
    """A database path the bot cannot use, and the start of the sentence that says why."""
    if kind == "random bytes":
        path = _random_bytes(tmp_path / "room.db")
        return path, f"{path} is not a Writers' Room database, or it is damaged (file is not a"
    if kind == "truncated":
        path = await _truncated(tmp_path / "room.db")
        return path, f"The database {path} is damaged (database disk image is malformed): restore"
    if kind == "folder":
        path = tmp_path / "room.db"
        path.mkdir()
        return path, f"The database {path} is a folder, not a file: point DATABASE (or --db) at"
    if kind == "file for a folder":
        (tmp_path / "data").write_text("notes")
        path = tmp_path / "data" / "room.db"
        return path, (
            f"Cannot create the folder {path.parent} for the database {path} (a file stands "
            "where a folder should be): create it, or point DATABASE (or --db) at"
        )
    if kind == "another program's":
        path = _other_programs(tmp_path / "room.db")
        return path, f"{path} is a database of another program (it has tables, but no Writers'"
    assert kind == "newer", kind
    path = _newer(tmp_path / "room.db")
    known = len(migrations())
    return path, (
        f"The database {path} was written by a newer Writers' Room (schema {known + 6}; this one "
        f"knows up to {known}); upgrade the bot to open it, or point DATABASE (or --db) at"
    )


UNUSABLE = [
    "random bytes",
    "truncated",
    "folder",
    "file for a folder",
    "another program's",
    "newer",
]


@pytest.mark.parametrize("kind", UNUSABLE)
async def test_a_database_the_bot_cannot_use_is_refused_in_one_sentence_and_left_as_it_was(
    tmp_path: Path, kind: str
) -> None:
    path, sentence = await _unusable(kind, tmp_path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(StoreError) as raised:
        await Store.open(path)
    assert str(raised.value).startswith(sentence)
    assert "\n" not in str(raised.value)
    if before is not None:
        assert path.read_bytes() == before  # neither migrated nor written


async def test_a_newer_database_is_neither_migrated_nor_written(tmp_path: Path) -> None:
    path = _newer(tmp_path / "room.db")
    with pytest.raises(StoreError, match="newer Writers' Room"):
        await Store.open(path)
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA user_version").fetchone()[0] == len(migrations()) + 6
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not made WAL
    finally:
        check.close()


_READ_ONLY = (
    "The database {path} is read-only for the bot (attempt to write a readonly database): let "
    "the bot's user write the file and its folder (SQLite keeps a -wal and a -shm file beside "
    "it), or point DATABASE (or --db) at another file."
)


async def test_a_database_sqlite_can_only_read_is_refused_at_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite opens a file it may not write read-only (tests run as root here, who may write
    anything, so `mode=ro` stands in for the file's permissions): the bot refuses it at open
    rather than failing the first writer who types a command."""
    path = await _room_file(tmp_path / "room.db")
    connect = aiosqlite.connect

    def read_only(database: Path, **kwargs: Any) -> aiosqlite.Connection:
        return connect(f"file:{database}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr(aiosqlite, "connect", read_only)
    with pytest.raises(StoreError) as raised:
        await Store.open(path)
    assert str(raised.value) == _READ_ONLY.format(path=path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write a read-only file")
@pytest.mark.parametrize("what", ["file", "folder"])
async def test_a_read_only_file_or_folder_is_refused_at_open(tmp_path: Path, what: str) -> None:
    path = await _room_file(tmp_path / "rooms" / "room.db")
    locked = path if what == "file" else path.parent
    locked.chmod(0o555 if what == "folder" else 0o444)
    try:
        with pytest.raises(StoreError) as raised:
            await Store.open(path)
    finally:
        locked.chmod(0o755 if what == "folder" else 0o644)
    assert str(raised.value) == _READ_ONLY.format(path=path)


async def test_a_full_disk_fails_the_command_in_one_sentence_and_keeps_what_was_written(
    tmp_path: Path,
) -> None:
    store = await Store.open(tmp_path / "room.db")
    try:
        service = RoomService(store, FakeGenerator(), clock=FakeClock())
        await service.write(ROOM, ANA, "INT. FERRY - NIGHT\n\nThe engine hums.")
        proposal = await service.ask(ROOM, BEN, "scene", "the storm")
        before = (await service.room(ROOM), await room_events(service, ROOM, None))
        async with store.read() as db:  # the file may not grow: the disk is full
            pages = await db_.scalar(db, "PRAGMA page_count")
            await db_.scalar(db, f"PRAGMA max_page_count = {pages}")
        long_scene = "\n\n".join(f"Line {n}: " + "rain on the glass " * 20 for n in range(60))
        with pytest.raises(DatabaseFailed) as raised:
            await service.write(ROOM, ANA, long_scene)
        assert str(raised.value) == (
            "The room's database is full (disk full): nothing was changed; free some space on "
            "the bot's disk, then try again."
        )
        assert isinstance(raised.value, RoomError)  # the front ends answer it as a sentence
        assert (await service.room(ROOM), await room_events(service, ROOM, None)) == before
        async with store.read() as db:
            assert await db_.consistency_problems(db) == []

        async with store.read() as db:  # space again
            await db_.scalar(db, "PRAGMA max_page_count = 1000000")
        await service.write(ROOM, ANA, long_scene)
        await service.vote(ROOM, ANA, proposal.id, 1)
        assert len((await service.room(ROOM)).script) == len(before[0].script) + 60
        assert len((await service.proposal(ROOM, proposal.id)).votes) == 1
    finally:
        await store.close()
    reopened = await Store.open(tmp_path / "room.db")
    async with reopened.read() as db:
        assert await db_.consistency_problems(db) == []
    await reopened.close()


async def test_a_disk_io_error_mid_command_rolls_it_back_and_says_so(store: Store) -> None:
    failure = sqlite3.OperationalError("disk I/O error")
    failure.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE
    with pytest.raises(DatabaseFailed) as raised:
        async with store.write() as db:
            await db_.create_room(db, 5, 0.0, RoomSettings())
            raise failure
    assert str(raised.value) == (
        "The room's database could not be read or written (disk I/O error): nothing was "
        "changed; check the bot's disk, then try again."
    )
    assert raised.value.__cause__ is failure
    async with store.read() as db:
        assert not await db_.room_exists(db, 5)
    async with store.write() as db:  # the connection is usable again
        await db_.create_room(db, 5, 0.0, RoomSettings())


# --- ids beyond SQLite's integers ------------------------------------------------------------


Lookup = Callable[[aiosqlite.Connection, int], Awaitable[Any]]

#: Each store lookup that takes an id, with what it answers for a row that does not exist.
NOT_FOUND: dict[str, tuple[Lookup, Any]] = {
    "room_exists": (lambda db, i: db_.room_exists(db, i), False),
    "find_settings": (lambda db, i: db_.find_settings(db, i), None),
    "load_settings": (lambda db, i: db_.load_settings(db, i), RoomSettings()),
    "load_project": (lambda db, i: db_.load_project(db, i), Project()),
    "load_characters": (lambda db, i: db_.load_characters(db, i), ()),
    "load_locations": (lambda db, i: db_.load_locations(db, i), ()),
    "load_beats": (lambda db, i: db_.load_beats(db, i), ()),
    "load_script": (lambda db, i: db_.load_script(db, i), ()),
    "load_script from": (lambda db, i: db_.load_script(db, ROOM, i), ()),
    "script_length": (lambda db, i: db_.script_length(db, i), 0),
    "line_id_at room": (lambda db, i: db_.line_id_at(db, i, 1), None),
    "line_id_at number": (lambda db, i: db_.line_id_at(db, ROOM, i), None),
    "last_line_id": (lambda db, i: db_.last_line_id(db, i), None),
    "load_events": (lambda db, i: db_.load_events(db, i), ()),
    "undo_stacks": (lambda db, i: db_.undo_stacks(db, i), ([], [])),
    "load_proposal": (lambda db, i: db_.load_proposal(db, i), None),
    "proposal_ids": (lambda db, i: db_.proposal_ids(db, room_id=i), []),
    "proposal_of_ballot": (lambda db, i: db_.proposal_of_ballot(db, i), None),
    "load_room": (lambda db, i: db_.load_room(db, i), None),  # Room(i), which does not exist
    "beat_record room": (lambda db, i: db_.beat_record(db, i, 1), LookupError),
    "beat_record beat": (lambda db, i: db_.beat_record(db, ROOM, i), LookupError),
    "load_event": (lambda db, i: db_.load_event(db, i), LookupError),
    "room_of_proposal": (lambda db, i: db_.room_of_proposal(db, i), LookupError),
}


@pytest.mark.parametrize("huge", [10**20, 1 << 63, -(1 << 63) - 1])
@pytest.mark.parametrize("name", list(NOT_FOUND))
async def test_an_id_beyond_sqlites_integers_is_not_found(
    service: RoomService, store: Store, name: str, huge: int
) -> None:
    await service.add_beat(ROOM, ANA, "Mara boards.")
    proposal = await service.ask(ROOM, ANA, "scene", "the storm")
    await service.record_ballot(ROOM, proposal.id, ROOM, 5550)
    lookup, missing = NOT_FOUND[name]
    async with store.read() as db:
        if missing is LookupError:
            with pytest.raises(LookupError):
                await lookup(db, huge)
        elif name == "load_room":
            assert await lookup(db, huge) == Room(huge)
        else:
            assert await lookup(db, huge) == missing


async def test_a_range_or_limit_beyond_sqlites_integers_reads_to_the_end(
    service: RoomService, store: Store
) -> None:
    await service.write(ROOM, ANA, "INT. FERRY - NIGHT\n\nThe engine hums.\n\nRain.")
    async with store.read() as db:
        every_line = await db_.load_script(db, ROOM)
        assert await db_.load_script(db, ROOM, 2, 10**20) == every_line[1:]
        assert await db_.load_events(db, ROOM, 10**20) == await db_.load_events(db, ROOM)


def test_a_room_beyond_sqlites_integers_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    monkeypatch.setenv("BACKEND", "openai")  # no model is loaded, whatever happens
    status = entry.main(["console", "--db", str(tmp_path / "room.db"), "--room", str(10**20)])
    assert status == 2
    assert (
        capsys.readouterr().err == "error: --room must be a number from 1 to 9223372036854775807.\n"
    )
    assert not (tmp_path / "room.db").exists()


# --- the process: one line, no traceback ------------------------------------------------------


@pytest.mark.parametrize("kind", ["random bytes", "folder", "newer"])
@pytest.mark.parametrize("front", ["console", "discord"])
def test_python_m_bot_says_what_is_wrong_with_the_database_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    front: str,
) -> None:
    path, sentence = asyncio.run(_unusable(kind, tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env of the checkout is read
    monkeypatch.setattr(entry, "configure_logging", lambda *a, **k: None)  # leaves logging be
    monkeypatch.setenv("BACKEND", "openai")  # no model is loaded before the database opens
    monkeypatch.setenv("DATABASE", str(path))
    if front == "discord":
        monkeypatch.setenv("DISCORD_TOKEN", "not-a-real-token")
    else:
        monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    argv = ["console", "--db", str(path)] if front == "console" else []
    status = entry.main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"error: {sentence}") and err.count("\n") == 1, err


def test_the_console_on_a_folder_exits_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "room.db").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "DATABASE"}}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", "--db", str(tmp_path / "room.db")],
        input="/status\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "BACKEND": "openai", "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"error: The database {tmp_path / 'room.db'} is a folder, not a file: point DATABASE "
        f"(or --db) at a file, e.g. {tmp_path / 'room.db' / 'writers_room.db'}.\n"
    )
