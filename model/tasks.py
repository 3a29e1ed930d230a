"""What the room asks of the model and what comes back: task kinds, the prompt context,
sampling settings, the takes, and the progress a waiting writer is shown.

Plain data shared by the room (which builds requests), the prompts (which turn them into chat
messages), the queue and the training pipeline (which trains in exactly this format). It knows
nothing of torch, Discord or SQLite, so the room imports it without loading the model's stack.
"""

from __future__ import annotations

import enum
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

from model.errors import BadSampling


class TaskKind(enum.StrEnum):
    PREMISE = "premise"  # idea -> logline and title
    CHARACTER = "character"  # name/description -> character sheet
    SCENE = "scene"  # description -> scene heading and action
    DIALOGUE = "dialogue"  # situation + characters -> dialogue in their voices
    BEAT = "beat"  # hint -> the next plot development or a twist
    CONTINUE = "continue"  # -> the next stretch of the script


#: Kinds whose takes are screenplay text that goes into the script.
SCRIPT_KINDS = frozenset({TaskKind.SCENE, TaskKind.DIALOGUE, TaskKind.CONTINUE})


@dataclass(frozen=True, slots=True)
class CharacterSheet:
    """A character of the room's bible, as the room keeps it and the model sees it. `name` is the
    cue name (upper case)."""

    name: str
    role: str = ""
    description: str = ""
    personality: str = ""
    backstory: str = ""
    voice: str = ""
    relationships: str = ""


#: The fields of a character sheet besides its name, in the order a sheet is written and shown.
SHEET_FIELDS = ("role", "description", "personality", "backstory", "voice", "relationships")


#: How a room may name Chinese as its language (`/room style language:`), casefolded.
CHINESE_NAMES = frozenset(
    {
        "chinese",
        "zh",
        "zh-cn",
        "zh-tw",
        "zh-hans",
        "zh-hant",
        "mandarin",
        "中文",
        "汉语",
        "漢語",
        "普通话",
        "國語",
        "国语",
        "华语",
        "華語",
    }
)


def is_chinese(language: str) -> bool:
    """Whether a room's `language` setting names Chinese."""
    return language.strip().casefold() in CHINESE_NAMES


@dataclass(frozen=True, slots=True)
class PromptContext:
    """What the room knows that the model needs, already cut to a token budget.

    `recent_script` is Fountain text (the tail of the script that fit); `omitted` says in words
    what was left out for the budget ("3 earlier scenes", "sheet of TOM") so the reply can tell
    the room. `cast` names every character of the room's bible, whether or not their sheets are
    in play, so that a take's speakers are checked against the whole bible.
    """

    title: str = ""
    logline: str = ""
    genre: str = ""
    tone: str = ""
    style_notes: str = ""
    language: str = "English"
    characters: tuple[CharacterSheet, ...] = ()
    scene_heading: str | None = None
    beat: str | None = None
    recent_script: str = ""
    omitted: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    #: The script's scene headings whose place the request's words name, the most specific
    #: place first (`model.prompts.places_named`): a scene asked for "back at the harbour
    #: diner" opens on the script's own `INT. HARBOUR DINER`. Not written into the prompt.
    places: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Sampling:
    """How one take is sampled. `keep_words` are spared the repetition penalty: a scene says
    its characters' names again and again (every cue), and a penalty on them pushes a small
    model to invent new speakers; a heading's INT, EXT and time of day are in every prompt's
    example answer (`model.prompts.HEADING_WORDS`). The local backend honours it; a remote
    server cannot."""

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    max_new_tokens: int = 256
    seed: int | None = None
    keep_words: tuple[str, ...] = ()
    #: Spare the pieces of a character (`model.repeats.Marks.pieces`) the repetition penalty:
    #: a CJK character is two or three byte-level tokens, each shared by thousands of
    #: characters, and a Chinese prompt's pieces, penalised, lowered nearly every character the
    #: model might write next, at random. Measured per kind (held-out sweeps, session 17): in
    #: script takes sparing them took Chinese loops from 83/100/67% to 0/33/17% (scene,
    #: dialogue, continue); in a premise, a sheet or a beat the line break was then the
    #: penalised token and the take ran on in one line (Chinese objective 0.83/0.56/0.93 ->
    #: 0.28/0.33/0.42), so those keep the plain penalty (`model.prompts.take_sampling`).
    spare_pieces: bool = False
    #: DRY (`model.repeats`): 0 turns it off; a stretch of more than `dry_allowed_length`
    #: tokens written again costs `dry_multiplier * dry_base ** (length - allowed)` logits.
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2

    def __post_init__(self) -> None:
        """Refuse settings the sampler cannot honour with a sentence (`BadSampling`): a NaN
        temperature or a top-p of 0 would otherwise fail in the middle of a batch."""
        if not _real(self.temperature) or self.temperature < 0:
            raise BadSampling("temperature", "a number of 0 or more", self.temperature)
        if not _real(self.top_p) or not 0 < self.top_p <= 1:
            raise BadSampling("top-p", "above 0 and at most 1", self.top_p)
        if not _whole(self.top_k) or self.top_k < 0:
            raise BadSampling("top-k", "a whole number of 0 (off) or more", self.top_k)
        if not _real(self.repetition_penalty) or self.repetition_penalty <= 0:
            raise BadSampling("repetition penalty", "a number above 0", self.repetition_penalty)
        if not _real(self.dry_multiplier) or self.dry_multiplier < 0:
            raise BadSampling("DRY multiplier", "a number of 0 (off) or more", self.dry_multiplier)
        if not _real(self.dry_base) or self.dry_base < 1:
            raise BadSampling("DRY base", "a number of 1 or more", self.dry_base)
        if not _whole(self.dry_allowed_length) or self.dry_allowed_length < 1:
            raise BadSampling(
                "DRY allowed length", "a whole number of 1 or more", self.dry_allowed_length
            )
        if not _whole(self.max_new_tokens) or self.max_new_tokens <= 0:
            raise BadSampling(
                "take length", "a whole number of tokens above 0", self.max_new_tokens
            )


def _real(value: object) -> bool:
    """A finite real number (not a bool, NaN or an infinity)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    """A whole number (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """One request of a room: `prompt` holds the writer's own words (the idea, the situation,
    the hint; for `continue`, the direction or nothing), `characters` the cue names in play.
    `variation` is a take the room chose to vary: new takes keep its gist in new words."""

    kind: TaskKind
    prompt: str = ""
    characters: tuple[str, ...] = ()
    context: PromptContext = field(default_factory=PromptContext)
    variation: str = ""


@dataclass(frozen=True, slots=True)
class GeneratedTake:
    """One take as the generation side hands it to the room.

    `text` is the model's raw answer; the parsed form depends on the kind: `fountain` (repaired,
    canonical Fountain) for scene/dialogue/continue, `sheet` for character, `title` and `logline`
    for premise, `beat` for beat. `problems` are lint messages that survived one regeneration;
    `regenerated` says a first attempt was malformed or looped and was sampled again.
    """

    text: str
    model: str
    fountain: str = ""
    sheet: CharacterSheet | None = None
    title: str = ""
    logline: str = ""
    beat: str = ""
    problems: tuple[str, ...] = ()
    regenerated: bool = False


@dataclass(frozen=True, slots=True)
class Completion:
    """One finished take as the queue returns it: its text, how many tokens it took, and why
    it ended ("stop": the model ended it; "length": the token budget; "cancelled"; "stopped":
    its request had enough takes without it; "abandoned": it looped as it was written; the last
    two: `model.worker.Enough`)."""

    text: str
    tokens: int
    finish: str


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for a waiting writer: `position` 0 means generating (else the place in
    line); `texts` the partial take texts so far; `done` on the last update."""

    position: int
    texts: tuple[str, ...]
    tokens: int
    done: bool = False


ProgressCallback = Callable[[Progress], None]
"""Hears a request's progress; called on the event loop."""
