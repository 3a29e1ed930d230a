"""The engine: batched, step-level continuous generation on token ids.

One `Engine` holds a running batch of sequences and their key/value cache. `add` prefills new
prompts (each prompt once, however many takes share it) and merges them into the running batch;
`step` runs one decode step for every running sequence, each with its own sampling settings
(temperature, top-p, top-k, repetition penalty, seed) and stop conditions (stop tokens, a token
budget). New sequences therefore join between two decode steps instead of waiting for the batch
to finish, and finished ones leave at once.

The batch is kept left-padded: every row's cache has the same length, padding columns are masked
out, and each row carries its own position ids, so rows of different prompt lengths and ages
share one forward pass. Columns that no remaining row uses are trimmed when rows leave.

For Llama-architecture models the forward passes run on `model.fastpath` (a lean forward with a
preallocated key/value cache); other models, or `WRITERS_ROOM_FASTPATH=0`, use the model's own
Hugging Face forward and `DynamicCache`. Both caches offer the same few batch operations.

The engine is not thread-safe: exactly one thread (the queue's worker) calls it. It knows
nothing of text, prompts, rooms or fairness.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from model import fastpath
from model.tasks import Sampling

_log = logging.getLogger(__name__)


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


@dataclass(slots=True)
class _Row:
    seq_id: int
    sampling: Sampling
    generator: torch.Generator
    generated: int = 0
    unpenalised: frozenset[int] = frozenset()


class _Cache(Protocol):
    """The batch operations the engine does on a key/value cache (rows, then columns)."""

    def select(self, index: torch.Tensor) -> None: ...

    def repeat_interleave(self, repeats: int) -> None: ...

    def crop_left(self, columns: int) -> None: ...

    def merge(self, other: Any) -> None: ...


@dataclass(slots=True)
class _Batch:
    """Tensors of the running batch, all indexed by row."""

    cache: _Cache
    mask: torch.Tensor  # [B, T] 1 where the cache column holds a real token
    positions: torch.Tensor  # [B] position id of `last`, the next input token
    last: torch.Tensor  # [B] the token to feed next
    seen: torch.Tensor  # [B, V] tokens in prompt or output, for the repetition penalty
    rows: list[_Row] = field(default_factory=list)


class Engine:
    """Step-level continuous batching over a Hugging Face causal LM."""

    def __init__(
        self,
        model: Any,
        *,
        stop_token_ids: Iterable[int],
        max_batch: int = 32,
    ) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.stop_token_ids = frozenset(stop_token_ids)
        self.max_batch = max_batch
        self._vocab = int(model.get_output_embeddings().weight.shape[0])
        self._batch: _Batch | None = None
        use_fast = fastpath.enabled() and fastpath.supports(model)
        self._fast = fastpath.FastLlama(model) if use_fast else None

    @property
    def active(self) -> int:
        """Sequences in the running batch."""
        return len(self._batch.rows) if self._batch else 0

    @property
    def free_slots(self) -> int:
        return self.max_batch - self.active

    @torch.inference_mode()
    def add(self, groups: Sequence[PromptGroup]) -> list[TokenEvent]:
        """Prefill `groups` and merge them into the running batch; returns each new sequence's
        first token (some may already be finished)."""
        events: list[TokenEvent] = []
        for group in groups:
            part, logits = self._prefill(group)
            new = self._sample_and_advance(part, logits)
            self._batch = part if self._batch is None else _merge(self._batch, part)
            self.drop(e.seq_id for e in new if e.finish)
            events.extend(new)
        return events

    @torch.inference_mode()
    def step(self) -> list[TokenEvent]:
        """One decode step for every running sequence."""
        batch = self._batch
        if batch is None:
            return []
        ones = torch.ones((len(batch.rows), 1), dtype=batch.mask.dtype, device=self.device)
        batch.mask = torch.cat([batch.mask, ones], dim=1)
        logits = self._decode_logits(batch)
        events = self._sample_and_advance(batch, logits)
        self.drop(e.seq_id for e in events if e.finish)
        return events

    def drop(self, seq_ids: Iterable[int]) -> None:
        """Remove sequences (cancelled, or stopped by a rule the caller applies to the text)."""
        gone = set(seq_ids)
        if self._batch is None or not gone:
            return
        keep = [i for i, row in enumerate(self._batch.rows) if row.seq_id not in gone]
        self._select(keep)

    def _decode_logits(self, batch: _Batch) -> torch.Tensor:
        """Feed every row its `last` token (the mask already has its column); [B, V] logits."""
        if self._fast is not None:
            assert isinstance(batch.cache, fastpath.KVCache)
            last, positions = batch.last[:, None], batch.positions[:, None]
            return self._fast.forward(last, positions, batch.cache, batch.mask)
        assert isinstance(batch.cache, _HFCache)
        out = self.model(
            input_ids=batch.last[:, None],
            attention_mask=batch.mask,
            position_ids=batch.positions[:, None],
            past_key_values=batch.cache.inner,
            use_cache=True,
        )
        batch.cache.inner = out.past_key_values
        return out.logits[:, -1, :]

    def _prefill(self, group: PromptGroup) -> tuple[_Batch, torch.Tensor]:
        n = len(group.seq_ids)
        ids = torch.tensor([group.prompt_ids], dtype=torch.long, device=self.device)
        length = ids.shape[1]
        cache: _Cache
        if self._fast is not None:
            cache = self._fast.new_cache(1, fastpath.room_for(length))
            positions = torch.arange(length, device=self.device)[None, :]
            logits = self._fast.forward(ids, positions, cache)
        else:
            from transformers import DynamicCache

            out = self.model(
                input_ids=ids,
                past_key_values=DynamicCache(config=self.model.config),
                use_cache=True,
                logits_to_keep=1,
            )
            cache = _HFCache(out.past_key_values)
            logits = out.logits[:, -1, :]
        if n > 1:
            cache.repeat_interleave(n)
        seen = torch.zeros((n, self._vocab), dtype=torch.bool, device=self.device)
        seen[:, ids[0]] = True
        rows = [
            _Row(seq_id, sampling, _generator(sampling.seed), unpenalised=group.unpenalised)
            for seq_id, sampling in zip(group.seq_ids, group.sampling, strict=True)
        ]
        if group.unpenalised:
            seen[:, list(group.unpenalised)] = False
        batch = _Batch(
            cache=cache,
            mask=torch.ones((n, length), dtype=torch.long, device=self.device),
            positions=torch.full((n,), length - 1, dtype=torch.long, device=self.device),
            last=torch.zeros((n,), dtype=torch.long, device=self.device),
            seen=seen,
            rows=rows,
        )
        return batch, logits.expand(n, -1)

    def _sample_and_advance(self, batch: _Batch, logits: torch.Tensor) -> list[TokenEvent]:
        tokens = sample_tokens(logits, batch.rows, batch.seen)
        batch.seen[torch.arange(len(batch.rows), device=self.device), tokens] = True
        batch.last = tokens
        batch.positions = batch.positions + 1
        events = []
        for index, (row, token) in enumerate(zip(batch.rows, tokens.tolist(), strict=True)):
            row.generated += 1
            if token in row.unpenalised:
                batch.seen[index, token] = False
            if token in self.stop_token_ids:
                events.append(TokenEvent(row.seq_id, None, "stop"))
            elif row.generated >= row.sampling.max_new_tokens:
                events.append(TokenEvent(row.seq_id, token, "length"))
            else:
                events.append(TokenEvent(row.seq_id, token))
        return events

    def _select(self, keep: list[int]) -> None:
        batch = self._batch
        assert batch is not None
        if not keep:
            self._batch = None
            return
        if len(keep) == len(batch.rows):
            return
        index = torch.tensor(keep, dtype=torch.long, device=self.device)
        mask = batch.mask[index]
        # Columns before the first real token of every remaining row are pure padding now.
        first = int(mask.argmax(dim=1).min())
        batch.cache.select(index)
        if first:
            batch.cache.crop_left(first)
        batch.mask = mask[:, first:]
        batch.positions = batch.positions[index]
        batch.last = batch.last[index]
        batch.seen = batch.seen[index]
        batch.rows = [batch.rows[i] for i in keep]


def _generator(seed: int | None) -> torch.Generator:
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator


class _HFCache:
    """A Hugging Face `DynamicCache` behind the engine's cache operations."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def _layers(self) -> list[Any]:
        layers = list(self.inner.layers)
        for layer in layers:
            if getattr(layer, "is_sliding", False):
                raise ValueError("sliding-window attention caches cannot be merged by this engine")
        return layers

    def select(self, index: torch.Tensor) -> None:
        self.inner.batch_select_indices(index)

    def repeat_interleave(self, repeats: int) -> None:
        self.inner.batch_repeat_interleave(repeats)

    def crop_left(self, columns: int) -> None:
        for layer in self._layers():
            layer.keys = layer.keys[..., columns:, :]
            layer.values = layer.values[..., columns:, :]

    def merge(self, other: _HFCache) -> None:
        ours_layers, their_layers = self._layers(), other._layers()
        length = max(ours_layers[0].keys.shape[-2], their_layers[0].keys.shape[-2])
        for ours, theirs in zip(ours_layers, their_layers, strict=True):
            ours.keys = torch.cat([_pad_left(ours.keys, length), _pad_left(theirs.keys, length)])
            ours.values = torch.cat(
                [_pad_left(ours.values, length), _pad_left(theirs.values, length)]
            )


def _merge(running: _Batch, joining: _Batch) -> _Batch:
    """One batch from two: the shorter cache is left-padded with masked zero columns."""
    length = max(running.mask.shape[1], joining.mask.shape[1])
    running.cache.merge(joining.cache)
    return _Batch(
        cache=running.cache,
        mask=torch.cat([_pad_left(running.mask, length, 1), _pad_left(joining.mask, length, 1)]),
        positions=torch.cat([running.positions, joining.positions]),
        last=torch.cat([running.last, joining.last]),
        seen=torch.cat([running.seen, joining.seen]),
        rows=running.rows + joining.rows,
    )


def _pad_left(tensor: torch.Tensor, length: int, dim: int = -2) -> torch.Tensor:
    """`tensor` with zero columns before its own along `dim`, up to `length`."""
    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def sample_tokens(logits: torch.Tensor, rows: Sequence[_Row], seen: torch.Tensor) -> torch.Tensor:
    """The next token of every row, each with its own sampling settings and random generator.

    Repetition penalty as in CTRL (and transformers): a seen token's logit is divided by the
    penalty when positive and multiplied when negative. A temperature of 0 means greedy.
    """
    scores = logits.float()
    device = scores.device
    penalty = torch.tensor([r.sampling.repetition_penalty for r in rows], device=device)[:, None]
    if bool((penalty != 1.0).any()):
        penalised = torch.where(scores > 0, scores / penalty, scores * penalty)
        scores = torch.where(seen, penalised, scores)
    greedy = scores.argmax(dim=-1)
    temperature = torch.tensor([r.sampling.temperature for r in rows], device=device)
    sampled_rows = [i for i, r in enumerate(rows) if r.sampling.temperature > 0]
    if not sampled_rows:
        return greedy
    vocab = scores.shape[-1]
    top_k = [r.sampling.top_k if 0 < r.sampling.top_k < vocab else vocab for r in rows]
    widest = max(top_k[i] for i in sampled_rows)
    scores = scores / temperature.clamp(min=1e-5)[:, None]
    values, indices = torch.topk(scores, widest, dim=-1)
    rank = torch.arange(widest, device=device)[None, :]
    values = values.masked_fill(rank >= torch.tensor(top_k, device=device)[:, None], -torch.inf)
    probs = torch.softmax(values, dim=-1)
    top_p = torch.tensor([r.sampling.top_p for r in rows], device=device)[:, None]
    # Keep the smallest prefix whose mass reaches top_p: a candidate stays when the mass before it
    # is still below top_p (so the most likely token always stays).
    before = torch.cumsum(probs, dim=-1) - probs
    probs = probs.masked_fill(before >= top_p, 0.0)
    # Each row draws from its own CPU generator, so a seeded take is reproducible whatever else
    # shares its batch; one transfer of the small candidate table serves all rows.
    probs_cpu = probs.cpu()
    picks = [0] * len(rows)
    for i in sampled_rows:
        picks[i] = int(torch.multinomial(probs_cpu[i], 1, generator=rows[i].generator))
    chosen = torch.tensor(picks, dtype=torch.long, device=device)
    sampled = indices.gather(1, chosen[:, None])[:, 0]
    is_sampled = (temperature > 0).to(device)
    return torch.where(is_sampled, sampled, greedy)
