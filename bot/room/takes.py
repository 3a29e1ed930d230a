"""Takes as the room stores them: a generated take cleaned and capped (model output is as
untrusted as a writer's), a writer's edit of a take (and what the edit did, `TakeEdit`), and
character sheets read from text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from bot.domain import (
    LIMITS,
    CharacterEntry,
    Proposal,
    Take,
    Vote,
    clean_text,
    cue_name,
    strip_controls,
)
from bot.errors import (
    BadInput,
)
from bot.messages import Message, counted, message
from bot.room.text import SCRIPT_KINDS, parse_script, sheet_line
from model.tasks import SHEET_FIELDS, GeneratedTake, TaskKind


def stored_take(number: int, generated: GeneratedTake) -> Take:
    """A generated take as stored: control characters removed and lengths capped, because model
    output is as untrusted as a writer's."""

    def clean(text: str, limit: str = "fountain") -> str:
        return strip_controls(text)[: LIMITS[limit]].strip()

    sheet = None
    if generated.sheet is not None:
        entry = generated.sheet
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


@dataclasses.dataclass(frozen=True, slots=True)
class TakeEdit:
    """What a writer's edit of a take did: the take as it reads now, its proposal as it stands
    now, and the votes the edit cleared (they were cast for the text before it). An edit that
    changes nothing (`changed` False) clears nothing."""

    take: Take
    proposal: Proposal
    cleared: tuple[Vote, ...] = ()
    changed: bool = True

    def naming(self, by: str) -> Message:
        """The sentence that tells the room, `by` being the editor as the front end names them
        (a mention in Discord, a name on the console)."""
        number = self.take.number
        if not self.changed:
            return message("reply.take_unchanged", take=number)
        count = len(self.cleared)
        if not count:
            return message("reply.take_edited", take=number, by=by)
        return message(
            "reply.take_edited_cleared", take=number, by=by, votes=counted("cleared_vote", count)
        )


def edited_take(kind: TaskKind, take: Take, text: str, user_id: int) -> Take:
    """`take` replaced by the writer's version `text` (in the form `take_text` shows); parsing
    it is CPU work proportional to the text, so the room runs this off the event loop."""
    cleaned = clean_text(text, "take", "fountain")
    if not cleaned:
        raise BadInput("error.edited_take_empty")
    # The writer's version is theirs: the model's problems no longer hold it back from a vote.
    edited = dataclasses.replace(take, edited_by=user_id, problems=())
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
        return dataclasses.replace(edited, sheet=parse_sheet(cleaned))
    return dataclasses.replace(edited, beat=beat_text(cleaned))


def parse_sheet(text: str) -> CharacterEntry:
    """A character sheet in the form `take_text` writes: name line, then `Field: value` lines,
    the field named in any language the bot speaks and the colon ASCII or full-width (`Role:
    pilot`, `身份：飞行员`); a line without a known field continues the previous value."""
    first, *rest = text.splitlines()
    fields: dict[str, str] = {}
    current: str | None = None
    for line in rest:
        found = sheet_line(line)
        if found is not None:
            current, value = found
            fields[current] = value
        elif current is not None:
            fields[current] = f"{fields[current]}\n{line}".strip()
        elif line.strip():
            raise BadInput(
                "error.sheet_lines", fields=[message(f"field.{f}") for f in SHEET_FIELDS]
            )
    return CharacterEntry(cue_name(first.removeprefix("Name:")), **clean_sheet(fields))


def unparsed_sheet(text: str) -> CharacterEntry:
    """The entry for a character take that came without a parsed sheet: its first line as the
    name (when it is one), everything as the description."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    name = " ".join(first.split())[: LIMITS["name"]].upper() or "UNNAMED"
    return CharacterEntry(name, description=text[: LIMITS["sheet_field"]])


def clean_sheet(sheet: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(sheet) - set(SHEET_FIELDS))
    if unknown:
        raise BadInput(
            "error.sheet_no_field", unknown=", ".join(unknown), fields=", ".join(SHEET_FIELDS)
        )
    return {k: clean_text(v, k, "sheet_field") for k, v in sheet.items()}


def beat_text(text: str) -> str:
    cleaned = clean_text(text, "beat", "beat")
    if not cleaned:
        raise BadInput("error.beat_empty")
    return cleaned
