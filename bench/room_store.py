"""How fast the room's SQLite store is: votes per second, appends per second, and the time to load
a room whose script runs 120 pages next to one of a single page.

    python -m bench.room_store [--votes 2000] [--appends 500] [--pages 120]

Prints figures; asserts nothing. Runs on a temporary database file (WAL, as the bot does), with
no model: takes come from a canned generator.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.domain import Room
from bot.room import RoomService
from bot.store import Store
from model.tasks import GeneratedTake, Sampling, TaskRequest
from screenplay.stats import stats

SCENE = """INT. FERRY DECK {n} - NIGHT

Rain hammers the steel. MARA grips the rail while the ferry pitches; somewhere below, an engine
coughs and catches again.

MARA
(shouting)
Tie it down before it goes over!

TOM
I'm trying. The knot won't hold in this.

MARA
Then hold it yourself.

TOM
With what, my teeth?

She shoves a coil of rope into his chest.

MARA
If you have to.

TOM
You're enjoying this.

MARA
Every minute.
"""


class CannedTakes:
    async def generate(
        self,
        request: TaskRequest,
        n: int,
        sampling: Sampling,
        *,
        room_id: int,
        user_id: int,
        on_progress: object = None,
    ) -> list[GeneratedTake]:
        text = SCENE.format(n=room_id)
        return [GeneratedTake(text=text, model="canned", fountain=text) for _ in range(n)]


async def bench_votes(service: RoomService, count: int) -> float:
    """Votes per second: `count` votes by different writers on open proposals, all at once."""
    room = 1
    await service.update_settings(room, 1, pick_rule="showrunner")  # nothing decides: pure votes
    proposals = [await service.ask(room, 1, "scene", "storm") for _ in range(max(count // 200, 1))]
    start = time.perf_counter()
    await asyncio.gather(
        *(
            service.vote(room, 1000 + i, proposals[i % len(proposals)].id, 1 + i % 3)
            for i in range(count)
        )
    )
    return count / (time.perf_counter() - start)


async def bench_appends(service: RoomService, count: int) -> tuple[float, float]:
    """(writes per second, script elements per second) of writers' scenes appended one by one."""
    room = 2
    elements = 0
    start = time.perf_counter()
    for i in range(count):
        elements += len(await service.write(room, 1, SCENE.format(n=i)))
    elapsed = time.perf_counter() - start
    return count / elapsed, elements / elapsed


async def build_room(service: RoomService, room: int, pages: int) -> Room:
    """A room whose script lays out to at least `pages` pages."""
    scenes = 0
    step = 1 if pages <= 5 else 5  # laying out is the slow part: check a long script less often
    while True:
        for _ in range(step):
            scenes += 1
            await service.write(room, 1, SCENE.format(n=scenes))
        loaded = await service.room(room)
        if stats(loaded.document()).pages >= pages:
            return loaded


async def time_load(service: RoomService, room: int, repeats: int = 5) -> tuple[float, float]:
    """Median seconds to load the whole room, and to build a proposal's request (prompt
    context included)."""
    loads, requests = [], []
    proposal = await service.propose(room, 1, "continue")
    for _ in range(repeats):
        start = time.perf_counter()
        await service.room(room)
        loads.append(time.perf_counter() - start)
        start = time.perf_counter()
        await service.request_for(room, proposal.id)
        requests.append(time.perf_counter() - start)
    return statistics.median(loads), statistics.median(requests)


async def main(votes: int, appends: int, pages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "bench.db") as store:
            service = RoomService(store, CannedTakes())
            rate = await bench_votes(service, votes)
            print(f"votes:   {rate:8.0f} votes/s ({votes} concurrent votes, one room)")
            writes, elements = await bench_appends(service, appends)
            per_scene = len(await service.show(2)) // appends
            print(
                f"appends: {writes:8.0f} writes/s, {elements:.0f} script elements/s "
                f"({appends} scenes of {per_scene} elements, each parsed, linted and stored)"
            )
            small = await build_room(service, 10, 1)
            large = await build_room(service, 11, pages)
            small_pages = stats(small.document()).pages
            large_pages = stats(large.document()).pages
            small_load, small_request = await time_load(service, 10)
            large_load, large_request = await time_load(service, 11)
            print(
                f"load:    {small_pages:4d} page  ({len(small.script):5d} elements): "
                f"{small_load * 1000:7.1f} ms room, {small_request * 1000:7.1f} ms request"
            )
            print(
                f"load:    {large_pages:4d} pages ({len(large.script):5d} elements): "
                f"{large_load * 1000:7.1f} ms room, {large_request * 1000:7.1f} ms request"
            )
            print(
                f"ratio:   {large_load / small_load:.1f}x to load, "
                f"{large_request / small_request:.1f}x to build a request"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=2000, help="concurrent votes to time")
    parser.add_argument("--appends", type=int, default=300, help="scenes to append one by one")
    parser.add_argument("--pages", type=int, default=120, help="pages of the large script")
    args = parser.parse_args()
    asyncio.run(main(args.votes, args.appends, args.pages))
