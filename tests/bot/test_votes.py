"""Votes and the pick rules through the room service: quorum, deadline, ties, showrunner, late
votes, and a burst of concurrent votes that must put exactly one take in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.domain import PickRule, Proposal, ProposalStatus, ScriptLine, VoteOutcome
from bot.errors import AlreadyDecided, NotAllowed, NotFound, NotReady
from bot.room import RoomService
from screenplay.types import Action
from tests.bot.conftest import ANA, BEN, CY, DEE, ROOM, FakeClock


async def _open(service: RoomService, rule: PickRule, quorum: int = 2) -> Proposal:
    await service.update_settings(
        ROOM, ANA, pick_rule=rule.value, quorum=quorum, vote_deadline_s=60
    )
    return await service.ask(ROOM, BEN, "scene", "the storm hits")


def _actions(lines: Sequence[ScriptLine]) -> list[str]:
    return [line.element.text.plain for line in lines if isinstance(line.element, Action)]


async def test_first_rule_the_first_vote_puts_the_take_in(service: RoomService) -> None:
    proposal = await _open(service, PickRule.FIRST)
    result = await service.vote(ROOM, CY, proposal.id, 3)
    assert result.outcome is VoteOutcome.DECIDED
    assert result.proposal.decided_take == 3
    assert _actions(result.lines) == ["Take 3 of the scene."]
    assert (await service.room(ROOM)).script == result.lines


async def test_majority_decides_at_quorum_and_votes_can_move(service: RoomService) -> None:
    proposal = await _open(service, PickRule.MAJORITY, quorum=2)
    assert (await service.vote(ROOM, ANA, proposal.id, 1)).outcome is VoteOutcome.COUNTED
    assert (await service.vote(ROOM, ANA, proposal.id, 1)).outcome is VoteOutcome.UNCHANGED
    assert (await service.vote(ROOM, ANA, proposal.id, 2)).outcome is VoteOutcome.CHANGED
    result = await service.vote(ROOM, BEN, proposal.id, 1)
    assert result.outcome is VoteOutcome.COUNTED, "Ana's vote moved to take 2"
    assert result.proposal.tally() == {1: 1, 2: 1, 3: 0}
    result = await service.vote(ROOM, CY, proposal.id, 2)
    assert result.outcome is VoteOutcome.DECIDED and result.proposal.decided_take == 2
    line = result.lines[0]
    assert line.attribution.picked_by == CY
    assert line.attribution.proposal_id == proposal.id and line.attribution.take == 2
    assert line.attribution.model == "fake-model"


async def test_a_late_vote_gets_a_clear_answer(service: RoomService) -> None:
    proposal = await _open(service, PickRule.FIRST)
    await service.vote(ROOM, ANA, proposal.id, 1)
    with pytest.raises(AlreadyDecided, match=f"#{proposal.id} is already decided: take 1"):
        await service.vote(ROOM, BEN, proposal.id, 2)
    with pytest.raises(AlreadyDecided):
        await service.pick(ROOM, ANA, proposal.id, 2)


async def test_an_undone_pick_says_so_and_a_redo_puts_it_back(service: RoomService) -> None:
    proposal = await _open(service, PickRule.FIRST)
    picked = await service.vote(ROOM, CY, proposal.id, 3)
    assert (picked.proposal.pick_undo, picked.proposal.undone_by) == (None, None)
    undo = await service.undo(ROOM, BEN)  # Ben asked for the takes: the pick is his to undo
    assert (await service.room(ROOM)).script == ()
    assert undo.target is not None
    undone = await service.picked_proposal(ROOM, undo.target)
    assert undone is not None and undone.id == proposal.id
    assert (undone.status, undone.decided_take, undone.undone_by) == (
        ProposalStatus.DECIDED,
        3,
        BEN,
    )
    with pytest.raises(AlreadyDecided, match="take 3 went in and was undone since"):
        await service.vote(ROOM, DEE, proposal.id, 1)
    redo = await service.redo(ROOM, ANA)
    assert redo.target == undo.target
    back = await service.proposal(ROOM, proposal.id)
    assert back.undone_by is None
    assert back.pick_undo is not None and (back.pick_undo.kind, back.pick_undo.user_id) == (
        "redo",
        ANA,
    )
    assert _actions((await service.room(ROOM)).script) == ["Take 3 of the scene."]
    await service.undo(ROOM, BEN)
    await service.write(ROOM, ANA, "A new line.")  # the undone pick can no longer be redone
    assert (await service.proposal(ROOM, proposal.id)).undone_by == BEN


async def test_only_a_pick_has_a_picked_proposal(service: RoomService) -> None:
    await service.write(ROOM, ANA, "INT. HALL - DAY")
    undo = await service.undo(ROOM, ANA)
    assert undo.target is not None
    assert await service.picked_proposal(ROOM, undo.target) is None
    assert await service.picked_proposal(ROOM + 1, undo.target) is None  # another room's event
    assert await service.picked_proposal(ROOM, 999) is None


async def test_votes_for_a_missing_take_or_proposal_or_before_takes(
    service: RoomService,
) -> None:
    proposal = await _open(service, PickRule.MAJORITY)
    with pytest.raises(NotFound, match="has no take 9; its takes are 1 to 3"):
        await service.vote(ROOM, ANA, proposal.id, 9)
    with pytest.raises(NotFound, match="no proposal #999"):
        await service.vote(ROOM, ANA, 999, 1)
    with pytest.raises(NotFound):
        await service.vote(ROOM + 1, ANA, proposal.id, 1)  # another room's proposal
    waiting = await service.propose(ROOM, ANA, "continue")
    with pytest.raises(NotReady, match="still being written"):
        await service.vote(ROOM, ANA, waiting.id, 1)


async def test_deadline_most_votes_win_and_ties_go_to_the_earliest(
    service: RoomService, clock: FakeClock
) -> None:
    tied = await _open(service, PickRule.MAJORITY, quorum=5)
    clean = await service.ask(ROOM, BEN, "scene", "calm after")
    silent = await service.ask(ROOM, BEN, "scene", "nobody cares")
    await service.vote(ROOM, ANA, tied.id, 3)
    await service.vote(ROOM, BEN, tied.id, 1)
    await service.vote(ROOM, CY, tied.id, 1)
    await service.vote(ROOM, DEE, tied.id, 3)  # 3 and 1 tie; 1 got its two votes first
    await service.vote(ROOM, ANA, clean.id, 2)
    assert await service.close_due() == []
    clock.advance(61)
    closed = {p.id: p for p in await service.close_due()}
    assert closed[tied.id].decided_take == 1
    assert "tie" in closed[tied.id].reason
    assert closed[tied.id].decided_by == 0  # the room, not a writer
    assert closed[clean.id].decided_take == 2
    assert closed[silent.id].status is ProposalStatus.EXPIRED
    assert await service.close_due() == []  # nothing is decided twice
    with pytest.raises(AlreadyDecided, match="expired without a vote"):
        await service.vote(ROOM, ANA, silent.id, 1)
    script = (await service.room(ROOM)).script
    assert _actions(script) == ["Take 1 of the scene.", "Take 2 of the scene."]


async def test_a_vote_after_the_deadline_decides_by_most_votes(
    service: RoomService, clock: FakeClock
) -> None:
    proposal = await _open(service, PickRule.MAJORITY, quorum=5)
    await service.vote(ROOM, ANA, proposal.id, 2)
    clock.advance(120)
    result = await service.vote(ROOM, BEN, proposal.id, 3)
    assert result.outcome is VoteOutcome.DECIDED and result.proposal.decided_take == 2


async def test_showrunner_rule_only_the_showrunner_decides(
    service: RoomService, clock: FakeClock
) -> None:
    proposal = await _open(service, PickRule.SHOWRUNNER)
    assert proposal.deadline is None
    for user in (BEN, CY, DEE):
        assert (await service.vote(ROOM, user, proposal.id, 1)).outcome is VoteOutcome.COUNTED
    clock.advance(10**6)
    assert await service.close_due() == []
    with pytest.raises(NotAllowed, match="Only a showrunner can pick"):
        await service.pick(ROOM, BEN, proposal.id, 1)
    result = await service.vote(ROOM, ANA, proposal.id, 2)  # Ana opened the room
    assert result.outcome is VoteOutcome.DECIDED and result.proposal.decided_take == 2


async def test_a_showrunner_pick_overrides_the_votes(service: RoomService) -> None:
    proposal = await _open(service, PickRule.MAJORITY, quorum=3)
    await service.vote(ROOM, BEN, proposal.id, 1)
    await service.vote(ROOM, CY, proposal.id, 1)
    result = await service.pick(ROOM, DEE, proposal.id, 3, is_showrunner=True)
    assert result.proposal.decided_take == 3 and result.lines[0].attribution.picked_by == DEE
    await service.update_settings(ROOM, ANA, showrunner_roles=[77])
    other = await service.ask(ROOM, BEN, "scene", "again")
    assert (await service.pick(ROOM, CY, other.id, 2, roles=[77])).proposal.decided_take == 2


async def test_two_hundred_concurrent_votes_put_exactly_one_take_in(
    service: RoomService,
) -> None:
    proposal = await _open(service, PickRule.MAJORITY, quorum=20)
    results = await asyncio.gather(
        *(service.vote(ROOM, 1000 + i, proposal.id, 1 + i % 3) for i in range(200)),
        return_exceptions=True,
    )
    decided = [r for r in results if not isinstance(r, BaseException) and r.lines]
    late = [r for r in results if isinstance(r, AlreadyDecided)]
    assert len(decided) == 1
    assert (
        len(decided)
        + len(late)
        + sum(1 for r in results if not isinstance(r, BaseException) and not r.lines)
        == 200
    )
    assert late, "votes after the decision are answered, not counted"
    room = await service.room(ROOM)
    assert len(room.script) == len(decided[0].lines) == 4
    final = await service.proposal(ROOM, proposal.id)
    assert final.status is ProposalStatus.DECIDED
    assert max(final.tally().values()) == 20


async def test_rooms_vote_in_parallel_without_mixing(service: RoomService) -> None:
    rooms = [ROOM + i for i in range(5)]
    proposals = [await service.ask(r, ANA, "scene", f"room {r}") for r in rooms]
    await asyncio.gather(
        *(
            service.vote(r, user, p.id, 1 + (r % 3))
            for r, p in zip(rooms, proposals, strict=True)
            for user in (ANA, BEN)
        )
    )
    for r in rooms:
        script = (await service.room(r)).script
        assert _actions(script) == [f"Take {1 + r % 3} of the scene."]


async def test_a_withdrawn_vote_no_longer_counts_towards_the_quorum(service: RoomService) -> None:
    proposal = await _open(service, PickRule.MAJORITY, quorum=2)
    await service.vote(ROOM, ANA, proposal.id, 1)
    withdrawn = await service.withdraw_vote(ROOM, ANA, proposal.id, 1)
    assert withdrawn.outcome is VoteOutcome.WITHDRAWN and withdrawn.proposal.votes == ()
    assert (await service.proposal(ROOM, proposal.id)).votes == ()  # gone from the database
    # With Ana's vote still there, Ben's would make two for take 1 and decide it.
    assert (await service.vote(ROOM, BEN, proposal.id, 1)).outcome is VoteOutcome.COUNTED
    # Taking back a vote that is not there, or that moved to another take, changes nothing.
    assert (await service.withdraw_vote(ROOM, ANA, proposal.id, 1)).outcome is VoteOutcome.UNCHANGED
    await service.vote(ROOM, CY, proposal.id, 3)
    await service.vote(ROOM, CY, proposal.id, 2)
    assert (await service.withdraw_vote(ROOM, CY, proposal.id, 3)).outcome is VoteOutcome.UNCHANGED
    decided = await service.vote(ROOM, ANA, proposal.id, 1)
    assert decided.outcome is VoteOutcome.DECIDED and decided.proposal.decided_take == 1
    # A decided take stays in: a vote taken back afterwards changes nothing.
    late = await service.withdraw_vote(ROOM, BEN, proposal.id, 1)
    assert late.outcome is VoteOutcome.UNCHANGED and late.proposal.decided_take == 1
