"""Nothing CPU-heavy runs on the event loop: while one room imports a hostile file of megabytes
and another exports a script of a few hundred pages as a PDF, the loop keeps answering — a
ticker that sleeps 10 ms at a time is never kept away by this process's own work for more than
200 ms. (A Discord bot whose loop stalls misses its heartbeats and every other room's commands.)
What a busy machine takes from the process on top is printed beside it, not counted."""

from __future__ import annotations

import asyncio
import time

from bot.app import keep_startup_objects
from bot.errors import BadInput
from bot.room import IMPORT_LIMIT, RoomService
from tests.bot.conftest import ANA, ROOM

#: The longest the loop may be away between two 10 ms ticks.
MAX_GAP_S = 0.2


def hostile_fountain() -> bytes:
    """A 2–5 MB Fountain file made to be slow: a scene heading padded with a megabyte of spaces,
    a paragraph of nested and unclosed emphasis markers, one very long paragraph."""
    heading = "INT. " + " " * 700_000 + "HOUSE - DAY"
    emphasis = "***_" * 50_000 + "a" + "_***" * 25_000 + "*a " * 70_000
    paragraph = " ".join(f"word{n % 97}" for n in range(160_000))
    data = f"{heading}\n\n{emphasis}\n\n{paragraph}\n".encode()
    assert 2_000_000 <= len(data) <= IMPORT_LIMIT
    return data


def long_script(scenes: int = 240) -> bytes:
    """A plain script of a few hundred pages."""
    parts = []
    for n in range(1, scenes + 1):
        parts.append(f"INT. ROOM {n} - NIGHT\n\nRain on the window, scene {n}.")
        parts.append("Mara paces between the table and the door, counting the minutes. " * 4)
        for line in range(6):
            parts.append(f"MARA\nLine {line} of scene {n}: we should have left an hour ago.")
            parts.append(f"TOM\n(quietly)\nAnd gone where, in this weather? Line {line}.")
    return "\n\n".join(parts).encode()


async def test_a_hostile_import_and_a_long_pdf_export_leave_the_loop_responsive(
    service: RoomService,
) -> None:
    await service.import_script(ROOM + 1, ANA, "long.fountain", long_script())
    keep_startup_objects()  # as the app does once open (earlier tests imported torch, as it does)
    hostile = hostile_fountain()
    gaps: list[float] = []
    stalls: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last, last_cpu = time.perf_counter(), time.process_time()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now, cpu = time.perf_counter(), time.process_time()
            gaps.append(now - last)
            # The part of a gap our own process spent working (any of its threads; the worker
            # process is not counted): what kept the loop away. The rest of a long gap is the
            # machine giving its cores to other programs, which no code of ours can prevent.
            stalls.append(min(now - last, cpu - last_cpu))
            last, last_cpu = now, cpu

    async def hostile_import() -> str:
        try:
            lines = await service.import_script(ROOM, ANA, "hostile.fountain", hostile)
        except BadInput as refused:  # refusing it in a sentence is as good as importing it
            return str(refused)
        return f"{len(lines)} lines"

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)  # the ticker has its rhythm before the work starts
    started = time.perf_counter()
    try:
        imported, pdf = await asyncio.gather(hostile_import(), service.export(ROOM + 1, "pdf"))
    finally:
        done.set()
        await ticking
    took = time.perf_counter() - started
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 200
    worst = max(stalls)
    print(
        f"import: {imported}; both took {took:.1f} s; the longest gap was "
        f"{max(gaps) * 1000:.0f} ms, of which this process worked {worst * 1000:.0f} ms"
    )
    assert worst <= MAX_GAP_S, f"the event loop stalled for {worst * 1000:.0f} ms"


async def test_a_long_script_read_in_steps_comes_back_whole_and_in_order(
    service: RoomService,
) -> None:
    source = "\n\n".join(f"Line {n}." for n in range(1, 1301)).encode()
    await service.import_script(ROOM, ANA, "lines.fountain", source)
    script = await service.show(ROOM)
    assert [line.number for line in script] == list(range(1, 1301))
    assert [str(line.element.text) for line in script[498:501]] == [  # type: ignore[union-attr]
        "Line 499.",
        "Line 500.",
        "Line 501.",
    ]
    middle = await service.show(ROOM, 499, 1002)
    assert [line.number for line in middle] == list(range(499, 1003))
    assert middle == script[498:1002]
    exported = (await service.export(ROOM, "fountain")).decode()
    assert exported.index("Line 500.") < exported.index("Line 501.") < exported.index("Line 1300.")
