from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cogs.split import code_blocks, split_text

_WS = re.compile(r"\s+")


def _scene(n_blocks: int) -> str:
    blocks = ["INT. LIGHTHOUSE - NIGHT", "Rain hammers the glass. INES climbs the stair."]
    for i in range(n_blocks):
        speaker = "INES" if i % 2 else "TOMAS"
        blocks.append(f"{speaker}\n(quietly)\nLine {i}: the lamp has not turned in three nights.")
    return "\n\n".join(blocks)


def test_a_6000_character_take_is_split_between_dialogue_blocks() -> None:
    text = _scene(120)
    assert len(text) > 6000
    pieces = split_text(text, 2000)
    assert len(pieces) >= 4
    assert all(len(p) <= 2000 for p in pieces)
    assert "\n\n".join(pieces) == text
    for piece in pieces:
        # Each piece starts with a whole paragraph: a cue, never a stranded dialogue line.
        first = piece.split("\n")[0]
        assert first in {"INES", "TOMAS", "INT. LIGHTHOUSE - NIGHT"}


def test_code_blocks_fit_with_their_fences_and_cannot_be_closed_by_the_take() -> None:
    text = _scene(80) + "\n\n```\n@everyone"
    pieces = code_blocks(text, 2000, "fountain")
    assert all(
        len(p) <= 2000 and p.startswith("```fountain\n") and p.endswith("\n```") for p in pieces
    )
    assert all(p.count("```") == 2 for p in pieces)


def test_text_without_spaces_such_as_chinese_is_cut_inside_the_line() -> None:
    text = "林小雨看着窗外。" * 600
    pieces = split_text(text, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert "".join(pieces) == text


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(list("ab \n林")), max_size=3000), st.integers(10, 400))
def test_no_character_is_lost_and_every_piece_fits(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert _WS.sub("", "".join(pieces)) == _WS.sub("", text)
