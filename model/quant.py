"""Smaller weights for the fast path's matrix products, for decoding on a CPU: int8 weight-only
(`Int8Weight`, on a CPU with AVX-512), int8 weights and activations with SmoothQuant
(`SmoothInt8`, on an AVX2-only CPU, where the weight-only kernel was measured slow), and
half-precision weights (`HalfWeight`, fbgemm's FP16 products: the `w8a8` scheme's other products,
and every product under `fp16`).

At small batch a decode step is bound by the bytes of weights it reads. Stored as int8 with one
scale per output channel (symmetric: `w ≈ q * scale`, `q` in [-127, 127]), a weight is half its
bf16 size, and `torch._weight_int8pack_mm` multiplies bf16 (or float32) activations by it
directly. bf16 activations stay in their dtype: only the weights are rounded, which kept held-out
perplexity within 0.1% of bf16 on the shipped model (README, Performance), where the earlier
dynamic quantisation of activations too had tripled it. float32 activations are rounded to bf16
for the kernel (its vectorised path), 0.4% of float32's perplexity. Where the CPU has AVX-512
VNNI and a C compiler builds it, our own kernel (`model.kernels`) serves float32 activations
instead: it rounds them to int8 in blocks of 32 (0.65% of float32's perplexity in every product,
README, Performance, "Session 25"), and since session 27 it beats oneDNN's packed float32 at every
row count (a prompt's prefill too), so it serves every product and no float32 copy is packed.

`Int8Weight.of(weight)` quantises a weight (any LoRA adapter must already be merged into it: the
rounding then applies to the merged weight, not to the base the adapter was trained on);
`Int8Weight.rows_faster` is the most rows (tokens in one matrix product) for which the int8
kernel beat oneDNN's packed bf16 product on this project's CPU (4 for torch's kernel, every row
count for ours, `EVERY_ROW`) — past it, at prefill or in a large batch, the fast path keeps the
bf16 product (see `model.fastpath._Linear`).

Where the activations are float32, fbgemm runs and ours does not (`smooth_head_runs`), the `int8`
scheme's output projection is a `SmoothInt8` for every row instead, calibrated when the weight
cache is built: fbgemm's int8 product of it was faster than torch's kernel at every batch on an
AVX-512 CPU without native bf16 (held-out perplexity x1.0097 of float32's against x1.0041 with
`Int8Weight`). Where ours serves, it runs the output projection too (faster than fbgemm's at every
batch).

`resolve(spec, device)` turns the setting (`auto`, `int8`, `w8a8`, `fp16` or `off`) into the
scheme to run: `auto` is int8 on a CPU whose kernel is fast (`kernel_is_fast`: AVX-512), `w8a8`
on a CPU with fbgemm and float32 activations (an AVX2-only one), and off elsewhere (a GPU decodes
in bf16 under CUDA graphs); `int8`, `w8a8` and `fp16` by name run wherever their kernels exist,
fast or not.
Where no setting is given (`ModelSettings.quantize` empty, the forward built straight from a
Hugging Face model) the environment's `WRITERS_ROOM_QUANTIZE` is the setting, `auto` when
unset; the bot's `.env` key `QUANTIZE` sets `ModelSettings.quantize`.

A 4-bit block format (`torch._weight_int4pack_mm_for_cpu`, blocks of 32 with a scale and an
offset, as llama.cpp's Q4_1) was measured too: every product of a one-row step in 3.8 ms against
7.6 (int8) and 9.8 (bf16), but with the adapter merged first its rounding (a fifteenth of a
block's range) swamps the adapter's update, and held-out perplexity rose 23% (20.1 to 24.8, the
weights rounded and restored in the Hugging Face forward). torchao (0.18) loads no CPU kernels
here; its x86 weight-only paths call these same aten operators. This module knows nothing of
files, caches or models: it maps a weight to its quantised form and multiplies by it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from model import kernels

ENV_SWITCH = "WRITERS_ROOM_QUANTIZE"
SCHEMES = ("auto", "int8", "w8a8", "fp16", "off")
#: The version of the int8 format (rounding, scales, names): part of a weight cache's key.
FORMAT = 3  # 2: the output projection as `SmoothInt8` where `smooth_head_runs`; 3: the tag
# names whether our kernel serves (it changes `smooth_head_runs`)
#: The same of `SmoothInt8`'s (smoothing, which products, the calibration's use).
W8A8_FORMAT = 4  # 3: the output projection too; 4: q/k/v, o and down in half precision

_MAX_INT8 = 127


def kernel_available() -> bool:
    """Whether this torch build has the int8 weight-only CPU kernel."""
    return hasattr(torch, "_weight_int8pack_mm")


def w8a8_available() -> bool:
    """Whether this torch build has fbgemm's int8 products (`quantized.linear_dynamic`)."""
    return _fbgemm_has("linear_dynamic")


def half_available() -> bool:
    """Whether this torch build has fbgemm's half-precision weight products
    (`quantized.linear_dynamic_fp16`)."""
    return _fbgemm_has("linear_prepack_fp16")


def smooth_head_runs(dtype: torch.dtype) -> bool:
    """Whether the `int8` scheme runs the output projection as `SmoothInt8` (calibrated when the
    weight cache is built) rather than `Int8Weight`: where fbgemm runs, the activations are
    float32 (its only input) and our int8 kernel (`model.kernels`) does not serve. On the 2-core
    AVX-512 CPU of session 24, without native bf16, the shipped model's output projection took
    0.87 ms at one row against torch's int8 kernel's 1.93, 1.38 against 2.86 at four, and at 32
    rows 8.6 (blocks of 8) against oneDNN's packed float32 12.7: the fastest at every batch, so
    it serves every row and no packed copy is kept (113 MB). Ours, in its weight order (session
    27, the same kind of CPU), took 0.87 ms at one row against fbgemm's 1.43 in the same run,
    1.12 against 1.81 at six, 3.7 against 8.2 at 32 and 42 against 86 at 282 (a scoring pass),
    with a better held-out perplexity (x1.0041 of float32's in session 24, against x1.0097)."""
    return w8a8_available() and dtype == torch.float32 and not kernels.available()


def _fbgemm_has(operator: str) -> bool:
    return "fbgemm" in torch.backends.quantized.supported_engines and hasattr(
        torch.ops.quantized, operator
    )


def kernel_is_fast() -> bool:
    """Whether `auto` takes the int8 kernel on this CPU: where it has AVX-512. Its x86 code is
    vectorised for bf16 activations only (`Int8Weight` rounds float32 ones to bf16 for it). On
    an AVX2-only CPU (an AMD EPYC of the project's CI kind), fed float32 before session 23, every
    product of a one-row step of the shipped model took 87.5 ms in int8 against 21.6 ms in
    oneDNN's packed float32 (4 rows: 296 against 26), so `auto` takes `w8a8` there. Fed bf16,
    its AVX2 code is vectorised too: under `ATEN_CPU_CAPABILITY=avx2` on an AVX-512 machine
    every product of a one-row step took 14.9 ms against 18.2 packed float32 (4 rows: 28.7
    against 30.5); whether that beats `w8a8` on a real AVX2 CPU is not measured."""
    capability = torch.backends.cpu.get_cpu_capability().upper()
    return kernel_available() and capability.startswith("AVX512")


def setting_from_environment() -> str:
    """The setting `WRITERS_ROOM_QUANTIZE` gives (`auto` when unset or empty)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() or "auto"


def check(spec: str) -> str:
    """The setting `spec` in lower case, the environment's when empty
    (`setting_from_environment`); ValueError (saying what is allowed) when it is no scheme."""
    value = spec.strip().lower() or setting_from_environment()
    if value not in SCHEMES:
        raise ValueError(f"quantisation {spec!r}: use one of {', '.join(SCHEMES)}")
    return value


def resolve(spec: str, device: torch.device, dtype: torch.dtype) -> str:
    """The scheme to run for the setting `spec` (empty: the environment's) on `device` with
    activations of `dtype`: `int8`, `w8a8`, `fp16` or `off`. `int8` means weight-only int8 where
    it can run (a CPU with the kernel, float32 or bf16 activations); `w8a8` means `SmoothInt8`
    for the widest products and `HalfWeight` for the rest where they can run (a CPU with fbgemm,
    float32 activations); `fp16` means `HalfWeight` for every product (the same CPU); `auto` is
    `int8` where its kernel is fast (`kernel_is_fast`), else `w8a8` where that runs, else off;
    anywhere else off."""
    value = check(spec)
    if value == "off" or device.type != "cpu":
        return "off"
    int8_runs = kernel_available() and dtype in (torch.float32, torch.bfloat16)
    half_runs = half_available() and dtype == torch.float32
    w8a8_runs = w8a8_available() and half_runs
    if value == "auto":
        if int8_runs and kernel_is_fast():
            return "int8"
        return "w8a8" if w8a8_runs else "off"
    if value == "int8":
        return "int8" if int8_runs else "off"
    if value == "fp16":
        return "fp16" if half_runs else "off"
    return "w8a8" if w8a8_runs else "off"


def cache_tag(scheme: str) -> str:
    """How a weight cache's key names the resolved `scheme` (`off`, or the scheme and the
    version of its format). `fp16` keeps nothing beyond the plain weights (it packs them as it
    loads), so it reads the cache of `off`."""
    if scheme in ("off", "fp16"):
        return "off"
    if scheme == "int8":  # the output projection is smoothed only where ours does not serve
        return f"int8-v{FORMAT}" + ("-own-kernel" if kernels.available() else "")
    return f"{scheme}-v{W8A8_FORMAT}"


@dataclass(frozen=True, eq=False)
class HalfWeight:
    """A `[out, in]` weight in half precision for fbgemm's FP16 products: float32 activations,
    the weight read as 16-bit floats and widened in the kernel (AVX2's F16C), float32 sums.

    Half the bytes of float32, and no rounding of the activations: the relative error of a
    product is about 2e-4, against SmoothInt8's 7-bit activations. On an AVX2-only CPU (two
    threads, SmolLM2-135M's shapes, every layer's product of one row) it was as fast as
    `SmoothInt8` or faster for q/k/v (2.4 ms against 3.1), o (1.8 against 2.6) and `down` (3.4
    against 3.4, and against oneDNN's packed float32 8.5), slower for gate/up (6.0 against 5.4)
    and the output projection (3.2 against 2.2); at a prefill of 375 rows about as fast as
    oneDNN's float32 for gate/up (267 ms against 268) and 1.3× slower for `down`."""

    packed: Any = field(repr=False)

    @classmethod
    def of(cls, weight: torch.Tensor) -> HalfWeight | None:
        """`weight` packed in half precision; None when a value does not fit (past 65,504)."""
        wide = weight.detach().float().contiguous()
        low, high = torch.aminmax(wide)
        if not max(-float(low), float(high)) <= torch.finfo(torch.float16).max:
            return None  # also a NaN
        return cls(torch.ops.quantized.linear_prepack_fp16(wide, None))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ weight.T` for float32 `x` `[..., in]`."""
        flat = x.reshape(-1, x.shape[-1])
        out = torch.ops.quantized.linear_dynamic_fp16(flat, self.packed)
        return out.view(*x.shape[:-1], out.shape[-1])


@dataclass(frozen=True, slots=True)
class Int8Weight:
    """A `[out, in]` weight as int8 values and one scale per output row (in the activations'
    dtype).

    The kernel's x86 code is vectorised for bf16 activations only: with float32 ones it ran
    a scalar loop, 9× slower than a plain float32 product (an AVX-512 CPU without native bf16,
    two threads, SmolLM2-135M's q/k/v of one row: 696 µs against 78; `bench.step_profile`: a
    one-row decode step 97 ms in int8 against 43 unquantised). So float32 activations are
    rounded to bf16 for the product and its result widened again (`kernel_scales`: the scales
    in bf16): 61 µs, and held-out perplexity 0.4% above float32's (README, Performance). The
    vectorised kernel reads the inputs in blocks of 16 (`fits`)."""

    #: int8 `[out, in]`; where our kernel serves this weight (`q8_scales`), the same values in
    #: its order (`model.kernels.order`, 4-D): `rows()` gives them as `[out, in]` either way.
    values: torch.Tensor
    scales: torch.Tensor  # [out]
    kernel_scales: torch.Tensor = field(init=False, repr=False, compare=False)
    #: The float32 scales our int8 kernel (`model.kernels`) reads, where it serves this weight
    #: (float32 scales, a width it takes, a CPU it runs on); None where torch's kernel does.
    q8_scales: torch.Tensor | None = field(init=False, repr=False, compare=False)
    #: Rows up to which the int8 product beat oneDNN's packed bf16 one (torch's kernel: the
    #: shipped model's shapes, two threads, this project's CPU: 1 row 7.6 ms against 9.8 for
    #: every matrix of a step, 4 rows 9.6 against 11.2, 6 rows 16.1 against 11.4); ours
    #: (`model.kernels`) beat packed float32 at every row count (`EVERY_ROW`).
    rows_faster: int = field(init=False, repr=False, compare=False)

    @classmethod
    def of(cls, weight: torch.Tensor, dtype: torch.dtype | None = None) -> Int8Weight:
        """`weight` rounded to int8 per output row (`dtype`: the scales', default the weight's)."""
        values, scales = rounded(weight)
        return cls(values, scales.to(dtype or weight.dtype))

    def __post_init__(self) -> None:
        wide = self.scales.dtype == torch.float32
        own = wide and kernels.fits(self.values) and kernels.available()
        object.__setattr__(self, "q8_scales", self.scales.contiguous() if own else None)
        if own:  # the kernel's order replaces the rows (a weight cache's mapped ones go unread)
            object.__setattr__(self, "values", kernels.order(self.values))
        object.__setattr__(self, "rows_faster", EVERY_ROW if own else 4)
        object.__setattr__(
            self, "kernel_scales", self.scales.to(torch.bfloat16) if wide else self.scales
        )
        if not own and self.values.data_ptr() % _ALIGNMENT:
            # torch 2.13's kernel reads the weight with aligned vector loads when it takes
            # several rows of bf16: a weight cache's int8 copy, mapped from its file at an
            # offset of 24, crashed the process (a segmentation fault) at four rows. `model.kernels`
            # (every product where it serves) reads unaligned rows.
            object.__setattr__(self, "values", _aligned(self.values))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ dequantised.T` for `x` `[..., in]` in the scales' dtype: through our int8 kernel
        (`model.kernels`) where it serves (`q8_scales`), else torch's, float32 activations
        rounded to bf16 for it and the result widened back."""
        out = self.unwidened(x)
        return out.float() if x.dtype == torch.float32 else out

    def unwidened(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ dequantised.T` in the kernel's dtype (`kernel_scales`'; float32 from ours,
        `model.kernels`), for `x` `[..., in]` in any floating dtype, rounded to the kernel's for
        the product. A sum with a float32 tensor promotes the result to float32 with the same
        values as widening it first, one operator fewer (`fastpath._Linear.added_to`)."""
        if self.q8_scales is not None:
            return kernels.matmul_q8(x, self.values, self.q8_scales)  # float32, from any dtype
        # Contiguous rows: the kernel takes a row to start `in` values after the last; `to`
        # keeps a view's strides.
        flat = x.reshape(-1, x.shape[-1])
        if flat.dtype != self.kernel_scales.dtype:
            flat = flat.to(self.kernel_scales.dtype)
        out = torch._weight_int8pack_mm(flat.contiguous(), self.values, self.kernel_scales)
        return out.view(*x.shape[:-1], out.shape[-1])

    def normed(self, x: torch.Tensor, norm: torch.Tensor, eps: float) -> torch.Tensor:
        """`self(rms_norm(x, norm, eps))` in float32, the RMSNorm computed inside our int8 kernel
        (`model.kernels`): only where it serves (`q8_scales`), `norm` float32."""
        assert self.q8_scales is not None
        return kernels.matmul_q8(x, self.values, self.q8_scales, norm, eps)

    @staticmethod
    def fits(weight: torch.Tensor) -> bool:
        """Whether the kernel's vectorised code takes a `[out, in]` weight: `in` a multiple of
        16, the block it reads the inputs in, with no code for a remainder (every Llama and
        Qwen width is; 40 wide, torch 2.13 returned inf at one row and crashed at four)."""
        return weight.shape[-1] % _KERNEL_BLOCK == 0

    def dequantised(self) -> torch.Tensor:
        """The weight as the products see it, in the scales' dtype (for checks; with float32
        activations torch's kernel rounds the scales to bf16 too, ours, `model.kernels`, does
        not)."""
        return (self.rows().float() * self.scales.float()[:, None]).to(self.scales.dtype)

    def rows(self) -> torch.Tensor:
        """The int8 values as `[out, in]` (a copy where they are in our kernel's order)."""
        return kernels.unordered(self.values) if self.q8_scales is not None else self.values

    @property
    def in_features(self) -> int:
        return self.values.numel() // self.scales.numel()


#: `Int8Weight.rows_faster` where our int8 kernel (`model.kernels`) serves: it beat oneDNN's
#: packed float32 products at every row count measured, a decode step's 1 to a prompt's 282
#: (README, Performance, "Session 27"), so prefills and scoring passes run in it too.
EVERY_ROW = 1 << 30
#: The alignment, in bytes, of a tensor torch allocates on a CPU (its own allocator's).
_ALIGNMENT = 64
#: The inputs the int8 kernel's vectorised code reads at a time (`Int8Weight.fits`).
_KERNEL_BLOCK = 16


def rounded(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`weight` `[out, in]` rounded to int8 per output row: the values `[out, in]` and their
    float32 scales `[out]` (largest magnitude / 127), as `Int8Weight` and `SmoothInt8` hold them."""
    wide = weight.detach().float()
    scales = wide.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / _MAX_INT8
    values = torch.round(wide / scales[:, None]).clamp_(-_MAX_INT8, _MAX_INT8)
    return values.to(torch.int8), scales


def _aligned(tensor: torch.Tensor) -> torch.Tensor:
    """A copy of `tensor` at a new allocation (aligned to `_ALIGNMENT`), contiguous."""
    copy = torch.empty_like(tensor, memory_format=torch.contiguous_format)
    copy.copy_(tensor)
    return copy


#: How strongly `SmoothInt8` moves the activations' outliers into the weights (SmoothQuant's
#: alpha): measured on the shipped model, 0.7 kept held-out perplexity closest (README).
SMOOTHING = 0.7


@dataclass(frozen=True, eq=False)
class SmoothInt8:
    """A `[out, in]` weight for fbgemm's int8 products, which round the activations too.

    SmoothQuant: a few input channels of a transformer's activations are far larger than the
    rest, and one scale per row of activations spends the 7 bits on them. Dividing channel j of
    the activations by `smooth[j]` and multiplying column j of the weight by it leaves the
    product unchanged and evens the two out (`smooth[j] = amax[j]**a / wmax[j]**(1 - a)`, from
    the activations' maxima over a calibration text). The smoothed weight is rounded to int8 per
    output row, as `Int8Weight`; each call quantises its activations to 7 bits (fbgemm's
    `reduce_range`: its 16-bit sums of two products cannot overflow then) per block of at most
    `rows_faster` rows, so a decode step's rows are quantised about as finely as one row alone.
    """

    values: torch.Tensor  # [out, in] int8, of the smoothed weight
    scales: torch.Tensor  # [out] float32
    smooth: torch.Tensor  # [in] float32: the activations are divided by it
    packed: Any = field(default=None, repr=False)

    #: Rows up to which a product beat oneDNN's packed float32 (AVX2, two threads: a decode
    #: step of 8 rows 71.5-72.6 ms against 89.5-99.3, README); past it gate/up reads its
    #: half-precision copy, and the output projection goes on in int8 by blocks of this many.
    rows_faster = 8

    def __post_init__(self) -> None:
        if self.packed is None:
            zero = torch.zeros(self.values.shape[0], dtype=torch.long)
            weight = torch._make_per_channel_quantized_tensor(
                self.values, self.scales.double(), zero, 0
            )
            object.__setattr__(self, "packed", torch.ops.quantized.linear_prepack(weight, None))

    @classmethod
    def of(cls, weight: torch.Tensor, maxima: torch.Tensor, alpha: float = SMOOTHING) -> SmoothInt8:
        """`weight` smoothed for activations whose channels reach `maxima` (absolute), then
        rounded to int8 per output row."""
        wide = weight.detach().float()
        floor = torch.finfo(torch.float32).tiny
        columns = wide.abs().amax(dim=0).clamp(min=1e-5)
        smooth = (maxima.float().clamp(min=1e-5) ** alpha / columns ** (1 - alpha)).clamp(min=floor)
        values, scales = rounded(wide * smooth[None, :])
        return cls(values, scales, smooth)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ weight.T` for float32 `x` `[..., in]`, in int8 products."""
        flat = (x.reshape(-1, x.shape[-1]) / self.smooth).contiguous()
        blocks = [
            torch.ops.quantized.linear_dynamic(block, self.packed, True)
            for block in flat.split(self.rows_faster)
        ]
        out = blocks[0] if len(blocks) == 1 else torch.cat(blocks)
        return out.view(*x.shape[:-1], out.shape[-1])

    @property
    def in_features(self) -> int:
        return int(self.values.shape[1])

    def dequantised(self) -> torch.Tensor:
        """The weight as the products see it, the smoothing undone (for checks)."""
        return self.values.float() * self.scales[:, None] / self.smooth[None, :]
