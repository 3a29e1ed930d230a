"""Revising the script together: a line or a scene rewritten, lines or a scene deleted, a scene
moved or inserted before another, and a scene shown with its line numbers.

Lines are addressed by their number in the script (as `/show` prints them) and scenes by their
scene number (`3`, or `3A` once a draft locked the numbering: see `bot.room.numbering`). Every
change is one undoable event listing invertible changes (`RoomCore._story_change`): a revised
line keeps its id and place (an `edit_line` change with before and after) and adds the writer to
its `revised_by`, so its attribution reads "written by X, revised by Y"; a revised scene is
compared with the new text line by line, so only the lines that differ are revised, added or
removed; a moved scene keeps its lines (ids, attribution, and so its locked number). Revising,
deleting and moving are open to every writer; undoing another writer's change needs a
showrunner, as for any change. Knows nothing of Discord or SQL text.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot import store as db_
from bot.domain import Attribution, ScriptLine, clean_text
from bot.errors import BadInput, NotFound
from bot.messages import Message, counted, message
from bot.room.core import RoomCore, insert_change, storable
from bot.room.numbering import Locked, Scene, find_scene, scenes
from bot.room.text import format_lines, parse_script
from bot.store import Change
from bot.store.drafts import draft_rows
from screenplay.fountain import parse_fountain
from screenplay.types import (
    Action,
    Centered,
    Character,
    Dialogue,
    Element,
    Lyrics,
    Parenthetical,
    SceneHeading,
    Transition,
)


@dataclass(frozen=True, slots=True)
class SceneView:
    """A scene as a command shows it: its number and its lines (with their line numbers)."""

    label: str
    lines: tuple[ScriptLine, ...]

    @property
    def fountain(self) -> str:
        """The scene as Fountain, as a writer revises it (`revise_scene` takes it back)."""
        return format_lines(self.lines)


class ScriptRevisions(RoomCore):
    """The commands that reshape the script already written."""

    async def scene(self, room_id: int, scene: str) -> SceneView:
        """Scene `scene` (its number, `3` or `3A`) with its lines."""
        async with self.store.read() as db:
            script, found = await script_scenes(db, room_id)
            return _view(script, find_scene(found, scene))

    async def revise_line(self, room_id: int, user_id: int, line: int, text: str) -> ScriptLine:
        """Line `line` reads `text` instead (one element, of the line's kind unless the text
        says otherwise); its attribution adds the writer as a reviser."""
        text = clean_text(text, "text", "fountain")
        if not text:
            raise BadInput("error.revise_line_empty")
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            old = await _line_at(db, room_id, line)
            element = await asyncio.to_thread(revised_element, old.element, text)
            if element == old.element:
                raise BadInput("error.line_unchanged", line=line)
            event_id = await db_.next_event_id(db)
            change = _edit(old, element, event_id, user_id)
            await self._story_change(
                db,
                room_id,
                user_id,
                "revise",
                message("event.revised_line", line=line),
                [change],
                event_id=event_id,
            )
            return (await db_.load_script(db, room_id, line, line))[0]

    async def revise_scene(
        self, room_id: int, user_id: int, scene: str, text: str, *, expected: str | None = None
    ) -> SceneView:
        """Scene `scene` reads `text` (Fountain starting with its heading); only the lines that
        differ change. With `expected` (the text the writer started from), refused when someone
        changed the scene meanwhile."""
        text = clean_text(text, "scene", "fountain")
        elements = await asyncio.to_thread(parse_script, text) if text else ()
        if not elements or not isinstance(elements[0], SceneHeading):
            raise BadInput("error.scene_needs_heading", scene=scene)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            script, found = await script_scenes(db, room_id)
            target = find_scene(found, scene)
            before = _view(script, target)
            if expected is not None and _same_text(expected) != _same_text(before.fountain):
                raise BadInput("error.scene_changed_meanwhile", scene=target.label)
            anchor = script[target.start - 1].id if target.start else None
            event_id = await db_.next_event_id(db)
            changes = await _scene_changes(db, before.lines, elements, anchor, event_id, user_id)
            if not changes:
                raise BadInput("error.scene_unchanged", scene=target.label)
            summary = message("event.revised_scene", scene=target.label, diff=_diff(changes))
            await self._story_change(
                db, room_id, user_id, "revise", summary, changes, event_id=event_id
            )
            script, found = await script_scenes(db, room_id)
            heading = next((s for s in found if s.start == target.start), found[0])
            return _view(script, heading)

    async def delete_lines(self, room_id: int, user_id: int, first: int, last: int) -> int:
        """Remove lines `first` to `last` (both included); how many went."""
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            length = await db_.script_length(db, room_id)
            if not 1 <= first <= last <= length:
                raise BadInput(_range_sentence(length))
            lines = await db_.load_script(db, room_id, first, last)
            anchor = await db_.line_id_at(db, room_id, first - 1)
            what = (
                message("event.deleted_line", line=first)
                if first == last
                else message("event.deleted_lines", first=first, last=last)
            )
            await self._story_change(db, room_id, user_id, "delete", what, [_delete(anchor, lines)])
            return len(lines)

    async def delete_scene(self, room_id: int, user_id: int, scene: str) -> SceneView:
        """Remove scene `scene` (its number stays omitted once a draft locked the numbers)."""
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            script, found = await script_scenes(db, room_id)
            target = find_scene(found, scene)
            gone = _view(script, target)
            anchor = script[target.start - 1].id if target.start else None
            await self._story_change(
                db,
                room_id,
                user_id,
                "delete",
                message(
                    "event.deleted_scene",
                    scene=target.label,
                    lines=counted("line", len(gone.lines)),
                ),
                [_delete(anchor, gone.lines)],
            )
            return gone

    async def move_scene(self, room_id: int, user_id: int, scene: str, after: str) -> SceneView:
        """Move scene `scene` after scene `after` (`0`: before the first scene); its lines,
        their attribution and its number go with it."""
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            script, found = await script_scenes(db, room_id)
            moving = find_scene(found, scene)
            if after.strip() == "0":
                to = script[found[0].start - 1].id if found[0].start else None
                where = message("event.moved_to_start", scene=moving.label)
            else:
                behind = find_scene(found, after)
                if moving.start <= behind.start < moving.end:
                    raise BadInput("error.move_after_itself", scene=moving.label)
                to = script[behind.end - 1].id
                where = message("event.moved_after", scene=moving.label, after=behind.label)
            anchor = script[moving.start - 1].id if moving.start else None
            if to == anchor:
                raise BadInput("error.move_already_there", scene=moving.label)
            view = _view(script, moving)
            records = [_record(line) for line in view.lines]
            changes: list[Change] = [
                {"op": "delete_lines", "after_line": anchor, "lines": records},
                {"op": "insert_lines", "after_line": to, "lines": records},
            ]
            await self._story_change(db, room_id, user_id, "move", where, changes)
            script, found = await script_scenes(db, room_id)
            return _view(script, next(s for s in found if s.heading_id == moving.heading_id))

    async def insert_scene(
        self, room_id: int, user_id: int, fountain: str, before_scene: str
    ) -> tuple[ScriptLine, ...]:
        """Put the writer's Fountain (starting with a scene heading) before scene
        `before_scene`."""
        text = clean_text(fountain, "text", "fountain")
        elements = await asyncio.to_thread(parse_script, text) if text else ()
        if not elements or not isinstance(elements[0], SceneHeading):
            raise BadInput("error.insert_needs_heading")
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            script, found = await script_scenes(db, room_id)
            target = find_scene(found, before_scene)
            anchor = script[target.start - 1].id if target.start else None
            event_id = await db_.next_event_id(db)
            change = await insert_change(
                db, anchor, elements, event_id, Attribution(written_by=user_id)
            )
            summary = message(
                "event.inserted", lines=counted("line", len(elements)), scene=target.label
            )
            await self._story_change(
                db, room_id, user_id, "write", summary, [change], event_id=event_id
            )
            first = target.start + 1
            return await db_.load_script(db, room_id, first, first + len(elements) - 1)


# --- reading scenes -----------------------------------------------------------------------------


async def locked_numbers(db: aiosqlite.Connection, room_id: int) -> Locked:
    """The scene numbers the room's latest draft locked (none before its first draft)."""
    drafts = await draft_rows(db, room_id)
    return tuple(drafts[-1]["scenes"]) if drafts else ()


async def script_scenes(
    db: aiosqlite.Connection, room_id: int
) -> tuple[tuple[ScriptLine, ...], list[Scene]]:
    script = await db_.load_script(db, room_id)
    return script, scenes(script, await locked_numbers(db, room_id))


def _view(script: Sequence[ScriptLine], scene: Scene) -> SceneView:
    return SceneView(scene.label, tuple(script[scene.start : scene.end]))


async def _line_at(db: aiosqlite.Connection, room_id: int, number: int) -> ScriptLine:
    length = await db_.script_length(db, room_id)
    if not 1 <= number <= length or not storable(number):
        raise NotFound(_range_sentence(length))
    return (await db_.load_script(db, room_id, number, number))[0]


def _range_sentence(length: int) -> Message:
    if not length:
        return message("error.script_empty_lines")
    return message("error.line_range", lines=counted("line", length), last=length)


_RANGE = re.compile(r"^\s*#?([0-9]{1,18})\s*(?:[-–—]|\.\.|to)?\s*#?([0-9]{1,18})?\s*$")


def line_range(text: str) -> tuple[int, int]:
    """`12-15`, `12–15`, `12..15` or `12` as (first, last)."""
    match = _RANGE.match(text)
    if match is None:
        raise BadInput("error.lines_format", text=repr(text))
    first = int(match[1])
    last = int(match[2]) if match[2] else first
    if last < first:
        raise BadInput("error.range_upward", first=last, last=first)
    return first, last


# --- changes ------------------------------------------------------------------------------------


def _record(line: ScriptLine) -> dict[str, object]:
    return db_.line_record(line.id, line.element, line.event_id, line.attribution)


def _delete(anchor: int | None, lines: Sequence[ScriptLine]) -> Change:
    """Removing a run of lines; `after_line` is where its undo puts them back."""
    return {"op": "delete_lines", "after_line": anchor, "lines": [_record(x) for x in lines]}


def _edit(old: ScriptLine, element: Element, event_id: int, user_id: int) -> Change:
    after = db_.line_record(old.id, element, event_id, old.attribution.revised(user_id))
    return {"op": "edit_line", "before": _record(old), "after": after}


async def _scene_changes(
    db: aiosqlite.Connection,
    old: Sequence[ScriptLine],
    new: Sequence[Element],
    anchor: int | None,
    event_id: int,
    user_id: int,
) -> list[Change]:
    """The changes that turn lines `old` (after line id `anchor`) into `new`: equal lines stay,
    a line replaced one for one is revised, the rest are removed or added. Each change is
    anchored on the lines as the changes before it left them."""
    matcher = difflib.SequenceMatcher(
        a=[db_.encode_element(x.element) for x in old],
        b=[db_.encode_element(x) for x in new],
        autojunk=False,
    )
    changes: list[Change] = []
    last = anchor  # the id of the line the next change follows
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            last = old[i2 - 1].id
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            changes.append(_edit(old[i1 + k], new[j1 + k], event_id, user_id))
            last = old[i1 + k].id
        if i1 + paired < i2:
            changes.append(_delete(last, old[i1 + paired : i2]))
        if j1 + paired < j2:
            added = new[j1 + paired : j2]
            change = await insert_change(db, last, added, event_id, Attribution(written_by=user_id))
            changes.append(change)
            last = change["lines"][-1]["id"]
    return changes


def _diff(changes: Sequence[Change]) -> list[Message]:
    """What a scene's revision did, line by line: "1 line revised, 2 lines added"."""
    counts = {"edit_line": 0, "insert_lines": 0, "delete_lines": 0}
    for change in changes:
        op = change["op"]
        counts[op] += 1 if op == "edit_line" else len(change["lines"])
    return [
        message(f"event.diff.{verb}", lines=counted("line", n))
        for op, verb in (
            ("edit_line", "revised"),
            ("insert_lines", "added"),
            ("delete_lines", "removed"),
        )
        if (n := counts[op])
    ]


def _same_text(text: str) -> str:
    """Text compared for "changed meanwhile": line ends and trailing spaces do not count."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


# --- a line's new text --------------------------------------------------------------------------

#: How a line's text is read back in its kind when it reads alone as something else: the text is
#: put where an element of that kind stands, and the element of that kind is taken.
_CONTEXTS: dict[type, str] = {
    Dialogue: "@SOMEONE\n{}",
    Parenthetical: "@SOMEONE\n{}\nsomething",
    Lyrics: "@SOMEONE\n~{}",
    Character: "{}\nsomething",
    SceneHeading: ".{}",
    Action: "!{}",
    Transition: "> {}",
    Centered: ">{}<",
}


def revised_element(old: Element, text: str) -> Element:
    """The element `text` makes of a line that was `old`: the line keeps its kind (a plain
    `We're late.` revising a line of dialogue stays dialogue) unless the text reads as one
    element of another kind and says so with Fountain's forcing marks (`.`, `!`, `@`, `~`,
    `>`)."""
    alone = _elements(text)
    if len(alone) == 1 and (type(alone[0]) is type(old) or text.lstrip()[:1] in _FORCING):
        return alone[0]
    context = _CONTEXTS.get(type(old))
    if context is not None:
        same = [e for e in _elements(context.format(text.strip())) if type(e) is type(old)]
        if len(same) == 1:
            return same[0]
    if len(alone) == 1:
        return alone[0]
    raise BadInput("error.line_one_element")


_FORCING = frozenset(".!@~>")


def _elements(text: str) -> tuple[Element, ...]:
    return parse_fountain("/**/\n\n" + text).elements[1:]


def numbered_text(lines: Sequence[ScriptLine]) -> str:
    """Lines as a writer reads them to address them: each with its line number in the margin,
    speech indented as on the page (cue most, dialogue least), continuation lines under their
    first."""
    if not lines:
        return ""
    width = len(str(lines[-1].number))
    out: list[str] = []
    for line in lines:
        indent = " " * _INDENTS.get(type(line.element), 0)
        first, *rest = (_plain(line.element) or " ").split("\n")
        out.append(f"{line.number:>{width}}  {indent}{first}".rstrip())
        out += [f"{'':>{width}}  {indent}{more}".rstrip() for more in rest]
    return "\n".join(out)


_INDENTS: dict[type, int] = {Character: 12, Parenthetical: 8, Dialogue: 6, Lyrics: 6}


def _plain(element: Element) -> str:
    """An element's printed words (the number of a heading, `^` of a dual cue, `===`)."""
    if isinstance(element, SceneHeading):
        return element.text + (f" #{element.number}#" if element.number else "")
    if isinstance(element, Character):
        return element.cue + (" ^" if element.dual else "")
    text = getattr(element, "text", None)
    if text is None:
        return "==="  # a page break
    return str(text)
