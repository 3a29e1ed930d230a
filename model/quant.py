"""Weight-only int8 quantisation of the fast path's matrix products, for decoding on a CPU.

At small batch a decode step is bound by the bytes of weights it reads. Stored as int8 with one
scale per output channel (symmetric: `w ≈ q * scale`, `q` in [-127, 127]), a weight is half its
bf16 size, and `torch._weight_int8pack_mm` multiplies bf16 (or float32) activations by it
directly. The activations stay in their dtype: only the weights are rounded, which kept held-out
perplexity within 0.1% of bf16 on the shipped model (README, Performance), where the earlier
dynamic quantisation of activations too had tripled it.

`Int8Weight.of(weight)` quantises a weight (any LoRA adapter must already be merged into it: the
rounding then applies to the merged weight, not to the base the adapter was trained on);
`Int8Weight.rows_faster` is the most rows (tokens in one matrix product) for which the int8
kernel beat oneDNN's packed bf16 product on this project's CPU — past it, at prefill or in a
large batch, the fast path keeps the bf16 product (see `model.fastpath._Linear`).

`resolve(spec, device)` turns the setting (`auto`, `int8` or `off`) into the scheme to run:
`auto` is int8 on a CPU whose kernel is fast (`kernel_is_fast`: AVX-512) and off elsewhere (a
GPU decodes in bf16 under CUDA graphs; an AVX2-only CPU in float32, oneDNN's packed products);
`int8` is int8 wherever the kernel exists, fast or not (a quarter of float32's weight memory).
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
from dataclasses import dataclass

import torch

ENV_SWITCH = "WRITERS_ROOM_QUANTIZE"
SCHEMES = ("auto", "int8", "off")
#: The version of the int8 format (rounding, scales, names): part of a weight cache's key.
FORMAT = 1

_MAX_INT8 = 127


def kernel_available() -> bool:
    """Whether this torch build has the int8 weight-only CPU kernel."""
    return hasattr(torch, "_weight_int8pack_mm")


def kernel_is_fast() -> bool:
    """Whether the int8 kernel runs vectorised on this CPU: its x86 code has an AVX-512 path
    only. On an AVX2-only CPU (an AMD EPYC of the project's CI kind) every product of a one-row
    step of the shipped model took 87.5 ms in int8 against 21.6 ms in oneDNN's packed float32
    (4 rows: 296 against 26; `bench.step_profile` times the whole step)."""
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
    activations of `dtype`: `int8` or `off`. `int8` means int8 where it can run (a CPU with the
    kernel, float32 or bf16 activations), `auto` only where it is also fast there
    (`kernel_is_fast`); anywhere else off."""
    value = check(spec)
    if value == "off":
        return "off"
    runs = device.type == "cpu" and (kernel_is_fast() if value == "auto" else kernel_available())
    return "int8" if runs and dtype in (torch.float32, torch.bfloat16) else "off"


def cache_tag(scheme: str) -> str:
    """How a weight cache's key names the resolved `scheme` (`off`, or `int8` and its format)."""
    return "off" if scheme == "off" else f"{scheme}-v{FORMAT}"


@dataclass(frozen=True, slots=True)
class Int8Weight:
    """A `[out, in]` weight as int8 values and one scale per output row (in the activations'
    dtype, as the kernel wants them)."""

    values: torch.Tensor  # [out, in] int8
    scales: torch.Tensor  # [out]

    #: Rows up to which the int8 product beat oneDNN's packed bf16 one (SmolLM2-135M's shapes,
    #: two threads, this project's CPU: 1 row 7.6 ms against 9.8 for every matrix of a step, 4
    #: rows 9.6 against 11.2, 6 rows 16.1 against 11.4).
    rows_faster = 4

    @classmethod
    def of(cls, weight: torch.Tensor, dtype: torch.dtype | None = None) -> Int8Weight:
        """`weight` rounded to int8 per output row (`dtype`: the scales', default the weight's)."""
        wide = weight.detach().float()
        scales = wide.abs().amax(dim=1).clamp(min=torch.finfo(torch.float32).tiny) / _MAX_INT8
        values = torch.round(wide / scales[:, None]).clamp_(-_MAX_INT8, _MAX_INT8)
        return cls(values.to(torch.int8), scales.to(dtype or weight.dtype))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """`x @ dequantised.T` for `x` `[..., in]` in the scales' dtype."""
        flat = x.reshape(-1, x.shape[-1])
        out = torch._weight_int8pack_mm(flat, self.values, self.scales)
        return out.view(*x.shape[:-1], out.shape[-1])

    def dequantised(self) -> torch.Tensor:
        """The weight as the products see it, in the scales' dtype (for checks)."""
        return (self.values.float() * self.scales.float()[:, None]).to(self.scales.dtype)
