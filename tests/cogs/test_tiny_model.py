"""One Discord round trip on a real generation stack: the tiny random Llama of the model tests
behind the real queue and generator. Its takes are noise, but they travel the whole way —
queue, progress, parsing, the ballot, the votes, the script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.domain import ProposalStatus
from cogs.embeds import number_emoji
from model.generator import Generator, LocalBackend
from model.queue import GenerationQueue, QueueSettings
from tests.cogs.conftest import BotFactory
from tests.model.conftest import tiny_model, tokenizer

__all__ = ["tiny_model", "tokenizer"]  # the model tests' fixtures, used here


@pytest.fixture
async def tiny_generator(tiny_model: Any, tokenizer: Any) -> AsyncIterator[Generator]:
    queue = GenerationQueue(tiny_model, tokenizer, QueueSettings(), stop_token_ids=())
    await queue.start()
    generator = Generator(LocalBackend(queue, "tiny-random-llama"))
    yield generator
    await generator.close()


async def test_takes_of_the_tiny_model_are_posted_voted_and_go_in(
    make_bot: BotFactory, tiny_generator: Generator
) -> None:
    h = await make_bot(generator=tiny_generator)
    await h.say("!room settings takes:2 length:16")
    await h.say('!dialogue "Mara argues with Tom" MARA, TOM')
    proposal = await h.room.proposal(h.room_id, 1)
    assert proposal.status is ProposalStatus.OPEN
    assert [t.model for t in proposal.takes] == ["tiny-random-llama"] * 2
    takes = [s for s in h.sent.sends() if s.content.startswith("**Take ")]
    assert len(takes) >= 2
    ballot = h.last_ballot()
    noise = proposal.takes[1].problems
    await h.react("ana", ballot, number_emoji(2))
    await h.react("ben", ballot, number_emoji(2))
    proposal = await h.room.proposal(h.room_id, 1)
    if noise:  # a take with problems goes in by a showrunner's pick only, never by votes
        assert proposal.status is ProposalStatus.OPEN
        await h.say("!pick 2")
        proposal = await h.room.proposal(h.room_id, 1)
    assert (proposal.status, proposal.decided_take) == (ProposalStatus.DECIDED, 2)
