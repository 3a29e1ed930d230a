"""The bot's settings, read from the environment and a `.env` file (python-dotenv).

Knows the names and defaults of every key and turns bad values into one sentence the operator can
act on. Secrets (the Discord token, the API key of a model server) are `Secret`s, which never
print: a `Settings` can be logged, shown in a traceback or formatted whole. It deliberately knows
nothing of what the settings drive: the model, the store and Discord read the resolved `Settings`
they are handed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

from model.ranking import BEST_OF

#: `QUANTIZE`'s values, `model.quant.SCHEMES` (not imported: it would load torch for a check).
QUANTIZE_SCHEMES = ("auto", "int8", "w8a8", "fp16", "off")
#: `KV_CACHE`'s values, `model.fastpath.KV_CACHE_SETTINGS` (not imported, as above).
KV_CACHE_SETTINGS = ("auto", "model", "float32", "bfloat16", "float16")


class SettingsError(ValueError):
    """A setting has a value the bot cannot use; `str()` says which and why."""


class Secret:
    """A value that must never be printed or logged: `str()`, `repr()` and f-strings show
    asterisks (nothing when it is empty); `get_secret_value()` is the one way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: Secret = field(default_factory=Secret)
    guild_id: int | None = None
    database: Path = Path("data/writers_room.db")
    # Generation: "local" runs the model in this process; "openai" sends tasks to a server that
    # speaks the OpenAI chat API (vLLM, TGI, llama.cpp's server, `transformers serve`).
    backend: str = "local"
    model: str = ""  # empty: the shipped default, SmolLM2-135M-Instruct
    # A LoRA adapter directory; empty: the shipped screenplay adapter (with the default model);
    # "none": no adapter.
    adapter: str = ""
    device: str = "auto"
    dtype: str = "auto"
    # The fast path's int8 weights for decoding on a CPU (model.quant): auto, int8 or off;
    # empty: the environment's WRITERS_ROOM_QUANTIZE, else auto.
    quantize: str = ""
    # The precision of the key/value cache the fast path decodes over: auto (float16 on a CPU
    # that computes in float32, else the model's), model, float32, bfloat16 or float16; empty:
    # the environment's WRITERS_ROOM_KV_CACHE, else auto.
    kv_cache: str = ""
    # Where the default model's converted weights are kept (empty: $WRITERS_ROOM_CACHE, then
    # ~/.cache/writers-room); the first start converts them, later starts read them.
    model_cache: str = ""
    seed: int | None = None  # a fixed seed makes a scripted session give the same takes again
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key: Secret = field(default_factory=Secret)
    openai_model: str = ""
    # The name the server serves the room's LoRA adapter under (vLLM: --lora-modules NAME=PATH);
    # set, every request asks for it. Empty: the base model alone.
    openai_adapter: str = ""
    cpu_threads: int = 0  # torch threads on a CPU; 0: every core
    # Megabytes the running takes' keys and values may hold (model.slots); 0: a quarter of the
    # machine's memory. Takes past it wait their turn instead of the process running out.
    kv_cache_mb: int = 0
    # Candidates drawn per take shown, the best shown (model.ranking); 1: best-of-N off.
    best_of: int = BEST_OF
    max_queue: int = 64
    max_per_user: int = 2
    request_timeout_s: float = 300.0
    command_cooldown_s: float = 3.0
    log_level: str = "INFO"

    @property
    def has_token(self) -> bool:
        return bool(self.discord_token.get_secret_value().strip())

    @property
    def built_in_model(self) -> bool:
        """Whether the rooms are written by the shipped SmolLM2-135M in this process (the local
        backend, no `MODEL`): a small model, whose takes are rough drafts and most of whose
        Chinese takes do not read as sentences (README, "What the model writes for a Chinese
        room")."""
        return self.backend == "local" and not self.model.strip()

    def redacted(self) -> dict[str, str]:
        """The settings for a start-up log line; secrets are never printed."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                value = "(set)" if value else "(not set)"
            out[f.name] = str(value)
        return out


_INT_KEYS = {"max_queue", "max_per_user", "best_of"}
_FLOAT_KEYS = {"request_timeout_s", "command_cooldown_s"}
_SECRET_KEYS = {"discord_token", "openai_api_key"}


def load_settings(
    env_file: str | Path | None = ".env", environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from `env_file` (when it exists) overridden by the process environment.

    Keys are the field names in upper case (`DISCORD_TOKEN`, `DATABASE`, `MODEL`, ...).
    """
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    for f in fields(Settings):
        raw = merged.get(f.name.upper())
        if raw is None or raw.strip() == "":
            continue
        values[f.name] = _convert(f.name, raw.strip())
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.backend not in {"local", "openai"}:
        raise SettingsError(f"BACKEND must be 'local' or 'openai', not {settings.backend!r}.")
    if settings.quantize.lower() not in {"", *QUANTIZE_SCHEMES}:
        named = ", ".join(f"'{scheme}'" for scheme in QUANTIZE_SCHEMES[:-1])
        raise SettingsError(
            f"QUANTIZE must be {named} or '{QUANTIZE_SCHEMES[-1]}', not {settings.quantize!r}."
        )
    if settings.kv_cache.lower() not in {"", *KV_CACHE_SETTINGS}:
        named = ", ".join(f"'{value}'" for value in KV_CACHE_SETTINGS[:-1])
        raise SettingsError(
            f"KV_CACHE must be {named} or '{KV_CACHE_SETTINGS[-1]}', not {settings.kv_cache!r}."
        )
    return settings


def _non_negative(name: str, raw: str) -> int:
    try:
        value = int(raw)
        if value < 0:
            raise ValueError
    except ValueError:
        raise SettingsError(
            f"{name.upper()} must be a whole number, 0 or more, not {raw!r}."
        ) from None
    return value


def _convert(name: str, raw: str) -> object:
    if name in ("seed", "cpu_threads", "kv_cache_mb"):
        return _non_negative(name, raw)
    try:
        if name == "guild_id":
            return int(raw)
        if name in _INT_KEYS:
            value = int(raw)
            if value < 1:
                raise ValueError
            return value
        if name in _FLOAT_KEYS:
            number = float(raw)
            if number < 0:
                raise ValueError
            return number
    except ValueError:
        raise SettingsError(f"{name.upper()} must be a positive number, not {raw!r}.") from None
    if name in _SECRET_KEYS:
        return Secret(raw)
    if name == "database":
        return Path(raw).expanduser()
    if name == "model_cache":
        return os.path.expanduser(raw)
    return raw
