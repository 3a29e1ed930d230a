"""Hostile input through every reader, writer and the page: time grows in proportion to size.

The bot reads, repairs, lints and lays out on its event loop, so work that grows with the square
of a file's size stops the Discord heartbeat for every room. Each case feeds one input of
`bench.hostile`, built to make one kind of super-linear work show, to one path: it is grown until a
run takes 20 ms (so that noise does not decide), then timed at eight times that size. Linear work
takes about eight times as long, quadratic work sixty-four times, cubic five hundred; the limit of
30 leaves room for a busy machine. `python -m bench.hostile` prints the same figures for every
input and path.
"""

from __future__ import annotations

import pytest

from bench.hostile import HOSTILE, prepare, seconds
from screenplay import layout, parse_fountain

FACTOR = 8
LIMIT = 30
FLOOR = 0.02  # seconds: the smaller run is grown to at least this

# (input, path): each path of the library, with the inputs that once made it super-linear.
CASES = [
    ("heading-spaces", "parse"),  # a scene-number regex under fullmatch: 28 s for 32 KB
    ("outline", "parse"),  # sections and lyrics taken off a paragraph by slicing the rest
    ("fdx-everything", "parse"),  # notes, hidden elements, a long cue, a split contact
    ("model-spaces", "repair"),  # markdown headings (cubic), centred text, chat lines, labels
    ("many-lines", "repair"),  # an action grown line by line, rebuilt each time
    ("capital-lines", "repair"),  # the whole take searched again for each capital line
    ("heading-spaces", "lint"),  # lint numbers the lines of the exported script
    ("nested-emphasis", "stats"),  # a word longer than a line, cut one line at a time
    ("long-paragraph", "layout"),  # the rest re-wrapped for every page: 74 s for 100 KB
    ("speech-lines", "layout"),  # the rest of a speech copied for every page
    ("nested-emphasis", "pdf"),  # 30 s for 60 KB
    ("chatter", "html"),
    ("heading-spaces", "fountain"),  # the writer reads each paragraph back
    ("fdx-notes", "fdx"),  # runs of text between notes joined piece by piece
]


def _scaling(name: str, path: str) -> tuple[float, str]:
    hostile = HOSTILE[name]
    size = hostile.size
    small = prepare(hostile.make(size))
    while seconds(path, small, repeat=1) < FLOOR and size < hostile.size * 64:
        size *= 2
        small = prepare(hostile.make(size))
    large = prepare(hostile.make(size * FACTOR))
    # Best of three each, taken in turns, so that a busy moment slows both sizes alike.
    runs = [(seconds(path, small, 1), seconds(path, large, 1)) for _ in range(3)]
    one, many = min(run[0] for run in runs), min(run[1] for run in runs)
    figures = (
        f"{name} through {path}: {one * 1000:.1f} ms at {size:,} bytes, "
        f"{many * 1000:.1f} ms at {size * FACTOR:,}"
    )
    return many / one, figures


@pytest.mark.parametrize(("name", "path"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_time_grows_in_proportion_to_a_hostile_input(name: str, path: str) -> None:
    ratio, figures = _scaling(name, path)
    assert ratio <= LIMIT, figures


def test_paginating_a_long_paragraph_measures_each_character_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted, not timed: the layout asks the width of a character a few times per page it
    lands on, not once for each page after it too."""
    calls = 0
    width = layout.char_width

    def counting(ch: str) -> int:
        nonlocal calls
        calls += 1
        return width(ch)

    monkeypatch.setattr(layout, "char_width", counting)
    counts = []
    for size in (12_000, 12_000 * FACTOR):
        doc = parse_fountain(HOSTILE["long-paragraph"].make(size))
        calls = 0
        pages = layout.paginate(doc)
        counts.append(calls)
        assert len(pages) > 2
    assert counts[1] <= counts[0] * 12, counts
