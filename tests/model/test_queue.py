"""The generation queue on a tiny random Llama: batching across rooms, continuous joining,
fairness, limits, cancellation, timeouts, progress, failures, shutdown and a responsive event
loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from model.errors import (
    GenerationCancelled,
    GenerationTimeout,
    QueueClosed,
    QueueFull,
    RequestTooLong,
)
from model.queue import GenerationQueue, QueueSettings, in_passing_thread
from model.tasks import Progress, Sampling
from model.worker import stop_tokens

PROMPT = (1, 504, 2981, 30, 77)


def takes(n: int, tokens: int, seed: int | None = None) -> list[Sampling]:
    return [
        Sampling(max_new_tokens=tokens, seed=None if seed is None else seed + i) for i in range(n)
    ]


@pytest.fixture
async def make_queue(tiny_model: Any, tokenizer: Any) -> AsyncIterator[Any]:
    opened: list[GenerationQueue] = []

    async def make(**limits: Any) -> GenerationQueue:
        queue = GenerationQueue(tiny_model, tokenizer, QueueSettings(**limits), stop_token_ids=())
        await queue.start()
        opened.append(queue)
        return queue

    yield make
    for queue in opened:
        await queue.close()


async def test_requests_of_different_rooms_share_one_batch(make_queue: Any) -> None:
    queue = await make_queue(max_batch=16)
    results = await asyncio.gather(
        *(queue.submit(PROMPT, takes(3, 20), room_id=room, user_id=room) for room in range(4))
    )
    assert [len(r) for r in results] == [3, 3, 3, 3]
    assert all(c.tokens == 20 and c.finish == "length" for r in results for c in r)
    metrics = queue.metrics()
    assert metrics.max_batch == 12  # all four rooms' takes decoded together
    assert metrics.completed == 4


async def test_a_request_joins_a_batch_already_running(make_queue: Any) -> None:
    queue = await make_queue(max_batch=8)
    long = queue.enqueue(PROMPT, takes(2, 300), room_id=1, user_id=1)
    under_way = asyncio.Event()
    long.on_progress(lambda p: under_way.set() if p.tokens >= 20 else None)
    await under_way.wait()
    short = await queue.submit(PROMPT, takes(2, 10), room_id=2, user_id=2)
    assert [c.tokens for c in short] == [10, 10]
    assert not long.done()  # the short request did not wait for the long one
    assert queue.metrics().max_batch == 4
    assert [c.tokens for c in await long.result()] == [300, 300]


async def test_rooms_take_turns_when_the_batch_is_full(make_queue: Any) -> None:
    queue = await make_queue(max_batch=2, per_user=5)
    finished: list[str] = []

    async def ask(name: str, room: int, tokens: int = 8) -> None:
        await queue.submit(PROMPT, takes(2, tokens), room_id=room, user_id=room)
        finished.append(name)

    # a0 is long enough to be still generating while room 1 queues two more before room 2.
    busy = [asyncio.create_task(ask("a0", room=1, tokens=400))]
    while not queue.engine.active:
        await asyncio.sleep(0.005)
    busy += [asyncio.create_task(ask(f"a{i}", room=1)) for i in (1, 2)]
    await asyncio.sleep(0)
    other = asyncio.create_task(ask("b0", room=2))
    await asyncio.gather(*busy, other)
    assert finished == ["a0", "a1", "b0", "a2"]


async def test_the_queue_tells_a_request_its_place_in_line(make_queue: Any) -> None:
    queue = await make_queue(max_batch=2, per_user=5)
    running = queue.enqueue(PROMPT, takes(2, 40), room_id=1, user_id=1)
    await asyncio.sleep(0.05)
    second = queue.enqueue(PROMPT, takes(2, 5), room_id=1, user_id=1)
    third = queue.enqueue(PROMPT, takes(2, 5), room_id=2, user_id=2)
    seen: list[int] = []
    third.on_progress(lambda p: seen.append(p.position))
    assert (running.position, second.position, third.position) == (0, 1, 2)
    await third.result()
    assert seen[0] == 2 and 1 in seen and seen[-1] == 0


async def test_a_full_queue_refuses_with_a_sentence(make_queue: Any) -> None:
    queue = await make_queue(max_batch=2, max_waiting=1, per_user=5)
    running = queue.enqueue(PROMPT, takes(2, 200), room_id=1, user_id=1)
    await asyncio.sleep(0.05)
    waiting = queue.enqueue(PROMPT, takes(1, 5), room_id=2, user_id=2)
    with pytest.raises(QueueFull) as error:
        queue.enqueue(PROMPT, takes(1, 5), room_id=3, user_id=3)
    assert str(error.value).startswith("The model is busy")
    running.cancel()
    await waiting.result()


async def test_cancelling_frees_the_batch_for_others(make_queue: Any) -> None:
    queue = await make_queue(max_batch=2)
    doomed = queue.enqueue(PROMPT, takes(2, 2000), room_id=1, user_id=1)  # most the context holds
    never = queue.enqueue(PROMPT, takes(1, 5), room_id=2, user_id=2)
    never.cancel()
    with pytest.raises(GenerationCancelled):
        await never.result()

    async def doomed_running() -> None:
        while queue.engine.active < 2:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(doomed_running(), timeout=60)  # a busy machine may take a while
    assert queue.engine.active == 2
    waiting = queue.enqueue(PROMPT, takes(2, 5), room_id=3, user_id=3)
    task = asyncio.create_task(doomed.result())
    await asyncio.sleep(0.05)
    task.cancel()  # the writer gave up waiting: the request goes with the task
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [c.tokens for c in await waiting.result()] == [5, 5]
    assert queue.metrics().running_requests == 0


async def test_a_request_that_waits_too_long_in_line_times_out(make_queue: Any) -> None:
    queue = await make_queue(max_batch=2, per_user=5)
    running = queue.enqueue(PROMPT, takes(2, 1500), room_id=1, user_id=1)
    with pytest.raises(GenerationTimeout) as error:
        await queue.submit(PROMPT, takes(2, 5), room_id=2, user_id=2, timeout_s=0.5)
    assert "too busy to start on this request within 0.5 seconds" in str(error.value)
    assert queue.scheduler.waiting == 0  # it left the line
    running.cancel()
    result = await queue.submit(PROMPT, takes(1, 5))  # the queue carries on
    assert result[0].tokens == 5


async def test_a_request_the_model_has_started_runs_to_its_end_however_slow(
    make_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old limit on the whole request failed takes half-written on a busy 2-core machine.
    queue = await make_queue(max_batch=4)
    step = queue.engine.step

    def slow_step() -> Any:
        time.sleep(0.02)  # a machine busy with other work
        return step()

    monkeypatch.setattr(queue.engine, "step", slow_step)
    result = await queue.submit(PROMPT, takes(2, 40), timeout_s=0.3)  # 40 steps: 0.8 s at least
    assert [c.tokens for c in result] == [40, 40]


async def test_a_request_longer_than_the_model_context_is_refused_alone(
    make_queue: Any, tiny_model: Any
) -> None:
    queue = await make_queue()
    context = tiny_model.config.max_position_embeddings
    budget = context - len(PROMPT) + 1  # one token more than the model can place
    with pytest.raises(RequestTooLong) as error:
        queue.enqueue(PROMPT, [*takes(1, 5), *takes(1, budget)])
    assert str(error.value) == (
        f"This request needs {len(PROMPT)} tokens of context plus up to {budget} new ones, "
        f"more than the model's limit of {context}; ask for shorter takes."
    )
    result = await queue.submit(PROMPT, takes(1, 5))  # the queue carries on
    assert result[0].tokens == 5


async def test_streaming_shows_the_takes_growing(make_queue: Any, tokenizer: Any) -> None:
    queue = await make_queue(progress_every_s=0)
    ticket = queue.enqueue(PROMPT, takes(2, 30, seed=3))
    snapshots: list[Progress] = []
    ticket.on_progress(snapshots.append)
    result = await ticket.result()
    lengths = [p.tokens for p in snapshots]
    assert lengths == sorted(lengths) and len(set(lengths)) > 5
    assert snapshots[-1].done and snapshots[-1].texts == tuple(c.text for c in result)
    assert all(not p.done for p in snapshots[:-1])


async def test_partial_text_comes_first_at_once_then_at_most_so_often(make_queue: Any) -> None:
    queue = await make_queue(progress_every_s=3600)
    ticket = queue.enqueue(PROMPT, takes(2, 30, seed=3))
    snapshots: list[Progress] = []
    ticket.on_progress(snapshots.append)
    await ticket.result()
    partial = [p.tokens for p in snapshots if p.tokens and not p.done]
    assert len(partial) == 1 and partial[0] < 60  # the first tokens, then only the takes
    assert snapshots[-1].done and snapshots[-1].tokens == 60


async def test_the_event_loop_never_waits_for_the_model(make_queue: Any) -> None:
    queue = await make_queue(max_batch=32)
    lateness: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:
        expected = time.perf_counter()
        while not stop.is_set():
            expected += 0.05
            await asyncio.sleep(max(0.0, expected - time.perf_counter()))
            lateness.append(time.perf_counter() - expected)

    ticker = asyncio.create_task(tick())
    long_prompt = PROMPT * 60  # prefills of 300 tokens, the longest single torch calls here
    rounds = 0
    while len(lateness) < 20 and rounds < 10:  # the model busy for a second or more
        rounds += 1
        await asyncio.gather(
            *(queue.submit(long_prompt, takes(4, 100), room_id=r, user_id=r) for r in range(6))
        )
    stop.set()
    await ticker
    assert len(lateness) >= 20
    assert max(lateness) < 0.2


async def test_shutdown_finishes_every_queued_request(make_queue: Any) -> None:
    queue = await make_queue(max_batch=2, per_user=10)
    tickets = [queue.enqueue(PROMPT, takes(2, 10), room_id=r, user_id=r) for r in range(4)]
    await queue.close()
    assert all(t.done() for t in tickets)
    assert [len(await t.result()) for t in tickets] == [2, 2, 2, 2]
    with pytest.raises(QueueClosed):
        queue.enqueue(PROMPT, takes(1, 5))


def test_a_take_ends_where_the_model_closes_its_turn_or_opens_another(
    tiny_model: Any, tokenizer: Any
) -> None:
    stops = set(stop_tokens(tiny_model, tokenizer))
    # A small model sometimes skips <|im_end|> and starts the next turn itself
    # ("<|im_start|>user ..."); that text is not part of the take.
    assert {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|im_start|>")} <= stops
    assert tokenizer.convert_tokens_to_ids("user") not in stops


def test_loading_off_thread_hands_back_the_result_or_the_error() -> None:
    seen: list[threading.Thread] = []

    def load() -> str:
        seen.append(threading.current_thread())
        return "model"

    assert in_passing_thread(load) == "model"
    # It ran on a thread of its own, which has ended (taking its OpenMP team with it).
    assert seen[0] is not threading.current_thread() and not seen[0].is_alive()
    with pytest.raises(FileNotFoundError, match="no such model"):
        in_passing_thread(lambda: (_ for _ in ()).throw(FileNotFoundError("no such model")))
