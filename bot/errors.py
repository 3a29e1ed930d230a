"""Errors a writer can hit in the room, each carrying the sentence the writer sees.

Every `RoomError` carries a `Message`: a catalogue key (`bot.messages`) with its fields, so the
front end words it in the reader's language (`render(lang)`); `str()` is the English, one or two
plain sentences meant to be shown as they are, ephemerally, in Discord or on the console. The one
error handler of each front end maps `RoomError` to a reply and treats anything else as a bug
(logged with its traceback, answered with a short apology). This module knows nothing of Discord,
the model or SQLite (`bot.store` says why a database failed in a `DatabaseFailed`).
"""

from __future__ import annotations

from bot.messages import ENGLISH, Lang, Message, en
from screenplay.errors import ScreenplayError


class RoomError(Exception):
    """Base class: something the writer asked for cannot be done; `str()` says why in English,
    `render(lang)` in the reader's language. Raised with a catalogue key and its fields, or
    with a `Message` already made."""

    def __init__(self, key: str | Message, /, **fields: object) -> None:
        self.message = key if isinstance(key, Message) else Message(key, fields)
        super().__init__(self.message.render(ENGLISH))

    def render(self, lang: Lang = ENGLISH) -> str:
        return self.message.render(lang)


class NotAllowed(RoomError):
    """The writer lacks the right (e.g. a showrunner is needed)."""


class BadInput(RoomError):
    """What the writer typed cannot be used (too long, empty, not a screenplay...)."""


class NotFound(RoomError):
    """The proposal, take, character, location, beat or line named does not exist."""


class AlreadyDecided(RoomError):
    """A vote, pick or edit arrived after its proposal was decided or closed."""


class ProposalCancelled(AlreadyDecided):
    """A proposal's takes came in after a reset cancelled it, so they are not kept. Not a
    failure: a front end says it as what happened, naming the showrunner who reset the room
    (`cancelled_by`) its own way with `naming`."""

    def __init__(self, proposal_id: int, cancelled_by: int | None) -> None:
        self.proposal_id = proposal_id
        self.cancelled_by = cancelled_by
        super().__init__(self.naming(None))

    def naming(self, by: str | None) -> Message:
        """The sentence, with `by` the showrunner as the front end names them."""
        if by:
            return Message("error.cancelled_by", {"proposal": self.proposal_id, "by": by})
        return Message("error.cancelled", {"proposal": self.proposal_id})


class NotReady(RoomError):
    """The proposal has no takes yet (they are still being generated)."""


class NothingToUndo(RoomError):
    """Undo or redo was asked for with nothing to undo or redo."""


class QueueFull(RoomError):
    """The generation queue cannot take another request now (raised by the generation side)."""


class GenerationFailed(RoomError):
    """The model could not produce takes for a proposal (raised by the generation side)."""


class DatabaseFailed(RoomError):
    """The room's database could not carry out a command (a full disk, a disk I/O error, a file
    made read-only, a lock held by another program): the command's transaction was rolled back,
    so nothing of it was kept and everything committed before is intact."""


def screenplay_problem(err: ScreenplayError) -> Message:
    """What the screenplay library refused, as a message in the reader's language: the
    catalogue's sentence for the error's `kind` (`screenplay.fdx_cut_off`), filled in with its
    fields; the library's English where the catalogue has no sentence for it."""
    return worded_problem(err, "screenplay", "error.import_unreadable")


def worded_problem(err: Exception, family: str, fallback: str) -> Message:
    """An error of a library that names its `kind` and `fields` (the screenplay library, the
    model loader) as the catalogue words it (`<family>.<kind>`, English passing the library's
    own sentence on as `{reason}`); else `fallback`, whose `{reason}` is the English."""
    kind = str(getattr(err, "kind", "") or "")
    key = f"{family}.{kind}"
    if kind and key in en.MESSAGES:
        return Message(key, {**getattr(err, "fields", {}), "reason": str(err)})
    return Message(fallback, {"reason": str(err)})
