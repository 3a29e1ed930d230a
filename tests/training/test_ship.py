"""`python -m training.ship`: a fine-tune's adapter becomes the bot's, in bf16, with what the bot
and the evaluation read beside it, and the model card left alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model.loading import adapter_prompt_format
from training import ship
from training.finetune import SPLIT_FILE


def _run(tmp_path: Path, adapter: Path) -> Path:
    """A finished fine-tune's folder around `adapter`, as `training.finetune --out` leaves it."""
    run = tmp_path / "run"
    shutil.copytree(adapter, run / "adapter")
    (run / "adapter" / "training_config.json").write_text(json.dumps({"prompt_format": 2}))
    (run / "adapter" / "tokenizer.json").write_text("{}")  # the base model's: not shipped
    history = [
        {"step": 0, "val_loss": 3.2433},
        {"step": 1, "train_loss": 3.4, "lr": 1e-4},
        {"step": 40, "val_loss": 2.8908},
        {"step": 80, "val_loss": 2.801234},
        {"step": 120, "val_loss": 2.8105},
    ]
    (run / "metrics.json").write_text(json.dumps({"history": history}))
    return run


def test_the_adapter_ships_in_bf16_and_answers_as_it_did(
    tiny_adapter: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    run = _run(tmp_path, tiny_adapter)
    to = tmp_path / "shipped"
    to.mkdir()
    (to / "README.md").write_text("# the model card, written by hand\n")
    assert ship.main([str(run), "--to", str(to)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["steps"], printed["best_step"]) == (120, 80)

    assert (to / "README.md").read_text() == "# the model card, written by hand\n"
    assert sorted(p.name for p in to.iterdir()) == sorted(
        [
            "README.md",
            "adapter_config.json",
            "adapter_model.safetensors",
            "training_config.json",
            SPLIT_FILE,
            "training_run.json",
        ]
    )
    weights = load_file(to / "adapter_model.safetensors")
    assert {w.dtype for w in weights.values()} == {torch.bfloat16}
    assert printed["bytes"] < (run / "adapter" / "adapter_model.safetensors").stat().st_size
    assert adapter_prompt_format(str(to)) == 2  # the bot asks in the format it learned
    summary = json.loads((to / "training_run.json").read_text())
    assert summary["validation"][2] == {"step": 80, "val_loss": 2.8012}

    ids = torch.tensor([[1, 5, 9, 42, 7, 3]])
    logits = []
    for adapter in (run / "adapter", to):
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
        with torch.no_grad():
            logits.append(merged(ids).logits)
    assert torch.allclose(logits[0], logits[1], atol=0.05)
    plain = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        assert not torch.allclose(plain(ids).logits, logits[1], atol=0.05)  # the adapter counts


def test_a_run_without_a_saved_adapter_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run" / "adapter").mkdir(parents=True)
    assert ship.main([str(tmp_path / "run"), "--to", str(tmp_path / "to")]) == 2
    said = capsys.readouterr().err.strip()
    assert said.endswith("missing.") and "adapter_model.safetensors" in said
    assert "\n" not in said
    assert not (tmp_path / "to").exists()
