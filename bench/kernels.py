"""Our own kernels (`model.kernels`) against torch's, one operator at a time, on the shipped model's
shapes: the int8 products of a decode step and its attention over a float16 cache.

    python -m bench.kernels                     # rows 1 to 282; 450 cached columns
    python -m bench.kernels --rows 1 --columns 2000

Products: every layer's q/k/v, o, gate/up and down (30 layers, random weights of SmolLM2-135M's
shapes, each layer's own, so that they are read from memory as in a step), in milliseconds for
all of them at each row count: torch's int8 weight-only kernel (float32 activations rounded to
bf16 for it, as `quant.Int8Weight` does without ours), ours (`kernels.matmul_q8`), ours with the
RMSNorm before q/k/v and gate/up inside it, and oneDNN's packed float32 (what rows past
`Int8Weight.rows_faster` run where ours does not serve; where it does, it serves every row). And the
GB/s of int8 weights each int8 kernel reads. Attention: microseconds a layer for one new token per
row over `--columns` float16 columns (3 key/value heads of 3 query heads, 64 wide), torch's
`scaled_dot_product_attention` against `kernels.attend`. Medians of `--repeats` runs. Figures, not
tests: nothing here passes or fails.
What they said is in the README (Performance, "Session 25" and "Session 27").
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

from model import kernels, quant
from model.fastpath import _prepack

#: SmolLM2-135M's products: (output rows, input width).
SHAPES = {"qkv": (960, 576), "o": (576, 576), "gate_up": (3072, 576), "down": (576, 1536)}
LAYERS = 30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1, 3, 6, 8, 16, 24, 32, 64, 128, 282]
    )
    parser.add_argument("--columns", type=int, default=450, help="cached columns attended to")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args(argv)


def timed(function: Callable[[], object], repeats: int) -> float:
    """Milliseconds of one call of `function`, the median of `repeats` after one warm-up."""
    function()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def products(
    ours: dict[str, list[quant.Int8Weight]],
    packed: dict[str, list[torch.Tensor]],
    xs: dict[str, torch.Tensor],
    norm: torch.Tensor,
    repeats: int,
) -> tuple[float, float, float, float]:
    """Milliseconds for every layer's products at the rows of `xs`: torch's int8 kernel, ours,
    ours with the RMSNorm before q/k/v and gate/up, oneDNN's packed float32."""

    rows = {name: [weight.rows() for weight in layer] for name, layer in ours.items()}

    def torch_int8() -> None:
        for name, layer in ours.items():
            flat = xs[name].reshape(-1, xs[name].shape[-1])
            for weight, values in zip(layer, rows[name], strict=True):
                torch._weight_int8pack_mm(flat.to(torch.bfloat16), values, weight.kernel_scales)

    def own(fused: bool) -> None:
        for name, layer in ours.items():
            for weight in layer:
                if fused and name in ("qkv", "gate_up"):
                    weight.normed(xs[name], norm, 1e-5)
                else:
                    kernels.matmul_q8(xs[name], weight.values, weight.scales)

    def float32() -> None:
        for name, layer in packed.items():
            for weight in layer:
                torch.ops.mkldnn._linear_pointwise(xs[name], weight, None, "none", [], "")

    return (
        timed(torch_int8, repeats),
        timed(lambda: own(False), repeats),
        timed(lambda: own(True), repeats),
        timed(float32, repeats),
    )


def attention(rows: int, columns: int, repeats: int) -> tuple[float, float]:
    """Microseconds a layer of torch's attention and ours, `rows` rows over `columns` float16
    columns (views of longer buffers, as a cache's)."""
    heads, groups, dim, scale = 3, 3, 64, 64**-0.5
    views = []
    for _ in range(LAYERS):
        keys = torch.randn(rows, heads, columns + 64, dim).half()
        values = torch.randn(rows, heads, columns + 64, dim).half()
        views.append((keys[:, :, :columns], values[:, :, :columns]))
    q = torch.randn(rows, heads, groups, dim)

    def sdpa() -> None:
        for keys, values in views:
            F.scaled_dot_product_attention(q.half(), keys, values, scale=scale)

    def attend() -> None:
        for keys, values in views:
            kernels.attend(q, keys, values, scale)

    return timed(sdpa, repeats) * 1000 / LAYERS, timed(attend, repeats) * 1000 / LAYERS


def _packed(weight: torch.Tensor) -> torch.Tensor:
    packed = _prepack(weight, None)
    if packed is None:
        raise SystemExit("oneDNN cannot pack weights in this torch build")
    return packed


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not kernels.available():
        print(f"our kernels do not run here: {kernels.unavailable_reason}")
        return
    torch.manual_seed(0)
    weights = {
        name: [torch.randn(rows, width) * 0.02 for _ in range(LAYERS)]
        for name, (rows, width) in SHAPES.items()
    }
    ours = {name: [quant.Int8Weight.of(w) for w in ws] for name, ws in weights.items()}
    packed = {name: [_packed(w) for w in ws] for name, ws in weights.items()}
    norm = torch.rand(576) + 0.5
    int8_bytes = sum(rows * width for rows, width in SHAPES.values()) * LAYERS
    print(f"{LAYERS} layers' products, {int8_bytes / 1e6:.0f} MB of int8 weights; ms for all")
    header = ("rows", "torch int8", "ours", "+norm", "f32 packed")
    print(f"{header[0]:>5} {header[1]:>11} {header[2]:>7} {header[3]:>7} {header[4]:>11}", end="")
    print("  GB/s torch/ours")
    with torch.inference_mode():
        for rows in args.rows:
            xs = {name: torch.randn(1, rows, width) for name, (_, width) in SHAPES.items()}
            a, b, c, d = products(ours, packed, xs, norm, args.repeats)
            rate = f"{int8_bytes / a / 1e6:5.1f} / {int8_bytes / b / 1e6:5.1f}"
            print(f"{rows:>5} {a:>11.2f} {b:>7.2f} {c:>7.2f} {d:>11.2f}  {rate}")
        print(f"\nattention, {args.columns} float16 columns: µs a layer")
        print(f"{'rows':>5} {'torch sdpa':>11} {'ours':>7}")
        for rows in args.rows:
            a, b = attention(rows, args.columns, args.repeats)
            print(f"{rows:>5} {a:>11.1f} {b:>7.1f}")


if __name__ == "__main__":
    main()
