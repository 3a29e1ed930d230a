"""Votes: a writer's vote and its withdrawal, a showrunner's pick, and the deadline that closes
a vote; the decided take goes in (script, bible, premise or outline) in the same transaction as
the vote that decided it, so it goes in exactly once.

A take with lint problems is not voted in: only a showrunner's pick puts it in unrepaired.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

import aiosqlite

from bot import store as db_
from bot.domain import (
    SYSTEM_USER,
    Attribution,
    BeatStatus,
    PickRule,
    Proposal,
    ProposalStatus,
    ScriptLine,
    Take,
    Vote,
    VoteOutcome,
    VoteResult,
)
from bot.errors import (
    NotAllowed,
)
from bot.messages import message
from bot.picking import Decision, decide
from bot.problems import problem_list
from bot.room.core import (
    RoomCore,
    character_in,
    entry_change,
    insert_change,
    open_proposal,
    project_change,
    proposal_in,
)
from bot.room.takes import beat_text, unparsed_sheet
from bot.room.text import (
    SCRIPT_KINDS,
    take_elements,
)
from bot.store import Change
from model.tasks import TaskKind

_log = logging.getLogger(__name__)


class Votes(RoomCore):
    """The commands of the room's votes."""

    async def vote(
        self,
        room_id: int,
        user_id: int,
        proposal_id: int,
        take: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> VoteResult:
        """Vote for take `take`. Voting again for the same take changes nothing; voting for
        another take moves the vote. When the vote decides the proposal (by the room's pick
        rule), the take goes in within the same transaction."""
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            proposal = await open_proposal(db, room_id, proposal_id, take)
            _votable(proposal, take)
            showrunner = settings.is_showrunner(user_id, tuple(roles), is_showrunner)
            previous = next((v for v in proposal.votes if v.user_id == user_id), None)
            if previous is not None and (previous.take, previous.showrunner) == (take, showrunner):
                return VoteResult(VoteOutcome.UNCHANGED, proposal)
            now = self.clock()
            event_id = await self._record(
                db,
                room_id,
                user_id,
                "vote",
                message("event.vote", take=take, proposal=proposal_id),
                {"proposal": proposal_id, "take": take},
            )
            vote = Vote(user_id, take, now, event_id, showrunner)
            await db_.put_vote(db, proposal_id, vote)
            others = tuple(v for v in proposal.votes if v.user_id != user_id)
            proposal = dataclasses.replace(proposal, votes=(*others, vote))
            passed = proposal.deadline is not None and now >= proposal.deadline
            decision = decide(
                settings.pick_rule, proposal.votes, quorum=settings.quorum, deadline_passed=passed
            )
            if decision is None:
                outcome = VoteOutcome.COUNTED if previous is None else VoteOutcome.CHANGED
                return VoteResult(outcome, proposal)
            lines = await self._decide(db, proposal, decision, user_id)
            return VoteResult(
                VoteOutcome.DECIDED, await proposal_in(db, room_id, proposal_id), lines
            )

    async def withdraw_vote(
        self, room_id: int, user_id: int, proposal_id: int, take: int
    ) -> VoteResult:
        """Take back a vote for take `take` (a writer removed their reaction). Nothing changes
        when their vote is for another take by now, or the proposal is no longer open: a
        decided take stays in the script."""
        async with self._lock(room_id), self.store.write() as db:
            proposal = await proposal_in(db, room_id, proposal_id)
            vote = next((v for v in proposal.votes if v.user_id == user_id), None)
            if proposal.status is not ProposalStatus.OPEN or vote is None or vote.take != take:
                return VoteResult(VoteOutcome.UNCHANGED, proposal)
            await self._record(
                db,
                room_id,
                user_id,
                "unvote",
                message("event.unvote", take=take, proposal=proposal_id),
                {"proposal": proposal_id, "take": take},
            )
            await db_.delete_vote(db, proposal_id, user_id)
            others = tuple(v for v in proposal.votes if v.user_id != user_id)
            return VoteResult(VoteOutcome.WITHDRAWN, dataclasses.replace(proposal, votes=others))

    async def pick(
        self,
        room_id: int,
        user_id: int,
        proposal_id: int,
        take: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> VoteResult:
        """A showrunner decides: take `take` goes in now, whatever the votes and the pick rule."""
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            if not settings.is_showrunner(user_id, tuple(roles), is_showrunner):
                raise NotAllowed("error.showrunner_pick")
            proposal = await open_proposal(db, room_id, proposal_id, take)
            lines = await self._decide(
                db, proposal, Decision(take, message("reason.showrunner")), user_id
            )
            return VoteResult(
                VoteOutcome.DECIDED, await proposal_in(db, room_id, proposal_id), lines
            )

    async def close_due(self, now: float | None = None) -> list[Proposal]:
        """Decide every open proposal whose vote deadline has passed (the bot calls this every
        few seconds): most votes win, ties go to the take that got its votes first; with no vote
        the proposal expires. Returns the proposals closed."""
        now = self.clock() if now is None else now
        async with self.store.read() as db:
            ids = await db_.proposal_ids(db, statuses=(ProposalStatus.OPEN,), due_by=now)
            rooms = {i: await db_.room_of_proposal(db, i) for i in ids}
        closed = []
        for proposal_id, room_id in rooms.items():
            async with self._lock(room_id), self.store.write() as db:
                proposal = await proposal_in(db, room_id, proposal_id)
                if proposal.status is not ProposalStatus.OPEN:
                    continue  # decided by a vote in the meantime
                settings = await db_.load_settings(db, room_id)
                if settings.pick_rule is PickRule.SHOWRUNNER:
                    decision = decide(settings.pick_rule, proposal.votes, quorum=settings.quorum)
                else:
                    decision = decide(
                        PickRule.MAJORITY,
                        proposal.votes,
                        quorum=settings.quorum,
                        deadline_passed=True,
                    )
                if decision is not None:
                    await self._decide(db, proposal, decision, SYSTEM_USER)
                elif settings.pick_rule is not PickRule.SHOWRUNNER:
                    await db_.update_proposal(
                        db,
                        proposal_id,
                        status=ProposalStatus.EXPIRED,
                        decided_at=now,
                        reason=message("reason.no_vote"),
                    )
                    await self._record(
                        db,
                        room_id,
                        SYSTEM_USER,
                        "expire",
                        message("event.expired", proposal=proposal_id),
                        {"proposal": proposal_id},
                    )
                else:
                    continue
                closed.append(await proposal_in(db, room_id, proposal_id))
        return closed

    async def _decide(
        self, db: aiosqlite.Connection, proposal: Proposal, decision: Decision, picked_by: int
    ) -> tuple[ScriptLine, ...]:
        """Put the decided take in (script, bible, premise or outline) and close the proposal:
        all inside the caller's transaction, so it happens exactly once."""
        take = proposal.take(decision.take)
        assert take is not None
        room_id = proposal.room_id
        event_id = await db_.next_event_id(db)
        start = await db_.script_length(db, room_id) + 1
        changes = await _take_changes(db, proposal, take, event_id, picked_by)
        added = sum(len(c["lines"]) for c in changes if c["op"] == "insert_lines")
        await db_.update_proposal(
            db,
            proposal.id,
            status=ProposalStatus.DECIDED,
            decided_take=take.number,
            decided_by=picked_by,
            decided_at=self.clock(),
            reason=decision.said,
        )
        await self._story_change(
            db,
            room_id,
            picked_by,
            "pick",
            message(
                "event.pick",
                take=take.number,
                proposal=proposal.id,
                reason=decision.said,
            ),
            changes,
            event_id=event_id,
            extra={"proposal": proposal.id, "take": take.number, "author": proposal.requested_by},
        )
        return await db_.load_script(db, room_id, start, start + added - 1) if added else ()


def _votable(proposal: Proposal, number: int) -> None:
    """A take with problems the model left in it goes in only by a showrunner's pick (or once a
    writer's edit repaired it): a vote for it is refused with the reason."""
    take = proposal.take(number)
    if take is not None and take.problems:
        raise NotAllowed(
            "error.take_has_problems",
            take=number,
            proposal=proposal.id,
            problems=problem_list(take.problems),
        )


async def _take_changes(
    db: aiosqlite.Connection, proposal: Proposal, take: Take, event_id: int, picked_by: int
) -> list[Change]:
    """The undoable changes that put a decided take in: script lines (and the beat they were
    written for), the project's title and logline, a bible entry, or a new beat."""
    room_id = proposal.room_id
    changes: list[Change] = []
    if proposal.kind in SCRIPT_KINDS:
        # Parsing the take is CPU work proportional to its text: off the event loop.
        elements = await asyncio.to_thread(take_elements, take)
        if elements:
            attribution = Attribution(
                proposal_id=proposal.id,
                take=take.number,
                model=take.model,
                picked_by=picked_by,
                edited_by=take.edited_by,
            )
            anchor = await db_.last_line_id(db, room_id)
            changes.append(await insert_change(db, anchor, elements, event_id, attribution))
        changes += await _beat_written(db, room_id, proposal.beat_id)
    elif proposal.kind is TaskKind.PREMISE:
        before = await db_.load_project(db, room_id)
        # A take the generation side could not split still carries its idea as text.
        after = dataclasses.replace(
            before,
            title=take.title or before.title,
            logline=take.logline or (before.logline if take.title else take.text),
        )
        changes.append(project_change(before, after))
    elif proposal.kind is TaskKind.CHARACTER:
        entry = take.sheet or unparsed_sheet(take.text)
        existing = await character_in(db, room_id, entry.name)
        changes.append(entry_change("character", existing, entry))
    else:
        record = await db_.new_beat_record(db, room_id, beat_text(take.beat or take.text))
        changes.append({"op": "beat", "before": None, "after": record})
    return changes


async def _beat_written(
    db: aiosqlite.Connection, room_id: int, beat_id: int | None
) -> list[Change]:
    """The change that marks the beat a picked scene was written for as written."""
    if beat_id is None:
        return []
    try:
        before = await db_.beat_record(db, room_id, beat_id)
    except LookupError:
        return []  # the beat was removed while the takes were voted on
    if before["status"] == BeatStatus.WRITTEN.value:
        return []
    return [{"op": "beat", "before": before, "after": {**before, "status": "written"}}]
