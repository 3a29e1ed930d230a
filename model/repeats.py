"""DRY ("don't repeat yourself"): a sampling penalty on the token that would carry on a stretch
the take has already written, growing with the stretch's length — the penalty of
text-generation-webui's and llama.cpp's DRY sampler, on the device and in fixed shapes.

A small model's takes loop: one character ten times over (嘴嘴嘴…), a name and a verb round and
round, a sentence again. The repetition penalty (`model.sampling`) cannot stop that without
penalising every name and every line break a screenplay repeats by design. DRY looks at
sequences instead of tokens: when the take's latest `L` tokens also stand earlier in the take,
the token that followed them there has its logit lowered by `multiplier * base ** (L - allowed)`
for `L >= allowed` (the largest such penalty per token). A name said again is a short match and
costs little; a loop's match grows by one every token, so its penalty soon outweighs any logit.

A stretch's length counts the tokens that begin a character: a CJK character written as two or
three byte-level tokens counts one, as a word piece does, so that `allowed` means the same in a
Chinese room as in an English one.

Matches never cross a breaker (a token holding a line break or a colon): a cue, an action line
or a line of dialogue starts afresh, so "MARA\\n" or "唐小田：" on every other line is never a
long match. Breakers, stop tokens and tokens that begin inside a UTF-8 character (a CJK
character is often two byte-level tokens) are never penalised: the take may always end a line
or finish the character it began.

State per row, `[rows, HISTORY]` each: `history`, the take's latest tokens right-aligned (-1 where
none yet), and `matches`, at column `j` the length of the longest stretch ending there that
equals the stretch ending at the last column. One drawn token updates both in a few tensor
operations (`push`), and the penalty is one scatter (`penalise`). Only the take's own tokens
count: a scene names the places and people of its request, which must stay free to write.

Knows token ids and tensors; the tokenizer only to mark breakers (`Marks.of`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

#: Tokens of a take DRY looks back over (the bot's takes are 384 at most by default).
HISTORY = 512
#: Text whose tokens end a match: line breaks and colons (a cue, `名字：`, `INT.`'s lines).
BREAKS = ("\n", ":", "：")
#: The exponent's cap: the penalty stops growing (it has long outweighed any logit).
_MAX_EXPONENT = 24
_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass(frozen=True, slots=True)
class Marks:
    """Per vocabulary entry `[V]`: `breakers` (bool) end a match; `exempt` (bool) are never
    penalised (breakers, stop tokens, tokens that start inside a character); `weight` (int64)
    what a token adds to a match's length (0 for a token that starts inside a character);
    `pieces` (bool) are parts of a character, not whole ones (they start inside one or end
    before one is finished): the repetition penalty spares them (`batch.prompt_penalties`)."""

    breakers: torch.Tensor
    exempt: torch.Tensor
    weight: torch.Tensor
    pieces: torch.Tensor

    @classmethod
    def none(cls, vocab: int, device: torch.device, stop_token_ids: Iterable[int] = ()) -> Marks:
        """No breakers (an engine built without a tokenizer); stop tokens exempt."""
        breakers = torch.zeros(vocab, dtype=torch.bool, device=device)
        exempt = breakers.clone()
        exempt[[i for i in stop_token_ids if 0 <= i < vocab]] = True
        weight = torch.ones(vocab, dtype=torch.long, device=device)
        return cls(breakers, exempt, weight, breakers.clone())

    @classmethod
    def of(
        cls, tokenizer: Any, vocab: int, device: torch.device, stop_token_ids: Iterable[int] = ()
    ) -> Marks:
        """The marks of `tokenizer`'s vocabulary (entries past it, padding, are neither)."""
        marks = cls.none(vocab, device, stop_token_ids)
        breakers, inside, pieces = [], [], []
        for index, piece in enumerate(token_bytes(tokenizer, min(vocab, len(tokenizer)))):
            if piece is None:
                continue
            text = piece.decode("utf-8", errors="ignore")
            if any(mark in text for mark in BREAKS):
                breakers.append(index)
            elif piece and 0x80 <= piece[0] < 0xC0:
                inside.append(index)
            if not _whole_characters(piece):
                pieces.append(index)
        marks.breakers[breakers] = True
        marks.exempt[breakers] = True
        marks.exempt[inside] = True
        marks.weight[inside] = 0
        marks.pieces[pieces] = True
        return marks


def _whole_characters(piece: bytes) -> bool:
    """Whether `piece` is whole UTF-8 characters: it neither starts inside one nor ends
    before one is finished."""
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def token_bytes(tokenizer: Any, vocab: int) -> list[bytes | None]:
    """The bytes each of the first `vocab` tokens stands for (None: a special token, or one
    that cannot be read): byte-level BPE pieces (GPT-2's alphabet, as SmolLM2, Qwen2.5 and
    Llama 3 have), SentencePiece byte tokens (`<0xE5>`), or the piece's text."""
    pieces = _pieces(tokenizer, vocab)
    alphabet = _byte_alphabet()
    special = set(getattr(tokenizer, "all_special_tokens", ()) or ())
    out: list[bytes | None] = []
    for piece in pieces:
        if piece is None or piece in special:
            out.append(None)
        elif all(char in alphabet for char in piece):
            out.append(bytes(alphabet[char] for char in piece))
        elif match := _BYTE_TOKEN.fullmatch(piece):
            out.append(bytes([int(match.group(1), 16)]))
        else:
            out.append(piece.replace("\u2581", " ").encode("utf-8"))
    return out


def _pieces(tokenizer: Any, vocab: int) -> list[str | None]:
    pieces = tokenizer.convert_ids_to_tokens(list(range(vocab)))
    return [p if isinstance(p, str) else None for p in pieces]


def _byte_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet: the printable character that stands for each byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + extra
            extra += 1
    return {chr(code): b for b, code in chars.items()}


def empty(rows: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """`history` (all -1) and `matches` (all 0) of `rows` takes not yet begun."""
    history = torch.full((rows, HISTORY), -1, dtype=torch.long, device=device)
    return history, torch.zeros_like(history)


def penalise(
    scores: torch.Tensor,
    history: torch.Tensor,
    matches: torch.Tensor,
    multiplier: torch.Tensor,
    base: torch.Tensor,
    allowed: torch.Tensor,
    exempt: torch.Tensor,
) -> torch.Tensor:
    """`scores` `[B, V]` less each row's DRY penalty (`multiplier` `[B]` 0: none), in place.

    Only the tokens of the history are touched: each takes the least of its score less the
    amount of every stretch it would carry on, which is its score less the largest amount
    (subtraction rounds monotonically; every amount is 0 or more, 0 where no stretch applies).
    Before, a `[B, V]` tensor of penalties was built and subtracted from every score: 5 ms of a
    32-row step on a 2-core CPU (`bench.sampler`)."""
    following = history[:, 1:]  # the token that came after the stretch ending at each column
    over = matches[:, :-1] - allowed[:, None]
    hit = (over >= 0) & (following >= 0) & (multiplier[:, None] > 0)
    token = following.clamp(min=0)
    hit &= ~exempt[token]
    exponent = over.clamp(0, _MAX_EXPONENT).to(scores.dtype)
    amount = multiplier[:, None] * base[:, None].pow(exponent)
    amount = torch.where(hit, amount, torch.zeros((), dtype=scores.dtype, device=scores.device))
    return scores.scatter_reduce_(1, token, scores.gather(1, token) - amount, "amin")


def push(tokens: torch.Tensor, history: torch.Tensor, matches: torch.Tensor, marks: Marks) -> None:
    """Append each row's drawn token `[B]` to `history` and `matches` `[B, HISTORY]`, in place.

    The stretch ending at (new) column `j` matches the new ending for `m + w` when the token
    there equals the new one, `m` being the old match one column back and `w` the token's
    weight; a breaker matches nothing."""
    token = tokens[:, None]
    same = (history[:, 1:] == token) & ~marks.breakers[tokens][:, None]
    grown = matches[:, :-1] + marks.weight[tokens][:, None]
    grown = torch.where(same, grown, torch.zeros_like(grown))
    matches[:, :-1] = grown
    matches[:, -1] = 0
    history[:, :-1] = history[:, 1:].clone()
    history[:, -1] = tokens
