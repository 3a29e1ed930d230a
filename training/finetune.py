"""Fine-tune the bot's model on screenplay tasks: LoRA by default, full fine-tuning as an option,
and DPO on the room's own votes.

Reads top to bottom: the config, a few helpers (tokenising an example with the loss on answer
tokens only, the learning-rate schedule, evaluation), then the loop. Runs on CPU, one GPU, or
several through `accelerate launch -m training.finetune ...`. Knows nothing of Discord or rooms:
examples come from `training.data` (chat messages in the bot's own prompt format plus the answer)
and preference pairs from `training.prefs`.

    python -m training.finetune --out runs/lora            # LoRA on the shipped corpus
    python -m training.finetune --max-steps 20 --out /tmp/smoke
    python -m training.finetune --dpo prefs.jsonl --adapter runs/lora/adapter --out runs/dpo
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from training.data import Example, PreferencePair, build_splits, load_preferences

_log = logging.getLogger(__name__)

IGNORE = -100
#: Beside a saved adapter: the data source and the script names of each split it was trained
#: with, so that `training.evaluate` holds out exactly the scripts it never saw.
SPLIT_FILE = "data_split.json"


# --- config -----------------------------------------------------------------------------------


@dataclass
class Config:
    out: str = "runs/lora"
    model: str = ""  # empty: the bot's default base model
    adapter: str = ""  # start from an existing adapter (DPO after SFT, or continued training)
    data: str = ""  # empty: the shipped corpus; hf:NAME: a Hugging Face dataset
    full: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lr: float = 2e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    max_steps: int = 120
    batch_size: int = 8
    grad_accum: int = 1
    max_len: int = 640
    eval_every: int = 20
    patience: int = 4
    weight_decay: float = 0.0
    seed: int = 1234
    resume: bool = False
    dpo: str = ""  # a prefs.jsonl: train with DPO on these pairs instead of SFT
    dpo_beta: float = 0.1
    dtype: str = "auto"
    threads: int = 0


def parse_args(argv: Sequence[str] | None = None) -> Config:
    p = argparse.ArgumentParser(
        prog="python -m training.finetune", description=__doc__.split("\n")[0]
    )
    d = Config()
    p.add_argument(
        "--out", default=d.out, help="run directory: checkpoints, adapter, metrics, curve"
    )
    p.add_argument(
        "--model", default=d.model, help="HF model id or local dir (default: bot's base model)"
    )
    p.add_argument("--adapter", default=d.adapter, help="LoRA adapter dir to start from")
    p.add_argument(
        "--data",
        default=d.data,
        help="folder of .fountain/.fdx scripts, or hf:NAME for a Hugging Face dataset of Fountain "
        "texts (default: the shipped corpus)",
    )
    p.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    p.add_argument("--lora-r", type=int, default=d.lora_r, help="LoRA rank")
    p.add_argument(
        "--lora-alpha", type=int, default=d.lora_alpha, help="LoRA alpha (scale = alpha / r)"
    )
    p.add_argument("--lora-dropout", type=float, default=d.lora_dropout, help="LoRA dropout")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate (AdamW)")
    p.add_argument(
        "--min-lr-ratio", type=float, default=d.min_lr_ratio, help="final lr as a share of --lr"
    )
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="linear warmup steps")
    p.add_argument("--max-steps", type=int, default=d.max_steps, help="optimizer steps in all")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per micro-batch")
    p.add_argument(
        "--grad-accum", type=int, default=d.grad_accum, help="micro-batches per optimizer step"
    )
    p.add_argument(
        "--max-len", type=int, default=d.max_len, help="truncate examples to this many tokens"
    )
    p.add_argument("--eval-every", type=int, default=d.eval_every, help="validate every N steps")
    p.add_argument(
        "--patience", type=int, default=d.patience, help="stop after N evals without improvement"
    )
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay")
    p.add_argument(
        "--seed", type=int, default=d.seed, help="random seed (data order, init, dropout)"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from the last checkpoint in --out"
    )
    p.add_argument("--dpo", default=d.dpo, help="prefs.jsonl from training.prefs: train with DPO")
    p.add_argument("--dpo-beta", type=float, default=d.dpo_beta, help="DPO temperature beta")
    p.add_argument("--dtype", default=d.dtype, help="auto, float32 or bfloat16 for the weights")
    p.add_argument(
        "--threads", type=int, default=d.threads, help="CPU threads (0: torch's default)"
    )
    args = p.parse_args(argv)
    return Config(**{k.replace("-", "_"): v for k, v in vars(args).items()})


# --- helpers ----------------------------------------------------------------------------------


def encode(tokenizer: Any, example: Example, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels of one example; labels are IGNORE on the prompt, so the loss is on
    the answer tokens only. The answer keeps at most half of `max_len` (cut from the right).
    A prompt too long for the rest loses its middle: the head (the system message, the
    premise, the cast) and the tail (the end of the script so far and the task itself) are what
    the bot's prompts always have, so the model still sees the frame it answers in."""
    prompt = tokenizer.apply_chat_template(
        example.messages, add_generation_prompt=True, tokenize=False
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(example.answer + _end_of_turn(tokenizer), add_special_tokens=False)[
        "input_ids"
    ]
    answer_ids = answer_ids[: max_len // 2]
    room = max_len - len(answer_ids)
    if len(prompt_ids) > room:
        head = room // 4
        prompt_ids = prompt_ids[:head] + prompt_ids[len(prompt_ids) - (room - head) :]
    return prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids


def _end_of_turn(tokenizer: Any) -> str:
    # The chat template closes an assistant turn with its own marker (<|im_end|> for SmolLM2);
    # training on it teaches the model to stop.
    eos = tokenizer.eos_token or ""
    return eos if eos else ""


def collate(rows: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row_ids, row_labels) in enumerate(rows):
        ids[i, : len(row_ids)] = torch.tensor(row_ids)
        labels[i, : len(row_labels)] = torch.tensor(row_labels)
        mask[i, : len(row_ids)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def batches(rows: list[Any], size: int, rng: random.Random) -> Iterator[list[Any]]:
    """Endless shuffled micro-batches; each epoch is a new permutation."""
    if not rows:
        raise ValueError("no training examples")
    size = min(size, len(rows))
    while True:
        order = list(range(len(rows)))
        rng.shuffle(order)
        for start in range(0, len(order) - size + 1, size):
            yield [rows[i] for i in order[start : start + size]]


def get_lr(step: int, cfg: Config) -> float:
    """Linear warmup, then cosine decay to `min_lr_ratio * lr` at `max_steps`."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))


def _answer_logits(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits at the positions that predict an answer token, flattened to [N, vocab], and the
    N tokens they predict. Only those positions go through the output layer: with a vocabulary
    of 49k and answers a fifth of a row, the full logits would cost more than the model."""
    labels = batch["labels"]
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    targets = labels[:, 1:][keep[:, :-1]]
    try:
        out = model(**inputs, logits_to_keep=keep)
        return out.logits.reshape(-1, out.logits.size(-1)).float(), targets
    except IndexError:
        # transformers before 5.2x takes positions shared by every row, not a mask per row: keep
        # every column where some row has an answer token, then pick each row's own.
        columns = keep.any(dim=0).nonzero()[:, 0]
        out = model(**inputs, logits_to_keep=columns)
        return out.logits[keep[:, columns]].float(), targets


def answer_loss(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over answer tokens, and how many there were."""
    logits, targets = _answer_logits(model, batch)
    return F.cross_entropy(logits, targets), int(targets.numel())


@torch.no_grad()
def evaluate(model: Any, rows: list[tuple[list[int], list[int]]], pad_id: int, size: int) -> float:
    """Perplexity-ready mean loss over answer tokens of `rows` (token-weighted)."""
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(rows), size):
        batch = collate(rows[start : start + size], pad_id)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        loss, count = answer_loss(model, batch)
        total += float(loss) * count
        tokens += count
    model.train()
    return total / max(1, tokens)


def sequence_logps(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of log-probabilities of each row's answer tokens (for DPO)."""
    logits, targets = _answer_logits(model, batch)
    picked = torch.log_softmax(logits, dim=-1).gather(1, targets[:, None]).squeeze(1)
    rows = (batch["labels"][:, 1:] != IGNORE).nonzero()[:, 0]
    return picked.new_zeros(batch["labels"].size(0)).index_add(0, rows, picked)


@dataclass(frozen=True)
class DpoPair:
    """One preference pair, encoded, with the reference model's log-probabilities of both."""

    chosen: tuple[list[int], list[int]]
    rejected: tuple[list[int], list[int]]
    ref_chosen: float
    ref_rejected: float


@torch.no_grad()
def reference_pairs(
    model: Any, pairs: list[tuple[Any, Any]], pad_id: int, size: int
) -> list[DpoPair]:
    """`pairs` with the log-probabilities the model gives them now. The reference of DPO is the
    model as training starts (the base, or the SFT adapter given with --adapter), frozen; its
    figures are computed once, which also serves full fine-tuning, where no adapter can be
    switched off to recover it."""
    model.eval()
    out: list[DpoPair] = []
    for start in range(0, len(pairs), size):
        group = pairs[start : start + size]
        chosen = _on(model, collate([c for c, _ in group], pad_id))
        rejected = _on(model, collate([r for _, r in group], pad_id))
        ref_c, ref_r = sequence_logps(model, chosen), sequence_logps(model, rejected)
        out.extend(
            DpoPair(c, r, float(a), float(b))
            for (c, r), a, b in zip(group, ref_c.tolist(), ref_r.tolist(), strict=True)
        )
    model.train()
    return out


def _on(model: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.to(model.device) for k, v in batch.items()}


def dpo_loss(
    model: Any, pairs: list[DpoPair], pad_id: int, beta: float
) -> tuple[torch.Tensor, float]:
    """Direct Preference Optimization (Rafailov et al. 2023) against the frozen reference:
    the loss, and the mean reward margin (beta times how much more the policy than the
    reference prefers the chosen take; it grows as the room's preferences are learnt)."""
    chosen = _on(model, collate([p.chosen for p in pairs], pad_id))
    rejected = _on(model, collate([p.rejected for p in pairs], pad_id))
    policy_c, policy_r = sequence_logps(model, chosen), sequence_logps(model, rejected)
    ref_c = torch.tensor([p.ref_chosen for p in pairs], device=policy_c.device)
    ref_r = torch.tensor([p.ref_rejected for p in pairs], device=policy_r.device)
    margin = beta * ((policy_c - ref_c) - (policy_r - ref_r))
    return -F.logsigmoid(margin).mean(), float(margin.detach().mean())


def load_for_training(
    name: str | None,
    adapter: str | None,
    full: bool,
    dtype: str,
    lora_r: int,
    lora_alpha: int,
    lora_dropout: float,
) -> tuple[Any, Any, str]:
    """The base model in train mode with a fresh LoRA adapter (or `adapter` to continue), or
    all weights trainable with `full`."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from model.loading import ModelSettings, load_model

    loaded = load_model(
        ModelSettings(model=name or "", dtype="float32" if dtype == "auto" else dtype)
    )
    model = loaded.model
    model.train()
    if full:
        return model, loaded.tokenizer, loaded.name
    if adapter:
        model = PeftModel.from_pretrained(model, adapter, is_trainable=True)
    else:
        lora = LoraConfig(
            r=lora_r,
            lora_alpha=lora_alpha,
            lora_dropout=lora_dropout,
            target_modules=[
                "q_proj",
                "k_proj",
                "v_proj",
                "o_proj",
                "gate_proj",
                "up_proj",
                "down_proj",
            ],
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    return model, loaded.tokenizer, loaded.name


def save_curve(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    train = [(h["step"], h["train_loss"]) for h in history if "train_loss" in h]
    val = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    if train:
        ax.plot(*zip(*train, strict=True), label="train (answer tokens)", alpha=0.7)
    if val:
        ax.plot(*zip(*val, strict=True), "o-", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the run ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    cfg = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from accelerate import Accelerator
    from tqdm import tqdm

    # Gradient accumulation is done by hand (loss / grad_accum, one optimizer step per group) so
    # the same loop reads the same on one CPU and under `accelerate launch`.
    accelerator = Accelerator()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _log.info("config: %s", json.dumps(asdict(cfg)))

    model, tokenizer, model_name = load_for_training(
        cfg.model or None,
        adapter=cfg.adapter or None,
        full=cfg.full,
        dtype=cfg.dtype,
        lora_r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
    )
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    _log.info("model %s: %d trainable parameters", model_name, trainable)

    # The split has its own fixed seed, so that every run (and `training.evaluate`) holds out
    # the same scripts whatever --seed says.
    splits = build_splits(cfg.data)
    split = {"data": cfg.data, **splits.scripts}
    _log.info(
        "examples: %d train, %d validation, %d test",
        *map(len, (splits.train, splits.val, splits.test)),
    )
    val_rows = [encode(tokenizer, e, cfg.max_len) for e in splits.val]
    if cfg.dpo:
        pairs: list[PreferencePair] = load_preferences(Path(cfg.dpo))
        encoded = [
            (
                encode(tokenizer, p.chosen_example(), cfg.max_len),
                encode(tokenizer, p.rejected_example(), cfg.max_len),
            )
            for p in pairs
        ]
        train_rows: list[Any] = reference_pairs(model, encoded, pad_id, cfg.batch_size)
        _log.info("DPO on %d preference pairs, beta %.3f", len(train_rows), cfg.dpo_beta)
    else:
        train_rows = [encode(tokenizer, e, cfg.max_len) for e in splits.train]

    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    state_path = out / "checkpoint" / "state.pt"
    step, best, bad_evals, history = 0, math.inf, 0, []
    if cfg.resume and state_path.exists():
        state = torch.load(state_path, weights_only=False)
        accelerator.unwrap_model(model).load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        step, best, bad_evals, history = (
            state["step"],
            state["best"],
            state["bad_evals"],
            state["history"],
        )
        _log.info("resumed at step %d (best validation loss %.4f)", step, best)

    rng = random.Random(cfg.seed + step)
    stream = batches(train_rows, cfg.batch_size, rng)
    base_val = evaluate(model, val_rows, pad_id, cfg.batch_size) if val_rows and step == 0 else None
    if base_val is not None:
        history.append({"step": 0, "val_loss": base_val})
        _log.info("step 0: validation loss %.4f (ppl %.2f)", base_val, math.exp(base_val))
    model.train()
    started = time.perf_counter()
    bar = tqdm(
        total=cfg.max_steps, initial=step, desc="fine-tune", disable=not accelerator.is_main_process
    )
    while step < cfg.max_steps:
        for group in optimizer.param_groups:
            group["lr"] = get_lr(step, cfg)
        running, margin = 0.0, 0.0
        for _ in range(cfg.grad_accum):
            micro = next(stream)
            if cfg.dpo:
                loss, micro_margin = dpo_loss(model, micro, pad_id, cfg.dpo_beta)
                margin += micro_margin / cfg.grad_accum
            else:
                batch = {k: v.to(accelerator.device) for k, v in collate(micro, pad_id).items()}
                loss, _ = answer_loss(model, batch)
            accelerator.backward(loss / cfg.grad_accum)
            running += float(loss.detach()) / cfg.grad_accum
        accelerator.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{running:.3f}", lr=f"{get_lr(step - 1, cfg):.2e}")
        record = {"step": step, "train_loss": running, "lr": get_lr(step - 1, cfg)}
        if cfg.dpo:
            record["dpo_margin"] = margin
        history.append(record)
        if val_rows and (step % cfg.eval_every == 0 or step == cfg.max_steps):
            val = evaluate(model, val_rows, pad_id, cfg.batch_size)
            history.append({"step": step, "val_loss": val})
            _log.info(
                "step %d: train %.4f, validation %.4f (ppl %.2f)", step, running, val, math.exp(val)
            )
            # DPO is meant to move the model away from plain imitation, so the answer loss
            # is only watched there; its adapter is the one of the last step.
            if cfg.dpo:
                best = min(best, val)
            elif val < best - 1e-4:
                best, bad_evals = val, 0
                _save_adapter(
                    accelerator.unwrap_model(model), tokenizer, out / "adapter", cfg, split
                )
            else:
                bad_evals += 1
            _save_state(
                state_path,
                accelerator.unwrap_model(model),
                optimizer,
                step,
                best,
                bad_evals,
                history,
            )
            if bad_evals >= cfg.patience:
                _log.info("early stop: %d evaluations without improvement", bad_evals)
                break
    bar.close()
    if not val_rows or cfg.dpo:
        _save_adapter(accelerator.unwrap_model(model), tokenizer, out / "adapter", cfg, split)
    metrics = {
        "model": model_name,
        "trainable_parameters": trainable,
        "steps": step,
        "seconds": round(time.perf_counter() - started, 1),
        "base_val_loss": base_val,
        "best_val_loss": best if math.isfinite(best) else None,
        "best_val_ppl": math.exp(best) if math.isfinite(best) else None,
        "train_examples": len(train_rows),
        "val_examples": len(val_rows),
        "config": asdict(cfg),
        "history": history,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    save_curve(history, out / "loss_curve.png")
    _log.info(
        "done: %s", json.dumps({k: v for k, v in metrics.items() if k not in {"history", "config"}})
    )
    return metrics


def _save_adapter(
    model: Any, tokenizer: Any, path: Path, cfg: Config, split: dict[str, Any]
) -> None:
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    (path / "training_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    (path / SPLIT_FILE).write_text(json.dumps(split, indent=2, ensure_ascii=False))


def _save_state(
    path: Path,
    model: Any,
    optimizer: Any,
    step: int,
    best: float,
    bad: int,
    history: list[dict[str, float]],
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    trainable = (
        {k: v for k, v in model.state_dict().items() if "lora_" in k}
        if hasattr(model, "peft_config")
        else model.state_dict()
    )
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": trainable,
            "optimizer": optimizer.state_dict(),
            "step": step,
            "best": best,
            "bad_evals": bad,
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)


if __name__ == "__main__":
    main()
