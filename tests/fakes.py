"""The one fake of the model's side of the room that the room, console, Discord and training
tests share: `FakeGenerator`, a `bot.generation.TakeGenerator` that needs no model.

It writes canned takes (by default one recognisable take per number and kind, "Take 2 of the
scene."; a test brings its own `write` or a `script` for every script take), reports progress as
the real queue does (a place in line, then the first words of each take), remembers every request
it was handed (`calls`, and `requests` for their `TaskRequest`s) and runs the test's `hook` first,
which may stall until released, act on the room meanwhile or raise (`raises`). It knows the
request contract, nothing of the room's rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from model.tasks import (
    SCRIPT_KINDS,
    CharacterSheet,
    GeneratedTake,
    Progress,
    ProgressCallback,
    Sampling,
    TaskKind,
    TaskRequest,
)


@dataclass(frozen=True)
class Call:
    """One request the generator was handed, with everything that came with it."""

    number: int  # 1 for the generator's first request, 2 for the next...
    request: TaskRequest
    n: int
    sampling: Sampling
    room_id: int
    user_id: int
    on_progress: ProgressCallback | None


#: Take `number` (from 1) of a call.
TakeWriter = Callable[[Call, int], GeneratedTake]
#: What runs before the takes are written: it may wait, raise, or act on the room meanwhile.
Hook = Callable[[Call], Awaitable[None]]


def canned_take(call: Call, number: int) -> GeneratedTake:
    """Take `number` of a request, recognisable in the script ("Take 2 of the scene.")."""
    kind, model = call.request.kind, "fake-model"
    if kind is TaskKind.PREMISE:
        return GeneratedTake(
            text=f"Title {number}: logline {number}",
            model=model,
            title=f"THE FERRY {number}",
            logline=f"A pilot must cross the strait, take {number}.",
        )
    if kind is TaskKind.CHARACTER:
        name = call.request.prompt.split()[0].upper()
        return GeneratedTake(
            text=f"{name} take {number}",
            model=model,
            sheet=CharacterSheet(name=name, role="lead", voice=f"voice of take {number}"),
        )
    if kind is TaskKind.BEAT:
        return GeneratedTake(text=f"Beat take {number}", model=model, beat=f"Beat take {number}")
    fountain = f"INT. FERRY DECK - NIGHT\n\nTake {number} of the scene.\n\nMARA\nWe go now."
    return GeneratedTake(text=fountain, model=model, fountain=fountain)


def raises(error: BaseException) -> Hook:
    """A hook that fails every request with `error`."""

    async def hook(call: Call) -> None:
        raise error

    return hook


@dataclass
class FakeGenerator:
    """Canned takes for every request, written by `write` (or `script`, the Fountain of every
    script take, when set), after `hook` and a pause of `delay_s`. `name` is the model's name the
    app shows."""

    write: TakeWriter = canned_take
    script: str | None = None
    hook: Hook | None = None
    delay_s: float = 0.0
    name: str = "FakeGenerator"
    calls: list[Call] = field(default_factory=list)

    @property
    def requests(self) -> list[TaskRequest]:
        """Every request, in the order they came."""
        return [call.request for call in self.calls]

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
        call = Call(len(self.calls) + 1, request, n, sampling, room_id, user_id, on_progress)
        self.calls.append(call)
        if self.hook is not None:
            await self.hook(call)
        takes = [self.write(call, k) for k in range(1, n + 1)]
        if self.script is not None and request.kind in SCRIPT_KINDS:
            script = GeneratedTake(text=self.script, model=takes[0].model, fountain=self.script)
            takes = [script] * n
        if on_progress is not None:
            on_progress(Progress(position=1, texts=(), tokens=0))
            on_progress(Progress(0, tuple(t.text[:10] for t in takes), tokens=10 * n))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return takes
