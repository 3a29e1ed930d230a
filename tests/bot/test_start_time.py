"""The console's "ready in" figure counts from the process's start, not from an import."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bot.__main__ import seconds_since_start


def test_the_time_since_start_counts_what_ran_before_the_bot_was_imported() -> None:
    # A process that spends 1.5 s before importing the bot: a clock started at import would
    # say a fraction of a second.
    script = (
        "import time; time.sleep(1.5)\n"
        "from bot.__main__ import seconds_since_start\n"
        "print(seconds_since_start())"
    )
    spawned = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    waited = time.perf_counter() - spawned
    reported = float(run.stdout.strip())
    assert 1.5 <= reported <= waited + 0.05  # the kernel counts in ticks of 10 ms


def test_it_grows_with_the_process() -> None:
    first = seconds_since_start()
    time.sleep(0.2)
    assert 0.15 <= seconds_since_start() - first < 5
