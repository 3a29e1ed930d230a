"""The engines on a tiny random Llama: joining or leaving mid-batch changes nothing a sequence
would produce alone, and each sequence keeps its own sampling settings. Every test runs on the
Hugging Face engine, the slot engine (reading each row's columns in one pass, and reading each
shared prompt once: `model.cascade`), and the slot engine in its CUDA-graph discipline (padded
rows, bucketed width, preallocated buffers, warm-up before the first replay) run eagerly."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import torch

from model.batch import BatchEngine, PromptGroup, TokenEvent
from model.engine import Engine
from model.fastpath import room_for
from model.slots import SlotEngine
from model.tasks import Sampling
from tests.model.test_repeats import dry_by_hand

MakeEngine = Callable[..., BatchEngine]


@pytest.fixture(
    params=["hugging-face", "slots", "slots-shared-prompts", "slots-graph-shapes"],
)
def make(request: pytest.FixtureRequest) -> MakeEngine:
    if request.param == "hugging-face":
        return Engine
    if request.param == "slots-shared-prompts":  # every eager step reads each prompt once
        return partial(SlotEngine, graphs=False, shared_prompts="on")
    return partial(SlotEngine, graphs=request.param == "slots-graph-shapes", shared_prompts="off")


GREEDY = Sampling(temperature=0.0, repetition_penalty=1.0, max_new_tokens=12)


def collect(events: list[TokenEvent], into: dict[int, list[int]]) -> None:
    for event in events:
        if event.token_id is not None:
            into.setdefault(event.seq_id, []).append(event.token_id)


def reference(model: Any, prompt: list[int], sampling: Sampling) -> list[int]:
    """Hugging Face's greedy `generate`, with DRY (if `sampling` has it) by hand."""
    from transformers import LogitsProcessorList

    def dry(ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        take = ids[0, len(prompt) :].tolist()
        settings = (sampling.dry_multiplier, sampling.dry_base, sampling.dry_allowed_length)
        by_hand = dry_by_hand(take, *settings, breakers=(), inside=(), stops=())
        for token, amount in by_hand.items():
            scores[0, token] -= amount
        return scores

    out = model.generate(
        torch.tensor([prompt], device=model.device),
        max_new_tokens=sampling.max_new_tokens,
        do_sample=False,
        repetition_penalty=sampling.repetition_penalty,
        pad_token_id=0,
        eos_token_id=None,
        logits_processor=LogitsProcessorList([dry] if sampling.dry_multiplier else []),
    )
    return list(out[0, len(prompt) :].tolist())


@pytest.mark.parametrize("vocabulary", ["small", "tokenizer"])
def test_sequences_joining_or_leaving_a_running_batch_decode_as_if_alone(
    tiny_model: Any, small_vocab_model: Any, make: MakeEngine, vocabulary: str
) -> None:
    model = small_vocab_model if vocabulary == "small" else tiny_model
    prompts = [[5, 17, 300, 41], [400, 12, 33, 44, 55, 66, 77, 88, 99], [7], [60, 61, 62]]
    # A strong penalty makes the random model's greedy output vary (it repeats a token without).
    penalised = Sampling(temperature=0.0, repetition_penalty=50.0, max_new_tokens=12)
    settings = [penalised, penalised, GREEDY, penalised]
    engine = make(model, stop_token_ids=(), max_batch=8)
    got: dict[int, list[int]] = {}
    collect(engine.add([PromptGroup(tuple(prompts[0]), (0,), (settings[0],))]), got)
    for _ in range(4):
        collect(engine.step(), got)
    joining = [PromptGroup(tuple(prompts[i]), (i,), (settings[i],)) for i in (1, 2, 3)]
    collect(engine.add(joining), got)
    assert engine.active == 4
    for _ in range(2):
        collect(engine.step(), got)
    engine.drop([1])  # a cancelled request leaves from the middle of the batch
    assert engine.active == 3
    while engine.active:
        collect(engine.step(), got)
    for i, prompt in enumerate(prompts):
        want = reference(model, prompt, settings[i])
        assert got[i] == (want[:3] if i == 1 else want), f"sequence {i}"
    assert len(set(got[0])) > 3 and len(set(got[3])) > 3


def test_dry_turns_a_looping_take_aside_as_generate_with_dry_by_hand_does(
    small_vocab_model: Any, make: MakeEngine
) -> None:
    # Greedy, the random model goes round a few tokens; DRY (on two of three rows, one joining
    # mid-batch) makes it write something else, as the rule applied by hand to `generate` does.
    dry = Sampling(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24, dry_multiplier=2.0)
    plain = dataclasses.replace(dry, dry_multiplier=0.0)
    prompts = [[100], [7], [60, 61, 62]]  # greedy: 292 399 292 399 ..., 425 425 ..., 135 135 ...
    settings = [dry, plain, dry]
    engine = make(small_vocab_model, stop_token_ids=(), max_batch=4)
    got: dict[int, list[int]] = {}
    collect(engine.add([PromptGroup(tuple(prompts[0]), (0,), (settings[0],))]), got)
    for _ in range(5):
        collect(engine.step(), got)
    joining = [PromptGroup(tuple(prompts[i]), (i,), (settings[i],)) for i in (1, 2)]
    collect(engine.add(joining), got)
    while engine.active:
        collect(engine.step(), got)
    for i, prompt in enumerate(prompts):
        assert got[i] == reference(small_vocab_model, prompt, settings[i]), f"sequence {i}"
    for i in (0, 2):
        assert got[i] != reference(small_vocab_model, prompts[i], plain), f"sequence {i}"


def test_takes_of_one_prompt_share_it_but_sample_on_their_own(
    tiny_model: Any, make: MakeEngine
) -> None:
    hot = Sampling(temperature=1.5, top_k=0, top_p=1.0, max_new_tokens=10)
    engine = make(tiny_model, stop_token_ids=(), max_batch=8)
    got: dict[int, list[int]] = {}
    seeded = tuple(
        Sampling(temperature=1.5, top_k=0, top_p=1.0, max_new_tokens=10, seed=s) for s in (1, 2)
    )
    collect(engine.add([PromptGroup((3, 4, 5), (0, 1, 2, 3), (GREEDY, *seeded, hot))]), got)
    while engine.active:
        collect(engine.step(), got)
    assert len(got[0]) == GREEDY.max_new_tokens and len(got[1]) == 10
    assert got[1] != got[2]  # different seeds, different takes

    # The same seed reproduces its take even when it runs alone.
    alone = make(tiny_model, stop_token_ids=(), max_batch=8)
    again: dict[int, list[int]] = {}
    collect(alone.add([PromptGroup((3, 4, 5), (9,), (seeded[0],))]), again)
    while alone.active:
        collect(alone.step(), again)
    assert again[9] == got[1]


def test_stop_tokens_and_budgets_end_sequences_one_by_one(
    tiny_model: Any, make: MakeEngine
) -> None:
    engine = make(tiny_model, stop_token_ids=(), max_batch=8)
    first = reference(tiny_model, [11, 12], GREEDY)
    stopper = make(tiny_model, stop_token_ids=(first[3],), max_batch=8)
    events: dict[int, list[int]] = {}
    collect(stopper.add([PromptGroup((11, 12), (0,), (GREEDY,))]), events)
    while stopper.active:
        collect(stopper.step(), events)
    # The stop token is not part of the take, and nothing after it is generated.
    assert events.get(0, []) == first[: first.index(first[3])]

    short = Sampling(temperature=0.0, max_new_tokens=2)
    collect(engine.add([PromptGroup((1, 2), (0, 1), (short, GREEDY))]), events := {})
    collect(engine.step(), events)
    assert engine.active == 1  # the short one left, its cache rows with it
    while engine.active:
        collect(engine.step(), events)
    assert len(events[0]) == 2 and len(events[1]) == GREEDY.max_new_tokens


def test_unpenalised_tokens_may_repeat_under_a_repetition_penalty(
    tiny_model: Any, make: MakeEngine
) -> None:
    def run(prompt: tuple[int, ...], sampling: Sampling, spared: frozenset[int]) -> list[int]:
        engine = make(tiny_model, stop_token_ids=(), max_batch=4)
        got: dict[int, list[int]] = {}
        collect(engine.add([PromptGroup(prompt, (0,), (sampling,), spared)]), got)
        while engine.active:
            collect(engine.step(), got)
        return got[0]

    prompt = (5, 17, 300, 41)
    free = run(prompt, GREEDY, frozenset())
    harsh = Sampling(temperature=0.0, repetition_penalty=1e6, max_new_tokens=12)
    penalised = run(prompt, harsh, frozenset())
    # The penalty bans every token seen in the prompt or the take ...
    assert not set(penalised) & set(prompt) and len(set(penalised)) == len(penalised)
    assert penalised != free
    # ... except the spared ones (a cast's names): sparing all it would say undoes it.
    assert run(prompt, harsh, frozenset(free) | frozenset(prompt)) == free


@pytest.mark.slow
@pytest.mark.parametrize("discipline", ["graph-shapes", "shared-prompts"])
def test_the_real_model_decodes_in_the_slot_engine_as_generate_does(discipline: str) -> None:
    """The shipped model in float32 (where the lean forward matches Hugging Face's to rounding):
    a request joining an idle engine, and another joining it mid-way, decode greedily exactly as
    `generate` does — in the captured step's shapes, and with each request's two takes reading
    their prompt once (`model.cascade`)."""
    from model.loading import ModelSettings, load_model

    loaded = load_model(ModelSettings(dtype="float32", device="cpu"))
    tokenizer, model = loaded.tokenizer, loaded.model
    prompts = [
        tokenizer("INT. DINER - NIGHT\n\nMARA wipes the counter.", add_special_tokens=False),
        tokenizer("TOM\nI need a ride out of town.\n\nMARA\n", add_special_tokens=False),
    ]
    ids = [list(p["input_ids"]) for p in prompts]
    greedy = Sampling(temperature=0.0, repetition_penalty=1.0, max_new_tokens=24)
    if discipline == "graph-shapes":
        engine = SlotEngine(model, stop_token_ids=(), max_batch=4, graphs=True)
        takes = 1
    else:
        engine = SlotEngine(model, stop_token_ids=(), max_batch=4, shared_prompts="on")
        takes = 2
    got: dict[int, list[int]] = {}
    first = tuple(range(takes))
    collect(engine.add([PromptGroup(tuple(ids[0]), first, (greedy,) * takes)]), got)
    for _ in range(5):
        collect(engine.step(), got)
    second = tuple(range(takes, 2 * takes))
    collect(engine.add([PromptGroup(tuple(ids[1]), second, (greedy,) * takes)]), got)
    while engine.active:
        collect(engine.step(), got)
    for seq in range(2 * takes):
        want = reference(model, ids[seq // takes], greedy)
        assert got[seq] == want, tokenizer.decode(got[seq])


def test_prompts_prefilled_in_several_passes_grow_the_cache_once(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Grown pass by pass, the cache would hold each smaller buffer beside the next, past the
    memory its budget allowed for: it is made room for once, for every group."""
    import model.slots as slots

    monkeypatch.setattr(slots, "_PREFILL_TOKENS", 8)  # each prompt a pass of its own
    # The cache that grows (a CPU's; with CUDA graphs a GPU's is allocated up front).
    engine = SlotEngine(tiny_model, stop_token_ids=(), max_batch=8, graphs=False)
    shapes: list[tuple[int, int]] = []
    grow = engine._grow
    monkeypatch.setattr(engine, "_grow", lambda r, c: (shapes.append((r, c)), grow(r, c)))
    groups = [
        PromptGroup(tuple(range(5, 5 + n)), (i, i + 10), (Sampling(max_new_tokens=20),) * 2)
        for i, n in enumerate((6, 9, 12))
    ]
    engine.add(groups)
    assert len(shapes) == 1 and shapes[0][0] >= 6 and shapes[0][1] >= 12 + 20
    assert engine.active == 6


def test_an_idle_engine_holds_what_its_takes_need_and_a_busy_one_grows_by_half(
    tiny_model: Any,
) -> None:
    """Keys and values are most of a busy room's memory: a burst of requests that finds the
    engine idle gets a cache of the columns its longest prompt and budget need, no more; a
    request that joins running takes grows it by half again, so that joins copy it seldom.
    (With CUDA graphs a GPU's cache is allocated once, up front, for the captured steps.)"""
    engine = SlotEngine(tiny_model, stop_token_ids=(), max_batch=8, graphs=False)
    first = PromptGroup(tuple(range(5, 17)), (1, 2), (Sampling(max_new_tokens=20),) * 2)
    engine.add([first])
    assert engine.cache.columns == 12 + 20
    longer = PromptGroup(tuple(range(5, 45)), (3,), (Sampling(max_new_tokens=20),))
    engine.add([longer])
    assert engine.cache.columns == room_for(40 + 20) > 40 + 20
    engine.drop([1, 2, 3])
    assert engine.cache.rows * engine.cache.columns == 1  # idle: handed back


def test_the_default_budget_is_a_quarter_of_a_containers_limit(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import model.slots as slots

    limit = tmp_path / "memory.max"
    limit.write_text("4294967296\n")  # a 4 GB container on a bigger host
    monkeypatch.setattr(slots, "_CGROUP_LIMITS", (str(limit),))
    assert slots._default_kv_cache_mb() == 1024
    limit.write_text("max\n")  # no limit: the machine's memory
    assert slots._default_kv_cache_mb() >= 256


@pytest.mark.parametrize("quantize", ["off", "int8"])
def test_decoded_logprobs_are_the_models_own_teacher_forced(
    tiny_model: Any, quantize: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`slots.decoded_logprobs` (the decode-step perplexity of `bench.quant_quality`) gives, for
    each answer token read by a decode step of its own, the log-probability the Hugging Face
    model gives it reading prompt and answer at once: to float32's rounding over a float32
    cache, to float16's over the bot's cache, to int8's with the bot's products."""
    from model.fastpath import FastLlama
    from model.slots import decoded_logprobs

    monkeypatch.setenv("WRITERS_ROOM_QUANTIZE", quantize)
    prompt, answer = list(range(40, 71)), [5, 900, 17, 17, 300, 2, 41, 8]
    with torch.inference_mode():
        logits = tiny_model(torch.tensor([prompt + answer])).logits[0].float()
    expected = torch.log_softmax(logits, -1)[len(prompt) - 1 : -1].gather(
        1, torch.tensor(answer)[:, None]
    )[:, 0]
    tolerance = {"off": 1e-4, "int8": 3e-2}[quantize]
    for kv_cache in ("model", "float16"):
        fast = FastLlama(tiny_model, kv_cache=kv_cache)
        got = torch.tensor(decoded_logprobs(fast, prompt, answer))
        torch.testing.assert_close(
            got, expected, rtol=0, atol=tolerance if kv_cache == "model" else 3e-2
        )
