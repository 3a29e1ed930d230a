"""The lean Llama forward: the same logits as Hugging Face's forward (its cache growing as it
goes), the same engine output with it (the slot engine) or without it (the Hugging Face engine),
and the Hugging Face path for models it does not support."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from model import fastpath
from model.batch import PromptGroup, TokenEvent
from model.engine import Engine
from model.fastpath import FastLlama, supports
from model.slots import SlotEngine
from model.tasks import Sampling
from model.worker import make_engine
from tests.model.conftest import TEST_DEVICE

GREEDY = Sampling(temperature=0.0, repetition_penalty=1.0, max_new_tokens=10)


def left_padded(prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ids, mask and positions of a left-padded batch, on the test models' device."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts], device=TEST_DEVICE)
    mask = torch.tensor(
        [[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=TEST_DEVICE
    )
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return ids, mask, positions


def hf_and_fast_logits(
    model: Any, fast: FastLlama, prompts: list[list[int]], steps: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Last-position logits of both forwards, prefill then `steps` greedy decode steps."""
    from transformers import DynamicCache

    ids, mask, positions = left_padded(prompts)
    cache = DynamicCache(config=model.config)
    kv = fast.new_cache(len(prompts), 2)  # tiny: forces the buffers to grow
    pairs = []
    with torch.inference_mode():
        for _ in range(steps + 1):
            out = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
            )
            logits = fast.forward(ids, positions, kv, mask)
            pairs.append((out.logits[:, -1].float(), logits.float()))
            ids = logits.argmax(-1)[:, None]
            positions = positions[:, -1:] + 1
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
    return pairs


@pytest.mark.parametrize("prepack", [False, True])
def test_logits_match_hugging_face_on_a_left_padded_batch(tiny_model: Any, prepack: bool) -> None:
    # The cache in the model's own dtype: the same arithmetic as Hugging Face's.
    fast = FastLlama(tiny_model, prepack=prepack, kv_cache="model")
    prompts = [[5, 17, 300, 41], [900, 12, 33, 44, 55, 66, 77, 88, 99], [7]]
    for want, got in hf_and_fast_logits(tiny_model, fast, prompts, steps=6):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("kv_cache", "tolerance"), [("float16", 1e-3), ("bfloat16", 1e-2)])
def test_a_half_precision_cache_decodes_as_the_model_does(
    tiny_model: Any, kv_cache: str, tolerance: float
) -> None:
    """Keys and values kept in half precision (the default where a CPU computes in float32):
    logits within the rounding of the cache, the same greedy token at every step."""
    fast = FastLlama(tiny_model, kv_cache=kv_cache)
    assert fast.kv_dtype == getattr(torch, kv_cache)
    assert fast.new_cache(1, 4).keys[0].dtype == fast.kv_dtype
    prompts = [[5, 17, 300, 41], [900, 12, 33, 44, 55, 66, 77, 88, 99], [7]]
    for want, got in hf_and_fast_logits(tiny_model, fast, prompts, steps=6):
        torch.testing.assert_close(got, want, atol=tolerance, rtol=tolerance)
        assert torch.equal(got.argmax(-1), want.argmax(-1))


def test_a_cpu_computing_in_float32_keeps_keys_and_values_in_float16(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decode step reads every row's whole cache once a layer, and at 32 rows the shipped
    model's float32 cache outweighed its weights: `auto` keeps it in float16 where a CPU
    computes in float32, and the slot engine's buffers then take half the bytes a position (so
    twice the columns fit its budget). Elsewhere the model's dtype; settings by name, from the
    environment, and a wrong one said in a sentence, before any loading."""
    from bot.settings import KV_CACHE_SETTINGS, SettingsError, load_settings
    from model.loading import ModelLoadError, ModelSettings, load_model

    resolve, cpu = fastpath.resolve_kv_cache, torch.device("cpu")
    monkeypatch.delenv(fastpath.KV_CACHE_ENV, raising=False)
    assert resolve("", cpu, torch.float32) == resolve("auto", cpu, torch.float32) == torch.float16
    assert resolve("auto", cpu, torch.bfloat16) == torch.bfloat16
    assert resolve("auto", torch.device("cuda"), torch.float32) == torch.float32
    assert resolve("model", cpu, torch.float32) == torch.float32
    assert resolve("bfloat16", cpu, torch.float32) == torch.bfloat16
    monkeypatch.setenv(fastpath.KV_CACHE_ENV, "float32")
    assert resolve("", cpu, torch.float32) == torch.float32
    assert resolve("float16", cpu, torch.float32) == torch.float16  # a setting beats the variable
    with pytest.raises(ValueError, match="float16"):
        resolve("int4", cpu, torch.float32)

    monkeypatch.setenv(fastpath.KV_CACHE_ENV, "model")
    full = SlotEngine(tiny_model, stop_token_ids=())
    monkeypatch.delenv(fastpath.KV_CACHE_ENV)
    half = SlotEngine(tiny_model, stop_token_ids=())
    if TEST_DEVICE == "cpu":
        assert half.fast.kv_dtype == torch.float16 and half.cache.keys[0].dtype == torch.float16
        assert half.column_bytes * 2 == full.column_bytes

    assert KV_CACHE_SETTINGS == fastpath.KV_CACHE_SETTINGS
    assert load_settings(env_file=None, environ={"KV_CACHE": "float32"}).kv_cache == "float32"
    with pytest.raises(SettingsError, match="KV_CACHE"):
        load_settings(env_file=None, environ={"KV_CACHE": "fp8"})
    with pytest.raises(ModelLoadError, match="key/value cache") as raised:
        load_model(ModelSettings(model="/nonexistent", kv_cache="fp8", for_queue=True))
    assert raised.value.kind == "kv_cache" and raised.value.fields["value"] == "fp8"


def test_bfloat16_logits_match_hugging_face_within_rounding() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        tie_word_embeddings=True,
        rope_theta=500.0,
        rms_norm_eps=1e-5,
    )
    model = LlamaForCausalLM(config).to(TEST_DEVICE, torch.bfloat16).eval()
    fast = FastLlama(model)
    for want, got in hf_and_fast_logits(model, fast, [[3, 4, 5, 6, 7], [9, 10]], steps=4):
        torch.testing.assert_close(got, want, atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("architecture", ["qwen2", "mistral"])
def test_same_math_architectures_match_too(architecture: str) -> None:
    from transformers import MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(2)
    sizes: dict[str, Any] = dict(
        vocab_size=300,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    model: Any
    if architecture == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**sizes)).eval()
        for layer in model.model.layers:  # q/k/v biases start at zero: make them count
            for projection in (layer.self_attn.q_proj, layer.self_attn.k_proj):
                torch.nn.init.normal_(projection.bias)
    else:
        model = MistralForCausalLM(MistralConfig(sliding_window=None, **sizes)).eval()
        assert not supports(MistralForCausalLM(MistralConfig(sliding_window=64, **sizes)))
    model.to(TEST_DEVICE)
    fast = FastLlama(model, kv_cache="model")
    for want, got in hf_and_fast_logits(model, fast, [[3, 4, 5, 6], [7, 8]], steps=3):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def run_scenario(model: Any) -> dict[int, list[int]]:
    """Joins, takes sharing a prompt, a penalty, seeded sampling and a drop mid-way."""
    got: dict[int, list[int]] = {}

    def collect(events: list[TokenEvent]) -> None:
        for event in events:
            if event.token_id is not None:
                got.setdefault(event.seq_id, []).append(event.token_id)

    penalised = Sampling(temperature=0.0, repetition_penalty=1.3, max_new_tokens=10)
    seeded = Sampling(temperature=1.2, top_k=40, top_p=0.9, max_new_tokens=10, seed=7)
    engine = make_engine(model, stop_token_ids=(), max_batch=8)
    collect(engine.add([PromptGroup((5, 17, 300, 41), (0,), (GREEDY,))]))
    for _ in range(3):
        collect(engine.step())
    collect(engine.add([PromptGroup(tuple(range(30, 42)), (1, 2, 3), (penalised, seeded, GREEDY))]))
    for _ in range(2):
        collect(engine.step())
    engine.drop([3])
    collect(engine.add([PromptGroup((7,), (4,), (GREEDY,))]))
    while engine.active:
        collect(engine.step())
    return got


def test_engine_output_is_the_same_with_the_fast_path_on_or_off(
    tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(fastpath.ENV_SWITCH, "0")
    assert isinstance(make_engine(tiny_model, stop_token_ids=()), Engine)
    off = run_scenario(tiny_model)
    monkeypatch.setenv(fastpath.ENV_SWITCH, "1")
    assert isinstance(make_engine(tiny_model, stop_token_ids=()), SlotEngine)
    on = run_scenario(tiny_model)
    assert on == off
    assert sorted(on) == [0, 1, 2, 3, 4] and len(on[0]) == len(on[4]) == 10


def test_unsupported_models_keep_the_hugging_face_path() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=32, n_layer=2, n_head=2)).eval()
    assert not supports(gpt2)
    scaled = LlamaConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        rope_scaling={"rope_type": "linear", "factor": 2.0},
    )
    assert not supports(LlamaForCausalLM(scaled))

    engine = make_engine(gpt2, stop_token_ids=(), max_batch=4)
    assert isinstance(engine, Engine)
    got: dict[int, list[int]] = {}
    prompts = {0: (5, 6, 7, 8), 1: (9, 10)}
    for seq_id, prompt in prompts.items():
        for event in engine.add([PromptGroup(prompt, (seq_id,), (GREEDY,))]):
            got.setdefault(event.seq_id, []).append(event.token_id or -1)
    while engine.active:
        for event in engine.step():
            got.setdefault(event.seq_id, []).append(event.token_id or -1)
    for seq_id, prompt in prompts.items():
        out = gpt2.generate(
            torch.tensor([prompt]),
            max_new_tokens=GREEDY.max_new_tokens,
            do_sample=False,
            pad_token_id=0,
            eos_token_id=None,
        )
        assert got[seq_id] == out[0, len(prompt) :].tolist()


def test_the_forward_rebuilt_from_its_weights_runs_like_the_model(tiny_model: Any) -> None:
    weights = fastpath.fast_weights(tiny_model)
    assert "lm_head" not in weights  # tied to the embedding: kept once
    shape = fastpath.Shape.of(tiny_model.config)
    rebuilt = fastpath.FastLlama.from_weights(weights, shape)
    direct = FastLlama(tiny_model)
    prompts = [[5, 17, 300, 41], [900, 12, 33, 44, 55, 66, 77, 88, 99], [7]]
    ids, mask, positions = left_padded(prompts)
    with torch.inference_mode():
        want = direct.forward(ids, positions, direct.new_cache(3, 9), mask)
        got = rebuilt.forward(ids, positions, rebuilt.new_cache(3, 9), mask)
    torch.testing.assert_close(got, want, rtol=0, atol=0)

    config = tiny_model.config.to_dict()
    model = fastpath.FastModel(rebuilt, config, {"eos_token_id": 2})
    assert supports(model) and isinstance(make_engine(model, stop_token_ids=()), SlotEngine)
    assert run_scenario(model) == run_scenario(tiny_model)
