"""The Hugging Face engine: continuous batching through any causal LM's own forward.

`Engine` implements `model.batch.BatchEngine` for the models the lean forward of
`model.fastpath` does not support (and for every model with `WRITERS_ROOM_FASTPATH=0`): it runs
the model's Hugging Face forward over a `DynamicCache`. Its batch is kept left-padded (every
row's cache has the same length, padding columns are masked out, and each row carries its own
position ids), and columns that no remaining row uses are trimmed when rows leave.

An engine is not thread-safe: exactly one thread (the queue's worker) calls it. It knows
nothing of text, prompts, rooms or fairness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from model import repeats
from model.batch import (
    PromptGroup,
    Row,
    TokenEvent,
    finish_rows,
    mark_drawn,
    prompt_penalties,
)
from model.sampling import SamplingTable, candidates_for, draw, random_seed, uses_dry


@dataclass(slots=True)
class _Batch:
    """Tensors of the running batch, all indexed by row."""

    cache: _HFCache
    mask: torch.Tensor  # [B, T] 1 where the cache column holds a real token
    positions: torch.Tensor  # [B] position id of `last`, the next input token
    last: torch.Tensor  # [B] the token to feed next
    penalised: torch.Tensor  # [B, V] seen tokens the repetition penalty applies to
    penalisable: torch.Tensor  # [B, V] False for the tokens spared the penalty
    table: SamplingTable
    rows: list[Row] = field(default_factory=list)

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The per-row tensors (all but the cache and the mask), in a fixed order."""
        return (
            self.positions,
            self.last,
            self.penalised,
            self.penalisable,
            *self.table.columns(),
        )

    @classmethod
    def of(
        cls, cache: _HFCache, mask: torch.Tensor, rows: list[Row], *tensors: torch.Tensor
    ) -> _Batch:
        positions, last, penalised, penalisable, *table = tensors
        return cls(
            cache, mask, positions, last, penalised, penalisable, SamplingTable(*table), rows
        )


class Engine:
    """Step-level continuous batching through a Hugging Face causal LM's own forward."""

    def __init__(
        self,
        model: Any,
        *,
        stop_token_ids: Iterable[int],
        max_batch: int = 32,
        marks: repeats.Marks | None = None,
    ) -> None:
        """`marks`: the vocabulary's DRY breakers (`model.repeats`; default none)."""
        self.model = model
        self.device = next(model.parameters()).device
        self.stop_token_ids = frozenset(stop_token_ids)
        self.max_batch = max_batch
        self._vocab = int(model.get_output_embeddings().weight.shape[0])
        self.marks = marks or repeats.Marks.none(self._vocab, self.device, self.stop_token_ids)
        self._batch: _Batch | None = None

    @property
    def active(self) -> int:
        """Sequences in the running batch."""
        return len(self._batch.rows) if self._batch else 0

    def warm_up(self) -> None:
        """Nothing to prepare before serving."""

    @property
    def free_slots(self) -> int:
        return self.max_batch - self.active

    def fits(self, rows: int, columns: int) -> bool:
        """Always: Hugging Face's cache is the model's own (the GPU path; its out-of-memory
        error halves the batch, `model.worker`)."""
        return True

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
        mask = torch.cat([batch.mask, ones], dim=1)
        out = self.model(
            input_ids=batch.last[:, None],
            attention_mask=mask,
            position_ids=batch.positions[:, None],
            past_key_values=batch.cache.inner,
            use_cache=True,
        )
        batch.mask, batch.cache.inner = mask, out.past_key_values
        events = self._sample_and_advance(batch, out.logits[:, -1, :])
        self.drop(e.seq_id for e in events if e.finish)
        return events

    @torch.inference_mode()
    def drop(self, seq_ids: Iterable[int]) -> None:
        """Remove sequences (cancelled, or stopped by a rule the caller applies to the text)."""
        gone = set(seq_ids)
        if self._batch is None or not gone:
            return
        keep = [i for i, row in enumerate(self._batch.rows) if row.seq_id not in gone]
        self._select(keep)

    def _prefill(self, group: PromptGroup) -> tuple[_Batch, torch.Tensor]:
        # Imported on first use: importing the queue (the bot does, before any model loads,
        # and the slot engine never needs this cache) need not pay for transformers.
        from transformers import DynamicCache

        n = len(group.seq_ids)
        ids = torch.tensor([group.prompt_ids], dtype=torch.long, device=self.device)
        length = ids.shape[1]
        out = self.model(
            input_ids=ids,
            past_key_values=DynamicCache(config=self.model.config),
            use_cache=True,
            logits_to_keep=1,
        )
        cache = _HFCache(out.past_key_values)
        if n > 1:
            cache.repeat_interleave(n)
        penalisable, penalised = prompt_penalties(ids[0], group, self._vocab, self.marks)
        seeds = [s.seed if s.seed is not None else random_seed() for s in group.sampling]
        batch = _Batch(
            cache=cache,
            mask=torch.ones((n, length), dtype=torch.long, device=self.device),
            positions=torch.full((n,), length - 1, dtype=torch.long, device=self.device),
            last=torch.zeros((n,), dtype=torch.long, device=self.device),
            penalised=penalised,
            penalisable=penalisable,
            table=SamplingTable.of(group.sampling, seeds, self.device),
            rows=[Row(i, s) for i, s in zip(group.seq_ids, group.sampling, strict=True)],
        )
        return batch, out.logits[:, -1, :].expand(n, -1)

    def _sample_and_advance(self, batch: _Batch, logits: torch.Tensor) -> list[TokenEvent]:
        settings = [row.sampling for row in batch.rows]
        marks = self.marks if uses_dry(settings) else None
        exempt = None if marks is None else marks.exempt
        tokens, logprobs = draw(
            logits, batch.penalised, batch.table, candidates_for(settings, self._vocab), exempt
        )
        mark_drawn(tokens, batch.penalised, batch.penalisable, batch.table, marks)
        batch.last = tokens
        batch.positions = batch.positions + 1
        return finish_rows(batch.rows, tokens.tolist(), self.stop_token_ids, logprobs.tolist())

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
        rows = [batch.rows[i] for i in keep]
        tensors = (tensor[index] for tensor in batch.tensors())
        self._batch = _Batch.of(batch.cache, mask[:, first:], rows, *tensors)


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
    mask = torch.cat([_pad_left(running.mask, length, 1), _pad_left(joining.mask, length, 1)])
    tensors = (
        torch.cat([ours, theirs])
        for ours, theirs in zip(running.tensors(), joining.tensors(), strict=True)
    )
    return _Batch.of(running.cache, mask, running.rows + joining.rows, *tensors)


def _pad_left(tensor: torch.Tensor, length: int, dim: int = -2) -> torch.Tensor:
    """`tensor` with zero columns before its own along `dim`, up to `length`."""
    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)
