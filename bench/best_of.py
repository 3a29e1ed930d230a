"""Benchmark of best-of-N: wall time per request and tokens/s with it on and off, on the real model.

    python -m bench.best_of                          # off vs BEST_OF 2 and 3, 3 takes x 128 tokens
    python -m bench.best_of --best-of 2 --rounds 3 --tokens 256
    python -m bench.best_of --best-of 2 --wait-for-all  # and each waiting for every take
    python -m bench.best_of --best-of 2 --rooms 3   # three writers asking at once

One writer's requests, one at a time, as a room sends them: six requests of the six task kinds
in one room's context (a title, a logline, two characters, a scene, the script so far), each
asking for `--takes` takes of at most `--tokens` tokens. Every request runs through each
setting in turn (the order alternating from round to round, so that a busy machine weighs on
both alike): best-of-N off (`best_of` 1: the takes asked for, a malformed one sampled once more,
today's path) and on (`best_of` k: k x n candidates in one batch, the extras stopped once the
first n are written and n clean takes are in hand, PMI's scoring pass over the clean ones, a
second round of the missing only when fewer than n are clean; a take that loops given up as it is
written, on and off; with `--wait-for-all`, also each setting waiting for every take to its end,
"all"). With `--rooms`, that many writers ask each request at once (each with
its own seeds), and the tokens per second are all of theirs over the time from the first asking
to the last answer. Printed per setting: wall time per request (mean and median), the ratio to
off, tokens drawn per second, the time spent scoring, requests that needed a second round, the
share of shown takes that are clean, and per request the candidates stopped, the takes given up
as loops, the decode steps it waited for (the longest take of each batch it drew, second rounds
included: what its wall time follows when nothing else runs, and unlike wall time on a shared
machine the same from run to run) and the tokens it drew. `--language Chinese` asks the same six
in a Chinese room (`bench.rooms.REQUESTS_ZH`: the same story, the writer's words in Chinese).
Figures, not tests: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.rooms import requests
from model.generator import Drawn, Generator, LocalBackend
from model.loading import LoadedModel, ModelSettings, bot_adapter, load_model
from model.queue import GenerationQueue, QueueSettings, in_passing_thread
from model.tasks import GeneratedTake, ProgressCallback, Sampling, TaskRequest
from model.worker import ABANDONED, STOPPED, Enough


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--best-of", type=int, nargs="+", default=[2, 3], help="the settings compared with off"
    )
    parser.add_argument("--takes", type=int, default=3, help="takes the room asks for")
    parser.add_argument("--tokens", type=int, default=128, help="most new tokens per take")
    parser.add_argument("--rounds", type=int, default=2, help="times every request runs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first round")
    parser.add_argument("--cpu-threads", type=int, default=0, help="torch threads (0: all)")
    parser.add_argument("--language", default="", help="English (default) or Chinese")
    parser.add_argument(
        "--rooms", type=int, default=1, help="writers asking at once (each its own seeds)"
    )
    parser.add_argument(
        "--capped",
        type=int,
        default=0,
        help="also each best-of setting drawing at most this many candidates (at least one "
        "more than the takes asked for)",
    )
    parser.add_argument(
        "--wait-for-all",
        action="store_true",
        help="also run each setting waiting for every take to its end (none stopped or given up)",
    )
    return parser.parse_args(argv)


class CountingBackend(LocalBackend):
    """The local backend, counting the tokens it draws and the time it spends scoring."""

    def __init__(self, queue: GenerationQueue, name: str) -> None:
        super().__init__(queue, name)
        self.tokens = 0
        self.scoring_s = 0.0
        self.pmi: list[float] = []
        self.stopped = 0
        self.given_up = 0
        self.steps = 0

    async def draw(
        self,
        messages: list[dict[str, str]],
        sampling: Sequence[Sampling],
        *,
        room_id: int,
        user_id: int,
        on_progress: ProgressCallback | None = None,
        enough: Enough | None = None,
    ) -> list[Drawn]:
        drawn = await super().draw(
            messages,
            sampling,
            room_id=room_id,
            user_id=user_id,
            on_progress=on_progress,
            enough=enough,
        )
        self.tokens += sum(len(take.token_ids) for take in drawn)
        self.steps += max(len(take.token_ids) for take in drawn)
        self.stopped += sum(take.finish == STOPPED for take in drawn)
        self.given_up += sum(take.finish == ABANDONED for take in drawn)
        return drawn

    async def score(self, messages: list[dict[str, str]], takes: Sequence[Drawn]) -> list[float]:
        started = time.perf_counter()
        try:
            figures = await super().score(messages, takes)
        finally:
            self.scoring_s += time.perf_counter() - started
        self.pmi += [take.logprob - figure for take, figure in zip(takes, figures, strict=True)]
        return figures


OFF = "off"


@dataclass
class Figures:
    """What one setting did over every request."""

    walls: list[float] = field(default_factory=list)
    spans: list[float] = field(default_factory=list)  # each request, all rooms: first to last
    tokens: int = 0
    scoring_s: float = 0.0
    second_rounds: int = 0
    shown: int = 0
    clean: int = 0
    stopped: int = 0
    given_up: int = 0
    steps: int = 0

    def add(
        self, walls: list[float], takes: list[list[GeneratedTake]], backend: CountingBackend
    ) -> None:
        """One request asked by each room at once: their wall times and takes, and what the
        backend counted for all of them."""
        self.walls += walls
        self.spans.append(max(walls))
        self.tokens += backend.tokens
        self.scoring_s += backend.scoring_s
        self.stopped += backend.stopped
        self.given_up += backend.given_up
        self.steps += backend.steps
        backend.tokens, backend.scoring_s, backend.stopped, backend.given_up = 0, 0.0, 0, 0
        backend.steps = 0
        for one in takes:
            self.second_rounds += any(t.regenerated for t in one)
            self.shown += len(one)
            self.clean += sum(not t.problems for t in one)


async def run(
    args: argparse.Namespace, loaded: LoadedModel
) -> tuple[dict[str, Figures], list[float]]:
    settings = QueueSettings(timeout_s=3600, cpu_threads=args.cpu_threads)
    queue = await asyncio.to_thread(
        in_passing_thread, lambda: GenerationQueue(loaded.model, loaded.tokenizer, settings)
    )
    await queue.start()
    backend = CountingBackend(queue, loaded.name)
    # (label, best_of, early_ends, most candidates)
    setups = [(OFF, 1, True, 0)] + [(f"best_of {k}", k, True, 0) for k in args.best_of]
    if args.capped:
        setups += [
            (f"best_of {k} at most {args.capped}", k, True, args.capped) for k in args.best_of
        ]
    if args.wait_for_all:
        setups += [(f"{OFF} all", 1, False, 0)] + [
            (f"best_of {k} all", k, False, 0) for k in args.best_of
        ]
    figures = {label: Figures() for label, *_ in setups}
    try:
        for round_ in range(args.rounds):
            order = setups if round_ % 2 == 0 else setups[::-1]
            for request in requests(args.language):
                for label, k, early_ends, most in order:
                    generator = Generator(
                        backend, best_of=k, early_ends=early_ends, most_candidates=most
                    )
                    seeds = [args.seed + 1000 * round_ + 97 * room for room in range(args.rooms)]
                    done = await asyncio.gather(
                        *(
                            timed(generator, request, args.takes, args.tokens, seed, room + 1)
                            for room, seed in enumerate(seeds)
                        )
                    )
                    figures[label].add([w for w, _ in done], [t for _, t in done], backend)
                    for wall, takes in done:
                        print(
                            f"round {round_ + 1} {request.kind.value:9} {label}: "
                            f"{wall:5.1f} s, "
                            f"{sum(not t.problems for t in takes)}/{len(takes)} clean"
                            + (", second round" if any(t.regenerated for t in takes) else ""),
                            flush=True,
                        )
    finally:
        await queue.close()
    return figures, backend.pmi


async def timed(
    generator: Generator, request: TaskRequest, takes: int, tokens: int, seed: int, room: int
) -> tuple[float, list[GeneratedTake]]:
    """One room's request: its wall time and takes."""
    started = time.perf_counter()
    shown = await generator.generate(
        request, takes, Sampling(max_new_tokens=tokens, seed=seed), room_id=room, user_id=room
    )
    return time.perf_counter() - started, shown


def report_pmi(pmi: list[float]) -> None:
    """The spread of the clean candidates' PMI (what `model.ranking.PMI_SCALE` is set by)."""
    if len(pmi) < 2:
        return
    cuts = statistics.quantiles(pmi, n=10)
    print(
        f"PMI of {len(pmi)} scored candidates (nats/token): mean {statistics.mean(pmi):.3f}, "
        f"sd {statistics.stdev(pmi):.3f}, 10%-90% {cuts[0]:.3f} to {cuts[-1]:.3f}, "
        f"min {min(pmi):.3f}, max {max(pmi):.3f}"
    )


def report(figures: dict[str, Figures]) -> None:
    off = statistics.mean(figures[OFF].walls)
    print(
        "\nsetting        wall/request (mean, median)  vs off  tokens/s  scoring  2nd rounds"
        "  clean  stopped  given up  steps  tokens (a request)"
    )
    for label, f in figures.items():
        wall = statistics.mean(f.walls)
        print(
            f"{label:14} {wall:8.1f} s {statistics.median(f.walls):8.1f} s"
            f"          {wall / off:5.2f}x  {f.tokens / sum(f.spans):8.1f}"
            f"  {f.scoring_s:6.1f} s  {f.second_rounds:4d}/{len(f.walls):<4d}"
            f"  {f.clean / max(1, f.shown):5.0%}  {f.stopped / len(f.walls):7.1f}"
            f"  {f.given_up / len(f.walls):8.1f}  {f.steps / len(f.walls):5.0f}"
            f"  {f.tokens / len(f.walls):6.0f}"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"settings: {vars(args)}")
    # Another process decoding on these cores slows every figure many times over (two at two
    # threads each on a 2-core machine: 50-100x); the load average shows it.
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    model = ModelSettings(adapter=bot_adapter("", ""), for_queue=True)
    loaded = in_passing_thread(lambda: load_model(model))
    print(f"model: {loaded.name} on {loaded.device}")
    figures, pmi = asyncio.run(run(args, loaded))
    report(figures)
    report_pmi(pmi)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
