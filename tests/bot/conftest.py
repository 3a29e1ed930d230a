"""Fixtures of the room tests: a real SQLite file in tmp_path, a clock the test moves, and the
shared fake take generator (`tests.fakes`; the model is not part of these tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.room import RoomService
from bot.store import Store
from tests.fakes import FakeGenerator

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
