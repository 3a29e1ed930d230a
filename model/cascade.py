"""Cascade attention: a decode step reads a prompt that several rows share once, not per row.

The takes of one request continue the same prompt, and the slot engine copies that prompt's keys
and values into every take's row (`model.slots`). A decode step's attention over those rows then
reads the prompt once per row: at six rows (three takes, best-of-2) of an 800-token prompt, most
of the bytes attention reads are six copies of the same columns.

Softmax attention splits over any partition of the columns it attends to. With the output `o_i`
and the log-sum-exp of the scores `l_i` of each part, the whole is `Σ exp(l_i − l) o_i`, where
`l = log Σ exp(l_i)` (FlashAttention's merge; FlashInfer's and vLLM's "cascade attention" apply
it to a shared prefix). So a step here attends, per group of rows that share a prompt, all their
queries together to that prompt's columns in one row (one read, and one product of many query
rows instead of several of a few), then every row to its own columns after the prompts, and
merges the two by their log-sum-exps.

`plan` decides per step: the two passes and the merge cost more calls than one, so a step whose
prompts are short or unshared reads its rows as before (`Plan` None). CPU only: the log-sum-exp
comes from the kernel PyTorch's attention runs on a CPU (`_scaled_dot_product_flash_attention_
for_cpu`, which returns it); elsewhere, and where that kernel is missing, every step is plain.
`WRITERS_ROOM_CASCADE` = `0` (never), `1` (every eager step, shared or not: the tests) or
`auto`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

SWITCH = "WRITERS_ROOM_CASCADE"

_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)

#: The cost model, in what one row's attention to one column costs in one pass (one pass over
#: n rows of w columns: `n × w + _CALL`). A group's pass over its prompt's P columns costs
#: `P × (_SHARED_READ + _SHARED_ROW × rows)`: the columns are read once, but every row's queries
#: are still scored against them (a product of more query rows, cheaper per row), plus `_GROUP`
#: (the call, its queries laid out as one sequence's), plus `_GATHER` where its rows are not
#: neighbours; each row's own columns after the prompts cost `_OWN` a column, and the second pass
#: and the merge `_MERGE`. The cascade is taken only below `_MARGIN` of one pass's cost. Fitted
#: (least squares, within about 10%) to `bench/cascade.py`'s 48 shapes on this project's 2-core
#: AVX-512 CPU, two threads, SmolLM2-135M's heads.
_CALL = 60
_SHARED_READ = 0.8
_SHARED_ROW = 0.4
_GROUP = 460
_GATHER = 290
_OWN = 0.8
_MERGE = 290
_MARGIN = 0.8


def mode() -> str:
    """`off`, `on` or `auto`, from `WRITERS_ROOM_CASCADE` (default auto)."""
    value = os.environ.get(SWITCH, "auto").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    if value in ("1", "on", "true", "yes"):
        return "on"
    return "auto"


def available(device: torch.device) -> bool:
    return device.type == "cpu" and _FLASH is not None


@dataclass(frozen=True, slots=True)
class Shared:
    """Rows that hold the same first `length` columns (one prompt's keys and values)."""

    rows: torch.Tensor | slice  # which rows of the step
    count: int
    source: int  # one row that holds them
    length: int


@dataclass(frozen=True, slots=True)
class Plan:
    """One decode step's attention in two passes: each group's queries against its shared
    columns (read in its `source` row), then every row against its columns from `start` to
    `width` (`mask`: additive, −inf before a row's own shared columns end and past its length;
    None when every row sees them all), merged."""

    groups: tuple[Shared, ...]
    start: int
    width: int
    mask: torch.Tensor | None

    def attend(
        self, keys: torch.Tensor, values: torch.Tensor, q: torch.Tensor, scale: float
    ) -> torch.Tensor:
        """Attention `[n, kv, G, D]` of the queries `q` `[n, kv, G, D]` (one new token per
        row, the G query heads of each key/value head) over a layer's `keys` and `values`
        buffers `[rows, kv, columns, D]`."""
        assert _FLASH is not None
        n, kv, per, dim = q.shape
        if len(self.groups) == 1 and self.groups[0].count == n:  # its rows are slice(0, n)
            shared_out, shared_lse = self._shared(keys, values, q, self.groups[0], scale)
        else:
            shared_out = q.new_empty((n, kv, per, dim))
            shared_lse = q.new_empty((n, kv, per), dtype=torch.float32)
            for group in self.groups:
                out, lse = self._shared(keys, values, q[group.rows], group, scale)
                if isinstance(group.rows, slice):
                    shared_out[group.rows], shared_lse[group.rows] = out, lse
                else:
                    shared_out.index_copy_(0, group.rows, out)
                    shared_lse.index_copy_(0, group.rows, lse)
        own_out, own_lse = _FLASH(
            q,
            keys[:n, :, self.start : self.width],
            values[:n, :, self.start : self.width],
            attn_mask=self.mask,
            scale=scale,
        )
        # exp(l_s − l) = sigmoid(l_s − l_o): the shared part's weight in the merge.
        weight = torch.sigmoid(shared_lse - own_lse).unsqueeze(-1)
        return torch.lerp(own_out.float(), shared_out.float(), weight).to(q.dtype)

    @staticmethod
    def _shared(
        keys: torch.Tensor, values: torch.Tensor, q: torch.Tensor, group: Shared, scale: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The group's queries, as the query rows of one sequence, against its shared columns."""
        assert _FLASH is not None
        count, kv, per, dim = q.shape
        rows = q.transpose(0, 1).reshape(1, kv, count * per, dim)
        source = slice(group.source, group.source + 1)
        out, lse = _FLASH(
            rows,
            keys[source, :, : group.length],
            values[source, :, : group.length],
            scale=scale,
        )
        out = out.view(kv, count, per, dim).transpose(0, 1)
        return out, lse.view(kv, count, per).transpose(0, 1)


def plan(
    prompts: Sequence[tuple[int, int]],
    lengths: Sequence[int],
    width: int,
    *,
    setting: str,
    dtype: torch.dtype,
    device: torch.device,
) -> Plan | None:
    """The plan of a decode step over rows whose `prompts` are `(prompt id, prompt columns)`
    (rows of one id hold the same keys and values in those columns) and which hold `lengths`
    columns before it (the step writes column `lengths[row]` and attends up to it), over
    `width` columns; None where one plain pass is cheaper, or `setting` is `off`."""
    n = len(prompts)
    if setting == "off" or not n or not available(device):
        return None
    members: dict[int, list[int]] = {}
    for row, (prompt, _) in enumerate(prompts):
        members.setdefault(prompt, []).append(row)
    if len(members) == n and setting != "on":
        return None  # nothing is shared
    start = min(columns for _, columns in prompts)
    groups = tuple(_group(rows, prompts[rows[0]][1], device) for rows in members.values())
    if setting != "on" and cost(groups, n, start, width) >= _MARGIN * (n * width + _CALL):
        return None
    own = [columns for _, columns in prompts]
    if all(c == start for c in own) and all(length == width - 1 for length in lengths):
        return Plan(groups, start, width, None)
    columns = torch.arange(start, width, device=device)
    firsts = torch.tensor(own, device=device)[:, None]
    lasts = torch.tensor(lengths, device=device)[:, None]
    allowed = (columns[None, :] >= firsts) & (columns[None, :] <= lasts)
    mask = torch.zeros(allowed.shape, dtype=dtype, device=device)
    mask.masked_fill_(~allowed, float("-inf"))
    return Plan(groups, start, width, mask[:, None, None, :])


def cost(groups: Sequence[Shared], n: int, start: int, width: int) -> float:
    """What the cascade's passes over `n` rows cost (see `_SHARED_READ`), one pass costing
    `n × width + _CALL`."""
    shared = sum(
        g.length * (_SHARED_READ + _SHARED_ROW * g.count)
        + _GROUP
        + (0 if isinstance(g.rows, slice) else _GATHER)
        for g in groups
    )
    return shared + _OWN * n * (width - start) + _MERGE


def _group(rows: list[int], length: int, device: torch.device) -> Shared:
    first = rows[0]
    if rows == list(range(first, first + len(rows))):
        return Shared(slice(first, first + len(rows)), len(rows), first, length)
    return Shared(torch.tensor(rows, device=device), len(rows), first, length)
