"""The room's SQLite store: the connection, migrations, transactions and every SQL statement.

One aiosqlite connection on a real file (WAL journal, foreign keys on, `synchronous=NORMAL`, which
WAL keeps safe against a killed process). Numbered migrations (`bot/migrations/NNNN_name.sql`) are
applied at open, each inside one `BEGIN IMMEDIATE` transaction that also sets `user_version`.
Every change of state is one `BEGIN IMMEDIATE` transaction (`Store.write()`); reads take a deferred
transaction so that a reader sees one consistent snapshot. The connection is shared by all rooms,
so one asyncio lock serialises its transactions (each lasts a few milliseconds; the per-room lock
that makes a room's commands run one at a time lives in `bot.room`).

Story changes are recorded as plain JSON "changes" (`insert_lines`, `delete_lines`, `project`,
`character`, `location`, `beat`), each invertible, so that undo and redo replay them backwards and
forwards (`apply_change`, `invert`). Script elements are stored one row per element as a JSON
encoding of the dataclass, which round-trips exactly (`encode_element` / `decode_element`); their
order is a `pos` column with gaps, renumbered when an insertion finds no room.

A database the bot cannot use is refused at open with one `StoreError` sentence for the operator
(naming the file and what to do): a folder, a file that is not a database or is damaged, a file or
folder the bot may not write, a schema newer than the bot's migrations (never migrated nor
written). A command that the disk fails (full, I/O error, made read-only) is rolled back and
raised as `bot.errors.DatabaseFailed`, the sentence the writer sees. An id beyond SQLite's 64-bit
integers names no row: lookups answer "not found" for it, as for any missing row.

This module knows SQL and the domain types; it knows nothing of permissions, pick rules or the
model — `bot.room` decides, this module records.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain import (
    Attribution,
    Beat,
    BeatStatus,
    CharacterEntry,
    Event,
    Location,
    PageSize,
    PickRule,
    PostedMessage,
    Project,
    Proposal,
    ProposalStatus,
    Room,
    RoomSettings,
    ScriptLine,
    Take,
    Vote,
)
from bot.errors import DatabaseFailed
from model.tasks import TaskKind
from screenplay import types as sp

_log = logging.getLogger(__name__)

#: Gap between the positions of consecutive appended lines: room for 16 halvings in between
#: before the room's positions are spread out again.
POS_GAP = 1 << 16

Change = dict[str, Any]

# --- screenplay elements as JSON ----------------------------------------------------------------

_ELEMENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        sp.SceneHeading,
        sp.Action,
        sp.Character,
        sp.Parenthetical,
        sp.Dialogue,
        sp.Transition,
        sp.Centered,
        sp.Lyrics,
        sp.PageBreak,
        sp.Section,
        sp.Synopsis,
        sp.Note,
        sp.Boneyard,
    )
}


def encode_element(element: sp.Element) -> str:
    """A compact JSON text that `decode_element` turns back into an equal element."""
    out: dict[str, Any] = {"type": type(element).__name__}
    for f in dataclasses.fields(element):
        value = getattr(element, f.name)
        if isinstance(value, sp.Text):
            value = {"spans": [[s.text, s.style.value, s.note] for s in value.spans]}
        out[f.name] = value
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def decode_element(data: str) -> sp.Element:
    raw = json.loads(data)
    cls = _ELEMENT_TYPES[raw.pop("type")]
    for name, value in raw.items():
        if isinstance(value, dict):
            raw[name] = sp.Text(
                tuple(sp.Span(t, sp.Style(s), bool(n)) for t, s, n in value["spans"])
            )
    element: sp.Element = cls(**raw)
    return element


# --- the store ----------------------------------------------------------------------------------

_MIGRATION_NAME = re.compile(r"^(\d{4})_[\w-]+\.sql$")


def _split_statements(script: str) -> list[str]:
    statements: list[str] = []
    current = ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        part.strip().startswith("--") for part in current.strip().splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current!r}")
    return statements


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration shipped with the bot, in order."""
    found = []
    for entry in resources.files("bot").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1, 2, 3... without gaps: {numbers}")
    return found


class StoreError(Exception):
    """The bot cannot use the database; `str()` is the one line the operator sees: the file, what
    is wrong with it, and what to do."""


_ELSEWHERE = "or point DATABASE (or --db) at another file"

#: What the operator is told when SQLite refuses a database at open, by SQLite's primary result
#: code; `{path}` is the file, `{cause}` SQLite's own words.
_OPEN_FAILURES: dict[int, str] = {
    sqlite3.SQLITE_NOTADB: (
        "{path} is not a Writers' Room database, or it is damaged ({cause}): restore it from a "
        f"backup, {_ELSEWHERE}."
    ),
    sqlite3.SQLITE_CORRUPT: (
        f"The database {{path}} is damaged ({{cause}}): restore it from a backup, {_ELSEWHERE}."
    ),
    sqlite3.SQLITE_READONLY: (
        "The database {path} is read-only for the bot ({cause}): let the bot's user write the "
        f"file and its folder (SQLite keeps a -wal and a -shm file beside it), {_ELSEWHERE}."
    ),
    sqlite3.SQLITE_CANTOPEN: (
        "Cannot open the database {path} ({cause}): let the bot's user read and write the file "
        f"and its folder, {_ELSEWHERE}."
    ),
    sqlite3.SQLITE_FULL: (
        "The disk holding the database {path} is full ({cause}): free some space, then start "
        "the bot again."
    ),
    sqlite3.SQLITE_IOERR: (
        "Cannot read or write the database {path} ({cause}): check its disk, then start the bot "
        "again."
    ),
    sqlite3.SQLITE_BUSY: (
        "The database {path} is locked by another program ({cause}): stop the other bot or "
        "program that uses it, then start again."
    ),
}
_OPEN_FAILURES[sqlite3.SQLITE_PERM] = _OPEN_FAILURES[sqlite3.SQLITE_READONLY]

#: What a writer is told when the disk fails a command, by SQLite's primary result code; any
#: other SQLite error is a bug, not a sentence.
_COMMAND_FAILURES: dict[int, str] = {
    sqlite3.SQLITE_FULL: (
        "The room's database is full (disk full): nothing was changed; free some space on the "
        "bot's disk, then try again."
    ),
    sqlite3.SQLITE_IOERR: (
        "The room's database could not be read or written (disk I/O error): nothing was changed; "
        "check the bot's disk, then try again."
    ),
    sqlite3.SQLITE_READONLY: (
        "The room's database has become read-only: nothing was changed; let the bot write its "
        "database file and folder again, then try again."
    ),
    sqlite3.SQLITE_CANTOPEN: (
        "The room's database file cannot be opened any more: nothing was changed; check the "
        "bot's disk and folder, then try again."
    ),
    sqlite3.SQLITE_CORRUPT: (
        "The room's database is damaged: nothing was changed; restore it from a backup."
    ),
    sqlite3.SQLITE_BUSY: (
        "The room's database is locked by another program: nothing was changed; try again in a "
        "moment."
    ),
}
_COMMAND_FAILURES[sqlite3.SQLITE_NOTADB] = _COMMAND_FAILURES[sqlite3.SQLITE_CORRUPT]


def _primary_code(err: sqlite3.Error) -> int | None:
    """SQLite's primary result code of `err` (extended codes such as SQLITE_IOERR_WRITE carry
    it in their low byte)."""
    code = getattr(err, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _open_failure(path: Path, err: sqlite3.Error) -> str:
    sentence = _OPEN_FAILURES.get(_primary_code(err) or -1)
    if sentence is None:
        return f"Cannot use the database {path} ({err}): {_ELSEWHERE.removeprefix('or ')}."
    return sentence.format(path=path, cause=err)


def _prepare_folder(path: Path) -> None:
    """The folder of the database, created when missing; a folder where the file should be is
    refused before SQLite says only that it cannot open it."""
    if path.is_dir():
        raise StoreError(
            f"The database {path} is a folder, not a file: point DATABASE (or --db) at a file, "
            f"e.g. {path / 'writers_room.db'}."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        why = (
            "a file stands where a folder should be"
            if isinstance(err, FileExistsError | NotADirectoryError)
            else err.strerror or str(err)
        )
        raise StoreError(
            f"Cannot create the folder {path.parent} for the database {path} ({why}): create "
            "it, or point DATABASE (or --db) at a file in a folder the bot can write."
        ) from err


class Store:
    """The open database. Use `await Store.open(path)` (or `async with await Store.open(path)`)."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        """The database at `path` (created with its folder when missing), migrated to the bot's
        schema. Raises `StoreError` when the bot cannot use it; nothing is written then."""
        path = Path(path)
        _prepare_folder(path)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(_open_failure(path, err)) from err
        store = cls(db, path)
        try:
            await store._prepare()
        except BaseException as err:
            await db.close()
            cause = err.__cause__ if isinstance(err, DatabaseFailed) else err
            if isinstance(cause, sqlite3.Error):
                raise StoreError(_open_failure(path, cause)) from err
            raise
        return store

    async def _prepare(self) -> None:
        """Check the file before anything is written to it, then set the connection up and
        migrate."""
        db = self._db
        db.row_factory = aiosqlite.Row
        # The first read: a file that is no SQLite database fails here.
        version = await scalar(db, "PRAGMA user_version")
        known = len(migrations())
        if version > known:
            raise StoreError(
                f"The database {self.path} was written by a newer Writers' Room (schema "
                f"{version}; this one knows up to {known}); upgrade the bot to open it, "
                f"{_ELSEWHERE}."
            )
        if version == 0 and await scalar(db, "SELECT count(*) FROM sqlite_master"):
            raise StoreError(
                f"{self.path} is a database of another program (it has tables, but no Writers' "
                f"Room schema): {_ELSEWHERE.removeprefix('or ')}."
            )
        damage = await scalar(db, "PRAGMA quick_check(1)")
        if damage != "ok":
            raise StoreError(
                f"The database {self.path} is damaged ({damage}): restore it from a backup, "
                f"{_ELSEWHERE}."
            )
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=10000")
        await self._migrate()
        await self._check_writable(known)

    async def _check_writable(self, version: int) -> None:
        """Change a page and roll the change back: a file the bot may only read (which SQLite
        opens read-only, as it does a database in a folder the bot may not write) is refused at
        open, not at a writer's first command."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            await self._db.execute(f"PRAGMA user_version = {version}")
        finally:
            await self._rollback()

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _migrate(self) -> None:
        for number, name, sql in migrations():
            async with self.write() as db:
                version = await scalar(db, "PRAGMA user_version")
                if version >= number:
                    continue
                for statement in _split_statements(sql):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number}")
                _log.info("applied migration %s to %s", name, self.path)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (`BEGIN IMMEDIATE`): committed when the block ends, rolled back
        when it raises. A failing disk raises `DatabaseFailed` (after the rollback)."""
        async with self._lock, self._failures_said():
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._rollback()
                raise
            await self._db.execute("COMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read-only snapshot (a deferred transaction, always rolled back)."""
        async with self._lock, self._failures_said():
            await self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                await self._rollback()

    async def _rollback(self) -> None:
        # SQLite may have rolled back already: it does after some failures (a full disk, an
        # I/O error), and a second ROLLBACK would hide the first error.
        if self._db.in_transaction:
            await self._db.execute("ROLLBACK")

    @asynccontextmanager
    async def _failures_said(self) -> AsyncIterator[None]:
        """A failing disk (full, I/O error, read-only...) as the sentence the writer sees; the
        transaction is rolled back first, so nothing of the command is kept."""
        try:
            yield
        except sqlite3.Error as err:
            sentence = _COMMAND_FAILURES.get(_primary_code(err) or -1)
            if sentence is None:
                raise
            await self._rollback()
            _log.error("the database %s failed a command: %s", self.path, err)
            raise DatabaseFailed(sentence) from err


#: SQLite's integers are 64-bit; an id beyond them is the id of no row (binding it would raise
#: OverflowError), so lookups answer "not found" for it.
_INTEGERS = range(-(1 << 63), 1 << 63)


def _storable(*ids: int | None) -> bool:
    """Whether SQLite can hold every id given (None stands for no id)."""
    return all(i is None or i in _INTEGERS for i in ids)


async def scalar(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    async with db.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


async def _rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


# --- rooms, project, settings -------------------------------------------------------------------


def settings_to_json(settings: RoomSettings) -> str:
    data = dataclasses.asdict(settings)
    data["pick_rule"] = settings.pick_rule.value
    return json.dumps(data)


def settings_from_json(data: str) -> RoomSettings:
    raw = json.loads(data)
    raw["pick_rule"] = PickRule(raw["pick_rule"])
    raw["showrunners"] = tuple(raw["showrunners"])
    raw["showrunner_roles"] = tuple(raw["showrunner_roles"])
    return RoomSettings(**raw)


async def room_exists(db: aiosqlite.Connection, room_id: int) -> bool:
    if not _storable(room_id):
        return False
    return await scalar(db, "SELECT 1 FROM rooms WHERE id = ?", (room_id,)) is not None


async def create_room(
    db: aiosqlite.Connection,
    room_id: int,
    at: float,
    settings: RoomSettings,
    project: Project | None = None,
    branched_from: int | None = None,
) -> None:
    await db.execute(
        "INSERT INTO rooms (id, created_at, branched_from, settings) VALUES (?, ?, ?, ?)",
        (room_id, at, branched_from, settings_to_json(settings)),
    )
    if project is not None:
        await save_project(db, room_id, project)


async def load_settings(db: aiosqlite.Connection, room_id: int) -> RoomSettings:
    return await find_settings(db, room_id) or RoomSettings()


async def find_settings(db: aiosqlite.Connection, room_id: int) -> RoomSettings | None:
    """The room's settings; None when the room does not exist."""
    if not _storable(room_id):
        return None
    data = await scalar(db, "SELECT settings FROM rooms WHERE id = ?", (room_id,))
    return None if data is None else settings_from_json(data)


async def save_settings(db: aiosqlite.Connection, room_id: int, settings: RoomSettings) -> None:
    await db.execute(
        "UPDATE rooms SET settings = ? WHERE id = ?", (settings_to_json(settings), room_id)
    )


_PROJECT_FIELDS = [f.name for f in dataclasses.fields(Project)]


def project_to_dict(project: Project) -> dict[str, str]:
    return {name: str(getattr(project, name)) for name in _PROJECT_FIELDS}


def project_from_dict(data: dict[str, Any]) -> Project:
    return Project(**{**data, "page_size": PageSize(data["page_size"])})


async def load_project(db: aiosqlite.Connection, room_id: int) -> Project:
    if not _storable(room_id):
        return Project()
    async with db.execute(
        f"SELECT {', '.join(_PROJECT_FIELDS)} FROM rooms WHERE id = ?", (room_id,)
    ) as cursor:
        row = await cursor.fetchone()
    return Project() if row is None else project_from_dict(dict(row))


async def save_project(db: aiosqlite.Connection, room_id: int, project: Project) -> None:
    data = project_to_dict(project)
    await db.execute(
        f"UPDATE rooms SET {', '.join(f'{k} = ?' for k in data)} WHERE id = ?",
        (*data.values(), room_id),
    )


# --- bible, locations, outline ------------------------------------------------------------------

_CHARACTER_FIELDS = [f.name for f in dataclasses.fields(CharacterEntry)]


async def load_characters(db: aiosqlite.Connection, room_id: int) -> tuple[CharacterEntry, ...]:
    if not _storable(room_id):
        return ()
    rows = await _rows(
        db,
        f"SELECT {', '.join(_CHARACTER_FIELDS)} FROM characters WHERE room_id = ? ORDER BY name",
        (room_id,),
    )
    return tuple(CharacterEntry(**dict(r)) for r in rows)


async def load_locations(db: aiosqlite.Connection, room_id: int) -> tuple[Location, ...]:
    if not _storable(room_id):
        return ()
    rows = await _rows(
        db, "SELECT name, description FROM locations WHERE room_id = ? ORDER BY name", (room_id,)
    )
    return tuple(Location(r["name"], r["description"]) for r in rows)


async def load_beats(db: aiosqlite.Connection, room_id: int) -> tuple[Beat, ...]:
    if not _storable(room_id):
        return ()
    rows = await _rows(
        db, "SELECT id, text, status FROM beats WHERE room_id = ? ORDER BY pos", (room_id,)
    )
    return tuple(
        Beat(r["id"], i, r["text"], BeatStatus(r["status"])) for i, r in enumerate(rows, 1)
    )


async def beat_record(db: aiosqlite.Connection, room_id: int, beat_id: int) -> dict[str, Any]:
    if not _storable(room_id, beat_id):
        raise LookupError(beat_id)
    async with db.execute(
        "SELECT id, pos, text, status FROM beats WHERE room_id = ? AND id = ?", (room_id, beat_id)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise LookupError(beat_id)
    return dict(row)


async def new_beat_record(db: aiosqlite.Connection, room_id: int, text: str) -> dict[str, Any]:
    """A beat for the end of the outline with its id reserved (ids are never reused)."""
    next_id = await _next_autoincrement(db, "beats")
    last = await scalar(db, "SELECT max(pos) FROM beats WHERE room_id = ?", (room_id,))
    return {
        "id": next_id,
        "pos": (last or 0) + POS_GAP,
        "text": text,
        "status": BeatStatus.PLANNED.value,
    }


async def _next_autoincrement(db: aiosqlite.Connection, table: str) -> int:
    """The id an AUTOINCREMENT table will hand out next (callers hold the write lock)."""
    seq = await scalar(db, "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    return int(seq or 0) + 1


# --- the script ---------------------------------------------------------------------------------

_LINE_COLUMNS = "id, element, event_id, written_by, proposal_id, take, model, picked_by, edited_by"


def _line_from_row(row: Any, number: int) -> ScriptLine:
    return ScriptLine(
        id=row["id"],
        number=number,
        element=decode_element(row["element"]),
        attribution=Attribution(
            written_by=row["written_by"],
            proposal_id=row["proposal_id"],
            take=row["take"],
            model=row["model"],
            picked_by=row["picked_by"],
            edited_by=row["edited_by"],
        ),
        event_id=row["event_id"],
    )


async def load_script(
    db: aiosqlite.Connection, room_id: int, start: int = 1, end: int | None = None
) -> tuple[ScriptLine, ...]:
    """Lines `start`..`end` (numbers from 1, both included; `end` None: to the last)."""
    start = max(start, 1)
    if not _storable(room_id, start - 1):
        return ()
    limit = -1 if end is None else min(max(end - start + 1, 0), _INTEGERS[-1])
    rows = await _rows(
        db,
        f"SELECT {_LINE_COLUMNS} FROM script_lines WHERE room_id = ? ORDER BY pos LIMIT ? OFFSET ?",
        (room_id, limit, start - 1),
    )
    return tuple(_line_from_row(row, n) for n, row in enumerate(rows, start))


async def script_length(db: aiosqlite.Connection, room_id: int) -> int:
    if not _storable(room_id):
        return 0
    return int(await scalar(db, "SELECT count(*) FROM script_lines WHERE room_id = ?", (room_id,)))


async def line_id_at(db: aiosqlite.Connection, room_id: int, number: int) -> int | None:
    """The id of line `number` (from 1); None for 0 (before the first line) and for a line past
    the end."""
    if number <= 0 or not _storable(room_id, number - 1):
        return None
    return await scalar(
        db,
        "SELECT id FROM script_lines WHERE room_id = ? ORDER BY pos LIMIT 1 OFFSET ?",
        (room_id, number - 1),
    )


async def last_line_id(db: aiosqlite.Connection, room_id: int) -> int | None:
    if not _storable(room_id):
        return None
    return await scalar(
        db, "SELECT id FROM script_lines WHERE room_id = ? ORDER BY pos DESC LIMIT 1", (room_id,)
    )


async def next_line_ids(db: aiosqlite.Connection, count: int) -> list[int]:
    first = await _next_autoincrement(db, "script_lines")
    return list(range(first, first + count))


def line_record(
    line_id: int, element: sp.Element, event_id: int, attribution: Attribution
) -> dict[str, Any]:
    """A script line as stored in a change (and so in the event log)."""
    return {
        "id": line_id,
        "element": encode_element(element),
        "event_id": event_id,
        **dataclasses.asdict(attribution),
    }


async def _positions(
    db: aiosqlite.Connection, room_id: int, after: int | None, count: int
) -> list[int]:
    """`count` free positions right after line `after` (None: at the start of the script)."""
    for attempt in range(2):
        if after is None:
            lo = None
        else:
            lo = await scalar(
                db, "SELECT pos FROM script_lines WHERE room_id = ? AND id = ?", (room_id, after)
            )
            if lo is None:
                raise LookupError(f"line {after} is not in room {room_id}")
        hi = await scalar(
            db,
            "SELECT min(pos) FROM script_lines WHERE room_id = ? AND pos > ?",
            (room_id, lo if lo is not None else -(1 << 62)),
        )
        if hi is None:
            base = lo if lo is not None else 0
            return [base + POS_GAP * (i + 1) for i in range(count)]
        if lo is None:
            return [hi - POS_GAP * (count - i) for i in range(count)]
        step = (hi - lo) // (count + 1)
        if step >= 1:
            return [lo + step * (i + 1) for i in range(count)]
        if attempt == 0:
            await _spread_positions(db, room_id)
    raise RuntimeError("no room between two script lines even after spreading positions")


async def _spread_positions(db: aiosqlite.Connection, room_id: int) -> None:
    """Give the room's lines evenly spaced positions again (order unchanged). Positions are a
    storage detail: changes and events refer to lines by id, never by position."""
    ids = [
        r[0]
        for r in await _rows(
            db, "SELECT id FROM script_lines WHERE room_id = ? ORDER BY pos", (room_id,)
        )
    ]
    await db.executemany(
        "UPDATE script_lines SET pos = ? WHERE id = ?",
        [((i + 1) * POS_GAP, line_id) for i, line_id in enumerate(ids)],
    )


async def _insert_lines(
    db: aiosqlite.Connection, room_id: int, after: int | None, lines: list[dict[str, Any]]
) -> None:
    positions = await _positions(db, room_id, after, len(lines))
    await db.executemany(
        "INSERT INTO script_lines (id, room_id, pos, element, event_id, written_by, proposal_id,"
        " take, model, picked_by, edited_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                line["id"],
                room_id,
                pos,
                line["element"],
                line["event_id"],
                line["written_by"],
                line["proposal_id"],
                line["take"],
                line["model"],
                line["picked_by"],
                line["edited_by"],
            )
            for line, pos in zip(lines, positions, strict=True)
        ],
    )


async def _delete_lines(
    db: aiosqlite.Connection, room_id: int, lines: list[dict[str, Any]]
) -> None:
    await db.executemany(
        "DELETE FROM script_lines WHERE room_id = ? AND id = ?",
        [(room_id, line["id"]) for line in lines],
    )


# --- changes: the invertible unit of undo and redo ----------------------------------------------


def invert(change: Change) -> Change:
    """The change that undoes `change`."""
    op = change["op"]
    if op == "insert_lines":
        return {**change, "op": "delete_lines"}
    if op == "delete_lines":
        return {**change, "op": "insert_lines"}
    return {**change, "before": change["after"], "after": change["before"]}


async def apply_change(db: aiosqlite.Connection, room_id: int, change: Change) -> None:
    op = change["op"]
    if op == "insert_lines":
        await _insert_lines(db, room_id, change["after_line"], change["lines"])
    elif op == "delete_lines":
        await _delete_lines(db, room_id, change["lines"])
    elif op == "project":
        await save_project(db, room_id, project_from_dict(change["after"]))
    elif op == "character":
        await _put(db, room_id, "characters", "name", change["before"], change["after"])
    elif op == "location":
        await _put(db, room_id, "locations", "name", change["before"], change["after"])
    elif op == "beat":
        await _put(db, room_id, "beats", "id", change["before"], change["after"])
    else:
        raise ValueError(f"unknown change {op!r}")


async def _put(
    db: aiosqlite.Connection,
    room_id: int,
    table: str,
    key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Replace row `before` (None: no such row) of `table` by `after` (None: delete it)."""
    if before is not None and (after is None or after[key] != before[key]):
        await db.execute(
            f"DELETE FROM {table} WHERE room_id = ? AND {key} = ?", (room_id, before[key])
        )
    if after is not None:
        columns = ["room_id", *after]
        await db.execute(
            f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            (room_id, *after.values()),
        )


async def apply_changes(db: aiosqlite.Connection, room_id: int, changes: Iterable[Change]) -> None:
    for change in changes:
        await apply_change(db, room_id, change)


# --- the event log ------------------------------------------------------------------------------


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
    summary: str,
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
        summary,
        int(undoable),
        target,
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
    )
    columns = "room_id, user_id, at, kind, summary, undoable, target, payload"
    if event_id is not None:
        await db.execute(
            f"INSERT INTO events (id, {columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, *values),
        )
        return event_id
    cursor = await db.execute(
        f"INSERT INTO events (id, {columns}) VALUES "
        "((SELECT coalesce(max(id), 0) + 1 FROM events), ?, ?, ?, ?, ?, ?, ?, ?)",
        values,
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _event_from_row(row: Any) -> Event:
    return Event(
        id=row["id"],
        room_id=row["room_id"],
        user_id=row["user_id"],
        at=row["at"],
        kind=row["kind"],
        summary=row["summary"],
        undoable=bool(row["undoable"]),
        target=row["target"],
    )


async def load_event(db: aiosqlite.Connection, event_id: int) -> tuple[Event, dict[str, Any]]:
    """The event and its payload."""
    if not _storable(event_id):
        raise LookupError(event_id)
    async with db.execute(
        "SELECT id, room_id, user_id, at, kind, summary, undoable, target, payload "
        "FROM events WHERE id = ?",
        (event_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        raise LookupError(event_id)
    return _event_from_row(row), json.loads(row["payload"])


async def load_events(
    db: aiosqlite.Connection, room_id: int, limit: int | None = None
) -> tuple[Event, ...]:
    """The room's log, oldest first; with `limit`, only the latest `limit` events."""
    if not _storable(room_id):
        return ()
    rows = await _rows(
        db,
        "SELECT * FROM (SELECT id, room_id, user_id, at, kind, summary, undoable, target "
        "FROM events WHERE room_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
        (room_id, -1 if limit is None else min(limit, _INTEGERS[-1])),
    )
    return tuple(_event_from_row(r) for r in rows)


async def undo_stacks(db: aiosqlite.Connection, room_id: int) -> tuple[list[int], list[int]]:
    """(undo stack, redo stack) of event ids, top last, replayed from the log.

    A story change pushes onto the undo stack and empties the redo stack; an undo moves the top of
    the undo stack onto the redo stack, a redo moves it back; a reset empties both.
    """
    if not _storable(room_id):
        return [], []
    rows = await _rows(
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


# --- proposals, takes, votes --------------------------------------------------------------------


def take_to_json(take: Take) -> str:
    data = dataclasses.asdict(take)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def take_from_json(data: str) -> Take:
    raw = json.loads(data)
    if raw["sheet"] is not None:
        raw["sheet"] = CharacterEntry(**raw["sheet"])
    raw["problems"] = tuple(raw["problems"])
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
    if not _storable(proposal_id):
        return None
    async with db.execute("SELECT * FROM proposals WHERE id = ?", (proposal_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    takes = await _rows(
        db, "SELECT payload FROM takes WHERE proposal_id = ? ORDER BY number", (proposal_id,)
    )
    votes = await _rows(
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
    rows = await _rows(
        db,
        "SELECT u.id, u.room_id, u.user_id, u.at, u.kind, u.summary, u.undoable, u.target "
        "FROM events u INDEXED BY events_stack JOIN events p ON p.id = u.target "
        "WHERE u.room_id = ? AND u.undoable = 0 AND u.kind IN ('undo', 'redo') "
        "AND p.kind = 'pick' AND json_extract(p.payload, '$.proposal') = ? "
        "ORDER BY u.id DESC LIMIT 1",
        (room_id, proposal_id),
    )
    return _event_from_row(rows[0]) if rows else None


async def proposal_ids(
    db: aiosqlite.Connection,
    *,
    room_id: int | None = None,
    statuses: Sequence[ProposalStatus] = (),
    due_by: float | None = None,
) -> list[int]:
    """Ids of proposals matching every filter given, oldest first."""
    if not _storable(room_id):
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
    return [r[0] for r in await _rows(db, f"SELECT id FROM proposals {clause} ORDER BY id", params)]


async def update_proposal(db: aiosqlite.Connection, proposal_id: int, **columns: Any) -> None:
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
    if not _storable(message_id):
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


# --- whole rooms ------------------------------------------------------------------------------


async def load_room(db: aiosqlite.Connection, room_id: int) -> Room:
    if not _storable(room_id):
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
        " model, picked_by, edited_by) SELECT ?, pos, element, ?, written_by, proposal_id, take,"
        " model, picked_by, edited_by FROM script_lines WHERE room_id = ? ORDER BY pos",
        (target, event_id, source),
    )


async def room_of_proposal(db: aiosqlite.Connection, proposal_id: int) -> int:
    """The room of a proposal; LookupError when there is no such proposal."""
    room_id = (
        await scalar(db, "SELECT room_id FROM proposals WHERE id = ?", (proposal_id,))
        if _storable(proposal_id)
        else None
    )
    if room_id is None:
        raise LookupError(proposal_id)
    return int(room_id)


async def clear_story(db: aiosqlite.Connection, room_id: int) -> None:
    """Remove the room's project, bible, locations, outline and script (the log stays)."""
    for table in ("script_lines", "characters", "locations", "beats"):
        await db.execute(f"DELETE FROM {table} WHERE room_id = ?", (room_id,))
    await save_project(db, room_id, Project())


async def consistency_problems(db: aiosqlite.Connection) -> list[str]:
    """What is wrong with the database as a whole (empty when it is consistent): SQLite's own
    integrity check, foreign keys, and the room's invariants."""
    problems = [r[0] for r in await _rows(db, "PRAGMA integrity_check") if r[0] != "ok"]
    problems += [f"foreign key: {tuple(r)}" for r in await _rows(db, "PRAGMA foreign_key_check")]
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
