"""int8 weight-only quantisation of the fast path (`model.quant`): the rounding, the products that
use it (decoding's few rows) and those that do not (a prefill's many), the setting that switches
it, the weight cache that keeps it, and the shipped model's quality with it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from model import fastpath, quant
from model.fastpath import FastLlama
from model.loading import ModelLoadError, ModelSettings, load_model, runtime_dir, runtime_key

PROMPT = [5, 17, 300, 41, 900, 12, 33]


@pytest.fixture(autouse=True)
def avx512(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are of the int8 path, which `auto` takes on a CPU with AVX-512 (where its
    kernel is fast); the one test of an AVX2-only CPU says so itself."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")


def test_a_weight_rounds_to_within_half_a_step_of_its_row() -> None:
    torch.manual_seed(0)
    weight = torch.randn(48, 64) * torch.linspace(0.01, 3, 48)[:, None]
    int8 = quant.Int8Weight.of(weight)
    assert int8.values.dtype == torch.int8 and int8.scales.shape == (48,)
    assert int(int8.values.abs().max()) == 127
    step = weight.abs().amax(dim=1, keepdim=True) / 127
    assert bool(((int8.dequantised() - weight).abs() <= step / 2 + 1e-6).all())
    x = torch.randn(3, 64)
    torch.testing.assert_close(int8(x), x @ int8.dequantised().T, rtol=1e-4, atol=1e-4)


def test_the_setting_resolves_to_int8_on_a_cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert quant.resolve("auto", cpu, torch.bfloat16) == "int8"
    assert quant.resolve("INT8", cpu, torch.float32) == "int8"
    assert quant.resolve("off", cpu, torch.bfloat16) == "off"
    assert quant.resolve("auto", gpu, torch.bfloat16) == "off"
    assert quant.resolve("auto", cpu, torch.float16) == "off"
    monkeypatch.setenv(quant.ENV_SWITCH, "auto")
    assert quant.resolve("", cpu, torch.bfloat16) == "int8"
    monkeypatch.setenv(quant.ENV_SWITCH, "off")
    assert quant.resolve("", cpu, torch.bfloat16) == "off"
    with pytest.raises(ValueError, match="auto, int8, off"):
        quant.resolve("int3", cpu, torch.bfloat16)
    # An AVX2-only CPU runs the int8 kernel unvectorised, four times slower than float32:
    # `auto` keeps float32 there; `int8` asked for by name still runs.
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert quant.resolve("auto", cpu, torch.float32) == "off"
    assert quant.resolve("int8", cpu, torch.float32) == "int8"
    with pytest.raises(ModelLoadError, match="quantisation"):
        load_model(ModelSettings(model="/nonexistent", quantize="fp4", for_queue=True))


def decode(fast: FastLlama, prompt: list[int], steps: int) -> list[torch.Tensor]:
    """The prefill's last logits, then those of `steps` greedy decode steps (one row each)."""
    cache = fast.new_cache(1, len(prompt) + steps)
    ids = torch.tensor([prompt])
    positions = torch.arange(len(prompt))[None]
    out = []
    with torch.inference_mode():
        for _ in range(steps + 1):
            logits = fast.forward(ids, positions, cache)
            out.append(logits.float())
            ids = logits.argmax(-1)[:, None]
            positions = positions[:, -1:] + 1
    return out


def hidden_of_prefill(fast: FastLlama, prompt: list[int]) -> torch.Tensor:
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        return fast._hidden(ids, torch.arange(len(prompt))[None], fast.new_cache(1, 8), None)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_decoding_uses_int8_and_stays_close_while_a_prefill_keeps_the_weights(
    tiny_model: Any, dtype: torch.dtype
) -> None:
    model = tiny_model.to(dtype)
    try:
        plain = FastLlama(model, quantize="off")
        int8 = FastLlama(model, quantize="int8")
        assert plain.quantize == "off" and int8.quantize == "int8"
        assert all(linear.int8 is None for linear in plain.layers[0].linears())
        assert all(linear.int8 is not None for linear in int8.layers[0].linears())
        # Seven rows: above the int8 products' limit, so the prefill is the weights' own.
        torch.testing.assert_close(
            hidden_of_prefill(int8, PROMPT), hidden_of_prefill(plain, PROMPT), rtol=0, atol=0
        )
        tolerance = 0.02 if dtype == torch.float32 else 0.06
        for want, got in zip(decode(plain, PROMPT, 4), decode(int8, PROMPT, 4), strict=True):
            assert not torch.equal(got, want)  # the one-row products did run in int8
            spread = float(want.std())
            assert float((got - want).abs().max()) < tolerance * spread * 10
            assert float((got - want).std()) < tolerance * spread
    finally:
        tiny_model.to(torch.float32)


def test_the_environment_switches_the_forward_built_from_a_model(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(quant.ENV_SWITCH, "off")
    assert FastLlama(tiny_model).quantize == "off"
    monkeypatch.setenv(quant.ENV_SWITCH, "auto")
    assert FastLlama(tiny_model).quantize == "int8"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tokenizer: Any) -> Path:
    directory = tmp_path_factory.mktemp("tiny")
    tiny_model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_the_weight_cache_keeps_the_int8_weights_under_a_key_of_their_own(
    saved: Path, tmp_path: Path
) -> None:
    from safetensors import safe_open

    def settings(quantize: str) -> ModelSettings:
        return ModelSettings(
            model=str(saved),
            dtype="float32",
            cache_dir=str(tmp_path / "cache"),
            for_queue=True,
            quantize=quantize,
        )

    keys = {q: runtime_key(settings(q)) for q in ("off", "int8", "auto")}
    assert keys["off"] != keys["int8"] == keys["auto"]
    cold = load_model(settings("int8"))
    plain = load_model(settings("off"))
    warm = load_model(settings("int8"))
    folders = {q: runtime_dir(settings(q), keys[q] or {}) for q in ("off", "int8")}
    assert all(folder.is_dir() for folder in folders.values())  # one entry each, both kept
    with safe_open(folders["int8"] / "weights.safetensors", "pt") as entry:
        names = set(entry.keys())
    assert {"layers.0.qkv.int8", "layers.0.qkv.scales", "lm_head.int8"} <= names
    with safe_open(folders["off"] / "weights.safetensors", "pt") as entry:
        plain_names = set(entry.keys())
    assert not any(name.endswith(".int8") for name in plain_names)
    assert isinstance(warm.model, fastpath.FastModel) and warm.model.fast.quantize == "int8"
    assert plain.model.fast.quantize == "off"
    cold_logits = decode(cold.model.fast, PROMPT, 3)
    for want, got in zip(cold_logits, decode(warm.model.fast, PROMPT, 3), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.slow
def test_the_shipped_model_keeps_its_perplexity_in_int8() -> None:
    """Every product of the shipped model (adapter merged) in int8, on a screenplay scene: next-
    token distributions within 0.01 nats (KL) of the runtime dtype's, perplexity within 3%, and
    mostly the same most likely tokens."""
    from model.loading import bot_adapter

    loaded = load_model(ModelSettings(adapter=bot_adapter("", "")))
    scene = (
        "INT. DINER - NIGHT\n\nMARA slides into the booth across from TOM. Rain on the glass.\n\n"
        "MARA\nYou said one hour. It's been three.\n\nTOM\n(not looking up)\nThe car wouldn't "
        "start. I walked.\n\nMARA\nFrom the county line?\n\nTOM\nFrom the county line.\n\n"
        "She takes his coffee and drinks it.\n\nMARA\nThen you'd better tell me why."
    )
    ids = torch.tensor([loaded.tokenizer(scene)["input_ids"]])
    keep = torch.ones_like(ids, dtype=torch.bool)
    keep[:, -1] = False
    targets = ids[:, 1:][keep[:, :-1]]

    def scored(fast: FastLlama) -> tuple[float, torch.Tensor]:
        fast.set_int8_rows(1 << 30)
        with torch.inference_mode():
            logits = fast.logits_at(ids, keep).float()
        loss = torch.nn.functional.cross_entropy(logits, targets)
        return math.exp(float(loss)), torch.log_softmax(logits, dim=-1)

    plain, plain_logp = scored(FastLlama(loaded.model, quantize="off"))
    int8, int8_logp = scored(FastLlama(loaded.model, quantize="int8"))
    # A hundred tokens move perplexity by chance more than the held-out set's 0.01% (README):
    # the distributions' own distance is the tight bound.
    divergence = float((plain_logp.exp() * (plain_logp - int8_logp)).sum(-1).mean())
    assert divergence < 0.01, divergence
    assert abs(int8 / plain - 1) < 0.03, (plain, int8)
    agree = (plain_logp.argmax(-1) == int8_logp.argmax(-1)).float().mean()
    assert float(agree) > 0.9


def test_the_bot_reads_its_quantisation_from_the_env_file_keys() -> None:
    from bot.settings import SettingsError, load_settings

    assert load_settings(env_file=None, environ={}).quantize == ""
    assert load_settings(env_file=None, environ={"QUANTIZE": "off"}).quantize == "off"
    with pytest.raises(SettingsError, match="QUANTIZE"):
        load_settings(env_file=None, environ={"QUANTIZE": "int4"})
