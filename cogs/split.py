"""Splitting long screenplay text into pieces that fit Discord's limits.

A take can be longer than one message (2,000 characters) or one embed description (4,096). Pieces
break at paragraph boundaries (blank lines) first, so a dialogue block — cue, parentheticals and
lines — stays together; only a single paragraph longer than the limit is broken at line ends, and
only a single line longer than the limit at spaces (or anywhere, for text without spaces such as
Chinese). No character of the text is lost or altered. Pure text; knows nothing of Discord objects.
"""

from __future__ import annotations

from collections.abc import Callable

MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
#: The characters of all the embeds of one message together.
EMBED_TOTAL_LIMIT = 6000

_Splitter = Callable[[str, int], list[str]]


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters whose concatenation with the separators they were
    split at ("\\n\\n", "\\n" or " ") gives back `text`."""
    if limit < 10:
        raise ValueError("limit must leave room for text")
    text = text.strip("\n")
    if len(text) <= limit:
        return [text] if text else []
    return _pack(text.split("\n\n"), "\n\n", limit, _split_paragraph)


def _split_paragraph(paragraph: str, limit: int) -> list[str]:
    return _pack(paragraph.split("\n"), "\n", limit, _split_line)


def _split_line(line: str, limit: int) -> list[str]:
    if " " not in line:
        return [line[i : i + limit] for i in range(0, len(line), limit)]
    return _pack(line.split(" "), " ", limit, _hard_split)


def _hard_split(word: str, limit: int) -> list[str]:
    return [word[i : i + limit] for i in range(0, len(word), limit)]


def _pack(parts: list[str], sep: str, limit: int, split_further: _Splitter) -> list[str]:
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidates = [part] if len(part) <= limit else split_further(part, limit)
        for candidate in candidates:
            joined = f"{current}{sep}{candidate}" if current else candidate
            if len(joined) <= limit:
                current = joined
            else:
                if current:
                    pieces.append(current)
                current = candidate
    if current:
        pieces.append(current)
    return pieces


def code_blocks(text: str, limit: int = MESSAGE_LIMIT, language: str = "") -> list[str]:
    """Pieces wrapped in ``` fences, each within `limit` including the fences. Backtick runs in
    the text are broken with a zero-width space so a take cannot close the fence early."""
    fence_open = f"```{language}\n"
    fence_close = "\n```"
    safe = text.replace("```", "`\u200b``")
    room = limit - len(fence_open) - len(fence_close)
    return [f"{fence_open}{piece}{fence_close}" for piece in split_text(safe, room)]
