"""The prompt context of a request: what the model should know, cut to a token budget.

`context_for(room, request, budget)` gathers, in this order of priority: the project (always), the
current scene heading and the outline beat in play, the sheets of the characters the request names,
the sheets of the characters who speak in the current scene, then as much of the recent script as
still fits (whole paragraphs and dialogue blocks, newest kept). Whatever did not fit is named in
`PromptContext.omitted` so the reply can tell the room.

Tokens are counted by a pluggable `TokenCounter`; the default is a cheap estimate (a token per
four ASCII characters, one per other character, which is generous for Chinese and Japanese) so that
no tokenizer is needed here. This module knows the room's data and the prompt contract; it knows
nothing of the database, the tokenizer or how prompts are worded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.domain import Beat, BeatStatus, CharacterEntry, Room
from bot.messages import Message, message, recognise
from model.prompts import places_named
from model.takechecks import mention_at
from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest
from screenplay.fountain import to_fountain
from screenplay.stats import split_heading
from screenplay.types import (
    Character,
    Dialogue,
    Document,
    Element,
    Lyrics,
    Parenthetical,
    SceneHeading,
    Text,
)

TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A cheap, generous token count: ASCII text runs about four characters a token."""
    ascii_chars = sum(1 for ch in text if ch < "\x80")
    return -(-ascii_chars // 4) + (len(text) - ascii_chars)


def context_for(
    room: Room,
    request: TaskRequest,
    budget: int,
    counter: TokenCounter = estimate_tokens,
    *,
    beat: Beat | None = None,
) -> PromptContext:
    """The context for `request` within `budget` tokens. `beat` is the outline beat in play; by
    default the first planned beat when the request writes the story on (scene, continue, beat)."""
    project = room.project
    used = counter(
        "\n".join(
            [project.title, project.logline, project.genre, project.tone, project.style_notes]
        )
    )
    omitted: list[str] = []
    elements = [line.element for line in room.script]

    heading = _current_heading(elements)
    if heading is not None:
        used += counter(heading)
    if beat is None and request.kind in (TaskKind.SCENE, TaskKind.CONTINUE, TaskKind.BEAT):
        beat = next((b for b in room.beats if b.status is BeatStatus.PLANNED), None)
    beat_text = beat.text if beat is not None else None
    if beat_text is not None:
        used += counter(beat_text)

    sheets: list[CharacterSheet] = []
    for sheet in _characters_in_play(room, request, elements):
        cost = counter(_sheet_text(sheet))
        if used + cost <= budget:
            sheets.append(sheet)
            used += cost
        else:
            omitted.append(str(message("omitted.sheet", name=sheet.name)))

    recent, dropped = _recent_script(elements, max(budget - used, 0), counter)
    omitted.extend(dropped)
    return PromptContext(
        title=project.title,
        logline=project.logline,
        genre=project.genre,
        tone=project.tone,
        style_notes=project.style_notes,
        language=project.language,
        characters=tuple(sheets),
        scene_heading=heading,
        beat=beat_text,
        recent_script=recent,
        omitted=tuple(omitted),
        cast=tuple(entry.name for entry in room.characters),
        places=_places(room, request, elements),
    )


def _places(room: Room, request: TaskRequest, elements: Sequence[Element]) -> tuple[str, ...]:
    """For a scene: the headings whose place its words name (`places_named`): the script's,
    and the bible's locations whose name is a heading (`INT. HARBOUR DINER`; one without INT.
    or EXT. cannot open a heading); the script's own heading wins for a place in both."""
    if request.kind is not TaskKind.SCENE:
        return ()
    bible = [place.name for place in room.locations if split_heading(place.name)[0]]
    headings = [e.text for e in elements if isinstance(e, SceneHeading)]
    return places_named([*bible, *headings], request.prompt)


def _current_heading(elements: Sequence[Element]) -> str | None:
    for element in reversed(elements):
        if isinstance(element, SceneHeading):
            return element.text
    return None


def _characters_in_play(
    room: Room, request: TaskRequest, elements: Sequence[Element]
) -> list[CharacterEntry]:
    """Bible entries of the characters the request names, then of those its text mentions
    ("Mara tells Tom…", in the order mentioned), then of those speaking in the current scene
    (latest speaker first), each once."""
    names = [name.strip().upper() for name in request.characters]
    names += _mentioned(room.characters, request.prompt)
    for element in reversed(elements):
        if isinstance(element, SceneHeading):
            break
        if isinstance(element, Character):
            names.append(element.name.upper())
    entries: list[CharacterEntry] = []
    for name in dict.fromkeys(names):
        entry = room.character(name)
        if entry is not None:
            entries.append(entry)
    return entries


def _mentioned(characters: Sequence[CharacterEntry], text: str) -> list[str]:
    """The bible's names that `text` mentions (`takechecks.mention_at`), in the order it
    mentions them."""
    found = [(mention_at(text, entry.name), entry.name) for entry in characters]
    return [name for at, name in sorted(found) if at >= 0]


def _sheet_text(sheet: CharacterSheet) -> str:
    return "\n".join(
        [
            sheet.name,
            sheet.role,
            sheet.description,
            sheet.personality,
            sheet.backstory,
            sheet.voice,
            sheet.relationships,
        ]
    )


def _blocks(elements: Sequence[Element]) -> list[list[Element]]:
    """Paragraphs, with a character cue and its dialogue kept together as one block."""
    blocks: list[list[Element]] = []
    for element in elements:
        continues = isinstance(element, Dialogue | Parenthetical | Lyrics)
        if continues and blocks and isinstance(blocks[-1][0], Character):
            blocks[-1].append(element)
        else:
            blocks.append([element])
    return blocks


def _recent_script(
    elements: Sequence[Element], budget: int, counter: TokenCounter
) -> tuple[str, list[str]]:
    """The Fountain of the newest blocks that fit in `budget`, and what was left out.

    Blocks are first chosen by the tokens of their words (rendering each block as Fountain is
    far slower); the chosen tail is then rendered once and, while the markup pushes it over the
    budget, its oldest block is dropped.
    """
    blocks = _blocks(elements)
    kept = 0
    used = 0
    for block in reversed(blocks):
        cost = counter("\n\n".join(_words(e) for e in block)) + len(block)
        if used + cost > budget:
            break
        used += cost
        kept += 1
    while True:
        tail = [e for block in blocks[len(blocks) - kept :] for e in block]
        text = to_fountain(Document(elements=tuple(tail))).strip("\n") if tail else ""
        if not tail or counter(text) <= budget:
            break
        kept -= 1
    left_out = [e for block in blocks[: len(blocks) - kept] for e in block]
    return text, _describe_left_out(left_out, tail)


def _words(element: Element) -> str:
    """The text of an element as a writer reads it (for estimating its cost)."""
    if isinstance(element, Character):
        return element.cue
    text = getattr(element, "text", "")
    return text.source if isinstance(text, Text) else str(text)


def _describe_left_out(left_out: Sequence[Element], kept: Sequence[Element]) -> list[str]:
    if not left_out:
        return []
    if not kept:
        return [str(message("omitted.all"))]
    headings = [e.text for e in left_out if isinstance(e, SceneHeading)]
    starts_mid_scene = not isinstance(kept[0], SceneHeading)
    # When the kept tail starts inside a scene, the last heading left out is that scene's.
    partial = headings.pop() if starts_mid_scene and headings else None
    out = []
    if headings:
        number = "one" if len(headings) == 1 else "many"
        out.append(str(message(f"omitted.scenes.{number}", n=len(headings))))
    if partial is not None:
        out.append(str(message("omitted.scene_start", heading=partial)))
    elif not headings:
        out.append(str(message("omitted.opening")))
    return out


#: What a prompt can leave out for length, as the take records it (in English).
OMITTED_KEYS = (
    "omitted.sheet",
    "omitted.all",
    "omitted.scenes.one",
    "omitted.scenes.many",
    "omitted.scene_start",
    "omitted.opening",
)


def left_out(omitted: Sequence[str]) -> list[str | Message]:
    """What a take's prompt left out for length (`GeneratedTake.omitted`, stored in English),
    each as the message it was made from, so that it reads in the reader's language."""
    return [recognise(said, OMITTED_KEYS) or said for said in omitted]
