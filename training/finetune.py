"""Fine-tune the bot's model on screenplay tasks: LoRA by default, full fine-tuning as an option,
and DPO on the room's own votes.

Reads top to bottom: the config, a few helpers (tokenising an example with the loss on answer
tokens only, the learning-rate schedule, evaluation), then the loop. Runs on CPU, one GPU, or
several through `accelerate launch -m training.finetune ...` (each process trains on its own
micro-batches; validation is split between them and summed). Any instruct model with a chat
template trains: SmolLM2 (the default), Qwen2.5, Llama 3 — the answer ends with the end-of-turn
marker its own template closes an assistant turn with, and LoRA goes on every attention and MLP
projection the architecture has. Knows nothing of Discord or rooms: examples come from
`training.data` (chat messages in the bot's own prompt format plus the answer) and preference
pairs from `training.prefs`.

    python -m training.finetune --out runs/lora            # LoRA on the shipped corpus
    python -m training.finetune --max-steps 20 --out /tmp/smoke
    python -m training.finetune --dpo prefs.jsonl --adapter runs/lora/adapter --out runs/dpo
    accelerate launch -m training.finetune --model Qwen/Qwen2.5-7B-Instruct \\
        --gradient-checkpointing --out runs/qwen7b          # bf16 on every GPU of the machine
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from model.prompts import PROMPT_FORMAT
from model.tasks import TaskKind
from training.data import (
    Example,
    PreferencePair,
    Splits,
    build_splits,
    load_preferences,
    task_kinds,
)

_log = logging.getLogger(__name__)

IGNORE = -100
#: Beside a saved adapter: the data source and the script names of each split it was trained
#: with, so that `training.evaluate` holds out exactly the scripts it never saw.
SPLIT_FILE = "data_split.json"
#: The attention and MLP projections of the Llama family (SmolLM2, Llama 3, Qwen2.5, Mistral):
#: LoRA on all of them, as the adapters vLLM serves expect.
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# --- config -----------------------------------------------------------------------------------


@dataclass
class Config:
    out: str = "runs/lora"
    model: str = ""  # empty: the bot's default base model
    adapter: str = ""  # start from an existing adapter (DPO after SFT, or continued training)
    data: str = ""  # empty: the shipped corpus; hf:NAME: a Hugging Face dataset
    tasks: str = ""  # comma-separated task kinds to train and validate on; empty: all six
    oversample: str = ""  # KIND=N,...: the training examples of KIND seen N times an epoch
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
    val_limit: int = 0  # validate on this many examples, spread evenly over the split; 0: all
    save_every: int = 0  # checkpoint every N steps between validations; 0: at validations only
    patience: int = 4
    weight_decay: float = 0.0
    seed: int = 1234
    resume: bool = False
    resume_from: str = ""  # a checkpoint file to continue from when --out holds none
    dpo: str = ""  # a prefs.jsonl: train with DPO on these pairs instead of SFT
    dpo_beta: float = 0.1
    dtype: str = "auto"  # auto: bfloat16 on a GPU that has it, float32 elsewhere
    threads: int = 0
    gradient_checkpointing: bool = False
    lora_targets: str = ""  # comma-separated module names; empty: every projection (PROJECTIONS)


def parse_args(argv: Sequence[str] | None = None) -> Config:
    p = argparse.ArgumentParser(
        prog="python -m training.finetune", description=__doc__.split("\n")[0]
    )
    d = Config()
    _model_flags(p, d)
    _loop_flags(p, d)
    args = p.parse_args(argv)
    cfg = Config(**{k.replace("-", "_"): v for k, v in vars(args).items()})
    # Refused before a model is loaded or an output written: a typo costs no minutes.
    oversample_times(cfg.oversample)
    if cfg.dpo and cfg.oversample:
        raise SystemExit("--oversample repeats a task's examples; --dpo trains on preference pairs")
    return cfg


def _model_flags(p: argparse.ArgumentParser, d: Config) -> None:
    """What is trained, from what, on which data, held how in memory."""
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
    p.add_argument(
        "--tasks",
        default=d.tasks,
        help="comma-separated task kinds to train and validate on (premise, character, scene, "
        "dialogue, beat, continue): a continued run from --adapter that teaches one task "
        "afresh; default: all six",
    )
    p.add_argument(
        "--oversample",
        default=d.oversample,
        help="KIND=N[,KIND=N]: the training examples of a task kind seen N times an epoch "
        "(validation unchanged), so that a run on every task teaches one of them afresh "
        "without unlearning the others; e.g. beat=3",
    )
    p.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    p.add_argument("--lora-r", type=int, default=d.lora_r, help="LoRA rank")
    p.add_argument(
        "--lora-alpha", type=int, default=d.lora_alpha, help="LoRA alpha (scale = alpha / r)"
    )
    p.add_argument("--lora-dropout", type=float, default=d.lora_dropout, help="LoRA dropout")
    p.add_argument(
        "--dtype",
        default=d.dtype,
        help="weights: auto (bfloat16 on a GPU that has it, else float32), float32 or bfloat16",
    )
    p.add_argument(
        "--threads", type=int, default=d.threads, help="CPU threads (0: torch's default)"
    )
    p.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute each layer's activations in the backward pass: far less memory for a "
        "7B-8B model or long examples, about a third more time",
    )
    p.add_argument(
        "--lora-targets",
        default=d.lora_targets,
        help="comma-separated module names to put LoRA on (default: every attention and MLP "
        "projection the model has, else all linear layers)",
    )


def _loop_flags(p: argparse.ArgumentParser, d: Config) -> None:
    """The optimizer, its schedule, validation and checkpoints, DPO."""
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
        "--val-limit",
        type=int,
        default=d.val_limit,
        help="validate on at most N examples, taken evenly across the validation split (every "
        "script, task and language keeps its share), the same ones at every validation: a CPU "
        "run spends minutes, not a quarter of an hour, on each; 0: all",
    )
    p.add_argument(
        "--save-every",
        type=int,
        default=d.save_every,
        help="also checkpoint every N steps between validations (a long CPU run stopped at any "
        "time loses at most N steps; --resume continues), 0: only at validations",
    )
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
    p.add_argument(
        "--resume-from",
        default=d.resume_from,
        help="continue from this checkpoint file (a state.pt kept from another machine or "
        "session) when --out holds no checkpoint of its own",
    )
    p.add_argument("--dpo", default=d.dpo, help="prefs.jsonl from training.prefs: train with DPO")
    p.add_argument("--dpo-beta", type=float, default=d.dpo_beta, help="DPO temperature beta")


# --- helpers ----------------------------------------------------------------------------------


def spread(items: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` of `items`, evenly spaced from first to last (all when `limit` is 0 or
    not smaller): the split is ordered by script and task, so every part keeps its share."""
    if limit <= 0 or limit >= len(items):
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


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
    answer_ids = tokenizer(example.answer + end_of_turn(tokenizer), add_special_tokens=False)[
        "input_ids"
    ]
    answer_ids = answer_ids[: max_len // 2]
    room = max_len - len(answer_ids)
    if len(prompt_ids) > room:
        head = room // 4
        prompt_ids = prompt_ids[:head] + prompt_ids[len(prompt_ids) - (room - head) :]
    return prompt_ids + answer_ids, [IGNORE] * len(prompt_ids) + answer_ids


_TURN_PROBE = "\x00answer\x00"
_turn_ends: dict[tuple[str, str], str] = {}


def end_of_turn(tokenizer: Any) -> str:
    """The marker the chat template closes an assistant turn with: <|im_end|> for SmolLM2 and
    Qwen2.5 (ChatML), <|eot_id|> for Llama 3, whose eos token may be <|end_of_text|> instead.
    Read from the template itself (an assistant turn rendered around a probe; what follows the
    probe, less the newline before the next turn); the eos token where the template adds
    nothing. Training on it teaches the model to stop where the server and the engine stop."""
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else ""
    eos = tokenizer.eos_token or ""
    key = (template, eos)
    if key not in _turn_ends:
        turn = [{"role": "user", "content": "?"}, {"role": "assistant", "content": _TURN_PROBE}]
        try:
            text = tokenizer.apply_chat_template(turn, tokenize=False)
            tail = text[text.rindex(_TURN_PROBE) + len(_TURN_PROBE) :].strip()
        except Exception:  # no template, or one that wants other turns: the eos token then
            tail = ""
        _turn_ends[key] = tail or eos
    return _turn_ends[key]


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


def evaluate(model: Any, rows: list[tuple[list[int], list[int]]], pad_id: int, size: int) -> float:
    """Perplexity-ready mean loss over answer tokens of `rows` (token-weighted)."""
    total, tokens = loss_sums(model, rows, pad_id, size)
    return total / max(1, tokens)


@torch.no_grad()
def loss_sums(
    model: Any, rows: list[tuple[list[int], list[int]]], pad_id: int, size: int
) -> tuple[float, int]:
    """The summed loss over answer tokens of `rows` and how many there were: the figures that
    processes holding a part of the validation set each add up."""
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(rows), size):
        batch = _on(model, collate(rows[start : start + size], pad_id))
        loss, count = answer_loss(model, batch)
        total += float(loss) * count
        tokens += count
    model.train()
    return total, tokens


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
    # The device of the weights: a model wrapped for several processes has no `.device`.
    device = next(model.parameters()).device
    return {k: v.to(device) for k, v in batch.items()}


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


def training_dtype(spec: str, device: str) -> str:
    """`auto`: bfloat16 on a GPU that computes in it (half the memory, the speed of its tensor
    cores; LoRA's own weights stay float32), float32 everywhere else — a CPU run, and so the
    resumed checkpoints of one, are what they always were."""
    if spec != "auto":
        return spec
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def lora_targets(model: Any, wanted: str = "") -> list[str] | str:
    """The modules LoRA goes on: `wanted` (comma-separated names) when given; else every
    attention and MLP projection of `PROJECTIONS` the model has (all seven in SmolLM2, Llama 3
    and Qwen2.5); else every linear layer but the output one, for an architecture that names
    them otherwise."""
    if wanted.strip():
        return [name.strip() for name in wanted.split(",") if name.strip()]
    linear = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    found = [name for name in PROJECTIONS if name in linear]
    return found or "all-linear"


def load_for_training(cfg: Config, device: str = "auto") -> tuple[Any, Any, str]:
    """The base model on `device` in train mode with a fresh LoRA adapter (or `cfg.adapter` to
    continue), or all weights trainable with `cfg.full`; gradient checkpointing when asked."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from model.loading import ModelSettings, load_model, resolve_device

    device = str(resolve_device(device))
    dtype = training_dtype(cfg.dtype, device)
    loaded = load_model(ModelSettings(model=cfg.model, dtype=dtype, device=device))
    model = loaded.model
    model.train()
    if cfg.gradient_checkpointing:
        # Not the reentrant variant: it needs an input that requires grad, which LoRA's frozen
        # embeddings do not give.
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)({"use_reentrant": False})
        model.config.use_cache = False
    if cfg.full:
        return model, loaded.tokenizer, loaded.name
    if cfg.adapter:
        model = PeftModel.from_pretrained(model, cfg.adapter, is_trainable=True)
    else:
        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=lora_targets(model, cfg.lora_targets),
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


@dataclass
class Run:
    """Where the loop stands: what a checkpoint keeps and a resumed run starts from."""

    step: int = 0
    best: float = math.inf
    bad_evals: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Trainer:
    """One run's pieces as the loop uses them; the model and optimizer prepared by accelerate
    (wrapped for several processes under `accelerate launch`, as they were otherwise)."""

    cfg: Config
    accelerator: Any
    model: Any
    optimizer: Any
    tokenizer: Any
    model_name: str
    trainable: int
    pad_id: int
    train_rows: list[Any]
    val_rows: list[tuple[list[int], list[int]]]
    split: dict[str, Any]
    run: Run = field(default_factory=Run)

    @property
    def state_path(self) -> Path:
        return Path(self.cfg.out) / "checkpoint" / "state.pt"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    cfg = parse_args(argv)
    trainer = _build(cfg, _start(cfg))
    if cfg.resume and trainer.state_path.exists():
        _resume(trainer, trainer.state_path)
    elif cfg.resume_from:
        _resume(trainer, Path(cfg.resume_from))
    base_val = None
    if trainer.val_rows and trainer.run.step == 0:
        base_val = _validate(trainer)
        trainer.run.history.append({"step": 0, "val_loss": base_val})
        _log.info("step 0: validation loss %.4f (ppl %.2f)", base_val, math.exp(base_val))
    started = time.perf_counter()
    _train(trainer)
    return _finish(trainer, base_val, time.perf_counter() - started)


def _start(cfg: Config) -> Any:
    """The accelerator (one process, or one of those `accelerate launch` started), logging, the
    run directory and the seeds; the resolved config is logged."""
    from accelerate import Accelerator

    accelerator = Accelerator()
    main_process = accelerator.is_main_process
    logging.basicConfig(
        level=logging.INFO if main_process else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _log.info("config: %s", json.dumps(asdict(cfg)))
    if accelerator.num_processes > 1:
        _log.info(
            "%d processes: %d examples per optimizer step",
            accelerator.num_processes,
            accelerator.num_processes * cfg.batch_size * cfg.grad_accum,
        )
    return accelerator


def _build(cfg: Config, accelerator: Any) -> Trainer:
    """The model on this process's device, the encoded examples and the optimizer."""
    model, tokenizer, model_name = load_for_training(cfg, str(accelerator.device))
    pad_id = (
        tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    _log.info("model %s: %d trainable parameters", model_name, trainable)
    # The split has its own fixed seed, so that every run (and `training.evaluate`) holds out
    # the same scripts whatever --seed says.
    splits = oversampled(only_tasks(build_splits(cfg.data), cfg.tasks), cfg.oversample)
    _log.info(
        "examples: %d train, %d validation, %d test",
        *map(len, (splits.train, splits.val, splits.test)),
    )
    val_rows = [encode(tokenizer, e, cfg.max_len) for e in spread(splits.val, cfg.val_limit)]
    # The loss is summed over tokens, so order does not change it; rows of like length batch
    # with little padding.
    val_rows.sort(key=lambda row: len(row[0]))
    train_rows = _train_rows(cfg, model, tokenizer, splits.train, pad_id)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    return Trainer(
        cfg=cfg,
        accelerator=accelerator,
        model=model,
        optimizer=optimizer,
        tokenizer=tokenizer,
        model_name=model_name,
        trainable=trainable,
        pad_id=pad_id,
        train_rows=train_rows,
        val_rows=val_rows,
        split={"data": cfg.data, **splits.scripts},
    )


def only_tasks(splits: Splits, tasks: str) -> Splits:
    """`splits` with only the examples of `tasks` (comma-separated kinds; empty: all)."""
    if not tasks.strip():
        return splits
    try:
        kinds = set(task_kinds(tasks.lower()))
    except ValueError as err:
        known = ", ".join(kind.value for kind in TaskKind)
        raise SystemExit(f"--tasks takes task kinds ({known}): {err}") from err
    return dataclasses.replace(
        splits,
        train=[e for e in splits.train if e.kind in kinds],
        val=[e for e in splits.val if e.kind in kinds],
        test=[e for e in splits.test if e.kind in kinds],
    )


def oversampled(splits: Splits, spec: str) -> Splits:
    """`splits` with the training examples of each `KIND=N` of `spec` repeated N times (in
    place, so a shuffled epoch meets them N times); validation and test are unchanged."""
    times = oversample_times(spec)
    if not times:
        return splits
    missing = set(times) - {e.kind for e in splits.train}
    if missing:
        named = ", ".join(sorted(kind.value for kind in missing))
        raise SystemExit(f"--oversample: no training examples of {named} (left out by --tasks?)")
    train = [e for e in splits.train for _ in range(times.get(e.kind, 1))]
    return dataclasses.replace(splits, train=train)


def oversample_times(spec: str) -> dict[TaskKind, int]:
    """`--oversample`'s `KIND=N[,KIND=N]`: how many times each kind's examples are seen."""
    times: dict[TaskKind, int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, _, count = part.partition("=")
        try:
            task, n = TaskKind(kind.strip().lower()), int(count)
        except ValueError:
            task, n = None, 0
        if task is None or n < 1 or task in times:
            raise SystemExit(
                f"--oversample takes KIND=N, a task kind once and a count ≥ 1: {part!r}"
            )
        times[task] = n
    return times


def _train_rows(
    cfg: Config, model: Any, tokenizer: Any, train: list[Example], pad_id: int
) -> list[Any]:
    """The encoded training examples, or with --dpo the encoded preference pairs with the
    reference model's figures."""
    if not cfg.dpo:
        return [encode(tokenizer, e, cfg.max_len) for e in train]
    pairs: list[PreferencePair] = load_preferences(Path(cfg.dpo))
    encoded = [
        (
            encode(tokenizer, p.chosen_example(), cfg.max_len),
            encode(tokenizer, p.rejected_example(), cfg.max_len),
        )
        for p in pairs
    ]
    rows = reference_pairs(model, encoded, pad_id, cfg.batch_size)
    _log.info("DPO on %d preference pairs, beta %.3f", len(rows), cfg.dpo_beta)
    return rows


def _resume(t: Trainer, path: Path) -> None:
    state = torch.load(path, map_location="cpu", weights_only=False)
    t.accelerator.unwrap_model(t.model).load_state_dict(state["model"], strict=False)
    # The moments were kept in bf16 (`_save_state`); the optimizer casts them back to its
    # parameters' dtype.
    t.optimizer.load_state_dict(state["optimizer"])
    t.run = Run(state["step"], state["best"], state["bad_evals"], state["history"])
    _log.info(
        "resumed from %s at step %d (best validation loss %.4f)", path, t.run.step, t.run.best
    )


def _train(t: Trainer) -> None:
    """Optimizer steps up to --max-steps, validating every --eval-every; stops early when the
    validation loss has not improved --patience times running."""
    from tqdm import tqdm

    cfg, run, accelerator = t.cfg, t.run, t.accelerator
    # Every process draws the same shuffled stream and takes its own share of the micro-batches.
    stream = itertools.islice(
        batches(t.train_rows, cfg.batch_size, random.Random(cfg.seed + run.step)),
        accelerator.process_index,
        None,
        accelerator.num_processes,
    )
    t.model.train()
    bar = tqdm(
        total=cfg.max_steps,
        initial=run.step,
        desc="fine-tune",
        disable=not accelerator.is_main_process,
    )
    while run.step < cfg.max_steps:
        record = _optimizer_step(t, stream)
        run.history.append(record)
        bar.update(1)
        bar.set_postfix(loss=f"{record['train_loss']:.3f}", lr=f"{record['lr']:.2e}")
        due = run.step % cfg.eval_every == 0 or run.step == cfg.max_steps
        if t.val_rows and due:
            if _after_validation(t, _validate(t)):
                break
        elif cfg.save_every and run.step % cfg.save_every == 0:
            _save_state(t)
    bar.close()


def _optimizer_step(t: Trainer, stream: Iterator[list[Any]]) -> dict[str, float]:
    """One optimizer step over --grad-accum micro-batches (accumulated by hand, so the loop
    reads the same on one CPU and under `accelerate launch`); its figures for the history."""
    cfg, accelerator = t.cfg, t.accelerator
    started = time.perf_counter()
    lr = get_lr(t.run.step, cfg)
    for group in t.optimizer.param_groups:
        group["lr"] = lr
    running, margin, tokens = 0.0, 0.0, 0
    for index in range(cfg.grad_accum):
        # Processes average their gradients once per optimizer step, not per micro-batch.
        last = index == cfg.grad_accum - 1
        micro = next(stream)
        tokens += _tokens(micro)
        with contextlib.nullcontext() if last else accelerator.no_sync(t.model):
            loss, micro_margin = _micro_loss(t, micro)
            accelerator.backward(loss / cfg.grad_accum)
        running += float(loss.detach()) / cfg.grad_accum
        margin += micro_margin / cfg.grad_accum
    accelerator.clip_grad_norm_(t.model.parameters(), 1.0)
    t.optimizer.step()
    t.optimizer.zero_grad(set_to_none=True)
    t.run.step += 1
    # float(loss) above waited for the device, so the step's time is its own.
    record = {
        "step": t.run.step,
        "train_loss": _mean_of_processes(t, running),
        "lr": lr,
        "seconds": round(time.perf_counter() - started, 3),
        "tokens": tokens,
    }
    if cfg.dpo:
        record["dpo_margin"] = _mean_of_processes(t, margin)
    return record


def _tokens(micro: list[Any]) -> int:
    """The tokens one process reads in a micro-batch: prompt and answer of each example (both
    of each preference pair with DPO), padding not counted."""
    rows = [
        row
        for item in micro
        for row in ((item.chosen, item.rejected) if isinstance(item, DpoPair) else (item,))
    ]
    return sum(len(ids) for ids, _ in rows)


def _micro_loss(t: Trainer, micro: list[Any]) -> tuple[torch.Tensor, float]:
    """The loss of one micro-batch, and with DPO its mean reward margin."""
    if t.cfg.dpo:
        return dpo_loss(t.model, micro, t.pad_id, t.cfg.dpo_beta)
    loss, _ = answer_loss(t.model, _on(t.model, collate(micro, t.pad_id)))
    return loss, 0.0


def _mean_of_processes(t: Trainer, value: float) -> float:
    if t.accelerator.num_processes == 1:
        return value
    tensor = torch.tensor(value, dtype=torch.float64, device=t.accelerator.device)
    return float(t.accelerator.reduce(tensor, reduction="mean"))


def _validate(t: Trainer) -> float:
    """The validation loss over answer tokens; each process scores its share of the examples
    and the sums are added, so that every process reads the same figure (and stops together)."""
    accelerator = t.accelerator
    rows = t.val_rows[accelerator.process_index :: accelerator.num_processes]
    model = accelerator.unwrap_model(t.model)
    total, tokens = loss_sums(model, rows, t.pad_id, t.cfg.batch_size)
    if accelerator.num_processes > 1:
        sums = torch.tensor([total, tokens], dtype=torch.float64, device=accelerator.device)
        sums = accelerator.reduce(sums, reduction="sum")
        total, tokens = float(sums[0]), int(sums[1])
    return total / max(1, tokens)


def _after_validation(t: Trainer, val: float) -> bool:
    """Record a validation, keep the adapter when it is the best yet and checkpoint; whether to
    stop early."""
    cfg, run = t.cfg, t.run
    run.history.append({"step": run.step, "val_loss": val})
    train = run.history[-2].get("train_loss", math.nan)
    _log.info(
        "step %d: train %.4f, validation %.4f (ppl %.2f)", run.step, train, val, math.exp(val)
    )
    # DPO is meant to move the model away from plain imitation, so the answer loss is only
    # watched there; its adapter is the one of the last step.
    if cfg.dpo:
        run.best = min(run.best, val)
    elif val < run.best - 1e-4:
        run.best, run.bad_evals = val, 0
        _save_adapter(t)
    else:
        run.bad_evals += 1
    _save_state(t)
    if run.bad_evals >= cfg.patience:
        _log.info("early stop: %d evaluations without improvement", run.bad_evals)
        return True
    return False


def _finish(t: Trainer, base_val: float | None, seconds: float) -> dict[str, Any]:
    """The last adapter where no validation chose one, and the run's figures: metrics.json,
    the loss curve, the log."""
    cfg, run = t.cfg, t.run
    if not t.val_rows or cfg.dpo:
        _save_adapter(t)
    best = run.best if math.isfinite(run.best) else None
    steps = [h for h in run.history if "seconds" in h]
    metrics = {
        "model": t.model_name,
        "trainable_parameters": t.trainable,
        "steps": run.step,
        "seconds": round(seconds, 1),
        "base_val_loss": base_val,
        "best_val_loss": best,
        "best_val_ppl": math.exp(best) if best is not None else None,
        "train_examples": len(t.train_rows),
        "val_examples": len(t.val_rows),
        "processes": t.accelerator.num_processes,
        # Training alone (validation apart), on this process's share of the examples.
        "train_tokens_per_s": (
            round(sum(h["tokens"] for h in steps) / sum(h["seconds"] for h in steps), 1)
            if steps
            else None
        ),
        "peak_gpu_mb": (
            round(torch.cuda.max_memory_allocated() / 2**20)
            if t.accelerator.device.type == "cuda"
            else None
        ),
        "config": asdict(cfg),
        "history": run.history,
    }
    if t.accelerator.is_main_process:
        out = Path(cfg.out)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        try:
            save_curve(run.history, out / "loss_curve.png")
        except ImportError:  # a GPU machine lent bare (bench/gpu.sh): the figures are above
            _log.warning("no matplotlib here: loss_curve.png not drawn")
    _log.info(
        "done: %s", json.dumps({k: v for k, v in metrics.items() if k not in {"history", "config"}})
    )
    t.accelerator.wait_for_everyone()
    return metrics


def _save_adapter(t: Trainer) -> None:
    """The adapter (or with --full the whole model) and its tokenizer, the config and the data
    split beside it; written by the main process while the others wait."""
    if t.accelerator.is_main_process:
        path = Path(t.cfg.out) / "adapter"
        path.mkdir(parents=True, exist_ok=True)
        t.accelerator.unwrap_model(t.model).save_pretrained(path)
        t.tokenizer.save_pretrained(path)
        # The prompt format the examples were built in: the bot asks the model in it.
        config = {**asdict(t.cfg), "prompt_format": PROMPT_FORMAT}
        (path / "training_config.json").write_text(json.dumps(config, indent=2))
        (path / SPLIT_FILE).write_text(json.dumps(t.split, indent=2, ensure_ascii=False))
    t.accelerator.wait_for_everyone()


def _save_state(t: Trainer) -> None:
    """The checkpoint --resume reads: the trainable weights (LoRA's alone, or all with --full),
    the optimizer and the loop's place. Written beside itself and renamed, so a run stopped
    while writing keeps the previous one. The optimizer's moments are kept in bf16: a third
    less to carry from one session or machine to the next (59 MB to 39 MB for the shipped
    LoRA), and Adam's running averages need no more than bf16's three digits."""
    if t.accelerator.is_main_process:
        model = t.accelerator.unwrap_model(t.model)
        trainable = (
            {k: v for k, v in model.state_dict().items() if "lora_" in k}
            if hasattr(model, "peft_config")
            else model.state_dict()
        )
        t.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = t.state_path.with_suffix(".tmp")
        torch.save(
            {
                "model": trainable,
                "optimizer": _compact(t.optimizer.state_dict()),
                "step": t.run.step,
                "best": t.run.best,
                "bad_evals": t.run.bad_evals,
                "history": t.run.history,
            },
            tmp,
        )
        tmp.replace(t.state_path)
    t.accelerator.wait_for_everyone()


def _compact(optimizer: dict[str, Any]) -> dict[str, Any]:
    """`optimizer` (a state dict) with its float32 moment tensors in bf16."""
    state = {
        index: {
            key: value.to(torch.bfloat16)
            if isinstance(value, torch.Tensor) and value.dtype == torch.float32 and value.dim()
            else value
            for key, value in entry.items()
        }
        for index, entry in optimizer["state"].items()
    }
    return {**optimizer, "state": state}


if __name__ == "__main__":
    main()
