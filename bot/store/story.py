"""The story's rows: screenplay elements as JSON, rooms with their project and settings, the bible,
locations, the outline, the script lines (ordered by a gapped `pos` column), and the invertible
changes undo and redo replay (`apply_change`, `invert`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

import aiosqlite

from bot.domain import (
    Attribution,
    Beat,
    BeatStatus,
    CharacterEntry,
    Location,
    PageSize,
    PickRule,
    Project,
    RoomSettings,
    ScriptLine,
)
from bot.store.connection import INTEGERS, fetch_rows, scalar, storable
from screenplay import types as sp

#: Gap between the positions of consecutive appended lines: room for 16 halvings in between
#: before the room's positions are spread out again.
POS_GAP = 1 << 16

Change = dict[str, Any]


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
    if not storable(room_id):
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
    if not storable(room_id):
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
    if not storable(room_id):
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


_CHARACTER_FIELDS = [f.name for f in dataclasses.fields(CharacterEntry)]


async def load_characters(db: aiosqlite.Connection, room_id: int) -> tuple[CharacterEntry, ...]:
    if not storable(room_id):
        return ()
    rows = await fetch_rows(
        db,
        f"SELECT {', '.join(_CHARACTER_FIELDS)} FROM characters WHERE room_id = ? ORDER BY name",
        (room_id,),
    )
    return tuple(CharacterEntry(**dict(r)) for r in rows)


async def load_locations(db: aiosqlite.Connection, room_id: int) -> tuple[Location, ...]:
    if not storable(room_id):
        return ()
    rows = await fetch_rows(
        db, "SELECT name, description FROM locations WHERE room_id = ? ORDER BY name", (room_id,)
    )
    return tuple(Location(r["name"], r["description"]) for r in rows)


async def load_beats(db: aiosqlite.Connection, room_id: int) -> tuple[Beat, ...]:
    if not storable(room_id):
        return ()
    rows = await fetch_rows(
        db, "SELECT id, text, status FROM beats WHERE room_id = ? ORDER BY pos", (room_id,)
    )
    return tuple(
        Beat(r["id"], i, r["text"], BeatStatus(r["status"])) for i, r in enumerate(rows, 1)
    )


async def beat_record(db: aiosqlite.Connection, room_id: int, beat_id: int) -> dict[str, Any]:
    if not storable(room_id, beat_id):
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


_LINE_COLUMNS = (
    "id, element, event_id, written_by, proposal_id, take, model, picked_by, edited_by, revised_by"
)


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
            revised_by=tuple(json.loads(row["revised_by"])),
        ),
        event_id=row["event_id"],
    )


async def load_script(
    db: aiosqlite.Connection, room_id: int, start: int = 1, end: int | None = None
) -> tuple[ScriptLine, ...]:
    """Lines `start`..`end` (numbers from 1, both included; `end` None: to the last)."""
    start = max(start, 1)
    if not storable(room_id, start - 1):
        return ()
    limit = -1 if end is None else min(max(end - start + 1, 0), INTEGERS[-1])
    rows = await fetch_rows(
        db,
        f"SELECT {_LINE_COLUMNS} FROM script_lines WHERE room_id = ? ORDER BY pos LIMIT ? OFFSET ?",
        (room_id, limit, start - 1),
    )
    return tuple(_line_from_row(row, n) for n, row in enumerate(rows, start))


async def script_length(db: aiosqlite.Connection, room_id: int) -> int:
    if not storable(room_id):
        return 0
    return int(await scalar(db, "SELECT count(*) FROM script_lines WHERE room_id = ?", (room_id,)))


async def line_id_at(db: aiosqlite.Connection, room_id: int, number: int) -> int | None:
    """The id of line `number` (from 1); None for 0 (before the first line) and for a line past
    the end."""
    if number <= 0 or not storable(room_id, number - 1):
        return None
    return await scalar(
        db,
        "SELECT id FROM script_lines WHERE room_id = ? ORDER BY pos LIMIT 1 OFFSET ?",
        (room_id, number - 1),
    )


async def last_line_id(db: aiosqlite.Connection, room_id: int) -> int | None:
    if not storable(room_id):
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
        for r in await fetch_rows(
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
        " take, model, picked_by, edited_by, revised_by)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                json.dumps(line.get("revised_by") or []),
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


async def _edit_line(db: aiosqlite.Connection, room_id: int, line: dict[str, Any]) -> None:
    """Give the script line `line["id"]` the element, event and attribution of `line` (it keeps
    its place)."""
    await db.execute(
        "UPDATE script_lines SET element = ?, event_id = ?, written_by = ?, proposal_id = ?,"
        " take = ?, model = ?, picked_by = ?, edited_by = ?, revised_by = ?"
        " WHERE room_id = ? AND id = ?",
        (
            line["element"],
            line["event_id"],
            line["written_by"],
            line["proposal_id"],
            line["take"],
            line["model"],
            line["picked_by"],
            line["edited_by"],
            json.dumps(line.get("revised_by") or []),
            room_id,
            line["id"],
        ),
    )


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
    elif op == "edit_line":
        await _edit_line(db, room_id, change["after"])
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
