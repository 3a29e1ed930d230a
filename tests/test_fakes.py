"""The shared fake generator: the one stand-in for the model in the tests, and what it does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from model.tasks import Progress, Sampling, TaskKind, TaskRequest
from tests.fakes import Call, FakeGenerator, raises

TESTS = Path(__file__).resolve().parent


def test_the_tests_write_one_fake_generator() -> None:
    """A take generator written again in some test drifts from the others (another progress,
    another record of requests); tests configure `tests.fakes.FakeGenerator` instead."""
    elsewhere = [
        f"{path.relative_to(TESTS)}:{node.lineno}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != TESTS / "fakes.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "generate"
    ]
    assert elsewhere == []


async def _ask(generator: FakeGenerator, kind: TaskKind, n: int = 2) -> list[str]:
    heard: list[Progress] = []
    takes = await generator.generate(
        TaskRequest(kind, prompt="Mara boards"),
        n,
        Sampling(seed=3),
        room_id=7,
        user_id=11,
        on_progress=heard.append,
    )
    assert [p.position for p in heard] == [1, 0]  # a place in line, then the first words
    assert heard[-1].texts == tuple(t.text[:10] for t in takes)
    return [t.text for t in takes]


async def test_it_writes_canned_takes_and_remembers_every_call() -> None:
    generator = FakeGenerator()
    assert (await _ask(generator, TaskKind.SCENE))[1].splitlines()[2] == "Take 2 of the scene."
    assert await _ask(generator, TaskKind.BEAT, 1) == ["Beat take 1"]
    first, second = generator.calls
    assert (first.number, first.n, first.room_id, first.user_id) == (1, 2, 7, 11)
    assert (second.number, second.request.kind) == (2, TaskKind.BEAT)
    assert generator.requests == [first.request, second.request]


async def test_a_script_replaces_script_takes_only() -> None:
    generator = FakeGenerator(script="INT. HALL - DAY")
    assert await _ask(generator, TaskKind.DIALOGUE) == ["INT. HALL - DAY"] * 2
    assert await _ask(generator, TaskKind.BEAT, 1) == ["Beat take 1"]


async def test_the_hook_runs_first_and_may_fail_the_request() -> None:
    seen: list[int] = []

    async def hook(call: Call) -> None:
        seen.append(call.number)

    generator = FakeGenerator(hook=hook)
    await _ask(generator, TaskKind.SCENE)
    assert seen == [1]
    generator.hook = raises(RuntimeError("the GPU melted"))
    with pytest.raises(RuntimeError, match="the GPU melted"):
        await _ask(generator, TaskKind.SCENE)
    assert len(generator.calls) == 2  # a failed request was still heard
