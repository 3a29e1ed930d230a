"""Held-out perplexity of the fast path's forward, in the runtime dtype and quantised to int8.

    python -m bench.quant_quality                      # the bot's model, 16 held-out examples
    python -m bench.quant_quality --limit-examples 0 --json

The same examples as `training.evaluate` (its `heldout` and `perplexity`), scored by
`model.fastpath.FastLlama` rather than the Hugging Face forward: first with every product in the
runtime dtype (its key/value cache too), then with the cache in float16 and in bfloat16
(`model.fastpath.resolve_kv_cache`: the bot's cache on a float32 CPU is float16), then with the
int8 weights of `model.quant` in every product (however many rows: at run time only decoding's
small products use them, so this is the worst case), with int8 everywhere but the output
projection, with the output projection in `SmoothInt8` as the int8 weight cache holds it
(`quant.smooth_head_runs`), then that with the bot's key/value cache (`ppl_as_the_bot`: every
product as the bot's decoding runs its few rows: in our int8 kernel, `model.kernels`, where it
serves, and `ppl_as_the_bot_torch_kernel` in torch's), and (float32 only) with `w8a8` (every layer's
gate/up product and the output projection in fbgemm's int8 with SmoothQuant, calibrated on
`model/calibration.jsonl` as the weight cache is, the other products in half precision) and with
`fp16` (every product in half precision). Last, what the bot's decoding itself gives: the same
answer tokens read one decode step at a time, teacher-forced through the slot engine's step
(`model.slots.decoded_logprobs`: one row, the float16 cache, our kernels and the one-call step of
every layer, `kernels.Stack`, where they serve), as the bot runs it (`ppl_decoded_as_the_bot`)
and with the step run layer by layer (`ppl_decoded_layer_by_layer`).
Figures, not tests: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Sequence
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from model import kernels, quant
from model.fastpath import FastLlama, Shape, fast_weights
from model.loading import (
    LoadedModel,
    ModelSettings,
    bot_adapter,
    calibration_rows,
    load_model,
    runtime_weights,
)
from model.slots import decoded_logprobs


class _Scored:
    """A `FastLlama` as `training.evaluate.perplexity` calls a model: the logits of the positions
    `logits_to_keep` marks."""

    def __init__(self, fast: FastLlama) -> None:
        self.fast = fast

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, logits_to_keep: torch.Tensor
    ) -> Any:
        return SimpleNamespace(logits=self.fast.logits_at(input_ids, logits_to_keep))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit-examples", type=int, default=16, help="examples (0: all)")
    parser.add_argument("--max-len", type=int, default=768, help="tokens of an example")
    parser.add_argument("--batch-size", type=int, default=8, help="rows per forward pass")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only", nargs="+", default=[], help="these variants (and the runtime dtype's) only"
    )
    args = parser.parse_args(argv)
    from training.evaluate import heldout, perplexity, recorded_split

    torch.set_num_threads(args.threads)
    adapter = bot_adapter("", "")
    held = heldout(None, args.limit_examples, 0, recorded_split(adapter))
    loaded = load_model(ModelSettings(adapter=adapter))
    figures: dict[str, Any] = {
        "model": loaded.name,
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "examples": len(held.examples),
    }
    # name: (products, key/value cache); the products' figures keep the cache in the runtime
    # dtype, so that each ratio is one change.
    variants = {
        "ppl_runtime_dtype": ("off", "model"),
        "ppl_kv_float16": ("off", "float16"),
        "ppl_kv_bfloat16": ("off", "bfloat16"),
        "ppl_int8": ("int8", "model"),
        "ppl_int8_but_head": ("int8", "model"),
        "ppl_int8_smooth_head": ("int8", "model"),
        "ppl_as_the_bot": ("int8", "auto"),
        "ppl_as_the_bot_torch_kernel": ("int8", "auto"),
        "ppl_w8a8": ("w8a8", "model"),
        "ppl_fp16": ("fp16", "model"),
    }
    if args.only:
        variants = {k: v for k, v in variants.items() if k == "ppl_runtime_dtype" or k in args.only}
    for name, (scheme, kv_cache) in variants.items():
        if scheme in ("w8a8", "fp16") and loaded.dtype != torch.float32:
            continue  # fbgemm's products take float32 activations only
        if scheme == "int8" and not quant.kernel_is_fast():
            continue  # unvectorised on this CPU: hours for every row of every example
        with kernels.switched_off() if name.endswith("_torch_kernel") else nullcontext():
            if name in ("ppl_int8_smooth_head", "ppl_as_the_bot", "ppl_as_the_bot_torch_kernel"):
                fast = _smooth_head(loaded, kv_cache)
            else:
                fast = FastLlama(loaded.model, quantize=scheme, kv_cache=kv_cache)
        if scheme == "w8a8":  # calibrated as the weight cache's build does it
            rows = calibration_rows(loaded.tokenizer)
            fast.smooth_quantize(rows, fast_weights(loaded.model))
        fast.set_int8_rows(1 << 30)
        if name == "ppl_int8_but_head":
            fast.lm_head.set_int8_rows(0)
        started = time.perf_counter()
        scored = LoadedModel(
            _Scored(fast), loaded.tokenizer, loaded.name, loaded.device, fast.dtype
        )
        with torch.inference_mode():
            figures[name] = perplexity(scored, held.examples, args.max_len, args.batch_size)
        figures[f"{name}_s"] = time.perf_counter() - started
    decoded = ("ppl_decoded_as_the_bot", "ppl_decoded_layer_by_layer")
    for name in decoded:
        if args.only and name not in args.only:
            continue
        fast = _smooth_head(loaded, "auto")
        if name.endswith("_layer_by_layer"):
            fast._stack_for = lambda rows: None  # type: ignore[method-assign]
        started = time.perf_counter()
        figures[name] = decoded_perplexity(fast, loaded.tokenizer, held.examples, args.max_len)
        figures[f"{name}_s"] = time.perf_counter() - started
    base = figures["ppl_runtime_dtype"]
    for name in (
        "kv_float16",
        "kv_bfloat16",
        "int8",
        "int8_but_head",
        "int8_smooth_head",
        "as_the_bot",
        "as_the_bot_torch_kernel",
        "w8a8",
        "fp16",
        "decoded_as_the_bot",
        "decoded_layer_by_layer",
    ):
        if f"ppl_{name}" in figures:
            figures[f"{name}_over_runtime"] = figures[f"ppl_{name}"] / base
    if args.json:
        print(
            json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()})
        )
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value:.4f}" if isinstance(value, float) else f"{key:>28}: {value}")
    return figures


def decoded_perplexity(
    fast: FastLlama, tokenizer: Any, examples: Sequence[Any], max_len: int
) -> float:
    """exp of the mean cross-entropy over the answer tokens of `examples` (encoded as
    `training.evaluate.perplexity` encodes them), each read by a decode step of its own."""
    from training.finetune import IGNORE, encode

    total, tokens = 0.0, 0
    for example in examples:
        ids, labels = encode(tokenizer, example, max_len)
        start = next(i for i, label in enumerate(labels) if label != IGNORE)
        logprobs = decoded_logprobs(fast, ids[:start], ids[start:])
        total -= sum(logprobs)
        tokens += len(logprobs)
    return math.exp(total / tokens) if tokens else math.nan


def _smooth_head(loaded: LoadedModel, kv_cache: str) -> FastLlama:
    """The int8 forward as the weight cache's build makes it (`model.loading.runtime_weights`):
    where `quant.smooth_head_runs`, the output projection in `quant.SmoothInt8`."""
    weights = runtime_weights(loaded, "int8")
    shape = Shape.of(loaded.model.config)
    return FastLlama.from_weights(weights, shape, quantize="int8", kv_cache=kv_cache)


if __name__ == "__main__":
    main()
