"""The assembled application: the store, the generation side and the room service, opened and
closed together.

`open_app(settings)` is the one place that turns `Settings` into running parts: it opens the
SQLite store (migrations run at open), starts the generation side — the model loaded in this
process behind the `GenerationQueue` and its worker thread, or the OpenAI-compatible remote
backend — and creates the `RoomService` both front ends drive. Leaving the `async with` block
lets the generation started with `App.in_background` finish and store its takes, drains the
queue (every request already queued is finished, so no writer loses takes they were promised),
and closes the database.

It knows which parts exist and in what order they start and stop; it knows nothing of Discord,
the console's syntax or the rules of the room.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.generation import TakeGenerator
from bot.messages import ENGLISH, Lang, Message, counted, message
from bot.offload import Offload
from bot.room import RoomService
from bot.settings import Settings
from bot.store import Store
from model.generator import GenerationSettings, Generator, LocalBackend, open_generator
from model.loading import ModelSettings, bot_adapter
from model.queue import GenerationQueue, QueueSettings
from model.tasks import GeneratedTake, ProgressCallback, Sampling, TaskRequest

_log = logging.getLogger(__name__)

#: Distance between the seeds of consecutive requests under a fixed seed: wider than the
#: generator's own offsets (one per take, and 7919 more for a take sampled again), so no two
#: requests ever share a seed.
_SEED_STRIDE = 10_007


@dataclass
class SeededGenerator:
    """A generator whose requests draw their seeds from one starting seed, so that a scripted
    session run twice on a fresh database gives the same takes (`--seed`)."""

    inner: Generator
    seed: int
    _requests: int = 0

    @property
    def name(self) -> str:
        return self.inner.name

    async def generate(
        self,
        request: TaskRequest,
        n: int,
        sampling: Sampling,
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
    ) -> list[GeneratedTake]:
        seed = self.seed + _SEED_STRIDE * self._requests
        self._requests += 1
        return await self.inner.generate(
            request,
            n,
            dataclasses.replace(sampling, seed=seed),
            room_id=room_id,
            user_id=user_id,
            on_progress=on_progress,
        )


@dataclass
class App:
    """The running parts of one bot process. `rooms` is what the front ends drive."""

    settings: Settings
    store: Store
    rooms: RoomService
    model_name: str
    queue: GenerationQueue | None = None  # the in-process model's queue (local backend only)
    started_at: float = field(default_factory=time.monotonic)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    def in_background(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `work` (typically the generation of a proposal's takes) as a task that closing
        the app waits for before the queue closes, so its takes are written and stored."""
        task = asyncio.create_task(work, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def status(self, lang: Lang = ENGLISH) -> str:
        """What `/status` shows, in `lang`: the model, where it runs, and the queue's figures."""
        name = self.model_name
        if self.queue is not None:
            model = message(
                "status.model_local", model=name, device=_device_of(self.queue.engine.model)
            )
            m = self.queue.metrics()
            queue = message(
                "status.queue",
                waiting=m.waiting,
                generating=m.running_requests,
                takes=counted("take", m.running_sequences),
                p50=f"{m.wait_p50_s:.1f}",
                max=f"{m.wait_max_s:.1f}",
                tokens=f"{m.tokens_per_s:.0f}",
                batch=f"{m.mean_batch:.1f}",
                batch_max=m.max_batch,
                served=counted("request_served", m.completed),
            )
        elif self.settings.backend == "openai":
            model = message("status.model_server", model=name, url=self.settings.openai_base_url)
            queue = message("status.queue_server")
        else:
            model = message("status.model_given", model=name)
            queue = message("status.queue_none")
        up = message("status.up", duration=_duration(time.monotonic() - self.started_at))
        lines = [model, queue, up]
        if self.queue is not None and self.settings.built_in_model:
            lines.insert(1, message("status.model_small"))
        return "\n".join(said.render(lang) for said in lines)


@asynccontextmanager
async def open_app(
    settings: Settings, *, generator: TakeGenerator | None = None
) -> AsyncIterator[App]:
    """The application for `settings`, open for the duration of the block.

    `generator` replaces the configured generation side (an embedding program's own, or a test's
    canned takes); without it the model is loaded as the settings say, which takes a while on
    first start (see `model.loading`). Raises `model.loading.ModelLoadError`,
    `bot.settings.SettingsError` or `bot.store.StoreError` with a sentence for the operator.
    """
    store = await Store.open(settings.database)
    offload = Offload()
    app: App | None = None
    opened: Generator | None = None
    try:
        if generator is None:
            opened = await _open_generator(settings)
            backend = opened.backend
            app = App(
                settings,
                store,
                RoomService(store, _seeded(opened, settings.seed), offload=offload),
                opened.name,
                backend.queue if isinstance(backend, LocalBackend) else None,
            )
        else:
            name = str(getattr(generator, "name", type(generator).__name__))
            app = App(settings, store, RoomService(store, generator, offload=offload), name)
        _log.info("serving rooms from %s with model %s", settings.database, app.model_name)
        keep_startup_objects()
        yield app
    finally:
        # Generation a front end started with `in_background` finishes first, while the queue
        # still takes requests; then the queue drains what else it holds.
        while app is not None and app._background:
            _log.info("finishing %d generation(s) still in flight", len(app._background))
            await asyncio.gather(*app._background, return_exceptions=True)
        if opened is not None:
            _log.info("draining the generation queue")
            await opened.close()
        await store.close()
        await asyncio.to_thread(offload.close)
        _log.info("closed the database %s", settings.database)


def keep_startup_objects() -> None:
    """Take what is alive once the app is open out of the garbage collector's full passes.

    The libraries (torch and transformers alone hold some 170,000 objects), the model and the
    catalogues live as long as the process; a full collection walks them all, on whatever
    thread allocates at the time (often the event loop), and took 100–175 ms here, over 300 ms
    on a busy machine: a Discord loop stalled that long misses heartbeats and other rooms'
    commands. Collected once, then frozen, a full pass walks only what the rooms made since."""
    gc.collect()
    gc.freeze()


def _seeded(generator: Generator, seed: int | None) -> TakeGenerator:
    return generator if seed is None else SeededGenerator(generator, seed)


async def _open_generator(settings: Settings) -> Generator:
    """The generation side the settings ask for; loading a local model runs on a thread."""
    queue = QueueSettings(
        max_waiting=settings.max_queue,
        per_user=settings.max_per_user,
        timeout_s=settings.request_timeout_s,
        cpu_threads=settings.cpu_threads,
        kv_cache_mb=settings.kv_cache_mb,
    )
    if settings.backend == "openai":
        return await open_generator(
            GenerationSettings(
                backend="remote",
                queue=queue,
                remote_url=settings.openai_base_url,
                remote_model=settings.openai_model,
                remote_adapter=settings.openai_adapter,
                remote_api_key=settings.openai_api_key.get_secret_value(),
                best_of=settings.best_of,
            )
        )
    model = ModelSettings(
        model=settings.model,
        adapter=bot_adapter(settings.model, settings.adapter),
        device=settings.device,
        dtype=settings.dtype,
        quantize=settings.quantize,
        kv_cache=settings.kv_cache,
        cache_dir=settings.model_cache,
        for_queue=True,  # from the runtime weight cache: no Hugging Face model to build
    )
    started = time.perf_counter()
    generator = await open_generator(
        GenerationSettings(backend="local", model=model, queue=queue, best_of=settings.best_of)
    )
    _log.info("model %s ready in %.1f s", generator.name, time.perf_counter() - started)
    return generator


def _device_of(model: Any) -> str:
    try:
        return str(next(model.parameters()).device)
    except (AttributeError, StopIteration):
        return "an unknown device"


def _duration(seconds: float) -> Message:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return message("duration.hours", h=hours, min=minutes)
    if minutes:
        return message("duration.minutes", min=minutes, s=secs)
    return message("duration.seconds", s=secs)


@contextmanager
def cancel_on_signals(on_stop: Callable[[int], None] | None = None) -> Iterator[list[int]]:
    """While inside, SIGINT or SIGTERM cancel the running task, so that `open_app` finishes the
    takes being written, drains the queue and closes the database; a second signal exits at once
    (SQLite's journal keeps the file consistent). Yields the signals received, so the caller can
    tell a stop it asked for from any other cancellation. Call from inside the event loop."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        if len(received) > 1:
            os._exit(128 + signum)  # asked twice: do not wait for the queue
        if on_stop is not None:
            on_stop(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        yield received
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
