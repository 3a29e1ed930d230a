"""int8 weight-only quantisation of the fast path (`model.quant`): the rounding, the products that
use it (decoding's few rows) and those that do not (a prefill's many), the setting that switches
it, the weight cache that keeps it, and the shipped model's quality with it."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from model import fastpath, kernels, quant
from model.fastpath import FastLlama
from model.loading import ModelLoadError, ModelSettings, load_model, runtime_dir, runtime_key

PROMPT = [5, 17, 300, 41, 900, 12, 33]


@pytest.fixture(autouse=True)
def avx512(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are of the int8 path, which `auto` takes on a CPU with AVX-512 (where its
    kernel is fast); the one test of an AVX2-only CPU says so itself."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")


@pytest.fixture
def torch_kernel() -> Iterator[None]:
    """torch's int8 kernel rather than ours (`model.kernels`), as on a CPU without AVX-512 VNNI."""
    with kernels.switched_off():
        yield


def test_a_weight_rounds_to_within_half_a_step_of_its_row() -> None:
    torch.manual_seed(0)
    weight = torch.randn(48, 64) * torch.linspace(0.01, 3, 48)[:, None]
    int8 = quant.Int8Weight.of(weight)
    assert int8.values.dtype == torch.int8 and int8.scales.shape == (48,)
    assert int(int8.values.abs().max()) == 127
    step = weight.abs().amax(dim=1, keepdim=True) / 127
    assert bool(((int8.dequantised() - weight).abs() <= step / 2 + 1e-6).all())
    x = torch.randn(3, 64)
    exact = x @ int8.dequantised().T
    # Within the activations' rounding: to bf16 (torch's kernel) or to int8 blocks (ours).
    assert float((int8(x) - exact).abs().max()) < 0.01 * float(exact.abs().max())


def test_float32_activations_reach_the_kernel_in_bf16_and_come_back_in_float32(
    monkeypatch: pytest.MonkeyPatch, torch_kernel: None
) -> None:
    """torch's kernel (where ours (`model.kernels`) does not serve) runs a scalar loop on float32
    activations (9x slower than a plain float32 product on an AVX-512 CPU without native bf16: a
    room's decode step 97 ms against 43), so they are rounded to bf16 for it; the product stays
    within that rounding of the exact one."""
    torch.manual_seed(1)
    weight = torch.randn(96, 64) * 0.05
    int8 = quant.Int8Weight.of(weight)
    assert int8.scales.dtype == torch.float32
    seen: list[torch.dtype] = []
    kernel = torch._weight_int8pack_mm

    def spy(x: torch.Tensor, values: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
        seen.append(x.dtype)
        assert scales.dtype == x.dtype and x.is_contiguous()
        return kernel(x, values, scales)

    monkeypatch.setattr(torch, "_weight_int8pack_mm", spy)
    x = torch.randn(4, 64)
    got = int8(x.t().contiguous().t())  # column-major rows (`to` would keep those strides)
    assert seen == [torch.bfloat16] and got.dtype == torch.float32 and got.shape == (4, 96)
    exact = x @ int8.dequantised().T
    assert float((got - exact).abs().max()) < 0.01 * float(exact.abs().max())


def test_an_int8_weight_mapped_at_an_odd_offset_is_moved_to_an_aligned_copy() -> None:
    """A weight cache maps its int8 copies from a file, where one began 24 bytes past a 64-byte
    boundary: torch's kernel then crashed the process (a segmentation fault) at four bf16 rows,
    the first decode step of a request of four takes."""
    torch.manual_seed(2)
    values = torch.randint(-127, 128, (96, 64), dtype=torch.int8)
    buffer = torch.zeros(96 * 64 + 64, dtype=torch.int8)
    odd = buffer[24 : 24 + 96 * 64].view(96, 64)
    odd.copy_(values)
    assert odd.data_ptr() % 64 == 24
    int8 = quant.Int8Weight(odd, torch.full((96,), 0.01, dtype=torch.bfloat16))
    assert int8.values.data_ptr() % 64 == 0 and torch.equal(int8.values, values)
    x = torch.randn(4, 64, dtype=torch.bfloat16)
    want = x.float() @ (values.float() * 0.01).T
    torch.testing.assert_close(int8(x).float(), want, rtol=2e-2, atol=2e-2)


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
    with pytest.raises(ValueError, match="auto, int8, w8a8, fp16, off"):
        quant.resolve("int3", cpu, torch.bfloat16)
    # On an AVX2-only CPU the int8 kernel measured four times slower than float32 (fed float32
    # then): `auto` takes fbgemm's products there (float32 activations only); `int8` asked for
    # by name still runs.
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert quant.resolve("auto", cpu, torch.float32) == "w8a8"
    assert quant.resolve("auto", cpu, torch.bfloat16) == "off"
    assert quant.resolve("int8", cpu, torch.float32) == "int8"
    assert quant.resolve("w8a8", cpu, torch.float32) == "w8a8"
    assert quant.resolve("w8a8", gpu, torch.float32) == "off"
    assert quant.resolve("fp16", cpu, torch.float32) == "fp16"
    assert quant.resolve("fp16", cpu, torch.bfloat16) == "off"  # fbgemm takes float32 only
    assert quant.cache_tag("w8a8") != quant.cache_tag("int8") != quant.cache_tag("off")
    # Half precision is packed as the weights load: nothing of its own in the weight cache.
    assert quant.cache_tag("fp16") == quant.cache_tag("off")
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


@pytest.mark.parametrize(
    ("dtype", "kernels_on"),
    [(torch.float32, True), (torch.float32, False), (torch.bfloat16, True)],
    ids=["float32", "float32-kernels-off", "bfloat16"],
)
def test_decoding_uses_int8_and_stays_close_and_a_prefill_too_where_ours_serves(
    tiny_model: Any, dtype: torch.dtype, kernels_on: bool
) -> None:
    """Decode steps run in int8 and stay close to the weights' own products. A prefill (more
    rows than torch's int8 kernel takes, 4) runs on the weights' own products, except where our
    kernel (`model.kernels`: AVX-512 VNNI, float32) serves the weight: it beat oneDNN's packed
    float32 at every row count, so the prefill is int8 and close too."""
    model = tiny_model.to(dtype)
    switch = contextlib.nullcontext() if kernels_on else kernels.switched_off()
    try:
        with switch:
            plain = FastLlama(model, quantize="off")
            int8 = FastLlama(model, quantize="int8")
            assert plain.quantize == "off" and int8.quantize == "int8"
            assert all(linear.int8 is None for linear in plain.layers[0].linears())
            assert all(linear.int8 is not None for linear in int8.layers[0].linears())
            linear = int8.layers[0].qkv
            assert isinstance(linear.int8, quant.Int8Weight)
            ours = linear.int8.q8_scales is not None
            assert ours == (kernels_on and dtype == torch.float32 and kernels.available())
            assert (linear.packed is None) == ours  # no packed copy where ours serves every row
            long = PROMPT * 5
            assert len(long) > 4
            want, got = hidden_of_prefill(plain, long), hidden_of_prefill(int8, long)
            tolerance = 0.02 if dtype == torch.float32 else 0.06
            if ours:
                assert not torch.equal(got, want)
                assert float((got - want).std()) < tolerance * float(want.std())
            else:
                torch.testing.assert_close(got, want, rtol=0, atol=0)
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
    # w8a8 needs a calibration for its int8 products: a forward built straight from a model
    # runs every product in half precision, and says so.
    monkeypatch.setenv(quant.ENV_SWITCH, "w8a8")
    fast = FastLlama(tiny_model)
    assert fast.quantize == "fp16"
    assert all(linear.half is not None for linear in [*fast.layers[0].linears(), fast.lm_head])


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tokenizer: Any) -> Path:
    directory = tmp_path_factory.mktemp("tiny")
    tiny_model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def cached(saved: Path, folder: Path, quantize: str) -> ModelSettings:
    """Settings that load the saved tiny model for the queue, its weight cache in `folder`."""
    return ModelSettings(
        model=str(saved),
        dtype="float32",
        cache_dir=str(folder / "cache"),
        for_queue=True,
        quantize=quantize,
    )


def test_the_weight_cache_keeps_the_int8_weights_under_a_key_of_their_own(
    saved: Path, tmp_path: Path
) -> None:
    from safetensors import safe_open

    def settings(quantize: str) -> ModelSettings:
        return cached(saved, tmp_path, quantize)

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


@pytest.mark.parametrize("kernels_on", [True, False], ids=["as-this-cpu-runs", "kernels-off"])
def test_the_int8_cache_runs_the_output_projection_in_int8_for_every_row(
    saved: Path, tmp_path: Path, kernels_on: bool
) -> None:
    """The output projection in int8 for every row, no float32 copy of it kept (the shipped
    model's is 113 MB), its logits close. Where our kernel serves (`model.kernels`: faster than
    fbgemm's at every batch, 0.87 ms a row against 1.43, 42 against 86 for a 282-token scoring
    pass), it runs the plain int8 copy in its order; elsewhere, where fbgemm runs on float32
    activations (0.87 ms a row against torch's int8 kernel's 1.93), the int8 weight cache holds
    the projection smoothed and calibrated as it is built (`quant.SmoothInt8`; every x86 torch
    build has fbgemm). The first case runs as this CPU runs and asserts the branch it takes, the
    second with our kernels off."""
    from safetensors import safe_open

    switch = contextlib.nullcontext() if kernels_on else kernels.switched_off()
    with switch:
        smoothed = quant.smooth_head_runs(torch.float32)
        assert not (smoothed and kernels.available())  # ours serves it wherever it runs
        settings = cached(saved, tmp_path, "int8")
        int8 = load_model(settings)
        plain = load_model(cached(saved, tmp_path, "off"))
        folder = runtime_dir(settings, runtime_key(settings) or {})
    head = int8.model.fast.lm_head
    kind = quant.SmoothInt8 if smoothed else quant.Int8Weight
    assert type(head.int8) is kind
    assert head.packed is None and head.half is None and not head.reads_weight()
    assert head.int8_limit > 1 << 40  # every row, however many
    with safe_open(folder / "weights.safetensors", "pt") as entry:
        names = set(entry.keys())
    assert {"lm_head.int8", "lm_head.scales"} <= names
    assert ("lm_head.smooth" in names) == smoothed
    assert all(
        isinstance(linear.int8, quant.Int8Weight) for linear in int8.model.fast.layers[0].linears()
    )
    for want, got in zip(
        decode(plain.model.fast, PROMPT, 3), decode(int8.model.fast, PROMPT, 3), strict=True
    ):
        assert float((got - want).norm() / want.norm()) < 0.05
    # Many rows at once (a batch's step, a scoring pass) go through it too.
    with torch.inference_mode():
        rows = torch.randn(20, head.int8.in_features)
        torch.testing.assert_close(head(rows)[7], head(rows[7:8])[0], rtol=0.05, atol=0.05)


def scene_scorer(tokenizer: Any, scene: str) -> Callable[[FastLlama], tuple[float, torch.Tensor]]:
    """How a forward reads `scene`: its perplexity, and its next-token log-probabilities, with
    every product quantised however many rows (the worst case)."""
    ids = torch.tensor([tokenizer(scene)["input_ids"]])
    keep = torch.ones_like(ids, dtype=torch.bool)
    keep[:, -1] = False
    targets = ids[:, 1:][keep[:, :-1]]

    def scored(fast: FastLlama) -> tuple[float, torch.Tensor]:
        fast.set_int8_rows(1 << 30)
        with torch.inference_mode():
            logits = fast.logits_at(ids, keep).float()
        loss = torch.nn.functional.cross_entropy(logits, targets)
        return math.exp(float(loss)), torch.log_softmax(logits, dim=-1)

    return scored


@pytest.mark.slow
def test_the_shipped_model_keeps_its_perplexity_in_int8() -> None:
    """Every product of the shipped model (adapter merged) in int8, the output projection as the
    bot's weight cache holds it, on a screenplay scene: next-token distributions within 0.01
    nats (KL) of the runtime dtype's, perplexity within 3%, and mostly the same most likely
    tokens."""
    from model.loading import bot_adapter, runtime_weights

    loaded = load_model(ModelSettings(adapter=bot_adapter("", "")))
    scene = (
        "INT. DINER - NIGHT\n\nMARA slides into the booth across from TOM. Rain on the glass.\n\n"
        "MARA\nYou said one hour. It's been three.\n\nTOM\n(not looking up)\nThe car wouldn't "
        "start. I walked.\n\nMARA\nFrom the county line?\n\nTOM\nFrom the county line.\n\n"
        "She takes his coffee and drinks it.\n\nMARA\nThen you'd better tell me why."
    )
    scored = scene_scorer(loaded.tokenizer, scene)

    plain, plain_logp = scored(FastLlama(loaded.model, quantize="off"))
    # As the bot's weight cache builds it: the output projection smoothed where fbgemm runs.
    weights = runtime_weights(loaded, "int8")
    shape = fastpath.Shape.of(loaded.model.config)
    int8, int8_logp = scored(FastLlama.from_weights(weights, shape, quantize="int8"))
    # A hundred tokens move perplexity by chance more than the held-out set's 0.01% (README):
    # the distributions' own distance is the tight bound. Every product in the int8 kernel gave
    # 0.005 nats on this scene; fbgemm's output projection rounds the activations to 7 bits as
    # well, 0.011 (held-out perplexity x1.0041 -> x1.0097, bench.quant_quality, session 24).
    divergence = float((plain_logp.exp() * (plain_logp - int8_logp)).sum(-1).mean())
    assert divergence < 0.015, divergence
    assert abs(int8 / plain - 1) < 0.03, (plain, int8)
    agree = (plain_logp.argmax(-1) == int8_logp.argmax(-1)).float().mean()
    # 0.95 of 103 tokens with the int8 kernel's projection, 0.89 with fbgemm's (w8a8's bound).
    assert float(agree) > 0.85


def test_smoothing_keeps_a_product_close_where_a_few_channels_are_huge() -> None:
    """fbgemm's products round the activations to 7 bits per block of rows: with one channel a
    hundred times the rest, unsmoothed rounding loses the small channels; SmoothQuant's scaling
    moves that range into the weight, and the product stays within a few percent."""
    torch.manual_seed(0)
    weight = torch.randn(96, 64)
    x = torch.randn(5, 64)
    x[:, 3] *= 100.0
    maxima = x.abs().amax(dim=0)
    exact = x @ weight.T

    def error(alpha: float) -> float:
        copy = quant.SmoothInt8.of(weight, maxima, alpha)
        return float((copy(x) - exact).norm() / exact.norm())

    assert error(quant.SMOOTHING) < 0.03
    assert error(quant.SMOOTHING) < error(0.0) / 2  # alpha 0: no smoothing
    copy = quant.SmoothInt8.of(weight, maxima)
    # The weight's column 3 took the range: the rest of the weight rounds more coarsely.
    drift = float((copy.dequantised() - weight).norm() / weight.norm())
    assert 0 < drift < 0.1, drift
    # More rows than a block: quantised block by block, same shape out.
    many = torch.randn(2, 11, 64)
    assert copy(many).shape == (2, 11, 96)


def test_smooth_quantize_puts_gate_up_and_the_head_in_int8_and_the_rest_in_half_precision(
    tiny_model: Any, tokenizer: Any
) -> None:
    from model.loading import calibration_rows

    rows = calibration_rows(tokenizer)
    assert len(rows) == 8 and all(len(row) > 100 for row in rows)
    plain = FastLlama(tiny_model, quantize="off")
    fast = FastLlama(tiny_model, quantize="off")
    tensors = fast.smooth_quantize([row[:64] for row in rows], fastpath.fast_weights(tiny_model))
    assert fast.quantize == "w8a8"
    layer = fast.layers[0]
    assert isinstance(layer.gate_up.int8, quant.SmoothInt8)
    assert isinstance(fast.lm_head.int8, quant.SmoothInt8)  # 113 MB a step read as 28
    # The output projection runs every row in int8 (a scoring pass too), with no other copy.
    assert fast.lm_head.half is None and fast.lm_head.packed is None
    assert not fast.lm_head.reads_weight()
    for linear in (layer.qkv, layer.o, layer.down):
        assert linear.int8 is None and linear.half is not None
        assert linear.packed is None and linear.weight is None  # the float32 copy is let go
    assert {"layers.0.gate_up.smooth", "layers.0.gate_up.int8", "lm_head.smooth"} <= set(tensors)
    layers = [name.split(".")[2] for name in tensors if name.startswith("layers.")]
    assert set(layers) == {"gate_up"}
    for want, got in zip(decode(plain, PROMPT, 3), decode(fast, PROMPT, 3), strict=True):
        assert not torch.equal(got, want)  # the products did run in int8
        assert float((got - want).std()) < 0.05 * float(want.std())


def test_half_precision_products_stay_within_rounding_of_float32(tiny_model: Any) -> None:
    """`fp16` rounds the weights to 11 significant bits and nothing else: its logits, prefill
    and decode, stay within a few thousandths of float32's, far inside int8's error."""
    plain = FastLlama(tiny_model, quantize="off")
    half = FastLlama(tiny_model, quantize="fp16")
    int8 = FastLlama(tiny_model, quantize="int8")
    assert half.quantize == "fp16"
    assert all(linear.half is not None for linear in [*half.layers[0].linears(), half.lm_head])
    for want, got, rounder in zip(
        decode(plain, PROMPT, 4), decode(half, PROMPT, 4), decode(int8, PROMPT, 4), strict=True
    ):
        assert not torch.equal(got, want)  # the products did run in half precision
        error = float((got - want).abs().max())
        assert error < 0.005 * float(want.std())
        assert error < float((rounder - want).abs().max()) / 4


def test_the_weight_cache_keeps_the_w8a8_copies_and_reads_them_back(
    saved: Path, tmp_path: Path
) -> None:
    from safetensors import safe_open

    def settings() -> ModelSettings:
        return cached(saved, tmp_path, "w8a8")

    cold = load_model(settings())
    warm = load_model(settings())
    assert isinstance(warm.model, fastpath.FastModel)
    assert cold.model.fast.quantize == warm.model.fast.quantize == "w8a8"
    folder = runtime_dir(settings(), runtime_key(settings()) or {})
    with safe_open(folder / "weights.safetensors", "pt") as entry:
        names = set(entry.keys())
    assert {
        "layers.0.gate_up.int8",
        "layers.0.gate_up.scales",
        "layers.0.gate_up.smooth",
        "lm_head.int8",
    } <= names
    assert "layers.0.qkv.int8" not in names  # q/k/v read half precision, packed as it loads
    assert warm.model.fast.layers[0].qkv.half is not None
    assert isinstance(warm.model.fast.lm_head.int8, quant.SmoothInt8)
    for want, got in zip(
        decode(cold.model.fast, PROMPT, 3), decode(warm.model.fast, PROMPT, 3), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.slow
def test_the_shipped_model_keeps_its_perplexity_in_w8a8() -> None:
    """The shipped model calibrated and quantised as the weight cache does it, on a screenplay
    scene it never saw: next-token distributions close to float32's, perplexity within 3%."""
    from model.loading import bot_adapter, calibration_rows

    loaded = load_model(ModelSettings(adapter=bot_adapter("", ""), dtype="float32"))
    scene = (
        "INT. BUS DEPOT - DAWN\n\nJUNE counts coins on the ticket counter. The CLERK waits.\n\n"
        "CLERK\nYou're two short.\n\nJUNE\n(searching her coat)\nI had it this morning.\n\n"
        "CLERK\nEveryone had it this morning.\n\nShe pushes her wristwatch across the glass."
    )
    scored = scene_scorer(loaded.tokenizer, scene)

    plain, plain_logp = scored(FastLlama(loaded.model, quantize="off"))
    fast = FastLlama(loaded.model, quantize="w8a8")
    fast.smooth_quantize(calibration_rows(loaded.tokenizer), fastpath.fast_weights(loaded.model))
    w8a8, w8a8_logp = scored(fast)
    divergence = float((plain_logp.exp() * (plain_logp - w8a8_logp)).sum(-1).mean())
    assert 0 < divergence < 0.05, divergence
    # Sixty tokens move perplexity by chance far more than the 32 held-out examples of
    # `bench.quant_quality` (README): the distributions' distance is the tight bound.
    assert abs(w8a8 / plain - 1) < 0.06, (plain, w8a8)
    agree = (plain_logp.argmax(-1) == w8a8_logp.argmax(-1)).float().mean()
    assert float(agree) > 0.85


def test_the_bot_reads_its_quantisation_from_the_env_file_keys() -> None:
    from bot.settings import SettingsError, load_settings

    assert load_settings(env_file=None, environ={}).quantize == ""
    assert load_settings(env_file=None, environ={"QUANTIZE": "off"}).quantize == "off"
    assert load_settings(env_file=None, environ={"QUANTIZE": "fp16"}).quantize == "fp16"
    from bot.settings import QUANTIZE_SCHEMES

    assert QUANTIZE_SCHEMES == quant.SCHEMES
    with pytest.raises(SettingsError, match="QUANTIZE"):
        load_settings(env_file=None, environ={"QUANTIZE": "int4"})


def test_a_weight_past_half_precisions_range_keeps_its_own_dtype() -> None:
    """A weight with a value past 65,504 (or a NaN) gets no half-precision copy: rounded, it
    would read as infinity; the product reads the weight as it is instead."""
    assert quant.HalfWeight.of(torch.full((4, 8), 70_000.0)) is None
    assert quant.HalfWeight.of(torch.tensor([[0.5, float("nan")]])) is None
    fine = quant.HalfWeight.of(torch.full((4, 8), 0.25))
    assert fine is not None
    torch.testing.assert_close(fine(torch.ones(1, 8)), torch.full((1, 4), 2.0))


def test_fp16_reads_the_plain_weight_cache_and_packs_as_it_loads(
    saved: Path, tmp_path: Path
) -> None:
    def settings(quantize: str) -> ModelSettings:
        return cached(saved, tmp_path, quantize)

    plain = load_model(settings("off"))
    half = load_model(settings("fp16"))  # the cache `off` wrote, read again
    assert runtime_dir(settings("fp16"), runtime_key(settings("fp16")) or {}) == runtime_dir(
        settings("off"), runtime_key(settings("off")) or {}
    )
    assert half.model.fast.quantize == "fp16" and plain.model.fast.quantize == "off"
    assert half.model.fast.layers[0].down.half is not None
    for want, got in zip(
        decode(plain.model.fast, PROMPT, 3), decode(half.model.fast, PROMPT, 3), strict=True
    ):
        assert float((got - want).abs().max()) < 0.005 * float(want.std())


def test_a_width_the_kernel_cannot_read_in_blocks_keeps_its_own_products() -> None:
    """The kernel's vectorised code reads 16 inputs at a time with no code for a remainder: a
    product 40 wide would be summed wrong, so it is not given an int8 copy; 64 is."""
    narrow, wide = torch.randn(8, 40), torch.randn(8, 64)
    assert not quant.Int8Weight.fits(narrow) and quant.Int8Weight.fits(wide)
    assert fastpath._int8_of({}, "layers.0.o", narrow, "int8") is None
    made = fastpath._int8_of({}, "layers.0.o", wide, "int8")
    assert isinstance(made, quant.Int8Weight) and made.values.shape == (8, 64)
