"""Benchmark of the generation queue: concurrent rooms through the queue vs sequential calls.

    python -m bench.queue --json                 # 8 rooms x 4 takes x 128 tokens, default model
    python -m bench.queue --rooms 16 --takes 4 --tokens 64
    python -m bench.queue --compare-engines      # also: transformers' generate_batch
    python -m bench.queue --side-by-side --rounds 3   # ours off / ours as the bot / llama.cpp

Sends R concurrent requests (one per room, N takes each, T new tokens per take) through the
queue, then does the same work as sequential single-sequence `model.generate` calls in the same
process, and prints tokens/s of both, their ratio, request latency p50/p95, time to first token,
one request alone, one take alone (`single_stream_tok_s`: a writer alone in a room, its prompt
included), and peak memory. The queue's forward quantises as `--quantize` says (`model.quant`).
Every take runs to exactly T tokens (stop tokens are off), so
both paths do the same work. Figures, not tests: nothing here passes or fails. The model is what
the bot runs: the shipped one with its screenplay adapter merged (`--adapter none`: the base).

Where llama-cpp-python is installed (it is no dependency of the project), the same prompts and
work also run through llama.cpp on as many threads as ours (both printed): one take at a time with
the prompt evaluated once per request, one request's takes as parallel sequences of one batch, and
all requests at once (`run_llama_cpp`), on the shipped GGUF with the same adapter merged in; every
ratio to our figures is printed.

`--side-by-side` runs, per round, ours with the fast path unquantised (bf16 where the CPU has
it natively, else float32), ours quantised as the bot does (`auto`) and llama.cpp,
each in a fresh process (so each has its own peak memory, and ours loads as the bot does, from the
warm runtime weight cache: its warm start is from the spawn to the model ready), and prints them
in one table with the ratios the issue of single-stream speed set as targets.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from bench import random_weights
from model.generator import chat_prompt_ids
from model.loading import (
    LoadedModel,
    ModelSettings,
    bot_adapter,
    default_gguf_path,
    load_model,
    resolve_device,
    resolve_dtype,
)
from model.prompts import build_messages
from model.quant import ENV_SWITCH as WRITERS_ROOM_QUANTIZE
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
    parser.add_argument(
        "--adapter",
        default="",
        help="LoRA adapter dir, or 'none' (default: what the bot runs: the shipped screenplay "
        "adapter with the shipped model)",
    )
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
        "--rounds",
        type=int,
        default=1,
        help="time the queue and llama.cpp's batches this many times, alternating (medians are "
        "printed, and every round's figure): on a shared machine one round says little",
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
    parser.add_argument(
        "--quantize",
        default="",
        help="the fast path's int8 weights: auto, int8 or off (default: the environment's "
        "WRITERS_ROOM_QUANTIZE, else auto)",
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="ours unquantised, ours quantised as the bot does and llama.cpp, each in a process "
        "of its own per round (its own peak memory; ours loaded as the bot loads it, from the "
        "warm weight cache), printed side by side with the ratios of the issue's targets",
    )
    parser.add_argument("--variant", default="", help=argparse.SUPPRESS)  # a side-by-side run
    parser.add_argument("--prompts", default="", help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, default=0.0, help=argparse.SUPPRESS)
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
        alone = await queue.submit(ids[0], sampling(1, args.tokens, 7))
        stream_s = time.perf_counter() - started
        started = time.perf_counter()
        single = await queue.submit(ids[0], sampling(args.takes, args.tokens, 1))
        single_s = time.perf_counter() - started
        assert all(c.tokens == args.tokens for c in [*alone, *single])

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
        "single_stream_tok_s": args.tokens / stream_s,
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


def run_llama_cpp(
    ids: list[list[int]],
    args: argparse.Namespace,
    threads: int,
    adapter: str,
    *,
    sequential: bool = True,
) -> dict:
    """The same prompts and work through llama.cpp (when llama-cpp-python is installed), on
    `threads` threads (ours), three ways: one take at a time with the prompt evaluated once per
    request (its keys and values copied for each take), one request's takes as parallel
    sequences of one batch, and every request's takes at once — the best a CPU user could run
    instead of the queue. The model is the shipped GGUF with our `adapter` applied at run time
    (`lora_gguf`: the same function as ours, which merges it into the dequantised weights), and
    then the base GGUF alone (`llama_cpp_base_*`), llama.cpp's fastest on this model."""
    if find_spec("llama_cpp") is None:
        return {}
    import llama_cpp as ll

    figures: dict[str, Any] = {"llama_cpp_threads": threads}
    ll.llama_log_set(_SILENT, None)  # llama.cpp's load and context reports
    ll.llama_backend_init()
    model = ll.llama_model_load_from_file(
        str(default_gguf_path()).encode(), ll.llama_model_default_params()
    )
    if not model:
        raise RuntimeError("llama.cpp cannot load the shipped GGUF")
    try:
        if adapter:
            with tempfile.TemporaryDirectory(prefix="bench-llama-cpp-") as folder:
                lora = ll.llama_adapter_lora_init(
                    model, str(lora_gguf(Path(adapter), Path(folder) / "adapter.gguf")).encode()
                )
            if not lora:
                raise RuntimeError("llama.cpp cannot load the adapter")
            try:
                figures["llama_cpp_model"] = f"the shipped GGUF + {Path(adapter).name} (LoRA)"
                figures |= _time_llama_cpp(ll, model, ids, args, threads, lora, sequential)
            finally:
                ll.llama_adapter_lora_free(lora)
            base = _time_llama_cpp(ll, model, ids, args, threads, None, sequential)
            figures |= {key.replace("llama_cpp", "llama_cpp_base"): v for key, v in base.items()}
        else:
            figures["llama_cpp_model"] = "the shipped GGUF, base (as ours)"
            figures |= _time_llama_cpp(ll, model, ids, args, threads, None, sequential)
    finally:
        ll.llama_model_free(model)
    return figures


def _time_llama_cpp(
    ll: Any,
    model: Any,
    ids: list[list[int]],
    args: argparse.Namespace,
    threads: int,
    lora: Any,
    sequential: bool,
) -> dict:
    """llama.cpp's figures in the context set-up that ran fastest here for each: one request's
    takes sharing its prompt's cells (a unified cache), many requests' sequences each over cells
    of its own (llama.cpp's advice when sequences share little; 5-15% more tokens/s measured)."""
    figures = {}
    one = _LlamaCpp(ll, model, ids, args, threads, lora, unified=True)
    try:
        one.run_batched([ids[0]], takes=args.takes, tokens=8)  # warm-up: buffers, threads
        started = time.perf_counter()
        one.run_batched([ids[0]], takes=args.takes, tokens=args.tokens)
        figures["llama_cpp_single_request_s"] = time.perf_counter() - started
        started = time.perf_counter()
        one.run_one_at_a_time(ids[0], 1, args.tokens)
        figures["llama_cpp_single_stream_tok_s"] = args.tokens / (time.perf_counter() - started)
        if sequential:
            jobs = ids
            if args.sequential_takes:
                jobs = ids[: max(1, args.sequential_takes // args.takes)]
            started = time.perf_counter()
            tokens = sum(one.run_one_at_a_time(p, args.takes, args.tokens) for p in jobs)
            figures["llama_cpp_sequential_tok_s"] = tokens / (time.perf_counter() - started)
    finally:
        one.close()
    many = _LlamaCpp(ll, model, ids, args, threads, lora, unified=False)
    try:
        many.run_batched([ids[0]], takes=args.takes, tokens=8)
        started = time.perf_counter()
        tokens = many.run_batched(ids, takes=args.takes, tokens=args.tokens)
        figures["llama_cpp_batched_tok_s"] = tokens / (time.perf_counter() - started)
    finally:
        many.close()
    return figures


def _silent_log(level: int, text: bytes, data: Any) -> None:
    """llama.cpp's log lines, left unsaid: the benchmark prints figures."""


_SILENT: Any = None
if find_spec("llama_cpp") is not None:
    import llama_cpp

    _SILENT = llama_cpp.llama_log_callback(_silent_log)  # kept: llama.cpp holds the pointer


class _LlamaCpp:
    """llama.cpp's own decoding loop through its C API: a unified key/value cache, a prompt's
    tokens evaluated once for all of its sequences, one token per running sequence per batch,
    and per sequence the sampler chain of the bot's settings (repetition penalty over prompt and
    answer, top-k 50, top-p 0.95, temperature 0.8, a seeded draw)."""

    def __init__(
        self,
        ll: Any,
        model: Any,
        ids: list[list[int]],
        args: argparse.Namespace,
        threads: int,
        lora: Any = None,
        unified: bool = False,
    ) -> None:
        self.ll = ll
        self.vocab = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(model))
        sequences = len(ids) * args.takes
        params = ll.llama_context_default_params()
        self.unified = unified
        if unified:  # a prompt's cells shared by its takes' sequences
            params.n_ctx = sum(len(p) for p in ids) + sequences * (args.tokens + 8) + 64
        else:  # each sequence its own cells (and attention over them alone); prompts copied
            params.n_ctx = sequences * (max(len(p) for p in ids) + args.tokens + 64)
        params.n_batch = max(sum(len(p) for p in ids), sequences, 512)
        params.n_ubatch = 512
        params.n_seq_max = sequences
        params.kv_unified = unified
        params.n_threads = threads
        params.n_threads_batch = threads
        self.ctx = ll.llama_init_from_model(model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp cannot make a context this large")
        if lora is not None:
            adapters = (ll.llama_adapter_lora_p_ctypes * 1)(lora)
            if ll.llama_set_adapters_lora(self.ctx, adapters, 1, (ctypes.c_float * 1)(1.0)):
                raise RuntimeError("llama.cpp cannot apply the adapter")
        self.memory = ll.llama_get_memory(self.ctx)
        self.batch = ll.llama_batch_init(params.n_batch, 0, max(args.takes, 1))

    def close(self) -> None:
        self.ll.llama_batch_free(self.batch)
        self.ll.llama_free(self.ctx)

    def _sampler(self, seed: int, prompt: list[int]) -> Any:
        ll = self.ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        ll.llama_sampler_chain_add(
            chain, ll.llama_sampler_init_penalties(self.vocab, -1, 1.1, 0.0, 0.0)
        )
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_k(50))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_p(0.95, 1))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(0.8))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed))
        for token in prompt:  # the penalty counts the prompt too, as the bot's does
            ll.llama_sampler_accept(chain, token)
        return chain

    def _put(
        self, index: int, token: int, position: int, sequences: list[int], logits: bool
    ) -> None:
        batch = self.batch
        batch.token[index] = token
        batch.pos[index] = position
        batch.n_seq_id[index] = len(sequences)
        for k, sequence in enumerate(sequences):
            batch.seq_id[index][k] = sequence
        batch.logits[index] = logits

    def _decode(self, count: int) -> None:
        self.batch.n_tokens = count
        if self.ll.llama_decode(self.ctx, self.batch) != 0:
            raise RuntimeError("llama_decode failed")

    def run_batched(self, prompts: list[list[int]], *, takes: int, tokens: int) -> int:
        """Every take of every prompt at once; returns the tokens generated."""
        ll = self.ll
        ll.llama_memory_clear(self.memory, True)
        groups = [list(range(g * takes, (g + 1) * takes)) for g in range(len(prompts))]
        index = 0
        last_of: list[int] = []
        for prompt, sequences in zip(prompts, groups, strict=True):
            owners = sequences if self.unified else sequences[:1]
            for position, token in enumerate(prompt):
                self._put(index, token, position, owners, position == len(prompt) - 1)
                index += 1
            last_of.append(index - 1)
        self._decode(index)
        if not self.unified:
            for sequences in groups:
                for sequence in sequences[1:]:
                    ll.llama_memory_seq_cp(self.memory, sequences[0], sequence, -1, -1)
        samplers = [
            self._sampler(1000 * g + t, prompt)
            for g, prompt in enumerate(prompts)
            for t in range(takes)
        ]
        rows = [last_of[s // takes] for s in range(len(samplers))]
        for step in range(tokens):
            drawn = [
                ll.llama_sampler_sample(smpl, self.ctx, row)
                for smpl, row in zip(samplers, rows, strict=True)
            ]
            if step == tokens - 1:
                break
            for s, token in enumerate(drawn):
                self._put(s, token, len(prompts[s // takes]) + step, [s], True)
            self._decode(len(drawn))
            rows = list(range(len(drawn)))
        for smpl in samplers:
            ll.llama_sampler_free(smpl)
        return len(samplers) * tokens

    def run_one_at_a_time(self, prompt: list[int], takes: int, tokens: int) -> int:
        """The takes of one prompt one after another: the prompt but its last token evaluated
        once (sequence 0), copied into sequence 1 for each take, which then feeds that last
        token and decodes on alone. Returns the tokens generated."""
        ll = self.ll
        ll.llama_memory_clear(self.memory, True)
        for position, token in enumerate(prompt[:-1]):
            self._put(position, token, position, [0], False)
        self._decode(len(prompt) - 1)
        for take in range(takes):
            ll.llama_memory_seq_rm(self.memory, 1, -1, -1)
            ll.llama_memory_seq_cp(self.memory, 0, 1, -1, -1)
            sampler = self._sampler(take, prompt)
            token, position = prompt[-1], len(prompt) - 1
            for _ in range(tokens):
                self._put(0, token, position, [1], True)
                self._decode(1)
                token = ll.llama_sampler_sample(sampler, self.ctx, 0)
                position += 1
            ll.llama_sampler_free(sampler)
        return takes * tokens


#: The Hugging Face names of the projections a LoRA adapter changes, and their GGUF names.
_GGUF_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def lora_gguf(adapter: Path, target: Path) -> Path:
    """The PEFT LoRA `adapter` of the shipped model as a llama.cpp LoRA adapter (GGUF), written
    to `target` — what llama.cpp's convert_lora_to_gguf.py makes (not installed here). llama.cpp
    keeps q and k with their rows permuted for its rotary layout, so their B matrices are
    permuted the same way. (Merging the adapter into the GGUF's weights instead loses it: its
    update is about 0.5% of a weight, well under Q4_1's rounding.)"""
    from gguf import GGUFReader, GGUFWriter, Keys
    from safetensors.torch import load_file

    config = json.loads((adapter / "adapter_config.json").read_text())
    if config.get("use_rslora") or config.get("use_dora") or config.get("fan_in_fan_out"):
        raise ValueError("only plain LoRA adapters are converted here")
    fields = GGUFReader(str(default_gguf_path())).fields
    arch = str(fields[Keys.General.ARCHITECTURE].contents())
    heads = int(fields[f"{arch}.attention.head_count"].contents())
    kv_heads = int(fields[f"{arch}.attention.head_count_kv"].contents())
    writer = GGUFWriter(str(target), arch)
    writer.add_type("adapter")
    writer.add_string(Keys.Adapter.TYPE, "lora")
    writer.add_float32(Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    pattern = re.compile(r".*layers\.(\d+)\.(\w+\.\w+)\.lora_A\.weight")
    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    for name in sorted(tensors):
        match = pattern.fullmatch(name)
        if match is None:
            continue
        layer, module = int(match.group(1)), match.group(2)
        a = tensors[name].float().numpy()  # [r, in]
        b = tensors[name.replace("lora_A", "lora_B")].float().numpy()  # [out, r]
        if module == "self_attn.q_proj":
            b = _rope_permute(b, heads)
        elif module == "self_attn.k_proj":
            b = _rope_permute(b, kv_heads)
        gguf_name = f"blk.{layer}.{_GGUF_NAMES[module]}.weight"
        writer.add_tensor(f"{gguf_name}.lora_a", a)
        writer.add_tensor(f"{gguf_name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def _rope_permute(weights: Any, heads: int) -> Any:
    """The rows of a q or k projection as llama.cpp's conversion orders them."""
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


#: The figures whose every round is printed with `--rounds`.
_ROUND_FIGURES = (
    "single_stream_tok_s",
    "llama_cpp_single_stream_tok_s",
    "queue_tok_s",
    "single_request_s",
    "llama_cpp_batched_tok_s",
    "llama_cpp_single_request_s",
    "llama_cpp_base_batched_tok_s",
    "llama_cpp_base_single_request_s",
)


def _medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure of the rounds: the median of numbers, the first round's anything else."""
    merged: dict[str, Any] = {}
    for key, value in rounds[0].items():
        values = [r[key] for r in rounds if key in r]
        numeric = isinstance(value, float)
        merged[key] = statistics.median(values) if numeric else value
    return merged


def _ratios(figures: dict[str, Any], side: str) -> dict[str, float]:
    """Ours against llama.cpp's `side`: above 1, ours is faster."""
    return {
        f"queue_over_{side}_batched": figures["queue_tok_s"] / figures[f"{side}_batched_tok_s"],
        f"queue_over_{side}_sequential": (
            figures["queue_tok_s"] / figures[f"{side}_sequential_tok_s"]
        ),
        f"single_request_{side}_over_ours": (
            figures[f"{side}_single_request_s"] / figures["single_request_s"]
        ),
        f"sequential_ours_over_{side}": (
            figures["sequential_tok_s"] / figures[f"{side}_sequential_tok_s"]
        ),
        f"single_stream_ours_over_{side}": (
            figures["single_stream_tok_s"] / figures[f"{side}_single_stream_tok_s"]
        ),
    }


def random_model(directory: str, settings: ModelSettings) -> LoadedModel:
    """The architecture of the model in `directory` with random weights (timing only); a config
    directory without a tokenizer borrows the default model's (`bench.random_weights`)."""
    from transformers import AutoTokenizer

    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    model = random_weights.random_model(directory, device, dtype)
    name = f"{Path(directory.rstrip('/')).name} (random weights)"
    tokenizer = AutoTokenizer.from_pretrained(random_weights.tokenizer_directory(directory))
    return LoadedModel(model, tokenizer, name, device, dtype)


def run_variant(args: argparse.Namespace) -> dict[str, Any]:
    """One process of a side-by-side run: ours as the bot loads it (`for_queue`, the quantisation
    of `--quantize`), or llama.cpp, on the prompts the parent wrote; with its peak memory and,
    for ours, its warm start (from the parent's spawn to the model ready)."""
    ids = json.loads(Path(args.prompts).read_text())
    adapter = bot_adapter(args.model, args.adapter)
    figures: dict[str, Any] = {}
    if args.variant == "llama.cpp":
        figures |= run_llama_cpp(ids, args, args.threads, adapter, sequential=False)
        figures = {k: v for k, v in figures.items() if not k.startswith("llama_cpp_base")}
    else:
        settings = ModelSettings(
            model=args.model,
            adapter=adapter,
            quantize=args.quantize,
            dtype=args.dtype,
            for_queue=True,
        )
        loaded = in_passing_thread(lambda: load_model(settings))
        figures["warm_start_s"] = time.time() - args.spawned
        figures["quantize"] = loaded.model.fast.quantize
        figures["dtype"] = str(loaded.dtype).removeprefix("torch.")
        figures |= asyncio.run(run_queue(loaded, ids, args))
    figures["peak_rss_mb"] = _peak_rss_mb()
    return figures


def _peak_rss_mb() -> float:
    """This process's peak resident memory since its program began: the kernel's VmHWM (Linux
    keeps `ru_maxrss` across exec, so a process spawned by a large one would report that one's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: (label, `--quantize`): "off" runs every product in the runtime dtype (bf16 on a CPU with
#: native bf16, float32 elsewhere), "auto" as the bot does (int8 on an AVX-512 CPU, w8a8 on an
#: AVX2-only one); what ran is printed under the table.
_SIDES = (("off", "off"), ("auto", "auto"), ("llama.cpp", ""))
#: What the side-by-side table shows: (label, ours' figure, llama.cpp's figure).
_TABLE = (
    ("single stream, tokens/s", "single_stream_tok_s", "llama_cpp_single_stream_tok_s"),
    ("one request (its takes at once), s", "single_request_s", "llama_cpp_single_request_s"),
    ("all rooms at once, tokens/s", "queue_tok_s", "llama_cpp_batched_tok_s"),
    ("warm start (spawn to model ready), s", "warm_start_s", ""),
    ("peak memory, MB", "peak_rss_mb", "peak_rss_mb"),
)


def side_by_side(args: argparse.Namespace) -> dict[str, Any]:
    """`--side-by-side`: every round runs ours unquantised, ours in int8 and llama.cpp one after
    another, each in a fresh process; the medians of the rounds and their ratios."""
    adapter = bot_adapter(args.model, args.adapter)
    threads = args.threads or os.cpu_count() or 1
    for quantize in ("off", "auto"):  # the weight caches, built now if missing: warm starts
        loaded = in_passing_thread(
            lambda q=quantize: load_model(  # type: ignore[misc]
                ModelSettings(
                    model=args.model, adapter=adapter, quantize=q, dtype=args.dtype, for_queue=True
                )
            )
        )
    ids = prompts(loaded, args.rooms)
    del loaded
    rounds: dict[str, list[dict[str, Any]]] = {side: [] for side, _ in _SIDES}
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as folder:
        prompt_file = Path(folder) / "prompts.json"
        prompt_file.write_text(json.dumps(ids))
        for _ in range(args.rounds):
            for side, quantize in _SIDES:
                variant = "llama.cpp" if side == "llama.cpp" else "ours"
                if variant == "llama.cpp" and find_spec("llama_cpp") is None:
                    continue
                rounds[side].append(_spawn(args, variant, quantize, threads, prompt_file))
    figures: dict[str, Any] = {"rounds": args.rounds, "threads": threads}
    for side, runs in rounds.items():
        if runs:
            figures[side] = _medians(runs) | {"rounds": runs}
    figures["load_average"] = os.getloadavg()
    return figures


def _spawn(
    args: argparse.Namespace, variant: str, quantize: str, threads: int, prompt_file: Path
) -> dict[str, Any]:
    command = [
        *(sys.executable, "-m", "bench.queue", "--json", "--variant", variant),
        *("--quantize", quantize, "--threads", str(threads), "--prompts", str(prompt_file)),
        *("--rooms", str(args.rooms), "--takes", str(args.takes), "--tokens", str(args.tokens)),
        *("--model", args.model, "--adapter", args.adapter, "--dtype", args.dtype),
        *("--spawned", str(time.time())),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def print_side_by_side(figures: dict[str, Any]) -> None:
    sides = [side for side, _ in _SIDES if side in figures]
    print(f"{figures['rounds']} round(s), {figures['threads']} threads each, medians;", end=" ")
    load = ", ".join(f"{value:.1f}" for value in figures["load_average"])
    print(f"load average (1, 5, 15 min) at the end: {load}")
    print(f"{'':>38}" + "".join(f"{side:>12}" for side in sides))
    for label, ours, theirs in _TABLE:
        cells = []
        for side in sides:
            key = theirs if side == "llama.cpp" else ours
            value = figures[side].get(key) if key else None
            cells.append(f"{value:>12.2f}" if isinstance(value, float) else f"{'-':>12}")
        print(f"{label:>38}" + "".join(cells))
    ran = {
        side: f"{figures[side].get('quantize')} products, {figures[side].get('dtype')}"
        for side in sides
        if side != "llama.cpp"
    }
    print("ours: " + "; ".join(f"{side}: {what}" for side, what in ran.items()))
    if "llama.cpp" not in figures:
        return
    theirs = figures["llama.cpp"]
    for side in sides[:-1]:
        ours = figures[side]
        stream = ours["single_stream_tok_s"] / theirs["llama_cpp_single_stream_tok_s"]
        request = ours["single_request_s"] / theirs["llama_cpp_single_request_s"]
        aggregate = ours["queue_tok_s"] / theirs["llama_cpp_batched_tok_s"]
        print(
            f"{side} / llama.cpp: single stream {stream:.2f}x (target >= 1), one request's "
            f"time {request:.2f}x (target <= 0.7), all rooms {aggregate:.2f}x (target >= 2)"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.json else logging.INFO)
    if args.quantize:
        os.environ[WRITERS_ROOM_QUANTIZE] = args.quantize  # for the forward the queue builds
    if args.variant:
        print(json.dumps(run_variant(args)))
        return
    if args.side_by_side:
        compared = side_by_side(args)
        if args.json:
            print(json.dumps(compared))
        else:
            print_side_by_side(compared)
        return
    adapter = "" if args.random_weights else bot_adapter(args.model, args.adapter)
    settings = ModelSettings(
        model=args.model, adapter=adapter, dtype=args.dtype, device=args.device
    )
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
    rounds = [asyncio.run(run_queue(loaded, ids, args))]
    figures["threads"] = torch.get_num_threads()  # as the queue set it; the sequential path too
    figures |= run_sequential(loaded, ids, args)
    # Peak memory of the queue and the sequential path (before llama.cpp loads in this process);
    # generate_batch sizes its own paged cache from free memory (gigabytes), so it comes after.
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if loaded.device.type == "cuda":
        figures["peak_gpu_mb"] = torch.cuda.max_memory_allocated(loaded.device) / 2**20
    if args.compare_engines:
        figures |= run_generate_batch(loaded, ids, args)
    llama_cpp = not (args.model or args.random_weights) and bool(find_spec("llama_cpp"))
    if llama_cpp:
        rounds[0] |= run_llama_cpp(ids, args, figures["threads"], adapter)
    for _ in range(args.rounds - 1):
        again = asyncio.run(run_queue(loaded, ids, args))
        if llama_cpp:
            again |= run_llama_cpp(ids, args, figures["threads"], adapter, sequential=False)
        rounds.append(again)
    figures |= _medians(rounds)
    figures["ratio"] = figures["queue_tok_s"] / figures["sequential_tok_s"]
    for side in ("llama_cpp", "llama_cpp_base"):
        if f"{side}_batched_tok_s" in figures:
            figures |= _ratios(figures, side)
    if args.rounds > 1:
        figures["rounds"] = args.rounds
        for key in _ROUND_FIGURES:
            if key in rounds[0]:
                figures[f"{key}_rounds"] = [round(r[key], 2) for r in rounds if key in r]
        figures["load_average"] = os.getloadavg()[0]
    if args.json:
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()})
        )
    else:
        for key, value in figures.items():
            print(f"{key:>36}: {value:.2f}" if isinstance(value, float) else f"{key:>36}: {value}")


if __name__ == "__main__":
    main()
