"""Smoke runs of the fine-tune on a tiny random Llama (what CI runs); the evaluation's are in
test_evaluate.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from model.loading import ModelSettings, load_model
from model.prompts import PROMPT_FORMAT
from training import finetune


def _args(model: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        "--batch-size",
        "4",
        "--max-len",
        "128",
        "--warmup-steps",
        "1",
        "--lr",
        "1e-2",
        "--eval-every",
        "2",
        *extra,
    ]


@pytest.fixture(scope="module")
def lora_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, small_corpus: Path
) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("lora")
    metrics = finetune.main(_args(tiny_model_dir, small_corpus, out, "--max-steps", "4"))
    return out, metrics


def test_a_short_lora_run_writes_adapter_metrics_and_curve(
    lora_run: tuple[Path, dict[str, Any]],
) -> None:
    out, metrics = lora_run
    assert (out / "adapter" / "adapter_config.json").is_file()
    # The bot asks an adapter in the prompt format its examples were built in.
    config = json.loads((out / "adapter" / "training_config.json").read_text())
    assert config["prompt_format"] == PROMPT_FORMAT
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["steps"] == metrics["steps"] == 4
    assert saved["config"]["max_steps"] == 4
    assert saved["train_examples"] > 0 and saved["val_examples"] > 0
    # Even four steps teach a random model which tokens a screenplay uses.
    assert saved["best_val_loss"] < saved["base_val_loss"]
    steps = [h["step"] for h in saved["history"] if "train_loss" in h]
    assert steps == [1, 2, 3, 4]
    # How long a room's own run will take: each step's time and the tokens it read, their
    # ratio for the whole run (the validations apart), the GPU's memory where there is one.
    trained = [h for h in saved["history"] if "train_loss" in h]
    assert all(h["seconds"] > 0 and h["tokens"] > 0 for h in trained)
    rate = sum(h["tokens"] for h in trained) / sum(h["seconds"] for h in trained)
    assert saved["train_tokens_per_s"] == pytest.approx(rate, rel=0.01)
    assert saved["peak_gpu_mb"] is None
    split = json.loads((out / "adapter" / finetune.SPLIT_FILE).read_text())
    assert split["data"] == saved["config"]["data"]
    assert split["test"] and set(split["test"]).isdisjoint(split["train"])


def test_resume_continues_from_the_checkpoint(
    lora_run: tuple[Path, dict[str, Any]], tiny_model_dir: Path, small_corpus: Path
) -> None:
    out, first = lora_run
    metrics = finetune.main(
        _args(tiny_model_dir, small_corpus, out, "--max-steps", "6", "--resume")
    )
    assert metrics["steps"] == 6
    trained = [h for h in metrics["history"] if "train_loss" in h]
    assert [h["step"] for h in trained] == [1, 2, 3, 4, 5, 6]
    assert trained[:4] == [h for h in first["history"] if "train_loss" in h]
    assert metrics["base_val_loss"] is None  # no second evaluation of the untrained model


def test_a_run_continues_from_a_checkpoint_kept_elsewhere(
    lora_run: tuple[Path, dict[str, Any]], tmp_path: Path, tiny_model_dir: Path, small_corpus: Path
) -> None:
    """--resume-from: a checkpoint carried from another session's run folder (a fresh clone
    has no runs/) continues at its step, with its optimizer's moments (kept in bf16)."""
    out, _ = lora_run
    kept = tmp_path / "kept.pt"
    kept.write_bytes((out / "checkpoint" / "state.pt").read_bytes())
    state = torch.load(kept, weights_only=False)
    moments = [v for entry in state["optimizer"]["state"].values() for v in entry.values()]
    assert any(isinstance(v, torch.Tensor) and v.dtype == torch.bfloat16 for v in moments)
    at, until = state["step"], state["step"] + 2
    args = _args(tiny_model_dir, small_corpus, tmp_path / "next", "--max-steps", str(until))
    metrics = finetune.main([*args, "--resume-from", str(kept)])
    trained = [h["step"] for h in metrics["history"] if "train_loss" in h]
    assert trained == list(range(1, until + 1)) and metrics["steps"] == until
    assert metrics["history"][: len(state["history"])] == state["history"]
    assert at > 0
    assert (tmp_path / "next" / "checkpoint" / "state.pt").is_file()


def test_a_long_run_checkpoints_between_validations(
    tmp_path: Path, tiny_model_dir: Path, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --save-every, a long CPU run stopped between two validations loses at most that
    many steps: step 3 is checkpointed although the first validation is at the run's end."""
    saved: list[int] = []
    save = finetune._save_state

    def recording(t: finetune.Trainer) -> None:
        saved.append(t.run.step)
        save(t)

    monkeypatch.setattr(finetune, "_save_state", recording)
    every = ["--eval-every", "10", "--save-every", "3"]
    finetune.main(_args(tiny_model_dir, small_corpus, tmp_path, "--max-steps", "4", *every))
    assert saved == [3, 4]
    state = torch.load(tmp_path / "checkpoint" / "state.pt", weights_only=False)
    assert state["step"] == 4


def test_validation_on_a_limited_share_keeps_every_part_of_the_split(
    tmp_path: Path, tiny_model_dir: Path, small_corpus: Path
) -> None:
    """--val-limit: a CPU run validates on a fixed subset spread over the whole split (it is
    ordered by script and task), not on its first scripts only."""
    items = [f"{script}-{task}" for script in "ABC" for task in range(6)]
    picked = finetune.spread(items, 6)
    assert picked == ["A-0", "A-3", "B-0", "B-3", "C-0", "C-3"]
    assert finetune.spread(items, 0) == items == finetune.spread(items, 99)
    full = finetune.main(_args(tiny_model_dir, small_corpus, tmp_path / "a", "--max-steps", "2"))
    limited = finetune.main(
        _args(tiny_model_dir, small_corpus, tmp_path / "b", "--max-steps", "2", "--val-limit", "2")
    )
    assert limited["val_examples"] == 2 < full["val_examples"]
    assert limited["base_val_loss"] != full["base_val_loss"]


def test_full_fine_tuning_saves_a_whole_model(
    tmp_path: Path, tiny_model_dir: Path, small_corpus: Path
) -> None:
    metrics = finetune.main(
        _args(tiny_model_dir, small_corpus, tmp_path, "--max-steps", "2", "--full")
    )
    assert metrics["steps"] == 2
    assert not (tmp_path / "adapter" / "adapter_config.json").exists()
    loaded = load_model(ModelSettings(model=str(tmp_path / "adapter"), dtype="float32"))
    trained = sum(p.numel() for p in loaded.model.parameters())
    assert trained == metrics["trainable_parameters"]


def test_a_run_can_teach_one_task_alone(
    tmp_path: Path, tiny_model_dir: Path, small_corpus: Path
) -> None:
    """--tasks: a continued run that teaches the beats afresh (their examples are now the next
    scene's synopsis) trains and validates on beat examples only."""
    splits = finetune.build_splits(str(small_corpus))
    beats = finetune.only_tasks(splits, "beat")
    assert beats.train and {e.kind.value for e in beats.train + beats.val} == {"beat"}
    assert finetune.only_tasks(splits, "") == splits
    with pytest.raises(SystemExit, match="task kinds"):
        finetune.only_tasks(splits, "beats")
    run = finetune.main(
        _args(tiny_model_dir, small_corpus, tmp_path / "b", "--max-steps", "1", "--tasks", "beat")
    )
    assert run["train_examples"] == len(beats.train) and run["val_examples"] == len(beats.val)


def test_a_run_on_every_task_can_see_one_of_them_more_often(
    tmp_path: Path, tiny_model_dir: Path, small_corpus: Path
) -> None:
    """--oversample beat=3: the beats (taught afresh) come three times an epoch beside the other
    tasks, so the run does not unlearn those; validation is the split's as it is."""
    splits = finetune.build_splits(str(small_corpus))
    more = finetune.oversampled(splits, "beat=3, scene=1")
    beats = [e for e in splits.train if e.kind.value == "beat"]
    assert beats and len(more.train) == len(splits.train) + 2 * len(beats)
    assert [e for e in more.train if e.kind.value == "beat"] == [b for b in beats for _ in "xyz"]
    assert more.val == splits.val and finetune.oversampled(splits, "") == splits
    for bad in ("beats=3", "beat=0", "beat", "beat=two", "beat=2,beat=3"):
        with pytest.raises(SystemExit, match="KIND=N"):
            finetune.oversampled(splits, bad)
        # Refused as the command is read, before minutes go on loading a model.
        with pytest.raises(SystemExit, match="KIND=N"):
            finetune.parse_args(["--oversample", bad])
    with pytest.raises(SystemExit, match="--dpo"):
        finetune.parse_args(["--oversample", "beat=3", "--dpo", "prefs.jsonl"])
    with pytest.raises(SystemExit, match="no training examples of beat"):
        finetune.oversampled(finetune.only_tasks(splits, "scene"), "beat=3")
    run = finetune.main(
        _args(
            tiny_model_dir,
            small_corpus,
            tmp_path / "o",
            "--max-steps",
            "1",
            "--oversample",
            "beat=3",
        )
    )
    assert run["train_examples"] == len(more.train) and run["val_examples"] == len(splits.val)
