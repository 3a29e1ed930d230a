"""Scene numbers: which scene a writer means by `3` or `3A`, and the numbers an export prints.

Until the room saves its first draft, scenes are numbered 1, 2, 3... in script order and
exports print no numbers (as before). Saving a draft locks the numbering (`Locked`: each scene
heading's line id and its number): from then on a scene keeps its number wherever it moves; a
scene inserted later takes the number of the locked scene before it with a letter (3A, 3B; one
inserted before every locked scene takes a letter before the first number locked: A1, B1); a
deleted scene leaves its number behind, printed as `OMITTED` in exports as production drafts
do, just before the locked scene that followed it. A later draft locks the letters it finds as
well. A scene inserted between 3 and an already locked 3A is numbered 3B: the letters of a run
are unique, not always in order.

Pure functions over the domain types; no store, no locks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.domain import ScriptLine
from bot.errors import NotFound
from bot.messages import counted
from screenplay.types import Element, SceneHeading

#: A locked numbering: (scene heading line id, number), in the order of the script it was
#: locked on (omitted scenes keep their place).
Locked = tuple[tuple[int, str], ...]

#: The heading printed in place of a scene deleted after its number was locked.
OMITTED = "OMITTED"


@dataclass(frozen=True, slots=True)
class Scene:
    """One scene of the script: its number as writers address it and where its lines are
    (`start` is its heading's index in the script, `end` the index after its last line)."""

    label: str
    start: int
    end: int
    heading_id: int


def scenes(script: Sequence[ScriptLine], locked: Locked = ()) -> list[Scene]:
    """The script's scenes, numbered as the module docstring says."""
    starts = [i for i, line in enumerate(script) if isinstance(line.element, SceneHeading)]
    if not starts:
        return []
    ids = [script[i].id for i in starts]
    labels = scene_labels(ids, locked)
    ends = [*starts[1:], len(script)]
    return [
        Scene(labels[heading], start, end, heading)
        for heading, start, end in zip(ids, starts, ends, strict=True)
    ]


def scene_labels(heading_ids: Sequence[int], locked: Locked = ()) -> dict[int, str]:
    """Each heading's scene number: its place in the script without a lock, otherwise its
    locked number or a letter one."""
    if not locked:
        return {heading: str(n) for n, heading in enumerate(heading_ids, 1)}
    numbers = dict(locked)
    used = set(numbers.values())
    labels: dict[int, str] = {}
    before_first: list[int] = []
    previous: str | None = None
    suffixes: dict[str, Iterator[str]] = {}
    for heading in heading_ids:
        if heading in numbers:
            previous = labels[heading] = numbers[heading]
        elif previous is None:
            before_first.append(heading)
        else:
            labels[heading] = _free(suffixes.setdefault(previous, _letters(previous, "")), used)
    if before_first:
        prefixes = _letters("", locked[0][1])
        for heading in before_first:
            labels[heading] = _free(prefixes, used)
    return labels


def _letters(before: str, after: str) -> Iterator[str]:
    """`before` + A, B, ... Z, AA, AB ... + `after`."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    width = 1
    while True:
        for n in range(len(alphabet) ** width):
            letters = ""
            for _ in range(width):
                n, k = divmod(n, len(alphabet))
                letters = alphabet[k] + letters
            yield f"{before}{letters}{after}"
        width += 1


def _free(candidates: Iterator[str], used: set[str]) -> str:
    for label in candidates:
        if label not in used:
            used.add(label)
            return label
    raise AssertionError("the letters never run out")


def normal_label(text: str) -> str:
    """A scene number as a writer types it (`3a`, `#3A#`, ` 3 `) in the form it is kept."""
    return text.strip().strip("#").strip().upper()


def find_scene(found: Sequence[Scene], label: str) -> Scene:
    """The scene numbered `label`; `NotFound` with the numbers there are otherwise."""
    wanted = normal_label(label)
    scene = next((s for s in found if s.label == wanted), None)
    if scene is None:
        count = len(found)
        labels = [s.label for s in found]
        listed = (
            ""
            if labels == [str(k) for k in range(1, count + 1)]
            else (f" ({', '.join(labels[:12])}{'…' * (count > 12)})")
        )
        raise NotFound(
            "error.no_scene_listed",
            scene=wanted or label,
            scenes=counted("scene", count),
            listed=listed,
        )
    return scene


def lock(script: Sequence[ScriptLine], locked: Locked) -> Locked:
    """The numbering a draft saved now locks: every scene's current number, and the numbers of
    scenes omitted since the last lock, each kept after the scene it followed."""
    current = [(s.heading_id, s.label) for s in scenes(script, locked)]
    present = {heading for heading, _ in current}
    merged = list(current)
    for k, (heading, number) in enumerate(locked):
        if heading in present:
            continue
        # After the nearest earlier locked scene that is still there (else at the start).
        anchor = next(
            (h for h, _ in reversed(locked[:k]) if h in present or h in dict(merged)), None
        )
        at = 0 if anchor is None else [h for h, _ in merged].index(anchor) + 1
        merged.insert(at, (heading, number))
    return tuple(merged)


def numbered_elements(
    elements: Sequence[Element], heading_ids: Sequence[int | None], locked: Locked
) -> list[tuple[Element, int | None]]:
    """`elements` for an export once numbering is locked, each with the index of the element
    it stands for (None for an added `OMITTED` heading): each scene heading carries its number,
    and each omitted scene an `OMITTED` heading where it was. `heading_ids` gives the line id of
    each element that is a script line's scene heading (None for the others)."""
    if not locked:
        return [(element, k) for k, element in enumerate(elements)]
    labels = scene_labels([h for h in heading_ids if h is not None], locked)
    order = {heading: k for k, (heading, _) in enumerate(locked)}
    missing = [(k, number) for k, (heading, number) in enumerate(locked) if heading not in labels]
    out: list[tuple[Element, int | None]] = []
    for k, (element, heading) in enumerate(zip(elements, heading_ids, strict=True)):
        if heading is not None and isinstance(element, SceneHeading):
            while missing and heading in order and missing[0][0] < order[heading]:
                out.append((SceneHeading(OMITTED, missing.pop(0)[1]), None))
            element = SceneHeading(element.text, labels[heading])
        out.append((element, k))
    out += [(SceneHeading(OMITTED, number), None) for _, number in missing]
    return out
