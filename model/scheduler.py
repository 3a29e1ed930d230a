"""Queue policy: which waiting request runs next, and who may wait at all.

Pure Python, no torch and no asyncio: the queue's worker thread asks `take(free_slots)` between
decode steps, the event loop adds, cancels and asks positions. Policy:

- rooms take turns (round-robin): each turn admits the oldest waiting request of the next room,
  so a room that asks for many takes cannot starve the others;
- a request's takes are admitted together (they share one prefill) and only when they all fit;
  when the next request in turn does not fit, admission stops rather than let smaller requests
  overtake it forever;
- a bounded number of requests may wait (`QueueFull`), and each writer may have a bounded number
  of requests outstanding, waiting or running (`TooManyRequests`).

A lock makes every method safe to call from both threads; none of them blocks for long.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from model.errors import QueueFull, TooManyRequests


class JobState(enum.Enum):
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"


_ids = itertools.count(1)


@dataclass(eq=False)
class Job:
    """One request in the queue: `size` sequences (takes) for one room and one writer.
    `payload` is whatever the executor needs (token ids, sampling); the policy never reads it."""

    room_id: int
    user_id: int
    size: int
    payload: Any = None
    job_id: int = field(default_factory=lambda: next(_ids))
    enqueued_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    state: JobState = JobState.WAITING


class Scheduler:
    """Round-robin admission across rooms with per-writer and queue-length limits."""

    def __init__(self, *, max_waiting: int = 64, per_user: int = 2) -> None:
        self.max_waiting = max_waiting
        self.per_user = per_user
        self._lock = threading.Lock()
        self._rooms: dict[int, deque[Job]] = {}
        self._turns: deque[int] = deque()  # rooms with waiting jobs, next turn first
        self._outstanding: dict[int, int] = {}
        self._waiting = 0

    def add(self, job: Job) -> None:
        """Queue `job`, or raise `QueueFull` / `TooManyRequests` with the writer's sentence."""
        with self._lock:
            if self._waiting >= self.max_waiting:
                raise QueueFull(self._waiting)
            if self._outstanding.get(job.user_id, 0) >= self.per_user:
                raise TooManyRequests(self.per_user)
            self._outstanding[job.user_id] = self._outstanding.get(job.user_id, 0) + 1
            room = self._rooms.setdefault(job.room_id, deque())
            if not room:
                self._turns.append(job.room_id)
            room.append(job)
            self._waiting += 1

    def take(self, free_slots: int) -> list[Job]:
        """Admit waiting jobs in turn while their takes fit into `free_slots`."""
        admitted: list[Job] = []
        with self._lock:
            now = time.monotonic()
            while self._turns:
                room_id = self._turns[0]
                job = self._rooms[room_id][0]
                if job.size > free_slots:
                    break
                self._rooms[room_id].popleft()
                self._turns.popleft()
                if self._rooms[room_id]:
                    self._turns.append(room_id)
                else:
                    del self._rooms[room_id]
                self._waiting -= 1
                free_slots -= job.size
                job.state, job.started_at = JobState.RUNNING, now
                admitted.append(job)
        return admitted

    def finish(self, job: Job) -> None:
        """A running job is done (finished, failed or cancelled while running)."""
        with self._lock:
            if job.state is JobState.RUNNING:
                job.state = JobState.DONE
                self._release(job.user_id)

    def cancel(self, job: Job) -> bool:
        """Remove a waiting job; False when it is not waiting (running or done)."""
        with self._lock:
            if job.state is not JobState.WAITING:
                return False
            room = self._rooms[job.room_id]
            room.remove(job)
            if not room:
                del self._rooms[job.room_id]
                self._turns.remove(job.room_id)
            self._waiting -= 1
            job.state = JobState.DONE
            self._release(job.user_id)
            return True

    def position(self, job: Job) -> int:
        """0 while running or done; otherwise the job's place in line (1 = next)."""
        with self._lock:
            if job.state is not JobState.WAITING:
                return 0
            for place, queued in enumerate(self._order(), start=1):
                if queued is job:
                    return place
        raise AssertionError("a waiting job is always in the order")

    def waiting_jobs(self) -> list[Job]:
        """Waiting jobs in the order they would be admitted."""
        with self._lock:
            return list(self._order())

    @property
    def waiting(self) -> int:
        return self._waiting

    def _order(self) -> list[Job]:
        rooms = [list(self._rooms[room_id]) for room_id in self._turns]
        order: list[Job] = []
        for depth in range(max((len(r) for r in rooms), default=0)):
            order.extend(r[depth] for r in rooms if depth < len(r))
        return order

    def _release(self, user_id: int) -> None:
        left = self._outstanding[user_id] - 1
        if left:
            self._outstanding[user_id] = left
        else:
            del self._outstanding[user_id]
