"""Fixtures of the training tests: the shipped corpus parsed once, a small folder of its scripts,
and a tiny randomly initialised Llama saved with the default model's tokenizer (no download),
which the fine-tune and the evaluation load like any model directory."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from training.data import CORPUS_DIR, Script, Splits, build_splits, load_scripts
from training.finetune import SPLIT_FILE

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: Scripts of the small data folder: three English (one each for train, validation and test
#: after the split) and a Chinese one, so both writing systems go through the pipeline.
SMALL = ("comedy-dead-air", "drama-quarry-road", "romance-still-here", "zh-drama-the-47th-order")


@pytest.fixture(scope="session")
def corpus() -> list[Script]:
    return load_scripts()


@pytest.fixture(scope="session")
def splits() -> Splits:
    return build_splits()


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    from model.loading import default_model_dir

    return AutoTokenizer.from_pretrained(default_model_dir())


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Path:
    """A two-layer Llama with random weights and the default tokenizer, saved as a model dir."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of four corpus scripts with their cast sheets."""
    folder = tmp_path_factory.mktemp("small-corpus")
    for name in SMALL:
        for suffix in (".fountain", ".cast.json"):
            shutil.copy(CORPUS_DIR / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder


@pytest.fixture(scope="session")
def tiny_adapter(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A LoRA adapter of the tiny model with random weights, and the split it records."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    lora = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, weight in lora.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("adapter")
    lora.save_pretrained(out)
    split = {"data": "", "test": ["drama-quarry-road"], "val": [], "train": ["comedy-dead-air"]}
    (out / SPLIT_FILE).write_text(json.dumps(split), encoding="utf-8")
    return out
