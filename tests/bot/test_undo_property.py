"""Random sequences of room operations keep the room's invariants, and undo/redo walk the story
back and forth through exactly the states it had."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from bot import store as db_
from bot.domain import Room, RoomSettings, VoteOutcome
from bot.errors import NothingToUndo, RoomError
from bot.room import RoomService
from bot.store import Store
from bot.store.drafts import change_number
from tests.bot.conftest import ANA, BEN, CY, ROOM, FakeClock, FakeGenerator

FOUNTAIN = [
    "INT. DECK - NIGHT",
    "Rain falls on the deck.",
    "MARA\nGo.",
    "TOM\n(softly)\nStay.",
    "CUT TO:",
    "@林小雨\n你好。",
    "EXT. HARBOUR - DAY\n\nGulls.\n\nMARA\nHome.",
]
NAMES = ["Mara", "Tom", "林小雨"]
users = st.sampled_from([ANA, BEN, CY])


def _story(room: Room) -> Room:
    """The parts of a room that undo and redo restore (settings are not part of the story)."""
    return dataclasses.replace(room, settings=RoomSettings())


class RoomMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.dir = Path(tempfile.mkdtemp())
        self.store = self.run(Store.open(self.dir / "room.db"))
        self.service = RoomService(self.store, FakeGenerator(), clock=FakeClock())
        self.done: list[Room] = []  # story states, the current one last
        self.undone: list[Room] = []

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _changed(self, *, always: bool = True) -> None:
        """Record a story change; an edit that changed nothing (`always=False`) logs no event."""
        state = _story(self.run(self.service.room(ROOM)))
        if always or state != self.done[-1]:
            self.done.append(state)
            self.undone.clear()

    @initialize()
    def open_room(self) -> None:
        self.run(self.service.update_settings(ROOM, ANA, quorum=2))
        self.done.append(_story(self.run(self.service.room(ROOM))))

    @rule(user=users, text=st.sampled_from(FOUNTAIN), where=st.integers(-1, 30))
    def write(self, user: int, text: str, where: int) -> None:
        length = len(self.done[-1].script)
        after = None if where < 0 else min(where, length)
        self.run(self.service.write(ROOM, user, text, after=after))
        self._changed()

    @rule(user=users, name=st.sampled_from(NAMES), role=st.sampled_from(["", "lead", "foil"]))
    def character(self, user: int, name: str, role: str) -> None:
        try:
            self.run(self.service.add_character(ROOM, user, name, role=role))
        except RoomError:
            self.run(self.service.edit_character(ROOM, user, name, role=role + "!"))
            self._changed(always=False)
            return
        self._changed()

    @rule(user=users, name=st.sampled_from(NAMES))
    def remove_character(self, user: int, name: str) -> None:
        try:
            self.run(self.service.remove_character(ROOM, user, name))
        except RoomError:
            return
        self._changed()

    @rule(user=users, text=st.sampled_from(["Boarding.", "The storm.", "Landfall."]))
    def beat(self, user: int, text: str) -> None:
        beats = self.done[-1].beats
        if beats and len(text) % 2:
            self.run(self.service.edit_beat(ROOM, user, len(beats), status="written"))
            self._changed(always=False)
        else:
            self.run(self.service.add_beat(ROOM, user, text))
            self._changed()

    @rule(user=users, title=st.sampled_from(["A", "B", "夜渡"]))
    def premise(self, user: int, title: str) -> None:
        self.run(self.service.set_premise(ROOM, user, title=title))
        self._changed(always=False)

    @rule(
        kind=st.sampled_from(["scene", "dialogue", "character", "premise", "beat"]),
        take=st.integers(1, 3),
        voters=st.lists(users, max_size=3),
    )
    def ask_and_vote(self, kind: str, take: int, voters: list[int]) -> None:
        proposal = self.run(self.service.ask(ROOM, BEN, kind, "something", ["MARA"]))
        decided = False
        for voter in voters:
            if decided:
                break
            result = self.run(self.service.vote(ROOM, voter, proposal.id, take))
            decided = result.outcome is VoteOutcome.DECIDED
        if decided:
            self._changed()

    @rule(quorum=st.integers(1, 3))
    def settings_change(self, quorum: int) -> None:
        self.run(self.service.update_settings(ROOM, ANA, quorum=quorum))  # not a story change

    def _revision(self, call: Any) -> None:
        """A revision that may be refused (no such line or scene, nothing changed)."""
        try:
            self.run(call)
        except RoomError:
            return
        self._changed()

    @rule(user=users, line=st.integers(1, 12), text=st.sampled_from(["Gulls.", "MARA", "Rain."]))
    def revise_line(self, user: int, line: int, text: str) -> None:
        self._revision(self.service.revise_line(ROOM, user, line, text))

    @rule(user=users, first=st.integers(1, 12), size=st.integers(0, 3))
    def delete_lines(self, user: int, first: int, size: int) -> None:
        self._revision(self.service.delete_lines(ROOM, user, first, first + size))

    @rule(user=users, scene=st.integers(1, 3), after=st.integers(0, 3))
    def move_scene(self, user: int, scene: int, after: int) -> None:
        self._revision(self.service.move_scene(ROOM, user, str(scene), str(after)))

    @rule(user=users, scene=st.integers(1, 3), text=st.sampled_from(FOUNTAIN[-1:] + FOUNTAIN[:1]))
    def revise_or_insert_scene(self, user: int, scene: int, text: str) -> None:
        if len(text) % 2:
            self._revision(self.service.insert_scene(ROOM, user, text, str(scene)))
        else:
            self._revision(self.service.revise_scene(ROOM, user, str(scene), text))

    @rule(back=st.integers(1, 4))
    def undo_to(self, back: int) -> None:
        """Undo back to a change: the story is as it was then, in one new undoable change."""

        async def stack() -> list[int]:
            async with self.store.read() as db:
                return (await db_.undo_stacks(db, ROOM))[0]

        undo_stack = self.run(stack())
        if len(undo_stack) <= back or len(self.done) <= back:
            return
        target = undo_stack[-1 - back]

        async def number() -> int:
            async with self.store.read() as db:
                return await change_number(db, ROOM, target)

        self.run(self.service.undo_to(ROOM, ANA, self.run(number())))
        assert _story(self.run(self.service.room(ROOM))) == self.done[-1 - back]
        self._changed()

    @rule()
    def undo(self) -> None:
        if len(self.done) == 1:
            try:
                self.run(self.service.undo(ROOM, ANA))
            except NothingToUndo:
                return
            raise AssertionError("undo succeeded with nothing to undo")
        self.run(self.service.undo(ROOM, ANA))
        self.undone.append(self.done.pop())
        assert _story(self.run(self.service.room(ROOM))) == self.done[-1]

    @rule()
    def redo(self) -> None:
        if not self.undone:
            try:
                self.run(self.service.redo(ROOM, ANA))
            except NothingToUndo:
                return
            raise AssertionError("redo succeeded with nothing to redo")
        self.run(self.service.redo(ROOM, ANA))
        self.done.append(self.undone.pop())
        assert _story(self.run(self.service.room(ROOM))) == self.done[-1]

    @rule()
    def undo_everything_and_redo_it(self) -> None:
        states = len(self.done)
        for _ in range(states - 1):
            self.undo()
        assert len(self.done) == 1
        for _ in range(states - 1):
            self.redo()
        assert len(self.done) == states

    @invariant()
    def consistent(self) -> None:
        room = self.run(self.service.room(ROOM))
        assert _story(room) == self.done[-1]
        assert [line.number for line in room.script] == list(range(1, len(room.script) + 1))

        async def problems() -> list[str]:
            async with self.store.read() as db:
                return await db_.consistency_problems(db)

        assert self.run(problems()) == []


RoomMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=20, deadline=None)
TestRoomMachine = RoomMachine.TestCase
