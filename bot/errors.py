"""Errors a writer can hit in the room, each carrying the sentence the writer sees.

`str()` of every `RoomError` is one or two plain sentences meant to be shown as they are,
ephemerally, in Discord or on the console; the one error handler of each front end maps `RoomError`
to a reply and treats anything else as a bug (logged with its traceback, answered with a short
apology). This module knows nothing of Discord, the model or SQLite.
"""

from __future__ import annotations


class RoomError(Exception):
    """Base class: something the writer asked for cannot be done; `str()` says why."""


class NotAllowed(RoomError):
    """The writer lacks the right (e.g. a showrunner is needed)."""


class BadInput(RoomError):
    """What the writer typed cannot be used (too long, empty, not a screenplay...)."""


class NotFound(RoomError):
    """The proposal, take, character, location, beat or line named does not exist."""


class AlreadyDecided(RoomError):
    """A vote, pick or edit arrived after its proposal was decided or closed."""


class NotReady(RoomError):
    """The proposal has no takes yet (they are still being generated)."""


class NothingToUndo(RoomError):
    """Undo or redo was asked for with nothing to undo or redo."""


class QueueFull(RoomError):
    """The generation queue cannot take another request now (raised by the generation side)."""


class GenerationFailed(RoomError):
    """The model could not produce takes for a proposal (raised by the generation side)."""
