"""Fixtures of the room tests: a real SQLite file in tmp_path, a clock the test moves, and a take
generator that returns canned takes (the model is not part of these tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.room import RoomService
from bot.store import Store
from model.tasks import CharacterSheet, GeneratedTake, Progress, Sampling, TaskKind, TaskRequest

ROOM = 1001
ANA, BEN, CY, DEE = 11, 12, 13, 14


@dataclass
class FakeClock:
    """Time that passes only when the test says so."""

    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def canned_take(kind: TaskKind, number: int, request: TaskRequest) -> GeneratedTake:
    """Take `number` of a request, recognisable in the script ("Take 2 ...")."""
    model = "fake-model"
    if kind is TaskKind.PREMISE:
        return GeneratedTake(
            text=f"Title {number}: logline {number}",
            model=model,
            title=f"THE FERRY {number}",
            logline=f"A pilot must cross the strait, take {number}.",
        )
    if kind is TaskKind.CHARACTER:
        name = request.prompt.split()[0].upper()
        return GeneratedTake(
            text=f"{name} take {number}",
            model=model,
            sheet=CharacterSheet(name=name, role="lead", voice=f"voice of take {number}"),
        )
    if kind is TaskKind.BEAT:
        return GeneratedTake(text=f"Beat take {number}", model=model, beat=f"Beat take {number}")
    fountain = f"INT. FERRY DECK - NIGHT\n\nTake {number} of the scene.\n\nMARA\nWe go now."
    return GeneratedTake(text=fountain, model=model, fountain=fountain)


@dataclass
class FakeGenerator:
    """Returns canned takes and remembers every request it was given."""

    requests: list[tuple[TaskRequest, int, Sampling, int]] = field(default_factory=list)

    async def generate(
        self,
        request: TaskRequest,
        n: int,
        sampling: Sampling,
        *,
        room_id: int,
        user_id: int,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> list[GeneratedTake]:
        self.requests.append((request, n, sampling, room_id))
        takes = [canned_take(request.kind, k, request) for k in range(1, n + 1)]
        if on_progress is not None:
            on_progress(Progress(position=1, texts=(), tokens=0))
            on_progress(Progress(0, tuple(t.text[:10] for t in takes), tokens=10 * n))
        return takes


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def generator() -> FakeGenerator:
    return FakeGenerator()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "room.db")
    yield opened
    await opened.close()


@pytest.fixture
def service(store: Store, generator: FakeGenerator, clock: FakeClock) -> RoomService:
    return RoomService(store, generator, clock=clock)
