"""The worker process that reads imports and lays out exports: results and errors come back as
they were, and a job past its time limit is stopped with a sentence while the next job is
served by a fresh worker."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.errors import BadInput
from bot.messages import SIMPLIFIED, message
from bot.offload import Offload

SLOW = message("error.export_too_slow", seconds="60")


@pytest.fixture
def offload() -> Iterator[Offload]:
    pool = Offload()
    yield pool
    pool.close()


async def test_a_job_runs_in_the_worker_and_its_errors_come_back(offload: Offload) -> None:
    assert await offload.run(pow, 2, 10, time_limit_s=60, too_long=SLOW) == 1024
    with pytest.raises(ValueError, match="invalid literal"):
        await offload.run(int, "ten", time_limit_s=60, too_long=SLOW)


async def test_a_job_past_its_limit_is_stopped_and_the_next_one_is_served(
    offload: Offload,
) -> None:
    started = time.perf_counter()
    # A file name with format braces is worded as it is, in the reader's language.
    said = message("error.import_too_slow", file="{evil}.fdx", seconds="1")
    with pytest.raises(BadInput, match="too complex") as raised:
        await offload.run(time.sleep, 30, time_limit_s=1, too_long=said)
    assert raised.value.render(SIMPLIFIED).startswith("{evil}.fdx 太复杂，无法导入")
    assert time.perf_counter() - started < 20  # stopped, not waited for
    assert await offload.run(pow, 3, 3, time_limit_s=60, too_long=SLOW) == 27
