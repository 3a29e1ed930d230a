"""The slot engine: continuous batching on the fast path, with every row in a fixed place.

Each running sequence owns one row ("slot") of per-layer key/value buffers `[rows, kv_heads,
columns, head_dim]`, from column 0: its prompt, then one column per generated token. The running
sequences always fill rows `[0, n)`: a sequence that joins takes row n, one that leaves is
replaced by the last row (one row copied, nothing else moves). A decode step writes each row's
new key/value at that row's own length and attends over the first `width` columns, masking the
columns past each row's length. Its inputs and outputs stay in the same tensors from one step to
the next, and so does the sampler's state (`model.sampling`): the whole step — forward pass and
sampling — has fixed shapes for a given (rows, width).

On CUDA that step is captured once per (rows, width) bucket as a CUDA graph and replayed: one
launch instead of a few hundred kernel launches from Python, which is what bounds a small
model's decode step on a GPU. Rows are padded up to a power of two (the padding rows compute
and are ignored) and the width up to a power of two of at least 128 columns. Elsewhere the same
step function runs eagerly with the exact rows and width. `WRITERS_ROOM_CUDA_GRAPHS=0` turns the
capture off.

Prefill stays eager (prompts vary in length): the prompts that arrive together run in one pass,
padded at their end (causal attention never lets a real token see that padding), each prompt
once however many takes share it, and its keys/values are copied into the takes' rows.

It implements `model.batch.BatchEngine`, as `model.engine.Engine` (which runs the models the fast
path does not support) does, and is, like it, driven by one thread only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from model import cascade, fastpath, kernels, repeats, switches
from model.batch import (
    PromptGroup,
    Row,
    TokenEvent,
    columns_for,
    finish_rows,
    mark_drawn,
    prompt_penalties,
)
from model.sampling import (
    GRAPH_CANDIDATES,
    SamplingTable,
    candidates_for,
    draw,
    random_seed,
    uses_dry,
)

GRAPHS_SWITCH = "WRITERS_ROOM_CUDA_GRAPHS"
_MIN_WIDTH = 128


def graphs_enabled() -> bool:
    """False when the environment switches the capture off (`WRITERS_ROOM_CUDA_GRAPHS=0`)."""
    return switches.switched_on(GRAPHS_SWITCH)


@dataclass(slots=True)
class _Row(Row):
    length: int = 0  # columns holding keys/values (prompt + generated so far, less the last token)
    prompt: int = 0  # the prompt it continues, counted as placed: rows of one share its columns
    shared: int = 0  # the prompt's columns


class SlotCache:
    """Key/value buffers of `rows` sequences of up to `columns` columns each: one tensor for
    the keys of every layer and one for the values, `[layers, rows, kv_heads, columns, D]`, so
    that moving a row is one copy each; `keys[layer]` and `values[layer]` are views."""

    def __init__(self, fast: fastpath.FastLlama, rows: int, columns: int) -> None:
        shape = (len(fast.layers), rows, fast.kv_heads, columns, fast.head_dim)
        self._stores = (
            torch.zeros(shape, dtype=fast.kv_dtype, device=fast.device),
            torch.zeros(shape, dtype=fast.kv_dtype, device=fast.device),
        )
        self.keys, self.values = (list(store.unbind(0)) for store in self._stores)

    @property
    def rows(self) -> int:
        return self._stores[0].shape[1]

    @property
    def columns(self) -> int:
        return self._stores[0].shape[3]

    def grow(self, rows: int, columns: int, keep_rows: int, keep_columns: int) -> None:
        """New buffers of at least `rows` x `columns`, keeping the first `keep_rows` rows'
        first `keep_columns` columns."""
        rows, columns = max(rows, self.rows), max(columns, self.columns)
        grown = []
        for old in self._stores:
            layers, _, heads, _, dim = old.shape
            new = old.new_zeros((layers, rows, heads, columns, dim))
            new[:, :keep_rows, :, :keep_columns] = old[:, :keep_rows, :, :keep_columns]
            grown.append(new)
        self._stores = (grown[0], grown[1])
        self.keys, self.values = (list(store.unbind(0)) for store in self._stores)

    def fill(self, rows: slice, prefix: fastpath.KVCache, source: int, length: int) -> None:
        """Copy the first `length` keys/values of row `source` of a prefill into `rows`."""
        for layer in range(len(self.keys)):
            self.keys[layer][rows, :, :length] = prefix.keys[layer][source, :, :length]
            self.values[layer][rows, :, :length] = prefix.values[layer][source, :, :length]

    def move(self, source: int, target: int, length: int) -> None:
        for store in self._stores:
            store[:, target, :, :length] = store[:, source, :, :length]


class _StepView:
    """The cache as one decode step sees it: rows `[0, n)`, each writing its new key/value at
    column `lengths[row]`, attending over the first `width` columns. `column`: the one column
    every row writes when they all hold as many (the takes of one request, which start and
    advance together): a plain slice, not an indexed write per row."""

    def __init__(
        self,
        cache: SlotCache,
        lengths: torch.Tensor,
        width: int,
        column: int | None = None,
        layout: kernels.Layout | None = None,
    ) -> None:
        self.cache = cache
        self.lengths = lengths
        self.rows = torch.arange(lengths.shape[0], device=lengths.device)
        self.width = width
        self.column = column
        # Each row's columns and shared prompt, for attention in our kernel (`kernels.attend`),
        # which needs no mask and reads a shared prompt once.
        self.layout = layout

    def prepare(self, new: int) -> int:
        assert new == 1, "a decode step feeds one token per row"
        return self.width

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = self.lengths.shape[0]
        k_buffer, v_buffer = self.cache.keys[layer], self.cache.values[layer]
        if self.column is not None:
            k_buffer[:n, :, self.column] = keys[:, :, 0]
            v_buffer[:n, :, self.column] = values[:, :, 0]
        else:
            # An indexed write, unlike a slice's, takes only the buffer's own dtype.
            k_buffer[self.rows, :, self.lengths] = keys[:, :, 0].to(k_buffer.dtype)
            v_buffer[self.rows, :, self.lengths] = values[:, :, 0].to(v_buffer.dtype)
        return k_buffer[:n, :, : self.width], v_buffer[:n, :, : self.width]

    def advance(self, new: int) -> None:
        """The engine moves the lengths after sampling."""

    def buffers(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Every layer's whole key and value buffers (`kernels.Stack` writes and reads them
        itself, at the columns `layout` gives)."""
        return self.cache.keys, self.cache.values


class _CascadeView(_StepView):
    """A step view whose attention reads each shared prompt once (`model.cascade`)."""

    def __init__(
        self,
        cache: SlotCache,
        lengths: torch.Tensor,
        width: int,
        column: int | None,
        plan: cascade.Plan,
    ) -> None:
        super().__init__(cache, lengths, width, column)
        self.plan = plan

    def attend(self, layer: int, q: torch.Tensor, scale: float) -> torch.Tensor:
        return self.plan.attend(self.cache.keys[layer], self.cache.values[layer], q, scale)


def attends_in_ours(fast: fastpath.FastLlama) -> bool:
    """Whether an eager decode step of `fast` attends in our kernel (`kernels.attend`): a
    float16 cache on a CPU where the kernels run, heads it takes."""
    return (
        fast.device.type == "cpu"
        and fast.kv_dtype == torch.float16
        and kernels.attention_fits(fast.groups, fast.head_dim)
        and kernels.available()
    )


@torch.inference_mode()
def decoded_logprobs(
    fast: fastpath.FastLlama, prompt: Sequence[int], answer: Sequence[int]
) -> list[float]:
    """log p(answer[i] | prompt, answer[:i]) for every token of `answer`: the first from the
    prompt's prefill, each other from a decode step of one row fed the answer's tokens (teacher
    forcing), as the slot engine runs its steps (the cache, the layout, our one-call step where
    it serves): the held-out perplexity of what the bot decodes (`bench.quant_quality`)."""
    device = fast.device
    prefix = fast.new_cache(1, len(prompt))
    ids = torch.tensor([list(prompt)], device=device)
    logits = fast.forward(ids, torch.arange(len(prompt), device=device)[None], prefix)
    chosen = [float(torch.log_softmax(logits[0].float(), -1)[answer[0]])]
    cache = SlotCache(fast, 1, len(prompt) + len(answer))
    cache.fill(slice(0, 1), prefix, 0, len(prompt))
    layout = kernels.Layout() if attends_in_ours(fast) else None
    for index, token in enumerate(answer[:-1]):
        column = len(prompt) + index
        lengths = torch.tensor([column], device=device)
        view = _StepView(cache, lengths, column + 1, column, layout)
        step = torch.tensor([[token]], device=device)
        logits = fast.forward(step, lengths[:, None], view)
        chosen.append(float(torch.log_softmax(logits[0].float(), -1)[answer[index + 1]]))
    return chosen


class SlotEngine:
    """Step-level continuous batching over `fastpath.FastLlama`, rows in fixed slots."""

    def __init__(
        self,
        model: Any,
        *,
        stop_token_ids: Iterable[int],
        max_batch: int = 32,
        graphs: bool | None = None,
        kv_cache_mb: int = 0,
        marks: repeats.Marks | None = None,
        shared_prompts: str | None = None,
    ) -> None:
        """`graphs`: capture the decode step (default: on CUDA, unless switched off). Off CUDA,
        True runs the captured shapes (padded rows, bucketed width, preallocated buffers) eagerly,
        so that a CPU can test what a GPU replays. `kv_cache_mb`: the most the key/value cache
        may hold, while it grows too (0: a quarter of the machine's memory; see `fits`).
        `marks`: the vocabulary's DRY breakers (`model.repeats`; default none).
        `shared_prompts`: `auto`, `on` or `off`, whether an eager decode step reads a prompt
        its rows share once (`model.cascade`; default from `WRITERS_ROOM_CASCADE`)."""
        self.model = model
        self.fast = fastpath.FastLlama(model)
        self.device = self.fast.device
        itemsize = torch.empty((), dtype=self.fast.kv_dtype).element_size()
        #: Bytes of one position of one row: keys and values of every layer.
        self.column_bytes = 2 * len(self.fast.layers) * self.fast.kv_heads * self.fast.head_dim
        self.column_bytes *= itemsize
        self.kv_budget = (kv_cache_mb or _default_kv_cache_mb()) * 2**20
        self.stop_token_ids = frozenset(stop_token_ids)
        self.max_batch = max_batch
        self._vocab = int(model.get_output_embeddings().weight.shape[0])
        self.marks = marks or repeats.Marks.none(self._vocab, self.device, self.stop_token_ids)
        if graphs is None:
            graphs = self.device.type == "cuda" and graphs_enabled()
        self._graphs: _Graphs | None = _Graphs(self) if graphs else None
        # A GPU gets every row up front (and a step of fixed addresses); a CPU grows as needed.
        rows = _bucket(max_batch) if graphs else 0
        columns = 2048 if graphs else 0
        self.shared_prompts = shared_prompts or cascade.mode()
        # A decode step's attention in our kernel (`kernels.attend`), which takes each row's own
        # length and shared prompt: no mask, no cascade (the fast path checks the rest).
        self._own_attention = self._graphs is None and attends_in_ours(self.fast)
        self._prompts = 0  # prompts placed so far: each row's `prompt` is one of them
        self._rows: list[_Row] = []
        self.cache = SlotCache(self.fast, max(rows, 1), max(columns, 1))
        self._state = _State.empty(self.cache.rows, self._vocab, self.device)

    def _make_room(self, rows: int, columns: int) -> None:
        """At least `rows` rows of `columns` columns: rows double, columns grow by half (or, with
        no sequence running, are what the new ones need: nothing is copied then)."""
        shape = self._shape_for(rows, columns)
        if shape != (self.cache.rows, self.cache.columns):
            self._grow(*shape)

    def _shape_for(self, rows: int, columns: int) -> tuple[int, int]:
        have_rows, have_columns = self.cache.rows, self.cache.columns
        if rows > have_rows:
            have_rows = max(rows, min(_bucket(rows), self.max_batch))
        if columns > have_columns:
            # An idle engine sizes a fresh cache to what it is asked for (32 takes of 500
            # tokens: 740 MB, not 1.1 GB); a running one grows by half, to copy seldom.
            have_columns = fastpath.room_for(columns) if self._rows else columns
        return have_rows, have_columns

    def fits(self, rows: int, columns: int) -> bool:
        """Whether the cache can hold `rows` rows beside each other, the longest needing
        `columns` columns (prompt and budget), within `kv_budget`; growing, it holds the old
        buffers and the new at once. One row always fits (the context bounds it)."""
        if rows <= 1 or self._graphs is not None:  # a GPU's cache is allocated up front
            return True
        have = self.cache.rows * self.cache.columns
        want_rows, want_columns = self._shape_for(rows, columns)
        want = want_rows * want_columns
        held = want if want == have else want + have
        return held * self.column_bytes <= self.kv_budget

    def _grow(self, rows: int, columns: int) -> None:
        """Room for `rows` x `columns`, keeping the running rows (a new capture follows). Out
        of memory half-way, it leaves the engine as it was."""
        n = len(self._rows)
        fresh = _State.empty(max(rows, self.cache.rows), self._vocab, self.device)
        for new, old in zip(fresh.tensors(), self._state.tensors(), strict=True):
            new[:n] = old[:n]
        self.cache.grow(rows, columns, n, max((row.length for row in self._rows), default=0))
        self._state = fresh
        if self._graphs is not None:
            self._graphs.clear()  # captured against the old buffers

    @property
    def active(self) -> int:
        return len(self._rows)

    @torch.inference_mode()
    def warm_up(self) -> None:
        """Capture the decode step of every (rows, width) bucket before serving, so that no
        request waits for a capture (with no sequence running, the steps touch padding only)."""
        if self._graphs is None or self._rows:
            return
        rows = 1
        while rows <= self.cache.rows:
            width = _MIN_WIDTH
            while width <= self.cache.columns:
                self._graphs.run(rows, width)
                width *= 2
            rows *= 2

    @property
    def free_slots(self) -> int:
        return self.max_batch - self.active

    @torch.inference_mode()
    def add(self, groups: Sequence[PromptGroup]) -> list[TokenEvent]:
        """Prefill `groups` into free rows; returns each new sequence's first token."""
        # Room for them all at once: grown batch by batch, the cache would hold each smaller
        # buffer beside the next, past the memory `fits` allowed for.
        rows = len(self._rows) + sum(len(group.seq_ids) for group in groups)
        self._make_room(rows, max(columns_for(g.prompt_ids, g.sampling) for g in groups))
        events: list[TokenEvent] = []
        for batch in _prefill_batches(groups):
            events.extend(self._add(batch))
        return events

    def _add(self, groups: Sequence[PromptGroup]) -> list[TokenEvent]:
        """Prefill `groups` in one forward pass (prompts padded at their end) and place their
        takes in the rows after the running ones."""
        lengths = [len(group.prompt_ids) for group in groups]
        first = len(self._rows)
        end = first + sum(len(group.seq_ids) for group in groups)
        self._make_room(end, max(columns_for(g.prompt_ids, g.sampling) for g in groups))
        width = max(lengths)
        ids = torch.zeros((len(groups), width), dtype=torch.long)
        for index, group in enumerate(groups):
            ids[index, : lengths[index]] = torch.tensor(group.prompt_ids)
        ids = ids.to(self.device)
        prefix = self.fast.new_cache(len(groups), width)
        positions = torch.arange(width, device=self.device)[None, :].expand(len(groups), -1)
        ends = torch.tensor(lengths, device=self.device) - 1
        logits = self.fast.forward(ids, positions, prefix, last=ends)
        row = first
        for index, group in enumerate(groups):
            rows = slice(row, row + len(group.seq_ids))
            row = rows.stop
            self.cache.fill(rows, prefix, index, lengths[index])
            self._place(group, rows, ids[index, : lengths[index]], logits[index : index + 1])
        return self._advance(first, end, decode=False)

    def _place(
        self, group: PromptGroup, rows: slice, prompt: torch.Tensor, logits: torch.Tensor
    ) -> None:
        """Set up `rows` for the takes of `group` (whose prompt's keys/values they hold) and
        draw their first tokens from the prompt's last `logits` `[1, V]`."""
        n, state = len(group.seq_ids), self._state
        seeds = [s.seed if s.seed is not None else random_seed() for s in group.sampling]
        table = SamplingTable.of(group.sampling, seeds, self.device)
        for mine, theirs in zip(state.table.columns(), table.columns(), strict=True):
            mine[rows] = theirs
        penalisable, penalised = prompt_penalties(prompt, group, self._vocab, self.marks)
        state.penalisable[rows] = penalisable
        state.penalised[rows] = penalised
        state.lengths[rows] = len(prompt)
        state.tokens[rows], state.logprobs[rows] = draw(
            logits.expand(n, -1),
            state.penalised[rows],
            _rows_of(state.table, rows),
            candidates_for(group.sampling, self._vocab),
        )  # a take's first token repeats nothing of it: no DRY
        self._prompts += 1
        self._rows.extend(
            _Row(seq_id, sampling, 0, len(prompt), self._prompts, len(prompt))
            for seq_id, sampling in zip(group.seq_ids, group.sampling, strict=True)
        )

    @torch.inference_mode()
    def step(self) -> list[TokenEvent]:
        """One decode step for every running sequence."""
        n = len(self._rows)
        if not n:
            return []
        width = max(row.length for row in self._rows) + 1
        if self._graphs is not None:
            self._graphs.run(n, width)
        else:
            settings = [row.sampling for row in self._rows]
            candidates = candidates_for(settings, self._vocab)
            self._step(n, width, candidates, dry=uses_dry(settings))
        return self._advance(0, n, decode=True)

    def _step(
        self, n: int, width: int, candidates: int, *, aligned: bool = True, dry: bool = True
    ) -> None:
        """The decode step of rows `[0, n)` over `width` columns: feeds `last`, leaves the
        sampled tokens in `tokens`. Fixed shapes and buffers for a given (n, width). `aligned`:
        take the unmasked step when every row holds `width - 1` columns (a captured step, whose
        rows and width are padded and replayed for others, must not). `dry`: apply the DRY
        penalty (a captured step always does; rows without it are unchanged by it)."""
        state = self._state
        lengths = state.lengths[:n]
        column = None
        if aligned and all(row.length == width - 1 for row in self._rows):
            # Every row writes the same column and sees every column: no mask, no indexed writes.
            column = width - 1
        plan = layout = None
        if self._own_attention:  # each row's length and its shared prompt, in our kernel
            layout = kernels.Layout.of(
                None if column is not None else [row.length for row in self._rows],
                None
                if self.shared_prompts == "off"
                else [(row.prompt, row.shared) for row in self._rows],
            )
        elif self._graphs is None:  # a captured step's rows are padded: it reads every row
            plan = cascade.plan(
                [(row.prompt, row.shared) for row in self._rows],
                [row.length for row in self._rows],
                width,
                setting=self.shared_prompts,
                dtype=self.fast.kv_dtype,
                device=self.device,
            )
        mask = None
        if plan is not None:
            view: _StepView = _CascadeView(self.cache, lengths, width, column, plan)
        elif column is not None:
            view = _StepView(self.cache, lengths, width, column, layout)
        else:
            columns = torch.arange(width, device=self.device)
            mask = columns[None, :] <= lengths[:, None]
            view = _StepView(self.cache, lengths, width, layout=layout)
        logits = self.fast.forward(state.last[:n, None], lengths[:, None], view, mask)
        rows = slice(0, n)
        state.tokens[rows], state.logprobs[rows] = draw(
            logits,
            state.penalised[rows],
            _rows_of(state.table, rows),
            candidates,
            self.marks.exempt if dry else None,
        )

    def _advance(self, first: int, end: int, *, decode: bool) -> list[TokenEvent]:
        """Account for the tokens sampled into rows `[first, end)`: feed them next, mark them
        seen, count them, and end the sequences that stopped or spent their budget."""
        state = self._state
        rows = slice(first, end)
        tokens = state.tokens[rows]
        state.last[rows] = tokens
        # Only a take with DRY reads its history (a captured step's penalty of 0 leaves the
        # others as they are), so a batch without one skips keeping it.
        dry = uses_dry([row.sampling for row in self._rows[first:end]])
        mark_drawn(
            tokens,
            state.penalised[rows],
            state.penalisable[rows],
            _rows_of(state.table, rows),
            self.marks if dry else None,
        )
        events = finish_rows(
            self._rows[first:end],
            tokens.tolist(),
            self.stop_token_ids,
            state.logprobs[rows].tolist(),
        )
        if decode:  # every row wrote one more column (a prefill wrote the prompt's already)
            state.lengths[:end] += 1
            for row in self._rows[:end]:
                row.length += 1
        self.drop(e.seq_id for e in events if e.finish)
        return events

    @torch.inference_mode()
    def drop(self, seq_ids: Iterable[int]) -> None:
        """Remove sequences; the last rows move into the freed ones."""
        gone = set(seq_ids)
        if not gone:
            return
        state = self._state
        index = len(self._rows) - 1
        while index >= 0:
            if self._rows[index].seq_id in gone:
                last = len(self._rows) - 1
                if index != last:
                    self._move(last, index)
                self._rows.pop()
                state.lengths[last] = 0
            index -= 1
        if not self._rows and self._graphs is None:
            # Idle: hand the buffers back (a burst of long prompts held gigabytes); the next
            # request's rows are allocated for it, in milliseconds.
            self.cache = SlotCache(self.fast, 1, 1)
            self._state = _State.empty(1, self._vocab, self.device)

    def _move(self, source: int, target: int) -> None:
        state = self._state
        row = self._rows[source]
        self.cache.move(source, target, row.length)
        for tensor in state.tensors():
            tensor[target] = tensor[source]
        self._rows[target] = row


@dataclass(slots=True)
class _State:
    """Per-row tensors of the running batch (rows `[0, n)` are live)."""

    last: torch.Tensor  # [R] the token to feed next
    lengths: torch.Tensor  # [R] columns of keys/values the row holds
    tokens: torch.Tensor  # [R] the tokens the last step sampled
    logprobs: torch.Tensor  # [R] float32: their log-probabilities under the raw logits
    penalised: torch.Tensor  # [R, V] seen tokens the repetition penalty applies to
    penalisable: torch.Tensor  # [R, V] False for the tokens spared the penalty
    table: SamplingTable

    @classmethod
    def empty(cls, rows: int, vocab: int, device: torch.device) -> _State:
        def zeros(*shape: int, dtype: torch.dtype = torch.long) -> torch.Tensor:
            return torch.zeros(shape, dtype=dtype, device=device)

        return cls(
            last=zeros(rows),
            lengths=zeros(rows),
            tokens=zeros(rows),
            logprobs=zeros(rows, dtype=torch.float32),
            penalised=zeros(rows, vocab, dtype=torch.bool),
            penalisable=zeros(rows, vocab, dtype=torch.bool),
            table=SamplingTable.empty(rows, device),
        )

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (
            self.last,
            self.lengths,
            self.tokens,
            self.logprobs,
            self.penalised,
            self.penalisable,
            *self.table.columns(),
        )


#: Padded prompt tokens one prefill pass may hold: its attention scores grow with the square of
#: the longest prompt, and a CPU's memory is the bot's tightest budget.
_PREFILL_TOKENS = 4096


#: Where a container's memory limit is (cgroup v2, then v1): it may be far below the host's.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _default_kv_cache_mb() -> int:
    """A quarter of the memory this process may use: the machine's, or its container's limit
    when that is lower (4 GB where neither can be read)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        total = 4 * 4096 * 2**20
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as limit:
                total = min(total, int(limit.read().strip()))
        except (OSError, ValueError):  # absent, or "max": no limit there
            continue
    return max(256, total // 4 // 2**20)


def _prefill_batches(groups: Sequence[PromptGroup]) -> list[list[PromptGroup]]:
    """`groups` in order, cut into batches of at most `_PREFILL_TOKENS` padded tokens (a longer
    prompt alone)."""
    batches: list[list[PromptGroup]] = []
    width = 0
    for group in groups:
        longest = max(width, len(group.prompt_ids))
        if batches and longest * (len(batches[-1]) + 1) <= _PREFILL_TOKENS:
            batches[-1].append(group)
            width = longest
        else:
            batches.append([group])
            width = len(group.prompt_ids)
    return batches


def _rows_of(table: SamplingTable, rows: slice) -> SamplingTable:
    return SamplingTable(*(column[rows] for column in table.columns()))


def _bucket(n: int) -> int:
    """The smallest power of two at least `n`."""
    return 1 << max(0, n - 1).bit_length()


@dataclass(frozen=True, slots=True)
class _Eager:
    replay: Callable[[], None]


class _Graphs:
    """CUDA graphs of the decode step, one per (rows, width) bucket, captured on first use."""

    def __init__(self, engine: SlotEngine) -> None:
        self.engine = engine
        self.graphs: dict[tuple[int, int], Any] = {}
        self.pool: Any = None
        self.stream: Any = None  # one side stream for every warm-up (and its cuBLAS workspace)

    def clear(self) -> None:
        """Forget every graph (their buffers were replaced); the memory pool goes with them."""
        self.graphs.clear()
        self.pool = None

    def run(self, n: int, width: int) -> None:
        engine = self.engine
        rows = min(_bucket(n), engine.cache.rows)
        span = min(max(_MIN_WIDTH, _bucket(width)), engine.cache.columns)
        graph = self.graphs.get((rows, span))
        if graph is None:
            graph = self._capture(lambda: engine._step(rows, span, GRAPH_CANDIDATES, aligned=False))
            self.graphs[(rows, span)] = graph
        graph.replay()

    def _capture(self, step: Callable[[], None]) -> Any:
        if self.engine.device.type != "cuda":
            # No graphs off CUDA: the same padded shapes and warm-up, replayed eagerly (the
            # tests run the graph discipline this way on a CPU).
            step()
            return _Eager(step)
        # The step only writes what it will write again on replay (each row's key/value at its
        # own length, the sampled tokens), so warming up on live state changes nothing.
        if self.stream is None:
            self.stream = torch.cuda.Stream()
        self.stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.stream):
            step()
        torch.cuda.current_stream().wait_stream(self.stream)
        if self.pool is None:
            self.pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=self.pool):
            step()
        return graph
