"""Training examples in the bot's own prompt format, built from screenplays.

A script (a .fountain or .fdx file, with an optional `<name>.cast.json` of character sheets
beside it) becomes chat examples for every task the bot asks of the model: premise -> title and
logline, character -> sheet, situation -> scene opening, situation and characters -> dialogue,
script so far -> next beat, script so far -> continuation. Messages come from
`model.prompts.build_messages` and answers from `model.prompts.format_answer`, so the model is
trained in exactly the format the bot asks in and the parsers read.

Splits are by script: no scene of a validation or test script is ever trained on.

This module knows files, screenplays and prompts; it knows nothing of torch or tokenizers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model.prompts import build_messages, format_answer, places_named
from model.tasks import CharacterSheet, PromptContext, TaskKind, TaskRequest, is_chinese
from screenplay.fdx import parse_fdx
from screenplay.fountain import parse_fountain, to_fountain
from screenplay.types import Action, Character, Document, Element, SceneHeading, Synopsis

_log = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
#: Characters of script kept as context before the part to write; about 300 tokens.
CONTEXT_CHARS = 1200
#: Longest answer in characters before a scene is cut into several dialogue examples.
CHUNK_CHARS = 900


@dataclass(frozen=True)
class Script:
    """One screenplay of a corpus with what the room would know about it."""

    name: str
    document: Document
    cast: tuple[CharacterSheet, ...] = ()

    def meta(self, key: str) -> str:
        value = self.document.title_page.get(key)
        return " ".join(value.plain.split()) if value else ""

    @property
    def language(self) -> str:
        return self.meta("Language") or "English"


@dataclass(frozen=True)
class Example:
    """One training example: chat `messages` and the ideal `answer`."""

    kind: TaskKind
    script: str
    messages: list[dict[str, str]]
    answer: str
    request: TaskRequest | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Splits:
    train: list[Example]
    val: list[Example]
    test: list[Example]
    scripts: dict[str, list[str]]  # split name -> script names


@dataclass(frozen=True)
class PreferencePair:
    """A room's vote: for `messages`, the picked take was preferred over a rejected one."""

    messages: list[dict[str, str]]
    chosen: str
    rejected: str

    def chosen_example(self) -> Example:
        return Example(TaskKind.CONTINUE, "prefs", self.messages, self.chosen)

    def rejected_example(self) -> Example:
        return Example(TaskKind.CONTINUE, "prefs", self.messages, self.rejected)


# --- loading ----------------------------------------------------------------------------------


def load_scripts(folder: Path | None = None) -> list[Script]:
    """Every .fountain and .fdx file under `folder` (default: the shipped corpus), with the
    character sheets of a `<name>.cast.json` beside it when there is one."""
    folder = folder or CORPUS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder of scripts at {folder}.")
    scripts = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".fountain", ".fdx"}):
        text = path.read_text(encoding="utf-8")
        document = parse_fdx(text) if path.suffix.lower() == ".fdx" else parse_fountain(text)
        scripts.append(Script(path.stem, document, _load_cast(path.with_suffix(".cast.json"))))
    if not scripts:
        raise FileNotFoundError(f"No .fountain or .fdx scripts in {folder}.")
    return scripts


def load_hf_dataset(name: str, split: str = "train", column: str = "text") -> list[Script]:
    """Scripts from a Hugging Face dataset whose `column` holds Fountain text (needs the
    `datasets` package and a network, or a dataset already in the local cache)."""
    try:
        from datasets import load_dataset
    except ImportError as err:
        raise RuntimeError("Loading a Hugging Face dataset needs `pip install datasets`.") from err
    rows = load_dataset(name, split=split)
    return [Script(f"{name}-{i}", parse_fountain(row[column])) for i, row in enumerate(rows)]


def _load_cast(path: Path) -> tuple[CharacterSheet, ...]:
    if not path.is_file():
        return ()
    sheets = json.loads(path.read_text(encoding="utf-8"))
    known = set(CharacterSheet.__dataclass_fields__)
    return tuple(CharacterSheet(**{k: str(v) for k, v in s.items() if k in known}) for s in sheets)


# --- examples ---------------------------------------------------------------------------------


def scenes_of(document: Document) -> list[tuple[SceneHeading, tuple[Element, ...]]]:
    """The scenes of `document`, each heading with its printed elements: a synopsis (`= …`)
    says what the scene is about and is never part of its text (`synopses_of`)."""
    return [
        (h, tuple(e for e in body if not isinstance(e, Synopsis)))
        for h, body in document.scenes()
        if h is not None
    ]


def synopses_of(document: Document) -> list[str]:
    """Each scene's synopsis, in the order of `scenes_of`: what happens in it as a plot
    development (the corpus writes one right after every heading, `training.synopses`); ""
    for a scene without one. Several are joined."""
    return [
        " ".join(" ".join(e.text.split()) for e in body if isinstance(e, Synopsis))
        for h, body in document.scenes()
        if h is not None
    ]


def fountain_of(elements: Sequence[Element]) -> str:
    return to_fountain(Document(elements=tuple(elements))).strip()


def _tail(text: str, limit: int = CONTEXT_CHARS) -> str:
    """The end of `text`, cut at a paragraph boundary, as the room's context would hold it."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    boundary = cut.find("\n\n")
    return cut[boundary + 2 :] if boundary >= 0 else cut


def _context(
    script: Script, before: str, names: Iterable[str], heading: str | None
) -> PromptContext:
    wanted = {n.upper() for n in names}
    sheets = tuple(s for s in script.cast if s.name.upper() in wanted)
    # `cast` names the whole bible, as the bot's context does (`bot.context`): it is not written
    # into the prompt, but a take's speakers are checked against it, as a room's would be.
    return PromptContext(
        title=script.meta("Title"),
        logline=script.meta("Logline"),
        genre=script.meta("Genre"),
        tone=script.meta("Tone"),
        language=script.language,
        characters=sheets,
        scene_heading=heading,
        recent_script=_tail(before),
        cast=tuple(sheet.name for sheet in script.cast),
    )


def _example(script: Script, request: TaskRequest, answer: str) -> Example:
    return Example(request.kind, script.name, build_messages(request), answer, request)


def _speakers(elements: Iterable[Element]) -> list[str]:
    return list(dict.fromkeys(e.name for e in elements if isinstance(e, Character)))


def _size(element: Element) -> int:
    """Printed characters of an element plus its line breaks, as Fountain would hold it."""
    if isinstance(element, SceneHeading):
        return len(element.text) + 2
    if isinstance(element, Character):
        return len(element.cue) + 2
    text = getattr(element, "text", "")
    return len(text.plain if hasattr(text, "plain") else str(text)) + 2


def _chunks(elements: Sequence[Element]) -> list[list[Element]]:
    """Cut a run of elements into pieces of about CHUNK_CHARS at paragraph boundaries, never
    separating a cue from what it says."""
    chunks: list[list[Element]] = [[]]
    size = 0
    for element in elements:
        length = _size(element)
        if size + length > CHUNK_CHARS and chunks[-1] and isinstance(element, Character | Action):
            chunks.append([])
            size = 0
        chunks[-1].append(element)
        size += length
    return [c for c in chunks if c]


def examples_for(script: Script) -> list[Example]:
    """All examples of one script, in story order."""
    out: list[Example] = []
    genre, logline, title = script.meta("Genre"), script.meta("Logline"), script.meta("Title")
    if logline and title:
        idea = _idea_of(logline, genre)
        request = TaskRequest(
            TaskKind.PREMISE, idea, context=PromptContext(language=script.language)
        )
        out.append(
            _example(
                script,
                request,
                format_answer(
                    TaskKind.PREMISE, title=title, logline=logline, language=script.language
                ),
            )
        )
    for sheet in script.cast:
        ask = f"{sheet.name}, {sheet.role}" if sheet.role else sheet.name
        base = _context(script, "", (), None)
        request = TaskRequest(TaskKind.CHARACTER, ask, context=base)
        out.append(
            _example(
                script,
                request,
                format_answer(TaskKind.CHARACTER, sheet=sheet, language=script.language),
            )
        )
    scenes = scenes_of(script.document)
    synopses = synopses_of(script.document)
    so_far = ""
    for index, (heading, body) in enumerate(scenes):
        earlier = tuple(h.text for h, _ in scenes[:index])
        out.extend(_scene_examples(script, heading, body, so_far, earlier, synopses[index]))
        scene_text = fountain_of([heading, *body])
        if index + 1 < len(scenes):
            following = so_far + "\n\n" + scene_text
            out.extend(_next_examples(script, scenes[index + 1], following, synopses[index + 1]))
        so_far = (so_far + "\n\n" + scene_text).strip()
    return out


def _idea_of(logline: str, genre: str) -> str:
    """A writer's rough idea behind a logline: its opening clause, as a room would pitch it
    ("thriller: a Berlin bike courier paid triple to deliver a sealed envelope")."""
    clause = re.split(r",|，|；|;| must | finds ", logline, maxsplit=1)[0]
    words = clause.split()[:14]
    if words and words[0].lower() in {"a", "an", "the"}:
        words[0] = words[0].lower()
    if genre and re.search("[\u4e00-\u9fff]", genre):
        return f"{genre}：{' '.join(words)}"
    return f"{genre.lower()}: {' '.join(words)}" if genre else " ".join(words)


def _scene_examples(
    script: Script,
    heading: SceneHeading,
    body: tuple[Element, ...],
    so_far: str,
    earlier: tuple[str, ...] = (),
    synopsis: str = "",
) -> list[Example]:
    """The scene's opening, asked with its place, who is in it and what happens in it (its
    `synopsis`, as a writer asks for a scene), and each stretch of its dialogue, asked with the
    people who speak in it and the scene's situation: what happens, or, in a script without
    synopses, its opening action."""
    out: list[Example] = []
    opening: list[Element] = []
    for element in body:
        if not isinstance(element, Action):
            break
        opening.append(element)
    speakers = _speakers(body)
    place = string.capwords(heading.text.split(" - ")[0].split(". ", 1)[-1].strip().lower())
    with_whom = f", with {' and '.join(speakers[:3])}" if speakers else ""
    what = f": {synopsis}" if synopsis else ""
    if is_chinese(script.language):
        with_whom = f"，{'、'.join(speakers[:3])}在场" if speakers else ""
        what = f"：{synopsis}" if synopsis else ""
    if opening:
        situation = f"{place}{with_whom}{what}"
        # A place the script has been before is known by its heading, as the bot knows it.
        context = dataclasses.replace(
            _context(script, so_far, speakers, None), places=places_named(earlier, situation)
        )
        request = TaskRequest(TaskKind.SCENE, situation, tuple(speakers), context)
        answer = fountain_of([heading, *opening])
        out.append(
            _example(
                script,
                request,
                format_answer(TaskKind.SCENE, fountain=answer, language=script.language),
            )
        )
    rest = list(body[len(opening) :])
    situation = (
        synopsis or " ".join(a.text.plain for a in opening if isinstance(a, Action))[:300] or place
    )
    written = fountain_of([heading, *opening])
    for chunk in _chunks(rest):
        names = _speakers(chunk)
        if not names:
            written += "\n\n" + fountain_of(chunk)
            continue
        context = _context(script, (so_far + "\n\n" + written).strip(), names, heading.text)
        request = TaskRequest(TaskKind.DIALOGUE, situation, tuple(names), context)
        answer = fountain_of(chunk)
        out.append(
            _example(
                script,
                request,
                format_answer(TaskKind.DIALOGUE, fountain=answer, language=script.language),
            )
        )
        written += "\n\n" + answer
    return out


def _next_examples(
    script: Script,
    following: tuple[SceneHeading, tuple[Element, ...]],
    so_far: str,
    synopsis: str = "",
) -> list[Example]:
    """The beat and the continuation that lead into the `following` scene. The beat is what
    happens in it, its `synopsis`; a script without synopses (a room's own, a dataset's) gives
    the scene's first action instead, which is set dressing more often than a development."""
    heading, body = following
    out: list[Example] = []
    first_action = next((e for e in body if isinstance(e, Action)), None)
    names = _speakers(body)
    beat = synopsis
    if not beat and first_action is not None:
        beat = " ".join(first_action.text.plain.split())
    if beat:
        request = TaskRequest(TaskKind.BEAT, "", (), _context(script, so_far, names, None))
        out.append(
            _example(
                script, request, format_answer(TaskKind.BEAT, beat=beat, language=script.language)
            )
        )
    first = _chunks([heading, *body])[0]
    request = TaskRequest(TaskKind.CONTINUE, "", (), _context(script, so_far, names, None))
    out.append(
        _example(
            script,
            request,
            format_answer(TaskKind.CONTINUE, fountain=fountain_of(first), language=script.language),
        )
    )
    return out


# --- splits -----------------------------------------------------------------------------------


def split_scripts(
    scripts: Sequence[Script], seed: int = 1234, val_share: float = 0.1, test_share: float = 0.1
) -> dict[str, list[Script]]:
    """Assign whole scripts to train / val / test, deterministically for a seed.

    Each language with three or more scripts is split on its own (at least one script each to
    test and validation), so that the held-out scripts cover every such language; the scripts
    of rarer languages are split together."""
    by_language: dict[str, list[Script]] = {}
    for script in sorted(scripts, key=lambda s: s.name):
        by_language.setdefault(script.language, []).append(script)
    groups = [group for group in by_language.values() if len(group) >= 3]
    groups.append([s for group in by_language.values() if len(group) < 3 for s in group])
    out: dict[str, list[Script]] = {"test": [], "val": [], "train": []}
    for group in groups:
        random.Random(seed).shuffle(group)
        n = len(group)
        n_test = max(1, round(n * test_share)) if n >= 3 else 0
        n_val = max(1, round(n * val_share)) if n >= 3 else 0
        out["test"] += group[:n_test]
        out["val"] += group[n_test : n_test + n_val]
        out["train"] += group[n_test + n_val :]
    return out


def task_kinds(spec: str) -> tuple[TaskKind, ...]:
    """The task kinds a comma-separated `spec` names (`scene,dialogue`); ValueError for a word
    that names none."""
    return tuple(TaskKind(name.strip()) for name in spec.split(",") if name.strip())


def load_source(source: str | Path | None = None) -> list[Script]:
    """The scripts of `source`: the shipped corpus when empty, the Hugging Face dataset NAME
    for `hf:NAME`, else a folder of .fountain/.fdx files."""
    if not source:
        return load_scripts()
    if isinstance(source, str) and source.startswith("hf:"):
        return load_hf_dataset(source.removeprefix("hf:"))
    return load_scripts(Path(source))


def build_splits(source: str | Path | None = None, seed: int = 1234) -> Splits:
    """Examples of `source` (see `load_source`) split by script. The seed is the split's own,
    fixed by default, so that every fine-tune and evaluation holds out the same scripts."""
    groups = split_scripts(load_source(source), seed)
    examples = {name: [e for s in group for e in examples_for(s)] for name, group in groups.items()}
    return Splits(
        train=examples["train"],
        val=examples["val"],
        test=examples["test"],
        scripts={name: [s.name for s in group] for name, group in groups.items()},
    )


def load_preferences(path: Path) -> list[PreferencePair]:
    """Pairs from a prefs.jsonl of `training.prefs`: each line has `messages`, `chosen` and
    `rejected` (a list); every rejected take makes one pair with the chosen one."""
    pairs: list[PreferencePair] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.extend(
                PreferencePair(row["messages"], row["chosen"], rejected)
                for rejected in row["rejected"]
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: line {number} is not a preference record ({err}).") from None
    return pairs
