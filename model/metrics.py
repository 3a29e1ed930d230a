"""The generation queue's figures for `/status`: written by the worker thread, read on the event
loop. Rates and sizes cover the last minute of work. No torch; nothing of rooms or Discord."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

_WINDOW_S = 60.0


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


class Meter:
    """Thread-safe tallies of the worker: tokens and batch sizes over the last minute, recent
    waits, the requests it holds (job id -> takes) and the requests it completed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: deque[tuple[float, int]] = deque()
        self._batches: deque[tuple[float, int]] = deque()
        self._waits: deque[float] = deque(maxlen=200)
        self._running: dict[int, int] = {}
        self._completed = 0

    def started(self, job_id: int, takes: int, waited_s: float) -> None:
        with self._lock:
            self._running[job_id] = takes
            self._waits.append(waited_s)

    def ended(self, job_id: int, *, completed: bool) -> None:
        with self._lock:
            self._running.pop(job_id, None)
            self._completed += completed

    def batch(self, rows: int) -> None:
        self._add(self._batches, rows)

    def tokens(self, count: int) -> None:
        self._add(self._tokens, count)

    def figures(self, waiting: int) -> QueueMetrics:
        """The figures now, with `waiting` requests in line."""
        now = time.monotonic()
        with self._lock:
            _forget_before(self._tokens, now - _WINDOW_S)
            _forget_before(self._batches, now - _WINDOW_S)
            tokens = sum(n for _, n in self._tokens)
            span = (now - self._tokens[0][0]) if self._tokens else 0.0
            sizes = [n for _, n in self._batches]
            waits = list(self._waits)
            running = list(self._running.values())
            completed = self._completed
        return QueueMetrics(
            waiting=waiting,
            running_requests=len(running),
            running_sequences=sum(running),
            wait_p50_s=statistics.median(waits) if waits else 0.0,
            wait_max_s=max(waits, default=0.0),
            tokens_per_s=tokens / span if span > 0 else 0.0,
            mean_batch=statistics.fmean(sizes) if sizes else 0.0,
            max_batch=max(sizes, default=0),
            completed=completed,
        )

    def _add(self, window: deque[tuple[float, int]], value: int) -> None:
        now = time.monotonic()
        with self._lock:
            window.append((now, value))
            _forget_before(window, now - _WINDOW_S)


def _forget_before(window: deque[tuple[float, int]], cutoff: float) -> None:
    while window and window[0][0] < cutoff:
        window.popleft()
