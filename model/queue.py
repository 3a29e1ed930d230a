"""The asyncio generation queue: many rooms' requests, one worker thread, few large batches.

The event loop enqueues requests (token ids, the number of takes, sampling) and awaits futures;
one worker thread owns the model and the `Engine`, asks the `Scheduler` for work between decode
steps (so a request that arrives while a batch runs joins it at the next step), decodes each
take's text and hands results back with `call_soon_threadsafe`. Nothing on the event loop ever
waits for the model, so a Discord heartbeat is never late.

A `Ticket` is one request's handle: `await ticket.result()`, `ticket.updates()` (streamed
partial text and queue position), `ticket.cancel()`. Each request has a deadline; `close()`
refuses new requests and drains the queue before the worker stops.

It knows token ids and text; it knows nothing of prompts, screenplays or Discord.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from model.engine import PromptGroup, TokenEvent, make_engine
from model.errors import (
    BackendError,
    GenerationCancelled,
    GenerationTimeout,
    QueueClosed,
)
from model.scheduler import Job, Scheduler
from model.tasks import Completion, Progress, Sampling

_log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """Limits of the queue. `max_batch` is the number of sequences decoded together.
    `cpu_threads` is torch's intra-op thread count on a CPU (0: every core). On a quiet 2-core
    machine two threads decode 1.7x faster than one (bench/README); the event loop's own work is
    small and runs while torch has released the GIL. On a machine shared with other busy
    processes fewer threads do better: torch's threads spin-wait for each other at every
    operation and lose many times their speed when a core is taken from them.
    `progress_every_s`: partial text goes to a listening request at most this often (its first
    token at once): decoding every take's text after every step would cost a GPU's step time."""

    max_batch: int = 32
    max_waiting: int = 64
    per_user: int = 2
    timeout_s: float = 300.0
    cpu_threads: int = 0
    progress_every_s: float = 0.25


@dataclass(frozen=True, slots=True)
class QueueMetrics:
    """What `/status` shows. Rates and sizes cover the last minute of work."""

    waiting: int
    running_requests: int
    running_sequences: int
    wait_p50_s: float
    wait_max_s: float
    tokens_per_s: float
    mean_batch: float
    max_batch: int
    completed: int

    def describe(self) -> str:
        return (
            f"{self.waiting} waiting, {self.running_requests} generating "
            f"({self.running_sequences} takes); wait p50 {self.wait_p50_s:.1f} s "
            f"(max {self.wait_max_s:.1f} s); {self.tokens_per_s:.0f} tokens/s; "
            f"batch mean {self.mean_batch:.1f} (max {self.max_batch}); "
            f"{self.completed} requests served"
        )


@dataclass(eq=False)
class _Work:
    """The executor's side of one job: inputs, per-take token ids and the loop-side ticket."""

    prompt_ids: tuple[int, ...]
    sampling: tuple[Sampling, ...]
    ticket: Ticket
    tokens: list[list[int]] = field(default_factory=list)
    finish: list[str] = field(default_factory=list)
    cancel_requested: bool = False
    published_at: float = -float("inf")


class Ticket:
    """One request's handle on the event loop."""

    def __init__(self, queue: GenerationQueue, job: Job, timeout_s: float) -> None:
        self._queue = queue
        self.job = job
        loop = asyncio.get_running_loop()
        self._future: asyncio.Future[list[Completion]] = loop.create_future()
        self._listeners: list[asyncio.Queue[Progress]] = []
        self._callbacks: list[Callable[[Progress], None]] = []
        self._texts: tuple[str, ...] = ("",) * job.size
        self._tokens = 0
        self._timeout_s = timeout_s
        self._timer = loop.call_later(timeout_s, self._expire)

    @property
    def position(self) -> int:
        """0 while generating or done; otherwise the place in line (1 = next)."""
        return self._queue.scheduler.position(self.job)

    def done(self) -> bool:
        return self._future.done()

    async def result(self) -> list[Completion]:
        """The takes; raises `GenerationTimeout`, `GenerationCancelled` or `BackendError`.
        Cancelling the awaiting task cancels the request."""
        try:
            return await asyncio.shield(self._future)
        except asyncio.CancelledError:
            if not self._future.done():
                self.cancel()
            raise

    def on_progress(self, callback: Callable[[Progress], None]) -> None:
        """Call `callback` on the event loop with every position change and new text."""
        self._callbacks.append(callback)
        callback(self._snapshot())

    async def updates(self) -> AsyncIterator[Progress]:
        """Progress snapshots until the request ends (the last one has `done`)."""
        inbox: asyncio.Queue[Progress] = asyncio.Queue()
        self._listeners.append(inbox)
        inbox.put_nowait(self._snapshot())
        if self._future.done():
            inbox.put_nowait(self._snapshot(done=True))
        try:
            while True:
                progress = await inbox.get()
                yield progress
                if progress.done:
                    return
        finally:
            self._listeners.remove(inbox)

    def cancel(self) -> None:
        """Withdraw the request: at once when waiting, at the next step when running."""
        if self._future.done():
            return
        self._queue._cancel(self)
        self._settle(error=GenerationCancelled())

    def _expire(self) -> None:
        if not self._future.done():
            self._queue._cancel(self)
            self._settle(error=GenerationTimeout(self._timeout_s))

    @property
    def wants_progress(self) -> bool:
        """Whether anyone listens for partial text (the worker skips decoding otherwise)."""
        return bool(self._listeners or self._callbacks)

    def _snapshot(self, done: bool = False) -> Progress:
        return Progress(self.position, self._texts, self._tokens, done)

    def _publish(self, texts: tuple[str, ...] | None, tokens: int) -> None:
        if self._future.done():
            return
        if texts is not None:
            self._texts, self._tokens = texts, tokens
        self._broadcast(self._snapshot())

    def _broadcast(self, progress: Progress) -> None:
        for inbox in self._listeners:
            inbox.put_nowait(progress)
        for callback in self._callbacks:
            try:
                callback(progress)
            except Exception:
                _log.exception("progress callback failed")

    def _settle(
        self, result: list[Completion] | None = None, error: BaseException | None = None
    ) -> None:
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
        # A failed request nobody awaits (a fire-and-forget stream) must not log a warning.
        if error is not None:
            self._future.exception()


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
            stop_token_ids = _stop_tokens(model, tokenizer)
        self.engine = make_engine(
            model, stop_token_ids=stop_token_ids, max_batch=self.settings.max_batch
        )
        self.engine.warm_up()
        self._wake = threading.Condition()
        self._closing = False
        self._running: dict[int, tuple[_Work, int]] = {}  # seq id -> (work, take index)
        self._active: dict[int, _Work] = {}  # job id -> work, while the worker holds it
        self._next_seq = 0
        self._spared: dict[tuple[str, ...], frozenset[int]] = {}  # cast -> its name tokens
        self._metrics_lock = threading.Lock()
        self._token_times: deque[tuple[float, int]] = deque()
        self._batch_sizes: deque[tuple[float, int]] = deque()
        self._waits: deque[float] = deque(maxlen=200)
        self._completed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._failed: BackendError | None = None

    # --- event-loop side ----------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._thread = threading.Thread(target=self._work, name="generation-worker", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        """Refuse new requests, finish every queued one, then stop the worker."""
        self._closing = True
        with self._wake:
            self._wake.notify()
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
    ) -> Ticket:
        """Queue one request of `len(sampling)` takes; raises `QueueFull`, `TooManyRequests`
        or `QueueClosed` (each with the writer's sentence)."""
        if self._failed is not None:
            raise self._failed
        if self._closing or self._loop is None:
            raise QueueClosed()
        if not 0 < len(sampling) <= self.settings.max_batch:
            raise ValueError(f"takes per request must be 1..{self.settings.max_batch}")
        job = Job(room_id=room_id, user_id=user_id, size=len(sampling))
        ticket = Ticket(self, job, timeout_s or self.settings.timeout_s)
        job.payload = _Work(tuple(prompt_ids), tuple(sampling), ticket)
        try:
            self.scheduler.add(job)
        except Exception:
            ticket._timer.cancel()
            raise
        with self._wake:
            self._wake.notify()
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
    ) -> list[Completion]:
        """Queue a request and wait for its takes."""
        ticket = self.enqueue(
            prompt_ids, sampling, room_id=room_id, user_id=user_id, timeout_s=timeout_s
        )
        return await ticket.result()

    def metrics(self) -> QueueMetrics:
        now = time.monotonic()
        with self._metrics_lock:
            _forget_before(self._token_times, now - 60)
            _forget_before(self._batch_sizes, now - 60)
            tokens = sum(n for _, n in self._token_times)
            span = (now - self._token_times[0][0]) if self._token_times else 0.0
            sizes = [n for _, n in self._batch_sizes]
            waits = list(self._waits)
            running = list(self._active.values())
            completed = self._completed
        return QueueMetrics(
            waiting=self.scheduler.waiting,
            running_requests=len(running),
            running_sequences=sum(len(w.sampling) for w in running),
            wait_p50_s=statistics.median(waits) if waits else 0.0,
            wait_max_s=max(waits, default=0.0),
            tokens_per_s=tokens / span if span > 0 else 0.0,
            mean_batch=statistics.fmean(sizes) if sizes else 0.0,
            max_batch=max(sizes, default=0),
            completed=completed,
        )

    def _cancel(self, ticket: Ticket) -> None:
        if self.scheduler.cancel(ticket.job):
            self._publish_positions()
            return
        work: _Work = ticket.job.payload
        work.cancel_requested = True
        with self._wake:
            self._wake.notify()

    def _publish_positions(self) -> None:
        for job in self.scheduler.waiting_jobs():
            job.payload.ticket._publish(None, 0)

    # --- worker thread ------------------------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(callback, *args)

    def _work(self) -> None:
        if self.engine.device.type == "cpu":
            # torch's CPU thread count is set per thread (OpenMP): set it where decoding runs.
            # (Load the model off this thread and off the event loop's: `in_passing_thread`.)
            torch.set_num_threads(self.settings.cpu_threads or (os.cpu_count() or 1))
        try:
            while self._wait_for_work():
                self._drop_cancelled()
                admitted = self.scheduler.take(self.engine.free_slots)
                events: list[TokenEvent] = []
                if admitted:
                    events.extend(self._admit(admitted))
                if self.engine.active:
                    with self._metrics_lock:
                        now = time.monotonic()
                        self._batch_sizes.append((now, self.engine.active))
                        _forget_before(self._batch_sizes, now - 60)
                    events.extend(self.engine.step())
                self._deliver(events)
        except Exception as exc:
            _log.exception("generation worker failed")
            self._fail_all(exc)
        finally:
            assert self._stopped is not None
            self._post(self._stopped.set)

    def _wait_for_work(self) -> bool:
        with self._wake:
            while not (self.engine.active or self.scheduler.waiting or self._has_cancels()):
                if self._closing:
                    return False
                self._wake.wait()
        return True

    def _word_tokens(self, words: tuple[str, ...]) -> frozenset[int]:
        """Every token that spells one of `words` as a cue, at a line start or mid-sentence,
        in capitals or as written; worked out once per cast (a room asks with the same one)."""
        if words in self._spared:
            return self._spared[words]
        ids: set[int] = set()
        for word in words:
            for form in {word, word.upper(), word.title()}:
                for text in (form, f" {form}", f"\n{form}"):
                    ids.update(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        # Line breaks and spaces stay penalised as before: only the names are spared.
        spared = frozenset(i for i in ids if self.tokenizer.decode([i]).strip())
        self._spared[words] = spared  # the worker's alone, like the engine
        return spared

    def _has_cancels(self) -> bool:
        return any(w.cancel_requested for w in self._active.values())

    def _admit(self, jobs: list[Job]) -> list[TokenEvent]:
        groups = []
        now = time.monotonic()
        for job in jobs:
            work: _Work = job.payload
            seq_ids = tuple(range(self._next_seq, self._next_seq + job.size))
            self._next_seq += job.size
            for index, seq_id in enumerate(seq_ids):
                self._running[seq_id] = (work, index)
            work.tokens = [[] for _ in seq_ids]
            work.finish = [""] * job.size
            with self._metrics_lock:
                self._active[job.job_id] = work
                self._waits.append(now - job.enqueued_at)
            unpenalised = self._word_tokens(work.sampling[0].keep_words)
            groups.append(PromptGroup(work.prompt_ids, seq_ids, work.sampling, unpenalised))
        self._post(self._publish_positions)
        return self.engine.add(groups)

    def _deliver(self, events: list[TokenEvent]) -> None:
        now = time.monotonic()
        touched: dict[int, _Work] = {}
        for event in events:
            work, index = self._running[event.seq_id]
            if event.token_id is not None:
                work.tokens[index].append(event.token_id)
            if event.finish:
                work.finish[index] = event.finish
                del self._running[event.seq_id]
            touched[work.ticket.job.job_id] = work
        with self._metrics_lock:
            self._token_times.append((now, len(events)))
            _forget_before(self._token_times, now - 60)
        for work in touched.values():
            if all(work.finish):
                self._complete(work, tuple(self._decode(ids) for ids in work.tokens))
            elif (
                work.ticket.wants_progress
                and now - work.published_at >= self.settings.progress_every_s
            ):
                work.published_at = now
                texts = tuple(self._decode(ids) for ids in work.tokens)
                self._post(work.ticket._publish, texts, sum(map(len, work.tokens)))

    def _drop_cancelled(self) -> None:
        for work in [w for w in self._active.values() if w.cancel_requested]:
            seq_ids = [s for s, (w, _) in self._running.items() if w is work]
            self.engine.drop(seq_ids)
            for seq_id in seq_ids:
                del self._running[seq_id]
            self._retire(work)

    def _complete(self, work: _Work, texts: tuple[str, ...]) -> None:
        result = [
            Completion(text, len(ids), finish)
            for text, ids, finish in zip(texts, work.tokens, work.finish, strict=True)
        ]
        self._retire(work)
        with self._metrics_lock:
            self._completed += 1
        self._post(work.ticket._settle, result)

    def _retire(self, work: _Work) -> None:
        job = work.ticket.job
        with self._metrics_lock:
            self._active.pop(job.job_id, None)
        self.scheduler.finish(job)

    def _fail_all(self, exc: Exception) -> None:
        error = BackendError(
            "The model failed while writing; the error is in the bot's log. Please try again."
        )
        error.__cause__ = exc
        self._failed = error
        works = list(self._active.values())
        while self.scheduler.waiting:
            works.extend(job.payload for job in self.scheduler.take(self.settings.max_batch))
        for work in works:
            self._retire(work)
            self._post(work.ticket._settle, None, error)

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))


def _forget_before(window: deque[tuple[float, int]], cutoff: float) -> None:
    while window and window[0][0] < cutoff:
        window.popleft()


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


def _stop_tokens(model: Any, tokenizer: Any) -> list[int]:
    """End-of-sequence ids of the model and tokenizer (chat models end a turn with their own)."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    # A model that opens a new chat turn (`<|im_start|>user`) has finished its answer.
    for token in ("<|im_end|>", "<|im_start|>", "<|eot_id|>", "<|endoftext|>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return sorted(ids)
