"""What every engine shares: the requests it takes, the events it returns, its running rows, and
the bookkeeping of a draw (repetition penalties, stop conditions).

An engine holds a running batch of sequences and their key/value cache. `add` prefills new
prompts (each prompt once, however many takes share it) and merges them into the running batch;
`step` runs one decode step for every running sequence, each with its own sampling settings
(temperature, top-p, top-k, repetition penalty, seed; see `model.sampling`) and stop conditions
(stop tokens, a token budget). New sequences therefore join between two decode steps instead of
waiting for the batch to finish, and finished ones leave at once.

Two engines implement `BatchEngine`: `model.slots.SlotEngine` (the lean forward of
`model.fastpath`) and `model.engine.Engine` (any causal LM's Hugging Face forward);
`model.worker.make_engine` picks one. This module knows neither of them, nor text, prompts,
rooms or fairness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from model import repeats
from model.sampling import SamplingTable
from model.tasks import Sampling


def columns_for(prompt_ids: Sequence[int], sampling: Iterable[Sampling]) -> int:
    """Key/value columns the takes of a prompt may fill: the prompt and the largest budget."""
    return len(prompt_ids) + max(s.max_new_tokens for s in sampling)


@dataclass(frozen=True, slots=True)
class PromptGroup:
    """Sequences that continue the same prompt (the takes of one request): prefilled once."""

    prompt_ids: tuple[int, ...]
    seq_ids: tuple[int, ...]
    sampling: tuple[Sampling, ...]
    #: Tokens spared the repetition penalty (the cast's names, see `Sampling.keep_words`).
    unpenalised: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not self.prompt_ids:
            raise ValueError("a prompt needs at least one token")
        if len(self.seq_ids) != len(self.sampling) or not self.seq_ids:
            raise ValueError("one sampling setting per sequence, at least one sequence")


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """What one step did to one sequence. `token_id` is None when the sequence ended on a stop
    token (which is not part of its text); `finish` is "stop", "length" or "" (still running)."""

    seq_id: int
    token_id: int | None
    finish: str = ""
    #: The model's own log-probability of the token (before temperature, penalties, top-k/p):
    #: what best-of-N ranks a take by (`model.ranking`).
    logprob: float = 0.0


@dataclass(slots=True)
class Row:
    """A running sequence: its settings and the tokens it has drawn so far."""

    seq_id: int
    sampling: Sampling
    generated: int = 0


class BatchEngine(Protocol):
    """What the queue's worker drives: `model.engine.Engine` or `model.slots.SlotEngine`.

    One thread only calls it. After `add` or `step` raised (out of memory, say), its running
    batch is not to be trusted: the caller drops every sequence (`drop` of all of them empties
    the engine) before it adds again."""

    model: Any
    device: torch.device
    max_batch: int

    @property
    def active(self) -> int: ...

    @property
    def free_slots(self) -> int: ...

    def fits(self, rows: int, columns: int) -> bool:
        """Whether `rows` running sequences, the longest needing `columns` positions (prompt
        and budget), stay within the engine's memory budget (one row always does)."""
        ...

    def add(self, groups: Sequence[PromptGroup]) -> list[TokenEvent]: ...

    def step(self) -> list[TokenEvent]: ...

    def drop(self, seq_ids: Iterable[int]) -> None: ...

    def warm_up(self) -> None: ...


def prompt_penalties(
    prompt: torch.Tensor, group: PromptGroup, vocab: int, marks: repeats.Marks
) -> tuple[torch.Tensor, torch.Tensor]:
    """`penalisable` and `penalised` `[n, V]` of the takes of `group`, whose prompt is
    `prompt`: every token but the spared ones may be penalised, and the prompt's tokens are.
    Spared: `group.unpenalised` (the cast's names) and, for takes that ask it
    (`Sampling.spare_pieces`), the pieces of a character (`marks.pieces`)."""
    n = len(group.seq_ids)
    penalisable = torch.ones((n, vocab), dtype=torch.bool, device=prompt.device)
    if group.unpenalised:
        penalisable[:, list(group.unpenalised)] = False
    if group.sampling[0].spare_pieces:
        penalisable &= ~marks.pieces[None, :vocab]
    penalised = torch.zeros_like(penalisable)
    penalised[:, prompt] = True
    return penalisable, penalised & penalisable


def mark_drawn(
    tokens: torch.Tensor,
    penalised: torch.Tensor,
    penalisable: torch.Tensor,
    table: SamplingTable,
    marks: repeats.Marks | None,
) -> None:
    """After a draw: the drawn tokens count as seen (unless spared) and, given `marks` (some
    row has DRY), join the takes' DRY history (`model.repeats`); the noise moves on."""
    index = tokens[:, None]
    penalised.scatter_(1, index, penalised.gather(1, index) | penalisable.gather(1, index))
    if marks is not None:
        repeats.push(tokens, table.history, table.matches, marks)
    table.drawn += 1


def finish_rows(
    rows: Sequence[Row],
    tokens: Sequence[int],
    stop_token_ids: frozenset[int],
    logprobs: Sequence[float],
) -> list[TokenEvent]:
    """Count one token for each row and say which sequences it ended: a stop token (not part
    of the text) or the token budget."""
    events = []
    for row, token, logprob in zip(rows, tokens, logprobs, strict=True):
        row.generated += 1
        if token in stop_token_ids:
            events.append(TokenEvent(row.seq_id, None, "stop"))
        elif row.generated >= row.sampling.max_new_tokens:
            events.append(TokenEvent(row.seq_id, token, "length", logprob))
        else:
            events.append(TokenEvent(row.seq_id, token, "", logprob))
    return events
