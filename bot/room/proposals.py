"""Proposals: asking the model for takes, storing them, rerolls, a writer's edit of a take, and
where the front ends posted them (the votes are `bot.room.votes`).

Only the writer who asked for a proposal, or a showrunner, may reroll it or edit its takes: the
takes are theirs to withdraw or rework, and nobody else can undo that work behind their back. An
edit clears the votes for the take it changes (the voters chose the text before it) and says so
(`TakeEdit.naming`): "Take 2 was edited by Ana; its 3 votes were cleared — vote again." An edit
does not become a new take: a ballot holds at most five, and the old text, kept beside it, could
still be voted in after its owner replaced it. Votes for the other takes stay.

Generation runs outside the room lock: the room keeps voting on other proposals while the model
writes, and the takes come back through `add_takes`. The "author" of a picked take, for undo, is
the writer who asked for it.

A front end records where it put each proposal to the vote (`record_ballot`, kept as
`Proposal.ballot`), so that after a restart it still updates that message when the vote is
decided and knows a reaction on it for a vote (`ballot_proposal`); and where it showed the wait
for the takes (`record_progress`), so that a restarted bot can say in that message that it writes
them again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

import aiosqlite

from bot import store as db_
from bot.context import context_for
from bot.domain import (
    SYSTEM_USER,
    BeatStatus,
    PageSize,
    PickRule,
    PostedMessage,
    Project,
    Proposal,
    ProposalStatus,
    RoomSettings,
    Take,
    clean_text,
    cue_name,
)
from bot.errors import (
    AlreadyDecided,
    BadInput,
    GenerationFailed,
    NotAllowed,
    NotReady,
    ProposalCancelled,
    QueueFull,
    RoomError,
)
from bot.messages import Message, counted, message
from bot.room.core import (
    RoomCore,
    closed_sentence,
    open_proposal,
    project_change,
    proposal_in,
    storable,
)
from bot.room.takes import TakeEdit, edited_take, stored_take
from model import errors as model_errors
from model.ranking import language_share
from model.tasks import GeneratedTake, ProgressCallback, Sampling, TaskKind, TaskRequest

_log = logging.getLogger(__name__)


_MAX_CHARACTERS_PER_REQUEST = 10


class Proposals(RoomCore):
    """The commands of the model's takes and the room's votes."""

    # --- proposals ------------------------------------------------------------------------------

    async def propose(
        self,
        room_id: int,
        user_id: int,
        kind: str,
        prompt: str = "",
        characters: Sequence[str] = (),
        *,
        n: int | None = None,
        variation: str = "",
    ) -> Proposal:
        """Ask the model for takes: a pending proposal, waiting for `add_takes` (or use `ask`).
        `variation` is a take's text the new takes vary (`/vary`), kept in the log."""
        proposal, _ = await self.propose_noting_language(
            room_id, user_id, kind, prompt, characters, n=n, variation=variation
        )
        return proposal

    async def propose_noting_language(
        self,
        room_id: int,
        user_id: int,
        kind: str,
        prompt: str = "",
        characters: Sequence[str] = (),
        *,
        n: int | None = None,
        variation: str = "",
    ) -> tuple[Proposal, bool]:
        """`propose`, and whether the request made the room write in Chinese (a fresh room's
        request written in Chinese, `_language_from`): a front end tells the room so."""
        try:
            task = TaskKind(kind.strip().lower())
        except ValueError:
            kinds = ", ".join(k.value for k in TaskKind)
            raise BadInput("error.ask_kinds", kinds=kinds) from None
        prompt = clean_text(prompt, "request", "prompt")
        if not prompt and task not in (TaskKind.CONTINUE, TaskKind.BEAT):
            raise BadInput("error.say_what", kind=message(f"kind.{task.value}"))
        if len(characters) > _MAX_CHARACTERS_PER_REQUEST:
            raise BadInput("error.too_many_characters", most=_MAX_CHARACTERS_PER_REQUEST)
        cues = tuple(dict.fromkeys(cue_name(c) for c in characters if c.strip()))
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            count = settings.takes_per_request if n is None else n
            if not 1 <= count <= 5:
                raise BadInput("error.takes_range")
            became_chinese = await self._language_from(db, room_id, user_id, prompt)
            beat_id = None
            if task in (TaskKind.SCENE, TaskKind.CONTINUE, TaskKind.BEAT):
                planned = [
                    b for b in await db_.load_beats(db, room_id) if b.status is BeatStatus.PLANNED
                ]
                beat_id = planned[0].id if planned else None
            proposal_id = await db_.insert_proposal(
                db,
                room_id=room_id,
                kind=task,
                requested_by=user_id,
                prompt=prompt,
                characters=cues,
                n=count,
                beat_id=beat_id,
                at=self.clock(),
            )
            await self._record(
                db,
                room_id,
                user_id,
                "propose",
                message(
                    f"event.propose.{'one' if count == 1 else 'many'}",
                    n=count,
                    kind=message(f"kind.{task.value}"),
                    proposal=proposal_id,
                ),
                {"proposal": proposal_id, **({"variation": variation} if variation else {})},
            )
            return await proposal_in(db, room_id, proposal_id), became_chinese

    async def _language_from(
        self, db: aiosqlite.Connection, room_id: int, user_id: int, text: str
    ) -> bool:
        """A room that has not begun its story (no title, no script, the language still the
        default English) takes Chinese as its language from a request written in Chinese: its
        prompts, takes and exports follow. An undoable premise change like any other, so a
        room that meant English says so with `/room style language:English` or `/undo`.
        Whether it did."""
        # The text first: an English request (most of them) costs no read of the room.
        if (language_share(text, "Chinese") or 0.0) < 0.5:
            return False
        project = await db_.load_project(db, room_id)
        if project.language != Project().language or project.title:
            return False
        if await db_.script_length(db, room_id):
            return False
        # Chinese scripts are printed on A4: the room's page follows unless it was chosen.
        paper = PageSize.A4 if project.page_size is Project().page_size else project.page_size
        after = dataclasses.replace(project, language="Chinese", page_size=paper)
        await self._story_change(
            db,
            room_id,
            user_id,
            "premise",
            message("event.chinese_room"),
            [project_change(project, after)],
        )
        return True

    async def request_for(self, room_id: int, proposal_id: int) -> tuple[TaskRequest, Sampling]:
        """The model request of a proposal, with its prompt context, and the room's sampling."""
        async with self.store.read() as db:
            proposal = await proposal_in(db, room_id, proposal_id)
            room = await db_.load_room(db, room_id)
            variation = await db_.variation_of(db, room_id, proposal_id)
        beat = next((b for b in room.beats if b.id == proposal.beat_id), None)
        request = TaskRequest(
            proposal.kind, proposal.prompt, proposal.characters, variation=variation
        )
        context = context_for(room, request, self.context_budget, self.token_counter, beat=beat)
        settings = room.settings
        sampling = Sampling(
            temperature=settings.temperature,
            top_p=settings.top_p,
            top_k=settings.top_k,
            repetition_penalty=settings.repetition_penalty,
            max_new_tokens=settings.length,
        )
        return dataclasses.replace(request, context=context), sampling

    async def add_takes(
        self,
        room_id: int,
        proposal_id: int,
        takes: Sequence[GeneratedTake],
        *,
        omitted: Sequence[str] = (),
    ) -> Proposal:
        """Store the generated takes of a proposal (numbered from 1) and open it for votes;
        `ProposalCancelled` when a reset cancelled it meanwhile. `omitted` is what their prompt
        left out for length, which each take's ballot says."""
        if not 1 <= len(takes) <= 5:
            raise BadInput("error.proposal_takes_range")
        async with self._lock(room_id), self.store.write() as db:
            settings = await db_.load_settings(db, room_id)
            proposal = await proposal_in(db, room_id, proposal_id)
            if proposal.status is ProposalStatus.CANCELLED:
                raise ProposalCancelled(proposal_id, proposal.decided_by)
            if proposal.status is not ProposalStatus.GENERATING:
                raise AlreadyDecided(
                    "error.takes_unwanted", proposal=proposal_id, status=proposal.status.value
                )
            for number, generated in enumerate(takes, 1):
                take = stored_take(number, generated)
                take = dataclasses.replace(take, omitted=tuple(omitted))
                await db_.save_take(db, proposal_id, take)
            now = self.clock()
            deadline = None
            if settings.pick_rule is not PickRule.SHOWRUNNER:
                deadline = now + settings.vote_deadline_s
            await db_.update_proposal(
                db, proposal_id, status=ProposalStatus.OPEN, deadline=deadline
            )
            models = ", ".join(dict.fromkeys(t.model for t in takes))
            await self._record(
                db,
                room_id,
                SYSTEM_USER,
                "takes",
                message(
                    "event.takes",
                    takes=counted("take", len(takes)),
                    proposal=proposal_id,
                    models=models,
                ),
                {"proposal": proposal_id},
            )
            return await proposal_in(db, room_id, proposal_id)

    async def fail(self, room_id: int, proposal_id: int, reason: str | Message) -> Proposal:
        """Mark a proposal whose takes could not be generated; `reason` is shown to the room
        (the proposal keeps its English, the log the message)."""
        said = reason if isinstance(reason, Message) else message("event.as_stored", text=reason)
        async with self._lock(room_id), self.store.write() as db:
            proposal = await proposal_in(db, room_id, proposal_id)
            if proposal.status is not ProposalStatus.GENERATING:
                return proposal
            await db_.update_proposal(db, proposal_id, status=ProposalStatus.FAILED, reason=said)
            await self._record(
                db,
                room_id,
                SYSTEM_USER,
                "fail",
                message("event.failed", proposal=proposal_id, reason=said),
                {"proposal": proposal_id},
            )
            return await proposal_in(db, room_id, proposal_id)

    async def generate(
        self, room_id: int, proposal_id: int, *, progress: ProgressCallback | None = None
    ) -> Proposal:
        """Get the takes of a pending proposal from the generator and store them. On failure the
        proposal is marked failed and the error (a `RoomError` the writer can read) is raised;
        when a reset cancelled the proposal while the model wrote, its takes are dropped and
        `ProposalCancelled` is raised. `progress` hears the queue position and the partial
        takes while the model writes."""
        if self.generator is None:
            raise RuntimeError("this room service has no take generator")
        request, sampling = await self.request_for(room_id, proposal_id)
        async with self.store.read() as db:
            proposal = await proposal_in(db, room_id, proposal_id)
        try:
            takes = await self.generator.generate(
                request,
                proposal.n,
                sampling,
                room_id=room_id,
                user_id=proposal.requested_by,
                on_progress=progress,
            )
        except RoomError as err:
            await self.fail(room_id, proposal_id, err.message)
            raise
        except model_errors.GenerationError as err:
            # The generation side's errors carry the writer's sentence; the front ends only
            # know `RoomError`, so they are passed on as one.
            busy = (model_errors.QueueFull, model_errors.TooManyRequests)
            said = message(model_error_key(err), reason=str(err))
            await self.fail(room_id, proposal_id, said)
            kind = QueueFull if isinstance(err, busy) else GenerationFailed
            raise kind(said) from err
        except asyncio.CancelledError:
            await asyncio.shield(
                self.fail(room_id, proposal_id, message("error.request_cancelled"))
            )
            raise
        except Exception as err:
            _log.exception("generating takes for proposal %s failed", proposal_id)
            failure = GenerationFailed("error.generation_failed")
            await self.fail(room_id, proposal_id, failure.message)
            raise failure from err
        if not takes:
            failure = GenerationFailed("error.no_takes")
            await self.fail(room_id, proposal_id, failure.message)
            raise failure
        return await self.add_takes(room_id, proposal_id, takes, omitted=request.context.omitted)

    async def ask(
        self,
        room_id: int,
        user_id: int,
        kind: str,
        prompt: str = "",
        characters: Sequence[str] = (),
        *,
        n: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Proposal:
        """`propose` and `generate` in one call: the proposal with its takes, open for votes."""
        proposal = await self.propose(room_id, user_id, kind, prompt, characters, n=n)
        return await self.generate(room_id, proposal.id, progress=progress)

    async def reroll(
        self,
        room_id: int,
        user_id: int,
        proposal_id: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> Proposal:
        """Withdraw an open (or expired, or failed) proposal's takes and ask again: a new pending
        proposal for the same request, which `generate` then fills. Only the writer who asked
        for the proposal or a showrunner may."""
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            old = await proposal_in(db, room_id, proposal_id)
            if old.status is ProposalStatus.GENERATING:
                raise NotReady("error.takes_being_written", proposal=proposal_id)
            if old.status in (ProposalStatus.DECIDED, ProposalStatus.REROLLED):
                raise AlreadyDecided(closed_sentence(old))
            _owner_or_showrunner(settings, old, user_id, (tuple(roles), is_showrunner), "reroll")
            new_id = await db_.insert_proposal(
                db,
                room_id=room_id,
                kind=old.kind,
                requested_by=user_id,
                prompt=old.prompt,
                characters=old.characters,
                n=old.n,
                beat_id=old.beat_id,
                at=self.clock(),
            )
            await db_.update_proposal(
                db, proposal_id, status=ProposalStatus.REROLLED, rerolled_as=new_id
            )
            await self._record(
                db,
                room_id,
                user_id,
                "reroll",
                message("event.reroll", proposal=proposal_id, new=new_id),
                {"proposal": proposal_id, "new": new_id},
            )
            return await proposal_in(db, room_id, new_id)

    async def take_to_edit(
        self,
        room_id: int,
        user_id: int,
        proposal_id: int,
        take: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> tuple[Proposal, Take]:
        """The proposal and take `user_id` may edit now; the sentence why not otherwise (asked
        before a front end opens a form, so nobody writes a version that would be refused)."""
        async with self.store.read() as db:
            return await _editable(
                db, room_id, user_id, proposal_id, take, (tuple(roles), is_showrunner)
            )

    async def edit_take(
        self,
        room_id: int,
        user_id: int,
        proposal_id: int,
        take: int,
        text: str,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
    ) -> TakeEdit:
        """Replace an open proposal's take by the writer's version (in the form `take_text`
        shows); only the writer who asked for the proposal or a showrunner may. The votes for
        that take are cleared (see the module's docstring); when it goes in, it is attributed as
        edited by them."""
        rights = (tuple(roles), is_showrunner)
        async with self._lock(room_id):
            async with self.store.read() as db:
                proposal, original = await _editable(
                    db, room_id, user_id, proposal_id, take, rights
                )
            # Parsing and linting the writer's text is CPU work: off the event loop, and outside
            # the store's transaction, which every room waits for.
            edited = await asyncio.to_thread(edited_take, proposal.kind, original, text, user_id)
            async with self.store.write() as db:
                proposal, original = await _editable(
                    db, room_id, user_id, proposal_id, take, rights
                )
                if dataclasses.replace(edited, edited_by=original.edited_by) == original:
                    return TakeEdit(original, proposal, changed=False)
                cleared = tuple(v for v in proposal.votes if v.take == take)
                for vote in cleared:
                    await db_.delete_vote(db, proposal_id, vote.user_id)
                await db_.save_take(db, proposal_id, edited)
                summary = (
                    message(
                        "event.edit_take_cleared",
                        take=take,
                        proposal=proposal_id,
                        votes=counted("vote", len(cleared)),
                    )
                    if cleared
                    else message("event.edit_take", take=take, proposal=proposal_id)
                )
                await self._record(
                    db,
                    room_id,
                    user_id,
                    "edit_take",
                    summary,
                    {
                        "proposal": proposal_id,
                        "take": take,
                        "cleared": [v.user_id for v in cleared],
                    },
                )
                return TakeEdit(edited, await proposal_in(db, room_id, proposal_id), cleared)

    async def record_ballot(
        self, room_id: int, proposal_id: int, channel_id: int, message_id: int
    ) -> Proposal:
        """Remember where the proposal's takes were put to the vote (the front end posted its
        ballot, or posted it again), so that the ballot is found after a restart: to show the
        decision on it and to count reactions on it."""
        return await self._record_posted(room_id, proposal_id, "ballot", channel_id, message_id)

    async def record_progress(
        self, room_id: int, proposal_id: int, channel_id: int, message_id: int
    ) -> Proposal:
        """Remember where the wait for the proposal's takes is shown, so that a restarted bot,
        which writes the takes again, can say so in that message."""
        return await self._record_posted(room_id, proposal_id, "progress", channel_id, message_id)

    async def _record_posted(
        self, room_id: int, proposal_id: int, kind: str, channel_id: int, message_id: int
    ) -> Proposal:
        place = PostedMessage(channel_id, message_id)
        async with self._lock(room_id), self.store.write() as db:
            proposal = await proposal_in(db, room_id, proposal_id)
            if getattr(proposal, kind) != place:
                await db_.set_posted(db, proposal_id, kind, place)
        if kind == "ballot":
            return dataclasses.replace(proposal, ballot=place)
        return dataclasses.replace(proposal, progress=place)

    async def picked_proposal(self, room_id: int, event_id: int) -> Proposal | None:
        """The proposal whose decided take the event `event_id` put in (None when that event
        was no pick): what an undo or redo of it changed besides the story."""
        if not storable(event_id):
            return None
        async with self.store.read() as db:
            try:
                event, payload = await db_.load_event(db, event_id)
            except LookupError:
                return None
            if event.room_id != room_id or event.kind != "pick":
                return None
            return await proposal_in(db, room_id, payload["proposal"])

    async def ballot_proposal(self, message_id: int) -> Proposal | None:
        """The proposal whose ballot is the message `message_id` (None for any other message)."""
        if not storable(message_id):
            return None
        async with self.store.read() as db:
            proposal_id = await db_.proposal_of_ballot(db, message_id)
            return None if proposal_id is None else await db_.load_proposal(db, proposal_id)


async def _editable(
    db: aiosqlite.Connection,
    room_id: int,
    user_id: int,
    proposal_id: int,
    take: int,
    rights: tuple[tuple[int, ...], bool],
) -> tuple[Proposal, Take]:
    """The open proposal and its take `take`, when `user_id` may edit it."""
    proposal = await open_proposal(db, room_id, proposal_id, take)
    settings = await db_.load_settings(db, room_id)
    _owner_or_showrunner(settings, proposal, user_id, rights, "edit")
    original = proposal.take(take)
    assert original is not None
    return proposal, original


#: The catalogue key of each error of the generation side, most specific first. English passes
#: the generation side's own sentence on (`reason`); another language says it in its words.
_MODEL_ERROR_KEYS: tuple[tuple[type[model_errors.GenerationError], str], ...] = (
    (model_errors.QueueFull, "error.model_busy"),
    (model_errors.TooManyRequests, "error.model_too_many"),
    (model_errors.QueueTimeout, "error.model_queue_timeout"),
    (model_errors.GenerationTimeout, "error.model_timeout"),
    (model_errors.GenerationCancelled, "error.model_cancelled"),
    (model_errors.QueueClosed, "error.model_closed"),
    (model_errors.OutOfMemory, "error.model_out_of_memory"),
    (model_errors.RequestTooLong, "error.model_too_long"),
    (model_errors.BadSampling, "error.model_bad_sampling"),
)


def model_error_key(err: model_errors.GenerationError) -> str:
    """The catalogue key that words `err` for a writer."""
    return next((key for kind, key in _MODEL_ERROR_KEYS if isinstance(err, kind)), "error.model")


def _owner_or_showrunner(
    settings: RoomSettings,
    proposal: Proposal,
    user_id: int,
    rights: tuple[tuple[int, ...], bool],
    doing: str,
) -> None:
    """`NotAllowed` unless `user_id` asked for the proposal or is a showrunner."""
    roles, flag = rights
    if user_id != proposal.requested_by and not settings.is_showrunner(user_id, roles, flag):
        raise NotAllowed(f"error.owner_or_showrunner.{doing}", proposal=proposal.id)
