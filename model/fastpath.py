"""A lean forward pass for Llama-architecture causal LMs, and the key/value cache it writes into.

Hugging Face's forward spends most of a small model's decode step outside the matmuls: module
calls, mask construction, `repeat_kv` copies for grouped-query attention and a cache that grows
by concatenation. `FastLlama` runs the same math straight from the model's own weights:

- q/k/v are one matmul (their weights concatenated once), gate/up another;
- grouped-query attention runs on the key/value heads directly (the queries of one key/value
  head are viewed as extra query rows), so keys and values are never repeated;
- `KVCache` preallocates per-layer buffers `[batch, kv_heads, capacity, head_dim]`, grows them
  geometrically, and a decode step writes one column instead of copying the whole cache;
- only the last position's logits are computed;
- on CPU the matmul weights are prepacked once for oneDNN (about twice as fast at decode batch
  sizes, equal to rounding), at the cost of one extra copy of the linear weights.

`supports(model)` says whether the fast path applies: a `LlamaForCausalLM` (or a Mistral without
a sliding window, or a Qwen2 whose only extra is q/k/v biases) with default RoPE, SiLU MLP and
no other biases. Anything unusual keeps the Hugging Face path. The engine uses the fast path
whenever it applies; `WRITERS_ROOM_FASTPATH=0` in the environment turns it off (for comparison,
and as an escape hatch).

`fast_weights(model)` gives the weights in the fast path's own layout (fused, in the model's
dtype: what `model.loading` keeps in its weight cache, `LAYOUT_VERSION`), and
`FastLlama.from_weights` builds the forward from them without any Hugging Face module;
`FastModel` carries such a forward to the engine in place of the model. oneDNN's packed copies
are not part of the layout: a packed weight is an opaque tensor that torch can neither save nor
rebuild from bytes, so they are made at every start (a fraction of a second).

The code is device-agnostic and meant to run under `torch.inference_mode()`. It knows nothing of
sampling, prompts, batching policy or text: it maps token ids, positions and a padding mask to
logits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

import torch
from torch.nn import functional as F

from model import kernels, quant
from model.switches import switched_on

ENV_SWITCH = "WRITERS_ROOM_FASTPATH"
#: The environment's setting of the key/value cache's precision (`resolve_kv_cache`).
KV_CACHE_ENV = "WRITERS_ROOM_KV_CACHE"
#: What `resolve_kv_cache` accepts.
KV_CACHE_SETTINGS = ("auto", "model", "float32", "bfloat16", "float16")

#: The version of the layout `fast_weights` returns (names, fusing, what is left out): a change to
#: it changes this number, so a weight cache written in another layout is never read.
LAYOUT_VERSION = 1

_ARCHITECTURES = {
    # model_type: whether q/k/v carry biases in this architecture
    "llama": False,
    "mistral": False,
    "qwen2": True,
}


def enabled() -> bool:
    """False when the environment switches the fast path off (`WRITERS_ROOM_FASTPATH=0`)."""
    return switched_on(ENV_SWITCH)


def resolve_kv_cache(spec: str, device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The dtype the key/value cache holds for the setting `spec` (empty: the environment's
    `WRITERS_ROOM_KV_CACHE`, else `auto`) when the model computes in `dtype` on `device`:
    `model` is `dtype`; `float32`, `bfloat16` and `float16` are themselves; `auto` is float16
    where a CPU computes in float32 and `dtype` elsewhere.

    Decoding reads the whole cache at every step, once per layer: at 32 rows of 420 columns the
    shipped model's float32 cache is 820 MB, more than its weights, and attention over it took
    1.56 ms a layer on the 2-core CPU of session 24 against 1.20 in half precision (README,
    Performance). float16 rather than bfloat16: three more bits of mantissa, as llama.cpp's
    default cache has them. Its range ends at 65,504: the shipped model's keys and values
    reached 24.5 over the calibration texts; a model whose do not fit runs with `model`."""
    value = (spec or os.environ.get(KV_CACHE_ENV, "") or "auto").strip().lower()
    if value not in KV_CACHE_SETTINGS:
        raise ValueError(
            f"Unknown key/value cache setting {spec or value!r}; use one of "
            f"{', '.join(KV_CACHE_SETTINGS)}."
        )
    if value == "auto":
        return torch.float16 if device.type == "cpu" and dtype == torch.float32 else dtype
    return dtype if value == "model" else getattr(torch, value)


def supports(model: Any) -> bool:
    """Whether `FastLlama` computes exactly what `model`'s own forward does."""
    if isinstance(model, FastModel):
        return True
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if config is None or model_type not in _ARCHITECTURES:
        return False
    inner = getattr(model, "model", None)
    if inner is None or not hasattr(inner, "layers") or not hasattr(inner, "embed_tokens"):
        return False
    if getattr(config, "hidden_act", None) != "silu" or getattr(config, "mlp_bias", False):
        return False
    if getattr(config, "pretraining_tp", 1) not in (1, None):
        return False
    if getattr(config, "attention_bias", False) and not _ARCHITECTURES[model_type]:
        return False
    if getattr(config, "sliding_window", None) is not None and (
        model_type != "qwen2" or getattr(config, "use_sliding_window", False)
    ):
        return False
    if any(t != "full_attention" for t in getattr(config, "layer_types", None) or ()):
        return False
    if not _default_rope(config):
        return False
    lm_head = model.get_output_embeddings()
    if lm_head is None or getattr(lm_head, "bias", None) is not None:
        return False
    rotary = getattr(inner, "rotary_emb", None)
    if rotary is None or float(getattr(rotary, "attention_scaling", 1.0)) != 1.0:
        return False
    layer = inner.layers[0]
    attn, mlp = layer.self_attn, layer.mlp
    needed = ("q_proj", "k_proj", "v_proj", "o_proj")
    if not all(isinstance(getattr(attn, n, None), torch.nn.Linear) for n in needed):
        return False
    if getattr(attn.o_proj, "bias", None) is not None:
        return False
    if not all(isinstance(getattr(mlp, n, None), torch.nn.Linear) for n in _MLP):
        return False
    return all(getattr(mlp, n).bias is None for n in _MLP)


_MLP = ("gate_proj", "up_proj", "down_proj")


def room_for(length: int) -> int:
    """Columns to allocate for a cache of `length`: half as much again (at least 64) to grow
    into, so appends copy the cache only a logarithmic number of times."""
    return length + max(64, length // 2)


def _default_rope(config: Any) -> bool:
    params = getattr(config, "rope_parameters", None)
    if params is None:
        params = getattr(config, "rope_scaling", None)
    if params is None:
        return True
    if not isinstance(params, dict):
        return False
    rope_type = params.get("rope_type", params.get("type", "default"))
    return rope_type in (None, "default")


class Cache(Protocol):
    """What the forward pass asks of a key/value cache. One that also has `attend(layer, q,
    scale)` computes each layer's attention itself, after `write` (a decode step's cascade over
    shared prompts, `model.cascade`)."""

    def prepare(self, new: int) -> int:
        """Make room for `new` columns; return the columns attention sees (old and new)."""
        ...

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store a layer's new keys/values (in the runtime dtype: converted to the store's, the
        forward's `kv_dtype`); return that layer's keys/values to attend to."""
        ...

    def advance(self, new: int) -> None:
        """Every layer has written its `new` columns."""
        ...


class KVCache:
    """Keys and values of a batch, one preallocated buffer pair per layer.

    The first `length` columns of every buffer are valid. Appending writes into the free columns
    after them, growing the buffers geometrically when full (see `room_for`). The slot engine
    prefills each prompt into one of these and copies it into its rows (`model.slots`).
    """

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        self.keys = keys
        self.values = values
        self.length = 0

    @classmethod
    def empty(
        cls,
        *,
        layers: int,
        batch: int,
        kv_heads: int,
        head_dim: int,
        capacity: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> KVCache:
        shape = (batch, kv_heads, max(1, capacity), head_dim)
        keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        return cls(keys, values)

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def prepare(self, columns: int) -> int:
        """Make room for `columns` new columns; the length attention sees with them."""
        total = self.length + columns
        if total > self.capacity:
            for store in (self.keys, self.values):
                for i, old in enumerate(store):
                    new = old.new_zeros((old.shape[0], old.shape[1], room_for(total), old.shape[3]))
                    new[:, :, : self.length] = old[:, :, : self.length]
                    store[i] = new
        return total

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store `[B, kv_heads, S, D]` new keys/values of `layer` after the valid columns (room
        must have been prepared) and return views of that layer's whole cache including them.
        `advance` counts them once every layer has written."""
        stop = self.length + keys.shape[2]
        self.keys[layer][:, :, self.length : stop] = keys
        self.values[layer][:, :, self.length : stop] = values
        return self.keys[layer][:, :, :stop], self.values[layer][:, :, :stop]

    def advance(self, columns: int) -> None:
        self.length += columns


class _Linear:
    """`x @ weight.T (+ bias)`. On CPU the weight is prepacked once into oneDNN's blocked layout
    (what torch.compile's CPU backend does too): the same products, about twice as fast for the
    small batches of decoding. Elsewhere, or where packing is unavailable, plain `F.linear`.
    With an int8 copy (`model.quant`), products of at most `int8_rows` rows use it instead: half
    the bytes to read where a decode step is bound by them. With a half-precision copy
    (`quant.HalfWeight`, `half`), every other product reads it, and nothing is prepacked."""

    __slots__ = ("bias", "half", "int8", "int8_limit", "packed", "weight")

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        prepack: bool,
        int8: quant.Int8Weight | quant.SmoothInt8 | None = None,
        half: quant.HalfWeight | None = None,
    ) -> None:
        weight = weight.detach()
        self.bias = None if bias is None else bias.detach()
        self.half = half
        # Where our int8 kernel serves every row count, no packed copy is made (or read).
        ours = type(int8) is quant.Int8Weight and int8.rows_faster == quant.EVERY_ROW
        packs = prepack and self.half is None and not ours
        self.packed = _prepack(weight, self.bias) if packs else None
        # A packed copy replaces the plain weight (which may be a fused copy of our own).
        self.weight: torch.Tensor | None = (
            weight if self.packed is None and self.half is None else None
        )
        self.int8: quant.Int8Weight | quant.SmoothInt8 | None = None
        self.int8_limit = 0
        self.use_int8(int8)
        if ours:
            self.use_int8_for_every_row(weight)

    def use_int8(self, int8: quant.Int8Weight | quant.SmoothInt8 | None) -> None:
        """Products of up to the rows its kind is faster for (`rows_faster`) read `int8`."""
        self.int8 = int8
        self.int8_limit = 0
        if int8 is not None:
            self.set_int8_rows(int8.rows_faster)

    def set_int8_rows(self, rows: int) -> None:
        """Use the int8 copy (if any) for products of at most `rows` rows."""
        if self.int8 is not None:
            self.int8_limit = rows * self.int8.in_features

    def use_int8_for_every_row(self, weight: torch.Tensor) -> None:
        """Run every product through the int8 copy (in its blocks of rows), reading `weight`
        (this product's) in no other form: no packed or half-precision copy."""
        assert self.int8 is not None
        self.int8_limit = _EVERY_ROW
        self.packed, self.half, self.weight = None, None, weight

    def reads_weight(self) -> bool:
        """Whether a product may read the plain weight (neither packed nor copied)."""
        return self.weight is not None and self.int8_limit < _EVERY_ROW

    def use_half(self, weight: torch.Tensor) -> None:
        """Read a half-precision copy of `weight` (this product's) instead of the weight, unless
        a value does not fit in half precision."""
        if self.half is None:
            self.half = quant.HalfWeight.of(weight)
        if self.half is not None:
            self.packed = self.weight = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() <= self.int8_limit:
            assert self.int8 is not None
            out = self.int8(x)
            return out if self.bias is None else out + self.bias
        return self.product(x, self.bias)

    def normed(
        self,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        eps: float,
        norm: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """`self(norm(hidden, weight))`, where `norm` is the RMSNorm before this product: inside
        our int8 kernel (`model.kernels`: one call for RMSNorm's eight small operators) where it
        serves this product at this many rows and the weight is float32."""
        int8 = self._weight_only(hidden)
        if int8 is not None and int8.q8_scales is not None and weight.dtype == torch.float32:
            out = int8.normed(hidden, weight, eps)
            return out if self.bias is None else out + self.bias
        return self(norm(hidden, weight))

    def added_to(self, hidden: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`hidden + self(x)` (a residual connection), `x` in any floating dtype: the
        attention's output arrives in the key/value cache's (or float32 from `kernels.attend`).
        A weight-only int8 product takes it as it is: torch's kernel rounds it to bf16 itself
        (from float16 the same value as through float32) and its bf16 result is added
        unwidened, the sum promoting it to `hidden`'s dtype — the same values as
        `hidden + self(x.to(hidden.dtype))`, two operators fewer; ours (`model.kernels`) reads
        it as float32 and returns float32. Every other product reads `x` in `hidden`'s dtype."""
        int8 = self._weight_only(x)
        if int8 is not None and self.bias is None:
            return hidden + int8.unwidened(x)
        return hidden + self(x.to(hidden.dtype))

    def _weight_only(self, x: torch.Tensor) -> quant.Int8Weight | None:
        """The weight-only int8 copy when it serves a product of `x` (a calibration's observer
        or a `SmoothInt8` is no `Int8Weight`)."""
        int8 = self.int8
        if type(int8) is quant.Int8Weight and x.numel() <= self.int8_limit:
            return int8
        return None

    def ours_at(self, rows: int) -> quant.Int8Weight | None:
        """The int8 copy our kernel (`model.kernels`) runs a product of `rows` rows with, bias
        and all: None where torch's operators would."""
        int8 = self.int8
        if (
            type(int8) is quant.Int8Weight
            and int8.q8_scales is not None
            and self.bias is None
            and rows * int8.in_features <= self.int8_limit
        ):
            return int8
        return None

    def product(self, x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """`x @ weight.T (+ bias)` without any int8 copy: in half precision or the runtime
        dtype."""
        if self.half is not None:
            out = self.half(x)
            return out if bias is None else out + bias
        if self.packed is not None:
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, bias, "none", [], "")
        assert self.weight is not None
        return F.linear(x, self.weight, bias)


class _Observer:
    """Stands in for a product's int8 copy while a calibration text runs: records the
    activations' largest absolute value per input channel, computes in the runtime dtype."""

    def __init__(self, linear: _Linear) -> None:
        self.linear = linear
        self.maxima: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        seen = x.reshape(-1, x.shape[-1]).abs().amax(dim=0).float()
        self.maxima = seen if self.maxima is None else torch.maximum(self.maxima, seen)
        return self.linear.product(x)


def _can_prepack(device: torch.device, dtype: torch.dtype) -> bool:
    return (
        device.type == "cpu"
        and dtype in (torch.float32, torch.bfloat16)
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
    )


def _prepack(weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor | None:
    """oneDNN's packed copy of `weight`, or None when this build cannot pack or the packed
    product disagrees with `F.linear` on a probe (tried once per shape: the kernels, not the
    values, decide; probing all of a model's weights cost as much as packing them)."""
    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight)
    except (RuntimeError, NotImplementedError):
        return None
    kind = (tuple(weight.shape), weight.dtype, bias is not None)
    if kind not in _PACKING_AGREES:
        _PACKING_AGREES[kind] = _agrees(packed, weight, bias)
    return packed if _PACKING_AGREES[kind] else None


#: Whether packed products agree with `F.linear`, per (weight shape, dtype, with a bias).
_PACKING_AGREES: dict[tuple[tuple[int, ...], torch.dtype, bool], bool] = {}


def _agrees(packed: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> bool:
    probe = torch.linspace(-1, 1, 2 * weight.shape[1], dtype=weight.dtype).view(2, -1)
    try:
        got = torch.ops.mkldnn._linear_pointwise(probe, packed, bias, "none", [], "")
    except (RuntimeError, NotImplementedError):
        return False
    want = F.linear(probe, weight, bias)
    return torch.allclose(got.float(), want.float(), rtol=1e-2, atol=1e-2)


_LAYER_PARTS = ("ln_attn", "ln_mlp", "qkv", "o", "gate_up", "down")
#: The matrix products of a layer: with `lm_head`, what int8 quantisation applies to.
_LINEARS = ("qkv", "o", "gate_up", "down")
_INT8_PARTS = ("int8", "scales", "smooth")  # smooth: `quant.SmoothInt8` only
#: The products `FastLlama.smooth_quantize` quantises (and the output projection); under `w8a8`
#: every other product, and these past the rows their int8 copies serve, read half precision.
_SMOOTHED = ("gate_up",)


T = TypeVar("T")

#: An `int8_limit` no product reaches.
_EVERY_ROW = 1 << 62


def _half(scheme: str) -> bool:
    """Whether the products of `scheme` keep a half-precision copy (`quant.HalfWeight`)."""
    return scheme in ("w8a8", "fp16")


def _packing_pool(scheme: str) -> AbstractContextManager[Executor | None]:
    """Threads to build the layers on where `scheme` packs copies for fbgemm (which packs a
    weight on one thread: 2.5 s of the shipped model's warm start, 1.7 times faster on two), or
    None. The threads end with the block, and their OpenMP teams with them (see
    `model.queue.in_passing_thread`)."""
    if not _half(scheme):
        return nullcontext(None)
    return ThreadPoolExecutor(max(1, torch.get_num_threads()), thread_name_prefix="pack")


def _mapped(pool: Executor | None, function: Callable[[Any], Any], items: Iterable[Any]) -> Any:
    """`function` over `items`, in order: on `pool`'s threads, or here without one."""
    return map(function, items) if pool is None else pool.map(function, items)


def _later(pool: Executor | None, function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """`function(*args)`, started on `pool` now (or, without one, called when asked for)."""
    if pool is None:
        return lambda: function(*args)
    return pool.submit(function, *args).result


def _layer_weights(layer: Any) -> dict[str, torch.Tensor]:
    """One decoder layer's weights in the fast path's layout: q/k/v and gate/up concatenated
    (new tensors), the rest the layer's own (no copy)."""
    attn, mlp = layer.self_attn, layer.mlp
    projections = (attn.q_proj, attn.k_proj, attn.v_proj)
    weights = {
        "ln_attn": layer.input_layernorm.weight,
        "ln_mlp": layer.post_attention_layernorm.weight,
        "qkv": torch.cat([p.weight for p in projections]),
        "o": attn.o_proj.weight,
        "gate_up": torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]),
        "down": mlp.down_proj.weight,
    }
    if any(p.bias is not None for p in projections):
        weights["qkv_bias"] = torch.cat(
            [
                p.bias if p.bias is not None else p.weight.new_zeros(p.weight.shape[0])
                for p in projections
            ]
        )
    return {name: tensor.detach() for name, tensor in weights.items()}


def fast_weights(model: Any) -> dict[str, torch.Tensor]:
    """The weights of a supported `model` in the fast path's layout (`LAYOUT_VERSION`): `embed`,
    `norm`, `inv_freq` (float32), `lm_head` unless it is the embedding itself, and per layer
    `layers.{i}.{ln_attn,ln_mlp,qkv,qkv_bias?,o,gate_up,down}`. Unfused tensors are the model's
    own; `FastLlama.from_weights` turns the mapping back into the forward."""
    if not supports(model) or isinstance(model, FastModel):
        raise ValueError("the fast path does not support this model")
    inner = model.model
    with torch.no_grad():
        weights = {
            "embed": inner.embed_tokens.weight.detach(),
            "norm": inner.norm.weight.detach(),
            "inv_freq": inner.rotary_emb.inv_freq.detach().float(),
        }
        head = model.get_output_embeddings().weight
        if head.data_ptr() != inner.embed_tokens.weight.data_ptr():
            weights["lm_head"] = head.detach()
        for index, layer in enumerate(inner.layers[: model.config.num_hidden_layers]):
            for name, tensor in _layer_weights(layer).items():
                weights[f"layers.{index}.{name}"] = tensor
    return weights


def int8_weights(weights: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The int8 copies (`model.quant`) of the matrix products of `weights` (the layout of
    `fast_weights`, any adapter merged): `{name}.int8` and `{name}.scales` for every layer's
    `qkv`, `o`, `gate_up`, `down`, and for `lm_head` (the embedding when they are tied).
    `FastLlama.from_weights` uses them instead of quantising again."""
    names = [name for name in weights if name.rsplit(".", 1)[-1] in _LINEARS]
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for name in [*names, "lm_head"]:
            weight = weights.get(name, weights["embed"])
            out[f"{name}.int8"], scales = quant.rounded(weight)
            out[f"{name}.scales"] = scales.to(weight.dtype)
    return out


def smoothed_weights(
    weights: Mapping[str, torch.Tensor],
    shape: Shape,
    rows: Sequence[Sequence[int]],
    *,
    head_only: bool = False,
) -> dict[str, torch.Tensor]:
    """The `quant.SmoothInt8` copies `FastLlama.smooth_quantize` makes of `weights` (every
    layer's gate/up and the output projection; `head_only`: the projection alone, what the int8
    weight cache holds where `quant.smooth_head_runs`), calibrated on the token `rows` through a
    plain forward over `weights`: every product and the key/value cache in the weights' own
    dtype, so that the calibration depends on no setting the cache's key does not name."""
    plain = FastLlama.from_weights(weights, shape, prepack=False, quantize="off", kv_cache="model")
    return plain.smooth_quantize(rows, weights, head_only=head_only)


def _int8_of(
    weights: Mapping[str, torch.Tensor], name: str, weight: torch.Tensor, scheme: str
) -> quant.Int8Weight | quant.SmoothInt8 | None:
    """The int8 copy of the product `name` (`weight`) under `scheme`: read from `weights` when
    they hold it (a weight cache), else made now (int8; `w8a8` needs a calibration first, see
    `FastLlama.smooth_quantize`). Under `int8` a product whose copy in `weights` is smoothed
    (the output projection, `quant.smooth_head_runs`) gets that `quant.SmoothInt8`."""
    if scheme in ("w8a8", "int8") and f"{name}.smooth" in weights:
        return quant.SmoothInt8(*(weights[f"{name}.{part}"] for part in _INT8_PARTS))
    if scheme != "int8" or not quant.Int8Weight.fits(weight):
        return None  # a width the kernel cannot take keeps the weight's own products
    if f"{name}.int8" in weights:
        return quant.Int8Weight(weights[f"{name}.int8"], weights[f"{name}.scales"])
    return quant.Int8Weight.of(weight)


@dataclass(frozen=True, slots=True)
class Shape:
    """The sizes the forward needs beyond its weights' own shapes."""

    heads: int
    kv_heads: int
    head_dim: int
    layers: int
    eps: float

    @classmethod
    def of(cls, config: Any) -> Shape:
        heads = int(config.num_attention_heads)
        return cls(
            heads=heads,
            kv_heads=int(getattr(config, "num_key_value_heads", None) or heads),
            head_dim=int(getattr(config, "head_dim", None) or config.hidden_size // heads),
            layers=int(config.num_hidden_layers),
            eps=float(config.rms_norm_eps),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Layer:
    __slots__ = ("down", "gate_up", "ln_attn", "ln_mlp", "o", "qkv")

    def __init__(self, weights: Mapping[str, torch.Tensor], prepack: bool, scheme: str) -> None:
        self.ln_attn: torch.Tensor = weights["ln_attn"]
        self.ln_mlp: torch.Tensor = weights["ln_mlp"]

        def linear(name: str, bias: torch.Tensor | None = None) -> _Linear:
            weight = weights[name]
            int8 = _int8_of(weights, name, weight, scheme)
            half = quant.HalfWeight.of(weight) if _half(scheme) else None
            return _Linear(weight, bias, prepack, int8, half=half)

        self.qkv = linear("qkv", weights.get("qkv_bias"))
        self.o = linear("o")
        self.gate_up = linear("gate_up")
        self.down = linear("down")

    def linears(self) -> tuple[_Linear, ...]:
        return (self.qkv, self.o, self.gate_up, self.down)

    def unread(self, weights: Mapping[str, torch.Tensor]) -> list[torch.Tensor]:
        """The tensors of `weights` (this layer's, as built from) that its products do not
        read: a weight copied into oneDNN's packed layout or into half precision, or whose every
        product is int8 (our kernel's), an int8 weight packed for fbgemm or copied to an aligned
        place or into our kernel's order (`quant.Int8Weight`)."""
        unread = []
        for name, linear in zip(_LINEARS, self.linears(), strict=True):
            if not linear.reads_weight():
                unread.append(weights[name])
            unread.extend(_int8_unread(linear.int8, weights.get(f"{name}.int8")))
        return unread


def _int8_unread(
    int8: quant.Int8Weight | quant.SmoothInt8 | None, given: torch.Tensor | None
) -> list[torch.Tensor]:
    """The int8 values a product does not read: those packed for fbgemm (`SmoothInt8`), or
    `given` (read from a weight cache) where `Int8Weight` made an aligned copy of them."""
    if isinstance(int8, quant.SmoothInt8):
        return [int8.values]
    if int8 is not None and given is not None and int8.values.data_ptr() != given.data_ptr():
        return [given]
    return []


class FastLlama:
    """The forward pass of a supported model (see `supports`), on its own weights."""

    def __init__(
        self,
        model: Any,
        *,
        prepack: bool | None = None,
        quantize: str | None = None,
        kv_cache: str | None = None,
    ) -> None:
        """`prepack`: pack the matmul weights for oneDNN (default: on CPU, where available).
        `quantize`: `auto`, `int8` or `off` (`model.quant.resolve`; default: as the environment
        says, `WRITERS_ROOM_QUANTIZE`). `kv_cache`: the key/value cache's precision
        (`resolve_kv_cache`). A `FastModel` shares the forward it carries (both are then as it
        was built)."""
        if isinstance(model, FastModel):
            self.__dict__.update(model.fast.__dict__)
            return
        if not supports(model):
            raise ValueError("the fast path does not support this model")
        inner = model.model
        self._setup(
            inner.embed_tokens.weight.detach(), Shape.of(model.config), prepack, quantize, kv_cache
        )
        with torch.no_grad(), _packing_pool(self.quantize) as pool:
            head = _later(pool, self._head, {}, model.get_output_embeddings().weight.detach())

            def build(layer: Any) -> _Layer:
                return _Layer(_layer_weights(layer), self.prepack, self.quantize)

            # Layer by layer (or one a thread), so that only a layer's fused copies exist at once
            # besides the packed ones.
            self.layers = list(_mapped(pool, build, inner.layers[: self.shape.layers]))
            self.lm_head = head()
        self._settle_scheme()
        self.norm: torch.Tensor = inner.norm.weight.detach()
        self.inv_freq: torch.Tensor = inner.rotary_emb.inv_freq.detach().float().to(self.device)

    @classmethod
    def from_weights(
        cls,
        weights: Mapping[str, torch.Tensor],
        shape: Shape,
        *,
        prepack: bool | None = None,
        quantize: str | None = None,
        kv_cache: str | None = None,
        spent: Callable[[Sequence[torch.Tensor]], None] | None = None,
    ) -> FastLlama:
        """The forward over `weights` in the layout of `fast_weights` (for instance read back
        from a file), with their int8 copies (`int8_weights`) where they hold them and int8 runs;
        tensors it does not pack are used as they are, not copied. `spent` is given, layer by
        layer, the tensors of `weights` that the forward no longer reads (copied into a packed
        layout), so that a caller whose weights are a mapped file can hand their pages back."""
        fast = cls.__new__(cls)
        fast._setup(weights["embed"], shape, prepack, quantize, kv_cache)
        with torch.no_grad(), _packing_pool(fast.quantize) as pool:
            head = weights.get("lm_head", weights["embed"])
            head_linear = _later(pool, fast._head, weights, head)

            def build(index: int) -> tuple[dict[str, torch.Tensor], _Layer]:
                own = _layer_of(weights, index)
                return own, _Layer(own, fast.prepack, fast.quantize)

            fast.layers = []
            for own, layer in _mapped(pool, build, range(shape.layers)):
                fast.layers.append(layer)
                if spent is not None:
                    spent(layer.unread(own))
            fast.lm_head = head_linear()
            if spent is not None:
                if not fast.lm_head.reads_weight():
                    spent([head])  # the embedding reads a row a token; those pages come back
                spent(_int8_unread(fast.lm_head.int8, weights.get("lm_head.int8")))
        fast._settle_scheme()
        fast.norm = weights["norm"]
        fast.inv_freq = weights["inv_freq"].float().to(fast.device)
        return fast

    def _setup(
        self,
        embed: torch.Tensor,
        shape: Shape,
        prepack: bool | None,
        quantize: str | None,
        kv_cache: str | None,
    ) -> None:
        self.embed: torch.Tensor = embed
        self.dtype = embed.dtype
        self.device = embed.device
        #: What the key/value cache holds, and so what attention computes in.
        self.kv_dtype = resolve_kv_cache(kv_cache or "", self.device, self.dtype)
        self.prepack = _can_prepack(self.device, self.dtype) if prepack is None else prepack
        #: `int8`, `w8a8` or `off`: the scheme that runs (`model.quant.resolve`).
        self.quantize = quant.resolve(quantize or "", self.device, self.dtype)
        self.shape = shape
        self.eps = shape.eps
        self.heads = shape.heads
        self.kv_heads = shape.kv_heads
        self.head_dim = shape.head_dim
        self.groups = self.heads // self.kv_heads
        self.scale = self.head_dim**-0.5
        #: Our one-call decode step and the int8 copy it was built for (`_stack_for`).
        self._stack: tuple[Any, kernels.Stack | None] | None = None

    def _settle_scheme(self) -> None:
        """`w8a8` without its int8 copies (no calibration yet: a forward built straight from a
        model) runs every product in half precision, and says so."""
        if self.quantize == "w8a8" and not any(
            isinstance(linear.int8, quant.SmoothInt8)
            for layer in self.layers
            for linear in layer.linears()
        ):
            self.quantize = "fp16"

    def _head(self, weights: Mapping[str, torch.Tensor], head: torch.Tensor) -> _Linear:
        """The output projection's product (built beside the layers where they are packed on
        threads: its half-precision copy alone took 0.7 s)."""
        int8 = _int8_of(weights, "lm_head", head, self.quantize)
        if isinstance(int8, quant.SmoothInt8):
            # Every row in int8, by blocks: the output projection sees more than a step's rows
            # only in a large batch (32 rows: 4 blocks, faster than half precision) or a scoring
            # pass; a half-precision copy would cost 56 MB and 0.7 s of a warm start.
            linear = _Linear(head, None, False, int8)
            linear.use_int8_for_every_row(head)
            return linear
        half = quant.HalfWeight.of(head) if _half(self.quantize) else None
        return _Linear(head, None, self.prepack, int8, half=half)

    def smooth_quantize(
        self,
        rows: Sequence[Sequence[int]],
        weights: Mapping[str, torch.Tensor],
        *,
        head_only: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Quantise every layer's gate/up product, and the output projection, to
        `quant.SmoothInt8`, smoothed for the activations the token `rows` (a calibration text)
        produce; `weights` are this forward's own in the layout of `fast_weights`. The other
        products read half precision (`quant.HalfWeight`): as fast as int8 or faster at a
        decode step's few rows on an AVX2 CPU, and without rounding the activations. (Before,
        q/k/v and o were int8 and `down` float32: +1.7% held-out perplexity; `down` in int8 too,
        whose inputs have the widest outliers, +2.8%; README.) Returns the weight cache's tensors
        of the copies (`layers.{i}.gate_up.int8|scales|smooth`, `lm_head.…`). Needs float32
        activations.

        `head_only`: the output projection alone, every other product left as it is (the `int8`
        scheme's weight cache, `quant.smooth_head_runs`)."""
        named = {
            f"layers.{index}.{name}": linear
            for index, layer in enumerate(self.layers)
            for name, linear in zip(_LINEARS, layer.linears(), strict=True)
            if name in _SMOOTHED and not head_only
        }
        named["lm_head"] = self.lm_head
        kept = {name: (linear.int8, linear.int8_limit) for name, linear in named.items()}
        observers = {name: _Observer(linear) for name, linear in named.items()}
        try:
            for name, linear in named.items():
                linear.int8, linear.int8_limit = observers[name], _EVERY_ROW
            for row in rows:
                ids = torch.tensor([list(row)], device=self.device)
                # Every position's logits: the output projection sees as many rows as the rest.
                self.logits_at(ids, torch.ones_like(ids, dtype=torch.bool))
        finally:
            for name, linear in named.items():
                linear.int8, linear.int8_limit = kept[name]
        tensors: dict[str, torch.Tensor] = {}
        for name, linear in named.items():
            maxima = observers[name].maxima
            if maxima is None:
                raise ValueError("smooth_quantize needs at least one row of tokens")
            weight = weights.get(name, weights["embed"]) if name == "lm_head" else weights[name]
            copy = quant.SmoothInt8.of(weight, maxima)
            linear.use_int8(copy)
            parts = (copy.values, copy.scales, copy.smooth)
            tensors |= {f"{name}.{part}": t for part, t in zip(_INT8_PARTS, parts, strict=True)}
            if name == "lm_head":
                linear.use_int8_for_every_row(weight)
        if head_only:
            return tensors
        for index, layer in enumerate(self.layers):  # the rest, and gate/up past 8 rows
            for name, linear in zip(_LINEARS, layer.linears(), strict=True):
                linear.use_half(weights[f"layers.{index}.{name}"])
        self.quantize = "w8a8"
        return tensors

    def set_int8_rows(self, rows: int) -> None:
        """Use the int8 products (when quantised) up to `rows` rows; each product's default is
        its kind's `rows_faster` (`quant.Int8Weight`'s 4, `quant.SmoothInt8`'s 8). A check of
        quality sets every product's."""
        for layer in self.layers:
            for linear in layer.linears():
                linear.set_int8_rows(rows)
        self.lm_head.set_int8_rows(rows)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        return KVCache.empty(
            layers=len(self.layers),
            batch=batch,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
            capacity=capacity,
            dtype=self.kv_dtype,
            device=self.device,
        )

    def forward(
        self,
        ids: torch.Tensor,
        positions: torch.Tensor,
        cache: Cache,
        mask: torch.Tensor | None = None,
        last: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits `[B, V]` of the last of `ids` `[B, S]` (at `positions` `[B, S]`), attending to
        `cache` and to themselves; the new keys/values are appended to `cache`. `mask` `[B, T]`
        (T = cache length + S, nonzero where a column holds a real token) masks padding; None
        means no padding, or padding after each row's tokens, which causal attention never lets
        a real token see. `last` `[B]`: the position of `ids` whose logits to return, per row
        (default: the last), for rows padded at their end; `[B, K]`: K positions per row, whose
        logits `[B, K, V]` are returned (scoring a take, `model.relevance`)."""
        hidden = self._hidden(ids, positions, cache, mask)
        if last is None:
            final = hidden[:, -1]
        else:
            rows = torch.arange(ids.shape[0], device=hidden.device)
            final = hidden[rows.view(-1, *[1] * (last.dim() - 1)), last]
        return self.lm_head.normed(final, self.norm, self.eps, self._rms_norm)

    def logits_at(self, ids: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Logits `[N, V]` of the positions `keep` `[B, S]` (bool) marks, of rows `ids` `[B, S]`
        run from their start (padded at their end): what a perplexity needs (evaluation)."""
        batch, width = ids.shape
        positions = torch.arange(width, device=self.device)[None, :].expand(batch, -1)
        hidden = self._hidden(ids, positions, self.new_cache(batch, width), None)
        return self.lm_head.normed(hidden[keep], self.norm, self.eps, self._rms_norm)

    def _hidden(
        self, ids: torch.Tensor, positions: torch.Tensor, cache: Cache, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """The last layer's hidden states `[B, S, H]` (see `forward`)."""
        batch, new = ids.shape
        total = cache.prepare(new)
        attn_mask = self._mask(mask, batch, new, total)
        cos, sin = self._rope(positions)
        hidden = F.embedding(ids, self.embed)
        q_size = self.heads * self.head_dim
        kv_size = self.kv_heads * self.head_dim
        # A decode step whose rows share prompts may attend in two passes (`model.cascade`).
        attend: Callable[..., torch.Tensor] | None = getattr(cache, "attend", None)
        # A decode step may attend in our own kernel where it takes the cache (`kernels.attends`:
        # float16 on a CPU): with nothing to mask, or as the step's `layout` says (each row's
        # length, a shared prompt read once: the mask and the cascade then go unused).
        layout: kernels.Layout | None = getattr(cache, "layout", None)
        own_attention = new == 1 and (layout is not None or (attn_mask is None and attend is None))
        stack = self._stack_for(batch) if new == 1 and layout is not None else None
        if stack is not None and layout is not None:  # every layer in one call of ours
            keys, values = cache.buffers()  # type: ignore[attr-defined]
            hidden = hidden.view(batch, -1)  # the embedding's own tensor: updated in place
            stack.run(
                hidden,
                cos.view(batch, -1),
                sin.view(batch, -1),
                keys,
                values,
                total,
                layout,
                self.scale,
            )
            cache.advance(new)
            return hidden.view(batch, new, -1)
        for index, layer in enumerate(self.layers):
            qkv = layer.qkv.normed(hidden, layer.ln_attn, self.eps, self._rms_norm)
            qk = qkv[..., : q_size + kv_size].view(batch, new, self.heads + self.kv_heads, -1)
            # rotate_half(qk) * sin, as Hugging Face's rotary embedding has it, is the halves
            # swapped (one roll) times sin with its first half negated (`_rope`): 3 ops, not 7.
            qk = torch.addcmul(qk * cos, qk.roll(self.head_dim // 2, -1), sin)
            q = qk[:, :, : self.heads]
            # In the runtime dtype: the cache's store converts them to its own.
            k = qk[:, :, self.heads :].transpose(1, 2)
            v = qkv[..., q_size + kv_size :].view(batch, new, self.kv_heads, -1).transpose(1, 2)
            keys, values = cache.write(index, k, v)
            # The queries of one key/value head become extra query rows: [B, kv, groups*S, D].
            q = q.reshape(batch, new, self.kv_heads, self.groups, self.head_dim)
            q = q.permute(0, 2, 3, 1, 4).reshape(batch, self.kv_heads, self.groups * new, -1)
            if index == 0 and own_attention:  # the same layout in every layer
                own_attention = kernels.attends(q, keys)
            if own_attention:
                out = kernels.attend(q, keys, values, self.scale, layout)  # float32
            elif attend is not None:
                out = attend(index, q.to(self.kv_dtype), self.scale)
            else:
                out = F.scaled_dot_product_attention(
                    q.to(self.kv_dtype), keys, values, attn_mask=attn_mask, scale=self.scale
                )
            out = out.view(batch, self.kv_heads, self.groups, new, self.head_dim)
            out = out.permute(0, 3, 1, 2, 4).reshape(batch, new, q_size)  # kv_dtype or float32
            hidden = layer.o.added_to(hidden, out)
            gate_up = layer.gate_up.normed(hidden, layer.ln_mlp, self.eps, self._rms_norm)
            gate, up = gate_up.chunk(2, dim=-1)
            hidden = layer.down.added_to(hidden, F.silu(gate) * up)
        cache.advance(new)
        return hidden

    def _stack_for(self, rows: int) -> kernels.Stack | None:
        """Our one-call decode step (`kernels.Stack`) where it runs this model at `rows` rows:
        every product an int8 copy our kernel serves at this many rows (`_Linear.ours_at`),
        float32 activations over a float16 cache on a CPU where the kernels run. Built at the
        first step that can use it, again when the int8 copies change."""
        first = self.layers[0]
        if any(linear.ours_at(rows) is None for linear in first.linears()):
            return None  # not ours, or past the rows ours serves: torch's products
        built = self._stack
        if built is not None and built[0] is first.qkv.int8:
            return built[1]
        stack = self._build_stack()
        self._stack = (first.qkv.int8, stack)
        return stack

    def _build_stack(self) -> kernels.Stack | None:
        if not (
            self.device.type == "cpu"
            and self.dtype == torch.float32
            and self.kv_dtype == torch.float16
            and kernels.available()
        ):
            return None
        layers = []
        for layer in self.layers:
            products = []
            for linear in layer.linears():
                int8 = linear.ours_at(1)
                if int8 is None or int8.q8_scales is None:  # (ours_at: never None scales)
                    return None
                products.append((int8.values, int8.q8_scales))
            norms = (layer.ln_attn, layer.ln_mlp)
            if any(n.dtype != torch.float32 or not n.is_contiguous() for n in norms):
                return None
            qkv, o, gate_up, down = products
            layers.append(kernels.StepLayer(qkv, o, gate_up, down, *norms))
        width, inter = self.embed.shape[1], layers[0].gate_up[1].numel() // 2  # (gate, up)
        if not kernels.Stack.fits(self.heads, self.kv_heads, self.head_dim, width, inter):
            return None
        return kernels.Stack(
            layers, heads=self.heads, kv_heads=self.kv_heads, dim=self.head_dim, eps=self.eps
        )

    def _mask(
        self, mask: torch.Tensor | None, batch: int, new: int, total: int
    ) -> torch.Tensor | None:
        """Additive `[B, 1, groups*S, T]` (broadcast) mask: 0 where a query may attend, -inf
        elsewhere (made once per forward; SDPA would otherwise convert a boolean one per layer)."""
        if mask is not None and mask.shape != (batch, total):
            raise ValueError(f"mask of shape {tuple(mask.shape)}, expected {(batch, total)}")
        allowed = None if mask is None else mask.bool()[:, None, None, :]
        if new > 1:
            columns = torch.arange(total, device=self.device)
            rows = torch.arange(new, device=self.device) + (total - new)
            causal = columns[None, :] <= rows[:, None]
            allowed = causal[None, None] if allowed is None else causal & allowed
            # A padding query sees nothing else; let it see itself so it stays finite.
            allowed = allowed | (columns[None, :] == rows[:, None])
            if self.groups > 1:
                allowed = allowed.repeat(1, 1, self.groups, 1)
        if allowed is None:
            return None
        additive = torch.zeros(allowed.shape, dtype=self.kv_dtype, device=self.device)
        return additive.masked_fill_(~allowed, float("-inf"))

    def _rope(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin `[B, S, 1, D]` as Hugging Face's default rotary embedding makes them,
        the first half of sin negated (see `_hidden`)."""
        freqs = positions[..., None].float() * self.inv_freq
        cos = torch.cat((freqs, freqs), dim=-1).cos()
        sin = freqs.sin()
        sin = torch.cat((-sin, sin), dim=-1)
        return cos.to(self.dtype)[:, :, None], sin.to(self.dtype)[:, :, None]

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        if x.is_cuda or x.dtype == torch.float32:
            # One fused kernel instead of eight (a GPU's decode step is counted in launches; on
            # a CPU each is a dispatch, 22 µs against 33 for one row). In float32 it is Hugging
            # Face's arithmetic; it may round a bf16 value differently from HF's float32 round
            # trip, so a CPU in bf16 keeps the steps below.
            return F.rms_norm(x, (x.shape[-1],), weight, self.eps)
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return weight * h.to(x.dtype)


def _layer_of(weights: Mapping[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
    prefix = f"layers.{index}."
    names = (*_LAYER_PARTS, "qkv_bias", *(f"{n}.{p}" for n in _LINEARS for p in _INT8_PARTS))
    return {name: weights[prefix + name] for name in names if prefix + name in weights}


class _Output:
    """The output projection as the engine asks after it: only its shape is read."""

    __slots__ = ("weight",)

    def __init__(self, weight: torch.Tensor) -> None:
        self.weight = weight


class FastModel:
    """A model as the fast path runs it, without its Hugging Face modules: the forward, built
    from its weights (`FastLlama.from_weights`), and the few facts the queue reads of a model —
    `config` (its context length), `generation_config` (its stop tokens) and the size of its
    output projection. `supports` holds for it and `FastLlama(model)` shares its forward; the
    Hugging Face engine cannot run it, so it is made only while the fast path is on."""

    def __init__(
        self, fast: FastLlama, config: Mapping[str, Any], generation: Mapping[str, Any]
    ) -> None:
        self.fast = fast
        self.config = SimpleNamespace(**config)
        self.generation_config = SimpleNamespace(**generation)
        # An untied output projection has the embedding's shape too (one row per token).
        self._output = _Output(fast.embed)

    def get_output_embeddings(self) -> _Output:
        return self._output

    def parameters(self) -> Iterator[torch.Tensor]:
        yield self.fast.embed
