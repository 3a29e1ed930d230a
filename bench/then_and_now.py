"""A room's wall time per request in this checkout and in an older one, the same requests each.

    python -m bench.then_and_now --then /tmp/old              # off then; off and best-of-2 now
    python -m bench.then_and_now --then /tmp/old --best-of 1 2 --rounds 2 --alternations 2

Issue 16 asks that best-of-N cost no more wall time per request than a room's takes did when it
was filed. This bench asks `bench.rooms`' six requests (one per task kind, 3 takes of at most 128
tokens each, the bot's model and adapter as the bot loads them) through the bot's `Generator`,
once in an older checkout (`--then`: a `git worktree add /tmp/old <commit>`; its own code, its own
weight cache) and once in this one, each in a process of its own, one after the other,
`--alternations` times (a busy machine weighs on both alike). Then: best-of-N off (`best_of` 1,
its takes as that code drew them); now: each of `--best-of`. Only names that have stood since
before issue 16's int8 work are used (`Generator(best_of=...)`, `LocalBackend`, `load_model`,
`GenerationQueue`, `model.tasks`), so any checkout from 0271ae7 on can be the older one.
Printed: each request's wall time and clean takes, then the mean and median per setting and
checkout, and each setting now against off then. Figures, not tests.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: Printed by a run of one checkout, read back by the parent: setting, then its walls.
_WALLS = "walls"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--then", type=Path, help="the older checkout (a git worktree)")
    parser.add_argument(
        "--best-of", type=int, nargs="+", default=[1, 2], help="settings run now (1: off)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="times every request runs a process")
    parser.add_argument("--alternations", type=int, default=2, help="then and now in turn")
    parser.add_argument("--cpu-threads", type=int, default=2, help="torch threads")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first round")
    # Internal: one checkout's run, in a child process whose PYTHONPATH names that checkout.
    parser.add_argument("--one", default="", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


async def one_checkout(settings: list[int], rounds: int, threads: int, seed: int) -> None:
    """In this process's checkout: every request through each setting, `rounds` times."""
    # The requests of this file's own folder, read by path: the same requests in any checkout.
    spec = importlib.util.spec_from_file_location("rooms", Path(__file__).with_name("rooms.py"))
    assert spec is not None and spec.loader is not None
    rooms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rooms)

    from model.generator import Generator, LocalBackend
    from model.loading import ModelSettings, bot_adapter, load_model
    from model.queue import GenerationQueue, QueueSettings, in_passing_thread
    from model.tasks import Sampling

    model = ModelSettings(adapter=bot_adapter("", ""), for_queue=True)
    loaded = in_passing_thread(lambda: load_model(model))
    queue_settings = QueueSettings(timeout_s=3600, cpu_threads=threads)
    queue = await asyncio.to_thread(
        in_passing_thread, lambda: GenerationQueue(loaded.model, loaded.tokenizer, queue_settings)
    )
    await queue.start()
    walls: dict[int, list[float]] = {k: [] for k in settings}
    try:
        for round_ in range(rounds):
            order = settings if round_ % 2 == 0 else settings[::-1]
            for request in rooms.REQUESTS:
                for k in order:
                    generator = Generator(LocalBackend(queue, loaded.name), best_of=k)
                    sampling = Sampling(max_new_tokens=128, seed=seed + 1000 * round_)
                    started = time.perf_counter()
                    takes = await generator.generate(request, 3, sampling, room_id=1, user_id=1)
                    wall = time.perf_counter() - started
                    walls[k].append(wall)
                    clean = sum(not take.problems for take in takes)
                    print(
                        f"  round {round_ + 1} {request.kind.value:9} best_of {k}: {wall:5.2f} s, "
                        f"{clean}/{len(takes)} clean",
                        flush=True,
                    )
    finally:
        await queue.close()
    for k, figures in walls.items():
        print(_WALLS, k, " ".join(f"{w:.4f}" for w in figures), flush=True)


def run_checkout(root: Path, settings: list[int], args: argparse.Namespace) -> dict[int, list]:
    """`one_checkout` in a child process reading `root`'s code; its walls per setting. (Run as
    `-c` in `root`, whose folder leads `sys.path`: run as a script, this file's folder would, and
    `bench/queue.py` would stand in for the standard library's `queue`.)"""
    env = {**os.environ, "PYTHONPATH": str(root), "HF_HUB_OFFLINE": "1"}
    runs = f"import runpy; runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')"
    command = [sys.executable, "-c", runs, "--one", ",".join(map(str, settings))]
    command += ["--rounds", str(args.rounds), "--cpu-threads", str(args.cpu_threads)]
    command += ["--seed", str(args.seed)]
    walls: dict[int, list[float]] = {}
    with subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith(_WALLS):
                _, k, *figures = line.split()
                walls[int(k)] = [float(f) for f in figures]
            else:
                print(line, end="", flush=True)
    if child.returncode:
        raise SystemExit(f"the run in {root} failed ({child.returncode})")
    return walls


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.one:
        settings = [int(k) for k in args.one.split(",")]
        asyncio.run(one_checkout(settings, args.rounds, args.cpu_threads, args.seed))
        return
    if args.then is None or not (args.then / "model" / "generator.py").is_file():
        raise SystemExit("--then: the folder of an older checkout (git worktree add DIR COMMIT)")
    now_root = Path(__file__).resolve().parent.parent
    print(f"settings: {vars(args)}")
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    then: list[float] = []
    now: dict[int, list[float]] = {k: [] for k in args.best_of}
    for alternation in range(args.alternations):
        print(f"then ({args.then}), alternation {alternation + 1}", flush=True)
        then += run_checkout(args.then.resolve(), [1], args)[1]
        print(f"now ({now_root}), alternation {alternation + 1}", flush=True)
        for k, walls in run_checkout(now_root, args.best_of, args).items():
            now[k] += walls
    off_then = statistics.mean(then)
    print("\ncheckout  setting    wall/request (mean, median)  vs off then")
    rows = [("then", "off", then)] + [
        ("now", "off" if k == 1 else f"best_of {k}", walls) for k, walls in now.items()
    ]
    for checkout, label, walls in rows:
        mean = statistics.mean(walls)
        print(
            f"{checkout:9} {label:10} {mean:8.2f} s {statistics.median(walls):8.2f} s"
            f"     {mean / off_then:5.2f}x   ({len(walls)} requests)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
