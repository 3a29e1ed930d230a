"""The writers' room in plain data: project, bible, outline, script lines, proposals, settings.

Immutable dataclasses that the room service hands to its callers (the Discord cogs, the console
room, tests) and the rules for what a writer may type (length limits, control characters). This
module knows nothing of SQLite, Discord or the model; `bot.store` persists these types and
`bot.room` changes them.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.errors import BadInput
from bot.messages import ENGLISH, SIMPLIFIED, TRADITIONAL, Lang, Message, lang_of, message, text
from model.tasks import CharacterSheet, TaskKind, is_chinese
from screenplay.types import (
    Character,
    Dialogue,
    Document,
    Element,
    Lyrics,
    Note,
    Parenthetical,
    TitleEntry,
    TitlePage,
)
from screenplay.types import Text as ScreenText

#: The user id of the room itself: deadline decisions and other changes nobody typed.
SYSTEM_USER = 0


class PickRule(enum.StrEnum):
    FIRST = "first"  # the first vote decides (fast brainstorming)
    MAJORITY = "majority"  # a take reaching the quorum, or most votes at the deadline
    SHOWRUNNER = "showrunner"  # only a showrunner decides; other votes are advice


class ProposalStatus(enum.StrEnum):
    GENERATING = "generating"  # asked for; takes not in yet
    OPEN = "open"  # takes in, votes welcome
    DECIDED = "decided"  # a take went in
    EXPIRED = "expired"  # the deadline passed with no vote
    REROLLED = "rerolled"  # replaced by a new proposal for the same request
    FAILED = "failed"  # the model could not produce takes
    CANCELLED = "cancelled"  # the room was reset while it was pending

    @property
    def closed(self) -> bool:
        return self not in (ProposalStatus.GENERATING, ProposalStatus.OPEN)


class BeatStatus(enum.StrEnum):
    PLANNED = "planned"
    WRITTEN = "written"


class PageSize(enum.StrEnum):
    LETTER = "letter"
    A4 = "a4"


# --- input rules ------------------------------------------------------------------------------

#: Longest accepted text per kind of field, in characters.
LIMITS: dict[str, int] = {
    "title": 200,
    "logline": 1000,
    "genre": 100,
    "tone": 200,
    "style_notes": 2000,
    "language": 50,
    "name": 60,
    "sheet_field": 2000,
    "location": 200,
    "description": 2000,
    "beat": 1000,
    "prompt": 2000,
    "fountain": 30000,
}


def strip_controls(text: str) -> str:
    """`text` with Windows and old Mac line ends made `\n`, and every control character but
    newline and tab removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def clean_text(text: str, what: str, limit_key: str, *, multiline: bool = True) -> str:
    """`text` with control characters removed and surrounding whitespace trimmed.

    Newlines and tabs are kept where a field may span lines (they carry meaning in Fountain and in
    a sheet); everything else of Unicode category Cc goes, so a pasted terminal escape or NUL cannot
    reach the database or a PDF. Markdown and any script (Chinese, Arabic...) are the writer's
    text and are kept. `what` names the field in the error a writer sees.
    """
    cleaned = strip_controls(text).strip()
    if not multiline:
        cleaned = " ".join(cleaned.split())  # a line break in a one-line field is a space
    limit = LIMITS[limit_key]
    if len(cleaned) > limit:
        raise BadInput(
            "error.too_long",
            what=message(f"field.{what.replace(' ', '_')}"),
            length=len(cleaned),
            limit=limit,
        )
    return cleaned


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """A vote deadline as writers type it (90s, 10m, 2h, 1d; a bare number is seconds)."""
    match = _DURATION.match(text)
    if match is None:
        raise BadInput("error.deadline_format")
    return float(match[1]) * _UNITS[match[2].lower()]


def cue_name(name: str) -> str:
    """The cue name of a character as the script prints it: upper case, one line."""
    cleaned = clean_text(name, "character name", "name", multiline=False).upper()
    if not cleaned:
        raise BadInput("error.character_name")
    return cleaned


# --- story state ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Project:
    """What the script is: the room's standing description and instructions to the model."""

    title: str = ""
    logline: str = ""
    genre: str = ""
    tone: str = ""
    style_notes: str = ""
    language: str = "English"
    page_size: PageSize = PageSize.LETTER


#: A character of the room's bible: the very sheet the model is shown (one type, no conversion).
CharacterEntry = CharacterSheet


@dataclass(frozen=True, slots=True)
class Location:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Beat:
    """One beat of the outline; `number` is its place in the outline as writers see it (from 1)."""

    id: int
    number: int
    text: str
    status: BeatStatus = BeatStatus.PLANNED


@dataclass(frozen=True, slots=True)
class Attribution:
    """Where a script element came from: written by a writer, or a picked take of a proposal."""

    written_by: int | None = None
    proposal_id: int | None = None
    take: int | None = None
    model: str | None = None
    picked_by: int | None = None
    edited_by: int | None = None
    revised_by: tuple[int, ...] = ()  # writers who revised the line since, oldest first

    def revised(self, user_id: int) -> Attribution:
        """This attribution once `user_id` has revised the line (named once, latest last)."""
        kept = tuple(u for u in self.revised_by if u != user_id)
        return Attribution(
            self.written_by,
            self.proposal_id,
            self.take,
            self.model,
            self.picked_by,
            self.edited_by,
            (*kept, user_id),
        )

    def describe(self, names: Mapping[int, str] | None = None, lang: Lang = ENGLISH) -> str:
        """In words of `lang`: "written by Ana" or "take 2 of proposal #7 (model m), picked by
        Ben" (在中文剧本里："第 7 号提案的候选稿 2（模型 m），由 Ben 选定")."""

        def who(user_id: int) -> str:
            if user_id == SYSTEM_USER:
                return text("attribution.the_room", lang)
            return (names or {}).get(user_id) or text("attribution.user", lang, id=user_id)

        parts: list[str] = []
        if self.written_by is not None:
            parts.append(text("attribution.written_by", lang, who=who(self.written_by)))
        else:
            parts.append(text("attribution.take", lang, take=self.take, proposal=self.proposal_id))
            if self.model:
                parts[0] += text("attribution.model", lang, model=self.model)
            if self.picked_by is not None:
                parts.append(text("attribution.picked_by", lang, who=who(self.picked_by)))
            if self.edited_by is not None:
                parts.append(text("attribution.edited_by", lang, who=who(self.edited_by)))
        if self.revised_by:
            revised = text("list.separator", lang).join(who(u) for u in self.revised_by)
            parts.append(text("attribution.revised_by", lang, who=revised))
        return text("attribution.separator", lang).join(parts)


def script_lang(language: str) -> Lang:
    """The language a room's script is written in (its `language` setting), for words that go
    into the script itself, such as attribution notes: every reader sees the same file."""
    if not is_chinese(language):
        return ENGLISH
    if language.strip() in _TRADITIONAL_NAMES or lang_of(language) == TRADITIONAL:
        return TRADITIONAL
    return SIMPLIFIED


#: Names of Chinese written in traditional characters (a `zh-TW` tag is read by `lang_of`).
_TRADITIONAL_NAMES = frozenset({"國語", "漢語", "華語"})


@dataclass(frozen=True, slots=True)
class ScriptLine:
    """One screenplay element of the script. `number` is its place in the script (from 1), the
    number writers use to show a range or to write after a line; `id` is stable; `event_id` is the
    event of the log that put it there."""

    id: int
    number: int
    element: Element
    attribution: Attribution
    event_id: int


#: The `/room settings` options (console and Discord alike) that set a `RoomSettings` field
#: directly, and the fields they set.
SETTING_FIELDS = {
    "takes": "takes_per_request",
    "pick_rule": "pick_rule",
    "quorum": "quorum",
    "temperature": "temperature",
    "length": "length",
    "top_p": "top_p",
    "top_k": "top_k",
    "repetition_penalty": "repetition_penalty",
}

#: The `/room settings` option that sets each `RoomSettings` field: what the room's log names a
#: changed setting by (`setting.<option>` in the catalogues).
SETTING_OPTIONS = {
    **{setting: flag for flag, setting in SETTING_FIELDS.items()},
    "vote_deadline_s": "deadline",
    "showrunners": "showrunners",
    "showrunner_roles": "showrunners",
}


@dataclass(frozen=True, slots=True)
class RoomSettings:
    takes_per_request: int = 3
    pick_rule: PickRule = PickRule.MAJORITY
    quorum: int = 2
    vote_deadline_s: float = 600.0
    temperature: float = 0.8
    length: int = 384  # most new tokens per take
    top_p: float = 0.95
    top_k: int = 50  # 0 leaves the sampler's top-k off
    repetition_penalty: float = 1.1
    showrunners: tuple[int, ...] = ()  # user ids
    showrunner_roles: tuple[int, ...] = ()  # role ids (a Discord role, a console group)

    def validate(self) -> RoomSettings:
        """Self when every value is in range; `BadInput` with the reason otherwise."""
        if not 1 <= self.takes_per_request <= 5:
            raise BadInput("error.setting_takes")
        if not 1 <= self.quorum <= 100:
            raise BadInput("error.setting_quorum")
        if not 10 <= self.vote_deadline_s <= 7 * 24 * 3600:
            raise BadInput("error.setting_deadline")
        if not 0.0 <= self.temperature <= 2.0:
            raise BadInput("error.setting_temperature")
        if not 16 <= self.length <= 4096:
            raise BadInput("error.setting_length")
        if not 0.0 < self.top_p <= 1.0:
            raise BadInput("error.setting_top_p")
        if not 0 <= self.top_k <= 1000:
            raise BadInput("error.setting_top_k")
        if not 1.0 <= self.repetition_penalty <= 2.0:
            raise BadInput("error.setting_repetition_penalty")
        if len(self.showrunners) + len(self.showrunner_roles) > 50:
            raise BadInput("error.setting_showrunners")
        return self

    def is_showrunner(self, user_id: int, roles: tuple[int, ...] = (), flag: bool = False) -> bool:
        """Whether `user_id` (holding `roles`) runs this room; `flag` is the front end's own say
        (e.g. the Discord permission to manage the channel)."""
        return flag or user_id in self.showrunners or any(r in self.showrunner_roles for r in roles)


@dataclass(frozen=True, slots=True)
class Room:
    """Everything a room holds except its proposals and its event log."""

    id: int
    exists: bool = False
    project: Project = field(default_factory=Project)
    characters: tuple[CharacterEntry, ...] = ()
    locations: tuple[Location, ...] = ()
    beats: tuple[Beat, ...] = ()
    script: tuple[ScriptLine, ...] = ()
    settings: RoomSettings = field(default_factory=RoomSettings)
    branched_from: int | None = None

    def character(self, name: str) -> CharacterEntry | None:
        wanted = name.strip().upper()
        return next((c for c in self.characters if c.name == wanted), None)

    def writers(self, names: Mapping[int, str] | None = None) -> list[str]:
        """The room's writers as the title page credits them, in order of first appearance:
        whoever wrote lines of the script, picked a take into it or edited one. A writer
        `names` does not know (someone who left the server) is left out."""
        ids: dict[int, None] = {}
        for line in self.script:
            credit = line.attribution
            for user_id in (credit.written_by, credit.picked_by, credit.edited_by):
                if user_id is not None and user_id != SYSTEM_USER:
                    ids[user_id] = None
        known = names or {}
        return list(dict.fromkeys(known[i] for i in ids if i in known))

    def document(
        self, *, attribution: bool = False, names: Mapping[int, str] | None = None
    ) -> Document:
        """The script as a screenplay document, with a title page from the project (and the
        room's writers, "Written by", as `names` name them); with `attribution`, a note says
        where each run of lines came from."""
        entries = []
        if self.project.title:
            entries.append(TitleEntry("Title", ScreenText.of(self.project.title)))
        writers = self.writers(names)
        if writers:
            # A Chinese script credits its writers as 编剧：…, with no "Written by" line.
            if not is_chinese(self.project.language):
                entries.append(TitleEntry("Credit", ScreenText.of("Written by")))
            entries.append(TitleEntry("Author", ScreenText.of(", ".join(writers))))
        if self.project.logline:
            entries.append(TitleEntry("Notes", ScreenText.of(self.project.logline)))
        elements = [line.element for line in self.script]
        if attribution:
            elements = with_attribution_notes(
                self.script, names, script_lang(self.project.language)
            )
        return Document(TitlePage(tuple(entries)), tuple(elements))


def with_attribution_notes(
    lines: tuple[ScriptLine, ...] | list[ScriptLine],
    names: Mapping[int, str] | None = None,
    lang: Lang = ENGLISH,
) -> list[Element]:
    """The elements of `lines` with a `Note` before each run of lines of one origin, worded in
    `lang` (the script's language, `script_lang`).

    A note never goes between a cue and its dialogue (that would end the dialogue block in
    Fountain): when a run starts inside a dialogue block, its note waits for the next element that
    may start a paragraph of its own.
    """
    out: list[Element] = []
    pending: str | None = None
    previous: Attribution | None = None
    continuation = (Dialogue, Parenthetical, Lyrics)
    for line in lines:
        if line.attribution != previous:
            described = line.attribution.describe(names, lang)
            pending = (
                described
                if pending is None
                else text("attribution.then", lang, first=pending, then=described)
            )
            previous = line.attribution
        inside_block = (
            isinstance(line.element, continuation)
            and bool(out)
            and isinstance(out[-1], (Character, *continuation))
        )
        if pending is not None and not inside_block:
            out.append(Note(pending))
            pending = None
        out.append(line.element)
    if pending is not None:
        out.append(Note(pending))
    return out


# --- proposals --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Take:
    """One alternative answer to a proposal. `number` counts from 1 within the proposal.

    The fields that matter depend on the kind: `fountain` for scene/dialogue/continue, `sheet` for
    character, `title` and `logline` for premise, `beat` for beat. `edited_by` is set once a writer
    changed the take before it went in.
    """

    number: int
    text: str
    model: str
    fountain: str = ""
    sheet: CharacterEntry | None = None
    title: str = ""
    logline: str = ""
    beat: str = ""
    problems: tuple[str, ...] = ()
    edited_by: int | None = None
    omitted: tuple[str, ...] = ()  # what the prompt left out for length (`PromptContext`)


@dataclass(frozen=True, slots=True)
class Vote:
    """A writer's current vote. `seq` orders votes in time (a changed vote counts from the
    change); `showrunner` records whether the voter ran the room when voting."""

    user_id: int
    take: int
    at: float
    seq: int
    showrunner: bool = False


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """A message a front end that posts messages (Discord) put up for a proposal: the channel or
    thread and the message. Its ballot (the vote buttons) and its progress (the wait for its
    takes) are such messages."""

    channel_id: int
    message_id: int


Ballot = PostedMessage
ProgressMessage = PostedMessage


@dataclass(frozen=True, slots=True)
class Proposal:
    """One request of the room with its takes and votes; `ballot` is where its takes were put
    to the vote and `progress` where the wait for them was shown (None until they were, and in
    the console). `pick_undo` is the latest undo or redo of the decided take, read from the
    log: the proposal stays decided when its take is taken back out of the story."""

    id: int
    room_id: int
    kind: TaskKind
    requested_by: int
    prompt: str
    characters: tuple[str, ...]
    n: int
    status: ProposalStatus
    created_at: float
    deadline: float | None = None
    beat_id: int | None = None
    takes: tuple[Take, ...] = ()
    votes: tuple[Vote, ...] = ()
    decided_take: int | None = None
    decided_by: int | None = None
    decided_at: float | None = None
    rerolled_as: int | None = None
    reason: str = ""  # in English; `reason_said` words it for each reader
    reason_said: Message | None = None  # None: a failure stored before messages were kept
    ballot: Ballot | None = None
    progress: ProgressMessage | None = None
    pick_undo: Event | None = None

    def take(self, number: int) -> Take | None:
        return next((t for t in self.takes if t.number == number), None)

    @property
    def undone_by(self) -> int | None:
        """The writer who undid the decided take, while it is out of the story (None while it
        is in: never undone, or redone since)."""
        if self.pick_undo is None or self.pick_undo.kind != "undo":
            return None
        return self.pick_undo.user_id

    def tally(self) -> dict[int, int]:
        """Votes per take number, every take listed."""
        counts = {t.number: 0 for t in self.takes}
        for vote in self.votes:
            counts[vote.take] = counts.get(vote.take, 0) + 1
        return counts


class VoteOutcome(enum.StrEnum):
    COUNTED = "counted"  # a new vote
    CHANGED = "changed"  # the writer moved their vote to another take
    UNCHANGED = "unchanged"  # the same vote again (votes are idempotent)
    DECIDED = "decided"  # this vote decided the proposal
    WITHDRAWN = "withdrawn"  # the writer took their vote back


@dataclass(frozen=True, slots=True)
class VoteResult:
    outcome: VoteOutcome
    proposal: Proposal
    lines: tuple[ScriptLine, ...] = ()  # what went into the script when this vote decided


# --- the log ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the room's append-only log: who did what, when. `target` is the event an
    undo or redo refers to; `undoable` marks events that changed the story."""

    id: int
    room_id: int
    user_id: int
    at: float
    kind: str
    summary: Message  # worded in the reader's language; stored as JSON (`Message.to_json`)
    undoable: bool = False
    target: int | None = None

    @property
    def what_it_took_back(self) -> Message:
        """For an undo or redo, the summary of the change it undid or redid ("wrote 2 lines"
        of "undid: wrote 2 lines"); any other event's own summary."""
        inner = self.summary.fields.get("summary")
        return inner if isinstance(inner, Message) else self.summary
