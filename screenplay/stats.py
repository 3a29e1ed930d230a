"""Stats: the figures a producer asks for first — pages, running time, scenes, locations, cast.

Pages come from the page layout itself (`screenplay.layout`), so they match the exported PDF line
for line; the running time follows the one-minute-a-page rule, counting the last page by how much
of it is filled. Locations are read from scene headings (`INT. HOUSE - KITCHEN - NIGHT` is the
place `HOUSE - KITCHEN`, inside, at night); characters from dialogue blocks, counting a speech as
one line (as actors count lines) and only spoken words (dialogue and lyrics, not wrylies).

Words are runs of letters and digits; in Chinese, Japanese and Korean text, which has no spaces,
each character counts as one word. The title page and what is never printed (notes, sections,
synopses, boneyard) are not counted. This module deliberately knows nothing of file formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from screenplay.layout import PAPERS, paginate
from screenplay.types import (
    Action,
    Centered,
    Character,
    Dialogue,
    Document,
    Element,
    Lyrics,
    Parenthetical,
    SceneHeading,
    Transition,
    dialogue_blocks,
)
from screenplay.zh import read_heading

__all__ = ["CharacterStats", "LocationStats", "Stats", "count_words", "stats"]


@dataclass(frozen=True, slots=True)
class LocationStats:
    """A place the script goes: `settings` are the INT./EXT. forms used there (in order of
    appearance), `times` the times of day seen, `scenes` how many scenes play there."""

    name: str
    settings: tuple[str, ...]
    times: tuple[str, ...]
    scenes: int


@dataclass(frozen=True, slots=True)
class CharacterStats:
    """A speaking character: `lines` is the number of speeches (dialogue blocks), `words` the
    words spoken in them."""

    name: str
    lines: int
    words: int


@dataclass(frozen=True, slots=True)
class Stats:
    """Figures for one script. `characters` are sorted by most lines, then most words;
    `locations` by most scenes; ties keep the order of first appearance."""

    paper: str
    pages: int
    runtime_minutes: float
    scenes: int
    words: int
    locations: tuple[LocationStats, ...]
    characters: tuple[CharacterStats, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists, not tuples)."""
        return {
            "paper": self.paper,
            "pages": self.pages,
            "runtime_minutes": self.runtime_minutes,
            "scenes": self.scenes,
            "words": self.words,
            "locations": [
                {
                    "name": place.name,
                    "settings": list(place.settings),
                    "times": list(place.times),
                    "scenes": place.scenes,
                }
                for place in self.locations
            ],
            "characters": [
                {"name": person.name, "lines": person.lines, "words": person.words}
                for person in self.characters
            ],
        }


def stats(doc: Document, paper: str = "letter") -> Stats:
    """Lay `doc` out on `paper` ("letter" or "a4") and count."""
    pages = [page for page in paginate(doc, paper) if page.number is not None]
    paper_size = PAPERS[paper.strip().lower()]
    runtime = 0.0
    if pages:
        last_fill = pages[-1].rows_used / paper_size.lines
        runtime = round(len(pages) - 1 + last_fill, 1)
    return Stats(
        paper=paper_size.name,
        pages=len(pages),
        runtime_minutes=runtime,
        scenes=sum(1 for element in doc.elements if isinstance(element, SceneHeading)),
        words=sum(count_words(_printed_text(element)) for element in doc.elements),
        locations=_locations(doc.elements),
        characters=_characters(doc.elements),
    )


_CJK = "\u3400-\u4dbf\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_WORD = re.compile(r"[^\W_][\w'’\-]*")


def count_words(text: str) -> int:
    """Words in `text`: letter-and-digit runs, each CJK character counting as one."""
    cjk = len(_CJK_CHAR.findall(text))
    return cjk + len(_WORD.findall(_CJK_CHAR.sub(" ", text)))


def _printed_text(element: Element) -> str:
    if isinstance(element, Action | Dialogue | Centered | Lyrics):
        return element.text.plain
    if isinstance(element, SceneHeading | Parenthetical | Transition):
        return element.text
    if isinstance(element, Character):
        return element.cue
    return ""


# --- locations --------------------------------------------------------------------------------

_SETTING = re.compile(
    r"^(?P<setting>INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I\s*/\s*E|INT|EXT|EST)(?:\.|\s|$)\s*",
    re.IGNORECASE,
)


def split_heading(heading: str) -> tuple[str | None, str, str | None]:
    """`INT. HOUSE - KITCHEN - NIGHT` -> ("INT.", "HOUSE - KITCHEN", "NIGHT"); a heading of
    the Chinese convention by its parts (`1-1 日 内 客厅` -> ("内", "客厅", "日"))."""
    heading = " ".join(heading.split())
    zh = read_heading(heading)
    if zh is not None and zh.place:
        return "".join(zh.settings) or None, zh.place, "".join(zh.times) or None
    setting: str | None = None
    match = _SETTING.match(heading)
    if match:
        raw = re.sub(r"[\s.]", "", match.group("setting")).upper()
        setting = {"INT": "INT.", "EXT": "EXT.", "EST": "EST."}.get(raw, "INT./EXT.")
        heading = heading[match.end() :]
    place, dash, time = heading.rpartition(" - ")
    if not dash:
        return setting, heading.strip(" -"), None
    return setting, place.strip(" -"), time.strip() or None


@dataclass
class _Place:
    name: str
    # Sets that keep the order of first appearance (a list was searched for each scene).
    settings: dict[str, None] = field(default_factory=dict)
    times: dict[str, None] = field(default_factory=dict)
    scenes: int = 0


def _locations(elements: tuple[Element, ...]) -> tuple[LocationStats, ...]:
    found: dict[str, _Place] = {}
    for element in elements:
        if not isinstance(element, SceneHeading):
            continue
        setting, name, time = split_heading(element.text)
        if not name:
            continue
        place = found.setdefault(name.casefold(), _Place(name))
        if setting:
            place.settings[setting] = None
        if time:
            place.times[time.upper()] = None
        place.scenes += 1
    ordered = sorted(found.values(), key=lambda place: -place.scenes)
    return tuple(
        LocationStats(place.name, tuple(place.settings), tuple(place.times), place.scenes)
        for place in ordered
    )


# --- characters -------------------------------------------------------------------------------


@dataclass
class _Speaker:
    name: str
    lines: int = 0
    words: int = 0


def _characters(elements: tuple[Element, ...]) -> tuple[CharacterStats, ...]:
    found: dict[str, _Speaker] = {}
    for cue, body in dialogue_blocks(elements):
        if not cue.name.strip():
            continue
        speaker = found.setdefault(cue.name.strip().casefold(), _Speaker(cue.name.strip()))
        spoken = [part for part in body if isinstance(part, Dialogue | Lyrics)]
        if spoken:
            speaker.lines += 1
            speaker.words += sum(count_words(part.text.plain) for part in spoken)
    ordered = sorted(found.values(), key=lambda speaker: (-speaker.lines, -speaker.words))
    return tuple(CharacterStats(s.name, s.lines, s.words) for s in ordered)
