"""The larger models a lent GPU times with random weights (`bench.random_weights`,
`bench/gpu.sh`): their configs are the published architectures, and a model written from one
trains and serves like any model directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bench import random_weights
from bench.queue import random_model
from model.loading import ModelSettings
from training import finetune

MODELS = Path(random_weights.__file__).parent / "models"


@pytest.mark.parametrize(
    ("name", "parameters"),
    [("qwen2.5-1.5b-instruct", 1_543_714_304), ("qwen2.5-7b-instruct", 7_615_616_512)],
)
def test_the_configs_are_the_published_models(name: str, parameters: int) -> None:
    """The parameter counts Qwen publishes for its instruct models: a wrong width or depth in a
    config would time another model than the one the README names."""
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(MODELS / name)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert sum(p.numel() for p in model.parameters()) == parameters


@pytest.fixture(scope="module")
def narrow_qwen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 1.5B config made two layers deep and 64 wide, its vocabulary kept: no tokenizer."""
    config = json.loads((MODELS / "qwen2.5-1.5b-instruct" / "config.json").read_text())
    config |= {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    }
    folder = tmp_path_factory.mktemp("narrow-qwen")
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_model_written_from_a_config_trains_like_any_model(
    narrow_qwen: Path, small_corpus: Path, tmp_path: Path
) -> None:
    written = random_weights.write(narrow_qwen, tmp_path / "model", "cpu", "float32")
    assert (written / "model.safetensors").is_file()
    # The default model's tokenizer and chat template came with it: the fine-tune builds the
    # examples in them, while the model keeps its own vocabulary.
    assert (written / "tokenizer.json").is_file()
    metrics = finetune.main(
        [
            "--model",
            str(written),
            "--data",
            str(small_corpus),
            "--out",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
            "--eval-every",
            "2",
            "--val-limit",
            "2",
            "--batch-size",
            "2",
            "--max-len",
            "96",
            "--threads",
            "2",
        ]
    )
    assert metrics["steps"] == 2 and metrics["train_tokens_per_s"] > 0
    assert (tmp_path / "run" / "adapter" / "adapter_config.json").is_file()


def test_the_queue_benchmark_serves_a_config_without_a_tokenizer(narrow_qwen: Path) -> None:
    loaded = random_model(str(narrow_qwen), ModelSettings(device="cpu", dtype="float32"))
    assert loaded.model.config.vocab_size == 151_936
    assert loaded.tokenizer.chat_template  # the default model's, borrowed
    ids = loaded.tokenizer("INT. KITCHEN - NIGHT", return_tensors="pt")["input_ids"]
    out = loaded.model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 4
