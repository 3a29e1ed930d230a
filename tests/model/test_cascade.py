"""Cascade attention (`model.cascade`): reading a shared prompt once per group of rows gives
the attention that reading every row's copy gives, and is chosen only where it reads less."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import torch
from torch.nn import functional as F

from model import cascade, kernels
from model.batch import PromptGroup, TokenEvent
from model.slots import SlotEngine
from model.tasks import Sampling

KV, PER, DIM = 3, 3, 16  # SmolLM2's grouping: three query heads to a key/value head


def rows_with_prompts(
    prompts: list[tuple[int, int]], lengths: list[int], columns: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Key/value buffers whose rows of one prompt id hold the same first columns."""
    generator = torch.Generator().manual_seed(7)
    n = len(prompts)
    keys = torch.randn(n, KV, columns, DIM, generator=generator).to(dtype)
    values = torch.randn(n, KV, columns, DIM, generator=generator).to(dtype)
    first: dict[int, int] = {}
    for row, (prompt, shared) in enumerate(prompts):
        source = first.setdefault(prompt, row)
        keys[row, :, :shared] = keys[source, :, :shared]
        values[row, :, :shared] = values[source, :, :shared]
    return keys, values


def plain(
    keys: torch.Tensor, values: torch.Tensor, q: torch.Tensor, lengths: list[int], width: int
) -> torch.Tensor:
    """Every row's own columns up to its length, in one pass (the step without a cascade)."""
    allowed = torch.arange(width)[None, :] <= torch.tensor(lengths)[:, None]
    mask = torch.zeros(allowed.shape, dtype=q.dtype).masked_fill_(~allowed, float("-inf"))
    n = q.shape[0]
    return F.scaled_dot_product_attention(
        q, keys[:n, :, :width], values[:n, :, :width], attn_mask=mask[:, None, None], scale=0.25
    )


@pytest.mark.parametrize(
    ("prompts", "lengths"),
    [
        # Three takes of one request, in step (the aligned step: no mask).
        ([(1, 40)] * 3, [52, 52, 52]),
        # Two requests whose rows interleave (a leaving row was replaced by the last), a third
        # alone, prompts of different lengths, takes at different lengths.
        ([(1, 40), (2, 25), (1, 40), (3, 9), (2, 25), (1, 40)], [41, 30, 60, 9, 26, 47]),
        # A row on its first step after the prompt: its own columns are the new one alone.
        ([(5, 30), (5, 30)], [30, 35]),
    ],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_reading_a_shared_prompt_once_attends_as_reading_every_copy(
    prompts: list[tuple[int, int]], lengths: list[int], dtype: torch.dtype
) -> None:
    width = max(lengths) + 1
    keys, values = rows_with_prompts(prompts, lengths, width + 8, dtype)
    q = torch.randn(len(prompts), KV, PER, DIM, generator=torch.Generator().manual_seed(3))
    q = q.to(dtype)
    plan = cascade.plan(prompts, lengths, width, setting="on", dtype=dtype, device=q.device)
    assert plan is not None
    got = plan.attend(keys, values, q, 0.25)
    want = plain(keys, values, q, lengths, width)
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    assert got.shape == want.shape
    torch.testing.assert_close(got.float(), want.float(), atol=tolerance, rtol=tolerance)
    # The shared part carries weight: a wrong merge of it would not pass.
    assert plan.groups and all(group.length > 0 for group in plan.groups)


def test_a_step_reads_its_rows_in_one_pass_where_the_cascade_would_read_about_as_much() -> None:
    def choose(prompts: list[tuple[int, int]], lengths: list[int], setting: str = "auto") -> bool:
        width = max(lengths) + 1
        cpu = torch.device("cpu")
        found = cascade.plan(
            prompts, lengths, width, setting=setting, dtype=torch.float32, device=cpu
        )
        return found is not None

    # Best-of-2 of three takes on an 800-column prompt: five of six copies are not read.
    assert choose([(1, 800)] * 6, [820] * 6)
    # Four rooms' takes, each room's prompt read once.
    assert choose([(room, 800) for room in range(4) for _ in range(4)], [840] * 16)
    # Four rooms of two takes whose rows are not neighbours, on short prompts: the four passes
    # and the gathers cost more than the copies they spare.
    assert not choose([(room % 4, 300) for room in range(8)], [400] * 8)
    # Nothing shared: one pass, whatever the lengths.
    assert not choose([(room, 900) for room in range(6)], [950] * 6)
    # A short prompt, or a take that has outgrown its prompt, is not worth a second pass.
    assert not choose([(1, 40)] * 3, [60] * 3)
    assert not choose([(1, 100)] * 2, [900, 900])
    # Switched off, never; on, whenever (the engine tests run every step so).
    assert not choose([(1, 800)] * 6, [820] * 6, setting="off")
    assert choose([(1, 40)] * 3, [60] * 3, setting="on")
    assert (
        cascade.plan(
            [(1, 800)] * 6,
            [820] * 6,
            821,
            setting="on",
            dtype=torch.float32,
            device=torch.device("meta"),
        )
        is None
    )  # off a CPU: no kernel that gives the log-sum-exp


def test_the_switch_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, want in (("0", "off"), ("off", "off"), ("1", "on"), ("auto", "auto"), ("", "auto")):
        monkeypatch.setenv(cascade.SWITCH, value)
        assert cascade.mode() == want
    monkeypatch.delenv(cascade.SWITCH)
    assert cascade.mode() == "auto"


@pytest.mark.parametrize("kernels_on", [True, False], ids=["as-this-cpu-runs", "kernels-off"])
def test_takes_sharing_prompts_decode_the_same_with_the_prompts_read_once(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch, kernels_on: bool
) -> None:
    """Three requests of two and three takes, each take its own seed and budget: takes leave
    at different steps (the last row moves into the freed one, so a request's rows stop being
    neighbours), a request joins mid-way, one is cancelled, and a later request repeats an
    earlier prompt. Reading each prompt once, every take is what reading every copy gives: in
    our attention kernel, which takes each row's length and shared prompt (`kernels.Layout`),
    where it runs, and in torch's two passes (the cascade) where it does not (a CPU without
    AVX-512 VNNI, or the kernels switched off)."""
    plans: list[cascade.Plan] = []
    layouts: list[kernels.Layout] = []
    planned, attend = cascade.plan, kernels.attend

    def spy(*args: Any, **kwargs: Any) -> cascade.Plan | None:
        found = planned(*args, **kwargs)
        if found is not None:
            plans.append(found)
        return found

    def seen(*args: Any) -> torch.Tensor:
        layouts.append(args[4])
        return attend(*args)

    monkeypatch.setattr(cascade, "plan", spy)
    monkeypatch.setattr(kernels, "attend", seen)
    generator = torch.Generator().manual_seed(1)
    prompts = [
        tuple(torch.randint(0, 500, (size,), generator=generator).tolist()) for size in (37, 23, 51)
    ]

    def takes(seq_ids: tuple[int, ...], budgets: tuple[int, ...]) -> tuple[Sampling, ...]:
        return tuple(
            Sampling(temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=budget, seed=seq)
            for seq, budget in zip(seq_ids, budgets, strict=True)
        )

    def run(setting: str) -> dict[int, list[int]]:
        engine = SlotEngine(tiny_model, stop_token_ids=(), max_batch=16, shared_prompts=setting)
        got: dict[int, list[int]] = {}

        def collect(events: list[TokenEvent]) -> None:
            for event in events:
                if event.token_id is not None:
                    got.setdefault(event.seq_id, []).append(event.token_id)

        collect(engine.add([PromptGroup(prompts[0], (0, 1, 2), takes((0, 1, 2), (6, 20, 14)))]))
        for _ in range(3):
            collect(engine.step())
        joining = [
            PromptGroup(prompts[1], (3, 4), takes((3, 4), (5, 18))),
            PromptGroup(prompts[2], (5, 6, 7), takes((5, 6, 7), (9, 16, 25))),
        ]
        collect(engine.add(joining))
        for _ in range(4):
            collect(engine.step())
        engine.drop([4])
        collect(engine.add([PromptGroup(prompts[0], (8, 9), takes((8, 9), (7, 12)))]))
        while engine.active:
            collect(engine.step())
        return got

    with contextlib.nullcontext() if kernels_on else kernels.switched_off():
        ours = kernels.available()  # which branch this CPU takes, asserted below
        once, every_copy = run("on"), run("off")
    assert once == every_copy
    assert len(once) == 10 and len(set(map(tuple, once.values()))) == 10  # ten different takes
    if ours:  # rows of different lengths; a prompt's rows read in one of them, scattered too
        assert not plans
        shared = [lay for lay in layouts if lay.source is not None]
        assert any(lay.columns is not None for lay in shared)
        assert any(scattered(lay.source.tolist()) for lay in shared if lay.source is not None)
        assert any(lay.source is None for lay in layouts)  # "off": every copy read
        return
    assert not layouts
    assert any(not isinstance(g.rows, slice) for p in plans for g in p.groups)  # scattered rows
    assert any(p.mask is None for p in plans) and any(p.mask is not None for p in plans)


def scattered(source: list[int]) -> bool:
    """Whether the rows read in one row are not that row and its neighbours after it."""
    return any(
        [b for b, s in enumerate(source) if s == first]
        != list(range(first, first + source.count(first)))
        for first in set(source)
    )
