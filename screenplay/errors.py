"""Errors of the screenplay package. `str()` of each is one sentence a writer can read."""

from __future__ import annotations


class ScreenplayError(ValueError):
    """Base class: something about a screenplay file or text cannot be handled.

    `str()` is the English sentence; `kind` names what went wrong (`"fdx_cut_off"`, `""` when
    unnamed) and `fields` carries its particulars (`line=3`), so that a program which speaks
    another language can word the same error itself (the bot's catalogues have a sentence for
    each `kind`)."""

    def __init__(self, message: str, *, kind: str = "", **fields: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.fields = fields


class FormatError(ScreenplayError):
    """Input that is not a readable screenplay in the claimed format (malformed XML, binary...)."""


class FileError(ScreenplayError):
    """A file that cannot be read as a script or written as an export: missing, a folder, a
    device or a pipe, too big, not permitted. `str()` names the file and says why."""
