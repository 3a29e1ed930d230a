"""The connection: opening a database file (and refusing one the bot cannot use), the numbered
migrations, and the transactions every command runs in.

One aiosqlite connection on a real file (WAL journal, foreign keys on, `synchronous=NORMAL`, which
WAL keeps safe against a killed process). Numbered migrations (`bot/migrations/NNNN_name.sql`) are
applied at open, each inside one `BEGIN IMMEDIATE` transaction that also sets `user_version`.
Every change of state is one `BEGIN IMMEDIATE` transaction (`Store.write()`); reads take a deferred
transaction so that a reader sees one consistent snapshot. The connection is shared by all rooms,
so one asyncio lock serialises its transactions (each lasts a few milliseconds; the per-room lock
that makes a room's commands run one at a time lives in `bot.room`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import DatabaseFailed

_log = logging.getLogger(__name__)


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

#: What a writer is told when the disk fails a command (a key of `bot.messages`), by SQLite's
#: primary result code; any other SQLite error is a bug, not a sentence.
_COMMAND_FAILURES: dict[int, str] = {
    sqlite3.SQLITE_FULL: "error.db_full",
    sqlite3.SQLITE_IOERR: "error.db_io",
    sqlite3.SQLITE_READONLY: "error.db_readonly",
    sqlite3.SQLITE_CANTOPEN: "error.db_cantopen",
    sqlite3.SQLITE_CORRUPT: "error.db_corrupt",
    sqlite3.SQLITE_BUSY: "error.db_busy",
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
            key = _COMMAND_FAILURES.get(_primary_code(err) or -1)
            if key is None:
                raise
            await self._rollback()
            _log.error("the database %s failed a command: %s", self.path, err)
            raise DatabaseFailed(key) from err


#: SQLite's integers are 64-bit; an id beyond them is the id of no row (binding it would raise
#: OverflowError), so lookups answer "not found" for it.
INTEGERS = range(-(1 << 63), 1 << 63)


def storable(*ids: int | None) -> bool:
    """Whether SQLite can hold every id given (None stands for no id)."""
    return all(i is None or i in INTEGERS for i in ids)


async def scalar(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    async with db.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    return None if row is None else row[0]


async def fetch_rows(db: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())
