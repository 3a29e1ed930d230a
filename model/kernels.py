"""Kernels of our own for a decode step on a CPU with AVX-512 VNNI (`kernels.c`): the int8
products of the fast path's layers, attention over a float16 key/value cache, and the sampler.

**int8 products** (`matmul_q8`). torch's int8 weight-only kernel (`torch._weight_int8pack_mm`),
fbgemm's and oneDNN's int8 products all ran at 6-11 GB/s of weights on the 2-core AVX-512 CPU of
session 25 for the shipped model's one-row products (17 at the output projection), where the
machine reads 22: bound by their arithmetic, not by memory. Ours rounds the activations to int8
in blocks of 32 with a scale a block (as llama.cpp's Q8_0 does) and multiplies 64 bytes a VNNI
instruction: `python -m bench.kernels` gave 16 GB/s at one row against torch's 13 (6.5 against
8.3 ms for a step's products), and it stays ahead of oneDNN's packed float32 up to 24 rows where
torch's kernel stopped at 4. It reads float32 activations as they are, so the casts around
torch's kernel go too, and it can compute the RMSNorm before the product as it reads its input
(`norm`: one call for RMSNorm's eight small operators): in the engine a one-row step of the
shipped model went from 23.3 to 17.5 ms. The weights are `quant.Int8Weight`'s: int8 with one
scale per output row, held in the kernel's order (`order`: 16 outputs by 4 inputs a vector, so one
VNNI instruction sums for 16 outputs and no sum across a vector's lanes is left; the session-25
kernel summed 64 inputs of one output a vector and spent a conversion, a multiply-add and, per
output, a sum across lanes on every 64). Three rows by four tiles of 16 outputs share their loads
in registers: `python -m bench.kernels`, every product of a step, 1 row 6.7 ms (15.8 GB/s), 6
rows 8.6, 32 rows 15.9 and a 282-token prompt 101 ms, against oneDNN's packed float32 26.8, 31.9,
52.7 and 260: ahead at every row count, so it serves prefills too and no packed copy is made.

**Attention** (`attend`): one new token per row over a float16 cache, the query heads of a
key/value head together, scores (eight columns at a time, their keys converted to float32 once
for every query head) and sums in float32 (a vectorised exponential of our own). A `Layout` gives
each row its own length (rows of several requests, no mask) and the row its shared prompt is
read in (the takes of one request: their copies are the same), so a step's rows read a prompt
from memory once between them, where torch's attention reads every copy (`model.cascade`'s two
passes did the same, at a cost that paid only on long prompts).

**A decode step in one call** (`Stack`): every layer of the fast path's decode step — the
RMSNorm and q/k/v product, the rotary embedding, the cache's writes (float16, each row at its
own column), attention as the step's `Layout` says, the output product and residual, the RMSNorm
and gate/up product, silu(gate) * up, the down product and residual — in one call of ours, where
every product is an int8 copy ours serves. Layer by layer, a one-row step of the shipped model
ran about 200 of torch's small operators and 150 calls of ours through Python (a few
microseconds each on this CPU), some 40% of the step outside the products.

**The sampler** (`sample`): `model.sampling.sample` and the drawn token's log-probability, in one
call for the batch, where torch's operators took some thirty calls and as many passes (0.5-0.9 ms
a one-row draw, 14-17% of a profiled one-row step in session 28). Each row in one pass over its
logits, sixteen at a time: the repetition penalty on its marked tokens, the largest raw logit, and
the candidates (a min-heap of the top-k, which a score enters only when it beats the heap's
smallest: a vector comparison for sixteen); then the candidates sorted, temperature, top-k, top-p
and the Gumbel draw with the same counter-based noise (the hash of seed, step and token), and the
log-sum-exp for the log-probability. The same arithmetic as torch's: the tests draw the same token
as `model.sampling.sample` in every row of hundreds of random batches. Where torch's top-k leaves
the order of equal scores unsaid, ours ranks the lower token first.

The kernels are compiled from `kernels.c` by the system's C compiler (`CC`, default `cc`) the first
time they are needed, into the kernels folder of the cache (`$WRITERS_ROOM_CACHE/kernels`, else
`~/.cache/writers-room/kernels`), named by a hash of the source, the flags and the compiler's
version; later starts load them (a few milliseconds). They run in torch's own OpenMP thread
pool: torch loads its `libgomp.so.1` first, and the library, built with `-fopenmp`, binds to the
one of that name already loaded. Where the CPU lacks AVX-512 VNNI, no compiler is found, the
build fails or `WRITERS_ROOM_KERNELS=0` is set, `available()` is False (the reason in
`unavailable_reason`) and torch's operators serve. This module knows nothing of models: it
multiplies matrices and attends.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model.switches import cache_home, switched_on

log = logging.getLogger(__name__)

ENV_SWITCH = "WRITERS_ROOM_KERNELS"
SOURCE = Path(__file__).with_name("kernels.c")
#: The instruction sets the kernel is compiled for (and the CPU must have).
FLAGS = ("-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mfma")
_CPU_FLAGS = ("avx512f", "avx512bw", "avx512vl", "avx512_vnni", "fma")
#: The inputs the kernel reads at a time: a width it takes is a multiple of this.
STEP = 64
#: The outputs one vector of the kernel's order holds (`order`), of `GROUP` inputs each.
TILE = 16
GROUP = 4

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_checked = False
#: Why the kernel is not used, when it is not ("" before the first check, and when it is).
unavailable_reason = ""


def cpu_has_flags() -> bool:
    """Whether this CPU has the instruction sets the kernels are built for (AVX-512 VNNI)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return all(flag in flags for flag in _CPU_FLAGS)
    return False


def kernel_dir() -> Path:
    """Where built kernels are kept: `$WRITERS_ROOM_CACHE/kernels`, else the user's cache."""
    return cache_home() / "kernels"


def available() -> bool:
    """Whether the kernels run here: the CPU has AVX-512 VNNI, a C compiler built them (or had
    built them before) and the switch is on. The first call may take a second (the build)."""
    return _load() is not None


def _load() -> ctypes.CDLL | None:
    global _library, _checked, unavailable_reason
    if _checked:
        return _library
    with _lock:
        if _checked:
            return _library
        try:
            _library = _build_and_open()
            unavailable_reason = ""
        except OSError as error:  # an unwritable cache folder, a library that will not load
            _library, unavailable_reason = None, f"the kernels cannot be built or loaded: {error}"
            log.info("the kernels of our own are not used: %s", unavailable_reason)
        except _Unavailable as reason:
            _library, unavailable_reason = None, str(reason)
            log.info("the kernels of our own are not used: %s", reason)
        _checked = True
        return _library


def reset() -> None:
    """Forget the last check (tests that change the environment)."""
    global _library, _checked
    with _lock:
        _library, _checked = None, False


@contextmanager
def switched_off() -> Iterator[None]:
    """While it lasts the kernels are off (`WRITERS_ROOM_KERNELS=0`): what is built meanwhile
    uses torch's operators, as on a CPU without AVX-512 VNNI (comparisons, tests). The
    environment and the check are restored after."""
    before = os.environ.get(ENV_SWITCH)
    os.environ[ENV_SWITCH] = "0"
    reset()
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV_SWITCH]
        else:
            os.environ[ENV_SWITCH] = before
        reset()


class _Unavailable(Exception):
    pass


def _build_and_open() -> ctypes.CDLL:
    if not switched_on(ENV_SWITCH):
        raise _Unavailable(f"{ENV_SWITCH}=0")
    if not cpu_has_flags():
        raise _Unavailable("the CPU lacks AVX-512 VNNI")
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        raise _Unavailable("no C compiler (cc) found")
    command = [compiler, "-O3", *FLAGS, "-fopenmp", "-shared", "-fPIC"]
    try:
        version = subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise _Unavailable(f"the C compiler does not run ({error})") from error
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + " ".join(command).encode() + version.encode()).hexdigest()
    target = kernel_dir() / f"kernels-{key[:16]}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as folder:
            built = Path(folder) / target.name
            try:
                result = subprocess.run(
                    [*command, "-o", str(built), str(SOURCE)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
            except subprocess.SubprocessError as error:
                raise _Unavailable(f"the build did not finish ({error})") from error
            if result.returncode != 0:
                tail = (result.stderr or result.stdout).strip().splitlines()[-1:]
                raise _Unavailable(f"the build failed: {' '.join(tail)}")
            os.replace(built, target)  # whole, or not at all, under concurrent starts
    library = ctypes.CDLL(str(target))
    pointer, integer, wide, real = ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_float
    # (x, M, K, w, wscale, N, out, norm, eps) and (q, keys, values, B, H, G, T, D, row, head,
    # scale, out, columns, source, shared), as `kernels.c` declares them.
    matmul = (pointer, integer, integer, pointer, pointer, integer, pointer, pointer, real)
    _declare(library.wr_q8_matmul, *matmul)
    attention = (*[pointer] * 3, *[integer] * 5, wide, wide, real, *[pointer] * 4)
    _declare(library.wr_attend_f16, *attention)
    # (layers, count, hidden, M, E, heads, kv_heads, D, inter, eps, cos, sin, row, head, T,
    # write_at, columns, source, shared, scale, work)
    step = (pointer, integer, pointer, *[integer] * 6, real, pointer, pointer, wide, wide)
    _declare(library.wr_decode_layers, *step, integer, *[pointer] * 4, real, pointer)
    # (logits, stride, penalised, pstride, B, V, temperature, top_p, top_k, penalty, seed,
    # drawn, candidates, tokens, logprobs)
    draw = (pointer, wide, pointer, wide, integer, integer, *[pointer] * 6, integer)
    _declare(library.wr_sample, *draw, pointer, pointer)
    return library


def _declare(function: Any, *argtypes: Any) -> None:
    """A C function's argument types, and its int result (0, or -1 where it failed)."""
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int


def fits(values: torch.Tensor) -> bool:
    """Whether the kernel takes an int8 weight `[out, in]`: in the CPU's memory, `out` a multiple
    of `TILE`, `in` of `STEP`."""
    return (
        values.device.type == "cpu"
        and values.dim() == 2
        and values.shape[0] % TILE == 0
        and values.shape[1] % STEP == 0
    )


def order(values: torch.Tensor) -> torch.Tensor:
    """An int8 weight `[out, in]` (`fits`) in the order the kernel reads it: `[out / 16, in / 4,
    16, 4]`, each 64 bytes 16 outputs' next 4 inputs (one VNNI instruction's operand: the
    instruction then sums for 16 outputs at once, and no sum across a vector's lanes is left)."""
    out, width = values.shape
    return values.reshape(out // TILE, TILE, width // GROUP, GROUP).permute(0, 2, 1, 3).contiguous()


def unordered(ordered: torch.Tensor) -> torch.Tensor:
    """`order`'s inverse: the weight `[out, in]`."""
    tiles, groups = ordered.shape[:2]
    return ordered.permute(0, 2, 1, 3).reshape(tiles * TILE, groups * GROUP)


def _is_ordered(values: torch.Tensor) -> bool:
    return (
        values.dtype == torch.int8
        and values.dim() == 4
        and values.shape[2:] == (TILE, GROUP)
        and values.shape[1] * GROUP % STEP == 0
        and values.is_contiguous()
    )


def matmul_q8(
    x: torch.Tensor,
    values: torch.Tensor,
    scales: torch.Tensor,
    norm: torch.Tensor | None = None,
    eps: float = 0.0,
) -> torch.Tensor:
    """`x @ (values * scales[:, None]).T` in float32, for `x` `[..., in]` (any floating dtype,
    read as float32), `values` an int8 `[out, in]` in the kernel's order (`order`), `scales`
    float32 `[out]`, contiguous.
    With `norm` (float32 `[in]`), `rms_norm(x, norm, eps) @ ...`: the RMSNorm that precedes a
    Llama layer's q/k/v and gate/up products, computed as the kernel reads its input (one call
    instead of RMSNorm's eight small operators). The activations are rounded to int8 in blocks of
    32 inside the kernel. Only where `available()`."""
    library = _load()
    assert library is not None, "the int8 kernel is not available here"
    flat = x.reshape(-1, x.shape[-1])
    if flat.dtype != torch.float32 or not flat.is_contiguous():
        flat = flat.to(torch.float32).contiguous()
    rows, width = flat.shape
    outputs = values.shape[0] * TILE
    assert _is_ordered(values) and values.shape[1] * GROUP == width and scales.numel() == outputs
    out = torch.empty((rows, outputs), dtype=torch.float32)
    if library.wr_q8_matmul(
        flat.data_ptr(),
        rows,
        width,
        values.data_ptr(),
        scales.data_ptr(),
        outputs,
        out.data_ptr(),
        None if norm is None else norm.data_ptr(),
        eps,
    ):
        raise MemoryError("the int8 kernel could not allocate its scratch memory")
    return out.view(*x.shape[:-1], outputs)


def attends(q: torch.Tensor, keys: torch.Tensor) -> bool:
    """Whether `attend` takes these: one new token per row (`q` `[B, H, G, D]` float32 or
    float16), keys and values in float16 with their columns contiguous (a cache's views), D a
    multiple of 16 up to 256, G up to 16, on a CPU where the kernels run."""
    _, _, groups, dim = q.shape
    return (
        keys.dtype == torch.float16
        and keys.device.type == "cpu"
        and attention_fits(groups, dim)
        and keys.stride(3) == 1
        and keys.stride(2) == dim
        and available()
    )


def attention_fits(groups: int, dim: int) -> bool:
    """Whether `attend` takes a model's heads: `groups` query heads a key/value head (at most
    16), of `dim` values each (a multiple of 16, at most 256)."""
    return groups <= 16 and dim % 16 == 0 and dim <= 256


@dataclass(frozen=True, slots=True)
class Layout:
    """What each row of a decode step attends, beyond "every column": `columns` (int32 `[B]`,
    None: all) the columns row b sees, from column 0 (the rows of several requests hold
    different lengths); `source` and `shared` (int32 `[B]`, None: no sharing) row b's first
    `shared[b]` columns are read in row `source[b]`, which holds the same keys and values (the
    takes of one request share their prompt's), so rows that share a prompt read it from memory
    once between them, not once each."""

    columns: torch.Tensor | None = None
    source: torch.Tensor | None = None
    shared: torch.Tensor | None = None

    @classmethod
    def of(cls, lengths: Sequence[int] | None, prompts: Sequence[tuple[int, int]] | None) -> Layout:
        """The layout of rows holding `lengths` columns each before the step (None: the same
        number, all of them seen), continuing `prompts` (`(prompt id, its columns)`: rows of one
        id hold the same keys and values in those columns; None: every row read in itself)."""
        prompts = prompts or []
        first: dict[int, int] = {}
        source = [first.setdefault(prompt, row) for row, (prompt, _) in enumerate(prompts)]
        shares = len(first) < len(prompts)
        return cls(
            None if lengths is None else torch.tensor(lengths, dtype=torch.int32) + 1,
            torch.tensor(source, dtype=torch.int32) if shares else None,
            torch.tensor([c for _, c in prompts], dtype=torch.int32) if shares else None,
        )


def attend(
    q: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    scale: float,
    layout: Layout | None = None,
) -> torch.Tensor:
    """softmax(scale * q keys^T) values, float32 `[B, H, G, D]`, for the queries `q`
    `[B, H, G, D]` of one new token per row (the G query heads of each key/value head) over the
    columns of `keys` and `values` `[B, H, T, D]` (float16, `attends`): all of them, or as
    `layout` says (each row's own count; a prompt shared between rows read in one of them)."""
    library = _load()
    assert library is not None, "the kernels are not available here"
    assert keys.shape == values.shape and keys.stride() == values.stride()
    rows, heads, groups, dim = q.shape
    layout = layout or Layout()
    for given in (layout.columns, layout.source, layout.shared):
        assert given is None or (
            given.dtype == torch.int32 and given.shape == (rows,) and given.is_contiguous()
        )
    assert (layout.source is None) == (layout.shared is None)
    q = q.to(torch.float32).contiguous()
    out = torch.empty((rows, heads, groups, dim), dtype=torch.float32)
    if library.wr_attend_f16(
        q.data_ptr(),
        keys.data_ptr(),
        values.data_ptr(),
        rows,
        heads,
        groups,
        keys.shape[2],
        dim,
        keys.stride(0),
        keys.stride(1),
        scale,
        out.data_ptr(),
        *(
            None if given is None else given.data_ptr()
            for given in (layout.columns, layout.source, layout.shared)
        ),
    ):
        raise MemoryError("the attention kernel could not allocate its scratch memory")
    return out


#: The most candidates `sample` takes a row (the bot's top-k is 50; past the thousandth most
#: likely token the mass is negligible, and torch's top-k serves wider draws).
SAMPLE_CANDIDATES = 1024


def samples(logits: torch.Tensor, penalised: torch.Tensor, candidates: int) -> bool:
    """Whether `sample` takes this draw: logits and marks `[B, V]` in the CPU's memory (rows may
    share one row of logits: a prompt's takes), at most `SAMPLE_CANDIDATES` candidates, the
    kernels available."""
    return (
        logits.device.type == "cpu"
        and penalised.device.type == "cpu"
        and logits.dim() == penalised.dim() == 2
        and logits.shape == penalised.shape
        and logits.shape[1] >= 16
        and 1 <= candidates <= min(SAMPLE_CANDIDATES, logits.shape[1])
        and available()
    )


def sample(
    logits: torch.Tensor,
    penalised: torch.Tensor,
    settings: Sequence[torch.Tensor],
    candidates: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of every row (int64 `[B]`) and its log-probability under the raw logits
    (float32 `[B]`), as `model.sampling.sample` and `token_logprobs` compute them,
    in one call (`samples`): the repetition penalty on the `penalised` tokens (bool `[B, V]`),
    the `candidates` most likely, temperature, top-k, top-p and the counter-based Gumbel draw.
    `settings`: the rows' temperature, top-p, top-k, penalty, seed and tokens drawn so far, as
    `SamplingTable` holds them (float32, float32, int64, float32, int64, int64 `[B]`)."""
    library = _load()
    assert library is not None, "the kernels are not available here"
    rows, vocab = logits.shape
    if logits.dtype != torch.float32 or logits.stride(1) != 1:
        logits = logits.to(torch.float32).contiguous()
    if penalised.stride(1) != 1:
        penalised = penalised.contiguous()
    kinds = (torch.float32, torch.float32, torch.int64, torch.float32, torch.int64, torch.int64)
    columns = [c.to(kind).contiguous() for c, kind in zip(settings, kinds, strict=True)]
    assert penalised.dtype == torch.bool and all(c.shape == (rows,) for c in columns)
    tokens = torch.empty(rows, dtype=torch.int64)
    logprobs = torch.empty(rows, dtype=torch.float32)
    failed = library.wr_sample(
        logits.data_ptr(),
        logits.stride(0),
        penalised.data_ptr(),
        penalised.stride(0),
        rows,
        vocab,
        *(column.data_ptr() for column in columns),
        candidates,
        tokens.data_ptr(),
        logprobs.data_ptr(),
    )
    if failed == -2:
        raise ValueError(f"the sampler takes 16 tokens or more and 1 to {vocab} candidates")
    if failed:
        raise MemoryError("the sampler could not allocate its scratch memory")
    return tokens, logprobs


class _Weight(ctypes.Structure):
    _fields_ = (("values", ctypes.c_void_p), ("scales", ctypes.c_void_p), ("n", ctypes.c_int))


class _Layer(ctypes.Structure):
    _fields_ = (
        ("qkv", _Weight),
        ("o", _Weight),
        ("gate_up", _Weight),
        ("down", _Weight),
        ("ln_attn", ctypes.c_void_p),
        ("ln_mlp", ctypes.c_void_p),
        ("keys", ctypes.c_void_p),
        ("values", ctypes.c_void_p),
    )


@dataclass(frozen=True, slots=True)
class StepLayer:
    """One Llama layer as `Stack` runs it: its four int8 products as (values int8 `[out, in]` in
    the kernel's order, `order`; scales float32 `[out]`), q/k/v fused (queries, then keys, then
    values) and gate/up fused (gate, then up), and the RMSNorm weights (float32) before q/k/v
    and gate/up."""

    qkv: tuple[torch.Tensor, torch.Tensor]
    o: tuple[torch.Tensor, torch.Tensor]
    gate_up: tuple[torch.Tensor, torch.Tensor]
    down: tuple[torch.Tensor, torch.Tensor]
    ln_attn: torch.Tensor
    ln_mlp: torch.Tensor


class Stack:
    """A model's layers run as one call a decode step (`wr_decode_layers`): every product in
    our int8 kernel (the RMSNorms inside), the rotary embedding, the cache's writes, attention
    (as a `Layout` says), the residual additions and silu, with no operator of torch's between
    them. A one-row step of the shipped model ran about 200 of torch's small operators and 150
    calls of ours, some 40% of its time outside the products."""

    def __init__(
        self,
        layers: Sequence[StepLayer],
        *,
        heads: int,
        kv_heads: int,
        dim: int,
        eps: float,
    ) -> None:
        library = _load()
        assert library is not None, "the kernels are not available here"
        self._library = library
        self.layers = tuple(layers)  # holds the tensors the pointers below point into
        first = self.layers[0]
        self.width = int(first.qkv[0].shape[1]) * GROUP
        self.inter = int(first.down[0].shape[1]) * GROUP
        self.heads, self.kv_heads, self.dim, self.eps = heads, kv_heads, dim, eps
        assert first.qkv[0].shape[0] * TILE == (heads + 2 * kv_heads) * dim
        self._table = (_Layer * len(self.layers))()
        for entry, layer in zip(self._table, self.layers, strict=True):
            for name in ("qkv", "o", "gate_up", "down"):
                values, scales = getattr(layer, name)
                assert _is_ordered(values) and scales.dtype == torch.float32
                assert scales.is_contiguous() and scales.numel() == values.shape[0] * TILE
                setattr(entry, name, _Weight(values.data_ptr(), scales.data_ptr(), scales.numel()))
            for norm in (layer.ln_attn, layer.ln_mlp):
                assert norm.dtype == torch.float32 and norm.is_contiguous()
            entry.ln_attn, entry.ln_mlp = layer.ln_attn.data_ptr(), layer.ln_mlp.data_ptr()
        self._caches: tuple[int, ...] = ()

    @staticmethod
    def fits(heads: int, kv_heads: int, dim: int, width: int, inter: int) -> bool:
        """Whether a model of these sizes runs here: attention's (`attention_fits`) and widths
        our products take (multiples of 64)."""
        return (
            attention_fits(heads // kv_heads, dim)
            and heads % kv_heads == 0
            and width % STEP == 0
            and inter % STEP == 0
            and (heads * dim) % STEP == 0
        )

    def run(
        self,
        hidden: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        keys: Sequence[torch.Tensor],
        values: Sequence[torch.Tensor],
        width: int,
        layout: Layout,
        scale: float,
    ) -> torch.Tensor:
        """The hidden states `[M, E]` float32 after every layer, for one new token per row:
        `hidden` the embedded tokens (float32, contiguous; updated in place and returned),
        `cos` and `sin` `[M, D]` float32 (the fast path's `_rope`: sin's first half negated),
        `keys` and `values` each layer's float16 cache buffer `[rows, kv_heads, columns, D]`
        (every layer's of one shape), of which the step attends the first `width` columns; each
        row writes its new key and value at column `layout.columns - 1` (or `width - 1`)."""
        rows, embed = hidden.shape
        assert hidden.dtype == torch.float32 and hidden.is_contiguous() and embed == self.width
        assert cos.shape == sin.shape == (rows, self.dim) and cos.is_contiguous()
        assert sin.is_contiguous() and cos.dtype == sin.dtype == torch.float32
        first = keys[0]
        assert first.dtype == torch.float16 and first.stride(2) == self.dim
        assert first.stride(3) == 1 and first.shape[0] >= rows and first.shape[2] >= width
        pointers = tuple(t.data_ptr() for t in (*keys, *values))
        if pointers != self._caches:  # the cache grew (new buffers): point at them
            for entry, k, v in zip(self._table, keys, values, strict=True):
                assert k.stride() == first.stride() and v.stride() == first.stride()
                entry.keys, entry.values = k.data_ptr(), v.data_ptr()
            self._caches = pointers
        for given in (layout.columns, layout.source, layout.shared):
            assert given is None or (given.dtype == torch.int32 and given.shape == (rows,))
        write_at = None if layout.columns is None else layout.columns - 1
        qkv = (self.heads + 2 * self.kv_heads) * self.dim
        work = torch.empty(
            rows * (qkv + 2 * self.heads * self.dim + embed + 3 * self.inter),
            dtype=torch.float32,
        )
        failed = self._library.wr_decode_layers(
            ctypes.addressof(self._table),
            len(self.layers),
            hidden.data_ptr(),
            rows,
            embed,
            self.heads,
            self.kv_heads,
            self.dim,
            self.inter,
            self.eps,
            cos.data_ptr(),
            sin.data_ptr(),
            first.stride(0),
            first.stride(1),
            width,
            *(
                None if given is None else given.data_ptr()
                for given in (write_at, layout.columns, layout.source, layout.shared)
            ),
            scale,
            work.data_ptr(),
        )
        if failed == -2:
            raise ValueError(f"a row's new column is outside the step's {width} columns")
        if failed:
            raise MemoryError("the decode step could not allocate its scratch memory")
        return hidden
