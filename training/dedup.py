"""Near-duplicate scenes in a corpus of screenplays.

    python -m training.dedup                      # the shipped corpus
    python -m training.dedup ~/scripts --threshold 0.3

Every scene (its heading and body, as Fountain) becomes the set of its word 5-grams
("shingles"); two scenes are near-duplicates when the Jaccard similarity of their sets reaches
the threshold. An inverted index from shingle to scenes means only pairs that share a shingle
are ever compared, so a library of thousands of scenes is checked in seconds. The command prints
the pairs at or above the threshold (or the closest pair, when there is none) and exits 1 when
there is any.

Words are lower-cased; each Chinese or Japanese ideograph counts as a word, so scripts without
spaces are shingled as finely as English. This module knows scripts and text; it knows nothing
of models or training.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from training.data import fountain_of, load_scripts, scenes_of

#: Jaccard similarity of word 5-grams from which two scenes count as near-duplicates. Scenes of
#: different stories share a few stock phrases ("he looks at her", "INT. KITCHEN - NIGHT") and
#: stay far below; a scene pasted with light edits stays far above.
THRESHOLD = 0.3
SHINGLE = 5

_WORDS = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W\u3400-\u9fff\uf900-\ufaff]+")


def words(text: str) -> list[str]:
    """Lower-cased words of `text`; each CJK ideograph is a word of its own."""
    return _WORDS.findall(text.lower())


@dataclass(frozen=True)
class Scene:
    script: str
    number: int  # from 1 within its script
    heading: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.script} scene {self.number} ({self.heading})"


@dataclass(frozen=True)
class Pair:
    first: Scene
    second: Scene
    similarity: float


def corpus_scenes(folder: Path | None = None) -> list[Scene]:
    """Every scene of every script in `folder` (default: the shipped corpus)."""
    return [
        Scene(script.name, number, heading.text, fountain_of([heading, *body]))
        for script in load_scripts(folder)
        for number, (heading, body) in enumerate(scenes_of(script.document), 1)
    ]


def shingles(text: str, size: int = SHINGLE) -> frozenset[int]:
    """Hashes of the word `size`-grams of `text` (a text shorter than that has none)."""
    tokens = words(text)
    return frozenset(hash(tuple(tokens[i : i + size])) for i in range(len(tokens) - size + 1))


def ranked_pairs(scenes: Sequence[Scene], size: int = SHINGLE) -> list[Pair]:
    """Every pair of scenes that shares a shingle, most similar first."""
    sets = [shingles(scene.text, size) for scene in scenes]
    index: dict[int, list[int]] = {}
    for number, shingle_set in enumerate(sets):
        for shingle in shingle_set:
            index.setdefault(shingle, []).append(number)
    shared: Counter[tuple[int, int]] = Counter()
    for holders in index.values():
        for i, first in enumerate(holders):
            for second in holders[i + 1 :]:
                shared[(first, second)] += 1
    pairs = [
        Pair(scenes[a], scenes[b], common / (len(sets[a]) + len(sets[b]) - common))
        for (a, b), common in shared.items()
    ]
    return sorted(pairs, key=lambda p: p.similarity, reverse=True)


def near_duplicates(
    scenes: Sequence[Scene], threshold: float = THRESHOLD, size: int = SHINGLE
) -> list[Pair]:
    """The pairs whose similarity reaches `threshold`, most similar first."""
    return [p for p in ranked_pairs(scenes, size) if p.similarity >= threshold]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.dedup", description=__doc__.split("\n")[0])
    p.add_argument("folder", nargs="?", default="", help="folder of scripts (default: the corpus)")
    p.add_argument(
        "--threshold", type=float, default=THRESHOLD, help="Jaccard similarity that flags a pair"
    )
    p.add_argument("--shingle", type=int, default=SHINGLE, help="words per shingle")
    args = p.parse_args(argv)
    try:
        scenes = corpus_scenes(Path(args.folder) if args.folder else None)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    ranked = ranked_pairs(scenes, args.shingle)
    flagged = [pair for pair in ranked if pair.similarity >= args.threshold]
    scripts = len({s.script for s in scenes})
    print(f"{len(scenes)} scenes in {scripts} scripts; threshold {args.threshold:.2f}")
    for pair in flagged:
        print(f"{pair.similarity:.2f}  {pair.first.label}  ~  {pair.second.label}")
    if flagged:
        print(f"{len(flagged)} near-duplicate pairs.")
        return 1
    if ranked:
        closest = ranked[0]
        print(
            f"No near-duplicates. Closest pair: {closest.similarity:.2f}  {closest.first.label}"
            f"  ~  {closest.second.label}"
        )
    else:
        print("No near-duplicates: no two scenes share a run of words.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
