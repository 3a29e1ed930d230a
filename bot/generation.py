"""What the room needs from the model side: a source of takes.

The room service asks a `TakeGenerator` for `n` takes of one request and stores what comes back;
it never sees the queue, the engine or torch. The generation side implements this protocol over
the model queue (scheduling, fairness between rooms by `room_id`, batching, streaming); tests use
a generator that returns canned takes. A generator that cannot serve the request raises a
`bot.errors.RoomError` or a `model.errors.GenerationError` (`model.generator.Generator` does the
latter); both carry the sentence the writer sees, and the room marks the proposal failed with it.
"""

from __future__ import annotations

from typing import Protocol

from model.tasks import GeneratedTake, ProgressCallback, Sampling, TaskRequest


class TakeGenerator(Protocol):
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
        """`n` alternative takes for `request`, in the order they should be numbered (take 1
        first). `room_id` and `user_id` (the writer who asked) let the queue share the model
        fairly between rooms and writers; `on_progress` hears the queue position and the
        partial takes while the model writes (called on the event loop)."""
        ...
