"""CPU-heavy screenplay work in a worker process, with a time limit: reading an imported file and
laying out an export.

Why a process and not a thread: a thread still shares the event loop's interpreter, and a parse
that builds millions of objects makes the garbage collector stop every thread (the loop
included) for a tenth of a second at a time, while one long regular-expression match holds the
interpreter for its whole run. In a process of its own the work costs the loop nothing; the
loop only waits on a future. A job that runs past its time limit is stopped with its worker
(the pool is started again on the next job) and answered with the sentence the caller gives, so
one hostile file can neither freeze the bot nor keep a worker busy for ever.

Jobs are plain module-level functions on picklable values (bytes, strings, documents). The
worker process starts on first use ("spawn": a fresh interpreter, safe beside the model's
threads) and imports only the screenplay library. Knows processes and time; nothing of rooms.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import multiprocessing.pool
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from bot.errors import BadInput
from bot.messages import Message

_log = logging.getLogger(__name__)

_T = TypeVar("_T")


class Offload:
    """A small pool of worker processes; `run` awaits one job on it."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: multiprocessing.pool.Pool | None = None
        self._lock = threading.Lock()

    def _started(self) -> multiprocessing.pool.Pool:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")
                self._pool = context.Pool(self.workers)
            return self._pool

    async def run(
        self, job: Callable[..., _T], *args: Any, time_limit_s: float, too_long: Message
    ) -> _T:
        """`job(*args)` in a worker. Its exceptions are raised here as they were raised there;
        past `time_limit_s` the worker is stopped and `BadInput(too_long)` raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()

        def settle(value: Any, failed: bool) -> None:
            if not future.done():
                (future.set_exception if failed else future.set_result)(value)

        pool = await asyncio.to_thread(self._started)  # the first start takes a moment
        pool.apply_async(
            job,
            args,
            callback=lambda value: loop.call_soon_threadsafe(settle, value, False),
            error_callback=lambda err: loop.call_soon_threadsafe(settle, err, True),
        )
        try:
            return await asyncio.wait_for(future, time_limit_s)
        except TimeoutError:
            _log.warning("%s ran past %.0f s; its worker is stopped", job.__name__, time_limit_s)
            await asyncio.to_thread(self._stop, pool)
            raise BadInput(too_long) from None

    def _stop(self, pool: multiprocessing.pool.Pool) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.terminate()
        pool.join()

    def close(self) -> None:
        """Stop the workers (jobs still running are abandoned)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()


_shared: Offload | None = None


def shared() -> Offload:
    """The process's one pool, made on first use (a bot needs one worker for all its rooms)."""
    global _shared
    if _shared is None:
        _shared = Offload()
        atexit.register(_shared.close)
    return _shared
