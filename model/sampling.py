"""Sampling the next token of every sequence in a batch, each with its own settings, on the device.

`SamplingTable` holds the settings of a batch's rows as tensors (temperature, top-p, top-k,
repetition penalty, seed, tokens drawn so far), so that `sample` is a fixed sequence of tensor
operations: no per-row Python loop, no transfer to the host, and no change of shape from one step
to the next, which lets a CUDA graph capture it together with the forward pass.

Randomness is counter-based: the noise of candidate token t in row r at step s is a hash of
(seed of r, s, t). A seeded take therefore comes out the same whatever else shares its batch,
on whichever device, and needs no generator object. The draw itself is the Gumbel-max trick: the
argmax of log-probability + Gumbel noise is a sample of the (renormalised) distribution.

Repetition penalty as in CTRL (and transformers): a seen token's logit is divided by the penalty
when positive and multiplied when negative. Then DRY (`model.repeats`): the token that would carry
on a stretch the take already wrote is lowered by a penalty growing with the stretch; its state
(the take's latest tokens and their matches) rides in the table. A temperature of 0 means greedy.
Top-k is applied before top-p (the smallest set of most likely tokens whose mass reaches p).

`draw` is what the engines call: on a CPU where `model.kernels` run, a draw without DRY of at
most `kernels.SAMPLE_CANDIDATES` candidates (the bot's) is one call of `kernels.sample`, which
draws the same tokens with the same log-probabilities; elsewhere `sample` and `token_logprobs`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from model import kernels, repeats
from model.tasks import Sampling

_MASK32 = 0xFFFFFFFF
#: Candidates a captured sampler keeps (its shapes are fixed): a top-k of 0 (off) or above this
#: reads as this many. Past the thousandth most likely token the mass is negligible.
GRAPH_CANDIDATES = 1024


def random_seed() -> int:
    """A seed for a take that asked for none."""
    return random.getrandbits(32)


@dataclass(slots=True)
class SamplingTable:
    """Per-row sampling settings of a batch, as tensors on its device, row for row."""

    temperature: torch.Tensor  # [B] float32
    top_p: torch.Tensor  # [B] float32
    top_k: torch.Tensor  # [B] int64, 0 = off
    penalty: torch.Tensor  # [B] float32
    seed: torch.Tensor  # [B] int64 holding 32 bits
    drawn: torch.Tensor  # [B] int64: tokens drawn so far (the step counter of the noise)
    dry_multiplier: torch.Tensor  # [B] float32, 0 = no DRY penalty
    dry_base: torch.Tensor  # [B] float32
    dry_allowed: torch.Tensor  # [B] int64: the longest stretch repeated for free
    history: torch.Tensor  # [B, repeats.HISTORY] int64: the take's latest tokens, -1 = none
    matches: torch.Tensor  # [B, repeats.HISTORY] int64 (see `model.repeats`)

    @classmethod
    def of(
        cls, settings: Sequence[Sampling], seeds: Sequence[int], device: torch.device
    ) -> SamplingTable:
        def column(values: Sequence[float | int], dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(list(values), dtype=dtype, device=device)

        history, matches = repeats.empty(len(settings), device)
        return cls(
            temperature=column([s.temperature for s in settings], torch.float32),
            top_p=column([s.top_p for s in settings], torch.float32),
            top_k=column([s.top_k for s in settings], torch.long),
            penalty=column([s.repetition_penalty for s in settings], torch.float32),
            seed=column([seed & _MASK32 for seed in seeds], torch.long),
            drawn=torch.zeros(len(settings), dtype=torch.long, device=device),
            dry_multiplier=column([s.dry_multiplier for s in settings], torch.float32),
            dry_base=column([s.dry_base for s in settings], torch.float32),
            dry_allowed=column([s.dry_allowed_length for s in settings], torch.long),
            history=history,
            matches=matches,
        )

    @classmethod
    def empty(cls, rows: int, device: torch.device) -> SamplingTable:
        """`rows` unused rows (greedy, no penalty), to be filled in place."""
        unused = Sampling(temperature=0.0, repetition_penalty=1.0)
        return cls.of([unused] * rows, [0] * rows, device)

    def drawing(self) -> tuple[torch.Tensor, ...]:
        """The columns a draw without DRY reads, in `kernels.sample`'s order: temperature,
        top-p, top-k, penalty, seed and tokens drawn so far."""
        return (self.temperature, self.top_p, self.top_k, self.penalty, self.seed, self.drawn)

    def columns(self) -> tuple[torch.Tensor, ...]:
        return (
            *self.drawing(),
            self.dry_multiplier,
            self.dry_base,
            self.dry_allowed,
            self.history,
            self.matches,
        )


def candidates_for(settings: Sequence[Sampling], vocab: int) -> int:
    """How many candidates an uncaptured draw needs: the widest top-k of the sampled rows (the
    whole vocabulary when one of them has none); 1 when every row is greedy."""
    widths = [s.top_k if 0 < s.top_k < vocab else vocab for s in settings if s.temperature > 0]
    return max(widths, default=1)


def uses_dry(settings: Sequence[Sampling]) -> bool:
    """Whether any of these rows has a DRY penalty (an uncaptured step skips it otherwise)."""
    return any(s.dry_multiplier > 0 for s in settings)


def draw(
    logits: torch.Tensor,
    penalised: torch.Tensor,
    table: SamplingTable,
    candidates: int,
    exempt: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of every row `[B]` (`sample`) and its log-probability under the raw
    `logits` (`token_logprobs`). On a CPU where the kernels run, a draw without DRY of at most
    `kernels.SAMPLE_CANDIDATES` candidates is one call of `kernels.sample`, which computes the
    same: torch's thirty-odd small operators took 0.9 ms a one-row draw and 5.8 ms for 32 rows
    (`bench.sampler`, session 28), some 15% of a decode step; the kernel 0.05 and 0.8."""
    if exempt is None and kernels.samples(logits, penalised, candidates):
        return kernels.sample(logits, penalised, table.drawing(), candidates)
    tokens = sample(logits, penalised, table, candidates, exempt)
    return tokens, token_logprobs(logits, tokens)


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) `[B]` of each row's drawn token under its raw `logits` `[B, V]`."""
    scores = logits.float()
    return scores.gather(1, tokens[:, None])[:, 0] - torch.logsumexp(scores, dim=-1)


def sample(
    logits: torch.Tensor,
    penalised: torch.Tensor,
    table: SamplingTable,
    candidates: int,
    exempt: torch.Tensor | None = None,
) -> torch.Tensor:
    """The next token of every row `[B]`. `logits` `[B, V]`; `penalised` `[B, V]` bool marks the
    tokens the repetition penalty applies to; `candidates` the number of most likely tokens
    considered for sampling (see `candidates_for`, `GRAPH_CANDIDATES`); `exempt` `[V]` the
    tokens DRY never penalises (`repeats.Marks`; None: no row has DRY, skip it)."""
    scores = _repetition_penalised(logits, penalised, table.penalty)
    if exempt is not None:
        scores = repeats.penalise(
            scores,
            table.history,
            table.matches,
            table.dry_multiplier,
            table.dry_base,
            table.dry_allowed,
            exempt,
        )
    candidates = max(1, min(candidates, scores.shape[-1]))
    # A positive temperature keeps the order: take the candidates first, scale only them.
    values, indices = torch.topk(scores, candidates, dim=-1)
    greedy = indices[:, 0]
    values = values / table.temperature.clamp(min=1e-5)[:, None]
    rank = torch.arange(candidates, device=scores.device)[None, :]
    top_k = table.top_k[:, None]
    values = values.masked_fill((top_k > 0) & (rank >= top_k), -torch.inf)
    probs = torch.softmax(values, dim=-1)
    # A candidate stays while the mass before it is below top_p (the most likely always stays).
    before = torch.cumsum(probs, dim=-1) - probs
    values = values.masked_fill(before >= table.top_p[:, None], -torch.inf)
    noise = _gumbel(table.seed[:, None], table.drawn[:, None], indices)
    pick = (values + noise).argmax(dim=-1, keepdim=True)
    sampled = indices.gather(1, pick)[:, 0]
    return torch.where(table.temperature > 0, sampled, greedy)


def _repetition_penalised(
    logits: torch.Tensor, penalised: torch.Tensor, penalty: torch.Tensor
) -> torch.Tensor:
    """A float32 copy of `logits` `[B, V]` whose `penalised` tokens carry each row's repetition
    `penalty` `[B]`. On a CPU only those tokens are read and written, found by numpy (torch's
    `nonzero` took 2.2 ms of 32 rows, numpy's 0.3): with the dense form, two `where`s over every
    token of every row, a whole draw of 32 rows took 8.7 ms on the 2-core machine of session
    24, with this 4.0 (`bench.sampler`). Elsewhere the dense form, whose shapes are fixed: a
    CUDA graph captures it. Both compute the same quotient or product for each token, so the
    result is the same to the bit."""
    if logits.device.type != "cpu":
        scores = logits.float()
        factor = penalty[:, None]
        return torch.where(
            penalised, torch.where(scores > 0, scores / factor, scores * factor), scores
        )
    scores = logits.to(torch.float32, memory_format=torch.contiguous_format, copy=True)
    where = torch.from_numpy(np.flatnonzero(penalised.numpy()))
    flat = scores.view(-1)
    seen = flat[where]
    factor = penalty[where // scores.shape[-1]]
    flat[where] = torch.where(seen > 0, seen / factor, seen * factor)
    return scores


def _gumbel(seed: torch.Tensor, step: torch.Tensor, token: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise, a pure function of (seed, step, token), broadcast together."""
    uniform = _uniform(_mix(_mix(_mix(seed) ^ (step & _MASK32)) ^ token))
    return -torch.log(-torch.log(uniform))


def _uniform(bits: torch.Tensor) -> torch.Tensor:
    """32 hash bits as a float32 strictly between 0 and 1: the top 23 bits and a half (float32
    holds 2**23 - 0.5 exactly; with 24 bits the largest value rounds to 1, whose noise, +inf,
    would beat any probability and make NaN of a masked-out candidate)."""
    return ((bits >> 9).float() + 0.5) * (1.0 / (1 << 23))


def _mix(h: torch.Tensor) -> torch.Tensor:
    """MurmurHash3's 32-bit finaliser on int64 tensors holding 32-bit values."""
    h = h ^ (h >> 16)
    h = _times(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = _times(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def _times(h: torch.Tensor, constant: int) -> torch.Tensor:
    """`h * constant` mod 2**32 without overflowing int64: by 16-bit halves of `h`."""
    low = (h & 0xFFFF) * constant
    high = (((h >> 16) * constant) & 0xFFFF) << 16
    return (low + high) & _MASK32
