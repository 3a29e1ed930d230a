"""The room service: every command a writers' room can give, as async methods on plain data.

The Discord cogs and the console room both drive this one service; its methods take a `room_id`
(the channel or thread), the acting `user_id` and plain values, and return the domain types of
`bot.domain`. Errors a writer can cause are `bot.errors.RoomError`s carrying the sentence to show.

Concurrency: a lock per room makes one room's commands run one at a time (so a burst of votes is
decided exactly once) while different rooms proceed in parallel; each command is one
`BEGIN IMMEDIATE` transaction of `bot.store`. Generation runs outside the room lock — the room
keeps voting on other proposals while the model writes — and its takes come back through
`add_takes`.

Showrunners: a user is a showrunner of a room when the front end says so (`is_showrunner=True`,
e.g. the Discord permission to manage the channel), when the room's settings list the user, or
when the user holds one of the room's showrunner roles. A room comes into being with the first
command that changes it, and the writer who gave that command becomes its first showrunner — so a
room is never without one, and nobody has to configure anything before writing. Settings always
keep at least one showrunner or role. Reset, settings, an explicit pick, and undoing or redoing
another writer's change need a showrunner; everything else is open to every writer. The "author"
of a picked take, for undo, is the writer who asked for it.

A front end that posts messages records where it put each proposal to the vote
(`record_ballot`: the channel and the ballot's message, kept as `Proposal.ballot`), so that after
a restart it still updates that message when the vote is decided and knows a reaction on it for
a vote (`ballot_proposal`); and where it showed the wait for the takes (`record_progress`, kept
as `Proposal.progress`), so that a restarted bot can say in that message that it writes them
again. A reset returns the proposals it cancelled, for the front end to close their ballots.

Undo and redo replay the event log (see `bot.store.undo_stacks`): they cover the story (project,
bible, locations, outline, script), not votes, proposals or settings. Undoing a pick takes its
lines back out; the proposal stays decided, and `Proposal.pick_undo` (read from the log) says
that its take is out again and who took it out (`picked_proposal` finds the proposal of an
undone or redone pick).

This module knows the rules of the room; it knows nothing of Discord, of SQL text, or of how
takes are generated.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from bot import store as db_
from bot.context import TokenCounter, context_for, estimate_tokens
from bot.domain import (
    LIMITS,
    SHEET_FIELDS,
    SYSTEM_USER,
    Attribution,
    Beat,
    BeatStatus,
    CharacterEntry,
    Event,
    Location,
    PageSize,
    PickRule,
    PostedMessage,
    Project,
    Proposal,
    ProposalStatus,
    Room,
    RoomSettings,
    ScriptLine,
    Take,
    Vote,
    VoteOutcome,
    VoteResult,
    clean_text,
    cue_name,
    strip_controls,
    with_attribution_notes,
)
from bot.errors import (
    AlreadyDecided,
    BadInput,
    GenerationFailed,
    NotAllowed,
    NotFound,
    NothingToUndo,
    NotReady,
    ProposalCancelled,
    QueueFull,
    RoomError,
)
from bot.generation import TakeGenerator
from bot.picking import Decision, decide
from bot.store import Change, Store
from model import errors as model_errors
from model.tasks import GeneratedTake, ProgressCallback, Sampling, TaskKind, TaskRequest
from screenplay.types import Boneyard, Document, Element, SceneHeading

_log = logging.getLogger(__name__)

Clock = Callable[[], float]

#: Kinds whose takes are screenplay text that goes into the script.
SCRIPT_KINDS = (TaskKind.SCENE, TaskKind.DIALOGUE, TaskKind.CONTINUE)

#: Lint problems that make text "not a screenplay": the structure is broken. Other problems (a
#: heading without a time of day, a scene not yet filled, a speaker not in the bible) are normal
#: in a draft written a few lines at a time.
FATAL_LINT = frozenset(
    {"cue-without-dialogue", "dialogue-without-cue", "empty-cue", "unbalanced-parentheses"}
)

EXPORT_FORMATS = ("fountain", "fdx", "pdf", "html")

_MAX_CHARACTERS_PER_REQUEST = 10


class RoomService:
    """The writers' rooms of one database. Safe to share between all rooms of a bot process."""

    def __init__(
        self,
        store: Store,
        generator: TakeGenerator | None = None,
        *,
        clock: Clock = time.time,
        context_budget: int = 1500,
        token_counter: TokenCounter = estimate_tokens,
    ) -> None:
        self.store = store
        self.generator = generator
        self.clock = clock
        self.context_budget = context_budget
        self.token_counter = token_counter
        self._locks: dict[int, asyncio.Lock] = {}

    def _lock(self, room_id: int) -> asyncio.Lock:
        lock = self._locks.get(room_id)
        if lock is None:
            lock = self._locks[room_id] = asyncio.Lock()
        return lock

    # --- reading ------------------------------------------------------------------------------

    async def room(self, room_id: int) -> Room:
        """Everything the room holds (an empty `Room` with `exists=False` for a new room)."""
        async with self.store.read() as db:
            return await db_.load_room(db, room_id)

    async def show(
        self, room_id: int, start: int = 1, end: int | None = None
    ) -> tuple[ScriptLine, ...]:
        """Script lines `start` to `end` (numbers from 1, both included; `end` None: the rest)."""
        if start < 1 or (end is not None and end < start):
            raise BadInput("Show a range of lines like 1 to 20; lines are numbered from 1.")
        async with self.store.read() as db:
            return await db_.load_script(db, room_id, start, end)

    async def settings(self, room_id: int) -> RoomSettings:
        async with self.store.read() as db:
            return await db_.load_settings(db, room_id)

    async def proposal(self, room_id: int, proposal_id: int) -> Proposal:
        async with self.store.read() as db:
            return await _proposal(db, room_id, proposal_id)

    async def pending_proposals(self, room_id: int | None = None) -> list[Proposal]:
        """Proposals still generating or open to votes (all rooms when `room_id` is None): what a
        restarted bot re-attaches its buttons to and re-queues."""
        async with self.store.read() as db:
            ids = await db_.proposal_ids(
                db, room_id=room_id, statuses=(ProposalStatus.GENERATING, ProposalStatus.OPEN)
            )
            return [p for p in [await db_.load_proposal(db, i) for i in ids] if p is not None]

    async def events(self, room_id: int, limit: int | None = 50) -> tuple[Event, ...]:
        """The room's log, oldest first (the latest `limit` events)."""
        async with self.store.read() as db:
            return await db_.load_events(db, room_id, limit)

    async def export(
        self,
        room_id: int,
        fmt: str,
        *,
        attribution: bool = False,
        names: Mapping[int, str] | None = None,
    ) -> bytes:
        """The script as a file: `fountain`, `fdx`, `pdf` or `html`. With `attribution`, Fountain
        notes say who wrote or picked each run of lines (`names` maps user ids to names)."""
        fmt = fmt.strip().lower()
        if fmt not in EXPORT_FORMATS:
            raise BadInput(f"Export formats are {', '.join(EXPORT_FORMATS)}; not {fmt!r}.")
        room = await self.room(room_id)
        if not room.script:
            raise BadInput("There is no script to export yet.")
        doc = room.document(attribution=attribution, names=names)
        if fmt == "fountain":
            from screenplay.fountain import to_fountain

            return to_fountain(doc).encode("utf-8")
        if fmt == "fdx":
            from screenplay.fdx import to_fdx

            return to_fdx(doc).encode("utf-8")
        if fmt == "pdf":
            from screenplay.pdf import to_pdf

            return to_pdf(doc, room.project.page_size.value)
        from screenplay.html import to_html

        return to_html(doc).encode("utf-8")

    # --- the project, the bible, locations, the outline ---------------------------------------

    async def set_premise(
        self,
        room_id: int,
        user_id: int,
        *,
        title: str | None = None,
        logline: str | None = None,
        genre: str | None = None,
        tone: str | None = None,
        style_notes: str | None = None,
        language: str | None = None,
        page_size: str | None = None,
    ) -> Project:
        """Change any of the project's fields (those given); undoable."""
        changes: dict[str, Any] = {}
        for name, value, multiline in (
            ("title", title, False),
            ("logline", logline, True),
            ("genre", genre, False),
            ("tone", tone, False),
            ("style_notes", style_notes, True),
            ("language", language, False),
        ):
            if value is not None:
                label = name.replace("_", " ")
                changes[name] = clean_text(value, label, name, multiline=multiline)
        if page_size is not None:
            try:
                changes["page_size"] = PageSize(page_size.strip().lower())
            except ValueError:
                raise BadInput("The page size is letter or a4.") from None
        if "language" in changes and not changes["language"]:
            raise BadInput("The language cannot be empty.")
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await db_.load_project(db, room_id)
            after = dataclasses.replace(before, **changes)
            if after != before:
                what = ", ".join(k.replace("_", " ") for k in changes)
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "premise",
                    f"set the {what}",
                    [_project_change(before, after)],
                )
            return after

    async def add_character(
        self, room_id: int, user_id: int, name: str, **sheet: str
    ) -> CharacterEntry:
        """Put a character in the bible; `sheet` holds any of role, description, personality,
        backstory, voice, relationships."""
        entry = CharacterEntry(cue_name(name), **_clean_sheet(sheet))
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await _character(db, room_id, entry.name) is not None:
                raise BadInput(f"{entry.name} is already in the bible; edit the entry instead.")
            await self._story_change(
                db,
                room_id,
                user_id,
                "character",
                f"added {entry.name} to the bible",
                [_entry_change("character", None, entry)],
            )
            return entry

    async def edit_character(
        self, room_id: int, user_id: int, name: str, *, new_name: str | None = None, **sheet: str
    ) -> CharacterEntry:
        """Change fields of a bible entry (and with `new_name`, its cue name)."""
        key = cue_name(name)
        changes = _clean_sheet(sheet)
        if new_name is not None:
            changes["name"] = cue_name(new_name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await _character(db, room_id, key)
            if before is None:
                raise NotFound(f"{key} is not in the bible.")
            after = dataclasses.replace(before, **changes)
            if after.name != before.name and await _character(db, room_id, after.name):
                raise BadInput(f"{after.name} is already in the bible.")
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "character",
                    f"edited {before.name} in the bible",
                    [_entry_change("character", before, after)],
                )
            return after

    async def remove_character(self, room_id: int, user_id: int, name: str) -> None:
        key = cue_name(name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await _character(db, room_id, key)
            if before is None:
                raise NotFound(f"{key} is not in the bible.")
            await self._story_change(
                db,
                room_id,
                user_id,
                "character",
                f"removed {key} from the bible",
                [_entry_change("character", before, None)],
            )

    async def add_location(
        self, room_id: int, user_id: int, name: str, description: str = ""
    ) -> Location:
        location = Location(
            _location_name(name), clean_text(description, "description", "description")
        )
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await _location(db, room_id, location.name) is not None:
                raise BadInput(f"{location.name} is already a location; edit it instead.")
            await self._story_change(
                db,
                room_id,
                user_id,
                "location",
                f"added the location {location.name}",
                [_entry_change("location", None, location)],
            )
            return location

    async def edit_location(
        self,
        room_id: int,
        user_id: int,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
    ) -> Location:
        key = _location_name(name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await _location(db, room_id, key)
            if before is None:
                raise NotFound(f"{key} is not a location of this room.")
            after = Location(
                _location_name(new_name) if new_name is not None else before.name,
                clean_text(description, "description", "description")
                if description is not None
                else before.description,
            )
            if after.name != before.name and await _location(db, room_id, after.name):
                raise BadInput(f"{after.name} is already a location.")
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "location",
                    f"edited the location {before.name}",
                    [_entry_change("location", before, after)],
                )
            return after

    async def remove_location(self, room_id: int, user_id: int, name: str) -> None:
        key = _location_name(name)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            before = await _location(db, room_id, key)
            if before is None:
                raise NotFound(f"{key} is not a location of this room.")
            await self._story_change(
                db,
                room_id,
                user_id,
                "location",
                f"removed the location {key}",
                [_entry_change("location", before, None)],
            )

    async def add_beat(self, room_id: int, user_id: int, text: str) -> Beat:
        """Add a planned beat at the end of the outline."""
        text = _beat_text(text)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            record = await db_.new_beat_record(db, room_id, text)
            await self._story_change(
                db,
                room_id,
                user_id,
                "beat",
                f"added the beat {_quote(text)}",
                [{"op": "beat", "before": None, "after": record}],
            )
            return next(b for b in await db_.load_beats(db, room_id) if b.id == record["id"])

    async def edit_beat(
        self,
        room_id: int,
        user_id: int,
        number: int,
        *,
        text: str | None = None,
        status: str | None = None,
    ) -> Beat:
        """Change beat `number` (from 1): its text, or its status (planned / written)."""
        new_text = _beat_text(text) if text is not None else None
        try:
            new_status = BeatStatus(status.strip().lower()) if status is not None else None
        except ValueError:
            raise BadInput("A beat is planned or written.") from None
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            beat = await _beat(db, room_id, number)
            before = await db_.beat_record(db, room_id, beat.id)
            after = dict(before)
            if new_text is not None:
                after["text"] = new_text
            if new_status is not None:
                after["status"] = new_status.value
            if after != before:
                await self._story_change(
                    db,
                    room_id,
                    user_id,
                    "beat",
                    f"edited beat {number}",
                    [{"op": "beat", "before": before, "after": after}],
                )
            return next(b for b in await db_.load_beats(db, room_id) if b.id == beat.id)

    async def remove_beat(self, room_id: int, user_id: int, number: int) -> None:
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            beat = await _beat(db, room_id, number)
            before = await db_.beat_record(db, room_id, beat.id)
            await self._story_change(
                db,
                room_id,
                user_id,
                "beat",
                f"removed beat {number} {_quote(beat.text)}",
                [{"op": "beat", "before": before, "after": None}],
            )

    # --- the script -----------------------------------------------------------------------------

    async def write(
        self, room_id: int, user_id: int, fountain: str, *, after: int | None = None
    ) -> tuple[ScriptLine, ...]:
        """Put the writer's own Fountain lines into the script: at the end, or after line
        `after` (0: at the very start). Refused, with the lint message, when the text is not a
        screenplay."""
        text = clean_text(fountain, "text", "fountain")
        if not text:
            raise BadInput("There is nothing to add: the text is empty.")
        elements = parse_script(text)
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            length = await db_.script_length(db, room_id)
            if after is None:
                after = length
            if not 0 <= after <= length:
                raise BadInput(f"The script has {length} lines; write after line 0 to {length}.")
            anchor = await db_.line_id_at(db, room_id, after)
            event_id = await db_.next_event_id(db)
            change = await _insert_change(
                db, anchor, elements, event_id, Attribution(written_by=user_id)
            )
            summary = f"wrote {_lines(len(elements))}"
            if after < length:
                summary += f" after line {after}"
            await self._story_change(
                db, room_id, user_id, "write", summary, [change], event_id=event_id
            )
            return await db_.load_script(db, room_id, after + 1, after + len(elements))

    async def import_script(
        self, room_id: int, user_id: int, filename: str, data: bytes
    ) -> tuple[ScriptLine, ...]:
        """Make a .fountain or .fdx file the script of a room that has none yet, as one change
        (one undo). The file's title becomes the project's title when the room has none."""
        document = read_script_file(filename, data)
        elements = tuple(e for e in document.elements if not isinstance(e, Boneyard))
        if not elements:
            raise BadInput(f"{filename} has no screenplay lines to import.")
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            if await db_.script_length(db, room_id):
                raise BadInput(
                    "This room already has a script; a showrunner can reset it first, or branch "
                    "the room to import into a new one."
                )
            event_id = await db_.next_event_id(db)
            changes = [
                await _insert_change(db, None, elements, event_id, Attribution(written_by=user_id))
            ]
            project = await db_.load_project(db, room_id)
            if document.title and not project.title:
                title = clean_text(document.title, "title", "title", multiline=False)
                updated = dataclasses.replace(project, title=title)
                changes.append(_project_change(project, updated))
            await self._story_change(
                db,
                room_id,
                user_id,
                "import",
                f"imported {filename} ({_lines(len(elements))})",
                changes,
                event_id=event_id,
            )
            return await db_.load_script(db, room_id, 1, len(elements))

    async def undo(
        self, room_id: int, user_id: int, *, is_showrunner: bool = False, roles: Sequence[int] = ()
    ) -> Event:
        """Undo the room's latest story change (a showrunner may undo anyone's)."""
        return await self._undo_or_redo(room_id, user_id, is_showrunner, tuple(roles), redo=False)

    async def redo(
        self, room_id: int, user_id: int, *, is_showrunner: bool = False, roles: Sequence[int] = ()
    ) -> Event:
        """Redo the change undone last, as long as nothing new happened since."""
        return await self._undo_or_redo(room_id, user_id, is_showrunner, tuple(roles), redo=True)

    async def _undo_or_redo(
        self, room_id: int, user_id: int, is_showrunner: bool, roles: tuple[int, ...], *, redo: bool
    ) -> Event:
        verb = "redo" if redo else "undo"
        async with self._lock(room_id), self.store.write() as db:
            if not await db_.room_exists(db, room_id):
                raise NothingToUndo(f"There is nothing to {verb}.")
            settings = await db_.load_settings(db, room_id)
            undo_stack, redo_stack = await db_.undo_stacks(db, room_id)
            stack = redo_stack if redo else undo_stack
            if not stack:
                raise NothingToUndo(f"There is nothing to {verb}.")
            target, payload = await db_.load_event(db, stack[-1])
            author = payload.get("author", target.user_id)
            if author != user_id and not settings.is_showrunner(user_id, roles, is_showrunner):
                raise NotAllowed(
                    f"The last change ({target.summary}) is another writer's; "
                    f"only a showrunner can {verb} it."
                )
            changes: list[Change] = payload["changes"]
            if not redo:
                changes = [db_.invert(c) for c in reversed(changes)]
            await db_.apply_changes(db, room_id, changes)
            summary = f"{'redid' if redo else 'undid'}: {target.summary}"
            at = self.clock()
            event_id = await db_.append_event(
                db,
                room_id=room_id,
                user_id=user_id,
                at=at,
                kind=verb,
                summary=summary,
                payload={},
                target=target.id,
            )
            return Event(event_id, room_id, user_id, at, verb, summary, target=target.id)

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
    ) -> Proposal:
        """Ask the model for takes: a pending proposal, waiting for `add_takes` (or use `ask`)."""
        try:
            task = TaskKind(kind.strip().lower())
        except ValueError:
            kinds = ", ".join(k.value for k in TaskKind)
            raise BadInput(f"Ask for one of: {kinds}.") from None
        prompt = clean_text(prompt, "request", "prompt")
        if not prompt and task not in (TaskKind.CONTINUE, TaskKind.BEAT):
            raise BadInput(f"Say what the {task.value} should be about.")
        if len(characters) > _MAX_CHARACTERS_PER_REQUEST:
            raise BadInput(f"Name at most {_MAX_CHARACTERS_PER_REQUEST} characters.")
        cues = tuple(dict.fromkeys(cue_name(c) for c in characters if c.strip()))
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            count = settings.takes_per_request if n is None else n
            if not 1 <= count <= 5:
                raise BadInput("Ask for 1 to 5 takes.")
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
            await self._log(
                db,
                room_id,
                user_id,
                "propose",
                f"asked for {count} {task.value} take{'s' if count > 1 else ''} "
                f"(proposal #{proposal_id})",
                {"proposal": proposal_id},
            )
            return await _proposal(db, room_id, proposal_id)

    async def request_for(self, room_id: int, proposal_id: int) -> tuple[TaskRequest, Sampling]:
        """The model request of a proposal, with its prompt context, and the room's sampling."""
        async with self.store.read() as db:
            proposal = await _proposal(db, room_id, proposal_id)
            room = await db_.load_room(db, room_id)
        beat = next((b for b in room.beats if b.id == proposal.beat_id), None)
        request = TaskRequest(proposal.kind, proposal.prompt, proposal.characters)
        context = context_for(room, request, self.context_budget, self.token_counter, beat=beat)
        sampling = Sampling(
            temperature=room.settings.temperature, max_new_tokens=room.settings.length
        )
        return dataclasses.replace(request, context=context), sampling

    async def add_takes(
        self, room_id: int, proposal_id: int, takes: Sequence[GeneratedTake]
    ) -> Proposal:
        """Store the generated takes of a proposal (numbered from 1) and open it for votes;
        `ProposalCancelled` when a reset cancelled it meanwhile."""
        if not 1 <= len(takes) <= 5:
            raise BadInput("A proposal has 1 to 5 takes.")
        async with self._lock(room_id), self.store.write() as db:
            settings = await db_.load_settings(db, room_id)
            proposal = await _proposal(db, room_id, proposal_id)
            if proposal.status is ProposalStatus.CANCELLED:
                raise ProposalCancelled(proposal_id, proposal.decided_by)
            if proposal.status is not ProposalStatus.GENERATING:
                raise AlreadyDecided(
                    f"Proposal #{proposal_id} is {proposal.status.value}; its takes are no longer "
                    "wanted."
                )
            for number, generated in enumerate(takes, 1):
                await db_.save_take(db, proposal_id, _take_from_generated(number, generated))
            now = self.clock()
            deadline = None
            if settings.pick_rule is not PickRule.SHOWRUNNER:
                deadline = now + settings.vote_deadline_s
            await db_.update_proposal(
                db, proposal_id, status=ProposalStatus.OPEN, deadline=deadline
            )
            models = ", ".join(dict.fromkeys(t.model for t in takes))
            await self._log(
                db,
                room_id,
                SYSTEM_USER,
                "takes",
                f"{_takes(len(takes))} of proposal #{proposal_id} came in from {models}",
                {"proposal": proposal_id},
            )
            return await _proposal(db, room_id, proposal_id)

    async def fail(self, room_id: int, proposal_id: int, reason: str) -> Proposal:
        """Mark a proposal whose takes could not be generated; `reason` is shown to the room."""
        async with self._lock(room_id), self.store.write() as db:
            proposal = await _proposal(db, room_id, proposal_id)
            if proposal.status is not ProposalStatus.GENERATING:
                return proposal
            await db_.update_proposal(db, proposal_id, status=ProposalStatus.FAILED, reason=reason)
            await self._log(
                db,
                room_id,
                SYSTEM_USER,
                "fail",
                f"proposal #{proposal_id} failed: {reason}",
                {"proposal": proposal_id},
            )
            return await _proposal(db, room_id, proposal_id)

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
        proposal = await self.proposal(room_id, proposal_id)
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
            await self.fail(room_id, proposal_id, str(err))
            raise
        except model_errors.GenerationError as err:
            # The generation side's errors carry the writer's sentence; the front ends only
            # know `RoomError`, so they are passed on as one.
            busy = (model_errors.QueueFull, model_errors.TooManyRequests)
            await self.fail(room_id, proposal_id, str(err))
            raise (QueueFull if isinstance(err, busy) else GenerationFailed)(str(err)) from err
        except asyncio.CancelledError:
            await asyncio.shield(self.fail(room_id, proposal_id, "The request was cancelled."))
            raise
        except Exception as err:
            _log.exception("generating takes for proposal %s failed", proposal_id)
            failure = GenerationFailed("The model could not write takes for this request.")
            await self.fail(room_id, proposal_id, str(failure))
            raise failure from err
        if not takes:
            failure = GenerationFailed("The model returned no takes for this request.")
            await self.fail(room_id, proposal_id, str(failure))
            raise failure
        return await self.add_takes(room_id, proposal_id, takes)

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
            proposal = await _open_proposal(db, room_id, proposal_id, take)
            showrunner = settings.is_showrunner(user_id, tuple(roles), is_showrunner)
            previous = next((v for v in proposal.votes if v.user_id == user_id), None)
            if previous is not None and (previous.take, previous.showrunner) == (take, showrunner):
                return VoteResult(VoteOutcome.UNCHANGED, proposal)
            now = self.clock()
            event_id = await self._log(
                db,
                room_id,
                user_id,
                "vote",
                f"voted for take {take} of proposal #{proposal_id}",
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
            return VoteResult(VoteOutcome.DECIDED, await _proposal(db, room_id, proposal_id), lines)

    async def withdraw_vote(
        self, room_id: int, user_id: int, proposal_id: int, take: int
    ) -> VoteResult:
        """Take back a vote for take `take` (a writer removed their reaction). Nothing changes
        when their vote is for another take by now, or the proposal is no longer open: a
        decided take stays in the script."""
        async with self._lock(room_id), self.store.write() as db:
            proposal = await _proposal(db, room_id, proposal_id)
            vote = next((v for v in proposal.votes if v.user_id == user_id), None)
            if proposal.status is not ProposalStatus.OPEN or vote is None or vote.take != take:
                return VoteResult(VoteOutcome.UNCHANGED, proposal)
            await self._log(
                db,
                room_id,
                user_id,
                "unvote",
                f"withdrew their vote for take {take} of proposal #{proposal_id}",
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
                raise NotAllowed("Only a showrunner can pick a take; vote for it instead.")
            proposal = await _open_proposal(db, room_id, proposal_id, take)
            lines = await self._decide(
                db, proposal, Decision(take, "the showrunner's pick"), user_id
            )
            return VoteResult(VoteOutcome.DECIDED, await _proposal(db, room_id, proposal_id), lines)

    async def reroll(self, room_id: int, user_id: int, proposal_id: int) -> Proposal:
        """Withdraw an open (or expired, or failed) proposal's takes and ask again: a new pending
        proposal for the same request, which `generate` then fills."""
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            old = await _proposal(db, room_id, proposal_id)
            if old.status is ProposalStatus.GENERATING:
                raise NotReady(f"The takes of proposal #{proposal_id} are still being written.")
            if old.status in (ProposalStatus.DECIDED, ProposalStatus.REROLLED):
                raise AlreadyDecided(_closed_sentence(old))
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
            await self._log(
                db,
                room_id,
                user_id,
                "reroll",
                f"rerolled proposal #{proposal_id} as #{new_id}",
                {"proposal": proposal_id, "new": new_id},
            )
            return await _proposal(db, room_id, new_id)

    async def edit_take(
        self, room_id: int, user_id: int, proposal_id: int, take: int, text: str
    ) -> Take:
        """Replace an open proposal's take by the writer's version (in the form `take_text`
        shows). The take keeps its votes; when it goes in, it is attributed as edited by them."""
        async with self._lock(room_id), self.store.write() as db:
            await self._ensure_room(db, room_id, user_id)
            proposal = await _open_proposal(db, room_id, proposal_id, take)
            original = proposal.take(take)
            assert original is not None
            edited = _edited_take(proposal.kind, original, text, user_id)
            await db_.save_take(db, proposal_id, edited)
            await self._log(
                db,
                room_id,
                user_id,
                "edit_take",
                f"edited take {take} of proposal #{proposal_id}",
                {"proposal": proposal_id, "take": take},
            )
            return edited

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
            proposal = await _proposal(db, room_id, proposal_id)
            if getattr(proposal, kind) != place:
                await db_.set_posted(db, proposal_id, kind, place)
        if kind == "ballot":
            return dataclasses.replace(proposal, ballot=place)
        return dataclasses.replace(proposal, progress=place)

    async def picked_proposal(self, room_id: int, event_id: int) -> Proposal | None:
        """The proposal whose decided take the event `event_id` put in (None when that event
        was no pick): what an undo or redo of it changed besides the story."""
        async with self.store.read() as db:
            try:
                event, payload = await db_.load_event(db, event_id)
            except LookupError:
                return None
            if event.room_id != room_id or event.kind != "pick":
                return None
            return await _proposal(db, room_id, payload["proposal"])

    async def ballot_proposal(self, message_id: int) -> Proposal | None:
        """The proposal whose ballot is the message `message_id` (None for any other message)."""
        async with self.store.read() as db:
            proposal_id = await db_.proposal_of_ballot(db, message_id)
            return None if proposal_id is None else await db_.load_proposal(db, proposal_id)

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
                proposal = await _proposal(db, room_id, proposal_id)
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
                        reason="no vote before the deadline",
                    )
                    await self._log(
                        db,
                        room_id,
                        SYSTEM_USER,
                        "expire",
                        f"proposal #{proposal_id} expired without a vote",
                        {"proposal": proposal_id},
                    )
                else:
                    continue
                closed.append(await _proposal(db, room_id, proposal_id))
        return closed

    async def _decide(
        self, db: Any, proposal: Proposal, decision: Decision, picked_by: int
    ) -> tuple[ScriptLine, ...]:
        """Put the decided take in (script, bible, premise or outline) and close the proposal:
        all inside the caller's transaction, so it happens exactly once."""
        take = proposal.take(decision.take)
        assert take is not None
        room_id = proposal.room_id
        event_id = await db_.next_event_id(db)
        changes: list[Change] = []
        added = 0
        start = await db_.script_length(db, room_id) + 1
        if proposal.kind in SCRIPT_KINDS:
            elements = _take_elements(take)
            if elements:
                attribution = Attribution(
                    proposal_id=proposal.id,
                    take=take.number,
                    model=take.model,
                    picked_by=picked_by,
                    edited_by=take.edited_by,
                )
                anchor = await db_.last_line_id(db, room_id)
                changes.append(await _insert_change(db, anchor, elements, event_id, attribution))
                added = len(elements)
            changes += await _beat_written(db, room_id, proposal.beat_id)
        elif proposal.kind is TaskKind.PREMISE:
            before = await db_.load_project(db, room_id)
            # A take the generation side could not split still carries its idea as text.
            after = dataclasses.replace(
                before,
                title=take.title or before.title,
                logline=take.logline or (before.logline if take.title else take.text),
            )
            changes.append(_project_change(before, after))
        elif proposal.kind is TaskKind.CHARACTER:
            entry = take.sheet or _unparsed_sheet(take.text)
            existing = await _character(db, room_id, entry.name)
            changes.append(_entry_change("character", existing, entry))
        else:
            record = await db_.new_beat_record(db, room_id, _beat_text(take.beat or take.text))
            changes.append({"op": "beat", "before": None, "after": record})
        await db_.update_proposal(
            db,
            proposal.id,
            status=ProposalStatus.DECIDED,
            decided_take=take.number,
            decided_by=picked_by,
            decided_at=self.clock(),
            reason=decision.reason,
        )
        await self._story_change(
            db,
            room_id,
            picked_by,
            "pick",
            f"take {take.number} of proposal #{proposal.id} went in ({decision.reason})",
            changes,
            event_id=event_id,
            extra={"proposal": proposal.id, "take": take.number, "author": proposal.requested_by},
        )
        return await db_.load_script(db, room_id, start, start + added - 1) if added else ()

    # --- settings, reset, branch ----------------------------------------------------------------

    async def update_settings(
        self,
        room_id: int,
        user_id: int,
        *,
        is_showrunner: bool = False,
        roles: Sequence[int] = (),
        **changes: Any,
    ) -> RoomSettings:
        """Change the room's settings (showrunners only). `changes` names fields of
        `RoomSettings`: takes_per_request, pick_rule, quorum, vote_deadline_s, temperature,
        length, showrunners, showrunner_roles."""
        known = {f.name for f in dataclasses.fields(RoomSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise BadInput(f"There is no setting called {', '.join(unknown)}.")
        async with self._lock(room_id), self.store.write() as db:
            before = await self._ensure_room(db, room_id, user_id)
            if not before.is_showrunner(user_id, tuple(roles), is_showrunner):
                raise NotAllowed("Only a showrunner can change the room's settings.")
            after = _apply_settings(before, changes)
            if after != before:
                await db_.save_settings(db, room_id, after)
                await self._log(
                    db,
                    room_id,
                    user_id,
                    "settings",
                    f"changed the settings ({', '.join(sorted(changes))})",
                    {
                        "before": db_.settings_to_json(before),
                        "after": db_.settings_to_json(after),
                    },
                )
            return after

    async def reset(
        self, room_id: int, user_id: int, *, is_showrunner: bool = False, roles: Sequence[int] = ()
    ) -> list[Proposal]:
        """Empty the room's story (project, bible, locations, outline, script) and cancel its
        pending proposals, which are returned (cancelled by `user_id`) so that a front end can
        close their ballots. Settings and the log stay; this cannot be undone."""
        async with self._lock(room_id), self.store.write() as db:
            settings = await self._ensure_room(db, room_id, user_id)
            if not settings.is_showrunner(user_id, tuple(roles), is_showrunner):
                raise NotAllowed("Only a showrunner can reset the room.")
            await db_.clear_story(db, room_id)
            pending = await db_.proposal_ids(
                db, room_id=room_id, statuses=(ProposalStatus.GENERATING, ProposalStatus.OPEN)
            )
            now = self.clock()
            for proposal_id in pending:
                await db_.update_proposal(
                    db,
                    proposal_id,
                    status=ProposalStatus.CANCELLED,
                    decided_by=user_id,
                    decided_at=now,
                    reason="the room was reset",
                )
            await self._log(db, room_id, user_id, "reset", "reset the room", {})
            return [await _proposal(db, room_id, proposal_id) for proposal_id in pending]

    async def branch(self, room_id: int, user_id: int, new_room_id: int) -> Room:
        """Start room `new_room_id` (e.g. a new Discord thread) from this room's current story
        and settings; the writer who branches becomes one of its showrunners. Pending proposals
        stay with the original room."""
        if new_room_id == room_id:
            raise BadInput("A branch needs a new room.")
        first, second = sorted((room_id, new_room_id))
        async with self._lock(first), self._lock(second), self.store.write() as db:
            if not await db_.room_exists(db, room_id):
                raise NotFound("This room has no story to branch yet.")
            if await db_.room_exists(db, new_room_id):
                raise BadInput("That room already has a story of its own; branch into a new one.")
            now = self.clock()
            settings = await db_.load_settings(db, room_id)
            if user_id not in settings.showrunners and user_id != SYSTEM_USER:
                settings = dataclasses.replace(
                    settings, showrunners=(*settings.showrunners, user_id)
                )
            project = await db_.load_project(db, room_id)
            await db_.create_room(db, new_room_id, now, settings, project, branched_from=room_id)
            event_id = await self._log(
                db,
                new_room_id,
                user_id,
                "branch",
                f"branched from room {room_id}",
                {"from": room_id},
            )
            await db_.copy_story(db, room_id, new_room_id, event_id)
            await self._log(
                db,
                room_id,
                user_id,
                "branched",
                f"branched this room into room {new_room_id}",
                {"to": new_room_id},
            )
            return await db_.load_room(db, new_room_id)

    # --- helpers that write -------------------------------------------------------------------

    async def _ensure_room(self, db: Any, room_id: int, user_id: int) -> RoomSettings:
        """The room's settings; a room that does not exist yet is created with `user_id` as its
        first showrunner."""
        settings = await db_.find_settings(db, room_id)
        if settings is not None:
            return settings
        founder = () if user_id == SYSTEM_USER else (user_id,)
        settings = RoomSettings(showrunners=founder)
        await db_.create_room(db, room_id, self.clock(), settings)
        await self._log(db, room_id, user_id, "open", "opened the room as its showrunner", {})
        return settings

    async def _log(
        self,
        db: Any,
        room_id: int,
        user_id: int,
        kind: str,
        summary: str,
        payload: dict[str, Any],
    ) -> int:
        return await db_.append_event(
            db,
            room_id=room_id,
            user_id=user_id,
            at=self.clock(),
            kind=kind,
            summary=summary,
            payload=payload,
        )

    async def _story_change(
        self,
        db: Any,
        room_id: int,
        user_id: int,
        kind: str,
        summary: str,
        changes: list[Change],
        *,
        event_id: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Apply undoable `changes` and log them as one event."""
        await db_.apply_changes(db, room_id, changes)
        return await db_.append_event(
            db,
            room_id=room_id,
            user_id=user_id,
            at=self.clock(),
            kind=kind,
            summary=summary,
            payload={"changes": changes, **(extra or {})},
            undoable=True,
            event_id=event_id,
        )


# --- text of takes --------------------------------------------------------------------------


def take_text(kind: TaskKind, take: Take) -> str:
    """A take as a writer reads and edits it; `edit_take` accepts the same form back.

    Script kinds: Fountain. Premise: the title on the first line, the logline below. Character:
    the cue name, then `Role: ...`, `Description: ...` lines. Beat: the beat."""
    if kind in SCRIPT_KINDS:
        return take.fountain or take.text
    if kind is TaskKind.PREMISE:
        return f"{take.title}\n{take.logline}".strip() if take.title or take.logline else take.text
    if kind is TaskKind.CHARACTER:
        if take.sheet is None:
            return take.text
        lines = [take.sheet.name]
        for name in SHEET_FIELDS:
            value = getattr(take.sheet, name)
            if value:
                lines.append(f"{name.capitalize()}: {value}")
        return "\n".join(lines)
    return take.beat or take.text


def format_lines(
    lines: Sequence[ScriptLine],
    *,
    attribution: bool = False,
    names: Mapping[int, str] | None = None,
) -> str:
    """Lines of the script as Fountain text, with attribution notes on request."""
    from screenplay.fountain import to_fountain

    elements: list[Element] = (
        with_attribution_notes(list(lines), names)
        if attribution
        else [line.element for line in lines]
    )
    return to_fountain(Document(elements=tuple(elements)))


#: The largest screenplay file a room imports.
IMPORT_LIMIT = 5_000_000


def read_script_file(filename: str, data: bytes) -> Document:
    """A .fountain or .fdx file's document; `BadInput` with one sentence when it is not one."""
    from screenplay.errors import ScreenplayError
    from screenplay.fdx import parse_fdx
    from screenplay.fountain import parse_fountain

    suffix = PurePosixPath(filename.lower()).suffix
    if suffix not in (".fountain", ".fdx"):
        raise BadInput("Import a .fountain or .fdx file.")
    if len(data) > IMPORT_LIMIT:
        raise BadInput(f"{filename} is too large to import (the limit is {IMPORT_LIMIT:,} bytes).")
    try:
        if suffix == ".fdx":
            return parse_fdx(data)
        return parse_fountain(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BadInput(f"{filename} is not UTF-8 text.") from None
    except ScreenplayError as err:
        raise BadInput(str(err)) from None


def scene_lines(script: Sequence[ScriptLine], number: int) -> Sequence[ScriptLine]:
    """The lines of scene `number` (from 1): its heading up to the next heading."""
    starts = [i for i, line in enumerate(script) if isinstance(line.element, SceneHeading)]
    if not 1 <= number <= len(starts):
        count = len(starts)
        raise NotFound(
            f"There is no scene {number}; the script has {count} scene{'s' * (count != 1)}."
        )
    end = starts[number] if number < len(starts) else len(script)
    return script[starts[number - 1] : end]


def parse_script(text: str) -> tuple[Element, ...]:
    """The screenplay elements of a writer's Fountain text; `BadInput` with the lint message when
    the text is not a screenplay."""
    from screenplay.lint import lint

    elements, title_page = _fountain_body(text)
    if title_page:
        raise BadInput(
            "Title page lines (Title:, Author: ...) do not go into the script; set the title "
            "with the premise, or start the text with a scene heading or action."
        )
    if not elements:
        raise BadInput("There is nothing to add: the text has no screenplay lines.")
    problems = [p for p in lint(Document(elements=elements), source=text) if p.code in FATAL_LINT]
    if problems:
        listed = "; ".join(str(p).rstrip(".") for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BadInput(f"That is not a screenplay yet: {listed}{more}.")
    return elements


#: Keys that make the start of a text a real title page rather than a line such as `CUT TO:`.
_TITLE_KEYS = frozenset(
    {"title", "credit", "author", "authors", "source", "draft date", "contact", "copyright"}
)


def _fountain_body(text: str) -> tuple[tuple[Element, ...], bool]:
    """The elements of a Fountain fragment, and whether it began with a real title page.

    In Fountain any `Key:` line at the very start opens a title page, so a fragment starting with
    `CUT TO:` or `FADE IN:` would lose that line to it. Unless the keys are title-page keys, the
    fragment is read again behind an empty boneyard, which no title page can follow, and the
    boneyard is dropped.
    """
    from screenplay.fountain import parse_fountain

    doc = parse_fountain(text)
    if not doc.title_page:
        return doc.elements, False
    if any(entry.key.strip().lower() in _TITLE_KEYS for entry in doc.title_page.entries):
        return doc.elements, True
    elements = parse_fountain("/**/\n\n" + text).elements
    return (elements[1:] if elements[:1] == (Boneyard(""),) else elements), False


def _take_elements(take: Take) -> tuple[Element, ...]:
    """The script elements of a picked take (a title page the model wrote is left out)."""
    return _fountain_body(take.fountain or take.text)[0]


def _take_from_generated(number: int, generated: GeneratedTake) -> Take:
    """A generated take as stored: control characters removed and lengths capped, because model
    output is as untrusted as a writer's."""

    def clean(text: str, limit: str = "fountain") -> str:
        return strip_controls(text)[: LIMITS[limit]].strip()

    sheet = None
    if generated.sheet is not None:
        entry = CharacterEntry.from_sheet(generated.sheet)
        fields = {name: clean(getattr(entry, name), "sheet_field") for name in SHEET_FIELDS}
        sheet = CharacterEntry(clean(entry.name, "name").upper() or "UNNAMED", **fields)
    return Take(
        number=number,
        text=clean(generated.text),
        model=clean(generated.model, "name") or "unknown model",
        fountain=clean(generated.fountain),
        sheet=sheet,
        title=clean(generated.title, "title"),
        logline=clean(generated.logline, "logline"),
        beat=clean(generated.beat, "beat"),
        problems=tuple(clean(p, "prompt") for p in generated.problems),
    )


def _edited_take(kind: TaskKind, take: Take, text: str, user_id: int) -> Take:
    cleaned = clean_text(text, "take", "fountain")
    if not cleaned:
        raise BadInput("An edited take cannot be empty.")
    edited = dataclasses.replace(take, edited_by=user_id)
    if kind in SCRIPT_KINDS:
        parse_script(cleaned)
        return dataclasses.replace(edited, fountain=cleaned)
    if kind is TaskKind.PREMISE:
        title, _, logline = cleaned.partition("\n")
        return dataclasses.replace(
            edited,
            title=clean_text(title, "title", "title", multiline=False),
            logline=clean_text(logline, "logline", "logline"),
        )
    if kind is TaskKind.CHARACTER:
        return dataclasses.replace(edited, sheet=_parse_sheet(cleaned))
    return dataclasses.replace(edited, beat=_beat_text(cleaned))


def _parse_sheet(text: str) -> CharacterEntry:
    """A character sheet in the form `take_text` writes: name line, then `Field: value` lines
    (a line without a known field continues the previous value)."""
    first, *rest = text.splitlines()
    fields: dict[str, str] = {}
    current: str | None = None
    for line in rest:
        key, sep, value = line.partition(":")
        name = key.strip().lower()
        if sep and name in SHEET_FIELDS:
            current = name
            fields[name] = value.strip()
        elif current is not None:
            fields[current] = f"{fields[current]}\n{line}".strip()
        elif line.strip():
            raise BadInput(
                "After the name, write the sheet as lines like 'Role: ...' "
                f"({', '.join(f.capitalize() for f in SHEET_FIELDS)})."
            )
    return CharacterEntry(cue_name(first.removeprefix("Name:")), **_clean_sheet(fields))


def _unparsed_sheet(text: str) -> CharacterEntry:
    """The entry for a character take that came without a parsed sheet: its first line as the
    name (when it is one), everything as the description."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    name = " ".join(first.split())[: LIMITS["name"]].upper() or "UNNAMED"
    return CharacterEntry(name, description=text[: LIMITS["sheet_field"]])


def _clean_sheet(sheet: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(sheet) - set(SHEET_FIELDS))
    if unknown:
        raise BadInput(
            f"A character sheet has no field {', '.join(unknown)}; "
            f"it has {', '.join(SHEET_FIELDS)}."
        )
    return {k: clean_text(v, k, "sheet_field") for k, v in sheet.items()}


def _location_name(name: str) -> str:
    cleaned = clean_text(name, "location name", "location", multiline=False).upper()
    if not cleaned:
        raise BadInput("A location needs a name.")
    return cleaned


def _beat_text(text: str) -> str:
    cleaned = clean_text(text, "beat", "beat")
    if not cleaned:
        raise BadInput("A beat needs some words.")
    return cleaned


def _apply_settings(settings: RoomSettings, changes: Mapping[str, Any]) -> RoomSettings:
    values: dict[str, Any] = {}
    try:
        for name, value in changes.items():
            if name == "pick_rule":
                values[name] = PickRule(str(value).strip().lower())
            elif name in ("showrunners", "showrunner_roles"):
                values[name] = tuple(dict.fromkeys(int(v) for v in value))
            elif name in ("takes_per_request", "quorum", "length"):
                values[name] = int(value)
            else:
                values[name] = float(value)
    except (TypeError, ValueError):
        rules = ", ".join(r.value for r in PickRule)
        raise BadInput(
            f"That value does not fit the setting (pick rules are {rules}; numbers elsewhere)."
        ) from None
    after = dataclasses.replace(settings, **values).validate()
    if not after.showrunners and not after.showrunner_roles:
        raise BadInput("A room needs at least one showrunner or showrunner role.")
    return after


def _entry_change(
    op: str, before: CharacterEntry | Location | None, after: CharacterEntry | Location | None
) -> Change:
    """An undoable change of a bible entry or a location: added (no before), removed (no
    after) or edited."""
    return {
        "op": op,
        "before": None if before is None else dataclasses.asdict(before),
        "after": None if after is None else dataclasses.asdict(after),
    }


def _project_change(before: Project, after: Project) -> Change:
    return {
        "op": "project",
        "before": db_.project_to_dict(before),
        "after": db_.project_to_dict(after),
    }


def _closed_sentence(proposal: Proposal) -> str:
    if proposal.status is ProposalStatus.DECIDED:
        undone = " and was undone since" if proposal.undone_by is not None else ""
        return (
            f"Proposal #{proposal.id} is already decided: take {proposal.decided_take} "
            f"went in{undone}."
        )
    if proposal.status is ProposalStatus.REROLLED:
        return (
            f"Proposal #{proposal.id} was rerolled as #{proposal.rerolled_as}; "
            "vote on the new takes."
        )
    reasons = {
        ProposalStatus.EXPIRED: "expired without a vote",
        ProposalStatus.FAILED: "failed",
        ProposalStatus.CANCELLED: "was cancelled when the room was reset",
    }
    return f"Proposal #{proposal.id} {reasons[proposal.status]}; votes no longer count."


def _quote(text: str, limit: int = 40) -> str:
    line = text.splitlines()[0] if text else ""
    return f"“{line[:limit]}…”" if len(line) > limit or "\n" in text else f"“{line}”"


def _lines(count: int) -> str:
    return "1 line" if count == 1 else f"{count} lines"


def _takes(count: int) -> str:
    return "1 take" if count == 1 else f"{count} takes"


# --- helpers that read inside a transaction ---------------------------------------------------


async def _proposal(db: Any, room_id: int, proposal_id: int) -> Proposal:
    proposal = await db_.load_proposal(db, proposal_id)
    if proposal is None or proposal.room_id != room_id:
        raise NotFound(f"There is no proposal #{proposal_id} in this room.")
    return proposal


async def _open_proposal(db: Any, room_id: int, proposal_id: int, take: int) -> Proposal:
    """The proposal if it is open to votes and has take `take`; otherwise the sentence why not."""
    proposal = await _proposal(db, room_id, proposal_id)
    if proposal.status is ProposalStatus.GENERATING:
        raise NotReady(
            f"The takes of proposal #{proposal_id} are still being written; vote when they appear."
        )
    if proposal.status is not ProposalStatus.OPEN:
        raise AlreadyDecided(_closed_sentence(proposal))
    if proposal.take(take) is None:
        raise NotFound(
            f"Proposal #{proposal_id} has no take {take}; its takes are 1 to {len(proposal.takes)}."
        )
    return proposal


async def _character(db: Any, room_id: int, name: str) -> CharacterEntry | None:
    return next((c for c in await db_.load_characters(db, room_id) if c.name == name), None)


async def _location(db: Any, room_id: int, name: str) -> Location | None:
    return next((x for x in await db_.load_locations(db, room_id) if x.name == name), None)


async def _beat(db: Any, room_id: int, number: int) -> Beat:
    beats = await db_.load_beats(db, room_id)
    if not 1 <= number <= len(beats):
        raise NotFound(
            f"There is no beat {number}; the outline has {len(beats)} beat"
            f"{'' if len(beats) == 1 else 's'}."
        )
    return beats[number - 1]


async def _beat_written(db: Any, room_id: int, beat_id: int | None) -> list[Change]:
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


async def _insert_change(
    db: Any,
    anchor: int | None,
    elements: Sequence[Element],
    event_id: int,
    attribution: Attribution,
) -> Change:
    ids = await db_.next_line_ids(db, len(elements))
    return {
        "op": "insert_lines",
        "after_line": anchor,
        "lines": [
            db_.line_record(line_id, element, event_id, attribution)
            for line_id, element in zip(ids, elements, strict=True)
        ],
    }
