"""The corpus README's table of scripts, made from the scripts themselves.

    python -m training.corpus_index            # rewrite the table in training/corpus/README.md
    python -m training.corpus_index --check    # exit 1 when the table is out of date

The table sits between `<!-- table:start -->` and `<!-- table:end -->`; one row a script (file,
title, genre, language, scenes, speaking characters), then the corpus's totals. Knows the corpus
files; nothing of models or training.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from screenplay.types import Character
from training.data import CORPUS_DIR, Script, load_scripts, scenes_of

_START, _END = "<!-- table:start -->", "<!-- table:end -->"


def table(scripts: Sequence[Script]) -> str:
    """The Markdown table of `scripts` with a line of totals under it."""
    rows = [
        "| file | title | genre | language | scenes | characters |",
        "|---|---|---|---|---|---|",
    ]
    scenes_by_language: dict[str, int] = {}
    for script in sorted(scripts, key=lambda s: s.name):
        scenes = len(scenes_of(script.document))
        speakers = {e.name for e in script.document.elements if isinstance(e, Character)}
        scenes_by_language[script.language] = scenes_by_language.get(script.language, 0) + scenes
        rows.append(
            f"| `{script.name}.fountain` | {script.meta('Title')} | {script.meta('Genre')} "
            f"| {script.language} | {scenes} | {len(speakers)} |"
        )
    total = sum(scenes_by_language.values())
    shares = ", ".join(
        f"{language} {count} ({count / total:.0%})"
        for language, count in sorted(scenes_by_language.items())
    )
    rows += ["", f"{len(scripts)} scripts, {total} scenes: {shares}."]
    return "\n".join(rows)


def updated_readme(readme: str, scripts: Sequence[Script]) -> str:
    head, start, rest = readme.partition(_START)
    _, end, tail = rest.partition(_END)
    if not start or not end:
        raise ValueError(f"the README has no {_START} ... {_END} block")
    return f"{head}{_START}\n{table(scripts)}\n{_END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is up to date")
    args = parser.parse_args(argv)
    path: Path = CORPUS_DIR / "README.md"
    readme = path.read_text(encoding="utf-8")
    wanted = updated_readme(readme, load_scripts())
    if args.check:
        if wanted != readme:
            print(f"{path} is out of date: run python -m training.corpus_index", file=sys.stderr)
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
