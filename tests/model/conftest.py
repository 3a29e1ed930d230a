"""Fixtures of the generation tests: a tiny random Llama (no download) with the default
model's tokenizer, and the real default model for the few end-to-end tests (marked `slow`,
run by default; `-m "not slow"` skips them)."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
#: The fast path's forward built from a model runs its weights as they are: the engine tests
#: compare it with the Hugging Face forward exactly. The int8 path has tests of its own
#: (test_quant.py), which ask for it.
os.environ.setdefault("WRITERS_ROOM_QUANTIZE", "off")
#: WRITERS_ROOM_TEST_DEVICE=cuda runs the engine tests' models on a GPU (bench/gpu.sh does).
TEST_DEVICE = os.environ.get("WRITERS_ROOM_TEST_DEVICE", "cpu")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: runs the real default model (tens of seconds on a small CPU)"
    )


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from model.loading import default_model_dir

    return AutoTokenizer.from_pretrained(default_model_dir())


@pytest.fixture(scope="session")
def tiny_model(tokenizer: Any) -> Any:
    """A two-layer Llama with random weights: fast, and its output is arbitrary tokens, so
    lengths are governed by the token budget alone (tests pass no stop tokens)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    # The queue's thread policy (all cores but one), for the tests that drive the engine alone.
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval().to(TEST_DEVICE)


@pytest.fixture(scope="session")
def small_vocab_model() -> Any:
    """A tiny random Llama whose output depends on positions and cache contents: with the
    tokenizer's 49k-token vocabulary a random model this small hardly does, and an off-by-one
    position or an unwritten cache column went unseen."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config).eval().to(TEST_DEVICE)


@pytest.fixture(scope="session")
def default_model() -> Any:
    from model.loading import load_model

    return load_model()
