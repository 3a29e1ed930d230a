"""The script as text, for the front ends and the room: a take as a writer reads and edits it,
script lines as Fountain, scene lookup, reading a writer's Fountain (or
lines in the Chinese convention) or an imported file.

Pure functions over the domain types; no store, no locks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import PurePosixPath

from bot.domain import (
    ScriptLine,
    Take,
    with_attribution_notes,
)
from bot.errors import (
    BadInput,
    NotFound,
    screenplay_problem,
)
from bot.messages import ENGLISH, LANGS, Lang, counted, text
from bot.problems import problem_list
from model.tasks import SCRIPT_KINDS, SHEET_FIELDS, TaskKind, is_chinese
from screenplay.errors import ScreenplayError
from screenplay.fdx import parse_fdx
from screenplay.fountain import parse_fountain, to_fountain
from screenplay.lint import lint
from screenplay.render import ALL_FORMATS, render
from screenplay.types import Boneyard, Character, Document, Element, SceneHeading
from screenplay.zh import parse_zh

#: Lint problems that make text "not a screenplay": the structure is broken. Other problems (a
#: heading without a time of day, a scene not yet filled, a speaker not in the bible) are normal
#: in a draft written a few lines at a time.
FATAL_LINT = frozenset(
    {"cue-without-dialogue", "dialogue-without-cue", "empty-cue", "unbalanced-parentheses"}
)

#: The formats `/export` offers.
EXPORT_FORMATS = ALL_FORMATS


# --- text of takes --------------------------------------------------------------------------


def take_text(kind: TaskKind, take: Take, lang: Lang = ENGLISH) -> str:
    """A take as a writer reads and edits it; `edit_take` accepts the same form back.

    Script kinds: Fountain. Premise: the title on the first line, the logline below. Character:
    the cue name, then one line a field labelled in `lang` (`Role: ...`, `身份：……`). Beat: the
    beat."""
    if kind in SCRIPT_KINDS:
        return take.fountain or take.text
    if kind is TaskKind.PREMISE:
        return f"{take.title}\n{take.logline}".strip() if take.title or take.logline else take.text
    if kind is TaskKind.CHARACTER:
        if take.sheet is None:
            return take.text
        lines = [take.sheet.name]
        for name in SHEET_FIELDS:
            value = getattr(take.sheet, name)
            if value:
                lines.append(f"{sheet_label(name, lang)}{_COLON[lang]}{value}")
        return "\n".join(lines)
    return take.beat or take.text


_COLON: Mapping[Lang, str] = {"en": ": ", "zh-CN": "：", "zh-TW": "："}


def sheet_label(name: str, lang: Lang = ENGLISH) -> str:
    """A character sheet's field as a writer reads it in `lang`: Role, 身份, 身份."""
    label = text(f"field.{name}", lang)
    return label[:1].upper() + label[1:]


def sheet_line(line: str) -> tuple[str, str] | None:
    """A line of a character sheet as (field, value) when it starts with a field's label in
    any language the bot speaks (`Role: pilot`, `role: pilot`, `身份：飞行员`), else None."""
    cuts = [i for i in (line.find(":"), line.find("：")) if i >= 0]
    if not cuts:
        return None
    cut = min(cuts)
    name = _sheet_fields().get(line[:cut].strip().lower())
    return None if name is None else (name, line[cut + 1 :].strip())


@cache
def _sheet_fields() -> dict[str, str]:
    return {name: name for name in SHEET_FIELDS} | {
        sheet_label(name, lang).lower(): name for lang in LANGS for name in SHEET_FIELDS
    }


def format_lines(
    lines: Sequence[ScriptLine],
    *,
    attribution: bool = False,
    names: Mapping[int, str] | None = None,
    lang: Lang = ENGLISH,
) -> str:
    """Lines of the script as Fountain text, with attribution notes (in `lang`) on request."""
    elements: list[Element] = (
        with_attribution_notes(list(lines), names, lang)
        if attribution
        else [line.element for line in lines]
    )
    return to_fountain(Document(elements=tuple(elements)))


#: How long reading an imported file, and laying out an export, may take in the worker before
#: it is stopped (a file within `IMPORT_LIMIT` that takes longer is made to be slow).
IMPORT_TIME_LIMIT_S = 60.0
EXPORT_TIME_LIMIT_S = 120.0


def render_export(doc: Document, fmt: str, paper: str, layout: str) -> bytes:
    """`screenplay.render` as a worker job (positional arguments only)."""
    return render(doc, fmt, paper=paper, layout=layout)


def page_layout(language: str) -> str:
    """The page a room's PDF and Word exports use: the Chinese convention for a room that
    writes in Chinese, the Hollywood page otherwise."""
    return "zh" if is_chinese(language) else "hollywood"


#: The largest screenplay file a room imports.
IMPORT_LIMIT = 5_000_000


def read_script_file(filename: str, data: bytes) -> Document:
    """A .fountain or .fdx file's document; `BadInput` with one sentence when it is not one."""
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix not in (".fountain", ".fdx"):
        raise BadInput("error.import_kind")
    if len(data) > IMPORT_LIMIT:
        raise BadInput("error.import_too_large", file=filename, limit=IMPORT_LIMIT)
    try:
        if suffix == ".fdx":
            return parse_fdx(data)
        return parse_fountain(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise BadInput("error.import_not_utf8", file=filename) from None
    except ScreenplayError as err:
        raise BadInput("error.import_unreadable", reason=screenplay_problem(err)) from None


def scene_lines(script: Sequence[ScriptLine], number: int) -> Sequence[ScriptLine]:
    """The lines of scene `number` (from 1): its heading up to the next heading."""
    starts = [i for i, line in enumerate(script) if isinstance(line.element, SceneHeading)]
    if not 1 <= number <= len(starts):
        count = len(starts)
        raise NotFound("error.no_scene", scene=number, scenes=counted("scene", count))
    end = starts[number] if number < len(starts) else len(script)
    return script[starts[number - 1] : end]


def parse_script(text: str) -> tuple[Element, ...]:
    """The screenplay elements of a writer's Fountain text; `BadInput` with the lint message when
    the text is not a screenplay."""
    elements, title_page = _writers_elements(text)
    if title_page:
        raise BadInput("error.title_page_lines")
    if not elements:
        raise BadInput("error.no_screenplay_lines")
    problems = [p for p in lint(Document(elements=elements), source=text) if p.code in FATAL_LINT]
    if problems:
        # Worded in the writer's language, as a ballot words a take's problems.
        listed = problem_list([str(p) for p in problems[:3]])
        if len(problems) > 3:
            raise BadInput("error.not_screenplay_more", problems=listed, more=len(problems) - 3)
        raise BadInput("error.not_screenplay", problems=listed)
    return elements


def _writers_elements(text: str) -> tuple[tuple[Element, ...], bool]:
    """A writer's lines as Fountain, or in the Chinese convention (`陈伯：打烊了。`, `内景 茶馆 夜`,
    `△ 雨夜。`) when the text has Chinese in it, no Fountain-only marks (`@` cues, `INT.`
    headings), and only the Chinese reading finds speeches or scenes in it."""
    elements, title_page = _fountain_body(text)
    if not _maybe_zh(text) or any(isinstance(e, (Character, SceneHeading)) for e in elements):
        return elements, title_page
    zh = parse_zh(text)
    if any(isinstance(e, (Character, SceneHeading)) for e in zh.elements):
        return zh.elements, bool(zh.title_page)
    return elements, title_page


def _maybe_zh(text: str) -> bool:
    if not any("\u3400" <= ch <= "\u9fff" for ch in text):
        return False
    firsts = (line.lstrip()[:4].upper() for line in text.splitlines())
    return not any(first.startswith(("@", "INT.", "EXT.", "I/E")) for first in firsts)


#: Keys that make the start of a text a real title page rather than a line such as `CUT TO:`.
_TITLE_KEYS = frozenset(
    {"title", "credit", "author", "authors", "source", "draft date", "contact", "copyright"}
)


def _fountain_body(text: str) -> tuple[tuple[Element, ...], bool]:
    """The elements of a Fountain fragment, and whether it began with a real title page.

    In Fountain any `Key:` line at the very start opens a title page, so a fragment starting with
    `CUT TO:` or `FADE IN:` would lose that line to it. Unless the keys are title-page keys, the
    fragment is read again behind an empty boneyard, which no title page can follow, and the
    boneyard is dropped.
    """
    doc = parse_fountain(text)
    if not doc.title_page:
        return doc.elements, False
    if any(entry.key.strip().lower() in _TITLE_KEYS for entry in doc.title_page.entries):
        return doc.elements, True
    elements = parse_fountain("/**/\n\n" + text).elements
    return (elements[1:] if elements[:1] == (Boneyard(""),) else elements), False


def take_elements(take: Take) -> tuple[Element, ...]:
    """The script elements of a picked take (a title page the model wrote is left out)."""
    return _fountain_body(take.fountain or take.text)[0]
