"""The asyncio generation queue: many rooms' requests, one worker thread, few large batches.

The event loop enqueues requests (token ids, the number of takes, sampling) and awaits futures;
one worker thread (`model.worker.Worker`) owns the model and its engine, asks the `Scheduler`
for work between decode steps (so a request that arrives while a batch runs joins it at the
next step), decodes each take's text and hands results back with `call_soon_threadsafe`.
Nothing on the event loop ever waits for the model, so a Discord heartbeat is never late.

A `Ticket` is one request's handle: `await ticket.result()`, `ticket.on_progress(callback)`
(queue position and partial text), `ticket.cancel()`. A request may wait in line only so long
(`QueueSettings.timeout_s`); `close()` refuses new requests and drains the queue before the
worker stops. A request the worker fails (see `model.worker`) fails alone: the queue serves on.

It knows token ids and text; it knows nothing of prompts, screenplays or Discord.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from model.errors import (
    BackendError,
    GenerationCancelled,
    QueueClosed,
    QueueTimeout,
    RequestTooLong,
)
from model.metrics import QueueMetrics
from model.scheduler import Job, Scheduler
from model.tasks import Progress, Sampling
from model.worker import (
    Enough,
    SampledTake,
    Scoring,
    Work,
    Worker,
    context_length,
    make_engine,
    stop_tokens,
)

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """Limits of the queue. `max_batch` is the number of sequences decoded together.

    `timeout_s` is how long a request may wait in line before the model starts on it
    (`QueueTimeout`, and the per-request limit of the remote backend). Once started, a request
    runs to its end however slow the machine: its token budget bounds it, and a request whose
    prompt and budget exceed the model's context is refused when it is submitted. (A limit on
    the whole request failed requests half-written on a busy 2-core machine.)

    `cpu_threads` is torch's intra-op thread count on a CPU (0: every core). On a quiet 2-core
    machine two threads decode 1.7x faster than one (`python -m bench.queue`; README,
    "Performance"); the event loop's own work is small and runs while torch has released the
    GIL. On a machine shared with other busy processes fewer threads do better: torch's threads
    spin-wait for each other at every operation and lose many times their speed when a core is
    taken from them.

    `progress_every_s`: partial text goes to a listening request at most this often (its first
    token at once): decoding every take's text after every step would cost a GPU's step time.

    `kv_cache_mb`: the most memory the running takes' keys and values may hold on the fast path
    (`model.slots.SlotEngine`; 0: a quarter of the machine's memory). Every running take holds
    a column for each token of the longest prompt and budget among them, 46 KB a column for the
    shipped model in float32: 32 takes beside one long Chinese script held 6 GB and, while the
    cache grew, twice that. Takes past the limit wait for rows to finish; a CPU has no
    out-of-memory error to recover from, only the kernel ending the process."""

    max_batch: int = 32
    max_waiting: int = 64
    per_user: int = 2
    timeout_s: float = 300.0
    cpu_threads: int = 0
    progress_every_s: float = 0.25
    kv_cache_mb: int = 0


class Ticket:
    """One request's handle on the event loop."""

    def __init__(self, queue: GenerationQueue, job: Job, wait_limit_s: float) -> None:
        self._queue = queue
        self.job = job
        loop = asyncio.get_running_loop()
        self._future: asyncio.Future[list[SampledTake]] = loop.create_future()
        self._callbacks: list[Callable[[Progress], None]] = []
        self._texts: tuple[str, ...] = ("",) * job.size
        self._tokens = 0
        self._wait_limit_s = wait_limit_s
        self._timer = loop.call_later(wait_limit_s, self._expire)

    @property
    def position(self) -> int:
        """0 while generating or done; otherwise the place in line (1 = next)."""
        return self._queue.scheduler.position(self.job)

    def done(self) -> bool:
        return self._future.done()

    async def result(self) -> list[SampledTake]:
        """The takes; raises `QueueTimeout`, `GenerationCancelled` or `BackendError`.
        Cancelling the awaiting task cancels the request."""
        try:
            return await asyncio.shield(self._future)
        except asyncio.CancelledError:
            if not self._future.done():
                self.cancel()
            raise

    def on_progress(self, callback: Callable[[Progress], None]) -> None:
        """Call `callback` on the event loop at once, then with every position change and new
        text, and last with the `done` snapshot."""
        self._callbacks.append(callback)
        callback(self._snapshot())

    def cancel(self) -> None:
        """Withdraw the request: at once when waiting, at the next step when running."""
        if self._future.done():
            return
        self._queue._cancel(self)
        self.settle(error=GenerationCancelled())

    def _expire(self) -> None:
        if self._future.done() or self.job.started_at is not None:
            return  # started: it runs to its end
        self._queue._cancel(self)
        self.settle(error=QueueTimeout(self._wait_limit_s))

    @property
    def wants_progress(self) -> bool:
        """Whether anyone listens for partial text (the worker skips decoding otherwise)."""
        return bool(self._callbacks)

    def _snapshot(self, done: bool = False) -> Progress:
        return Progress(self.position, self._texts, self._tokens, done)

    def publish(self, texts: tuple[str, ...] | None, tokens: int) -> None:
        """(From the worker, on the loop.) New partial `texts`, or None: the position moved."""
        if self._future.done():
            return
        if texts is not None:
            self._texts, self._tokens = texts, tokens
        self._broadcast(self._snapshot())

    def settle(
        self, result: list[SampledTake] | None = None, error: BaseException | None = None
    ) -> None:
        """(From the worker, on the loop; or on a cancel or timeout.) The request's end."""
        if self._future.done():
            return
        self._timer.cancel()
        if error is not None:
            self._future.set_exception(error)
        else:
            assert result is not None
            self._texts = tuple(c.text for c in result)
            self._tokens = sum(c.tokens for c in result)
            self._future.set_result(result)
        self._broadcast(self._snapshot(done=True))
        # A failed request nobody awaits any more (its writer left) must not log a warning.
        if error is not None:
            self._future.exception()

    def _broadcast(self, progress: Progress) -> None:
        for callback in self._callbacks:
            try:
                callback(progress)
            except Exception:
                _log.exception("progress callback failed")


class GenerationQueue:
    """Fair, bounded, continuously batched generation on one worker thread."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        settings: QueueSettings | None = None,
        *,
        stop_token_ids: Sequence[int] | None = None,
    ) -> None:
        self.settings = settings or QueueSettings()
        self.tokenizer = tokenizer
        self.scheduler = Scheduler(
            max_waiting=self.settings.max_waiting, per_user=self.settings.per_user
        )
        if stop_token_ids is None:
            stop_token_ids = stop_tokens(model, tokenizer)
        self.engine = make_engine(
            model,
            stop_token_ids=stop_token_ids,
            max_batch=self.settings.max_batch,
            kv_cache_mb=self.settings.kv_cache_mb,
            tokenizer=tokenizer,
        )
        self.engine.warm_up()
        #: Prompt and new tokens together may not exceed this (None: the model does not say).
        self.context = context_length(model)
        self.worker = Worker(
            self.engine,
            self.scheduler,
            tokenizer,
            post=self._post,
            positions_changed=self._publish_positions,
            progress_every_s=self.settings.progress_every_s,
            cpu_threads=self.settings.cpu_threads,
        )
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._dead: BackendError | None = None

    # --- event-loop side ----------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._thread = threading.Thread(target=self._work, name="generation-worker", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Refuse new requests, finish every queued one, then stop the worker."""
        self._closing = True
        self.worker.close()
        if self._stopped is not None:
            await self._stopped.wait()

    async def __aenter__(self) -> GenerationQueue:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def enqueue(
        self,
        prompt_ids: Sequence[int],
        sampling: Sequence[Sampling],
        *,
        room_id: int = 0,
        user_id: int = 0,
        timeout_s: float | None = None,
        enough: Enough | None = None,
    ) -> Ticket:
        """Queue one request of `len(sampling)` takes; raises `QueueFull`, `TooManyRequests`,
        `RequestTooLong` or `QueueClosed` (each with the writer's sentence). `timeout_s`: how
        long it may wait in line (default: the settings'). `enough`: when it is done before all
        its takes are (`model.worker.Enough`; the takes it stops finish "stopped")."""
        if self._dead is not None:
            raise self._dead
        if self._closing or self._loop is None:
            raise QueueClosed()
        if not 0 < len(sampling) <= self.settings.max_batch:
            raise ValueError(f"takes per request must be 1..{self.settings.max_batch}")
        if not prompt_ids:
            raise ValueError("a prompt needs at least one token")
        if enough is not None and enough.takes > len(sampling):
            raise ValueError("a request cannot need more takes than it asks for")
        longest = max(s.max_new_tokens for s in sampling)
        if self.context is not None and len(prompt_ids) + longest > self.context:
            raise RequestTooLong(len(prompt_ids), longest, self.context)
        job = Job(room_id=room_id, user_id=user_id, size=len(sampling))
        ticket = Ticket(self, job, timeout_s or self.settings.timeout_s)
        job.payload = Work(tuple(prompt_ids), tuple(sampling), ticket, enough=enough)
        try:
            self.scheduler.add(job)
        except Exception:
            ticket._timer.cancel()
            raise
        self.worker.wake()
        self._publish_positions()
        return ticket

    async def submit(
        self,
        prompt_ids: Sequence[int],
        sampling: Sequence[Sampling],
        *,
        room_id: int = 0,
        user_id: int = 0,
        timeout_s: float | None = None,
    ) -> list[SampledTake]:
        """Queue a request and wait for its takes."""
        ticket = self.enqueue(
            prompt_ids, sampling, room_id=room_id, user_id=user_id, timeout_s=timeout_s
        )
        return await ticket.result()

    async def score(
        self, prompts: Sequence[Sequence[int]], takes: Sequence[Sequence[int]]
    ) -> list[float]:
        """The mean log-probability per token of each of `takes` after its prompt, computed by
        the worker between two decode steps: each prompt read once, its takes after it on
        copies of its keys and values (`model.relevance`).

        It follows a request the scheduler admitted (best-of-N scores the takes it drew), so it
        does not queue behind other requests; raises `BackendError` when the model fails."""
        if self._dead is not None:
            raise self._dead
        if self._loop is None or not takes:
            return [0.0] * len(takes)
        future: asyncio.Future[list[float]] = self._loop.create_future()

        def settle(scores: list[float] | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(scores or [])

        prompt_rows = tuple(tuple(p) for p in prompts)
        self.worker.score(Scoring(prompt_rows, tuple(tuple(t) for t in takes), settle))
        return await future

    def metrics(self) -> QueueMetrics:
        return self.worker.meter.figures(self.scheduler.waiting)

    def _cancel(self, ticket: Ticket) -> None:
        if self.scheduler.cancel(ticket.job):
            self._publish_positions()
            return
        work: Work = ticket.job.payload
        work.cancel_requested = True
        self.worker.wake()

    def _publish_positions(self) -> None:
        for job in self.scheduler.waiting_jobs():
            job.payload.handle.publish(None, 0)

    # --- worker thread ------------------------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, *args)

    def _work(self) -> None:
        try:
            self.worker.run()
        except Exception as exc:
            # Past the worker's own recovery: refuse new requests rather than queue them forever.
            _log.exception("generation worker stopped")
            dead = BackendError(
                "The model failed and stopped; the error is in the bot's log. Please restart it."
            )
            dead.__cause__ = exc
            self._dead = dead
            self.worker.abandon(dead)
        finally:
            assert self._stopped is not None
            self._post(self._stopped.set)


def in_passing_thread(fn: Callable[[], _T]) -> _T:
    """Run `fn` on a thread of its own that ends with it; return its result or raise its error.

    Load the model and build the queue this way. Torch work on a CPU (loading weights, packing
    them for the engine) leaves an OpenMP thread team behind on the thread that did it; beside
    the worker's own team, on a small CPU both teams stop spin-waiting and every decode step
    gets slower (a step of 4 sequences measured 47-51 ms instead of 31 on two cores). A thread
    that ends takes its team with it."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the caller, whatever it was
            box["error"] = exc

    thread = threading.Thread(target=run, name="model-loader")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
