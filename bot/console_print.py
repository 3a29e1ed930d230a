"""How the console room prints: screenplay elements laid out like the page, takes, character
sheets, counts, and the progress line a waiting writer sees.

Knows the terminal's columns and the page's indents; nothing of commands or the room's rules.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TextIO

from bot.domain import (
    Beat,
    CharacterEntry,
    Take,
)
from bot.messages import ENGLISH, Lang, counted, message
from bot.room import SCRIPT_KINDS, take_text
from model.tasks import SHEET_FIELDS, Progress, TaskKind
from screenplay.fountain import parse_fountain
from screenplay.layout import ACTION_X, CHAR_WIDTH, paginate
from screenplay.types import Document, Element


def page_text(elements: Sequence[Element], paper: str = "letter") -> str:
    """Screenplay elements as a terminal shows a page: the industry indents in columns from the
    action margin (dialogue 10, parentheticals 16, cues 22), blank lines where the page has them,
    and a rule with the number where a new page starts."""
    body = [page for page in paginate(Document(elements=tuple(elements)), paper) if page.number]
    chunks: list[str] = []
    for page in body:
        rows: dict[int, list[tuple[float, str]]] = {}
        for line in page.lines:
            if line.kind != "page-number" and line.row >= 0:
                rows.setdefault(line.row, []).append((line.x, line.text))
        printed: list[str] = []
        for row in range(max(rows, default=-1) + 1):
            text = ""
            for x, words in sorted(rows.get(row, [])):
                column = max(0, round((x - ACTION_X) / CHAR_WIDTH))
                # Dual dialogue shares a row; a column already passed still gets a space.
                text = (text.ljust(column) if len(text) <= column else text + " ") + words
            printed.append(text.rstrip())
        if chunks:
            chunks.append(f"{'':>52}— {page.number}. —")
        chunks.append("\n".join(printed).strip("\n"))
    return "\n".join(chunks)


def take_block(kind: TaskKind, take: Take, lang: Lang = ENGLISH) -> str:
    """A take as the console prints it: script kinds laid out like the page, others as text
    (a character sheet's fields named in `lang`)."""
    if kind in SCRIPT_KINDS:
        elements = parse_fountain(take.fountain or take.text).elements
        laid_out = page_text(elements) if elements else ""
        if laid_out.strip():
            return laid_out
    return take_text(kind, take, lang)


def rule(title: str, width: int = 72) -> str:
    return f"── {title} " + "─" * max(3, width - len(title) - 4)


def indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def ordinal(n: int, lang: Lang = ENGLISH) -> str:
    if lang != ENGLISH:
        return message("console.ordinal", n=n).render(lang)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class ProgressLine:
    """Shows a request's progress: on a terminal one line rewritten in place (at most ten times
    a second), elsewhere a line when the place in the queue changes and every `every_s` seconds
    while the model writes."""

    def __init__(
        self, out: TextIO, *, tty: bool, takes: int, every_s: float = 10.0, lang: Lang = ENGLISH
    ) -> None:
        self.out = out
        self.lang = lang
        self.tty = tty
        self.takes = takes
        self.every_s = every_s
        self._last_at = 0.0
        self._last_position: int | None = None
        self._shown = False

    def __call__(self, progress: Progress) -> None:
        if progress.done:
            return
        now = time.monotonic()
        moved = progress.position != self._last_position
        interval = 0.1 if self.tty else self.every_s
        if not moved and now - self._last_at < interval:
            return
        self._last_at, self._last_position = now, progress.position
        if progress.position > 0:
            said = message("console.progress_waiting", place=ordinal(progress.position, self.lang))
        else:
            takes = counted("take", self.takes)
            said = message("console.progress_writing", takes=takes, tokens=progress.tokens)
        line = said.render(self.lang)
        if self.tty:
            self.out.write("\r\x1b[K… " + line)
            self._shown = True
        else:
            self.out.write(f"… {line}\n")
        self.out.flush()

    def clear(self) -> None:
        if self._shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._shown = False


def sheet_text(entry: CharacterEntry, lang: Lang = ENGLISH) -> str:
    """A character's sheet, one field a line, the fields named in `lang`."""
    lines = [entry.name]
    for name in SHEET_FIELDS:
        if value := getattr(entry, name):
            label = message(f"field.{name}").render(lang)
            lines.append(f"  {label[:1].upper()}{label[1:]}: {value}")
    return "\n".join(lines)


def beat_line(beat: Beat, lang: Lang = ENGLISH) -> str:
    """A beat of the outline as the console lists it: number, status, text."""
    status = message(f"beat.{beat.status.value}").render(lang)
    return f"{beat.number:>3}. [{status}] {beat.text}"


def count(n: int, noun: str, lang: Lang = ENGLISH) -> str:
    """`n` of `noun` in `lang` (`bot.messages.counted`: `noun` names the catalogue's count)."""
    return counted(noun, n).render(lang)
