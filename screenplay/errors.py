"""Errors of the screenplay package. `str()` of each is one sentence a writer can read."""

from __future__ import annotations


class ScreenplayError(ValueError):
    """Base class: something about a screenplay file or text cannot be handled."""


class FormatError(ScreenplayError):
    """Input that is not a readable screenplay in the claimed format (malformed XML, binary...)."""
