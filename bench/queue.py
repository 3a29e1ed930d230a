"""Benchmark of the generation queue: concurrent rooms through the queue vs sequential calls.

    python -m bench.queue --json                 # 8 rooms x 4 takes x 128 tokens, default model
    python -m bench.queue --rooms 16 --takes 4 --tokens 64
    python -m bench.queue --compare-engines      # also: transformers' generate_batch

Sends R concurrent requests (one per room, N takes each, T new tokens per take) through the
queue, then does the same work as sequential single-sequence `model.generate` calls in the same
process, and prints tokens/s of both, their ratio, request latency p50/p95, time to first token,
one request alone, and peak memory. Every take runs to exactly T tokens (stop tokens are off), so
both paths do the same work. Figures, not tests: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from model.generator import chat_prompt_ids
from model.loading import (
    LoadedModel,
    ModelSettings,
    default_gguf_path,
    load_model,
    resolve_device,
    resolve_dtype,
)
from model.prompts import build_messages
from model.queue import GenerationQueue, QueueSettings, in_passing_thread
from model.tasks import (
    CharacterSheet,
    Progress,
    PromptContext,
    Sampling,
    TaskKind,
    TaskRequest,
)

_log = logging.getLogger(__name__)

SITUATIONS = [
    "Tom asks Mara for a ride out of town before the police arrive.",
    "Two sisters argue over who gets to keep their mother's piano.",
    "A pilot tells her co-pilot that the fuel gauge is lying.",
    "A night guard finds a child asleep in the museum.",
    "An old boxer refuses to throw his last fight.",
    "A chef discovers her rival stole her recipe book.",
    "Two astronauts disagree about opening the hatch.",
    "A teacher catches her best student cheating.",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", type=int, default=8, help="concurrent requests, one per room")
    parser.add_argument("--takes", type=int, default=4, help="takes (sequences) per request")
    parser.add_argument("--tokens", type=int, default=128, help="new tokens per take")
    parser.add_argument("--model", default="", help="HF id or local dir (default: shipped model)")
    parser.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--max-batch", type=int, default=0, help="queue batch (0: rooms x takes)")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: the queue's default)"
    )
    parser.add_argument(
        "--sequential-takes",
        type=int,
        default=0,
        help="run only this many takes on the sequential path (0: all); tokens/s is a rate",
    )
    parser.add_argument(
        "--compare-engines",
        action="store_true",
        help="also time transformers' generate_batch on the same prompts",
    )
    parser.add_argument(
        "--random-weights",
        metavar="DIR",
        default="",
        help="the config and tokenizer of the model directory DIR with random weights: the same "
        "shapes and work, for timing on a machine the weights cannot be copied to",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def prompts(loaded: LoadedModel, rooms: int) -> list[list[int]]:
    mara = CharacterSheet("MARA", personality="dry, impatient")
    tom = CharacterSheet("TOM", personality="nervous, charming")
    context = PromptContext(title="Night Shift", characters=(mara, tom))
    out = []
    for room in range(rooms):
        situation = SITUATIONS[room % len(SITUATIONS)]
        request = TaskRequest(TaskKind.DIALOGUE, situation, ("MARA", "TOM"), context)
        out.append(chat_prompt_ids(loaded.tokenizer, build_messages(request)))
    return out


def sampling(takes: int, tokens: int, seed: int) -> list[Sampling]:
    return [Sampling(max_new_tokens=tokens, seed=seed + i) for i in range(takes)]


async def run_queue(loaded: LoadedModel, ids: list[list[int]], args: argparse.Namespace) -> dict:
    max_batch = args.max_batch or args.rooms * args.takes
    settings = QueueSettings(
        max_batch=max_batch, per_user=args.rooms, timeout_s=3600, cpu_threads=args.threads
    )
    # Built as the bot builds it (`model.generator.open_generator`): off this thread, which
    # runs the sequential path afterwards.
    queue = in_passing_thread(
        lambda: GenerationQueue(loaded.model, loaded.tokenizer, settings, stop_token_ids=())
    )
    await queue.start()
    try:
        await queue.submit(ids[0], sampling(args.takes, 8, 0))  # warm-up: kernels, allocator
        started = time.perf_counter()
        single = await queue.submit(ids[0], sampling(args.takes, args.tokens, 1))
        single_s = time.perf_counter() - started
        assert all(c.tokens == args.tokens for c in single)

        first_token: dict[int, float] = {}
        latency: dict[int, float] = {}

        async def room(index: int) -> int:
            begun = time.perf_counter()
            ticket = queue.enqueue(
                ids[index], sampling(args.takes, args.tokens, 100 * index), room_id=index
            )

            def progress(update: Progress) -> None:
                if update.tokens and index not in first_token:
                    first_token[index] = time.perf_counter() - begun

            ticket.on_progress(progress)
            result = await ticket.result()
            latency[index] = time.perf_counter() - begun
            return sum(c.tokens for c in result)

        started = time.perf_counter()
        tokens = sum(await asyncio.gather(*(room(i) for i in range(args.rooms))))
        wall = time.perf_counter() - started
        metrics = queue.metrics()
    finally:
        await queue.close()
    lat = sorted(latency.values())
    return {
        "queue_tok_s": tokens / wall,
        "queue_wall_s": wall,
        "p50_s": statistics.median(lat),
        "p95_s": lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))],
        "ttft_p50_s": statistics.median(first_token.values()),
        "single_request_s": single_s,
        "mean_batch": metrics.mean_batch,
        "max_batch": metrics.max_batch,
    }


def run_sequential(loaded: LoadedModel, ids: list[list[int]], args: argparse.Namespace) -> dict:
    jobs = [(prompt, take) for prompt in ids for take in range(args.takes)]
    if args.sequential_takes:
        jobs = jobs[: args.sequential_takes]
    model = loaded.model
    tokens = 0
    started = time.perf_counter()
    for prompt, take in jobs:
        torch.manual_seed(take)
        with torch.inference_mode():
            out = model.generate(
                torch.tensor([prompt], device=loaded.device),
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                top_k=50,
                repetition_penalty=1.1,
                max_new_tokens=args.tokens,
                min_new_tokens=args.tokens,
                pad_token_id=loaded.tokenizer.pad_token_id,
            )
        tokens += out.shape[1] - len(prompt)
    wall = time.perf_counter() - started
    return {"sequential_tok_s": tokens / wall, "sequential_takes": len(jobs)}


def run_generate_batch(loaded: LoadedModel, ids: list[list[int]], args: argparse.Namespace) -> dict:
    from transformers import GenerationConfig

    inputs = [prompt for prompt in ids for _ in range(args.takes)]
    config = GenerationConfig(
        do_sample=True,
        temperature=0.8,
        top_p=0.95,
        top_k=50,
        max_new_tokens=args.tokens,
        eos_token_id=-1,
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    started = time.perf_counter()
    outputs = loaded.model.generate_batch(inputs=inputs, generation_config=config)
    wall = time.perf_counter() - started
    tokens = sum(len(o.generated_tokens) for o in outputs.values())
    return {"generate_batch_tok_s": tokens / wall}


def run_llama_cpp(ids: list[list[int]], args: argparse.Namespace) -> dict:
    """The same prompts sequentially on the same GGUF file, when llama-cpp-python is present."""
    if importlib.util.find_spec("llama_cpp") is None:
        return {}
    from llama_cpp import Llama

    llm = Llama(model_path=str(default_gguf_path()), n_ctx=2048, verbose=False)
    tokens = 0
    started = time.perf_counter()
    for prompt in ids:
        for take in range(args.takes):
            llm.reset()
            llm.set_seed(take)
            for count, _ in enumerate(
                llm.generate(prompt, temp=0.8, top_p=0.95, top_k=50, repeat_penalty=1.1), start=1
            ):
                if count >= args.tokens:
                    break
            tokens += args.tokens
    return {"llama_cpp_tok_s": tokens / (time.perf_counter() - started)}


def random_model(directory: str, settings: ModelSettings) -> LoadedModel:
    """The architecture of the model in `directory` with random weights (timing only)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(directory))
    model.to(device=device, dtype=dtype).eval()
    name = f"{Path(directory.rstrip('/')).name} (random weights)"
    return LoadedModel(model, AutoTokenizer.from_pretrained(directory), name, device, dtype)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.json else logging.INFO)
    settings = ModelSettings(model=args.model, dtype=args.dtype, device=args.device)
    if args.random_weights:
        loaded = in_passing_thread(lambda: random_model(args.random_weights, settings))
    else:
        loaded = in_passing_thread(lambda: load_model(settings))
    ids = prompts(loaded, args.rooms)
    figures: dict[str, Any] = {
        "model": loaded.name,
        "device": str(loaded.device),
        "dtype": str(loaded.dtype).removeprefix("torch."),
        "rooms": args.rooms,
        "takes": args.takes,
        "tokens": args.tokens,
        "prompt_tokens_mean": statistics.fmean(len(p) for p in ids),
    }
    figures |= asyncio.run(run_queue(loaded, ids, args))
    figures |= run_sequential(loaded, ids, args)
    figures["ratio"] = figures["queue_tok_s"] / figures["sequential_tok_s"]
    figures["threads"] = torch.get_num_threads()  # as the queue set it; the sequential path too
    # Peak memory of the queue and the sequential path; generate_batch sizes its own paged cache
    # from free memory (gigabytes), so it is measured after.
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.compare_engines:
        figures |= run_generate_batch(loaded, ids, args)
    llama = run_llama_cpp(ids, args) if not (args.model or args.random_weights) else {}
    if llama:
        figures |= llama
        figures["ratio_vs_llama_cpp"] = figures["queue_tok_s"] / llama["llama_cpp_tok_s"]
    if args.json:
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
        )
    else:
        for key, value in figures.items():
            print(f"{key:>22}: {value:.2f}" if isinstance(value, float) else f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
