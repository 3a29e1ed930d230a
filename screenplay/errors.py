"""Errors of the screenplay package. `str()` of each is one sentence a writer can read."""

from __future__ import annotations


class ScreenplayError(ValueError):
    """Base class: something about a screenplay file or text cannot be handled."""


class FormatError(ScreenplayError):
    """Input that is not a readable screenplay in the claimed format (malformed XML, binary...)."""


class FileError(ScreenplayError):
    """A file that cannot be read as a script or written as an export: missing, a folder, a
    device or a pipe, too big, not permitted. `str()` names the file and says why."""
