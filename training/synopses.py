"""What each scene of a corpus script is about: its synopsis, and the checks a synopsis must pass.

Every scene of the corpus opens with a Fountain synopsis (`= …`, right after its heading, never
printed): what happens in the scene as a plot development — who does what and what turns — in one
to three sentences, in the script's language. The dataset builder makes the beat examples of
these (`training.data`): asked "what happens next?", the model learns to answer with the next
scene's development, not its first line of set dressing.

`python -m training.synopses FILE...` prints what is wrong with the synopses of those scripts
(nothing when they pass); the corpus test runs the same checks over every script.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from model.takechecks import ONE_CJK, mention_at, shared_run
from model.tasks import is_chinese
from screenplay.fountain import parse_fountain
from screenplay.types import Character, Element, Synopsis
from training.data import Script, fountain_of

#: A synopsis's length: English words, Chinese characters.
WORDS = (10, 70)
CHARACTERS = (18, 120)
#: Words (a Chinese character is one) a synopsis may share in a row with its own scene: a name
#: and a phrase, not a line lifted from the script.
COPIED = 9


_SYNOPSIS_LINE = re.compile(r"(?m)^= .*\n\n?")


def without_synopses(text: str) -> str:
    """A script's Fountain text without its synopsis lines: the scenes as printed, and as the
    model writes a take (it is never shown a synopsis as part of a scene)."""
    return _SYNOPSIS_LINE.sub("", text)


def problems(path: Path) -> list[str]:
    """What is wrong with the synopses of the script at `path`, a sentence each."""
    script = Script(path.stem, parse_fountain(path.read_text(encoding="utf-8")))
    chinese = is_chinese(script.language)
    cast_file = path.with_suffix(".cast.json")
    cast = [s["name"] for s in json.loads(cast_file.read_text(encoding="utf-8"))]
    found = []
    scenes = [(h, list(body)) for h, body in script.document.scenes() if h is not None]
    for number, (heading, body) in enumerate(scenes, 1):
        where = f"{path.name} scene {number} ({heading.text})"
        synopses = [e for e in body if isinstance(e, Synopsis)]
        if len(synopses) != 1 or not body or not isinstance(body[0], Synopsis):
            found.append(f"{where}: needs exactly one synopsis, right after its heading")
            continue
        said = " ".join(synopses[0].text.split())
        found.extend(f"{where}: {p}" for p in _synopsis_problems(said, body, cast, chinese))
    return found


def _synopsis_problems(said: str, body: list[Element], cast: list[str], chinese: bool) -> list[str]:
    found = []
    cjk = len(ONE_CJK.findall(said))
    if chinese:
        low, high = CHARACTERS
        if not low <= cjk <= high:
            found.append(f"{cjk} Chinese characters; a synopsis has {low} to {high}")
    else:
        words = len(re.findall(r"\w+", said))
        low, high = WORDS
        if cjk or not low <= words <= high:
            found.append(f"{words} English words; a synopsis has {low} to {high}, all English")
    if re.match(r"(?i)(int|ext|i/e)[\s.]|[内外]景", said):
        found.append("reads as a scene heading")
    speakers = {e.name for e in body if isinstance(e, Character)}
    if not any(_names(said, name) for name in cast):
        found.append("names no character of the script")
    if speakers and not any(_names(said, name) for name in speakers):
        found.append("names none of the scene's speakers")
    copied = shared_run(said, fountain_of(body[1:]), COPIED)
    if copied:
        found.append(f"copies the scene word for word (“{copied}”)")
    return found


def _names(said: str, name: str) -> bool:
    return mention_at(said, name.strip().lstrip("@"), parts=True) >= 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found = [p for path in args.files for p in problems(path)]
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
