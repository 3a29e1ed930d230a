"""Failures in the generation worker stay with the requests they touched: an error of the model
fails those requests with a sentence and the queue serves on; running out of memory runs fewer
takes at once instead of failing any, unless one take alone does not fit. Tiny random Llama."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import torch

from model import fastpath
from model.errors import BackendError, OutOfMemory
from model.queue import GenerationQueue, QueueSettings
from model.tasks import Completion, Sampling

PROMPT = (1, 504, 2981, 30, 77)
OTHER = (1, 77, 30, 2981, 504, 9)
LONG = PROMPT * 12


def takes(n: int, tokens: int, seed: int) -> list[Sampling]:
    return [Sampling(max_new_tokens=tokens, seed=seed + i) for i in range(n)]


@pytest.fixture(params=["slots", "hugging-face"])
async def queue(
    request: pytest.FixtureRequest,
    tiny_model: Any,
    tokenizer: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[GenerationQueue]:
    monkeypatch.setenv(fastpath.ENV_SWITCH, "1" if request.param == "slots" else "0")
    queue = GenerationQueue(
        tiny_model, tokenizer, QueueSettings(max_batch=8, per_user=8), stop_token_ids=()
    )
    await queue.start()
    yield queue
    await queue.close()


def wrap_forward(
    queue: GenerationQueue, monkeypatch: pytest.MonkeyPatch, before: Callable[[torch.Tensor], None]
) -> None:
    """Call `before(input ids)` ahead of every forward pass of the queue's engine (the lean
    forward of the slot engine, the model's own for the Hugging Face engine)."""
    owner = getattr(queue.engine, "fast", queue.engine.model)
    forward = owner.forward

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        before(kwargs["input_ids"] if "input_ids" in kwargs else args[0])
        return forward(*args, **kwargs)

    monkeypatch.setattr(owner, "forward", wrapped)


def texts(completions: list[Completion]) -> list[str]:
    return [c.text for c in completions]


async def test_an_error_in_a_prefill_fails_that_request_alone(
    queue: GenerationQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = await queue.submit(PROMPT, takes(2, 80, seed=1), room_id=1, user_id=1)
    broken = [True]

    def fail_once_on_other(ids: torch.Tensor) -> None:
        if broken[0] and ids.shape[1] > 1 and OTHER[1] in ids[:, 1].tolist():
            broken[0] = False
            raise RuntimeError("the model broke on this prompt")

    wrap_forward(queue, monkeypatch, fail_once_on_other)
    running = queue.enqueue(PROMPT, takes(2, 80, seed=1), room_id=1, user_id=1)
    while not queue.engine.active:
        await asyncio.sleep(0.005)
    with pytest.raises(BackendError) as error:
        await queue.submit(OTHER, takes(2, 10, seed=5), room_id=2, user_id=2)
    assert str(error.value) == (
        "The model failed while writing; the error is in the bot's log. Please try again."
    )
    assert texts(await running.result()) == texts(alone)  # started again, the same takes
    after = await queue.submit(OTHER, takes(2, 10, seed=5), room_id=2, user_id=2)
    assert [c.tokens for c in after] == [10, 10]


async def test_an_error_in_a_decode_step_fails_the_running_requests_then_serves_on(
    queue: GenerationQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = [0]

    def fail_on_the_fifth_step(ids: torch.Tensor) -> None:
        if ids.shape[1] == 1:
            steps[0] += 1
            if steps[0] == 5:
                raise RuntimeError("CUDA error: an illegal memory access was encountered")

    wrap_forward(queue, monkeypatch, fail_on_the_fifth_step)
    with pytest.raises(BackendError, match="The model failed while writing"):
        await queue.submit(PROMPT, takes(2, 20, seed=1), room_id=1, user_id=1)
    result = await queue.submit(PROMPT, takes(2, 20, seed=1), room_id=1, user_id=1)
    assert [c.tokens for c in result] == [20, 20]
    assert queue.metrics().completed == 1


async def test_out_of_memory_runs_fewer_takes_at_once_and_fails_none(
    queue: GenerationQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    asks = [(PROMPT, takes(2, 30, seed=1)), (OTHER, takes(2, 30, seed=7))]
    unpressed = [await queue.submit(p, s, room_id=i, user_id=i) for i, (p, s) in enumerate(asks)]
    refused: list[int] = []
    decoded: list[int] = []

    def two_rows_fit(ids: torch.Tensor) -> None:
        if ids.shape[0] > 2:
            refused.append(ids.shape[0])
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if ids.shape[1] == 1:
            decoded.append(ids.shape[0])

    wrap_forward(queue, monkeypatch, two_rows_fit)
    pressed = await asyncio.gather(
        *(queue.submit(p, s, room_id=i, user_id=i) for i, (p, s) in enumerate(asks))
    )
    assert refused  # four rows were tried once ...
    assert max(decoded) == 2  # ... then never more than two at a time
    assert [texts(r) for r in pressed] == [texts(r) for r in unpressed]  # the same takes
    assert all(c.tokens == 30 for r in pressed for c in r)


async def test_takes_past_the_key_value_budget_wait_their_turn_and_none_fails(
    tiny_model: Any, tokenizer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a CPU the kernel ends a process that runs out of memory; the slot engine's cache
    stays within its budget instead: takes past it wait for rows to finish, the same takes
    come out, and an idle engine hands its buffers back."""
    monkeypatch.setenv(fastpath.ENV_SWITCH, "1")
    queue = GenerationQueue(
        tiny_model, tokenizer, QueueSettings(max_batch=8, per_user=8), stop_token_ids=()
    )
    await queue.start()
    try:
        asks = [(PROMPT, takes(2, 30, seed=1)), (OTHER, takes(2, 30, seed=7))]
        unpressed = [
            await queue.submit(p, s, room_id=i, user_id=i) for i, (p, s) in enumerate(asks)
        ]
        engine = queue.engine
        assert engine.cache.rows * engine.cache.columns == 1  # idle: nothing held
        # Two rows of these prompts and budgets (and the cache they grow from) fit; four not.
        engine.kv_budget = engine.column_bytes * 100
        assert engine.fits(2, len(OTHER) + 30) and not engine.fits(4, len(OTHER) + 30)
        decoded: list[int] = []

        def count(ids: torch.Tensor) -> None:
            if ids.shape[1] == 1:
                decoded.append(ids.shape[0])

        wrap_forward(queue, monkeypatch, count)
        pressed = await asyncio.gather(
            *(queue.submit(p, s, room_id=i, user_id=i) for i, (p, s) in enumerate(asks))
        )
        assert max(decoded) == 2
        assert [texts(r) for r in pressed] == [texts(r) for r in unpressed]
        assert engine.cache.rows * engine.cache.columns == 1
    finally:
        await queue.close()


async def test_a_take_that_does_not_fit_alone_fails_with_a_sentence_and_others_go_on(
    queue: GenerationQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    def long_prompts_never_fit(ids: torch.Tensor) -> None:
        if ids.shape[1] >= len(LONG):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    wrap_forward(queue, monkeypatch, long_prompts_never_fit)
    with pytest.raises(OutOfMemory) as error:
        await queue.submit(LONG, takes(2, 10, seed=1), room_id=1, user_id=1)
    assert str(error.value) == (
        "The model ran out of memory on this request even with nothing else running; "
        "ask for shorter takes or a shorter context."
    )
    result = await queue.submit(PROMPT, takes(4, 10, seed=1), room_id=2, user_id=2)
    assert [c.tokens for c in result] == [10, 10, 10, 10]
