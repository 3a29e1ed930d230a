"""The room service against writers who undo each other's work, and against numbers no room has:
an edit clears the votes for the take it changes and says so; only the writer who asked for a
proposal or a showrunner may edit or reroll it; only a showrunner branches; ids beyond SQLite's
64-bit integers are "not found", never an internal error. Through the service and the console."""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.app import open_app
from bot.console_session import run_console
from bot.domain import PickRule, ProposalStatus, VoteOutcome
from bot.errors import BadInput, NotAllowed, NotFound
from bot.room import RoomService
from bot.settings import Settings
from tests.bot.conftest import ANA, BEN, CY, DEE, ROOM, FakeGenerator
from tests.conftest import room_events

HUGE = 99999999999999999999  # beyond SQLite's signed 64-bit integers
SCENE = "INT. KITCHEN - DAY\n\nSteam rises."


async def _contested(service: RoomService) -> int:
    """A proposal of Ben's in Ana's room with votes on two takes: Ana, Cy and Dee for take 2,
    Ben for take 1 (a quorum of 5, so nothing is decided yet)."""
    await service.update_settings(ROOM, ANA, pick_rule=PickRule.MAJORITY.value, quorum=5)
    proposal = await service.ask(ROOM, BEN, "scene", "the storm hits")
    for writer in (ANA, CY, DEE):
        await service.vote(ROOM, writer, proposal.id, 2)
    await service.vote(ROOM, BEN, proposal.id, 1)
    return proposal.id


# --- an edit clears that take's votes ---------------------------------------------------------


async def test_an_edit_clears_the_votes_for_that_take_and_says_so(service: RoomService) -> None:
    proposal_id = await _contested(service)
    edit = await service.edit_take(
        ROOM, BEN, proposal_id, 2, "INT. FERRY DECK - NIGHT\n\nBen's version: the rain stops."
    )
    assert edit.changed
    assert sorted(v.user_id for v in edit.cleared) == [ANA, CY, DEE]
    assert (
        str(edit.naming("Ben"))
        == "Take 2 was edited by Ben; its 3 votes were cleared — vote again."
    )
    stored = await service.proposal(ROOM, proposal_id)
    assert stored == edit.proposal
    assert stored.tally() == {1: 1, 2: 0, 3: 0}  # Ben's vote for take 1 stays
    assert stored.take(2) == edit.take and edit.take.edited_by == BEN
    assert "Ben's version" in (edit.take.fountain or "")
    logged = (await room_events(service, ROOM))[-1]
    assert (logged.kind, logged.user_id) == ("edit_take", BEN)
    assert str(logged.summary) == f"edited take 2 of proposal #{proposal_id}, clearing 3 votes"
    # The voters vote again, for the text they now see.
    again = await service.vote(ROOM, ANA, proposal_id, 2)
    assert again.outcome is VoteOutcome.COUNTED


async def test_an_edit_of_a_take_without_votes_and_an_edit_that_changes_nothing(
    service: RoomService,
) -> None:
    proposal_id = await _contested(service)
    untouched = await service.edit_take(ROOM, BEN, proposal_id, 3, "INT. HOLD - NIGHT\n\nDark.")
    assert (untouched.cleared, str(untouched.naming("Ben"))) == ((), "Take 3 was edited by Ben.")
    before = await service.proposal(ROOM, proposal_id)
    events = len(await room_events(service, ROOM))
    original = before.take(2)
    assert original is not None and original.fountain
    same = await service.edit_take(ROOM, BEN, proposal_id, 2, original.fountain)
    assert not same.changed and same.cleared == ()
    assert str(same.naming("Ben")) == "Take 2 is unchanged; its votes stay."
    assert await service.proposal(ROOM, proposal_id) == before  # three votes still on take 2
    assert len(await room_events(service, ROOM)) == events


# --- who may edit, reroll and branch ----------------------------------------------------------


async def test_a_third_writer_can_neither_edit_nor_reroll_anothers_proposal(
    service: RoomService,
) -> None:
    proposal_id = await _contested(service)  # Ben asked; Ana runs the room; Cy is neither
    before = await service.proposal(ROOM, proposal_id)
    refusal = (
        rf"^Only the writer who asked for proposal #{proposal_id}, or a showrunner, can "
        r"{}; vote for the take you like instead\.$"
    )
    with pytest.raises(NotAllowed, match=refusal.format("edit its takes")):
        await service.edit_take(ROOM, CY, proposal_id, 2, "INT. X - DAY\n\nCy's version.")
    with pytest.raises(NotAllowed, match=refusal.format("edit its takes")):
        await service.take_to_edit(ROOM, CY, proposal_id, 2)
    with pytest.raises(NotAllowed, match=refusal.format("reroll it")):
        await service.reroll(ROOM, CY, proposal_id)
    assert await service.proposal(ROOM, proposal_id) == before  # nothing changed behind Ben
    # The asker and a showrunner (by the front end's word, by the settings or by a role) may.
    proposal, take = await service.take_to_edit(ROOM, BEN, proposal_id, 2)
    assert (proposal.id, take.number) == (proposal_id, 2)
    await service.edit_take(ROOM, BEN, proposal_id, 3, "INT. HOLD - NIGHT\n\nBen's.")
    await service.edit_take(ROOM, ANA, proposal_id, 3, "INT. HOLD - NIGHT\n\nAna's.")
    await service.edit_take(
        ROOM, CY, proposal_id, 3, "INT. HOLD - NIGHT\n\nCy's.", is_showrunner=True
    )
    await service.update_settings(ROOM, ANA, showrunner_roles=[77])
    await service.edit_take(ROOM, DEE, proposal_id, 3, "INT. HOLD - NIGHT\n\nDee's.", roles=[77])
    rerolled = await service.reroll(ROOM, BEN, proposal_id)
    assert rerolled.status is ProposalStatus.GENERATING
    again = await service.generate(ROOM, rerolled.id)
    assert (await service.reroll(ROOM, ANA, again.id)).status is ProposalStatus.GENERATING


async def test_only_a_showrunner_branches(service: RoomService) -> None:
    await service.write(ROOM, ANA, SCENE)  # Ana opened the room: she runs it
    sentence = "Only a showrunner can branch this room, since a branch opens a new thread"
    with pytest.raises(NotAllowed, match=sentence):
        await service.check_branch(ROOM, BEN)
    with pytest.raises(NotAllowed, match=sentence):
        await service.branch(ROOM, BEN, ROOM + 1)
    assert not (await service.room(ROOM + 1)).exists
    assert (await service.check_branch(ROOM, ANA)).title == ""
    assert (await service.branch(ROOM, BEN, ROOM + 1, is_showrunner=True)).exists
    with pytest.raises(NotFound, match="no story to branch"):
        await service.check_branch(ROOM + 7, ANA)
    with pytest.raises(BadInput, match="A branch needs a new room"):
        await service.branch(ROOM, ANA, HUGE)


# --- numbers beyond SQLite --------------------------------------------------------------------

Call = Callable[[RoomService, int], Awaitable[object]]

NOT_FOUND: list[tuple[str, Call, str]] = [
    (
        "vote",
        lambda s, p: s.vote(ROOM, ANA, HUGE, 1),
        f"There is no proposal #{HUGE} in this room.",
    ),
    ("vote -", lambda s, p: s.vote(ROOM, ANA, -HUGE, 1), f"There is no proposal #{-HUGE} in"),
    ("take", lambda s, p: s.vote(ROOM, ANA, p, HUGE), f"Proposal #1 has no take {HUGE}; its takes"),
    ("take -", lambda s, p: s.vote(ROOM, ANA, p, -HUGE), "Proposal #1 has no take -"),
    ("pick", lambda s, p: s.pick(ROOM, ANA, HUGE, 1), f"There is no proposal #{HUGE}"),
    ("pick take", lambda s, p: s.pick(ROOM, ANA, p, HUGE), f"has no take {HUGE}"),
    ("reroll", lambda s, p: s.reroll(ROOM, ANA, HUGE), f"There is no proposal #{HUGE}"),
    ("edit", lambda s, p: s.edit_take(ROOM, ANA, HUGE, 1, SCENE), f"no proposal #{HUGE}"),
    ("edit take", lambda s, p: s.edit_take(ROOM, ANA, p, HUGE, SCENE), f"has no take {HUGE}"),
    ("to edit", lambda s, p: s.take_to_edit(ROOM, ANA, -HUGE, 1), f"no proposal #{-HUGE}"),
    ("withdraw", lambda s, p: s.withdraw_vote(ROOM, ANA, HUGE, 1), f"no proposal #{HUGE}"),
    ("proposal", lambda s, p: s.proposal(ROOM, HUGE), f"There is no proposal #{HUGE}"),
    ("ballot", lambda s, p: s.record_ballot(ROOM, HUGE, 1, 2), f"There is no proposal #{HUGE}"),
    ("beat", lambda s, p: s.edit_beat(ROOM, ANA, HUGE, text="x"), f"There is no beat {HUGE};"),
]


@pytest.mark.parametrize(("name", "call", "sentence"), NOT_FOUND, ids=[n for n, _, _ in NOT_FOUND])
async def test_numbers_beyond_sqlite_are_simply_not_found(
    service: RoomService, name: str, call: Call, sentence: str
) -> None:
    await service.write(ROOM, ANA, SCENE)
    proposal = await service.ask(ROOM, ANA, "scene", "the storm")
    with pytest.raises(NotFound, match=re.escape(sentence)):
        await call(service, proposal.id)


async def test_lines_and_events_beyond_sqlite_are_nothing(service: RoomService) -> None:
    written = await service.write(ROOM, ANA, SCENE)
    assert await service.show(ROOM, HUGE) == ()
    assert await service.show(ROOM, 1, HUGE) == written
    with pytest.raises(BadInput, match="write after line 0 to 2"):
        await service.write(ROOM, ANA, "More.", after=HUGE)
    assert await service.picked_proposal(ROOM, HUGE) is None
    assert await service.ballot_proposal(HUGE) is None


async def test_the_console_answers_huge_numbers_on_one_line(tmp_path: Path) -> None:
    lines = [
        '/write text:"INT. HALL - DAY\\n\\nA door."',
        "/scene The pier at dawn",
        f"/vote take:1 proposal:{HUGE}",
        f"/vote take:{HUGE}",
        f"/pick take:1 proposal:-{HUGE}",
        f"/reroll proposal:{HUGE}",
        f'/edit take:1 proposal:{HUGE} text:"INT. X - DAY"',
        f"/show scene:{HUGE}",
    ]
    out = io.StringIO()
    async with open_app(Settings(database=tmp_path / "room.db"), generator=FakeGenerator()) as app:
        await run_console(app, lines, out, echo=True)
    answers = _answers(out.getvalue())
    assert answers[lines[2]] == f"error: There is no proposal #{HUGE} in this room."
    assert answers[lines[3]].startswith(f"error: Proposal #1 has no take {HUGE}; its takes are")
    assert answers[lines[4]] == f"error: There is no proposal #-{HUGE} in this room."
    assert answers[lines[5]] == f"error: There is no proposal #{HUGE} in this room."
    assert answers[lines[6]] == f"error: There is no proposal #{HUGE} in this room."
    assert answers[lines[7]] == f"error: There is no scene {HUGE}; the script has 1 scene."


async def test_the_console_says_an_edit_cleared_votes_and_refuses_a_third_writer(
    tmp_path: Path,
) -> None:
    lines = [
        "/room settings quorum:5",  # the person at the terminal runs the room
        "@ben /scene The pier at dawn",
        "@ana /vote take:2",
        "@cy /vote take:2",
        '@dee /edit take:2 text:"INT. PIER - DAWN\\n\\nDee\'s version."',
        "@dee /reroll",
        '@ben /edit take:2 text:"INT. PIER - DAWN\\n\\nBen\'s version."',
        '/edit take:1 text:"INT. PIER - DAWN\\n\\nThe showrunner\'s version."',
    ]
    out = io.StringIO()
    async with open_app(Settings(database=tmp_path / "room.db"), generator=FakeGenerator()) as app:
        await run_console(app, lines, out, echo=True)
        proposal = await app.rooms.proposal(1, 1)
    answers = _answers(out.getvalue())
    assert answers[lines[4]] == (
        "error: Only the writer who asked for proposal #1, or a showrunner, can edit its takes; "
        "vote for the take you like instead."
    )
    assert answers[lines[5]].startswith("error: Only the writer who asked for proposal #1")
    edited = answers[lines[6]]
    assert edited.startswith("Take 2 of proposal #1 now reads:")
    assert edited.endswith("Take 2 was edited by ben; its 2 votes were cleared — vote again.")
    assert "cleared" not in answers[lines[7]]  # take 1 had no votes
    assert (proposal.status, proposal.votes) == (ProposalStatus.OPEN, ())


def _answers(transcript: str) -> dict[str, str]:
    """Each echoed command line and the answer printed below it (without its last newline)."""
    answers: dict[str, str] = {}
    for block in re.split(r"^> ", transcript, flags=re.MULTILINE)[1:]:
        command, _, answer = block.partition("\n")
        answers[command] = answer.rstrip("\n")
    return answers
