"""Project-wide pytest configuration: the `--update-goldens` switch of the golden-file tests."""

from __future__ import annotations

import pytest

from bot import store as db_
from bot.domain import Event
from bot.room import RoomService


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite tests/files/golden/ from the current renderers instead of comparing "
        "against it (review the diff before committing it)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True when the run was asked to rewrite golden files rather than check them."""
    return bool(request.config.getoption("--update-goldens"))


async def room_events(
    service: RoomService, room_id: int, limit: int | None = 50
) -> tuple[Event, ...]:
    """The room's log, oldest first (the latest `limit` events), as the tests read it: the front
    ends read a room's changes through `RoomService.history`."""
    async with service.store.read() as db:
        return await db_.load_events(db, room_id, limit)
