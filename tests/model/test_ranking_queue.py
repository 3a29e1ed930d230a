"""Best of N on the queue: the log-probabilities the engines record as they draw, the scoring
job the worker runs, and the generator over both (tiny random models; the shipped model in one
slow test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from model import fastpath, relevance
from model.errors import BackendError
from model.generator import (
    GenerationSettings,
    Generator,
    LocalBackend,
    chat_prompt_ids,
    open_generator,
)
from model.loading import SHIPPED_ADAPTER, ModelSettings
from model.prompts import build_messages
from model.queue import GenerationQueue, QueueSettings
from model.ranking import context_free
from model.tasks import (
    CharacterSheet,
    Progress,
    PromptContext,
    Sampling,
    TaskKind,
    TaskRequest,
)
from model.worker import (
    ABANDONED,
    HOPELESS_EVERY,
    HOPELESS_READS,
    STOPPED,
    Enough,
    decode_whole,
)

PROMPT = (1, 504, 281, 30, 77, 12)


@pytest.fixture(params=["slots", "hf"])
async def small_queue(
    request: pytest.FixtureRequest,
    small_vocab_model: Any,
    tokenizer: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[GenerationQueue]:
    monkeypatch.setenv(fastpath.ENV_SWITCH, "1" if request.param == "slots" else "0")
    queue = GenerationQueue(small_vocab_model, tokenizer, QueueSettings(), stop_token_ids=())
    await queue.start()
    yield queue
    await queue.close()


async def test_the_drawn_takes_carry_what_a_scoring_pass_computes(
    small_queue: GenerationQueue, small_vocab_model: Any
) -> None:
    # Temperature and the penalty shape the draw, not the figure: the raw model's log p.
    sampling = [Sampling(max_new_tokens=9 + i, temperature=1.3, seed=i) for i in range(3)]
    takes = await small_queue.submit(PROMPT, sampling)
    assert [len(t.token_ids) for t in takes] == [9, 10, 11]
    drawn = [t.logprob for t in takes]
    scored = await small_queue.score([PROMPT] * 3, [t.token_ids for t in takes])
    assert scored == pytest.approx(drawn, abs=1e-3)
    by_hf = relevance.take_logprobs(
        small_vocab_model, None, [PROMPT] * 3, [t.token_ids for t in takes]
    )
    assert scored == pytest.approx(by_hf, abs=1e-3)
    assert all(x < 0 for x in drawn) and len(set(drawn)) == 3


async def test_a_scoring_job_does_not_wait_for_a_running_request(
    small_queue: GenerationQueue,
) -> None:
    long = small_queue.enqueue(PROMPT, [Sampling(max_new_tokens=200, seed=1)])
    (score,) = await small_queue.score([PROMPT], [(5, 6, 7)])
    assert score < 0 and not long.done()  # scored between two of the long request's steps
    await long.result()


# --- extras that ride along (`model.worker.Enough`) -------------------------------------------


def every_take(text: str) -> bool:
    return True


async def serves_on(queue: GenerationQueue) -> None:
    """A request after the one tested runs, and the queue is empty after that."""
    (after,) = await queue.submit(PROMPT, [Sampling(max_new_tokens=3, seed=3)])
    assert len(after.token_ids) == 3
    assert queue.worker.engine.active == 0


async def test_extras_stop_once_the_takes_asked_for_are_written(
    small_queue: GenerationQueue,
) -> None:
    sampling = [Sampling(max_new_tokens=4, seed=1), Sampling(max_new_tokens=400, seed=2)]
    takes = await small_queue.enqueue(PROMPT, sampling, enough=Enough(1, every_take)).result()
    assert [t.finish for t in takes] == ["length", STOPPED]
    assert len(takes[0].token_ids) == 4
    assert 0 < len(takes[1].token_ids) < 400  # stopped where it stood, its tokens so far kept
    await serves_on(small_queue)  # its rows were freed


async def test_an_extra_finished_first_does_not_end_the_wait_for_the_takes_asked_for(
    small_queue: GenerationQueue,
) -> None:
    sampling = [Sampling(max_new_tokens=30, seed=1), Sampling(max_new_tokens=2, seed=2)]
    takes = await small_queue.enqueue(PROMPT, sampling, enough=Enough(1, every_take)).result()
    assert [(t.finish, len(t.token_ids)) for t in takes] == [("length", 30), ("length", 2)]


async def test_an_unusable_take_keeps_the_extras_going_until_enough_are_usable(
    small_queue: GenerationQueue,
) -> None:
    verdicts: list[str] = []

    def after_the_first(text: str) -> bool:  # the first take written is unusable
        verdicts.append(text)
        return len(verdicts) > 1

    sampling = [Sampling(max_new_tokens=n, seed=n) for n in (3, 12, 300)]
    takes = await small_queue.enqueue(PROMPT, sampling, enough=Enough(1, after_the_first)).result()
    assert [t.finish for t in takes] == ["length", "length", STOPPED]
    assert len(takes[1].token_ids) == 12 and len(takes[2].token_ids) < 300
    assert len(verdicts) == 2  # each finished take judged once


async def test_with_no_usable_take_every_take_is_written_to_its_end(
    small_queue: GenerationQueue,
) -> None:
    sampling = [Sampling(max_new_tokens=n, seed=n) for n in (2, 25)]
    takes = await small_queue.enqueue(
        PROMPT, sampling, enough=Enough(1, lambda text: False)
    ).result()
    assert [(t.finish, len(t.token_ids)) for t in takes] == [("length", 2), ("length", 25)]


async def test_a_hopeless_take_is_given_up_where_it_stands_and_its_row_freed(
    small_queue: GenerationQueue,
) -> None:
    read: list[str] = []

    def loops(text: str) -> bool:
        read.append(text)
        return True

    sampling = [Sampling(max_new_tokens=100, seed=1), Sampling(max_new_tokens=200, seed=2)]
    takes = await small_queue.enqueue(
        PROMPT, sampling, enough=Enough(1, every_take, loops)
    ).result()
    assert [(t.finish, len(t.token_ids)) for t in takes] == [(ABANDONED, HOPELESS_EVERY)] * 2
    assert len(read) == 2  # read once each, at its HOPELESS_EVERY-th token
    assert small_queue.worker.engine.active == 0


async def test_a_take_being_written_is_read_every_few_tokens_and_goes_on_when_not_hopeless(
    small_queue: GenerationQueue,
) -> None:
    read: list[str] = []

    def never(text: str) -> bool:
        read.append(text)
        return False

    sampling = [Sampling(max_new_tokens=410, seed=1)]
    enough = Enough(1, every_take, never)
    (take,) = await small_queue.enqueue(PROMPT, sampling, enough=enough).result()
    assert (take.finish, len(take.token_ids)) == ("length", 410)
    assert len(read) == 410 // HOPELESS_EVERY
    # Each time its latest HOPELESS_READS tokens: a long take costs no more to read.
    last = 410 // HOPELESS_EVERY * HOPELESS_EVERY
    latest = list(take.token_ids[last - HOPELESS_READS : last])
    assert read[-1] == decode_whole(small_queue.tokenizer, latest)


async def test_a_whole_answer_ends_at_the_line_break_that_completes_it(
    small_queue: GenerationQueue,
) -> None:
    """`Enough.ended` reads a take's whole text at each token that ends a line, and a take it
    finds whole ends there, finished as if the model had ended it, its row freed."""
    tokenizer = small_queue.tokenizer
    read: list[str] = []

    def second_line(text: str) -> bool:
        read.append(text)
        return text.count("\n") >= 2

    sampling = [Sampling(max_new_tokens=600, seed=seed) for seed in (1, 2, 3)]
    enough = Enough(3, every_take, ended=second_line)
    takes = await small_queue.enqueue(PROMPT, sampling, enough=enough).result()
    line_ends = 0
    for take in takes:
        ids = list(take.token_ids)
        text = decode_whole(tokenizer, ids)
        if take.finish == "stop":  # ended at the token that wrote its second line break
            assert text.count("\n") >= 2 and decode_whole(tokenizer, ids[:-1]).count("\n") < 2
        else:
            assert take.finish == "length" and text.count("\n") < 2
            ids = ids[:-1]  # its last token ended it before any reading
        line_ends += sum("\n" in tokenizer.decode([i]) for i in ids)
    assert [t.finish for t in takes].count("stop") >= 2
    # Read once at each token holding a line break, and only there, the take's whole text.
    assert len(read) == line_ends
    assert all(text.count("\n") >= 1 for text in read)
    assert small_queue.worker.engine.active == 0


async def test_a_take_that_cannot_be_read_fails_its_request_alone(
    small_queue: GenerationQueue,
) -> None:
    read: list[str] = []

    def gives_up_then_fails(text: str) -> bool:  # both takes are read at their 16th token
        read.append(text)
        if len(read) == 1:
            return True
        raise RuntimeError("unreadable")

    sampling = [Sampling(max_new_tokens=50, seed=1), Sampling(max_new_tokens=50, seed=2)]
    ticket = small_queue.enqueue(
        PROMPT, sampling, enough=Enough(1, every_take, gives_up_then_fails)
    )
    with pytest.raises(BackendError, match="failed while writing"):
        await ticket.result()
    await serves_on(small_queue)


async def test_a_request_cannot_need_more_takes_than_it_asks_for(
    small_queue: GenerationQueue,
) -> None:
    with pytest.raises(ValueError, match="more takes than it asks for"):
        small_queue.enqueue(PROMPT, [Sampling(seed=1)], enough=Enough(2, every_take))
    with pytest.raises(ValueError, match="1 take or more"):
        Enough(0, every_take)


@pytest.fixture
async def tiny_generator(tiny_model: Any, tokenizer: Any) -> AsyncIterator[Generator]:
    queue = GenerationQueue(tiny_model, tokenizer, QueueSettings(), stop_token_ids=())
    await queue.start()
    generator = Generator(LocalBackend(queue, "tiny-llama"), best_of=3)
    yield generator
    await generator.close()


async def test_n_takes_shown_of_k_drawn_the_same_for_the_same_seed(
    tiny_generator: Generator,
) -> None:
    request = TaskRequest(TaskKind.BEAT, "a twist", context=PromptContext(title="Night Shift"))
    heard: list[Progress] = []
    first = await tiny_generator.generate(
        request, 2, Sampling(max_new_tokens=12, seed=3), on_progress=heard.append
    )
    again = await tiny_generator.generate(request, 2, Sampling(max_new_tokens=12, seed=3))
    assert len(first) == 2 and [t.text for t in first] == [t.text for t in again]
    assert heard[-1].done and len(heard[-1].texts) == 6  # every candidate was drawn at once
    assert {t.text for t in first} <= set(heard[-1].texts)
    queue: GenerationQueue = tiny_generator.backend.queue  # type: ignore[attr-defined]
    assert queue.metrics().completed == 2  # one request each: no second round


@pytest.mark.slow
async def test_the_shipped_model_finds_takes_about_the_scene_more_relevant() -> None:
    """PMI on the model the bot runs: takes that name the scene's characters and place gain
    more from the room's context than generic takes do."""
    settings = GenerationSettings(
        model=ModelSettings(adapter=str(SHIPPED_ADAPTER)), queue=QueueSettings(timeout_s=1800)
    )
    generator = await open_generator(settings)
    try:
        backend = generator.backend
        assert isinstance(backend, LocalBackend)
        context = PromptContext(
            title="Night Shift",
            logline="A diner cook hides a fugitive from the harbour police.",
            characters=(
                CharacterSheet("MARA", role="diner cook", personality="dry, impatient"),
                CharacterSheet("TOM", role="fugitive", personality="nervous, charming"),
            ),
            scene_heading="INT. HARBOUR DINER - NIGHT",
        )
        request = TaskRequest(TaskKind.DIALOGUE, "A late visitor at closing time.", (), context)
        about = [
            "MARA\nWe're closed, Tom.\n\nTOM\nThe police are at the harbour. Hide me.",
            "TOM\nMara, the cops are outside the diner.\n\nMARA\nThen get in the kitchen.",
        ]
        generic = [
            "JOHN\nHello.\n\nSARAH\nHi. How are you?\n\nJOHN\nFine, thanks.",
            "MAN\nI have to go.\n\nWOMAN\nWhy?\n\nMAN\nI just do.",
        ]
        tokenizer = backend.queue.tokenizer
        texts = about + generic
        takes = [tuple(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        full = chat_prompt_ids(tokenizer, build_messages(request))
        bare = chat_prompt_ids(tokenizer, build_messages(context_free(request)))
        with_context = await backend.queue.score([full] * 4, takes)
        without = await backend.queue.score([bare] * 4, takes)
    finally:
        await generator.close()
    pmi = [a - b for a, b in zip(with_context, without, strict=True)]
    assert min(pmi[:2]) > max(pmi[2:]), pmi
