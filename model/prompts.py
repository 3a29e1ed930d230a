"""Task prompts and answer parsers: what the model is asked, and how its answer is read.

`build_messages(request)` turns a room's `TaskRequest` into chat messages: a system message
(the model's job and the room's standing instructions), then one user message with the
room's context and the task, ending with the exact answer format. `format_answer(...)` writes
an ideal answer in that same format, so training (which imports both) teaches exactly what the
parsers read. `parse_answer(request, text)` reads an answer: script kinds through
`screenplay.repair` then `screenplay.lint`; sheets as `Field: value` lines; premises as
`Title:` / `Logline:`; beats as plain sentences. The checks that need no prompt (loops, broken
characters, beats that are no plot development) are `model.takechecks`'.

It knows the answer formats and the screenplay library; it knows nothing of torch, the queue
or Discord.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from model import ages
from model import prompts_zh as zh
from model.takechecks import (
    CJK,
    HEADING,
    NOT_A_BEAT,
    ONE_CJK,
    bare_description,
    broken_character,
    clip,
    copied_run,
    find_loop,
    mention_at,
    paragraphs,
    title_stutter,
    without_parentheses,
)
from model.tasks import (
    SCRIPT_KINDS,
    SHEET_FIELDS,
    CharacterSheet,
    PromptContext,
    Sampling,
    TaskKind,
    TaskRequest,
    is_chinese,
)
from screenplay.fountain import parse_fountain, parse_inline, to_fountain
from screenplay.lint import lint
from screenplay.repair import repair
from screenplay.stats import split_heading
from screenplay.types import (
    PRINTED,
    Action,
    Character,
    Dialogue,
    Document,
    Parenthetical,
    SceneHeading,
)
from screenplay.zh import TIMES as ZH_TIMES
from screenplay.zh import read_heading

#: The lines of a character sheet in the order the model writes them.
_SHEET_LINES = ("name", *SHEET_FIELDS)
#: A sheet's field labels as an English answer writes them (`Name`, `Role`, ...).
_SHEET_LABELS = {field: field.capitalize() for field in _SHEET_LINES}

_SYSTEM = (
    "You are a screenwriter in a writers' room. You write for the screen: concrete, visual, "
    "in the present tense, with dialogue people would really say. You answer with exactly the "
    "text asked for, in the format asked for, and nothing else."
)

_FOUNTAIN = (
    "Write in Fountain screenplay format: a scene heading on its own line (INT. or EXT., the "
    "place, a dash, the time: INT. DINER - NIGHT); action as plain paragraphs; each speech is "
    "the character's NAME in capitals on its own line followed by their words on the next "
    "line; a blank line between paragraphs. Answer with the screenplay text only. The shape "
    "(not the words) of an answer:\n\nINT. DINER - NIGHT\n\nRain streaks the windows.\n\n"
    "JOE\nWe're closed.\n\nANN\n(smiling)\nNot for me."
)


def take_sampling(request: TaskRequest, sampling: Sampling) -> Sampling:
    """`sampling` as a take of `request` is sampled: a script take spares its cast's names, the
    words of a scene heading (`HEADING_WORDS`) and the pieces of a character the repetition
    penalty (see `Sampling.keep_words`, `Sampling.spare_pieces`)."""
    if request.kind in SCRIPT_KINDS:
        keep = (*cast_of(request), *HEADING_WORDS)
        return dataclasses.replace(sampling, keep_words=keep, spare_pieces=True)
    return sampling


#: The prompt format: 2 asks a Chinese room in Chinese, its scripts in the Chinese convention;
#: 1 asked every room in English ("Write everything in Chinese"). `training.finetune` records
#: it beside an adapter, so a model is asked in the format it learned.
PROMPT_FORMAT = 2


def build_messages(
    request: TaskRequest, prompt_format: int = PROMPT_FORMAT
) -> list[dict[str, str]]:
    """The chat messages for `request` (system, then user); in Chinese, with answers in the
    Chinese convention, for a room whose language is Chinese (`model.prompts_zh`), unless the
    model learned `prompt_format` 1 (English instructions for every room)."""
    context = request.context
    chinese = is_chinese(context.language) and prompt_format >= 2
    system = zh.SYSTEM if chinese else _SYSTEM
    if context.style_notes.strip():
        standing = zh.STANDING if chinese else "The room's standing instructions: {}"
        system += "\n" + standing.format(context.style_notes.strip())
    if not chinese and context.language and context.language.lower() != "english":
        system += f"\nWrite everything in {context.language}."
    if chinese:
        parts = [_context_block_zh(request.kind, context), zh.variation(request), zh.task(request)]
    else:
        parts = [_context_block(request.kind, context), _variation(request), _task(request)]
    user = "\n\n".join(part for part in parts if part)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


#: A heading the writer typed first: `INT.`/`EXT.`/`EST.`/`I/E` and a place, at most this long.
_ASKED_SETTING = re.compile(r"\s*(?:INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I/E|INT|EXT|EST)[.\s]", re.I)
_MAX_ASKED_HEADING = 100
#: Where a typed heading ends and the scene's description begins: a line break, a dash set off
#: by spaces (or an em dash), a colon. A heading's own ` - ` before the time of day is not one.
_ASKED_END = re.compile(r"\n|\s+(?:--|[—–])\s*|[—–]+|[:：]")
#: Where a Chinese heading typed first ends: a line break, a colon or the first punctuation mark.
_ASKED_END_ZH = re.compile(r"[\n:：，,。；;、！？!?]")


#: The requests a typed heading places: a scene, and a continuation the writer moves to a
#: new scene (`/continue direction:"INT. KITCHEN - LATER — Mara finds the letter"`).
_PLACED_KINDS = frozenset({TaskKind.SCENE, TaskKind.CONTINUE})


def asked_heading(request: TaskRequest) -> str:
    """The scene heading a scene request (or a continuation's direction) begins with, as the
    room writes it, or "" when it begins with none. A writer who knows where the scene is types
    its slugline first —
    `INT. DINER - NIGHT — Maya confronts Joe`, `ext. rooftop: Maya waits`,
    `INT. MR. BLACK'S OFFICE - DAY. Bob waits`, and in a Chinese room `日 内 咖啡馆：小林等人`
    or `内景 咖啡馆 夜` — and the take should be at that place: the 135M model, asked for a scene
    at a place in words, wrote one at another place every time (`training.scoring`'s
    `place asked`, 0% in session 17). The heading comes back in capitals, its setting with a
    full stop (`INT.`), its time after ` - `; a Chinese one as typed, its spaces collapsed."""
    if request.kind not in _PLACED_KINDS:
        return ""
    # A heading is short: what follows its first lines is the description, read by no pattern
    # here (a hostile 200,000 blanks cost what 200 do).
    text = request.prompt.strip()[: 2 * _MAX_ASKED_HEADING]
    if _ASKED_SETTING.match(text):
        return _typed_slugline(text)
    if is_chinese(request.context.language):
        head = " ".join(_ASKED_END_ZH.split(text, maxsplit=1)[0].split())
        if len(head) <= _MAX_ASKED_HEADING and (found := read_heading(head)) and found.place:
            return head
    return ""


def known_place(request: TaskRequest) -> str:
    """For a scene asked in words that name a place the script has been, or a bible location
    named as a heading (`PromptContext.places`), and typed with no heading: that heading at the
    time of day the words give (`the next morning at the diner`: `INT. HARBOUR DINER -
    MORNING`), else at its own; a heading with no time and no time said ends on ` -` for the
    take to give one. The script's own words for the place, so the slugline matches."""
    if request.kind is not TaskKind.SCENE or not request.context.places or asked_heading(request):
        return ""
    heading = request.context.places[0]
    zh_heading = read_heading(heading)
    if zh_heading is not None:  # the convention's: its time token swapped for the one said
        said = _zh_time_said(request.prompt)
        if not said:
            return heading
        tokens = heading.split()
        swapped = [said if token in zh_heading.times else token for token in tokens]
        return " ".join(swapped) if swapped != tokens else f"{heading} {said}"
    setting, _, time = split_heading(heading)
    if not setting:  # a forced heading (`.THE VOID`) cannot be begun as a heading line
        return ""
    said = _time_said(request.prompt)
    if time:
        return f"{heading.rsplit(' - ', 1)[0]} - {said}" if said else heading
    return f"{heading} - {said}" if said else f"{heading} -"


#: The times of day a writer's words may give a scene at a known place, as a heading writes them.
_TIMES = [
    "morning",
    "dawn",
    "sunrise",
    "day",
    "noon",
    "afternoon",
    "evening",
    "dusk",
    "sunset",
    "night",
    "midnight",
    "later",
    "continuous",
]
_TIME_WORD = re.compile(r"\b(" + "|".join(_TIMES) + r")\b", re.I)
#: The words a scene heading is made of besides its place, spared the repetition penalty in a
#: script take: every prompt shows `INT. DINER - NIGHT` (the answer's shape) and most hold the
#: script's own headings, so, penalised, INT and the script's time of day were the tokens a
#: take was pushed off. Measured on the 61 held-out English scene and continue requests, the
#: fine-tuned model's first token favoured INT over EXT in 24 of them and, penalised, in 4:
#: its takes opened on EXT. 32 times in 36 (`EXT. CLASSROOM`, `EXT. ... BEDROOM`) where the
#: corpus's headings are 69% INT. (session 19).
HEADING_WORDS: tuple[str, ...] = (
    "INT",
    "EXT",
    *(t.upper() for t in _TIMES),
    "内景",
    "外景",
    *sorted(ZH_TIMES),
)
#: The convention's times of two characters or more (one alone, 日 or 晚, is in too many words).
_ZH_TIMES = sorted((t for t in ZH_TIMES if len(t) >= 2), key=len, reverse=True)


def _time_said(words: str) -> str:
    """The last time of day `words` give, as a heading writes it (`NIGHT`), or ""."""
    said = _TIME_WORD.findall(words[: 2 * _MAX_ASKED_HEADING])
    return said[-1].upper() if said else ""


def _zh_time_said(words: str) -> str:
    """The first time of day of two characters or more that Chinese `words` give, or ""."""
    words = words[: 2 * _MAX_ASKED_HEADING]
    found = [(words.find(t), t) for t in _ZH_TIMES if t in words]
    return min(found)[1] if found else ""


#: A word of a place's name (`MARA'S`, `9`, `咖啡馆`).
_PLACE_WORD = re.compile(r"[\w']+")


def places_named(headings: Iterable[str], words: str) -> tuple[str, ...]:
    """The scene headings among `headings` (a script's, in order) whose place `words` name,
    each place once with its latest heading, the most specific place first: "back at the
    harbour diner" names `INT. HARBOUR DINER - NIGHT`, "回到咖啡馆" names `内景 咖啡馆 夜`. A place
    is named by all its words in order (case and punctuation aside) and not as the end of a
    longer name (`14 Larkspur Court` or `Mara's Harbour Diner` do not name `LARKSPUR COURT` or
    `HARBOUR DINER`: a number or a capitalised word stands before it), or in a script without
    spaces between words by its characters; it needs three letters or two characters."""
    words = words[:2000].replace("’", "'")
    folded = _PLACE_WORD.findall(words.casefold())
    said, joined = set(folded), "".join(folded)  # its words; run together, for CJK places
    found: dict[str, str] = {}
    seen: dict[str, bool] = {}  # a script's places come back scene after scene
    # Each heading once, where it last stands: the latest one of a place is the one kept.
    for heading in list(dict.fromkeys(reversed(list(headings))))[::-1]:
        if heading.isascii() and said.isdisjoint(_PLACE_WORD.findall(heading.casefold())):
            continue  # not one word in common: read no further (a long script stays cheap)
        place = split_heading(heading)[1].replace("’", "'")
        parts = _PLACE_WORD.findall(place.casefold())
        key = " ".join(parts)
        if not parts or len(key.replace(" ", "")) < (3 if key.isascii() else 2):
            continue
        if key not in seen:
            # Words the text does not hold rule a place out before any pattern is built.
            if not key.isascii():
                seen[key] = "".join(parts) in joined
            else:
                seen[key] = said.issuperset(parts) and _names(words, parts)
        if seen[key]:
            found.pop(key, None)
            found[key] = heading  # the latest heading of the place
    return tuple(found[key] for key in sorted(found, key=len, reverse=True))


def _names(words: str, parts: list[str]) -> bool:
    """Whether `words` name the place of `parts` (its casefolded words, in Latin letters) on
    their own."""
    pattern = r"(?<![\w'])" + r"[^\w']+".join(map(re.escape, parts)) + r"(?![\w'])"
    for match in re.finditer(pattern, words, re.IGNORECASE):
        before = re.search(r"([\w']+)[^\w']*$", words[: match.start()])
        if before is None:
            return True
        word = before.group(1)
        sentence_start = re.search(r"(?:^|[.!?:;\n]\s*)$", words[: before.start(1)]) is not None
        if not word.isdigit() and (not word[0].isupper() or sentence_start):
            return True
    return False


def _typed_slugline(text: str) -> str:
    """The slugline `text` starts with, normalised; "" when it names no place."""
    head = _ASKED_END.split(text, maxsplit=1)[0]
    words = head.split()
    if words and not any(ch.islower() for ch in words[0]):
        # Typed in capitals, as sluglines are: it ends at the first word that is not
        # (`INT. DINER - NIGHT. Maya enters`).
        kept = list(itertools.takewhile(lambda w: not any(c.islower() for c in w), words))
        head = " ".join(kept)
    head = " ".join(head.split()).strip(" .,;-")
    if not head or len(head) > _MAX_ASKED_HEADING:
        return ""
    setting, place, time = split_heading(head.upper())
    named = _ASKED_SETTING.sub("", head, count=1).strip(" .")
    if not setting or not place or named.startswith("-"):  # `INT. - NIGHT` names no place
        return ""
    place = place.strip(" .,;-")
    return f"{setting} {place}" + (f" - {time.strip(' .,;-')}" if time else "")


def answer_start(request: TaskRequest, prompt_format: int = PROMPT_FORMAT) -> str:
    """The text a take of `request` is begun with, for the model to carry on (an empty string:
    none). A scene the writer gave a heading for opens on that heading (`asked_heading`), in the
    room's convention; one at a place the script has been, on the script's heading for it
    (`known_place`). In a Chinese room a dialogue take opens on its first character's line
    (`名字：`), as 236 of the corpus's 239 Chinese dialogue answers do: asked for dialogue in
    Chinese, the small model otherwise mostly wrote a scene heading and action, nobody speaking
    (0 of 6 takes lint-clean in session 13's evaluation). So does an English one, on the first
    character's cue (`MAYA`, where the name makes one): 463 of the corpus's 601 English
    dialogue answers open on it (their requests name the speakers in the order they speak), the
    rest mostly on an action line, and the shipped model wrote 2 of 18 English dialogue takes as
    a list of characters, nobody speaking, in each of session 28's three evaluations. A premise
    opens on its title's label (`Title:`, `片名：`), as every premise of the corpus does: first
    sampled, the shipped model wrote 5 of 18 English premises as a description of a place, with
    neither title nor logline (session 28)."""
    if request.kind in _PLACED_KINDS:
        return _heading_start(request, prompt_format) or _opening(
            known_place(request), request, prompt_format
        )
    chinese = is_chinese(request.context.language) and prompt_format >= 2
    if request.kind is TaskKind.PREMISE:
        return f"{zh.PREMISE_LABELS['title']}：" if chinese else "Title:"
    if request.kind is TaskKind.CHARACTER:
        return _sheet_start(request, chinese)
    if request.kind is not TaskKind.DIALOGUE or not request.characters:
        return ""
    first = request.characters[0].strip()
    if first and chinese:
        return f"{first}："
    return f"{cue}\n" if (cue := _cue_of(first)) else ""


def _sheet_start(request: TaskRequest, chinese: bool) -> str:
    """A character sheet's start: the lines the writer's request already says — the name, and
    the role as asked (every sheet of the corpus copies its request's role) — then the label of
    the description, opened on the age where the role gives one (`Description: Seventeen,`,
    `外形：18岁，`), as every corpus sheet whose role states an age opens its description. First
    sampled, the shipped model had named the sheet otherwise (`LAUCIA` for LUCIA, `红明园` for
    阎福), rewritten the role with an age of its own (`身份：大丈目（70岁）` for a
    `十八岁考生`), mislabelled the description (`外影：`), and given a Chinese sheet an age that
    the role rules out (4 of 18 Chinese sheets of session 29's evaluation). A role as long as a
    copy of the request the take would be faulted for (`copied_run`: 24 words, 31 Chinese
    characters; the corpus's roles run to 25 characters) is a description the writer typed, for
    the model to draw on, not a line to copy: the take opens on the name alone."""
    name, role = _asked_character(request)
    if not name:
        return ""
    labels = zh.SHEET_LABELS if chinese else _SHEET_LABELS
    colon = "：" if chinese else ": "
    start = f"{labels['name']}{colon}{name if chinese else name.upper()}\n"
    if not role or copied_run(role, role) is not None:
        return start
    if not chinese:
        role = role[0].upper() + role[1:]  # a sheet's line opens on a capital, as the corpus's
    start += f"{labels['role']}{colon}{role}\n{labels['description']}{colon.rstrip()}"
    if age := ages.opening(role, chinese=chinese):
        start += f"{age}，" if chinese else f" {age},"
    return start


#: What parts a character's name from the rest of a request for their sheet: `NAME, role` (as
#: the corpus asks), `NAME: description` (as the bot does).
_NAME_END = re.compile(r"\s*[,，:：]\s*")
#: The longest name, in words, a request for a sheet opens on.
_MAX_NAME_WORDS = 4


def _asked_character(request: TaskRequest) -> tuple[str, str]:
    """The name and the role (or description) a request for a character sheet gives: the
    character asked for (`request.characters`) and the request's words after that name, or
    the words before the request's first comma or colon and those after them; ("", "") where
    neither names anyone."""
    idea = " ".join(request.prompt.split())
    if request.characters:
        name = " ".join(request.characters[0].split())
        rest = idea
        if idea.casefold().startswith(name.casefold()):
            after = idea[len(name) :]
            if not after:
                rest = ""
            elif cut := _NAME_END.match(after):
                rest = after[cut.end() :]
        return name, rest.strip()
    cut = _NAME_END.search(idea)
    if cut is None or not 0 < len(idea[: cut.start()].split()) <= _MAX_NAME_WORDS:
        return "", ""
    return idea[: cut.start()].strip(), idea[cut.end() :].strip()


def _cue_of(name: str) -> str:
    """`name` as a Fountain cue, in capitals (`Dr. O'Neil` → `DR. O'NEIL`), or "" where a
    Fountain reader would not read it as one (no cased letter, a line break, a colon)."""
    cue = name.upper()
    if not cue or len(cue) > 40 or any(c in cue for c in "\n\r:()^@!#~>=*_"):
        return ""
    match parse_fountain(f"{cue}\nWell.").elements:
        case [Character(name=read), Dialogue()] if read == cue:
            return cue
    return ""


def heading_told(request: TaskRequest, prompt_format: int = PROMPT_FORMAT) -> str:
    """For a backend that cannot be handed a begun answer (a remote server): the sentence that
    asks for the scene heading the writer gave, or "" when there is none."""
    start = _heading_start(request, prompt_format).strip()
    chinese = is_chinese(request.context.language)
    if start:
        if chinese:
            return f"这场戏的场景标题照写为：{start}"
        return f"Begin with this scene heading, exactly as it is: {start}"
    place = known_place(request)
    if not place:
        return ""
    if chinese:
        return f"这场戏的场景标题以剧本里的写法开头：{place}"
    return f"Begin its scene heading as the script writes this place: {place}"


def _heading_start(request: TaskRequest, prompt_format: int) -> str:
    """A scene take's start: the heading asked for, on its own line, then the action's line."""
    return _opening(asked_heading(request), request, prompt_format)


def _opening(heading: str, request: TaskRequest, prompt_format: int) -> str:
    """`heading` as a take opens on it: on its own line, then the action's line; one that ends
    on ` -` (no time of day yet) as it is, for the take to finish."""
    if not heading or heading.endswith(" -"):
        return heading
    if is_chinese(request.context.language) and prompt_format >= 2:
        # The convention's heading (`内景 咖啡馆 夜`), the action straight under it.
        if read_heading(heading) is None:
            heading = zh.from_fountain(f"{heading}\n\n.").splitlines()[0]
        return f"{heading}\n"
    if read_heading(heading) is not None:  # a Chinese heading in a Fountain room: forced
        return f".{heading}\n\n"
    return f"{heading}\n\n"


def format_answer(
    kind: TaskKind,
    *,
    fountain: str = "",
    sheet: CharacterSheet | None = None,
    title: str = "",
    logline: str = "",
    beat: str = "",
    language: str = "English",
) -> str:
    """The ideal answer to a request of `kind` in a room writing in `language`, written in the
    format `build_messages` asks for (training targets)."""
    chinese = is_chinese(language)
    if kind in SCRIPT_KINDS:
        return zh.from_fountain(fountain) if chinese else fountain.strip()
    if kind is TaskKind.CHARACTER:
        if sheet is None:
            raise ValueError("a character answer needs a sheet")
        if chinese:
            return zh.sheet_answer(sheet)
        return "\n".join(
            f"{_SHEET_LABELS[name]}: {value}"
            for name in _SHEET_LINES
            if (value := str(getattr(sheet, name)).strip())
        )
    if kind is TaskKind.PREMISE:
        if chinese:
            return zh.premise_answer(title, logline)
        return f"Title: {title.strip()}\nLogline: {logline.strip()}"
    return beat.strip()


def _context_block(kind: TaskKind, context: PromptContext) -> str:
    lines = []
    for label, value in (
        ("Title", context.title),
        ("Logline", context.logline),
        ("Genre", context.genre),
        ("Tone", context.tone),
    ):
        if value.strip():
            lines.append(f"{label}: {value.strip()}")
    if context.characters and kind is not TaskKind.PREMISE:
        lines.append("Characters:")
        lines.extend(f"- {_sheet_line(sheet)}" for sheet in context.characters)
    if context.beat:
        lines.append(f"Where the story is: {context.beat.strip()}")
    if context.scene_heading:
        lines.append(f"Current scene: {context.scene_heading.strip()}")
    if context.recent_script.strip() and kind is not TaskKind.PREMISE:
        lines.append(f"The script so far ends:\n{context.recent_script.strip()}")
    return "\n".join(lines)


def _context_block_zh(kind: TaskKind, context: PromptContext) -> str:
    """`_context_block` in Chinese, the script so far in the Chinese convention."""
    values = (context.title, context.logline, context.genre, context.tone)
    lines = [
        f"{label}：{value.strip()}"
        for label, value in zip(zh.CONTEXT_LABELS, values, strict=True)
        if value.strip()
    ]
    if context.characters and kind is not TaskKind.PREMISE:
        lines.append(zh.CHARACTERS)
        lines.extend(f"- {zh.sheet_line(sheet)}" for sheet in context.characters)
    if context.beat:
        lines.append(zh.WHERE.format(context.beat.strip()))
    if context.scene_heading:
        lines.append(zh.CURRENT_SCENE.format(context.scene_heading.strip()))
    if context.recent_script.strip() and kind is not TaskKind.PREMISE:
        lines.append(zh.SCRIPT_SO_FAR.format(zh.from_fountain(context.recent_script)))
    return "\n".join(lines)


def _variation(request: TaskRequest) -> str:
    """The take a variation keeps the gist of; nothing for any other request, so their
    prompts stay as they were."""
    if not request.variation.strip():
        return ""
    return (
        "A take the room liked, to vary: keep what happens in it and who is in it, but write "
        f"it anew in other words.\n{request.variation.strip()}"
    )


def _sheet_line(sheet: CharacterSheet) -> str:
    details = [
        f"{name}: {value.strip()}"
        for name in SHEET_FIELDS
        if (value := str(getattr(sheet, name))).strip()
    ]
    return sheet.name + (f" ({'; '.join(details)})" if details else "")


def _task(request: TaskRequest) -> str:
    idea = request.prompt.strip()
    cast = ", ".join(request.characters)
    kind = request.kind
    if kind is TaskKind.PREMISE:
        return (
            f"Idea: {idea}\n\nTurn this idea into a film premise. Answer in exactly two lines:\n"
            "Title: <the title>\n"
            "Logline: <one sentence: who wants what, and what stands in the way>"
        )
    if kind is TaskKind.CHARACTER:
        fields = "\n".join(f"{_SHEET_LABELS[name]}: ..." for name in _SHEET_LINES)
        return (
            f"Create a character: {idea}\n\nAnswer with these lines, one field per line, the "
            f"name in capitals:\n{fields}"
        )
    if kind is TaskKind.SCENE:
        return (
            f"Write the opening of this scene: {idea}\n\nGive its scene heading and its action "
            f"(what we see and hear), no dialogue. {_FOUNTAIN}"
        )
    if kind is TaskKind.DIALOGUE:
        who = f" between {cast}" if cast else ""
        return (
            f"Situation: {idea}\n\nWrite the dialogue{who}, each character in their own voice. "
            f"{_FOUNTAIN}"
        )
    if kind is TaskKind.BEAT:
        hint = f"Hint: {idea}\n\n" if idea else ""
        return (
            f"{hint}What happens next? Propose the next plot development or a twist in one to "
            "three sentences. Answer with the sentences only."
        )
    hint = f"Direction: {idea}\n\n" if idea else ""
    return f"{hint}Continue the script from where it ends with the next stretch. {_FOUNTAIN}"


# --- parsing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """What an answer says, by kind; `problems` are sentences for the writer, and a take with
    any of them is worth sampling again."""

    fountain: str = ""
    sheet: CharacterSheet | None = None
    title: str = ""
    logline: str = ""
    beat: str = ""
    problems: tuple[str, ...] = ()


def parse_answer(request: TaskRequest, text: str) -> ParsedAnswer:
    """Read the model's answer to `request`. Whatever the kind, a take that loops, copies the
    prompt's format template, copies the request back (`request_echo`: a premise's title or
    logline that only repeats the idea too) or holds a broken
    character (U+FFFD) is malformed; so is a script take that writes the prompt's labels
    (`prompt_label`)."""
    asked = build_messages(request)[-1]["content"]
    if request.kind in SCRIPT_KINDS:
        parsed = _parse_script(request, text, asked)
    elif request.kind is TaskKind.CHARACTER:
        parsed = _parse_sheet(request, text)
    elif request.kind is TaskKind.PREMISE:
        parsed = _parse_premise(text)
    else:
        parsed = _parse_beat(text)
    found = (
        find_loop(text),
        template_echo(text),
        _copy_of(asked, text) or _idea_echo(request, parsed),
        prompt_label(request, text),
    )
    for problem in reversed((*found, broken_character(text))):
        if problem:
            parsed = _with_problem(parsed, problem)
    return parsed


def prompt_label(request: TaskRequest, text: str) -> str | None:
    """A sentence naming a label of the prompt's own (“Hint:”, “Current scene:”, a character
    sheet's “personality:”, 身份：) that a script take of `request` writes as if it were filling in
    the request's form, or None. English labels count at a line's start, and a sheet's inside
    its brackets (“(role: …; voice: …)”); Chinese ones wherever a colon follows them. The labels
    are read from the prompt builders, in both languages. Other kinds answer in fields of their
    own (a premise's `Title:`), so only script takes are read."""
    if request.kind not in SCRIPT_KINDS:
        return None
    latin, chinese = _prompt_labels()
    found = latin.search(text) or chinese.search(text)
    if found is None:
        return None
    label = found.groupdict().get("label") or found.group("field")
    return _LABEL.format(label + found.group("colon"))


#: What `prompt_label`'s sentence says (the ranking weighs it as a template echo).
PROMPT_LABEL = "writes a label of the prompt"
_LABEL = "The take " + PROMPT_LABEL + " (“{}”) instead of the script."


@functools.cache
def _prompt_labels() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns of the labels the prompts write before a value: the context's, the tasks' and a
    character sheet's, found by rendering every kind of request whose every value is a marker.
    “Title:” is left out in English: `TITLE: THREE WEEKS LATER` is a screenplay's own line."""
    sheet = CharacterSheet(_WRITERS, **{name: _WRITERS for name in SHEET_FIELDS})
    script = "SCRIPTSOFAR"  # the script so far is parsed as Fountain: a word, not the marker
    # A label the prompt writes before a value (`Current scene: \x00`, `（身份：\x00`).
    before_value = re.compile(
        rf"([A-Za-z][A-Za-z ]{{1,30}}[A-Za-z]|[{CJK}]{{2,8}})[:：]\s*(?:-\s*)?(?:△\s*)?"
        rf"(?:{_WRITERS}|{script})"
    )
    labels: set[str] = set()
    for language in ("English", "Chinese"):
        context = PromptContext(
            title=_WRITERS,
            logline=_WRITERS,
            genre=_WRITERS,
            tone=_WRITERS,
            language=language,
            characters=(sheet,),
            scene_heading=_WRITERS,
            beat=_WRITERS,
            recent_script=script,
        )
        for kind in TaskKind:
            asked = build_messages(TaskRequest(kind, _WRITERS, (_WRITERS,), context))[-1]
            labels.update(before_value.findall(asked["content"]))
    fields = {name.casefold() for name in SHEET_FIELDS}
    latin = {label for label in labels if label.isascii()} - {"Title"}  # a title card
    cjk = labels - latin

    def either(words: Iterable[str]) -> str:
        return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

    at_start = either(label for label in latin if label.casefold() not in fields)
    in_brackets = either(label for label in latin if label.casefold() in fields)
    return (
        re.compile(
            rf"(?:^[ \t]*[-*]?[ \t]*\**(?P<label>{at_start})"
            rf"|[(;][ \t]*(?P<field>{in_brackets}))\**[ \t]*(?P<colon>[:：])",
            re.IGNORECASE | re.MULTILINE,
        ),
        # After a line's start, a bracket, punctuation or a space: 系统提示： is no 提示：.
        re.compile(rf"(?:^|(?<=[\s（(；;，,、。△]))(?P<label>{either(cjk)})(?P<colon>[:：])", re.M),
    )


def request_echo(request: TaskRequest, text: str) -> str | None:
    """A sentence naming the stretch of its request (the writer's words, the room's context, the
    script so far) that `text` writes out again word for word, longer than any answer of the
    corpus copies from its prompt (`takechecks.copied_run`), or a premise's title that only
    repeats the idea (`title_echo`); else None."""
    copied = _copy_of(build_messages(request)[-1]["content"], text)
    if copied is None and request.kind is TaskKind.PREMISE:
        return _idea_echo(request, _parse_premise(text))
    return copied


def _idea_echo(request: TaskRequest, parsed: ParsedAnswer) -> str | None:
    """`title_echo` or `logline_echo` of a parsed premise."""
    return title_echo(request, parsed.title) or logline_echo(request, parsed.logline)


def logline_echo(request: TaskRequest, logline: str) -> str | None:
    """A sentence saying that a premise's `logline` only repeats the writer's idea (whole, or
    after its genre: `Wuxia: an old escort master takes one last job in 1911.`), punctuation
    and case aside, or None: a logline says who wants what and what stands in the way, which
    an idea seldom does, and one that adds nothing to it is no answer."""
    if request.kind is not TaskKind.PREMISE or not logline:
        return None
    _, ideas = _asked_idea(request.prompt)
    return _LOGLINE_ECHO.format(clip(logline)) if _bare(logline) in ideas - {""} else None


def title_echo(request: TaskRequest, title: str) -> str | None:
    """A sentence saying that a premise's `title` only repeats what it was asked with — the
    writer's idea whole (`At a trade summit in Geneva`), the idea after its genre
    (`spy: at a trade summit in Geneva`), or the genre alone (`Legal Drama`, the room's genre
    too) — or None. Punctuation, case and a leading article aside. An idea of a few words may
    be the title the writer pitched (`The Last Ship`), so only one of `_IDEA_WORDS` words or
    more (Chinese: `_IDEA_CHARACTERS` characters) counts; a title drawn from a phrase of the
    idea (`The Last Ship` of "the last ship out of Lisbon") is a title."""
    if request.kind is not TaskKind.PREMISE or not title:
        return None
    genre, ideas = _asked_idea(request.prompt)
    said = {bare for bare in ideas if _long_idea(bare)} | {
        _bare(genre),
        _bare(request.context.genre),
    }
    return _TITLE_ECHO.format(title) if _bare(title) in said - {""} else None


def _asked_idea(asked: str) -> tuple[str, set[str]]:
    """A premise request's genre (before its colon, if any) and its idea compared as a title
    is (`_bare`): whole, and after the genre."""
    parts = _COLON.split(asked, maxsplit=1)
    genre, idea = parts if len(parts) == 2 else ("", asked)
    return genre, {_bare(asked), _bare(idea)}


def _long_idea(bare: str) -> bool:
    return len(bare.split()) >= _IDEA_WORDS or len(ONE_CJK.findall(bare)) >= _IDEA_CHARACTERS


_IDEA_WORDS = 5
_IDEA_CHARACTERS = 6
_COLON = re.compile(r"[:：]")
_ARTICLE = re.compile(r"^(?:the|an?)\s+")
#: What `title_echo`'s and `logline_echo`'s sentences say.
_TITLE_ECHO = "The title only repeats the idea it was asked for (“{}”)."
_LOGLINE_ECHO = "The logline only repeats the idea it was asked for (“{}”)."


def _bare(words: str) -> str:
    """`words` as a title is compared: casefolded, punctuation gone, no leading article."""
    return _ARTICLE.sub("", " ".join(re.findall(r"\w+", words.casefold())))


def _copy_of(asked: str, text: str) -> str | None:
    """`request_echo` of the request asked as `asked` (its user message)."""
    copied = copied_run(text, asked)
    return None if copied is None else _COPY.format(copied)


#: What `request_echo`'s sentence says (the ranking weighs it as it weighs a loop).
REQUEST_ECHO = "copies its request back"
_COPY = "The take " + REQUEST_ECHO + " instead of answering it (“{}”)."


def _with_problem(parsed: ParsedAnswer, problem: str) -> ParsedAnswer:
    return ParsedAnswer(
        parsed.fountain,
        parsed.sheet,
        parsed.title,
        parsed.logline,
        parsed.beat,
        (problem, *parsed.problems),
    )


def cast_of(request: TaskRequest) -> tuple[str, ...]:
    """The cue names the take may use: the characters in play, then the bible's."""
    context = request.context
    names = [*request.characters, *(sheet.name for sheet in context.characters), *context.cast]
    return tuple(dict.fromkeys(name for name in names if name))


def _parse_script(request: TaskRequest, text: str, asked: str) -> ParsedAnswer:
    cast = known_speakers(request) or None
    document = _without_unfinished_end(_read_script(request, text, cast))
    if cast is not None:
        cast = (
            *cast,
            *_walk_ons(document, cast, asked.casefold(), request.prompt),
            *_misread_cues(document, text),
        )
    problems = [str(problem) for problem in lint(document, cast)]
    printed = [e for e in document.elements if isinstance(e, PRINTED)]
    if not printed:
        problems.insert(0, "The take has no screenplay text in it.")
    elif request.kind is TaskKind.DIALOGUE and not any(isinstance(e, Character) for e in printed):
        problems.insert(0, "The take has no character speaking.")
    elif request.kind is TaskKind.SCENE and not any(isinstance(e, SceneHeading) for e in printed):
        problems.insert(0, "The take has no scene heading.")
    borrowed = _example_place(document, asked)
    if borrowed:
        problems.append(borrowed)
    return ParsedAnswer(fountain=to_fountain(document), problems=tuple(problems))


def _example_place(document: Document, asked: str) -> str | None:
    """A sentence naming a scene heading set at the place of the prompt's example answer (`INT.
    DINER - NIGHT`, `内景 茶馆 夜`: the shape of an answer, not its words) when the request (its
    user message, the example aside) never names that place, else None: the model copied the
    example instead of setting the scene in the room's story."""
    places = _example_places()
    if not places:
        return None
    said = asked.replace(_FOUNTAIN, " ").replace(zh.FORMAT, " ").casefold()
    for element in document.elements:
        if not isinstance(element, SceneHeading):
            continue
        words = set(_PLACE_WORD.findall(split_heading(element.text)[1].casefold()))
        for place in places:
            if (place in words or (ONE_CJK.search(place) and place in element.text)) and (
                mention_at(said, place) < 0
            ):
                return _EXAMPLE_PLACE.format(element.text)
    return None


#: What `_example_place`'s sentence says.
_EXAMPLE_PLACE = "The take sets a scene at the place of the prompt's example (“{}”)."


@functools.cache
def _example_places() -> tuple[str, ...]:
    """The places of the example answers' headings, casefolded (`diner`, `茶馆`)."""
    lines = (*_FOUNTAIN.rsplit(":", 1)[-1].splitlines(), *zh.FORMAT.splitlines())
    headings = (split_heading(line) for line in lines if line.strip())
    places = {place.casefold() for setting, place, _ in headings if setting and place}
    return tuple(sorted(place for place in places if len(place.split()) == 1))


def _read_script(request: TaskRequest, text: str, cast: tuple[str, ...] | None) -> Document:
    """A script take as a document: in a Chinese room, read in the Chinese convention unless
    the take is plainly Fountain (an `INT.` heading, an `@` cue); otherwise repaired Fountain."""
    if is_chinese(request.context.language):
        document = zh.read_script(text)
        if document is not None:
            return document
    return repair(text, cast)


def known_speakers(request: TaskRequest) -> tuple[str, ...]:
    """Who may speak in a script take of `request`: the characters in play and the bible's
    sheets the context carries (`cast_of`), the sheets it left out for the token budget, and
    whoever speaks in the script so far. Empty when the request knows no character at all (a
    room with an empty bible): then every cue is a new character, and none is flagged."""
    cast = cast_of(request)
    return _with_the_script(request, cast) if cast else ()


def speakers_in_play(request: TaskRequest) -> tuple[str, ...]:
    """Who a script take of `request` is about, of its known speakers (`known_speakers`): the
    characters asked for, the sheets the context carries or left out, whoever speaks in the
    script so far, and anyone of the room's bible the writer's words name ("…then Dutta crosses
    the traffic…"), as `bot.context` puts their sheets in play. The rest of the bible may speak,
    but nobody asked for them. A request with nobody in play has the whole bible in play; one
    that knows nobody, nobody."""
    if not cast_of(request):
        return ()
    context = request.context
    named = (name for name in context.cast if mention_at(request.prompt, name) >= 0)
    asked = (*request.characters, *(sheet.name for sheet in context.characters), *named)
    # The script so far is read once; the whole bible only when nobody is in play.
    return _with_the_script(request, asked) or known_speakers(request)


def _with_the_script(request: TaskRequest, names: Iterable[str]) -> tuple[str, ...]:
    """`names`, then the sheets the context left out for the token budget and whoever speaks in
    the script so far, each once."""
    context = request.context
    left_out = (
        note.removeprefix(_LEFT_OUT_SHEET)
        for note in context.omitted
        if note.startswith(_LEFT_OUT_SHEET)
    )
    script = (
        e.name for e in parse_fountain(context.recent_script).elements if isinstance(e, Character)
    )
    return tuple(dict.fromkeys(name.strip() for name in (*names, *left_out, *script) if name))


def cues_in_cast(speakers: Sequence[str], fountain: str) -> tuple[int, int]:
    """A script take's cues and how many of them the request's known `speakers`
    (`known_speakers`, read once for all its takes) speak; (0, 0) when the request knows no
    character (then every speaker is new, and none is invented). A walk-on part or a character
    the take introduces, which the bot lets pass, still counts outside the cast."""
    known = {_cue_key(name) for name in speakers}
    if not known:
        return 0, 0
    names = [e.name for e in parse_fountain(fountain).elements if isinstance(e, Character)]
    return len(names), sum(_cue_key(name) in known for name in names)


#: How `bot.context` names a character sheet it left out for the token budget.
_LEFT_OUT_SHEET = "the sheet of "

#: Walk-on parts a scene may give a line without a sheet: the last word of the cue (`WAITER`,
#: `OLD MAN`, `GUARD #2`) names a role, not a person.
_WALK_ON_ROLES = frozenset(
    [
        "waiter",
        "waitress",
        "nurse",
        "doctor",
        "cop",
        "officer",
        "policeman",
        "policewoman",
        "guard",
        "driver",
        "bartender",
        "clerk",
        "receptionist",
        "man",
        "woman",
        "boy",
        "girl",
        "kid",
        "child",
        "voice",
        "voices",
        "crowd",
        "all",
        "everyone",
        "stranger",
        "operator",
        "announcer",
        "reporter",
        "priest",
        "soldier",
        "passenger",
        "customer",
        "neighbour",
        "neighbor",
        "landlord",
        "landlady",
        "maid",
        "butler",
        "pilot",
        "captain",
        "judge",
        "secretary",
        "assistant",
        "vendor",
        "shopkeeper",
        "cashier",
        "paramedic",
        "dispatcher",
        "conductor",
        "messenger",
        "radio",
        "tv",
        "intercom",
        "pa",
        "sergeant",
        "deputy",
        "sheriff",
        "attendant",
        "porter",
        "servant",
        "guest",
        "host",
        "usher",
        "teacher",
        "student",
        "farmer",
        "服务员",
        "护士",
        "医生",
        "警察",
        "司机",
        "老板",
        "店员",
        "路人",
        "众人",
        "邻居",
        "小二",
        "伙计",
        "掌柜",
        "士兵",
        "乘客",
    ]
)


def _walk_ons(document: Document, cast: tuple[str, ...], asked: str, situation: str) -> list[str]:
    """Cues outside `cast` the take may use all the same: a walk-on role (`_WALK_ON_ROLES`), a
    character the take's own action introduces before they speak (as a script introduces a
    new character: "A GROUNDSKEEPER leans on his rake."; one such newcomer a take,
    `_NEWCOMERS`), or one the writer's own words name (`situation`, the request's): "Brenda
    nags Lexi; then Dutta crosses the traffic to announce…" lets DUTTA speak, though only
    BRENDA and LEXI were named as in play (the shipped model's DUTTA was flagged as invented in
    3 of 36 English dialogue takes of session 29's evaluation). Not a
    cast member's first name with a surname the request (`asked`, casefolded) never gives: a
    take that introduces PILAR MARPLOTTO, PILAR PELOSO and PILAR MARLA beside the room's PILAR
    has lost track of who she is. A speaker is judged where they first speak: DUTTI, who speaks
    before the action mentions him (`DUTTI raises his hands` four speeches later, session 30's
    evaluation), was never brought on."""
    known = {_cue_key(name) for name in cast}
    firsts = {key.split()[0] for key in known if key}
    chinese = [key for key in known if ONE_CJK.search(key)]
    action = place = ""
    found: list[str] = []
    introduced: dict[str, list[str]] = {}  # brought on by the take's own action alone
    refused: set[str] = set()  # speaking before anything brought them on
    for element in document.elements:
        if isinstance(element, SceneHeading):
            place = element.text.casefold()
        elif isinstance(element, Action):
            action += " " + element.text.plain.casefold()
        elif isinstance(element, Character) and (key := _cue_key(element.name)) not in known:
            if key in refused:
                continue
            if key in _PRONOUNS:  # "…she mocks his reasons" names nobody: SHE is no one's cue
                refused.add(key)
                continue
            words = key.replace("#", " ").split()
            role = next((w for w in reversed(words) if not w.isdigit()), "")
            renamed = (
                (len(words) > 1 and words[0] in firsts) or _cjk_renamed(key, chinese, place)
            ) and mention_at(asked, key) < 0
            if role in _WALK_ON_ROLES or (key and mention_at(situation, key) >= 0):
                found.append(element.name)
            elif key and not renamed and mention_at(action, key) >= 0:
                introduced.setdefault(key, []).append(element.name)
            else:
                refused.add(key)
    if len(introduced) <= _NEWCOMERS:
        found += [name for names in introduced.values() for name in names]
    return found


#: Cues that name nobody, however often the writer's words or the take's action say them (the
#: shipped model's `SHE` in a scene the writer asked for with "she mocks his ever-changing
#: reasons", session 31's evaluation); no cue of the corpus is one.
_PRONOUNS = frozenset(
    {
        *("i", "me", "you", "he", "him", "she", "her", "it", "we", "us", "they", "them"),
        *("我", "你", "您", "他", "她", "它", "我们", "你们", "他们", "她们", "咱们"),
    }
)

#: The people a script take may bring on by its own action, none of them in the room's cast or
#: named by the writer: one new face is a scene's business; more is a take that has lost the
#: room's people (`GRAVES sits at the console. VANE stands at the desk.`, both speaking, in a
#: continuation of a script whose cast knows neither: session 30's evaluation). One answer of
#: the corpus's 1,359 dialogues and continuations brings on a speaker outside its request's
#: known speakers; none brings on two.
_NEWCOMERS = 1


def _cjk_renamed(key: str, chinese: list[str], place: str) -> bool:
    """Whether a Chinese cue outside the cast is a cast member's name run into other words
    (阎福门口, "Yan Fu's doorway", out of the action `看看阎福门口`) or a word of the scene's
    heading (官道, the road of `外景 官道 夜`), which a take's action mentions without bringing
    anyone on: its characters run on without spaces, so every stretch of it reads as mentioned.
    A cast member's own people are new speakers: 阎福的手下, 小田妈, 阎福娘子 (`_KIN`)."""
    if not ONE_CJK.search(key):
        return False
    for name in chinese:
        if key.startswith(name) and not key[len(name) :].startswith(_KIN):
            return True
    return key in place.split()


#: What follows a cast member's name in the cue of someone of theirs (the corpus's Chinese
#: scripts give no cue that starts with another's name at all).
_KIN = (
    "的",
    "家",
    "妈",
    "爸",
    "娘",
    "爹",
    "哥",
    "姐",
    "弟",
    "妹",
    "嫂",
    "叔",
    "婶",
    "姨",
    "舅",
    "姑",
    "奶",
    "爷",
    "媳",
    "老婆",
    "老公",
    "丈夫",
    "妻",
    "儿",
    "女儿",
    "手下",
)


def _misread_cues(document: Document, text: str) -> list[str]:
    """Cues the take never writes as a cue, in capitals or with `@` at the start of a line: the
    reader took a word of the action for a speaker (`Inside: sheets of paper.`), so nobody was
    invented."""
    starts = {line.lstrip().lstrip("@") for line in text.splitlines()}
    return [
        e.name
        for e in document.elements
        if isinstance(e, Character)
        and not any(start.startswith(e.name.strip().lstrip("@")) for start in starts)
    ]


def _cue_key(name: str) -> str:
    """`Mara (V.O.)`, `@MARA`, `MARA ^` -> `mara`."""
    return " ".join(without_parentheses(name).strip().lstrip("@").rstrip("^").split()).casefold()


def _without_unfinished_end(document: Document) -> Document:
    """The take without the element its token budget cut off: a last wryly, the words after a
    parenthesis opened and never closed in the last speech (`GUS` / `(to`), then a cue left
    with nothing to say. A take ends where the model's last complete element did; nothing is
    removed from a take that ends well (none of these can end a finished scene)."""
    elements = list(document.elements)
    while elements:
        last = elements[-1]
        if isinstance(last, Parenthetical | Character):
            elements.pop()
        elif isinstance(last, Dialogue) and (cut := _unclosed_parenthesis(last.text.plain)) >= 0:
            kept = last.text.plain[:cut].rstrip()
            if kept:
                elements[-1] = Dialogue(parse_inline(kept))
                break
            elements.pop()
        else:
            break
    if tuple(elements) == document.elements:
        return document
    return dataclasses.replace(document, elements=tuple(elements))


def _unclosed_parenthesis(text: str) -> int:
    """Where the outermost parenthesis that `text` leaves open begins; -1 when none is."""
    depth, opened = 0, -1
    for index, char in enumerate(text):
        if char in "(（":
            if depth == 0:
                opened = index
            depth += 1
        elif char in ")）" and depth:
            depth -= 1
    return opened if depth else -1


_FIELD = re.compile(r"^\s*[-*]?\s*\**([A-Za-z ]{2,20}?|[\u4e00-\u9fff]{2,6})\**\s*[:：]\s*(.*)$")


def _field_name(label: str) -> str | None:
    """The field a label names, English (`Personality`) or Chinese (`性格`); None for others."""
    label = label.strip().lower()
    if label in _KNOWN_FIELDS:
        return label
    return zh.FIELD_NAMES.get(label)


def _fields(text: str) -> dict[str, str]:
    """`Field: value` lines, keys lower-cased; a line without a field continues the last one."""
    return _read_fields(text)[0]


def _read_fields(text: str, only: tuple[str, ...] = ()) -> tuple[dict[str, str], str | None]:
    """`_fields`, and with `only` the fields read stop at the first label past them or written
    again (its label is returned too: what the answer ran on into); None when none did."""
    found: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        match = _FIELD.match(line)
        name = _field_name(match.group(1)) if match else None
        if match and only and (name not in only or name in found):
            return found, match.group(1).strip()
        if match and name is not None:
            last = name
            found[last] = match.group(2).strip().strip("*").strip()
        elif last is not None and line.strip():
            found[last] = f"{found[last]} {line.strip()}".strip()
    return found, None


_KNOWN_FIELDS = frozenset({*_SHEET_LINES, "title", "logline"})


def _parse_sheet(request: TaskRequest, text: str) -> ParsedAnswer:
    fields = _fields(text)
    # A name the writer asked for wins over the one the model wrote.
    name = request.characters[0] if request.characters else fields.get("name", "")
    values = {field: fields.get(field, "") for field in SHEET_FIELDS}
    problems = []
    if not any(values.values()) and text.strip():
        # The model wrote prose instead of fields: keep its words where the writer sees them.
        values["description"] = " ".join(text.split())
        problems.append("The model wrote no sheet fields; its text is kept as the description.")
    sheet = CharacterSheet(name=name.strip().strip("*").upper(), **values)
    if not sheet.name:
        problems.append("The character sheet has no name.")
    if not (sheet.description or sheet.personality):
        problems.append("The character sheet has neither a description nor a personality.")
    if (ages_wrong := age_conflict(request, sheet)) is not None:
        problems.append(ages_wrong)
    return ParsedAnswer(sheet=sheet, problems=tuple(problems))


#: What `age_conflict`'s sentences say.
_AGE_ASKED = "The sheet's age for {} (“{}”) does not fit the request's (“{}”)."
_AGES = "The sheet gives {} two ages that cannot both hold (“{}” and “{}”)."


def age_conflict(request: TaskRequest, sheet: CharacterSheet) -> str | None:
    """A sentence saying that `sheet` gives its character an age the writer's request rules out
    (`a seventeen-year-old son` described as in his seventies) or two ages that cannot both hold
    (`身份：女主（70岁）… 外形：34岁`), or None (`model.ages`: only the role and the head of the
    description are read, and an age tied to a moment or another time line is no conflict)."""
    found = ages.conflict(ages.sheet_ages(sheet.role, sheet.description), ages.ages(request.prompt))
    if found is None:
        return None
    name = sheet.name or "the character"
    if found.asked:
        return _AGE_ASKED.format(name, found.stated.said, found.other.said)
    return _AGES.format(name, found.other.said, found.stated.said)


#: A year after a title, as film listings give it: `The Last Crossing (2013)`, `夜班（2019）`.
_TITLE_YEAR = re.compile(r"\s*[(\[（【]\s*(?:19|20)\d\d\s*[)\]）】]$")
#: Quotation marks and markdown around a title, paired or not: `"The Crossing"`, `**夜班**`,
#: `《夜班》`. The title card and the export set the title out themselves.
_TITLE_MARKS = '"“”«»「」『』《》〈〉*_ '


def _clean_title(title: str) -> str:
    """`title` as the room keeps it: on one line, without the quotation marks, markdown and
    release year the model wraps it in (`"The Last Crossing" (2013)` -> `The Last Crossing`)."""
    title = " ".join(title.split()).strip(_TITLE_MARKS)
    return _TITLE_YEAR.sub("", title).strip(_TITLE_MARKS)


def _parse_premise(text: str) -> ParsedAnswer:
    fields, past = _premise_fields(text)
    title = _clean_title(fields.get("title", ""))
    logline = fields.get("logline", "").strip()
    problems = []
    if not logline:
        problems.append("The premise has no logline.")
    if not title:
        problems.append("The premise has no title.")
    elif stutter := title_stutter(title):
        problems.append(stutter)
    if past is not None:
        problems.append(_PREMISE_GOES_ON.format(past))
    return ParsedAnswer(title=title, logline=logline, problems=tuple(problems))


#: What `_parse_premise` says of a premise that goes on past its two lines.
_PREMISE_GOES_ON = "The premise goes on past its title and logline (“{}”)."


def answer_ended(request: TaskRequest, text: str) -> bool:
    """Whether `text`, a take of `request` being written, is already its whole answer, to be
    ended there as if the model had ended it: a premise whose title and logline are written and
    the line after them begun (`text` ends with a line break), nothing past them. Every premise
    of the corpus is its two lines; first sampled, the shipped model ran on past them in 2 of 18
    English premises and 4 of 18 Chinese ones (session 28), each then malformed. Other kinds end
    when the model ends them."""
    if request.kind is not TaskKind.PREMISE or not text.endswith("\n"):
        return False
    fields, past = _premise_fields(text)
    title, logline = _clean_title(fields.get("title", "")), fields.get("logline", "")
    return past is None and bool(title) and bool(logline)


def _premise_fields(text: str) -> tuple[dict[str, str], str | None]:
    """A premise's title and logline as the first of each it writes (a line without a label
    carries on the one above), and the label of the first line past them that starts the form
    again (a second `梗概：`, `Logline:`) or adds one of its own (`Cast:`, `Referrer:`, a
    speaker's `戴老板：`), or None. Every premise of the corpus is its two lines; the shipped
    model ran on past them in 7 of the 9 Chinese premises session 19's readers saw, and the
    room kept the last logline with the lines after it glued on."""
    return _read_fields(text, only=("title", "logline"))


def _parse_beat(text: str) -> ParsedAnswer:
    pieces = paragraphs([line.strip() for line in text.strip().splitlines()])
    beat = re.sub(r"^\**(beat|next|twist)\**\s*:\s*", "", pieces[0], flags=re.I) if pieces else ""
    beat = " ".join(beat.split())
    if not beat:
        return ParsedAnswer(problems=("The beat is empty.",))
    if HEADING.match(beat) or read_heading(beat) is not None:
        return ParsedAnswer(beat=beat, problems=(NOT_A_BEAT.format("a scene heading", beat),))
    if bare_description(beat):
        return ParsedAnswer(beat=beat, problems=(NOT_A_BEAT.format("a description", beat),))
    return ParsedAnswer(beat=beat)


# --- the prompt's own words in a take -----------------------------------------------------------

#: A placeholder of a format template: `<the title>`, `<THE TITLE>`, `<one sentence: ...>`.
_PLACEHOLDER = re.compile(r"<[^\W\d_][^<>\n]{0,80}>")
#: Stands for the writer's words while the prompt's own words are read out of the builders.
_WRITERS = "\x00"


def template_echo(text: str) -> str | None:
    """A sentence naming how `text` copies the answer format it was asked for instead of
    filling it in, or None: a placeholder (`<the title>`, in any case), `...` as a whole field
    value, an instruction of the prompt (“one sentence:”, “Answer with the screenplay text
    only”), or two lines of the example answer. The placeholders and instructions are read
    from the prompt builders themselves, so a new template is covered as it is written."""
    folded = " ".join(text.split()).casefold()
    placeholders, phrases, example = _template_words()
    found = _PLACEHOLDER.search(text)
    if found:
        return _ECHO.format(found.group())
    for phrase in phrases:
        if phrase in folded:
            return _ECHO.format(phrase)
    for line in text.splitlines():
        field = _FIELD.match(line)
        known = field is not None and _field_name(field.group(1)) is not None
        if known and field is not None and field.group(2).strip(" *") in _ELLIPSES:
            return _ECHO.format(line.strip())
    lines = {" ".join(line.split()).casefold() for line in text.splitlines()}
    copied = sorted(lines & example)
    if len(copied) >= 2:
        return _ECHO.format(" / ".join(copied))
    if any(p in folded for p in placeholders):
        return _ECHO.format(next(p for p in placeholders if p in folded))
    return None


_ECHO = "The take copies the prompt's answer format instead of filling it in (“{}”)."
_ELLIPSES = frozenset({"...", "…", "..", "....", "etc.", "[...]"})


@functools.cache
def _template_words() -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """From every task's prompt: the placeholders (casefolded), the instruction phrases a take
    must not contain (sentences of five words or more, and the placeholders' leading
    instructions such as `one sentence:`), and the lines of the example answer (speech and
    action, casefolded)."""
    placeholders: set[str] = set()
    phrases: set[str] = set()
    for kind in TaskKind:
        request = TaskRequest(kind, _WRITERS, (_WRITERS,))
        prompt = _task(request)
        for placeholder in _PLACEHOLDER.findall(prompt + zh.task(request)):
            placeholders.add(placeholder.casefold())
            inner = placeholder[1:-1]
            if ":" in inner:
                phrases.add(inner.split(":")[0].casefold().strip() + ":")
        for part in _PLACEHOLDER.sub("\n", prompt).split(_WRITERS):
            for sentence in re.split(r"[\n.?!;:()]", part):
                if len(sentence.split()) >= 5:
                    phrases.add(" ".join(sentence.split()).casefold().strip(" ,"))
        # A Chinese instruction: a run of eight characters or more between punctuation.
        phrases.update(re.findall(f"[{CJK}]{{8,}}", _PLACEHOLDER.sub("\n", zh.task(request))))
    shape = _FOUNTAIN.rsplit(":", 1)[-1]
    example = frozenset(
        " ".join(line.split()).casefold()
        for line in shape.splitlines()
        if line.strip() and not line.strip().startswith("(") and line != line.upper()
    ) | frozenset(line for line in zh.FORMAT.rsplit("\n\n", 1)[-1].splitlines() if "：" in line)
    return tuple(sorted(placeholders)), tuple(sorted(phrases)), example
