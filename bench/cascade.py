"""Cascade attention against one pass (`model.cascade`): the attention of one decode step.

    python -m bench.cascade                  # SmolLM2-135M's shape, rows 3 4 6 8, prompts 300-1200
    python -m bench.cascade --rows 8 --rooms 4 --prompts 300 --generated 20 200 --threads 2

Keys and values in buffers as the slot engine holds them (rows of one prompt hold the same first
columns), random, in bf16; per (rooms, rows, prompt, generated) — the rows dealt to the rooms in
turn, so a room's rows are not neighbours — the attention of one step over every layer, timed as
one pass over each row's columns and as the cascade (each prompt read once, then every row's own
columns, merged), the best of three runs of `--repeats` steps. Printed: milliseconds per step
(all layers), their ratio, the ratio `model.cascade.cost` predicts, and whether `plan` picks the
cascade there (`auto`), so its cost model can be checked against a machine. Figures, not tests.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch.nn import functional as F

from model import cascade


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[3, 4, 6, 8])
    parser.add_argument("--prompts", type=int, nargs="+", default=[300, 600, 1200])
    parser.add_argument("--generated", type=int, nargs="+", default=[20, 200])
    parser.add_argument(
        "--rooms", type=int, nargs="+", default=[1, 2], help="prompts the rows are shared among"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=200, help="steps timed per figure")
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--kv-heads", type=int, default=3)
    parser.add_argument("--groups", type=int, default=3, help="query heads per key/value head")
    parser.add_argument("--head-dim", type=int, default=64)
    return parser.parse_args(argv)


def best_of(function: Callable[[], object], repeats: int) -> float:
    """Seconds per call, the best of three runs of `repeats` calls."""
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeats):
            function()
        runs.append((time.perf_counter() - started) / repeats)
    return min(runs)


def one(args: argparse.Namespace, rooms: int, rows: int, prompt: int, generated: int) -> None:
    dtype, dim = torch.bfloat16, args.head_dim
    width = prompt + generated + 1
    keys = torch.randn(rows, args.kv_heads, width + 64, dim, dtype=dtype)
    values = torch.randn_like(keys)
    prompts = [(row % rooms, prompt) for row in range(rows)]
    for row, (room, _) in enumerate(prompts):
        keys[row, :, :prompt] = keys[room, :, :prompt]
        values[row, :, :prompt] = values[room, :, :prompt]
    q = torch.randn(rows, args.kv_heads, args.groups, dim, dtype=dtype)
    lengths = [width - 1] * rows
    scale = dim**-0.5
    cpu = torch.device("cpu")
    forced = cascade.plan(prompts, lengths, width, setting="on", dtype=dtype, device=cpu)
    chosen = cascade.plan(prompts, lengths, width, setting="auto", dtype=dtype, device=cpu)
    assert forced is not None
    # The plain step of the slot engine: aligned rows, no mask.
    k, v = keys[:, :, :width], values[:, :, :width]

    def plain() -> object:
        return F.scaled_dot_product_attention(q, k, v, scale=scale)

    def shared() -> object:
        return forced.attend(keys, values, q, scale)

    for function in (plain, shared):
        for _ in range(10):
            function()
    one_pass = best_of(plain, args.repeats) * args.layers * 1e3
    two = best_of(shared, args.repeats) * args.layers * 1e3
    predicted = cascade.cost(forced.groups, rows, prompt, width) / (rows * width + cascade._CALL)
    print(
        f"{rooms:5d}  {rows:4d}  {prompt:6d}  {generated:9d}  {one_pass:8.2f}  {two:7.2f}"
        f"  {two / one_pass:5.2f}×  {predicted:9.2f}×  {'cascade' if chosen else 'one pass'}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    if not cascade.available(torch.device("cpu")):
        raise SystemExit("this torch has no CPU attention kernel that gives the log-sum-exp")
    print(
        f"{args.threads} threads, {args.layers} layers, {args.kv_heads} key/value heads × "
        f"{args.groups} queries, head size {args.head_dim}, bf16; ms per step (all layers)"
    )
    print("rooms  rows  prompt  generated  one pass  cascade  ratio  predicted  auto picks")
    for rooms in args.rooms:
        for rows in args.rows:
            if rows < rooms:
                continue
            for prompt in args.prompts:
                for generated in args.generated:
                    one(args, rooms, rows, prompt, generated)


if __name__ == "__main__":
    main()
