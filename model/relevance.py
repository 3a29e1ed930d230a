"""How likely a take is after a prompt: the mean log-probability per token of its tokens.

The relevance signal of best-of-N (`model.ranking`) compares two of these figures for one take:
after the full prompt with the room's context, and after the same task without that context
(pointwise mutual information). This module computes the figures; what they mean for a take's
rank is `model.ranking`'s.

`take_logprobs(model, tokenizer, prompts, takes)` works on any Hugging Face causal LM, for
offline evaluation (`training.evaluate`). `score_takes(forward, ...)` is the same computation
over any forward pass: the rows are left-padded so that every take ends in the last column, and
only the last columns' logits are formed, a few rows at a time, so a vocabulary of 49k tokens
never makes a `[rows, prompt + take, vocab]` tensor.

Best-of-N scores many takes after one prompt: `score_after_prompt` runs the prompt once and
every take on a copy of its keys/values (`fast_prompt` on the fast path, `hf_prompt` on a
Hugging Face model), so the prompt's tokens are not paid for once per take. The queue's worker
runs it, so that the one thread that owns the model does.

It knows token ids and tensors; it knows nothing of prompts, rooms or the queue.
"""

from __future__ import annotations

import copy as copy_module
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

#: Logit values one pass may form (rows x take tokens x vocabulary), about 128 MB in float32.
LOGIT_BUDGET = 32 * 1024 * 1024

#: `forward(ids [B, W], mask [B, W], positions [B, W], keep)`: logits `[B, keep, V]` of the
#: last `keep` columns (rows left-padded; `mask` is 1 on real tokens).
Forward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True, slots=True)
class ScoringRows:
    """Prompts and takes laid out for one pass: `ids` holds each prompt and its take but the
    take's last token, left-padded; the logits of the last `keep` columns predict the takes,
    `targets` holds each take right-aligned in those columns, `valid` marks its tokens."""

    ids: torch.Tensor
    mask: torch.Tensor
    positions: torch.Tensor
    targets: torch.Tensor
    valid: torch.Tensor

    @property
    def keep(self) -> int:
        return int(self.targets.shape[1])


def lay_out(
    prompts: Sequence[Sequence[int]], takes: Sequence[Sequence[int]], device: torch.device
) -> ScoringRows:
    """`prompts[i]` followed by `takes[i]` (each take of at least one token), left-padded."""
    inputs = [[*prompt, *take[:-1]] for prompt, take in zip(prompts, takes, strict=True)]
    width = max(len(row) for row in inputs)
    keep = max(len(take) for take in takes)
    ids = torch.zeros((len(inputs), width), dtype=torch.long)
    mask = torch.zeros((len(inputs), width), dtype=torch.long)
    targets = torch.zeros((len(inputs), keep), dtype=torch.long)
    valid = torch.zeros((len(inputs), keep), dtype=torch.bool)
    for row, (tokens, take) in enumerate(zip(inputs, takes, strict=True)):
        ids[row, width - len(tokens) :] = torch.tensor(tokens)
        mask[row, width - len(tokens) :] = 1
        targets[row, keep - len(take) :] = torch.tensor(list(take))
        valid[row, keep - len(take) :] = True
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    return ScoringRows(
        ids.to(device), mask.to(device), positions.to(device), targets.to(device), valid.to(device)
    )


def mean_logprobs(logits: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor) -> list[float]:
    """Per row, the mean of log p(target) over its valid columns; `logits` `[B, K, V]`."""
    scores = logits.float()
    chosen = scores.gather(-1, targets[..., None])[..., 0] - torch.logsumexp(scores, dim=-1)
    chosen = chosen.masked_fill(~valid, 0.0)
    counts = valid.sum(dim=1).clamp(min=1)
    return [float(x) for x in (chosen.sum(dim=1) / counts).tolist()]


def score_takes(
    forward: Forward,
    prompts: Sequence[Sequence[int]],
    takes: Sequence[Sequence[int]],
    *,
    vocab: int,
    device: torch.device,
    budget: int = LOGIT_BUDGET,
) -> list[float]:
    """Mean log p(token | prompt, the take before it) over each take's tokens, by `forward`.
    An empty take scores 0.0. Rows run a few at a time, within `budget` logit values."""
    result = [0.0] * len(takes)
    rows = [i for i, take in enumerate(takes) if take]
    start = 0
    while start < len(rows):
        per_pass = max(1, budget // (vocab * max(len(takes[i]) for i in rows[start:])))
        chunk = rows[start : start + per_pass]
        laid = lay_out([prompts[i] for i in chunk], [takes[i] for i in chunk], device)
        logits = forward(laid.ids, laid.mask, laid.positions, laid.keep)
        for i, score in zip(chunk, mean_logprobs(logits, laid.targets, laid.valid), strict=True):
            result[i] = score
        start += len(chunk)
    return result


#: `extend(ids [B, K])`: logits `[B, K, V]` of takes' tokens (right-padded) read after the
#: prompt it was made for; every call starts from the prompt again.
Extend = Callable[[torch.Tensor], torch.Tensor]


def score_after_prompt(
    first: torch.Tensor,
    extend: Extend,
    takes: Sequence[Sequence[int]],
    *,
    vocab: int,
    budget: int = LOGIT_BUDGET,
) -> list[float]:
    """Mean log p per token of each of `takes` after one prompt: `first` `[V]` are the logits
    after the prompt (they predict each take's first token), `extend` reads the rest. An empty
    take scores 0.0; rows run a few at a time, within `budget` logit values."""
    result = [0.0] * len(takes)
    opening = torch.log_softmax(first.float(), dim=-1)
    rows = [i for i, take in enumerate(takes) if take]
    start = 0
    while start < len(rows):
        longest = max(len(takes[i]) for i in rows[start:])
        chunk = rows[start : start + max(1, budget // (vocab * longest))]
        start += len(chunk)
        sums = [float(opening[takes[i][0]]) for i in chunk]
        width = max(len(takes[i]) for i in chunk) - 1
        if width > 0:
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            targets = torch.zeros((len(chunk), width), dtype=torch.long)
            valid = torch.zeros((len(chunk), width), dtype=torch.bool)
            for row, i in enumerate(chunk):
                take = torch.tensor(list(takes[i]))
                ids[row, : len(take) - 1] = take[:-1]
                targets[row, : len(take) - 1] = take[1:]
                valid[row, : len(take) - 1] = True
            device = first.device
            logits = extend(ids.to(device))
            rest = mean_logprobs(logits, targets.to(device), valid.to(device))
            sums = [s + r * (len(takes[i]) - 1) for s, r, i in zip(sums, rest, chunk, strict=True)]
        for s, i in zip(sums, chunk, strict=True):
            result[i] = s / len(takes[i])
    return result


def fast_prompt(fast: Any, prompt: Sequence[int]) -> tuple[torch.Tensor, Extend]:
    """The logits after `prompt` and its `Extend` on the fast path (`fastpath.FastLlama`)."""
    device = fast.device
    cache = fast.new_cache(1, len(prompt))
    ids = torch.tensor([list(prompt)], device=device)
    first = fast.forward(ids, torch.arange(len(prompt), device=device)[None], cache)[0]

    def extend(takes: torch.Tensor) -> torch.Tensor:
        rows, width = takes.shape
        copy = fast.new_cache(rows, len(prompt) + width)
        for mine, theirs in zip(
            (*copy.keys, *copy.values), (*cache.keys, *cache.values), strict=True
        ):
            mine[:, :, : len(prompt)] = theirs[:, :, : len(prompt)]
        copy.length = len(prompt)
        positions = torch.arange(len(prompt), len(prompt) + width, device=device)
        last = torch.arange(width, device=device).expand(rows, -1)
        return fast.forward(takes, positions.expand(rows, -1), copy, None, last=last)

    return first, extend


def hf_prompt(model: Any, prompt: Sequence[int]) -> tuple[torch.Tensor, Extend]:
    """The logits after `prompt` and its `Extend` on a Hugging Face causal LM."""
    from transformers import DynamicCache

    device = next(model.parameters()).device
    cache = DynamicCache(config=model.config)
    ids = torch.tensor([list(prompt)], device=device)
    out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    first = out.logits[0, -1]

    def extend(takes: torch.Tensor) -> torch.Tensor:
        rows, width = takes.shape
        copy = copy_module.deepcopy(out.past_key_values)
        copy.batch_repeat_interleave(rows)
        positions = torch.arange(len(prompt), len(prompt) + width, device=device)
        answer = model(
            input_ids=takes,
            position_ids=positions.expand(rows, -1),
            past_key_values=copy,
            use_cache=True,
        )
        return answer.logits

    return first, extend


@torch.inference_mode()
def take_logprobs(
    model: Any,
    tokenizer: Any,
    prompt_ids_list: Sequence[Sequence[int]],
    take_ids_list: Sequence[Sequence[int]],
) -> list[float]:
    """Mean log-probability per token of each take after its prompt, by a Hugging Face causal
    LM (`model(input_ids, attention_mask, position_ids, logits_to_keep)`). `tokenizer` is not
    read (the ids are given); it is taken so that callers hold one signature for every model."""
    del tokenizer
    device = next(model.parameters()).device
    vocab = int(model.get_output_embeddings().weight.shape[0])

    def forward(
        ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, keep: int
    ) -> torch.Tensor:
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep)
        return out.logits

    return score_takes(forward, prompt_ids_list, take_ids_list, vocab=vocab, device=device)
