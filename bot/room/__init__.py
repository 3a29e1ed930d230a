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
keep at least one showrunner or role. Reset, settings, an explicit pick, a branch, and undoing or
redoing another writer's change need a showrunner; rerolling a proposal or editing its takes
needs the writer who asked for it or a showrunner (an edit clears the votes for that take, and
says so: see `bot.room.proposals`); everything else is open to every writer. The "author" of a
picked take, for undo, is the writer who asked for it.

Numbers a writer types are checked here, whatever the front end: an id or line number beyond
SQLite's signed 64-bit integers names nothing ("There is no proposal #…"), never an internal
error. CPU work proportional to what a writer sends — parsing and linting their text, parsing an
imported file, laying out an export — runs off the event loop (`asyncio.to_thread`).

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

The package knows the rules of the room; it knows nothing of Discord, of SQL text, or of how
takes are generated.
"""

from __future__ import annotations

from bot.room.admin import RoomAdmin
from bot.room.drafts import HISTORY_PAGE, Draft, DraftsAndHistory, HistoryEntry, HistoryPage
from bot.room.proposals import Proposals
from bot.room.reading import Reading
from bot.room.script import SceneView, ScriptRevisions, line_range, numbered_text
from bot.room.steering import Bible, Steering
from bot.room.story import StoryChanges
from bot.room.takes import TakeEdit
from bot.room.text import (
    EXPORT_FORMATS,
    FATAL_LINT,
    IMPORT_LIMIT,
    SCRIPT_KINDS,
    format_lines,
    parse_script,
    read_script_file,
    scene_lines,
    take_text,
)
from bot.room.votes import Votes


class RoomService(
    ScriptRevisions,
    DraftsAndHistory,
    Steering,
    Reading,
    StoryChanges,
    Proposals,
    Votes,
    RoomAdmin,
):
    """The writers' rooms of one database. Safe to share between all rooms of a bot process.

    The one object the front ends call, built from the parts of this package (revising the
    script, history and drafts, reading, story changes, proposals and votes, the room's
    settings); they share the store, the clock and the per-room locks of
    `bot.room.core.RoomCore`."""


__all__ = [
    "EXPORT_FORMATS",
    "FATAL_LINT",
    "HISTORY_PAGE",
    "IMPORT_LIMIT",
    "SCRIPT_KINDS",
    "Bible",
    "Draft",
    "HistoryEntry",
    "HistoryPage",
    "RoomService",
    "SceneView",
    "TakeEdit",
    "format_lines",
    "line_range",
    "numbered_text",
    "parse_script",
    "read_script_file",
    "scene_lines",
    "take_text",
]
