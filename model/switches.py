"""What several modules read from the environment alike: on/off switches and the cache's home.

This module imports nothing of the project, so the lowest modules (`model.kernels`) can use it.
"""

from __future__ import annotations

import os
from pathlib import Path


def switched_on(variable: str) -> bool:
    """Whether an on/off environment switch (on unless 0, false, no or off) is on."""
    return os.environ.get(variable, "1").strip().lower() not in {"0", "false", "no", "off"}


def cache_home() -> Path:
    """The folder the project keeps what it builds in: `$WRITERS_ROOM_CACHE`, else
    `~/.cache/writers-room` (converted weights under `models/`, built kernels under
    `kernels/`)."""
    env = os.environ.get("WRITERS_ROOM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "writers-room"
