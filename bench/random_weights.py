"""A model of a given architecture with random weights, to time it where its real weights cannot
reach: a lent GPU machine has no network, and a Qwen2.5-1.5B or 7B checkpoint (3 or 15 GB) is far
over what travels there. `bench/gpu.sh` fine-tunes and serves such a model to say how long a room's
own fine-tune and its takes would take on that GPU; the figures are times and memory, never quality.

`bench/models/` holds the configs of the instruct models DEPLOY.md recommends, copied from their
Hugging Face repositories. A config directory without a tokenizer borrows the default model's
(SmolLM2's ChatML template, 49,152 tokens): the model keeps its own vocabulary size, so its
embedding and output layer cost what they cost, and the tokens the borrowed tokenizer never makes
are simply never read.

    python -m bench.random_weights bench/models/qwen2.5-1.5b-instruct /tmp/qwen-1.5b --device cuda
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import torch

from model.loading import DEFAULT_MODEL_NAME, cache_root, resolve_device, resolve_dtype

#: The files of a tokenizer and its chat template, as `save_pretrained` writes them.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "vocab.json",
    "merges.txt",
)


def tokenizer_directory(directory: str | Path) -> Path:
    """`directory` when it holds a tokenizer, else the default model's converted directory."""
    directory = Path(directory)
    if (directory / "tokenizer.json").is_file() or (directory / "tokenizer_config.json").is_file():
        return directory
    default = cache_root() / DEFAULT_MODEL_NAME
    if not (default / "tokenizer.json").is_file():
        raise SystemExit(
            f"{directory} has no tokenizer and the default model's ({default}) is not there: "
            "run the bot once (`make run`), or see bench/gpu.sh's header for what to carry"
        )
    return default


def random_model(directory: str | Path, device: torch.device, dtype: torch.dtype) -> Any:
    """The architecture of `directory`'s config with random weights, built on `device` in
    `dtype` (a 7B model in bf16 is 15 GB: built on the GPU it takes seconds, not minutes)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(str(directory))
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model.eval()


def write(
    directory: str | Path, out: str | Path, device: str = "auto", dtype: str = "auto"
) -> Path:
    """A model directory at `out`: `directory`'s config, random weights, and a tokenizer."""
    out = Path(out)
    where = resolve_device(device)
    model = random_model(directory, where, resolve_dtype(dtype, where))
    model.save_pretrained(out)
    source = tokenizer_directory(directory)
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copy(source / name, out / name)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a directory with the model's config.json")
    parser.add_argument("out", help="the model directory to write")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--dtype", default="auto", help="auto, bfloat16, float16 or float32")
    args = parser.parse_args(argv)
    out = write(args.config, args.out, args.device, args.dtype)
    size = sum(path.stat().st_size for path in out.iterdir()) / 1e9
    print(f"{out}: random weights, {size:.2f} GB")


if __name__ == "__main__":
    main()
