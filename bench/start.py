"""Benchmark of the bot's start: from spawning the process to its first take, warm and cold.

    python -m bench.start                     # 2 cold and 4 warm runs, interleaved
    python -m bench.start --cold 1 --warm 3 --json
    python -m bench.start --baseline /tmp/old  # and the same runs of another checkout, alternating

Each run spawns `python -m bot console --db <tmp> --seed 7` with one `/premise idea:"..."` on
its standard input and times the whole process: from the spawn to the first take printed
(the console's `── Take 1` line), to its "ready in" line (the figure the bot itself reports),
and to its exit. A cold run gets an empty MODEL_CACHE in a temporary directory, so it converts
the GGUF and builds the weight caches; the warm runs after it reuse that directory (the user's
own cache is never read or written). With `--baseline DIR` (say, `git archive HEAD` unpacked
there) every run is also made with that checkout's bot, right after ours and with a cache of its
own, so that both meet the same load. The figures and their ratios are printed with the
machine's load average; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

IDEA = "A ferry pilot's last crossing before the bridge opens"
_FIRST_TAKE = re.compile(r"^\W*Take 1\b")
_READY = re.compile(r"ready in ([0-9.]+) s")


@dataclass(frozen=True, slots=True)
class Run:
    side: str  # "ours" or "baseline"
    kind: str  # "cold" or "warm"
    first_take_s: float  # spawn to the first take printed
    ready_s: float  # the bot's own "ready in" figure (from its process's start)
    exit_s: float  # spawn to exit
    load: float  # the 1-minute load average when the run started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=2, help="runs with an empty cache")
    parser.add_argument("--warm", type=int, default=4, help="runs with the cache present")
    parser.add_argument("--idea", default=IDEA, help="the premise asked for")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one run may take")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose bot runs beside ours, alternating"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def run_once(side: str, tree: Path, kind: str, cache: Path, idea: str, timeout: float) -> Run:
    """One console session of the bot in `tree`: spawn, one premise, the takes, exit."""
    with tempfile.TemporaryDirectory(prefix="bench-start-") as folder:
        env = {
            **os.environ,
            "MODEL_CACHE": str(cache),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": str(tree),  # before the installed (editable) checkout
        }
        command = [sys.executable, "-m", "bot", "console", "--db", f"{folder}/room.db"]
        errors_path = Path(folder) / "stderr"
        load = os.getloadavg()[0]
        with errors_path.open("w") as errors_file:  # a file: a full pipe would stall the bot
            spawned = time.perf_counter()
            process = subprocess.Popen(
                [*command, "--seed", "7"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors_file,
                text=True,
                env=env,
                cwd=tree,
            )
            watchdog = threading.Timer(timeout, process.kill)  # a hung run ends, and fails
            watchdog.start()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(f'/premise idea:"{idea}"\n')
            process.stdin.close()
            first_take = None
            for line in process.stdout:
                if first_take is None and _FIRST_TAKE.match(line):
                    first_take = time.perf_counter() - spawned
            process.wait()
            exited = time.perf_counter() - spawned
            watchdog.cancel()
        errors = errors_path.read_text()
    ready = _READY.search(errors)
    if process.returncode != 0 or first_take is None or ready is None:
        raise RuntimeError(f"the {kind} run failed ({process.returncode}):\n{errors[-2000:]}")
    return Run(side, kind, first_take, float(ready.group(1)), exited, load)


def plan(cold: int, warm: int) -> list[str]:
    """Cold and warm runs interleaved (a warm run needs a cold one before it)."""
    cold = max(cold, 1 if warm else 0)
    order: list[str] = []
    per_cold = [warm // cold + (1 if i < warm % cold else 0) for i in range(cold)] if cold else []
    for extra in per_cold:
        order += ["cold"] + ["warm"] * extra
    return order


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    trees = {"ours": Path(__file__).resolve().parents[1]}
    if args.baseline is not None:
        trees["baseline"] = args.baseline.resolve()
    runs: list[Run] = []
    caches: dict[str, Path] = {}
    try:
        for kind in plan(args.cold, args.warm):
            for side, tree in trees.items():
                if kind == "cold":
                    if side in caches:
                        shutil.rmtree(caches[side], ignore_errors=True)
                    caches[side] = Path(tempfile.mkdtemp(prefix=f"bench-start-{side}-"))
                runs.append(run_once(side, tree, kind, caches[side], args.idea, args.timeout))
                if not args.json:
                    print(_row(runs[-1]), flush=True)
    finally:
        for cache in caches.values():
            shutil.rmtree(cache, ignore_errors=True)
    figures: dict[str, float | int] = {"cpus": os.cpu_count() or 0}
    for side in trees:
        figures |= summary([r for r in runs if r.side == side], side)
    if "baseline" in trees:
        for kind in ("warm", "cold"):
            for field in ("first_take_s", "ready_s"):
                ours = figures.get(f"ours_{kind}_{field}_median")
                theirs = figures.get(f"baseline_{kind}_{field}_median")
                if ours and theirs:
                    figures[f"baseline_over_ours_{kind}_{field}"] = float(theirs) / float(ours)
    figures["load_average_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps({**figures, "runs": [asdict(r) for r in runs]}))
    else:
        for key, value in figures.items():
            print(f"{key:>40}: {value:.2f}" if isinstance(value, float) else f"{key:>40}: {value}")


def summary(runs: list[Run], side: str) -> dict[str, float | int]:
    figures: dict[str, float | int] = {}
    for kind in ("warm", "cold"):
        mine = [r for r in runs if r.kind == kind]
        if not mine:
            continue
        prefix = f"{side}_{kind}"
        figures[f"{prefix}_runs"] = len(mine)
        for field in ("first_take_s", "ready_s", "exit_s"):
            values = [getattr(r, field) for r in mine]
            figures[f"{prefix}_{field}_median"] = statistics.median(values)
            figures[f"{prefix}_{field}_min"] = min(values)
            figures[f"{prefix}_{field}_max"] = max(values)
        figures[f"{prefix}_ready_to_first_take_s_median"] = statistics.median(
            r.first_take_s - r.ready_s for r in mine
        )
        figures[f"{prefix}_load_average"] = statistics.fmean(r.load for r in mine)
    if f"{side}_warm_runs" in figures and f"{side}_cold_runs" in figures:
        figures[f"{side}_cold_over_warm_first_take"] = float(
            figures[f"{side}_cold_first_take_s_median"]
        ) / float(figures[f"{side}_warm_first_take_s_median"])
    return figures


def _row(run: Run) -> str:
    return (
        f"{run.side} {run.kind}: first take {run.first_take_s:.2f} s, "
        f"ready (reported) {run.ready_s:.2f} s, exit {run.exit_s:.2f} s, "
        f"load average {run.load:.2f}"
    )


if __name__ == "__main__":
    main()
