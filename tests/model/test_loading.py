"""Loading a local model directory with a LoRA adapter, and the sentences for bad settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from model.loading import SHIPPED_ADAPTER, ModelLoadError, ModelSettings, bot_adapter, load_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory, tiny_model: Any, tokenizer: Any) -> Path:
    directory = tmp_path_factory.mktemp("tiny")
    tiny_model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_a_local_model_with_a_lora_adapter(saved: Path, tmp_path: Path, tiny_model: Any) -> None:
    from peft import LoraConfig, get_peft_model

    # A freshly initialised LoRA is a no-op; random weights make the adapter visible.
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    adapter_dir = tmp_path / "screenplay-lora"
    get_peft_model(load_model(ModelSettings(model=str(saved))).model, config).save_pretrained(
        adapter_dir
    )

    base = load_model(ModelSettings(model=str(saved), dtype="float32"))
    tuned = load_model(ModelSettings(model=str(saved), adapter=str(adapter_dir), dtype="float32"))
    assert base.name == saved.name and tuned.name == f"{saved.name}+screenplay-lora"
    assert tuned.dtype == torch.float32 and tuned.device.type == "cpu"
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        assert not torch.allclose(base.model(ids).logits, tuned.model(ids).logits)
        assert torch.allclose(base.model(ids).logits, tiny_model(ids).logits, atol=1e-5)


def test_bad_settings_say_what_to_fix(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"has no adapter_config\.json"):
        load_model(ModelSettings(model=str(saved), adapter=str(tmp_path)))
    with pytest.raises(ModelLoadError, match="neither a local model directory"):
        load_model(ModelSettings(model=str(tmp_path / "nowhere")))
    with pytest.raises(ModelLoadError, match="Unknown dtype 'float8'"):
        load_model(ModelSettings(model=str(saved), dtype="float8"))


def test_the_bot_runs_the_default_model_with_the_shipped_adapter() -> None:
    # The shipped adapter is part of the repository: a missing one would silently fall back to
    # the untuned model, whose takes are rarely screenplay pages.
    assert (SHIPPED_ADAPTER / "adapter_config.json").is_file()
    assert (SHIPPED_ADAPTER / "adapter_model.safetensors").is_file()
    assert bot_adapter("", "") == str(SHIPPED_ADAPTER)
    assert bot_adapter("", " None ") == ""  # the writer's way to run the base model
    assert bot_adapter("", "runs/lora/adapter") == "runs/lora/adapter"
    # An adapter trained for SmolLM2 means nothing to another model.
    assert bot_adapter("gpt2", "") == ""
