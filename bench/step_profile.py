"""Where a decode step's time goes: the slot engine's step at small batch, under torch's profiler.

    python -m bench.step_profile                       # rows 1, 2, 3, 4, 6, 8; products as the bot
    python -m bench.step_profile --rows 1 4 --quantize off --steps 64
    python -m bench.step_profile --rows 3 6 --shared-prompts off on --language Chinese

The shipped model and adapter, loaded as the bot loads them (`for_queue`), the prompt of one of
the benches' requests (`bench.rooms`; `--kind`, `--language`: an English room's dialogue, 375
tokens, by default), its takes in the rows, then `--steps` decode steps of each row count,
timed, then as many under the profiler, a few steps of warm-up first; with each
`--shared-prompts` setting in turn (`model.cascade`: whether the rows read their shared prompt
once). Printed per row count:
milliseconds per step (timed without the profiler), and the share of a profiled step's wall time
in each part of it:

- **one call**: every layer in one call of ours (`kernels.Stack`: products, attention and the
  rest of the layers together, where it serves; the LM head and sampler are outside it);
- **products**: the matrix products of the layers and the LM head (our int8 kernel's calls,
  `kernels.matmul_q8`, int8 weight-only, fbgemm's int8 or half-precision products, oneDNN's
  packed products, or plain matmul);
- **attention**: attention itself (our kernel's calls, `kernels.attend`, or torch's; with the
  cascade: both passes and their merge);
- **sampling**: the sampler (penalties, top-k/top-p, the Gumbel draw) and the drawn tokens'
  log-probabilities;
- **other**: the rest of the step's wall time: norms, activations, rotary embedding, the key/value
  writes, the mask, reshapes, the engine's own bookkeeping, and the profiler's overhead.

Figures, not tests: nothing here passes or fails. What the figures say is in the README
(Performance).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from bench.rooms import requests
from model import kernels, slots
from model.batch import PromptGroup
from model.generator import chat_prompt_ids
from model.loading import ModelSettings, bot_adapter, load_model
from model.prompts import build_messages
from model.queue import in_passing_thread
from model.slots import SlotEngine
from model.tasks import Sampling, TaskKind

#: The operators of the matrix products, and of attention, by their profiler names.
PRODUCTS = frozenset(
    {
        "mkldnn::_linear_pointwise",
        "aten::_weight_int8pack_mm",
        "quantized::linear_dynamic",
        "quantized::linear_dynamic_fp16",
        "aten::linear",
        "aten::addmm",
        "aten::mm",
        "aten::matmul",
    }
)
ATTENTION = frozenset(
    {
        "aten::_scaled_dot_product_flash_attention_for_cpu",
        "aten::_scaled_dot_product_attention_math",
        "aten::_softmax",
        # The cascade's merge (`model.cascade.Plan.attend`): nothing else in a step runs these.
        "aten::sigmoid",
        "aten::lerp",
    }
)
#: The labels the sampler's calls and our kernels' run under (`labelled`).
SAMPLING = "step: sampling"
OUR_PRODUCTS = "step: our int8 products"
OUR_ATTENTION = "step: our attention"
ONE_CALL = "step: layers in one call"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 2, 3, 4, 6, 8])
    parser.add_argument("--steps", type=int, default=48, help="profiled decode steps per count")
    parser.add_argument("--quantize", default="", help="auto, int8 or off (default: the bot's)")
    parser.add_argument(
        "--dtype", default="auto", help="auto, float32 or bfloat16 (default: the bot's)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument(
        "--shared-prompts",
        nargs="+",
        default=["auto"],
        choices=("auto", "on", "off"),
        help="whether rows read their shared prompt once (model.cascade), each in turn",
    )
    parser.add_argument("--language", default="", help="English (default) or Chinese")
    parser.add_argument(
        "--kind", default=TaskKind.DIALOGUE.value, help="which of the six requests' prompt"
    )
    return parser.parse_args(argv)


def labelled(function: Callable[..., Any], label: str) -> Callable[..., Any]:
    """`function` run under the profiler label `label`."""

    def run(*args: Any, **kwargs: Any) -> Any:
        with record_function(label):
            return function(*args, **kwargs)

    return run


def profile_rows(engine: SlotEngine, prompt: list[int], rows: int, steps: int) -> dict[str, float]:
    """Milliseconds per step and each part's share of the profiled self time."""
    settings = tuple(Sampling(max_new_tokens=2 * steps + 16, seed=i) for i in range(rows))
    engine.add([PromptGroup(tuple(prompt), tuple(range(rows)), settings)])
    for _ in range(4):
        engine.step()
    walls = []  # timed without the profiler, whose own cost is in its figures
    for _ in range(steps):
        started = time.perf_counter()
        engine.step()
        walls.append(time.perf_counter() - started)
    profiled = []
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            started = time.perf_counter()
            engine.step()
            profiled.append(time.perf_counter() - started)
    engine.drop(range(rows))
    parts: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        if event.key in PRODUCTS:
            parts["products"] += event.self_cpu_time_total
        elif event.key in ATTENTION:
            parts["attention"] += event.self_cpu_time_total
        elif event.key == SAMPLING:
            parts["sampling"] += event.cpu_time_total
        elif event.key == OUR_PRODUCTS:
            parts["products"] += event.cpu_time_total
        elif event.key == OUR_ATTENTION:
            parts["attention"] += event.cpu_time_total
        elif event.key == ONE_CALL:
            parts["one call"] += event.cpu_time_total
    total = sum(profiled) * 1e6  # microseconds, as the profiler counts
    figures = {part: value / total for part, value in parts.items()}
    figures["other"] = max(0.0, 1.0 - sum(figures.values()))
    figures["ms"] = statistics.median(walls) * 1000
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = ModelSettings(
        adapter=bot_adapter("", ""), quantize=args.quantize, dtype=args.dtype, for_queue=True
    )
    loaded = in_passing_thread(lambda: load_model(settings))
    # The sampler and the drawn tokens' log-probabilities, under a label of their own.
    slots.draw = labelled(slots.draw, SAMPLING)
    # Our kernels' calls (ctypes: the profiler sees no operator inside them).
    kernels.matmul_q8 = labelled(kernels.matmul_q8, OUR_PRODUCTS)
    kernels.attend = labelled(kernels.attend, OUR_ATTENTION)
    kernels.Stack.run = labelled(kernels.Stack.run, ONE_CALL)  # type: ignore[method-assign]
    kind = TaskKind(args.kind)
    (request,) = [r for r in requests(args.language) if r.kind is kind]  # the benches' room
    prompt = chat_prompt_ids(loaded.tokenizer, build_messages(request))
    for shared in args.shared_prompts:
        engine = SlotEngine(loaded.model, stop_token_ids=(), shared_prompts=shared)
        print(
            f"model {loaded.name} in {str(loaded.dtype).removeprefix('torch.')}, products "
            f"{engine.fast.quantize}, {args.threads} threads, "
            f"{args.language or 'English'} {kind.value} prompt {len(prompt)} tokens, "
            f"shared prompts {shared}, {args.steps} steps per row count"
        )
        print("rows  ms/step  ms/row  one call  products  attention  sampling  other")
        for rows in args.rows:
            f = profile_rows(engine, prompt, rows, args.steps)
            print(
                f"{rows:4d}  {f['ms']:7.2f}  {f['ms'] / rows:6.2f}  {f.get('one call', 0):8.0%}"
                f"  {f.get('products', 0):8.0%}  {f.get('attention', 0):9.0%}"
                f"  {f.get('sampling', 0):8.0%}  {f.get('other', 0):5.0%}"
            )


if __name__ == "__main__":
    main()
